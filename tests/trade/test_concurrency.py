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
