"""Reads for a community's public page (no login): everything starts from ``access.public``.

Every visitor — anonymous or signed in, of this county or another — gets the same rows; nothing here
looks at the user. Rows that name people have no public rule, so only counts of them are shown
(supporters, objections, those present); a need's raiser comes as a bare name for the page to mask.
Each list is one query (with at most one prefetch), whatever the number of rows.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, subtree_q
from cocreate.participation import selectors_votes
from cocreate.participation import votes as vote_rules
from cocreate.participation.meetings import effective_status
from cocreate.participation.models import (
    Decision,
    DecisionStep,
    Meeting,
    MeetingItem,
    Need,
    Notice,
    ProblemItem,
    TaskItemStatus,
    TaskListItem,
    Vote,
    VoteStatus,
)

# The models whose rows make up a community's public page, in the order the page shows them.
PUBLIC_RECORDS: tuple[type[Any], ...] = (Need, ProblemItem, Meeting, Vote, Notice, Decision, TaskListItem)


def _in_community(community: Region) -> Q:
    """Rows of the community and of the grids below it."""
    return subtree_q(community.path, "region__path")


# --- Communities ---------------------------------------------------------------------------------------


def community_list(*, search: str = "") -> QuerySet[Region]:
    """Villages and communities (村/社区) with at least one public record, in the tree's order."""
    qs = access.public(Region.objects.filter(level=RegionLevel.VILLAGE)).select_related("parent", "parent__parent")
    has_any = Q(pk__in=[])
    for model in PUBLIC_RECORDS:
        has_any |= Q(Exists(access.public(model._default_manager.filter(region__path__startswith=OuterRef("path")))))
    qs = qs.filter(has_any)
    search = search.strip()
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__startswith=search) | Q(parent__name__icontains=search))
    return qs.order_by("path")


def community(*, code: str) -> Region:
    """The village or community whose public page ``code`` addresses; 404 for any other code."""
    try:
        return access.public(Region.objects.select_related("parent", "parent__parent")).get(
            code=code, level=RegionLevel.VILLAGE
        )
    except Region.DoesNotExist as exc:
        raise Http404("not found") from exc


# --- Each kind of record ----------------------------------------------------------------------------------


def needs(*, community: Region) -> QuerySet[Need]:
    """Public needs, newest first, with ``support_count`` and ``raiser_name`` (to be masked)."""
    return (
        access.public(Need.objects.filter(_in_community(community)))
        .annotate(support_count=Count("supports", distinct=True), raiser_name=F("raised_by__name"))
        .only("id", "title", "category", "status", "place", "created_at", "region_id")
        .order_by("-created_at", "-id")
    )


def problems(*, community: Region) -> QuerySet[ProblemItem]:
    """The problem list, newest first, with ``need_count`` (public needs on each line)."""
    public_need = Q(needs__in=access.public(Need.objects.all()))
    return (
        access.public(ProblemItem.objects.filter(_in_community(community)))
        .annotate(need_count=Count("needs", filter=public_need, distinct=True))
        .order_by("-created_at", "-id")
    )


def meetings(*, community: Region) -> QuerySet[Meeting]:
    """Meetings, latest first, with ``present_count`` and their agenda items (and resolutions)."""
    items = access.public(MeetingItem.objects.all()).only("id", "meeting_id", "title", "resolution", "order")
    return (
        access.public(Meeting.objects.filter(_in_community(community)))
        .annotate(present_count=Count("participants", filter=Q(participants__present=True)))
        .prefetch_related(Prefetch("items", queryset=items.order_by("order", "id"), to_attr="public_items"))
        .defer("minutes")
        .order_by("-held_at", "-id")
    )


def meeting(*, community: Region, pk: Any) -> Meeting:
    return access.get_public_or_404(meetings(community=community), pk=pk)


def votes(*, community: Region) -> QuerySet[Vote]:
    """Opened votes, latest first, with their rule."""
    return (
        access.public(Vote.objects.filter(_in_community(community)))
        .select_related("rule", "estate")
        .order_by("-opens_at", "-id")
    )


def vote(*, community: Region, pk: Any) -> Vote:
    return access.get_public_or_404(votes(community=community), pk=pk)


def vote_result(*, vote: Vote) -> dict[str, Any] | None:
    """The frozen result of a closed vote with its outcome in words (表决通过 …); an open vote shows
    none, as residents see it."""
    if vote.status != VoteStatus.CLOSED:
        return None
    return {**selectors_votes.vote_result(vote=vote), "phrase": vote_rules.result_phrase(vote)}


def notices(*, community: Region) -> QuerySet[Notice]:
    """Published and ended notices, latest first, with ``objection_count`` (never who objected)."""
    return (
        access.public(Notice.objects.filter(_in_community(community)))
        .annotate(objection_count=Count("objections"))
        .order_by("-starts_on", "-id")
    )


def notice(*, community: Region, pk: Any) -> Notice:
    return access.get_public_or_404(notices(community=community), pk=pk)


def decisions(*, community: Region) -> QuerySet[Decision]:
    """四议两公开 records, newest first, with their public steps in order."""
    steps = access.public(DecisionStep.objects.all()).select_related("vote", "notice").order_by("order")
    return (
        access.public(Decision.objects.filter(_in_community(community)))
        .prefetch_related(Prefetch("steps", queryset=steps, to_attr="public_steps"))
        .order_by("-created_at", "-id")
    )


def task_items(*, community: Region) -> QuerySet[TaskListItem]:
    """The task list, nearest deadline first, with its owner unit (and work-plan task for the status)."""
    return (
        access.public(TaskListItem.objects.filter(_in_community(community)))
        .select_related("owner_unit", "plan_task")
        .order_by("deadline", "id")
    )


def task_status(item: TaskListItem) -> tuple[str, str]:
    """The line's effective status and its label (a line sent into a plan reads its task's progress)."""
    status = effective_status(item)
    return status, str(TaskItemStatus(status).label)
