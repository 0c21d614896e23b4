"""/api/v1/accounts: registration, session, password, payment PIN, addresses, notifications,
verification, bank card and tokens — each with the right and the wrong user."""

from datetime import timedelta

import pytest
from django.test import Client

from jishi.accounts.models import Notification, PaymentPin, User
from jishi.accounts.notifications import notify
from jishi.core import clock
from jishi.core.models import AuditLog

from .helpers import ADDRESS, API, PASSWORD, ApiClient, error_code

# --- registration -----------------------------------------------------------------------------


def test_register_creates_a_buyer(db, anon):
    response = anon.post(
        "/accounts/register",
        {"username": "小明同学", "password": "Tea2024good", "phone": "13900001111"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "小明同学"
    assert "password" not in body
    assert User.objects.get(username="小明同学").check_password("Tea2024good")


def test_register_duplicate_username_is_refused(world, anon):
    response = anon.post("/accounts/register", {"username": "BUYER_A", "password": "Tea2024good"})
    assert response.status_code == 400
    assert error_code(response) == "username_taken"
    assert response.json()["extra"]["fields"]["username"]
    assert User.objects.filter(username__iexact="buyer_a").count() == 1


@pytest.mark.parametrize("password", ["short1", "12345678901", "onlyletters", "password1"])
def test_register_weak_password_is_refused(db, anon, password):
    response = anon.post("/accounts/register", {"username": "newbie", "password": password})
    assert response.status_code == 400
    assert error_code(response) == "password_weak"
    assert not User.objects.filter(username="newbie").exists()


def test_register_bad_email_is_a_field_error(db, anon):
    response = anon.post(
        "/accounts/register", {"username": "mailer", "password": "Tea2024good", "email": "bad"}
    )
    assert response.status_code == 400
    assert error_code(response) == "email_invalid"
    assert list(response.json()["extra"]["fields"]) == ["email"]
    assert not User.objects.filter(username="mailer").exists()


def test_register_short_password_message_is_chinese(db, anon):
    response = anon.post("/accounts/register", {"username": "newbie", "password": "ab1"})
    assert (
        response.json()["extra"]["fields"]["password"]
        == "密码长度太短。密码必须包含至少 8 个字符。"
    )


def test_register_bad_username_and_types(db, anon):
    assert error_code(
        anon.post("/accounts/register", {"username": "a b", "password": "Tea2024good"})
    ) == ("username_invalid")
    response = anon.post("/accounts/register", {"username": 12345, "password": "Tea2024good"})
    assert response.status_code == 422
    assert (
        anon.post(
            "/accounts/register", {"username": "x" * 500, "password": "Tea2024good"}
        ).status_code
        == 400
    )


# --- login and logout -------------------------------------------------------------------------


def test_login_creates_a_session_and_returns_nothing_secret(world):
    client = ApiClient()
    response = client.post("/accounts/login", {"username": "buyer_a", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "buyer_a"
    assert body["payment_pin"] == {"is_set": False, "locked_until": None}
    session_key = client.client.cookies["sessionid"].value
    assert session_key not in response.content.decode()
    assert "password" not in response.content.decode()
    assert client.get("/accounts/me").json()["id"] == world.buyer.pk


def test_login_wrong_password_is_refused(world, anon):
    response = anon.post("/accounts/login", {"username": "buyer_a", "password": "wrong1234"})
    assert response.status_code == 400
    assert error_code(response) == "login_failed"
    assert anon.get("/accounts/me").status_code == 401


def test_login_needs_a_csrf_token_like_the_login_page(world):
    client = ApiClient(csrf=True)
    credentials = {"username": "buyer_a", "password": PASSWORD}
    assert client.post("/accounts/login", credentials).status_code == 403
    token = client.get("/accounts/csrf").json()["csrf_token"]
    response = client.client.post(
        f"{API}/accounts/login",
        credentials,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert client.get("/accounts/me").status_code == 200


def test_logout_ends_the_session(world, api):
    client = api(world.buyer)
    assert client.post("/accounts/logout").status_code == 204
    assert client.get("/accounts/me").status_code == 401


def test_me_shows_roles_shop_and_verification(world, api):
    seller = api(world.seller).get("/accounts/me").json()
    assert seller["is_verified"] is True
    assert seller["shop"] == {"shop_id": world.shop.pk, "shop_name": "安吉茶园", "role": "owner"}
    staff = api(world.warehouse).get("/accounts/me").json()
    assert staff["shop"]["role"] == "warehouse"
    buyer = api(world.buyer).get("/accounts/me").json()
    assert buyer["shop"] is None and buyer["is_verified"] is False
    assert buyer["is_operator"] is False
    admin = api(world.admin).get("/accounts/me").json()
    assert admin["is_operator"] is True and admin["operator_role"] == "admin"


# --- password ---------------------------------------------------------------------------------


def test_password_change_keeps_the_session_and_notifies(world, api):
    client = api(world.buyer)
    response = client.post(
        "/accounts/password", {"old_password": PASSWORD, "new_password": "NewTea2025ok"}
    )
    assert response.status_code == 200
    assert client.get("/accounts/me").status_code == 200
    world.buyer.refresh_from_db()
    assert world.buyer.check_password("NewTea2025ok")
    assert Notification.objects.filter(user=world.buyer, kind="password_changed").exists()
    assert AuditLog.objects.filter(action="password.change", object_id=str(world.buyer.pk)).exists()


def test_password_change_with_a_token_sets_no_session(world, api):
    key = api(world.buyer).post("/accounts/tokens", {"password": PASSWORD, "name": "t"}).json()
    program = ApiClient(token=key["key"])
    response = program.post(
        "/accounts/password", {"old_password": PASSWORD, "new_password": "NewTea2025ok"}
    )
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert program.get("/accounts/me").status_code == 200


def test_password_change_with_wrong_old_password_or_weak_new(world, api):
    client = api(world.buyer)
    response = client.post(
        "/accounts/password", {"old_password": "nope12345", "new_password": "NewTea2025ok"}
    )
    assert response.status_code == 400
    assert error_code(response) == "password_wrong"
    assert list(response.json()["extra"]["fields"]) == ["old_password"]
    response = client.post("/accounts/password", {"old_password": PASSWORD, "new_password": "123"})
    assert error_code(response) == "password_weak"
    world.buyer.refresh_from_db()
    assert world.buyer.check_password(PASSWORD)


# --- payment PIN ------------------------------------------------------------------------------


def test_payment_pin_set_change_and_verify(world, api):
    client = api(world.buyer)
    assert (
        client.post("/accounts/payment-pin", {"password": PASSWORD, "pin": "135790"}).status_code
        == 200
    )
    assert client.get("/accounts/me").json()["payment_pin"]["is_set"] is True
    assert client.post("/accounts/payment-pin/verify", {"pin": "135790"}).json() == {"ok": True}
    assert (
        client.post("/accounts/payment-pin", {"password": PASSWORD, "pin": "246802"}).status_code
        == 200
    )
    assert client.post("/accounts/payment-pin/verify", {"pin": "246802"}).status_code == 200
    kinds = set(Notification.objects.filter(user=world.buyer).values_list("kind", flat=True))
    assert {"pin_set", "pin_changed"} <= kinds


@pytest.mark.parametrize(
    ("password", "pin", "code"),
    [
        ("wrong-pass1", "135790", "password_wrong"),
        (PASSWORD, "12345", "pin_invalid"),
        (PASSWORD, "12345a", "pin_invalid"),
        (PASSWORD, "123456", "pin_weak"),
        (PASSWORD, "888888", "pin_weak"),
    ],
)
def test_payment_pin_set_bad_input(world, api, password, pin, code):
    response = api(world.buyer).post("/accounts/payment-pin", {"password": password, "pin": pin})
    assert response.status_code == 400
    assert error_code(response) == code
    assert not PaymentPin.objects.filter(user=world.buyer).exists()


def test_payment_pin_as_a_number_is_422(world, api):
    response = api(world.buyer).post("/accounts/payment-pin", {"password": PASSWORD, "pin": 135790})
    assert response.status_code == 422


def test_payment_pin_verify_without_a_pin(world, api):
    response = api(world.buyer).post("/accounts/payment-pin/verify", {"pin": "135790"})
    assert response.status_code == 400
    assert error_code(response) == "pin_not_set"


def test_three_wrong_pins_lock_payments_even_for_the_right_pin(world, api):
    client = api(world.buyer)
    client.post("/accounts/payment-pin", {"password": PASSWORD, "pin": "135790"})
    first = client.post("/accounts/payment-pin/verify", {"pin": "000111"})
    assert first.status_code == 400
    assert error_code(first) == "pin_wrong"
    assert first.json()["extra"]["attempts_left"] == 2
    assert client.post("/accounts/payment-pin/verify", {"pin": "000111"}).status_code == 400
    third = client.post("/accounts/payment-pin/verify", {"pin": "000111"})
    assert third.status_code == 423
    assert error_code(third) == "pin_locked"
    assert third.json()["extra"]["locked_until"]
    fourth = client.post("/accounts/payment-pin/verify", {"pin": "135790"})
    assert fourth.status_code == 423
    assert error_code(fourth) == "pin_locked"
    assert client.get("/accounts/me").json()["payment_pin"]["locked_until"] is not None
    assert Notification.objects.filter(user=world.buyer, kind="pin_locked").exists()
    # Another user's PIN is unaffected by this lock.
    other = api(world.buyer2)
    other.post("/accounts/payment-pin", {"password": PASSWORD, "pin": "135790"})
    assert other.post("/accounts/payment-pin/verify", {"pin": "135790"}).status_code == 200
    # After three hours the right PIN works again.
    clock.advance(timedelta(hours=3, seconds=1))
    assert client.post("/accounts/payment-pin/verify", {"pin": "135790"}).status_code == 200


# --- addresses --------------------------------------------------------------------------------


def test_address_crud_for_the_owner_shows_the_full_phone(world, api):
    client = api(world.buyer)
    created = client.post("/accounts/addresses", ADDRESS)
    assert created.status_code == 201
    first = created.json()
    assert first["phone"] == "13812345678"
    assert first["is_default"] is True
    second = client.post(
        "/accounts/addresses", {**ADDRESS, "recipient": "李四", "phone": "0572-5123456"}
    ).json()
    assert second["is_default"] is False
    listing = client.get("/accounts/addresses").json()
    assert listing["count"] == 2
    assert {a["phone"] for a in listing["items"]} == {"13812345678", "0572-5123456"}

    updated = client.put(f"/accounts/addresses/{second['id']}", {**ADDRESS, "detail": "新地址"})
    assert updated.status_code == 200
    assert updated.json()["detail"] == "新地址"
    made_default = client.post(f"/accounts/addresses/{second['id']}/default")
    assert made_default.json()["is_default"] is True
    items = client.get("/accounts/addresses").json()["items"]
    assert [a["id"] for a in items if a["is_default"]] == [second["id"]]
    assert client.delete(f"/accounts/addresses/{first['id']}").status_code == 204
    assert client.get("/accounts/addresses").json()["count"] == 1


def test_another_users_address_is_not_found(world, api):
    mine = api(world.buyer).post("/accounts/addresses", ADDRESS).json()
    other = api(world.buyer2)
    assert other.get("/accounts/addresses").json()["count"] == 0
    for response in [
        other.put(f"/accounts/addresses/{mine['id']}", ADDRESS),
        other.delete(f"/accounts/addresses/{mine['id']}"),
        other.post(f"/accounts/addresses/{mine['id']}/default"),
    ]:
        assert response.status_code == 404
        assert error_code(response) == "not_found"
    assert (
        api(world.buyer).get("/accounts/addresses").json()["items"][0]["detail"]
        == (ADDRESS["detail"])
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"province": "火星"}, "province"),
        ({"postal_code": "31330"}, "postal_code"),
        ({"detail": "路" * 121}, "detail"),
        ({"recipient": ""}, "recipient"),
    ],
)
def test_address_bad_input(world, api, change, field):
    response = api(world.buyer).post("/accounts/addresses", {**ADDRESS, **change})
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert world.buyer.addresses.count() == 0


def test_address_missing_field_is_422(world, api):
    data = dict(ADDRESS)
    del data["city"]
    response = api(world.buyer).post("/accounts/addresses", data)
    assert response.status_code == 422
    assert "city" in response.json()["extra"]["fields"]


# --- notifications ----------------------------------------------------------------------------


def test_notifications_list_and_mark_read(world, api):
    for n in range(3):
        notify(user=world.buyer, kind="api_token_created", params={"name": f"t{n}", "time": ""})
    notify(user=world.buyer2, kind="api_token_created", params={"name": "other", "time": ""})
    client = api(world.buyer)
    body = client.get("/accounts/notifications").json()
    assert body["count"] == 3
    assert body["items"][0]["title"]
    assert "t2" in body["items"][0]["body"]
    one = body["items"][0]["id"]
    assert client.post("/accounts/notifications/read", {"ids": [one]}).json() == {"updated": 1}
    assert client.get("/accounts/notifications", {"unread": True}).json()["count"] == 2
    assert client.post("/accounts/notifications/read", {}).json() == {"updated": 2}
    assert client.get("/accounts/notifications", {"unread": True}).json()["count"] == 0


def test_notifications_of_another_user_stay_untouched(world, api):
    notify(user=world.buyer2, kind="api_token_created", params={"name": "x", "time": ""})
    theirs = Notification.objects.get(user=world.buyer2)
    client = api(world.buyer)
    assert client.get("/accounts/notifications").json()["count"] == 0
    assert client.post("/accounts/notifications/read", {"ids": [theirs.pk]}).json() == {
        "updated": 0
    }
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_caps_the_number_of_ids(world, api):
    response = api(world.buyer).post("/accounts/notifications/read", {"ids": list(range(1, 1002))})
    assert response.status_code == 422


# --- real-name verification and bank card -----------------------------------------------------


def test_verification_submit_and_read_back_masked(world, api, make_id_number, make_bank_card):
    client = api(world.unverified)
    assert client.get("/accounts/verification").json() is None
    id_number, card = make_id_number(), make_bank_card()
    response = client.post(
        "/accounts/verification",
        {
            "real_name": "王五",
            "id_number": id_number,
            "bank_name": "中国农业银行",
            "bank_card": card,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert id_number not in response.content.decode()
    assert card not in response.content.decode()
    assert body["id_number_masked"].endswith(id_number[-4:])
    assert client.get("/accounts/verification").json()["id"] == body["id"]
    again = client.post(
        "/accounts/verification",
        {
            "real_name": "王五",
            "id_number": id_number,
            "bank_name": "中国农业银行",
            "bank_card": card,
        },
    )
    assert error_code(again) == "verification_pending"
    # Nobody else sees it.
    assert api(world.buyer).get("/accounts/verification").json() is None


def test_verification_bad_numbers(world, api, make_bank_card):
    client = api(world.unverified)
    response = client.post(
        "/accounts/verification",
        {
            "real_name": "王五",
            "id_number": "110101199001011234",
            "bank_name": "中国农业银行",
            "bank_card": make_bank_card(),
        },
    )
    assert error_code(response) == "id_number_invalid"
    used = client.post(
        "/accounts/verification",
        {
            "real_name": "王五",
            "id_number": world.seller.id_number,
            "bank_name": "中国农业银行",
            "bank_card": make_bank_card(),
        },
    )
    assert error_code(used) == "id_number_used"
    assert client.get("/accounts/verification").json() is None


def test_bank_card_change_for_a_verified_seller(world, api, make_bank_card):
    client = api(world.seller)
    card = make_bank_card()
    response = client.post(
        "/accounts/bank-card", {"password": PASSWORD, "bank_name": "建设银行", "card_number": card}
    )
    assert response.status_code == 201
    assert response.json()["card_masked"].endswith(card[-4:])
    assert card not in response.content.decode()
    assert client.get("/accounts/bank-card").json()["id"] == response.json()["id"]
    assert Notification.objects.filter(user=world.seller, kind="bank_card_changed").exists()


def test_bank_card_change_refusals(world, api, make_bank_card):
    response = api(world.buyer).post(
        "/accounts/bank-card",
        {"password": PASSWORD, "bank_name": "建设银行", "card_number": make_bank_card()},
    )
    assert error_code(response) == "not_verified"
    assert api(world.buyer).get("/accounts/bank-card").json() is None
    seller = api(world.seller)
    wrong = seller.post(
        "/accounts/bank-card",
        {"password": "nope12345", "bank_name": "建设银行", "card_number": make_bank_card()},
    )
    assert error_code(wrong) == "password_wrong"
    bad = seller.post(
        "/accounts/bank-card",
        {"password": PASSWORD, "bank_name": "建设银行", "card_number": "6222021234567890"},
    )
    assert error_code(bad) == "bank_card_invalid"
    assert list(bad.json()["extra"]["fields"]) == ["card_number"]


# --- API tokens -------------------------------------------------------------------------------


def test_token_create_list_and_revoke(world, api):
    client = api(world.buyer)
    created = client.post("/accounts/tokens", {"password": PASSWORD, "name": "进销存"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("jsk_")
    assert body["key"].startswith(body["prefix"])
    listing = client.get("/accounts/tokens").json()
    assert listing["count"] == 1
    assert "key" not in listing["items"][0]
    assert body["key"] not in client.get("/accounts/tokens").content.decode()
    assert client.delete(f"/accounts/tokens/{body['id']}").status_code == 204
    assert client.get("/accounts/tokens").json()["count"] == 0
    assert client.delete(f"/accounts/tokens/{body['id']}").status_code == 404


def test_token_refusals_and_another_users_token(world, api):
    client = api(world.buyer)
    assert (
        error_code(client.post("/accounts/tokens", {"password": "nope12345", "name": "x"}))
        == "password_wrong"
    )
    assert (
        error_code(client.post("/accounts/tokens", {"password": PASSWORD, "name": "x" * 61}))
        == "text_too_long"
    )
    theirs = (
        api(world.buyer2).post("/accounts/tokens", {"password": PASSWORD, "name": "theirs"}).json()
    )
    assert client.get("/accounts/tokens").json()["count"] == 0
    response = client.delete(f"/accounts/tokens/{theirs['id']}")
    assert response.status_code == 404
    assert ApiClient(token=theirs["key"]).get("/accounts/me").status_code == 200


def test_public_account_endpoints_need_no_login(db):
    client = Client()
    assert client.get(f"{API}/accounts/csrf").status_code == 200
    assert "csrftoken" in client.cookies
