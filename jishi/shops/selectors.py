"""Shop reads."""

from jishi.core.errors import NotFound
from jishi.shops.models import Shop, ShopStaff, ShopStatus


def shop_get_public(*, shop_id: int) -> Shop:
    shop = Shop.objects.filter(pk=shop_id, status=ShopStatus.OPEN).first()
    if shop is None:
        raise NotFound()
    return shop


def shop_list_public():
    return Shop.objects.filter(status=ShopStatus.OPEN)


def staff_list(*, shop: Shop):
    return ShopStaff.objects.filter(shop=shop).select_related("user")
