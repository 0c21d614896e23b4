"""Buyer trade pages through Django's test Client: cart, checkout, cashier, my orders, order
detail and its actions, wallet (top-up through the sandbox bank page, withdraw)."""

import re
from types import SimpleNamespace

import pytest
from django.urls import reverse

from jishi.accounts.services import address_create, payment_pin_set
from jishi.catalog.services import product_unlist
from jishi.ledger.check import ledger_check
from jishi.orders.models import CartItem, Order, OrderGroup, OrderStatus
from jishi.orders.services import (
    cart_add,
    group_pay,
    order_place,
    order_ship,
    shipping_template_set,
)
from jishi.payments.models import ChannelOpStatus, TopUp
from jishi.payments.selectors import wallet_balance
from tests.trade.conftest import PIN, fund, make_buyer, trade  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _flash(client) -> list[str]:
    """Messages waiting for the next page."""
    return [str(m) for m in client.get(reverse("orders:cart")).context["messages"]]


@pytest.fixture
def buyer_client(client, trade):  # noqa: F811
    client.force_login(trade.buyer)
    return client


@pytest.fixture
def two_shops(trade, make_shop, make_product):  # noqa: F811
    """``trade`` plus a second shop that charges 8 yuan postage (free from 200 yuan)."""
    other = make_shop()
    shipping_template_set(actor=other.owner, default_fee_fen=800, free_over_fen=20_000)
    product = make_product(other, listed=True, skus=[{"specs": {}, "price_fen": 3000, "stock": 4}])
    return SimpleNamespace(shop=other, product=product, sku=product.skus.get())


def _place(trade, quantity=1, sku=None):  # noqa: F811
    return order_place(
        buyer=trade.buyer,
        items=[{"sku_id": (sku or trade.sku).pk, "quantity": quantity}],
        address_id=trade.buyer.address.pk,
    )


# --- cart -------------------------------------------------------------------------------------


