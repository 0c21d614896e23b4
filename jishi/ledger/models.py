"""The double-entry ledger: accounts with four counters, and immutable transfers.

Every transfer debits one account and credits another by a positive integer number of fen.
A transfer is either posted at once, or pending (two-phase) and later resolved by a second,
immutable transfer that posts or voids it (TigerBeetle semantics). An account's counters are
a cache of its transfers; `jishi ledger check` recomputes them.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from jishi.core import clock


class AccountKind(models.TextChoices):
    CHANNEL_CLEARING = "channel_clearing", _("Payment channel clearing")
    WALLET = "wallet", _("Wallet")
    ESCROW = "escrow", _("Order escrow")
    SHOP_AVAILABLE = "shop_available", _("Shop available balance")
    PLATFORM_COMMISSION = "platform_commission", _("Platform commission revenue")
    SHOP_DEPOSIT = "shop_deposit", _("Shop deposit (frozen)")
    # What a shop owes the platform: money the platform paid out for it (refunds after
    # release, advance compensation, late-shipment compensation) not yet collected.
    SHOP_RECEIVABLE = "shop_receivable", _("Platform advances receivable")


class Side(models.TextChoices):
    """Which side increases the balance: debit for assets, credit for liabilities/revenue."""

    DEBIT = "debit", "debit"
    CREDIT = "credit", "credit"


class Account(models.Model):
    code = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=24, choices=AccountKind.choices, db_index=True)
    normal_side = models.CharField(max_length=6, choices=Side.choices)
    # A liability that must never go below zero (wallets, escrow, shop balances).
    forbid_overdraft = models.BooleanField(default=True)
    owner_user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    owner_shop_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    owner_order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    currency = models.CharField(max_length=3, default="CNY")
    debits_pending = models.BigIntegerField(default=0)
    debits_posted = models.BigIntegerField(default=0)
    credits_pending = models.BigIntegerField(default=0)
    credits_posted = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    debits_pending__gte=0,
                    debits_posted__gte=0,
                    credits_pending__gte=0,
                    credits_posted__gte=0,
                ),
                name="ledger_counters_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def balance(self) -> int:
        """Posted balance on the account's normal side."""
        if self.normal_side == Side.CREDIT:
            return self.credits_posted - self.debits_posted
        return self.debits_posted - self.credits_posted

    @property
    def available(self) -> int:
        """What can still be spent: posted balance less pending debits (for credit accounts)."""
        if self.normal_side == Side.CREDIT:
            return self.credits_posted - self.debits_posted - self.debits_pending
        return self.debits_posted - self.credits_posted - self.credits_pending


class TransferFlag(models.TextChoices):
    POSTED = "posted", _("Posted")  # a single-phase transfer, final at once
    PENDING = "pending", _("Pending (reserved)")  # phase one: reserves the amount
    POST_PENDING = "post_pending", _("Pending posted")  # phase two: completes a pending transfer
    VOID_PENDING = "void_pending", _("Pending voided")  # phase two: cancels a pending transfer


class Transfer(models.Model):
    """Immutable. Never updated or deleted; a correction is a new transfer."""

    idempotency_key = models.CharField(max_length=128, unique=True)
    request_hash = models.CharField(max_length=64)
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    flag = models.CharField(max_length=12, choices=TransferFlag.choices)
    pending = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolutions"
    )
    kind = models.CharField(max_length=24, db_index=True)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="transfer_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["pending"],
                condition=models.Q(pending__isnull=False),
                name="pending_resolved_once",
            ),
        ]
        indexes = [
            models.Index(fields=["debit_account", "id"]),
            models.Index(fields=["credit_account", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.debit_account_id}->{self.credit_account_id}"
