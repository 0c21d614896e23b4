"""The double-entry ledger: validation, overdraft, idempotency, two-phase transfers, the check."""

import io
import random

import pytest
from django.core.management import call_command

from jishi.core.errors import Conflict, DomainError
from jishi.ledger import services as ledger
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Account, Transfer, TransferFlag
from jishi.ledger.selectors import kind_total
from jishi.ledger.services import (
    clearing_account,
    commission_account,
    escrow_account,
    shop_available_account,
    transfer_create,
    transfer_resolve,
    wallet_account,
)
from jishi.orders.models import Order
from jishi.orders.services import group_pay, order_place
from tests.trade.conftest import PIN

pytestmark = pytest.mark.django_db

_keys = iter(range(10**9))


def key() -> str:
    return f"test:{next(_keys)}"


def funded_wallet(user_id: int = 1, amount: int = 10_000) -> Account:
    """A wallet credited from the sandbox clearing account (as a top-up would)."""
    wallet = wallet_account(user_id)
    transfer_create(
        debit=clearing_account("sandbox"),
        credit=wallet,
        amount=amount,
        kind="topup",
        idempotency_key=key(),
    )
    wallet.refresh_from_db()
    return wallet


def fresh(account: Account) -> Account:
    account.refresh_from_db()
    return account


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, -500, 1.0, 12.5, True, False, "100", None])
def test_transfer_amount_must_be_a_positive_int(amount):
    wallet = funded_wallet()
    with pytest.raises(DomainError) as exc:
        transfer_create(
            debit=wallet,
            credit=escrow_account(1),
            amount=amount,
            kind="payment",
            idempotency_key=key(),
        )
    assert exc.value.code == "amount_invalid"
    assert Transfer.objects.filter(kind="payment").count() == 0
    assert fresh(wallet).balance == 10_000


def test_transfer_needs_two_different_accounts():
    wallet = funded_wallet()
    with pytest.raises(DomainError) as exc:
        transfer_create(
            debit=wallet, credit=wallet, amount=1, kind="payment", idempotency_key=key()
        )
    assert exc.value.code == "same_account"


# --- overdraft --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_account",
    [
        lambda: wallet_account(77),
        lambda: escrow_account(77),
        lambda: shop_available_account(77),
    ],
    ids=["wallet", "escrow", "shop_available"],
)
def test_overdraft_refused_for_liabilities(make_account):
    account = make_account()
    transfer_create(
        debit=clearing_account("sandbox"),
        credit=account,
        amount=500,
        kind="topup",
        idempotency_key=key(),
    )
    with pytest.raises(DomainError) as exc:
        transfer_create(
            debit=account,
            credit=wallet_account(78),
            amount=501,
            kind="payment",
            idempotency_key=key(),
        )
    assert exc.value.code == "insufficient_funds"
    assert exc.value.extra["available"] == 500
    assert fresh(account).balance == 500
    # exactly the balance is fine
    transfer_create(
        debit=account, credit=wallet_account(78), amount=500, kind="payment", idempotency_key=key()
    )
    assert fresh(account).balance == 0
    assert ledger_check().ok


def test_empty_wallet_cannot_pay():
    with pytest.raises(DomainError) as exc:
        transfer_create(
            debit=wallet_account(5),
            credit=escrow_account(5),
            amount=1,
            kind="payment",
            idempotency_key=key(),
        )
    assert exc.value.code == "insufficient_funds"


def test_clearing_and_commission_may_go_negative():
    clearing = clearing_account("sandbox")
    transfer_create(
        debit=clearing, credit=wallet_account(9), amount=700, kind="topup", idempotency_key=key()
    )
    commission = commission_account()
    transfer_create(
        debit=commission,
        credit=wallet_account(9),
        amount=300,
        kind="adjust",
        idempotency_key=key(),
    )
    assert fresh(commission).balance == -300
    # clearing is an asset (debit-normal): money paid out of the channel drives it below zero
    out = clearing_account("sandbox")
    transfer_create(
        debit=wallet_account(9), credit=out, amount=1000, kind="withdrawal", idempotency_key=key()
    )
    assert kind_total("channel_clearing") == 700 - 1000
    assert kind_total("platform_commission") == -300
    assert ledger_check().ok


