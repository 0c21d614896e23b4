"""Accounts services: registration, login, passwords, payment PIN, addresses, tokens."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from jishi.accounts import selectors, services
from jishi.accounts.errors import AccountError
from jishi.accounts.models import Address, ApiToken, Notification, PaymentPin, User
from jishi.core import clock
from jishi.core.errors import CoreError, DomainError, Locked, NotFound
from jishi.core.models import AuditLog, OutboxMessage
from jishi.core.rules import rule_set

pytestmark = pytest.mark.django_db

GOOD_PIN = "258036"


def kinds(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True)
    )


def actions(obj=None) -> list[str]:
    qs = AuditLog.objects.order_by("id")
    if obj is not None:
        qs = qs.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return list(qs.values_list("action", flat=True))


# --- registration -----------------------------------------------------------------------------


def test_register_creates_user_with_hashed_password_and_audit():
    user = services.user_register(
        username="茶农小王", password="Jishi2024pass", phone="13800138000", email="w@example.com"
    )
    user.refresh_from_db()
    assert user.check_password("Jishi2024pass")
    assert user.password != "Jishi2024pass"
    assert user.phone == "13800138000"
    assert "user.register" in actions(user)


def test_register_duplicate_username_is_case_insensitive(make_user):
    make_user(username="Alice")
    with pytest.raises(DomainError) as exc:
        services.user_register(username="aLICE", password="Jishi2024pass")
    assert exc.value.code == AccountError.USERNAME_TAKEN
    assert exc.value.extra["fields"].keys() == {"username"}
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize("username", ["", "ab", "x" * 33, "has space", "semi;colon", "<b>"])
def test_register_invalid_username(username):
    with pytest.raises(DomainError) as exc:
        services.user_register(username=username, password="Jishi2024pass")
    assert exc.value.code == AccountError.USERNAME_INVALID
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("ab1", "too short"),
        ("", "too short"),
        ("83920174650213", "entirely numeric"),
        ("bambooforest", "letters and digits"),
        ("password1", "too common"),
    ],
)
def test_register_weak_passwords(password, reason):
    with translation.override("en"), pytest.raises(DomainError) as exc:
        services.user_register(username="weakling", password=password)
    assert exc.value.code == AccountError.PASSWORD_WEAK
    with translation.override("en"):
        assert reason in str(exc.value.message)
        assert reason in exc.value.extra["fields"]["password"]
    assert not User.objects.exists()


def test_register_password_like_username_is_weak():
    with pytest.raises(DomainError) as exc:
        services.user_register(username="bamboo2024", password="bamboo2024")
    assert exc.value.code == AccountError.PASSWORD_WEAK


@pytest.mark.parametrize("phone", ["12345", "23800138000", "1380013800", "1380013800a", "+86138"])
def test_register_invalid_phone(phone):
    with pytest.raises(DomainError) as exc:
        services.user_register(username="phoney", password="Jishi2024pass", phone=phone)
    assert exc.value.code == AccountError.PHONE_INVALID
    assert not User.objects.exists()


@pytest.mark.parametrize("phone", ["13800138000", "19912345678", "0572-5123456", "01012345678"])
def test_register_valid_phone(phone):
    assert (
        services.user_register(username="phoney", password="Jishi2024pass", phone=phone).phone
        == phone
    )


def test_register_overlong_email():
    with pytest.raises(DomainError) as exc:
        services.user_register(
            username="mailer", password="Jishi2024pass", email="a" * 250 + "@x.cn"
        )
    assert exc.value.code == CoreError.TEXT_TOO_LONG


@pytest.mark.parametrize("email", ["bad", "a@", "@example.com", "two@@example.com", "a b@x.cn"])
def test_register_invalid_email(email):
    with pytest.raises(DomainError) as exc:
        services.user_register(username="mailer", password="Jishi2024pass", email=email)
    assert exc.value.code == AccountError.EMAIL_INVALID
    assert exc.value.extra["fields"].keys() == {"email"}
    assert not User.objects.exists()


def test_password_validator_messages_are_chinese():
    """Django 5.2's "too short" message is missing from its zh_Hans catalog; ours has it."""
    for password, expected in [
        ("ab1", "密码长度太短。密码必须包含至少 8 个字符。"),
        ("password1", "这个密码太常见了。"),
        ("83920174650213", "密码只包含数字。"),
        ("mailer2024", "密码跟 用户名 太相似了。"),
    ]:
        with translation.override("zh-hans"), pytest.raises(DomainError) as exc:
            services.user_register(username="mailer2024", password=password)
        with translation.override("zh-hans"):
            assert expected in exc.value.extra["fields"]["password"], password


