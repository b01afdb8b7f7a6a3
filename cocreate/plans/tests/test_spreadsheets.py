"""Task tables in and out: xlsx import (all rows or none, every problem by row) and export."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Membership, Region, RegionLevel, Role, Unit, UnitKind, User
from cocreate.plans.models import (
    Comparator,
    Milestone,
    PersonRole,
    Phase,
    Plan,
    PlanStatus,
    QuotaPeriod,
    Target,
    TargetKind,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.spreadsheets import (
    CellError,
    ImportResult,
    parse_deadline,
    parse_targets,
    plan_export,
    plan_import,
    split_names,
    split_title,
)
from cocreate.plans.tests.fixtures.tables import (
    STREET_UNITS,
    row_of,
    street_campaign_rows,
    street_campaign_xlsx,
    xlsx,
)

pytestmark = pytest.mark.django_db

PLAN_START, PLAN_END = date(2026, 1, 1), date(2026, 12, 31)


def _street(world: World) -> dict[str, Unit]:
    """The street office's units of the seed campaign, placed in the world's town."""
    units = {
        name: Unit.objects.create(name=name, kind=UnitKind.GOVERNMENT, region=world.regions["town_a"])
        for name in STREET_UNITS
    }
    world.extra.setdefault("street", {}).update(units)
    return units


def _plan(world: World) -> Plan:
    plan: Plan = world.extra["plans"]["plan"]
    return plan


def _import(world: World, data: bytes, *, actor: Any = None, plan: Plan | None = None) -> ImportResult:
    return plan_import(
        actor=actor or world.user(Role.TOWN_STAFF), plan=plan or _plan(world), file=data, filename="任务.xlsx"
    )


def _messages(result: ImportResult) -> list[str]:
    return [str(e) for e in result.errors]


def _units(task: Task, role: str) -> set[str]:
    return {tu.unit.name for tu in task.task_units.filter(role=role).select_related("unit")}


# --- Acceptance --------------------------------------------------------------------------------------------


def test_seed_style_table_creates_the_tasks_with_their_units(world: World) -> None:
    _street(world)
    plan = _plan(world)
    before = set(Task.objects.filter(plan=plan).values_list("pk", flat=True))

    result = _import(world, street_campaign_xlsx())

    assert result.ok, _messages(result)
    assert [t.title for t in result.created_tasks] == [r[0] for r in street_campaign_rows()]
    created = Task.objects.filter(plan=plan, parent=None).exclude(pk__in=before)
    assert created.count() == 9
    clean = created.get(title="整治环境卫生")
    assert _units(clean, UnitRole.LEAD) == {"城市管理服务中心"}
    assert _units(clean, UnitRole.RESPONSIBLE) == {"社会事务办", "规建环办", "经发办"}
    assert clean.fans_out and clean.deadline == date(2026, 11, 15)
    # 各村（社区）: one child per village of the town, its committee responsible.
    children = {c.region.name: _units(c, UnitRole.RESPONSIBLE) for c in clean.children.select_related("region")}
    assert children == {"甲村": {"甲村村民委员会"}, "乙村": {"乙村村民委员会"}}
    volunteers = created.get(title="丰富志愿服务活动")
    assert _units(volunteers, UnitRole.LEAD) == {"党群办", "城市管理服务中心"}
    assert _units(volunteers, UnitRole.RESPONSIBLE) == set()
    quota = volunteers.targets.get()
    assert (quota.kind, quota.quota_period, quota.quota_count) == (TargetKind.QUOTA, QuotaPeriod.WEEK, 1)
    assert volunteers.children.count() == 2
    assert all(c.targets.get().quota_period == QuotaPeriod.WEEK for c in volunteers.children.all())
    rubbish = created.get(title="治理垃圾污染")
    assert rubbish.deadline == date(2026, 11, 30)  # 11月底 in the plan's year
    indicator = rubbish.targets.get()
    assert (indicator.name, indicator.comparator, indicator.value, indicator.unit_label) == (
        "生活垃圾回收利用率",
        Comparator.GTE,
        Decimal("35"),
        "%",
    )
    assert created.get(title="打造“最美”系列品牌").targets.get().quota_period == QuotaPeriod.YEAR
    assert created.get(title="推进坡坎崖滩绿化美化").deadline == date(2026, 11, 15)  # a date cell


def test_one_unknown_unit_imports_nothing_and_names_the_row_and_the_unit(world: World) -> None:
    _street(world)
    plan = _plan(world)
    tasks_before = Task.objects.count()
    units_before = TaskUnit.objects.count()
    data = street_campaign_xlsx(replace={("推进坡坎崖滩绿化美化", "responsible"): "规建办、经发办、各村（社区）"})

    result = _import(world, data)

    assert not result.ok
    row = row_of("推进坡坎崖滩绿化美化")
    assert [(e.row, e.column) for e in result.errors] == [(row, "责任单位")]
    assert "规建办" in result.errors[0].message
    assert str(result.errors[0]) == f"第{row}行 责任单位：未找到单位“规建办”，是否为：规建环办？"
    assert result.created_tasks == []
    assert Task.objects.count() == tasks_before
    assert TaskUnit.objects.count() == units_before
    assert not Task.objects.filter(plan=plan, title="擦亮坡坎崖滩底色").exists()


# --- Every problem, with its row ---------------------------------------------------------------------


def test_every_bad_row_is_listed_in_row_order(world: World) -> None:
    _street(world)
    data = street_campaign_xlsx(
        replace={
            ("整治环境卫生", "lead"): "城管中心",
            ("治理垃圾污染", "deadline"): "尽快",
            ("统筹绿地补缺提质", "deadline"): "2027-03-31",
            ("打造“最美”系列品牌", "lead"): "各村（社区）",
            ("探索坡坎崖滩建管方式", "responsible"): "无",
            ("探索坡坎崖滩建管方式", "lead"): "/",
        }
    )

    result = _import(world, data)

    assert [(e.row, e.column) for e in result.errors] == [
        (row_of("整治环境卫生"), "牵头单位"),
        (row_of("治理垃圾污染"), "完成时限"),
        (row_of("统筹绿地补缺提质"), "完成时限"),
        (row_of("探索坡坎崖滩建管方式"), "责任单位"),
        (row_of("打造“最美”系列品牌"), "牵头单位"),
    ]
    text = "\n".join(_messages(result))
    assert "未找到单位“城管中心”" in text
    assert "无法识别的完成时限“尽快”" in text
    assert "2027-03-31不在方案起止日期" in text
    assert "只能写在责任单位列" in text
    assert Task.objects.filter(plan=_plan(world), title="丰富志愿服务活动").count() == 0


def test_a_row_the_services_refuse_rolls_back_the_rows_already_written(world: World) -> None:
    """Validation passes, task_create writes row 2, then refuses row 3: row 2 must vanish too."""
    _street(world)
    # A village without a 村委会 unit: fanning out to it is refused by the services.
    Region.objects.create(code="990101001009", name="丙村", level=RegionLevel.VILLAGE, parent=world.regions["town_a"])
    data = xlsx(
        [
            ["序号", "任务", "牵头单位", "责任单位", "完成时限"],
            [1, "治理垃圾污染", "城市管理服务中心", "规建环办", "2026-06-30"],
            [2, "擦亮坡坎崖滩底色", "城市管理服务中心", "各村（社区）", "2026-06-30"],
        ]
    )
    before = Task.objects.count()

    result = _import(world, data)

    assert [(e.row, e.column) for e in result.errors] == [(3, "责任单位")]
    assert "丙村" in result.errors[0].message
    assert Task.objects.count() == before
    assert not Task.objects.filter(title="治理垃圾污染").exists()


def test_unknown_people_are_row_errors_and_known_ones_are_attached(world: World) -> None:
    _street(world)
    leader = world.user(Role.LEADER)  # display name 领导甲, member in the county above the town
    data = xlsx(
        [
            ["序号", "任务", "牵头单位", "责任领导", "责任人", "完成时限"],
            [1, "整治环境卫生", "城市管理服务中心", leader.display_name, "乡镇街道工作人员甲", "2026-06-30"],
            [2, "擦亮坡坎崖滩底色", "城市管理服务中心", "王五", None, "2026-06-30"],
        ]
    )
    result = _import(world, data)
    assert [(e.row, e.column) for e in result.errors] == [(3, "责任领导")]
    assert "未找到人员“王五”" in result.errors[0].message

    good = xlsx(
        [
            ["序号", "任务", "牵头单位", "责任领导", "责任人", "完成时限"],
            [1, "整治环境卫生", "城市管理服务中心", leader.display_name, "乡镇街道工作人员甲", "2026-06-30"],
        ]
    )
    result = _import(world, good)
    assert result.ok, _messages(result)
    task = result.created_tasks[0]
    people = {(tp.role, tp.user_id) for tp in TaskPerson.objects.filter(task=task)}
    assert people == {(PersonRole.LEADER, leader.pk), (PersonRole.RESPONSIBLE, world.user(Role.TOWN_STAFF).pk)}


def test_people_outside_the_plans_region_are_not_found(world: World) -> None:
    _street(world)
    outsider = world.users["outside_staff"]  # county B
    data = xlsx([["任务", "牵头单位", "责任人"], ["整治环境卫生", "城市管理服务中心", outsider.display_name]])
    result = _import(world, data)
    assert [e.column for e in result.errors] == ["责任人"]
    assert OUTSIDE_MARKER in result.errors[0].message  # the name as written, not a match


def test_two_people_of_one_name_need_a_qualifier(world: World) -> None:
    _street(world)
    twins = []
    for phone, unit in (("13811110001", "town_office"), ("13811110002", "village_committee")):
        user = User.objects.create_user(phone=phone, password="x", display_name="张伟")
        unit_obj = world.units[unit]
        Membership.objects.create(user=user, role=Role.TOWN_STAFF, region=unit_obj.region, unit=unit_obj)
        twins.append(user)
    # The town member is nearer the town's plan than the village member: no ambiguity.
    plain = _import(world, xlsx([["任务", "牵头单位", "责任人"], ["整治", "党群办", "张伟"]]))
    assert plain.ok, _messages(plain)
    assert TaskPerson.objects.get(task=plain.created_tasks[0]).user == twins[0]
    qualified = _import(world, xlsx([["任务", "牵头单位", "责任人"], ["整治", "党群办", "张伟（甲村村民委员会）"]]))
    assert qualified.ok, _messages(qualified)
    assert TaskPerson.objects.get(task=qualified.created_tasks[0]).user == twins[1]


# --- Layouts ----------------------------------------------------------------------------------------------


def test_header_on_row_one_in_any_column_order_with_blank_rows(world: World) -> None:
    _street(world)
    data = xlsx(
        [
            ["完成时限", "责任单位", "目标", "任务名称", "牵头单位", "序号", "配合单位", "指导单位"],
            [None] * 8,
            ["2026/3/31", "规建环办；经发办", "不低于35%", "整治环境卫生", "城市管理服务中心", 1, "党政办", None],
            [None] * 8,
            ["2026年6月", "各村(社区)", None, "擦亮坡坎崖滩底色", "城市管理服务中心", 2, None, "党群办"],
        ]
    )
    result = _import(world, data)
    assert result.ok, _messages(result)
    first, second = result.created_tasks
    assert (first.number, first.deadline) == ("1", date(2026, 3, 31))
    assert _units(first, UnitRole.RESPONSIBLE) == {"规建环办", "经发办"}
    assert _units(first, UnitRole.COOPERATING) == {"党政办"}
    assert first.targets.get().name == "整治环境卫生"  # "不低于35%" has no name of its own
    assert second.fans_out and second.deadline == date(2026, 6, 30)
    assert _units(second, UnitRole.GUIDING) == {"党群办"}


def test_row_numbers_count_blank_rows_and_a_title_row(world: World) -> None:
    _street(world)
    data = xlsx(
        [
            ["附件1：重点任务分工"],
            ["序号", "工作内容", "牵头部门", "责任部门"],
            [1, "整治环境卫生", "城市管理服务中心", "规建环办"],
            [None, None, None, None],
            [2, "擦亮坡坎崖滩底色", "城市管理服务中心", "规划办"],
        ]
    )
    result = _import(world, data)
    assert [(e.row, e.column) for e in result.errors] == [(5, "责任部门")]


def test_a_lone_title_is_a_task_without_units_but_a_numbered_heading_is_skipped(world: World) -> None:
    _street(world)
    data = xlsx(
        [
            ["序号", "任务", "牵头单位", "责任单位"],
            [None, "一、提升平面环境", None, None],
            [1, "整治环境卫生", "城市管理服务中心", "规建环办"],
            [None, "擦亮坡坎崖滩底色", None, None],
        ]
    )
    result = _import(world, data)
    assert [(e.row, e.column, e.message) for e in result.errors] == [(4, "责任单位", "请填写牵头单位或责任单位")]


def test_too_many_rows_is_a_file_error(world: World, monkeypatch: Any) -> None:
    from cocreate.plans import spreadsheets

    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 2)
    rows = [["任务", "牵头单位"]] + [[f"任务{i}", "党政办"] for i in range(3)]
    result = _import(world, xlsx(rows))
    assert [(e.row, e.message) for e in result.errors] == [(0, "任务行超过2行，请分成几个文件导入")]


def test_work_content_paragraph_gives_title_and_content(world: World) -> None:
    _street(world)
    paragraph = "1. 整治环境卫生。在街道全域范围内，以背街小巷、城乡结合部为重点，开展环境卫生整治。"
    data = xlsx([["工作内容", "牵头单位", "责任单位"], [paragraph, "城市管理服务中心", "各村（社区）"]])
    result = _import(world, data)
    assert result.ok, _messages(result)
    task = result.created_tasks[0]
    assert (task.number, task.title) == ("1", "整治环境卫生")
    assert task.content.startswith("在街道全域范围内")
    assert (task.starts_on, task.deadline) == (PLAN_START, PLAN_END)  # no 完成时限: the plan's dates


def test_unparsed_target_text_goes_into_the_content(world: World) -> None:
    _street(world)
    data = xlsx(
        [
            ["任务", "工作内容", "牵头单位", "目标"],
            ["治理垃圾污染", "推进生活垃圾分类", "城市管理服务中心", "垃圾处理率100%；群众满意"],
        ]
    )
    result = _import(world, data)
    assert result.ok, _messages(result)
    task = result.created_tasks[0]
    assert task.content == "推进生活垃圾分类\n目标：群众满意"
    assert [(t.name, t.value) for t in task.targets.all()] == [("垃圾处理率", Decimal("100"))]


def test_project_list_layout(world: World) -> None:
    """整治项目清单: 实施主体 is the responsible unit (a village's name means its committee)."""
    _street(world)
    data = xlsx(
        [
            ["整治项目清单"],
            ["序号", "项目", "实施主体", "建设规模", "资金来源", "完成时限"],
            [1, "背街小巷路面修复", "规建环办", "1200平方米", "街道财政", "2026年9月30日"],
            [2, "甲村垃圾分类亭", "甲村", "3座", "以奖代补", "10月底"],
        ],
        merges=["A1:F1"],
    )
    result = _import(world, data)
    assert result.ok, _messages(result)
    road, kiosk = result.created_tasks
    assert _units(road, UnitRole.RESPONSIBLE) == {"规建环办"}
    assert road.content == "建设规模：1200平方米\n资金来源：街道财政"
    assert road.deadline == date(2026, 9, 30)
    assert _units(kiosk, UnitRole.RESPONSIBLE) == {"甲村村民委员会"}
    assert kiosk.deadline == date(2026, 10, 31)


def test_merged_unit_cell_applies_to_every_row_it_spans(world: World) -> None:
    _street(world)
    data = xlsx(
        [
            ["序号", "任务", "牵头单位", "责任单位"],
            [1, "整治环境卫生", "城市管理服务中心", "规建环办"],
            [2, "擦亮坡坎崖滩底色", None, "经发办"],
            [3, "治理垃圾污染", None, "党政办"],
        ],
        merges=["C2:C4"],
    )
    result = _import(world, data)
    assert result.ok, _messages(result)
    assert [_units(t, UnitRole.LEAD) for t in result.created_tasks] == [{"城市管理服务中心"}] * 3


def test_phase_column_and_phase_headings(world: World) -> None:
    _street(world)
    plan = _plan(world)
    highlight = Phase.objects.create(plan=plan, name="亮点打造", starts_on=date(2026, 4, 1), ends_on=date(2026, 11, 15))
    data = xlsx(
        [
            ["序号", "任务", "牵头单位", "完成时限", "阶段"],
            ["（二）亮点打造阶段", None, None, None, None],
            [1, "系统排查", "城市管理服务中心", "2026-05-31", None],
            [2, "动员部署", "城市管理服务中心", "2026-01-14", "部署启动"],
            [3, "全面整治", "城市管理服务中心", "2026-06-30", "巩固"],
        ],
        merges=["A2:E2"],
    )
    result = _import(world, data)
    assert [(e.row, e.column) for e in result.errors] == [(5, "阶段")]
    fixed = xlsx(
        [
            ["序号", "任务", "牵头单位", "完成时限", "阶段"],
            ["（二）亮点打造阶段", None, None, None, None],
            [1, "系统排查", "城市管理服务中心", "2026-05-31", None],
            [2, "动员部署", "城市管理服务中心", "2026-01-14", "部署启动"],
        ],
        merges=["A2:E2"],
    )
    result = _import(world, fixed)
    assert result.ok, _messages(result)
    survey, kickoff = result.created_tasks
    assert (survey.phase, survey.starts_on) == (highlight, date(2026, 4, 1))
    assert kickoff.phase == world.extra["plans"]["phase"]


def test_milestones_from_the_deadline_column(world: World) -> None:
    _street(world)
    data = xlsx(
        [["任务", "牵头单位", "时间节点"], ["教共体建设", "党群办", "3月底完成40%，6月底60%，9月底80%，12月底100%"]]
    )
    result = _import(world, data)
    assert result.ok, _messages(result)
    task = result.created_tasks[0]
    assert task.deadline == date(2026, 12, 31)
    assert list(Milestone.objects.filter(task=task).values_list("due_on", "percent")) == [
        (date(2026, 3, 31), Decimal("40")),
        (date(2026, 6, 30), Decimal("60")),
        (date(2026, 9, 30), Decimal("80")),
        (date(2026, 12, 31), Decimal("100")),
    ]


# --- Unit matching -------------------------------------------------------------------------------------


def test_units_match_by_short_name_normalised_name_and_without_the_region_prefix(world: World) -> None:
    _street(world)
    Unit.objects.create(
        name="甲镇城市管理服务中心站", short_name="城管站", kind=UnitKind.GOVERNMENT, region=world.regions["town_a"]
    )
    Unit.objects.create(name="社会组织服务中心（甲镇）", kind=UnitKind.SOCIAL_ORG, region=world.regions["town_a"])
    data = xlsx(
        [
            ["任务", "牵头单位", "责任单位"],
            ["整治", "城管站", "社会组织服务中心(甲镇)、镇党政办"],
        ]
    )
    result = _import(world, data)
    assert result.errors and "镇党政办" in result.errors[0].message  # 甲镇党政办 minus 甲镇 is 党政办, a different unit
    data = xlsx([["任务", "牵头单位", "责任单位"], ["整治", "城管站", "社会组织服务中心 (甲镇)、甲镇党政办"]])
    result = _import(world, data)
    assert result.ok, _messages(result)
    task = result.created_tasks[0]
    assert _units(task, UnitRole.LEAD) == {"甲镇城市管理服务中心站"}
    assert _units(task, UnitRole.RESPONSIBLE) == {"社会组织服务中心（甲镇）", "甲镇党政办"}


def test_region_prefix_is_dropped_when_matching(world: World) -> None:
    """甲镇党政办 is found as 党政办 when no unit is named exactly 党政办."""
    data = xlsx([["任务", "牵头单位"], ["整治", "党政办"]])
    result = _import(world, data)
    assert result.ok, _messages(result)
    assert _units(result.created_tasks[0], UnitRole.LEAD) == {"甲镇党政办"}


def test_units_out_of_the_actors_sight_are_unknown(world: World) -> None:
    data = xlsx([["任务", "牵头单位"], ["整治", f"{OUTSIDE_MARKER}委员会"]])
    result = _import(world, data)
    assert [e.column for e in result.errors] == ["牵头单位"]
    assert "未找到单位" in result.errors[0].message


def test_the_same_name_in_two_places_at_the_same_distance_is_ambiguous(world: World) -> None:
    for region in ("village_a", "village_a2"):
        Unit.objects.create(name="网格服务站", kind=UnitKind.GOVERNMENT, region=world.regions[region])
    result = _import(world, xlsx([["任务", "责任单位"], ["整治", "网格服务站"]]))
    assert len(result.errors) == 1
    assert "对应多个" in result.errors[0].message
    assert "甲村" in result.errors[0].message and "乙村" in result.errors[0].message


# --- The file as a whole, and rights ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"not a zip", "任务.xlsx", "无法读取"),
        (b"a,b", "任务.csv", "只支持 xlsx"),
        (xlsx([["随便", "什么"], ["1", "2"]]), "任务.xlsx", "找不到表头"),
        (xlsx([["序号", "完成时限", "牵头单位"]]), "任务.xlsx", "缺少“任务”列"),
        (xlsx([["序号", "任务", "完成时限"]]), "任务.xlsx", "缺少“牵头单位”或“责任单位”列"),
        (xlsx([["序号", "任务", "牵头单位"]]), "任务.xlsx", "没有任务行"),
    ],
)
def test_unreadable_files_are_one_file_error(world: World, data: bytes, filename: str, reason: str) -> None:
    result = plan_import(actor=world.user(Role.TOWN_STAFF), plan=_plan(world), file=data, filename=filename)
    assert len(result.errors) == 1
    assert result.errors[0].row == 0 and reason in result.errors[0].message
    assert str(result.errors[0]).startswith("文件：")


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.VILLAGE_STAFF, Role.INSPECTOR, Role.GRID_WORKER])
def test_roles_that_may_not_add_tasks_are_refused_and_nothing_changes(world: World, role: str) -> None:
    _street(world)
    before = Task.objects.count()
    with pytest.raises(PermissionDenied):
        _import(world, street_campaign_xlsx(), actor=world.user(role))
    assert Task.objects.count() == before


