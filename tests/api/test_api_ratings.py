"""/api/v1/ratings: the public shop summary and reviews, the buyer rating an order (with DSR
and photos), changing a rating, the follow-up review, the seller rating buyers and replying,
the quality score, and the operators' anti-brushing review.

Each endpoint is called by the right user and by the wrong ones (another buyer or shop: 404;
a buyer on the seller's endpoints: 404 ``not_shop_staff``; warehouse staff writing: 403; an
operator without ``rating.review``: 403). Anonymous calls are covered in test_api_auth.py;
hostile bodies and queries at the end of this file.
"""

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from jishi.catalog.services import product_unlist
from jishi.core import clock
from jishi.ratings.models import Dsr, Rating, ShopCredit
from jishi.ratings.services import QUALITY_WEIGHTS, quality_compute
from jishi.ratings.timers import ratings_sweep
from jishi.shops.models import Shop
from jishi.shops.services import staff_create
from tests.trade import conftest as trade_fixtures
from tests.trade.aftersales_kit import buy

from .helpers import API, PASSWORD, ApiClient, error_code, png_bytes
from .test_api_fuzz import assert_bodies_never_500

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade

DSR = {"item": 5, "service": 4, "logistics": 3}


@pytest.fixture
def market(trade, make_buyer, make_shop, make_operator):
    """``trade`` (a shop, SKU ``sku`` at 50 yuan x10 and ``scarce`` at 90 yuan x1, a funded
    buyer) plus a second buyer, the shop's service and warehouse staff, another shop, an
    arbitrator (``rating.review``), a reviewer (console, no ``rating.review``) and an admin."""
    owner = trade.shop.owner
    service = staff_create(
        actor=owner, username=f"cs{trade.shop.pk}", password=PASSWORD, role="service"
    ).user
    warehouse = staff_create(
        actor=owner, username=f"wh{trade.shop.pk}", password=PASSWORD, role="warehouse"
    ).user
    return SimpleNamespace(
        shop=trade.shop,
        product=trade.product,
        sku=trade.sku,
        scarce=trade.scarce,
        buyer=trade.buyer,
        buyer2=make_buyer(),
        owner=owner,
        service=service,
        warehouse=warehouse,
        other_owner=make_shop().owner,
        arbitrator=make_operator("arbitrator"),
        reviewer=make_operator("reviewer"),
        admin=make_operator("admin"),
    )


def finished(market, *items, buyer=None):
    """A completed order of ``buyer`` (default market.buyer): one of ``sku`` unless given."""
    return buy(buyer or market.buyer, *(items or [(market.sku, 1)]), finish=True)


def post(client: ApiClient, path: str, data=None, *, key: str | None = None, lang: str = ""):
    headers = {**client.headers}
    if key is not None:
        headers["Idempotency-Key"] = key
    if lang:
        headers["Accept-Language"] = lang
    return client.client.post(
        API + path,
        data=json.dumps(data if data is not None else {}),
        content_type="application/json",
        headers=headers,
    )


def rate(market, order, score="positive", text="", dsr=None, client=None):
    body = {"ratings": [{"line_id": order.lines.first().pk, "score": score, "text": text}]}
    if dsr is not None:
        body["dsr"] = dsr
    response = (client or ApiClient(market.buyer)).post(f"/ratings/orders/{order.pk}", body)
    assert response.status_code == 201, response.json()
    return response.json()


def credit(shop) -> int:
    return ShopCredit.objects.filter(shop=shop).values_list("score", flat=True).first() or 0


# --- the buyer rates; everybody reads ---------------------------------------------------------


