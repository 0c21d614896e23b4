"""/api/v1/orders: cart, checkout, payment, the buyer's and the seller's orders, the console.

Each endpoint is called by the right user and by the wrong ones (another buyer or shop: 404;
a staff role without the permission: 403). Anonymous calls are covered for every endpoint in
test_api_auth.py.
"""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client

from jishi.accounts.models import PaymentPin
from jishi.accounts.services import address_create
from jishi.core import clock
from jishi.ledger.check import ledger_check
from jishi.ledger.selectors import kind_total
from jishi.orders.models import CartItem, Order, OrderStatus
from jishi.orders.timers import orders_sweep
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.shops.services import staff_create
from tests.trade import conftest as trade_fixtures
from tests.trade.conftest import PIN

from .helpers import API, PASSWORD, ApiClient, error_code

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade


@pytest.fixture
def market(trade, make_buyer, make_shop, make_operator):
    """``trade`` (a shop, SKU ``sku`` at 50 yuan x10 and ``scarce`` at 90 yuan x1, a buyer with
    1,000 yuan) plus a second buyer, the shop's warehouse and service staff, another shop and
    operators."""
    owner = trade.shop.owner
    warehouse = staff_create(
        actor=owner, username=f"wh{trade.shop.pk}", password=PASSWORD, role="warehouse"
    ).user
    service = staff_create(
        actor=owner, username=f"cs{trade.shop.pk}", password=PASSWORD, role="service"
    ).user
    return SimpleNamespace(
        shop=trade.shop,
        sku=trade.sku,
        scarce=trade.scarce,
        buyer=trade.buyer,
        buyer2=make_buyer(),
        owner=owner,
        warehouse=warehouse,
        service=service,
        other_owner=make_shop().owner,
        admin=make_operator("admin"),
        finance=make_operator("finance"),
        catalog_op=make_operator("catalog"),
    )


def checkout(client, buyer, sku, quantity=1, **extra):
    body = {
        "items": [{"sku_id": sku.pk, "quantity": quantity}],
        "address_id": buyer.address.pk,
        **extra,
    }
    response = client.post("/orders/checkout", body)
    assert response.status_code == 201, response.json()
    return response.json()


def placed(market, quantity=1, sku=None):
    """A checkout by market.buyer through the API: (client, group json, order id)."""
    client = ApiClient(market.buyer)
    group = checkout(client, market.buyer, sku or market.sku, quantity)
    return client, group, group["orders"][0]["id"]


def paid(market, quantity=1, sku=None):
    client, group, order_id = placed(market, quantity, sku)
    response = client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    assert response.status_code == 200, response.json()
    return client, group, order_id


def shipped(market, quantity=1):
    client, group, order_id = paid(market, quantity)
    response = ApiClient(market.owner).post(
        f"/orders/seller/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF100"}
    )
    assert response.status_code == 200, response.json()
    return client, group, order_id


# --- cart -------------------------------------------------------------------------------------


def test_cart_add_list_update_remove(market, api):
    client = api(market.buyer)
    response = client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": 2})
    assert response.status_code == 201
    item = response.json()
    assert item["sku_id"] == market.sku.pk
    assert item["quantity"] == 2
    assert item["price_fen"] == 5000
    assert item["shop_id"] == market.shop.pk
    assert item["available"] is True
    again = client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": 1}).json()
    assert again["id"] == item["id"]
    assert again["quantity"] == 3
    body = client.get("/orders/cart").json()
    assert body["count"] == 1
    assert [i["id"] for i in body["items"]] == [item["id"]]
    response = client.patch(f"/orders/cart/{item['id']}", {"quantity": 5})
    assert response.json()["quantity"] == 5
    assert client.delete(f"/orders/cart/{item['id']}").status_code == 204
    assert client.get("/orders/cart").json()["count"] == 0
    assert client.delete(f"/orders/cart/{item['id']}").status_code == 404


def test_cart_items_of_another_buyer_are_404(market, api):
    item = api(market.buyer).post("/orders/cart", {"sku_id": market.sku.pk}).json()
    other = api(market.buyer2)
    assert other.get("/orders/cart").json()["count"] == 0
    response = other.patch(f"/orders/cart/{item['id']}", {"quantity": 2})
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert other.delete(f"/orders/cart/{item['id']}").status_code == 404
    assert CartItem.objects.get(pk=item["id"]).quantity == 1


