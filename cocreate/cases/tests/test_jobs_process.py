"""The reminder sweep run as a real worker process that is killed (SIGKILL) in the middle of a step
and started again: no reminder is lost and none is sent twice (issue 5 acceptance).

The worker is a separate Python process on the test database (PostgreSQL: an in-memory SQLite
test database cannot be shared with another process). Each ladder step prints a line from inside
its transaction and then pauses, so the test knows exactly where the kill lands: after the first
``KILL_AT - 1`` steps have committed and while step ``KILL_AT`` is half written (its reminder row,
notifications and outbox rows inserted, not committed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from cocreate.cases import jobs
from cocreate.cases.models import Case, CaseReminder, CaseStatus
from cocreate.cases.tests import helpers as h
from cocreate.conftest import build_world
from cocreate.core import workdays
from cocreate.core.models import Notification, OutboxMessage

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process needs a shared database"),
]

# Monday 2 March 2026, 10:00 Beijing time: a plain working week, no holidays near.
START = timezone.make_aware(datetime(2026, 3, 2, 10, 0))
KILL_AT = 3

WORKER = """
import sys, time
from datetime import datetime

import django

django.setup()
from cocreate.cases import jobs

now = datetime.fromisoformat(sys.argv[1])
if sys.argv[2] == "slow":
    real = jobs.recipients

    def announced(case, kind):
        users = real(case, kind)
        print(f"step {case.pk} {kind}", flush=True)
        # Inside the step's transaction: wait for the test's word, so a kill lands exactly here.
        sys.stdin.readline()
        return users

    jobs.recipients = announced
result = jobs.sweep_cases(now=now)
print(f"done {result.total}", flush=True)
"""


def _worker(now: datetime, mode: str) -> subprocess.Popen[str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "cocreate.settings", "COCREATE_TESTING": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, now.isoformat(), mode],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ladder_rows() -> tuple[Counter[tuple[str, int]], list[str]]:
    notes = Counter(Notification.objects.filter(dedupe_key__contains=":ladder:").values_list("dedupe_key", "user_id"))
    keys = OutboxMessage.objects.filter(dedupe_key__contains=":ladder:").values_list("dedupe_key", flat=True)
    outbox = [key for key in keys if key]
    return notes, outbox


def test_a_worker_killed_mid_sweep_and_restarted_loses_and_repeats_no_reminder(monkeypatch: Any) -> None:
    monkeypatch.setattr(timezone, "now", lambda: START)
    world = build_world()
    cases = [h.case_in(world, CaseStatus.DISPATCHED) for _ in range(3)]
    cases += [h.case_in(world, CaseStatus.SIGNED) for _ in range(2)]
    # Six working days after the first-contact deadlines: 催办, 督办通知 and 通报 are all due.
    deadline = min(jobs.current_deadline(c) or START for c in cases)
    now = timezone.localtime(workdays.add_working_days(deadline, 6)).replace(hour=9, minute=0, second=0, microsecond=0)
    # Every case with a running clock counts (the shared test world brings a few of its own).
    expected = {
        (c.pk, kind)
        for c in Case.objects.filter(status__in=jobs.CLOCK_STATES)
        for kind in map(str, jobs.due_steps(jobs.current_deadline(c) or now, now))
    }
    assert len(expected) >= 3 * len(cases)

    # The shared test world brings a 到期提醒 row per case of its own: count what the sweeps add.
    already = set(CaseReminder.objects.values_list("pk", flat=True))
    added = CaseReminder.objects.exclude(pk__in=already)
    worker = _worker(now, "slow")
    assert worker.stdout is not None
    seen: list[str] = []
    started = time.monotonic()
    while len(seen) < KILL_AT:
        line = worker.stdout.readline()
        assert line, f"worker ended early: {worker.stderr.read() if worker.stderr else ''}"
        if line.startswith("step "):
            seen.append(line.strip())
            if len(seen) < KILL_AT:
                assert worker.stdin is not None
                worker.stdin.write("go\n")  # let this step commit
                worker.stdin.flush()
        assert time.monotonic() - started < 120
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL

    # The steps before the kill are complete; the one it interrupted left nothing behind.
    assert added.count() == KILL_AT - 1
    notes, outbox = _ladder_rows()
    half_done = seen[-1].split()
    assert not CaseReminder.objects.filter(case_id=int(half_done[1]), kind=half_done[2]).exists()
    assert not [key for key, _user in notes if key.startswith(f"case:{half_done[1]}:ladder:{half_done[2]}:")]
    assert len({key.split("|")[0] for key, _user in notes}) <= KILL_AT - 1

    restarted = _worker(now, "fast")
    out, err = restarted.communicate(input="", timeout=120)
    assert restarted.returncode == 0, err
    assert out.strip().endswith(f"done {len(expected) - (KILL_AT - 1)}"), out

    done = set(added.values_list("case_id", "kind"))
    assert done == expected - set(CaseReminder.objects.filter(pk__in=already).values_list("case_id", "kind"))
    assert added.count() == len(done)
    notes, outbox = _ladder_rows()
    assert set(notes.values()) == {1}, "a notification was sent twice"
    assert len(outbox) == len(set(outbox)), "an SMS or e-mail was queued twice"
    # Every step that had someone to tell told them (in the app, and by SMS / e-mail).
    told = {jobs.dedupe_key(r.case, r.kind, r.deadline) for r in added.filter(recipients__gt=0).select_related("case")}
    assert len(told) >= len(expected) - len(cases), "too many steps with nobody to tell: the test proves little"
    assert {key.split("|")[0] for key, _user in notes} == told
    assert {key.split("|")[0] for key in outbox} == told

    # A third run finds nothing left to send.
    again = _worker(now + timedelta(minutes=15), "fast")
    out, err = again.communicate(input="", timeout=120)
    assert again.returncode == 0, err
    assert out.strip().endswith("done 0"), out
