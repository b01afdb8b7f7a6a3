"""Turning a case into a need on the community's problem list (case_to_need): the office of the
case's level only, no party data in the need, links both ways but the need never shows the case,
the case goes on, once per case — through the service, the API and the case page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from cocreate.cases import services
from cocreate.cases.models import Case, CaseChannel, CaseEvent, CaseLevel, CaseStatus, EventKind
from cocreate.cases.tests import helpers as h
from cocreate.conftest import ROLES, World
from cocreate.core.models import Role
from cocreate.participation.models import Need, NeedChannel, NeedStatus, ProblemItem, ProblemStatus

pytestmark = pytest.mark.django_db
S = CaseStatus

TITLE = "村口路灯不亮"
DESCRIPTION = "村口到小学路段的路灯坏了半年，晚上行人经常摔倒，需要统一维修。"


def _convert(w: World, case: Case, actor: Any = None, **kwargs: Any) -> Case:
    kwargs.setdefault("title", TITLE)
    kwargs.setdefault("description", DESCRIPTION)
    kwargs.setdefault("category", "infrastructure")
    return services.case_to_need(actor=actor or h.office(w), case=case, **kwargs)


def _everything(case: Case) -> dict[str, Any]:
    return {**h.snapshot(case), "needs": Need.objects.count(), "problems": ProblemItem.objects.count()}


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="cocreate.core.hotpath.UserBackend")
    return client


def _post_api(user: Any, case: Case, body: dict[str, Any]) -> Any:
    return _client(user).post(f"/api/cases/{case.pk}/to-need", data=json.dumps(body), content_type="application/json")


# --- The service ------------------------------------------------------------------------------------------


def test_the_office_lists_a_need_for_the_community_and_the_case_goes_on(world: World) -> None:
    case = h.register_for_visitor(world)
    for step in h.PATHS[S.IN_PROGRESS]:
        case = step(world, case)
    case.refresh_from_db()
    version = case.version
    office = h.office(world)

    _convert(world, case)

    case.refresh_from_db()
    assert case.status == S.IN_PROGRESS  # the applicant's own dispute still gets its answer
    assert case.version == version + 1
    need = case.need
    assert need is not None
    assert need.region == world.regions["village_a"]  # the community, not the grid of the case
    assert need.channel == NeedChannel.CASE
    assert need.raised_by_id == office.person_id and need.recorded_by == office
    assert need.status == NeedStatus.LISTED
    assert (need.title, need.description, need.category) == (TITLE, DESCRIPTION, "infrastructure")
    problem = need.problem
    assert problem is not None and problem.status == ProblemStatus.OPEN and problem.title == TITLE
    event = CaseEvent.objects.get(case=case, version=case.version)
    assert event.kind == EventKind.TO_NEED and event.actor == office
    assert event.from_status == event.to_status == S.IN_PROGRESS
    assert event.data == {"need": need.pk, "problem": problem.pk}
    # Nothing of the parties travelled.
    for text in (need.title, need.description, problem.title, problem.description):
        assert "王大妈" not in text and h.NON_ACCOUNT_PHONE not in text and "李四" not in text


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("title", "王大妈家门口路灯不亮"),  # the applicant's name
        ("description", "联系电话 138-1234-5678，路灯不亮"),  # the applicant's phone, however written
        ("description", "身份证 990101195001011234 的村民反映"),  # the applicant's ID number
        ("description", "与李四家之间的路灯不亮"),  # the other party's name
        ("description", "对方电话13911110000"),  # the other party's phone
    ],
)
def test_text_with_party_data_is_refused_and_changes_nothing(world: World, field: str, text: str) -> None:
    case = h.register_for_visitor(world)
    case = h.PATHS[S.ACCEPTED][0](world, case)
    case.refresh_from_db()
    before = _everything(case)
    with pytest.raises(ValidationError) as exc:
        _convert(world, case, **{field: text})
    assert exc.value.error_dict[field][0].code == "party_data"
    assert _everything(case) == before


def test_a_case_is_turned_into_a_need_once(world: World) -> None:
    case = h.case_in(world, S.TRIAGED)
    _convert(world, case)
    before = _everything(case)
    with pytest.raises(ValidationError) as exc:
        _convert(world, case, title="另一个议题")
    assert exc.value.error_dict["case"][0].code == "already_converted"
    assert _everything(case) == before


def test_a_closed_case_may_still_become_a_need(world: World) -> None:
    case = h.case_in(world, S.CLOSED)
    _convert(world, case)
    case.refresh_from_db()
    assert case.status == S.CLOSED and case.need_id is not None


@pytest.mark.parametrize("status", [S.REGISTERED, S.DECLINED, S.MERGED])
def test_not_from_registered_declined_or_merged(world: World, status: str) -> None:
    case = h.case_in(world, status)
    before = _everything(case)
    with pytest.raises(ValidationError) as exc:
        _convert(world, case)
    assert exc.value.error_dict["status"][0].code == "invalid_state"
    assert _everything(case) == before


def test_a_county_case_cannot_be_listed_by_a_county_department(world: World) -> None:
    """The county office (部门工作人员) does not manage a village's problem list."""
    dept = world.user(Role.DEPT_STAFF)
    case = services.case_register(
        actor=dept,
        region=world.regions["village_a"],
        channel=CaseChannel.WALKIN,
        description="村口路灯坏了",
        applicant=services.PartyData(name="赵六", phone="13812340001"),
    )
    assert case.level == CaseLevel.COUNTY
    services.case_accept(actor=dept, case=case)
    before = _everything(case)
    with pytest.raises(PermissionDenied):
        _convert(world, case, actor=dept)
    assert _everything(case) == before
    page = _client(dept).get(reverse("cases:case_detail", args=[case.pk]))
    assert page.status_code == 200 and 'id="action-to_need"' not in page.content.decode()


