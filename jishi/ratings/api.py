"""Ratings API: credit ratings (信用评价), DSR (店铺动态评分), reviews, follow-ups (追评), the
shop quality score and the operators' anti-brushing review.

Four audiences, one router:
- anyone (no login): a shop's credit, level, positive rates and DSR
  (``/ratings/shops/{id}/summary``) and the reviews of an open shop or a listed product, with
  the reviewer's name masked;
- the buyer (``/ratings/orders/{id}``, ``/ratings/mine``, ``/ratings/{id}/…``): rate a
  completed order's items with DSR stars (JSON, or multipart with photos per item), change
  a neutral or negative rating once, add the one follow-up review, read what sellers wrote
  about them;
- shop staff (``/ratings/seller/…``): ``order.view`` reads, ``rating.reply`` (owner, customer
  service) rates buyers and replies; ``shop.view`` reads the quality score;
- operators (``/ratings/console/…``, ``rating.review``): the anti-brushing queue, voiding or
  clearing a rating with a reason, and the sellers' ratings of buyers.

Another buyer's order or rating, another shop's, looks missing (404). Ratings move no money,
but writing one is a one-shot action, so the JSON rating calls accept an ``Idempotency-Key``
to make a retry after a lost answer safe.
"""

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from ninja import Field, File, Form, Router, Schema, UploadedFile
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import StrictInt, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from jishi.catalog import selectors as catalog_selectors
from jishi.core import clock
from jishi.core.errors import DomainError, NotFound, field_error
from jishi.core.idempotency import idempotent
from jishi.core.rules import rule
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Id,
    Text,
    acting_user,
    auth_errors,
    errors,
    file_url,
)
from jishi.orders.api import OrderLineOut
from jishi.ratings import selectors, services
from jishi.ratings.errors import RatingError
from jishi.ratings.models import Rating, RatingRole
from jishi.shops import selectors as shop_selectors

router = Router(tags=["ratings"])

DSR_LABELS = {
    "item": _("Item as described"),
    "service": _("Service attitude"),
    "logistics": _("Logistics"),
}
QUALITY_LABELS = {
    "dsr": _("Detailed seller ratings (DSR)"),
    "refund_rate": _("Refund rate"),
    "dispute_rate": _("Dispute rate"),
    "shipping_speed": _("Shipping speed"),
    "violations": _("Violations"),
    "response_time": _("Response time"),
}
FLAG_LABELS = {
    "own_shop": _("The buyer is a member of the shop"),
    "same_address": _("Delivery address same as a shop member's"),
    "same_device": _("Same device as a shop member"),
    "same_payment_source": _("Same payment source as a shop member"),
    "new_accounts": _("Many orders from newly registered accounts"),
    "quick_confirm": _("Receipt confirmed minutes after shipment"),
    "tiny_price": _("Item price too low"),
}
UNCOUNTED_LABELS = {
    "same_item": _("same item by the same buyer within 14 days"),
    "month_cap": _("the pair's 6 points this month are used up"),
    "removed": _("removed by its author"),
    "voided": _("voided by an operator"),
}
TIER_LABELS = {
    "heart": pgettext_lazy("credit tier", "Hearts"),
    "diamond": pgettext_lazy("credit tier", "Diamonds"),
    "crown": pgettext_lazy("credit tier", "Crowns"),
    "gold_crown": pgettext_lazy("credit tier", "Golden crowns"),
}
LINES_MAX = 100  # an order holds at most cart_items_max lines
# the multipart rating: one repeatable file field per rated line, "images_<line id>"
IMAGE_FIELD = re.compile(r"images_([1-9][0-9]{0,17})")


# --- schemas ----------------------------------------------------------------------------------


def _image_urls(rating: Rating, *, followup: bool) -> list[str]:
    return [
        url
        for image in rating.images.all()
        if image.followup == followup and (url := file_url(image.file))
    ]


class CountsOut(Schema):
    positive: int
    neutral: int
    negative: int
    positive_rate: float | None = Field(
        description="好评率 in percent: positive ÷ (positive + negative); null without any."
    )


class ReviewCountsOut(Schema):
    """How many reviews each filter shows."""

    all: int
    photos: int
    negative: int
    followups: int


