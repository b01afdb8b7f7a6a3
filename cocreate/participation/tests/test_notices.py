"""Public notices: the period, publishing once to the community, objections only while a notice
runs, answers, and the daily job that ends notices and records whether they passed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cocreate.conftest import World
from cocreate.core.models import Notification, Role, User
from cocreate.participation import jobs, notices
from cocreate.participation.models import Notice, NoticeStatus, Objection, ObjectionStatus
from cocreate.participation.tests.helpers import account

pytestmark = pytest.mark.django_db

START = date(2026, 6, 1)


def _notice(world: World, *, days: int = 7, publish: bool = True, **kw: Any) -> Notice:
    staff = world.user(Role.VILLAGE_STAFF)
    args: dict[str, Any] = {
        "actor": staff,
        "region": world.regions["village_a"],
        "title": "2026年低保评议结果公示",
        "body": "拟纳入低保对象如下……",
        "starts_on": START,
        "days": days,
    }
    args.update(kw)
    notice = notices.notice_create(**args)
    if publish:
        notice = notices.notice_publish(actor=staff, notice=notice, today=START)
    return notice


def _resident(world: World) -> User:
    return world.user(Role.RESIDENT)


def test_the_period_is_seven_days_by_default_and_counts_both_ends(world: World) -> None:
    notice = notices.notice_create(
        actor=world.user(Role.VILLAGE_STAFF),
        region=world.regions["village_a"],
        title="公示",
        body="内容",
        starts_on=START,
    )
    assert notice.ends_on == date(2026, 6, 7)
    assert notices.period_days(notice) == 7
    assert notice.status == NoticeStatus.DRAFT
    one_day = _notice(world, days=1, publish=False)
    assert one_day.ends_on == START


@pytest.mark.parametrize("days", [0, -1, 91])
def test_a_period_outside_one_to_ninety_days_is_refused(world: World, days: int) -> None:
    with pytest.raises(ValidationError) as exc:
        _notice(world, days=days, publish=False)
    assert "days" in exc.value.message_dict
    assert not Notice.objects.filter(title="2026年低保评议结果公示").exists()


def test_title_and_body_are_required(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        _notice(world, title="  ", body="", publish=False)
    assert set(exc.value.message_dict) == {"title", "body"}


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.GRID_WORKER, Role.DEPT_STAFF, "outside_staff"])
def test_only_community_managers_create_notices(world: World, role: str) -> None:
    with pytest.raises(PermissionDenied):
        notices.notice_create(
            actor=world.user(role), region=world.regions["village_a"], title="公示", body="内容", starts_on=START
        )


def test_town_staff_create_notices_in_their_villages(world: World) -> None:
    notice = notices.notice_create(
        actor=world.user(Role.TOWN_STAFF),
        region=world.regions["village_a2"],
        title="公示",
        body="内容",
        starts_on=START,
    )
    assert notice.region == world.regions["village_a2"]


def test_publishing_notifies_the_community_once(world: World) -> None:
    notice = _notice(world, publish=False)
    elsewhere = account(world.people["a2"])
    notices.notice_publish(actor=world.user(Role.VILLAGE_STAFF), notice=notice, today=START)
    told = set(Notification.objects.filter(url=notices.notice_url(notice)).values_list("user_id", flat=True))
    assert _resident(world).pk in told
    assert elsewhere.pk not in told
    assert world.user(Role.TOWN_STAFF).pk not in told  # lives in the town, not in the village
    with pytest.raises(ValidationError):
        notices.notice_publish(actor=world.user(Role.VILLAGE_STAFF), notice=notice, today=START)
    assert Notification.objects.filter(url=notices.notice_url(notice), user=_resident(world)).count() == 1


def test_a_notice_whose_period_is_over_cannot_be_published(world: World) -> None:
    notice = _notice(world, publish=False)
    with pytest.raises(ValidationError) as exc:
        notices.notice_publish(actor=world.user(Role.VILLAGE_STAFF), notice=notice, today=date(2026, 6, 8))
    assert "starts_on" in exc.value.message_dict
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT


def test_a_resident_objects_while_the_notice_runs(world: World) -> None:
    notice = _notice(world)
    first = notices.objection_lodge(actor=_resident(world), notice=notice, text="名单有误", today=START)
    last = notices.objection_lodge(actor=_resident(world), notice=notice, text="补充", today=date(2026, 6, 7))
    assert first.status == last.status == ObjectionStatus.OPEN
    assert first.person == _resident(world).person
    # The notice's author hears about it.
    assert Notification.objects.filter(user=world.user(Role.VILLAGE_STAFF), title__contains="异议").count() == 2


def test_no_objection_after_the_period(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(ValidationError) as exc:
        notices.objection_lodge(actor=_resident(world), notice=notice, text="晚了", today=date(2026, 6, 8))
    assert "2026-06-07" in exc.value.message_dict["notice"][0]
    assert not Objection.objects.filter(notice=notice).exists()


def test_no_objection_before_the_period_or_to_a_draft(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(ValidationError):
        notices.objection_lodge(actor=_resident(world), notice=notice, text="早了", today=date(2026, 5, 31))
    draft = _notice(world, publish=False, title="草稿公示")
    with pytest.raises(ValidationError):
        notices.objection_lodge(actor=_resident(world), notice=draft, text="草稿", today=START)
    assert not Objection.objects.filter(notice__in=[notice, draft]).exists()


def test_an_ended_notice_takes_no_objection_and_no_edit(world: World) -> None:
    notice = _notice(world)
    assert notices.notices_end_due(today=date(2026, 6, 8)) == 1
    notice.refresh_from_db()
    with pytest.raises(ValidationError):
        notices.objection_lodge(actor=_resident(world), notice=notice, text="晚了", today=date(2026, 6, 7))
    with pytest.raises(ValidationError):
        notices.notice_update(actor=world.user(Role.VILLAGE_STAFF), notice=notice, data={"title": "改"})
    notice.refresh_from_db()
    assert notice.title == "2026年低保评议结果公示"
    assert not Objection.objects.filter(notice=notice).exists()


def test_only_residents_of_the_community_object(world: World) -> None:
    notice = _notice(world)
    elsewhere = account(world.people["a2"])
    for actor in (elsewhere, world.user(Role.TOWN_STAFF), world.users["outside_staff"]):
        with pytest.raises(PermissionDenied):
            notices.objection_lodge(actor=actor, notice=notice, text="异议", today=START)
    assert not Objection.objects.filter(notice=notice).exists()


def test_an_objection_needs_text(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(ValidationError) as exc:
        notices.objection_lodge(actor=_resident(world), notice=notice, text="   ", today=START)
    assert "text" in exc.value.message_dict


def test_staff_answer_each_objection_with_text_and_the_objector_is_told(world: World) -> None:
    notice = _notice(world)
    objection = notices.objection_lodge(actor=_resident(world), notice=notice, text="名单有误", today=START)
    staff = world.user(Role.VILLAGE_STAFF)
    with pytest.raises(ValidationError) as exc:
        notices.objection_answer(actor=staff, objection=objection, upheld=False, answer=" ")
    assert "answer" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        notices.objection_answer(actor=_resident(world), objection=objection, upheld=False, answer="自答")
    with pytest.raises(PermissionDenied):
        notices.objection_answer(actor=world.users["outside_staff"], objection=objection, upheld=True, answer="x")
    objection.refresh_from_db()
    assert objection.status == ObjectionStatus.OPEN
    answered = notices.objection_answer(actor=staff, objection=objection, upheld=False, answer="经核实名单无误")
    assert answered.status == ObjectionStatus.ANSWERED
    assert answered.answered_by == staff
    assert Notification.objects.filter(user=_resident(world), title__contains="已答复").count() == 1
    with pytest.raises(ValidationError):
        notices.objection_answer(actor=staff, objection=objection, upheld=True, answer="再答")


def test_the_job_ends_notices_and_records_whether_they_passed_once(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    clean = _notice(world, title="无异议")
    answered = _notice(world, title="异议不成立")
    upheld = _notice(world, title="异议成立")
    open_ = _notice(world, title="异议未答复")
    running = _notice(world, title="还在公示", days=10)
    for notice in (answered, upheld, open_):
        notices.objection_lodge(actor=_resident(world), notice=notice, text="异议", today=START)
    notices.objection_answer(actor=staff, objection=answered.objections.get(), upheld=False, answer="不成立")
    notices.objection_answer(actor=staff, objection=upheld.objections.get(), upheld=True, answer="成立，重新公示")

    day_after = date(2026, 6, 8)
    assert notices.notices_end_due(today=day_after) >= 4  # the test world's own notice may be over too
    assert notices.notices_end_due(today=day_after) == 0
    results = {n.title: (n.status, n.passed) for n in Notice.objects.filter(region=world.regions["village_a"])}
    assert results["无异议"] == (NoticeStatus.ENDED, True)
    assert results["异议不成立"] == (NoticeStatus.ENDED, True)
    assert results["异议成立"] == (NoticeStatus.ENDED, False)
    assert results["异议未答复"] == (NoticeStatus.ENDED, False)
    assert results["还在公示"] == (NoticeStatus.PUBLISHED, None)
    assert running.pk and clean.pk

    # A late answer to the open objection decides the notice after all.
    notices.objection_answer(actor=staff, objection=open_.objections.get(), upheld=False, answer="不成立")
    open_.refresh_from_db()
    assert open_.passed is True


def test_the_periodic_task_calls_the_sweep(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    notice = _notice(world)
    monkeypatch.setattr(notices.timezone, "localdate", lambda *a: date(2026, 6, 8))
    jobs.end_notices.call_local()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ENDED and notice.passed is True


def test_editing_a_published_notice_may_only_extend_it(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    notice = _notice(world)
    with pytest.raises(ValidationError):
        notices.notice_update(actor=staff, notice=notice, data={"days": 5})
    with pytest.raises(ValidationError):
        notices.notice_update(actor=staff, notice=notice, data={"starts_on": START + timedelta(days=1)})
    with pytest.raises(ValidationError):
        notices.notice_update(actor=staff, notice=notice, data={"status": "ended"})
    updated = notices.notice_update(actor=staff, notice=notice, data={"days": 10, "body": "更正后的名单"})
    assert updated.ends_on == date(2026, 6, 10)
    assert updated.body == "更正后的名单"


def test_residents_see_published_notices_of_where_they_live_and_their_own_objections(world: World) -> None:
    notice = _notice(world)
    draft = _notice(world, title="草稿", publish=False)
    neighbour = account(world.people["a_member"])
    mine = notices.objection_lodge(actor=_resident(world), notice=notice, text="我的异议", today=START)
    theirs = notices.objection_lodge(actor=neighbour, notice=notice, text="邻居的异议", today=START)
    resident = _resident(world)
    listed = set(notices.notice_list(user=resident))
    assert notice in listed and draft not in listed
    assert list(notices.objections_for(user=resident, notice=notice)) == [mine]
    assert set(notices.objections_for(user=world.user(Role.VILLAGE_STAFF), notice=notice)) == {mine, theirs}
    own = list(notices.my_objections(user=resident))
    assert mine in own and theirs not in own
    assert {o.person_id for o in own} == {resident.person_id}
    assert notice not in set(notices.notice_list(user=account(world.people["a2"])))
