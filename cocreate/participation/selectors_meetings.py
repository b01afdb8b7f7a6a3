"""Reads of meetings and the task list for pages and the API. Everything starts from
``visible_to(user)``; names of private persons are masked for whoever may not manage the meeting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from cocreate.core import access
from cocreate.core.models import Person, Region, Unit
from cocreate.core.privacy import mask_name
from cocreate.participation.meetings import effective_status
from cocreate.participation.models import (
    Decision,
    DecisionStatus,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingParticipant,
    MeetingStatus,
    ProblemItem,
    ProblemStatus,
    StepKind,
    TaskItemStatus,
    TaskListItem,
    Vote,
    VoteStatus,
)

CANDIDATES = 20


# --- Meetings ----------------------------------------------------------------------------------------


def meeting_list(
    *,
    user: Any,
    status: str = "",
    search: str = "",
    region: Region | None = None,
    upcoming: bool | None = None,
    now: datetime | None = None,
) -> QuerySet[Meeting]:
    """The meetings the user may see, newest first (upcoming ones soonest first)."""
    qs = Meeting.objects.visible_to(user).select_related("region").annotate(item_count=Count("items"))
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(place__icontains=search))
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if upcoming is not None:
        now = now or timezone.now()
        planned = Q(status=MeetingStatus.PLANNED, held_at__gt=now)
        if upcoming:
            return qs.filter(planned).order_by("held_at", "id")
        qs = qs.exclude(planned)
    return qs.order_by("-held_at", "-id")


def meeting_detail(*, user: Any, pk: Any) -> Meeting:
    """One visible meeting; missing and forbidden both 404."""
    return access.get_visible_or_404(Meeting.objects.select_related("region"), user, pk=pk)


def may_manage(user: Any, meeting: Meeting) -> bool:
    """Whether the user runs this meeting (and so sees who was invited, with full names)."""
    return access.can(user, access.CHANGE, meeting)


def meeting_items(*, user: Any, meeting: Meeting) -> list[MeetingItem]:
    """The agenda with each item's visible comments (``item.comment_rows``: author shown as allowed)."""
    comments = ItemComment.objects.visible_to(user).select_related("person").order_by("created_at", "id")
    items = list(
        MeetingItem.objects.visible_to(user)
        .filter(meeting=meeting)
        .select_related("problem")
        .prefetch_related(Prefetch("comments", queryset=comments, to_attr="visible_comments"))
        .order_by("order", "id")
    )
    full = may_manage(user, meeting)
    for item in items:
        item.comment_rows = [
            CommentRow(
                id=c.pk,
                author=c.person.name if full else mask_name(c.person.name),
                text=c.text,
                created_at=c.created_at,
            )
            for c in item.visible_comments
        ]
    return items


@dataclass(frozen=True)
class CommentRow:
    id: int
    author: str
    text: str
    created_at: datetime


def meeting_participants(*, user: Any, meeting: Meeting) -> QuerySet[MeetingParticipant]:
    """Who was invited, as far as the user may see it (staff: all; a resident: their own line)."""
    return (
        MeetingParticipant.objects.visible_to(user)
        .filter(meeting=meeting)
        .select_related("person")
        .order_by("kind", "id")
    )


def my_invitation(*, user: Any, meeting: Meeting) -> MeetingParticipant | None:
    """The user's own line on the invitation list, if they were invited."""
    person_id = getattr(user, "person_id", None)
    if not person_id:
        return None
    return meeting.participants.filter(person_id=person_id).first()


def participant_counts(meeting: Meeting) -> tuple[int, int]:
    """(invited, present): figures anyone who sees the meeting may see, without names."""
    row = meeting.participants.aggregate(invited=Count("id"), present=Count("id", filter=Q(present=True)))
    return row["invited"], row["present"]


def person_candidates(*, user: Any, meeting: Meeting, search: str) -> list[Person]:
    """People of the meeting's community (visible to the user) matching the search, not yet invited."""
    search = search.strip()
    if not search:
        return []
    invited = meeting.participants.filter(person__isnull=False).values("person_id")
    return list(
        Person.objects.visible_to(user)
        .filter(region__path__startswith=meeting.region.path, name__icontains=search)
        .exclude(pk__in=invited)
        .select_related("region")
        .order_by("name", "id")[:CANDIDATES]
    )


def problem_candidates(*, user: Any, meeting: Meeting) -> QuerySet[ProblemItem]:
    """Lines of the community's problem list that can still go on an agenda."""
    return (
        ProblemItem.objects.visible_to(user)
        .filter(region__path__startswith=meeting.region.path)
        .filter(status__in=[ProblemStatus.OPEN, ProblemStatus.DELIBERATING])
        .order_by("-created_at", "-id")
    )


def comment_allowed(*, user: Any, meeting: Meeting, now: datetime | None = None) -> bool:
    """Whether the comment form is worth showing (the service decides; this only hides a dead form)."""
    now = now or timezone.now()
    if meeting.status != MeetingStatus.PLANNED or now >= meeting.held_at:
        return False
    person_id = getattr(user, "person_id", None)
    if not person_id:
        return False
    person = Person.objects.filter(pk=person_id).select_related("region").first()
    return bool(person and person.is_verified and person.region.path.startswith(meeting.region.path))


