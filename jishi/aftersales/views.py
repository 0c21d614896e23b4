"""Buyer after-sales pages (退款/售后): apply from an order line, my requests, one request
with its progress, history and the actions its status allows.

Views only call jishi.aftersales.services (writes) and selectors (reads). A refused input
(DomainError) shows its message next to the field or as a flash message, never a 500; another
buyer's order or request is a 404. Every action is a POST that redirects back (POST-redirect-
GET), except a form with field errors, which is shown again with the errors (status 400).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from jishi.aftersales import selectors, services
from jishi.aftersales.models import Dispute, RefundCase, RefundKind, RefundStatus
from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.rules import rule
from jishi.core.web import flash_error, form_errors
from jishi.orders.models import Order

PAGE_SIZE = 10
# Common carriers (as couriers name themselves); "other" takes a free-text name.
CARRIERS = (
    "顺丰速运",
    "中通快递",
    "圆通速递",
    "申通快递",
    "韵达快递",
    "京东物流",
    "EMS",
    "中国邮政",
)
OTHER_CARRIER = "other"

LIST_TABS = (
    ("all", gettext_lazy("All requests")),
    ("open", gettext_lazy("In progress")),
)

# What each history entry means (CaseEvent.action), as both sides and the operator read it.
EVENT_LABELS: dict[str, Any] = {
    "request": gettext_lazy("Asked for after-sales"),
    "revise": gettext_lazy("Revised the request"),
    "close": pgettext_lazy("case event", "Request closed"),
    "return_ship": gettext_lazy("Shipped the goods back"),
    "agree": gettext_lazy("Agreed to the request"),
    "refuse": gettext_lazy("Refused the request"),
    "goods_refuse": gettext_lazy("Refused the returned goods"),
    "goods_confirm": gettext_lazy("Confirmed the returned goods"),
    "exchange_ship": gettext_lazy("Shipped the replacement"),
    "refunded": gettext_lazy("Refund paid to the buyer's wallet"),
    "goods_timeout": gettext_lazy("The seller did not confirm the return in time"),
    "message": pgettext_lazy("case event", "Message"),
    "evidence": pgettext_lazy("case event", "Evidence"),
    "dispute_open": gettext_lazy("Asked the platform to step in"),
    "dispute_withdraw": gettext_lazy("Withdrew the platform intervention"),
    "dispute_take": gettext_lazy("The platform took the case; evidence phase started"),
    "ruled_buyer": gettext_lazy("The platform ruled for the buyer"),
    "ruled_seller": gettext_lazy("The platform ruled for the seller"),
}


PARTY_LABELS: dict[str, Any] = {
    "buyer": pgettext_lazy("case party", "Buyer"),
    "seller": pgettext_lazy("case party", "Seller"),
    "operator": pgettext_lazy("case party", "Platform"),
    "system": pgettext_lazy("case party", "System"),
}


def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action))


# --- what the order pages show per line ------------------------------------------------------


def line_states(order: Order, *, buyer_view: bool = True) -> dict[int, dict[str, Any]]:
    """For each line of an order: its latest after-sales request and, for the buyer, whether
    a new one may be asked now (paid, within the after-sales window, nothing open, something
    left to refund, fewer than the per-line maximum)."""
    latest = selectors.cases_by_line(order=order)
    states: dict[int, dict[str, Any]] = {}
    window_open = buyer_view and services.aftersales_open_for(order)
    for line in order.lines.all():
        case = latest.get(line.pk)
        can_request = (
            window_open
            and (case is None or not case.is_open)
            and line.refunded_fen < line.paid_fen
            and (
                case is None
                or RefundCase.objects.filter(line_id=line.pk).count()
                < rule("refund_cases_per_line_max")
            )
        )
        states[line.pk] = {"case": case, "can_request": can_request}
    return states


def duration_text(seconds: int) -> str:
    """A platform timer as words: 86400 -> "1 day", 7200 -> "2 hours"."""
    if seconds % 86400 == 0:
        n = seconds // 86400
        return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}
    if seconds % 3600 == 0:
        n = seconds // 3600
        return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}
    n = max(1, seconds // 60)
    return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}


def timers(*, shipped: bool = True) -> dict[str, str]:
    """The after-sales timers (platform settings) in words, for the pages' explanations."""
    answer = (
        "refund_seller_answer_shipped_seconds"
        if shipped
        else ("refund_seller_answer_unshipped_seconds")
    )
    return {
        "answer": duration_text(rule(answer)),
        "return": duration_text(rule("refund_buyer_return_seconds")),
        "confirm": duration_text(rule("refund_seller_confirm_goods_seconds")),
        "escalate": duration_text(rule("refund_buyer_escalate_seconds")),
        "evidence": duration_text(rule("dispute_evidence_seconds")),
    }


