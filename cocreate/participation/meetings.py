"""Deliberation (民事民议): meetings with invited and present people, agenda items taken from the
problem list, residents' comments before the meeting, minutes and resolutions; and the task list
(任务清单) that carried resolutions become, which can be sent into a work plan.

A task-list line sent into a plan follows the plan's task: its status is read from the task's
progress (``effective_status``), so nobody types the same progress twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.models import Person, Region, Unit
from cocreate.core.services import require
from cocreate.participation.models import (
    Decision,
    DecisionStatus,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingKind,
    MeetingParticipant,
    MeetingStatus,
    ParticipantKind,
    ProblemItem,
    ProblemStatus,
    TaskItemStatus,
    TaskListItem,
    Vote,
    VoteStatus,
)
from cocreate.participation.needs import notify_problem_followers, problem_move

COMMENT_MAX = 1000


def _in_region(region: Region, child: Region) -> bool:
    return child.path.startswith(region.path)


# --- Meetings ---------------------------------------------------------------------------------------


@transaction.atomic
def meeting_create(*, actor: Any, region: Region, kind: str, title: str, held_at: datetime, place: str) -> Meeting:
    meeting = Meeting(
        region=region,
        kind=kind,
        title=title.strip(),
        held_at=held_at,
        place=place.strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, meeting)
    if kind not in MeetingKind.values:
        raise ValidationError({"kind": _("请选择会议类型")})
    if not meeting.title:
        raise ValidationError({"title": _("请填写会议名称")})
    if not meeting.place:
        raise ValidationError({"place": _("请填写会议地点")})
    meeting.save()
    return meeting


def _planned(meeting: Meeting) -> Meeting:
    """The meeting as stored, locked, and still planned (a caller's copy may be stale)."""
    row = Meeting.objects.select_for_update().select_related("region").get(pk=meeting.pk)
    if row.status != MeetingStatus.PLANNED:
        raise ValidationError(_("会议已召开，不能再修改议程和参会人员"))
    return row


@transaction.atomic
def participant_add(
    *, actor: Any, meeting: Meeting, kind: str, person: Person | None = None, name: str = ""
) -> MeetingParticipant:
    """Invites a person on record (of the meeting's region) or a named guest (expert, 乡贤 from outside)."""
    require(actor, access.CHANGE, meeting)
    meeting = _planned(meeting)
    if kind not in ParticipantKind.values:
        raise ValidationError({"kind": _("请选择参会人员身份")})
    if person is not None:
        if not Person.objects.visible_to(actor).filter(pk=person.pk).exists():
            raise ValidationError({"person": _("所选人员不存在或无权访问")})
        if MeetingParticipant.objects.filter(meeting=meeting, person=person).exists():
            raise ValidationError({"person": _("该人员已在参会名单中")})
        name = person.name
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("请填写参会人员姓名")})
    return MeetingParticipant.objects.create(meeting=meeting, person=person, name=name[:50], kind=kind)


@transaction.atomic
def item_add(*, actor: Any, meeting: Meeting, title: str = "", problem: ProblemItem | None = None) -> MeetingItem:
    """Puts an item on the agenda; a problem-list line moves to 议事中."""
    require(actor, access.CHANGE, meeting)
    meeting = _planned(meeting)
    if problem is not None:
        if problem.region_id != meeting.region_id and not _in_region(meeting.region, problem.region):
            raise ValidationError({"problem": _("所选问题不属于本社区")})
        if problem.status in (ProblemStatus.DROPPED, ProblemStatus.DONE):
            raise ValidationError({"problem": _("该问题已办结或不予实施")})
        title = title.strip() or problem.title
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("请填写议题")})
    order = meeting.items.count() + 1
    item = MeetingItem.objects.create(meeting=meeting, problem=problem, title=title[:200], order=order)
    if problem is not None and problem.status == ProblemStatus.OPEN:
        problem_move(problem, ProblemStatus.DELIBERATING, _("已列入%(meeting)s议题") % {"meeting": meeting.title})
    return item


def comment_add(*, actor: Any, item: MeetingItem, text: str, now: datetime | None = None) -> ItemComment:
    """A resident's comment on an item before the meeting: verified, living in the community."""
    person_id = getattr(actor, "person_id", None)
    person = Person.objects.filter(pk=person_id).select_related("region").first() if person_id else None
    meeting = item.meeting
    if person is None or not person.is_verified or not _in_region(meeting.region, person.region):
        raise PermissionDenied(_("只有本社区已核实的居民可以提出意见"))
    now = now or timezone.now()
    if meeting.status != MeetingStatus.PLANNED or now >= meeting.held_at:
        raise ValidationError({"text": _("会议已开始，不能再提交意见")})
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("请填写意见")})
    if len(text) > COMMENT_MAX:
        raise ValidationError({"text": _("意见不能超过%(n)d字") % {"n": COMMENT_MAX}})
    return ItemComment.objects.create(item=item, person=person, text=text)


