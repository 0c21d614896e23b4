"""/api/v1/aftersales: refund, return and exchange requests, the seller's answers, platform
intervention and its ruling, advance compensation, violations, debts and the deposit.

Each endpoint is called by the right user and by the wrong ones (another buyer or shop: 404;
a buyer on the seller's endpoints: 404 ``not_shop_staff``; a staff role without
``refund.handle``: 403; a non-operator or an operator without the role on the console: 403).
Anonymous calls are covered for every endpoint in test_api_auth.py, hostile bodies in
test_api_fuzz.py.
"""

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from jishi.accounts.models import PaymentPin
from jishi.accounts.services import payment_pin_set
from jishi.aftersales.models import Dispute, RefundCase, RefundStatus
from jishi.core import clock
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.orders.models import Order, OrderStatus
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.payments.models import ShopDebt
from jishi.payments.selectors import shop_money, wallet_balance
from jishi.shops.models import Shop, Violation
from jishi.shops.services import staff_create
from tests.trade import conftest as trade_fixtures
from tests.trade.conftest import PIN, fund

from .helpers import API, PASSWORD, ApiClient, error_code, png_bytes

pytestmark = pytest.mark.django_db

# The trade fixtures (a funded buyer with an address, a shop with stock).
make_buyer = trade_fixtures.make_buyer
trade = trade_fixtures.trade


