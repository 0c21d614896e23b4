"""After-sales reads. Each takes the acting user and checks access in one place: another
buyer's or another shop's case looks missing (NotFound)."""

from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.permissions import operator_require
from jishi.aftersales.models import (
    DISPUTE_OPEN,
    EXCHANGE_REASONS,
    OPEN_STATUSES,
    UNSHIPPED_REASONS,
    CaseEvent,
    Dispute,
    DisputeStatus,
    RefundCase,
    RefundKind,
    RefundReason,
    RefundStatus,
)
from jishi.aftersales.services import (
    _no_reason_return_allowed,
    aftersales_open_for,
    line_refundable_fen,
)
from jishi.catalog.models import Sku
from jishi.core import clock
from jishi.core.errors import NotFound
from jishi.core.rules import rule
from jishi.orders.models import Order, OrderLine
from jishi.payments.models import ShopDebt
from jishi.shops.models import Violation
from jishi.shops.permissions import shop_require


def _case_id(case_id: Any) -> int | None:
    return int(case_id) if str(case_id).isdecimal() and len(str(case_id)) < 18 else None


def _with_related(qs: QuerySet[RefundCase]) -> QuerySet[RefundCase]:
    return qs.select_related("order", "line", "shop", "buyer", "exchange_sku")


# --- buyer ------------------------------------------------------------------------------------


def cases_for_buyer(*, buyer: User, status: str = "") -> QuerySet[RefundCase]:
    qs = _with_related(RefundCase.objects.filter(buyer=buyer))
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status in RefundStatus.values:
        qs = qs.filter(status=status)
    return qs


def case_get_for_buyer(*, buyer: User, case_id: Any) -> RefundCase:
    case = _with_related(RefundCase.objects.filter(buyer=buyer, pk=_case_id(case_id))).first()
    if case is None:
        raise NotFound(message=_("After-sales request not found."))
    return case


def request_options(*, buyer: User, order_id: Any, line_id: Any) -> dict[str, Any]:
    """What the buyer may ask for on a line: kinds, reasons per kind, the most refundable,
    the exchange options. NotFound for another buyer's order or a line not in it."""
    order = (
        Order.objects.filter(buyer=buyer, pk=_case_id(order_id)).prefetch_related("lines").first()
    )
    line = None
    if order is not None:
        line = (
            OrderLine.objects.select_related("product")
            .filter(order=order, pk=_case_id(line_id))
            .first()
        )
    if line is None:
        raise NotFound(message=_("This item is not part of the order."))
    shipped = order.shipped_at is not None
    kinds = [RefundKind.REFUND_ONLY]
    if shipped and not order.is_virtual:
        kinds += [RefundKind.RETURN_REFUND, RefundKind.EXCHANGE]
    no_reason = _no_reason_return_allowed(order, line)
    reasons: dict[str, list[tuple[str, str]]] = {}
    for kind in kinds:
        codes = [r for r in RefundReason.values if shipped or r in UNSHIPPED_REASONS]
        if kind == RefundKind.EXCHANGE:
            codes = [r for r in codes if r in EXCHANGE_REASONS]
        if kind == RefundKind.REFUND_ONLY or not no_reason:
            codes = [r for r in codes if r != RefundReason.NO_REASON_7D]
        reasons[kind] = [(code, str(RefundReason(code).label)) for code in codes]
    exchange_skus = list(
        Sku.objects.filter(product_id=line.product_id, is_active=True).order_by("pk")
    )
    return {
        "order": order,
        "line": line,
        "allowed": aftersales_open_for(order),  # paid, and within the after-sales window
        "kinds": [(k, str(RefundKind(k).label)) for k in kinds],
        "reasons": reasons,
        "refundable_fen": line_refundable_fen(order, line),
        "no_reason_return": no_reason,
        "open_case": RefundCase.objects.filter(line=line, status__in=OPEN_STATUSES).first(),
        "exchange_skus": [
            s
            for s in exchange_skus
            if s.price_fen * line.quantity <= line.paid_fen - line.refunded_fen
        ],
        "requests_left": max(
            0, rule("refund_cases_per_line_max") - RefundCase.objects.filter(line=line).count()
        ),
    }


def cases_by_line(*, order: Order) -> dict[int, RefundCase]:
    """The latest case of each line of an order (for the order page's per-line status)."""
    latest: dict[int, RefundCase] = {}
    for case in RefundCase.objects.filter(order=order).order_by("pk"):
        latest[case.line_id] = case
    return latest


# --- seller -----------------------------------------------------------------------------------

SELLER_TABS = {
    "todo": Q(status__in=[RefundStatus.WAIT_SELLER_AGREE, RefundStatus.WAIT_SELLER_CONFIRM_GOODS]),
    "open": Q(status__in=OPEN_STATUSES),
    "dispute": Q(disputes__status__in=DISPUTE_OPEN),
    "done": Q(status__in=[RefundStatus.SUCCESS, RefundStatus.CLOSED]),
}


