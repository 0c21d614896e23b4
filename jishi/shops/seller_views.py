"""Seller center pages about the seller and the shop: onboarding, verification, settings, staff.

Every page shows the left navigation, limited to what the staff member's role allows.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jishi.accounts import selectors as account_selectors
from jishi.accounts import services as account_services
from jishi.accounts.models import VerificationStatus
from jishi.accounts.validators import PROVINCES
from jishi.catalog.selectors import product_summary_for_staff
from jishi.core.errors import DomainError
from jishi.core.web import flash_error, form_errors
from jishi.shops import selectors as shop_selectors
from jishi.shops import services as shop_services
from jishi.shops.models import ShopStaff, ShopType, StaffRole
from jishi.shops.permissions import membership_of, role_can, shop_require

# (url name, label, permission needed or None, group)
NAV_ITEMS: tuple[tuple[str, Any, str | None, Any], ...] = (
    ("home", gettext_lazy("Dashboard"), None, gettext_lazy("Overview")),
    ("orders", gettext_lazy("Sold orders"), "order.view", gettext_lazy("Trade")),
    ("aftersales", gettext_lazy("After-sales"), "order.view", gettext_lazy("Trade")),
    ("ratings", gettext_lazy("Ratings"), "order.view", gettext_lazy("Trade")),
    ("quality", gettext_lazy("Shop quality score"), "shop.view", gettext_lazy("Trade")),
    ("shipping", gettext_lazy("Shipping templates"), "shop.edit", gettext_lazy("Logistics")),
    ("products", gettext_lazy("My products"), "product.view", gettext_lazy("Products")),
    ("product_new", gettext_lazy("Add a product"), "product.edit", gettext_lazy("Products")),
    ("stock", gettext_lazy("Stock"), "stock.edit", gettext_lazy("Products")),
    ("finance", gettext_lazy("My money"), "finance.withdraw", gettext_lazy("Finance")),
    ("shop", gettext_lazy("Shop settings"), "shop.edit", gettext_lazy("Shop")),
    ("staff", gettext_lazy("Staff accounts"), "staff.manage", gettext_lazy("Shop")),
    ("violations", gettext_lazy("Violations and deposit"), "order.view", gettext_lazy("Shop")),
    ("verify", gettext_lazy("Real-name verification"), "shop.edit", gettext_lazy("Account")),
)


def seller_nav(membership: ShopStaff | None, active: str) -> list[dict[str, Any]]:
    """The left navigation: groups of links the member's role may use."""
    groups: list[dict[str, Any]] = []
    for name, label, permission, group in NAV_ITEMS:
        if membership is None:
            visible = name in ("home", "verify")
        elif name == "verify":  # for shop owners only: a sub-account never opens a shop
            visible = membership.role == StaffRole.OWNER
        else:
            visible = permission is None or role_can(membership.role, permission)
        if not visible:
            continue
        if not groups or groups[-1]["label"] != group:
            groups.append({"label": group, "items": []})
        if name == "home" and membership is None:
            label = gettext_lazy("Open a shop")
        groups[-1]["items"].append({"name": f"seller:{name}", "label": label, "on": name == active})
    return groups


def seller_can(membership: ShopStaff | None) -> dict[str, bool]:
    """Permission flags for templates, e.g. ``can.product_edit``."""
    names = ("shop.edit", "staff.manage", "product.view", "product.edit", "stock.edit")
    return {
        name.replace(".", "_"): bool(membership and role_can(membership.role, name))
        for name in names
    }


def seller_render(
    request: Any,
    template: str,
    context: dict[str, Any],
    *,
    active: str,
    membership: ShopStaff | None = None,
    status: int = 200,
):
    context = {
        "membership": membership,
        "shop": membership.shop if membership else None,
        "nav": seller_nav(membership, active),
        "can": seller_can(membership),
        **context,
    }
    return render(request, template, context, status=status)


def seller_page(permission: str) -> Callable:
    """Log-in required; a user without a shop goes to the onboarding page; a staff member
    whose role lacks ``permission`` gets the 403 page (Forbidden from shop_require)."""

    def decorate(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if membership_of(request.user) is None:
                return redirect("seller:home")
            membership = shop_require(request.user, permission)
            return view(request, membership, *args, **kwargs)

        return wrapper

    return decorate


def refuse_or_flash(request: Any, exc: DomainError) -> None:
    """Missing things and refused roles keep their 404/403 page; other refusals are flashed."""
    if exc.status_code in (403, 404):
        raise exc
    flash_error(request, exc)


# --- home: onboarding state machine, then the dashboard -------------------------------------


def _shop_form_context(values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"values": values or {}, "provinces": PROVINCES, "shop_types": ShopType.choices}


@login_required
def home(request):
    membership = membership_of(request.user)
    if membership is not None:
        return _dashboard(request, membership)
    verification = account_selectors.verification_latest(user=request.user)
    if verification is None or verification.status != VerificationStatus.VERIFIED:
        return seller_render(
            request,
            "seller/onboarding.html",
            {"verification": verification, "step": 1},
            active="home",
        )
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"shop_type": ShopType.C2C}
    if request.method == "POST":
        values = {
            key: request.POST.get(key, "")
            for key in ("name", "shop_type", "province", "city", "description")
        }
        try:
            shop_services.shop_open(user=request.user, logo=request.FILES.get("logo"), **values)
        except DomainError as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, _("Your shop is open. Add your first product."))
            return redirect("seller:home")
    context = {
        "verification": verification,
        "step": 2,
        "errors": errors,
        **_shop_form_context(values),
    }
    return seller_render(
        request, "seller/onboarding.html", context, active="home", status=400 if errors else 200
    )


