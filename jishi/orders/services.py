"""Order writes: cart, checkout, payment into escrow, shipping, receipt and release, cancel,
refund before shipment, and the timer actions the worker calls.

Money moves only through jishi.ledger (buyer wallet → order escrow → shop balance +
platform commission, or back to the wallet). Locks follow jishi.orders.locks.
A payment PIN is checked *before* the money transaction, so a failed attempt is counted even
though the payment itself rolls back.
"""

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import Address, User
from jishi.accounts.notifications import notify
from jishi.accounts.services import payment_pin_verify
from jishi.catalog.models import Product, ProductStatus, Sku
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import Conflict, DomainError, NotFound, field_error
from jishi.core.idempotency import scoped_idempotency_key
from jishi.core.invariants import invariant
from jishi.core.money import format_fen
from jishi.core.rules import rule
from jishi.core.validation import clean_int, clean_text
from jishi.inventory.services import products_lock, stock_return, stock_take
from jishi.ledger.services import (
    commission_account,
    escrow_account,
    shop_available_account,
    transfer_create,
    wallet_account,
)
from jishi.orders.errors import OrderError
from jishi.orders.locks import lock_group, lock_lines, lock_order, lock_orders
from jishi.orders.models import (
    CartItem,
    Order,
    OrderGroup,
    OrderLine,
    OrderStatus,
    ShippingTemplate,
)
from jishi.orders.pricing import commission_fen, shipping_fee_fen
from jishi.payments.services import debts_collect, shop_money_lock
from jishi.shops.models import ShopStatus
from jishi.shops.permissions import shop_require

NOTE_LENGTH_MAX = 200
MEMO_LENGTH_MAX = 500
SHIPPING_FEE_FEN_MAX = 100_000  # 1,000 yuan a parcel


def _audit_status(actor: Any, order: Order, before: str, reason: str = "") -> None:
    audit_record(
        actor=actor,
        action="order.status",
        obj=order,
        before={"status": before},
        after={"status": order.status},
        reason=reason,
    )


def _quantity(value: Any) -> int:
    try:
        return clean_int(value, field="quantity", minimum=1, maximum=rule("line_quantity_max"))
    except DomainError as exc:
        raise field_error(
            "quantity",
            _("Choose a quantity from 1 to %(max)d.") % {"max": rule("line_quantity_max")},
            OrderError.QUANTITY_INVALID,
        ) from exc


def _buyable_sku(sku_id: Any, buyer: User) -> Sku:
    sku = None
    if str(sku_id).isdecimal():
        sku = (
            Sku.objects.select_related("product__shop", "product__category")
            .filter(
                pk=int(sku_id),
                is_active=True,
                product__status=ProductStatus.LISTED,
                product__shop__status=ShopStatus.OPEN,
            )
            .first()
        )
    if sku is None:
        raise DomainError(
            OrderError.SKU_UNAVAILABLE, _("This item is no longer on sale."), sku_id=sku_id
        )
    if (
        sku.product.shop.owner_id == buyer.pk
        or sku.product.shop.staff.filter(user=buyer, is_active=True).exists()
    ):
        raise DomainError(OrderError.OWN_SHOP, _("You cannot buy from your own shop."))
    return sku


def order_has_open_case(order_id: int) -> bool:
    from jishi.aftersales.models import OPEN_STATUSES, RefundCase

    return RefundCase.objects.filter(order_id=order_id, status__in=OPEN_STATUSES).exists()


def _refuse_if_open_case(order: Order) -> None:
    from jishi.aftersales.errors import AftersalesError

    if order_has_open_case(order.pk):
        raise DomainError(
            AftersalesError.OPEN_CASE,
            _("This order has an open after-sales request; finish or cancel it first."),
        )


# --- cart -------------------------------------------------------------------------------------


