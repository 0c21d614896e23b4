# ruff: noqa: F811  (the trade fixtures are imported, then requested by name)
"""Seller center rating pages through the Django test client: 评价管理 (the buyers' ratings
with filters, the one reply, the buyers to rate, the ratings of buyers and their one change),
rating a buyer, the shop quality score, the ratings on the seller's order page, and what
each staff role may see and do."""

import io
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from jishi.core import clock
from jishi.ratings import services as ratings
from jishi.ratings.models import BuyerCredit, Rating, ShopQuality
from jishi.shops.services import staff_create
from tests.conftest import TEST_PASSWORD
from tests.trade.aftersales_kit import buy
from tests.trade.conftest import make_buyer, make_listing, trade  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 160, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile("tea.png", buffer.getvalue(), content_type="image/png")


def _staff(trade, role: str):
    return staff_create(
        actor=trade.shop.owner, username=f"{role}{trade.shop.pk}", password=TEST_PASSWORD, role=role
    ).user


def _rated(trade, score="negative", text="茶叶碎末很多", dsr=None, photo=False):
    """A finished order of the trade's buyer, rated by the buyer; returns (order, rating)."""
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    line = order.lines.get()
    [rating] = ratings.buyer_rate(
        buyer=trade.buyer,
        order_id=order.pk,
        ratings=[{"line_id": line.pk, "score": score, "text": text}],
        dsr=dsr or {"item": 2, "service": 3, "logistics": 4},
        images={line.pk: [_png()]} if photo else None,
    )
    return order, rating


