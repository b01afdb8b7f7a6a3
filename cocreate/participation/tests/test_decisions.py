"""四议两公开: six steps strictly in order, vote steps on closed votes with the right rule, a
rejected resolution stops the record, and the two disclosure steps publish notices."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Region, Role
from cocreate.participation import decisions, votes
from cocreate.participation.models import (
    STEP_ORDER,
    Decision,
    DecisionStatus,
    DecisionStep,
    NoticeStatus,
    StepKind,
    Vote,
    VoteRule,
    VoteStatus,
)
from cocreate.participation.tests.helpers import NOW, open_vote, people, village

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 20)


def closed_vote(region: Region, rule_code: str, *, carried: bool = True, participants: int = 30) -> Vote:
    """A closed vote with a frozen result (how the vote got there is the votes module's concern)."""
    rule = VoteRule.objects.get(code=rule_code)
    now = timezone.now()
    return Vote.objects.create(
        region=region,
        title=f"{rule.name}表决",
        rule=rule,
        electorate=rule.electorate,
        opens_at=now - timedelta(days=3),
        closes_at=now - timedelta(days=1),
        status=VoteStatus.CLOSED,
        opened_at=now - timedelta(days=3),
        closed_at=now - timedelta(days=1),
        result={"valid": True, "carried": carried, "participants": participants},
    )


def _decision(world: World, region: Region | None = None) -> Decision:
    return decisions.decision_create(
        actor=world.user(Role.VILLAGE_STAFF),
        region=region or world.regions["village_a"],
        title="村集体经营性资产出租",
        matter="拟将村集体厂房出租……",
    )


def _step(world: World, decision: Decision, kind: str, day: int, **kw: Any) -> DecisionStep:
    args: dict[str, Any] = {
        "actor": world.user(Role.VILLAGE_STAFF),
        "decision": decision,
        "kind": kind,
        "done_on": date(2026, 6, day),
        "attendance": 7,
        "notes": f"{kind}情况",
        "today": TODAY,
    }
    args.update(kw)
    return decisions.step_record(**args)


def _through(world: World, decision: Decision, upto: str) -> None:
    """Takes the steps up to and including ``upto`` with fitting, carried votes."""
    region = decision.region
    for day, kind in enumerate(STEP_ORDER[: STEP_ORDER.index(upto) + 1], start=15):
        vote = None
        if kind == StepKind.REVIEW:
            vote = closed_vote(region, "party_members_meeting")
        elif kind == StepKind.RESOLUTION:
            vote = closed_vote(region, "representatives_meeting")
        _step(world, decision, kind, day, vote=vote)


def _steps(decision: Decision) -> list[str]:
    return list(DecisionStep.objects.filter(decision=decision).order_by("order").values_list("kind", flat=True))


def test_the_six_steps_in_order_complete_the_record_with_two_notices(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.RESULT_DISCLOSURE)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.COMPLETED
    assert _steps(decision) == STEP_ORDER
    disclosure = decision.steps.get(kind=StepKind.DISCLOSURE).notice
    result = decision.steps.get(kind=StepKind.RESULT_DISCLOSURE).notice
    assert disclosure is not None and result is not None
    assert disclosure.status == result.status == NoticeStatus.PUBLISHED
    assert disclosure.body == "disclosure情况" and "决议公开" in disclosure.title
    assert result.body == "result_disclosure情况" and "实施结果公开" in result.title
    assert disclosure.starts_on == date(2026, 6, 19) and disclosure.ends_on == date(2026, 6, 25)
    assert disclosure.region == decision.region
    assert decisions.next_kind(decision) is None


def test_four_discussions_cannot_skip_the_party_members_review(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.CONSULTATION)
    vote = closed_vote(decision.region, "representatives_meeting")
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.RESOLUTION, 17, vote=vote)
    assert "党员大会审议" in exc.value.message_dict["kind"][0]
    assert _steps(decision) == [StepKind.PROPOSAL, StepKind.CONSULTATION]


def test_four_discussions_start_with_the_branch_proposal(world: World) -> None:
    decision = _decision(world)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.CONSULTATION, 1)
    assert "党支部提议" in exc.value.message_dict["kind"][0]
    assert _steps(decision) == []


