"""After-sales API: refund, return and exchange requests (售后) on order lines, the seller's
answers, platform intervention (平台介入) with its evidence phase and ruling, advance
compensation (先行垫付), shop violations, debts and the deposit.

Three audiences, one router: the buyer (``/aftersales/cases…``), shop staff
(``/aftersales/seller/…``, the ``refund.handle`` permission to act) and operators
(``/aftersales/console/…``). Messages, evidence and platform intervention are shared
endpoints: the service works out whether the caller is the buyer, the shop or the platform.

Money is integer fen. Moving money accepts an ``Idempotency-Key`` header (see
jishi.core.idempotency): the seller agreeing and confirming returned goods, a seller
withdrawing a dispute (which agrees), a ruling, advance compensation and the deposit.
"""

from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, File, Form, Router, Schema, UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.aftersales import selectors, services
from jishi.aftersales.errors import AftersalesError
from jishi.aftersales.models import RefundKind, RefundReason, RefundStatus
from jishi.console import selectors as console_selectors
from jishi.core.errors import Conflict, NotFound
from jishi.core.idempotency import idempotent, service_key
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Count,
    Fen,
    Id,
    Text,
    acting_user,
    auth_errors,
    file_url,
)
from jishi.orders.api import ConsoleOrderOut, OrderLineOut
from jishi.payments import seller_selectors
from jishi.payments import services as payment_services
from jishi.shops.models import ViolationKind
from jishi.shops.services import violation_record

router = Router(tags=["aftersales"])


# --- schemas ----------------------------------------------------------------------------------


class Choice(Schema):
    code: str
    label: str


class CaseImageOut(Schema):
    id: int
    url: str | None

    @staticmethod
    def resolve_url(obj) -> str | None:
        return file_url(obj.file)


class CaseEventOut(Schema):
    """One entry of the case history (协商历史), read by both sides and the platform."""

    id: int
    party: str = Field(description="buyer, seller, operator or system.")
    party_label: str
    action: str = Field(
        description="request, revise, agree, refuse, return_ship, goods_confirm, "
        "goods_refuse, exchange_ship, message, evidence, dispute_open, dispute_take, "
        "dispute_withdraw, ruled_buyer, ruled_seller, refunded, close, goods_timeout…"
    )
    text: str
    is_evidence: bool
    images: list[CaseImageOut]
    created_at: datetime

    @staticmethod
    def resolve_party_label(obj) -> str:
        return str(obj.get_party_display())

    @staticmethod
    def resolve_images(obj) -> list[Any]:
        return list(obj.images.all())


class DisputeOut(Schema):
    """Platform intervention on a case (TOP cs_status)."""

    id: int
    case_id: int
    status: str = Field(description="requested, evidence, ruled_buyer, ruled_seller, withdrawn.")
    status_label: str
    opened_by_party: str
    reason: str
    evidence_deadline: datetime | None = Field(
        description="Both sides may add evidence until then; the ruling comes after it."
    )
    ruling_amount_fen: int
    ruling_reason: str
    not_as_described: bool
    ruled_at: datetime | None
    withdrawn_by_party: str
    created_at: datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())


class CaseOut(Schema):
    """An after-sales request as its buyer sees it."""

    id: int
    order_id: int
    line_id: int
    line: OrderLineOut
    shop_id: int
    shop_name: str
    kind: str = Field(
        description="refund_only (仅退款), return_refund (退货退款) or exchange (换货)."
    )
    kind_label: str
    status: str = Field(
        description="WAIT_SELLER_AGREE, WAIT_BUYER_RETURN_GOODS, WAIT_SELLER_CONFIRM_GOODS, "
        "SELLER_REFUSE_BUYER, SUCCESS or CLOSED."
    )
    status_label: str
    reason: str
    reason_label: str
    description: str
    amount_fen: int = Field(description="Asked back (for an exchange: the price difference).")
    refunded_fen: int = Field(description="Paid back when the case succeeded.")
    shipped_when_requested: bool
    exchange_sku_id: int | None
    exchange_spec_label: str
    refuse_reason: str
    return_address: str
    return_carrier: str
    return_tracking_no: str
    exchange_carrier: str
    exchange_tracking_no: str
    deadline: datetime | None = Field(
        description="When the timer of the current status fires (see docs/api.md)."
    )
    time_left_seconds: int | None
    close_reason: str
    close_reason_label: str
    created_at: datetime
    updated_at: datetime
    agreed_at: datetime | None
    returned_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_reason_label(obj) -> str:
        return str(obj.get_reason_display())

    @staticmethod
    def resolve_exchange_spec_label(obj) -> str:
        return obj.exchange_sku.spec_label if obj.exchange_sku_id else ""

    @staticmethod
    def resolve_time_left_seconds(obj) -> int | None:
        return selectors.case_time_left_seconds(obj)


