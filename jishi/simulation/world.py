"""Build the simulator's marketplace through the services: operators, categories, verified
sellers with shops, shipping templates and listed products, and buyers with PINs, addresses
and wallets funded through the sandbox bank's signed callbacks; an arbitrator for the
disputes; deposits paid by some shops' owners from wallets funded the same way.

Every name carries a run tag, so runs never collide with each other or with other data.
"""

import secrets
from dataclasses import dataclass, field

from jishi.accounts.models import Address, RealNameVerification, User
from jishi.accounts.services import (
    address_create,
    operator_create,
    payment_pin_set,
    user_register,
    verification_decide,
    verification_submit,
)
from jishi.accounts.validators import secret_hash
from jishi.catalog.models import Sku
from jishi.catalog.services import category_create, product_create, product_list
from jishi.orders.services import shipping_template_set
from jishi.payments.channels import sandbox
from jishi.payments.services import callback_receive, deposit_fund, topup_create
from jishi.shops.models import Shop
from jishi.shops.services import shop_open
from jishi.simulation.plan import CATEGORY_RATES_BP, Plan

PASSWORD = "Rehearsal2024"
PIN = "135790"
WRONG_PIN = "864209"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass
class World:
    tag: str
    owners: list[User] = field(default_factory=list)
    shops: list[Shop] = field(default_factory=list)
    skus: list[Sku] = field(default_factory=list)  # flat, in plan order
    sku_shop: list[int] = field(default_factory=list)
    initial_stock: dict[int, int] = field(default_factory=dict)  # sku pk -> stock
    product_ids: list[int] = field(default_factory=list)
    buyers: list[User] = field(default_factory=list)
    addresses: list[list[Address]] = field(default_factory=list)
    topups_fen: dict[int, int] = field(default_factory=dict)  # buyer pk -> credited
    arbitrator: User | None = None  # the operator who takes and rules disputes
    owner_topups_fen: dict[int, int] = field(default_factory=dict)  # owner pk -> credited
    deposits_fen: dict[int, int] = field(default_factory=dict)  # shop pk -> from the wallet


def _id_number(n: int) -> str:
    """A valid 18-character resident ID number (GB 11643 checksum) for ``n``."""
    year, month, day = 1950 + n // 336_000 % 50, 1 + n // 28_000 % 12, 1 + n // 1000 % 28
    body = f"110105{year}{month:02d}{day:02d}{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def _bank_card(n: int) -> str:
    """A valid 16-digit bank card number (Luhn) for ``n``."""
    body = f"622848{n:09d}"
    total = 0
    for i, d in enumerate(int(c) for c in reversed(body)):
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _fresh_id_number(start: int) -> tuple[str, int]:
    """An ID number no other account uses, searching from ``start``."""
    n = start
    while True:
        number = _id_number(n % 16_800_000)
        if not RealNameVerification.objects.filter(id_number_hash=secret_hash(number)).exists():
            return number, n + 1
        n += 1


def fund(user: User, amount_fen: int, *, replay: bool = False, tamper: bool = False) -> dict:
    """Top up through the sandbox bank: start the top-up, then deliver the bank's signed
    callback (again when ``replay``; plus a forged one when ``tamper``). Returns outcomes."""
    topup = topup_create(user=user, amount_fen=amount_fen)
    body = sandbox.event_body(
        kind="topup", reference=topup.pk, status="succeeded", amount_fen=amount_fen
    )
    signature = sandbox.sign(body)
    outcome = {"credited": callback_receive(channel="sandbox", body=body, signature=signature)}
    if replay:
        outcome["replay"] = callback_receive(channel="sandbox", body=body, signature=signature)
    if tamper:
        forged = body.replace(f'"amount_fen": {amount_fen}'.encode(), b'"amount_fen": 99999999')
        try:
            callback_receive(channel="sandbox", body=forged, signature=signature)
            outcome["tamper"] = "accepted"
        except Exception as exc:  # the forgery must be refused
            outcome["tamper"] = getattr(exc, "code", repr(exc))
    return outcome


