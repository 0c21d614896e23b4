"""Seller center trade pages: the shop's orders (已卖出的宝贝), one order with the ship and
private memo forms, and the shipping template (运费模板).

Staff roles decide what shows: "order.view" lists and opens orders, "order.ship" ships them,
the shipping template is the owner's ("shop.edit"). Another shop's order is a 404.
"""

from datetime import date
from typing import Any

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jishi.accounts.validators import PROVINCES, phone_mask
from jishi.core import clock
from jishi.core.errors import CoreError, DomainError
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.web import flash_error, form_errors
from jishi.orders import seller_selectors as selectors
from jishi.orders import services
from jishi.orders.models import Order
from jishi.shops.models import ShopStaff
from jishi.shops.permissions import role_can
from jishi.shops.seller_views import seller_page, seller_render

PAGE_SIZE = 10
# Common carriers (data, as couriers name themselves); "other" takes a free-text name.
CARRIERS = (
    "顺丰速运",
    "中通快递",
    "圆通速递",
    "申通快递",
    "韵达快递",
    "京东物流",
    "EMS",
    "中国邮政",
)
OTHER_CARRIER = "other"


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def _can(membership: ShopStaff) -> dict[str, bool]:
    return {
        "order_ship": role_can(membership.role, "order.ship"),
        "finance": role_can(membership.role, "finance.withdraw"),
    }


def _safe_back(request: Any, default: str) -> str:
    back = request.POST.get("back", "")
    if back.startswith(reverse("seller:orders")) and "//" not in back:
        return back
    return default


# --- the order list ---------------------------------------------------------------------------


@seller_page("order.view")
def orders(request, membership: ShopStaff):
    tab = request.GET.get("tab", "all")
    tabs_known = [name for name, _label in selectors.ORDER_TABS]
    if tab not in tabs_known:
        tab = "all"
    q = request.GET.get("q", "")[: selectors.SEARCH_LENGTH_MAX].strip()
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    created_from, created_to = _date(raw_from), _date(raw_to)
    date_error = (raw_from.strip() and created_from is None) or (
        raw_to.strip() and created_to is None
    )
    qs = selectors.order_list_for_shop(
        actor=request.user, tab=tab, q=q, created_from=created_from, created_to=created_to
    )
    counts = selectors.order_tab_counts_for_shop(actor=request.user)
    tabs = [
        {"tab": name, "label": label, "on": name == tab, "count": counts.get(name, 0)}
        for name, label in selectors.ORDER_TABS
    ]
    return seller_render(
        request,
        "seller/orders.html",
        {
            "page": page_of(qs, request.GET.get("page"), page_size=PAGE_SIZE),
            "tabs": tabs,
            "tab": tab,
            "to_ship_count": counts.get("to_ship", 0),
            "q": q,
            "date_from": created_from.isoformat() if created_from else "",
            "date_to": created_to.isoformat() if created_to else "",
            "date_error": bool(date_error),
            "filtered": bool(q or created_from or created_to),
            "now": clock.now(),
            "trade_can": _can(membership),
            "back": request.get_full_path(),
        },
        active="orders",
        membership=membership,
    )


# --- one order --------------------------------------------------------------------------------


def _detail(
    request: Any,
    membership: ShopStaff,
    order: Order,
    *,
    ship_errors: dict[str, str] | None = None,
    ship_values: dict[str, str] | None = None,
    memo_errors: dict[str, str] | None = None,
    memo_value: str | None = None,
    status: int = 200,
):
    ship_values = ship_values or {}
    return seller_render(
        request,
        "seller/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "phone_masked": phone_mask(order.phone),
            "timeline": selectors.order_timeline(order),
            "progress": selectors.order_progress(order),
            "close_reason": selectors.close_reason_label(order.close_reason),
            "carriers": CARRIERS,
            "ship_errors": ship_errors or {},
            "ship_values": ship_values,
            "memo_errors": memo_errors or {},
            "memo_value": order.seller_memo if memo_value is None else memo_value,
            "now": clock.now(),
            "trade_can": _can(membership),
        },
        active="orders",
        membership=membership,
        status=status,
    )


@seller_page("order.view")
def order_detail(request, membership: ShopStaff, order_id: int):
    order = selectors.order_get_for_shop(actor=request.user, order_id=order_id)
    return _detail(request, membership, order)


@require_POST
@seller_page("order.ship")
def order_ship(request, membership: ShopStaff, order_id: int):
    values = {
        key: request.POST.get(key, "")
        for key in ("carrier", "carrier_other", "tracking_no", "delivery_note")
    }
    carrier = values["carrier_other"] if values["carrier"] == OTHER_CARRIER else values["carrier"]
    try:
        order = services.order_ship(
            actor=request.user,
            order_id=order_id,
            carrier=carrier,
            tracking_no=values["tracking_no"],
            delivery_note=values["delivery_note"],
        )
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        if not exc.extra.get("fields"):  # e.g. not paid yet, already shipped
            flash_error(request, exc)
            return redirect("seller:order", order_id)
        errors = form_errors(exc)
        if "carrier" in errors and values["carrier"] == OTHER_CARRIER:
            errors["carrier_other"] = errors.pop("carrier")
        order = selectors.order_get_for_shop(actor=request.user, order_id=order_id)
        return _detail(
            request, membership, order, ship_errors=errors, ship_values=values, status=400
        )
    messages.success(request, _("Order %(id)s shipped. The buyer is told.") % {"id": order.pk})
    return redirect(_safe_back(request, reverse("seller:order", args=[order.pk])))