def test_a_plan_in_another_county_is_refused(world: World) -> None:
    with pytest.raises(PermissionDenied):
        _import(world, street_campaign_xlsx(), plan=world.extra["plans"]["outside_plan"])


# --- Cell parsers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "deadline"),
    [
        ("2026-03-31", date(2026, 3, 31)),
        ("2026/3/31", date(2026, 3, 31)),
        ("2026.3.31", date(2026, 3, 31)),
        ("2026年3月31日", date(2026, 3, 31)),
        ("2026年3月31日前", date(2026, 3, 31)),
        ("3月底", date(2026, 3, 31)),
        ("2月底前", date(2026, 2, 28)),
        ("十二月底", date(2026, 12, 31)),
        ("6月15日", date(2026, 6, 15)),
        ("2026年6月", date(2026, 6, 30)),
        ("年底前", date(2026, 12, 31)),
        ("2026年底", date(2026, 12, 31)),
        ("上半年", date(2026, 6, 30)),
        ("第三季度", date(2026, 9, 30)),
        ("长期坚持", PLAN_END),
        ("2026年1月15日-2026年11月15日", date(2026, 11, 15)),
        (date(2026, 5, 4), date(2026, 5, 4)),
        (46000, date(2025, 12, 9)),  # an Excel serial number in a cell without a date format
    ],
)
def test_deadline_cells(cell: Any, deadline: date) -> None:
    parsed = parse_deadline(cell, starts_on=PLAN_START, ends_on=PLAN_END)
    assert parsed is not None and parsed.deadline == deadline


