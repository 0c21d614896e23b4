"""Account reads; each checks who is asking."""

from typing import Any

from jishi.accounts.models import (
    Address,
    BankCard,
    Notification,
    RealNameVerification,
    User,
    VerificationStatus,
)
from jishi.accounts.validators import phone_mask


def address_phone_for(*, address: Address, viewer: Any) -> str:
    """The full phone for its owner; masked for anyone else (sellers, staff, operators)."""
    if getattr(viewer, "pk", None) == address.user_id:
        return address.phone
    return phone_mask(address.phone)


def address_list_for_user(*, user: User):
    return Address.objects.filter(user=user)


def notification_list_for_user(*, user: User):
    return Notification.objects.filter(user=user)


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def verification_latest(*, user: User) -> RealNameVerification | None:
    return RealNameVerification.objects.filter(user=user).order_by("-id").first()


def user_is_verified(*, user: User) -> bool:
    return RealNameVerification.objects.filter(
        user=user, status=VerificationStatus.VERIFIED).exists()


def verification_queue(*, status: str = VerificationStatus.PENDING):
    return RealNameVerification.objects.filter(status=status).select_related("user")


def bank_card_active(*, user: User) -> BankCard | None:
    return BankCard.objects.filter(user=user, is_active=True).first()
