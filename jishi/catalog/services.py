"""Catalog writes: categories (operators), products and SKUs (shop staff by role)."""

from typing import Any

from django.db import transaction
from django.db.models import Min, Q, Sum
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.notifications import notify
from jishi.accounts.permissions import operator_require
from jishi.catalog.errors import CatalogError
from jishi.catalog.models import (
    Category,
    Product,
    ProductImage,
    ProductStatus,
    Sku,
    StockDeduction,
)
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import CoreError, DomainError, NotFound, field_error
from jishi.core.images import image_check
from jishi.core.rules import rule
from jishi.core.validation import clean_int, clean_text
from jishi.shops.permissions import shop_require

CATEGORY_DEPTH_MAX = 3
COMMISSION_RATE_BP_MAX = 5000  # 50 %: anything above is a typo
TITLE_LENGTH_MAX = 60
SPEC_DIMENSIONS_MAX = 3
SPEC_VALUE_LENGTH_MAX = 20
ATTRIBUTES_MAX = 30

# --- categories (operators) -------------------------------------------------------------------


def _category_depth(category: Category | None) -> int:
    depth = 0
    while category is not None:
        depth += 1
        category = category.parent
    return depth


def _category_fields_clean(
    *, name: Any, name_en: Any, icon: Any, commission_rate_bp: Any, position: Any
) -> dict[str, Any]:
    return {
        "name": clean_text(name, field="name", max_length=20),
        "name_en": clean_text(name_en, field="name_en", max_length=40, required=False),
        "icon": clean_text(icon, field="icon", max_length=8, required=False),
        "commission_rate_bp": clean_int(
            rule("commission_rate_default_bp")
            if commission_rate_bp in (None, "")
            else commission_rate_bp,
            field="commission_rate_bp",
            minimum=0,
            maximum=COMMISSION_RATE_BP_MAX,
        ),
        "position": clean_int(position or 0, field="position", minimum=0, maximum=100_000),
    }


def _parent_get(parent_id: int | None) -> Category | None:
    """The parent, locked: sibling-name checks below are then not raced by another create."""
    if parent_id in (None, "", 0):
        return None
    parent = (
        Category.objects.select_for_update().filter(pk=parent_id).first()
        if str(parent_id).isdecimal()
        else None
    )
    if parent is None:
        raise field_error("parent_id", _("The parent category does not exist."))
    return parent


def _sibling_name_check(*, parent_id: int | None, name: str, exclude_id: int | None = None):
    """Siblings (inactive ones too: they may come back) have different names."""
    siblings = Category.objects.filter(parent_id=parent_id, name__iexact=name)
    if exclude_id is not None:
        siblings = siblings.exclude(pk=exclude_id)
    if siblings.exists():
        raise field_error(
            "name",
            _("Another category at this level already has this name."),
            CatalogError.CATEGORY_NAME_TAKEN,
        )


@transaction.atomic
def category_create(
    *,
    operator: User,
    name: str,
    parent_id: int | None = None,
    name_en: str = "",
    icon: str = "",
    commission_rate_bp: int | None = None,
    position: int = 0,
) -> Category:
    operator_require(operator, "category.manage")
    parent = _parent_get(parent_id)
    if _category_depth(parent) >= CATEGORY_DEPTH_MAX:
        raise DomainError(
            CatalogError.CATEGORY_TOO_DEEP,
            _("Categories go at most %(n)d levels deep.") % {"n": CATEGORY_DEPTH_MAX},
        )
    if parent is not None and parent.products.exists():
        raise DomainError(
            CatalogError.CATEGORY_HAS_PRODUCTS,
            _("This category holds products; it cannot get subcategories."),
        )
    clean = _category_fields_clean(
        name=name,
        name_en=name_en,
        icon=icon,
        commission_rate_bp=commission_rate_bp,
        position=position,
    )
    _sibling_name_check(parent_id=parent.pk if parent else None, name=clean["name"])
    category = Category.objects.create(parent=parent, **clean)
    audit_record(actor=operator, action="category.create", obj=category, after=clean)
    return category


