"""Storefront shop page."""

from django.shortcuts import render

from jishi.catalog.selectors import product_search_public
from jishi.catalog.views import SORT_CHOICES
from jishi.core.pagination import page_of
from jishi.shops.selectors import shop_get_public


def shop_detail(request, shop_id: int):
    shop = shop_get_public(shop_id=shop_id)
    q = request.GET.get("q", "")[:50].strip()
    sort = request.GET.get("sort", "new")
    if sort not in SORT_CHOICES:
        sort = "new"
    products = product_search_public(shop_id=shop.pk, q=q, sort=sort)
    return render(
        request,
        "shops/shop.html",
        {
            "shop": shop,
            "q": q,
            "sort": sort,
            "page": page_of(products, request.GET.get("page")),
            "product_count": products.count(),
        },
    )