@pytest.fixture
def market(trade, make_buyer, make_shop, make_operator):
    """``trade`` (a shop, SKU ``sku`` at 50 yuan x10 and ``scarce`` at 90 yuan x1, a buyer with
    1,000 yuan) plus a second buyer, the shop's service and warehouse staff, another shop,
    an arbitrator, a reviewer (console, no disputes) and an admin."""
    owner = trade.shop.owner
    service = staff_create(
        actor=owner, username=f"cs{trade.shop.pk}", password=PASSWORD, role="service"
    ).user
    warehouse = staff_create(
        actor=owner, username=f"wh{trade.shop.pk}", password=PASSWORD, role="warehouse"
    ).user
    return SimpleNamespace(
        shop=trade.shop,
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


def post(client: ApiClient, path: str, data=None, key: str | None = None):
    headers = {**client.headers}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.client.post(
        API + path,
        data=json.dumps(data if data is not None else {}),
        content_type="application/json",
        headers=headers,
    )


def an_order(market, *, quantity=2, sku=None, ship=True, confirm=False) -> Order:
    """A paid order of market.buyer (through the services), shipped and confirmed on demand."""
    group = order_place(
        buyer=market.buyer,
        items=[{"sku_id": (sku or market.sku).pk, "quantity": quantity}],
        address_id=market.buyer.address.pk,
    )
    group_pay(buyer=market.buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    if ship:
        order_ship(actor=market.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF1")
    if confirm:
        order_confirm(buyer=market.buyer, order_id=order.pk, pin=PIN)
    return Order.objects.get(pk=order.pk)


def ask(market, order: Order, *, kind="refund_only", amount_fen=5000, reason="quality", **more):
    """market.buyer asks for after-sales on the order's first line through the API."""
    body = {
        "order_id": order.pk,
        "line_id": order.lines.first().pk,
        "kind": kind,
        "reason": reason,
        "amount_fen": amount_fen,
        **more,
    }
    response = ApiClient(market.buyer).post("/aftersales/cases", body)
    assert response.status_code == 201, response.json()
    return response.json()


def refused(market, **kwargs):
    """A case the seller refused: (order, case json)."""
    order = an_order(market)
    case = ask(market, order, reason="not_as_described", amount_fen=3000, **kwargs)
    response = ApiClient(market.owner).post(
        f"/aftersales/seller/cases/{case['id']}/refuse", {"reason": "与描述一致"}
    )
    assert response.status_code == 200, response.json()
    return order, response.json()


def disputed(market, *, taken=True, evidence_over=True):
    """A refused case brought to the platform by the buyer: (order, case id, dispute id)."""
    order, case = refused(market)
    response = ApiClient(market.buyer).post(
        f"/aftersales/cases/{case['id']}/dispute", {"reason": "颜色不对"}
    )
    assert response.status_code == 201, response.json()
    dispute_id = response.json()["id"]
    if taken:
        taken_response = ApiClient(market.arbitrator).post(
            f"/aftersales/console/disputes/{dispute_id}/take"
        )
        assert taken_response.status_code == 200, taken_response.json()
        if evidence_over:
            clock.advance(timedelta(days=3, seconds=1))
    return order, case["id"], dispute_id


def wallet(user) -> int:
    return wallet_balance(user_id=user.pk).balance_fen


def check_ledger():
    report = ledger_check()
    assert report.ok, report.problems


# --- buyer: options, request, list, detail ----------------------------------------------------


def test_options_for_a_shipped_line(market, api):
    order = an_order(market)
    line = order.lines.get()
    response = api(market.buyer).get(f"/aftersales/orders/{order.pk}/lines/{line.pk}/options")
    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == order.pk and body["line_id"] == line.pk
    assert [k["code"] for k in body["kinds"]] == ["refund_only", "return_refund", "exchange"]
    assert body["refundable_fen"] == 10_000
    assert body["no_reason_return"] is True
    assert "no_reason_7d" in [r["code"] for r in body["reasons"]["return_refund"]]
    assert "no_reason_7d" not in [r["code"] for r in body["reasons"]["refund_only"]]
    assert (body["open_case_id"], body["requests_left"]) == (None, 3)
    assert [s["id"] for s in body["exchange_skus"]] == [market.sku.pk]  # 90 yuan costs more
    case = ask(market, order)
    again = api(market.buyer).get(f"/aftersales/orders/{order.pk}/lines/{line.pk}/options")
    assert (again.json()["open_case_id"], again.json()["requests_left"]) == (case["id"], 2)


def test_options_before_shipment_offer_a_refund_only(market, api):
    order = an_order(market, ship=False)
    line = order.lines.get()
    body = api(market.buyer).get(f"/aftersales/orders/{order.pk}/lines/{line.pk}/options").json()
    assert [k["code"] for k in body["kinds"]] == ["refund_only"]
    assert {r["code"] for r in body["reasons"]["refund_only"]} == {
        "not_wanted",
        "wrong_order",
        "not_shipped_on_time",
        "other",
    }


def test_options_of_another_buyers_order_or_a_foreign_line_are_404(market, api):
    order = an_order(market)
    line = order.lines.get()
    path = f"/aftersales/orders/{order.pk}/lines/{line.pk}/options"
    assert api(market.buyer2).get(path).status_code == 404
    assert api(market.owner).get(path).status_code == 404
    other = an_order(market, quantity=1)
    foreign = api(market.buyer).get(
        f"/aftersales/orders/{order.pk}/lines/{other.lines.get().pk}/options"
    )
    assert foreign.status_code == 404
    assert error_code(foreign) == "not_found"


def test_refund_only_request_then_the_seller_agrees_and_the_buyer_is_paid(market, api):
    order = an_order(market)
    buyer = api(market.buyer)
    case = ask(market, order, amount_fen=3000, description="茶叶受潮")
    assert case["status"] == "WAIT_SELLER_AGREE"
    assert case["kind"] == "refund_only" and case["kind_label"]
    assert case["amount_fen"] == 3000 and case["refunded_fen"] == 0
    assert case["shop_id"] == market.shop.pk and case["shop_name"] == market.shop.name
    assert case["line"]["id"] == order.lines.get().pk
    assert case["deadline"] is not None and 0 < case["time_left_seconds"] <= 5 * 86400
    assert [e["action"] for e in case["events"]] == ["request"]
    assert case["events"][0]["party"] == "buyer" and case["events"][0]["text"] == "茶叶受潮"
    assert case["dispute"] is None
    order.refresh_from_db()
    assert order.confirm_deadline is None  # auto-confirm paused

    listed = buyer.get("/aftersales/cases").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == case["id"]
    assert "events" not in listed["items"][0]
    assert buyer.get("/aftersales/cases", {"open": "true"}).json()["count"] == 1
    assert buyer.get("/aftersales/cases", {"status": "SUCCESS"}).json()["count"] == 0
    assert buyer.get(f"/aftersales/cases/{case['id']}").json() == case

    seller = api(market.owner)
    queue = seller.get("/aftersales/seller/cases", {"tab": "todo"}).json()
    assert [c["id"] for c in queue["items"]] == [case["id"]]
    assert queue["items"][0]["buyer_username"] == market.buyer.username
    assert seller.get("/aftersales/seller/case-counts").json() == {
        "todo": 1,
        "open": 1,
        "dispute": 0,
        "done": 0,
    }
    detail = seller.get(f"/aftersales/seller/cases/{case['id']}").json()
    assert detail["buyer_id"] == market.buyer.pk and detail["return_address_default"]

    before = wallet(market.buyer)
    agreed = seller.post(f"/aftersales/seller/cases/{case['id']}/agree", {})
    assert agreed.status_code == 200, agreed.json()
    body = agreed.json()
    assert body["status"] == "SUCCESS" and body["refunded_fen"] == 3000
    assert body["deadline"] is None and body["finished_at"] is not None
    assert [e["action"] for e in body["events"]] == ["request", "agree", "refunded"]
    assert wallet(market.buyer) == before + 3000
    assert buyer.get("/aftersales/cases", {"open": "true"}).json()["count"] == 0
    assert seller.get("/aftersales/seller/cases", {"tab": "done"}).json()["count"] == 1
    order.refresh_from_db()
    assert order.refunded_fen == 3000 and order.confirm_deadline is not None  # resumed
    check_ledger()


def test_return_and_refund_end_to_end(market, api):
    order = an_order(market)
    case = ask(market, order, kind="return_refund", amount_fen=10_000, reason="no_reason_7d")
    seller, buyer = api(market.service), api(market.buyer)  # the service staff may handle it
    path = f"/aftersales/seller/cases/{case['id']}"
    no_address = seller.post(f"{path}/agree", {})
    assert no_address.status_code == 400
    assert error_code(no_address) == "field_required"
    assert "return_address" in no_address.json()["extra"]["fields"]
    agreed = seller.post(f"{path}/agree", {"return_address": "浙江省杭州市 退货仓"}).json()
    assert agreed["status"] == "WAIT_BUYER_RETURN_GOODS"
    assert agreed["return_address"] == "浙江省杭州市 退货仓"
    assert seller.post(f"{path}/goods-confirm", {}).status_code == 400  # nothing came back yet
    shipped = buyer.post(
        f"/aftersales/cases/{case['id']}/return-shipment",
        {"carrier": "中通", "tracking_no": "ZT123"},
    )
    assert shipped.status_code == 200
    assert shipped.json()["status"] == "WAIT_SELLER_CONFIRM_GOODS"
    assert shipped.json()["return_tracking_no"] == "ZT123"
    confirmed = seller.post(f"{path}/goods-confirm", {})
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "SUCCESS"
    assert confirmed.json()["refunded_fen"] == 10_000
    order.refresh_from_db()
    assert order.status == OrderStatus.TRADE_CLOSED
    assert wallet(market.buyer) == 100_000
    check_ledger()


def test_exchange_for_a_cheaper_option_refunds_the_difference(market, api):
    order = an_order(market, quantity=1, sku=market.scarce)  # 90 yuan
    case = ask(
        market,
        order,
        kind="exchange",
        reason="size",
        amount_fen=None,
        exchange_sku_id=market.sku.pk,
    )
    assert case["kind"] == "exchange" and case["amount_fen"] == 4000
    assert case["exchange_sku_id"] == market.sku.pk and case["exchange_spec_label"]
    seller = api(market.owner)
    path = f"/aftersales/seller/cases/{case['id']}"
    seller.post(f"{path}/agree", {"return_address": "杭州 换货仓"})
    api(market.buyer).post(
        f"/aftersales/cases/{case['id']}/return-shipment", {"carrier": "中通", "tracking_no": "Z1"}
    )
    missing = seller.post(f"{path}/goods-confirm", {"carrier": "顺丰"})
    assert error_code(missing) == "field_required"
    done = seller.post(f"{path}/goods-confirm", {"carrier": "顺丰", "tracking_no": "SF9"}).json()
    assert done["status"] == "SUCCESS"
    assert (done["exchange_carrier"], done["exchange_tracking_no"]) == ("顺丰", "SF9")
    assert done["refunded_fen"] == 4000
    market.sku.refresh_from_db()
    assert market.sku.stock == 9  # the replacement left the warehouse
    check_ledger()


def test_refuse_then_revise_then_cancel(market, api):
    order, case = refused(market)
    assert case["status"] == "SELLER_REFUSE_BUYER" and case["refuse_reason"] == "与描述一致"
    buyer = api(market.buyer)
    path = f"/aftersales/cases/{case['id']}"
    revised = buyer.post(f"{path}/revise", {"amount_fen": 2000, "description": "只退一半"})
    assert revised.status_code == 200, revised.json()
    body = revised.json()
    assert body["status"] == "WAIT_SELLER_AGREE" and body["amount_fen"] == 2000
    assert body["reason"] == "not_as_described" and body["description"] == "只退一半"
    assert body["refuse_reason"] == ""
    cancelled = buyer.post(f"{path}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CLOSED"
    assert cancelled.json()["close_reason"] == "buyer_cancelled"
    assert cancelled.json()["close_reason_label"]
    again = buyer.post(f"{path}/cancel")
    assert again.status_code == 400
    assert error_code(again) == "refund_status_invalid"
    assert again.json()["extra"]["status"] == "CLOSED"
    assert error_code(buyer.post(f"{path}/revise", {"amount_fen": 100})) == (
        "refund_status_invalid"
    )
    order.refresh_from_db()
    assert order.confirm_deadline is not None
    check_ledger()


def test_messages_and_images_from_both_sides(market, api):
    order = an_order(market)
    case = ask(market, order)
    path = f"/aftersales/cases/{case['id']}"
    from_buyer = api(market.buyer).post(f"{path}/messages", {"text": "请尽快处理"})
    assert from_buyer.status_code == 201
    assert from_buyer.json()["party"] == "buyer" and from_buyer.json()["action"] == "message"
    from_shop = api(market.service).post(f"{path}/messages", {"text": "已联系仓库"})
    assert from_shop.status_code == 201 and from_shop.json()["party"] == "seller"
    photos = api(market.buyer).upload(
        f"{path}/images", {"text": "外包装破损", "images": [png_bytes(), png_bytes(color="blue")]}
    )
    assert photos.status_code == 201, photos.json()
    assert len(photos.json()["images"]) == 2
    assert photos.json()["images"][0]["url"].startswith("/media/aftersales/")
    too_many = api(market.buyer).upload(
        f"{path}/images", {"text": "x", "images": [png_bytes() for _ in range(6)]}
    )
    assert too_many.status_code == 400
    assert error_code(too_many) == "evidence_limit"
    not_an_image = api(market.buyer).upload(
        f"{path}/images", {"text": "x", "images": [_text_file()]}
    )
    assert not_an_image.status_code == 400
    events = api(market.owner).get(f"/aftersales/seller/cases/{case['id']}").json()["events"]
    assert [e["action"] for e in events] == ["request", "message", "message", "message"]
    assert len(events[-1]["images"]) == 2


def _text_file():
    import io

    buf = io.BytesIO(b"not an image")
    buf.name = "notes.txt"
    return buf


# --- platform intervention --------------------------------------------------------------------


def test_dispute_taken_evidence_then_ruled_for_the_buyer(market, api):
    order, case = refused(market)
    buyer, seller, operator = api(market.buyer), api(market.owner), api(market.arbitrator)
    opened = buyer.post(f"/aftersales/cases/{case['id']}/dispute", {"reason": "颜色与图片不符"})
    assert opened.status_code == 201
    dispute = opened.json()
    assert dispute["status"] == "requested" and dispute["opened_by_party"] == "buyer"
    twice = seller.post(f"/aftersales/cases/{case['id']}/dispute", {"reason": "x"})
    assert twice.status_code == 409
    assert error_code(twice) == "dispute_not_allowed"
    assert seller.get("/aftersales/seller/cases", {"tab": "dispute"}).json()["count"] == 1

    queue = operator.get("/aftersales/console/disputes", {"tab": "requested"}).json()
    assert [d["id"] for d in queue["items"]] == [dispute["id"]]
    assert queue["items"][0]["case"]["buyer_username"] == market.buyer.username
    counts = operator.get("/aftersales/console/dispute-counts").json()
    assert counts == {"requested": 1, "evidence": 0, "ready": 0, "ruled": 0, "withdrawn": 0}

    taken = operator.post(f"/aftersales/console/disputes/{dispute['id']}/take")
    assert taken.status_code == 200
    body = taken.json()
    assert body["status"] == "evidence" and body["operator_id"] == market.arbitrator.pk
    assert body["evidence_deadline"] is not None
    assert body["order"]["id"] == order.pk
    assert [t["kind"] for t in body["order"]["transfers"]] == ["payment"]
    assert body["case"]["id"] == case["id"]
    again = operator.post(f"/aftersales/console/disputes/{dispute['id']}/take")
    assert again.status_code == 409 and error_code(again) == "dispute_status_invalid"

    evidence = seller.post(f"/aftersales/cases/{case['id']}/messages", {"text": "发货视频"})
    assert evidence.status_code == 201
    assert evidence.json()["action"] == "evidence" and evidence.json()["is_evidence"] is True
    note = operator.post(f"/aftersales/cases/{case['id']}/messages", {"text": "已收到双方材料"})
    assert note.status_code == 201 and note.json()["party"] == "operator"

    rule_path = f"/aftersales/console/disputes/{dispute['id']}/rule"
    ruling = {
        "decision": "buyer",
        "amount_fen": 3000,
        "reason": "描述不符",
        "not_as_described": True,
    }
    early = operator.post(rule_path, ruling)
    assert early.status_code == 400 and error_code(early) == "evidence_phase_open"

    clock.advance(timedelta(days=3, seconds=1))
    late = buyer.post(f"/aftersales/cases/{case['id']}/messages", {"text": "补充"})
    assert error_code(late) == "dispute_status_invalid"
    ready = operator.get("/aftersales/console/disputes", {"tab": "ready", "mine": "true"}).json()
    assert [d["id"] for d in ready["items"]] == [dispute["id"]]
    detail = operator.get(f"/aftersales/console/disputes/{dispute['id']}").json()
    assert [e["action"] for e in detail["events"]][-3:] == ["dispute_take", "evidence", "evidence"]

    before = wallet(market.buyer)
    ruled = post(operator, rule_path, ruling, key="rule-1")
    assert ruled.status_code == 200, ruled.json()
    body = ruled.json()
    assert body["status"] == "ruled_buyer" and body["ruling_amount_fen"] == 3000
    assert body["ruled_by_id"] == market.arbitrator.pk and body["not_as_described"] is True
    assert body["case"]["status"] == "SUCCESS"
    assert body["shop_violation_points"] == 6
    replay = post(operator, rule_path, ruling, key="rule-1")
    assert replay.status_code == 200 and replay.content == ruled.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    second = post(operator, rule_path, {**ruling, "decision": "seller"}, key="rule-2")
    assert second.status_code == 409 and error_code(second) == "dispute_status_invalid"
    assert wallet(market.buyer) == before + 3000
    assert Transfer.objects.filter(order_id=order.pk, kind="refund").count() == 1

    violations = seller.get("/aftersales/seller/violations").json()
    assert violations["count"] == 1
    assert violations["items"][0]["kind"] == "not_as_described"
    assert violations["items"][0]["case_id"] == case["id"]
    assert buyer.get(f"/aftersales/cases/{case['id']}").json()["dispute"]["status"] == (
        "ruled_buyer"
    )
    check_ledger()


def test_ruling_for_the_seller_closes_the_request(market, api):
    order, _case_id, dispute_id = disputed(market)
    ruled = api(market.admin).post(
        f"/aftersales/console/disputes/{dispute_id}/rule",
        {"decision": "seller", "reason": "证据不足"},
    )
    assert ruled.status_code == 200
    assert ruled.json()["status"] == "ruled_seller"
    assert ruled.json()["case"]["status"] == "CLOSED"
    assert ruled.json()["case"]["close_reason"] == "ruled_for_seller"
    order.refresh_from_db()
    assert order.refunded_fen == 0 and order.confirm_deadline is not None
    check_ledger()


def test_ruling_bad_input(market, api):
    _order, _case_id, dispute_id = disputed(market)
    client = api(market.arbitrator)
    path = f"/aftersales/console/disputes/{dispute_id}/rule"
    above = client.post(path, {"decision": "buyer", "amount_fen": 10_001, "reason": "r"})
    assert above.status_code == 400 and error_code(above) == "refund_amount_invalid"
    none = client.post(path, {"decision": "buyer", "reason": "r"})
    assert error_code(none) == "refund_amount_invalid"
    assert client.post(path, {"decision": "nobody", "reason": "r"}).status_code == 422
    assert error_code(client.post(path, {"decision": "seller", "reason": " "})) == (
        "field_required"
    )
    assert Dispute.objects.get(pk=dispute_id).status == "evidence"


def test_rule_before_the_case_is_taken_is_refused(market, api):
    _order, _case_id, dispute_id = disputed(market, taken=False)
    response = api(market.arbitrator).post(
        f"/aftersales/console/disputes/{dispute_id}/rule",
        {"decision": "seller", "reason": "r"},
    )
    assert response.status_code == 400
    assert error_code(response) == "dispute_status_invalid"


def test_buyer_withdraws_the_dispute_and_the_request_closes(market, api):
    _order, case_id, _dispute_id = disputed(market, evidence_over=False)
    response = api(market.buyer).post(f"/aftersales/cases/{case_id}/dispute/withdraw", {})
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawn_by_party"] == "buyer"
    assert RefundCase.objects.get(pk=case_id).status == RefundStatus.CLOSED
    again = api(market.buyer).post(f"/aftersales/cases/{case_id}/dispute/withdraw", {})
    assert again.status_code == 409 and error_code(again) == "dispute_status_invalid"


def test_seller_withdraws_the_dispute_which_agrees_and_pays_once(market, api):
    _order, case_id, _dispute_id = disputed(market, taken=False)
    before = wallet(market.buyer)
    path = f"/aftersales/cases/{case_id}/dispute/withdraw"
    first = post(api(market.owner), path, {}, key="withdraw-1")
    assert first.status_code == 200, first.json()
    assert first.json()["withdrawn_by_party"] == "seller"
    replay = post(api(market.owner), path, {}, key="withdraw-1")
    assert replay.content == first.content and replay.headers["Idempotent-Replayed"] == "true"
    assert RefundCase.objects.get(pk=case_id).status == RefundStatus.SUCCESS
    assert wallet(market.buyer) == before + 3000
    check_ledger()


def test_withdraw_without_a_dispute_is_409(market, api):
    _order, case = refused(market)
    response = api(market.buyer).post(f"/aftersales/cases/{case['id']}/dispute/withdraw", {})
    assert response.status_code == 409
    assert error_code(response) == "dispute_status_invalid"


def test_dispute_only_after_a_refusal(market, api):
    case = ask(market, an_order(market))
    response = api(market.buyer).post(f"/aftersales/cases/{case['id']}/dispute", {"reason": "r"})
    assert response.status_code == 400
    assert error_code(response) == "dispute_not_allowed"


# --- advance compensation, debts, deposit, violations -----------------------------------------


def test_advance_compensation_on_a_finished_order_pays_once(market, api):
    order = an_order(market, confirm=True)
    client = api(market.arbitrator)
    path = f"/aftersales/console/orders/{order.pk}/advance"
    body = {"amount_fen": 2000, "reason": "先行垫付：物流丢件"}
    before = wallet(market.buyer)
    first = post(client, path, body, key="adv-1")
    assert first.status_code == 200, first.json()
    assert first.json()["refunded_fen"] == 2000
    assert "advance" in [t["kind"] for t in first.json()["transfers"]]
    replay = post(client, path, body, key="adv-1")
    assert replay.status_code == 200 and replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert wallet(market.buyer) == before + 2000
    assert ShopDebt.objects.filter(order_id=order.pk, kind="advance").count() == 1
    debts = api(market.owner).get("/aftersales/seller/debts").json()
    assert debts["count"] == 1
    debt = debts["items"][0]
    assert debt["kind"] == "advance" and debt["amount_fen"] == 2000
    assert debt["outstanding_fen"] == 0 and debt["settled_at"] is not None  # from the balance
    above = client.post(path, {"amount_fen": 10_000, "reason": "r"})
    assert above.status_code == 400 and error_code(above) == "refund_amount_invalid"
    check_ledger()


def test_advance_before_release_is_refused(market, api):
    order = an_order(market)
    response = api(market.admin).post(
        f"/aftersales/console/orders/{order.pk}/advance", {"amount_fen": 100, "reason": "r"}
    )
    assert response.status_code == 400
    assert error_code(response) == "advance_not_allowed"


def test_deposit_from_the_wallet_collects_debts_and_replays(market, api):
    payment_pin_set(user=market.owner, password=market.owner.raw_password, pin=PIN)
    fund(market.owner, 50_000)
    client = api(market.owner)
    body = {"amount_fen": 20_000, "pin": PIN, "source": "wallet"}
    first = post(client, "/aftersales/seller/deposit", body, key="dep-1")
    assert first.status_code == 201, first.json()
    assert first.json()["amount_fen"] == 20_000 and first.json()["deposit_fen"] == 20_000
    assert first.json()["owed_fen"] == 0
    replay = post(client, "/aftersales/seller/deposit", body, key="dep-1")
    assert replay.status_code == 201 and replay.content == first.content
    assert shop_money(shop_id=market.shop.pk).deposit_fen == 20_000
    assert wallet(market.owner) == 30_000
    wrong = post(client, "/aftersales/seller/deposit", {**body, "pin": "000000"}, key="dep-2")
    assert wrong.status_code == 400 and error_code(wrong) == "pin_wrong"
    nothing = client.post("/aftersales/seller/deposit", {**body, "source": "shop"})
    assert nothing.status_code == 400  # the shop balance is empty
    assert error_code(client.post("/aftersales/seller/deposit", {**body, "amount_fen": 0})) == (
        "amount_invalid"
    )
    assert wallet(market.owner) == 30_000
    check_ledger()


def test_deposit_is_for_the_owner(market, api):
    body = {"amount_fen": 100, "pin": PIN}
    staff = api(market.service).post("/aftersales/seller/deposit", body)
    assert staff.status_code == 403 and error_code(staff) == "staff_role_forbidden"
    buyer = api(market.buyer).post("/aftersales/seller/deposit", body)
    assert buyer.status_code == 404 and error_code(buyer) == "not_shop_staff"
    assert api(market.service).get("/aftersales/seller/debts").status_code == 403
    PaymentPin.objects.update(failed_attempts=0)


def test_violations_recorded_by_an_operator_and_listed(market, api):
    order = an_order(market)
    operator = api(market.arbitrator)
    recorded = operator.post(
        "/aftersales/console/violations",
        {"shop_id": market.shop.pk, "kind": "other", "order_id": order.pk, "note": "虚假发货"},
    )
    assert recorded.status_code == 201, recorded.json()
    body = recorded.json()
    assert body["kind"] == "other" and body["points"] == 2 and body["shop_name"]
    assert body["created_by_id"] == market.arbitrator.pk
    assert (
        operator.post(
            "/aftersales/console/violations",
            {"shop_id": market.shop.pk, "kind": "other", "points": 49, "note": "x"},
        ).status_code
        == 400
    )
    no_note = operator.post(
        "/aftersales/console/violations", {"shop_id": market.shop.pk, "kind": "other", "note": ""}
    )
    assert error_code(no_note) == "field_required"
    missing = operator.post(
        "/aftersales/console/violations", {"shop_id": 999_999, "kind": "other", "note": "x"}
    )
    assert missing.status_code == 404
    listed = api(market.reviewer).get("/aftersales/console/violations").json()
    assert [v["id"] for v in listed["items"]] == [body["id"]]
    other_shop = Shop.objects.get(owner=market.other_owner).pk
    assert (
        operator.get("/aftersales/console/violations", {"shop_id": other_shop}).json()["count"] == 0
    )
    seller = api(market.warehouse).get("/aftersales/seller/violations").json()
    assert seller["count"] == 1 and seller["items"][0]["note"] == "虚假发货"
    assert api(market.other_owner).get("/aftersales/seller/violations").json()["count"] == 0
    assert Violation.objects.count() == 1


# --- bad input --------------------------------------------------------------------------------


def test_request_bad_input(market, api):
    order = an_order(market)
    line = order.lines.get()
    client = api(market.buyer)
    base = {"order_id": order.pk, "line_id": line.pk, "kind": "refund_only", "reason": "quality"}
    above = client.post("/aftersales/cases", {**base, "amount_fen": 10_001})
    assert above.status_code == 400
    assert error_code(above) == "refund_amount_invalid"
    assert "amount_fen" in above.json()["extra"]["fields"]
    assert error_code(client.post("/aftersales/cases", {**base, "amount_fen": 0})) == (
        "refund_amount_invalid"
    )
    assert error_code(client.post("/aftersales/cases", base)) == "refund_amount_invalid"
    assert client.post("/aftersales/cases", {**base, "amount_fen": 12.5}).status_code == 422
    assert client.post("/aftersales/cases", {**base, "kind": "gift"}).status_code == 422
    assert client.post("/aftersales/cases", {**base, "reason": "bored"}).status_code == 422
    other = client.post("/aftersales/cases", {**base, "reason": "other", "amount_fen": 100})
    assert other.status_code == 400  # "other" needs a description
    assert "description" in other.json()["extra"]["fields"]
    no_exchange_sku = client.post(
        "/aftersales/cases", {**base, "kind": "exchange", "reason": "size"}
    )
    assert error_code(no_exchange_sku) == "exchange_sku_invalid"
    dearer = client.post(
        "/aftersales/cases",
        {**base, "kind": "exchange", "reason": "size", "exchange_sku_id": market.scarce.pk},
    )
    assert error_code(dearer) == "exchange_sku_invalid"
    assert RefundCase.objects.count() == 0
    assert client.post("/aftersales/cases", {**base, "amount_fen": 10_000}).status_code == 201
    second = client.post("/aftersales/cases", {**base, "amount_fen": 100})
    assert second.status_code == 409
    assert error_code(second) == "refund_already_open"
    assert RefundCase.objects.count() == 1


def test_request_kinds_need_a_shipment_and_a_paid_order(market, api):
    client = api(market.buyer)
    unshipped = an_order(market, ship=False)
    body = {
        "order_id": unshipped.pk,
        "line_id": unshipped.lines.get().pk,
        "kind": "return_refund",
        "reason": "not_wanted",
        "amount_fen": 100,
    }
    assert error_code(client.post("/aftersales/cases", body)) == "refund_kind_invalid"
    group = order_place(
        buyer=market.buyer,
        items=[{"sku_id": market.sku.pk, "quantity": 1}],
        address_id=market.buyer.address.pk,
    )
    unpaid = group.orders.get()
    body = {**body, "order_id": unpaid.pk, "line_id": unpaid.lines.get().pk, "kind": "refund_only"}
    assert error_code(client.post("/aftersales/cases", body)) == "refund_not_allowed"


def test_actions_in_the_wrong_status_are_refused(market, api):
    order = an_order(market)
    case = ask(market, order, kind="return_refund", amount_fen=5000)
    seller, buyer = api(market.owner), api(market.buyer)
    path = f"/aftersales/seller/cases/{case['id']}"
    for action, body in [("goods-confirm", {}), ("goods-refuse", {"reason": "r"})]:
        response = seller.post(f"{path}/{action}", body)
        assert response.status_code == 400, action
        assert error_code(response) == "refund_status_invalid"
    ship = buyer.post(
        f"/aftersales/cases/{case['id']}/return-shipment", {"carrier": "a", "tracking_no": "b"}
    )
    assert error_code(ship) == "refund_status_invalid"
    seller.post(f"{path}/agree", {"return_address": "杭州"})
    for action, body in [("agree", {"return_address": "x"}), ("refuse", {"reason": "r"})]:
        assert error_code(seller.post(f"{path}/{action}", body)) == "refund_status_invalid"
    assert error_code(buyer.post(f"/aftersales/cases/{case['id']}/revise", {})) == (
        "refund_status_invalid"
    )
    buyer.post(
        f"/aftersales/cases/{case['id']}/return-shipment", {"carrier": "中通", "tracking_no": "1"}
    )
    goods_refused = seller.post(f"{path}/goods-refuse", {"reason": "包装破损"})
    assert goods_refused.status_code == 200
    assert goods_refused.json()["status"] == "SELLER_REFUSE_BUYER"
    assert RefundCase.objects.get(pk=case["id"]).refunded_fen == 0


def test_agree_replay_returns_the_first_answer_and_pays_once(market, api):
    order = an_order(market)
    case = ask(market, order, amount_fen=4000)
    client = api(market.owner)
    path = f"/aftersales/seller/cases/{case['id']}/agree"
    first = post(client, path, {}, key="agree-1")
    assert first.status_code == 200 and first.json()["status"] == "SUCCESS"
    replay = post(client, path, {}, key="agree-1")
    assert replay.status_code == 200
    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    other_key = post(client, path, {}, key="agree-2")
    assert error_code(other_key) == "refund_status_invalid"
    reused = post(client, path, {"return_address": "x"}, key="agree-1")
    assert reused.status_code == 409 and error_code(reused) == "idempotency_key_reused"
    assert Transfer.objects.filter(order_id=order.pk, kind="refund").count() == 1
    assert wallet(market.buyer) == 100_000 - 10_000 + 4000
    check_ledger()


def test_lists_are_capped(market, api):
    order = an_order(market)
    ask(market, order, amount_fen=100)
    body = api(market.buyer).get("/aftersales/cases", {"limit": 10**6}).json()
    assert body["count"] == 1
    assert api(market.buyer).get("/aftersales/cases", {"offset": 10**6}).status_code == 422
    assert api(market.owner).get("/aftersales/seller/cases", {"tab": "nope"}).status_code == 422
    assert (
        api(market.owner)
        .get("/aftersales/seller/cases", {"q": market.buyer.username})
        .json()["count"]
        == 1
    )
    assert (
        api(market.owner).get("/aftersales/seller/cases", {"q": str(order.pk)}).json()["count"] == 1
    )


# --- the wrong user ---------------------------------------------------------------------------


def test_another_buyer_sees_nothing_and_changes_nothing(market, api):
    order, case = refused(market)
    other = api(market.buyer2)
    path = f"/aftersales/cases/{case['id']}"
    assert other.get("/aftersales/cases").json()["count"] == 0
    calls = [
        other.get(path),
        other.post(f"{path}/revise", {"amount_fen": 100}),
        other.post(f"{path}/cancel"),
        other.post(f"{path}/return-shipment", {"carrier": "a", "tracking_no": "b"}),
        other.post(f"{path}/messages", {"text": "hi"}),
        other.upload(f"{path}/images", {"text": "x", "images": [png_bytes()]}),
        other.post(f"{path}/dispute", {"reason": "r"}),
        other.post(f"{path}/dispute/withdraw", {}),
        other.post(
            "/aftersales/cases",
            {
                "order_id": order.pk,
                "line_id": order.lines.get().pk,
                "kind": "refund_only",
                "reason": "quality",
                "amount_fen": 100,
            },
        ),
    ]
    for response in calls:
        assert response.status_code == 404, response.request["PATH_INFO"]
        assert error_code(response) == "not_found"
    fresh = RefundCase.objects.get(pk=case["id"])
    assert fresh.status == RefundStatus.SELLER_REFUSE_BUYER and fresh.events.count() == 2
    assert not Dispute.objects.exists()


def test_another_shop_sees_nothing_and_changes_nothing(market, api):
    order = an_order(market)
    case = ask(market, order, kind="return_refund")
    other = api(market.other_owner)
    path = f"/aftersales/seller/cases/{case['id']}"
    assert other.get("/aftersales/seller/cases").json()["count"] == 0
    assert other.get("/aftersales/seller/case-counts").json()["todo"] == 0
    for response in [
        other.get(path),
        other.post(f"{path}/agree", {"return_address": "x"}),
        other.post(f"{path}/refuse", {"reason": "r"}),
        other.post(f"{path}/goods-confirm", {}),
        other.post(f"{path}/goods-refuse", {"reason": "r"}),
        other.post(f"/aftersales/cases/{case['id']}/messages", {"text": "hi"}),
        other.post(f"/aftersales/cases/{case['id']}/dispute", {"reason": "r"}),
        other.post(f"/aftersales/cases/{case['id']}/dispute/withdraw", {}),
        other.get(f"/aftersales/cases/{case['id']}"),
    ]:
        assert response.status_code == 404, response.request["PATH_INFO"]
    assert RefundCase.objects.get(pk=case["id"]).status == RefundStatus.WAIT_SELLER_AGREE


def test_a_buyer_on_the_seller_endpoints_is_404(market, api):
    case = ask(market, an_order(market))
    buyer = api(market.buyer)
    path = f"/aftersales/seller/cases/{case['id']}"
    for response in [
        buyer.get("/aftersales/seller/cases"),
        buyer.get("/aftersales/seller/case-counts"),
        buyer.get(path),
        buyer.post(f"{path}/agree", {}),
        buyer.post(f"{path}/refuse", {"reason": "r"}),
        buyer.post(f"{path}/goods-confirm", {}),
        buyer.post(f"{path}/goods-refuse", {"reason": "r"}),
        buyer.get("/aftersales/seller/violations"),
        buyer.get("/aftersales/seller/debts"),
    ]:
        assert response.status_code == 404, response.request["PATH_INFO"]
        assert error_code(response) == "not_shop_staff"
    assert RefundCase.objects.get(pk=case["id"]).status == RefundStatus.WAIT_SELLER_AGREE


def test_the_shop_cannot_use_the_buyer_endpoints(market, api):
    case = ask(market, an_order(market))
    seller = api(market.owner)
    path = f"/aftersales/cases/{case['id']}"
    assert seller.get("/aftersales/cases").json()["count"] == 0
    for response in [
        seller.get(path),
        seller.post(f"{path}/revise", {"amount_fen": 100}),
        seller.post(f"{path}/cancel"),
        seller.post(f"{path}/return-shipment", {"carrier": "a", "tracking_no": "b"}),
    ]:
        assert response.status_code == 404


def test_warehouse_staff_may_look_but_not_answer(market, api):
    case = ask(market, an_order(market))
    warehouse = api(market.warehouse)
    path = f"/aftersales/seller/cases/{case['id']}"
    assert warehouse.get(path).status_code == 200
    assert warehouse.get("/aftersales/seller/cases").json()["count"] == 1
    for response in [
        warehouse.post(f"{path}/agree", {}),
        warehouse.post(f"{path}/refuse", {"reason": "r"}),
        warehouse.post(f"/aftersales/cases/{case['id']}/messages", {"text": "hi"}),
    ]:
        assert response.status_code == 403
        assert error_code(response) == "staff_role_forbidden"
    assert RefundCase.objects.get(pk=case["id"]).status == RefundStatus.WAIT_SELLER_AGREE


@pytest.mark.parametrize("who", ["buyer", "owner", "reviewer"])
def test_the_console_needs_the_arbitrator_role(market, who, api):
    _order, _case_id, dispute_id = disputed(market, taken=False)
    finished = an_order(market, quantity=1, confirm=True)
    client = api(getattr(market, who))
    path = f"/aftersales/console/disputes/{dispute_id}"
    refused_calls = [
        client.get(path),
        client.post(f"{path}/take"),
        client.post(f"{path}/rule", {"decision": "seller", "reason": "r"}),
        client.post(
            f"/aftersales/console/orders/{finished.pk}/advance", {"amount_fen": 100, "reason": "r"}
        ),
        client.post(
            "/aftersales/console/violations",
            {"shop_id": market.shop.pk, "kind": "other", "note": "x"},
        ),
    ]
    if who != "reviewer":  # the reviewer may look at the queues
        refused_calls += [
            client.get("/aftersales/console/disputes"),
            client.get("/aftersales/console/dispute-counts"),
            client.get("/aftersales/console/violations"),
        ]
    for response in refused_calls:
        assert response.status_code == 403, response.request["PATH_INFO"]
        assert error_code(response) == "forbidden"
    if who == "reviewer":
        assert client.get("/aftersales/console/disputes").json()["count"] == 1
    assert Dispute.objects.get(pk=dispute_id).status == "requested"
    assert Order.objects.get(pk=finished.pk).refunded_fen == 0
    assert not Violation.objects.exists()


def test_console_unknown_ids_are_404(market, api):
    client = api(market.admin)
    assert client.get("/aftersales/console/disputes/999999").status_code == 404
    assert client.post("/aftersales/console/disputes/999999/take").status_code == 404
    response = client.post(
        "/aftersales/console/orders/999999/advance", {"amount_fen": 1, "reason": "r"}
    )
    assert response.status_code == 404
    assert api(market.buyer).get("/aftersales/cases/999999").status_code == 404
