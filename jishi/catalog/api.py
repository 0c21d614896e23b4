"""Catalog API: the public category tree and products; the seller's products, SKUs and images.

Prices are integer fen (1 yuan = 100 fen); ``12.5`` or ``"1250"`` is not a price.
"""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import File, Router, Schema, UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.catalog import selectors, services
from jishi.catalog.models import ProductStatus, StockDeduction
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Count,
    Fen,
    Id,
    Text,
    acting_user,
    auth_errors,
    errors,
    file_url,
)

router = Router(tags=["catalog"])

Sort = Literal["new", "price_asc", "price_desc", "sales"]


# --- schemas ----------------------------------------------------------------------------------


class CategoryNode(Schema):
    id: int
    name: str
    name_en: str
    icon: str
    commission_rate_bp: int
    children: list["CategoryNode"] = []


CategoryNode.model_rebuild()


class ImageOut(Schema):
    id: int
    url: str
    position: int

    @staticmethod
    def resolve_url(obj) -> str:
        return obj.file.url


class SkuOut(Schema):
    id: int
    specs: dict[str, str]
    price_fen: int
    list_price_fen: int | None
    stock: int


class SellerSkuOut(SkuOut):
    product_id: int
    code: str
    is_active: bool


class ProductCardOut(Schema):
    id: int
    title: str
    subtitle: str
    price_min_fen: int
    stock_total: int
    sales_count: int
    shop_id: int
    shop_name: str
    category_id: int
    cover_url: str | None
    is_featured: bool
    listed_at: datetime | None

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name

    @staticmethod
    def resolve_cover_url(obj) -> str | None:
        cover = obj.cover
        return file_url(cover.file) if cover else None


class ProductDetailOut(ProductCardOut):
    description: str
    brand: str
    attributes: list[list[str]]
    spec_names: list[str]
    category_name: str
    stock_deduction: str
    is_virtual: bool
    images: list[ImageOut]
    skus: list[SkuOut]

    @staticmethod
    def resolve_category_name(obj) -> str:
        return obj.category.name

    @staticmethod
    def resolve_images(obj) -> list[Any]:
        return list(obj.images.all())

    @staticmethod
    def resolve_skus(obj) -> list[Any]:
        return list(obj.skus.all())  # active SKUs (prefetched by the selector)


class SellerProductOut(ProductDetailOut):
    status: str
    ban_reason: str
    created_at: datetime
    updated_at: datetime
    skus: list[SellerSkuOut]  # type: ignore[assignment]


class SkuIn(Schema):
    specs: dict[Text, Text] = {}
    price_fen: Fen
    list_price_fen: Fen | None = None
    stock: Count = 0
    code: Text = ""
    stock_seen: Count | None = None  # the stock you last read; a mismatch is a 400 stock_changed


class ProductIn(Schema):
    category_id: Id
    title: Text
    subtitle: Text = ""
    description: Text = ""
    brand: Text = ""
    attributes: list[list[Text]] = []
    spec_names: list[Text] = []
    stock_deduction: StockDeduction = StockDeduction.AT_ORDER
    is_virtual: bool = False
    skus: list[SkuIn]


class StockIn(Schema):
    stock: Count


def _category_node(category) -> dict[str, Any]:
    return {
        "id": category.pk,
        "name": category.name,
        "name_en": category.name_en,
        "icon": category.icon,
        "commission_rate_bp": category.commission_rate_bp,
        "children": [_category_node(c) for c in getattr(category, "active_children", [])],
    }


def _product_fields(payload: ProductIn) -> dict[str, Any]:
    data = payload.model_dump()
    data["skus"] = [sku.model_dump() for sku in payload.skus]
    return data


# --- public -----------------------------------------------------------------------------------


@router.get("/categories", auth=None, response={200: list[CategoryNode], **errors()})
def category_tree(request: HttpRequest):
    """The active category tree (at most 3 levels)."""
    return [_category_node(c) for c in selectors.category_tree()]


@router.get("/products", auth=None, response={200: list[ProductCardOut], **errors(404)})
@paginate(CappedLimitOffsetPagination)
def product_search(
    request: HttpRequest,
    category_id: Id | None = None,
    q: Text = "",
    shop_id: Id | None = None,
    sort: Sort = "new",
):
    """Products on sale; filter by category (with its subcategories), keyword and shop."""
    category = selectors.category_get(category_id=category_id) if category_id else None
    return selectors.product_search_public(category=category, q=q, shop_id=shop_id, sort=sort)


