"""Ratings: writing, changing, replying, follow-ups, default ratings, counting credit and DSR,
the anti-brushing review, and the daily shop quality score.

Counting (PRODUCT.md "credit counting"), decided when a rating is written and stored on it:
- the same buyer and seller count at most 6 points (absolute) a calendar month of the order's
  creation (Taobao counts by the order's time);
- several ratings of the same item by the same buyer on orders created within 14 days of each
  other count once per score (the first positive, the first negative);
- a DSR counts only for the first 3 orders of a pair in a calendar month.
A rating's points change only when it is changed to positive, removed, or voided by an
operator; the party's credit row is locked first, so ratings of one pair count in turn.
"""

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import Address, BankCard, User
from jishi.accounts.notifications import notify
from jishi.accounts.permissions import operator_require
from jishi.aftersales.models import Dispute, DisputeStatus, RefundCase, RefundKind, RefundStatus
from jishi.aftersales.selectors import shop_violation_points
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import DomainError, NotFound, field_error
from jishi.core.images import image_check
from jishi.core.rules import rule
from jishi.core.validation import clean_int, clean_text
from jishi.orders.locks import lock_order
from jishi.orders.models import Order, OrderLine, OrderStatus
from jishi.ratings.errors import RatingError
from jishi.ratings.models import (
    BuyerCredit,
    Device,
    Dsr,
    Rating,
    RatingImage,
    RatingRole,
    ReviewStatus,
    Score,
    ShopCredit,
    ShopQuality,
)
from jishi.shops.models import Shop, ShopStaff
from jishi.shops.permissions import membership_of, role_can, shop_require

DSR_FIELDS = ("item", "service", "logistics")
SCORE_WORDS = {"positive": Score.POSITIVE, "neutral": Score.NEUTRAL, "negative": Score.NEGATIVE}


# --- levels -----------------------------------------------------------------------------------

# (tier, lowest score of each of its five levels); golden crowns go on above the crowns.
LEVELS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("heart", (4, 11, 41, 91, 151)),
    ("diamond", (251, 501, 1001, 2001, 5001)),
    ("crown", (10001, 20001, 50001, 100001, 200001)),
    ("gold_crown", (500001, 1000001, 2000001, 5000001, 10000001)),
)


def credit_level(score: int) -> tuple[str, int]:
    """The level for a credit score: ("heart", 1) … ("gold_crown", 5); ("", 0) below 4."""
    level: tuple[str, int] = ("", 0)
    for tier, floors in LEVELS:
        for n, floor in enumerate(floors, start=1):
            if score >= floor:
                level = (tier, n)
    return level


# --- input ------------------------------------------------------------------------------------


def _score_clean(value: Any, field: str) -> int:
    if isinstance(value, str) and value in SCORE_WORDS:
        return int(SCORE_WORDS[value])
    if isinstance(value, int) and not isinstance(value, bool) and value in Score.values:
        return value
    raise field_error(field, _("Choose positive, neutral or negative."), RatingError.SCORE_INVALID)


def _text_clean(score: int, text: Any, field: str) -> str:
    text = clean_text(text, field=field, max_length=rule("rating_text_length_max"), required=False)
    if score != Score.POSITIVE and not text:
        raise field_error(
            field,
            _("Say why: a neutral or negative rating needs a few words."),
            RatingError.TEXT_REQUIRED,
        )
    return text


def _images_clean(images: Any, field: str = "images") -> list[Any]:
    images = [i for i in (images or []) if i]
    if len(images) > rule("rating_images_max"):
        raise field_error(
            field,
            _("At most %(n)d images.") % {"n": rule("rating_images_max")},
            RatingError.IMAGES_LIMIT,
        )
    for upload in images:
        image_check(upload, field=field)
    return images


def _images_save(rating: Rating, images: list[Any], *, followup: bool = False) -> None:
    for upload in images:
        ext = image_check(upload, field="images")
        image = RatingImage(rating=rating, followup=followup)
        image.file.save(f"r{rating.pk}.{ext}", upload, save=False)
        image.save()


