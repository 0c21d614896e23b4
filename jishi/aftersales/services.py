"""After-sales writes: refund requests and their answers, returns, exchanges, platform
intervention and its ruling, advance compensation, and the timer actions.

Money. Before the order's escrow is released a refund comes straight out of escrow. After
release the line's commission share comes back from the platform and the seller's share is
paid by the platform at once and recovered from the shop (available balance, then deposit,
then next income; see ``payments.services.shop_charge``); both flow through the order's
escrow so that the buyer's refund is always one ``refund`` transfer escrow → wallet.

Every action locks the case through ``aftersales.locks`` and re-checks the status, so of two
concurrent actions on one case exactly one wins; the other gets ``refund_status_invalid``.
"""

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.notifications import english_label, notify
from jishi.accounts.permissions import operator_require
from jishi.aftersales.errors import AftersalesError
from jishi.aftersales.locks import lock_case, lock_dispute
from jishi.aftersales.models import (
    DISPUTE_OPEN,
    EXCHANGE_REASONS,
    OPEN_STATUSES,
    UNSHIPPED_REASONS,
    CaseCloseReason,
    CaseEvent,
    CaseImage,
    Dispute,
    DisputeStatus,
    Party,
    RefundCase,
    RefundKind,
    RefundReason,
    RefundStatus,
)
from jishi.catalog.models import Sku
from jishi.core import clock
from jishi.core.audit import audit_record
from jishi.core.errors import Conflict, DomainError, NotFound, field_error
from jishi.core.idempotency import scoped_idempotency_key
from jishi.core.images import image_check
from jishi.core.invariants import invariant
from jishi.core.money import format_fen
from jishi.core.rules import rule
from jishi.core.validation import clean_int, clean_text
from jishi.inventory.services import stock_return, stock_take
from jishi.ledger.services import (
    commission_account,
    escrow_account,
    transfer_create,
    wallet_account,
)
from jishi.orders.locks import lock_lines, lock_order
from jishi.orders.models import Order, OrderLine, OrderStatus
from jishi.orders.pricing import commission_fen
from jishi.payments.models import DebtKind, ShopDebt
from jishi.payments.services import shop_charge, shop_money_lock
from jishi.shops.models import Shop, ViolationKind
from jishi.shops.permissions import shop_require
from jishi.shops.services import violation_record

DESCRIPTION_LENGTH_MAX = 500
MESSAGE_LENGTH_MAX = 1000
RELEASED_STATUSES = (OrderStatus.TRADE_FINISHED,)


# --- small helpers ----------------------------------------------------------------------------


def _status_error(case: RefundCase, message: Any) -> DomainError:
    return DomainError(AftersalesError.STATUS_INVALID, message, status=case.status)


def _event(
    case: RefundCase,
    *,
    actor: Any,
    party: str,
    action: str,
    text: str = "",
    images: list[Any] | None = None,
    evidence: bool = False,
) -> CaseEvent:
    event = CaseEvent.objects.create(
        case=case,
        actor=actor if getattr(actor, "pk", None) else None,
        party=party,
        action=action,
        text=text,
        is_evidence=evidence,
    )
    for upload in images or []:
        ext = image_check(upload, field="images")
        image = CaseImage(event=event)
        image.file.save(f"c{case.pk}.{ext}", upload, save=False)
        image.save()
    return event


def _images_clean(images: Any) -> list[Any]:
    images = [i for i in (images or []) if i]
    if len(images) > rule("case_images_max"):
        raise field_error(
            "images",
            _("At most %(n)d images.") % {"n": rule("case_images_max")},
            AftersalesError.EVIDENCE_LIMIT,
        )
    for upload in images:
        image_check(upload, field="images")
    return images


def _set_status(
    case: RefundCase, status: str, *, actor: Any, deadline_seconds: int | None, reason: str = ""
) -> None:
    before = case.status
    now = clock.now()
    case.status = status
    case.deadline = now + timedelta(seconds=deadline_seconds) if deadline_seconds else None
    case.timer_failures = 0
    case.updated_at = now
    if status in (RefundStatus.SUCCESS, RefundStatus.CLOSED):
        case.finished_at = now
    case.save()
    audit_record(
        actor=actor,
        action="refund.status",
        obj=case,
        before={"status": before},
        after={"status": status, "deadline": case.deadline.isoformat() if case.deadline else None},
        reason=reason,
    )


def _deadline_text(case: RefundCase) -> str:
    if case.deadline is None:
        return ""
    return formats.date_format(timezone.localtime(case.deadline), "Y-m-d H:i")


def _case_link(case: RefundCase, *, seller: bool = False) -> str:
    return f"/seller/aftersales/{case.pk}/" if seller else f"/aftersales/{case.pk}/"


def _notify_buyer(case: RefundCase, what: str, **params: Any) -> None:
    notify(
        user=case.buyer,
        kind=what,
        link=_case_link(case),
        params={"order": case.order_id, **params},
    )


def _notify_seller(case: RefundCase, what: str, **params: Any) -> None:
    notify(
        user=case.shop.owner,
        kind=what,
        link=_case_link(case, seller=True),
        params={"order": case.order_id, **params},
    )


# --- what a line can still get back -----------------------------------------------------------


