# ruff: noqa: F811  (the trade fixtures are imported, then requested by name)
"""Seller center trade pages (orders, ship, memo, finance, shipping template) and the operator
console's order and ledger pages, through the Django test client."""

from datetime import timedelta

import pytest
from django.urls import reverse

from jishi.core import clock
from jishi.core.outbox import outbox_drain
from jishi.orders.models import Order, OrderStatus, ShippingTemplate
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.orders.timers import orders_sweep
from jishi.payments.models import ChannelOpStatus, Withdrawal
from jishi.payments.selectors import shop_money
from jishi.shops.services import staff_create
from tests.conftest import TEST_PASSWORD
from tests.trade.conftest import PIN, make_buyer, trade  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _place(trade, *, quantity: int = 2, sku=None, buyer=None) -> Order:
    buyer = buyer or trade.buyer
    group = order_place(
        buyer=buyer,
        items=[{"sku_id": (sku or trade.sku).pk, "quantity": quantity}],
        address_id=buyer.address.pk,
        notes={trade.shop.pk: "请发顺丰"},
    )
    return group.orders.get()


def _paid(trade, **kw) -> Order:
    order = _place(trade, **kw)
    group_pay(buyer=order.buyer, group_id=order.group_id, pin=PIN)
    order.refresh_from_db()
    return order


def _finished(trade) -> Order:
    order = _paid(trade)
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰速运", tracking_no="SF1")
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    order.refresh_from_db()
    return order


def _staff(trade, role: str):
    staff = staff_create(
        actor=trade.shop.owner,
        username=f"{role}{trade.shop.pk}",
        password=TEST_PASSWORD,
        role=role,
    )
    return staff.user


# --- seller: orders ---------------------------------------------------------------------------


