"""Order reads for the seller center: a shop's own orders, for its staff.

Every function takes the acting user and checks the staff role in one place (shop_require),
so another shop's order looks missing (NotFound) and a role without "order.view" is refused.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.core.errors import NotFound
from jishi.orders.models import Order, OrderStatus, ShippingTemplate, order_reason_label
from jishi.shops.permissions import shop_require

SEARCH_LENGTH_MAX = 50
ORDER_ID_DIGITS_MAX = 18

# (tab, label): the status tabs of the seller's order list (已卖出的宝贝).
ORDER_TABS: tuple[tuple[str, Any], ...] = (
    ("all", _("All orders")),
    ("to_pay", _("Awaiting payment")),
    ("to_ship", _("Awaiting shipment")),
    ("shipped", _("Shipped")),
    ("completed", _("Completed")),
    ("closed", _("Closed")),
    ("late", _("Late shipment")),
)
_TAB_FILTERS: dict[str, Q] = {
    "all": Q(),
    "to_pay": Q(status=OrderStatus.WAIT_BUYER_PAY),
    "to_ship": Q(status=OrderStatus.WAIT_SELLER_SEND_GOODS),
    "shipped": Q(status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS),
    "completed": Q(status=OrderStatus.TRADE_FINISHED),
    "closed": Q(status__in=(OrderStatus.TRADE_CLOSED_BY_SYSTEM, OrderStatus.TRADE_CLOSED)),
    "late": Q(late_shipment_at__isnull=False),
}


def order_search_filter(q: str) -> Q:
    """Digits: the order number (or a buyer whose username is exactly that); otherwise part of
    the recipient's name or of the buyer's username."""
    q = q.strip()[:SEARCH_LENGTH_MAX]
    if not q:
        return Q()
    if q.isdecimal() and len(q) <= ORDER_ID_DIGITS_MAX:
        return Q(pk=int(q)) | Q(buyer__username__iexact=q)
    return Q(recipient__icontains=q) | Q(buyer__username__icontains=q)


def order_list_for_shop(
    *,
    actor: User,
    tab: str = "all",
    q: str = "",
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[Order]:
    """The shop's orders, newest first, with buyer and lines loaded for the list page."""
    membership = shop_require(actor, "order.view")
    qs = Order.objects.filter(shop_id=membership.shop_id).filter(
        _TAB_FILTERS.get(tab, Q()), order_search_filter(q)
    )
    if created_from is not None:
        qs = qs.filter(created_at__date__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__date__lte=created_to)
    return qs.select_related("buyer").prefetch_related("lines").order_by("-id")


def order_tab_counts_for_shop(*, actor: User) -> dict[str, int]:
    """How many orders each tab holds (one query)."""
    membership = shop_require(actor, "order.view")
    aggregates = {tab: Count("pk", filter=condition) for tab, condition in _TAB_FILTERS.items()}
    return Order.objects.filter(shop_id=membership.shop_id).aggregate(**aggregates)


def order_get_for_shop(*, actor: User, order_id: Any) -> Order:
    """One of the shop's orders; another shop's order (or none) is NotFound."""
    membership = shop_require(actor, "order.view")
    order = None
    if str(order_id).isdecimal() and len(str(order_id)) <= ORDER_ID_DIGITS_MAX:
        order = (
            Order.objects.filter(pk=int(order_id), shop_id=membership.shop_id)
            .select_related("buyer", "shop")
            .prefetch_related("lines")
            .first()
        )
    if order is None:
        raise NotFound(message=_("Order not found."))
    return order


def shipping_template_for_shop(*, actor: User) -> ShippingTemplate | None:
    membership = shop_require(actor, "shop.edit")
    return ShippingTemplate.objects.filter(shop_id=membership.shop_id).first()


# --- the order's timeline (shared by the seller and console pages) ------------------------------


@dataclass(frozen=True)
class TimelineStep:
    label: Any
    at: datetime | None  # when it happened (None: not yet)
    deadline: datetime | None = None  # for a step still to come: by when
    deadline_label: Any = ""
    state: str = "todo"  # done | current | todo | closed | late


def order_timeline(order: Order) -> list[TimelineStep]:
    """Placed → paid → shipped → finished (or closed), with the deadline of the next step."""
    status = order.status
    steps = [TimelineStep(_("Order placed"), order.created_at, state="done")]
    if order.paid_at:
        steps.append(TimelineStep(_("Paid (money held in escrow)"), order.paid_at, state="done"))
    elif status == OrderStatus.WAIT_BUYER_PAY:
        steps.append(
            TimelineStep(
                _("Buyer pays"),
                None,
                order.pay_deadline,
                _("Closes unpaid at"),
                state="current",
            )
        )
    if order.late_shipment_at:
        steps.append(
            TimelineStep(_("Flagged as late shipment"), order.late_shipment_at, state="late")
        )
    if order.shipped_at:
        steps.append(TimelineStep(_("Shipped"), order.shipped_at, state="done"))
    elif status == OrderStatus.WAIT_SELLER_SEND_GOODS:
        steps.append(
            TimelineStep(
                _("Seller ships"), None, order.ship_deadline, _("Ship before"), state="current"
            )
        )
    if order.finished_at:
        steps.append(
            TimelineStep(_("Receipt confirmed, money released"), order.finished_at, state="done")
        )
    elif status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS:
        steps.append(
            TimelineStep(
                _("Buyer confirms receipt"),
                None,
                order.confirm_deadline,
                _("Confirmed automatically at"),
                state="current",
            )
        )
    if order.closed_at:
        steps.append(TimelineStep(_("Closed"), order.closed_at, state="closed"))
    return steps


def close_reason_label(reason: str) -> str:
    """See jishi.orders.models.OrderReason (the one list of reason labels)."""
    return order_reason_label(reason)


@dataclass(frozen=True)
class ProgressStep:
    label: Any
    state: str  # done | on | todo


_PROGRESS = (
    _("Order placed"),
    _("Buyer paid"),
    _("Seller shipped"),
    _("Receipt confirmed"),
)
_PROGRESS_REACHED = {
    OrderStatus.WAIT_BUYER_PAY: 1,
    OrderStatus.WAIT_SELLER_SEND_GOODS: 2,
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: 3,
    OrderStatus.TRADE_FINISHED: 4,
}


def order_progress(order: Order) -> list[ProgressStep]:
    """The step bar at the top of an order page; empty for a closed order."""
    reached = _PROGRESS_REACHED.get(order.status)
    if reached is None:
        return []
    return [
        ProgressStep(label, "done" if i < reached else ("on" if i == reached else "todo"))
        for i, label in enumerate(_PROGRESS)
    ]
