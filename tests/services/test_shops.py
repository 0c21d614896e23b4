"""Shops: opening, settings, staff sub-accounts and what each staff role may do."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jishi.accounts import services as account_services
from jishi.accounts.errors import AccountError
from jishi.accounts.models import Notification, User
from jishi.core.errors import CoreError, DomainError, Forbidden, NotFound
from jishi.core.models import AuditLog
from jishi.core.rules import rule_set
from jishi.shops import selectors, services
from jishi.shops.errors import ShopError
from jishi.shops.models import Shop, ShopStaff, ShopStatus, StaffRole
from jishi.shops.permissions import ROLE_PERMISSIONS, role_can, shop_of, shop_require

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "Staff2024pass"


def png_upload(name="logo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def shop(make_shop):
    return make_shop(name="安吉竹乡")


@pytest.fixture
def staff_of(shop):
    """``staff_of(role)`` -> a staff user of ``shop`` with that role."""
    n = iter(range(1, 1000))

    def make(role):
        staff = services.staff_create(
            actor=shop.owner, username=f"{role}{next(n)}", password=STAFF_PASSWORD, role=role
        )
        return User.objects.get(pk=staff.user_id)

    return make


# --- opening a shop ---------------------------------------------------------------------------


def test_verified_seller_opens_a_shop(make_verified_seller):
    seller = make_verified_seller()
    shop = services.shop_open(
        user=seller,
        name="安吉竹乡",
        shop_type="B2C",
        description="竹制品与白茶",
        province="浙江省",
        city="湖州市",
        logo=png_upload(),
    )
    assert shop.owner == seller
    assert shop.status == ShopStatus.OPEN
    assert shop.shop_type == "B2C"
    assert shop.logo.name.endswith(".png")
    membership = ShopStaff.objects.get(user=seller)
    assert membership.shop == shop and membership.role == StaffRole.OWNER
    assert shop_of(seller) == shop
    assert Notification.objects.filter(user=seller, kind="shop_opened").exists()
    assert AuditLog.objects.filter(action="shop.open", object_id=str(shop.pk)).exists()
    assert selectors.shop_get_public(shop_id=shop.pk) == shop


def test_unverified_user_cannot_open_a_shop(make_user, make_id_number, make_bank_card):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=user, name="没认证的店")
    assert exc.value.code == ShopError.NOT_VERIFIED
    account_services.verification_submit(
        user=user,
        real_name="王五",
        id_number=make_id_number(),
        bank_name="中国银行",
        bank_card=make_bank_card(),
    )
    with pytest.raises(DomainError) as exc:  # pending is not verified
        services.shop_open(user=user, name="没认证的店")
    assert exc.value.code == ShopError.NOT_VERIFIED
    assert not Shop.objects.exists()
    assert not ShopStaff.objects.exists()


def test_rejected_seller_cannot_open_a_shop(
    make_user, make_operator, make_id_number, make_bank_card
):
    user = make_user()
    record = account_services.verification_submit(
        user=user,
        real_name="王五",
        id_number=make_id_number(),
        bank_name="中国银行",
        bank_card=make_bank_card(),
    )
    account_services.verification_decide(
        operator=make_operator("reviewer"),
        verification_id=record.pk,
        approve=False,
        reason="资料不全",
    )
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=user, name="被拒的店")
    assert exc.value.code == ShopError.NOT_VERIFIED


@pytest.mark.parametrize("name", ["安吉竹乡", "安吉竹乡 ", "  安吉竹乡"])
def test_shop_name_unique(shop, make_verified_seller, name):
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=make_verified_seller(), name=name)
    assert exc.value.code == ShopError.NAME_TAKEN
    assert Shop.objects.count() == 1


def test_shop_name_unique_case_insensitive(make_shop, make_verified_seller):
    make_shop(name="Bamboo House")
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=seller, name="bamboo HOUSE")
    assert exc.value.code == ShopError.NAME_TAKEN
    assert not ShopStaff.objects.filter(user=seller).exists()


def test_one_shop_per_owner(shop):
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=shop.owner, name="第二家店")
    assert exc.value.code == ShopError.ALREADY_HAS_SHOP
    assert Shop.objects.count() == 1


def test_staff_member_cannot_open_a_shop(shop, staff_of, make_id_number, make_bank_card):
    staff = staff_of(StaffRole.SERVICE)
    with pytest.raises(DomainError) as exc:  # a sub-account is never verified as a seller
        account_services.verification_submit(
            user=staff,
            real_name="赵六",
            id_number=make_id_number(),
            bank_name="中国银行",
            bank_card=make_bank_card(),
        )
    assert exc.value.code == "sub_account_not_allowed"
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=staff, name="客服自己的店")
    assert exc.value.code in (ShopError.NOT_VERIFIED, ShopError.ALREADY_HAS_SHOP)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": "店" * 31}, CoreError.TEXT_TOO_LONG, "name"),
        ({"name": "  "}, CoreError.FIELD_REQUIRED, "name"),
        ({"name": "好店", "description": "字" * 2001}, CoreError.TEXT_TOO_LONG, "description"),
        ({"name": "好店", "shop_type": "C2B"}, ShopError.TYPE_INVALID, "shop_type"),
        ({"name": "好店", "province": "火星"}, CoreError.VALIDATION, "province"),
        ({"name": "好店", "city": "市" * 33}, CoreError.TEXT_TOO_LONG, "city"),
    ],
)
def test_shop_open_bad_input(make_verified_seller, fields, code, field):
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        services.shop_open(user=seller, **fields)
    assert exc.value.code == code
    assert field in exc.value.extra["fields"]
    assert not Shop.objects.exists()


def test_shop_open_bad_logo(make_verified_seller):
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        services.shop_open(
            user=seller, name="好店", logo=SimpleUploadedFile("logo.png", b"not an image")
        )
    assert exc.value.code == "image_invalid"
    assert not Shop.objects.exists()


def test_name_exactly_at_the_limit(make_verified_seller):
    assert services.shop_open(user=make_verified_seller(), name="店" * 30).name == "店" * 30


# --- shop settings ----------------------------------------------------------------------------


def test_owner_updates_shop(shop):
    updated = services.shop_update(
        actor=shop.owner,
        name="安吉竹乡旗舰店",
        description="新简介",
        province="浙江省",
        city="湖州市",
    )
    shop.refresh_from_db()
    assert shop.name == updated.name == "安吉竹乡旗舰店"
    assert shop.description == "新简介"
    log = AuditLog.objects.get(action="shop.update")
    assert log.before["name"] == "安吉竹乡" and log.after["name"] == "安吉竹乡旗舰店"


def test_owner_may_change_case_of_own_name(make_shop):
    shop = make_shop(name="Bamboo")
    services.shop_update(actor=shop.owner, name="BAMBOO")
    shop.refresh_from_db()
    assert shop.name == "BAMBOO"


def test_shop_update_name_taken(shop, make_shop):
    other = make_shop(name="Tea Garden")
    with pytest.raises(DomainError) as exc:
        services.shop_update(actor=other.owner, name="安吉竹乡")
    assert exc.value.code == ShopError.NAME_TAKEN
    other.refresh_from_db()
    assert other.name == "Tea Garden"


def test_shop_update_over_long(shop):
    with pytest.raises(DomainError) as exc:
        services.shop_update(actor=shop.owner, name="安吉竹乡", description="字" * 2001)
    assert exc.value.code == CoreError.TEXT_TOO_LONG
    shop.refresh_from_db()
    assert shop.description == ""


@pytest.mark.parametrize("role", [StaffRole.SERVICE, StaffRole.WAREHOUSE])
def test_staff_cannot_update_shop(shop, staff_of, role):
    staff = staff_of(role)
    with pytest.raises(Forbidden) as exc:
        services.shop_update(actor=staff, name="被改了")
    assert exc.value.code == ShopError.ROLE_FORBIDDEN
    shop.refresh_from_db()
    assert shop.name == "安吉竹乡"


def test_outsider_cannot_update_shop(shop, make_user, make_operator):
    for outsider in (make_user(), make_operator("admin")):
        with pytest.raises(NotFound):
            services.shop_update(actor=outsider, name="被改了")
    shop.refresh_from_db()
    assert shop.name == "安吉竹乡"


def test_public_selectors_hide_closed_shops(shop, make_shop):
    other = make_shop()
    Shop.objects.filter(pk=other.pk).update(status=ShopStatus.SUSPENDED)
    assert list(selectors.shop_list_public()) == [shop]
    with pytest.raises(NotFound):
        selectors.shop_get_public(shop_id=other.pk)


# --- staff ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [StaffRole.SERVICE, StaffRole.WAREHOUSE])
def test_owner_creates_staff(shop, role):
    staff = services.staff_create(
        actor=shop.owner, username="xiaomei", password=STAFF_PASSWORD, role=role
    )
    assert staff.shop == shop and staff.role == role and staff.is_active
    user = account_services.user_authenticate(
        request=None, username="xiaomei", password=STAFF_PASSWORD
    )
    assert user.pk == staff.user_id
    assert shop_require(user, "product.view").shop_id == shop.pk
    note = Notification.objects.get(user=user)
    assert note.kind == "staff_added" and note.params["shop"] == "安吉竹乡"
    assert AuditLog.objects.filter(action="staff.create").exists()
    assert set(selectors.staff_list(shop=shop).values_list("role", flat=True)) == {
        StaffRole.OWNER,
        role,
    }


@pytest.mark.parametrize("role", [StaffRole.OWNER, "admin", "", "SERVICE"])
def test_staff_role_must_be_service_or_warehouse(shop, role):
    with pytest.raises(DomainError) as exc:
        services.staff_create(
            actor=shop.owner, username="xiaomei", password=STAFF_PASSWORD, role=role
        )
    assert exc.value.code == ShopError.ROLE_INVALID
    assert not User.objects.filter(username="xiaomei").exists()


def test_staff_create_checks_username_and_password(shop, make_user):
    make_user(username="taken")
    with pytest.raises(DomainError) as exc:
        services.staff_create(
            actor=shop.owner, username="TAKEN", password=STAFF_PASSWORD, role=StaffRole.SERVICE
        )
    assert exc.value.code == AccountError.USERNAME_TAKEN
    with pytest.raises(DomainError) as exc:
        services.staff_create(
            actor=shop.owner, username="weakling", password="12345678", role=StaffRole.SERVICE
        )
    assert exc.value.code == AccountError.PASSWORD_WEAK
    assert ShopStaff.objects.count() == 1


def test_staff_limit_follows_the_rule(shop, make_operator):
    rule_set(actor=make_operator("admin"), name="shop_staff_max", value=2)
    services.staff_create(
        actor=shop.owner, username="first", password=STAFF_PASSWORD, role=StaffRole.SERVICE
    )
    with pytest.raises(DomainError) as exc:
        services.staff_create(
            actor=shop.owner, username="second", password=STAFF_PASSWORD, role=StaffRole.SERVICE
        )
    assert exc.value.code == ShopError.STAFF_LIMIT
    assert not User.objects.filter(username="second").exists()


@pytest.mark.parametrize("role", [StaffRole.SERVICE, StaffRole.WAREHOUSE])
def test_staff_cannot_manage_staff(shop, staff_of, role):
    staff = staff_of(role)
    colleague = ShopStaff.objects.get(user=staff_of(StaffRole.WAREHOUSE))
    with pytest.raises(Forbidden):
        services.staff_create(
            actor=staff, username="sneaky", password=STAFF_PASSWORD, role=StaffRole.SERVICE
        )
    with pytest.raises(Forbidden):
        services.staff_update(
            actor=staff, staff_id=colleague.pk, role=StaffRole.SERVICE, is_active=False
        )
    assert not User.objects.filter(username="sneaky").exists()
    colleague.refresh_from_db()
    assert colleague.is_active and colleague.role == StaffRole.WAREHOUSE


def test_outsider_cannot_create_staff(make_user, shop):
    with pytest.raises(NotFound):
        services.staff_create(
            actor=make_user(), username="sneaky", password=STAFF_PASSWORD, role=StaffRole.SERVICE
        )


def test_owner_changes_role(shop, staff_of):
    staff = ShopStaff.objects.get(user=staff_of(StaffRole.SERVICE))
    services.staff_update(actor=shop.owner, staff_id=staff.pk, role=StaffRole.WAREHOUSE)
    staff.refresh_from_db()
    assert staff.role == StaffRole.WAREHOUSE
    assert shop_require(staff.user, "stock.edit")


def test_deactivated_staff_cannot_log_in_or_act(shop, staff_of):
    user = staff_of(StaffRole.SERVICE)
    staff = ShopStaff.objects.get(user=user)
    services.staff_update(
        actor=shop.owner, staff_id=staff.pk, role=StaffRole.SERVICE, is_active=False
    )
    with pytest.raises(DomainError) as exc:
        account_services.user_authenticate(
            request=None, username=user.username, password=STAFF_PASSWORD
        )
    assert exc.value.code == AccountError.LOGIN_FAILED
    with pytest.raises(NotFound):
        shop_require(User.objects.get(pk=user.pk), "product.view")
    log = AuditLog.objects.get(action="staff.update")
    assert log.before["is_active"] is True and log.after["is_active"] is False

    services.staff_update(
        actor=shop.owner, staff_id=staff.pk, role=StaffRole.SERVICE, is_active=True
    )
    assert (
        account_services.user_authenticate(
            request=None, username=user.username, password=STAFF_PASSWORD
        ).pk
        == user.pk
    )


def test_owner_row_cannot_be_changed(shop):
    owner_row = ShopStaff.objects.get(user=shop.owner)
    with pytest.raises(DomainError) as exc:
        services.staff_update(
            actor=shop.owner, staff_id=owner_row.pk, role=StaffRole.SERVICE, is_active=False
        )
    assert exc.value.code == ShopError.OWNER_IMMUTABLE
    owner_row.refresh_from_db()
    assert owner_row.role == StaffRole.OWNER and owner_row.is_active


def test_another_shops_staff_is_not_found(shop, staff_of, make_shop):
    staff = ShopStaff.objects.get(user=staff_of(StaffRole.SERVICE))
    other = make_shop()
    with pytest.raises(NotFound):
        services.staff_update(
            actor=other.owner, staff_id=staff.pk, role=StaffRole.WAREHOUSE, is_active=False
        )
    staff.refresh_from_db()
    assert staff.is_active and staff.role == StaffRole.SERVICE


def test_staff_update_bad_role(shop, staff_of):
    staff = ShopStaff.objects.get(user=staff_of(StaffRole.SERVICE))
    with pytest.raises(DomainError) as exc:
        services.staff_update(actor=shop.owner, staff_id=staff.pk, role=StaffRole.OWNER)
    assert exc.value.code == ShopError.ROLE_INVALID
    staff.refresh_from_db()
    assert staff.role == StaffRole.SERVICE


# --- role permissions -------------------------------------------------------------------------

PERMISSIONS = [
    "shop.view",
    "shop.edit",
    "staff.manage",
    "product.view",
    "product.edit",
    "stock.edit",
    "order.view",
    "order.ship",
    "chat.reply",
    "refund.handle",
]
EXPECTED = {
    StaffRole.OWNER: set(PERMISSIONS),
    StaffRole.SERVICE: {"shop.view", "product.view", "order.view", "chat.reply", "refund.handle"},
    StaffRole.WAREHOUSE: {"shop.view", "product.view", "stock.edit", "order.view", "order.ship"},
}


@pytest.mark.parametrize("role", list(StaffRole))
@pytest.mark.parametrize("permission", PERMISSIONS)
def test_role_permission_table(role, permission):
    assert role_can(role, permission) is (permission in EXPECTED[role])


def test_unknown_role_can_do_nothing():
    assert not role_can("intern", "shop.view")
    assert set(ROLE_PERMISSIONS) == set(StaffRole)


@pytest.mark.parametrize("role", [StaffRole.SERVICE, StaffRole.WAREHOUSE])
def test_shop_require_matches_the_table(shop, staff_of, role):
    user = staff_of(role)
    for permission in PERMISSIONS:
        if permission in EXPECTED[role]:
            assert shop_require(user, permission).shop_id == shop.pk
        else:
            with pytest.raises(Forbidden) as exc:
                shop_require(user, permission)
            assert exc.value.extra == {"permission": permission}


def test_shop_require_for_another_shop_id(shop, make_shop, make_user):
    other = make_shop()
    with pytest.raises(NotFound):
        shop_require(shop.owner, "product.view", shop_id=other.pk)
    assert shop_require(shop.owner, "product.view", shop_id=shop.pk).shop_id == shop.pk
    with pytest.raises(NotFound):
        shop_require(make_user(), "shop.view")
    assert shop_of(make_user()) is None
