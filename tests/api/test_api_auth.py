"""Cross-cutting API behaviour: who may call what, CSRF, bearer tokens, the error format,
paging caps, hostile input and the OpenAPI document."""

import re

import pytest
from django.test import Client

from jishi.accounts.notifications import notify

from .helpers import ADDRESS, API, PASSWORD, ApiClient, error_code

# Every operation that needs a logged-in user: (method, path with ids filled in).
AUTHENTICATED = [
    ("post", "/accounts/logout"),
    ("get", "/accounts/me"),
    ("post", "/accounts/password"),
    ("post", "/accounts/payment-pin"),
    ("post", "/accounts/payment-pin/verify"),
    ("get", "/accounts/addresses"),
    ("post", "/accounts/addresses"),
    ("put", "/accounts/addresses/1"),
    ("delete", "/accounts/addresses/1"),
    ("post", "/accounts/addresses/1/default"),
    ("get", "/accounts/notifications"),
    ("post", "/accounts/notifications/read"),
    ("get", "/accounts/verification"),
    ("post", "/accounts/verification"),
    ("get", "/accounts/bank-card"),
    ("post", "/accounts/bank-card"),
    ("get", "/accounts/tokens"),
    ("post", "/accounts/tokens"),
    ("delete", "/accounts/tokens/1"),
    ("post", "/shops"),
    ("get", "/shops/mine"),
    ("patch", "/shops/mine"),
    ("post", "/shops/mine/logo"),
    ("get", "/shops/mine/staff"),
    ("post", "/shops/mine/staff"),
    ("patch", "/shops/mine/staff/1"),
    ("get", "/catalog/seller/products"),
    ("post", "/catalog/seller/products"),
    ("get", "/catalog/seller/products/1"),
    ("put", "/catalog/seller/products/1"),
    ("post", "/catalog/seller/products/1/list"),
    ("post", "/catalog/seller/products/1/unlist"),
    ("post", "/catalog/seller/products/1/images"),
    ("delete", "/catalog/seller/products/1/images/1"),
    ("put", "/catalog/seller/skus/1/stock"),
    ("get", "/console/verifications"),
    ("post", "/console/verifications/1/decide"),
    ("get", "/console/categories"),
    ("post", "/console/categories"),
    ("put", "/console/categories/1"),
    ("get", "/console/products"),
    ("post", "/console/products/1/take-down"),
    ("post", "/console/products/1/feature"),
    ("get", "/orders/cart"),
    ("post", "/orders/cart"),
    ("patch", "/orders/cart/1"),
    ("delete", "/orders/cart/1"),
    ("post", "/orders/checkout/preview"),
    ("post", "/orders/checkout"),
    ("get", "/orders/groups/1"),
    ("post", "/orders/groups/1/pay"),
    ("get", "/orders"),
    ("get", "/orders/1"),
    ("post", "/orders/1/cancel"),
    ("post", "/orders/1/confirm"),
    ("post", "/orders/1/extend-receipt"),
    ("post", "/orders/1/refund"),
    ("post", "/orders/1/address"),
    ("get", "/orders/seller"),
    ("get", "/orders/seller/1"),
    ("post", "/orders/seller/1/ship"),
    ("post", "/orders/seller/1/memo"),
    ("get", "/orders/seller/shipping-template"),
    ("put", "/orders/seller/shipping-template"),
    ("get", "/orders/console/1"),
    ("get", "/payments/wallet"),
    ("get", "/payments/wallet/statement"),
    ("post", "/payments/topups"),
    ("get", "/payments/topups/1"),
    ("post", "/payments/withdrawals"),
    ("get", "/payments/withdrawals"),
    ("get", "/payments/shop/balance"),
    ("get", "/payments/shop/statement"),
    ("get", "/ledger/check"),
    ("get", "/ledger/accounts"),
    ("get", "/aftersales/cases"),
    ("post", "/aftersales/cases"),
    ("get", "/aftersales/orders/1/lines/1/options"),
    ("get", "/aftersales/cases/1"),
    ("post", "/aftersales/cases/1/revise"),
    ("post", "/aftersales/cases/1/cancel"),
    ("post", "/aftersales/cases/1/return-shipment"),
    ("post", "/aftersales/cases/1/messages"),
    ("post", "/aftersales/cases/1/images"),
    ("post", "/aftersales/cases/1/dispute"),
    ("post", "/aftersales/cases/1/dispute/withdraw"),
    ("get", "/aftersales/seller/cases"),
    ("get", "/aftersales/seller/case-counts"),
    ("get", "/aftersales/seller/cases/1"),
    ("post", "/aftersales/seller/cases/1/agree"),
    ("post", "/aftersales/seller/cases/1/refuse"),
    ("post", "/aftersales/seller/cases/1/goods-confirm"),
    ("post", "/aftersales/seller/cases/1/goods-refuse"),
    ("get", "/aftersales/seller/violations"),
    ("get", "/aftersales/seller/debts"),
    ("post", "/aftersales/seller/deposit"),
    ("get", "/aftersales/console/disputes"),
    ("get", "/aftersales/console/dispute-counts"),
    ("get", "/aftersales/console/disputes/1"),
    ("post", "/aftersales/console/disputes/1/take"),
    ("post", "/aftersales/console/disputes/1/rule"),
    ("post", "/aftersales/console/orders/1/advance"),
    ("get", "/aftersales/console/violations"),
    ("post", "/aftersales/console/violations"),
    ("get", "/ratings/orders/1"),
    ("post", "/ratings/orders/1"),
    ("post", "/ratings/orders/1/with-images"),
    ("get", "/ratings/mine"),
    ("get", "/ratings/about-me"),
    ("get", "/ratings/about-me/summary"),
    ("get", "/ratings/to-rate"),
    ("post", "/ratings/1/change"),
    ("post", "/ratings/1/followup"),
    ("post", "/ratings/1/followup/with-images"),
    ("get", "/ratings/seller/ratings"),
    ("get", "/ratings/seller/to-rate"),
    ("get", "/ratings/seller/orders/1"),
    ("post", "/ratings/seller/orders/1"),
    ("post", "/ratings/seller/ratings/1/reply"),
    ("post", "/ratings/seller/ratings/1/change"),
    ("get", "/ratings/seller/quality"),
    ("get", "/ratings/console/reviews"),
    ("get", "/ratings/console/review-counts"),
    ("get", "/ratings/console/ratings/1"),
    ("post", "/ratings/console/ratings/1/review"),
    ("get", "/ratings/console/buyer-ratings"),
]

