"""The simulator's plan: every random choice of a run, made up front from one seeded RNG.

The plan names things by their position (buyer 3, SKU 17, checkout 512), never by database
id, so the same seed gives the same plan on any database. Execution may run parts of it
concurrently; what is attempted never depends on timing, only on the plan.
"""

import hashlib
import random
from dataclasses import astuple, dataclass

from jishi.accounts.validators import PROVINCES

# Commission rates of the simulator's leaf categories (basis points): none, the default, an
# odd rate that exercises rounding, and a high one.
CATEGORY_RATES_BP = (0, 200, 333, 500)
ROUNDS = 4


@dataclass(frozen=True)
class SkuSpec:
    price_fen: int
    stock: int
    scarce: bool


@dataclass(frozen=True)
class ProductSpec:
    category: int  # index into CATEGORY_RATES_BP
    deduction: str  # "order" or "payment"
    virtual: bool  # virtual goods ship a delivery note and confirm after 3 days
    skus: tuple[SkuSpec, ...]


@dataclass(frozen=True)
class TemplateSpec:
    default_fee_fen: int
    province_fees: tuple[tuple[str, int], ...]
    free_over_fen: int | None


@dataclass(frozen=True)
class ShopSpec:
    template: TemplateSpec | None
    products: tuple[ProductSpec, ...]


@dataclass(frozen=True)
class BuyerSpec:
    provinces: tuple[str, ...]  # one address per province
    topups_fen: tuple[int, ...]
    replay_topup: bool  # the bank sends the last top-up's callback twice
    tamper_topup: bool  # a forged callback (wrong amount, old signature) arrives


@dataclass(frozen=True)
class OrderPlan:
    """What happens to one shop's order of a checkout, if it gets paid."""

    shop: int
    ship: str  # "now", "late" (after the late-shipment timer) or "refund" (before shipping)
    after: str  # once shipped: "confirm", "extend" (then the timer confirms) or "auto"
    refund_replay: bool
    address_after_pay: int | None  # address index to switch to after payment
    confirm_wrong_pin: bool
    confirm_twin: bool  # a second confirm races the first
    confirm_replay: bool
    extend_replay: bool
    confirm_before_ship: bool  # a premature confirm (refused)
    refund_after_ship: bool  # a refund-before-shipment request after shipping (refused)
    intruder: int | None  # another buyer who tries to confirm this order (refused)


@dataclass(frozen=True)
class CheckoutPlan:
    index: int
    buyer: int
    items: tuple[tuple[int, int], ...]  # (flat SKU index, quantity)
    address: int
    note: str
    twin: bool  # the same request (same idempotency key) is sent twice at once
    replay: bool  # and once more after the checkout phase
    fate: str  # "pay", "cancel", "abandon" (the timer closes it) or "lockout"
    pay_wrong_pin: bool
    pay_twin: bool  # a second payment races the first
    pay_replay: bool
    topup_on_refusal_fen: int  # top up this much and retry when refused for funds
    address_before_pay: int | None
    cancel_replay: bool
    ship_unpaid: bool  # the seller tries to ship before payment (refused)
    orders: tuple[OrderPlan, ...]  # one per shop, in shop order


@dataclass(frozen=True)
class WithdrawalPlan:
    shop: int
    percent: int  # of the shop's available balance at the time
    replay: bool  # the same request (same idempotency key) again
    callback_replay: bool  # the bank's payout callback arrives twice


@dataclass(frozen=True)
class RoundPlan:
    checkouts: tuple[CheckoutPlan, ...]
    withdrawals: tuple[WithdrawalPlan, ...]


@dataclass(frozen=True)
class Plan:
    seed: int
    shops: tuple[ShopSpec, ...]
    buyers: tuple[BuyerSpec, ...]
    rounds: tuple[RoundPlan, ...]
    final_withdrawals: tuple[WithdrawalPlan, ...]

    # --- derived views -----------------------------------------------------------------------

    def skus(self) -> list[tuple[int, int, int, SkuSpec]]:
        """Every SKU as (shop, product, sku) indexes with its spec, in flat-index order."""
        return [
            (s, p, k, sku)
            for s, shop in enumerate(self.shops)
            for p, product in enumerate(shop.products)
            for k, sku in enumerate(product.skus)
        ]

    def checkouts(self) -> list[CheckoutPlan]:
        return [c for r in self.rounds for c in r.checkouts]

    def digest(self) -> str:
        """A fingerprint of every planned operation: equal seeds give equal digests."""
        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()[:16]


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def _shop(rng: random.Random) -> ShopSpec:
    template = None
    if _chance(rng, 0.8):
        provinces = rng.sample(PROVINCES, rng.randint(0, 3))
        template = TemplateSpec(
            default_fee_fen=rng.randrange(0, 1600, 100),
            province_fees=tuple((p, rng.randrange(0, 3100, 100)) for p in sorted(provinces)),
            free_over_fen=rng.randrange(5000, 30000, 500) if _chance(rng, 0.5) else None,
        )
    products = []
    for _p in range(rng.randint(2, 4)):
        skus = []
        for _k in range(rng.randint(1, 3)):
            scarce = _chance(rng, 0.35)
            skus.append(
                SkuSpec(
                    price_fen=rng.randint(100, 30000),
                    stock=rng.randint(1, 5) if scarce else rng.randint(2000, 5000),
                    scarce=scarce,
                )
            )
        products.append(
            ProductSpec(
                category=rng.randrange(len(CATEGORY_RATES_BP)),
                deduction="payment" if _chance(rng, 0.3) else "order",
                virtual=_chance(rng, 0.15),
                skus=tuple(skus),
            )
        )
    return ShopSpec(template=template, products=tuple(products))


