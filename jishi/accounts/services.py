"""Account writes: registration, passwords, payment PIN, addresses, verification, tokens."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from jishi.accounts import validators as v
from jishi.accounts.errors import AccountError
from jishi.accounts.models import (
    Address,
    ApiToken,
    BankCard,
    Notification,
    PaymentPin,
    RealNameVerification,
    User,
    VerificationStatus,
)
from jishi.accounts.notifications import notify
from jishi.accounts.permissions import operator_require
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import DomainError, Locked, NotFound, field_error
from jishi.core.rules import rule
from jishi.core.validation import clean_text

API_TOKEN_PREFIX = "jsk_"


def _time_text(moment) -> str:
    """A time for a message the user reads, in the site's time zone (not UTC)."""
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def _now_text() -> str:
    return _time_text(clock.now())


def _password_check(password: str, user: User | None, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise field_error(field, " ".join(exc.messages), AccountError.PASSWORD_WEAK) from exc


def _password_confirm(user: User, password: str, field: str = "password") -> None:
    """``field`` is the caller's request field, so the error lands where the password was typed."""
    if not user.check_password(password or ""):
        raise field_error(field, _("The login password is wrong."), AccountError.PASSWORD_WRONG)


# --- registration and login -------------------------------------------------------------------


@transaction.atomic
def user_register(*, username: str, password: str, phone: str = "", email: str = "") -> User:
    username = (username or "").strip()
    if not v.username_is_valid(username):
        raise field_error(
            "username",
            _("A username has 3–32 letters, digits, Chinese characters or . @ + - _ :"),
            AccountError.USERNAME_INVALID,
        )
    if User.objects.filter(username__iexact=username).exists():
        raise field_error("username", _("This username is taken."), AccountError.USERNAME_TAKEN)
    phone = (phone or "").strip()
    if phone and not v.phone_is_valid(phone):
        raise field_error(
            "phone", _("Enter a valid mobile phone number."), AccountError.PHONE_INVALID
        )
    email = clean_text(email, field="email", max_length=254, required=False)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise field_error(
                "email", _("Enter a valid e-mail address."), AccountError.EMAIL_INVALID
            ) from exc
    candidate = User(username=username, phone=phone, email=email)
    _password_check(password, candidate)
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise field_error(
            "username", _("This username is taken."), AccountError.USERNAME_TAKEN
        ) from exc
    audit_record(actor=candidate, action="user.register", obj=candidate)
    return candidate


def user_authenticate(*, request: Any, username: str, password: str) -> User:
    user = authenticate(request, username=(username or "").strip(), password=password or "")
    if user is None:
        raise DomainError(AccountError.LOGIN_FAILED, _("Wrong username or password."))
    return user


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str) -> None:
    _password_confirm(user, old_password, field="old_password")
    _password_check(new_password, user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit_record(actor=user, action="password.change", obj=user)
    notify(user=user, kind="password_changed", params={"time": _now_text()})


@transaction.atomic
def operator_create(*, username: str, password: str, role: str) -> User:
    user = user_register(username=username, password=password)
    user.is_staff = True
    user.operator_role = role
    user.save(update_fields=["is_staff", "operator_role"])
    audit_record(actor=None, action="operator.create", obj=user, after={"role": role})
    return user


# --- payment PIN ------------------------------------------------------------------------------


@transaction.atomic
def payment_pin_set(*, user: User, password: str, pin: str) -> None:
    """Set or change the 6-digit payment PIN; the login password confirms it is the owner."""
    _password_confirm(user, password)
    pin = (pin or "").strip()
    if not (len(pin) == 6 and pin.isdigit() and pin.isascii()):
        raise field_error(
            "pin", _("The payment PIN is exactly 6 digits."), AccountError.PIN_INVALID
        )
    if v.pin_is_weak(pin):
        raise field_error(
            "pin",
            _("This PIN is too easy to guess (repeated or sequential digits)."),
            AccountError.PIN_WEAK,
        )
    existing = PaymentPin.objects.select_for_update().filter(user=user).first()
    if existing is None:
        PaymentPin.objects.create(user=user, pin_hash=make_password(pin))
        kind = "pin_set"
    else:
        existing.pin_hash = make_password(pin)
        existing.failed_attempts = 0
        # A lockout stands for its full 3 hours: changing the PIN must not lift it, or anyone
        # who knows the login password could keep guessing.
        existing.updated_at = clock.now()
        existing.save()
        kind = "pin_changed"
    audit_record(actor=user, action=f"payment_pin.{kind.split('_')[1]}", obj=user)
    notify(user=user, kind=kind, params={"time": _now_text()})


def payment_pin_verify(*, user: User, pin: str) -> None:
    """Check the payment PIN before a payment; raise on a wrong PIN or a lockout.

    The failure count commits in its own transaction before the error is raised, so call
    this before opening the payment's transaction: a rolled-back payment must not undo it.
    """
    error = _payment_pin_attempt(user=user, pin=pin or "")
    if error is not None:
        raise error


@transaction.atomic
def _payment_pin_attempt(*, user: User, pin: str) -> DomainError | None:
    record = PaymentPin.objects.select_for_update().filter(user=user).first()
    if record is None:
        return DomainError(AccountError.PIN_NOT_SET, _("Set a payment PIN first."))
    now = clock.now()
    if record.locked_until and record.locked_until > now:
        return Locked(
            AccountError.PIN_LOCKED,
            _("Payments are locked after too many wrong PINs. Try again after %(until)s.")
            % {"until": _time_text(record.locked_until)},
            locked_until=record.locked_until.isoformat(),
        )
    if check_password(pin, record.pin_hash):
        if record.failed_attempts or record.locked_until:
            record.failed_attempts = 0
            record.locked_until = None
            record.save(update_fields=["failed_attempts", "locked_until"])
        return None
    attempts_max = rule("payment_pin_attempts_max")
    record.failed_attempts += 1
    if record.failed_attempts >= attempts_max:
        record.locked_until = now + timedelta(seconds=rule("payment_pin_lock_seconds"))
        record.failed_attempts = 0
        record.save(update_fields=["failed_attempts", "locked_until"])
        audit_record(
            actor=user,
            action="payment_pin.locked",
            obj=user,
            after={"locked_until": record.locked_until.isoformat()},
        )
        notify(
            user=user,
            kind="pin_locked",
            params={
                "attempts": attempts_max,
                "until": _time_text(record.locked_until),
            },
        )
        return Locked(
            AccountError.PIN_LOCKED,
            _("Wrong payment PIN. Payments are locked until %(until)s.")
            % {"until": _time_text(record.locked_until)},
            locked_until=record.locked_until.isoformat(),
        )
    record.save(update_fields=["failed_attempts"])
    left = attempts_max - record.failed_attempts
    return DomainError(
        AccountError.PIN_WRONG,
        _("Wrong payment PIN. %(left)d attempts left.") % {"left": left},
        attempts_left=left,
    )


# --- addresses --------------------------------------------------------------------------------

ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "detail", "postal_code")


