"""Orders through the services: cart, checkout, postage, stock, payment, shipping, receipt,
cancel, refund before shipment, address change and memo. Every money path ends balanced."""

from datetime import timedelta

import pytest
from django.utils import translation

from jishi.accounts.models import Notification, PaymentPin
from jishi.accounts.services import address_create
from jishi.catalog.models import Product, Sku
from jishi.catalog.services import category_update, product_unlist
from jishi.core import clock
from jishi.core.errors import Conflict, DomainError, Forbidden, NotFound
from jishi.core.rules import rule_set
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.ledger.selectors import balance_of, kind_total
from jishi.orders.models import CartItem, Order, OrderGroup, OrderLine, OrderStatus
from jishi.orders.services import (
    cart_add,
    cart_remove,
    cart_update,
    checkout_plan,
    group_pay,
    order_address_change,
    order_cancel,
    order_confirm,
    order_extend_receipt,
    order_memo_set,
    order_place,
    order_refund_before_shipment,
    order_ship,
    shipping_template_set,
)
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.shops.services import staff_create
from tests.conftest import TEST_PASSWORD
from tests.trade.conftest import PIN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def place(buyer, *items, address=None, **kwargs) -> OrderGroup:
    """Check out (sku, quantity) pairs to the buyer's address."""
    return order_place(
        buyer=buyer,
        items=[{"sku_id": sku.pk, "quantity": quantity} for sku, quantity in items],
        address_id=(address or buyer.address).pk,
        **kwargs,
    )


def pay(buyer, group) -> OrderGroup:
    return group_pay(buyer=buyer, group_id=group.pk, pin=PIN)


def ship(order, actor=None) -> Order:
    return order_ship(
        actor=actor or order.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF100"
    )


def balanced() -> bool:
    report = ledger_check()
    assert report.ok, report.problems
    return True


def stock(sku) -> int:
    return Sku.objects.get(pk=sku.pk).stock


def wallet(user) -> int:
    return wallet_balance(user_id=user.pk).balance_fen


def staff(shop, role: str):
    return staff_create(
        actor=shop.owner, username=f"{role}{shop.pk}", password=TEST_PASSWORD, role=role
    ).user


# --- cart -------------------------------------------------------------------------------------


def test_cart_add_update_remove(trade, make_buyer):
    buyer = trade.buyer
    item = cart_add(user=buyer, sku_id=trade.sku.pk, quantity=2)
    again = cart_add(user=buyer, sku_id=trade.sku.pk, quantity="3")
    assert again.pk == item.pk and again.quantity == 5
    assert cart_update(user=buyer, item_id=item.pk, quantity=1).quantity == 1
    other = make_buyer(balance_fen=0)
    with pytest.raises(NotFound):
        cart_update(user=other, item_id=item.pk, quantity=2)
    with pytest.raises(NotFound):
        cart_update(user=buyer, item_id="x", quantity=2)
    assert cart_remove(user=other, item_ids=[item.pk]) == 0
    assert cart_remove(user=buyer, item_ids=["abc", None, -1, "9" * 25]) == 0  # junk: no 500
    assert cart_remove(user=buyer, item_ids=[item.pk]) == 1
    assert not CartItem.objects.exists()
    item = cart_add(user=buyer, sku_id=trade.sku.pk)
    assert cart_remove(user=buyer, item_ids=str(item.pk)) == 1  # one id, not its digits


@pytest.mark.parametrize("quantity", [0, -1, 10_000, 1.5, "abc", None, True])
def test_cart_quantity_bounds(trade, quantity):
    with pytest.raises(DomainError) as exc:
        cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=quantity)
    assert exc.value.code == "quantity_invalid"
    item = cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=1)
    with pytest.raises(DomainError) as exc:
        cart_update(user=trade.buyer, item_id=item.pk, quantity=quantity)
    assert exc.value.code == "quantity_invalid"


def test_cart_quantity_cannot_grow_past_the_maximum(trade):
    cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=9999)
    with pytest.raises(DomainError) as exc:
        cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=1)
    assert exc.value.code == "quantity_invalid"
    assert CartItem.objects.get().quantity == 9999


def test_own_shop_purchase_refused(trade):
    owner = trade.shop.owner
    with pytest.raises(DomainError) as exc:
        cart_add(user=owner, sku_id=trade.sku.pk)
    assert exc.value.code == "own_shop"
    with pytest.raises(DomainError) as exc:
        checkout_plan(buyer=owner, items=[{"sku_id": trade.sku.pk, "quantity": 1}], province="")
    assert exc.value.code == "own_shop"
    with pytest.raises(DomainError) as exc:
        cart_add(user=staff(trade.shop, "service"), sku_id=trade.sku.pk)
    assert exc.value.code == "own_shop"