PUBLIC = [
    ("post", "/accounts/register"),
    ("get", "/accounts/csrf"),
    ("post", "/accounts/login"),
    ("get", "/shops"),
    ("get", "/shops/1"),
    ("get", "/catalog/categories"),
    ("get", "/catalog/products"),
    ("get", "/catalog/products/1"),
    ("get", "/ratings/shops/1/summary"),
    ("get", "/ratings/shops/1/reviews"),
    ("get", "/ratings/products/1/reviews"),
    ("get", "/ratings/products/1/review-counts"),
    ("post", "/payments/callbacks/{}"),  # a channel's name, e.g. sandbox
]


def _template(path: str) -> str:
    """/accounts/addresses/1 -> the OpenAPI path with its {placeholders}."""
    return re.sub(r"/\d+(?=/|$)", "/{}", path)


def test_openapi_lists_every_endpoint_and_the_lists_above_cover_them(db):
    response = Client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Jishi API"
    operations = {}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            generic = re.sub(r"\{[^}]+\}", "{}", path.removeprefix(API))
            operations[(method, generic)] = bool(operation.get("security"))
    expected = {(m, _template(p)): True for m, p in AUTHENTICATED}
    expected |= {(m, _template(p)): False for m, p in PUBLIC}
    assert operations == expected
    for path in [
        "/accounts/register",
        "/accounts/login",
        "/accounts/payment-pin/verify",
        "/shops/mine/staff",
        "/catalog/seller/products/{product_id}/images",
        "/catalog/seller/skus/{sku_id}/stock",
        "/console/verifications/{verification_id}/decide",
    ]:
        assert f"{API}{path}" in schema["paths"]
    errors = schema["paths"][f"{API}/catalog/seller/products"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "422"} <= set(errors)


