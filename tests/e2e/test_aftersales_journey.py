"""Journeys through after-sales (issue #4), each side in its own browser:

1. return and refund: the buyer asks from the order page with a photo, the seller agrees with
   a return address, the buyer ships the goods back, the seller confirms them, the money is
   back in the buyer's wallet;
2. a refused refund: the buyer asks the platform to step in, an arbitrator takes the case,
   both sides give evidence, the evidence phase ends (the shared clock moves: the live server
   runs in this process) and the arbitrator rules for the buyer.
"""

import re
from datetime import timedelta

import pytest
from django.utils import translation
from PIL import Image
from playwright.sync_api import expect

from jishi.accounts.services import address_create, payment_pin_set
from jishi.aftersales.models import Dispute, DisputeStatus, RefundCase, RefundStatus
from jishi.core import clock
from jishi.core.money import format_fen
from jishi.ledger.check import ledger_check
from jishi.orders.models import Order
from jishi.orders.services import group_pay, order_place, order_ship
from jishi.payments.selectors import wallet_balance
from tests.e2e.conftest import ARTIFACTS
from tests.trade.conftest import PIN, fund


def _login(page, user):
    page.goto("/account/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.raw_password)
    page.click("form.stack button[type=submit]")
    expect(page.locator(".topbar")).to_contain_text(user.username)


def _shot(page, name: str) -> None:
    """Full-page screenshot test-artifacts/aftersales-e2e-<name>.png, from the top (a page
    opened at an #anchor would show its sticky side column halfway down)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"aftersales-e2e-{name}.png"), full_page=True)


def _zh(label) -> str:
    """A label or msgid as the Chinese pages show it (the English msgid while untranslated)."""
    with translation.override("zh-hans"):
        return translation.gettext(label) if isinstance(label, str) else str(label)


def _expect_refund_completed(page) -> None:
    """The step bar's last step (退款成功) is reached."""
    last = page.get_by_test_id("case-steps").locator("li").last
    expect(last).to_have_class(re.compile(r"\bdone\b"))
    expect(last).to_contain_text(_zh("Refund completed"))


@pytest.fixture
def new_page(browser, live_server):
    """``new_page()`` -> a page in a fresh browser context (its own cookies: another user),
    with confirmation prompts accepted."""
    contexts = []

    def make():
        context = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}, base_url=live_server.url
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shipped_order(make_user, make_shop, make_product):
    """A shop selling one product, a buyer with a PIN, an address and money, and an order of
    two items (2 × 50.00) paid and shipped. Returns (order, buyer, shop)."""
    shop = make_shop(name="景德镇青花瓷坊", province="江西省")
    product = make_product(
        shop,
        listed=True,
        title="手绘青花瓷茶杯 对杯",
        skus=[{"specs": {"款式": "缠枝莲"}, "price_fen": 5000, "stock": 20}],
    )
    buyer = make_user(username="爱喝茶的小李")
    payment_pin_set(user=buyer, password=buyer.raw_password, pin=PIN)
    address = address_create(
        user=buyer,
        recipient="李四",
        phone="13912345678",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        detail="文三路 1 号",
    )
    fund(buyer, 30_000)
    group = order_place(
        buyer=buyer,
        items=[{"sku_id": product.skus.get().pk, "quantity": 2}],
        address_id=address.pk,
    )
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    order_ship(actor=shop.owner, order_id=order.pk, carrier="顺丰速运", tracking_no="SF100200300")
    return Order.objects.get(pk=order.pk), buyer, shop


def _png(tmp_path, name: str, colour: str):
    path = tmp_path / name
    Image.new("RGB", (320, 240), colour).save(path)
    return path


def _expect_status(page, status: str) -> None:
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", status)


