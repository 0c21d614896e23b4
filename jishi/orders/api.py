"""Orders API: cart, checkout, paying a checkout from the wallet, the buyer's and the seller's
orders, and the operator's view of any order with its money.

Money is integer fen. Paying, confirming receipt, refunding, cancelling and checking out
accept an ``Idempotency-Key`` header (see jishi.core.idempotency): a retry with the same key
and body gets the first answer again and moves no money twice.
"""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.accounts.selectors import address_get_for_user
from jishi.console import selectors as console_selectors
from jishi.core.errors import NotFound, field_error
from jishi.core.idempotency import idempotent, service_key
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Count,
    Fen,
    Id,
    Text,
    acting_user,
    auth_errors,
    file_url,
)
from jishi.orders import selectors, seller_selectors, services
from jishi.orders.errors import OrderError
from jishi.orders.models import OrderStatus

router = Router(tags=["orders"])

CHECKOUT_ITEMS_MAX = 1000  # far above the cart rule; the service gives the precise limit
NOTES_MAX = 1000


# --- schemas ----------------------------------------------------------------------------------


class CartItemOut(Schema):
    id: int
    sku_id: int
    product_id: int
    shop_id: int
    shop_name: str
    title: str
    spec_label: str
    price_fen: int
    quantity: int
    stock: int
    on_sale: bool
    available: bool = Field(description="On sale with stock left.")
    cover_url: str | None
    added_at: datetime

    @staticmethod
    def resolve_product_id(obj) -> int:
        return obj.sku.product_id

    @staticmethod
    def resolve_shop_id(obj) -> int:
        return obj.sku.product.shop_id

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.sku.product.shop.name

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.sku.product.title

    @staticmethod
    def resolve_spec_label(obj) -> str:
        return obj.sku.spec_label

    @staticmethod
    def resolve_price_fen(obj) -> int:
        return obj.sku.price_fen

    @staticmethod
    def resolve_cover_url(obj) -> str | None:
        cover = obj.sku.product.cover
        return file_url(cover.file) if cover else None


class CartAddIn(Schema):
    sku_id: Id
    quantity: Count = 1


class CartUpdateIn(Schema):
    quantity: Count


class CheckoutItemIn(Schema):
    sku_id: Id
    quantity: Count


class PreviewIn(Schema):
    items: list[CheckoutItemIn] = Field(..., max_length=CHECKOUT_ITEMS_MAX)
    address_id: Id


class CheckoutIn(Schema):
    items: list[CheckoutItemIn] = Field(
        [],
        max_length=CHECKOUT_ITEMS_MAX,
        description="Leave empty with from_cart=true to check out the whole cart.",
    )
    address_id: Id
    notes: dict[Text, Text] = Field(
        {}, max_length=NOTES_MAX, description='A note to each seller: {"<shop_id>": "note"}.'
    )
    from_cart: bool = Field(False, description="Remove the bought SKUs from the cart.")


class PlanLineOut(Schema):
    sku_id: int
    product_id: int
    title: str
    spec_label: str
    unit_price_fen: int
    quantity: int
    paid_fen: int
    stock: int


class ShopPlanOut(Schema):
    shop_id: int
    shop_name: str
    lines: list[PlanLineOut]
    items_fen: int
    shipping_fen: int
    total_fen: int
    is_virtual: bool


class CheckoutPlanOut(Schema):
    shops: list[ShopPlanOut]
    items_fen: int
    shipping_fen: int
    total_fen: int


class OrderLineOut(Schema):
    id: int
    sku_id: int
    product_id: int
    title: str
    spec_label: str
    image: str
    unit_price_fen: int
    quantity: int
    discount_fen: int
    paid_fen: int


class _OrderBase(Schema):
    id: int
    group_id: int
    shop_id: int
    status: str
    status_label: str
    items_fen: int
    discount_fen: int
    shipping_fen: int
    total_fen: int
    refunded_fen: int
    is_virtual: bool
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    buyer_note: str
    carrier: str
    tracking_no: str
    delivery_note: str
    pay_deadline: datetime | None
    ship_deadline: datetime | None
    confirm_deadline: datetime | None
    receipt_extended: bool
    late_shipment_at: datetime | None
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    finished_at: datetime | None
    closed_at: datetime | None
    close_reason: str
    lines: list[OrderLineOut]

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_lines(obj) -> list[Any]:
        return list(obj.lines.all())


