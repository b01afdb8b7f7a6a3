"""The co-decision demo: every kind of record and status in 柳林村, seen by the demo accounts, idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count, Model
from django.utils import timezone

from cocreate.core.demo import RESIDENT_VILLAGE, ROLE_PHONES, demo_load
from cocreate.core.models import Notification, Region, Role, User
from cocreate.participation import demo, meetings, needs, notices, votes
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Choice,
    Decision,
    DecisionStatus,
    DecisionStep,
    Estate,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingKind,
    MeetingParticipant,
    MeetingStatus,
    Need,
    NeedCategory,
    NeedChannel,
    NeedStatus,
    NeedSupport,
    Notice,
    NoticeStatus,
    Objection,
    ObjectionStatus,
    ProblemItem,
    ProblemStatus,
    PropertyUnit,
    StepKind,
    TaskItemStatus,
    TaskListItem,
    Vote,
    Voter,
    VoteStatus,
)

pytestmark = pytest.mark.django_db

MODELS: list[type[Model]] = [
    Need,
    NeedSupport,
    ProblemItem,
    Meeting,
    MeetingParticipant,
    MeetingItem,
    ItemComment,
    Vote,
    Voter,
    Ballot,
    Estate,
    PropertyUnit,
    Notice,
    Objection,
    Decision,
    DecisionStep,
    TaskListItem,
    Notification,
    User,
]


def _snapshot() -> dict[str, int]:
    counts = {model.__name__: model._default_manager.count() for model in MODELS}
    for model in (Need, ProblemItem, Vote, Notice, Decision, TaskListItem, Meeting):
        counts[f"history:{model.__name__}"] = model.history.count()
    counts["statuses"] = hash(tuple(Need.objects.order_by("pk").values_list("status", flat=True)))
    return counts


def _vote(title: str) -> Vote:
    return Vote.objects.select_related("rule").get(title=title)


def _check_every_kind_and_status() -> None:
    village = Region.objects.get(code=RESIDENT_VILLAGE)
    assert not Need.objects.exclude(region=village).exists()

    # Needs: every status, both channels, every category; the merged one points at its twin.
    assert set(Need.objects.values_list("status", flat=True)) == set(NeedStatus.values)
    assert set(Need.objects.values_list("channel", flat=True)) == {NeedChannel.SELF, NeedChannel.VISIT}
    assert set(Need.objects.values_list("category", flat=True)) == set(NeedCategory.values)
    merged = Need.objects.get(status=NeedStatus.MERGED)
    assert merged.merged_into is not None and merged.merged_into.status == NeedStatus.LISTED
    assert all(n.status_reason for n in Need.objects.filter(status=NeedStatus.DECLINED))
    seconded = needs.with_counts(Need.objects.filter(status=NeedStatus.SUBMITTED), None)
    assert max(n.support_count for n in seconded) >= 3  # type: ignore[attr-defined]
    visit = Need.objects.filter(channel=NeedChannel.VISIT).first()
    grid_worker = User.objects.get(phone=ROLE_PHONES[Role.GRID_WORKER])
    assert visit is not None and visit.recorded_by == grid_worker
    assert Need.objects.filter(latitude__isnull=False, longitude__isnull=False).exists()

    # The problem list: lines in several statuses, each with its needs.
    problems = ProblemItem.objects.annotate(n=Count("needs"))
    assert {ProblemStatus.OPEN, ProblemStatus.DELIBERATING, ProblemStatus.DECIDED, ProblemStatus.DONE} <= set(
        problems.values_list("status", flat=True)
    )
    assert all(p.n >= 1 for p in problems)
    assert set(Need.objects.filter(problem__status=ProblemStatus.DONE).values_list("status", flat=True)) == {
        NeedStatus.DONE
    }

    # Meetings: one held with who came, comments made before it, minutes and resolutions; one ahead.
    held = Meeting.objects.get(title=demo.HELD_MEETING)
    assert held.status == MeetingStatus.HELD and held.kind == MeetingKind.COUNCIL and held.minutes
    assert held.held_at < timezone.now()
    present = held.participants.filter(present=True)
    assert 0 < present.count() < held.participants.count()
    assert held.participants.filter(person=None).count() == 2  # the expert and the 乡贤
    items = list(held.items.all())
    assert len(items) == 2 and all(i.resolution and i.discussion and i.problem for i in items)
    comments = ItemComment.objects.filter(item__meeting=held)
    assert comments.count() == 3 and all(c.created_at for c in comments)
    upcoming = Meeting.objects.get(title=demo.UPCOMING_MEETING)
    assert upcoming.status == MeetingStatus.PLANNED and upcoming.held_at > timezone.now()
    assert upcoming.kind == MeetingKind.COURTYARD and upcoming.items.get().problem is not None

    # Votes: results frozen when closed; the owners' vote shows area and head-count figures.
    poll = _vote(demo.POLL)
    assert poll.status == VoteStatus.CLOSED and poll.rule.code == "simple_poll"
    assert poll.result["carried"] and sum(poll.result["by_choice"].values()) == poll.ballots.count() > 20
    assert {BallotChannel.ONLINE, BallotChannel.PAPER} == set(poll.ballots.values_list("channel", flat=True))
    reps = _vote(demo.REPS_VOTE)
    assert reps.status == VoteStatus.CLOSED and reps.rule.code == "representatives_meeting"
    assert reps.result["valid"] and reps.result["carried"]
    assert _vote(demo.OPEN_VOTE).status == VoteStatus.OPEN
    estate = Estate.objects.get(name=demo.ESTATE)
    units = PropertyUnit.objects.filter(estate=estate)
    assert units.count() == len(demo.UNITS) and units.values("owner").distinct().count() == demo.OWNERS
    major = _vote(demo.OWNERS_VOTE)
    assert major.status == VoteStatus.CLOSED and major.rule.code == "owners_major" and major.estate == estate
    measures = {(t["measure"], t["met"]) for t in major.result["quorum"] + major.result["passing"]}
    assert measures == {("area", True), ("headcount", True)} and major.result["carried"]
    assert float(major.result["electorate_area"]) == float(sum(u.area for u in units))
    renovation = _vote(demo.RENOVATION_VOTE)
    assert renovation.rule.code == "renovation_willingness" and renovation.ballots.exists()

    # Notices: one running, one passed after an answered objection; decisions add their disclosures.
    running = Notice.objects.get(title=demo.RUNNING_NOTICE)
    assert notices.is_running(running)
    passed = Notice.objects.get(title=demo.PASSED_NOTICE)
    assert passed.status == NoticeStatus.ENDED and passed.passed is True
    objection = passed.objections.get()
    assert objection.status == ObjectionStatus.ANSWERED and objection.answer

    # 四议两公开: one complete with both disclosures, one at its disclosure with the notice running.
    done = Decision.objects.get(title=demo.DONE_DECISION)
    assert done.status == DecisionStatus.COMPLETED and done.steps.count() == 6
    notice_steps = done.steps.filter(kind__in=[StepKind.DISCLOSURE, StepKind.RESULT_DISCLOSURE])
    assert all(s.notice and s.notice.status == NoticeStatus.ENDED for s in notice_steps)
    assert done.steps.get(kind=StepKind.REVIEW).vote is not None
    open_decision = Decision.objects.get(title=demo.OPEN_DECISION)
    assert open_decision.status == DecisionStatus.IN_PROGRESS
    disclosure = open_decision.steps.get(kind=StepKind.DISCLOSURE)
    assert disclosure.notice is not None and notices.is_running(disclosure.notice)
    assert open_decision.steps.get(kind=StepKind.RESOLUTION).vote == reps

    # The task list: from resolutions and the carried vote; the plan's progress flows back.
    road = TaskListItem.objects.select_related("plan_task__plan").get(title=demo.ROAD_TASK)
    assert road.meeting_item is not None and road.plan_task is not None
    assert road.plan_task.plan.title == demo.VILLAGE_PLAN
    assert meetings.effective_status(road) == TaskItemStatus.DOING
    assert road.problem is not None and road.problem.status == ProblemStatus.DECIDED
    assert TaskListItem.objects.get(title=demo.RAIL_TASK).vote == reps
    assert meetings.effective_status(TaskListItem.objects.get(title=demo.LIGHT_TASK)) == TaskItemStatus.PENDING


def _check_the_resident_account(now: datetime | None = None) -> None:
    """What the demo resident sees and may do, through the services."""
    resident = User.objects.get(phone=ROLE_PHONES[Role.RESIDENT])
    mine = needs.my_needs(user=resident)
    assert {NeedStatus.SUBMITTED, NeedStatus.LISTED, NeedStatus.DECLINED, NeedStatus.DONE} <= set(
        mine.values_list("status", flat=True)
    )
    history = needs.status_history(mine)
    assert max(len(changes) for changes in history.values()) >= 2
    # Every status its needs reached after submission was notified once, the decline with its reason.
    reached = {
        (pk, change.status)
        for pk, changes in history.items()
        for change in changes
        if change.status in NeedStatus.values and change.status != NeedStatus.SUBMITTED
    }
    assert len(reached) >= 4
    told = Notification.objects.filter(user=resident, dedupe_key__startswith="need:")
    keys = {str(key).split("|")[0] for key in told.values_list("dedupe_key", flat=True)}  # "|inapp|…" per channel
    assert keys == {f"need:{pk}:status:{s}" for pk, s in reached}
    assert told.filter(body__contains="基本农田").exists()
    # The running notice takes its objection; the upcoming meeting its comment.
    running = Notice.objects.get(title=demo.RUNNING_NOTICE)
    today = timezone.localdate(now) if now else None
    assert notices.may_object(resident, running, today)
    item = Meeting.objects.get(title=demo.UPCOMING_MEETING).items.get()
    assert meetings.comment_add(actor=resident, item=item, text="同意接入集镇管网。", now=now).pk
    # The open vote: the resident is on the roll and has not voted; the cast counts.
    vote = _vote(demo.OPEN_VOTE)
    before = votes.tally(vote).participants
    assert votes.voter_line(vote, resident) is not None
    ballot, created = votes.ballot_cast_result(actor=resident, vote=vote, choice=Choice.AGREE, now=now)
    assert created and ballot.channel == BallotChannel.ONLINE
    assert votes.tally(vote).participants == before + 1
    with pytest.raises(ValidationError):
        votes.ballot_cast(actor=resident, vote=vote, choice=Choice.DISAGREE, now=now)


def test_demo_creates_every_record_and_status_and_a_second_run_creates_nothing(tmp_path: Any) -> None:
    result = demo_load()
    co = result.participation
    assert co["needs"] == Need.objects.count() == len(demo.NEEDS)
    assert co["problems"] == ProblemItem.objects.count() == len(demo.PROBLEMS)
    assert co["meetings"] == 2 and co["votes"] == Vote.objects.count() == 8
    assert co["ballots"] == Ballot.objects.count()
    assert co["notices"] == Notice.objects.count() and co["decisions"] == 2 and co["task_items"] == 3
    assert co["property_units"] == len(demo.UNITS) and co["plans"] == 1
    _check_every_kind_and_status()

    before = _snapshot()
    again = demo_load()
    assert set(again.participation.values()) == {0}
    assert _snapshot() == before

    _check_the_resident_account()


def test_the_demo_is_valid_whatever_day_and_time_it_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded just after midnight on a leap day: the past is past, the open things are open."""
    moment = datetime(2028, 2, 29, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(timezone, "now", lambda: moment)
    demo_load()
    _check_every_kind_and_status()
    _check_the_resident_account(now=moment)
    assert Notice.objects.get(title=demo.RUNNING_NOTICE).starts_on < moment.date()
