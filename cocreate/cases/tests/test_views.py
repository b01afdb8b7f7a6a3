"""The pages of grievance cases: intake, work queue, a case's page with its transition forms, tracking."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cocreate.cases.models import Case, CaseEvent, CaseStatus, Party, PartyRole, Rating
from cocreate.cases.tests import helpers as h
from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import PersonalDataAccess, Role

pytestmark = pytest.mark.django_db
S = CaseStatus


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def detail(case: Case) -> str:
    return reverse("cases:case_detail", args=[case.pk])


def act(case: Case, slug: str) -> str:
    return reverse(f"cases:case_{slug}", args=[case.pk])


def visitor_case(world: World, status: str = S.REGISTERED) -> Case:
    case = h.register_for_visitor(world)
    for step in h.PATHS[status]:
        case = step(world, case)
    case.refresh_from_db()
    return case


def intake_data(world: World, **changes: Any) -> dict[str, Any]:
    data = {
        "region": world.regions["grid_a"].pk,
        "channel": "visit",
        "applicant_name": "赵大爷",
        "applicant_phone": "13812340000",
        "applicant_id_number": "",
        "other_name": "钱二",
        "other_phone": "",
        "category": h.category().pk,
        "urgency": "urgent",
        "place": "甲村一组晒谷场",
        "description": "晒谷场被邻居占用，协商不成",
    }
    data.update(changes)
    return data


# --- Who gets which page ----------------------------------------------------------------------------------


def test_pages_per_role(world: World) -> None:
    inside = world.extra["cases"]["case"]
    outside = world.extra["cases"]["outside_case"]
    queue = reverse("cases:case_queue_list")
    anonymous = client_for(None)
    for url in (
        queue,
        detail(inside),
        reverse("cases:case_intake_form"),
        reverse("cases:case_parties", args=[inside.pk]),
    ):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    assert anonymous.get(reverse("cases:case_track")).status_code == 200

    office = client_for(world.user(Role.VILLAGE_STAFF))
    assert office.get(queue).status_code == 200
    assert office.get(detail(inside)).status_code == 200
    assert office.get(detail(outside)).status_code == 404
    assert office.get(reverse("cases:case_intake_done", args=[outside.pk])).status_code == 404

    # A resident sees no work queue, but their own case (they are its applicant) and the intake form.
    resident = client_for(world.user(Role.RESIDENT))
    assert resident.get(queue).status_code == 403
    page = resident.get(detail(inside))
    assert page.status_code == 200
    timeline = page.content.decode().split('id="case-timeline"')[1]
    assert "重办" in timeline and world.user(Role.VILLAGE_STAFF).display_name not in timeline  # no staff names
    assert resident.get(reverse("cases:case_parties", args=[inside.pk])).status_code == 404
    form = resident.get(reverse("cases:case_intake_form"))
    assert form.status_code == 200 and "我要反映矛盾纠纷" in form.content.decode()

    # School staff are staff but read no cases that are not their unit's; admins cannot register one.
    assert client_for(world.user(Role.SCHOOL_STAFF)).get(detail(inside)).status_code == 404
    assert client_for(world.user(Role.ADMIN)).get(reverse("cases:case_intake_form")).status_code == 403
    grid = client_for(world.user(Role.GRID_WORKER)).get(reverse("cases:case_intake_form"))
    assert grid.status_code == 200 and OUTSIDE_MARKER not in grid.content.decode()


def test_nav_entries(world: World) -> None:
    grid_home = client_for(world.user(Role.GRID_WORKER)).get(reverse("cases:case_queue_list")).content.decode()
    assert "案件受理" in grid_home and "待办案件" in grid_home
    resident_home = client_for(world.user(Role.RESIDENT)).get(reverse("core:home")).content.decode()
    assert "待办案件" not in resident_home and "案件受理" not in resident_home


def test_wrong_methods_answer_405(world: World) -> None:
    case = world.extra["cases"]["case"]
    office = client_for(world.user(Role.VILLAGE_STAFF))
    assert office.get(act(case, "accept")).status_code == 405
    assert office.get(reverse("cases:case_track_rate")).status_code == 405
    assert client_for(None).put(reverse("cases:case_track")).status_code == 405


# --- Intake ------------------------------------------------------------------------------------------------


def test_grid_worker_registers_a_case_and_sees_number_and_code(world: World) -> None:
    grid = client_for(world.user(Role.GRID_WORKER))
    response = grid.post(reverse("cases:case_intake_form"), intake_data(world))
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get(description="晒谷场被邻居占用，协商不成")
    assert response["Location"] == reverse("cases:case_intake_done", args=[case.pk])
    assert case.channel == "visit" and case.urgency == "urgent" and case.region == world.regions["grid_a"]
    applicant = case.parties.get(role=PartyRole.APPLICANT)
    assert applicant.name == "赵大爷" and applicant.phone == "13812340000"
    assert case.parties.get(role=PartyRole.OTHER_PARTY).name == "钱二"
    done = grid.get(response["Location"]).content.decode()
    assert f'id="tracking-code">{case.tracking_code}<' in done and case.number in done


def test_bad_intake_reshows_the_form_and_saves_nothing(world: World) -> None:
    grid = client_for(world.user(Role.GRID_WORKER))
    before = (Case.objects.count(), Party.objects.count())
    for data, reason in (
        (intake_data(world, description=""), "必填"),
        (intake_data(world, applicant_phone="12ab"), "请输入正确的电话号码"),
        (intake_data(world, applicant_phone=""), "请填写申请人的联系电话"),
        (intake_data(world, applicant_id_number="123"), "身份证号应为18位"),
        (intake_data(world, other_phone="999"), "请输入正确的电话号码"),
        (intake_data(world, region=world.regions["village_b"].pk), "选择一个有效的选项"),
    ):
        response = grid.post(reverse("cases:case_intake_form"), data)
        page = response.content.decode()
        assert response.status_code == 400, data
        assert reason in page, (reason, page[:200])
        assert "晒谷场被邻居占用" in page or not data["description"]  # the input is kept
    assert (Case.objects.count(), Party.objects.count()) == before


# --- Work queue ------------------------------------------------------------------------------------------


def test_queue_tabs_mask_parties_and_flag_deadlines(world: World) -> None:
    registered = visitor_case(world)
    dispatched = visitor_case(world, S.DISPATCHED)
    office = client_for(world.user(Role.VILLAGE_STAFF))
    page = office.get(reverse("cases:case_queue_list") + "?tab=intake").content.decode()
    assert registered.number in page and dispatched.number not in page
    assert "王**" in page and "138****5678" in page
    assert h.NON_ACCOUNT_PHONE not in page and "王大妈" not in page

    lead = client_for(world.user(Role.SCHOOL_STAFF))
    page = lead.get(reverse("cases:case_queue_list") + "?tab=sign").content.decode()
    assert dispatched.number in page and registered.number not in page
    # Overdue: red badge on the row and in the tab.
    Case.objects.filter(pk=dispatched.pk).update(step_due_at=h.later(-1))
    page = lead.get(reverse("cases:case_queue_list") + "?tab=overdue").content.decode()
    assert dispatched.number in page and "text-bg-danger" in page and "已超期" in page
    Case.objects.filter(pk=dispatched.pk).update(step_due_at=h.later(0.1))
    page = lead.get(reverse("cases:case_queue_list") + "?tab=soon").content.decode()
    assert dispatched.number in page and "text-bg-warning" in page


def _queue_queries(client: Client) -> int:
    cache.clear()  # the tab counts are cached per data version and time slot: measure them computed
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("cases:case_queue_list") + "?tab=intake")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_queue_queries_do_not_grow_with_cases(world: World) -> None:
    office = client_for(world.user(Role.VILLAGE_STAFF))
    for _i in range(5):
        visitor_case(world)
    _queue_queries(office)  # the first request fills per-process caches (menu, calendar)
    few = _queue_queries(office)
    for _i in range(45):
        visitor_case(world)
    assert Case.objects.filter(status=S.REGISTERED).count() >= 50
    assert _queue_queries(office) == few


# --- A case's page and its transitions ---------------------------------------------------------------------


def test_a_transition_through_its_form(world: World) -> None:
    case = visitor_case(world)
    office = client_for(world.user(Role.VILLAGE_STAFF))
    page = office.get(detail(case)).content.decode()
    assert 'id="action-accept"' in page and 'id="action-sign"' not in page
    response = office.post(act(case, "accept"), {"expected_version": case.version, "note": "符合受理条件"})
    assert response.status_code == 302 and response["Location"] == detail(case)
    case.refresh_from_db()
    assert case.status == S.ACCEPTED
    assert CaseEvent.objects.filter(case=case, kind="accepted", note="符合受理条件").exists()


def test_only_allowed_actions_are_offered_and_errors_reshow(world: World) -> None:
    case = visitor_case(world, S.DISPATCHED)
    office = client_for(world.user(Role.VILLAGE_STAFF)).get(detail(case)).content.decode()
    lead = client_for(world.user(Role.SCHOOL_STAFF))
    page = lead.get(detail(case)).content.decode()
    assert 'id="action-sign"' not in office
    assert 'id="action-sign"' in page and 'id="action-return"' in page and 'id="action-accept"' not in page
    # A return without a reason: the page comes back with the reason, nothing changes.
    before = h.snapshot(case)
    response = lead.post(act(case, "return"), {"expected_version": case.version, "reason": ""})
    assert response.status_code == 400
    assert 'id="action-return" open' in response.content.decode()
    assert h.snapshot(case) == before
    # Someone who may not act on it: 404, nothing changes.
    assert (
        client_for(world.user(Role.RESIDENT)).post(act(case, "sign"), {"expected_version": case.version}).status_code
        == 404
    )
    assert h.snapshot(case) == before
    response = lead.post(act(case, "sign"), {"expected_version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.SIGNED


def test_stale_version_says_someone_else_updated_it(world: World) -> None:
    case = visitor_case(world)
    office = client_for(world.user(Role.VILLAGE_STAFF))
    seen = case.version
    office.post(act(case, "accept"), {"expected_version": seen})  # the first staff member
    response = office.post(act(case, "decline"), {"expected_version": seen, "reason": "litigation"}, follow=True)
    assert "已被他人更新" in response.content.decode()
    case.refresh_from_db()
    assert case.status == S.ACCEPTED


def test_full_party_view_is_for_handlers_and_logged(world: World) -> None:
    case = visitor_case(world)
    office = client_for(world.user(Role.VILLAGE_STAFF))
    page = office.get(detail(case)).content.decode()
    assert "查看完整信息" in page and h.NON_ACCOUNT_PHONE not in page and "138****5678" in page
    assert PersonalDataAccess.objects.count() == 0
    full = office.get(reverse("cases:case_parties", args=[case.pk]))
    assert full.status_code == 200
    text = full.content.decode()
    assert h.NON_ACCOUNT_PHONE in text and "王大妈" in text and "990101195001011234" in text
    row = PersonalDataAccess.objects.get(object_id=str(case.parties.get(role=PartyRole.APPLICANT).pk))
    assert row.user == world.user(Role.VILLAGE_STAFF) and "phone" in row.fields
    # The town reads village cases but does not handle them: no full view.
    town = client_for(world.user(Role.TOWN_STAFF))
    assert town.get(detail(case)).status_code == 200
    assert "查看完整信息" not in town.get(detail(case)).content.decode()
    assert town.get(reverse("cases:case_parties", args=[case.pk])).status_code == 404


# --- Tracking and rating by code + phone ---------------------------------------------------------------------


def test_tracking_by_code_and_phone(world: World) -> None:
    case = visitor_case(world, S.IN_PROGRESS)
    anonymous = client_for(None)
    url = reverse("cases:case_track")
    found = anonymous.post(url, {"code": case.tracking_code.lower(), "phone": h.NON_ACCOUNT_PHONE})
    page = found.content.decode()
    assert found.status_code == 200 and case.number in page and "办理中" in page
    assert "王**" in page and h.NON_ACCOUNT_PHONE not in page and "电话联系了申请人" not in page
    assert 'id="rate-form"' not in page  # not replied yet
    wrong_phone = anonymous.post(url, {"code": case.tracking_code, "phone": "13800000000"})
    wrong_code = anonymous.post(url, {"code": "ABCDEFGHJK", "phone": h.NON_ACCOUNT_PHONE})
    assert wrong_phone.status_code == wrong_code.status_code == 400
    assert case.number not in wrong_phone.content.decode()

    def body(response: Any) -> str:
        return response.content.decode().split('class="alert alert-danger"')[1].split("</div></div>")[0]

    assert "没有找到" in body(wrong_phone) and body(wrong_phone) == body(wrong_code)


def test_rating_through_the_tracking_page(world: World) -> None:
    case = visitor_case(world, S.REPLIED)
    anonymous = client_for(None)
    page = anonymous.post(reverse("cases:case_track"), {"code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE})
    assert 'id="rate-form"' in page.content.decode()
    rating = {"resolved": "1", "satisfaction": "satisfied", "efficiency": "basic", "leader_rating": "satisfied"}
    # The wrong phone cannot rate, and is told the same as for a wrong code.
    refused = anonymous.post(
        reverse("cases:case_track_rate"), {**rating, "code": case.tracking_code, "phone": "13800000000"}
    )
    assert refused.status_code == 400 and "没有找到" in refused.content.decode()
    assert not Rating.objects.filter(case=case).exists()
    # Missing answers re-show the form.
    incomplete = anonymous.post(
        reverse("cases:case_track_rate"), {"code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE, "resolved": "1"}
    )
    assert incomplete.status_code == 400 and 'id="rate-form"' in incomplete.content.decode()
    done = anonymous.post(
        reverse("cases:case_track_rate"), {**rating, "code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE}
    )
    assert done.status_code == 200 and "已办结" in done.content.decode()
    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert Rating.objects.get(case=case).channel == "tracking"


def test_applicant_account_rates_on_the_case_page(world: World) -> None:
    case = h.case_in(world, S.REPLIED)
    resident = client_for(world.user(Role.RESIDENT))
    assert 'id="action-rate"' in resident.get(detail(case)).content.decode()
    response = resident.post(
        act(case, "rate"),
        {
            "expected_version": case.version,
            "resolved": "0",
            "satisfaction": "dissatisfied",
            "efficiency": "basic",
            "leader_rating": "basic",
            "comment": "还没解决",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.DISSATISFIED


def test_reviewers_see_returns_and_offices_see_dissatisfied(world: World) -> None:
    returned = visitor_case(world, S.RETURNED)
    dissatisfied = h.case_in(world, S.DISSATISFIED)
    town = client_for(world.user(Role.TOWN_STAFF))
    page = town.get(reverse("cases:case_queue_list") + "?tab=review").content.decode()
    assert returned.number in page and dissatisfied.number not in page  # rework rounds remain
    assert 'id="action-review_return"' in town.get(detail(returned)).content.decode()
    office = client_for(world.user(Role.VILLAGE_STAFF))
    page = office.get(reverse("cases:case_queue_list") + "?tab=rework").content.decode()
    assert dissatisfied.number in page and returned.number not in page
    # The village office reviews nothing of its own level.
    assert returned.number not in office.get(reverse("cases:case_queue_list") + "?tab=review").content.decode()


def test_resident_reports_for_themselves(world: World) -> None:
    resident = world.user(Role.RESIDENT)
    response = client_for(resident).post(
        reverse("cases:case_intake_form"),
        intake_data(world, region=world.regions["village_a"].pk, channel="self", applicant_name="", applicant_phone=""),
    )
    assert response.status_code == 302
    case = Case.objects.get(description="晒谷场被邻居占用，协商不成")
    assert case.channel == "self" and case.created_by == resident
    applicant = case.parties.get(role=PartyRole.APPLICANT)
    assert applicant.person_id == resident.person_id and applicant.phone == resident.phone
    # Another village is not theirs to report in.
    refused = client_for(resident).post(
        reverse("cases:case_intake_form"), intake_data(world, region=world.regions["village_a2"].pk, channel="self")
    )
    assert refused.status_code == 400 and Case.objects.count() == 1 + 2  # the world's two cases
