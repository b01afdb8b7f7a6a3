"""Visibility and write rules of co-decision, registered with the one access authority."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from cocreate.core import access
from cocreate.core.access import NOTHING, Scope, in_paths
from cocreate.core.models import Region, Role
from cocreate.participation.models import (
    Ballot,
    Decision,
    DecisionStep,
    Estate,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingParticipant,
    Need,
    NeedStatus,
    NeedSupport,
    Notice,
    NoticeStatus,
    Objection,
    ProblemItem,
    PropertyUnit,
    TaskListItem,
    Vote,
    Voter,
    VoteStatus,
)

# Who runs a community's votes, estates and owners' records inside their region subtree.
DECISION_MANAGERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.VILLAGE_STAFF})


def _own_line(scope: Scope, prefix: str = "") -> Q:
    """Roll lines (or their ballots) that are the caller's: their person or their household."""
    q = NOTHING
    if scope.person_id:
        q |= Q(**{f"{prefix}person_id": scope.person_id})
    if scope.household_id:
        q |= Q(**{f"{prefix}household_id": scope.household_id})
    return q


def _home_codes(scope: Scope) -> list[str]:
    """The region codes from the top down to where the resident lives."""
    if not scope.home_region_path:
        return []
    return [c for c in scope.home_region_path.strip("/").split("/") if c]


def _home_regions(codes: list[str]) -> QuerySet[Region, dict[str, Any]]:
    """The regions from the top down to where the resident lives, as a subquery of ids.

    ``region_id IN (SELECT id …)`` instead of a join on the region's code lets the database use
    the records' own (region, status, created_at) indexes (the needs index of a community).
    """
    return Region.objects.filter(code__in=codes).values("pk")


def community_q(scope: Scope, field: str = "region") -> Q:
    """Staff over the record's region, or residents living in it (the record is their community's)."""
    q = in_paths(scope.staff_paths, f"{field}__path")
    codes = _home_codes(scope)
    if codes:
        q |= Q(**{f"{field}_id__in": _home_regions(codes)})
    return q


@access.register(Vote)
def _vote_rule(scope: Scope) -> Q:
    """Staff see the votes of their regions; residents the opened votes of where they live."""
    q = in_paths(scope.staff_paths, "region__path")
    codes = _home_codes(scope)
    if codes:
        q |= Q(region_id__in=_home_regions(codes)) & ~Q(status=VoteStatus.DRAFT)
    return q


@access.register(Voter)
def _voter_rule(scope: Scope) -> Q:
    return in_paths(scope.staff_paths, "vote__region__path") | _own_line(scope)


@access.register(Ballot)
def _ballot_rule(scope: Scope) -> Q:
    """How each voter voted: staff over the vote's region, and the voter."""
    return in_paths(scope.staff_paths, "vote__region__path") | _own_line(scope, "voter__")


@access.register(Estate)
def _estate_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    if scope.person_id:
        q |= Q(Exists(PropertyUnit.objects.filter(estate=OuterRef("pk"), owner_id=scope.person_id)))
    return q


@access.register(PropertyUnit)
def _property_unit_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    if scope.person_id:
        q |= Q(owner_id=scope.person_id)
    return q


access.register_write_roles(Vote, DECISION_MANAGERS)
access.register_write_roles(Estate, DECISION_MANAGERS)
access.register_write_roles(PropertyUnit, DECISION_MANAGERS)


# --- Needs, problem list, meetings, notices, 四议两公开, task list ------------------------------------------
# Community records are public inside the community (and on its public page); the personal parts —
# who seconded, who was invited, who objected — are for staff and the person themselves.


@access.register(Need)
def _need_rule(scope: Scope) -> Q:
    q = community_q(scope)
    if scope.person_id:
        q |= Q(raised_by_id=scope.person_id)
    if scope.user_id:
        q |= Q(recorded_by_id=scope.user_id)  # a grid worker keeps seeing what they recorded on a visit
    return q


@access.register(NeedSupport)
def _need_support_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "need__region__path")
    if scope.person_id:
        q |= Q(person_id=scope.person_id)
    return q


@access.register(ProblemItem)
def _problem_rule(scope: Scope) -> Q:
    return community_q(scope)


@access.register(Meeting)
def _meeting_rule(scope: Scope) -> Q:
    return community_q(scope)


@access.register(MeetingItem)
def _meeting_item_rule(scope: Scope) -> Q:
    return community_q(scope, "meeting__region")


@access.register(MeetingParticipant)
def _participant_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "meeting__region__path")
    if scope.person_id:
        q |= Q(person_id=scope.person_id)
    return q


@access.register(ItemComment)
def _comment_rule(scope: Scope) -> Q:
    q = community_q(scope, "item__meeting__region")
    return q


@access.register(Notice)
def _notice_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    codes = _home_codes(scope)
    if codes:
        q |= Q(region_id__in=_home_regions(codes)) & ~Q(status=NoticeStatus.DRAFT)
    return q


@access.register(Objection)
def _objection_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "notice__region__path")
    if scope.person_id:
        q |= Q(person_id=scope.person_id)
    return q


@access.register(Decision)
def _decision_rule(scope: Scope) -> Q:
    return community_q(scope)


@access.register(DecisionStep)
def _decision_step_rule(scope: Scope) -> Q:
    return community_q(scope, "decision__region")


@access.register(TaskListItem)
def _task_item_rule(scope: Scope) -> Q:
    return community_q(scope)


for _model in (ProblemItem, Meeting, Notice, Decision, TaskListItem):
    access.register_write_roles(_model, DECISION_MANAGERS)


# --- The community's public page (no login) ------------------------------------------------------------
# What anyone may see, whoever they are (``access.public``). Only community records are public; the
# rows that name people — supporters, invitees, comments, objections, roll lines, ballots, owners'
# units — have no public rule and so are never public. Pages show a need's raiser masked (张*).

# Needs that are on the public page: waiting, on the problem list, done. A merged duplicate lives on
# in the need it was merged into; a declined need's reason was written to its raiser.
PUBLIC_NEED_STATUSES = (NeedStatus.SUBMITTED, NeedStatus.LISTED, NeedStatus.DONE)
EVERY_ROW = Q()  # filter(Q()) keeps every row


@access.register_public(Need)
def _need_public_rule() -> Q:
    return Q(status__in=PUBLIC_NEED_STATUSES)


@access.register_public(Vote)
def _vote_public_rule() -> Q:
    """Opened votes, as residents see them; the counts are shown once the vote has closed."""
    return ~Q(status=VoteStatus.DRAFT)


@access.register_public(Notice)
def _notice_public_rule() -> Q:
    return ~Q(status=NoticeStatus.DRAFT)


def _every_row() -> Q:
    return EVERY_ROW


# Community records without drafts or personal data: all of their rows are public.
for _public_model in (ProblemItem, Meeting, MeetingItem, Decision, DecisionStep, TaskListItem):
    access.register_public(_public_model)(_every_row)