def _address_clean(data: dict[str, Any]) -> dict[str, Any]:
    clean = {
        "recipient": clean_text(data.get("recipient"), field="recipient", max_length=25),
        "phone": clean_text(data.get("phone"), field="phone", max_length=20),
        "province": clean_text(data.get("province"), field="province", max_length=16),
        "city": clean_text(data.get("city"), field="city", max_length=32),
        "district": clean_text(data.get("district"), field="district", max_length=32),
        "detail": clean_text(data.get("detail"), field="detail", max_length=120),
        "postal_code": clean_text(
            data.get("postal_code"), field="postal_code", max_length=6, required=False
        ),
    }
    if not v.phone_is_valid(clean["phone"]):
        raise field_error(
            "phone", _("Enter a valid mobile or landline number."), AccountError.PHONE_INVALID
        )
    if clean["province"] not in v.PROVINCES:
        raise field_error(
            "province", _("Choose a province from the list."), AccountError.PROVINCE_INVALID
        )
    if clean["postal_code"] and not (
        len(clean["postal_code"]) == 6 and clean["postal_code"].isdigit()
    ):
        raise field_error("postal_code", _("A postal code is 6 digits."))
    return clean


@transaction.atomic
def address_create(*, user: User, is_default: bool = False, **data: Any) -> Address:
    clean = _address_clean(data)
    existing = Address.objects.select_for_update().filter(user=user)
    count = existing.count()
    if count >= rule("addresses_max"):
        raise DomainError(
            AccountError.ADDRESS_LIMIT,
            _("You can keep at most %(n)d addresses.") % {"n": rule("addresses_max")},
        )
    make_default = is_default or count == 0
    if make_default:
        existing.update(is_default=False)
    return Address.objects.create(user=user, is_default=make_default, **clean)


