"""After-sales timers and the order timers they interact with, at their exact boundaries:
one second before a deadline the sweep does nothing, at the deadline it acts, once.

Each silence has its rule (PRODUCT.md "Trade rules"): the seller's silence agrees (24 h
before shipment, 5 days after), the buyer not shipping the return in 7 days closes, the
seller not confirming the returned goods in 10 days refunds, the buyer not escalating a
refusal in 5 days closes; a case the platform is handling does not time out. An open request
pauses the order's auto-confirm, which resumes with exactly the time it had left.
"""

from datetime import timedelta

import pytest

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import RefundCase
from jishi.aftersales.timers import TIMER_FAILURES_MAX, cases_sweep
from jishi.core import clock
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import order_flag_late_shipment, order_ship
from jishi.orders.timers import orders_sweep
from jishi.payments.models import ShopDebt
from jishi.payments.selectors import wallet_balance
from jishi.shops.models import Violation
from tests.trade.aftersales_kit import (
    ANSWER_SHIPPED,
    ANSWER_UNSHIPPED,
    AUTO_CONFIRM,
    CONFIRM_GOODS_WITHIN,
    DAY,
    ESCALATE_WITHIN,
    EVIDENCE_PHASE,
    NOT_SHIPPED_GRACE,
    RETURN_WITHIN,
    SHIP_WITHIN,
    ask,
    buy,
    case_in,
    fresh,
    ledger_ok,
    seller_agree,
    ship_order,
)

pytestmark = pytest.mark.django_db


def secs(n: int) -> timedelta:
    return timedelta(seconds=n)


def at_deadline(case: RefundCase, *, fires: bool = True) -> RefundCase:
    """Move to one second before the case's deadline: nothing happens; then to the
    deadline itself: the timer fires exactly once (or, ``fires=False``, still nothing)."""
    case = fresh(case)
    assert case.deadline is not None
    clock.advance(case.deadline - clock.now() - secs(1))
    assert cases_sweep() == 0
    assert fresh(case).status == case.status
    clock.advance(secs(1))
    assert cases_sweep() == (1 if fires else 0)
    assert cases_sweep() == 0  # never twice
    return fresh(case)


# --- the seller's silence ---------------------------------------------------------------------


def test_seller_silence_before_shipment_agrees_after_24_hours(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2))
    case = ask(trade.buyer, order, amount=3000)
    assert case.deadline == frozen_clock + secs(ANSWER_UNSHIPPED)
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    case = at_deadline(case)
    assert (case.status, case.refunded_fen, case.deadline) == ("SUCCESS", 3000, None)
    assert case.agreed_at == frozen_clock + secs(ANSWER_UNSHIPPED)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 3000
    assert fresh(order).status == OrderStatus.WAIT_SELLER_SEND_GOODS
    ledger_ok()


def test_seller_silence_after_shipment_agrees_after_5_days(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, kind="return_refund", amount=5000)
    assert case.deadline == frozen_clock + secs(ANSWER_SHIPPED)
    case = at_deadline(case)
    assert case.status == "WAIT_BUYER_RETURN_GOODS"
    assert case.return_address  # the shop's city and name when it never gave one
    assert case.deadline == frozen_clock + secs(ANSWER_SHIPPED + RETURN_WITHIN)
    assert fresh(order).refunded_fen == 0


def test_silence_agreement_reuses_the_shops_last_return_address(trade, frozen_clock):
    first = buy(trade.buyer, (trade.sku, 1), ship=True)
    seller_agree(ask(trade.buyer, first, kind="return_refund"), address="仓库 9 号门")
    second = buy(trade.buyer, (trade.sku, 1), ship=True)
    case = at_deadline(ask(trade.buyer, second, kind="exchange", exchange_sku_id=trade.sku.pk))
    assert (case.status, case.return_address) == ("WAIT_BUYER_RETURN_GOODS", "仓库 9 号门")


def test_a_request_made_before_shipment_keeps_the_24_hour_answer_time(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2))
    case = ask(trade.buyer, order, amount=1000)
    clock.advance(timedelta(hours=1))
    ship_order(order)
    case = at_deadline(case)
    assert case.status == "SUCCESS"


