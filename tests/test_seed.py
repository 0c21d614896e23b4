"""`jishi seed`: the demo marketplace loads through the services, once, and looks like a store."""

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Count, Q

from jishi.accounts.models import (
    Address,
    BankCard,
    Notification,
    OperatorRole,
    RealNameVerification,
    User,
    VerificationStatus,
)
from jishi.accounts.services import payment_pin_verify
from jishi.accounts.validators import bank_card_is_valid, id_number_is_valid
from jishi.aftersales.models import Dispute, DisputeStatus, RefundCase, RefundStatus
from jishi.aftersales.timers import cases_sweep
from jishi.catalog.models import Category, Product, ProductImage, ProductStatus, Sku
from jishi.core import clock
from jishi.core.demo import credentials, data
from jishi.core.demo.seeder import (
    attributes_of,
    card_number,
    id_number,
    mobile,
    price_fen,
    skus_of,
    specs_parse,
)
from jishi.core.demo.svg import logo_svg, product_svg
from jishi.core.models import AuditLog
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.orders.timers import orders_sweep
from jishi.payments.models import DebtKind, ShopDebt
from jishi.payments.selectors import shop_money
from jishi.shops.models import Shop, ShopStaff, StaffRole, Violation


@pytest.fixture
def media(settings, tmp_path):
    """Generated pictures go to a temporary MEDIA_ROOT; a fast hasher keeps the test quick."""
    settings.MEDIA_ROOT = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path


