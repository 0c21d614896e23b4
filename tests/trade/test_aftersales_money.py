"""After-sales money, stage by stage (PRODUCT.md "The money model"):

- before release a refund comes out of escrow; a fully refunded order is TRADE_CLOSED (before
  shipment with its postage and its stock back);
- after release the platform returns its commission share pro rata and pays the seller's
  share at once, recovering it from the seller's available balance, then the deposit, and
  what is still missing from the next income (or the next deposit); no balance goes negative;
- advance compensation is paid by the platform and recovered the same way, visibly;
- late-shipment compensation is 30 % of the items, capped at 500 yuan.

Every test ends with ``jishi ledger check`` passing.
"""

from datetime import timedelta

import pytest

from jishi.aftersales import services as aftersales
from jishi.aftersales.selectors import debts_for_shop
from jishi.aftersales.timers import cases_sweep
from jishi.catalog.services import category_create
from jishi.core import clock
from jishi.core.rules import rule_set
from jishi.ledger.models import Transfer
from jishi.ledger.selectors import kind_total
from jishi.ledger.services import escrow_account, wallet_account
from jishi.orders.models import OrderStatus
from jishi.orders.services import order_confirm, shipping_template_set
from jishi.orders.timers import orders_sweep
from jishi.payments.models import ShopDebt
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.payments.services import deposit_fund, withdrawal_create
from tests.trade.aftersales_kit import (
    SHIP_WITHIN,
    ask,
    buy,
    buyer_return,
    case_in,
    fresh,
    ledger_ok,
    refused,
    seller_agree,
    seller_confirm,
)
from tests.trade.conftest import PIN, fund

pytestmark = pytest.mark.django_db

LATE = timedelta(seconds=SHIP_WITHIN)


def wallet(user) -> int:
    return wallet_balance(user_id=user.pk).balance_fen


def money(shop) -> tuple[int, int, int]:
    """(available, deposit, owed) of a shop."""
    m = shop_money(shop_id=shop.pk)
    return m.available_fen, m.deposit_fen, m.owed_fen


def commission_total() -> int:
    return kind_total("platform_commission")


def refund(buyer, order, amount, **kw):
    """A refund only, agreed by the seller: paid at once."""
    case = ask(buyer, order, amount=amount, **kw)
    seller_agree(case)
    case = fresh(case)
    assert case.status == "SUCCESS"
    return case


@pytest.fixture
def postage(trade):
    """The trade shop charges 8 yuan postage on every order."""
    shipping_template_set(actor=trade.shop.owner, default_fee_fen=800)
    return 800


# --- before release: out of escrow ------------------------------------------------------------


def test_unshipped_full_refund_with_postage_closes_the_order_and_returns_the_stock(trade, postage):
    order = buy(trade.buyer, (trade.sku, 2))
    assert order.total_fen == 10_800 and fresh(trade.sku).stock == 8
    before = wallet(trade.buyer)
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, amount=10_801))
    case = refund(trade.buyer, order, 10_800)
    assert case.refunded_fen == 10_800
    order = fresh(order)
    assert (order.status, order.close_reason) == (OrderStatus.TRADE_CLOSED, "fully_refunded")
    assert (order.refunded_fen, order.shipping_refunded_fen) == (10_800, 800)
    assert (order.ship_deadline, order.released_fen, order.commission_fen) == (None, 0, 0)
    assert order.lines.get().refunded_fen == 10_000
    assert fresh(trade.sku).stock == 10
    assert wallet(trade.buyer) == before + 10_800
    assert money(trade.shop) == (0, 0, 0)
    clock.advance(LATE)
    assert orders_sweep() == 0  # a closed order is never late
    ledger_ok()


def test_unshipped_partial_refunds_keep_the_stock_until_the_line_is_refunded(trade, postage):
    order = buy(trade.buyer, (trade.sku, 2))
    refund(trade.buyer, order, 4000)
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (OrderStatus.WAIT_SELLER_SEND_GOODS, 4000)
    assert fresh(trade.sku).stock == 8  # the seller still ships the rest
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, amount=6801))
    refund(trade.buyer, order, 6800)  # the rest of the line and the postage
    order = fresh(order)
    assert (order.status, order.refunded_fen, order.shipping_refunded_fen) == (
        OrderStatus.TRADE_CLOSED,
        10_800,
        800,
    )
    assert fresh(trade.sku).stock == 10
    ledger_ok()