def test_two_disclosures_cannot_skip_the_resolution_disclosure(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.RESOLUTION)
    with pytest.raises(ValidationError):
        _step(world, decision, StepKind.RESULT_DISCLOSURE, 19)
    assert len(_steps(decision)) == 4


def test_a_step_cannot_be_repeated(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.PROPOSAL)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.PROPOSAL, 16)
    assert "不能重复" in exc.value.message_dict["kind"][0]
    assert _steps(decision) == [StepKind.PROPOSAL]


def test_the_database_refuses_a_repeated_or_misnumbered_step(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.PROPOSAL)
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionStep.objects.create(decision=decision, kind=StepKind.PROPOSAL, order=2, done_on=date(2026, 6, 2))
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionStep.objects.create(decision=decision, kind=StepKind.CONSULTATION, order=1, done_on=date(2026, 6, 2))


def test_dates_do_not_go_backwards_or_into_the_future(world: World) -> None:
    decision = _decision(world)
    _step(world, decision, StepKind.PROPOSAL, 10)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.CONSULTATION, 9)
    assert "2026-06-10" in exc.value.message_dict["done_on"][0]
    with pytest.raises(ValidationError):
        _step(world, decision, StepKind.CONSULTATION, 21)  # after TODAY
    _step(world, decision, StepKind.CONSULTATION, 10)  # the same day is fine
    assert _steps(decision) == [StepKind.PROPOSAL, StepKind.CONSULTATION]


def test_a_rejected_resolution_stops_the_record(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.REVIEW)
    lost = closed_vote(decision.region, "villagers_meeting", carried=False, participants=120)
    step = _step(world, decision, StepKind.RESOLUTION, 18, vote=lost, attendance=None)
    assert step.attendance == 120  # taken from the vote when not given
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.REJECTED
    assert decisions.next_kind(decision) is None
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.DISCLOSURE, 19)
    assert "未通过" in exc.value.message_dict["kind"][0]
    assert len(_steps(decision)) == 4
    assert not decision.steps.filter(notice__isnull=False).exists()


def test_a_rejected_party_members_review_stops_the_record(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.CONSULTATION)
    _step(
        world, decision, StepKind.REVIEW, 17, vote=closed_vote(decision.region, "party_members_meeting", carried=False)
    )
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.REJECTED


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        (StepKind.REVIEW, "representatives_meeting"),
        (StepKind.REVIEW, "simple_poll"),
        (StepKind.RESOLUTION, "party_members_meeting"),
        (StepKind.RESOLUTION, "simple_poll_households"),
    ],
)
def test_a_vote_step_needs_a_vote_under_the_fitting_rule(world: World, kind: str, rule: str) -> None:
    decision = _decision(world)
    before = STEP_ORDER[STEP_ORDER.index(kind) - 1]
    _through(world, decision, before)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, kind, 19, vote=closed_vote(decision.region, rule))
    assert "vote" in exc.value.message_dict
    assert _steps(decision)[-1] == before


@pytest.mark.parametrize("rule", ["villagers_meeting", "villagers_meeting_households", "representatives_meeting"])
def test_the_resolution_takes_any_villagers_body(world: World, rule: str) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.REVIEW)
    _step(world, decision, StepKind.RESOLUTION, 18, vote=closed_vote(decision.region, rule))
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.IN_PROGRESS
    assert decisions.next_kind(decision) == StepKind.DISCLOSURE


def test_a_vote_step_needs_a_closed_vote_of_the_same_village(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.CONSULTATION)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.REVIEW, 17)
    assert "vote" in exc.value.message_dict
    other = closed_vote(world.regions["village_a2"], "party_members_meeting")
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.REVIEW, 17, vote=other)
    assert "不属于" in exc.value.message_dict["vote"][0]
    still_open = closed_vote(decision.region, "party_members_meeting")
    Vote.objects.filter(pk=still_open.pk).update(status=VoteStatus.OPEN)
    still_open.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.REVIEW, 17, vote=still_open)
    assert "尚未结束" in exc.value.message_dict["vote"][0]
    assert len(_steps(decision)) == 2


