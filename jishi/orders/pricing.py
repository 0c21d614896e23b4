"""Money arithmetic for orders: postage and commission, in integer fen."""

from jishi.orders.models import ShippingTemplate

BASIS_POINTS = 10_000


def shipping_fee_fen(*, template: ShippingTemplate | None, province: str, items_fen: int) -> int:
    """Postage for one shop's order: free above the threshold, else the province's fee or the
    default. A shop without a template ships free."""
    if template is None:
        return 0
    if template.free_over_fen is not None and items_fen >= template.free_over_fen:
        return 0
    return int(template.province_fees.get(province, template.default_fee_fen))


def commission_fen(*, paid_fen: int, rate_bp: int) -> int:
    """Commission on what was actually paid for a line, rounded half up to the fen."""
    return (paid_fen * rate_bp + BASIS_POINTS // 2) // BASIS_POINTS