def test_unlisted_or_missing_sku_refused(trade):
    for sku_id in ("abc", -1, 999_999, None):
        with pytest.raises(DomainError) as exc:
            cart_add(user=trade.buyer, sku_id=sku_id)
        assert exc.value.code == "sku_unavailable"
    Sku.objects.filter(pk=trade.scarce.pk).update(is_active=False)
    with pytest.raises(DomainError) as exc:
        cart_add(user=trade.buyer, sku_id=trade.scarce.pk)
    assert exc.value.code == "sku_unavailable"
    product_unlist(actor=trade.shop.owner, product_id=trade.product.pk)
    with pytest.raises(DomainError) as exc:
        cart_add(user=trade.buyer, sku_id=trade.sku.pk)
    assert exc.value.code == "sku_unavailable"
    with pytest.raises(DomainError) as exc:
        place(trade.buyer, (trade.sku, 1))
    assert exc.value.code == "sku_unavailable"
    assert not OrderGroup.objects.exists()


def test_cart_limit(trade, make_listing, make_operator):
    rule_set(actor=make_operator("admin"), name="cart_items_max", value=2)
    cart_add(user=trade.buyer, sku_id=trade.sku.pk)
    cart_add(user=trade.buyer, sku_id=trade.scarce.pk)
    cart_add(user=trade.buyer, sku_id=trade.sku.pk)  # more of the same is not a new item
    third = make_listing(shop=trade.shop)
    with pytest.raises(DomainError) as exc:
        cart_add(user=trade.buyer, sku_id=third.pk)
    assert exc.value.code == "cart_limit"
    items = [{"sku_id": s.pk, "quantity": 1} for s in (trade.sku, trade.scarce, third)]
    with pytest.raises(DomainError) as exc:
        checkout_plan(buyer=trade.buyer, items=items, province="浙江省")
    assert exc.value.code == "cart_limit"


def test_empty_checkout_and_missing_address_refused(trade, make_buyer):
    with pytest.raises(DomainError) as exc:
        order_place(buyer=trade.buyer, items=[], address_id=trade.buyer.address.pk)
    assert exc.value.code == "cart_empty"
    other = make_buyer(balance_fen=0)
    for address_id in (other.address.pk, "x", None):
        with pytest.raises(DomainError) as exc:
            order_place(
                buyer=trade.buyer,
                items=[{"sku_id": trade.sku.pk, "quantity": 1}],
                address_id=address_id,
            )
        assert exc.value.code == "address_required"
    assert not OrderGroup.objects.exists()


# --- checkout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("notes", [["x"], "note", 5])
def test_checkout_notes_must_be_per_shop(trade, notes):
    with pytest.raises(DomainError) as exc:
        place(trade.buyer, (trade.sku, 1), notes=notes)
    assert exc.value.extra["fields"].keys() == {"notes"}
    assert not OrderGroup.objects.exists()


def test_checkout_note_too_long(trade):
    with pytest.raises(DomainError) as exc:
        place(trade.buyer, (trade.sku, 1), notes={trade.shop.pk: "长" * 201})
    assert exc.value.code == "text_too_long"
    assert stock(trade.sku) == 10


def test_checkout_across_two_shops_freezes_prices_and_rates(trade, make_listing, make_operator):
    other = make_listing(price_fen=3333, stock=5)
    cart_add(user=trade.buyer, sku_id=trade.sku.pk, quantity=2)
    cart_add(user=trade.buyer, sku_id=other.pk, quantity=3)
    group = place(
        trade.buyer,
        (trade.sku, 1),
        (other, 3),
        (trade.sku, 1),  # the same SKU twice is one line
        notes={trade.shop.pk: "请用纸箱"},
        from_cart=True,
    )
    orders = list(group.orders.order_by("shop_id"))
    assert len(orders) == 2 and {o.shop_id for o in orders} == {trade.shop.pk, other.shop.pk}
    mine = group.orders.get(shop=trade.shop)
    theirs = group.orders.get(shop=other.shop)
    assert (mine.items_fen, mine.total_fen, mine.buyer_note) == (10_000, 10_000, "请用纸箱")
    assert (theirs.items_fen, theirs.total_fen, theirs.buyer_note) == (9999, 9999, "")
    assert group.total_fen == 19_999
    assert all(o.status == OrderStatus.WAIT_BUYER_PAY for o in orders)
    assert all(o.pay_deadline == clock.now() + timedelta(hours=24) for o in orders)
    assert mine.province == "浙江省" and mine.recipient == "李四"
    line = mine.lines.get()
    assert (line.unit_price_fen, line.quantity, line.paid_fen) == (5000, 2, 10_000)
    assert line.commission_rate_bp == 200 and line.title == trade.product.title
    assert not CartItem.objects.exists()  # bought from the cart
    # the category's rate changes after the sale: the line keeps the rate it was sold at
    category = trade.product.category
    category_update(
        operator=make_operator("catalog"),
        category_id=category.pk,
        name=category.name,
        commission_rate_bp=1000,
    )
    Sku.objects.filter(pk=trade.sku.pk).update(price_fen=1)
    pay(trade.buyer, group)
    ship(mine)
    finished = order_confirm(buyer=trade.buyer, order_id=mine.pk, pin=PIN)
    assert finished.commission_fen == 200  # 2 % of 100 yuan, not 10 %
    assert finished.released_fen == 9800
    line.refresh_from_db()
    assert (line.unit_price_fen, line.commission_rate_bp) == (5000, 200)
    # a new order uses the new rate
    later = place(trade.buyer, (trade.sku, 1)).orders.get()
    assert later.lines.get().commission_rate_bp == 1000
    assert balanced()


