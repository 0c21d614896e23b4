"""Never a 500: valid requests with one value swapped for something hostile (wrong types,
huge or negative numbers, NUL characters, over-long text) get a 4xx, on SQLite and PostgreSQL.
"""

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.trade import conftest as trade_fixtures

from .helpers import ADDRESS, API, PASSWORD, ApiClient, product_payload

# The trade fixtures (a funded buyer with an address, a shop with stock) for after-sales.
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**7 + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x00b", "x" * 3000, "", " ", "😀" * 70, "12.5", "1e3", "-0"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value = copy.deepcopy(value)
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return value


def assert_bodies_never_500(
    requests: list[tuple], *, max_examples: int, after_each: Callable[[], None] | None = None
) -> None:
    """Send each (client, method, url, body) with one value swapped for a hostile one; the
    answer must never be a 5xx. ``after_each`` resets state a request may leave (a PIN lock)."""

    @hsettings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(requests), st.data())
    def check(request, data):
        client, method, url, body = request
        path = data.draw(st.sampled_from(list(_paths(body))))
        sent = _replace(body, path, data.draw(HOSTILE))
        response = getattr(client.client, method)(
            API + url, data=json.dumps(sent), content_type="application/json"
        )
        assert response.status_code < 500, (method, url, sent, response.content[:300])
        if after_each is not None:
            after_each()

    check()


def test_hostile_values_never_cause_a_500(world):
    seller, buyer, admin = ApiClient(world.seller), ApiClient(world.buyer), ApiClient(world.admin)
    sku_id = world.product.skus.first().pk
    address_id = buyer.post("/accounts/addresses", ADDRESS).json()["id"]
    product = product_payload(world.tree.leaf.pk)
    requests = [
        (seller, "post", "/catalog/seller/products", product),
        (seller, "put", f"/catalog/seller/products/{world.product.pk}", product),
        (seller, "put", f"/catalog/seller/skus/{sku_id}/stock", {"stock": 5}),
        (
            seller,
            "patch",
            "/shops/mine",
            {"name": "新名字", "description": "d", "province": "浙江省", "city": "湖州市"},
        ),
        (
            seller,
            "post",
            "/shops/mine/staff",
            {"username": "staffx", "password": PASSWORD, "role": "service"},
        ),
        (
            seller,
            "post",
            "/accounts/bank-card",
            {"password": PASSWORD, "bank_name": "b", "card_number": world.seller.card_number},
        ),
        (buyer, "post", "/accounts/addresses", ADDRESS),
        (buyer, "put", f"/accounts/addresses/{address_id}", ADDRESS),
        (buyer, "post", "/accounts/payment-pin", {"password": PASSWORD, "pin": "135790"}),
        (buyer, "post", "/accounts/payment-pin/verify", {"pin": "135790"}),
        (
            buyer,
            "post",
            "/accounts/verification",
            {
                "real_name": "a",
                "id_number": world.seller.id_number,
                "bank_name": "b",
                "bank_card": world.seller.card_number,
            },
        ),
        (buyer, "post", "/accounts/tokens", {"password": PASSWORD, "name": "n"}),
        (buyer, "post", "/accounts/notifications/read", {"ids": [1, 2]}),
        (
            ApiClient(),
            "post",
            "/accounts/register",
            {"username": "abcdef", "password": PASSWORD, "phone": "13812345678", "email": "a@b.cn"},
        ),
        (ApiClient(), "post", "/accounts/login", {"username": "buyer_a", "password": PASSWORD}),
        (
            admin,
            "post",
            "/console/categories",
            {
                "name": "n",
                "parent_id": world.tree.mid.pk,
                "commission_rate_bp": 100,
                "position": 1,
                "icon": "i",
                "name_en": "e",
            },
        ),
        (
            admin,
            "put",
            f"/console/categories/{world.tree.leaf.pk}",
            {"name": "n", "commission_rate_bp": 100, "position": 1, "is_active": True},
        ),
        (admin, "post", f"/console/products/{world.product2.pk}/take-down", {"reason": "r"}),
        (admin, "post", f"/console/products/{world.product2.pk}/feature", {"featured": True}),
        (admin, "post", "/console/verifications/1/decide", {"approve": False, "reason": "r"}),
    ]

    assert_bodies_never_500(requests, max_examples=400)


def test_hostile_query_parameters_never_cause_a_500(world):
    client = ApiClient(world.admin)
    urls = [
        "/catalog/products",
        "/console/products",
        "/console/verifications",
        "/catalog/seller/products",
        "/accounts/notifications",
        "/shops",
    ]
    names = ["q", "category_id", "shop_id", "sort", "status", "limit", "offset", "unread"]
    text = st.one_of(st.text(max_size=20), st.sampled_from(["\x00", "-1", "1" * 30, "1.5"]))

    @hsettings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(urls), st.dictionaries(st.sampled_from(names), text, max_size=4))
    def check(url, params):
        response = client.get(url, params)
        assert response.status_code < 500, (url, params, response.content[:300])

    check()