def line_refundable_fen(order: Order, line: OrderLine) -> int:
    """The most a new request on ``line`` may ask: what was paid for it less what came back,
    plus the order's postage once every other line is fully refunded; never above what the
    order still holds for the buyer."""
    amount = line.paid_fen - line.refunded_fen
    others = [x for x in order.lines.all() if x.pk != line.pk]
    if all(x.refunded_fen >= x.paid_fen for x in others):
        amount += order.shipping_fen - order.shipping_refunded_fen
    held = order.total_fen - order.refunded_fen
    advanced = (
        order.refunded_fen
        - sum(x.refunded_fen for x in order.lines.all())
        - order.shipping_refunded_fen
    )
    if advanced > 0:  # an advance was recovered from the seller: never more than it still holds
        held = min(held, order.released_fen)
    return max(0, min(amount, held))


def aftersales_open_for(order: Order) -> bool:
    """Paid and not closed; after release, within the after-sales window."""
    if order.status in (OrderStatus.WAIT_SELLER_SEND_GOODS, OrderStatus.WAIT_BUYER_CONFIRM_GOODS):
        return True
    if order.status == OrderStatus.TRADE_FINISHED and order.finished_at is not None:
        window = timedelta(seconds=rule("aftersales_window_seconds"))
        return clock.now() <= order.finished_at + window
    return False


def _no_reason_return_allowed(order: Order, line: OrderLine) -> bool:
    """7-day no-reason return: physical goods, within 7 days of receipt (or before it)."""
    if order.is_virtual or line.product.is_virtual or not line.product.no_reason_return:
        return False
    if order.finished_at is None:
        return True
    return clock.now() <= order.finished_at + timedelta(seconds=rule("no_reason_return_seconds"))


def _request_clean(
    *, order: Order, line: OrderLine, kind: Any, reason: Any, amount_fen: Any, exchange_sku_id: Any
) -> tuple[str, str, int, Sku | None]:
    shipped = order.shipped_at is not None
    if kind not in RefundKind.values:
        raise field_error("kind", _("Choose what you want."), AftersalesError.KIND_INVALID)
    if kind != RefundKind.REFUND_ONLY and (not shipped or order.is_virtual):
        raise field_error(
            "kind",
            _("Only a refund is possible: the item was not shipped or is virtual."),
            AftersalesError.KIND_INVALID,
        )
    allowed = [r for r in RefundReason.values if shipped or r in UNSHIPPED_REASONS]
    if kind == RefundKind.EXCHANGE:
        allowed = [r for r in allowed if r in EXCHANGE_REASONS]
    if kind == RefundKind.REFUND_ONLY or not _no_reason_return_allowed(order, line):
        allowed = [r for r in allowed if r != RefundReason.NO_REASON_7D]
    if reason not in allowed:
        raise field_error(
            "reason", _("Choose a reason from the list."), AftersalesError.REASON_INVALID
        )
    refundable = line_refundable_fen(order, line)
    if kind == RefundKind.EXCHANGE:
        sku = None
        if str(exchange_sku_id).isdecimal() and len(str(exchange_sku_id)) < 18:
            sku = Sku.objects.filter(
                pk=int(exchange_sku_id), product_id=line.product_id, is_active=True
            ).first()
        if sku is None:
            raise field_error(
                "exchange_sku_id",
                _("Choose the replacement from this product's options."),
                AftersalesError.EXCHANGE_SKU_INVALID,
            )
        kept = line.paid_fen - line.refunded_fen
        difference = kept - sku.price_fen * line.quantity
        if difference < 0:
            raise field_error(
                "exchange_sku_id",
                _("The replacement costs more than you paid; ask for a refund and buy it instead."),
                AftersalesError.EXCHANGE_SKU_INVALID,
            )
        if sku.stock < line.quantity:
            raise field_error(
                "exchange_sku_id",
                _("The shop has no stock of this option to exchange."),
                AftersalesError.EXCHANGE_SKU_INVALID,
            )
        return kind, reason, difference, sku
    if refundable <= 0:
        raise DomainError(
            AftersalesError.AMOUNT_INVALID, _("Everything paid for this item was refunded.")
        )
    try:
        amount = clean_int(amount_fen, field="amount_fen", minimum=1, maximum=refundable)
    except DomainError as exc:
        raise field_error(
            "amount_fen",
            _("Ask for ¥0.01 to ¥%(max)s (what you paid for this item, less refunds).")
            % {"max": format_fen(refundable)},
            AftersalesError.AMOUNT_INVALID,
        ) from exc
    return kind, reason, amount, None


def _pause_auto_confirm(order: Order) -> None:
    if order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS and order.confirm_deadline:
        left = (order.confirm_deadline - clock.now()).total_seconds()
        order.confirm_paused_seconds = max(0, int(left))
        order.confirm_deadline = None
        order.save(update_fields=["confirm_paused_seconds", "confirm_deadline"])


def _resume_auto_confirm(order: Order) -> None:
    """Once no request is open on the order, auto-confirm resumes with the time it had left."""
    if RefundCase.objects.filter(order_id=order.pk, status__in=OPEN_STATUSES).exists():
        return
    if order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS and (
        order.confirm_paused_seconds is not None
    ):
        order.confirm_deadline = clock.now() + timedelta(seconds=order.confirm_paused_seconds)
        order.confirm_paused_seconds = None
        order.save(update_fields=["confirm_paused_seconds", "confirm_deadline"])


# --- buyer: request, revise, cancel, ship the return ------------------------------------------


def _answer_seconds(case: RefundCase) -> int:
    if case.shipped_when_requested:
        return rule("refund_seller_answer_shipped_seconds")
    return rule("refund_seller_answer_unshipped_seconds")