def _address_own(user: User, address_id: int) -> Address:
    address = Address.objects.select_for_update().filter(user=user, pk=address_id).first()
    if address is None:
        raise NotFound(message=_("Address not found."))
    return address


@transaction.atomic
def address_update(
    *, user: User, address_id: int, is_default: bool = False, **data: Any
) -> Address:
    address = _address_own(user, address_id)
    for key, value in _address_clean(data).items():
        setattr(address, key, value)
    if is_default and not address.is_default:
        Address.objects.filter(user=user).update(is_default=False)
        address.is_default = True
    address.save()
    return address


@transaction.atomic
def address_delete(*, user: User, address_id: int) -> None:
    address = _address_own(user, address_id)
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(user=user).order_by("-id").first()
        if successor:
            Address.objects.filter(pk=successor.pk).update(is_default=True)


@transaction.atomic
def address_set_default(*, user: User, address_id: int) -> Address:
    address = _address_own(user, address_id)
    Address.objects.filter(user=user).update(is_default=False)
    Address.objects.filter(pk=address.pk).update(is_default=True)
    address.is_default = True
    return address


# --- real-name verification and bank card -----------------------------------------------------


def _card_clean(bank_name: str, card_number: str, field: str) -> tuple[str, str]:
    """``field`` names the card number as the caller's request does."""
    bank_name = clean_text(bank_name, field="bank_name", max_length=40)
    card_number = (card_number or "").replace(" ", "")
    if not v.bank_card_is_valid(card_number):
        raise field_error(
            field, _("Enter a valid bank card number."), AccountError.BANK_CARD_INVALID
        )
    return bank_name, card_number


@transaction.atomic
def verification_submit(
    *, user: User, real_name: str, id_number: str, bank_name: str, bank_card: str
) -> RealNameVerification:
    from jishi.shops.selectors import staff_sub_account_of  # shops builds on accounts

    User.objects.select_for_update().filter(pk=user.pk).first()  # one submission at a time
    if staff_sub_account_of(user=user) is not None:
        raise DomainError(
            AccountError.SUB_ACCOUNT,
            _("Real-name verification is for shop owners, not staff accounts."),
        )
    latest = RealNameVerification.objects.filter(user=user).order_by("-id").first()
    if latest and latest.status == VerificationStatus.PENDING:
        raise DomainError(
            AccountError.VERIFICATION_PENDING, _("Your verification is already waiting for review.")
        )
    if latest and latest.status == VerificationStatus.VERIFIED:
        raise DomainError(AccountError.ALREADY_VERIFIED, _("You are already verified."))
    real_name = clean_text(real_name, field="real_name", max_length=30)
    id_number = (id_number or "").strip().upper()
    if not v.id_number_is_valid(id_number):
        raise field_error(
            "id_number",
            _("Enter a valid 18-character resident ID number."),
            AccountError.ID_NUMBER_INVALID,
        )
    id_hash = v.secret_hash(id_number)
    if (
        RealNameVerification.objects.filter(id_number_hash=id_hash)
        .exclude(user=user)
        .exclude(status=VerificationStatus.REJECTED)
        .exists()
    ):
        raise field_error(
            "id_number",
            _("This ID number is used by another account."),
            AccountError.ID_NUMBER_USED,
        )
    bank_name, card_number = _card_clean(bank_name, bank_card, field="bank_card")
    record = RealNameVerification.objects.create(
        user=user,
        real_name=real_name,
        id_number_masked=v.id_number_mask(id_number),
        id_number_hash=id_hash,
        bank_name=bank_name,
        bank_card_masked=v.bank_card_mask(card_number),
        bank_card_hash=v.secret_hash(card_number),
    )
    audit_record(
        actor=user, action="verification.submit", obj=record, after={"status": record.status}
    )
    return record