class DsrDimensionOut(Schema):
    name: str = Field(description="item (描述相符), service (服务态度) or logistics (物流服务).")
    label: str
    score: float | None = Field(description="The shop's average over 180 days (1 to 5 stars).")
    category: float | None = Field(description="The average of the shop's main category.")
    versus: float | None = Field(description="Percent above (+) or below (−) the category average.")

    @staticmethod
    def resolve_label(obj) -> str:
        return str(DSR_LABELS.get(obj["name"], obj["name"]))


class ShopRatingSummaryOut(Schema):
    """What a buyer reads about whom to trust."""

    shop_id: int
    shop_name: str
    score: int = Field(description="The credit score: the counted points of buyers' ratings.")
    tier: str = Field(
        description="heart, diamond, crown or gold_crown; empty below 4 points (no level)."
    )
    tier_label: str
    level: int = Field(description="1 to 5 within the tier; 0 without a level.")
    six_months: CountsOut = Field(description="Buyers' ratings of the last 180 days.")
    all_time: CountsOut
    dsr_count: int = Field(description="How many DSRs the 180-day averages are made of.")
    dsr: list[DsrDimensionOut]
    category_id: int | None = Field(description="The shop's main category (DSR comparison).")
    category_name: str
    quality_score: int | None = Field(description="The latest daily shop quality score, 0–100.")
    review_counts: ReviewCountsOut


class ReviewOut(Schema):
    """A buyer's review as everybody sees it: the name masked, DSR never shown."""

    id: int
    buyer_name: str = Field(description="Masked: the first and last character (爱**李).")
    product_id: int
    product_title: str
    spec_label: str
    score: int = Field(description="1 positive (好评), 0 neutral (中评), -1 negative (差评).")
    score_label: str
    text: str
    is_default: bool = Field(description="Given by the system: the buyer did not rate in time.")
    images: list[str] = Field(description="Photo URLs.")
    created_at: datetime
    reply: str = Field(description="The shop's one public reply (解释).")
    reply_at: datetime | None
    followup: str = Field(description="The buyer's follow-up review (追评).")
    followup_at: datetime | None
    followup_images: list[str]

    @staticmethod
    def resolve_buyer_name(obj) -> str:
        return selectors.masked_name(obj.buyer)

    @staticmethod
    def resolve_product_title(obj) -> str:
        return obj.product.title

    @staticmethod
    def resolve_score_label(obj) -> str:
        return str(obj.get_score_display())

    @staticmethod
    def resolve_images(obj) -> list[str]:
        return _image_urls(obj, followup=False)

    @staticmethod
    def resolve_followup_images(obj) -> list[str]:
        return _image_urls(obj, followup=True)


class _RatingBase(Schema):
    id: int
    order_id: int
    line_id: int
    product_id: int
    product_title: str
    spec_label: str
    score: int = Field(description="1 positive (好评), 0 neutral (中评), -1 negative (差评).")
    score_label: str
    text: str
    is_default: bool = Field(
        description="Written by the system when the rating window ended in silence (positive)."
    )
    created_at: datetime

    @staticmethod
    def resolve_product_title(obj) -> str:
        return obj.product.title

    @staticmethod
    def resolve_score_label(obj) -> str:
        return str(obj.get_score_display())


def _change_allowed(rating: Rating, user: Any) -> bool:
    return services.rating_may_change(rating, user) and services.rating_changeable(rating)


def _context_user(context: Any) -> Any:
    request = (context or {}).get("request")
    return getattr(request, "auth", None)


class _RatingAfter(Schema):
    """What happened to a rating after it was written."""

    changed_at: datetime | None
    original_score: int | None = Field(description="The score before a change to positive.")
    removed_at: datetime | None = Field(description="Removed by its author; not shown.")
    reply: str
    reply_at: datetime | None
    followup: str
    followup_at: datetime | None
    images: list[str]
    followup_images: list[str]
    can_change: bool = Field(
        description="The caller may still change it to positive or remove it (once, 30 days)."
    )

    @staticmethod
    def resolve_images(obj) -> list[str]:
        return _image_urls(obj, followup=False)

    @staticmethod
    def resolve_followup_images(obj) -> list[str]:
        return _image_urls(obj, followup=True)

    @staticmethod
    def resolve_can_change(obj, context) -> bool:
        return _change_allowed(obj, _context_user(context))