@transaction.atomic
def refund_request(
    *,
    buyer: User,
    order_id: Any,
    line_id: Any,
    kind: Any,
    reason: Any,
    amount_fen: Any = None,
    description: Any = "",
    images: list[Any] | None = None,
    exchange_sku_id: Any = None,
) -> RefundCase:
    """The buyer asks for after-sales on one line of a paid order."""
    order = lock_order(order_id=order_id, buyer_id=buyer.pk)
    lines = {line.pk: line for line in lock_lines(orders=[order])}
    line = lines.get(int(line_id)) if str(line_id).isdecimal() and len(str(line_id)) < 18 else None
    if line is None:
        raise NotFound(message=_("This item is not part of the order."))
    if not aftersales_open_for(order):
        raise DomainError(
            AftersalesError.NOT_ALLOWED,
            _("After-sales is not possible for this order now."),
            status=order.status,
        )
    if RefundCase.objects.filter(line=line, status__in=OPEN_STATUSES).exists():
        raise Conflict(
            AftersalesError.ALREADY_OPEN,
            _("This item already has an open after-sales request."),
        )
    if RefundCase.objects.filter(line=line).count() >= rule("refund_cases_per_line_max"):
        raise DomainError(
            AftersalesError.TOO_MANY,
            _("You have asked for after-sales on this item too many times."),
        )
    order._prefetched_objects_cache = {"lines": list(lines.values())}
    kind, reason, amount, sku = _request_clean(
        order=order,
        line=line,
        kind=kind,
        reason=reason,
        amount_fen=amount_fen,
        exchange_sku_id=exchange_sku_id,
    )
    description = clean_text(
        description, field="description", max_length=DESCRIPTION_LENGTH_MAX, required=False
    )
    if reason == RefundReason.OTHER and not description:
        raise field_error("description", _("Describe the problem."))
    images = _images_clean(images)
    try:
        with transaction.atomic():
            case = RefundCase.objects.create(
                order=order,
                line=line,
                buyer=buyer,
                shop_id=order.shop_id,
                kind=kind,
                reason=reason,
                description=description,
                amount_fen=amount,
                shipped_when_requested=order.shipped_at is not None,
                exchange_sku=sku,
            )
    except IntegrityError as exc:  # a concurrent request on the same line won
        raise Conflict(
            AftersalesError.ALREADY_OPEN,
            _("This item already has an open after-sales request."),
        ) from exc
    _set_status(
        case, RefundStatus.WAIT_SELLER_AGREE, actor=buyer, deadline_seconds=_answer_seconds(case)
    )
    _event(case, actor=buyer, party=Party.BUYER, action="request", text=description, images=images)
    _pause_auto_confirm(order)
    _notify_seller(
        case,
        "refund_requested",
        kind=english_label(RefundKind(kind).label),
        amount=format_fen(amount),
        deadline=_deadline_text(case),
    )
    return case


@transaction.atomic
def refund_revise(
    *,
    buyer: User,
    case_id: Any,
    kind: Any = None,
    reason: Any = None,
    amount_fen: Any = None,
    description: Any = None,
    images: list[Any] | None = None,
) -> RefundCase:
    """The buyer changes a request the seller has not agreed to, or one the seller refused:
    it goes back to the seller with a fresh answer timer."""
    case = lock_case(case_id=case_id, buyer_id=buyer.pk)
    if case.status not in (RefundStatus.WAIT_SELLER_AGREE, RefundStatus.SELLER_REFUSE_BUYER):
        raise _status_error(case, _("This request can no longer be changed."))
    if case.disputes.filter(status__in=DISPUTE_OPEN).exists():
        raise _status_error(case, _("The platform is handling this case; withdraw it first."))
    if case.kind == RefundKind.EXCHANGE and kind not in (None, "", RefundKind.EXCHANGE):
        raise field_error("kind", _("Cancel the exchange and ask for a refund instead."))
    order = case.order
    line = OrderLine.objects.select_related("product").get(pk=case.line_id)
    kind, reason, amount, sku = _request_clean(
        order=order,
        line=line,
        kind=kind or case.kind,
        reason=reason or case.reason,
        amount_fen=case.amount_fen if amount_fen in (None, "") else amount_fen,
        exchange_sku_id=case.exchange_sku_id,
    )
    if description is not None:
        case.description = clean_text(
            description, field="description", max_length=DESCRIPTION_LENGTH_MAX, required=False
        )
    images = _images_clean(images)
    before = {"kind": case.kind, "reason": case.reason, "amount_fen": case.amount_fen}
    case.kind, case.reason, case.amount_fen, case.exchange_sku = kind, reason, amount, sku
    case.refuse_reason = ""
    _set_status(
        case, RefundStatus.WAIT_SELLER_AGREE, actor=buyer, deadline_seconds=_answer_seconds(case)
    )
    audit_record(
        actor=buyer,
        action="refund.revise",
        obj=case,
        before=before,
        after={"kind": kind, "reason": reason, "amount_fen": amount},
    )
    _event(
        case, actor=buyer, party=Party.BUYER, action="revise", text=case.description, images=images
    )
    _notify_seller(
        case,
        "refund_requested",
        kind=english_label(RefundKind(kind).label),
        amount=format_fen(amount),
        deadline=_deadline_text(case),
    )
    return case


