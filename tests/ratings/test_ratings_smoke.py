from datetime import timedelta

import pytest

from jishi.core import clock
from jishi.ratings import services as ratings
from jishi.ratings.models import Rating, ShopCredit
from jishi.ratings.selectors import shop_rating_summary
from jishi.ratings.timers import quality_sweep, ratings_sweep
from tests.trade.aftersales_kit import buy

pytestmark = pytest.mark.django_db


def test_smoke(trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    line = order.lines.get()
    ratings.buyer_rate(
        buyer=trade.buyer,
        order_id=order.pk,
        ratings=[{"line_id": line.pk, "score": "negative", "text": "太差"}],
        dsr={"item": 2, "service": 3, "logistics": 4},
    )
    assert ShopCredit.objects.get(shop=trade.shop).score == -1
    clock.advance(timedelta(days=16))
    assert ratings_sweep() == 1
    assert Rating.objects.filter(role="seller", is_default=True).count() == 1
    assert quality_sweep() >= 1
    summary = shop_rating_summary(shop=trade.shop)
    print(summary)
    assert summary["all_time"]["negative"] == 1
