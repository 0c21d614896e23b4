"""`jishi ledger check`: recompute every balance from the transfers and every order's money.

Drift of any kind is reported; the command exits non-zero when there is any.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Sum

from jishi.ledger.models import Account, Side, Transfer, TransferFlag


@dataclass
class CheckReport:
    accounts: int = 0
    transfers: int = 0
    orders: int = 0
    total_debits: int = 0
    total_credits: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sums(column: str) -> dict[tuple[int, str], int]:
    rows = Transfer.objects.values(column, "flag").annotate(total=Sum("amount"))
    return {(row[column], row["flag"]): row["total"] for row in rows}


def _pending_resolved(column: str) -> dict[int, int]:
    """Per account, the amount of its pending transfers that were later posted or voided."""
    rows = (
        Transfer.objects.filter(flag__in=(TransferFlag.POST_PENDING, TransferFlag.VOID_PENDING))
        .values(column)
        .annotate(total=Sum("amount"))
    )
    return {row[column]: row["total"] for row in rows}


def _check_accounts(report: CheckReport) -> None:
    debits, credits = _sums("debit_account_id"), _sums("credit_account_id")
    debit_resolved = _pending_resolved("debit_account_id")
    credit_resolved = _pending_resolved("credit_account_id")
    posting = (TransferFlag.POSTED, TransferFlag.POST_PENDING)
    for account in Account.objects.order_by("pk").iterator():
        report.accounts += 1
        aid = account.pk
        expected = {
            "debits_posted": sum(debits.get((aid, f), 0) for f in posting),
            "credits_posted": sum(credits.get((aid, f), 0) for f in posting),
            "debits_pending": debits.get((aid, TransferFlag.PENDING), 0)
            - debit_resolved.get(aid, 0),
            "credits_pending": credits.get((aid, TransferFlag.PENDING), 0)
            - credit_resolved.get(aid, 0),
        }
        for name, value in expected.items():
            actual = getattr(account, name)
            if actual != value:
                report.problems.append(
                    f"account {account.code}: {name} is {actual}, transfers say {value}"
                )
        report.total_debits += account.debits_posted + account.debits_pending
        report.total_credits += account.credits_posted + account.credits_pending
        if account.forbid_overdraft:
            spendable = (
                account.credits_posted - account.debits_posted - account.debits_pending
                if account.normal_side == Side.CREDIT
                else account.debits_posted - account.credits_posted - account.credits_pending
            )
            if spendable < 0:
                report.problems.append(f"account {account.code} is overdrawn: {spendable}")
    if report.total_debits != report.total_credits:
        report.problems.append(
            f"ledger unbalanced: debits {report.total_debits} != credits {report.total_credits}"
        )
    report.transfers = Transfer.objects.count()


def _check_orders(report: CheckReport) -> None:
    from jishi.orders.models import FINAL_STATUSES, PAID_STATUSES, Order, OrderLine, OrderStatus

    money: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (
        Transfer.objects.filter(order_id__isnull=False)
        .values("order_id", "kind")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        money[row["order_id"]][row["kind"]] += row["total"]
    escrows = {a.owner_order_id: a.balance for a in Account.objects.filter(kind="escrow")}
    lines = {
        row["order_id"]: row
        for row in OrderLine.objects.values("order_id").annotate(
            refunded=Sum("refunded_fen"), commission=Sum("commission_fen")
        )
    }
    for order in Order.objects.order_by("pk").iterator():
        report.orders += 1
        m = money.get(order.pk, {})
        paid, advance = m.get("payment", 0), m.get("advance", 0)
        # Net of after-sales: a refund after release takes the commission share back
        # (commission_return) and the seller's share (clawback) into escrow first.
        released = m.get("release", 0) - m.get("clawback", 0) - advance
        commission = m.get("commission", 0) - m.get("commission_return", 0)
        refunded = m.get("refund", 0) + advance
        escrow = escrows.get(order.pk, 0)
        label = f"order {order.pk} ({order.status})"
        if paid != released + commission + refunded + escrow:
            report.problems.append(
                f"{label}: money not conserved: paid {paid} != released {released} + "
                f"commission {commission} + refunded {refunded} + escrow {escrow}"
            )
        line_sums = lines.get(order.pk, {"refunded": 0, "commission": 0})
        if (line_sums["refunded"] or 0) + order.shipping_refunded_fen + advance != refunded:
            report.problems.append(
                f"{label}: line refunds + postage + advances disagree with refunded {refunded}"
            )
        if order.status == OrderStatus.TRADE_FINISHED and (line_sums["commission"] or 0) != (
            commission
        ):
            report.problems.append(f"{label}: line commissions disagree with the order's")
        if refunded > paid:
            report.problems.append(f"{label}: refunded {refunded} above paid {paid}")
        if order.status in FINAL_STATUSES and escrow != 0:
            report.problems.append(f"{label}: final order still holds {escrow} in escrow")
        was_paid = order.paid_at is not None
        if paid != (order.total_fen if was_paid else 0):
            report.problems.append(
                f"{label}: paid {paid} but the order says {order.total_fen if was_paid else 0}"
            )
        if order.status in PAID_STATUSES and escrow != order.total_fen - order.refunded_fen:
            report.problems.append(f"{label}: escrow {escrow} != total less refunds")
        if (released, commission, refunded) != (
            order.released_fen,
            order.commission_fen,
            order.refunded_fen,
        ):
            report.problems.append(f"{label}: order fields disagree with its transfers")
        gross_released = m.get("release", 0) + m.get("commission", 0)
        if order.status == OrderStatus.TRADE_FINISHED and gross_released == 0 and paid:
            report.problems.append(f"{label}: finished but nothing released")


def _is_wallet_of(account: Account, user_id: int | None) -> bool:
    return account.kind == "wallet" and account.owner_user_id == user_id


def _is_escrow_of(account: Account, order_id: int) -> bool:
    return account.kind == "escrow" and account.owner_order_id == order_id


def _check_order_destinations(report: CheckReport) -> None:
    """Each order transfer goes between the right parties: this buyer's wallet, this order's
    escrow, this shop's balance, the platform."""
    from jishi.orders.models import Order

    parties = {
        pk: (buyer, shop)
        for pk, buyer, shop in Order.objects.values_list("pk", "buyer_id", "shop_id").iterator()
    }
    transfers = (
        Transfer.objects.filter(order_id__isnull=False)
        .select_related("debit_account", "credit_account")
        .iterator()
    )
    for t in transfers:
        buyer, shop = parties.get(t.order_id, (None, None))
        debit, credit = t.debit_account, t.credit_account
        from_escrow = _is_escrow_of(debit, t.order_id)
        from_receivable = debit.kind == "shop_receivable" and debit.owner_shop_id == shop
        right = {
            "payment": _is_wallet_of(debit, buyer) and _is_escrow_of(credit, t.order_id),
            "release": from_escrow
            and credit.kind == "shop_available"
            and credit.owner_shop_id == shop,
            "commission": from_escrow and credit.kind == "platform_commission",
            "refund": from_escrow and _is_wallet_of(credit, buyer),
            "commission_return": debit.kind == "platform_commission"
            and _is_escrow_of(credit, t.order_id),
            "clawback": from_receivable and _is_escrow_of(credit, t.order_id),
            "advance": from_receivable and _is_wallet_of(credit, buyer),
            "compensation": from_receivable and _is_wallet_of(credit, buyer),
        }.get(t.kind)
        if right is False:
            report.problems.append(
                f"transfer {t.pk} ({t.kind}) of order {t.order_id} goes {debit.code} -> "
                f"{credit.code}, not between that order's parties"
            )


