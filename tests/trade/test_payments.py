"""Wallet money in and out: top-ups through the signed sandbox callback, withdrawals."""

import json

import pytest

from jishi.accounts.models import Notification, PaymentPin
from jishi.accounts.services import payment_pin_set
from jishi.core.errors import Conflict, DomainError, Forbidden, NotFound
from jishi.core.outbox import outbox_drain
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer, TransferFlag
from jishi.ledger.selectors import kind_total
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.payments.channels import sandbox
from jishi.payments.models import ChannelCallback, ChannelOpStatus, TopUp, Withdrawal
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.payments.services import callback_receive, topup_create, withdrawal_create
from jishi.shops.services import staff_create
from tests.trade.conftest import PIN, fund

pytestmark = pytest.mark.django_db


def callback(kind: str, reference: int, status: str, amount_fen: int) -> str:
    body = sandbox.event_body(kind=kind, reference=reference, status=status, amount_fen=amount_fen)
    return callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))


def kinds(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("pk").values_list("kind", flat=True)
    )


@pytest.fixture
def seller(make_verified_seller):
    """A verified user (with a bank card and a PIN) holding 1,000 yuan in the wallet."""
    user = make_verified_seller()
    payment_pin_set(user=user, password=user.raw_password, pin=PIN)
    fund(user, 100_000)
    return user


# --- top-up -----------------------------------------------------------------------------------


def test_topup_credits_once_through_the_signed_callback(make_user):
    user = make_user()
    topup = topup_create(user=user, amount_fen=12_345)
    assert topup.status == ChannelOpStatus.PENDING
    assert wallet_balance(user_id=user.pk).balance_fen == 0
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=12_345
    )
    assert callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body)) == (
        "top-up credited"
    )
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.SUCCEEDED
    assert topup.transfer is not None and topup.channel_ref.startswith("SBX")
    assert wallet_balance(user_id=user.pk).balance_fen == 12_345
    assert "topup_succeeded" in kinds(user)
    # the bank retries the very same callback, then sends a fresh one for the same top-up
    assert callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body)).startswith(
        "duplicate"
    )
    assert callback("topup", topup.pk, "succeeded", 12_345).startswith("duplicate")
    assert wallet_balance(user_id=user.pk).balance_fen == 12_345
    assert Transfer.objects.filter(kind="topup").count() == 1
    assert ChannelCallback.objects.filter(valid=True).count() == 3
    assert kind_total("channel_clearing") == 12_345
    assert ledger_check().ok


@pytest.mark.parametrize("tamper", ["body", "signature", "empty_signature", "other_key"])
def test_tampered_callback_is_refused_and_logged(make_user, tamper, settings):
    user = make_user()
    topup = topup_create(user=user, amount_fen=5000)
    body = sandbox.event_body(kind="topup", reference=topup.pk, status="succeeded", amount_fen=5000)
    signature = sandbox.sign(body)
    if tamper == "body":
        data = json.loads(body)
        data["amount_fen"] = 500_000
        body = json.dumps(data, sort_keys=True).encode()
    elif tamper == "signature":
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    elif tamper == "empty_signature":
        signature = ""
    else:
        settings.JISHI_SANDBOX_BANK_SECRET = "attacker"
        signature = sandbox.sign(body)
        settings.JISHI_SANDBOX_BANK_SECRET = ""
    with pytest.raises(DomainError) as exc:
        callback_receive(channel="sandbox", body=body, signature=signature)
    assert exc.value.code == "callback_signature_invalid"
    logged = ChannelCallback.objects.get()
    assert (logged.valid, logged.outcome) == (False, "callback_signature_invalid")
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.PENDING
    assert wallet_balance(user_id=user.pk).balance_fen == 0
    assert not Transfer.objects.exists()


def test_unknown_channel_is_refused():
    with pytest.raises(NotFound) as exc:
        callback_receive(channel="nobank", body=b"{}", signature="x")
    assert exc.value.code == "channel_unknown"


@pytest.mark.parametrize("case", ["unknown_topup", "wrong_amount", "garbage", "bad_status"])
def test_callback_that_matches_no_topup_is_refused(make_user, case):
    user = make_user()
    topup = topup_create(user=user, amount_fen=5000)
    if case == "garbage":
        body = b"not json"
    elif case == "bad_status":
        body = sandbox.event_body(kind="topup", reference=topup.pk, status="maybe", amount_fen=5000)
    else:
        body = sandbox.event_body(
            kind="topup",
            reference=topup.pk + 1000 if case == "unknown_topup" else topup.pk,
            status="succeeded",
            amount_fen=5000 if case == "unknown_topup" else 5001,
        )
    with pytest.raises(DomainError) as exc:
        callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))
    assert exc.value.code == "callback_invalid"
    logged = ChannelCallback.objects.get()  # every callback is logged, genuine or not
    assert (logged.valid, logged.outcome) == (False, "callback_invalid")
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.PENDING
    assert wallet_balance(user_id=user.pk).balance_fen == 0
    assert not Transfer.objects.exists()


