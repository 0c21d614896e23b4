"""/api/v1/catalog: the public tree and products; sellers' products, SKUs, images and stock."""

import io

import pytest

from jishi.catalog.models import Product, ProductImage, Sku
from jishi.catalog.services import category_update, product_take_down

from .helpers import ApiClient, error_code, png_bytes, product_payload

# --- public -----------------------------------------------------------------------------------


def test_category_tree_is_nested_and_hides_inactive(world, anon):
    tree = world.tree
    category_update(
        operator=tree.operator, category_id=tree.leaf2.pk, name=tree.leaf2.name, is_active=False
    )
    body = anon.get("/catalog/categories").json()
    roots = {c["id"]: c for c in body}
    assert set(roots) == {tree.root.pk, tree.other_root.pk}
    mid = roots[tree.root.pk]["children"][0]
    assert mid["id"] == tree.mid.pk
    assert [c["id"] for c in mid["children"]] == [tree.leaf.pk]
    assert mid["children"][0]["commission_rate_bp"] == 200
    assert mid["children"][0]["children"] == []


def test_public_products_only_listed_with_filters(world, anon, make_product):
    make_product(
        world.shop2,
        category=world.tree.other_leaf,
        title="竹编茶盘",
        listed=True,
        skus=[{"specs": {}, "price_fen": 500, "stock": 3}],
    )
    body = anon.get("/catalog/products").json()
    titles = {p["title"] for p in body["items"]}
    assert titles == {"安吉白茶 明前特级", "竹编果篮", "竹编茶盘"}  # the draft is hidden
    card = next(p for p in body["items"] if p["title"] == "安吉白茶 明前特级")
    assert card["price_min_fen"] == 12800
    assert card["shop_name"] == "安吉茶园"
    assert {p["title"] for p in anon.get("/catalog/products", {"q": "竹编"}).json()["items"]} == {
        "竹编果篮",
        "竹编茶盘",
    }
    by_root = anon.get("/catalog/products", {"category_id": world.tree.root.pk}).json()
    assert by_root["count"] == 2
    by_shop = anon.get("/catalog/products", {"shop_id": world.shop.pk}).json()
    assert [p["title"] for p in by_shop["items"]] == ["安吉白茶 明前特级"]
    cheap_first = anon.get("/catalog/products", {"sort": "price_asc"}).json()["items"]
    assert [p["price_min_fen"] for p in cheap_first] == sorted(
        p["price_min_fen"] for p in cheap_first
    )


def test_public_products_bad_filters(world, anon):
    assert anon.get("/catalog/products", {"sort": "random"}).status_code == 422
    assert anon.get("/catalog/products", {"category_id": 999999}).status_code == 404
    assert anon.get("/catalog/products", {"shop_id": "abc"}).status_code == 422
    assert anon.get("/catalog/products", {"q": "茶" * 1000}).status_code == 200


