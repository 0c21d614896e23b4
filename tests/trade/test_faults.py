"""Faults half-way through a money operation leave the ledger balanced and are safe to retry.

In-process: an exception injected between two transfers of one operation rolls the whole
operation back. Out of process: a process killed (os._exit) in the middle of a payment leaves
nothing behind, and the retry pays exactly once.
"""

import json
import subprocess
import sys

import pytest

from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.orders import services as order_services
from jishi.orders.models import OrderStatus
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.payments import services as payment_services
from jishi.payments.channels import sandbox
from jishi.payments.selectors import wallet_balance
from jishi.payments.services import callback_receive, topup_create
from tests.trade.conftest import PIN
from tests.trade.test_concurrency import ON_POSTGRES, sqlite_file_migrated

pytestmark = pytest.mark.django_db


class Boom(RuntimeError):
    pass


def _fail_on_call(monkeypatch, module, name: str, call_number: int) -> None:
    """Make ``module.name`` raise Boom on its ``call_number``-th call (1-based)."""
    real = getattr(module, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call_number:
            raise Boom(f"injected fault in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def _two_shop_group(trade, make_shop, make_product):
    other = make_shop()
    product = make_product(other, listed=True)
    group = order_place(
        buyer=trade.buyer,
        address_id=trade.buyer.address.pk,
        items=[
            {"sku_id": trade.sku.pk, "quantity": 1},
            {"sku_id": product.skus.get().pk, "quantity": 1},
        ],
    )
    assert group.orders.count() == 2
    return group


def test_payment_failing_after_the_first_escrow_transfer_moves_nothing(
    trade, make_shop, make_product, monkeypatch
):
    group = _two_shop_group(trade, make_shop, make_product)
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    _fail_on_call(monkeypatch, order_services, "transfer_create", 2)
    with pytest.raises(Boom):
        group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before
    assert not Transfer.objects.filter(kind="payment").exists()
    assert set(group.orders.values_list("status", flat=True)) == {OrderStatus.WAIT_BUYER_PAY}
    assert ledger_check().ok
    monkeypatch.undo()
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)  # the retry pays exactly once
    assert Transfer.objects.filter(kind="payment").count() == 2
    assert ledger_check().ok


def test_release_failing_between_seller_and_commission_transfers_is_retryable(trade, monkeypatch):
    group = order_place(
        buyer=trade.buyer,
        address_id=trade.buyer.address.pk,
        items=[{"sku_id": trade.sku.pk, "quantity": 2}],
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF9")
    _fail_on_call(monkeypatch, order_services, "transfer_create", 2)  # the commission
    with pytest.raises(Boom):
        order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    assert not Transfer.objects.filter(kind__in=("release", "commission")).exists()
    assert ledger_check().ok
    monkeypatch.undo()
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    assert Transfer.objects.filter(kind__in=("release", "commission")).count() == 2
    assert ledger_check().ok


def test_topup_callback_failing_after_the_credit_is_replayed_exactly_once(make_buyer, monkeypatch):
    buyer = make_buyer(balance_fen=0)
    topup = topup_create(user=buyer, amount_fen=5_000)
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=5_000
    )
    _fail_on_call(monkeypatch, payment_services, "notify", 1)  # after the ledger credit
    with pytest.raises(Boom):
        callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))
    assert wallet_balance(user_id=buyer.pk).balance_fen == 0
    monkeypatch.undo()
    callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))
    callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))
    assert wallet_balance(user_id=buyer.pk).balance_fen == 5_000
    assert ledger_check().ok


KILL_SCRIPT = """
import json, os, sys
import django
django.setup()
from django.test.utils import override_settings
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.orders import services as order_services
from jishi.orders.models import Order, OrderGroup
from jishi.payments.selectors import wallet_balance
from jishi.simulation.execute import Tally
from jishi.simulation.plan import BuyerSpec, Plan, ProductSpec, ShopSpec, SkuSpec

from jishi.simulation.world import PIN

# The simulated world stores MD5 PIN hashes; keep that hasher for the whole script.
override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
step = sys.argv[1]
if step == "kill":
    from jishi.simulation.world import world_build
    sku = SkuSpec(price_fen=990, stock=5, scarce=False)
    product = ProductSpec(category=1, deduction="payment", virtual=False, skus=(sku,))
    shops = (ShopSpec(template=None, products=(product,)),) * 2
    buyer = BuyerSpec(provinces=("浙江省",), topups_fen=(100000,), replay_topup=False,
                      tamper_topup=False)
    plan = Plan(seed=0, shops=shops, buyers=(buyer,), rounds=(), final_withdrawals=())
    world = world_build(plan, tally=Tally())
    group = order_services.order_place(
        buyer=world.buyers[0], address_id=world.addresses[0][0].pk,
        items=[{"sku_id": s.pk, "quantity": 1} for s in world.skus])
    real = order_services.transfer_create
    calls = {"n": 0}
    def dying(*args, **kwargs):
        calls["n"] += 1
        result = real(*args, **kwargs)
        if calls["n"] == 1:
            os._exit(9)  # the process dies inside the payment's transaction
        return result
    order_services.transfer_create = dying
    order_services.group_pay(buyer=world.buyers[0], group_id=group.pk, pin=PIN)
    sys.exit("not killed")
else:
    group = OrderGroup.objects.get()
    buyer = group.buyer
    before = {
        "wallet": wallet_balance(user_id=buyer.pk).balance_fen,
        "payments": Transfer.objects.filter(kind="payment").count(),
        "statuses": sorted(Order.objects.values_list("status", flat=True)),
        "ledger_ok": ledger_check().ok,
    }
    order_services.group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    after = {
        "wallet": wallet_balance(user_id=buyer.pk).balance_fen,
        "payments": Transfer.objects.filter(kind="payment").count(),
        "statuses": sorted(Order.objects.values_list("status", flat=True)),
        "ledger_ok": ledger_check().ok,
    }
    print(json.dumps({"before": before, "after": after}))
"""


@pytest.mark.skipif(ON_POSTGRES, reason="runs against its own SQLite file in subprocesses")
def test_a_process_killed_inside_a_payment_leaves_nothing_and_the_retry_pays_once(tmp_path):
    env = sqlite_file_migrated(tmp_path)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, "kill"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr[-3000:]
    retried = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, "retry"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert retried.returncode == 0, retried.stderr[-3000:]
    result = json.loads(retried.stdout.strip().splitlines()[-1])
    assert result["before"] == {
        "wallet": 100_000,
        "payments": 0,
        "ledger_ok": True,
        "statuses": ["WAIT_BUYER_PAY", "WAIT_BUYER_PAY"],
    }
    assert result["after"] == {
        "wallet": 100_000 - 2 * 990,
        "payments": 2,
        "ledger_ok": True,
        "statuses": ["WAIT_SELLER_SEND_GOODS"] * 2,
    }
