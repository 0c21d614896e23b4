"""Payments API: the wallet and its statement, top-ups and withdrawals through a payment
channel, the shop owner's balance, and the channels' signed callbacks.

Money is integer fen. Creating a top-up and withdrawing accept an ``Idempotency-Key`` header
(see jishi.core.idempotency). The callback endpoint is the only one without a login: the
channel's signature authenticates it.
"""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.core.idempotency import idempotent, service_key
from jishi.core.schemas import (
    PAGE_LIMIT_MAX,
    PAGE_OFFSET_MAX,
    CappedLimitOffsetPagination,
    Fen,
    Id,
    Text,
    acting_user,
    auth_errors,
    errors,
)
from jishi.payments import selectors, seller_selectors, services
from jishi.payments.channels import channel_get

router = Router(tags=["payments"])


# --- schemas ----------------------------------------------------------------------------------


class WalletOut(Schema):
    balance_fen: int = Field(description="Posted balance.")
    available_fen: int = Field(description="Balance less withdrawals in progress.")


class WalletEntryOut(Schema):
    id: int
    kind: str
    label: str
    amount_fen: int = Field(description="+ money in, − money out.")
    flag: str
    outcome: str | None = Field(
        description="For a withdrawal: post_pending (paid out), void_pending (failed, money "
        "back) or null while in progress."
    )
    order_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_label(obj) -> str:
        return str(seller_selectors.transfer_kind_label(obj.kind))

    @staticmethod
    def resolve_amount_fen(obj) -> int:
        return obj.signed_amount


class ShopStatementRowOut(Schema):
    id: int
    kind: str
    label: str
    amount_fen: int = Field(description="+ money in, − money out of the available balance.")
    state: str = Field(description='"", processing, paid_out, failed or returned.')
    order_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_id(obj) -> int:
        return obj.transfer.pk

    @staticmethod
    def resolve_kind(obj) -> str:
        return obj.transfer.kind

    @staticmethod
    def resolve_label(obj) -> str:
        return str(obj.label)

    @staticmethod
    def resolve_order_id(obj) -> int | None:
        return obj.transfer.order_id

    @staticmethod
    def resolve_created_at(obj) -> datetime:
        return obj.transfer.created_at


class TopUpIn(Schema):
    amount_fen: Fen
    channel: Text = "sandbox"


class TopUpOut(Schema):
    id: int
    amount_fen: int
    channel: str
    is_sandbox: bool
    status: str
    pay_url: str = Field(description="Where the payer approves the top-up.")
    created_at: datetime
    completed_at: datetime | None

    @staticmethod
    def resolve_is_sandbox(obj) -> bool:
        return channel_get(obj.channel).is_sandbox

    @staticmethod
    def resolve_pay_url(obj, context) -> str:
        url = channel_get(obj.channel).topup_url(obj)
        return context["request"].build_absolute_uri(url)


class WithdrawIn(Schema):
    amount_fen: Fen
    pin: Text
    source: Literal["wallet", "shop"] = Field(
        "wallet", description="The wallet, or (shop owners) the shop's available balance."
    )


class WithdrawalOut(Schema):
    id: int
    amount_fen: int
    source: str
    shop_id: int | None
    channel: str
    bank_name: str
    card_masked: str
    status: str
    created_at: datetime
    completed_at: datetime | None

    @staticmethod
    def resolve_source(obj) -> str:
        return "shop" if obj.shop_id else "wallet"


class ShopMoneyOut(Schema):
    pending_fen: int = Field(description="Paid by buyers, held in escrow until receipt.")
    available_fen: int = Field(description="Released to the shop; can be withdrawn.")
    withdrawing_fen: int
    withdrawn_fen: int
    deposit_fen: int = Field(description="The shop's deposit (保证金), frozen.")
    owed_fen: int = Field(description="Paid by the platform for the shop, not yet recovered.")


class CallbackOut(Schema):
    outcome: str


