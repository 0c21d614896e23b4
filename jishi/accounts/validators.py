"""Checks and masks for Chinese account data: passwords, phones, ID numbers, bank cards."""

import hashlib
import hmac
import re
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PROVINCES = (
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "内蒙古自治区",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "上海市",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "广西壮族自治区",
    "海南省",
    "重庆市",
    "四川省",
    "贵州省",
    "云南省",
    "西藏自治区",
    "陕西省",
    "甘肃省",
    "青海省",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "台湾省",
    "香港特别行政区",
    "澳门特别行政区",
)

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_USERNAME = re.compile(r"^[\w\u4e00-\u9fff.@+:-]{3,32}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class LettersAndDigitsValidator:
    """A login password mixes letters and digits (with the length and common-word checks)."""

    def validate(self, password: str, user: object = None) -> None:
        if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
            raise ValidationError(
                _("The password must contain both letters and digits."), code="password_mix"
            )

    def get_help_text(self) -> str:
        return _("Use at least 8 characters with both letters and digits.")


def username_is_valid(username: str) -> bool:
    return bool(_USERNAME.match(username))


def phone_is_valid(phone: str) -> bool:
    return bool(_MOBILE.match(phone) or _LANDLINE.match(phone))


def phone_mask(phone: str) -> str:
    """13812345678 -> 138****5678; landlines keep area code and last 2 digits."""
    if _MOBILE.match(phone):
        return f"{phone[:3]}****{phone[-4:]}"
    if len(phone) > 4:
        return phone[:4] + "*" * (len(phone) - 6) + phone[-2:]
    return "*" * len(phone)


def id_number_is_valid(number: str) -> bool:
    """Mainland resident ID: 18 characters, the last a checksum (GB 11643)."""
    number = number.upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[-1]


def id_number_mask(number: str) -> str:
    return f"{number[:3]}{'*' * 11}{number[-4:]}"


def bank_card_is_valid(number: str) -> bool:
    """12–19 digits passing the Luhn check (UnionPay cards use it)."""
    if not re.fullmatch(r"\d{12,19}", number):
        return False
    digits = [int(d) for d in number][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    return total % 10 == 0


def bank_card_mask(number: str) -> str:
    return f"**** **** **** {number[-4:]}"


def secret_hash(value: str) -> str:
    """A keyed hash to recognise a repeated ID or card number without storing it."""
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def pin_is_weak(pin: str) -> bool:
    """All-same digits or straight runs (123456, 654321) are refused."""
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    return steps in ({1}, {-1})
