"""Storefront pages: home, search, category listing, product page."""

from django.shortcuts import render

from jishi.catalog import selectors
from jishi.core.pagination import page_of
from jishi.shops.selectors import shop_list_public

SORT_CHOICES = ("new", "sales", "price_asc", "price_desc")


def home(request):
    return render(
        request,
        "catalog/home.html",
        {
            "categories": selectors.category_tree(),
            "featured": selectors.products_featured(limit=10),
            "new_products": selectors.products_new(limit=20),
            "shops": list(shop_list_public()[:5]),
        },
    )


def _listing(request, *, category=None, template="catalog/listing.html", extra=None):
    q = request.GET.get("q", "")[: selectors.KEYWORD_LENGTH_MAX].strip()
    sort = request.GET.get("sort", "new")
    if sort not in SORT_CHOICES:
        sort = "new"
    products = selectors.product_search_public(category=category, q=q, sort=sort)
    context = {
        "category": category,
        "path": selectors.category_path(category) if category else [],
        "categories": selectors.category_tree(),
        "q": q,
        "sort": sort,
        "page": page_of(products, request.GET.get("page")),
        **(extra or {}),
    }
    return render(request, template, context)


def search(request):
    return _listing(request)


def category(request, category_id: int):
    return _listing(request, category=selectors.category_get(category_id=category_id))


def product_detail(request, product_id: int):
    product = selectors.product_get_public(product_id=product_id)
    skus = [sku for sku in product.skus.all()]
    sku_data = [
        {
            "id": s.id,
            "specs": s.specs,
            "price_fen": s.price_fen,
            "list_price_fen": s.list_price_fen,
            "stock": s.stock,
        }
        for s in skus
    ]
    spec_options = [
        (name, list(dict.fromkeys(s.specs.get(name, "") for s in skus)))
        for name in product.spec_names
    ]
    return render(
        request,
        "catalog/product.html",
        {
            "product": product,
            "path": selectors.category_path(product.category),
            "skus": skus,
            "sku_data": sku_data,
            "spec_options": spec_options,
            "shop": product.shop,
            "shop_products": selectors.product_search_public(
                shop_id=product.shop_id, sort="sales"
            ).exclude(pk=product.pk)[:4],
        },
    )