def test_buyer_rates_with_dsr_and_the_public_reads_it(market, api, anon):
    order = finished(market)
    line = order.lines.get()
    buyer = api(market.buyer)
    state = buyer.get(f"/ratings/orders/{order.pk}").json()
    assert state["order_id"] == order.pk and state["shop_id"] == market.shop.pk
    assert state["open"] is True and state["can_rate"] is True and state["deadline"]
    assert state["unrated_line_ids"] == [line.pk]
    assert state["lines"][0]["line"]["id"] == line.pk and state["lines"][0]["rating"] is None
    assert state["dsr"] is None
    assert [o["id"] for o in buyer.get("/ratings/to-rate").json()["items"]] == [order.pk]

    body = rate(market, order, "negative", "茶叶受潮了", dsr=DSR)
    assert body["can_rate"] is False and body["unrated_line_ids"] == []
    rating = body["lines"][0]["rating"]
    assert (rating["score"], rating["text"], rating["is_default"]) == (-1, "茶叶受潮了", False)
    assert rating["score_label"] and rating["can_change"] is True
    assert rating["can_followup"] is True and rating["shop_name"] == market.shop.name
    assert {k: body["dsr"][k] for k in DSR} == DSR
    assert buyer.get("/ratings/to-rate").json()["count"] == 0
    assert credit(market.shop) == -1

    summary = anon.get(f"/ratings/shops/{market.shop.pk}/summary").json()
    assert summary["shop_id"] == market.shop.pk and summary["score"] == -1
    assert (summary["tier"], summary["level"], summary["tier_label"]) == ("", 0, "")
    assert summary["all_time"] == {
        "positive": 0,
        "neutral": 0,
        "negative": 1,
        "positive_rate": 0.0,
    }
    assert summary["six_months"]["negative"] == 1 and summary["dsr_count"] == 1
    dsr = {d["name"]: d for d in summary["dsr"]}
    assert dsr["item"]["score"] == 5 and dsr["logistics"]["score"] == 3
    assert dsr["item"]["label"] and dsr["item"]["category"] == 5 and dsr["item"]["versus"] == 0
    assert summary["category_id"] and summary["category_name"]
    assert summary["review_counts"] == {"all": 1, "photos": 0, "negative": 1, "followups": 0}

    reviews = anon.get(f"/ratings/shops/{market.shop.pk}/reviews").json()
    assert reviews["count"] == 1
    review = reviews["items"][0]
    name = market.buyer.username
    assert review["buyer_name"] == f"{name[0]}**{name[-1]}"
    assert "buyer_id" not in review and "buyer_username" not in review and "dsr" not in review
    assert review["product_id"] == market.product.pk and review["text"] == "茶叶受潮了"
    product = anon.get(f"/ratings/products/{market.product.pk}/reviews", {"kind": "negative"})
    assert [r["id"] for r in product.json()["items"]] == [review["id"]]
    assert anon.get(
        f"/ratings/products/{market.product.pk}/reviews", {"kind": "photos"}
    ).json() == {"items": [], "count": 0}
    counts = anon.get(f"/ratings/products/{market.product.pk}/review-counts").json()
    assert counts == {"all": 1, "photos": 0, "negative": 1, "followups": 0}

    mine = buyer.get("/ratings/mine").json()
    assert [r["id"] for r in mine["items"]] == [rating["id"]]
    again = buyer.get(f"/ratings/orders/{order.pk}").json()
    assert again["lines"][0]["rating"]["id"] == rating["id"] and again["dsr"]["item"] == 5


def test_rating_with_photos_per_line(market, api, anon):
    order = finished(market, (market.sku, 1), (market.scarce, 1))
    first, second = order.lines.order_by("pk")
    buyer = api(market.buyer)
    data = {
        "ratings": [
            {"line_id": first.pk, "score": "positive", "text": "很香"},
            {"line_id": second.pk, "score": 1},
        ],
        "dsr": DSR,
    }
    path = f"/ratings/orders/{order.pk}/with-images"

    def send(files, body=data):
        payload = {"data": json.dumps(body)} if body is not None else {}
        return buyer.upload(path, {**payload, **files})

    missing = buyer.upload(path, {f"images_{first.pk}": [png_bytes()]})
    assert missing.status_code == 422 and "data" in missing.json()["extra"]["fields"]
    broken = buyer.upload(path, {"data": "{not json"})
    assert broken.status_code == 422 and error_code(broken) == "validation_error"
    bad_line = send({}, {"ratings": [{"line_id": "one", "score": 1}]})
    assert bad_line.status_code == 422
    assert "ratings.0.line_id" in bad_line.json()["extra"]["fields"]
    bad_score = send({}, {"ratings": [{"line_id": first.pk, "score": "great"}]})
    assert bad_score.status_code == 400 and error_code(bad_score) == "rating_score_invalid"
    stray = send({"photo": [png_bytes()]})
    assert stray.status_code == 400 and "photo" in stray.json()["extra"]["fields"]
    other_line = send({"images_999999": [png_bytes()]})
    assert other_line.status_code == 400 and "images_999999" in other_line.json()["extra"]["fields"]
    too_many = send({f"images_{first.pk}": [png_bytes() for _ in range(6)]})
    assert too_many.status_code == 400 and error_code(too_many) == "rating_images_limit"
    not_image = send({f"images_{first.pk}": [_text_file()]})
    assert not_image.status_code == 400 and error_code(not_image) == "image_invalid"
    assert not Rating.objects.exists() and not Dsr.objects.exists()

    response = send({f"images_{first.pk}": [png_bytes(), png_bytes(color="blue")]})
    assert response.status_code == 201, response.json()
    lines = {row["line"]["id"]: row["rating"] for row in response.json()["lines"]}
    assert len(lines[first.pk]["images"]) == 2 and lines[second.pk]["images"] == []
    assert lines[first.pk]["images"][0].startswith("/media/ratings/")
    assert response.json()["dsr"]["service"] == 4
    photos = anon.get(f"/ratings/shops/{market.shop.pk}/reviews", {"kind": "photos"}).json()
    assert [r["id"] for r in photos["items"]] == [lines[first.pk]["id"]]
    assert len(photos["items"][0]["images"]) == 2


def _text_file():
    import io

    buf = io.BytesIO(b"not an image")
    buf.name = "notes.txt"
    return buf


