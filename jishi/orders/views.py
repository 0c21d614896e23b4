"""Buyer trade pages: cart, checkout, pay, my orders, order detail and the order actions.

Views only call jishi.orders.services (writes) and selectors (reads) and render. A refused
input (DomainError) becomes a flash message or an error next to its field, never a 500; an
order, group or cart item of another buyer is a 404.
"""

import uuid
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from jishi.accounts.errors import AccountError
from jishi.accounts.selectors import address_list_for_user, payment_pin_status
from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.core.pagination import page_of
from jishi.core.web import flash_error, form_errors
from jishi.inventory.errors import InventoryError
from jishi.ledger.errors import LedgerError
from jishi.orders import selectors, services
from jishi.orders.errors import OrderError
from jishi.orders.models import OrderStatus, order_reason_label
from jishi.payments.selectors import wallet_balance

ORDERS_PAGE_SIZE = 10
IDEMPOTENCY_KEY_LENGTH_MAX = 64

TAB_LABELS = (
    ("all", gettext_lazy("All orders")),
    ("unpaid", gettext_lazy("To pay")),
    ("unshipped", gettext_lazy("To ship")),
    ("shipped", gettext_lazy("To receive")),
    ("finished", gettext_lazy("Completed")),
    ("closed", pgettext_lazy("order tab", "Closed")),
)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdecimal() and len(v) < 19][:200]


# --- cart -------------------------------------------------------------------------------------


@login_required
def cart(request: HttpRequest) -> HttpResponse:
    items = selectors.cart_items_for_user(user=request.user)
    shops: dict[int, dict[str, Any]] = {}
    unavailable = []
    for item in items:
        if not item.available:
            unavailable.append(item)
            continue
        shop = item.sku.product.shop
        shops.setdefault(shop.pk, {"shop": shop, "items": []})["items"].append(item)
    available = [i for group in shops.values() for i in group["items"]]
    return render(
        request,
        "orders/cart.html",
        {
            "shop_groups": list(shops.values()),
            "unavailable": unavailable,
            "item_count": len(items),
            "selected_fen": sum(i.line_fen for i in available),
            "selected_count": sum(i.quantity for i in available),
        },
    )


@require_http_methods(["GET", "POST"])
def cart_add(request: HttpRequest) -> HttpResponse:
    """Add a SKU from the product page, then go back there (or to the cart)."""
    back = _safe_next(request, reverse("orders:cart"))
    if not request.user.is_authenticated:
        return redirect_to_login(back)
    if request.method == "GET":
        return redirect("orders:cart")
    try:
        services.cart_add(
            user=request.user,
            sku_id=request.POST.get("sku_id", ""),
            quantity=request.POST.get("quantity", "1"),
        )
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, _("Added to your cart."))
    return redirect(back)


@login_required
@require_POST
def cart_update(request: HttpRequest, item_id: int) -> HttpResponse:
    quantity: Any = request.POST.get("quantity", "").strip()
    delta = request.POST.get("delta", "")
    if delta in ("-1", "1") and quantity.isdecimal():
        quantity = int(quantity) + int(delta)  # the − / + buttons
    try:
        services.cart_update(user=request.user, item_id=item_id, quantity=quantity)
    except DomainError as exc:
        flash_error(request, exc)
    return redirect("orders:cart")


@login_required
@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    removed = services.cart_remove(user=request.user, item_ids=_ids(request.POST.getlist("item")))
    if removed:
        messages.success(request, _("Removed from your cart."))
    return redirect("orders:cart")


# --- checkout ---------------------------------------------------------------------------------


def _checkout_items(request: HttpRequest, data: Any) -> tuple[list[dict[str, Any]], bool]:
    """What is being bought: cart items (``item`` ids) or one SKU (``sku_id`` + ``quantity``).
    Returns the items for the services and whether they come from the cart."""
    if data.getlist("item"):
        chosen = selectors.cart_items_get(user=request.user, item_ids=_ids(data.getlist("item")))
        return [{"sku_id": i.sku_id, "quantity": i.quantity} for i in chosen], True
    sku_ids = data.getlist("sku_id")
    quantities = data.getlist("quantity")
    items = [
        {"sku_id": sku_id, "quantity": quantity}
        for sku_id, quantity in zip(sku_ids, quantities, strict=False)
    ]
    return items, data.get("from_cart") == "1"


