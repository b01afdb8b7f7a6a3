"""Plan and task writes through the REST API: PATCH plans, phases, task create and PATCH.

Each write is tried by a manager (it works and leaves a history row), by callers who may see
but not change (403), by callers who may not see (404), and with bad data (400 from the
services, 422 from the schema); a refused or invalid call is asserted to change nothing.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.test import Client

from cocreate.conftest import PASSWORD, World
from cocreate.core import tokens
from cocreate.core.models import Membership, Role, User
from cocreate.plans.models import Phase, Plan, Target, Task, TaskPerson, TaskUnit, UnitRole
from cocreate.plans.tests.test_api import as_user, assert_error, rec, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def outside_manager(world: World) -> User:
    """Town staff of county B: a plan manager, but not over county A."""
    user = User.objects.create_user(phone="13700008888", password=PASSWORD, display_name="乙镇干部")
    Membership.objects.create(user=user, role=Role.TOWN_STAFF, region=world.regions["town_b"])
    return user


def _snapshot(plan: Plan) -> tuple[Any, ...]:
    plan.refresh_from_db()
    tasks = list(Task.objects.filter(plan=plan).order_by("pk").values())
    matrix = list(TaskUnit.objects.filter(task__plan=plan).order_by("pk").values())
    people = list(TaskPerson.objects.filter(task__plan=plan).order_by("pk").values())
    phases = list(Phase.objects.filter(plan=plan).order_by("pk").values())
    return (Plan.objects.filter(pk=plan.pk).values().get(), tasks, matrix, people, phases)


# --- PATCH /api/plans/{id} -------------------------------------------------------------------------------


def test_manager_patches_a_plan_and_history_records_who(world: World) -> None:
    plan, staff = rec(world, "plan"), world.user(Role.TOWN_STAFF)
    body = {
        "title": "甲镇人居环境整治方案（修订）",
        "yellow_after_points": 5,
        "red_after_points": 20,
        "summary": " 修订 ",
    }
    response = send(as_user(staff), "patch", f"/api/plans/{plan.pk}", body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["title"] == "甲镇人居环境整治方案（修订）"
    assert (data["yellow_after_points"], data["red_after_points"], data["summary"]) == (5, 20, "修订")
    # Fields left out stay as they were.
    assert data["doc_number"] == "甲镇发〔2026〕1号" and data["phases"][0]["name"] == "部署启动"
    latest = plan.history.order_by("-history_id").first()
    assert latest.history_type == "~" and latest.history_user == staff and latest.title.endswith("（修订）")


def test_plan_patch_moves_the_issuing_unit(world: World) -> None:
    plan = rec(world, "plan")
    body = {"issuing_unit_id": world.units["county_gov"].pk}
    response = send(as_user(world.user(Role.ADMIN)), "patch", f"/api/plans/{plan.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["issuing_unit_name"] == "甲县人民政府"


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        (Role.VILLAGE_STAFF, 403, "forbidden"),
        (Role.INSPECTOR, 403, "forbidden"),
        (Role.RESIDENT, 404, "not_found"),
        ("outside_manager", 404, "not_found"),
    ],
)
def test_plan_patch_refused(world: World, outside_manager: User, caller: str, status: int, code: str) -> None:
    plan = rec(world, "plan")
    user = outside_manager if caller == "outside_manager" else world.user(caller)
    before = _snapshot(plan)
    assert_error(send(as_user(user), "patch", f"/api/plans/{plan.pk}", {"title": "越权修改"}), status, code)
    assert _snapshot(plan) == before


def test_out_of_scope_plan_is_404_even_for_a_manager(world: World) -> None:
    outside = rec(world, "outside_plan")
    response = send(as_user(world.user(Role.ADMIN)), "patch", f"/api/plans/{outside.pk}", {"title": "越权修改"})
    assert_error(response, 404, "not_found")
    outside.refresh_from_db()
    assert outside.title != "越权修改"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"ends_on": "2025-06-30"}, 400, "ends_on"),  # before the start
        ({"ends_on": "2026-02-30"}, 422, "ends_on"),  # no such day
        ({"starts_on": 20260101}, 422, "starts_on"),  # not a date string
        ({"ends_on": "2026-06-30"}, 400, "ends_on"),  # a task would end after the plan
        ({"red_after_points": 5}, 400, "red_after_points"),  # not above yellow (10)
        ({"yellow_after_points": 101}, 422, "yellow_after_points"),
        ({"title": None}, 400, "title"),
        ({"title": ""}, 422, "title"),
        ({"status": "paused"}, 422, "status"),
    ],
)
def test_plan_patch_validation(world: World, body: dict[str, Any], status: int, field: str) -> None:
    plan = rec(world, "plan")
    before = _snapshot(plan)
    data = assert_error(send(as_user(world.user(Role.TOWN_STAFF)), "patch", f"/api/plans/{plan.pk}", body), status)
    assert field in data["fields"], data
    assert _snapshot(plan) == before


def test_plan_patch_ids_outside_scope_are_404_naming_the_field(world: World) -> None:
    plan, client = rec(world, "plan"), as_user(world.user(Role.TOWN_STAFF))
    for field, value in (("region_id", world.regions["town_b"].pk), ("issuing_unit_id", world.units["outside"].pk)):
        data = assert_error(send(client, "patch", f"/api/plans/{plan.pk}", {field: value}), 404, "not_found")
        assert field in data["fields"]
    # A region the town staff can see but does not manage: the service refuses the move.
    assert_error(send(client, "patch", f"/api/plans/{plan.pk}", {"region_id": world.regions["county_a"].pk}), 403)
    plan.refresh_from_db()
    assert plan.region == world.regions["town_a"]


# --- POST /api/plans/{id}/phases -------------------------------------------------------------------------


def test_manager_adds_a_phase(world: World) -> None:
    plan = rec(world, "plan")
    body = {"name": "巩固提升", "starts_on": "2026-10-01", "ends_on": "2026-12-31", "order": 3}
    response = send(as_user(world.user(Role.TOWN_STAFF)), "post", f"/api/plans/{plan.pk}/phases", body)
    assert response.status_code == 201, response.content
    data = response.json()
    phase = Phase.objects.get(pk=data["id"])
    assert (phase.plan_id, phase.name, phase.order) == (plan.pk, "巩固提升", 3)
    assert data["ends_on"] == "2026-12-31"
    assert phase.history.get().history_user == world.user(Role.TOWN_STAFF)


def test_phase_add_refused_and_invalid(world: World, outside_manager: User) -> None:
    plan = rec(world, "plan")
    url = f"/api/plans/{plan.pk}/phases"
    body = {"name": "巩固提升", "starts_on": "2026-10-01", "ends_on": "2026-12-31"}
    assert_error(send(as_user(world.user(Role.VILLAGE_STAFF)), "post", url, body), 403, "forbidden")
    assert_error(send(as_user(world.user(Role.RESIDENT)), "post", url, body), 404, "not_found")
    assert_error(send(as_user(outside_manager), "post", url, body), 404, "not_found")
    client = as_user(world.user(Role.TOWN_STAFF))
    data = assert_error(send(client, "post", url, {**body, "ends_on": "2027-01-31"}), 400, "invalid")
    assert "starts_on" in data["fields"]  # the service names the window as a whole
    data = assert_error(send(client, "post", url, {**body, "ends_on": "2026-09-01"}), 400, "invalid")
    assert "ends_on" in data["fields"]
    data = assert_error(send(client, "post", url, {**body, "starts_on": "01/10/2026"}), 422, "invalid_request")
    assert "starts_on" in data["fields"]
    assert list(plan.phases.values_list("name", flat=True)) == ["部署启动"]


# --- POST /api/plans/{id}/tasks --------------------------------------------------------------------------


def _task_body(world: World, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": "2",
        "title": "建设公共厕所",
        "content": "每村新建或改造一座",
        "phase_id": rec(world, "phase").pk,
        "starts_on": "2026-02-01",
        "deadline": "2026-09-30",
        "units": {
            "lead": [world.units["town_office"].pk],
            "responsible": [world.units["village_committee"].pk],
            "cooperating": [world.units["dept"].pk],
        },
        "people": {"leader": [world.user(Role.TOWN_STAFF).pk], "responsible": [world.user(Role.VILLAGE_STAFF).pk]},
        "targets": [
            {"kind": "quota", "name": "验收检查", "quota_count": 2, "quota_period": "month"},
            {"kind": "indicator", "name": "改厕完成率", "comparator": "gte", "value": 95, "unit_label": "%"},
        ],
        "milestones": [{"due_on": "2026-05-31", "percent": 40}, {"due_on": "2026-08-31", "percent": 80}],
    }
    body.update(extra)
    return body


def test_manager_creates_a_task_with_matrix_targets_and_milestones(world: World) -> None:
    plan, staff = rec(world, "plan"), world.user(Role.TOWN_STAFF)
    response = send(as_user(staff), "post", f"/api/plans/{plan.pk}/tasks", _task_body(world))
    assert response.status_code == 201, response.content
    data = response.json()
    task = Task.objects.get(pk=data["id"])
    assert (task.plan_id, task.phase_id, task.region_id) == (plan.pk, rec(world, "phase").pk, plan.region_id)
    assert (data["title"], data["number"], data["deadline"], data["fans_out"]) == (
        "建设公共厕所",
        "2",
        "2026-09-30",
        False,
    )
    assert {(u["role"], u["unit_id"]) for u in data["units"]} == {
        ("lead", world.units["town_office"].pk),
        ("responsible", world.units["village_committee"].pk),
        ("cooperating", world.units["dept"].pk),
    }
    assert {(p["role"], p["user_id"]) for p in data["people"]} == {
        ("leader", world.user(Role.TOWN_STAFF).pk),
        ("responsible", world.user(Role.VILLAGE_STAFF).pk),
    }
    assert sorted((t["kind"], t["name"]) for t in data["targets"]) == [
        ("indicator", "改厕完成率"),
        ("quota", "验收检查"),
    ]
    assert [(m["due_on"], m["percent"]) for m in data["milestones"]] == [("2026-05-31", 40.0), ("2026-08-31", 80.0)]
    assert data["light"] and data["reports"] == []
    history = task.history.get()
    assert history.history_type == "+" and history.history_user == staff


def test_fan_out_through_the_api_creates_one_child_per_village(world: World) -> None:
    plan = rec(world, "plan")
    body = _task_body(world, fans_out=True, units={"lead": [world.units["town_office"].pk]}, people={})
    response = send(as_user(world.user(Role.TOWN_STAFF)), "post", f"/api/plans/{plan.pk}/tasks", body)
    assert response.status_code == 201, response.content
    parent = Task.objects.get(pk=response.json()["id"])
    assert parent.fans_out and response.json()["fans_out"] is True
    children = Task.objects.filter(parent=parent).order_by("region__path")
    assert [c.region for c in children] == [world.regions["village_a"], world.regions["village_a2"]]
    committees = {c.region_id: list(TaskUnit.objects.filter(task=c).values_list("unit_id", "role")) for c in children}
    assert committees == {
        world.regions["village_a"].pk: [(world.units["village_committee"].pk, UnitRole.RESPONSIBLE)],
        world.regions["village_a2"].pk: [(world.units["village_a2_committee"].pk, UnitRole.RESPONSIBLE)],
    }
    assert Target.objects.filter(task__in=children).count() == 4
    assert all(c.history.count() == 1 for c in children)


def test_fan_out_refused_for_a_village_plan(world: World) -> None:
    staff = world.user(Role.TOWN_STAFF)
    client = as_user(staff)
    plan_body = {
        "title": "甲村方案",
        "issuing_unit_id": world.units["town_office"].pk,
        "region_id": world.regions["village_a"].pk,
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
    }
    village_plan = send(client, "post", "/api/plans", plan_body).json()["id"]
    body = _task_body(world, fans_out=True, phase_id=None)
    data = assert_error(send(client, "post", f"/api/plans/{village_plan}/tasks", body), 400, "invalid")
    assert "fan_out" in data["fields"]
    assert not Task.objects.filter(plan_id=village_plan).exists()


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        (Role.VILLAGE_STAFF, 403, "forbidden"),
        (Role.INSPECTOR, 403, "forbidden"),
        (Role.RESIDENT, 404, "not_found"),
        ("outside_manager", 404, "not_found"),
    ],
)
def test_task_create_refused(world: World, outside_manager: User, caller: str, status: int, code: str) -> None:
    plan = rec(world, "plan")
    user = outside_manager if caller == "outside_manager" else world.user(caller)
    before = _snapshot(plan)
    assert_error(send(as_user(user), "post", f"/api/plans/{plan.pk}/tasks", _task_body(world)), status, code)
    assert _snapshot(plan) == before


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        ({"deadline": "2026-01-15"}, 400, "deadline"),  # before the start
        ({"deadline": "2027-03-31"}, 400, "deadline"),  # after the plan ends
        ({"deadline": "2026-09-31"}, 422, "deadline"),  # no such day
        ({"starts_on": None}, 422, "starts_on"),
        ({"title": "   "}, 400, "title"),
        ({"units": {"lead": ["5"]}}, 422, "units.lead.0"),
        ({"units": {"owner": [1]}}, 422, "units.owner"),
        ({"targets": [{"kind": "quota", "name": "检查", "quota_count": 2}]}, 400, "targets"),
        ({"targets": [{"kind": "score", "name": "检查"}]}, 422, "targets.0.kind"),
        ({"milestones": [{"due_on": "2026-12-31", "percent": 50}]}, 400, "milestones"),
        ({"milestones": [{"due_on": "2026-05-31", "percent": 150}]}, 422, "milestones.0.percent"),
    ],
)
def test_task_create_validation(world: World, extra: dict[str, Any], status: int, field: str) -> None:
    plan = rec(world, "plan")
    before = _snapshot(plan)
    client = as_user(world.user(Role.TOWN_STAFF))
    data = assert_error(send(client, "post", f"/api/plans/{plan.pk}/tasks", _task_body(world, **extra)), status)
    assert field in data["fields"], data
    assert _snapshot(plan) == before


def test_task_create_ids_outside_scope_are_404_naming_the_field(world: World) -> None:
    plan = rec(world, "plan")
    before = _snapshot(plan)
    client = as_user(world.user(Role.TOWN_STAFF))
    url = f"/api/plans/{plan.pk}/tasks"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"units": {"responsible": [world.units["outside"].pk]}}, "units.responsible"),
        ({"units": {"lead": [999_999]}}, "units.lead"),
        ({"people": {"leader": [world.users["outside_staff"].pk]}}, "people.leader"),
        ({"phase_id": Phase.objects.create(plan=rec(world, "outside_plan"), **_phase_dates()).pk}, "phase_id"),
    ]
    for extra, field in cases:
        data = assert_error(send(client, "post", url, _task_body(world, **extra)), 404, "not_found")
        assert field in data["fields"], data
    assert _snapshot(plan) == before


def _phase_dates() -> dict[str, Any]:
    return {"name": "外部阶段", "starts_on": date(2026, 1, 1), "ends_on": date(2026, 2, 1)}


# --- PATCH /api/tasks/{id} -------------------------------------------------------------------------------


def _new_task(world: World, **extra: Any) -> Task:
    response = send(
        as_user(world.user(Role.TOWN_STAFF)),
        "post",
        f"/api/plans/{rec(world, 'plan').pk}/tasks",
        _task_body(world, **extra),
    )
    assert response.status_code == 201, response.content
    return Task.objects.get(pk=response.json()["id"])


def test_manager_patches_a_task_and_roles_left_out_keep_their_units(world: World) -> None:
    task, staff = _new_task(world), world.user(Role.TOWN_STAFF)
    body: dict[str, Any] = {
        "title": "建设和改造公共厕所",
        "deadline": "2026-10-31",
        "phase_id": None,
        "units": {"cooperating": [world.units["county_gov"].pk], "guiding": []},
        "people": {"responsible": []},
    }
    response = send(as_user(staff), "patch", f"/api/tasks/{task.pk}", body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["title"], data["deadline"], data["phase_id"], data["number"]) == (
        "建设和改造公共厕所",
        "2026-10-31",
        None,
        "2",
    )
    assert {(u["role"], u["unit_id"]) for u in data["units"]} == {
        ("lead", world.units["town_office"].pk),
        ("responsible", world.units["village_committee"].pk),
        ("cooperating", world.units["county_gov"].pk),
    }
    assert [(p["role"], p["user_id"]) for p in data["people"]] == [("leader", world.user(Role.TOWN_STAFF).pk)]
    latest = task.history.order_by("-history_id").first()
    assert latest.history_type == "~" and latest.history_user == staff and latest.title == "建设和改造公共厕所"


def test_task_patch_on_a_fanned_out_parent_reaches_its_children(world: World) -> None:
    parent, child = rec(world, "parent_task"), rec(world, "child_task")
    response = send(as_user(world.user(Role.TOWN_STAFF)), "patch", f"/api/tasks/{parent.pk}", {"title": "整治村容村貌"})
    assert response.status_code == 200, response.content
    child.refresh_from_db()
    assert child.title == "整治村容村貌"
    assert child.history.order_by("-history_id").first().history_user == world.user(Role.TOWN_STAFF)


def test_task_patch_on_a_child_keeps_to_dates_and_people(world: World) -> None:
    child, client = rec(world, "child_task"), as_user(world.user(Role.TOWN_STAFF))
    data = assert_error(send(client, "patch", f"/api/tasks/{child.pk}", {"title": "自行改名"}), 400, "invalid")
    assert "title" in data["fields"]
    response = send(client, "patch", f"/api/tasks/{child.pk}", {"deadline": "2026-11-30"})
    assert response.status_code == 200, response.content
    assert response.json()["deadline"] == "2026-11-30"


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        (Role.VILLAGE_STAFF, 403, "forbidden"),
        (Role.RESIDENT, 404, "not_found"),
        ("outside_manager", 404, "not_found"),
    ],
)
def test_task_patch_refused(world: World, outside_manager: User, caller: str, status: int, code: str) -> None:
    # The child task lies in the village, so its staff see it but may not change it.
    child = rec(world, "child_task")
    user = outside_manager if caller == "outside_manager" else world.user(caller)
    before = _snapshot(child.plan)
    assert_error(send(as_user(user), "patch", f"/api/tasks/{child.pk}", {"deadline": "2026-11-30"}), status, code)
    assert _snapshot(child.plan) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"deadline": "2026-01-15"}, 400, "deadline"),
        ({"deadline": "2026-06-31"}, 422, "deadline"),
        ({"deadline": "2026-07-31"}, 400, "deadline"),  # a milestone (2026-08-31) would fall outside
        ({"units": {"lead": [], "responsible": []}}, 400, "units"),
        ({"units": None}, 400, "units"),
        ({"title": None}, 400, "title"),
        ({"targets": []}, 422, "targets"),
        ({"fans_out": True}, 422, "fans_out"),
        ({"milestones": [{"due_on": "2026-05-31", "percent": 40}]}, 422, "milestones"),
    ],
)
def test_task_patch_validation(world: World, body: dict[str, Any], status: int, field: str) -> None:
    task = _new_task(world)
    before = _snapshot(task.plan)
    data = assert_error(send(as_user(world.user(Role.TOWN_STAFF)), "patch", f"/api/tasks/{task.pk}", body), status)
    assert field in data["fields"], data
    assert _snapshot(task.plan) == before


def test_task_patch_ids_outside_scope_are_404_naming_the_field(world: World) -> None:
    task = _new_task(world)
    before = _snapshot(task.plan)
    client = as_user(world.user(Role.TOWN_STAFF))
    outside_phase = Phase.objects.create(plan=rec(world, "outside_plan"), **_phase_dates())
    for body, field in (
        ({"units": {"guiding": [world.units["outside"].pk]}}, "units.guiding"),
        ({"people": {"responsible": [world.users["outside_staff"].pk]}}, "people.responsible"),
        ({"phase_id": outside_phase.pk}, "phase_id"),
    ):
        data = assert_error(send(client, "patch", f"/api/tasks/{task.pk}", body), 404, "not_found")
        assert field in data["fields"], data
    assert _snapshot(task.plan) == before
    outside = rec(world, "outside_task")
    assert_error(send(client, "patch", f"/api/tasks/{outside.pk}", {"title": "越权"}), 404, "not_found")


def test_openapi_lists_the_write_routes(world: World) -> None:
    paths = as_user(world.user(Role.ADMIN)).get("/api/openapi.json").json()["paths"]
    assert "patch" in paths["/api/plans/{id}"] and "patch" in paths["/api/tasks/{id}"]
    assert "post" in paths["/api/plans/{id}/phases"] and "post" in paths["/api/plans/{id}/tasks"]
    patch = paths["/api/tasks/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch  # a reference to the TaskPatch schema, which names no create-only field
    schemas = as_user(world.user(Role.ADMIN)).get("/api/openapi.json").json()["components"]["schemas"]
    assert not {"fans_out", "targets", "milestones"} & set(schemas["TaskPatch"]["properties"])


def test_a_token_caller_is_named_in_the_history(world: World) -> None:
    staff = world.user(Role.TOWN_STAFF)
    _token, raw = tokens.token_create(actor=staff, user=staff, name="脚本")
    response = Client().patch(
        f"/api/plans/{rec(world, 'plan').pk}",
        data=json.dumps({"summary": "脚本修改"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200, response.content
    assert rec(world, "plan").history.order_by("-history_id").first().history_user == staff