def test_checkout_replay_with_the_same_key_returns_the_same_group(trade):
    first = place(trade.buyer, (trade.sku, 1), idempotency_key="c-1")
    again = place(trade.buyer, (trade.sku, 1), idempotency_key="c-1")
    assert again.pk == first.pk
    assert OrderGroup.objects.count() == 1
    assert stock(trade.sku) == 9


# --- postage ----------------------------------------------------------------------------------


@pytest.fixture
def postage(trade):
    return shipping_template_set(
        actor=trade.shop.owner,
        default_fee_fen=800,
        province_fees={"新疆维吾尔自治区": 2000},
        free_over_fen=15_000,
    )


def test_postage_default_province_and_free_over(trade, postage, make_buyer):
    plan = checkout_plan(
        buyer=trade.buyer, items=[{"sku_id": trade.sku.pk, "quantity": 1}], province="浙江省"
    )
    assert (plan[0]["items_fen"], plan[0]["shipping_fen"], plan[0]["total_fen"]) == (
        5000,
        800,
        5800,
    )
    order = place(trade.buyer, (trade.sku, 1)).orders.get()
    assert (order.shipping_fen, order.total_fen) == (800, 5800)
    far = make_buyer(province="新疆维吾尔自治区")
    order = place(far, (trade.sku, 1)).orders.get()
    assert (order.shipping_fen, order.total_fen) == (2000, 7000)
    order = place(far, (trade.sku, 3)).orders.get()  # 150 yuan reaches the free threshold
    assert (order.shipping_fen, order.total_fen) == (0, 15_000)
    order = place(far, (trade.sku, 2), (trade.scarce, 1)).orders.get()
    assert order.shipping_fen == 0  # 100 + 90 yuan: over the threshold per shop order


def test_no_template_ships_free(trade):
    order = place(trade.buyer, (trade.sku, 1)).orders.get()
    assert (order.shipping_fen, order.total_fen) == (0, 5000)


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"default_fee_fen": -1}, "out_of_range"),
        ({"default_fee_fen": 100_001}, "out_of_range"),
        ({"default_fee_fen": 1.5}, "not_an_integer"),
        ({"default_fee_fen": 0, "province_fees": {"火星": 100}}, "shipping_invalid"),
        ({"default_fee_fen": 0, "province_fees": [1]}, "shipping_invalid"),
        ({"default_fee_fen": 0, "province_fees": {"北京市": -5}}, "out_of_range"),
        ({"default_fee_fen": 0, "free_over_fen": 0}, "out_of_range"),
    ],
)
def test_shipping_template_validation(trade, fields, code):
    with pytest.raises(DomainError) as exc:
        shipping_template_set(actor=trade.shop.owner, **fields)
    assert exc.value.code == code


def test_shipping_template_needs_shop_edit(trade):
    with pytest.raises(Forbidden):
        shipping_template_set(actor=staff(trade.shop, "warehouse"), default_fee_fen=0)
    with pytest.raises(NotFound):
        shipping_template_set(actor=trade.buyer, default_fee_fen=0)


# --- stock ------------------------------------------------------------------------------------


def test_stock_deducted_at_order_for_order_listings(trade):
    group = place(trade.buyer, (trade.sku, 3))
    assert stock(trade.sku) == 7
    line = OrderLine.objects.get(order__group=group)
    assert line.stock_deduction == "order" and line.stock_held
    pay(trade.buyer, group)
    assert stock(trade.sku) == 7  # not again at payment
    assert Product.objects.get(pk=trade.product.pk).sales_count == 3


