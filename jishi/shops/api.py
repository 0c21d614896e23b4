"""Shops API: the public shop list and pages; a seller's own shop and its staff."""

from datetime import datetime

from django.http import HttpRequest
from ninja import File, Router, Schema, UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Id,
    Text,
    acting_user,
    auth_errors,
    errors,
    file_url,
)
from jishi.shops import selectors, services
from jishi.shops.models import ShopType, StaffRole
from jishi.shops.permissions import shop_require

router = Router(tags=["shops"])


# --- schemas ----------------------------------------------------------------------------------


class ShopOut(Schema):
    id: int
    name: str
    shop_type: str
    logo_url: str | None
    description: str
    province: str
    city: str
    status: str
    created_at: datetime

    @staticmethod
    def resolve_logo_url(obj) -> str | None:
        return file_url(obj.logo)


class MyShopOut(ShopOut):
    role: str


class ShopOpenIn(Schema):
    name: Text
    shop_type: ShopType = ShopType.C2C
    description: Text = ""
    province: Text = ""
    city: Text = ""


class ShopPatchIn(Schema):
    name: Text | None = None
    description: Text | None = None
    province: Text | None = None
    city: Text | None = None


class StaffOut(Schema):
    id: int
    user_id: int
    username: str
    role: str
    is_active: bool
    created_at: datetime

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.user.username


class StaffCreateIn(Schema):
    username: Text
    password: Text
    role: StaffRole


class StaffPatchIn(Schema):
    role: StaffRole | None = None
    is_active: bool | None = None


def _my_shop(membership):
    shop = membership.shop
    shop.role = membership.role  # for MyShopOut; never saved
    return shop


# --- public -----------------------------------------------------------------------------------


@router.get("", auth=None, response={200: list[ShopOut], **errors()})
@paginate(CappedLimitOffsetPagination)
def shop_list(request: HttpRequest):
    """Open shops."""
    return selectors.shop_list_public()


# --- the seller's own shop (declared before /{shop_id} so "mine" is not read as an id) --------


@router.post("", response={201: MyShopOut, **auth_errors(400)})
def shop_open(request: HttpRequest, payload: ShopOpenIn):
    """Open a shop. Only a seller with approved real-name verification may; one shop each."""
    actor = acting_user(request)
    services.shop_open(
        user=actor,
        name=payload.name,
        shop_type=payload.shop_type,
        description=payload.description,
        province=payload.province,
        city=payload.city,
    )
    return Status(201, _my_shop(shop_require(actor, "shop.view")))


@router.get("/mine", response={200: MyShopOut, **auth_errors(404)})
def shop_mine(request: HttpRequest):
    """The shop the caller owns or works for, with the caller's staff role."""
    return _my_shop(shop_require(acting_user(request), "shop.view"))


@router.patch("/mine", response={200: MyShopOut, **auth_errors(400, 403, 404)})
def shop_mine_update(request: HttpRequest, payload: ShopPatchIn):
    """Change the shop's settings (owner only). Fields left out keep their value."""
    actor = acting_user(request)
    shop = shop_require(actor, "shop.edit").shop
    changes = payload.model_dump(exclude_none=True)
    services.shop_update(
        actor=actor,
        name=changes.get("name", shop.name),
        description=changes.get("description", shop.description),
        province=changes.get("province", shop.province),
        city=changes.get("city", shop.city),
    )
    return _my_shop(shop_require(actor, "shop.view"))


@router.post("/mine/logo", response={200: MyShopOut, **auth_errors(400, 403, 404)})
def shop_mine_logo(request: HttpRequest, logo: File[UploadedFile]):
    """Upload a new logo (multipart field ``logo``; JPEG, PNG, WebP or GIF up to 5 MB)."""
    actor = acting_user(request)
    shop = shop_require(actor, "shop.edit").shop
    services.shop_update(
        actor=actor,
        name=shop.name,
        description=shop.description,
        province=shop.province,
        city=shop.city,
        logo=logo,
    )
    return _my_shop(shop_require(actor, "shop.view"))


@router.get("/mine/staff", response={200: list[StaffOut], **auth_errors(403, 404)})
@paginate(CappedLimitOffsetPagination)
def staff_list(request: HttpRequest):
    """The shop's staff sub-accounts (owner only)."""
    membership = shop_require(acting_user(request), "staff.manage")
    return selectors.staff_list(shop=membership.shop)


@router.post("/mine/staff", response={201: StaffOut, **auth_errors(400, 403, 404)})
def staff_create(request: HttpRequest, payload: StaffCreateIn):
    """Create a staff sub-account with its own login (customer service or warehouse)."""
    staff = services.staff_create(
        actor=acting_user(request),
        username=payload.username,
        password=payload.password,
        role=payload.role,
    )
    return Status(201, staff)


@router.patch("/mine/staff/{staff_id}", response={200: StaffOut, **auth_errors(400, 403, 404)})
def staff_update(request: HttpRequest, staff_id: Id, payload: StaffPatchIn):
    """Change a staff member's role, or deactivate them (``is_active: false``)."""
    actor = acting_user(request)
    membership = shop_require(actor, "staff.manage")
    current = selectors.staff_list(shop=membership.shop).filter(pk=staff_id).first()
    staff = services.staff_update(
        actor=actor,
        staff_id=staff_id,
        role=payload.role or (current.role if current else StaffRole.SERVICE),
        is_active=payload.is_active
        if payload.is_active is not None
        else (current.is_active if current else True),
    )
    return staff


# --- public shop page -------------------------------------------------------------------------


@router.get("/{shop_id}", auth=None, response={200: ShopOut, **errors(404)})
def shop_detail(request: HttpRequest, shop_id: Id):
    return selectors.shop_get_public(shop_id=shop_id)
