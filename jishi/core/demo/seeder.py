"""Build the demo marketplace through the services, so it obeys the same rules as real users.

Two writes go around the services on purpose:
- ``Product.sales_count`` is a counter owned by the order code, set here with one update;
- the generated SVG pictures are stored directly (``ProductImage`` rows, ``Shop.logo``):
  the upload services decode images with Pillow and rightly refuse SVG, which can carry
  scripts when a user uploads it. These files are drawn by ``svg.py``, not uploaded.
"""

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, zip_longest
from math import prod

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from jishi.accounts import services as accounts
from jishi.accounts.models import User
from jishi.accounts.validators import bank_card_is_valid, id_number_is_valid
from jishi.catalog import services as catalog
from jishi.catalog.models import Category, Product, ProductImage
from jishi.core.demo import data
from jishi.core.demo.svg import logo_svg, product_svg
from jishi.shops import services as shops
from jishi.shops.models import Shop

RANDOM_SEED = 20250301


@dataclass
class SeedReport:
    seconds: float = 0.0
    categories: int = 0
    shops: int = 0
    products: int = 0
    listed: int = 0
    skus: int = 0
    images: int = 0
    shop_names: list[str] = field(default_factory=list)


def demo_present() -> bool:
    return User.objects.filter(username=data.OPERATOR).exists()


def credentials() -> list[tuple[str, str, str, str]]:
    """(who, username, password, notes) for every demo login, as the README lists them."""
    first = data.SHOPS[0]
    rows = [
        ("buyer", data.BUYER[0], data.BUYER[1], f"payment PIN {data.PAYMENT_PIN}, two addresses"),
        (
            "seller",
            first.seller.username,
            data.PASSWORD,
            f"owns {first.name}; payment PIN {data.PAYMENT_PIN}",
        ),
    ]
    rows += [
        ("seller", shop.seller.username, data.PASSWORD, f"owns {shop.name}")
        for shop in data.SHOPS[1:]
    ]
    rows += [
        ("shop staff", username, data.STAFF_PASSWORD, f"{role}, {first.name}")
        for username, role in data.STAFF
    ]
    rows += [
        ("operator", data.OPERATOR, data.PASSWORD, "console, role admin"),
        ("operator", data.REVIEWER, data.PASSWORD, "console, role reviewer"),
        ("applicant", data.APPLICANT, data.PASSWORD, "real-name verification pending"),
    ]
    return rows


# --- small generators -------------------------------------------------------------------------


def id_number(prefix: str, sequence: str) -> str:
    """A resident ID number with a correct GB 11643 check character."""
    body = prefix + sequence
    for check in "0123456789X":
        if id_number_is_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check character always fits")


def card_number(prefix: str) -> str:
    """A bank card number with a correct Luhn check digit."""
    for check in "0123456789":
        if bank_card_is_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable: one check digit always fits")


def mobile(n: int) -> str:
    return f"1{(3, 5, 8, 9)[n % 4]}{(700000000 + n * 7_919_113) % 1_000_000_000:09d}"


def specs_parse(text: str) -> list[tuple[str, list[tuple[str, float]]]]:
    """ "规格=250g*1,500g*1.9;包装=袋装*1" -> [("规格", [("250g", 1.0), ("500g", 1.9)]), ...]"""
    dims = []
    for part in text.split(";"):
        name, values = part.split("=")
        dims.append(
            (
                name,
                [
                    (value, float(factor))
                    for value, factor in (item.rsplit("*", 1) for item in values.split(","))
                ],
            )
        )
    return dims


def price_fen(base_yuan: float, factors: Iterable[float]) -> int:
    base = round(base_yuan * 100)
    factor = prod(factors)
    if factor == 1:
        return base
    raw = base * factor
    whole = max(1, round(raw / 100)) * 100
    return whole - 10 if base % 100 == 90 else whole  # keep the shop's ".90" pricing style


def skus_of(
    product: data.ProductData, index: int, rng: random.Random, wholesale: bool
) -> tuple[list[str], list[dict]]:
    dims = specs_parse(product.specs)
    names = [name for name, _values in dims]
    combos: list[list[tuple[str, float]]] = [[]]
    for _name, values in dims:
        combos = [[*combo, value] for combo in combos for value in values]
    rows = []
    for n, combo in enumerate(combos):
        price = price_fen(product.price, (factor for _value, factor in combo))
        stock = (
            0
            if n in product.sold_out
            else (rng.randint(200, 3000) if wholesale else rng.randint(12, 600))
        )
        rows.append(
            {
                "specs": {name: value for name, (value, _f) in zip(names, combo, strict=True)},
                "price_fen": price,
                "list_price_fen": round(price * 1.25 / 100) * 100 if index % 3 == 0 else None,
                "stock": stock,
                "code": f"{product.code.upper()}-{n + 1:02d}",
            }
        )
    return names, rows


