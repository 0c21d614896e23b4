"""Real concurrency: several threads, each with its own database connection, hit the same
stock, order or wallet at the same moment (released together by a barrier).

The PostgreSQL tests run in the PostgreSQL pass of CI (row locks, READ COMMITTED). On SQLite
the in-memory test database cannot be shared by threads, so the SQLite variant runs the
last-unit race in a subprocess against a migrated database file (IMMEDIATE transactions, a
20 s busy timeout: writers queue instead of failing).
"""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from django.db import connection, connections

from jishi.catalog.models import Product, Sku
from jishi.core.errors import DomainError
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import (
    group_pay,
    order_confirm,
    order_place,
    order_refund_before_shipment,
    order_ship,
)
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade.conftest import PIN

ON_POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="row-lock races need PostgreSQL (CI runs this file again with DATABASE_URL set); "
    "the in-memory SQLite test database cannot be shared by threads",
)
N = 8


def race(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the calls at the same moment, one thread each; returns (code, result) per call:
    "ok" or the DomainError code. Each thread closes its own connection when done."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, object]] = [("not run", None)] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            try:
                results[i] = ("ok", call())
            except DomainError as exc:
                results[i] = (exc.code, exc)
            except Exception as exc:  # a crash is a failure the test reports
                results[i] = (f"crash: {exc!r}", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def codes(results) -> list[str]:
    return sorted(code for code, _result in results)


def assert_ledger_ok() -> None:
    report = ledger_check()
    assert report.ok, report.problems


def place(buyer, sku, quantity: int = 1):
    return order_place(
        buyer=buyer, items=[{"sku_id": sku.pk, "quantity": quantity}], address_id=buyer.address.pk
    )


def transfers(order_id: int, kind: str) -> int:
    return Transfer.objects.filter(order_id=order_id, kind=kind).count()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_last_unit_eight_checkouts_exactly_one_wins(make_listing, make_buyer):
    sku = make_listing(price_fen=990, stock=1)
    buyers = [make_buyer(balance_fen=0) for _i in range(N)]
    results = race(*(partial(place, buyer, sku) for buyer in buyers))
    assert codes(results) == ["ok"] + ["out_of_stock"] * (N - 1)
    sku.refresh_from_db()
    assert sku.stock == 0
    assert Product.objects.get(pk=sku.product_id).stock_total == 0
    assert Order.objects.filter(lines__sku=sku).count() == 1
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_last_unit_deducted_at_payment_exactly_one_payment_wins(make_listing, make_buyer):
    sku = make_listing(price_fen=990, stock=1, stock_deduction="payment")
    buyers = [make_buyer(balance_fen=5_000) for _i in range(N)]
    groups = [place(buyer, sku) for buyer in buyers]  # no stock is taken at order time
    results = race(
        *(partial(group_pay, buyer=b, group_id=g.pk, pin=PIN) for b, g in zip(buyers, groups))
    )
    assert codes(results) == ["ok"] + ["out_of_stock"] * (N - 1)
    assert Sku.objects.get(pk=sku.pk).stock == 0
    balances = sorted(wallet_balance(user_id=b.pk).balance_fen for b in buyers)
    assert balances == [5_000 - 990] + [5_000] * (N - 1)
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_paying_one_group_four_times_at_once_charges_once(make_listing, make_buyer):
    sku = make_listing(price_fen=2_500, stock=10)
    buyer = make_buyer(balance_fen=10_000)
    group = place(buyer, sku, quantity=2)
    results = race(*(partial(group_pay, buyer=buyer, group_id=group.pk, pin=PIN),) * 4)
    assert codes(results) == ["already_paid"] * 3 + ["ok"]
    order = group.orders.get()
    assert transfers(order.pk, "payment") == 1
    assert wallet_balance(user_id=buyer.pk).balance_fen == 5_000
    assert Sku.objects.get(pk=sku.pk).stock == 8
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_payments_at_once_cannot_overdraw_the_wallet(make_listing, make_buyer):
    sku = make_listing(price_fen=6_000, stock=10)
    buyer = make_buyer(balance_fen=10_000)
    first, second = place(buyer, sku), place(buyer, sku)
    results = race(
        partial(group_pay, buyer=buyer, group_id=first.pk, pin=PIN),
        partial(group_pay, buyer=buyer, group_id=second.pk, pin=PIN),
    )
    assert codes(results) == ["insufficient_funds", "ok"]
    assert wallet_balance(user_id=buyer.pk).balance_fen == 4_000
    assert Sku.objects.get(pk=sku.pk).stock == 8  # the refused order still holds its unit
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_confirming_three_times_at_once_and_a_refund_release_once(make_listing, make_buyer):
    sku = make_listing(price_fen=10_000, stock=5)
    buyer = make_buyer(balance_fen=20_000)
    group = place(buyer, sku)
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=sku.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    confirm = partial(order_confirm, buyer=buyer, order_id=order.pk, pin=PIN)
    refund = partial(order_refund_before_shipment, buyer=buyer, order_id=order.pk)
    results = race(confirm, confirm, confirm, refund)
    assert codes(results) == ["ok"] + ["order_status_invalid"] * 3
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_FINISHED
    assert (transfers(order.pk, "release"), transfers(order.pk, "commission")) == (1, 1)
    assert transfers(order.pk, "refund") == 0
    assert shop_money(shop_id=sku.shop.pk).available_fen == 10_000 - 200  # less 2 % commission
    assert wallet_balance(user_id=buyer.pk).balance_fen == 10_000
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_refunding_twice_at_once_and_a_confirm_refund_once(make_listing, make_buyer):
    sku = make_listing(price_fen=3_000, stock=5)
    buyer = make_buyer(balance_fen=10_000)
    group = place(buyer, sku, quantity=2)
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    refund = partial(order_refund_before_shipment, buyer=buyer, order_id=order.pk)
    confirm = partial(order_confirm, buyer=buyer, order_id=order.pk, pin=PIN)
    results = race(refund, refund, confirm)
    assert codes(results) == ["ok"] + ["order_status_invalid"] * 2
    assert transfers(order.pk, "refund") == 1
    assert transfers(order.pk, "release") == 0
    assert wallet_balance(user_id=buyer.pk).balance_fen == 10_000
    assert Sku.objects.get(pk=sku.pk).stock == 5  # the units came back once
    assert_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_shipping_races_a_refund_one_of_them_wins(make_listing, make_buyer):
    sku = make_listing(price_fen=4_000, stock=5)
    buyer = make_buyer(balance_fen=10_000)
    group = place(buyer, sku)
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    results = race(
        partial(
            order_ship, actor=sku.shop.owner, order_id=order.pk, carrier="EMS", tracking_no="E1"
        ),
        partial(order_refund_before_shipment, buyer=buyer, order_id=order.pk),
    )
    assert codes(results) == ["ok", "order_status_invalid"]
    order.refresh_from_db()
    refunded = order.status == OrderStatus.TRADE_CLOSED
    assert order.status in (OrderStatus.TRADE_CLOSED, OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    assert wallet_balance(user_id=buyer.pk).balance_fen == (10_000 if refunded else 6_000)
    assert Sku.objects.get(pk=sku.pk).stock == (5 if refunded else 4)
    assert_ledger_ok()


# --- SQLite: the last-unit race against a database file, in a subprocess ---------------------

RACE_SCRIPT = """
import json, threading
import django
django.setup()
from django.db import connections
from django.test.utils import override_settings
from jishi.catalog.models import Product, Sku
from jishi.core.errors import DomainError
from jishi.ledger.check import ledger_check
from jishi.orders.services import order_place
from jishi.simulation.execute import Tally
from jishi.simulation.plan import BuyerSpec, Plan, ProductSpec, ShopSpec, SkuSpec
from jishi.simulation.world import world_build

N = %(n)d
sku_spec = SkuSpec(price_fen=990, stock=1, scarce=True)
product = ProductSpec(category=1, deduction="order", virtual=False, skus=(sku_spec,))
buyer = BuyerSpec(provinces=("浙江省",), topups_fen=(1000,), replay_topup=False, tamper_topup=False)
plan = Plan(seed=0, shops=(ShopSpec(template=None, products=(product,)),),
            buyers=(buyer,) * N, rounds=(), final_withdrawals=())
with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
    world = world_build(plan, tally=Tally())
sku = world.skus[0]
barrier = threading.Barrier(N)
codes = [None] * N

def buy(i):
    try:
        barrier.wait()
        try:
            order_place(buyer=world.buyers[i], items=[{"sku_id": sku.pk, "quantity": 1}],
                        address_id=world.addresses[i][0].pk)
            codes[i] = "ok"
        except DomainError as exc:
            codes[i] = exc.code
        except Exception as exc:
            codes[i] = repr(exc)
    finally:
        connections.close_all()

threads = [threading.Thread(target=buy, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "codes": sorted(codes),
    "stock": Sku.objects.get(pk=sku.pk).stock,
    "stock_total": Product.objects.get(pk=sku.product_id).stock_total,
    "ledger_ok": ledger_check().ok,
}))
"""


def sqlite_file_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'jishi.sqlite3'}",
        JISHI_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="jishi.settings",
        JISHI_LOG_LEVEL="WARNING",
    )
    return env


def sqlite_file_migrated(tmp_path: Path) -> dict[str, str]:
    env = sqlite_file_env(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "jishi", "migrate", "-v0"], env=env, check=True, timeout=300
    )
    return env


