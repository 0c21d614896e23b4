"""Shop writes: opening a shop, its settings and its staff sub-accounts."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from jishi.accounts.models import User
from jishi.accounts.notifications import english_label, notify
from jishi.accounts.selectors import user_is_verified
from jishi.accounts.services import user_register
from jishi.accounts.validators import PROVINCES
from jishi.core.audit import audit_record
from jishi.core.errors import DomainError, NotFound, field_error
from jishi.core.images import image_check
from jishi.core.rules import rule
from jishi.core.validation import clean_int, clean_text
from jishi.shops.errors import ShopError
from jishi.shops.models import Shop, ShopStaff, ShopType, StaffRole, Violation, ViolationKind
from jishi.shops.permissions import shop_require

SHOP_NAME_LENGTH_MAX = 30
SHOP_DESCRIPTION_LENGTH_MAX = 2000


def _shop_fields_clean(
    *, name: Any, description: Any, province: Any, city: Any, shop_type: Any | None = None
) -> dict[str, Any]:
    clean = {
        "name": clean_text(name, field="name", max_length=SHOP_NAME_LENGTH_MAX),
        "description": clean_text(
            description, field="description", max_length=SHOP_DESCRIPTION_LENGTH_MAX, required=False
        ),
        "province": clean_text(province, field="province", max_length=16, required=False),
        "city": clean_text(city, field="city", max_length=32, required=False),
    }
    if clean["province"] and clean["province"] not in PROVINCES:
        raise field_error("province", _("Choose a province from the list."))
    if shop_type is not None:
        if shop_type not in ShopType.values:
            raise field_error("shop_type", _("Choose C2C, B2C or B2B."), ShopError.TYPE_INVALID)
        clean["shop_type"] = shop_type
    return clean


def _name_taken(name: str, *, exclude_id: int | None = None) -> bool:
    return Shop.objects.filter(name__iexact=name).exclude(pk=exclude_id).exists()


def _name_taken_error() -> DomainError:
    return field_error("name", _("A shop with this name exists."), ShopError.NAME_TAKEN)


@transaction.atomic
def shop_open(
    *,
    user: User,
    name: str,
    shop_type: str = ShopType.C2C,
    description: str = "",
    province: str = "",
    city: str = "",
    logo: Any = None,
) -> Shop:
    """A verified seller opens their one shop and becomes its owner."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not user_is_verified(user=user):
        raise DomainError(
            ShopError.NOT_VERIFIED, _("Complete real-name verification before opening a shop.")
        )
    if ShopStaff.objects.filter(user=user).exists():
        raise DomainError(
            ShopError.ALREADY_HAS_SHOP, _("This account already has or works for a shop.")
        )
    clean = _shop_fields_clean(
        name=name, description=description, province=province, city=city, shop_type=shop_type
    )
    if _name_taken(clean["name"]):
        raise _name_taken_error()
    shop = Shop(owner=user, **clean)
    if logo:
        ext = image_check(logo, field="logo")
        shop.logo.save(f"logo.{ext}", logo, save=False)
    try:
        with transaction.atomic():
            shop.save()
    except IntegrityError as exc:
        raise _name_taken_error() from exc
    ShopStaff.objects.create(shop=shop, user=user, role=StaffRole.OWNER)
    audit_record(actor=user, action="shop.open", obj=shop, after=clean)
    notify(user=user, kind="shop_opened", params={"shop": shop.name}, link="/seller/")
    return shop


@transaction.atomic
def shop_update(
    *,
    actor: User,
    name: str,
    description: str = "",
    province: str = "",
    city: str = "",
    logo: Any = None,
) -> Shop:
    shop = Shop.objects.select_for_update().get(pk=shop_require(actor, "shop.edit").shop_id)
    clean = _shop_fields_clean(name=name, description=description, province=province, city=city)
    if _name_taken(clean["name"], exclude_id=shop.pk):
        raise _name_taken_error()
    before = {key: getattr(shop, key) for key in clean}
    for key, value in clean.items():
        setattr(shop, key, value)
    if logo:
        ext = image_check(logo, field="logo")
        shop.logo.save(f"logo.{ext}", logo, save=False)
    try:
        with transaction.atomic():
            shop.save()
    except IntegrityError as exc:
        raise _name_taken_error() from exc
    audit_record(actor=actor, action="shop.update", obj=shop, before=before, after=clean)
    return shop


