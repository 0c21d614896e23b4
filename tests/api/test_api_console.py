"""/api/v1/console: verification review, categories and product moderation by operator role."""

import pytest

from jishi.accounts.models import Notification, RealNameVerification
from jishi.accounts.services import verification_submit
from jishi.catalog.models import Category, Product

from .helpers import error_code


@pytest.fixture
def pending(world, make_id_number, make_bank_card):
    return verification_submit(
        user=world.unverified,
        real_name="赵六",
        id_number=make_id_number(),
        bank_name="中国银行",
        bank_card=make_bank_card(),
    )


# --- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_list_pending_verifications(world, api, pending, role):
    body = api(getattr(world, role)).get("/console/verifications").json()
    assert [v["id"] for v in body["items"]] == [pending.pk]
    assert body["items"][0]["username"] == "not_verified"
    assert body["items"][0]["id_number_masked"] == pending.id_number_masked
    verified = api(world.reviewer).get("/console/verifications", {"status": "verified"}).json()
    assert verified["count"] == 2  # the two sellers of the world


@pytest.mark.parametrize("who", ["buyer", "seller", "catalog_op", "finance"])
def test_others_cannot_see_verifications(world, api, pending, who):
    response = api(getattr(world, who)).get("/console/verifications")
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def test_reviewer_approves_and_the_seller_can_open_a_shop(world, api, pending):
    response = api(world.reviewer).post(
        f"/console/verifications/{pending.pk}/decide", {"approve": True}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "verified"
    assert response.json()["decided_by_id"] == world.reviewer.pk
    assert Notification.objects.filter(user=world.unverified, kind="verification_verified").exists()
    assert api(world.unverified).post("/shops", {"name": "赵家茶铺"}).status_code == 201
    again = api(world.reviewer).post(
        f"/console/verifications/{pending.pk}/decide", {"approve": False, "reason": "改主意"}
    )
    assert error_code(again) == "verification_decided"


def test_reject_needs_a_reason(world, api, pending):
    client = api(world.reviewer)
    url = f"/console/verifications/{pending.pk}/decide"
    assert error_code(client.post(url, {"approve": False})) == "field_required"
    assert error_code(client.post(url, {"approve": False, "reason": "长" * 201})) == (
        "text_too_long"
    )
    response = client.post(url, {"approve": False, "reason": "身份证照片模糊"})
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "身份证照片模糊"


@pytest.mark.parametrize("who", ["buyer", "seller", "catalog_op", "finance"])
def test_others_cannot_decide(world, api, pending, who):
    response = api(getattr(world, who)).post(
        f"/console/verifications/{pending.pk}/decide", {"approve": True}
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_decide_unknown_or_bad_input(world, api, pending):
    client = api(world.reviewer)
    assert client.post("/console/verifications/999999/decide", {"approve": True}).status_code == 404
    assert (
        client.post(f"/console/verifications/{pending.pk}/decide", {"approve": "maybe"}).status_code
        == 422
    )
    assert RealNameVerification.objects.get(pk=pending.pk).status == "pending"


# --- categories -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["catalog_op", "admin", "reviewer", "finance"])
def test_operators_list_all_categories(world, api, role):
    body = api(getattr(world, role)).get("/console/categories").json()
    assert body["count"] == 6
    first = body["items"][0]
    assert first["depth"] == 1
    assert first["parent_id"] is None
    leaf = next(c for c in body["items"] if c["id"] == world.tree.leaf.pk)
    assert leaf["depth"] == 3
    assert leaf["product_count"] == 3


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_non_operators_cannot_list_categories(world, api, who):
    assert api(getattr(world, who)).get("/console/categories").status_code == 403


def test_catalog_operator_creates_and_updates_a_category(world, api):
    client = api(world.catalog_op)
    response = client.post(
        "/console/categories",
        {"name": "竹笋", "parent_id": world.tree.mid.pk, "commission_rate_bp": 350, "icon": "🎋"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["parent_id"] == world.tree.mid.pk
    assert body["commission_rate_bp"] == 350
    default = client.post("/console/categories", {"name": "山货"}).json()
    assert default["commission_rate_bp"] == 200
    updated = client.put(
        f"/console/categories/{body['id']}",
        {"name": "春笋", "commission_rate_bp": 500, "is_active": False},
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "春笋"
    assert updated.json()["is_active"] is False
    assert Category.objects.get(pk=body["id"]).commission_rate_bp == 500


def test_category_put_keeps_omitted_fields_and_reports_depth_and_count(world, api):
    client = api(world.catalog_op)
    leaf = world.tree.leaf
    client.put(f"/console/categories/{leaf.pk}", {"name_en": "Apples", "position": 7, "icon": "🍎"})
    response = client.put(f"/console/categories/{leaf.pk}", {"commission_rate_bp": 300})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["name_en"], body["position"], body["icon"]) == (
        leaf.name,
        "Apples",
        7,
        "🍎",
    )
    assert body["commission_rate_bp"] == 300 and body["is_active"] is True
    assert body["depth"] == 3 and body["product_count"] == 3  # as in the list
    listed = client.get("/console/categories", {"limit": 100}).json()["items"]
    assert next(c for c in listed if c["id"] == leaf.pk) == body
    mid = client.put(f"/console/categories/{world.tree.mid.pk}", {"is_active": True}).json()
    assert mid["depth"] == 2
    created = client.post("/console/categories", {"name": "梨", "parent_id": world.tree.mid.pk})
    assert created.json()["depth"] == 3 and created.json()["product_count"] == 0


def test_category_sibling_names_are_unique(world, api):
    client = api(world.catalog_op)
    tree = world.tree
    response = client.post(
        "/console/categories", {"name": tree.leaf.name, "parent_id": tree.mid.pk}
    )
    assert response.status_code == 400
    assert error_code(response) == "category_name_taken"
    assert list(response.json()["extra"]["fields"]) == ["name"]
    renamed = client.put(f"/console/categories/{tree.leaf2.pk}", {"name": tree.leaf.name})
    assert error_code(renamed) == "category_name_taken"
    # the same name under another parent is fine
    other = client.post(
        "/console/categories", {"name": tree.leaf.name, "parent_id": tree.other_root.pk}
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"name": "x", "commission_rate_bp": -1}, 400, "out_of_range"),
        ({"name": "x", "commission_rate_bp": 5001}, 400, "out_of_range"),
        ({"name": "x", "commission_rate_bp": 2.5}, 422, "validation_error"),
        ({"name": "x", "commission_rate_bp": "200"}, 422, "validation_error"),
        ({"name": "类" * 21}, 400, "text_too_long"),
        ({"name": ""}, 400, "field_required"),
        ({"name": "x", "parent_id": 999999}, 400, "validation_error"),
        ({"name": "四级", "parent_id": "LEAF"}, 400, "category_too_deep"),
    ],
)
def test_category_create_bad_input(world, api, data, status, code):
    if data.get("parent_id") == "LEAF":
        data = {**data, "parent_id": world.tree.leaf.pk}
    before = Category.objects.count()
    response = api(world.catalog_op).post("/console/categories", data)
    assert response.status_code == status
    assert error_code(response) == code
    assert Category.objects.count() == before


@pytest.mark.parametrize("who", ["reviewer", "finance", "buyer", "seller"])
def test_category_writes_refused_for_other_roles(world, api, who):
    client = api(getattr(world, who))
    assert client.post("/console/categories", {"name": "越权"}).status_code == 403
    response = client.put(
        f"/console/categories/{world.tree.leaf.pk}", {"name": "越权", "commission_rate_bp": 0}
    )
    assert response.status_code == 403
    world.tree.leaf.refresh_from_db()
    assert world.tree.leaf.commission_rate_bp == 200
    assert not Category.objects.filter(name="越权").exists()


def test_category_update_unknown_is_404(world, api):
    response = api(world.catalog_op).put("/console/categories/999999", {"name": "无"})
    assert response.status_code == 404


# --- products ---------------------------------------------------------------------------------


def test_moderators_list_all_products(world, api):
    body = api(world.catalog_op).get("/console/products").json()
    assert body["count"] == 3
    drafts = api(world.catalog_op).get("/console/products", {"status": "draft"}).json()
    assert [p["title"] for p in drafts["items"]] == ["草稿商品"]
    assert api(world.reviewer).get("/console/products").status_code == 403
    assert api(world.seller).get("/console/products").status_code == 403


def test_take_down_a_product(world, api):
    response = api(world.catalog_op).post(
        f"/console/products/{world.product.pk}/take-down", {"reason": "虚假宣传"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "banned"
    assert response.json()["ban_reason"] == "虚假宣传"
    assert Notification.objects.filter(user=world.seller, kind="product_taken_down").exists()


def test_take_down_refusals(world, api):
    url = f"/console/products/{world.product.pk}/take-down"
    for who in ("reviewer", "finance", "seller", "buyer"):
        assert api(getattr(world, who)).post(url, {"reason": "x"}).status_code == 403
    client = api(world.catalog_op)
    assert error_code(client.post(url, {"reason": ""})) == "field_required"
    assert client.post(url, {}).status_code == 422
    assert client.post("/console/products/999999/take-down", {"reason": "x"}).status_code == 404
    assert Product.objects.get(pk=world.product.pk).status == "listed"


def test_feature_a_product(world, api):
    client = api(world.catalog_op)
    url = f"/console/products/{world.product.pk}/feature"
    assert client.post(url, {"featured": True}).json()["is_featured"] is True
    assert client.post(url, {"featured": False}).json()["is_featured"] is False
    assert client.post(url).status_code == 400  # the JSON body is required


def test_feature_refusals(world, api):
    url = f"/console/products/{world.product.pk}/feature"
    for who in ("reviewer", "finance", "seller", "buyer"):
        assert api(getattr(world, who)).post(url, {"featured": True}).status_code == 403
    assert (
        api(world.admin).post("/console/products/999999/feature", {"featured": True}).status_code
        == 404
    )
    assert Product.objects.get(pk=world.product.pk).is_featured is False
