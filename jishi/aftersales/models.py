"""After-sales: refund requests on order lines (仅退款, 退货退款, 换货), their history and
evidence, and platform intervention (平台介入) with its ruling.

Statuses follow the Taobao Open Platform (refund ``status`` and ``cs_status``). Each case has
one ``deadline`` column: the timer of its current status, swept by the worker.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jishi.catalog.models import Sku
from jishi.core import clock
from jishi.orders.models import Order, OrderLine
from jishi.shops.models import Shop


class RefundKind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only")
    RETURN_REFUND = "return_refund", _("Return and refund")
    EXCHANGE = "exchange", _("Exchange")


class RefundStatus(models.TextChoices):
    WAIT_SELLER_AGREE = "WAIT_SELLER_AGREE", _("Waiting for the seller to agree")
    WAIT_BUYER_RETURN_GOODS = "WAIT_BUYER_RETURN_GOODS", _("Waiting for the buyer to return")
    WAIT_SELLER_CONFIRM_GOODS = (
        "WAIT_SELLER_CONFIRM_GOODS",
        _("Waiting for the seller to confirm the return"),
    )
    SELLER_REFUSE_BUYER = "SELLER_REFUSE_BUYER", _("Refused by the seller")
    SUCCESS = "SUCCESS", pgettext_lazy("refund status", "Completed")
    CLOSED = "CLOSED", pgettext_lazy("refund status", "Closed")


OPEN_STATUSES = (
    RefundStatus.WAIT_SELLER_AGREE,
    RefundStatus.WAIT_BUYER_RETURN_GOODS,
    RefundStatus.WAIT_SELLER_CONFIRM_GOODS,
    RefundStatus.SELLER_REFUSE_BUYER,
)


class RefundReason(models.TextChoices):
    NOT_WANTED = "not_wanted", _("No longer wanted")
    WRONG_ORDER = "wrong_order", _("Ordered the wrong item or too many")
    NOT_SHIPPED_ON_TIME = "not_shipped_on_time", _("Not shipped on time")
    NOT_RECEIVED = "not_received", _("Not received")
    QUALITY = "quality", _("Quality problem")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    MISSING_PARTS = "missing_parts", _("Missing items or parts")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    DAMAGED = "damaged", _("Damaged in transit")
    NO_REASON_7D = "no_reason_7d", _("7-day no-reason return")
    SIZE = "size", _("Wrong size or fit")
    OTHER = "other", _("Other")


# Which reasons fit a request: before shipment only the first three make sense.
UNSHIPPED_REASONS = (
    RefundReason.NOT_WANTED,
    RefundReason.WRONG_ORDER,
    RefundReason.NOT_SHIPPED_ON_TIME,
    RefundReason.OTHER,
)
EXCHANGE_REASONS = (
    RefundReason.QUALITY,
    RefundReason.WRONG_ITEM,
    RefundReason.DAMAGED,
    RefundReason.SIZE,
    RefundReason.NO_REASON_7D,
    RefundReason.OTHER,
)


class CaseCloseReason(models.TextChoices):
    BUYER_CANCELLED = "buyer_cancelled", _("Cancelled by the buyer")
    RETURN_NOT_SHIPPED = "return_not_shipped", _("The buyer did not ship the return in time")
    NOT_ESCALATED = (
        "not_escalated",
        _("The buyer neither revised the request nor asked the platform in time"),
    )
    RULED_FOR_SELLER = "ruled_for_seller", _("The platform ruled for the seller")
    ORDER_CLOSED = "order_closed", _("The order was fully refunded")


class RefundCase(models.Model):
    """One after-sales request on one order line."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refund_cases")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_cases")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refund_cases"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="refund_cases")
    kind = models.CharField(max_length=16, choices=RefundKind.choices)
    status = models.CharField(
        max_length=28,
        choices=RefundStatus.choices,
        default=RefundStatus.WAIT_SELLER_AGREE,
        db_index=True,
    )
    reason = models.CharField(max_length=24, choices=RefundReason.choices)
    description = models.CharField(max_length=500, blank=True)
    # Money (fen). amount: what the buyer asks back (for an exchange, the price difference).
    amount_fen = models.PositiveBigIntegerField()
    refunded_fen = models.PositiveBigIntegerField(default=0)
    shipped_when_requested = models.BooleanField(default=False)
    exchange_sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The seller's answer.
    refuse_reason = models.CharField(max_length=500, blank=True)
    return_address = models.CharField(max_length=200, blank=True)
    # The return shipment (buyer → seller) and, for an exchange, the replacement.
    return_carrier = models.CharField(max_length=40, blank=True)
    return_tracking_no = models.CharField(max_length=40, blank=True)
    exchange_carrier = models.CharField(max_length=40, blank=True)
    exchange_tracking_no = models.CharField(max_length=40, blank=True)
    # The timer of the current status; the worker acts when it passes.
    deadline = models.DateTimeField(null=True, blank=True)
    timer_failures = models.PositiveSmallIntegerField(default=0)
    close_reason = models.CharField(max_length=24, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    agreed_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one open request per line, whatever races.
            models.UniqueConstraint(
                fields=["line"],
                condition=models.Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="refund_case_one_open_per_line",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["shop", "status"]),
            models.Index(fields=["buyer", "status"]),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.kind}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def close_reason_label(self) -> str:
        if self.close_reason in CaseCloseReason.values:
            return str(CaseCloseReason(self.close_reason).label)
        return self.close_reason


