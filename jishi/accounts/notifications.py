"""Kinds of notification, rendered in the reader's language; and the service that sends one."""

from typing import Any

from django.utils import translation
from django.utils.translation import gettext
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
    "late_shipment_compensated": (
        _("Compensation for late shipment"),
        _(
            "Order %(order)s was not shipped in time. The shop paid you ¥%(amount)s "
            "compensation into your wallet."
        ),
    ),
    "violation_recorded": (
        _("Violation recorded"),
        _("A violation was recorded against your shop: %(kind)s, %(points)s points."),
    ),
    "shop_charged": (
        _("Money recovered from your shop"),
        _(
            "The platform paid ¥%(amount)s for order %(order)s on your shop's behalf "
            "(%(reason)s). It is recovered from your balance, then your deposit, then "
            "your next income."
        ),
    ),
    "rating_received": (
        _("A buyer left a neutral or negative rating"),
        _(
            "A buyer rated order %(order)s neutral or negative. You may reply once, publicly, "
            "in the seller center."
        ),
    ),
    "rating_voided": (
        _("A rating was voided"),
        _("An operator voided a rating of order %(order)s from credit: %(reason)s"),
    ),
    "refund_requested": (
        _("New after-sales request"),
        _(
            "The buyer asked for %(kind)s of ¥%(amount)s on order %(order)s. "
            "Answer by %(deadline)s."
        ),
    ),
    "refund_agreed": (
        _("After-sales request agreed"),
        _(
            "The shop agreed to your request on order %(order)s. Ship the goods back within "
            "%(days)s days to: %(address)s"
        ),
    ),
    "refund_refused": (
        _("After-sales request refused"),
        _(
            "The shop refused your request on order %(order)s: %(reason)s. You may revise it "
            "or ask the platform to step in by %(deadline)s."
        ),
    ),
    "refund_return_shipped": (
        _("Return shipped"),
        _("The buyer shipped the return for order %(order)s: %(carrier)s %(tracking)s."),
    ),
    "refund_succeeded": (
        _("Refund completed"),
        _("¥%(amount)s for order %(order)s went back to your wallet."),
    ),
    "refund_closed": (
        _("After-sales request closed"),
        _("The after-sales request on order %(order)s was closed: %(reason)s"),
    ),
    "exchange_shipped": (
        _("Replacement shipped"),
        _("The replacement for order %(order)s was shipped: %(carrier)s %(tracking)s."),
    ),
    "dispute_opened": (
        _("The platform is stepping in"),
        _(
            "The platform was asked to step in on the after-sales request of order %(order)s. "
            "Add your evidence on the case page."
        ),
    ),
    "dispute_evidence": (
        _("Evidence phase started"),
        _("An operator took the case of order %(order)s. Add your evidence by %(deadline)s."),
    ),
    "dispute_ruled": (
        _("The platform ruled"),
        _("The platform ruled on the case of order %(order)s: %(outcome)s. %(reason)s"),
    ),
    "dispute_withdrawn": (
        _("Intervention withdrawn"),
        _("The request for the platform to step in on order %(order)s was withdrawn."),
    ),
    "advance_paid": (
        _("Advance compensation paid"),
        _(
            "The platform paid you ¥%(amount)s for order %(order)s at once; it recovers the "
            "amount from the shop."
        ),
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


def english_label(label: Any) -> str:
    """A label as its English msgid, for a notification parameter: it is translated when the
    notification is shown, in the reader's language, not the sender's."""
    with translation.override("en"):
        return str(label)


def _render(template: Any, params: dict[str, Any]) -> str:
    # Parameters that are labels (a refund kind, a ruling) are stored as their English msgid
    # and translated here, in the reader's language; other text passes through unchanged.
    params = {k: gettext(v) if isinstance(v, str) and v else v for k, v in params.items()}
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