@transaction.atomic
def verification_decide(
    *, operator: User, verification_id: int, approve: bool, reason: str = ""
) -> RealNameVerification:
    operator_require(operator, "verification.decide")
    record = RealNameVerification.objects.select_for_update().filter(pk=verification_id).first()
    if record is None:
        raise NotFound(message=_("Verification not found."))
    if record.status != VerificationStatus.PENDING:
        raise DomainError(
            AccountError.VERIFICATION_DECIDED, _("This verification was already decided.")
        )
    reason = clean_text(reason, field="reason", max_length=200, required=not approve)
    before = record.status
    record.status = VerificationStatus.VERIFIED if approve else VerificationStatus.REJECTED
    record.reason = reason
    record.decided_by = operator
    record.decided_at = clock.now()
    record.save()
    if approve:
        BankCard.objects.filter(user=record.user, is_active=True).update(is_active=False)
        BankCard.objects.create(
            user=record.user,
            holder_name=record.real_name,
            bank_name=record.bank_name,
            card_masked=record.bank_card_masked,
            card_hash=record.bank_card_hash,
        )
        notify(user=record.user, kind="verification_verified", link="/seller/")
    else:
        notify(
            user=record.user,
            kind="verification_rejected",
            params={"reason": reason},
            link="/seller/verify/",
        )
    audit_record(
        actor=operator,
        action="verification.decide",
        obj=record,
        before={"status": before},
        after={"status": record.status},
        reason=reason,
    )
    return record


@transaction.atomic
def bank_card_change(*, user: User, password: str, bank_name: str, card_number: str) -> BankCard:
    _password_confirm(user, password)
    verified = (
        RealNameVerification.objects.filter(user=user, status=VerificationStatus.VERIFIED)
        .order_by("-id")
        .first()
    )
    if verified is None:
        raise DomainError(AccountError.NOT_VERIFIED, _("Complete real-name verification first."))
    bank_name, card_number = _card_clean(bank_name, card_number, field="card_number")
    old = BankCard.objects.select_for_update().filter(user=user, is_active=True).first()
    if old:
        old.is_active = False
        old.save(update_fields=["is_active"])
    card = BankCard.objects.create(
        user=user,
        holder_name=verified.real_name,
        bank_name=bank_name,
        card_masked=v.bank_card_mask(card_number),
        card_hash=v.secret_hash(card_number),
    )
    audit_record(
        actor=user,
        action="bank_card.change",
        obj=card,
        before={"card": old.card_masked if old else None},
        after={"card": card.card_masked},
    )
    notify(
        user=user,
        kind="bank_card_changed",
        params={"bank": bank_name, "card": card.card_masked, "time": _now_text()},
    )
    return card


# --- notifications ----------------------------------------------------------------------------


def notification_mark_read(*, user: User, notification_ids: list[int] | None = None) -> int:
    """Mark the given notifications (or all) read; returns how many changed."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=clock.now())


# --- API tokens -------------------------------------------------------------------------------


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, password: str, name: str) -> tuple[ApiToken, str]:
    """Create a token for programs. The plain key is returned once and never stored."""
    _password_confirm(user, password)
    name = clean_text(name, field="name", max_length=60)
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:10], key_hash=_token_hash(key)
    )
    audit_record(actor=user, action="api_token.create", obj=token)
    notify(user=user, kind="api_token_created", params={"name": name, "time": _now_text()})
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> None:
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound(message=_("Token not found."))
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])
    audit_record(actor=user, action="api_token.revoke", obj=token)


def api_token_authenticate(*, key: str) -> User | None:
    if not key.startswith(API_TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # bounded write rate
    return token.user
