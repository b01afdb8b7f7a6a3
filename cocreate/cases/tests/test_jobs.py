"""Reminders and the 督办 ladder: who hears what, when, exactly once — also after a crash."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from cocreate.cases import jobs, services
from cocreate.cases.models import Case, CaseReminder, CaseStatus, ReminderKind
from cocreate.cases.tests import helpers
from cocreate.conftest import World
from cocreate.core import workdays
from cocreate.core.models import Notification, OutboxMessage, Role

pytestmark = pytest.mark.django_db

K = ReminderKind
# Monday 2 March 2026, 10:00 Beijing time: a plain working week, no holidays near.
START = timezone.make_aware(datetime(2026, 3, 2, 10, 0))


class Clock:
    """A frozen clock the test moves by hand (timezone.now is patched to read it)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.now = START
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch)


def _steps(case: Case) -> list[tuple[str, datetime]]:
    return list(CaseReminder.objects.filter(case=case).order_by("sent_at", "id").values_list("kind", "deadline"))


def _ladder_notes(case: Case) -> Counter[tuple[str, int]]:
    """(kind, user id) → how many in-app notifications of the ladder each user got for ``case``."""
    rows = Notification.objects.filter(dedupe_key__startswith=f"case:{case.pk}:ladder:")
    return Counter((key.split(":")[3], user) for key, user in rows.values_list("dedupe_key", "user_id"))


def _after_workdays(moment: datetime, days: int) -> datetime:
    """09:00 on the ``days``-th working day after ``moment``'s day."""
    end = workdays.add_working_days(moment, days)
    return timezone.localtime(end).replace(hour=9, minute=0, second=0, microsecond=0)


def test_the_ladder_goes_to_the_right_people_once_each_even_when_run_twice(world: World, clock: Clock) -> None:
    case = helpers.case_in(world, CaseStatus.DISPATCHED)
    deadline = helpers.t(case.step_due_at)  # first contact: one working day after dispatch
    assert jobs.current_deadline(case) == deadline < helpers.t(case.due_at)
    lead, above, inspector = helpers.lead(world), helpers.reviewer(world), world.user(Role.INSPECTOR)

    first = jobs.sweep_cases()
    again = jobs.sweep_cases()
    assert first.steps[K.BEFORE] == 1 and first.notifications == 1
    assert again.total == 0 and again.notifications == 0
    assert _ladder_notes(case) == {("before", lead.pk): 1}
    assert not jobs.is_overdue(case)

    clock.at(deadline + timedelta(hours=9))  # Wednesday 09:00: missed by a few hours
    assert jobs.is_overdue(case) and Case.objects.filter(jobs.overdue_q(), pk=case.pk).exists()
    assert jobs.sweep_cases().steps[K.URGE] == 1
    assert jobs.sweep_cases().total == 0

    clock.at(_after_workdays(deadline, 2))  # two working days late: 督办通知
    assert jobs.sweep_cases().steps == {K.BEFORE: 0, K.URGE: 0, K.SUPERVISE: 1, K.BULLETIN: 0}
    clock.at(_after_workdays(deadline, 4))
    assert jobs.sweep_cases().total == 0
    clock.at(_after_workdays(deadline, 5))  # five working days late: 通报
    assert jobs.sweep_cases().steps[K.BULLETIN] == 1
    assert jobs.sweep_cases().total == 0

    assert [kind for kind, _d in _steps(case)] == ["before", "urge", "supervise", "bulletin"]
    assert {d for _k, d in _steps(case)} == {deadline}
    assert _ladder_notes(case) == {
        ("before", lead.pk): 1,
        ("urge", lead.pk): 1,
        ("supervise", above.pk): 1,
        ("bulletin", inspector.pk): 1,
    }
    # Each notification also went out once as an SMS to the account's phone, through the outbox.
    sms = OutboxMessage.objects.filter(dedupe_key__startswith=f"case:{case.pk}:ladder:", channel="sms")
    assert sorted(sms.values_list("recipient", flat=True)) == sorted(
        [lead.phone, lead.phone, above.phone, inspector.phone]
    )
    assert CaseReminder.objects.get(case=case, kind=K.SUPERVISE).recipients == 1
    # Every message links to the case page, which each recipient may open.
    page = f"/cases/{case.pk}/"
    notes = Notification.objects.filter(dedupe_key__startswith=f"case:{case.pk}:ladder:")
    assert set(notes.values_list("url", flat=True)) == {page}
    assert all(page in body for body in sms.values_list("body", flat=True))


def test_a_sweep_that_missed_days_sends_every_step_due_once(world: World, clock: Clock) -> None:
    case = helpers.case_in(world, CaseStatus.SIGNED)
    clock.at(_after_workdays(helpers.t(case.step_due_at), 6))
    result = jobs.sweep_cases()
    assert result.steps == {K.BEFORE: 0, K.URGE: 1, K.SUPERVISE: 1, K.BULLETIN: 1}
    assert jobs.sweep_cases().total == 0


