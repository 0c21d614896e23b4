"""Helpers shared by the after-sales service, timer, money and concurrency tests: buy and
move an order to a stage, open a request, and prove that a refused action changed nothing."""

from collections.abc import Callable
from typing import Any

import pytest

from jishi.aftersales import services as aftersales
from jishi.aftersales.models import CaseEvent, Dispute, RefundCase
from jishi.catalog.models import Sku
from jishi.core.errors import DomainError
from jishi.ledger.check import ledger_check
from jishi.ledger.models import Account, Transfer
from jishi.orders.models import Order, OrderLine
from jishi.orders.services import group_pay, order_confirm, order_place, order_ship
from jishi.payments.models import ShopDebt
from jishi.shops.models import Violation
from tests.trade.conftest import PIN

# The default trade rules (jishi.core.rules), in seconds.
HOUR = 3600
DAY = 86400
ANSWER_UNSHIPPED = 24 * HOUR
ANSWER_SHIPPED = 5 * DAY
RETURN_WITHIN = 7 * DAY
CONFIRM_GOODS_WITHIN = 10 * DAY
ESCALATE_WITHIN = 5 * DAY
EVIDENCE_PHASE = 3 * DAY
AFTERSALES_WINDOW = 15 * DAY
NO_REASON_WINDOW = 7 * DAY
AUTO_CONFIRM = 10 * DAY
SHIP_WITHIN = 48 * HOUR
NOT_SHIPPED_GRACE = 3 * DAY


def buy(buyer, *items: tuple[Any, int], ship: bool = False, finish: bool = False) -> Order:
    """Place and pay one order of ``items`` ((sku, quantity), all from one shop); optionally
    ship it and confirm receipt. Returns the order, fresh from the database."""
    group = order_place(
        buyer=buyer,
        items=[{"sku_id": sku.pk, "quantity": quantity} for sku, quantity in items],
        address_id=buyer.address.pk,
    )
    group_pay(buyer=buyer, group_id=group.pk, pin=PIN)
    order = group.orders.get()
    if ship or finish:
        ship_order(order)
    if finish:
        order_confirm(buyer=buyer, order_id=order.pk, pin=PIN)
    return Order.objects.get(pk=order.pk)


def ship_order(order: Order) -> Order:
    order_ship(actor=order.shop.owner, order_id=order.pk, carrier="顺丰", tracking_no="SF100")
    return Order.objects.get(pk=order.pk)


def ask(
    buyer,
    order: Order,
    *,
    kind: str = "refund_only",
    reason: str | None = None,
    amount: Any = None,
    line: OrderLine | None = None,
    **extra: Any,
) -> RefundCase:
    """Open an after-sales request on ``line`` (default: the order's first line), with a
    reason that fits the kind and stage, for the whole line unless ``amount`` is given."""
    line = line or order.lines.order_by("pk").first()
    if reason is None:
        reason = "not_wanted" if order.shipped_at is None else "quality"
        if kind == "exchange":
            reason = "size"
    if amount is None and kind != "exchange":
        amount = line.paid_fen - line.refunded_fen
    return aftersales.refund_request(
        buyer=buyer,
        order_id=order.pk,
        line_id=line.pk,
        kind=kind,
        reason=reason,
        amount_fen=amount,
        **extra,
    )


def fresh(obj):
    obj.refresh_from_db()
    return obj


def ledger_ok() -> None:
    report = ledger_check()
    assert report.ok, report.problems


def world_state() -> dict[str, list]:
    """Everything after-sales can change: cases, disputes, history, orders, lines, stock,
    debts, violations, transfers and every account's counters."""
    return {
        "cases": list(RefundCase.objects.order_by("pk").values()),
        "disputes": list(Dispute.objects.order_by("pk").values()),
        "events": list(CaseEvent.objects.order_by("pk").values_list("pk", flat=True)),
        "orders": list(Order.objects.order_by("pk").values()),
        "lines": list(OrderLine.objects.order_by("pk").values()),
        "stock": list(Sku.objects.order_by("pk").values_list("pk", "stock")),
        "debts": list(ShopDebt.objects.order_by("pk").values()),
        "violations": list(Violation.objects.order_by("pk").values_list("pk", flat=True)),
        "transfers": list(Transfer.objects.order_by("pk").values_list("pk", flat=True)),
        "accounts": list(
            Account.objects.order_by("pk").values_list(
                "pk", "debits_posted", "credits_posted", "debits_pending", "credits_pending"
            )
        ),
    }


def refused(code: str, call: Callable[[], object]) -> DomainError:
    """``call`` must fail with ``code`` and leave every row as it was (and the ledger right)."""
    before = world_state()
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code, (caught.value.code, str(caught.value.message))
    assert world_state() == before, "a refused action changed something"
    ledger_ok()
    return caught.value


# --- moving a case along --------------------------------------------------------------------

RETURN_ADDRESS = "杭州市西湖区文三路 8 号 退货组"


def seller_agree(case: RefundCase, address: str = RETURN_ADDRESS) -> RefundCase:
    return aftersales.refund_agree(actor=case.shop.owner, case_id=case.pk, return_address=address)


def seller_refuse(case: RefundCase, reason: str = "商品无质量问题") -> RefundCase:
    return aftersales.refund_refuse(actor=case.shop.owner, case_id=case.pk, reason=reason)


def buyer_return(case: RefundCase) -> RefundCase:
    return aftersales.refund_return_ship(
        buyer=case.buyer, case_id=case.pk, carrier="中通", tracking_no="ZT200"
    )


def seller_confirm(case: RefundCase) -> RefundCase:
    return aftersales.refund_goods_confirm(
        actor=case.shop.owner, case_id=case.pk, carrier="顺丰", tracking_no="SF300"
    )


def case_in(status: str, buyer, order: Order, *, kind: str = "return_refund", **ask_kw):
    """A new request on ``order`` driven to ``status`` (WAIT_SELLER_AGREE,
    WAIT_BUYER_RETURN_GOODS, WAIT_SELLER_CONFIRM_GOODS or SELLER_REFUSE_BUYER)."""
    case = ask(buyer, order, kind=kind, **ask_kw)
    if status in ("WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"):
        seller_agree(case)
    if status == "WAIT_SELLER_CONFIRM_GOODS":
        buyer_return(case)
    if status == "SELLER_REFUSE_BUYER":
        seller_refuse(case)
    case = fresh(case)
    assert case.status == status
    return case