def test_bad_ratings_are_refused_and_change_nothing(market, api):
    order = finished(market)
    line_id = order.lines.get().pk
    buyer = api(market.buyer)
    path = f"/ratings/orders/{order.pk}"

    def body(score="positive", text="", dsr=None, line=line_id):
        data = {"ratings": [{"line_id": line, "score": score, "text": text}]}
        return {**data, "dsr": dsr} if dsr is not None else data

    cases = [
        (body("great"), 400, "rating_score_invalid", "ratings.0.score"),
        (body(2), 400, "rating_score_invalid", "ratings.0.score"),
        (body(True), 400, "rating_score_invalid", "ratings.0.score"),
        (body({"a": 1}), 400, "rating_score_invalid", "ratings.0.score"),
        (body("negative"), 400, "rating_text_required", "ratings.0.text"),
        (body("neutral", "  "), 400, "rating_text_required", "ratings.0.text"),
        (body("negative", "差" * 501), 400, "text_too_long", "ratings.0.text"),
        (body(dsr={**DSR, "item": 0}), 400, "dsr_invalid", "dsr.item"),
        (body(dsr={**DSR, "service": 6}), 400, "dsr_invalid", "dsr.service"),
        (body(dsr={**DSR, "logistics": "x"}), 422, "validation_error", "dsr.logistics"),
        (body(dsr={"item": 5}), 422, "validation_error", "dsr.service"),
        ({"ratings": []}, 400, "rating_score_invalid", "ratings"),
        ({"dsr": DSR}, 422, "validation_error", "ratings"),
    ]
    for data, status, code, field in cases:
        response = buyer.post(path, data)
        assert response.status_code == status, (data, response.json())
        assert error_code(response) == code, data
        assert field in response.json()["extra"]["fields"], (data, response.json())
    foreign = buyer.post(path, body(line=finished(market).lines.get().pk))
    assert foreign.status_code == 404 and error_code(foreign) == "not_found"
    assert not Rating.objects.exists() and not Dsr.objects.exists()

    rate(market, order, dsr=DSR)
    twice = buyer.post(path, body())
    assert twice.status_code == 400 and error_code(twice) == "rating_exists"
    assert Rating.objects.filter(role="buyer").count() == 1 and Dsr.objects.count() == 1
    assert credit(market.shop) == 1


def test_dsr_once_per_order_even_in_a_later_call(market, api):
    order = finished(market, (market.sku, 1), (market.scarce, 1))
    first, second = order.lines.order_by("pk")
    buyer = api(market.buyer)
    path = f"/ratings/orders/{order.pk}"
    first_call = buyer.post(path, {"ratings": [{"line_id": first.pk, "score": 1}], "dsr": DSR})
    assert first_call.status_code == 201
    again = buyer.post(path, {"ratings": [{"line_id": second.pk, "score": 1}], "dsr": DSR})
    assert again.status_code == 400 and error_code(again) == "rating_exists"
    later = buyer.post(path, {"ratings": [{"line_id": second.pk, "score": 1}]})
    assert later.status_code == 201 and later.json()["can_rate"] is False


def test_rating_only_within_the_window(market, api):
    buyer = api(market.buyer)
    shipped = buy(market.buyer, (market.sku, 1), ship=True)
    body = {"ratings": [{"line_id": shipped.lines.get().pk, "score": "positive"}]}
    not_yet = buyer.post(f"/ratings/orders/{shipped.pk}", body)
    assert not_yet.status_code == 400 and error_code(not_yet) == "rating_not_allowed"
    order = finished(market)
    assert buyer.get(f"/ratings/orders/{shipped.pk}").json()["open"] is False
    clock.advance(timedelta(days=15, seconds=1))
    state = buyer.get(f"/ratings/orders/{order.pk}").json()
    assert state["open"] is False and state["can_rate"] is False
    late = buyer.post(
        f"/ratings/orders/{order.pk}",
        {"ratings": [{"line_id": order.lines.get().pk, "score": "positive"}]},
    )
    assert late.status_code == 400 and error_code(late) == "rating_not_allowed"
    assert buyer.get("/ratings/to-rate").json()["count"] == 0
    ratings_sweep()  # silence is positive, from both sides
    review = ApiClient().get(f"/ratings/shops/{market.shop.pk}/reviews").json()["items"][0]
    assert review["is_default"] is True and review["score"] == 1 and review["text"] == ""
    default = buyer.post(f"/ratings/{review['id']}/change", {"to": "remove"})
    assert error_code(default) == "rating_change_not_allowed"
    about = buyer.get("/ratings/about-me").json()["items"]
    assert about[0]["is_default"] is True and about[0]["shop_id"] == market.shop.pk


