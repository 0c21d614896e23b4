"""The public API under /api/v1 (Django Ninja).

Auth: a browser session (with CSRF) or ``Authorization: Bearer jsk_...`` for programs.
Every error is ``{"code", "message", "extra"}`` with a 4xx status.
"""

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext, gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer, SessionAuth

from jishi.core.errors import CoreError, DomainError


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from jishi.accounts.services import api_token_authenticate

        user = api_token_authenticate(key=token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The browser session; CSRF is checked only when there is a logged-in session, so an
    anonymous or bad-token request gets 401 rather than a CSRF 403."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


class Utf8JSONRenderer(JSONRenderer):
    """Chinese text as UTF-8, not \\uXXXX escapes: readable and half the bytes."""

    media_type = "application/json"  # Ninja appends the charset
    json_dumps_params = {"ensure_ascii": False}


token_auth = TokenAuth()
session_auth = ActiveSessionAuth(csrf=True)
AUTH = [token_auth, session_auth]

api = NinjaAPI(
    title="Jishi API",
    version="1",
    description="Jishi (集市) marketplace API. Money is integer fen. Errors are "
    '{"code", "message", "extra"}.',
    auth=AUTH,
    renderer=Utf8JSONRenderer(),
    urls_namespace="api",
)


def _error(request: HttpRequest, status: int, code: str, message: Any, **extra: Any):
    return api.create_response(
        request, {"code": code, "message": str(message), "extra": extra}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


# Pydantic error types -> our translated field messages (the English "msg" is not shown).
# ``%(name)s`` placeholders are filled from the error's ``ctx``.
VALIDATION_MESSAGES: dict[str, Any] = {
    "missing": gettext_lazy("This field is required."),
    "int_type": gettext_lazy("Enter a whole number."),
    "int_parsing": gettext_lazy("Enter a whole number."),
    "int_from_float": gettext_lazy("Enter a whole number."),
    "int_parsing_size": gettext_lazy("This number is too large."),
    "float_type": gettext_lazy("Enter a number."),
    "float_parsing": gettext_lazy("Enter a number."),
    "finite_number": gettext_lazy("Enter a number."),
    "string_type": gettext_lazy("Enter text."),
    "string_too_long": gettext_lazy("Enter at most %(max_length)s characters."),
    "string_too_short": gettext_lazy("Enter at least %(min_length)s characters."),
    "too_long": gettext_lazy("Give at most %(max_length)s items."),
    "too_short": gettext_lazy("Give at least %(min_length)s items."),
    "greater_than_equal": gettext_lazy("Enter a value of at least %(ge)s."),
    "greater_than": gettext_lazy("Enter a value greater than %(gt)s."),
    "less_than_equal": gettext_lazy("Enter a value of at most %(le)s."),
    "less_than": gettext_lazy("Enter a value less than %(lt)s."),
    "bool_type": gettext_lazy("Enter true or false."),
    "bool_parsing": gettext_lazy("Enter true or false."),
    "literal_error": gettext_lazy("Choose one of: %(expected)s."),
    "enum": gettext_lazy("Choose one of: %(expected)s."),
    "list_type": gettext_lazy("Enter a list."),
    "dict_type": gettext_lazy("Enter an object."),
    "model_type": gettext_lazy("Enter an object."),
    "model_attributes_type": gettext_lazy("Enter an object."),
    "json_invalid": gettext_lazy("The request body is not valid JSON."),
    "json_type": gettext_lazy("The request body is not valid JSON."),
    "extra_forbidden": gettext_lazy("This field is not allowed."),
    "date_parsing": gettext_lazy("Enter a valid date."),
    "date_from_datetime_parsing": gettext_lazy("Enter a valid date."),
    "datetime_parsing": gettext_lazy("Enter a valid date and time."),
    "datetime_from_date_parsing": gettext_lazy("Enter a valid date and time."),
}
INVALID_VALUE = gettext_lazy("Invalid value.")


def validation_message(error: dict[str, Any]) -> str:
    """One pydantic error as a sentence in the request's language."""
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    if kind == "value_error":
        # Raised by our own validators (jishi.core.schemas), whose messages are translated.
        return str(ctx.get("error") or INVALID_VALUE)
    template = VALIDATION_MESSAGES.get(kind)
    if template is None:
        return str(INVALID_VALUE)
    if "expected" in ctx:  # "'new', 'sales' or 'price_asc'" -> "new / sales / price_asc"
        choices = re.findall(r"'([^']*)'", str(ctx["expected"]))
        ctx["expected"] = " / ".join(choices) if choices else ctx["expected"]
    try:
        return str(template) % ctx if "%(" in str(template) else str(template)
    except (KeyError, TypeError, ValueError):
        return str(INVALID_VALUE)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError):
    """422: ``extra.fields`` maps each field (``skus.1.price_fen``) to a translated message;
    ``extra.types`` keeps pydantic's error type per field for programs."""
    fields: dict[str, str] = {}
    types: dict[str, str] = {}
    for error in exc.errors:
        loc = [
            str(p)
            for p in error.get("loc", ())
            if p not in ("body", "payload", "query", "path", "form")
        ]
        name = ".".join(loc) or "body"
        if name in fields:  # several rules broken: the first one is enough to act on
            continue
        fields[name] = validation_message(error)
        types[name] = str(error.get("type", ""))
    return _error(
        request,
        422,
        CoreError.VALIDATION,
        gettext("The input is not valid."),
        fields=fields,
        types=types,
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):
    from django.utils.translation import gettext as _

    return _error(request, 401, CoreError.NOT_AUTHENTICATED, _("Log in first."))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404):
    from django.utils.translation import gettext as _

    return _error(request, 404, CoreError.NOT_FOUND, _("Not found."))


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied):
    from django.utils.translation import gettext as _

    return _error(request, 403, CoreError.FORBIDDEN, _("You are not allowed to do this."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    from django.utils.translation import gettext as _

    if exc.status_code == 403 and "CSRF" in str(exc.message):
        return _error(
            request,
            403,
            CoreError.CSRF_FAILED,
            _("The CSRF token is missing or wrong. Reload the page and try again."),
        )
    if exc.status_code == 400:
        return _error(
            request,
            400,
            CoreError.BODY_INVALID,
            _("The request body could not be read (send valid JSON)."),
        )
    if exc.status_code == 429:
        return _error(request, 429, CoreError.RATE_LIMITED, _("Too many requests; slow down."))
    return _error(request, exc.status_code, "http_error", exc.message)


def _register_routers() -> None:
    from jishi.accounts.api import router as accounts_router
    from jishi.aftersales.api import router as aftersales_router
    from jishi.catalog.api import router as catalog_router
    from jishi.console.api import router as console_router
    from jishi.ledger.api import router as ledger_router
    from jishi.orders.api import router as orders_router
    from jishi.payments.api import router as payments_router
    from jishi.ratings.api import router as ratings_router
    from jishi.shops.api import router as shops_router

    api.add_router("/accounts", accounts_router)
    api.add_router("/shops", shops_router)
    api.add_router("/catalog", catalog_router)
    api.add_router("/console", console_router)
    api.add_router("/orders", orders_router)
    api.add_router("/payments", payments_router)
    api.add_router("/ledger", ledger_router)
    api.add_router("/aftersales", aftersales_router)
    api.add_router("/ratings", ratings_router)


_register_routers()
