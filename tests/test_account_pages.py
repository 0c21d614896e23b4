"""Account pages in the browser sense: register, log in/out, security settings, addresses,
message box. Driven with Django's test Client against the real URLs and templates."""

import json
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from django.utils import timezone

from jishi.accounts import services
from jishi.accounts.models import (
    Address,
    ApiToken,
    BankCard,
    Notification,
    PaymentPin,
    RealNameVerification,
    User,
    VerificationStatus,
)
from jishi.accounts.notifications import notify
from jishi.core import clock

PASSWORD = "buyer2024pass"

ADDRESS = {
    "province": "浙江省",
    "city": "湖州市",
    "district": "安吉县",
    "detail": "递铺街道茶园路 8 号",
    "recipient": "张三",
    "phone": "13812345678",
    "postal_code": "313300",
}


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def buyer(db):
    return services.user_register(username="buyer01", password=PASSWORD, phone="13900001111")


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer)
    return client


def _html(response) -> str:
    return response.content.decode()


# --- register ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_logs_the_user_in(client):
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "新买家",
            "password": "tea4ever8",
            "password2": "tea4ever8",
            "phone": "13812345678",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:home")
    user = User.objects.get(username="新买家")
    assert user.phone == "13812345678"
    assert client.session["_auth_user_id"] == str(user.pk)
    page = client.get(reverse("accounts:settings"))
    assert page.status_code == 200
    assert "新买家" in _html(page)
    assert "138****5678" in _html(page)


@pytest.mark.django_db
def test_register_follows_a_safe_next_only(client):
    response = client.post(
        reverse("accounts:register") + "?next=/account/addresses/",
        {
            "username": "buyer_n",
            "password": "tea4ever8",
            "password2": "tea4ever8",
        },
    )
    assert response["Location"] == "/account/addresses/"
    client.post(reverse("accounts:logout"))
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "buyer_m",
            "password": "tea4ever8",
            "password2": "tea4ever8",
            "next": "https://evil.example.com/",
        },
    )
    assert response["Location"] == reverse("storefront:home")


@pytest.mark.django_db
def test_register_duplicate_username_shows_error_and_creates_nothing(client, buyer):
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "BUYER01",
            "password": "tea4ever8",
            "password2": "tea4ever8",
        },
    )
    assert response.status_code == 400
    assert 'data-testid="error-username"' in _html(response)
    assert User.objects.count() == 1
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "weakling", "password": "12345678", "password2": "12345678"}, "password"),
        ({"username": "mismatch", "password": "tea4ever8", "password2": "tea4ever9"}, "password2"),
        (
            {
                "username": "badphone",
                "password": "tea4ever8",
                "password2": "tea4ever8",
                "phone": "12345",
            },
            "phone",
        ),
        ({"username": "x", "password": "tea4ever8", "password2": "tea4ever8"}, "username"),
    ],
)
def test_register_bad_input_shows_field_error(client, data, field):
    response = client.post(reverse("accounts:register"), data)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in _html(response)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_register_and_login_pages_render(client):
    assert client.get(reverse("accounts:register")).status_code == 200
    page = client.get(reverse("accounts:login") + "?next=/account/")
    assert page.status_code == 200
    assert 'name="next" value="/account/"' in _html(page)


# --- log in / out -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_wrong_password(client, buyer):
    response = client.post(
        reverse("accounts:login"), {"username": "buyer01", "password": "wrong-pass1"}
    )
    assert response.status_code == 400
    assert 'data-testid="form-error"' in _html(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_with_next(client, buyer):
    response = client.post(
        reverse("accounts:login") + "?next=/account/addresses/",
        {"username": "buyer01", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/addresses/"
    assert client.session["_auth_user_id"] == str(buyer.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com/x"])
def test_login_ignores_an_offsite_next(client, buyer, target):
    response = client.post(
        reverse("accounts:login"), {"username": "buyer01", "password": PASSWORD, "next": target}
    )
    assert response["Location"] == reverse("storefront:home")


@pytest.mark.django_db
def test_logout_is_post_only(buyer_client):
    assert buyer_client.get(reverse("accounts:logout")).status_code == 405
    response = buyer_client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("storefront:home")
    assert "_auth_user_id" not in buyer_client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["accounts:settings", "accounts:addresses", "accounts:notifications"]
)
def test_login_required_redirects(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.django_db
def test_login_required_for_posts(client, buyer):
    address = services.address_create(user=buyer, **ADDRESS)
    response = client.post(reverse("accounts:address_delete", args=[address.pk]))
    assert response.status_code == 302
    assert Address.objects.filter(pk=address.pk).exists()


# --- security settings ------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_change_keeps_the_session(buyer_client, buyer):
    response = buyer_client.post(
        reverse("accounts:settings"),
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password": "newpass2025",
            "new_password2": "newpass2025",
        },
    )
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.check_password("newpass2025")
    assert buyer_client.get(reverse("accounts:settings")).status_code == 200  # still logged in
    assert Notification.objects.filter(user=buyer, kind="password_changed").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {
                "old_password": "wrong-pass1",
                "new_password": "newpass2025",
                "new_password2": "newpass2025",
            },
            "old_password",
        ),
        (
            {"old_password": PASSWORD, "new_password": "short1", "new_password2": "short1"},
            "new_password",
        ),
        (
            {
                "old_password": PASSWORD,
                "new_password": "newpass2025",
                "new_password2": "newpass2026",
            },
            "new_password2",
        ),
    ],
)
def test_password_change_errors(buyer_client, buyer, data, field):
    response = buyer_client.post(reverse("accounts:settings"), {"action": "password", **data})
    assert response.status_code == 400
    html = _html(response)
    assert f'data-testid="error-{field}"' in html
    assert 'data-testid="form-password" open' in html
    buyer.refresh_from_db()
    assert buyer.check_password(PASSWORD)