class MyRatingOut(_RatingAfter, _RatingBase):
    """A rating the buyer gave (or the system gave for them)."""

    shop_id: int
    shop_name: str
    can_followup: bool = Field(
        description="One follow-up review is still possible (within 180 days of completion)."
    )

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name

    @staticmethod
    def resolve_can_followup(obj) -> bool:
        finished = obj.order.finished_at
        limit = timedelta(seconds=rule("rating_followup_seconds"))
        return (
            obj.followup_at is None
            and obj.removed_at is None
            and finished is not None
            and clock.now() <= finished + limit
        )


class ReceivedRatingOut(_RatingBase):
    """A rating a seller gave the buyer."""

    shop_id: int
    shop_name: str

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class SellerRatingOut(_RatingAfter, _RatingBase):
    """A rating as the shop sees it: a buyer's rating of the shop (``role="buyer"``) or the
    shop's rating of a buyer (``role="seller"``)."""

    role: str = Field(description="buyer: the buyer rated the shop; seller: the shop rated.")
    buyer_id: int
    buyer_username: str
    points: int = Field(description="What the rating adds to the rated party's credit.")
    uncounted_reason: str = Field(
        description="Why it adds no points: same_item, month_cap, removed or voided."
    )
    uncounted_label: str
    can_reply: bool = Field(description="A buyer's rating the shop has not replied to yet.")

    @staticmethod
    def resolve_buyer_username(obj) -> str:
        return obj.buyer.username

    @staticmethod
    def resolve_uncounted_label(obj) -> str:
        reason = obj.uncounted_reason
        return str(UNCOUNTED_LABELS.get(reason, reason))

    @staticmethod
    def resolve_can_reply(obj) -> bool:
        return obj.role == RatingRole.BUYER and obj.reply_at is None


class FlagOut(Schema):
    code: str = Field(
        description="own_shop, same_address, same_device, same_payment_source, new_accounts, "
        "quick_confirm or tiny_price."
    )
    label: str


class ConsoleRatingOut(SellerRatingOut):
    """A rating in the operators' review."""

    shop_id: int
    shop_name: str
    order_created_at: datetime
    flags: list[FlagOut] = Field(description="The anti-brushing signals that flagged it.")
    review_status: str = Field(description="empty (not flagged), pending, cleared or voided.")
    review_status_label: str
    reviewed_by_id: int | None
    reviewed_at: datetime | None
    review_reason: str

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name

    @staticmethod
    def resolve_flags(obj) -> list[dict[str, str]]:
        flags = obj.flags if isinstance(obj.flags, list) else []
        return [{"code": str(c), "label": str(FLAG_LABELS.get(c, c))} for c in flags]

    @staticmethod
    def resolve_review_status_label(obj) -> str:
        return str(obj.get_review_status_display())


class ConsoleBuyerRatingOut(_RatingBase):
    """A seller's rating of a buyer, for spotting malicious buyers."""

    buyer_id: int
    buyer_username: str
    shop_id: int
    shop_name: str
    removed_at: datetime | None

    @staticmethod
    def resolve_buyer_username(obj) -> str:
        return obj.buyer.username

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class DsrOut(Schema):
    """The buyer's own DSR of the order (anonymous to everybody else, unchangeable)."""

    item: int
    service: int
    logistics: int
    created_at: datetime


class BuyerLineOut(Schema):
    line: OrderLineOut
    rating: MyRatingOut | None = Field(description="The buyer's rating of the line, if any.")


class SellerLineOut(Schema):
    line: OrderLineOut
    rating: SellerRatingOut | None = Field(description="The shop's rating of the line, if any.")


class _OrderRatingBase(Schema):
    order_id: int
    open: bool = Field(description="The rating window is open (15 days after completion).")
    deadline: datetime | None = Field(
        description="When the window ends: the silent side then gives a positive rating."
    )
    can_rate: bool = Field(description="The window is open and a line is still unrated.")
    unrated_line_ids: list[int]


class BuyerOrderRatingOut(_OrderRatingBase):
    """One order from the buyer's side: lines with the buyer's ratings, and the DSR."""

    shop_id: int
    shop_name: str
    lines: list[BuyerLineOut]
    dsr: DsrOut | None = Field(description="The DSR given on the order; given once.")


class SellerOrderRatingOut(_OrderRatingBase):
    """One order from the shop's side: lines with the shop's ratings of the buyer."""

    buyer_id: int
    buyer_username: str
    lines: list[SellerLineOut]


