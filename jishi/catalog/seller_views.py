"""Seller center product pages: the product list, the product form with its SKU table, stock."""

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jishi.catalog import selectors, services
from jishi.catalog.errors import CatalogError
from jishi.catalog.models import Product, ProductStatus, StockDeduction
from jishi.catalog.services import SPEC_DIMENSIONS_MAX, spec_key_of
from jishi.core.errors import DomainError
from jishi.core.money import FEN_PER_YUAN, format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.rules import rule
from jishi.core.web import form_errors
from jishi.shops.models import ShopStaff
from jishi.shops.seller_views import refuse_or_flash, seller_page, seller_render

PRODUCT_PAGE_SIZE = 20
STOCK_PAGE_SIZE = 50
ATTRIBUTE_ROWS_BLANK = 2
SPEC_VALUE_SEPARATORS = re.compile(r"[,，、;；]")
STATUS_TABS = (
    ("", gettext_lazy("All")),
    (ProductStatus.LISTED, gettext_lazy("On sale")),
    (ProductStatus.UNLISTED, gettext_lazy("In warehouse")),
    (ProductStatus.DRAFT, gettext_lazy("Drafts")),
    (ProductStatus.BANNED, gettext_lazy("Taken down")),
)
# A service error about one SKU is named skus.<index>.<field>; the index is the row's.
SKU_ERROR_KEY = re.compile(r"^skus\.(\d+)(?:\.(\w+))?$")
PRICE_FIELDS = ("price_fen", "list_price_fen")


def fen_text(fen: int | None) -> str:
    """1250 -> '12.50' (no thousands separator: it goes back into an input)."""
    if fen is None:
        return ""
    return f"{fen // FEN_PER_YUAN}.{fen % FEN_PER_YUAN:02d}"


# --- product list ---------------------------------------------------------------------------


@seller_page("product.view")
def products(request, membership: ShopStaff):
    status = request.GET.get("status", "")
    if status not in ProductStatus.values:
        status = ""
    q = request.GET.get("q", "")[: selectors.KEYWORD_LENGTH_MAX].strip()
    qs = selectors.product_list_for_staff(actor=request.user, status=status)
    if q:
        qs = qs.filter(title__icontains=q)
    page = page_of(qs, request.GET.get("page"), page_size=PRODUCT_PAGE_SIZE)
    for product in page.object_list:
        prices = [sku.price_fen for sku in product.skus.all()]
        product.price_max_fen = max(prices) if prices else 0
        product.sku_count = len(prices)
    summary = selectors.product_summary_for_staff(actor=request.user)
    tabs = [
        {
            "status": value,
            "label": label,
            "count": summary["counts"][value] if value else summary["total"],
            "on": value == status,
        }
        for value, label in STATUS_TABS
    ]
    return seller_render(
        request,
        "seller/products.html",
        {
            "page": page,
            "tabs": tabs,
            "status": status,
            "q": q,
            "back": request.get_full_path(),
        },
        active="products",
        membership=membership,
    )


def _back_to_list(request) -> Any:
    back = request.POST.get("back", "")
    if back.startswith(reverse("seller:products")) and "//" not in back:
        return redirect(back)
    return redirect("seller:products")


@require_POST
@seller_page("product.edit")
def product_list(request, membership: ShopStaff, product_id: int):
    try:
        product = services.product_list(actor=request.user, product_id=product_id)
    except DomainError as exc:
        refuse_or_flash(request, exc)
    else:
        messages.success(request, _("“%(title)s” is on sale.") % {"title": product.title})
    return _back_to_list(request)


@require_POST
@seller_page("product.edit")
def product_unlist(request, membership: ShopStaff, product_id: int):
    try:
        product = services.product_unlist(actor=request.user, product_id=product_id)
    except DomainError as exc:
        refuse_or_flash(request, exc)
    else:
        messages.success(
            request, _("“%(title)s” moved to the warehouse.") % {"title": product.title}
        )
    return _back_to_list(request)


