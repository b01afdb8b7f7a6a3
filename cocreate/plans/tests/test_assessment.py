"""Yearly assessment (年度考核): rubric, figures computed from the records, self-assessment,
review, ranking frozen on publication, who may see and do what, the export."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import load_workbook

from cocreate.conftest import World
from cocreate.core.models import Membership, Notification, Role, User
from cocreate.plans import assessment as svc
from cocreate.plans import services, supervision
from cocreate.plans.models import (
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentStatus,
    EntryStatus,
    ItemKind,
    PlanStatus,
    ProgressReport,
    ReportKind,
    Task,
)
from cocreate.plans.services import TargetSpec

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 23)


def a2_staff(world: World) -> User:
    user = User.objects.create_user(phone="13700007777", password="x-Secret-2026", display_name="乙村干部")
    Membership.objects.create(
        user=user, role=Role.VILLAGE_STAFF, region=world.regions["village_a2"], unit=world.units["village_a2_committee"]
    )
    return user


def build_plan(world: World) -> dict[str, Any]:
    """A town plan of 2026: an indicator task fanned out to both villages, and one task of village A."""
    town = world.user(Role.TOWN_STAFF)
    plan = services.plan_create(
        actor=town,
        title="甲镇美丽乡村建设方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    shared = services.task_create(
        actor=town,
        plan=plan,
        number="1",
        title="生活垃圾集中处理",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 6, 30),
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        targets=[TargetSpec(kind="indicator", name="垃圾处理率", comparator="gte", value=Decimal(100), unit_label="%")],
    )
    own = services.task_create(
        actor=town,
        plan=plan,
        number="2",
        title="村庄绿化",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
        units={"responsible": [world.units["village_committee"]]},
    )
    child_a = Task.objects.get(parent=shared, region=world.regions["village_a"])
    child_a2 = Task.objects.get(parent=shared, region=world.regions["village_a2"])
    return {"town": town, "plan": plan, "child_a": child_a, "child_a2": child_a2, "own": own}


def report_indicator(actor: User, task: Task, value: int, when: date = date(2026, 7, 1)) -> None:
    """Reports an indicator value, dated ``when`` (the figures are taken on a fixed day)."""
    target = task.targets.get()
    unit = task.task_units.get().unit
    report = services.report_submit(
        actor=actor, task=task, unit=unit, kind=ReportKind.INDICATOR, target=target, value=Decimal(value)
    )
    moment = timezone.make_aware(datetime(when.year, when.month, when.day, 10, 0))
    ProgressReport.objects.filter(pk=report.pk).update(reported_at=moment)


@pytest.fixture
def scene(world: World) -> dict[str, Any]:
    """Village A: on time, indicator met, its own task at 40 %. Village A2: late and short."""
    s = build_plan(world)
    s["village"] = world.user(Role.VILLAGE_STAFF)
    s["village2"] = a2_staff(world)
    report_indicator(s["village"], s["child_a"], 100)
    report_indicator(s["village2"], s["child_a2"], 80)
    Task.objects.filter(pk=s["child_a"].pk).update(progress=100, completed_on=date(2026, 6, 20))
    Task.objects.filter(pk=s["child_a2"].pk).update(progress=50, completed_on=None)
    Task.objects.filter(pk=s["own"].pk).update(progress=40)
    s["assessment"] = svc.assessment_create(
        actor=s["town"], plan=s["plan"], year=2026, self_deadline=date(2026, 12, 10)
    )
    return s


def entry_of(assessment: Assessment, world: World, key: str) -> AssessmentEntry:
    return AssessmentEntry.objects.get(assessment=assessment, unit=world.units[key])


def review_item(assessment: Assessment) -> AssessmentItem:
    return assessment.items.get(kind=ItemKind.REVIEW)


# --- Drafting the rubric -----------------------------------------------------------------------------


def test_a_new_assessment_has_the_default_rubric_of_100_points(scene: dict[str, Any]) -> None:
    a = scene["assessment"]
    assert a.status == AssessmentStatus.DRAFT
    assert a.title == "甲镇美丽乡村建设方案2026年度考核"
    assert (a.period_start, a.period_end) == (date(2026, 1, 1), date(2026, 12, 31))
    kinds = list(a.items.values_list("kind", flat=True))
    assert kinds == ["on_time", "completion", "indicators", "rectification", "review"]
    assert sum(a.items.values_list("weight", flat=True)) == 100


def test_one_assessment_per_plan_and_year_inside_the_plan(scene: dict[str, Any], world: World) -> None:
    with pytest.raises(ValidationError) as dup:
        svc.assessment_create(actor=scene["town"], plan=scene["plan"], year=2026)
    assert "year" in dup.value.message_dict
    with pytest.raises(ValidationError) as outside:
        svc.assessment_create(actor=scene["town"], plan=scene["plan"], year=2027)
    assert "2027年不在方案实施期" in outside.value.message_dict["year"][0]


def test_a_draft_plan_is_not_assessed(world: World) -> None:
    town = world.user(Role.TOWN_STAFF)
    plan = services.plan_create(
        actor=town,
        title="草稿方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        status=PlanStatus.DRAFT,
    )
    with pytest.raises(ValidationError):
        svc.assessment_create(actor=town, plan=plan, year=2026)


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.RESIDENT, Role.SCHOOL_STAFF])
def test_only_assessors_over_the_plan_create_assessments(scene: dict[str, Any], world: World, role: str) -> None:
    Assessment.objects.filter(pk=scene["assessment"].pk).delete()
    with pytest.raises((PermissionDenied, ValidationError)):
        svc.assessment_create(actor=world.user(role), plan=scene["plan"], year=2026)
    assert not Assessment.objects.filter(plan=scene["plan"]).exists()


def test_outside_manager_cannot_touch_the_rubric(scene: dict[str, Any], world: World) -> None:
    item = review_item(scene["assessment"])
    with pytest.raises(PermissionDenied):
        svc.item_update(actor=world.users["outside_staff"], item=item, data={"weight": Decimal(50)})
    item.refresh_from_db()
    assert item.weight == 20


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"weight": Decimal(0)}, "weight"),
        ({"weight": Decimal("12.25")}, "weight"),
        ({"weight": Decimal(101)}, "weight"),
        ({"name": "按时完成率"}, "name"),
        ({"kind": "on_time"}, "kind"),
        ({"name": "  "}, "name"),
    ],
)
def test_rubric_items_are_validated(scene: dict[str, Any], data: dict[str, Any], field: str) -> None:
    item = review_item(scene["assessment"])
    with pytest.raises(ValidationError) as exc:
        svc.item_update(actor=scene["town"], item=item, data=data)
    assert field in exc.value.message_dict
    item.refresh_from_db()
    assert (item.name, item.weight, item.kind) == ("工作成效", 20, "review")


def test_opening_needs_100_points_then_freezes_the_rubric(scene: dict[str, Any], world: World) -> None:
    a = scene["assessment"]
    svc.item_add(actor=scene["town"], assessment=a, kind=ItemKind.REVIEW, name="群众满意度", weight=10)
    with pytest.raises(ValidationError, match="合计须为100分，目前为110分"):
        svc.assessment_open(actor=scene["town"], assessment=a)
    svc.item_delete(actor=scene["town"], item=a.items.get(name="群众满意度"))
    opened = svc.assessment_open(actor=scene["town"], assessment=a)
    assert opened.status == AssessmentStatus.OPEN
    units = set(AssessmentEntry.objects.filter(assessment=a).values_list("unit__name", flat=True))
    # The lead unit (town office) is not assessed; the villages that carry the work are.
    assert units == {"甲村村民委员会", "乙村村民委员会"}
    assert AssessmentEntry.objects.get(assessment=a, unit=world.units["village_committee"]).scores.count() == 5
    with pytest.raises(ValidationError, match="不能再修改"):
        svc.item_add(actor=scene["town"], assessment=a, kind=ItemKind.REVIEW, name="加分项", weight=5)
    with pytest.raises(ValidationError):
        svc.assessment_open(actor=scene["town"], assessment=a)


def test_opening_tells_the_units_once(scene: dict[str, Any]) -> None:
    svc.assessment_open(actor=scene["town"], assessment=scene["assessment"])
    for user in (scene["village"], scene["village2"]):
        notes = Notification.objects.filter(user=user, title__startswith="请完成考核自评")
        assert notes.count() == 1
        assert "2026-12-10" in notes.get().body
    assert not Notification.objects.filter(user=scene["town"], title__startswith="请完成考核自评").exists()


# --- Figures ----------------------------------------------------------------------------------------------


def test_figures_are_computed_from_tasks_and_reports(scene: dict[str, Any], world: World) -> None:
    a = scene["assessment"]
    a_id, a2_id = world.units["village_committee"].pk, world.units["village_a2_committee"].pk
    m = svc.compute_metrics(a, [a_id, a2_id], today=TODAY)
    assert m[a_id]["on_time"] == svc.Metric(Decimal(1), 1, Decimal("100.00"))
    assert m[a2_id]["on_time"] == svc.Metric(Decimal(0), 1, Decimal("0.00"))
    assert m[a_id]["completion"].rate == Decimal("70.00")  # (100 + 40) / 2
    assert m[a_id]["completion"].denominator == 2
    assert m[a2_id]["completion"].rate == Decimal("50.00")
    assert m[a_id]["indicators"] == svc.Metric(Decimal(1), 1, Decimal("100.00"))
    assert m[a2_id]["indicators"] == svc.Metric(Decimal(0), 1, Decimal("0.00"))
    assert not m[a_id]["rectification"].applicable
    # In March nothing was due yet: the on-time rate does not apply, tasks are under way.
    march = svc.compute_metrics(a, [a_id], today=date(2026, 3, 1))
    assert not march[a_id]["on_time"].applicable
    assert march[a_id]["completion"].applicable


def test_a_late_completion_is_not_on_time(scene: dict[str, Any], world: World) -> None:
    Task.objects.filter(pk=scene["child_a2"].pk).update(progress=100, completed_on=date(2026, 7, 3))
    a2_id = world.units["village_a2_committee"].pk
    m = svc.compute_metrics(scene["assessment"], [a2_id], today=TODAY)
    assert m[a2_id]["on_time"].rate == 0
    assert m[a2_id]["completion"].rate == 100


def test_a_newer_indicator_value_changes_attainment(scene: dict[str, Any], world: World) -> None:
    report_indicator(scene["village2"], scene["child_a2"], 100, when=date(2026, 8, 1))
    a2_id = world.units["village_a2_committee"].pk
    assert svc.compute_metrics(scene["assessment"], [a2_id], today=date(2026, 7, 31))[a2_id]["indicators"].rate == 0
    m = svc.compute_metrics(scene["assessment"], [a2_id], today=TODAY)
    assert m[a2_id]["indicators"].rate == 100


def test_rectifications_closed_by_their_deadline(scene: dict[str, Any], world: World) -> None:
    inspector = world.user(Role.INSPECTOR)
    check = supervision.check_create(
        actor=inspector,
        kind="monthly",
        title="五月检查",
        region=world.regions["town_a"],
        checked_on=date(2026, 5, 1),
        plan=scene["plan"],
    )
    results = []
    for n, closed_on in enumerate((date(2026, 5, 9), date(2026, 5, 20), None)):
        finding = supervision.finding_add(
            actor=inspector, check=check, unit=world.units["village_committee"], description=f"问题{n}"
        )
        r = supervision.rectification_raise(
            actor=inspector, finding=finding, requirement="限期整改", deadline=timezone.localdate()
        )
        type(r).objects.filter(pk=r.pk).update(deadline=date(2026, 5, 10))
        if closed_on is not None:
            supervision.rectification_respond(actor=scene["village"], rectification=r, response="已整改")
            supervision.rectification_close(actor=inspector, rectification=r)
            r.refresh_from_db()
            moment = timezone.make_aware(datetime.combine(closed_on, datetime.min.time().replace(hour=10)))
            type(r).objects.filter(pk=r.pk).update(closed_at=moment)
        results.append(r)
    a_id = world.units["village_committee"].pk
    m = svc.compute_metrics(scene["assessment"], [a_id], today=TODAY)
    assert m[a_id]["rectification"] == svc.Metric(Decimal(1), 3, Decimal("33.33"))


def test_figure_queries_do_not_grow_with_units(scene: dict[str, Any], world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids = [world.units["village_committee"].pk, world.units["village_a2_committee"].pk]
    with CaptureQueriesContext(connection) as one:
        svc.compute_metrics(scene["assessment"], ids[:1], today=TODAY)
    with CaptureQueriesContext(connection) as two:
        svc.compute_metrics(scene["assessment"], ids, today=TODAY)
    assert len(one) == len(two) == 3


# --- Self-assessment, review, publication -------------------------------------------------------------------


def opened(scene: dict[str, Any]) -> Assessment:
    return svc.assessment_open(actor=scene["town"], assessment=scene["assessment"])


def test_a_village_assesses_itself_but_not_its_neighbour(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    item = review_item(a)
    mine, other = entry_of(a, world, "village_committee"), entry_of(a, world, "village_a2_committee")
    svc.entry_self_assess(actor=scene["village"], entry=mine, scores={item.pk: "18.5"}, comment="已完成全部任务")
    mine.refresh_from_db()
    assert mine.status == EntryStatus.SELF_SUBMITTED
    assert mine.scores.get(item=item).self_score == Decimal("18.5")
    with pytest.raises(PermissionDenied):
        svc.entry_self_assess(actor=scene["village"], entry=other, scores={item.pk: 20})
    assert entry_of(a, world, "village_a2_committee").status == EntryStatus.PENDING


@pytest.mark.parametrize("value", ["21", "-1", "abc", "", "18.55", "NaN"])
def test_hand_scores_stay_inside_the_item(scene: dict[str, Any], world: World, value: str) -> None:
    a = opened(scene)
    item = review_item(a)
    entry = entry_of(a, world, "village_committee")
    with pytest.raises(ValidationError) as exc:
        svc.entry_self_assess(actor=scene["village"], entry=entry, scores={item.pk: value})
    assert f"self_{item.pk}" in exc.value.message_dict
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PENDING


def test_computed_items_cannot_be_scored_by_hand(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    entry = entry_of(a, world, "village_committee")
    on_time = a.items.get(kind="on_time")
    with pytest.raises(ValidationError) as exc:
        svc.entry_self_assess(actor=scene["village"], entry=entry, scores={review_item(a).pk: 10, on_time.pk: 30})
    assert "self" in exc.value.message_dict


def test_review_waits_for_the_self_assessment_or_its_deadline(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    item = review_item(a)
    entry = entry_of(a, world, "village_a2_committee")
    with pytest.raises(ValidationError, match="尚未自评"):
        svc.entry_review(actor=scene["town"], entry=entry, scores={item.pk: 10}, today=date(2026, 12, 10))
    reviewed = svc.entry_review(actor=scene["town"], entry=entry, scores={item.pk: 10}, today=date(2026, 12, 11))
    assert reviewed.status == EntryStatus.REVIEWED


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.SCHOOL_STAFF, Role.RESIDENT])
def test_only_assessors_review(scene: dict[str, Any], world: World, role: str) -> None:
    a = opened(scene)
    item = review_item(a)
    entry = entry_of(a, world, "village_committee")
    svc.entry_self_assess(actor=scene["village"], entry=entry, scores={item.pk: 18})
    with pytest.raises(PermissionDenied):
        svc.entry_review(actor=world.user(role), entry=entry, scores={item.pk: 20})
    assert entry.scores.get(item=item).review_score is None


def test_a_reviewed_entry_is_closed_to_self_assessment(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    item = review_item(a)
    entry = entry_of(a, world, "village_committee")
    svc.entry_self_assess(actor=scene["village"], entry=entry, scores={item.pk: 20})
    svc.entry_review(actor=scene["town"], entry=entry, scores={item.pk: 18}, comment="亮点突出")
    with pytest.raises(ValidationError):
        svc.entry_self_assess(actor=scene["village"], entry=entry, scores={item.pk: 20})
    assert entry.scores.get(item=item).self_score == 20


def review_both(scene: dict[str, Any], world: World, a: Assessment, score_a: int = 18, score_a2: int = 16) -> None:
    item = review_item(a)
    for key, user, score in (
        ("village_committee", scene["village"], score_a),
        ("village_a2_committee", scene["village2"], score_a2),
    ):
        entry = entry_of(a, world, key)
        svc.entry_self_assess(actor=user, entry=entry, scores={item.pk: 20})
        svc.entry_review(actor=scene["town"], entry=entry, scores={item.pk: score})


def test_publication_needs_every_unit_reviewed(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    item = review_item(a)
    entry = entry_of(a, world, "village_committee")
    svc.entry_self_assess(actor=scene["village"], entry=entry, scores={item.pk: 20})
    svc.entry_review(actor=scene["town"], entry=entry, scores={item.pk: 18})
    with pytest.raises(ValidationError, match="还有1个单位未审核（乙村村民委员会）"):
        svc.assessment_publish(actor=scene["town"], assessment=a, today=TODAY)
    a.refresh_from_db()
    assert a.status == AssessmentStatus.OPEN


def test_ranking_is_scaled_over_applicable_items_and_frozen(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    review_both(scene, world, a)
    published = svc.assessment_publish(actor=scene["town"], assessment=a, today=TODAY)
    assert published.status == AssessmentStatus.PUBLISHED
    a_entry, a2_entry = entry_of(a, world, "village_committee"), entry_of(a, world, "village_a2_committee")
    # A: 30 + 25×70% + 15 + (rectification: n/a) + 18 = 80.5 of 90 applicable → 89.44 of 100.
    assert (a_entry.total, a_entry.rank) == (Decimal("89.44"), 1)
    # A2: 0 + 25×50% + 0 + n/a + 16 = 28.5 of 90 → 31.67.
    assert (a2_entry.total, a2_entry.rank) == (Decimal("31.67"), 2)
    on_time = a_entry.scores.get(item__kind="on_time")
    assert (on_time.numerator, on_time.denominator, on_time.rate, on_time.points) == (1, 1, 100, 30)
    assert a_entry.scores.get(item__kind="rectification").points is None
    # Later work changes nothing published.
    Task.objects.filter(pk=scene["child_a2"].pk).update(progress=100, completed_on=date(2026, 6, 1))
    a.refresh_from_db()
    rows = svc.score_rows(a, svc.visible_entries(user=scene["town"], assessment=a), today=TODAY)
    assert [(r.entry.unit.name, r.total, r.rank, r.provisional) for r in rows] == [
        ("甲村村民委员会", Decimal("89.44"), 1, False),
        ("乙村村民委员会", Decimal("31.67"), 2, False),
    ]
    with pytest.raises(ValidationError):
        svc.entry_review(actor=scene["town"], entry=a2_entry, scores={review_item(a).pk: 20})


def test_equal_totals_share_a_rank(scene: dict[str, Any], world: World) -> None:
    Task.objects.filter(pk=scene["child_a2"].pk).update(progress=100, completed_on=date(2026, 6, 20))
    Task.objects.filter(pk=scene["own"].pk).update(progress=100)
    report_indicator(scene["village2"], scene["child_a2"], 100)
    Task.objects.filter(pk=scene["child_a2"].pk).update(progress=100, completed_on=date(2026, 6, 20))
    a = opened(scene)
    review_both(scene, world, a, score_a=20, score_a2=20)
    rows = svc.score_rows(a, svc.visible_entries(user=scene["town"], assessment=a), today=TODAY)
    assert [(r.total, r.rank) for r in rows] == [(Decimal("100.00"), 1), (Decimal("100.00"), 1)]
    assert all(r.provisional for r in rows)


def test_publication_tells_the_units(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    review_both(scene, world, a)
    svc.assessment_publish(actor=scene["town"], assessment=a, today=TODAY)
    assert Notification.objects.filter(user=scene["village2"], title__startswith="考核结果已公布").count() == 1


# --- Who sees what --------------------------------------------------------------------------------------------


def test_drafts_are_for_assessors_only(scene: dict[str, Any], world: World) -> None:
    a = scene["assessment"]
    assert Assessment.objects.visible_to(scene["town"]).filter(pk=a.pk).exists()
    assert not Assessment.objects.visible_to(scene["village"]).filter(pk=a.pk).exists()
    assert not AssessmentItem.objects.visible_to(scene["village"]).filter(assessment=a).exists()


def test_before_publication_a_village_sees_only_its_own_entry(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    seen = set(svc.visible_entries(user=scene["village"], assessment=a).values_list("unit__name", flat=True))
    assert seen == {"甲村村民委员会"}
    assert svc.visible_entries(user=scene["town"], assessment=a).count() == 2
    assert not svc.visible_entries(user=world.users["outside_staff"], assessment=a).exists()
    review_both(scene, world, a)
    svc.assessment_publish(actor=scene["town"], assessment=a, today=TODAY)
    assert svc.visible_entries(user=scene["village"], assessment=a).count() == 2
    assert not Assessment.objects.visible_to(world.users["outside_staff"]).filter(pk=a.pk).exists()
    assert not Assessment.objects.visible_to(world.user(Role.RESIDENT)).filter(pk=a.pk).exists()


def test_export_lists_the_ranking_with_components(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    review_both(scene, world, a)
    svc.assessment_publish(actor=scene["town"], assessment=a, today=TODAY)
    data = svc.assessment_xlsx(user=scene["town"], assessment=a, today=TODAY)
    book = load_workbook(io.BytesIO(data))
    ranking = [list(row) for row in book["考核排名"].iter_rows(min_row=4, values_only=True)]
    assert ranking[0][:3] == [1, "甲村村民委员会", "甲村"]
    assert ranking[0][3:8] == [30, 17.5, 15, "不适用", 18]
    assert ranking[0][8] == pytest.approx(89.44)
    assert ranking[1][1] == "乙村村民委员会"
    basis = [list(row) for row in book["计分依据"].iter_rows(min_row=2, values_only=True)]
    assert ["甲村村民委员会", "按时完成率", "按时完成率", 1, 1, 100, None, None, 30] in basis


def test_a_village_exports_only_its_own_row_before_publication(scene: dict[str, Any], world: World) -> None:
    a = opened(scene)
    book = load_workbook(io.BytesIO(svc.assessment_xlsx(user=scene["village"], assessment=a, today=TODAY)))
    names = [row[1] for row in book["考核排名"].iter_rows(min_row=4, values_only=True)]
    assert names == ["甲村村民委员会"]
    assert "暂定结果" in str(book["考核排名"]["A2"].value)


@pytest.mark.parametrize("role", [Role.TOWN_STAFF, Role.SCHOOL_STAFF, Role.ADMIN])
def test_reviewers_and_others_do_not_self_assess_for_a_unit(scene: dict[str, Any], world: World, role: str) -> None:
    a = opened(scene)
    entry = entry_of(a, world, "village_committee")
    assert not svc.can_self_assess(world.user(role), entry)
    with pytest.raises(PermissionDenied):
        svc.entry_self_assess(actor=world.user(role), entry=entry, scores={review_item(a).pk: 20})
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PENDING


def test_a_town_files_for_its_village_when_the_county_assesses(world: World) -> None:
    """On a county plan the town is not a reviewer, so it may file its villages' self-assessment."""
    county_admin = world.user(Role.ADMIN)
    plan = services.plan_create(
        actor=county_admin,
        title="甲县试点村建设方案",
        issuing_unit=world.units["county_gov"],
        region=world.regions["county_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    services.task_create(
        actor=county_admin,
        plan=plan,
        title="试点村建设",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
        units={"responsible": [world.units["village_a2_committee"]]},
    )
    a = svc.assessment_create(actor=county_admin, plan=plan, year=2026)
    a = svc.assessment_open(actor=county_admin, assessment=a)
    entry = AssessmentEntry.objects.get(assessment=a)
    town = world.user(Role.TOWN_STAFF)
    assert not svc.can_manage(town, a) and svc.can_self_assess(town, entry)
    filed = svc.entry_self_assess(actor=town, entry=entry, scores={review_item(a).pk: 17})
    assert filed.status == EntryStatus.SELF_SUBMITTED and filed.self_submitted_by == town
