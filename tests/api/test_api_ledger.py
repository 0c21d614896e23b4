"""/api/v1/ledger: the reconciliation report and the accounts, for finance operators only."""

import pytest
from django.db.models import F

from jishi.ledger.models import Account
from tests.trade import conftest as trade_fixtures
from tests.trade.conftest import PIN

from .helpers import ApiClient, error_code

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade


@pytest.fixture
def paid_order(trade):
    client = ApiClient(trade.buyer)
    group = client.post(
        "/orders/checkout",
        {"items": [{"sku_id": trade.sku.pk, "quantity": 1}], "address_id": trade.buyer.address.pk},
    ).json()
    assert client.post(f"/orders/groups/{group['id']}/pay", {"pin": PIN}).status_code == 200
    return group["orders"][0]["id"]


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_finance_operators_run_the_check(paid_order, make_operator, api, role):
    body = api(make_operator(role)).get("/ledger/check").json()
    assert body["ok"] is True
    assert body["problems"] == []
    assert body["problem_count"] == 0
    assert body["orders"] == 1
    assert body["transfers"] == 2  # the buyer's top-up and the payment
    assert body["total_debits"] == body["total_credits"]


def test_the_check_reports_drift(paid_order, make_operator, api):
    Account.objects.filter(code=f"escrow:order:{paid_order}").update(
        credits_posted=F("credits_posted") + 1
    )
    body = api(make_operator("finance")).get("/ledger/check").json()
    assert body["ok"] is False
    assert body["problem_count"] == len(body["problems"]) >= 1
    assert any(f"escrow:order:{paid_order}" in p for p in body["problems"])


@pytest.mark.parametrize("role", ["reviewer", "catalog", "arbitrator"])
def test_other_operators_cannot_read_the_ledger(db, make_operator, api, role):
    client = api(make_operator(role))
    for path in ("/ledger/check", "/ledger/accounts"):
        response = client.get(path)
        assert response.status_code == 403
        assert error_code(response) == "forbidden"


def test_buyers_and_sellers_cannot_read_the_ledger(trade, api):
    for user in (trade.buyer, trade.shop.owner):
        assert api(user).get("/ledger/check").status_code == 403
        assert api(user).get("/ledger/accounts").status_code == 403


def test_accounts_by_kind(paid_order, trade, make_operator, api):
    client = api(make_operator("finance"))
    wallets = client.get("/ledger/accounts", {"kind": "wallet"}).json()
    assert wallets["count"] == 1
    wallet = wallets["items"][0]
    assert wallet["code"] == f"wallet:user:{trade.buyer.pk}"
    assert wallet["balance_fen"] == wallet["available_fen"] == 95_000
    assert wallet["owner_user_id"] == trade.buyer.pk
    escrow = client.get("/ledger/accounts", {"kind": "escrow"}).json()["items"]
    assert [(a["owner_order_id"], a["balance_fen"]) for a in escrow] == [(paid_order, 5000)]
    everything = client.get("/ledger/accounts").json()
    assert everything["count"] == Account.objects.count()
    assert client.get("/ledger/accounts", {"kind": "nope"}).status_code == 422
    capped = client.get("/ledger/accounts", {"limit": 1000}).json()
    assert len(capped["items"]) == min(100, everything["count"])
