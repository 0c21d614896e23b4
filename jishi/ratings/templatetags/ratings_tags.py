"""The credit level badge (hearts, diamonds, crowns, golden crowns), shown wherever a shop or
a buyer appears.

``{% credit_badge shop %}`` reads ``shop.credit`` (select_related("credit") on lists, so a
page of shops costs no extra query); ``{% credit_badge_score 1234 %}`` takes a score.
"""

from typing import Any

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _

from jishi.ratings.services import credit_level

register = template.Library()

TIER_LABELS = {
    "heart": _("heart"),
    "diamond": _("diamond"),
    "crown": _("crown"),
    "gold_crown": _("golden crown"),
}


def _badge(score: int) -> dict[str, Any]:
    tier, level = credit_level(score)
    return {
        "score": score,
        "tier": tier,
        "level": level,
        "icons": range(level),
        "tier_label": TIER_LABELS.get(tier, ""),
    }


@register.inclusion_tag("ratings/_credit_badge.html")
def credit_badge(shop: Any) -> dict[str, Any]:
    try:
        credit = shop.credit
    except (ObjectDoesNotExist, AttributeError):
        credit = None
    return _badge(credit.score if credit else 0)


@register.inclusion_tag("ratings/_credit_badge.html")
def credit_badge_score(score: int | None) -> dict[str, Any]:
    return _badge(score or 0)
