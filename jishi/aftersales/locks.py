"""Case locks, in the global order: order group → order → order lines → case → stock → ledger."""

from django.utils.translation import gettext_lazy as _

from jishi.aftersales.models import Dispute, RefundCase
from jishi.core.errors import NotFound
from jishi.orders.locks import lock_lines, lock_order


def lock_case(*, case_id: object, **owner: int) -> RefundCase:
    """Lock a case with its order and lines. ``owner`` (buyer_id=… or shop_id=…) narrows it
    so that another user's case looks missing."""
    if not str(case_id).isdecimal() or len(str(case_id)) > 18:
        raise NotFound(message=_("After-sales request not found."))
    row = RefundCase.objects.filter(pk=int(case_id), **owner).values("order_id").first()
    if row is None:
        raise NotFound(message=_("After-sales request not found."))
    order = lock_order(order_id=row["order_id"])
    lock_lines(orders=[order])
    case = RefundCase.objects.select_for_update().select_related("line").get(pk=int(case_id))
    case.order = order  # the locked instance
    return case


def lock_dispute(*, dispute_id: object) -> Dispute:
    if not str(dispute_id).isdecimal() or len(str(dispute_id)) > 18:
        raise NotFound(message=_("Case not found."))
    row = Dispute.objects.filter(pk=int(dispute_id)).values("case_id").first()
    if row is None:
        raise NotFound(message=_("Case not found."))
    case = lock_case(case_id=row["case_id"])
    dispute = Dispute.objects.select_for_update().get(pk=int(dispute_id))
    dispute.case = case
    return dispute