@pytest.mark.django_db
def test_pin_set_then_change(buyer_client, buyer):
    page = _html(buyer_client.get(reverse("accounts:settings")))
    assert 'data-testid="pin-status">' in page
    assert not PaymentPin.objects.filter(user=buyer).exists()

    response = buyer_client.post(
        reverse("accounts:settings"),
        {"action": "pin", "password": PASSWORD, "pin": "209318", "pin2": "209318"},
    )
    assert response.status_code == 302
    record = PaymentPin.objects.get(user=buyer)
    assert check_password("209318", record.pin_hash)

    response = buyer_client.post(
        reverse("accounts:settings"),
        {"action": "pin", "password": PASSWORD, "pin": "481726", "pin2": "481726"},
        follow=True,
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert check_password("481726", record.pin_hash)
    kinds = set(Notification.objects.filter(user=buyer).values_list("kind", flat=True))
    assert {"pin_set", "pin_changed"} <= kinds


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password": "wrong-pass1", "pin": "209318", "pin2": "209318"}, "password"),
        ({"password": PASSWORD, "pin": "123456", "pin2": "123456"}, "pin"),
        ({"password": PASSWORD, "pin": "12ab56", "pin2": "12ab56"}, "pin"),
        ({"password": PASSWORD, "pin": "209318", "pin2": "209319"}, "pin2"),
    ],
)
def test_pin_errors_change_nothing(buyer_client, buyer, data, field):
    response = buyer_client.post(reverse("accounts:settings"), {"action": "pin", **data})
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in _html(response)
    assert not PaymentPin.objects.filter(user=buyer).exists()


@pytest.mark.django_db
def test_pin_lock_is_shown(buyer_client, buyer):
    services.payment_pin_set(user=buyer, password=PASSWORD, pin="209318")
    PaymentPin.objects.filter(user=buyer).update(locked_until=clock.now() + timedelta(hours=3))
    page = _html(buyer_client.get(reverse("accounts:settings")))
    assert 'data-testid="pin-locked"' in page


@pytest.mark.django_db
def test_unknown_action_is_refused(buyer_client):
    response = buyer_client.post(reverse("accounts:settings"), {"action": "nope"}, follow=True)
    assert response.status_code == 200


@pytest.mark.django_db
def test_bank_card_change_needs_verification(buyer_client, buyer):
    page = _html(buyer_client.get(reverse("accounts:settings")))
    assert 'data-testid="form-bank-card"' not in page
    response = buyer_client.post(
        reverse("accounts:settings"),
        {
            "action": "bank_card",
            "password": PASSWORD,
            "bank_name": "农业银行",
            "card_number": "6228480402564890018",
        },
    )
    assert response.status_code == 400
    assert 'class="flash-item flash-error"' in _html(response)
    assert not BankCard.objects.filter(user=buyer).exists()