# --- login ------------------------------------------------------------------------------------


def test_login_success_and_failures(make_user):
    user = make_user(username="buyer1")
    assert (
        services.user_authenticate(request=None, username=" buyer1 ", password=user.raw_password)
        == user
    )
    for username, password in [
        ("buyer1", "wrong-pass1"),
        ("nobody", user.raw_password),
        ("buyer1", ""),
        ("", ""),
    ]:
        with pytest.raises(DomainError) as exc:
            services.user_authenticate(request=None, username=username, password=password)
        assert exc.value.code == AccountError.LOGIN_FAILED


def test_login_refused_for_inactive_user(make_user):
    user = make_user()
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(DomainError) as exc:
        services.user_authenticate(request=None, username=user.username, password=user.raw_password)
    assert exc.value.code == AccountError.LOGIN_FAILED


# --- password change --------------------------------------------------------------------------


def test_password_change_wrong_old_password_changes_nothing(make_user):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.password_change(user=user, old_password="not-it-123", new_password="NewSecret2025")
    assert exc.value.code == AccountError.PASSWORD_WRONG
    assert list(exc.value.extra["fields"]) == ["old_password"]  # the request's field name
    user.refresh_from_db()
    assert user.check_password(user.raw_password)
    assert kinds(user) == []
    assert "password.change" not in actions()


def test_password_change_weak_new_password(make_user):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.password_change(user=user, old_password=user.raw_password, new_password="abc")
    assert exc.value.code == AccountError.PASSWORD_WEAK
    assert "new_password" in exc.value.extra["fields"]
    user.refresh_from_db()
    assert user.check_password(user.raw_password)


def test_password_change_notifies_and_audits(make_user):
    user = make_user()
    services.password_change(
        user=user, old_password=user.raw_password, new_password="NewSecret2025"
    )
    user.refresh_from_db()
    assert user.check_password("NewSecret2025")
    assert kinds(user) == ["password_changed"]
    assert "password.change" in actions(user)
    note = Notification.objects.get(user=user)
    assert OutboxMessage.objects.filter(
        topic="notification.deliver", payload={"notification_id": note.pk}
    ).exists()


# --- payment PIN ------------------------------------------------------------------------------


def fresh(user) -> User:
    """The user as a new request (or a restarted server) would load it."""
    return User.objects.get(pk=user.pk)


def pin_row(user) -> PaymentPin:
    return PaymentPin.objects.get(user_id=user.pk)


@pytest.fixture
def pin_user(make_user):
    user = make_user()
    services.payment_pin_set(user=user, password=user.raw_password, pin=GOOD_PIN)
    return user


def test_pin_set_requires_login_password(make_user):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.payment_pin_set(user=user, password="wrong-pass1", pin=GOOD_PIN)
    assert exc.value.code == AccountError.PASSWORD_WRONG
    assert not PaymentPin.objects.exists()
    assert kinds(user) == []


@pytest.mark.parametrize(
    "pin",
    ["", "12345", "1234567", "12a456", "25 036", "２５８０３６", "٢٥٨٠٣٦", "-25803", "2580.3"],
)
def test_pin_must_be_six_ascii_digits(make_user, pin):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.payment_pin_set(user=user, password=user.raw_password, pin=pin)
    assert exc.value.code == AccountError.PIN_INVALID
    assert not PaymentPin.objects.exists()


@pytest.mark.parametrize("pin", ["000000", "111111", "999999", "123456", "654321", "345678"])
def test_weak_pin_refused(make_user, pin):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.payment_pin_set(user=user, password=user.raw_password, pin=pin)
    assert exc.value.code == AccountError.PIN_WEAK
    assert not PaymentPin.objects.exists()


def test_pin_set_stores_a_hash_notifies_and_audits(pin_user):
    row = pin_row(pin_user)
    assert GOOD_PIN not in row.pin_hash
    assert kinds(pin_user) == ["pin_set"]
    assert "payment_pin.set" in actions(pin_user)
    services.payment_pin_verify(user=fresh(pin_user), pin=GOOD_PIN)


def test_pin_not_set():
    user = services.user_register(username="nopin", password="Jishi2024pass")
    with pytest.raises(DomainError) as exc:
        services.payment_pin_verify(user=user, pin=GOOD_PIN)
    assert exc.value.code == AccountError.PIN_NOT_SET


