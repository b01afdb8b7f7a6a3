"""Two staff acting on the same case at the same moment (PostgreSQL, real threads): one wins, the
other gets a clear refusal, and the timeline has one event."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from cocreate.cases import services
from cocreate.cases.models import Case, CaseEvent, CaseNumberSequence, EventKind
from cocreate.cases.tests import helpers as h
from cocreate.conftest import build_world
from cocreate.core.models import Membership, Role
from cocreate.core.tests.concurrency import race
from cocreate.participation.tests.helpers import account

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]


def _colleague(world, role: str, unit_key: str, region_key: str):
    """A second staff member of the same unit."""
    user = account(world.people["a_member"])
    Membership.objects.create(user=user, role=role, region=world.regions[region_key], unit=world.units[unit_key])
    return user


def _one_winner(results: list, case: Case, kind: str) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    wins = [r for r in results if isinstance(r, Case)]
    assert len(wins) == 1, results
    assert len(errors) == len(results) - 1
    for error in errors:
        assert isinstance(error, ValidationError), repr(error)
        assert error.error_dict["status"][0].code == "invalid_state"
    assert CaseEvent.objects.filter(case=case, kind=kind).count() == 1
    case.refresh_from_db()
    assert case.version == CaseEvent.objects.filter(case=case).count()


def test_two_staff_signing_the_same_case_one_wins() -> None:
    world = build_world()
    case = h.case_in(world, h.S.DISPATCHED)
    signers = [h.lead(world), _colleague(world, Role.SCHOOL_STAFF, "school", "village_a")]
    results = race(2, lambda i: services.case_sign(actor=signers[i], case=Case.objects.get(pk=case.pk)))
    _one_winner(results, case, EventKind.SIGNED)


def test_two_offices_dispatching_the_same_case_one_wins() -> None:
    world = build_world()
    case = h.case_in(world, h.S.TRIAGED)
    office = [h.office(world), _colleague(world, Role.VILLAGE_STAFF, "village_committee", "village_a")]
    units = [world.units["school"], world.units["village_committee"]]
    results = race(
        2, lambda i: services.case_dispatch(actor=office[i], case=Case.objects.get(pk=case.pk), lead_unit=units[i])
    )
    _one_winner(results, case, EventKind.DISPATCHED)
    assert case.lead_unit in units


def test_parallel_registrations_get_distinct_gapless_numbers() -> None:
    world = build_world()
    results = race(8, lambda i: h.register(world))
    assert not [r for r in results if isinstance(r, BaseException)], results
    numbers = sorted(r.number for r in results)
    assert len(set(numbers)) == 8
    assert CaseNumberSequence.objects.get().last == 8
