"""The plans REST API through HTTP: scoping, pagination, lights, reports, returns, error bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Role, User
from cocreate.plans import services
from cocreate.plans.models import Plan, ProgressReport, ReportStatus, Task
from cocreate.plans.services import TargetSpec
from cocreate.plans.status import Light, task_light

pytestmark = pytest.mark.django_db

BACKEND = "cocreate.core.hotpath.UserBackend"


def as_user(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user, backend=BACKEND)
    return client


def send(client: Client, method: str, url: str, payload: Any = None) -> Any:
    data = json.dumps(payload) if payload is not None else ""
    return getattr(client, method)(url, data=data, content_type="application/json")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    data = response.json()
    assert isinstance(data["error"], str) and data["error"]
    assert isinstance(data["detail"], str) and data["detail"]
    if code is not None:
        assert data["error"] == code, data
    return data


def rec(world: World, key: str) -> Any:
    return world.extra["plans"][key]


# --- Plans ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.DEPT_STAFF, Role.ADMIN])
def test_plan_list_is_scoped_and_paginated(world: World, role: str) -> None:
    response = as_user(world.user(role)).get("/api/plans")
    assert response.status_code == 200
    data = response.json()
    assert OUTSIDE_MARKER not in response.content.decode()
    assert data["count"] == 1 and data["items"][0]["title"] == "甲镇人居环境整治方案"
    assert data["items"][0]["region_name"] == "甲镇"


def test_plan_list_filters_and_pages(world: World) -> None:
    staff = world.user(Role.TOWN_STAFF)
    for i in range(3):
        services.plan_create(
            actor=staff,
            title=f"专项方案{i}",
            issuing_unit=world.units["town_office"],
            region=world.regions["town_a"],
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate(),
            status="draft",
        )
    client = as_user(staff)
    assert client.get("/api/plans?search=专项").json()["count"] == 3
    assert client.get("/api/plans?status=active").json()["count"] == 1
    page = client.get("/api/plans?limit=2&offset=2").json()
    assert page["count"] == 4 and len(page["items"]) == 2
    assert_error(client.get("/api/plans?status=bogus"), 422, "invalid_request")


def test_plan_list_refuses_anonymous_and_residents_see_nothing(world: World) -> None:
    assert_error(Client().get("/api/plans"), 401, "unauthenticated")
    assert as_user(world.user(Role.RESIDENT)).get("/api/plans").json()["count"] == 0


def test_plan_detail_with_phases_and_outside_is_404(world: World) -> None:
    client = as_user(world.user(Role.TOWN_STAFF))
    data = client.get(f"/api/plans/{rec(world, 'plan').pk}").json()
    assert [p["name"] for p in data["phases"]] == ["部署启动"]
    assert_error(client.get(f"/api/plans/{rec(world, 'outside_plan').pk}"), 404, "not_found")
    assert_error(client.get(f"/api/plans/{rec(world, 'outside_plan').pk}/tasks"), 404, "not_found")


def _plan_body(world: World, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "接口新建方案",
        "issuing_unit_id": world.units["town_office"].pk,
        "region_id": world.regions["town_a"].pk,
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "doc_number": "甲镇发〔2026〕3号",
    }
    body.update(extra)
    return body


def test_town_staff_creates_a_plan(world: World) -> None:
    response = send(as_user(world.user(Role.TOWN_STAFF)), "post", "/api/plans", _plan_body(world))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["title"] == "接口新建方案" and data["status"] == "active" and data["phases"] == []
    assert Plan.objects.filter(pk=data["id"], created_by=world.user(Role.TOWN_STAFF)).exists()


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.INSPECTOR])
def test_plan_create_refused_to_non_managers(world: World, role: str) -> None:
    assert_error(send(as_user(world.user(role)), "post", "/api/plans", _plan_body(world)), 403, "forbidden")
    assert not Plan.objects.filter(title="接口新建方案").exists()


def test_plan_create_errors(world: World) -> None:
    client = as_user(world.user(Role.TOWN_STAFF))
    data = assert_error(
        send(client, "post", "/api/plans", _plan_body(world, region_id=world.regions["town_b"].pk)), 404
    )
    assert "region_id" in data["fields"]
    data = assert_error(send(client, "post", "/api/plans", _plan_body(world, ends_on="2025-01-01")), 400, "invalid")
    assert "ends_on" in data["fields"]
    assert_error(send(client, "post", "/api/plans", _plan_body(world, starts_on=20260101)), 422, "invalid_request")
    assert not Plan.objects.filter(title="接口新建方案").exists()


def test_plan_create_needs_csrf_in_a_session(world: World) -> None:
    client = as_user(world.user(Role.TOWN_STAFF), csrf=True)
    assert_error(send(client, "post", "/api/plans", _plan_body(world)), 403, "csrf_failed")


# --- Tasks ------------------------------------------------------------------------------------------


def test_plan_tasks_with_lights_scoped_by_role(world: World) -> None:
    plan, parent, child = rec(world, "plan"), rec(world, "parent_task"), rec(world, "child_task")
    town = as_user(world.user(Role.TOWN_STAFF)).get(f"/api/plans/{plan.pk}/tasks").json()
    assert [t["id"] for t in town["items"]] == [parent.pk, child.pk]
    row = town["items"][1]
    expected = task_light(child, timezone.localdate())
    assert row["light"] == expected.light and row["parent_id"] == parent.pk
    assert row["expected"] == float(expected.expected)
    village = as_user(world.user(Role.VILLAGE_STAFF)).get(f"/api/plans/{plan.pk}/tasks").json()
    assert [t["id"] for t in village["items"]] == [child.pk]


def test_plan_tasks_filters(world: World) -> None:
    plan, child = rec(world, "plan"), rec(world, "child_task")
    client = as_user(world.user(Role.TOWN_STAFF))
    light = task_light(child, timezone.localdate()).light
    other = Light.GREEN if light != Light.GREEN else Light.YELLOW
    url = f"/api/plans/{plan.pk}/tasks"
    assert child.pk in [t["id"] for t in client.get(f"{url}?light={light}").json()["items"]]
    assert child.pk not in [t["id"] for t in client.get(f"{url}?light={other}").json()["items"]]
    committee = world.units["village_committee"].pk
    assert [t["id"] for t in client.get(f"{url}?unit={committee}").json()["items"]] == [child.pk]
    assert client.get(f"{url}?phase={rec(world, 'phase').pk}").json()["count"] == 2
    data = assert_error(client.get(f"{url}?unit={world.units['outside'].pk}"), 404)
    assert "unit" in data["fields"]


def test_task_detail_with_status_matrix_and_reports(world: World) -> None:
    child = rec(world, "child_task")
    data = as_user(world.user(Role.VILLAGE_STAFF)).get(f"/api/tasks/{child.pk}").json()
    assert data["light"] in Light.values and data["reason"]
    assert data["units"] == [
        {
            "unit_id": world.units["village_committee"].pk,
            "unit_name": "甲村村民委员会",
            "role": "responsible",
            "role_display": "责任单位",
        }
    ]
    assert [r["description"] for r in data["reports"]] == ["已清理背街小巷"]


def test_task_detail_out_of_scope_is_404(world: World) -> None:
    client = as_user(world.user(Role.VILLAGE_STAFF))
    assert_error(client.get(f"/api/tasks/{rec(world, 'outside_task').pk}"), 404, "not_found")
    # The town's parent task lies outside the village.
    assert_error(client.get(f"/api/tasks/{rec(world, 'parent_task').pk}"), 404, "not_found")


# --- Reports and returns --------------------------------------------------------------------------------


def test_village_report_changes_the_light(world: World) -> None:
    child = rec(world, "child_task")
    client = as_user(world.user(Role.VILLAGE_STAFF))
    before = client.get(f"/api/tasks/{child.pk}").json()["light"]
    assert before != Light.DONE
    body = {"unit_id": world.units["village_committee"].pk, "kind": "percent", "percent": 100, "description": "完成"}
    response = send(client, "post", f"/api/tasks/{child.pk}/reports", body)
    assert response.status_code == 201, response.content
    assert response.json()["percent"] == 100.0 and response.json()["status"] == "submitted"
    after = client.get(f"/api/tasks/{child.pk}").json()
    assert after["light"] == Light.DONE and after["progress"] == 100.0


def test_activity_reports_count_for_a_quota(world: World) -> None:
    staff = world.user(Role.TOWN_STAFF)
    task = services.task_create(
        actor=staff,
        plan=rec(world, "plan"),
        title="志愿服务",
        starts_on=timezone.localdate().replace(month=1, day=1),
        deadline=timezone.localdate().replace(month=12, day=31),
        units={"responsible": [world.units["village_committee"]]},
        targets=[TargetSpec(kind="quota", name="志愿服务活动", quota_count=2, quota_period="year")],
    )
    # The task lies in the town: the town staff (a reporter there) records the village's activity.
    client = as_user(staff)
    body = {
        "unit_id": world.units["village_committee"].pk,
        "kind": "activity",
        "activity_date": timezone.localdate().isoformat(),
        "participants": 15,
    }
    assert send(client, "post", f"/api/tasks/{task.pk}/reports", body).status_code == 201
    assert client.get(f"/api/tasks/{task.pk}").json()["progress"] == 50.0
    # A typed percent is refused for a quota task: progress follows activity records only.
    typed = {"unit_id": world.units["village_committee"].pk, "kind": "percent", "percent": 100}
    data = assert_error(send(client, "post", f"/api/tasks/{task.pk}/reports", typed), 400, "invalid")
    assert "kind" in data["fields"]


def test_report_errors(world: World) -> None:
    child = rec(world, "child_task")
    client = as_user(world.user(Role.VILLAGE_STAFF))
    url = f"/api/tasks/{child.pk}/reports"
    unit = world.units["village_committee"].pk
    assert_error(send(client, "post", url, {"unit_id": unit, "kind": "percent", "percent": 101}), 422)
    assert_error(send(client, "post", url, {"unit_id": unit, "kind": "percent", "percent": "50"}), 422)
    data = assert_error(send(client, "post", url, {"unit_id": unit, "kind": "activity"}), 400, "invalid")
    assert "activity_date" in data["fields"]
    outside = world.units["outside"].pk
    data = assert_error(send(client, "post", url, {"unit_id": outside, "kind": "percent", "percent": 5}), 404)
    assert "unit_id" in data["fields"]
    # A unit of the village that is not on the task: refused, nothing stored.
    school = world.units["school"].pk
    assert_error(send(client, "post", url, {"unit_id": school, "kind": "percent", "percent": 5}), 403, "forbidden")
    assert_error(
        send(
            client,
            "post",
            f"/api/tasks/{rec(world, 'outside_task').pk}/reports",
            {"unit_id": unit, "kind": "percent", "percent": 5},
        ),
        404,
    )
    assert ProgressReport.objects.filter(task=child).count() == 1


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.LEADER, Role.GRID_WORKER])
def test_report_refused_to_who_may_not_report(world: World, role: str) -> None:
    child = rec(world, "child_task")
    body = {"unit_id": world.units["village_committee"].pk, "kind": "percent", "percent": 100}
    response = send(as_user(world.user(role)), "post", f"/api/tasks/{child.pk}/reports", body)
    assert response.status_code in (403, 404)
    assert_error(response, response.status_code)
    assert ProgressReport.objects.filter(task=child).count() == 1


def test_town_staff_returns_a_report(world: World) -> None:
    child, report = rec(world, "child_task"), rec(world, "report")
    client = as_user(world.user(Role.TOWN_STAFF))
    assert_error(send(client, "post", f"/api/reports/{report.pk}/return", {"reason": ""}), 422)
    response = send(client, "post", f"/api/reports/{report.pk}/return", {"reason": "照片不清楚"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned" and response.json()["return_reason"] == "照片不清楚"
    child.refresh_from_db()
    assert child.progress == 0
    # A second return is refused with a reason.
    assert_error(send(client, "post", f"/api/reports/{report.pk}/return", {"reason": "再退"}), 400, "invalid")


def test_return_refused_to_the_reporting_village_and_outside_is_404(world: World) -> None:
    report = rec(world, "report")
    village = as_user(world.user(Role.VILLAGE_STAFF))
    assert_error(send(village, "post", f"/api/reports/{report.pk}/return", {"reason": "x"}), 403, "forbidden")
    admin = as_user(world.user(Role.ADMIN))
    outside = rec(world, "outside_report")
    assert_error(send(admin, "post", f"/api/reports/{outside.pk}/return", {"reason": "x"}), 404, "not_found")
    report.refresh_from_db()
    outside.refresh_from_db()
    assert report.status == outside.status == ReportStatus.SUBMITTED


def test_openapi_lists_the_plan_routes(world: World) -> None:
    paths = as_user(world.user(Role.ADMIN)).get("/api/openapi.json").json()["paths"]
    for path in ("/api/plans", "/api/plans/{id}", "/api/plans/{id}/tasks", "/api/tasks/{id}"):
        assert path in paths, path
    assert "post" in paths["/api/tasks/{id}/reports"] and "post" in paths["/api/reports/{id}/return"]


def test_plan_tasks_query_count_is_flat(world: World, django_assert_max_num_queries: Any) -> None:
    staff = world.user(Role.TOWN_STAFF)
    for i in range(10):
        services.task_create(
            actor=staff,
            plan=rec(world, "plan"),
            title=f"任务{i}",
            starts_on=rec(world, "plan").starts_on,
            deadline=rec(world, "plan").ends_on,
            units={"responsible": [world.units["village_committee"]]},
        )
    client = as_user(staff)
    with django_assert_max_num_queries(12):
        data = client.get(f"/api/plans/{rec(world, 'plan').pk}/tasks").json()
    assert data["count"] == Task.objects.filter(plan=rec(world, "plan")).count()


def test_my_tasks(world: World) -> None:
    child = rec(world, "child_task")
    data = as_user(world.user(Role.VILLAGE_STAFF)).get("/api/tasks/mine").json()
    assert [t["id"] for t in data["items"]] == [child.pk]
    assert data["items"][0]["light"] == task_light(child, timezone.localdate()).light
    assert as_user(world.user(Role.INSPECTOR)).get("/api/tasks/mine").json()["count"] == 0
    assert_error(Client().get("/api/tasks/mine"), 401, "unauthenticated")