def test_wrong_pin_counts_down_and_locks_for_three_hours(pin_user):
    with pytest.raises(DomainError) as exc:
        services.payment_pin_verify(user=fresh(pin_user), pin="111222")
    assert exc.value.code == AccountError.PIN_WRONG
    assert exc.value.status_code == 400
    assert exc.value.extra["attempts_left"] == 2
    assert pin_row(pin_user).failed_attempts == 1

    with pytest.raises(DomainError) as exc:
        services.payment_pin_verify(user=fresh(pin_user), pin="")
    assert exc.value.code == AccountError.PIN_WRONG
    assert exc.value.extra["attempts_left"] == 1
    assert pin_row(pin_user).failed_attempts == 2

    started = clock.now()
    with pytest.raises(Locked) as exc:
        services.payment_pin_verify(user=fresh(pin_user), pin="999000")
    assert exc.value.code == AccountError.PIN_LOCKED
    assert exc.value.status_code == 423
    row = pin_row(pin_user)
    assert row.locked_until is not None
    assert timedelta(hours=3) <= row.locked_until - started < timedelta(hours=3, seconds=5)
    assert kinds(pin_user) == ["pin_set", "pin_locked"]
    assert Notification.objects.get(user=pin_user, kind="pin_locked").params["attempts"] == 3
    assert "payment_pin.locked" in actions(pin_user)

    # the correct PIN is refused while locked, and does not shorten the lock
    with pytest.raises(Locked):
        services.payment_pin_verify(user=fresh(pin_user), pin=GOOD_PIN)
    assert pin_row(pin_user).locked_until == row.locked_until

    clock.advance(timedelta(hours=3) - timedelta(seconds=5))
    with pytest.raises(Locked):
        services.payment_pin_verify(user=fresh(pin_user), pin=GOOD_PIN)

    clock.advance(timedelta(seconds=6))
    services.payment_pin_verify(user=fresh(pin_user), pin=GOOD_PIN)
    row = pin_row(pin_user)
    assert row.failed_attempts == 0
    assert row.locked_until is None


def test_pin_count_lives_in_the_database(pin_user):
    """Two wrong PINs from one 'process', the third from another: the lock still happens."""
    for _ in range(2):
        with pytest.raises(DomainError):
            services.payment_pin_verify(user=fresh(pin_user), pin="111222")
    assert (
        PaymentPin.objects.filter(user=pin_user).values_list("failed_attempts", flat=True).get()
        == 2
    )
    with pytest.raises(Locked):
        services.payment_pin_verify(user=fresh(pin_user), pin="111222")


def test_correct_pin_resets_the_count(pin_user):
    with pytest.raises(DomainError):
        services.payment_pin_verify(user=pin_user, pin="111222")
    services.payment_pin_verify(user=pin_user, pin=GOOD_PIN)
    assert pin_row(pin_user).failed_attempts == 0
    for expected_left in (2, 1):
        with pytest.raises(DomainError) as exc:
            services.payment_pin_verify(user=pin_user, pin="111222")
        assert exc.value.extra["attempts_left"] == expected_left


def test_pin_attempts_follow_the_rule(pin_user, make_operator):
    rule_set(actor=make_operator("admin"), name="payment_pin_attempts_max", value=5)
    for expected_left in (4, 3, 2, 1):
        with pytest.raises(DomainError) as exc:
            services.payment_pin_verify(user=pin_user, pin="111222")
        assert exc.value.extra["attempts_left"] == expected_left
    with pytest.raises(Locked):
        services.payment_pin_verify(user=pin_user, pin="111222")


def test_pin_change_requires_password_and_keeps_an_active_lockout(pin_user):
    for _ in range(3):
        with pytest.raises(DomainError):
            services.payment_pin_verify(user=pin_user, pin="111222")
    locked_until = pin_row(pin_user).locked_until
    assert locked_until is not None

    with pytest.raises(DomainError) as exc:
        services.payment_pin_set(user=pin_user, password="wrong-pass1", pin="481357")
    assert exc.value.code == AccountError.PASSWORD_WRONG

    services.payment_pin_set(user=pin_user, password=pin_user.raw_password, pin="481357")
    row = pin_row(pin_user)
    assert row.failed_attempts == 0
    assert row.locked_until == locked_until  # a new PIN does not lift the 3-hour lock
    assert kinds(pin_user)[-1] == "pin_changed"
    assert "payment_pin.changed" in actions(pin_user)
    with pytest.raises(Locked):
        services.payment_pin_verify(user=fresh(pin_user), pin="481357")
    clock.advance(timedelta(hours=3, seconds=1))
    services.payment_pin_verify(user=fresh(pin_user), pin="481357")
    with pytest.raises(DomainError) as exc:
        services.payment_pin_verify(user=fresh(pin_user), pin=GOOD_PIN)
    assert exc.value.code == AccountError.PIN_WRONG