class _ToRateBase(Schema):
    id: int = Field(description="The order id.")
    finished_at: datetime | None
    rate_deadline: datetime | None
    lines: list[OrderLineOut]

    @staticmethod
    def resolve_lines(obj) -> list[Any]:
        return list(obj.lines.all())


class ToRateOut(_ToRateBase):
    shop_id: int
    shop_name: str

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class SellerToRateOut(_ToRateBase):
    buyer_id: int
    buyer_username: str

    @staticmethod
    def resolve_buyer_username(obj) -> str:
        return obj.buyer.username


class BuyerCreditOut(Schema):
    """The buyer's credit from sellers' ratings of them."""

    score: int
    tier: str
    tier_label: str
    level: int
    positive: int
    neutral: int
    negative: int
    positive_rate: float | None


class ReviewTabCountsOut(Schema):
    pending: int
    cleared: int
    voided: int


class QualityPartOut(Schema):
    name: str = Field(
        description="dsr, refund_rate, dispute_rate, shipping_speed, violations, response_time."
    )
    label: str
    weight: int = Field(
        description="Its weight; the score is the weighted mean of the parts shown."
    )
    value: float = Field(
        description="The measure: average stars, a rate (0–1), hours, or penalty points."
    )
    mark: int = Field(description="0 to 100.")


class QualityDayOut(Schema):
    day: str
    score: int


class QualityOut(Schema):
    """The shop quality score: the latest day's with its parts (a part without data is left
    out and the others weigh more), and up to 30 days of history, oldest first."""

    score: int | None
    day: str | None
    computed_at: datetime | None
    parts: list[QualityPartOut]
    history: list[QualityDayOut]


# the input --------------------------------------------------------------------------------

# any value reaches the service, which refuses a wrong one with 400 rating_score_invalid
ScoreIn = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": ["positive", "neutral", "negative"]},
                {"type": "integer", "enum": [1, 0, -1]},
            ]
        }
    ),
    Field(description='"positive", "neutral" or "negative" (or 1, 0, -1).'),
]
Stars = Annotated[StrictInt, Field(description="1 to 5 stars.")]


class LineRatingIn(Schema):
    line_id: Id
    score: ScoreIn
    text: Text = Field("", description="Required for neutral and negative; at most 500.")


class DsrIn(Schema):
    item: Stars = Field(description="描述相符: the item as described, 1 to 5.")
    service: Stars = Field(description="服务态度: service attitude, 1 to 5.")
    logistics: Stars = Field(description="物流服务: logistics, 1 to 5.")


class BuyerRateIn(Schema):
    ratings: list[LineRatingIn] = Field(
        max_length=LINES_MAX, description="One per item to rate (at least one)."
    )
    dsr: DsrIn | None = Field(None, description="Once per order; may come with a later call.")


class SellerRateIn(Schema):
    ratings: list[LineRatingIn] = Field(
        max_length=LINES_MAX, description="One per item to rate (at least one)."
    )


class ChangeIn(Schema):
    to: Literal["positive", "remove"]


class TextIn(Schema):
    text: Text


class ReviewIn(Schema):
    decision: Literal["void", "clear"] = Field(
        description="void: no longer counts in credit (any rating); clear: the flags were "
        "wrong (a rating waiting for review)."
    )
    reason: Text


PUBLIC_ERRORS = errors(404)
BUYER_ERRORS = auth_errors(400, 404)
SELLER_ERRORS = auth_errors(400, 403, 404)
CONSOLE_ERRORS = auth_errors(400, 403, 404)

RATE_WITH_IMAGES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "string",
                            "description": 'The JSON body of the plain call: {"ratings": '
                            '[{"line_id", "score", "text"}], "dsr": {…}}.',
                        },
                    },
                    "patternProperties": {
                        "^images_[0-9]+$": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Photos of the rated line with that id (at most 5).",
                        }
                    },
                }
            }
        },
    }
}


# --- helpers ----------------------------------------------------------------------------------


def _tier_label(tier: str) -> str:
    return str(TIER_LABELS.get(tier, ""))


def _state(order, role: str) -> dict[str, Any]:
    state = selectors.order_rating_state(order=order, role=role)
    return {
        "order_id": order.pk,
        "open": state["open"],
        "deadline": state["deadline"],
        "can_rate": state["can_rate"],
        "unrated_line_ids": [line.pk for line in state["unrated"]],
        "lines": [{"line": line, "rating": rating} for line, rating in state["lines"]],
        "dsr": state["dsr"],
    }