def test_messages_follow_accept_language(market, api):
    order = finished(market)
    body = {"ratings": [{"line_id": order.lines.get().pk, "score": "negative"}]}
    english = post(api(market.buyer), f"/ratings/orders/{order.pk}", body, lang="en")
    assert error_code(english) == "rating_text_required"
    assert english.json()["message"] == ("Say why: a neutral or negative rating needs a few words.")
    dsr = post(
        api(market.buyer),
        f"/ratings/orders/{order.pk}",
        {**body, "ratings": [{**body["ratings"][0], "score": 1}], "dsr": {**DSR, "item": 6}},
        lang="en",
    )
    assert dsr.json()["message"] == "Give 1 to 5 stars for each."
    missing = post(api(market.buyer), "/ratings/orders/999999", body, lang="en")
    assert missing.status_code == 404 and missing.json()["message"] == "Order not found."
    chinese = post(api(market.buyer), "/ratings/orders/999999", body)
    assert chinese.json()["message"] != missing.json()["message"]


def test_rating_replay_with_the_same_key_rates_once(market, api):
    order = finished(market)
    client = api(market.buyer)
    body = {"ratings": [{"line_id": order.lines.get().pk, "score": "positive"}], "dsr": DSR}
    path = f"/ratings/orders/{order.pk}"
    first = post(client, path, body, key="rate-1")
    assert first.status_code == 201
    replay = post(client, path, body, key="rate-1")
    assert replay.status_code == 201 and replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = post(client, path, {**body, "dsr": None}, key="rate-1")
    assert other.status_code == 409 and error_code(other) == "idempotency_key_reused"
    assert error_code(post(client, path, body, key="rate-2")) == "rating_exists"
    assert Rating.objects.count() == 1 and credit(market.shop) == 1


# --- after the rating: change, follow-up, reply ----------------------------------------------


def test_change_to_positive_or_remove_once(market, api, anon):
    buyer = api(market.buyer)
    first = rate(market, finished(market), "negative", "太慢")["lines"][0]["rating"]
    second = rate(market, finished(market), "neutral", "一般")["lines"][0]["rating"]
    positive = rate(market, finished(market))["lines"][0]["rating"]
    assert credit(market.shop) == 0  # -1 + 0 + 1
    # changed to positive it counts like the later positive of the same item: once (14 days)

    changed = buyer.post(f"/ratings/{first['id']}/change", {"to": "positive"})
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert (body["score"], body["original_score"], body["can_change"]) == (1, -1, False)
    assert body["changed_at"] is not None and credit(market.shop) == 1
    twice = buyer.post(f"/ratings/{first['id']}/change", {"to": "remove"})
    assert twice.status_code == 400 and error_code(twice) == "rating_change_not_allowed"
    not_negative = buyer.post(f"/ratings/{positive['id']}/change", {"to": "remove"})
    assert error_code(not_negative) == "rating_change_not_allowed"
    assert buyer.post(f"/ratings/{second['id']}/change", {"to": "delete"}).status_code == 422

    removed = buyer.post(f"/ratings/{second['id']}/change", {"to": "remove"}).json()
    assert removed["removed_at"] is not None and removed["can_followup"] is False
    shown = anon.get(f"/ratings/shops/{market.shop.pk}/reviews").json()
    assert second["id"] not in [r["id"] for r in shown["items"]] and shown["count"] == 2

    late = rate(market, finished(market), "negative", "坏了")["lines"][0]["rating"]
    clock.advance(timedelta(days=30, seconds=1))
    assert buyer.get("/ratings/mine").json()["items"][0]["can_change"] is False
    too_late = buyer.post(f"/ratings/{late['id']}/change", {"to": "positive"})
    assert error_code(too_late) == "rating_change_not_allowed"


def test_follow_up_once_with_or_without_photos(market, api, anon):
    buyer = api(market.buyer)
    first = rate(market, finished(market), "positive", "不错")["lines"][0]["rating"]
    second = rate(market, finished(market))["lines"][0]["rating"]
    empty = buyer.post(f"/ratings/{first['id']}/followup", {"text": " "})
    assert empty.status_code == 400 and error_code(empty) == "field_required"
    added = buyer.post(f"/ratings/{first['id']}/followup", {"text": "用了一个月，还是很好"})
    assert added.status_code == 200, added.json()
    assert added.json()["followup"] == "用了一个月，还是很好"
    assert added.json()["followup_at"] and added.json()["can_followup"] is False
    twice = buyer.post(f"/ratings/{first['id']}/followup", {"text": "再来"})
    assert twice.status_code == 400 and error_code(twice) == "rating_followup_not_allowed"

    path = f"/ratings/{second['id']}/followup/with-images"
    too_many = buyer.upload(path, {"text": "图", "images": [png_bytes() for _ in range(6)]})
    assert too_many.status_code == 400 and error_code(too_many) == "rating_images_limit"
    with_photos = buyer.upload(path, {"text": "追加晒图", "images": [png_bytes()]})
    assert with_photos.status_code == 200, with_photos.json()
    assert len(with_photos.json()["followup_images"]) == 1 and with_photos.json()["images"] == []

    followups = anon.get(f"/ratings/shops/{market.shop.pk}/reviews", {"kind": "followups"})
    assert {r["id"] for r in followups.json()["items"]} == {first["id"], second["id"]}
    by_id = {r["id"]: r for r in followups.json()["items"]}
    assert len(by_id[second["id"]]["followup_images"]) == 1
    seller = api(market.owner).get("/ratings/seller/ratings", {"kind": "followups"}).json()
    assert seller["count"] == 2