def test_docs_page_uses_the_bundled_swagger_ui(db):
    """/api/v1/docs works offline: its scripts and styles come from /static/, not a CDN."""
    client = Client()
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="(/static/ninja/[^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    assert "/static/ninja/swagger-ui.css" in assets
    assert "cdn." not in html and "unpkg" not in html
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"):
        static = client.get(asset)
        assert static.status_code == 200, asset
        assert b"".join(static.streaming_content if static.streaming else [static.content])


def _call(client, method, path, **extra):
    if method == "get":
        return client.get(API + path, **extra)
    return getattr(client, method)(API + path, data="{}", content_type="application/json", **extra)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
def test_anonymous_is_refused_with_401(method, path):
    response = _call(Client(), method, path)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
def test_bad_bearer_token_is_refused_with_401(method, path):
    response = _call(
        Client(), method, path, headers={"Authorization": "Bearer jsk_not-a-real-token"}
    )
    assert response.status_code == 401


def test_session_post_without_csrf_token_is_refused(world):
    client = ApiClient(world.buyer, csrf=True)
    response = client.post("/accounts/addresses", ADDRESS)
    assert response.status_code == 403
    assert world.buyer.addresses.count() == 0


def test_session_post_with_csrf_token_works(world):
    client = ApiClient(world.buyer, csrf=True)
    token = client.get("/accounts/csrf").json()["csrf_token"]
    response = client.client.post(
        f"{API}/accounts/addresses",
        ADDRESS,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201


def test_bearer_token_works_without_csrf(world, api):
    created = api(world.buyer).post("/accounts/tokens", {"password": PASSWORD, "name": "erp"})
    assert created.status_code == 201
    key = created.json()["key"]
    program = ApiClient(csrf=True, token=key)  # no session, CSRF enforced
    assert program.get("/accounts/me").json()["username"] == world.buyer.username
    response = program.post("/accounts/addresses", ADDRESS)
    assert response.status_code == 201
    assert world.buyer.addresses.count() == 1


def test_revoked_token_no_longer_works(world, api):
    owner = api(world.buyer)
    created = owner.post("/accounts/tokens", {"password": PASSWORD, "name": "erp"}).json()
    assert owner.delete(f"/accounts/tokens/{created['id']}").status_code == 204
    response = ApiClient(token=created["key"]).get("/accounts/me")
    assert response.status_code == 401


def test_inactive_user_session_is_refused(world, api):
    from jishi.shops.models import ShopStaff
    from jishi.shops.services import staff_update

    client = api(world.service)
    assert client.get("/accounts/me").status_code == 200
    staff = ShopStaff.objects.get(user=world.service)
    staff_update(actor=world.seller, staff_id=staff.pk, role="service", is_active=False)
    assert client.get("/accounts/me").status_code == 401


# --- paging -----------------------------------------------------------------------------------


def test_limit_above_the_cap_returns_at_most_100(world, api):
    for n in range(105):
        notify(user=world.buyer, kind="api_token_created", params={"name": str(n), "time": ""})
    client = api(world.buyer)
    body = client.get("/accounts/notifications", {"limit": 1000}).json()
    assert body["count"] == 105
    assert len(body["items"]) == 100
    body = client.get("/accounts/notifications", {"limit": 10, "offset": 100}).json()
    assert len(body["items"]) == 5
    default = client.get("/accounts/notifications").json()
    assert len(default["items"]) == 20


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": -1}, {"offset": -1}, {"offset": 10**6}, {"limit": "ten"}]
)
def test_bad_paging_parameters_are_422(world, anon, params):
    response = anon.get("/catalog/products", params)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_public_product_list_pages_are_capped(world, make_product):
    for _ in range(3):
        make_product(world.shop2, category=world.tree.leaf, listed=True)
    body = ApiClient().get("/catalog/products", {"limit": 500}).json()
    assert body["count"] == 5
    assert len(body["items"]) == 5


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "product_id", ["9223372036854775808", "99999999999999999999999", "0", "-1", "abc", "1.5"]
)
def test_odd_ids_are_422_not_500(world, anon, product_id):
    response = anon.get(f"/catalog/products/{product_id}")
    assert response.status_code in (404, 422)
    assert error_code(response) in ("validation_error", "not_found")


