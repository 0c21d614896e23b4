"""Credit ratings (信用评价), DSR (店铺动态评分), shop credit and the shop quality score.

One ``Rating`` per order line and direction: the buyer rates the seller (and writes the
review other buyers read), the seller rates the buyer. ``points`` is what the rating adds to
the rated party's credit after the counting rules (6 points per pair a month, one point per
item in 14 days); ``ShopCredit`` / ``BuyerCredit`` hold the running sums. The order carries
the rating window's deadline (``Order.rate_deadline``), swept by the worker.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jishi.catalog.models import Category, Product
from jishi.core import clock
from jishi.orders.models import Order, OrderLine
from jishi.shops.models import Shop


class RatingRole(models.TextChoices):
    BUYER = "buyer", _("Buyer rates the seller")
    SELLER = "seller", _("Seller rates the buyer")


class Score(models.IntegerChoices):
    POSITIVE = 1, pgettext_lazy("rating", "Positive")
    NEUTRAL = 0, pgettext_lazy("rating", "Neutral")
    NEGATIVE = -1, pgettext_lazy("rating", "Negative")


class ReviewStatus(models.TextChoices):
    """Where a rating stands in the operators' anti-brushing review."""

    NONE = "", _("Not flagged")
    PENDING = "pending", _("Waiting for review")
    CLEARED = "cleared", _("Cleared")
    VOIDED = "voided", _("Voided from credit")


class Rating(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="ratings")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="ratings")
    role = models.CharField(max_length=8, choices=RatingRole.choices)
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="ratings")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings"
    )
    author = models.ForeignKey(  # who wrote it; null for the timer's default rating
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="ratings")
    spec_label = models.CharField(max_length=200, blank=True)
    score = models.SmallIntegerField(choices=Score.choices)
    text = models.CharField(max_length=500, blank=True)
    is_default = models.BooleanField(default=False)  # written by the timer: silence = positive
    # counting: the points this rating adds to the rated party's credit, and why not all
    points = models.SmallIntegerField(default=0)
    uncounted_reason = models.CharField(max_length=16, blank=True)
    order_created_at = models.DateTimeField()  # Taobao counts by the order's creation time
    created_at = models.DateTimeField(default=clock.now)
    # a neutral or negative rating may be changed to positive, or removed, once
    changed_at = models.DateTimeField(null=True, blank=True)
    original_score = models.SmallIntegerField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    # the seller's one public reply, the buyer's one follow-up review (追评)
    reply = models.CharField(max_length=500, blank=True)
    reply_at = models.DateTimeField(null=True, blank=True)
    followup = models.CharField(max_length=500, blank=True)
    followup_at = models.DateTimeField(null=True, blank=True)
    # anti-brushing
    flags = models.JSONField(default=list, blank=True)
    review_status = models.CharField(
        max_length=8, choices=ReviewStatus.choices, blank=True, default="", db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "role"], name="one_rating_per_line_and_role")
        ]
        indexes = [
            models.Index(fields=["shop", "role", "created_at"]),
            models.Index(fields=["product", "role", "created_at"]),
            models.Index(fields=["buyer", "shop", "role", "order_created_at"]),
        ]

    def __str__(self) -> str:
        return f"rating {self.pk} ({self.role}, {self.score:+d})"

    @property
    def is_visible(self) -> bool:
        return self.removed_at is None


class RatingImage(models.Model):
    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="images")
    followup = models.BooleanField(default=False)  # added with the follow-up review
    file = models.FileField(upload_to="ratings/%Y/%m/")

    def __str__(self) -> str:
        return self.file.name


class Dsr(models.Model):
    """The buyer's detailed seller rating for one order: anonymous and unchangeable."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="dsr")
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="dsrs")
    buyer = models.ForeignKey(  # kept for the counting rule; never shown
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(  # top-level category of the order's first item
        Category, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    item = models.PositiveSmallIntegerField()  # 描述相符
    service = models.PositiveSmallIntegerField()  # 服务态度
    logistics = models.PositiveSmallIntegerField()  # 物流服务
    counted = models.BooleanField(default=True)  # at most 3 per pair a month count
    order_created_at = models.DateTimeField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "counted", "created_at"]),
            models.Index(fields=["category", "counted", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"DSR {self.item}/{self.service}/{self.logistics} for order {self.order_id}"


class ShopCredit(models.Model):
    """A shop's standing: its credit score (the sum of the points of its buyers' ratings) and
    its latest daily quality score, kept on one row so listings can rank by it cheaply."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="credit")
    score = models.IntegerField(default=0)
    quality_score = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.score}"


class BuyerCredit(models.Model):
    """A buyer's credit score: the sum of the points of sellers' ratings of them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="buyer_credit"
    )
    score = models.IntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.score}"


class ShopQuality(models.Model):
    """The shop quality score of one day (0–100) with its parts, computed by the worker."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="quality_scores")
    day = models.DateField()
    score = models.PositiveSmallIntegerField()
    parts = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="one_quality_score_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day}: {self.score}"


class Device(models.Model):
    """A device a user signed in or ordered from (a hash of a client-sent device id, or of
    user agent and network): the anti-brushing checks compare buyers' and staff's devices."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(default=clock.now)
    last_seen_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="one_device_row_per_user")
        ]
        indexes = [models.Index(fields=["fingerprint"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.fingerprint[:8]}"
