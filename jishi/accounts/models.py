from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from jishi.core import clock


class OperatorRole(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    REVIEWER = "reviewer", _("Seller reviewer")
    CATALOG = "catalog", _("Catalog manager")
    ARBITRATOR = "arbitrator", _("Arbitrator")
    FINANCE = "finance", _("Finance")


class User(AbstractUser):
    """Buyers, sellers, their staff and operators are all users.

    A seller is a user with a verified real-name record and a shop; an operator is a staff
    user (``is_staff``) with an ``operator_role`` that decides what the console lets them do.
    """

    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    operator_role = models.CharField(
        _("operator role"), max_length=16, choices=OperatorRole.choices, blank=True
    )

    def __str__(self) -> str:
        return self.username


class PaymentPin(models.Model):
    """The 6-digit payment PIN, separate from the login password.

    Failed attempts are counted here (not in memory) so a restart does not reset a lockout.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_pin"
    )
    pin_hash = models.CharField(max_length=256)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"PIN of {self.user_id}"


class Notification(models.Model):
    """A message in the user's message box (站内信).

    Stored as a kind plus parameters and rendered in the reader's language.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=48)
    params = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"

    @property
    def title(self) -> str:
        from jishi.accounts.notifications import render_title

        return render_title(self)

    @property
    def body(self) -> str:
        from jishi.accounts.notifications import render_body

        return render_body(self)


class Address(models.Model):
    """A Chinese shipping address: province / city / district / detail, recipient, phone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    recipient = models.CharField(_("recipient"), max_length=25)
    phone = models.CharField(_("phone"), max_length=20)
    province = models.CharField(_("province"), max_length=16)
    city = models.CharField(_("city"), max_length=32)
    district = models.CharField(_("district"), max_length=32)
    detail = models.CharField(_("detailed address"), max_length=120)
    postal_code = models.CharField(_("postal code"), max_length=6, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-is_default", "-id"]

    def __str__(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.detail}"

    @property
    def region(self) -> str:
        return f"{self.province} {self.city} {self.district}"


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")


class RealNameVerification(models.Model):
    """A seller's real-name record. The ID and card numbers are kept only masked + keyed hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verifications"
    )
    real_name = models.CharField(_("real name"), max_length=30)
    id_number_masked = models.CharField(max_length=18)
    id_number_hash = models.CharField(max_length=64, db_index=True)
    bank_name = models.CharField(_("bank"), max_length=40)
    bank_card_masked = models.CharField(max_length=23)
    bank_card_hash = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10,
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
        db_index=True,
    )
    reason = models.CharField(max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.real_name} ({self.status})"


class BankCard(models.Model):
    """The card a seller's withdrawals go to; changing it is a sensitive change."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bank_cards"
    )
    holder_name = models.CharField(max_length=30)
    bank_name = models.CharField(max_length=40)
    card_masked = models.CharField(max_length=23)
    card_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_active=True),
                name="one_active_bank_card_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.card_masked}"


class ApiToken(models.Model):
    """A token for programs (``Authorization: Bearer jsk_...``); only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