def test_a_month_before_the_plan_starts_falls_in_the_next_year() -> None:
    parsed = parse_deadline("3月底", starts_on=date(2025, 10, 1), ends_on=date(2026, 12, 31))
    assert parsed is not None and parsed.deadline == date(2026, 3, 31)


def test_a_window_sets_the_start() -> None:
    parsed = parse_deadline("2026年1月15日-2026年11月15日", starts_on=PLAN_START, ends_on=PLAN_END)
    assert parsed is not None and parsed.starts_on == date(2026, 1, 15)


@pytest.mark.parametrize("cell", ["尽快", "2026年2月30日", "xx"])
def test_bad_deadline_cells(cell: str) -> None:
    with pytest.raises(CellError):
        parse_deadline(cell, starts_on=PLAN_START, ends_on=PLAN_END)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("≥35%", [("indicator", "", "gte", "35", "%")]),
        ("不低于35%", [("indicator", "", "gte", "35", "%")]),
        ("100%", [("indicator", "", "gte", "100", "%")]),
        ("畜禽粪便综合利用率达到90%以上", [("indicator", "畜禽粪便综合利用率", "gte", "90", "%")]),
        ("PM2.5浓度不超过35", [("indicator", "PM2.5浓度", "lte", "35", "")]),
        (
            "绿化覆盖率35%，供水普及率100%",
            [("indicator", "绿化覆盖率", "gte", "35", "%"), ("indicator", "供水普及率", "gte", "100", "%")],
        ),
        ("每周至少开展一次", [("quota", "", "week", 1)]),
        ("每年不少于1次", [("quota", "", "year", 1)]),
        ("每月召开两次例会", [("quota", "例会", "month", 2)]),
        ("每季度至少3场", [("quota", "", "quarter", 3)]),
        ("志愿服务累计不少于12次", [("quota", "志愿服务", "total", 12)]),
    ],
)
def test_target_cells(cell: str, expected: list[tuple[Any, ...]]) -> None:
    drafts, leftover = parse_targets(cell)
    assert leftover == []
    got: list[tuple[Any, ...]] = []
    for d in drafts:
        if d.kind == TargetKind.QUOTA:
            got.append((d.kind, d.name, d.quota_period, d.quota_count))
        else:
            got.append((d.kind, d.name, d.comparator, str(d.value), d.unit_label))
    assert got == expected


