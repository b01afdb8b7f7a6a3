"""Plan, task and progress services: validation, permissions, fan-out and computed progress."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from cocreate.conftest import World, build_world
from cocreate.core.models import Membership, Notification, Region, RegionLevel, Role, Unit, UnitKind, User
from cocreate.core.tests.concurrency import race
from cocreate.plans import services
from cocreate.plans.models import (
    Comparator,
    Plan,
    ProgressReport,
    QuotaPeriod,
    ReportKind,
    ReportStatus,
    Target,
    TargetKind,
    Task,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.services import TargetSpec

pytestmark = pytest.mark.django_db

D = Decimal


def _plan(world: World, **kw: Any) -> Plan:
    args: dict[str, Any] = dict(
        actor=world.user(Role.TOWN_STAFF),
        title="甲镇共同缔造工作方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    args.update(kw)
    return services.plan_create(**args)


def _task(world: World, plan: Plan, **kw: Any) -> Task:
    args: dict[str, Any] = dict(
        actor=world.user(Role.TOWN_STAFF),
        plan=plan,
        title="开展志愿服务活动",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
        units={"responsible": [world.units["village_committee"]]},
    )
    args.update(kw)
    return services.task_create(**args)


# --- Plans and phases -----------------------------------------------------------------------------


def test_town_staff_create_a_plan_and_a_phase(world: World) -> None:
    plan = _plan(world, doc_number=" 甲镇发〔2026〕9号 ")
    assert plan.doc_number == "甲镇发〔2026〕9号"
    assert plan.created_by == world.user(Role.TOWN_STAFF)
    phase = services.phase_add(
        actor=world.user(Role.TOWN_STAFF),
        plan=plan,
        name="部署启动",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 3, 31),
    )
    assert list(plan.phases.all()) == [phase]


def test_village_staff_and_outsiders_cannot_create_plans(world: World) -> None:
    before = Plan.objects.count()
    with pytest.raises(PermissionDenied):
        _plan(world, actor=world.user(Role.VILLAGE_STAFF))
    with pytest.raises(PermissionDenied):
        _plan(world, region=world.regions["town_b"])
    assert Plan.objects.count() == before


def test_plan_with_an_invisible_issuing_unit_is_refused(world: World) -> None:
    with pytest.raises(ValidationError):
        _plan(world, issuing_unit=world.units["outside"])


def test_plan_dates_must_be_ordered(world: World) -> None:
    with pytest.raises(ValidationError):
        _plan(world, starts_on=date(2026, 6, 1), ends_on=date(2026, 1, 1))


def test_phase_outside_the_plan_is_refused(world: World) -> None:
    plan = _plan(world)
    with pytest.raises(ValidationError):
        services.phase_add(
            actor=world.user(Role.TOWN_STAFF),
            plan=plan,
            name="巩固提升",
            starts_on=date(2026, 10, 1),
            ends_on=date(2027, 1, 31),
        )
    with pytest.raises(PermissionDenied):
        services.phase_add(
            actor=world.user(Role.VILLAGE_STAFF),
            plan=plan,
            name="巩固提升",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 12, 31),
        )


def test_plan_update_keeps_tasks_inside_the_dates(world: World) -> None:
    plan = _plan(world)
    _task(world, plan, deadline=date(2026, 11, 30))
    town = world.user(Role.TOWN_STAFF)
    with pytest.raises(ValidationError):
        services.plan_update(actor=town, plan=plan, data={"ends_on": date(2026, 6, 30)})
    plan.refresh_from_db()
    with pytest.raises(ValidationError):
        services.plan_update(actor=town, plan=plan, data={"created_by": town})
    plan = services.plan_update(actor=town, plan=plan, data={"title": "新名称", "yellow_after_points": 15})
    plan.refresh_from_db()
    assert (plan.title, plan.yellow_after_points) == ("新名称", 15)
    with pytest.raises(ValidationError):
        services.plan_update(actor=town, plan=plan, data={"red_after_points": 5})
    with pytest.raises(PermissionDenied):
        services.plan_update(actor=world.user(Role.VILLAGE_STAFF), plan=plan, data={"title": "x"})


# --- Tasks ----------------------------------------------------------------------------------------


def test_task_with_matrix_targets_and_milestones(world: World) -> None:
    plan = _plan(world)
    leader = world.user(Role.LEADER)
    task = _task(
        world,
        plan,
        number="3",
        units={
            "lead": [world.units["town_office"]],
            "responsible": [world.units["village_committee"], world.units["school"]],
            "guiding": [world.units["dept"]],
        },
        people={"leader": [leader], "responsible": [world.user(Role.VILLAGE_STAFF)]},
        targets=[
            TargetSpec(kind=TargetKind.QUOTA, name="志愿服务活动", quota_count=1, quota_period=QuotaPeriod.WEEK),
            TargetSpec(
                kind=TargetKind.INDICATOR, name="生活垃圾回收利用率", comparator="gte", value=D(35), unit_label="%"
            ),
        ],
        milestones=[(date(2026, 3, 31), D(40)), (date(2026, 6, 30), D(60))],
    )
    roles = {(tu.unit.name, tu.role) for tu in task.task_units.select_related("unit")}
    assert roles == {
        ("甲镇党政办", "lead"),
        ("甲村村民委员会", "responsible"),
        ("甲村小学", "responsible"),
        ("甲县城市管理局", "guiding"),
    }
    assert task.region == world.regions["town_a"]
    assert task.targets.count() == 2
    assert [m.percent for m in task.milestones.all()] == [D(40), D(60)]
    assert task.task_people.get(role="leader").user == leader


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"starts_on": date(2025, 12, 1)}, "deadline"),
        ({"deadline": date(2027, 1, 31)}, "deadline"),
        ({"starts_on": date(2026, 5, 1), "deadline": date(2026, 4, 1)}, "deadline"),
        ({"units": {"lead": []}, "title": " "}, "title"),
        ({"units": {"boss": []}}, "units"),
        ({"milestones": [(date(2027, 3, 1), D(40))]}, "milestones"),
        ({"milestones": [(date(2026, 3, 1), D(60)), (date(2026, 6, 1), D(40))]}, "milestones"),
        ({"targets": [TargetSpec(kind=TargetKind.QUOTA, name="活动", quota_count=0, quota_period="week")]}, "targets"),
        ({"targets": [TargetSpec(kind=TargetKind.QUOTA, name="活动", quota_count=1)]}, "targets"),
        ({"targets": [TargetSpec(kind=TargetKind.INDICATOR, name="覆盖率", value=D(35))]}, "targets"),
        ({"targets": [TargetSpec(kind=TargetKind.INDICATOR, name="覆盖率", comparator="gte")]}, "targets"),
    ],
)
def test_invalid_tasks_are_refused(world: World, kw: dict[str, Any], field: str) -> None:
    plan = _plan(world)
    with pytest.raises(ValidationError) as exc:
        _task(world, plan, **kw)
    assert field in exc.value.message_dict
    assert not Task.objects.filter(plan=plan).exists()


def test_task_phase_must_belong_to_the_plan(world: World) -> None:
    plan = _plan(world)
    other_phase = world.extra["plans"]["phase"]
    with pytest.raises(ValidationError):
        _task(world, plan, phase=other_phase)


def test_task_units_must_be_visible_to_the_actor(world: World) -> None:
    plan = _plan(world)
    with pytest.raises(ValidationError):
        _task(world, plan, units={"responsible": [world.units["outside"]]})
    assert not Task.objects.filter(plan=plan).exists()


def test_only_plan_managers_add_tasks(world: World) -> None:
    plan = _plan(world)
    with pytest.raises(PermissionDenied):
        _task(world, plan, actor=world.user(Role.VILLAGE_STAFF))


def test_fan_out_makes_one_child_per_active_village(world: World) -> None:
    inactive = Region.objects.create(
        code="990101001009", name="停用村", level=RegionLevel.VILLAGE, parent=world.regions["town_a"], is_active=False
    )
    Unit.objects.create(name="停用村委会", kind=UnitKind.VILLAGE_COMMITTEE, region=inactive)
    plan = _plan(world)
    parent = _task(
        world,
        plan,
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        targets=[TargetSpec(kind=TargetKind.QUOTA, name="志愿服务活动", quota_count=2, quota_period="month")],
        milestones=[(date(2026, 6, 30), D(50))],
    )
    children = list(parent.children.order_by("region__path"))
    assert [c.region for c in children] == [world.regions["village_a"], world.regions["village_a2"]]
    for child, committee in zip(children, ["village_committee", "village_a2_committee"], strict=True):
        assert [(tu.unit, tu.role) for tu in child.task_units.all()] == [(world.units[committee], "responsible")]
        assert [(t.name, t.quota_count) for t in child.targets.all()] == [("志愿服务活动", 2)]
        assert [m.percent for m in child.milestones.all()] == [D(50)]
        assert (child.starts_on, child.deadline, child.plan) == (parent.starts_on, parent.deadline, plan)
    assert parent.fans_out
    # Bulk-created children still have their history, with who created them.
    history = children[0].history.get()
    assert (history.history_type, history.history_user) == ("+", world.user(Role.TOWN_STAFF))
    assert children[0].targets.get().history.exists()


def test_fan_out_needs_a_plan_above_village_level_and_committees(world: World) -> None:
    village_plan = _plan(
        world,
        actor=world.user(Role.ADMIN),
        region=world.regions["village_a"],
        issuing_unit=world.units["village_committee"],
    )
    with pytest.raises(ValidationError) as exc:
        _task(world, village_plan, actor=world.user(Role.ADMIN), fan_out=True)
    assert "fan_out" in exc.value.message_dict
    Region.objects.create(code="990101001003", name="丙村", level=RegionLevel.VILLAGE, parent=world.regions["town_a"])
    plan = _plan(world)
    with pytest.raises(ValidationError) as exc:
        _task(world, plan, fan_out=True)
    assert "丙村" in str(exc.value)
    assert not Task.objects.filter(plan=plan).exists()


# --- Reports and progress -------------------------------------------------------------------------


def _member(world: World, unit: Unit, phone: str) -> User:
    user = User.objects.create_user(phone=phone, password="x" * 12)
    Membership.objects.create(user=user, role=Role.GRID_WORKER, region=unit.region, unit=unit)
    return user


def test_percent_reports_set_progress_and_completion(world: World) -> None:
    plan = _plan(world)
    task = _task(world, plan)
    staff = world.user(Role.VILLAGE_STAFF)
    unit = world.units["village_committee"]
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.PERCENT, percent=D(30))
    task.refresh_from_db()
    assert task.progress == D(30)
    assert task.completed_on is None
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.PERCENT, percent=D(100))
    task.refresh_from_db()
    assert task.progress == D(100)
    assert task.completed_on == timezone.localdate()


def test_quota_progress_counts_activity_records_in_the_current_period(world: World) -> None:
    plan = _plan(world, starts_on=date(2020, 1, 1), ends_on=date(2030, 12, 31))
    task = _task(
        world,
        plan,
        starts_on=date(2020, 1, 1),
        deadline=date(2030, 12, 31),
        targets=[TargetSpec(kind=TargetKind.QUOTA, name="志愿服务活动", quota_count=4, quota_period="month")],
    )
    staff = world.user(Role.VILLAGE_STAFF)
    unit = world.units["village_committee"]
    today = timezone.localdate()
    last_month = today.replace(day=1) - timedelta(days=1)
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.ACTIVITY, activity_date=last_month)
    task.refresh_from_db()
    assert task.progress == D(0)
    for _i in range(3):
        services.report_submit(
            actor=staff, task=task, unit=unit, kind=ReportKind.ACTIVITY, activity_date=today, participants=12
        )
    task.refresh_from_db()
    assert task.progress == D(75)
    # A typed percent can never stand in for activity records.
    with pytest.raises(ValidationError):
        services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.PERCENT, percent=D(100))
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.ACTIVITY, activity_date=today)
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.ACTIVITY, activity_date=today)
    task.refresh_from_db()
    assert task.progress == D(100)


def test_indicator_progress_is_the_attainment_of_the_latest_value(world: World) -> None:
    plan = _plan(world)
    task = _task(
        world,
        plan,
        targets=[
            TargetSpec(kind=TargetKind.INDICATOR, name="生活垃圾回收利用率", comparator="gte", value=D(35)),
            TargetSpec(kind=TargetKind.INDICATOR, name="投诉件数", comparator="lte", value=D(10)),
        ],
    )
    rate, complaints = task.targets.order_by("id")
    staff = world.user(Role.VILLAGE_STAFF)
    unit = world.units["village_committee"]
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.INDICATOR, target=rate, value=D(14))
    task.refresh_from_db()
    # (14/35 = 40) and nothing yet for the second indicator (0): mean 20.
    assert task.progress == D(20)
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.INDICATOR, target=complaints, value=D(20))
    services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.INDICATOR, target=rate, value=D(35))
    task.refresh_from_db()
    assert task.progress == D(75)
    with pytest.raises(ValidationError):
        services.report_submit(actor=staff, task=task, unit=unit, kind=ReportKind.INDICATOR, target=rate)


def test_indicator_attainment_by_comparator() -> None:
    t = Target(kind=TargetKind.INDICATOR, name="x", comparator=Comparator.EQ, value=D(100))
    assert services.indicator_attainment(t, D(80)) == D(80)
    assert services.indicator_attainment(t, D(100)) == D(100)
    t.comparator = Comparator.GTE
    assert services.indicator_attainment(t, D(120)) == D(100)
    assert services.indicator_attainment(t, None) == D(0)


def test_children_roll_up_into_the_parent(world: World) -> None:
    plan = _plan(world)
    parent = _task(world, plan, units={"lead": [world.units["town_office"]]}, fan_out=True)
    child_a = parent.children.get(region=world.regions["village_a"])
    services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF),
        task=child_a,
        unit=world.units["village_committee"],
        kind=ReportKind.PERCENT,
        percent=D(60),
    )
    parent.refresh_from_db()
    assert parent.progress == D(30)
    with pytest.raises(ValidationError):
        services.report_submit(
            actor=world.user(Role.TOWN_STAFF),
            task=parent,
            unit=world.units["town_office"],
            kind=ReportKind.PERCENT,
            percent=D(60),
        )


def test_report_permissions(world: World) -> None:
    plan = _plan(world)
    task = _task(
        world, plan, units={"responsible": [world.units["village_committee"]], "cooperating": [world.units["school"]]}
    )
    unit = world.units["village_committee"]
    member = _member(world, unit, "13800000001")
    school_member = _member(world, world.units["school"], "13800000002")
    services.report_submit(actor=member, task=task, unit=unit, kind=ReportKind.PERCENT, percent=D(10))
    # A cooperating unit's member is no reporter; a reporter role may report for any task unit.
    with pytest.raises(PermissionDenied):
        services.report_submit(
            actor=school_member, task=task, unit=world.units["school"], kind=ReportKind.PERCENT, percent=D(10)
        )
    services.report_submit(
        actor=world.user(Role.TOWN_STAFF), task=task, unit=world.units["school"], kind=ReportKind.PERCENT, percent=D(20)
    )
    # Village staff hold their role below the town, where this task lives, and are no member here.
    staff = world.user(Role.VILLAGE_STAFF)
    Membership.objects.filter(user=staff).update(unit=None)
    actors = (staff, world.user(Role.RESIDENT), world.user(Role.INSPECTOR), world.users["outside_staff"])
    for actor in actors:
        with pytest.raises(PermissionDenied):
            services.report_submit(actor=actor, task=task, unit=unit, kind=ReportKind.PERCENT, percent=D(10))
    # The reporting unit must be one of the task's units.
    with pytest.raises(PermissionDenied):
        services.report_submit(
            actor=world.user(Role.TOWN_STAFF),
            task=task,
            unit=world.units["town_office"],
            kind=ReportKind.PERCENT,
            percent=D(10),
        )
    assert ProgressReport.objects.filter(task=task).count() == 2


@pytest.mark.parametrize(
    "kw",
    [
        {"kind": ReportKind.PERCENT, "percent": D(120)},
        {"kind": ReportKind.PERCENT},
        {"kind": ReportKind.ACTIVITY},
        {"kind": ReportKind.ACTIVITY, "activity_date": date(2025, 12, 31)},
        {"kind": ReportKind.ACTIVITY, "activity_date": timezone.localdate() + timedelta(days=1)},
        {"kind": ReportKind.INDICATOR, "value": D(3)},
        {"kind": "guess"},
    ],
)
def test_invalid_reports_are_refused(world: World, kw: dict[str, Any]) -> None:
    task = world.extra["plans"]["child_task"]
    with pytest.raises(ValidationError):
        services.report_submit(
            actor=world.user(Role.VILLAGE_STAFF), task=task, unit=world.units["village_committee"], **kw
        )
    assert task.reports.count() == 1


def test_lead_unit_member_returns_a_report_and_it_stops_counting(world: World) -> None:
    plan = _plan(world)
    parent = _task(world, plan, units={"lead": [world.units["town_office"]]}, fan_out=True)
    child = parent.children.get(region=world.regions["village_a"])
    staff = world.user(Role.VILLAGE_STAFF)
    unit = world.units["village_committee"]
    services.report_submit(actor=staff, task=child, unit=unit, kind=ReportKind.PERCENT, percent=D(20))
    report = services.report_submit(actor=staff, task=child, unit=unit, kind=ReportKind.PERCENT, percent=D(80))
    # The reporter's own village cannot return it; a member of the parent's lead unit can.
    with pytest.raises(PermissionDenied):
        services.report_return(actor=staff, report=report, reason="不实")
    lead_member = _member(world, world.units["town_office"], "13800000003")
    with pytest.raises(ValidationError):
        services.report_return(actor=lead_member, report=report, reason="  ")
    services.report_return(actor=lead_member, report=report, reason="照片与内容不符")
    report.refresh_from_db()
    assert (report.status, report.return_reason, report.returned_by) == (
        ReportStatus.RETURNED,
        "照片与内容不符",
        lead_member,
    )
    child.refresh_from_db()
    parent.refresh_from_db()
    assert child.progress == D(20)
    assert parent.progress == D(10)
    note = Notification.objects.get(user=staff)
    assert "照片与内容不符" in note.body
    with pytest.raises(ValidationError):
        services.report_return(actor=lead_member, report=report, reason="再退一次")


def test_plan_managers_over_the_plan_region_return_reports(world: World) -> None:
    report = world.extra["plans"]["report"]
    with pytest.raises(PermissionDenied):
        services.report_return(actor=world.users["outside_staff"], report=report, reason="x")
    with pytest.raises(PermissionDenied):
        services.report_return(actor=world.user(Role.INSPECTOR), report=report, reason="x")
    services.report_return(actor=world.user(Role.LEADER), report=report, reason="数据有误")
    task = world.extra["plans"]["child_task"]
    task.refresh_from_db()
    assert task.progress == D(0)
    assert TaskUnit.objects.filter(task=task, role=UnitRole.RESPONSIBLE).exists()


def test_closed_plans_take_no_reports(world: World) -> None:
    p = world.extra["plans"]
    services.plan_update(actor=world.user(Role.TOWN_STAFF), plan=p["plan"], data={"status": "closed"})
    task = Task.objects.select_related("plan").get(pk=p["child_task"].pk)
    with pytest.raises(ValidationError):
        services.report_submit(
            actor=world.user(Role.VILLAGE_STAFF),
            task=task,
            unit=world.units["village_committee"],
            kind=ReportKind.PERCENT,
            percent=D(50),
        )
    assert task.reports.count() == 1


def test_inactive_accounts_cannot_be_made_responsible(world: World) -> None:
    plan = _plan(world)
    gone = User.objects.create_user(phone="13800000009", password="x" * 12, is_active=False)
    with pytest.raises(ValidationError) as exc:
        _task(world, plan, people={"responsible": [gone]})
    assert "people" in exc.value.message_dict


# --- Editing tasks ------------------------------------------------------------------------------------


def test_plan_manager_edits_a_task_and_replaces_its_matrix(world: World) -> None:
    plan = _plan(world)
    phase = services.phase_add(
        actor=world.user(Role.TOWN_STAFF),
        plan=plan,
        name="部署启动",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 3, 31),
    )
    task = _task(world, plan, people={"leader": [world.user(Role.TOWN_STAFF)]})
    updated = services.task_update(
        actor=world.user(Role.TOWN_STAFF),
        task=task,
        data={
            "number": " 3 ",
            "title": "每月开展志愿服务活动",
            "phase": phase,
            "deadline": date(2026, 6, 30),
            "units": {"lead": [world.units["town_office"]], "cooperating": [world.units["village_a2_committee"]]},
            "people": {"responsible": [world.user(Role.VILLAGE_STAFF)]},
        },
    )
    task.refresh_from_db()
    assert (task.number, task.title, task.phase, task.deadline) == (
        "3",
        "每月开展志愿服务活动",
        phase,
        date(2026, 6, 30),
    )
    assert updated.pk == task.pk
    assert set(task.task_units.values_list("unit__name", "role")) == {
        ("甲镇党政办", UnitRole.LEAD),
        ("乙村村民委员会", UnitRole.COOPERATING),
    }
    assert list(task.task_people.values_list("user", "role")) == [(world.user(Role.VILLAGE_STAFF).pk, "responsible")]
    # simple-history keeps the old title, with who changed it.
    rows = list(task.history.order_by("history_id"))
    assert (rows[0].title, rows[-1].title) == ("开展志愿服务活动", "每月开展志愿服务活动")
    edit = next(row for row in rows if row.title == "每月开展志愿服务活动")
    assert edit.history_user == world.user(Role.TOWN_STAFF)


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.INSPECTOR, Role.GRID_WORKER, Role.RESIDENT])
def test_task_update_is_refused_to_non_managers_and_changes_nothing(world: World, role: str) -> None:
    plan = _plan(world)
    task = _task(world, plan)
    with pytest.raises(PermissionDenied):
        services.task_update(
            actor=world.user(role), task=task, data={"title": "改掉", "units": {"lead": [world.units["town_office"]]}}
        )
    task.refresh_from_db()
    assert task.title == "开展志愿服务活动"
    assert list(task.task_units.values_list("unit", "role")) == [(world.units["village_committee"].pk, "responsible")]
    assert task.history.count() == 1


def test_task_update_out_of_scope_manager_is_refused(world: World) -> None:
    outside = world.extra["plans"]["outside_task"]
    with pytest.raises(PermissionDenied):
        services.task_update(actor=world.user(Role.TOWN_STAFF), task=outside, data={"title": "改掉"})
    outside.refresh_from_db()
    assert outside.title.startswith("ZZOUT")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"deadline": date(2027, 1, 31)}, "deadline"),
        ({"starts_on": date(2025, 12, 1)}, "deadline"),
        ({"starts_on": date(2026, 8, 1), "deadline": date(2026, 7, 1)}, "deadline"),
        ({"deadline": date(2026, 5, 31)}, "deadline"),  # the 6-30 milestone would fall outside
        ({"title": "  "}, "title"),
        ({"units": {"cooperating": [Unit(pk=0)]}}, "units"),
        ({"units": {"boss": []}}, "units"),
        ({"people": {"owner": []}}, "people"),
        ({"region": None}, "region"),
        ({"fans_out": True}, "fans_out"),
    ],
)
def test_invalid_task_updates_are_refused(world: World, data: dict[str, Any], field: str) -> None:
    plan = _plan(world)
    task = _task(world, plan, milestones=[(date(2026, 6, 30), D(50))])
    if field == "units" and "cooperating" in data["units"]:
        data = {"units": {"cooperating": [world.units["village_a2_committee"]]}}  # no lead or responsible unit
    with pytest.raises(ValidationError) as exc:
        services.task_update(actor=world.user(Role.TOWN_STAFF), task=task, data=data)
    assert field in exc.value.message_dict
    task.refresh_from_db()
    assert (task.title, task.starts_on, task.deadline) == ("开展志愿服务活动", date(2026, 1, 1), date(2026, 12, 31))
    assert task.task_units.count() == 1


def test_task_update_refuses_invisible_units_and_other_plans_phases(world: World) -> None:
    plan = _plan(world)
    other = _plan(world, title="另一方案")
    other_phase = services.phase_add(
        actor=world.user(Role.TOWN_STAFF), plan=other, name="其他", starts_on=date(2026, 1, 1), ends_on=date(2026, 2, 1)
    )
    task = _task(world, plan)
    with pytest.raises(ValidationError) as exc:
        services.task_update(
            actor=world.user(Role.TOWN_STAFF), task=task, data={"units": {"responsible": [world.units["outside"]]}}
        )
    assert "units" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.task_update(actor=world.user(Role.TOWN_STAFF), task=task, data={"phase": other_phase})
    assert "phase" in exc.value.message_dict
    assert list(task.task_units.values_list("unit", flat=True)) == [world.units["village_committee"].pk]


def test_fanned_out_parent_copies_its_changes_to_the_children(world: World) -> None:
    plan = _plan(world)
    parent = _task(world, plan, units={"lead": [world.units["town_office"]]}, fan_out=True)
    services.task_update(
        actor=world.user(Role.TOWN_STAFF),
        task=parent,
        data={
            "title": "整治人居环境",
            "content": "清理垃圾",
            "starts_on": date(2026, 2, 1),
            "deadline": date(2026, 9, 30),
        },
    )
    children = list(parent.children.order_by("region__path"))
    assert len(children) == 2
    for child, committee in zip(children, ["village_committee", "village_a2_committee"], strict=True):
        assert (child.title, child.content, child.starts_on, child.deadline) == (
            "整治人居环境",
            "清理垃圾",
            date(2026, 2, 1),
            date(2026, 9, 30),
        )
        # Each child keeps its own village committee.
        assert [(tu.unit, tu.role) for tu in child.task_units.all()] == [(world.units[committee], "responsible")]
        assert child.history.order_by("-history_id").first().title == "整治人居环境"


def test_child_task_changes_only_its_dates_and_people(world: World) -> None:
    plan = _plan(world)
    parent = _task(world, plan, units={"lead": [world.units["town_office"]]}, fan_out=True)
    child = parent.children.get(region=world.regions["village_a"])
    services.task_update(
        actor=world.user(Role.TOWN_STAFF),
        task=child,
        data={
            "title": child.title,  # unchanged values are accepted
            "deadline": date(2026, 10, 31),
            "people": {"responsible": [world.user(Role.VILLAGE_STAFF)]},
        },
    )
    child.refresh_from_db()
    assert child.deadline == date(2026, 10, 31)
    assert child.task_people.get().user == world.user(Role.VILLAGE_STAFF)
    parent.refresh_from_db()
    assert parent.deadline == date(2026, 12, 31)
    for data in (
        {"title": "村里自己改名"},
        {"units": {"responsible": [world.units["village_a2_committee"]]}},
    ):
        with pytest.raises(ValidationError):
            services.task_update(actor=world.user(Role.TOWN_STAFF), task=child, data=data)
    # A child's dates stay inside its parent's.
    services.task_update(actor=world.user(Role.TOWN_STAFF), task=parent, data={"deadline": date(2026, 11, 30)})
    with pytest.raises(ValidationError) as exc:
        services.task_update(actor=world.user(Role.TOWN_STAFF), task=child, data={"deadline": date(2026, 12, 31)})
    assert "deadline" in exc.value.message_dict
    child.refresh_from_db()
    assert (child.title, child.deadline) == ("开展志愿服务活动", date(2026, 11, 30))


def test_date_changes_recompute_progress_and_the_roll_up(world: World) -> None:
    today = timezone.localdate()
    plan = _plan(world, starts_on=today - timedelta(days=400), ends_on=today + timedelta(days=400))
    parent = _task(
        world,
        plan,
        starts_on=today - timedelta(days=10),
        deadline=today + timedelta(days=10),
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        targets=[TargetSpec(kind=TargetKind.QUOTA, name="志愿服务活动", quota_count=1, quota_period="total")],
    )
    child = parent.children.get(region=world.regions["village_a"])
    services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF),
        task=child,
        unit=world.units["village_committee"],
        kind=ReportKind.ACTIVITY,
        activity_date=today - timedelta(days=5),
    )
    child.refresh_from_db()
    parent.refresh_from_db()
    assert (child.progress, parent.progress) == (D(100), D(50))
    # The activity now falls before the task's (whole-task) quota period: it no longer counts.
    services.task_update(actor=world.user(Role.TOWN_STAFF), task=parent, data={"starts_on": today - timedelta(days=2)})
    child.refresh_from_db()
    parent.refresh_from_db()
    assert (child.progress, child.completed_on, parent.progress) == (D(0), None, D(0))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_parent_edits_and_child_reports_in_parallel_neither_deadlock_nor_lose_a_report() -> None:
    world = build_world()
    town = world.user(Role.TOWN_STAFF)
    today = timezone.localdate()
    plan = _plan(world, starts_on=today - timedelta(days=400), ends_on=today + timedelta(days=400))
    parent = _task(
        world,
        plan,
        starts_on=today - timedelta(days=30),
        deadline=today + timedelta(days=30),
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        targets=[TargetSpec(kind=TargetKind.QUOTA, name="志愿服务活动", quota_count=4, quota_period="total")],
    )
    child = parent.children.get(region=world.regions["village_a"])

    def work(i: int) -> Any:
        if i % 2:
            return services.task_update(
                actor=town, task=Task.objects.get(pk=parent.pk), data={"deadline": today + timedelta(days=30 + i)}
            )
        return services.report_submit(
            actor=town, task=child, unit=world.units["village_committee"], kind=ReportKind.ACTIVITY, activity_date=today
        )

    results = race(8, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    # Lock order children → parent in both services: no deadlock, and the last recompute saw every report.
    child.refresh_from_db()
    parent.refresh_from_db()
    assert (child.progress, parent.progress) == (D(100), D(50))
    assert child.deadline == parent.deadline
