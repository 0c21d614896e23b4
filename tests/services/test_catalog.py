"""Catalog: categories, products and SKUs, listing rules, moderation and storefront reads."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jishi.accounts.models import Notification, User
from jishi.catalog import selectors, services
from jishi.catalog.errors import CatalogError
from jishi.catalog.models import Category, Product, ProductImage, ProductStatus, Sku
from jishi.core.errors import CoreError, DomainError, Forbidden, NotFound
from jishi.core.models import AuditLog
from jishi.core.rules import rule_set
from jishi.shops.errors import ShopError
from jishi.shops.models import Shop, ShopStaff, ShopStatus, StaffRole
from jishi.shops.services import staff_create

pytestmark = pytest.mark.django_db

COLOURS = [
    {"specs": {"颜色": "青"}, "price_fen": 3900, "stock": 10},
    {"specs": {"颜色": "白"}, "price_fen": 2900, "stock": 0},
]


@pytest.fixture
def tree(make_category_tree):
    return make_category_tree()


@pytest.fixture
def shop(make_shop):
    return make_shop(name="安吉竹乡")


@pytest.fixture
def staff_of(shop):
    n = iter(range(1, 1000))

    def make(role):
        staff = staff_create(
            actor=shop.owner, username=f"{role}{next(n)}", password="Staff2024pass", role=role
        )
        return User.objects.get(pk=staff.user_id)

    return make


def product_data(tree, **overrides):
    data = {
        "category_id": tree.leaf.pk,
        "title": "安吉白茶 明前特级",
        "subtitle": "产地直发",
        "description": "高山茶园",
        "brand": "竹乡",
        "attributes": [["产地", "浙江安吉"]],
        "spec_names": [],
        "skus": [{"specs": {}, "price_fen": 12800, "stock": 50}],
    }
    data.update(overrides)
    return data


def png_upload(name="p.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def nothing_created():
    return not Product.objects.exists() and not Sku.objects.exists()


# --- categories -------------------------------------------------------------------------------


def test_category_tree_and_defaults(tree):
    assert tree.leaf.parent == tree.mid and tree.mid.parent == tree.root
    assert tree.root.commission_rate_bp == 200
    assert tree.root.commission_percent == "2"
    roots = selectors.category_tree()
    assert {c.pk for c in roots} == {tree.root.pk, tree.other_root.pk}
    root = next(c for c in roots if c.pk == tree.root.pk)
    assert [c.pk for c in root.active_children] == [tree.mid.pk]
    assert {c.pk for c in selectors.category_leaves()} == {
        tree.leaf.pk,
        tree.leaf2.pk,
        tree.other_leaf.pk,
    }
    assert selectors.category_path(tree.leaf) == [tree.root, tree.mid, tree.leaf]
    assert AuditLog.objects.filter(action="category.create").count() == 6


def test_category_depth_at_most_three(tree):
    with pytest.raises(DomainError) as exc:
        services.category_create(operator=tree.operator, name="第四级", parent_id=tree.leaf.pk)
    assert exc.value.code == CatalogError.CATEGORY_TOO_DEEP
    assert not Category.objects.filter(name="第四级").exists()


def test_category_parent_must_exist(tree):
    for parent_id in (999_999, "abc", "²", -1):
        with pytest.raises(DomainError) as exc:
            services.category_create(operator=tree.operator, name="孤儿", parent_id=parent_id)
        assert "parent_id" in exc.value.extra["fields"]


def test_default_commission_comes_from_the_rule(tree, make_operator):
    rule_set(actor=make_operator("admin"), name="commission_rate_default_bp", value=350)
    category = services.category_create(operator=tree.operator, name="新类目")
    assert category.commission_rate_bp == 350
    explicit = services.category_create(operator=tree.operator, name="零佣金", commission_rate_bp=0)
    assert explicit.commission_rate_bp == 0


@pytest.mark.parametrize(
    ("rate", "code"),
    [
        (-1, CoreError.OUT_OF_RANGE),
        (5001, CoreError.OUT_OF_RANGE),
        (10**12, CoreError.OUT_OF_RANGE),
        (2.5, CoreError.NOT_AN_INTEGER),
        ("2.5", CoreError.NOT_AN_INTEGER),
        ("abc", CoreError.NOT_AN_INTEGER),
        (True, CoreError.NOT_AN_INTEGER),
    ],
)
def test_commission_rate_bounds(tree, rate, code):
    with pytest.raises(DomainError) as exc:
        services.category_create(operator=tree.operator, name="坏费率", commission_rate_bp=rate)
    assert exc.value.code == code
    assert exc.value.extra["fields"].keys() == {"commission_rate_bp"}
    with pytest.raises(DomainError):
        services.category_update(
            operator=tree.operator,
            category_id=tree.leaf.pk,
            name=tree.leaf.name,
            commission_rate_bp=rate,
        )
    tree.leaf.refresh_from_db()
    assert tree.leaf.commission_rate_bp == 200


@pytest.mark.parametrize("rate", [0, 1, 5000, "600"])
def test_commission_rate_accepted(tree, rate):
    category = services.category_update(
        operator=tree.operator, category_id=tree.leaf.pk, name="苹果", commission_rate_bp=rate
    )
    assert category.commission_rate_bp == int(rate)
    log = AuditLog.objects.filter(action="category.update").get()
    assert log.before["commission_rate_bp"] == 200
    assert log.after["commission_rate_bp"] == int(rate)


def test_category_name_rules(tree):
    for name, code in [("", CoreError.FIELD_REQUIRED), ("名" * 21, CoreError.TEXT_TOO_LONG)]:
        with pytest.raises(DomainError) as exc:
            services.category_create(operator=tree.operator, name=name)
        assert exc.value.code == code


@pytest.mark.parametrize("role", ["reviewer", "finance", "arbitrator"])
def test_only_catalog_operators_manage_categories(tree, make_operator, role):
    operator = make_operator(role)
    with pytest.raises(Forbidden):
        services.category_create(operator=operator, name="越权")
    with pytest.raises(Forbidden):
        services.category_update(operator=operator, category_id=tree.leaf.pk, name="越权")
    assert not Category.objects.filter(name="越权").exists()


def test_sellers_cannot_manage_categories(tree, shop):
    with pytest.raises(Forbidden):
        services.category_create(operator=shop.owner, name="越权")


def test_admin_manages_categories(make_operator):
    assert services.category_create(operator=make_operator("admin"), name="根").parent is None


def test_category_names_are_unique_among_siblings(tree):
    for name in (tree.leaf.name, tree.leaf.name.upper()):
        with pytest.raises(DomainError) as exc:
            services.category_create(operator=tree.operator, name=name, parent_id=tree.mid.pk)
        assert exc.value.code == CatalogError.CATEGORY_NAME_TAKEN
        assert exc.value.extra["fields"].keys() == {"name"}
    with pytest.raises(DomainError) as exc:
        services.category_create(operator=tree.operator, name=tree.root.name)  # roots too
    assert exc.value.code == CatalogError.CATEGORY_NAME_TAKEN
    with pytest.raises(DomainError) as exc:
        services.category_update(
            operator=tree.operator, category_id=tree.leaf2.pk, name=tree.leaf.name
        )
    assert exc.value.code == CatalogError.CATEGORY_NAME_TAKEN
    tree.leaf2.refresh_from_db()
    assert tree.leaf2.name != tree.leaf.name
    # keeping its own name, or a sibling's name under another parent, is fine
    services.category_update(operator=tree.operator, category_id=tree.leaf.pk, name=tree.leaf.name)
    services.category_create(operator=tree.operator, name=tree.leaf.name, parent_id=tree.root.pk)


def test_category_update_keeps_fields_left_out(tree):
    services.category_update(
        operator=tree.operator,
        category_id=tree.leaf.pk,
        name_en="Apples",
        icon="🍎",
        commission_rate_bp=300,
        position=4,
    )
    category = services.category_update(
        operator=tree.operator, category_id=tree.leaf.pk, is_active=False
    )
    assert (category.name, category.name_en, category.icon) == (tree.leaf.name, "Apples", "🍎")
    assert (category.commission_rate_bp, category.position, category.is_active) == (300, 4, False)


def test_update_unknown_category(tree):
    with pytest.raises(NotFound):
        services.category_update(operator=tree.operator, category_id=999_999, name="无")


def test_category_with_products_cannot_get_children(tree, shop, make_product):
    make_product(shop, category=tree.other_leaf)  # depth 2: only the products stand in the way
    with pytest.raises(DomainError) as exc:
        services.category_create(operator=tree.operator, name="子类", parent_id=tree.other_leaf.pk)
    assert exc.value.code == CatalogError.CATEGORY_HAS_PRODUCTS


def test_product_needs_a_leaf_category(tree, shop):
    for category in (tree.root, tree.mid, tree.other_root):
        with pytest.raises(DomainError) as exc:
            services.product_create(actor=shop.owner, **product_data(tree, category_id=category.pk))
        assert exc.value.code == CatalogError.CATEGORY_NOT_LEAF
    for bad in (None, "", 999_999, "abc", "²", -3):
        with pytest.raises(DomainError) as exc:
            services.product_create(actor=shop.owner, **product_data(tree, category_id=bad))
        assert "category_id" in exc.value.extra["fields"]
    assert nothing_created()


def test_product_not_in_an_inactive_category(tree, shop):
    services.category_update(
        operator=tree.operator, category_id=tree.leaf2.pk, name="柑橘", is_active=False
    )
    with pytest.raises(DomainError):
        services.product_create(actor=shop.owner, **product_data(tree, category_id=tree.leaf2.pk))
    assert nothing_created()


# --- product creation -------------------------------------------------------------------------


def test_product_create(tree, shop):
    product = services.product_create(
        actor=shop.owner,
        images=[png_upload()],
        **product_data(tree, spec_names=["颜色"], skus=COLOURS),
    )
    assert product.shop == shop
    assert product.status == ProductStatus.DRAFT
    assert product.attributes == [["产地", "浙江安吉"]]
    skus = list(product.skus.order_by("id"))
    assert [s.spec_key for s in skus] == ["颜色:青", "颜色:白"]
    assert [s.price_fen for s in skus] == [3900, 2900]
    assert skus[0].spec_label == "青"
    product.refresh_from_db()
    assert product.price_min_fen == 2900
    assert product.stock_total == 10
    assert ProductImage.objects.filter(product=product).count() == 1
    assert AuditLog.objects.filter(action="product.create", object_id=str(product.pk)).exists()


def test_two_spec_dimensions(tree, shop):
    skus = [
        {"specs": {"颜色": c, "尺码": s}, "price_fen": 100, "stock": 1}
        for c in ("红", "蓝")
        for s in ("S", "M", "L")
    ]
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色", "尺码"], skus=skus)
    )
    assert product.skus.count() == 6
    assert product.skus.filter(spec_key="颜色:蓝;尺码:M").exists()


@pytest.mark.parametrize("skus", [[], None, "not a list", {}])
def test_product_needs_a_sku(tree, shop, skus):
    with pytest.raises(DomainError) as exc:
        services.product_create(actor=shop.owner, **product_data(tree, skus=skus))
    assert exc.value.code == CatalogError.SKU_REQUIRED
    assert nothing_created()


@pytest.mark.parametrize(
    ("spec_names", "skus"),
    [
        (["颜色"], [{"specs": {"尺码": "L"}, "price_fen": 100, "stock": 1}]),
        (["颜色"], [{"specs": {}, "price_fen": 100, "stock": 1}]),
        (["颜色"], [{"price_fen": 100, "stock": 1}]),
        (["颜色"], [{"specs": {"颜色": "红", "尺码": "L"}, "price_fen": 100, "stock": 1}]),
        (["颜色", "尺码"], [{"specs": {"颜色": "红"}, "price_fen": 100, "stock": 1}]),
        ([], [{"specs": {"颜色": "红"}, "price_fen": 100, "stock": 1}]),
        ([], [{"specs": {}, "price_fen": 100, "stock": 1}, {"specs": {}, "price_fen": 200}]),
        (["颜色"], [{"specs": ["红"], "price_fen": 100, "stock": 1}]),
        (["颜色"], ["红"]),
        (["颜色", "颜色"], [{"specs": {"颜色": "红"}, "price_fen": 100, "stock": 1}]),
        (["a", "b", "c", "d"], [{"specs": dict.fromkeys("abcd", "x"), "price_fen": 1}]),
    ],
)
def test_sku_specs_must_match_the_spec_names(tree, shop, spec_names, skus):
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, **product_data(tree, spec_names=spec_names, skus=skus)
        )
    assert exc.value.code == CatalogError.SKU_SPECS_INVALID
    assert nothing_created()


def test_duplicate_specs_refused(tree, shop):
    skus = [
        {"specs": {"颜色": "红"}, "price_fen": 100, "stock": 1},
        {"specs": {"颜色": " 红 "}, "price_fen": 200, "stock": 1},
    ]
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=skus)
        )
    assert exc.value.code == CatalogError.SKU_DUPLICATE
    assert nothing_created()


@pytest.mark.parametrize(
    "price",
    [-100, -1, 0, 12.5, 12.0, "12.50", "12.0", True, False, "abc", None, "", [1200], 10**13, "1e3"],
)
def test_bad_prices_refused(tree, shop, price):
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner,
            **product_data(tree, skus=[{"specs": {}, "price_fen": price, "stock": 1}]),
        )
    assert exc.value.code == CatalogError.PRICE_INVALID
    assert exc.value.extra["fields"].keys() == {"skus.0.price_fen"}
    assert nothing_created()


def test_bad_list_price_refused(tree, shop):
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner,
            **product_data(
                tree, skus=[{"specs": {}, "price_fen": 100, "list_price_fen": 1.5, "stock": 1}]
            ),
        )
    assert exc.value.code == CatalogError.PRICE_INVALID
    assert exc.value.extra["fields"].keys() == {"skus.0.list_price_fen"}


@pytest.mark.parametrize("list_price", [100, 99, 1])
def test_list_price_must_be_above_the_price(tree, shop, list_price):
    skus = [
        {"specs": {"颜色": "青"}, "price_fen": 100, "list_price_fen": 200, "stock": 1},
        {"specs": {"颜色": "白"}, "price_fen": 100, "list_price_fen": list_price, "stock": 1},
    ]
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=skus)
        )
    assert exc.value.code == CatalogError.LIST_PRICE_TOO_LOW
    assert exc.value.extra["fields"].keys() == {"skus.1.list_price_fen"}
    assert nothing_created()


def test_sku_errors_name_the_sku(tree, shop):
    good = {"specs": {"颜色": "青"}, "price_fen": 100, "stock": 1}
    for bad, field in [
        ({"specs": {"颜色": "白"}, "price_fen": 0, "stock": 1}, "skus.1.price_fen"),
        ({"specs": {"颜色": "白"}, "price_fen": 100, "stock": -1}, "skus.1.stock"),
        ({"specs": {"颜色": "白"}, "price_fen": 100, "code": "x" * 65}, "skus.1.code"),
        ({"specs": {"颜色": "青"}, "price_fen": 100}, "skus.1.specs"),
        ({"specs": {"尺码": "L"}, "price_fen": 100}, "skus.1.specs"),
        ("白", "skus.1"),
    ]:
        with pytest.raises(DomainError) as exc:
            services.product_create(
                actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=[good, bad])
            )
        assert exc.value.extra["fields"].keys() == {field}, bad
    assert nothing_created()


def test_price_as_integer_text_accepted(tree, shop):
    product = services.product_create(
        actor=shop.owner,
        **product_data(tree, skus=[{"specs": {}, "price_fen": "1250", "stock": "3"}]),
    )
    sku = product.skus.get()
    assert (sku.price_fen, sku.stock) == (1250, 3)


@pytest.mark.parametrize("stock", [-1, -100, 1.5, "1.5", "2.0", True, "abc", 10**8])
def test_bad_stock_refused(tree, shop, stock):
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner,
            **product_data(tree, skus=[{"specs": {}, "price_fen": 100, "stock": stock}]),
        )
    assert exc.value.code == CatalogError.STOCK_INVALID
    assert nothing_created()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("title", "标" * 61, CoreError.TEXT_TOO_LONG),
        ("title", "   ", CoreError.FIELD_REQUIRED),
        ("subtitle", "副" * 81, CoreError.TEXT_TOO_LONG),
        ("brand", "牌" * 41, CoreError.TEXT_TOO_LONG),
        ("description", "述" * 20001, CoreError.TEXT_TOO_LONG),
        ("attributes", [["产地", "安吉"]] * 31, CatalogError.ATTRIBUTES_INVALID),
        ("attributes", [["产地"]], CatalogError.ATTRIBUTES_INVALID),
        ("attributes", "产地=安吉", CatalogError.ATTRIBUTES_INVALID),
        ("attributes", [["名" * 21, "值"]], CoreError.TEXT_TOO_LONG),
        ("stock_deduction", "never", CoreError.VALIDATION),
    ],
)
def test_product_field_rules(tree, shop, field, value, code):
    with pytest.raises(DomainError) as exc:
        services.product_create(actor=shop.owner, **product_data(tree, **{field: value}))
    assert exc.value.code == code
    assert nothing_created()


def test_title_at_the_limit_and_thirty_attributes(tree, shop):
    product = services.product_create(
        actor=shop.owner,
        **product_data(tree, title="标" * 60, attributes=[[f"属性{i}", "值"] for i in range(30)]),
    )
    assert len(product.title) == 60 and len(product.attributes) == 30


def test_too_many_skus(tree, shop, make_operator):
    rule_set(actor=make_operator("admin"), name="product_skus_max", value=2)
    skus = [{"specs": {"颜色": c}, "price_fen": 100, "stock": 1} for c in "红黄蓝"]
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=skus)
        )
    assert exc.value.code == CatalogError.SKU_LIMIT
    assert nothing_created()


def test_bad_image_refuses_the_whole_product(tree, shop):
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, images=[SimpleUploadedFile("a.png", b"text")], **product_data(tree)
        )
    assert exc.value.code == "image_invalid"
    assert nothing_created()


def test_image_limit(tree, shop, make_operator):
    rule_set(actor=make_operator("admin"), name="product_images_max", value=1)
    with pytest.raises(DomainError) as exc:
        services.product_create(
            actor=shop.owner, images=[png_upload(), png_upload()], **product_data(tree)
        )
    assert exc.value.code == CatalogError.IMAGE_LIMIT
    assert nothing_created()


# --- listing ----------------------------------------------------------------------------------


def test_listing_needs_an_active_sku_with_stock(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, skus=[{"specs": {}, "price_fen": 100, "stock": 0}])
    )
    with pytest.raises(DomainError) as exc:
        services.product_list(actor=shop.owner, product_id=product.pk)
    assert exc.value.code == CatalogError.NO_STOCK_TO_LIST
    product.refresh_from_db()
    assert product.status == ProductStatus.DRAFT

    sku = product.skus.get()
    services.sku_stock_set(actor=shop.owner, sku_id=sku.pk, stock=3)
    listed = services.product_list(actor=shop.owner, product_id=product.pk)
    assert listed.status == ProductStatus.LISTED
    assert listed.listed_at is not None
    log = AuditLog.objects.get(action="product.list")
    assert log.before == {"status": "draft"} and log.after == {"status": "listed"}


def test_retired_sku_stock_does_not_count_for_listing(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=COLOURS)
    )
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        **product_data(tree, spec_names=["颜色"], skus=[COLOURS[1]]),
    )  # keeps only the white SKU, stock 0
    with pytest.raises(DomainError) as exc:
        services.product_list(actor=shop.owner, product_id=product.pk)
    assert exc.value.code == CatalogError.NO_STOCK_TO_LIST


def test_unlist(tree, shop, make_product):
    product = make_product(shop, listed=True)
    unlisted = services.product_unlist(actor=shop.owner, product_id=product.pk)
    assert unlisted.status == ProductStatus.UNLISTED
    with pytest.raises(DomainError) as exc:
        services.product_unlist(actor=shop.owner, product_id=product.pk)
    assert exc.value.code == CatalogError.STATUS_INVALID
    relisted = services.product_list(actor=shop.owner, product_id=product.pk)
    assert relisted.status == ProductStatus.LISTED


def test_unlisting_a_draft_is_an_error(shop, make_product):
    product = make_product(shop)
    with pytest.raises(DomainError) as exc:
        services.product_unlist(actor=shop.owner, product_id=product.pk)
    assert exc.value.code == CatalogError.STATUS_INVALID


# --- product update ---------------------------------------------------------------------------


def test_update_retires_missing_skus_and_keeps_their_rows(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=COLOURS)
    )
    green, white = product.skus.order_by("id")
    new_skus = [
        {"specs": {"颜色": "青"}, "price_fen": 4200, "stock": 7},
        {"specs": {"颜色": "黄"}, "price_fen": 5000, "stock": 1},
    ]
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        **product_data(tree, title="安吉白茶 新款", spec_names=["颜色"], skus=new_skus),
    )
    product.refresh_from_db()
    assert product.title == "安吉白茶 新款"
    white.refresh_from_db()
    assert white.is_active is False  # kept for the orders that reference it
    green.refresh_from_db()
    assert (green.is_active, green.price_fen, green.stock) == (True, 4200, 7)
    assert product.skus.count() == 3
    assert set(product.skus.filter(is_active=True).values_list("spec_key", flat=True)) == {
        "颜色:青",
        "颜色:黄",
    }
    assert product.price_min_fen == 4200
    assert product.stock_total == 8

    # bringing the white SKU back reactivates the same row
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        **product_data(tree, spec_names=["颜色"], skus=[*new_skus, COLOURS[1]]),
    )
    white.refresh_from_db()
    assert white.is_active
    assert product.skus.count() == 3
    product.refresh_from_db()
    assert product.price_min_fen == 2900


def test_update_bad_input_changes_nothing(tree, shop, make_product):
    product = make_product(shop, title="原标题")
    with pytest.raises(DomainError):
        services.product_update(
            actor=shop.owner,
            product_id=product.pk,
            **product_data(tree, title="新标题", skus=[{"specs": {}, "price_fen": -5, "stock": 1}]),
        )
    product.refresh_from_db()
    assert product.title == "原标题"
    assert product.skus.get().price_fen == 1000


def test_summaries_follow_stock_changes(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=COLOURS)
    )
    product.refresh_from_db()
    assert (product.price_min_fen, product.stock_total) == (2900, 10)
    white = product.skus.get(spec_key="颜色:白")
    services.sku_stock_set(actor=shop.owner, sku_id=white.pk, stock="25")
    product.refresh_from_db()
    assert product.stock_total == 35
    log = AuditLog.objects.get(action="sku.stock_set")
    assert log.before == {"stock": 0} and log.after == {"stock": 25}


@pytest.mark.parametrize("stock", [-1, 1.5, "1.5", True, "", None])
def test_sku_stock_set_bad_values(shop, make_product, stock):
    product = make_product(shop)
    sku = product.skus.get()
    with pytest.raises(DomainError) as exc:
        services.sku_stock_set(actor=shop.owner, sku_id=sku.pk, stock=stock)
    assert exc.value.code == CatalogError.STOCK_INVALID
    sku.refresh_from_db()
    assert sku.stock == 5


def test_retired_sku_stock_cannot_be_set(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=COLOURS)
    )
    white = product.skus.get(spec_key="颜色:白")
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        **product_data(tree, spec_names=["颜色"], skus=[COLOURS[0]]),
    )
    with pytest.raises(NotFound):
        services.sku_stock_set(actor=shop.owner, sku_id=white.pk, stock=5)


# --- the wrong shop and the wrong role --------------------------------------------------------


def test_another_shops_product_is_not_found(tree, shop, make_shop, make_product):
    product = make_product(shop, title="别人的商品")
    sku = product.skus.get()
    other = make_shop()
    calls = [
        lambda: services.product_update(
            actor=other.owner, product_id=product.pk, **product_data(tree, title="偷改")
        ),
        lambda: services.product_list(actor=other.owner, product_id=product.pk),
        lambda: services.product_unlist(actor=other.owner, product_id=product.pk),
        lambda: services.sku_stock_set(actor=other.owner, sku_id=sku.pk, stock=0),
        lambda: services.product_image_remove(actor=other.owner, product_id=product.pk, image_id=1),
        lambda: selectors.product_get_for_staff(actor=other.owner, product_id=product.pk),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    product.refresh_from_db()
    assert product.title == "别人的商品" and product.status == ProductStatus.DRAFT
    assert product.skus.get().stock == 5
    assert list(selectors.product_list_for_staff(actor=other.owner)) == []


def test_not_found_messages_are_translated_sentences(tree, shop):
    from django.utils import translation

    from jishi.console.selectors import order_get_for_console

    for call, english in [
        (lambda: selectors.product_get_public(product_id=999_999), "Product not found."),
        (
            lambda: selectors.product_get_for_staff(actor=shop.owner, product_id=0),
            "Product not found.",
        ),
        (lambda: selectors.category_get(category_id=999_999), "Category not found."),
        (lambda: selectors.category_get_for_console(category_id="x"), "Category not found."),
        (lambda: order_get_for_console(actor=tree.operator, order_id=1), "Order not found."),
    ]:
        with pytest.raises(NotFound) as exc:
            call()
        with translation.override("en"):
            assert str(exc.value.message) == english
        with translation.override("zh-hans"):
            assert str(exc.value.message) not in (english, "")


@pytest.mark.parametrize("product_id", [999_999, "abc", "", None, "²", -1])
def test_unknown_product_id_is_not_found(tree, shop, product_id):
    with pytest.raises(NotFound):
        services.product_list(actor=shop.owner, product_id=product_id)
    with pytest.raises(NotFound):
        services.sku_stock_set(actor=shop.owner, sku_id=product_id, stock=1)
    with pytest.raises(NotFound):
        selectors.product_get_public(product_id=product_id)


def test_outsider_cannot_create_products(tree, make_user, make_verified_seller):
    for outsider in (make_user(), make_verified_seller()):
        with pytest.raises(NotFound) as exc:
            services.product_create(actor=outsider, **product_data(tree))
        assert exc.value.code == ShopError.NOT_STAFF
    assert nothing_created()


def test_warehouse_sets_stock_but_cannot_edit_products(tree, shop, staff_of, make_product):
    warehouse = staff_of(StaffRole.WAREHOUSE)
    product = make_product(shop, title="原标题")
    sku = product.skus.get()
    services.sku_stock_set(actor=warehouse, sku_id=sku.pk, stock=42)
    sku.refresh_from_db()
    assert sku.stock == 42
    assert selectors.product_get_for_staff(actor=warehouse, product_id=product.pk) == product
    for call in (
        lambda: services.product_update(
            actor=warehouse, product_id=product.pk, **product_data(tree, title="仓库改的")
        ),
        lambda: services.product_create(actor=warehouse, **product_data(tree)),
        lambda: services.product_list(actor=warehouse, product_id=product.pk),
    ):
        with pytest.raises(Forbidden) as exc:
            call()
        assert exc.value.code == ShopError.ROLE_FORBIDDEN
    product.refresh_from_db()
    assert product.title == "原标题" and product.status == ProductStatus.DRAFT
    assert Product.objects.count() == 1


def test_customer_service_can_neither_edit_nor_set_stock(tree, shop, staff_of, make_product):
    service = staff_of(StaffRole.SERVICE)
    product = make_product(shop, title="原标题")
    sku = product.skus.get()
    with pytest.raises(Forbidden):
        services.sku_stock_set(actor=service, sku_id=sku.pk, stock=0)
    with pytest.raises(Forbidden):
        services.product_update(
            actor=service, product_id=product.pk, **product_data(tree, title="客服改的")
        )
    product.refresh_from_db()
    assert product.title == "原标题"
    assert product.skus.get().stock == 5
    # but they can look
    assert [p.pk for p in selectors.product_list_for_staff(actor=service)] == [product.pk]


def test_deactivated_staff_cannot_act(tree, shop, staff_of, make_product):
    from jishi.shops.services import staff_update

    warehouse = staff_of(StaffRole.WAREHOUSE)
    product = make_product(shop)
    staff_update(
        actor=shop.owner,
        staff_id=ShopStaff.objects.get(user=warehouse).pk,
        role=StaffRole.WAREHOUSE,
        is_active=False,
    )
    with pytest.raises(NotFound):
        services.sku_stock_set(
            actor=User.objects.get(pk=warehouse.pk), sku_id=product.skus.get().pk, stock=1
        )


# --- moderation -------------------------------------------------------------------------------


def test_take_down_blocks_relisting_and_notifies(tree, shop, make_product):
    product = make_product(shop, listed=True, title="违规商品")
    services.product_take_down(operator=tree.operator, product_id=product.pk, reason="虚假宣传")
    product.refresh_from_db()
    assert product.status == ProductStatus.BANNED
    assert product.ban_reason == "虚假宣传"
    note = Notification.objects.filter(user=shop.owner, kind="product_taken_down").get()
    assert note.params == {"title": "违规商品", "reason": "虚假宣传"}
    log = AuditLog.objects.get(action="product.take_down")
    assert log.actor == tree.operator and log.reason == "虚假宣传"

    with pytest.raises(DomainError) as exc:
        services.product_list(actor=shop.owner, product_id=product.pk)
    assert exc.value.code == CatalogError.PRODUCT_BANNED
    with pytest.raises(DomainError) as exc:
        services.product_update(actor=shop.owner, product_id=product.pk, **product_data(tree))
    assert exc.value.code == CatalogError.PRODUCT_BANNED
    with pytest.raises(NotFound):
        selectors.product_get_public(product_id=product.pk)
    product.refresh_from_db()
    assert product.status == ProductStatus.BANNED


def test_take_down_needs_a_reason_and_a_catalog_operator(tree, shop, make_product, make_operator):
    product = make_product(shop, listed=True)
    with pytest.raises(DomainError) as exc:
        services.product_take_down(operator=tree.operator, product_id=product.pk, reason=" ")
    assert exc.value.code == CoreError.FIELD_REQUIRED
    for actor in (make_operator("reviewer"), make_operator("finance"), shop.owner):
        with pytest.raises(Forbidden):
            services.product_take_down(operator=actor, product_id=product.pk, reason="越权")
    with pytest.raises(NotFound):
        services.product_take_down(operator=tree.operator, product_id=999_999, reason="无")
    product.refresh_from_db()
    assert product.status == ProductStatus.LISTED
    assert not Notification.objects.filter(kind="product_taken_down").exists()


def test_feature_product(tree, shop, make_product, make_operator):
    product = make_product(shop, listed=True)
    with pytest.raises(Forbidden):
        services.product_feature(
            operator=make_operator("reviewer"), product_id=product.pk, featured=True
        )
    services.product_feature(operator=tree.operator, product_id=product.pk, featured=True)
    assert [p.pk for p in selectors.products_featured()] == [product.pk]
    with pytest.raises(NotFound):
        services.product_feature(operator=tree.operator, product_id=999_999, featured=True)


# --- storefront reads -------------------------------------------------------------------------


def visible_ids(**kwargs) -> set[int]:
    return {p.pk for p in selectors.product_search_public(**kwargs)}


def test_storefront_shows_only_listed_products_of_open_shops(tree, shop, make_shop, make_product):
    listed = make_product(shop, listed=True)
    draft = make_product(shop)
    unlisted = make_product(shop, listed=True)
    services.product_unlist(actor=shop.owner, product_id=unlisted.pk)
    banned = make_product(shop, listed=True)
    services.product_take_down(operator=tree.operator, product_id=banned.pk, reason="违规")
    closed_shop = make_shop()
    of_closed = make_product(closed_shop, listed=True)
    for product in (listed, of_closed):
        services.product_feature(operator=tree.operator, product_id=product.pk, featured=True)
    Shop.objects.filter(pk=closed_shop.pk).update(status=ShopStatus.SUSPENDED)

    assert visible_ids() == {listed.pk}
    assert {p.pk for p in selectors.products_new()} == {listed.pk}
    assert {p.pk for p in selectors.products_featured()} == {listed.pk}
    assert selectors.product_get_public(product_id=listed.pk) == listed
    assert selectors.product_get_public(product_id=str(listed.pk)) == listed
    for hidden in (draft, unlisted, banned, of_closed):
        with pytest.raises(NotFound):
            selectors.product_get_public(product_id=hidden.pk)
    # the owner still sees all of their own products
    assert {p.pk for p in selectors.product_list_for_staff(actor=shop.owner)} == {
        listed.pk,
        draft.pk,
        unlisted.pk,
        banned.pk,
    }
    assert {
        p.pk for p in selectors.product_list_for_staff(actor=shop.owner, status=ProductStatus.DRAFT)
    } == {draft.pk}


def test_public_product_shows_only_active_skus(tree, shop):
    product = services.product_create(
        actor=shop.owner, **product_data(tree, spec_names=["颜色"], skus=COLOURS)
    )
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        **product_data(tree, spec_names=["颜色"], skus=[COLOURS[0]]),
    )
    services.product_list(actor=shop.owner, product_id=product.pk)
    public = selectors.product_get_public(product_id=product.pk)
    assert [s.spec_key for s in public.skus.all()] == ["颜色:青"]


def test_keyword_filter(tree, shop, make_product):
    tea = make_product(shop, listed=True, title="安吉白茶 明前特级")
    zongzi = make_product(shop, listed=True, title="湖州粽子", subtitle="特级糯米")
    bamboo = make_product(shop, listed=True, title="竹编果篮", brand="竹乡")
    assert visible_ids(q="白茶") == {tea.pk}
    assert visible_ids(q="特级") == {tea.pk, zongzi.pk}  # title or subtitle
    assert visible_ids(q="白茶 特级") == {tea.pk}  # every word must match
    assert visible_ids(q="竹乡") == {bamboo.pk}  # brand
    assert visible_ids(q="  ") == {tea.pk, zongzi.pk, bamboo.pk}
    assert visible_ids(q="没有这个") == set()
    assert visible_ids(q="白" * 500) == set()  # long input is cut, not an error
    assert visible_ids(q="%") == set()
    assert visible_ids(q="安吉白茶", shop_id=shop.pk + 1000) == set()


def test_category_subtree_filter(tree, shop, make_product):
    apple = make_product(shop, listed=True, category=tree.leaf)
    orange = make_product(shop, listed=True, category=tree.leaf2)
    basket = make_product(shop, listed=True, category=tree.other_leaf)
    assert visible_ids(category=tree.root) == {apple.pk, orange.pk}
    assert visible_ids(category=tree.mid) == {apple.pk, orange.pk}
    assert visible_ids(category=tree.leaf) == {apple.pk}
    assert visible_ids(category=tree.other_root) == {basket.pk}
    assert visible_ids() == {apple.pk, orange.pk, basket.pk}
    assert visible_ids(category=tree.root, q="不存在") == set()


def test_sorting(tree, shop, make_product):
    cheap = make_product(shop, listed=True, skus=[{"specs": {}, "price_fen": 100, "stock": 1}])
    dear = make_product(shop, listed=True, skus=[{"specs": {}, "price_fen": 9900, "stock": 1}])
    assert [p.pk for p in selectors.product_search_public(sort="price_asc")] == [cheap.pk, dear.pk]
    assert [p.pk for p in selectors.product_search_public(sort="price_desc")] == [dear.pk, cheap.pk]
    assert [p.pk for p in selectors.product_search_public(sort="new")] == [dear.pk, cheap.pk]
    assert len(selectors.product_search_public(sort="bogus")) == 2


def test_product_update_keeps_stock_sold_since_the_form_was_opened(make_shop, make_product):
    """An editor who did not touch a SKU's stock must not undo the sales made meanwhile; one who
    did is told the stock changed, and nothing is saved."""
    from jishi.catalog.models import Sku
    from jishi.inventory.services import stock_take

    shop = make_shop()
    product = make_product(shop, skus=[{"specs": {}, "price_fen": 1000, "stock": 10}])
    sku = product.skus.get()
    stock_take([(sku.pk, 3)])  # three sold after the editor opened the form (seen: 10)
    fields = {"category_id": product.category_id, "title": "改过的标题", "spec_names": []}
    services.product_update(
        actor=shop.owner,
        product_id=product.pk,
        skus=[{"specs": {}, "price_fen": 1200, "stock": 10, "stock_seen": 10}],
        **fields,
    )
    assert Sku.objects.get(pk=sku.pk).stock == 7
    with pytest.raises(DomainError) as exc:
        services.product_update(
            actor=shop.owner,
            product_id=product.pk,
            skus=[{"specs": {}, "price_fen": 1300, "stock": 50, "stock_seen": 10}],
            **fields,
        )
    assert exc.value.code == "stock_changed"
    assert "skus.0.stock" in exc.value.extra["fields"]
    assert Sku.objects.get(pk=sku.pk).price_fen == 1200
