"""Visibility and write rules of the plans app, registered with the one access authority."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from cocreate.core import access
from cocreate.core.access import NOTHING, Scope, in_paths
from cocreate.core.models import Role
from cocreate.plans.models import Plan, ProgressReport, Task

# Who may issue and change plans and tasks inside their region subtree.
PLAN_MANAGERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.LEADER})
# Who may report progress for tasks in their region subtree (unit members may too: services).
REPORTERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.VILLAGE_STAFF, Role.SCHOOL_STAFF})


@access.register(Plan)
def _plan_rule(scope: Scope) -> Q:
    if not scope.staff_paths:
        return NOTHING
    # A village sees the town's plan once one of its tasks lands in the village.
    task_here = Task.objects.filter(in_paths(scope.staff_paths, "region__path"), plan=OuterRef("pk"))
    return in_paths(scope.staff_paths, "region__path") | Q(Exists(task_here))


@access.register(Task)
def _task_rule(scope: Scope) -> Q:
    return in_paths(scope.staff_paths, "region__path") if scope.staff_paths else NOTHING


@access.register(ProgressReport)
def _report_rule(scope: Scope) -> Q:
    return in_paths(scope.staff_paths, "region__path") if scope.staff_paths else NOTHING


access.register_write_roles(Plan, PLAN_MANAGERS)
access.register_write_roles(Task, PLAN_MANAGERS)
access.register_write_roles(ProgressReport, REPORTERS)
