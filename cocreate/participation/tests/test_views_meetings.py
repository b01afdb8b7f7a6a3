"""Pages of meetings and the task list: staff plan, invite, set the agenda and record; residents
see their community's meetings on the phone and comment before the meeting; resolutions become
task-list lines that go into a work plan. Each page is tried with the roles that matter, and bad
input is re-shown with nothing changed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Role, User
from cocreate.core.privacy import mask_name
from cocreate.participation import meetings
from cocreate.participation.models import (
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingParticipant,
    MeetingStatus,
    ProblemStatus,
    TaskListItem,
)
from cocreate.participation.tests.helpers import account, people, village
from cocreate.plans import services as plan_services
from cocreate.plans.models import PlanStatus, ReportKind

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def login(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"participation:{name}", args=args)


def verified_resident(world: World) -> User:
    user = world.user(Role.RESIDENT)
    assert user.person is not None
    user.person.verified_at = timezone.now()
    user.person.save()
    return user


def elsewhere(world: World) -> User:
    """A verified resident of another village of the same town."""
    return account(people(village(world, "990101001009", "戊村"), 1)[0])


def held(world: World, *, resolution: str = "先修小学门口段") -> tuple[Meeting, MeetingItem]:
    staff = world.user(Role.VILLAGE_STAFF)
    meeting = rec(world, "meeting")
    item = rec(world, "item")
    meetings.meeting_record(
        actor=staff, meeting=meeting, present=[], minutes="到会12人", items={item.pk: ("", resolution)}
    )
    meeting.refresh_from_db()
    item.refresh_from_db()
    return meeting, item


# --- Staff: list and create -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.ADMIN])
def test_staff_list_their_meetings(world: World, role: str) -> None:
    response = login(world.user(role)).get(url("meeting_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "村道议事会" in body and OUTSIDE_MARKER not in body


def test_meeting_list_refuses_residents_and_sends_strangers_to_login(world: World) -> None:
    assert login(world.user(Role.RESIDENT)).get(url("meeting_list")).status_code == 403
    response = login(None).get(url("meeting_list"))
    assert response.status_code == 302 and "login" in response["Location"]
    body = login(world.user("outside_staff")).get(url("meeting_list")).content.decode()
    assert url("meeting_detail", rec(world, "meeting").pk) not in body


def test_staff_create_a_meeting_and_bad_input_is_reshown(world: World) -> None:
    client = login(world.user(Role.VILLAGE_STAFF))
    assert client.get(url("meeting_create")).status_code == 200
    data = {
        "region": world.regions["village_a"].pk,
        "kind": "courtyard",
        "title": "  ",
        "held_at": "2026-12-05T19:30",
        "place": "甲村文化广场",
    }
    before = Meeting.objects.count()
    response = client.post(url("meeting_create"), data)
    assert response.status_code == 400
    assert "甲村文化广场" in response.content.decode()
    assert Meeting.objects.count() == before
    data["title"] = "村道修补屋场会"
    response = client.post(url("meeting_create"), data)
    meeting = Meeting.objects.get(title="村道修补屋场会")
    assert response.status_code == 302 and response["Location"] == url("meeting_detail", meeting.pk)
    assert (meeting.kind, meeting.region) == ("courtyard", world.regions["village_a"])
    assert timezone.localtime(meeting.held_at).hour == 19


def test_meeting_create_refuses_a_region_out_of_reach(world: World) -> None:
    client = login(world.user(Role.VILLAGE_STAFF))
    data = {
        "region": world.regions["village_b"].pk,
        "kind": "council",
        "title": "议事会",
        "held_at": "2026-12-05T19:30",
        "place": "村委会",
    }
    before = Meeting.objects.count()
    assert client.post(url("meeting_create"), data).status_code == 400
    assert Meeting.objects.count() == before
    assert login(world.user(Role.RESIDENT)).post(url("meeting_create"), data).status_code == 403


# --- Staff: the meeting page ----------------------------------------------------------------------------------


def test_staff_page_shows_invited_people_and_comments_in_full(world: World) -> None:
    ItemComment.objects.create(item=rec(world, "item"), person=world.people["a_member"], text="路灯也要修")
    response = login(world.user(Role.VILLAGE_STAFF)).get(url("meeting_detail", rec(world, "meeting").pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert "村道修补方案" in body and "甲村村民" in body and "路灯也要修" in body
    assert rec(world, "participant").name in body
    assert "participants" in body and url("meeting_record", rec(world, "meeting").pk) in body


@pytest.mark.parametrize("who", ["outside_staff", "elsewhere"])
def test_meeting_page_is_404_out_of_scope(world: World, who: str) -> None:
    user = elsewhere(world) if who == "elsewhere" else world.user(who)
    assert login(user).get(url("meeting_detail", rec(world, "meeting").pk)).status_code == 404


def test_staff_find_and_invite_a_person_and_a_guest(world: World) -> None:
    meeting = rec(world, "meeting")
    client = login(world.user(Role.VILLAGE_STAFF))
    response = client.get(url("meeting_detail", meeting.pk), {"q": "甲村村民"})
    assert 'id="cc-candidates"' in response.content.decode()
    response = client.post(
        url("meeting_participant_add", meeting.pk), {"person": world.people["a_member"].pk, "kind": "representative"}
    )
    assert response.status_code == 302
    assert meeting.participants.filter(person=world.people["a_member"], kind="representative").exists()
    response = client.post(url("meeting_participant_add", meeting.pk), {"name": "县交通局工程师", "kind": "expert"})
    assert response.status_code == 302
    assert meeting.participants.filter(person=None, name="县交通局工程师").exists()


def test_bad_invitations_are_refused_with_nothing_changed(world: World) -> None:
    meeting = rec(world, "meeting")
    client = login(world.user(Role.VILLAGE_STAFF))
    before = MeetingParticipant.objects.count()
    for data in (
        {"name": "  ", "kind": "expert"},
        {"name": "某专家", "kind": "boss"},
        {"person": world.people["outside"].pk, "kind": "resident"},
        {"person": rec(world, "participant").person_id, "kind": "resident"},  # already invited
    ):
        response = client.post(url("meeting_participant_add", meeting.pk), data)
        assert response.status_code == 400, data
        assert 'id="cc-participant-errors"' in response.content.decode()
    assert MeetingParticipant.objects.count() == before
    assert login(world.user(Role.RESIDENT)).post(url("meeting_participant_add", meeting.pk), {}).status_code == 403
    outside = login(world.user("outside_staff"))
    assert outside.post(url("meeting_participant_add", meeting.pk), {"name": "x", "kind": "expert"}).status_code == 404
    assert MeetingParticipant.objects.count() == before


def test_agenda_items_from_the_problem_list_or_free_text(world: World) -> None:
    meeting = rec(world, "meeting")
    problem = rec(world, "problem")
    client = login(world.user(Role.VILLAGE_STAFF))
    assert client.post(url("meeting_item_add", meeting.pk), {"problem": problem.pk}).status_code == 302
    assert meeting.items.filter(problem=problem, title=problem.title).exists()
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DELIBERATING
    assert client.post(url("meeting_item_add", meeting.pk), {"title": "路灯安装"}).status_code == 302
    before = MeetingItem.objects.count()
    response = client.post(url("meeting_item_add", meeting.pk), {"title": " "})
    assert response.status_code == 400 and "请填写议题" in response.content.decode()
    outside_problem = rec(world, "outside_problem")
    assert client.post(url("meeting_item_add", meeting.pk), {"problem": outside_problem.pk}).status_code == 400
    assert MeetingItem.objects.count() == before


def test_recording_a_meeting(world: World) -> None:
    meeting, item, participant = rec(world, "meeting"), rec(world, "item"), rec(world, "participant")
    client = login(world.user(Role.VILLAGE_STAFF))
    response = client.get(url("meeting_record", meeting.pk))
    assert response.status_code == 200 and f'name="resolution_{item.pk}"' in response.content.decode()
    bad = {"present": [str(participant.pk)], "minutes": " ", f"resolution_{item.pk}": "同意"}
    response = client.post(url("meeting_record", meeting.pk), bad)
    assert response.status_code == 400 and "同意" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED
    good = {**bad, "minutes": "到会12人", f"discussion_{item.pk}": "分两期"}
    assert client.post(url("meeting_record", meeting.pk), good).status_code == 302
    meeting.refresh_from_db()
    item.refresh_from_db()
    participant.refresh_from_db()
    assert (meeting.status, meeting.minutes, item.resolution, item.discussion) == ("held", "到会12人", "同意", "分两期")
    assert participant.present
    # Held: the record page sends back, the page offers the task list.
    assert client.get(url("meeting_record", meeting.pk)).status_code == 302
    body = client.get(url("meeting_detail", meeting.pk)).content.decode()
    assert f"source=meeting_item:{item.pk}" in body


def test_record_is_for_those_who_run_the_meeting(world: World) -> None:
    meeting = rec(world, "meeting")
    assert login(world.user(Role.RESIDENT)).get(url("meeting_record", meeting.pk)).status_code == 403
    assert (
        login(world.user("outside_staff")).post(url("meeting_record", meeting.pk), {"minutes": "x"}).status_code == 404
    )
    assert (
        login(world.user(Role.GRID_WORKER)).post(url("meeting_record", meeting.pk), {"minutes": "x"}).status_code == 404
    )
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED


# --- Residents ------------------------------------------------------------------------------------------------


def test_resident_sees_upcoming_and_past_meetings_of_their_community(world: World) -> None:
    past = meetings.meeting_create(
        actor=world.user(Role.VILLAGE_STAFF),
        region=world.regions["village_a"],
        kind="bench",
        title="路灯板凳会",
        held_at=timezone.now() + timedelta(days=1),
        place="村口",
    )
    item = meetings.item_add(actor=world.user(Role.VILLAGE_STAFF), meeting=past, title="路灯安装")
    meetings.meeting_record(
        actor=world.user(Role.VILLAGE_STAFF), meeting=past, present=[], minutes="纪要", items={item.pk: ("", "装10盏")}
    )
    response = login(world.user(Role.RESIDENT)).get(url("meeting_mine"))
    assert response.status_code == 200
    body = response.content.decode()
    upcoming, _sep, older = body.partition("cc-past")
    assert "村道议事会" in upcoming and "村道修补方案" in upcoming
    assert "路灯板凳会" in older and "装10盏" in older
    assert OUTSIDE_MARKER not in body
    assert (
        url("meeting_detail", rec(world, "meeting").pk)
        not in login(elsewhere(world)).get(url("meeting_mine")).content.decode()
    )
    assert login(None).get(url("meeting_mine")).status_code == 302


def test_resident_page_masks_names_and_shows_no_invitation_list(world: World) -> None:
    ItemComment.objects.create(item=rec(world, "item"), person=world.people["a_member"], text="路灯也要修")
    MeetingParticipant.objects.create(meeting=rec(world, "meeting"), name="张三丰", kind="sage")
    user = verified_resident(world)
    response = login(user).get(url("meeting_detail", rec(world, "meeting").pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert "路灯也要修" in body and mask_name("甲村村民") in body
    assert "甲村村民" not in body and "张三丰" not in body
    assert 'name="text"' in body  # verified, before the meeting: the comment form is there
    assert "您在受邀名单中" in body


def test_resident_comments_before_the_meeting(world: World) -> None:
    item = rec(world, "item")
    client = login(verified_resident(world))
    before = ItemComment.objects.count()
    response = client.post(url("meetingitem_comment", item.pk), {"text": "  "})
    assert response.status_code == 400
    assert ItemComment.objects.count() == before
    response = client.post(url("meetingitem_comment", item.pk), {"text": "建议夜间施工"})
    assert response.status_code == 302 and response["Location"].endswith(f"#item-{item.pk}")
    assert ItemComment.objects.filter(item=item, text="建议夜间施工").exists()


def test_comment_after_the_meeting_is_refused(world: World) -> None:
    item = rec(world, "item")
    Meeting.objects.filter(pk=item.meeting_id).update(held_at=timezone.now() - timedelta(minutes=1))
    client = login(verified_resident(world))
    before = ItemComment.objects.count()
    response = client.post(url("meetingitem_comment", item.pk), {"text": "晚到的意见"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "会议已开始，不能再提交意见" in body and "晚到的意见" not in body.split("cc-item-list")[0]
    assert ItemComment.objects.count() == before


@pytest.mark.parametrize("who", ["unverified", "staff", "elsewhere", "outside_staff", "anonymous"])
def test_only_verified_residents_of_the_community_comment(world: World, who: str) -> None:
    item = rec(world, "item")
    user = {
        "unverified": world.user(Role.RESIDENT),
        "staff": world.user(Role.VILLAGE_STAFF),
        "elsewhere": elsewhere(world),
        "outside_staff": world.user("outside_staff"),
        "anonymous": None,
    }[who]
    before = ItemComment.objects.count()
    response = login(user).post(url("meetingitem_comment", item.pk), {"text": "我也说两句"})
    expected = {"unverified": 403, "staff": 403, "elsewhere": 404, "outside_staff": 404, "anonymous": 302}[who]
    assert response.status_code == expected
    assert ItemComment.objects.count() == before


# --- Task list --------------------------------------------------------------------------------------------------


def test_task_list_shows_lines_with_owner_deadline_and_status(world: World) -> None:
    response = login(world.user(Role.VILLAGE_STAFF)).get(url("tasklistitem_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "修补村道" in body and "甲村村民委员会" in body and 'data-status="todo"' in body
    assert OUTSIDE_MARKER not in body
    assert login(world.user(Role.RESIDENT)).get(url("tasklistitem_list")).status_code == 403
    outside_body = login(world.user("outside_staff")).get(url("tasklistitem_list")).content.decode()
    assert f'id="taskitem-{rec(world, "task_item").pk}"' not in outside_body


def test_a_resolved_item_becomes_a_task_list_line(world: World) -> None:
    _meeting, item = held(world)
    client = login(world.user(Role.VILLAGE_STAFF))
    source = f"meeting_item:{item.pk}"
    response = client.get(url("tasklistitem_create"), {"source": source})
    assert response.status_code == 200 and "村道修补方案" in response.content.decode()
    data = {"source": source, "title": "", "owner_unit": world.units["village_committee"].pk, "deadline": ""}
    before = TaskListItem.objects.count()
    assert client.post(url("tasklistitem_create"), data).status_code == 400
    assert (
        client.post(url("tasklistitem_create"), {**data, "source": "vote:1", "deadline": "2026-12-31"}).status_code
        == 400
    )
    outside_unit = {**data, "owner_unit": world.units["outside"].pk, "deadline": "2026-12-31"}
    assert client.post(url("tasklistitem_create"), outside_unit).status_code == 400
    assert TaskListItem.objects.count() == before
    response = client.post(url("tasklistitem_create"), {**data, "deadline": "2026-12-31"})
    assert response.status_code == 302
    line = TaskListItem.objects.get(meeting_item=item)
    assert (line.title, line.region, line.deadline) == (item.title, world.regions["village_a"], date(2026, 12, 31))
    body = client.get(url("tasklistitem_list")).content.decode()
    assert url("meeting_detail", item.meeting_id) + f"#item-{item.pk}" in body


def test_an_unresolved_item_is_not_offered(world: World) -> None:
    item = rec(world, "item")
    client = login(world.user(Role.VILLAGE_STAFF))
    data = {
        "source": f"meeting_item:{item.pk}",
        "owner_unit": world.units["village_committee"].pk,
        "deadline": "2026-12-31",
    }
    before = TaskListItem.objects.count()
    assert client.post(url("tasklistitem_create"), data).status_code == 400
    assert TaskListItem.objects.count() == before


def test_a_line_goes_into_a_plan_and_shows_its_light(world: World) -> None:
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
    line = rec(world, "task_item")
    client = login(town)
    response = client.get(url("tasklistitem_plan", line.pk))
    assert response.status_code == 200 and "甲镇民生实事方案" in response.content.decode()
    assert client.post(url("tasklistitem_plan", line.pk), {"plan": ""}).status_code == 400
    assert client.post(url("tasklistitem_plan", line.pk), {"plan": "987654"}).status_code == 400
    line.refresh_from_db()
    assert line.plan_task_id is None
    assert client.post(url("tasklistitem_plan", line.pk), {"plan": plan.pk}).status_code == 302
    line.refresh_from_db()
    assert line.plan_task is not None and line.plan_task.plan == plan
    plan_services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF),
        task=line.plan_task,
        unit=world.units["village_committee"],
        kind=ReportKind.PERCENT,
        percent=Decimal(40),
    )
    body = client.get(url("tasklistitem_list")).content.decode()
    assert 'data-status="doing"' in body and "甲镇民生实事方案" in body and "data-light=" in body
    assert reverse("plans:task_detail", args=[line.plan_task_id]) in body
    assert client.get(url("tasklistitem_plan", line.pk)).status_code == 302  # already in a plan


@pytest.mark.parametrize("who", [Role.RESIDENT, "outside_staff", None])
def test_sending_into_a_plan_is_refused_out_of_scope(world: World, who: str | None) -> None:
    line = rec(world, "task_item")
    response = login(world.user(who) if who else None).post(url("tasklistitem_plan", line.pk), {"plan": "1"})
    assert response.status_code == {Role.RESIDENT: 403, "outside_staff": 404, None: 302}[who]
    line.refresh_from_db()
    assert line.plan_task_id is None


def test_staff_who_do_not_run_the_meeting_get_the_read_page(world: World) -> None:
    """An inspector of the county sees the meeting as residents do: no working forms, no invitation of theirs."""
    response = login(world.user(Role.INSPECTOR)).get(url("meeting_detail", rec(world, "meeting").pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert "村道修补方案" in body and "您在受邀名单中" not in body
    assert url("meeting_record", rec(world, "meeting").pk) not in body and 'name="text"' not in body
