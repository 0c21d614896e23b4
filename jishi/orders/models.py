from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jishi.catalog.models import Product, Sku, StockDeduction
from jishi.core import clock
from jishi.shops.models import Shop


class CartItem(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_items"
    )
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "sku"], name="cart_sku_once")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.sku_id}x{self.quantity}"


class ShippingTemplate(models.Model):
    """A shop's postage rule (运费模板): a default fee, per-province fees, free above an amount."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="shipping_template")
    default_fee_fen = models.PositiveIntegerField(default=0)
    province_fees = models.JSONField(default=dict, blank=True)  # {"新疆维吾尔自治区": 2000}
    free_over_fen = models.PositiveBigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"shipping of shop {self.shop_id}"


class OrderStatus(models.TextChoices):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY", _("Awaiting payment")
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS", _("Awaiting shipment")
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS", _("Shipped")
    TRADE_FINISHED = "TRADE_FINISHED", _("Completed")
    TRADE_CLOSED_BY_SYSTEM = "TRADE_CLOSED_BY_SYSTEM", _("Closed (unpaid)")
    TRADE_CLOSED = "TRADE_CLOSED", _("Closed (refunded)")


FINAL_STATUSES = (
    OrderStatus.TRADE_FINISHED,
    OrderStatus.TRADE_CLOSED_BY_SYSTEM,
    OrderStatus.TRADE_CLOSED,
)
PAID_STATUSES = (OrderStatus.WAIT_SELLER_SEND_GOODS, OrderStatus.WAIT_BUYER_CONFIRM_GOODS)


class OrderReason(models.TextChoices):
    """Why an order changed status: ``Order.close_reason`` and the audit log's ``reason``."""

    BUYER_CANCELLED = "buyer_cancelled", _("Cancelled by the buyer")
    UNPAID_TIMEOUT = "unpaid_timeout", _("Not paid in time")
    REFUNDED_BEFORE_SHIPMENT = "refunded_before_shipment", _("Fully refunded before shipment")
    BUYER_CONFIRMED = "buyer_confirmed", _("Receipt confirmed by the buyer")
    AUTO_CONFIRMED = "auto_confirmed", _("Receipt confirmed automatically")
    FULLY_REFUNDED = "fully_refunded", _("Fully refunded after-sales")


def order_reason_label(reason: str) -> str:
    """The translated label of a reason code; any other text (a person's words) as it is."""
    if reason in OrderReason.values:
        return str(OrderReason(reason).label)
    return reason


class OrderGroup(models.Model):
    """One checkout: the buyer pays the whole group at once; it holds one order per shop."""

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="order_groups"
    )
    total_fen = models.PositiveBigIntegerField()
    # A retried checkout with the same key returns this group instead of a second one.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    idempotency_hash = models.CharField(max_length=64, blank=True)  # what that key asked for
    created_at = models.DateTimeField(default=clock.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"group {self.pk}"


class Order(models.Model):
    group = models.ForeignKey(OrderGroup, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=24,
        choices=OrderStatus.choices,
        default=OrderStatus.WAIT_BUYER_PAY,
        db_index=True,
    )
    # Address snapshot; the buyer may change it until the order ships.
    recipient = models.CharField(max_length=25)
    phone = models.CharField(max_length=20)
    province = models.CharField(max_length=16)
    city = models.CharField(max_length=32)
    district = models.CharField(max_length=32)
    detail = models.CharField(max_length=120)
    buyer_note = models.CharField(max_length=200, blank=True)
    seller_memo = models.CharField(max_length=500, blank=True)
    # Money, frozen at checkout (fen). total = items (after discounts) + shipping.
    items_fen = models.PositiveBigIntegerField()
    discount_fen = models.PositiveBigIntegerField(default=0)
    shipping_fen = models.PositiveBigIntegerField(default=0)
    total_fen = models.PositiveBigIntegerField()
    # Filled as money moves (mirrors of the ledger, checked by `jishi ledger check`).
    commission_fen = models.PositiveBigIntegerField(default=0)
    released_fen = models.PositiveBigIntegerField(default=0)
    refunded_fen = models.PositiveBigIntegerField(default=0)
    shipping_refunded_fen = models.PositiveBigIntegerField(default=0)
    is_virtual = models.BooleanField(default=False)
    # Shipping.
    carrier = models.CharField(max_length=40, blank=True)
    tracking_no = models.CharField(max_length=40, blank=True)
    delivery_note = models.CharField(max_length=500, blank=True)
    # Timers: each deadline lives on the row it governs; the worker sweeps due rows.
    pay_deadline = models.DateTimeField(null=True, blank=True)
    ship_deadline = models.DateTimeField(null=True, blank=True)
    confirm_deadline = models.DateTimeField(null=True, blank=True)
    receipt_extended = models.BooleanField(default=False)
    # While an after-sales request is open the auto-confirm timer is paused: the time left
    # is kept here and the deadline cleared; it resumes when the last request closes.
    confirm_paused_seconds = models.PositiveIntegerField(null=True, blank=True)
    late_shipment_at = models.DateTimeField(null=True, blank=True)
    not_shipped_at = models.DateTimeField(null=True, blank=True)  # paid-not-shipped violation
    # the rating window: when it ends the worker writes the default (positive) ratings
    rate_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=clock.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "pay_deadline"]),
            models.Index(fields=["status", "ship_deadline"]),
            models.Index(fields=["status", "confirm_deadline"]),
            models.Index(fields=["buyer", "status"]),
            models.Index(fields=["shop", "status"]),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"

    @property
    def address_text(self) -> str:
        return f"{self.province} {self.city} {self.district} {self.detail}"


class OrderLine(models.Model):
    """One SKU in an order, with everything that decides its money frozen at checkout."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=60)
    spec_label = models.CharField(max_length=200, blank=True)
    image = models.CharField(max_length=300, blank=True)
    unit_price_fen = models.PositiveBigIntegerField()
    quantity = models.PositiveIntegerField()
    discount_fen = models.PositiveBigIntegerField(default=0)
    paid_fen = models.PositiveBigIntegerField()  # unit price × quantity − discount
    refunded_fen = models.PositiveBigIntegerField(default=0)  # after-sales, this line's part
    commission_rate_bp = models.PositiveIntegerField()
    commission_fen = models.PositiveBigIntegerField(default=0)  # taken at release, net of returns
    stock_deduction = models.CharField(max_length=8)
    stock_held = models.BooleanField(default=False)  # stock currently deducted for this line

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.title} x{self.quantity}"

    @property
    def stock_deduction_label(self) -> str:
        """The label of the stock deduction mode frozen on the line (e.g. "拍下减库存")."""
        if self.stock_deduction in StockDeduction.values:
            return StockDeduction(self.stock_deduction).label
        return self.stock_deduction
