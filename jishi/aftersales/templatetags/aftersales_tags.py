"""Template helpers for after-sales on the order pages: each line's latest request and
whether the buyer may ask for one now.

``{% aftersales_lines order as states %}`` then ``{% with st=states|line_state:line.pk %}``:
``st.case`` (the latest request or None) and ``st.can_request``.
"""

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def aftersales_lines(order: Any, buyer: bool = True) -> dict[int, dict[str, Any]]:
    from jishi.aftersales.views import line_states

    if order is None or order.paid_at is None:
        return {}
    return line_states(order, buyer_view=buyer)


@register.filter
def line_state(states: dict[int, dict[str, Any]] | None, line_id: int) -> dict[str, Any]:
    return (states or {}).get(line_id) or {"case": None, "can_request": False}


@register.simple_tag
def left_html(deadline: Any, now: Any) -> str:
    """``{% left_html case.deadline now as left %}``: the time left as compact, ticking HTML
    ("<b>1</b>天<b>2</b>小时<b>3</b>分"), for use inside a translated sentence."""
    from django.utils.html import format_html

    from jishi.orders.templatetags.jishi_orders import time_left

    if not deadline or not now:
        return ""
    seconds = max(0, int((deadline - now).total_seconds()))
    return format_html(
        '<span class="as-left-t" data-seconds-left="{}">{}</span>',
        seconds,
        time_left(deadline, now),
    )


@register.filter
def event_label(action: str) -> str:
    from jishi.aftersales.views import event_label as label

    return label(action)
