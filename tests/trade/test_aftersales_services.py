"""After-sales services: every transition of a refund case and of a platform intervention,
and every refusal (bad input, wrong party, wrong status, too late) changing nothing.

Money is followed closely in test_aftersales_money.py and the timers in
test_aftersales_timers.py; here each action's status, deadline and history are checked.
"""

from datetime import timedelta

import pytest

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import CaseEvent, DisputeStatus, RefundCase, RefundStatus
from jishi.catalog.models import Sku
from jishi.core import clock
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import order_confirm, order_refund_before_shipment
from jishi.payments.selectors import wallet_balance
from jishi.shops.models import Violation
from jishi.shops.services import staff_create
from tests.conftest import TEST_PASSWORD
from tests.trade.aftersales_kit import (
    AFTERSALES_WINDOW,
    ANSWER_SHIPPED,
    ANSWER_UNSHIPPED,
    AUTO_CONFIRM,
    CONFIRM_GOODS_WITHIN,
    DAY,
    ESCALATE_WITHIN,
    EVIDENCE_PHASE,
    NO_REASON_WINDOW,
    RETURN_ADDRESS,
    RETURN_WITHIN,
    ask,
    buy,
    buyer_return,
    case_in,
    fresh,
    ledger_ok,
    refused,
    seller_agree,
    seller_confirm,
    seller_refuse,
)
from tests.trade.conftest import PIN

pytestmark = pytest.mark.django_db

OPEN = ("WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS")


@pytest.fixture
def arbitrator(make_operator):
    return make_operator("arbitrator")


def secs(n: int) -> timedelta:
    return timedelta(seconds=n)


def actions(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))


def disputed(case, arbitrator, *, by=None, take=True, evidence_over=True):
    """Open an intervention on a refused case (by the buyer unless ``by``), let the operator
    take it and the evidence phase run out."""
    dispute = aftersales.dispute_open(actor=by or case.buyer, case_id=case.pk, reason="请平台介入")
    if take:
        aftersales.dispute_take(operator=arbitrator, dispute_id=dispute.pk)
    if take and evidence_over:
        clock.advance(secs(EVIDENCE_PHASE))
    return fresh(dispute)


# --- the request ------------------------------------------------------------------------------


def test_request_before_shipment_is_a_refund_answered_within_24_hours(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2))
    case = ask(trade.buyer, order, amount=3000, description="拍错了")
    assert (case.status, case.kind, case.amount_fen) == ("WAIT_SELLER_AGREE", "refund_only", 3000)
    assert case.shipped_when_requested is False
    assert case.deadline == frozen_clock + secs(ANSWER_UNSHIPPED)
    assert (case.buyer, case.shop, case.order) == (trade.buyer, trade.shop, order)
    assert actions(case) == ["request"]
    order = fresh(order)
    assert order.status == OrderStatus.WAIT_SELLER_SEND_GOODS
    assert order.ship_deadline is not None  # the seller may still ship meanwhile
    ledger_ok()


@pytest.mark.parametrize("kind", ["return_refund", "exchange"])
def test_before_shipment_only_a_refund_can_be_asked(trade, kind):
    order = buy(trade.buyer, (trade.sku, 1))
    refused(
        "refund_kind_invalid",
        lambda: ask(trade.buyer, order, kind=kind, reason="quality", exchange_sku_id=trade.sku.pk),
    )


@pytest.mark.parametrize("reason", ["quality", "not_received", "no_reason_7d", "nonsense", ""])
def test_before_shipment_only_the_unshipped_reasons_fit(trade, reason):
    order = buy(trade.buyer, (trade.sku, 1))
    refused("refund_reason_invalid", lambda: ask(trade.buyer, order, reason=reason))


@pytest.mark.parametrize("kind", ["refund_only", "return_refund", "exchange"])
def test_request_after_shipment_waits_5_days_and_pauses_auto_confirm(trade, frozen_clock, kind):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    clock.advance(timedelta(days=2))
    case = ask(trade.buyer, order, kind=kind, exchange_sku_id=trade.sku.pk)
    assert case.status == "WAIT_SELLER_AGREE" and case.kind == kind
    assert case.shipped_when_requested is True
    assert case.deadline == frozen_clock + timedelta(days=2) + secs(ANSWER_SHIPPED)
    assert case.amount_fen == (0 if kind == "exchange" else 10_000)
    order = fresh(order)
    assert order.confirm_deadline is None
    assert order.confirm_paused_seconds == AUTO_CONFIRM - 2 * DAY


