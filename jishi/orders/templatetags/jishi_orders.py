"""Template helpers for the trade pages: the cart count in the top bar and compact
countdowns."""

from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from jishi.orders.models import order_reason_label
from jishi.orders.selectors import cart_count as _cart_count
from jishi.orders.selectors import time_left as _time_left

register = template.Library()


@register.simple_tag(takes_context=True)
def cart_count(context) -> int:
    request = context.get("request")
    return _cart_count(user=getattr(request, "user", None)) if request else 0


@register.simple_tag
def time_left(deadline: datetime | None, now: datetime | None) -> SafeString:
    """``{% time_left order.pay_deadline now as left %}``: the time to a deadline as compact
    HTML, "<b>1</b>天<b>2</b>小时<b>3</b>分" (the same wording as the buyer's countdowns)."""
    if deadline is None or now is None:
        return SafeString("")
    left = _time_left(deadline, now)
    if left["days"]:
        text = gettext("<b data-d>%(d)s</b> d <b data-h>%(h)s</b> h <b data-m>%(m)s</b> min")
    else:
        text = gettext("<b data-h>%(h)s</b> h <b data-m>%(m)s</b> min")
    # The translation holds only markup and the three integers below.
    return format_html(
        text.replace("%(d)s", "{d}").replace("%(h)s", "{h}").replace("%(m)s", "{m}"),
        d=left["days"],
        h=left["hours"],
        m=left["minutes"],
    )


@register.filter
def order_reason(reason: str | None) -> str:
    """``{{ row.reason|order_reason }}``: a reason code (unpaid_timeout…) as its label."""
    return order_reason_label(reason or "")


@register.filter
def audit_values(values: dict | None) -> str:
    """An audit row's before/after as readable text: statuses by their label, fen as yuan."""
    from jishi.core.money import format_fen
    from jishi.orders.models import OrderStatus

    if not values:
        return ""
    if not isinstance(values, dict):
        return str(values)
    parts = []
    for key, value in values.items():
        if key == "status" and value in OrderStatus.values:
            value = OrderStatus(value).label
        elif key.endswith("_fen") and isinstance(value, int):
            value = f"¥{format_fen(value)}"
        parts.append(f"{key}: {value}")
    return "; ".join(parts)
