"""Operator console after-sales pages through the Django test client: the arbitration queue,
the case page (take, message, rule), advance compensation on the order page, violations."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import DisputeStatus, RefundStatus
from jishi.core import clock
from jishi.ledger.check import ledger_check
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.payments.models import ShopDebt
from jishi.payments.selectors import wallet_balance
from jishi.shops.models import Violation
from tests.trade.conftest import PIN

pytestmark = pytest.mark.django_db

EVIDENCE_DAYS = 3


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _png(colour: str = "red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), colour).save(buffer, format="PNG")
    return SimpleUploadedFile("e.png", buffer.getvalue(), content_type="image/png")


def _paid_order(trade, quantity=2, ship=True) -> Order:
    group = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": quantity}],
        address_id=trade.buyer.address.pk,
    )
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    if ship:
        order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    return Order.objects.get(pk=order.pk)


def _finished_order(trade) -> Order:
    order = _paid_order(trade)
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order.refresh_from_db()
    return order


def _dispute(trade, *, amount_fen=3000):
    """A refused refund that the buyer escalated, with evidence from both sides."""
    order = _paid_order(trade)
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        reason="not_as_described",
        amount_fen=amount_fen,
        description="颜色和图片不一样",
        images=[_png("blue")],
    )
    aftersales.refund_refuse(
        actor=trade.shop.owner, case_id=case.pk, reason="与描述一致", images=[_png("green")]
    )
    return aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="颜色不对")


def _check():
    report = ledger_check()
    assert report.ok, report.problems


# --- who may see the pages --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "arbitrator"])
def test_pages_render_for_admin_and_arbitrator(client, trade, make_operator, role):
    dispute = _dispute(trade)
    client.force_login(make_operator(role))
    queue = client.get(reverse("console:disputes"))
    assert queue.status_code == 200
    html = queue.content.decode()
    assert f'data-dispute-id="{dispute.pk}"' in html
    assert reverse("console:disputes") in html and reverse("console:violations") in html  # nav
    case = client.get(reverse("console:dispute", args=[dispute.pk]))
    assert case.status_code == 200
    assert client.get(reverse("console:violations")).status_code == 200
    order = client.get(reverse("console:order", args=[dispute.case.order_id]))
    assert order.status_code == 200
    assert 'data-testid="order-cases"' in order.content.decode()


def test_pages_refuse_non_operators(client, trade):
    dispute = _dispute(trade)
    urls = [
        reverse("console:disputes"),
        reverse("console:dispute", args=[dispute.pk]),
        reverse("console:violations"),
    ]
    for url in urls:  # anonymous: to the login page
        response = client.get(url)
        assert response.status_code == 302 and "login" in response.url
    client.force_login(trade.buyer)  # a customer, even the buyer of the case
    for url in urls:
        assert client.get(url).status_code == 403
    posts = [
        reverse("console:dispute_take", args=[dispute.pk]),
        reverse("console:dispute_rule", args=[dispute.pk]),
        reverse("console:dispute_message", args=[dispute.pk]),
        reverse("console:order_advance", args=[dispute.case.order_id]),
        reverse("console:violations"),
    ]
    for url in posts:
        assert client.post(url, {"text": "x", "reason": "x"}).status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.REQUESTED


def test_roles_without_the_permission_are_refused(client, trade, make_operator):
    dispute = _dispute(trade)
    order_id = dispute.case.order_id
    client.force_login(make_operator("reviewer"))  # console.view only
    assert client.get(reverse("console:disputes")).status_code == 403
    assert client.get(reverse("console:dispute", args=[dispute.pk])).status_code == 403
    assert client.post(reverse("console:dispute_take", args=[dispute.pk])).status_code == 403
    ruling = {"decision": "seller", "reason": "x"}
    assert client.post(reverse("console:dispute_rule", args=[dispute.pk]), ruling).status_code == (
        403
    )
    nav = client.get(reverse("console:orders")).content.decode()
    assert reverse("console:disputes") not in nav
    assert reverse("console:violations") in nav  # the list is for every operator
    violations = client.get(reverse("console:violations")).content.decode()
    assert 'data-testid="violation-form"' not in violations
    record = {"shop_id": trade.shop.pk, "kind": "other", "note": "x"}
    assert client.post(reverse("console:violations"), record).status_code == 403
    order_page = client.get(reverse("console:order", args=[order_id])).content.decode()
    assert 'data-testid="advance-form"' not in order_page
    assert reverse("console:dispute", args=[dispute.pk]) not in order_page  # no link to a 403
    advance = {"amount": "10", "reason": "x"}
    assert client.post(reverse("console:order_advance", args=[order_id]), advance).status_code == (
        403
    )
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.REQUESTED
    assert not Violation.objects.exists()


def test_finance_operator_cannot_pay_in_advance(client, trade, make_operator):
    order = _finished_order(trade)
    client.force_login(make_operator("finance"))
    response = client.post(
        reverse("console:order_advance", args=[order.pk]), {"amount": "10", "reason": "x"}
    )
    assert response.status_code == 403
    assert not ShopDebt.objects.exists()


# --- the queue ---------------------------------------------------------------------------------


def test_queue_tabs_counts_and_mine_filter(client, trade, make_operator):
    first = _dispute(trade)
    second = _dispute(trade, amount_fen=2000)
    operator = make_operator("arbitrator")
    other = make_operator("arbitrator")
    aftersales.dispute_take(operator=operator, dispute_id=first.pk)
    client.force_login(operator)

    requested = client.get(reverse("console:disputes")).content.decode()
    assert f'data-dispute-id="{second.pk}"' in requested
    assert f'data-dispute-id="{first.pk}"' not in requested
    assert "(1)" in requested  # one waiting, one in the evidence phase

    evidence = client.get(reverse("console:disputes") + "?tab=evidence").content.decode()
    assert f'data-dispute-id="{first.pk}"' in evidence
    assert "Ends in" in evidence and operator.username in evidence
    assert (
        client.get(reverse("console:disputes") + "?tab=ready")
        .content.decode()
        .count('data-testid="dispute-row"')
        == 0
    )

    clock.advance(timedelta(days=EVIDENCE_DAYS, seconds=1))
    ready = client.get(reverse("console:disputes") + "?tab=ready").content.decode()
    assert f'data-dispute-id="{first.pk}"' in ready and "Evidence over" in ready

    client.force_login(other)
    mine = client.get(reverse("console:disputes") + "?tab=evidence&mine=1").content.decode()
    assert 'data-testid="dispute-row"' not in mine
    everyone = client.get(reverse("console:disputes") + "?tab=evidence").content.decode()
    assert f'data-dispute-id="{first.pk}"' in everyone

    # an unknown tab falls back to the first one, a junk page number to page 1
    junk = client.get(reverse("console:disputes") + "?tab=nope&page=abc")
    assert junk.status_code == 200 and f'data-dispute-id="{second.pk}"' in junk.content.decode()


def test_queue_take_button_takes_the_case(client, trade, make_operator):
    dispute = _dispute(trade)
    operator = make_operator("arbitrator")
    client.force_login(operator)
    back = reverse("console:disputes") + "?tab=requested"
    response = client.post(reverse("console:dispute_take", args=[dispute.pk]), {"back": back})
    assert response.status_code == 302 and response.url == back
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.EVIDENCE and dispute.operator == operator
    # taking it again: refused with the service's message, nothing changes
    again = client.post(reverse("console:dispute_take", args=[dispute.pk]), follow=True)
    assert "This case was already taken or ended." in again.content.decode()


# --- the case page -----------------------------------------------------------------------------


def test_case_page_shows_what_the_operator_needs(client, trade, make_operator):
    dispute = _dispute(trade)
    case = dispute.case
    client.force_login(make_operator("arbitrator"))
    html = client.get(reverse("console:dispute", args=[dispute.pk])).content.decode()
    # the request
    assert "Refund only" in html and "Not as described" in html and "¥30.00" in html
    assert "颜色和图片不一样" in html and "与描述一致" in html and "颜色不对" in html
    # the order: lines with paid, shipping, buyer, shop, address
    assert "¥100.00" in html and "顺丰" in html and "SF1" in html
    assert trade.buyer.username in html and trade.shop.name in html and "文三路 1 号" in html
    assert "138****5678" in html
    # the ledger transfers of the order
    assert 'data-testid="transfer-row"' in html and 'data-kind="payment"' in html
    # the history: both sides, with their evidence images
    assert html.count('data-testid="case-event"') == 3
    assert 'class="msg msg-buyer' in html and 'class="msg msg-seller' in html
    images = [img.file.url for event in case.events.all() for img in event.images.all()]
    assert len(images) == 2 and all(url in html for url in images)
    # the state and what to do
    assert "Waiting for an operator" in html and 'data-testid="take"' in html
    assert 'data-testid="rule-form"' not in html
    assert client.get(reverse("console:dispute", args=[dispute.pk + 999])).status_code == 404


def test_take_then_rule_for_buyer_moves_the_money(client, trade, make_operator):
    dispute = _dispute(trade)
    case = dispute.case
    operator = make_operator("arbitrator")
    client.force_login(operator)
    url = reverse("console:dispute", args=[dispute.pk])
    taken = client.post(reverse("console:dispute_take", args=[dispute.pk]), follow=True)
    assert taken.redirect_chain[-1][0] == url
    html = taken.content.decode()
    assert "You took case" in html and 'data-testid="evidence-countdown"' in html
    assert 'data-testid="rule-form"' in html
    assert 'value="30.00"' in html  # the amount asked, prefilled

    # the seller adds evidence while the phase runs; the operator asks a question
    aftersales.case_message_add(
        actor=trade.shop.owner, case_id=case.pk, text="发货前拍的照片", images=[_png("white")]
    )
    asked = client.post(
        reverse("console:dispute_message", args=[dispute.pk]),
        {"text": "请卖家提供发货单", "images": [_png("black")]},
        follow=True,
    )
    page = asked.content.decode()
    assert "请卖家提供发货单" in page and "发货前拍的照片" in page
    assert 'class="msg msg-operator' in page
    assert case.events.filter(party="operator", action="evidence").get().images.count() == 1

    clock.advance(timedelta(days=EVIDENCE_DAYS, seconds=1))
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    ruled = client.post(
        reverse("console:dispute_rule", args=[dispute.pk]),
        {"decision": "buyer", "amount": "25.50", "not_as_described": "1", "reason": "颜色不符"},
        follow=True,
    )
    assert ruled.redirect_chain[-1][0] == url
    html = ruled.content.decode()
    assert "Ruled for the buyer: ¥25.50 refunded" in html
    assert 'data-testid="ruling"' in html and operator.username in html and "颜色不符" in html
    dispute.refresh_from_db()
    case.refresh_from_db()
    assert dispute.status == DisputeStatus.RULED_BUYER and dispute.ruled_by == operator
    assert dispute.ruling_amount_fen == 2550
    assert case.status == RefundStatus.SUCCESS
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before + 2550
    assert trade.shop.violations.get().kind == "not_as_described"
    _check()

    # ruling twice is refused with a clear message, nothing changes
    again = client.post(
        reverse("console:dispute_rule", args=[dispute.pk]),
        {"decision": "seller", "reason": "改判"},
        follow=True,
    )
    assert "This case was already ruled." in again.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RULED_BUYER
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before + 2550
    _check()


def test_ruling_before_the_evidence_deadline_shows_the_error(client, trade, make_operator):
    dispute = _dispute(trade)
    operator = make_operator("arbitrator")
    aftersales.dispute_take(operator=operator, dispute_id=dispute.pk)
    client.force_login(operator)
    response = client.post(
        reverse("console:dispute_rule", args=[dispute.pk]),
        {"decision": "buyer", "amount": "30", "reason": "太早"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The evidence phase is still open until" in html
    assert "太早" in html  # the typed reason is kept
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.EVIDENCE


def test_ruling_a_case_not_taken_yet_says_why(client, trade, make_operator):
    dispute = _dispute(trade)
    client.force_login(make_operator("arbitrator"))
    response = client.post(
        reverse("console:dispute_rule", args=[dispute.pk]),
        {"decision": "buyer", "amount": "abc", "reason": "x"},
        follow=True,
    )
    assert "Take the case and let the evidence phase run first." in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.REQUESTED


def test_ruling_needs_a_reason_and_a_valid_amount(client, trade, make_operator):
    dispute = _dispute(trade)
    operator = make_operator("arbitrator")
    aftersales.dispute_take(operator=operator, dispute_id=dispute.pk)
    clock.advance(timedelta(days=EVIDENCE_DAYS, seconds=1))
    client.force_login(operator)
    url = reverse("console:dispute_rule", args=[dispute.pk])
    no_reason = client.post(url, {"decision": "seller", "reason": " "})
    assert no_reason.status_code == 400 and "This field is required." in no_reason.content.decode()
    bad_amount = client.post(url, {"decision": "buyer", "amount": "abc", "reason": "x"})
    assert bad_amount.status_code == 400
    assert "Enter an amount in yuan" in bad_amount.content.decode()
    too_much = client.post(url, {"decision": "buyer", "amount": "100.01", "reason": "x"})
    assert too_much.status_code == 400 and "Refund ¥0.01 to ¥100.00." in too_much.content.decode()
    no_decision = client.post(url, {"reason": "x"})
    assert no_decision.status_code == 400
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.EVIDENCE


def test_rule_for_seller_closes_the_request(client, trade, make_operator):
    dispute = _dispute(trade)
    operator = make_operator("admin")
    aftersales.dispute_take(operator=operator, dispute_id=dispute.pk)
    clock.advance(timedelta(days=EVIDENCE_DAYS, seconds=1))
    client.force_login(operator)
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    response = client.post(
        reverse("console:dispute_rule", args=[dispute.pk]),
        {"decision": "seller", "amount": "30", "not_as_described": "1", "reason": "证据不足"},
        follow=True,
    )
    assert "Ruled for the seller" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RULED_SELLER and not dispute.not_as_described
    assert dispute.case.status == RefundStatus.CLOSED
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before
    assert not Violation.objects.exists()
    ruled = client.get(reverse("console:disputes") + "?tab=ruled").content.decode()
    assert f'data-dispute-id="{dispute.pk}"' in ruled
    _check()


# --- advance compensation on the order page ---------------------------------------------------


def test_advance_compensation_on_a_finished_order(client, trade, make_operator):
    order = _finished_order(trade)
    operator = make_operator("arbitrator")
    client.force_login(operator)
    page = client.get(reverse("console:order", args=[order.pk])).content.decode()
    assert 'data-testid="advance-form"' in page and 'data-testid="no-debts"' in page
    assert "At most ¥98.00." in page  # what the seller received, as advance_pay counts it
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    form = {"amount": "20", "reason": "卖家失联", "idempotency_key": "k1"}
    response = client.post(reverse("console:order_advance", args=[order.pk]), form, follow=True)
    html = response.content.decode()
    assert "¥20.00 paid to the buyer in advance" in html
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before + 2000
    debt = ShopDebt.objects.get(order_id=order.pk)
    assert debt.kind == "advance" and debt.amount_fen == 2000
    assert debt.recovered_fen == 2000  # the shop's balance covered it at once
    assert 'data-testid="order-debt"' in html and "卖家失联" in html
    # the same form submitted twice pays once
    client.post(reverse("console:order_advance", args=[order.pk]), form)
    assert ShopDebt.objects.filter(order_id=order.pk).count() == 1
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before + 2000
    order.refresh_from_db()
    assert order.refunded_fen == 2000
    _check()


def test_advance_compensation_refused_on_an_unreleased_order(client, trade, make_operator):
    order = _paid_order(trade)  # shipped, money still in escrow
    client.force_login(make_operator("arbitrator"))
    page = client.get(reverse("console:order", args=[order.pk])).content.decode()
    assert 'data-testid="advance-form"' not in page
    assert 'data-testid="advance-unavailable"' in page
    assert "only for completed orders" in page
    response = client.post(
        reverse("console:order_advance", args=[order.pk]),
        {"amount": "20", "reason": "试试"},
        follow=True,
    )
    assert "Advance compensation is for completed orders" in response.content.decode()
    assert not ShopDebt.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS and order.refunded_fen == 0


def test_advance_compensation_form_errors(client, trade, make_operator):
    order = _finished_order(trade)
    client.force_login(make_operator("arbitrator"))
    url = reverse("console:order_advance", args=[order.pk])
    bad = client.post(url, {"amount": "-5", "reason": "x"})
    assert bad.status_code == 400 and "Enter an amount in yuan" in bad.content.decode()
    most = order.released_fen  # recovered from the seller: at most what it received
    assert most == 9800
    too_much = client.post(url, {"amount": "98.01", "reason": "x"})
    assert too_much.status_code == 400 and "Pay ¥0.01 to ¥98.00." in too_much.content.decode()
    no_reason = client.post(url, {"amount": "5", "reason": ""})
    assert no_reason.status_code == 400
    assert "This field is required." in no_reason.content.decode()
    assert 'value="5"' in no_reason.content.decode()  # the typed amount is kept
    assert not ShopDebt.objects.exists()


def test_order_page_links_its_cases(client, trade, make_operator):
    dispute = _dispute(trade)
    client.force_login(make_operator("arbitrator"))
    html = client.get(reverse("console:order", args=[dispute.case.order_id])).content.decode()
    assert f'data-case-id="{dispute.case_id}"' in html
    assert reverse("console:dispute", args=[dispute.pk]) in html
    assert "Refused by the seller" in html


# --- violations -------------------------------------------------------------------------------


def test_manual_violation_is_recorded_and_listed(client, trade, make_operator):
    order = _paid_order(trade)
    operator = make_operator("arbitrator")
    client.force_login(operator)
    page = client.get(reverse("console:violations"))
    assert page.status_code == 200 and 'data-testid="violation-form"' in page.content.decode()
    response = client.post(
        reverse("console:violations"),
        {
            "shop_id": trade.shop.pk,
            "kind": "other",
            "points": "",
            "order_id": order.pk,
            "note": "虚假发货",
        },
        follow=True,
    )
    html = response.content.decode()
    violation = Violation.objects.get()
    assert (violation.kind, violation.points, violation.order_id) == ("other", 2, order.pk)
    assert violation.created_by == operator and violation.note == "虚假发货"
    assert "Violation recorded against" in html
    assert f'data-violation-id="{violation.pk}"' in html
    assert 'data-testid="shop-points"' in html and "2 points in the last 12 months" in html
    # recorded again on the same order: the first one stands, the operator is told
    again = client.post(
        reverse("console:violations"),
        {"shop_id": trade.shop.pk, "kind": "other", "order_id": order.pk, "note": "再次"},
        follow=True,
    )
    assert "already has a violation of this kind" in again.content.decode()
    assert Violation.objects.count() == 1


def test_manual_violation_form_errors(client, trade, make_shop, make_operator):
    other_shop = make_shop()
    order = _paid_order(trade)
    client.force_login(make_operator("admin"))
    url = reverse("console:violations")
    cases = [
        ({"shop_id": "abc", "kind": "other", "note": "x"}, "Enter the shop"),
        ({"shop_id": "999999", "kind": "other", "note": "x"}, "No shop has this ID."),
        ({"shop_id": trade.shop.pk, "kind": "bogus", "note": "x"}, "Choose a kind of violation."),
        ({"shop_id": trade.shop.pk, "kind": "other", "note": ""}, "This field is required."),
        ({"shop_id": trade.shop.pk, "kind": "other", "points": "99", "note": "x"}, "from 0 to 48"),
        (
            {"shop_id": other_shop.pk, "kind": "other", "order_id": order.pk, "note": "x"},
            "This order belongs to another shop.",
        ),
        (
            {"shop_id": trade.shop.pk, "kind": "other", "order_id": "12x", "note": "x"},
            "Enter an order number",
        ),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 400, data
        assert message in response.content.decode(), data
    assert not Violation.objects.exists()


def test_violation_list_filters_by_shop(client, trade, make_shop, make_operator):
    from jishi.shops.services import violation_record

    other_shop = make_shop()
    mine = violation_record(actor=None, shop_id=trade.shop.pk, kind="late_shipment")
    theirs = violation_record(actor=None, shop_id=other_shop.pk, kind="not_shipped")
    client.force_login(make_operator("reviewer"))  # console.view: may look, not record
    everything = client.get(reverse("console:violations")).content.decode()
    assert f'data-violation-id="{mine.pk}"' in everything
    assert f'data-violation-id="{theirs.pk}"' in everything
    filtered = client.get(reverse("console:violations") + f"?shop={trade.shop.pk}")
    html = filtered.content.decode()
    assert f'data-violation-id="{mine.pk}"' in html
    assert f'data-violation-id="{theirs.pk}"' not in html
    assert "1 point in the last 12 months" in html
    junk = client.get(reverse("console:violations") + "?shop=abc")
    assert junk.status_code == 200


def test_withdrawn_case_is_listed_and_explained(client, trade, make_operator):
    dispute = _dispute(trade)
    aftersales.dispute_withdraw(actor=trade.buyer, dispute_id=dispute.pk)
    client.force_login(make_operator("arbitrator"))
    listed = client.get(reverse("console:disputes") + "?tab=withdrawn").content.decode()
    assert f'data-dispute-id="{dispute.pk}"' in listed
    html = client.get(reverse("console:dispute", args=[dispute.pk])).content.decode()
    assert "The buyer withdrew the request for intervention" in html
    assert 'data-testid="rule-form"' not in html and 'data-testid="take"' not in html
    assert 'data-action="dispute_withdraw"' in html