def test_stock_deducted_at_payment_for_payment_listings(trade, make_listing):
    sku = make_listing(stock=2, stock_deduction="payment", price_fen=1000)
    group = place(trade.buyer, (sku, 2))
    assert stock(sku) == 2
    assert not OrderLine.objects.get(order__group=group).stock_held
    pay(trade.buyer, group)
    assert stock(sku) == 0
    assert OrderLine.objects.get(order__group=group).stock_held
    assert balanced()


def test_out_of_stock_at_checkout(trade):
    with pytest.raises(Conflict) as exc:
        place(trade.buyer, (trade.sku, 1), (trade.scarce, 2))
    assert exc.value.code == "out_of_stock"
    assert exc.value.extra == {"sku_id": trade.scarce.pk, "available": 1}
    assert (stock(trade.sku), stock(trade.scarce)) == (10, 1)  # all or nothing
    assert not OrderGroup.objects.exists() and not Order.objects.exists()
    place(trade.buyer, (trade.scarce, 1))
    with pytest.raises(Conflict):
        place(trade.buyer, (trade.scarce, 1))
    assert stock(trade.scarce) == 0


def test_out_of_stock_at_payment_rolls_back_the_whole_payment(trade, make_listing, make_buyer):
    last = make_listing(stock=1, stock_deduction="payment", price_fen=2000)
    rival = make_buyer()
    group = place(trade.buyer, (trade.sku, 1), (last, 1))  # two shops, one group
    pay(rival, place(rival, (last, 1)))  # the rival pays first and takes the last unit
    assert stock(last) == 0
    with pytest.raises(Conflict) as exc:
        pay(trade.buyer, group)
    assert exc.value.code == "out_of_stock"
    assert wallet(trade.buyer) == 100_000
    assert set(group.orders.values_list("status", flat=True)) == {OrderStatus.WAIT_BUYER_PAY}
    assert not Transfer.objects.filter(kind="payment", order_id__in=group.orders.all()).exists()
    assert stock(trade.sku) == 9 and stock(last) == 0
    assert not OrderLine.objects.get(order__group=group, sku=last).stock_held
    assert PaymentPin.objects.get(user=trade.buyer).failed_attempts == 0  # the PIN was right
    assert OrderGroup.objects.get(pk=group.pk).paid_at is None
    assert balanced()


# --- payment ----------------------------------------------------------------------------------


def test_pay_moves_the_group_into_escrow(trade, make_listing):
    other = make_listing(price_fen=1500)
    group = place(trade.buyer, (trade.sku, 1), (other, 2))
    paid = pay(trade.buyer, group)
    assert paid.paid_at == clock.now()
    assert wallet(trade.buyer) == 100_000 - 8000
    for order in group.orders.all():
        assert order.status == OrderStatus.WAIT_SELLER_SEND_GOODS
        assert order.pay_deadline is None
        assert order.ship_deadline == clock.now() + timedelta(hours=48)
        assert balance_of(f"escrow:order:{order.pk}") == order.total_fen
        assert Notification.objects.filter(user=order.shop.owner, kind="order_paid").exists()
    assert shop_money(shop_id=trade.shop.pk).pending_fen == 5000
    assert balanced()


def test_wrong_pin_counted_and_locked_after_three(trade):
    group = place(trade.buyer, (trade.sku, 1))
    for attempt in (1, 2):
        with pytest.raises(DomainError) as exc:
            group_pay(buyer=trade.buyer, group_id=group.pk, pin="000000")
        assert exc.value.code == "pin_wrong"
        assert exc.value.extra["attempts_left"] == 3 - attempt
        assert PaymentPin.objects.get(user=trade.buyer).failed_attempts == attempt
    with pytest.raises(DomainError) as exc:
        group_pay(buyer=trade.buyer, group_id=group.pk, pin="000000")
    assert exc.value.code == "pin_locked"
    with pytest.raises(DomainError) as exc:  # even the right PIN, while locked
        pay(trade.buyer, group)
    assert exc.value.code == "pin_locked"
    assert group.orders.get().status == OrderStatus.WAIT_BUYER_PAY
    assert wallet(trade.buyer) == 100_000
    clock.advance(timedelta(hours=3, seconds=1))
    pay(trade.buyer, group)
    assert group.orders.get().status == OrderStatus.WAIT_SELLER_SEND_GOODS
    assert balanced()


