"""The transactional outbox, notification delivery and platform rules."""

from datetime import timedelta

import pytest

from jishi.accounts.delivery import MemoryBackend
from jishi.accounts.models import Notification
from jishi.accounts.notifications import notify
from jishi.core import clock, outbox
from jishi.core.models import AuditLog, OutboxMessage, PlatformSetting
from jishi.core.rules import DEFAULTS, rule, rule_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_topic():
    """A registered handler that always fails; removed again after the test."""
    calls = []

    def handler(payload):
        calls.append(payload)
        raise RuntimeError("downstream is down")

    outbox.outbox_handler("test.always_fails")(handler)
    yield calls
    outbox._handlers.pop("test.always_fails", None)


def test_notify_writes_message_box_and_enqueues(make_user):
    user = make_user()
    note = notify(user=user, kind="shop_opened", params={"shop": "竹乡小店"}, link="/seller/")
    assert Notification.objects.get(pk=note.pk).params == {"shop": "竹乡小店"}
    message = OutboxMessage.objects.get()
    assert message.topic == "notification.deliver"
    assert message.payload == {"notification_id": note.pk}
    assert message.processed_at is None
    assert MemoryBackend.outbox == []  # nothing is delivered before the worker runs


def test_notify_unknown_kind(make_user):
    with pytest.raises(KeyError):
        notify(user=make_user(), kind="no_such_kind")
    assert not Notification.objects.exists()


def test_drain_delivers_once(make_user):
    user = make_user()
    note = notify(user=user, kind="shop_opened", params={"shop": "竹乡小店"})
    assert outbox.outbox_drain() == 1
    assert [n.pk for n in MemoryBackend.outbox] == [note.pk]
    message = OutboxMessage.objects.get()
    assert message.processed_at is not None
    assert message.attempts == 1
    assert outbox.outbox_drain() == 0
    assert len(MemoryBackend.outbox) == 1


def test_failing_handler_is_retried_later_and_blocks_nothing(make_user, failing_topic):
    bad = outbox.outbox_enqueue(topic="test.always_fails", payload={"n": 1})
    note = notify(user=make_user(), kind="shop_opened", params={"shop": "竹乡小店"})

    assert outbox.outbox_drain() == 1  # the good message went through
    assert [n.pk for n in MemoryBackend.outbox] == [note.pk]
    bad.refresh_from_db()
    assert failing_topic == [{"n": 1}]
    assert bad.processed_at is None
    assert bad.attempts == 1
    assert "downstream is down" in bad.last_error
    assert bad.available_at > clock.now()

    assert outbox.outbox_drain() == 0  # not due yet
    assert len(failing_topic) == 1

    clock.advance(timedelta(seconds=3))
    assert outbox.outbox_drain() == 0
    bad.refresh_from_db()
    assert len(failing_topic) == 2
    assert bad.attempts == 2
    first_delay = timedelta(seconds=2)
    assert bad.available_at - clock.now() > first_delay  # back-off grows


def test_message_without_handler_is_kept_with_error():
    message = outbox.outbox_enqueue(topic="test.nobody_listens", payload={})
    assert outbox.outbox_drain() == 0
    message.refresh_from_db()
    assert message.attempts == 1
    assert "no handler" in message.last_error


def test_message_gives_up_after_attempts_max(failing_topic):
    message = outbox.outbox_enqueue(topic="test.always_fails", payload={})
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.ATTEMPTS_MAX)
    assert outbox.outbox_drain() == 0
    assert failing_topic == []


def test_drain_batch_size(make_user):
    user = make_user()
    for _ in range(3):
        notify(user=user, kind="shop_opened", params={"shop": "x"})
    assert outbox.outbox_drain(batch_size=2) == 2
    assert outbox.outbox_drain(batch_size=2) == 1
    assert len(MemoryBackend.outbox) == 3


# --- rules ------------------------------------------------------------------------------------


def test_rule_defaults():
    assert rule("payment_pin_attempts_max") == 3
    assert rule("payment_pin_lock_seconds") == 3 * 3600
    assert rule("addresses_max") == 20
    assert rule("commission_rate_default_bp") == 200
    for name, value in DEFAULTS.items():
        assert rule(name) == value


def test_rule_set_overrides_and_audits(make_operator):
    admin = make_operator("admin")
    assert rule("addresses_max") == 20  # now cached
    rule_set(actor=admin, name="addresses_max", value=5)
    assert rule("addresses_max") == 5
    log = AuditLog.objects.get(action="rule.set")
    assert log.actor == admin
    assert log.before == {"value": 20}
    assert log.after == {"value": 5}
    rule_set(actor=admin, name="addresses_max", value=7)
    assert rule("addresses_max") == 7
    assert PlatformSetting.objects.get(key="addresses_max").value == 7
    logs = list(AuditLog.objects.filter(action="rule.set").order_by("id"))
    assert [(x.before, x.after) for x in logs] == [
        ({"value": 20}, {"value": 5}),
        ({"value": 5}, {"value": 7}),
    ]


def test_rule_set_visible_after_commit(make_operator, django_capture_on_commit_callbacks):
    admin = make_operator("admin")
    assert rule("shop_staff_max") == 50
    with django_capture_on_commit_callbacks(execute=True):
        rule_set(actor=admin, name="shop_staff_max", value=3)
    assert rule("shop_staff_max") == 3


def test_unknown_rule():
    with pytest.raises(KeyError):
        rule("no_such_rule")
    with pytest.raises(KeyError):
        rule_set(actor=None, name="no_such_rule", value=1)
    assert not PlatformSetting.objects.exists()


@pytest.mark.parametrize("value", ["5", 5.0, True, None])
def test_rule_value_must_have_the_default_type(value):
    with pytest.raises(TypeError):
        rule_set(actor=None, name="addresses_max", value=value)
    assert not PlatformSetting.objects.exists()