def world_build(plan: Plan, *, tally) -> World:
    """Create everything the plan needs; ``tally`` counts callback replays and forgeries."""
    tag = secrets.token_hex(3)
    world = World(tag=tag)
    prefix = f"sim{tag}"
    reviewer = operator_create(username=f"{prefix}rev", password=PASSWORD, role="reviewer")
    curator = operator_create(username=f"{prefix}cat", password=PASSWORD, role="catalog")
    world.arbitrator = operator_create(
        username=f"{prefix}arb", password=PASSWORD, role="arbitrator"
    )
    root = category_create(operator=curator, name=f"模拟{tag}")
    leaves = [
        category_create(
            operator=curator, name=f"模拟{tag}-{i}", parent_id=root.pk, commission_rate_bp=bp
        )
        for i, bp in enumerate(CATEGORY_RATES_BP)
    ]
    id_cursor = secrets.randbelow(16_000_000)
    for s, shop_spec in enumerate(plan.shops):
        owner = user_register(username=f"{prefix}s{s}", password=PASSWORD)
        id_number, id_cursor = _fresh_id_number(id_cursor)
        record = verification_submit(
            user=owner,
            real_name="模拟卖家",
            id_number=id_number,
            bank_name="中国建设银行",
            bank_card=_bank_card(id_cursor),
        )
        verification_decide(operator=reviewer, verification_id=record.pk, approve=True)
        shop = shop_open(user=owner, name=f"模拟店{tag}-{s}")
        payment_pin_set(user=owner, password=PASSWORD, pin=PIN)
        if shop_spec.template is not None:
            template = shop_spec.template
            shipping_template_set(
                actor=owner,
                default_fee_fen=template.default_fee_fen,
                province_fees=dict(template.province_fees),
                free_over_fen=template.free_over_fen,
            )
        world.owners.append(owner)
        world.shops.append(shop)
        world.owner_topups_fen[owner.pk] = 0
        world.deposits_fen[shop.pk] = 0
        if shop_spec.deposit_fen:  # the owner tops up the wallet and pays the deposit from it
            fund(owner, shop_spec.deposit_fen)
            tally.add("topups (shop owners, for deposits)")
            deposit_fund(
                actor=owner,
                amount_fen=shop_spec.deposit_fen,
                pin=PIN,
                source="wallet",
                idempotency_key=f"sim-deposit-{s}",
            )
            tally.add("deposits paid from the owner's wallet")
            world.owner_topups_fen[owner.pk] = shop_spec.deposit_fen
            world.deposits_fen[shop.pk] = shop_spec.deposit_fen
        for p, product_spec in enumerate(shop_spec.products):
            product = product_create(
                actor=owner,
                category_id=leaves[product_spec.category].pk,
                title=f"模拟商品{s}-{p}",
                spec_names=["规格"],
                stock_deduction=product_spec.deduction,
                is_virtual=product_spec.virtual,
                skus=[
                    {"specs": {"规格": f"款{k}"}, "price_fen": sku.price_fen, "stock": sku.stock}
                    for k, sku in enumerate(product_spec.skus)
                ],
            )
            product_list(actor=owner, product_id=product.pk)
            world.product_ids.append(product.pk)
            for sku in Sku.objects.filter(product=product).order_by("pk"):
                world.skus.append(sku)
                world.sku_shop.append(s)
                world.initial_stock[sku.pk] = sku.stock
    for b, buyer_spec in enumerate(plan.buyers):
        buyer = user_register(username=f"{prefix}b{b}", password=PASSWORD)
        payment_pin_set(user=buyer, password=PASSWORD, pin=PIN)
        world.addresses.append(
            [
                address_create(
                    user=buyer,
                    recipient=f"买家{b}",
                    phone=f"139{b:08d}",
                    province=province,
                    city="模拟市",
                    district="模拟区",
                    detail=f"演练路 {b}-{a} 号",
                )
                for a, province in enumerate(buyer_spec.provinces)
            ]
        )
        last = len(buyer_spec.topups_fen) - 1
        for t, amount in enumerate(buyer_spec.topups_fen):
            outcome = fund(
                buyer,
                amount,
                replay=buyer_spec.replay_topup and t == last,
                tamper=buyer_spec.tamper_topup and t == last,
            )
            tally.add("topups")
            if "replay" in outcome:
                tally.add("topup callbacks replayed")
                tally.expect(
                    outcome["replay"].startswith("duplicate"),
                    f"replayed top-up callback was applied: {outcome['replay']}",
                )
            if "tamper" in outcome:
                tally.add("forged callbacks refused")
                tally.expect(
                    outcome["tamper"] == "callback_signature_invalid",
                    f"forged top-up callback: {outcome['tamper']}",
                )
        world.buyers.append(buyer)
        world.topups_fen[buyer.pk] = sum(buyer_spec.topups_fen)
    return world
