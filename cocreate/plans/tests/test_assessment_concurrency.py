"""Assessment writes under real concurrency (PostgreSQL): one assessment per plan and year, and a
publication that races the last reviews freezes either all of them or refuses."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from cocreate.conftest import build_world
from cocreate.core.models import Role
from cocreate.core.tests.concurrency import race
from cocreate.plans import assessment as svc
from cocreate.plans.models import Assessment, AssessmentEntry, AssessmentStatus, EntryStatus, ItemKind
from cocreate.plans.tests.test_assessment import a2_staff, build_plan

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]


def test_parallel_creation_makes_one_assessment() -> None:
    world = build_world()
    s = build_plan(world)

    def create(i: int) -> Any:
        return svc.assessment_create(actor=s["town"], plan=s["plan"], year=2026, title=f"考核{i}")

    results = race(6, create)
    made = [r for r in results if isinstance(r, Assessment)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(made) == 1 and len(refused) == 5, results
    assert Assessment.objects.filter(plan=s["plan"], year=2026).count() == 1
    assert Assessment.objects.get(plan=s["plan"], year=2026).items.count() == 5


def test_publication_racing_a_review_never_freezes_a_half_reviewed_assessment() -> None:
    world = build_world()
    s = build_plan(world)
    village, village2 = world.user(Role.VILLAGE_STAFF), a2_staff(world)
    a = svc.assessment_create(actor=s["town"], plan=s["plan"], year=2026)
    a = svc.assessment_open(actor=s["town"], assessment=a)
    item = a.items.get(kind=ItemKind.REVIEW)
    first = AssessmentEntry.objects.get(assessment=a, unit=world.units["village_committee"])
    last = AssessmentEntry.objects.get(assessment=a, unit=world.units["village_a2_committee"])
    svc.entry_self_assess(actor=village, entry=first, scores={item.pk: 18})
    svc.entry_self_assess(actor=village2, entry=last, scores={item.pk: 15})
    svc.entry_review(actor=s["town"], entry=first, scores={item.pk: 17})

    def work(i: int) -> Any:
        if i % 2:
            return svc.entry_review(actor=s["town"], entry=last, scores={item.pk: 14})
        return svc.assessment_publish(actor=s["town"], assessment=a, today=date(2026, 11, 23))

    results = race(4, work)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, ValidationError)], results
    a.refresh_from_db()
    entries = list(AssessmentEntry.objects.filter(assessment=a))
    if a.status == AssessmentStatus.PUBLISHED:
        assert all(e.status == EntryStatus.REVIEWED and e.total is not None and e.rank for e in entries)
    else:
        assert all(e.total is None for e in entries)
