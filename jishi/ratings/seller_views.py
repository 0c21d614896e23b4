"""Seller center rating pages (评价管理, 店铺质量分): the buyers' ratings of the shop with the
shop's one reply each, the buyers waiting for the shop's rating, the shop's ratings of buyers
(a neutral or negative one may be changed or removed once by its author), rating a buyer,
and the shop quality score with its parts and its 30-day trend.

Roles: "order.view" opens the rating pages, "rating.reply" (owner, customer service) writes;
a POST from a role without it is the 403 page. "shop.view" opens the quality score. Another
shop's order or rating is a 404. DSR stars are anonymous: only their averages are shown.
"""

from typing import Any

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_POST

from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.core.pagination import page_of
from jishi.core.rules import rule
from jishi.core.web import form_errors
from jishi.ratings import selectors, services
from jishi.ratings.models import Rating, RatingRole, ReviewStatus, Score
from jishi.shops.models import ShopStaff
from jishi.shops.permissions import role_can, shop_require
from jishi.shops.seller_views import seller_page, seller_render

PAGE_SIZE = 15
REPLY_PERMISSION = "rating.reply"

TABS = (
    ("received", gettext_lazy("Ratings from buyers")),
    ("to_rate", gettext_lazy("Buyers to rate")),
    ("given", gettext_lazy("Ratings of buyers")),
)
RECEIVED_FILTERS = (
    ("all", gettext_lazy("All")),
    ("negative", gettext_lazy("Neutral and negative")),
    ("unreplied", gettext_lazy("Not replied")),
    ("followups", gettext_lazy("With follow-up")),
)
SCORE_CHOICES = (
    ("positive", pgettext_lazy("rating", "Positive")),
    ("neutral", pgettext_lazy("rating", "Neutral")),
    ("negative", pgettext_lazy("rating", "Negative")),
)
SCORE_WORDS = {int(Score.POSITIVE): "positive", int(Score.NEUTRAL): "neutral", -1: "negative"}
DSR_LABELS = {
    "item": gettext_lazy("Item as described"),
    "service": gettext_lazy("Service attitude"),
    "logistics": gettext_lazy("Logistics"),
}

QUALITY_LABELS = {
    "dsr": gettext_lazy("Detailed seller ratings (DSR)"),
    "refund_rate": gettext_lazy("Refund rate"),
    "dispute_rate": gettext_lazy("Dispute rate"),
    "shipping_speed": gettext_lazy("Shipping speed"),
    "violations": gettext_lazy("Violations"),
    "response_time": gettext_lazy("Response time"),
}
QUALITY_HOW = {
    "dsr": gettext_lazy(
        "The average of the buyers' stars for item as described, service and logistics over "
        "180 days. Describe items honestly with real photos, answer buyers kindly and ship "
        "with a reliable carrier."
    ),
    "refund_rate": gettext_lazy(
        "Completed refunds in the last 30 days per paid order. Check each item before "
        "shipping, state sizes and specifications clearly and pack well, so buyers keep what "
        "they bought."
    ),
    "dispute_rate": gettext_lazy(
        "Platform rulings against the shop in the last 30 days per paid order. Settle "
        "after-sales requests with the buyer before the platform has to step in, and keep "
        "evidence of what you shipped."
    ),
    "shipping_speed": gettext_lazy(
        "Average hours from payment to shipment in the last 30 days: within 24 hours earns "
        "full marks, 72 hours none. Ship the same or the next day and keep stock accurate."
    ),
    "violations": gettext_lazy(
        "Penalty points of the last 365 days; each point costs 10 marks. Ship within 48 "
        "hours, keep listings truthful and follow the platform rules."
    ),
    "response_time": gettext_lazy(
        "How fast the shop answers buyers' messages. Answer within a few minutes during "
        "opening hours."
    ),
}