def test_a_revised_request_gets_a_fresh_answer_time(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=1000)
    clock.advance(secs(ANSWER_SHIPPED - 10))
    aftersales.refund_revise(buyer=trade.buyer, case_id=case.pk, amount_fen=1200)
    clock.advance(secs(10))
    assert cases_sweep() == 0  # the old deadline means nothing now
    case = at_deadline(case)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 1200)


# --- the buyer's silence ----------------------------------------------------------------------


def test_return_not_shipped_in_7_days_closes(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    clock.advance(timedelta(days=1))
    case = case_in("WAIT_BUYER_RETURN_GOODS", trade.buyer, order)
    assert case.deadline == clock.now() + secs(RETURN_WITHIN)
    case = at_deadline(case)
    assert (case.status, case.close_reason, case.refunded_fen) == (
        "CLOSED",
        "return_not_shipped",
        0,
    )
    order = fresh(order)
    assert order.refunded_fen == 0
    # 9 days of auto-confirm were left when the request opened: they run again from now
    assert order.confirm_deadline == clock.now() + timedelta(days=9)
    ledger_ok()


def test_no_escalation_in_5_days_after_a_refusal_closes(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    assert case.deadline == frozen_clock + secs(ESCALATE_WITHIN)
    case = at_deadline(case)
    assert (case.status, case.close_reason) == ("CLOSED", "not_escalated")
    assert fresh(order).confirm_deadline == clock.now() + secs(AUTO_CONFIRM)


def test_no_escalation_after_the_returned_goods_were_refused_closes(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order)
    aftersales.refund_goods_refuse(actor=trade.shop.owner, case_id=case.pk, reason="空箱")
    case = at_deadline(case)
    assert (case.status, case.close_reason, case.refunded_fen) == ("CLOSED", "not_escalated", 0)


# --- the seller's silence about the returned goods --------------------------------------------


def test_returned_goods_not_confirmed_in_10_days_are_refunded(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order, amount=6000)
    assert case.deadline == frozen_clock + secs(CONFIRM_GOODS_WITHIN)
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    case = at_deadline(case)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 6000)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 6000
    ledger_ok()


def test_an_exchange_not_confirmed_in_10_days_refunds_the_line(trade, frozen_clock):
    order = buy(trade.buyer, (trade.scarce, 1), ship=True)  # 9000 fen
    case = case_in(
        "WAIT_SELLER_CONFIRM_GOODS",
        trade.buyer,
        order,
        kind="exchange",
        exchange_sku_id=trade.sku.pk,
    )
    assert case.amount_fen == 4000  # the price difference, had the seller sent the replacement
    stock = trade.sku.stock
    case = at_deadline(case)
    assert (case.status, case.refunded_fen, case.amount_fen) == ("SUCCESS", 9000, 9000)
    assert fresh(trade.sku).stock == stock  # no replacement left the shelf
    order = fresh(order)
    assert (order.refunded_fen, order.status) == (9000, OrderStatus.TRADE_CLOSED)
    ledger_ok()


# --- the platform's intervention stops the clock ----------------------------------------------


def test_a_case_under_intervention_never_times_out(trade, make_operator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="介入")
    clock.advance(timedelta(days=60))
    assert cases_sweep() == 0 and orders_sweep() == 0
    aftersales.dispute_take(operator=make_operator("arbitrator"), dispute_id=dispute.pk)
    clock.advance(secs(EVIDENCE_PHASE) + timedelta(days=30))
    assert cases_sweep() == 0 and orders_sweep() == 0
    assert fresh(case).status == "SELLER_REFUSE_BUYER"
    assert fresh(order).status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS


def test_a_withdrawn_intervention_lets_the_timers_run_again(trade, make_operator, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="return_refund")
    dispute = aftersales.dispute_open(actor=trade.shop.owner, case_id=case.pk, reason="介入")
    clock.advance(timedelta(days=20))
    aftersales.dispute_withdraw(actor=trade.shop.owner, dispute_id=dispute.pk)
    case = fresh(case)
    assert case.status == "WAIT_BUYER_RETURN_GOODS"
    assert case.deadline == clock.now() + secs(RETURN_WITHIN)
    assert at_deadline(case).close_reason == "return_not_shipped"


def test_finished_cases_have_no_timer(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=100)
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    assert fresh(case).deadline is None
    clock.advance(timedelta(days=365))
    assert cases_sweep() == 0


# --- auto-confirm paused and resumed ----------------------------------------------------------


def test_auto_confirm_pauses_while_open_and_resumes_with_the_exact_time_left(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    assert order.confirm_deadline == frozen_clock + secs(AUTO_CONFIRM)
    clock.advance(timedelta(days=8, hours=5, seconds=7))
    case = ask(trade.buyer, order, amount=100)
    left = AUTO_CONFIRM - (8 * DAY + 5 * 3600 + 7)
    order = fresh(order)
    assert (order.confirm_deadline, order.confirm_paused_seconds) == (None, left)
    clock.advance(timedelta(days=4))  # long past the original deadline
    assert orders_sweep() == 0
    assert fresh(order).status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    aftersales.refund_revise(buyer=trade.buyer, case_id=case.pk, amount_fen=200)
    assert fresh(order).confirm_paused_seconds == left  # still paused, nothing lost
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    order = fresh(order)
    resumed = clock.now() + secs(left)
    assert (order.confirm_deadline, order.confirm_paused_seconds) == (resumed, None)
    clock.advance(secs(left - 1))
    assert orders_sweep() == 0
    clock.advance(secs(1))
    assert orders_sweep() == 1
    assert fresh(order).status == OrderStatus.TRADE_FINISHED
    ledger_ok()


def test_auto_confirm_resumes_only_when_the_last_open_request_closes(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1), ship=True)
    clock.advance(timedelta(days=1))
    first = ask(trade.buyer, order, line=order.lines.get(sku=trade.sku))
    clock.advance(timedelta(days=1))
    second = ask(trade.buyer, order, line=order.lines.get(sku=trade.scarce), amount=100)
    assert fresh(order).confirm_paused_seconds == 9 * DAY  # paused at the first request
    aftersales.refund_cancel(buyer=trade.buyer, case_id=first.pk)
    assert fresh(order).confirm_deadline is None
    clock.advance(timedelta(days=2))
    seller_agree(second)  # refund only: paid, the case ends
    order = fresh(order)
    assert order.confirm_deadline == clock.now() + timedelta(days=9)


def test_shipping_while_a_request_is_open_starts_auto_confirm_paused(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2))
    case = ask(trade.buyer, order, amount=1000)
    ship_order(order)
    order = fresh(order)
    assert (order.confirm_deadline, order.confirm_paused_seconds) == (None, AUTO_CONFIRM)
    clock.advance(timedelta(hours=3))
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason="已发货")
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    assert fresh(order).confirm_deadline == clock.now() + secs(AUTO_CONFIRM)


