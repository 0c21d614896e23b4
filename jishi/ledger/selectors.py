"""Ledger reads: balances, statements, platform totals."""

from django.db.models import Q, QuerySet, Sum

from jishi.ledger.models import Account, AccountKind, Transfer, TransferFlag


def account_by_code(code: str) -> Account | None:
    return Account.objects.filter(code=code).first()


def balance_of(code: str) -> int:
    account = account_by_code(code)
    return account.balance if account else 0


def available_of(code: str) -> int:
    account = account_by_code(code)
    return account.available if account else 0


def statement(*, account: Account | None) -> QuerySet[Transfer]:
    """Every transfer touching the account, newest first (pending ones included)."""
    if account is None:
        return Transfer.objects.none()
    return Transfer.objects.filter(Q(debit_account=account) | Q(credit_account=account)).order_by(
        "-id"
    )


def kind_total(kind: str) -> int:
    """Posted balance of all accounts of a kind (sums hot sub-accounts)."""
    accounts = Account.objects.filter(kind=kind)
    totals = accounts.aggregate(dp=Sum("debits_posted"), cp=Sum("credits_posted"))
    debits, credits = totals["dp"] or 0, totals["cp"] or 0
    if kind == AccountKind.CHANNEL_CLEARING:
        return debits - credits
    return credits - debits


POSTING_FLAGS = (TransferFlag.POSTED, TransferFlag.POST_PENDING)


def account_list(*, kind: str = "") -> QuerySet[Account]:
    """Every account (or those of one kind), by id. Callers check the operator's role."""
    accounts = Account.objects.order_by("pk")
    return accounts.filter(kind=kind) if kind else accounts
