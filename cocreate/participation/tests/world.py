"""Co-decision's part of the test world: an opened vote with a ballot on each side of the scope
line, and an estate with one owner's unit in each county."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, PRIVATE_MARKER, World
from cocreate.core.models import Person
from cocreate.participation.defaults import install_rules
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Choice,
    Decision,
    DecisionStep,
    Estate,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingKind,
    MeetingParticipant,
    Need,
    NeedStatus,
    NeedSupport,
    Notice,
    NoticeStatus,
    Objection,
    ParticipantKind,
    ProblemItem,
    PropertyUnit,
    RuleThreshold,
    StepKind,
    TaskListItem,
    Vote,
    Voter,
    VoteRule,
    VoteStatus,
)


def extend(w: World) -> None:
    install_rules(VoteRule, RuleThreshold)  # a transactional test's flush removes the migration's rows
    now = timezone.now()
    poll = VoteRule.objects.get(code="simple_poll")
    records: dict[str, Any] = {}
    resident = w.users["resident"].person
    assert resident is not None
    for key, region, person, marker in (
        ("", w.regions["village_a"], resident, ""),
        ("outside_", w.regions["village_b"], w.people["outside"], OUTSIDE_MARKER),
    ):
        vote = Vote.objects.create(
            region=region,
            title=f"{marker}是否硬化村道",
            rule=poll,
            electorate=poll.electorate,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=6),
            status=VoteStatus.OPEN,
            opened_at=now - timedelta(days=1),
        )
        voter = Voter.objects.create(vote=vote, person=person)
        ballot = Ballot.objects.create(vote=vote, voter=voter, choice=Choice.AGREE, channel=BallotChannel.ONLINE)
        estate = Estate.objects.create(region=region, name=f"{marker}幸福小区")
        unit = PropertyUnit.objects.create(
            estate=estate, region=region, number=f"{marker}1-101", area=Decimal("89.50"), owner=person
        )
        records.update(
            {
                f"{key}vote": vote,
                f"{key}voter": voter,
                f"{key}ballot": ballot,
                f"{key}estate": estate,
                f"{key}unit": unit,
            }
        )
    records.update(_community(w))
    records.update(_private(w, records))
    w.extra["participation"] = records


def _community(w: World) -> dict[str, Any]:
    """A need with a supporter, a problem-list line, a meeting with an item, a participant and a
    comment, a notice with an objection, a 四议两公开 record with its first step and a task-list
    line — once in village A and once, marked, in county B."""
    records: dict[str, Any] = {}
    resident = w.users["resident"].person
    assert resident is not None
    for key, region, person, neighbour, unit, marker in (
        ("", w.regions["village_a"], resident, w.people["a_member"], w.units["village_committee"], ""),
        (
            "outside_",
            w.regions["village_b"],
            w.people["outside"],
            w.people["outside"],
            w.units["outside"],
            OUTSIDE_MARKER,
        ),
    ):
        problem = ProblemItem.objects.create(region=region, title=f"{marker}村道坑洼", category="infrastructure")
        need = Need.objects.create(
            region=region,
            title=f"{marker}修补村道",
            description=f"{marker}村口到小学的路坑洼不平",
            category="infrastructure",
            raised_by=person,
            status="listed",
            problem=problem,
        )
        support = NeedSupport.objects.create(need=need, person=neighbour)
        meeting = Meeting.objects.create(
            region=region,
            kind=MeetingKind.COUNCIL,
            title=f"{marker}村道议事会",
            held_at=timezone.now() + timedelta(days=3),
            place=f"{marker}村委会会议室",
        )
        participant = MeetingParticipant.objects.create(
            meeting=meeting, person=person, name=person.name, kind=ParticipantKind.RESIDENT
        )
        item = MeetingItem.objects.create(meeting=meeting, problem=problem, title=f"{marker}村道修补方案")
        comment = ItemComment.objects.create(item=item, person=person, text=f"{marker}建议先修小学门口")
        today = timezone.localdate()
        notice = Notice.objects.create(
            region=region,
            title=f"{marker}村道修补方案公示",
            body=f"{marker}方案如下",
            starts_on=today,
            ends_on=today + timedelta(days=7),
            status=NoticeStatus.PUBLISHED,
            published_at=timezone.now(),
        )
        objection = Objection.objects.create(notice=notice, person=person, text=f"{marker}预算偏高")
        decision = Decision.objects.create(region=region, title=f"{marker}村道修补", problem=problem)
        step = DecisionStep.objects.create(
            decision=decision, kind=StepKind.PROPOSAL, order=1, done_on=date(2026, 5, 1), notes=f"{marker}支部提议"
        )
        task_item = TaskListItem.objects.create(
            region=region,
            title=f"{marker}修补村道",
            problem=problem,
            owner_unit=unit,
            deadline=today + timedelta(days=60),
        )
        records.update(
            {
                f"{key}problem": problem,
                f"{key}need": need,
                f"{key}support": support,
                f"{key}meeting": meeting,
                f"{key}participant": participant,
                f"{key}item": item,
                f"{key}comment": comment,
                f"{key}notice": notice,
                f"{key}objection": objection,
                f"{key}decision": decision,
                f"{key}step": step,
                f"{key}task_item": task_item,
            }
        )
    return records


def _private(w: World, records: dict[str, Any]) -> dict[str, Any]:
    """What county B's public page must never show, each carrying ``PRIVATE_MARKER``: a draft notice
    and a draft vote, a declined and a merged need, an objection, a comment, an invitee, minutes
    and a discussion, a need's description — and a person whose full name and phone number must
    not appear although the need they raised is public."""
    region = w.regions["village_b"]
    marker = f"{OUTSIDE_MARKER}{PRIVATE_MARKER}"
    today = timezone.localdate()
    now = timezone.now()
    raiser = Person.objects.create(name=f"{marker}村民", region=region, phone="13900000099")
    public_need = Need.objects.create(
        region=region,
        title=f"{OUTSIDE_MARKER}路灯不亮",
        description=f"{marker}我家门口的路灯",
        category="infrastructure",
        raised_by=raiser,
    )
    declined = Need.objects.create(
        region=region,
        title=f"{marker}未采纳的诉求",
        description=f"{marker}内容",
        category="governance",
        raised_by=raiser,
        status=NeedStatus.DECLINED,
        status_reason=f"{marker}不予采纳的理由",
    )
    merged = Need.objects.create(
        region=region,
        title=f"{marker}重复的诉求",
        description=f"{marker}内容",
        category="infrastructure",
        raised_by=raiser,
        status=NeedStatus.MERGED,
        merged_into=records["outside_need"],
    )
    draft_notice = Notice.objects.create(
        region=region,
        title=f"{marker}草稿公示",
        body=f"{marker}草稿内容",
        starts_on=today,
        ends_on=today + timedelta(days=7),
    )
    poll = VoteRule.objects.get(code="simple_poll")
    draft_vote = Vote.objects.create(
        region=region,
        title=f"{marker}草稿表决",
        question=f"{marker}草稿问题",
        rule=poll,
        electorate=poll.electorate,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=8),
    )
    objection = Objection.objects.create(notice=records["outside_notice"], person=raiser, text=f"{marker}异议内容")
    comment = ItemComment.objects.create(item=records["outside_item"], person=raiser, text=f"{marker}居民意见")
    invitee = MeetingParticipant.objects.create(
        meeting=records["outside_meeting"], person=raiser, name=raiser.name, kind=ParticipantKind.RESIDENT
    )
    Meeting.objects.filter(pk=records["outside_meeting"].pk).update(minutes=f"{marker}会议纪要")
    MeetingItem.objects.filter(pk=records["outside_item"].pk).update(discussion=f"{marker}讨论情况")
    return {
        "private_raiser": raiser,
        "private_public_need": public_need,
        "private_declined_need": declined,
        "private_merged_need": merged,
        "private_draft_notice": draft_notice,
        "private_draft_vote": draft_vote,
        "private_objection": objection,
        "private_comment": comment,
        "private_invitee": invitee,
    }