def _close(case: RefundCase, *, actor: Any, party: str, reason: str, text: str = "") -> None:
    for dispute in case.disputes.select_for_update().filter(status__in=DISPUTE_OPEN):
        dispute.status = DisputeStatus.WITHDRAWN
        dispute.withdrawn_by_party = party
        dispute.save(update_fields=["status", "withdrawn_by_party"])
    case.close_reason = reason
    _set_status(case, RefundStatus.CLOSED, actor=actor, deadline_seconds=None, reason=reason)
    _event(case, actor=actor, party=party, action="close", text=text)
    _resume_auto_confirm(case.order)
    _notify_buyer(case, "refund_closed", reason=english_label(case.close_reason_label))


@transaction.atomic
def refund_cancel(*, buyer: User, case_id: Any) -> RefundCase:
    """The buyer withdraws the request (also ending any platform intervention)."""
    case = lock_case(case_id=case_id, buyer_id=buyer.pk)
    if not case.is_open:
        raise _status_error(case, _("This request is already finished."))
    _close(case, actor=buyer, party=Party.BUYER, reason=CaseCloseReason.BUYER_CANCELLED)
    return case


@transaction.atomic
def refund_return_ship(*, buyer: User, case_id: Any, carrier: Any, tracking_no: Any) -> RefundCase:
    """The buyer ships the goods back (carrier + tracking number)."""
    case = lock_case(case_id=case_id, buyer_id=buyer.pk)
    if case.status != RefundStatus.WAIT_BUYER_RETURN_GOODS:
        raise _status_error(case, _("The shop has not asked for the goods back."))
    case.return_carrier = clean_text(carrier, field="carrier", max_length=40)
    case.return_tracking_no = clean_text(tracking_no, field="tracking_no", max_length=40)
    case.returned_at = clock.now()
    _set_status(
        case,
        RefundStatus.WAIT_SELLER_CONFIRM_GOODS,
        actor=buyer,
        deadline_seconds=rule("refund_seller_confirm_goods_seconds"),
    )
    _event(
        case,
        actor=buyer,
        party=Party.BUYER,
        action="return_ship",
        text=f"{case.return_carrier} {case.return_tracking_no}",
    )
    _notify_seller(
        case,
        "refund_return_shipped",
        carrier=case.return_carrier,
        tracking=case.return_tracking_no,
    )
    return case


# --- seller: agree, refuse, confirm the returned goods ----------------------------------------


def return_address_default(shop_id: int) -> str:
    """Where returns go when the seller gives no address (its silence agreed): the address
    it gave last time, else the shop's city and name."""
    last = (
        RefundCase.objects.filter(shop_id=shop_id)
        .exclude(return_address="")
        .order_by("-agreed_at", "-pk")
        .values_list("return_address", flat=True)
        .first()
    )
    if last:
        return last
    shop = Shop.objects.get(pk=shop_id)
    return f"{shop.province}{shop.city} {shop.name}".strip()


def _seller_case(actor: User, case_id: Any) -> RefundCase:
    membership = shop_require(actor, "refund.handle")
    return lock_case(case_id=case_id, shop_id=membership.shop_id)


def _agree(case: RefundCase, *, actor: Any, party: str, return_address: str = "") -> None:
    """Seller agreement (or its silence): refund at once, or ask for the goods back."""
    case.agreed_at = clock.now()
    if case.kind == RefundKind.REFUND_ONLY:
        _event(case, actor=actor, party=party, action="agree")
        _succeed(case, amount=case.amount_fen, actor=actor, party=party)
        return
    case.return_address = return_address
    _set_status(
        case,
        RefundStatus.WAIT_BUYER_RETURN_GOODS,
        actor=actor,
        deadline_seconds=rule("refund_buyer_return_seconds"),
    )
    _event(case, actor=actor, party=party, action="agree", text=return_address)
    _notify_buyer(
        case,
        "refund_agreed",
        address=return_address or "-",
        days=rule("refund_buyer_return_seconds") // 86400,
    )


@transaction.atomic
def refund_agree(*, actor: User, case_id: Any, return_address: Any = "") -> RefundCase:
    case = _seller_case(actor, case_id)
    if case.status != RefundStatus.WAIT_SELLER_AGREE:
        raise _status_error(case, _("This request is not waiting for your answer."))
    address = ""
    if case.kind != RefundKind.REFUND_ONLY:
        address = clean_text(return_address, field="return_address", max_length=200)
    _agree(case, actor=actor, party=Party.SELLER, return_address=address)
    return case


def _refuse(case: RefundCase, *, actor: User, reason: Any, images: Any, action: str) -> None:
    case.refuse_reason = clean_text(reason, field="reason", max_length=DESCRIPTION_LENGTH_MAX)
    images = _images_clean(images)
    _set_status(
        case,
        RefundStatus.SELLER_REFUSE_BUYER,
        actor=actor,
        deadline_seconds=rule("refund_buyer_escalate_seconds"),
        reason=case.refuse_reason,
    )
    _event(
        case, actor=actor, party=Party.SELLER, action=action, text=case.refuse_reason, images=images
    )
    _notify_buyer(case, "refund_refused", reason=case.refuse_reason, deadline=_deadline_text(case))


@transaction.atomic
def refund_refuse(*, actor: User, case_id: Any, reason: Any, images: Any = None) -> RefundCase:
    """The seller refuses the request, with a reason (and evidence)."""
    case = _seller_case(actor, case_id)
    if case.status != RefundStatus.WAIT_SELLER_AGREE:
        raise _status_error(case, _("This request is not waiting for your answer."))
    _refuse(case, actor=actor, reason=reason, images=images, action="refuse")
    return case