# --- idempotency ------------------------------------------------------------------------------


def test_replay_returns_the_same_transfer_and_moves_nothing():
    wallet = funded_wallet()
    escrow = escrow_account(3)
    args = dict(debit=wallet, credit=escrow, amount=2500, kind="payment", order_id=3)
    first = transfer_create(idempotency_key="pay:3", **args)
    again = transfer_create(idempotency_key="pay:3", **args)
    assert again.pk == first.pk
    assert Transfer.objects.filter(idempotency_key="pay:3").count() == 1
    assert fresh(wallet).balance == 7500
    assert fresh(escrow).balance == 2500


def test_replay_is_allowed_even_when_the_balance_no_longer_covers_it():
    wallet = funded_wallet(amount=1000)
    first = transfer_create(
        debit=wallet, credit=escrow_account(4), amount=1000, kind="payment", idempotency_key="k4"
    )
    again = transfer_create(
        debit=wallet, credit=escrow_account(4), amount=1000, kind="payment", idempotency_key="k4"
    )
    assert again.pk == first.pk
    assert fresh(wallet).balance == 0


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 2501},
        {"credit": "other_escrow"},
        {"debit": "other_wallet"},
        {"kind": "refund"},
        {"order_id": 99},
        {"pending": True},
    ],
    ids=["amount", "credit", "debit", "kind", "order", "flag"],
)
def test_same_key_different_request_is_a_conflict(change):
    wallet = funded_wallet(user_id=1)
    other_wallet = funded_wallet(user_id=2)
    args = dict(debit=wallet, credit=escrow_account(3), amount=2500, kind="payment", order_id=3)
    transfer_create(idempotency_key="pay:3", **args)
    swap = {"other_escrow": escrow_account(4), "other_wallet": other_wallet}
    changed = {**args, **{k: swap.get(v, v) for k, v in change.items()}}
    with pytest.raises(Conflict) as exc:
        transfer_create(idempotency_key="pay:3", **changed)
    assert exc.value.code == "idempotency_key_reused"
    assert Transfer.objects.filter(kind="payment").count() == 1
    assert fresh(wallet).balance == 7500
    assert fresh(other_wallet).balance == 10_000


def test_hot_sub_account_chosen_differently_on_replay_is_the_same_request(monkeypatch):
    escrow = escrow_account(8)
    transfer_create(
        debit=clearing_account("sandbox"),
        credit=escrow,
        amount=1000,
        kind="payment",
        idempotency_key=key(),
    )
    monkeypatch.setattr(ledger.random, "randrange", lambda n: 0)
    first = transfer_create(
        debit=escrow,
        credit=commission_account(),
        amount=20,
        kind="commission",
        idempotency_key="commission:8",
    )
    monkeypatch.setattr(ledger.random, "randrange", lambda n: n - 1)
    other_part = commission_account()
    assert other_part.pk != first.credit_account_id
    again = transfer_create(
        debit=escrow,
        credit=other_part,
        amount=20,
        kind="commission",
        idempotency_key="commission:8",
    )
    assert again.pk == first.pk
    assert fresh(escrow).balance == 980
    assert fresh(other_part).balance == 0
    assert kind_total("platform_commission") == 20


def test_hot_accounts_are_split_into_sub_accounts():
    parts = {commission_account().code for _ in range(200)}
    assert len(parts) > 1
    assert all(code.startswith("platform_commission:") for code in parts)
    assert len(parts) <= ledger.HOT_ACCOUNT_SPLIT


# --- two-phase transfers ----------------------------------------------------------------------


def pending_withdrawal(wallet: Account, amount: int = 3000) -> Transfer:
    return transfer_create(
        debit=wallet,
        credit=clearing_account("sandbox"),
        amount=amount,
        kind="withdrawal",
        idempotency_key=key(),
        pending=True,
    )


def test_pending_reserves_without_moving_the_balance():
    wallet = funded_wallet()
    pending = pending_withdrawal(wallet)
    assert pending.flag == TransferFlag.PENDING
    wallet = fresh(wallet)
    assert wallet.balance == 10_000
    assert wallet.available == 7000
    assert wallet.debits_pending == 3000
    # the reserved money cannot be spent twice
    with pytest.raises(DomainError) as exc:
        transfer_create(
            debit=wallet,
            credit=escrow_account(1),
            amount=7001,
            kind="payment",
            idempotency_key=key(),
        )
    assert exc.value.code == "insufficient_funds"
    with pytest.raises(DomainError):
        pending_withdrawal(wallet, amount=7001)
    assert ledger_check().ok


