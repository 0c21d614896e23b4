"""Notification delivery backends (SMS, e-mail, app push plug in here).

Pick one with the JISHI_NOTIFICATION_BACKEND setting. The default logs; ConsoleBackend prints.
"""

import logging
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from jishi.core.outbox import outbox_handler

log = logging.getLogger("jishi.notifications")


class LogBackend:
    def deliver(self, notification: Any) -> None:
        log.info(
            "notify user=%s kind=%s %s", notification.user_id, notification.kind, notification.title
        )


class ConsoleBackend:
    def deliver(self, notification: Any) -> None:
        print(
            f"[notification] to {notification.user.username}: "
            f"{notification.title} — {notification.body}"
        )


class MemoryBackend:
    """Keeps what was delivered; for tests."""

    outbox: list[Any] = []

    def deliver(self, notification: Any) -> None:
        MemoryBackend.outbox.append(notification)


def backend() -> Any:
    return import_string(settings.JISHI_NOTIFICATION_BACKEND)()


@outbox_handler("notification.deliver")
def deliver_notification(payload: dict[str, Any]) -> None:
    from jishi.accounts.models import Notification

    notification = (
        Notification.objects.select_related("user").filter(pk=payload["notification_id"]).first()
    )
    if notification is not None:
        backend().deliver(notification)
