"""Order timers: deadlines on the rows, fired by orders_sweep() (what `jishi worker` runs)."""

from datetime import timedelta

import pytest

from jishi.accounts.models import Notification
from jishi.core import clock
from jishi.core.rules import rule_set
from jishi.ledger.check import ledger_check
from jishi.ledger.selectors import balance_of
from jishi.orders import timers
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import (
    group_pay,
    order_extend_receipt,
    order_place,
    order_ship,
)
from jishi.orders.timers import orders_sweep
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade.conftest import PIN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

SECOND = timedelta(seconds=1)


def place(trade, sku=None, quantity=1) -> Order:
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": (sku or trade.sku).pk, "quantity": quantity}],
        address_id=trade.buyer.address.pk,
    )
    return group.orders.get()


def paid(trade, sku=None, quantity=1) -> Order:
    order = place(trade, sku, quantity)
    group_pay(buyer=trade.buyer, group_id=order.group_id, pin=PIN)
    return Order.objects.get(pk=order.pk)


def shipped(trade, sku=None, quantity=1) -> Order:
    order = paid(trade, sku, quantity)
    return order_ship(
        actor=order.shop.owner,
        order_id=order.pk,
        carrier="EMS",
        tracking_no="E1",
        delivery_note="码",
    )


def status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def test_unpaid_order_closes_at_24_hours_not_before(trade):
    order = place(trade, trade.scarce)
    assert trade.scarce.__class__.objects.get(pk=trade.scarce.pk).stock == 0
    clock.advance(timedelta(hours=24) - SECOND)
    assert orders_sweep() == 0
    assert status(order) == OrderStatus.WAIT_BUYER_PAY
    clock.advance(SECOND)
    assert orders_sweep() == 1
    closed = Order.objects.get(pk=order.pk)
    assert closed.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert (closed.close_reason, closed.pay_deadline) == ("unpaid_timeout", None)
    assert trade.scarce.__class__.objects.get(pk=trade.scarce.pk).stock == 1
    assert Notification.objects.filter(user=trade.buyer, kind="order_closed").count() == 1
    assert orders_sweep() == 0  # idempotent
    assert ledger_check().ok


def test_paid_orders_are_not_closed_by_the_unpaid_timer(trade):
    order = paid(trade)
    clock.advance(timedelta(hours=25))
    orders_sweep()
    assert status(order) == OrderStatus.WAIT_SELLER_SEND_GOODS


def test_late_shipment_flagged_once_after_48_hours(trade):
    order = paid(trade)
    clock.advance(timedelta(hours=48) - SECOND)
    assert orders_sweep() == 0
    clock.advance(SECOND)
    assert orders_sweep() == 1
    flagged = Order.objects.get(pk=order.pk)
    assert flagged.late_shipment_at == clock.now()
    assert flagged.status == OrderStatus.WAIT_SELLER_SEND_GOODS  # still to be shipped
    clock.advance(timedelta(hours=5))
    assert orders_sweep() == 0
    late = Notification.objects.filter(user=trade.shop.owner, kind="order_late_shipment")
    assert late.count() == 1
    assert Order.objects.get(pk=order.pk).late_shipment_at == flagged.late_shipment_at
    # it can still ship, and is not flagged again
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="EMS", tracking_no="E2")
    assert orders_sweep() == 0
    assert late.count() == 1


def test_auto_confirm_after_ten_days(trade):
    order = shipped(trade, quantity=2)
    clock.advance(timedelta(days=10) - SECOND)
    assert orders_sweep() == 0
    assert status(order) == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    clock.advance(SECOND)
    assert orders_sweep() == 1
    done = Order.objects.get(pk=order.pk)
    assert done.status == OrderStatus.TRADE_FINISHED
    assert (done.released_fen, done.commission_fen) == (9800, 200)
    assert balance_of(f"escrow:order:{order.pk}") == 0
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800
    assert orders_sweep() == 0
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800
    assert ledger_check().ok


