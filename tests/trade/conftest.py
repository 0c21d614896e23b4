"""Fixtures for trade tests: a buyer with money and an address, a shop with stock."""

from types import SimpleNamespace

import pytest

from jishi.accounts.services import address_create, payment_pin_set
from jishi.payments.channels import sandbox
from jishi.payments.services import callback_receive, topup_create

PIN = "135790"


def fund(user, amount_fen: int) -> None:
    """Top up a wallet through the sandbox bank's signed callback, as in production."""
    topup = topup_create(user=user, amount_fen=amount_fen)
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=amount_fen
    )
    callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))


@pytest.fixture
def make_buyer(make_user):
    def make(balance_fen: int = 100_000, province: str = "浙江省"):
        buyer = make_user()
        payment_pin_set(user=buyer, password=buyer.raw_password, pin=PIN)
        buyer.address = address_create(
            user=buyer,
            recipient="李四",
            phone="13812345678",
            province=province,
            city="杭州市",
            district="西湖区",
            detail="文三路 1 号",
        )
        if balance_fen:
            fund(buyer, balance_fen)
        return buyer

    return make


@pytest.fixture
def trade(make_shop, make_product, make_buyer):
    """A shop (owner has a PIN) with one listed product of two SKUs, and a funded buyer."""
    shop = make_shop()
    payment_pin_set(user=shop.owner, password=shop.owner.raw_password, pin=PIN)
    product = make_product(
        shop,
        listed=True,
        skus=[
            {"specs": {"规格": "500g"}, "price_fen": 5000, "stock": 10},
            {"specs": {"规格": "1kg"}, "price_fen": 9000, "stock": 1},
        ],
    )
    skus = list(product.skus.order_by("pk"))
    return SimpleNamespace(
        shop=shop, product=product, sku=skus[0], scarce=skus[1], buyer=make_buyer()
    )


@pytest.fixture
def make_listing(make_shop, make_product):
    """``make_listing(shop=None, price_fen=1000, stock=10, stock_deduction="order",
    virtual=False, category=None)`` -> a listed one-SKU product's SKU (``sku.product``,
    ``sku.shop``). A new shop is opened when none is given; its owner gets the PIN."""
    from jishi.catalog.models import Product

    def make(
        shop=None,
        price_fen: int = 1000,
        stock: int = 10,
        stock_deduction: str = "order",
        virtual: bool = False,
        category=None,
    ):
        if shop is None:
            shop = make_shop()
            payment_pin_set(user=shop.owner, password=shop.owner.raw_password, pin=PIN)
        product = make_product(
            shop,
            listed=True,
            category=category,
            stock_deduction=stock_deduction,
            skus=[{"specs": {}, "price_fen": price_fen, "stock": stock}],
        )
        if virtual:  # no service sets this flag yet
            Product.objects.filter(pk=product.pk).update(is_virtual=True)
        sku = product.skus.get()
        sku.shop = shop
        return sku

    return make


@pytest.fixture
def frozen_clock(monkeypatch):
    """Stop ``jishi.core.clock`` at the current instant (``clock.advance`` still moves it), so
    deadlines can be compared exactly. Returns the frozen instant."""
    from django.utils import timezone

    from jishi.core import clock

    instant = timezone.now()
    monkeypatch.setattr(clock, "timezone", SimpleNamespace(now=lambda: instant))
    return instant
