"""Seller center (/seller/) and operator console (/console/) pages, through the test client."""

import io
import itertools
import re
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from jishi.accounts.models import RealNameVerification, VerificationStatus
from jishi.accounts.services import (
    operator_create,
    user_register,
    verification_decide,
    verification_submit,
)
from jishi.catalog.models import Category, Product, ProductStatus, Sku
from jishi.catalog.services import category_create, product_create
from jishi.shops.models import ShopStaff, StaffRole
from jishi.shops.services import shop_open

PASSWORD = "Seller2024pass"
_n = itertools.count(100)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(n: int) -> str:
    body = f"3305221990{1 + n // 28 % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _bank_card(n: int) -> str:
    body = f"622848{n:09d}"
    total = 0
    for i, d in enumerate(int(c) for c in reversed(body)):
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _png(color: str = "red") -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buf, "PNG")
    buf.seek(0)
    buf.name = "p.png"
    return buf


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def user_factory():
    def make(prefix: str = "user"):
        return user_register(username=f"{prefix}{next(_n)}", password=PASSWORD)

    return make


@pytest.fixture
def operator_factory():
    def make(role: str):
        return operator_create(username=f"op{role}{next(_n)}", password=PASSWORD, role=role)

    return make


@pytest.fixture
def seller_shop(user_factory, operator_factory):
    """A verified seller with an open shop (made through the services)."""
    owner = user_factory("owner")
    n = next(_n)
    record = verification_submit(
        user=owner,
        real_name="李四",
        id_number=_id_number(n),
        bank_name="中国农业银行",
        bank_card=_bank_card(n),
    )
    verification_decide(
        operator=operator_factory("reviewer"), verification_id=record.pk, approve=True
    )
    return shop_open(user=owner, name=f"山货铺{n}", shop_type="C2C")


@pytest.fixture
def leaf(operator_factory):
    operator = operator_factory("catalog")
    n = next(_n)
    root = category_create(operator=operator, name=f"茶叶{n}")
    return category_create(operator=operator, name=f"白茶{n}", parent_id=root.pk)


def _client(client, user):
    client.force_login(user)
    return client


def _product_post(category_id: int, **extra: Any) -> dict[str, Any]:
    """A product form POST with specs 颜色 × 规格 (2 × 2 SKUs)."""
    data = {
        "action": "save",
        "category_id": str(category_id),
        "title": "安吉白茶 明前特级",
        "subtitle": "高山茶园",
        "brand": "溪龙",
        "description": "今年新茶。",
        "attr_name": ["产地", ""],
        "attr_value": ["浙江安吉", ""],
        "stock_deduction": "order",
        "spec_name_1": "包装",
        "spec_values_1": "罐装, 袋装",
        "spec_name_2": "规格",
        "spec_values_2": "100g，250g",
        "spec_name_3": "",
        "spec_values_3": "",
        "sku_key": [],
        "sku_price": [],
        "sku_list_price": [],
        "sku_stock": [],
        "sku_code": [],
    }
    prices = {"罐装": 100, "袋装": 80}
    for pack in ("罐装", "袋装"):
        for size in ("100g", "250g"):
            data["sku_key"].append(f"包装:{pack};规格:{size}")
            base = prices[pack] * (1 if size == "100g" else 2)
            data["sku_price"].append(f"{base}.50")
            data["sku_list_price"].append("")
            data["sku_stock"].append("0")
            data["sku_code"].append(f"C-{pack}-{size}")
    data.update(extra)
    return data


# --- the whole journey ----------------------------------------------------------------------


