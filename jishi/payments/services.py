"""Wallet money in and out through payment channels: top-ups and withdrawals.

Top-up: the channel's signed callback posts clearing → wallet (once, whatever is replayed).
Withdrawal: a pending transfer reserves the amount at once (balance → clearing); the
channel's callback posts it when paid out or voids it when the payout failed.
"""

import uuid
from typing import Any

from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.notifications import notify
from jishi.accounts.selectors import bank_card_active
from jishi.accounts.services import payment_pin_verify
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import DomainError, field_error
from jishi.core.idempotency import scoped_idempotency_key
from jishi.core.invariants import invariant
from jishi.core.money import format_fen
from jishi.core.outbox import outbox_enqueue, outbox_handler
from jishi.core.rules import rule
from jishi.core.validation import clean_int
from jishi.ledger.models import Account, Transfer
from jishi.ledger.services import (
    clearing_account,
    deposit_account,
    receivable_account,
    shop_available_account,
    transfer_create,
    transfer_resolve,
    wallet_account,
)
from jishi.payments.channels import CallbackEvent, channel_get
from jishi.payments.errors import PaymentError
from jishi.payments.models import ChannelCallback, ChannelOpStatus, ShopDebt, TopUp, Withdrawal
from jishi.shops.models import Shop
from jishi.shops.permissions import shop_require


def _amount(value: Any, *, minimum: int, maximum: int) -> int:
    try:
        return clean_int(value, field="amount_fen", minimum=minimum, maximum=maximum)
    except DomainError as exc:
        raise field_error(
            "amount_fen",
            _("Enter an amount from ¥%(min)s to ¥%(max)s.")
            % {"min": format_fen(minimum), "max": format_fen(maximum)},
            PaymentError.AMOUNT_INVALID,
        ) from exc


# --- top-up -----------------------------------------------------------------------------------


@transaction.atomic
def topup_create(*, user: User, amount_fen: Any, channel: str = "sandbox") -> TopUp:
    """Start a top-up; the payer then pays at ``channel_get(channel).topup_url(topup)``."""
    channel_get(channel)
    amount = _amount(amount_fen, minimum=1, maximum=rule("topup_fen_max"))
    topup = TopUp.objects.create(user=user, amount_fen=amount, channel=channel)
    audit_record(actor=user, action="topup.create", obj=topup, after={"amount_fen": amount})
    return topup


def _apply_topup(event: CallbackEvent, channel: str) -> str:
    topup = TopUp.objects.select_for_update().filter(pk=event.reference, channel=channel).first()
    if topup is None or topup.amount_fen != event.amount_fen:
        raise DomainError(PaymentError.CALLBACK_INVALID, _("The callback does not match a top-up."))
    # Only success is final: a channel may report a failure and later the payment after all
    # (the payer was charged), and that money must reach the wallet.
    if topup.status == ChannelOpStatus.SUCCEEDED or (
        topup.status == ChannelOpStatus.FAILED and event.status == "failed"
    ):
        return f"duplicate: top-up already {topup.status}"
    topup.channel_ref = event.channel_ref
    topup.completed_at = clock.now()
    if event.status == "failed":
        topup.status = ChannelOpStatus.FAILED
        topup.save()
        return "top-up failed"
    topup.transfer = transfer_create(
        debit=clearing_account(channel),
        credit=wallet_account(topup.user_id),
        amount=topup.amount_fen,
        kind="topup",
        idempotency_key=f"topup:{topup.pk}",
    )
    topup.status = ChannelOpStatus.SUCCEEDED
    topup.save()
    audit_record(
        actor=None, action="topup.succeeded", obj=topup, after={"amount_fen": topup.amount_fen}
    )
    notify(
        user=topup.user,
        kind="topup_succeeded",
        link="/wallet/",
        params={"amount": format_fen(topup.amount_fen)},
    )
    return "top-up credited"


# --- withdrawal -------------------------------------------------------------------------------