def _dsr_clean(dsr: Any) -> dict[str, int] | None:
    if dsr in (None, {}):
        return None
    if not isinstance(dsr, dict):
        raise field_error("dsr", _("Give 1 to 5 stars for each."), RatingError.DSR_INVALID)
    stars = {}
    for name in DSR_FIELDS:
        try:
            stars[name] = clean_int(dsr.get(name), field=f"dsr.{name}", minimum=1, maximum=5)
        except DomainError as exc:
            raise field_error(
                f"dsr.{name}", _("Give 1 to 5 stars for each."), RatingError.DSR_INVALID
            ) from exc
    return stars


# --- the window -------------------------------------------------------------------------------


def rating_window_open(order: Order) -> bool:
    """Rating is possible from TRADE_FINISHED until the window's deadline."""
    return (
        order.status == OrderStatus.TRADE_FINISHED
        and order.rate_deadline is not None
        and clock.now() < order.rate_deadline
    )


def _window_require(order: Order) -> None:
    if not rating_window_open(order):
        raise DomainError(
            RatingError.NOT_ALLOWED,
            _("Ratings are given within 15 days after the trade is completed."),
            status=order.status,
        )


def ratable_lines(order: Order) -> list[OrderLine]:
    """The lines that can be rated: not refunded in full (a refunded item was not bought)."""
    return [line for line in order.lines.all() if line.refunded_fen < line.paid_fen]


def _lines_pick(order: Order, items: Any) -> list[tuple[OrderLine, dict[str, Any]]]:
    """Match ``items`` ([{"line_id", "score", "text", …}]) to the order's ratable lines."""
    if not isinstance(items, list) or not items:
        raise field_error("ratings", _("Rate at least one item."), RatingError.SCORE_INVALID)
    by_id = {line.pk: line for line in ratable_lines(order)}
    picked: list[tuple[OrderLine, dict[str, Any]]] = []
    seen: set[int] = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise field_error(f"ratings.{n}", _("Not a rating."), RatingError.SCORE_INVALID)
        raw = item.get("line_id")
        line_id = int(raw) if str(raw).isdecimal() and len(str(raw)) < 19 else None
        if line_id not in by_id or line_id in seen:
            raise NotFound(message=_("This item is not part of the order."))
        seen.add(line_id)
        picked.append((by_id[line_id], item))
    return picked


# --- credit rows and counting -----------------------------------------------------------------


def _shop_credit_lock(shop_id: int) -> ShopCredit:
    ShopCredit.objects.get_or_create(shop_id=shop_id)
    return ShopCredit.objects.select_for_update().get(shop_id=shop_id)


def _buyer_credit_lock(user_id: int) -> BuyerCredit:
    BuyerCredit.objects.get_or_create(user_id=user_id)
    return BuyerCredit.objects.select_for_update().get(user_id=user_id)


def _credit_lock(role: str, order: Order) -> ShopCredit | BuyerCredit:
    """The rated party's credit row: locked before counting, so one pair counts in turn."""
    if role == RatingRole.BUYER:
        return _shop_credit_lock(order.shop_id)
    return _buyer_credit_lock(order.buyer_id)


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    local = clock_local(moment)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def clock_local(moment: datetime) -> datetime:
    from django.utils import timezone

    return timezone.localtime(moment)


def _pair(rating: Rating) -> Q:
    return Q(buyer_id=rating.buyer_id, shop_id=rating.shop_id, role=rating.role)


def _counted_points(rating: Rating) -> tuple[int, str]:
    """The points ``rating`` adds (its score, or 0) and why not, by the counting rules,
    against the pair's other ratings that count."""
    if rating.score == Score.NEUTRAL:
        return 0, ""
    others = Rating.objects.filter(_pair(rating), removed_at__isnull=True).exclude(pk=rating.pk)
    others = others.exclude(review_status=ReviewStatus.VOIDED).exclude(points=0)
    window = timedelta(seconds=rule("credit_same_item_seconds"))
    same_item = others.filter(
        product_id=rating.product_id,
        points=rating.score,
        order_created_at__gt=rating.order_created_at - window,
        order_created_at__lt=rating.order_created_at + window,
    )
    if same_item.exists():
        return 0, "same_item"
    start, end = _month_bounds(rating.order_created_at)
    month = others.filter(order_created_at__gte=start, order_created_at__lt=end)
    used = sum(abs(p) for p in month.values_list("points", flat=True))
    if used + 1 > rule("credit_pair_month_points_max"):
        return 0, "month_cap"
    return rating.score, ""


