"""/api/v1/shops: public shops, opening a shop, the seller's own shop and its staff."""

import pytest

from jishi.accounts.models import User
from jishi.shops.models import Shop, ShopStaff, ShopStatus

from .helpers import PASSWORD, ApiClient, error_code, png_bytes

# --- public -----------------------------------------------------------------------------------


def test_public_shop_list_and_detail(world, anon):
    body = anon.get("/shops").json()
    assert body["count"] == 2
    assert {s["name"] for s in body["items"]} == {"安吉茶园", "竹乡"}
    detail = anon.get(f"/shops/{world.shop.pk}")
    assert detail.status_code == 200
    assert detail.json()["name"] == "安吉茶园"
    assert "owner" not in detail.json()


def test_closed_or_missing_shop_is_not_found(world, anon):
    Shop.objects.filter(pk=world.shop2.pk).update(status=ShopStatus.SUSPENDED)
    assert anon.get(f"/shops/{world.shop2.pk}").status_code == 404
    assert anon.get("/shops").json()["count"] == 1
    assert error_code(anon.get("/shops/999999")) == "not_found"


# --- opening a shop ---------------------------------------------------------------------------


def test_verified_seller_opens_a_shop(db, api, make_verified_seller):
    seller = make_verified_seller()
    response = api(seller).post(
        "/shops",
        {
            "name": "溪龙白茶",
            "shop_type": "B2C",
            "province": "浙江省",
            "city": "湖州市",
            "description": "明前茶",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "owner"
    assert body["shop_type"] == "B2C"
    assert ShopStaff.objects.get(user=seller).role == "owner"


def test_unverified_seller_cannot_open_a_shop(world, api):
    response = api(world.unverified).post("/shops", {"name": "无证小店"})
    assert response.status_code == 400
    assert error_code(response) == "seller_not_verified"
    assert not Shop.objects.filter(name="无证小店").exists()


def test_open_shop_refusals(world, api, make_verified_seller):
    assert error_code(api(world.seller).post("/shops", {"name": "第二家"})) == "already_has_shop"
    assert error_code(api(world.service).post("/shops", {"name": "员工店"})) == (
        "seller_not_verified"
    )
    newcomer = api(make_verified_seller())
    assert error_code(newcomer.post("/shops", {"name": "安吉茶园"})) == "shop_name_taken"
    too_long = newcomer.post("/shops", {"name": "店" * 31})
    assert too_long.status_code == 400
    assert error_code(too_long) == "text_too_long"
    assert newcomer.post("/shops", {"name": "好店", "shop_type": "XYZ"}).status_code == 422
    assert error_code(newcomer.post("/shops", {"name": "好店", "province": "火星"})) == (
        "validation_error"
    )
    assert Shop.objects.count() == 2


# --- my shop ----------------------------------------------------------------------------------


def test_my_shop_for_owner_and_staff(world, api):
    owner = api(world.seller).get("/shops/mine").json()
    assert owner["id"] == world.shop.pk and owner["role"] == "owner"
    staff = api(world.service).get("/shops/mine").json()
    assert staff["id"] == world.shop.pk and staff["role"] == "service"


def test_my_shop_for_someone_without_a_shop_is_not_found(world, api):
    response = api(world.buyer).get("/shops/mine")
    assert response.status_code == 404
    assert error_code(response) == "not_shop_staff"


def test_owner_updates_the_shop_partially(world, api):
    client = api(world.seller)
    response = client.patch(
        "/shops/mine", {"description": "新茶上市", "city": "湖州市", "province": "浙江省"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "新茶上市"
    assert body["name"] == "安吉茶园"
    renamed = client.patch("/shops/mine", {"name": "安吉茶园旗舰店"})
    assert renamed.json()["name"] == "安吉茶园旗舰店"
    assert renamed.json()["description"] == "新茶上市"


def test_shop_update_refusals(world, api):
    assert error_code(api(world.seller).patch("/shops/mine", {"name": "竹乡"})) == (
        "shop_name_taken"
    )
    response = api(world.service).patch("/shops/mine", {"description": "客服改的"})
    assert response.status_code == 403
    assert error_code(response) == "staff_role_forbidden"
    assert api(world.warehouse).patch("/shops/mine", {"description": "x"}).status_code == 403
    assert api(world.buyer).patch("/shops/mine", {"description": "x"}).status_code == 404
    assert error_code(api(world.seller).patch("/shops/mine", {"description": "长" * 2001})) == (
        "text_too_long"
    )
    world.shop.refresh_from_db()
    assert world.shop.description == ""


def test_shop_logo_upload(world, api):
    client = api(world.seller)
    response = client.upload("/shops/mine/logo", {"logo": png_bytes()})
    assert response.status_code == 200
    assert response.json()["logo_url"].startswith("/media/shops/logos/")
    bad = client.upload("/shops/mine/logo", {"logo": _not_an_image()})
    assert bad.status_code == 400
    assert error_code(bad) == "image_invalid"
    assert api(world.service).upload("/shops/mine/logo", {"logo": png_bytes()}).status_code == 403
    assert api(world.buyer).upload("/shops/mine/logo", {"logo": png_bytes()}).status_code == 404


def _not_an_image():
    import io

    buf = io.BytesIO(b"<?php echo 'hi'; ?>")
    buf.name = "logo.png"
    return buf


# --- staff ------------------------------------------------------------------------------------


def test_owner_lists_and_creates_staff(world, api):
    client = api(world.seller)
    listing = client.get("/shops/mine/staff").json()
    assert {s["role"] for s in listing["items"]} == {"owner", "service", "warehouse"}
    response = client.post(
        "/shops/mine/staff",
        {"username": "shop_a_packer", "password": PASSWORD, "role": "warehouse"},
    )
    assert response.status_code == 201
    assert response.json()["username"] == "shop_a_packer"
    new_user = User.objects.get(username="shop_a_packer")
    assert api(new_user).get("/shops/mine").json()["role"] == "warehouse"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"username": "buyer_a", "password": PASSWORD, "role": "service"}, 400, "username_taken"),
        ({"username": "newstaff", "password": "123", "role": "service"}, 400, "password_weak"),
        (
            {"username": "newstaff", "password": PASSWORD, "role": "owner"},
            400,
            "staff_role_invalid",
        ),
        ({"username": "newstaff", "password": PASSWORD, "role": "boss"}, 422, "validation_error"),
    ],
)
def test_staff_create_bad_input(world, api, data, status, code):
    response = api(world.seller).post("/shops/mine/staff", data)
    assert response.status_code == status
    assert error_code(response) == code
    assert not User.objects.filter(username="newstaff").exists()