def test_return_and_refund(page, new_page, shipped_order, tmp_path):
    order, buyer, shop = shipped_order
    before = wallet_balance(user_id=buyer.pk).balance_fen
    photo = _png(tmp_path, "cracked-cup.png", "#3a6ea5")
    page.on("dialog", lambda dialog: dialog.accept())

    # the buyer asks from the order page: return and refund, 30.00 of the 100.00, with a photo
    _login(page, buyer)
    page.goto(f"/orders/{order.pk}/")
    page.get_by_test_id("line-aftersales").get_by_test_id("apply-aftersales").click()
    expect(page.get_by_test_id("request-form")).to_be_visible()
    page.get_by_test_id("kind-return_refund").check()
    page.select_option("select[name=reason]", "quality")
    page.get_by_test_id("amount").fill("30.00")
    page.fill("textarea[name=description]", "杯口有一道裂纹")
    page.set_input_files("input[name=images]", str(photo))
    _shot(page, "1-request-form")
    page.get_by_test_id("request-submit").click()

    # the case page: waiting for the seller, with a ticking countdown
    expect(page).to_have_url(re.compile(r"/aftersales/\d+/$"))
    _expect_status(page, RefundStatus.WAIT_SELLER_AGREE)
    countdown = page.get_by_test_id("case-hint").locator("[data-seconds-left]")
    expect(countdown).to_be_visible()
    assert int(countdown.get_attribute("data-seconds-left")) > 0
    expect(page.get_by_test_id("case-amount")).to_contain_text("30.00")
    expect(page.locator(".as-thumbs img")).to_have_count(1)
    case = RefundCase.objects.get(order=order)
    assert case.kind == "return_refund" and case.amount_fen == 3000
    _shot(page, "1-case-waiting-seller")

    # the seller finds it in the after-sales queue and agrees, giving a return address
    seller = new_page()
    _login(seller, shop.owner)
    seller.goto("/seller/aftersales/")
    row = seller.locator(f"[data-testid=case-row][data-case='{case.pk}']")
    expect(row).to_have_attribute("data-status", RefundStatus.WAIT_SELLER_AGREE)
    _shot(seller, "1-seller-queue")
    row.get_by_test_id("case-handle").click()
    expect(seller.get_by_test_id("buyer-evidence").locator("img")).to_have_count(1)
    seller.fill(
        "textarea[name=return_address]", "王师傅 13800001111 江西省景德镇市珠山区瓷都大道 8 号"
    )
    _shot(seller, "1-seller-case")
    seller.get_by_test_id("agree-submit").click()
    _expect_status(seller, RefundStatus.WAIT_BUYER_RETURN_GOODS)

    # the buyer sees the address and ships the goods back
    page.reload()
    _expect_status(page, RefundStatus.WAIT_BUYER_RETURN_GOODS)
    expect(page.get_by_test_id("return-address")).to_contain_text("瓷都大道 8 号")
    form = page.get_by_test_id("return-form")
    form.locator("select[name=carrier]").select_option("中通快递")
    form.locator("input[name=tracking_no]").fill("ZT7788990011")
    _shot(page, "1-return-form")
    page.get_by_test_id("return-submit").click()
    _expect_status(page, RefundStatus.WAIT_SELLER_CONFIRM_GOODS)

    # the seller sees the parcel and confirms the goods (a confirmation prompt, accepted)
    seller.reload()
    _expect_status(seller, RefundStatus.WAIT_SELLER_CONFIRM_GOODS)
    expect(seller.get_by_test_id("return-parcel")).to_contain_text("ZT7788990011")
    seller.get_by_test_id("goods-confirm-submit").click()
    _expect_status(seller, RefundStatus.SUCCESS)

    # the buyer: refund completed, 30.00 back in the wallet
    page.reload()
    _expect_status(page, RefundStatus.SUCCESS)
    expect(page.get_by_test_id("case-status")).to_contain_text(_zh(RefundStatus.SUCCESS.label))
    _expect_refund_completed(page)
    expect(page.get_by_test_id("case-hint")).to_contain_text("30.00")
    _shot(page, "1-refund-success")
    page.goto("/wallet/")
    expect(page.get_by_test_id("wallet-balance")).to_contain_text(format_fen(before + 3000))
    _shot(page, "1-wallet")
    assert wallet_balance(user_id=buyer.pk).balance_fen == before + 3000
    page.goto(f"/orders/{order.pk}/")
    expect(page.get_by_test_id("line-case")).to_have_attribute("data-status", RefundStatus.SUCCESS)
    report = ledger_check()
    assert report.ok, report.problems