def _fill_rating(rating: Rating, order) -> Rating:
    """order_rating_state's ratings come without their relations: attach what is known."""
    rating.order = order
    return rating


def _buyer_state(request: HttpRequest, order_id: Any) -> dict[str, Any]:
    order = selectors.order_for_buyer_rating(buyer=acting_user(request), order_id=order_id)
    state = _state(order, RatingRole.BUYER)
    for row in state["lines"]:
        if row["rating"] is not None:
            _fill_rating(row["rating"], order).shop = order.shop
    return {**state, "shop_id": order.shop_id, "shop_name": order.shop.name}


def _seller_state(request: HttpRequest, order_id: Any) -> dict[str, Any]:
    order = selectors.order_for_seller_rating(actor=acting_user(request), order_id=order_id)
    state = _state(order, RatingRole.SELLER)
    for row in state["lines"]:
        if row["rating"] is not None:
            _fill_rating(row["rating"], order).buyer = order.buyer
    return {
        **state,
        "buyer_id": order.buyer_id,
        "buyer_username": order.buyer.username,
    }


def _my_rating(request: HttpRequest, rating_id: Any) -> Rating:
    return selectors.rating_get_for_buyer(buyer=acting_user(request), rating_id=rating_id)


def _shop_rating(request: HttpRequest, rating_id: Any, role: str | None = None) -> Rating:
    rating = selectors.rating_get_for_shop(actor=acting_user(request), rating_id=rating_id)
    if role is not None and rating.role != role:
        raise NotFound(message=_("Rating not found."))
    return rating


def _pydantic_to_ninja(exc: PydanticValidationError) -> NinjaValidationError:
    return NinjaValidationError(
        [
            {"type": e["type"], "loc": ("form", *e["loc"]), "msg": e["msg"], "ctx": e.get("ctx")}
            for e in exc.errors(include_url=False)
        ]
    )


def _rate_form(request: HttpRequest) -> tuple[BuyerRateIn, dict[int, list[Any]]]:
    """The multipart rating: ``data`` (the JSON body) and ``images_<line id>`` files."""
    raw = request.POST.get("data")
    if raw is None:
        raise NinjaValidationError([{"type": "missing", "loc": ("form", "data"), "msg": ""}])
    try:
        payload = BuyerRateIn.model_validate_json(raw)
    except PydanticValidationError as exc:
        raise _pydantic_to_ninja(exc) from None
    rated = {item.line_id for item in payload.ratings}
    images: dict[int, list[Any]] = {}
    for name in request.FILES:
        match = IMAGE_FIELD.fullmatch(name)
        if match is None:
            raise field_error(name, _("Name photo fields images_<line id>."))
        line_id = int(match.group(1))
        if line_id not in rated:
            raise field_error(name, _("These photos are for an item you are not rating."))
        images[line_id] = request.FILES.getlist(name)
    return payload, images


def _buyer_rate(request: HttpRequest, order_id: int, payload: BuyerRateIn, images=None):
    services.buyer_rate(
        buyer=acting_user(request),
        order_id=order_id,
        ratings=[item.model_dump() for item in payload.ratings],
        dsr=payload.dsr.model_dump() if payload.dsr else None,
        images=images,
    )
    return Status(201, _buyer_state(request, order_id))


# --- public -----------------------------------------------------------------------------------


@router.get(
    "/shops/{shop_id}/summary", auth=None, response={200: ShopRatingSummaryOut, **PUBLIC_ERRORS}
)
def shop_summary(request: HttpRequest, shop_id: Id):
    """An open shop's credit score and level (hearts, diamonds, crowns, golden crowns),
    positive rates over 180 days and all time, DSR averages over 180 days compared with the
    shop's main category, the latest quality score, and how many reviews each filter shows."""
    shop = shop_selectors.shop_get_public(shop_id=shop_id)
    summary = selectors.shop_rating_summary(shop=shop)
    category = summary["category"]
    return {
        **summary,
        "shop_id": shop.pk,
        "shop_name": shop.name,
        "tier_label": _tier_label(summary["tier"]),
        "category_id": category.pk if category else None,
        "category_name": category.display_name if category else "",
        "review_counts": selectors.review_counts(Rating.objects.filter(shop=shop)),
    }


