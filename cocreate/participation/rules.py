"""Visibility and write rules of co-decision, registered with the one access authority."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from cocreate.core import access
from cocreate.core.access import NOTHING, Scope, in_paths
from cocreate.core.models import Role
from cocreate.participation.models import Ballot, Estate, PropertyUnit, Vote, Voter, VoteStatus

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


@access.register(Vote)
def _vote_rule(scope: Scope) -> Q:
    """Staff see the votes of their regions; residents the opened votes of where they live."""
    q = in_paths(scope.staff_paths, "region__path")
    if scope.home_region_path:
        codes = [c for c in scope.home_region_path.strip("/").split("/") if c]
        q |= Q(region__code__in=codes) & ~Q(status=VoteStatus.DRAFT)
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