class OrderOut(_OrderBase):
    """An order as its buyer sees it."""

    shop_name: str

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class SellerOrderOut(_OrderBase):
    """An order as the shop's staff see it: with the buyer, the private memo and the money."""

    buyer_id: int
    buyer_username: str
    seller_memo: str
    commission_fen: int
    released_fen: int

    @staticmethod
    def resolve_buyer_username(obj) -> str:
        return obj.buyer.username


class TransferOut(Schema):
    id: int
    kind: str
    flag: str
    amount_fen: int
    debit_account: str
    credit_account: str
    order_id: int | None
    pending_id: int | None
    idempotency_key: str
    memo: str
    created_at: datetime

    @staticmethod
    def resolve_amount_fen(obj) -> int:
        return obj.amount

    @staticmethod
    def resolve_debit_account(obj) -> str:
        return obj.debit_account.code

    @staticmethod
    def resolve_credit_account(obj) -> str:
        return obj.credit_account.code


class ConsoleOrderOut(SellerOrderOut):
    shop_name: str
    transfers: list[TransferOut]

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class GroupOut(Schema):
    id: int
    total_fen: int
    created_at: datetime
    paid_at: datetime | None
    orders: list[OrderOut]

    @staticmethod
    def resolve_orders(obj) -> list[Any]:
        return obj.order_list


class PinIn(Schema):
    pin: Text


class AddressChangeIn(Schema):
    address_id: Id


class ShipIn(Schema):
    carrier: Text = ""
    tracking_no: Text = Field("", description="Physical goods: the tracking number.")
    delivery_note: Text = Field("", description="Virtual goods: what was delivered and how.")


class MemoIn(Schema):
    memo: Text


class ShippingTemplateIn(Schema):
    default_fee_fen: Fen
    province_fees: dict[Text, Fen] = Field({}, description="Fee per province, e.g. 新疆.")
    free_over_fen: Fen | None = Field(None, description="Free shipping from this items total.")


class ShippingTemplateOut(Schema):
    default_fee_fen: int = 0
    province_fees: dict[str, int] = {}
    free_over_fen: int | None = None
    updated_at: datetime | None = None


ORDER_ERRORS = auth_errors(400, 404, 409)
PAY_ERRORS = auth_errors(400, 404, 409, 423)


def _group(request: HttpRequest, group_id: int):
    return selectors.group_get_for_buyer(buyer=acting_user(request), group_id=group_id)


def _order(request: HttpRequest, order_id: int):
    return selectors.order_get_for_buyer(buyer=acting_user(request), order_id=order_id)


def _seller_order(request: HttpRequest, order_id: int):
    return seller_selectors.order_get_for_shop(actor=acting_user(request), order_id=order_id)


def _cart_item(request: HttpRequest, item_id: int):
    for item in selectors.cart_items_for_user(user=acting_user(request)):
        if item.pk == item_id:
            return item
    raise NotFound(message=_("Cart item not found."))


def _items(payload_items: list[CheckoutItemIn]) -> list[dict[str, int]]:
    return [item.model_dump() for item in payload_items]


def _address(request: HttpRequest, address_id: int):
    try:
        return address_get_for_user(user=acting_user(request), address_id=address_id)
    except NotFound as exc:
        raise field_error(
            "address_id", _("Choose a delivery address."), OrderError.ADDRESS_REQUIRED
        ) from exc


# --- cart -------------------------------------------------------------------------------------