def test_failed_topup_moves_no_money(make_user):
    user = make_user()
    topup = topup_create(user=user, amount_fen=5000)
    assert callback("topup", topup.pk, "failed", 5000) == "top-up failed"
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.FAILED and topup.transfer is None
    assert callback("topup", topup.pk, "failed", 5000).startswith("duplicate")
    assert wallet_balance(user_id=user.pk).balance_fen == 0
    assert not Transfer.objects.exists()


def test_a_late_success_after_a_failure_credits_the_wallet_once(make_user):
    """The channel charged the payer after all: the money must reach the wallet."""
    user = make_user()
    topup = topup_create(user=user, amount_fen=5000)
    assert callback("topup", topup.pk, "failed", 5000) == "top-up failed"
    assert callback("topup", topup.pk, "succeeded", 5000) == "top-up credited"
    assert callback("topup", topup.pk, "succeeded", 5000).startswith("duplicate")
    assert wallet_balance(user_id=user.pk).balance_fen == 5000
    assert ledger_check().ok


@pytest.mark.parametrize("amount", [0, -1, 5_000_001, 1.5, True, "abc", None, "10.00"])
def test_topup_amount_bounds(make_user, amount):
    with pytest.raises(DomainError) as exc:
        topup_create(user=make_user(), amount_fen=amount)
    assert exc.value.code == "amount_invalid"
    assert not TopUp.objects.exists()


@pytest.mark.parametrize("amount", [1, 5_000_000, "300"])
def test_topup_amount_accepted(make_user, amount):
    assert topup_create(user=make_user(), amount_fen=amount).amount_fen == int(amount)


# --- withdrawal -------------------------------------------------------------------------------


def test_withdrawal_needs_a_verified_bank_card(make_buyer):
    buyer = make_buyer(balance_fen=10_000)
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=buyer, amount_fen=1000, pin=PIN)
    assert exc.value.code == "no_bank_card"
    assert wallet_balance(user_id=buyer.pk).available_fen == 10_000


def test_withdrawal_needs_the_pin_and_counts_wrong_attempts(seller):
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=seller, amount_fen=1000, pin="000000")
    assert exc.value.code == "pin_wrong"
    assert PaymentPin.objects.get(user=seller).failed_attempts == 1
    assert not Withdrawal.objects.exists()
    assert wallet_balance(user_id=seller.pk).available_fen == 100_000


@pytest.mark.parametrize("amount", [99, 0, -100, 1.5, "1e3"])
def test_withdrawal_minimum_and_bad_amounts(seller, amount):
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=seller, amount_fen=amount, pin=PIN)
    assert exc.value.code == "amount_invalid"
    assert not Withdrawal.objects.exists()


def test_withdrawal_beyond_the_balance_is_refused(seller):
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=seller, amount_fen=100_001, pin=PIN)
    assert exc.value.code == "insufficient_funds"
    assert not Withdrawal.objects.exists()
    assert wallet_balance(user_id=seller.pk).available_fen == 100_000


def test_unknown_withdrawal_source_is_refused(seller):
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=seller, amount_fen=1000, pin=PIN, source="bank")
    assert exc.value.extra["fields"].keys() == {"source"}


def test_withdrawal_reserves_then_the_sandbox_pays_it_out(seller):
    withdrawal = withdrawal_create(actor=seller, amount_fen=30_000, pin=PIN)
    assert withdrawal.status == ChannelOpStatus.PENDING
    assert withdrawal.pending_transfer.flag == TransferFlag.PENDING
    assert withdrawal.card_masked and withdrawal.bank_name == "中国工商银行"
    money = wallet_balance(user_id=seller.pk)
    assert (money.balance_fen, money.available_fen) == (100_000, 70_000)
    assert "withdrawal_requested" in kinds(seller)
    # the reserved money cannot be withdrawn again
    with pytest.raises(DomainError):
        withdrawal_create(actor=seller, amount_fen=70_001, pin=PIN)
    assert outbox_drain() >= 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.SUCCEEDED
    assert withdrawal.completed_at is not None and withdrawal.channel_ref.startswith("SBX")
    posted = Transfer.objects.get(pending=withdrawal.pending_transfer)
    assert posted.flag == TransferFlag.POST_PENDING
    money = wallet_balance(user_id=seller.pk)
    assert (money.balance_fen, money.available_fen) == (70_000, 70_000)
    assert kind_total("channel_clearing") == 70_000
    assert "withdrawal_done" in kinds(seller)
    # the bank repeats its callback: nothing changes
    assert callback("payout", withdrawal.pk, "succeeded", 30_000).startswith("duplicate")
    assert callback("payout", withdrawal.pk, "failed", 30_000).startswith("duplicate")
    outbox_drain()  # draining again is harmless
    assert wallet_balance(user_id=seller.pk).balance_fen == 70_000
    assert Transfer.objects.filter(pending__isnull=False).count() == 1
    assert ledger_check().ok


