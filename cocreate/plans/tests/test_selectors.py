"""Scoped reads: plan lists, plan tasks, task detail, 我的任务 and the dashboard."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Membership, Region, RegionLevel, Role, Unit, UnitKind, User
from cocreate.plans import selectors, services
from cocreate.plans.models import Milestone, Plan, PlanStatus, Task, TaskUnit, UnitRole
from cocreate.plans.status import Light, light_sql, task_light

pytestmark = pytest.mark.django_db

D = Decimal
START = date(2026, 1, 1)
END = date(2026, 12, 31)
MID = START + timedelta(days=182)  # 序时进度 50 %


def _plan(world: World, **kw: Any) -> Plan:
    args: dict[str, Any] = {
        "actor": world.user(Role.TOWN_STAFF),
        "title": "甲镇共同缔造工作方案",
        "issuing_unit": world.units["town_office"],
        "region": world.regions["town_a"],
        "starts_on": START,
        "ends_on": END,
    }
    args.update(kw)
    return services.plan_create(**args)


def _task(world: World, plan: Plan, **kw: Any) -> Task:
    args: dict[str, Any] = {
        "actor": world.user(Role.TOWN_STAFF),
        "plan": plan,
        "title": "任务",
        "starts_on": START,
        "deadline": END,
        "units": {"responsible": [world.units["village_committee"]]},
    }
    args.update(kw)
    return services.task_create(**args)


def _set_progress(task: Task, progress: int | str) -> None:
    # Progress is normally computed from reports; tests of the reads set it directly.
    Task.objects.filter(pk=task.pk).update(progress=D(progress))


def test_plan_list_is_scoped_and_searchable(world: World) -> None:
    plan = _plan(world, doc_number="甲镇发〔2026〕7号")
    _plan(world, title="草稿方案", status=PlanStatus.DRAFT)
    town = world.user(Role.TOWN_STAFF)
    titles = {p.title for p in selectors.plan_list(user=town)}
    assert titles == {"甲镇共同缔造工作方案", "草稿方案", "甲镇人居环境整治方案"}
    assert list(selectors.plan_list(user=town, search="7号")) == [plan]
    assert {p.title for p in selectors.plan_list(user=town, status=PlanStatus.DRAFT)} == {"草稿方案"}
    assert not selectors.plan_list(user=world.user(Role.RESIDENT)).exists()
    everything = selectors.plan_list(user=world.users["superuser"])
    assert any(OUTSIDE_MARKER in p.title for p in everything)
    assert not any(OUTSIDE_MARKER in p.title for p in selectors.plan_list(user=world.user(Role.ADMIN)))


def test_plan_tasks_filters_and_orders_children_after_their_parent(world: World) -> None:
    plan = _plan(world)
    phase = services.phase_add(
        actor=world.user(Role.TOWN_STAFF), plan=plan, name="部署启动", starts_on=START, ends_on=date(2026, 3, 31)
    )
    first = _task(world, plan, number="1", units={"lead": [world.units["town_office"]]}, fan_out=True)
    second = _task(world, plan, number="2", phase=phase, deadline=date(2026, 3, 31))
    _set_progress(second, 100)
    town = world.user(Role.TOWN_STAFF)
    rows = selectors.plan_tasks(user=town, plan=plan, today=MID)
    child_a, child_a2 = first.children.order_by("region__path")
    assert [t for t, _s in rows] == [first, child_a, child_a2, second]
    assert [s.light for _t, s in rows] == [Light.RED, Light.RED, Light.RED, Light.DONE]
    assert [t for t, _s in selectors.plan_tasks(user=town, plan=plan, phase=phase)] == [second]
    by_unit = selectors.plan_tasks(user=town, plan=plan, unit=world.units["village_a2_committee"])
    assert [t for t, _s in by_unit] == [child_a2]
    assert [t for t, _s in selectors.plan_tasks(user=town, plan=plan, light=Light.DONE, today=MID)] == [second]
    # The village sees its own child of the fanned-out task, and the town task that names its
    # committee as responsible; not the parent, not the neighbour's child.
    village = world.user(Role.VILLAGE_STAFF)
    assert [t for t, _s in selectors.plan_tasks(user=village, plan=plan, today=MID)] == [child_a, second]


def test_task_detail_is_404_outside_scope(world: World) -> None:
    p = world.extra["plans"]
    task = selectors.task_detail(user=world.user(Role.VILLAGE_STAFF), pk=p["child_task"].pk)
    assert [r.pk for r in task.reports.all()] == [p["report"].pk]
    with pytest.raises(Http404):
        selectors.task_detail(user=world.user(Role.VILLAGE_STAFF), pk=p["parent_task"].pk)
    with pytest.raises(Http404):
        selectors.task_detail(user=world.user(Role.TOWN_STAFF), pk=p["outside_task"].pk)
    with pytest.raises(Http404):
        selectors.task_detail(user=world.user(Role.TOWN_STAFF), pk="x")
    parent = selectors.task_detail(user=world.user(Role.TOWN_STAFF), pk=p["parent_task"].pk)
    assert list(parent.children.all()) == [p["child_task"]]


def test_task_detail_prefetches_everything_it_shows(world: World) -> None:
    pk = world.extra["plans"]["child_task"].pk
    user = world.user(Role.TOWN_STAFF)
    task = selectors.task_detail(user=user, pk=pk)
    with CaptureQueriesContext(connection) as ctx:
        [tu.unit.name for tu in task.task_units.all()]
        [(r.unit.name, r.reported_by) for r in task.reports.all()]
        list(task.targets.all()), list(task.milestones.all()), list(task.children.all())
        task_light(task, MID)
    assert len(ctx.captured_queries) == 0


def test_my_tasks_by_unit_membership_and_reporter_region(world: World) -> None:
    plan = _plan(world)
    office_task = _task(world, plan, title="党政办任务", units={"cooperating": [world.units["town_office"]]})
    parent = _task(world, plan, title="各村任务", units={"lead": [world.units["town_office"]]}, fan_out=True)
    draft = _plan(world, title="草稿", status=PlanStatus.DRAFT)
    _task(world, draft, units={"responsible": [world.units["school"]]})
    # A member of the town office (in a role that is no reporter) sees the task naming the office.
    clerk = User.objects.create_user(phone="13800000011", password="x" * 12)
    Membership.objects.create(
        user=clerk, role=Role.GRID_WORKER, region=world.regions["town_a"], unit=world.units["town_office"]
    )
    office_tasks = {office_task, parent, world.extra["plans"]["parent_task"]}  # cooperating, lead, lead
    assert {t for t, _s in selectors.my_tasks(user=clerk, today=MID)} == office_tasks
    # Village staff report in their village: its child tasks, not the neighbour's.
    village = world.user(Role.VILLAGE_STAFF)
    mine = {t for t, _s in selectors.my_tasks(user=village, today=MID)}
    assert parent.children.get(region=world.regions["village_a"]) in mine
    assert parent.children.get(region=world.regions["village_a2"]) not in mine
    assert world.extra["plans"]["child_task"] in mine
    assert selectors.my_tasks(user=world.user(Role.RESIDENT)) == []
    assert all(OUTSIDE_MARKER not in t.title for t, _s in selectors.my_tasks(user=world.user(Role.ADMIN)))


def test_sql_light_matches_python_light(world: World) -> None:
    plan = _plan(world)
    tasks = []
    for i, (progress, starts_on, deadline) in enumerate(
        [
            ("0", START, END),
            ("40", START, END),
            ("39.99", START, END),
            ("20", START, END),
            ("19.99", START, END),
            ("95", START, date(2026, 7, 9)),
            ("100", START, date(2026, 2, 1)),
            ("10", date(2026, 7, 10), END),
            ("55", START, date(2026, 7, 2)),
            ("35", START, date(2026, 10, 31)),
            ("0", date(2026, 7, 2), date(2026, 7, 2)),
        ]
    ):
        task = _task(world, plan, number=str(i), starts_on=starts_on, deadline=deadline)
        _set_progress(task, progress)
        tasks.append(task.pk)
    Milestone.objects.create(task_id=tasks[9], due_on=date(2026, 3, 31), percent=40)
    for day in (
        date(2025, 12, 1),
        START,
        date(2026, 3, 31),
        MID,
        date(2026, 7, 3),
        date(2026, 12, 28),
        date(2027, 1, 1),
    ):
        qs = Task.objects.filter(pk__in=tasks).select_related("plan").prefetch_related("milestones")
        sql = dict(qs.annotate(light=light_sql(day)).values_list("pk", "light"))
        python = {t.pk: task_light(t, day).light.value for t in qs}
        assert sql == python, day


def _county_with_villages(world: World, n: int) -> Region:
    """A fresh town in county A with ``n`` villages, each with a committee."""
    town = Region.objects.create(
        code=f"99010100{n}", name=f"{n}村镇", level=RegionLevel.TOWN, parent=world.regions["county_a"]
    )
    for i in range(n):
        village = Region.objects.create(
            code=f"{town.code}{i:03d}", name=f"村{i}", level=RegionLevel.VILLAGE, parent=town
        )
        Unit.objects.create(name=f"村{i}村委会", kind=UnitKind.VILLAGE_COMMITTEE, region=village)
    return town


def _dashboard_world(world: World, n: int) -> Region:
    town = _county_with_villages(world, n)
    leader = world.user(Role.LEADER)
    plan = services.plan_create(
        actor=leader,
        title=f"{n}村方案",
        issuing_unit=world.units["county_gov"],
        region=town,
        starts_on=START,
        ends_on=END,
    )
    for title, deadline in (("环境整治", END), ("志愿服务", date(2026, 6, 30))):
        parent = services.task_create(
            actor=leader,
            plan=plan,
            title=title,
            starts_on=START,
            deadline=deadline,
            units={"lead": [world.units["county_gov"]]},
            fan_out=True,
            milestones=[(date(2026, 3, 31), D(30))],
        )
        for i, child in enumerate(parent.children.order_by("region__path")):
            _set_progress(child, (i * 37) % 101)
    return town


def test_dashboard_counts_lights_by_unit(world: World) -> None:
    town = _dashboard_world(world, 3)
    data = selectors.dashboard(user=world.user(Role.LEADER), region=town, today=MID)
    tasks = Task.objects.filter(plan__region=town, fans_out=False).select_related("plan").prefetch_related("milestones")
    expected = {value: 0 for value in Light.values}
    for task in tasks:
        expected[task_light(task, MID).light] += 1
    assert data["totals"]["counts"] == expected
    assert data["totals"]["tasks"] == 6
    assert [u["name"] for u in data["units"]] == ["村0村委会", "村1村委会", "村2村委会"]
    assert all(u["total"] == 2 for u in data["units"])
    # Progress 0, 37, 74 on the task due 30 Jun: overdue on 2 Jul unless done.
    assert data["totals"]["overdue"] == 3
    assert [t.deadline for t, s in data["overdue"]] == [date(2026, 6, 30)] * 3
    assert all(s.light == Light.RED for _t, s in data["overdue"])
    # A village's staff see only their own village's row.
    village_unit = Unit.objects.get(name="村1村委会")
    staff = User.objects.create_user(phone="13800000021", password="x" * 12)
    Membership.objects.create(user=staff, role=Role.VILLAGE_STAFF, region=village_unit.region, unit=village_unit)
    mine = selectors.dashboard(user=staff, region=town, today=MID)
    assert [u["name"] for u in mine["units"]] == ["村1村委会"]
    assert mine["totals"]["tasks"] == 2


def test_dashboard_ignores_draft_plans_and_other_regions(world: World) -> None:
    town = _dashboard_world(world, 2)
    Plan.objects.filter(region=town).update(status=PlanStatus.DRAFT)
    data = selectors.dashboard(user=world.user(Role.LEADER), region=town, today=MID)
    assert data["totals"]["tasks"] == 0
    county = selectors.dashboard(user=world.user(Role.LEADER), region=world.regions["county_a"], today=MID)
    # Only the world's town plan (one child task in 甲村) is active in county A now.
    assert county["totals"]["tasks"] == 1
    assert [u["name"] for u in county["units"]] == ["甲村村民委员会"]


def _dashboard_queries(world: World, n: int) -> int:
    town = _dashboard_world(world, n)
    user = world.user(Role.LEADER)
    selectors.dashboard(user=user, region=town, today=MID)  # the scope is cached on the user
    with CaptureQueriesContext(connection) as ctx:
        data = selectors.dashboard(user=user, region=town, today=MID)
        for _task, status in data["overdue"]:
            str(status.reason)
        for task, _status in data["overdue"]:
            [tu.unit.name for tu in task.task_units.all()]
            (task.plan.title, task.region.name)
    assert data["totals"]["tasks"] == 2 * n
    return len(ctx.captured_queries)


def test_dashboard_query_count_does_not_grow_with_villages(world: World) -> None:
    small = _dashboard_queries(world, 2)
    large = _dashboard_queries(world, 6)
    assert small == large, (small, large)
    assert large <= 8


def test_reassigned_unit_rows_follow_the_task_units(world: World) -> None:
    town = _dashboard_world(world, 2)
    child = Task.objects.filter(plan__region=town, fans_out=False).order_by("id").first()
    assert child is not None
    TaskUnit.objects.create(task=child, unit=world.units["school"], role=UnitRole.RESPONSIBLE)
    data = selectors.dashboard(user=world.user(Role.LEADER), region=town, today=MID)
    names = [u["name"] for u in data["units"]]
    assert "甲村小学" in names
    assert data["totals"]["tasks"] == 4


def test_dashboard_cache_follows_every_change(world: World) -> None:
    cache.clear()
    town = _dashboard_world(world, 2)
    user = world.user(Role.LEADER)
    first = selectors.dashboard(user=user, region=town, today=MID, cached=True)
    with CaptureQueriesContext(connection) as ctx:
        again = selectors.dashboard(user=user, region=town, today=MID, cached=True)
    assert again == first
    assert len(ctx.captured_queries) <= 2  # the data version only
    # A report changes the task's progress and so the data version: the next call recomputes.
    child = Task.objects.filter(plan__region=town, fans_out=False, progress__lt=100).order_by("deadline", "id")[0]
    services.report_submit(
        actor=world.user(Role.ADMIN),
        task=child,
        unit=child.task_units.get().unit,
        kind="percent",
        percent=D(100),
    )
    after = selectors.dashboard(user=user, region=town, today=MID, cached=True)
    assert after["totals"]["counts"][Light.DONE] == first["totals"]["counts"][Light.DONE] + 1
    assert after == selectors.dashboard(user=user, region=town, today=MID, cached=False)
    # Another day, another user scope: other entries.
    later = selectors.dashboard(user=user, region=town, today=MID + timedelta(days=30), cached=True)
    assert later["today"] == MID + timedelta(days=30)
    village = selectors.dashboard(user=world.user(Role.VILLAGE_STAFF), region=town, today=MID, cached=True)
    assert village["totals"]["tasks"] == 0


def test_listed_tasks_carry_their_own_units_and_milestones_only(world: World) -> None:
    plan = _plan(world)
    first = _task(world, plan, milestones=[(date(2026, 3, 31), D(40))])
    second = _task(world, plan, units={"responsible": [world.units["school"]]})
    with CaptureQueriesContext(connection) as ctx:
        rows = dict(selectors.plan_tasks(user=world.user(Role.TOWN_STAFF), plan=plan, today=MID))
        units = {t.pk: [tu.unit.name for tu in t.task_units.all()] for t in rows}
        milestones = {t.pk: [m.percent for m in t.milestones.all()] for t in rows}
        plans = {t.plan.pk for t in rows}
    assert units == {first.pk: ["甲村村民委员会"], second.pk: ["甲村小学"]}
    assert milestones == {first.pk: [D(40)], second.pk: []}
    assert plans == {plan.pk}
    assert len(ctx.captured_queries) <= 5
    # Attached rows cannot be queried further (they carry no filter on their task).
    with pytest.raises(RuntimeError):
        first_row = next(t for t in rows if t.pk == first.pk)
        first_row.task_units.filter(role="responsible")
