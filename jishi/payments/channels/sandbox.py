"""The sandbox bank: a stand-in payment channel for demos and tests. No real money moves.

It behaves like a real channel: the payer approves a top-up on the sandbox bank's page, and
the bank confirms with a callback signed with HMAC-SHA256; payouts are confirmed the same
way, asynchronously (through the outbox). The UI always labels it as a sandbox.
"""

import hashlib
import hmac
import json
import secrets
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.payments.channels import CallbackEvent, channel_register
from jishi.payments.errors import PaymentError

NAME = "sandbox"


def _secret() -> bytes:
    explicit = getattr(settings, "JISHI_SANDBOX_BANK_SECRET", "")
    return (explicit or f"sandbox-bank:{settings.SECRET_KEY}").encode()


def sign(body: bytes) -> str:
    return hmac.new(_secret(), body, hashlib.sha256).hexdigest()


def event_body(*, kind: str, reference: int, status: str, amount_fen: int) -> bytes:
    """The bank's callback body for an event (what its server would POST to us)."""
    return json.dumps(
        {
            "kind": kind,
            "reference": reference,
            "status": status,
            "amount_fen": amount_fen,
            "bank_ref": f"SBX{secrets.token_hex(8).upper()}",
            "sent_at": clock.now().isoformat(),
        },
        sort_keys=True,
    ).encode()


class SandboxBank:
    name = NAME
    is_sandbox = True

    def topup_url(self, topup: Any) -> str:
        return reverse("payments:sandbox_topup", args=[topup.pk])

    def payout_submit(self, withdrawal: Any) -> None:
        """The sandbox bank pays out at once and calls back, as a real bank would later."""
        from jishi.payments.services import callback_receive

        body = event_body(
            kind="payout",
            reference=withdrawal.pk,
            status="succeeded",
            amount_fen=withdrawal.amount_fen,
        )
        callback_receive(channel=NAME, body=body, signature=sign(body))

    def callback_verify(self, body: bytes, signature: str) -> CallbackEvent:
        # Bytes, not str: compare_digest refuses a str with non-ASCII characters (a 500).
        given = (signature or "").encode("utf-8", errors="replace")
        if not hmac.compare_digest(sign(body).encode(), given):
            raise DomainError(
                PaymentError.SIGNATURE_INVALID, _("The callback signature is not valid.")
            )
        try:
            data = json.loads(body)
            event = CallbackEvent(
                kind=str(data["kind"]),
                reference=int(data["reference"]),
                status=str(data["status"]),
                amount_fen=int(data["amount_fen"]),
                channel_ref=str(data["bank_ref"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DomainError(
                PaymentError.CALLBACK_INVALID, _("The callback could not be read.")
            ) from exc
        if event.kind not in ("topup", "payout") or event.status not in ("succeeded", "failed"):
            raise DomainError(PaymentError.CALLBACK_INVALID, _("The callback could not be read."))
        return event


channel_register(SandboxBank())