def _section(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</ul>", start)]


# --- navigation and access --------------------------------------------------------------------


def test_navigation_links_to_ratings_and_quality(client, trade):
    client.force_login(trade.shop.owner)
    html = client.get(reverse("seller:home")).content.decode()
    assert f'href="{reverse("seller:ratings")}"' in html
    assert f'href="{reverse("seller:quality")}"' in html


def test_pages_need_a_login(client, trade):
    for name in ("seller:ratings", "seller:quality"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert "/login/" in response["Location"]


# --- 评价管理: ratings from buyers ---------------------------------------------------------------


def test_received_ratings_show_score_text_photos_followup_and_the_standing(client, trade):
    _order, rating = _rated(trade, photo=True)
    ratings.rating_followup(buyer=trade.buyer, rating_id=rating.pk, text="用了一周还行")
    client.force_login(trade.shop.owner)
    response = client.get(reverse("seller:ratings"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="shop-standing"' in html
    assert 'data-testid="credit-score">-1' in html
    assert 'data-testid="dsr-item">2.00' in html
    assert 'data-testid="dsr-logistics">4.00' in html
    row = _section(html, "received-list")
    assert f'id="rating-{rating.pk}"' in row
    assert 'data-score="-1"' in row
    assert "茶叶碎末很多" in row
    assert 'data-testid="rating-images"' in row
    assert "用了一周还行" in row
    assert trade.buyer.username in row
    assert 'data-testid="reply-form"' in row
    # DSR stars are anonymous: nothing of them is tied to the buyer's review
    assert "dsr" not in row.lower()


def test_filters_and_their_counts(client, trade):
    _order, negative = _rated(trade, score="negative", text="差")
    _order, positive = _rated(trade, score="positive", text="好茶")
    ratings.rating_reply(actor=trade.shop.owner, rating_id=positive.pk, text="谢谢")
    ratings.rating_followup(buyer=trade.buyer, rating_id=positive.pk, text="回购了")
    client.force_login(trade.shop.owner)
    html = client.get(reverse("seller:ratings")).content.decode()
    counts = dict(re.findall(r'data-testid="filter-count-(\w+)">(\d+)<', html))
    assert counts == {"all": "2", "negative": "1", "unreplied": "1", "followups": "1"}
    only_negative = client.get(reverse("seller:ratings") + "?kind=negative").content.decode()
    assert f'id="rating-{negative.pk}"' in only_negative
    assert f'id="rating-{positive.pk}"' not in only_negative
    followups = client.get(reverse("seller:ratings") + "?kind=followups").content.decode()
    assert f'id="rating-{positive.pk}"' in followups
    assert f'id="rating-{negative.pk}"' not in followups
    # an unknown tab or filter falls back to the defaults
    assert client.get(reverse("seller:ratings") + "?tab=x&kind=y").status_code == 200


def test_reply_once_then_it_shows_and_the_form_is_gone(client, trade):
    _order, rating = _rated(trade)
    client.force_login(trade.shop.owner)
    url = reverse("seller:rating_reply", args=[rating.pk]) + "?kind=all"
    response = client.post(url, {"text": "抱歉，已为您补发"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("seller:ratings") + "?kind=all")
    rating.refresh_from_db()
    assert rating.reply == "抱歉，已为您补发"
    html = client.get(reverse("seller:ratings")).content.decode()
    row = _section(html, "received-list")
    assert 'data-testid="rating-reply"' in row
    assert "抱歉，已为您补发" in row
    assert 'data-testid="reply-form"' not in row
    # a second reply is refused and changes nothing
    again = client.post(url, {"text": "再说一次"}, follow=True)
    assert "replied already" in again.content.decode()
    rating.refresh_from_db()
    assert rating.reply == "抱歉，已为您补发"


@pytest.mark.parametrize("text", ["", "长" * 501])
def test_bad_reply_shows_the_error_and_saves_nothing(client, trade, text):
    _order, rating = _rated(trade)
    client.force_login(trade.shop.owner)
    response = client.post(reverse("seller:rating_reply", args=[rating.pk]), {"text": text})
    assert response.status_code == 400
    assert 'data-testid="reply-error"' in response.content.decode()
    rating.refresh_from_db()
    assert rating.reply == "" and rating.reply_at is None


def test_warehouse_staff_read_but_cannot_reply_rate_or_change(client, trade):
    order, rating = _rated(trade)
    unrated = buy(trade.buyer, (trade.sku, 1), finish=True)
    [given] = ratings.seller_rate(
        actor=trade.shop.owner,
        order_id=order.pk,
        ratings=[{"line_id": order.lines.get().pk, "score": "negative", "text": "恶意"}],
    )
    client.force_login(_staff(trade, "warehouse"))
    html = client.get(reverse("seller:ratings")).content.decode()
    assert f'id="rating-{rating.pk}"' in html
    assert 'data-testid="view-only"' in html
    assert 'data-testid="reply-form"' not in html
    to_rate = client.get(reverse("seller:ratings") + "?tab=to_rate").content.decode()
    assert 'data-testid="rate-buyer"' not in to_rate
    reply = client.post(reverse("seller:rating_reply", args=[rating.pk]), {"text": "hi"})
    assert reply.status_code == 403
    line = unrated.lines.get()
    rate = client.post(
        reverse("seller:rate_buyer", args=[unrated.pk]), {f"score_{line.pk}": "positive"}
    )
    assert rate.status_code == 403
    change = client.post(reverse("seller:rating_change", args=[given.pk]), {"to": "remove"})
    assert change.status_code == 403
    rating.refresh_from_db()
    given.refresh_from_db()
    assert rating.reply_at is None and given.removed_at is None
    assert not Rating.objects.filter(order=unrated, role="seller").exists()
    page = client.get(reverse("seller:rate_buyer", args=[unrated.pk])).content.decode()
    assert 'data-testid="rate-form"' not in page
    assert 'data-testid="view-only"' in page


def test_customer_service_may_reply(client, trade):
    _order, rating = _rated(trade)
    client.force_login(_staff(trade, "service"))
    response = client.post(reverse("seller:rating_reply", args=[rating.pk]), {"text": "您好"})
    assert response.status_code == 302
    rating.refresh_from_db()
    assert rating.reply == "您好"


def test_another_shops_rating_or_order_looks_missing(client, trade, make_listing, make_buyer):
    other_sku = make_listing()
    stranger = make_buyer()
    order = buy(stranger, (other_sku, 1), finish=True)
    [rating] = ratings.buyer_rate(
        buyer=stranger,
        order_id=order.pk,
        ratings=[{"line_id": order.lines.get().pk, "score": "negative", "text": "差"}],
    )
    client.force_login(trade.shop.owner)
    reply = client.post(reverse("seller:rating_reply", args=[rating.pk]), {"text": "x"})
    assert reply.status_code == 404
    assert client.post(reverse("seller:rating_change", args=[rating.pk])).status_code == 404
    assert client.get(reverse("seller:rate_buyer", args=[order.pk])).status_code == 404
    assert client.get(reverse("seller:rate_buyer", args=[99999999])).status_code == 404
    rating.refresh_from_db()
    assert rating.reply_at is None
    listing = client.get(reverse("seller:ratings")).content.decode()
    assert f'id="rating-{rating.pk}"' not in listing


# --- rating the buyer -------------------------------------------------------------------------


def test_rate_the_buyer_needs_a_reason_for_negative_then_records_it(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    line = order.lines.get()
    client.force_login(trade.shop.owner)
    to_rate = client.get(reverse("seller:ratings") + "?tab=to_rate").content.decode()
    assert f'data-order="{order.pk}"' in to_rate
    page = client.get(reverse("seller:rate_buyer", args=[order.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="buyer-credit"' in html
    assert 'data-testid="rate-form"' in html
    url = reverse("seller:rate_buyer", args=[order.pk])
    bad = client.post(url, {f"score_{line.pk}": "negative", f"text_{line.pk}": " "})
    assert bad.status_code == 400
    assert 'data-testid="text-error"' in bad.content.decode()
    assert not Rating.objects.filter(order=order, role="seller").exists()
    good = client.post(url, {f"score_{line.pk}": "negative", f"text_{line.pk}": "拒收又退款"})
    assert good.status_code == 302
    assert good["Location"] == reverse("seller:ratings") + "?tab=given"
    rating = Rating.objects.get(order=order, role="seller")
    assert rating.score == -1 and rating.text == "拒收又退款"
    assert BuyerCredit.objects.get(user=trade.buyer).score == -1
    given = client.get(good["Location"]).content.decode()
    assert f'id="rating-{rating.pk}"' in given
    assert 'data-testid="change-actions"' in given
    after = client.get(url).content.decode()
    assert 'data-testid="rate-form"' not in after
    assert 'data-testid="line-rated"' in after
    assert 'data-testid="buyer-credit-score">-1<' in after


def test_invalid_score_is_a_field_error(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    line = order.lines.get()
    client.force_login(trade.shop.owner)
    response = client.post(
        reverse("seller:rate_buyer", args=[order.pk]), {f"score_{line.pk}": "great"}
    )
    assert response.status_code == 400
    assert "Choose positive, neutral or negative." in response.content.decode()
    assert not Rating.objects.filter(order=order).exists()


def test_rating_window_closed(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    line = order.lines.get()
    clock.advance(timedelta(days=16))
    client.force_login(trade.shop.owner)
    url = reverse("seller:rate_buyer", args=[order.pk])
    html = client.get(url).content.decode()
    assert 'data-testid="window-closed"' in html
    assert 'data-testid="rate-form"' not in html
    response = client.post(url, {f"score_{line.pk}": "positive"})
    assert response.status_code == 400
    assert 'data-testid="form-error"' in response.content.decode()
    assert not Rating.objects.filter(order=order, role="seller").exists()


def test_the_shop_changes_its_negative_rating_of_a_buyer_once(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    [given] = ratings.seller_rate(
        actor=trade.shop.owner,
        order_id=order.pk,
        ratings=[{"line_id": order.lines.get().pk, "score": "neutral", "text": "一般"}],
    )
    client.force_login(_staff(trade, "warehouse"))  # may not rate: no change offered
    html = client.get(reverse("seller:ratings") + "?tab=given").content.decode()
    assert f'id="rating-{given.pk}"' in html
    assert 'data-testid="change-actions"' not in html
    client.force_login(_staff(trade, "service"))  # staff who may rate: offered
    html = client.get(reverse("seller:ratings") + "?tab=given").content.decode()
    assert 'data-testid="change-actions"' in html
    client.force_login(trade.shop.owner)
    url = reverse("seller:rating_change", args=[given.pk]) + "?tab=given"
    response = client.post(url, {"to": "positive"})
    assert response.status_code == 302
    given.refresh_from_db()
    assert given.score == 1 and given.changed_at is not None
    again = client.post(url, {"to": "remove"}, follow=True)
    assert "once, within 30 days" in again.content.decode()
    given.refresh_from_db()
    assert given.removed_at is None
    html = client.get(reverse("seller:ratings") + "?tab=given").content.decode()
    assert 'data-testid="change-actions"' not in html
    assert 'data-testid="rating-changed"' in html


def test_no_change_offered_after_30_days(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), finish=True)
    ratings.seller_rate(
        actor=trade.shop.owner,
        order_id=order.pk,
        ratings=[{"line_id": order.lines.get().pk, "score": "negative", "text": "差"}],
    )
    clock.advance(timedelta(days=31))
    client.force_login(trade.shop.owner)
    html = client.get(reverse("seller:ratings") + "?tab=given").content.decode()
    assert 'data-testid="given-rating"' in html
    assert 'data-testid="change-actions"' not in html


# --- the seller's order page ------------------------------------------------------------------


def test_order_page_shows_the_buyers_rating_and_the_rate_link(client, trade):
    order, _rating = _rated(trade, score="positive", text="很好喝")
    client.force_login(trade.shop.owner)
    url = reverse("seller:order", args=[order.pk])
    html = client.get(url).content.decode()
    assert 'data-testid="line-rating"' in html
    assert "很好喝" in html
    assert reverse("seller:rate_buyer", args=[order.pk]) in html
    ratings.seller_rate(
        actor=trade.shop.owner,
        order_id=order.pk,
        ratings=[{"line_id": order.lines.get().pk, "score": "positive"}],
    )
    html = client.get(url).content.decode()
    assert 'data-testid="rate-buyer-link"' not in html
    assert 'data-testid="line-seller-rating"' in html


def test_order_page_without_ratings_before_completion(client, trade):
    order = buy(trade.buyer, (trade.sku, 1), ship=True)
    client.force_login(trade.shop.owner)
    html = client.get(reverse("seller:order", args=[order.pk])).content.decode()
    assert 'data-testid="line-rating"' not in html
    assert 'data-testid="rate-buyer-link"' not in html


# --- 店铺质量分 ---------------------------------------------------------------------------------


def test_quality_before_the_first_score_shows_live_parts(client, trade):
    _rated(trade, score="positive", text="", dsr={"item": 5, "service": 5, "logistics": 5})
    client.force_login(trade.shop.owner)
    response = client.get(reverse("seller:quality"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="quality-pending"' in html
    assert "Updated tomorrow" in html
    assert 'data-part="dsr"' in html and "5.00 stars" in html
    assert 'data-part="response_time"' in html
    assert "Counted once customer-service chat is live" in html
    assert not ShopQuality.objects.exists()  # the page did not write


def test_quality_shows_todays_score_parts_and_trend(client, trade):
    _rated(trade, score="positive", text="", dsr={"item": 5, "service": 4, "logistics": 5})
    clock.advance(timedelta(days=-1))
    ratings.quality_compute(shop_id=trade.shop.pk)
    clock.advance(timedelta(days=1))
    today = ratings.quality_compute(shop_id=trade.shop.pk)
    client.force_login(trade.shop.owner)
    html = client.get(reverse("seller:quality")).content.decode()
    assert f'data-testid="quality-score">{today.score}<' in html
    assert "Today's score" in html
    assert html.count('data-testid="trend-point"') == 2
    for name in ("dsr", "refund_rate", "dispute_rate", "shipping_speed", "violations"):
        assert f'data-part="{name}"' in html
    assert html.count('data-testid="part-mark"') == len(today.parts)
    warehouse = _staff(trade, "warehouse")
    client.force_login(warehouse)  # shop.view: every staff role may look
    assert client.get(reverse("seller:quality")).status_code == 200
