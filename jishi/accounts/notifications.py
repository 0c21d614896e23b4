"""Kinds of notification, rendered in the reader's language; and the service that sends one."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from jishi.core.outbox import outbox_enqueue

KINDS: dict[str, tuple[Any, Any]] = {
    "password_changed": (
        _("Your login password was changed"),
        _("Your login password was changed at %(time)s. If it was not you, contact us at once."),
    ),
    "pin_set": (
        _("Payment PIN set"),
        _("A payment PIN was set for your account at %(time)s."),
    ),
    "pin_changed": (
        _("Payment PIN changed"),
        _("Your payment PIN was changed at %(time)s. If it was not you, contact us at once."),
    ),
    "pin_locked": (
        _("Payments locked"),
        _(
            "The payment PIN was entered wrongly %(attempts)s times. "
            "Payments are locked until %(until)s."
        ),
    ),
    "bank_card_changed": (
        _("Bank card changed"),
        _("Your withdrawal card was changed to %(bank)s %(card)s at %(time)s."),
    ),
    "verification_verified": (
        _("Real-name verification approved"),
        _("Your real-name verification was approved. You can now open a shop."),
    ),
    "verification_rejected": (
        _("Real-name verification rejected"),
        _("Your real-name verification was rejected: %(reason)s"),
    ),
    "shop_opened": (
        _("Your shop is open"),
        _("Your shop %(shop)s is open. List your first product in the seller center."),
    ),
    "staff_added": (
        _("You were added to a shop"),
        _("You are now %(role)s of the shop %(shop)s."),
    ),
    "product_taken_down": (
        _("Product taken down"),
        _("Your product %(title)s was taken down: %(reason)s"),
    ),
    "order_paid": (
        _("New paid order"),
        _("Order %(order)s was paid (¥%(amount)s). Ship it within %(hours)s hours."),
    ),
    "order_shipped": (
        _("Your order has shipped"),
        _("Order %(order)s was shipped: %(carrier)s %(tracking)s."),
    ),
    "order_late_shipment": (
        _("Shipment overdue"),
        _(
            "Order %(order)s was not shipped in time. Ship it now; the buyer may claim "
            "compensation."
        ),
    ),
    "order_finished": (
        _("Payment released"),
        _("Order %(order)s is complete: ¥%(amount)s is now in your available balance."),
    ),
    "order_refunded": (
        _("Order refunded"),
        _("Order %(order)s was refunded: ¥%(amount)s went back to your wallet."),
    ),
    "order_closed": (
        _("Order closed"),
        _("Order %(order)s was closed: it was not paid in time."),
    ),
    "topup_succeeded": (
        _("Wallet topped up"),
        _("¥%(amount)s was added to your wallet."),
    ),
    "withdrawal_requested": (
        _("Withdrawal requested"),
        _(
            "A withdrawal of ¥%(amount)s to %(bank)s %(card)s was requested at %(time)s. If it "
            "was not you, contact us at once."
        ),
    ),
    "withdrawal_done": (
        _("Withdrawal completed"),
        _("¥%(amount)s was paid out to %(bank)s %(card)s."),
    ),
    "withdrawal_failed": (
        _("Withdrawal failed"),
        _("The withdrawal of ¥%(amount)s failed and the money is back in your balance."),
    ),
    "api_token_created": (
        _("API token created"),
        _("An API token named %(name)s was created at %(time)s."),
    ),
}


def _render(template: Any, params: dict[str, Any]) -> str:
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(template)


def render_title(notification: Any) -> str:
    title, _body = KINDS.get(notification.kind, (notification.kind, ""))
    return _render(title, notification.params)


def render_body(notification: Any) -> str:
    _title, body = KINDS.get(notification.kind, ("", ""))
    return _render(body, notification.params)


def notify(*, user: Any, kind: str, params: dict[str, Any] | None = None, link: str = ""):
    """Write to the user's message box and queue delivery through the configured backend."""
    from jishi.accounts.models import Notification

    if kind not in KINDS:
        raise KeyError(f"unknown notification kind {kind!r}")
    notification = Notification.objects.create(user=user, kind=kind, params=params or {}, link=link)
    outbox_enqueue(topic="notification.deliver", payload={"notification_id": notification.pk})
    return notification
