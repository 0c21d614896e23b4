"""Ratings timers: when an order's rating window ends, the silent sides' default positive
ratings are written (each order in its own short transaction, see ``orders.timers``); once a
day each shop's quality score is computed."""

import logging

from django.db import transaction
from django.db.models import Q

from jishi.core import clock
from jishi.orders.locks import lock_order
from jishi.orders.models import Order
from jishi.ratings.models import ShopQuality
from jishi.ratings.services import clock_local, quality_compute, ratings_default
from jishi.shops.models import Shop

log = logging.getLogger("jishi.timers")
BATCH_SIZE = 200


def _handle_one(order_id: int) -> bool:
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.rate_deadline is None or order.rate_deadline > clock.now():
            return False  # handled meanwhile
        ratings_default(order=order)
        return True


def ratings_sweep(*, batch_size: int = BATCH_SIZE, scope: Q | None = None) -> int:
    """Close every due rating window once; returns how many orders were handled. ``scope``
    narrows the sweep (the rehearsal sweeps only its own orders)."""
    due = Order.objects.filter(rate_deadline__lte=clock.now())
    if scope is not None:
        due = due.filter(scope)
    ids = list(due.order_by("rate_deadline", "pk").values_list("pk", flat=True)[:batch_size])
    handled = 0
    for order_id in ids:
        try:
            handled += _handle_one(order_id)
        except Exception:  # one bad order must not stop the sweep
            log.exception("rating timer failed for order %s", order_id)
    return handled


def quality_sweep(*, batch_size: int = BATCH_SIZE) -> int:
    """Compute today's quality score for shops that have none yet."""
    today = clock_local(clock.now()).date()
    done = ShopQuality.objects.filter(day=today).values("shop_id")
    ids = list(Shop.objects.exclude(pk__in=done).order_by("pk").values_list("pk", flat=True))
    for shop_id in ids[:batch_size]:
        try:
            quality_compute(shop_id=shop_id, day=today)
        except Exception:
            log.exception("quality score failed for shop %s", shop_id)
    return min(len(ids), batch_size)