def _credit_apply(credit: ShopCredit | BuyerCredit, delta: int) -> None:
    if delta:
        credit.score = F("score") + delta
        credit.updated_at = clock.now()
        credit.save(update_fields=["score", "updated_at"])
        credit.refresh_from_db(fields=["score"])


def _recount(rating: Rating, credit: ShopCredit | BuyerCredit) -> None:
    """Re-decide ``rating``'s points (after a change) and move the credit by the difference."""
    before = rating.points
    if rating.removed_at is not None or rating.review_status == ReviewStatus.VOIDED:
        rating.points, rating.uncounted_reason = 0, rating.uncounted_reason or "removed"
    else:
        rating.points, rating.uncounted_reason = _counted_points(rating)
    rating.save(update_fields=["points", "uncounted_reason"])
    _credit_apply(credit, rating.points - before)


# --- anti-brushing ----------------------------------------------------------------------------


def _staff_ids(shop_id: int) -> list[int]:
    ids = list(ShopStaff.objects.filter(shop_id=shop_id).values_list("user_id", flat=True))
    owner = Shop.objects.filter(pk=shop_id).values_list("owner_id", flat=True).first()
    return sorted({*ids, owner} - {None})


def _address_key(phone: str, province: str, city: str, district: str, detail: str) -> str:
    return "|".join(part.replace(" ", "") for part in (province, city, district, detail))


def brushing_flags(order: Order) -> list[str]:
    """The anti-brushing signals an order shows; each one sends its rating to review."""
    flags: list[str] = []
    staff = _staff_ids(order.shop_id)
    buyer_id = order.buyer_id
    if buyer_id in staff:
        flags.append("own_shop")
    staff_addresses = Address.objects.filter(user_id__in=staff)
    order_address = _address_key(
        order.phone, order.province, order.city, order.district, order.detail
    )
    if staff_addresses.filter(phone=order.phone).exists() or any(
        _address_key(a.phone, a.province, a.city, a.district, a.detail) == order_address
        for a in staff_addresses
    ):
        flags.append("same_address")
    staff_devices = Device.objects.filter(user_id__in=staff).values("fingerprint")
    if Device.objects.filter(user_id=buyer_id, fingerprint__in=staff_devices).exists():
        flags.append("same_device")
    staff_cards = BankCard.objects.filter(user_id__in=staff).values("card_hash")
    if BankCard.objects.filter(user_id=buyer_id, card_hash__in=staff_cards).exists():
        flags.append("same_payment_source")
    new_since = order.created_at - timedelta(seconds=rule("brushing_new_account_seconds"))
    buyer = User.objects.only("date_joined").get(pk=buyer_id)
    if buyer.date_joined >= new_since:
        from_new = (
            Order.objects.filter(
                shop_id=order.shop_id,
                created_at__gte=new_since,
                created_at__lte=order.created_at,
                paid_at__isnull=False,
                buyer__date_joined__gte=new_since,
            )
            .values("buyer_id")
            .count()
        )
        if from_new >= rule("brushing_new_account_orders_min"):
            flags.append("new_accounts")
    quick = timedelta(seconds=rule("brushing_quick_confirm_seconds"))
    if order.shipped_at and order.finished_at and order.finished_at - order.shipped_at <= quick:
        flags.append("quick_confirm")
    if any(line.unit_price_fen < rule("brushing_tiny_price_fen") for line in order.lines.all()):
        flags.append("tiny_price")
    return flags


# --- writing ratings --------------------------------------------------------------------------


def _rating_write(
    *,
    order: Order,
    line: OrderLine,
    role: str,
    author: User | None,
    score: int,
    text: str = "",
    is_default: bool = False,
    flags: list[str] | None = None,
    credit: ShopCredit | BuyerCredit,
) -> Rating:
    rating = Rating(
        order=order,
        line=line,
        role=role,
        shop_id=order.shop_id,
        buyer_id=order.buyer_id,
        author=author,
        product_id=line.product_id,
        spec_label=line.spec_label,
        score=score,
        text=text,
        is_default=is_default,
        order_created_at=order.created_at,
        flags=flags or [],
        review_status=ReviewStatus.PENDING if flags else ReviewStatus.NONE,
    )
    rating.points, rating.uncounted_reason = _counted_points(rating)
    rating.save()
    _credit_apply(credit, rating.points)
    return rating