def test_insufficient_funds_rolls_back_everything(trade, make_listing, make_buyer):
    poor = make_buyer(balance_fen=6000)
    later = make_listing(price_fen=3000, stock=4, stock_deduction="payment")
    group = place(poor, (trade.sku, 1), (later, 1))  # 50 + 30 yuan, 60 in the wallet
    with pytest.raises(DomainError) as exc:
        pay(poor, group)
    assert exc.value.code == "insufficient_funds"
    assert wallet(poor) == 6000
    assert set(group.orders.values_list("status", flat=True)) == {OrderStatus.WAIT_BUYER_PAY}
    assert not Transfer.objects.filter(kind="payment").exists()
    assert stock(later) == 4 and stock(trade.sku) == 9
    assert Product.objects.get(pk=trade.product.pk).sales_count == 0
    assert OrderGroup.objects.get(pk=group.pk).paid_at is None
    assert PaymentPin.objects.get(user=poor).failed_attempts == 0
    assert balanced()


def test_paying_twice_is_refused(trade):
    group = place(trade.buyer, (trade.sku, 1))
    pay(trade.buyer, group)
    with pytest.raises(Conflict) as exc:
        pay(trade.buyer, group)
    assert exc.value.code == "already_paid"
    assert wallet(trade.buyer) == 95_000
    assert Transfer.objects.filter(kind="payment").count() == 1
    assert balanced()


def test_paying_a_group_with_a_cancelled_order_pays_the_rest(trade, make_listing):
    other = make_listing(price_fen=2000)
    group = place(trade.buyer, (trade.sku, 1), (other, 1))
    cancelled = group.orders.get(shop=other.shop)
    order_cancel(buyer=trade.buyer, order_id=cancelled.pk)
    pay(trade.buyer, group)
    assert wallet(trade.buyer) == 95_000
    assert group.orders.get(shop=trade.shop).status == OrderStatus.WAIT_SELLER_SEND_GOODS
    cancelled.refresh_from_db()
    assert cancelled.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM and cancelled.paid_at is None
    assert balanced()


def test_paying_a_fully_closed_group_is_refused(trade):
    group = place(trade.buyer, (trade.sku, 1))
    order_cancel(buyer=trade.buyer, order_id=group.orders.get().pk)
    with pytest.raises(DomainError) as exc:
        pay(trade.buyer, group)
    assert exc.value.code == "nothing_to_pay"


def test_paying_someone_elses_group_is_not_found(trade, make_buyer):
    group = place(trade.buyer, (trade.sku, 1))
    other = make_buyer()
    for group_id in (group.pk, "x", -1, None):
        with pytest.raises(NotFound) as exc:
            group_pay(buyer=other, group_id=group_id, pin=PIN)
        with translation.override("zh-hans"):
            assert str(exc.value.message) == "订单不存在。"  # a sentence, not the word "order"
    assert PaymentPin.objects.get(user=other).failed_attempts == 0


# --- shipping ---------------------------------------------------------------------------------


@pytest.fixture
def paid(trade):
    """A paid order of 2 × 50 yuan awaiting shipment."""
    group = place(trade.buyer, (trade.sku, 2))
    pay(trade.buyer, group)
    return group.orders.get()


def test_ship_sets_the_auto_confirm_deadline(trade, paid):
    shipped = ship(paid)
    assert shipped.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    assert (shipped.carrier, shipped.tracking_no) == ("顺丰", "SF100")
    assert shipped.shipped_at == clock.now()
    assert shipped.confirm_deadline == clock.now() + timedelta(days=10)
    assert Notification.objects.filter(user=trade.buyer, kind="order_shipped").exists()
    with pytest.raises(DomainError) as exc:
        ship(paid)
    assert exc.value.code == "order_status_invalid"


def test_ship_unpaid_refused(trade):
    order = place(trade.buyer, (trade.sku, 1)).orders.get()
    with pytest.raises(DomainError) as exc:
        ship(order)
    assert exc.value.code == "order_status_invalid"


@pytest.mark.parametrize("carrier,tracking", [("顺丰", ""), ("", "SF1"), ("顺丰", "   ")])
def test_ship_needs_carrier_and_tracking(paid, carrier, tracking):
    with pytest.raises(DomainError) as exc:
        order_ship(actor=paid.shop.owner, order_id=paid.pk, carrier=carrier, tracking_no=tracking)
    assert exc.value.code == "field_required"
    paid.refresh_from_db()
    assert paid.status == OrderStatus.WAIT_SELLER_SEND_GOODS


