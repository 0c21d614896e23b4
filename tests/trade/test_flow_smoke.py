"""The happy path and its ledger, end to end through the services."""

from datetime import timedelta

import pytest

from jishi.core import clock
from jishi.ledger.check import ledger_check
from jishi.ledger.selectors import kind_total
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.orders.timers import orders_sweep
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade.conftest import PIN

pytestmark = pytest.mark.django_db


def test_pay_ship_confirm_releases_escrow_less_commission(trade):
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 2}],
        address_id=trade.buyer.address.pk,
    )
    order = group.orders.get()
    assert order.total_fen == 10_000
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 90_000
    assert shop_money(shop_id=trade.shop.pk).pending_fen == 10_000
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_FINISHED
    assert order.commission_fen == 200  # 2 % of 100 yuan
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9_800
    assert kind_total("platform_commission") == 200
    assert ledger_check().ok, ledger_check().problems


def test_timers_close_unpaid_and_auto_confirm(trade):
    unpaid = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.scarce.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    ).orders.get()
    paid_group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=paid_group.pk, pin=PIN)
    paid = paid_group.orders.get()
    order_ship(actor=trade.shop.owner, order_id=paid.pk, carrier="EMS", tracking_no="E1")
    clock.advance(timedelta(days=10, seconds=1))
    assert orders_sweep() == 2
    assert Order.objects.get(pk=unpaid.pk).status == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.TRADE_FINISHED
    trade.scarce.refresh_from_db()
    assert trade.scarce.stock == 1
    assert ledger_check().ok