@transaction.atomic
def meeting_record(
    *,
    actor: Any,
    meeting: Meeting,
    present: Sequence[int],
    minutes: str,
    items: Mapping[int, tuple[str, str]],
) -> Meeting:
    """Records a held meeting: who came (participant ids), the minutes, each item's discussion and resolution."""
    require(actor, access.CHANGE, meeting)
    row = _planned(meeting)
    minutes = minutes.strip()
    if not minutes:
        raise ValidationError({"minutes": _("请填写会议纪要")})
    participants = set(row.participants.values_list("pk", flat=True))
    unknown = set(present) - participants
    if unknown:
        raise ValidationError({"present": _("到会人员须在参会名单中")})
    agenda = {i.pk: i for i in row.items.select_related("problem")}
    if set(items) - set(agenda):
        raise ValidationError({"items": _("议题不属于本次会议")})
    row.participants.update(present=False)
    row.participants.filter(pk__in=list(present)).update(present=True)
    for item_id, (discussion, resolution) in items.items():
        item = agenda[item_id]
        item.discussion, item.resolution = discussion.strip(), resolution.strip()
        item.save(update_fields=["discussion", "resolution"])
        if item.problem_id is not None and item.resolution:
            # Whoever raised or seconded the problem's needs learns what the meeting resolved.
            notify_problem_followers(
                item.problem,
                title=_("%(meeting)s已议定“%(title)s”") % {"meeting": row.title, "title": item.title},
                body=item.resolution[:300],
                key=f"meeting:{row.pk}",
            )
    row.minutes = minutes
    row.status = MeetingStatus.HELD
    row.save(update_fields=["minutes", "status"])
    return row


# --- Task list ------------------------------------------------------------------------------------------


def _check_source(
    region: Region, meeting_item: MeetingItem | None, vote: Vote | None, decision: Decision | None
) -> None:
    """A task-list line comes from something decided: a resolution, a carried vote, a completed 四议两公开."""
    if meeting_item is None and vote is None and decision is None:
        raise ValidationError({"source": _("请选择任务来源：会议决议、表决结果或四议两公开")})
    if meeting_item is not None:
        if not meeting_item.resolution.strip() or meeting_item.meeting.status != MeetingStatus.HELD:
            raise ValidationError({"meeting_item": _("该议题尚未形成决议")})
        if not _in_region(region, meeting_item.meeting.region) and not _in_region(meeting_item.meeting.region, region):
            raise ValidationError({"meeting_item": _("该议题不属于本社区")})
    if vote is not None:
        if vote.status != VoteStatus.CLOSED or not vote.result.get("carried"):
            raise ValidationError({"vote": _("只有已结束并获通过的表决可以列入任务清单")})
        if vote.region_id != region.pk and not _in_region(region, vote.region):
            raise ValidationError({"vote": _("该表决不属于本社区")})
    if decision is not None:
        if decision.region_id != region.pk and not _in_region(region, decision.region):
            raise ValidationError({"decision": _("该事项不属于本社区")})
        if decision.status != DecisionStatus.COMPLETED and not decision.steps.filter(kind="resolution").exists():
            raise ValidationError({"decision": _("该事项尚未形成决议")})
        if decision.status == DecisionStatus.REJECTED:
            raise ValidationError({"decision": _("该事项未获通过")})


@transaction.atomic
def task_item_create(
    *,
    actor: Any,
    region: Region,
    title: str,
    owner_unit: Unit,
    deadline: date,
    description: str = "",
    problem: ProblemItem | None = None,
    meeting_item: MeetingItem | None = None,
    vote: Vote | None = None,
    decision: Decision | None = None,
) -> TaskListItem:
    """Turns something carried into a task-list line with an owner and a deadline."""
    item = TaskListItem(
        region=region,
        title=title.strip(),
        description=description.strip(),
        problem=problem or (meeting_item.problem if meeting_item else None),
        meeting_item=meeting_item,
        vote=vote,
        decision=decision,
        owner_unit=owner_unit,
        deadline=deadline,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, item)
    if not item.title:
        raise ValidationError({"title": _("请填写任务")})
    if not Unit.objects.visible_to(actor).filter(pk=owner_unit.pk).exists():
        raise ValidationError({"owner_unit": _("所选单位不存在或不在您的管理范围内")})
    _check_source(region, meeting_item, vote, decision)
    item.save()
    if item.problem is not None and item.problem.status in (ProblemStatus.OPEN, ProblemStatus.DELIBERATING):
        problem_move(item.problem, ProblemStatus.DECIDED, _("已列入任务清单：%(title)s") % {"title": item.title})
    return item


@transaction.atomic
def task_item_to_plan(*, actor: Any, item: TaskListItem, plan: Any, starts_on: date | None = None) -> Any:
    """Sends a task-list line into a work plan as a task of its owner unit; its status then follows the task."""
    from cocreate.plans import services as plan_services

    require(actor, access.CHANGE, item)
    row = TaskListItem.objects.select_for_update().get(pk=item.pk)
    if row.plan_task_id is not None:
        raise ValidationError({"plan": _("该任务已列入工作方案")})
    task = plan_services.task_create(
        actor=actor,
        plan=plan,
        title=row.title,
        content=row.description,
        starts_on=starts_on or max(plan.starts_on, timezone.localdate()),
        deadline=row.deadline,
        units={"responsible": [row.owner_unit]},
    )
    row.plan_task = task
    row.save(update_fields=["plan_task"])
    return task


def effective_status(item: TaskListItem) -> str:
    """The line's status, read from its work-plan task once it has one."""
    task = item.plan_task
    if task is None:
        return item.status
    if task.progress >= 100:
        return TaskItemStatus.DONE
    return TaskItemStatus.DOING if task.progress > 0 else TaskItemStatus.PENDING
