"""Progress under real concurrency (PostgreSQL only: SQLite serialises writers anyway)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from cocreate.conftest import build_world
from cocreate.core.models import Notification, Role
from cocreate.core.tests.concurrency import race
from cocreate.plans import services
from cocreate.plans.models import ProgressReport, ReportKind, ReportStatus, Task
from cocreate.plans.services import TargetSpec

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]

N = 6


def test_parallel_activity_reports_are_all_counted() -> None:
    world = build_world()
    town = world.user(Role.TOWN_STAFF)
    year = timezone.localdate().year
    plan = services.plan_create(
        actor=town,
        title="并发方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=date(year, 1, 1),
        ends_on=date(year, 12, 31),
    )
    parent = services.task_create(
        actor=town,
        plan=plan,
        title="志愿服务",
        starts_on=date(year, 1, 1),
        deadline=date(year, 12, 31),
        units={"lead": [world.units["town_office"]]},
        fan_out=True,
        targets=[TargetSpec(kind="quota", name="志愿服务活动", quota_count=N, quota_period="total")],
    )
    child_a = parent.children.get(region=world.regions["village_a"])
    child_a2 = parent.children.get(region=world.regions["village_a2"])
    units = {child_a.pk: world.units["village_committee"], child_a2.pk: world.units["village_a2_committee"]}
    today = timezone.localdate()

    def report(i: int) -> ProgressReport:
        # Half the threads report on one village, half on the other: both lock the same parent.
        task = child_a if i % 2 == 0 else child_a2
        return services.report_submit(
            actor=town, task=task, unit=units[task.pk], kind=ReportKind.ACTIVITY, activity_date=today
        )

    results = race(2 * N, report)
    assert all(isinstance(r, ProgressReport) for r in results), results
    # Every report counted: without the row lock a recompute that read an older count would win.
    for child in (child_a, child_a2):
        child.refresh_from_db()
        assert child.progress == Decimal(100)
    parent.refresh_from_db()
    assert parent.progress == Decimal(100)
    assert Task.objects.get(pk=parent.pk).completed_on == today


def test_parallel_returns_of_one_report_return_it_once() -> None:
    world = build_world()
    report = world.extra["plans"]["report"]
    returners = [world.user(Role.TOWN_STAFF), world.user(Role.LEADER), world.user(Role.ADMIN)]

    def give_back(i: int) -> ProgressReport:
        return services.report_return(actor=returners[i], report=report, reason=f"退回{i}")

    results = race(3, give_back)
    returned = [r for r in results if isinstance(r, ProgressReport)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(returned) == 1 and len(refused) == 2, results
    report.refresh_from_db()
    assert report.status == ReportStatus.RETURNED
    assert Notification.objects.filter(user=world.user(Role.VILLAGE_STAFF)).count() == 1