def attributes_of(product: data.ProductData, top: data.Top) -> list[list[str]]:
    attrs = [list(pair) for pair in product.attrs]
    if not product.plain:
        names = {name for name, _value in attrs}
        attrs += [[name, value] for name, value in top.attrs if name not in names]
    return attrs[:6]


def description_of(product: data.ProductData, top: data.Top, shop: data.ShopData) -> str:
    return "\n\n".join([product.intro, top.advice, shop.shipping])


def _store(path: str, content: bytes) -> str:
    """Save a generated file under a fixed name (replacing an earlier seed's file)."""
    if default_storage.exists(path):
        default_storage.delete(path)
    return default_storage.save(path, ContentFile(content))


def _picture_notes(product: data.ProductData, names: list[str], skus: list[dict]) -> list[str]:
    origin = dict(product.attrs).get("产地", "")
    origin = origin[:10] if origin else product.brand
    specs = " / ".join(dict.fromkeys(sku["specs"][names[0]] for sku in skus)) if names else ""
    return ["", f"{origin} · 产地直发", specs[:22] or product.subtitle[:14]]


# --- the seed ---------------------------------------------------------------------------------


def _categories(operator: User) -> tuple[dict[str, Category], dict[str, data.Top]]:
    leaves: dict[str, Category] = {}
    top_of_leaf: dict[str, data.Top] = {}
    for position, top in enumerate(data.CATEGORIES, start=1):
        parent = catalog.category_create(
            operator=operator,
            name=top.name,
            name_en=top.name_en,
            icon=top.icon,
            commission_rate_bp=top.rate_bp,
            position=position * 10,
        )
        for sub_position, leaf in enumerate(top.leaves, start=1):
            leaves[leaf.key] = catalog.category_create(
                operator=operator,
                name=leaf.name,
                name_en=leaf.name_en,
                parent_id=parent.pk,
                commission_rate_bp=leaf.rate_bp or top.rate_bp,
                position=sub_position * 10,
            )
            top_of_leaf[leaf.key] = top
    return leaves, top_of_leaf


def _seller(seller: data.Seller, n: int, reviewer: User | None) -> User:
    user = accounts.user_register(username=seller.username, password=data.PASSWORD, phone=mobile(n))
    record = accounts.verification_submit(
        user=user,
        real_name=seller.real_name,
        id_number=id_number(seller.id_prefix, seller.id_sequence),
        bank_name=seller.bank_name,
        bank_card=card_number(seller.card_prefix),
    )
    if reviewer is not None:
        accounts.verification_decide(operator=reviewer, verification_id=record.pk, approve=True)
    return user


def _shops(reviewer: User) -> dict[str, Shop]:
    opened = {}
    for n, shop_data in enumerate(data.SHOPS, start=1):
        owner = _seller(shop_data.seller, n, reviewer)
        shop = shops.shop_open(
            user=owner,
            name=shop_data.name,
            shop_type=shop_data.shop_type,
            description=shop_data.description,
            province=shop_data.province,
            city=shop_data.city,
        )
        logo = _store(
            f"demo/shops/{shop_data.key}.svg",
            logo_svg(text=shop_data.logo, colors=shop_data.colors),
        )
        Shop.objects.filter(pk=shop.pk).update(logo=logo)
        opened[shop_data.key] = shop
    return opened


def _people() -> None:
    buyer = accounts.user_register(
        username=data.BUYER[0], password=data.BUYER[1], phone=data.BUYER_ADDRESSES[0]["phone"]
    )
    accounts.payment_pin_set(user=buyer, password=data.BUYER[1], pin=data.PAYMENT_PIN)
    for address in data.BUYER_ADDRESSES:
        accounts.address_create(user=buyer, **address)
    seller = User.objects.get(username=data.SHOPS[0].seller.username)
    accounts.payment_pin_set(user=seller, password=data.PASSWORD, pin=data.PAYMENT_PIN)
    for username, role in data.STAFF:
        shops.staff_create(actor=seller, username=username, password=data.STAFF_PASSWORD, role=role)
    _seller(data.APPLICANT_SELLER, 99, reviewer=None)  # stays pending for the console queue


def _interleaved() -> list[data.ProductData]:
    """Products in shop round-robin order, so "new arrivals" mixes the shops."""
    by_shop: dict[str, list[data.ProductData]] = {}
    for product in data.PRODUCTS:
        by_shop.setdefault(product.shop, []).append(product)
    rounds = zip_longest(*by_shop.values())
    return [product for product in chain.from_iterable(rounds) if product is not None]