def cases_for_shop(
    *, actor: User, tab: str = "", kind: str = "", status: str = "", q: str = ""
) -> QuerySet[RefundCase]:
    """The shop's after-sales queue: tab (todo/open/dispute/done), kind, status, and a search
    by order number or buyer name. Needs "order.view"."""
    membership = shop_require(actor, "order.view")
    qs = _with_related(RefundCase.objects.filter(shop_id=membership.shop_id))
    if tab in SELLER_TABS:
        qs = qs.filter(SELLER_TABS[tab]).distinct()
    if kind in RefundKind.values:
        qs = qs.filter(kind=kind)
    if status in RefundStatus.values:
        qs = qs.filter(status=status)
    q = (q or "").strip()[:40]
    if q:
        qs = qs.filter(
            Q(order_id=int(q)) if q.isdecimal() and len(q) < 18 else Q(buyer__username__icontains=q)
        )
    # the most urgent first: the nearest deadline, then the newest; no deadline last
    return qs.order_by(F("deadline").asc(nulls_last=True), "-pk")


def case_tab_counts_for_shop(*, actor: User) -> dict[str, int]:
    membership = shop_require(actor, "order.view")
    base = RefundCase.objects.filter(shop_id=membership.shop_id)
    return {tab: base.filter(cond).distinct().count() for tab, cond in SELLER_TABS.items()}


def case_get_for_shop(*, actor: User, case_id: Any) -> RefundCase:
    membership = shop_require(actor, "order.view")
    case = _with_related(
        RefundCase.objects.filter(shop_id=membership.shop_id, pk=_case_id(case_id))
    ).first()
    if case is None:
        raise NotFound(message=_("After-sales request not found."))
    return case


def violations_for_shop(*, actor: User) -> QuerySet[Violation]:
    membership = shop_require(actor, "order.view")
    return Violation.objects.filter(shop_id=membership.shop_id)


def debts_for_shop(*, actor: User) -> QuerySet[ShopDebt]:
    """What the platform paid on the shop's behalf and how much it recovered."""
    membership = shop_require(actor, "finance.withdraw")
    return ShopDebt.objects.filter(shop_id=membership.shop_id).order_by("-pk")


# --- both sides and the operator --------------------------------------------------------------


def case_events(*, case: RefundCase) -> QuerySet[CaseEvent]:
    """The case history, oldest first, with images. Call after a ``case_get_*`` selector."""
    return case.events.select_related("actor").prefetch_related("images")


def case_dispute(*, case: RefundCase) -> Dispute | None:
    """The open intervention, else the latest one."""
    return case.disputes.filter(status__in=DISPUTE_OPEN).first() or case.disputes.first()


def case_time_left_seconds(case: RefundCase) -> int | None:
    if case.deadline is None:
        return None
    return max(0, int((case.deadline - clock.now()).total_seconds()))


# --- operator ---------------------------------------------------------------------------------

CONSOLE_TABS = {
    "requested": Q(status=DisputeStatus.REQUESTED),
    "evidence": Q(status=DisputeStatus.EVIDENCE),
    "ruled": Q(status__in=[DisputeStatus.RULED_BUYER, DisputeStatus.RULED_SELLER]),
    "withdrawn": Q(status=DisputeStatus.WITHDRAWN),
}


def disputes_for_console(*, actor: User, tab: str = "", mine: bool = False) -> QuerySet[Dispute]:
    """The arbitration queue. Tab "ready": evidence phase over, waiting for a ruling."""
    operator_require(actor, "console.view")
    qs = Dispute.objects.select_related(
        "case__order", "case__shop", "case__buyer", "case__line", "operator"
    )
    if tab == "ready":
        qs = qs.filter(status=DisputeStatus.EVIDENCE, evidence_deadline__lte=clock.now())
    elif tab in CONSOLE_TABS:
        qs = qs.filter(CONSOLE_TABS[tab])
    if mine:
        qs = qs.filter(operator=actor)
    return qs.order_by("pk") if tab in ("requested", "evidence", "ready") else qs


def dispute_tab_counts(*, actor: User) -> dict[str, int]:
    operator_require(actor, "console.view")
    counts = {tab: Dispute.objects.filter(cond).count() for tab, cond in CONSOLE_TABS.items()}
    counts["ready"] = Dispute.objects.filter(
        status=DisputeStatus.EVIDENCE, evidence_deadline__lte=clock.now()
    ).count()
    return counts


def dispute_get_for_console(*, actor: User, dispute_id: Any) -> Dispute:
    """One case for the operator, with everything needed to rule (order, lines, case).
    Reading the case history is part of handling it: "dispute.rule"."""
    operator_require(actor, "dispute.rule")
    dispute = (
        Dispute.objects.select_related(
            "case__order", "case__shop__owner", "case__buyer", "case__line", "operator", "ruled_by"
        )
        .filter(pk=_case_id(dispute_id))
        .first()
    )
    if dispute is None:
        raise NotFound(message=_("Case not found."))
    return dispute


def violations_for_console(*, actor: User, shop_id: Any = None) -> QuerySet[Violation]:
    operator_require(actor, "console.view")
    qs = Violation.objects.select_related("shop", "created_by")
    if shop_id not in (None, "") and str(shop_id).isdecimal() and len(str(shop_id)) < 18:
        qs = qs.filter(shop_id=int(shop_id))
    return qs


def shop_violation_points(*, shop_id: int, days: int = 365) -> int:
    """Penalty points of the last ``days`` days."""
    from datetime import timedelta

    from django.db.models import Sum

    since = clock.now() - timedelta(days=days)
    return (
        Violation.objects.filter(shop_id=shop_id, created_at__gte=since).aggregate(s=Sum("points"))[
            "s"
        ]
        or 0
    )
