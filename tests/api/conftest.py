"""Fixtures for the /api/v1 tests: JSON clients per user and a small marketplace (``world``).

``world`` has two shops (A owned by ``seller``, B by ``seller2``), staff of shop A in each
role, buyers, operators in each role and a few products, all made through the services.
"""

from types import SimpleNamespace
from typing import Any

import pytest

from .helpers import PASSWORD, ApiClient, product_payload


@pytest.fixture(autouse=True)
def _api_test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def api():
    """``api(user=None, csrf=False, token=None)`` -> an ApiClient."""
    return ApiClient


@pytest.fixture
def anon():
    return ApiClient()


@pytest.fixture
def world(
    db, make_user, make_operator, make_verified_seller, make_shop, make_category_tree, make_product
):
    from jishi.catalog.services import product_create, product_list
    from jishi.shops.services import staff_create

    tree = make_category_tree()
    seller, seller2 = make_verified_seller("seller_a"), make_verified_seller("seller_b")
    shop, shop2 = make_shop(owner=seller, name="安吉茶园"), make_shop(owner=seller2, name="竹乡")

    def listed(shop: Any, title: str):
        product = product_create(actor=shop.owner, **product_payload(tree.leaf.pk, title=title))
        return product_list(actor=shop.owner, product_id=product.pk)

    product = listed(shop, "安吉白茶 明前特级")
    product2 = listed(shop2, "竹编果篮")
    draft = make_product(shop, category=tree.leaf, title="草稿商品")

    service = staff_create(
        actor=seller, username="shop_a_service", password=PASSWORD, role="service"
    ).user
    warehouse = staff_create(
        actor=seller, username="shop_a_warehouse", password=PASSWORD, role="warehouse"
    ).user
    return SimpleNamespace(
        tree=tree,
        buyer=make_user("buyer_a"),
        buyer2=make_user("buyer_b"),
        unverified=make_user("not_verified"),
        seller=seller,
        seller2=seller2,
        shop=shop,
        shop2=shop2,
        service=service,
        warehouse=warehouse,
        product=product,
        product2=product2,
        draft=draft,
        admin=make_operator("admin"),
        reviewer=make_operator("reviewer"),
        catalog_op=make_operator("catalog"),
        finance=make_operator("finance"),
    )
