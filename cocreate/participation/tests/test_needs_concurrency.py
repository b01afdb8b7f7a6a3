"""Seconding under real concurrency (PostgreSQL): 30 threads second one need for 10 residents —
exactly 10 supports, every call a success; a merge racing seconds never strands a supporter."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from cocreate.conftest import build_world
from cocreate.core.models import Role
from cocreate.core.tests.concurrency import race
from cocreate.participation import needs
from cocreate.participation.models import Need, NeedStatus, NeedSupport
from cocreate.participation.tests.helpers import account, people
from cocreate.participation.tests.test_needs import raise_need, verify

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]

RESIDENTS = 10
THREADS = 30


def _setup() -> tuple[Any, list[Any]]:
    world = build_world()
    raiser = world.user(Role.RESIDENT)
    verify(raiser.person)
    residents = [account(p) for p in people(world.regions["village_a"], RESIDENTS)]
    return world, [raiser, *residents]


def test_thirty_threads_seconding_for_ten_residents_make_ten_supports() -> None:
    _world, (raiser, *residents) = _setup()
    need = raise_need(raiser)

    def second(i: int) -> bool:
        _support, created = needs.need_second(actor=residents[i % RESIDENTS], need=need)
        return created

    results = race(THREADS, second)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert sum(1 for r in results if r is True) == RESIDENTS  # each resident's first insert won once
    assert NeedSupport.objects.filter(need=need).count() == RESIDENTS
    assert needs.need_detail(user=raiser, pk=need.pk).support_count == RESIDENTS  # type: ignore[attr-defined]


def test_a_merge_racing_seconds_keeps_every_supporter() -> None:
    world, (raiser, *residents) = _setup()
    duplicate = raise_need(raiser, "路灯坏了")
    target = raise_need(residents[0], "村口路灯不亮")
    staff = world.user(Role.VILLAGE_STAFF)
    seconders = residents[1:]

    def work(i: int) -> Any:
        if i == 0:
            return needs.need_merge(actor=staff, need=duplicate, into=target)
        return needs.need_second(actor=seconders[(i - 1) % len(seconders)], need=duplicate)

    results = race(len(seconders) * 2 + 1, work)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ValidationError)]
    assert unexpected == []
    duplicate.refresh_from_db()
    assert duplicate.status == NeedStatus.MERGED
    on_duplicate = set(NeedSupport.objects.filter(need=duplicate).values_list("person_id", flat=True))
    on_target = set(NeedSupport.objects.filter(need=target).values_list("person_id", flat=True))
    # Whoever seconded the duplicate before the merge is a supporter of the target too.
    assert on_duplicate <= on_target
    assert raiser.person_id in on_target
    assert Need.objects.filter(merged_into=target).count() == 1
