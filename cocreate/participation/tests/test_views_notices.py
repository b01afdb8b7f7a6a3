"""Notice pages: staff list, create, publish and answer; residents read a notice on the phone,
object while it runs (a refusal re-shows the form with the reason), and see their objections."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.participation.models import Notice, NoticeStatus, Objection, ObjectionStatus
from cocreate.participation.tests.helpers import account
from cocreate.plans.tests.test_api import as_user

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def _client(world: World, who: str) -> Client:
    if who == "anonymous":
        return Client()
    if who == "elsewhere":
        return as_user(account(world.people["a2"]))
    return as_user(world.users[who])


def url(name: str, *args: Any) -> str:
    return reverse(f"participation:{name}", args=args)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Role.RESIDENT, 200),
        (Role.VILLAGE_STAFF, 200),
        (Role.TOWN_STAFF, 200),
        ("elsewhere", 404),
        ("outside_staff", 404),
        ("anonymous", 302),
    ],
)
def test_the_notice_page_by_role(world: World, who: str, status: int) -> None:
    response = _client(world, who).get(url("notice_detail", rec(world, "notice").pk))
    assert response.status_code == status


def test_a_resident_sees_the_period_the_form_and_only_their_objection(world: World) -> None:
    notice = rec(world, "notice")
    Objection.objects.create(notice=notice, person=world.people["a_member"], text="邻居的异议")
    page = _client(world, Role.RESIDENT).get(url("notice_detail", notice.pk)).content.decode()
    assert "公示期" in page and f"{notice.ends_on:%Y-%m-%d}" in page
    assert 'id="cc-objection-form"' in page
    assert "预算偏高" in page and "邻居的异议" not in page
    assert url("notice_publish", notice.pk) not in page


def test_staff_see_every_objection_with_an_answer_link(world: World) -> None:
    notice, objection = rec(world, "notice"), rec(world, "objection")
    page = _client(world, Role.VILLAGE_STAFF).get(url("notice_detail", notice.pk)).content.decode()
    assert url("notice_objection_answer", notice.pk, objection.pk) in page
    assert objection.person.name in page


def test_a_resident_objects_from_the_phone_page(world: World) -> None:
    notice = rec(world, "notice")
    response = _client(world, Role.RESIDENT).post(url("notice_objection_add", notice.pk), {"text": "名单有误"})
    assert response.status_code == 302
    assert Objection.objects.filter(notice=notice, text="名单有误").exists()


def test_an_objection_after_the_period_re_shows_the_page_with_the_reason(world: World) -> None:
    today = timezone.localdate()
    notice = Notice.objects.create(
        region=world.regions["village_a"],
        title="已过期公示",
        body="内容",
        starts_on=today - timedelta(days=10),
        ends_on=today - timedelta(days=4),
        status=NoticeStatus.PUBLISHED,
    )
    page = _client(world, Role.RESIDENT).get(url("notice_detail", notice.pk)).content.decode()
    assert 'id="cc-objection-form"' not in page and "不再受理异议" in page
    response = _client(world, Role.RESIDENT).post(url("notice_objection_add", notice.pk), {"text": "晚了"})
    assert response.status_code == 400
    assert "不能再提出异议" in response.content.decode() and "晚了" in response.content.decode()
    assert not Objection.objects.filter(notice=notice).exists()


@pytest.mark.parametrize(("who", "status"), [("elsewhere", 404), ("outside_staff", 404), (Role.TOWN_STAFF, 400)])
def test_others_cannot_object(world: World, who: str, status: int) -> None:
    notice = rec(world, "notice")
    before = Objection.objects.count()
    response = _client(world, who).post(url("notice_objection_add", notice.pk), {"text": "异议"})
    assert response.status_code == status
    assert Objection.objects.count() == before


def test_an_empty_objection_is_re_shown(world: World) -> None:
    response = _client(world, Role.RESIDENT).post(url("notice_objection_add", rec(world, "notice").pk), {"text": ""})
    assert response.status_code == 400


def test_my_objections_with_answers(world: World) -> None:
    objection = rec(world, "objection")
    Objection.objects.filter(pk=objection.pk).update(status=ObjectionStatus.ANSWERED, answer="预算已核减")
    page = _client(world, Role.RESIDENT).get(url("objection_mine")).content.decode()
    assert "预算偏高" in page and "预算已核减" in page
    assert "预算偏高" not in _client(world, Role.VILLAGE_STAFF).get(url("objection_mine")).content.decode()


def test_staff_create_and_publish_a_notice(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    assert client.get(url("notice_create")).status_code == 200
    today = timezone.localdate()
    data = {
        "region": world.regions["village_a"].pk,
        "title": "低保公示",
        "body": "名单",
        "starts_on": f"{today}",
        "days": 7,
    }
    response = client.post(url("notice_create"), data)
    assert response.status_code == 302
    notice = Notice.objects.get(title="低保公示")
    assert notice.ends_on == today + timedelta(days=6) and notice.status == NoticeStatus.DRAFT
    assert client.post(url("notice_publish", notice.pk)).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED


def test_bad_notice_input_is_re_shown(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    data = {"region": world.regions["village_a"].pk, "title": "公示", "body": "", "starts_on": "x", "days": 0}
    response = client.post(url("notice_create"), data)
    assert response.status_code == 400
    assert not Notice.objects.filter(title="公示").exists()


@pytest.mark.parametrize(("who", "status"), [(Role.RESIDENT, 403), ("anonymous", 302)])
def test_residents_do_not_manage_notices(world: World, who: str, status: int) -> None:
    client = _client(world, who)
    assert client.get(url("notice_create")).status_code == status
    notice = rec(world, "notice")
    assert client.post(url("notice_publish", notice.pk)).status_code == status


def test_staff_answer_an_objection_on_its_page(world: World) -> None:
    notice, objection = rec(world, "notice"), rec(world, "objection")
    client = _client(world, Role.VILLAGE_STAFF)
    answer_url = url("notice_objection_answer", notice.pk, objection.pk)
    page = client.get(answer_url)
    assert page.status_code == 200 and "预算偏高" in page.content.decode()
    assert client.post(answer_url, {"result": "answered", "answer": ""}).status_code == 400
    assert client.post(answer_url, {"result": "answered", "answer": "预算经审核合理"}).status_code == 302
    objection.refresh_from_db()
    assert objection.status == ObjectionStatus.ANSWERED and objection.answer == "预算经审核合理"
    assert _client(world, "outside_staff").get(answer_url).status_code == 404


def test_an_ended_notice_cannot_be_edited(world: World) -> None:
    notice = rec(world, "notice")
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.ENDED, passed=False)
    client = _client(world, Role.VILLAGE_STAFF)
    response = client.post(url("notice_edit", notice.pk), {"title": "改", "body": "改", "starts_on": "2026-01-01"})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.title != "改"


def test_the_list_shows_what_the_caller_may_see(world: World) -> None:
    page = _client(world, Role.RESIDENT).get(url("notice_list")).content.decode()
    assert rec(world, "notice").title in page and "ZZOUT" not in page
    assert _client(world, Role.VILLAGE_STAFF).get(url("notice_list"), {"status": "draft"}).status_code == 200
    assert _client(world, Role.VILLAGE_STAFF).get(url("notice_history", rec(world, "notice").pk)).status_code == 200
