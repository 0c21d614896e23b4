"""Journey: a visitor registers, logs out and in again, browses and opens a product."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import expect

from jishi.catalog.services import product_create, product_list


def _png(colour: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), colour).save(buffer, format="PNG")
    return SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")


def _tea_product(make_shop, make_category_tree):
    tree = make_category_tree()
    shop = make_shop(name="安吉白茶小铺", province="浙江省", city="湖州市")
    product = product_create(
        actor=shop.owner,
        category_id=tree.leaf.pk,
        title="明前安吉白茶 一级 礼盒装",
        subtitle="高山茶园 当季新茶",
        brand="溪龙",
        attributes=[["产地", "浙江安吉"]],
        spec_names=["规格"],
        skus=[
            {"specs": {"规格": "125g"}, "price_fen": 12800, "stock": 10},
            {"specs": {"规格": "250g"}, "price_fen": 23800, "stock": 3},
        ],
        images=[_png("#7cb342")],
    )
    product_list(actor=shop.owner, product_id=product.pk)
    return tree, shop, product


def test_register_login_browse_open_product(page, make_shop, make_category_tree, screenshot):
    tree, _shop, _product = _tea_product(make_shop, make_category_tree)

    page.goto("/account/register/")
    page.fill("input[name=username]", "小明买茶")
    page.fill("input[name=password]", "tea2024good")
    page.fill("input[name=password2]", "tea2024good")
    page.click("form.stack button[type=submit]")
    expect(page.locator(".topbar")).to_contain_text("小明买茶")

    page.click(".topbar form.inline button[type=submit] >> nth=0")  # log out
    expect(page.locator(".topbar")).not_to_contain_text("小明买茶")
    page.goto("/account/login/")
    page.fill("input[name=username]", "小明买茶")
    page.fill("input[name=password]", "tea2024good")
    page.click("form.stack button[type=submit]")
    expect(page.locator(".topbar")).to_contain_text("小明买茶")

    page.goto("/")
    expect(page.get_by_test_id("product-card").first).to_be_visible()
    screenshot("home")
    page.locator(".catnav a").first.click()
    expect(page.locator(".crumbs")).to_contain_text(tree.root.name)
    page.get_by_test_id("product-card").filter(has_text="安吉白茶").click()

    expect(page.get_by_test_id("product-title")).to_have_text("明前安吉白茶 一级 礼盒装")
    expect(page.get_by_test_id("shop-card")).to_contain_text("安吉白茶小铺")
    expect(page.get_by_test_id("price")).to_have_text("128.00 - 238.00")
    page.click("button.spec-option[data-value='250g']")
    expect(page.get_by_test_id("price")).to_have_text("238.00")
    expect(page.get_by_test_id("stock")).to_have_text("3")
    screenshot("product")


def test_search_box_finds_by_keyword(page, make_shop, make_category_tree):
    _tea_product(make_shop, make_category_tree)
    page.goto("/")
    page.fill(".searchbox input[name=q]", "白茶")
    page.press(".searchbox input[name=q]", "Enter")
    expect(page.get_by_test_id("product-card")).to_have_count(1)
    page.fill(".searchbox input[name=q]", "不存在的东西")
    page.press(".searchbox input[name=q]", "Enter")
    expect(page.get_by_test_id("product-card")).to_have_count(0)


def test_quantity_is_clamped_to_the_chosen_skus_stock(page, make_shop, make_category_tree):
    _tree, _shop, product = _tea_product(make_shop, make_category_tree)
    page.goto(f"/item/{product.pk}/")
    qty = page.locator("#qty")
    page.click("button.spec-option[data-value='250g']")  # stock 3
    qty.fill("10")
    expect(qty).to_have_value("3")
    page.click(".qty button[data-step='1']")
    expect(qty).to_have_value("3")
    expect(page.locator("[data-buy-qty]").first).to_have_value("3")
    page.click("button.spec-option[data-value='125g']")  # stock 10: 3 is still fine
    expect(qty).to_have_value("3")
    qty.fill("12")
    expect(qty).to_have_value("10")
    qty.fill("0")
    qty.press("Tab")
    expect(qty).to_have_value("1")
    page.click("button.spec-option[data-value='125g']")  # unchosen: no limit to clamp to
    page.click("button.spec-option[data-value='250g']")
    qty.fill("5")
    expect(qty).to_have_value("3")
