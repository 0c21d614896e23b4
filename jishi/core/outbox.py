"""Transactional outbox: side effects recorded with the change, delivered by the worker."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction

from jishi.core import clock
from jishi.core.models import OutboxMessage

log = logging.getLogger("jishi.outbox")

_handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
ATTEMPTS_MAX = 8


def outbox_handler(topic: str) -> Callable:
    def register(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        _handlers[topic] = fn
        return fn

    return register


def outbox_enqueue(*, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage.objects.create(topic=topic, payload=payload)


def _claim(batch_size: int) -> list[OutboxMessage]:
    qs = OutboxMessage.objects.filter(
        processed_at__isnull=True, available_at__lte=clock.now(), attempts__lt=ATTEMPTS_MAX
    ).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    return list(qs[:batch_size])


def outbox_drain(*, batch_size: int = 100) -> int:
    """Deliver due messages; returns how many were handled. Safe with many workers."""
    handled = 0
    with transaction.atomic():
        for message in _claim(batch_size):
            handler = _handlers.get(message.topic)
            try:
                if handler is None:
                    raise LookupError(f"no handler for {message.topic}")
                with transaction.atomic():
                    handler(message.payload)
            except Exception as exc:  # a failing handler must not stop the others
                log.exception("outbox message %s failed", message.pk)
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=message.attempts + 1,
                    last_error=repr(exc)[:2000],
                    available_at=clock.now() + timedelta(seconds=2 ** (message.attempts + 1)),
                )
                continue
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=message.attempts + 1, processed_at=clock.now()
            )
            handled += 1
    return handled
