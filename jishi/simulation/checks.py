"""The invariants a finished simulation must satisfy, on top of `jishi ledger check`.

Each check recomputes an expected value from a *different* source than the one it checks
(stock from order lines, wallets from top-ups and order totals, shop balances from released
money and withdrawals, postage from the shop's template), so a bug must fool two records at
once to go unnoticed.
"""

from collections import Counter, defaultdict

from django.db.models import Count, F, Q, QuerySet, Sum

from jishi.catalog.models import Product, Sku
from jishi.core.models import OutboxMessage
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
from jishi.payments.models import ChannelOpStatus, TopUp, Withdrawal
from jishi.simulation.world import World

ONCE_PER_ORDER = ("payment", "release", "commission", "refund")


def _stock(world: World, problems: list[str]) -> None:
    sku_ids = list(world.initial_stock)
    held = Counter()
    for sku_id, quantity in OrderLine.objects.filter(
        sku_id__in=sku_ids, stock_held=True
    ).values_list("sku_id", "quantity"):
        held[sku_id] += quantity
    for sku in Sku.objects.filter(pk__in=sku_ids):
        initial = world.initial_stock[sku.pk]
        if sku.stock < 0:
            problems.append(f"SKU {sku.pk}: negative stock {sku.stock}")
        if initial - held[sku.pk] != sku.stock:
            problems.append(
                f"SKU {sku.pk}: initial {initial} - held {held[sku.pk]} != stock {sku.stock}"
            )
        if held[sku.pk] > initial:
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
    """Whether each line holds stock follows from its order's status."""
    rows = OrderLine.objects.filter(order_id__in=order_ids).values_list(
        "order_id", "order__status", "order__paid_at", "stock_deduction", "stock_held"
    )
    for order_id, status, paid_at, deduction, held in rows:
        if status == OrderStatus.WAIT_BUYER_PAY:
            expected = deduction == "order"
        elif status in (OrderStatus.TRADE_CLOSED, OrderStatus.TRADE_CLOSED_BY_SYSTEM):
            expected = False
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
    for order in Order.objects.filter(pk__in=order_ids).iterator():
        label = f"order {order.pk} ({order.status})"
        order_lines = lines[order.pk]
        for line in order_lines:
            if line.unit_price_fen != sku_price[line.sku_id]:
                problems.append(f"{label}: line price {line.unit_price_fen} is not the SKU's")
            if line.paid_fen != line.unit_price_fen * line.quantity - line.discount_fen:
                problems.append(f"{label}: line paid {line.paid_fen} != price x quantity")
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
            commission = min(
                sum(
                    commission_fen(paid_fen=x.paid_fen, rate_bp=x.commission_rate_bp)
                    for x in order_lines
                ),
                order.total_fen,
            )
            if (order.commission_fen, order.released_fen) != (
                commission,
                order.total_fen - commission,
            ):
                problems.append(
                    f"{label}: released {order.released_fen} + commission "
                    f"{order.commission_fen}, expected "
                    f"{order.total_fen - commission} + {commission}"
                )
        elif order.status == OrderStatus.TRADE_CLOSED:
            if order.refunded_fen != order.total_fen or order.paid_at is None:
                problems.append(f"{label}: refunded {order.refunded_fen} of {order.total_fen}")
        elif order.status not in FINAL_STATUSES:
            problems.append(f"{label}: not final at the end of the run")
        if order.status == OrderStatus.TRADE_CLOSED_BY_SYSTEM and order.paid_at is not None:
            problems.append(f"{label}: closed as unpaid but was paid")
    repeated = (
        Transfer.objects.filter(order_id__in=order_ids, kind__in=ONCE_PER_ORDER)
        .values("order_id", "kind")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in repeated:
        problems.append(f"order {row['order_id']}: {row['n']} {row['kind']} transfers")


def _money(world: World, extra_topups: Counter, order_ids: QuerySet, problems) -> dict:
    """Wallets, shop balances and the platform's commission, each from independent records."""
    buyers = [b.pk for b in world.buyers]
    shops = [s.pk for s in world.shops]
    accounts = {a.code: a for a in Account.objects.filter(owner_user_id__in=buyers)}
    accounts |= {a.code: a for a in Account.objects.filter(owner_shop_id__in=shops)}
    sim_orders = Order.objects.filter(pk__in=order_ids)
    topped = dict(
        TopUp.objects.filter(user_id__in=buyers, status=ChannelOpStatus.SUCCEEDED)
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
    wallets = 0
    for buyer in buyers:
        expected_topups = world.topups_fen[buyer] + extra_topups[buyer]
        if topped.get(buyer, 0) != expected_topups:
            problems.append(f"buyer {buyer}: top-ups {topped.get(buyer, 0)} != {expected_topups}")
        account = accounts.get(f"wallet:user:{buyer}")
        balance = account.balance if account else 0
        wallets += balance
        expected = topped.get(buyer, 0) - spent.get(buyer, 0)
        if balance != expected or balance < 0:
            problems.append(f"buyer {buyer}: wallet {balance}, top-ups less spending {expected}")
    released = dict(
        sim_orders.values("shop_id").annotate(s=Sum("released_fen")).values_list("shop_id", "s")
    )
    withdrawals = Withdrawal.objects.filter(shop_id__in=shops)
    if withdrawals.exclude(status=ChannelOpStatus.SUCCEEDED).exists():
        problems.append("a withdrawal is still pending or failed after the outbox was drained")
    withdrawn = dict(
        withdrawals.filter(status=ChannelOpStatus.SUCCEEDED)
        .values("shop_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("shop_id", "s")
    )
    shop_total = 0
    for shop in shops:
        account = accounts.get(f"shop_available:shop:{shop}")
        balance = account.balance if account else 0
        shop_total += balance
        expected = released.get(shop, 0) - withdrawn.get(shop, 0)
        if balance != expected or (account and account.available != balance):
            problems.append(f"shop {shop}: balance {balance}, released less withdrawn {expected}")
    payouts = OutboxMessage.objects.filter(topic="payout.submit", processed_at__isnull=True)
    if payouts.filter(payload__withdrawal_id__in=list(withdrawals.values_list("pk", flat=True))):
        problems.append("a payout message was never delivered")
    totals = sim_orders.aggregate(
        commission=Sum("commission_fen"),
        escrow=Sum("total_fen", filter=Q(status__in=PAID_STATUSES)),
    )
    commission = totals["commission"] or 0
    commission_moved = (
        Transfer.objects.filter(order_id__in=order_ids, kind="commission").aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    if commission != commission_moved:
        problems.append(f"commission on orders {commission} != moved {commission_moved}")
    topups = sum(topped.values())
    held = totals["escrow"] or 0
    taken = sum(withdrawn.values())
    if topups != wallets + held + shop_total + taken + commission:
        problems.append(
            f"money not conserved: top-ups {topups} != wallets {wallets} + escrow {held} + "
            f"shops {shop_total} + withdrawn {taken} + commission {commission}"
        )
    return {
        "top-ups": topups,
        "buyer wallets": wallets,
        "shop balances": shop_total,
        "withdrawn": taken,
        "commission": commission,
        "escrow": held,
    }


def checks_run(
    world: World, *, known_orders: set[int], extra_topups: Counter, unchanged_postage: set[int]
) -> tuple[CheckReport, list[str], dict]:
    """Run the ledger check and the simulator's invariants; returns (ledger report,
    problems, money summary). ``known_orders`` are the orders the run saw placed."""
    problems: list[str] = []
    # The run's shops sell only to the run's buyers: their orders are the run's orders. (A
    # subquery, not a list of ids, so that big runs stay within SQLite's parameter limit.)
    order_ids = Order.objects.filter(shop__in=[shop.pk for shop in world.shops]).values("pk")
    found = set(order_ids.values_list("pk", flat=True))
    if found != known_orders:
        problems.append(
            f"orders the run did not see placed: {sorted(found - known_orders)[:10]}, "
            f"placed but missing: {sorted(known_orders - found)[:10]}"
        )
    _stock(world, problems)
    _lines(order_ids, problems)
    _orders(world, order_ids, unchanged_postage, problems)
    money = _money(world, extra_topups, order_ids, problems)
    negative = Account.objects.filter(forbid_overdraft=True, kind=AccountKind.WALLET).filter(
        credits_posted__lt=F("debits_posted") + F("debits_pending")
    )
    for account in negative:
        problems.append(f"wallet {account.code} is negative")
    return ledger_check(), problems, money