def test_largest_id_is_a_plain_404(world, anon):
    response = anon.get("/catalog/products/9223372036854775807")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_nul_character_in_text_is_422(world, api, anon):
    assert anon.get("/catalog/products", {"q": "茶\x00"}).status_code == 422
    response = api(world.buyer).post("/accounts/addresses", {**ADDRESS, "detail": "a\x00b"})
    assert response.status_code == 422
    assert "detail" in response.json()["extra"]["fields"]


def test_malformed_json_is_a_4xx(world, api):
    client = api(world.buyer)
    response = client.client.post(
        f"{API}/accounts/addresses", data="{not json", content_type="application/json"
    )
    assert 400 <= response.status_code < 500


def test_wrong_json_types_are_422(world, api):
    client = api(world.buyer)
    response = client.post("/accounts/addresses", {**ADDRESS, "phone": 13812345678})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    response = client.post("/accounts/addresses", ["not", "an", "object"])
    assert response.status_code == 422


def test_422_field_messages_are_translated_and_keep_the_pydantic_type(world, api):
    client = api(world.buyer)
    response = client.post(
        "/accounts/addresses", {**ADDRESS, "phone": 13812345678, "city": None, "detail": "a\x00b"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "输入内容无效。"
    fields, types = body["extra"]["fields"], body["extra"]["types"]
    assert fields["phone"] == "请输入文字。" and types["phone"] == "string_type"
    assert fields["city"] == "请输入文字。"
    assert fields["detail"] == "文本中包含 NUL 字符。" and types["detail"] == "value_error"
    missing = {k: v for k, v in ADDRESS.items() if k != "recipient"}
    body = client.post("/accounts/addresses", missing).json()
    assert body["extra"]["fields"] == {"recipient": "此项为必填项。"}
    assert body["extra"]["types"] == {"recipient": "missing"}


@pytest.mark.parametrize(
    ("params", "field", "message", "kind"),
    [
        ({"limit": "ten"}, "limit", "请输入整数。", "int_parsing"),
        ({"limit": 0}, "limit", "不能小于 1。", "greater_than_equal"),
        ({"offset": 10**6}, "offset", "不能大于 10000。", "less_than_equal"),
        (
            {"sort": "random"},
            "sort",
            "请从以下选项中选择：new / price_asc / price_desc / sales。",
            "literal_error",
        ),
    ],
)
def test_422_messages_fill_in_the_limits(world, anon, params, field, message, kind):
    body = anon.get("/catalog/products", params).json()
    assert body["extra"]["fields"] == {field: message}
    assert body["extra"]["types"] == {field: kind}


def test_422_messages_in_english(world, anon):
    client = Client()
    body = client.get(
        f"{API}/catalog/products", {"limit": 0}, headers={"Accept-Language": "en"}
    ).json()
    assert body["message"] == "The input is not valid."
    assert body["extra"]["fields"] == {"limit": "Enter a value of at least 1."}


def test_unknown_api_url_is_a_json_404(db):
    response = Client().get(f"{API}/no/such/endpoint")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "未找到。", "extra": {}}
    assert Client().get("/api/v2/anything").json()["code"] == "not_found"
