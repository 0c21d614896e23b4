"""Shop reads."""

from django.utils.translation import gettext_lazy as _

from jishi.core.errors import NotFound
from jishi.shops.models import Shop, ShopStaff, ShopStatus, StaffRole


def shop_get_public(*, shop_id: int) -> Shop:
    shop = Shop.objects.filter(pk=shop_id, status=ShopStatus.OPEN).first()
    if shop is None:
        raise NotFound(message=_("Shop not found."))
    return shop


def shop_list_public():
    return Shop.objects.filter(status=ShopStatus.OPEN)


def staff_list(*, shop: Shop):
    return ShopStaff.objects.filter(shop=shop).select_related("user")


def staff_sub_account_of(*, user) -> ShopStaff | None:
    """The user's staff row when the account is a shop's sub-account (子账号: any role but
    owner, active or not). Such an account never opens a shop of its own."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        ShopStaff.objects.select_related("shop")
        .filter(user=user)
        .exclude(role=StaffRole.OWNER)
        .order_by("-is_active", "-id")
        .first()
    )