def test_a_request_after_the_deadline_passed_unswept_resumes_at_once(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    clock.advance(secs(AUTO_CONFIRM + 60))  # the worker has not run yet
    case = ask(trade.buyer, order, amount=100)
    assert fresh(order).confirm_paused_seconds == 0
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    assert fresh(order).confirm_deadline == clock.now()
    assert orders_sweep() == 1
    assert fresh(order).status == OrderStatus.TRADE_FINISHED


# --- late shipment and paid-not-shipped -------------------------------------------------------


def test_late_shipment_compensates_30_percent_once_with_one_violation(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 3))  # 15,000 fen of items
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    clock.advance(secs(SHIP_WITHIN - 1))
    assert orders_sweep() == 0
    clock.advance(secs(1))
    assert orders_sweep() == 1
    assert orders_sweep() == 0
    order = fresh(order)
    assert order.late_shipment_at == clock.now()
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 4500
    violation = Violation.objects.get()
    assert (violation.kind, violation.points, violation.compensation_fen) == (
        "late_shipment",
        1,
        4500,
    )
    debt = ShopDebt.objects.get()
    assert (debt.kind, debt.amount_fen, debt.order_id) == ("late_shipment", 4500, order.pk)
    # the timer running again (a retry after a crash) changes nothing
    order_flag_late_shipment(order=Order.objects.get(pk=order.pk))
    assert Violation.objects.count() == 1 and ShopDebt.objects.count() == 1
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 4500
    ledger_ok()