def _amount_text(fen: int) -> str:
    return format_fen(fen).replace(",", "")


def _amount_message(max_fen: int) -> str:
    return _("Enter an amount in yuan from 0.01 to %(max)s, e.g. 12.50.") % {
        "max": format_fen(max_fen)
    }


def _carrier(values: dict[str, str]) -> str:
    if values.get("carrier") == OTHER_CARRIER:
        return values.get("carrier_other", "")
    return values.get("carrier", "")


def _errors_renamed(exc: DomainError) -> dict[str, str]:
    errors = form_errors(exc)
    if "amount_fen" in errors:
        errors["amount"] = errors.pop("amount_fen")
    return errors


# --- apply and revise -------------------------------------------------------------------------


def _form_page(
    request: HttpRequest,
    options: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    case: RefundCase | None = None,
) -> HttpResponse:
    order, line = options["order"], options["line"]
    kinds = options["kinds"]
    if case is not None and case.kind == RefundKind.EXCHANGE:
        kinds = [(k, label) for k, label in kinds if k == RefundKind.EXCHANGE]
    elif case is not None:
        kinds = [(k, label) for k, label in kinds if k != RefundKind.EXCHANGE]
    refundable = options["refundable_fen"]
    if case is not None:  # a revision may ask up to what the open request already holds
        refundable = max(refundable, case.amount_fen)
    return render(
        request,
        "aftersales/request_form.html",
        {
            "order": order,
            "line": line,
            "case": case,
            "kinds": kinds,
            "reasons": options["reasons"],
            "reasons_json": {k: [list(r) for r in v] for k, v in options["reasons"].items()},
            "refundable_fen": refundable,
            "no_reason_return": options["no_reason_return"],
            "exchange_skus": options["exchange_skus"],
            "values": values,
            "errors": errors,
            "images_max": rule("case_images_max"),
            "shipped": order.shipped_at is not None,
            "timers": timers(shipped=order.shipped_at is not None),
        },
        status=400 if errors else 200,
    )


def _form_values(post: Any) -> dict[str, Any]:
    return {
        key: post.get(key, "").strip()
        for key in ("kind", "reason", "amount", "exchange_sku_id", "description")
    }


