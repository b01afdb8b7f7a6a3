"""Deliberation meetings and the task list: agenda from the problem list, residents' comments
before the meeting, minutes and resolutions, task-list lines only from what was decided, and a
line sent into a work plan following its task."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.participation import meetings, votes
from cocreate.participation.models import (
    Choice,
    MeetingKind,
    MeetingStatus,
    ParticipantKind,
    ProblemStatus,
    TaskItemStatus,
)
from cocreate.participation.tests.helpers import NOW, account, open_vote, people, village
from cocreate.plans import services as plan_services
from cocreate.plans.models import PlanStatus, ReportKind

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def new_meeting(world: World, **extra: Any) -> Any:
    return meetings.meeting_create(
        actor=world.user(Role.VILLAGE_STAFF),
        region=world.regions["village_a"],
        kind=MeetingKind.COURTYARD,
        title="村道修补屋场会",
        held_at=timezone.now() + timedelta(days=2),
        place="甲村文化广场",
        **extra,
    )


def test_agenda_from_the_problem_list_and_a_held_meeting(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    problem = rec(world, "problem")
    meeting = new_meeting(world)
    item = meetings.item_add(actor=staff, meeting=meeting, problem=problem)
    assert item.title == problem.title
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DELIBERATING
    resident = world.user(Role.RESIDENT)
    invited = meetings.participant_add(
        actor=staff, meeting=meeting, kind=ParticipantKind.RESIDENT, person=resident.person
    )
    expert = meetings.participant_add(actor=staff, meeting=meeting, kind=ParticipantKind.EXPERT, name="县交通局工程师")
    with pytest.raises(ValidationError):
        meetings.participant_add(actor=staff, meeting=meeting, kind=ParticipantKind.RESIDENT, person=resident.person)
    held = meetings.meeting_record(
        actor=staff,
        meeting=meeting,
        present=[expert.pk],
        minutes="到会12人，议定先修小学门口段。",
        items={item.pk: ("大家同意分两期修补", "先修小学门口段，六月底前完工")},
    )
    assert held.status == MeetingStatus.HELD
    invited.refresh_from_db()
    expert.refresh_from_db()
    assert (invited.present, expert.present) == (False, True)
    with pytest.raises(ValidationError, match="会议已召开"):
        meetings.item_add(actor=staff, meeting=meeting, title="追加议题")


def test_residents_comment_before_the_meeting_only(world: World) -> None:
    meeting = new_meeting(world)
    item = meetings.item_add(actor=world.user(Role.VILLAGE_STAFF), meeting=meeting, title="村道修补")
    resident = world.user(Role.RESIDENT)
    person = resident.person
    assert person is not None
    person.verified_at = timezone.now()
    person.save()
    comment = meetings.comment_add(actor=resident, item=item, text="建议先修小学门口")
    assert comment.person_id == person.pk
    with pytest.raises(ValidationError, match="会议已开始"):
        meetings.comment_add(actor=resident, item=item, text="再补充一句", now=meeting.held_at)
    with pytest.raises(ValidationError):
        meetings.comment_add(actor=resident, item=item, text="   ")
    stranger = account(people(village(world, "990101001009", "戊村"), 1)[0])
    with pytest.raises(PermissionDenied):
        meetings.comment_add(actor=stranger, item=item, text="我也说两句")


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.GRID_WORKER, Role.SCHOOL_STAFF])
def test_only_community_staff_hold_meetings(world: World, role: str) -> None:
    with pytest.raises(PermissionDenied):
        meetings.meeting_create(
            actor=world.user(role),
            region=world.regions["village_a"],
            kind=MeetingKind.COUNCIL,
            title="议事会",
            held_at=timezone.now(),
            place="村委会",
        )


def test_task_list_lines_come_only_from_what_was_decided(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    region = world.regions["village_a"]
    unit = world.units["village_committee"]
    meeting = new_meeting(world)
    item = meetings.item_add(actor=staff, meeting=meeting, problem=rec(world, "problem"))
    base: dict[str, Any] = {
        "actor": staff,
        "region": region,
        "title": "修补村道",
        "owner_unit": unit,
        "deadline": date(2026, 12, 31),
    }
    with pytest.raises(ValidationError) as nothing:
        meetings.task_item_create(**base)
    assert "source" in nothing.value.message_dict
    with pytest.raises(ValidationError) as undecided:
        meetings.task_item_create(**base, meeting_item=item)
    assert "meeting_item" in undecided.value.message_dict
    meetings.meeting_record(actor=staff, meeting=meeting, present=[], minutes="纪要", items={item.pk: ("", "同意修补")})
    item.refresh_from_db()
    line = meetings.task_item_create(**base, meeting_item=item)
    problem = rec(world, "problem")
    assert line.problem == problem
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DECIDED


def test_a_vote_that_did_not_carry_makes_no_task(world: World) -> None:
    region = village(world)
    voters = people(region, 3)
    vote = open_vote(world, region, "simple_poll")
    votes.ballot_cast(actor=account(voters[0]), vote=vote, choice=Choice.DISAGREE, now=NOW)
    closed = votes.vote_close(actor=world.user(Role.TOWN_STAFF), vote=vote, now=NOW)
    assert not closed.result["carried"]
    with pytest.raises(ValidationError) as exc:
        meetings.task_item_create(
            actor=world.user(Role.TOWN_STAFF),
            region=region,
            title="修路",
            owner_unit=world.units["town_office"],
            deadline=date(2026, 12, 31),
            vote=closed,
        )
    assert "vote" in exc.value.message_dict


def test_a_line_sent_into_a_plan_follows_its_task(world: World) -> None:
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
    assert meetings.effective_status(line) == TaskItemStatus.PENDING
    task = meetings.task_item_to_plan(actor=town, item=line, plan=plan)
    line.refresh_from_db()
    assert line.plan_task == task
    assert list(task.task_units.values_list("unit_id", "role")) == [
        (world.units["village_committee"].pk, "responsible")
    ]
    with pytest.raises(ValidationError):
        meetings.task_item_to_plan(actor=town, item=line, plan=plan)
    plan_services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF),
        task=task,
        unit=world.units["village_committee"],
        kind=ReportKind.PERCENT,
        percent=Decimal(40),
    )
    line.refresh_from_db()
    assert meetings.effective_status(line) == TaskItemStatus.DOING