def test_a_crash_mid_sweep_loses_and_repeats_nothing(world: World, clock: Clock, monkeypatch: Any) -> None:
    cases = [helpers.case_in(world, CaseStatus.DISPATCHED) for _ in range(3)]
    clock.at(_after_workdays(helpers.t(cases[0].step_due_at), 1))
    real_notify = jobs.notify
    calls = {"n": 0}

    def crashing_notify(**kwargs: Any) -> Any:
        # The second step writes its notifications and outbox rows, then the worker dies before commit.
        created = real_notify(**kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return created

    monkeypatch.setattr(jobs, "notify", crashing_notify)
    with pytest.raises(RuntimeError):
        jobs.sweep_cases()
    # The first step is complete; the one that crashed left no record, notification or outbox row.
    # (Counted over these cases: the test world holds a reminder of its own, world.py.)
    assert CaseReminder.objects.filter(case__in=cases).count() == 1
    done = CaseReminder.objects.filter(case__in=cases).get()
    assert Notification.objects.filter(dedupe_key__contains=":ladder:").count() == 1
    per_step = OutboxMessage.objects.filter(dedupe_key__contains=":ladder:").count()
    assert per_step >= 1  # the lead unit's SMS (and e-mail, if it has an address)

    monkeypatch.setattr(jobs, "notify", real_notify)
    result = jobs.sweep_cases()
    assert result.steps[K.URGE] == 2  # the two cases not done before the crash
    assert jobs.sweep_cases().total == 0
    lead = helpers.lead(world)
    for case in cases:
        assert _ladder_notes(case) == {("urge", lead.pk): 1}, case
        assert [k for k, _d in _steps(case)] == ["urge"]
    assert CaseReminder.objects.filter(pk=done.pk).exists()
    keys = list(OutboxMessage.objects.filter(dedupe_key__contains=":ladder:").values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == 3 * per_step


def test_cases_closed_or_waiting_on_others_get_nothing(world: World, clock: Clock) -> None:
    closed = helpers.case_in(world, CaseStatus.CLOSED)
    replied = helpers.case_in(world, CaseStatus.REPLIED)
    returned = helpers.case_in(world, CaseStatus.RETURNED)
    triaged = helpers.case_in(world, CaseStatus.TRIAGED)
    clock.at(_after_workdays(START, 30))  # long after every deadline they had
    assert jobs.sweep_cases().total == 0
    for case in (closed, replied, returned, triaged):
        assert not jobs.is_overdue(case)
        assert not Case.objects.filter(jobs.overdue_q(), pk=case.pk).exists()
    assert not CaseReminder.objects.filter(case__in=[closed, replied, returned, triaged]).exists()
    assert not Notification.objects.filter(dedupe_key__contains=":ladder:").exists()


def test_a_case_closed_before_its_deadline_hears_nothing_afterwards(world: World, clock: Clock) -> None:
    case = helpers.case_in(world, CaseStatus.IN_PROGRESS)
    jobs.sweep_cases()  # nothing yet: the deadline is weeks away
    assert not CaseReminder.objects.filter(case=case).exists()
    services.case_reply(actor=helpers.lead(world), case=case, answer="已调解")
    helpers.rate(world, case)
    clock.at(helpers.t(case.due_at) + timedelta(days=10))
    assert jobs.sweep_cases().total == 0
    assert not CaseReminder.objects.filter(case=case).exists()


def test_an_approved_extension_starts_a_new_ladder_for_the_new_deadline(world: World, clock: Clock) -> None:
    case = helpers.case_in(world, CaseStatus.IN_PROGRESS)
    # Handling ends 13 working days after first contact, before the case's 15: that is the deadline.
    old = helpers.t(case.step_due_at)
    assert jobs.current_deadline(case) == old < helpers.t(case.due_at)
    clock.at(old - timedelta(hours=20))  # the afternoon before the deadline's day ends
    services.case_extension_request(actor=helpers.lead(world), case=case, days=3, reason="需等待鉴定结果")
    assert jobs.sweep_cases().steps[K.BEFORE] == 1
    clock.at(old + timedelta(hours=10))  # missed, while the request is still pending
    assert jobs.sweep_cases().steps[K.URGE] == 1

    services.case_extension_decide(actor=helpers.reviewer(world), case=case, approve=True)
    case.refresh_from_db()
    new = helpers.t(case.due_at)
    assert new > old and jobs.current_deadline(case) == new
    assert not jobs.is_overdue(case)
    result = jobs.sweep_cases()  # the new deadline is three working days away: beyond the window
    assert result.total == 0

    clock.at(new - timedelta(hours=3))
    assert jobs.sweep_cases().steps[K.BEFORE] == 1
    clock.at(_after_workdays(new, 2))
    assert jobs.sweep_cases().steps == {K.BEFORE: 0, K.URGE: 1, K.SUPERVISE: 1, K.BULLETIN: 0}
    assert _steps(case) == [
        (K.BEFORE, old),
        (K.URGE, old),
        (K.BEFORE, new),
        (K.URGE, new),
        (K.SUPERVISE, new),
    ]
    assert _ladder_notes(case)[("urge", helpers.lead(world).pk)] == 2  # once per deadline


def test_the_command_runs_the_sweep(world: World, clock: Clock, capsys: Any) -> None:
    helpers.case_in(world, CaseStatus.DISPATCHED)
    call_command("case_sweep")
    call_command("case_sweep")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "case sweep: before=1, urge=0, supervise=0, bulletin=0; notifications=1",
        "case sweep: before=0, urge=0, supervise=0, bulletin=0; notifications=0",
    ]
