"""Journey: buyer checks out and pays into escrow, the seller ships, the buyer confirms
receipt, and the seller sees the released money (less commission) as available."""

from playwright.sync_api import expect

from jishi.accounts.services import address_create, payment_pin_set
from jishi.ledger.check import ledger_check
from tests.trade.conftest import PIN, fund


def _login(page, user):
    page.goto("/account/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.raw_password)
    page.click("form.stack button[type=submit]")
    expect(page.locator(".topbar")).to_contain_text(user.username)


def _logout(page):
    page.click(".topbar form.inline button[type=submit] >> nth=0")


def test_checkout_pay_ship_confirm_release(page, make_user, make_shop, make_product, screenshot):
    shop = make_shop(name="赣南脐橙果园", province="江西省")
    make_product(
        shop,
        listed=True,
        title="赣南脐橙 新鲜当季 5斤装",
        skus=[{"specs": {"规格": "5斤"}, "price_fen": 4990, "stock": 20}],
    )
    buyer = make_user(username="橙子爱好者")
    payment_pin_set(user=buyer, password=buyer.raw_password, pin=PIN)
    address_create(
        user=buyer,
        recipient="王五",
        phone="13900001111",
        province="上海市",
        city="上海市",
        district="浦东新区",
        detail="世纪大道 100 号",
    )
    fund(buyer, 20_000)

    _login(page, buyer)
    page.goto("/")
    page.get_by_test_id("product-card").filter(has_text="赣南脐橙").click()
    page.click("button.spec-option[data-value='5斤']")
    page.fill("#qty", "2")
    page.get_by_test_id("buy-now").click()
    expect(page.get_by_test_id("checkout-total")).to_contain_text("99.80")
    page.get_by_test_id("place-order").click()
    page.get_by_test_id("pin").fill(PIN)
    screenshot("trade-pay")
    page.get_by_test_id("pay-submit").click()
    expect(page.get_by_test_id("order-status").first).to_contain_text("待发货")
    _logout(page)

    _login(page, shop.owner)
    page.goto("/seller/orders/")
    page.get_by_test_id("ship-link").first.click()
    page.select_option("#carrier", index=1)
    page.fill("#tracking_no", "SF1234567890")
    page.get_by_test_id("ship-submit").click()
    screenshot("trade-seller-order")
    _logout(page)

    _login(page, buyer)
    page.goto("/orders/")
    page.get_by_test_id("action-confirm").first.click()
    page.locator("details[open] input[name=pin]").fill(PIN)
    page.locator("details[open] button[type=submit]").click()
    expect(page.get_by_test_id("order-status").first).to_contain_text("已完成")
    _logout(page)

    _login(page, shop.owner)
    page.goto("/seller/finance/")
    # 99.80 paid, 2 % commission (2.00) to the platform, 97.80 available to the shop
    expect(page.get_by_test_id("money-available")).to_contain_text("97.80")
    expect(page.get_by_test_id("money-pending")).to_contain_text("0.00")
    screenshot("trade-seller-finance")
    assert ledger_check().ok
