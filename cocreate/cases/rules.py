"""Who sees and who handles grievance cases, registered with the one access authority.

Cases are never public. A case is visible to:

* case staff (村/镇/部门工作人员, 督查员, 领导) over the case's region whose own level is at or
  above the case's level — a village sees its village-level cases, a town also the town-level
  ones in its villages, the county everything in the county;
* staff of the case's lead unit and co-units, wherever their unit sits;
* the applicant's own account, and whoever recorded the case (a grid worker after a home visit).

School staff, grid workers (beyond what they recorded) and administrators see no cases: a
grievance is personal, and being staff somewhere is not a reason to read it.

Handling is narrower than seeing (``can_handle``): the office of the case's level (村 → 村工作
人员, 镇 → 镇工作人员, 县 → 部门工作人员) and the lead unit's staff. Only they see parties'
personal data in full — except an anonymous applicant's, which only the office sees.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from cocreate.cases.models import (
    Case,
    CaseEvent,
    CaseLevel,
    CaseReminder,
    CaseReturn,
    ExtensionRequest,
    Party,
    PartyRole,
    Rating,
)
from cocreate.core import access
from cocreate.core.access import NOTHING, Scope
from cocreate.core.models import Region, Role, subtree_q

# Which role is "the office" that accepts, triages and dispatches the cases of a level.
OFFICE_ROLES: dict[int, frozenset[str]] = {
    CaseLevel.VILLAGE: frozenset({Role.VILLAGE_STAFF}),
    CaseLevel.TOWN: frozenset({Role.TOWN_STAFF}),
    CaseLevel.COUNTY: frozenset({Role.DEPT_STAFF}),
}
# Roles that read the cases of their area (at or above the case's level).
CASE_READERS = frozenset({Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.LEADER})


def level_above(level: int) -> int:
    """The level that reviews a level's returns, extensions and 不合理诉求 (the county reviews itself)."""
    return max(int(level) - 1, CaseLevel.COUNTY)


def _reader_q(scope: Scope, prefix: str) -> Q:
    paths = scope.paths_for(CASE_READERS)
    if not paths:
        return NOTHING
    q = NOTHING
    for path, level in Region.objects.filter(path__in=paths).values_list("path", "level"):
        q |= subtree_q(path, f"{prefix}region__path") & Q(**{f"{prefix}level__gte": level})
    return q


def case_q(scope: Scope, prefix: str = "", *, staff_only: bool = False) -> Q:
    """Q over Case (or a model reaching it through ``prefix``) for what ``scope`` may see."""
    q = _reader_q(scope, prefix)
    if scope.unit_ids:
        q |= Q(**{f"{prefix}lead_unit_id__in": scope.unit_ids})
        q |= Q(
            **{f"{prefix}id__in": Case.co_units.through.objects.filter(unit_id__in=scope.unit_ids).values("case_id")}
        )
    if staff_only:
        return q
    if scope.person_id:
        applicant_cases = Party.objects.filter(role=PartyRole.APPLICANT, person_id=scope.person_id).values("case_id")
        q |= Q(**{f"{prefix}id__in": applicant_cases})
    if scope.user_id:
        q |= Q(**{f"{prefix}created_by_id": scope.user_id})
    return q


@access.register(Case)
def _case_rule(scope: Scope) -> Q:
    return case_q(scope)


@access.register(Party)
def _party_rule(scope: Scope) -> Q:
    return case_q(scope, "case__")


@access.register(CaseEvent)
def _event_rule(scope: Scope) -> Q:
    return case_q(scope, "case__")


@access.register(Rating)
def _rating_rule(scope: Scope) -> Q:
    return case_q(scope, "case__")


# Returns and extension requests are the handling units' business, not the applicant's.
@access.register(ExtensionRequest)
def _extension_rule(scope: Scope) -> Q:
    return case_q(scope, "case__", staff_only=True)


@access.register(CaseReturn)
def _return_rule(scope: Scope) -> Q:
    return case_q(scope, "case__", staff_only=True)


# The 督办 ladder (reminders, 催办, 督办通知, 通报) is about the handling units' delays: staff only.
@access.register(CaseReminder)
def _reminder_rule(scope: Scope) -> Q:
    return case_q(scope, "case__", staff_only=True)


# --- Handling ----------------------------------------------------------------------------------------------


def is_office(user: Any, case: Case, level: int | None = None) -> bool:
    """Whether ``user`` is the office of ``level`` (default: the case's level) over the case's region."""
    scope = access.scope_of(user)
    if scope.is_superuser:
        return True
    return scope.has_role_over(OFFICE_ROLES[int(level if level is not None else case.level)], case.region.path)


def is_lead_unit_staff(user: Any, case: Case) -> bool:
    scope = access.scope_of(user)
    if scope.is_superuser:
        return True
    return case.lead_unit_id is not None and case.lead_unit_id in scope.unit_ids


def is_reviewer(user: Any, case: Case) -> bool:
    """The level above reviews; a unit never reviews its own return or extension request."""
    scope = access.scope_of(user)
    if scope.is_superuser:
        return True
    if case.lead_unit_id is not None and case.lead_unit_id in scope.unit_ids:
        return False
    return is_office(user, case, level_above(case.level))


def can_handle(user: Any, case: Case) -> bool:
    """The office of the case's level or its lead unit's staff: they may act and see parties in full."""
    return is_office(user, case) or is_lead_unit_staff(user, case)


@access.register_write_check(Case)
def _case_write(user: Any, action: str, case: Case) -> bool:
    return action == access.CHANGE and case.pk is not None and can_handle(user, case)


@access.register_write_check(Party)
def _party_write(user: Any, action: str, party: Party) -> bool:
    """Changing a party — and so seeing its personal data in full (privacy.may_see_full)."""
    if action != access.CHANGE or party.pk is None:
        return False
    case = party.case
    if case.is_anonymous and party.role == PartyRole.APPLICANT:
        return is_office(user, case)
    return can_handle(user, case)


# --- Attachments (evidence on a case) ---------------------------------------------------------------------


def _case_keys(scope: Scope, *, staff_only: bool) -> Any:
    """The ids (as the text ``Attachment.object_id`` holds) of the cases ``scope`` may see."""
    return (
        Case.objects.filter(case_q(scope, staff_only=staff_only))
        .annotate(key=Cast("pk", output_field=CharField()))
        .values("key")
    )


def may_attach_to_case(user: Any, case: Case) -> bool:
    """Who adds evidence to a case: its handlers and co-units, whoever recorded it, the applicant's account.

    Readers (督查员, 领导, the level above) see the evidence but do not add to it.
    """
    scope = access.scope_of(user)
    if can_handle(user, case) or (scope.user_id is not None and case.created_by_id == scope.user_id):
        return True
    if scope.unit_ids and case.co_units.filter(pk__in=scope.unit_ids).exists():
        return True
    return bool(
        scope.person_id
        and Party.objects.filter(case=case, role=PartyRole.APPLICANT, person_id=scope.person_id).exists()
    )


@access.register_attachment_rule(Case, may_attach=may_attach_to_case)
def _case_attachment_rule(scope: Scope) -> Q:
    """A case's evidence: staff who may see the case see all of it; the applicant's account and the
    recorder only what they uploaded themselves. Never public, and not for staff merely over the region."""
    q = Q(object_id__in=_case_keys(scope, staff_only=True))
    if scope.user_id:
        q |= Q(uploaded_by_id=scope.user_id, object_id__in=_case_keys(scope, staff_only=False))
    return q
