"""The grievance API through HTTP: each role's view, every transition, refusals that change nothing,
stale versions, masked and full parties, tracking and rating by code + phone, constant list queries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cocreate.cases import services
from cocreate.cases.models import Case, CaseEvent, CaseLevel, ExtensionRequest, Rating, RatingChannel
from cocreate.cases.tests import helpers as h
from cocreate.conftest import OUTSIDE_MARKER, ROLES, World
from cocreate.core.models import PersonalDataAccess, Role, User

pytestmark = pytest.mark.django_db

BACKEND = "cocreate.core.hotpath.UserBackend"
S = h.S


def login(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend=BACKEND)
    return client


def send(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()
    body: dict[str, Any] = response.json()
    assert body["error"] and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


def visitor_case(world: World, status: str = S.REGISTERED) -> Case:
    """A case recorded by the grid worker for 王大妈 (no account), driven to ``status``."""
    case = h.register_for_visitor(world)
    for step in h.PATHS[status]:
        case = step(world, case)
    case.refresh_from_db()
    return case


# --- Reading ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_list_is_scoped_and_masked_for_every_role(world: World, role: str) -> None:
    case = visitor_case(world)
    response = login(world.user(role)).get("/api/cases")
    assert response.status_code == 200
    text = response.content.decode()
    assert OUTSIDE_MARKER not in text
    # Full phones and ID numbers never appear in a list, whoever asks.
    for secret in (h.NON_ACCOUNT_PHONE, "990101195001011234", "13700000000", "990101199001011234"):
        assert secret not in text
    numbers = {item["number"] for item in response.json()["items"]}
    sees_visitor_case = role in (Role.GRID_WORKER, Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF)
    sees_visitor_case = sees_visitor_case or role in (Role.INSPECTOR, Role.LEADER)
    assert (case.number in numbers) == sees_visitor_case, (role, numbers)
    if sees_visitor_case:
        item = next(i for i in response.json()["items"] if i["number"] == case.number)
        assert item["applicant_name"] == "王**" and item["applicant_phone"] == "138****5678"
        assert "tracking_code" not in item


def test_unauthenticated_is_401(world: World) -> None:
    assert_error(Client().get("/api/cases"), 401, "unauthenticated")
    assert_error(send(Client(), "/api/cases", {"region_id": 1}), 401, "unauthenticated")


def test_list_filters(world: World) -> None:
    registered = visitor_case(world)
    dispatched = h.case_in(world, S.DISPATCHED, title="狗叫扰民")
    Case.objects.filter(pk=dispatched.pk).update(due_at=timezone.now() - timedelta(hours=1), urgency="urgent")
    client = login(h.office(world))

    def numbers(**params: Any) -> set[str]:
        response = client.get("/api/cases", params)
        assert response.status_code == 200, response.content
        return {item["number"] for item in response.json()["items"]}

    world_case = world.extra["cases"]["case"]
    assert numbers() == {registered.number, dispatched.number, world_case.number}
    assert numbers(status="registered") == {registered.number}
    assert numbers(level=5) >= {registered.number, dispatched.number}
    assert numbers(level=4) == set()
    assert numbers(category="neighbour") == {dispatched.number, world_case.number}
    assert numbers(urgency="urgent") == {dispatched.number}
    assert numbers(region=world.regions["grid_a"].pk) == {registered.number}
    assert numbers(unit=world.units["school"].pk) == {dispatched.number}
    assert numbers(overdue="true") == {dispatched.number}
    assert dispatched.number not in numbers(overdue="false")
    assert numbers(search="狗叫") == {dispatched.number}
    assert numbers(search=registered.number) == {registered.number}
    assert_error(client.get("/api/cases", {"status": "nonsense"}), 422)
    # A filter naming a region or unit the caller cannot see is the usual 404.
    assert_error(client.get("/api/cases", {"region": world.regions["village_b"].pk}), 404)
    item = client.get("/api/cases", {"overdue": "true"}).json()["items"][0]
    assert item["is_overdue"] is True and item["lead_unit_name"] == "甲村小学"


def test_categories(world: World) -> None:
    body = login(world.user(Role.RESIDENT)).get("/api/cases/categories").json()
    assert {"code": "neighbour", "name": "邻里纠纷"} in body and len(body) == 11


def test_detail_full_parties_only_for_handling_staff_and_logged(world: World) -> None:
    case = visitor_case(world)
    url = f"/api/cases/{case.pk}"
    before = PersonalDataAccess.objects.count()

    body = login(h.office(world)).get(url).json()
    assert body["parties_full"] is True
    applicant = next(p for p in body["parties"] if p["role"] == "applicant")
    assert applicant == {**applicant, "name": "王大妈", "phone": h.NON_ACCOUNT_PHONE, "full": True}
    assert applicant["id_number"] == "990101195001011234"
    assert body["tracking_code"] == case.tracking_code
    assert [e["kind"] for e in body["events"]] == ["registered"]
    assert body["events"][0]["actor_name"] == world.user(Role.GRID_WORKER).display_name
    logged = PersonalDataAccess.objects.filter(
        user=h.office(world), object_id__in=[str(p.pk) for p in case.parties.all()]
    )
    assert PersonalDataAccess.objects.count() == before + 2 and logged.count() == 2
    assert all(row.context == f"api:GET {url}" for row in logged)

    # A reader (the county's inspector) sees the case, but masked, and nothing is logged.
    count = PersonalDataAccess.objects.count()
    body = login(world.user(Role.INSPECTOR)).get(url).json()
    assert body["parties_full"] is False and body["tracking_code"] == ""
    applicant = next(p for p in body["parties"] if p["role"] == "applicant")
    assert applicant["name"] == "王**" and applicant["phone"] == "138****5678" and applicant["full"] is False
    assert applicant["id_number"] == "9901**********1234"
    assert h.NON_ACCOUNT_PHONE not in json.dumps(body, ensure_ascii=False)
    assert PersonalDataAccess.objects.count() == count
    # The recorder (grid worker) may see it and its code, but not the parties in full.
    body = login(world.user(Role.GRID_WORKER)).get(url).json()
    assert body["parties_full"] is False and body["tracking_code"] == case.tracking_code
    assert PersonalDataAccess.objects.count() == count


def test_applicant_account_sees_own_case_masked_without_staff_names(world: World) -> None:
    case = h.case_in(world, S.SIGNED)
    body = login(h.applicant(world)).get(f"/api/cases/{case.pk}").json()
    assert body["parties_full"] is False and body["tracking_code"] == case.tracking_code
    assert all(e["actor_name"] == "" for e in body["events"])
    assert body["pending_extension"] is None and body["pending_return"] is None
    events = login(h.applicant(world)).get(f"/api/cases/{case.pk}/events").json()
    assert [e["kind"] for e in events] == ["registered", "accepted", "triaged", "dispatched", "signed"]


def test_out_of_scope_and_missing_ids_are_404(world: World) -> None:
    outside = world.extra["cases"]["outside_case"]
    client = login(h.office(world))
    for url in (f"/api/cases/{outside.pk}", f"/api/cases/{outside.pk}/events", "/api/cases/999999"):
        assert_error(client.get(url), 404, "not_found")
    # The school is not the lead unit of a registered case: it cannot see it at all.
    case = visitor_case(world)
    assert_error(login(h.lead(world)).get(f"/api/cases/{case.pk}"), 404)


# --- Intake -------------------------------------------------------------------------------------------------


def test_register_by_resident_and_by_grid_worker(world: World) -> None:
    body = {"region_id": world.regions["village_a"].pk, "channel": "self", "description": "楼上漏水"}
    response = send(login(h.applicant(world)), "/api/cases", body)
    assert response.status_code == 201, response.content
    created = response.json()
    case = Case.objects.get(pk=created["id"])
    assert created["number"] == case.number and created["tracking_code"] == case.tracking_code
    assert created["status"] == "registered" and created["level"] == CaseLevel.VILLAGE and created["version"] == 1

    visit = {
        "region_id": world.regions["grid_a"].pk,
        "channel": "visit",
        "description": "承包地边界被挪动",
        "category": "land_forest",
        "urgency": "urgent",
        "applicant": {"name": "赵大爷", "phone": "13811112222"},
        "other_parties": [{"name": "钱某"}],
    }
    response = send(login(world.user(Role.GRID_WORKER)), "/api/cases", visit)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.parties.count() == 2 and case.category is not None and case.category.code == "land_forest"
    assert response.json()["applicant_phone"] == "138****2222"


def test_register_refusals_change_nothing(world: World) -> None:
    count = Case.objects.count()
    base = {"region_id": world.regions["village_a"].pk, "description": "x"}
    # A resident cannot record a visit; a school teacher cannot take a walk-in.
    assert_error(send(login(h.applicant(world)), "/api/cases", {**base, "channel": "visit"}), 403, "forbidden")
    assert_error(send(login(h.lead(world)), "/api/cases", {**base, "channel": "walkin"}), 403)
    # Without the applicant's phone the case could never be followed.
    no_phone = {**base, "channel": "walkin", "applicant": {"name": "孙某"}}
    body = assert_error(send(login(h.office(world)), "/api/cases", no_phone), 400, "required")
    assert "applicant_phone" in body["fields"]
    bad_phone = {**base, "channel": "walkin", "applicant": {"name": "孙某", "phone": "12"}}
    assert_error(send(login(h.office(world)), "/api/cases", bad_phone), 400)
    assert_error(send(login(h.office(world)), "/api/cases", {**base, "channel": "walkin", "category": "x"}), 400)
    # A region outside the caller's scope is 404, naming the field.
    outside = {**base, "channel": "walkin", "region_id": world.regions["village_b"].pk}
    body = assert_error(send(login(h.office(world)), "/api/cases", outside), 404)
    assert "region_id" in body["fields"]
    assert_error(send(login(h.office(world)), "/api/cases", {**base, "channel": "fax"}), 422)
    assert Case.objects.count() == count


# --- Every transition through the API --------------------------------------------------------------------------

Body = Callable[[World, Case], dict[str, Any]]


def _pending_extension(w: World, c: Case) -> None:
    services.case_extension_request(actor=h.lead(w), case=c, days=3, reason="需要现场测量")


def _followup_over(w: World, c: Case) -> None:
    Case.objects.filter(pk=c.pk).update(step_due_at=timezone.now() - timedelta(minutes=1))


def _rework_exhausted(w: World, c: Case) -> None:
    Case.objects.filter(pk=c.pk).update(rework_round=services.max_rework_rounds())


TRIAGE = {"category": "neighbour", "risk": "low", "complexity": "simple"}
RATING = {"resolved": True, "satisfaction": "satisfied", "efficiency": "basic", "leader_rating": "satisfied"}

# action, from, who (helpers' role function), body, expected status, preparation
TRANSITION_CASES: list[tuple[str, str, Callable[[World], Any], Body, str, Callable[[World, Case], None] | None]] = [
    ("accept", S.REGISTERED, h.office, lambda w, c: {"note": "受理"}, S.ACCEPTED, None),
    ("decline", S.REGISTERED, h.office, lambda w, c: {"reason": "litigation"}, S.DECLINED, None),
    ("answer", S.REGISTERED, h.office, lambda w, c: {"answer": "已当场解释政策"}, S.CLOSED, None),
    (
        "triage",
        S.ACCEPTED,
        h.office,
        lambda w, c: {"category": "neighbour", "risk": "low", "complexity": "simple"},
        S.TRIAGED,
        None,
    ),
    ("dispatch", S.TRIAGED, h.office, lambda w, c: {"lead_unit_id": w.units["school"].pk}, S.DISPATCHED, None),
    ("sign", S.DISPATCHED, h.lead, lambda w, c: {}, S.SIGNED, None),
    ("return", S.DISPATCHED, h.lead, lambda w, c: {"reason": "不属学校职责"}, S.RETURNED, None),
    (
        "return-decision",
        S.RETURNED,
        h.reviewer,
        lambda w, c: {"redispatch": False, "note": "请继续办理"},
        S.DISPATCHED,
        None,
    ),
    ("contact", S.SIGNED, h.lead, lambda w, c: {"note": "电话联系"}, S.IN_PROGRESS, None),
    ("reply", S.IN_PROGRESS, h.lead, lambda w, c: {"answer": "已调解"}, S.REPLIED, None),
    ("rate", S.REPLIED, h.applicant, lambda w, c: dict(RATING), S.CLOSED, None),
    ("rework", S.DISSATISFIED, h.office, lambda w, c: {"note": "再办一次"}, S.IN_PROGRESS, None),
    ("close", S.REPLIED, h.office, lambda w, c: {"resolved": True, "note": "回访满意"}, S.CLOSED, _followup_over),
    (
        "close-unreasonable",
        S.DISSATISFIED,
        h.reviewer,
        lambda w, c: {"note": "诉求超出政策"},
        S.CLOSED,
        _rework_exhausted,
    ),
    ("extension", S.IN_PROGRESS, h.lead, lambda w, c: {"days": 3, "reason": "需要测量"}, S.IN_PROGRESS, None),
    (
        "extension-decision",
        S.IN_PROGRESS,
        h.reviewer,
        lambda w, c: {"approve": True},
        S.IN_PROGRESS,
        _pending_extension,
    ),
    (
        "escalate",
        S.IN_PROGRESS,
        h.office,
        lambda w, c: {"reason": "beyond_capacity", "note": "涉及多村"},
        S.TRIAGED,
        None,
    ),
    ("merge", S.REGISTERED, h.office, lambda w, c: {"into_id": h.register(w).pk}, S.MERGED, None),
    (
        "to-need",
        S.IN_PROGRESS,
        h.office,
        lambda w, c: {"title": "村口路灯不亮", "description": "村口到学校路段路灯坏了", "category": "infrastructure"},
        S.IN_PROGRESS,
        None,
    ),
]


def test_every_transition_is_covered() -> None:
    from cocreate.cases.models import EventKind

    kinds = {
        "accept": EventKind.ACCEPTED,
        "decline": EventKind.DECLINED,
        "answer": EventKind.ANSWERED,
        "triage": EventKind.TRIAGED,
        "dispatch": EventKind.DISPATCHED,
        "sign": EventKind.SIGNED,
        "return": EventKind.RETURNED,
        "return-decision": EventKind.RETURN_DECIDED,
        "contact": EventKind.CONTACTED,
        "reply": EventKind.REPLIED,
        "rate": EventKind.RATED,
        "rework": EventKind.REWORKED,
        "close": EventKind.CLOSED,
        "close-unreasonable": EventKind.CLOSED_UNREASONABLE,
        "extension": EventKind.EXTENSION_REQUESTED,
        "extension-decision": EventKind.EXTENSION_DECIDED,
        "escalate": EventKind.ESCALATED,
        "merge": EventKind.MERGED,
        "to-need": EventKind.TO_NEED,
    }
    assert set(kinds.values()) == set(services.TRANSITIONS)
    assert {row[0] for row in TRANSITION_CASES} == set(kinds)


@pytest.mark.parametrize(
    ("action", "source", "who", "body", "target", "prepare"), TRANSITION_CASES, ids=[r[0] for r in TRANSITION_CASES]
)
def test_transition_through_the_api(
    world: World,
    action: str,
    source: str,
    who: Callable[[World], Any],
    body: Body,
    target: str,
    prepare: Callable[[World, Case], None] | None,
) -> None:
    case = h.case_in(world, source)
    if prepare is not None:
        prepare(world, case)
    case.refresh_from_db()
    payload = {**body(world, case), "expected_version": case.version}
    response = send(login(who(world)), f"/api/cases/{case.pk}/{action}", payload)
    assert response.status_code == 200, response.content.decode()
    result = response.json()
    case.refresh_from_db()
    assert result["status"] == case.status == target
    assert result["version"] == case.version == payload["expected_version"] + 1
    last = CaseEvent.objects.filter(case=case).order_by("-version").first()
    assert last is not None and last.version == case.version and last.actor == who(world)
    # What a transition answers is masked: no one's full phone.
    assert "13700000" not in response.content.decode()
    if action == "escalate":
        # Now a town case: the village office that escalated it got its answer, but no longer sees it.
        assert result["level"] == CaseLevel.TOWN
        assert_error(login(who(world)).get(f"/api/cases/{case.pk}"), 404)
        assert login(h.reviewer(world)).get(f"/api/cases/{case.pk}").status_code == 200


def test_extension_through_the_api_records_the_request_and_the_decision_moves_the_deadline(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    old_due = h.t(case.due_at)
    assert (
        send(login(h.lead(world)), f"/api/cases/{case.pk}/extension", {"days": 3, "reason": "测量"}).status_code == 200
    )
    request = ExtensionRequest.objects.get(case=case)
    detail = login(h.reviewer(world)).get(f"/api/cases/{case.pk}").json()
    assert detail["pending_extension"]["id"] == request.pk and detail["pending_extension"]["days"] == 3
    assert (
        send(login(h.reviewer(world)), f"/api/cases/{case.pk}/extension-decision", {"approve": True}).status_code == 200
    )
    case.refresh_from_db()
    assert h.t(case.due_at) > old_due


# --- Refusals change nothing ---------------------------------------------------------------------------------


def test_wrong_role_is_403_and_changes_nothing(world: World) -> None:
    case = h.case_in(world, S.REGISTERED)
    dispatched = h.case_in(world, S.DISPATCHED)
    replied = h.case_in(world, S.REPLIED)
    before, before_dispatched, before_replied = h.snapshot(case), h.snapshot(dispatched), h.snapshot(replied)
    # The inspector and the town may read the case, but only the village office accepts it.
    for user in (world.user(Role.INSPECTOR), h.reviewer(world), h.applicant(world)):
        assert_error(send(login(user), f"/api/cases/{case.pk}/accept", {}), 403, "forbidden")
    # The office cannot sign for the lead unit, nor rate for the applicant.
    assert_error(send(login(h.office(world)), f"/api/cases/{dispatched.pk}/sign", {}), 403)
    assert_error(send(login(h.office(world)), f"/api/cases/{replied.pk}/rate", RATING), 403)
    assert h.snapshot(case) == before
    assert h.snapshot(dispatched) == before_dispatched
    assert h.snapshot(replied) == before_replied


def test_wrong_state_is_400_with_a_code_and_changes_nothing(world: World) -> None:
    case = h.case_in(world, S.ACCEPTED)
    dissatisfied = h.case_in(world, S.DISSATISFIED)
    _rework_exhausted(world, dissatisfied)
    replied = h.case_in(world, S.REPLIED)
    before, before_dissatisfied, before_replied = h.snapshot(case), h.snapshot(dissatisfied), h.snapshot(replied)
    body = assert_error(send(login(h.office(world)), f"/api/cases/{case.pk}/accept", {}), 400, "invalid_state")
    assert "status" in body["fields"]
    assert_error(
        send(login(h.office(world)), f"/api/cases/{case.pk}/decline", {"reason": "litigation"}), 400, "invalid_state"
    )
    # Input the service refuses carries its own code too.
    assert_error(
        send(
            login(h.office(world)),
            f"/api/cases/{case.pk}/triage",
            {"category": "nope", "risk": "low", "complexity": "simple"},
        ),
        400,
        "choice",
    )
    assert_error(send(login(h.office(world)), f"/api/cases/{dissatisfied.pk}/rework", {}), 400, "rework_exhausted")
    assert_error(
        send(login(h.office(world)), f"/api/cases/{replied.pk}/close", {"resolved": True, "note": "x"}),
        400,
        "followup_running",
    )
    assert h.snapshot(case) == before
    assert h.snapshot(dissatisfied) == before_dissatisfied
    assert h.snapshot(replied) == before_replied


def test_out_of_scope_transition_is_404_and_changes_nothing(world: World) -> None:
    outside = world.extra["cases"]["outside_case"]
    case = h.case_in(world, S.REGISTERED)
    before, mine = h.snapshot(outside), h.snapshot(case)
    for action, body in (("reply", {"answer": "x"}), ("escalate", {"reason": "overdue"}), ("sign", {})):
        assert_error(send(login(h.office(world)), f"/api/cases/{outside.pk}/{action}", body), 404, "not_found")
    # The outside county's own staff cannot touch ours either.
    assert_error(send(login(world.users["outside_staff"]), f"/api/cases/{case.pk}/accept", {}), 404)
    # Nor merge one of ours into theirs (the target is addressed through the same scope).
    body = assert_error(
        send(login(h.office(world)), f"/api/cases/{case.pk}/merge", {"into_id": outside.pk}), 404, "not_found"
    )
    assert "into_id" in body["fields"]
    assert h.snapshot(outside) == before and h.snapshot(case) == mine


def test_stale_version_is_409_and_changes_nothing(world: World) -> None:
    case = h.case_in(world, S.TRIAGED)
    seen = case.version
    services.case_dispatch(actor=h.office(world), case=case, lead_unit=world.units["school"])
    case.refresh_from_db()
    before = h.snapshot(case)
    body = assert_error(
        send(login(h.lead(world)), f"/api/cases/{case.pk}/sign", {"expected_version": seen}), 409, "stale"
    )
    assert "version" in body["fields"]
    assert h.snapshot(case) == before
    response = send(login(h.lead(world)), f"/api/cases/{case.pk}/sign", {"expected_version": case.version})
    assert response.status_code == 200 and response.json()["status"] == "signed"


# --- Tracking and rating by code + phone (no account) ------------------------------------------------------------


def test_public_tracking_by_code_and_phone(world: World) -> None:
    case = visitor_case(world, S.REPLIED)
    client = Client()
    response = send(client, "/api/public/cases/track", {"code": case.tracking_code.lower(), "phone": "+86 13812345678"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == case.number and body["status"] == "replied" and body["can_rate"] is True
    assert body["applicant_name"] == "王**" and body["applicant_phone"] == "138****5678"
    assert [s["label"] for s in body["steps"]][:3] == ["登记", "受理", "研判分级"]
    text = response.content.decode()
    for secret in (h.NON_ACCOUNT_PHONE, "990101195001011234", h.lead(world).display_name, "电话联系了申请人"):
        assert secret not in text
    wrong_phone = send(client, "/api/public/cases/track", {"code": case.tracking_code, "phone": "13812345679"})
    wrong_code = send(client, "/api/public/cases/track", {"code": "ABCDEFGHJK", "phone": h.NON_ACCOUNT_PHONE})
    assert_error(wrong_phone, 404, "not_found")
    assert wrong_phone.json() == assert_error(wrong_code, 404, "not_found")
    assert_error(send(client, "/api/public/cases/track", {"code": case.tracking_code}), 422)


def test_public_rating_by_code_and_phone(world: World) -> None:
    case = visitor_case(world, S.REPLIED)
    client = Client()
    before = h.snapshot(case)
    wrong = {**RATING, "code": case.tracking_code, "phone": "13812345679"}
    assert_error(send(client, "/api/public/cases/rate", wrong), 404, "not_found")
    assert h.snapshot(case) == before
    stale = {**RATING, "code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE, "expected_version": 1}
    assert_error(send(client, "/api/public/cases/rate", stale), 409, "stale")
    assert h.snapshot(case) == before

    rating = {**RATING, "code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE, "comment": "谢谢"}
    response = send(client, "/api/public/cases/rate", rating)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed" and response.json()["can_rate"] is False
    saved = Rating.objects.get(case=case)
    assert saved.channel == RatingChannel.TRACKING and saved.comment == "谢谢" and saved.rated_by is None
    # Rating again: the case is no longer waiting for a rating.
    after = h.snapshot(case)
    assert_error(send(client, "/api/public/cases/rate", rating), 400, "invalid_state")
    assert h.snapshot(case) == after


# --- Query counts ------------------------------------------------------------------------------------------------


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/cases", {"limit": 200})
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_list_query_count_does_not_grow_with_cases(world: World) -> None:
    client = login(h.office(world))
    for _i in range(5):
        visitor_case(world)
    _list_queries(client)  # the session and the caller's scope are read once per client
    few = _list_queries(client)
    for _i in range(45):
        visitor_case(world)
    many = _list_queries(client)
    assert client.get("/api/cases", {"limit": 200}).json()["count"] == 51
    assert many == few, (few, many)