@pytest.mark.django_db
def test_bank_card_change_when_verified(buyer_client, buyer):
    RealNameVerification.objects.create(
        user=buyer,
        real_name="张三",
        id_number_masked="330***********0011",
        id_number_hash="x",
        bank_name="工商银行",
        bank_card_masked="**** **** **** 1111",
        bank_card_hash="y",
        status=VerificationStatus.VERIFIED,
    )
    assert 'data-testid="form-bank-card"' in _html(buyer_client.get(reverse("accounts:settings")))
    bad = buyer_client.post(
        reverse("accounts:settings"),
        {
            "action": "bank_card",
            "password": PASSWORD,
            "bank_name": "农业银行",
            "card_number": "1234",
        },
    )
    assert bad.status_code == 400
    assert 'data-testid="error-card_number"' in _html(bad)
    response = buyer_client.post(
        reverse("accounts:settings"),
        {
            "action": "bank_card",
            "password": PASSWORD,
            "bank_name": "农业银行",
            "card_number": "6228480402564890018",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "**** **** **** 0018" in _html(response)
    assert BankCard.objects.get(user=buyer, is_active=True).bank_name == "农业银行"


@pytest.mark.django_db
def test_api_token_shown_once_then_revoked(buyer_client, buyer):
    response = buyer_client.post(
        reverse("accounts:settings"),
        {"action": "token_create", "password": PASSWORD, "name": "ERP"},
    )
    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="new-token-key"' in html
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=buyer)
    key = html.split('data-testid="new-token-key">')[1].split("<")[0]
    assert key.startswith(token.prefix)
    assert services.api_token_authenticate(key=key) == buyer
    again = _html(buyer_client.get(reverse("accounts:settings")))
    assert key not in again
    assert token.prefix in again

    response = buyer_client.post(
        reverse("accounts:settings"), {"action": "token_revoke", "token_id": str(token.pk)}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_api_token_errors(buyer_client, buyer):
    response = buyer_client.post(
        reverse("accounts:settings"),
        {"action": "token_create", "password": "wrong-pass1", "name": "ERP"},
    )
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    other = services.user_register(username="other01", password=PASSWORD)
    token, _key = services.api_token_create(user=other, password=PASSWORD, name="theirs")
    response = buyer_client.post(
        reverse("accounts:settings"), {"action": "token_revoke", "token_id": str(token.pk)}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None
    response = buyer_client.post(
        reverse("accounts:settings"), {"action": "token_revoke", "token_id": "abc"}
    )
    assert response.status_code == 302


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_addresses_crud(buyer_client, buyer):
    page = _html(buyer_client.get(reverse("accounts:addresses")))
    assert "<select" in page and "浙江省" in page

    response = buyer_client.post(reverse("accounts:addresses"), ADDRESS)
    assert response.status_code == 302
    first = Address.objects.get(user=buyer)
    assert first.is_default  # the first address becomes the default

    second_data = {**ADDRESS, "recipient": "李四", "city": "杭州市", "district": "西湖区"}
    buyer_client.post(reverse("accounts:addresses"), second_data)
    second = Address.objects.get(user=buyer, recipient="李四")
    assert not second.is_default
    listing = _html(buyer_client.get(reverse("accounts:addresses")))
    assert "李四" in listing and "张三" in listing

    edit_page = buyer_client.get(reverse("accounts:address_edit", args=[second.pk]))
    assert edit_page.status_code == 200
    assert 'value="李四"' in _html(edit_page)
    response = buyer_client.post(
        reverse("accounts:address_edit", args=[second.pk]), {**second_data, "detail": "文三路 1 号"}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.detail == "文三路 1 号"

    buyer_client.post(reverse("accounts:address_default", args=[second.pk]))
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.is_default and not first.is_default

    buyer_client.post(reverse("accounts:address_delete", args=[second.pk]))
    assert not Address.objects.filter(pk=second.pk).exists()
    first.refresh_from_db()
    assert first.is_default


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"province": "火星"}, "province"),
        ({"phone": "12345"}, "phone"),
        ({"recipient": ""}, "recipient"),
        ({"postal_code": "31a"}, "postal_code"),
        ({"detail": "长" * 121}, "detail"),
    ],
)
def test_address_errors_per_field(buyer_client, buyer, change, field):
    response = buyer_client.post(reverse("accounts:addresses"), {**ADDRESS, **change})
    assert response.status_code == 400
    html = _html(response)
    assert f'data-testid="error-{field}"' in html
    assert not Address.objects.filter(user=buyer).exists()
    if field != "recipient":
        assert 'value="张三"' in html  # what the user typed is kept


@pytest.mark.django_db
def test_address_edit_error_keeps_the_old_address(buyer_client, buyer):
    address = services.address_create(user=buyer, **ADDRESS)
    response = buyer_client.post(
        reverse("accounts:address_edit", args=[address.pk]), {**ADDRESS, "phone": "abc"}
    )
    assert response.status_code == 400
    address.refresh_from_db()
    assert address.phone == ADDRESS["phone"]


@pytest.mark.django_db
def test_another_users_address_is_404(buyer_client, buyer):
    other = services.user_register(username="other01", password=PASSWORD)
    theirs = services.address_create(user=other, **ADDRESS)
    assert buyer_client.get(reverse("accounts:address_edit", args=[theirs.pk])).status_code == 404
    for name in ("accounts:address_edit", "accounts:address_delete", "accounts:address_default"):
        response = buyer_client.post(
            reverse(name, args=[theirs.pk]), {**ADDRESS, "recipient": "hacker"}
        )
        assert response.status_code == 404, name
    theirs.refresh_from_db()
    assert theirs.recipient == "张三"


