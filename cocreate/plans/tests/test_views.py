"""Pages of the plans app: scope, roles, forms, reports changing the light, import, query counts."""

from __future__ import annotations

import html
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook
from PIL import Image

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Attachment, Region, RegionLevel, Role, Unit, UnitKind
from cocreate.core.tests.pages import assert_in_scope as ok
from cocreate.core.tests.pages import body, login
from cocreate.plans import services
from cocreate.plans.models import Plan, ProgressReport, ReportStatus, Task, TaskUnit, UnitRole
from cocreate.plans.status import Light, task_light

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["plans"][key]


def light_of(task: Task) -> str:
    task.refresh_from_db()
    return str(task_light(task, timezone.localdate()).light)


# --- Lists and access ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.DEPT_STAFF, Role.ADMIN])
def test_plan_list_shows_the_scope(client: Client, world: World, role: str) -> None:
    ok(login(client, world.user(role)).get(reverse("plans:plan_list")), "甲镇人居环境整治方案")


def test_plan_list_search_status_and_empty_state(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    ok(client.get(reverse("plans:plan_list"), {"q": "人居环境"}), "甲镇人居环境整治方案")
    text = ok(client.get(reverse("plans:plan_list"), {"q": "不存在的方案"}))
    assert "没有符合条件的工作方案" in text
    text = ok(client.get(reverse("plans:plan_list"), {"status": "closed"}))
    assert "甲镇人居环境整治方案" not in text


def test_plan_list_refuses_residents_and_anonymous(client: Client, world: World) -> None:
    response = client.get(reverse("plans:plan_list"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert login(client, world.user(Role.RESIDENT)).get(reverse("plans:plan_list")).status_code == 403


@pytest.mark.parametrize(
    "url_name", ["plans:plan_detail", "plans:plan_edit", "plans:plan_history", "plans:plan_export"]
)
def test_out_of_scope_plan_is_404(client: Client, world: World, url_name: str) -> None:
    login(client, world.user(Role.ADMIN))
    assert client.get(reverse(url_name, args=[rec(world, "outside_plan").pk])).status_code == 404


@pytest.mark.parametrize("url_name", ["plans:task_detail", "plans:task_history", "plans:task_report"])
def test_out_of_scope_task_is_404(client: Client, world: World, url_name: str) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    assert client.get(reverse(url_name, args=[rec(world, "outside_task").pk])).status_code == 404


def with_village_rows(client: Client, url: str, params: dict[str, Any] | None = None) -> str:
    """The plan page followed by the village rows its toggles load on demand (as htmx asks for them)."""
    text = ok(client.get(url, params or {}))
    for link in re.findall(r'class="btn btn-link btn-sm p-0 cc-toggle" href="[^"]*" hx-get="([^"]+)"', text):
        text += ok(client.get(html.unescape(link), HTTP_HX_REQUEST="true"))
    return text


def test_plan_page_counts_village_rows_by_light_and_loads_them_on_demand(client: Client, world: World) -> None:
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    text = ok(client.get(reverse("plans:plan_detail", args=[rec(world, "plan").pk])), "部署启动")
    # The parent's row offers its one village row, loaded on demand: it is not on the page itself.
    children_url = reverse("plans:task_children", args=[parent.pk])
    assert f'hx-get="{children_url}"' in text and f'data-task="{parent.pk}"' in text
    assert f'data-task="{child.pk}"' not in text
    parent_row = text[
        text.index(f'data-task="{parent.pk}"') : text.index("</tr>", text.index(f'data-task="{parent.pk}"'))
    ]
    assert "各村（社区）1 项" in parent_row
    # Beside it, its village rows counted by light: the one child, in its own light.
    child_counts = parent_row[
        parent_row.index("cc-child-counts") : parent_row.index("</div>", parent_row.index("cc-child-counts"))
    ]
    assert re.findall(r'data-light="([a-z_]+)"[^>]*>[^<]*</span>\s*(\d+)<', child_counts) == [(light_of(child), "1")]
    # Each task carries its light as a coloured badge.
    assert 'class="badge cc-light' in text
    # The counts take the tasks that carry work: the child, not its fanned-out parent as well.
    counts = text[text.index('id="cc-light-counts"') : text.index("</div>", text.index('id="cc-light-counts"'))]
    numbers = [int(n) for n in re.findall(r'<span class="text-body">(\d+)</span>', counts)]
    assert sum(numbers) == 1
    assert re.search(rf'data-light="{light_of(child)}"[^>]*>[^<]*</span>\s*<span class="text-body">1<', counts)
    # htmx gets the rows alone, marked as the parent's (plans.js hides and shows them).
    fragment = ok(client.get(children_url, HTTP_HX_REQUEST="true"), "甲村")
    assert "<html" not in fragment
    assert f'<tr class="cc-child-row" data-child-of="{parent.pk}" data-task="{child.pk}">' in fragment
    assert f'data-light="{light_of(child)}"' in fragment
    # Without scripts the toggle is a link, and the same address answers with a whole page.
    assert f'href="{children_url}"' in text
    page = ok(client.get(children_url), "甲村", rec(world, "plan").title)
    assert "<html" in page and f'data-task="{child.pk}"' in page


def test_village_rows_are_paginated(client: Client, world: World, settings: Any) -> None:
    settings.PAGE_SIZE = 1
    parent = rec(world, "parent_task")
    second = Task.objects.create(
        plan=parent.plan,
        parent=parent,
        region=world.regions["village_a2"],
        title=parent.title,
        starts_on=parent.starts_on,
        deadline=parent.deadline,
    )
    login(client, world.user(Role.TOWN_STAFF))
    url = reverse("plans:task_children", args=[parent.pk])
    first = ok(client.get(url, HTTP_HX_REQUEST="true"))
    assert f'data-task="{rec(world, "child_task").pk}"' in first and f'data-task="{second.pk}"' not in first
    more = re.search(
        r'<tr class="cc-child-row cc-more" data-child-of="\d+"><td colspan="7"><a [^>]*hx-get="([^"]+)"', first
    )
    assert more is not None and "更多（已显示 1 / 2 项）" in first
    rest = ok(client.get(html.unescape(more.group(1)), HTTP_HX_REQUEST="true"))
    assert f'data-task="{second.pk}"' in rest and "cc-more" not in rest


def test_village_staff_sees_only_its_child_task_on_the_plan_page(client: Client, world: World) -> None:
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    login(client, world.user(Role.VILLAGE_STAFF))
    text = ok(client.get(reverse("plans:plan_detail", args=[parent.plan_id])))
    # The parent lies outside the village's scope: its child stands on its own, and the
    # parent's village rows cannot be asked for.
    assert f'data-task="{child.pk}"' in text
    assert f'data-task="{parent.pk}"' not in text
    assert client.get(reverse("plans:task_children", args=[parent.pk]), HTTP_HX_REQUEST="true").status_code == 404


def test_plan_page_filters_by_light_unit_and_phase(client: Client, world: World) -> None:
    plan, child = rec(world, "plan"), rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    url = reverse("plans:plan_detail", args=[plan.pk])
    current = light_of(child)
    other = Light.GREEN if current != Light.GREEN else Light.YELLOW
    assert f'data-task="{child.pk}"' in with_village_rows(client, url, {"light": current})
    text = with_village_rows(client, url, {"light": other})
    assert f'data-task="{child.pk}"' not in text and "没有符合筛选条件的任务" in text
    text = with_village_rows(client, url, {"unit": world.units["village_committee"].pk})
    assert f'data-task="{child.pk}"' in text
    text = with_village_rows(client, url, {"unit": world.units["school"].pk})
    assert f'data-task="{child.pk}"' not in text
    assert f'data-task="{child.pk}"' in with_village_rows(client, url, {"phase": rec(world, "phase").pk})
    # The village rows loaded under a parent keep the page's filters.
    parent = rec(world, "parent_task")
    children_url = reverse("plans:task_children", args=[parent.pk])
    assert f'data-task="{child.pk}"' not in ok(client.get(children_url, {"light": other}, HTTP_HX_REQUEST="true"))
    assert f'data-task="{child.pk}"' in ok(client.get(children_url, {"light": current}, HTTP_HX_REQUEST="true"))


def test_light_filter_shows_a_village_row_whose_parent_has_another_light(client: Client, world: World) -> None:
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    Task.objects.filter(pk=child.pk).update(progress=100)
    login(client, world.user(Role.TOWN_STAFF))
    assert light_of(parent) != Light.DONE
    text = ok(client.get(reverse("plans:plan_detail", args=[parent.plan_id]), {"light": Light.DONE}))
    # The finished village task stands on its own row (with its village named), its parent is not shown.
    assert f'data-task="{child.pk}"' in text and f'data-task="{parent.pk}"' not in text
    assert "甲村" in text[text.index(f'data-task="{child.pk}"') :]


def _child_counts(text: str, parent: Task) -> list[tuple[str, str]]:
    start = text.index("cc-child-counts", text.index(f'<tr data-task="{parent.pk}"'))
    return re.findall(r'data-light="([a-z_]+)"[^>]*>[^<]*</span>\s*(\d+)<', text[start : text.index("</div>", start)])


def test_cached_plan_page_and_dashboard_show_a_report_at_once(client: Client, world: World, settings: Any) -> None:
    settings.TESTING = False  # cache the figures and the rendered rows as in production
    cache.clear()
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    committee = world.units["village_committee"]
    login(client, world.user(Role.TOWN_STAFF))
    plan_url = reverse("plans:plan_detail", args=[parent.plan_id])
    dashboard_url = reverse("plans:dashboard") + f"?region={world.regions['town_a'].pk}"
    before = light_of(child)
    assert before != Light.DONE
    for _ in range(2):  # computed, then from the cache
        assert _child_counts(ok(client.get(plan_url)), parent) == [(before, "1")]
        dashboard = ok(client.get(dashboard_url))
        assert re.search(rf'<tr data-unit="{committee.pk}">.*?data-light="done">·<', dashboard, re.S)
    with_unit = ok(client.get(plan_url, {"unit": committee.pk}))
    assert f'<option value="{committee.pk}" selected>' in with_unit
    assert f'<option value="{committee.pk}">' in ok(client.get(plan_url))
    services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF), task=child, unit=committee, kind="percent", percent=Decimal(100)
    )
    assert _child_counts(ok(client.get(plan_url)), parent) == [(Light.DONE, "1")]
    dashboard = ok(client.get(dashboard_url))
    assert re.search(rf'<tr data-unit="{committee.pk}">.*?data-light="done">1<', dashboard, re.S)
    assert f'data-light="{Light.DONE}"' in ok(client.get(reverse("plans:task_children", args=[parent.pk])))


# --- Plans, phases and tasks through the forms -------------------------------------------------------


def _plan_form(world: World, **extra: Any) -> dict[str, Any]:
    data = {
        "title": "甲镇美好环境共同缔造方案",
        "doc_number": "甲镇发〔2026〕9号",
        "issuing_unit": world.units["town_office"].pk,
        "region": world.regions["town_a"].pk,
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "status": "active",
        "summary": "",
    }
    data.update(extra)
    return data


def test_town_staff_creates_a_plan(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    response = client.post(reverse("plans:plan_create"), _plan_form(world))
    plan = Plan.objects.get(title="甲镇美好环境共同缔造方案")
    assert response.status_code == 302 and response["Location"] == reverse("plans:plan_detail", args=[plan.pk])
    assert plan.created_by == world.user(Role.TOWN_STAFF)


def test_plan_form_reshows_input_with_the_reason(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    response = client.post(reverse("plans:plan_create"), _plan_form(world, ends_on="2025-01-01"))
    assert response.status_code == 400
    assert "甲镇美好环境共同缔造方案" in body(response)
    assert "结束日期不能早于开始日期" in body(response)
    assert not Plan.objects.filter(title="甲镇美好环境共同缔造方案").exists()


def test_plan_form_refuses_an_outside_region(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    response = client.post(reverse("plans:plan_create"), _plan_form(world, region=world.regions["town_b"].pk))
    assert response.status_code == 400
    assert not Plan.objects.filter(title="甲镇美好环境共同缔造方案").exists()


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.INSPECTOR, Role.GRID_WORKER])
def test_plan_create_is_refused_to_non_managers(client: Client, world: World, role: str) -> None:
    login(client, world.user(role))
    assert client.get(reverse("plans:plan_create")).status_code == 403
    assert client.post(reverse("plans:plan_create"), _plan_form(world)).status_code == 403
    assert not Plan.objects.filter(title="甲镇美好环境共同缔造方案").exists()


def test_village_staff_cannot_edit_or_extend_the_town_plan(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.VILLAGE_STAFF))
    for name in ("plans:plan_edit", "plans:plan_phase_add", "plans:plan_task_create", "plans:plan_tasks_import"):
        assert client.get(reverse(name, args=[plan.pk])).status_code == 404, name
    response = client.post(reverse("plans:plan_edit", args=[plan.pk]), _plan_form(world, title="改名"))
    assert response.status_code == 404
    plan.refresh_from_db()
    assert plan.title == "甲镇人居环境整治方案"


def test_town_staff_edits_thresholds_and_adds_a_phase(client: Client, world: World) -> None:
    plan = rec(world, "plan")  # made without a creator, like an imported or demo plan
    login(client, world.user(Role.TOWN_STAFF))
    data = _plan_form(
        world,
        title=plan.title,
        yellow_after_points=5,
        red_after_points=20,
        blue_within_days=10,
        remind_days_before=3,
        escalate_after_days=3,
    )
    response = client.post(reverse("plans:plan_edit", args=[plan.pk]), data)
    assert response.status_code == 302, re.findall(
        r"invalid-feedback[^>]*>([^<]*)<|alert-danger[^>]*>(.*?)</div>", body(response)
    )
    plan.refresh_from_db()
    assert (plan.yellow_after_points, plan.red_after_points, plan.blue_within_days) == (5, 20, 10)
    response = client.post(
        reverse("plans:plan_phase_add", args=[plan.pk]),
        {"name": "亮点打造", "starts_on": "2026-04-01", "ends_on": "2026-09-30", "order": 2},
    )
    assert response.status_code == 302
    assert plan.phases.filter(name="亮点打造").exists()
    response = client.post(
        reverse("plans:plan_phase_add", args=[plan.pk]),
        {"name": "超出", "starts_on": "2026-04-01", "ends_on": "2027-09-30"},
    )
    assert response.status_code == 400 and "阶段日期必须在方案起止日期之内" in body(response)


def _formset(prefix: str, rows: list[dict[str, Any]], extra: int) -> dict[str, Any]:
    data: dict[str, Any] = {f"{prefix}-TOTAL_FORMS": len(rows) + extra, f"{prefix}-INITIAL_FORMS": 0}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def _task_form(world: World, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": "2",
        "title": "每周开展志愿服务活动",
        "content": "各村组织志愿者清理公共空间",
        "starts_on": "2026-01-01",
        "deadline": "2026-12-31",
        "lead_units": [world.units["town_office"].pk],
        "responsible_units": [world.units["village_committee"].pk, world.units["village_a2_committee"].pk],
        "leaders": [world.user(Role.TOWN_STAFF).pk],
    }
    data.update(
        _formset("targets", [{"kind": "quota", "name": "志愿服务活动", "quota_count": 1, "quota_period": "week"}], 1)
    )
    data.update(_formset("milestones", [{"due_on": "2026-06-30", "percent": "50"}], 1))
    data.update(extra)
    return data


def test_town_staff_adds_a_task_with_matrix_targets_and_milestones(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    assert ok(client.get(reverse("plans:plan_task_create", args=[plan.pk])), "牵头单位", "甲村村民委员会")
    response = client.post(reverse("plans:plan_task_create", args=[plan.pk]), _task_form(world))
    assert response.status_code == 302, re.findall(
        r"invalid-feedback[^>]*>([^<]*)<|alert-danger[^>]*>(.*?)</div>", body(response)
    )
    task = Task.objects.get(title="每周开展志愿服务活动")
    assert response.status_code == 302 and response["Location"] == reverse("plans:task_detail", args=[task.pk])
    roles = set(task.task_units.values_list("unit__name", "role"))
    assert roles == {
        ("甲镇党政办", UnitRole.LEAD),
        ("甲村村民委员会", UnitRole.RESPONSIBLE),
        ("乙村村民委员会", UnitRole.RESPONSIBLE),
    }
    assert list(task.targets.values_list("name", "quota_count", "quota_period")) == [("志愿服务活动", 1, "week")]
    assert list(task.milestones.values_list("due_on", "percent")) == [(date(2026, 6, 30), Decimal("50.00"))]
    assert task.task_people.get().user == world.user(Role.TOWN_STAFF)
    ok(client.get(reverse("plans:task_detail", args=[task.pk])), "志愿服务活动", "2026-06-30", "乙村村民委员会")


def test_task_form_offers_no_outside_unit_and_refuses_one(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    ok(client.get(reverse("plans:plan_task_create", args=[plan.pk])))  # no ZZOUT option
    response = client.post(
        reverse("plans:plan_task_create", args=[plan.pk]),
        _task_form(world, responsible_units=[world.units["outside"].pk]),
    )
    assert response.status_code == 400
    assert not Task.objects.filter(title="每周开展志愿服务活动").exists()


def test_task_form_shows_service_errors(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    data = _task_form(world)
    data.update(_formset("milestones", [{"due_on": "2027-06-30", "percent": "50"}], 0))
    response = client.post(reverse("plans:plan_task_create", args=[plan.pk]), data)
    assert response.status_code == 400 and "时间节点必须在任务起止日期之内" in body(response)
    assert not Task.objects.filter(title="每周开展志愿服务活动").exists()


def test_task_form_fans_out_to_every_village(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    data = _task_form(world, fan_out="on", responsible_units=[])
    assert client.post(reverse("plans:plan_task_create", args=[plan.pk]), data).status_code == 302
    parent = Task.objects.get(title="每周开展志愿服务活动", parent=None)
    assert sorted(parent.children.values_list("region__name", flat=True)) == ["乙村", "甲村"]
    text = ok(client.get(reverse("plans:task_detail", args=[parent.pk])), "各村（社区）进展", "乙村")
    assert "报送进度" not in text  # a fanned-out parent is reported through its children


# --- Task page, reports and returns --------------------------------------------------------------------


def test_task_page_shows_matrix_reports_evidence_and_history(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.VILLAGE_STAFF))
    text = ok(client.get(reverse("plans:task_detail", args=[child.pk])), "甲村村民委员会", "已清理背街小巷", "佐证材料")
    assert reverse("plans:task_history", args=[child.pk]) in text
    assert reverse("plans:task_report", args=[child.pk]) in text
    ok(client.get(reverse("plans:task_history", args=[child.pk])), "整治环境卫生")
    # The village cannot return its own report; no return form is offered.
    assert reverse("plans:progressreport_return", args=[rec(world, "report").pk]) not in text


def test_village_staff_cannot_open_the_town_parent_task(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    assert client.get(reverse("plans:task_detail", args=[rec(world, "parent_task").pk])).status_code == 404


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return buffer.getvalue()


def test_village_report_changes_the_light_and_keeps_its_evidence(client: Client, world: World) -> None:
    child, parent = rec(world, "child_task"), rec(world, "parent_task")
    before = light_of(child)
    assert before != Light.DONE
    login(client, world.user(Role.VILLAGE_STAFF))
    url = reverse("plans:task_report", args=[child.pk])
    ok(client.get(url), "完成进度", "甲村村民委员会")
    photo = SimpleUploadedFile("现场.png", _png(), content_type="image/png")
    response = client.post(
        url,
        {
            "kind": "percent",
            "unit": world.units["village_committee"].pk,
            "percent": "100",
            "description": "全部完成",
            "evidence": photo,
            "evidence_description": "整治后",
        },
    )
    assert response.status_code == 302
    assert light_of(child) == Light.DONE
    parent.refresh_from_db()
    assert parent.progress == Decimal("100.00")
    report = ProgressReport.objects.get(task=child, description="全部完成")
    attachment = Attachment.objects.get(
        content_type=ContentType.objects.get_for_model(ProgressReport), object_id=str(report.pk)
    )
    text = ok(client.get(reverse("plans:task_detail", args=[child.pk])), "现场.png", "已完成")
    assert reverse("core:attachment_download", args=[attachment.pk]) in text


def test_report_form_reshows_input_with_the_service_reason(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.VILLAGE_STAFF))
    response = client.post(
        reverse("plans:task_report", args=[child.pk]),
        {"kind": "activity", "unit": world.units["village_committee"].pk, "participants": "12", "description": "清扫"},
    )
    assert response.status_code == 400 and "请填写活动日期" in body(response)
    assert 'value="12"' in body(response)
    assert not ProgressReport.objects.filter(task=child, description="清扫").exists()


def test_a_refused_evidence_file_rolls_the_report_back(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.VILLAGE_STAFF))
    fake = SimpleUploadedFile("照片.jpg", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/jpeg")
    response = client.post(
        reverse("plans:task_report", args=[child.pk]),
        {"kind": "percent", "unit": world.units["village_committee"].pk, "percent": "90", "evidence": fake},
    )
    assert response.status_code == 400
    assert not ProgressReport.objects.filter(task=child, percent=90).exists()


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.GRID_WORKER, Role.LEADER])
def test_report_form_is_404_for_who_may_not_report(client: Client, world: World, role: str) -> None:
    child = rec(world, "child_task")
    login(client, world.user(role))
    url = reverse("plans:task_report", args=[child.pk])
    assert client.get(url).status_code in (403, 404)
    data = {"kind": "percent", "unit": world.units["village_committee"].pk, "percent": "100"}
    assert client.post(url, data).status_code in (403, 404)
    assert not ProgressReport.objects.filter(task=child, percent=100).exists()


def test_town_staff_returns_a_report_with_a_reason(client: Client, world: World) -> None:
    child, report = rec(world, "child_task"), rec(world, "report")
    services.task_recompute(task=child)
    child.refresh_from_db()
    assert child.progress == Decimal("20.00")
    login(client, world.user(Role.TOWN_STAFF))
    text = ok(client.get(reverse("plans:task_detail", args=[child.pk])))
    url = reverse("plans:progressreport_return", args=[report.pk])
    assert url in text
    assert client.post(url, {"reason": ""}).status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED
    assert client.post(url, {"reason": "缺少照片"}).status_code == 302
    report.refresh_from_db()
    child.refresh_from_db()
    assert (report.status, report.return_reason, child.progress) == (ReportStatus.RETURNED, "缺少照片", Decimal("0"))
    ok(client.get(reverse("plans:task_detail", args=[child.pk])), "退回原因：缺少照片")


def test_village_staff_cannot_return_and_outside_reports_are_404(client: Client, world: World) -> None:
    report = rec(world, "report")
    login(client, world.user(Role.VILLAGE_STAFF))
    url = reverse("plans:progressreport_return", args=[report.pk])
    assert client.post(url, {"reason": "自己退回"}).status_code == 404
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED
    login(client, world.user(Role.ADMIN))
    outside = rec(world, "outside_report")
    assert client.post(reverse("plans:progressreport_return", args=[outside.pk]), {"reason": "x"}).status_code == 404
    outside.refresh_from_db()
    assert outside.status == ReportStatus.SUBMITTED


# --- 我的任务, dashboard, calendar -------------------------------------------------------------------


def test_my_tasks_lists_the_units_tasks_with_lights(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    text = ok(login(client, world.user(Role.VILLAGE_STAFF)).get(reverse("plans:my_tasks")), "整治环境卫生")
    assert f'data-task="{child.pk}"' in text
    assert 'class="badge cc-light' in text
    # Filtering by a light the task does not have leaves the list empty.
    other = Light.GREEN if light_of(child) != Light.GREEN else Light.YELLOW
    assert f'data-task="{child.pk}"' not in ok(client.get(reverse("plans:my_tasks"), {"light": other}))


def test_my_tasks_empty_for_staff_without_tasks(client: Client, world: World) -> None:
    text = ok(login(client, world.user(Role.INSPECTOR)).get(reverse("plans:my_tasks")))
    assert "目前没有任务" in text


def test_navigation_offers_the_plan_pages_by_role(client: Client, world: World) -> None:
    text = ok(login(client, world.user(Role.TOWN_STAFF)).get(reverse("plans:my_tasks")))
    for name in ("plans:my_tasks", "plans:plan_list", "plans:dashboard"):
        assert f'href="{reverse(name)}"' in text, name
    text = ok(login(Client(), world.user(Role.VILLAGE_STAFF)).get(reverse("plans:my_tasks")))
    assert f'href="{reverse("plans:plan_list")}"' in text
    assert f'href="{reverse("plans:dashboard")}"' not in text


def test_dashboard_counts_lights_by_unit(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    text = ok(client.get(reverse("plans:dashboard")), "甲镇", "甲村村民委员会", "cc-chart-data")
    unit = world.units["village_committee"]
    row = re.search(rf'<tr data-unit="{unit.pk}">(.*?)</tr>', text, re.S)
    assert row is not None
    light = light_of(child)
    assert re.search(rf'data-light="{light}">1<', row.group(1))
    assert "vendor/echarts/echarts.min.js" in text and "<script>" not in text


def test_dashboard_region_must_be_visible(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    assert client.get(reverse("plans:dashboard"), {"region": world.regions["town_b"].pk}).status_code == 404
    ok(client.get(reverse("plans:dashboard"), {"region": world.regions["village_a"].pk}), "甲村")


def test_calendar_groups_deadlines_by_date(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.VILLAGE_STAFF))
    text = ok(client.get(reverse("plans:calendar"), {"month": "2026-12"}), "2026-12-31", "整治环境卫生")
    assert reverse("plans:task_detail", args=[child.pk]) in text
    text = ok(client.get(reverse("plans:calendar"), {"month": "2026-05"}))
    assert "本月没有到期的任务" in text
    ok(client.get(reverse("plans:calendar"), {"month": "garbage"}))


# --- Import and export ----------------------------------------------------------------------------------


def task_table(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "任务", "牵头单位", "责任单位", "完成时限"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _import_form(world: World, data: bytes) -> dict[str, Any]:
    form = _plan_form(world, title="导入的方案")
    form["file"] = SimpleUploadedFile("任务表.xlsx", data)
    return form


def test_import_creates_the_plan_and_its_tasks(client: Client, world: World) -> None:
    data = task_table(
        [
            ["1", "清理村庄垃圾", "甲镇党政办", "各村（社区）", date(2026, 6, 30)],
            ["2", "建设文化广场", "甲镇党政办", "甲村村民委员会", date(2026, 10, 31)],
        ]
    )
    login(client, world.user(Role.TOWN_STAFF))
    ok(client.get(reverse("plans:plan_import")), "任务表（xlsx）")
    response = client.post(reverse("plans:plan_import"), _import_form(world, data))
    plan = Plan.objects.get(title="导入的方案")
    assert response.status_code == 302, body(response)
    assert response["Location"] == reverse("plans:plan_detail", args=[plan.pk])
    square = plan.tasks.get(title="建设文化广场")
    assert square.task_units.get(role=UnitRole.RESPONSIBLE).unit == world.units["village_committee"]
    assert plan.tasks.get(title="清理村庄垃圾", parent=None).children.count() == 2


def test_import_with_a_bad_row_imports_nothing_and_lists_every_problem(client: Client, world: World) -> None:
    data = task_table(
        [
            ["1", "清理村庄垃圾", "甲镇党政办", "甲村村民委员会", date(2026, 6, 30)],
            ["2", "建设文化广场", "不存在的单位", "甲村村民委员会", date(2026, 10, 31)],
            ["3", "修缮祠堂", "甲镇党政办", "另一个不存在的单位", date(2026, 10, 31)],
        ]
    )
    login(client, world.user(Role.TOWN_STAFF))
    response = client.post(reverse("plans:plan_import"), _import_form(world, data))
    assert response.status_code == 400
    text = body(response)
    assert "不存在的单位" in text and "另一个不存在的单位" in text
    assert 'data-row="3"' in text and 'data-row="4"' in text
    assert not Plan.objects.filter(title="导入的方案").exists()
    assert not Task.objects.filter(title="清理村庄垃圾").exists()


def test_import_into_an_existing_plan_and_export(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    data = task_table([["5", "村道绿化", "甲镇党政办", "乙村村民委员会", date(2026, 9, 30)]])
    response = client.post(
        reverse("plans:plan_tasks_import", args=[plan.pk]), {"file": SimpleUploadedFile("t.xlsx", data)}
    )
    assert response.status_code == 302
    assert plan.tasks.filter(title="村道绿化").exists()
    response = client.get(reverse("plans:plan_export", args=[plan.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    cells = [str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value]
    assert "村道绿化" in cells and not any(OUTSIDE_MARKER in c for c in cells)


def test_import_refuses_a_non_xlsx_file(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    form = _plan_form(world, title="导入的方案")
    form["file"] = SimpleUploadedFile("任务表.csv", b"a,b\n")
    response = client.post(reverse("plans:plan_import"), form)
    assert response.status_code == 400 and "xlsx" in body(response)
    assert not Plan.objects.filter(title="导入的方案").exists()


# --- Query counts ------------------------------------------------------------------------------------


def _grow(world: World, villages: int) -> None:
    """Adds villages under the town, each with a committee, and a fanned-out task with reports."""
    town = world.regions["town_a"]
    start = Region.objects.filter(parent=town).count()
    for i in range(start, start + villages):
        village = Region.objects.create(
            code=f"990101001{100 + i:03d}", name=f"新村{i}", level=RegionLevel.VILLAGE, parent=town
        )
        Unit.objects.create(name=f"新村{i}村民委员会", kind=UnitKind.VILLAGE_COMMITTEE, region=village)
    plan = rec(world, "plan")
    staff = world.user(Role.TOWN_STAFF)
    task = services.task_create(
        actor=staff,
        plan=plan,
        title=f"批量任务{villages}",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 12, 31),
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        milestones=[(date(2026, 6, 30), Decimal(50))],
    )
    for child in task.children.all()[:villages]:
        unit = TaskUnit.objects.filter(task=child).first()
        assert unit is not None
        services.report_submit(actor=staff, task=child, unit=unit.unit, kind="percent", percent=Decimal(30))


@pytest.mark.parametrize(
    ("url_name", "args"),
    [("plans:plan_detail", "plan"), ("plans:dashboard", None), ("plans:my_tasks", None), ("plans:calendar", None)],
)
def test_page_query_count_does_not_grow_with_villages(
    client: Client, world: World, url_name: str, args: str | None, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, world.user(Role.TOWN_STAFF))
    url = reverse(url_name, args=[rec(world, args).pk] if args else None)
    params = {"month": "2026-12"} if url_name == "plans:calendar" else {}
    # One request first, so per-process caches (content types, the session) are warm for both counts.
    client.get(url, params)
    counts = []
    for villages in (2, 12):
        _grow(world, villages)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 25, counts


def test_plan_page_keeps_the_original_document_as_evidence(client: Client, world: World) -> None:
    plan = rec(world, "plan")
    login(client, world.user(Role.TOWN_STAFF))
    url = reverse("plans:plan_detail", args=[plan.pk])
    document = SimpleUploadedFile(
        "甲镇发〔2026〕1号.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    )
    response = client.post(
        reverse("core:attachment_upload"),
        {
            "content_type": ContentType.objects.get_for_model(Plan).pk,
            "object_id": plan.pk,
            "file": document,
            "description": "方案原文",
            "next": url,
        },
    )
    assert response.status_code == 302 and response["Location"] == url
    ok(client.get(url), "甲镇发〔2026〕1号.pdf", "方案原文")


def test_pages_render_in_english_too(client: Client, world: World) -> None:
    plan, child = rec(world, "plan"), rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    urls = [
        reverse("plans:plan_list"),
        reverse("plans:plan_detail", args=[plan.pk]),
        reverse("plans:plan_history", args=[plan.pk]),
        reverse("plans:plan_task_create", args=[plan.pk]),
        reverse("plans:task_detail", args=[child.pk]),
        reverse("plans:task_report", args=[child.pk]),
        reverse("plans:my_tasks"),
        reverse("plans:dashboard"),
        reverse("plans:calendar"),
        reverse("plans:plan_import"),
    ]
    for url in urls:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, url
        assert '<html lang="en"' in body(response), url


# --- Editing tasks ---------------------------------------------------------------------------------


def _edit_form(world: World, task: Task, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": task.number,
        "title": task.title,
        "content": task.content,
        "phase": task.phase_id or "",
        "starts_on": task.starts_on.isoformat(),
        "deadline": task.deadline.isoformat(),
        "lead_units": [tu.unit_id for tu in task.task_units.filter(role=UnitRole.LEAD)],
        "responsible_units": [tu.unit_id for tu in task.task_units.filter(role=UnitRole.RESPONSIBLE)],
    }
    data.update(extra)
    return data


def test_town_staff_edits_the_parent_task_and_the_children_follow(client: Client, world: World) -> None:
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    detail = ok(client.get(reverse("plans:task_detail", args=[parent.pk])))
    assert reverse("plans:task_edit", args=[parent.pk]) in detail
    form = ok(client.get(reverse("plans:task_edit", args=[parent.pk])), "整治环境卫生", "甲镇党政办")
    assert "分解到各村（社区）" not in form
    response = client.post(
        reverse("plans:task_edit", args=[parent.pk]),
        _edit_form(world, parent, title="整治人居环境卫生", deadline="2026-10-31"),
    )
    assert response.status_code == 302 and response["Location"] == reverse("plans:task_detail", args=[parent.pk])
    parent.refresh_from_db()
    child.refresh_from_db()
    assert (parent.title, parent.deadline) == ("整治人居环境卫生", date(2026, 10, 31))
    assert (child.title, child.deadline) == ("整治人居环境卫生", date(2026, 10, 31))
    assert list(child.task_units.values_list("unit", flat=True)) == [world.units["village_committee"].pk]


def test_task_edit_reshows_the_form_with_the_reason(client: Client, world: World) -> None:
    parent = rec(world, "parent_task")
    login(client, world.user(Role.TOWN_STAFF))
    response = client.post(
        reverse("plans:task_edit", args=[parent.pk]), _edit_form(world, parent, title="改了", deadline="2027-03-31")
    )
    text = body(response)
    assert response.status_code == 400 and "任务日期必须在方案起止日期之内" in text
    assert 'value="改了"' in text and "2027-03-31" in text
    parent.refresh_from_db()
    assert (parent.title, parent.deadline) == ("整治环境卫生", date(2026, 12, 31))
    response = client.post(reverse("plans:task_edit", args=[parent.pk]), _edit_form(world, parent, lead_units=[]))
    assert response.status_code == 400 and "至少需要一个牵头单位或责任单位" in body(response)
    assert parent.task_units.count() == 1


def test_child_task_edit_offers_only_dates_and_people(client: Client, world: World) -> None:
    child = rec(world, "child_task")
    login(client, world.user(Role.TOWN_STAFF))
    ok(client.get(reverse("plans:task_edit", args=[child.pk])), "由上级任务统一修改")
    # A changed title is ignored (the field is disabled); the date is taken.
    response = client.post(
        reverse("plans:task_edit", args=[child.pk]), _edit_form(world, child, title="村里改名", deadline="2026-09-30")
    )
    assert response.status_code == 302
    child.refresh_from_db()
    assert (child.title, child.deadline) == ("整治环境卫生", date(2026, 9, 30))


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.INSPECTOR, Role.GRID_WORKER])
def test_task_edit_is_404_for_who_may_not_change(client: Client, world: World, role: str) -> None:
    child = rec(world, "child_task")
    login(client, world.user(role))
    if role == Role.VILLAGE_STAFF:  # sees the task, but gets no edit button
        assert reverse("plans:task_edit", args=[child.pk]) not in ok(
            client.get(reverse("plans:task_detail", args=[child.pk]))
        )
    assert client.get(reverse("plans:task_edit", args=[child.pk])).status_code == 404
    response = client.post(reverse("plans:task_edit", args=[child.pk]), _edit_form(world, child, deadline="2026-09-30"))
    assert response.status_code == 404
    child.refresh_from_db()
    assert child.deadline == date(2026, 12, 31)


def test_out_of_scope_task_edit_is_404(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    assert client.get(reverse("plans:task_edit", args=[rec(world, "outside_task").pk])).status_code == 404


def test_cached_plan_page_and_dashboard_keep_scope_rights_and_changes_apart(
    client: Client, world: World, settings: Any
) -> None:
    """What the two pages keep (visibility verdicts, the rendered page above the evidence panel,
    the region switch) is never shown to another scope, another right to edit, or after a change."""
    from cocreate.core import services as core_services
    from cocreate.core.models import Membership, User

    settings.TESTING = False  # keep verdicts and rendered parts as in production
    cache.clear()
    plan = rec(world, "parent_task").plan
    plan_url = reverse("plans:plan_detail", args=[plan.pk])
    edit_url = reverse("plans:plan_edit", args=[plan.pk])
    town = world.regions["town_a"]
    dashboard_url = reverse("plans:dashboard") + f"?region={town.pk}"
    manager = world.user(Role.LEADER)
    for _ in range(2):  # computed, then kept
        assert edit_url in ok(login(client, manager).get(plan_url))
        ok(client.get(dashboard_url), "甲村")
    # Same county, no right to edit: the kept page of the leader is not reused.
    assert edit_url not in ok(login(client, world.user(Role.INSPECTOR)).get(plan_url))
    # Another county's plan manager: the kept verdicts do not let them in.
    outsider = User.objects.create_user(phone="13700008889", password="x-Passw0rd-x", display_name="乙镇干部")
    Membership.objects.create(user=outsider, role=Role.TOWN_STAFF, region=world.regions["town_b"])
    login(client, outsider)
    assert client.get(plan_url).status_code == 404
    assert client.get(dashboard_url).status_code == 404
    # A new phase and a renamed village show at once.
    services.phase_add(
        actor=manager, plan=plan, name="巩固提升阶段", starts_on=plan.starts_on, ends_on=plan.ends_on, order=9
    )
    admin, village = world.user(Role.ADMIN), world.regions["village_a"]
    core_services.region_update(actor=admin, region=village, data={"name": "新甲村"})
    login(client, manager)
    ok(client.get(plan_url), "巩固提升阶段")
    ok(client.get(dashboard_url), "新甲村")