def test_late_shipment_compensation_is_capped_at_500_yuan(trade, make_listing, make_buyer):
    sku = make_listing(price_fen=400_000, stock=2)
    buyer = make_buyer(balance_fen=0)
    from tests.trade.conftest import fund

    fund(buyer, 5_000_000)
    fund(buyer, 3_000_000)
    order = buy(buyer, (sku, 2))  # 8,000 yuan: 30 % would be 2,400 yuan
    clock.advance(secs(SHIP_WITHIN))
    assert orders_sweep() == 1
    assert Violation.objects.get(order_id=order.pk).compensation_fen == 50_000
    assert ShopDebt.objects.get(order_id=order.pk).amount_fen == 50_000
    assert wallet_balance(user_id=buyer.pk).balance_fen == 8_000_000 - 800_000 + 50_000
    ledger_ok()


def test_shipping_on_time_owes_nothing(trade):
    order = buy(trade.buyer, (trade.sku, 1))
    clock.advance(secs(SHIP_WITHIN - 1))
    ship_order(order)
    clock.advance(timedelta(days=5))
    orders_sweep()
    assert not Violation.objects.exists() and not ShopDebt.objects.exists()


def test_paid_not_shipped_3_days_after_the_deadline_is_a_violation(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 1))
    clock.advance(secs(SHIP_WITHIN))
    assert orders_sweep() == 1  # late shipment
    clock.advance(secs(NOT_SHIPPED_GRACE - 1))
    assert orders_sweep() == 0
    clock.advance(secs(1))
    assert orders_sweep() == 1
    assert orders_sweep() == 0
    assert fresh(order).not_shipped_at == clock.now()
    kinds = sorted(Violation.objects.values_list("kind", "points"))
    assert kinds == [("late_shipment", 1), ("not_shipped", 3)]
    assert ShopDebt.objects.count() == 1  # paid-not-shipped costs points, not money


def test_shipped_late_but_within_the_grace_is_no_paid_not_shipped(trade):
    order = buy(trade.buyer, (trade.sku, 1))
    clock.advance(secs(SHIP_WITHIN + DAY))
    orders_sweep()
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="EMS", tracking_no="E1")
    clock.advance(timedelta(days=5))
    orders_sweep()
    assert list(Violation.objects.values_list("kind", flat=True)) == ["late_shipment"]


def test_a_fully_refunded_order_is_not_flagged_late(trade):
    order = buy(trade.buyer, (trade.sku, 1))
    case = ask(trade.buyer, order)
    seller_agree(case)
    assert fresh(order).status == OrderStatus.TRADE_CLOSED
    clock.advance(timedelta(days=10))
    assert orders_sweep() == 0
    assert not Violation.objects.exists()


# --- a failing case does not stop the sweep ---------------------------------------------------


def test_a_case_whose_timer_keeps_failing_is_left_for_an_operator(trade, monkeypatch):
    orders = [buy(trade.buyer, (trade.sku, 1), ship=True) for _i in range(2)]
    broken, fine = (ask(trade.buyer, o, amount=100) for o in orders)
    original = aftersales.case_timeout

    def timeout(*, case):
        if case.pk == broken.pk:
            raise RuntimeError("boom")
        return original(case=case)

    monkeypatch.setattr("jishi.aftersales.timers.case_timeout", timeout)
    clock.advance(secs(ANSWER_SHIPPED))
    assert cases_sweep() == 1
    assert fresh(fine).status == "SUCCESS"
    for _i in range(TIMER_FAILURES_MAX - 1):
        cases_sweep()
    broken = fresh(broken)
    assert (broken.status, broken.timer_failures) == ("WAIT_SELLER_AGREE", TIMER_FAILURES_MAX)
    assert cases_sweep() == 0
    ledger_ok()