def test_post_moves_the_reserved_money():
    wallet = funded_wallet()
    pending = pending_withdrawal(wallet)
    posted = transfer_resolve(pending_id=pending.pk, post=True, idempotency_key="resolve:1")
    assert posted.flag == TransferFlag.POST_PENDING
    assert posted.pending_id == pending.pk
    wallet = fresh(wallet)
    assert (wallet.balance, wallet.available, wallet.debits_pending) == (7000, 7000, 0)
    assert kind_total("channel_clearing") == 10_000 - 3000
    # a replay of the post returns the same transfer and moves nothing
    again = transfer_resolve(pending_id=pending.pk, post=True, idempotency_key="resolve:1")
    assert again.pk == posted.pk
    assert fresh(wallet).balance == 7000
    assert ledger_check().ok


def test_void_returns_the_reserved_money():
    wallet = funded_wallet()
    pending = pending_withdrawal(wallet)
    voided = transfer_resolve(pending_id=pending.pk, post=False, idempotency_key="resolve:2")
    assert voided.flag == TransferFlag.VOID_PENDING
    wallet = fresh(wallet)
    assert (wallet.balance, wallet.available, wallet.debits_pending) == (10_000, 10_000, 0)
    assert kind_total("channel_clearing") == 10_000
    assert ledger_check().ok


@pytest.mark.parametrize("first,second", [(True, True), (True, False), (False, True)])
def test_a_pending_transfer_resolves_only_once(first, second):
    wallet = funded_wallet()
    pending = pending_withdrawal(wallet)
    transfer_resolve(pending_id=pending.pk, post=first, idempotency_key=key())
    with pytest.raises(DomainError) as exc:
        transfer_resolve(pending_id=pending.pk, post=second, idempotency_key=key())
    assert exc.value.code == "pending_transfer_resolved"
    assert fresh(wallet).balance == (7000 if first else 10_000)
    assert ledger_check().ok


def test_resolve_key_reused_for_the_other_outcome_is_a_conflict():
    wallet = funded_wallet()
    pending = pending_withdrawal(wallet)
    transfer_resolve(pending_id=pending.pk, post=True, idempotency_key="resolve:x")
    with pytest.raises(Conflict) as exc:
        transfer_resolve(pending_id=pending.pk, post=False, idempotency_key="resolve:x")
    assert exc.value.code == "idempotency_key_reused"


def test_resolve_key_reused_for_another_pending_transfer_is_a_conflict():
    wallet = funded_wallet()
    one, two = pending_withdrawal(wallet, 1000), pending_withdrawal(wallet, 1000)
    transfer_resolve(pending_id=one.pk, post=True, idempotency_key="resolve:y")
    with pytest.raises(Conflict) as exc:
        transfer_resolve(pending_id=two.pk, post=True, idempotency_key="resolve:y")
    assert exc.value.code == "idempotency_key_reused"
    assert fresh(wallet).debits_pending == 1000  # the second one is still reserved
    assert ledger_check().ok


def test_only_pending_transfers_can_be_resolved():
    wallet = funded_wallet()
    posted = Transfer.objects.get(credit_account=wallet)
    for pending_id in (posted.pk, 999_999):
        with pytest.raises(DomainError) as exc:
            transfer_resolve(pending_id=pending_id, post=True, idempotency_key=key())
        assert exc.value.code == "pending_transfer_not_found"


# --- counters and the check -------------------------------------------------------------------


