"""Seller center after-sales pages (售后管理): the queue of requests with tabs and filters, one
request with the actions its status allows, and the shop's violations, debts and deposit
(违规与保证金).

Staff roles decide what shows: "order.view" opens the queue and the cases, "refund.handle"
acts on them, the deposit and the debts are the owner's ("finance.withdraw"). A POST from a
role that may not act shows the refusal as a message; another shop's case is a 404.
"""

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from jishi.accounts import selectors as account_selectors
from jishi.accounts.errors import AccountError
from jishi.aftersales import selectors, services
from jishi.aftersales.models import RefundCase, RefundKind, RefundStatus
from jishi.aftersales.views import OTHER_CARRIER, _carrier, case_context
from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.web import flash_error, form_errors
from jishi.ledger.errors import LedgerError
from jishi.payments import seller_selectors as money_selectors
from jishi.payments.services import deposit_fund
from jishi.shops.models import ShopStaff
from jishi.shops.permissions import role_can
from jishi.shops.seller_views import seller_page, seller_render

PAGE_SIZE = 15
SEARCH_LENGTH_MAX = 40
IDEMPOTENCY_KEY_LENGTH_MAX = 64
VIOLATION_POINTS_DAYS = 365
PIN_ERRORS = (AccountError.PIN_WRONG, AccountError.PIN_LOCKED, AccountError.PIN_NOT_SET)

TABS = (
    ("todo", gettext_lazy("To handle")),
    ("open", gettext_lazy("In progress")),
    ("dispute", gettext_lazy("Platform intervention")),
    ("done", pgettext_lazy("after-sales tab", "Finished")),
    ("all", gettext_lazy("All")),
)


# --- the queue --------------------------------------------------------------------------------


@seller_page("order.view")
def queue(request, membership: ShopStaff):
    tab = request.GET.get("tab", "todo")
    if tab not in dict(TABS):
        tab = "todo"
    kind = request.GET.get("kind", "")
    kind = kind if kind in RefundKind.values else ""
    status = request.GET.get("status", "")
    status = status if status in RefundStatus.values else ""
    q = request.GET.get("q", "")[:SEARCH_LENGTH_MAX].strip()
    qs = selectors.cases_for_shop(
        actor=request.user, tab="" if tab == "all" else tab, kind=kind, status=status, q=q
    ).prefetch_related("disputes")
    # the most urgent first; finished requests (no deadline) after them, newest first
    qs = qs.order_by(F("deadline").asc(nulls_last=True), "-pk")
    page = page_of(qs, request.GET.get("page"), page_size=PAGE_SIZE)
    counts = selectors.case_tab_counts_for_shop(actor=request.user)
    rows = list(page.object_list)
    for case in rows:
        case.open_dispute = next((d for d in case.disputes.all() if d.is_open), None)
    return seller_render(
        request,
        "aftersales/seller_queue.html",
        {
            "tab": tab,
            "tabs": [
                {"tab": name, "label": label, "on": name == tab, "count": counts.get(name)}
                for name, label in TABS
            ],
            "kind": kind,
            "status": status,
            "q": q,
            "kinds": RefundKind.choices,
            "statuses": RefundStatus.choices,
            "filtered": bool(kind or status or q),
            "page": page,
            "cases": rows,
            "todo_count": counts.get("todo", 0),
            "can_handle": role_can(membership.role, "refund.handle"),
            "now": clock.now(),
        },
        active="aftersales",
        membership=membership,
    )


# --- one case ---------------------------------------------------------------------------------


def _case_page(
    request,
    membership: ShopStaff,
    case: RefundCase,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
):
    context = case_context(case)
    dispute_open = context["dispute_open"]
    handle = role_can(membership.role, "refund.handle")
    waiting_answer = case.status == RefundStatus.WAIT_SELLER_AGREE
    waiting_goods = case.status == RefundStatus.WAIT_SELLER_CONFIRM_GOODS
    context.update(
        {
            "can_handle": handle,
            "can": {
                "agree": handle and waiting_answer,
                "refuse": handle and waiting_answer,
                "goods_confirm": handle and waiting_goods,
                "goods_refuse": handle and waiting_goods,
                "dispute": handle
                and case.status == RefundStatus.SELLER_REFUSE_BUYER
                and dispute_open is None,
                "withdraw": handle
                and dispute_open is not None
                and dispute_open.opened_by_party == "seller",
                "message": handle and case.is_open and not context["evidence_over"],
            },
            "errors": errors or {},
            "refuse_errors": (errors or {}).get("refuse") or (errors or {}).get("goods_refuse"),
            "values": values or {},
            "return_address": (values or {}).get("return_address")
            or (services.return_address_default(case.shop_id) if handle and waiting_answer else ""),
            "viewer": "seller",
            "other_carrier": OTHER_CARRIER,
        }
    )
    return seller_render(
        request,
        "aftersales/seller_case.html",
        context,
        active="aftersales",
        membership=membership,
        status=status,
    )


@seller_page("order.view")
def case_detail(request, membership: ShopStaff, case_id: int):
    case = selectors.case_get_for_shop(actor=request.user, case_id=case_id)
    return _case_page(request, membership, case)