@transaction.atomic
def cart_add(*, user: User, sku_id: Any, quantity: Any = 1) -> CartItem:
    """Put a SKU in the cart, adding to the quantity already there."""
    quantity = _quantity(quantity)
    sku = _buyable_sku(sku_id, user)
    User.objects.select_for_update().filter(pk=user.pk).first()  # one cart edit at a time
    item = CartItem.objects.filter(user=user, sku=sku).first()
    if item is None:
        if CartItem.objects.filter(user=user).count() >= rule("cart_items_max"):
            raise DomainError(OrderError.CART_LIMIT, _("Your cart is full."))
        return CartItem.objects.create(user=user, sku=sku, quantity=quantity)
    item.quantity = _quantity(item.quantity + quantity)
    item.added_at = clock.now()
    item.save(update_fields=["quantity", "added_at"])
    return item


@transaction.atomic
def cart_update(*, user: User, item_id: Any, quantity: Any) -> CartItem:
    item = CartItem.objects.filter(
        user=user, pk=int(item_id) if str(item_id).isdecimal() else None
    ).first()
    if item is None:
        raise NotFound(message=_("Cart item not found."))
    item.quantity = _quantity(quantity)
    item.save(update_fields=["quantity"])
    return item


@transaction.atomic
def cart_remove(*, user: User, item_ids: list[Any]) -> int:
    if isinstance(item_ids, (str, int)):
        item_ids = [item_ids]
    # junk ids (not numbers, out of range) match nothing
    ids = [int(i) for i in item_ids or [] if str(i).isdecimal() and len(str(i)) < 19]
    deleted, _rows = CartItem.objects.filter(user=user, pk__in=ids).delete()
    return deleted


# --- shipping templates -----------------------------------------------------------------------


@transaction.atomic
def shipping_template_set(
    *, actor: User, default_fee_fen: Any, province_fees: Any = None, free_over_fen: Any = None
) -> ShippingTemplate:
    """A shop's postage rule (运费模板). Fees are fen; at most 1,000 yuan a parcel."""
    from jishi.accounts.validators import PROVINCES

    membership = shop_require(actor, "shop.edit")
    fee_max = SHIPPING_FEE_FEN_MAX
    default_fee = clean_int(default_fee_fen, field="default_fee_fen", minimum=0, maximum=fee_max)
    fees: dict[str, int] = {}
    if province_fees not in (None, ""):
        if not isinstance(province_fees, dict):
            raise field_error(
                "province_fees", _("Give a fee per province."), OrderError.SHIPPING_INVALID
            )
        for province, fee in province_fees.items():
            if province not in PROVINCES:
                raise field_error(
                    "province_fees",
                    _("Choose a province from the list."),
                    OrderError.SHIPPING_INVALID,
                )
            fees[province] = clean_int(fee, field="province_fees", minimum=0, maximum=fee_max)
    free_over = None
    if free_over_fen not in (None, ""):
        free_over = clean_int(
            free_over_fen, field="free_over_fen", minimum=1, maximum=rule("sku_price_fen_max")
        )
    template, _created = ShippingTemplate.objects.select_for_update().get_or_create(
        shop_id=membership.shop_id
    )
    before = {
        "default_fee_fen": template.default_fee_fen,
        "province_fees": template.province_fees,
        "free_over_fen": template.free_over_fen,
    }
    template.default_fee_fen = default_fee
    template.province_fees = fees
    template.free_over_fen = free_over
    template.updated_at = clock.now()
    template.save()
    audit_record(
        actor=actor,
        action="shipping_template.set",
        obj=template,
        before=before,
        after={"default_fee_fen": default_fee, "province_fees": fees, "free_over_fen": free_over},
    )
    return template


# --- checkout ---------------------------------------------------------------------------------