def _role_clean(role: str) -> str:
    if role not in (StaffRole.SERVICE, StaffRole.WAREHOUSE):
        raise field_error(
            "role", _("Choose customer service or warehouse."), ShopError.ROLE_INVALID
        )
    return role


@transaction.atomic
def staff_create(*, actor: User, username: str, password: str, role: str) -> ShopStaff:
    """The owner creates a staff sub-account (子账号) with a login of its own."""
    shop = shop_require(actor, "staff.manage").shop
    role = _role_clean(role)
    if ShopStaff.objects.filter(shop=shop, is_active=True).count() >= rule("shop_staff_max"):
        raise DomainError(ShopError.STAFF_LIMIT, _("This shop has the most staff allowed."))
    user = user_register(username=username, password=password)
    staff = ShopStaff.objects.create(shop=shop, user=user, role=role)
    audit_record(actor=actor, action="staff.create", obj=staff, after={"role": role})
    notify(
        user=user,
        kind="staff_added",
        params={"shop": shop.name, "role": str(staff.get_role_display())},
    )
    return staff


def _staff_of_shop(actor: User, staff_id: int) -> ShopStaff:
    shop = shop_require(actor, "staff.manage").shop
    staff = ShopStaff.objects.select_for_update().filter(shop=shop, pk=staff_id).first()
    if staff is None:
        raise NotFound(message=_("Staff member not found."))
    if staff.role == StaffRole.OWNER:
        raise DomainError(
            ShopError.OWNER_IMMUTABLE, _("The owner's account cannot be changed here.")
        )
    return staff


@transaction.atomic
def staff_update(*, actor: User, staff_id: int, role: str, is_active: bool = True) -> ShopStaff:
    staff = _staff_of_shop(actor, staff_id)
    before = {"role": staff.role, "is_active": staff.is_active}
    staff.role = _role_clean(role)
    staff.is_active = is_active
    staff.save(update_fields=["role", "is_active"])
    if not is_active:  # a removed sub-account can no longer log in
        User.objects.filter(pk=staff.user_id).update(is_active=False)
    elif not before["is_active"]:
        User.objects.filter(pk=staff.user_id).update(is_active=True)
    audit_record(
        actor=actor,
        action="staff.update",
        obj=staff,
        before=before,
        after={"role": staff.role, "is_active": staff.is_active},
    )
    return staff


# --- violations -------------------------------------------------------------------------------


def violation_points_default(kind: str) -> int:
    return int(rule(f"violation_points_{kind}"))


def violation_record(
    *,
    actor: Any,
    shop_id: int,
    kind: str,
    points: Any = None,
    order_id: int | None = None,
    case_id: int | None = None,
    compensation_fen: int = 0,
    note: str = "",
) -> Violation:
    """Record a rule breach against a shop. ``actor`` None is the system (a timer or a
    ruling); an operator recording one by hand needs "violation.record". Runs in the
    caller's transaction."""
    from jishi.accounts.permissions import operator_require

    if actor is not None:
        operator_require(actor, "violation.record")
    if kind not in ViolationKind.values:
        raise field_error("kind", _("Choose a kind of violation."), ShopError.VIOLATION_INVALID)
    if not Shop.objects.filter(pk=shop_id).exists():
        raise NotFound(message=_("Shop not found."))
    if order_id is not None:
        from jishi.orders.models import Order

        if not Order.objects.filter(pk=order_id, shop_id=shop_id).exists():
            raise field_error(
                "order_id", _("This order is not one of the shop's."), ShopError.VIOLATION_INVALID
            )
    if points in (None, ""):
        points = violation_points_default(kind)
    points = clean_int(points, field="points", minimum=0, maximum=48)
    note = clean_text(note, field="note", max_length=500, required=actor is not None)
    if order_id is not None:
        existing = Violation.objects.filter(order_id=order_id, kind=kind, shop_id=shop_id).first()
        if existing is not None:  # one of a kind per order: a retried timer never doubles it
            return existing
    violation = Violation.objects.create(
        shop_id=shop_id,
        kind=kind,
        points=points,
        order_id=order_id,
        case_id=case_id,
        compensation_fen=compensation_fen,
        note=note,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="violation.record",
        obj=violation,
        after={"kind": kind, "points": points, "order_id": order_id, "note": note},
    )
    owner = Shop.objects.get(pk=shop_id).owner
    notify(
        user=owner,
        kind="violation_recorded",
        link="/seller/violations/",
        params={
            "kind": english_label(ViolationKind(kind).label),
            "points": points,
            "order": order_id or "",
        },
    )
    return violation