def _seller_action(request, membership: ShopStaff, case_id: int, form: str, call, success: str):
    """Run one action on the shop's case. Field errors show under the form (400); a refusal,
    including a role that may only view, is shown as a message after the redirect."""
    case = selectors.case_get_for_shop(actor=request.user, case_id=case_id)  # 404 for others
    try:
        call(case)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        if exc.extra.get("fields") and exc.status_code != 403:
            case = selectors.case_get_for_shop(actor=request.user, case_id=case_id)
            return _case_page(
                request,
                membership,
                case,
                errors={form: form_errors(exc)},
                values={k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"},
                status=400,
            )
        flash_error(request, exc)
    else:
        messages.success(request, success)
    return redirect(reverse("seller:case", args=[case.pk]))


@require_POST
@seller_page("order.view")
def case_agree(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "agree",
        lambda case: services.refund_agree(
            actor=request.user,
            case_id=case.pk,
            return_address=request.POST.get("return_address", ""),
        ),
        _("You agreed. The buyer is told what happens next."),
    )


@require_POST
@seller_page("order.view")
def case_refuse(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "refuse",
        lambda case: services.refund_refuse(
            actor=request.user,
            case_id=case.pk,
            reason=request.POST.get("reason", ""),
            images=request.FILES.getlist("images"),
        ),
        _("You refused the request. The buyer may revise it or ask the platform to step in."),
    )


@require_POST
@seller_page("order.view")
def case_goods_confirm(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "goods_confirm",
        lambda case: services.refund_goods_confirm(
            actor=request.user,
            case_id=case.pk,
            carrier=_carrier(request.POST),
            tracking_no=request.POST.get("tracking_no", ""),
        ),
        _("Returned goods confirmed. The request is completed."),
    )


@require_POST
@seller_page("order.view")
def case_goods_refuse(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "goods_refuse",
        lambda case: services.refund_goods_refuse(
            actor=request.user,
            case_id=case.pk,
            reason=request.POST.get("reason", ""),
            images=request.FILES.getlist("images"),
        ),
        _("You refused the returned goods. The buyer may ask the platform to step in."),
    )


@require_POST
@seller_page("order.view")
def case_dispute_open(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "dispute",
        lambda case: services.dispute_open(
            actor=request.user, case_id=case.pk, reason=request.POST.get("reason", "")
        ),
        _("The platform will step in. Add your evidence while the case is open."),
    )


@require_POST
@seller_page("order.view")
def case_dispute_withdraw(request, membership: ShopStaff, case_id: int):
    def call(case: RefundCase) -> None:
        dispute = selectors.case_dispute(case=case)
        services.dispute_withdraw(actor=request.user, dispute_id=dispute.pk if dispute else 0)

    return _seller_action(
        request,
        membership,
        case_id,
        "withdraw",
        call,
        _("You withdrew the platform intervention and agreed to the request."),
    )


@require_POST
@seller_page("order.view")
def case_message(request, membership: ShopStaff, case_id: int):
    return _seller_action(
        request,
        membership,
        case_id,
        "message",
        lambda case: services.case_message_add(
            actor=request.user,
            case_id=case.pk,
            text=request.POST.get("text", ""),
            images=request.FILES.getlist("images"),
        ),
        _("Added to the history."),
    )


# --- violations, debts and the deposit ----------------------------------------------------------


def _deposit_amount_message() -> str:
    return _("Enter an amount in yuan, e.g. 1000 or 99.50.")


def _deposit(request) -> dict[str, str]:
    """Pay into the deposit; returns the errors by field (empty on success)."""
    values = {"amount": request.POST.get("amount", "").strip()}
    try:
        amount_fen = parse_yuan(values["amount"])
    except ValueError:
        return {"amount": _deposit_amount_message()}
    key = request.POST.get("idempotency_key", "")[:IDEMPOTENCY_KEY_LENGTH_MAX]
    try:
        deposit_fund(
            actor=request.user,
            amount_fen=amount_fen,
            pin=request.POST.get("pin", "").strip(),
            source=request.POST.get("source", ""),
            idempotency_key=key,
        )
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        if exc.status_code == 403:
            return {"__all__": str(exc.message)}
        errors = form_errors(exc)
        if "amount_fen" in errors:
            errors["amount"] = errors.pop("amount_fen")
        if exc.code in PIN_ERRORS:
            return {"pin": str(exc.message)}
        if exc.code == LedgerError.INSUFFICIENT_FUNDS:
            return {"amount": _("The amount is more than the chosen balance holds.")}
        return errors
    messages.success(
        request,
        _("¥%(amount)s paid into the shop deposit.") % {"amount": format_fen(amount_fen)},
    )
    return {}


@seller_page("order.view")
def violations(request, membership: ShopStaff):
    owner = role_can(membership.role, "finance.withdraw")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"amount": "", "source": "wallet"}
    if request.method == "POST":
        values = {
            "amount": request.POST.get("amount", "").strip(),
            "source": request.POST.get("source", ""),
        }
        errors = _deposit(request)
        if not errors:
            return redirect("seller:violations")
    context: dict[str, Any] = {
        "violations": list(selectors.violations_for_shop(actor=request.user)[:200]),
        "points": selectors.shop_violation_points(
            shop_id=membership.shop_id, days=VIOLATION_POINTS_DAYS
        ),
        "points_days": VIOLATION_POINTS_DAYS,
        "owner": owner,
        "errors": errors,
        "values": values,
        "idempotency_key": uuid.uuid4().hex,
    }
    if owner:
        debts = list(selectors.debts_for_shop(actor=request.user)[:200])
        context.update(
            {
                "money": money_selectors.shop_money_for_owner(actor=request.user),
                "debts": debts,
                "debts_outstanding_fen": sum(d.outstanding_fen for d in debts),
                "pin_status": account_selectors.payment_pin_status(user=request.user),
            }
        )
    return seller_render(
        request,
        "aftersales/seller_violations.html",
        context,
        active="violations",
        membership=membership,
        status=400 if errors else 200,
    )
