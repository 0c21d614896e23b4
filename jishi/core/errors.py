"""Domain errors: every refusal carries a stable code, a translated message and extra data.

Services raise these; the API turns them into ``{"code", "message", "extra"}`` with a 4xx
status and pages show the message. Each app lists its codes in an ``ErrorCode`` enum in its
own ``errors.py`` so integrators can rely on them.
"""

from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    """Base for the per-app enums of error codes."""


class CoreError(ErrorCode):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NOT_AUTHENTICATED = "not_authenticated"
    VALIDATION = "validation_error"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    CSRF_FAILED = "csrf_failed"
    BODY_INVALID = "body_invalid"
    FIELD_REQUIRED = "field_required"
    TEXT_TOO_LONG = "text_too_long"
    NOT_AN_INTEGER = "not_an_integer"
    OUT_OF_RANGE = "out_of_range"


class DomainError(Exception):
    status_code = 400

    def __init__(self, code: str, message: Any = None, **extra: Any) -> None:
        self.code = str(code)
        self.message = message if message is not None else _("The request was refused.")
        self.extra = extra
        super().__init__(f"{self.code}: {self.message}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "extra": self.extra}


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``extra["fields"]`` maps field names to messages."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404

    def __init__(self, code: str = CoreError.NOT_FOUND, message: Any = None, **extra: Any):
        super().__init__(code, message or _("Not found."), **extra)


class Forbidden(DomainError):
    status_code = 403

    def __init__(self, code: str = CoreError.FORBIDDEN, message: Any = None, **extra: Any):
        super().__init__(code, message or _("You are not allowed to do this."), **extra)


class Conflict(DomainError):
    status_code = 409


class Locked(DomainError):
    status_code = 423


def field_error(field: str, message: Any, code: str = CoreError.VALIDATION) -> ValidationFailed:
    """A validation error about one input field."""
    return ValidationFailed(code, message, fields={field: str(message)})
