"""Idempotency-Key on the money-moving API calls (jishi.core.idempotency): a replay returns the
first answer and moves no money twice; a reused key with another request is refused; PIN
refusals leave the key free; a twin running at the same time cannot run too."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory

from jishi.accounts.models import PaymentPin
from jishi.accounts.services import payment_pin_set
from jishi.catalog.services import sku_stock_set
from jishi.core import clock
from jishi.core.idempotency import (
    IN_PROGRESS_STALE_SECONDS,
    idempotency_prune,
    request_hash,
)
from jishi.core.models import IdempotentRequest
from jishi.core.outbox import outbox_drain
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.ledger.selectors import kind_total
from jishi.orders.models import Order, OrderGroup, OrderStatus
from jishi.payments.models import TopUp, Withdrawal
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade import conftest as trade_fixtures
from tests.trade.conftest import PIN, fund

from .helpers import API, ApiClient, error_code

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade


def post(client: ApiClient, path: str, data=None, key: str | None = None):
    headers = {**client.headers}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.client.post(
        API + path,
        data=json.dumps(data if data is not None else {}),
        content_type="application/json",
        headers=headers,
    )


def place(client: ApiClient, buyer, sku, quantity: int = 1, key: str | None = None):
    body = {"items": [{"sku_id": sku.pk, "quantity": quantity}], "address_id": buyer.address.pk}
    return post(client, "/orders/checkout", body, key=key)


def placed_group(trade, quantity: int = 1, sku=None):
    client = ApiClient(trade.buyer)
    response = place(client, trade.buyer, sku or trade.sku, quantity)
    assert response.status_code == 201, response.json()
    return client, response.json()


def wallet(user) -> int:
    return wallet_balance(user_id=user.pk).balance_fen


# --- replays ----------------------------------------------------------------------------------


def test_pay_replay_returns_the_same_answer_and_pays_once(trade):
    client, group = placed_group(trade, quantity=2)
    url = f"/orders/groups/{group['id']}/pay"
    first = post(client, url, {"pin": PIN}, key="pay-1")
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    replay = post(client, url, {"pin": PIN}, key="pay-1")
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.headers["Content-Type"] == first.headers["Content-Type"]
    assert wallet(trade.buyer) == 90_000
    assert Transfer.objects.filter(kind="payment").count() == 1
    without_key = post(client, url, {"pin": PIN})
    assert error_code(without_key) == "already_paid"
    other_key = post(client, url, {"pin": PIN}, key="pay-2")
    assert error_code(other_key) == "already_paid"
    assert wallet(trade.buyer) == 90_000
    assert ledger_check().ok


def test_checkout_replay_places_one_group(trade):
    client = ApiClient(trade.buyer)
    first = place(client, trade.buyer, trade.sku, 3, key="cart-7")
    replay = place(client, trade.buyer, trade.sku, 3, key="cart-7")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    group = OrderGroup.objects.get()
    assert group.idempotency_key == f"{trade.buyer.pk}:cart-7"
    trade.sku.refresh_from_db()
    assert trade.sku.stock == 7


def test_a_128_character_key_works_and_fits_the_services_columns(trade):
    key = "k" * 128
    client = ApiClient(trade.buyer)
    first = place(client, trade.buyer, trade.sku, key=key)
    assert first.status_code == 201
    group = OrderGroup.objects.get()
    assert len(group.idempotency_key) <= 128
    paid = post(client, f"/orders/groups/{group.pk}/pay", {"pin": PIN}, key=key)
    assert error_code(paid) == "idempotency_key_reused"  # the key belongs to the checkout
    assert place(client, trade.buyer, trade.sku, key=key).json() == first.json()


def test_topup_and_withdrawal_replays(make_verified_seller, api):
    user = make_verified_seller()
    payment_pin_set(user=user, password=user.raw_password, pin=PIN)
    fund(user, 50_000)
    client = api(user)
    topup = post(client, "/payments/topups", {"amount_fen": 1000}, key="t1")
    assert post(client, "/payments/topups", {"amount_fen": 1000}, key="t1").json() == topup.json()
    assert TopUp.objects.filter(user=user).count() == 2  # the fund() one and this one
    body = {"amount_fen": 20_000, "pin": PIN}
    first = post(client, "/payments/withdrawals", body, key="w1")
    assert first.status_code == 201
    replay = post(client, "/payments/withdrawals", body, key="w1")
    assert replay.json() == first.json()
    assert Withdrawal.objects.count() == 1
    assert Transfer.objects.filter(kind="withdrawal").count() == 1
    assert wallet_balance(user_id=user.pk).available_fen == 30_000
    outbox_drain()
    assert post(client, "/payments/withdrawals", body, key="w1").json()["status"] == "pending"
    assert wallet(user) == 30_000
    assert ledger_check().ok


# --- refused keys -----------------------------------------------------------------------------


def test_same_key_with_another_body_or_endpoint_is_409(trade):
    client, group = placed_group(trade)
    url = f"/orders/groups/{group['id']}/pay"
    assert post(client, url, {"pin": PIN}, key="k").status_code == 200
    response = post(client, url, {"pin": "123456"}, key="k")
    assert response.status_code == 409
    assert error_code(response) == "idempotency_key_reused"
    order_id = group["orders"][0]["id"]
    elsewhere = post(client, f"/orders/{order_id}/refund", key="k")
    assert error_code(elsewhere) == "idempotency_key_reused"
    assert Order.objects.get().status == OrderStatus.WAIT_SELLER_SEND_GOODS


def test_keys_belong_to_each_user(trade, make_buyer):
    other = make_buyer()
    other_client = ApiClient(other)
    mine = place(ApiClient(trade.buyer), trade.buyer, trade.sku, key="same")
    theirs = place(other_client, other, trade.sku, key="same")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


@pytest.mark.parametrize("key", ["", "x" * 129, "clé", "tab\there", "line\n"])
def test_malformed_keys_are_400(trade, key):
    client = ApiClient(trade.buyer)
    response = place(client, trade.buyer, trade.sku, key=key)
    assert response.status_code == 400
    assert error_code(response) == "idempotency_key_invalid"
    assert Order.objects.count() == 0


def test_anonymous_with_a_key_is_401(db):
    response = post(ApiClient(), "/orders/groups/1/pay", {"pin": PIN}, key="a")
    assert response.status_code == 401
    assert IdempotentRequest.objects.count() == 0


def test_invalid_input_does_not_take_the_key(trade):
    client = ApiClient(trade.buyer)
    body = {"items": [{"sku_id": trade.sku.pk, "quantity": 1.5}], "address_id": 1}
    assert post(client, "/orders/checkout", body, key="c").status_code == 422
    assert place(client, trade.buyer, trade.sku, key="c").status_code == 201


# --- what is stored ---------------------------------------------------------------------------


def test_wrong_pin_is_not_stored_and_every_attempt_counts(trade):
    client, group = placed_group(trade)
    url = f"/orders/groups/{group['id']}/pay"
    first = post(client, url, {"pin": "000000"}, key="p")
    assert first.json()["extra"]["attempts_left"] == 2
    again = post(client, url, {"pin": "000000"}, key="p")  # not a replay: a new attempt
    assert again.json()["extra"]["attempts_left"] == 1
    assert "Idempotent-Replayed" not in again.headers
    right = post(client, url, {"pin": PIN}, key="p")  # same key, corrected PIN
    assert right.status_code == 200
    assert post(client, url, {"pin": PIN}, key="p").headers["Idempotent-Replayed"] == "true"
    assert wallet(trade.buyer) == 95_000


def test_a_pin_lock_is_not_stored(trade):
    client, group = placed_group(trade)
    url = f"/orders/groups/{group['id']}/pay"
    for _ in range(3):
        post(client, url, {"pin": "000000"}, key="lock")
    locked = post(client, url, {"pin": PIN}, key="lock")
    assert locked.status_code == 423
    assert PaymentPin.objects.get(user=trade.buyer).locked_until is not None
    assert not IdempotentRequest.objects.filter(key="lock").exists()
    clock.advance(timedelta(hours=3, seconds=1))
    assert post(client, url, {"pin": PIN}, key="lock").status_code == 200
    assert wallet(trade.buyer) == 95_000


def test_a_refusal_from_the_service_is_stored(trade):
    client = ApiClient(trade.buyer)
    first = place(client, trade.buyer, trade.scarce, 2, key="big")
    assert first.status_code == 409
    assert error_code(first) == "out_of_stock"
    sku_stock_set(actor=trade.shop.owner, sku_id=trade.scarce.pk, stock=5)
    replay = place(client, trade.buyer, trade.scarce, 2, key="big")
    assert replay.status_code == 409
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert place(client, trade.buyer, trade.scarce, 2, key="big-2").status_code == 201


def test_an_unexpected_error_frees_the_key(trade, monkeypatch):
    from jishi.orders import services

    client, group = placed_group(trade)
    url = f"/orders/groups/{group['id']}/pay"
    real = services.group_pay

    def broken(**kwargs):
        real(**kwargs)  # the money moves, then something fails: all of it must roll back
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "group_pay", broken)
    with pytest.raises(RuntimeError):
        post(client, url, {"pin": PIN}, key="boom")
    assert not IdempotentRequest.objects.filter(key="boom").exists()
    assert wallet(trade.buyer) == 100_000
    monkeypatch.setattr(services, "group_pay", real)
    assert post(client, url, {"pin": PIN}, key="boom").status_code == 200
    assert wallet(trade.buyer) == 95_000
    assert ledger_check().ok


def _running_twin(user, path: str, body: dict, key: str, operation: str) -> IdempotentRequest:
    """The row a first request leaves while it is still running (or after it was killed)."""
    request = RequestFactory().post(
        API + path, data=json.dumps(body), content_type="application/json"
    )
    return IdempotentRequest.objects.create(
        user=user, key=key, operation=operation, request_hash=request_hash(request)
    )


def test_a_twin_in_progress_is_409_and_a_stale_one_is_taken_over(trade):
    client, group = placed_group(trade)
    path = f"/orders/groups/{group['id']}/pay"
    _running_twin(trade.buyer, path, {"pin": PIN}, "twin", "order.group_pay")
    response = post(client, path, {"pin": PIN}, key="twin")
    assert response.status_code == 409
    assert error_code(response) == "idempotency_in_progress"
    assert wallet(trade.buyer) == 100_000
    clock.advance(timedelta(seconds=IN_PROGRESS_STALE_SECONDS + 1))  # the first was killed
    taken_over = post(client, path, {"pin": PIN}, key="twin")
    assert taken_over.status_code == 200
    assert "Idempotent-Replayed" not in taken_over.headers
    assert post(client, path, {"pin": PIN}, key="twin").headers["Idempotent-Replayed"] == "true"
    assert wallet(trade.buyer) == 95_000


def test_old_keys_are_pruned(trade):
    client, group = placed_group(trade)
    post(client, f"/orders/groups/{group['id']}/pay", {"pin": PIN}, key="old")
    assert idempotency_prune() == 0
    clock.advance(timedelta(days=8))
    assert idempotency_prune() == 1
    assert not IdempotentRequest.objects.exists()


# --- the whole trade through the API ----------------------------------------------------------


def test_scenario_pay_ship_confirm_refund_then_replay_everything(trade):
    """Two orders: A (2 x 50 yuan) is paid, shipped and confirmed; B (1 x 90 yuan) is paid
    and refunded before shipment. Then every money-moving call is replayed with its key."""
    buyer, seller = ApiClient(trade.buyer), ApiClient(trade.shop.owner)
    calls = []

    def once(path, body=None, key=None, expect=200):
        response = post(buyer, path, body, key=key)
        assert response.status_code == expect, response.json()
        calls.append((path, body, key, response))
        return response.json()

    body_a = {"items": [{"sku_id": trade.sku.pk, "quantity": 2}], "address_id": None}
    body_a["address_id"] = trade.buyer.address.pk
    group_a = once("/orders/checkout", body_a, "A-checkout", 201)
    body_b = {"items": [{"sku_id": trade.scarce.pk, "quantity": 1}], "address_id": None}
    body_b["address_id"] = trade.buyer.address.pk
    group_b = once("/orders/checkout", body_b, "B-checkout", 201)
    order_a, order_b = group_a["orders"][0]["id"], group_b["orders"][0]["id"]
    once(f"/orders/groups/{group_a['id']}/pay", {"pin": PIN}, "A-pay")
    once(f"/orders/groups/{group_b['id']}/pay", {"pin": PIN}, "B-pay")
    shipped = seller.post(f"/orders/seller/{order_a}/ship", {"carrier": "顺丰", "tracking_no": "1"})
    assert shipped.status_code == 200
    once(f"/orders/{order_a}/confirm", {"pin": PIN}, "A-confirm")
    once(f"/orders/{order_b}/refund", None, "B-refund")

    def balances():
        return (
            wallet(trade.buyer),
            shop_money(shop_id=trade.shop.pk).available_fen,
            shop_money(shop_id=trade.shop.pk).pending_fen,
            kind_total("platform_commission"),
            kind_total("escrow"),
            kind_total("channel_clearing"),
        )

    # buyer: 1,000 − 100 (A) − 90 (B) + 90 (B refunded); shop: 100 − 2 % commission
    expected = (90_000, 9_800, 0, 200, 0, 100_000)
    assert balances() == expected
    for path, body, key, first in calls:
        replay = post(buyer, path, body, key=key)
        assert replay.status_code == first.status_code
        assert replay.content == first.content
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert balances() == expected
    assert Order.objects.get(pk=order_a).status == OrderStatus.TRADE_FINISHED
    assert Order.objects.get(pk=order_b).status == OrderStatus.TRADE_CLOSED
    assert OrderGroup.objects.count() == 2
    assert Transfer.objects.filter(order_id__in=[order_a, order_b]).count() == 5
    trade.scarce.refresh_from_db()
    assert trade.scarce.stock == 1
    report = ledger_check()
    assert report.ok, report.problems


def test_scenario_cancel_replay(trade):
    client, group = placed_group(trade, sku=trade.scarce)
    order_id = group["orders"][0]["id"]
    first = post(client, f"/orders/{order_id}/cancel", key="cancel")
    replay = post(client, f"/orders/{order_id}/cancel", key="cancel")
    assert first.status_code == replay.status_code == 200
    assert replay.content == first.content
    trade.scarce.refresh_from_db()
    assert trade.scarce.stock == 1


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads need a server database; CI runs this in its PostgreSQL pass",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_twins_run_once(trade, monkeypatch):
    """The first request is held inside the payment; its twin (same key) must not pay too.
    On PostgreSQL the twin is told 409 ``idempotency_in_progress`` at once."""
    from jishi.orders import services

    client, group = placed_group(trade)
    path = f"/orders/groups/{group['id']}/pay"
    inside, release = threading.Event(), threading.Event()
    real = services.group_pay

    def slow(**kwargs):
        inside.set()
        release.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(services, "group_pay", slow)
    results: dict[str, object] = {}

    def call(name):
        try:
            results[name] = post(ApiClient(trade.buyer), path, {"pin": PIN}, key="twins")
        finally:
            connection.close()

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert inside.wait(10)
    twin = threading.Thread(target=call, args=("twin",))
    twin.start()
    twin.join(10)
    release.set()
    first.join(10)
    assert results["first"].status_code == 200
    assert results["twin"].status_code == 409
    assert error_code(results["twin"]) == "idempotency_in_progress"
    replay = post(client, path, {"pin": PIN}, key="twins")
    assert replay.json() == results["first"].json()
    assert wallet(trade.buyer) == 95_000
    assert Transfer.objects.filter(kind="payment").count() == 1
    assert ledger_check().ok