def test_request_after_release_within_the_window(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    clock.advance(secs(AFTERSALES_WINDOW))  # the last second of the window still counts
    case = ask(trade.buyer, order, kind="return_refund", amount=2000)
    assert case.status == "WAIT_SELLER_AGREE" and case.deadline is not None
    assert fresh(order).status == OrderStatus.TRADE_FINISHED


def test_no_request_after_the_after_sales_window(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    clock.advance(secs(AFTERSALES_WINDOW + 1))
    refused("refund_not_allowed", lambda: ask(trade.buyer, order))
    refused("refund_not_allowed", lambda: ask(trade.buyer, order, kind="return_refund"))


def test_no_request_on_an_unpaid_or_closed_order(trade):
    from jishi.orders.services import order_place

    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    )
    unpaid = group.orders.get()
    refused("refund_not_allowed", lambda: ask(trade.buyer, unpaid, amount=100))
    refunded = buy(trade.buyer, (trade.sku, 1))
    order_refund_before_shipment(buyer=trade.buyer, order_id=refunded.pk)
    refused("refund_not_allowed", lambda: ask(trade.buyer, fresh(refunded), amount=100))


def test_virtual_goods_take_only_a_refund(trade, make_listing):
    sku = make_listing(price_fen=3000, virtual=True)
    order = buy(trade.buyer, (sku, 1))
    from jishi.orders.services import order_ship

    order_ship(actor=sku.shop.owner, order_id=order.pk, delivery_note="兑换码 1234")
    order = fresh(order)
    refused("refund_kind_invalid", lambda: ask(trade.buyer, order, kind="return_refund"))
    case = ask(trade.buyer, order)
    assert case.kind == "refund_only"


def test_seven_day_no_reason_return_from_receipt(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 1), ship=True)
    case = ask(trade.buyer, order, kind="return_refund", reason="no_reason_7d")
    assert case.reason == "no_reason_7d"
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    clock.advance(secs(NO_REASON_WINDOW))
    case = ask(
        trade.buyer, order, kind="exchange", reason="no_reason_7d", exchange_sku_id=trade.sku.pk
    )
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    clock.advance(secs(1))  # 7 days and a second after receipt
    refused(
        "refund_reason_invalid",
        lambda: ask(trade.buyer, order, kind="return_refund", reason="no_reason_7d"),
    )
    assert ask(trade.buyer, order, kind="return_refund", reason="quality").status == (
        "WAIT_SELLER_AGREE"
    )


def test_no_reason_return_is_off_for_a_product_without_it(trade, make_product):
    product = make_product(
        trade.shop,
        listed=True,
        no_reason_return=False,
        skus=[{"specs": {}, "price_fen": 2000, "stock": 3}],
    )
    order = buy(trade.buyer, (product.skus.get(), 1), ship=True)
    refused(
        "refund_reason_invalid",
        lambda: ask(trade.buyer, order, kind="return_refund", reason="no_reason_7d"),
    )
    refused(  # and never for a refund only, whatever the product
        "refund_reason_invalid",
        lambda: ask(trade.buyer, order, kind="refund_only", reason="no_reason_7d"),
    )


@pytest.mark.parametrize("amount", [0, -1, 10_001, "12.5", "abc", None, True])
def test_amount_must_be_from_one_fen_to_what_was_paid(trade, amount):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)  # 10,000 fen, free postage
    refused(
        "refund_amount_invalid",
        lambda: aftersales.refund_request(
            buyer=trade.buyer,
            order_id=order.pk,
            line_id=order.lines.get().pk,
            kind="refund_only",
            reason="quality",
            amount_fen=amount,
        ),
    )


def test_amount_above_what_is_left_after_a_partial_refund(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=4000)
    seller_agree(case)
    assert fresh(case).status == "SUCCESS"
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, amount=6001))
    assert ask(trade.buyer, order, amount=6000).amount_fen == 6000


def test_nothing_left_to_ask_on_a_fully_refunded_line(trade):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1), ship=True)
    line = order.lines.get(sku=trade.sku)
    seller_agree(ask(trade.buyer, order, line=line))
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, line=line, amount=1))


def test_a_second_open_request_on_the_same_line_is_refused(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    ask(trade.buyer, order, amount=1000)
    refused("refund_already_open", lambda: ask(trade.buyer, order, amount=1000))
    refused("refund_already_open", lambda: ask(trade.buyer, order, kind="return_refund"))


def test_other_lines_of_the_order_take_their_own_requests(trade):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1), ship=True)
    first = ask(trade.buyer, order, line=order.lines.get(sku=trade.sku))
    second = ask(trade.buyer, order, line=order.lines.get(sku=trade.scarce), amount=9000)
    assert first.line != second.line and RefundCase.objects.count() == 2


