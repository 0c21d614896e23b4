"""Operator console API: seller verification, categories and product moderation.

Each operation needs the operator role that allows it (403 otherwise).
"""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from jishi.accounts import selectors as account_selectors
from jishi.accounts import services as account_services
from jishi.accounts.models import VerificationStatus
from jishi.accounts.permissions import operator_require
from jishi.catalog import selectors as catalog_selectors
from jishi.catalog import services as catalog_services
from jishi.catalog.models import ProductStatus
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    Count,
    Id,
    Text,
    acting_user,
    auth_errors,
)

router = Router(tags=["console"])


# --- schemas ----------------------------------------------------------------------------------


class VerificationReviewOut(Schema):
    id: int
    user_id: int
    username: str
    real_name: str
    id_number_masked: str
    bank_name: str
    bank_card_masked: str
    status: str
    reason: str
    created_at: datetime
    decided_at: datetime | None
    decided_by_id: int | None

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.user.username


class DecideIn(Schema):
    approve: bool
    reason: Text = ""


class ConsoleCategoryOut(Schema):
    id: int
    parent_id: int | None
    name: str
    name_en: str
    icon: str
    commission_rate_bp: int
    position: int
    is_active: bool
    depth: int = 1
    product_count: int = 0


class CategoryCreateIn(Schema):
    name: Text
    parent_id: Id | None = None
    name_en: Text = ""
    icon: Text = ""
    commission_rate_bp: Count | None = None
    position: Count = 0


class CategoryUpdateIn(Schema):
    """Fields left out (or null) keep their value."""

    name: Text | None = None
    name_en: Text | None = None
    icon: Text | None = None
    commission_rate_bp: Count | None = None
    position: Count | None = None
    is_active: bool | None = None


class ModeratedProductOut(Schema):
    id: int
    title: str
    shop_id: int
    shop_name: str
    category_id: int
    status: str
    ban_reason: str
    is_featured: bool
    price_min_fen: int
    stock_total: int

    @staticmethod
    def resolve_shop_name(obj) -> str:
        return obj.shop.name


class TakeDownIn(Schema):
    reason: Text


class FeatureIn(Schema):
    featured: bool = True


# --- seller verification ----------------------------------------------------------------------


@router.get("/verifications", response={200: list[VerificationReviewOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def verification_list(
    request: HttpRequest, status: VerificationStatus = VerificationStatus.PENDING
):
    """Real-name verifications by status, for seller reviewers."""
    operator_require(acting_user(request), "verification.decide")
    return account_selectors.verification_queue(status=status).order_by("id")


@router.post(
    "/verifications/{verification_id}/decide",
    response={200: VerificationReviewOut, **auth_errors(400, 403, 404)},
)
def verification_decide(request: HttpRequest, verification_id: Id, payload: DecideIn):
    """Approve, or reject with a reason the seller will read."""
    return account_services.verification_decide(
        operator=acting_user(request),
        verification_id=verification_id,
        approve=payload.approve,
        reason=payload.reason,
    )


# --- categories -------------------------------------------------------------------------------


@router.get("/categories", response={200: list[ConsoleCategoryOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def category_list(request: HttpRequest):
    """Every category, inactive ones too, depth-first."""
    operator_require(acting_user(request), "console.view")
    return catalog_selectors.category_list_for_console()


@router.post("/categories", response={201: ConsoleCategoryOut, **auth_errors(400, 403)})
def category_create(request: HttpRequest, payload: CategoryCreateIn):
    """Add a category; the commission rate is in basis points (200 = 2 %, the default)."""
    category = catalog_services.category_create(
        operator=acting_user(request), **payload.model_dump()
    )
    return Status(201, catalog_selectors.category_get_for_console(category_id=category.pk))


@router.put(
    "/categories/{category_id}", response={200: ConsoleCategoryOut, **auth_errors(400, 403, 404)}
)
def category_update(request: HttpRequest, category_id: Id, payload: CategoryUpdateIn):
    """Change a category; fields left out keep their value. A new commission rate applies to
    orders placed from now on."""
    category = catalog_services.category_update(
        operator=acting_user(request),
        category_id=category_id,
        **payload.model_dump(exclude_unset=True),
    )
    return catalog_selectors.category_get_for_console(category_id=category.pk)


# --- product moderation -----------------------------------------------------------------------


@router.get("/products", response={200: list[ModeratedProductOut], **auth_errors(403)})
@paginate(CappedLimitOffsetPagination)
def product_list(request: HttpRequest, q: Text = "", status: ProductStatus | None = None):
    """All products of all shops, for moderation."""
    operator_require(acting_user(request), "product.moderate")
    return catalog_selectors.product_list_for_console(q=q, status=status or "")


@router.post(
    "/products/{product_id}/take-down",
    response={200: ModeratedProductOut, **auth_errors(400, 403, 404)},
)
def product_take_down(request: HttpRequest, product_id: Id, payload: TakeDownIn):
    """Take a product off the market; the seller is told the reason and cannot relist it."""
    return catalog_services.product_take_down(
        operator=acting_user(request), product_id=product_id, reason=payload.reason
    )


@router.post(
    "/products/{product_id}/feature", response={200: ModeratedProductOut, **auth_errors(403, 404)}
)
def product_feature(request: HttpRequest, product_id: Id, payload: FeatureIn):
    """Feature a product on the home page (or stop featuring it)."""
    return catalog_services.product_feature(
        operator=acting_user(request), product_id=product_id, featured=payload.featured
    )
