"""Ledger writes: open accounts, create transfers (single- or two-phase), resolve pending ones.

Rules enforced here, whatever the caller:
- amounts are positive integers of fen; debit and credit accounts differ;
- every transfer has an idempotency key: a replay with the same parameters returns the first
  transfer, a replay with different parameters is refused;
- touched accounts are locked in ascending id order (after the caller's order/stock locks);
- an account that forbids overdraft can never be driven below zero.
Callers run inside their own transaction; these functions open savepoints.
"""

import hashlib
import random
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from jishi.core.errors import Conflict, DomainError
from jishi.core.invariants import invariant
from jishi.ledger.errors import LedgerError
from jishi.ledger.models import Account, AccountKind, Side, Transfer, TransferFlag

# Hot platform accounts are split so that concurrent sales do not queue on one row.
HOT_ACCOUNT_SPLIT = 8


# --- accounts ---------------------------------------------------------------------------------


def _account(code: str, **fields: Any) -> Account:
    account = Account.objects.filter(code=code).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(code=code, **fields)
    except IntegrityError:  # opened concurrently by another request
        return Account.objects.get(code=code)


def wallet_account(user_id: int) -> Account:
    return _account(
        f"wallet:user:{user_id}",
        kind=AccountKind.WALLET,
        normal_side=Side.CREDIT,
        owner_user_id=user_id,
    )


def escrow_account(order_id: int) -> Account:
    return _account(
        f"escrow:order:{order_id}",
        kind=AccountKind.ESCROW,
        normal_side=Side.CREDIT,
        owner_order_id=order_id,
    )


def shop_available_account(shop_id: int) -> Account:
    return _account(
        f"shop_available:shop:{shop_id}",
        kind=AccountKind.SHOP_AVAILABLE,
        normal_side=Side.CREDIT,
        owner_shop_id=shop_id,
    )


def deposit_account(shop_id: int) -> Account:
    """The shop's deposit (保证金): frozen money the platform may claw back from."""
    return _account(
        f"shop_deposit:shop:{shop_id}",
        kind=AccountKind.SHOP_DEPOSIT,
        normal_side=Side.CREDIT,
        owner_shop_id=shop_id,
    )


def receivable_account(shop_id: int) -> Account:
    """What the shop owes the platform (an asset of the platform). It can never be credited
    below zero: the platform never collects more than it is owed."""
    return _account(
        f"shop_receivable:shop:{shop_id}",
        kind=AccountKind.SHOP_RECEIVABLE,
        normal_side=Side.DEBIT,
        owner_shop_id=shop_id,
    )


def commission_account() -> Account:
    """One of the platform commission sub-accounts, at random; reports sum them."""
    part = random.randrange(HOT_ACCOUNT_SPLIT)  # noqa: S311  load spreading, not security
    return _account(
        f"platform_commission:{part}",
        kind=AccountKind.PLATFORM_COMMISSION,
        normal_side=Side.CREDIT,
        forbid_overdraft=False,
    )


def clearing_account(channel: str) -> Account:
    """Money held at a payment channel (an asset); split like the commission account."""
    part = random.randrange(HOT_ACCOUNT_SPLIT)  # noqa: S311
    return _account(
        f"channel_clearing:{channel}:{part}",
        kind=AccountKind.CHANNEL_CLEARING,
        normal_side=Side.DEBIT,
        forbid_overdraft=False,
    )


# --- transfers --------------------------------------------------------------------------------


def _logical(account: Account) -> str:
    """An account's identity for idempotency: hot sub-accounts count as one account."""
    return (
        f"{account.kind}:{account.owner_user_id}:{account.owner_shop_id}:{account.owner_order_id}"
    )


