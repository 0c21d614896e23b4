"""Ratings on the seller's order page: the buyer's rating of each line (never the DSR, which
is anonymous), the shop's own rating of the buyer, and whether the shop may still rate.

``{% seller_order_ratings order membership as rt %}`` then
``{% with br=rt.buyer|rating_of:line.id %}``.
The order was fetched with the shop's access check; this only reads its ratings.
"""

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def seller_order_ratings(order: Any, membership: Any = None) -> dict[str, Any]:
    from jishi.ratings.models import RatingRole
    from jishi.ratings.selectors import order_rating_state
    from jishi.shops.permissions import role_can

    if order is None or order.finished_at is None:
        return {}
    buyer = order_rating_state(order=order, role=RatingRole.BUYER)
    seller = order_rating_state(order=order, role=RatingRole.SELLER)
    may_rate = bool(membership and role_can(membership.role, "rating.reply"))
    return {
        "buyer": {line.pk: rating for line, rating in buyer["lines"] if rating},
        "seller": {line.pk: rating for line, rating in seller["lines"] if rating},
        "open": seller["open"],
        "deadline": seller["deadline"],
        "can_rate": seller["can_rate"] and may_rate,
        "show": bool(seller["open"] or buyer["lines"]),
    }


@register.filter
def rating_of(ratings: dict[int, Any] | None, line_id: int) -> Any:
    return (ratings or {}).get(line_id)
