"""The county dashboard, the plan page and a task's village rows read the same number of SQL
queries for a county of 20 villages and one of 200 (issue 3, "Performance").

Each county is built with ``bulk_create`` like ``bench/plans_dashboard`` (towns of 20 villages,
a committee per village, a county leader, a plan whose fanned-out tasks reach every village,
milestones and progress of every light), so the test stays fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Membership, Region, RegionLevel, Role, Unit, UnitKind, User
from cocreate.core.tests.pages import assert_in_scope as ok
from cocreate.core.tests.pages import login
from cocreate.plans.models import Milestone, Plan, PlanStatus, ProgressReport, ReportKind, Task, TaskUnit, UnitRole

pytestmark = pytest.mark.django_db

VILLAGES_PER_TOWN = 20
FANNED_OUT = 3  # top tasks that reach every village
PLAIN = 27  # top tasks of the county's own: with the fanned-out ones, more than one page


@dataclass
class County:
    region: Region
    leader: User
    plan: Plan
    parent: Task
    villages: int


def _region(code: str, name: str, level: int, parent: Region) -> Region:
    path = f"{parent.path}{code}/"
    return Region(code=code, name=name, level=level, parent=parent, path=path, depth=path.count("/") - 2)


def _county(world: World, code: str, villages: int) -> County:
    """A county under the test city with ``villages`` villages and one plan fanned out to all of them."""
    today = timezone.localdate()
    county = Region.objects.bulk_create([_region(code, f"{villages}村县", RegionLevel.COUNTY, world.regions["city"])])[
        0
    ]
    towns = Region.objects.bulk_create(
        [
            _region(f"{code}{t:03d}", f"{villages}村县第{t}镇", RegionLevel.TOWN, county)
            for t in range(1, math.ceil(villages / VILLAGES_PER_TOWN) + 1)
        ]
    )
    village_regions = Region.objects.bulk_create(
        [
            _region(
                f"{towns[v // VILLAGES_PER_TOWN].code}{v % VILLAGES_PER_TOWN + 1:03d}",
                f"第{v + 1}村",
                RegionLevel.VILLAGE,
                towns[v // VILLAGES_PER_TOWN],
            )
            for v in range(villages)
        ]
    )
    government = Unit.objects.create(name=f"{villages}村县人民政府", kind=UnitKind.GOVERNMENT, region=county)
    committees = Unit.objects.bulk_create(
        [Unit(name=f"{v.name}村民委员会", kind=UnitKind.VILLAGE_COMMITTEE, region=v) for v in village_regions]
    )
    leader = User.objects.create_user(f"1970000{villages:04d}", None, display_name=f"{villages}村县领导")
    Membership.objects.create(user=leader, role=Role.LEADER, region=county, unit=government)
    plan = Plan.objects.create(
        title=f"{villages}村县工作方案",
        issuing_unit=government,
        region=county,
        starts_on=today - timedelta(days=200),
        ends_on=today + timedelta(days=200),
        status=PlanStatus.ACTIVE,
    )
    # Dates around today so that every light shows: overdue, near the deadline, not started, running.
    spans = [(-200, -10), (-200, 5), (-100, 100), (30, 150)]
    top = Task.objects.bulk_create(
        [
            Task(
                plan=plan,
                region=county,
                number=str(i + 1),
                title=f"第{i + 1}项任务",
                starts_on=today + timedelta(days=spans[i % 4][0]),
                deadline=today + timedelta(days=spans[i % 4][1]),
                fans_out=i < FANNED_OUT,
                progress=Decimal((i * 37) % 101),
            )
            for i in range(FANNED_OUT + PLAIN)
        ]
    )
    children = Task.objects.bulk_create(
        [
            Task(
                plan=plan,
                parent=parent,
                region=village,
                number=parent.number,
                title=parent.title,
                starts_on=parent.starts_on,
                deadline=parent.deadline,
                progress=Decimal((v * 13) % 101),
            )
            for parent in top[:FANNED_OUT]
            for v, village in enumerate(village_regions)
        ]
    )
    TaskUnit.objects.bulk_create(
        [TaskUnit(task=t, unit=government, role=UnitRole.LEAD) for t in top]
        + [TaskUnit(task=c, unit=committees[i % villages], role=UnitRole.RESPONSIBLE) for i, c in enumerate(children)]
    )
    Milestone.objects.bulk_create(
        [Milestone(task=t, due_on=t.starts_on + timedelta(days=20), percent=50) for t in [*top, *children][::3]]
    )
    ProgressReport.objects.bulk_create(
        [
            ProgressReport(
                task=c,
                region_id=c.region_id,
                unit=committees[i % villages],
                kind=ReportKind.PERCENT,
                percent=c.progress,
                description="已推进",
            )
            for i, c in enumerate(children)
            if c.progress
        ]
    )
    return County(region=county, leader=leader, plan=plan, parent=top[0], villages=villages)


def _queries(client: Client, url: str, **extra: Any) -> tuple[int, str]:
    """SQL queries of one request, after a first one that warms per-process caches."""
    assert client.get(url, **extra).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    return len(captured), ok(response)


def _counts(client: Client, county: County) -> dict[str, int]:
    login(client, county.leader)
    pages = {
        "dashboard": (reverse("plans:dashboard") + f"?region={county.region.pk}", {}),
        "plan": (reverse("plans:plan_detail", args=[county.plan.pk]), {}),
        "plan, second page, red": (reverse("plans:plan_detail", args=[county.plan.pk]) + "?light=red&page=2", {}),
        "village rows": (reverse("plans:task_children", args=[county.parent.pk]), {"HTTP_HX_REQUEST": "true"}),
        "village rows, page 2": (
            reverse("plans:task_children", args=[county.parent.pk]) + "?page=2",
            {"HTTP_HX_REQUEST": "true"},
        ),
        "village rows, filtered": (
            reverse("plans:task_children", args=[county.parent.pk]) + "?light=red",
            {"HTTP_HX_REQUEST": "true"},
        ),
    }
    counts: dict[str, int] = {}
    texts: dict[str, str] = {}
    for name, (url, extra) in pages.items():
        counts[name], texts[name] = _queries(client, url, **extra)
    # What the pages show does grow with the villages: the test measures real pages.
    assert texts["dashboard"].count('<tr data-unit="') == county.villages  # a row per committee
    assert f"各村（社区）{county.villages} 项" in texts["plan"]
    assert len(re.findall(r'data-child-of="\d+" data-task="', texts["village rows"])) == min(county.villages, 25)
    return counts


@pytest.mark.parametrize("cached", [False, True], ids=["computed", "cached"])
def test_query_counts_are_the_same_for_20_and_200_villages(
    client: Client, world: World, settings: Any, cached: bool
) -> None:
    settings.PAGE_SIZE = 25
    # Cached as in production: the second request of each page reads the figures and rendered rows
    # from the cache (keyed by the data version); computed: every figure from the database.
    settings.TESTING = not cached
    cache.clear()
    small = _counts(client, _county(world, "990103", 20))
    large = _counts(client, _county(world, "990104", 200))
    assert small == large, (small, large)
    assert max(large.values()) <= (12 if cached else 20), large
    if cached:
        # A kept dashboard or plan page reads the session, the user with the scope, and the data
        # version (and whether the plan has files): the rows it shows, the region and the plan come kept.
        assert large["dashboard"] == 3, large
        assert large["plan"] == 4, large
