"""Template helpers for the trade pages: the cart count in the top bar."""

from django import template

from jishi.orders.selectors import cart_count as _cart_count

register = template.Library()


@register.simple_tag(takes_context=True)
def cart_count(context) -> int:
    request = context.get("request")
    return _cart_count(user=getattr(request, "user", None)) if request else 0