def test_seller_sees_paid_order_and_ships_it(client, trade):
    order = _paid(trade)
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:orders"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-order-id="{order.pk}"' in html
    assert trade.buyer.username in html
    assert "¥100.00" in html and "Ship within" in html
    assert 'data-testid="ship-link"' in html
    assert "Sold orders" in html  # the left nav

    detail = client.get(reverse("seller:order", args=[order.pk]))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "138****5678" in text and "13812345678" not in text  # phone masked
    assert "请发顺丰" in text  # the buyer's note
    assert 'data-testid="ship-form"' in text

    response = client.post(
        reverse("seller:order_ship", args=[order.pk]),
        {"carrier": "other", "carrier_other": "德邦快递", "tracking_no": "DB123"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    assert (order.carrier, order.tracking_no) == ("德邦快递", "DB123")
    shipped = client.get(reverse("seller:orders") + "?tab=shipped").content.decode()
    assert f'data-order-id="{order.pk}"' in shipped


def test_ship_without_tracking_number_shows_the_error(client, trade):
    order = _paid(trade)
    client.force_login(trade.shop.owner)
    response = client.post(
        reverse("seller:order_ship", args=[order.pk]), {"carrier": "中通快递", "tracking_no": ""}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_SELLER_SEND_GOODS


def test_shipping_an_unpaid_order_is_refused_with_a_message(client, trade):
    order = _place(trade)
    client.force_login(trade.shop.owner)
    response = client.post(
        reverse("seller:order_ship", args=[order.pk]), {"carrier": "EMS", "tracking_no": "E1"}
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Only a paid order awaiting shipment can be shipped." in page


def test_warehouse_staff_ships_and_service_staff_only_views(client, trade):
    first, second = _paid(trade, quantity=1), _paid(trade, quantity=1)
    warehouse, service = _staff(trade, "warehouse"), _staff(trade, "service")

    client.force_login(service)
    assert client.get(reverse("seller:orders")).status_code == 200
    detail = client.get(reverse("seller:order", args=[first.pk])).content.decode()
    assert 'data-testid="ship-form"' not in detail
    assert "My money" not in detail and "Shipping templates" not in detail  # nav hides them
    refused = client.post(
        reverse("seller:order_ship", args=[first.pk]), {"carrier": "EMS", "tracking_no": "E1"}
    )
    assert refused.status_code == 403
    assert client.get(reverse("seller:finance")).status_code == 403
    assert client.get(reverse("seller:shipping")).status_code == 403
    first.refresh_from_db()
    assert first.status == OrderStatus.WAIT_SELLER_SEND_GOODS

    client.force_login(warehouse)
    listing = client.get(reverse("seller:orders")).content.decode()
    assert 'data-testid="ship-link"' in listing
    shipped = client.post(
        reverse("seller:order_ship", args=[second.pk]), {"carrier": "EMS", "tracking_no": "E2"}
    )
    assert shipped.status_code == 302
    second.refresh_from_db()
    assert second.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS


def test_another_shops_order_is_404(client, trade, make_shop):
    order = _paid(trade)
    other = make_shop()
    client.force_login(other.owner)
    assert client.get(reverse("seller:order", args=[order.pk])).status_code == 404
    ship = client.post(
        reverse("seller:order_ship", args=[order.pk]), {"carrier": "EMS", "tracking_no": "X"}
    )
    assert ship.status_code == 404
    memo = client.post(reverse("seller:order_memo", args=[order.pk]), {"memo": "mine"})
    assert memo.status_code == 404
    listing = client.get(reverse("seller:orders")).content.decode()
    assert f'data-order-id="{order.pk}"' not in listing
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_SELLER_SEND_GOODS and order.seller_memo == ""


def test_memo_is_saved_and_the_buyer_never_sees_it(client, trade):
    order = _paid(trade)
    client.force_login(trade.shop.owner)
    response = client.post(
        reverse("seller:order_memo", args=[order.pk]), {"memo": "送礼盒装，勿放发票"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.seller_memo == "送礼盒装，勿放发票"
    listing = client.get(reverse("seller:orders")).content.decode()
    assert 'data-memo="1"' in listing and "送礼盒装" in listing
    too_long = client.post(reverse("seller:order_memo", args=[order.pk]), {"memo": "x" * 501})
    assert too_long.status_code == 400
    assert "At most 500 characters" in too_long.content.decode()

    client.force_login(trade.buyer)
    buyer_page = client.get(f"/orders/{order.pk}/")
    if buyer_page.status_code == 200:  # the buyer's order page, once it exists
        assert "送礼盒装" not in buyer_page.content.decode()
    # The seller center is not the buyer's: no shop, so no order there either.
    assert client.get(reverse("seller:order", args=[order.pk])).status_code in (302, 404)


def test_order_list_filters_tabs_dates_and_search(client, trade, make_buyer):
    other_buyer = make_buyer()
    unpaid = _place(trade, quantity=1)
    paid = _paid(trade, quantity=1, buyer=other_buyer)
    client.force_login(trade.shop.owner)
    url = reverse("seller:orders")

    def ids(query: str) -> set[int]:
        html = client.get(url + query).content.decode()
        return {o.pk for o in (unpaid, paid) if f'data-order-id="{o.pk}"' in html}

    assert ids("") == {unpaid.pk, paid.pk}
    assert ids("?tab=to_pay") == {unpaid.pk}
    assert ids("?tab=to_ship") == {paid.pk}
    assert ids("?tab=completed") == set()
    assert ids(f"?q={paid.pk}") == {paid.pk}
    assert ids(f"?q={other_buyer.username}") == {paid.pk}
    today = clock.now().date().isoformat()
    assert ids(f"?from={today}&to={today}") == {unpaid.pk, paid.pk}
    assert ids("?to=2000-01-01") == set()
    assert "could not be read" in client.get(url + "?from=yesterday").content.decode()
    assert client.get(url + "?tab=nonsense&page=abc").status_code == 200

    clock.advance(timedelta(hours=49))
    orders_sweep()
    assert ids("?tab=late") == {paid.pk}
    assert ids("?tab=closed") == {unpaid.pk}  # unpaid for 24 h: closed by the timer
    detail = client.get(reverse("seller:order", args=[unpaid.pk])).content.decode()
    assert "Not paid in time" in detail


# --- seller: finance --------------------------------------------------------------------------


def test_finance_figures_after_a_release(client, trade):
    pending_order = _paid(trade, quantity=1)  # 50 yuan stays in escrow
    finished = _finished(trade)  # 100 yuan released, less 2 % commission
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:finance"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="money-pending"><small>¥</small>50.00' in html
    assert 'data-testid="money-available"><small>¥</small>98.00' in html
    assert 'data-testid="money-withdrawn"><small>¥</small>0.00' in html
    assert "sandbox bank (test environment)" in html
    assert 'data-kind="release"' in html and "+98.00" in html
    assert reverse("seller:order", args=[finished.pk]) in html
    detail = client.get(reverse("seller:order", args=[finished.pk])).content.decode()
    assert 'data-testid="order-commission">−¥2.00' in detail
    assert 'data-testid="order-released"><b>¥98.00' in detail
    assert pending_order.total_fen == 5000


def test_withdraw_with_pin_then_the_bank_pays_it_out(client, trade):
    _finished(trade)
    client.force_login(trade.shop.owner)
    url = reverse("seller:finance")
    wrong = client.post(url, {"amount": "50", "pin": "000000", "idempotency_key": "k0"})
    assert wrong.status_code == 400
    assert "Wrong payment PIN" in wrong.content.decode()
    bad = client.post(url, {"amount": "5O", "pin": PIN, "idempotency_key": "k1"})
    assert bad.status_code == 400 and "Enter an amount in yuan" in bad.content.decode()
    too_much = client.post(url, {"amount": "1000", "pin": PIN, "idempotency_key": "k2"})
    assert too_much.status_code == 400
    assert "more than the available balance" in too_much.content.decode()
    assert not Withdrawal.objects.exists()

    done = client.post(url, {"amount": "50.50", "pin": PIN, "idempotency_key": "k3"})
    assert done.status_code == 302
    again = client.post(url, {"amount": "50.50", "pin": PIN, "idempotency_key": "k3"})
    assert again.status_code == 302  # a double submit withdraws once
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.amount_fen) == (ChannelOpStatus.PENDING, 5050)
    assert withdrawal.shop_id == trade.shop.pk
    money = shop_money(shop_id=trade.shop.pk)
    assert (money.available_fen, money.withdrawing_fen) == (4750, 5050)
    html = client.get(url).content.decode()
    assert 'data-status="pending"' in html and "Processing" in html

    outbox_drain()
    withdrawal.refresh_from_db()
    assert withdrawal.status == ChannelOpStatus.SUCCEEDED
    money = shop_money(shop_id=trade.shop.pk)
    assert (money.available_fen, money.withdrawing_fen, money.withdrawn_fen) == (4750, 0, 5050)
    html = client.get(url).content.decode()
    assert 'data-status="succeeded"' in html
    assert 'data-testid="money-withdrawn"><small>¥</small>50.50' in html
    assert "-50.50" in html and "Paid out" in html


# --- seller: shipping template ----------------------------------------------------------------


def test_shipping_template_saves_and_refuses_a_bad_fee(client, trade):
    from jishi.accounts.validators import PROVINCES

    xinjiang = PROVINCES.index("新疆维吾尔自治区")
    client.force_login(trade.shop.owner)
    url = reverse("seller:shipping")
    assert client.get(url).status_code == 200
    saved = client.post(url, {"default_fee": "8", "free_over": "99", f"fee_{xinjiang}": "20.50"})
    assert saved.status_code == 302
    template = ShippingTemplate.objects.get(shop=trade.shop)
    assert template.default_fee_fen == 800
    assert template.free_over_fen == 9900
    assert template.province_fees == {"新疆维吾尔自治区": 2050}
    page = client.get(url).content.decode()
    assert 'value="20.50"' in page and 'value="99.00"' in page

    for data, field_text in (
        ({"default_fee": "-1"}, "Enter a fee in yuan"),
        ({"default_fee": "abc"}, "Enter a fee in yuan"),
        ({"default_fee": "5000"}, "Enter a fee in yuan"),
        ({"default_fee": "5", f"fee_{xinjiang}": "1.234"}, "Enter a fee in yuan"),
        ({"default_fee": "5", "free_over": "0"}, "above 0"),
    ):
        refused = client.post(url, data)
        assert refused.status_code == 400, data
        assert field_text in refused.content.decode(), data
    template.refresh_from_db()
    assert template.default_fee_fen == 800  # unchanged


# --- operator console -------------------------------------------------------------------------


def test_console_order_view_lists_its_transfers(client, trade, make_operator):
    order = _finished(trade)
    operator = make_operator("reviewer")  # console.view is enough to look at orders
    client.force_login(operator)
    listing = client.get(reverse("console:orders") + f"?q={trade.shop.name}")
    assert listing.status_code == 200
    assert f'data-order-id="{order.pk}"' in listing.content.decode()
    by_status = client.get(reverse("console:orders") + "?status=WAIT_BUYER_PAY").content.decode()
    assert f'data-order-id="{order.pk}"' not in by_status

    page = client.get(reverse("console:order", args=[order.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for kind in ("payment", "release", "commission"):
        assert f'data-testid="transfer-row" data-kind="{kind}"' in html
    assert f"escrow:order:{order.pk}" in html
    assert f"payment:order:{order.pk}" in html  # idempotency key
    assert "138****5678" in html and "13812345678" not in html
    assert "order.status" in html  # audit rows
    assert client.get(reverse("console:order", args=[order.pk + 999])).status_code == 404


def test_console_audit_log_shows_reason_labels_not_codes(client, trade, make_operator):
    import re

    finished = _finished(trade)
    unpaid = _place(trade, quantity=1)
    clock.advance(timedelta(hours=25))
    orders_sweep()
    client.force_login(make_operator("reviewer"))
    for order, label, code in (
        (finished, "Receipt confirmed by the buyer", "buyer_confirmed"),
        (unpaid, "Not paid in time", "unpaid_timeout"),
    ):
        html = client.get(reverse("console:order", args=[order.pk])).content.decode()
        reasons = re.findall(r'<td class="small reason-cell">([^<]*)</td>', html)
        assert label in reasons, order.pk
        assert code not in reasons
    zh = client.get(reverse("console:order", args=[unpaid.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert '<td class="small reason-cell">超时未付款</td>' in zh.content.decode()


def test_ledger_page_runs_the_check_and_shows_zero_drift(client, trade, make_operator):
    _finished(trade)
    client.force_login(make_operator("finance"))
    page = client.get(reverse("console:ledger"))
    assert page.status_code == 200
    assert 'data-kind="platform_commission"' in page.content.decode()
    checked = client.post(reverse("console:ledger"))
    assert checked.status_code == 200
    html = checked.content.decode()
    assert 'data-testid="check-ok"' in html and "Zero drift" in html
    assert 'data-testid="check-bad"' not in html


def test_reviewer_cannot_open_the_ledger(client, make_operator):
    client.force_login(make_operator("reviewer"))
    assert client.get(reverse("console:ledger")).status_code == 403
    assert client.post(reverse("console:ledger")).status_code == 403
    nav = client.get(reverse("console:orders")).content.decode()
    assert reverse("console:ledger") not in nav


def test_console_pages_need_an_operator(client, trade):
    order = _paid(trade)
    client.force_login(trade.buyer)
    assert client.get(reverse("console:orders")).status_code == 403
    assert client.get(reverse("console:order", args=[order.pk])).status_code == 403
