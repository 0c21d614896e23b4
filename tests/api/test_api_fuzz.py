"""Never a 500: valid requests with one value swapped for something hostile (wrong types,
huge or negative numbers, NUL characters, over-long text) get a 4xx, on SQLite and PostgreSQL.
"""

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from .helpers import ADDRESS, API, PASSWORD, ApiClient, product_payload

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
