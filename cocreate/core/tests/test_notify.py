"""Notifications and the outbox: rows in the caller's transaction, dedupe, sending, retry with back-off."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core import jobs, notify, senders
from cocreate.core.models import Channel, MessageStatus, Notification, OutboxMessage, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(world: World) -> list[Any]:
    staff = world.user(Role.VILLAGE_STAFF)
    staff.email = "staff@example.org"
    staff.save()
    return [staff, world.user(Role.RESIDENT)]  # the resident has a phone but no e-mail


def test_notify_creates_inbox_rows_and_outbox_rows_with_recipients(people: list[Any]) -> None:
    created = notify.notify(
        users=[*people, people[0]],
        title="任务即将到期",
        body="请在周五前上报",
        url="/plans/1/",
        channels=("inapp", "email", "sms"),
    )
    assert [n.user for n in created] == people
    assert Notification.objects.count() == 2
    rows = set(OutboxMessage.objects.values_list("channel", "recipient", "status"))
    assert rows == {
        (Channel.EMAIL, "staff@example.org", MessageStatus.PENDING),
        (Channel.SMS, people[0].phone, MessageStatus.PENDING),
        (Channel.SMS, people[1].phone, MessageStatus.PENDING),
    }
    sms = OutboxMessage.objects.filter(channel=Channel.SMS).first()
    assert sms is not None and "任务即将到期" in sms.body and "请在周五前上报" in sms.body


def test_inapp_only_by_default_and_unknown_channel_refused(people: list[Any]) -> None:
    notify.notify(users=people, title="公示")
    assert Notification.objects.count() == 2 and OutboxMessage.objects.count() == 0
    with pytest.raises(ValueError):
        notify.notify(users=people, title="x", channels=("pigeon",))


def test_messages_are_sent_only_after_commit(people: list[Any], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify.notify(users=people, title="会议通知", body="今晚七点", channels=("email",))
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["staff@example.org"]]
    assert mail.outbox[0].subject == "会议通知"
    message = OutboxMessage.objects.get()
    assert message.status == MessageStatus.SENT and message.attempts == 1 and message.sent_at is not None


def test_rolled_back_change_sends_nothing(people: list[Any], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        notify.notify(users=people, title="会议通知", channels=("inapp", "email"))
        raise RuntimeError("the change failed")
    assert Notification.objects.count() == 0 and OutboxMessage.objects.count() == 0 and mail.outbox == []


def test_dedupe_key_queues_a_reminder_only_once(people: list[Any]) -> None:
    for _ in range(3):
        notify.notify(users=people, title="提醒", channels=("inapp", "sms"), dedupe_key="task:12:due")
    assert Notification.objects.count() == 2
    assert OutboxMessage.objects.count() == 2
    # Another event for the same people is not swallowed by the first one's key.
    notify.notify(users=people, title="提醒", channels=("inapp",), dedupe_key="task:13:due")
    assert Notification.objects.count() == 4


def test_duplicate_insert_keeps_the_callers_transaction_usable(people: list[Any]) -> None:
    notify.notify(users=people[:1], title="提醒", dedupe_key="k")
    existing = Notification.objects.get()
    with transaction.atomic():
        # Bypass the pre-check to hit the unique constraint itself, as a concurrent caller would.
        duplicate = Notification(user=people[0], title="提醒", dedupe_key=existing.dedupe_key)
        assert notify._insert_once(duplicate) is False
        Notification.objects.create(user=people[1], title="同一事务里的后续写入")
    assert Notification.objects.count() == 2


def test_long_dedupe_keys_still_fit_and_stay_distinct(people: list[Any]) -> None:
    notify.notify(users=people[:1], title="a", dedupe_key="x" * 300)
    notify.notify(users=people[:1], title="b", dedupe_key="x" * 299 + "y")
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == 2 and all(k is not None and len(k) <= 200 for k in keys)


def test_mark_read_only_own_notifications(people: list[Any]) -> None:
    own, other = notify.notify(users=people, title="通知")
    notify.notification_mark_read(actor=people[0], notification=own)
    own.refresh_from_db()
    assert own.read_at is not None
    with pytest.raises(PermissionDenied):
        notify.notification_mark_read(actor=people[0], notification=other)
    other.refresh_from_db()
    assert other.read_at is None
    assert notify.notification_mark_all_read(actor=people[1]) == 1


def test_enqueue_failure_is_logged_and_the_sweep_sends_later(
    people: list[Any], django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def queue_down(message_id: int) -> None:
        raise ConnectionError("queue is down")

    monkeypatch.setattr(jobs, "send_outbox_message", queue_down)
    with django_capture_on_commit_callbacks(execute=True):
        notify.notify(users=people, title="会议通知", channels=("email",))
    message = OutboxMessage.objects.get()
    assert message.status == MessageStatus.PENDING and message.attempts == 0
    assert "the sweep will send it" in caplog.text
    assert jobs.sweep_due() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(mail.outbox) == 1
    assert jobs.sweep_due() == 0 and len(mail.outbox) == 1


def test_backoff_doubles_from_one_minute_and_is_capped() -> None:
    assert [jobs.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert jobs.backoff(9) == timedelta(minutes=256)
    assert jobs.backoff(10) == timedelta(hours=6) and jobs.backoff(40) == timedelta(hours=6)


def test_a_claimed_message_is_not_claimed_twice(people: list[Any]) -> None:
    notify.notify(users=people[:1], title="x", channels=("email",))
    message = OutboxMessage.objects.get()
    assert jobs.claim_message(message.pk) is not None
    assert jobs.claim_message(message.pk) is None
    assert jobs.deliver_outbox_message(message.pk) is False
    assert mail.outbox == []


# --- A real HTTP SMS gateway on 127.0.0.1 -----------------------------------------------------------


class Gateway:
    """A tiny SMS gateway: answers ``status`` and records each request body."""

    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def gateway(settings: Any) -> Iterator[Gateway]:
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.bodies.append(self.rfile.read(length))
            state.headers.append(dict(self.headers))
            self.send_response(state.status)
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if state.status == 200 else b"gateway busy")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_address[1]}/send"
    settings.SMS_GATEWAY_HEADERS = '{"X-Token": "secret"}'
    settings.SMS_GATEWAY_TIMEOUT = 5
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def make_due(message: OutboxMessage) -> None:
    """Moves the next attempt into the past instead of waiting for the back-off."""
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_failing_gateway_schedules_retries_with_backoff_then_sends(
    people: list[Any], gateway: Gateway, django_capture_on_commit_callbacks: Any
) -> None:
    gateway.status = 503
    resident = people[1]
    started = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        notify.notify(users=[resident], title='停水"通知"', body="明天\n8点到12点", channels=("sms",))
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert "503" in message.last_error
    assert started + timedelta(seconds=55) < message.next_attempt_at < timezone.now() + timedelta(seconds=65)
    assert jobs.sweep_due() == 0  # not due yet: nothing is tried
    assert len(gateway.bodies) == 1

    make_due(message)
    assert jobs.sweep_due() == 0
    message.refresh_from_db()
    assert message.attempts == 2 and message.status == MessageStatus.PENDING
    assert timezone.now() + timedelta(seconds=115) < message.next_attempt_at < timezone.now() + timedelta(seconds=125)

    gateway.status = 200
    make_due(message)
    assert jobs.sweep_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 3, "")
    assert len(gateway.bodies) == 3
    payload = json.loads(gateway.bodies[-1])
    assert payload["phone"] == resident.phone
    assert payload["text"].startswith('【共同缔造】停水"通知"：明天\n8点到12点')
    assert gateway.headers[-1]["X-Token"] == "secret"


def test_message_fails_for_good_after_max_attempts(people: list[Any], gateway: Gateway, settings: Any) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 2
    gateway.status = 500
    notify.notify(users=people[1:], title="x", channels=("sms",))
    message = OutboxMessage.objects.get()
    for _ in range(3):
        make_due(message)
        jobs.sweep_due()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 2)
    assert "500" in message.last_error
    assert len(gateway.bodies) == 2


def test_unreachable_gateway_raises_send_error(settings: Any) -> None:
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/nothing-listens-here"
    settings.SMS_GATEWAY_TIMEOUT = 2
    with pytest.raises(senders.SendError):
        senders.send_sms(phone="13700000000", text="x")


def test_gateway_body_escapes_values_for_json(settings: Any) -> None:
    body = senders.gateway_request_body(phone="137", text='他说："好"\\ok\n')
    assert json.loads(body) == {"phone": "137", "text": '他说："好"\\ok\n'}
