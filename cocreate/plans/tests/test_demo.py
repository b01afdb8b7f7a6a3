"""The plans demo: the seed documents' plans in the demo county, every light showing, idempotent."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from django.utils import timezone

from cocreate.core.demo import ROLE_PHONES, demo_load
from cocreate.core.models import Role, User
from cocreate.plans import demo
from cocreate.plans.models import (
    Assessment,
    AssessmentStatus,
    EntryStatus,
    Milestone,
    Phase,
    Plan,
    ProgressReport,
    ReportKind,
    ReportStatus,
    Target,
    TargetKind,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.status import Light, task_light

pytestmark = pytest.mark.django_db

SHOWN = {Light.GREEN, Light.YELLOW, Light.RED, Light.BLUE, Light.DONE, Light.NOT_STARTED}


def _snapshot() -> dict[str, int]:
    counts = {m.__name__: m.objects.count() for m in (Plan, Phase, Task, TaskUnit, TaskPerson, Target, Milestone)}
    counts["ProgressReport"] = ProgressReport.objects.count()
    for model in (Plan, Phase, Task, Target, ProgressReport):
        counts[f"history:{model.__name__}"] = model.history.count()
    return counts


def _lights(today: date) -> Counter[str]:
    tasks = Task.objects.select_related("plan").prefetch_related("milestones")
    return Counter(task_light(task, today).light for task in tasks)


def _units(task: Task, role: str) -> list[str]:
    return list(task.task_units.filter(role=role).order_by("order").values_list("unit__short_name", flat=True))


def test_demo_loads_the_seed_plans_with_every_light_and_a_second_run_creates_nothing() -> None:
    result = demo_load()
    # The co-decision demo adds 柳林村's own plan (a task-list line sent into it); not counted here.
    seeded = [demo.STREET_PLAN, demo.COUNTY_PLAN, demo.PILOT_PLAN]
    assert result.plans == {
        "plans": 3,
        "tasks": Task.objects.filter(plan__title__in=seeded).count(),
        "reports": ProgressReport.objects.filter(task__plan__title__in=seeded).count(),
        "assessments": 1,
    }

    street = Plan.objects.get(title=demo.STREET_PLAN)
    assert street.region.name == "城南街道" and street.issuing_unit.name == "城南街道办事处"
    assert list(street.phases.values_list("name", flat=True)) == ["部署启动", "集中整治", "巩固提升"]
    top = list(street.tasks.filter(parent=None).order_by("id"))
    assert [t.number for t in top] == [str(n) for n in range(1, 10)]
    assert all(t.fans_out and t.children.count() == 4 for t in top)
    assert _units(top[0], UnitRole.LEAD) == ["城市管理服务中心"]
    assert _units(top[0], UnitRole.RESPONSIBLE) == ["社会事务办", "规建环办", "经发办"]
    assert _units(top[6], UnitRole.LEAD) == ["党群办", "城市管理服务中心"]
    child = top[0].children.order_by("region__code").first()
    assert child is not None and _units(child, UnitRole.RESPONSIBLE) == ["居委会"]

    # The weekly volunteer quota is met by activity records, never a typed number.
    quota_children = list(top[6].children.order_by("region__code"))
    assert all(Target.objects.filter(task=c, kind=TargetKind.QUOTA, quota_count=1).exists() for c in quota_children)
    activities = ProgressReport.objects.filter(task__in=quota_children, kind=ReportKind.ACTIVITY)
    assert activities.filter(task=quota_children[0]).count() >= 10
    assert not ProgressReport.objects.filter(task__in=quota_children).exclude(kind=ReportKind.ACTIVITY).exists()
    assert quota_children[0].progress == 100 and quota_children[3].progress == 0
    returned = ProgressReport.objects.get(status=ReportStatus.RETURNED)
    assert returned.return_reason and returned.task.parent == top[7]

    county = Plan.objects.get(title=demo.COUNTY_PLAN)
    tasks = list(county.tasks.order_by("id"))
    assert len(tasks) == 8 and not any(t.fans_out for t in tasks)
    assert all(_units(t, UnitRole.LEAD) and _units(t, UnitRole.GUIDING) for t in tasks)
    assert _units(tasks[3], UnitRole.RESPONSIBLE) == ["县教育局", "县民政局"]
    indicator = Target.objects.get(task=tasks[3])
    assert (indicator.name, indicator.value) == ("生活垃圾回收利用率", 35)

    pilot = Plan.objects.get(title=demo.PILOT_PLAN)
    pilots = list(pilot.tasks.order_by("id"))
    villages = {t.task_units.get(role=UnitRole.RESPONSIBLE).unit.region_id for t in pilots}
    assert len(pilots) == 10 and len(villages) == 10
    targets = {(t.name, t.value) for t in Target.objects.filter(task=pilots[0])}
    assert {
        ("村庄绿化覆盖率", 35),
        ("村庄垃圾处理率", 100),
        ("村庄供水普及率", 100),
        ("畜禽粪便综合利用率", 90),
    } <= targets
    assert all(TaskPerson.objects.filter(task=t, role="leader").exists() for t in pilots)
    # 柳林村's own staff reported 柳林村's values.
    staff = User.objects.get(phone=ROLE_PHONES[Role.VILLAGE_STAFF])
    assert ProgressReport.objects.filter(task=pilots[0], reported_by=staff).count() == 6

    lights = _lights(timezone.localdate())
    assert set(lights) == SHOWN, lights

    # The pilot plan's assessment of this year is under way: every kind of entry state shows,
    # and the village account's own village is left for it to assess.
    assessment = Assessment.objects.get(plan__title=demo.PILOT_PLAN)
    assert assessment.status == AssessmentStatus.OPEN and assessment.entries.count() == 10
    assert set(assessment.entries.values_list("status", flat=True)) == set(EntryStatus.values)
    own = staff.memberships.get(is_active=True).unit
    assert own is not None and assessment.entries.get(unit=own).status == EntryStatus.PENDING

    before = _snapshot()
    again = demo_load()
    assert again.plans == {"plans": 0, "tasks": 0, "reports": 0, "assessments": 0}
    assert _snapshot() == before


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2027, 12, 27)])
def test_every_light_shows_whatever_day_the_demo_is_loaded(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Dates are offsets from the load day, so a load in 2026 or 2027 shows the same lights."""
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)
    demo_load()
    street = Plan.objects.get(title=demo.STREET_PLAN)
    assert street.starts_on < day < street.ends_on
    assert set(_lights(day)) == SHOWN
    # The same day's load is the same data: the street campaign's progress, task by task.
    progress = street.tasks.filter(parent=None).order_by("id").values_list("progress", flat=True)
    assert [str(p) for p in progress] == [
        "50.00",
        "85.00",
        "86.25",
        "22.50",
        "37.50",
        "38.25",
        "25.00",
        "16.25",
        "0.00",
    ]