@transaction.atomic
def refund_goods_refuse(
    *, actor: User, case_id: Any, reason: Any, images: Any = None
) -> RefundCase:
    """The seller refuses the returned goods (not received, damaged, not the item)."""
    case = _seller_case(actor, case_id)
    if case.status != RefundStatus.WAIT_SELLER_CONFIRM_GOODS:
        raise _status_error(case, _("No returned goods are waiting for you."))
    _refuse(case, actor=actor, reason=reason, images=images, action="goods_refuse")
    return case


@transaction.atomic
def refund_goods_confirm(
    *, actor: User, case_id: Any, carrier: Any = "", tracking_no: Any = ""
) -> RefundCase:
    """The seller confirms the returned goods: the refund is paid; for an exchange the
    replacement ships (carrier + tracking number) and any price difference is refunded."""
    case = _seller_case(actor, case_id)
    if case.status != RefundStatus.WAIT_SELLER_CONFIRM_GOODS:
        raise _status_error(case, _("No returned goods are waiting for you."))
    if case.kind == RefundKind.EXCHANGE:
        case.exchange_carrier = clean_text(carrier, field="carrier", max_length=40)
        case.exchange_tracking_no = clean_text(tracking_no, field="tracking_no", max_length=40)
        stock_take([(case.exchange_sku_id, case.line.quantity)])
        _event(
            case,
            actor=actor,
            party=Party.SELLER,
            action="exchange_ship",
            text=f"{case.exchange_carrier} {case.exchange_tracking_no}",
        )
        _notify_buyer(
            case,
            "exchange_shipped",
            carrier=case.exchange_carrier,
            tracking=case.exchange_tracking_no,
        )
    else:
        _event(case, actor=actor, party=Party.SELLER, action="goods_confirm")
    _succeed(case, amount=case.amount_fen, actor=actor, party=Party.SELLER)
    return case


# --- money: the refund itself -----------------------------------------------------------------


def _succeed(case: RefundCase, *, amount: int, actor: Any, party: str) -> None:
    """Pay ``amount`` back to the buyer (if any) and finish the case. Order and lines are
    locked by the caller (lock_case)."""
    # Never more than the line can still give back (an advance or another refund may have
    # taken part of it since the request).
    line = OrderLine.objects.get(pk=case.line_id)
    amount = min(amount, line_refundable_fen(case.order, line))
    if amount:
        _refund_pay(case, amount)
    _set_status(case, RefundStatus.SUCCESS, actor=actor, deadline_seconds=None)
    if amount:
        _event(case, actor=None, party=Party.SYSTEM, action="refunded", text=format_fen(amount))
        _notify_buyer(case, "refund_succeeded", amount=format_fen(amount))
    order = case.order
    if order.refunded_fen == order.total_fen and order.status != OrderStatus.TRADE_CLOSED:
        _order_close_refunded(order, actor=actor)
    else:
        _resume_auto_confirm(order)


def _refund_pay(case: RefundCase, amount: int) -> None:
    order = case.order
    line = OrderLine.objects.get(pk=case.line_id)  # locked by lock_case
    line_part = min(amount, line.paid_fen - line.refunded_fen)
    shipping_part = amount - line_part
    invariant(
        shipping_part <= order.shipping_fen - order.shipping_refunded_fen,
        f"case {case.pk}: refund above what the line and postage allow",
    )
    invariant(
        0 < amount <= order.total_fen - order.refunded_fen,
        f"case {case.pk}: refund above what the order holds",
    )
    # Locks before any ledger account: the stock (never shipped, the line fully refunded:
    # it goes back) and, after release, the shop's money (see shop_money_lock).
    if (
        order.shipped_at is None
        and line.stock_held
        and line.refunded_fen + line_part >= line.paid_fen
    ):
        stock_return([(line.sku_id, line.quantity)])
        OrderLine.objects.filter(pk=line.pk).update(stock_held=False)
    if order.status in RELEASED_STATUSES:
        shop_money_lock(order.shop_id)
    escrow = escrow_account(order.pk)
    if order.status in RELEASED_STATUSES:
        # Released: the platform returns its commission share and pays the seller's share,
        # recovering it from the shop; both into escrow, then one refund out.
        kept_commission = commission_fen(
            paid_fen=line.paid_fen - line.refunded_fen - line_part, rate_bp=line.commission_rate_bp
        )
        commission_back = max(0, line.commission_fen - kept_commission)
        seller_share = amount - commission_back
        invariant(seller_share >= 0, f"case {case.pk}: commission share above the refund")
        if commission_back:
            transfer_create(
                debit=commission_account(),
                credit=escrow,
                amount=commission_back,
                kind="commission_return",
                idempotency_key=f"commission_return:case:{case.pk}",
                order_id=order.pk,
            )
        if seller_share:
            shop_charge(
                shop_id=order.shop_id,
                amount_fen=seller_share,
                kind=DebtKind.REFUND_AFTER_RELEASE,
                credit=escrow,
                transfer_kind="clawback",
                idempotency_key=f"clawback:case:{case.pk}",
                order_id=order.pk,
                note=f"case {case.pk}",
            )
        line.commission_fen = kept_commission
        order.commission_fen -= commission_back
        order.released_fen -= seller_share
    transfer_create(
        debit=escrow,
        credit=wallet_account(order.buyer_id),
        amount=amount,
        kind="refund",
        idempotency_key=f"refund:case:{case.pk}",
        order_id=order.pk,
    )
    line.refunded_fen += line_part
    line.save(update_fields=["refunded_fen", "commission_fen"])
    order.refunded_fen += amount
    order.shipping_refunded_fen += shipping_part
    order.save(
        update_fields=["refunded_fen", "shipping_refunded_fen", "commission_fen", "released_fen"]
    )
    case.refunded_fen = amount
    case.save(update_fields=["refunded_fen"])
    escrow.refresh_from_db()
    if order.status in RELEASED_STATUSES:
        invariant(escrow.balance == 0, f"escrow of released order {order.pk} not empty")
    else:
        invariant(
            escrow.balance == order.total_fen - order.refunded_fen,
            f"escrow of order {order.pk} disagrees with its refunds",
        )


