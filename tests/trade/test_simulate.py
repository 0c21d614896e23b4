"""The rehearsal (`jishi simulate`): a small run passes every invariant, the same seed gives
the same plan, and with one worker the same counts."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from jishi.simulation import simulate
from jishi.simulation.plan import plan_make
from tests.trade.test_concurrency import sqlite_file_migrated


def test_the_same_seed_gives_the_same_plan():
    first, again = plan_make(seed=7, orders=300), plan_make(seed=7, orders=300)
    assert first == again and first.digest() == again.digest()
    assert plan_make(seed=8, orders=300).digest() != first.digest()
    checkouts = first.checkouts()
    assert len(checkouts) == 300
    skus = first.skus()
    assert any(sku.scarce for *_i, sku in skus) and any(not sku.scarce for *_i, sku in skus)
    deductions = {p.deduction for shop in first.shops for p in shop.products}
    assert deductions == {"order", "payment"}
    assert {c.fate for c in checkouts} == {"pay", "cancel", "abandon", "lockout"}


@pytest.mark.django_db(transaction=True)
def test_simulate_command_passes_with_zero_drift():
    out = StringIO()
    call_command("simulate", seed=3, orders=60, stdout=out)  # raises CommandError on failure
    text = out.getvalue()
    assert "OK: every invariant holds" in text
    assert "drift 0" in text
    assert "PROBLEM" not in text and "database retries" not in text
    assert "checkouts placed" in text and "orders auto-confirmed by the timer" in text


@pytest.mark.django_db(transaction=True)
def test_simulate_never_fires_timers_of_orders_outside_the_run(trade):
    from jishi.orders.models import OrderStatus
    from jishi.orders.services import order_place

    outside = order_place(
        buyer=trade.buyer,
        address_id=trade.buyer.address.pk,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
    ).orders.get()
    call_command("simulate", seed=3, orders=30, stdout=StringIO())
    outside.refresh_from_db()
    assert outside.status == OrderStatus.WAIT_BUYER_PAY  # its 24 h had not passed for real


@pytest.mark.django_db(transaction=True)
def test_one_worker_gives_the_same_counts_for_the_same_seed():
    quiet = [].append
    first = simulate(seed=11, orders=30, workers=1, write=quiet)
    again = simulate(seed=11, orders=30, workers=1, write=quiet)
    assert first.ok and again.ok, first.problems + again.problems
    assert first.digest == again.digest and first.tag != again.tag
    assert first.counts == again.counts
    assert first.money == again.money


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL runs the threads in-process above"
)
def test_simulate_with_threads_on_a_sqlite_file(tmp_path):
    """Real threads on SQLite (the in-memory test database cannot take them): writers
    queue on IMMEDIATE transactions and nothing fails with "database is locked"."""
    env = sqlite_file_migrated(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "jishi", "simulate", "--seed", "5", "--orders", "80"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 workers, sqlite" in done.stdout
    assert "OK: every invariant holds" in done.stdout
    assert "database retries" not in done.stdout