# --- product form ---------------------------------------------------------------------------


@dataclass
class SkuRow:
    key: str
    specs: dict[str, str]
    price: str = ""
    list_price: str = ""
    stock: str = "0"
    code: str = ""
    stock_seen: str = ""  # the live stock when the form was opened ("" for a new row)
    error: str = ""

    @property
    def spec_values(self) -> list[str]:
        return list(self.specs.values())


@dataclass
class ProductForm:
    """What the product form shows; built from a product or from a POST."""

    values: dict[str, str] = field(default_factory=dict)
    attributes: list[list[str]] = field(default_factory=list)
    specs: list[dict[str, str]] = field(default_factory=list)  # {"name", "values"} per slot
    rows: list[SkuRow] = field(default_factory=list)
    spec_names: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def spec_dimensions(self) -> list[tuple[str, list[str]]]:
        """Named specs with their values; records an error for half-filled slots."""
        dimensions = []
        for slot in self.specs:
            name = slot["name"].strip()
            values = list(
                dict.fromkeys(
                    v.strip() for v in SPEC_VALUE_SEPARATORS.split(slot["values"]) if v.strip()
                )
            )
            if name and values:
                dimensions.append((name, values))
            elif name or values:
                self.errors.setdefault(
                    "spec_names", _("Give each spec a name and at least one value.")
                )
        return dimensions

    def rebuild_rows(self, previous: dict[str, SkuRow]) -> None:
        """One row per combination of spec values, keeping what was typed for each."""
        dimensions = self.spec_dimensions()
        combinations = 1
        for _name, values in dimensions:
            combinations *= len(values)
        if combinations > rule("product_skus_max"):
            self.errors["spec_names"] = _("Too many combinations (at most %(n)d SKUs).") % {
                "n": rule("product_skus_max")
            }
            dimensions = []
        names = [name for name, _values in dimensions]
        rows = []
        for combo in itertools.product(*(values for _name, values in dimensions)):
            specs = dict(zip(names, combo, strict=True))
            key = spec_key_of(names, specs)
            old = previous.get(key)
            rows.append(
                SkuRow(
                    key=key,
                    specs=specs,
                    price=old.price if old else "",
                    list_price=old.list_price if old else "",
                    stock=old.stock if old else "0",
                    code=old.code if old else "",
                    stock_seen=old.stock_seen if old else "",
                )
            )
        self.rows = rows
        self.spec_names = names

    def skus_for_service(self) -> list[dict[str, Any]] | None:
        """The SKU rows in fen for the catalog services, or None when a row is wrong."""
        skus, bad = [], False
        for row in self.rows:
            row.error = ""
            try:
                price = parse_yuan(row.price)
                list_price = parse_yuan(row.list_price) if row.list_price.strip() else None
            except ValueError:
                row.error = _("Enter prices in yuan, e.g. 12.50.")
                bad = True
                continue
            if price <= 0:
                row.error = _("The price must be more than zero.")
                bad = True
                continue
            stock = row.stock.strip() or "0"
            if not stock.isdecimal():
                row.error = _("Stock is a whole number, 0 or more.")
                bad = True
                continue
            skus.append(
                {
                    "specs": row.specs,
                    "price_fen": price,
                    "list_price_fen": list_price,
                    "stock": int(stock),
                    "code": row.code,
                    "stock_seen": int(row.stock_seen) if row.stock_seen.isdecimal() else None,
                }
            )
        if bad:
            self.errors["skus"] = _("Fix the marked SKU rows.")
            return None
        return skus

    def errors_from(self, exc: DomainError) -> None:
        """Put a service refusal next to its field; an error about one SKU on its row."""
        for key, message in form_errors(exc).items():
            match = SKU_ERROR_KEY.match(key)
            if match is None or int(match[1]) >= len(self.rows):
                self.errors[key] = message
                continue
            if match[2] in PRICE_FIELDS and exc.code == CatalogError.PRICE_INVALID:
                # The service speaks fen; this form takes yuan.
                message = _("A price is from 0.01 to %(max)s yuan.") % {
                    "max": format_fen(rule("sku_price_fen_max"))
                }
            self.rows[int(match[1])].error = message
            self.errors["skus"] = _("Fix the marked SKU rows.")

    def service_data(self) -> dict[str, Any]:
        attributes = [[n, v] for n, v in self.attributes if n.strip() or v.strip()]
        return {**self.values, "attributes": attributes, "spec_names": self.spec_names}