def _amount_fen(values: dict[str, Any], errors: dict[str, str], max_fen: int) -> int | None:
    if values["kind"] == RefundKind.EXCHANGE:
        return None
    try:
        return parse_yuan(values["amount"])
    except ValueError:
        errors["amount"] = _amount_message(max_fen)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, order_id: int) -> HttpResponse:
    """申请售后: the form for one line of a paid order (``?line=<line id>``)."""
    line_id = request.POST.get("line") or request.GET.get("line", "")
    options = selectors.request_options(buyer=request.user, order_id=order_id, line_id=line_id)
    order, line = options["order"], options["line"]
    if options["open_case"] is not None:
        messages.info(request, _("This item already has an open after-sales request."))
        return redirect("aftersales:detail", options["open_case"].pk)
    state = line_states(order)[line.pk]
    if not state["can_request"]:
        messages.error(request, _("After-sales is not possible for this item now."))
        return redirect("orders:detail", order.pk)
    kinds = [k for k, _label in options["kinds"]]
    values: dict[str, Any] = {
        "kind": request.GET.get("kind") if request.GET.get("kind") in kinds else kinds[0],
        "reason": "",
        "amount": _amount_text(options["refundable_fen"]),
        "exchange_sku_id": "",
        "description": "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values(request.POST)
        amount_fen = _amount_fen(values, errors, options["refundable_fen"])
        if not errors:
            try:
                case = services.refund_request(
                    buyer=request.user,
                    order_id=order.pk,
                    line_id=line.pk,
                    kind=values["kind"],
                    reason=values["reason"],
                    amount_fen=amount_fen,
                    description=values["description"],
                    images=request.FILES.getlist("images"),
                    exchange_sku_id=values["exchange_sku_id"] or None,
                )
            except DomainError as exc:
                if exc.status_code == 404:
                    raise
                errors = _errors_renamed(exc)
            else:
                messages.success(
                    request,
                    _("Your request was sent to the seller. We keep you posted here."),
                )
                return redirect("aftersales:detail", case.pk)
    return _form_page(request, options, values, errors)


@login_required
@require_http_methods(["GET", "POST"])
def request_revise(request: HttpRequest, case_id: int) -> HttpResponse:
    """修改申请: change the kind, reason, amount or description before the seller agrees, or
    after a refusal; the request goes back to the seller."""
    case = selectors.case_get_for_buyer(buyer=request.user, case_id=case_id)
    if case.status not in (RefundStatus.WAIT_SELLER_AGREE, RefundStatus.SELLER_REFUSE_BUYER):
        messages.error(request, _("This request can no longer be changed."))
        return redirect("aftersales:detail", case.pk)
    options = selectors.request_options(
        buyer=request.user, order_id=case.order_id, line_id=case.line_id
    )
    values: dict[str, Any] = {
        "kind": case.kind,
        "reason": case.reason,
        "amount": _amount_text(case.amount_fen),
        "exchange_sku_id": str(case.exchange_sku_id or ""),
        "description": case.description,
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values(request.POST)
        values["exchange_sku_id"] = str(case.exchange_sku_id or "")
        amount_fen = _amount_fen(values, errors, options["refundable_fen"])
        if not errors:
            try:
                services.refund_revise(
                    buyer=request.user,
                    case_id=case.pk,
                    kind=values["kind"],
                    reason=values["reason"],
                    amount_fen=amount_fen,
                    description=values["description"],
                    images=request.FILES.getlist("images"),
                )
            except DomainError as exc:
                if exc.status_code == 404:
                    raise
                if not exc.extra.get("fields"):
                    flash_error(request, exc)
                    return redirect("aftersales:detail", case.pk)
                errors = _errors_renamed(exc)
            else:
                messages.success(request, _("Request revised. The seller answers it again."))
                return redirect("aftersales:detail", case.pk)
    return _form_page(request, options, values, errors, case=case)


# --- my requests ------------------------------------------------------------------------------


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "all")
    if tab not in dict(LIST_TABS):
        tab = "all"
    qs = selectors.cases_for_buyer(
        buyer=request.user, status="open" if tab == "open" else ""
    ).prefetch_related("disputes")
    page = page_of(qs, request.GET.get("page"), page_size=PAGE_SIZE)
    cases = list(page.object_list)
    for case in cases:
        case.open_dispute = next((d for d in case.disputes.all() if d.is_open), None)
    open_count = selectors.cases_for_buyer(buyer=request.user, status="open").count()
    return render(
        request,
        "aftersales/case_list.html",
        {
            "tab": tab,
            "tabs": LIST_TABS,
            "open_count": open_count,
            "page": page,
            "cases": cases,
            "now": clock.now(),
        },
    )


# --- one request ------------------------------------------------------------------------------


def case_steps(case: RefundCase) -> list[dict[str, Any]]:
    """The step bar at the top of a case page; ``state`` done / on / todo."""
    if case.kind == RefundKind.REFUND_ONLY:
        labels = [_("Request sent"), _("Seller answers"), _("Refund completed")]
        reached = {RefundStatus.SUCCESS: 3}.get(case.status, 1)
    else:
        exchange = case.kind == RefundKind.EXCHANGE
        last = _("Exchange completed") if exchange else _("Refund completed")
        labels = [
            _("Request sent"),
            _("Seller agrees"),
            _("Buyer ships the goods back"),
            _("Seller confirms the goods"),
            last,
        ]
        reached = {
            RefundStatus.WAIT_BUYER_RETURN_GOODS: 2,
            RefundStatus.WAIT_SELLER_CONFIRM_GOODS: 3,
            RefundStatus.SUCCESS: 5,
        }.get(case.status, 3 if case.returned_at else (2 if case.agreed_at else 1))
    return [
        {
            "label": label,
            "state": "done" if i < reached else ("on" if i == reached else "todo"),
        }
        for i, label in enumerate(labels)
    ]


def case_context(case: RefundCase) -> dict[str, Any]:
    """What both sides' case pages show: history, intervention, time left, the line."""
    events = list(selectors.case_events(case=case))
    for event in events:
        event.label = event_label(event.action)
        event.party_label = PARTY_LABELS.get(event.party, event.party)
    dispute = selectors.case_dispute(case=case)
    dispute_open: Dispute | None = dispute if dispute is not None and dispute.is_open else None
    last_refusal = next(
        (e for e in reversed(events) if e.action in ("refuse", "goods_refuse")), None
    )
    return {
        "case": case,
        "order": case.order,
        "line": case.line,
        "events": events,
        "dispute": dispute,
        "dispute_open": dispute_open,
        "evidence_over": bool(dispute_open and dispute_open.evidence_over),
        "time_left": selectors.case_time_left_seconds(case),
        "last_refusal": last_refusal,
        "steps": case_steps(case),
        "buyer_images": [image for e in events if e.party == "buyer" for image in e.images.all()][
            :20
        ],
        "now": clock.now(),
        "carriers": CARRIERS,
        "images_max": rule("case_images_max"),
        "timers": timers(shipped=case.shipped_when_requested),
    }


def _buyer_case_page(
    request: HttpRequest,
    case: RefundCase,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = case_context(case)
    dispute_open = context["dispute_open"]
    context.update(
        {
            "can": {
                "cancel": case.is_open,
                "revise": case.status
                in (RefundStatus.WAIT_SELLER_AGREE, RefundStatus.SELLER_REFUSE_BUYER)
                and dispute_open is None,
                "ship": case.status == RefundStatus.WAIT_BUYER_RETURN_GOODS,
                "dispute": case.status == RefundStatus.SELLER_REFUSE_BUYER and dispute_open is None,
                "withdraw": dispute_open is not None,
                "message": case.is_open and not context["evidence_over"],
            },
            "errors": errors or {},
            "values": values or {},
            "viewer": "buyer",
        }
    )
    return render(request, "aftersales/case_detail.html", context, status=status)


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.case_get_for_buyer(buyer=request.user, case_id=case_id)
    return _buyer_case_page(request, case)


def _buyer_action(
    request: HttpRequest, case_id: int, form: str, call: Any, success: str
) -> HttpResponse:
    """Run one action; field errors show on the case page under that form, other refusals
    as a message after the redirect."""
    case = selectors.case_get_for_buyer(buyer=request.user, case_id=case_id)  # 404 for others
    try:
        call(case)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        if exc.extra.get("fields"):
            case = selectors.case_get_for_buyer(buyer=request.user, case_id=case_id)
            return _buyer_case_page(
                request,
                case,
                errors={form: _errors_renamed(exc)},
                values={k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"},
                status=400,
            )
        flash_error(request, exc)
    else:
        messages.success(request, success)
    return redirect(reverse("aftersales:detail", args=[case.pk]) + f"#{form}")


@login_required
@require_POST
def case_cancel(request: HttpRequest, case_id: int) -> HttpResponse:
    return _buyer_action(
        request,
        case_id,
        "cancel",
        lambda case: services.refund_cancel(buyer=request.user, case_id=case.pk),
        _("The request was withdrawn."),
    )


@login_required
@require_POST
def case_return_ship(request: HttpRequest, case_id: int) -> HttpResponse:
    return _buyer_action(
        request,
        case_id,
        "ship",
        lambda case: services.refund_return_ship(
            buyer=request.user,
            case_id=case.pk,
            carrier=_carrier(request.POST),
            tracking_no=request.POST.get("tracking_no", ""),
        ),
        _("Return shipment recorded. The seller checks the goods when they arrive."),
    )


@login_required
@require_POST
def case_dispute_open(request: HttpRequest, case_id: int) -> HttpResponse:
    return _buyer_action(
        request,
        case_id,
        "dispute",
        lambda case: services.dispute_open(
            actor=request.user, case_id=case.pk, reason=request.POST.get("reason", "")
        ),
        _("The platform will step in. Add your evidence while the case is open."),
    )


@login_required
@require_POST
def case_dispute_withdraw(request: HttpRequest, case_id: int) -> HttpResponse:
    def call(case: RefundCase) -> None:
        dispute = selectors.case_dispute(case=case)
        services.dispute_withdraw(actor=request.user, dispute_id=dispute.pk if dispute else 0)

    return _buyer_action(
        request,
        case_id,
        "withdraw",
        call,
        _("You withdrew the platform intervention; the request is closed."),
    )


@login_required
@require_POST
def case_message(request: HttpRequest, case_id: int) -> HttpResponse:
    return _buyer_action(
        request,
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