class _CaseHistory(Schema):
    events: list[CaseEventOut] = Field(description="The history, oldest first.")
    dispute: DisputeOut | None = Field(description="The open intervention, else the latest.")

    @staticmethod
    def resolve_events(obj) -> list[Any]:
        return list(selectors.case_events(case=obj))

    @staticmethod
    def resolve_dispute(obj) -> Any:
        return selectors.case_dispute(case=obj)


class CaseDetailOut(_CaseHistory, CaseOut):
    pass


class SellerCaseOut(CaseOut):
    """A case as the shop's staff see it: with the buyer."""

    buyer_id: int
    buyer_username: str

    @staticmethod
    def resolve_buyer_username(obj) -> str:
        return obj.buyer.username


class SellerCaseDetailOut(_CaseHistory, SellerCaseOut):
    return_address_default: str = Field(
        description="The address a return goes to when ``return_address`` is left out."
    )

    @staticmethod
    def resolve_return_address_default(obj) -> str:
        return services.return_address_default(obj.shop_id)


class ExchangeSkuOut(Schema):
    id: int
    spec_label: str
    price_fen: int
    stock: int


class OptionsOut(Schema):
    """What the buyer may ask for on one order line."""

    order_id: int
    line_id: int
    allowed: bool = Field(
        description="After-sales is possible on the order now (see also open_case_id and "
        "requests_left)."
    )
    kinds: list[Choice]
    reasons: dict[str, list[Choice]] = Field(description="The reasons allowed per kind.")
    refundable_fen: int = Field(description="The most a request may ask back.")
    no_reason_return: bool = Field(description="7-day no-reason return applies.")
    open_case_id: int | None = Field(description="The line's open request, if any.")
    requests_left: int = Field(description="How many more requests the line may take.")
    exchange_skus: list[ExchangeSkuOut]


class CaseCreateIn(Schema):
    order_id: Id
    line_id: Id
    kind: RefundKind
    reason: RefundReason
    amount_fen: Fen | None = Field(
        None, description="Refund kinds: 1 to refundable_fen. Ignored for an exchange."
    )
    description: Text = ""
    exchange_sku_id: Id | None = Field(None, description="Exchange: the replacement SKU.")


class CaseReviseIn(Schema):
    """Fields left out keep their value."""

    kind: RefundKind | None = None
    reason: RefundReason | None = None
    amount_fen: Fen | None = None
    description: Text | None = None


class ShipmentIn(Schema):
    carrier: Text
    tracking_no: Text


class MessageIn(Schema):
    text: Text


class DisputeOpenIn(Schema):
    reason: Text


class WithdrawIn(Schema):
    return_address: Text = Field(
        "", description="A seller withdrawing agrees; goods come back here (default: usual)."
    )


class AgreeIn(Schema):
    return_address: Text = Field("", description="Returns and exchanges: where to send the goods.")


class ReasonIn(Schema):
    reason: Text


class GoodsConfirmIn(Schema):
    carrier: Text = Field("", description="Exchange: the replacement's carrier.")
    tracking_no: Text = Field("", description="Exchange: the replacement's tracking number.")


