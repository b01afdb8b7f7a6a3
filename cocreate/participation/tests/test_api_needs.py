"""The needs and problem-list API for each role: scoped lists, the same services as the pages,
4xx bodies for bad input that change nothing, and no supporter names for residents."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cocreate.conftest import World
from cocreate.core.models import Notification, Person, Role
from cocreate.participation import needs
from cocreate.participation.models import Need, NeedChannel, NeedStatus, NeedSupport, ProblemItem, ProblemStatus
from cocreate.participation.tests.test_needs import Community, build_community, raise_need

pytestmark = pytest.mark.django_db

BODY = {
    "title": "垃圾桶太少",
    "description": "三组路口只有一个垃圾桶",
    "category": "environment",
    "place": "三组路口",
}


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world)


def api(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(f"/api{path}", body if body is not None else {}, content_type="application/json")


def get(client: Client, path: str, **params: Any) -> Any:
    return client.get(f"/api{path}", params)


# --- Residents -----------------------------------------------------------------------------------------


def test_a_resident_raises_and_reads_their_need(c: Community) -> None:
    client = api(c.raiser)
    response = post(client, "/needs", {**BODY, "latitude": 30.123456, "longitude": 114.5})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "submitted" and data["is_mine"] is True and data["support_count"] == 0
    assert data["region_id"] == c.world.regions["village_a"].pk
    assert [h["status"] for h in data["history"]] == ["submitted"]
    need = Need.objects.get(pk=data["id"])
    assert need.channel == NeedChannel.SELF and str(need.latitude) == "30.123456"
    assert get(client, f"/needs/{need.pk}").json()["title"] == "垃圾桶太少"


@pytest.mark.parametrize(
    "body, field",
    [
        ({**BODY, "title": ""}, "title"),
        ({**BODY, "category": "weather"}, "category"),
        ({**BODY, "title": "  "}, "title"),
        ({**BODY, "latitude": 30.0}, "latitude"),
        ({**BODY, "person_id": "5"}, "person_id"),
    ],
)
def test_bad_input_answers_4xx_and_changes_nothing(c: Community, body: dict[str, Any], field: str) -> None:
    before = Need.objects.count()
    response = post(api(c.raiser), "/needs", body)
    assert response.status_code in (400, 422)
    data = response.json()
    assert data["error"] and data["detail"]
    assert field in str(data)
    assert Need.objects.count() == before


def test_an_unverified_resident_gets_403(world: World) -> None:
    response = post(api(world.user(Role.RESIDENT)), "/needs", BODY)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert not Need.objects.filter(title="垃圾桶太少").exists()


def test_support_is_idempotent_and_counts_without_names(c: Community) -> None:
    need = raise_need(c.raiser)
    client = api(c.neighbours[0])
    first = post(client, f"/needs/{need.pk}/support")
    again = post(client, f"/needs/{need.pk}/support")
    assert first.status_code == again.status_code == 200
    assert first.json()["created"] is True and again.json()["created"] is False
    assert again.json()["need"]["support_count"] == 1 and again.json()["need"]["supported_by_me"] is True
    assert NeedSupport.objects.filter(need=need).count() == 1
    detail = get(client, f"/needs/{need.pk}").content.decode()
    assert c.neighbours[0].person.name not in detail  # type: ignore[union-attr]
    assert c.raiser.person.name not in detail  # type: ignore[union-attr]


def test_support_refusals(c: Community) -> None:
    need = raise_need(c.raiser)
    own = post(api(c.raiser), f"/needs/{need.pk}/support")
    assert own.status_code == 400 and "不能附议自己" in str(own.json()["fields"])
    assert post(api(c.elsewhere), f"/needs/{need.pk}/support").status_code == 404
    assert post(api(c.world.users["outside_staff"]), f"/needs/{need.pk}/support").status_code == 404
    assert post(api(None), f"/needs/{need.pk}/support").status_code == 401
    needs.need_decline(actor=c.staff(), need=need, reason="不属于村级事务")
    declined = post(api(c.neighbours[0]), f"/needs/{need.pk}/support")
    assert declined.status_code == 400
    assert not NeedSupport.objects.filter(need=need).exists()


def test_lists_are_scoped_filtered_and_ordered(c: Community) -> None:
    quiet = raise_need(c.raiser, "少人附议", category="environment")
    popular = raise_need(c.raiser, "多人附议")
    theirs = raise_need(c.elsewhere, "乙村的事")
    for user in c.neighbours[:3]:
        needs.need_second(actor=user, need=popular)
    client = api(c.neighbours[0])
    ids = [row["id"] for row in get(client, "/needs", order="support").json()["items"]]
    assert theirs.pk not in ids
    assert ids.index(popular.pk) < ids.index(quiet.pk)
    assert [r["id"] for r in get(client, "/needs", category="environment").json()["items"]] == [quiet.pk]
    assert get(client, "/needs", status="declined").json()["count"] == 0
    assert get(client, "/needs", status="nonsense").status_code == 422
    assert get(client, f"/needs/{theirs.pk}").status_code == 404
    town = [row["id"] for row in get(api(c.staff(Role.TOWN_STAFF)), "/needs", limit=200).json()["items"]]
    assert theirs.pk in town and popular.pk in town
    outside = [row["id"] for row in get(api(c.world.users["outside_staff"]), "/needs").json()["items"]]
    assert popular.pk not in outside and theirs.pk not in outside


def test_anonymous_callers_get_401(c: Community) -> None:
    need = raise_need(c.raiser)
    for path in ("/needs", f"/needs/{need.pk}", "/problems"):
        assert get(api(None), path).status_code == 401
    assert post(api(None), "/needs", BODY).status_code == 401
    assert post(api(None), f"/needs/{need.pk}/decline", {"reason": "x"}).status_code == 401
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED


# --- Grid worker and staff ---------------------------------------------------------------------------------


def test_a_grid_worker_records_for_a_resident_of_their_grid(c: Community) -> None:
    person = Person.objects.create(name="一组老人", region=c.world.regions["grid_a"])
    client = api(c.staff(Role.GRID_WORKER))
    response = post(client, "/needs", {**BODY, "person_id": person.pk})
    assert response.status_code == 201, response.json()
    need = Need.objects.get(pk=response.json()["id"])
    assert (need.channel, need.raised_by, need.recorded_by) == (NeedChannel.VISIT, person, c.staff(Role.GRID_WORKER))
    elsewhere = post(client, "/needs", {**BODY, "title": "别处", "person_id": c.world.people["a2"].pk})
    assert elsewhere.status_code == 404 and elsewhere.json()["fields"] == {"person_id": ["所选对象不存在或无权访问"]}
    outside = post(client, "/needs", {**BODY, "title": "别处", "person_id": c.world.people["outside"].pk})
    assert outside.status_code == 404
    assert not Need.objects.filter(title="别处").exists()


def test_village_staff_merge_screen_and_decline(c: Community) -> None:
    one = raise_need(c.raiser, "路灯不亮")
    two = raise_need(c.neighbours[0], "路灯坏了")
    three = raise_need(c.neighbours[1], "想办广场舞")
    four = raise_need(c.neighbours[2], "村口太黑")
    needs.need_second(actor=c.neighbours[3], need=two)
    client = api(c.staff())

    merged = post(client, f"/needs/{two.pk}/merge", {"into_id": one.pk})
    assert merged.status_code == 200 and merged.json()["status"] == "merged"
    assert merged.json()["merged_into_id"] == one.pk
    assert supporters(one) == {c.neighbours[0].person_id, c.neighbours[3].person_id}

    screened = post(client, f"/needs/{one.pk}/screen", {"title": "村口照明", "also_ids": [four.pk]})
    assert screened.status_code == 200, screened.json()
    body = screened.json()
    assert body["title"] == "村口照明" and {n["id"] for n in body["needs"]} == {one.pk, four.pk}
    assert body["supporter_total"] == 2 and body["need_count"] == 2

    blank = post(client, f"/needs/{three.pk}/decline", {"reason": ""})
    assert blank.status_code == 422
    declined = post(client, f"/needs/{three.pk}/decline", {"reason": "场地不足"})
    assert declined.status_code == 200 and declined.json()["status_reason"] == "场地不足"
    again = post(client, f"/needs/{three.pk}/decline", {"reason": "再次"})
    assert again.status_code == 400
    assert Notification.objects.filter(user=c.neighbours[1]).count() == 1


def supporters(need: Need) -> set[int | None]:
    return set(NeedSupport.objects.filter(need=need).values_list("person_id", flat=True))


def test_screen_onto_an_existing_problem_and_refusals(c: Community) -> None:
    existing = c.world.extra["participation"]["problem"]
    need = raise_need(c.raiser)
    client = api(c.staff(Role.TOWN_STAFF))
    both = post(client, f"/needs/{need.pk}/screen", {"problem_id": existing.pk, "title": "又一个"})
    assert both.status_code == 400
    outside = c.world.extra["participation"]["outside_problem"]
    assert post(client, f"/needs/{need.pk}/screen", {"problem_id": outside.pk}).status_code == 404
    before = ProblemItem.objects.count()
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED and ProblemItem.objects.count() == before
    ok = post(client, f"/needs/{need.pk}/screen", {"problem_id": existing.pk})
    assert ok.status_code == 200 and ok.json()["id"] == existing.pk


def test_residents_and_grid_workers_cannot_screen(c: Community) -> None:
    need = raise_need(c.raiser)
    other = raise_need(c.neighbours[0], "二")
    for user in (c.neighbours[1], c.staff(Role.GRID_WORKER)):
        client = api(user)
        assert post(client, f"/needs/{need.pk}/merge", {"into_id": other.pk}).status_code == 403
        assert post(client, f"/needs/{need.pk}/screen", {}).status_code == 403
        assert post(client, f"/needs/{need.pk}/decline", {"reason": "x"}).status_code == 403
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED
    assert not NeedSupport.objects.filter(need=other).exists()


def test_outside_staff_get_404_and_change_nothing(c: Community) -> None:
    need = raise_need(c.raiser)
    client = api(c.world.users["outside_staff"])
    assert get(client, f"/needs/{need.pk}").status_code == 404
    assert post(client, f"/needs/{need.pk}/decline", {"reason": "x"}).status_code == 404
    assert post(client, f"/needs/{need.pk}/screen", {}).status_code == 404
    assert get(client, f"/problems/{c.world.extra['participation']['problem'].pk}").status_code == 404
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED


def test_problems_list_detail_and_status(c: Community) -> None:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[0], need=need)
    problem = needs.need_screen(actor=c.staff(), needs=[need], title="村口照明")
    resident = api(c.neighbours[0])
    rows = get(resident, "/problems").json()["items"]
    row = next(r for r in rows if r["id"] == problem.pk)
    assert (row["need_count"], row["supporter_total"]) == (1, 1)
    assert get(resident, "/problems", status="done").json()["count"] == 0
    detail = get(resident, f"/problems/{problem.pk}").json()
    assert detail["needs"] == [{"id": need.pk, "title": need.title, "status": "listed", "support_count": 1}]
    assert post(resident, f"/problems/{problem.pk}/status", {"status": "done"}).status_code == 403
    assert get(api(c.elsewhere), f"/problems/{problem.pk}").status_code == 404
    staff = api(c.staff(Role.TOWN_STAFF))
    assert post(staff, f"/problems/{problem.pk}/status", {"status": "dropped"}).status_code == 400
    done = post(staff, f"/problems/{problem.pk}/status", {"status": "done", "reason": "已安装"})
    assert done.status_code == 200 and done.json()["status"] == ProblemStatus.DONE
    need.refresh_from_db()
    assert need.status == NeedStatus.DONE
    mine = get(api(c.raiser), f"/needs/{need.pk}").json()
    assert [h["status"] for h in mine["history"]] == ["submitted", "listed", "done"]