def test_seller_replies_once_and_filters(market, api, anon):
    negative = rate(market, finished(market), "negative", "包装破损")["lines"][0]["rating"]
    rate(market, finished(market))
    seller = api(market.owner)
    listed = seller.get("/ratings/seller/ratings").json()
    assert listed["count"] == 2
    row = next(r for r in listed["items"] if r["id"] == negative["id"])
    assert row["role"] == "buyer" and row["buyer_username"] == market.buyer.username
    assert row["points"] == -1 and row["uncounted_reason"] == "" and row["can_reply"] is True
    assert seller.get("/ratings/seller/ratings", {"kind": "negative"}).json()["count"] == 1
    unreplied = seller.get("/ratings/seller/ratings", {"kind": "unreplied"}).json()
    assert [r["id"] for r in unreplied["items"]] == [negative["id"]]

    path = f"/ratings/seller/ratings/{negative['id']}/reply"
    assert error_code(seller.post(path, {"text": ""})) == "field_required"
    replied = api(market.service).post(path, {"text": "已补发，抱歉"})
    assert replied.status_code == 200, replied.json()
    assert replied.json()["reply"] == "已补发，抱歉" and replied.json()["can_reply"] is False
    twice = seller.post(path, {"text": "再解释"})
    assert twice.status_code == 400 and error_code(twice) == "rating_reply_exists"
    assert seller.get("/ratings/seller/ratings", {"kind": "unreplied"}).json()["count"] == 0
    review = anon.get(f"/ratings/products/{market.product.pk}/reviews", {"kind": "negative"})
    assert review.json()["items"][0]["reply"] == "已补发，抱歉"


def test_the_seller_rates_the_buyer(market, api):
    order = finished(market)
    line_id = order.lines.get().pk
    seller = api(market.service)
    waiting = seller.get("/ratings/seller/to-rate").json()
    assert [o["id"] for o in waiting["items"]] == [order.pk]
    assert waiting["items"][0]["buyer_username"] == market.buyer.username
    state = seller.get(f"/ratings/seller/orders/{order.pk}").json()
    assert state["can_rate"] is True and state["buyer_id"] == market.buyer.pk
    assert state["lines"][0]["rating"] is None

    path = f"/ratings/seller/orders/{order.pk}"
    no_text = seller.post(path, {"ratings": [{"line_id": line_id, "score": "negative"}]})
    assert error_code(no_text) == "rating_text_required"
    rated = seller.post(path, {"ratings": [{"line_id": line_id, "score": -1, "text": "恶意拒收"}]})
    assert rated.status_code == 201, rated.json()
    rating = rated.json()["lines"][0]["rating"]
    assert rating["role"] == "seller" and rating["score"] == -1 and rating["can_change"] is True
    twice = seller.post(path, {"ratings": [{"line_id": line_id, "score": "positive"}]})
    assert twice.status_code == 400 and error_code(twice) == "rating_exists"
    assert seller.get("/ratings/seller/to-rate").json()["count"] == 0
    given_ = api(market.owner).get("/ratings/seller/ratings", {"role": "seller"}).json()
    assert [r["id"] for r in given_["items"]] == [rating["id"]]
    assert given_["items"][0]["can_change"] is True  # the shop's rating: its staff may change it

    buyer = api(market.buyer)
    about = buyer.get("/ratings/about-me").json()
    assert about["count"] == 1 and about["items"][0]["text"] == "恶意拒收"
    assert about["items"][0]["shop_name"] == market.shop.name
    summary = buyer.get("/ratings/about-me/summary").json()
    assert (summary["score"], summary["negative"], summary["positive_rate"]) == (-1, 1, 0.0)
    assert buyer.get("/ratings/mine").json()["count"] == 0  # what the buyer wrote: nothing

    change_path = f"/ratings/seller/ratings/{rating['id']}/change"
    # the shop rated the buyer: the owner (or staff who may rate) changes it, not the warehouse
    assert api(market.warehouse).post(change_path, {"to": "positive"}).status_code == 403
    changed = api(market.owner).post(change_path, {"to": "positive"})
    assert changed.status_code == 200 and changed.json()["score"] == 1
    assert buyer.get("/ratings/about-me/summary").json()["score"] == 1
    assert error_code(seller.post(change_path, {"to": "remove"})) == "rating_change_not_allowed"


