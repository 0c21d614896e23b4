"""The operator console (运营后台): seller verification, categories and rates, moderation,
orders and the ledger, and after-sales: the arbitration queue (平台介入), the case page with its
ruling, advance compensation (先行垫付) and violations; risk control: the anti-brushing review
of flagged ratings (评价审核, void or clear) and sellers' ratings of buyers (买家信用).

Staff only; each page needs a permission of the operator's role (operator_require), and a
missing one is the 403 page the DomainError middleware renders.
"""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from jishi.accounts import selectors as account_selectors
from jishi.accounts import services as account_services
from jishi.accounts.models import VerificationStatus
from jishi.accounts.permissions import operator_can, operator_require
from jishi.accounts.validators import phone_mask
from jishi.aftersales import selectors as aftersales_selectors
from jishi.aftersales import services as aftersales_services
from jishi.aftersales.models import DisputeStatus, RefundKind
from jishi.aftersales.services import advance_limit_fen, line_refundable_fen
from jishi.aftersales.views import event_label  # the wording buyer and seller read too
from jishi.catalog import selectors as catalog_selectors
from jishi.catalog import services as catalog_services
from jishi.catalog.models import ProductStatus
from jishi.catalog.services import CATEGORY_DEPTH_MAX, COMMISSION_RATE_BP_MAX
from jishi.console import selectors as console_selectors
from jishi.core import clock
from jishi.core.errors import CoreError, DomainError, Forbidden, field_error
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.web import flash_error, form_errors
from jishi.ledger.check import ledger_check
from jishi.orders.models import OrderStatus
from jishi.orders.seller_selectors import (
    SEARCH_LENGTH_MAX,
    close_reason_label,
    order_progress,
    order_timeline,
)
from jishi.payments.seller_selectors import transfer_kind_label
from jishi.ratings import selectors as ratings_selectors
from jishi.ratings import services as ratings_services
from jishi.ratings.models import ReviewStatus
from jishi.shops import services as shop_services
from jishi.shops.models import ViolationKind
from jishi.shops.selectors import shop_list_public

PAGE_SIZE = 20
PLATFORM, TRADE = gettext_lazy("Platform"), gettext_lazy("Trade")
AFTERSALES = gettext_lazy("After-sales")
RISK = gettext_lazy("Risk control and ratings")
# (url name, label, permission, nav group)
NAV_ITEMS = (
    ("home", gettext_lazy("Overview"), "console.view", PLATFORM),
    ("verifications", gettext_lazy("Seller verification"), "verification.decide", PLATFORM),
    ("categories", gettext_lazy("Categories and rates"), "category.manage", PLATFORM),
    ("products", gettext_lazy("Product moderation"), "product.moderate", PLATFORM),
    ("orders", gettext_lazy("Orders"), "console.view", TRADE),
    ("ledger", gettext_lazy("Ledger and reconciliation"), "ledger.view", TRADE),
    ("disputes", gettext_lazy("Arbitration"), "dispute.rule", AFTERSALES),
    ("violations", gettext_lazy("Violations"), "console.view", AFTERSALES),
    ("ratings", gettext_lazy("Rating review"), "rating.review", RISK),
    ("buyer_ratings", gettext_lazy("Buyer credit"), "rating.review", RISK),
)
VERIFICATION_TABS = (
    (VerificationStatus.PENDING, gettext_lazy("Pending")),
    (VerificationStatus.VERIFIED, gettext_lazy("Approved")),
    (VerificationStatus.REJECTED, gettext_lazy("Rejected")),
)
PRODUCT_TABS = (
    (ProductStatus.LISTED, gettext_lazy("On sale")),
    (ProductStatus.BANNED, gettext_lazy("Taken down")),
    ("all", gettext_lazy("All")),
)


