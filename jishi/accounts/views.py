"""Account pages: register, log in / out, my account (security), addresses, message box.

Views only call jishi.accounts.services (writes) and selectors (reads) and render. A refused
input (DomainError) is shown next to its field; a missing object becomes a 404 page.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from jishi.accounts import selectors, services
from jishi.accounts.validators import PROVINCES, phone_mask
from jishi.core.errors import DomainError, field_error
from jishi.core.pagination import page_of
from jishi.core.web import form_errors
from jishi.shops.selectors import staff_sub_account_of

NOTIFICATIONS_PAGE_SIZE = 20
CONFIRM_MISMATCH = "confirmation_mismatch"
ADDRESS_FIELDS = services.ADDRESS_FIELDS


def _safe_next(request: HttpRequest) -> str:
    """The ``next`` parameter when it points at this site, else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _next_url(request: HttpRequest) -> str:
    """Where to go after logging in or registering: a safe ``next``, else the home page."""
    return _safe_next(request) or reverse("storefront:home")


# --- register, log in, log out ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    values = {"username": "", "phone": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in values}
        password = request.POST.get("password", "")
        password2 = request.POST.get("password2", "")
        if password != password2:
            errors["password2"] = _("The two passwords do not match.")
        else:
            try:
                user = services.user_register(
                    username=values["username"], password=password, phone=values["phone"]
                )
            except DomainError as exc:
                errors = form_errors(exc)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, _("Welcome to Jishi, %(name)s!") % {"name": user.username}
                )
                return redirect(_next_url(request))
        status = 400
    return render(
        request,
        "accounts/register.html",
        {
            "values": values,
            "errors": errors,
            "next": _safe_next(request),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    username = ""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        try:
            user = services.user_authenticate(
                request=request, username=username, password=request.POST.get("password", "")
            )
        except DomainError as exc:
            errors = form_errors(exc)
            status = 400
        else:
            login(request, user)
            return redirect(_next_url(request))
    return render(
        request,
        "accounts/login.html",
        {
            "username": username,
            "errors": errors,
            "next": _safe_next(request),
        },
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("storefront:home")


# --- my account: overview and security ----------------------------------------------------------

SETTINGS_ACTIONS = ("password", "pin", "bank_card", "token_create", "token_revoke")


def _settings_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    verification = selectors.verification_latest(user=user)
    return {
        "nav": "settings",
        "phone_masked": phone_mask(user.phone) if user.phone else "",
        "pin": selectors.payment_pin_status(user=user),
        "verification": verification,
        "is_verified": selectors.user_is_verified(user=user),
        # A shop's staff sub-account never verifies or withdraws: those rows are hidden.
        "is_staff_account": staff_sub_account_of(user=user) is not None,
        "bank_card": selectors.bank_card_active(user=user),
        "tokens": list(selectors.api_token_list_for_user(user=user)),
        "address_count": selectors.address_list_for_user(user=user).count(),
        "unread_count": selectors.notification_unread_count(user=user),
        "errors": {},
        "values": {},
        "form": "",
        **extra,
    }


def _settings_action(request: HttpRequest, action: str) -> tuple[str | None, dict[str, Any]]:
    """Run one form's service. Returns (success message or None, extra context)."""
    user = request.user
    post = request.POST
    if action == "password":
        new_password = post.get("new_password", "")
        if new_password != post.get("new_password2", ""):
            raise field_error(
                "new_password2", _("The two passwords do not match."), CONFIRM_MISMATCH
            )
        services.password_change(
            user=user, old_password=post.get("old_password", ""), new_password=new_password
        )
        update_session_auth_hash(request, user)  # stay logged in on this device
        return _("Your login password was changed."), {}
    if action == "pin":
        pin = post.get("pin", "").strip()
        if pin != post.get("pin2", "").strip():
            raise field_error("pin2", _("The two PINs do not match."), CONFIRM_MISMATCH)
        was_set = selectors.payment_pin_status(user=user).is_set
        services.payment_pin_set(user=user, password=post.get("password", ""), pin=pin)
        return (
            _("Your payment PIN was changed.") if was_set else _("Your payment PIN was set.")
        ), {}
    if action == "bank_card":
        card = services.bank_card_change(
            user=user,
            password=post.get("password", ""),
            bank_name=post.get("bank_name", ""),
            card_number=post.get("card_number", ""),
        )
        return _("Withdrawals now go to %(bank)s %(card)s.") % {
            "bank": card.bank_name,
            "card": card.card_masked,
        }, {}
    if action == "token_create":
        token, key = services.api_token_create(
            user=user, password=post.get("password", ""), name=post.get("name", "")
        )
        return None, {"new_token": token, "new_key": key}
    # token_revoke
    services.api_token_revoke(user=user, token_id=_int_or_zero(post.get("token_id")))
    return _("The token was revoked."), {}


def _int_or_zero(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "accounts/settings.html", _settings_context(request))
    action = request.POST.get("action", "")
    if action not in SETTINGS_ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect("accounts:settings")
    try:
        success, extra = _settings_action(request, action)
    except DomainError as exc:
        if action == "token_revoke":
            messages.error(request, str(exc.message))
            return redirect("accounts:settings")
        errors = form_errors(exc)
        if "__all__" in errors:  # not about one field (e.g. not verified): a flash at the top
            messages.error(request, errors.pop("__all__"))
        values = {key: request.POST.get(key, "") for key in ("bank_name", "name")}
        return render(
            request,
            "accounts/settings.html",
            _settings_context(
                request,
                errors={action: errors},
                values=values,
                form=action,
            ),
            status=exc.status_code,
        )
    if extra:  # a new API token: its key is shown on this response only, never again
        response = render(
            request, "accounts/settings.html", _settings_context(request, form=action, **extra)
        )
        add_never_cache_headers(response)
        return response
    messages.success(request, success)
    return redirect("accounts:settings")


# --- addresses -----------------------------------------------------------------------------------


def _address_data(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST.get(key, "").strip() for key in ADDRESS_FIELDS}


def _addresses_render(
    request: HttpRequest, *, editing=None, values=None, errors=None, status: int = 200
) -> HttpResponse:
    if values is None:
        values = {key: getattr(editing, key) for key in ADDRESS_FIELDS} if editing else {}
        values["is_default"] = bool(editing and editing.is_default)
    return render(
        request,
        "accounts/addresses.html",
        {
            "nav": "addresses",
            "addresses": list(selectors.address_list_for_user(user=request.user)),
            "editing": editing,
            "values": values,
            "errors": errors or {},
            "provinces": PROVINCES,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def addresses_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _addresses_render(request)
    data = _address_data(request)
    is_default = request.POST.get("is_default") == "on"
    try:
        services.address_create(user=request.user, is_default=is_default, **data)
    except DomainError as exc:
        return _addresses_render(
            request, values={**data, "is_default": is_default}, errors=form_errors(exc), status=400
        )
    messages.success(request, _("The address was added."))
    return redirect("accounts:addresses")


@login_required
@require_http_methods(["GET", "POST"])
def address_edit_view(request: HttpRequest, address_id: int) -> HttpResponse:
    address = selectors.address_get_for_user(user=request.user, address_id=address_id)
    if request.method == "GET":
        return _addresses_render(request, editing=address)
    data = _address_data(request)
    is_default = request.POST.get("is_default") == "on"
    try:
        services.address_update(
            user=request.user, address_id=address.pk, is_default=is_default, **data
        )
    except DomainError as exc:
        return _addresses_render(
            request,
            editing=address,
            values={**data, "is_default": is_default},
            errors=form_errors(exc),
            status=400,
        )
    messages.success(request, _("The address was saved."))
    return redirect("accounts:addresses")


@login_required
@require_POST
def address_delete_view(request: HttpRequest, address_id: int) -> HttpResponse:
    services.address_delete(user=request.user, address_id=address_id)  # NotFound -> 404 page
    messages.success(request, _("The address was deleted."))
    return redirect("accounts:addresses")


@login_required
@require_POST
def address_default_view(request: HttpRequest, address_id: int) -> HttpResponse:
    services.address_set_default(user=request.user, address_id=address_id)
    messages.success(request, _("The default address was changed."))
    return redirect("accounts:addresses")


# --- message box ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def notifications_view(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("filter") == "unread"
    notifications = selectors.notification_list_for_user(user=request.user, unread_only=unread_only)
    return render(
        request,
        "accounts/notifications.html",
        {
            "nav": "notifications",
            "page": page_of(
                notifications, request.GET.get("page"), page_size=NOTIFICATIONS_PAGE_SIZE
            ),
            "unread_only": unread_only,
            "unread_count": selectors.notification_unread_count(user=request.user),
        },
    )


@login_required
@require_POST
def notifications_read_view(request: HttpRequest) -> HttpResponse:
    notification_id = request.POST.get("id")
    ids = None
    if notification_id is not None:
        ids = [_int_or_zero(notification_id)]
    changed = services.notification_mark_read(user=request.user, notification_ids=ids)
    if ids is None:
        messages.success(
            request,
            _("All messages are marked read.") if changed else _("There are no unread messages."),
        )
    return redirect(_safe_next(request) or reverse("accounts:notifications"))
