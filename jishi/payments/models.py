from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jishi.core import clock
from jishi.ledger.models import Transfer
from jishi.shops.models import Shop


class ChannelOpStatus(models.TextChoices):
    PENDING = "pending", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class TopUp(models.Model):
    """Money coming into a wallet from a payment channel (充值)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topups"
    )
    amount_fen = models.PositiveBigIntegerField()
    channel = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10,
        choices=ChannelOpStatus.choices,
        default=ChannelOpStatus.PENDING,
        db_index=True,
    )
    channel_ref = models.CharField(max_length=64, blank=True)
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"topup {self.pk} {self.amount_fen}"


class Withdrawal(models.Model):
    """Money leaving a wallet or shop balance for the owner's bank card (提现).

    Two-phase in the ledger: a pending transfer reserves the amount when requested; the
    channel's callback posts it (paid out) or voids it (failed, money back).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.PROTECT, related_name="withdrawals"
    )
    amount_fen = models.PositiveBigIntegerField()
    channel = models.CharField(max_length=20)
    bank_name = models.CharField(max_length=40)
    card_masked = models.CharField(max_length=23)
    status = models.CharField(
        max_length=10,
        choices=ChannelOpStatus.choices,
        default=ChannelOpStatus.PENDING,
        db_index=True,
    )
    channel_ref = models.CharField(max_length=64, blank=True)
    pending_transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"withdrawal {self.pk} {self.amount_fen}"


class ChannelCallback(models.Model):
    """Every callback a channel sent, valid or not, for audit and replay detection."""

    channel = models.CharField(max_length=20)
    body = models.TextField()
    signature = models.CharField(max_length=128, blank=True)
    valid = models.BooleanField(default=False)
    outcome = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.channel} callback {self.pk}"


class DebtKind(models.TextChoices):
    REFUND_AFTER_RELEASE = "refund_after_release", _("Refund after the money was released")
    ADVANCE = "advance", _("Advance compensation paid by the platform")
    LATE_SHIPMENT = "late_shipment", _("Late-shipment compensation to the buyer")


class ShopDebt(models.Model):
    """Money the platform paid out on a shop's behalf and recovers from it (应收).

    The platform pays the buyer at once; recovery takes the shop's available balance, then
    its deposit, and whatever is left is collected from the shop's next income. The sum of
    the outstanding amounts of a shop equals its ``shop_receivable`` ledger account.
    """

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="debts")
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    kind = models.CharField(max_length=24, choices=DebtKind.choices)
    amount_fen = models.PositiveBigIntegerField()
    recovered_fen = models.PositiveBigIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=128, unique=True)  # of the paying transfer
    created_at = models.DateTimeField(default=clock.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recovered_fen__lte=models.F("amount_fen")),
                name="debt_recovered_at_most_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"debt {self.pk} of shop {self.shop_id}: {self.recovered_fen}/{self.amount_fen}"

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.recovered_fen
