"""Small input checks shared by every service; each failure names its field."""

import re
from typing import Any

from django.utils.translation import gettext_lazy as _

from jishi.core.errors import CoreError, field_error

_INT_TEXT = re.compile(r"-?\d{1,30}")


def clean_text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise field_error(field, _("This field is required."), CoreError.FIELD_REQUIRED)
    if "\x00" in text:  # PostgreSQL refuses NUL in text; never let it reach the database
        raise field_error(field, _("The text contains a forbidden character."))
    if len(text) > max_length:
        raise field_error(
            field,
            _("At most %(max)d characters (you entered %(n)d).")
            % {"max": max_length, "n": len(text)},
            CoreError.TEXT_TOO_LONG,
        )
    return text


def clean_int(value: Any, *, field: str, minimum: int, maximum: int) -> int:
    """An integer in [minimum, maximum]; refuses floats, bools and numeric strings with dots."""
    if isinstance(value, bool):
        raise field_error(field, _("Enter a whole number."), CoreError.NOT_AN_INTEGER)
    if isinstance(value, str):
        value = value.strip()
        # one optional minus, then decimal digits ("--5", "²" and 5000 digits are refused)
        if not _INT_TEXT.fullmatch(value):
            raise field_error(field, _("Enter a whole number."), CoreError.NOT_AN_INTEGER)
        value = int(value)
    if not isinstance(value, int):
        raise field_error(field, _("Enter a whole number."), CoreError.NOT_AN_INTEGER)
    if not minimum <= value <= maximum:
        raise field_error(
            field,
            _("Enter a number from %(min)d to %(max)d.") % {"min": minimum, "max": maximum},
            CoreError.OUT_OF_RANGE,
        )
    return value