def _rated_lines(order: Order, role: str) -> set[int]:
    return set(Rating.objects.filter(order=order, role=role).values_list("line_id", flat=True))


def _dsr_write(order: Order, stars: dict[str, int]) -> Dsr:
    start, end = _month_bounds(order.created_at)
    counted = Dsr.objects.filter(
        buyer_id=order.buyer_id,
        shop_id=order.shop_id,
        counted=True,
        order_created_at__gte=start,
        order_created_at__lt=end,
    ).count() < rule("dsr_pair_month_max")
    first = order.lines.select_related("product__category").order_by("pk").first()
    category = first.product.category if first else None
    while category is not None and category.parent_id is not None:
        category = category.parent
    return Dsr.objects.create(
        order=order,
        shop_id=order.shop_id,
        buyer_id=order.buyer_id,
        category=category,
        counted=counted,
        order_created_at=order.created_at,
        **stars,
    )


@transaction.atomic
def buyer_rate(
    *,
    buyer: User,
    order_id: Any,
    ratings: Any,
    dsr: Any = None,
    images: dict[int, list[Any]] | None = None,
) -> list[Rating]:
    """The buyer rates the order's items (score, text; photos per line in ``images`` keyed by
    line id) and, once per order, gives DSR stars. All or nothing."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    _window_require(order)
    picked = _lines_pick(order, ratings)
    rated = _rated_lines(order, RatingRole.BUYER)
    stars = _dsr_clean(dsr)
    cleaned = []
    for n, (line, item) in enumerate(picked):
        if line.pk in rated:
            raise DomainError(RatingError.EXISTS, _("You have rated this item already."))
        score = _score_clean(item.get("score"), f"ratings.{n}.score")
        text = _text_clean(score, item.get("text"), f"ratings.{n}.text")
        cleaned.append((line, score, text, _images_clean((images or {}).get(line.pk))))
    if stars is not None and Dsr.objects.filter(order=order).exists():
        raise DomainError(RatingError.EXISTS, _("The shop's ratings (DSR) were given already."))
    credit = _shop_credit_lock(order.shop_id)
    flags = brushing_flags(order)
    written = []
    for line, score, text, line_images in cleaned:
        rating = _rating_write(
            order=order,
            line=line,
            role=RatingRole.BUYER,
            author=buyer,
            score=score,
            text=text,
            flags=flags,
            credit=credit,
        )
        _images_save(rating, line_images)
        written.append(rating)
        audit_record(actor=buyer, action="rating.create", obj=rating, after={"score": score})
    if stars is not None:
        _dsr_write(order, stars)
    if any(r.score != Score.POSITIVE for r in written):
        notify(
            user=order.shop.owner,
            kind="rating_received",
            link="/seller/ratings/",
            params={"order": order.pk},
        )
    return written


@transaction.atomic
def seller_rate(*, actor: User, order_id: Any, ratings: Any) -> list[Rating]:
    """The seller rates the buyer, per item."""
    membership = shop_require(actor, "rating.reply")
    order = lock_order(order_id=order_id, shop_id=membership.shop_id)
    _window_require(order)
    picked = _lines_pick(order, ratings)
    rated = _rated_lines(order, RatingRole.SELLER)
    cleaned = []
    for n, (line, item) in enumerate(picked):
        if line.pk in rated:
            raise DomainError(RatingError.EXISTS, _("You have rated this buyer already."))
        score = _score_clean(item.get("score"), f"ratings.{n}.score")
        cleaned.append((line, score, _text_clean(score, item.get("text"), f"ratings.{n}.text")))
    credit = _buyer_credit_lock(order.buyer_id)
    written = []
    for line, score, text in cleaned:
        rating = _rating_write(
            order=order,
            line=line,
            role=RatingRole.SELLER,
            author=actor,
            score=score,
            text=text,
            credit=credit,
        )
        written.append(rating)
        audit_record(actor=actor, action="rating.create", obj=rating, after={"score": score})
    return written


def ratings_default(*, order: Order) -> int:
    """The window ended: every unrated line gets a positive rating from each silent side.
    Call with the order locked; returns how many ratings were written."""
    written = 0
    lines = ratable_lines(order)
    flags = brushing_flags(order) if lines else []
    for role in (RatingRole.BUYER, RatingRole.SELLER):
        rated = _rated_lines(order, role)
        missing = [line for line in lines if line.pk not in rated]
        if not missing:
            continue
        credit = _credit_lock(role, order)
        for line in missing:
            _rating_write(
                order=order,
                line=line,
                role=role,
                author=None,
                score=Score.POSITIVE,
                is_default=True,
                flags=flags if role == RatingRole.BUYER else None,
                credit=credit,
            )
            written += 1
    order.rate_deadline = None
    order.save(update_fields=["rate_deadline"])
    return written


# --- after the rating -------------------------------------------------------------------------


def _rating_lock(rating_id: Any, **owner: Any) -> tuple[Rating, ShopCredit | BuyerCredit]:
    """Lock a rating's order, then its party's credit row, then the rating."""
    if not str(rating_id).isdecimal() or len(str(rating_id)) > 18:
        raise NotFound(message=_("Rating not found."))
    row = Rating.objects.filter(pk=int(rating_id), **owner).values("order_id", "role").first()
    if row is None:
        raise NotFound(message=_("Rating not found."))
    order = lock_order(order_id=row["order_id"])
    credit = _credit_lock(row["role"], order)
    rating = Rating.objects.select_for_update().get(pk=int(rating_id))
    rating.order = order
    return rating, credit


def rating_changeable(rating: Rating) -> bool:
    """A neutral or negative rating can be changed or removed once, within 30 days."""
    limit = timedelta(seconds=rule("rating_change_seconds"))
    return (
        rating.score != Score.POSITIVE
        and not rating.is_default
        and rating.changed_at is None
        and rating.removed_at is None
        and clock.now() <= rating.created_at + limit
    )


def rating_may_change(rating: Rating, user: Any) -> bool:
    """Whether ``user`` is the rater: the buyer of their own rating, or staff who may rate
    of the shop whose rating of a buyer it is."""
    if user is None or not getattr(user, "pk", None):
        return False
    if rating.role == RatingRole.BUYER:
        return rating.buyer_id == user.pk
    membership = membership_of(user)
    return (
        membership is not None
        and membership.shop_id == rating.shop_id
        and role_can(membership.role, "rating.reply")
    )


@transaction.atomic
def rating_change(*, actor: User, rating_id: Any, to: str) -> Rating:
    """The rater changes a neutral or negative rating to positive (``to="positive"``) or
    removes it (``to="remove"``), once, within 30 days of writing it. The rater is the buyer
    for their own ratings, and the shop (staff who may rate) for its ratings of buyers."""
    rating_id = rating_id if str(rating_id).isdecimal() and len(str(rating_id)) < 19 else None
    own = Rating.objects.filter(pk=rating_id, role=RatingRole.BUYER, buyer_id=actor.pk)
    if own.exists():
        rating, credit = _rating_lock(rating_id, role=RatingRole.BUYER, buyer_id=actor.pk)
    else:
        if membership_of(actor) is None:  # neither their rating nor their shop's
            raise NotFound(message=_("Rating not found."))
        membership = shop_require(actor, "rating.reply")
        rating, credit = _rating_lock(rating_id, role=RatingRole.SELLER, shop_id=membership.shop_id)
    if not rating_changeable(rating):
        raise DomainError(
            RatingError.CHANGE_NOT_ALLOWED,
            _(
                "A neutral or negative rating can be changed to positive or removed once, within "
                "30 days."
            ),
        )
    if to not in ("positive", "remove"):
        raise field_error("to", _("Choose positive or remove."), RatingError.CHANGE_NOT_ALLOWED)
    before = rating.score
    rating.original_score = before
    rating.changed_at = clock.now()
    if to == "positive":
        rating.score = Score.POSITIVE
    else:
        rating.removed_at = rating.changed_at
    rating.save(update_fields=["original_score", "changed_at", "score", "removed_at"])
    _recount(rating, credit)
    audit_record(
        actor=actor,
        action=f"rating.{to}",
        obj=rating,
        before={"score": before},
        after={"score": rating.score, "points": rating.points},
    )
    return rating


@transaction.atomic
def rating_reply(*, actor: User, rating_id: Any, text: Any) -> Rating:
    """The seller's one public reply (解释) to a buyer's rating."""
    membership = shop_require(actor, "rating.reply")
    rating, _credit = _rating_lock(rating_id, shop_id=membership.shop_id, role=RatingRole.BUYER)
    if rating.reply_at is not None:
        raise DomainError(RatingError.REPLY_EXISTS, _("The shop has replied already."))
    rating.reply = clean_text(text, field="text", max_length=rule("rating_text_length_max"))
    rating.reply_at = clock.now()
    rating.save(update_fields=["reply", "reply_at"])
    audit_record(actor=actor, action="rating.reply", obj=rating)
    return rating


@transaction.atomic
def rating_followup(*, buyer: User, rating_id: Any, text: Any, images: Any = None) -> Rating:
    """The buyer's one follow-up review (追评), within 180 days of the trade's end."""
    rating, _credit = _rating_lock(rating_id, buyer_id=buyer.pk, role=RatingRole.BUYER)
    finished = rating.order.finished_at
    limit = timedelta(seconds=rule("rating_followup_seconds"))
    if (
        rating.followup_at is not None
        or rating.removed_at is not None
        or finished is None
        or clock.now() > finished + limit
    ):
        raise DomainError(
            RatingError.FOLLOWUP_NOT_ALLOWED,
            _("One follow-up review is possible, within 180 days after the trade is completed."),
        )
    rating.followup = clean_text(text, field="text", max_length=rule("rating_text_length_max"))
    cleaned = _images_clean(images)
    rating.followup_at = clock.now()
    rating.save(update_fields=["followup", "followup_at"])
    _images_save(rating, cleaned, followup=True)
    audit_record(actor=buyer, action="rating.followup", obj=rating)
    return rating


# --- the operators' review --------------------------------------------------------------------


@transaction.atomic
def rating_review(*, operator: User, rating_id: Any, decision: str, reason: Any) -> Rating:
    """An operator voids a rating from credit (``decision="void"``) or clears its flags
    (``"clear"``), with a reason. A rating need not be flagged to be voided."""
    operator_require(operator, "rating.review")
    rating, credit = _rating_lock(rating_id)
    reason = clean_text(reason, field="reason", max_length=200)
    if (
        decision not in ("void", "clear")
        or rating.review_status == ReviewStatus.VOIDED
        or (decision == "clear" and rating.review_status != ReviewStatus.PENDING)
    ):
        raise DomainError(
            RatingError.REVIEW_INVALID,
            _("Only a rating waiting for review can be cleared, and a voided one stays voided."),
        )
    before = {"review_status": rating.review_status, "points": rating.points}
    rating.review_status = ReviewStatus.VOIDED if decision == "void" else ReviewStatus.CLEARED
    rating.reviewed_by = operator
    rating.reviewed_at = clock.now()
    rating.review_reason = reason
    if decision == "void":
        rating.uncounted_reason = "voided"
    rating.save(
        update_fields=[
            "review_status",
            "reviewed_by",
            "reviewed_at",
            "review_reason",
            "uncounted_reason",
        ]
    )
    if decision == "void":
        _recount(rating, credit)
        notify(
            user=rating.shop.owner,
            kind="rating_voided",
            link="/seller/ratings/",
            params={"order": rating.order_id, "reason": reason},
        )
    audit_record(
        actor=operator,
        action=f"rating.{decision}",
        obj=rating,
        before=before,
        after={"review_status": rating.review_status, "points": rating.points},
        reason=reason,
    )
    return rating


# --- devices ----------------------------------------------------------------------------------


def device_fingerprint(*, device_id: str = "", user_agent: str = "", address: str = "") -> str:
    """A client-sent device id when there is one, else user agent and network (/24)."""
    if device_id:
        basis = "id:" + device_id.strip()[:200]
    else:
        network = ".".join(address.split(".")[:3]) if "." in address else address[:19]
        basis = f"ua:{user_agent[:300]}|net:{network}"
    return hashlib.sha256(basis.encode()).hexdigest()


def device_record(*, user: User, fingerprint: str) -> None:
    now = clock.now()
    updated = Device.objects.filter(user=user, fingerprint=fingerprint).update(last_seen_at=now)
    if not updated:
        Device.objects.get_or_create(
            user=user, fingerprint=fingerprint, defaults={"first_seen_at": now, "last_seen_at": now}
        )


# --- the shop quality score -------------------------------------------------------------------

# Weights out of 100; a part without data is left out and the others are scaled up.
QUALITY_WEIGHTS = {
    "dsr": 25,
    "refund_rate": 20,
    "dispute_rate": 15,
    "shipping_speed": 15,
    "violations": 15,
    "response_time": 10,  # from customer-service chat, when it exists
}
QUALITY_DAYS = 30


def _part(value: float) -> int:
    return max(0, min(100, round(value)))


def quality_parts(*, shop_id: int, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Each part of the quality score: its measure and its 0–100 mark; a part without data
    (a new shop has no DSR yet) is left out and the others weigh more."""
    now = now or clock.now()
    since = now - timedelta(days=QUALITY_DAYS)
    parts: dict[str, dict[str, Any]] = {}
    dsr = Dsr.objects.filter(
        shop_id=shop_id,
        counted=True,
        created_at__gte=now - timedelta(days=rule("dsr_window_days")),
    ).aggregate(n=Count("id"), item=Sum("item"), service=Sum("service"), log=Sum("logistics"))
    if dsr["n"]:
        average = (dsr["item"] + dsr["service"] + dsr["log"]) / (3 * dsr["n"])
        parts["dsr"] = {"value": round(average, 2), "mark": _part((average - 1) / 4 * 100)}
    paid = Order.objects.filter(shop_id=shop_id, paid_at__gte=since)
    paid_count = paid.count()
    if paid_count:
        refunds = (  # an exchange is not a refund
            RefundCase.objects.filter(
                shop_id=shop_id, status=RefundStatus.SUCCESS, finished_at__gte=since
            )
            .exclude(kind=RefundKind.EXCHANGE)
            .count()
        )
        refund_rate = refunds / paid_count
        parts["refund_rate"] = {
            "value": round(refund_rate, 4),
            "mark": _part(100 - refund_rate * 500),
        }
        lost = Dispute.objects.filter(
            case__shop_id=shop_id, status=DisputeStatus.RULED_BUYER, ruled_at__gte=since
        ).count()
        dispute_rate = lost / paid_count
        parts["dispute_rate"] = {
            "value": round(dispute_rate, 4),
            "mark": _part(100 - dispute_rate * 2000),
        }
    shipped = list(
        paid.filter(shipped_at__isnull=False).values_list("paid_at", "shipped_at")[:1000]
    )
    if shipped:
        hours = sum((s - p).total_seconds() for p, s in shipped) / len(shipped) / 3600
        # within a day is full marks; at the 72-hour mark nothing is left
        parts["shipping_speed"] = {"value": round(hours, 1), "mark": _part((72 - hours) / 48 * 100)}
    points = shop_violation_points(shop_id=shop_id, days=365)
    parts["violations"] = {"value": points, "mark": _part(100 - points * 10)}
    return parts


def quality_score_of(parts: dict[str, dict[str, Any]]) -> int:
    weight = sum(QUALITY_WEIGHTS[name] for name in parts)
    return round(sum(QUALITY_WEIGHTS[name] * p["mark"] for name, p in parts.items()) / weight)


@transaction.atomic
def quality_compute(*, shop_id: int, day: date | None = None) -> ShopQuality:
    """Compute (or recompute) a shop's quality score for ``day`` and keep it for ranking."""
    day = day or clock_local(clock.now()).date()
    parts = quality_parts(shop_id=shop_id)
    score = quality_score_of(parts)
    row, _created = ShopQuality.objects.update_or_create(
        shop_id=shop_id,
        day=day,
        defaults={"score": score, "parts": parts, "computed_at": clock.now()},
    )
    ShopCredit.objects.get_or_create(shop_id=shop_id)
    ShopCredit.objects.filter(shop_id=shop_id).update(quality_score=score)
    return row