def _order_close_refunded(order: Order, *, actor: Any) -> None:
    """Everything came back to the buyer: the order is TRADE_CLOSED, its timers stop and any
    other open request on it has nothing left to ask for."""
    before = order.status
    order.status = OrderStatus.TRADE_CLOSED
    order.closed_at = clock.now()
    order.close_reason = "fully_refunded"
    order.ship_deadline = None
    order.confirm_deadline = None
    order.confirm_paused_seconds = None
    order.save()
    audit_record(
        actor=actor,
        action="order.status",
        obj=order,
        before={"status": before},
        after={"status": order.status},
        reason=order.close_reason,
    )
    others = RefundCase.objects.select_for_update().filter(
        order_id=order.pk, status__in=OPEN_STATUSES
    )
    for other in others.order_by("pk"):
        other.order = order
        for dispute in other.disputes.select_for_update().filter(status__in=DISPUTE_OPEN):
            dispute.status = DisputeStatus.WITHDRAWN  # nothing is left to rule on
            dispute.withdrawn_by_party = Party.SYSTEM
            dispute.save(update_fields=["status", "withdrawn_by_party"])
        other.close_reason = CaseCloseReason.ORDER_CLOSED
        _set_status(other, RefundStatus.CLOSED, actor=None, deadline_seconds=None)


# --- messages and evidence --------------------------------------------------------------------


def _party_of(actor: User, case: RefundCase) -> str:
    """Which side the actor is on in this case; NotFound for anyone else."""
    from jishi.accounts.permissions import operator_can
    from jishi.shops.permissions import membership_of

    if case.buyer_id == actor.pk:
        return Party.BUYER
    membership = membership_of(actor)
    if membership is not None and membership.shop_id == case.shop_id:
        shop_require(actor, "refund.handle")
        return Party.SELLER
    if operator_can(actor, "dispute.rule"):
        return Party.OPERATOR
    raise NotFound(message=_("After-sales request not found."))


@transaction.atomic
def case_message_add(*, actor: User, case_id: Any, text: Any, images: Any = None) -> CaseEvent:
    """Add a message (and images) to the case history. While the platform is involved it
    counts as evidence; after the evidence phase only the operator may add to it."""
    case = lock_case(case_id=case_id)
    party = _party_of(actor, case)
    text = clean_text(text, field="text", max_length=MESSAGE_LENGTH_MAX)
    images = _images_clean(images)
    if not case.is_open and party != Party.OPERATOR:
        raise _status_error(case, _("This request is finished."))
    dispute = case.disputes.filter(status__in=DISPUTE_OPEN).first()
    if dispute and party != Party.OPERATOR and dispute.evidence_over:
        raise DomainError(
            AftersalesError.DISPUTE_STATUS_INVALID,
            _("The evidence phase is over; the platform is deciding."),
        )
    return _event(
        case,
        actor=actor,
        party=party,
        action="evidence" if dispute else "message",
        text=text,
        images=images,
        evidence=dispute is not None,
    )


# --- platform intervention --------------------------------------------------------------------


@transaction.atomic
def dispute_open(*, actor: User, case_id: Any, reason: Any) -> Dispute:
    """After a refusal, the buyer (or the seller) asks the platform to step in."""
    case = lock_case(case_id=case_id)
    party = _party_of(actor, case)
    if party not in (Party.BUYER, Party.SELLER):
        raise NotFound(message=_("After-sales request not found."))
    if case.status != RefundStatus.SELLER_REFUSE_BUYER:
        raise DomainError(
            AftersalesError.DISPUTE_NOT_ALLOWED,
            _("The platform can step in only after the seller refused."),
            status=case.status,
        )
    if case.disputes.filter(status__in=DISPUTE_OPEN).exists():
        raise Conflict(
            AftersalesError.DISPUTE_NOT_ALLOWED, _("The platform is already handling this case.")
        )
    reason = clean_text(reason, field="reason", max_length=DESCRIPTION_LENGTH_MAX)
    dispute = Dispute.objects.create(
        case=case, opened_by=actor, opened_by_party=party, reason=reason
    )
    case.deadline = None  # the escalation timer stops while the platform handles it
    case.updated_at = clock.now()
    case.save(update_fields=["deadline", "updated_at"])
    audit_record(
        actor=actor,
        action="dispute.open",
        obj=dispute,
        after={"status": dispute.status, "case": case.pk, "party": party},
    )
    _event(case, actor=actor, party=party, action="dispute_open", text=reason, evidence=True)
    _notify_buyer(case, "dispute_opened")
    _notify_seller(case, "dispute_opened")
    return dispute


