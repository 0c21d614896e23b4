"""/api/v1/payments: wallet, statement, top-ups, withdrawals, shop balance and the channels'
signed callbacks (the one trade endpoint without a login)."""

import json
from types import SimpleNamespace

import pytest
from django.test import Client

from jishi.accounts.services import payment_pin_set
from jishi.core.outbox import outbox_drain
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.ledger.selectors import kind_total
from jishi.payments.channels import sandbox
from jishi.payments.models import ChannelCallback, TopUp, Withdrawal
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.shops.services import staff_create
from tests.trade import conftest as trade_fixtures
from tests.trade.conftest import PIN, fund

from .helpers import API, PASSWORD, ApiClient, error_code

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade

CALLBACK = f"{API}/payments/callbacks/sandbox"


def send_callback(body: bytes, signature: str | None = None, client: Client | None = None):
    signature = sandbox.sign(body) if signature is None else signature
    return (client or Client()).post(
        CALLBACK,
        data=body,
        content_type="application/json",
        headers={"X-Sandbox-Signature": signature},
    )


def topup_body(topup_id: int, amount_fen: int, status: str = "succeeded") -> bytes:
    return sandbox.event_body(
        kind="topup", reference=topup_id, status=status, amount_fen=amount_fen
    )


@pytest.fixture
def finished(trade, make_buyer):
    """``trade`` after one order of 2 x 50 yuan was paid, shipped and confirmed through the
    API: the shop has 98 yuan available (2 % commission). The owner has a PIN and a card."""
    buyer, owner = trade.buyer, trade.shop.owner
    client = ApiClient(buyer)
    group = client.post(
        "/orders/checkout",
        {"items": [{"sku_id": trade.sku.pk, "quantity": 2}], "address_id": buyer.address.pk},
    ).json()
    order_id = group["orders"][0]["id"]
    assert client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN}).status_code == 200
    ApiClient(owner).post(f"/orders/seller/{order_id}/ship", {"carrier": "EMS", "tracking_no": "1"})
    assert client.post(f"/orders/{order_id}/confirm", {"pin": PIN}).status_code == 200
    warehouse = staff_create(
        actor=owner, username=f"wh{trade.shop.pk}", password=PASSWORD, role="warehouse"
    ).user
    return SimpleNamespace(
        shop=trade.shop, owner=owner, buyer=buyer, warehouse=warehouse, order_id=order_id
    )


# --- wallet -----------------------------------------------------------------------------------


def test_wallet_balance_and_statement(trade, api):
    client = api(trade.buyer)
    assert client.get("/payments/wallet").json() == {
        "balance_fen": 100_000,
        "available_fen": 100_000,
    }
    group = client.post(
        "/orders/checkout",
        {"items": [{"sku_id": trade.sku.pk, "quantity": 1}], "address_id": trade.buyer.address.pk},
    ).json()
    client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN})
    entries = client.get("/payments/wallet/statement").json()
    assert entries["count"] == 2
    payment, topup = entries["items"]
    assert (payment["kind"], payment["amount_fen"]) == ("payment", -5000)
    assert payment["order_id"] == group["orders"][0]["id"]
    assert (topup["kind"], topup["amount_fen"]) == ("topup", 100_000)
    assert topup["label"]
    assert client.get("/payments/wallet").json()["balance_fen"] == 95_000


def test_a_new_user_has_an_empty_wallet(make_user, api):
    client = api(make_user())
    assert client.get("/payments/wallet").json() == {"balance_fen": 0, "available_fen": 0}
    assert client.get("/payments/wallet/statement").json() == {"items": [], "count": 0}


# --- top-ups and callbacks --------------------------------------------------------------------


def test_topup_then_the_signed_callback_credits_once(make_user, api):
    user = make_user()
    client = api(user)
    response = client.post("/payments/topups", {"amount_fen": 20_000})
    assert response.status_code == 201
    topup = response.json()
    assert topup["status"] == "pending"
    assert topup["is_sandbox"] is True
    assert topup["pay_url"].endswith(f"/pay/sandbox/topup/{topup['id']}/")
    body = topup_body(topup["id"], 20_000)
    callback = send_callback(body)
    assert callback.status_code == 200
    assert callback.json() == {"outcome": "top-up credited"}
    assert client.get(f"/payments/topups/{topup['id']}").json()["status"] == "succeeded"
    assert client.get("/payments/wallet").json()["balance_fen"] == 20_000
    replay = send_callback(body)
    assert replay.status_code == 200
    assert replay.json()["outcome"].startswith("duplicate")
    fresh = send_callback(topup_body(topup["id"], 20_000))  # the bank sends it again, new id
    assert fresh.json()["outcome"].startswith("duplicate")
    assert wallet_balance(user_id=user.pk).balance_fen == 20_000
    assert Transfer.objects.filter(kind="topup", credit_account__owner_user_id=user.pk).count() == 1
    assert ledger_check().ok


