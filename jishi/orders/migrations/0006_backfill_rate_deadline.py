"""Orders completed before ratings existed: those still inside the 15-day window can be rated
until it ends; older ones get no rating window (no flood of default ratings on upgrade)."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

RATING_WINDOW = timedelta(days=15)  # the rule's default at the time of this migration


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    since = timezone.now() - RATING_WINDOW
    for order in Order.objects.filter(status="TRADE_FINISHED", finished_at__gt=since).iterator():
        order.rate_deadline = order.finished_at + RATING_WINDOW
        order.save(update_fields=["rate_deadline"])


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_order_rate_deadline")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
