"""Money views for wallets and shop balances."""

from dataclasses import dataclass

from django.db.models import F, Sum

from jishi.ledger.selectors import account_by_code, statement
from jishi.payments.models import ChannelOpStatus, Withdrawal


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
    return ShopMoney(
        pending_fen=pending,
        available_fen=account.available if account else 0,
        withdrawing_fen=withdrawing,
        withdrawn_fen=withdrawn,
    )


def shop_statement(*, shop_id: int):
    return statement(account=account_by_code(f"shop_available:shop:{shop_id}"))
