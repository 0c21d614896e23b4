"""Run a plan against the services, round by round, with real threads where it matters.

Each phase is a list of *lanes*: a lane is a sequence of operations that must keep its
order (one buyer's payments, one shop's shipments); lanes run in parallel on ``workers``
threads, each thread with its own database connection, closed when the phase ends. A
checkout is a lane of its own, so checkouts race for scarce stock for real. Operations that
are deliberate duplicates ("twins": the same checkout, payment or confirmation sent twice at
once) run on two threads released together by a barrier.

Every operation has the outcomes it may have; any other outcome is recorded as a problem.

After-sales runs the same way: the plan says what each party does in each status of a case
(agree, refuse, stay silent, ship the return, escalate, withdraw, rule); an *after-sales
tick* runs one lane per open case, and each party acts when it is its turn until every case
waits for a timer, for the evidence phase, or is finished. The time jumps let the timers
fire: silence agrees, closes or refunds as PRODUCT.md says.
"""

import logging
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import OperationalError, connection, connections
from django.db.models import Q

from jishi.accounts.errors import AccountError
from jishi.aftersales.errors import AftersalesError
from jishi.aftersales.models import (
    DISPUTE_OPEN,
    OPEN_STATUSES,
    Dispute,
    DisputeStatus,
    RefundCase,
    RefundStatus,
)
from jishi.aftersales.services import (
    advance_pay,
    case_message_add,
    dispute_open,
    dispute_rule,
    dispute_take,
    dispute_withdraw,
    line_refundable_fen,
    refund_agree,
    refund_cancel,
    refund_goods_confirm,
    refund_goods_refuse,
    refund_refuse,
    refund_request,
    refund_return_ship,
    refund_revise,
)
from jishi.aftersales.timers import cases_sweep
from jishi.core import clock
from jishi.core.errors import CoreError, DomainError
from jishi.core.outbox import outbox_drain
from jishi.inventory.errors import InventoryError
from jishi.ledger.errors import LedgerError
from jishi.orders.errors import OrderError
from jishi.orders.models import FINAL_STATUSES, Order, OrderStatus
from jishi.orders.services import (
    group_pay,
    order_address_change,
    order_cancel,
    order_confirm,
    order_extend_receipt,
    order_place,
    order_refund_before_shipment,
    order_ship,
)
from jishi.orders.timers import orders_sweep
from jishi.payments.channels import sandbox
from jishi.payments.models import Withdrawal
from jishi.payments.selectors import shop_money
from jishi.payments.services import callback_receive, deposit_fund, withdrawal_create
from jishi.simulation.plan import (
    CasePlan,
    CheckoutPlan,
    OrderPlan,
    Plan,
    RoundPlan,
    WithdrawalPlan,
)
from jishi.simulation.world import PIN, WRONG_PIN, World, fund

OK = "ok"
ERROR = "error"
PIN_WRONG = str(AccountError.PIN_WRONG)
PIN_LOCKED = str(AccountError.PIN_LOCKED)
OUT_OF_STOCK = str(InventoryError.OUT_OF_STOCK)
NO_FUNDS = str(LedgerError.INSUFFICIENT_FUNDS)
STATUS_INVALID = str(OrderError.STATUS_INVALID)
ALREADY_PAID = str(OrderError.ALREADY_PAID)
EXTEND_REFUSED = str(OrderError.EXTEND_NOT_ALLOWED)
NOT_FOUND = str(CoreError.NOT_FOUND)
CASE_STATUS_INVALID = str(AftersalesError.STATUS_INVALID)
CASE_ALREADY_OPEN = str(AftersalesError.ALREADY_OPEN)
CASE_AMOUNT_INVALID = str(AftersalesError.AMOUNT_INVALID)
CASE_NOT_ALLOWED = str(AftersalesError.NOT_ALLOWED)
DISPUTE_STATUS_INVALID = str(AftersalesError.DISPUTE_STATUS_INVALID)
EVIDENCE_PHASE_OPEN = str(AftersalesError.EVIDENCE_PHASE_OPEN)

# Database errors that mean "try again": SQLite's busy timeout ran out, or PostgreSQL broke
# a deadlock or a serialization conflict. Each retry is counted and reported.
RETRYABLE = ("database is locked", "deadlock detected", "could not serialize")
RETRIES_MAX = 5

# Sim timeline per round (see the module docstring of jishi.simulation).
LATE_JUMP = timedelta(hours=49)  # past the unpaid close (24 h) and the ship-by time (48 h)
EXTEND_JUMP = timedelta(hours=180)  # into the last 3 days before auto-confirm
SETTLE_JUMP = timedelta(hours=73)  # past auto-confirm of everything not extended
FINAL_JUMP = timedelta(days=30)
AFTERSALES_JUMP = timedelta(days=11)  # past the longest after-sales timer (10 days)
AFTERSALES_JUMPS_MAX = 8  # each closes at least one step of every open case
CASE_STEPS_MAX = 12  # actions on one case in one tick; more means the plan loops

# What each timer does to a case, by the status it fires in.
CASE_TIMERS = {
    RefundStatus.WAIT_SELLER_AGREE: "case timers: seller silent, request agreed",
    RefundStatus.WAIT_BUYER_RETURN_GOODS: "case timers: return not shipped, closed",
    RefundStatus.WAIT_SELLER_CONFIRM_GOODS: "case timers: return not confirmed, refunded",
    RefundStatus.SELLER_REFUSE_BUYER: "case timers: refusal not escalated, closed",
}
DESCRIPTION = "演练：买家说明情况"


