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
    deposit_fen: int = 0  # paid into the deposit from the owner's wallet at the start


@dataclass(frozen=True)
class BuyerSpec:
    provinces: tuple[str, ...]  # one address per province
    topups_fen: tuple[int, ...]
    replay_topup: bool  # the bank sends the last top-up's callback twice
    tamper_topup: bool  # a forged callback (wrong amount, old signature) arrives


@dataclass(frozen=True)
class CasePlan:
    """An after-sales request on one line of a paid order, and what everyone does with it.

    Each party acts once per visit of the case to a status; "silent" leaves it to the timer.
    """

    stage: str  # "unshipped" (before shipment), "shipped" (before receipt), "released" (after)
    sku: int  # flat SKU index of the order line asked about
    kind: str  # "refund_only", "return_refund" or "exchange"
    reason: str
    percent: int  # of the most the line may get back (100 = all of it, with postage if last)
    exchange_sku: int | None  # flat SKU index of the replacement (a plentiful sibling)
    request_twin: bool  # the same request sent twice at once: one opens, one is refused
    over_amount: bool  # first asks for more than was paid (refused)
    intruder_shop: int | None  # another shop's owner tries to answer (not found)
    withdraw: bool  # the buyer cancels before the seller answers
    race: bool  # the buyer's cancel and the seller's agreement arrive at once: one wins
    seller: str  # first answer: "agree", "refuse" or "silent" (the timer agrees)
    seller_again: str  # answer to a revised request: "agree" or "silent"
    buyer_return: str  # once agreed (returns): "ship" or "silent" (the timer closes)
    seller_goods: str  # the returned goods: "confirm", "refuse" or "silent" (timer refunds)
    after_refusal: str  # "escalate_buyer", "escalate_seller", "revise", "cancel", "silent"
    evidence: bool  # both sides add evidence once the operator takes the dispute
    ruling: str  # "buyer_full", "buyer_partial", "seller", "withdraw_buyer", "withdraw_seller"
    ruling_percent: int
    not_as_described: bool  # a ruling for the buyer records a violation
    rule_early: bool  # the operator tries to rule during the evidence phase (refused)
    rule_replay: bool  # and rules a second time (refused)


@dataclass(frozen=True)
class OrderPlan:
    """What happens to one shop's order of a checkout, if it gets paid."""

    shop: int
    # "now", "late" (after the late-shipment timer), "refund" (before shipping) or "never"
    # (flagged late, then paid-not-shipped, then refunded before shipment by the buyer)
    ship: str
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
    case: CasePlan | None  # an after-sales request (forces "auto", or "confirm" if released)
    advance_percent: int  # once finished: the platform pays this share in advance (0 = no)
    advance_replay: bool  # the same advance again (same key): paid once
    late_request: bool  # a request long after the after-sales window (refused)


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
    deposit_percent: int  # of the available balance moved into the deposit first (0 = none)


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

    def cases(self) -> list[CasePlan]:
        """Every planned after-sales case (each happens only if its order gets paid)."""
        return [o.case for c in self.checkouts() for o in c.orders if o.case is not None]

    def digest(self) -> str:
        """A fingerprint of every planned operation: equal seeds give equal digests."""
        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()[:16]


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _shop(rng: random.Random, first: bool) -> ShopSpec:
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
    deposit = rng.randrange(20_000, 200_001, 1000)
    return ShopSpec(
        template=template,
        products=tuple(products),
        deposit_fen=deposit if first or _chance(rng, 0.5) else 0,
    )


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


# --- after-sales ------------------------------------------------------------------------------

