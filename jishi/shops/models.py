from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from jishi.core import clock


class ShopType(models.TextChoices):
    C2C = "C2C", _("Individual shop (C2C)")
    B2C = "B2C", _("Brand store (B2C)")
    B2B = "B2B", _("Wholesale (B2B)")


class ShopStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    SUSPENDED = "suspended", _("Suspended by the platform")


class Shop(models.Model):
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_shop"
    )
    name = models.CharField(_("shop name"), max_length=30)
    shop_type = models.CharField(
        _("shop type"), max_length=3, choices=ShopType.choices, default=ShopType.C2C
    )
    logo = models.FileField(_("logo"), upload_to="shops/logos/", blank=True)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    province = models.CharField(_("province"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    status = models.CharField(
        max_length=10, choices=ShopStatus.choices, default=ShopStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="shop_name_unique_ci")]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class StaffRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    SERVICE = "service", _("Customer service")
    WAREHOUSE = "warehouse", _("Warehouse")


class ShopStaff(models.Model):
    """Who works for a shop and in which role (子账号). The owner has a row too."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop_membership"
    )
    role = models.CharField(max_length=10, choices=StaffRole.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.shop_id} ({self.role})"


class ViolationKind(models.TextChoices):
    LATE_SHIPMENT = "late_shipment", _("Late shipment")
    NOT_SHIPPED = "not_shipped", _("Paid but not shipped")
    NOT_AS_DESCRIBED = "not_as_described", _("Item not as described (ruling)")
    OTHER = "other", _("Other rule breach")


class Violation(models.Model):
    """A rule breach recorded against a shop, with penalty points (违规扣分)."""

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="violations")
    kind = models.CharField(max_length=20, choices=ViolationKind.choices)
    points = models.PositiveIntegerField()
    order_id = models.BigIntegerField(null=True, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True)
    compensation_fen = models.PositiveBigIntegerField(default=0)  # paid to the buyer
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One automatic violation of a kind per order (a timer retried never doubles it).
            models.UniqueConstraint(
                fields=["order_id", "kind"],
                condition=models.Q(order_id__isnull=False),
                name="violation_once_per_order_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.points}) shop {self.shop_id}"
