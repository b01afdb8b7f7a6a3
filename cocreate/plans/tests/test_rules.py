"""Who sees which plans, tasks and reports."""

from __future__ import annotations

import pytest

from cocreate.conftest import World
from cocreate.core import access
from cocreate.core.models import Role
from cocreate.plans.models import Plan, ProgressReport, Task

pytestmark = pytest.mark.django_db


def test_village_staff_see_the_town_plan_through_their_village_task(world: World) -> None:
    p = world.extra["plans"]
    staff = world.user(Role.VILLAGE_STAFF)
    assert list(Plan.objects.visible_to(staff)) == [p["plan"]]
    assert list(Task.objects.visible_to(staff)) == [p["child_task"]]
    assert list(ProgressReport.objects.visible_to(staff)) == [p["report"]]


def test_neighbour_village_and_residents_see_no_tasks(world: World) -> None:
    p = world.extra["plans"]
    resident = world.user(Role.RESIDENT)
    assert not Plan.objects.visible_to(resident).exists()
    assert not Task.objects.visible_to(resident).exists()
    town = world.user(Role.TOWN_STAFF)
    assert set(Task.objects.visible_to(town)) == {p["parent_task"], p["child_task"]}


def test_only_plan_managers_change_plans(world: World) -> None:
    plan = world.extra["plans"]["plan"]
    assert access.can(world.user(Role.TOWN_STAFF), access.CHANGE, plan)
    assert not access.can(world.user(Role.VILLAGE_STAFF), access.CHANGE, plan)
    assert not access.can(world.user(Role.TOWN_STAFF), access.CHANGE, world.extra["plans"]["outside_plan"])


def test_a_unit_named_on_a_town_task_sees_it_without_fan_out(world: World) -> None:
    from datetime import date

    from cocreate.plans.models import Task, TaskUnit, UnitRole

    p = world.extra["plans"]
    town_task = Task.objects.create(
        plan=p["plan"],
        region=world.regions["town_a"],
        title="村委会直接承担的任务",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 6, 30),
    )
    TaskUnit.objects.create(task=town_task, unit=world.units["village_committee"], role=UnitRole.RESPONSIBLE)
    staff = world.user(Role.VILLAGE_STAFF)
    assert town_task in Task.objects.visible_to(staff)
    # The grid worker holds no unit membership: region scope only.
    assert town_task not in Task.objects.visible_to(world.user(Role.GRID_WORKER))
    assert list(Plan.objects.visible_to(staff)) == [p["plan"]]
