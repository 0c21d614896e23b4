"""Reads for ratings: a shop's credit and DSR summary, reviews of a product or shop, the
buyer's and seller's rating pages, the quality score, and the operators' queues."""

from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Prefetch, Q, QuerySet

from jishi.accounts.models import User
from jishi.accounts.permissions import operator_require
from jishi.catalog.models import Category, Product
from jishi.core import clock
from jishi.core.errors import NotFound
from jishi.core.rules import rule
from jishi.orders.models import Order, OrderLine, OrderStatus
from jishi.ratings.models import (
    BuyerCredit,
    Dsr,
    Rating,
    RatingRole,
    ReviewStatus,
    Score,
    ShopCredit,
    ShopQuality,
)
from jishi.ratings.services import (
    DSR_FIELDS,
    QUALITY_WEIGHTS,
    credit_level,
    ratable_lines,
    rating_window_open,
)
from jishi.shops.models import Shop
from jishi.shops.permissions import shop_require

REVIEW_FILTERS = ("all", "photos", "negative", "followups")
SIX_MONTHS_DAYS = 180


def _id(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdecimal() and len(text) < 19 else None


def credit_of_shop(shop_id: int) -> int:
    return ShopCredit.objects.filter(shop_id=shop_id).values_list("score", flat=True).first() or 0


def credit_of_buyer(user_id: int) -> int:
    return BuyerCredit.objects.filter(user_id=user_id).values_list("score", flat=True).first() or 0


def _counts(qs: QuerySet[Rating]) -> dict[str, Any]:
    """Positive / neutral / negative counts and the positive rate (好评率 = positive ÷
    (positive + negative)), of ratings that are shown and not voided."""
    rows = dict(
        qs.filter(removed_at__isnull=True)
        .exclude(review_status=ReviewStatus.VOIDED)
        .values_list("score")
        .annotate(n=Count("id"))
        .values_list("score", "n")
    )
    positive, neutral, negative = (rows.get(s, 0) for s in (1, 0, -1))
    judged = positive + negative
    return {
        "positive": positive,
        "neutral": neutral,
        "negative": negative,
        "positive_rate": round(positive / judged * 100, 2) if judged else None,
    }


def shop_main_category(shop_id: int) -> Category | None:
    """The top-level category most of the shop's DSRs fall in: its trade's category."""
    row = (
        Dsr.objects.filter(shop_id=shop_id, category__isnull=False)
        .values("category_id")
        .annotate(n=Count("id"))
        .order_by("-n", "category_id")
        .first()
    )
    return Category.objects.filter(pk=row["category_id"]).first() if row else None


def _dsr_averages(qs: QuerySet[Dsr]) -> dict[str, Any]:
    since = clock.now() - timedelta(days=rule("dsr_window_days"))
    row = qs.filter(counted=True, created_at__gte=since).aggregate(
        n=Count("id"), **{name: Avg(name) for name in DSR_FIELDS}
    )
    return {
        "count": row["n"],
        **{name: round(row[name], 2) if row[name] is not None else None for name in DSR_FIELDS},
    }


def shop_rating_summary(*, shop: Shop) -> dict[str, Any]:
    """What a buyer reads about whom to trust: credit and level, positive rates over six
    months and all time, DSR averages over 180 days against the category's."""
    score = credit_of_shop(shop.pk)
    tier, level = credit_level(score)
    ratings = Rating.objects.filter(shop=shop, role=RatingRole.BUYER)
    six_months = clock.now() - timedelta(days=SIX_MONTHS_DAYS)
    dsr = _dsr_averages(Dsr.objects.filter(shop=shop))
    category = shop_main_category(shop.pk)
    peers = _dsr_averages(Dsr.objects.filter(category=category)) if category else None
    dimensions = []
    for name in DSR_FIELDS:
        mine = dsr[name]
        average = peers[name] if peers else None
        versus = round((mine - average) / average * 100, 2) if mine and average else None
        dimensions.append({"name": name, "score": mine, "category": average, "versus": versus})
    quality = ShopCredit.objects.filter(shop=shop).values_list("quality_score", flat=True).first()
    return {
        "score": score,
        "tier": tier,
        "level": level,
        "six_months": _counts(ratings.filter(created_at__gte=six_months)),
        "all_time": _counts(ratings),
        "dsr_count": dsr["count"],
        "dsr": dimensions,
        "category": category,
        "quality_score": quality,
    }


def _reviews(qs: QuerySet[Rating], kind: str) -> QuerySet[Rating]:
    qs = (
        qs.filter(role=RatingRole.BUYER, removed_at__isnull=True)
        .exclude(review_status=ReviewStatus.VOIDED)
        .select_related("buyer", "product")
        .prefetch_related("images")
    )
    if kind == "photos":
        qs = qs.filter(images__isnull=False).distinct()
    elif kind == "negative":
        qs = qs.filter(score=Score.NEGATIVE)
    elif kind == "followups":
        qs = qs.filter(followup_at__isnull=False)
    return qs.order_by("-created_at", "-id")


def review_counts(qs: QuerySet[Rating]) -> dict[str, int]:
    return {kind: _reviews(qs, kind).count() for kind in REVIEW_FILTERS}


def reviews_for_product(*, product: Product, kind: str = "all") -> QuerySet[Rating]:
    """Buyers' reviews of a product, newest first; ``kind`` filters."""
    return _reviews(Rating.objects.filter(product=product), kind)


def reviews_for_shop(*, shop: Shop, kind: str = "all") -> QuerySet[Rating]:
    return _reviews(Rating.objects.filter(shop=shop), kind)


def masked_name(user: User) -> str:
    """How a reviewer is shown to others: 爱**李 — the first and last character."""
    name = user.username
    return name if len(name) <= 1 else f"{name[0]}**{name[-1]}"


# --- the parties' own pages -------------------------------------------------------------------


def order_rating_state(*, order: Order, role: str) -> dict[str, Any]:
    """For one side of an order: whether it may still rate, which lines are rated, and (the
    buyer) whether the DSR is given."""
    lines = ratable_lines(order)
    rated = {
        r.line_id: r
        for r in Rating.objects.filter(order=order, role=role).prefetch_related("images")
    }
    open_ = rating_window_open(order)
    return {
        "open": open_,
        "deadline": order.rate_deadline,
        "lines": [(line, rated.get(line.pk)) for line in lines],
        "unrated": [line for line in lines if line.pk not in rated],
        "can_rate": open_ and any(line.pk not in rated for line in lines),
        "dsr": Dsr.objects.filter(order=order).first() if role == RatingRole.BUYER else None,
    }


def order_for_buyer_rating(*, buyer: User, order_id: Any) -> Order:
    order = Order.objects.filter(buyer=buyer, pk=_id(order_id)).select_related("shop").first()
    if order is None:
        raise NotFound(message=_order_not_found())
    return order


def order_for_seller_rating(*, actor: User, order_id: Any) -> Order:
    membership = shop_require(actor, "order.view")
    order = (
        Order.objects.filter(shop_id=membership.shop_id, pk=_id(order_id))
        .select_related("buyer")
        .first()
    )
    if order is None:
        raise NotFound(message=_order_not_found())
    return order


def _order_not_found() -> Any:
    from django.utils.translation import gettext_lazy as _

    return _("Order not found.")


def ratings_by_buyer(*, buyer: User) -> QuerySet[Rating]:
    """What the buyer wrote about sellers."""
    return (
        Rating.objects.filter(buyer=buyer, role=RatingRole.BUYER)
        .select_related("shop", "product", "order")
        .prefetch_related("images")
    )


def ratings_of_buyer(*, buyer: User) -> QuerySet[Rating]:
    """What sellers wrote about the buyer."""
    return Rating.objects.filter(buyer=buyer, role=RatingRole.SELLER).select_related(
        "shop", "product"
    )


def _orders_to_rate(qs: QuerySet[Order], role: str) -> QuerySet[Order]:
    """Completed orders in their window with a ratable line that ``role`` has not rated."""
    unrated = OrderLine.objects.filter(
        order=OuterRef("pk"), refunded_fen__lt=F("paid_fen")
    ).exclude(Exists(Rating.objects.filter(line=OuterRef("pk"), role=role)))
    return (
        qs.filter(status=OrderStatus.TRADE_FINISHED, rate_deadline__gt=clock.now())
        .filter(Exists(unrated))
        .prefetch_related("lines")
        .order_by("rate_deadline", "pk")
    )


def orders_to_rate_by_buyer(*, buyer: User) -> QuerySet[Order]:
    return _orders_to_rate(Order.objects.filter(buyer=buyer).select_related("shop"), "buyer")


def ratings_for_shop(
    *, actor: User, kind: str = "all", role: str = RatingRole.BUYER
) -> QuerySet[Rating]:
    """The shop's ratings: received from buyers (``role="buyer"``) or given to them."""
    membership = shop_require(actor, "order.view")
    qs = Rating.objects.filter(shop_id=membership.shop_id, role=role)
    qs = qs.select_related("buyer", "product", "order").prefetch_related("images")
    if kind == "negative":
        qs = qs.filter(score__lt=Score.POSITIVE)
    elif kind == "unreplied":
        qs = qs.filter(reply_at__isnull=True, removed_at__isnull=True).exclude(text="")
    elif kind == "followups":
        qs = qs.filter(followup_at__isnull=False)
    return qs.order_by("-created_at", "-id")


def orders_to_rate_by_shop(*, actor: User) -> QuerySet[Order]:
    membership = shop_require(actor, "order.view")
    orders = Order.objects.filter(shop_id=membership.shop_id).select_related("buyer")
    return _orders_to_rate(orders, "seller")


def rating_get_for_shop(*, actor: User, rating_id: Any) -> Rating:
    membership = shop_require(actor, "order.view")
    rating = (
        Rating.objects.filter(shop_id=membership.shop_id, pk=_id(rating_id))
        .select_related("buyer", "product", "order")
        .first()
    )
    if rating is None:
        raise NotFound(message=_rating_not_found())
    return rating


def rating_get_for_buyer(*, buyer: User, rating_id: Any) -> Rating:
    rating = (
        Rating.objects.filter(buyer=buyer, role=RatingRole.BUYER, pk=_id(rating_id))
        .select_related("shop", "product", "order")
        .first()
    )
    if rating is None:
        raise NotFound(message=_rating_not_found())
    return rating


def _rating_not_found() -> Any:
    from django.utils.translation import gettext_lazy as _

    return _("Rating not found.")


def quality_for_shop(*, actor: User) -> dict[str, Any]:
    """The seller's view of its quality score: today's (or the latest) with its parts, and
    the last 30 days."""
    membership = shop_require(actor, "shop.view")
    history = list(ShopQuality.objects.filter(shop_id=membership.shop_id).order_by("-day")[:30])
    latest = history[0] if history else None
    return {
        "latest": latest,
        "history": list(reversed(history)),
        "weights": QUALITY_WEIGHTS,
    }


# --- the console ------------------------------------------------------------------------------


def ratings_for_review(*, actor: User, status: str = ReviewStatus.PENDING) -> QuerySet[Rating]:
    """The anti-brushing queue: flagged ratings waiting for review (or reviewed ones)."""
    operator_require(actor, "rating.review")
    qs = Rating.objects.exclude(review_status=ReviewStatus.NONE)
    if status in ReviewStatus.values and status:
        qs = qs.filter(review_status=status)
    return qs.select_related("shop", "buyer", "product", "order", "reviewed_by").order_by(
        "created_at", "id"
    )


def review_tab_counts(*, actor: User) -> dict[str, int]:
    operator_require(actor, "rating.review")
    rows = dict(
        Rating.objects.exclude(review_status=ReviewStatus.NONE)
        .values_list("review_status")
        .annotate(n=Count("id"))
        .values_list("review_status", "n")
    )
    return {
        s: rows.get(s, 0) for s in (ReviewStatus.PENDING, ReviewStatus.CLEARED, ReviewStatus.VOIDED)
    }


def buyer_ratings_for_console(
    *, actor: User, q: str = "", buyer_id: int | None = None
) -> QuerySet[Rating]:
    """Sellers' ratings of buyers, to spot malicious buyers: the negative ones first;
    ``q`` matches the buyer's or the shop's name, ``buyer_id`` keeps one buyer's."""
    operator_require(actor, "rating.review")
    qs = Rating.objects.filter(role=RatingRole.SELLER).select_related("buyer", "shop", "product")
    q = (q or "").strip()[:150]
    if q:
        qs = qs.filter(Q(buyer__username__icontains=q) | Q(shop__name__icontains=q))
    if buyer_id is not None:
        qs = qs.filter(buyer_id=buyer_id)
    return qs.order_by("score", "-created_at", "-id")


def rating_get_for_console(*, actor: User, rating_id: Any) -> Rating:
    """Any rating, flagged or not, for the review page (an operator may void any rating)."""
    operator_require(actor, "rating.review")
    rating = (
        Rating.objects.filter(pk=_id(rating_id))
        .select_related("shop__credit", "shop__owner", "buyer", "author", "product", "line")
        .select_related("order", "reviewed_by")
        .prefetch_related("images")
        .first()
    )
    if rating is None:
        raise NotFound(message=_rating_not_found())
    return rating


def orders_of_buyer_with_shop_for_console(
    *, actor: User, buyer_id: int, shop_id: int, limit: int = 50
) -> list[Order]:
    """The buyer's orders with the shop, newest first, each with its buyer-side ratings
    (``order.buyer_ratings``): what the review page shows to judge a pattern."""
    operator_require(actor, "rating.review")
    return list(
        Order.objects.filter(buyer_id=buyer_id, shop_id=shop_id)
        .prefetch_related(
            Prefetch(
                "ratings",
                queryset=Rating.objects.filter(role=RatingRole.BUYER).order_by("id"),
                to_attr="buyer_ratings",
            )
        )
        .order_by("-created_at", "-id")[:limit]
    )


def buyer_rating_summary(*, user_id: int) -> dict[str, Any]:
    score = credit_of_buyer(user_id)
    tier, level = credit_level(score)
    return {
        "score": score,
        "tier": tier,
        "level": level,
        **_counts(Rating.objects.filter(buyer_id=user_id, role=RatingRole.SELLER)),
    }
