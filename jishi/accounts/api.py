"""Accounts API: registration, login, password, payment PIN, addresses, notifications,
real-name verification, bank card and API tokens."""

from datetime import datetime

from django.contrib.auth import SESSION_KEY, login, logout, update_session_auth_hash
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status
from ninja.utils import check_csrf

from jishi.accounts import selectors, services
from jishi.core.schemas import (
    CappedLimitOffsetPagination,
    CountOut,
    Id,
    OkOut,
    Text,
    acting_user,
    auth_errors,
    errors,
)
from jishi.shops.permissions import membership_of

router = Router(tags=["accounts"])


# --- schemas ----------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    email: str
    phone: str
    date_joined: datetime


class ShopMembershipOut(Schema):
    shop_id: int
    shop_name: str
    role: str


class PaymentPinStateOut(Schema):
    is_set: bool
    locked_until: datetime | None


class MeOut(UserOut):
    is_operator: bool
    operator_role: str
    is_verified: bool
    shop: ShopMembershipOut | None
    payment_pin: PaymentPinStateOut


class RegisterIn(Schema):
    username: Text
    password: Text
    phone: Text = ""
    email: Text = ""


class LoginIn(Schema):
    username: Text
    password: Text


class CsrfOut(Schema):
    csrf_token: str


class PasswordIn(Schema):
    old_password: Text
    new_password: Text


class PinSetIn(Schema):
    password: Text
    pin: Text


class PinVerifyIn(Schema):
    pin: Text


class AddressIn(Schema):
    recipient: Text
    phone: Text
    province: Text
    city: Text
    district: Text
    detail: Text
    postal_code: Text = ""
    is_default: bool = False


class AddressOut(Schema):
    id: int
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    postal_code: str
    is_default: bool
    created_at: datetime

    @staticmethod
    def resolve_phone(obj, context) -> str:
        return selectors.address_phone_for(address=obj, viewer=acting_user(context["request"]))


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


NOTIFICATION_IDS_MAX = 1000


class NotificationsReadIn(Schema):
    ids: list[Id] | None = Field(
        None,
        max_length=NOTIFICATION_IDS_MAX,
        description="Leave out to mark every notification read.",
    )


class VerificationIn(Schema):
    real_name: Text
    id_number: Text
    bank_name: Text
    bank_card: Text


class VerificationOut(Schema):
    id: int
    real_name: str
    id_number_masked: str
    bank_name: str
    bank_card_masked: str
    status: str
    reason: str
    created_at: datetime
    decided_at: datetime | None


class BankCardIn(Schema):
    password: Text
    bank_name: Text
    card_number: Text


class BankCardOut(Schema):
    id: int
    holder_name: str
    bank_name: str
    card_masked: str
    created_at: datetime


class TokenIn(Schema):
    password: Text
    name: Text


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    key: str


def _me(user) -> dict:
    membership = membership_of(user)
    pin = selectors.payment_pin_status(user=user)
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "phone": user.phone,
        "date_joined": user.date_joined,
        "is_operator": bool(user.is_staff and user.operator_role),
        "operator_role": user.operator_role,
        "is_verified": selectors.user_is_verified(user=user),
        "shop": {
            "shop_id": membership.shop_id,
            "shop_name": membership.shop.name,
            "role": membership.role,
        }
        if membership
        else None,
        "payment_pin": {"is_set": pin.is_set, "locked_until": pin.locked_until},
    }


# --- registration and session -----------------------------------------------------------------


@router.post("/register", auth=None, response={201: UserOut, **errors(400)})
def register(request: HttpRequest, payload: RegisterIn):
    """Create a buyer account. Log in separately."""
    user = services.user_register(
        username=payload.username,
        password=payload.password,
        phone=payload.phone,
        email=payload.email,
    )
    return Status(201, user)


@router.get("/csrf", auth=None, response=CsrfOut)
def csrf(request: HttpRequest):
    """A CSRF token (also set as the csrftoken cookie), for session logins from scripts.

    Send it back in the ``X-CSRFToken`` header with every session-authenticated write.
    Programs that use a bearer token need no CSRF token.
    """
    return {"csrf_token": get_token(request)}


@router.post("/login", auth=None, response={200: MeOut, **errors(400, 403)})
def login_session(request: HttpRequest, payload: LoginIn):
    """Log in with a session cookie (needs a CSRF token, like the login page).

    Returns the account; the session key travels only in the HttpOnly cookie.
    """
    if check_csrf(request) is not None:
        raise HttpError(403, "CSRF check Failed")
    user = services.user_authenticate(
        request=request, username=payload.username, password=payload.password
    )
    login(request, user)
    return _me(user)


@router.post("/logout", response={204: None, **auth_errors()})
def logout_session(request: HttpRequest):
    logout(request)
    return Status(204, None)


@router.get("/me", response={200: MeOut, **auth_errors()})
def me(request: HttpRequest):
    return _me(acting_user(request))


