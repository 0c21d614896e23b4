from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.safestring import mark_safe

from jishi.core.money import format_fen

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """12345 -> '123.45'."""
    return "" if fen is None else format_fen(int(fen))


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    user = context["request"].user
    if not user.is_authenticated:
        return 0
    from jishi.accounts.selectors import notification_unread_count

    return notification_unread_count(user=user)


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for paging and sorting)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return mark_safe("?" + encoded) if encoded else "?"  # noqa: S308  urlencode escapes


@register.filter
def field_error(errors: dict | None, name: str) -> str:
    return (errors or {}).get(name, "")


NO_IMAGE = "jishi/no-image.svg"


@register.filter
def cover_url(product: Any) -> str:
    """The product's cover image, or the no-picture placeholder (never a blank tile)."""
    cover = getattr(product, "cover", None)
    return cover.file.url if cover else static(NO_IMAGE)


@register.filter
def image_or_placeholder(url: str | None) -> str:
    """An image URL (e.g. an order line's frozen picture), or the no-picture placeholder."""
    return url or static(NO_IMAGE)