def test_target_text_that_is_no_target_is_left_over() -> None:
    assert parse_targets("群众满意度明显提升；完成3个小区改造") == ([], ["群众满意度明显提升", "完成3个小区改造"])


def test_unit_cells_split_on_every_separator() -> None:
    assert split_names("社会事务办、规建环办，经发办,党政办；党群办;社区事务服务中心\n各村（社区）等") == [
        "社会事务办",
        "规建环办",
        "经发办",
        "党政办",
        "党群办",
        "社区事务服务中心",
        "各村（社区）",
    ]
    assert split_names("/") == [] and split_names("无") == [] and split_names(None) == []


def test_title_split() -> None:
    assert split_title("3. 完善夜间照明功能。加强对城市照明设施巡查维护。") == (
        "3",
        "完善夜间照明功能",
        "加强对城市照明设施巡查维护。",
    )
    assert split_title("5G基站建设") == ("", "5G基站建设", "")


# --- Export ----------------------------------------------------------------------------------------------


def _sheet_rows(data: bytes, index: int = 0) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data))
    return [tuple(r) for r in book.worksheets[index].iter_rows(values_only=True)]


def test_export_has_the_import_layout_with_progress_and_lights(world: World) -> None:
    _street(world)
    imported = _import(world, street_campaign_xlsx())
    assert imported.ok
    plan = _plan(world)

    data = plan_export(user=world.user(Role.TOWN_STAFF), plan=plan, today=date(2026, 6, 1))

    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["任务清单", "分村进度"]
    sheet = book["任务清单"]
    header = [c.value for c in sheet[1]]
    for column in ("序号", "任务", "牵头单位", "责任单位", "配合单位", "指导单位", "责任领导", "完成时限", "目标"):
        assert column in header
    assert header[-2:] == ["进度", "亮灯"]
    assert sheet["A1"].font.b and sheet["A1"].fill.fgColor.rgb.endswith("DDEBF7")
    assert sheet.column_dimensions["B"].width == 28
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    clean = rows["整治环境卫生"]
    assert clean["牵头单位"] == "城市管理服务中心"
    assert clean["责任单位"] == "社会事务办、规建环办、经发办、各村（社区）"
    assert rows["丰富志愿服务活动"]["目标"] == "丰富志愿服务活动每周不少于1次"
    assert rows["治理垃圾污染"]["目标"] == "生活垃圾回收利用率≥35%"
    # The world's own task has a village at 20 % on 1 June of a year-long task: behind, so red or yellow.
    assert rows["整治环境卫生"]["亮灯"] in {"红灯", "黄灯", "绿灯"}
    assert rows["整治环境卫生"]["进度"] == 0
    villages = _sheet_rows(data, 1)
    assert villages[0][:4] == ("序号", "任务", "村（社区）", "责任单位")
    assert ("整治环境卫生", "甲村", "甲村村民委员会") in {(r[1], r[2], r[3]) for r in villages[1:]}