def _check_shop_debts(report: CheckReport) -> None:
    """What shops owe: each shop's outstanding debts equal its receivable account."""
    from jishi.payments.models import ShopDebt

    owed: dict[int, int] = defaultdict(int)
    for debt in ShopDebt.objects.iterator():
        owed[debt.shop_id] += debt.amount_fen - debt.recovered_fen
        if (debt.settled_at is not None) != (debt.recovered_fen == debt.amount_fen):
            report.problems.append(f"debt {debt.pk}: settled mark disagrees with its amounts")
    receivables = {
        a.owner_shop_id: a.balance for a in Account.objects.filter(kind="shop_receivable")
    }
    for shop_id in sorted(set(owed) | set(receivables)):
        if owed.get(shop_id, 0) != receivables.get(shop_id, 0):
            report.problems.append(
                f"shop {shop_id}: debts outstanding {owed.get(shop_id, 0)} != receivable "
                f"{receivables.get(shop_id, 0)}"
            )


def ledger_check() -> CheckReport:
    """Every read in one snapshot, so a check during live traffic sees no false drift."""
    report = CheckReport()
    own_transaction = not connection.in_atomic_block  # a caller's transaction has its own
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        _check_accounts(report)
        _check_orders(report)
        _check_order_destinations(report)
        _check_shop_debts(report)
    return report