def test_public_product_detail_has_active_skus_but_no_seller_codes(world, anon):
    response = anon.get(f"/catalog/products/{world.product.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["spec_names"] == ["规格"]
    assert [(s["specs"]["规格"], s["price_fen"], s["stock"]) for s in body["skus"]] == [
        ("250g", 12800, 10),
        ("500g", 23800, 0),
    ]
    assert "code" not in body["skus"][0]
    assert body["attributes"][0] == ["产地", "浙江安吉"]


def test_public_product_detail_hides_drafts_and_taken_down(world, anon):
    assert anon.get(f"/catalog/products/{world.draft.pk}").status_code == 404
    product_take_down(operator=world.admin, product_id=world.product2.pk, reason="假货")
    assert anon.get(f"/catalog/products/{world.product2.pk}").status_code == 404


# --- seller: reading --------------------------------------------------------------------------


def test_seller_product_list_is_the_own_shops(world, api):
    body = api(world.seller).get("/catalog/seller/products").json()
    assert {p["title"] for p in body["items"]} == {"安吉白茶 明前特级", "草稿商品"}
    drafts = api(world.seller).get("/catalog/seller/products", {"status": "draft"}).json()
    assert [p["title"] for p in drafts["items"]] == ["草稿商品"]
    assert api(world.service).get("/catalog/seller/products").json()["count"] == 2
    other = api(world.seller2).get("/catalog/seller/products").json()
    assert [p["title"] for p in other["items"]] == ["竹编果篮"]
    assert api(world.seller).get("/catalog/seller/products", {"status": "gone"}).status_code == 422


def test_seller_product_list_refuses_non_staff(world, api):
    response = api(world.buyer).get("/catalog/seller/products")
    assert response.status_code == 404
    assert error_code(response) == "not_shop_staff"


def test_seller_product_detail_includes_codes_and_status(world, api):
    body = api(world.seller).get(f"/catalog/seller/products/{world.product.pk}").json()
    assert body["status"] == "listed"
    assert body["skus"][0]["code"] == "BC-250"
    draft = api(world.warehouse).get(f"/catalog/seller/products/{world.draft.pk}")
    assert draft.status_code == 200


def test_another_sellers_product_is_not_found(world, api):
    other = api(world.seller2)
    pid = world.product.pk
    payload = product_payload(world.tree.leaf.pk, title="改成我的")
    for response in [
        other.get(f"/catalog/seller/products/{pid}"),
        other.put(f"/catalog/seller/products/{pid}", payload),
        other.post(f"/catalog/seller/products/{pid}/list"),
        other.post(f"/catalog/seller/products/{pid}/unlist"),
        other.upload(f"/catalog/seller/products/{pid}/images", {"images": png_bytes()}),
    ]:
        assert response.status_code == 404, response.content
        assert error_code(response) == "not_found"
    world.product.refresh_from_db()
    assert world.product.title == "安吉白茶 明前特级"
    assert world.product.status == "listed"
    assert not ProductImage.objects.filter(product=world.product).exists()
    buyer = api(world.buyer)
    assert buyer.get(f"/catalog/seller/products/{pid}").status_code == 404
    assert buyer.post(f"/catalog/seller/products/{pid}/unlist").status_code == 404


# --- seller: creating and editing -------------------------------------------------------------


def test_owner_creates_a_product_with_skus(world, api):
    response = api(world.seller).post(
        "/catalog/seller/products", product_payload(world.tree.leaf.pk, title="黄金芽")
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["price_min_fen"] == 12800
    assert body["stock_total"] == 10
    assert len(body["skus"]) == 2
    assert body["skus"][1]["list_price_fen"] == 26800
    assert Product.objects.get(pk=body["id"]).shop_id == world.shop.pk


@pytest.mark.parametrize(
    ("sku_change", "status", "code"),
    [
        ({"price_fen": "12.5"}, 422, "validation_error"),
        ({"price_fen": 12.5}, 422, "validation_error"),
        ({"price_fen": "1250"}, 422, "validation_error"),
        ({"price_fen": True}, 422, "validation_error"),
        ({"price_fen": None}, 422, "validation_error"),
        ({"price_fen": -1}, 400, "price_invalid"),
        ({"price_fen": 0}, 400, "price_invalid"),
        ({"price_fen": 10**20}, 400, "price_invalid"),
        ({"list_price_fen": -5}, 400, "price_invalid"),
        ({"stock": -1}, 400, "stock_invalid"),
        ({"stock": 1.5}, 422, "validation_error"),
        ({"stock": "abc"}, 422, "validation_error"),
        ({"stock": 10**12}, 400, "stock_invalid"),
        ({"specs": {"颜色": "红"}}, 400, "sku_specs_invalid"),
    ],
)
def test_create_product_bad_price_or_stock(world, api, sku_change, status, code):
    payload = product_payload(world.tree.leaf.pk, title="坏数据")
    payload["skus"][0].update(sku_change)
    response = api(world.seller).post("/catalog/seller/products", payload)
    assert response.status_code == status, response.json()
    assert error_code(response) == code
    assert not Product.objects.filter(title="坏数据").exists()


@pytest.mark.parametrize(
    ("sku_change", "field", "code"),
    [
        ({"price_fen": 0}, "skus.1.price_fen", "price_invalid"),
        ({"stock": -1}, "skus.1.stock", "stock_invalid"),
        ({"list_price_fen": 23800}, "skus.1.list_price_fen", "list_price_too_low"),
        ({"list_price_fen": 100}, "skus.1.list_price_fen", "list_price_too_low"),
        ({"price_fen": "x"}, "skus.1.price_fen", "validation_error"),  # 422 names it alike
    ],
)
def test_sku_errors_name_the_sku_by_index(world, api, sku_change, field, code):
    payload = product_payload(world.tree.leaf.pk, title="坏数据")
    payload["skus"][1].update(sku_change)
    response = api(world.seller).post("/catalog/seller/products", payload)
    assert error_code(response) == code
    assert list(response.json()["extra"]["fields"]) == [field]
    assert not Product.objects.filter(title="坏数据").exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"title": "茶" * 61}, "text_too_long"),
        ({"title": "   "}, "field_required"),
        ({"subtitle": "茶" * 81}, "text_too_long"),
        ({"skus": []}, "sku_required"),
        ({"attributes": [["产地"]]}, "attributes_invalid"),
        ({"spec_names": ["规格", "规格"]}, "sku_specs_invalid"),
    ],
)
def test_create_product_bad_fields(world, api, change, code):
    payload = product_payload(world.tree.leaf.pk, **change)
    response = api(world.seller).post("/catalog/seller/products", payload)
    assert response.status_code == 400
    assert error_code(response) == code
    assert Product.objects.filter(shop=world.shop).count() == 2