def test_postage_goes_back_with_the_last_line_only(trade, postage):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1))  # 5000 + 9000 + 800
    small, big = order.lines.get(sku=trade.sku), order.lines.get(sku=trade.scarce)
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, line=small, amount=5001))
    refund(trade.buyer, order, 5000, line=small)
    assert (fresh(trade.sku).stock, fresh(trade.scarce).stock) == (10, 0)
    assert fresh(order).status == OrderStatus.WAIT_SELLER_SEND_GOODS
    refund(trade.buyer, order, 9800, line=big)
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (OrderStatus.TRADE_CLOSED, 14_800)
    assert (fresh(trade.sku).stock, fresh(trade.scarce).stock) == (10, 1)
    assert wallet(trade.buyer) == 100_000
    ledger_ok()


def test_a_refund_on_a_shipped_order_keeps_the_rest_in_escrow_and_commission_on_the_kept(
    trade, postage
):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order, amount=3000)
    seller_confirm(case)
    assert fresh(order).refunded_fen == 3000
    commission = commission_total()
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order = fresh(order)
    # 10,800 paid, 3,000 back: 7,800 held; 2 % of the 7,000 the line kept is commission
    assert (order.commission_fen, order.released_fen) == (140, 7660)
    assert order.lines.get().commission_fen == 140
    assert commission_total() - commission == 140
    assert money(trade.shop) == (7660, 0, 0)
    assert fresh(trade.sku).stock == 8  # shipped goods are not restocked by a refund
    ledger_ok()


def test_shipped_full_return_and_refund_closes_the_order(trade, postage):
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("WAIT_SELLER_CONFIRM_GOODS", trade.buyer, order, amount=10_800)
    seller_confirm(case)
    order = fresh(order)
    assert (order.status, order.refunded_fen, order.confirm_deadline) == (
        OrderStatus.TRADE_CLOSED,
        10_800,
        None,
    )
    assert wallet(trade.buyer) == 100_000
    assert fresh(trade.sku).stock == 8
    ledger_ok()


# --- after release: commission back, seller share recovered -----------------------------------


def test_refunds_after_release_return_commission_pro_rata_and_claw_back(trade):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)  # 10,000: 9,800 + 200 commission
    assert money(trade.shop) == (9800, 0, 0)
    commission = commission_total()
    refund(trade.buyer, order, 3000)
    order = fresh(order)
    # the line keeps 7,000: commission 140, so 60 comes back and the seller pays 2,940
    assert (order.refunded_fen, order.commission_fen, order.released_fen) == (3000, 140, 6860)
    assert commission_total() == commission - 60
    assert money(trade.shop) == (6860, 0, 0)
    debt = ShopDebt.objects.get()
    assert (debt.kind, debt.amount_fen, debt.recovered_fen) == ("refund_after_release", 2940, 2940)
    assert debt.settled_at is not None
    assert order.status == OrderStatus.TRADE_FINISHED
    ledger_ok()
    refund(trade.buyer, order, 7000)
    order = fresh(order)
    assert (order.status, order.refunded_fen, order.commission_fen, order.released_fen) == (
        OrderStatus.TRADE_CLOSED,
        10_000,
        0,
        0,
    )
    assert commission_total() == commission - 200
    assert money(trade.shop) == (0, 0, 0)
    assert wallet(trade.buyer) == 100_000
    assert escrow_account(order.pk).balance == 0
    kinds = sorted(Transfer.objects.filter(order_id=order.pk).values_list("kind", flat=True))
    assert kinds == [
        "clawback",
        "clawback",
        "commission",
        "commission_return",
        "commission_return",
        "payment",
        "refund",
        "refund",
        "release",
    ]
    ledger_ok()


def test_many_small_refunds_after_release_return_exactly_the_commission(
    trade, make_listing, make_operator
):
    category = category_create(
        operator=make_operator("catalog"), name="奇数费率", commission_rate_bp=333
    )
    rule_set(actor=None, name="refund_cases_per_line_max", value=10)
    sku = make_listing(shop=trade.shop, price_fen=3337, category=category)
    order = buy(trade.buyer, (sku, 3), finish=True)  # 10,011 fen; 3.33 % = 333 commission
    assert fresh(order).commission_fen == 333
    commission = commission_total()
    for amount in (1, 1, 149, 3333, 17, 6510):
        refund(trade.buyer, order, amount)
        ledger_ok()
    order = fresh(order)
    assert (order.status, order.commission_fen, order.released_fen) == (
        OrderStatus.TRADE_CLOSED,
        0,
        0,
    )
    assert commission_total() == commission - 333
    assert money(trade.shop) == (0, 0, 0)


