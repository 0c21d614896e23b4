"""Error pages (handler404/403/500 in jishi/urls.py): the styled error page for people, the
``{"code", "message", "extra"}`` JSON shape for /api/ paths."""

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from jishi.core.errors import CoreError, DomainError

SERVER_ERROR = "server_error"

logger = logging.getLogger(__name__)


def _respond(request: HttpRequest, error: DomainError) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            error.as_dict(), status=error.status_code, json_dumps_params={"ensure_ascii": False}
        )
    return render(request, "error.html", {"error": error}, status=error.status_code)


def _error(status: int, code: str, message: Any) -> DomainError:
    error = DomainError(code, message)
    error.status_code = status
    return error


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = (
        _("Not found.") if request.path.startswith("/api/") else _("This page does not exist.")
    )
    return _respond(request, _error(404, CoreError.NOT_FOUND, message))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, _error(403, CoreError.FORBIDDEN, _("You are not allowed to do this.")))


def server_error(request: HttpRequest) -> HttpResponse:
    error = _error(500, SERVER_ERROR, _("Something went wrong on our side. Try again later."))
    try:
        return _respond(request, error)
    except Exception:  # the page itself failed (database down?): plain text, never a loop
        logger.exception("the error page could not be rendered")
        return HttpResponse(
            str(error.message), status=500, content_type="text/plain; charset=utf-8"
        )