def test_quality_score_with_its_parts(market, api):
    seller = api(market.warehouse)  # any staff with shop.view
    empty = seller.get("/ratings/seller/quality").json()
    assert empty == {"score": None, "day": None, "computed_at": None, "parts": [], "history": []}
    rate(market, finished(market), dsr=DSR)
    quality_compute(shop_id=market.shop.pk)
    body = seller.get("/ratings/seller/quality").json()
    assert 0 <= body["score"] <= 100 and body["day"] and body["computed_at"]
    parts = {p["name"]: p for p in body["parts"]}
    assert {"dsr", "refund_rate", "dispute_rate", "shipping_speed", "violations"} <= set(parts)
    assert (
        parts["dsr"]["value"] == 4
        and parts["dsr"]["weight"] == QUALITY_WEIGHTS["dsr"]
        and parts["dsr"]["label"]
    )
    assert body["history"] == [{"day": body["day"], "score": body["score"]}]
    summary = ApiClient().get(f"/ratings/shops/{market.shop.pk}/summary").json()
    assert summary["quality_score"] == body["score"]
    assert api(market.other_owner).get("/ratings/seller/quality").json()["score"] is None


# --- the console ------------------------------------------------------------------------------


def test_operator_voids_or_clears_flagged_ratings(market, api):
    # receipt confirmed within minutes of shipment: each rating waits for review
    first = rate(market, finished(market))["lines"][0]["rating"]
    order2 = finished(market, buyer=market.buyer2)
    second = rate(market, order2, client=ApiClient(market.buyer2))["lines"][0]["rating"]
    assert credit(market.shop) == 2
    operator = api(market.arbitrator)
    queue = operator.get("/ratings/console/reviews").json()
    assert [r["id"] for r in queue["items"]] == [first["id"], second["id"]]
    row = queue["items"][0]
    assert row["review_status"] == "pending" and row["review_status_label"]
    assert "quick_confirm" in [f["code"] for f in row["flags"]] and row["flags"][0]["label"]
    assert row["shop_name"] == market.shop.name and row["buyer_username"]
    counts = operator.get("/ratings/console/review-counts").json()
    assert counts == {"pending": 2, "cleared": 0, "voided": 0}
    assert operator.get(f"/ratings/console/ratings/{first['id']}").json()["id"] == first["id"]

    path = f"/ratings/console/ratings/{first['id']}/review"
    no_reason = operator.post(path, {"decision": "void", "reason": ""})
    assert no_reason.status_code == 400 and error_code(no_reason) == "field_required"
    assert operator.post(path, {"decision": "delete", "reason": "r"}).status_code == 422
    voided = operator.post(path, {"decision": "void", "reason": "同一收货地址刷单"})
    assert voided.status_code == 200, voided.json()
    body = voided.json()
    assert body["review_status"] == "voided" and body["points"] == 0
    assert body["uncounted_reason"] == "voided" and body["uncounted_label"]
    assert body["review_reason"] == "同一收货地址刷单"
    assert body["reviewed_by_id"] == market.arbitrator.pk and credit(market.shop) == 1
    again = operator.post(path, {"decision": "clear", "reason": "r"})
    assert again.status_code == 400 and error_code(again) == "rating_review_invalid"
    cleared = operator.post(
        f"/ratings/console/ratings/{second['id']}/review", {"decision": "clear", "reason": "熟客"}
    )
    assert cleared.json()["review_status"] == "cleared" and credit(market.shop) == 1
    assert operator.get("/ratings/console/reviews").json()["count"] == 0
    assert operator.get("/ratings/console/reviews", {"status": "voided"}).json()["count"] == 1
    assert operator.get("/ratings/console/reviews", {"status": "all"}).json()["count"] == 2
    public = ApiClient().get(f"/ratings/shops/{market.shop.pk}/reviews").json()
    assert [r["id"] for r in public["items"]] == [second["id"]]  # a voided rating is hidden
    assert operator.get("/ratings/console/ratings/999999").status_code == 404
    assert (
        operator.post(
            "/ratings/console/ratings/999999/review", {"decision": "void", "reason": "r"}
        ).status_code
        == 404
    )


def test_operators_see_sellers_ratings_of_buyers(market, api):
    for buyer, score, text in [(market.buyer, 1, ""), (market.buyer2, -1, "恶意差评师")]:
        order = finished(market, buyer=buyer)
        api(market.owner).post(
            f"/ratings/seller/orders/{order.pk}",
            {"ratings": [{"line_id": order.lines.get().pk, "score": score, "text": text}]},
        )
    operator = api(market.admin)
    listed = operator.get("/ratings/console/buyer-ratings").json()
    assert listed["count"] == 2
    assert listed["items"][0]["buyer_id"] == market.buyer2.pk  # negative first
    assert listed["items"][0]["shop_name"] == market.shop.name
    found = operator.get("/ratings/console/buyer-ratings", {"q": market.buyer2.username}).json()
    assert [r["buyer_id"] for r in found["items"]] == [market.buyer2.pk]
    one = operator.get("/ratings/console/buyer-ratings", {"buyer_id": market.buyer.pk}).json()
    assert [r["score"] for r in one["items"]] == [1]