def test_create_product_over_long_title_names_the_field(world, api):
    response = api(world.seller).post(
        "/catalog/seller/products", product_payload(world.tree.leaf.pk, title="长" * 61)
    )
    assert response.json()["extra"]["fields"]["title"]


def test_create_product_category_must_be_an_active_leaf(world, api):
    client = api(world.seller)
    not_leaf = client.post("/catalog/seller/products", product_payload(world.tree.mid.pk))
    assert error_code(not_leaf) == "category_not_leaf"
    missing = client.post("/catalog/seller/products", product_payload(999999))
    assert missing.status_code == 400
    assert "category_id" in missing.json()["extra"]["fields"]
    assert client.post("/catalog/seller/products", product_payload("食品")).status_code == 422


def test_create_product_refused_beyond_role(world, api):
    payload = product_payload(world.tree.leaf.pk, title="越权商品")
    for user in (world.warehouse, world.service):
        response = api(user).post("/catalog/seller/products", payload)
        assert response.status_code == 403
        assert error_code(response) == "staff_role_forbidden"
    assert api(world.buyer).post("/catalog/seller/products", payload).status_code == 404
    assert api(world.admin).post("/catalog/seller/products", payload).status_code == 404
    assert not Product.objects.filter(title="越权商品").exists()


def test_owner_updates_a_product_and_retires_missing_skus(world, api):
    payload = product_payload(world.tree.leaf.pk, title="安吉白茶 特级 新版")
    payload["skus"] = [
        {"specs": {"规格": "250g"}, "price_fen": 9900, "stock": 7},
        {"specs": {"规格": "1kg"}, "price_fen": 39900, "stock": 2},
    ]
    response = api(world.seller).put(f"/catalog/seller/products/{world.product.pk}", payload)
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "安吉白茶 特级 新版"
    assert sorted(s["specs"]["规格"] for s in body["skus"]) == ["1kg", "250g"]
    assert body["price_min_fen"] == 9900
    assert body["stock_total"] == 9
    retired = Sku.objects.get(product=world.product, spec_key="规格:500g")
    assert retired.is_active is False


def test_update_product_refused_beyond_role_or_with_bad_data(world, api):
    url = f"/catalog/seller/products/{world.product.pk}"
    payload = product_payload(world.tree.leaf.pk, title="仓库改的标题")
    response = api(world.warehouse).put(url, payload)
    assert response.status_code == 403
    assert error_code(response) == "staff_role_forbidden"
    assert api(world.service).put(url, payload).status_code == 403
    bad = product_payload(world.tree.leaf.pk)
    bad["skus"][0]["price_fen"] = -100
    assert error_code(api(world.seller).put(url, bad)) == "price_invalid"
    world.product.refresh_from_db()
    assert world.product.title == "安吉白茶 明前特级"
    assert Sku.objects.get(product=world.product, spec_key="规格:250g").price_fen == 12800


def test_taken_down_product_cannot_be_edited_or_relisted(world, api):
    product_take_down(operator=world.admin, product_id=world.product.pk, reason="图片侵权")
    client = api(world.seller)
    url = f"/catalog/seller/products/{world.product.pk}"
    assert error_code(client.put(url, product_payload(world.tree.leaf.pk))) == "product_banned"
    assert error_code(client.post(f"{url}/list")) == "product_banned"
    assert client.get(url).json()["ban_reason"] == "图片侵权"


# --- list / unlist ----------------------------------------------------------------------------


def test_list_and_unlist(world, api):
    client = api(world.seller)
    url = f"/catalog/seller/products/{world.product.pk}"
    assert client.post(f"{url}/unlist").json()["status"] == "unlisted"
    assert ApiClient().get(f"/catalog/products/{world.product.pk}").status_code == 404
    assert error_code(client.post(f"{url}/unlist")) == "status_invalid"
    assert client.post(f"{url}/list").json()["status"] == "listed"
    assert ApiClient().get(f"/catalog/products/{world.product.pk}").status_code == 200


def test_a_product_without_stock_cannot_be_listed(world, api, make_product):
    empty = make_product(world.shop, skus=[{"specs": {}, "price_fen": 100, "stock": 0}])
    response = api(world.seller).post(f"/catalog/seller/products/{empty.pk}/list")
    assert response.status_code == 400
    assert error_code(response) == "no_stock_to_list"
    empty.refresh_from_db()
    assert empty.status == "draft"


