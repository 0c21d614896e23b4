"""Shared test configuration and factories for the whole suite.

Every test gets: a fast password hasher, notifications delivered to
``jishi.accounts.delivery.MemoryBackend`` (emptied before and after), an empty cache (trade
rules are cached), media files in a temporary directory (except for live-server tests) and
``jishi.core.clock`` reset after the test.

The factories are fixtures that return functions (``make_user()``, ``make_shop(owner=...)``)
and go through the services, so the objects they make obey every rule. Users they create
carry the plain password as ``user.raw_password``. Factories do not request ``db`` themselves:
mark the test with ``@pytest.mark.django_db`` (or ``transaction=True``).
"""

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings

from jishi.accounts.delivery import MemoryBackend
from jishi.core import clock

# No per-example deadline: a slow CI machine or database must not turn a pass into a flake.
hypothesis_settings.register_profile("jishi", deadline=None)
hypothesis_settings.load_profile("jishi")

TEST_PASSWORD = "Jishi2024pass"
_seq = itertools.count(1)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_for(n: int) -> str:
    """A valid 18-character resident ID number (GB 11643 checksum), distinct for each ``n``."""
    year, month, day = 1980 + n // 1000 % 40, 1 + n // 100 % 12, 1 + n // 10 % 28
    body = f"330522{year}{month:02d}{day:02d}{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def bank_card_for(n: int) -> str:
    """A valid 16-digit bank card number (Luhn), distinct for each ``n``."""
    body = f"622202{n:09d}"
    digits = [int(d) for d in body][::-1]
    total = 0
    for i, d in enumerate(digits):
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


@pytest.fixture(scope="session")
def _jishi_media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _jishi_test_env(request, settings, _jishi_media_root):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.JISHI_NOTIFICATION_BACKEND = "jishi.accounts.delivery.MemoryBackend"
    if "live_server" not in request.fixturenames:
        # jishi/urls.py fixes the /media/ document root at import, so a live server keeps the
        # configured MEDIA_ROOT; every other test writes its uploads to a temporary directory.
        settings.MEDIA_ROOT = str(_jishi_media_root)
    MemoryBackend.outbox.clear()
    cache.clear()
    clock.reset()
    yield
    clock.reset()
    cache.clear()
    MemoryBackend.outbox.clear()


@pytest.fixture
def make_id_number():
    """``make_id_number()`` -> a fresh valid resident ID number."""
    return lambda: id_number_for(next(_seq))


@pytest.fixture
def make_bank_card():
    """``make_bank_card()`` -> a fresh valid (Luhn) bank card number."""
    return lambda: bank_card_for(next(_seq))


@pytest.fixture
def make_user():
    """``make_user(username=None, password=TEST_PASSWORD, **fields)`` -> a registered user."""
    from jishi.accounts.services import user_register

    def make(username: str | None = None, password: str = TEST_PASSWORD, **fields: Any):
        user = user_register(username=username or f"user{next(_seq)}", password=password, **fields)
        user.raw_password = password
        return user

    return make


@pytest.fixture
def make_operator():
    """``make_operator(role="admin")`` -> a staff user with that operator role."""
    from jishi.accounts.services import operator_create

    def make(role: str = "admin", username: str | None = None):
        user = operator_create(
            username=username or f"op{role}{next(_seq)}", password=TEST_PASSWORD, role=role
        )
        user.raw_password = TEST_PASSWORD
        return user

    return make


@pytest.fixture
def make_verified_seller(make_user, make_operator):
    """``make_verified_seller(username=None)`` -> a user whose real-name record is approved.

    The user gets ``.verification`` (the approved record) and ``.id_number``/``.card_number``
    (the plain numbers used).
    """
    from jishi.accounts.services import verification_decide, verification_submit

    reviewer: list[Any] = []

    def make(username: str | None = None, **fields: Any):
        user = make_user(username=username, **fields)
        n = next(_seq)
        id_number, card_number = id_number_for(n), bank_card_for(n)
        record = verification_submit(
            user=user,
            real_name="张三",
            id_number=id_number,
            bank_name="中国工商银行",
            bank_card=card_number,
        )
        if not reviewer:
            reviewer.append(make_operator("reviewer"))
        user.verification = verification_decide(
            operator=reviewer[0], verification_id=record.pk, approve=True
        )
        user.id_number, user.card_number = id_number, card_number
        return user

    return make


@pytest.fixture
def make_shop(make_verified_seller):
    """``make_shop(owner=None, name=None, **fields)`` -> an open shop (owner made if None)."""
    from jishi.shops.services import shop_open

    def make(owner: Any = None, name: str | None = None, **fields: Any):
        owner = owner or make_verified_seller()
        return shop_open(user=owner, name=name or f"测试小店{next(_seq)}", **fields)

    return make


@pytest.fixture
def make_category_tree(make_operator):
    """``make_category_tree()`` -> a namespace of categories, all made by ``.operator``:

    root 食品 > mid 水果 > leaf 苹果, leaf2 柑橘;  other_root 手工艺 > other_leaf 竹编.
    """
    from jishi.catalog.services import category_create

    def make():
        operator = make_operator("catalog")
        n = next(_seq)

        def create(name: str, parent: Any = None, **kw: Any):
            return category_create(
                operator=operator, name=f"{name}{n}", parent_id=parent.pk if parent else None, **kw
            )

        root = create("食品")
        mid = create("水果", root)
        leaf = create("苹果", mid)
        leaf2 = create("柑橘", mid)
        other_root = create("手工艺")
        other_leaf = create("竹编", other_root)
        return SimpleNamespace(
            operator=operator,
            root=root,
            mid=mid,
            leaf=leaf,
            leaf2=leaf2,
            other_root=other_root,
            other_leaf=other_leaf,
        )

    return make


@pytest.fixture
def make_product(make_category_tree):
    """``make_product(shop, skus=None, category=None, listed=False, **data)`` -> a product.

    ``skus`` defaults to one SKU without specs (10.00 yuan, stock 5); ``spec_names`` defaults
    to the keys of the first SKU's specs. ``listed=True`` puts it on sale.
    """
    from jishi.catalog.services import product_create, product_list

    tree: list[Any] = []

    def make(
        shop: Any,
        skus: list[dict[str, Any]] | None = None,
        category: Any = None,
        listed: bool = False,
        **data: Any,
    ):
        if category is None:
            if not tree:
                tree.append(make_category_tree())
            category = tree[0].leaf
        skus = skus if skus is not None else [{"specs": {}, "price_fen": 1000, "stock": 5}]
        if "spec_names" not in data:
            first = skus[0] if skus and isinstance(skus[0], dict) else {}
            data["spec_names"] = list(first.get("specs") or {})
        data.setdefault("title", f"测试商品{next(_seq)}")
        product = product_create(actor=shop.owner, category_id=category.pk, skus=skus, **data)
        if listed:
            product = product_list(actor=shop.owner, product_id=product.pk)
        return product

    return make