@require_POST
@seller_page("order.view")
def order_memo(request, membership: ShopStaff, order_id: int):
    memo = request.POST.get("memo", "")
    try:
        order = services.order_memo_set(actor=request.user, order_id=order_id, memo=memo)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        order = selectors.order_get_for_shop(actor=request.user, order_id=order_id)
        return _detail(
            request,
            membership,
            order,
            memo_errors=form_errors(exc),
            memo_value=memo,
            status=400,
        )
    messages.success(request, _("Memo saved. Only your shop can see it."))
    return redirect("seller:order", order.pk)


# --- shipping template ------------------------------------------------------------------------


def _fee_message() -> str:
    return _("Enter a fee in yuan from 0 to %(max)s, e.g. 8 or 12.50.") % {
        "max": format_fen(services.SHIPPING_FEE_FEN_MAX)
    }


def _shipping_values(template: Any) -> dict[str, Any]:
    if template is None:
        return {"default_fee": "0.00", "free_over": "", "provinces": {}}
    return {
        "default_fee": format_fen(template.default_fee_fen).replace(",", ""),
        "free_over": format_fen(template.free_over_fen).replace(",", "")
        if template.free_over_fen
        else "",
        "provinces": {
            name: format_fen(fee).replace(",", "") for name, fee in template.province_fees.items()
        },
    }


def _parse_shipping(post: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Form text -> (values to echo, fen arguments for the service, errors by field)."""
    values: dict[str, Any] = {
        "default_fee": post.get("default_fee", "").strip(),
        "free_over": post.get("free_over", "").strip(),
        "provinces": {},
    }
    args: dict[str, Any] = {"province_fees": {}}
    errors: dict[str, str] = {}
    try:
        args["default_fee_fen"] = parse_yuan(values["default_fee"] or "0")
        if args["default_fee_fen"] > services.SHIPPING_FEE_FEN_MAX:
            errors["default_fee"] = _fee_message()
    except ValueError:
        errors["default_fee"] = _fee_message()
    try:
        args["free_over_fen"] = parse_yuan(values["free_over"]) if values["free_over"] else None
        if args["free_over_fen"] == 0:
            errors["free_over"] = _("Enter an order amount above 0, or leave it empty.")
    except ValueError:
        errors["free_over"] = _("Enter an order amount in yuan, e.g. 99, or leave it empty.")
    for index, province in enumerate(PROVINCES):
        text = post.get(f"fee_{index}", "").strip()
        if not text:
            continue
        values["provinces"][province] = text
        try:
            fee = parse_yuan(text)
        except ValueError:
            errors[f"fee_{index}"] = _fee_message()
            continue
        if fee > services.SHIPPING_FEE_FEN_MAX:
            errors[f"fee_{index}"] = _fee_message()
        args["province_fees"][province] = fee
    return values, args, errors


def _service_errors(exc: DomainError) -> dict[str, str]:
    errors = form_errors(exc)
    renamed = {"default_fee_fen": "default_fee", "free_over_fen": "free_over"}
    result = {renamed.get(key, key): value for key, value in errors.items()}
    if exc.code in (CoreError.OUT_OF_RANGE, CoreError.NOT_AN_INTEGER):
        for key in ("default_fee", "province_fees"):
            if key in result:
                result[key] = _fee_message()
    if "province_fees" in result:
        result["__all__"] = result.pop("province_fees")
    return result


@seller_page("shop.edit")
def shipping(request, membership: ShopStaff):
    template = selectors.shipping_template_for_shop(actor=request.user)
    values = _shipping_values(template)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, args, errors = _parse_shipping(request.POST)
        if not errors:
            try:
                services.shipping_template_set(actor=request.user, **args)
            except DomainError as exc:
                if exc.status_code in (403, 404):
                    raise
                errors = _service_errors(exc)
            else:
                messages.success(request, _("Shipping template saved. New orders use it."))
                return redirect("seller:shipping")
        if errors and "__all__" not in errors:
            errors["__all__"] = _("Please correct the fields marked in red.")
    provinces = [
        {
            "index": index,
            "name": name,
            "value": values["provinces"].get(name, ""),
            "error": errors.get(f"fee_{index}", ""),
        }
        for index, name in enumerate(PROVINCES)
    ]
    return seller_render(
        request,
        "seller/shipping.html",
        {
            "template": template,
            "values": values,
            "errors": errors,
            "provinces": provinces,
            "custom_count": len(values["provinces"]),
            "fee_max": services.SHIPPING_FEE_FEN_MAX,
        },
        active="shipping",
        membership=membership,
        status=400 if errors else 200,
    )