def test_pin_selector_status(pin_user):
    assert selectors.payment_pin_status(user=pin_user).is_set
    for _ in range(3):
        with pytest.raises(DomainError):
            services.payment_pin_verify(user=pin_user, pin="111222")
    assert selectors.payment_pin_status(user=pin_user).locked_until is not None
    clock.advance(timedelta(hours=3, seconds=1))
    assert selectors.payment_pin_status(user=pin_user).locked_until is None


# --- addresses --------------------------------------------------------------------------------

ADDRESS = {
    "recipient": "李四",
    "phone": "13800138000",
    "province": "浙江省",
    "city": "湖州市",
    "district": "安吉县",
    "detail": "递铺街道竹乡路 1 号",
    "postal_code": "313300",
}


def defaults(user) -> list[int]:
    return list(Address.objects.filter(user=user, is_default=True).values_list("pk", flat=True))


def test_first_address_is_default_and_default_moves(make_user):
    user = make_user()
    first = services.address_create(user=user, **ADDRESS)
    assert first.is_default
    second = services.address_create(user=user, **ADDRESS)
    assert not second.is_default
    assert defaults(user) == [first.pk]
    third = services.address_create(user=user, is_default=True, **ADDRESS)
    assert defaults(user) == [third.pk]
    services.address_set_default(user=user, address_id=second.pk)
    assert defaults(user) == [second.pk]
    services.address_update(
        user=user, address_id=first.pk, is_default=True, **{**ADDRESS, "recipient": "王五"}
    )
    assert defaults(user) == [first.pk]
    first.refresh_from_db()
    assert first.recipient == "王五"


def test_deleting_default_promotes_another(make_user):
    user = make_user()
    first = services.address_create(user=user, **ADDRESS)
    second = services.address_create(user=user, **ADDRESS)
    services.address_delete(user=user, address_id=first.pk)
    assert defaults(user) == [second.pk]
    services.address_delete(user=user, address_id=second.pk)
    assert not Address.objects.filter(user=user).exists()


def test_deleting_non_default_keeps_default(make_user):
    user = make_user()
    first = services.address_create(user=user, **ADDRESS)
    second = services.address_create(user=user, **ADDRESS)
    services.address_delete(user=user, address_id=second.pk)
    assert defaults(user) == [first.pk]


def test_at_most_twenty_addresses(make_user):
    user = make_user()
    for _ in range(20):
        services.address_create(user=user, **ADDRESS)
    with pytest.raises(DomainError) as exc:
        services.address_create(user=user, **ADDRESS)
    assert exc.value.code == AccountError.ADDRESS_LIMIT
    assert Address.objects.filter(user=user).count() == 20
    assert len(defaults(user)) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"province": "火星省"}, AccountError.PROVINCE_INVALID),
        ({"province": "浙江"}, AccountError.PROVINCE_INVALID),
        ({"phone": "12345"}, AccountError.PHONE_INVALID),
        ({"phone": "138001380001"}, AccountError.PHONE_INVALID),
        ({"recipient": "  "}, CoreError.FIELD_REQUIRED),
        ({"detail": "路" * 121}, CoreError.TEXT_TOO_LONG),
        ({"recipient": "名" * 26}, CoreError.TEXT_TOO_LONG),
        ({"postal_code": "31330"}, CoreError.VALIDATION),
    ],
)
def test_address_bad_input(make_user, change, code):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.address_create(user=user, **{**ADDRESS, **change})
    assert exc.value.code == code
    assert not Address.objects.exists()


def test_address_update_bad_input_changes_nothing(make_user):
    user = make_user()
    address = services.address_create(user=user, **ADDRESS)
    with pytest.raises(DomainError):
        services.address_update(
            user=user, address_id=address.pk, **{**ADDRESS, "recipient": "王五", "phone": "1"}
        )
    address.refresh_from_db()
    assert address.recipient == "李四"


