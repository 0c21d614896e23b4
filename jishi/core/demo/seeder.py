"""Build the demo marketplace through the services, so it obeys the same rules as real users.

After-sales (cases in every state, disputes, a ruling, a late shipment, deposits, an advance)
is built the same way, partly in the past: the clock (``jishi.core.clock``) is moved back while
an order is bought or a case is answered, so every waiting case keeps the time its timer
still has, and one dispute's evidence phase is already over.

Two writes go around the services on purpose:
- ``Product.sales_count`` is a counter owned by the order code, set here with one update;
- the generated SVG pictures are stored directly (``ProductImage`` rows, ``Shop.logo``):
  the upload services decode images with Pillow and rightly refuse SVG, which can carry
  scripts when a user uploads it. These files are drawn by ``svg.py``, not uploaded.
"""

import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain, zip_longest
from math import prod

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from jishi.accounts import services as accounts
from jishi.accounts.models import User
from jishi.accounts.validators import bank_card_is_valid, id_number_is_valid
from jishi.catalog import services as catalog
from jishi.catalog.models import Category, Product, ProductImage, Sku
from jishi.core import clock
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
        ("seller", shop.seller.username, data.PASSWORD, f"owns {shop.name}; PIN {data.PAYMENT_PIN}")
        for shop in data.SHOPS[1:]
    ]
    rows += [
        ("shop staff", username, data.STAFF_PASSWORD, f"{role}, {first.name}")
        for username, role in data.STAFF
    ]
    rows += [
        ("operator", data.OPERATOR, data.PASSWORD, "console, role admin"),
        ("operator", data.REVIEWER, data.PASSWORD, "console, role reviewer"),
        ("operator", data.ARBITRATOR, data.PASSWORD, "console, role arbitrator (disputes)"),
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

    for shop in shops_by_key.values():
        remote = {"新疆维吾尔自治区": 2000, "西藏自治区": 2500}
        remote.pop(shop.province, None)  # a shop ships cheaply within its own province
        orders.shipping_template_set(
            actor=shop.owner, default_fee_fen=800, free_over_fen=9900, province_fees=remote
        )
    buyer = User.objects.get(username=data.BUYER[0])
    _fund(buyer, 500_000)
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


# --- after-sales ------------------------------------------------------------------------------


@contextmanager
def _days_ago(days: float) -> Iterator[None]:
    """Run the block as if it were ``days`` ago (the rehearsal moves the clock the same way)."""
    delta = timedelta(days=days)
    clock.advance(-delta)
    try:
        yield
    finally:
        clock.advance(delta)


class _Buyer:
    """The demo buyer's after-sales actions, with the services' plumbing in one place."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.address = user.addresses.get(is_default=True)
        self.parcels = 0

    def bought(self, sku: Sku, *, quantity: int = 1, ship: bool = True, confirm: bool = False):
        from jishi.orders import services as orders
        from jishi.orders.models import Order

        group = orders.order_place(
            buyer=self.user,
            address_id=self.address.pk,
            items=[{"sku_id": sku.pk, "quantity": quantity}],
        )
        orders.group_pay(buyer=self.user, group_id=group.pk, pin=data.PAYMENT_PIN)
        order = group.orders.get()
        if ship:
            self.parcels += 1
            orders.order_ship(
                actor=order.shop.owner,
                order_id=order.pk,
                carrier=data.CARRIERS[self.parcels % len(data.CARRIERS)],
                tracking_no=f"SF15{20250300 + self.parcels * 7919:010d}",
            )
        if confirm:
            orders.order_confirm(buyer=self.user, order_id=order.pk, pin=data.PAYMENT_PIN)
        return Order.objects.get(pk=order.pk)

    def request(self, order, *, kind: str, reason: str, text: str, percent: int = 100, to=None):
        from jishi.aftersales import services as aftersales
        from jishi.orders.models import Order

        order = Order.objects.prefetch_related("lines").get(pk=order.pk)
        line = order.lines.all()[0]
        most = aftersales.line_refundable_fen(order, line)
        return aftersales.refund_request(
            buyer=self.user,
            order_id=order.pk,
            line_id=line.pk,
            kind=kind,
            reason=reason,
            description=text,
            amount_fen=None if kind == "exchange" else max(1, most * percent // 100),
            exchange_sku_id=to.pk if to is not None else None,
        )

    def ship_back(self, case) -> None:
        from jishi.aftersales import services as aftersales

        self.parcels += 1
        aftersales.refund_return_ship(
            buyer=self.user,
            case_id=case.pk,
            carrier="圆通速递",
            tracking_no=f"YT98{20250300 + self.parcels * 7919:010d}",
        )


def _return_address(shop: Shop) -> str:
    return f"{shop.province}{shop.city} {shop.name} 售后组（收）"


def _stocked_skus(shop: Shop) -> list[Sku]:
    return list(
        Sku.objects.filter(
            product__shop=shop, product__status="listed", is_active=True, stock__gt=5
        ).order_by("product_id", "pk")
    )


def _exchange_pair(shop: Shop) -> tuple[Sku, Sku]:
    """A product with a dearer and a cheaper option in stock: bought dear, exchanged cheap."""
    by_product: dict[int, list[Sku]] = {}
    for sku in _stocked_skus(shop):
        by_product.setdefault(sku.product_id, []).append(sku)
    for skus in by_product.values():
        prices = sorted(skus, key=lambda sku: (sku.price_fen, sku.pk))
        if prices[0].price_fen < prices[-1].price_fen:
            return prices[-1], prices[0]
    raise AssertionError("the demo catalogue has products with several prices")


def _disputed(buyer: _Buyer, case, arbitrator: User, *, refuse: str):
    """The seller refuses, the buyer asks the platform in, the arbitrator takes it and both
    sides add evidence."""
    from jishi.aftersales import services as aftersales

    owner = case.shop.owner
    aftersales.refund_refuse(actor=owner, case_id=case.pk, reason=refuse)
    dispute = aftersales.dispute_open(actor=buyer.user, case_id=case.pk, reason=data.DISPUTE_TEXT)
    aftersales.dispute_take(operator=arbitrator, dispute_id=dispute.pk)
    aftersales.case_message_add(actor=buyer.user, case_id=case.pk, text=data.EVIDENCE_TEXT["buyer"])
    aftersales.case_message_add(actor=owner, case_id=case.pk, text=data.EVIDENCE_TEXT["seller"])
    return dispute


def _aftersales(shops_by_key: dict[str, Shop], arbitrator: User) -> None:
    """Deposits, an advance, a late shipment and after-sales cases in every state for the demo
    buyer, mostly at the demo seller's shop, all through the services."""
    from django.db.models import Q

    from jishi.aftersales import services as aftersales
    from jishi.orders.timers import orders_sweep
    from jishi.payments.services import deposit_fund

    anji = shops_by_key["anji"]
    user = User.objects.get(username=data.BUYER[0])
    buyer = _Buyer(user)
    teas = _stocked_skus(anji)
    with _days_ago(20):  # money first: the buyer's second top-up, every shop's deposit
        _fund(user, data.BUYER_EXTRA_TOPUP_FEN)
        for shop_data in data.SHOPS:
            shop = shops_by_key[shop_data.key]
            amount = data.DEPOSIT_FEN[shop.shop_type]
            if shop.owner.username != data.SHOPS[0].seller.username:
                accounts.payment_pin_set(
                    user=shop.owner, password=data.PASSWORD, pin=data.PAYMENT_PIN
                )
            _fund(shop.owner, amount)
            deposit_fund(
                actor=shop.owner,
                amount_fen=amount,
                pin=data.PAYMENT_PIN,
                source="wallet",
                idempotency_key="demo-deposit",
            )

    # 先行垫付: a finished order whose parcel was lost; the platform pays part of it at once
    # and recovers it from the shop.
    with _days_ago(12):
        lost = buyer.bought(teas[0], confirm=True)
    with _days_ago(2):
        aftersales.advance_pay(
            operator=arbitrator,
            order_id=lost.pk,
            amount_fen=min(lost.released_fen, lost.total_fen * 30 // 100),
            reason=data.ADVANCE_TEXT,
            idempotency_key="demo-advance",
        )

    # A refund after the money was released: clawed back from the shop.
    wuchang = shops_by_key["wuchang"]
    with _days_ago(9):
        rice = buyer.bought(_stocked_skus(wuchang)[0], confirm=True)
    with _days_ago(3):
        case = buyer.request(
            rice, kind="refund_only", reason="damaged", text=data.CASE_TEXT["success"], percent=50
        )
        aftersales.refund_agree(actor=wuchang.owner, case_id=case.pk)

    # Ruled: refused, the platform stepped in, ruled for the buyer (part of it) with a
    # not-as-described violation.
    yunnan = shops_by_key["yunnan"]
    with _days_ago(8):
        puer = buyer.bought(_stocked_skus(yunnan)[0])
        case = buyer.request(
            puer, kind="refund_only", reason="not_as_described", text=data.CASE_TEXT["ruled"]
        )
        dispute = _disputed(buyer, case, arbitrator, refuse=data.REFUSE_TEXT["ruled"])
    with _days_ago(4):
        order = case.order
        order.refresh_from_db()
        most = aftersales.line_refundable_fen(order, order.lines.get())
        aftersales.dispute_rule(
            operator=arbitrator,
            dispute_id=dispute.pk,
            decision="buyer",
            amount_fen=most * 60 // 100,
            reason=data.RULING_TEXT,
            not_as_described=True,
        )

    # Ready to rule: the evidence phase ended yesterday.
    jingdezhen = shops_by_key["jingdezhen"]
    with _days_ago(4):
        bowl = buyer.bought(_stocked_skus(jingdezhen)[0])
        case = buyer.request(
            bowl, kind="return_refund", reason="damaged", text=data.CASE_TEXT["ready"]
        )
        _disputed(buyer, case, arbitrator, refuse=data.REFUSE_TEXT["ready"])

    # Closed: the buyer withdrew the request.
    xinjiang = shops_by_key["xinjiang"]
    with _days_ago(3):
        apples = buyer.bought(_stocked_skus(xinjiang)[0])
        case = buyer.request(
            apples, kind="return_refund", reason="size", text=data.CASE_TEXT["closed"]
        )
    with _days_ago(2):
        aftersales.refund_cancel(buyer=user, case_id=case.pk)

    # At the demo seller's shop, one case waiting at every step.
    with _days_ago(4):
        mouldy = buyer.bought(teas[1 % len(teas)])
        dear, cheap = _exchange_pair(anji)
        swap = buyer.bought(dear)
    with _days_ago(3):
        returned = buyer.request(
            mouldy, kind="return_refund", reason="quality", text=data.CASE_TEXT["confirm"]
        )
        aftersales.refund_agree(
            actor=anji.owner, case_id=returned.pk, return_address=_return_address(anji)
        )
        exchange = buyer.request(
            swap, kind="exchange", reason="size", text=data.CASE_TEXT["exchange"], to=cheap
        )
        aftersales.refund_agree(
            actor=anji.owner, case_id=exchange.pk, return_address=_return_address(anji)
        )
        unwanted = buyer.bought(teas[2 % len(teas)])
        waiting = buyer.bought(teas[3 % len(teas)])
        late = buyer.bought(teas[4 % len(teas)], ship=False)  # the shop forgets to ship it
    with _days_ago(2):
        buyer.ship_back(returned)  # WAIT_SELLER_CONFIRM_GOODS
        light = buyer.bought(teas[5 % len(teas)])
        short = buyer.bought(teas[6 % len(teas)])
        case = buyer.request(
            light, kind="refund_only", reason="not_as_described", text=data.CASE_TEXT["refused"]
        )
        aftersales.refund_refuse(
            actor=anji.owner, case_id=case.pk, reason=data.REFUSE_TEXT["refused"]
        )  # SELLER_REFUSE_BUYER: the buyer may revise or ask the platform in
    with _days_ago(1):
        buyer.ship_back(exchange)  # the exchange waits for the seller to confirm and reship
        case = buyer.request(
            unwanted, kind="return_refund", reason="no_reason_7d", text=data.CASE_TEXT["return"]
        )
        aftersales.refund_agree(
            actor=anji.owner, case_id=case.pk, return_address=_return_address(anji)
        )  # WAIT_BUYER_RETURN_GOODS
        case = buyer.request(
            short, kind="refund_only", reason="missing_parts", text=data.CASE_TEXT["evidence"]
        )
        _disputed(buyer, case, arbitrator, refuse=data.REFUSE_TEXT["evidence"])  # evidence
    with _days_ago(0.5):
        buyer.request(
            waiting, kind="refund_only", reason="not_received", text=data.CASE_TEXT["waiting"]
        )  # WAIT_SELLER_AGREE
    # The ship-by time of the forgotten order passed a day ago: the timer records the late
    # shipment and pays the buyer compensation from the shop; then the shop ships it.
    orders_sweep(scope=Q(pk=late.pk))
    from jishi.orders import services as orders

    orders.order_ship(
        actor=anji.owner, order_id=late.pk, carrier="顺丰速运", tracking_no="SF1599990001"
    )


def _fund(user: User, amount_fen: int) -> None:
    """A top-up through the sandbox bank's signed callback, as a real payer's would arrive."""
    from jishi.payments.channels import sandbox
    from jishi.payments.services import callback_receive, topup_create

    topup = topup_create(user=user, amount_fen=amount_fen)
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=topup.amount_fen
    )
    callback_receive(channel="sandbox", body=body, signature=sandbox.sign(body))


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
        arbitrator = accounts.operator_create(
            username=data.ARBITRATOR, password=data.PASSWORD, role="arbitrator"
        )
        leaves, top_of_leaf = _categories(operator)
        shops_by_key = _shops(reviewer)
        _people()
        _products(operator, shops_by_key, leaves, top_of_leaf, report)
        _trade(shops_by_key)
        _aftersales(shops_by_key, arbitrator)
    report.categories = len(data.CATEGORIES) + len(leaves)
    report.shops = len(shops_by_key)
    report.shop_names = [shop.name for shop in shops_by_key.values()]
    report.seconds = time.monotonic() - started
    return report
