"""Seller center finance page (资金管理): the shop's money pending → available → withdrawn,
its balance statement, and withdrawals to the owner's bank card (owner only).

Withdrawals are paid out by the worker through the payment channel; today that is the sandbox
bank, a test channel in which no real money moves, and the page says so.
"""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from jishi.accounts import selectors as account_selectors
from jishi.accounts.errors import AccountError
from jishi.core.errors import DomainError
from jishi.core.money import format_fen, parse_yuan
from jishi.core.pagination import page_of
from jishi.core.rules import rule
from jishi.core.web import form_errors
from jishi.ledger.errors import LedgerError
from jishi.payments import seller_selectors as selectors
from jishi.payments.services import withdrawal_create
from jishi.shops.models import ShopStaff
from jishi.shops.seller_views import seller_page, seller_render

STATEMENT_PAGE_SIZE = 20
WITHDRAWALS_SHOWN = 20
IDEMPOTENCY_KEY_LENGTH_MAX = 64
PIN_ERRORS = (AccountError.PIN_WRONG, AccountError.PIN_LOCKED, AccountError.PIN_NOT_SET)


def _amount_message() -> str:
    return _("Enter an amount in yuan, at least %(min)s, e.g. 100 or 99.50.") % {
        "min": format_fen(rule("withdraw_fen_min"))
    }


@seller_page("finance.withdraw")
def finance(request, membership: ShopStaff):
    errors: dict[str, str] = {}
    values = {"amount": ""}
    if request.method == "POST":
        values = {"amount": request.POST.get("amount", "").strip()}
        # One key per form shown, so a double click or a resubmission withdraws once.
        key = request.POST.get("idempotency_key", "")[:IDEMPOTENCY_KEY_LENGTH_MAX] or None
        try:
            amount_fen = parse_yuan(values["amount"])
        except ValueError:
            errors = {"amount": _amount_message()}
        else:
            try:
                withdrawal = withdrawal_create(
                    actor=request.user,
                    amount_fen=amount_fen,
                    pin=request.POST.get("pin", ""),
                    source="shop",
                    idempotency_key=key,
                )
            except DomainError as exc:
                if exc.status_code in (403, 404):
                    raise
                errors = form_errors(exc)
                if "amount_fen" in errors:
                    errors["amount"] = errors.pop("amount_fen")
                if exc.code in PIN_ERRORS:
                    errors = {"pin": str(exc.message)}
                elif exc.code == LedgerError.INSUFFICIENT_FUNDS:
                    errors = {"amount": _("The amount is more than the available balance.")}
            else:
                messages.success(
                    request,
                    _(
                        "Withdrawal of ¥%(amount)s requested. It is paid to your card shortly; "
                        "the status below updates when the bank confirms."
                    )
                    % {"amount": format_fen(withdrawal.amount_fen)},
                )
                return redirect("seller:finance")
    transfers = selectors.shop_statement_for_owner(actor=request.user)
    page = page_of(transfers, request.GET.get("page"), page_size=STATEMENT_PAGE_SIZE)
    return seller_render(
        request,
        "seller/finance.html",
        {
            "money": selectors.shop_money_for_owner(actor=request.user),
            "page": page,
            "rows": selectors.statement_rows(actor=request.user, transfers=list(page.object_list)),
            "withdrawals": selectors.shop_withdrawals_for_owner(actor=request.user)[
                :WITHDRAWALS_SHOWN
            ],
            "card": account_selectors.bank_card_active(user=request.user),
            "pin_status": account_selectors.payment_pin_status(user=request.user),
            "withdraw_min": rule("withdraw_fen_min"),
            "errors": errors,
            "values": values,
            "idempotency_key": uuid.uuid4().hex,
        },
        active="finance",
        membership=membership,
        status=400 if errors else 200,
    )
