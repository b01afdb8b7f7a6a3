"""Notices, objections and 四议两公开 through the REST API, for each kind of caller; every refused
or invalid call answers a 4xx with the error body and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Role, User
from cocreate.participation.models import (
    Decision,
    DecisionStatus,
    DecisionStep,
    Notice,
    NoticeStatus,
    Objection,
    ObjectionStatus,
    StepKind,
)
from cocreate.participation.tests.helpers import account
from cocreate.participation.tests.test_decisions import closed_vote
from cocreate.plans.tests.test_api import as_user, assert_error, send

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def _elsewhere(world: World) -> User:
    return account(world.people["a2"])


def _client(world: World, who: str) -> Client:
    if who == "anonymous":
        return Client()
    if who == "elsewhere":
        return as_user(_elsewhere(world))
    return as_user(world.users[who])


def _ended_notice(world: World) -> Notice:
    today = timezone.localdate()
    return Notice.objects.create(
        region=world.regions["village_a"],
        title="已过期公示",
        body="内容",
        starts_on=today - timedelta(days=10),
        ends_on=today - timedelta(days=4),
        status=NoticeStatus.PUBLISHED,
        published_at=timezone.now() - timedelta(days=10),
    )


# --- Notices ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Role.RESIDENT, 200),
        (Role.VILLAGE_STAFF, 200),
        (Role.TOWN_STAFF, 200),
        ("elsewhere", 404),
        ("outside_staff", 404),
        ("anonymous", 401),
    ],
)
def test_reading_a_notice_by_role(world: World, who: str, status: int) -> None:
    notice = rec(world, "notice")
    response = _client(world, who).get(f"/api/notices/{notice.pk}")
    assert response.status_code == status, response.content
    if status == 200:
        data = response.json()
        assert data["days"] == 8 and data["is_running"] is True
        # The world's objection is the resident's: staff and the resident see it, nobody else.
        assert [o["id"] for o in data["objections"]] == [rec(world, "objection").pk]


def test_the_notice_list_is_scoped(world: World) -> None:
    data = _client(world, Role.RESIDENT).get("/api/notices").json()
    assert [n["id"] for n in data["items"]] == [rec(world, "notice").pk]
    assert _client(world, "elsewhere").get("/api/notices").json()["items"] == []
    assert "ZZOUT" not in _client(world, Role.TOWN_STAFF).get("/api/notices").content.decode()


def test_staff_create_and_publish_a_notice(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    today = timezone.localdate()
    body = {"region_id": world.regions["village_a"].pk, "title": "低保公示", "body": "名单", "starts_on": f"{today}"}
    response = send(client, "post", "/api/notices", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["days"] == 7
    assert data["ends_on"] == f"{today + timedelta(days=6)}"
    response = send(client, "post", f"/api/notices/{data['id']}/publish")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert_error(send(client, "post", f"/api/notices/{data['id']}/publish"), 400, "invalid")


@pytest.mark.parametrize(("who", "status"), [(Role.RESIDENT, 403), ("outside_staff", 404), ("anonymous", 401)])
def test_others_cannot_create_notices(world: World, who: str, status: int) -> None:
    before = Notice.objects.count()
    body = {"region_id": world.regions["village_a"].pk, "title": "公示", "body": "内容", "starts_on": "2026-06-01"}
    response = send(_client(world, who), "post", "/api/notices", body)
    assert_error(response, status)
    assert Notice.objects.count() == before


def test_bad_notice_input_is_refused(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    base = {"region_id": world.regions["village_a"].pk, "title": "公示", "body": "内容", "starts_on": "2026-06-01"}
    assert_error(send(client, "post", "/api/notices", {**base, "days": 0}), 422)
    assert_error(send(client, "post", "/api/notices", {**base, "starts_on": "6/1"}), 422)
    assert_error(send(client, "post", "/api/notices", {**base, "title": " "}), 400)
    assert not Notice.objects.filter(title="公示").exists()


def test_a_resident_objects_while_the_notice_runs(world: World) -> None:
    notice = rec(world, "notice")
    response = send(_client(world, Role.RESIDENT), "post", f"/api/notices/{notice.pk}/objections", {"text": "有误"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "open" and response.json()["is_mine"] is True


def test_an_objection_after_the_period_is_a_clear_400_and_nothing_is_stored(world: World) -> None:
    notice = _ended_notice(world)
    response = send(_client(world, Role.RESIDENT), "post", f"/api/notices/{notice.pk}/objections", {"text": "晚了"})
    data = assert_error(response, 400, "invalid")
    assert "结束" in data["fields"]["notice"][0]
    assert not Objection.objects.filter(notice=notice).exists()


@pytest.mark.parametrize(
    ("who", "status"), [("elsewhere", 404), ("outside_staff", 404), ("anonymous", 401), (Role.TOWN_STAFF, 403)]
)
def test_only_residents_of_the_community_object(world: World, who: str, status: int) -> None:
    notice = rec(world, "notice")
    before = Objection.objects.count()
    assert_error(send(_client(world, who), "post", f"/api/notices/{notice.pk}/objections", {"text": "异议"}), status)
    assert Objection.objects.count() == before


def test_staff_answer_an_objection(world: World) -> None:
    notice, objection = rec(world, "notice"), rec(world, "objection")
    url = f"/api/notices/{notice.pk}/objections/{objection.pk}/answer"
    assert_error(send(_client(world, Role.RESIDENT), "post", url, {"upheld": False, "answer": "自答"}), 403)
    assert_error(send(_client(world, "outside_staff"), "post", url, {"upheld": False, "answer": "x"}), 404)
    assert_error(send(_client(world, Role.VILLAGE_STAFF), "post", url, {"upheld": False, "answer": ""}), 422)
    assert_error(send(_client(world, Role.VILLAGE_STAFF), "post", url, {"upheld": False, "answer": " "}), 400)
    objection.refresh_from_db()
    assert objection.status == ObjectionStatus.OPEN
    response = send(_client(world, Role.VILLAGE_STAFF), "post", url, {"upheld": True, "answer": "成立，重新核实"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "upheld"
    # An objection of another notice is not reachable under this one.
    other = rec(world, "outside_objection")
    url = f"/api/notices/{notice.pk}/objections/{other.pk}/answer"
    assert_error(send(_client(world, Role.VILLAGE_STAFF), "post", url, {"upheld": True, "answer": "x"}), 404)


# --- Decisions -------------------------------------------------------------------------------------------


def _new_decision(world: World) -> dict[str, Any]:
    body = {"region_id": world.regions["village_a"].pk, "title": "村集体厂房出租", "matter": "拟出租"}
    response = send(_client(world, Role.VILLAGE_STAFF), "post", "/api/decisions", body)
    assert response.status_code == 201, response.content
    return dict(response.json())


def _add(world: World, decision_id: int, kind: str, **extra: Any) -> Any:
    body = {"kind": kind, "done_on": f"{timezone.localdate()}", **extra}
    return send(_client(world, Role.VILLAGE_STAFF), "post", f"/api/decisions/{decision_id}/steps", body)


def test_a_record_through_the_api_from_proposal_to_result_disclosure(world: World) -> None:
    data = _new_decision(world)
    assert data["next_step"] == "proposal" and data["steps"] == []
    region = world.regions["village_a"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("proposal", {"attendance": 5}),
        ("consultation", {"attendance": 9}),
        ("review", {"vote_id": closed_vote(region, "party_members_meeting").pk}),
        ("resolution", {"vote_id": closed_vote(region, "villagers_meeting").pk}),
        ("disclosure", {"notes": "决议：厂房出租给某公司"}),
        ("result_disclosure", {"notes": "已签订合同"}),
    ]
    for kind, extra in steps:
        response = _add(world, data["id"], kind, **extra)
        assert response.status_code == 201, response.content
    final = _client(world, Role.RESIDENT).get(f"/api/decisions/{data['id']}").json()
    assert final["status"] == "completed" and final["next_step"] is None
    assert [s["kind"] for s in final["steps"]] == [k for k, _ in steps]
    assert final["steps"][2]["attendance"] == 30 and final["steps"][2]["vote_carried"] is True
    notice_ids = [s["notice_id"] for s in final["steps"][4:]]
    assert all(notice_ids)
    assert Notice.objects.filter(pk__in=notice_ids, status=NoticeStatus.PUBLISHED).count() == 2


def test_a_skipped_step_is_a_clear_400(world: World) -> None:
    data = _new_decision(world)
    response = _add(world, data["id"], "consultation")
    body = assert_error(response, 400, "invalid")
    assert "党支部提议" in body["fields"]["kind"][0]
    assert not DecisionStep.objects.filter(decision_id=data["id"]).exists()


def test_a_vote_of_another_village_or_still_open_is_refused(world: World) -> None:
    data = _new_decision(world)
    assert _add(world, data["id"], "proposal").status_code == 201
    assert _add(world, data["id"], "consultation").status_code == 201
    # Village staff cannot even see the other village's vote.
    other = closed_vote(world.regions["village_a2"], "party_members_meeting")
    body = assert_error(_add(world, data["id"], "review", vote_id=other.pk), 404, "not_found")
    assert "vote_id" in body["fields"]
    # Town staff see both villages: the service names the fault.
    town = as_user(world.user(Role.TOWN_STAFF))
    step = {"kind": "review", "done_on": f"{timezone.localdate()}", "vote_id": other.pk}
    body = assert_error(send(town, "post", f"/api/decisions/{data['id']}/steps", step), 400, "invalid")
    assert "不属于" in body["fields"]["vote"][0]
    body = assert_error(_add(world, data["id"], "review", vote_id=rec(world, "vote").pk), 400, "invalid")
    assert "尚未结束" in body["fields"]["vote"][0]
    assert DecisionStep.objects.filter(decision_id=data["id"]).count() == 2


def test_a_rejected_resolution_stops_the_record_through_the_api(world: World) -> None:
    data = _new_decision(world)
    region = world.regions["village_a"]
    for kind, extra in (
        ("proposal", {}),
        ("consultation", {}),
        ("review", {"vote_id": closed_vote(region, "party_members_meeting").pk}),
        ("resolution", {"vote_id": closed_vote(region, "representatives_meeting", carried=False).pk}),
    ):
        assert _add(world, data["id"], kind, **extra).status_code == 201
    assert Decision.objects.get(pk=data["id"]).status == DecisionStatus.REJECTED
    assert_error(_add(world, data["id"], "disclosure", notes="决议"), 400, "invalid")
    assert DecisionStep.objects.filter(decision_id=data["id"]).count() == 4


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        (Role.RESIDENT, 200, 403),
        ("elsewhere", 404, 404),
        (Role.VILLAGE_STAFF, 200, 201),
        (Role.TOWN_STAFF, 200, 201),
        ("outside_staff", 404, 404),
        ("anonymous", 401, 401),
    ],
)
def test_decisions_by_role(world: World, who: str, read: int, write: int) -> None:
    decision = rec(world, "decision")
    client = _client(world, who)
    assert client.get(f"/api/decisions/{decision.pk}").status_code == read
    body = {"kind": StepKind.CONSULTATION, "done_on": f"{timezone.localdate()}", "attendance": 7}
    response = send(client, "post", f"/api/decisions/{decision.pk}/steps", body)
    assert response.status_code == write, response.content
    assert DecisionStep.objects.filter(decision=decision).count() == (2 if write == 201 else 1)


def test_bad_step_input_is_a_422(world: World) -> None:
    decision = rec(world, "decision")
    client = _client(world, Role.VILLAGE_STAFF)
    for body in (
        {"kind": "skip", "done_on": "2026-06-01"},
        {"kind": "consultation", "done_on": 20260601},
        {"kind": "consultation", "done_on": "2026-06-01", "attendance": -1},
        {"kind": "consultation", "done_on": "2026-06-01", "vote_id": "5"},
    ):
        assert_error(send(client, "post", f"/api/decisions/{decision.pk}/steps", body), 422)
    assert DecisionStep.objects.filter(decision=decision).count() == 1