def test_a_town_case_is_listed_by_the_town_office(world: World) -> None:
    town = world.user(Role.TOWN_STAFF)
    case = services.case_register(
        actor=town,
        region=world.regions["village_a"],
        channel=CaseChannel.WALKIN,
        description="村口路灯坏了",
        applicant=services.PartyData(name="赵六", phone="13812340001"),
    )
    assert case.level == CaseLevel.TOWN
    services.case_accept(actor=town, case=case)
    _convert(world, case, actor=town)
    case.refresh_from_db()
    assert case.need is not None and case.need.region == world.regions["village_a"]


# --- Every role through the API ---------------------------------------------------------------------------


def test_every_role_through_the_api(world: World) -> None:
    callers: dict[str, Any] = {role: world.user(role) for role in ROLES}
    callers["outside_staff"] = world.users["outside_staff"]
    callers["superuser"] = world.users["superuser"]
    callers["anonymous"] = None
    case = h.case_in(world, S.IN_PROGRESS)
    body = {"title": TITLE, "description": DESCRIPTION, "category": "infrastructure"}
    # Who may read the case is told "not yours" (403); who may not is told "no such case" (404).
    expected = {
        Role.RESIDENT: 403,  # the applicant
        Role.GRID_WORKER: 404,
        Role.TOWN_STAFF: 403,
        Role.DEPT_STAFF: 403,
        Role.INSPECTOR: 403,
        Role.LEADER: 403,
        Role.SCHOOL_STAFF: 403,  # the lead unit
        Role.ADMIN: 404,
        "outside_staff": 404,
        "anonymous": 401,
        # A superuser may act but has no person to raise the need as.
        "superuser": 400,
    }
    for name, status in expected.items():
        before = _everything(case)
        response = _post_api(callers[name], case, body)
        assert response.status_code == status, (name, response.content.decode())
        assert response.json()["error"]
        assert _everything(case) == before, name
    response = _post_api(world.user(Role.VILLAGE_STAFF), case, {**body, "expected_version": case.version})
    assert response.status_code == 200, response.content.decode()
    result = response.json()
    case.refresh_from_db()
    assert result["need_id"] == case.need_id is not None
    assert result["status"] == S.IN_PROGRESS


def test_the_api_refuses_party_data_and_bad_input_with_codes(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    resident_name = h.applicant(world).person.name
    office = h.office(world)
    before = _everything(case)
    bad = _post_api(
        office, case, {"title": f"{resident_name}反映路灯", "description": DESCRIPTION, "category": "governance"}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "party_data"
    assert _post_api(office, case, {"title": TITLE, "description": DESCRIPTION, "category": "nope"}).status_code == 422
    stale = {"title": TITLE, "description": DESCRIPTION, "category": "governance", "expected_version": case.version + 1}
    assert _post_api(office, case, stale).status_code == 409
    assert _everything(case) == before


# --- Pages ------------------------------------------------------------------------------------------------


def test_the_case_page_offers_the_form_to_the_office_only_and_links_the_need(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    url = reverse("cases:case_detail", args=[case.pk])
    office = _client(h.office(world))
    page = office.get(url).content.decode()
    assert 'id="action-to_need"' in page and "请删除姓名、电话" in page
    assert case.description in page  # pre-filled from the case, for the office to edit
    for role in (Role.RESIDENT, Role.TOWN_STAFF, Role.SCHOOL_STAFF, Role.INSPECTOR):
        assert 'id="action-to_need"' not in _client(world.user(role)).get(url).content.decode(), role

    action = reverse("cases:case_to_need", args=[case.pk])
    name = h.applicant(world).person.name
    needs_before = Need.objects.count()
    refused = office.post(
        action,
        {
            "title": TITLE,
            "description": f"{name}说{DESCRIPTION}",
            "category": "governance",
            "expected_version": case.version,
        },
    )
    assert refused.status_code == 400 and "当事人的姓名" in refused.content.decode()
    assert Need.objects.count() == needs_before

    done = office.post(
        action, {"title": TITLE, "description": DESCRIPTION, "category": "governance", "expected_version": case.version}
    )
    assert done.status_code == 302
    case.refresh_from_db()
    page = office.get(url).content.decode()
    assert reverse("participation:need_detail", args=[case.need_id]) in page
    assert 'id="action-to_need"' not in page  # once only

    # The resident's own page does not show the link; the need's page shows nothing of the case.
    resident = _client(h.applicant(world))
    assert 'id="case-need"' not in resident.get(url).content.decode()
    need_page = resident.get(reverse("participation:need_detail", args=[case.need_id]))
    assert need_page.status_code == 200
    text = need_page.content.decode()
    assert TITLE in text
    assert case.number not in text and case.tracking_code not in text
    # Residents do not even see where it came from; the community's staff see the channel.
    assert "矛盾纠纷转入" not in text
    assert "矛盾纠纷转入" in office.get(reverse("participation:need_detail", args=[case.need_id])).content.decode()
