"""After-sales timers: each case carries the deadline of its current status; the worker
acts on due cases, each in its own short transaction (see ``orders.timers``)."""

import logging

from django.db import transaction
from django.db.models import F, Q

from jishi.aftersales.locks import lock_case
from jishi.aftersales.models import OPEN_STATUSES, RefundCase
from jishi.aftersales.services import case_timeout
from jishi.core import clock

log = logging.getLogger("jishi.timers")
BATCH_SIZE = 200
TIMER_FAILURES_MAX = 5  # a case that keeps failing is left for an operator, not retried forever


def _due() -> Q:
    return Q(
        status__in=OPEN_STATUSES,
        deadline__lte=clock.now(),
        timer_failures__lt=TIMER_FAILURES_MAX,
    )


def _handle_one(case_id: int) -> bool:
    with transaction.atomic():
        case = lock_case(case_id=case_id)
        if not RefundCase.objects.filter(_due(), pk=case_id).exists():
            return False  # handled meanwhile, or no longer due
        case_timeout(case=case)
        return True


def cases_sweep(*, batch_size: int = BATCH_SIZE, scope: Q | None = None) -> int:
    """Fire every due case timer once; returns how many cases were handled. ``scope``
    narrows the sweep (the rehearsal sweeps only its own cases)."""
    due = RefundCase.objects.filter(_due())
    if scope is not None:
        due = due.filter(scope)
    ids = list(due.order_by("deadline", "pk").values_list("pk", flat=True)[:batch_size])
    handled = 0
    for case_id in ids:
        try:
            handled += _handle_one(case_id)
        except Exception:  # one bad case must not stop the sweep
            log.exception("refund timer failed for case %s", case_id)
            RefundCase.objects.filter(pk=case_id).update(timer_failures=F("timer_failures") + 1)
    return handled
