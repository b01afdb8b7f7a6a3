"""The meetings and task-list API: scoped lists and details (participants only for those who run
the meeting, masked comment authors for everyone else), writes through the same services as the
pages, and 4xx bodies with nothing changed for bad input or callers out of reach."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Role, User
from cocreate.core.privacy import mask_name
from cocreate.participation import meetings
from cocreate.participation.models import ItemComment, Meeting, MeetingItem, MeetingParticipant, TaskListItem
from cocreate.participation.tests.helpers import account, people, village
from cocreate.plans import services as plan_services
from cocreate.plans.models import PlanStatus, ReportKind

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def send(client: Client, url: str, payload: Any) -> Any:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    data = response.json()
    assert data["error"] and data["detail"]
    if code is not None:
        assert data["error"] == code, data
    return data


def verified_resident(world: World) -> User:
    user = world.user(Role.RESIDENT)
    assert user.person is not None
    user.person.verified_at = timezone.now()
    user.person.save()
    return user


def elsewhere(world: World) -> User:
    return account(people(village(world, "990101001009", "戊村"), 1)[0])


def snapshot() -> tuple[Any, ...]:
    return tuple(
        list(model.objects.order_by("pk").values())
        for model in (Meeting, MeetingItem, MeetingParticipant, ItemComment, TaskListItem)
    )


# --- Reads ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.GRID_WORKER])
def test_meeting_list_is_scoped(world: World, role: str) -> None:
    response = client_for(world.user(role)).get("/api/meetings")
    assert response.status_code == 200
    data = response.json()
    assert [m["title"] for m in data["items"]] == ["村道议事会"] and data["count"] == 1
    assert OUTSIDE_MARKER not in response.content.decode()


def test_meeting_list_filters_and_strangers(world: World) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    assert client.get("/api/meetings", {"upcoming": "true"}).json()["count"] == 1
    assert client.get("/api/meetings", {"upcoming": "false"}).json()["count"] == 0
    assert client.get("/api/meetings", {"status": "held"}).json()["count"] == 0
    error(client.get("/api/meetings", {"status": "cancelled"}), 422)
    error(client.get("/api/meetings", {"region": world.regions["village_b"].pk}), 404)
    assert client_for(elsewhere(world)).get("/api/meetings").json()["count"] == 0
    error(client_for(None).get("/api/meetings"), 401)


def test_meeting_detail_for_staff_lists_participants_and_full_names(world: World) -> None:
    ItemComment.objects.create(item=rec(world, "item"), person=world.people["a_member"], text="路灯也要修")
    data = client_for(world.user(Role.VILLAGE_STAFF)).get(f"/api/meetings/{rec(world, 'meeting').pk}").json()
    assert [p["name"] for p in data["participants"]] == [rec(world, "participant").name]
    assert data["invited"] == 1 and data["comments_open"] is True
    authors = {c["author"] for c in data["items"][0]["comments"]}
    assert "甲村村民" in authors


def test_meeting_detail_for_residents_masks_and_hides_others(world: World) -> None:
    ItemComment.objects.create(item=rec(world, "item"), person=world.people["a_member"], text="路灯也要修")
    MeetingParticipant.objects.create(meeting=rec(world, "meeting"), name="张三丰", kind="sage")
    response = client_for(world.user(Role.RESIDENT)).get(f"/api/meetings/{rec(world, 'meeting').pk}")
    assert response.status_code == 200
    data = response.json()
    body = response.content.decode()
    assert "张三丰" not in body and "甲村村民" not in body
    assert mask_name("甲村村民") in {c["author"] for c in data["items"][0]["comments"]}
    # Their own invitation only.
    assert [p["person_id"] for p in data["participants"]] == [world.user(Role.RESIDENT).person_id]
    assert data["invited"] == 2


@pytest.mark.parametrize("who", ["outside_staff", "elsewhere"])
def test_meeting_detail_out_of_scope_is_404(world: World, who: str) -> None:
    user = elsewhere(world) if who == "elsewhere" else world.user(who)
    error(client_for(user).get(f"/api/meetings/{rec(world, 'meeting').pk}"), 404, "not_found")


# --- Meeting writes ---------------------------------------------------------------------------------------------


def _meeting_body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "region_id": world.regions["village_a"].pk,
        "kind": "courtyard",
        "title": "村道修补屋场会",
        "held_at": "2026-12-05T19:30:00+08:00",
        "place": "甲村文化广场",
        **extra,
    }


def test_staff_create_a_meeting(world: World) -> None:
    response = send(client_for(world.user(Role.VILLAGE_STAFF)), "/api/meetings", _meeting_body(world))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["title"], data["status"], data["items"], data["participants"]) == ("村道修补屋场会", "planned", [], [])
    assert Meeting.objects.filter(pk=data["id"], region=world.regions["village_a"]).exists()


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        (Role.VILLAGE_STAFF, {"title": " "}, 400),
        (Role.VILLAGE_STAFF, {"place": ""}, 422),
        (Role.VILLAGE_STAFF, {"kind": "party_secretary"}, 422),
        (Role.VILLAGE_STAFF, {"held_at": 20261205}, 422),
        (Role.VILLAGE_STAFF, {"region_id": "village"}, 422),
        (Role.VILLAGE_STAFF, {"title": "a\x00b"}, 422),
        (Role.RESIDENT, {}, 403),
        (Role.GRID_WORKER, {}, 403),
        ("outside_staff", {}, 404),
        (None, {}, 401),
    ],
)
def test_bad_meeting_creation_changes_nothing(world: World, who: str | None, body: dict[str, Any], status: int) -> None:
    before = snapshot()
    user = world.user(who) if who else None
    error(send(client_for(user), "/api/meetings", _meeting_body(world, **body)), status)
    assert snapshot() == before


def test_participants_and_items_through_the_api(world: World) -> None:
    meeting = rec(world, "meeting")
    client = client_for(world.user(Role.VILLAGE_STAFF))
    response = send(
        client,
        f"/api/meetings/{meeting.pk}/participants",
        {"kind": "representative", "person_id": world.people["a_member"].pk},
    )
    assert response.status_code == 201, response.content
    response = send(client, f"/api/meetings/{meeting.pk}/participants", {"kind": "expert", "name": "县交通局工程师"})
    assert response.status_code == 201
    assert {p["name"] for p in response.json()["participants"]} >= {"甲村村民", "县交通局工程师"}
    response = send(client, f"/api/meetings/{meeting.pk}/items", {"title": "路灯安装"})
    assert response.status_code == 201
    assert [i["title"] for i in response.json()["items"]][-1] == "路灯安装"


def test_bad_participants_and_items_change_nothing(world: World) -> None:
    meeting = rec(world, "meeting")
    client = client_for(world.user(Role.VILLAGE_STAFF))
    before = snapshot()
    error(send(client, f"/api/meetings/{meeting.pk}/participants", {"kind": "expert", "name": " "}), 400)
    data = error(
        send(
            client,
            f"/api/meetings/{meeting.pk}/participants",
            {"kind": "expert", "person_id": world.people["outside"].pk},
        ),
        404,
    )
    assert "person_id" in data["fields"]
    error(send(client, f"/api/meetings/{meeting.pk}/participants", {"kind": "chief", "name": "某人"}), 422)
    error(send(client, f"/api/meetings/{meeting.pk}/items", {"title": ""}), 400)
    error(send(client, f"/api/meetings/{meeting.pk}/items", {"problem_id": rec(world, "outside_problem").pk}), 404)
    error(send(client_for(world.user(Role.RESIDENT)), f"/api/meetings/{meeting.pk}/items", {"title": "x"}), 403)
    error(send(client_for(world.user("outside_staff")), f"/api/meetings/{meeting.pk}/items", {"title": "x"}), 404)
    assert snapshot() == before


def test_recording_through_the_api(world: World) -> None:
    meeting, item, participant = rec(world, "meeting"), rec(world, "item"), rec(world, "participant")
    client = client_for(world.user(Role.VILLAGE_STAFF))
    url = f"/api/meetings/{meeting.pk}/record"
    before = snapshot()
    error(send(client, url, {"minutes": "纪要", "present": [rec(world, "outside_participant").pk]}), 400)
    error(
        send(client, url, {"minutes": "纪要", "items": [{"id": rec(world, "outside_item").pk, "resolution": "x"}]}), 400
    )
    error(send(client, url, {"minutes": "纪要", "items": [{"id": item.pk}, {"id": item.pk}]}), 400)
    error(send(client, url, {"minutes": ""}), 422)
    error(send(client_for(world.user(Role.GRID_WORKER)), url, {"minutes": "纪要"}), 403)
    assert snapshot() == before
    body = {
        "present": [participant.pk],
        "minutes": "到会12人",
        "items": [{"id": item.pk, "resolution": "先修小学门口段"}],
    }
    response = send(client, url, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "held" and data["present"] == 1
    assert data["items"][0]["resolution"] == "先修小学门口段"
    error(send(client, url, body), 400)  # held already


# --- Comments ---------------------------------------------------------------------------------------------------


def test_resident_comments_before_the_meeting(world: World) -> None:
    meeting, item = rec(world, "meeting"), rec(world, "item")
    client = client_for(verified_resident(world))
    url = f"/api/meetings/{meeting.pk}/items/{item.pk}/comments"
    response = send(client, url, {"text": "建议夜间施工"})
    assert response.status_code == 201, response.content
    assert ItemComment.objects.filter(item=item, text="建议夜间施工").exists()
    before = snapshot()
    error(send(client, url, {"text": ""}), 422)
    error(send(client, url, {"text": "   "}), 400)
    error(send(client, url, {"text": "x" * 1001}), 422)
    assert snapshot() == before


def test_comment_after_the_meeting_is_refused(world: World) -> None:
    meeting, item = rec(world, "meeting"), rec(world, "item")
    Meeting.objects.filter(pk=meeting.pk).update(held_at=timezone.now() - timedelta(minutes=1))
    before = snapshot()
    data = error(
        send(
            client_for(verified_resident(world)),
            f"/api/meetings/{meeting.pk}/items/{item.pk}/comments",
            {"text": "晚了"},
        ),
        400,
    )
    assert "会议已开始" in data["fields"]["text"][0]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("who", "status"),
    [("unverified", 403), ("staff", 403), ("elsewhere", 404), ("outside_staff", 404), ("anonymous", 401)],
)
def test_only_verified_residents_of_the_community_comment(world: World, who: str, status: int) -> None:
    meeting, item = rec(world, "meeting"), rec(world, "item")
    user = {
        "unverified": world.user(Role.RESIDENT),
        "staff": world.user(Role.VILLAGE_STAFF),
        "elsewhere": elsewhere(world),
        "outside_staff": world.user("outside_staff"),
        "anonymous": None,
    }[who]
    before = snapshot()
    error(
        send(client_for(user), f"/api/meetings/{meeting.pk}/items/{item.pk}/comments", {"text": "我也说两句"}), status
    )
    assert snapshot() == before


def test_an_item_of_another_meeting_is_404(world: World) -> None:
    other = meetings.meeting_create(
        actor=world.user(Role.VILLAGE_STAFF),
        region=world.regions["village_a"],
        kind="bench",
        title="板凳会",
        held_at=timezone.now() + timedelta(days=1),
        place="村口",
    )
    url = f"/api/meetings/{other.pk}/items/{rec(world, 'item').pk}/comments"
    error(send(client_for(verified_resident(world)), url, {"text": "意见"}), 404)


# --- Task list --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.VILLAGE_STAFF, Role.TOWN_STAFF])
def test_task_list_is_scoped(world: World, role: str) -> None:
    response = client_for(world.user(role)).get("/api/tasklistitems")
    assert response.status_code == 200
    data = response.json()
    assert [i["title"] for i in data["items"]] == ["修补村道"]
    assert data["items"][0]["status"] == "todo" and data["items"][0]["plan_id"] is None
    assert OUTSIDE_MARKER not in response.content.decode()
    error(client_for(world.user(role)).get(f"/api/tasklistitems/{rec(world, 'outside_task_item').pk}"), 404)


def test_a_resolution_becomes_a_line_then_a_plan_task(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    meeting, item = rec(world, "meeting"), rec(world, "item")
    meetings.meeting_record(actor=staff, meeting=meeting, present=[], minutes="纪要", items={item.pk: ("", "同意修补")})
    client = client_for(staff)
    body = {"meeting_item_id": item.pk, "owner_unit_id": world.units["village_committee"].pk, "deadline": "2026-12-31"}
    response = send(client, "/api/tasklistitems", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["title"], data["meeting_id"], data["status"]) == ("村道修补方案", meeting.pk, "todo")

    town = world.user(Role.TOWN_STAFF)
    today = timezone.localdate()
    plan = plan_services.plan_create(
        actor=town,
        title="甲镇民生实事方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=today - timedelta(days=30),
        ends_on=today + timedelta(days=300),
        status=PlanStatus.ACTIVE,
    )
    url = f"/api/tasklistitems/{data['id']}/plan"
    # A resident sees the line but not the plan; village staff see the plan but may not add to it.
    assert "plan_id" in error(send(client_for(world.user(Role.RESIDENT)), url, {"plan_id": plan.pk}), 404)["fields"]
    error(send(client_for(world.user("outside_staff")), url, {"plan_id": plan.pk}), 404)
    response = send(client_for(town), url, {"plan_id": plan.pk})
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["plan_id"] == plan.pk and out["plan_task_id"] and out["light"]
    line = TaskListItem.objects.get(pk=data["id"])
    assert line.plan_task is not None
    plan_services.report_submit(
        actor=staff,
        task=line.plan_task,
        unit=world.units["village_committee"],
        kind=ReportKind.PERCENT,
        percent=Decimal(40),
    )
    out = client_for(staff).get(f"/api/tasklistitems/{line.pk}").json()
    assert out["status"] == "doing" and Decimal(str(out["progress"])) == Decimal(40)
    assert client_for(staff).get("/api/tasklistitems", {"status": "doing"}).json()["count"] == 1
    error(send(client_for(town), url, {"plan_id": plan.pk}), 400)  # already in a plan


def test_bad_task_list_lines_change_nothing(world: World) -> None:
    client = client_for(world.user(Role.VILLAGE_STAFF))
    unit = world.units["village_committee"].pk
    before = snapshot()
    data = error(send(client, "/api/tasklistitems", {"owner_unit_id": unit, "deadline": "2026-12-31"}), 400)
    assert "source" in data["fields"]
    # An item not yet resolved, a vote still open, a unit out of reach, a bad date.
    error(
        send(
            client,
            "/api/tasklistitems",
            {"meeting_item_id": rec(world, "item").pk, "owner_unit_id": unit, "deadline": "2026-12-31"},
        ),
        400,
    )
    error(
        send(
            client,
            "/api/tasklistitems",
            {"vote_id": rec(world, "vote").pk, "owner_unit_id": unit, "deadline": "2026-12-31"},
        ),
        400,
    )
    error(
        send(
            client,
            "/api/tasklistitems",
            {"vote_id": rec(world, "vote").pk, "owner_unit_id": world.units["outside"].pk, "deadline": "2026-12-31"},
        ),
        404,
    )
    error(
        send(
            client,
            "/api/tasklistitems",
            {"vote_id": rec(world, "vote").pk, "owner_unit_id": unit, "deadline": "31/12/2026"},
        ),
        422,
    )
    error(
        send(
            client_for(world.user(Role.RESIDENT)),
            "/api/tasklistitems",
            {"vote_id": rec(world, "vote").pk, "owner_unit_id": unit, "deadline": "2026-12-31"},
        ),
        403,
    )
    error(
        send(
            client,
            f"/api/tasklistitems/{rec(world, 'task_item').pk}/plan",
            {"plan_id": world.extra["plans"]["outside_plan"].pk},
        ),
        404,
    )
    assert snapshot() == before
