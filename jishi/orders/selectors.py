"""Order reads. Each takes the acting user and checks access in one place: another user's
order, group or cart item looks missing (NotFound)."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.catalog.models import ProductStatus
from jishi.core.errors import NotFound
from jishi.core.rules import rule
from jishi.orders.models import CartItem, Order, OrderGroup, OrderLine, OrderStatus
from jishi.shops.models import ShopStatus


def time_left(deadline: datetime, now: datetime) -> dict[str, int]:
    """The time from ``now`` to ``deadline`` (never negative), split into days, hours and
    minutes for the compact countdowns ("1天2小时3分")."""
    seconds = max(int((deadline - now).total_seconds()), 0)
    minutes = seconds // 60
    return {
        "seconds": seconds,
        "days": minutes // 1440,
        "hours": minutes // 60 % 24,
        "minutes": minutes % 60,
    }


# --- buyer: cart ------------------------------------------------------------------------------


def cart_items_for_user(*, user: User) -> list[CartItem]:
    """The buyer's cart, newest first, with each item's SKU, product, shop and images, and
    ``item.available`` (still on sale with stock) and ``item.stock``."""
    items = list(
        CartItem.objects.filter(user=user)
        .select_related("sku__product__shop")
        .prefetch_related("sku__product__images")
    )
    for item in items:
        sku = item.sku
        product = sku.product
        item.on_sale = (
            sku.is_active
            and product.status == ProductStatus.LISTED
            and product.shop.status == ShopStatus.OPEN
        )
        item.stock = sku.stock
        item.available = item.on_sale and sku.stock > 0
        item.line_fen = sku.price_fen * item.quantity
    return items


def cart_count(*, user: Any) -> int:
    """How many lines the cart holds (the number on the cart link)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return CartItem.objects.filter(user=user).count()


def cart_items_get(*, user: User, item_ids: list[int]) -> list[CartItem]:
    """Some of the buyer's own cart items (others' ids are ignored)."""
    return list(CartItem.objects.filter(user=user, pk__in=item_ids).select_related("sku"))


# --- buyer: orders ----------------------------------------------------------------------------

BUYER_TABS: dict[str, tuple[str, ...]] = {
    "all": (),
    "unpaid": (OrderStatus.WAIT_BUYER_PAY,),
    "unshipped": (OrderStatus.WAIT_SELLER_SEND_GOODS,),
    "shipped": (OrderStatus.WAIT_BUYER_CONFIRM_GOODS,),
    "finished": (OrderStatus.TRADE_FINISHED,),
    "closed": (OrderStatus.TRADE_CLOSED_BY_SYSTEM, OrderStatus.TRADE_CLOSED),
}


def _with_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.select_related("shop").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))
    )


def order_list_for_buyer(*, buyer: User, tab: str = "all") -> QuerySet[Order]:
    """The buyer's orders, newest first, narrowed to one of BUYER_TABS."""
    orders = Order.objects.filter(buyer=buyer)
    statuses = BUYER_TABS.get(tab, ())
    if statuses:
        orders = orders.filter(status__in=statuses)
    return _with_lines(orders).order_by("-id")


def order_counts_for_buyer(*, buyer: User) -> dict[str, int]:
    """Orders per tab (for the tab badges)."""
    by_status = {
        row["status"]: row["n"]
        for row in Order.objects.filter(buyer=buyer).values("status").annotate(n=Count("id"))
    }
    counts = {
        tab: sum(by_status.get(s, 0) for s in statuses)
        for tab, statuses in BUYER_TABS.items()
        if statuses
    }
    counts["all"] = sum(by_status.values())
    return counts


def order_get_for_buyer(*, buyer: User, order_id: Any) -> Order:
    """One of the buyer's own orders; another buyer's id is NotFound."""
    order = None
    if str(order_id).isdecimal():
        order = _with_lines(Order.objects.filter(pk=int(order_id), buyer=buyer)).first()
    if order is None:
        raise NotFound(message=_("Order not found."))
    return order


def group_get_for_buyer(*, buyer: User, group_id: Any) -> OrderGroup:
    """One of the buyer's own checkouts, with ``group.order_list`` (its orders and lines)."""
    group = None
    if str(group_id).isdecimal():
        group = OrderGroup.objects.filter(pk=int(group_id), buyer=buyer).first()
    if group is None:
        raise NotFound(message=_("Order not found."))
    group.order_list = list(_with_lines(group.orders.all()).order_by("pk"))
    group.payable = [o for o in group.order_list if o.status == OrderStatus.WAIT_BUYER_PAY]
    group.due_fen = sum(o.total_fen for o in group.payable)
    return group


def receipt_extend_allowed(*, order: Order, now: datetime) -> bool:
    """Whether the buyer may extend receipt now (the rule order_extend_receipt enforces)."""
    return (
        order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
        and not order.receipt_extended
        and order.confirm_deadline is not None
        and order.confirm_deadline - now <= timedelta(seconds=rule("receipt_extend_window_seconds"))
    )