def test_virtual_goods_auto_confirm_after_three_days(trade, make_listing):
    card = make_listing(price_fen=3000, virtual=True)
    order = shipped(trade, card)
    assert order.is_virtual
    clock.advance(timedelta(days=3) - SECOND)
    assert orders_sweep() == 0
    clock.advance(SECOND)
    assert orders_sweep() == 1
    assert status(order) == OrderStatus.TRADE_FINISHED
    assert ledger_check().ok


def test_extended_deadline_is_respected(trade):
    order = shipped(trade)
    clock.advance(timedelta(days=8))
    order_extend_receipt(buyer=trade.buyer, order_id=order.pk)
    clock.advance(timedelta(days=2) + SECOND)  # past the original 10 days
    assert orders_sweep() == 0
    assert status(order) == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    clock.advance(timedelta(days=3) - SECOND)  # exactly 13 days
    assert orders_sweep() == 1
    assert status(order) == OrderStatus.TRADE_FINISHED
    assert ledger_check().ok


def test_one_sweep_handles_every_kind_of_due_order_once(trade, make_buyer):
    unpaid = place(trade)
    waiting = paid(trade)
    sent = shipped(trade)
    clock.advance(timedelta(days=11))
    # unpaid close, late shipment, paid-not-shipped (3 days past the deadline), auto-confirm
    assert orders_sweep() == 4
    assert status(unpaid) == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    waiting = Order.objects.get(pk=waiting.pk)
    assert waiting.late_shipment_at is not None and waiting.not_shipped_at is not None
    assert status(sent) == OrderStatus.TRADE_FINISHED
    assert orders_sweep() == 0
    compensation = 1500  # 30 % of the 50 yuan item, paid by the late shop
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == (100_000 - 2 * 5000 + compensation)
    assert ledger_check().ok


def test_sweep_works_in_batches(trade):
    orders = [place(trade) for _ in range(5)]
    clock.advance(timedelta(hours=25))
    assert orders_sweep(batch_size=2) == 2
    assert orders_sweep(batch_size=2) == 2
    assert orders_sweep(batch_size=2) == 1
    assert orders_sweep() == 0
    assert {status(o) for o in orders} == {OrderStatus.TRADE_CLOSED_BY_SYSTEM}


def test_one_failing_order_does_not_stop_the_sweep(trade, monkeypatch):
    first, second = place(trade), place(trade)
    real = timers.SWEEPS[0][2]

    def flaky(*, order):
        if order.pk == first.pk:
            raise RuntimeError("boom")
        return real(order=order)

    monkeypatch.setattr(timers, "SWEEPS", [("unpaid_close", timers._due_unpaid, flaky)])
    clock.advance(timedelta(hours=25))
    assert orders_sweep() == 1
    assert status(first) == OrderStatus.WAIT_BUYER_PAY  # left for the next sweep
    assert status(second) == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    monkeypatch.undo()
    assert orders_sweep() == 1
    assert status(first) == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert ledger_check().ok


def test_rule_override_changes_deadlines_of_new_orders(trade, make_operator):
    before = place(trade)
    admin = make_operator("admin")
    rule_set(actor=admin, name="unpaid_close_seconds", value=15 * 60)
    rule_set(actor=admin, name="auto_confirm_seconds", value=2 * 86400)
    after = place(trade)
    assert after.pay_deadline == clock.now() + timedelta(minutes=15)
    assert before.pay_deadline == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(minutes=15))
    assert orders_sweep() == 1
    assert status(after) == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert status(before) == OrderStatus.WAIT_BUYER_PAY  # keeps the deadline it was given
    sent = shipped(trade)
    assert sent.confirm_deadline == clock.now() + timedelta(days=2)
    clock.advance(timedelta(days=2))
    orders_sweep()
    assert status(sent) == OrderStatus.TRADE_FINISHED
    assert ledger_check().ok