def comment_open(meeting: Meeting, now: datetime | None = None) -> bool:
    return meeting.status == MeetingStatus.PLANNED and (now or timezone.now()) < meeting.held_at


# --- Task list -------------------------------------------------------------------------------------------


def _task_item_qs() -> QuerySet[TaskListItem]:
    return TaskListItem.objects.select_related(
        "region",
        "owner_unit",
        "meeting_item__meeting",
        "vote",
        "decision",
        "problem",
        "plan_task__plan",
    ).prefetch_related("plan_task__milestones")


def task_item_list(
    *, user: Any, search: str = "", region: Region | None = None, status: str = ""
) -> QuerySet[TaskListItem]:
    """The task-list lines the user may see, nearest deadline first.

    ``status`` filters by the effective status (a line sent into a plan reads its task's progress).
    """
    qs = _task_item_qs().filter(pk__in=TaskListItem.objects.visible_to(user).values("pk"))
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(description__icontains=search))
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if status:
        on_own = Q(plan_task__isnull=True, status=status)
        by_task = {
            TaskItemStatus.PENDING: Q(plan_task__progress__lte=0),
            TaskItemStatus.DOING: Q(plan_task__progress__gt=0, plan_task__progress__lt=100),
            TaskItemStatus.DONE: Q(plan_task__progress__gte=100),
        }[TaskItemStatus(status)]
        qs = qs.filter(on_own | (Q(plan_task__isnull=False) & by_task))
    return qs.order_by("deadline", "id")


def task_item_detail(*, user: Any, pk: Any) -> TaskListItem:
    return access.get_visible_or_404(_task_item_qs(), user, pk=pk)


@dataclass(frozen=True)
class TaskRow:
    """One task-list line as the list shows it: effective status and, once in a plan, its task's light."""

    item: TaskListItem
    status: str
    status_label: str
    task_visible: bool
    light: Any  # plans.status.TaskStatus | None
    can_change: bool

    @property
    def progress(self) -> Decimal | None:
        task = self.item.plan_task
        return task.progress if task is not None else None


def task_rows(*, user: Any, items: list[TaskListItem], today: date | None = None) -> list[TaskRow]:
    from cocreate.plans.models import Task
    from cocreate.plans.status import task_light

    today = today or timezone.localdate()
    task_ids = [i.plan_task_id for i in items if i.plan_task_id]
    visible_tasks = set(Task.objects.visible_to(user).filter(pk__in=task_ids).values_list("pk", flat=True))
    rows = []
    for item in items:
        status = effective_status(item)
        task = item.plan_task
        rows.append(
            TaskRow(
                item=item,
                status=status,
                status_label=str(TaskItemStatus(status).label),
                task_visible=task is not None and task.pk in visible_tasks,
                light=task_light(task, today) if task is not None else None,
                can_change=access.can(user, access.CHANGE, item),
            )
        )
    return rows


@dataclass(frozen=True)
class SourceChoice:
    key: str  # "meeting_item:12", "vote:3", "decision:5"
    label: str
    region: Region
    title: str


def task_sources(*, user: Any) -> list[SourceChoice]:
    """What a task-list line may come from, as the user sees it: resolved items of held meetings,
    closed votes that carried, and 四议两公开 records with their resolution (not rejected)."""
    items = (
        MeetingItem.objects.visible_to(user)
        .filter(meeting__status=MeetingStatus.HELD)
        .exclude(resolution="")
        .select_related("meeting__region")
        .order_by("-meeting__held_at", "order", "id")
    )
    carried = (
        Vote.objects.visible_to(user)
        .filter(status=VoteStatus.CLOSED, result__carried=True)
        .select_related("region")
        .order_by("-closed_at", "-id")
    )
    decisions = (
        Decision.objects.visible_to(user)
        .exclude(status=DecisionStatus.REJECTED)
        .filter(Q(status=DecisionStatus.COMPLETED) | Q(steps__kind=StepKind.RESOLUTION))
        .distinct()
        .select_related("region")
        .order_by("-created_at", "-id")
    )
    choices = [
        SourceChoice(f"meeting_item:{i.pk}", f"{i.meeting.title} · {i.title}", i.meeting.region, i.title)
        for i in items[:200]
    ]
    choices += [SourceChoice(f"vote:{v.pk}", v.title, v.region, v.title) for v in carried[:200]]
    choices += [SourceChoice(f"decision:{d.pk}", d.title, d.region, d.title) for d in decisions[:200]]
    return choices


def owner_units(*, user: Any) -> QuerySet[Unit]:
    return (
        Unit.objects.visible_to(user).filter(is_active=True).select_related("region").order_by("region__path", "name")
    )


def plans_for_task_items(*, user: Any) -> list[Any]:
    """Active work plans the user sees and may add a task to."""
    from cocreate.plans.models import Plan, PlanStatus, Task

    plans = Plan.objects.visible_to(user).filter(status=PlanStatus.ACTIVE).select_related("region")
    return [
        p
        for p in plans.order_by("-starts_on", "-id")[:200]
        if access.can(user, access.CREATE, Task(plan=p, region=p.region))
    ]