def test_at_most_three_requests_per_line(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    for _i in range(3):
        aftersales.refund_cancel(buyer=trade.buyer, case_id=ask(trade.buyer, order, amount=10).pk)
    refused("refund_too_many", lambda: ask(trade.buyer, order, amount=10))


def test_other_reason_needs_a_description(trade):
    order = buy(trade.buyer, (trade.sku, 1), ship=True)
    refused("validation_error", lambda: ask(trade.buyer, order, reason="other"))
    assert ask(trade.buyer, order, reason="other", description="包装破了").description == "包装破了"


def test_someone_elses_order_or_line_looks_missing(trade, make_buyer):
    order = buy(trade.buyer, (trade.sku, 1), ship=True)
    stranger = make_buyer()
    refused("not_found", lambda: ask(stranger, order))
    other = buy(trade.buyer, (trade.sku, 1), ship=True)
    refused("not_found", lambda: ask(trade.buyer, order, line=other.lines.get()))
    for line_id in ("x", "-1", "9" * 30, None):
        refused(
            "not_found",
            lambda line_id=line_id: aftersales.refund_request(
                buyer=trade.buyer,
                order_id=order.pk,
                line_id=line_id,
                kind="refund_only",
                reason="quality",
                amount_fen=1,
            ),
        )


# --- exchange ---------------------------------------------------------------------------------


@pytest.fixture
def sizes(trade, make_product):
    """A product of three sizes: 6000 fen (stock 5), 4000 fen (stock 4), 3000 fen (none)."""
    product = make_product(
        trade.shop,
        listed=True,
        skus=[
            {"specs": {"尺码": "L"}, "price_fen": 6000, "stock": 5},
            {"specs": {"尺码": "M"}, "price_fen": 4000, "stock": 4},
            {"specs": {"尺码": "S"}, "price_fen": 3000, "stock": 0},
        ],
    )
    return list(product.skus.order_by("pk"))


def test_exchange_for_a_cheaper_size_refunds_the_difference_and_takes_its_stock(
    trade, sizes, frozen_clock
):
    large, medium, _small = sizes
    order = buy(trade.buyer, (large, 1), ship=True)
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    case = ask(trade.buyer, order, kind="exchange", exchange_sku_id=medium.pk)
    assert (case.amount_fen, case.exchange_sku) == (2000, medium)
    seller_agree(case)
    buyer_return(case)
    assert fresh(case).deadline == frozen_clock + secs(CONFIRM_GOODS_WITHIN)
    seller_confirm(case)
    case = fresh(case)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 2000)
    assert (case.exchange_carrier, case.exchange_tracking_no) == ("顺丰", "SF300")
    assert Sku.objects.get(pk=medium.pk).stock == 3  # the replacement left the shelf
    assert Sku.objects.get(pk=large.pk).stock == 4  # the returned item does not go back
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 2000
    assert order.lines.get().refunded_fen == 2000
    assert actions(case) == ["request", "agree", "return_ship", "exchange_ship", "refunded"]
    ledger_ok()


def test_exchange_for_the_same_size_moves_no_money(trade, sizes):
    large = sizes[0]
    order = buy(trade.buyer, (large, 1), ship=True)
    case = ask(trade.buyer, order, kind="exchange", exchange_sku_id=large.pk)
    assert case.amount_fen == 0
    seller_agree(case)
    buyer_return(case)
    seller_confirm(case)
    case = fresh(case)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 0)
    assert fresh(order).refunded_fen == 0
    assert Sku.objects.get(pk=large.pk).stock == 3  # one sold, one sent as the replacement
    ledger_ok()


def test_exchange_refusals(trade, sizes, make_listing):
    large, medium, small = sizes
    order = buy(trade.buyer, (medium, 1), ship=True)
    for sku_id in (large.pk, small.pk, trade.sku.pk, make_listing().pk, "x", None, 10**20):
        refused(
            "exchange_sku_invalid",
            lambda sku_id=sku_id: ask(trade.buyer, order, kind="exchange", exchange_sku_id=sku_id),
        )
    refused(
        "refund_reason_invalid",
        lambda: ask(
            trade.buyer, order, kind="exchange", reason="not_received", exchange_sku_id=medium.pk
        ),
    )


