"""Property-based tests: random sequences of trade operations against an in-memory model.

A hypothesis state machine drives the services (top-up, checkout, pay with the right or a
wrong PIN, ship, confirm, cancel, refund before shipment, address change, receipt
extension, time jumps that fire the timers) and keeps its own model of what every wallet,
shop balance, the platform commission, every SKU's stock and every order's status must be.
After each step the model must equal the database, and `ledger_check()` must pass.

The model is written independently of the services (its own postage, commission and PIN
rules), so a bug must make both agree on a wrong answer to slip through. Each example runs
in a savepoint that is rolled back at its end, so every example starts from the same world.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
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
from jishi.catalog.models import Product, Sku
from jishi.catalog.services import category_create
from jishi.core import clock
from jishi.core.errors import DomainError
from jishi.ledger.check import ledger_check
from jishi.ledger.selectors import kind_total
from jishi.orders.models import Order
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

UNPAID, TO_SHIP, SHIPPED = "WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS"
FINISHED, CLOSED_UNPAID, REFUNDED = "TRADE_FINISHED", "TRADE_CLOSED_BY_SYSTEM", "TRADE_CLOSED"

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
    st.tuples(st.integers(0, 4), st.integers(1, 3)),  # (index into SKUS, quantity)
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


# Shop 0 ships free; shop 1 charges ¥8 (¥20 to Xinjiang), free from ¥50.
SKUS = (
    SkuRule(0, 1234, 3, "order", 200, False),
    SkuRule(0, 999, 40, "order", 200, False),
    SkuRule(0, 2500, 2, "payment", 333, False),
    SkuRule(1, 3000, 5, "order", 200, False),
    SkuRule(1, 1500, 4, "order", 200, True),
)
TEMPLATE = {"default_fee_fen": 800, "province_fees": {PROVINCES[1]: 2000}, "free_over_fen": 5000}
BUYER_FUNDS = (50_000, 8_000)


def postage(shop: int, province: str, items_fen: int) -> int:
    if shop == 0:
        return 0
    if items_fen >= TEMPLATE["free_over_fen"]:
        return 0
    return TEMPLATE["province_fees"].get(province, TEMPLATE["default_fee_fen"])


def commission(paid_fen: int, rate_bp: int) -> int:
    return (paid_fen * rate_bp + 5_000) // 10_000  # half up


@dataclass
class ModelLine:
    sku: int
    quantity: int
    held: bool


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
    extended: bool = False

    @property
    def total_fen(self) -> int:
        return self.items_fen + self.shipping_fen

    @property
    def virtual(self) -> bool:
        return all(SKUS[line.sku].virtual for line in self.lines)


@dataclass
class ModelPin:
    failures: int = 0
    locked_until: datetime | None = None


@dataclass
class Model:
    wallets: list[int]
    stock: list[int]
    shops: list[int] = field(default_factory=lambda: [0, 0])
    commission: int = 0
    orders: dict[int, ModelOrder] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    paid_groups: set[int] = field(default_factory=set)
    pins: list[ModelPin] = field(default_factory=lambda: [ModelPin(), ModelPin()])


def _world(make_shop, make_product, make_buyer, make_operator):
    """Two shops, five SKUs (see SKUS), two buyers (see BUYER_FUNDS); built once per test."""
    curator = make_operator("catalog")
    categories = {
        bp: category_create(operator=curator, name=f"性质{bp}", commission_rate_bp=bp)
        for bp in sorted({s.rate_bp for s in SKUS})
    }
    shops = [make_shop(), make_shop()]
    for shop in shops:
        payment_pin_set(user=shop.owner, password=shop.owner.raw_password, pin=PIN)
    shipping_template_set(actor=shops[1].owner, **TEMPLATE)
    skus = []
    for index, spec in enumerate(SKUS):
        product = make_product(
            shops[spec.shop],
            listed=True,
            category=categories[spec.rate_bp],
            stock_deduction=spec.deduction,
            skus=[{"specs": {}, "price_fen": spec.price_fen, "stock": spec.stock}],
            title=f"性质商品{index}",
        )
        if spec.virtual:  # set directly: the model only needs the flag
            Product.objects.filter(pk=product.pk).update(is_virtual=True)
        skus.append(product.skus.get())
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
    return shops, skus, buyers


def _code(fn) -> tuple[str, object]:
    try:
        return "ok", fn()
    except DomainError as exc:
        return exc.code, exc


class TradeMachine(RuleBasedStateMachine):
    """Filled in by the test with the world it built (shops, skus, buyers)."""

    shops: list = []
    skus: list = []
    buyers: list = []

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
        cut = min(
            sum(
                commission(SKUS[x.sku].price_fen * x.quantity, SKUS[x.sku].rate_bp)
                for x in order.lines
            ),
            order.total_fen,
        )
        self.model.shops[order.shop] += order.total_fen - cut
        self.model.commission += cut
        order.status, order.confirm_deadline = FINISHED, None

    def _buyer_of(self, order_id: int) -> int:
        return self.model.orders[order_id].buyer

    def _in(self, *statuses: str, buyer: int | None = None) -> list[int]:
        return sorted(
            pk
            for pk, order in self.model.orders.items()
            if order.status in statuses and buyer in (None, order.buyer)
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
        ids = []
        for shop, lines in sorted(by_shop.items()):
            items_fen = sum(SKUS[s].price_fen * q for s, q in lines)
            held = [ModelLine(s, q, SKUS[s].deduction == "order") for s, q in lines]
            for line in held:
                if line.held:
                    self.model.stock[line.sku] -= line.quantity
            order_id = created[self.shops[shop].pk]
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
        model.status = SHIPPED
        model.confirm_deadline = clock.now() + (
            AUTO_CONFIRM_VIRTUAL if model.virtual else AUTO_CONFIRM
        )

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
        assert code == "ok", code
        self._return_stock(model)
        self.model.wallets[model.buyer] += model.total_fen
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

    @precondition(lambda self: self._in(SHIPPED))
    @rule(pick=st.integers(0, 99), hours_left=st.sampled_from([47, 72, 1]))
    def extend_near_the_deadline(self, pick, hours_left):
        """Wait until only ``hours_left`` remain before auto-confirm (timers fire meanwhile),
        then ask for the extension: allowed once, with 3 days or less left."""
        shipped = self._in(SHIPPED)
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
        """Move the clock and fire every due timer, as `jishi worker` would."""
        clock.advance(delta)
        self._advanced += delta
        while orders_sweep():
            pass
        now = clock.now()
        for model in self.model.orders.values():
            if model.status == UNPAID and model.pay_deadline <= now:
                self._return_stock(model)
                model.status, model.pay_deadline = CLOSED_UNPAID, None
            elif model.status == TO_SHIP and model.ship_deadline <= now:
                model.late = True
            elif model.status == SHIPPED and model.confirm_deadline <= now:
                self._release(model)

    # --- the model equals the database --------------------------------------------------------

    @invariant()
    def model_matches_database(self):
        m = self.model
        for b, buyer in enumerate(self.buyers):
            assert wallet_balance(user_id=buyer.pk).balance_fen == m.wallets[b], f"wallet {b}"
        for s, shop in enumerate(self.shops):
            assert shop_money(shop_id=shop.pk).available_fen == m.shops[s], f"shop {s}"
        assert kind_total("platform_commission") - self._commission_base == m.commission
        stock = dict(
            Sku.objects.filter(pk__in=[s.pk for s in self.skus]).values_list("pk", "stock")
        )
        assert [stock[s.pk] for s in self.skus] == m.stock
        rows = Order.objects.filter(pk__in=list(m.orders)).values_list(
            "pk", "status", "total_fen", "shipping_fen", "late_shipment_at", "receipt_extended"
        )
        for pk, status, total, shipping, late, extended in rows:
            order = m.orders[pk]
            assert (status, total, shipping) == (order.status, order.total_fen, order.shipping_fen)
            assert (late is not None, extended) == (order.late, order.extended), pk
        report = ledger_check()
        assert report.ok, report.problems


def test_random_trade_sequences_keep_the_model_and_the_ledger(
    make_shop, make_product, make_buyer, make_operator, frozen_clock
):
    shops, skus, buyers = _world(make_shop, make_product, make_buyer, make_operator)
    machine = type(
        "BoundTradeMachine", (TradeMachine,), {"shops": shops, "skus": skus, "buyers": buyers}
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