def test_export_lights_follow_the_status_module(world: World) -> None:
    from cocreate.plans.status import task_light

    plan = _plan(world)
    today = date(2026, 6, 1)
    data = plan_export(user=world.user(Role.TOWN_STAFF), plan=plan, today=today)
    rows = _sheet_rows(data, 1)
    child = world.extra["plans"]["child_task"]
    (row,) = [r for r in rows[1:] if r[2] == child.region.name]
    status = task_light(child, today)
    assert row[5] == pytest.approx(float(child.progress) / 100)
    assert row[6] == status.label and row[7] == status.reason


def test_export_round_trips_through_the_import(world: World) -> None:
    _street(world)
    plan = _plan(world)
    Phase.objects.filter(plan=plan).update(name="部署启动")
    leader = world.user(Role.LEADER)
    source = xlsx(
        [
            ["序号", "任务", "工作内容", "牵头单位", "责任单位", "配合单位", "责任领导", "时间节点", "目标", "阶段"],
            [
                1,
                "教共体建设",
                "组建教共体",
                "党群办",
                "规建环办",
                "经发办",
                leader.display_name,
                "3月底40%，6月底60%，12月底100%",
                "每月开展一次；覆盖率≥90%",
                "部署启动",
            ],
            [
                2,
                "整治环境卫生",
                None,
                "城市管理服务中心",
                "社会事务办、各村（社区）",
                None,
                None,
                "2026-11-15",
                None,
                None,
            ],
        ]
    )
    first = _import(world, source)
    assert first.ok, _messages(first)
    copy = Plan.objects.create(
        title="副本",
        issuing_unit=plan.issuing_unit,
        region=plan.region,
        starts_on=PLAN_START,
        ends_on=PLAN_END,
        status=PlanStatus.ACTIVE,
    )
    Phase.objects.create(plan=copy, name="部署启动", starts_on=PLAN_START, ends_on=date(2026, 3, 31))
    exported = plan_export(user=world.user(Role.TOWN_STAFF), plan=plan)

    again = _import(world, exported, plan=copy)

    assert again.ok, _messages(again)

    def shape(task: Task) -> tuple[Any, ...]:
        return (
            task.number,
            task.title,
            task.content,
            task.phase.name if task.phase else None,
            task.deadline,
            task.fans_out,
            sorted((tu.role, tu.unit.name) for tu in task.task_units.select_related("unit")),
            sorted((tp.role, tp.user_id) for tp in task.task_people.all()),
            sorted(
                (t.kind, t.name, t.quota_period, t.quota_count, t.comparator, t.value, t.unit_label)
                for t in task.targets.all()
            ),
            list(task.milestones.values_list("due_on", "percent")),
            task.children.count(),
        )

    originals = {t.title: shape(t) for t in Task.objects.filter(plan=plan, parent=None)}
    copies = {t.title: shape(t) for t in Task.objects.filter(plan=copy, parent=None)}
    assert copies == originals