def test_exchange_replacement_out_of_stock_at_confirmation_is_refused(trade, sizes):
    large, medium, _small = sizes
    order = buy(trade.buyer, (large, 1), ship=True)
    case = ask(trade.buyer, order, kind="exchange", exchange_sku_id=medium.pk)
    seller_agree(case)
    buyer_return(case)
    Sku.objects.filter(pk=medium.pk).update(stock=0)  # sold out meanwhile
    refused("out_of_stock", lambda: seller_confirm(case))


# --- revise and cancel ------------------------------------------------------------------------


def test_revise_a_waiting_request_restarts_the_answer_timer(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=3000)
    clock.advance(timedelta(days=1))
    aftersales.refund_revise(
        buyer=trade.buyer, case_id=case.pk, kind="return_refund", amount_fen=4000, reason="damaged"
    )
    case = fresh(case)
    assert (case.kind, case.reason, case.amount_fen) == ("return_refund", "damaged", 4000)
    assert case.deadline == frozen_clock + timedelta(days=1) + secs(ANSWER_SHIPPED)
    assert actions(case) == ["request", "revise"]


def test_revise_after_a_refusal_goes_back_to_the_seller(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    assert case.refuse_reason
    clock.advance(timedelta(days=2))
    aftersales.refund_revise(buyer=trade.buyer, case_id=case.pk, amount_fen=1500)
    case = fresh(case)
    assert (case.status, case.amount_fen, case.refuse_reason) == ("WAIT_SELLER_AGREE", 1500, "")
    assert case.deadline == frozen_clock + timedelta(days=2) + secs(ANSWER_SHIPPED)


def test_revise_refusals(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=3000)
    revise = aftersales.refund_revise
    refused(
        "refund_amount_invalid", lambda: revise(buyer=trade.buyer, case_id=case.pk, amount_fen=0)
    )
    refused(
        "refund_amount_invalid",
        lambda: revise(buyer=trade.buyer, case_id=case.pk, amount_fen=10_001),
    )
    refused("refund_kind_invalid", lambda: revise(buyer=trade.buyer, case_id=case.pk, kind="x"))
    seller_agree(case)  # refund only: paid at once
    refused(
        "refund_status_invalid", lambda: revise(buyer=trade.buyer, case_id=case.pk, amount_fen=1)
    )
    returned = case_in("WAIT_BUYER_RETURN_GOODS", trade.buyer, order, amount=1000)
    refused(
        "refund_status_invalid",
        lambda: revise(buyer=trade.buyer, case_id=returned.pk, amount_fen=500),
    )
    aftersales.refund_cancel(buyer=trade.buyer, case_id=returned.pk)
    refusal = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, amount=1000)
    disputed(refusal, arbitrator, take=False)
    refused(
        "refund_status_invalid",
        lambda: revise(buyer=trade.buyer, case_id=refusal.pk, amount_fen=500),
    )


def test_an_exchange_cannot_be_revised_into_a_refund(trade, sizes):
    order = buy(trade.buyer, (sizes[0], 1), ship=True)
    case = ask(trade.buyer, order, kind="exchange", exchange_sku_id=sizes[1].pk)
    refused(
        "validation_error",
        lambda: aftersales.refund_revise(buyer=trade.buyer, case_id=case.pk, kind="refund_only"),
    )


@pytest.mark.parametrize("status", [*OPEN, "SELLER_REFUSE_BUYER", "dispute"])
def test_cancel_in_every_open_status_closes_and_resumes_auto_confirm(
    trade, frozen_clock, arbitrator, status
):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    clock.advance(timedelta(days=3))
    case = case_in(
        "SELLER_REFUSE_BUYER" if status == "dispute" else status, trade.buyer, order, amount=2000
    )
    dispute = disputed(case, arbitrator, evidence_over=False) if status == "dispute" else None
    clock.advance(timedelta(days=1))
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    case = fresh(case)
    assert (case.status, case.close_reason, case.deadline) == ("CLOSED", "buyer_cancelled", None)
    assert case.finished_at == clock.now()
    assert actions(case)[-1] == "close"
    order = fresh(order)
    # 10 days after shipment, 3 used before the request: 7 are left, from now
    assert order.confirm_deadline == clock.now() + timedelta(days=7)
    assert order.confirm_paused_seconds is None
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet
    if dispute is not None:
        dispute = fresh(dispute)
        assert (dispute.status, dispute.withdrawn_by_party) == ("withdrawn", "buyer")
    refused(
        "refund_status_invalid",
        lambda: aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk),
    )
    ledger_ok()


