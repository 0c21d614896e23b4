"""Row locks in the one global order: order group → orders → order lines → stock → ledger.

Every service that changes an order takes its locks through these helpers, sorted by id.
"""

from django.utils.translation import gettext_lazy as _

from jishi.core.errors import NotFound
from jishi.orders.models import Order, OrderGroup, OrderLine


def lock_group(*, group_id: int, buyer_id: int) -> OrderGroup:
    group = OrderGroup.objects.select_for_update().filter(pk=group_id, buyer_id=buyer_id).first()
    if group is None:
        raise NotFound(message=_("Order not found."))
    return group


def lock_orders(*, group: OrderGroup) -> list[Order]:
    return list(Order.objects.select_for_update().filter(group=group).order_by("pk"))


def lock_order(*, order_id: object, **owner: int) -> Order:
    """Lock one order; ``owner`` narrows it (buyer_id=… or shop_id=…) so another user's order
    looks missing. Its group is locked first to keep the global order."""
    if not str(order_id).isdecimal():
        raise NotFound(message=_("Order not found."))
    row = Order.objects.filter(pk=int(order_id), **owner).values("group_id").first()
    if row is None:
        raise NotFound(message=_("Order not found."))
    OrderGroup.objects.select_for_update().filter(pk=row["group_id"]).first()
    return Order.objects.select_for_update().get(pk=int(order_id))


def lock_lines(*, orders: list[Order]) -> list[OrderLine]:
    return list(OrderLine.objects.select_for_update().filter(order__in=orders).order_by("pk"))
