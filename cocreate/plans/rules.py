"""Visibility and write rules of the plans app, registered with the one access authority."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from cocreate.core import access
from cocreate.core.access import NOTHING, Scope, in_paths
from cocreate.core.models import Role
from cocreate.plans.models import (
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentStatus,
    Bulletin,
    BulletinStatus,
    Finding,
    Plan,
    ProgressReport,
    Rectification,
    SupervisionCheck,
    Task,
    TaskUnit,
)

# Who may issue and change plans and tasks inside their region subtree.
PLAN_MANAGERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.LEADER})
# Who may report progress for tasks in their region subtree (unit members may too: services).
REPORTERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.VILLAGE_STAFF, Role.SCHOOL_STAFF})


def _task_q(scope: Scope) -> Q:
    """Tasks in the staff member's regions, or naming one of the units they act for.

    A town plan's task that names a village committee (without fanning out) stays in the town's
    region; the committee must still see it and report on it.
    """
    q = in_paths(scope.staff_paths, "region__path")
    if scope.unit_ids:
        names_my_unit = TaskUnit.objects.filter(task=OuterRef("pk"), unit_id__in=scope.unit_ids)
        q |= Q(Exists(names_my_unit))
    return q


@access.register(Plan)
def _plan_rule(scope: Scope) -> Q:
    if not scope.staff_paths:
        return NOTHING
    # A village sees the town's plan once one of its tasks lands in the village.
    task_here = Task.objects.filter(_task_q(scope), plan=OuterRef("pk"))
    return in_paths(scope.staff_paths, "region__path") | Q(Exists(task_here))


@access.register(Task)
def _task_rule(scope: Scope) -> Q:
    return _task_q(scope) if scope.staff_paths else NOTHING


@access.register(ProgressReport)
def _report_rule(scope: Scope) -> Q:
    if not scope.staff_paths:
        return NOTHING
    q = in_paths(scope.staff_paths, "region__path")
    if scope.unit_ids:
        task_names_my_unit = TaskUnit.objects.filter(task=OuterRef("task_id"), unit_id__in=scope.unit_ids)
        q |= Q(unit_id__in=scope.unit_ids) | Q(Exists(task_names_my_unit))
    return q


access.register_write_roles(Plan, PLAN_MANAGERS)
access.register_write_roles(Task, PLAN_MANAGERS)
access.register_write_roles(ProgressReport, REPORTERS)


# --- Supervision and bulletins -------------------------------------------------------------------

# Who runs checks, raises rectifications and writes bulletins inside their region subtree.
SUPERVISORS = frozenset({Role.INSPECTOR, Role.LEADER, Role.ADMIN})


@access.register(SupervisionCheck)
def _check_rule(scope: Scope) -> Q:
    if not scope.staff_paths:
        return NOTHING
    # A village sees a town-wide check once it holds a finding about the village.
    finding_here = Finding.objects.filter(in_paths(scope.staff_paths, "region__path"), check_record=OuterRef("pk"))
    return in_paths(scope.staff_paths, "region__path") | Q(Exists(finding_here))


@access.register(Finding)
def _finding_rule(scope: Scope) -> Q:
    return in_paths(scope.staff_paths, "region__path") if scope.staff_paths else NOTHING


@access.register(Rectification)
def _rectification_rule(scope: Scope) -> Q:
    return in_paths(scope.staff_paths, "region__path") if scope.staff_paths else NOTHING


@access.register(Bulletin)
def _bulletin_rule(scope: Scope) -> Q:
    if not scope.staff_paths:
        return NOTHING
    # Drafts: only supervisors over the bulletin's region. Published: every staff member inside
    # the region (the recipients) and above it.
    drafts = in_paths(scope.paths_for(SUPERVISORS), "region__path")
    published = Q(status=BulletinStatus.PUBLISHED) & (
        in_paths(scope.staff_paths, "region__path") | Q(region__code__in=scope.ancestor_codes())
    )
    return drafts | published


access.register_write_roles(SupervisionCheck, SUPERVISORS)
access.register_write_roles(Finding, SUPERVISORS)
access.register_write_roles(Rectification, SUPERVISORS)
access.register_write_roles(Bulletin, SUPERVISORS)


# --- Yearly assessment ---------------------------------------------------------------------------

# Who drafts the rubric, reviews the units and publishes the ranking, over the plan's region.
ASSESSORS = PLAN_MANAGERS | SUPERVISORS


def _assessment_q(scope: Scope) -> Q:
    """Drafts: assessors over the region. Opened: also staff inside it and the assessed units."""
    drafts = in_paths(scope.paths_for(ASSESSORS), "region__path")
    entry_q = in_paths(scope.staff_paths, "region__path")
    if scope.unit_ids:
        entry_q |= Q(unit_id__in=scope.unit_ids)
    mine = AssessmentEntry.objects.filter(entry_q, assessment=OuterRef("pk"))
    opened = ~Q(status=AssessmentStatus.DRAFT) & (in_paths(scope.staff_paths, "region__path") | Q(Exists(mine)))
    return drafts | opened


@access.register(Assessment)
def _assessment_rule(scope: Scope) -> Q:
    return _assessment_q(scope) if scope.staff_paths or scope.unit_ids else NOTHING


@access.register(AssessmentItem)
def _assessment_item_rule(scope: Scope) -> Q:
    if not (scope.staff_paths or scope.unit_ids):
        return NOTHING
    return Q(assessment__in=Assessment.objects.filter(_assessment_q(scope)).values("pk"))


@access.register(AssessmentEntry)
def _assessment_entry_rule(scope: Scope) -> Q:
    """Assessors see every entry; a unit its own; once published, everyone who sees the assessment all.

    Before publication a village never sees another village's scores.
    """
    if not (scope.staff_paths or scope.unit_ids):
        return NOTHING
    own = in_paths(scope.staff_paths, "region__path")
    if scope.unit_ids:
        own |= Q(unit_id__in=scope.unit_ids)
    q = in_paths(scope.paths_for(ASSESSORS), "assessment__region__path")
    q |= ~Q(assessment__status=AssessmentStatus.DRAFT) & own
    published = Assessment.objects.filter(_assessment_q(scope), status=AssessmentStatus.PUBLISHED)
    return q | Q(assessment__in=published.values("pk"))


access.register_write_roles(Assessment, ASSESSORS)
# Items and entries are written through their assessment: the services check the assessment's
# region (an entry's own region is the unit's, where a town's staff are not the reviewers).