def test_only_the_buyer_cancels_or_ships_the_return(trade, make_buyer):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_BUYER_RETURN_GOODS", trade.buyer, order)
    stranger = make_buyer()
    for who in (stranger, trade.shop.owner):
        refused("not_found", lambda who=who: aftersales.refund_cancel(buyer=who, case_id=case.pk))
        refused(
            "not_found",
            lambda who=who: aftersales.refund_return_ship(
                buyer=who, case_id=case.pk, carrier="中通", tracking_no="1"
            ),
        )
    for case_id in ("abc", "", None, "1" * 40, -1):
        refused(
            "not_found",
            lambda case_id=case_id: aftersales.refund_cancel(buyer=trade.buyer, case_id=case_id),
        )


# --- the seller's answer ----------------------------------------------------------------------


def test_agree_to_a_refund_only_pays_at_once(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=2500)
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    seller_agree(case)
    case = fresh(case)
    assert (case.status, case.refunded_fen, case.deadline) == ("SUCCESS", 2500, None)
    assert case.agreed_at is not None and case.finished_at is not None
    assert actions(case) == ["request", "agree", "refunded"]
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + 2500
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (OrderStatus.WAIT_BUYER_CONFIRM_GOODS, 2500)
    assert order.confirm_deadline is not None
    ledger_ok()


@pytest.mark.parametrize("kind", ["return_refund", "exchange"])
def test_agree_to_a_return_asks_for_the_goods_within_7_days(trade, frozen_clock, kind):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, kind=kind, exchange_sku_id=trade.sku.pk)
    refused(
        "field_required",
        lambda: aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk),
    )
    seller_agree(case)
    case = fresh(case)
    assert (case.status, case.return_address) == ("WAIT_BUYER_RETURN_GOODS", RETURN_ADDRESS)
    assert case.deadline == frozen_clock + secs(RETURN_WITHIN)
    assert fresh(order).refunded_fen == 0
    buyer_return(case)
    case = fresh(case)
    assert case.status == "WAIT_SELLER_CONFIRM_GOODS"
    assert (case.return_carrier, case.return_tracking_no) == ("中通", "ZT200")
    assert case.returned_at == frozen_clock
    assert case.deadline == frozen_clock + secs(CONFIRM_GOODS_WITHIN)


def test_return_and_refund_confirmed_pays_the_amount(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order, amount=5000)
    seller_confirm(case)
    case = fresh(case)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 5000)
    assert "goods_confirm" in actions(case)
    assert fresh(order).refunded_fen == 5000
    ledger_ok()


def test_refuse_gives_the_buyer_5_days(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order)
    refused(
        "field_required",
        lambda: aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason=" "),
    )
    seller_refuse(case, reason="已签收且无质量问题")
    case = fresh(case)
    assert (case.status, case.refuse_reason) == ("SELLER_REFUSE_BUYER", "已签收且无质量问题")
    assert case.deadline == frozen_clock + secs(ESCALATE_WITHIN)
    assert fresh(order).confirm_deadline is None  # still paused: the case is open


def test_refuse_the_returned_goods(trade, frozen_clock):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order)
    aftersales.refund_goods_refuse(actor=trade.shop.owner, case_id=case.pk, reason="退回的是空盒")
    case = fresh(case)
    assert (case.status, case.refuse_reason) == ("SELLER_REFUSE_BUYER", "退回的是空盒")
    assert case.deadline == frozen_clock + secs(ESCALATE_WITHIN)
    assert actions(case)[-1] == "goods_refuse"


def test_seller_actions_in_the_wrong_status(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    owner = trade.shop.owner
    waiting = ask(trade.buyer, order, kind="return_refund")
    refused("refund_status_invalid", lambda: seller_confirm(waiting))
    refused(
        "refund_status_invalid",
        lambda: aftersales.refund_goods_refuse(actor=owner, case_id=waiting.pk, reason="x"),
    )
    refused("refund_status_invalid", lambda: buyer_return(waiting))
    seller_agree(waiting)
    refused("refund_status_invalid", lambda: seller_agree(waiting))
    refused("refund_status_invalid", lambda: seller_refuse(waiting))
    refused("refund_status_invalid", lambda: seller_confirm(waiting))
    buyer_return(waiting)
    refused("refund_status_invalid", lambda: buyer_return(waiting))
    refused("refund_status_invalid", lambda: seller_agree(waiting))
    seller_confirm(waiting)
    for action in (seller_agree, seller_refuse, seller_confirm, buyer_return):
        refused("refund_status_invalid", lambda action=action: action(waiting))


def test_another_shop_or_a_buyer_cannot_answer(trade, make_listing):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order)
    other_owner = make_listing().shop.owner
    refused(
        "not_found",
        lambda: aftersales.refund_agree(actor=other_owner, case_id=case.pk, return_address="x"),
    )
    refused(
        "not_found",
        lambda: aftersales.refund_refuse(actor=other_owner, case_id=case.pk, reason="x"),
    )
    refused(
        "not_shop_staff",
        lambda: aftersales.refund_agree(actor=trade.buyer, case_id=case.pk, return_address="x"),
    )