# The paths a case can take. The first cases of a run walk them in turn, so that even a small
# run takes every one; later cases draw one at random. A path fixes the case's stage, kind and
# every party's choices where they matter; the rest of the case is random.
SCENARIOS: tuple[dict, ...] = (
    {"stage": "unshipped", "seller": "agree", "percent": 100},
    {"stage": "unshipped", "seller": "silent"},
    {
        "stage": "unshipped",
        "seller": "refuse",
        "after_refusal": "escalate_buyer",
        "ruling": "buyer_full",
    },
    {"stage": "shipped", "kind": "refund_only", "seller": "agree", "request_twin": True},
    {
        "stage": "shipped",
        "kind": "return_refund",
        "seller": "agree",
        "buyer_return": "ship",
        "seller_goods": "confirm",
        "percent": 100,
    },
    {"stage": "shipped", "kind": "return_refund", "seller": "agree", "buyer_return": "silent"},
    {
        "stage": "shipped",
        "kind": "return_refund",
        "seller": "silent",
        "buyer_return": "ship",
        "seller_goods": "silent",
    },
    {
        "stage": "shipped",
        "kind": "exchange",
        "seller": "agree",
        "buyer_return": "ship",
        "seller_goods": "confirm",
    },
    {
        "stage": "shipped",
        "kind": "return_refund",
        "seller": "agree",
        "buyer_return": "ship",
        "seller_goods": "refuse",
        "after_refusal": "escalate_seller",
        "ruling": "seller",
    },
    {
        "stage": "shipped",
        "kind": "refund_only",
        "seller": "refuse",
        "after_refusal": "revise",
        "seller_again": "agree",
    },
    {"stage": "shipped", "kind": "refund_only", "seller": "refuse", "after_refusal": "silent"},
    {
        "stage": "shipped",
        "kind": "refund_only",
        "seller": "refuse",
        "after_refusal": "cancel",
        "over_amount": True,
    },
    {
        "stage": "shipped",
        "kind": "refund_only",
        "seller": "refuse",
        "after_refusal": "escalate_buyer",
        "evidence": True,
        "ruling": "buyer_partial",
        "not_as_described": True,
        "rule_early": True,
        "rule_replay": True,
    },
    {"stage": "released", "kind": "refund_only", "seller": "agree", "percent": 100},
    {
        "stage": "released",
        "kind": "return_refund",
        "seller": "agree",
        "buyer_return": "ship",
        "seller_goods": "confirm",
    },
    {
        "stage": "released",
        "kind": "refund_only",
        "seller": "refuse",
        "after_refusal": "escalate_buyer",
        "ruling": "withdraw_buyer",
    },
    {
        "stage": "released",
        "kind": "exchange",
        "seller": "refuse",
        "after_refusal": "escalate_buyer",
        "ruling": "withdraw_seller",
        "buyer_return": "ship",
        "seller_goods": "confirm",
    },
    {"stage": "shipped", "kind": "refund_only", "withdraw": True, "intruder": True},
    {"stage": "shipped", "kind": "refund_only", "seller": "agree", "race": True},
    {
        "stage": "shipped",
        "kind": "exchange",
        "seller": "silent",
        "buyer_return": "ship",
        "seller_goods": "silent",
    },
    {
        "stage": "shipped",
        "kind": "return_refund",
        "seller": "refuse",
        "after_refusal": "revise",
        "seller_again": "silent",
        "buyer_return": "ship",
        "seller_goods": "confirm",
    },
)

# The first cases walk the paths three times: a path planned on an order that then goes
# unpaid (no money, no stock) still gets walked by another copy.
COVERED = 3 * len(SCENARIOS)

REASONS = {
    "unshipped": ("not_wanted", "wrong_order", "not_shipped_on_time", "other"),
    "refund_only": ("not_received", "quality", "not_as_described", "missing_parts", "other"),
    "return_refund": ("quality", "not_as_described", "wrong_item", "damaged", "size"),
    "exchange": ("quality", "wrong_item", "damaged", "size", "no_reason_7d"),
}


@dataclass(frozen=True)
class FlatSku:
    """A SKU by flat index, with what the plan needs to know about its product."""

    shop: int
    product: int  # global product index
    price_fen: int
    scarce: bool
    virtual: bool


class Coverage:
    """Counts of the rare paths handed out so far: the first eligible orders take each one,
    so a small run still walks every path; later ones are left to chance."""

    def __init__(self) -> None:
        self.cases = 0
        self.never = 0
        self.advances = 0
        self.late_requests = 0


def _exchange_for(sku: int, flat: list[FlatSku]) -> int | None:
    """The replacement an exchange asks for: the dearest option of the same product that is
    plentiful (always in stock) and costs no more than what was bought."""
    item = flat[sku]
    siblings = [
        i
        for i, other in enumerate(flat)
        if other.product == item.product and not other.scarce and other.price_fen <= item.price_fen
    ]
    return max(siblings, key=lambda i: (flat[i].price_fen, i)) if siblings else None