def test_a_failed_topup_credits_nothing(make_user, api):
    user = make_user()
    topup = api(user).post("/payments/topups", {"amount_fen": 500}).json()
    response = send_callback(topup_body(topup["id"], 500, status="failed"))
    assert response.json() == {"outcome": "top-up failed"}
    assert wallet_balance(user_id=user.pk).balance_fen == 0


@pytest.mark.parametrize("tamper", ["body", "signature", "missing"])
def test_tampered_callback_is_400_and_credits_nothing(make_user, api, tamper):
    user = make_user()
    topup = api(user).post("/payments/topups", {"amount_fen": 5000}).json()
    body = topup_body(topup["id"], 5000)
    if tamper == "body":
        response = send_callback(body.replace(b"5000", b"9000"), signature=sandbox.sign(body))
    elif tamper == "signature":
        response = send_callback(body, signature="0" * 64)
    else:
        response = Client().post(CALLBACK, data=body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "callback_signature_invalid"
    assert wallet_balance(user_id=user.pk).balance_fen == 0
    assert TopUp.objects.get(pk=topup["id"]).status == "pending"
    assert ChannelCallback.objects.filter(valid=False).count() == 1


def test_callback_for_no_topup_of_ours_is_400(db):
    response = send_callback(topup_body(999_999, 100))
    assert response.status_code == 400
    assert error_code(response) == "callback_invalid"


def test_callback_needs_no_login_nor_csrf_and_unknown_channels_are_404(make_user, api):
    user = make_user()
    topup = api(user).post("/payments/topups", {"amount_fen": 700}).json()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)  # a browser session must not make the bank's call need CSRF
    response = send_callback(topup_body(topup["id"], 700), client=strict)
    assert response.status_code == 200
    unknown = Client().post(
        f"{API}/payments/callbacks/paypal", data=b"{}", content_type="application/json"
    )
    assert unknown.status_code == 404
    assert error_code(unknown) == "channel_unknown"


def test_topup_bad_input(make_user, api):
    client = api(make_user())
    assert client.post("/payments/topups", {"amount_fen": 12.5}).status_code == 422
    assert client.post("/payments/topups", {"amount_fen": "100"}).status_code == 422
    response = client.post("/payments/topups", {"amount_fen": 0})
    assert response.status_code == 400
    assert error_code(response) == "amount_invalid"
    assert error_code(client.post("/payments/topups", {"amount_fen": 10**12})) == "amount_invalid"
    unknown = client.post("/payments/topups", {"amount_fen": 100, "channel": "paypal"})
    assert unknown.status_code == 404
    assert error_code(unknown) == "channel_unknown"
    assert TopUp.objects.count() == 0


def test_another_users_topup_is_404(make_user, api):
    topup = api(make_user()).post("/payments/topups", {"amount_fen": 100}).json()
    assert api(make_user()).get(f"/payments/topups/{topup['id']}").status_code == 404


# --- withdrawals ------------------------------------------------------------------------------


@pytest.fixture
def seller(make_verified_seller):
    """A verified user (bank card, PIN) with 1,000 yuan in the wallet."""
    user = make_verified_seller()
    payment_pin_set(user=user, password=user.raw_password, pin=PIN)
    fund(user, 100_000)
    return user


def test_wallet_withdrawal_reserves_then_pays_out(seller, api):
    client = api(seller)
    response = client.post("/payments/withdrawals", {"amount_fen": 30_000, "pin": PIN})
    assert response.status_code == 201
    withdrawal = response.json()
    assert withdrawal["status"] == "pending"
    assert withdrawal["source"] == "wallet"
    assert withdrawal["card_masked"]
    assert client.get("/payments/wallet").json() == {
        "balance_fen": 100_000,
        "available_fen": 70_000,
    }
    outbox_drain()  # the worker submits the payout; the sandbox bank calls back
    assert client.get("/payments/wallet").json() == {
        "balance_fen": 70_000,
        "available_fen": 70_000,
    }
    listed = client.get("/payments/withdrawals").json()
    assert [w["id"] for w in listed["items"]] == [withdrawal["id"]]
    assert listed["items"][0]["status"] == "succeeded"
    withdrawn, _topup = client.get("/payments/wallet/statement").json()["items"]
    assert (withdrawn["kind"], withdrawn["amount_fen"]) == ("withdrawal", -30_000)
    assert withdrawn["outcome"] == "post_pending"
    assert ledger_check().ok