def test_failed_payout_voids_the_reservation(seller):
    withdrawal = withdrawal_create(actor=seller, amount_fen=30_000, pin=PIN)
    assert callback("payout", withdrawal.pk, "failed", 30_000) == "withdrawal failed"
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.FAILED
    assert Transfer.objects.get(pending=withdrawal.pending_transfer).flag == (
        TransferFlag.VOID_PENDING
    )
    money = wallet_balance(user_id=seller.pk)
    assert (money.balance_fen, money.available_fen) == (100_000, 100_000)
    assert "withdrawal_failed" in kinds(seller)
    outbox_drain()  # the queued payout sees a finished withdrawal and does nothing
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.FAILED
    assert wallet_balance(user_id=seller.pk).balance_fen == 100_000
    assert ledger_check().ok


def test_payout_callback_with_a_wrong_amount_is_refused(seller):
    withdrawal = withdrawal_create(actor=seller, amount_fen=30_000, pin=PIN)
    with pytest.raises(DomainError) as exc:
        callback("payout", withdrawal.pk, "succeeded", 30_001)
    assert exc.value.code == "callback_invalid"
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.PENDING


def test_withdrawal_replay_with_the_same_key_returns_the_same_withdrawal(seller):
    first = withdrawal_create(actor=seller, amount_fen=10_000, pin=PIN, idempotency_key="w-1")
    again = withdrawal_create(actor=seller, amount_fen=10_000, pin=PIN, idempotency_key="w-1")
    assert again.pk == first.pk
    assert Withdrawal.objects.count() == 1
    assert wallet_balance(user_id=seller.pk).available_fen == 90_000
    # even after it was paid out
    outbox_drain()
    again = withdrawal_create(actor=seller, amount_fen=10_000, pin=PIN, idempotency_key="w-1")
    assert again.pk == first.pk
    assert wallet_balance(user_id=seller.pk).balance_fen == 90_000
    with pytest.raises(Conflict) as exc:
        withdrawal_create(actor=seller, amount_fen=10_001, pin=PIN, idempotency_key="w-1")
    assert exc.value.code == "idempotency_key_reused"
    # another key is another withdrawal
    withdrawal_create(actor=seller, amount_fen=10_000, pin=PIN, idempotency_key="w-2")
    assert Withdrawal.objects.count() == 2
    assert ledger_check().ok


def _sell(trade, quantity: int = 2):
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": quantity}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    return order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)


def test_shop_withdrawal_by_the_owner(trade):
    _sell(trade)  # 100 yuan less 2 yuan commission
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800
    with pytest.raises(DomainError) as exc:
        withdrawal_create(actor=trade.shop.owner, amount_fen=9801, pin=PIN, source="shop")
    assert exc.value.code == "insufficient_funds"
    withdrawal = withdrawal_create(actor=trade.shop.owner, amount_fen=8000, pin=PIN, source="shop")
    assert withdrawal.shop_id == trade.shop.pk
    money = shop_money(shop_id=trade.shop.pk)
    assert (money.available_fen, money.withdrawing_fen, money.withdrawn_fen) == (1800, 8000, 0)
    # the owner's own wallet is untouched
    assert wallet_balance(user_id=trade.shop.owner.pk).balance_fen == 0
    outbox_drain()
    money = shop_money(shop_id=trade.shop.pk)
    assert (money.available_fen, money.withdrawing_fen, money.withdrawn_fen) == (1800, 0, 8000)
    assert "withdrawal_requested" in kinds(trade.shop.owner)
    assert "withdrawal_done" in kinds(trade.shop.owner)
    assert ledger_check().ok


@pytest.mark.parametrize("role", ["service", "warehouse"])
def test_shop_withdrawal_refused_for_staff(trade, role):
    _sell(trade)
    staff = staff_create(
        actor=trade.shop.owner, username=f"staff{role}", password="Jishi2024pass", role=role
    ).user
    with pytest.raises(Forbidden):
        withdrawal_create(actor=staff, amount_fen=1000, pin=PIN, source="shop")
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800


def test_shop_withdrawal_refused_for_someone_without_a_shop(seller):
    with pytest.raises(NotFound):
        withdrawal_create(actor=seller, amount_fen=1000, pin=PIN, source="shop")


def test_a_payout_the_channel_never_takes_is_failed_and_the_money_returned(seller, monkeypatch):
    from datetime import timedelta

    from jishi.core import clock
    from jishi.core.outbox import ATTEMPTS_MAX
    from jishi.payments.channels import CHANNELS

    def bank_down(withdrawal):
        raise ConnectionError("bank unreachable")

    monkeypatch.setattr(CHANNELS["sandbox"], "payout_submit", bank_down)
    withdrawal = withdrawal_create(actor=seller, amount_fen=30_000, pin=PIN)
    for _attempt in range(ATTEMPTS_MAX):
        outbox_drain()
        clock.advance(timedelta(hours=1))  # past the retry back-off
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.FAILED
    money = wallet_balance(user_id=seller.pk)
    assert (money.balance_fen, money.available_fen) == (100_000, 100_000)
    assert "withdrawal_failed" in kinds(seller)
    assert ledger_check().ok