def test_cart_bad_input(market, api):
    client = api(market.buyer)
    assert client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": 1.5}).status_code == (
        422
    )
    assert client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": "2"}).status_code == (
        422
    )
    response = client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": 0})
    assert response.status_code == 400
    assert error_code(response) == "quantity_invalid"
    response = client.post("/orders/cart", {"sku_id": 9_999_999})
    assert error_code(response) == "sku_unavailable"
    response = api(market.owner).post("/orders/cart", {"sku_id": market.sku.pk})
    assert error_code(response) == "own_shop"


# --- checkout ---------------------------------------------------------------------------------


def test_preview_prices_each_shop_with_its_postage(market, api):
    template = {"default_fee_fen": 800, "province_fees": {"新疆维吾尔自治区": 2000}}
    assert api(market.owner).put("/orders/seller/shipping-template", template).status_code == 200
    client = api(market.buyer)
    body = {"items": [{"sku_id": market.sku.pk, "quantity": 2}], "address_id": None}
    body["address_id"] = market.buyer.address.pk
    plan = client.post("/orders/checkout/preview", body).json()
    assert plan["items_fen"] == 10_000
    assert plan["shipping_fen"] == 800
    assert plan["total_fen"] == 10_800
    [shop] = plan["shops"]
    assert shop["shop_id"] == market.shop.pk
    assert shop["lines"][0]["quantity"] == 2
    assert shop["lines"][0]["stock"] == 10
    far = address_create(
        user=market.buyer,
        recipient="王五",
        phone="13812345678",
        province="新疆维吾尔自治区",
        city="乌鲁木齐市",
        district="天山区",
        detail="人民路 1 号",
    )
    body["address_id"] = far.pk
    assert client.post("/orders/checkout/preview", body).json()["shipping_fen"] == 2000
    assert Order.objects.count() == 0  # a preview places nothing


def test_preview_with_another_users_address_is_refused(market, api):
    body = {"items": [{"sku_id": market.sku.pk, "quantity": 1}], "address_id": None}
    body["address_id"] = market.buyer.address.pk
    response = api(market.buyer2).post("/orders/checkout/preview", body)
    assert response.status_code == 400
    assert error_code(response) == "address_required"


def test_checkout_places_one_order_per_shop_and_takes_stock(market, api, make_shop, make_product):
    shop2 = make_shop()
    other = make_product(shop2, listed=True, skus=[{"specs": {}, "price_fen": 1200, "stock": 3}])
    other_sku = other.skus.get()
    client = api(market.buyer)
    client.post("/orders/cart", {"sku_id": market.sku.pk})
    response = client.post(
        "/orders/checkout",
        {
            "items": [
                {"sku_id": market.sku.pk, "quantity": 2},
                {"sku_id": other_sku.pk, "quantity": 1},
            ],
            "address_id": market.buyer.address.pk,
            "notes": {str(shop2.pk): "请用纸箱"},
            "from_cart": True,
        },
    )
    assert response.status_code == 201
    group = response.json()
    assert group["total_fen"] == 11_200
    assert group["paid_at"] is None
    orders = {o["shop_id"]: o for o in group["orders"]}
    assert orders[market.shop.pk]["total_fen"] == 10_000
    assert orders[market.shop.pk]["status"] == "WAIT_BUYER_PAY"
    assert orders[shop2.pk]["buyer_note"] == "请用纸箱"
    assert orders[shop2.pk]["lines"][0]["unit_price_fen"] == 1200
    market.sku.refresh_from_db()
    assert market.sku.stock == 8
    assert client.get("/orders/cart").json()["count"] == 0
    assert client.get(f"/orders/groups/{group['id']}").json() == group
    assert api(market.buyer2).get(f"/orders/groups/{group['id']}").status_code == 404


def test_checkout_the_whole_cart(market, api):
    client = api(market.buyer)
    client.post("/orders/cart", {"sku_id": market.sku.pk, "quantity": 3})
    response = client.post(
        "/orders/checkout", {"address_id": market.buyer.address.pk, "from_cart": True}
    )
    assert response.status_code == 201
    assert response.json()["orders"][0]["lines"][0]["quantity"] == 3
    assert client.get("/orders/cart").json()["count"] == 0
    response = client.post(
        "/orders/checkout", {"address_id": market.buyer.address.pk, "from_cart": True}
    )
    assert error_code(response) == "cart_empty"