@transaction.atomic
def category_update(
    *,
    operator: User,
    category_id: int,
    name: str | None = None,
    name_en: str | None = None,
    icon: str | None = None,
    commission_rate_bp: int | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> Category:
    """Change a category; a field given as None keeps its value. A new commission rate
    applies to orders placed from now on."""
    operator_require(operator, "category.manage")
    category = Category.objects.select_for_update().filter(pk=category_id).first()
    if category is None:
        raise NotFound(message=_("Category not found."))

    def given(value: Any, current: Any) -> Any:
        return current if value is None else value

    clean = _category_fields_clean(
        name=given(name, category.name),
        name_en=given(name_en, category.name_en),
        icon=given(icon, category.icon),
        commission_rate_bp=given(commission_rate_bp, category.commission_rate_bp),
        position=given(position, category.position),
    )
    clean["is_active"] = bool(given(is_active, category.is_active))
    if category.parent_id is not None:
        Category.objects.select_for_update().filter(pk=category.parent_id).first()
    _sibling_name_check(parent_id=category.parent_id, name=clean["name"], exclude_id=category.pk)
    before = {key: getattr(category, key) for key in clean}
    for key, value in clean.items():
        setattr(category, key, value)
    category.save()
    audit_record(actor=operator, action="category.update", obj=category, before=before, after=clean)
    return category


# --- products ---------------------------------------------------------------------------------


def _leaf_category(category_id: Any) -> Category:
    category = (
        Category.objects.filter(pk=category_id, is_active=True).first()
        if str(category_id).isdecimal()
        else None
    )
    if category is None:
        raise field_error("category_id", _("Choose a category."))
    if category.children.exists():
        raise field_error(
            "category_id", _("Choose the most specific category."), CatalogError.CATEGORY_NOT_LEAF
        )
    return category


def _attributes_clean(attributes: Any) -> list[list[str]]:
    """Attributes are [name, value] pairs such as ["产地", "浙江安吉"]."""
    if attributes in (None, ""):
        return []
    if not isinstance(attributes, list) or len(attributes) > ATTRIBUTES_MAX:
        raise field_error(
            "attributes",
            _("Give at most %(n)d attributes as name/value pairs.") % {"n": ATTRIBUTES_MAX},
            CatalogError.ATTRIBUTES_INVALID,
        )
    clean = []
    for pair in attributes:
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise field_error(
                "attributes",
                _("Each attribute is a name and a value."),
                CatalogError.ATTRIBUTES_INVALID,
            )
        name = clean_text(pair[0], field="attributes", max_length=20)
        value = clean_text(pair[1], field="attributes", max_length=100)
        clean.append([name, value])
    return clean


def _spec_names_clean(spec_names: Any) -> list[str]:
    names = [clean_text(n, field="spec_names", max_length=10) for n in (spec_names or [])]
    if len(names) > SPEC_DIMENSIONS_MAX or len(set(names)) != len(names):
        raise field_error(
            "spec_names",
            _("Use at most 3 different spec names (e.g. colour, size)."),
            CatalogError.SKU_SPECS_INVALID,
        )
    return names


def spec_key_of(spec_names: list[str], specs: dict[str, str]) -> str:
    return ";".join(f"{name}:{specs[name]}" for name in spec_names)


def _skus_clean(skus: Any, spec_names: list[str]) -> list[dict[str, Any]]:
    if not isinstance(skus, list) or not skus:
        raise field_error(
            "skus", _("Add at least one SKU with a price."), CatalogError.SKU_REQUIRED
        )
    if len(skus) > rule("product_skus_max"):
        raise field_error("skus", _("Too many SKUs."), CatalogError.SKU_LIMIT)
    if not spec_names and len(skus) > 1:
        raise field_error(
            "skus",
            _("Name the specs (e.g. colour, size) to offer several SKUs."),
            CatalogError.SKU_SPECS_INVALID,
        )
    clean, keys = [], set()
    for index, raw in enumerate(skus):
        # Errors about one SKU name it as the request does: skus.<index>.<field> (0-based).
        where = f"skus.{index}"
        if not isinstance(raw, dict):
            raise field_error(
                where,
                _("Each SKU needs specs, a price and stock."),
                CatalogError.SKU_SPECS_INVALID,
            )
        specs = raw.get("specs") or {}
        if not isinstance(specs, dict) or set(specs) != set(spec_names):
            raise field_error(
                f"{where}.specs",
                _("Each SKU must give a value for every spec name."),
                CatalogError.SKU_SPECS_INVALID,
            )
        specs = {
            n: clean_text(specs[n], field=f"{where}.specs", max_length=SPEC_VALUE_LENGTH_MAX)
            for n in spec_names
        }
        key = spec_key_of(spec_names, specs)
        if key in keys:
            raise field_error(
                f"{where}.specs", _("Two SKUs have the same specs."), CatalogError.SKU_DUPLICATE
            )
        keys.add(key)
        price_max = rule("sku_price_fen_max")
        price = _price_clean(raw.get("price_fen"), price_max, field=f"{where}.price_fen")
        list_price = raw.get("list_price_fen")
        if list_price in (None, "", 0):
            list_price = None
        else:
            list_price = _price_clean(list_price, price_max, field=f"{where}.list_price_fen")
            if list_price <= price:
                raise field_error(
                    f"{where}.list_price_fen",
                    _("The crossed-out list price must be higher than the price."),
                    CatalogError.LIST_PRICE_TOO_LOW,
                )
        clean.append(
            {
                "specs": specs,
                "spec_key": key,
                "price_fen": price,
                "list_price_fen": list_price,
                "stock": _stock_clean(raw.get("stock", 0), field=f"{where}.stock"),
                "code": clean_text(
                    raw.get("code"), field=f"{where}.code", max_length=64, required=False
                ),
                # The stock the editor showed, to notice a change made meanwhile (optional).
                "stock_seen": None
                if raw.get("stock_seen") in (None, "")
                else _stock_clean(raw.get("stock_seen"), field=f"{where}.stock"),
            }
        )
    return clean


def _price_clean(value: Any, price_max: int, field: str = "price_fen") -> int:
    try:
        return clean_int(value, field=field, minimum=1, maximum=price_max)
    except DomainError as exc:
        raise field_error(
            field,
            _("A price is a whole number of fen from 1 to %(max)d.") % {"max": price_max},
            CatalogError.PRICE_INVALID,
        ) from exc


def _stock_clean(value: Any, field: str = "stock") -> int:
    stock_max = rule("sku_stock_max")
    try:
        return clean_int(value, field=field, minimum=0, maximum=stock_max)
    except DomainError as exc:
        raise field_error(
            field,
            _("Stock is a whole number from 0 to %(max)d.") % {"max": stock_max},
            CatalogError.STOCK_INVALID,
        ) from exc


def _product_fields_clean(data: dict[str, Any]) -> dict[str, Any]:
    deduction = data.get("stock_deduction") or StockDeduction.AT_ORDER
    if deduction not in StockDeduction.values:
        raise field_error("stock_deduction", _("Choose when stock is deducted."))
    return {
        "category": _leaf_category(data.get("category_id")),
        "title": clean_text(data.get("title"), field="title", max_length=TITLE_LENGTH_MAX),
        "subtitle": clean_text(
            data.get("subtitle"), field="subtitle", max_length=80, required=False
        ),
        "description": clean_text(
            data.get("description"), field="description", max_length=20000, required=False
        ),
        "brand": clean_text(data.get("brand"), field="brand", max_length=40, required=False),
        "attributes": _attributes_clean(data.get("attributes")),
        "spec_names": _spec_names_clean(data.get("spec_names")),
        "stock_deduction": deduction,
        "is_virtual": data.get("is_virtual") in (True, "on", "true", "1", 1),
        # absent = on (the platform default); forms send a yes/no choice
        "no_reason_return": data.get("no_reason_return", True) in (True, "on", "true", "1", 1),
    }


def product_refresh_summary(product: Product) -> None:
    """Recompute the listing summaries (lowest price, total stock) from the active SKUs.

    The product row is locked before the SKUs are summed: two checkouts that change different
    SKUs of one product at once then sum one after the other, the second seeing the first's
    committed change (READ COMMITTED), so neither overwrites the total with a stale sum."""
    Product.objects.select_for_update().filter(pk=product.pk).values_list("pk").first()
    summary = Sku.objects.filter(product=product, is_active=True).aggregate(
        price=Min("price_fen"), stock=Sum("stock")
    )
    product.price_min_fen = summary["price"] or 0
    product.stock_total = summary["stock"] or 0
    Product.objects.filter(pk=product.pk).update(
        price_min_fen=product.price_min_fen, stock_total=product.stock_total
    )


def _product_for_staff(actor: User, product_id: Any, permission: str) -> Product:
    membership = shop_require(actor, permission)
    product = None
    if str(product_id).isdecimal():
        product = (
            Product.objects.select_for_update()
            .filter(pk=product_id, shop_id=membership.shop_id)
            .first()
        )
    if product is None:  # another shop's product looks exactly like a missing one
        raise NotFound(message=_("Product not found."))
    return product


def _product_editable(actor: User, product_id: Any) -> Product:
    """The actor's product, if the platform has not taken it down (then only it can act)."""
    product = _product_for_staff(actor, product_id, "product.edit")
    if product.status == ProductStatus.BANNED:
        raise DomainError(
            CatalogError.PRODUCT_BANNED,
            _("This product was taken down by the platform: %(reason)s")
            % {"reason": product.ban_reason},
        )
    return product


def _images_add(product: Product, images: list[Any]) -> None:
    count = product.images.count()
    if count + len(images) > rule("product_images_max"):
        raise field_error(
            "images",
            _("A product has at most %(n)d images.") % {"n": rule("product_images_max")},
            CatalogError.IMAGE_LIMIT,
        )
    for offset, upload in enumerate(images):
        ext = image_check(upload, field="images")
        image = ProductImage(product=product, position=count + offset)
        image.file.save(f"p{product.pk}.{ext}", upload, save=False)
        image.save()


@transaction.atomic
def product_create(
    *, actor: User, skus: list[dict[str, Any]], images: list[Any] | None = None, **data: Any
) -> Product:
    """Create a product in the warehouse (draft); list it separately."""
    membership = shop_require(actor, "product.edit")
    clean = _product_fields_clean(data)
    sku_rows = _skus_clean(skus, clean["spec_names"])
    product = Product.objects.create(shop_id=membership.shop_id, **clean)
    for row in sku_rows:
        row.pop("stock_seen")
    Sku.objects.bulk_create([Sku(product=product, **row) for row in sku_rows])
    _images_add(product, images or [])
    product_refresh_summary(product)
    audit_record(
        actor=actor,
        action="product.create",
        obj=product,
        after={"title": product.title, "skus": len(sku_rows)},
    )
    return product


@transaction.atomic
def product_update(
    *,
    actor: User,
    product_id: int,
    skus: list[dict[str, Any]],
    images: list[Any] | None = None,
    **data: Any,
) -> Product:
    """Edit a product. SKUs match by specs: new ones are added, missing ones retired
    (kept for the orders that reference them), matching ones updated."""
    product = _product_editable(actor, product_id)
    clean = _product_fields_clean(data)
    sku_rows = _skus_clean(skus, clean["spec_names"])
    for key, value in clean.items():
        setattr(product, key, value)
    product.updated_at = clock.now()
    product.save()
    existing = {
        sku.spec_key: sku
        for sku in Sku.objects.select_for_update().filter(product=product).order_by("pk")
    }
    wanted = {row["spec_key"] for row in sku_rows}
    for index, row in enumerate(sku_rows):
        seen = row.pop("stock_seen")
        sku = existing.get(row["spec_key"])
        if sku is None:
            Sku.objects.create(product=product, **row)
            continue
        if seen is not None and sku.stock != seen:  # sold or edited since the form was opened
            if row["stock"] != seen:
                raise field_error(
                    f"skus.{index}.stock",
                    _(
                        "The stock changed to %(now)d since you opened the form; check it and "
                        "save again."
                    )
                    % {"now": sku.stock},
                    CatalogError.STOCK_CHANGED,
                )
            row["stock"] = sku.stock  # the editor left it alone: keep the live stock
        for key, value in row.items():
            setattr(sku, key, value)
        sku.is_active = True
        sku.save()
    Sku.objects.filter(product=product).exclude(spec_key__in=wanted).update(is_active=False)
    _images_add(product, images or [])
    product_refresh_summary(product)
    audit_record(
        actor=actor,
        action="product.update",
        obj=product,
        after={"title": product.title, "skus": len(sku_rows)},
    )
    return product


@transaction.atomic
def product_images_add(*, actor: User, product_id: int, images: list[Any]) -> Product:
    """Upload more images to a product (each checked by decoding it)."""
    product = _product_editable(actor, product_id)
    if not images:
        raise field_error("images", _("Choose at least one image."), CoreError.FIELD_REQUIRED)
    _images_add(product, images)
    audit_record(
        actor=actor, action="product.images_add", obj=product, after={"images": len(images)}
    )
    return product


@transaction.atomic
def product_image_remove(*, actor: User, product_id: int, image_id: int) -> None:
    product = _product_for_staff(actor, product_id, "product.edit")
    deleted, _rows = ProductImage.objects.filter(product=product, pk=image_id).delete()
    if not deleted:
        raise NotFound(message=_("Image not found."))


@transaction.atomic
def product_list(*, actor: User, product_id: int) -> Product:
    """Put a product on sale (上架). It needs at least one active SKU with stock."""
    product = _product_editable(actor, product_id)
    if not Sku.objects.filter(product=product, is_active=True, stock__gt=0).exists():
        raise DomainError(
            CatalogError.NO_STOCK_TO_LIST, _("Add stock to at least one SKU before listing.")
        )
    before = product.status
    product.status = ProductStatus.LISTED
    product.listed_at = clock.now()
    product.save(update_fields=["status", "listed_at"])
    audit_record(
        actor=actor,
        action="product.list",
        obj=product,
        before={"status": before},
        after={"status": product.status},
    )
    return product


@transaction.atomic
def product_unlist(*, actor: User, product_id: int) -> Product:
    """Take a product off sale into the warehouse (下架)."""
    product = _product_for_staff(actor, product_id, "product.edit")
    if product.status != ProductStatus.LISTED:
        raise DomainError(CatalogError.STATUS_INVALID, _("This product is not on sale."))
    product.status = ProductStatus.UNLISTED
    product.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="product.unlist",
        obj=product,
        before={"status": ProductStatus.LISTED},
        after={"status": product.status},
    )
    return product


