"""Wallet pages (balance, statement, top-up, withdraw) and the sandbox bank's payer page.

The sandbox bank page stands in for a real bank's website: when the payer approves or
declines, it builds the bank's signed callback and hands it to ``callback_receive`` exactly as
the bank's server would, so the wallet is credited by the same code path as in production.
"""

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from jishi.accounts.selectors import bank_card_active, payment_pin_status, user_is_verified
from jishi.core.errors import DomainError, field_error
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.rules import rule
from jishi.core.web import form_errors
from jishi.ledger.models import TransferFlag
from jishi.payments import selectors, services
from jishi.payments.channels import channel_get, sandbox
from jishi.payments.errors import PaymentError
from jishi.payments.models import ChannelOpStatus

STATEMENT_PAGE_SIZE = 15
IDEMPOTENCY_KEY_LENGTH_MAX = 64

ENTRY_KINDS = {
    "topup": gettext_lazy("Top-up"),
    "payment": gettext_lazy("Payment"),
    "refund": gettext_lazy("Refund"),
    "withdrawal": gettext_lazy("Withdrawal"),
}
WITHDRAWAL_OUTCOMES = {
    None: gettext_lazy("Processing"),
    TransferFlag.POST_PENDING: gettext_lazy("Paid out"),
    TransferFlag.VOID_PENDING: gettext_lazy("Failed, money returned"),
}


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _amount_fen(text: str) -> int:
    try:
        return parse_yuan(text or "")
    except ValueError as exc:
        raise field_error(
            "amount",
            _("Enter an amount in yuan, such as 100 or 25.50."),
            PaymentError.AMOUNT_INVALID,
        ) from exc


def _entries(page: Any) -> list[dict[str, Any]]:
    rows = []
    for transfer in page.object_list:
        rows.append(
            {
                "time": transfer.created_at,
                "kind": ENTRY_KINDS.get(transfer.kind, transfer.kind),
                "kind_code": transfer.kind,
                "amount_fen": transfer.signed_amount,
                "order_id": transfer.order_id,
                "status": WITHDRAWAL_OUTCOMES.get(transfer.outcome)
                if transfer.flag == TransferFlag.PENDING
                else "",
                "failed": transfer.outcome == TransferFlag.VOID_PENDING,
            }
        )
    return rows


def _wallet_page(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    page = page_of(
        selectors.wallet_entries(user_id=user.pk),
        request.GET.get("page"),
        page_size=STATEMENT_PAGE_SIZE,
    )
    context = {
        "balance": selectors.wallet_balance(user_id=user.pk),
        "page": page,
        "entries": _entries(page),
        "bank_card": bank_card_active(user=user),
        "is_verified": user_is_verified(user=user),
        "pin_status": payment_pin_status(user=user),
        "withdrawals": selectors.withdrawals_for_user(user=user),
        "withdraw_key": uuid.uuid4().hex,
        "withdraw_min_fen": rule("withdraw_fen_min"),
        "topup_max_fen": rule("topup_fen_max"),
        "topup_amount": request.GET.get("amount", "")[:12],
        "next": _safe_next(request),
        "topup_errors": {},
        "withdraw_errors": {},
        "form": request.GET.get("form", ""),
        **extra,
    }
    return render(request, "payments/wallet.html", context, status=status)


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    return _wallet_page(request)


@login_required
@require_POST
def wallet_topup(request: HttpRequest) -> HttpResponse:
    amount_text = request.POST.get("amount", "").strip()[:20]
    try:
        topup = services.topup_create(user=request.user, amount_fen=_amount_fen(amount_text))
    except DomainError as exc:
        errors = form_errors(exc)
        if "amount_fen" in errors:
            errors["amount"] = errors.pop("amount_fen")
        return _wallet_page(
            request, status=400, topup_errors=errors, topup_amount=amount_text, form="topup"
        )
    url = channel_get(topup.channel).topup_url(topup)
    next_url = _safe_next(request)
    return redirect(url + ("?" + urlencode({"next": next_url}) if next_url else ""))


@login_required
@require_POST
def wallet_withdraw(request: HttpRequest) -> HttpResponse:
    amount_text = request.POST.get("amount", "").strip()[:20]
    key = request.POST.get("idempotency_key", "")[:IDEMPOTENCY_KEY_LENGTH_MAX]
    try:
        withdrawal = services.withdrawal_create(
            actor=request.user,
            amount_fen=_amount_fen(amount_text),
            pin=request.POST.get("pin", "").strip(),
            source="wallet",
            idempotency_key=key or None,
        )
    except DomainError as exc:
        errors = form_errors(exc)
        if "amount_fen" in errors:
            errors["amount"] = errors.pop("amount_fen")
        if exc.code in ("pin_wrong", "pin_invalid"):
            errors = {"pin": str(exc.message)}
        return _wallet_page(
            request,
            status=400,
            withdraw_errors=errors,
            withdraw_amount=amount_text,
            withdraw_key=key or uuid.uuid4().hex,
            form="withdraw",
        )
    messages.success(
        request,
        _("Withdrawal of ¥%(amount)s to %(bank)s %(card)s requested.")
        % {
            "amount": format_fen(withdrawal.amount_fen),
            "bank": withdrawal.bank_name,
            "card": withdrawal.card_masked,
        },
    )
    return redirect("payments:wallet")


# --- the sandbox bank -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_topup(request: HttpRequest, topup_id: int) -> HttpResponse:
    """The sandbox bank's payment page for one top-up; only its payer may open it."""
    topup = selectors.topup_get_for_user(user=request.user, topup_id=topup_id)
    next_url = _safe_next(request)
    if request.method == "POST":
        if topup.status != ChannelOpStatus.PENDING:  # the bank's page is done with it
            messages.info(request, _("This top-up was already completed."))
            return redirect(next_url or "payments:wallet")
        approve = request.POST.get("action") == "approve"
        body = sandbox.event_body(
            kind="topup",
            reference=topup.pk,
            status="succeeded" if approve else "failed",
            amount_fen=topup.amount_fen,
        )
        try:
            outcome = services.callback_receive(
                channel=sandbox.NAME, body=body, signature=sandbox.sign(body)
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            topup = selectors.topup_get_for_user(user=request.user, topup_id=topup_id)
            amount = format_fen(topup.amount_fen)
            if outcome.startswith("duplicate"):
                messages.info(request, _("This top-up was already completed."))
            elif topup.status == ChannelOpStatus.SUCCEEDED:
                messages.success(
                    request, _("Top-up of ¥%(amount)s succeeded.") % {"amount": amount}
                )
            else:
                messages.error(request, _("The bank declined the top-up. Nothing was charged."))
        return redirect(next_url or "payments:wallet")
    return render(
        request,
        "payments/sandbox_topup.html",
        {"topup": topup, "next": next_url, "pending": topup.status == ChannelOpStatus.PENDING},
    )
