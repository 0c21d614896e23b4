from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from jishi.core import clock
from jishi.shops.models import Shop


class Category(models.Model):
    """A node of the category tree (at most 3 levels); products hang on leaves."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(_("name"), max_length=20)
    name_en = models.CharField(_("English name"), max_length=40, blank=True)
    icon = models.CharField(max_length=8, blank=True)
    commission_rate_bp = models.PositiveIntegerField(
        _("commission rate (basis points)"),
        default=200,
        help_text=_("200 = 2 %; frozen on each order line at the time of sale."),
    )
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the active language: ``name_en`` in English when there is one."""
        language = get_language() or ""
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    @property
    def commission_percent(self) -> str:
        return f"{self.commission_rate_bp / 100:g}"


class ProductStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LISTED = "listed", _("On sale")
    UNLISTED = "unlisted", _("In warehouse")
    BANNED = "banned", _("Taken down by the platform")


class StockDeduction(models.TextChoices):
    AT_ORDER = "order", _("When the order is placed")
    AT_PAYMENT = "payment", _("When the order is paid")


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    title = models.CharField(_("title"), max_length=60)
    subtitle = models.CharField(_("selling point"), max_length=80, blank=True)
    description = models.TextField(_("description"), max_length=20000, blank=True)
    brand = models.CharField(_("brand"), max_length=40, blank=True)
    attributes = models.JSONField(_("attributes"), default=list, blank=True)
    spec_names = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=ProductStatus.choices, default=ProductStatus.DRAFT, db_index=True
    )
    ban_reason = models.CharField(max_length=200, blank=True)
    is_featured = models.BooleanField(default=False)
    # Virtual goods (top-up cards, e-tickets) ship a delivery note, confirm after 3 days.
    is_virtual = models.BooleanField(_("virtual goods"), default=False)
    # 7-day no-reason return (七天无理由): on by default; off for custom, perishable goods.
    no_reason_return = models.BooleanField(_("7-day no-reason return"), default=True)
    stock_deduction = models.CharField(
        max_length=8, choices=StockDeduction.choices, default=StockDeduction.AT_ORDER
    )
    # Summaries kept by the catalog services so listings need no aggregate queries.
    price_min_fen = models.PositiveBigIntegerField(default=0)
    stock_total = models.PositiveBigIntegerField(default=0)
    sales_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    listed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "category"]),
            models.Index(fields=["shop", "status"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def cover(self):
        images = list(self.images.all())
        return images[0] if images else None


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="products/%Y/%m/")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.file.name


class Sku(models.Model):
    """One buyable variant (e.g. colour × size) with its own price in fen and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    specs = models.JSONField(default=dict, blank=True)
    spec_key = models.CharField(max_length=200)
    price_fen = models.PositiveBigIntegerField(_("price (fen)"))
    list_price_fen = models.PositiveBigIntegerField(_("list price (fen)"), null=True, blank=True)
    stock = models.PositiveIntegerField(_("stock"), default=0)
    code = models.CharField(_("seller SKU code"), max_length=64, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "spec_key"], name="sku_spec_unique"),
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="sku_price_positive"),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="sku_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.spec_key or '-'}"

    @property
    def spec_label(self) -> str:
        return " ".join(str(v) for v in self.specs.values())
