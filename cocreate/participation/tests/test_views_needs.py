"""Pages of needs and the problem list, for each role that matters; bad input changes nothing;
the community's needs index takes the same number of queries for 10 and 100 needs a page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cocreate.conftest import World
from cocreate.core.models import Attachment, Notification, Person, Role
from cocreate.participation import needs
from cocreate.participation.models import Need, NeedChannel, NeedStatus, NeedSupport, ProblemItem, ProblemStatus
from cocreate.participation.tests.helpers import people
from cocreate.participation.tests.test_needs import Community, build_community, png, raise_need

pytestmark = pytest.mark.django_db


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world)


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"participation:{name}", args=args)


NEED_DATA = {
    "title": "垃圾桶太少",
    "description": "三组路口只有一个垃圾桶",
    "category": "environment",
    "place": "三组路口",
}


# --- Residents ---------------------------------------------------------------------------------------------


def test_a_resident_raises_a_need_with_a_photo_and_sees_it_in_my_needs(c: Community) -> None:
    client = client_for(c.raiser)
    assert client.get(url("need_create")).status_code == 200
    response = client.post(url("need_create"), {**NEED_DATA, "photos": [png()]})
    assert response.status_code == 302
    need = Need.objects.get(title="垃圾桶太少")
    assert response["Location"] == url("need_detail", need.pk)
    assert (need.channel, need.raised_by_id) == (NeedChannel.SELF, c.raiser.person_id)
    assert Attachment.objects.filter(object_id=str(need.pk), content_type__model="need").count() == 1
    page = client.get(url("need_mine")).content.decode()
    assert "垃圾桶太少" in page and "待处理" in page
    detail = client.get(url("need_detail", need.pk)).content.decode()
    assert "attachments/" in detail and "我提出的" in detail


def test_a_need_without_a_photo_is_fine(c: Community) -> None:
    response = client_for(c.raiser).post(url("need_create"), NEED_DATA)
    assert response.status_code == 302
    assert Need.objects.filter(title="垃圾桶太少").exists()


def test_bad_input_reshows_the_form_and_changes_nothing(c: Community) -> None:
    client = client_for(c.raiser)
    before = Need.objects.count()
    response = client.post(url("need_create"), {**NEED_DATA, "title": ""})
    assert response.status_code == 400
    assert "三组路口只有一个垃圾桶" in response.content.decode()  # the input is kept
    bad = SimpleUploadedFile("virus.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg")
    response = client.post(url("need_create"), {**NEED_DATA, "photos": [bad]})
    assert response.status_code == 400
    assert "不支持的文件类型" in response.content.decode()
    assert Need.objects.count() == before
    assert not Attachment.objects.filter(content_type__model="need").exists()


def test_an_unverified_resident_is_told_why_they_cannot_raise(world: World) -> None:
    client = client_for(world.user(Role.RESIDENT))
    response = client.get(url("need_create"), follow=True)
    assert "尚未核实" in response.content.decode()
    client.post(url("need_create"), NEED_DATA)
    assert not Need.objects.filter(title="垃圾桶太少").exists()


def test_a_neighbour_seconds_from_the_list_and_sees_the_count_not_the_names(c: Community) -> None:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[1], need=need)
    client = client_for(c.neighbours[0])
    listing = client.get(url("need_list")).content.decode()
    assert need.title in listing and url("need_second", need.pk) in listing
    response = client.post(url("need_second", need.pk), {"next": url("need_list")})
    assert response.status_code == 302 and response["Location"] == url("need_list")
    client.post(url("need_second", need.pk))  # a repeat is fine
    assert NeedSupport.objects.filter(need=need).count() == 2
    detail = client.get(url("need_detail", need.pk)).content.decode()
    assert "2 人附议" in detail and "已附议" in detail
    assert c.neighbours[1].person.name not in detail  # type: ignore[union-attr]
    assert c.raiser.person.name not in detail  # type: ignore[union-attr]


def test_the_raiser_has_no_second_button_and_a_post_changes_nothing(c: Community) -> None:
    need = raise_need(c.raiser)
    client = client_for(c.raiser)
    assert url("need_second", need.pk) not in client.get(url("need_detail", need.pk)).content.decode()
    response = client.post(url("need_second", need.pk), follow=True)
    assert "不能附议自己提出的诉求" in response.content.decode()
    assert not NeedSupport.objects.filter(need=need).exists()


def test_a_resident_elsewhere_gets_404(c: Community) -> None:
    need = raise_need(c.raiser)
    client = client_for(c.elsewhere)
    assert need.title not in client.get(url("need_list")).content.decode()
    assert client.get(url("need_detail", need.pk)).status_code == 404
    assert client.post(url("need_second", need.pk)).status_code == 404
    assert not NeedSupport.objects.filter(need=need).exists()


def test_residents_cannot_reach_staff_pages(c: Community) -> None:
    need = raise_need(c.raiser)
    client = client_for(c.neighbours[0])
    assert client.get(url("need_screening")).status_code == 403
    assert client.get(url("need_record")).status_code == 403
    for name in ("need_merge", "need_screen", "need_decline"):
        assert client.post(url(name, need.pk), {"reason": "x"}).status_code in (403, 404)
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED


def test_anonymous_callers_are_sent_to_login(c: Community) -> None:
    need = raise_need(c.raiser)
    client = Client()
    for path in (url("need_list"), url("need_mine"), url("need_detail", need.pk), url("problemitem_list")):
        response = client.get(path)
        assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(url("need_second", need.pk)).status_code == 302
    assert not NeedSupport.objects.filter(need=need).exists()


# --- Grid worker and staff ----------------------------------------------------------------------------


def test_a_grid_worker_records_a_need_on_a_home_visit(c: Community) -> None:
    person = Person.objects.create(name="一组老人", region=c.world.regions["grid_a"])
    client = client_for(c.staff(Role.GRID_WORKER))
    assert "一组老人" in client.get(url("need_record")).content.decode()
    response = client.post(url("need_record"), {**NEED_DATA, "person": person.pk})
    assert response.status_code == 302
    need = Need.objects.get(title="垃圾桶太少")
    assert (need.channel, need.raised_by, need.recorded_by) == (NeedChannel.VISIT, person, c.staff(Role.GRID_WORKER))
    # Someone outside their area is not offered and not accepted.
    response = client.post(url("need_record"), {**NEED_DATA, "title": "别处", "person": c.world.people["a2"].pk})
    assert response.status_code == 400
    assert not Need.objects.filter(title="别处").exists()


def test_village_staff_screen_merge_and_decline(c: Community) -> None:
    one = raise_need(c.raiser, "路灯不亮")
    two = raise_need(c.neighbours[0], "路灯坏了")
    three = raise_need(c.neighbours[1], "想办广场舞")
    four = raise_need(c.neighbours[2], "村口太黑")
    client = client_for(c.staff())
    queue = client.get(url("need_screening")).content.decode()
    assert all(n.title in queue for n in (one, two, three))
    filtered = client.get(url("need_screening"), {"category": "environment"}).content.decode()
    assert "路灯不亮" not in filtered

    page = client.get(url("need_merge", two.pk)).content.decode()
    assert "路灯不亮" in page
    assert client.post(url("need_merge", two.pk), {"into": one.pk}).status_code == 302
    two.refresh_from_db()
    assert two.status == NeedStatus.MERGED and two.merged_into == one

    response = client.post(url("need_screen", one.pk), {"title": "村口照明", "others": [four.pk]})
    assert response.status_code == 302
    problem = ProblemItem.objects.get(title="村口照明")
    assert set(problem.needs.values_list("pk", flat=True)) == {one.pk, four.pk}

    response = client.post(url("need_decline", three.pk), {"reason": ""})
    assert response.status_code == 400
    three.refresh_from_db()
    assert three.status == NeedStatus.SUBMITTED
    assert client.post(url("need_decline", three.pk), {"reason": "场地不足，建议到镇文化站"}).status_code == 302
    three.refresh_from_db()
    assert three.status == NeedStatus.DECLINED
    mine = client_for(c.neighbours[1]).get(url("need_mine")).content.decode()
    assert "场地不足，建议到镇文化站" in mine
    assert Notification.objects.filter(user=c.neighbours[1]).count() == 1


def test_staff_see_the_supporters_names(c: Community) -> None:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[0], need=need)
    page = client_for(c.staff()).get(url("need_detail", need.pk)).content.decode()
    assert c.neighbours[0].person.name in page  # type: ignore[union-attr]
    assert c.raiser.person.name in page  # type: ignore[union-attr]


def test_town_staff_run_the_problem_list(c: Community) -> None:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[0], need=need)
    problem = needs.need_screen(actor=c.staff(), needs=[need], title="村口照明")
    client = client_for(c.staff(Role.TOWN_STAFF))
    listing = client.get(url("problemitem_list")).content.decode()
    assert "村口照明" in listing
    detail = client.get(url("problemitem_detail", problem.pk)).content.decode()
    assert need.title in detail and "1 人附议" in detail
    response = client.post(url("problemitem_status", problem.pk), {"status": "dropped", "reason": ""}, follow=True)
    assert "请填写状态说明" in response.content.decode()
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.OPEN
    client.post(url("problemitem_status", problem.pk), {"status": "done", "reason": "已安装"})
    need.refresh_from_db()
    assert need.status == NeedStatus.DONE


def test_residents_see_the_problem_list_but_cannot_change_it(c: Community) -> None:
    need = raise_need(c.raiser)
    problem = needs.need_screen(actor=c.staff(), needs=[need], title="村口照明")
    client = client_for(c.neighbours[0])
    assert "村口照明" in client.get(url("problemitem_list")).content.decode()
    page = client.get(url("problemitem_detail", problem.pk)).content.decode()
    assert url("problemitem_status", problem.pk) not in page
    assert client.post(url("problemitem_status", problem.pk), {"status": "done"}).status_code == 404
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.OPEN


def test_outside_staff_get_404(c: Community) -> None:
    need = raise_need(c.raiser)
    problem = c.world.extra["participation"]["problem"]
    client = client_for(c.world.users["outside_staff"])
    for path in (url("need_detail", need.pk), url("need_merge", need.pk), url("problemitem_detail", problem.pk)):
        assert client.get(path).status_code == 404
    assert client.post(url("need_decline", need.pk), {"reason": "x"}).status_code == 404
    assert client.post(url("need_screen", need.pk), {}).status_code == 404
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED
    assert need.title not in client.get(url("need_screening")).content.decode()


# --- Speed ----------------------------------------------------------------------------------------------


def _fill(c: Community, n: int) -> None:
    region = c.world.regions["village_a"]
    raisers = people(region, 3)
    Need.objects.bulk_create(
        [
            Need(region=region, title=f"诉求{i}", description="内容", category="governance", raised_by=raisers[i % 3])
            for i in range(n)
        ]
    )
    rows = list(Need.objects.filter(title__startswith="诉求"))
    NeedSupport.objects.bulk_create([NeedSupport(need=need, person=p) for need in rows for p in raisers[:2]])


def _count_queries(client: Client, params: dict[str, str]) -> int:
    # A first request refreshes the session's idle timeout (a write); count a steady request.
    client.get(url("need_list"), params)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("need_list"), params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("order", ["new", "support"])
def test_the_needs_index_takes_the_same_queries_for_10_and_100_a_page(c: Community, settings: Any, order: str) -> None:
    client = client_for(c.neighbours[0])
    _fill(c, 10)
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 10
    ten = _count_queries(client, {"order": order})
    _fill(c, 90)
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 100
    hundred = _count_queries(client, {"order": order})
    page = client.get(url("need_list"), {"order": order}).content.decode()
    assert page.count('class="card mb-2"') == 100
    assert ten == hundred, (ten, hundred)


def test_my_needs_take_the_same_queries_for_few_and_many(c: Community, settings: Any) -> None:
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 100
    client = client_for(c.raiser)
    raise_need(c.raiser, "一")
    client.get(url("need_mine"))  # the first request refreshes the session (a write)
    with CaptureQueriesContext(connection) as few:
        client.get(url("need_mine"))
    for i in range(20):
        raise_need(c.raiser, f"诉求{i}")
    with CaptureQueriesContext(connection) as many:
        client.get(url("need_mine"))
    assert len(few) == len(many)


def test_residents_read_the_needs_ten_to_a_page_on_their_phones(c: Community) -> None:
    _fill(c, 12)
    client = client_for(c.neighbours[0])
    first = client.get(url("need_list")).content.decode()
    second = client.get(url("need_list"), {"page": 2}).content.decode()
    listed = Need.objects.filter(region=c.world.regions["village_a"]).exclude(status="merged").count()
    assert listed > 10
    assert first.count('class="card mb-2"') == 10
    assert second.count('class="card mb-2"') == listed - 10