def test_counters_match_the_transfers_after_many_operations():
    rng = random.Random(11)
    wallets = [funded_wallet(user_id=u, amount=50_000) for u in range(1, 5)]
    escrows = [escrow_account(o) for o in range(1, 4)]
    shop = shop_available_account(1)
    pendings: list[Transfer] = []
    refused = 0
    for step in range(150):
        choice = rng.randrange(6)
        amount = rng.randrange(1, 20_000)
        try:
            if choice == 0:
                transfer_create(
                    debit=rng.choice(wallets),
                    credit=rng.choice(escrows),
                    amount=amount,
                    kind="payment",
                    idempotency_key=f"op:{step}",
                )
            elif choice == 1:
                transfer_create(
                    debit=rng.choice(escrows),
                    credit=rng.choice([shop, commission_account()]),
                    amount=amount,
                    kind="release",
                    idempotency_key=f"op:{step}",
                )
            elif choice == 2:
                pendings.append(pending_withdrawal(rng.choice([*wallets, shop]), amount))
            elif choice == 3 and pendings:
                pending = pendings.pop(rng.randrange(len(pendings)))
                transfer_resolve(
                    pending_id=pending.pk, post=rng.random() < 0.5, idempotency_key=f"op:{step}"
                )
            elif choice == 4:
                transfer_create(
                    debit=clearing_account("sandbox"),
                    credit=rng.choice(wallets),
                    amount=amount,
                    kind="topup",
                    idempotency_key=f"op:{step}",
                )
            else:  # replay an earlier step
                earlier = rng.choice(list(Transfer.objects.order_by("pk")))
                transfer_create(
                    debit=earlier.debit_account,
                    credit=earlier.credit_account,
                    amount=earlier.amount,
                    kind=earlier.kind,
                    order_id=earlier.order_id,
                    idempotency_key=earlier.idempotency_key,
                    pending=earlier.flag == TransferFlag.PENDING,
                )
        except DomainError:
            refused += 1
    assert refused  # some overdrafts and replays of resolutions were refused
    report = ledger_check()
    assert report.ok, report.problems
    assert report.total_debits == report.total_credits
    assert all(a.available >= 0 for a in Account.objects.filter(forbid_overdraft=True))


def test_check_detects_a_corrupted_counter():
    wallet = funded_wallet()
    assert ledger_check().ok
    Account.objects.filter(pk=wallet.pk).update(credits_posted=10_001)
    report = ledger_check()
    assert not report.ok
    assert any(wallet.code in p and "credits_posted" in p for p in report.problems)
    assert any("unbalanced" in p for p in report.problems)


def test_check_detects_a_corrupted_pending_counter():
    wallet = funded_wallet()
    pending_withdrawal(wallet)
    Account.objects.filter(pk=wallet.pk).update(debits_pending=0)
    report = ledger_check()
    assert any("debits_pending" in p for p in report.problems)


def test_check_detects_an_order_whose_money_is_not_conserved(trade):
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    assert ledger_check().ok
    Order.objects.filter(pk=order.pk).update(total_fen=order.total_fen + 1)
    report = ledger_check()
    assert not report.ok
    assert any(f"order {order.pk}" in p for p in report.problems)
    Order.objects.filter(pk=order.pk).update(total_fen=order.total_fen, released_fen=100)
    report = ledger_check()
    assert any("disagree" in p for p in report.problems)


def test_check_command_exits_zero_on_a_clean_ledger():
    funded_wallet()
    out = io.StringIO()
    call_command("ledger", "check", stdout=out)
    assert "zero drift" in out.getvalue()


def test_check_command_exits_one_on_drift():
    wallet = funded_wallet()
    Account.objects.filter(pk=wallet.pk).update(debits_posted=5)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("ledger", "check", stdout=out)
    assert exc.value.code == 1
    assert "DRIFT" in out.getvalue()


def test_check_detects_an_order_transfer_to_the_wrong_party(trade, make_buyer):
    """A refund that went to someone else's wallet is drift, even if every sum balances."""
    from jishi.ledger.check import ledger_check
    from jishi.ledger.models import Transfer
    from jishi.ledger.services import wallet_account
    from jishi.orders.services import group_pay, order_place, order_refund_before_shipment
    from tests.trade.conftest import PIN

    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_refund_before_shipment(buyer=trade.buyer, order_id=order.pk)
    assert ledger_check().ok
    stranger = make_buyer(balance_fen=0)
    Transfer.objects.filter(kind="refund", order_id=order.pk).update(
        credit_account=wallet_account(stranger.pk)
    )
    report = ledger_check()
    assert any("not between that order's parties" in p for p in report.problems)