@pytest.mark.django_db
def test_hostile_aftersales_bodies_and_queries_never_cause_a_500(trade, make_operator):
    """After-sales requests in every state (a new request, one waiting for the seller, one
    waiting for the return, a dispute past its evidence phase, a finished order) with one
    value swapped for something hostile; then hostile filters on the lists."""
    from datetime import timedelta

    from jishi.accounts.models import PaymentPin
    from jishi.aftersales import services as aftersales
    from jishi.core import clock
    from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
    from tests.trade.conftest import PIN

    buyer, owner = ApiClient(trade.buyer), ApiClient(trade.shop.owner)
    admin = ApiClient(make_operator("admin"))

    def order(ship: bool = True, confirm: bool = False):
        group = order_place(
            buyer=trade.buyer,
            items=[{"sku_id": trade.sku.pk, "quantity": 1}],
            address_id=trade.buyer.address.pk,
        )
        group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
        placed = group.orders.get()
        if ship:
            order_ship(actor=trade.shop.owner, order_id=placed.pk, carrier="顺丰", tracking_no="1")
        if confirm:
            order_confirm(buyer=trade.buyer, order_id=placed.pk, pin=PIN)
        return placed

    def case(kind: str = "refund_only"):
        placed = order()
        return aftersales.refund_request(
            buyer=trade.buyer,
            order_id=placed.pk,
            line_id=placed.lines.get().pk,
            kind=kind,
            reason="quality",
            amount_fen=1000,
        )

    waiting = case()
    returning = case("return_refund")
    aftersales.refund_agree(actor=trade.shop.owner, case_id=returning.pk, return_address="杭州")
    refused = case()
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=refused.pk, reason="r")
    disputed = case()
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=disputed.pk, reason="r")
    dispute = aftersales.dispute_open(actor=trade.buyer, case_id=disputed.pk, reason="r")
    aftersales.dispute_take(operator=admin.user, dispute_id=dispute.pk)
    clock.advance(timedelta(days=3, seconds=1))
    fresh, finished = order(), order(confirm=True)
    c = "/aftersales/cases"
    s = "/aftersales/seller/cases"
    requests = [
        (
            buyer,
            "post",
            c,
            {
                "order_id": fresh.pk,
                "line_id": fresh.lines.get().pk,
                "kind": "exchange",
                "reason": "size",
                "amount_fen": 500,
                "description": "d",
                "exchange_sku_id": trade.sku.pk,
            },
        ),
        (
            buyer,
            "post",
            f"{c}/{waiting.pk}/revise",
            {"kind": "refund_only", "reason": "quality", "amount_fen": 900, "description": "d"},
        ),
        (
            buyer,
            "post",
            f"{c}/{returning.pk}/return-shipment",
            {"carrier": "a", "tracking_no": "1"},
        ),
        (buyer, "post", f"{c}/{waiting.pk}/messages", {"text": "t"}),
        (buyer, "post", f"{c}/{refused.pk}/dispute", {"reason": "r"}),
        (owner, "post", f"{c}/{disputed.pk}/dispute/withdraw", {"return_address": "a"}),
        (owner, "post", f"{s}/{waiting.pk}/agree", {"return_address": "a"}),
        (owner, "post", f"{s}/{waiting.pk}/refuse", {"reason": "r"}),
        (owner, "post", f"{s}/{returning.pk}/goods-confirm", {"carrier": "a", "tracking_no": "1"}),
        (owner, "post", f"{s}/{returning.pk}/goods-refuse", {"reason": "r"}),
        (owner, "post", "/aftersales/seller/deposit", {"amount_fen": 1, "pin": "000001"}),
        (
            admin,
            "post",
            f"/aftersales/console/disputes/{dispute.pk}/rule",
            {"decision": "buyer", "amount_fen": 500, "reason": "r", "not_as_described": True},
        ),
        (
            admin,
            "post",
            f"/aftersales/console/orders/{finished.pk}/advance",
            {"amount_fen": 100, "reason": "r"},
        ),
        (
            admin,
            "post",
            "/aftersales/console/violations",
            {
                "shop_id": trade.shop.pk,
                "kind": "other",
                "points": 1,
                "order_id": finished.pk,
                "note": "n",
            },
        ),
    ]
    assert_bodies_never_500(
        requests,
        max_examples=300,
        after_each=lambda: PaymentPin.objects.update(failed_attempts=0, locked_until=None),
    )

    lists = [
        (buyer, f"{c}"),
        (buyer, f"/aftersales/orders/{fresh.pk}/lines/{fresh.lines.get().pk}/options"),
        (owner, "/aftersales/seller/cases"),
        (owner, "/aftersales/seller/violations"),
        (admin, "/aftersales/console/disputes"),
        (admin, "/aftersales/console/violations"),
    ]
    names = ["status", "open", "tab", "kind", "q", "mine", "shop_id", "limit", "offset"]
    text = st.one_of(st.text(max_size=20), st.sampled_from(["\x00", "-1", "1" * 30, "true"]))

    @hsettings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(lists), st.dictionaries(st.sampled_from(names), text, max_size=4))
    def check(target, params):
        client, url = target
        response = client.get(url, params)
        assert response.status_code < 500, (url, params, response.content[:300])

    check()