def test_virtual_goods_need_a_note_and_auto_confirm_in_three_days(trade, make_listing):
    card = make_listing(price_fen=3000, virtual=True)
    group = place(trade.buyer, (card, 1))
    pay(trade.buyer, group)
    order = group.orders.get()
    assert order.is_virtual
    with pytest.raises(DomainError) as exc:
        order_ship(actor=card.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    assert exc.value.code == "field_required"
    shipped = order_ship(actor=card.shop.owner, order_id=order.pk, delivery_note="卡密 1234-5678")
    assert shipped.delivery_note == "卡密 1234-5678"
    assert shipped.confirm_deadline == clock.now() + timedelta(days=3)


def test_a_mixed_order_is_not_virtual(trade, make_listing):
    card = make_listing(shop=trade.shop, virtual=True)
    order = place(trade.buyer, (card, 1), (trade.sku, 1)).orders.get()
    assert not order.is_virtual


def test_warehouse_staff_ship_service_staff_cannot(trade, paid, make_shop):
    with pytest.raises(Forbidden):
        ship(paid, actor=staff(trade.shop, "service"))
    with pytest.raises(NotFound):  # another shop's owner does not see the order
        ship(paid, actor=make_shop().owner)
    with pytest.raises(NotFound):
        ship(paid, actor=trade.buyer)
    shipped = ship(paid, actor=staff(trade.shop, "warehouse"))
    assert shipped.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS


# --- confirm receipt --------------------------------------------------------------------------


def test_confirm_releases_to_the_shop_less_commission(trade, paid, make_buyer):
    ship(paid)
    other = make_buyer()
    with pytest.raises(NotFound):
        order_confirm(buyer=other, order_id=paid.pk, pin=PIN)
    with pytest.raises(NotFound):
        order_confirm(buyer=trade.buyer, order_id="abc", pin=PIN)
    with pytest.raises(DomainError) as exc:
        order_confirm(buyer=trade.buyer, order_id=paid.pk, pin="000000")
    assert exc.value.code == "pin_wrong"
    assert PaymentPin.objects.get(user=trade.buyer).failed_attempts == 1
    assert balance_of(f"escrow:order:{paid.pk}") == 10_000
    done = order_confirm(buyer=trade.buyer, order_id=paid.pk, pin=PIN)
    assert done.status == OrderStatus.TRADE_FINISHED and done.finished_at == clock.now()
    assert (done.released_fen, done.commission_fen, done.confirm_deadline) == (9800, 200, None)
    assert balance_of(f"escrow:order:{paid.pk}") == 0
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800
    assert shop_money(shop_id=trade.shop.pk).pending_fen == 0
    assert kind_total("platform_commission") == 200
    assert Notification.objects.filter(user=trade.shop.owner, kind="order_finished").exists()
    with pytest.raises(Conflict) as exc:
        order_confirm(buyer=trade.buyer, order_id=paid.pk, pin=PIN)
    assert exc.value.code == "order_status_invalid"
    assert shop_money(shop_id=trade.shop.pk).available_fen == 9800
    assert (
        Transfer.objects.filter(order_id=paid.pk, kind__in=["release", "commission"]).count() == 2
    )
    assert balanced()


def test_confirm_before_shipment_refused(trade, paid):
    with pytest.raises(DomainError) as exc:
        order_confirm(buyer=trade.buyer, order_id=paid.pk, pin=PIN)
    assert exc.value.code == "order_status_invalid"
    assert balance_of(f"escrow:order:{paid.pk}") == 10_000


def test_commission_rounds_half_up_per_line_and_skips_postage(trade, make_product):
    product = make_product(
        trade.shop,
        listed=True,
        skus=[
            {"specs": {"规格": "a"}, "price_fen": 125, "stock": 5},  # 2 % = 2.5 fen -> 3
            {"specs": {"规格": "b"}, "price_fen": 75, "stock": 5},  # 2 % = 1.5 fen -> 2
            {"specs": {"规格": "c"}, "price_fen": 20, "stock": 5},  # 2 % = 0.4 fen -> 0
        ],
    )
    shipping_template_set(actor=trade.shop.owner, default_fee_fen=800)
    a, b, c = product.skus.order_by("pk")
    group = place(trade.buyer, (a, 1), (b, 1), (c, 1))
    order = group.orders.get()
    assert (order.items_fen, order.shipping_fen, order.total_fen) == (220, 800, 1020)
    pay(trade.buyer, group)
    ship(order)
    done = order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    assert done.commission_fen == 5  # 3 + 2 + 0, not round(2 % of 220) = 4, postage free of it
    assert done.released_fen == 1015
    assert shop_money(shop_id=trade.shop.pk).available_fen == 1015
    assert balanced()


def test_zero_commission_category_releases_everything(trade, make_operator):
    category = trade.product.category
    category_update(
        operator=make_operator("catalog"),
        category_id=category.pk,
        name=category.name,
        commission_rate_bp=0,
    )
    group = place(trade.buyer, (trade.sku, 1))
    pay(trade.buyer, group)
    order = ship(group.orders.get())
    done = order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    assert (done.released_fen, done.commission_fen) == (5000, 0)
    assert not Transfer.objects.filter(kind="commission").exists()
    assert balanced()


# --- extend receipt ---------------------------------------------------------------------------


def test_extend_receipt_once_within_the_last_three_days(trade, paid, make_buyer):
    with pytest.raises(DomainError) as exc:  # not shipped yet
        order_extend_receipt(buyer=trade.buyer, order_id=paid.pk)
    assert exc.value.code == "extend_not_allowed"
    shipped = ship(paid)
    deadline = shipped.confirm_deadline
    clock.advance(timedelta(days=6))  # 4 days remain: too early
    with pytest.raises(DomainError) as exc:
        order_extend_receipt(buyer=trade.buyer, order_id=paid.pk)
    assert exc.value.code == "extend_not_allowed"
    with pytest.raises(NotFound):
        order_extend_receipt(buyer=make_buyer(), order_id=paid.pk)
    clock.advance(timedelta(days=1))  # exactly 3 days remain
    extended = order_extend_receipt(buyer=trade.buyer, order_id=paid.pk)
    assert extended.confirm_deadline == deadline + timedelta(days=3)
    assert extended.receipt_extended
    clock.advance(timedelta(days=5))
    with pytest.raises(DomainError) as exc:
        order_extend_receipt(buyer=trade.buyer, order_id=paid.pk)
    assert exc.value.code == "extend_not_allowed"
    assert Order.objects.get(pk=paid.pk).confirm_deadline == deadline + timedelta(days=3)


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_unpaid_returns_held_stock(trade, make_buyer):
    group = place(trade.buyer, (trade.sku, 4), (trade.scarce, 1))
    assert (stock(trade.sku), stock(trade.scarce)) == (6, 0)
    order = group.orders.get()
    with pytest.raises(NotFound):
        order_cancel(buyer=make_buyer(), order_id=order.pk)
    closed = order_cancel(buyer=trade.buyer, order_id=order.pk)
    assert closed.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM
    assert (closed.close_reason, closed.pay_deadline) == ("buyer_cancelled", None)
    assert (stock(trade.sku), stock(trade.scarce)) == (10, 1)
    assert not OrderLine.objects.filter(order=order, stock_held=True).exists()
    with pytest.raises(DomainError) as exc:
        order_cancel(buyer=trade.buyer, order_id=order.pk)
    assert exc.value.code == "order_status_invalid"
    assert stock(trade.sku) == 10  # not returned twice
    assert balanced()


def test_cancel_payment_listing_returns_nothing(trade, make_listing):
    sku = make_listing(stock=3, stock_deduction="payment")
    order = place(trade.buyer, (sku, 2)).orders.get()
    order_cancel(buyer=trade.buyer, order_id=order.pk)
    assert stock(sku) == 3


def test_cancel_paid_order_refused(trade, paid):
    with pytest.raises(DomainError) as exc:
        order_cancel(buyer=trade.buyer, order_id=paid.pk)
    assert exc.value.code == "order_status_invalid"


# --- refund before shipment -------------------------------------------------------------------


def test_refund_before_shipment_returns_escrow_postage_and_stock(trade, postage, make_buyer):
    group = place(trade.buyer, (trade.sku, 2))
    order = group.orders.get()
    assert order.total_fen == 10_800
    pay(trade.buyer, group)
    assert wallet(trade.buyer) == 100_000 - 10_800
    assert stock(trade.sku) == 8
    with pytest.raises(NotFound):
        order_refund_before_shipment(buyer=make_buyer(), order_id=order.pk)
    refunded = order_refund_before_shipment(buyer=trade.buyer, order_id=order.pk)
    assert refunded.status == OrderStatus.TRADE_CLOSED
    assert refunded.refunded_fen == 10_800
    assert refunded.close_reason == "refunded_before_shipment"
    assert wallet(trade.buyer) == 100_000
    assert stock(trade.sku) == 10
    assert balance_of(f"escrow:order:{order.pk}") == 0
    assert shop_money(shop_id=trade.shop.pk).pending_fen == 0
    assert Notification.objects.filter(user=trade.buyer, kind="order_refunded").exists()
    with pytest.raises(Conflict) as exc:
        order_refund_before_shipment(buyer=trade.buyer, order_id=order.pk)
    assert exc.value.code == "order_status_invalid"
    assert wallet(trade.buyer) == 100_000
    assert Transfer.objects.filter(kind="refund").count() == 1
    assert balanced()


def test_refund_of_a_payment_listing_returns_its_stock(trade, make_listing):
    sku = make_listing(stock=3, stock_deduction="payment")
    group = place(trade.buyer, (sku, 2))
    pay(trade.buyer, group)
    assert stock(sku) == 1
    order_refund_before_shipment(buyer=trade.buyer, order_id=group.orders.get().pk)
    assert stock(sku) == 3
    assert balanced()


def test_refund_refused_when_unpaid_or_shipped(trade, paid):
    unpaid = place(trade.buyer, (trade.sku, 1)).orders.get()
    with pytest.raises(DomainError) as exc:
        order_refund_before_shipment(buyer=trade.buyer, order_id=unpaid.pk)
    assert exc.value.code == "order_status_invalid"
    ship(paid)
    with pytest.raises(DomainError) as exc:
        order_refund_before_shipment(buyer=trade.buyer, order_id=paid.pk)
    assert exc.value.code == "order_status_invalid"
    assert balance_of(f"escrow:order:{paid.pk}") == 10_000
    assert balanced()


# --- address change and memo ------------------------------------------------------------------


def far_address(buyer):
    return address_create(
        user=buyer,
        recipient="王五",
        phone="13912345678",
        province="新疆维吾尔自治区",
        city="乌鲁木齐市",
        district="天山区",
        detail="解放路 2 号",
    )


def test_address_change_before_payment_recomputes_postage(trade, postage, make_listing):
    other = make_listing(price_fen=1000)
    group = place(trade.buyer, (trade.sku, 1), (other, 1))
    order = group.orders.get(shop=trade.shop)
    assert (order.shipping_fen, group.total_fen) == (800, 5800 + 1000)
    far = far_address(trade.buyer)
    changed = order_address_change(buyer=trade.buyer, order_id=order.pk, address_id=far.pk)
    assert (changed.province, changed.recipient) == ("新疆维吾尔自治区", "王五")
    assert (changed.shipping_fen, changed.total_fen) == (2000, 7000)
    group.refresh_from_db()
    assert group.total_fen == 7000 + 1000
    pay(trade.buyer, group)
    assert wallet(trade.buyer) == 100_000 - 8000
    assert balanced()


def test_address_change_after_payment_keeps_postage(trade, postage):
    group = place(trade.buyer, (trade.sku, 1))
    pay(trade.buyer, group)
    order = group.orders.get()
    far = far_address(trade.buyer)
    changed = order_address_change(buyer=trade.buyer, order_id=order.pk, address_id=far.pk)
    assert changed.province == "新疆维吾尔自治区"
    assert (changed.shipping_fen, changed.total_fen) == (800, 5800)
    assert OrderGroup.objects.get(pk=group.pk).total_fen == 5800
    ship(changed)
    with pytest.raises(DomainError) as exc:
        order_address_change(
            buyer=trade.buyer, order_id=order.pk, address_id=trade.buyer.address.pk
        )
    assert exc.value.code == "order_status_invalid"
    assert Order.objects.get(pk=order.pk).province == "新疆维吾尔自治区"
    assert balanced()


def test_address_change_needs_an_own_address(trade, make_buyer):
    order = place(trade.buyer, (trade.sku, 1)).orders.get()
    other = make_buyer(balance_fen=0)
    with pytest.raises(DomainError) as exc:
        order_address_change(buyer=trade.buyer, order_id=order.pk, address_id=other.address.pk)
    assert exc.value.code == "address_required"
    with pytest.raises(NotFound):
        order_address_change(buyer=other, order_id=order.pk, address_id=other.address.pk)


def test_memo_by_staff(trade, paid, make_shop):
    service = staff(trade.shop, "service")
    assert order_memo_set(
        actor=service, order_id=paid.pk, memo="  顾客要求周末送  "
    ).seller_memo == ("顾客要求周末送")
    assert order_memo_set(actor=trade.shop.owner, order_id=paid.pk, memo="").seller_memo == ""
    with pytest.raises(DomainError) as exc:
        order_memo_set(actor=trade.shop.owner, order_id=paid.pk, memo="长" * 501)
    assert exc.value.code == "text_too_long"
    with pytest.raises(NotFound):
        order_memo_set(actor=make_shop().owner, order_id=paid.pk, memo="x")
    with pytest.raises(NotFound):
        order_memo_set(actor=trade.buyer, order_id=paid.pk, memo="x")


def test_checkout_retry_with_the_same_key_but_other_items_is_refused(trade):
    items = [{"sku_id": trade.sku.pk, "quantity": 1}]
    first = order_place(
        buyer=trade.buyer, items=items, address_id=trade.buyer.address.pk, idempotency_key="k-1"
    )
    again = order_place(
        buyer=trade.buyer, items=items, address_id=trade.buyer.address.pk, idempotency_key="k-1"
    )
    assert again.pk == first.pk
    with pytest.raises(DomainError) as exc:
        order_place(
            buyer=trade.buyer,
            items=[{"sku_id": trade.sku.pk, "quantity": 2}],
            address_id=trade.buyer.address.pk,
            idempotency_key="k-1",
        )
    assert exc.value.code == "idempotency_key_reused"
    assert OrderGroup.objects.count() == 1