def test_staff_answer_with_the_refund_permission_only(trade):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=100)
    owner = trade.shop.owner
    warehouse = staff_create(
        actor=owner, username="仓库小王", password=TEST_PASSWORD, role="warehouse"
    )
    service = staff_create(actor=owner, username="客服小李", password=TEST_PASSWORD, role="service")
    refused(
        "staff_role_forbidden",
        lambda: aftersales.refund_agree(actor=warehouse.user, case_id=case.pk),
    )
    aftersales.refund_agree(actor=service.user, case_id=case.pk)
    assert fresh(case).status == "SUCCESS"


# --- platform intervention --------------------------------------------------------------------


@pytest.mark.parametrize("by", ["buyer", "seller"])
def test_either_side_asks_the_platform_after_a_refusal(trade, frozen_clock, arbitrator, by):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    actor = trade.buyer if by == "buyer" else trade.shop.owner
    dispute = aftersales.dispute_open(actor=actor, case_id=case.pk, reason="协商不成")
    assert (dispute.status, dispute.opened_by_party, dispute.opened_by) == ("requested", by, actor)
    case = fresh(case)
    assert case.status == "SELLER_REFUSE_BUYER" and case.deadline is None  # timer stopped
    refused(
        "dispute_not_allowed",
        lambda: aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="again"),
    )
    aftersales.dispute_take(operator=arbitrator, dispute_id=dispute.pk)
    dispute = fresh(dispute)
    assert (dispute.status, dispute.operator) == ("evidence", arbitrator)
    assert dispute.evidence_deadline == frozen_clock + secs(EVIDENCE_PHASE)
    refused(
        "dispute_status_invalid",
        lambda: aftersales.dispute_take(operator=arbitrator, dispute_id=dispute.pk),
    )


def test_the_platform_steps_in_only_after_a_refusal(trade, arbitrator, make_buyer):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, kind="return_refund")
    for status in ("WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"):
        assert fresh(case).status == status
        refused(
            "dispute_not_allowed",
            lambda: aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="x"),
        )
        if status == "WAIT_SELLER_AGREE":
            seller_agree(case)
        elif status == "WAIT_BUYER_RETURN_GOODS":
            buyer_return(case)
    refusal = case_in(
        "SELLER_REFUSE_BUYER", trade.buyer, buy(trade.buyer, (trade.sku, 1), ship=True)
    )
    for who in (make_buyer(), arbitrator):
        refused(
            "not_found",
            lambda who=who: aftersales.dispute_open(actor=who, case_id=refusal.pk, reason="x"),
        )
    refused(
        "field_required",
        lambda: aftersales.dispute_open(actor=trade.buyer, case_id=refusal.pk, reason=""),
    )


