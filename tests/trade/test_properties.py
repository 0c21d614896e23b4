"""Property-based tests: random sequences of trade operations against an in-memory model.

A hypothesis state machine drives the services (top-up, checkout, pay with the right or a
wrong PIN, ship, confirm, cancel, refund before shipment, address change, receipt
extension, time jumps that fire the timers, late-shipment compensation) and keeps its own
model of what every wallet, shop balance (net of what the shop owes), the platform
commission, every SKU's stock and every order's status must be. After each step the model
must equal the database, and `ledger_check()` must pass.

A second machine adds after-sales at every stage (unshipped, shipped, after release): refund
requests of each kind, the seller's answer, the return, the returned goods confirmed or
refused, cancellation, platform intervention (open, take, rule, withdraw), advance
compensation and the case timers; the model follows every refund, commission return,
clawback and debt, and checks that no balance goes negative, that no order or line gives
back more than was paid, and that the buyer gets back exactly what was refunded.

The model is written independently of the services (its own postage, commission and PIN
rules), so a bug must make both agree on a wrong answer to slip through. Each example runs
in a savepoint that is rolled back at its end, so every example starts from the same world.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from jishi.accounts.services import address_create, payment_pin_set
from jishi.aftersales import services as aftersales
from jishi.aftersales.models import Dispute, RefundCase
from jishi.aftersales.timers import cases_sweep
from jishi.catalog.models import Product, Sku
from jishi.catalog.services import category_create
from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Transfer
from jishi.ledger.selectors import kind_total
from jishi.orders.models import Order, OrderLine
from jishi.orders.services import (
    group_pay,
    order_address_change,
    order_cancel,
    order_confirm,
    order_extend_receipt,
    order_place,
    order_refund_before_shipment,
    order_ship,
    shipping_template_set,
)
from jishi.orders.timers import orders_sweep
from jishi.payments.selectors import shop_money, wallet_balance
from tests.trade.conftest import PIN, fund

pytestmark = pytest.mark.django_db

WRONG_PIN = "864209"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# Trade rules the model assumes (the defaults of jishi.core.rules).
PIN_ATTEMPTS_MAX = 3
PIN_LOCK = timedelta(hours=3)
UNPAID_CLOSE = timedelta(hours=24)
SHIP_WITHIN = timedelta(hours=48)
AUTO_CONFIRM = timedelta(days=10)
AUTO_CONFIRM_VIRTUAL = timedelta(days=3)
EXTEND_WINDOW = timedelta(days=3)
EXTEND_BY = timedelta(days=3)
NOT_SHIPPED_GRACE = timedelta(days=3)
COMPENSATION_BP = 3000  # late shipment: 30 % of the items ...
COMPENSATION_MAX = 50_000  # ... capped at 500 yuan
# after-sales
ANSWER_UNSHIPPED = timedelta(hours=24)
ANSWER_SHIPPED = timedelta(days=5)
RETURN_WITHIN = timedelta(days=7)
CONFIRM_GOODS_WITHIN = timedelta(days=10)
ESCALATE_WITHIN = timedelta(days=5)
EVIDENCE_PHASE = timedelta(days=3)
AFTERSALES_WINDOW = timedelta(days=15)
CASES_PER_LINE = 3

UNPAID, TO_SHIP, SHIPPED = "WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS"
FINISHED, CLOSED_UNPAID, REFUNDED = "TRADE_FINISHED", "TRADE_CLOSED_BY_SYSTEM", "TRADE_CLOSED"
# refund case and intervention statuses
AGREE, RETURN, CONFIRM_GOODS = (
    "WAIT_SELLER_AGREE",
    "WAIT_BUYER_RETURN_GOODS",
    "WAIT_SELLER_CONFIRM_GOODS",
)
REFUSED, SUCCESS, CLOSED = "SELLER_REFUSE_BUYER", "SUCCESS", "CLOSED"
CASE_OPEN = (AGREE, RETURN, CONFIRM_GOODS, REFUSED)
REQUESTED, EVIDENCE, RULED_BUYER, RULED_SELLER, WITHDRAWN = (
    "requested",
    "evidence",
    "ruled_buyer",
    "ruled_seller",
    "withdrawn",
)
DISPUTE_OPEN = (REQUESTED, EVIDENCE)

PROVINCES = ("浙江省", "新疆维吾尔自治区")
ACTIONS = (
    "pay",
    "ship",
    "confirm",
    "confirm as someone else",
    "cancel",
    "refund",
    "change address",
    "extend receipt",
)
BUYERS = st.integers(0, 1)
ITEMS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(1, 3)),  # (index into SKUS, quantity)
    min_size=1,
    max_size=3,
    unique_by=lambda item: item[0],
)
PINS = st.sampled_from([PIN, PIN, PIN, PIN, WRONG_PIN])  # mostly right; three wrong lock


@dataclass(frozen=True)
class SkuRule:
    shop: int
    price_fen: int
    stock: int
    deduction: str  # "order" or "payment"
    rate_bp: int
    virtual: bool
    variant_of: int | None = None  # another SKU of that SKU's product (an exchange option)


# Shop 0 ships free; shop 1 charges ¥8 (¥20 to Xinjiang), free from ¥50. SKU 5 is a cheaper
# size of SKU 1's product.
SKUS = (
    SkuRule(0, 1234, 3, "order", 200, False),
    SkuRule(0, 999, 40, "order", 200, False),
    SkuRule(0, 2500, 2, "payment", 333, False),
    SkuRule(1, 3000, 5, "order", 200, False),
    SkuRule(1, 1500, 4, "order", 200, True),
    SkuRule(0, 800, 3, "order", 200, False, variant_of=1),
)
TEMPLATE = {"default_fee_fen": 800, "province_fees": {PROVINCES[1]: 2000}, "free_over_fen": 5000}
BUYER_FUNDS = (50_000, 8_000)


def product_of(sku: int) -> int:
    variant_of = SKUS[sku].variant_of
    return sku if variant_of is None else variant_of


def siblings(sku: int) -> list[int]:
    """The SKUs of the product of ``sku`` (the exchange options), in creation order."""
    return [i for i in range(len(SKUS)) if product_of(i) == product_of(sku)]


def postage(shop: int, province: str, items_fen: int) -> int:
    if shop == 0:
        return 0
    if items_fen >= TEMPLATE["free_over_fen"]:
        return 0
    return TEMPLATE["province_fees"].get(province, TEMPLATE["default_fee_fen"])


def commission(paid_fen: int, rate_bp: int) -> int:
    return (paid_fen * rate_bp + 5_000) // 10_000  # half up


def compensation(items_fen: int) -> int:
    return min(items_fen * COMPENSATION_BP // 10_000, COMPENSATION_MAX)


@dataclass
class ModelLine:
    sku: int
    quantity: int
    held: bool
    pk: int = 0
    refunded: int = 0
    commission: int = 0

    @property
    def paid(self) -> int:
        return SKUS[self.sku].price_fen * self.quantity


@dataclass
class ModelOrder:
    buyer: int
    shop: int
    group: int
    lines: list[ModelLine]
    province: str
    items_fen: int
    shipping_fen: int
    status: str = UNPAID
    pay_deadline: datetime | None = None
    ship_deadline: datetime | None = None
    confirm_deadline: datetime | None = None
    late: bool = False
    not_shipped: bool = False
    extended: bool = False
    shipped: bool = False
    finished_at: datetime | None = None
    paused: int | None = None  # auto-confirm seconds left while a request is open
    refunded: int = 0
    shipping_refunded: int = 0
    released: int = 0  # net to the seller
    commission: int = 0
    advanced: int = 0

    @property
    def total_fen(self) -> int:
        return self.items_fen + self.shipping_fen

    @property
    def virtual(self) -> bool:
        return all(SKUS[line.sku].virtual for line in self.lines)


@dataclass
class ModelCase:
    order: int
    line: int  # index into the order's lines
    kind: str
    amount: int
    deadline: datetime | None
    target: int | None = None  # exchange: the replacement SKU
    status: str = AGREE
    returned: bool = False
    refunded: int = 0
    close_reason: str = ""


@dataclass
class ModelDispute:
    case: int
    status: str = REQUESTED
    evidence_deadline: datetime | None = None


@dataclass
class ModelPin:
    failures: int = 0
    locked_until: datetime | None = None


@dataclass
class Model:
    wallets: list[int]
    stock: list[int]
    shops: list[int] = field(default_factory=lambda: [0, 0])  # available less what is owed
    commission: int = 0
    orders: dict[int, ModelOrder] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    paid_groups: set[int] = field(default_factory=set)
    pins: list[ModelPin] = field(default_factory=lambda: [ModelPin(), ModelPin()])
    cases: dict[int, ModelCase] = field(default_factory=dict)
    disputes: dict[int, ModelDispute] = field(default_factory=dict)


def _world(make_shop, make_product, make_buyer, make_operator):
    """Two shops, six SKUs of five products (see SKUS), two buyers (see BUYER_FUNDS) and an
    arbitrator; built once per test."""
    curator = make_operator("catalog")
    categories = {
        bp: category_create(operator=curator, name=f"性质{bp}", commission_rate_bp=bp)
        for bp in sorted({s.rate_bp for s in SKUS})
    }
    shops = [make_shop(), make_shop()]
    for shop in shops:
        payment_pin_set(user=shop.owner, password=shop.owner.raw_password, pin=PIN)
    shipping_template_set(actor=shops[1].owner, **TEMPLATE)
    skus: dict[int, Sku] = {}
    for index, spec in enumerate(SKUS):
        if spec.variant_of is not None:
            continue
        members = siblings(index)
        sizes = len(members) > 1
        product = make_product(
            shops[spec.shop],
            listed=True,
            category=categories[spec.rate_bp],
            stock_deduction=spec.deduction,
            skus=[
                {
                    "specs": {"规格": f"{i}号"} if sizes else {},
                    "price_fen": SKUS[i].price_fen,
                    "stock": SKUS[i].stock,
                }
                for i in members
            ],
            title=f"性质商品{index}",
        )
        if spec.virtual:  # set directly: the model only needs the flag
            Product.objects.filter(pk=product.pk).update(is_virtual=True)
        for i, sku in zip(members, product.skus.order_by("pk"), strict=True):
            skus[i] = sku
    buyers = [make_buyer(balance_fen=amount) for amount in BUYER_FUNDS]
    buyers[1].address2 = address_create(
        user=buyers[1],
        recipient="王五",
        phone="13987654321",
        province=PROVINCES[1],
        city="乌鲁木齐市",
        district="天山区",
        detail="解放路 2 号",
    )
    return shops, [skus[i] for i in range(len(SKUS))], buyers, make_operator("arbitrator")


def _code(fn) -> tuple[str, object]:
    try:
        return "ok", fn()
    except DomainError as exc:
        return exc.code, exc


class TradeMachine(RuleBasedStateMachine):
    """Filled in by the test with the world it built (shops, skus, buyers, operator)."""

    shops: list = []
    skus: list = []
    buyers: list = []
    operator = None

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self._advanced = timedelta(0)
        self._commission_base = kind_total("platform_commission")
        self.model = Model(wallets=list(BUYER_FUNDS), stock=[s.stock for s in SKUS])

    def teardown(self) -> None:
        clock.advance(-self._advanced)
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- model helpers ------------------------------------------------------------------------

    def _pin(self, buyer: int, pin: str) -> str | None:
        """The PIN rules: the error code a PIN check gives, or None when it passes."""
        state, now = self.model.pins[buyer], clock.now()
        if state.locked_until and state.locked_until > now:
            return "pin_locked"
        if pin == PIN:
            state.failures, state.locked_until = 0, None
            return None
        state.failures += 1
        if state.failures >= PIN_ATTEMPTS_MAX:
            state.failures, state.locked_until = 0, now + PIN_LOCK
            return "pin_locked"
        return "pin_wrong"

    def _return_stock(self, order: ModelOrder) -> None:
        for line in order.lines:
            if line.held:
                self.model.stock[line.sku] += line.quantity
                line.held = False

    def _release(self, order: ModelOrder) -> None:
        """Escrow to the seller: commission on what each line kept after its refunds."""
        for line in order.lines:
            line.commission = commission(line.paid - line.refunded, SKUS[line.sku].rate_bp)
        cut = sum(line.commission for line in order.lines)
        seller = order.total_fen - order.refunded - cut
        self.model.shops[order.shop] += seller
        self.model.commission += cut
        order.released, order.commission = seller, cut
        order.status, order.confirm_deadline = FINISHED, None
        order.finished_at = clock.now()

    def _buyer_of(self, order_id: int) -> int:
        return self.model.orders[order_id].buyer

    def _in(self, *statuses: str, buyer: int | None = None) -> list[int]:
        return sorted(
            pk
            for pk, order in self.model.orders.items()
            if order.status in statuses and buyer in (None, order.buyer)
        )

    def _open_cases(self, order_id: int) -> list[int]:
        return sorted(
            pk
            for pk, case in self.model.cases.items()
            if case.order == order_id and case.status in CASE_OPEN
        )

    # --- rules --------------------------------------------------------------------------------

    def top_up(self, buyer: int, amount: int) -> None:
        fund(self.buyers[buyer], amount)  # through the sandbox bank's signed callback
        self.model.wallets[buyer] += amount

    # Every example starts with one checkout (hypothesis may switch rules off per example;
    # this keeps each one busy with orders).
    @initialize(target=orders, buyer=BUYERS, items=ITEMS, far=st.booleans())
    def first_checkout(self, buyer, items, far):
        return self.checkout(buyer, items, far)

    @rule(target=orders, buyer=BUYERS, items=ITEMS, far=st.booleans())
    def checkout(self, buyer, items, far):
        province = PROVINCES[1] if far and buyer == 1 else PROVINCES[0]
        address = (
            self.buyers[1].address2 if province == PROVINCES[1] else self.buyers[buyer].address
        )
        code, group = _code(
            lambda: order_place(
                buyer=self.buyers[buyer],
                items=[{"sku_id": self.skus[s].pk, "quantity": q} for s, q in items],
                address_id=address.pk,
            )
        )
        short = any(SKUS[s].deduction == "order" and self.model.stock[s] < q for s, q in items)
        if short:
            assert code == "out_of_stock", code
            return multiple()
        assert code == "ok", group
        now = clock.now()
        by_shop: dict[int, list[tuple[int, int]]] = {}
        for s, q in sorted(items):
            by_shop.setdefault(SKUS[s].shop, []).append((s, q))
        created = {o.shop_id: o.pk for o in group.orders.all()}
        assert sorted(created) == sorted(self.shops[s].pk for s in by_shop)
        line_pks = {
            (order_id, sku_id): pk
            for order_id, sku_id, pk in OrderLine.objects.filter(
                order_id__in=list(created.values())
            ).values_list("order_id", "sku_id", "pk")
        }
        ids = []
        for shop, lines in sorted(by_shop.items()):
            items_fen = sum(SKUS[s].price_fen * q for s, q in lines)
            order_id = created[self.shops[shop].pk]
            held = [
                ModelLine(
                    s,
                    q,
                    SKUS[s].deduction == "order",
                    pk=line_pks[(order_id, self.skus[s].pk)],
                )
                for s, q in lines
            ]
            for line in held:
                if line.held:
                    self.model.stock[line.sku] -= line.quantity
            self.model.orders[order_id] = ModelOrder(
                buyer=buyer,
                shop=shop,
                group=group.pk,
                lines=held,
                province=province,
                items_fen=items_fen,
                shipping_fen=postage(shop, province, items_fen),
                pay_deadline=now + UNPAID_CLOSE,
            )
            ids.append(order_id)
        self.model.groups[group.pk] = ids
        return multiple(*ids)

    # --- actions (each checks the outcome against the model and updates it) -----------------

    def pay(self, order, pin):
        """Pay the group the order belongs to (the whole checkout at once)."""
        group = self.model.orders[order].group
        order_ids = self.model.groups[group]
        buyer = self._buyer_of(order_ids[0])
        code, _result = _code(lambda: group_pay(buyer=self.buyers[buyer], group_id=group, pin=pin))
        expected = self._pin(buyer, pin)
        payable = [self.model.orders[i] for i in order_ids if self.model.orders[i].status == UNPAID]
        if expected is None and not payable:
            expected = "already_paid" if group in self.model.paid_groups else "nothing_to_pay"
        if expected is None:
            need: dict[int, int] = {}
            for order in payable:
                for line in order.lines:
                    if not line.held:
                        need[line.sku] = need.get(line.sku, 0) + line.quantity
            total = sum(order.total_fen for order in payable)
            if any(self.model.stock[s] < q for s, q in need.items()):
                expected = "out_of_stock"
            elif self.model.wallets[buyer] < total:
                expected = "insufficient_funds"
            else:
                expected = "ok"
                now = clock.now()
                for s, q in need.items():
                    self.model.stock[s] -= q
                for order in payable:
                    for line in order.lines:
                        line.held = True
                    order.status, order.pay_deadline = TO_SHIP, None
                    order.ship_deadline = now + SHIP_WITHIN
                self.model.wallets[buyer] -= total
                self.model.paid_groups.add(group)
        assert code == expected, (code, expected)

    def ship(self, order):
        model = self.model.orders[order]
        shop = self.shops[model.shop]
        code, _result = _code(
            lambda: order_ship(
                actor=shop.owner,
                order_id=order,
                carrier="顺丰",
                tracking_no="SF1",
                delivery_note="码",
            )
        )
        if model.status != TO_SHIP:
            assert code == "order_status_invalid", code
            return
        assert code == "ok", code
        model.status, model.shipped = SHIPPED, True
        auto_confirm = AUTO_CONFIRM_VIRTUAL if model.virtual else AUTO_CONFIRM
        if self._open_cases(order):  # auto-confirm starts paused
            model.paused = int(auto_confirm.total_seconds())
        else:
            model.confirm_deadline = clock.now() + auto_confirm

    def confirm(self, order, pin, intruder=False):
        model = self.model.orders[order]
        buyer = 1 - model.buyer if intruder else model.buyer
        code, _result = _code(
            lambda: order_confirm(buyer=self.buyers[buyer], order_id=order, pin=pin)
        )
        if intruder:
            assert code == "not_found", code  # someone else's order looks missing
            return
        expected = self._pin(buyer, pin)
        if expected is None:
            if model.status == FINISHED:
                expected = "order_status_invalid"
            elif self._open_cases(order):
                expected = "refund_open"
            else:
                expected = "ok" if model.status == SHIPPED else "order_status_invalid"
        assert code == expected, (code, expected)
        if code == "ok":
            self._release(model)

    def cancel(self, order):
        model = self.model.orders[order]
        code, _result = _code(lambda: order_cancel(buyer=self.buyers[model.buyer], order_id=order))
        if model.status != UNPAID:
            assert code == "order_status_invalid", code
            return
        assert code == "ok", code
        self._return_stock(model)
        model.status, model.pay_deadline = CLOSED_UNPAID, None

    def refund_before_shipment(self, order):
        model = self.model.orders[order]
        code, _result = _code(
            lambda: order_refund_before_shipment(buyer=self.buyers[model.buyer], order_id=order)
        )
        if model.status != TO_SHIP:
            assert code == "order_status_invalid", code
            return
        if self._open_cases(order):
            assert code == "refund_open", code
            return
        assert code == "ok", code
        self._return_stock(model)
        self.model.wallets[model.buyer] += model.total_fen - model.refunded
        for line in model.lines:
            line.refunded = line.paid
        model.refunded, model.shipping_refunded = model.total_fen, model.shipping_fen
        model.status, model.ship_deadline = REFUNDED, None

    def change_address(self, order):
        model = self.model.orders[order]
        if model.buyer != 1:
            return
        province = PROVINCES[1] if model.province == PROVINCES[0] else PROVINCES[0]
        buyer = self.buyers[1]
        address = buyer.address2 if province == PROVINCES[1] else buyer.address
        code, _result = _code(
            lambda: order_address_change(buyer=buyer, order_id=order, address_id=address.pk)
        )
        if model.status not in (UNPAID, TO_SHIP):
            assert code == "order_status_invalid", code
            return
        assert code == "ok", code
        model.province = province
        if model.status == UNPAID:  # postage follows the address until payment
            model.shipping_fen = postage(model.shop, province, model.items_fen)

    def extend_receipt(self, order):
        model = self.model.orders[order]
        code, _result = _code(
            lambda: order_extend_receipt(buyer=self.buyers[model.buyer], order_id=order)
        )
        allowed = (
            model.status == SHIPPED
            and not model.extended
            and model.confirm_deadline is not None  # not while a request pauses it
            and model.confirm_deadline - clock.now() <= EXTEND_WINDOW
        )
        assert code == ("ok" if allowed else "extend_not_allowed"), code
        if allowed:
            model.extended = True
            model.confirm_deadline += EXTEND_BY

    # --- rules on orders ---------------------------------------------------------------------
    # Most rules aim at an order in the state where the action succeeds, so that sequences go
    # deep (pay → ship → confirm → timers); one rule tries any action on any order, which is
    # mostly refused (wrong state, someone else's order) and must change nothing.

    @rule(order=orders, action=st.sampled_from(ACTIONS), pin=PINS)
    def any_action_on_any_order(self, order, action, pin):
        if action == "pay":
            self.pay(order, pin)
        elif action == "ship":
            self.ship(order)
        elif action in ("confirm", "confirm as someone else"):
            self.confirm(order, pin, intruder=action != "confirm")
        elif action == "cancel":
            self.cancel(order)
        elif action == "refund":
            self.refund_before_shipment(order)
        elif action == "change address":
            self.change_address(order)
        else:
            self.extend_receipt(order)

    @precondition(lambda self: self._in(UNPAID))
    @rule(pick=st.integers(0, 99))
    def cancel_an_unpaid_order(self, pick):
        unpaid = self._in(UNPAID)
        self.cancel(unpaid[pick % len(unpaid)])

    @precondition(lambda self: self._in(UNPAID, TO_SHIP, buyer=1))
    @rule(pick=st.integers(0, 99))
    def change_address_of_an_open_order(self, pick):
        open_orders = self._in(UNPAID, TO_SHIP, buyer=1)
        self.change_address(open_orders[pick % len(open_orders)])

    @precondition(lambda self: self._in(UNPAID))
    @rule(pick=st.integers(0, 99), pin=PINS, top_up=st.sampled_from([0, 0, 500, 10_000]))
    def pay_an_unpaid_order(self, pick, pin, top_up):
        """Pay (the whole checkout of) an unpaid order, sometimes topping up first."""
        unpaid = self._in(UNPAID)
        order = unpaid[pick % len(unpaid)]
        if top_up:
            self.top_up(self.model.orders[order].buyer, top_up)
        self.pay(order, pin)

    @precondition(lambda self: self._in(TO_SHIP))
    @rule(pick=st.integers(0, 99))
    def ship_a_paid_order(self, pick):
        paid = self._in(TO_SHIP)
        self.ship(paid[pick % len(paid)])

    @precondition(lambda self: self._in(TO_SHIP))
    @rule(pick=st.integers(0, 99))
    def refund_a_paid_order(self, pick):
        paid = self._in(TO_SHIP)
        self.refund_before_shipment(paid[pick % len(paid)])

    @precondition(lambda self: self._in(SHIPPED))
    @rule(pick=st.integers(0, 99), pin=PINS)
    def confirm_a_shipped_order(self, pick, pin):
        shipped = self._in(SHIPPED)
        self.confirm(shipped[pick % len(shipped)], pin, intruder=False)

    @precondition(lambda self: self._in(SHIPPED))
    @rule(pick=st.integers(0, 99))
    def extend_a_shipped_order(self, pick):
        shipped = self._in(SHIPPED)
        self.extend_receipt(shipped[pick % len(shipped)])

    def _counting_down(self) -> list[int]:
        return [o for o in self._in(SHIPPED) if self.model.orders[o].confirm_deadline]

    @precondition(lambda self: self._counting_down())
    @rule(pick=st.integers(0, 99), hours_left=st.sampled_from([47, 72, 1]))
    def extend_near_the_deadline(self, pick, hours_left):
        """Wait until only ``hours_left`` remain before auto-confirm (timers fire meanwhile),
        then ask for the extension: allowed once, with 3 days or less left."""
        shipped = self._counting_down()
        order = shipped[pick % len(shipped)]
        wait = self.model.orders[order].confirm_deadline - clock.now() - timedelta(hours=hours_left)
        if wait > timedelta(0):
            self._jump(wait)
        self.extend_receipt(order)

    @precondition(lambda self: self.model.orders)
    @rule(hours=st.sampled_from([49, 24 * 7, 25, 1, 24 * 10 + 1, 23]))
    def time_jump(self, hours):
        self._jump(timedelta(hours=hours))

    def _jump(self, delta: timedelta) -> None:
        """Move the clock and fire every due timer, as `jishi worker` would: the order timers,
        then the case timers, again until nothing is due."""
        clock.advance(delta)
        self._advanced += delta
        while orders_sweep() + cases_sweep():
            pass
        now = clock.now()
        while self._order_timers(now) + self._case_timers(now):
            pass

    def _order_timers(self, now: datetime) -> int:
        fired = 0
        for pk in sorted(self.model.orders):
            model = self.model.orders[pk]
            if model.status == UNPAID and model.pay_deadline <= now:
                self._return_stock(model)
                model.status, model.pay_deadline = CLOSED_UNPAID, None
                fired += 1
            if model.status == TO_SHIP and model.ship_deadline <= now and not model.late:
                amount = compensation(model.items_fen)  # paid by the shop to the buyer
                self.model.wallets[model.buyer] += amount
                self.model.shops[model.shop] -= amount
                model.late = True
                fired += 1
            if (
                model.status == TO_SHIP
                and model.late
                and not model.not_shipped
                and model.ship_deadline <= now - NOT_SHIPPED_GRACE
            ):
                model.not_shipped = True
                fired += 1
            if model.status == SHIPPED and model.confirm_deadline and model.confirm_deadline <= now:
                self._release(model)
                fired += 1
        return fired

    def _case_timers(self, now: datetime) -> int:  # the after-sales machine fills this in
        return 0

    # --- the model equals the database --------------------------------------------------------

    @invariant()
    def model_matches_database(self):
        m = self.model
        for b, buyer in enumerate(self.buyers):
            balance = wallet_balance(user_id=buyer.pk).balance_fen
            assert balance == m.wallets[b] and balance >= 0, f"wallet {b}"
        for s, shop in enumerate(self.shops):
            money = shop_money(shop_id=shop.pk)
            # what a shop owes is collected from its balance at once: one of them is zero
            expected = (max(m.shops[s], 0), max(-m.shops[s], 0))
            assert (money.available_fen, money.owed_fen) == expected, f"shop {s}"
            assert money.deposit_fen == 0
        assert kind_total("platform_commission") - self._commission_base == m.commission
        stock = dict(
            Sku.objects.filter(pk__in=[s.pk for s in self.skus]).values_list("pk", "stock")
        )
        assert [stock[s.pk] for s in self.skus] == m.stock
        rows = Order.objects.filter(pk__in=list(m.orders)).values_list(
            "pk",
            "status",
            "total_fen",
            "shipping_fen",
            "late_shipment_at",
            "not_shipped_at",
            "receipt_extended",
            "refunded_fen",
            "shipping_refunded_fen",
            "released_fen",
            "commission_fen",
            "confirm_deadline",
            "confirm_paused_seconds",
        )
        for row in rows:
            pk, status, total, shipping, late, not_shipped, extended = row[:7]
            order = m.orders[pk]
            assert (status, total, shipping) == (order.status, order.total_fen, order.shipping_fen)
            assert (late is not None, not_shipped is not None, extended) == (
                order.late,
                order.not_shipped,
                order.extended,
            ), pk
            assert row[7:] == (
                order.refunded,
                order.shipping_refunded,
                order.released,
                order.commission,
                order.confirm_deadline,
                order.paused,
            ), (pk, row[7:])
            assert 0 <= order.refunded <= order.total_fen
        lines = dict(
            (pk, (refunded, commission_fen, paid))
            for pk, refunded, commission_fen, paid in OrderLine.objects.filter(
                order_id__in=list(m.orders)
            ).values_list("pk", "refunded_fen", "commission_fen", "paid_fen")
        )
        for order in m.orders.values():
            for line in order.lines:
                assert lines[line.pk] == (line.refunded, line.commission, line.paid), line
                assert 0 <= line.refunded <= line.paid
        report = ledger_check()
        assert report.ok, report.problems


def test_random_trade_sequences_keep_the_model_and_the_ledger(
    make_shop, make_product, make_buyer, make_operator, frozen_clock
):
    shops, skus, buyers, operator = _world(make_shop, make_product, make_buyer, make_operator)
    machine = type(
        "BoundTradeMachine",
        (TradeMachine,),
        {"shops": shops, "skus": skus, "buyers": buyers, "operator": operator},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- after-sales ------------------------------------------------------------------------------

KINDS = st.sampled_from(["return_refund", "exchange", "refund_only", "refund_only"])
STEP_WAIT = 4
STEPS = st.lists(st.integers(0, STEP_WAIT), max_size=6)  # a case's next steps
# how much to ask: all that is left, half, one fen, one fen too many, nothing
AMOUNTS = st.sampled_from(["full", "full", "half", "one", "over", "zero"])
PICK = st.integers(0, 99)
PARTIES = st.sampled_from(["buyer", "seller"])
CASE_ACTIONS = (
    "agree",
    "refuse",
    "return",
    "confirm goods",
    "refuse goods",
    "cancel",
    "dispute",
    "take",
    "rule buyer",
    "rule seller",
    "withdraw",
)


def amount_of(choice: str, most: int) -> int:
    return {
        "full": most,
        "half": max(1, most // 2),
        "one": 1,
        "over": most + 1,
        "zero": 0,
    }[choice]


class AftersalesMachine(TradeMachine):
    """The trade machine plus after-sales at every stage and its timers."""

    # --- the after-sales model ----------------------------------------------------------------

    def _refundable(self, order: ModelOrder, index: int) -> int:
        """The most a request on a line may get: what the line still holds, plus the postage
        once every other line is fully refunded; never more than the order still holds, and
        after an advance never more than the seller still holds."""
        line = order.lines[index]
        amount = line.paid - line.refunded
        others = [x for i, x in enumerate(order.lines) if i != index]
        if all(x.refunded >= x.paid for x in others):
            amount += order.shipping_fen - order.shipping_refunded
        held = order.total_fen - order.refunded
        if order.advanced:
            held = min(held, order.released)
        return max(0, min(amount, held))

    def _open_for(self, order: ModelOrder) -> bool:
        if order.status in (TO_SHIP, SHIPPED):
            return True
        return order.status == FINISHED and clock.now() <= order.finished_at + AFTERSALES_WINDOW

    def _pay(self, order: ModelOrder, index: int, amount: int) -> None:
        """Refund ``amount`` on a line: from escrow; after release the platform returns the
        commission the line no longer owes and the shop pays the rest."""
        line = order.lines[index]
        line_part = min(amount, line.paid - line.refunded)
        if order.status == FINISHED:
            kept = commission(line.paid - line.refunded - line_part, SKUS[line.sku].rate_bp)
            back = max(0, line.commission - kept)
            self.model.commission -= back
            self.model.shops[order.shop] -= amount - back
            order.commission -= back
            order.released -= amount - back
            line.commission = kept
        self.model.wallets[order.buyer] += amount
        line.refunded += line_part
        if not order.shipped and line.held and line.refunded >= line.paid:
            self.model.stock[line.sku] += line.quantity
            line.held = False
        order.refunded += amount
        order.shipping_refunded += amount - line_part

    def _resume(self, order: ModelOrder, order_id: int) -> None:
        if self._open_cases(order_id):
            return
        if order.status == SHIPPED and order.paused is not None:
            order.confirm_deadline = clock.now() + timedelta(seconds=order.paused)
            order.paused = None

    def _withdraw_disputes(self, case_id: int) -> None:
        for dispute in self.model.disputes.values():
            if dispute.case == case_id and dispute.status in DISPUTE_OPEN:
                dispute.status = WITHDRAWN

    def _succeed(self, case: ModelCase, amount: int) -> None:
        order = self.model.orders[case.order]
        amount = min(amount, self._refundable(order, case.line))
        if amount:
            self._pay(order, case.line, amount)
            case.refunded = amount
        case.status, case.deadline = SUCCESS, None
        if order.refunded == order.total_fen and order.status != REFUNDED:
            self._order_closed(case.order)
        else:
            self._resume(order, case.order)

    def _order_closed(self, order_id: int) -> None:
        order = self.model.orders[order_id]
        order.status = REFUNDED
        order.ship_deadline = order.confirm_deadline = order.paused = None
        for pk in self._open_cases(order_id):
            self._withdraw_disputes(pk)
            case = self.model.cases[pk]
            case.status, case.deadline, case.close_reason = CLOSED, None, "order_closed"

    def _close(self, case_id: int, reason: str) -> None:
        case = self.model.cases[case_id]
        self._withdraw_disputes(case_id)
        case.status, case.deadline, case.close_reason = CLOSED, None, reason
        self._resume(self.model.orders[case.order], case.order)

    def _agree(self, case: ModelCase) -> None:
        if case.kind == "refund_only":
            self._succeed(case, case.amount)
        else:
            case.status, case.deadline = RETURN, clock.now() + RETURN_WITHIN

    def _line_left(self, case: ModelCase) -> int:
        line = self.model.orders[case.order].lines[case.line]
        return line.paid - line.refunded

    def _case_timers(self, now: datetime) -> int:
        due = sorted(
            (case.deadline, pk)
            for pk, case in self.model.cases.items()
            if case.status in CASE_OPEN and case.deadline and case.deadline <= now
        )
        fired = 0
        for _deadline, pk in due:
            case = self.model.cases[pk]
            if case.status not in CASE_OPEN or case.deadline is None:
                continue  # closed meanwhile with its order
            fired += 1
            event(f"timer {case.kind} {case.status}")
            if case.status == AGREE:  # the seller's silence agrees
                self._agree(case)
            elif case.status == RETURN:
                self._close(pk, "return_not_shipped")
            elif case.status == CONFIRM_GOODS:  # silence about the returned goods refunds
                if case.kind == "exchange":
                    case.amount = self._line_left(case)
                self._succeed(case, case.amount)
            else:
                self._close(pk, "not_escalated")
        return fired

    # --- orders to work on -------------------------------------------------------------------

    # Every example starts with orders at each stage, so that requests begin at once.
    @initialize(target=TradeMachine.orders, items=ITEMS)
    def an_unshipped_order(self, items):
        return self.an_order_at_a_stage(0, items, "paid")

    @initialize(target=TradeMachine.orders, items=ITEMS)
    def a_shipped_order(self, items):
        return self.an_order_at_a_stage(0, items, "shipped")

    @initialize(target=TradeMachine.orders, items=ITEMS, buyer=BUYERS)
    def a_finished_order(self, items, buyer):
        return self.an_order_at_a_stage(buyer, items, "finished")

    @rule(
        target=TradeMachine.orders,
        buyer=BUYERS,
        items=ITEMS,
        stage=st.sampled_from(["paid", "shipped", "shipped", "finished"]),
    )
    def an_order_at_a_stage(self, buyer, items, stage):
        """Checkout and pay (topping up what is missing), then ship and confirm receipt, as
        far as ``stage``: after-sales then starts from every stage."""
        placed = self.checkout(buyer, items, False)
        ids = list(placed.values)
        if not ids:
            return placed
        need = sum(self.model.orders[i].total_fen for i in ids) - self.model.wallets[buyer]
        if need > 0:
            self.top_up(buyer, need)
        self.pay(ids[0], PIN)
        for order_id in ids:
            if stage != "paid" and self.model.orders[order_id].status == TO_SHIP:
                self.ship(order_id)
            if stage == "finished" and self.model.orders[order_id].status == SHIPPED:
                self.confirm(order_id, PIN)
        return placed

    # --- requests -----------------------------------------------------------------------------

    def request(
        self, order_id: int, line_pick: int, kind: str, amount: str, size: int
    ) -> int | None:
        order = self.model.orders[order_id]
        index = line_pick % len(order.lines)
        line = order.lines[index]
        options = siblings(line.sku)
        sku = options[size % len(options)]  # the exchange: the same SKU or another size
        most = self._refundable(order, index)
        amount_fen = amount_of(amount, most)
        reason = "size" if kind == "exchange" else ("quality" if order.shipped else "not_wanted")
        code, case = _code(
            lambda: aftersales.refund_request(
                buyer=self.buyers[order.buyer],
                order_id=order_id,
                line_id=line.pk,
                kind=kind,
                reason=reason,
                amount_fen=amount_fen,
                exchange_sku_id=self.skus[sku].pk,
            )
        )
        on_line = [c for c in self.model.cases.values() if (c.order, c.line) == (order_id, index)]
        asked = amount_fen
        if not self._open_for(order):
            expected = "refund_not_allowed"
        elif any(c.status in CASE_OPEN for c in on_line):
            expected = "refund_already_open"
        elif len(on_line) >= CASES_PER_LINE:
            expected = "refund_too_many"
        elif kind != "refund_only" and (not order.shipped or order.virtual):
            expected = "refund_kind_invalid"
        elif kind == "exchange":
            asked = line.paid - line.refunded - SKUS[sku].price_fen * line.quantity
            short = self.model.stock[sku] < line.quantity
            expected = "exchange_sku_invalid" if asked < 0 or short else "ok"
        elif not 1 <= amount_fen <= most:
            expected = "refund_amount_invalid"
        else:
            expected = "ok"
        assert code == expected, (code, expected, str(getattr(case, "message", "")))
        event(f"request {kind} on {order.status}: {code}")
        if code != "ok":
            return None
        answer = ANSWER_SHIPPED if order.shipped else ANSWER_UNSHIPPED
        self.model.cases[case.pk] = ModelCase(
            order=order_id,
            line=index,
            kind=kind,
            amount=asked,
            deadline=clock.now() + answer,
            target=sku if kind == "exchange" else None,
        )
        if order.status == SHIPPED and order.confirm_deadline is not None:
            left = (order.confirm_deadline - clock.now()).total_seconds()
            order.paused, order.confirm_deadline = max(0, int(left)), None
        return case.pk

    def _askable(self) -> list[tuple[int, int]]:
        """(order, line) pairs a request fits: paid, in the window, no open request, not
        asked too often."""
        pairs = []
        for pk in self._in(TO_SHIP, SHIPPED, FINISHED):
            order = self.model.orders[pk]
            if not self._open_for(order):
                continue
            for index in range(len(order.lines)):
                on_line = [c for c in self.model.cases.values() if (c.order, c.line) == (pk, index)]
                if len(on_line) < CASES_PER_LINE and all(
                    c.status not in CASE_OPEN for c in on_line
                ):
                    pairs.append((pk, index))
        return pairs

    @precondition(lambda self: self.model.orders)
    @rule(
        pick=PICK,
        kind=KINDS,
        amount=AMOUNTS,
        size=st.integers(0, 1),
        anywhere=st.sampled_from([False, False, False, True]),
        then=STEPS,
        party=PARTIES,
    )
    def request_after_sales(self, pick, kind, amount, size, anywhere, then, party):
        """A request on a line of a paid order: unshipped, shipped or after release (now and
        then on any line of any order, mostly refused), and its next steps right away."""
        pairs = self._askable()
        if anywhere or not pairs:
            pairs = [(pk, i) for pk in sorted(self.model.orders) for i in range(3)]
        order_id, line = pairs[pick % len(pairs)]
        order = self.model.orders[order_id]
        if not anywhere and (not order.shipped or order.virtual):
            kind = "refund_only"  # what fits (the other kinds are tried anywhere)
        case_id = self.request(order_id, line, kind, amount, size)
        for choice in then:
            if case_id not in self._moving():
                return
            self.next_step(case_id, choice, party, amount)

    # --- the parties act on a case ------------------------------------------------------------

    def _cases_in(self, *statuses: str) -> list[int]:
        return sorted(pk for pk, case in self.model.cases.items() if case.status in statuses)

    def _open_dispute(self, case_id: int) -> int | None:
        for pk, dispute in self.model.disputes.items():
            if dispute.case == case_id and dispute.status in DISPUTE_OPEN:
                return pk
        return None

    def act(self, case_id: int, action: str, party: str = "buyer", amount: str = "full"):
        case = self.model.cases[case_id]
        order = self.model.orders[case.order]
        buyer, owner = self.buyers[order.buyer], self.shops[order.shop].owner
        operator = self.operator
        dispute_id = self._open_dispute(case_id)
        if action in ("take", "rule buyer", "rule seller", "withdraw") and dispute_id is None:
            disputes = [pk for pk, d in self.model.disputes.items() if d.case == case_id]
            if not disputes:
                return
            dispute_id = max(disputes)  # the latest, decided or ended: refused
        dispute = self.model.disputes.get(dispute_id)
        status, now = case.status, clock.now()
        most = self._refundable(order, case.line)
        ruling = amount_of(amount, most)
        calls = {
            "agree": lambda: aftersales.refund_agree(
                actor=owner, case_id=case_id, return_address="退货地址 1 号"
            ),
            "refuse": lambda: aftersales.refund_refuse(
                actor=owner, case_id=case_id, reason="不同意"
            ),
            "return": lambda: aftersales.refund_return_ship(
                buyer=buyer, case_id=case_id, carrier="中通", tracking_no="ZT1"
            ),
            "confirm goods": lambda: aftersales.refund_goods_confirm(
                actor=owner, case_id=case_id, carrier="顺丰", tracking_no="SF9"
            ),
            "refuse goods": lambda: aftersales.refund_goods_refuse(
                actor=owner, case_id=case_id, reason="空箱"
            ),
            "cancel": lambda: aftersales.refund_cancel(buyer=buyer, case_id=case_id),
            "dispute": lambda: aftersales.dispute_open(
                actor=buyer if party == "buyer" else owner, case_id=case_id, reason="请介入"
            ),
            "take": lambda: aftersales.dispute_take(operator=operator, dispute_id=dispute_id),
            "rule buyer": lambda: aftersales.dispute_rule(
                operator=operator,
                dispute_id=dispute_id,
                decision="buyer",
                amount_fen=ruling,
                reason="支持买家",
                not_as_described=amount == "half",
            ),
            "rule seller": lambda: aftersales.dispute_rule(
                operator=operator, dispute_id=dispute_id, decision="seller", reason="支持卖家"
            ),
            "withdraw": lambda: aftersales.dispute_withdraw(
                actor=buyer if party == "buyer" else owner, dispute_id=dispute_id
            ),
        }
        code, result = _code(calls[action])
        bad = "refund_status_invalid"
        if action in ("agree", "refuse"):
            expected = "ok" if status == AGREE else bad
        elif action == "return":
            expected = "ok" if status == RETURN else bad
        elif action == "confirm goods":
            expected = "ok" if status == CONFIRM_GOODS else bad
            if expected == "ok" and case.kind == "exchange":
                line = order.lines[case.line]
                if self.model.stock[case.target] < line.quantity:
                    expected = "out_of_stock"
        elif action == "refuse goods":
            expected = "ok" if status == CONFIRM_GOODS else bad
        elif action == "cancel":
            expected = "ok" if status in CASE_OPEN else bad
        elif action == "dispute":
            expected = "ok" if status == REFUSED and dispute_id is None else "dispute_not_allowed"
        elif action == "take":
            expected = "ok" if dispute.status == REQUESTED else "dispute_status_invalid"
        elif action.startswith("rule"):
            if dispute.status != EVIDENCE:
                expected = "dispute_status_invalid"
            elif dispute.evidence_deadline > now:
                expected = "evidence_phase_open"
            elif action == "rule buyer" and not 1 <= ruling <= most:
                expected = "refund_amount_invalid"
            else:
                expected = "ok"
        else:  # withdraw
            expected = "ok" if dispute.status in DISPUTE_OPEN else "dispute_status_invalid"
        assert code == expected, (action, code, expected, str(getattr(result, "message", "")))
        event(f"{action} ({case.kind}, {status}): {code}")
        if code != "ok":
            return
        if action == "agree":
            self._agree(case)
        elif action in ("refuse", "refuse goods"):
            case.status, case.deadline = REFUSED, now + ESCALATE_WITHIN
        elif action == "return":
            case.status, case.deadline, case.returned = (
                CONFIRM_GOODS,
                now + CONFIRM_GOODS_WITHIN,
                True,
            )
        elif action == "confirm goods":
            if case.kind == "exchange":  # the replacement leaves the shelf
                self.model.stock[case.target] -= order.lines[case.line].quantity
            self._succeed(case, case.amount)
        elif action == "cancel":
            self._close(case_id, "buyer_cancelled")
        elif action == "dispute":
            self.model.disputes[result.pk] = ModelDispute(case=case_id)
            case.deadline = None  # the escalation timer stops
        elif action == "take":
            dispute.status, dispute.evidence_deadline = EVIDENCE, now + EVIDENCE_PHASE
        elif action == "rule buyer":
            dispute.status = RULED_BUYER
            self._succeed(case, ruling)
        elif action == "rule seller":
            dispute.status = RULED_SELLER
            case.status, case.deadline, case.close_reason = CLOSED, None, "ruled_for_seller"
            self._resume(order, case.order)
        elif party == "buyer":  # withdraw: the request closes
            dispute.status = WITHDRAWN
            self._close(case_id, "buyer_cancelled")
        else:  # withdraw: the seller agrees (the goods already back are accepted)
            dispute.status = WITHDRAWN
            if case.returned and case.kind != "refund_only":
                if case.kind == "exchange":
                    case.amount = self._line_left(case)
                self._succeed(case, case.amount)
            else:
                self._agree(case)

    @precondition(lambda self: self.model.cases)
    @rule(
        pick=PICK,
        action=st.sampled_from(CASE_ACTIONS),
        party=PARTIES,
        amount=AMOUNTS,
    )
    def any_action_on_any_case(self, pick, action, party, amount):
        """Mostly refused (wrong status, nothing to rule on): it must change nothing."""
        cases = sorted(self.model.cases)
        self.act(cases[pick % len(cases)], action, party, amount)

    def _moving(self) -> list[int]:
        """Cases someone has to act on: open ones, and closed ones still before the platform."""
        return sorted(
            pk
            for pk, case in self.model.cases.items()
            if case.status in CASE_OPEN or self._open_dispute(pk) is not None
        )

    @precondition(lambda self: self._moving())
    @rule(
        pick=PICK,
        choices=STEPS,
        party=PARTIES,
        amount=AMOUNTS,
    )
    def a_case_moves_on(self, pick, choices, party, amount):
        """The next steps of a case, as its status asks: the seller answers, the buyer ships
        the return, the seller checks it, someone asks the platform, the operator takes the
        case and (the evidence phase over) rules; sometimes a party gives up instead."""
        cases = self._moving()
        case_id = cases[pick % len(cases)]
        for choice in choices:
            if case_id not in self._moving():
                return
            self.next_step(case_id, choice, party, amount)

    def next_step(self, case_id: int, choice: int, party: str, amount: str) -> None:
        """``choice`` 0-3 picks what the case's status asks (3: a party gives up), 4 waits
        for the case's timer."""
        case = self.model.cases[case_id]
        dispute_id = self._open_dispute(case_id)
        if choice == STEP_WAIT:
            if case.deadline is not None and case.deadline > clock.now():
                self._jump(case.deadline - clock.now())
            return
        if dispute_id is not None:
            dispute = self.model.disputes[dispute_id]
            if dispute.status == REQUESTED:
                action = ("take", "take", "take", "withdraw")[choice]
            else:
                action = ("rule buyer", "rule buyer", "rule seller", "withdraw")[choice]
                if choice < 3 and dispute.evidence_deadline > clock.now():
                    self._jump(dispute.evidence_deadline - clock.now())
                    if self._open_dispute(case_id) is None:
                        return
        else:
            action = {
                AGREE: ("agree", "refuse", "agree", "cancel"),
                RETURN: ("return", "return", "return", "cancel"),
                CONFIRM_GOODS: ("confirm goods", "refuse goods", "confirm goods", "cancel"),
                REFUSED: ("dispute", "dispute", "dispute", "cancel"),
            }[case.status][choice]
        self.act(case_id, action, party, amount)

    @precondition(lambda self: self.model.orders)
    @rule(pick=PICK, amount=AMOUNTS, anywhere=st.sampled_from([False, False, False, True]))
    def advance_compensation(self, pick, amount, anywhere):
        """The operator pays a finished order's buyer from the platform's funds (now and then
        tried on any order: refused before release)."""
        candidates = self._in(FINISHED)
        if anywhere or not candidates:
            candidates = sorted(self.model.orders)
        self.advance(candidates[pick % len(candidates)], amount)

    # Some of the trade machine's rules give way to the after-sales ones (the trade machine
    # tries them hard enough); those kept still ship, confirm (refused while a request is
    # open), refund before shipment (refused likewise), extend receipt and move the clock.
    any_action_on_any_order = None
    cancel_an_unpaid_order = None
    change_address_of_an_open_order = None
    extend_a_shipped_order = None

    def advance(self, order_id: int, amount: str) -> None:
        order = self.model.orders[order_id]
        most = max(0, min(order.total_fen - order.refunded, order.released))
        fen = amount_of(amount, most)
        code, _result = _code(
            lambda: aftersales.advance_pay(
                operator=self.operator, order_id=order_id, amount_fen=fen, reason="先行垫付"
            )
        )
        if order.status != FINISHED or most <= 0:
            expected = "advance_not_allowed"
        else:
            expected = "ok" if 1 <= fen <= most else "refund_amount_invalid"
        assert code == expected, (code, expected)
        event(f"advance: {code}")
        if code != "ok":
            return
        self.model.wallets[order.buyer] += fen
        self.model.shops[order.shop] -= fen  # recovered from the shop
        order.refunded += fen
        order.released -= fen
        order.advanced += fen
        if order.refunded == order.total_fen:
            self._order_closed(order_id)

    @precondition(lambda self: self._cases_in(*CASE_OPEN))
    @rule(early=st.booleans())
    def wait_for_the_next_case_deadline(self, early):
        """Jump to the next case deadline (or one second before it): its timer fires at the
        deadline, not before."""
        deadlines = [
            self.model.cases[pk].deadline
            for pk in self._cases_in(*CASE_OPEN)
            if self.model.cases[pk].deadline
        ]
        if not deadlines:
            return
        wait = min(deadlines) - clock.now() - (timedelta(seconds=1) if early else timedelta(0))
        if wait > timedelta(0):
            self._jump(wait)

    # Each rule above may be switched off for a whole example (hypothesis' swarm testing);
    # this one mixes them all, weighted towards requests and their next steps, so that every
    # example also walks cases deep into their lives.
    MIX = (
        ["request"] * 3
        + ["next step"] * 4
        + ["any action", "advance", "deadline", "time", "ship", "confirm"]
    )

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def a_day_of_after_sales(self, data):
        for op in data.draw(st.lists(st.sampled_from(self.MIX), min_size=1, max_size=4)):
            if op == "request":
                self.request_after_sales(
                    data.draw(PICK),
                    data.draw(KINDS),
                    data.draw(AMOUNTS),
                    data.draw(st.integers(0, 1)),
                    data.draw(st.sampled_from([False, False, False, True])),
                    data.draw(STEPS),
                    data.draw(PARTIES),
                )
            elif op == "next step" and self._moving():
                self.a_case_moves_on(
                    data.draw(PICK),
                    data.draw(STEPS),
                    data.draw(PARTIES),
                    data.draw(AMOUNTS),
                )
            elif op == "any action" and self.model.cases:
                self.any_action_on_any_case(
                    data.draw(PICK),
                    data.draw(st.sampled_from(CASE_ACTIONS)),
                    data.draw(PARTIES),
                    data.draw(AMOUNTS),
                )
            elif op == "advance":
                self.advance_compensation(
                    data.draw(PICK),
                    data.draw(AMOUNTS),
                    data.draw(st.sampled_from([False, False, False, True])),
                )
            elif op == "deadline" and self._cases_in(*CASE_OPEN):
                self.wait_for_the_next_case_deadline(data.draw(st.booleans()))
            elif op == "time":
                self._jump(timedelta(hours=data.draw(st.sampled_from([1, 25, 24 * 7 + 1]))))
            elif op == "ship" and self._in(TO_SHIP):
                paid = self._in(TO_SHIP)
                self.ship(paid[data.draw(PICK) % len(paid)])
            elif op == "confirm" and self._in(SHIPPED):
                shipped = self._in(SHIPPED)
                self.confirm(shipped[data.draw(PICK) % len(shipped)], PIN)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def cases_match_the_database(self):
        rows = RefundCase.objects.filter(pk__in=list(self.model.cases)).values_list(
            "pk", "status", "kind", "amount_fen", "refunded_fen", "deadline"
        )
        for pk, status, kind, amount_fen, refunded_fen, deadline in rows:
            case = self.model.cases[pk]
            assert (status, kind, amount_fen, refunded_fen, deadline) == (
                case.status,
                case.kind,
                case.amount,
                case.refunded,
                case.deadline,
            ), pk
        assert RefundCase.objects.count() == len(self.model.cases)
        disputes = dict(Dispute.objects.values_list("pk", "status"))
        assert disputes == {pk: d.status for pk, d in self.model.disputes.items()}

    @invariant()
    def the_buyer_gets_back_exactly_what_was_refunded(self):
        back = {
            row["order_id"]: row["total"]
            for row in Transfer.objects.filter(
                order_id__in=list(self.model.orders), kind__in=("refund", "advance")
            )
            .values("order_id")
            .annotate(total=Sum("amount"))
        }
        for pk, order in self.model.orders.items():
            assert back.get(pk, 0) == order.refunded, pk


def test_random_after_sales_sequences_keep_the_model_and_the_ledger(
    make_shop, make_product, make_buyer, make_operator, frozen_clock
):
    shops, skus, buyers, operator = _world(make_shop, make_product, make_buyer, make_operator)
    machine = type(
        "BoundAftersalesMachine",
        (AftersalesMachine,),
        {"shops": shops, "skus": skus, "buyers": buyers, "operator": operator},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