def test_village_staff_export_shows_their_own_child_tasks_only(world: World) -> None:
    plan = _plan(world)
    data = plan_export(user=world.user(Role.VILLAGE_STAFF), plan=plan)
    rows = _sheet_rows(data)
    assert len(rows) == 2  # header + the village's own task
    assert rows[1][1] == "整治环境卫生"
    assert OUTSIDE_MARKER not in repr(rows)


def test_export_of_a_plan_out_of_sight_is_refused(world: World) -> None:
    with pytest.raises(PermissionDenied):
        plan_export(user=world.user(Role.TOWN_STAFF), plan=world.extra["plans"]["outside_plan"])


def test_export_query_count_does_not_grow_with_tasks(world: World, django_assert_max_num_queries: Any) -> None:
    _street(world)
    assert _import(world, street_campaign_xlsx()).ok
    user = world.user(Role.TOWN_STAFF)
    plan_export(user=user, plan=_plan(world))  # warms the scope cache
    with django_assert_max_num_queries(10):
        plan_export(user=user, plan=_plan(world))


# --- Commands ---------------------------------------------------------------------------------------------


def test_import_command_into_an_existing_plan(world: World, tmp_path: Path) -> None:
    _street(world)
    path = tmp_path / "任务.xlsx"
    path.write_bytes(street_campaign_xlsx())
    out = io.StringIO()
    call_command(
        "import_plan",
        str(path),
        "--region",
        "990101001",
        "--plan",
        str(_plan(world).pk),
        "--as",
        world.user(Role.TOWN_STAFF).phone,
        stdout=out,
    )
    assert "imported 9 task(s), 18 village task(s)" in out.getvalue()