def test_after_release_postage_comes_back_with_the_last_line(trade, postage):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1), finish=True)  # 14,800
    assert fresh(order).commission_fen == 100 + 180
    small, big = order.lines.get(sku=trade.sku), order.lines.get(sku=trade.scarce)
    refund(trade.buyer, order, 5000, line=small)
    assert fresh(order).commission_fen == 180
    refund(trade.buyer, order, 9800, line=big)
    order = fresh(order)
    assert (order.status, order.refunded_fen, order.commission_fen) == ("TRADE_CLOSED", 14_800, 0)
    assert money(trade.shop) == (0, 0, 0)
    ledger_ok()


def test_recovery_takes_the_balance_then_the_deposit_then_the_next_income(trade):
    owner = trade.shop.owner
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    deposit_fund(actor=owner, amount_fen=2000, pin=PIN, source="shop")
    withdrawal_create(actor=owner, amount_fen=7000, pin=PIN, source="shop")  # still pending
    assert money(trade.shop) == (800, 2000, 0)
    refund(trade.buyer, order, 10_000)
    # 200 commission back; the seller's 9,800: 800 balance + 2,000 deposit, 7,000 owed
    assert money(trade.shop) == (0, 0, 7000)
    assert wallet(trade.buyer) == 100_000  # the buyer is paid in full at once
    debt = ShopDebt.objects.get()
    assert (debt.amount_fen, debt.recovered_fen, debt.settled_at) == (9800, 2800, None)
    assert list(debts_for_shop(actor=owner)) == [debt]
    ledger_ok()
    buy(trade.buyer, (trade.sku, 1), finish=True)  # the next income: 4,900
    assert money(trade.shop) == (0, 0, 2100)
    ledger_ok()
    fund(owner, 5000)
    deposit_fund(actor=owner, amount_fen=3000, pin=PIN, source="wallet")
    assert money(trade.shop) == (0, 900, 0)
    debt = fresh(debt)
    assert debt.recovered_fen == 9800 and debt.settled_at is not None
    assert wallet(owner) == 2000
    ledger_ok()


def test_the_deposit_refusals(trade, make_buyer):
    owner = trade.shop.owner
    wallet_account(owner.pk)  # opened (empty) by the first look at it
    buy(trade.buyer, (trade.sku, 1), finish=True)  # 4,900 available
    refused("amount_invalid", lambda: deposit_fund(actor=owner, amount_fen=0, pin=PIN))
    refused(
        "deposit_source_invalid",
        lambda: deposit_fund(actor=owner, amount_fen=100, pin=PIN, source="bank"),
    )
    refused(
        "insufficient_funds",
        lambda: deposit_fund(actor=owner, amount_fen=4901, pin=PIN, source="shop"),
    )
    refused("insufficient_funds", lambda: deposit_fund(actor=owner, amount_fen=1, pin=PIN))
    buyer = make_buyer()
    refused("not_shop_staff", lambda: deposit_fund(actor=buyer, amount_fen=100, pin=PIN))
    with pytest.raises(Exception) as caught:
        deposit_fund(actor=owner, amount_fen=100, pin="000000", source="shop")
    assert caught.value.code == "pin_wrong"
    assert money(trade.shop) == (4900, 0, 0)


def test_an_exchange_for_a_cheaper_size_after_release_claws_back_the_difference(
    trade, make_product
):
    product = make_product(
        trade.shop,
        listed=True,
        skus=[
            {"specs": {"尺码": "L"}, "price_fen": 6000, "stock": 5},
            {"specs": {"尺码": "M"}, "price_fen": 4000, "stock": 4},
        ],
    )
    large, medium = product.skus.order_by("pk")
    order = buy(trade.buyer, (large, 1), finish=True)  # 5,880 to the seller, 120 commission
    case = ask(trade.buyer, order, kind="exchange", exchange_sku_id=medium.pk)
    seller_agree(case)
    buyer_return(case)
    seller_confirm(case)
    order = fresh(order)
    # the line keeps 4,000: commission 80, so 40 back; the seller pays 1,960
    assert (order.refunded_fen, order.commission_fen, order.released_fen) == (2000, 80, 3920)
    assert money(trade.shop) == (3920, 0, 0)
    assert order.status == OrderStatus.TRADE_FINISHED
    ledger_ok()


# --- advance compensation ---------------------------------------------------------------------


@pytest.fixture
def arbitrator(make_operator):
    return make_operator("arbitrator")


