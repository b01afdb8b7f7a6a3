"""Deadline reminders and escalation: who hears what, when, and only once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Membership, Notification, OutboxMessage, Role, User
from cocreate.plans import jobs, services
from cocreate.plans.models import Plan, PlanStatus, Task

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)


def _plan(world: World, **kw: Any) -> Plan:
    args: dict[str, Any] = {
        "actor": world.user(Role.TOWN_STAFF),
        "title": "提醒测试方案",
        "issuing_unit": world.units["town_office"],
        "region": world.regions["town_a"],
        "starts_on": date(2026, 1, 1),
        "ends_on": date(2026, 12, 31),
    }
    args.update(kw)
    return services.plan_create(**args)


def _task(world: World, plan: Plan, deadline: date, **kw: Any) -> Task:
    args: dict[str, Any] = {
        "actor": world.user(Role.TOWN_STAFF),
        "plan": plan,
        "title": f"到期{deadline:%m%d}",
        "starts_on": date(2026, 1, 1),
        "deadline": deadline,
        "units": {"responsible": [world.units["village_committee"]]},
    }
    args.update(kw)
    return services.task_create(**args)


def _keys(user: User) -> set[str]:
    return {key.split("|")[0] for key in Notification.objects.filter(user=user).values_list("dedupe_key", flat=True)}


def _key(task: Task, kind: str) -> str:
    return jobs.dedupe_key(task, kind)


def test_reminders_are_sent_once_each_even_when_the_sweep_runs_twice(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    plan = _plan(world)  # remind 3 days before, escalate after 3 days overdue
    person, leader = world.user(Role.VILLAGE_STAFF), world.user(Role.LEADER)
    people = {"responsible": [person], "leader": [leader]}
    soon = _task(world, plan, TODAY + timedelta(days=3), people=people)
    today = _task(world, plan, TODAY, people=people)
    later = _task(world, plan, TODAY + timedelta(days=4), people=people)
    missed = _task(world, plan, TODAY - timedelta(days=1), people=people)
    escalated = _task(world, plan, TODAY - timedelta(days=3), people=people)

    with django_capture_on_commit_callbacks(execute=True):
        first = jobs.send_task_reminders(today=TODAY)
    second = jobs.send_task_reminders(today=TODAY)
    assert second == 0
    assert _keys(person) == {
        _key(soon, jobs.REMIND_BEFORE),
        _key(today, jobs.REMIND_BEFORE),
        _key(missed, jobs.REMIND_MISSED),
        _key(escalated, jobs.REMIND_MISSED),
    }
    assert _keys(leader) == {_key(escalated, jobs.ESCALATE)}
    assert first == 5
    assert Notification.objects.count() == 5
    assert _key(later, jobs.REMIND_BEFORE) not in _keys(person)
    # Each reminder also went to the outbox once (SMS to the account's phone), and was delivered.
    sms = OutboxMessage.objects.filter(channel="sms", recipient=person.phone)
    assert sms.count() == 4
    assert set(sms.values_list("status", flat=True)) == {"sent"}

    # The next days bring only what is new: the later task's reminder and "today" missed …
    assert jobs.send_task_reminders(today=TODAY + timedelta(days=1)) == 2
    assert _key(later, jobs.REMIND_BEFORE) in _keys(person)
    assert _key(today, jobs.REMIND_MISSED) in _keys(person)
    # … then the escalation of the task missed yesterday, three days overdue.
    assert jobs.send_task_reminders(today=TODAY + timedelta(days=2)) == 1
    assert jobs.send_task_reminders(today=TODAY + timedelta(days=2)) == 0
    assert _key(missed, jobs.ESCALATE) in _keys(leader)


def test_texts_name_the_task_and_the_days(world: World) -> None:
    plan = _plan(world)
    person = world.user(Role.VILLAGE_STAFF)
    task = _task(world, plan, TODAY + timedelta(days=2), people={"responsible": [person]})
    jobs.send_task_reminders(today=TODAY)
    note = Notification.objects.get(user=person)
    assert note.title == f"任务还有2天到期：{task.title}"
    assert "2026-06-17" in note.body and "甲镇" in note.body
    assert note.url == services.task_url(task)


def test_without_a_responsible_person_the_unit_members_are_reminded(world: World) -> None:
    plan = _plan(world)
    task = _task(world, plan, TODAY + timedelta(days=1))
    clerk = User.objects.create_user(phone="13800000031", password="x" * 12)
    Membership.objects.create(
        user=clerk, role=Role.GRID_WORKER, region=world.regions["village_a"], unit=world.units["village_committee"]
    )
    former = User.objects.create_user(phone="13800000032", password="x" * 12)
    Membership.objects.create(
        user=former,
        role=Role.GRID_WORKER,
        region=world.regions["village_a"],
        unit=world.units["village_committee"],
        is_active=False,
    )
    jobs.send_task_reminders(today=TODAY)
    reminded = set(Notification.objects.values_list("user_id", flat=True))
    # The world's village staff account is a member of the committee too.
    assert reminded == {clerk.pk, world.user(Role.VILLAGE_STAFF).pk}
    assert _key(task, jobs.REMIND_BEFORE) in _keys(clerk)


def test_fanned_out_children_escalate_to_the_parent_leader(world: World) -> None:
    plan = _plan(world)
    leader = world.user(Role.LEADER)
    parent = _task(
        world,
        plan,
        TODAY - timedelta(days=5),
        units={"lead": [world.units["town_office"]]},
        people={"leader": [leader]},
        fan_out=True,
    )
    jobs.send_task_reminders(today=TODAY)
    assert _keys(leader) == {_key(child, jobs.ESCALATE) for child in parent.children.all()}
    # The village committees' members hear that their child task was missed.
    assert _keys(world.user(Role.VILLAGE_STAFF)) == {
        _key(parent.children.get(region=world.regions["village_a"]), jobs.REMIND_MISSED)
    }


def test_done_tasks_draft_plans_and_plan_settings(world: World) -> None:
    person = world.user(Role.VILLAGE_STAFF)
    draft = _plan(world, status=PlanStatus.DRAFT)
    _task(world, draft, TODAY, people={"responsible": [person]})
    plan = _plan(world)
    done = _task(world, plan, TODAY, people={"responsible": [person]})
    Task.objects.filter(pk=done.pk).update(progress=Decimal(100))
    assert jobs.send_task_reminders(today=TODAY) == 0
    # A plan that reminds ten days ahead reaches a task due in ten days.
    services.plan_update(actor=world.user(Role.TOWN_STAFF), plan=plan, data={"remind_days_before": 10})
    far = _task(world, plan, TODAY + timedelta(days=10), people={"responsible": [person]})
    assert jobs.send_task_reminders(today=TODAY) == 1
    assert _keys(person) == {_key(far, jobs.REMIND_BEFORE)}


def test_a_new_deadline_gets_new_reminders(world: World) -> None:
    plan = _plan(world)
    person = world.user(Role.VILLAGE_STAFF)
    task = _task(world, plan, TODAY + timedelta(days=1), people={"responsible": [person]})
    assert jobs.send_task_reminders(today=TODAY) == 1
    Task.objects.filter(pk=task.pk).update(deadline=TODAY + timedelta(days=2))
    task.refresh_from_db()
    assert jobs.send_task_reminders(today=TODAY) == 1
    assert jobs.send_task_reminders(today=TODAY) == 0


def test_periodic_task_runs_the_sweep_for_today(world: World) -> None:
    today = timezone.localdate()
    plan = _plan(world, starts_on=today - timedelta(days=30), ends_on=today + timedelta(days=30))
    person = world.user(Role.VILLAGE_STAFF)
    task = _task(
        world, plan, today + timedelta(days=1), starts_on=today - timedelta(days=30), people={"responsible": [person]}
    )
    # At least this reminder (the world's own tasks may be due too, depending on the date).
    assert jobs.task_reminders.call_local() >= 1
    assert _key(task, jobs.REMIND_BEFORE) in _keys(person)
    assert jobs.task_reminders.call_local() == 0


def test_rolling_quotas_start_again_each_period(world: World) -> None:
    plan = _plan(world, starts_on=date(2020, 1, 1), ends_on=date(2030, 12, 31))
    weekly = _task(
        world,
        plan,
        date(2030, 12, 31),
        starts_on=date(2020, 1, 1),
        targets=[services.TargetSpec(kind="quota", name="志愿服务活动", quota_count=1, quota_period="week")],
    )
    total = _task(
        world,
        plan,
        date(2030, 12, 31),
        starts_on=date(2020, 1, 1),
        targets=[services.TargetSpec(kind="quota", name="管理交流", quota_count=1, quota_period="total")],
    )
    today = timezone.localdate()
    for task in (weekly, total):
        services.report_submit(
            actor=world.user(Role.TOWN_STAFF),
            task=task,
            unit=world.units["village_committee"],
            kind="activity",
            activity_date=today,
        )
    assert jobs.recompute_rolling_quotas(today=today) == 0
    next_week = today + timedelta(days=7)
    assert jobs.recompute_rolling_quotas(today=next_week) == 1
    weekly.refresh_from_db()
    total.refresh_from_db()
    assert (weekly.progress, weekly.completed_on) == (Decimal(0), None)
    assert total.progress == Decimal(100)


def test_long_overdue_tasks_are_left_alone(world: World) -> None:
    plan = _plan(world)  # escalate after 3 days; the sweep looks back 3 + 30 days
    person, leader = world.user(Role.VILLAGE_STAFF), world.user(Role.LEADER)
    people = {"responsible": [person], "leader": [leader]}
    edge = _task(world, plan, TODAY - timedelta(days=33), people=people)
    _task(world, plan, TODAY - timedelta(days=34), people=people)
    assert jobs.send_task_reminders(today=TODAY) == 2
    assert _keys(person) == {_key(edge, jobs.REMIND_MISSED)}
    assert _keys(leader) == {_key(edge, jobs.ESCALATE)}
