"""Ledger API for finance operators: the reconciliation report and the accounts.

Both need the operator permission "ledger.view" (finance and admin roles); 403 otherwise.
"""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from jishi.accounts.permissions import operator_require
from jishi.core.schemas import CappedLimitOffsetPagination, acting_user, auth_errors
from jishi.ledger import selectors
from jishi.ledger.check import ledger_check
from jishi.ledger.models import AccountKind

router = Router(tags=["ledger"])

PROBLEMS_SHOWN_MAX = 100


class CheckReportOut(Schema):
    ok: bool = Field(description="True when every balance and every order's money agrees.")
    accounts: int
    transfers: int
    orders: int
    total_debits: int
    total_credits: int
    problem_count: int
    problems: list[str] = Field(description=f"The first {PROBLEMS_SHOWN_MAX} problems found.")


class AccountOut(Schema):
    id: int
    code: str
    kind: str
    normal_side: str
    forbid_overdraft: bool
    owner_user_id: int | None
    owner_shop_id: int | None
    owner_order_id: int | None
    currency: str
    balance_fen: int = Field(description="Posted balance on the account's normal side.")
    available_fen: int = Field(description="Posted balance less pending debits.")
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    created_at: datetime

    @staticmethod
    def resolve_balance_fen(obj) -> int:
        return obj.balance

    @staticmethod
    def resolve_available_fen(obj) -> int:
        return obj.available


@router.get("/check", response={200: CheckReportOut, **auth_errors(403)})
def check(request: HttpRequest):
    """Recompute every balance from the transfers and every order's money (as
    ``jishi ledger check``). Reads the whole ledger: for operators, not for polling."""
    operator_require(acting_user(request), "ledger.view")
    report = ledger_check()
    return {
        "ok": report.ok,
        "accounts": report.accounts,
        "transfers": report.transfers,
        "orders": report.orders,
        "total_debits": report.total_debits,
        "total_credits": report.total_credits,
        "problem_count": len(report.problems),
        "problems": report.problems[:PROBLEMS_SHOWN_MAX],
    }


@router.get("/accounts", response={200: list[AccountOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def account_list(request: HttpRequest, kind: AccountKind | None = None):
    """Ledger accounts by id, optionally of one kind, with their four counters."""
    operator_require(acting_user(request), "ledger.view")
    return selectors.account_list(kind=kind or "")