@router.get("/shops/{shop_id}/reviews", auth=None, response={200: list[ReviewOut], **PUBLIC_ERRORS})
@paginate(CappedLimitOffsetPagination)
def shop_reviews(
    request: HttpRequest,
    shop_id: Id,
    kind: Literal["all", "photos", "negative", "followups"] = "all",
):
    """Buyers' reviews of an open shop's items, newest first. ``kind``: photos (with photos),
    negative, followups (with a follow-up review). Removed and voided ratings are not shown."""
    shop = shop_selectors.shop_get_public(shop_id=shop_id)
    return selectors.reviews_for_shop(shop=shop, kind=kind)


@router.get(
    "/products/{product_id}/reviews", auth=None, response={200: list[ReviewOut], **PUBLIC_ERRORS}
)
@paginate(CappedLimitOffsetPagination)
def product_reviews(
    request: HttpRequest,
    product_id: Id,
    kind: Literal["all", "photos", "negative", "followups"] = "all",
):
    """Buyers' reviews of a listed product (of an open shop), newest first; ``kind`` as for a
    shop. The shop's summary is at ``/ratings/shops/{shop_id}/summary``."""
    product = catalog_selectors.product_get_public(product_id=product_id)
    return selectors.reviews_for_product(product=product, kind=kind)


@router.get(
    "/products/{product_id}/review-counts",
    auth=None,
    response={200: ReviewCountsOut, **PUBLIC_ERRORS},
)
def product_review_counts(request: HttpRequest, product_id: Id):
    """How many reviews of a listed product each filter shows."""
    product = catalog_selectors.product_get_public(product_id=product_id)
    return selectors.review_counts(Rating.objects.filter(product=product))


# --- buyer ------------------------------------------------------------------------------------


@router.get("/orders/{order_id}", response={200: BuyerOrderRatingOut, **auth_errors(404)})
def order_rating(request: HttpRequest, order_id: Id):
    """The buyer's side of an order's ratings: whether the window is open and until when,
    each ratable line (a line refunded in full is left out) with the buyer's rating, and the
    DSR if given."""
    return _buyer_state(request, order_id)


@router.post(
    "/orders/{order_id}", response={201: BuyerOrderRatingOut, **auth_errors(400, 404, 409)}
)
@idempotent("ratings.rate", BuyerOrderRatingOut, 201)
def order_rate(request: HttpRequest, order_id: Id, payload: BuyerRateIn):
    """Rate a completed order's items within 15 days: positive, neutral or negative, with a
    text (required for neutral and negative, at most 500 characters), and give DSR stars
    (1–5 for item as described, service, logistics; anonymous, once per order, unchangeable).
    All or nothing. A line rated already is 400 ``rating_exists``, outside the window 400
    ``rating_not_allowed``. Photos: ``POST /ratings/orders/{id}/with-images``."""
    return _buyer_rate(request, order_id, payload)


@router.post(
    "/orders/{order_id}/with-images",
    response={201: BuyerOrderRatingOut, **BUYER_ERRORS},
    openapi_extra=RATE_WITH_IMAGES_BODY,
)
def order_rate_with_images(request: HttpRequest, order_id: Id):
    """The same rating with photos (multipart): the field ``data`` holds the JSON body of
    ``POST /ratings/orders/{id}``, and each rated line's photos come in a repeatable file
    field named ``images_<line id>`` (at most 5 per line; JPEG, PNG, WebP or GIF)."""
    payload, images = _rate_form(request)
    return _buyer_rate(request, order_id, payload, images)


