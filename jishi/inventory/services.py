"""Stock moves. Stock is never negative: a deduction is one conditional UPDATE
(``stock >= quantity``), so of two buyers racing for the last unit exactly one wins.

Lock order: the products of the SKUs first, then the SKUs, each in ascending id order — the
same order as the seller's stock and product edits (product row, then its SKUs), so a
checkout and a stock edit can never deadlock. Callers that lock orders do so before this.
"""

from collections.abc import Iterable

from django.db.models import F
from django.utils.translation import gettext_lazy as _

from jishi.catalog.models import Product, Sku
from jishi.catalog.services import product_refresh_summary
from jishi.core.errors import Conflict
from jishi.inventory.errors import InventoryError


def _merged(items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    totals: dict[int, int] = {}
    for sku_id, quantity in items:
        totals[sku_id] = totals.get(sku_id, 0) + quantity
    return sorted(totals.items())


def products_lock(product_ids: Iterable[int]) -> None:
    """Lock product rows FOR UPDATE in ascending id order."""
    list(
        Product.objects.select_for_update()
        .filter(pk__in=set(product_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _lock_products_of(sku_ids: list[int]) -> None:
    products_lock(Sku.objects.filter(pk__in=sku_ids).values_list("product_id", flat=True))


def _refresh(sku_ids: list[int]) -> None:
    for product in Product.objects.filter(skus__pk__in=sku_ids).distinct().order_by("pk"):
        product_refresh_summary(product)


def stock_take(items: Iterable[tuple[int, int]]) -> None:
    """Deduct (sku_id, quantity) pairs; all or nothing (call inside the caller's transaction)."""
    merged = _merged(items)
    _lock_products_of([sku_id for sku_id, _q in merged])
    for sku_id, quantity in merged:
        if not Sku.objects.filter(pk=sku_id, stock__gte=quantity).update(
            stock=F("stock") - quantity
        ):
            sku = Sku.objects.select_related("product").filter(pk=sku_id).first()
            raise Conflict(
                InventoryError.OUT_OF_STOCK,
                _("Out of stock: %(title)s %(spec)s (%(left)d left).")
                % {
                    "title": sku.product.title if sku else "",
                    "spec": sku.spec_label if sku else "",
                    "left": sku.stock if sku else 0,
                },
                sku_id=sku_id,
                available=sku.stock if sku else 0,
            )
    _refresh([sku_id for sku_id, _q in merged])


def stock_return(items: Iterable[tuple[int, int]]) -> None:
    """Give deducted stock back (an order closed unpaid, or was refunded before shipping)."""
    merged = _merged(items)
    _lock_products_of([sku_id for sku_id, _q in merged])
    for sku_id, quantity in merged:
        Sku.objects.filter(pk=sku_id).update(stock=F("stock") + quantity)
    _refresh([sku_id for sku_id, _q in merged])
