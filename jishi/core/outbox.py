"""Transactional outbox: side effects recorded with the change, delivered by the worker.

Each message is delivered on its own: it is claimed with a short lease (SKIP LOCKED on
PostgreSQL, committed at once), and its handler runs in a transaction that also marks it
processed. So a handler's database effects and its "done" mark commit together, a worker killed
mid-way leaves the message to be retried when the lease ends, and no lock is held across
messages. Handlers must tolerate a repeat (an external call may have happened before a crash);
payment channels pass our own reference so the bank ignores a resubmission.

After ``ATTEMPTS_MAX`` failures a message is given up: its topic's ``on_give_up`` runs (a
payout is then failed and the reserved money returned) and the failure is logged.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from jishi.core import clock
from jishi.core.models import OutboxMessage

log = logging.getLogger("jishi.outbox")

Handler = Callable[[dict[str, Any]], None]
_handlers: dict[str, Handler] = {}
_give_up: dict[str, Handler] = {}
ATTEMPTS_MAX = 8
LEASE_SECONDS = 120  # longer than any handler should take


def outbox_handler(topic: str, *, on_give_up: Handler | None = None) -> Callable:
    def register(fn: Handler) -> Handler:
        _handlers[topic] = fn
        if on_give_up is not None:
            _give_up[topic] = on_give_up
        return fn

    return register


def outbox_enqueue(*, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage.objects.create(topic=topic, payload=payload)


def _claim_one() -> OutboxMessage | None:
    """Lease the oldest due message to this worker (committed before the handler runs)."""
    with transaction.atomic():
        now = clock.now()
        qs = OutboxMessage.objects.filter(
            processed_at__isnull=True, available_at__lte=now, attempts__lt=ATTEMPTS_MAX
        ).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        message = qs.first()
        if message is None:
            return None
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1, available_at=now + timedelta(seconds=LEASE_SECONDS)
        )
        message.attempts += 1
        return message


def _deliver(message: OutboxMessage) -> bool:
    handler = _handlers.get(message.topic)
    try:
        if handler is None:
            raise LookupError(f"no handler for {message.topic}")
        with transaction.atomic():
            handler(message.payload)
            OutboxMessage.objects.filter(pk=message.pk).update(processed_at=clock.now())
        return True
    except Exception as exc:  # a failing handler must not stop the others
        log.exception("outbox message %s (%s) failed", message.pk, message.topic)
        OutboxMessage.objects.filter(pk=message.pk).update(
            last_error=repr(exc)[:2000],
            available_at=clock.now() + timedelta(seconds=2**message.attempts),
        )
        if message.attempts >= ATTEMPTS_MAX:
            _give_up_on(message)
        return False


def _give_up_on(message: OutboxMessage) -> None:
    log.error(
        "outbox message %s (%s) given up after %s attempts",
        message.pk,
        message.topic,
        message.attempts,
    )
    fallback = _give_up.get(message.topic)
    if fallback is None:
        return
    try:
        with transaction.atomic():
            fallback(message.payload)
    except Exception:
        log.exception("giving up on outbox message %s failed too", message.pk)


def outbox_drain(*, batch_size: int = 100) -> int:
    """Deliver up to ``batch_size`` due messages; returns how many succeeded."""
    handled = 0
    for _i in range(batch_size):
        message = _claim_one()
        if message is None:
            break
        handled += _deliver(message)
    return handled