def _buyer(rng: random.Random) -> BuyerSpec:
    provinces = tuple(rng.sample(PROVINCES, 2 if _chance(rng, 0.5) else 1))
    if _chance(rng, 0.15):  # a buyer who will run short of money
        topups = (rng.randint(2_000, 20_000),)
    else:
        topups = tuple(rng.randint(100_000, 400_000) for _t in range(2))
    return BuyerSpec(
        provinces=provinces,
        topups_fen=topups,
        replay_topup=_chance(rng, 0.2),
        tamper_topup=_chance(rng, 0.05),
    )


def _order(rng: random.Random, shop: int, buyer: int, buyers: int, addresses: int) -> OrderPlan:
    ship = rng.choices(["now", "late", "refund"], weights=[85, 7, 8])[0]
    after = rng.choices(["confirm", "extend", "auto"], weights=[50, 10, 40])[0]
    others = [b for b in range(buyers) if b != buyer]
    return OrderPlan(
        shop=shop,
        ship=ship,
        after=after,
        refund_replay=_chance(rng, 0.3),
        address_after_pay=rng.randrange(addresses)
        if addresses > 1 and _chance(rng, 0.05)
        else None,
        confirm_wrong_pin=_chance(rng, 0.1),
        confirm_twin=_chance(rng, 0.1),
        confirm_replay=_chance(rng, 0.15),
        extend_replay=_chance(rng, 0.3),
        confirm_before_ship=_chance(rng, 0.03),
        refund_after_ship=_chance(rng, 0.03),
        intruder=rng.choice(others) if others and _chance(rng, 0.03) else None,
    )


def _checkout(
    rng: random.Random,
    index: int,
    buyers: tuple[BuyerSpec, ...],
    scarce: list[int],
    plentiful: list[int],
    shop_of: list[int],
) -> CheckoutPlan:
    buyer = rng.randrange(len(buyers))
    addresses = len(buyers[buyer].provinces)
    chosen: dict[int, int] = {}
    for _i in range(rng.choices([1, 2, 3], weights=[60, 30, 10])[0]):
        if scarce and _chance(rng, 0.3):
            chosen.setdefault(rng.choice(scarce), rng.randint(1, 2))
        else:
            chosen.setdefault(rng.choice(plentiful), rng.randint(1, 3))
    shops = sorted({shop_of[sku] for sku in chosen})
    fate = rng.choices(["pay", "cancel", "abandon", "lockout"], weights=[80, 8, 10, 2])[0]
    return CheckoutPlan(
        index=index,
        buyer=buyer,
        items=tuple(sorted(chosen.items())),
        address=rng.randrange(addresses),
        note=rng.choice(["", "", "请尽快发货", "不要放快递柜", "送朋友的，请别放发票"]),
        twin=_chance(rng, 0.08),
        replay=_chance(rng, 0.1),
        fate=fate,
        pay_wrong_pin=_chance(rng, 0.15),
        pay_twin=_chance(rng, 0.08),
        pay_replay=_chance(rng, 0.1),
        topup_on_refusal_fen=rng.randint(50_000, 200_000) if _chance(rng, 0.5) else 0,
        address_before_pay=rng.randrange(addresses)
        if addresses > 1 and _chance(rng, 0.1)
        else None,
        cancel_replay=_chance(rng, 0.3),
        ship_unpaid=_chance(rng, 0.1),
        orders=tuple(_order(rng, s, buyer, len(buyers), addresses) for s in shops),
    )


def _withdrawals(rng: random.Random, shops: int) -> tuple[WithdrawalPlan, ...]:
    return tuple(
        WithdrawalPlan(
            shop=s,
            percent=rng.randint(10, 90),
            replay=_chance(rng, 0.2),
            callback_replay=_chance(rng, 0.2),
        )
        for s in range(shops)
        if _chance(rng, 0.6)
    )


def plan_make(*, seed: int, orders: int, rounds: int = ROUNDS) -> Plan:
    """The whole run for ``orders`` checkouts, from ``random.Random(seed)`` alone."""
    rng = random.Random(seed)  # noqa: S311  a reproducible simulation, not security
    shops = tuple(_shop(rng) for _s in range(max(3, min(40, orders // 120))))
    buyers = tuple(_buyer(rng) for _b in range(max(6, orders // 10)))
    flat = [
        (s, sku)
        for s, shop in enumerate(shops)
        for product in shop.products
        for sku in product.skus
    ]
    shop_of = [s for s, _sku in flat]
    scarce = [i for i, (_s, sku) in enumerate(flat) if sku.scarce]
    plentiful = [i for i, (_s, sku) in enumerate(flat) if not sku.scarce]
    if not plentiful:  # every SKU came out scarce: treat the last one as plentiful
        plentiful = [scarce.pop()]
    round_plans = []
    index = 0
    for r in range(rounds):
        count = orders * (r + 1) // rounds - orders * r // rounds
        checkouts = []
        for _c in range(count):
            checkouts.append(_checkout(rng, index, buyers, scarce, plentiful, shop_of))
            index += 1
        round_plans.append(
            RoundPlan(checkouts=tuple(checkouts), withdrawals=_withdrawals(rng, len(shops)))
        )
    return Plan(
        seed=seed,
        shops=shops,
        buyers=buyers,
        rounds=tuple(round_plans),
        final_withdrawals=_withdrawals(rng, len(shops)),
    )
