"""Outbox jobs through real queues: a private redis-server that is stopped and restarted, the SQLite
queue file, and a round trip through the machine's own Redis.

The unit tests elsewhere run Huey in immediate mode; these build real (non-immediate) Huey
instances, route the outbox's send task to them, and play the consumer's part with
``dequeue()`` + ``execute()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from huey import Huey, RedisHuey, SqliteHuey

from cocreate.conftest import World
from cocreate.core import jobs, notify, senders
from cocreate.core.models import MessageStatus, Notification, OutboxMessage, Role, User
from cocreate.core.tests.concurrency import race

pytestmark = pytest.mark.django_db

IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A private, throw-away redis-server on its own port (never the machine's 6379)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self, *, save: bool = False) -> None:
        if self.process is None:
            return
        if save:
            import redis

            # SHUTDOWN SAVE writes dump.rdb even with "--save ''", as a persistent production Redis would.
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis.from_url(self.url).shutdown(save=True)
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
    assert binary is not None
    server = RedisProcess(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Queue:
    """The outbox tasks registered on a real Huey, with the consumer's part played by hand."""

    def __init__(self, huey: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
        self.huey = huey
        self.send = huey.task(name="send_outbox_message")(jobs.deliver_outbox_message)
        self.sweep = huey.task(name="sweep_outbox")(jobs.sweep_due)
        # notify() enqueues through jobs.send_outbox_message: route it to this queue.
        monkeypatch.setattr(jobs, "send_outbox_message", self.send)

    def drain(self, *, newest_first: bool = False) -> list[Any]:
        """Dequeues every waiting task and runs it, as a consumer would; returns the results.

        ``newest_first`` plays several consumers racing, where a later task may run first.
        """
        tasks = []
        while self.huey.pending_count():
            task = self.huey.dequeue()
            if task is None:
                break
            tasks.append(task)
        if newest_first:
            tasks.reverse()
        return [self.huey.execute(task) for task in tasks]


@pytest.fixture
def staff(world: World) -> Any:
    user = world.user(Role.VILLAGE_STAFF)
    user.email = "staff@example.org"
    user.save()
    return user


def queue_mail(staff: Any, title: str, capture: Any) -> OutboxMessage:
    with capture(execute=True):
        notify.notify(users=[staff], title=title, channels=("email",))
    return OutboxMessage.objects.get(subject=title)


def subjects() -> list[str]:
    return sorted(str(m.subject) for m in mail.outbox)


@pytest.mark.redis
def test_message_survives_redis_being_stopped_and_is_delivered_once_restarted(
    redis_process: RedisProcess,
    staff: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    huey = RedisHuey(f"cocreate-test-{uuid.uuid4().hex}", url=redis_process.url, immediate=False, blocking=False)
    queue = Queue(huey, monkeypatch)

    queued = queue_mail(staff, "停电前已入队", django_capture_on_commit_callbacks)
    assert huey.pending_count() == 1

    # Redis goes away with the task (no persistence), and the next message cannot be queued at all.
    redis_process.stop()
    started = time.monotonic()
    unqueued = queue_mail(staff, "停电期间产生", django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 10, "a dead queue must not hang the request"
    assert "the sweep will send it" in caplog.text
    for message in (queued, unqueued):
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.PENDING, 0)
    assert mail.outbox == []

    redis_process.start()
    assert huey.pending_count() == 0  # the queued task was lost with the old Redis
    queue.sweep()  # the consumer's periodic sweep, through the real queue
    assert queue.drain() == [2]
    for message in (queued, unqueued):
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert subjects() == ["停电前已入队", "停电期间产生"]

    # Later sweeps find nothing: every message went exactly once.
    queue.sweep()
    assert queue.drain() == [0]
    assert len(mail.outbox) == 2


@pytest.mark.redis
def test_task_kept_by_a_persistent_redis_and_the_sweep_still_send_only_once(
    redis_process: RedisProcess,
    staff: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    huey = RedisHuey(f"cocreate-test-{uuid.uuid4().hex}", url=redis_process.url, immediate=False, blocking=False)
    queue = Queue(huey, monkeypatch)
    message = queue_mail(staff, "入队后重启", django_capture_on_commit_callbacks)
    redis_process.stop(save=True)
    redis_process.start()
    assert huey.pending_count() == 1  # the task came back from dump.rdb
    queue.sweep()
    # The sweep sends it first; the stale task that comes back from the dump must then do nothing.
    assert queue.drain(newest_first=True) == [1, False]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert subjects() == ["入队后重启"]


def test_sqlite_queue_file_delivers_and_a_lost_queue_loses_nothing(
    tmp_path: Path, staff: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    huey = SqliteHuey("cocreate-test", filename=str(tmp_path / "huey.sqlite3"), immediate=False)
    queue = Queue(huey, monkeypatch)

    first = queue_mail(staff, "第一条", django_capture_on_commit_callbacks)
    assert huey.pending_count() == 1 and mail.outbox == []
    assert queue.drain() == [True]
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT

    second = queue_mail(staff, "第二条", django_capture_on_commit_callbacks)
    huey.flush()  # the queue file is lost (e.g. var/ wiped on a redeploy)
    assert huey.pending_count() == 0
    queue.sweep()
    assert queue.drain() == [1]
    second.refresh_from_db()
    assert (second.status, second.attempts) == (MessageStatus.SENT, 1)
    assert subjects() == ["第一条", "第二条"]


@pytest.mark.redis
def test_round_trip_through_the_machines_redis(
    staff: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        skip_or_fail(f"no Redis answers at {url}")
    # A queue name of its own, so nothing else on that Redis is read or touched.
    huey = RedisHuey(f"cocreate-test-{uuid.uuid4().hex}", url=url, immediate=False, blocking=False)
    try:
        queue = Queue(huey, monkeypatch)
        message = queue_mail(staff, "经由 Redis", django_capture_on_commit_callbacks)
        assert huey.pending_count() == 1
        assert queue.drain() == [True]
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT and subjects() == ["经由 Redis"]
    finally:
        huey.storage.flush_all()


# --- manage.py serve --------------------------------------------------------------------------------


class Serve:
    """``manage.py serve`` in a scratch var/ folder, with its output collected in a file."""

    def __init__(self, tmp_path: Path) -> None:
        from django.conf import settings

        self.port = free_port()
        self.log_path = tmp_path / "serve.log"
        (tmp_path / "demo_accounts.txt").write_text("演示账号 13700000001 密码 demo-pw\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "COCREATE_"))}
        env["COCREATE_VAR_DIR"] = str(tmp_path)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", "1", "--threads", "2"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 150  # two test processes on two cores: startup can be slow
        while True:
            try:
                # The first schema is built in the request (seconds on a busy machine), then kept.
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/openapi.json", timeout=20) as response:
                    assert response.status == 200
                if "sweep_outbox" in self.output:  # the consumer is up and found the jobs
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not come up:\n{self.output[-3000:]}")
            time.sleep(0.2)

    def children(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def port_is_closed(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) != 0

    def kill(self) -> None:
        """Stops serve and its children: a test that failed before serve stopped them itself must
        not leave a web server and a job consumer running (seen: orphans for an hour)."""
        if self.process.poll() is None:
            children = self.children()
            self.process.kill()
            self.process.wait()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)


def test_serve_runs_web_and_consumer_and_stops_both_on_sigterm(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        serve.wait_until_up()
        assert len(serve.children()) == 2
        assert "演示账号 13700000001" in serve.output
        assert f"http://127.0.0.1:{serve.port}/" in serve.output
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=30) == 0
        assert serve.port_is_closed()
    finally:
        serve.kill()


def test_serve_stops_when_a_child_dies(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        serve.wait_until_up()
        consumer = next(pid for pid in serve.children() if "run_huey" in Path(f"/proc/{pid}/cmdline").read_text())
        os.kill(consumer, signal.SIGKILL)
        assert serve.process.wait(timeout=30) != 0
        assert "jobs" in serve.output
        assert serve.port_is_closed()
    finally:
        serve.kill()


# --- Real concurrency (PostgreSQL: SQLite serialises writers anyway) ---------------------------------


def make_users(n: int) -> list[Any]:
    return [User.objects.create_user(phone=f"1380000{i:04d}", email=f"u{i}@example.org") for i in range(n)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_racing_sweeps_and_tasks_send_every_message_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    users = make_users(12)
    # Leave the rows pending (no immediate send on commit): the race below is what sends them.
    monkeypatch.setattr(jobs, "enqueue_messages", lambda ids: None)
    notify.notify(users=users, title="并发", channels=("email", "sms"))
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    assert len(ids) == 24
    sent: list[int] = []
    lock = threading.Lock()

    def deliver(message: OutboxMessage) -> None:
        time.sleep(0.01)  # widen the window in which a second worker could grab the same row
        with lock:
            sent.append(message.pk)

    monkeypatch.setattr(senders, "deliver", deliver)

    def work(i: int) -> int:
        # Half the workers sweep, half run the per-message tasks as queued consumers would.
        if i % 2:
            return jobs.sweep_due()
        return sum(jobs.deliver_outbox_message(pk) for pk in ids)

    results = race(6, work)
    assert all(isinstance(r, int) for r in results), results
    assert sorted(sent) == sorted(ids)  # every message once, none twice
    assert sum(results) == 24
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {(MessageStatus.SENT, 1)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_racing_reminders_with_one_dedupe_key_queue_once() -> None:
    users = make_users(3)

    def remind(i: int) -> int:
        with transaction.atomic():
            created = notify.notify(users=users, title="到期提醒", channels=("inapp", "email"), dedupe_key="task:7:due")
            # The caller's transaction must still work after a lost race on the unique key.
            Notification.objects.create(user=users[0], title=f"后续写入 {i}")
        return len(created)

    results = race(6, remind)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 3
    assert Notification.objects.filter(dedupe_key__isnull=False).count() == 3
    assert OutboxMessage.objects.count() == 3
    assert Notification.objects.filter(title__startswith="后续写入").count() == 6