def checkout_plan(*, buyer: User, items: list[dict[str, Any]], province: str) -> list[dict]:
    """Price a checkout without writing anything: one entry per shop with its lines, items
    total, postage and total. Used by the checkout page and by order_place."""
    if not items:
        raise DomainError(OrderError.CART_EMPTY, _("Choose something to buy first."))
    if len(items) > rule("cart_items_max"):
        raise DomainError(OrderError.CART_LIMIT, _("Too many items in one checkout."))
    quantities: dict[int, int] = {}
    skus: dict[int, Sku] = {}
    for raw in items:
        if not isinstance(raw, dict):
            raise DomainError(OrderError.SKU_UNAVAILABLE, _("This item is no longer on sale."))
        sku = _buyable_sku(raw.get("sku_id"), buyer)
        skus[sku.pk] = sku
        quantities[sku.pk] = _quantity(quantities.get(sku.pk, 0) + _quantity(raw.get("quantity")))
    by_shop: dict[int, dict] = {}
    for sku_id in sorted(skus):
        sku = skus[sku_id]
        shop = sku.product.shop
        plan = by_shop.setdefault(shop.pk, {"shop": shop, "lines": [], "items_fen": 0})
        paid = sku.price_fen * quantities[sku_id]
        plan["lines"].append({"sku": sku, "quantity": quantities[sku_id], "paid_fen": paid})
        plan["items_fen"] += paid
    templates = {t.shop_id: t for t in ShippingTemplate.objects.filter(shop_id__in=by_shop)}
    for shop_id, plan in by_shop.items():
        plan["shipping_fen"] = shipping_fee_fen(
            template=templates.get(shop_id), province=province, items_fen=plan["items_fen"]
        )
        plan["total_fen"] = plan["items_fen"] + plan["shipping_fen"]
        plan["is_virtual"] = all(line["sku"].product.is_virtual for line in plan["lines"])
    return [by_shop[shop_id] for shop_id in sorted(by_shop)]


def _buyer_address(buyer: User, address_id: Any) -> Address:
    address = None
    if str(address_id).isdecimal():
        address = Address.objects.filter(user=buyer, pk=int(address_id)).first()
    if address is None:
        raise field_error(
            "address_id", _("Choose a delivery address."), OrderError.ADDRESS_REQUIRED
        )
    return address


def _address_fields(address: Address) -> dict[str, str]:
    return {
        "recipient": address.recipient,
        "phone": address.phone,
        "province": address.province,
        "city": address.city,
        "district": address.district,
        "detail": address.detail,
    }