class Party(models.TextChoices):
    BUYER = "buyer", pgettext_lazy("case party", "Buyer")
    SELLER = "seller", pgettext_lazy("case party", "Seller")
    OPERATOR = "operator", pgettext_lazy("case party", "Platform")
    SYSTEM = "system", pgettext_lazy("case party", "System")


class CaseEvent(models.Model):
    """The case's history: every action, message and piece of evidence, in order. Both
    parties and the operator read the same history (协商历史)."""

    case = models.ForeignKey(RefundCase, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    party = models.CharField(max_length=8, choices=Party.choices)
    action = models.CharField(max_length=24)
    text = models.CharField(max_length=1000, blank=True)
    is_evidence = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.party} {self.action} on case {self.case_id}"


class CaseImage(models.Model):
    event = models.ForeignKey(CaseEvent, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="aftersales/%Y/%m/")

    def __str__(self) -> str:
        return self.file.name


class DisputeStatus(models.TextChoices):
    """TOP cs_status, as PRODUCT.md names them."""

    REQUESTED = "requested", _("Waiting for an operator")
    EVIDENCE = "evidence", _("Evidence phase")
    RULED_BUYER = "ruled_buyer", _("Ruled for the buyer")
    RULED_SELLER = "ruled_seller", _("Ruled for the seller")
    WITHDRAWN = "withdrawn", pgettext_lazy("dispute status", "Withdrawn")


DISPUTE_OPEN = (DisputeStatus.REQUESTED, DisputeStatus.EVIDENCE)


class Dispute(models.Model):
    """Platform intervention on a refused case: evidence from both sides, then a ruling."""

    case = models.ForeignKey(RefundCase, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_by_party = models.CharField(max_length=8, choices=Party.choices)
    status = models.CharField(
        max_length=12,
        choices=DisputeStatus.choices,
        default=DisputeStatus.REQUESTED,
        db_index=True,
    )
    reason = models.CharField(max_length=500)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evidence_deadline = models.DateTimeField(null=True, blank=True)
    # The ruling.
    ruling_amount_fen = models.PositiveBigIntegerField(default=0)
    ruling_reason = models.CharField(max_length=1000, blank=True)
    not_as_described = models.BooleanField(default=False)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ruled_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by_party = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status__in=["requested", "evidence"]),
                name="dispute_one_open_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status}) on case {self.case_id}"

    @property
    def is_open(self) -> bool:
        return self.status in DISPUTE_OPEN

    @property
    def evidence_over(self) -> bool:
        return self.evidence_deadline is not None and self.evidence_deadline <= clock.now()