# --- message box ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_message_box_lists_and_marks_all_read(buyer_client, buyer):
    notify(user=buyer, kind="api_token_created", params={"name": "ERP", "time": "2025-01-01"})
    notify(user=buyer, kind="verification_verified", link="/seller/")
    other = services.user_register(username="other01", password=PASSWORD)
    notify(user=other, kind="shop_opened", params={"shop": "别人的店"})

    page = buyer_client.get(reverse("accounts:notifications"))
    html = _html(page)
    assert page.status_code == 200
    assert html.count('data-testid="notification"') == 2
    assert "ERP" in html
    assert 'href="/seller/"' in html
    assert "别人的店" not in html
    assert 'class="msg unread"' in html

    unread = _html(buyer_client.get(reverse("accounts:notifications") + "?filter=unread"))
    assert unread.count('data-testid="notification"') == 2

    response = buyer_client.post(reverse("accounts:notifications_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=buyer, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=other, read_at__isnull=True).exists()
    html = _html(buyer_client.get(reverse("accounts:notifications")))
    assert 'class="msg unread"' not in html
    unread = _html(buyer_client.get(reverse("accounts:notifications") + "?filter=unread"))
    assert 'data-testid="notification"' not in unread


@pytest.mark.django_db
def test_message_box_marks_one_read_and_pages(buyer_client, buyer):
    for i in range(25):
        notify(user=buyer, kind="api_token_created", params={"name": f"t{i}", "time": "now"})
    first_page = _html(buyer_client.get(reverse("accounts:notifications")))
    assert first_page.count('data-testid="notification"') == 20
    second_page = _html(buyer_client.get(reverse("accounts:notifications") + "?page=2"))
    assert second_page.count('data-testid="notification"') == 5
    assert (
        _html(buyer_client.get(reverse("accounts:notifications") + "?page=x")).count(
            'data-testid="notification"'
        )
        == 20
    )

    target = Notification.objects.filter(user=buyer).first()
    buyer_client.post(
        reverse("accounts:notifications_read"),
        {"id": str(target.pk), "next": "/account/messages/?page=2"},
    )
    assert Notification.objects.filter(user=buyer, read_at__isnull=False).count() == 1
    target.refresh_from_db()
    assert target.read_at is not None


@pytest.mark.django_db
def test_message_times_are_local(buyer_client, buyer, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    services.payment_pin_set(user=buyer, password=PASSWORD, pin="209318")
    n = Notification.objects.get(user=buyer, kind="pin_set")
    body_time = datetime.strptime(
        re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", n.body)[0], "%Y-%m-%d %H:%M"
    )
    local = timezone.localtime(n.created_at).replace(tzinfo=None)
    assert abs(local - body_time) < timedelta(minutes=2)  # the site's zone, not UTC
    shown = _html(buyer_client.get(reverse("accounts:notifications")))
    assert local.strftime("%Y-%m-%d %H:%M") in shown


# --- error pages ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_page_is_the_styled_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _html(response)
    assert '<link rel="stylesheet" href="/static/jishi/jishi.css">' in html  # our layout
    assert "<code>not_found</code>" in html
    assert "页面不存在。" in html
    english = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert "This page does not exist." in _html(english)


@pytest.mark.django_db
def test_403_and_500_handlers(rf, buyer):
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    from jishi import urls
    from jishi.core import views

    assert urls.handler500 == "jishi.core.views.server_error"
    assert urls.handler403 == "jishi.core.views.permission_denied"
    request = rf.get("/seller/")
    request.user = buyer
    forbidden = views.permission_denied(request, PermissionDenied())
    assert forbidden.status_code == 403
    assert "<code>forbidden</code>" in _html(forbidden)
    request = rf.get("/cart/")
    request.user = AnonymousUser()
    failed = views.server_error(request)
    assert failed.status_code == 500
    assert "<code>server_error</code>" in _html(failed)
    api_request = rf.get("/api/v1/orders")
    api_failed = views.server_error(api_request)
    assert api_failed.status_code == 500
    assert json.loads(api_failed.content)["code"] == "server_error"
    assert views.permission_denied(api_request).status_code == 403
    bare = rf.get("/cart/")  # no user: the page cannot render, plain text instead
    assert views.server_error(bare).status_code == 500


@pytest.mark.django_db
def test_register_page_shows_password_rules_in_chinese(client):
    data = {"username": "shorty", "password": "ab1", "password2": "ab1"}
    response = client.post(reverse("accounts:register"), data)
    assert response.status_code == 400
    assert "密码长度太短。密码必须包含至少 8 个字符。" in _html(response)
    assert "This password is too short" not in _html(response)
