"""Catalog reads for the storefront, the seller center and the console."""

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from jishi.catalog.models import Category, Product, ProductImage, ProductStatus, Sku
from jishi.catalog.services import products_visible_q
from jishi.core.errors import NotFound
from jishi.shops.permissions import shop_require

KEYWORD_LENGTH_MAX = 50
SORTS = {
    "new": ("-listed_at", "-id"),
    "price_asc": ("price_min_fen", "id"),
    "price_desc": ("-price_min_fen", "-id"),
    "sales": ("-sales_count", "-id"),
}


def category_tree() -> list[Category]:
    """Active top-level categories, each with ``.active_children`` (two queries in all)."""
    categories = list(Category.objects.filter(is_active=True))
    by_parent: dict[int | None, list[Category]] = {}
    for category in categories:
        by_parent.setdefault(category.parent_id, []).append(category)
    for category in categories:
        category.active_children = by_parent.get(category.pk, [])
    return by_parent.get(None, [])


def category_get(*, category_id: int) -> Category:
    category = Category.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        raise NotFound(message=_("Category not found."))
    return category


def category_descendant_ids(category: Category) -> list[int]:
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(
            Category.objects.filter(parent_id__in=frontier, is_active=True).values_list(
                "pk", flat=True
            )
        )
        ids.extend(frontier)
    return ids


def category_path(category: Category) -> list[Category]:
    path = []
    node: Category | None = category
    while node is not None:
        path.append(node)
        node = node.parent
    return path[::-1]


def category_leaves() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True, children__isnull=True).select_related("parent")


def _with_listing_data(qs: QuerySet[Product]) -> QuerySet[Product]:
    return qs.select_related("shop", "category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )


def product_search_public(
    *, category: Category | None = None, q: str = "", shop_id: int | None = None, sort: str = "new"
) -> QuerySet[Product]:
    """Products buyers may see, filtered by category subtree, keyword and shop."""
    qs = Product.objects.filter(products_visible_q())
    if category is not None:
        qs = qs.filter(category_id__in=category_descendant_ids(category))
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    for word in (q or "")[:KEYWORD_LENGTH_MAX].split():
        qs = qs.filter(
            Q(title__icontains=word) | Q(subtitle__icontains=word) | Q(brand__icontains=word)
        )
    return _with_listing_data(qs.order_by(*SORTS.get(sort, SORTS["new"])))


def products_featured(*, limit: int = 10) -> list[Product]:
    return list(
        _with_listing_data(Product.objects.filter(products_visible_q(), is_featured=True))[:limit]
    )


def products_new(*, limit: int = 20) -> list[Product]:
    return list(
        _with_listing_data(
            Product.objects.filter(products_visible_q()).order_by("-listed_at", "-id")
        )[:limit]
    )


def product_get_public(*, product_id: Any) -> Product:
    product = None
    if str(product_id).isdecimal():
        product = (
            _with_listing_data(Product.objects.filter(products_visible_q()))
            .filter(pk=product_id)
            .prefetch_related(Prefetch("skus", queryset=Sku.objects.filter(is_active=True)))
            .first()
        )
    if product is None:
        raise NotFound(message=_("Product not found."))
    return product


def product_list_for_staff(*, actor: Any, status: str = "") -> QuerySet[Product]:
    membership = shop_require(actor, "product.view")
    qs = Product.objects.filter(shop_id=membership.shop_id)
    if status:
        qs = qs.filter(status=status)
    return _with_listing_data(qs).prefetch_related(
        Prefetch("skus", queryset=Sku.objects.filter(is_active=True))
    )


def product_get_for_staff(*, actor: Any, product_id: Any) -> Product:
    product = None
    if str(product_id).isdecimal():
        product = product_list_for_staff(actor=actor).filter(pk=product_id).first()
    if product is None:
        raise NotFound(message=_("Product not found."))
    return product


def product_list_for_console(*, q: str = "", status: str = "") -> QuerySet[Product]:
    qs = Product.objects.all()
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(title__icontains=q[:KEYWORD_LENGTH_MAX])
    return _with_listing_data(qs)


def product_summary_for_staff(*, actor: Any) -> dict[str, Any]:
    """Counts of the acting staff member's shop products by status, and their total stock."""
    membership = shop_require(actor, "product.view")
    qs = Product.objects.filter(shop_id=membership.shop_id)
    counts = dict.fromkeys(ProductStatus.values, 0)
    for row in qs.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    stock = qs.exclude(status=ProductStatus.BANNED).aggregate(total=Sum("stock_total"))["total"]
    return {"counts": counts, "total": sum(counts.values()), "stock_total": stock or 0}


def sku_list_for_staff(*, actor: Any, q: str = "") -> QuerySet[Sku]:
    """The active SKUs of the acting staff member's shop, newest product first."""
    membership = shop_require(actor, "product.view")
    qs = Sku.objects.filter(product__shop_id=membership.shop_id, is_active=True)
    for word in (q or "")[:KEYWORD_LENGTH_MAX].split():
        qs = qs.filter(Q(product__title__icontains=word) | Q(code__icontains=word))
    return (
        qs.select_related("product")
        .prefetch_related(
            Prefetch("product__images", queryset=ProductImage.objects.order_by("position", "id"))
        )
        .order_by("-product_id", "id")
    )


def category_list_for_console() -> list[Category]:
    """Every category (inactive too) depth-first, each with ``.depth`` (1-based) and
    ``.product_count``, for the operator console."""
    categories = list(Category.objects.annotate(product_count=Count("products")))
    by_parent: dict[int | None, list[Category]] = {}
    for category in categories:
        by_parent.setdefault(category.parent_id, []).append(category)
    ordered: list[Category] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for category in by_parent.get(parent_id, []):
            category.depth = depth
            category.has_children = category.pk in by_parent
            ordered.append(category)
            walk(category.pk, depth + 1)

    walk(None, 1)
    return ordered


def category_get_for_console(*, category_id: Any) -> Category:
    """One category (inactive too) with ``.depth`` and ``.product_count`` as in
    ``category_list_for_console``."""
    category = (
        Category.objects.annotate(product_count=Count("products")).filter(pk=category_id).first()
        if str(category_id).isdecimal()
        else None
    )
    if category is None:
        raise NotFound(message=_("Category not found."))
    category.depth = len(category_path(category))
    return category