def _seed() -> str:
    out = StringIO()
    call_command("seed", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = (
        User,
        Shop,
        ShopStaff,
        Category,
        Product,
        Sku,
        ProductImage,
        Address,
        RealNameVerification,
        BankCard,
        Notification,
        AuditLog,
        RefundCase,
        Dispute,
        Violation,
        ShopDebt,
        Transfer,
    )
    counts = {model.__name__: model.objects.count() for model in models}
    counts["sales"] = sum(Product.objects.values_list("sales_count", flat=True))
    return counts


@pytest.mark.django_db
def test_seed_builds_the_demo_marketplace(media, client):
    output = _seed()
    assert "demo data loaded" in output
    assert "buyer12345" in output and data.PASSWORD in output  # credentials are printed

    # shops: at least five, open, of every type, each with a province, city and logo file
    shops = list(Shop.objects.all())
    assert len(shops) >= 5
    assert {shop.shop_type for shop in shops} == {"C2C", "B2C", "B2B"}
    for shop in shops:
        assert shop.status == "open" and shop.province and shop.city and shop.description
        assert shop.logo.name.endswith(".svg") and default_storage.exists(shop.logo.name)

    # categories: top levels with icon and English name; at least 8 leaves hold listed products
    tops = Category.objects.filter(parent__isnull=True)
    assert tops.count() >= 8
    assert all(top.icon and top.name_en for top in tops)
    assert len({top.commission_rate_bp for top in tops}) >= 3
    leaves_with_products = Category.objects.filter(
        children__isnull=True, products__status=ProductStatus.LISTED
    ).distinct()
    assert leaves_with_products.count() >= 8

    # products: 60+, mostly listed, a few unlisted/draft, ~10 featured, sales vary
    products = Product.objects.annotate(
        stocked=Count("skus", filter=Q(skus__stock__gt=0, skus__is_active=True)),
        sku_count=Count("skus", distinct=True),
        image_count=Count("images", distinct=True),
    )
    assert products.count() >= 60
    listed = products.filter(status=ProductStatus.LISTED)
    assert listed.count() >= 55
    assert products.filter(status__in=[ProductStatus.DRAFT, ProductStatus.UNLISTED]).count() >= 2
    for product in listed:
        assert product.stocked >= 1, product.title
        assert product.image_count >= 1, product.title
    for product in products:
        assert 1 <= product.sku_count <= 6 and 1 <= product.image_count <= 3, product.title
        assert 3 <= len(product.attributes) <= 6, product.title
        assert product.subtitle and product.brand and product.spec_names
        assert product.description.count("\n\n") >= 2  # several paragraphs
        assert product.price_min_fen > 0
    assert 8 <= Product.objects.filter(is_featured=True).count() <= 12
    assert Sku.objects.filter(stock=0).count() >= 3
    assert len(set(listed.values_list("sales_count", flat=True))) > 30
    image = ProductImage.objects.first()
    assert default_storage.open(image.file.name).read().startswith(b"<svg")

    # people: roles, PINs, addresses, verification states
    operator = User.objects.get(username=data.OPERATOR)
    assert operator.is_staff and operator.operator_role == OperatorRole.ADMIN
    assert User.objects.get(username=data.REVIEWER).operator_role == OperatorRole.REVIEWER
    buyer = User.objects.get(username="buyer")
    assert buyer.addresses.count() == 2 and buyer.addresses.filter(is_default=True).count() == 1
    payment_pin_verify(user=buyer, pin=data.PAYMENT_PIN)
    seller = User.objects.get(username="seller")
    payment_pin_verify(user=seller, pin=data.PAYMENT_PIN)
    assert seller.owned_shop == Shop.objects.order_by("id").first()
    assert BankCard.objects.filter(user=seller, is_active=True).exists()
    staff_roles = set(
        ShopStaff.objects.filter(shop=seller.owned_shop).values_list("role", flat=True)
    )
    assert staff_roles == {StaffRole.OWNER, StaffRole.SERVICE, StaffRole.WAREHOUSE}
    assert RealNameVerification.objects.get(user__username=data.APPLICANT).status == (
        VerificationStatus.PENDING
    )
    assert RealNameVerification.objects.filter(status=VerificationStatus.VERIFIED).count() == (
        len(shops)
    )

    # every demo account logs in with the printed password; the login page works too
    for _who, username, password, _notes in credentials():
        assert client.login(username=username, password=password), username
        client.logout()
    response = client.post("/account/login/", {"username": "buyer", "password": "buyer12345"})
    assert response.status_code == 302
    client.logout()

    # the storefront shows the shops in Chinese, and product pages and pictures are served
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert sum(shop.name in home for shop in shops) >= 5
    product = listed.filter(is_featured=True).first()
    page = client.get(f"/item/{product.pk}/").content.decode()
    assert product.title in page and product.cover.file.url in page
    assert default_storage.exists(product.cover.file.name)  # /media/ serving: see urls.py
    assert client.get(f"/shop/{shops[0].pk}/").status_code == 200

    _aftersales_states_are_there(shops)

    # a second run finds the data and changes nothing
    before = _counts()
    assert "demo data already present" in _seed()
    assert _counts() == before


def _aftersales_states_are_there(shops: list[Shop]) -> None:
    """After-sales in every state for the demo buyer, at zero drift, none of it due yet."""
    report = ledger_check()
    assert report.ok and report.orders >= 20, report.problems
    buyer = User.objects.get(username=data.BUYER[0])
    seller_shop = User.objects.get(username=data.SHOPS[0].seller.username).owned_shop
    cases = RefundCase.objects.filter(buyer=buyer)
    at_seller = cases.filter(shop=seller_shop)
    for status in (
        RefundStatus.WAIT_SELLER_AGREE,
        RefundStatus.WAIT_BUYER_RETURN_GOODS,
        RefundStatus.WAIT_SELLER_CONFIRM_GOODS,
    ):
        assert at_seller.filter(status=status).exists(), status
    refused = at_seller.filter(status=RefundStatus.SELLER_REFUSE_BUYER)
    assert refused.filter(disputes__isnull=True).exists()  # the buyer may still escalate
    assert cases.filter(status=RefundStatus.SUCCESS, refunded_fen__gt=0).count() >= 2
    assert cases.filter(status=RefundStatus.CLOSED, close_reason="buyer_cancelled").exists()
    exchange = cases.get(kind="exchange")
    assert exchange.exchange_sku_id != exchange.line.sku_id and exchange.is_open
    # platform intervention: one in the evidence phase, one ready to rule, one ruled
    disputes = Dispute.objects.filter(case__buyer=buyer)
    evidence = disputes.filter(status=DisputeStatus.EVIDENCE)
    assert any(not d.evidence_over for d in evidence) and any(d.evidence_over for d in evidence)
    for dispute in evidence:
        assert dispute.case.events.filter(is_evidence=True, party="seller").exists()
    ruled = disputes.get(status=DisputeStatus.RULED_BUYER)
    assert ruled.ruled_by.username == data.ARBITRATOR and ruled.case.status == "SUCCESS"
    assert Violation.objects.filter(case_id=ruled.case_id, kind="not_as_described").exists()
    arbitrator = User.objects.get(username=data.ARBITRATOR)
    assert arbitrator.operator_role == OperatorRole.ARBITRATOR
    # a late shipment paid the buyer compensation; an advance; a refund after release
    late = Violation.objects.get(shop=seller_shop, kind="late_shipment")
    assert late.compensation_fen > 0 and late.points > 0
    assert ShopDebt.objects.filter(shop=seller_shop, kind=DebtKind.ADVANCE).exists()
    assert ShopDebt.objects.filter(kind=DebtKind.REFUND_AFTER_RELEASE).exists()
    for shop in shops:  # every shop paid a deposit
        assert shop_money(shop_id=shop.pk).deposit_fen > 0, shop.name
    # every waiting case and order has its time left: the worker fires nothing at once
    now = clock.now()
    assert all(c.deadline > now for c in cases.filter(deadline__isnull=False))
    assert cases_sweep() == 0 and orders_sweep() == 0


@pytest.mark.django_db
def test_seed_skips_when_the_operator_exists(media):
    User.objects.create_user(username=data.OPERATOR, password="x-unused-9")
    assert "already present" in _seed()
    assert not Product.objects.exists() and not Shop.objects.exists()


# --- the data and generators, without the database ---------------------------------------------


def test_generated_ids_and_cards_pass_the_checks():
    sellers = [shop.seller for shop in data.SHOPS] + [data.APPLICANT_SELLER]
    numbers = [id_number(s.id_prefix, s.id_sequence) for s in sellers]
    assert all(id_number_is_valid(n) for n in numbers) and len(set(numbers)) == len(numbers)
    assert all(bank_card_is_valid(card_number(s.card_prefix)) for s in sellers)
    assert id_number("11010519491231", "002") == "11010519491231002X"  # the GB 11643 example
    assert all(len(mobile(n)) == 11 for n in range(100))


def test_prices_keep_the_base_and_round_the_rest():
    assert price_fen(79.9, [1, 1]) == 7990
    assert price_fen(79.9, [1.9]) == 15190  # 151.81 -> 152 -> 151.90
    assert price_fen(68, [1.9, 1.25]) == 16200  # 161.50 -> 162.00
    assert specs_parse("规格=250g*1,500g*1.9;包装=袋装*1") == [
        ("规格", [("250g", 1.0), ("500g", 1.9)]),
        ("包装", [("袋装", 1.0)]),
    ]


def test_catalogue_data_fits_the_model_limits():
    import random

    tops = {leaf.key: top for top in data.CATEGORIES for leaf in top.leaves}
    codes = [product.code for product in data.PRODUCTS]
    assert len(codes) == len(set(codes)) >= 60
    titles = [product.title for product in data.PRODUCTS]
    assert len(titles) == len(set(titles))
    for product in data.PRODUCTS:
        assert len(product.title) <= 60 and len(product.subtitle) <= 80, product.code
        assert 1 <= len(product.glyph) <= 2 and len(product.name) <= 6, product.code
        _names, skus = skus_of(product, 0, random.Random(1), wholesale=False)
        assert 1 <= len(skus) <= 6, product.code
        assert all(len(v) <= 20 for sku in skus for v in sku["specs"].values()), product.code
        assert all(i < len(skus) for i in product.sold_out), product.code
        if product.status == "listed":
            assert any(sku["stock"] for sku in skus), product.code
        assert 3 <= len(attributes_of(product, tops[product.leaf])) <= 6, product.code
    assert len({shop.name for shop in data.SHOPS}) == len(data.SHOPS) >= 5


def test_pictures_are_small_svg():
    picture = product_svg(glyph="白茶", name="安吉<白茶>", colors=("#fff", "#000"))
    assert picture.startswith(b"<svg") and b"&lt;" in picture and len(picture) < 2048
    for variant in (1, 2):
        assert (
            len(
                product_svg(
                    glyph="米", name="大米", colors=("#fff", "#000"), variant=variant, note="5kg"
                )
            )
            < 2048
        )
    assert len(logo_svg(text="五常", colors=("#fff", "#000"))) < 1024