def _request_hash(
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    order_id: int | None,
    flag: str,
    pending_id: int | None = None,
) -> str:
    parts = [_logical(debit), _logical(credit), str(amount), kind, str(order_id), flag]
    if pending_id is not None:  # phase two: which pending transfer it resolves is part of it
        parts.append(f"pending:{pending_id}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _replay(key: str, request_hash: str) -> Transfer | None:
    existing = Transfer.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise Conflict(
            LedgerError.IDEMPOTENCY_CONFLICT,
            _("This idempotency key was already used for a different request."),
            idempotency_key=key,
        )
    return existing


def _lock(*account_ids: int) -> dict[int, Account]:
    """Lock accounts FOR UPDATE in ascending id order (the global lock order)."""
    ids = sorted(set(account_ids))
    locked = {
        a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    invariant(len(locked) == len(ids), "ledger account missing")
    return locked


def _spendable(account: Account, *, as_debit: bool) -> int | None:
    """What the account can still give on this side, or None when it may go negative."""
    if not account.forbid_overdraft:
        return None
    if as_debit and account.normal_side == Side.CREDIT:
        return account.credits_posted - account.debits_posted - account.debits_pending
    if not as_debit and account.normal_side == Side.DEBIT:
        return account.debits_posted - account.credits_posted - account.credits_pending
    return None


def _check_cover(account: Account, amount: int, *, as_debit: bool) -> None:
    spendable = _spendable(account, as_debit=as_debit)
    if spendable is not None and spendable < amount:
        raise DomainError(
            LedgerError.INSUFFICIENT_FUNDS,
            _("Insufficient balance."),
            account=account.code,
            available=spendable,
            amount=amount,
        )


@transaction.atomic
def transfer_create(
    *,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    idempotency_key: str,
    order_id: int | None = None,
    memo: str = "",
    pending: bool = False,
) -> Transfer:
    """Move ``amount`` fen from ``debit`` to ``credit``; pending=True reserves it (phase one)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError(LedgerError.AMOUNT_INVALID, _("An amount is a positive number of fen."))
    if debit.pk == credit.pk:
        raise DomainError(LedgerError.SAME_ACCOUNT, _("A transfer needs two different accounts."))
    flag = TransferFlag.PENDING if pending else TransferFlag.POSTED
    request_hash = _request_hash(debit, credit, amount, kind, order_id, flag)
    if (existing := _replay(idempotency_key, request_hash)) is not None:
        return existing
    locked = _lock(debit.pk, credit.pk)
    # A concurrent twin may have committed while we waited for the locks.
    if (existing := _replay(idempotency_key, request_hash)) is not None:
        return existing
    _check_cover(locked[debit.pk], amount, as_debit=True)
    _check_cover(locked[credit.pk], amount, as_debit=False)
    if pending:
        Account.objects.filter(pk=debit.pk).update(debits_pending=F("debits_pending") + amount)
        Account.objects.filter(pk=credit.pk).update(credits_pending=F("credits_pending") + amount)
    else:
        Account.objects.filter(pk=debit.pk).update(debits_posted=F("debits_posted") + amount)
        Account.objects.filter(pk=credit.pk).update(credits_posted=F("credits_posted") + amount)
    return Transfer.objects.create(
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        flag=flag,
        kind=kind,
        order_id=order_id,
        memo=memo[:200],
    )


@transaction.atomic
def transfer_resolve(
    *, pending_id: int, post: bool, idempotency_key: str, kind: str | None = None
) -> Transfer:
    """Phase two: post (complete) or void (cancel) a pending transfer, exactly once."""
    pending = Transfer.objects.filter(pk=pending_id, flag=TransferFlag.PENDING).first()
    if pending is None:
        raise DomainError(LedgerError.PENDING_NOT_FOUND, _("Pending transfer not found."))
    flag = TransferFlag.POST_PENDING if post else TransferFlag.VOID_PENDING
    debit, credit = pending.debit_account, pending.credit_account
    kind = kind or pending.kind
    request_hash = _request_hash(
        debit, credit, pending.amount, kind, pending.order_id, flag, pending_id=pending.pk
    )
    if (existing := _replay(idempotency_key, request_hash)) is not None:
        return existing
    _lock(debit.pk, credit.pk)
    if (existing := _replay(idempotency_key, request_hash)) is not None:
        return existing
    if Transfer.objects.filter(pending=pending).exists():
        raise DomainError(
            LedgerError.PENDING_ALREADY_RESOLVED,
            _("This pending transfer was already completed or cancelled."),
        )
    amount = pending.amount
    debit_update = {"debits_pending": F("debits_pending") - amount}
    credit_update = {"credits_pending": F("credits_pending") - amount}
    if post:
        debit_update["debits_posted"] = F("debits_posted") + amount
        credit_update["credits_posted"] = F("credits_posted") + amount
    Account.objects.filter(pk=debit.pk).update(**debit_update)
    Account.objects.filter(pk=credit.pk).update(**credit_update)
    return Transfer.objects.create(
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        flag=flag,
        pending=pending,
        kind=kind,
        order_id=pending.order_id,
        memo=pending.memo,
    )
