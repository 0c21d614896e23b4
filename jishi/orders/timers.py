"""Order timers. Each deadline is a column on the order; the worker sweeps due rows.

Every due order is handled in its own short transaction that locks the row with
SKIP LOCKED (PostgreSQL), re-checks that it is still due, and acts. Several workers can run at
once and any of them can be killed at any moment: an order is either fully handled or not
touched, and the next sweep picks it up.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q

from jishi.core import clock
from jishi.core.rules import rule
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import (
    order_auto_confirm,
    order_flag_late_shipment,
    order_flag_not_shipped,
    order_timeout_unpaid,
)

log = logging.getLogger("jishi.timers")
BATCH_SIZE = 200


def _due_unpaid() -> Q:
    return Q(status=OrderStatus.WAIT_BUYER_PAY, pay_deadline__lte=clock.now())


def _due_late_shipment() -> Q:
    return Q(
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        ship_deadline__lte=clock.now(),
        late_shipment_at__isnull=True,
    )


def _due_not_shipped() -> Q:
    grace = timedelta(seconds=rule("not_shipped_violation_seconds"))
    return Q(
        status=OrderStatus.WAIT_SELLER_SEND_GOODS,
        ship_deadline__lte=clock.now() - grace,
        late_shipment_at__isnull=False,
        not_shipped_at__isnull=True,
    )


def _due_auto_confirm() -> Q:
    return Q(status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS, confirm_deadline__lte=clock.now())


SWEEPS: list[tuple[str, Callable[[], Q], Callable[..., Order]]] = [
    ("unpaid_close", _due_unpaid, order_timeout_unpaid),
    ("late_shipment", _due_late_shipment, order_flag_late_shipment),
    ("not_shipped", _due_not_shipped, order_flag_not_shipped),
    ("auto_confirm", _due_auto_confirm, order_auto_confirm),
]


def _handle_one(order_id: int, due: Callable[[], Q], action: Callable[..., Order]) -> bool:
    with transaction.atomic():
        qs = Order.objects.filter(due(), pk=order_id)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        order = qs.first()
        if order is None:  # handled by another worker, or no longer due
            return False
        action(order=order)
        return True


def orders_sweep(*, batch_size: int = BATCH_SIZE, scope: Q | None = None) -> int:
    """Fire every due order timer once; returns how many orders were handled.

    ``scope`` narrows the sweep to some orders (the rehearsal sweeps only its own, so that its
    jumps of the clock never fire other orders' timers early)."""
    handled = 0
    for name, due, action in SWEEPS:
        due_orders = Order.objects.filter(due())
        if scope is not None:
            due_orders = due_orders.filter(scope)
        ids = list(due_orders.order_by("pk").values_list("pk", flat=True)[:batch_size])
        for order_id in ids:
            try:
                handled += _handle_one(order_id, due, action)
            except Exception:  # one bad order must not stop the sweep
                log.exception("timer %s failed for order %s", name, order_id)
    return handled