@router.get("/products/{product_id}", auth=None, response={200: ProductDetailOut, **errors(404)})
def product_detail(request: HttpRequest, product_id: Id):
    """A product on sale with its images and SKUs."""
    return selectors.product_get_public(product_id=product_id)


# --- seller center ----------------------------------------------------------------------------


@router.get("/seller/products", response={200: list[SellerProductOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_product_list(request: HttpRequest, status: ProductStatus | None = None):
    """The caller's shop's products (any staff role), optionally by status."""
    return selectors.product_list_for_staff(actor=acting_user(request), status=status or "")


@router.post("/seller/products", response={201: SellerProductOut, **auth_errors(400, 403, 404)})
def seller_product_create(request: HttpRequest, payload: ProductIn):
    """Create a product in the warehouse (draft) with its SKUs; list it separately."""
    actor = acting_user(request)
    product = services.product_create(actor=actor, **_product_fields(payload))
    return Status(201, selectors.product_get_for_staff(actor=actor, product_id=product.pk))


@router.get(
    "/seller/products/{product_id}", response={200: SellerProductOut, **auth_errors(403, 404)}
)
def seller_product_detail(request: HttpRequest, product_id: Id):
    return selectors.product_get_for_staff(actor=acting_user(request), product_id=product_id)


@router.put(
    "/seller/products/{product_id}", response={200: SellerProductOut, **auth_errors(400, 403, 404)}
)
def seller_product_update(request: HttpRequest, product_id: Id, payload: ProductIn):
    """Replace a product's fields and SKUs. SKUs match by specs; missing ones are retired."""
    actor = acting_user(request)
    services.product_update(actor=actor, product_id=product_id, **_product_fields(payload))
    return selectors.product_get_for_staff(actor=actor, product_id=product_id)


@router.post(
    "/seller/products/{product_id}/list",
    response={200: SellerProductOut, **auth_errors(400, 403, 404)},
)
def seller_product_list_for_sale(request: HttpRequest, product_id: Id):
    """Put the product on sale (上架); it needs a SKU with stock."""
    actor = acting_user(request)
    services.product_list(actor=actor, product_id=product_id)
    return selectors.product_get_for_staff(actor=actor, product_id=product_id)


@router.post(
    "/seller/products/{product_id}/unlist",
    response={200: SellerProductOut, **auth_errors(400, 403, 404)},
)
def seller_product_unlist(request: HttpRequest, product_id: Id):
    """Take the product off sale into the warehouse (下架)."""
    actor = acting_user(request)
    services.product_unlist(actor=actor, product_id=product_id)
    return selectors.product_get_for_staff(actor=actor, product_id=product_id)


@router.post(
    "/seller/products/{product_id}/images",
    response={201: list[ImageOut], **auth_errors(400, 403, 404)},
)
def seller_product_images_add(
    request: HttpRequest, product_id: Id, images: File[list[UploadedFile]]
):
    """Upload images (multipart field ``images``, repeatable; JPEG, PNG, WebP or GIF)."""
    actor = acting_user(request)
    services.product_images_add(actor=actor, product_id=product_id, images=images)
    product = selectors.product_get_for_staff(actor=actor, product_id=product_id)
    return Status(201, list(product.images.all()))


@router.delete(
    "/seller/products/{product_id}/images/{image_id}", response={204: None, **auth_errors(403, 404)}
)
def seller_product_image_remove(request: HttpRequest, product_id: Id, image_id: Id):
    services.product_image_remove(
        actor=acting_user(request), product_id=product_id, image_id=image_id
    )
    return Status(204, None)


@router.put(
    "/seller/skus/{sku_id}/stock", response={200: SellerSkuOut, **auth_errors(400, 403, 404)}
)
def seller_sku_stock_set(request: HttpRequest, sku_id: Id, payload: StockIn):
    """Set a SKU's stock (owner or warehouse staff)."""
    return services.sku_stock_set(actor=acting_user(request), sku_id=sku_id, stock=payload.stock)