# the 30-day trend chart, drawn as inline SVG (width × height in user units)
CHART_WIDTH = 640
CHART_HEIGHT = 180
CHART_PAD_LEFT = 34
CHART_PAD_RIGHT = 12
CHART_PAD_TOP = 12
CHART_PAD_BOTTOM = 26


# --- helpers ----------------------------------------------------------------------------------


def _can_reply(membership: ShopStaff) -> bool:
    return role_can(membership.role, REPLY_PERMISSION)


def _list_url(request: Any, anchor: str = "") -> str:
    """The rating list the form was posted from (its query string rides on the action URL)."""
    query = request.GET.urlencode()
    return reverse("seller:ratings") + (f"?{query}" if query else "") + anchor


def _change_allowed(rating: Rating, user: Any, now: Any) -> bool:
    return services.rating_may_change(rating, user) and services.rating_changeable(rating)


def _dsr_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for dim in summary["dsr"]:
        rows.append({**dim, "label": DSR_LABELS.get(dim["name"], dim["name"])})
    return rows


# --- 评价管理: the list with its tabs ----------------------------------------------------------


def _ratings_page(
    request: Any,
    membership: ShopStaff,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    values: dict[int, str] | None = None,
    status: int = 200,
):
    actor = request.user
    tab = request.GET.get("tab", "received")
    if tab not in dict(TABS):
        tab = "received"
    kind = request.GET.get("kind", "all")
    if kind not in dict(RECEIVED_FILTERS):
        kind = "all"
    now = clock.now()
    received_counts = {
        name: selectors.ratings_for_shop(actor=actor, kind=name).count()
        for name, _label in RECEIVED_FILTERS
    }
    to_rate_qs = selectors.orders_to_rate_by_shop(actor=actor)
    given_qs = selectors.ratings_for_shop(actor=actor, role=RatingRole.SELLER)
    counts = {
        "received": received_counts["all"],
        "to_rate": to_rate_qs.count(),
        "given": given_qs.count(),
    }
    if tab == "received":
        qs = selectors.ratings_for_shop(actor=actor, kind=kind).select_related("line")
    elif tab == "to_rate":
        qs = to_rate_qs
    else:
        qs = given_qs.select_related("line", "author")
    page = page_of(qs, request.GET.get("page"), page_size=PAGE_SIZE)
    rows = list(page.object_list)
    if tab == "received":
        for rating in rows:
            rating.reply_error = (errors or {}).get(rating.pk, {}).get("text", "")
            rating.reply_value = (values or {}).get(rating.pk, "")
    if tab == "given":
        for rating in rows:
            rating.can_change = _can_reply(membership) and _change_allowed(rating, actor, now)
    if tab == "to_rate":
        for order in rows:
            order.unrated_lines = [
                line for line in order.lines.all() if line.refunded_fen < line.paid_fen
            ]
    summary = selectors.shop_rating_summary(shop=membership.shop)
    return seller_render(
        request,
        "seller/ratings.html",
        {
            "tab": tab,
            "tabs": [
                {"tab": name, "label": label, "on": name == tab, "count": counts[name]}
                for name, label in TABS
            ],
            "kind": kind,
            "filters": [
                {"kind": name, "label": label, "on": name == kind, "count": received_counts[name]}
                for name, label in RECEIVED_FILTERS
            ],
            "page": page,
            "rows": rows,
            "summary": summary,
            "dsr_rows": _dsr_rows(summary),
            "can_reply": _can_reply(membership),
            "reply_max": rule("rating_text_length_max"),
            "query": request.GET.urlencode(),
            "voided": ReviewStatus.VOIDED,
            "now": now,
        },
        active="ratings",
        membership=membership,
        status=status,
    )


@seller_page("order.view")
def ratings(request, membership: ShopStaff):
    return _ratings_page(request, membership)