@pytest.mark.skipif(ON_POSTGRES, reason="the PostgreSQL tests above cover this race")
def test_last_unit_on_a_sqlite_file_exactly_one_checkout_wins(tmp_path):
    env = sqlite_file_migrated(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", RACE_SCRIPT % {"n": N}],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "codes": ["ok"] + ["out_of_stock"] * (N - 1),
        "stock": 0,
        "stock_total": 0,
        "ledger_ok": True,
    }


# --- after-sales: two actions on one case, one wins -------------------------------------------


def _after_sales_ledger_ok() -> None:
    assert_ledger_ok()
    from jishi.payments.models import ShopDebt

    for debt in ShopDebt.objects.all():
        assert 0 <= debt.recovered_fen <= debt.amount_fen


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_seller_agrees_while_the_buyer_cancels_one_wins(trade):
    from jishi.aftersales import services as aftersales
    from tests.trade.aftersales_kit import ask, buy, fresh

    for _round in range(3):
        order = buy(trade.buyer, (trade.sku, 1), ship=True)
        case = ask(trade.buyer, order, amount=3000)
        wallet = wallet_balance(user_id=trade.buyer.pk).balance_fen
        results = race(
            partial(aftersales.refund_agree, actor=trade.shop.owner, case_id=case.pk),
            partial(aftersales.refund_cancel, buyer=trade.buyer, case_id=case.pk),
        )
        assert codes(results) == ["ok", "refund_status_invalid"]
        case = fresh(case)
        refunded = case.status == "SUCCESS"
        assert case.status in ("SUCCESS", "CLOSED")
        assert transfers(order.pk, "refund") == (1 if refunded else 0)
        assert wallet_balance(user_id=trade.buyer.pk).balance_fen == wallet + (
            3000 if refunded else 0
        )
        assert fresh(order).confirm_deadline is not None  # resumed either way
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_requests_on_one_line_at_once_open_one_case(trade):
    from jishi.aftersales import services as aftersales
    from jishi.aftersales.models import RefundCase
    from tests.trade.aftersales_kit import buy

    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    line = order.lines.get()
    request = partial(
        aftersales.refund_request,
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=line.pk,
        kind="refund_only",
        reason="quality",
        amount_fen=1000,
    )
    results = race(*(request,) * 4)
    assert codes(results) == ["ok"] + ["refund_already_open"] * 3
    assert RefundCase.objects.filter(line=line).count() == 1
    order.refresh_from_db()
    assert order.confirm_deadline is None and order.confirm_paused_seconds > 0
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_timer_and_the_seller_at_the_same_moment_act_once(trade):
    from datetime import timedelta

    from jishi.aftersales import services as aftersales
    from jishi.aftersales.timers import cases_sweep
    from jishi.core import clock
    from tests.trade.aftersales_kit import ask, buy, fresh

    cases = []
    for _i in range(3):
        order = buy(trade.buyer, (trade.sku, 1), ship=True)
        cases.append(ask(trade.buyer, order, amount=2000))
    clock.advance(timedelta(days=5))  # every answer is due: silence would agree
    for case in cases:
        results = race(
            cases_sweep,
            partial(aftersales.refund_refuse, actor=trade.shop.owner, case_id=case.pk, reason="x"),
        )
        (sweep_code, _handled), (refuse_code, _r) = results
        assert sweep_code == "ok", sweep_code
        case = fresh(case)
        if refuse_code == "ok":  # the seller was first: the timer found nothing due
            assert case.status == "SELLER_REFUSE_BUYER"
            assert transfers(case.order_id, "refund") == 0
        else:  # the timer was first: agreed and refunded, the late refusal changed nothing
            assert refuse_code == "refund_status_invalid"
            assert case.status == "SUCCESS"
            assert transfers(case.order_id, "refund") == 1
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_ruling_twice_at_once_and_a_withdrawal_rule_once(trade, make_operator):
    from datetime import timedelta

    from jishi.aftersales import services as aftersales
    from jishi.core import clock
    from tests.trade.aftersales_kit import buy, case_in, fresh

    operator = make_operator("arbitrator")
    order = buy(trade.buyer, (trade.sku, 2), ship=True)
    case = case_in("SELLER_REFUSE_BUYER", trade.buyer, order, kind="refund_only", amount=4000)
    dispute = aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="介入")
    aftersales.dispute_take(operator=operator, dispute_id=dispute.pk)
    clock.advance(timedelta(days=3))
    rule = partial(
        aftersales.dispute_rule,
        operator=operator,
        dispute_id=dispute.pk,
        decision="buyer",
        amount_fen=4000,
        reason="支持买家",
    )
    results = race(
        rule, rule, partial(aftersales.dispute_withdraw, actor=trade.buyer, dispute_id=dispute.pk)
    )
    assert codes(results).count("ok") == 1
    assert set(codes(results)) <= {"ok", "dispute_status_invalid"}
    dispute, case = fresh(dispute), fresh(case)
    ruled = dispute.status == "ruled_buyer"
    assert dispute.status in ("ruled_buyer", "withdrawn")
    assert case.status == ("SUCCESS" if ruled else "CLOSED")
    assert transfers(order.pk, "refund") == (1 if ruled else 0)
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_refunds_after_release_on_two_orders_of_one_shop_at_once(trade):
    """Both claw back from the same shop balance: it never goes negative, the shortfall is
    owed once, and the ledger agrees."""
    from jishi.aftersales import services as aftersales
    from jishi.payments.models import ShopDebt
    from jishi.payments.services import withdrawal_create
    from tests.trade.aftersales_kit import ask, buy

    orders = [buy(trade.buyer, (trade.sku, 2), finish=True) for _i in range(2)]  # 9,800 each
    withdrawal_create(actor=trade.shop.owner, amount_fen=12_000, pin=PIN, source="shop")
    cases = [ask(trade.buyer, order, amount=10_000) for order in orders]
    results = race(
        *(
            partial(aftersales.refund_agree, actor=trade.shop.owner, case_id=case.pk)
            for case in cases
        )
    )
    assert codes(results) == ["ok", "ok"]
    money = shop_money(shop_id=trade.shop.pk)
    assert money.available_fen == 0
    assert money.owed_fen == 2 * 9800 - 7600
    assert sum(d.amount_fen - d.recovered_fen for d in ShopDebt.objects.all()) == 12_000
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_shop_in_debt_earning_and_refunding_at_once(trade):
    """A release (income collects the debt) and a refund after release (a new charge) on
    two orders of a shop that owes money, many times at once: no deadlock, no drift."""
    from jishi.aftersales import services as aftersales
    from jishi.ledger.services import shop_available_account, transfer_create, wallet_account
    from tests.trade.aftersales_kit import ask, buy, ship_order

    finished = [buy(trade.buyer, (trade.sku, 1), finish=True) for _i in range(3)]
    transfer_create(  # the shop spent its balance: refunds now leave it owing
        debit=shop_available_account(trade.shop.pk),
        credit=wallet_account(trade.shop.owner_id),
        amount=3 * 4900,
        kind="test_move",
        idempotency_key="concurrency-spend",
    )
    first = ask(trade.buyer, finished[0], amount=5000)
    aftersales.refund_agree(actor=trade.shop.owner, case_id=first.pk)
    assert shop_money(shop_id=trade.shop.pk).owed_fen > 0
    for order in finished[1:]:
        shipped = buy(trade.buyer, (trade.sku, 1))
        ship_order(shipped)
        case = ask(trade.buyer, order, amount=5000)
        results = race(
            partial(order_confirm, buyer=trade.buyer, order_id=shipped.pk, pin=PIN),
            partial(aftersales.refund_agree, actor=trade.shop.owner, case_id=case.pk),
        )
        assert codes(results) == ["ok", "ok"], results
    money = shop_money(shop_id=trade.shop.pk)
    assert money.available_fen >= 0 and money.owed_fen >= 0
    assert money.available_fen == 0 or money.owed_fen == 0
    _after_sales_ledger_ok()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_refund_returning_stock_while_the_buyer_pays_for_the_same_product(
    make_listing, make_buyer
):
    """The refund puts the unshipped units back (a stock lock) and pays the buyer (a wallet
    lock) while the same buyer pays another order of that product (stock, then wallet): the
    locks are taken in one order, so neither waits for the other forever."""
    from jishi.aftersales import services as aftersales
    from tests.trade.aftersales_kit import ask, buy

    sku = make_listing(price_fen=1_000, stock=20, stock_deduction="payment")
    buyer = make_buyer(balance_fen=50_000)
    for _round in range(4):
        order = buy(buyer, (sku, 2))
        case = ask(buyer, order)
        group = place(buyer, sku, quantity=1)
        results = race(
            partial(aftersales.refund_agree, actor=sku.shop.owner, case_id=case.pk),
            partial(group_pay, buyer=buyer, group_id=group.pk, pin=PIN),
        )
        assert codes(results) == ["ok", "ok"], results
    assert Sku.objects.get(pk=sku.pk).stock == 20 - 4
    assert wallet_balance(user_id=buyer.pk).balance_fen == 50_000 - 4 * 1_000
    _after_sales_ledger_ok()
