"""Journey: a seller creates a product with SKUs in the seller center, lists it, and finds it
in the storefront."""

from PIL import Image
from playwright.sync_api import expect


def _login(page, user):
    page.goto("/account/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.raw_password)
    page.click("form.stack button[type=submit]")
    expect(page.locator(".topbar")).to_contain_text(user.username)


def test_seller_lists_product_and_sees_it_in_storefront(
    page, make_shop, make_category_tree, tmp_path, screenshot
):
    tree = make_category_tree()
    shop = make_shop(name="五常稻香米行", province="黑龙江省", city="哈尔滨市")
    image = tmp_path / "rice.png"
    Image.new("RGB", (500, 500), "#f5deb3").save(image)
    _login(page, shop.owner)

    page.goto("/seller/")
    screenshot("seller-dashboard")
    page.goto("/seller/products/new/")
    page.select_option("select[name=category_id]", str(tree.leaf.pk))
    page.fill("input[name=title]", "五常稻花香大米 新米 真空包装")
    page.fill("input[name=subtitle]", "当季新米 产地直发")
    page.fill("input[name=spec_name_1]", "规格")
    page.fill("input[name=spec_values_1]", "2.5kg, 5kg")
    page.click("[data-testid=refresh-skus]")
    prices = page.locator("input[name=sku_price]")
    expect(prices).to_have_count(2)
    prices.nth(0).fill("39.90")
    prices.nth(1).fill("69.90")
    stocks = page.locator("input[name=sku_stock]")
    stocks.nth(0).fill("100")
    stocks.nth(1).fill("0")
    page.set_input_files("input[name=images]", str(image))
    screenshot("seller-product-form")
    page.click("[data-testid=save-product]")

    row = page.get_by_test_id("product-row").filter(has_text="五常稻花香大米")
    expect(row).to_be_visible()
    row.locator("form[action$='/list/'] button").click()
    page.goto("/seller/products/?status=listed")
    expect(page.get_by_test_id("product-row").filter(has_text="五常稻花香大米")).to_be_visible()
    screenshot("seller-products")

    page.goto("/")
    card = page.get_by_test_id("product-card").filter(has_text="五常稻花香大米")
    expect(card).to_be_visible()
    card.click()
    expect(page.get_by_test_id("product-title")).to_have_text("五常稻花香大米 新米 真空包装")
    expect(page.get_by_test_id("price")).to_have_text("39.90 - 69.90")
    expect(page.locator("button.spec-option[data-value='5kg']")).to_be_disabled()
    page.click("button.spec-option[data-value='2.5kg']")
    expect(page.get_by_test_id("stock")).to_have_text("100")
