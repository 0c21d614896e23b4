"""Backfill the per-line money mirrors added for after-sales on orders that existed before:
a finished order's lines carry the commission taken at release; a fully refunded order's
lines (and postage) count as refunded."""

from django.db import migrations


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderLine = apps.get_model("orders", "OrderLine")
    for order in Order.objects.filter(status="TRADE_FINISHED").iterator():
        for line in OrderLine.objects.filter(order=order):
            line.commission_fen = (line.paid_fen * line.commission_rate_bp + 5_000) // 10_000
            line.save(update_fields=["commission_fen"])
    for order in Order.objects.filter(status="TRADE_CLOSED", refunded_fen__gt=0).iterator():
        for line in OrderLine.objects.filter(order=order):
            line.refunded_fen = line.paid_fen
            line.save(update_fields=["refunded_fen"])
        order.shipping_refunded_fen = order.shipping_fen
        order.save(update_fields=["shipping_refunded_fen"])


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_order_confirm_paused_seconds_order_not_shipped_at_and_more")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
