"""What each operator role may do in the console; checked in one place."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import OperatorRole
from jishi.core.errors import CoreError, Forbidden

OPERATOR_PERMISSIONS: dict[str, frozenset[str]] = {
    OperatorRole.ADMIN: frozenset({"*"}),
    OperatorRole.REVIEWER: frozenset({"console.view", "verification.decide"}),
    OperatorRole.CATALOG: frozenset({"console.view", "category.manage", "product.moderate"}),
    OperatorRole.ARBITRATOR: frozenset(
        {"console.view", "dispute.rule", "advance.pay", "violation.record", "rating.review"}
    ),
    OperatorRole.FINANCE: frozenset({"console.view", "ledger.view"}),
}


def operator_can(user: Any, permission: str) -> bool:
    if not (getattr(user, "is_authenticated", False) and user.is_staff and user.is_active):
        return False
    granted = OPERATOR_PERMISSIONS.get(user.operator_role, frozenset())
    return "*" in granted or permission in granted


def operator_require(user: Any, permission: str) -> None:
    if not operator_can(user, permission):
        raise Forbidden(
            CoreError.FORBIDDEN, _("Your operator role does not allow this."), permission=permission
        )
