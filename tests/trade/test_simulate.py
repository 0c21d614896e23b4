"""The rehearsal (`jishi simulate`): a small run passes every invariant, the same seed gives
the same plan, and with one worker the same counts; after-sales walks every path (requests of
every kind at every stage, silence and its timers, escalation, evidence, rulings, withdrawals,
advances, late shipments, deposits) and still ends with zero drift; a corrupted refund is
reported."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from jishi.simulation import simulate
from jishi.simulation.plan import COVERED, plan_make
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
    # after-sales: every path is planned, on paid orders that ship, at every stage and kind
    cases = first.cases()
    assert len(cases) >= COVERED
    assert {c.stage for c in cases} == {"unshipped", "shipped", "released"}
    assert {c.kind for c in cases} == {"refund_only", "return_refund", "exchange"}
    assert all(c.kind == "refund_only" for c in cases if c.stage == "unshipped")
    assert all(c.exchange_sku is not None for c in cases if c.kind == "exchange")
    orders = [o for c in checkouts for o in c.orders]
    for o in orders:
        if o.case is not None:
            assert o.ship in ("now", "late")
            assert o.after == ("confirm" if o.case.stage == "released" else "auto")
    assert any(o.ship == "never" for o in orders)
    assert any(o.advance_percent for o in orders) and any(o.late_request for o in orders)
    assert first.shops[0].deposit_fen > 0


@pytest.mark.django_db(transaction=True)
def test_simulate_command_passes_with_zero_drift():
    out = StringIO()
    call_command("simulate", seed=3, orders=60, stdout=out)  # raises CommandError on failure
    text = out.getvalue()
    assert "OK: every invariant holds" in text
    assert "drift 0" in text
    assert "PROBLEM" not in text and "database retries" not in text
    assert "checkouts placed" in text and "orders auto-confirmed by the timer" in text
    assert "after-sales requests: refund_only (unshipped)" in text
    assert "disputes taken by the operator" in text and "cases: refund_only, SUCCESS" in text


@pytest.mark.django_db(transaction=True)
def test_simulate_never_fires_timers_of_orders_outside_the_run(trade):
    from jishi.aftersales.services import refund_request
    from jishi.orders.models import OrderStatus
    from jishi.orders.services import group_pay, order_place, order_ship
    from tests.trade.conftest import PIN

    outside = order_place(
        buyer=trade.buyer,
        address_id=trade.buyer.address.pk,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
    ).orders.get()
    shipped = order_place(
        buyer=trade.buyer,
        address_id=trade.buyer.address.pk,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
    )
    group_pay(buyer=trade.buyer, group_id=shipped.pk, pin=PIN)
    shipped = shipped.orders.get()
    order_ship(actor=trade.shop.owner, order_id=shipped.pk, carrier="顺丰", tracking_no="SF1")
    case = refund_request(
        buyer=trade.buyer,
        order_id=shipped.pk,
        line_id=shipped.lines.get().pk,
        kind="refund_only",
        reason="quality",
        amount_fen=100,
    )
    call_command("simulate", seed=3, orders=30, stdout=StringIO())
    outside.refresh_from_db()
    assert outside.status == OrderStatus.WAIT_BUYER_PAY  # its 24 h had not passed for real
    case.refresh_from_db()
    assert case.status == "WAIT_SELLER_AGREE"  # nor the seller's 5 days to answer


# What a small run must have done, by the names of its counts: every after-sales path.
AFTERSALES_PATHS = (
    # requests: every kind at every stage it is possible, and the bad ones
    "after-sales requests: refund_only (unshipped)",
    "after-sales requests: refund_only (shipped)",
    "after-sales requests: return_refund (shipped)",
    "after-sales requests: exchange (shipped)",
    "after-sales requests: refund_only (released)",
    "after-sales requests: return_refund (released)",
    "after-sales requests: exchange (released)",
    "after-sales requests refused: above what was paid",
    "after-sales requests refused: one already open",
    "after-sales requests refused: window closed",
    "after-sales actions refused: another shop's case",
    # the parties
    "requests agreed by the seller",
    "requests refused by the seller",
    "requests revised by the buyer after a refusal",
    "cases withdrawn by the buyer before an answer",
    "cases withdrawn by the buyer after a refusal",
    "returns shipped by the buyer",
    "returned goods confirmed by the seller",
    "returned goods refused by the seller",
    "exchanges shipped by the seller",
    "after-sales races (seller agrees as the buyer cancels)",
    # every silence and its timer
    "case timers: seller silent, request agreed",
    "case timers: return not shipped, closed",
    "case timers: return not confirmed, refunded",
    "case timers: refusal not escalated, closed",
    # the platform
    "disputes opened by the buyer",
    "disputes opened by the seller",
    "disputes taken by the operator",
    "evidence messages added",
    "rulings refused: evidence phase still open",
    "disputes ruled for the buyer, full",
    "disputes ruled for the buyer, partial",
    "disputes ruled for the seller",
    "rulings refused: already ruled",
    "disputes withdrawn by the buyer",
    "disputes withdrawn by the seller",
    "advances paid by the platform",
    # shops: late shipment, never shipping, deposits
    "orders flagged late by the timer (compensation paid)",
    "orders flagged paid-not-shipped by the timer",
    "orders never shipped, refunded by the buyer",
    "orders not shipped: fully refunded on request",
    "deposits paid from the owner's wallet",
    "deposits paid from the shop balance",
)


@pytest.mark.django_db(transaction=True)
def test_a_small_run_walks_every_after_sales_path_with_zero_drift():
    report = simulate(seed=3, orders=100, workers=1, write=[].append)
    assert report.ok, report.problems
    assert not [path for path in AFTERSALES_PATHS if not report.counts.get(path)]
    assert (
        report.counts["races won by the seller's agreement"]
        + report.counts.get("races won by the buyer's cancel", 0)
        == report.counts["after-sales races (seller agrees as the buyer cancels)"]
    )
    done = report.aftersales
    for kind in ("refund_only", "return_refund", "exchange"):
        assert done[f"cases: {kind}, SUCCESS"], kind
    assert done["cases: refund_only, CLOSED"] and done["cases: return_refund, CLOSED"]
    assert not [name for name in done if name.startswith("cases:") and "WAIT" in name]
    assert done["disputes: ruled_buyer"] and done["disputes: ruled_seller"]
    assert done["disputes: withdrawn"]
    for kind in ("late_shipment", "not_shipped", "not_as_described"):
        assert done[f"violations: {kind}"], kind
    money = report.money
    assert money["compensation to buyers"] > 0 and money["debts: advance"] > 0
    assert money["debts: refund_after_release"] > 0 and money["shop deposits"] > 0
    assert money["escrow"] == 0
    assert report.ledger.ok and not report.ledger.problems


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_refund_is_reported():
    from jishi.aftersales.models import RefundCase
    from jishi.ledger.models import Transfer

    report = simulate(seed=5, orders=40, workers=1, write=[].append)
    assert report.ok, report.problems
    case = RefundCase.objects.filter(status="SUCCESS", refunded_fen__gt=1).order_by("pk").first()
    # the case says it refunded less than the order and the ledger say
    RefundCase.objects.filter(pk=case.pk).update(refunded_fen=case.refunded_fen - 1)
    ledger, problems, _money, _aftersales = report.recheck()
    assert ledger.ok
    assert any(f"order {case.order_id} " in p and "successful cases" in p for p in problems)
    assert any(f"case {case.pk} " in p for p in problems)
    RefundCase.objects.filter(pk=case.pk).update(refunded_fen=case.refunded_fen)
    # a refund transfer paid one fen more than its accounts recorded
    refund = Transfer.objects.filter(order_id=case.order_id, kind="refund").get()
    Transfer.objects.filter(pk=refund.pk).update(amount=refund.amount + 1)
    ledger, problems, _money, _aftersales = report.recheck()
    assert not ledger.ok
    assert any(f"order {case.order_id} " in p for p in ledger.problems)


@pytest.mark.django_db(transaction=True)
def test_one_worker_gives_the_same_counts_for_the_same_seed():
    quiet = [].append
    first = simulate(seed=11, orders=30, workers=1, write=quiet)
    again = simulate(seed=11, orders=30, workers=1, write=quiet)
    assert first.ok and again.ok, first.problems + again.problems
    assert first.digest == again.digest and first.tag != again.tag
    assert first.counts == again.counts
    assert first.money == again.money
    assert first.aftersales == again.aftersales


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
