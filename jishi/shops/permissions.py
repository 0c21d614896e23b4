"""What each staff role may do in its shop (子账号权限); checked in one place."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from jishi.core.errors import Forbidden, NotFound
from jishi.shops.errors import ShopError
from jishi.shops.models import Shop, ShopStaff, StaffRole

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    StaffRole.OWNER: frozenset({"*"}),
    StaffRole.SERVICE: frozenset(
        {
            "shop.view",
            "product.view",
            "order.view",
            "chat.reply",
            "refund.handle",
            "rating.reply",
        }
    ),
    StaffRole.WAREHOUSE: frozenset(
        {
            "shop.view",
            "product.view",
            "stock.edit",
            "order.view",
            "order.ship",
        }
    ),
}


def role_can(role: str, permission: str) -> bool:
    granted = ROLE_PERMISSIONS.get(role, frozenset())
    return "*" in granted or permission in granted


def membership_of(user: Any) -> ShopStaff | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return ShopStaff.objects.select_related("shop").filter(user=user, is_active=True).first()


def shop_require(user: Any, permission: str, *, shop_id: int | None = None) -> ShopStaff:
    """The acting user's membership of their shop, if their role grants ``permission``.

    Raises NotFound when the user works for no shop (or not for ``shop_id``) and Forbidden
    when the role does not allow the action.
    """
    membership = membership_of(user)
    if membership is None or (shop_id is not None and membership.shop_id != shop_id):
        raise NotFound(ShopError.NOT_STAFF, _("You do not work for this shop."))
    if not role_can(membership.role, permission):
        raise Forbidden(
            ShopError.ROLE_FORBIDDEN,
            _("Your staff role (%(role)s) does not allow this.")
            % {"role": membership.get_role_display()},
            permission=permission,
        )
    return membership


def shop_of(user: Any) -> Shop | None:
    membership = membership_of(user)
    return membership.shop if membership else None
