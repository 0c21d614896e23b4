"""Trade rules: every number in PRODUCT.md's table is a platform setting with a default here.

Operators override a value (PlatformSetting); code reads it with ``rule("name")``.
"""

from typing import Any

from django.core.cache import cache
from django.db import transaction

from jishi.core import clock

DEFAULTS: dict[str, Any] = {
    # account security
    "payment_pin_attempts_max": 3,
    "payment_pin_lock_seconds": 3 * 3600,
    "addresses_max": 20,
    # catalog
    "commission_rate_default_bp": 200,  # basis points: 200 = 2 %
    "product_images_max": 10,
    "product_skus_max": 200,
    "sku_stock_max": 10_000_000,
    "sku_price_fen_max": 100_000_000_00,
    # shops
    "shop_staff_max": 50,
    # trade timers (seconds)
    "unpaid_close_seconds": 24 * 3600,
    "ship_within_seconds": 48 * 3600,
    "auto_confirm_seconds": 10 * 86400,
    "auto_confirm_virtual_seconds": 3 * 86400,
    "receipt_extend_seconds": 3 * 86400,
    "receipt_extend_window_seconds": 3 * 86400,
    "not_shipped_violation_seconds": 3 * 86400,  # after the ship deadline: paid-not-shipped
    "late_shipment_compensation_bp": 3000,  # 30 % of the item price
    "late_shipment_compensation_fen_max": 50_000,  # capped at 500 yuan
    # after-sales (refund statuses and their timers, PRODUCT.md "Trade rules")
    "refund_seller_answer_unshipped_seconds": 24 * 3600,
    "refund_seller_answer_shipped_seconds": 5 * 86400,
    "refund_buyer_return_seconds": 7 * 86400,
    "refund_seller_confirm_goods_seconds": 10 * 86400,
    "refund_buyer_escalate_seconds": 5 * 86400,
    "dispute_evidence_seconds": 3 * 86400,
    "aftersales_window_seconds": 15 * 86400,  # after TRADE_FINISHED
    "no_reason_return_seconds": 7 * 86400,  # 7-day no-reason return, from receipt
    "refund_cases_per_line_max": 3,
    "case_images_max": 5,
    # violations: penalty points per kind
    "violation_points_late_shipment": 1,
    "violation_points_not_shipped": 3,
    "violation_points_not_as_described": 6,
    "violation_points_other": 2,
    # ratings, credit and DSR (PRODUCT.md "Trade rules": rating, credit counting, DSR)
    "rating_window_seconds": 15 * 86400,  # after TRADE_FINISHED; silence = positive
    "rating_text_length_max": 500,
    "rating_images_max": 5,
    "rating_change_seconds": 30 * 86400,  # a neutral/negative may be changed or removed once
    "rating_followup_seconds": 180 * 86400,  # the buyer's one follow-up, after the trade ends
    "credit_pair_month_points_max": 6,  # same buyer and seller, per calendar month
    "credit_same_item_seconds": 14 * 86400,  # same item by the same buyer counts once
    "dsr_pair_month_max": 3,  # DSRs counted per buyer and seller a month
    "dsr_window_days": 180,
    # anti-brushing signals (a flagged rating waits for an operator's review)
    "brushing_new_account_seconds": 7 * 86400,
    "brushing_new_account_orders_min": 5,  # orders from new accounts to one shop in 7 days
    "brushing_quick_confirm_seconds": 10 * 60,  # receipt confirmed within minutes of shipment
    "brushing_tiny_price_fen": 100,  # items under 1 yuan
    # carts and orders
    "cart_items_max": 100,
    "line_quantity_max": 9999,
    # wallets
    "topup_fen_max": 5_000_000,  # 50,000 yuan per top-up
    "withdraw_fen_min": 100,
}

_CACHE_KEY = "jishi:rules:v1"
_CACHE_SECONDS = 30


def _overrides() -> dict[str, Any]:
    values = cache.get(_CACHE_KEY)
    if values is None:
        from jishi.core.models import PlatformSetting

        values = dict(PlatformSetting.objects.values_list("key", "value"))
        cache.set(_CACHE_KEY, values, _CACHE_SECONDS)
    return values


def rule(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown platform rule {name!r}")
    return _overrides().get(name, DEFAULTS[name])


@transaction.atomic
def rule_set(*, actor: Any, name: str, value: Any) -> None:
    from jishi.core.audit import audit_record
    from jishi.core.models import PlatformSetting

    if name not in DEFAULTS:
        raise KeyError(f"unknown platform rule {name!r}")
    if type(value) is not type(DEFAULTS[name]):
        raise TypeError(f"{name} takes {type(DEFAULTS[name]).__name__}")
    setting, created = PlatformSetting.objects.get_or_create(key=name, defaults={"value": value})
    before = DEFAULTS[name] if created else setting.value  # the value in force until now
    PlatformSetting.objects.filter(pk=setting.pk).update(
        value=value, updated_at=clock.now(), updated_by=actor
    )
    audit_record(
        actor=actor,
        action="rule.set",
        obj=setting,
        before={"value": before},
        after={"value": value},
    )
    # Now, so this transaction reads its own change; again at commit, in case another
    # process re-cached the old value meanwhile.
    cache.delete(_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(_CACHE_KEY))
