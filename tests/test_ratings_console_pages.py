# ruff: noqa: F811  (the trade fixtures are imported, then requested by name)
"""Operator console risk-control pages through the Django test client: the anti-brushing
rating review queue (tabs, counts, flags explained), the rating page with its void / clear
form, the overview's count, who may see them, and sellers' ratings of buyers (buyer credit)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from jishi.core import clock
from jishi.core.models import AuditLog
from jishi.orders.services import order_confirm
from jishi.ratings import services as ratings
from jishi.ratings.models import Rating, ReviewStatus, ShopCredit
from tests.trade.aftersales_kit import buy
from tests.trade.conftest import PIN, make_buyer, trade  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _rated(trade, *, buyer=None, quick: bool = True, score: str = "positive", text: str = ""):
    """A finished order of ``buyer`` (default the trade's) rated by the buyer. ``quick``:
    receipt confirmed right after shipment (flagged quick_confirm); else an hour later (not
    flagged)."""
    buyer = buyer or trade.buyer
    if quick:
        order = buy(buyer, (trade.sku, 1), finish=True)
    else:
        order = buy(buyer, (trade.sku, 1), ship=True)
        clock.advance(timedelta(hours=1))
        order_confirm(buyer=buyer, order_id=order.pk, pin=PIN)
    line = order.lines.get()
    (rating,) = ratings.buyer_rate(
        buyer=buyer,
        order_id=order.pk,
        ratings=[{"line_id": line.pk, "score": score, "text": text}],
    )
    return rating


def _credit(shop) -> int:
    return ShopCredit.objects.get(shop=shop).score


def _fresh(rating) -> Rating:
    rating.refresh_from_db()
    return rating


def _review(client, rating, decision: str, reason: str = "核实为刷单", **kw):
    url = reverse("console:rating_review", args=[rating.pk])
    return client.post(url, {"decision": decision, "reason": reason}, **kw)


# --- the queue --------------------------------------------------------------------------------


def test_queue_tabs_counts_and_flags(client, trade, make_buyer, make_operator):
    first = _rated(trade, text="很好")
    second = _rated(trade, buyer=make_buyer())
    honest = _rated(trade, buyer=make_buyer(), quick=False)
    assert first.flags == ["quick_confirm"] and honest.review_status == ReviewStatus.NONE
    operator = make_operator("arbitrator")
    ratings.rating_review(operator=operator, rating_id=second.pk, decision="clear", reason="老客户")
    client.force_login(operator)

    queue = client.get(reverse("console:ratings"))
    assert queue.status_code == 200
    html = queue.content.decode()
    assert f'data-rating-id="{first.pk}"' in html
    assert f'data-rating-id="{second.pk}"' not in html  # cleared: on its own tab
    assert f'data-rating-id="{honest.pk}"' not in html  # never flagged
    assert 'data-tab="pending"' in html and "(1)" in html
    assert 'data-flag="quick_confirm"' in html
    assert "Receipt confirmed minutes after shipment" in html  # the flag, explained
    assert reverse("console:order", args=[first.order_id]) in html
    assert trade.shop.name in html and trade.buyer.username in html
    assert 'data-testid="credit-badge"' in html  # the shop's level
    assert "很好" in html

    cleared = client.get(reverse("console:ratings") + "?tab=cleared").content.decode()
    assert (
        f'data-rating-id="{second.pk}"' in cleared and f'data-rating-id="{first.pk}"' not in cleared
    )
    assert "老客户" in cleared and operator.username in cleared
    voided = client.get(reverse("console:ratings") + "?tab=voided").content.decode()
    assert 'data-testid="review-row"' not in voided
    bad_tab = client.get(reverse("console:ratings") + "?tab=nonsense").content.decode()
    assert f'data-rating-id="{first.pk}"' in bad_tab  # falls back to the queue


def test_every_flag_has_an_explanation():
    from jishi.console.views import FLAG_LABELS

    codes = {
        "own_shop",
        "same_address",
        "same_device",
        "same_payment_source",
        "new_accounts",
        "quick_confirm",
        "tiny_price",
    }
    assert set(FLAG_LABELS) == codes


# --- the rating page and the decision ---------------------------------------------------------


def test_rating_page_shows_rating_order_and_the_buyers_other_orders(client, trade, make_operator):
    earlier = _rated(trade, quick=False)
    rating = _rated(trade, text="好评返现")
    client.force_login(make_operator("arbitrator"))
    page = client.get(reverse("console:rating", args=[rating.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "好评返现" in html
    assert 'data-flag="quick_confirm"' in html
    assert f'href="{reverse("console:order", args=[rating.order_id])}"' in html
    assert f'data-order-id="{earlier.order_id}"' in html  # the buyer's other order with the shop
    assert f'data-order-id="{rating.order_id}"' in html
    assert reverse("console:rating", args=[earlier.pk]) in html
    assert 'data-testid="void"' in html and 'data-testid="clear"' in html
    assert reverse("console:buyer_ratings") + f"?buyer={trade.buyer.pk}" in html


def test_unknown_rating_is_not_found(client, make_operator):
    client.force_login(make_operator("arbitrator"))
    assert client.get(reverse("console:rating", args=[999999])).status_code == 404
    assert (
        client.post(
            reverse("console:rating_review", args=[999999]), {"decision": "void", "reason": "x"}
        ).status_code
        == 404
    )


def test_void_takes_the_points_off_the_shops_credit(client, trade, make_operator):
    rating = _rated(trade)
    assert _credit(trade.shop) == 1
    operator = make_operator("arbitrator")
    client.force_login(operator)
    response = _review(client, rating, "void", "发货后一分钟确认收货，疑似刷单")
    assert response.status_code == 302
    assert response.url == reverse("console:rating", args=[rating.pk])
    assert _credit(trade.shop) == 0
    rating = _fresh(rating)
    assert rating.review_status == ReviewStatus.VOIDED
    assert rating.reviewed_by == operator and rating.reviewed_at is not None
    assert rating.review_reason == "发货后一分钟确认收货，疑似刷单"
    assert rating.points == 0
    assert AuditLog.objects.filter(action="rating.void", actor=operator).exists()
    page = client.get(response.url).content.decode()
    assert "is voided" in page  # the success message
    assert 'data-testid="review-decision"' in page and "疑似刷单" in page
    assert 'data-testid="review-form"' not in page  # a voided rating stays voided
    voided = client.get(reverse("console:ratings") + "?tab=voided").content.decode()
    assert f'data-rating-id="{rating.pk}"' in voided


def test_clear_keeps_the_rating_counted(client, trade, make_operator):
    rating = _rated(trade)
    operator = make_operator("admin")
    client.force_login(operator)
    response = _review(client, rating, "clear", "老客户，物流记录正常", follow=True)
    assert response.status_code == 200
    assert "is cleared" in response.content.decode()
    rating = _fresh(rating)
    assert rating.review_status == ReviewStatus.CLEARED and rating.reviewed_by == operator
    assert rating.review_reason == "老客户，物流记录正常"
    assert _credit(trade.shop) == 1
    html = response.content.decode()
    assert 'data-testid="void"' in html and 'data-testid="clear"' not in html  # still voidable


def test_a_second_decision_is_refused_with_a_message(client, trade, make_operator):
    rating = _rated(trade)
    client.force_login(make_operator("arbitrator"))
    _review(client, rating, "void")
    # another operator's stale page: clear, then void again
    for decision in ("clear", "void"):
        response = _review(client, rating, decision, "再次处理", follow=True)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Only a rating waiting for review can be cleared" in html
        assert response.redirect_chain[-1][0] == reverse("console:rating", args=[rating.pk])
    rating = _fresh(rating)
    assert rating.review_status == ReviewStatus.VOIDED and rating.review_reason == "核实为刷单"
    assert _credit(trade.shop) == 0


def test_reason_is_required(client, trade, make_operator):
    rating = _rated(trade)
    client.force_login(make_operator("arbitrator"))
    for reason in ("", "   "):
        response = _review(client, rating, "void", reason)
        assert response.status_code == 400
        html = response.content.decode()
        assert 'data-testid="reason-error"' in html and "Give a reason" in html
    too_long = _review(client, rating, "clear", "长" * 201)
    assert too_long.status_code == 400 and 'data-testid="reason-error"' in too_long.content.decode()
    assert _fresh(rating).review_status == ReviewStatus.PENDING
    assert _credit(trade.shop) == 1


def test_an_unflagged_rating_can_be_voided_but_not_cleared(client, trade, make_operator):
    rating = _rated(trade, quick=False, score="negative", text="差评威胁")
    assert rating.review_status == ReviewStatus.NONE
    assert _credit(trade.shop) == -1
    client.force_login(make_operator("arbitrator"))
    page = client.get(reverse("console:rating", args=[rating.pk])).content.decode()
    assert 'data-testid="not-flagged"' in page
    assert 'data-testid="void"' in page and 'data-testid="clear"' not in page
    refused = _review(client, rating, "clear", "x", follow=True)
    assert "Only a rating waiting for review can be cleared" in refused.content.decode()
    assert _fresh(rating).review_status == ReviewStatus.NONE
    _review(client, rating, "void", "同行恶意差评")
    assert _fresh(rating).review_status == ReviewStatus.VOIDED
    assert _credit(trade.shop) == 0
    voided = client.get(reverse("console:ratings") + "?tab=voided").content.decode()
    assert f'data-rating-id="{rating.pk}"' in voided


# --- the overview and the sidebar -------------------------------------------------------------


def test_overview_counts_ratings_waiting(client, trade, make_buyer, make_operator):
    _rated(trade)
    _rated(trade, buyer=make_buyer())
    client.force_login(make_operator("arbitrator"))
    html = client.get(reverse("console:home")).content.decode()
    assert 'data-testid="stat-ratings-pending">2<' in html
    assert reverse("console:ratings") in html and reverse("console:buyer_ratings") in html
    assert "Risk control and ratings" in html  # the sidebar group


# --- who may see the pages --------------------------------------------------------------------


def _urls(rating) -> list[str]:
    return [
        reverse("console:ratings"),
        reverse("console:rating", args=[rating.pk]),
        reverse("console:buyer_ratings"),
    ]


def test_operator_without_rating_review_is_refused(client, trade, make_operator):
    rating = _rated(trade)
    client.force_login(make_operator("reviewer"))  # console.view only
    for url in _urls(rating):
        assert client.get(url).status_code == 403, url
    assert _review(client, rating, "void").status_code == 403
    assert _fresh(rating).review_status == ReviewStatus.PENDING
    html = client.get(reverse("console:home")).content.decode()
    assert 'data-testid="stat-ratings-pending"' not in html
    assert reverse("console:ratings") not in html and reverse("console:buyer_ratings") not in html


def test_sellers_buyers_and_anonymous_are_refused(client, trade):
    rating = _rated(trade)
    for url in _urls(rating):  # anonymous: to the login page
        response = client.get(url)
        assert response.status_code == 302 and "login" in response.url
    assert _review(client, rating, "void").status_code == 302
    for user in (trade.shop.owner, trade.buyer):  # not staff
        client.force_login(user)
        for url in _urls(rating):
            assert client.get(url).status_code == 403, url
        assert _review(client, rating, "void").status_code == 403
    assert _fresh(rating).review_status == ReviewStatus.PENDING
    assert _credit(trade.shop) == 1


# --- buyer credit -----------------------------------------------------------------------------


def _seller_rates(trade, rating, score: str, text: str = ""):
    (given,) = ratings.seller_rate(
        actor=trade.shop.owner,
        order_id=rating.order_id,
        ratings=[{"line_id": rating.line_id, "score": score, "text": text}],
    )
    return given


def test_buyer_ratings_negative_first_search_and_filter(client, trade, make_names, make_operator):
    mean, kind = make_names
    bad = _seller_rates(trade, _rated(trade, buyer=mean), "negative", "恶意差评威胁退款")
    good = _seller_rates(trade, _rated(trade, buyer=kind), "positive")
    client.force_login(make_operator("arbitrator"))
    url = reverse("console:buyer_ratings")

    html = client.get(url).content.decode()
    assert html.index(f'data-rating-id="{bad.pk}"') < html.index(f'data-rating-id="{good.pk}"')
    assert "恶意差评威胁退款" in html and 'data-testid="credit-badge"' in html
    assert f"?buyer={mean.pk}" in html  # the link that filters by the buyer

    found = client.get(url, {"q": "MEANBUY"}).content.decode()  # any case, any part
    assert f'data-rating-id="{bad.pk}"' in found and f'data-rating-id="{good.pk}"' not in found
    by_shop = client.get(url, {"q": trade.shop.name}).content.decode()
    assert f'data-rating-id="{bad.pk}"' in by_shop and f'data-rating-id="{good.pk}"' in by_shop
    nothing = client.get(url, {"q": "没有这个人"}).content.decode()
    assert 'data-testid="buyer-rating-row"' not in nothing

    one = client.get(url, {"buyer": mean.pk}).content.decode()
    assert f'data-rating-id="{bad.pk}"' in one and f'data-rating-id="{good.pk}"' not in one
    assert 'data-testid="buyer-summary"' in one
    assert 'data-testid="buyer-negative">1<' in one
    assert "credit -1" in one
    assert client.get(url, {"buyer": "x' or 1"}).status_code == 200  # ignored, not an error


@pytest.fixture
def make_names(make_user):
    """Two funded buyers with an address whose usernames do not contain each other."""
    from jishi.accounts.services import address_create, payment_pin_set
    from tests.trade.conftest import fund

    buyers = []
    for name in ("meanbuyer", "kindbuyer"):
        buyer = make_user(username=name)
        payment_pin_set(user=buyer, password=buyer.raw_password, pin=PIN)
        buyer.address = address_create(
            user=buyer,
            recipient="赵六",
            phone="13912345678",
            province="江苏省",
            city="南京市",
            district="玄武区",
            detail="中山路 2 号",
        )
        fund(buyer, 100_000)
        buyers.append(buyer)
    return buyers
