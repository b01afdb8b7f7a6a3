"""The benchmarks' data builders still build against the current models.

``bench/`` is not run in CI (it needs a quiet machine and minutes), so a model change that a
builder did not follow went unnoticed until the next benchmark run (a fourth need channel broke
``bench/votes``). Each builder runs here at a tiny size and the result is checked against the
database; the measurements themselves stay in ``bench/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from bench import cases as cases_bench
from bench import plans_dashboard, votes

pytestmark = pytest.mark.django_db


def test_bench_votes_builds() -> None:
    from cocreate.participation.models import Ballot, Need

    world: Any = votes._build(needs=60, voters=200, ballots=80, now=timezone.now())
    assert Need.objects.count() == 60
    assert Ballot.objects.count() >= 80
    assert world is not None


def test_bench_cases_builds() -> None:
    from cocreate.cases.models import Case, CaseEvent

    with cases_bench._bulk_mode():
        world = cases_bench._build(villages=4, cases=300, now=timezone.now())
    assert Case.objects.count() == 300 == world.sizes["cases"]
    assert CaseEvent.objects.count() == world.sizes["events"] > 300
    assert world.intake_users


def test_bench_plans_dashboard_builds() -> None:
    from cocreate.plans.models import Task

    plans_dashboard._build(villages=4, tasks=200, today=timezone.localdate())
    assert Task.objects.filter(parent__isnull=False).count() == 200