@transaction.atomic
def dispute_withdraw(*, actor: User, dispute_id: Any, return_address: Any = "") -> Dispute:
    """Either side ends the intervention before the ruling. The buyer withdrawing closes the
    request; the seller withdrawing means the seller now agrees to it (for goods that must
    come back, to ``return_address``, by default the shop's usual one)."""
    dispute = lock_dispute(dispute_id=dispute_id)
    case = dispute.case
    party = _party_of(actor, case)
    if party not in (Party.BUYER, Party.SELLER):
        raise NotFound(message=_("Case not found."))
    if not dispute.is_open:
        raise Conflict(
            AftersalesError.DISPUTE_STATUS_INVALID, _("This case was already decided or ended.")
        )
    dispute.status = DisputeStatus.WITHDRAWN
    dispute.withdrawn_by_party = party
    dispute.save(update_fields=["status", "withdrawn_by_party"])
    audit_record(actor=actor, action="dispute.withdraw", obj=dispute, after={"party": party})
    _event(case, actor=actor, party=party, action="dispute_withdraw")
    _notify_buyer(case, "dispute_withdrawn")
    _notify_seller(case, "dispute_withdrawn")
    if party == Party.BUYER:
        _close(case, actor=actor, party=party, reason=CaseCloseReason.BUYER_CANCELLED)
    else:
        address = clean_text(
            return_address, field="return_address", max_length=200, required=False
        ) or (case.return_address or return_address_default(case.shop_id))
        if case.returned_at is not None and case.kind != RefundKind.REFUND_ONLY:
            # The goods are already back: the seller's withdrawal accepts them.
            if case.kind == RefundKind.EXCHANGE:
                case.amount_fen = case.line.paid_fen - case.line.refunded_fen
                case.save(update_fields=["amount_fen"])
            _succeed(case, amount=case.amount_fen, actor=actor, party=party)
        else:
            _agree(case, actor=actor, party=party, return_address=address)
    return dispute


@transaction.atomic
def dispute_take(*, operator: User, dispute_id: Any) -> Dispute:
    """An operator takes the case; the evidence phase (3 days) starts for both sides."""
    operator_require(operator, "dispute.rule")
    dispute = lock_dispute(dispute_id=dispute_id)
    if dispute.status != DisputeStatus.REQUESTED:
        raise Conflict(
            AftersalesError.DISPUTE_STATUS_INVALID, _("This case was already taken or ended.")
        )
    dispute.status = DisputeStatus.EVIDENCE
    dispute.operator = operator
    dispute.evidence_deadline = clock.now() + timedelta(seconds=rule("dispute_evidence_seconds"))
    dispute.save(update_fields=["status", "operator", "evidence_deadline"])
    audit_record(
        actor=operator, action="dispute.take", obj=dispute, after={"status": dispute.status}
    )
    case = dispute.case
    _event(case, actor=operator, party=Party.OPERATOR, action="dispute_take")
    deadline = formats.date_format(timezone.localtime(dispute.evidence_deadline), "Y-m-d H:i")
    _notify_buyer(case, "dispute_evidence", deadline=deadline)
    _notify_seller(case, "dispute_evidence", deadline=deadline)
    return dispute


@transaction.atomic
def dispute_rule(
    *,
    operator: User,
    dispute_id: Any,
    decision: Any,
    reason: Any,
    amount_fen: Any = None,
    not_as_described: bool = False,
) -> Dispute:
    """The operator rules after the evidence phase: for the buyer (a full or partial refund,
    paid at once) or for the seller (the request closes and auto-confirm resumes)."""
    operator_require(operator, "dispute.rule")
    dispute = lock_dispute(dispute_id=dispute_id)
    case = dispute.case
    if dispute.status in (DisputeStatus.RULED_BUYER, DisputeStatus.RULED_SELLER):
        raise Conflict(AftersalesError.DISPUTE_STATUS_INVALID, _("This case was already ruled."))
    if dispute.status != DisputeStatus.EVIDENCE:
        raise DomainError(
            AftersalesError.DISPUTE_STATUS_INVALID,
            _("Take the case and let the evidence phase run first."),
            status=dispute.status,
        )
    if not dispute.evidence_over:
        raise DomainError(
            AftersalesError.EVIDENCE_PHASE_OPEN,
            _("The evidence phase is still open until %(time)s.")
            % {
                "time": formats.date_format(
                    timezone.localtime(dispute.evidence_deadline), "Y-m-d H:i"
                )
            },
        )
    reason = clean_text(reason, field="reason", max_length=1000)
    if decision == "buyer":
        order = case.order
        order._prefetched_objects_cache = {"lines": lock_lines(orders=[order])}
        line = OrderLine.objects.select_related("product").get(pk=case.line_id)
        refundable = line_refundable_fen(order, line)
        if refundable <= 0:
            raise DomainError(
                AftersalesError.AMOUNT_INVALID, _("Nothing is left to refund on this item.")
            )
        try:
            amount = clean_int(amount_fen, field="amount_fen", minimum=1, maximum=refundable)
        except DomainError as exc:
            raise field_error(
                "amount_fen",
                _("Refund ¥0.01 to ¥%(max)s.") % {"max": format_fen(refundable)},
                AftersalesError.AMOUNT_INVALID,
            ) from exc
        dispute.status = DisputeStatus.RULED_BUYER
        dispute.ruling_amount_fen = amount
        dispute.not_as_described = bool(not_as_described)
    elif decision == "seller":
        dispute.status = DisputeStatus.RULED_SELLER
    else:
        raise field_error("decision", _("Rule for the buyer or for the seller."))
    dispute.ruling_reason = reason
    dispute.ruled_by = operator
    dispute.ruled_at = clock.now()
    dispute.save()
    audit_record(
        actor=operator,
        action="dispute.rule",
        obj=dispute,
        after={
            "status": dispute.status,
            "amount_fen": dispute.ruling_amount_fen,
            "not_as_described": dispute.not_as_described,
        },
        reason=reason,
    )
    _event(case, actor=operator, party=Party.OPERATOR, action=dispute.status, text=reason)
    ruling = {"outcome": english_label(DisputeStatus(dispute.status).label), "reason": reason}
    if dispute.status == DisputeStatus.RULED_BUYER:
        _succeed(case, amount=dispute.ruling_amount_fen, actor=operator, party=Party.OPERATOR)
        if dispute.not_as_described:
            violation_record(
                actor=None,
                shop_id=case.shop_id,
                kind=ViolationKind.NOT_AS_DESCRIBED,
                order_id=case.order_id,
                case_id=case.pk,
                note=reason,
            )
    else:
        case.close_reason = CaseCloseReason.RULED_FOR_SELLER
        _set_status(case, RefundStatus.CLOSED, actor=operator, deadline_seconds=None)
        _resume_auto_confirm(case.order)
    _notify_buyer(case, "dispute_ruled", **ruling)
    _notify_seller(case, "dispute_ruled", **ruling)
    return dispute