def _dashboard(request, membership: ShopStaff):
    summary = product_summary_for_staff(actor=request.user)
    return seller_render(
        request, "seller/dashboard.html", {"summary": summary}, active="home", membership=membership
    )


# --- real-name verification -----------------------------------------------------------------

VERIFY_FIELDS = ("real_name", "id_number", "bank_name", "bank_card")


@login_required
def verify(request):
    membership = membership_of(request.user)
    staff_row = shop_selectors.staff_sub_account_of(user=request.user)
    if staff_row is not None:  # a sub-account: verification is the shop owner's business
        return seller_render(
            request,
            "seller/verify.html",
            {"staff_row": staff_row, "can_submit": False, "errors": {}, "values": {}},
            active="verify",
            membership=membership,
            status=403 if request.method == "POST" else 200,
        )
    verification = account_selectors.verification_latest(user=request.user)
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in VERIFY_FIELDS}
        try:
            account_services.verification_submit(user=request.user, **values)
        except DomainError as exc:
            errors = form_errors(exc)
            values.pop("id_number")  # never echo a full ID or card number back
            values.pop("bank_card")
        else:
            messages.success(request, _("Submitted. An operator reviews it shortly."))
            return redirect("seller:verify")
    can_submit = verification is None or verification.status == VerificationStatus.REJECTED
    return seller_render(
        request,
        "seller/verify.html",
        {
            "verification": verification,
            "can_submit": can_submit,
            "errors": errors,
            "values": values,
        },
        active="verify",
        membership=membership,
        status=400 if errors else 200,
    )


# --- shop settings --------------------------------------------------------------------------


@seller_page("shop.edit")
def shop_settings(request, membership: ShopStaff):
    shop = membership.shop
    errors: dict[str, str] = {}
    values = {
        "name": shop.name,
        "province": shop.province,
        "city": shop.city,
        "description": shop.description,
    }
    if request.method == "POST":
        values = {
            key: request.POST.get(key, "") for key in ("name", "province", "city", "description")
        }
        try:
            shop_services.shop_update(actor=request.user, logo=request.FILES.get("logo"), **values)
        except DomainError as exc:
            if exc.status_code == 403:
                raise
            errors = form_errors(exc)
        else:
            messages.success(request, _("Shop settings saved."))
            return redirect("seller:shop")
    return seller_render(
        request,
        "seller/shop_settings.html",
        {"errors": errors, **_shop_form_context(values)},
        active="shop",
        membership=membership,
        status=400 if errors else 200,
    )


# --- staff sub-accounts ---------------------------------------------------------------------

STAFF_ROLES = [
    (StaffRole.SERVICE.value, StaffRole.SERVICE.label),
    (StaffRole.WAREHOUSE.value, StaffRole.WAREHOUSE.label),
]


@seller_page("staff.manage")
def staff(request, membership: ShopStaff):
    errors: dict[str, str] = {}
    values: dict[str, str] = {"role": StaffRole.SERVICE}
    if request.method == "POST":
        values = {
            "username": request.POST.get("username", ""),
            "role": request.POST.get("role", ""),
        }
        try:
            shop_services.staff_create(
                actor=request.user, password=request.POST.get("password", ""), **values
            )
        except DomainError as exc:
            if exc.status_code == 403:
                raise
            errors = form_errors(exc)
        else:
            messages.success(
                request, _("Staff account %(name)s created.") % {"name": values["username"]}
            )
            return redirect("seller:staff")
    return seller_render(
        request,
        "seller/staff.html",
        {
            "staff_list": shop_selectors.staff_list(shop=membership.shop),
            "roles": STAFF_ROLES,
            "errors": errors,
            "values": values,
            "role_permissions": _role_summaries(),
        },
        active="staff",
        membership=membership,
        status=400 if errors else 200,
    )


def _role_summaries() -> list[tuple[Any, Any]]:
    return [
        (StaffRole.SERVICE.label, _("View products and orders, reply to chat, handle refunds.")),
        (StaffRole.WAREHOUSE.label, _("View products and orders, edit stock, ship orders.")),
    ]


@require_POST
@seller_page("staff.manage")
def staff_update(request, membership: ShopStaff, staff_id: int):
    op = request.POST.get("op", "save")
    is_active = {"deactivate": False, "activate": True}.get(op)
    if is_active is None:
        is_active = request.POST.get("is_active", "1") == "1"
    try:
        member = shop_services.staff_update(
            actor=request.user,
            staff_id=staff_id,
            role=request.POST.get("role", ""),
            is_active=is_active,
        )
    except DomainError as exc:
        refuse_or_flash(request, exc)
    else:
        messages.success(
            request, _("Staff account %(name)s updated.") % {"name": member.user.username}
        )
    return redirect("seller:staff")