def test_cart_needs_login(client):
    response = client.get(reverse("orders:cart"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=/cart/" in response["Location"]


def test_add_to_cart_from_product_page_when_anonymous_goes_to_login(client, trade):  # noqa: F811
    product_url = reverse("storefront:product", args=[trade.product.pk])
    response = client.post(
        reverse("orders:cart_add"), {"sku_id": trade.sku.pk, "quantity": 1, "next": product_url}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=/item/" in response["Location"]


def test_product_page_has_buy_buttons(client, trade):  # noqa: F811
    html = _html(client.get(reverse("storefront:product", args=[trade.product.pk])))
    assert 'data-testid="buy-now"' in html and 'data-testid="add-to-cart"' in html
    assert reverse("orders:cart_add") in html and reverse("orders:checkout") in html


def test_cart_add_update_remove(buyer_client, trade):  # noqa: F811
    product_url = reverse("storefront:product", args=[trade.product.pk])
    response = buyer_client.post(
        reverse("orders:cart_add"), {"sku_id": trade.sku.pk, "quantity": 2, "next": product_url}
    )
    assert response.status_code == 302 and response["Location"] == product_url
    item = CartItem.objects.get(user=trade.buyer)
    assert item.quantity == 2

    html = _html(buyer_client.get(reverse("orders:cart")))
    assert trade.shop.name in html and trade.product.title in html and "500g" in html
    assert reverse("storefront:shop", args=[trade.shop.pk]) in html
    assert 'data-testid="cart-total">100.00<' in html  # 2 × 50 yuan
    assert 'data-testid="cart-count">1<' in html  # the top bar

    buyer_client.post(reverse("orders:cart_update", args=[item.pk]), {"quantity": 2, "delta": 1})
    item.refresh_from_db()
    assert item.quantity == 3
    buyer_client.post(reverse("orders:cart_update", args=[item.pk]), {"quantity": "5"})
    item.refresh_from_db()
    assert item.quantity == 5
    # Bad input is a message, not a 500.
    response = buyer_client.post(reverse("orders:cart_update", args=[item.pk]), {"quantity": "x"})
    assert response.status_code == 302
    assert any("quantity" in m.lower() or "数量" in m for m in _flash(buyer_client))

    buyer_client.post(reverse("orders:cart_remove"), {"item": [item.pk]})
    assert not CartItem.objects.filter(user=trade.buyer).exists()
    assert 'data-testid="cart-empty"' in _html(buyer_client.get(reverse("orders:cart")))


def test_cart_of_another_user_is_untouched(buyer_client, trade, make_buyer):  # noqa: F811
    other = make_buyer(balance_fen=0)
    theirs = cart_add(user=other, sku_id=trade.sku.pk, quantity=1)
    buyer_client.post(reverse("orders:cart_update", args=[theirs.pk]), {"quantity": 9})
    buyer_client.post(reverse("orders:cart_remove"), {"item": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.quantity == 1


def test_unavailable_items_are_greyed(buyer_client, trade):  # noqa: F811
    cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=1)
    product_unlist(actor=trade.shop.owner, product_id=trade.product.pk)
    html = _html(buyer_client.get(reverse("orders:cart")))
    assert 'data-testid="cart-unavailable"' in html
    assert "data-line-fen" not in html  # nothing can be chosen for checkout


# --- checkout ---------------------------------------------------------------------------------


def _cart_checkout_post(client, page_html):
    """Submit the checkout form as rendered: hidden fields, address, notes."""
    fields = dict(
        re.findall(r'name="(idempotency_key|address_id|from_cart)" value="([^"]*)"', page_html)
    )
    skus = re.findall(r'name="sku_id" value="(\d+)"', page_html)
    quantities = re.findall(r'name="quantity" value="(\d+)"', page_html)
    return {**fields, "sku_id": skus, "quantity": quantities}


def test_checkout_places_one_order_per_shop_with_postage(buyer_client, trade, two_shops):  # noqa: F811
    a = cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=1)
    b = cart_add(user=trade.buyer, sku_id=two_shops.sku.pk, quantity=2)
    page = buyer_client.get(reverse("orders:checkout"), {"item": [a.pk, b.pk]})
    assert page.status_code == 200
    html = _html(page)
    assert trade.shop.name in html and two_shops.shop.name in html
    assert html.count('data-testid="checkout-shop"') == 2
    assert "¥8.00" in html  # the second shop's postage
    assert 'data-testid="checkout-total">118.00<' in html  # 50 + 60 + 8

    data = _cart_checkout_post(buyer_client, html)
    data[f"note_{two_shops.shop.pk}"] = "请用纸箱包装"
    response = buyer_client.post(reverse("orders:checkout"), data)
    group = OrderGroup.objects.get(buyer=trade.buyer)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[group.pk])
    orders = {o.shop_id: o for o in group.orders.all()}
    assert len(orders) == 2
    assert orders[trade.shop.pk].shipping_fen == 0 and orders[trade.shop.pk].total_fen == 5000
    assert orders[two_shops.shop.pk].shipping_fen == 800
    assert orders[two_shops.shop.pk].total_fen == 6800
    assert orders[two_shops.shop.pk].buyer_note == "请用纸箱包装"
    assert group.total_fen == 11_800
    assert not CartItem.objects.filter(user=trade.buyer).exists()  # checked-out items leave


def test_double_submit_with_the_same_key_makes_one_group(buyer_client, trade):  # noqa: F811
    item = cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=1)
    html = _html(buyer_client.get(reverse("orders:checkout"), {"item": [item.pk]}))
    data = _cart_checkout_post(buyer_client, html)
    first = buyer_client.post(reverse("orders:checkout"), data)
    second = buyer_client.post(reverse("orders:checkout"), data)
    assert OrderGroup.objects.filter(buyer=trade.buyer).count() == 1
    assert first["Location"] == second["Location"]
    trade.sku.refresh_from_db()
    assert trade.sku.stock == 9  # deducted once


def test_buy_now_checks_out_one_item(buyer_client, trade):  # noqa: F811
    page = buyer_client.get(reverse("orders:checkout"), {"sku_id": trade.sku.pk, "quantity": 3})
    html = _html(page)
    assert 'data-testid="checkout-total">150.00<' in html
    assert 'name="from_cart"' not in html
    response = buyer_client.post(
        reverse("orders:checkout"), _cart_checkout_post(buyer_client, html)
    )
    assert response.status_code == 302
    order = Order.objects.get(buyer=trade.buyer)
    assert order.lines.get().quantity == 3


def test_checkout_more_than_stock_is_a_clear_error(buyer_client, trade):  # noqa: F811
    html = _html(
        buyer_client.get(reverse("orders:checkout"), {"sku_id": trade.scarce.pk, "quantity": 2})
    )
    response = buyer_client.post(
        reverse("orders:checkout"), _cart_checkout_post(buyer_client, html)
    )
    assert response.status_code == 400
    assert 'data-testid="checkout-error"' in _html(response)
    assert not Order.objects.filter(buyer=trade.buyer).exists()


def test_checkout_without_address_cannot_be_placed(client, make_user, trade):  # noqa: F811
    user = make_user()
    client.force_login(user)
    html = _html(client.get(reverse("orders:checkout"), {"sku_id": trade.sku.pk, "quantity": 1}))
    assert 'data-testid="no-address"' in html
    response = client.post(
        reverse("orders:checkout"),
        {"sku_id": trade.sku.pk, "quantity": 1, "address_id": "", "idempotency_key": "k1"},
    )
    assert response.status_code == 400
    assert not Order.objects.filter(buyer=user).exists()


# --- pay --------------------------------------------------------------------------------------


def test_pay_with_the_right_pin_moves_money(buyer_client, trade):  # noqa: F811
    group = _place(trade, quantity=2)
    page = buyer_client.get(reverse("orders:pay", args=[group.pk]))
    assert 'data-testid="pay-due">100.00<' in _html(page)
    assert 'data-testid="wallet-available">1,000.00<' in _html(page)
    response = buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": PIN})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("orders:list"))
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 90_000
    assert group.orders.get().status == OrderStatus.WAIT_SELLER_SEND_GOODS
    html = _html(buyer_client.get(response["Location"]))
    assert "flash-success" in html
    # Paying again says so clearly.
    again = buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": PIN})
    assert again.status_code == 302
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 90_000
    assert ledger_check().ok


def test_pay_with_a_wrong_pin_shows_attempts_left(buyer_client, trade):  # noqa: F811
    group = _place(trade)
    response = buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": "000000"})
    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="pin-error"' in html
    assert re.search(r'data-testid="pin-error">[^<]*2', html)  # 2 attempts left
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 100_000
    buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": "000000"})
    locked = buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": "000000"})
    assert 'data-testid="pay-error"' in _html(locked)  # wrong PIN, locked until …
    assert 'data-testid="pay-locked"' in _html(
        buyer_client.get(reverse("orders:pay", args=[group.pk]))
    )
    # Even the right PIN is refused while locked.
    buyer_client.post(reverse("orders:pay", args=[group.pk]), {"pin": PIN})
    assert group.orders.get().status == OrderStatus.WAIT_BUYER_PAY


def test_pay_without_enough_balance_links_to_top_up(client, trade, make_buyer):  # noqa: F811
    poor = make_buyer(balance_fen=1000)
    client.force_login(poor)
    group = order_place(
        buyer=poor, items=[{"sku_id": trade.sku.pk, "quantity": 1}], address_id=poor.address.pk
    )
    html = _html(client.get(reverse("orders:pay", args=[group.pk])))
    assert 'data-testid="pay-shortfall"' in html and "amount=40.00" in html
    response = client.post(reverse("orders:pay", args=[group.pk]), {"pin": PIN})
    assert response.status_code == 400
    assert reverse("payments:wallet") in _html(response)
    assert wallet_balance(user_id=poor.pk).balance_fen == 1000


# --- my orders and actions --------------------------------------------------------------------


def test_my_orders_tabs(buyer_client, trade):  # noqa: F811
    unpaid = _place(trade).orders.get()
    paid_group = _place(trade)
    group_pay(buyer=trade.buyer, group_id=paid_group.pk, pin=PIN)
    paid = paid_group.orders.get()

    html = _html(buyer_client.get(reverse("orders:list")))
    assert html.count('data-testid="order-card"') == 2
    assert 'data-testid="countdown"' in html  # the unpaid one must be paid in time

    html = _html(buyer_client.get(reverse("orders:list"), {"tab": "unpaid"}))
    assert f'data-order="{unpaid.pk}"' in html and f'data-order="{paid.pk}"' not in html
    assert 'data-testid="action-pay"' in html and 'data-testid="action-cancel"' in html

    html = _html(buyer_client.get(reverse("orders:list"), {"tab": "unshipped"}))
    assert f'data-order="{paid.pk}"' in html and f'data-order="{unpaid.pk}"' not in html
    assert 'data-testid="action-refund"' in html

    html = _html(buyer_client.get(reverse("orders:list"), {"tab": "finished"}))
    assert 'data-testid="orders-empty"' in html
    # An unknown tab is "all", never an error.
    assert buyer_client.get(reverse("orders:list"), {"tab": "<x>"}).status_code == 200


def test_confirm_receipt_with_pin_finishes_the_order(buyer_client, trade):  # noqa: F811
    group = _place(trade)
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF100")

    html = _html(buyer_client.get(reverse("orders:detail", args=[order.pk])))
    assert 'data-testid="tracking-no">SF100<' in html
    assert 'data-testid="countdown"' in html and 'data-testid="action-confirm"' in html
    assert 'data-testid="action-extend"' not in html  # 10 days left: too early

    wrong = buyer_client.post(reverse("orders:confirm", args=[order.pk]), {"pin": "000000"})
    assert wrong.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS

    response = buyer_client.post(reverse("orders:confirm", args=[order.pk]), {"pin": PIN})
    assert response["Location"] == reverse("orders:detail", args=[order.pk])
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_FINISHED
    html = _html(buyer_client.get(reverse("orders:list"), {"tab": "finished"}))
    assert f'data-order="{order.pk}"' in html
    assert ledger_check().ok


def test_extend_receipt_when_allowed(buyer_client, trade):  # noqa: F811
    from datetime import timedelta

    from jishi.core import clock

    group = _place(trade)
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="EMS", tracking_no="E1")
    clock.advance(timedelta(days=8))
    html = _html(buyer_client.get(reverse("orders:detail", args=[order.pk])))
    assert 'data-testid="action-extend"' in html
    buyer_client.post(reverse("orders:extend", args=[order.pk]))
    order.refresh_from_db()
    assert order.receipt_extended
    html = _html(buyer_client.get(reverse("orders:detail", args=[order.pk])))
    assert 'data-testid="action-extend"' not in html