# --- advance compensation (先行垫付) ----------------------------------------------------------


def advance_limit_fen(order: Order) -> int:
    """The most advance compensation can still pay on an order. It is recovered from the
    seller in full, so never more than the seller got from this order."""
    return max(0, min(order.total_fen - order.refunded_fen, order.released_fen))


@transaction.atomic
def advance_pay(
    *, operator: User, order_id: Any, amount_fen: Any, reason: Any, idempotency_key: str = ""
) -> Order:
    """The platform pays the buyer at once from its own funds and recovers the amount from
    the shop (available balance, then deposit, then next income). For orders whose money was
    already released; before that the escrow still holds it and a ruling refunds from it."""
    operator_require(operator, "advance.pay")
    order = lock_order(order_id=order_id)
    if idempotency_key:  # a retry of a paid advance answers before any check can refuse it
        key = f"advance:order:{order.pk}:" + scoped_idempotency_key(operator.pk, idempotency_key)
        if ShopDebt.objects.filter(idempotency_key=key).exists():
            return order
    if order.status != OrderStatus.TRADE_FINISHED:
        raise DomainError(
            AftersalesError.ADVANCE_NOT_ALLOWED,
            _("Advance compensation is for completed orders; rule on the case instead."),
            status=order.status,
        )
    remaining = advance_limit_fen(order)
    if remaining <= 0:
        raise DomainError(AftersalesError.ADVANCE_NOT_ALLOWED, _("Nothing is left to refund."))
    try:
        amount = clean_int(amount_fen, field="amount_fen", minimum=1, maximum=remaining)
    except DomainError as exc:
        raise field_error(
            "amount_fen",
            _("Pay ¥0.01 to ¥%(max)s.") % {"max": format_fen(remaining)},
            AftersalesError.AMOUNT_INVALID,
        ) from exc
    reason = clean_text(reason, field="reason", max_length=200)
    if not idempotency_key:
        count = ShopDebt.objects.filter(order_id=order.pk, kind=DebtKind.ADVANCE).count()
        key = f"advance:order:{order.pk}:{count + 1}"
    shop_charge(
        shop_id=order.shop_id,
        amount_fen=amount,
        kind=DebtKind.ADVANCE,
        credit=wallet_account(order.buyer_id),
        transfer_kind="advance",
        idempotency_key=key,
        order_id=order.pk,
        note=reason,
    )
    order.refunded_fen += amount
    order.released_fen -= amount
    if order.refunded_fen == order.total_fen:
        _order_close_refunded(order, actor=operator)
    else:
        order.save(update_fields=["refunded_fen", "released_fen"])
    audit_record(
        actor=operator,
        action="order.advance",
        obj=order,
        after={"amount_fen": amount},
        reason=reason,
    )
    notify(
        user=order.buyer,
        kind="advance_paid",
        link=f"/orders/{order.pk}/",
        params={"order": order.pk, "amount": format_fen(amount)},
    )
    notify(
        user=order.shop.owner,
        kind="shop_charged",
        link="/seller/violations/",
        params={"order": order.pk, "amount": format_fen(amount), "reason": reason},
    )
    return order


# --- timer actions (called by aftersales.timers with the case locked) -------------------------


def case_timeout(*, case: RefundCase) -> RefundCase:
    """The party whose turn it was stayed silent: the rule of PRODUCT.md decides."""
    if case.status == RefundStatus.WAIT_SELLER_AGREE:  # silence = agree
        address = case.return_address or return_address_default(case.shop_id)
        _agree(case, actor=None, party=Party.SYSTEM, return_address=address)
    elif case.status == RefundStatus.WAIT_BUYER_RETURN_GOODS:
        _close(case, actor=None, party=Party.SYSTEM, reason=CaseCloseReason.RETURN_NOT_SHIPPED)
    elif case.status == RefundStatus.WAIT_SELLER_CONFIRM_GOODS:  # silence = refund
        amount = case.amount_fen
        if case.kind == RefundKind.EXCHANGE:  # no replacement came: the item is refunded
            amount = case.line.paid_fen - case.line.refunded_fen
            case.amount_fen = amount
            case.save(update_fields=["amount_fen"])
        _event(case, actor=None, party=Party.SYSTEM, action="goods_timeout")
        _succeed(case, amount=amount, actor=None, party=Party.SYSTEM)
    elif case.status == RefundStatus.SELLER_REFUSE_BUYER:
        _close(case, actor=None, party=Party.SYSTEM, reason=CaseCloseReason.NOT_ESCALATED)
    return case