class ShopStatementPagination(CappedLimitOffsetPagination):
    """Capped paging whose page of transfers is turned into signed statement rows."""

    def paginate_queryset(self, queryset, pagination, request, **params) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page["items"] = seller_selectors.statement_rows(
            actor=acting_user(request), transfers=list(page["items"])
        )
        return page


# --- wallet -----------------------------------------------------------------------------------


@router.get("/wallet", response={200: WalletOut, **auth_errors()})
def wallet(request: HttpRequest):
    return selectors.wallet_balance(user_id=acting_user(request).pk)


@router.get("/wallet/statement", response={200: list[WalletEntryOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def wallet_statement(request: HttpRequest):
    """The wallet's money in and out, newest first; a withdrawal shows once with its outcome."""
    return selectors.wallet_entries(user_id=acting_user(request).pk)


@router.post("/topups", response={201: TopUpOut, **auth_errors(400, 404, 409)})
@idempotent("payment.topup_create", TopUpOut, 201)
def topup_create(request: HttpRequest, payload: TopUpIn):
    """Start a top-up; pay it at ``pay_url``. The channel's callback credits the wallet."""
    topup = services.topup_create(
        user=acting_user(request), amount_fen=payload.amount_fen, channel=payload.channel
    )
    return Status(201, topup)


@router.get("/topups/{topup_id}", response={200: TopUpOut, **auth_errors(404)})
def topup_detail(request: HttpRequest, topup_id: Id):
    return selectors.topup_get_for_user(user=acting_user(request), topup_id=topup_id)


@router.post("/withdrawals", response={201: WithdrawalOut, **auth_errors(400, 403, 404, 409, 423)})
@idempotent("payment.withdraw", WithdrawalOut, 201)
def withdrawal_create(request: HttpRequest, payload: WithdrawIn):
    """Withdraw to the verified bank card with the PIN; the amount is reserved at once and
    paid out by the channel."""
    withdrawal = services.withdrawal_create(
        actor=acting_user(request),
        amount_fen=payload.amount_fen,
        pin=payload.pin,
        source=payload.source,
        idempotency_key=service_key(request),
    )
    return Status(201, withdrawal)


@router.get("/withdrawals", response={200: list[WithdrawalOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def withdrawal_list(request: HttpRequest, source: Literal["wallet", "shop"] = "wallet"):
    """The caller's wallet withdrawals, or (``source=shop``, owner only) the shop's."""
    actor = acting_user(request)
    if source == "shop":
        return seller_selectors.shop_withdrawals_for_owner(actor=actor)
    return selectors.withdrawals_for_user(user=actor, limit=PAGE_OFFSET_MAX + PAGE_LIMIT_MAX)


# --- shop balance (owner only) ----------------------------------------------------------------


@router.get("/shop/balance", response={200: ShopMoneyOut, **auth_errors(403, 404)})
def shop_balance(request: HttpRequest):
    """The shop's money: pending in escrow, available, being withdrawn, withdrawn."""
    return seller_selectors.shop_money_for_owner(actor=acting_user(request))


@router.get("/shop/statement", response={200: list[ShopStatementRowOut], **auth_errors(403, 404)})
@paginate(ShopStatementPagination)
def shop_statement(request: HttpRequest):
    """The shop's available balance, entry by entry, newest first."""
    return seller_selectors.shop_statement_for_owner(actor=acting_user(request))


# --- channel callbacks ------------------------------------------------------------------------


@router.post("/callbacks/{channel}", auth=None, response={200: CallbackOut, **errors(400, 404)})
def channel_callback(request: HttpRequest, channel: Text):
    """A payment channel reports a top-up or payout. The raw body is signed by the channel
    (sandbox bank: HMAC-SHA256 in ``X-Sandbox-Signature``). A replay changes nothing and
    answers ``duplicate: …``; a bad signature is 400 ``callback_signature_invalid``."""
    adapter = channel_get(channel)
    header = getattr(adapter, "signature_header", f"X-{adapter.name.capitalize()}-Signature")
    outcome = services.callback_receive(
        channel=adapter.name, body=request.body, signature=request.headers.get(header, "")
    )
    return {"outcome": outcome}
