"""Invariants under real concurrency (PostgreSQL only: SQLite serialises writers anyway)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from cocreate.conftest import build_world
from cocreate.core import services
from cocreate.core.models import Household, Membership, Person, Role
from cocreate.core.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]


def test_parallel_identical_grants_make_one_membership() -> None:
    world = build_world()
    admin = world.user(Role.ADMIN)
    target = world.user(Role.RESIDENT)
    region = world.regions["village_a"]

    def grant(i: int) -> Membership:
        return services.membership_grant(actor=admin, user=target, role=Role.GRID_WORKER, region=region)

    results = race(6, grant)
    created = [r for r in results if isinstance(r, Membership)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(created) == 1, results
    assert len(created) + len(refused) == 6, results
    assert Membership.objects.filter(user=target, role=Role.GRID_WORKER, region=region).count() == 1


def test_parallel_household_numbers_stay_unique() -> None:
    world = build_world()
    staff = world.user(Role.VILLAGE_STAFF)
    region = world.regions["village_a"]

    def create(i: int) -> Household:
        return services.household_create(actor=staff, number="A-777", region=region)

    results = race(6, create)
    assert sum(isinstance(r, Household) for r in results) == 1, results
    assert all(isinstance(r, (Household, ValidationError)) for r in results), results
    assert Household.objects.filter(region=region, number="A-777").count() == 1


def test_parallel_verifications_record_one_verifier() -> None:
    world = build_world()
    person = world.people["a_member"]
    verifiers = [world.user(Role.VILLAGE_STAFF), world.user(Role.TOWN_STAFF), world.user(Role.ADMIN)]

    def verify(i: int) -> Person:
        return services.person_verify(actor=verifiers[i], person=person)

    results = race(3, verify)
    assert all(isinstance(r, Person) for r in results), results
    person.refresh_from_db()
    # The first verification stands; later ones see it under the row lock and keep it.
    assert {r.verified_by_id for r in results} == {person.verified_by_id}
    assert {r.verified_at for r in results} == {person.verified_at}
