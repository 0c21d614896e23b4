"""Payment channels. Each adapter fits `PaymentChannel`; real ones (Alipay, WeChat Pay, UnionPay)
plug in beside the sandbox bank by adding themselves to CHANNELS."""

from dataclasses import dataclass
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from jishi.core.errors import NotFound
from jishi.payments.errors import PaymentError


@dataclass(frozen=True)
class CallbackEvent:
    """What a verified callback says happened."""

    kind: str  # "topup" or "payout"
    reference: int  # our TopUp / Withdrawal id
    status: str  # "succeeded" or "failed"
    amount_fen: int
    channel_ref: str


class PaymentChannel(Protocol):
    name: str
    is_sandbox: bool

    def topup_url(self, topup) -> str:
        """Where the payer goes to pay a top-up."""

    def payout_submit(self, withdrawal) -> None:
        """Ask the bank to pay out a withdrawal; the result arrives as a callback."""

    def callback_verify(self, body: bytes, signature: str) -> CallbackEvent:
        """Check the signature and parse the event; raise DomainError when it is not genuine."""


CHANNELS: dict[str, PaymentChannel] = {}


def channel_register(channel: PaymentChannel) -> PaymentChannel:
    CHANNELS[channel.name] = channel
    return channel


def channel_get(name: str) -> PaymentChannel:
    channel = CHANNELS.get(name)
    if channel is None:
        raise NotFound(PaymentError.CHANNEL_UNKNOWN, _("Unknown payment channel."))
    return channel