@pytest.mark.parametrize("who", ["buyer", "owner", "reviewer"])
def test_the_console_needs_rating_review(market, who, api):
    rating = rate(market, finished(market))["lines"][0]["rating"]
    client = api(getattr(market, who))
    path = f"/ratings/console/ratings/{rating['id']}"
    for response in [
        client.get("/ratings/console/reviews"),
        client.get("/ratings/console/review-counts"),
        client.get(path),
        client.post(f"{path}/review", {"decision": "void", "reason": "r"}),
        client.get("/ratings/console/buyer-ratings"),
    ]:
        assert response.status_code == 403, response.request["PATH_INFO"]
        assert error_code(response) == "forbidden"
    assert Rating.objects.get(pk=rating["id"]).review_status == "pending"


# --- visibility and the wrong user ------------------------------------------------------------


def test_public_endpoints_show_only_open_shops_and_listed_products(market, anon):
    rate(market, finished(market))
    shop, product = market.shop.pk, market.product.pk
    assert anon.get(f"/ratings/products/{product}/reviews").json()["count"] == 1
    product_unlist(actor=market.owner, product_id=product)
    for path in [
        f"/ratings/products/{product}/reviews",
        f"/ratings/products/{product}/review-counts",
    ]:
        response = anon.get(path)
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert anon.get(f"/ratings/shops/{shop}/reviews").json()["count"] == 1
    Shop.objects.filter(pk=shop).update(status="closed")
    for path in [f"/ratings/shops/{shop}/summary", f"/ratings/shops/{shop}/reviews"]:
        assert anon.get(path).status_code == 404
    assert anon.get("/ratings/shops/999999/summary").status_code == 404
    assert anon.get("/ratings/products/999999/reviews").status_code == 404
    assert anon.get("/ratings/shops/0/summary").status_code == 422


def test_another_buyer_sees_nothing_and_changes_nothing(market, api):
    order = finished(market)
    line_id = order.lines.get().pk
    rating = rate(market, order, "negative", "差")["lines"][0]["rating"]
    fresh = finished(market)
    for client in (api(market.buyer2), api(market.owner)):
        assert client.get("/ratings/mine").json()["count"] == 0
        calls = [
            client.get(f"/ratings/orders/{fresh.pk}"),
            client.post(
                f"/ratings/orders/{fresh.pk}",
                {"ratings": [{"line_id": fresh.lines.get().pk, "score": "positive"}]},
            ),
            client.upload(
                f"/ratings/orders/{fresh.pk}/with-images",
                {"data": json.dumps({"ratings": [{"line_id": line_id, "score": 1}]})},
            ),
            client.post(f"/ratings/{rating['id']}/change", {"to": "positive"}),
            client.post(f"/ratings/{rating['id']}/followup", {"text": "x"}),
            client.upload(
                f"/ratings/{rating['id']}/followup/with-images",
                {"text": "x", "images": [png_bytes()]},
            ),
        ]
        for response in calls:
            assert response.status_code == 404, response.request["PATH_INFO"]
            assert error_code(response) == "not_found"
    saved = Rating.objects.get(pk=rating["id"])
    assert (saved.score, saved.followup, saved.changed_at) == (-1, "", None)
    assert Rating.objects.count() == 1


def test_another_shop_sees_nothing_and_changes_nothing(market, api):
    order = finished(market)
    rating = rate(market, order, "negative", "差")["lines"][0]["rating"]
    other = api(market.other_owner)
    assert other.get("/ratings/seller/ratings").json()["count"] == 0
    assert other.get("/ratings/seller/to-rate").json()["count"] == 0
    for response in [
        other.get(f"/ratings/seller/orders/{order.pk}"),
        other.post(
            f"/ratings/seller/orders/{order.pk}",
            {"ratings": [{"line_id": order.lines.get().pk, "score": "positive"}]},
        ),
        other.post(f"/ratings/seller/ratings/{rating['id']}/reply", {"text": "x"}),
        other.post(f"/ratings/seller/ratings/{rating['id']}/change", {"to": "positive"}),
    ]:
        assert response.status_code == 404, response.request["PATH_INFO"]
    saved = Rating.objects.get(pk=rating["id"])
    assert saved.reply == "" and Rating.objects.filter(role="seller").count() == 0


def test_a_buyer_on_the_seller_endpoints_is_404(market, api):
    order = finished(market)
    rating = rate(market, order)["lines"][0]["rating"]
    buyer = api(market.buyer)
    for response in [
        buyer.get("/ratings/seller/ratings"),
        buyer.get("/ratings/seller/to-rate"),
        buyer.get("/ratings/seller/quality"),
        buyer.get(f"/ratings/seller/orders/{order.pk}"),
        buyer.post(
            f"/ratings/seller/orders/{order.pk}",
            {"ratings": [{"line_id": order.lines.get().pk, "score": 1}]},
        ),
        buyer.post(f"/ratings/seller/ratings/{rating['id']}/reply", {"text": "x"}),
        buyer.post(f"/ratings/seller/ratings/{rating['id']}/change", {"to": "remove"}),
    ]:
        assert response.status_code == 404, response.request["PATH_INFO"]
        assert error_code(response) == "not_shop_staff"