FORM_VALUES = (
    "category_id",
    "title",
    "subtitle",
    "brand",
    "description",
    "stock_deduction",
    "is_virtual",
    "no_reason_return",
)


def _form_from_post(post: Any) -> ProductForm:
    form = ProductForm(values={key: post.get(key, "") for key in FORM_VALUES})
    # 7-day no-reason return: a yes/no choice, always sent to the service ("1" / "0"); a
    # form without the field keeps the platform default (on).
    form.values["no_reason_return"] = "0" if post.get("no_reason_return") == "0" else "1"
    form.attributes = [
        [n, v] for n, v in zip(post.getlist("attr_name"), post.getlist("attr_value"), strict=False)
    ]
    form.specs = [
        {
            "name": post.get(f"spec_name_{i}", "")[:20],
            "values": post.get(f"spec_values_{i}", "")[:500],
        }
        for i in range(1, SPEC_DIMENSIONS_MAX + 1)
    ]
    previous = {}
    seen = post.getlist("sku_stock_seen")
    for index, (key, price, list_price, stock, code) in enumerate(
        zip(
            post.getlist("sku_key"),
            post.getlist("sku_price"),
            post.getlist("sku_list_price"),
            post.getlist("sku_stock"),
            post.getlist("sku_code"),
            strict=False,
        )
    ):
        previous[key] = SkuRow(
            key=key,
            specs={},
            price=price,
            list_price=list_price,
            stock=stock,
            code=code,
            stock_seen=seen[index][:12] if index < len(seen) else "",
        )
    form.rebuild_rows(previous)
    return form


def _form_from_product(product: Product | None) -> ProductForm:
    if product is None:
        form = ProductForm(
            values={"stock_deduction": StockDeduction.AT_ORDER, "no_reason_return": "1"}
        )
        form.specs = [{"name": "", "values": ""} for _i in range(SPEC_DIMENSIONS_MAX)]
        form.rebuild_rows({})
        return form
    form = ProductForm(
        values={
            "category_id": str(product.category_id),
            "title": product.title,
            "subtitle": product.subtitle,
            "brand": product.brand,
            "description": product.description,
            "stock_deduction": product.stock_deduction,
            "is_virtual": "on" if product.is_virtual else "",
            "no_reason_return": "1" if product.no_reason_return else "0",
        }
    )
    form.attributes = [list(pair) for pair in product.attributes]
    skus = list(product.skus.all())
    form.specs = [
        {"name": name, "values": ", ".join(dict.fromkeys(sku.specs.get(name, "") for sku in skus))}
        for name in product.spec_names
    ]
    form.specs += [
        {"name": "", "values": ""} for _i in range(SPEC_DIMENSIONS_MAX - len(form.specs))
    ]
    previous = {
        sku.spec_key: SkuRow(
            key=sku.spec_key,
            specs=sku.specs,
            price=fen_text(sku.price_fen),
            list_price=fen_text(sku.list_price_fen),
            stock=str(sku.stock),
            stock_seen=str(sku.stock),
            code=sku.code,
        )
        for sku in skus
    }
    form.rebuild_rows(previous)
    return form


