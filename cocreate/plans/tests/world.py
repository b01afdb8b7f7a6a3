"""The plans app's part of the test world: a town plan in county A and one in county B."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Role
from cocreate.plans.models import (
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentScore,
    AssessmentStatus,
    Bulletin,
    BulletinStatus,
    CheckKind,
    Finding,
    Phase,
    Plan,
    PlanStatus,
    ProgressReport,
    Rectification,
    ReportKind,
    SupervisionCheck,
    Task,
    TaskUnit,
    UnitRole,
)


def extend(w: World) -> None:
    r, u = w.regions, w.units
    records: dict[str, Any] = {}
    plan = Plan.objects.create(
        title="甲镇人居环境整治方案",
        doc_number="甲镇发〔2026〕1号",
        issuing_unit=u["town_office"],
        region=r["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        status=PlanStatus.ACTIVE,
    )
    phase = Phase.objects.create(plan=plan, name="部署启动", starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
    parent = Task.objects.create(
        plan=plan,
        phase=phase,
        region=r["town_a"],
        number="1",
        title="整治环境卫生",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
        fans_out=True,
    )
    TaskUnit.objects.create(task=parent, unit=u["town_office"], role=UnitRole.LEAD)
    child = Task.objects.create(
        plan=plan,
        phase=phase,
        parent=parent,
        region=r["village_a"],
        number="1",
        title="整治环境卫生",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
    )
    TaskUnit.objects.create(task=child, unit=u["village_committee"], role=UnitRole.RESPONSIBLE)
    report = ProgressReport.objects.create(
        task=child,
        region=child.region,
        unit=u["village_committee"],
        kind=ReportKind.PERCENT,
        percent=20,
        reported_by=w.user(Role.VILLAGE_STAFF),
        description="已清理背街小巷",
    )
    records.update(plan=plan, phase=phase, parent_task=parent, child_task=child, report=report)

    outside_plan = Plan.objects.create(
        title=f"{OUTSIDE_MARKER}方案",
        issuing_unit=u["outside"],
        region=r["town_b"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        status=PlanStatus.ACTIVE,
    )
    outside_task = Task.objects.create(
        plan=outside_plan,
        region=r["village_b"],
        title=f"{OUTSIDE_MARKER}任务",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 6, 30),
    )
    TaskUnit.objects.create(task=outside_task, unit=u["outside"], role=UnitRole.RESPONSIBLE)
    outside_report = ProgressReport.objects.create(
        task=outside_task,
        region=outside_task.region,
        unit=u["outside"],
        kind=ReportKind.PERCENT,
        percent=50,
        reported_by=w.users["outside_staff"],
        description=f"{OUTSIDE_MARKER}进展",
    )
    records.update(outside_plan=outside_plan, outside_task=outside_task, outside_report=outside_report)
    records.update(_supervision(w, plan, child, outside_plan, outside_task))
    records.update(_assessments(w, plan, outside_plan))
    w.extra["plans"] = records


def _supervision(w: World, plan: Plan, task: Task, outside_plan: Plan, outside_task: Task) -> dict[str, Any]:
    """One check with a finding, a rectification and a bulletin on each side of the scope line."""
    r, u = w.regions, w.units
    records: dict[str, Any] = {}
    for key, region, the_plan, the_task, unit, inspector, marker in (
        ("", r["town_a"], plan, task, u["village_committee"], w.user(Role.INSPECTOR), ""),
        ("outside_", r["town_b"], outside_plan, outside_task, u["outside"], w.users["outside_staff"], OUTSIDE_MARKER),
    ):
        check = SupervisionCheck.objects.create(
            kind=CheckKind.MONTHLY,
            title=f"{marker}三月检查",
            region=region,
            plan=the_plan,
            checked_on=date(2026, 3, 28),
            inspector=inspector,
        )
        finding = Finding.objects.create(
            check_record=check,
            task=the_task,
            unit=unit,
            region=the_task.region,
            description=f"{marker}背街小巷仍有垃圾",
        )
        rectification = Rectification.objects.create(
            finding=finding,
            unit=unit,
            region=the_task.region,
            requirement=f"{marker}一周内清理完毕",
            deadline=date(2026, 4, 4),
        )
        bulletin = Bulletin.objects.create(
            region=region,
            plan=the_plan,
            title=f"{marker}第一季度通报",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
            status=BulletinStatus.PUBLISHED,
            published_at=timezone.now(),
            figures={},
        )
        records.update(
            {
                f"{key}check": check,
                f"{key}finding": finding,
                f"{key}rectification": rectification,
                f"{key}bulletin": bulletin,
            }
        )
    return records


def _assessments(w: World, plan: Plan, outside_plan: Plan) -> dict[str, Any]:
    """An opened yearly assessment on each side of the scope line, one entry each."""
    u = w.units
    records: dict[str, Any] = {}
    for key, the_plan, unit, marker in (
        ("", plan, u["village_committee"], ""),
        ("outside_", outside_plan, u["outside"], OUTSIDE_MARKER),
    ):
        assessment = Assessment.objects.create(
            plan=the_plan,
            region=the_plan.region,
            year=2026,
            title=f"{marker}2026年度考核",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 12, 31),
            status=AssessmentStatus.OPEN,
            opened_at=timezone.now(),
        )
        on_time = AssessmentItem.objects.create(
            assessment=assessment, kind="on_time", name="按时完成率", weight=60, order=1
        )
        review = AssessmentItem.objects.create(
            assessment=assessment, kind="review", name=f"{marker}工作成效", weight=40, order=2
        )
        entry = AssessmentEntry.objects.create(assessment=assessment, unit=unit, region=unit.region)
        for item in (on_time, review):
            AssessmentScore.objects.create(entry=entry, item=item)
        records.update({f"{key}assessment": assessment, f"{key}assessment_entry": entry, f"{key}review_item": review})
    return records