@router.get("/mine", response={200: list[MyRatingOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def my_ratings(request: HttpRequest):
    """The ratings the buyer gave sellers (and the default ones given for them), newest
    first, with the shop's reply and what may still be done (change, follow-up)."""
    return selectors.ratings_by_buyer(buyer=acting_user(request))


@router.get("/about-me", response={200: list[ReceivedRatingOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def ratings_about_me(request: HttpRequest):
    """What sellers wrote about the buyer, newest first. The buyer's credit is at
    ``/ratings/about-me/summary``."""
    return selectors.ratings_of_buyer(buyer=acting_user(request))


@router.get("/about-me/summary", response={200: BuyerCreditOut, **auth_errors()})
def ratings_about_me_summary(request: HttpRequest):
    """The buyer's credit: the counted points of sellers' ratings, its level, and the
    counts of positive, neutral and negative ratings."""
    summary = selectors.buyer_rating_summary(user_id=acting_user(request).pk)
    return {**summary, "tier_label": _tier_label(summary["tier"])}


@router.get("/to-rate", response={200: list[ToRateOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def to_rate(request: HttpRequest):
    """Completed orders with an item the buyer has not rated yet, nearest deadline first."""
    return selectors.orders_to_rate_by_buyer(buyer=acting_user(request))


@router.post("/{rating_id}/change", response={200: MyRatingOut, **BUYER_ERRORS})
def rating_change(request: HttpRequest, rating_id: Id, payload: ChangeIn):
    """Change the buyer's neutral or negative rating to positive (``"to": "positive"``) or
    remove it (``"remove"``): once, within 30 days of writing it; the credit is recounted.
    Anything else is 400 ``rating_change_not_allowed``."""
    if _my_rating(request, rating_id).is_default:  # the system's rating has no author
        raise DomainError(
            RatingError.CHANGE_NOT_ALLOWED,
            _("A default rating given when the window ended cannot be changed."),
        )
    services.rating_change(actor=acting_user(request), rating_id=rating_id, to=payload.to)
    return _my_rating(request, rating_id)


@router.post("/{rating_id}/followup", response={200: MyRatingOut, **BUYER_ERRORS})
def rating_followup(request: HttpRequest, rating_id: Id, payload: TextIn):
    """The buyer's one follow-up review (追评), within 180 days after completion; a second one
    is 400 ``rating_followup_not_allowed``. With photos: ``…/followup/with-images``."""
    services.rating_followup(buyer=acting_user(request), rating_id=rating_id, text=payload.text)
    return _my_rating(request, rating_id)


@router.post("/{rating_id}/followup/with-images", response={200: MyRatingOut, **BUYER_ERRORS})
def rating_followup_with_images(
    request: HttpRequest, rating_id: Id, text: Form[Text], images: File[list[UploadedFile]]
):
    """The follow-up review with photos (multipart: ``text`` and ``images``, repeatable, at
    most 5; JPEG, PNG, WebP or GIF)."""
    services.rating_followup(
        buyer=acting_user(request), rating_id=rating_id, text=text, images=images
    )
    return _my_rating(request, rating_id)


# --- seller center ----------------------------------------------------------------------------


@router.get("/seller/ratings", response={200: list[SellerRatingOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_ratings(
    request: HttpRequest,
    role: Literal["buyer", "seller"] = "buyer",
    kind: Literal["all", "negative", "unreplied", "followups"] = "all",
):
    """The shop's ratings, newest first: from buyers (``role=buyer``) or the shop's ratings of
    buyers (``role=seller``). ``kind``: negative (neutral and negative), unreplied (with a
    text and no reply yet), followups."""
    return selectors.ratings_for_shop(actor=acting_user(request), kind=kind, role=role)


@router.get("/seller/to-rate", response={200: list[SellerToRateOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_to_rate(request: HttpRequest):
    """Completed orders whose buyer the shop has not rated yet, nearest deadline first."""
    return selectors.orders_to_rate_by_shop(actor=acting_user(request))


@router.get(
    "/seller/orders/{order_id}", response={200: SellerOrderRatingOut, **auth_errors(403, 404)}
)
def seller_order_rating(request: HttpRequest, order_id: Id):
    """The shop's side of an order's ratings: the window, and each line with the shop's
    rating of the buyer."""
    return _seller_state(request, order_id)


@router.post(
    "/seller/orders/{order_id}",
    response={201: SellerOrderRatingOut, **auth_errors(400, 403, 404, 409)},
)
@idempotent("ratings.seller_rate", SellerOrderRatingOut, 201)
def seller_order_rate(request: HttpRequest, order_id: Id, payload: SellerRateIn):
    """Rate the buyer of a completed order, per item, within 15 days (``rating.reply``: the
    owner or customer service). Text is required for neutral and negative."""
    services.seller_rate(
        actor=acting_user(request),
        order_id=order_id,
        ratings=[item.model_dump() for item in payload.ratings],
    )
    return Status(201, _seller_state(request, order_id))


@router.post("/seller/ratings/{rating_id}/reply", response={200: SellerRatingOut, **SELLER_ERRORS})
def seller_rating_reply(request: HttpRequest, rating_id: Id, payload: TextIn):
    """The shop's one public reply (解释) to a buyer's rating (``rating.reply``); a second one
    is 400 ``rating_reply_exists``."""
    services.rating_reply(actor=acting_user(request), rating_id=rating_id, text=payload.text)
    return _shop_rating(request, rating_id)


@router.post("/seller/ratings/{rating_id}/change", response={200: SellerRatingOut, **SELLER_ERRORS})
def seller_rating_change(request: HttpRequest, rating_id: Id, payload: ChangeIn):
    """Change the shop's neutral or negative rating of a buyer to positive or remove it:
    by the staff member who wrote it, once, within 30 days."""
    _shop_rating(request, rating_id, role=RatingRole.SELLER)
    services.rating_change(actor=acting_user(request), rating_id=rating_id, to=payload.to)
    return _shop_rating(request, rating_id)


@router.get("/seller/quality", response={200: QualityOut, **auth_errors(403, 404)})
def seller_quality(request: HttpRequest):
    """The shop quality score (0–100, computed daily from DSR, refund rate, dispute rate,
    shipping speed and violations) with its parts, and its last 30 days. Listings and search
    rank by it."""
    quality = selectors.quality_for_shop(actor=acting_user(request))
    latest, weights = quality["latest"], quality["weights"]
    parts = []
    if latest is not None and isinstance(latest.parts, dict):
        for name, part in latest.parts.items():
            parts.append(
                {
                    "name": name,
                    "label": str(QUALITY_LABELS.get(name, name)),
                    "weight": weights.get(name, 0),
                    "value": part.get("value", 0),
                    "mark": part.get("mark", 0),
                }
            )
    return {
        "score": latest.score if latest else None,
        "day": latest.day.isoformat() if latest else None,
        "computed_at": latest.computed_at if latest else None,
        "parts": parts,
        "history": [{"day": q.day.isoformat(), "score": q.score} for q in quality["history"]],
    }


# --- operator console -------------------------------------------------------------------------


@router.get("/console/reviews", response={200: list[ConsoleRatingOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def console_reviews(
    request: HttpRequest,
    status: Literal["pending", "cleared", "voided", "all"] = "pending",
):
    """The anti-brushing queue (``rating.review``): flagged ratings waiting for review (or
    the cleared, the voided, all), oldest first."""
    return selectors.ratings_for_review(
        actor=acting_user(request), status="" if status == "all" else status
    )


@router.get("/console/review-counts", response={200: ReviewTabCountsOut, **auth_errors(403)})
def console_review_counts(request: HttpRequest):
    """How many flagged ratings are pending, cleared and voided."""
    counts = selectors.review_tab_counts(actor=acting_user(request))
    return {str(status): n for status, n in counts.items()}


@router.get(
    "/console/ratings/{rating_id}", response={200: ConsoleRatingOut, **auth_errors(403, 404)}
)
def console_rating(request: HttpRequest, rating_id: Id):
    """Any rating, flagged or not, with its flags and review."""
    return selectors.rating_get_for_console(actor=acting_user(request), rating_id=rating_id)


@router.post(
    "/console/ratings/{rating_id}/review", response={200: ConsoleRatingOut, **CONSOLE_ERRORS}
)
def console_rating_review(request: HttpRequest, rating_id: Id, payload: ReviewIn):
    """Void a rating from credit (any rating; its points are taken back and the shop is
    told why) or clear a flagged one, with a reason kept with it. Clearing a rating not
    waiting for review, or reviewing a voided one, is 400 ``rating_review_invalid``."""
    services.rating_review(
        operator=acting_user(request),
        rating_id=rating_id,
        decision=payload.decision,
        reason=payload.reason,
    )
    return selectors.rating_get_for_console(actor=acting_user(request), rating_id=rating_id)


@router.get(
    "/console/buyer-ratings", response={200: list[ConsoleBuyerRatingOut], **auth_errors(403)}
)
@paginate(CappedLimitOffsetPagination)
def console_buyer_ratings(request: HttpRequest, q: Text = "", buyer_id: Id | None = None):
    """Sellers' ratings of buyers, negative first (``rating.review``): ``q`` matches the
    buyer's or the shop's name, ``buyer_id`` keeps one buyer's."""
    return selectors.buyer_ratings_for_console(actor=acting_user(request), q=q, buyer_id=buyer_id)