def test_evidence_from_both_sides_during_the_phase_only(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    aftersales.case_message_add(actor=trade.buyer, case_id=case.pk, text="协商中")
    dispute = disputed(case, arbitrator, evidence_over=False)
    buyer_says = aftersales.case_message_add(actor=trade.buyer, case_id=case.pk, text="照片")
    seller_says = aftersales.case_message_add(actor=trade.shop.owner, case_id=case.pk, text="物流")
    assert (buyer_says.is_evidence, buyer_says.party) == (True, "buyer")
    assert (seller_says.is_evidence, seller_says.party) == (True, "seller")
    clock.advance(secs(EVIDENCE_PHASE))
    assert fresh(dispute).evidence_over
    for who in (trade.buyer, trade.shop.owner):
        refused(
            "dispute_status_invalid",
            lambda who=who: aftersales.case_message_add(actor=who, case_id=case.pk, text="迟到"),
        )
    note = aftersales.case_message_add(actor=arbitrator, case_id=case.pk, text="核实中")
    assert note.party == "operator"
    message_events = CaseEvent.objects.filter(case=case, action="message")
    assert [e.is_evidence for e in message_events] == [False]


def test_ruling_needs_the_operator_to_take_the_case_and_the_evidence_phase_to_end(
    trade, arbitrator, make_operator
):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = disputed(case, arbitrator, take=False)

    def rule(**kw):
        kw.setdefault("operator", arbitrator)
        return aftersales.dispute_rule(dispute_id=dispute.pk, reason="依据聊天记录", **kw)

    refused("dispute_status_invalid", lambda: rule(decision="seller"))
    aftersales.dispute_take(operator=arbitrator, dispute_id=dispute.pk)
    refused("evidence_phase_open", lambda: rule(decision="buyer", amount_fen=100))
    clock.advance(secs(EVIDENCE_PHASE - 1))
    refused("evidence_phase_open", lambda: rule(decision="seller"))
    clock.advance(secs(1))
    refused("forbidden", lambda: rule(decision="seller", operator=make_operator("catalog")))
    refused("forbidden", lambda: rule(decision="seller", operator=trade.shop.owner))
    refused("validation_error", lambda: rule(decision="maybe"))
    for amount in (0, 10_001, None, "x"):
        refused(
            "refund_amount_invalid", lambda amount=amount: rule(decision="buyer", amount_fen=amount)
        )
    rule(decision="seller")
    refused("dispute_status_invalid", lambda: rule(decision="seller"))
    refused("dispute_status_invalid", lambda: rule(decision="buyer", amount_fen=100))


@pytest.mark.parametrize("amount", [10_000, 3_300])
def test_ruling_for_the_buyer_pays_at_once(trade, arbitrator, amount):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = disputed(case, arbitrator)
    wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
    aftersales.dispute_rule(
        operator=arbitrator, dispute_id=dispute.pk, decision="buyer", amount_fen=amount, reason="r"
    )
    dispute, case = fresh(dispute), fresh(case)
    assert (dispute.status, dispute.ruling_amount_fen) == ("ruled_buyer", amount)
    assert (dispute.ruled_by, dispute.ruling_reason, dispute.not_as_described) == (
        arbitrator,
        "r",
        False,
    )
    assert (case.status, case.refunded_fen) == ("SUCCESS", amount)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + amount
    order = fresh(order)
    assert order.refunded_fen == amount
    assert order.status == ("TRADE_CLOSED" if amount == 10_000 else "WAIT_BUYER_CONFIRM_GOODS")
    assert not Violation.objects.exists()
    ledger_ok()


def test_ruling_not_as_described_records_a_violation(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="return_refund")
    dispute = disputed(case, arbitrator)
    aftersales.dispute_rule(
        operator=arbitrator,
        dispute_id=dispute.pk,
        decision="buyer",
        amount_fen=5000,
        reason="实物与描述不符",
        not_as_described=True,
    )
    violation = Violation.objects.get()
    assert (violation.shop, violation.kind, violation.points) == (trade.shop, "not_as_described", 6)
    assert (violation.order_id, violation.case_id) == (order.pk, case.pk)
    ledger_ok()


def test_ruling_for_the_seller_closes_and_auto_confirm_resumes_with_the_time_left(
    trade, frozen_clock, arbitrator
):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    clock.advance(timedelta(days=4))  # 6 days of auto-confirm left when the request opens
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = disputed(case, arbitrator)
    clock.advance(timedelta(days=2))
    aftersales.dispute_rule(
        operator=arbitrator, dispute_id=dispute.pk, decision="seller", reason="证据不足"
    )
    case, order = fresh(case), fresh(order)
    assert (case.status, case.close_reason, case.refunded_fen) == ("CLOSED", "ruled_for_seller", 0)
    assert order.confirm_deadline == clock.now() + timedelta(days=6)
    assert order.refunded_fen == 0
    ledger_ok()


def test_buyer_withdraws_the_intervention_and_the_request_closes(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = disputed(case, arbitrator, evidence_over=False)
    aftersales.dispute_withdraw(actor=trade.buyer, dispute_id=dispute.pk)
    dispute, case = fresh(dispute), fresh(case)
    assert (dispute.status, dispute.withdrawn_by_party) == ("withdrawn", "buyer")
    assert (case.status, case.close_reason) == ("CLOSED", "buyer_cancelled")
    assert fresh(order).confirm_deadline is not None
    for actor in (trade.buyer, trade.shop.owner):
        refused(
            "dispute_status_invalid",
            lambda actor=actor: aftersales.dispute_withdraw(actor=actor, dispute_id=dispute.pk),
        )
    refused(
        "dispute_status_invalid",
        lambda: aftersales.dispute_rule(
            operator=arbitrator, dispute_id=dispute.pk, decision="seller", reason="x"
        ),
    )


@pytest.mark.parametrize(
    ("kind", "returned", "status", "refunded"),
    [
        ("refund_only", False, "SUCCESS", 4000),  # the seller now agrees: refunded at once
        ("return_refund", False, "WAIT_BUYER_RETURN_GOODS", 0),  # ... and wants the goods
        ("return_refund", True, "SUCCESS", 4000),  # the goods are back: accepted
        ("exchange", True, "SUCCESS", 5000),  # no replacement: the line is refunded
    ],
)
def test_seller_withdraws_the_intervention_and_agrees(
    trade, arbitrator, kind, returned, status, refunded
):
    order = buy(trade.buyer, (trade.sku, 1), ship=True)
    extra = {"exchange_sku_id": trade.sku.pk} if kind == "exchange" else {"amount": 4000}
    case = case_in(
        "WAIT_SELLER_CONFIRM_GOODS" if returned else "WAIT_SELLER_AGREE",
        trade.buyer,
        order,
        kind=kind,
        **extra,
    )
    if returned:
        aftersales.refund_goods_refuse(actor=trade.shop.owner, case_id=case.pk, reason="x")
    else:
        seller_refuse(case)
    dispute = disputed(case, arbitrator, by=trade.shop.owner, evidence_over=False)
    aftersales.dispute_withdraw(actor=trade.shop.owner, dispute_id=dispute.pk)
    dispute, case = fresh(dispute), fresh(case)
    assert (dispute.status, dispute.withdrawn_by_party) == ("withdrawn", "seller")
    assert (case.status, case.refunded_fen) == (status, refunded)
    if status == "WAIT_BUYER_RETURN_GOODS":
        assert case.return_address  # the shop's usual address
        assert case.deadline is not None
    ledger_ok()


def test_only_the_parties_withdraw_and_only_operators_take(trade, arbitrator, make_buyer):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only")
    dispute = disputed(case, arbitrator, take=False)
    stranger = make_buyer()
    refused(
        "not_found",
        lambda: aftersales.dispute_withdraw(actor=stranger, dispute_id=dispute.pk),
    )
    refused(
        "not_found", lambda: aftersales.dispute_withdraw(actor=arbitrator, dispute_id=dispute.pk)
    )
    refused(
        "forbidden", lambda: aftersales.dispute_take(operator=trade.buyer, dispute_id=dispute.pk)
    )
    for dispute_id in ("x", None, 10**30):
        refused(
            "not_found",
            lambda dispute_id=dispute_id: aftersales.dispute_take(
                operator=arbitrator, dispute_id=dispute_id
            ),
        )


def test_a_finished_case_takes_no_more_messages_from_the_parties(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = ask(trade.buyer, order, amount=100)
    seller_agree(case)
    refused(
        "refund_status_invalid",
        lambda: aftersales.case_message_add(actor=trade.buyer, case_id=case.pk, text="hi"),
    )
    assert aftersales.case_message_add(actor=arbitrator, case_id=case.pk, text="备注").pk


def test_the_order_cannot_be_confirmed_or_refunded_whole_while_a_request_is_open(trade):
    order = buy(trade.buyer, (trade.sku, 2))
    case = ask(trade.buyer, order, amount=100)
    refused(
        "refund_open",
        lambda: order_refund_before_shipment(buyer=trade.buyer, order_id=order.pk),
    )
    aftersales.refund_cancel(buyer=trade.buyer, case_id=case.pk)
    shipped = buy(trade.buyer, (trade.sku, 1), ship=True)
    ask(trade.buyer, shipped, amount=100)
    refused("refund_open", lambda: order_confirm(buyer=trade.buyer, order_id=shipped.pk, pin=PIN))
    assert Order.objects.get(pk=shipped.pk).status == "WAIT_BUYER_CONFIRM_GOODS"


def test_dispute_statuses_are_the_top_cs_statuses():
    assert [s.value for s in DisputeStatus] == [
        "requested",
        "evidence",
        "ruled_buyer",
        "ruled_seller",
        "withdrawn",
    ]
    assert [s.value for s in RefundStatus] == [
        "WAIT_SELLER_AGREE",
        "WAIT_BUYER_RETURN_GOODS",
        "WAIT_SELLER_CONFIRM_GOODS",
        "SELLER_REFUSE_BUYER",
        "SUCCESS",
        "CLOSED",
    ]