def test_list_unlist_refused_beyond_role(world, api):
    url = f"/catalog/seller/products/{world.product.pk}"
    for user in (world.warehouse, world.service):
        assert api(user).post(f"{url}/unlist").status_code == 403
        assert api(user).post(f"/catalog/seller/products/{world.draft.pk}/list").status_code == 403
    world.product.refresh_from_db()
    assert world.product.status == "listed"


# --- images -----------------------------------------------------------------------------------


def test_upload_and_remove_images(world, api):
    client = api(world.seller)
    url = f"/catalog/seller/products/{world.product.pk}/images"
    response = client.upload(url, {"images": [png_bytes(), png_bytes(color="blue")]})
    assert response.status_code == 201, response.content
    images = response.json()
    assert len(images) == 2
    assert images[0]["url"].startswith("/media/products/")
    card = ApiClient().get("/catalog/products", {"shop_id": world.shop.pk}).json()["items"][0]
    assert card["cover_url"] == images[0]["url"]
    assert client.delete(f"{url}/{images[0]['id']}").status_code == 204
    assert ProductImage.objects.filter(product=world.product).count() == 1
    assert client.delete(f"{url}/{images[0]['id']}").status_code == 404


def test_upload_refuses_non_images_and_too_many(world, api, settings):
    client = api(world.seller)
    url = f"/catalog/seller/products/{world.product.pk}/images"
    fake = io.BytesIO(b"GIF89a not really")
    fake.name = "x.gif"
    response = client.upload(url, {"images": fake})
    assert response.status_code == 400
    assert error_code(response) == "image_invalid"
    assert client.upload(url, {}).status_code == 422
    eleven = [png_bytes() for _ in range(11)]
    assert error_code(client.upload(url, {"images": eleven})) == "image_limit"
    assert not ProductImage.objects.filter(product=world.product).exists()


def test_image_endpoints_refuse_other_sellers_and_roles(world, api):
    url = f"/catalog/seller/products/{world.product.pk}/images"
    image_id = api(world.seller).upload(url, {"images": png_bytes()}).json()[0]["id"]
    assert api(world.seller2).delete(f"{url}/{image_id}").status_code == 404
    # The image id through another product of one's own is no way in either.
    other_url = f"/catalog/seller/products/{world.product2.pk}/images/{image_id}"
    assert api(world.seller2).delete(other_url).status_code == 404
    assert api(world.warehouse).upload(url, {"images": png_bytes()}).status_code == 403
    assert api(world.warehouse).delete(f"{url}/{image_id}").status_code == 403
    assert ProductImage.objects.filter(pk=image_id).exists()


# --- stock ------------------------------------------------------------------------------------


def _sku(product, key="规格:250g"):
    return Sku.objects.get(product=product, spec_key=key)


@pytest.mark.parametrize("user", ["seller", "warehouse"])
def test_owner_and_warehouse_set_stock(world, api, user):
    sku = _sku(world.product)
    response = api(getattr(world, user)).put(f"/catalog/seller/skus/{sku.pk}/stock", {"stock": 42})
    assert response.status_code == 200
    assert response.json()["stock"] == 42
    world.product.refresh_from_db()
    assert world.product.stock_total == 42


def test_customer_service_cannot_edit_stock(world, api):
    sku = _sku(world.product)
    response = api(world.service).put(f"/catalog/seller/skus/{sku.pk}/stock", {"stock": 1})
    assert response.status_code == 403
    assert error_code(response) == "staff_role_forbidden"
    sku.refresh_from_db()
    assert sku.stock == 10


def test_stock_of_another_shops_sku_is_not_found(world, api):
    sku = _sku(world.product2)
    response = api(world.seller).put(f"/catalog/seller/skus/{sku.pk}/stock", {"stock": 1})
    assert response.status_code == 404
    assert (
        api(world.buyer).put(f"/catalog/seller/skus/{sku.pk}/stock", {"stock": 1}).status_code
        == 404
    )
    sku.refresh_from_db()
    assert sku.stock == 10


@pytest.mark.parametrize(
    ("stock", "status"),
    [
        (-1, 400),
        (10**9, 400),
        (1.5, 422),
        ("5", 422),
        (None, 422),
        (True, 422),
    ],
)
def test_bad_stock_values(world, api, stock, status):
    sku = _sku(world.product)
    response = api(world.seller).put(f"/catalog/seller/skus/{sku.pk}/stock", {"stock": stock})
    assert response.status_code == status
    if status == 400:
        assert error_code(response) == "stock_invalid"
    sku.refresh_from_db()
    assert sku.stock == 10
