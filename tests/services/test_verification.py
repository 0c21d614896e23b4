"""Real-name verification, operator decisions, bank cards and operator permissions."""

import json

import pytest
from django.forms.models import model_to_dict

from jishi.accounts import selectors, services
from jishi.accounts.errors import AccountError
from jishi.accounts.models import (
    BankCard,
    Notification,
    OperatorRole,
    RealNameVerification,
    VerificationStatus,
)
from jishi.accounts.permissions import operator_can, operator_require
from jishi.core.errors import CoreError, DomainError, Forbidden, NotFound
from jishi.core.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(make_id_number, make_bank_card):
    def do(user, *, id_number=None, bank_card=None, real_name="张三", bank_name="中国农业银行"):
        return services.verification_submit(
            user=user,
            real_name=real_name,
            id_number=make_id_number() if id_number is None else id_number,
            bank_name=bank_name,
            bank_card=make_bank_card() if bank_card is None else bank_card,
        )

    return do


def flip_last_digit(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("1" if last != "1" else "2")


def test_submit_creates_pending_record(make_user, submit):
    user = make_user()
    record = submit(user)
    assert record.status == VerificationStatus.PENDING
    assert selectors.verification_latest(user=user) == record
    assert not selectors.user_is_verified(user=user)
    assert list(selectors.verification_queue()) == [record]
    assert AuditLog.objects.filter(action="verification.submit", object_id=str(record.pk)).exists()


def test_invalid_id_checksum_refused(make_user, submit, make_id_number):
    user = make_user()
    for bad in (
        flip_last_digit(make_id_number()),
        "12345678901234567",
        "33052219800101007",
        "3305221980010100Y4",
        "",
    ):
        with pytest.raises(DomainError) as exc:
            submit(user, id_number=bad)
        assert exc.value.code == AccountError.ID_NUMBER_INVALID
    assert not RealNameVerification.objects.exists()


def test_lowercase_x_checksum_accepted(make_user, submit):
    # 11010519491231002X is the standard's worked example
    record = submit(make_user(), id_number="11010519491231002x")
    assert record.id_number_masked.endswith("002X")


def test_invalid_bank_card_refused(make_user, submit, make_bank_card):
    user = make_user()
    for bad in (flip_last_digit(make_bank_card()), "12345", "6222 02ab 0000 0072", ""):
        with pytest.raises(DomainError) as exc:
            submit(user, bank_card=bad)
        assert exc.value.code == AccountError.BANK_CARD_INVALID
    assert not RealNameVerification.objects.exists()


def test_card_number_with_spaces_accepted(make_user, submit, make_bank_card):
    card = make_bank_card()
    spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    record = submit(make_user(), bank_card=spaced)
    assert record.bank_card_masked.endswith(card[-4:])


def test_missing_or_long_real_name(make_user, submit):
    user = make_user()
    with pytest.raises(DomainError) as exc:
        submit(user, real_name=" ")
    assert exc.value.code == CoreError.FIELD_REQUIRED
    with pytest.raises(DomainError) as exc:
        submit(user, real_name="名" * 31)
    assert exc.value.code == CoreError.TEXT_TOO_LONG
    assert not RealNameVerification.objects.exists()


def test_pending_blocks_a_second_submission(make_user, submit):
    user = make_user()
    submit(user)
    with pytest.raises(DomainError) as exc:
        submit(user)
    assert exc.value.code == AccountError.VERIFICATION_PENDING
    assert RealNameVerification.objects.filter(user=user).count() == 1


def test_same_id_number_by_another_user_refused(make_user, submit, make_id_number, make_operator):
    id_number = make_id_number()
    first = submit(make_user(), id_number=id_number)
    other = make_user()
    with pytest.raises(DomainError) as exc:
        submit(other, id_number=id_number)
    assert exc.value.code == AccountError.ID_NUMBER_USED
    assert not RealNameVerification.objects.filter(user=other).exists()
    # once the first claim is rejected, the number is free again
    services.verification_decide(
        operator=make_operator("reviewer"),
        verification_id=first.pk,
        approve=False,
        reason="照片不清晰",
    )
    assert submit(other, id_number=id_number).status == VerificationStatus.PENDING


def test_id_and_card_numbers_are_stored_only_masked(
    make_user, submit, make_id_number, make_bank_card, make_operator
):
    user = make_user()
    id_number, card = make_id_number(), make_bank_card()
    record = submit(user, id_number=id_number, bank_card=card)
    services.verification_decide(
        operator=make_operator("reviewer"), verification_id=record.pk, approve=True
    )
    row = RealNameVerification.objects.get(pk=record.pk)
    stored = json.dumps(model_to_dict(row), default=str, ensure_ascii=False)
    assert id_number not in stored
    assert id_number[6:14] not in stored  # not even the birth date
    assert card not in stored
    assert row.id_number_masked == f"{id_number[:3]}{'*' * 11}{id_number[-4:]}"
    assert row.bank_card_masked.endswith(card[-4:])
    bank = json.dumps(model_to_dict(BankCard.objects.get(user=user)), default=str)
    assert card not in bank
    audit = json.dumps(list(AuditLog.objects.values()), default=str, ensure_ascii=False)
    assert id_number not in audit and card not in audit


# --- operator decisions -----------------------------------------------------------------------


def test_approve_creates_bank_card_and_notifies(make_user, submit, make_operator):
    user = make_user()
    record = submit(user, real_name="李娟")
    reviewer = make_operator("reviewer")
    decided = services.verification_decide(
        operator=reviewer, verification_id=record.pk, approve=True
    )
    assert decided.status == VerificationStatus.VERIFIED
    assert decided.decided_by == reviewer
    assert decided.decided_at is not None
    assert selectors.user_is_verified(user=user)
    card = selectors.bank_card_active(user=user)
    assert card.holder_name == "李娟"
    assert card.card_masked == record.bank_card_masked
    assert card.card_hash == record.bank_card_hash
    assert list(Notification.objects.filter(user=user).values_list("kind", flat=True)) == [
        "verification_verified"
    ]
    log = AuditLog.objects.get(action="verification.decide")
    assert log.actor == reviewer
    assert log.before == {"status": "pending"} and log.after == {"status": "verified"}


def test_reject_needs_a_reason(make_user, submit, make_operator):
    user = make_user()
    record = submit(user)
    reviewer = make_operator("reviewer")
    with pytest.raises(DomainError) as exc:
        services.verification_decide(
            operator=reviewer, verification_id=record.pk, approve=False, reason="  "
        )
    assert exc.value.code == CoreError.FIELD_REQUIRED
    record.refresh_from_db()
    assert record.status == VerificationStatus.PENDING

    services.verification_decide(
        operator=reviewer, verification_id=record.pk, approve=False, reason="银行卡与姓名不符"
    )
    record.refresh_from_db()
    assert record.status == VerificationStatus.REJECTED
    assert record.reason == "银行卡与姓名不符"
    assert not BankCard.objects.filter(user=user).exists()
    note = Notification.objects.get(user=user)
    assert note.kind == "verification_rejected"
    assert note.params == {"reason": "银行卡与姓名不符"}
    # after a rejection the user may submit again
    assert submit(user).status == VerificationStatus.PENDING


@pytest.mark.parametrize("role", [OperatorRole.REVIEWER, OperatorRole.ADMIN])
def test_reviewer_and_admin_can_decide(make_user, submit, make_operator, role):
    record = submit(make_user())
    services.verification_decide(
        operator=make_operator(role), verification_id=record.pk, approve=True
    )
    record.refresh_from_db()
    assert record.status == VerificationStatus.VERIFIED


@pytest.mark.parametrize(
    "role", [OperatorRole.CATALOG, OperatorRole.FINANCE, OperatorRole.ARBITRATOR]
)
def test_other_operator_roles_cannot_decide(make_user, submit, make_operator, role):
    record = submit(make_user())
    with pytest.raises(Forbidden):
        services.verification_decide(
            operator=make_operator(role), verification_id=record.pk, approve=True
        )
    record.refresh_from_db()
    assert record.status == VerificationStatus.PENDING
    assert not BankCard.objects.exists()


def test_ordinary_user_cannot_decide_even_their_own(make_user, submit):
    user = make_user()
    record = submit(user)
    with pytest.raises(Forbidden):
        services.verification_decide(operator=user, verification_id=record.pk, approve=True)
    record.refresh_from_db()
    assert record.status == VerificationStatus.PENDING


def test_deactivated_operator_cannot_decide(make_user, submit, make_operator):
    record = submit(make_user())
    reviewer = make_operator("reviewer")
    reviewer.is_active = False
    with pytest.raises(Forbidden):
        services.verification_decide(operator=reviewer, verification_id=record.pk, approve=True)


def test_decided_twice_is_an_error(make_user, submit, make_operator):
    record = submit(make_user())
    reviewer = make_operator("reviewer")
    services.verification_decide(operator=reviewer, verification_id=record.pk, approve=True)
    with pytest.raises(DomainError) as exc:
        services.verification_decide(
            operator=reviewer, verification_id=record.pk, approve=False, reason="改主意"
        )
    assert exc.value.code == AccountError.VERIFICATION_DECIDED
    record.refresh_from_db()
    assert record.status == VerificationStatus.VERIFIED
    assert BankCard.objects.filter(is_active=True).count() == 1


def test_decide_unknown_record(make_operator):
    with pytest.raises(NotFound):
        services.verification_decide(
            operator=make_operator("reviewer"), verification_id=999999, approve=True
        )


def test_verified_user_cannot_submit_again(make_verified_seller, submit):
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        submit(seller)
    assert exc.value.code == AccountError.ALREADY_VERIFIED


def test_operator_permission_table(make_operator, make_user):
    assert operator_can(make_operator("admin"), "anything.at.all")
    reviewer, catalog = make_operator("reviewer"), make_operator("catalog")
    assert operator_can(reviewer, "verification.decide")
    assert not operator_can(reviewer, "category.manage")
    assert operator_can(catalog, "category.manage")
    assert operator_can(catalog, "product.moderate")
    assert not operator_can(catalog, "verification.decide")
    assert not operator_can(make_user(), "console.view")
    with pytest.raises(Forbidden) as exc:
        operator_require(catalog, "verification.decide")
    assert exc.value.extra == {"permission": "verification.decide"}


# --- bank card --------------------------------------------------------------------------------


def test_bank_card_change_requires_password(make_verified_seller, make_bank_card):
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        services.bank_card_change(
            user=seller, password="wrong-pass1", bank_name="中国银行", card_number=make_bank_card()
        )
    assert exc.value.code == AccountError.PASSWORD_WRONG
    assert BankCard.objects.filter(user=seller).count() == 1


def test_bank_card_change_requires_verification(make_user, submit, make_bank_card):
    user = make_user()
    submit(user)  # pending is not enough
    with pytest.raises(DomainError) as exc:
        services.bank_card_change(
            user=user,
            password=user.raw_password,
            bank_name="中国银行",
            card_number=make_bank_card(),
        )
    assert exc.value.code == AccountError.NOT_VERIFIED
    assert not BankCard.objects.exists()


def test_bank_card_change_invalid_card(make_verified_seller, make_bank_card):
    seller = make_verified_seller()
    with pytest.raises(DomainError) as exc:
        services.bank_card_change(
            user=seller,
            password=seller.raw_password,
            bank_name="中国银行",
            card_number=flip_last_digit(make_bank_card()),
        )
    assert exc.value.code == AccountError.BANK_CARD_INVALID
    assert list(exc.value.extra["fields"]) == ["card_number"]  # the request's field name
    assert BankCard.objects.get(user=seller, is_active=True).card_masked.endswith(
        seller.card_number[-4:]
    )


def test_bank_card_change_replaces_card_notifies_and_audits(make_verified_seller, make_bank_card):
    seller = make_verified_seller()
    old = selectors.bank_card_active(user=seller)
    card_number = make_bank_card()
    card = services.bank_card_change(
        user=seller, password=seller.raw_password, bank_name="中国建设银行", card_number=card_number
    )
    assert selectors.bank_card_active(user=seller) == card
    assert BankCard.objects.filter(user=seller).count() == 2
    assert BankCard.objects.filter(user=seller, is_active=True).count() == 1
    old.refresh_from_db()
    assert not old.is_active
    assert card.holder_name == "张三"
    assert card_number not in json.dumps(model_to_dict(card), default=str)
    note = Notification.objects.filter(user=seller).order_by("-id").first()
    assert note.kind == "bank_card_changed"
    assert note.params["card"] == card.card_masked
    log = AuditLog.objects.get(action="bank_card.change")
    assert log.before == {"card": old.card_masked}
    assert log.after == {"card": card.card_masked}


def test_a_staff_sub_account_cannot_submit_a_verification(
    make_shop, make_id_number, make_bank_card
):
    from jishi.accounts.models import RealNameVerification
    from jishi.shops.services import staff_create

    shop = make_shop()
    staff = staff_create(
        actor=shop.owner, username="店员小李", password="Staff2024pass", role="service"
    )
    with pytest.raises(DomainError) as exc:
        services.verification_submit(
            user=staff.user,
            real_name="李四",
            id_number=make_id_number(),
            bank_name="中国银行",
            bank_card=make_bank_card(),
        )
    assert exc.value.code == "sub_account_not_allowed"
    assert not RealNameVerification.objects.filter(user=staff.user).exists()