def test_checkout_for_more_than_the_stock_is_409(market, api):
    client = api(market.buyer)
    body = {"items": [{"sku_id": market.scarce.pk, "quantity": 2}], "address_id": None}
    body["address_id"] = market.buyer.address.pk
    response = client.post("/orders/checkout", body)
    assert response.status_code == 409
    assert error_code(response) == "out_of_stock"
    assert response.json()["extra"]["available"] == 1
    assert Order.objects.count() == 0
    market.scarce.refresh_from_db()
    assert market.scarce.stock == 1


def test_the_last_unit_goes_to_one_buyer(market, api):
    checkout(api(market.buyer), market.buyer, market.scarce)
    body = {"items": [{"sku_id": market.scarce.pk, "quantity": 1}], "address_id": None}
    body["address_id"] = market.buyer2.address.pk
    response = api(market.buyer2).post("/orders/checkout", body)
    assert error_code(response) == "out_of_stock"


@pytest.mark.parametrize(
    "items",
    [
        [{"sku_id": 1, "quantity": 1.5}],
        [{"sku_id": 1, "quantity": 2.0}],
        [{"sku_id": "x", "quantity": 1}],
        [{"sku_id": 1, "quantity": "1"}],
        [{"sku_id": 1}],
        "not a list",
    ],
)
def test_checkout_float_or_odd_input_is_422(market, api, items):
    body = {"items": items, "address_id": market.buyer.address.pk}
    response = api(market.buyer).post("/orders/checkout", body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_checkout_with_another_users_address_or_bad_items(market, api):
    client = api(market.buyer)
    body = {"items": [{"sku_id": market.sku.pk, "quantity": 1}], "address_id": None}
    body["address_id"] = market.buyer2.address.pk
    assert error_code(client.post("/orders/checkout", body)) == "address_required"
    body["address_id"] = market.buyer.address.pk
    body["items"] = []
    assert error_code(client.post("/orders/checkout", body)) == "cart_empty"
    body["items"] = [{"sku_id": market.sku.pk, "quantity": 10_000}]
    assert error_code(client.post("/orders/checkout", body)) == "quantity_invalid"
    assert Order.objects.count() == 0


# --- payment ----------------------------------------------------------------------------------


def test_pay_moves_the_money_into_escrow(market):
    client, group, _order_id = placed(market, quantity=2)
    response = client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    assert response.status_code == 200
    body = response.json()
    assert body["paid_at"] is not None
    assert body["orders"][0]["status"] == "WAIT_SELLER_SEND_GOODS"
    assert body["orders"][0]["ship_deadline"] is not None
    assert wallet_balance(user_id=market.buyer.pk).balance_fen == 90_000
    assert shop_money(shop_id=market.shop.pk).pending_fen == 10_000
    assert ledger_check().ok


def test_paying_twice_is_409_already_paid(market):
    client, group, _order_id = paid(market)
    response = client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    assert response.status_code == 409
    assert error_code(response) == "already_paid"
    assert wallet_balance(user_id=market.buyer.pk).balance_fen == 95_000


def test_paying_another_buyers_checkout_is_404(market, api):
    _client, group, _order_id = placed(market)
    response = api(market.buyer2).post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    assert response.status_code == 404
    assert wallet_balance(user_id=market.buyer2.pk).balance_fen == 100_000
    assert Order.objects.get().status == OrderStatus.WAIT_BUYER_PAY


def test_wrong_pin_counts_down_then_locks(market):
    client, group, _order_id = placed(market)
    url = f"/orders/groups/{group['id']}/pay"
    first = client.post(url, {"pin": "000000"})
    assert first.status_code == 400
    assert error_code(first) == "pin_wrong"
    assert first.json()["extra"]["attempts_left"] == 2
    assert client.post(url, {"pin": "000000"}).json()["extra"]["attempts_left"] == 1
    locked = client.post(url, {"pin": "000000"})
    assert locked.status_code == 423
    assert error_code(locked) == "pin_locked"
    still = client.post(url, {"pin": PIN})  # even the right PIN, while locked
    assert still.status_code == 423
    assert wallet_balance(user_id=market.buyer.pk).balance_fen == 100_000
    assert Order.objects.get().status == OrderStatus.WAIT_BUYER_PAY


def test_paying_more_than_the_wallet_holds(market, make_buyer, api):
    poor = make_buyer(balance_fen=1000)
    client = api(poor)
    group = checkout(client, poor, market.sku)
    response = client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    assert response.status_code == 400
    assert error_code(response) == "insufficient_funds"
    assert Order.objects.get().status == OrderStatus.WAIT_BUYER_PAY
    assert wallet_balance(user_id=poor.pk).balance_fen == 1000


def test_pay_bad_input(market):
    client, group, _order_id = placed(market)
    url = f"/orders/groups/{group['id']}/pay"
    assert client.post(url, {"pin": 135790}).status_code == 422
    assert client.post(url, {}).status_code == 422
    assert client.post("/orders/groups/999999/pay", {"pin": PIN}).status_code == 404


# --- buyer orders -----------------------------------------------------------------------------


def test_buyer_lists_and_reads_own_orders_only(market, api):
    _client, _group, unpaid_id = placed(market)
    client, _group, paid_id = paid(market)
    body = client.get("/orders").json()
    assert body["count"] == 2
    assert [o["id"] for o in body["items"]] == [paid_id, unpaid_id]
    assert "seller_memo" not in body["items"][0]
    only = client.get("/orders", {"status": "WAIT_BUYER_PAY"}).json()
    assert [o["id"] for o in only["items"]] == [unpaid_id]
    assert client.get("/orders", {"status": "NOPE"}).status_code == 422
    detail = client.get(f"/orders/{paid_id}").json()
    assert detail["status_label"]
    assert detail["lines"][0]["sku_id"] == market.sku.pk
    other = api(market.buyer2)
    assert other.get("/orders").json()["count"] == 0
    assert other.get(f"/orders/{paid_id}").status_code == 404


def test_cancel_an_unpaid_order(market, api):
    client, _group, order_id = placed(market, sku=market.scarce)
    assert api(market.buyer2).post(f"/orders/{order_id}/cancel").status_code == 404
    response = client.post(f"/orders/{order_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "TRADE_CLOSED_BY_SYSTEM"
    assert response.json()["close_reason"] == "buyer_cancelled"
    market.scarce.refresh_from_db()
    assert market.scarce.stock == 1
    again = client.post(f"/orders/{order_id}/cancel")
    assert error_code(again) == "order_status_invalid"


def test_a_paid_order_cannot_be_cancelled(market):
    client, _group, order_id = paid(market)
    response = client.post(f"/orders/{order_id}/cancel")
    assert response.status_code == 400
    assert error_code(response) == "order_status_invalid"


def test_refund_before_shipment(market, api):
    client, _group, order_id = paid(market, quantity=2)
    assert api(market.buyer2).post(f"/orders/{order_id}/refund").status_code == 404
    response = client.post(f"/orders/{order_id}/refund")
    assert response.status_code == 200
    assert response.json()["status"] == "TRADE_CLOSED"
    assert response.json()["refunded_fen"] == 10_000
    assert wallet_balance(user_id=market.buyer.pk).balance_fen == 100_000
    market.sku.refresh_from_db()
    assert market.sku.stock == 10
    again = client.post(f"/orders/{order_id}/refund")
    assert again.status_code == 409
    assert ledger_check().ok


def test_refund_after_shipment_is_refused(market):
    client, _group, order_id = shipped(market)
    response = client.post(f"/orders/{order_id}/refund")
    assert error_code(response) == "order_status_invalid"
    assert shop_money(shop_id=market.shop.pk).pending_fen == 5000


def test_change_the_address_until_shipment(market, api):
    client, _group, order_id = paid(market)
    new = address_create(
        user=market.buyer,
        recipient="赵六",
        phone="13912345678",
        province="江苏省",
        city="南京市",
        district="玄武区",
        detail="中山路 2 号",
    )
    response = client.post(f"/orders/{order_id}/address", {"address_id": new.pk})
    assert response.status_code == 200
    assert response.json()["recipient"] == "赵六"
    assert response.json()["province"] == "江苏省"
    refused = client.post(f"/orders/{order_id}/address", {"address_id": market.buyer2.address.pk})
    assert error_code(refused) == "address_required"
    other = api(market.buyer2).post(
        f"/orders/{order_id}/address", {"address_id": market.buyer2.address.pk}
    )
    assert other.status_code == 404
    api(market.owner).post(
        f"/orders/seller/{order_id}/ship", {"carrier": "EMS", "tracking_no": "E1"}
    )
    late = client.post(f"/orders/{order_id}/address", {"address_id": market.buyer.address.pk})
    assert error_code(late) == "order_status_invalid"


# --- seller -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "warehouse", "service"])
def test_shop_staff_list_and_read_the_shops_orders(market, who, api):
    _client, _group, order_id = paid(market)
    client = api(getattr(market, who))
    body = client.get("/orders/seller").json()
    assert [o["id"] for o in body["items"]] == [order_id]
    assert body["items"][0]["buyer_username"] == market.buyer.username
    detail = client.get(f"/orders/seller/{order_id}").json()
    assert detail["seller_memo"] == ""
    assert detail["commission_fen"] == 0


def test_seller_list_filters(market, api):
    _client, _group, unpaid_id = placed(market)
    _client, _group, paid_id = paid(market)
    client = api(market.owner)
    body = client.get("/orders/seller", {"status": "WAIT_SELLER_SEND_GOODS"}).json()
    assert [o["id"] for o in body["items"]] == [paid_id]
    assert client.get("/orders/seller", {"late": True}).json()["count"] == 0
    clock.advance(timedelta(hours=49))
    orders_sweep()
    late = client.get("/orders/seller", {"late": True}).json()
    assert [o["id"] for o in late["items"]] == [paid_id]
    assert late["items"][0]["late_shipment_at"] is not None
    assert client.get("/orders/seller", {"q": str(paid_id)}).json()["count"] == 1
    assert Order.objects.get(pk=unpaid_id).status == OrderStatus.TRADE_CLOSED_BY_SYSTEM


@pytest.mark.parametrize("who", ["buyer", "other_owner"])
def test_others_cannot_see_the_shops_orders(market, who, api):
    _client, _group, order_id = paid(market)
    client = api(getattr(market, who))
    assert client.get("/orders/seller").status_code in (200, 404)
    assert order_id not in [o["id"] for o in client.get("/orders/seller").json().get("items", [])]
    response = client.get(f"/orders/seller/{order_id}")
    assert response.status_code == 404


def test_warehouse_ships_and_the_buyer_sees_it(market, api):
    client, _group, order_id = paid(market)
    response = api(market.warehouse).post(
        f"/orders/seller/{order_id}/ship", {"carrier": "中通", "tracking_no": "ZT123"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    order = client.get(f"/orders/{order_id}").json()
    assert order["carrier"] == "中通"
    assert order["tracking_no"] == "ZT123"
    assert order["confirm_deadline"] is not None


def test_shipping_needs_the_role_and_the_shop(market, api):
    _client, _group, order_id = paid(market)
    body = {"carrier": "中通", "tracking_no": "ZT123"}
    refused = api(market.service).post(f"/orders/seller/{order_id}/ship", body)
    assert refused.status_code == 403
    assert error_code(refused) == "staff_role_forbidden"
    assert api(market.other_owner).post(f"/orders/seller/{order_id}/ship", body).status_code == (
        404
    )
    assert api(market.buyer).post(f"/orders/seller/{order_id}/ship", body).status_code == 404
    assert Order.objects.get(pk=order_id).status == OrderStatus.WAIT_SELLER_SEND_GOODS


def test_shipping_an_unpaid_order_is_refused(market, api):
    _client, _group, order_id = placed(market)
    response = api(market.owner).post(
        f"/orders/seller/{order_id}/ship", {"carrier": "中通", "tracking_no": "ZT1"}
    )
    assert response.status_code == 400
    assert error_code(response) == "order_status_invalid"


def test_shipping_needs_carrier_and_tracking_number(market, api):
    _client, _group, order_id = paid(market)
    client = api(market.owner)
    response = client.post(f"/orders/seller/{order_id}/ship", {"carrier": "中通"})
    assert response.status_code == 400
    assert "tracking_no" in response.json()["extra"]["fields"]
    assert client.post(f"/orders/seller/{order_id}/ship", {"carrier": 1}).status_code == 422


def test_seller_memo_is_private(market, api):
    client, _group, order_id = paid(market)
    response = api(market.service).post(f"/orders/seller/{order_id}/memo", {"memo": "老客户"})
    assert response.status_code == 200
    assert response.json()["seller_memo"] == "老客户"
    assert "seller_memo" not in client.get(f"/orders/{order_id}").json()
    other = api(market.other_owner).post(f"/orders/seller/{order_id}/memo", {"memo": "x"})
    assert other.status_code == 404
    too_long = api(market.owner).post(f"/orders/seller/{order_id}/memo", {"memo": "长" * 501})
    assert error_code(too_long) == "text_too_long"


def test_shipping_template_get_and_set(market, api):
    client = api(market.owner)
    assert client.get("/orders/seller/shipping-template").json() == {
        "default_fee_fen": 0,
        "province_fees": {},
        "free_over_fen": None,
        "updated_at": None,
    }
    body = {
        "default_fee_fen": 1000,
        "province_fees": {"西藏自治区": 3000},
        "free_over_fen": 9900,
    }
    response = client.put("/orders/seller/shipping-template", body)
    assert response.status_code == 200
    assert response.json()["province_fees"] == {"西藏自治区": 3000}
    assert client.get("/orders/seller/shipping-template").json()["free_over_fen"] == 9900
    bad = client.put("/orders/seller/shipping-template", {**body, "province_fees": {"火星": 1}})
    assert error_code(bad) == "shipping_invalid"
    assert client.put(
        "/orders/seller/shipping-template", {**body, "default_fee_fen": 10.5}
    ).status_code == (422)
    refused = api(market.warehouse).put("/orders/seller/shipping-template", body)
    assert refused.status_code == 403
    assert api(market.buyer).get("/orders/seller/shipping-template").status_code == 404


# --- receipt ----------------------------------------------------------------------------------


def test_confirm_receipt_releases_the_money(market, api):
    client, _group, order_id = shipped(market, quantity=2)
    response = client.post(f"/orders/{order_id}/confirm", {"pin": PIN})
    assert response.status_code == 200
    assert response.json()["status"] == "TRADE_FINISHED"
    assert shop_money(shop_id=market.shop.pk).available_fen == 9_800
    assert kind_total("platform_commission") == 200
    seller_view = api(market.owner).get(f"/orders/seller/{order_id}").json()
    assert seller_view["commission_fen"] == 200
    assert seller_view["released_fen"] == 9_800
    again = client.post(f"/orders/{order_id}/confirm", {"pin": PIN})
    assert again.status_code == 409
    assert ledger_check().ok


def test_confirming_someone_elses_order_is_404(market, api):
    _client, _group, order_id = shipped(market)
    response = api(market.buyer2).post(f"/orders/{order_id}/confirm", {"pin": PIN})
    assert response.status_code == 404
    assert api(market.owner).post(f"/orders/{order_id}/confirm", {"pin": PIN}).status_code == 404
    assert Order.objects.get(pk=order_id).status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS


def test_confirm_before_shipment_or_with_a_wrong_pin(market):
    client, _group, order_id = paid(market)
    response = client.post(f"/orders/{order_id}/confirm", {"pin": PIN})
    assert error_code(response) == "order_status_invalid"
    wrong = client.post(f"/orders/{order_id}/confirm", {"pin": "999999"})
    assert error_code(wrong) == "pin_wrong"
    assert wrong.json()["extra"]["attempts_left"] == 2


def test_extend_receipt_once_near_the_deadline(market, api):
    client, _group, order_id = shipped(market)
    early = client.post(f"/orders/{order_id}/extend-receipt")
    assert error_code(early) == "extend_not_allowed"
    before = client.get(f"/orders/{order_id}").json()["confirm_deadline"]
    clock.advance(timedelta(days=8))
    assert api(market.buyer2).post(f"/orders/{order_id}/extend-receipt").status_code == 404
    response = client.post(f"/orders/{order_id}/extend-receipt")
    assert response.status_code == 200
    assert response.json()["receipt_extended"] is True
    assert response.json()["confirm_deadline"] > before
    assert error_code(client.post(f"/orders/{order_id}/extend-receipt")) == "extend_not_allowed"


# --- console ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "finance", "catalog_op"])
def test_operators_see_any_order_with_its_transfers(market, who, api):
    client, _group, order_id = shipped(market)
    client.post(f"/orders/{order_id}/confirm", {"pin": PIN})
    response = api(getattr(market, who)).get(f"/orders/console/{order_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["buyer_username"] == market.buyer.username
    assert body["shop_name"] == market.shop.name
    kinds = [t["kind"] for t in body["transfers"]]
    assert kinds == ["payment", "release", "commission"]
    assert sum(t["amount_fen"] for t in body["transfers"][1:]) == body["transfers"][0]["amount_fen"]
    assert body["transfers"][0]["credit_account"] == f"escrow:order:{order_id}"


@pytest.mark.parametrize("who", ["buyer", "owner"])
def test_non_operators_cannot_use_the_console(market, who, api):
    _client, _group, order_id = paid(market)
    response = api(getattr(market, who)).get(f"/orders/console/{order_id}")
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def test_console_unknown_order_is_404(market, api):
    assert api(market.admin).get("/orders/console/999999").status_code == 404


# --- hostile input ----------------------------------------------------------------------------


def test_hostile_values_never_cause_a_500(market, api):
    """Valid trade requests with one value swapped for something hostile get a 4xx."""

    from .test_api_fuzz import assert_bodies_never_500

    buyer, owner = api(market.buyer), api(market.owner)
    item = buyer.post("/orders/cart", {"sku_id": market.sku.pk}).json()
    _client, group, order_id = paid(market)
    address_id = market.buyer.address.pk
    checkout_body = {
        "items": [{"sku_id": market.sku.pk, "quantity": 1}],
        "address_id": address_id,
        "notes": {str(market.shop.pk): "note"},
        "from_cart": False,
    }
    requests = [
        (buyer, "post", "/orders/cart", {"sku_id": market.sku.pk, "quantity": 1}),
        (buyer, "patch", f"/orders/cart/{item['id']}", {"quantity": 2}),
        (buyer, "post", "/orders/checkout/preview", checkout_body),
        (buyer, "post", "/orders/checkout", checkout_body),
        (buyer, "post", f"/orders/groups/{group['id']}/pay", {"pin": "000001"}),
        (buyer, "post", f"/orders/{order_id}/confirm", {"pin": "000001"}),
        (buyer, "post", f"/orders/{order_id}/address", {"address_id": address_id}),
        (owner, "post", f"/orders/seller/{order_id}/memo", {"memo": "m"}),
        (
            owner,
            "put",
            "/orders/seller/shipping-template",
            {"default_fee_fen": 100, "province_fees": {"西藏自治区": 300}, "free_over_fen": 9900},
        ),
        (buyer, "post", "/payments/topups", {"amount_fen": 100, "channel": "sandbox"}),
        (owner, "post", "/payments/withdrawals", {"amount_fen": 100, "pin": "000001"}),
    ]

    assert_bodies_never_500(
        requests,
        max_examples=300,
        after_each=lambda: PaymentPin.objects.update(failed_attempts=0, locked_until=None),
    )


def test_hostile_query_parameters_and_callbacks_never_cause_a_500(market, api):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    client = api(market.owner)
    urls = ["/orders", "/orders/seller", "/orders/cart", "/payments/withdrawals"]
    names = ["status", "late", "q", "source", "limit", "offset"]
    text = st.one_of(st.text(max_size=20), st.sampled_from(["\x00", "-1", "1" * 30, "true"]))

    @hsettings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(urls),
        st.dictionaries(st.sampled_from(names), text, max_size=3),
        st.binary(max_size=200),
        st.text(max_size=80),
    )
    def check(url, params, body, signature):
        assert client.get(url, params).status_code < 500
        response = Client().post(
            f"{API}/payments/callbacks/sandbox",
            data=body,
            content_type="application/json",
            headers={"X-Sandbox-Signature": signature},
        )
        assert response.status_code == 400

    check()