def advance(operator, order, amount, **kw):
    return aftersales.advance_pay(
        operator=operator, order_id=order.pk, amount_fen=amount, reason="平台先行垫付", **kw
    )


def test_advance_pays_the_buyer_at_once_and_recovers_from_the_shop(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    before = wallet(trade.buyer)
    advance(arbitrator, order, 3000)
    assert wallet(trade.buyer) == before + 3000
    order = fresh(order)
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (3000, 6800, 200)
    debt = ShopDebt.objects.get()
    assert (debt.kind, debt.amount_fen, debt.recovered_fen, debt.order_id) == (
        "advance",
        3000,
        3000,
        order.pk,
    )
    assert list(debts_for_shop(actor=trade.shop.owner)) == [debt]  # visible to the seller
    assert money(trade.shop) == (6800, 0, 0)
    ledger_ok()


def test_advance_beyond_the_shops_money_is_owed_and_collected_later(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    withdrawal_create(actor=trade.shop.owner, amount_fen=9000, pin=PIN, source="shop")
    advance(arbitrator, order, 5000)
    assert money(trade.shop) == (0, 0, 4200)
    buy(trade.buyer, (trade.sku, 1), finish=True)
    assert money(trade.shop) == (700, 0, 0)
    assert ShopDebt.objects.get().settled_at is not None
    ledger_ok()


def test_advance_is_for_finished_orders_within_what_is_left(trade, arbitrator, make_operator):
    shipped = buy(trade.buyer, (trade.sku, 2), ship=True)
    refused("advance_not_allowed", lambda: advance(arbitrator, shipped, 100))
    unshipped = buy(trade.buyer, (trade.sku, 1))
    refused("advance_not_allowed", lambda: advance(arbitrator, unshipped, 100))
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    for amount in (0, -5, "1.5", None):
        refused("refund_amount_invalid", lambda amount=amount: advance(arbitrator, order, amount))
    refused("forbidden", lambda: advance(make_operator("catalog"), order, 100))
    refused("forbidden", lambda: advance(trade.shop.owner, order, 100))
    refused(
        "not_found",
        lambda: aftersales.advance_pay(operator=arbitrator, order_id="x", amount_fen=1, reason="r"),
    )
    refund(trade.buyer, order, 6000)
    # 4,000 is left; the shop holds 3,920 of it (the platform's commission is 80)
    refused("refund_amount_invalid", lambda: advance(arbitrator, order, 4000))
    advance(arbitrator, order, 3920)
    refused("advance_not_allowed", lambda: advance(arbitrator, order, 1))
    ledger_ok()


def test_advance_can_never_take_more_than_the_shop_received(trade, arbitrator):
    """A full advance would have driven the order's released amount below zero (a crash):
    the advance is recovered from the seller, so it is capped at what the seller got."""
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    refused("refund_amount_invalid", lambda: advance(arbitrator, order, 10_000))
    advance(arbitrator, order, 9800)
    order = fresh(order)
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (9800, 0, 200)
    assert money(trade.shop) == (0, 0, 0)
    ledger_ok()


def test_a_request_after_an_advance_refunds_at_most_what_the_shop_still_holds(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    advance(arbitrator, order, 5000)
    refused("refund_amount_invalid", lambda: ask(trade.buyer, order, amount=4801))
    case = refund(trade.buyer, order, 4800)
    order = fresh(order)
    assert case.refunded_fen == 4800
    # the line now keeps 5,200: commission 104, so 96 came back and the seller paid 4,704
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (9800, 96, 104)
    assert money(trade.shop) == (96, 0, 0)
    ledger_ok()


def test_an_advance_while_a_request_is_open_does_not_break_its_refund(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    case = ask(trade.buyer, order, amount=10_000)
    advance(arbitrator, order, 5000)
    seller_agree(case)  # the request asked more than is left: it gets what the shop holds
    case, order = fresh(case), fresh(order)
    assert (case.status, case.refunded_fen) == ("SUCCESS", 4800)
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (9800, 96, 104)
    ledger_ok()


def test_an_exchange_after_an_advance_times_out_without_breaking_the_money(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    advance(arbitrator, order, 5000)
    case = case_in(
        "WAIT_SELLER_CONFIRM_GOODS",
        trade.buyer,
        order,
        kind="exchange",
        exchange_sku_id=trade.sku.pk,
    )
    clock.advance(timedelta(days=11))
    assert cases_sweep() == 1
    case, order = fresh(case), fresh(order)
    assert case.status == "SUCCESS" and case.refunded_fen == 4800
    assert (order.refunded_fen, order.released_fen, order.commission_fen) == (9800, 96, 104)
    ledger_ok()


def test_advance_with_an_idempotency_key_pays_once(trade, arbitrator):
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    before = wallet(trade.buyer)
    advance(arbitrator, order, 1000, idempotency_key="k-1")
    advance(arbitrator, order, 1000, idempotency_key="k-1")
    assert wallet(trade.buyer) == before + 1000
    advance(arbitrator, order, 1000, idempotency_key="k-2")
    assert wallet(trade.buyer) == before + 2000
    assert ShopDebt.objects.filter(kind="advance").count() == 2
    ledger_ok()


def test_an_advance_that_fails_midway_leaves_nothing_behind(trade, arbitrator, monkeypatch):
    """advance_pay is one transaction: a crash after the money moved undoes the move."""
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    before = wallet(trade.buyer)

    def crash(**kwargs):
        raise RuntimeError("crash after the transfer")

    monkeypatch.setattr(aftersales, "audit_record", crash)
    with pytest.raises(RuntimeError):
        advance(arbitrator, order, 1000)
    assert wallet(trade.buyer) == before
    assert not ShopDebt.objects.exists()
    assert fresh(order).refunded_fen == 0
    ledger_ok()


def test_a_retried_advance_answers_even_after_it_used_up_the_order(trade, arbitrator):
    """The retry of an advance that took all that was left must not be refused as too much."""
    order = buy(trade.buyer, (trade.sku, 2), finish=True)
    before = wallet(trade.buyer)
    advance(arbitrator, order, 9800, idempotency_key="all")
    assert advance(arbitrator, order, 9800, idempotency_key="all").pk == order.pk
    assert wallet(trade.buyer) == before + 9800
    assert ShopDebt.objects.filter(kind="advance").count() == 1
    ledger_ok()


# --- late shipment ----------------------------------------------------------------------------


def test_late_shipment_compensation_is_not_the_orders_money(trade):
    order = buy(trade.buyer, (trade.sku, 2))  # 10,000 of items: 3,000 compensation
    clock.advance(LATE)
    orders_sweep()
    assert money(trade.shop) == (0, 0, 3000)
    refund(trade.buyer, order, 10_000)  # the buyer keeps the compensation
    assert wallet(trade.buyer) == 100_000 + 3000
    assert fresh(order).status == OrderStatus.TRADE_CLOSED
    buy(trade.buyer, (trade.sku, 2), finish=True)  # the shop's next income repays it
    assert money(trade.shop) == (9800 - 3000, 0, 0)
    ledger_ok()


def test_compensation_cap_on_a_large_order(trade, make_listing, make_buyer):
    sku = make_listing(shop=trade.shop, price_fen=1_000_000, stock=3)  # 10,000 yuan
    buyer = make_buyer(balance_fen=0)
    for _i in range(3):
        fund(buyer, 5_000_000)
    order = buy(buyer, (sku, 1))
    clock.advance(LATE)
    orders_sweep()
    assert wallet(buyer) == 15_000_000 - 1_000_000 + 50_000
    assert money(trade.shop) == (0, 0, 50_000)
    assert fresh(order).late_shipment_at is not None
    ledger_ok()


def test_an_advance_closing_the_order_ends_the_other_requests_and_their_interventions(
    trade, arbitrator
):
    order = buy(trade.buyer, (trade.sku, 1), (trade.scarce, 1), finish=True)  # 14,000
    small, big = order.lines.get(sku=trade.sku), order.lines.get(sku=trade.scarce)
    refund(trade.buyer, order, 9000, line=big)
    refund(trade.buyer, order, 4990, line=small)  # 10 fen kept: no commission on it
    order = fresh(order)
    assert (order.released_fen, order.commission_fen) == (10, 0)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only", amount=10)
    dispute = aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="介入")
    advance(arbitrator, order, 10)
    order, case, dispute = fresh(order), fresh(case), fresh(dispute)
    assert (order.status, order.refunded_fen) == (OrderStatus.TRADE_CLOSED, 14_000)
    assert (case.status, case.close_reason) == ("CLOSED", "order_closed")
    assert dispute.status == "withdrawn"  # nothing is left to rule on
    refused(
        "dispute_status_invalid",
        lambda: aftersales.dispute_withdraw(actor=trade.shop.owner, dispute_id=dispute.pk),
    )
    ledger_ok()
