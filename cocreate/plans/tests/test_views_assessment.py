"""Pages of the yearly assessment: rubric, opening, self-assessment, review, ranking, export, access."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from cocreate.conftest import World
from cocreate.core.models import Membership, Person, Role, Unit, UnitKind, User
from cocreate.core.tests.pages import assert_in_scope as ok
from cocreate.core.tests.pages import body, login
from cocreate.plans.models import (
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentScore,
    AssessmentStatus,
    EntryStatus,
    ItemKind,
    Plan,
    PlanStatus,
    Task,
    TaskUnit,
    UnitRole,
)

pytestmark = pytest.mark.django_db

PLAN_TITLE = "考核测试方案"


@dataclass
class Setup:
    plan: Plan
    manager: Any
    reviewer: Any
    village: Any
    village2: Any


@pytest.fixture
def setup(world: World) -> Setup:
    """A town plan with one task for each of two villages: village A done on time, village 乙 behind."""
    r, u = world.regions, world.units
    plan = Plan.objects.create(
        title=PLAN_TITLE,
        issuing_unit=u["town_office"],
        region=r["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        status=PlanStatus.ACTIVE,
    )
    for region, unit, progress, completed in (
        (r["village_a"], u["village_committee"], Decimal(100), date(2026, 6, 20)),
        (r["village_a2"], u["village_a2_committee"], Decimal(40), None),
    ):
        task = Task.objects.create(
            plan=plan,
            region=region,
            title=f"{region.name}改厕",
            starts_on=date(2026, 1, 1),
            deadline=date(2026, 6, 30),
            progress=progress,
            completed_on=completed,
        )
        TaskUnit.objects.create(task=task, unit=unit, role=UnitRole.RESPONSIBLE)
    person = Person.objects.create(name="乙村干部", region=r["village_a2"], phone="13900000077")
    village2 = User.objects.create_user(phone="13900000077", password="x", person=person, display_name="乙村干部")
    Membership.objects.create(
        user=village2, role=Role.VILLAGE_STAFF, region=r["village_a2"], unit=u["village_a2_committee"]
    )
    return Setup(
        plan=plan,
        manager=world.user(Role.TOWN_STAFF),
        reviewer=world.user(Role.INSPECTOR),
        village=world.user(Role.VILLAGE_STAFF),
        village2=village2,
    )


def _create(client: Client, s: Setup, **extra: Any) -> Assessment:
    login(client, s.manager)
    data = {"plan": s.plan.pk, "year": 2026, "title": "", **extra}
    response = client.post(reverse("plans:assessment_create"), data)
    assert response.status_code == 302, body(response)
    assessment = Assessment.objects.get(plan=s.plan, year=2026)
    assert response["Location"] == reverse("plans:assessment_detail", args=[assessment.pk])
    return assessment


def _open(client: Client, s: Setup, **extra: Any) -> Assessment:
    assessment = _create(client, s, **extra)
    response = client.post(reverse("plans:assessment_open", args=[assessment.pk]))
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.OPEN
    return assessment


def _entry(assessment: Assessment, unit: Any) -> AssessmentEntry:
    return AssessmentEntry.objects.get(assessment=assessment, unit=unit)


def _review_item(assessment: Assessment) -> AssessmentItem:
    return assessment.items.get(kind=ItemKind.REVIEW)


# --- Drafting the rubric ---------------------------------------------------------------------------


def test_manager_creates_an_assessment_with_the_default_rubric(client: Client, setup: Setup) -> None:
    login(client, setup.manager)
    form = ok(client.get(reverse("plans:assessment_create"), {"plan": setup.plan.pk}), PLAN_TITLE)
    assert f'<option value="{setup.plan.pk}" selected>' in form
    assessment = _create(client, setup, self_deadline="2026-12-10")
    assert assessment.title == f"{PLAN_TITLE}2026年度考核"
    text = ok(client.get(reverse("plans:assessment_detail", args=[assessment.pk])), assessment.title)
    for name in ("按时完成率", "任务完成度", "指标达标率", "整改按期销号率", "工作成效", "2026-12-10"):
        assert name in text
    assert "合计 100 分" in text
    assert 'id="cc-assessment-open"' in text and 'id="cc-assessment-item-add"' in text
    listing = ok(client.get(reverse("plans:assessment_list"), {"plan": setup.plan.pk}), assessment.title)
    assert "新建考核" in listing


def test_create_refuses_a_second_assessment_of_the_year_and_keeps_the_input(client: Client, setup: Setup) -> None:
    _create(client, setup)
    response = client.post(
        reverse("plans:assessment_create"), {"plan": setup.plan.pk, "year": 2026, "title": "重复的考核"}
    )
    assert response.status_code == 400
    text = body(response)
    assert "该方案2026年度的考核已存在" in text and 'value="重复的考核"' in text


def test_manager_edits_an_item_and_a_bad_weight_is_shown_with_the_input(client: Client, setup: Setup) -> None:
    assessment = _create(client, setup)
    item = assessment.items.get(kind=ItemKind.ON_TIME)
    url = reverse("plans:assessmentitem_edit", args=[item.pk])
    ok(client.get(url), "按时完成率")
    data = {"kind": ItemKind.ON_TIME, "name": "按期完成", "weight": "150", "criteria": "按比例"}
    response = client.post(url, data)
    assert response.status_code == 400
    text = body(response)
    assert "分值须大于0、不超过100，最多一位小数" in text and 'value="150"' in text and 'value="按期完成"' in text
    item.refresh_from_db()
    assert item.weight == 30 and item.name == "按时完成率"

    response = client.post(url, {**data, "weight": "25"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.name, item.weight) == ("按期完成", Decimal("25.0"))

    add = reverse("plans:assessment_item_add", args=[assessment.pk])
    response = client.post(add, {"kind": ItemKind.REVIEW, "name": "特色亮点", "weight": "0", "criteria": ""})
    assert response.status_code == 400 and 'value="特色亮点"' in body(response)
    response = client.post(add, {"kind": ItemKind.REVIEW, "name": "特色亮点", "weight": "5", "criteria": ""})
    assert response.status_code == 302
    text = ok(client.get(reverse("plans:assessment_detail", args=[assessment.pk])), "特色亮点", "按期完成")
    assert "合计 100 分" in text


def test_opening_needs_full_marks_then_creates_the_entries(client: Client, setup: Setup, world: World) -> None:
    assessment = _create(client, setup)
    item = assessment.items.get(kind=ItemKind.RECTIFICATION)
    response = client.post(reverse("plans:assessmentitem_delete", args=[item.pk]))
    assert response.status_code == 302
    response = client.post(reverse("plans:assessment_open", args=[assessment.pk]), follow=True)
    assert "各考核项目分值合计须为100分，目前为90分" in body(response)
    assert not assessment.entries.exists()

    add = reverse("plans:assessment_item_add", args=[assessment.pk])
    client.post(add, {"kind": ItemKind.RECTIFICATION, "name": "整改", "weight": "10", "criteria": ""})
    response = client.post(reverse("plans:assessment_open", args=[assessment.pk]), follow=True)
    text = ok(response, "考核已启动，2个单位可以自评", "甲村村民委员会", "乙村村民委员会")
    assert "暂定，按" in text
    assert 'id="cc-assessment-item-add"' not in text and 'id="cc-assessment-publish"' in text
    # The rubric is fixed now: its edit page sends back with the reason.
    first = assessment.items.first()
    assert first is not None
    response = client.get(reverse("plans:assessmentitem_edit", args=[first.pk]), follow=True)
    assert "考核已启动，考核细则不能再修改" in body(response)


# --- Self-assessment, review, publication -------------------------------------------------------------


def test_village_staff_assess_their_own_entry_only(client: Client, setup: Setup, world: World) -> None:
    assessment = _open(client, setup)
    mine = _entry(assessment, world.units["village_committee"])
    other = _entry(assessment, world.units["village_a2_committee"])
    item = _review_item(assessment)

    login(client, setup.village)
    text = ok(client.get(reverse("plans:assessment_detail", args=[assessment.pk])), "甲村村民委员会")
    assert "乙村村民委员会" not in text
    assert client.get(reverse("plans:assessmententry_detail", args=[other.pk])).status_code == 404
    assert client.post(reverse("plans:assessmententry_self", args=[other.pk]), {}).status_code == 404

    url = reverse("plans:assessmententry_detail", args=[mine.pk])
    page = ok(client.get(url), "单位自评", f'name="self_{item.pk}"')
    assert 'id="cc-entry-review"' not in page
    self_url = reverse("plans:assessmententry_self", args=[mine.pk])
    response = client.post(self_url, {f"self_{item.pk}": "25", "self_comment": "完成改厕"})
    assert response.status_code == 400
    text = body(response)
    assert "须在0至20分之间" in text and 'value="25"' in text and "完成改厕" in text
    mine.refresh_from_db()
    assert mine.status == EntryStatus.PENDING

    response = client.post(self_url, {f"self_{item.pk}": "18.5", "self_comment": "完成改厕"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == EntryStatus.SELF_SUBMITTED and mine.self_comment == "完成改厕"
    ok(client.get(url), "自评 18.5", "完成改厕")
    # Reviewing is not theirs.
    review_url = reverse("plans:assessmententry_review", args=[mine.pk])
    assert client.post(review_url, {f"review_{item.pk}": "20"}).status_code == 403
    assert client.post(reverse("plans:assessment_publish", args=[assessment.pk])).status_code == 403


def test_review_publish_ranking_and_export(client: Client, setup: Setup, world: World) -> None:
    assessment = _open(client, setup, self_deadline="2026-01-31")
    mine = _entry(assessment, world.units["village_committee"])
    other = _entry(assessment, world.units["village_a2_committee"])
    item = _review_item(assessment)
    login(client, setup.village)
    client.post(reverse("plans:assessmententry_self", args=[mine.pk]), {f"self_{item.pk}": "18", "self_comment": ""})

    login(client, setup.reviewer)
    page = ok(client.get(reverse("plans:assessmententry_detail", args=[mine.pk])), "审核评分")
    assert f'name="review_{item.pk}" value="18"' in page  # the reviewer starts from the self-score
    response = client.post(reverse("plans:assessmententry_review", args=[mine.pk]), {f"review_{item.pk}": "abc"})
    assert response.status_code == 400 and "得分须为数字" in body(response) and 'value="abc"' in body(response)
    response = client.post(
        reverse("plans:assessmententry_review", args=[mine.pk]), {f"review_{item.pk}": "19", "review_comment": "好"}
    )
    assert response.status_code == 302

    response = client.post(reverse("plans:assessment_publish", args=[assessment.pk]), follow=True)
    assert "还有1个单位未审核" in body(response)
    # The self-assessment deadline has passed: the reviewer scores the silent unit directly.
    response = client.post(reverse("plans:assessmententry_review", args=[other.pk]), {f"review_{item.pk}": "10"})
    assert response.status_code == 302
    response = client.post(reverse("plans:assessment_publish", args=[assessment.pk]), follow=True)
    text = ok(response, "考核结果已公布", "考核排名", "甲村村民委员会", "乙村村民委员会")
    assert "暂定，按" not in text
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.PUBLISHED
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.rank, other.rank) == (1, 2) and mine.total is not None
    # Components: on-time 1/1 and 0/1, mean completion, indicators and rectifications not applicable.
    for hint in ("1/1", "0/1", "均值100%", "均值40%", "不适用", str(mine.total.normalize())):
        assert hint in text, hint

    # After publication a village sees the whole ranking.
    login(client, setup.village2)
    ok(client.get(reverse("plans:assessment_detail", args=[assessment.pk])), "甲村村民委员会", "考核排名")
    ok(client.get(reverse("plans:assessmententry_detail", args=[mine.pk])), "第1名")

    response = client.get(reverse("plans:assessment_export", args=[assessment.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    values = [cell for row in workbook.worksheets[0].iter_rows(values_only=True) for cell in row]
    assert "甲村村民委员会" in values and "乙村村民委员会" in values


def test_provisional_ranking_shows_components(client: Client, setup: Setup) -> None:
    assessment = _open(client, setup)
    text = ok(client.get(reverse("plans:assessment_detail", args=[assessment.pk])), "暂定得分", "1/1", "0/1")
    assert "均值40%" in text and 'id="cc-assessment-ranking"' in text
    response = client.get(reverse("plans:assessment_export", args=[assessment.pk]))
    assert response.status_code == 200
    load_workbook(io.BytesIO(response.content))


# --- Access ----------------------------------------------------------------------------------------


def test_residents_and_anonymous_are_refused(client: Client, world: World) -> None:
    assessment = world.extra["plans"]["assessment"]
    urls = [
        reverse("plans:assessment_list"),
        reverse("plans:assessment_detail", args=[assessment.pk]),
        reverse("plans:assessment_export", args=[assessment.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    login(client, world.user(Role.RESIDENT))
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(reverse("plans:assessment_publish", args=[assessment.pk])).status_code == 403


def test_out_of_scope_and_post_only_routes(client: Client, world: World) -> None:
    outside = world.extra["plans"]["outside_assessment"]
    outside_entry = world.extra["plans"]["outside_assessment_entry"]
    login(client, world.user(Role.ADMIN))
    for name in ("assessment_detail", "assessment_edit", "assessment_export", "assessment_history"):
        assert client.get(reverse(f"plans:{name}", args=[outside.pk])).status_code == 404, name
    assert client.get(reverse("plans:assessmententry_detail", args=[outside_entry.pk])).status_code == 404
    assert client.post(reverse("plans:assessment_publish", args=[outside.pk])).status_code == 404
    assessment = world.extra["plans"]["assessment"]
    for name in ("assessment_open", "assessment_publish"):
        assert client.get(reverse(f"plans:{name}", args=[assessment.pk])).status_code == 405
    entry = world.extra["plans"]["assessment_entry"]
    for name in ("assessmententry_self", "assessmententry_review"):
        assert client.get(reverse(f"plans:{name}", args=[entry.pk])).status_code == 405


def test_staff_without_assessor_role_cannot_create(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    text = ok(client.get(reverse("plans:assessment_list")), "2026年度考核")
    assert "新建考核" not in text
    assert client.get(reverse("plans:assessment_create")).status_code == 403


def test_history_page(client: Client, world: World) -> None:
    assessment = world.extra["plans"]["assessment"]
    ok(login(client, world.user(Role.TOWN_STAFF)).get(reverse("plans:assessment_history", args=[assessment.pk])))


def test_edit_keeps_the_period_once_opened(client: Client, setup: Setup) -> None:
    assessment = _open(client, setup)
    url = reverse("plans:assessment_edit", args=[assessment.pk])
    ok(client.get(url), assessment.title)
    data = {"title": "年度考核（修订）", "period_start": "2026-01-01", "period_end": "2026-12-31"}
    response = client.post(url, {**data, "period_start": "2026-02-01", "self_deadline": "2026-12-15"})
    assert response.status_code == 400
    assert "考核已启动，考核期间不能再修改" in body(response) and 'value="年度考核（修订）"' in body(response)
    response = client.post(url, {**data, "self_deadline": "2026-12-15"})
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert (assessment.title, assessment.self_deadline) == ("年度考核（修订）", date(2026, 12, 15))


def test_ranking_page_queries_do_not_grow_with_the_units(client: Client, setup: Setup, world: World) -> None:
    assessment = _open(client, setup)
    url = reverse("plans:assessment_detail", args=[assessment.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        ok(client.get(url), "乙村村民委员会")
    items = list(assessment.items.all())
    for n in range(4):
        unit = Unit.objects.create(name=f"新增单位{n}", kind=UnitKind.DEPARTMENT, region=world.regions["town_a"])
        entry = AssessmentEntry.objects.create(assessment=assessment, unit=unit, region=unit.region)
        AssessmentScore.objects.bulk_create([AssessmentScore(entry=entry, item=i) for i in items])
    with CaptureQueriesContext(connection) as many:
        ok(client.get(url), "新增单位3")
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