def test_another_users_address_is_not_found(make_user):
    owner, other = make_user(), make_user()
    address = services.address_create(user=owner, **ADDRESS)
    with pytest.raises(NotFound):
        services.address_update(
            user=other, address_id=address.pk, **{**ADDRESS, "recipient": "王五"}
        )
    with pytest.raises(NotFound):
        services.address_delete(user=other, address_id=address.pk)
    with pytest.raises(NotFound):
        services.address_set_default(user=other, address_id=address.pk)
    with pytest.raises(NotFound):
        services.address_delete(user=owner, address_id=address.pk + 1000)
    address.refresh_from_db()
    assert address.recipient == "李四"
    assert list(selectors.address_list_for_user(user=other)) == []


def test_address_phone_masked_for_anyone_but_the_owner(make_user, make_operator):
    owner, other = make_user(), make_user()
    address = services.address_create(user=owner, **ADDRESS)
    assert selectors.address_phone_for(address=address, viewer=owner) == "13800138000"
    for viewer in (other, make_operator("admin"), AnonymousUser(), None):
        assert selectors.address_phone_for(address=address, viewer=viewer) == "138****8000"
    landline = services.address_create(user=owner, **{**ADDRESS, "phone": "0572-5123456"})
    masked = selectors.address_phone_for(address=landline, viewer=other)
    assert masked.startswith("0572") and masked.endswith("56")
    assert "5123" not in masked


# --- API tokens -------------------------------------------------------------------------------


def test_api_token_create_authenticate_revoke(make_user):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        services.api_token_create(user=user, password="wrong-pass1", name="erp")
    assert exc.value.code == AccountError.PASSWORD_WRONG
    assert not ApiToken.objects.exists()

    token, key = services.api_token_create(user=user, password=user.raw_password, name="erp")
    assert key.startswith("jsk_")
    row = ApiToken.objects.get(pk=token.pk)
    assert key not in (row.key_hash, row.prefix, row.name)
    assert kinds(user) == ["api_token_created"]
    assert "api_token.create" in actions(token)

    assert services.api_token_authenticate(key=key) == user
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    assert services.api_token_authenticate(key=key + "x") is None
    assert services.api_token_authenticate(key=key[4:]) is None
    assert services.api_token_authenticate(key="") is None

    other = make_user()
    with pytest.raises(NotFound):
        services.api_token_revoke(user=other, token_id=token.pk)
    assert services.api_token_authenticate(key=key) == user

    services.api_token_revoke(user=user, token_id=token.pk)
    assert services.api_token_authenticate(key=key) is None
    with pytest.raises(NotFound):
        services.api_token_revoke(user=user, token_id=token.pk)


def test_api_token_of_inactive_user_does_not_authenticate(make_user):
    user = make_user()
    _token, key = services.api_token_create(user=user, password=user.raw_password, name="erp")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert services.api_token_authenticate(key=key) is None


def test_api_token_name_required_and_bounded(make_user):
    user = make_user()
    for name, code in [("", CoreError.FIELD_REQUIRED), ("n" * 61, CoreError.TEXT_TOO_LONG)]:
        with pytest.raises(DomainError) as exc:
            services.api_token_create(user=user, password=user.raw_password, name=name)
        assert exc.value.code == code
    assert not ApiToken.objects.exists()


# --- notifications ----------------------------------------------------------------------------


def test_notification_mark_read(make_user):
    user, other = make_user(), make_user()
    services.password_change(
        user=user, old_password=user.raw_password, new_password="NewSecret2025"
    )
    services.payment_pin_set(user=user, password="NewSecret2025", pin=GOOD_PIN)
    services.payment_pin_set(user=other, password=other.raw_password, pin=GOOD_PIN)
    assert selectors.notification_unread_count(user=user) == 2
    first = Notification.objects.filter(user=user).order_by("id").first()
    other_note = Notification.objects.get(user=other)
    assert (
        services.notification_mark_read(user=user, notification_ids=[first.pk, other_note.pk]) == 1
    )
    assert selectors.notification_unread_count(user=user) == 1
    assert selectors.notification_unread_count(user=other) == 1
    assert services.notification_mark_read(user=user) == 1
    assert selectors.notification_unread_count(user=user) == 0


def test_notification_renders_title_and_body(make_user):
    user = make_user()
    services.payment_pin_set(user=user, password=user.raw_password, pin=GOOD_PIN)
    note = Notification.objects.get(user=user)
    with translation.override("en"):
        assert note.title == "Payment PIN set"
        assert "was set for your account" in note.body
        assert "%(" not in note.body