def test_withdrawal_wrong_pin_and_lock(seller, api):
    client = api(seller)
    body = {"amount_fen": 1000, "pin": "000000"}
    first = client.post("/payments/withdrawals", body)
    assert first.status_code == 400
    assert first.json()["extra"]["attempts_left"] == 2
    client.post("/payments/withdrawals", body)
    locked = client.post("/payments/withdrawals", body)
    assert locked.status_code == 423
    assert error_code(locked) == "pin_locked"
    assert Withdrawal.objects.count() == 0
    assert wallet_balance(user_id=seller.pk).available_fen == 100_000


def test_withdrawal_refusals(seller, trade, api):
    client = api(seller)
    too_much = client.post("/payments/withdrawals", {"amount_fen": 200_000, "pin": PIN})
    assert error_code(too_much) == "insufficient_funds"
    assert client.post("/payments/withdrawals", {"amount_fen": 10.0, "pin": PIN}).status_code == (
        422
    )
    assert error_code(client.post("/payments/withdrawals", {"amount_fen": 1, "pin": PIN})) == (
        "amount_invalid"
    )
    bad_source = client.post(
        "/payments/withdrawals", {"amount_fen": 1000, "pin": PIN, "source": "bank"}
    )
    assert bad_source.status_code == 422
    no_card = api(trade.buyer).post("/payments/withdrawals", {"amount_fen": 1000, "pin": PIN})
    assert error_code(no_card) == "no_bank_card"
    not_a_shop = client.post(
        "/payments/withdrawals", {"amount_fen": 1000, "pin": PIN, "source": "shop"}
    )
    assert not_a_shop.status_code == 404
    assert Withdrawal.objects.count() == 0


def test_shop_owner_withdraws_the_available_balance(finished, api):
    client = api(finished.owner)
    assert client.get("/payments/shop/balance").json() == {
        "pending_fen": 0,
        "available_fen": 9_800,
        "withdrawing_fen": 0,
        "withdrawn_fen": 0,
        "deposit_fen": 0,
        "owed_fen": 0,
    }
    too_much = client.post(
        "/payments/withdrawals", {"amount_fen": 9_801, "pin": PIN, "source": "shop"}
    )
    assert error_code(too_much) == "insufficient_funds"
    response = client.post(
        "/payments/withdrawals", {"amount_fen": 5_000, "pin": PIN, "source": "shop"}
    )
    assert response.status_code == 201
    assert response.json()["source"] == "shop"
    assert response.json()["shop_id"] == finished.shop.pk
    assert client.get("/payments/shop/balance").json()["withdrawing_fen"] == 5_000
    outbox_drain()
    money = client.get("/payments/shop/balance").json()
    assert (money["available_fen"], money["withdrawn_fen"]) == (4_800, 5_000)
    shop_list = client.get("/payments/withdrawals", {"source": "shop"}).json()
    assert shop_list["count"] == 1
    assert client.get("/payments/withdrawals").json()["count"] == 0  # the wallet's
    rows = client.get("/payments/shop/statement").json()
    assert rows["count"] == 2
    withdrawal, release = rows["items"]
    assert (withdrawal["kind"], withdrawal["amount_fen"], withdrawal["state"]) == (
        "withdrawal",
        -5_000,
        "paid_out",
    )
    assert (release["kind"], release["amount_fen"], release["order_id"]) == (
        "release",
        9_800,
        finished.order_id,
    )
    assert kind_total("platform_commission") == 200
    assert ledger_check().ok


@pytest.mark.parametrize("who", ["warehouse", "buyer"])
def test_only_the_owner_sees_or_withdraws_shop_money(finished, api, who):
    client = api(getattr(finished, who))
    expected = 403 if who == "warehouse" else 404
    assert client.get("/payments/shop/balance").status_code == expected
    assert client.get("/payments/shop/statement").status_code == expected
    assert client.get("/payments/withdrawals", {"source": "shop"}).status_code == expected
    response = client.post(
        "/payments/withdrawals", {"amount_fen": 1_000, "pin": PIN, "source": "shop"}
    )
    assert response.status_code == expected
    assert shop_money(shop_id=finished.shop.pk).available_fen == 9_800


def test_statement_pages_are_capped(seller, api):
    for _ in range(3):
        fund(seller, 100)
    body = api(seller).get("/payments/wallet/statement", {"limit": 2}).json()
    assert body["count"] == 4
    assert len(body["items"]) == 2
    assert json.dumps(body)  # plain JSON