class Tally:
    """Thread-safe counts and problems."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def fail(self, message: str) -> None:
        with self._lock:
            self.problems.append(message)

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)

    def expect(self, condition: object, message: str) -> None:
        if not condition:
            self.fail(message)


class Runner:
    def __init__(self, plan: Plan, world: World, *, workers: int, tally: Tally) -> None:
        self.plan, self.world, self.tally = plan, world, tally
        # An in-memory SQLite database cannot be shared by threads: run lanes one by one.
        in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
        self.workers = 1 if in_memory else max(1, workers)
        self.group_of: dict[int, int] = {}  # checkout index -> group id
        self.order_of: dict[tuple[int, int], int] = {}  # (checkout, shop index) -> order id
        self.paid: set[int] = set()  # checkout indexes whose group was paid
        self.shipped: set[tuple[int, int]] = set()
        self.refunded: set[tuple[int, int]] = set()
        self.address_after_pay: set[int] = set()  # order ids (postage stays as paid)
        self.virtual: set[int] = set()  # order ids of virtual goods (3-day auto-confirm)
        self.extra_topups_fen: Counter[int] = Counter()  # buyer pk -> topped up mid-run
        self.shop_index = {shop.pk: s for s, shop in enumerate(world.shops)}
        self.locked_out: set[int] = set()  # buyers whose PIN is locked this round
        self.phase_seconds: Counter[str] = Counter()
        self.advanced = timedelta(0)
        # after-sales: case pk -> (checkout, order plan, order id), and per case what its
        # parties already decided in each visit of a status, so silence is kept
        self.cases: dict[int, tuple[CheckoutPlan, OrderPlan, int]] = {}
        self.case_marks: dict[int, set[tuple]] = {}
        self.case_visits: dict[int, Counter[str]] = {}
        self.case_flags: dict[int, set[str]] = {}
        self.never_refunded: set[int] = set()  # order ids refunded after never shipping
        self.deposits_from_shop_fen: Counter[int] = Counter()  # shop pk -> moved to deposit

    # --- running operations -------------------------------------------------------------------

    def attempt(self, fn: Callable[[], Any]) -> tuple[str, Any]:
        """Run one service call: (OK, result), (error code, DomainError) or (ERROR, exc)."""
        for n in range(RETRIES_MAX):
            try:
                return OK, fn()
            except DomainError as exc:
                return exc.code, exc
            except OperationalError as exc:
                text = str(exc).lower()
                reason = next((r for r in RETRYABLE if r in text), None)
                if reason is None or n == RETRIES_MAX - 1:
                    self.tally.fail(f"database error: {exc}")
                    return ERROR, exc
                self.tally.add(f"database retries ({reason})")
                self.tally.warn(f"retried after {reason!r}: {exc}")
                time.sleep(0.02 * (n + 1))
            except Exception as exc:
                self.tally.fail(f"unexpected {exc!r}\n{traceback.format_exc(limit=6)}")
                return ERROR, exc
        raise AssertionError("unreachable")

    def call(self, label: str, fn: Callable[[], Any], allowed: tuple[str, ...]) -> tuple[str, Any]:
        code, result = self.attempt(fn)
        if code not in allowed and code != ERROR:
            self.tally.fail(f"{label}: got {code} ({result}), expected one of {allowed}")
        return code, result

    def together(
        self, first: Callable[[], tuple[str, Any]], second: Callable[[], tuple[str, Any]]
    ) -> tuple[tuple[str, Any], tuple[str, Any]]:
        """Run two operations at the same moment on two threads (one after the other when
        threads cannot share the database)."""
        if self.workers == 1:
            return first(), second()
        barrier = threading.Barrier(2)
        box: dict[str, tuple[str, Any]] = {}

        def other() -> None:
            try:
                barrier.wait()
                box["second"] = second()
            finally:
                connections.close_all()

        thread = threading.Thread(target=other, name="sim-twin")
        thread.start()
        barrier.wait()
        result = first()
        thread.join()
        return result, box.get("second", (ERROR, None))

    def lanes(self, name: str, lanes: list[Callable[[], None]]) -> None:
        """Run the lanes on the worker threads; each thread closes its connection at the end."""
        started = time.perf_counter()
        if self.workers == 1 or len(lanes) <= 1:
            for lane in lanes:
                self._run_lane(lane)
        else:
            todo: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
            for lane in lanes:
                todo.put(lane)

            def work() -> None:
                try:
                    while True:
                        try:
                            lane = todo.get_nowait()
                        except queue.Empty:
                            return
                        self._run_lane(lane)
                finally:
                    connections.close_all()

            threads = [
                threading.Thread(target=work, name=f"sim-{name}-{i}")
                for i in range(min(self.workers, len(lanes)))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.phase_seconds[name] += time.perf_counter() - started

    def _run_lane(self, lane: Callable[[], None]) -> None:
        try:
            lane()
        except Exception as exc:  # a bug in the simulator itself; report, keep going
            self.tally.fail(f"lane crashed: {exc!r}\n{traceback.format_exc(limit=8)}")

    # --- helpers ------------------------------------------------------------------------------

    def _orders_of(self, c: CheckoutPlan) -> list[tuple[OrderPlan, int]]:
        return [
            (o, self.order_of[(c.index, o.shop)])
            for o in c.orders
            if (c.index, o.shop) in self.order_of
        ]

    def _sim_orders(self):
        """The run's orders: its shops sell only to its buyers."""
        return Order.objects.filter(shop__in=[shop.pk for shop in self.world.shops])

    def jump(self, delta: timedelta) -> None:
        clock.advance(delta)
        self.advanced += delta

    def _sim_cases(self):
        return RefundCase.objects.filter(shop__in=[shop.pk for shop in self.world.shops])

    def sweep(self) -> None:
        """Fire the run's due timers, orders' and after-sales cases' (only its own: the clock
        jumps must never fire other orders' timers early), then count what happened."""
        started = time.perf_counter()
        before = {
            pk: (status, late, not_shipped)
            for pk, status, late, not_shipped in self._sim_orders().values_list(
                "pk", "status", "late_shipment_at", "not_shipped_at"
            )
        }
        cases_before = dict(
            self._sim_cases().filter(status__in=OPEN_STATUSES).values_list("pk", "status")
        )
        fired = fired_cases = 0
        order_scope = Q(shop__in=[shop.pk for shop in self.world.shops])
        case_scope = Q(order__in=self._sim_orders().values("pk"))
        for _i in range(10_000):
            handled = orders_sweep(scope=order_scope)
            handled_cases = cases_sweep(scope=case_scope)
            fired += handled
            fired_cases += handled_cases
            if not handled and not handled_cases:
                break
        after = self._sim_orders().values_list("pk", "status", "late_shipment_at", "not_shipped_at")
        for pk, status, late, not_shipped in after:
            old_status, old_late, old_not_shipped = before[pk]
            if old_status == OrderStatus.WAIT_BUYER_PAY and status != old_status:
                self.tally.add("orders closed unpaid by the timer")
                fired -= 1
            # (an order a refund timer closed was not fired by the orders' sweep)
            if old_status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS and (
                status == OrderStatus.TRADE_FINISHED
            ):
                self.tally.add("orders auto-confirmed by the timer")
                fired -= 1
            if old_late is None and late is not None:
                self.tally.add("orders flagged late by the timer (compensation paid)")
                fired -= 1
            if old_not_shipped is None and not_shipped is not None:
                self.tally.add("orders flagged paid-not-shipped by the timer")
                fired -= 1
        changed = self._sim_cases().filter(pk__in=list(cases_before)).values_list("pk", "status")
        for pk, status in changed:
            if status != cases_before[pk]:
                self.tally.add(CASE_TIMERS[cases_before[pk]])
                fired_cases -= 1
        if fired or fired_cases:  # the sweep is scoped to the run's shops; anything else is a bug
            self.tally.fail(f"timers fired on {fired} orders, {fired_cases} cases outside this run")
        now = clock.now()
        still_due = (
            self._sim_orders()
            .filter(status=OrderStatus.WAIT_BUYER_PAY, pay_deadline__lte=now)
            .count()
            + self._sim_orders()
            .filter(status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS, confirm_deadline__lte=now)
            .count()
            + self._sim_orders()
            .filter(
                status=OrderStatus.WAIT_SELLER_SEND_GOODS,
                ship_deadline__lte=now,
                late_shipment_at=None,
            )
            .count()
        )
        self.tally.expect(not still_due, f"{still_due} orders are past a deadline after the sweep")
        cases_due = self._sim_cases().filter(status__in=OPEN_STATUSES, deadline__lte=now).count()
        self.tally.expect(not cases_due, f"{cases_due} cases are past a deadline after the sweep")
        self.phase_seconds["timers"] += time.perf_counter() - started

    # --- checkout -----------------------------------------------------------------------------

    def _place(self, c: CheckoutPlan) -> Callable[[], tuple[str, Any]]:
        w = self.world
        buyer = w.buyers[c.buyer]
        items = [{"sku_id": w.skus[i].pk, "quantity": q} for i, q in c.items]
        notes = {w.shops[o.shop].pk: c.note for o in c.orders}
        address_id = w.addresses[c.buyer][c.address].pk

        def place() -> tuple[str, Any]:
            return self.attempt(
                lambda: order_place(
                    buyer=buyer,
                    items=items,
                    address_id=address_id,
                    notes=notes,
                    idempotency_key=f"sim-{c.index}",
                )
            )

        return place

    def _checkout_lane(self, c: CheckoutPlan) -> None:
        place = self._place(c)
        if c.twin:
            self.tally.add("checkout twins (same key, at once)")
            results = self.together(place, place)
            codes = sorted(code for code, _r in results)
            groups = {r.pk for code, r in results if code == OK}
            self.tally.expect(len(groups) <= 1, f"checkout {c.index}: one key gave two groups")
            self.tally.expect(
                set(codes) <= {OK, OUT_OF_STOCK, STATUS_INVALID} and codes != [STATUS_INVALID] * 2,
                f"checkout {c.index} twins: {codes}",
            )
            if codes == [OK, OK]:
                self.tally.add("checkout replays answered with the first group")
            elif STATUS_INVALID in codes:
                self.tally.add("checkout replays refused while the first was in flight")
            group = next((r for code, r in results if code == OK), None)
            code = OK if group else OUT_OF_STOCK
        else:
            code, group = place()
            if code not in (OK, OUT_OF_STOCK, ERROR):
                self.tally.fail(f"checkout {c.index}: {code} ({group})")
        if group is None or code != OK:
            if code == OUT_OF_STOCK:
                self.tally.add("checkouts refused: out of stock")
            return
        self.tally.add("checkouts placed")
        orders = list(group.orders.values_list("pk", "shop_id", "is_virtual"))
        self.tally.add("orders placed", len(orders))
        shops = sorted(self.shop_index[shop_id] for _pk, shop_id, _v in orders)
        self.tally.expect(
            shops == [o.shop for o in c.orders], f"checkout {c.index}: orders for shops {shops}"
        )
        self.group_of[c.index] = group.pk
        for pk, shop_id, is_virtual in orders:
            self.order_of[(c.index, self.shop_index[shop_id])] = pk
            if is_virtual:
                self.virtual.add(pk)
                self.tally.add("orders of virtual goods placed")

    def _checkout_replays(self, checkouts: tuple[CheckoutPlan, ...]) -> None:
        for c in checkouts:
            if not c.replay:
                continue
            code, group = self._place(c)()
            self.tally.add("checkout replays (same key, later)")
            if c.index in self.group_of:
                self.tally.expect(
                    code == OK and group.pk == self.group_of[c.index],
                    f"checkout {c.index} replay: {code} instead of the first group",
                )
            else:  # refused the first time; stock has not come back since
                self.tally.expect(code == OUT_OF_STOCK, f"checkout {c.index} replay: {code}")

    # --- payment ------------------------------------------------------------------------------

    def _pay_once(self, c: CheckoutPlan, pin: str = PIN) -> tuple[str, Any]:
        buyer = self.world.buyers[c.buyer]
        return self.attempt(
            lambda: group_pay(buyer=buyer, group_id=self.group_of[c.index], pin=pin)
        )

    def _pay(self, c: CheckoutPlan) -> None:
        label = f"payment of checkout {c.index}"
        if c.pay_wrong_pin:
            code, result = self._pay_once(c, WRONG_PIN)
            self.tally.expect(code == PIN_WRONG, f"{label} with a wrong PIN: {code} {result}")
            self.tally.add("payments refused: wrong PIN")
        if c.pay_twin:
            self.tally.add("payment twins (paid twice at once)")
            results = self.together(lambda: self._pay_once(c), lambda: self._pay_once(c))
            codes = sorted(code for code, _r in results)
            self.tally.expect(
                codes == sorted([OK, ALREADY_PAID])
                or (codes[0] == codes[1] and codes[0] in (NO_FUNDS, OUT_OF_STOCK)),
                f"{label} twins: {codes}",
            )
            code = OK if OK in codes else codes[0]
            if code == OK:
                self.tally.add("payment replays refused: already paid")
        else:
            code, result = self._pay_once(c)
        if code == NO_FUNDS and c.topup_on_refusal_fen:
            self.tally.add("payments refused: insufficient funds")
            buyer = self.world.buyers[c.buyer]
            self.attempt(lambda: fund(buyer, c.topup_on_refusal_fen))
            self.extra_topups_fen[buyer.pk] += c.topup_on_refusal_fen
            self.tally.add("top-ups after a refusal")
            code, result = self._pay_once(c)
        if code == OK:
            self.tally.add("groups paid")
            self.paid.add(c.index)
        elif code == NO_FUNDS:
            self.tally.add("payments refused: insufficient funds")
        elif code == OUT_OF_STOCK:
            self.tally.add("payments refused: out of stock (deducted at payment)")
        elif code != ERROR:
            self.tally.fail(f"{label}: {code}")
        if c.pay_replay:
            replay, result = self._pay_once(c)
            expected = (ALREADY_PAID,) if code == OK else (NO_FUNDS, OUT_OF_STOCK)
            self.tally.expect(replay in expected, f"{label} replay: {replay} {result}")
            if replay == ALREADY_PAID:
                self.tally.add("payment replays refused: already paid")
            elif replay == OK:  # the retry went through (money arrived); not a double charge
                self.paid.add(c.index)

    def _lockout(self, c: CheckoutPlan) -> None:
        """Three wrong PINs lock payments; the right PIN is then refused too."""
        codes = [self._pay_once(c, WRONG_PIN)[0] for _i in range(3)]
        if c.buyer in self.locked_out:  # locked already by an earlier checkout this round
            expected = [PIN_LOCKED] * 3
        else:
            expected = [PIN_WRONG, PIN_WRONG, PIN_LOCKED]
            self.locked_out.add(c.buyer)
            self.tally.add("PIN lockouts")
        self.tally.expect(codes == expected, f"PIN lockout of checkout {c.index}: {codes}")
        code, _result = self._pay_once(c)
        self.tally.expect(code == PIN_LOCKED, f"payment while locked out: {code}")
        self.tally.add("payments refused: PIN locked")

    def _payment_lane(self, checkouts: list[CheckoutPlan]) -> Callable[[], None]:
        def lane() -> None:
            for c in checkouts:
                if c.fate == "pay":
                    self._pay(c)
            for c in checkouts:  # lockouts last: they block the buyer's payments for hours
                if c.fate == "lockout":
                    self._lockout(c)

        return lane

    # --- after payment, before shipping -------------------------------------------------------

    def _address_change(self, c: CheckoutPlan, order_id: int, address: int) -> tuple[str, Any]:
        buyer = self.world.buyers[c.buyer]
        address_id = self.world.addresses[c.buyer][address].pk
        return self.call(
            f"address change of order {order_id}",
            lambda: order_address_change(buyer=buyer, order_id=order_id, address_id=address_id),
            (OK,),
        )

    def _before_shipping_lane(self, checkouts: list[CheckoutPlan]) -> Callable[[], None]:
        def lane() -> None:
            for c in checkouts:
                buyer = self.world.buyers[c.buyer]
                for o, order_id in self._orders_of(c):
                    if c.fate == "cancel":
                        self.call(
                            f"cancel of order {order_id}",
                            partial(order_cancel, buyer=buyer, order_id=order_id),
                            (OK,),
                        )
                        self.tally.add("orders cancelled by the buyer")
                        if c.cancel_replay:
                            self.call(
                                f"repeated cancel of order {order_id}",
                                partial(order_cancel, buyer=buyer, order_id=order_id),
                                (STATUS_INVALID,),
                            )
                            self.tally.add("cancel replays refused")
                    if c.index not in self.paid:
                        continue
                    if o.ship == "refund":
                        self.call(
                            f"refund of order {order_id}",
                            partial(order_refund_before_shipment, buyer=buyer, order_id=order_id),
                            (OK,),
                        )
                        self.refunded.add((c.index, o.shop))
                        self.tally.add("orders refunded before shipment")
                        if o.refund_replay:
                            self.call(
                                f"repeated refund of order {order_id}",
                                partial(
                                    order_refund_before_shipment, buyer=buyer, order_id=order_id
                                ),
                                (STATUS_INVALID,),
                            )
                            self.tally.add("refund replays refused")
                        continue
                    if o.address_after_pay is not None:
                        code, _r = self._address_change(c, order_id, o.address_after_pay)
                        if code == OK:
                            self.address_after_pay.add(order_id)
                            self.tally.add("address changes after payment")
                    if o.confirm_before_ship:
                        self.call(
                            f"confirm of unshipped order {order_id}",
                            partial(order_confirm, buyer=buyer, order_id=order_id, pin=PIN),
                            (PIN_LOCKED,) if c.buyer in self.locked_out else (STATUS_INVALID,),
                        )
                        self.tally.add("bad requests refused")
                    if o.case is not None and o.case.stage == "unshipped":
                        self._request(c, o, order_id)

        return lane

    # --- shipping -----------------------------------------------------------------------------

    def _ship_lane(self, shop: int, checkouts: list[CheckoutPlan], *, late: bool) -> Callable:
        owner = self.world.owners[shop]

        def lane() -> None:
            for c in checkouts:
                order_id = self.order_of.get((c.index, shop))
                if order_id is None:
                    continue
                o = next(o for o in c.orders if o.shop == shop)
                if c.index not in self.paid:
                    if c.ship_unpaid and not late:
                        self.call(
                            f"shipping unpaid order {order_id}",
                            lambda oid=order_id: order_ship(
                                actor=owner, order_id=oid, carrier="顺丰", tracking_no="SF0"
                            ),
                            (STATUS_INVALID,),
                        )
                        self.tally.add("bad requests refused")
                    continue
                if o.ship != ("late" if late else "now"):
                    continue
                if o.case is not None and o.case.stage == "unshipped":
                    status = Order.objects.values_list("status", flat=True).get(pk=order_id)
                    if status == OrderStatus.TRADE_CLOSED:
                        self.tally.add("orders not shipped: fully refunded on request")
                        continue
                if order_id in self.virtual:
                    delivery = {"delivery_note": f"兑换码 SIM-{c.index:06d}-{shop:03d}"}
                else:
                    delivery = {"carrier": "中通快递", "tracking_no": f"ZT{c.index:06d}{shop:03d}"}
                code, _r = self.call(
                    f"shipping order {order_id}",
                    partial(order_ship, actor=owner, order_id=order_id, **delivery),
                    (OK,),
                )
                if code == OK:
                    self.shipped.add((c.index, shop))
                    self.tally.add("orders shipped late" if late else "orders shipped")

        return lane

    def _ship_phase(self, rnd: RoundPlan, *, late: bool) -> None:
        by_shop: dict[int, list[CheckoutPlan]] = {}
        for c in rnd.checkouts:
            for o in c.orders:
                by_shop.setdefault(o.shop, []).append(c)
        self.lanes(
            "ship",
            [self._ship_lane(s, cs, late=late) for s, cs in sorted(by_shop.items())],
        )

    # --- receipt ------------------------------------------------------------------------------

    def _confirm_once(self, c: CheckoutPlan, order_id: int, pin: str = PIN) -> tuple[str, Any]:
        buyer = self.world.buyers[c.buyer]
        return self.attempt(lambda: order_confirm(buyer=buyer, order_id=order_id, pin=pin))

    def _receipt_lane(self, checkouts: list[CheckoutPlan]) -> Callable[[], None]:
        def lane() -> None:
            for c in checkouts:
                buyer = self.world.buyers[c.buyer]
                for o, order_id in self._orders_of(c):
                    if (c.index, o.shop) not in self.shipped:
                        continue
                    if o.intruder is not None:
                        intruder = self.world.buyers[o.intruder]
                        self.call(
                            f"confirm of order {order_id} by another buyer",
                            lambda oid=order_id, who=intruder: order_confirm(
                                buyer=who, order_id=oid, pin=PIN
                            ),
                            (NOT_FOUND,),
                        )
                        self.tally.add("bad requests refused")
                    if o.refund_after_ship:
                        self.call(
                            f"refund of shipped order {order_id}",
                            partial(order_refund_before_shipment, buyer=buyer, order_id=order_id),
                            (STATUS_INVALID,),
                        )
                        self.tally.add("bad requests refused")
                    if o.after == "confirm":
                        self._confirm(c, o, order_id)
                    elif o.after == "extend" and order_id in self.virtual:
                        # Virtual goods confirm 3 days after shipping: the window is open now.
                        self._extend(c, o, order_id)
                    if o.case is not None and o.case.stage in ("shipped", "released"):
                        self._request(c, o, order_id)

        return lane

    def _confirm(self, c: CheckoutPlan, o: OrderPlan, order_id: int) -> None:
        label = f"confirm of order {order_id}"
        if o.confirm_wrong_pin:
            code, result = self._confirm_once(c, order_id, WRONG_PIN)
            self.tally.expect(code == PIN_WRONG, f"{label} with a wrong PIN: {code} {result}")
            self.tally.add("confirmations refused: wrong PIN")
        if o.confirm_twin:
            self.tally.add("confirm twins (confirmed twice at once)")
            results = self.together(
                lambda: self._confirm_once(c, order_id), lambda: self._confirm_once(c, order_id)
            )
            codes = sorted(code for code, _r in results)
            self.tally.expect(codes == sorted([OK, STATUS_INVALID]), f"{label} twins: {codes}")
            code = OK if OK in codes else codes[0]
            self.tally.add("confirm replays refused")
        else:
            code, result = self._confirm_once(c, order_id)
            self.tally.expect(code == OK, f"{label}: {code} {result}")
        if code == OK:
            self.tally.add("orders confirmed by the buyer")
        if o.confirm_replay:
            replay, result = self._confirm_once(c, order_id)
            self.tally.expect(replay == STATUS_INVALID, f"{label} replay: {replay} {result}")
            self.tally.add("confirm replays refused")

    def _extend(self, c: CheckoutPlan, o: OrderPlan, order_id: int) -> None:
        buyer = self.world.buyers[c.buyer]
        self.call(
            f"receipt extension of order {order_id}",
            partial(order_extend_receipt, buyer=buyer, order_id=order_id),
            (OK,),
        )
        self.tally.add("receipts extended")
        if o.extend_replay:
            self.call(
                f"second receipt extension of order {order_id}",
                partial(order_extend_receipt, buyer=buyer, order_id=order_id),
                (EXTEND_REFUSED,),
            )
            self.tally.add("extension replays refused")

    def _extend_lane(self, checkouts: list[CheckoutPlan]) -> Callable[[], None]:
        def lane() -> None:
            for c in checkouts:
                for o, order_id in self._orders_of(c):
                    if o.ship == "never" and c.index in self.paid:
                        # flagged late, then paid-not-shipped: the buyer gives up on it
                        buyer = self.world.buyers[c.buyer]
                        code, _r = self.call(
                            f"refund of never shipped order {order_id}",
                            partial(order_refund_before_shipment, buyer=buyer, order_id=order_id),
                            (OK,),
                        )
                        if code == OK:
                            self.never_refunded.add(order_id)
                            self.tally.add("orders never shipped, refunded by the buyer")
                    if (
                        (c.index, o.shop) in self.shipped
                        and o.after == "extend"
                        and order_id not in self.virtual
                    ):
                        self._extend(c, o, order_id)

        return lane

    # --- withdrawals --------------------------------------------------------------------------

    def _withdrawals(self, plans: tuple[WithdrawalPlan, ...], key: str) -> None:
        started = time.perf_counter()
        made: list[tuple[WithdrawalPlan, Withdrawal]] = []
        for wp in plans:
            owner = self.world.owners[wp.shop]
            if wp.deposit_percent:
                self._deposit_from_shop(wp, key)
            available = shop_money(shop_id=self.world.shops[wp.shop].pk).available_fen
            amount = available * wp.percent // 100
            if amount < 100:
                self.tally.add("withdrawals skipped (balance under ¥1)")
                continue

            def request(owner=owner, amount=amount, shop=wp.shop) -> Withdrawal:
                return withdrawal_create(
                    actor=owner,
                    amount_fen=amount,
                    pin=PIN,
                    source="shop",
                    idempotency_key=f"sim-{key}-{shop}",
                )

            code, withdrawal = self.call(f"withdrawal of shop {wp.shop}", request, (OK,))
            if code != OK:
                continue
            self.tally.add("withdrawals")
            self.tally.add("withdrawn fen", amount)
            made.append((wp, withdrawal))
            if wp.replay:
                code, again = self.call(f"repeated withdrawal of shop {wp.shop}", request, (OK,))
                self.tally.expect(
                    code == OK and again.pk == withdrawal.pk,
                    f"withdrawal replay of shop {wp.shop} made a second withdrawal",
                )
                self.tally.add("withdrawal replays answered with the first withdrawal")
        self.drain()
        for wp, withdrawal in made:
            if not wp.callback_replay:
                continue
            body = sandbox.event_body(
                kind="payout",
                reference=withdrawal.pk,
                status="succeeded",
                amount_fen=withdrawal.amount_fen,
            )
            code, outcome = self.call(
                f"replayed payout callback of withdrawal {withdrawal.pk}",
                lambda body=body: callback_receive(
                    channel="sandbox", body=body, signature=sandbox.sign(body)
                ),
                (OK,),
            )
            self.tally.expect(
                code == OK and str(outcome).startswith("duplicate"),
                f"replayed payout callback: {outcome}",
            )
            self.tally.add("payout callbacks replayed")
        self.phase_seconds["withdrawals"] += time.perf_counter() - started

    def _deposit_from_shop(self, wp: WithdrawalPlan, key: str) -> None:
        """The owner moves part of the shop's balance into its deposit."""
        shop = self.world.shops[wp.shop]
        amount = shop_money(shop_id=shop.pk).available_fen * wp.deposit_percent // 100
        if amount < 100:
            return
        code, _r = self.call(
            f"deposit of shop {wp.shop}",
            lambda: deposit_fund(
                actor=self.world.owners[wp.shop],
                amount_fen=amount,
                pin=PIN,
                source="shop",
                idempotency_key=f"sim-{key}-deposit-{wp.shop}",
            ),
            (OK,),
        )
        if code == OK:
            self.deposits_from_shop_fen[shop.pk] += amount
            self.tally.add("deposits paid from the shop balance")

    def drain(self) -> None:
        """Deliver the outbox (payouts, notifications) as `jishi worker` would."""
        for _i in range(100_000):
            if not outbox_drain(batch_size=500):
                break

    # --- after-sales: requests -------------------------------------------------------------

    def _request(self, c: CheckoutPlan, o: OrderPlan, order_id: int) -> None:
        """The buyer asks for after-sales on the planned line (twice at once, or first for
        too much, when the plan says so)."""
        cp = o.case
        assert cp is not None
        buyer = self.world.buyers[c.buyer]
        order = Order.objects.prefetch_related("lines").get(pk=order_id)
        sku_id = self.world.skus[cp.sku].pk
        line = next(x for x in order.lines.all() if x.sku_id == sku_id)
        most = line_refundable_fen(order, line)
        label = f"{cp.kind} request ({cp.stage}) on order {order_id}"
        params: dict[str, Any] = {
            "buyer": buyer,
            "order_id": order_id,
            "line_id": line.pk,
            "kind": cp.kind,
            "reason": cp.reason,
            "description": DESCRIPTION,
        }
        if cp.kind == "exchange":
            params["exchange_sku_id"] = self.world.skus[cp.exchange_sku].pk
        else:
            params["amount_fen"] = max(1, most * cp.percent // 100)
        if cp.over_amount:
            self.call(
                f"{label} above what was paid",
                lambda: refund_request(**{**params, "amount_fen": most + 1}),
                (CASE_AMOUNT_INVALID,),
            )
            self.tally.add("after-sales requests refused: above what was paid")

        def request() -> tuple[str, Any]:
            return self.attempt(lambda: refund_request(**params))

        if cp.request_twin:
            self.tally.add("after-sales request twins (same line, at once)")
            results = self.together(request, request)
            codes = sorted(code for code, _r in results)
            self.tally.expect(codes == sorted([OK, CASE_ALREADY_OPEN]), f"{label} twins: {codes}")
            if CASE_ALREADY_OPEN in codes:
                self.tally.add("after-sales requests refused: one already open")
            case = next((r for code, r in results if code == OK), None)
        else:
            code, case = self.call(label, lambda: refund_request(**params), (OK,))
            if code != OK:
                case = None
        if case is None:
            return
        self.cases[case.pk] = (c, o, order_id)
        self.tally.add(f"after-sales requests: {cp.kind} ({cp.stage})")

    def _late_requests(self) -> None:
        """Requests long after the after-sales window closed are refused."""
        for c in self.plan.checkouts():
            for o, order_id in self._orders_of(c):
                if not o.late_request or (c.index, o.shop) not in self.shipped:
                    continue
                buyer = self.world.buyers[c.buyer]
                line = Order.objects.get(pk=order_id).lines.order_by("pk").first()
                self.call(
                    f"request on order {order_id} after the after-sales window",
                    lambda buyer=buyer, oid=order_id, line=line: refund_request(
                        buyer=buyer,
                        order_id=oid,
                        line_id=line.pk,
                        kind="refund_only",
                        reason="quality",
                        amount_fen=1,
                    ),
                    (CASE_NOT_ALLOWED,),
                )
                self.tally.add("after-sales requests refused: window closed")

    # --- after-sales: advance compensation --------------------------------------------------

    def _advances(self, checkouts: tuple[CheckoutPlan, ...]) -> None:
        lanes = []
        for c in checkouts:
            for o, order_id in self._orders_of(c):
                if o.advance_percent and (c.index, o.shop) in self.shipped:
                    lanes.append(partial(self._advance, o, order_id))
        self.lanes("after-sales", lanes)

    def _advance(self, o: OrderPlan, order_id: int) -> None:
        """The operator pays the buyer part of a finished order at once; the platform
        recovers it from the shop. Never more than the shop received (advance_pay refuses
        more: the platform's commission is not advanced)."""
        order = Order.objects.get(pk=order_id)
        if order.status != OrderStatus.TRADE_FINISHED or order.released_fen < 1:
            return
        amount = max(1, min(order.released_fen, order.total_fen * o.advance_percent // 100))

        def pay() -> Order:
            return advance_pay(
                operator=self.world.arbitrator,
                order_id=order_id,
                amount_fen=amount,
                reason="先行垫付：物流丢件，平台先赔",
                idempotency_key=f"sim-advance-{order_id}",
            )

        code, _r = self.call(f"advance on order {order_id}", pay, (OK,))
        if code != OK:
            return
        self.tally.add("advances paid by the platform")
        if o.advance_replay:
            # The replay answers with the first result, or (when the first advance took more
            # than half of what was left) is refused for its amount: either way, paid once.
            code, _r = self.call(
                f"repeated advance on order {order_id}", pay, (OK, CASE_AMOUNT_INVALID)
            )
            refunded = Order.objects.values_list("refunded_fen", flat=True).get(pk=order_id)
            self.tally.expect(
                refunded == order.refunded_fen + amount,
                f"advance replay on order {order_id}: refunded {refunded}",
            )
            self.tally.add(
                "advance replays paid once"
                if code == OK
                else "advance replays refused: above what is left (paid once)"
            )

    # --- after-sales: the parties act on open cases -----------------------------------------

    def tick(self) -> None:
        """Every open case of the run gets a lane; in it each party acts in turn until the
        case waits for a timer or the evidence phase, or is finished."""
        open_ids = set(
            self._sim_cases().filter(status__in=OPEN_STATUSES).values_list("pk", flat=True)
        )
        for pk in sorted(open_ids - set(self.cases)):
            self.tally.fail(f"case {pk}: open on the run's shops, but the run never opened it")
        order = sorted(
            open_ids & set(self.cases),
            key=lambda pk: (self.cases[pk][0].index, self.cases[pk][1].shop),
        )
        self.lanes("after-sales", [partial(self._case_lane, pk) for pk in order])

    def _case_lane(self, case_id: int) -> None:
        for _step in range(CASE_STEPS_MAX):
            if not self._case_step(case_id):
                return
        self.tally.fail(f"case {case_id}: still acting after {CASE_STEPS_MAX} steps")

    def _case_step(self, case_id: int) -> bool:
        """One action on the case by whoever's turn it is; False when nobody acts now."""
        c, o, _order_id = self.cases[case_id]
        cp = o.case
        assert cp is not None
        case = RefundCase.objects.get(pk=case_id)
        if case.status not in OPEN_STATUSES:
            return False
        dispute = Dispute.objects.filter(case_id=case_id, status__in=DISPUTE_OPEN).first()
        if dispute is not None:
            return self._dispute_step(case, dispute, c, o)
        marks = self.case_marks.setdefault(case_id, set())
        mark = (case.status, case.deadline)
        if mark in marks:  # the party whose turn it is chose silence: the timer decides
            return False
        marks.add(mark)
        visits = self.case_visits.setdefault(case_id, Counter())
        visit = visits[case.status]
        visits[case.status] += 1
        if case.status == RefundStatus.WAIT_SELLER_AGREE:
            return self._seller_answer(case, c, o, cp, visit)
        if case.status == RefundStatus.WAIT_BUYER_RETURN_GOODS:
            return self._buyer_return(case, c, cp)
        if case.status == RefundStatus.WAIT_SELLER_CONFIRM_GOODS:
            return self._seller_goods(case, o, cp, visit)
        return self._after_refusal(case, c, o, cp, visit)

    def _seller_answer(
        self, case: RefundCase, c: CheckoutPlan, o: OrderPlan, cp: CasePlan, visit: int
    ) -> bool:
        owner = self.world.owners[o.shop]
        buyer = self.world.buyers[c.buyer]
        label = f"answer to case {case.pk}"
        if visit == 0 and cp.intruder_shop is not None:
            intruder = self.world.owners[cp.intruder_shop]
            self.call(
                f"{label} by another shop",
                partial(refund_agree, actor=intruder, case_id=case.pk, return_address="别家仓库"),
                (NOT_FOUND,),
            )
            self.tally.add("after-sales actions refused: another shop's case")
        if visit == 0 and cp.withdraw:
            code, _r = self.call(
                f"cancel of case {case.pk}",
                partial(refund_cancel, buyer=buyer, case_id=case.pk),
                (OK,),
            )
            self.tally.add("cases withdrawn by the buyer before an answer")
            return code == OK
        answer = cp.seller if visit == 0 else cp.seller_again
        if answer == "silent":
            return False
        if answer == "refuse":
            code, _r = self.call(
                f"refusal of case {case.pk}",
                partial(refund_refuse, actor=owner, case_id=case.pk, reason="商品无质量问题"),
                (OK,),
            )
            self.tally.add("requests refused by the seller")
            return code == OK
        address = f"模拟退货仓 {o.shop} 号"

        def agree() -> tuple[str, Any]:
            return self.attempt(
                lambda: refund_agree(actor=owner, case_id=case.pk, return_address=address)
            )

        if visit == 0 and cp.race:
            self.tally.add("after-sales races (seller agrees as the buyer cancels)")
            (agreed, _a), (cancelled, _b) = self.together(
                agree, lambda: self.attempt(lambda: refund_cancel(buyer=buyer, case_id=case.pk))
            )
            codes = sorted([agreed, cancelled])
            self.tally.expect(
                codes == sorted([OK, CASE_STATUS_INVALID]), f"race on case {case.pk}: {codes}"
            )
            if agreed == OK:
                self.tally.add("races won by the seller's agreement")
            elif cancelled == OK:
                self.tally.add("races won by the buyer's cancel")
            if CASE_STATUS_INVALID in codes:
                self.tally.add("after-sales actions refused: lost a race")
            return False
        code, result = agree()
        self.tally.expect(code == OK, f"agreement to case {case.pk}: {code} {result}")
        self.tally.add("requests agreed by the seller")
        return code == OK

    def _buyer_return(self, case: RefundCase, c: CheckoutPlan, cp: CasePlan) -> bool:
        if cp.buyer_return == "silent":
            return False
        code, _r = self.call(
            f"return shipment of case {case.pk}",
            partial(
                refund_return_ship,
                buyer=self.world.buyers[c.buyer],
                case_id=case.pk,
                carrier="圆通速递",
                tracking_no=f"YT{case.pk:010d}",
            ),
            (OK,),
        )
        self.tally.add("returns shipped by the buyer")
        return code == OK

    def _seller_goods(self, case: RefundCase, o: OrderPlan, cp: CasePlan, visit: int) -> bool:
        owner = self.world.owners[o.shop]
        choice = cp.seller_goods if visit == 0 else "confirm"
        if choice == "silent":
            return False
        if choice == "refuse":
            code, _r = self.call(
                f"refusal of the goods of case {case.pk}",
                partial(
                    refund_goods_refuse, actor=owner, case_id=case.pk, reason="退回的不是原商品"
                ),
                (OK,),
            )
            self.tally.add("returned goods refused by the seller")
            return code == OK
        code, _r = self.call(
            f"goods confirmation of case {case.pk}",
            partial(
                refund_goods_confirm,
                actor=owner,
                case_id=case.pk,
                carrier="中通快递",
                tracking_no=f"ZTX{case.pk:010d}",
            ),
            (OK,),
        )
        self.tally.add(
            "exchanges shipped by the seller"
            if case.kind == "exchange"
            else "returned goods confirmed by the seller"
        )
        return code == OK

    def _after_refusal(
        self, case: RefundCase, c: CheckoutPlan, o: OrderPlan, cp: CasePlan, visit: int
    ) -> bool:
        buyer = self.world.buyers[c.buyer]
        owner = self.world.owners[o.shop]
        choice = cp.after_refusal if visit == 0 else "silent"
        if choice == "silent":
            return False
        if choice in ("escalate_buyer", "escalate_seller"):
            party = "buyer" if choice == "escalate_buyer" else "seller"
            code, _r = self.call(
                f"dispute on case {case.pk} by the {party}",
                partial(
                    dispute_open,
                    actor=buyer if party == "buyer" else owner,
                    case_id=case.pk,
                    reason="协商不成，申请平台介入",
                ),
                (OK,),
            )
            self.tally.add(f"disputes opened by the {party}")
            return code == OK
        if choice == "revise":
            amount = None if case.kind == "exchange" else max(1, case.amount_fen // 2)
            code, _r = self.call(
                f"revision of case {case.pk}",
                partial(
                    refund_revise,
                    buyer=buyer,
                    case_id=case.pk,
                    amount_fen=amount,
                    description="少退一些也可以",
                ),
                (OK,),
            )
            self.tally.add("requests revised by the buyer after a refusal")
            return code == OK
        code, _r = self.call(
            f"cancel of refused case {case.pk}",
            partial(refund_cancel, buyer=buyer, case_id=case.pk),
            (OK,),
        )
        self.tally.add("cases withdrawn by the buyer after a refusal")
        return code == OK

    def _dispute_step(
        self, case: RefundCase, dispute: Dispute, c: CheckoutPlan, o: OrderPlan
    ) -> bool:
        cp = o.case
        assert cp is not None
        operator = self.world.arbitrator
        buyer = self.world.buyers[c.buyer]
        owner = self.world.owners[o.shop]
        flags = self.case_flags.setdefault(case.pk, set())
        if dispute.status == DisputeStatus.REQUESTED:
            code, _r = self.call(
                f"taking dispute {dispute.pk}",
                partial(dispute_take, operator=operator, dispute_id=dispute.pk),
                (OK,),
            )
            self.tally.add("disputes taken by the operator")
            if code == OK and cp.evidence:
                for who, text in ((buyer, "买家证据：照片与聊天记录"), (owner, "卖家证据：发货单")):
                    self.call(
                        f"evidence on case {case.pk}",
                        partial(case_message_add, actor=who, case_id=case.pk, text=text),
                        (OK,),
                    )
                    self.tally.add("evidence messages added")
            return code == OK
        if cp.ruling in ("withdraw_buyer", "withdraw_seller"):
            if "withdrawn" in flags:
                return False
            flags.add("withdrawn")
            party = "buyer" if cp.ruling == "withdraw_buyer" else "seller"
            code, _r = self.call(
                f"withdrawal of dispute {dispute.pk} by the {party}",
                partial(
                    dispute_withdraw,
                    actor=buyer if party == "buyer" else owner,
                    dispute_id=dispute.pk,
                ),
                (OK,),
            )
            self.tally.add(f"disputes withdrawn by the {party}")
            return code == OK
        decision = "seller" if cp.ruling == "seller" else "buyer"
        amount = None
        if decision == "buyer":
            order = Order.objects.prefetch_related("lines").get(pk=case.order_id)
            line = next(x for x in order.lines.all() if x.pk == case.line_id)
            most = line_refundable_fen(order, line)
            amount = most if cp.ruling == "buyer_full" else max(1, most * cp.ruling_percent // 100)

        def rule() -> Dispute:
            return dispute_rule(
                operator=operator,
                dispute_id=dispute.pk,
                decision=decision,
                reason="依据双方证据裁定",
                amount_fen=amount,
                not_as_described=cp.not_as_described and decision == "buyer",
            )

        if not dispute.evidence_over:
            if cp.rule_early and "early" not in flags:
                flags.add("early")
                self.call(f"early ruling of dispute {dispute.pk}", rule, (EVIDENCE_PHASE_OPEN,))
                self.tally.add("rulings refused: evidence phase still open")
            return False
        code, _r = self.call(f"ruling of dispute {dispute.pk}", rule, (OK,))
        if code == OK:
            kind = "seller" if decision == "seller" else cp.ruling.replace("_", ", ")
            self.tally.add(f"disputes ruled for the {kind}")
        if cp.rule_replay:
            self.call(f"second ruling of dispute {dispute.pk}", rule, (DISPUTE_STATUS_INVALID,))
            self.tally.add("rulings refused: already ruled")
        return code == OK

    def _unsettled(self) -> bool:
        return (
            self._sim_cases().filter(status__in=OPEN_STATUSES).exists()
            or self._sim_orders().exclude(status__in=FINAL_STATUSES).exists()
        )

    # --- the run ------------------------------------------------------------------------------

    def by_buyer(self, checkouts: tuple[CheckoutPlan, ...], wanted) -> list[list[CheckoutPlan]]:
        lanes: dict[int, list[CheckoutPlan]] = {}
        for c in checkouts:
            if c.index in self.group_of and wanted(c):
                lanes.setdefault(c.buyer, []).append(c)
        return [lanes[b] for b in sorted(lanes)]

    def run_round(self, r: int, rnd: RoundPlan) -> None:
        cs = rnd.checkouts
        self.locked_out.clear()  # a lockout lasts hours; each round is days apart
        self.lanes("checkout", [lambda c=c: self._checkout_lane(c) for c in cs])
        self._checkout_replays(cs)
        for c in cs:
            if c.index in self.group_of and c.address_before_pay is not None and c.orders:
                order_id = self.order_of.get((c.index, c.orders[0].shop))
                if order_id and self._address_change(c, order_id, c.address_before_pay)[0] == OK:
                    self.tally.add("address changes before payment")
        paying = self.by_buyer(cs, lambda c: c.fate in ("pay", "lockout"))
        self.lanes("pay", [self._payment_lane(lane) for lane in paying])
        self.lanes(
            "cancel/refund", [self._before_shipping_lane(x) for x in self.by_buyer(cs, bool)]
        )
        self.tick()  # sellers answer the requests made before shipment
        self._ship_phase(rnd, late=False)
        self.jump(LATE_JUMP)
        self.sweep()
        self._ship_phase(rnd, late=True)
        self.lanes("confirm", [self._receipt_lane(x) for x in self.by_buyer(cs, bool)])
        self._advances(cs)
        self.tick()
        self.jump(EXTEND_JUMP)
        self.sweep()
        self.lanes("extend", [self._extend_lane(x) for x in self.by_buyer(cs, bool)])
        self.tick()  # rulings: the evidence phases started 180 hours ago are over
        self._withdrawals(rnd.withdrawals, f"r{r}")
        self.jump(SETTLE_JUMP)
        self.sweep()
        self.tick()

    def run(self) -> None:
        log = logging.getLogger("jishi.notifications")
        level = log.level
        log.setLevel(logging.WARNING)  # thousands of "notify" lines would drown the report
        try:
            for r, rnd in enumerate(self.plan.rounds):
                self.run_round(r, rnd)
            self.jump(FINAL_JUMP)
            self.sweep()
            self.tick()
            self._late_requests()
            for _i in range(AFTERSALES_JUMPS_MAX):  # until every case and order is final
                if not self._unsettled():
                    break
                self.jump(AFTERSALES_JUMP)
                self.sweep()
                self.tick()
            self._withdrawals(self.plan.final_withdrawals, "final")
        finally:
            log.setLevel(level)