def withdrawal_create(
    *,
    actor: User,
    amount_fen: Any,
    pin: str,
    source: str = "wallet",
    idempotency_key: str | None = None,
) -> Withdrawal:
    """Withdraw from the wallet (source="wallet") or, for a shop owner, from the shop's
    available balance (source="shop") to the owner's verified bank card."""
    if source == "shop":
        shop = shop_require(actor, "finance.withdraw").shop
        account = shop_available_account(shop.pk)
    elif source == "wallet":
        shop = None
        account = wallet_account(actor.pk)
    else:
        raise field_error("source", _("Withdraw from the wallet or the shop balance."))
    card = bank_card_active(user=actor)
    if card is None:
        raise DomainError(
            PaymentError.NO_BANK_CARD,
            _("Complete real-name verification to add a bank card first."),
        )
    amount = _amount(
        amount_fen, minimum=rule("withdraw_fen_min"), maximum=rule("sku_price_fen_max")
    )
    payment_pin_verify(user=actor, pin=pin)
    key = "withdraw:" + scoped_idempotency_key(actor.pk, idempotency_key or uuid.uuid4().hex)
    with transaction.atomic():
        pending = transfer_create(
            debit=account,
            credit=clearing_account("sandbox"),
            amount=amount,
            kind="withdrawal",
            idempotency_key=key,
            pending=True,
        )
        existing = Withdrawal.objects.filter(pending_transfer=pending).first()
        if existing is not None:  # a retry of the same request
            return existing
        withdrawal = Withdrawal.objects.create(
            user=actor,
            shop=shop,
            amount_fen=amount,
            channel="sandbox",
            bank_name=card.bank_name,
            card_masked=card.card_masked,
            pending_transfer=pending,
        )
        outbox_enqueue(topic="payout.submit", payload={"withdrawal_id": withdrawal.pk})
        audit_record(
            actor=actor,
            action="withdrawal.create",
            obj=withdrawal,
            after={"amount_fen": amount, "source": source},
        )
        notify(
            user=actor,
            kind="withdrawal_requested",
            link="/wallet/",
            params={
                "amount": format_fen(amount),
                "bank": card.bank_name,
                "card": card.card_masked,
                "time": formats.date_format(clock.now(), "Y-m-d H:i"),
            },
        )
    return withdrawal


def _payout_give_up(payload: dict[str, Any]) -> None:
    """The channel could not take the payout after every retry: fail it, money back."""
    withdrawal = Withdrawal.objects.filter(pk=payload["withdrawal_id"]).first()
    if withdrawal is None or withdrawal.status != ChannelOpStatus.PENDING:
        return
    _apply_payout(
        CallbackEvent(
            kind="payout",
            reference=withdrawal.pk,
            status="failed",
            amount_fen=withdrawal.amount_fen,
            channel_ref="not-submitted",
        ),
        withdrawal.channel,
    )


@outbox_handler("payout.submit", on_give_up=_payout_give_up)
def _payout_submit(payload: dict[str, Any]) -> None:
    withdrawal = Withdrawal.objects.get(pk=payload["withdrawal_id"])
    if withdrawal.status == ChannelOpStatus.PENDING:
        channel_get(withdrawal.channel).payout_submit(withdrawal)


def _apply_payout(event: CallbackEvent, channel: str) -> str:
    withdrawal = (
        Withdrawal.objects.select_for_update().filter(pk=event.reference, channel=channel).first()
    )
    if withdrawal is None or withdrawal.amount_fen != event.amount_fen:
        raise DomainError(
            PaymentError.CALLBACK_INVALID, _("The callback does not match a withdrawal.")
        )
    if withdrawal.status != ChannelOpStatus.PENDING:
        return f"duplicate: withdrawal already {withdrawal.status}"
    succeeded = event.status == "succeeded"
    transfer_resolve(
        pending_id=withdrawal.pending_transfer_id,
        post=succeeded,
        idempotency_key=f"withdrawal:{withdrawal.pk}:{event.status}",
    )
    withdrawal.status = ChannelOpStatus.SUCCEEDED if succeeded else ChannelOpStatus.FAILED
    withdrawal.channel_ref = event.channel_ref
    withdrawal.completed_at = clock.now()
    withdrawal.save()
    audit_record(
        actor=None,
        action=f"withdrawal.{event.status}",
        obj=withdrawal,
        after={"amount_fen": withdrawal.amount_fen},
    )
    notify(
        user=withdrawal.user,
        kind="withdrawal_done" if succeeded else "withdrawal_failed",
        link="/wallet/",
        params={
            "amount": format_fen(withdrawal.amount_fen),
            "bank": withdrawal.bank_name,
            "card": withdrawal.card_masked,
        },
    )
    return f"withdrawal {event.status}"


# --- callbacks --------------------------------------------------------------------------------


def callback_receive(*, channel: str, body: bytes, signature: str) -> str:
    """Verify and apply a channel callback. Idempotent: a replay changes nothing. Every
    callback, genuine or not, is logged."""
    adapter = channel_get(channel)
    # Logged as text: PostgreSQL cannot store NUL characters, which anyone may send here.
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:10_000]
    logged_signature = (signature or "").replace("\x00", "\ufffd")[:128]
    try:
        event = adapter.callback_verify(body, signature)
    except DomainError as exc:
        ChannelCallback.objects.create(
            channel=channel, body=text, signature=logged_signature, valid=False, outcome=exc.code
        )
        raise
    try:
        with transaction.atomic():
            apply = _apply_topup if event.kind == "topup" else _apply_payout
            outcome = apply(event, channel)
            ChannelCallback.objects.create(
                channel=channel, body=text, signature=logged_signature, valid=True, outcome=outcome
            )
    except DomainError as exc:  # signed, but matches none of ours: log it outside the rollback
        ChannelCallback.objects.create(
            channel=channel, body=text, signature=logged_signature, valid=False, outcome=exc.code
        )
        raise
    return outcome