def _product_form_page(
    request, membership: ShopStaff, product: Product | None, form, *, status: int = 200
):
    errors = form.errors
    sku_error = errors.get("skus", "")
    attributes = form.attributes + [["", ""]] * ATTRIBUTE_ROWS_BLANK
    return seller_render(
        request,
        "seller/product_form.html",
        {
            "product": product,
            "form": form,
            "values": form.values,
            "errors": errors,
            "sku_error": sku_error,
            "attributes": attributes,
            "leaves": selectors.category_leaves(),
            "deductions": StockDeduction.choices,
            "images": list(product.images.all()) if product else [],
            "images_max": rule("product_images_max"),
        },
        active="product_new" if product is None else "products",
        membership=membership,
        status=status,
    )


def _product_save(request, membership: ShopStaff, product: Product | None):
    form = _form_from_post(request.POST)
    if request.POST.get("action") == "refresh":
        return _product_form_page(request, membership, product, form)
    skus = form.skus_for_service() if not form.errors else None
    if skus is None:
        return _product_form_page(request, membership, product, form, status=400)
    images = request.FILES.getlist("images")
    try:
        with transaction.atomic():
            if product is None:
                saved = services.product_create(
                    actor=request.user, skus=skus, images=images, **form.service_data()
                )
            else:
                for image_id in request.POST.getlist("remove_image"):
                    if image_id.isdecimal():
                        services.product_image_remove(
                            actor=request.user, product_id=product.pk, image_id=int(image_id)
                        )
                saved = services.product_update(
                    actor=request.user,
                    product_id=product.pk,
                    skus=skus,
                    images=images,
                    **form.service_data(),
                )
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        form.errors_from(exc)
        return _product_form_page(request, membership, product, form, status=400)
    if product is None:
        messages.success(
            request,
            _("“%(title)s” is saved in the warehouse. List it when it is ready.")
            % {"title": saved.title},
        )
    else:
        messages.success(request, _("“%(title)s” saved.") % {"title": saved.title})
    return redirect(f"{reverse('seller:products')}?status={saved.status}")


@seller_page("product.edit")
def product_new(request, membership: ShopStaff):
    if request.method == "POST":
        return _product_save(request, membership, None)
    return _product_form_page(request, membership, None, _form_from_product(None))


@seller_page("product.edit")
def product_edit(request, membership: ShopStaff, product_id: int):
    product = selectors.product_get_for_staff(actor=request.user, product_id=product_id)
    if request.method == "POST":
        return _product_save(request, membership, product)
    return _product_form_page(request, membership, product, _form_from_product(product))


# --- stock ----------------------------------------------------------------------------------


@seller_page("stock.edit")
def stock(request, membership: ShopStaff):
    q = request.GET.get("q", "")[: selectors.KEYWORD_LENGTH_MAX].strip()
    page = page_of(
        selectors.sku_list_for_staff(actor=request.user, q=q),
        request.GET.get("page"),
        page_size=STOCK_PAGE_SIZE,
    )
    return seller_render(
        request,
        "seller/stock.html",
        {
            "page": page,
            "q": q,
            "back": request.get_full_path(),
        },
        active="stock",
        membership=membership,
    )


@require_POST
@seller_page("stock.edit")
def stock_set(request, membership: ShopStaff, sku_id: int):
    error, sku = "", None
    try:
        sku = services.sku_stock_set(
            actor=request.user, sku_id=sku_id, stock=request.POST.get("stock", "")
        )
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        error = str(exc.message)
    if request.htmx:
        if sku is None:
            sku = selectors.sku_list_for_staff(actor=request.user).get(pk=sku_id)
        return render(
            request,
            "seller/_stock_row.html",
            {
                "sku": sku,
                "saved": not error,
                "error": error,
                "typed": request.POST.get("stock", ""),
            },
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("Stock of “%(title)s” %(spec)s set to %(n)d.")
            % {"title": sku.product.title, "spec": sku.spec_label, "n": sku.stock},
        )
    back = request.POST.get("back", "")
    if back.startswith(reverse("seller:stock")) and "//" not in back:
        return redirect(back)
    return redirect("seller:stock")
