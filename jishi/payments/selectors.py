"""Money views for wallets and shop balances."""

from dataclasses import dataclass

from django.db.models import Case, F, OuterRef, Subquery, Sum, When
from django.utils.translation import gettext_lazy as _

from jishi.core.errors import NotFound
from jishi.ledger.models import Transfer, TransferFlag
from jishi.ledger.selectors import account_by_code, statement
from jishi.payments.models import ChannelOpStatus, TopUp, Withdrawal


@dataclass(frozen=True)
class Balance:
    balance_fen: int  # posted
    available_fen: int  # posted less withdrawals in progress


def wallet_balance(*, user_id: int) -> Balance:
    account = account_by_code(f"wallet:user:{user_id}")
    if account is None:
        return Balance(0, 0)
    return Balance(account.balance, account.available)


def wallet_statement(*, user_id: int):
    return statement(account=account_by_code(f"wallet:user:{user_id}"))


@dataclass(frozen=True)
class ShopMoney:
    pending_fen: int  # paid by buyers, held in escrow until receipt is confirmed
    available_fen: int  # released to the shop, can be withdrawn
    withdrawing_fen: int
    withdrawn_fen: int
    deposit_fen: int = 0  # 保证金, frozen
    owed_fen: int = 0  # paid by the platform for the shop, not yet recovered


def shop_money(*, shop_id: int) -> ShopMoney:
    from jishi.orders.models import PAID_STATUSES, Order

    pending = (
        Order.objects.filter(shop_id=shop_id, status__in=PAID_STATUSES).aggregate(
            s=Sum(F("total_fen") - F("refunded_fen"))
        )["s"]
        or 0
    )
    account = account_by_code(f"shop_available:shop:{shop_id}")
    withdrawals = Withdrawal.objects.filter(shop_id=shop_id)
    withdrawing = (
        withdrawals.filter(status=ChannelOpStatus.PENDING).aggregate(s=Sum("amount_fen"))["s"] or 0
    )
    withdrawn = (
        withdrawals.filter(status=ChannelOpStatus.SUCCEEDED).aggregate(s=Sum("amount_fen"))["s"]
        or 0
    )
    deposit = account_by_code(f"shop_deposit:shop:{shop_id}")
    receivable = account_by_code(f"shop_receivable:shop:{shop_id}")
    return ShopMoney(
        pending_fen=pending,
        available_fen=account.available if account else 0,
        withdrawing_fen=withdrawing,
        withdrawn_fen=withdrawn,
        deposit_fen=deposit.balance if deposit else 0,
        owed_fen=receivable.balance if receivable else 0,
    )


def shop_statement(*, shop_id: int):
    return statement(account=account_by_code(f"shop_available:shop:{shop_id}"))


def topup_get_for_user(*, user, topup_id: object) -> TopUp:
    """One of the user's own top-ups; anyone else's id is NotFound."""
    topup = None
    if str(topup_id).isdecimal():
        topup = TopUp.objects.filter(pk=int(topup_id), user=user).first()
    if topup is None:
        raise NotFound(message=_("Top-up not found."))
    return topup


def withdrawals_for_user(*, user, limit: int = 10):
    """The user's latest wallet withdrawals (not the shop's), newest first."""
    return Withdrawal.objects.filter(user=user, shop__isnull=True).order_by("-id")[:limit]


def wallet_entries(*, user_id: int):
    """The wallet's statement as a buyer reads it, newest first: every posted transfer, and each
    withdrawal once (its pending reservation) with ``outcome`` = the flag that resolved it
    (post_pending / void_pending) or None while it is in progress. ``signed_amount`` is + for
    money in, − for money out."""
    account = account_by_code(f"wallet:user:{user_id}")
    if account is None:
        return Transfer.objects.none()
    resolution = Transfer.objects.filter(pending=OuterRef("pk")).values("flag")[:1]
    return (
        statement(account=account)
        .filter(flag__in=(TransferFlag.POSTED, TransferFlag.PENDING))
        .annotate(
            signed_amount=Case(
                When(credit_account_id=account.pk, then=F("amount")),
                default=-F("amount"),
            ),
            outcome=Subquery(resolution),
        )
    )
