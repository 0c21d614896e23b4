# ruff: noqa: F811  (the trade fixtures are imported, then requested by name)
"""After-sales pages through the Django test client: the buyer's request form, requests and
case page with its actions; the seller's queue, case page and actions; violations and the
deposit; the per-line after-sales state on the order pages; the product form's no-reason
return choice."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import CaseImage, Dispute, DisputeStatus, RefundCase, RefundStatus
from jishi.catalog.models import Product
from jishi.core import clock
from jishi.orders.models import Order
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.orders.timers import orders_sweep
from jishi.payments.selectors import shop_money
from jishi.shops.services import staff_create
from tests.conftest import TEST_PASSWORD
from tests.trade.conftest import PIN, make_buyer, trade  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def _paid(trade, *, quantity: int = 2, ship: bool = True, buyer=None) -> Order:
    buyer = buyer or trade.buyer
    group = order_place(
        buyer=buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": quantity}],
        address_id=buyer.address.pk,
    )
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    if ship:
        order_ship(actor=trade.shop.owner, order_id=order.pk, carrier="顺丰速运", tracking_no="SF1")
    return Order.objects.get(pk=order.pk)


def _case(trade, order=None, *, kind="return_refund", amount_fen=5000, reason="quality"):
    order = order or _paid(trade)
    return aftersales.refund_request(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind=kind,
        reason=reason,
        amount_fen=amount_fen,
    )


def _staff(trade, role: str):
    staff = staff_create(
        actor=trade.shop.owner, username=f"{role}{trade.shop.pk}", password=TEST_PASSWORD, role=role
    )
    return staff.user


def _png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 80, 0)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _status(case) -> str:
    case.refresh_from_db()
    return case.status


# --- buyer: the order pages and the request form ----------------------------------------------


def test_order_pages_offer_after_sales_on_paid_lines_only(client, trade):
    unpaid = order_place(
        buyer=trade.buyer,
        items=[{"sku_id": trade.sku.pk, "quantity": 1}],
        address_id=trade.buyer.address.pk,
    ).orders.get()
    order = _paid(trade)
    client.force_login(trade.buyer)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    apply_url = reverse("aftersales:new", args=[order.pk]) + f"?line={order.lines.get().pk}"
    assert apply_url in page
    assert 'data-testid="apply-aftersales"' in page
    unpaid_page = client.get(reverse("orders:detail", args=[unpaid.pk])).content.decode()
    assert 'data-testid="apply-aftersales"' not in unpaid_page
    listing = client.get(reverse("orders:list")).content.decode()
    assert apply_url.replace("&", "&amp;") in listing or apply_url in listing


def test_request_form_renders_with_the_maximum_and_the_allowed_kinds(client, trade):
    order = _paid(trade)
    line = order.lines.get()
    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:new", args=[order.pk]) + f"?line={line.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "At most ¥100.00" in html
    assert 'value="100.00"' in html  # the amount is prefilled with the maximum
    for kind in ("refund_only", "return_refund", "exchange"):
        assert f'data-testid="kind-{kind}"' in html
    assert 'id="as-reasons"' in html  # the reasons per kind for the script


def test_unshipped_order_offers_refund_only(client, trade):
    order = _paid(trade, ship=False)
    client.force_login(trade.buyer)
    html = client.get(
        reverse("aftersales:new", args=[order.pk]) + f"?line={order.lines.get().pk}"
    ).content.decode()
    assert 'data-testid="kind-refund_only"' in html
    assert 'data-testid="kind-return_refund"' not in html


def test_request_form_of_another_buyer_is_404(client, trade, make_buyer):
    order = _paid(trade)
    client.force_login(make_buyer())
    url = reverse("aftersales:new", args=[order.pk]) + f"?line={order.lines.get().pk}"
    assert client.get(url).status_code == 404
    assert client.post(url, {"kind": "refund_only", "reason": "quality"}).status_code == 404
    assert not RefundCase.objects.exists()


def test_buyer_applies_with_photos_and_sees_the_case(client, trade):
    order = _paid(trade)
    line = order.lines.get()
    client.force_login(trade.buyer)
    response = client.post(
        reverse("aftersales:new", args=[order.pk]),
        {
            "line": line.pk,
            "kind": "return_refund",
            "reason": "quality",
            "amount": "60.5",
            "description": "茶叶受潮",
            "images": [_png("a.png"), _png("b.png")],
        },
    )
    case = RefundCase.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("aftersales:detail", args=[case.pk])
    assert (case.kind, case.amount_fen, case.status) == (
        "return_refund",
        6050,
        RefundStatus.WAIT_SELLER_AGREE,
    )
    assert CaseImage.objects.filter(event__case=case).count() == 2
    page = client.get(response.url).content.decode()
    assert "Your request was sent to the seller" in page
    assert 'data-status="WAIT_SELLER_AGREE"' in page
    assert "The seller has" in page and "data-seconds-left" in page
    assert "茶叶受潮" in page and "/media/aftersales/" in page
    assert 'data-testid="action-cancel"' in page and 'data-testid="action-revise"' in page
    # the order page now shows the line's request instead of the button
    detail = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert reverse("aftersales:detail", args=[case.pk]) in detail
    assert 'data-testid="apply-aftersales"' not in detail
    # a second request on the line goes to the open one
    again = client.get(reverse("aftersales:new", args=[order.pk]) + f"?line={line.pk}")
    assert again.status_code == 302 and again.url == reverse("aftersales:detail", args=[case.pk])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "refund_only", "reason": "quality", "amount": "100.01"}, "¥0.01 to ¥100.00"),
        ({"kind": "refund_only", "reason": "quality", "amount": "abc"}, "Enter an amount in yuan"),
        ({"kind": "refund_only", "reason": "", "amount": "10"}, "Choose a reason from the list."),
        ({"kind": "refund_only", "reason": "other", "amount": "10"}, "Describe the problem."),
        ({"kind": "swap", "reason": "quality", "amount": "10"}, "Choose what you want."),
        ({"kind": "exchange", "reason": "quality", "amount": ""}, "Choose the replacement"),
    ],
)
def test_invalid_request_shows_the_error_and_creates_nothing(client, trade, data, message):
    order = _paid(trade)
    client.force_login(trade.buyer)
    response = client.post(
        reverse("aftersales:new", args=[order.pk]), {"line": order.lines.get().pk, **data}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RefundCase.objects.exists()


def test_exchange_request_picks_a_replacement(client, trade):
    order = _paid(trade, quantity=1)
    client.force_login(trade.buyer)
    response = client.post(
        reverse("aftersales:new", args=[order.pk]),
        {
            "line": order.lines.get().pk,
            "kind": "exchange",
            "reason": "size",
            "exchange_sku_id": trade.sku.pk,
        },
    )
    assert response.status_code == 302
    case = RefundCase.objects.get()
    assert (case.kind, case.exchange_sku_id, case.amount_fen) == ("exchange", trade.sku.pk, 0)


def test_my_requests_lists_open_and_all(client, trade, make_buyer):
    first = _case(trade)
    aftersales.refund_cancel(buyer=trade.buyer, case_id=first.pk)
    second = _case(trade)
    other_buyer = make_buyer()
    other = _case(trade, _paid(trade, buyer=other_buyer))
    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:list")).content.decode()
    assert f'data-case="{first.pk}"' in page and f'data-case="{second.pk}"' in page
    assert f'data-case="{other.pk}"' not in page
    open_page = client.get(reverse("aftersales:list") + "?tab=open").content.decode()
    assert f'data-case="{second.pk}"' in open_page and f'data-case="{first.pk}"' not in open_page


# --- buyer: the case page and its actions -------------------------------------------------------


def test_case_of_another_buyer_or_shop_is_404(client, trade, make_buyer, make_shop):
    case = _case(trade)
    client.force_login(make_buyer())
    assert client.get(reverse("aftersales:detail", args=[case.pk])).status_code == 404
    assert client.post(reverse("aftersales:cancel", args=[case.pk])).status_code == 404
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE
    client.force_login(make_shop().owner)
    assert client.get(reverse("seller:case", args=[case.pk])).status_code == 404
    response = client.post(reverse("seller:case_agree", args=[case.pk]), {"return_address": "杭州"})
    assert response.status_code == 404
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE


def test_buyer_cancels_the_request(client, trade):
    case = _case(trade)
    client.force_login(trade.buyer)
    response = client.post(reverse("aftersales:cancel", args=[case.pk]))
    assert response.status_code == 302
    assert _status(case) == RefundStatus.CLOSED
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert "The request was withdrawn." in page
    assert "Cancelled by the buyer" in page
    assert 'data-testid="action-cancel"' not in page
    # the line may be asked again
    detail = client.get(reverse("orders:detail", args=[case.order_id])).content.decode()
    assert 'data-testid="apply-aftersales"' in detail


def test_buyer_revises_the_amount(client, trade):
    case = _case(trade)
    client.force_login(trade.buyer)
    form = client.get(reverse("aftersales:revise", args=[case.pk]))
    assert form.status_code == 200 and 'value="50.00"' in form.content.decode()
    response = client.post(
        reverse("aftersales:revise", args=[case.pk]),
        {"kind": "return_refund", "reason": "damaged", "amount": "30", "description": "改一下"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.amount_fen, case.reason, case.description) == (3000, "damaged", "改一下")
    bad = client.post(
        reverse("aftersales:revise", args=[case.pk]),
        {"kind": "return_refund", "reason": "damaged", "amount": "999"},
    )
    assert bad.status_code == 400 and "¥0.01 to ¥100.00" in bad.content.decode()
    case.refresh_from_db()
    assert case.amount_fen == 3000


def test_return_and_refund_through_both_sides_pages(client, trade):
    case = _case(trade)
    order_id = case.order_id
    owner, buyer = trade.shop.owner, trade.buyer

    client.force_login(owner)
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert 'data-testid="agree-form"' in page and 'data-testid="refuse-form"' in page
    # agreeing to a return needs an address: the error shows, nothing changes
    bad = client.post(reverse("seller:case_agree", args=[case.pk]), {"return_address": " "})
    assert bad.status_code == 400 and "This field is required." in bad.content.decode()
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE
    ok = client.post(
        reverse("seller:case_agree", args=[case.pk]), {"return_address": "浙江安吉 溪龙乡 1 号"}
    )
    assert ok.status_code == 302
    assert _status(case) == RefundStatus.WAIT_BUYER_RETURN_GOODS

    client.force_login(buyer)
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert "浙江安吉 溪龙乡 1 号" in page and 'data-testid="return-form"' in page
    missing = client.post(
        reverse("aftersales:return_ship", args=[case.pk]),
        {"carrier": "中通快递", "tracking_no": ""},
    )
    assert missing.status_code == 400 and "This field is required." in missing.content.decode()
    assert _status(case) == RefundStatus.WAIT_BUYER_RETURN_GOODS
    shipped = client.post(
        reverse("aftersales:return_ship", args=[case.pk]),
        {"carrier": "other", "carrier_other": "德邦快递", "tracking_no": "DB42"},
    )
    assert shipped.status_code == 302
    case.refresh_from_db()
    assert case.status == RefundStatus.WAIT_SELLER_CONFIRM_GOODS
    assert (case.return_carrier, case.return_tracking_no) == ("德邦快递", "DB42")

    client.force_login(owner)
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert "DB42" in page and 'data-testid="goods-confirm-form"' in page
    done = client.post(reverse("seller:case_goods_confirm", args=[case.pk]))
    assert done.status_code == 302
    assert _status(case) == RefundStatus.SUCCESS
    page = client.get(done.url).content.decode()
    assert "¥50.00 was refunded to the buyer" in page
    # both order pages show the line's result
    detail = client.get(reverse("seller:order", args=[order_id])).content.decode()
    assert reverse("seller:case", args=[case.pk]) in detail and "Refunded" in detail
    client.force_login(buyer)
    detail = client.get(reverse("orders:detail", args=[order_id])).content.decode()
    assert reverse("aftersales:detail", args=[case.pk]) in detail


def test_refusal_then_intervention_evidence_and_withdrawal(client, trade):
    case = _case(trade, kind="refund_only", reason="not_as_described", amount_fen=3000)
    client.force_login(trade.shop.owner)
    empty = client.post(reverse("seller:case_refuse", args=[case.pk]), {"reason": ""})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE
    refused = client.post(
        reverse("seller:case_refuse", args=[case.pk]),
        {"reason": "与描述一致，见照片", "images": [_png()]},
    )
    assert refused.status_code == 302
    assert _status(case) == RefundStatus.SELLER_REFUSE_BUYER

    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert "与描述一致，见照片" in page
    assert 'data-testid="dispute-form"' in page and 'data-testid="action-revise"' in page
    no_reason = client.post(reverse("aftersales:dispute", args=[case.pk]), {"reason": ""})
    assert no_reason.status_code == 400 and not Dispute.objects.exists()
    opened = client.post(reverse("aftersales:dispute", args=[case.pk]), {"reason": "颜色不对"})
    assert opened.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.status == DisputeStatus.REQUESTED
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert 'data-testid="dispute"' in page and 'data-testid="dispute-tag"' in page
    assert 'data-testid="action-revise"' not in page  # the platform handles it now
    # evidence with a photo
    added = client.post(
        reverse("aftersales:message", args=[case.pk]), {"text": "实物照片", "images": [_png()]}
    )
    assert added.status_code == 302
    event = case.events.get(text="实物照片")
    assert event.is_evidence and event.images.count() == 1
    empty_message = client.post(reverse("aftersales:message", args=[case.pk]), {"text": ""})
    assert empty_message.status_code == 400
    # a second intervention is refused with a message
    again = client.post(reverse("aftersales:dispute", args=[case.pk]), {"reason": "再来"})
    assert again.status_code == 302
    assert "The platform is already handling this case." in client.get(again.url).content.decode()
    assert Dispute.objects.count() == 1
    withdrawn = client.post(reverse("aftersales:dispute_withdraw", args=[case.pk]))
    assert withdrawn.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WITHDRAWN
    assert _status(case) == RefundStatus.CLOSED


def test_seller_opens_and_withdraws_an_intervention(client, trade):
    case = _case(trade, kind="refund_only", amount_fen=2000)
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason="已发货")
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert 'data-testid="dispute-form"' in page
    opened = client.post(reverse("seller:case_dispute", args=[case.pk]), {"reason": "买家恶意"})
    assert opened.status_code == 302
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert 'data-testid="withdraw-form"' in page and 'data-testid="message-form"' in page
    client.post(reverse("seller:case_message", args=[case.pk]), {"text": "聊天记录"})
    assert case.events.filter(action="evidence", party="seller").exists()
    withdrawn = client.post(reverse("seller:case_dispute_withdraw", args=[case.pk]))
    assert withdrawn.status_code == 302
    assert _status(case) == RefundStatus.SUCCESS  # the seller's withdrawal agrees


def test_seller_cannot_withdraw_the_buyers_intervention(client, trade):
    case = _case(trade, kind="refund_only", amount_fen=2000)
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason="已发货")
    aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="没收到")
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert 'data-testid="withdraw-form"' not in page
    assert "Waiting for an operator" in page


def test_seller_refuses_the_returned_goods(client, trade):
    case = _case(trade)
    aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk, return_address="杭州")
    aftersales.refund_return_ship(
        buyer=trade.buyer, case_id=case.pk, carrier="中通快递", tracking_no="ZT1"
    )
    client.force_login(trade.shop.owner)
    response = client.post(
        reverse("seller:case_goods_refuse", args=[case.pk]), {"reason": "空包裹"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == RefundStatus.SELLER_REFUSE_BUYER and case.refuse_reason == "空包裹"
    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert "Why the seller refused the returned goods" in page


def test_exchange_confirm_needs_the_replacement_parcel(client, trade):
    order = _paid(trade, quantity=1)
    case = aftersales.refund_request(
        buyer=trade.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="exchange",
        reason="size",
        exchange_sku_id=trade.sku.pk,
    )
    aftersales.refund_agree(actor=trade.shop.owner, case_id=case.pk, return_address="杭州")
    aftersales.refund_return_ship(
        buyer=trade.buyer, case_id=case.pk, carrier="中通快递", tracking_no="ZT1"
    )
    client.force_login(trade.shop.owner)
    bad = client.post(reverse("seller:case_goods_confirm", args=[case.pk]), {"carrier": "EMS"})
    assert bad.status_code == 400 and "This field is required." in bad.content.decode()
    assert _status(case) == RefundStatus.WAIT_SELLER_CONFIRM_GOODS
    ok = client.post(
        reverse("seller:case_goods_confirm", args=[case.pk]),
        {"carrier": "顺丰速运", "tracking_no": "SF777"},
    )
    assert ok.status_code == 302
    case.refresh_from_db()
    assert case.status == RefundStatus.SUCCESS and case.exchange_tracking_no == "SF777"
    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:detail", args=[case.pk])).content.decode()
    assert "The replacement was shipped: 顺丰速运 SF777." in page


def test_action_in_the_wrong_status_shows_the_message(client, trade):
    case = _case(trade)
    client.force_login(trade.buyer)
    response = client.post(
        reverse("aftersales:return_ship", args=[case.pk]),
        {"carrier": "EMS", "tracking_no": "E1"},
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "The shop has not asked for the goods back." in page
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE


# --- seller: the queue and the roles --------------------------------------------------------------


def test_seller_queue_tabs_filters_and_shop_scope(client, trade, make_buyer, make_shop):
    todo = _case(trade)
    refused = _case(trade, kind="refund_only", amount_fen=1000)
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=refused.pk, reason="不行")
    closed = _case(trade, kind="refund_only", amount_fen=1000)
    aftersales.refund_cancel(buyer=trade.buyer, case_id=closed.pk)
    other_shop = make_shop()
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:aftersales")).content.decode()
    assert f'data-case="{todo.pk}"' in page and f'data-case="{refused.pk}"' not in page
    assert 'data-testid="tab-count-todo">(1)' in page
    assert 'data-testid="tab-count-open">(2)' in page
    assert 'data-testid="tab-count-done">(1)' in page
    assert "Answer within" in page
    assert "After-sales" in page  # the left nav
    open_tab = client.get(reverse("seller:aftersales") + "?tab=open").content.decode()
    assert f'data-case="{refused.pk}"' in open_tab and f'data-case="{todo.pk}"' in open_tab
    done = client.get(reverse("seller:aftersales") + "?tab=done").content.decode()
    assert f'data-case="{closed.pk}"' in done
    by_kind = client.get(reverse("seller:aftersales") + "?tab=all&kind=refund_only").content
    assert f'data-case="{todo.pk}"'.encode() not in by_kind
    assert f'data-case="{refused.pk}"'.encode() in by_kind
    by_status = client.get(
        reverse("seller:aftersales") + "?tab=all&status=SELLER_REFUSE_BUYER"
    ).content.decode()
    assert f'data-case="{refused.pk}"' in by_status and f'data-case="{todo.pk}"' not in by_status
    by_order = client.get(
        reverse("seller:aftersales") + f"?tab=all&q={todo.order_id}"
    ).content.decode()
    assert f'data-case="{todo.pk}"' in by_order and f'data-case="{refused.pk}"' not in by_order
    by_buyer = client.get(
        reverse("seller:aftersales") + f"?tab=all&q={trade.buyer.username}"
    ).content.decode()
    assert f'data-case="{todo.pk}"' in by_buyer
    # another shop sees none of them
    client.force_login(other_shop.owner)
    theirs = client.get(reverse("seller:aftersales") + "?tab=all").content.decode()
    assert 'data-testid="case-row"' not in theirs


def test_staff_without_refund_role_can_view_but_not_act(client, trade):
    case = _case(trade)
    warehouse = _staff(trade, "warehouse")
    client.force_login(warehouse)
    assert client.get(reverse("seller:aftersales")).status_code == 200
    page = client.get(reverse("seller:case", args=[case.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="view-only"' in html
    assert 'data-testid="agree-form"' not in html and 'data-testid="refuse-form"' not in html
    response = client.post(reverse("seller:case_agree", args=[case.pk]), {"return_address": "杭州"})
    assert response.status_code == 302
    after = client.get(response.url).content.decode()
    assert "does not allow this" in after
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE
    refuse = client.post(reverse("seller:case_refuse", args=[case.pk]), {"reason": ""})
    assert refuse.status_code == 302
    assert _status(case) == RefundStatus.WAIT_SELLER_AGREE
    client.post(reverse("seller:case_message", args=[case.pk]), {"text": "hi"})
    assert not case.events.filter(action="message").exists()


def test_customer_service_staff_can_handle(client, trade):
    case = _case(trade, kind="refund_only", amount_fen=1500)
    client.force_login(_staff(trade, "service"))
    page = client.get(reverse("seller:case", args=[case.pk])).content.decode()
    assert 'data-testid="agree-form"' in page
    assert client.post(reverse("seller:case_agree", args=[case.pk])).status_code == 302
    assert _status(case) == RefundStatus.SUCCESS


# --- seller: violations, debts and the deposit ----------------------------------------------------


def test_violations_page_shows_points_debts_and_takes_a_deposit(client, trade):
    order = _paid(trade, ship=False)
    clock.advance(timedelta(hours=48, seconds=1))
    orders_sweep()  # late shipment: a violation and a compensation the platform pays
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:violations"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="violation-row" data-kind="late_shipment"' in html
    assert reverse("seller:order", args=[order.pk]) in html
    assert 'data-testid="violation-points">1<' in html
    assert 'data-testid="debt-row" data-kind="late_shipment"' in html
    assert "¥30.00 still to recover" in html
    assert "Violations and deposit" in html  # the nav
    # a bad amount and a wrong PIN are shown on the form; nothing moves
    bad = client.post(
        reverse("seller:violations"), {"amount": "1.234", "source": "wallet", "pin": PIN}
    )
    assert bad.status_code == 400 and "Enter an amount in yuan" in bad.content.decode()
    wrong = client.post(
        reverse("seller:violations"), {"amount": "100", "source": "wallet", "pin": "000000"}
    )
    assert wrong.status_code == 400
    assert shop_money(shop_id=trade.shop.pk).deposit_fen == 0
    from tests.trade.conftest import fund

    fund(trade.shop.owner, 50_000)
    paid = client.post(
        reverse("seller:violations"), {"amount": "200", "source": "wallet", "pin": PIN}
    )
    assert paid.status_code == 302
    money = shop_money(shop_id=trade.shop.pk)
    assert money.deposit_fen == 20_000 - 3000 and money.owed_fen == 0  # the debt was collected
    html = client.get(reverse("seller:violations")).content.decode()
    assert "¥200.00 paid into the shop deposit." in html
    assert "Settled" in html


def test_violations_page_for_staff_hides_the_money(client, trade):
    client.force_login(_staff(trade, "service"))
    page = client.get(reverse("seller:violations"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="deposit-form"' not in html and 'data-testid="debts"' not in html
    response = client.post(
        reverse("seller:violations"), {"amount": "100", "source": "wallet", "pin": PIN}
    )
    assert response.status_code == 400 and "does not allow this" in response.content.decode()


def test_refund_after_release_shows_on_the_debts(client, trade):
    order = _paid(trade)
    order_confirm(buyer=trade.buyer, order_id=order.pk, pin=PIN)
    case = _case(trade, order, kind="refund_only", amount_fen=5000)
    client.force_login(trade.shop.owner)
    assert client.post(reverse("seller:case_agree", args=[case.pk])).status_code == 302
    html = client.get(reverse("seller:violations")).content.decode()
    assert 'data-kind="refund_after_release"' in html


# --- the product form ---------------------------------------------------------------------------


def test_product_form_sends_the_no_reason_return_choice(client, trade):
    from tests.test_seller_console_pages import _product_post

    client.force_login(trade.shop.owner)
    form = client.get(reverse("seller:product_new")).content.decode()
    assert 'name="no_reason_return" value="1" checked' in form
    response = client.post(
        reverse("seller:product_new"),
        _product_post(trade.product.category_id, no_reason_return="0"),
    )
    assert response.status_code == 302
    product = Product.objects.exclude(pk=trade.product.pk).get()
    assert product.no_reason_return is False
    edit = client.get(reverse("seller:product_edit", args=[product.pk])).content.decode()
    assert 'name="no_reason_return" value="0" checked' in edit


def test_order_pages_say_auto_confirm_is_paused(client, trade):
    case = _case(trade)
    client.force_login(trade.buyer)
    page = client.get(reverse("orders:detail", args=[case.order_id])).content.decode()
    assert 'data-testid="confirm-paused"' in page
    client.force_login(trade.shop.owner)
    page = client.get(reverse("seller:order", args=[case.order_id])).content.decode()
    assert 'data-testid="confirm-paused"' in page


def test_buyer_list_marks_a_platform_intervention(client, trade):
    case = _case(trade, kind="refund_only", amount_fen=1000)
    aftersales.refund_refuse(actor=trade.shop.owner, case_id=case.pk, reason="不同意")
    aftersales.dispute_open(actor=trade.buyer, case_id=case.pk, reason="请平台处理")
    client.force_login(trade.buyer)
    page = client.get(reverse("aftersales:list")).content.decode()
    assert "Platform involved" in page