def _case(
    rng: random.Random, scenario: dict, skus: list[int], flat: list[FlatSku], shop: int
) -> CasePlan:
    """A case on one of the order's lines; every random value is drawn, then the scenario
    overrides what it fixes, then the line's goods limit the kind (the line is one that fits
    the scenario's kind when the order has one)."""
    sku_draw = rng.random()
    values = {
        "stage": _pick(rng, {"unshipped": 25, "shipped": 50, "released": 25}),
        "kind": _pick(rng, {"refund_only": 45, "return_refund": 35, "exchange": 20}),
        "percent": 100 if _chance(rng, 0.5) else rng.randint(10, 90),
        "request_twin": _chance(rng, 0.08),
        "over_amount": _chance(rng, 0.08),
        "intruder": _chance(rng, 0.05),
        "withdraw": _chance(rng, 0.05),
        "race": _chance(rng, 0.08),
        "seller": _pick(rng, {"agree": 50, "refuse": 30, "silent": 20}),
        "seller_again": _pick(rng, {"agree": 60, "silent": 40}),
        "buyer_return": _pick(rng, {"ship": 80, "silent": 20}),
        "seller_goods": _pick(rng, {"confirm": 70, "refuse": 10, "silent": 20}),
        "after_refusal": _pick(
            rng,
            {"escalate_buyer": 40, "escalate_seller": 10, "revise": 20, "cancel": 10, "silent": 20},
        ),
        "evidence": _chance(rng, 0.6),
        "ruling": _pick(
            rng,
            {
                "buyer_full": 35,
                "buyer_partial": 20,
                "seller": 25,
                "withdraw_buyer": 10,
                "withdraw_seller": 10,
            },
        ),
        "ruling_percent": rng.randint(20, 90),
        "not_as_described": _chance(rng, 0.3),
        "rule_early": _chance(rng, 0.1),
        "rule_replay": _chance(rng, 0.15),
    }
    reason_draw = rng.random()
    intruder_draw = rng.random()
    values |= scenario
    fitting = skus
    if values["stage"] != "unshipped" and values["kind"] != "refund_only":
        fitting = [i for i in skus if not flat[i].virtual] or skus
    if values["kind"] == "exchange":
        fitting = [i for i in fitting if _exchange_for(i, flat) is not None] or fitting
    sku = fitting[int(sku_draw * len(fitting))]
    item = flat[sku]
    kind = values["kind"]
    if values["stage"] == "unshipped" or item.virtual:
        kind = "refund_only"  # nothing to send back
    exchange_sku = _exchange_for(sku, flat) if kind == "exchange" else None
    if kind == "exchange" and exchange_sku is None:
        kind = "return_refund"
    reasons = REASONS["unshipped" if values["stage"] == "unshipped" else kind]
    others = sorted({f.shop for f in flat} - {shop})
    return CasePlan(
        stage=values["stage"],
        sku=sku,
        kind=kind,
        reason=reasons[int(reason_draw * len(reasons))],
        percent=values["percent"],
        exchange_sku=exchange_sku,
        request_twin=values["request_twin"],
        over_amount=values["over_amount"] and kind != "exchange",
        intruder_shop=others[int(intruder_draw * len(others))]
        if values["intruder"] and others
        else None,
        withdraw=values["withdraw"],
        race=values["race"] and kind == "refund_only" and values["seller"] == "agree",
        seller=values["seller"],
        seller_again=values["seller_again"],
        buyer_return=values["buyer_return"],
        seller_goods=values["seller_goods"],
        after_refusal=values["after_refusal"],
        evidence=values["evidence"],
        ruling=values["ruling"],
        ruling_percent=values["ruling_percent"],
        not_as_described=values["not_as_described"],
        rule_early=values["rule_early"],
        rule_replay=values["rule_replay"],
    )


def _order(
    rng: random.Random,
    shop: int,
    buyer: int,
    buyers: int,
    addresses: int,
    *,
    paying: bool,
    skus: list[int],
    flat: list[FlatSku],
    cover: Coverage,
) -> OrderPlan:
    ship = rng.choices(["now", "late", "refund", "never"], weights=[83, 7, 8, 2])[0]
    after = rng.choices(["confirm", "extend", "auto"], weights=[50, 10, 40])[0]
    others = [b for b in range(buyers) if b != buyer]
    case_draw, case_pick = rng.random(), rng.randrange(len(SCENARIOS))
    advance_draw, advance_percent, advance_replay = (
        rng.random(),
        rng.randint(10, 60),
        _chance(rng, 0.3),
    )
    late_draw = rng.random()
    case = None
    if paying and cover.never < 2:
        ship = "never"  # the first two paid orders are never shipped; later ones by chance
    advance = 0
    late_request = False
    if paying and ship == "never":
        cover.never += 1
    elif paying and ship in ("now", "late"):
        if cover.advances < 2 or advance_draw < 0.03:  # confirmed, then an advance
            cover.advances += 1
            advance, after = advance_percent, "confirm"
        elif cover.late_requests < 1 or late_draw < 0.02:  # confirmed, asked a month later
            cover.late_requests += 1
            late_request, after = True, "confirm"
        elif cover.cases < COVERED or case_draw < 0.3:
            pick = cover.cases % len(SCENARIOS) if cover.cases < COVERED else case_pick
            scenario = SCENARIOS[pick]
            cover.cases += 1
            case = _case(rng, scenario, skus, flat, shop)
            after = "confirm" if case.stage == "released" else "auto"
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
        case=case,
        advance_percent=advance,
        advance_replay=advance_replay and advance > 0,
        late_request=late_request,
    )


