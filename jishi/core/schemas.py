"""Shared pieces of the API's typed input and output (Django Ninja schemas).

Types here refuse bad input with a 422 before a service sees it: ids are positive 64-bit
integers, amounts are strict integers (``12.5``, ``"12"`` and ``true`` are not fen), text has
no NUL characters (PostgreSQL cannot store them). Range and length rules stay in the
services, which answer with a coded 400.
"""

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import AfterValidator, StrictInt

ID_MAX = 2**63 - 1  # a bigint primary key
PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
PAGE_OFFSET_MAX = 10_000  # deep offsets are a crawler's habit; filter instead
TEXT_LENGTH_MAX = 100_000  # far above any field; the services give the precise limit


def _text_check(value: str) -> str:
    if "\x00" in value:
        raise ValueError(_("The text contains a NUL character."))
    return value


Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Text = Annotated[str, Field(max_length=TEXT_LENGTH_MAX), AfterValidator(_text_check)]
Fen = Annotated[StrictInt, Field(description="An amount in fen (1 yuan = 100 fen).")]
Count = Annotated[StrictInt, Field(description="A whole number.")]


class ErrorOut(Schema):
    code: str = Field(description="A stable error code, e.g. price_invalid.")
    message: str = Field(description="A message in the request's language.")
    extra: dict[str, Any] = Field(
        default_factory=dict, description='Details, e.g. {"fields": {"title": "..."}}.'
    )


class OkOut(Schema):
    ok: bool = True


class CountOut(Schema):
    updated: int


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """Error responses for an operation's OpenAPI entry (401 and 422 are always possible)."""
    return {code: ErrorOut for code in sorted({*codes, 422})}


def auth_errors(*codes: int) -> dict[int, type[ErrorOut]]:
    return errors(401, *codes)


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """Ninja's limit/offset paging; a ``limit`` above the cap is lowered to it, not refused."""

    class Input(Schema):
        limit: int = Field(
            PAGE_LIMIT_DEFAULT,
            ge=1,
            le=ID_MAX,
            description=f"Items per page; at most {PAGE_LIMIT_MAX} are returned.",
        )
        offset: int = Field(0, ge=0, le=PAGE_OFFSET_MAX)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_limit", PAGE_LIMIT_MAX)
        super().__init__(**kwargs)


def acting_user(request: HttpRequest) -> Any:
    """The authenticated user of an API request (token or session)."""
    return request.auth  # type: ignore[attr-defined]


def file_url(field: Any) -> str | None:
    return field.url if field else None