@router.post("/password", response={200: OkOut, **auth_errors(400)})
def password_change(request: HttpRequest, payload: PasswordIn):
    user = acting_user(request)
    services.password_change(
        user=user, old_password=payload.old_password, new_password=payload.new_password
    )
    if request.session.get(SESSION_KEY):  # a browser session (not a token) stays logged in
        update_session_auth_hash(request, user)
    return {"ok": True}


# --- payment PIN ------------------------------------------------------------------------------


@router.post("/payment-pin", response={200: OkOut, **auth_errors(400)})
def payment_pin_set(request: HttpRequest, payload: PinSetIn):
    """Set or change the 6-digit payment PIN; the login password confirms it."""
    services.payment_pin_set(user=acting_user(request), password=payload.password, pin=payload.pin)
    return {"ok": True}


@router.post("/payment-pin/verify", response={200: OkOut, **auth_errors(400, 423)})
def payment_pin_verify(request: HttpRequest, payload: PinVerifyIn):
    """Check a payment PIN. Wrong PINs count: after 3, payments lock (423) for 3 hours."""
    services.payment_pin_verify(user=acting_user(request), pin=payload.pin)
    return {"ok": True}


# --- addresses --------------------------------------------------------------------------------


@router.get("/addresses", response={200: list[AddressOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def address_list(request: HttpRequest):
    return selectors.address_list_for_user(user=acting_user(request))


@router.post("/addresses", response={201: AddressOut, **auth_errors(400)})
def address_create(request: HttpRequest, payload: AddressIn):
    address = services.address_create(user=acting_user(request), **payload.model_dump())
    return Status(201, address)


@router.put("/addresses/{address_id}", response={200: AddressOut, **auth_errors(400, 404)})
def address_update(request: HttpRequest, address_id: Id, payload: AddressIn):
    return services.address_update(
        user=acting_user(request), address_id=address_id, **payload.model_dump()
    )


@router.delete("/addresses/{address_id}", response={204: None, **auth_errors(404)})
def address_delete(request: HttpRequest, address_id: Id):
    services.address_delete(user=acting_user(request), address_id=address_id)
    return Status(204, None)


@router.post("/addresses/{address_id}/default", response={200: AddressOut, **auth_errors(404)})
def address_set_default(request: HttpRequest, address_id: Id):
    return services.address_set_default(user=acting_user(request), address_id=address_id)


# --- notifications ----------------------------------------------------------------------------


@router.get("/notifications", response={200: list[NotificationOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def notification_list(request: HttpRequest, unread: bool = False):
    return selectors.notification_list_for_user(user=acting_user(request), unread_only=unread)


@router.post("/notifications/read", response={200: CountOut, **auth_errors()})
def notification_read(request: HttpRequest, payload: NotificationsReadIn | None = None):
    """Mark the given notifications read, or all of them when no ids are given."""
    ids = payload.ids if payload is not None else None
    updated = services.notification_mark_read(user=acting_user(request), notification_ids=ids)
    return {"updated": updated}


# --- real-name verification and bank card -----------------------------------------------------


@router.get("/verification", response={200: VerificationOut | None, **auth_errors()})
def verification_latest(request: HttpRequest):
    """The latest real-name verification record, or null if none was submitted."""
    return selectors.verification_latest(user=acting_user(request))


@router.post("/verification", response={201: VerificationOut, **auth_errors(400)})
def verification_submit(request: HttpRequest, payload: VerificationIn):
    """Submit real-name data for an operator to review. Numbers are stored masked."""
    record = services.verification_submit(user=acting_user(request), **payload.model_dump())
    return Status(201, record)


@router.post("/bank-card", response={201: BankCardOut, **auth_errors(400)})
def bank_card_change(request: HttpRequest, payload: BankCardIn):
    """Change the withdrawal card (verified sellers; the login password confirms it)."""
    card = services.bank_card_change(user=acting_user(request), **payload.model_dump())
    return Status(201, card)


@router.get("/bank-card", response={200: BankCardOut | None, **auth_errors()})
def bank_card_active(request: HttpRequest):
    return selectors.bank_card_active(user=acting_user(request))


# --- API tokens -------------------------------------------------------------------------------


@router.get("/tokens", response={200: list[TokenOut], **auth_errors()})
@paginate(CappedLimitOffsetPagination)
def token_list(request: HttpRequest):
    return selectors.api_token_list_for_user(user=acting_user(request))


@router.post("/tokens", response={201: TokenCreatedOut, **auth_errors(400)})
def token_create(request: HttpRequest, payload: TokenIn):
    """Create a token for programs. The key is shown this once; keep it secret."""
    token, key = services.api_token_create(
        user=acting_user(request), password=payload.password, name=payload.name
    )
    return Status(
        201,
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "key": key,
        },
    )


@router.delete("/tokens/{token_id}", response={204: None, **auth_errors(404)})
def token_revoke(request: HttpRequest, token_id: Id):
    services.api_token_revoke(user=acting_user(request), token_id=token_id)
    return Status(204, None)
