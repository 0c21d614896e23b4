"""Account reads; each checks who is asking."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

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
from jishi.accounts.validators import phone_mask
from jishi.core import clock
from jishi.core.errors import NotFound


def address_phone_for(*, address: Address, viewer: Any) -> str:
    """The full phone for its owner; masked for anyone else (sellers, staff, operators)."""
    if getattr(viewer, "pk", None) == address.user_id:
        return address.phone
    return phone_mask(address.phone)


def address_list_for_user(*, user: User):
    return Address.objects.filter(user=user)


def notification_list_for_user(*, user: User, unread_only: bool = False):
    notifications = Notification.objects.filter(user=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def verification_latest(*, user: User) -> RealNameVerification | None:
    return RealNameVerification.objects.filter(user=user).order_by("-id").first()


def user_is_verified(*, user: User) -> bool:
    return RealNameVerification.objects.filter(
        user=user, status=VerificationStatus.VERIFIED
    ).exists()


def verification_queue(*, status: str = VerificationStatus.PENDING):
    return RealNameVerification.objects.filter(status=status).select_related("user")


def bank_card_active(*, user: User) -> BankCard | None:
    return BankCard.objects.filter(user=user, is_active=True).first()


# --- account pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PinStatus:
    is_set: bool
    locked_until: datetime | None  # only while the lock is still in force
    failed_attempts: int
    updated_at: datetime | None


def payment_pin_status(*, user: User) -> PinStatus:
    """Whether the user has a payment PIN and whether payments are locked (and until when)."""
    record = PaymentPin.objects.filter(user=user).first()
    if record is None:
        return PinStatus(is_set=False, locked_until=None, failed_attempts=0, updated_at=None)
    locked_until = record.locked_until
    if locked_until is not None and locked_until <= clock.now():
        locked_until = None
    return PinStatus(
        is_set=True,
        locked_until=locked_until,
        failed_attempts=record.failed_attempts,
        updated_at=record.updated_at,
    )


def address_get_for_user(*, user: User, address_id: int) -> Address:
    """One of the user's own addresses; another user's id is NotFound."""
    address = Address.objects.filter(user=user, pk=address_id).first()
    if address is None:
        raise NotFound(message=_("Address not found."))
    return address


def api_token_list_for_user(*, user: User, limit: int = 50):
    """The user's tokens that still work, newest first (capped)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-id")[:limit]