def test_cancel_unpaid_returns_stock(buyer_client, trade):  # noqa: F811
    order = _place(trade, quantity=3).orders.get()
    trade.sku.refresh_from_db()
    assert trade.sku.stock == 7
    next_url = reverse("orders:list") + "?tab=unpaid"
    response = buyer_client.post(reverse("orders:cancel", args=[order.pk]), {"next": next_url})
    assert response["Location"] == next_url
    order.refresh_from_db()
    trade.sku.refresh_from_db()
    assert order.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert trade.sku.stock == 10
    # Cancelling again is a message, not a 500.
    again = buyer_client.post(reverse("orders:cancel", args=[order.pk]))
    assert again.status_code == 302


def test_refund_before_shipment(buyer_client, trade):  # noqa: F811
    group = _place(trade, quantity=2)
    group_pay(buyer=trade.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    buyer_client.post(reverse("orders:refund", args=[order.pk]))
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_CLOSED and order.refunded_fen == 10_000
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 100_000
    html = _html(buyer_client.get(reverse("orders:detail", args=[order.pk])))
    assert "refund-note" in html
    wallet = _html(buyer_client.get(reverse("payments:wallet")))
    assert 'data-kind="refund"' in wallet and 'data-kind="payment"' in wallet
    assert ledger_check().ok


def test_order_detail_shows_full_phone_and_changes_address(buyer_client, trade):  # noqa: F811
    order = _place(trade).orders.get()
    html = _html(buyer_client.get(reverse("orders:detail", args=[order.pk])))
    assert 'data-testid="order-phone">13812345678<' in html
    assert 'data-testid="order-steps"' in html
    new = address_create(
        user=trade.buyer,
        recipient="王五",
        phone="13900002222",
        province="江苏省",
        city="南京市",
        district="玄武区",
        detail="中山路 2 号",
    )
    buyer_client.post(reverse("orders:address", args=[order.pk]), {"address_id": new.pk})
    order.refresh_from_db()
    assert order.recipient == "王五" and order.province == "江苏省"


def test_another_buyers_order_group_and_topup_are_404(client, trade, make_buyer):  # noqa: F811
    group = _place(trade)
    order = group.orders.get()
    topup = TopUp.objects.filter(user=trade.buyer).first()
    stranger = make_buyer(balance_fen=0)
    client.force_login(stranger)
    assert client.get(reverse("orders:detail", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:pay", args=[group.pk])).status_code == 404
    assert client.post(reverse("orders:pay", args=[group.pk]), {"pin": PIN}).status_code == 404
    for name in ("cancel", "refund", "extend", "address"):
        assert client.post(reverse(f"orders:{name}", args=[order.pk])).status_code == 404
    assert client.post(reverse("orders:confirm", args=[order.pk]), {"pin": PIN}).status_code == 404
    sandbox_url = reverse("payments:sandbox_topup", args=[topup.pk])
    assert client.get(sandbox_url).status_code == 404
    assert client.post(sandbox_url, {"action": "approve"}).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.WAIT_BUYER_PAY


# --- wallet -----------------------------------------------------------------------------------


def test_top_up_through_the_sandbox_bank_credits_once(buyer_client, trade):  # noqa: F811
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    response = buyer_client.post(reverse("payments:topup"), {"amount": "88.50"})
    topup = TopUp.objects.filter(user=trade.buyer).order_by("-id").first()
    assert topup.amount_fen == 8850 and topup.status == ChannelOpStatus.PENDING
    sandbox_url = reverse("payments:sandbox_topup", args=[topup.pk])
    assert response["Location"] == sandbox_url

    page = _html(buyer_client.get(sandbox_url))
    assert 'data-testid="sandbox-banner"' in page and "¥88.50" in page

    first = buyer_client.post(sandbox_url, {"action": "approve"})
    second = buyer_client.post(sandbox_url, {"action": "approve"})
    assert first["Location"] == second["Location"] == reverse("payments:wallet")
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before + 8850
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.SUCCEEDED
    html = _html(buyer_client.get(reverse("payments:wallet")))
    assert 'data-testid="wallet-balance">1,088.50<' in html
    assert "+88.50" in html
    assert ledger_check().ok


def test_declined_top_up_credits_nothing(buyer_client, trade):  # noqa: F811
    before = wallet_balance(user_id=trade.buyer.pk).balance_fen
    buyer_client.post(reverse("payments:topup"), {"amount": "20"})
    topup = TopUp.objects.filter(user=trade.buyer).order_by("-id").first()
    buyer_client.post(reverse("payments:sandbox_topup", args=[topup.pk]), {"action": "decline"})
    topup.refresh_from_db()
    assert topup.status == ChannelOpStatus.FAILED
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before
    # Approving afterwards changes nothing either.
    buyer_client.post(reverse("payments:sandbox_topup", args=[topup.pk]), {"action": "approve"})
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == before


def test_top_up_with_a_bad_amount_is_shown_on_the_form(buyer_client):
    for amount in ("abc", "-5", "0", "1.234", "999999999"):
        response = buyer_client.post(reverse("payments:topup"), {"amount": amount})
        assert response.status_code == 400, amount
        assert 'data-testid="topup-error"' in _html(response)


def test_withdraw_without_a_card_explains(buyer_client, trade):  # noqa: F811
    html = _html(buyer_client.get(reverse("payments:wallet"), {"form": "withdraw"}))
    assert 'data-testid="withdraw-no-card"' in html
    assert 'data-testid="withdraw-form"' not in html
    response = buyer_client.post(reverse("payments:withdraw"), {"amount": "10", "pin": PIN})
    assert response.status_code == 400
    assert 'data-testid="withdraw-no-card"' in _html(response)
    assert wallet_balance(user_id=trade.buyer.pk).balance_fen == 100_000


def test_withdraw_with_a_card(client, make_verified_seller):
    user = make_verified_seller()
    payment_pin_set(user=user, password=user.raw_password, pin=PIN)
    fund(user, 10_000)
    client.force_login(user)
    html = _html(client.get(reverse("payments:wallet"), {"form": "withdraw"}))
    key = re.search(r'name="idempotency_key" value="(\w+)"', html).group(1)
    wrong = client.post(
        reverse("payments:withdraw"), {"amount": "30", "pin": "000000", "idempotency_key": key}
    )
    assert 'data-testid="withdraw-pin-error"' in _html(wrong)
    data = {"amount": "30", "pin": PIN, "idempotency_key": key}
    assert client.post(reverse("payments:withdraw"), data).status_code == 302
    assert client.post(reverse("payments:withdraw"), data).status_code == 302  # a double submit
    assert wallet_balance(user_id=user.pk).available_fen == 7_000
    html = _html(client.get(reverse("payments:wallet")))
    assert 'data-kind="withdrawal"' in html and "-30.00" in html
    assert ledger_check().ok


def test_top_up_from_the_cashier_returns_there(buyer_client, trade):  # noqa: F811
    pay_url = reverse("orders:pay", args=[_place(trade).pk])
    response = buyer_client.post(reverse("payments:topup"), {"amount": "10", "next": pay_url})
    assert response["Location"].endswith("?next=" + pay_url.replace("/", "%2F"))
    sandbox_url = response["Location"]
    page = _html(buyer_client.get(sandbox_url))
    assert f'name="next" value="{pay_url}"' in page
    done = buyer_client.post(sandbox_url, {"action": "approve", "next": pay_url})
    assert done["Location"] == pay_url
    # Somewhere else entirely is not followed.
    topup = TopUp.objects.filter(user=trade.buyer).order_by("-id").first()
    evil = buyer_client.post(
        reverse("payments:sandbox_topup", args=[topup.pk]),
        {"action": "approve", "next": "https://evil.example/"},
    )
    assert evil["Location"] == reverse("payments:wallet")