class ViolationOut(Schema):
    id: int
    shop_id: int
    kind: str
    kind_label: str
    points: int
    order_id: int | None
    case_id: int | None
    compensation_fen: int = Field(description="Paid to the buyer (late shipment).")
    note: str
    created_at: datetime

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class ConsoleViolationOut(ViolationOut):
    shop_name: str
    created_by_id: int | None

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class ViolationIn(Schema):
    shop_id: Id
    kind: ViolationKind
    points: Count | None = Field(None, description="Default: the platform's points per kind.")
    order_id: Id | None = None
    note: Text


class DebtOut(Schema):
    """Money the platform paid on the shop's behalf and recovers from it (应收)."""

    id: int
    order_id: int | None
    kind: str
    kind_label: str
    amount_fen: int
    recovered_fen: int
    outstanding_fen: int
    note: str
    created_at: datetime
    settled_at: datetime | None

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class DepositIn(Schema):
    amount_fen: Fen
    pin: Text
    source: Literal["wallet", "shop"] = Field(
        "wallet", description="The owner's wallet or the shop's available balance."
    )


class DepositOut(Schema):
    transfer_id: int
    amount_fen: int
    deposit_fen: int = Field(description="The shop's deposit after this payment.")
    owed_fen: int = Field(description="What the shop still owes the platform.")
    available_fen: int


class CaseCountsOut(Schema):
    todo: int
    open: int
    dispute: int
    done: int


class DisputeCountsOut(Schema):
    requested: int
    evidence: int
    ready: int
    ruled: int
    withdrawn: int


class ConsoleDisputeOut(DisputeOut):
    operator_id: int | None
    operator_username: str | None
    ruled_by_id: int | None
    case: SellerCaseOut

    @staticmethod
    def resolve_operator_username(obj) -> str | None:
        return obj.operator.username if obj.operator_id else None


class ConsoleDisputeDetailOut(ConsoleDisputeOut):
    events: list[CaseEventOut]
    order: ConsoleOrderOut = Field(description="The order with its shipping and transfers.")
    shop_violation_points: int = Field(description="The shop's penalty points of the last year.")

    @staticmethod
    def resolve_events(obj) -> list[Any]:
        return list(selectors.case_events(case=obj.case))

    @staticmethod
    def resolve_shop_violation_points(obj) -> int:
        return selectors.shop_violation_points(shop_id=obj.case.shop_id)


class RuleIn(Schema):
    decision: Literal["buyer", "seller"]
    reason: Text
    amount_fen: Fen | None = Field(None, description="For the buyer: what to refund.")
    not_as_described: bool = Field(
        False, description="For the buyer: the item was not as described (a shop violation)."
    )


class AdvanceIn(Schema):
    amount_fen: Fen
    reason: Text


CASE_ERRORS = auth_errors(400, 404, 409)
SELLER_ERRORS = auth_errors(400, 403, 404, 409)
CONSOLE_ERRORS = auth_errors(400, 403, 404, 409)


# --- helpers ----------------------------------------------------------------------------------


def _case(request: HttpRequest, case_id: int):
    return selectors.case_get_for_buyer(buyer=acting_user(request), case_id=case_id)


def _seller_case(request: HttpRequest, case_id: int):
    return selectors.case_get_for_shop(actor=acting_user(request), case_id=case_id)


def _case_of_either_side(request: HttpRequest, case_id: int):
    """The case when the caller is its buyer or works for its shop; else it looks missing."""
    actor = acting_user(request)
    try:
        return selectors.case_get_for_buyer(buyer=actor, case_id=case_id)
    except NotFound:
        pass
    try:
        return selectors.case_get_for_shop(actor=actor, case_id=case_id)
    except NotFound:
        raise NotFound(message=_("After-sales request not found.")) from None


def _console_dispute(request: HttpRequest, dispute_id: int):
    """A dispute with its order (and the order's transfers) for the ruling page."""
    actor = acting_user(request)
    dispute = selectors.dispute_get_for_console(actor=actor, dispute_id=dispute_id)
    order = console_selectors.order_get_for_console(actor=actor, order_id=dispute.case.order_id)
    order.transfers = list(
        console_selectors.order_transfers_for_console(actor=actor, order_id=order.pk)
    )
    dispute.order = order
    return dispute