def test_warehouse_staff_may_look_but_not_write(market, api):
    order = finished(market)
    rating = rate(market, order, "negative", "差")["lines"][0]["rating"]
    warehouse = api(market.warehouse)
    assert warehouse.get("/ratings/seller/ratings").json()["count"] == 1
    assert warehouse.get(f"/ratings/seller/orders/{order.pk}").status_code == 200
    for response in [
        warehouse.post(f"/ratings/seller/ratings/{rating['id']}/reply", {"text": "x"}),
        warehouse.post(
            f"/ratings/seller/orders/{order.pk}",
            {"ratings": [{"line_id": order.lines.get().pk, "score": 1}]},
        ),
    ]:
        assert response.status_code == 403, response.request["PATH_INFO"]
        assert error_code(response) == "staff_role_forbidden"
    assert Rating.objects.get(pk=rating["id"]).reply == ""
    # a buyer's rating is not the shop's to change, and a rating id of the wrong kind is 404
    owner_change = api(market.owner).post(
        f"/ratings/seller/ratings/{rating['id']}/change", {"to": "positive"}
    )
    assert owner_change.status_code == 404


def test_lists_are_capped_and_filters_checked(market, api, anon):
    rate(market, finished(market))
    assert api(market.buyer).get("/ratings/mine", {"limit": 10**6}).json()["count"] == 1
    assert api(market.buyer).get("/ratings/mine", {"offset": 10**6}).status_code == 422
    path = f"/ratings/shops/{market.shop.pk}/reviews"
    assert anon.get(path, {"kind": "nope"}).status_code == 422
    assert api(market.owner).get("/ratings/seller/ratings", {"role": "x"}).status_code == 422
    assert api(market.admin).get("/ratings/console/reviews", {"status": "x"}).status_code == 422


# --- hostile input ----------------------------------------------------------------------------


def test_hostile_rating_bodies_and_queries_never_cause_a_500(market):
    buyer, owner = ApiClient(market.buyer), ApiClient(market.owner)
    admin = ApiClient(market.admin)
    fresh, seller_fresh = finished(market), finished(market)
    rated = rate(market, finished(market), "negative", "差")["lines"][0]["rating"]
    line = {"line_id": fresh.lines.get().pk, "score": "negative", "text": "t"}
    seller_line = {"line_id": seller_fresh.lines.get().pk, "score": "neutral", "text": "t"}
    requests = [
        (buyer, "post", f"/ratings/orders/{fresh.pk}", {"ratings": [line], "dsr": DSR}),
        (buyer, "post", f"/ratings/{rated['id']}/change", {"to": "positive"}),
        (buyer, "post", f"/ratings/{rated['id']}/followup", {"text": "t"}),
        (owner, "post", f"/ratings/seller/orders/{seller_fresh.pk}", {"ratings": [seller_line]}),
        (owner, "post", f"/ratings/seller/ratings/{rated['id']}/reply", {"text": "t"}),
        (
            admin,
            "post",
            f"/ratings/console/ratings/{rated['id']}/review",
            {"decision": "void", "reason": "r"},
        ),
    ]
    assert_bodies_never_500(requests, max_examples=200)

    lists = [
        (buyer, "/ratings/mine"),
        (buyer, "/ratings/to-rate"),
        (buyer, "/ratings/about-me"),
        (ApiClient(), f"/ratings/shops/{market.shop.pk}/reviews"),
        (ApiClient(), f"/ratings/products/{market.product.pk}/reviews"),
        (owner, "/ratings/seller/ratings"),
        (admin, "/ratings/console/reviews"),
        (admin, "/ratings/console/buyer-ratings"),
    ]
    names = ["kind", "role", "status", "q", "buyer_id", "limit", "offset"]
    text = st.one_of(st.text(max_size=20), st.sampled_from(["\x00", "-1", "1" * 30, "all"]))

    @hsettings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(lists), st.dictionaries(st.sampled_from(names), text, max_size=3))
    def check(target, params):
        client, url = target
        response = client.get(url, params)
        assert response.status_code < 500, (url, params, response.content[:300])

    check()

    data = st.one_of(st.text(max_size=30), st.just('{"ratings": [{"line_id": 1, "score": {}}]}'))

    @hsettings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data, st.sampled_from(["images_1", "images_0", "images_99999999999999999999", "x"]))
    def check_multipart(raw, field):
        response = buyer.upload(
            f"/ratings/orders/{fresh.pk}/with-images", {"data": raw, field: [png_bytes()]}
        )
        assert response.status_code < 500, (raw, field, response.content[:300])

    check_multipart()