def _chosen_address(addresses: list, address_id: Any):
    for address in addresses:
        if str(address.pk) == str(address_id):
            return address
    return addresses[0] if addresses else None


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    items, from_cart = _checkout_items(request, data)
    addresses = list(address_list_for_user(user=request.user))
    address = _chosen_address(addresses, data.get("address_id"))
    key = data.get("idempotency_key", "")[:IDEMPOTENCY_KEY_LENGTH_MAX] or uuid.uuid4().hex
    notes = {k[len("note_") :]: v for k, v in data.items() if k.startswith("note_")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            group = services.order_place(
                buyer=request.user,
                items=items,
                address_id=data.get("address_id", ""),
                notes=notes,
                from_cart=from_cart,
                idempotency_key=key,
            )
        except DomainError as exc:
            errors = form_errors(exc)
        else:
            return redirect("orders:pay", group_id=group.pk)
    try:
        plans = services.checkout_plan(
            buyer=request.user, items=items, province=address.province if address else ""
        )
    except DomainError as exc:
        if request.method == "POST" and exc.code == OrderError.CART_EMPTY:
            # A repeat of a checkout already placed from the cart: its items are gone now.
            flash_error(request, exc)
            return redirect("orders:list")
        flash_error(request, exc)
        return redirect("orders:cart" if from_cart else _safe_next(request, reverse("orders:cart")))
    for plan in plans:
        plan["note"] = notes.get(str(plan["shop"].pk), "")
    return render(
        request,
        "orders/checkout.html",
        {
            "plans": plans,
            "addresses": addresses,
            "address": address,
            "from_cart": from_cart,
            "item_ids": data.getlist("item"),
            "idempotency_key": key,
            "errors": errors,
            "total_fen": sum(p["total_fen"] for p in plans),
            "count": sum(line["quantity"] for p in plans for line in p["lines"]),
        },
        status=400 if errors else 200,
    )


# --- pay --------------------------------------------------------------------------------------


PAY_ERRORS_ON_PIN = (AccountError.PIN_WRONG, AccountError.PIN_INVALID)


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_get_for_buyer(buyer=request.user, group_id=group_id)
    errors: dict[str, str] = {}
    error_code = ""
    if request.method == "POST":
        try:
            services.group_pay(
                buyer=request.user, group_id=group.pk, pin=request.POST.get("pin", "").strip()
            )
        except DomainError as exc:
            error_code = exc.code
            if exc.code == OrderError.ALREADY_PAID:
                messages.info(request, _("This order is already paid."))
                return redirect(reverse("orders:list") + "?tab=unshipped")
            if exc.code in PAY_ERRORS_ON_PIN:
                errors["pin"] = str(exc.message)
            else:
                errors["__all__"] = str(exc.message)
            group = selectors.group_get_for_buyer(buyer=request.user, group_id=group_id)
        else:
            messages.success(
                request,
                _("Payment successful. The platform holds your money until you confirm receipt."),
            )
            return redirect(reverse("orders:list") + "?tab=unshipped")
    balance = wallet_balance(user_id=request.user.pk)
    shortfall = max(group.due_fen - balance.available_fen, 0)
    now = clock.now()
    countdowns = [c for c in (_countdown(o, now) for o in group.payable) if c]
    return render(
        request,
        "orders/pay.html",
        {
            "group": group,
            "balance": balance,
            "shortfall_fen": shortfall,
            "countdown": min(countdowns, key=lambda c: c["seconds"]) if countdowns else None,
            "pin_status": payment_pin_status(user=request.user),
            "errors": errors,
            "error_code": error_code,
            "insufficient": error_code == LedgerError.INSUFFICIENT_FUNDS,
            "out_of_stock": error_code == InventoryError.OUT_OF_STOCK,
            "pin_not_set": error_code == AccountError.PIN_NOT_SET,
        },
        status=400 if errors else 200,
    )


# --- my orders --------------------------------------------------------------------------------


def _countdown(order: Any, now: datetime) -> dict[str, Any] | None:
    """The deadline that applies to an order now, split into days/hours/minutes left."""
    if order.status == OrderStatus.WAIT_BUYER_PAY:
        kind, deadline = "pay", order.pay_deadline
    elif order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS:
        kind, deadline = "confirm", order.confirm_deadline
    else:
        return None
    if deadline is None:
        return None
    left = selectors.time_left(deadline, now)
    return {"kind": kind, "deadline": deadline, "expired": left["seconds"] == 0, **left}


def _decorate(orders: list, now: datetime) -> list:
    for order in orders:
        order.countdown = _countdown(order, now)
        order.can_extend = selectors.receipt_extend_allowed(order=order, now=now)
    return orders


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "all")
    if tab not in selectors.BUYER_TABS:
        tab = "all"
    page = page_of(
        selectors.order_list_for_buyer(buyer=request.user, tab=tab),
        request.GET.get("page"),
        page_size=ORDERS_PAGE_SIZE,
    )
    counts = selectors.order_counts_for_buyer(buyer=request.user)
    return render(
        request,
        "orders/order_list.html",
        {
            "tab": tab,
            "tabs": [(key, label, counts.get(key, 0)) for key, label in TAB_LABELS],
            "page": page,
            "orders": _decorate(list(page.object_list), clock.now()),
        },
    )


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get_for_buyer(buyer=request.user, order_id=order_id)
    _decorate([order], clock.now())
    steps = [
        (_("Order placed"), order.created_at),
        (_("Paid"), order.paid_at),
        (_("Shipped"), order.shipped_at),
        (_("Receipt confirmed"), order.finished_at),
    ]
    done = sum(1 for _label, at in steps if at)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "steps": steps,
            "steps_done": done,
            "closed": order.status
            in (OrderStatus.TRADE_CLOSED, OrderStatus.TRADE_CLOSED_BY_SYSTEM),
            "close_reason": order_reason_label(order.close_reason),
            "address_changeable": order.status
            in (OrderStatus.WAIT_BUYER_PAY, OrderStatus.WAIT_SELLER_SEND_GOODS),
            "addresses": list(address_list_for_user(user=request.user)),
        },
    )