def _checkout(
    rng: random.Random,
    index: int,
    buyers: tuple[BuyerSpec, ...],
    scarce: list[int],
    plentiful: list[int],
    flat: list[FlatSku],
    cover: Coverage,
) -> CheckoutPlan:
    buyer = rng.randrange(len(buyers))
    addresses = len(buyers[buyer].provinces)
    chosen: dict[int, int] = {}
    for _i in range(rng.choices([1, 2, 3], weights=[60, 30, 10])[0]):
        if scarce and _chance(rng, 0.3):
            chosen.setdefault(rng.choice(scarce), rng.randint(1, 2))
        else:
            chosen.setdefault(rng.choice(plentiful), rng.randint(1, 3))
    shops = sorted({flat[sku].shop for sku in chosen})
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
        orders=tuple(
            _order(
                rng,
                s,
                buyer,
                len(buyers),
                addresses,
                paying=fate == "pay",
                skus=sorted(sku for sku in chosen if flat[sku].shop == s),
                flat=flat,
                cover=cover,
            )
            for s in shops
        ),
    )


def _withdrawals(
    rng: random.Random, shops: int, *, depositor: int | None = None
) -> tuple[WithdrawalPlan, ...]:
    """Some shops withdraw; some first move part of their balance into the deposit (always
    ``depositor``, so every run does it)."""
    plans = []
    for s in range(shops):
        chosen = _chance(rng, 0.6)
        plan = WithdrawalPlan(
            shop=s,
            percent=rng.randint(10, 90),
            replay=_chance(rng, 0.2),
            callback_replay=_chance(rng, 0.2),
            deposit_percent=rng.randint(5, 30) if _chance(rng, 0.15) or s == depositor else 0,
        )
        if chosen or s == depositor:
            plans.append(plan)
    return tuple(plans)


def flat_skus(shops: tuple[ShopSpec, ...]) -> list[FlatSku]:
    """Every SKU in flat-index order, with its shop and (global) product index."""
    flat = []
    product = 0
    for s, shop in enumerate(shops):
        for spec in shop.products:
            for sku in spec.skus:
                flat.append(FlatSku(s, product, sku.price_fen, sku.scarce, spec.virtual))
            product += 1
    return flat


def plan_make(*, seed: int, orders: int, rounds: int = ROUNDS) -> Plan:
    """The whole run for ``orders`` checkouts, from ``random.Random(seed)`` alone."""
    rng = random.Random(seed)  # noqa: S311  a reproducible simulation, not security
    shops = tuple(_shop(rng, s == 0) for s in range(max(3, min(40, orders // 120))))
    buyers = tuple(_buyer(rng) for _b in range(max(6, orders // 10)))
    flat = flat_skus(shops)
    scarce = [i for i, sku in enumerate(flat) if sku.scarce]
    plentiful = [i for i, sku in enumerate(flat) if not sku.scarce]
    if not plentiful:  # every SKU came out scarce: treat the last one as plentiful
        plentiful = [scarce.pop()]
    cover = Coverage()
    round_plans = []
    index = 0
    for r in range(rounds):
        count = orders * (r + 1) // rounds - orders * r // rounds
        checkouts = []
        for _c in range(count):
            checkouts.append(_checkout(rng, index, buyers, scarce, plentiful, flat, cover))
            index += 1
        round_plans.append(
            RoundPlan(
                checkouts=tuple(checkouts),
                withdrawals=_withdrawals(rng, len(shops), depositor=1 if r == 0 else None),
            )
        )
    return Plan(
        seed=seed,
        shops=shops,
        buyers=buyers,
        rounds=tuple(round_plans),
        final_withdrawals=_withdrawals(rng, len(shops)),
    )