def test_import_command_creates_a_plan_and_exits_non_zero_listing_every_error(world: World, tmp_path: Path) -> None:
    _street(world)
    path = tmp_path / "任务.xlsx"
    path.write_bytes(
        street_campaign_xlsx(replace={("整治环境卫生", "responsible"): "规建办", ("治理垃圾污染", "deadline"): "尽快"})
    )
    plans_before = Plan.objects.count()
    err = io.StringIO()
    args = [
        str(path),
        "--region",
        "990101001",
        "--title",
        "山城美丽家园",
        "--unit",
        "党政办",
        "--starts",
        "2026-01-01",
        "--ends",
        "2026-12-31",
    ]
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_plan", *args, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines == [
        f"第{row_of('整治环境卫生')}行 责任单位：未找到单位“规建办”，是否为：规建环办？",
        f"第{row_of('治理垃圾污染')}行 完成时限：无法识别的完成时限“尽快”"
        "（可写作 2026-03-31、2026年3月31日、3月底、年底）",
    ]
    assert Plan.objects.count() == plans_before  # the new plan went with the failed import

    path.write_bytes(street_campaign_xlsx())
    out = io.StringIO()
    call_command("import_plan", *args, stdout=out)
    plan = Plan.objects.get(title="山城美丽家园")
    assert plan.issuing_unit.name == "党政办" and plan.region.code == "990101001"
    assert plan.tasks.filter(parent=None).count() == 9


def test_import_command_exit_code_from_the_shell(world: World, tmp_path: Path) -> None:
    """``manage.py`` turns CommandError into exit status 1."""
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx([["任务", "牵头单位"], ["整治", "无此单位"]]))
    with pytest.raises(SystemExit) as exit_info:
        from django.core.management import execute_from_command_line

        execute_from_command_line(
            ["manage.py", "import_plan", str(path), "--region", "990101001", "--plan", str(_plan(world).pk)]
        )
    assert exit_info.value.code == 1


