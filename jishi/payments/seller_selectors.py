"""Money reads for the seller center's finance page: the shop balance statement and the
shop's withdrawals. Access is checked here (owner only: "finance.withdraw")."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.ledger.models import Transfer, TransferFlag
from jishi.ledger.selectors import account_by_code, statement
from jishi.payments.models import ChannelOpStatus, Withdrawal
from jishi.payments.selectors import ShopMoney, shop_money
from jishi.shops.permissions import shop_require

TRANSFER_KINDS: dict[str, Any] = {
    "payment": _("Buyer payment into escrow"),
    "release": _("Order income (receipt confirmed)"),
    "commission": _("Platform commission"),
    "refund": _("Refund to the buyer"),
    "topup": _("Top-up"),
    "withdrawal": _("Withdrawal to bank card"),
    "deposit": _("Paid into the deposit"),
    "debt_collect": _("Recovered by the platform (refund, compensation)"),
    "debt_collect_deposit": _("Recovered from the deposit"),
    "commission_return": _("Commission returned for a refund"),
    "clawback": _("Refund after release, paid by the platform for the shop"),
    "advance": _("Advance compensation to the buyer"),
    "compensation": _("Late-shipment compensation to the buyer"),
}


def transfer_kind_label(kind: str) -> Any:
    return TRANSFER_KINDS.get(kind, kind)


@dataclass(frozen=True)
class StatementRow:
    transfer: Transfer
    label: Any
    amount_fen: int  # signed: + money in, − money out of the available balance
    state: str  # "" (final) | "processing" | "paid_out" | "failed" | "returned"


def shop_money_for_owner(*, actor: User) -> ShopMoney:
    membership = shop_require(actor, "finance.withdraw")
    return shop_money(shop_id=membership.shop_id)


def shop_statement_for_owner(*, actor: User) -> QuerySet[Transfer]:
    """The shop balance's transfers, newest first. A withdrawal shows once (its reserving
    transfer, with its outcome); a failed one shows a second row when the money came back."""
    membership = shop_require(actor, "finance.withdraw")
    account = account_by_code(f"shop_available:shop:{membership.shop_id}")
    return (
        statement(account=account)
        .exclude(flag=TransferFlag.POST_PENDING)
        .select_related("debit_account", "credit_account")
        .prefetch_related("resolutions")
    )


def statement_rows(*, actor: User, transfers: list[Transfer]) -> list[StatementRow]:
    """One page of the statement, each row signed as seen from the shop balance."""
    membership = shop_require(actor, "finance.withdraw")
    code = f"shop_available:shop:{membership.shop_id}"
    rows = []
    for transfer in transfers:
        incoming = transfer.credit_account.code == code
        state = ""
        label = transfer_kind_label(transfer.kind)
        if transfer.flag == TransferFlag.VOID_PENDING:
            incoming = not incoming  # the reserved money came back
            state = "returned"
            label = _("Withdrawal failed, money returned")
        elif transfer.flag == TransferFlag.PENDING:
            resolutions = list(transfer.resolutions.all())
            if not resolutions:
                state = "processing"
            elif resolutions[0].flag == TransferFlag.POST_PENDING:
                state = "paid_out"
            else:
                state = "failed"
        rows.append(
            StatementRow(
                transfer=transfer,
                label=label,
                amount_fen=transfer.amount if incoming else -transfer.amount,
                state=state,
            )
        )
    return rows


def shop_withdrawals_for_owner(*, actor: User) -> QuerySet[Withdrawal]:
    membership = shop_require(actor, "finance.withdraw")
    return Withdrawal.objects.filter(shop_id=membership.shop_id).order_by("-id")


WITHDRAWAL_STATUS_TAGS = {
    ChannelOpStatus.PENDING: "tag-warn",
    ChannelOpStatus.SUCCEEDED: "tag-ok",
    ChannelOpStatus.FAILED: "tag-danger",
}