def console_page(permission: str) -> Callable:
    """Log-in required, staff only, and the operator's role must grant ``permission``."""

    def decorate(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_staff:
                raise Forbidden(
                    CoreError.FORBIDDEN, _("The operator console is for platform staff only.")
                )
            operator_require(request.user, permission)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def console_render(
    request: Any, template: str, context: dict[str, Any], *, active: str, status: int = 200
):
    nav = [
        {"name": f"console:{name}", "label": label, "on": name == active, "group": group}
        for name, label, permission, group in NAV_ITEMS
        if operator_can(request.user, permission)
    ]
    return render(request, template, {"nav": nav, **context}, status=status)


def _refuse_or_flash(request: Any, exc: DomainError) -> None:
    if exc.status_code == 403:
        raise exc
    flash_error(request, exc)


def _redirect_back(request: Any, default: str):
    back = request.POST.get("back", "")
    if back.startswith(reverse(default)) and "//" not in back:
        return redirect(back)
    return redirect(default)


# --- overview -------------------------------------------------------------------------------


@console_page("console.view")
def home(request):
    user = request.user
    stats = {
        "pending": account_selectors.verification_queue().count(),
        "shops": shop_list_public().count(),
        "listed": catalog_selectors.product_list_for_console(status=ProductStatus.LISTED).count(),
        "categories": len(catalog_selectors.category_list_for_console()),
    }
    can_review_ratings = operator_can(user, "rating.review")
    if can_review_ratings:
        counts = ratings_selectors.review_tab_counts(actor=user)
        stats["ratings_pending"] = counts[ReviewStatus.PENDING]
    return console_render(
        request,
        "console/home.html",
        {
            "stats": stats,
            "can_verify": operator_can(user, "verification.decide"),
            "can_categories": operator_can(user, "category.manage"),
            "can_moderate": operator_can(user, "product.moderate"),
            "can_ledger": operator_can(user, "ledger.view"),
            "can_rule": operator_can(user, "dispute.rule"),
            "can_review_ratings": can_review_ratings,
        },
        active="home",
    )


# --- seller verification --------------------------------------------------------------------


@console_page("verification.decide")
def verifications(request):
    status = request.GET.get("status", VerificationStatus.PENDING)
    if status not in VerificationStatus.values:
        status = VerificationStatus.PENDING
    queue = account_selectors.verification_queue(status=status)
    if status == VerificationStatus.PENDING:
        queue = queue.order_by("id")  # oldest first: first come, first served
    tabs = [
        {
            "status": value,
            "label": label,
            "on": value == status,
            "count": account_selectors.verification_queue(status=value).count()
            if value == VerificationStatus.PENDING
            else None,
        }
        for value, label in VERIFICATION_TABS
    ]
    return console_render(
        request,
        "console/verifications.html",
        {
            "page": page_of(queue, request.GET.get("page"), page_size=PAGE_SIZE),
            "tabs": tabs,
            "status": status,
            "back": request.get_full_path(),
        },
        active="verifications",
    )


@require_POST
@console_page("verification.decide")
def verification_decide(request, verification_id: int):
    approve = request.POST.get("decision") == "approve"
    try:
        record = account_services.verification_decide(
            operator=request.user,
            verification_id=verification_id,
            approve=approve,
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        if exc.code == CoreError.FIELD_REQUIRED:
            messages.error(request, _("Give a reason when you reject a verification."))
        else:
            _refuse_or_flash(request, exc)
    else:
        if approve:
            messages.success(request, _("%(name)s is verified.") % {"name": record.real_name})
        else:
            messages.success(request, _("%(name)s was rejected.") % {"name": record.real_name})
    return _redirect_back(request, "console:verifications")


# --- categories and commission rates --------------------------------------------------------


def percent_to_bp(text: Any) -> int:
    """'2.5' (percent) -> 250 basis points, exactly; refuses anything but 0–50 with ≤ 2
    decimals."""
    text = str(text or "").strip().removesuffix("%").strip()
    whole, _dot, frac = text.partition(".")
    if not whole.isdecimal() or (frac and not frac.isdecimal()) or len(frac) > 2:
        raise field_error(
            "rate_percent", _("Enter the rate in percent, e.g. 2 or 2.5."), CoreError.VALIDATION
        )
    bp = int(whole) * 100 + int((frac + "00")[:2])
    if bp > COMMISSION_RATE_BP_MAX:
        raise field_error(
            "rate_percent",
            _("A commission rate is at most %(max)s%%.") % {"max": COMMISSION_RATE_BP_MAX // 100},
            CoreError.OUT_OF_RANGE,
        )
    return bp


def _category_errors(exc: DomainError) -> dict[str, str]:
    errors = form_errors(exc)
    if "commission_rate_bp" in errors:
        errors["rate_percent"] = errors.pop("commission_rate_bp")
    return errors


CATEGORY_FIELDS = ("name", "name_en", "icon", "rate_percent", "position")


def _category_values(post: Any) -> dict[str, str]:
    return {key: post.get(key, "") for key in CATEGORY_FIELDS}


@console_page("category.manage")
def categories(request):
    errors: dict[str, str] = {}
    values: dict[str, str] = {"rate_percent": "2", "position": "0", "parent_id": ""}
    if request.method == "POST":
        values = {**_category_values(request.POST), "parent_id": request.POST.get("parent_id", "")}
        try:
            category = catalog_services.category_create(
                operator=request.user,
                parent_id=int(values["parent_id"]) if values["parent_id"].isdecimal() else None,
                name=values["name"],
                name_en=values["name_en"],
                icon=values["icon"],
                commission_rate_bp=percent_to_bp(values["rate_percent"]),
                position=values["position"] or 0,
            )
        except DomainError as exc:
            if exc.status_code == 403:
                raise
            errors = _category_errors(exc)
        else:
            messages.success(request, _("Category %(name)s created.") % {"name": category.name})
            return redirect("console:categories")
    tree = catalog_selectors.category_list_for_console()
    return console_render(
        request,
        "console/categories.html",
        {
            "tree": tree,
            "parents": [c for c in tree if c.depth < CATEGORY_DEPTH_MAX],
            "errors": errors,
            "values": values,
        },
        active="categories",
        status=400 if errors else 200,
    )


@console_page("category.manage")
def category_edit(request, category_id: int):
    category = catalog_selectors.category_get_for_console(category_id=category_id)
    errors: dict[str, str] = {}
    values = {
        "name": category.name,
        "name_en": category.name_en,
        "icon": category.icon,
        "rate_percent": category.commission_percent,
        "position": str(category.position),
        "is_active": category.is_active,
    }
    if request.method == "POST":
        values = {
            **_category_values(request.POST),
            "is_active": request.POST.get("is_active") == "1",
        }
        try:
            category = catalog_services.category_update(
                operator=request.user,
                category_id=category.pk,
                name=values["name"],
                name_en=values["name_en"],
                icon=values["icon"],
                commission_rate_bp=percent_to_bp(values["rate_percent"]),
                position=values["position"] or 0,
                is_active=values["is_active"],
            )
        except DomainError as exc:
            if exc.status_code == 403:
                raise
            errors = _category_errors(exc)
        else:
            messages.success(
                request,
                _("Category %(name)s saved; the rate applies to orders placed from now on.")
                % {"name": category.name},
            )
            return redirect("console:categories")
    return console_render(
        request,
        "console/category_edit.html",
        {
            "category": category,
            "path": catalog_selectors.category_path(category),
            "errors": errors,
            "values": values,
        },
        active="categories",
        status=400 if errors else 200,
    )


# --- product moderation ---------------------------------------------------------------------


@console_page("product.moderate")
def products(request):
    status = request.GET.get("status", ProductStatus.LISTED)
    if status not in (ProductStatus.LISTED, ProductStatus.BANNED, "all"):
        status = ProductStatus.LISTED
    q = request.GET.get("q", "")[: catalog_selectors.KEYWORD_LENGTH_MAX].strip()
    qs = catalog_selectors.product_list_for_console(q=q, status="" if status == "all" else status)
    return console_render(
        request,
        "console/products.html",
        {
            "page": page_of(qs, request.GET.get("page"), page_size=PAGE_SIZE),
            "tabs": [
                {"status": value, "label": label, "on": value == status}
                for value, label in PRODUCT_TABS
            ],
            "status": status,
            "q": q,
            "back": request.get_full_path(),
        },
        active="products",
    )


@require_POST
@console_page("product.moderate")
def product_take_down(request, product_id: int):
    try:
        product = catalog_services.product_take_down(
            operator=request.user, product_id=product_id, reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        if exc.code == CoreError.FIELD_REQUIRED:
            messages.error(request, _("Give a reason for taking a product down."))
        else:
            _refuse_or_flash(request, exc)
    else:
        messages.success(
            request,
            _("“%(title)s” was taken down; the seller is told why.") % {"title": product.title},
        )
    return _redirect_back(request, "console:products")


@require_POST
@console_page("product.moderate")
def product_feature(request, product_id: int):
    featured = request.POST.get("featured") == "1"
    try:
        product = catalog_services.product_feature(
            operator=request.user, product_id=product_id, featured=featured
        )
    except DomainError as exc:
        _refuse_or_flash(request, exc)
    else:
        if featured:
            messages.success(
                request, _("“%(title)s” is featured on the home page.") % {"title": product.title}
            )
        else:
            messages.success(
                request, _("“%(title)s” is no longer featured.") % {"title": product.title}
            )
    return _redirect_back(request, "console:products")


# --- trade: orders and the ledger -----------------------------------------------------------

ORDER_PAGE_SIZE = 30


@console_page("console.view")
def orders(request):
    q = request.GET.get("q", "")[:SEARCH_LENGTH_MAX].strip()
    status = request.GET.get("status", "")
    if status not in OrderStatus.values and status != "late":
        status = ""
    qs = console_selectors.order_list_for_console(actor=request.user, q=q, status=status)
    statuses = [("", gettext_lazy("All statuses")), *OrderStatus.choices]
    statuses.append(("late", gettext_lazy("Late shipment")))
    return console_render(
        request,
        "console/orders.html",
        {
            "page": page_of(qs, request.GET.get("page"), page_size=ORDER_PAGE_SIZE),
            "q": q,
            "status": status,
            "statuses": statuses,
            "now": clock.now(),
        },
        active="orders",
    )


@console_page("console.view")
def order_detail(request, order_id: int):
    order = console_selectors.order_get_for_console(actor=request.user, order_id=order_id)
    return _order_page(request, order)


def _advance_state(order: Any) -> dict[str, Any]:
    """Whether advance compensation can be paid on the order now, and if not, why."""
    remaining = advance_limit_fen(order)
    reason = ""
    if order.status != OrderStatus.TRADE_FINISHED:
        reason = _(
            "Advance compensation is only for completed orders (the money was released to the "
            "shop). Before that the escrow still holds the money: rule on the after-sales case "
            "instead."
        )
    elif remaining <= 0:
        reason = _("Nothing is left to refund on this order.")
    return {"available": not reason, "reason": reason, "remaining_fen": remaining}


def _order_page(
    request: Any,
    order: Any,
    *,
    advance_errors: dict[str, str] | None = None,
    advance_values: dict[str, str] | None = None,
    status: int = 200,
):
    user = request.user
    transfers = [
        {"t": t, "label": transfer_kind_label(t.kind)}
        for t in console_selectors.order_transfers_for_console(actor=user, order_id=order.pk)
    ]
    return console_render(
        request,
        "console/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "phone_masked": phone_mask(order.phone),
            "timeline": order_timeline(order),
            "progress": order_progress(order),
            "close_reason": close_reason_label(order.close_reason),
            "transfers": transfers,
            "audit": console_selectors.order_audit_for_console(actor=user, order_id=order.pk),
            "cases": console_selectors.order_cases_for_console(actor=user, order_id=order.pk),
            "debts": list(console_selectors.order_debts_for_console(actor=user, order_id=order.pk)),
            "advance": _advance_state(order),
            "advance_errors": advance_errors or {},
            "advance_values": advance_values or {"amount": "", "reason": ""},
            "advance_key": uuid.uuid4().hex,
            "can_ledger": operator_can(user, "ledger.view"),
            "can_advance": operator_can(user, "advance.pay"),
            "can_rule": operator_can(user, "dispute.rule"),
            "now": clock.now(),
        },
        active="orders",
        status=status,
    )


IDEMPOTENCY_KEY_LENGTH_MAX = 64


@require_POST
@console_page("advance.pay")
def order_advance(request, order_id: int):
    """Advance compensation (先行垫付): the platform pays the buyer now and recovers the
    amount from the shop."""
    order = console_selectors.order_get_for_console(actor=request.user, order_id=order_id)
    values = {key: request.POST.get(key, "").strip() for key in ("amount", "reason")}
    # One key per form shown, so a double click or a resubmission pays once.
    key = request.POST.get("idempotency_key", "")[:IDEMPOTENCY_KEY_LENGTH_MAX]
    errors: dict[str, str] = {}
    try:
        amount_fen = parse_yuan(values["amount"])
    except ValueError:
        errors["amount"] = _("Enter an amount in yuan, e.g. 30 or 29.50.")
    else:
        try:
            order = aftersales_services.advance_pay(
                operator=request.user,
                order_id=order.pk,
                amount_fen=amount_fen,
                reason=values["reason"],
                idempotency_key=key,
            )
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            if not exc.extra.get("fields"):  # e.g. not a completed order, nothing left
                flash_error(request, exc)
                return redirect("console:order", order.pk)
            errors = form_errors(exc)
            if "amount_fen" in errors:
                errors["amount"] = errors.pop("amount_fen")
        else:
            messages.success(
                request,
                _(
                    "¥%(amount)s paid to the buyer in advance. It is recovered from the shop: "
                    "the balance, then the deposit, then its next income."
                )
                % {"amount": format_fen(amount_fen)},
            )
            return redirect("console:order", order.pk)
    order = console_selectors.order_get_for_console(actor=request.user, order_id=order.pk)
    return _order_page(request, order, advance_errors=errors, advance_values=values, status=400)


@console_page("ledger.view")
def ledger(request):
    report = None
    if request.method == "POST":
        report = ledger_check()
    return console_render(
        request,
        "console/ledger.html",
        {
            "overview": console_selectors.ledger_overview(actor=request.user),
            "report": report,
            "checked_at": clock.now() if report is not None else None,
        },
        active="ledger",
    )


# --- after-sales: arbitration (平台介入) -------------------------------------------------------

DISPUTE_PAGE_SIZE = 20
DISPUTE_TABS = (
    ("requested", pgettext_lazy("dispute tab", "To take")),
    ("evidence", pgettext_lazy("dispute tab", "Evidence phase")),
    ("ready", pgettext_lazy("dispute tab", "Ready to rule")),
    ("ruled", pgettext_lazy("dispute tab", "Ruled")),
    ("withdrawn", pgettext_lazy("dispute tab", "Withdrawn")),
)


def _yuan_input(fen: int) -> str:
    """1250 -> '12.50', for a form field (no thousands separator)."""
    return f"{fen // 100}.{fen % 100:02d}"


def _dispute_back(request: Any, dispute_id: int):
    """Back to the page the form was on (the queue or the case), else the case page."""
    back = request.POST.get("back", "")
    if back.startswith(reverse("console:disputes")) and "//" not in back:
        return redirect(back)
    return redirect("console:dispute", dispute_id)


@console_page("dispute.rule")
def disputes(request):
    tab = request.GET.get("tab", "requested")
    if tab not in dict(DISPUTE_TABS):
        tab = "requested"
    mine = request.GET.get("mine") == "1"
    qs = aftersales_selectors.disputes_for_console(
        actor=request.user, tab=tab, mine=mine
    ).select_related("opened_by")
    counts = aftersales_selectors.dispute_tab_counts(actor=request.user)
    return console_render(
        request,
        "console/disputes.html",
        {
            "page": page_of(qs, request.GET.get("page"), page_size=DISPUTE_PAGE_SIZE),
            "tabs": [
                {"tab": value, "label": label, "on": value == tab, "count": counts.get(value)}
                for value, label in DISPUTE_TABS
            ],
            "tab": tab,
            "mine": mine,
            "now": clock.now(),
            "back": request.get_full_path(),
        },
        active="disputes",
    )


def _dispute_page(
    request: Any,
    dispute: Any,
    *,
    rule_errors: dict[str, str] | None = None,
    rule_values: dict[str, Any] | None = None,
    message_errors: dict[str, str] | None = None,
    message_value: str = "",
    status: int = 200,
):
    user = request.user
    case = dispute.case
    order = console_selectors.order_get_for_console(actor=user, order_id=case.order_id)
    lines = list(order.lines.all())
    line = next(x for x in lines if x.pk == case.line_id)
    refundable = line_refundable_fen(order, line)
    if rule_values is None:
        # Grant what the buyer asked by default; an exchange (or an amount no longer
        # refundable) defaults to everything still refundable on the line.
        asked = case.amount_fen if case.kind != RefundKind.EXCHANGE else 0
        prefill = asked if 0 < asked <= refundable else refundable
        rule_values = {
            "decision": "",
            "amount": _yuan_input(prefill),
            "not_as_described": False,
            "reason": "",
        }
    events = [
        {"e": event, "label": event_label(event.action)}
        for event in aftersales_selectors.case_events(case=case)
    ]
    transfers = [
        {"t": t, "label": transfer_kind_label(t.kind)}
        for t in console_selectors.order_transfers_for_console(actor=user, order_id=order.pk)
    ]
    return console_render(
        request,
        "console/dispute_detail.html",
        {
            "dispute": dispute,
            "case": case,
            "order": order,
            "lines": lines,
            "refundable_fen": refundable,
            "events": events,
            "transfers": transfers,
            "phone_masked": phone_mask(order.phone),
            "close_reason": close_reason_label(order.close_reason),
            "rule_errors": rule_errors or {},
            "rule_values": rule_values,
            "message_errors": message_errors or {},
            "message_value": message_value,
            "can_ledger": operator_can(user, "ledger.view"),
            "now": clock.now(),
        },
        active="disputes",
        status=status,
    )


@console_page("dispute.rule")
def dispute_detail(request, dispute_id: int):
    dispute = aftersales_selectors.dispute_get_for_console(
        actor=request.user, dispute_id=dispute_id
    )
    return _dispute_page(request, dispute)


@require_POST
@console_page("dispute.rule")
def dispute_take(request, dispute_id: int):
    dispute = aftersales_selectors.dispute_get_for_console(
        actor=request.user, dispute_id=dispute_id
    )
    try:
        dispute = aftersales_services.dispute_take(operator=request.user, dispute_id=dispute.pk)
    except DomainError as exc:
        _refuse_or_flash(request, exc)
    else:
        messages.success(
            request,
            _("You took case %(case)s. Both sides may add evidence until %(time)s.")
            % {
                "case": dispute.case_id,
                "time": formats.date_format(
                    timezone.localtime(dispute.evidence_deadline), "Y-m-d H:i"
                ),
            },
        )
    return _dispute_back(request, dispute.pk)


@require_POST
@console_page("dispute.rule")
def dispute_message(request, dispute_id: int):
    dispute = aftersales_selectors.dispute_get_for_console(
        actor=request.user, dispute_id=dispute_id
    )
    text = request.POST.get("text", "")
    try:
        aftersales_services.case_message_add(
            actor=request.user,
            case_id=dispute.case_id,
            text=text,
            images=request.FILES.getlist("images"),
        )
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        if not exc.extra.get("fields"):
            flash_error(request, exc)
            return redirect("console:dispute", dispute.pk)
        return _dispute_page(
            request, dispute, message_errors=form_errors(exc), message_value=text, status=400
        )
    messages.success(request, _("Message added to the case history; both sides see it."))
    return redirect(reverse("console:dispute", args=[dispute.pk]) + "#history")


@require_POST
@console_page("dispute.rule")
def dispute_rule(request, dispute_id: int):
    dispute = aftersales_selectors.dispute_get_for_console(
        actor=request.user, dispute_id=dispute_id
    )
    values = {
        "decision": request.POST.get("decision", ""),
        "amount": request.POST.get("amount", "").strip(),
        "not_as_described": request.POST.get("not_as_described") == "1",
        "reason": request.POST.get("reason", ""),
    }
    errors: dict[str, str] = {}
    amount_fen = None
    # (a case not in its evidence phase gets the service's status message instead)
    if values["decision"] == "buyer" and dispute.status == DisputeStatus.EVIDENCE:
        try:
            amount_fen = parse_yuan(values["amount"])
        except ValueError:
            errors["amount"] = _("Enter an amount in yuan, e.g. 30 or 29.50.")
    if not errors:
        try:
            dispute = aftersales_services.dispute_rule(
                operator=request.user,
                dispute_id=dispute.pk,
                decision=values["decision"],
                reason=values["reason"],
                amount_fen=amount_fen,
                not_as_described=values["decision"] == "buyer" and values["not_as_described"],
            )
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            dispute = aftersales_selectors.dispute_get_for_console(
                actor=request.user, dispute_id=dispute.pk
            )
            if dispute.status != DisputeStatus.EVIDENCE:  # ruled, not taken yet, withdrawn:
                flash_error(request, exc)  # no ruling form on the page; say why at the top
                return redirect("console:dispute", dispute.pk)
            errors = form_errors(exc)
            if "amount_fen" in errors:
                errors["amount"] = errors.pop("amount_fen")
        else:
            if dispute.status == DisputeStatus.RULED_BUYER:
                message = _("Ruled for the buyer: ¥%(amount)s refunded to the buyer's wallet.") % {
                    "amount": format_fen(dispute.ruling_amount_fen)
                }
            else:
                message = _("Ruled for the seller: the request is closed.")
            messages.success(request, message)
            return redirect("console:dispute", dispute.pk)
    return _dispute_page(request, dispute, rule_errors=errors, rule_values=values, status=400)


# --- after-sales: violations ------------------------------------------------------------------

VIOLATION_PAGE_SIZE = 30
VIOLATION_FIELDS = ("shop_id", "kind", "points", "order_id", "note")
ID_DIGITS_MAX = 18


def _id_or_none(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdecimal() and len(text) <= ID_DIGITS_MAX else None


def _violation_record(request: Any, values: dict[str, str]) -> dict[str, str]:
    """Record a violation from the form; returns the form errors (empty on success)."""
    errors: dict[str, str] = {}
    shop_id = _id_or_none(values["shop_id"])
    if shop_id is None:
        errors["shop_id"] = _("Enter the shop's ID (a number).")
    order_id = None
    if values["order_id"]:
        order_id = _id_or_none(values["order_id"])
        if order_id is None:
            errors["order_id"] = _("Enter an order number, or leave it empty.")
    if errors:
        return errors
    if order_id is not None:
        try:
            order = console_selectors.order_get_for_console(actor=request.user, order_id=order_id)
        except DomainError:
            return {"order_id": _("No order has this number.")}
        if order.shop_id != shop_id:
            return {"order_id": _("This order belongs to another shop.")}
    started = clock.now()
    try:
        violation = shop_services.violation_record(
            actor=request.user,
            shop_id=shop_id,
            kind=values["kind"],
            points=values["points"],
            order_id=order_id,
            note=values["note"],
        )
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        if exc.status_code == 404:
            return {"shop_id": _("No shop has this ID.")}
        return form_errors(exc)
    if violation.created_at < started:  # one of a kind per order: the service kept the first
        messages.warning(
            request,
            _(
                "Order %(order)s already has a violation of this kind (recorded %(time)s); "
                "nothing new was recorded."
            )
            % {
                "order": order_id,
                "time": formats.date_format(timezone.localtime(violation.created_at), "Y-m-d H:i"),
            },
        )
    else:
        messages.success(
            request,
            _("Violation recorded against %(shop)s: %(points)s points. The seller is told.")
            % {"shop": violation.shop.name, "points": violation.points},
        )
    return {}


@console_page("console.view")
def violations(request):
    can_record = operator_can(request.user, "violation.record")
    errors: dict[str, str] = {}
    values = {"shop_id": request.GET.get("shop", ""), "kind": ViolationKind.OTHER}
    values.update({"points": "", "order_id": "", "note": ""})
    if request.method == "POST":
        operator_require(request.user, "violation.record")
        values = {key: request.POST.get(key, "").strip() for key in VIOLATION_FIELDS}
        errors = _violation_record(request, values)
        if not errors:
            shop = _id_or_none(values["shop_id"])
            return redirect(reverse("console:violations") + f"?shop={shop}")
    shop_filter = _id_or_none(request.GET.get("shop", ""))
    qs = aftersales_selectors.violations_for_console(actor=request.user, shop_id=shop_filter)
    page = page_of(qs, request.GET.get("page"), page_size=VIOLATION_PAGE_SIZE)
    shop_points = None
    if shop_filter is not None:
        shop_points = aftersales_selectors.shop_violation_points(shop_id=shop_filter)
    return console_render(
        request,
        "console/violations.html",
        {
            "page": page,
            "shop_filter": shop_filter,
            "shop_name": next((v.shop.name for v in page.object_list), "") if shop_filter else "",
            "shop_points": shop_points,
            "kinds": [
                {
                    "value": value,
                    "label": label,
                    "points": shop_services.violation_points_default(value),
                }
                for value, label in ViolationKind.choices
            ],
            "can_record": can_record,
            "errors": errors,
            "values": values,
        },
        active="violations",
        status=400 if errors else 200,
    )


# --- risk control: the anti-brushing review of ratings, and buyers' credit ------------------

RATING_PAGE_SIZE = 20
REVIEW_TABS = (
    (ReviewStatus.PENDING, pgettext_lazy("rating review tab", "To review")),
    (ReviewStatus.CLEARED, pgettext_lazy("rating review tab", "Cleared")),
    (ReviewStatus.VOIDED, pgettext_lazy("rating review tab", "Voided")),
)
# What each anti-brushing signal (ratings.services.brushing_flags) means, for the operator.
FLAG_LABELS = {
    "own_shop": gettext_lazy("The buyer is a member of the shop"),
    "same_address": gettext_lazy("Delivery address same as a shop member's"),
    "same_device": gettext_lazy("Same device as a shop member"),
    "same_payment_source": gettext_lazy("Same payment source as a shop member"),
    "new_accounts": gettext_lazy("Many orders from newly registered accounts"),
    "quick_confirm": gettext_lazy("Receipt confirmed minutes after shipment"),
    "tiny_price": gettext_lazy("Item price too low"),
}
# Why a rating adds no points to the rated party's credit.
UNCOUNTED_LABELS = {
    "same_item": gettext_lazy("same item by the same buyer within 14 days"),
    "month_cap": gettext_lazy("the pair's 6 points this month are used up"),
    "removed": gettext_lazy("removed by its author"),
    "voided": gettext_lazy("voided by an operator"),
}


def flag_labels(flags: Any) -> list[dict[str, Any]]:
    return [
        {"code": code, "label": FLAG_LABELS.get(code, code)}
        for code in (flags if isinstance(flags, list) else [])
    ]


def _rating_row(rating: Any) -> dict[str, Any]:
    return {
        "r": rating,
        "flags": flag_labels(rating.flags),
        "uncounted": UNCOUNTED_LABELS.get(rating.uncounted_reason, rating.uncounted_reason),
    }


@console_page("rating.review")
def ratings(request):
    tab = request.GET.get("tab", ReviewStatus.PENDING)
    if tab not in dict(REVIEW_TABS):
        tab = ReviewStatus.PENDING
    qs = ratings_selectors.ratings_for_review(actor=request.user, status=tab)
    qs = qs.select_related("shop__credit", "line")
    if tab != ReviewStatus.PENDING:  # the latest decisions first; the queue oldest first
        qs = qs.order_by("-reviewed_at", "-id")
    counts = ratings_selectors.review_tab_counts(actor=request.user)
    page = page_of(qs, request.GET.get("page"), page_size=RATING_PAGE_SIZE)
    return console_render(
        request,
        "console/ratings.html",
        {
            "page": page,
            "rows": [_rating_row(r) for r in page.object_list],
            "tabs": [
                {"tab": value, "label": label, "on": value == tab, "count": counts.get(value)}
                for value, label in REVIEW_TABS
            ],
            "tab": tab,
        },
        active="ratings",
    )


def _rating_page(
    request: Any,
    rating: Any,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
):
    user = request.user
    order = rating.order
    next_pending = (
        ratings_selectors.ratings_for_review(actor=user, status=ReviewStatus.PENDING)
        .exclude(pk=rating.pk)
        .first()
    )
    return console_render(
        request,
        "console/rating_detail.html",
        {
            "rating": rating,
            "row": _rating_row(rating),
            "order": order,
            "lines": list(order.lines.all()),
            "phone_masked": phone_mask(order.phone),
            "other_orders": ratings_selectors.orders_of_buyer_with_shop_for_console(
                actor=user, buyer_id=rating.buyer_id, shop_id=rating.shop_id
            ),
            "can_void": rating.review_status != ReviewStatus.VOIDED,
            "can_clear": rating.review_status == ReviewStatus.PENDING,
            "errors": errors or {},
            "values": values or {"decision": "", "reason": ""},
            "next_pending": next_pending,
            "now": clock.now(),
        },
        active="ratings",
        status=status,
    )


@console_page("rating.review")
def rating_detail(request, rating_id: int):
    rating = ratings_selectors.rating_get_for_console(actor=request.user, rating_id=rating_id)
    return _rating_page(request, rating)


@require_POST
@console_page("rating.review")
def rating_review(request, rating_id: int):
    rating = ratings_selectors.rating_get_for_console(actor=request.user, rating_id=rating_id)
    values = {
        "decision": request.POST.get("decision", ""),
        "reason": request.POST.get("reason", ""),
    }
    try:
        rating = ratings_services.rating_review(
            operator=request.user,
            rating_id=rating.pk,
            decision=values["decision"],
            reason=values["reason"],
        )
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        if not exc.extra.get("fields"):  # decided already (e.g. by another operator)
            flash_error(request, exc)
            return redirect("console:rating", rating.pk)
        errors = form_errors(exc)
        if errors.get("reason") and exc.code == CoreError.FIELD_REQUIRED:
            errors["reason"] = _("Give a reason for the decision; it is kept with the rating.")
        rating = ratings_selectors.rating_get_for_console(actor=request.user, rating_id=rating.pk)
        return _rating_page(request, rating, errors=errors, values=values, status=400)
    if rating.review_status == ReviewStatus.VOIDED:
        message = _(
            "Rating %(rating)s (order %(order)s) is voided: it no longer counts toward "
            "credit. The shop is told why."
        )
    else:
        message = _("Rating %(rating)s (order %(order)s) is cleared: it counts as before.")
    messages.success(request, message % {"rating": rating.pk, "order": rating.order_id})
    return redirect("console:rating", rating.pk)


BUYER_RATING_PAGE_SIZE = 30
BUYER_SEARCH_LENGTH_MAX = 50


@console_page("rating.review")
def buyer_ratings(request):
    q = request.GET.get("q", "")[:BUYER_SEARCH_LENGTH_MAX].strip()
    buyer_id = _id_or_none(request.GET.get("buyer", ""))
    qs = ratings_selectors.buyer_ratings_for_console(actor=request.user, q=q, buyer_id=buyer_id)
    qs = qs.select_related("buyer__buyer_credit")
    page = page_of(qs, request.GET.get("page"), page_size=BUYER_RATING_PAGE_SIZE)
    buyer = None
    if buyer_id is not None:
        buyer = {
            "id": buyer_id,
            "name": next((r.buyer.username for r in page.object_list), ""),
            "summary": ratings_selectors.buyer_rating_summary(user_id=buyer_id),
        }
    return console_render(
        request,
        "console/buyer_ratings.html",
        {"page": page, "q": q, "buyer": buyer},
        active="buyer_ratings",
    )
