"""Helpers for page views: turning a DomainError into form errors and flash messages."""

from typing import Any

from django.contrib import messages

from jishi.core.errors import DomainError


def form_errors(exc: DomainError) -> dict[str, str]:
    """Field errors by name, plus ``__all__`` for the message when no field is named."""
    fields = dict(exc.extra.get("fields") or {})
    if not fields:
        fields["__all__"] = str(exc.message)
    return fields


def flash_error(request: Any, exc: DomainError) -> None:
    messages.error(request, str(exc.message))