def test_staff_endpoints_refuse_staff_and_strangers(world, api):
    staff_id = ShopStaff.objects.get(user=world.service).pk
    new = {"username": "sneaky", "password": PASSWORD, "role": "service"}
    for user in (world.service, world.warehouse):
        client = api(user)
        assert error_code(client.get("/shops/mine/staff")) == "staff_role_forbidden"
        assert client.post("/shops/mine/staff", new).status_code == 403
        assert (
            client.patch(f"/shops/mine/staff/{staff_id}", {"role": "warehouse"}).status_code == 403
        )
    for user in (world.buyer, world.admin):
        client = api(user)
        assert client.get("/shops/mine/staff").status_code == 404
        assert client.post("/shops/mine/staff", new).status_code == 404
    # Another seller cannot touch shop A's staff: it is not in their shop.
    response = api(world.seller2).patch(f"/shops/mine/staff/{staff_id}", {"role": "warehouse"})
    assert response.status_code == 404
    assert ShopStaff.objects.get(pk=staff_id).role == "service"
    assert not User.objects.filter(username="sneaky").exists()


def test_owner_changes_role_and_deactivates_staff(world, api):
    staff_id = ShopStaff.objects.get(user=world.service).pk
    client = api(world.seller)
    response = client.patch(f"/shops/mine/staff/{staff_id}", {"role": "warehouse"})
    assert response.status_code == 200
    assert response.json()["role"] == "warehouse"
    assert response.json()["is_active"] is True
    off = client.patch(f"/shops/mine/staff/{staff_id}", {"is_active": False}).json()
    assert off["is_active"] is False and off["role"] == "warehouse"
    assert api(world.service).get("/shops/mine").status_code == 401  # the login is disabled
    owner_row = ShopStaff.objects.get(user=world.seller).pk
    assert error_code(client.patch(f"/shops/mine/staff/{owner_row}", {"role": "service"})) == (
        "owner_immutable"
    )


def test_staff_list_is_paginated(world):
    body = ApiClient(world.seller).get("/shops/mine/staff", {"limit": 1}).json()
    assert body["count"] == 3
    assert len(body["items"]) == 1
