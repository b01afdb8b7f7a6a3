"""序时进度 and traffic lights on fixed dates (every function takes ``today``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.plans import services
from cocreate.plans.models import Plan, ReportKind, Task
from cocreate.plans.services import TargetSpec
from cocreate.plans.status import Light, expected_progress, task_light

pytestmark = pytest.mark.django_db

D = Decimal
START = date(2026, 1, 1)
END = date(2026, 12, 31)  # 364 days after START


def _plan(world: World) -> Plan:
    return services.plan_create(
        actor=world.user(Role.TOWN_STAFF),
        title="教共体建设方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=START,
        ends_on=END,
    )


def _task(world: World, plan: Plan, **kw: Any) -> Task:
    args: dict[str, Any] = {
        "actor": world.user(Role.TOWN_STAFF),
        "plan": plan,
        "title": "推进教共体建设",
        "starts_on": START,
        "deadline": END,
        "units": {"responsible": [world.units["village_committee"]]},
    }
    args.update(kw)
    return services.task_create(**args)


def test_expected_progress_is_elapsed_over_duration(world: World) -> None:
    task = _task(world, _plan(world))
    assert expected_progress(task, date(2025, 12, 1)) == D(0)
    assert expected_progress(task, START) == D(0)
    assert expected_progress(task, START + timedelta(days=91)) == D("25.00")
    assert expected_progress(task, START + timedelta(days=182)) == D("50.00")
    assert expected_progress(task, date(2026, 4, 1)) == D("24.73")  # 90 / 364
    assert expected_progress(task, END) == D(100)
    assert expected_progress(task, date(2027, 3, 1)) == D(100)


@pytest.mark.parametrize(
    ("today", "progress", "light"),
    [
        (date(2025, 12, 31), D(0), Light.NOT_STARTED),
        (START + timedelta(days=182), D(45), Light.GREEN),  # 5 behind
        (START + timedelta(days=182), D(40), Light.GREEN),  # exactly 10 behind: still green
        (START + timedelta(days=182), D("39.99"), Light.YELLOW),
        (START + timedelta(days=182), D(20), Light.YELLOW),  # exactly 30 behind
        (START + timedelta(days=182), D("19.99"), Light.RED),
        (START + timedelta(days=182), D(100), Light.DONE),
        (END - timedelta(days=7), D(95), Light.BLUE),  # due within 7 days, not done
        (END - timedelta(days=8), D(95), Light.GREEN),
        (END - timedelta(days=3), D(50), Light.RED),  # far behind beats "due soon"
        (END + timedelta(days=1), D(99), Light.RED),  # overdue
        (END + timedelta(days=1), D(100), Light.DONE),
    ],
)
def test_lights(world: World, today: date, progress: Decimal, light: Light) -> None:
    task = _task(world, _plan(world))
    status = task_light(task, today, progress=progress)
    assert status.light == light, status
    assert status.progress == progress
    assert status.expected == expected_progress(task, today)
    assert status.reason


def test_thresholds_are_per_plan(world: World) -> None:
    plan = _plan(world)
    task = _task(world, plan)
    mid = START + timedelta(days=182)
    assert task_light(task, mid, progress=D(35)).light == Light.YELLOW
    plan = services.plan_update(
        actor=world.user(Role.TOWN_STAFF), plan=plan, data={"yellow_after_points": 20, "red_after_points": 40}
    )
    task = Task.objects.select_related("plan").get(pk=task.pk)
    assert task_light(task, mid, progress=D(35)).light == Light.GREEN
    assert task_light(task, mid, progress=D(9)).light == Light.RED


def test_light_uses_the_stored_progress_by_default(world: World) -> None:
    task = _task(world, _plan(world))
    services.report_submit(
        actor=world.user(Role.TOWN_STAFF),
        task=task,
        unit=world.units["village_committee"],
        kind=ReportKind.PERCENT,
        percent=D(100),
    )
    task.refresh_from_db()
    assert task_light(task, START + timedelta(days=10)).light == Light.DONE


def test_milestones_turn_the_light_red_on_their_date(world: World) -> None:
    """40% by 31 Mar, 60% by 30 Jun, 80% by 30 Sep, 100% by 31 Oct (the 教共体 plan)."""
    task = _task(
        world,
        _plan(world),
        deadline=date(2026, 10, 31),
        milestones=[
            (date(2026, 3, 31), D(40)),
            (date(2026, 6, 30), D(60)),
            (date(2026, 9, 30), D(80)),
            (date(2026, 10, 31), D(100)),
        ],
    )
    # 35% is within ten points of 序时进度 the day before the first milestone …
    before = task_light(task, date(2026, 3, 30), progress=D(35))
    assert before.light == Light.GREEN, before
    # … and red on the milestone's date, because 40% is due by then.
    on = task_light(task, date(2026, 3, 31), progress=D(35))
    assert on.light == Light.RED
    assert "2026-03-31" in on.reason and "40" in on.reason
    assert task_light(task, date(2026, 3, 31), progress=D(40)).light == Light.GREEN
    # The second milestone: 58% is fine on 29 Jun (expected 59.5%), red from 30 Jun.
    assert task_light(task, date(2026, 6, 29), progress=D(58)).light == Light.GREEN
    late = task_light(task, date(2026, 7, 1), progress=D(58))
    assert late.light == Light.RED
    assert "2026-06-30" in late.reason
    assert task_light(task, date(2026, 7, 1), progress=D(61)).light == Light.GREEN
    # The third: 79% on 30 Sep misses 80%; 81% does not. Six days before the end it is blue.
    assert task_light(task, date(2026, 9, 30), progress=D(79)).light == Light.RED
    assert task_light(task, date(2026, 9, 30), progress=D(81)).light == Light.GREEN
    assert task_light(task, date(2026, 10, 25), progress=D(95)).light == Light.BLUE


def test_quota_task_light_follows_activity_records(world: World) -> None:
    """A quota task's progress (and so its light) moves only with activity records."""
    plan = _plan(world)
    task = _task(
        world,
        plan,
        targets=[TargetSpec(kind="quota", name="管理交流", quota_count=2, quota_period="total")],
    )
    mid = START + timedelta(days=182)
    assert task_light(task, mid).light == Light.RED
    staff = world.user(Role.TOWN_STAFF)
    services.report_submit(
        actor=staff, task=task, unit=world.units["village_committee"], kind="activity", activity_date=date(2026, 3, 1)
    )
    task.refresh_from_db()
    assert task.progress == D(50)
    assert task_light(task, mid).light == Light.GREEN
    services.report_submit(
        actor=staff, task=task, unit=world.units["village_committee"], kind="activity", activity_date=date(2026, 4, 1)
    )
    task.refresh_from_db()
    assert task_light(task, mid).light == Light.DONE
    assert task.completed_on is not None
