"""The operator console (运营后台): seller verification, categories and rates, moderation.

Staff only; each page needs a permission of the operator's role (operator_require), and a
missing one is the 403 page the DomainError middleware renders.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jishi.accounts import selectors as account_selectors
from jishi.accounts import services as account_services
from jishi.accounts.models import VerificationStatus
from jishi.accounts.permissions import operator_can, operator_require
from jishi.accounts.validators import phone_mask
from jishi.catalog import selectors as catalog_selectors
from jishi.catalog import services as catalog_services
from jishi.catalog.models import ProductStatus
from jishi.catalog.services import CATEGORY_DEPTH_MAX, COMMISSION_RATE_BP_MAX
from jishi.console import selectors as console_selectors
from jishi.core import clock
from jishi.core.errors import CoreError, DomainError, Forbidden, field_error
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
from jishi.shops.selectors import shop_list_public

PAGE_SIZE = 20
PLATFORM, TRADE = gettext_lazy("Platform"), gettext_lazy("Trade")
# (url name, label, permission, nav group)
NAV_ITEMS = (
    ("home", gettext_lazy("Overview"), "console.view", PLATFORM),
    ("verifications", gettext_lazy("Seller verification"), "verification.decide", PLATFORM),
    ("categories", gettext_lazy("Categories and rates"), "category.manage", PLATFORM),
    ("products", gettext_lazy("Product moderation"), "product.moderate", PLATFORM),
    ("orders", gettext_lazy("Orders"), "console.view", TRADE),
    ("ledger", gettext_lazy("Ledger and reconciliation"), "ledger.view", TRADE),
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
    return console_render(
        request,
        "console/home.html",
        {
            "stats": stats,
            "can_verify": operator_can(user, "verification.decide"),
            "can_categories": operator_can(user, "category.manage"),
            "can_moderate": operator_can(user, "product.moderate"),
            "can_ledger": operator_can(user, "ledger.view"),
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
    transfers = [
        {"t": t, "label": transfer_kind_label(t.kind)}
        for t in console_selectors.order_transfers_for_console(
            actor=request.user, order_id=order.pk
        )
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
            "audit": console_selectors.order_audit_for_console(
                actor=request.user, order_id=order.pk
            ),
            "can_ledger": operator_can(request.user, "ledger.view"),
            "now": clock.now(),
        },
        active="orders",
    )


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