def _products(
    operator: User,
    shops_by_key: dict[str, Shop],
    leaves: dict[str, Category],
    top_of_leaf: dict[str, data.Top],
    report: SeedReport,
) -> None:
    rng = random.Random(RANDOM_SEED)  # noqa: S311 -- repeatable demo numbers, not secrets
    shop_data = {shop.key: shop for shop in data.SHOPS}
    sales: dict[int, list[int]] = {}
    for index, item in enumerate(_interleaved()):
        shop = shops_by_key[item.shop]
        owner = shop.owner
        top = top_of_leaf[item.leaf]
        spec_names, skus = skus_of(item, index, rng, wholesale=shop.shop_type == "B2B")
        product = catalog.product_create(
            actor=owner,
            skus=skus,
            category_id=leaves[item.leaf].pk,
            title=item.title,
            subtitle=item.subtitle,
            brand=item.brand,
            attributes=attributes_of(item, top),
            spec_names=spec_names,
            description=description_of(item, top, shop_data[item.shop]),
        )
        notes = _picture_notes(item, spec_names, skus)
        pictures = item.images or (1, 2, 1, 3, 2)[index % 5]
        for variant in range(pictures):
            name = _store(
                f"demo/products/{item.code}-{variant + 1}.svg",
                product_svg(
                    glyph=item.glyph,
                    name=item.name,
                    colors=top.colors,
                    variant=variant,
                    note=notes[variant],
                ),
            )
            ProductImage.objects.create(product=product, file=name, position=variant)
        report.images += pictures
        if item.status in ("listed", "unlisted"):
            catalog.product_list(actor=owner, product_id=product.pk)
        if item.status == "unlisted":
            catalog.product_unlist(actor=owner, product_id=product.pk)
        if item.featured:
            catalog.product_feature(operator=operator, product_id=product.pk, featured=True)
        count = (
            0
            if item.status == "draft"
            else (rng.randint(800, 6000) if item.featured else rng.randint(3, 900))
        )
        sales.setdefault(count, []).append(product.pk)
        report.products += 1
        report.listed += item.status == "listed"
        report.skus += len(skus)
    for count, ids in sales.items():  # a counter owned by the order code; set once here
        Product.objects.filter(pk__in=ids).update(sales_count=count)


def _trade(shops_by_key: dict[str, Shop]) -> None:
    """Postage rules, a funded wallet and orders in every state, all through the services."""
    from jishi.orders import services as orders
    from jishi.payments.channels import sandbox
    from jishi.payments.services import callback_receive, topup_create

    for shop in shops_by_key.values():
        remote = {"新疆维吾尔自治区": 2000, "西藏自治区": 2500}
        remote.pop(shop.province, None)  # a shop ships cheaply within its own province
        orders.shipping_template_set(
            actor=shop.owner, default_fee_fen=800, free_over_fen=9900, province_fees=remote
        )
    buyer = User.objects.get(username=data.BUYER[0])
    topup = topup_create(user=buyer, amount_fen=500_000)
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=topup.amount_fen
    )
    callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))
    address = buyer.addresses.get(is_default=True)
    rng = random.Random(RANDOM_SEED)  # noqa: S311 -- repeatable demo orders
    shop_list = list(shops_by_key.values())
    # (how far the order goes) for eight demo orders across the shops
    stages = ["finished", "finished", "finished", "shipped", "paid", "paid", "unpaid", "refunded"]
    for n, stage in enumerate(stages):
        shop = shop_list[n % len(shop_list)]
        skus = [
            sku
            for product in shop.products.filter(status="listed")
            for sku in product.skus.filter(is_active=True, stock__gt=5)
        ]
        chosen = rng.sample(skus, k=min(len(skus), 1 + n % 2))
        group = orders.order_place(
            buyer=buyer,
            address_id=address.pk,
            items=[{"sku_id": sku.pk, "quantity": 1 + rng.randrange(2)} for sku in chosen],
            notes={shop.pk: "请尽快发货，谢谢" if n % 3 == 0 else ""},
        )
        if stage == "unpaid":
            continue
        orders.group_pay(buyer=buyer, group_id=group.pk, pin=data.PAYMENT_PIN)
        order = group.orders.get()
        if stage == "refunded":
            orders.order_refund_before_shipment(buyer=buyer, order_id=order.pk)
            continue
        if stage == "paid":
            continue
        orders.order_ship(
            actor=shop.owner,
            order_id=order.pk,
            carrier="顺丰速运",
            tracking_no=f"SF14{rng.randrange(10**9, 10**10)}",
        )
        if stage == "finished":
            orders.order_confirm(buyer=buyer, order_id=order.pk, pin=data.PAYMENT_PIN)


def demo_seed() -> SeedReport | None:
    """Load the demo marketplace; return None (and change nothing) if it is already there."""
    started = time.monotonic()
    with transaction.atomic():
        if demo_present():
            return None
        report = SeedReport()
        operator = accounts.operator_create(
            username=data.OPERATOR, password=data.PASSWORD, role="admin"
        )
        reviewer = accounts.operator_create(
            username=data.REVIEWER, password=data.PASSWORD, role="reviewer"
        )
        leaves, top_of_leaf = _categories(operator)
        shops_by_key = _shops(reviewer)
        _people()
        _products(operator, shops_by_key, leaves, top_of_leaf, report)
        _trade(shops_by_key)
    report.categories = len(data.CATEGORIES) + len(leaves)
    report.shops = len(shops_by_key)
    report.shop_names = [shop.name for shop in shops_by_key.values()]
    report.seconds = time.monotonic() - started
    return report
