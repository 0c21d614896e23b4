"""The invariants a finished simulation must satisfy, on top of `jishi ledger check`.

Each check recomputes an expected value from a *different* source than the one it checks
(stock from order lines and exchanges, wallets from top-ups, order totals and compensation,
shop balances from released money, debts, deposits and withdrawals, an order's refunds from
its after-sales cases and advances, postage from the shop's template), so a bug must fool two
records at once to go unnoticed.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet, Sum

from jishi.aftersales.models import (
    DISPUTE_OPEN,
    OPEN_STATUSES,
    CaseCloseReason,
    Dispute,
    DisputeStatus,
    RefundCase,
    RefundKind,
    RefundStatus,
)
from jishi.catalog.models import Product, Sku
from jishi.core.models import OutboxMessage
from jishi.core.rules import rule
from jishi.ledger.check import CheckReport, ledger_check
from jishi.ledger.models import Account, AccountKind, Transfer
from jishi.orders.models import (
    FINAL_STATUSES,
    PAID_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    ShippingTemplate,
)
from jishi.orders.pricing import commission_fen, shipping_fee_fen
from jishi.payments.models import ChannelOpStatus, DebtKind, ShopDebt, TopUp, Withdrawal
from jishi.shops.models import Violation, ViolationKind
from jishi.simulation.world import World

ONCE_PER_ORDER = ("payment", "release", "commission")
REFUNDED_BEFORE_SHIPMENT = "refunded_before_shipment"


@dataclass
class RunRecords:
    """What the run itself saw happen, to check the database against."""

    known_orders: set[int]
    extra_topups: Counter = field(default_factory=Counter)  # buyer pk -> topped up mid-run
    unchanged_postage: set[int] = field(default_factory=set)  # order ids
    deposits_from_shop: Counter = field(default_factory=Counter)  # shop pk -> fen
    cases: set[int] = field(default_factory=set)  # case ids the run opened


def _stock(world: World, order_ids: QuerySet, problems: list[str]) -> None:
    sku_ids = list(world.initial_stock)
    held: Counter[int] = Counter()
    for sku_id, quantity in OrderLine.objects.filter(
        sku_id__in=sku_ids, stock_held=True
    ).values_list("sku_id", "quantity"):
        held[sku_id] += quantity
    exchanged: Counter[int] = Counter()  # replacements the sellers shipped
    for sku_id, quantity in (
        RefundCase.objects.filter(
            order_id__in=order_ids, kind=RefundKind.EXCHANGE, status=RefundStatus.SUCCESS
        )
        .exclude(exchange_tracking_no="")
        .values_list("exchange_sku_id", "line__quantity")
    ):
        exchanged[sku_id] += quantity
    for sku in Sku.objects.filter(pk__in=sku_ids):
        initial = world.initial_stock[sku.pk]
        if sku.stock < 0:
            problems.append(f"SKU {sku.pk}: negative stock {sku.stock}")
        if initial - held[sku.pk] - exchanged[sku.pk] != sku.stock:
            problems.append(
                f"SKU {sku.pk}: initial {initial} - held {held[sku.pk]} - exchanged "
                f"{exchanged[sku.pk]} != stock {sku.stock}"
            )
        if held[sku.pk] + exchanged[sku.pk] > initial:
            problems.append(f"SKU {sku.pk}: oversold ({held[sku.pk]} held of {initial})")
    for product in Product.objects.filter(pk__in=world.product_ids):
        active = Sku.objects.filter(product=product, is_active=True).aggregate(s=Sum("stock"))["s"]
        if product.stock_total != (active or 0):
            problems.append(f"product {product.pk}: stock total {product.stock_total} != {active}")
        sold = (
            OrderLine.objects.filter(product=product, order__paid_at__isnull=False).aggregate(
                s=Sum("quantity")
            )["s"]
            or 0
        )
        if product.sales_count != sold:
            problems.append(f"product {product.pk}: sales count {product.sales_count} != {sold}")


def _lines(order_ids: QuerySet, problems: list[str]) -> None:
    """Whether each line holds stock follows from its order's status, and from whether it was
    fully refunded before the order shipped (that stock came back)."""
    refunded_at: dict[int, object] = {}
    for line_id, finished in RefundCase.objects.filter(
        order_id__in=order_ids, status=RefundStatus.SUCCESS
    ).values_list("line_id", "finished_at"):
        refunded_at[line_id] = min(finished, refunded_at.get(line_id, finished))
    rows = OrderLine.objects.filter(order_id__in=order_ids).values_list(
        "pk",
        "order_id",
        "order__status",
        "order__paid_at",
        "order__shipped_at",
        "stock_deduction",
        "stock_held",
        "paid_fen",
        "refunded_fen",
    )
    for pk, order_id, status, paid_at, shipped_at, deduction, held, paid, refunded in rows:
        if status == OrderStatus.WAIT_BUYER_PAY:
            expected = deduction == "order"
        elif status == OrderStatus.TRADE_CLOSED_BY_SYSTEM:
            expected = False
        elif refunded >= paid and (
            shipped_at is None or (pk in refunded_at and refunded_at[pk] < shipped_at)
        ):
            expected = False  # refunded in full before it shipped: the stock came back
        else:
            expected = paid_at is not None
        if held != expected:
            problems.append(f"order {order_id} ({status}): a line holds stock = {held}")


def _orders(world: World, order_ids: QuerySet, unchanged_postage: set[int], problems) -> None:
    templates = {
        t.shop_id: t for t in ShippingTemplate.objects.filter(shop__in=[s.pk for s in world.shops])
    }
    lines = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=order_ids):
        lines[line.order_id].append(line)
    sku_price = {sku.pk: sku.price_fen for sku in world.skus}
    case_refunds: Counter[int] = Counter()
    case_payouts: Counter[int] = Counter()
    for order_id, refunded in RefundCase.objects.filter(
        order_id__in=order_ids, status=RefundStatus.SUCCESS
    ).values_list("order_id", "refunded_fen"):
        case_refunds[order_id] += refunded
        case_payouts[order_id] += refunded > 0
    advances: Counter[int] = Counter()
    for order_id, amount in ShopDebt.objects.filter(
        order_id__in=order_ids, kind=DebtKind.ADVANCE
    ).values_list("order_id", "amount_fen"):
        advances[order_id] += amount
    refund_transfers = dict(
        Transfer.objects.filter(order_id__in=order_ids, kind="refund")
        .values("order_id")
        .annotate(n=Count("id"))
        .values_list("order_id", "n")
    )
    for order in Order.objects.filter(pk__in=order_ids).iterator():
        label = f"order {order.pk} ({order.status})"
        order_lines = lines[order.pk]
        for line in order_lines:
            if line.unit_price_fen != sku_price[line.sku_id]:
                problems.append(f"{label}: line price {line.unit_price_fen} is not the SKU's")
            if line.paid_fen != line.unit_price_fen * line.quantity - line.discount_fen:
                problems.append(f"{label}: line paid {line.paid_fen} != price x quantity")
            if line.refunded_fen > line.paid_fen:
                problems.append(f"{label}: line refunded {line.refunded_fen} > {line.paid_fen}")
        items = sum(line.paid_fen for line in order_lines)
        if items != order.items_fen:
            problems.append(f"{label}: items {order.items_fen} != lines {items}")
        if order.total_fen != order.items_fen - order.discount_fen + order.shipping_fen:
            problems.append(f"{label}: total {order.total_fen} != items + postage")
        if order.pk in unchanged_postage:
            postage = shipping_fee_fen(
                template=templates.get(order.shop_id),
                province=order.province,
                items_fen=order.items_fen - order.discount_fen,
            )
            if postage != order.shipping_fen:
                problems.append(f"{label}: postage {order.shipping_fen}, template says {postage}")
        if order.status == OrderStatus.TRADE_FINISHED:
            # Commission on what each line kept after its refunds; the rest was released.
            for line in order_lines:
                kept = commission_fen(
                    paid_fen=line.paid_fen - line.refunded_fen, rate_bp=line.commission_rate_bp
                )
                if line.commission_fen != kept:
                    problems.append(
                        f"{label}: line {line.pk} commission {line.commission_fen} != {kept}"
                    )
            commission = sum(line.commission_fen for line in order_lines)
            if order.commission_fen != commission or (
                order.released_fen + order.commission_fen + order.refunded_fen != order.total_fen
            ):
                problems.append(
                    f"{label}: released {order.released_fen} + commission "
                    f"{order.commission_fen} (lines {commission}) + refunded "
                    f"{order.refunded_fen} != total {order.total_fen}"
                )
        elif order.status == OrderStatus.TRADE_CLOSED:
            if order.refunded_fen != order.total_fen or order.paid_at is None:
                problems.append(f"{label}: refunded {order.refunded_fen} of {order.total_fen}")
            if order.released_fen or order.commission_fen:
                problems.append(
                    f"{label}: fully refunded, yet released {order.released_fen} and "
                    f"commission {order.commission_fen} stay"
                )
        elif order.status not in FINAL_STATUSES:
            problems.append(f"{label}: not final at the end of the run")
        if order.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM and order.paid_at is not None:
            problems.append(f"{label}: closed as unpaid but was paid")
        if (
            order.refunded_fen
            and order.refunded_fen == order.total_fen
            and (order.status != OrderStatus.TRADE_CLOSED)
        ):
            problems.append(f"{label}: fully refunded but not TRADE_CLOSED")
        # The order's refunds: its successful cases, the platform's advances, and the refund
        # before shipment (which returns whatever the order still held).
        from_cases = case_refunds[order.pk] + advances[order.pk]
        before_shipment = order.close_reason == REFUNDED_BEFORE_SHIPMENT
        if before_shipment:
            if order.refunded_fen != order.total_fen or from_cases > order.total_fen:
                problems.append(
                    f"{label}: refunded before shipment {order.refunded_fen} of "
                    f"{order.total_fen}, cases and advances {from_cases}"
                )
        elif order.refunded_fen != from_cases:
            problems.append(
                f"{label}: refunded {order.refunded_fen} != successful cases "
                f"{case_refunds[order.pk]} + advances {advances[order.pk]}"
            )
        payouts = case_payouts[order.pk] + before_shipment
        if refund_transfers.get(order.pk, 0) != payouts:
            problems.append(
                f"{label}: {refund_transfers.get(order.pk, 0)} refund transfers for {payouts} "
                f"refunds"
            )
    repeated = (
        Transfer.objects.filter(order_id__in=order_ids, kind__in=ONCE_PER_ORDER)
        .values("order_id", "kind")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in repeated:
        problems.append(f"order {row['order_id']}: {row['n']} {row['kind']} transfers")


def _cases(world: World, order_ids: QuerySet, opened: set[int], problems) -> dict[str, int]:
    """Every case is finished, its money matches its outcome, every ruling and violation is
    where it belongs. Returns the after-sales counts for the report."""
    counts: Counter[str] = Counter()
    cases = RefundCase.objects.filter(order_id__in=order_ids)
    found = set(cases.values_list("pk", flat=True))
    if found != opened:
        problems.append(
            f"cases the run did not open: {sorted(found - opened)[:10]}, "
            f"opened but missing: {sorted(opened - found)[:10]}"
        )
    ruled = {d.case_id: d for d in Dispute.objects.filter(case__in=cases, status="ruled_buyer")}
    for case in cases.iterator():
        label = f"case {case.pk} ({case.kind}, {case.status})"
        counts[f"cases: {case.kind}, {case.status}"] += 1
        if case.status in OPEN_STATUSES:
            problems.append(f"{label}: still open after the final sweeps")
        if case.timer_failures:
            problems.append(f"{label}: its timer failed {case.timer_failures} times")
        if case.status == RefundStatus.CLOSED and case.refunded_fen:
            problems.append(f"{label}: closed but refunded {case.refunded_fen}")
        if case.status == RefundStatus.SUCCESS:
            expected = ruled[case.pk].ruling_amount_fen if case.pk in ruled else case.amount_fen
            if case.refunded_fen != expected:
                problems.append(f"{label}: refunded {case.refunded_fen}, expected {expected}")
            counts["cases: refunded fen"] += case.refunded_fen
    for dispute in Dispute.objects.filter(case__in=cases).select_related("case"):
        counts[f"disputes: {dispute.status}"] += 1
        label = f"dispute {dispute.pk} ({dispute.status}) on case {dispute.case_id}"
        if dispute.status in DISPUTE_OPEN:
            problems.append(f"{label}: still open after the final sweeps")
        if dispute.status == DisputeStatus.RULED_BUYER and (
            dispute.case.status != RefundStatus.SUCCESS
        ):
            problems.append(f"{label}: ruled for the buyer, case {dispute.case.status}")
        if dispute.status == DisputeStatus.RULED_SELLER and (
            dispute.case.status != RefundStatus.CLOSED
            or dispute.case.close_reason != CaseCloseReason.RULED_FOR_SELLER
        ):
            problems.append(f"{label}: ruled for the seller, case {dispute.case.status}")
        if dispute.status in (DisputeStatus.RULED_BUYER, DisputeStatus.RULED_SELLER) and (
            dispute.ruled_by_id != world.arbitrator.pk
        ):
            problems.append(f"{label}: not ruled by the run's arbitrator")
        if (
            dispute.status == DisputeStatus.WITHDRAWN
            and dispute.withdrawn_by_party == "buyer"
            and dispute.case.status != RefundStatus.CLOSED
        ):
            problems.append(f"{label}: withdrawn by the buyer, case {dispute.case.status}")
        flagged = Violation.objects.filter(
            case_id=dispute.case_id, kind=ViolationKind.NOT_AS_DESCRIBED
        ).exists()
        if flagged != (dispute.status == DisputeStatus.RULED_BUYER and dispute.not_as_described):
            problems.append(f"{label}: not-as-described violation recorded = {flagged}")
    _violations(world, order_ids, counts, problems)
    return dict(sorted(counts.items()))


def _violations(world: World, order_ids: QuerySet, counts: Counter, problems) -> None:
    shops = [s.pk for s in world.shops]
    share, cap = rule("late_shipment_compensation_bp"), rule("late_shipment_compensation_fen_max")
    violations = {(v.order_id, v.kind): v for v in Violation.objects.filter(shop_id__in=shops)}
    for _order_id, kind in violations:
        counts[f"violations: {kind}"] += 1
    for order in Order.objects.filter(pk__in=order_ids).iterator():
        late = violations.get((order.pk, ViolationKind.LATE_SHIPMENT))
        if (late is not None) != (order.late_shipment_at is not None):
            problems.append(f"order {order.pk}: late = {order.late_shipment_at}, violation {late}")
        if late is not None:
            expected = min(order.items_fen * share // 10_000, cap)
            if late.compensation_fen != expected:
                problems.append(
                    f"order {order.pk}: late-shipment compensation {late.compensation_fen}, "
                    f"30 % capped says {expected}"
                )
            counts["compensation fen (late shipment)"] += late.compensation_fen
        not_shipped = (order.pk, ViolationKind.NOT_SHIPPED) in violations
        if not_shipped != (order.not_shipped_at is not None):
            problems.append(f"order {order.pk}: paid-not-shipped flag and violation disagree")


def _money(world: World, records: RunRecords, order_ids: QuerySet, problems) -> dict:
    """Wallets, shop balances, deposits, debts and the platform's commission, each from
    independent records."""
    buyers = [b.pk for b in world.buyers]
    owners = [o.pk for o in world.owners]
    shops = [s.pk for s in world.shops]
    accounts = {a.code: a for a in Account.objects.filter(owner_user_id__in=buyers + owners)}
    accounts |= {a.code: a for a in Account.objects.filter(owner_shop_id__in=shops)}

    def balance(code: str) -> int:
        account = accounts.get(code)
        return account.balance if account else 0

    sim_orders = Order.objects.filter(pk__in=order_ids)
    topped = dict(
        TopUp.objects.filter(user_id__in=buyers + owners, status=ChannelOpStatus.SUCCEEDED)
        .values("user_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("user_id", "s")
    )
    spent = dict(
        sim_orders.filter(paid_at__isnull=False)
        .values("buyer_id")
        .annotate(s=Sum(F("total_fen") - F("refunded_fen")))
        .values_list("buyer_id", "s")
    )
    compensated: Counter[int] = Counter()  # buyer pk -> late-shipment compensation
    compensation_rows = Violation.objects.filter(
        order_id__in=order_ids, kind=ViolationKind.LATE_SHIPMENT
    ).values_list("order_id", "compensation_fen")
    buyer_of = dict(sim_orders.values_list("pk", "buyer_id"))
    for order_id, amount in compensation_rows:
        compensated[buyer_of[order_id]] += amount
    wallets = 0
    for buyer in buyers:
        expected_topups = world.topups_fen[buyer] + records.extra_topups[buyer]
        if topped.get(buyer, 0) != expected_topups:
            problems.append(f"buyer {buyer}: top-ups {topped.get(buyer, 0)} != {expected_topups}")
        wallet = balance(f"wallet:user:{buyer}")
        wallets += wallet
        expected = topped.get(buyer, 0) - spent.get(buyer, 0) + compensated[buyer]
        if wallet != expected or wallet < 0:
            problems.append(
                f"buyer {buyer}: wallet {wallet}, top-ups less spending plus compensation "
                f"{expected}"
            )
    owner_wallets = 0
    for shop, owner in zip(world.shops, world.owners, strict=True):
        if topped.get(owner.pk, 0) != world.owner_topups_fen[owner.pk]:
            problems.append(f"owner {owner.pk}: top-ups {topped.get(owner.pk, 0)}")
        wallet = balance(f"wallet:user:{owner.pk}")
        owner_wallets += wallet
        if wallet != world.owner_topups_fen[owner.pk] - world.deposits_fen[shop.pk]:
            problems.append(f"owner {owner.pk}: wallet {wallet} after paying the deposit")
    released = dict(
        sim_orders.values("shop_id").annotate(s=Sum("released_fen")).values_list("shop_id", "s")
    )
    debts = ShopDebt.objects.filter(shop_id__in=shops)
    charged_back: Counter[int] = Counter()  # released, then taken back for refunds/advances
    recovered: Counter[int] = Counter()
    outstanding: Counter[int] = Counter()
    debt_counts: Counter[str] = Counter()
    for debt in debts:
        if debt.kind in (DebtKind.REFUND_AFTER_RELEASE, DebtKind.ADVANCE):
            charged_back[debt.shop_id] += debt.amount_fen
        recovered[debt.shop_id] += debt.recovered_fen
        outstanding[debt.shop_id] += debt.outstanding_fen
        debt_counts[f"debts: {debt.kind}"] += debt.amount_fen
        debt_counts["debts outstanding"] += debt.outstanding_fen
    withdrawals = Withdrawal.objects.filter(shop_id__in=shops)
    if withdrawals.exclude(status=ChannelOpStatus.SUCCEEDED).exists():
        problems.append("a withdrawal is still pending or failed after the outbox was drained")
    withdrawn = dict(
        withdrawals.filter(status=ChannelOpStatus.SUCCEEDED)
        .values("shop_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("shop_id", "s")
    )
    deposited = dict(
        Transfer.objects.filter(kind="deposit", credit_account__owner_shop_id__in=shops)
        .values("credit_account__owner_shop_id")
        .annotate(s=Sum("amount"))
        .values_list("credit_account__owner_shop_id", "s")
    )
    shop_total = deposits = receivable = 0
    for shop in shops:
        available_account = accounts.get(f"shop_available:shop:{shop}")
        available = balance(f"shop_available:shop:{shop}")
        deposit = balance(f"shop_deposit:shop:{shop}")
        owed = balance(f"shop_receivable:shop:{shop}")
        shop_total += available
        deposits += deposit
        receivable += owed
        if available < 0 or deposit < 0 or owed < 0:
            problems.append(f"shop {shop}: negative balance {available}, {deposit}, {owed}")
        if available_account and available_account.available != available:
            problems.append(f"shop {shop}: money left pending in its balance")
        expected = (
            released.get(shop, 0)
            + charged_back[shop]
            + world.deposits_fen[shop]
            - withdrawn.get(shop, 0)
            - recovered[shop]
        )
        if available + deposit != expected:
            problems.append(
                f"shop {shop}: balance {available} + deposit {deposit} != released "
                f"{released.get(shop, 0)} + taken back {charged_back[shop]} + deposits paid in "
                f"{world.deposits_fen[shop]} - withdrawn {withdrawn.get(shop, 0)} - debts "
                f"recovered {recovered[shop]}"
            )
        paid_in = world.deposits_fen[shop] + records.deposits_from_shop[shop]
        if deposited.get(shop, 0) != paid_in:
            problems.append(f"shop {shop}: deposits {deposited.get(shop, 0)} != paid in {paid_in}")
        if owed != outstanding[shop]:
            problems.append(
                f"shop {shop}: debts outstanding {outstanding[shop]} != receivable {owed}"
            )
    payouts = OutboxMessage.objects.filter(topic="payout.submit", processed_at__isnull=True)
    if payouts.filter(payload__withdrawal_id__in=list(withdrawals.values_list("pk", flat=True))):
        problems.append("a payout message was never delivered")
    totals = sim_orders.aggregate(
        commission=Sum("commission_fen"),
        escrow=Sum(F("total_fen") - F("refunded_fen"), filter=Q(status__in=PAID_STATUSES)),
    )
    commission = totals["commission"] or 0
    moved = dict(
        Transfer.objects.filter(
            order_id__in=order_ids, kind__in=("commission", "commission_return")
        )
        .values("kind")
        .annotate(s=Sum("amount"))
        .values_list("kind", "s")
    )
    commission_moved = moved.get("commission", 0) - moved.get("commission_return", 0)
    if commission != commission_moved:
        problems.append(f"commission on orders {commission} != moved {commission_moved}")
    topups = sum(topped.values())
    held = totals["escrow"] or 0
    taken = sum(withdrawn.values())
    all_wallets = wallets + owner_wallets
    # The platform pays compensation, advances and refunds after release at once and is owed
    # them by the shops until recovered: what it is owed is money the run holds.
    if topups + receivable != all_wallets + held + shop_total + deposits + taken + commission:
        problems.append(
            f"money not conserved: top-ups {topups} + owed by shops {receivable} != wallets "
            f"{all_wallets} + escrow {held} + shops {shop_total} + deposits {deposits} + "
            f"withdrawn {taken} + commission {commission}"
        )
    refunded = sim_orders.aggregate(s=Sum("refunded_fen"))["s"] or 0
    return {
        "top-ups": topups,
        "buyer wallets": wallets,
        "owner wallets": owner_wallets,
        "shop balances": shop_total,
        "shop deposits": deposits,
        "withdrawn": taken,
        "commission": commission,
        "escrow": held,
        "refunded to buyers": refunded,
        "compensation to buyers": sum(compensated.values()),
        **{k: v for k, v in sorted(debt_counts.items())},
    }


def checks_run(world: World, records: RunRecords) -> tuple[CheckReport, list[str], dict, dict]:
    """Run the ledger check and the simulator's invariants; returns (ledger report, problems,
    money summary, after-sales counts)."""
    problems: list[str] = []
    # The run's shops sell only to the run's buyers: their orders are the run's orders. (A
    # subquery, not a list of ids, so that big runs stay within SQLite's parameter limit.)
    order_ids = Order.objects.filter(shop__in=[shop.pk for shop in world.shops]).values("pk")
    found = set(order_ids.values_list("pk", flat=True))
    if found != records.known_orders:
        problems.append(
            f"orders the run did not see placed: {sorted(found - records.known_orders)[:10]}, "
            f"placed but missing: {sorted(records.known_orders - found)[:10]}"
        )
    _stock(world, order_ids, problems)
    _lines(order_ids, problems)
    _orders(world, order_ids, records.unchanged_postage, problems)
    aftersales = _cases(world, order_ids, records.cases, problems)
    money = _money(world, records, order_ids, problems)
    negative = Account.objects.filter(forbid_overdraft=True, kind=AccountKind.WALLET).filter(
        credits_posted__lt=F("debits_posted") + F("debits_pending")
    )
    for account in negative:
        problems.append(f"wallet {account.code} is negative")
    return ledger_check(), problems, money, aftersales