def _checkout_hash(items: Any, address_id: Any, notes: Any) -> str:
    """What a checkout asked for, to tell a true retry from a reused key."""
    try:
        basket = sorted((str(i.get("sku_id")), str(i.get("quantity"))) for i in items)
        remarks = sorted((str(k), str(v)) for k, v in (notes or {}).items())
    except (AttributeError, TypeError):  # malformed input: checkout_plan refuses it later
        basket, remarks = [repr(items)], [repr(notes)]
    text = json.dumps([basket, str(address_id), remarks], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def order_place(
    *,
    buyer: User,
    items: list[dict[str, Any]],
    address_id: Any,
    notes: dict[Any, str] | None = None,
    from_cart: bool = False,
    idempotency_key: str | None = None,
) -> OrderGroup:
    """Check out: one order group, one order per shop, prices and commission rates frozen on
    the lines, stock deducted for listings that deduct at order time."""
    scoped_key = scoped_idempotency_key(buyer.pk, idempotency_key) if idempotency_key else None
    request_hash = _checkout_hash(items, address_id, notes)
    if scoped_key:
        existing = OrderGroup.objects.filter(idempotency_key=scoped_key).first()
        if existing is not None:
            if existing.idempotency_hash != request_hash:
                raise Conflict(
                    OrderError.IDEMPOTENCY_KEY_REUSED,
                    _("This idempotency key was already used for a different checkout."),
                )
            return existing
    address = _buyer_address(buyer, address_id)
    plans = checkout_plan(buyer=buyer, items=items, province=address.province)
    if notes is not None and not isinstance(notes, dict):
        raise field_error("notes", _("Leave one note per shop."))
    notes = {str(k): v for k, v in (notes or {}).items()}
    now = clock.now()
    try:
        with transaction.atomic():
            group = OrderGroup.objects.create(
                buyer=buyer,
                total_fen=sum(p["total_fen"] for p in plans),
                idempotency_key=scoped_key,
                idempotency_hash=request_hash if scoped_key else "",
            )
    except IntegrityError as exc:  # the same key is being used by a concurrent request
        raise Conflict(
            OrderError.STATUS_INVALID,
            _("This checkout is already being placed."),
        ) from exc
    take: list[tuple[int, int]] = []
    for plan in plans:
        shop = plan["shop"]
        note = clean_text(
            notes.get(str(shop.pk), ""), field="note", max_length=NOTE_LENGTH_MAX, required=False
        )
        order = Order.objects.create(
            group=group,
            buyer=buyer,
            shop=shop,
            buyer_note=note,
            items_fen=plan["items_fen"],
            shipping_fen=plan["shipping_fen"],
            total_fen=plan["total_fen"],
            is_virtual=plan["is_virtual"],
            pay_deadline=now + timedelta(seconds=rule("unpaid_close_seconds")),
            **_address_fields(address),
        )
        for line in plan["lines"]:
            sku, product = line["sku"], line["sku"].product
            at_order = product.stock_deduction == "order"
            cover = product.cover
            OrderLine.objects.create(
                order=order,
                sku=sku,
                product=product,
                title=product.title,
                spec_label=sku.spec_label,
                image=cover.file.url if cover else "",
                unit_price_fen=sku.price_fen,
                quantity=line["quantity"],
                paid_fen=line["paid_fen"],
                commission_rate_bp=product.category.commission_rate_bp,
                stock_deduction=product.stock_deduction,
                stock_held=at_order,
            )
            if at_order:
                take.append((sku.pk, line["quantity"]))
        audit_record(
            actor=buyer,
            action="order.place",
            obj=order,
            after={"status": order.status, "total_fen": order.total_fen},
        )
    stock_take(take)
    if from_cart:
        CartItem.objects.filter(
            user=buyer, sku_id__in=[line["sku"].pk for plan in plans for line in plan["lines"]]
        ).delete()
    return group


# --- payment ----------------------------------------------------------------------------------


def group_pay(*, buyer: User, group_id: Any, pin: str) -> OrderGroup:
    """Pay every unpaid order of a checkout from the wallet, into each order's escrow."""
    if not str(group_id).isdecimal():
        raise NotFound(message=_("Order not found."))
    if not OrderGroup.objects.filter(pk=int(group_id), buyer=buyer).exists():
        raise NotFound(message=_("Order not found."))
    payment_pin_verify(user=buyer, pin=pin)
    return _group_pay(buyer=buyer, group_id=int(group_id))


@transaction.atomic
def _group_pay(*, buyer: User, group_id: int) -> OrderGroup:
    group = lock_group(group_id=group_id, buyer_id=buyer.pk)
    orders = lock_orders(group=group)
    now = clock.now()
    unpaid = [o for o in orders if o.status == OrderStatus.WAIT_BUYER_PAY]
    # An order past its payment deadline is closed by the next sweep; never take money for it.
    payable = [o for o in unpaid if o.pay_deadline is None or o.pay_deadline > now]
    if not payable:
        if unpaid:
            raise DomainError(
                OrderError.PAY_DEADLINE_PASSED,
                _("The time to pay has run out; the order is being closed."),
            )
        if group.paid_at is not None:
            raise Conflict(OrderError.ALREADY_PAID, _("This order is already paid."))
        raise DomainError(
            OrderError.NOTHING_TO_PAY, _("Nothing in this order can be paid (it was closed).")
        )
    lines = lock_lines(orders=payable)
    # All products before their SKUs and before ledger accounts (the global lock order), in
    # one sorted batch: stock_take and the sales counters below then only re-lock held rows.
    products_lock(line.product_id for line in lines)
    stock_take((line.sku_id, line.quantity) for line in lines if not line.stock_held)
    OrderLine.objects.filter(pk__in=[line.pk for line in lines]).update(stock_held=True)
    sold: dict[int, int] = {}
    for line in lines:
        sold[line.product_id] = sold.get(line.product_id, 0) + line.quantity
    for product_id in sorted(sold):  # ascending ids: two payments never lock in opposite order
        Product.objects.filter(pk=product_id).update(
            sales_count=F("sales_count") + sold[product_id]
        )
    wallet = wallet_account(buyer.pk)
    ship_by = now + timedelta(seconds=rule("ship_within_seconds"))
    for order in payable:
        transfer_create(
            debit=wallet,
            credit=escrow_account(order.pk),
            amount=order.total_fen,
            kind="payment",
            idempotency_key=f"payment:order:{order.pk}",
            order_id=order.pk,
        )
        before = order.status
        order.status = OrderStatus.WAIT_SELLER_SEND_GOODS
        order.paid_at = now
        order.pay_deadline = None
        order.ship_deadline = ship_by
        order.save(update_fields=["status", "paid_at", "pay_deadline", "ship_deadline"])
        _audit_status(buyer, order, before)
        notify(
            user=order.shop.owner,
            kind="order_paid",
            link=f"/seller/orders/{order.pk}/",
            params={
                "order": order.pk,
                "amount": format_fen(order.total_fen),
                "hours": rule("ship_within_seconds") // 3600,
            },
        )
    group.paid_at = now
    group.save(update_fields=["paid_at"])
    return group


# --- shipping and receipt ---------------------------------------------------------------------


@transaction.atomic
def order_ship(
    *, actor: User, order_id: Any, carrier: str = "", tracking_no: str = "", delivery_note: str = ""
) -> Order:
    """The seller ships (physical: carrier + tracking number; virtual: a delivery note)."""
    membership = shop_require(actor, "order.ship")
    order = lock_order(order_id=order_id, shop_id=membership.shop_id)
    if order.shipped_at is not None:
        raise Conflict(OrderError.STATUS_INVALID, _("This order was already shipped."))
    if order.status != OrderStatus.WAIT_SELLER_SEND_GOODS:
        raise DomainError(
            OrderError.STATUS_INVALID,
            _("Only a paid order awaiting shipment can be shipped."),
            status=order.status,
        )
    if order.is_virtual:
        order.delivery_note = clean_text(
            delivery_note, field="delivery_note", max_length=MEMO_LENGTH_MAX
        )
        auto_confirm = rule("auto_confirm_virtual_seconds")
    else:
        order.carrier = clean_text(carrier, field="carrier", max_length=40)
        order.tracking_no = clean_text(tracking_no, field="tracking_no", max_length=40)
        auto_confirm = rule("auto_confirm_seconds")
    now = clock.now()
    before = order.status
    order.status = OrderStatus.WAIT_BUYER_CONFIRM_GOODS
    order.shipped_at = now
    if order_has_open_case(order.pk):  # auto-confirm starts paused until the request closes
        order.confirm_paused_seconds = auto_confirm
    else:
        order.confirm_deadline = now + timedelta(seconds=auto_confirm)
    order.save()
    _audit_status(actor, order, before)
    notify(
        user=order.buyer,
        kind="order_shipped",
        link=f"/orders/{order.pk}/",
        params={
            "order": order.pk,
            "carrier": order.carrier or "",
            "tracking": order.tracking_no or order.delivery_note[:40],
        },
    )
    return order


def order_confirm(*, buyer: User, order_id: Any, pin: str) -> Order:
    """The buyer confirms receipt with the payment PIN: escrow is released to the seller."""
    if not Order.objects.filter(
        pk=int(order_id) if str(order_id).isdecimal() else None, buyer=buyer
    ).exists():
        raise NotFound(message=_("Order not found."))
    payment_pin_verify(user=buyer, pin=pin)
    with transaction.atomic():
        order = lock_order(order_id=order_id, buyer_id=buyer.pk)
        if order.status == OrderStatus.TRADE_FINISHED:
            raise Conflict(OrderError.STATUS_INVALID, _("Receipt was already confirmed."))
        _refuse_if_open_case(order)
        return _release(order=order, actor=buyer, reason="buyer_confirmed")


def _release(*, order: Order, actor: Any, reason: str) -> Order:
    """Escrow → the shop's available balance, less commission → platform. Order is locked."""
    if order.status != OrderStatus.WAIT_BUYER_CONFIRM_GOODS:
        raise DomainError(
            OrderError.STATUS_INVALID,
            _("Receipt can be confirmed only after the order ships."),
            status=order.status,
        )
    invariant(not order_has_open_case(order.pk), f"order {order.pk} released with an open case")
    escrow = escrow_account(order.pk)
    held = order.total_fen - order.refunded_fen
    lines = lock_lines(orders=[order])
    # Commission on what each line kept after its refunds; stored per line so that a later
    # refund returns exactly that line's share.
    for line in lines:
        line.commission_fen = commission_fen(
            paid_fen=line.paid_fen - line.refunded_fen, rate_bp=line.commission_rate_bp
        )
        line.save(update_fields=["commission_fen"])
    commission = sum(line.commission_fen for line in lines)
    invariant(commission <= held, f"order {order.pk}: commission above what escrow holds")
    seller_amount = held - commission
    shop_money_lock(order.shop_id)  # before any ledger account (see shop_money_lock)
    if seller_amount:
        transfer_create(
            debit=escrow,
            credit=shop_available_account(order.shop_id),
            amount=seller_amount,
            kind="release",
            idempotency_key=f"release:order:{order.pk}",
            order_id=order.pk,
        )
    if commission:
        transfer_create(
            debit=escrow,
            credit=commission_account(),
            amount=commission,
            kind="commission",
            idempotency_key=f"commission:order:{order.pk}",
            order_id=order.pk,
        )
    escrow.refresh_from_db()
    invariant(escrow.balance == 0, f"escrow of order {order.pk} not empty after release")
    before = order.status
    order.status = OrderStatus.TRADE_FINISHED
    order.commission_fen = commission
    order.released_fen = seller_amount
    order.finished_at = clock.now()
    order.confirm_deadline = None
    order.rate_deadline = order.finished_at + timedelta(seconds=rule("rating_window_seconds"))
    order.save()
    _audit_status(actor, order, before, reason)
    debts_collect(shop_id=order.shop_id)  # what the shop owes comes out of its next income
    notify(
        user=order.shop.owner,
        kind="order_finished",
        link=f"/seller/orders/{order.pk}/",
        params={"order": order.pk, "amount": format_fen(seller_amount)},
    )
    return order


@transaction.atomic
def order_extend_receipt(*, buyer: User, order_id: Any) -> Order:
    """Extend the auto-confirm deadline once, by 3 days, when 3 days or fewer remain."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    window = timedelta(seconds=rule("receipt_extend_window_seconds"))
    if (
        order.status != OrderStatus.WAIT_BUYER_CONFIRM_GOODS
        or order.receipt_extended
        or order.confirm_deadline is None
        or order.confirm_deadline - clock.now() > window
    ):
        raise DomainError(
            OrderError.EXTEND_NOT_ALLOWED,
            _("Receipt can be extended once, when 3 days or fewer remain."),
        )
    before = order.confirm_deadline
    order.confirm_deadline = before + timedelta(seconds=rule("receipt_extend_seconds"))
    order.receipt_extended = True
    order.save(update_fields=["confirm_deadline", "receipt_extended"])
    audit_record(
        actor=buyer,
        action="order.extend_receipt",
        obj=order,
        before={"confirm_deadline": before.isoformat()},
        after={"confirm_deadline": order.confirm_deadline.isoformat()},
    )
    return order


# --- cancel, refund, address, memo ------------------------------------------------------------


def _return_held_stock(order: Order) -> None:
    lines = lock_lines(orders=[order])
    held = [line for line in lines if line.stock_held]
    stock_return((line.sku_id, line.quantity) for line in held)
    OrderLine.objects.filter(pk__in=[line.pk for line in held]).update(stock_held=False)


def _close_unpaid(*, order: Order, actor: Any, reason: str) -> Order:
    if order.status != OrderStatus.WAIT_BUYER_PAY:
        raise DomainError(
            OrderError.STATUS_INVALID,
            _("Only an unpaid order can be cancelled."),
            status=order.status,
        )
    _return_held_stock(order)
    before = order.status
    order.status = OrderStatus.TRADE_CLOSED_BY_SYSTEM
    order.closed_at = clock.now()
    order.close_reason = reason
    order.pay_deadline = None
    order.save()
    _audit_status(actor, order, before, reason)
    return order


@transaction.atomic
def order_cancel(*, buyer: User, order_id: Any) -> Order:
    """The buyer cancels an unpaid order; its stock goes back."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    return _close_unpaid(order=order, actor=buyer, reason="buyer_cancelled")


@transaction.atomic
def order_refund_before_shipment(*, buyer: User, order_id: Any) -> Order:
    """Full refund of a paid, unshipped order: escrow → wallet (postage included), stock back."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    if order.status == OrderStatus.TRADE_CLOSED and order.refunded_fen:
        raise Conflict(OrderError.STATUS_INVALID, _("This order was already refunded."))
    if order.status != OrderStatus.WAIT_SELLER_SEND_GOODS:
        raise DomainError(
            OrderError.STATUS_INVALID,
            _("Only a paid order that has not shipped can be refunded this way."),
            status=order.status,
        )
    _refuse_if_open_case(order)
    _return_held_stock(order)
    for line in lock_lines(orders=[order]):
        line.refunded_fen = line.paid_fen
        line.save(update_fields=["refunded_fen"])
    order.shipping_refunded_fen = order.shipping_fen
    amount = order.total_fen - order.refunded_fen
    transfer_create(
        debit=escrow_account(order.pk),
        credit=wallet_account(order.buyer_id),
        amount=amount,
        kind="refund",
        idempotency_key=f"refund:order:{order.pk}:full",
        order_id=order.pk,
    )
    before = order.status
    order.status = OrderStatus.TRADE_CLOSED
    order.refunded_fen += amount
    order.closed_at = clock.now()
    order.close_reason = "refunded_before_shipment"
    order.ship_deadline = None
    order.save()
    _audit_status(buyer, order, before, order.close_reason)
    notify(
        user=order.buyer,
        kind="order_refunded",
        link=f"/orders/{order.pk}/",
        params={"order": order.pk, "amount": format_fen(amount)},
    )
    return order


@transaction.atomic
def order_address_change(*, buyer: User, order_id: Any, address_id: Any) -> Order:
    """Change the delivery address until the order ships. Before payment the postage is
    recomputed for the new province; after payment it stays as paid."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    if order.status not in (OrderStatus.WAIT_BUYER_PAY, OrderStatus.WAIT_SELLER_SEND_GOODS):
        raise DomainError(
            OrderError.STATUS_INVALID,
            _("The address can be changed only until the order ships."),
            status=order.status,
        )
    address = _buyer_address(buyer, address_id)
    before = order.address_text
    for key, value in _address_fields(address).items():
        setattr(order, key, value)
    if order.status == OrderStatus.WAIT_BUYER_PAY:
        template = ShippingTemplate.objects.filter(shop_id=order.shop_id).first()
        shipping = shipping_fee_fen(
            template=template,
            province=order.province,
            items_fen=order.items_fen,  # the same base as at checkout
        )
        delta = shipping - order.shipping_fen
        order.shipping_fen = shipping
        order.total_fen += delta
        OrderGroup.objects.filter(pk=order.group_id).update(total_fen=F("total_fen") + delta)
    order.save()
    audit_record(
        actor=buyer,
        action="order.address_change",
        obj=order,
        before={"address": before},
        after={"address": order.address_text, "shipping_fen": order.shipping_fen},
    )
    return order


@transaction.atomic
def order_memo_set(*, actor: User, order_id: Any, memo: str) -> Order:
    """The seller's private memo on an order (备注); buyers never see it."""
    membership = shop_require(actor, "order.view")
    order = lock_order(order_id=order_id, shop_id=membership.shop_id)
    order.seller_memo = clean_text(memo, field="memo", max_length=MEMO_LENGTH_MAX, required=False)
    order.save(update_fields=["seller_memo"])
    return order


# --- timer actions (called by jishi.orders.timers with the order already locked) ---------------


def order_timeout_unpaid(*, order: Order) -> Order:
    order = _close_unpaid(order=order, actor=None, reason="unpaid_timeout")
    notify(
        user=order.buyer,
        kind="order_closed",
        link=f"/orders/{order.pk}/",
        params={"order": order.pk},
    )
    return order


def late_shipment_compensation_fen(order: Order) -> int:
    """30 % of the item price, capped at 500 yuan (platform settings)."""
    share = order.items_fen * rule("late_shipment_compensation_bp") // 10_000
    return min(share, rule("late_shipment_compensation_fen_max"))


def order_flag_late_shipment(*, order: Order) -> Order:
    """The ship deadline passed: a violation against the shop and compensation to the buyer,
    paid by the platform at once and recovered from the shop."""
    from jishi.payments.models import DebtKind
    from jishi.payments.services import shop_charge
    from jishi.shops.models import ViolationKind
    from jishi.shops.services import violation_record

    order.late_shipment_at = clock.now()
    order.save(update_fields=["late_shipment_at"])
    compensation = late_shipment_compensation_fen(order)
    audit_record(
        actor=None,
        action="order.late_shipment",
        obj=order,
        after={"ship_deadline": order.ship_deadline.isoformat(), "compensation_fen": compensation},
    )
    violation_record(
        actor=None,
        shop_id=order.shop_id,
        kind=ViolationKind.LATE_SHIPMENT,
        order_id=order.pk,
        compensation_fen=compensation,
    )
    if compensation:
        shop_charge(
            shop_id=order.shop_id,
            amount_fen=compensation,
            kind=DebtKind.LATE_SHIPMENT,
            credit=wallet_account(order.buyer_id),
            transfer_kind="compensation",
            idempotency_key=f"compensation:late_shipment:order:{order.pk}",
            order_id=order.pk,
        )
        notify(
            user=order.buyer,
            kind="late_shipment_compensated",
            link=f"/orders/{order.pk}/",
            params={"order": order.pk, "amount": format_fen(compensation)},
        )
    notify(
        user=order.shop.owner,
        kind="order_late_shipment",
        link=f"/seller/orders/{order.pk}/",
        params={"order": order.pk},
    )
    return order


def order_flag_not_shipped(*, order: Order) -> Order:
    """Still not shipped well after the deadline: a paid-not-shipped violation."""
    from jishi.shops.models import ViolationKind
    from jishi.shops.services import violation_record

    order.not_shipped_at = clock.now()
    order.save(update_fields=["not_shipped_at"])
    violation_record(
        actor=None, shop_id=order.shop_id, kind=ViolationKind.NOT_SHIPPED, order_id=order.pk
    )
    return order


def order_auto_confirm(*, order: Order) -> Order:
    return _release(order=order, actor=None, reason="auto_confirmed")