@transaction.atomic
def sku_stock_set(*, actor: User, sku_id: int, stock: Any) -> Sku:
    """Set a SKU's stock (warehouse staff may do this too)."""
    membership = shop_require(actor, "stock.edit")
    found = (
        Sku.objects.filter(
            pk=int(sku_id) if str(sku_id).isdecimal() else None,
            product__shop_id=membership.shop_id,
            is_active=True,
        )
        .values("pk", "product_id")
        .first()
    )
    if found is None:
        raise NotFound(message=_("SKU not found."))
    # The product row before the SKU, like checkouts (jishi.inventory): never a deadlock.
    Product.objects.select_for_update().filter(pk=found["product_id"]).values_list("pk").first()
    sku = Sku.objects.select_for_update().get(pk=found["pk"])
    new_stock = _stock_clean(stock)
    before = sku.stock
    sku.stock = new_stock
    sku.save(update_fields=["stock"])
    product_refresh_summary(sku.product)
    audit_record(
        actor=actor,
        action="sku.stock_set",
        obj=sku,
        before={"stock": before},
        after={"stock": new_stock},
    )
    return sku


# --- moderation (operators) -------------------------------------------------------------------


@transaction.atomic
def product_take_down(*, operator: User, product_id: int, reason: str) -> Product:
    operator_require(operator, "product.moderate")
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound(message=_("Product not found."))
    reason = clean_text(reason, field="reason", max_length=200)
    before = product.status
    product.status = ProductStatus.BANNED
    product.ban_reason = reason
    product.save(update_fields=["status", "ban_reason"])
    audit_record(
        actor=operator,
        action="product.take_down",
        obj=product,
        before={"status": before},
        after={"status": product.status},
        reason=reason,
    )
    notify(
        user=product.shop.owner,
        kind="product_taken_down",
        params={"title": product.title, "reason": reason},
        link=f"/seller/products/{product.pk}/",
    )
    return product


@transaction.atomic
def product_feature(*, operator: User, product_id: int, featured: bool) -> Product:
    operator_require(operator, "product.moderate")
    updated = Product.objects.filter(pk=product_id).update(is_featured=featured)
    if not updated:
        raise NotFound(message=_("Product not found."))
    product = Product.objects.get(pk=product_id)
    audit_record(
        actor=operator, action="product.feature", obj=product, after={"is_featured": featured}
    )
    return product


def products_visible_q() -> Q:
    """Listed products of open shops: what buyers may see."""
    return Q(status=ProductStatus.LISTED, shop__status="open")
