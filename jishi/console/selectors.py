"""Operator console reads over trade: any order with its transfers and audit trail, and the
ledger's totals. Each function checks the operator's role first (operator_require)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.permissions import operator_require
from jishi.aftersales.models import DISPUTE_OPEN, RefundCase
from jishi.core.errors import NotFound
from jishi.core.models import AuditLog
from jishi.ledger.models import Account, AccountKind, Transfer, TransferFlag
from jishi.ledger.selectors import kind_total
from jishi.orders.models import Order, OrderStatus
from jishi.orders.seller_selectors import ORDER_ID_DIGITS_MAX, SEARCH_LENGTH_MAX
from jishi.payments.models import ShopDebt

ORDER_AUDIT_TYPE = "orders.order"


def order_list_for_console(*, actor: User, q: str = "", status: str = "") -> QuerySet[Order]:
    """Any order, newest first: by id, buyer username or shop name, and status."""
    operator_require(actor, "console.view")
    qs = Order.objects.select_related("buyer", "shop").order_by("-id")
    q = q.strip()[:SEARCH_LENGTH_MAX]
    if q:
        if q.isdecimal() and len(q) <= ORDER_ID_DIGITS_MAX:
            found = Q(pk=int(q)) | Q(buyer__username__iexact=q) | Q(shop__name__iexact=q)
        else:
            found = Q(buyer__username__icontains=q) | Q(shop__name__icontains=q)
        qs = qs.filter(found)
    if status == "late":
        qs = qs.filter(late_shipment_at__isnull=False)
    elif status in OrderStatus.values:
        qs = qs.filter(status=status)
    return qs


def order_get_for_console(*, actor: User, order_id: Any) -> Order:
    operator_require(actor, "console.view")
    order = None
    if str(order_id).isdecimal() and len(str(order_id)) <= ORDER_ID_DIGITS_MAX:
        order = (
            Order.objects.select_related("buyer", "shop", "shop__owner", "group")
            .prefetch_related("lines")
            .filter(pk=int(order_id))
            .first()
        )
    if order is None:
        raise NotFound(message=_("Order not found."))
    return order


def order_transfers_for_console(*, actor: User, order_id: int) -> QuerySet[Transfer]:
    """The ledger transfers of one order, oldest first."""
    operator_require(actor, "console.view")
    return (
        Transfer.objects.filter(order_id=order_id)
        .select_related("debit_account", "credit_account")
        .order_by("id")
    )


def order_audit_for_console(*, actor: User, order_id: int) -> QuerySet[AuditLog]:
    """The audit rows of one order (status changes, address changes…), oldest first."""
    operator_require(actor, "console.view")
    return (
        AuditLog.objects.filter(object_type=ORDER_AUDIT_TYPE, object_id=str(order_id))
        .select_related("actor")
        .order_by("id")
    )


def order_cases_for_console(*, actor: User, order_id: int) -> list[RefundCase]:
    """The order's after-sales cases, oldest first, each with ``case.dispute`` (the open
    intervention, else the latest one, else None) for a link to the case page."""
    operator_require(actor, "console.view")
    cases = list(
        RefundCase.objects.filter(order_id=order_id)
        .select_related("line")
        .prefetch_related("disputes")
        .order_by("id")
    )
    for case in cases:
        disputes = list(case.disputes.all())  # newest first (Dispute.Meta.ordering)
        case.dispute = next((d for d in disputes if d.status in DISPUTE_OPEN), None) or (
            disputes[0] if disputes else None
        )
    return cases


def order_debts_for_console(*, actor: User, order_id: int) -> QuerySet[ShopDebt]:
    """What the platform paid on the shop's behalf for this order and how much it has
    recovered so far (advance compensation, refunds after release, late-shipment pay)."""
    operator_require(actor, "console.view")
    return ShopDebt.objects.filter(order_id=order_id).order_by("id")


@dataclass(frozen=True)
class KindTotal:
    kind: str
    label: Any
    accounts: int
    total_fen: int  # posted balance on the kind's normal side, sub-accounts summed


@dataclass(frozen=True)
class LedgerOverview:
    kinds: list[KindTotal]
    transfers: int
    pending_open: int  # two-phase transfers not yet posted or voided


def ledger_overview(*, actor: User) -> LedgerOverview:
    operator_require(actor, "ledger.view")
    counts = dict(Account.objects.values_list("kind").annotate(n=Count("pk")).order_by())
    kinds = [
        KindTotal(kind, label, counts.get(kind, 0), kind_total(kind))
        for kind, label in AccountKind.choices
    ]
    return LedgerOverview(
        kinds=kinds,
        transfers=Transfer.objects.count(),
        pending_open=Transfer.objects.filter(
            flag=TransferFlag.PENDING, resolutions__isnull=True
        ).count(),
    )