@require_POST
@seller_page(REPLY_PERMISSION)
def rating_reply(request, membership: ShopStaff, rating_id: int):
    rating = selectors.rating_get_for_shop(actor=request.user, rating_id=rating_id)  # 404
    text = request.POST.get("text", "")
    try:
        services.rating_reply(actor=request.user, rating_id=rating.pk, text=text)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        if not exc.extra.get("fields"):  # e.g. replied already: the list shows the reply
            messages.error(request, str(exc.message))
            return redirect(_list_url(request, f"#rating-{rating.pk}"))
        fields = form_errors(exc)
        message = fields.get("text") or next(iter(fields.values()))
        return _ratings_page(
            request,
            membership,
            errors={rating.pk: {"text": message}},
            values={rating.pk: text[: rule("rating_text_length_max") * 2]},
            status=400,
        )
    messages.success(request, _("Reply published. Buyers see it under the review."))
    return redirect(_list_url(request, f"#rating-{rating.pk}"))


@require_POST
@seller_page(REPLY_PERMISSION)
def rating_change(request, membership: ShopStaff, rating_id: int):
    rating = selectors.rating_get_for_shop(actor=request.user, rating_id=rating_id)  # 404
    to = request.POST.get("to", "")
    try:
        services.rating_change(actor=request.user, rating_id=rating.pk, to=to)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        messages.error(request, str(exc.message))
    else:
        if to == "positive":
            messages.success(request, _("The rating was changed to positive."))
        else:
            messages.success(request, _("The rating was removed."))
    return redirect(_list_url(request, f"#rating-{rating.pk}"))


# --- rating a buyer ---------------------------------------------------------------------------


def _rate_page(
    request: Any,
    membership: ShopStaff,
    order: Any,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    form_error: str = "",
    values: dict[int, dict[str, str]] | None = None,
    status: int = 200,
):
    state = selectors.order_rating_state(order=order, role=RatingRole.SELLER)
    values = values or {}
    lines = []
    for line, rating in state["lines"]:
        lines.append(
            {
                "line": line,
                "rating": rating,
                "score": (values.get(line.pk) or {}).get("score", "positive"),
                "text": (values.get(line.pk) or {}).get("text", ""),
                "errors": (errors or {}).get(line.pk) or {},
            }
        )
    return seller_render(
        request,
        "seller/rate_buyer.html",
        {
            "order": order,
            "state": state,
            "lines": lines,
            "buyer": order.buyer,
            "buyer_summary": selectors.buyer_rating_summary(user_id=order.buyer_id),
            "can_reply": _can_reply(membership),
            "score_choices": SCORE_CHOICES,
            "text_max": rule("rating_text_length_max"),
            "form_error": form_error,
        },
        active="ratings",
        membership=membership,
        status=status,
    )


@seller_page("order.view")
def rate_buyer(request, membership: ShopStaff, order_id: int):
    order = selectors.order_for_seller_rating(actor=request.user, order_id=order_id)
    if request.method != "POST":
        return _rate_page(request, membership, order)
    # writing needs the reply permission: a warehouse account gets the 403 page
    shop_require(request.user, REPLY_PERMISSION)
    state = selectors.order_rating_state(order=order, role=RatingRole.SELLER)
    items, values = [], {}
    for line in state["unrated"]:
        score = request.POST.get(f"score_{line.pk}", "")
        text = request.POST.get(f"text_{line.pk}", "")
        values[line.pk] = {"score": score, "text": text[: rule("rating_text_length_max") * 2]}
        items.append({"line_id": line.pk, "score": score, "text": text})
    try:
        services.seller_rate(actor=request.user, order_id=order.pk, ratings=items)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        errors: dict[int, dict[str, str]] = {}
        form_error = ""
        for name, message in form_errors(exc).items():
            parts = name.split(".")
            n = int(parts[1]) if len(parts) == 3 and parts[1].isdecimal() else -1
            if parts[0] == "ratings" and 0 <= n < len(items):
                errors.setdefault(items[n]["line_id"], {})[parts[2]] = message
            else:
                form_error = message
        return _rate_page(
            request,
            membership,
            order,
            errors=errors,
            form_error=form_error,
            values=values,
            status=400,
        )
    messages.success(request, _("Thank you. Your rating of the buyer is recorded."))
    return redirect(reverse("seller:ratings") + "?tab=given")