def _console_order(request: HttpRequest, order_id: int):
    actor = acting_user(request)
    order = console_selectors.order_get_for_console(actor=actor, order_id=order_id)
    order.transfers = list(
        console_selectors.order_transfers_for_console(actor=actor, order_id=order.pk)
    )
    return order


def _choices(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"code": str(code), "label": str(label)} for code, label in pairs]


# --- buyer ------------------------------------------------------------------------------------


@router.get("/cases", response={200: list[CaseOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def case_list(request: HttpRequest, status: RefundStatus | None = None, open: bool = False):
    """The buyer's after-sales requests, newest first; ``open=true`` keeps those still open,
    ``status`` one status."""
    qs = selectors.cases_for_buyer(buyer=acting_user(request), status="open" if open else "")
    return qs.filter(status=status) if status else qs


@router.get(
    "/orders/{order_id}/lines/{line_id}/options",
    response={200: OptionsOut, **auth_errors(404)},
)
def case_options(request: HttpRequest, order_id: Id, line_id: Id):
    """What the buyer may ask for on an order line: kinds, reasons per kind, the most that
    can be refunded, exchange options, and the line's open request if there is one."""
    options = selectors.request_options(
        buyer=acting_user(request), order_id=order_id, line_id=line_id
    )
    return {
        "order_id": options["order"].pk,
        "line_id": options["line"].pk,
        "allowed": options["allowed"],
        "kinds": _choices(options["kinds"]),
        "reasons": {kind: _choices(pairs) for kind, pairs in options["reasons"].items()},
        "refundable_fen": options["refundable_fen"],
        "no_reason_return": options["no_reason_return"],
        "open_case_id": options["open_case"].pk if options["open_case"] else None,
        "requests_left": options["requests_left"],
        "exchange_skus": options["exchange_skus"],
    }


@router.post("/cases", response={201: CaseDetailOut, **CASE_ERRORS})
def case_create(request: HttpRequest, payload: CaseCreateIn):
    """Ask for after-sales on one line of a paid order: a refund (full or partial), a return
    and refund, or an exchange for another SKU of the product. Add photos afterwards with
    ``POST /aftersales/cases/{id}/images``. A second open request on the line is 409
    ``refund_already_open``; more than the line's refundable amount is 400
    ``refund_amount_invalid``."""
    case = services.refund_request(
        buyer=acting_user(request),
        order_id=payload.order_id,
        line_id=payload.line_id,
        kind=payload.kind.value,
        reason=payload.reason.value,
        amount_fen=payload.amount_fen,
        description=payload.description,
        exchange_sku_id=payload.exchange_sku_id,
    )
    return Status(201, _case(request, case.pk))


@router.get("/cases/{case_id}", response={200: CaseDetailOut, **auth_errors(404)})
def case_detail(request: HttpRequest, case_id: Id):
    """One of the buyer's requests with its history and any platform intervention."""
    return _case(request, case_id)


@router.post("/cases/{case_id}/revise", response={200: CaseDetailOut, **CASE_ERRORS})
def case_revise(request: HttpRequest, case_id: Id, payload: CaseReviseIn):
    """Change a request the seller has not agreed to, or one the seller refused; it goes back
    to the seller with a fresh answer timer. Fields left out keep their value."""
    services.refund_revise(
        buyer=acting_user(request),
        case_id=case_id,
        kind=payload.kind.value if payload.kind else None,
        reason=payload.reason.value if payload.reason else None,
        amount_fen=payload.amount_fen,
        description=payload.description,
    )
    return _case(request, case_id)


@router.post("/cases/{case_id}/cancel", response={200: CaseDetailOut, **CASE_ERRORS})
def case_cancel(request: HttpRequest, case_id: Id):
    """Withdraw the request (ending any platform intervention); auto-confirm resumes."""
    services.refund_cancel(buyer=acting_user(request), case_id=case_id)
    return _case(request, case_id)


@router.post("/cases/{case_id}/return-shipment", response={200: CaseDetailOut, **CASE_ERRORS})
def case_return_ship(request: HttpRequest, case_id: Id, payload: ShipmentIn):
    """Ship the goods back (after the seller agreed to a return or exchange)."""
    services.refund_return_ship(
        buyer=acting_user(request),
        case_id=case_id,
        carrier=payload.carrier,
        tracking_no=payload.tracking_no,
    )
    return _case(request, case_id)


# --- both sides (and the operator): messages, evidence, intervention --------------------------


@router.post(
    "/cases/{case_id}/messages", response={201: CaseEventOut, **auth_errors(400, 403, 404)}
)
def case_message(request: HttpRequest, case_id: Id, payload: MessageIn):
    """Add a message to the case history: the buyer, the shop's staff (``refund.handle``) or
    an operator handling disputes. While the platform is involved it is evidence; after the
    evidence phase only the operator may write."""
    event = services.case_message_add(
        actor=acting_user(request), case_id=case_id, text=payload.text
    )
    return Status(201, event)


@router.post("/cases/{case_id}/images", response={201: CaseEventOut, **auth_errors(400, 403, 404)})
def case_images(
    request: HttpRequest, case_id: Id, text: Form[Text], images: File[list[UploadedFile]]
):
    """A message with photos (multipart: ``text`` and ``images``, repeatable, at most 5;
    JPEG, PNG, WebP or GIF). Same rules as ``messages``."""
    event = services.case_message_add(
        actor=acting_user(request), case_id=case_id, text=text, images=images
    )
    return Status(201, event)


@router.post("/cases/{case_id}/dispute", response={201: DisputeOut, **SELLER_ERRORS})
def dispute_open(request: HttpRequest, case_id: Id, payload: DisputeOpenIn):
    """Ask the platform to step in (平台介入) after the seller refused: the buyer or the
    shop. An operator takes it, both sides have 3 days for evidence, then it is ruled."""
    dispute = services.dispute_open(
        actor=acting_user(request), case_id=case_id, reason=payload.reason
    )
    return Status(201, dispute)


@router.post("/cases/{case_id}/dispute/withdraw", response={200: DisputeOut, **SELLER_ERRORS})
@idempotent("aftersales.dispute_withdraw", DisputeOut)
def dispute_withdraw(request: HttpRequest, case_id: Id, payload: WithdrawIn):
    """End the intervention before the ruling. The buyer withdrawing closes the request; the
    shop withdrawing agrees to it (a refund is paid at once, or the goods come back to
    ``return_address``)."""
    case = _case_of_either_side(request, case_id)
    dispute = selectors.case_dispute(case=case)
    if dispute is None:
        raise Conflict(
            AftersalesError.DISPUTE_STATUS_INVALID,
            _("The platform is not handling this case."),
        )
    return services.dispute_withdraw(
        actor=acting_user(request),
        dispute_id=dispute.pk,
        return_address=payload.return_address,
    )


# --- seller center ----------------------------------------------------------------------------


@router.get("/seller/cases", response={200: list[SellerCaseOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_case_list(
    request: HttpRequest,
    tab: Literal["todo", "open", "dispute", "done"] | None = None,
    kind: RefundKind | None = None,
    status: RefundStatus | None = None,
    q: Text = "",
):
    """The shop's after-sales queue, nearest deadline first. ``tab``: todo (waiting for the
    shop), open, dispute (platform involved), done; ``q`` finds an order id or a buyer."""
    return selectors.cases_for_shop(
        actor=acting_user(request),
        tab=tab or "",
        kind=kind.value if kind else "",
        status=status.value if status else "",
        q=q,
    )


@router.get("/seller/case-counts", response={200: CaseCountsOut, **auth_errors(403, 404)})
def seller_case_counts(request: HttpRequest):
    """How many cases each tab of the queue holds."""
    return selectors.case_tab_counts_for_shop(actor=acting_user(request))


@router.get("/seller/cases/{case_id}", response={200: SellerCaseDetailOut, **auth_errors(403, 404)})
def seller_case_detail(request: HttpRequest, case_id: Id):
    return _seller_case(request, case_id)


@router.post("/seller/cases/{case_id}/agree", response={200: SellerCaseDetailOut, **SELLER_ERRORS})
@idempotent("aftersales.agree", SellerCaseDetailOut)
def seller_case_agree(request: HttpRequest, case_id: Id, payload: AgreeIn):
    """Agree: a refund is paid at once; a return or exchange waits for the goods, sent to
    ``return_address`` (required for those)."""
    services.refund_agree(
        actor=acting_user(request), case_id=case_id, return_address=payload.return_address
    )
    return _seller_case(request, case_id)


@router.post("/seller/cases/{case_id}/refuse", response={200: SellerCaseDetailOut, **SELLER_ERRORS})
def seller_case_refuse(request: HttpRequest, case_id: Id, payload: ReasonIn):
    """Refuse with a reason; the buyer may then revise or ask the platform within 5 days."""
    services.refund_refuse(actor=acting_user(request), case_id=case_id, reason=payload.reason)
    return _seller_case(request, case_id)


@router.post(
    "/seller/cases/{case_id}/goods-confirm",
    response={200: SellerCaseDetailOut, **SELLER_ERRORS},
)
@idempotent("aftersales.goods_confirm", SellerCaseDetailOut)
def seller_case_goods_confirm(request: HttpRequest, case_id: Id, payload: GoodsConfirmIn):
    """The returned goods arrived: the refund is paid. For an exchange give the replacement's
    ``carrier`` and ``tracking_no``; any price difference is refunded."""
    services.refund_goods_confirm(
        actor=acting_user(request),
        case_id=case_id,
        carrier=payload.carrier,
        tracking_no=payload.tracking_no,
    )
    return _seller_case(request, case_id)


@router.post(
    "/seller/cases/{case_id}/goods-refuse",
    response={200: SellerCaseDetailOut, **SELLER_ERRORS},
)
def seller_case_goods_refuse(request: HttpRequest, case_id: Id, payload: ReasonIn):
    """Refuse the returned goods (not received, damaged, not the item), with a reason."""
    services.refund_goods_refuse(actor=acting_user(request), case_id=case_id, reason=payload.reason)
    return _seller_case(request, case_id)


@router.get("/seller/violations", response={200: list[ViolationOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_violations(request: HttpRequest):
    """The shop's violations with their penalty points, newest first."""
    return selectors.violations_for_shop(actor=acting_user(request))


@router.get("/seller/debts", response={200: list[DebtOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def seller_debts(request: HttpRequest):
    """What the platform paid on the shop's behalf (refunds after release, advance
    compensation, late-shipment compensation) and how much it recovered (owner only)."""
    return selectors.debts_for_shop(actor=acting_user(request))


@router.post("/seller/deposit", response={201: DepositOut, **auth_errors(400, 403, 404, 409, 423)})
@idempotent("aftersales.deposit", DepositOut, 201)
def seller_deposit(request: HttpRequest, payload: DepositIn):
    """Pay into the shop's deposit (保证金) from the owner's wallet or the shop's balance,
    with the payment PIN. Outstanding debts are collected from it at once."""
    transfer = payment_services.deposit_fund(
        actor=acting_user(request),
        amount_fen=payload.amount_fen,
        pin=payload.pin,
        source=payload.source,
        idempotency_key=service_key(request) or "",
    )
    money = seller_selectors.shop_money_for_owner(actor=acting_user(request))
    return Status(
        201,
        {
            "transfer_id": transfer.pk,
            "amount_fen": transfer.amount,
            "deposit_fen": money.deposit_fen,
            "owed_fen": money.owed_fen,
            "available_fen": money.available_fen,
        },
    )


# --- operator console -------------------------------------------------------------------------


@router.get("/console/disputes", response={200: list[ConsoleDisputeOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def console_dispute_list(
    request: HttpRequest,
    tab: Literal["requested", "evidence", "ready", "ruled", "withdrawn"] | None = None,
    mine: bool = False,
):
    """The arbitration queue. ``tab``: requested (waiting for an operator), evidence, ready
    (evidence phase over, waiting for a ruling), ruled, withdrawn; ``mine`` keeps the
    caller's cases."""
    return selectors.disputes_for_console(actor=acting_user(request), tab=tab or "", mine=mine)


@router.get("/console/dispute-counts", response={200: DisputeCountsOut, **auth_errors(403)})
def console_dispute_counts(request: HttpRequest):
    return selectors.dispute_tab_counts(actor=acting_user(request))


@router.get(
    "/console/disputes/{dispute_id}",
    response={200: ConsoleDisputeDetailOut, **auth_errors(403, 404)},
)
def console_dispute_detail(request: HttpRequest, dispute_id: Id):
    """One case for the ruling: the request, its history and evidence, the order with its
    shipping and transfers, and the shop's penalty points (``dispute.rule``)."""
    return _console_dispute(request, dispute_id)


@router.post(
    "/console/disputes/{dispute_id}/take",
    response={200: ConsoleDisputeDetailOut, **CONSOLE_ERRORS},
)
def console_dispute_take(request: HttpRequest, dispute_id: Id):
    """Take the case: the 3-day evidence phase starts for both sides."""
    services.dispute_take(operator=acting_user(request), dispute_id=dispute_id)
    return _console_dispute(request, dispute_id)


@router.post(
    "/console/disputes/{dispute_id}/rule",
    response={200: ConsoleDisputeDetailOut, **CONSOLE_ERRORS},
)
@idempotent("aftersales.rule", ConsoleDisputeDetailOut)
def console_dispute_rule(request: HttpRequest, dispute_id: Id, payload: RuleIn):
    """Rule after the evidence phase (before it: 400 ``evidence_phase_open``): for the buyer
    with ``amount_fen`` (refunded at once; ``not_as_described`` records a violation) or for
    the seller (the request closes). A second ruling is 409 ``dispute_status_invalid``."""
    services.dispute_rule(
        operator=acting_user(request),
        dispute_id=dispute_id,
        decision=payload.decision,
        reason=payload.reason,
        amount_fen=payload.amount_fen,
        not_as_described=payload.not_as_described,
    )
    return _console_dispute(request, dispute_id)


@router.post(
    "/console/orders/{order_id}/advance", response={200: ConsoleOrderOut, **CONSOLE_ERRORS}
)
@idempotent("aftersales.advance", ConsoleOrderOut)
def console_advance(request: HttpRequest, order_id: Id, payload: AdvanceIn):
    """Advance compensation (先行垫付) on a completed order: the platform pays the buyer now
    and recovers the amount from the shop (balance, then deposit, then next income)."""
    services.advance_pay(
        operator=acting_user(request),
        order_id=order_id,
        amount_fen=payload.amount_fen,
        reason=payload.reason,
        idempotency_key=service_key(request) or "",
    )
    return _console_order(request, order_id)


@router.get("/console/violations", response={200: list[ConsoleViolationOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def console_violations(request: HttpRequest, shop_id: Id | None = None):
    """Violations of every shop (or one), newest first."""
    return selectors.violations_for_console(actor=acting_user(request), shop_id=shop_id)


@router.post(
    "/console/violations", response={201: ConsoleViolationOut, **auth_errors(400, 403, 404)}
)
def console_violation_record(request: HttpRequest, payload: ViolationIn):
    """Record a rule breach against a shop by hand (``violation.record``), with a note the
    seller reads. Points default to the platform's rule for the kind."""
    with transaction.atomic():  # the service runs in its caller's transaction
        violation = violation_record(
            actor=acting_user(request),
            shop_id=payload.shop_id,
            kind=payload.kind.value,
            points=payload.points,
            order_id=payload.order_id,
            note=payload.note,
        )
    return Status(201, violation)