def test_refused_refund_platform_rules_for_buyer(
    page, new_page, shipped_order, make_operator, tmp_path
):
    order, buyer, shop = shipped_order
    before = wallet_balance(user_id=buyer.pk).balance_fen
    arbitrator = make_operator("arbitrator")
    page.on("dialog", lambda dialog: dialog.accept())

    # the buyer asks for a refund only (the goods are kept), 40.00
    _login(page, buyer)
    page.goto(f"/orders/{order.pk}/")
    page.get_by_test_id("apply-aftersales").click()
    page.get_by_test_id("kind-refund_only").check()
    page.select_option("select[name=reason]", "not_as_described")
    page.get_by_test_id("amount").fill("40.00")
    page.fill("textarea[name=description]", "颜色和图片差很多")
    page.get_by_test_id("request-submit").click()
    _expect_status(page, RefundStatus.WAIT_SELLER_AGREE)
    case = RefundCase.objects.get(order=order)

    # the seller refuses with a reason
    seller = new_page()
    _login(seller, shop.owner)
    seller.goto(f"/seller/aftersales/{case.pk}/")
    seller.get_by_test_id("action-refuse").click()
    seller.fill("#refuse_reason", "商品与描述一致，发货前有实拍")
    seller.get_by_test_id("refuse-submit").click()
    _expect_status(seller, RefundStatus.SELLER_REFUSE_BUYER)

    # the buyer sees the refusal and asks the platform to step in
    page.reload()
    _expect_status(page, RefundStatus.SELLER_REFUSE_BUYER)
    expect(page.get_by_test_id("refuse-reason")).to_contain_text("发货前有实拍")
    page.get_by_test_id("action-dispute").click()
    page.fill("#dispute_reason", "实物颜色明显偏深，与详情页不符")
    _shot(page, "2-dispute-form")
    page.get_by_test_id("dispute-submit").click()
    expect(page.get_by_test_id("dispute-tag")).to_be_visible()
    expect(page.get_by_test_id("dispute")).to_have_attribute(
        "data-dispute-status", DisputeStatus.REQUESTED
    )
    dispute = Dispute.objects.get(case=case)

    # an arbitrator opens the queue, opens the case and takes it
    console = new_page()
    _login(console, arbitrator)
    console.goto("/console/disputes/")
    row = console.locator(f"[data-testid=dispute-row][data-dispute-id='{dispute.pk}']")
    expect(row).to_be_visible()
    _shot(console, "2-console-queue")
    row.locator(f"a[href$='/console/disputes/{dispute.pk}/']").first.click()
    expect(console.get_by_test_id("case-request")).to_contain_text("实物颜色明显偏深")
    console.get_by_test_id("take").click()
    expect(console.get_by_test_id("evidence-countdown")).to_be_visible()
    expect(console.get_by_test_id("rule-form")).to_be_visible()
    _shot(console, "2-console-evidence")

    # evidence: the buyer with a photo, the seller with text
    page.reload()
    expect(page.get_by_test_id("dispute")).to_have_attribute(
        "data-dispute-status", DisputeStatus.EVIDENCE
    )
    expect(page.get_by_test_id("evidence-deadline")).to_be_visible()
    page.get_by_test_id("action-message").click()
    page.fill("#message_text", "收货时拍的照片，颜色明显不同")
    page.set_input_files("#message_images", str(_png(tmp_path, "colour.png", "#1b2a49")))
    page.get_by_test_id("message-submit").click()
    evidence = page.locator("[data-testid=event][data-action=evidence]")
    expect(evidence).to_have_count(1)
    expect(evidence.locator("img")).to_have_count(1)
    _shot(page, "2-buyer-evidence")

    seller.reload()
    seller.get_by_test_id("action-message").click()
    seller.fill("#message_text", "同批次其他买家无反馈，色差在正常范围")
    seller.get_by_test_id("message-submit").click()
    expect(seller.locator("[data-testid=event][data-action=evidence]")).to_have_count(2)

    # three days later the evidence phase is over; the arbitrator rules for the buyer
    clock.advance(timedelta(days=3, minutes=1))
    console.reload()
    expect(console.locator("[data-testid=case-event][data-action=evidence]")).to_have_count(2)
    expect(console.get_by_test_id("evidence-countdown")).to_have_count(0)
    form = console.get_by_test_id("rule-form")
    form.locator("input[name=decision][value=buyer]").check()
    form.locator("input[name=amount]").fill("35.00")
    form.locator("input[name=not_as_described]").check()
    form.locator("textarea[name=reason]").fill("买家照片显示颜色与详情页明显不符，部分退款")
    _shot(console, "2-console-rule-form")
    console.get_by_test_id("rule-submit").click()
    expect(console.get_by_test_id("ruling")).to_contain_text("35.00")
    expect(console.get_by_test_id("dispute-status")).to_contain_text(
        _zh(DisputeStatus.RULED_BUYER.label)
    )
    expect(console.locator("[data-testid=transfer-row]")).not_to_have_count(0)
    _shot(console, "2-console-ruled")

    # the buyer sees the ruling and the refund; the money is back
    page.reload()
    _expect_status(page, RefundStatus.SUCCESS)
    expect(page.get_by_test_id("case-status")).to_contain_text(_zh(RefundStatus.SUCCESS.label))
    _expect_refund_completed(page)
    ruling = page.get_by_test_id("dispute")
    expect(ruling).to_have_attribute("data-dispute-status", DisputeStatus.RULED_BUYER)
    expect(ruling).to_contain_text("35.00")
    expect(ruling).to_contain_text("部分退款")
    _shot(page, "2-buyer-ruled")
    assert wallet_balance(user_id=buyer.pk).balance_fen == before + 3500
    page.goto("/wallet/")
    expect(page.get_by_test_id("wallet-balance")).to_contain_text(format_fen(before + 3500))
    report = ledger_check()
    assert report.ok, report.problems