# --- order actions (POST; each goes back to ``next`` or the order) -----------------------------


def _order_action(request: HttpRequest, order_id: int, action, success: str) -> HttpResponse:
    back = _safe_next(request, reverse("orders:detail", args=[order_id]))
    selectors.order_get_for_buyer(buyer=request.user, order_id=order_id)  # 404 for others
    try:
        action()
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, success)
    return redirect(back)


@login_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(
        request,
        order_id,
        lambda: services.order_cancel(buyer=request.user, order_id=order_id),
        _("The order was cancelled."),
    )


@login_required
@require_POST
def order_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(
        request,
        order_id,
        lambda: services.order_refund_before_shipment(buyer=request.user, order_id=order_id),
        _("The order was refunded to your wallet."),
    )


@login_required
@require_POST
def order_confirm(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(
        request,
        order_id,
        lambda: services.order_confirm(
            buyer=request.user, order_id=order_id, pin=request.POST.get("pin", "").strip()
        ),
        _("Receipt confirmed. The seller has been paid. Thank you!"),
    )


@login_required
@require_POST
def order_extend(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(
        request,
        order_id,
        lambda: services.order_extend_receipt(buyer=request.user, order_id=order_id),
        _("Receipt was extended by 3 days."),
    )


@login_required
@require_POST
def order_address(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(
        request,
        order_id,
        lambda: services.order_address_change(
            buyer=request.user, order_id=order_id, address_id=request.POST.get("address_id", "")
        ),
        _("The delivery address was changed."),
    )
