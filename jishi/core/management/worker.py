"""The background loop behind `jishi worker` (and the one `jishi serve` runs beside the app).

Each tick drains the outbox; later capabilities add their timer sweeps to ``TICK_JOBS``.
Every job is safe to run in several workers at once (SKIP LOCKED on PostgreSQL).
"""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

from jishi.core.outbox import outbox_drain

log = logging.getLogger("jishi.worker")

TICK_JOBS: list[Callable[[], int]] = [outbox_drain]


def every(seconds: float) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """Run a housekeeping job at most once per ``seconds`` in this process."""

    def wrap(job: Callable[[], int]) -> Callable[[], int]:
        last = [float("-inf")]

        def throttled() -> int:
            now = time.monotonic()
            if now - last[0] < seconds:
                return 0
            last[0] = now
            job()
            return 0  # housekeeping does not count as work handled

        throttled.__name__ = job.__name__
        return throttled

    return wrap


def _idempotency_prune() -> int:
    from jishi.core.idempotency import idempotency_prune

    return idempotency_prune()


TICK_JOBS.append(every(3600)(_idempotency_prune))


def worker_tick() -> int:
    """Run every job once; returns how many items were handled in all."""
    handled = 0
    for job in TICK_JOBS:
        try:
            handled += job()
        except Exception:  # one failing job must not stop the loop
            log.exception("worker job %s failed", getattr(job, "__name__", job))
    return handled


def worker_loop(*, stop: threading.Event, idle_seconds: float = 1.0) -> None:
    while not stop.is_set():
        close_old_connections()
        handled = worker_tick()
        if not handled:
            stop.wait(idle_seconds)
    close_old_connections()


def worker_start_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=worker_loop, kwargs={"stop": stop}, name="jishi-worker", daemon=True
    ).start()
    return stop
