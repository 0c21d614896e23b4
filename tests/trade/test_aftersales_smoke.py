"""After-sales end to end through the services: the main paths and their money."""

from datetime import timedelta

import pytest

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import DisputeStatus, RefundStatus
from jishi.aftersales.timers import cases_sweep
from jishi.core import clock
from jishi.ledger.check import ledger_check
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.orders.timers import orders_sweep
from jishi.payments.models import ShopDebt
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade.conftest import PIN

pytestmark = pytest.mark.django_db


def _paid_order(trade, quantity=2, ship=True):
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": quantity}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    if ship:
        order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    return Order.objects.get(pk=order.pk)


def _check():
    report = ledger_check()
    assert report.ok, report.problems


def test_return_and_refund_end_to_end(trade):
    order = _paid_order(trade)
    line = order.lines.get()
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=line.pk,
        kind="return_refund",
        reason="quality",
        amount_fen=5000,
    )
    order.refresh_from_db()
    assert order.confirm_deadline is None and order.confirm_paused_seconds > 0
    aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk, return_address="杭州 1 号")
    aftersales.refund_return_ship(
        buyer=trade.buyer, case_id=case.pk, carrier="中通", tracking_no="ZT1"
    )
    aftersales.refund_goods_confirm(actor=trade.shop.owner, case_id=case.pk)
    case.refresh_from_db()
    assert case.status == RefundStatus.SUCCESS
    order.refresh_from_db()
    assert order.refunded_fen == 5000 and order.confirm_deadline is not None
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 100_000 - 10_000 + 5000
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order.refresh_from_db()
    assert order.commission_fen == 100  # 2 % of the 50 yuan kept
    assert shop_money(shop_id=trade.shop.pk).available_fen == 4900
    _check()


def test_refund_after_release_claws_back_and_returns_commission(trade):
    order = _paid_order(trade)
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        reason="quality",
        amount_fen=10_000,
    )
    aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_CLOSED
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (10_000, 0, 0)
    assert shop_money(shop_id=trade.shop.pk).available_fen == 0
    assert ShopDebt.objects.get().settled_at is not None
    _check()


def test_refund_beyond_balance_becomes_debt_collected_from_next_income(trade):
    order = _paid_order(trade)
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    from jishi.ledger.services import shop_available_account, transfer_create, wallet_account
    from jishi.payments.services import withdrawal_create  # noqa: F401  (no card: keep money)

    # the seller spends the balance (moved to the owner's wallet for the test)
    transfer_create(
        debit=shop_available_account(trade.shop.pk),
        credit=wallet_account(trade.shop.owner_id),
        amount=9800,
        kind="test_move",
        idempotency_key="test-move",
    )
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        reason="quality",
        amount_fen=5000,
    )
    aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk)
    debt = ShopDebt.objects.get()
    assert debt.amount_fen == 4900 and debt.recovered_fen == 0
    _check()
    second = _paid_order(trade, quantity=1)
    order_confirm(buyer=trade.buyer, order_id=second.pk, pin=PIN)
    debt.refresh_from_db()
    assert debt.recovered_fen == 4900 and debt.settled_at is not None
    assert shop_money(shop_id=trade.shop.pk).available_fen == 4900 - 4900
    _check()


def test_refused_then_dispute_then_ruling_for_buyer(trade, make_operator):
    order = _paid_order(trade)
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        reason="not_as_described",
        amount_fen=3000,
    )
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason="与描述一致")
    dispute = aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="颜色不对")
    operator = make_operator("arbitrator")
    aftersales.dispute_take(operator=operator, dispute_id=dispute.pk)
    aftersales.case_message_add(actor=trade.shop.owner, case_id=case.pk, text="证据")
    clock.advance(timedelta(days=3, seconds=1))
    aftersales.dispute_rule(
        operator=operator,
        dispute_id=dispute.pk,
        decision="buyer",
        amount_fen=3000,
        reason="描述不符",
        not_as_described=True,
    )
    dispute.refresh_from_db()
    case.refresh_from_db()
    assert dispute.status == DisputeStatus.RULED_BUYER
    assert case.status == RefundStatus.SUCCESS
    assert trade.shop.violations.get().kind == "not_as_described"
    _check()


def test_timers_seller_silence_agrees_then_buyer_silence_closes(trade):
    order = _paid_order(trade)
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="return_refund",
        reason="quality",
        amount_fen=5000,
    )
    clock.advance(timedelta(days=5, seconds=1))
    assert cases_sweep() == 1
    case.refresh_from_db()
    assert case.status == RefundStatus.WAIT_BUYER_RETURN_GOODS
    clock.advance(timedelta(days=7, seconds=1))
    assert cases_sweep() == 1
    case.refresh_from_db()
    assert case.status == RefundStatus.CLOSED
    order.refresh_from_db()
    assert order.confirm_deadline is not None
    _check()


def test_late_shipment_compensates_buyer_and_advance_after_release(trade, make_operator):
    order = _paid_order(trade, ship=False)
    clock.advance(timedelta(hours=48, seconds=1))
    orders_sweep()
    assert trade.shop.violations.get().compensation_fen == 3000
    debt = ShopDebt.objects.get()
    assert debt.amount_fen == 3000 and debt.recovered_fen == 0
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF2")
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    debt.refresh_from_db()
    assert debt.settled_at is not None
    aftersales.advance_pay(
        operator=make_operator("arbitrator"), order_id=order.pk, amount_fen=2000, reason="先行垫付"
    )
    order.refresh_from_db()
    assert order.refunded_fen == 2000
    _check()