# --- deposit (保证金) and what shops owe the platform ----------------------------------------


def shop_money_lock(shop_id: int) -> None:
    """Serialise the money movements of one shop (balance, deposit, debts). Taken before
    any ledger account in a transaction that touches them, so that a release, a clawback, a
    deposit and a debt collection of the same shop never lock the shop's accounts (and the
    hot commission accounts) in opposite orders, which deadlocks. Lock order: order → case →
    stock → shop money → ledger. FOR NO KEY UPDATE: new rows pointing at the shop (orders,
    debts, cases) are not blocked."""
    Shop.objects.select_for_update(no_key=True).filter(pk=shop_id).values_list("pk").first()


def deposit_fund(
    *, actor: User, amount_fen: Any, pin: str, source: str = "wallet", idempotency_key: str = ""
) -> Transfer:
    """The shop owner pays into the shop's deposit from their wallet or the shop balance.
    Outstanding debts are collected from the new deposit at once."""
    shop = shop_require(actor, "finance.withdraw").shop
    if source == "wallet":
        account = wallet_account(actor.pk)
    elif source == "shop":
        account = shop_available_account(shop.pk)
    else:
        raise field_error(
            "source",
            _("Pay the deposit from the wallet or the shop balance."),
            PaymentError.DEPOSIT_SOURCE_INVALID,
        )
    amount = _amount(amount_fen, minimum=1, maximum=rule("sku_price_fen_max"))
    payment_pin_verify(user=actor, pin=pin)
    key = "deposit:" + scoped_idempotency_key(actor.pk, idempotency_key or uuid.uuid4().hex)
    with transaction.atomic():
        shop_money_lock(shop.pk)
        transfer = transfer_create(
            debit=account,
            credit=deposit_account(shop.pk),
            amount=amount,
            kind="deposit",
            idempotency_key=key,
        )
        audit_record(
            actor=actor,
            action="deposit.fund",
            obj=transfer,
            after={"amount_fen": amount, "source": source, "shop_id": shop.pk},
        )
        debts_collect(shop_id=shop.pk)
    return transfer


def shop_charge(
    *,
    shop_id: int,
    amount_fen: int,
    kind: str,
    credit: Account,
    transfer_kind: str,
    idempotency_key: str,
    order_id: int | None = None,
    note: str = "",
) -> ShopDebt:
    """The platform pays ``amount_fen`` into ``credit`` at once on the shop's behalf and
    recovers it: available balance first, then the deposit, the rest from the next income.
    Runs in the caller's transaction, after its order locks (debts, then ledger)."""
    invariant(amount_fen > 0, "a shop charge is a positive amount")
    shop_money_lock(shop_id)
    debt = ShopDebt.objects.filter(idempotency_key=idempotency_key).first()
    if debt is not None:  # a retry of the same charge
        return debt
    debt = ShopDebt.objects.create(
        shop_id=shop_id,
        order_id=order_id,
        kind=kind,
        amount_fen=amount_fen,
        note=note[:200],
        idempotency_key=idempotency_key,
    )
    transfer_create(
        debit=receivable_account(shop_id),
        credit=credit,
        amount=amount_fen,
        kind=transfer_kind,
        idempotency_key=idempotency_key,
        order_id=order_id,
    )
    debts_collect(shop_id=shop_id)
    return ShopDebt.objects.get(pk=debt.pk)


def debts_collect(*, shop_id: int) -> int:
    """Collect the shop's outstanding debts, oldest first, from its available balance and
    then its deposit; returns the fen collected. Called after every income of the shop."""
    shop_money_lock(shop_id)
    debts = list(
        ShopDebt.objects.select_for_update()
        .filter(shop_id=shop_id, settled_at__isnull=True)
        .order_by("pk")
    )
    if not debts:
        return 0
    receivable = receivable_account(shop_id)
    sources = [
        ("debt_collect", shop_available_account(shop_id)),
        ("debt_collect_deposit", deposit_account(shop_id)),
    ]
    collected = 0
    for debt in debts:
        for transfer_kind, source in sources:
            source.refresh_from_db()
            take = min(debt.outstanding_fen, max(source.available, 0))
            if take <= 0:
                continue
            transfer_create(
                debit=source,
                credit=receivable,
                amount=take,
                kind=transfer_kind,
                idempotency_key=f"debt:{debt.pk}:{transfer_kind}:{debt.recovered_fen}",
                order_id=None,
                memo=f"debt {debt.pk}",
            )
            debt.recovered_fen += take
            collected += take
        if debt.outstanding_fen == 0:
            debt.settled_at = clock.now()
        debt.save(update_fields=["recovered_fen", "settled_at"])
        if debt.outstanding_fen:
            break  # nothing left to collect from
    return collected