@pytest.mark.django_db
def test_seller_journey_from_verification_to_storefront(
    client, user_factory, operator_factory, leaf
):
    seller = user_factory("seller")
    c = _client(client, seller)

    page = c.get("/seller/")
    assert page.status_code == 200
    assert b'data-testid="onboarding-unverified"' in page.content
    assert reverse("seller:verify").encode() in page.content

    n = next(_n)
    id_number, card = _id_number(n), _bank_card(n)
    bad = c.post(
        "/seller/verify/",
        {"real_name": "王五", "id_number": "123", "bank_name": "农行", "bank_card": card},
    )
    assert bad.status_code == 400
    assert b"18-character" in bad.content
    resp = c.post(
        "/seller/verify/",
        {
            "real_name": "王五",
            "id_number": id_number,
            "bank_name": "中国农业银行",
            "bank_card": card,
        },
    )
    assert resp.status_code == 302
    page = c.get("/seller/verify/")
    assert id_number.encode() not in page.content and card.encode() not in page.content
    assert f"{id_number[:3]}***********{id_number[-4:]}".encode() in page.content
    assert f"**** **** **** {card[-4:]}".encode() in page.content
    assert b'data-testid="onboarding-pending"' in c.get("/seller/").content

    # the operator approves it in the console
    reviewer = operator_factory("reviewer")
    c.force_login(reviewer)
    queue = c.get("/console/verifications/")
    assert queue.status_code == 200
    assert "王五".encode() in queue.content and id_number.encode() not in queue.content
    record = RealNameVerification.objects.get(user=seller)
    resp = c.post(f"/console/verifications/{record.pk}/decide/", {"decision": "approve"})
    assert resp.status_code == 302
    record.refresh_from_db()
    assert record.status == VerificationStatus.VERIFIED

    # the seller opens the shop
    c.force_login(seller)
    page = c.get("/seller/")
    assert b'data-testid="shop-open-form"' in page.content
    assert "浙江省".encode() in page.content
    resp = c.post(
        "/seller/",
        {
            "name": "安吉茶园",
            "shop_type": "B2C",
            "province": "浙江省",
            "city": "湖州",
            "description": "明前茶",
            "logo": _png(),
        },
    )
    assert resp.status_code == 302
    shop = ShopStaff.objects.get(user=seller).shop
    assert shop.name == "安吉茶园" and shop.shop_type == "B2C" and shop.logo
    page = c.get("/seller/")
    assert b'data-testid="seller-dashboard"' in page.content
    assert "安吉茶园".encode() in page.content

    # the product form: leaf category as "parent › leaf", 2 × 2 SKUs
    form = c.get("/seller/products/new/")
    assert form.status_code == 200
    assert f"{leaf.parent.name} › {leaf.name}".encode() in form.content
    refreshed = c.post("/seller/products/new/", _product_post(leaf.pk, action="refresh"))
    assert refreshed.status_code == 200
    assert refreshed.content.count(b'name="sku_key"') == 4 + 1  # + the JS row template
    assert not Product.objects.exists()

    resp = c.post(
        "/seller/products/new/", {**_product_post(leaf.pk), "images": [_png("green"), _png("blue")]}
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    product = Product.objects.get(shop=shop)
    assert product.status == ProductStatus.DRAFT
    assert product.attributes == [["产地", "浙江安吉"]]
    assert product.spec_names == ["包装", "规格"]
    assert product.images.count() == 2
    skus = {s.spec_key: s for s in product.skus.all()}
    assert len(skus) == 4
    assert skus["包装:罐装;规格:250g"].price_fen == 20050
    assert skus["包装:袋装;规格:100g"].price_fen == 8050

    # listing without stock is refused with a flash message
    resp = c.post(f"/seller/products/{product.pk}/list/", follow=True)
    assert b"Add stock to at least one SKU before listing." in resp.content
    product.refresh_from_db()
    assert product.status == ProductStatus.DRAFT

    # stock through the stock page (htmx), then list it
    sku = skus["包装:罐装;规格:100g"]
    row = c.post(f"/seller/stock/{sku.pk}/", {"stock": "12"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    assert row.content.lstrip().startswith(b"<tr") and b"row-saved" in row.content
    sku.refresh_from_db()
    assert sku.stock == 12
    resp = c.post(f"/seller/products/{product.pk}/list/", follow=True)
    assert b"is on sale" in resp.content
    product.refresh_from_db()
    assert product.status == ProductStatus.LISTED and product.stock_total == 12

    listed = c.get("/seller/products/?status=listed")
    assert "安吉白茶 明前特级".encode() in listed.content
    assert b"80.50" in listed.content and b"200.50" in listed.content  # price range
    dashboard = c.get("/seller/")
    assert re.search(rb'data-testid="count-listed">1<', dashboard.content)

    # it is in the storefront
    c.logout()
    assert "安吉白茶 明前特级".encode() in c.get("/").content
    assert "安吉白茶 明前特级".encode() in c.get(f"/category/{leaf.pk}/").content
    assert "安吉白茶 明前特级".encode() in c.get(f"/category/{leaf.parent_id}/").content


@pytest.mark.django_db
def test_products_without_images_show_a_placeholder(client, seller_shop, leaf):
    from jishi.catalog.services import product_list

    product = product_create(
        actor=seller_shop.owner,
        category_id=leaf.pk,
        title="无图竹篮",
        spec_names=[],
        skus=[{"specs": {}, "price_fen": 5000, "stock": 3}],
    )
    product_list(actor=seller_shop.owner, product_id=product.pk)
    placeholder = b"/static/jishi/no-image.svg"
    for url in ("/", f"/category/{leaf.pk}/", f"/item/{product.pk}/", f"/shop/{seller_shop.pk}/"):
        page = client.get(url)
        assert page.status_code == 200 and "无图竹篮".encode() in page.content, url
        assert placeholder in page.content, url
    assert b'data-testid="no-image"' in client.get(f"/item/{product.pk}/").content
    c = _client(client, seller_shop.owner)
    assert placeholder in c.get("/seller/products/").content
    assert placeholder in c.get("/seller/stock/").content
    svg = client.get(placeholder.decode())
    assert svg.status_code == 200
    assert b"<svg" in b"".join(svg.streaming_content)


@pytest.mark.django_db
def test_english_mode_uses_english_category_names(client, operator_factory):
    from django.utils import translation

    operator = operator_factory("catalog")
    root = category_create(operator=operator, name="水果生鲜", name_en="Fresh fruit")
    apples = category_create(operator=operator, name="苹果", name_en="Apples", parent_id=root.pk)
    category_create(operator=operator, name="柑橘", parent_id=root.pk)  # no English name
    for url in ("/", f"/category/{root.pk}/", f"/category/{apples.pk}/"):
        html = client.get(url).content.decode()
        assert "Fresh fruit" in html and "Apples" in html, url
        assert "苹果" not in html and "水果生鲜" not in html, url
        assert "柑橘" in html, url  # falls back to the Chinese name
    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "苹果" in chinese and "Apples" not in chinese
    with translation.override("en"):
        assert apples.display_name == "Apples"
    with translation.override("zh-hans"):
        assert apples.display_name == "苹果"


# --- seller pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_states_rejected_and_login_required(client, user_factory, operator_factory):
    assert client.get("/seller/").status_code == 302  # to the login page
    seller = user_factory()
    n = next(_n)
    record = verification_submit(
        user=seller,
        real_name="赵六",
        id_number=_id_number(n),
        bank_name="建设银行",
        bank_card=_bank_card(n),
    )
    verification_decide(
        operator=operator_factory("reviewer"),
        verification_id=record.pk,
        approve=False,
        reason="身份证照片不清楚",
    )
    page = _client(client, seller).get("/seller/")
    assert b'data-testid="onboarding-rejected"' in page.content
    assert "身份证照片不清楚".encode() in page.content
    assert b'data-testid="verify-form"' in client.get("/seller/verify/").content
    # pages that need a shop send a shopless user back to the onboarding page
    assert client.get("/seller/products/")["Location"] == "/seller/"


@pytest.mark.django_db
def test_open_shop_errors_are_shown(client, seller_shop, user_factory, operator_factory):
    seller = user_factory()
    n = next(_n)
    record = verification_submit(
        user=seller,
        real_name="钱七",
        id_number=_id_number(n),
        bank_name="中国银行",
        bank_card=_bank_card(n),
    )
    verification_decide(
        operator=operator_factory("reviewer"), verification_id=record.pk, approve=True
    )
    resp = _client(client, seller).post("/seller/", {"name": seller_shop.name, "shop_type": "C2C"})
    assert resp.status_code == 400
    assert b"A shop with this name exists." in resp.content
    assert not ShopStaff.objects.filter(user=seller).exists()


def _sku_rows(html: str) -> list[str]:
    """The SKU table's rows (one <tr data-key=...> each), in order."""
    return re.findall(r'<tr class="[^"]*" data-key=".*?</tr>', html, re.S)


@pytest.mark.django_db
def test_too_large_price_is_shown_in_yuan_on_its_row(client, seller_shop, leaf):
    data = _product_post(leaf.pk)
    data["sku_price"][2] = "100000000.01"  # above the 100 million yuan limit
    resp = _client(client, seller_shop.owner).post("/seller/products/new/", data)
    assert resp.status_code == 400
    rows = _sku_rows(resp.content.decode())
    assert len(rows) == 4
    assert "A price is from 0.01 to 100,000,000.00 yuan." in rows[2]
    assert "row-error" not in rows[0] + rows[1] + rows[3]
    assert b"Fix the marked SKU rows." in resp.content
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_list_price_below_the_price_is_shown_on_its_row(client, seller_shop, leaf):
    data = _product_post(leaf.pk)
    data["sku_list_price"][1] = "150.00"  # the price of row 1 is 200.50
    resp = _client(client, seller_shop.owner).post("/seller/products/new/", data)
    assert resp.status_code == 400
    rows = _sku_rows(resp.content.decode())
    assert "The crossed-out list price must be higher than the price." in rows[1]
    assert "row-error" not in rows[0] + rows[2] + rows[3]
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_bad_price_is_a_field_error(client, seller_shop, leaf):
    data = _product_post(leaf.pk)
    data["sku_price"][1] = "12.345"
    data["sku_price"][2] = "-3"
    data["sku_stock"][3] = "²"
    resp = _client(client, seller_shop.owner).post("/seller/products/new/", data)
    assert resp.status_code == 400
    assert resp.content.count(b"Enter prices in yuan, e.g. 12.50.") == 2
    assert b"Stock is a whole number, 0 or more." in resp.content
    assert b"Fix the marked SKU rows." in resp.content
    assert b'value="12.345"' in resp.content  # what was typed stays
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_edit_product_keeps_skus_and_removes_images(client, seller_shop, leaf):
    c = _client(client, seller_shop.owner)
    c.post("/seller/products/new/", {**_product_post(leaf.pk), "images": [_png(), _png()]})
    product = Product.objects.get()
    form = c.get(f"/seller/products/{product.pk}/edit/")
    assert form.status_code == 200
    assert b'value="100.50"' in form.content and "罐装, 袋装".encode() in form.content
    image = product.images.first()
    data = _product_post(leaf.pk, title="安吉白茶 新标题", remove_image=[str(image.pk)])
    data["spec_values_2"] = "100g"  # drop the 250g SKUs
    resp = c.post(f"/seller/products/{product.pk}/edit/", data)
    assert resp.status_code == 302
    product.refresh_from_db()
    assert product.title == "安吉白茶 新标题"
    assert product.images.count() == 1
    assert Sku.objects.filter(product=product, is_active=True).count() == 2


@pytest.mark.django_db
def test_edit_form_does_not_undo_sales_made_while_it_was_open(client, seller_shop, leaf):
    from jishi.inventory.services import stock_take

    c = _client(client, seller_shop.owner)
    data = _product_post(leaf.pk)
    data["sku_stock"] = ["10", "10", "10", "10"]
    c.post("/seller/products/new/", data)
    product = Product.objects.get()
    form = c.get(f"/seller/products/{product.pk}/edit/")
    assert b'name="sku_stock_seen" value="10"' in form.content
    first = Sku.objects.filter(product=product).order_by("pk").first()
    stock_take([(first.pk, 4)])  # a buyer checks out while the seller edits
    edit = {**data, "sku_stock_seen": ["10", "10", "10", "10"], "title": "安吉白茶 改名"}
    assert c.post(f"/seller/products/{product.pk}/edit/", edit).status_code == 302
    assert Sku.objects.get(pk=first.pk).stock == 6
    edit["sku_stock"] = ["20", "10", "10", "10"]  # the seller typed over a changed stock
    page = c.post(f"/seller/products/{product.pk}/edit/", edit)
    assert page.status_code == 400 and b"The stock changed to 6" in page.content
    assert Sku.objects.get(pk=first.pk).stock == 6


@pytest.mark.django_db
def test_other_shops_product_is_404(client, seller_shop, leaf, user_factory, operator_factory):
    mine = product_create(
        actor=seller_shop.owner,
        category_id=leaf.pk,
        title="我的茶",
        spec_names=[],
        skus=[{"specs": {}, "price_fen": 100, "stock": 1}],
    )
    other_owner = user_factory("other")
    n = next(_n)
    record = verification_submit(
        user=other_owner,
        real_name="孙八",
        id_number=_id_number(n),
        bank_name="中国银行",
        bank_card=_bank_card(n),
    )
    verification_decide(
        operator=operator_factory("reviewer"), verification_id=record.pk, approve=True
    )
    shop_open(user=other_owner, name="别人的店")
    c = _client(client, other_owner)
    assert c.get(f"/seller/products/{mine.pk}/edit/").status_code == 404
    assert c.post(f"/seller/products/{mine.pk}/list/").status_code == 404
    assert c.post(f"/seller/products/{mine.pk}/edit/", _product_post(leaf.pk)).status_code == 404
    sku = mine.skus.get()
    assert c.post(f"/seller/stock/{sku.pk}/", {"stock": "9"}).status_code == 404
    sku.refresh_from_db()
    mine.refresh_from_db()
    assert sku.stock == 1 and mine.title == "我的茶" and mine.status == ProductStatus.DRAFT


@pytest.mark.django_db
def test_staff_accounts_do_not_see_real_name_verification(client, seller_shop):
    from jishi.shops.services import staff_create

    staff = staff_create(
        actor=seller_shop.owner, username=f"cs{next(_n)}", password=PASSWORD, role="service"
    ).user
    c = _client(client, seller_shop.owner)
    assert reverse("seller:verify").encode() in c.get("/seller/").content  # the owner's menu
    c = _client(client, staff)
    home = c.get("/seller/")
    assert reverse("seller:verify").encode() not in home.content
    page = c.get("/seller/verify/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="verify-staff"' in html
    assert "Real-name verification is for shop owners." in html
    assert seller_shop.name in html
    assert 'data-testid="verify-form"' not in html
    post = c.post(
        "/seller/verify/",
        {"real_name": "王五", "id_number": _id_number(9), "bank_name": "农行", "bank_card": "1"},
    )
    assert post.status_code == 403
    assert not RealNameVerification.objects.filter(user=staff).exists()
    settings_page = c.get(reverse("accounts:settings")).content.decode()
    assert 'data-testid="verification-row"' not in settings_page
    assert 'data-testid="bank-card-row"' not in settings_page
    owner_settings = _client(client, seller_shop.owner).get(reverse("accounts:settings"))
    assert b'data-testid="verification-row"' in owner_settings.content


@pytest.mark.django_db
def test_staff_roles_limit_the_seller_center(client, seller_shop, leaf):
    owner = seller_shop.owner
    product = product_create(
        actor=owner,
        category_id=leaf.pk,
        title="竹编篮",
        spec_names=[],
        skus=[{"specs": {}, "price_fen": 5000, "stock": 0}],
    )
    sku = product.skus.get()
    c = _client(client, owner)
    resp = c.post(
        "/seller/staff/", {"username": f"wh{next(_n)}", "password": PASSWORD, "role": "warehouse"}
    )
    assert resp.status_code == 302
    weak = c.post(
        "/seller/staff/", {"username": f"cs{next(_n)}", "password": "short", "role": "service"}
    )
    assert weak.status_code == 400
    resp = c.post(
        "/seller/staff/", {"username": f"cs{next(_n)}", "password": PASSWORD, "role": "service"}
    )
    assert resp.status_code == 302
    warehouse = ShopStaff.objects.get(shop=seller_shop, role=StaffRole.WAREHOUSE).user
    service = ShopStaff.objects.get(shop=seller_shop, role=StaffRole.SERVICE).user

    # warehouse staff: stock yes, products no
    c.force_login(warehouse)
    home = c.get("/seller/")
    assert b'data-testid="seller-dashboard"' in home.content
    assert reverse("seller:stock").encode() in home.content
    assert reverse("seller:product_new").encode() not in home.content
    assert reverse("seller:staff").encode() not in home.content
    assert c.get("/seller/stock/").status_code == 200
    resp = c.post(f"/seller/stock/{sku.pk}/", {"stock": "7"}, follow=True)
    assert resp.status_code == 200
    sku.refresh_from_db()
    assert sku.stock == 7
    bad = c.post(f"/seller/stock/{sku.pk}/", {"stock": "-1"}, HTTP_HX_REQUEST="true")
    assert b"row-error" in bad.content
    sku.refresh_from_db()
    assert sku.stock == 7
    products_page = c.get("/seller/products/")
    assert products_page.status_code == 200 and "竹编篮".encode() in products_page.content
    assert f"/seller/products/{product.pk}/edit/".encode() not in products_page.content
    assert c.get("/seller/products/new/").status_code == 403
    assert c.get(f"/seller/products/{product.pk}/edit/").status_code == 403
    assert c.post(f"/seller/products/{product.pk}/list/").status_code == 403
    assert c.get("/seller/shop/").status_code == 403
    assert c.get("/seller/staff/").status_code == 403

    # customer service: no stock page
    c.force_login(service)
    assert c.get("/seller/stock/").status_code == 403
    assert c.post(f"/seller/stock/{sku.pk}/", {"stock": "1"}).status_code == 403
    assert reverse("seller:stock").encode() not in c.get("/seller/").content
    product.refresh_from_db()
    assert product.status == ProductStatus.DRAFT

    # the owner deactivates the service account
    c.force_login(owner)
    member = ShopStaff.objects.get(user=service)
    resp = c.post(f"/seller/staff/{member.pk}/", {"role": "service", "op": "deactivate"})
    assert resp.status_code == 302
    member.refresh_from_db()
    service.refresh_from_db()
    assert not member.is_active and not service.is_active
    c.post(f"/seller/staff/{member.pk}/", {"role": "warehouse", "op": "activate"})
    member.refresh_from_db()
    assert member.is_active and member.role == StaffRole.WAREHOUSE


@pytest.mark.django_db
def test_shop_settings(client, seller_shop):
    c = _client(client, seller_shop.owner)
    assert c.get("/seller/shop/").status_code == 200
    resp = c.post("/seller/shop/", {"name": "新店名", "province": "火星", "city": ""})
    assert resp.status_code == 400 and b"Choose a province from the list." in resp.content
    resp = c.post(
        "/seller/shop/",
        {"name": "新店名", "province": "云南省", "city": "普洱", "description": "普洱茶"},
    )
    assert resp.status_code == 302
    seller_shop.refresh_from_db()
    assert (seller_shop.name, seller_shop.province) == ("新店名", "云南省")


@pytest.mark.django_db
def test_every_seller_page_renders_with_the_nav(client, seller_shop, leaf):
    product = product_create(
        actor=seller_shop.owner,
        category_id=leaf.pk,
        title="茶",
        spec_names=[],
        skus=[{"specs": {}, "price_fen": 100, "stock": 1}],
    )
    c = _client(client, seller_shop.owner)
    for url in (
        "/seller/",
        "/seller/verify/",
        "/seller/shop/",
        "/seller/staff/",
        "/seller/products/",
        "/seller/products/?status=draft",
        "/seller/products/new/",
        f"/seller/products/{product.pk}/edit/",
        "/seller/stock/",
    ):
        resp = c.get(url)
        assert resp.status_code == 200, url
        assert b'class="center-nav"' in resp.content, url


# --- console --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_console_refuses_non_staff(client, user_factory, seller_shop):
    assert client.get("/console/").status_code == 302  # to the login page
    c = _client(client, user_factory())
    for url in (
        "/console/",
        "/console/verifications/",
        "/console/categories/",
        "/console/products/",
    ):
        assert c.get(url).status_code == 403, url
    c.force_login(seller_shop.owner)
    assert c.get("/console/").status_code == 403
    assert c.post("/console/categories/", {"name": "X", "rate_percent": "1"}).status_code == 403
    assert not Category.objects.filter(name="X").exists()


@pytest.mark.django_db
def test_reviewer_approves_and_rejects(client, user_factory, operator_factory):
    sellers = [user_factory() for _ in range(2)]
    records = []
    for seller in sellers:
        n = next(_n)
        records.append(
            verification_submit(
                user=seller,
                real_name="周九",
                id_number=_id_number(n),
                bank_name="工商银行",
                bank_card=_bank_card(n),
            )
        )
    c = _client(client, operator_factory("reviewer"))
    home = c.get("/console/")
    assert re.search(rb'data-testid="stat-pending">2<', home.content)
    assert reverse("console:categories").encode() not in home.content
    # rejecting needs a reason
    resp = c.post(
        f"/console/verifications/{records[1].pk}/decide/", {"decision": "reject"}, follow=True
    )
    assert b"Give a reason" in resp.content
    c.post(
        f"/console/verifications/{records[1].pk}/decide/",
        {"decision": "reject", "reason": "卡号与姓名不符"},
    )
    c.post(f"/console/verifications/{records[0].pk}/decide/", {"decision": "approve"})
    statuses = dict(RealNameVerification.objects.values_list("pk", "status"))
    assert statuses == {records[0].pk: "verified", records[1].pk: "rejected"}
    rejected = c.get("/console/verifications/?status=rejected")
    assert "卡号与姓名不符".encode() in rejected.content
    # deciding twice is a flash message, not a crash
    resp = c.post(
        f"/console/verifications/{records[0].pk}/decide/",
        {"decision": "reject", "reason": "x"},
        follow=True,
    )
    assert resp.status_code == 200 and b"already decided" in resp.content


@pytest.mark.django_db
def test_catalog_manager_creates_category_and_changes_rate(client, operator_factory):
    c = _client(client, operator_factory("catalog"))
    resp = c.post(
        "/console/categories/",
        {
            "name": "山货",
            "name_en": "Mountain goods",
            "icon": "⛰",
            "rate_percent": "2.5",
            "position": "1",
        },
    )
    assert resp.status_code == 302
    root = Category.objects.get(name="山货")
    assert root.commission_rate_bp == 250 and root.name_en == "Mountain goods"
    resp = c.post(
        "/console/categories/",
        {"name": "菌菇", "parent_id": str(root.pk), "rate_percent": "3", "position": "0"},
    )
    assert resp.status_code == 302
    child = Category.objects.get(name="菌菇")
    assert child.parent_id == root.pk and child.commission_rate_bp == 300

    for bad in ("abc", "2.555", "-1", "51", "", "²", "1.²"):
        resp = c.post("/console/categories/", {"name": "坏的", "rate_percent": bad})
        assert resp.status_code == 400, bad
        assert b"percent" in resp.content, bad
    assert not Category.objects.filter(name="坏的").exists()
    too_long = c.post("/console/categories/", {"name": "长" * 21, "rate_percent": "2"})
    assert too_long.status_code == 400 and b"At most 20 characters" in too_long.content

    page = c.get("/console/categories/")
    assert b"2.5 %" in page.content and b"3 %" in page.content
    assert c.get(f"/console/categories/{child.pk}/edit/").status_code == 200
    resp = c.post(
        f"/console/categories/{child.pk}/edit/",
        {
            "name": "菌菇干货",
            "name_en": "Mushrooms",
            "icon": "",
            "rate_percent": "4.25",
            "position": "2",
            "is_active": "1",
        },
    )
    assert resp.status_code == 302
    child.refresh_from_db()
    assert (child.name, child.commission_rate_bp, child.is_active) == ("菌菇干货", 425, True)


@pytest.mark.django_db
def test_reviewer_cannot_manage_categories(client, operator_factory, leaf):
    c = _client(client, operator_factory("reviewer"))
    assert c.get("/console/categories/").status_code == 403
    resp = c.post("/console/categories/", {"name": "偷偷加", "rate_percent": "1"})
    assert resp.status_code == 403
    assert b"Your operator role does not allow this." in resp.content
    resp = c.post(f"/console/categories/{leaf.pk}/edit/", {"name": "改", "rate_percent": "0"})
    assert resp.status_code == 403
    leaf.refresh_from_db()
    assert leaf.commission_rate_bp == 200
    assert not Category.objects.filter(name="偷偷加").exists()
    assert c.get("/console/products/").status_code == 403


@pytest.mark.django_db
def test_catalog_manager_moderates_products(client, operator_factory, seller_shop, leaf):
    from jishi.catalog.services import product_list

    product = product_create(
        actor=seller_shop.owner,
        category_id=leaf.pk,
        title="野生灵芝",
        spec_names=[],
        skus=[{"specs": {}, "price_fen": 9900, "stock": 3}],
    )
    product_list(actor=seller_shop.owner, product_id=product.pk)
    c = _client(client, operator_factory("catalog"))
    page = c.get("/console/products/?q=灵芝")
    assert "野生灵芝".encode() in page.content
    c.post(f"/console/products/{product.pk}/feature/", {"featured": "1"})
    product.refresh_from_db()
    assert product.is_featured
    resp = c.post(f"/console/products/{product.pk}/take-down/", {"reason": ""}, follow=True)
    assert b"Give a reason" in resp.content
    resp = c.post(f"/console/products/{product.pk}/take-down/", {"reason": "虚假宣传"}, follow=True)
    assert b"was taken down" in resp.content
    product.refresh_from_db()
    assert product.status == ProductStatus.BANNED and product.ban_reason == "虚假宣传"
    assert "野生灵芝".encode() not in c.get("/").content
    seller_page = _client(client, seller_shop.owner).get("/seller/products/?status=banned")
    assert "虚假宣传".encode() in seller_page.content


@pytest.mark.django_db
def test_category_page_refuses_a_sibling_name_and_states_the_rate_bound(client, operator_factory):
    c = _client(client, operator_factory("catalog"))
    root = category_create(operator=operator_factory("catalog"), name="山货")
    category_create(operator=operator_factory("catalog"), name="笋干", parent_id=root.pk)
    data = {"name": "笋干", "parent_id": str(root.pk), "rate_percent": "2", "position": "0"}
    resp = c.post("/console/categories/", data)
    assert resp.status_code == 400
    assert b"Another category at this level already has this name." in resp.content
    assert Category.objects.filter(name="笋干").count() == 1
    too_high = {**data, "name": "菌菇", "rate_percent": "51"}
    assert b"A commission rate is at most 50%." in c.post("/console/categories/", too_high).content
    zh = c.post("/console/categories/", too_high, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "佣金比例不能超过 50%。" in zh.content.decode()