def test_export_command_writes_the_file(world: World, tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    call_command("export_plan", str(_plan(world).pk), str(out), stdout=io.StringIO())
    assert _sheet_rows(out.read_bytes())[1][1] == "整治环境卫生"
    with pytest.raises(CommandError):
        call_command("export_plan", "999999", str(out), stdout=io.StringIO())


def test_targets_are_stored_as_the_services_define_them(world: World) -> None:
    """A quota's fields and an indicator's fields never mix (the model's check constraint holds)."""
    _street(world)
    data = xlsx([["任务", "牵头单位", "目标"], ["志愿服务", "党群办", "每周至少开展一次，参与率≥80%"]])
    result = _import(world, data)
    assert result.ok, _messages(result)
    kinds = sorted(Target.objects.filter(task=result.created_tasks[0]).values_list("kind", "quota_count", "value"))
    assert kinds == [(TargetKind.INDICATOR, None, Decimal("80.00")), (TargetKind.QUOTA, 1, None)]


# --- The bulk writer and task_create ---------------------------------------------------------------------


def _record(task: Task) -> tuple[Any, ...]:
    """Everything task_create writes for a task, without ids that differ between two writes."""
    return (
        task.region_id,
        task.phase.name if task.phase else None,
        task.number,
        task.title,
        task.content,
        task.starts_on,
        task.deadline,
        task.fans_out,
        task.progress,
        task.completed_on,
        sorted((tu.role, tu.unit_id, tu.order) for tu in task.task_units.all()),
        sorted((tp.role, tp.user_id) for tp in task.task_people.all()),
        sorted(
            (t.kind, t.name, t.quota_count, t.quota_period, t.comparator, t.value, t.unit_label)
            for t in task.targets.all()
        ),
        sorted(task.milestones.values_list("due_on", "percent")),
        list(task.history.values_list("history_type", "title")),
        sorted(t.history.count() for t in task.targets.all()),
        sorted(_record(child) for child in task.children.all()),
    )


def test_import_writes_what_task_create_writes(world: World) -> None:
    """The import inserts in bulk for speed; the records must be those task_create would write."""
    from cocreate.plans.services import TargetSpec, task_create

    units = _street(world)
    actor = world.user(Role.TOWN_STAFF)
    leader = world.user(Role.LEADER)
    plan = _plan(world)
    twin = Plan.objects.create(
        title="对照",
        issuing_unit=plan.issuing_unit,
        region=plan.region,
        starts_on=PLAN_START,
        ends_on=PLAN_END,
        status=PlanStatus.ACTIVE,
    )
    phase = Phase.objects.create(plan=twin, name="部署启动", starts_on=PLAN_START, ends_on=date(2026, 3, 31))
    data = xlsx(
        [
            ["序号", "任务", "工作内容", "牵头单位", "责任单位", "配合单位", "责任领导", "时间节点", "目标", "阶段"],
            [
                "1",
                "整治环境卫生",
                "背街小巷",
                "党群办、城市管理服务中心",
                "规建环办、各村（社区）",
                "经发办",
                leader.display_name,
                "3月底完成40%，12月底100%",
                "每周至少开展一次；覆盖率≥90%",
                "部署启动",
            ],
            ["2", "完善夜间照明", None, "城市管理服务中心", "规建环办", None, None, "2026-06-30", None, None],
        ]
    )
    result = _import(world, data)
    assert result.ok, _messages(result)

    expected = [
        task_create(
            actor=actor,
            plan=twin,
            title="整治环境卫生",
            starts_on=PLAN_START,
            deadline=PLAN_END,
            number="1",
            content="背街小巷",
            phase=phase,
            units={
                UnitRole.LEAD: [units["党群办"], units["城市管理服务中心"]],
                UnitRole.RESPONSIBLE: [units["规建环办"]],
                UnitRole.COOPERATING: [units["经发办"]],
            },
            people={PersonRole.LEADER: [leader]},
            fan_out=True,
            targets=[
                TargetSpec(kind=TargetKind.QUOTA, name="整治环境卫生", quota_count=1, quota_period=QuotaPeriod.WEEK),
                TargetSpec(
                    kind=TargetKind.INDICATOR,
                    name="覆盖率",
                    comparator=Comparator.GTE,
                    value=Decimal(90),
                    unit_label="%",
                ),
            ],
            milestones=[(date(2026, 3, 31), Decimal(40)), (date(2026, 12, 31), Decimal(100))],
        ),
        task_create(
            actor=actor,
            plan=twin,
            title="完善夜间照明",
            starts_on=PLAN_START,
            deadline=date(2026, 6, 30),
            number="2",
            units={UnitRole.LEAD: [units["城市管理服务中心"]], UnitRole.RESPONSIBLE: [units["规建环办"]]},
        ),
    ]
    imported = [Task.objects.get(pk=t.pk) for t in result.created_tasks]
    assert [_record(t) for t in imported] == [_record(Task.objects.get(pk=t.pk)) for t in expected]
    assert imported[0].children.count() == 2