@router.get("/cart", response={200: list[CartItemOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def cart_list(request: HttpRequest):
    """The cart, newest first, with whether each item can still be bought."""
    return selectors.cart_items_for_user(user=acting_user(request))


@router.post("/cart", response={201: CartItemOut, **auth_errors(400)})
def cart_add(request: HttpRequest, payload: CartAddIn):
    """Put a SKU in the cart (adds to the quantity already there)."""
    item = services.cart_add(
        user=acting_user(request), sku_id=payload.sku_id, quantity=payload.quantity
    )
    return Status(201, _cart_item(request, item.pk))


@router.patch("/cart/{item_id}", response={200: CartItemOut, **auth_errors(400, 404)})
def cart_update(request: HttpRequest, item_id: Id, payload: CartUpdateIn):
    services.cart_update(user=acting_user(request), item_id=item_id, quantity=payload.quantity)
    return _cart_item(request, item_id)


@router.delete("/cart/{item_id}", response={204: None, **auth_errors(404)})
def cart_remove(request: HttpRequest, item_id: Id):
    if not services.cart_remove(user=acting_user(request), item_ids=[item_id]):
        raise NotFound(message=_("Cart item not found."))
    return Status(204, None)


# --- checkout and payment ---------------------------------------------------------------------


@router.post("/checkout/preview", response={200: CheckoutPlanOut, **auth_errors(400)})
def checkout_preview(request: HttpRequest, payload: PreviewIn):
    """Price a checkout without placing it: one plan per shop with its postage."""
    address = _address(request, payload.address_id)
    plans = services.checkout_plan(
        buyer=acting_user(request), items=_items(payload.items), province=address.province
    )
    shops = [
        {
            "shop_id": plan["shop"].pk,
            "shop_name": plan["shop"].name,
            "lines": [
                {
                    "sku_id": line["sku"].pk,
                    "product_id": line["sku"].product_id,
                    "title": line["sku"].product.title,
                    "spec_label": line["sku"].spec_label,
                    "unit_price_fen": line["sku"].price_fen,
                    "quantity": line["quantity"],
                    "paid_fen": line["paid_fen"],
                    "stock": line["sku"].stock,
                }
                for line in plan["lines"]
            ],
            "items_fen": plan["items_fen"],
            "shipping_fen": plan["shipping_fen"],
            "total_fen": plan["total_fen"],
            "is_virtual": plan["is_virtual"],
        }
        for plan in plans
    ]
    return {
        "shops": shops,
        "items_fen": sum(plan["items_fen"] for plan in plans),
        "shipping_fen": sum(plan["shipping_fen"] for plan in plans),
        "total_fen": sum(plan["total_fen"] for plan in plans),
    }


@router.post("/checkout", response={201: GroupOut, **ORDER_ERRORS})
@idempotent("order.checkout", GroupOut, 201)
def checkout(request: HttpRequest, payload: CheckoutIn):
    """Place the orders: one group, one order per shop, stock deducted. Pay it next."""
    buyer = acting_user(request)
    items = _items(payload.items)
    if not items and payload.from_cart:
        items = [
            {"sku_id": item.sku_id, "quantity": item.quantity}
            for item in selectors.cart_items_for_user(user=buyer)
        ]
    group = services.order_place(
        buyer=buyer,
        items=items,
        address_id=payload.address_id,
        notes=payload.notes,
        from_cart=payload.from_cart,
        idempotency_key=service_key(request),
    )
    return Status(201, _group(request, group.pk))


@router.get("/groups/{group_id}", response={200: GroupOut, **auth_errors(404)})
def group_detail(request: HttpRequest, group_id: Id):
    """A checkout with its orders (the buyer's own)."""
    return _group(request, group_id)


@router.post("/groups/{group_id}/pay", response={200: GroupOut, **PAY_ERRORS})
@idempotent("order.group_pay", GroupOut)
def group_pay(request: HttpRequest, group_id: Id, payload: PinIn):
    """Pay every unpaid order of the checkout from the wallet, into escrow, with the PIN.

    A wrong PIN is 400 ``pin_wrong`` with ``extra.attempts_left``; after 3, 423 ``pin_locked``.
    """
    services.group_pay(buyer=acting_user(request), group_id=group_id, pin=payload.pin)
    return _group(request, group_id)


# --- seller center ----------------------------------------------------------------------------


@router.get("/seller", response={200: list[SellerOrderOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_order_list(
    request: HttpRequest, status: OrderStatus | None = None, late: bool = False, q: Text = ""
):
    """The shop's orders, newest first; ``late`` keeps orders flagged for late shipment,
    ``q`` finds an order id, recipient or buyer."""
    orders = seller_selectors.order_list_for_shop(
        actor=acting_user(request), tab="late" if late else "all", q=q
    )
    return orders.filter(status=status) if status else orders


@router.get(
    "/seller/shipping-template", response={200: ShippingTemplateOut, **auth_errors(403, 404)}
)
def shipping_template_get(request: HttpRequest):
    """The shop's postage rule (运费模板); a shop without one ships free."""
    template = seller_selectors.shipping_template_for_shop(actor=acting_user(request))
    return template or ShippingTemplateOut()


@router.put(
    "/seller/shipping-template", response={200: ShippingTemplateOut, **auth_errors(400, 403, 404)}
)
def shipping_template_set(request: HttpRequest, payload: ShippingTemplateIn):
    """Set the postage rule: a default fee, fees per province, free above an items total."""
    return services.shipping_template_set(actor=acting_user(request), **payload.model_dump())


@router.get("/seller/{order_id}", response={200: SellerOrderOut, **auth_errors(403, 404)})
def seller_order_detail(request: HttpRequest, order_id: Id):
    return _seller_order(request, order_id)


@router.post(
    "/seller/{order_id}/ship", response={200: SellerOrderOut, **auth_errors(400, 403, 404)}
)
def seller_order_ship(request: HttpRequest, order_id: Id, payload: ShipIn):
    """Ship a paid order: carrier and tracking number, or a delivery note for virtual goods."""
    services.order_ship(actor=acting_user(request), order_id=order_id, **payload.model_dump())
    return _seller_order(request, order_id)


@router.post(
    "/seller/{order_id}/memo", response={200: SellerOrderOut, **auth_errors(400, 403, 404)}
)
def seller_order_memo(request: HttpRequest, order_id: Id, payload: MemoIn):
    """The shop's private memo on the order (备注); the buyer never sees it."""
    services.order_memo_set(actor=acting_user(request), order_id=order_id, memo=payload.memo)
    return _seller_order(request, order_id)


# --- operator console -------------------------------------------------------------------------


@router.get("/console/{order_id}", response={200: ConsoleOrderOut, **auth_errors(403, 404)})
def console_order_detail(request: HttpRequest, order_id: Id):
    """Any order with its ledger transfers (operators with console access)."""
    actor = acting_user(request)
    order = console_selectors.order_get_for_console(actor=actor, order_id=order_id)
    order.transfers = list(
        console_selectors.order_transfers_for_console(actor=actor, order_id=order.pk)
    )
    return order


# --- buyer ------------------------------------------------------------------------------------


@router.get("", response={200: list[OrderOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def order_list(request: HttpRequest, status: OrderStatus | None = None):
    """The buyer's orders, newest first, optionally in one status."""
    orders = selectors.order_list_for_buyer(buyer=acting_user(request))
    return orders.filter(status=status) if status else orders


@router.get("/{order_id}", response={200: OrderOut, **auth_errors(404)})
def order_detail(request: HttpRequest, order_id: Id):
    return _order(request, order_id)


@router.post("/{order_id}/cancel", response={200: OrderOut, **ORDER_ERRORS})
@idempotent("order.cancel", OrderOut)
def order_cancel(request: HttpRequest, order_id: Id):
    """Cancel an unpaid order; its stock goes back."""
    services.order_cancel(buyer=acting_user(request), order_id=order_id)
    return _order(request, order_id)


@router.post("/{order_id}/confirm", response={200: OrderOut, **PAY_ERRORS})
@idempotent("order.confirm", OrderOut)
def order_confirm(request: HttpRequest, order_id: Id, payload: PinIn):
    """Confirm receipt with the PIN: the escrow goes to the seller, less commission."""
    services.order_confirm(buyer=acting_user(request), order_id=order_id, pin=payload.pin)
    return _order(request, order_id)


@router.post("/{order_id}/extend-receipt", response={200: OrderOut, **ORDER_ERRORS})
def order_extend_receipt(request: HttpRequest, order_id: Id):
    """Push the automatic confirmation back 3 days, once, when 3 days or fewer remain."""
    services.order_extend_receipt(buyer=acting_user(request), order_id=order_id)
    return _order(request, order_id)


@router.post("/{order_id}/refund", response={200: OrderOut, **ORDER_ERRORS})
@idempotent("order.refund", OrderOut)
def order_refund(request: HttpRequest, order_id: Id):
    """Full refund of a paid order that has not shipped: the escrow goes back to the wallet."""
    services.order_refund_before_shipment(buyer=acting_user(request), order_id=order_id)
    return _order(request, order_id)


@router.post("/{order_id}/address", response={200: OrderOut, **ORDER_ERRORS})
def order_address_change(request: HttpRequest, order_id: Id, payload: AddressChangeIn):
    """Deliver to another of the buyer's addresses (until the order ships)."""
    services.order_address_change(
        buyer=acting_user(request), order_id=order_id, address_id=payload.address_id
    )
    return _order(request, order_id)