# --- 店铺质量分 ---------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _part_value(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name == "dsr":
        return _("%(stars)s stars") % {"stars": f"{value:.2f}"}
    if name in ("refund_rate", "dispute_rate"):
        return _percent(float(value))
    if name == "shipping_speed":
        return _("%(hours)s hours on average") % {"hours": f"{value:.1f}"}
    if name == "violations":
        return ngettext("%(n)d point", "%(n)d points", int(value)) % {"n": int(value)}
    return str(value)


def _quality_rows(parts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    present = sum(weight for name, weight in services.QUALITY_WEIGHTS.items() if name in parts)
    rows = []
    for name, weight in services.QUALITY_WEIGHTS.items():
        part = parts.get(name)
        rows.append(
            {
                "name": name,
                "label": QUALITY_LABELS.get(name, name),
                "how": QUALITY_HOW.get(name, ""),
                "weight": weight,
                "share": round(weight / present * 100) if part and present else None,
                "value": _part_value(name, part.get("value")) if part else None,
                "mark": part.get("mark") if part else None,
                "pending": name == "response_time" and part is None,
            }
        )
    return rows


def _trend(history: list[Any]) -> dict[str, Any] | None:
    """The 30-day trend as SVG coordinates: one point per computed day, scores 0–100."""
    if not history:
        return None
    inner_w = CHART_WIDTH - CHART_PAD_LEFT - CHART_PAD_RIGHT
    inner_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    first = history[0].day
    span = max((history[-1].day - first).days, 1)
    points = []
    for row in history:
        x = CHART_PAD_LEFT + (row.day - first).days / span * inner_w
        if len(history) == 1:
            x = CHART_PAD_LEFT + inner_w / 2
        y = CHART_PAD_TOP + (100 - row.score) / 100 * inner_h
        points.append({"x": round(x, 1), "y": round(y, 1), "day": row.day, "score": row.score})
    grid = [
        {"y": round(CHART_PAD_TOP + (100 - v) / 100 * inner_h, 1), "label": v}
        for v in (0, 25, 50, 75, 100)
    ]
    bottom = CHART_PAD_TOP + inner_h
    if len(points) == 1:
        labels = [{**points[0], "anchor": "middle"}]
    else:  # the first, the middle and the last day, kept inside the chart
        picks = {0: "start", len(points) // 2: "middle"}
        picks[len(points) - 1] = "end"
        labels = [{**points[i], "anchor": anchor} for i, anchor in picks.items()]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "area": f"{points[0]['x']},{bottom} "
        + " ".join(f"{p['x']},{p['y']}" for p in points)
        + f" {points[-1]['x']},{bottom}",
        "grid": grid,
        "left": CHART_PAD_LEFT,
        "right": CHART_WIDTH - CHART_PAD_RIGHT,
        "label_y": CHART_HEIGHT - 8,
        "labels": labels,
    }


@seller_page("shop.view")
def quality(request, membership: ShopStaff):
    data = selectors.quality_for_shop(actor=request.user)
    latest = data["latest"]
    today = timezone.localtime(clock.now()).date()
    if latest is None:
        # views never write: the worker computes the score tonight; show today's parts live
        parts = services.quality_parts(shop_id=membership.shop_id)
        estimate = services.quality_score_of(parts) if parts else None
    else:
        parts, estimate = latest.parts or {}, None
    return seller_render(
        request,
        "seller/quality.html",
        {
            "latest": latest,
            "is_today": latest is not None and latest.day == today,
            "estimate": estimate,
            "rows": _quality_rows(parts),
            "trend": _trend(data["history"]),
            "history": data["history"],
        },
        active="quality",
        membership=membership,
    )