def test_a_vote_serves_one_record_and_other_steps_take_no_vote(world: World) -> None:
    first, second = _decision(world), _decision(world)
    _through(world, first, StepKind.REVIEW)
    used = first.steps.get(kind=StepKind.REVIEW).vote
    _through(world, second, StepKind.CONSULTATION)
    with pytest.raises(ValidationError) as exc:
        _step(world, second, StepKind.REVIEW, 17, vote=used)
    assert "其他" in exc.value.message_dict["vote"][0]
    third = _decision(world)
    with pytest.raises(ValidationError) as exc:
        _step(world, third, StepKind.PROPOSAL, 1, vote=closed_vote(third.region, "party_members_meeting"))
    assert "vote" in exc.value.message_dict


def test_a_disclosure_needs_the_text_it_makes_public(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.RESOLUTION)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.DISCLOSURE, 19, notes="  ")
    assert "notes" in exc.value.message_dict
    assert len(_steps(decision)) == 4


def test_a_disclosure_dated_too_long_ago_for_its_period_is_refused(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.RESOLUTION)
    with pytest.raises(ValidationError) as exc:
        _step(world, decision, StepKind.DISCLOSURE, 19, today=date(2026, 6, 30))
    assert "done_on" in exc.value.message_dict
    assert len(_steps(decision)) == 4


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.GRID_WORKER, Role.DEPT_STAFF, "outside_staff"])
def test_only_the_villages_managers_keep_the_record(world: World, role: str) -> None:
    with pytest.raises(PermissionDenied):
        decisions.decision_create(actor=world.user(role), region=world.regions["village_a"], title="事项")
    decision = _decision(world)
    with pytest.raises(PermissionDenied):
        _step(world, decision, StepKind.PROPOSAL, 1, actor=world.user(role))
    assert _steps(decision) == []


def test_town_staff_keep_their_villages_records(world: World) -> None:
    decision = decisions.decision_create(
        actor=world.user(Role.TOWN_STAFF), region=world.regions["village_a2"], title="村道修补"
    )
    _step(world, decision, StepKind.PROPOSAL, 1, actor=world.user(Role.TOWN_STAFF))
    assert _steps(decision) == [StepKind.PROPOSAL]


def test_a_record_belongs_to_a_village_and_needs_a_title(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        decisions.decision_create(actor=world.user(Role.TOWN_STAFF), region=world.regions["town_a"], title=" ")
    assert set(exc.value.message_dict) == {"region", "title"}


def test_the_review_step_with_a_real_party_members_vote(world: World) -> None:
    """The whole path through the votes module: open, paper sheet, close, then the step."""
    region = village(world)
    members = people(region, 3, party=True)
    vote = open_vote(world, region, "party_members_meeting")
    staff = world.user(Role.TOWN_STAFF)
    lines = {v.person_id: v.pk for v in vote.voters.all()}
    votes.paper_record(actor=staff, vote=vote, rows=[(lines[p.pk], "agree") for p in members], now=NOW)
    vote = votes.vote_close(actor=staff, vote=vote, now=NOW + timedelta(hours=2))
    assert vote.result["carried"] is True
    decision = decisions.decision_create(actor=staff, region=region, title="事项")
    _step(world, decision, StepKind.PROPOSAL, 1, actor=staff)
    _step(world, decision, StepKind.CONSULTATION, 2, actor=staff)
    assert [v.pk for v in decisions.eligible_votes(user=staff, decision=decision, kind=StepKind.REVIEW)] == [vote.pk]
    step = _step(world, decision, StepKind.REVIEW, 3, actor=staff, vote=vote, attendance=None)
    assert step.attendance == 3
    assert not decisions.eligible_votes(user=staff, decision=decision, kind=StepKind.REVIEW).exists()
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.IN_PROGRESS


def test_the_timeline_shows_taken_next_and_coming_steps(world: World) -> None:
    decision = _decision(world)
    _through(world, decision, StepKind.CONSULTATION)
    shown = decisions.timeline(decisions.decision_detail(user=world.user(Role.RESIDENT), pk=decision.pk))
    assert [e.kind for e in shown] == STEP_ORDER
    assert [e.step is not None for e in shown] == [True, True, False, False, False, False]
    assert [e.is_next for e in shown] == [False, False, True, False, False, False]
