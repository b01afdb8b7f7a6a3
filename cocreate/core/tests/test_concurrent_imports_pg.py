"""Two imports of the same file at the same moment (PostgreSQL, real threads): every record is
written once; a plan import's loser answers "该文件已导入", a calendar import's finds the days there."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, transaction

from cocreate.conftest import build_world
from cocreate.core.models import Role, WorkCalendarDay
from cocreate.core.tests.concurrency import race
from cocreate.core.tests.test_concurrent_imports import task_table
from cocreate.core.work_calendar import calendar_import
from cocreate.plans.models import Plan, Task
from cocreate.plans.services import plan_create
from cocreate.plans.spreadsheets import ImportResult, plan_import

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]


def _reasons(result: ImportResult) -> list[str]:
    return [e.message for e in result.errors]


@pytest.mark.parametrize("into_new_plan", [False, True])
def test_parallel_imports_of_one_task_table_write_it_once(into_new_plan: bool) -> None:
    world = build_world()
    staff = world.user(Role.TOWN_STAFF)
    existing = world.extra["plans"]["plan"]
    data = task_table(*[f"任务{i}" for i in range(1, 31)])

    def run(i: int) -> ImportResult:
        if not into_new_plan:
            return plan_import(actor=staff, plan=Plan.objects.get(pk=existing.pk), file=data, filename="t.xlsx")
        # As the upload page does: the new plan and its tasks in one transaction.
        with transaction.atomic():
            plan = plan_create(
                actor=staff,
                title="导入的方案",
                issuing_unit=world.units["town_office"],
                region=world.regions["town_a"],
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
            )
            result = plan_import(actor=staff, plan=plan, file=data, filename="t.xlsx", new_plan=True)
            if not result.ok:
                transaction.set_rollback(True)
            return result

    results = race(2, run)
    assert all(isinstance(r, ImportResult) for r in results), results
    oks = [r for r in results if r.ok]
    refused = [r for r in results if not r.ok]
    assert len(oks) == 1 and len(refused) == 1, [_reasons(r) for r in results]
    assert "该文件已导入" in _reasons(refused[0])[0]
    assert Task.objects.filter(title="任务7", parent=None).count() == 1
    assert Plan.objects.filter(title="导入的方案").count() == (1 if into_new_plan else 0)


def test_parallel_calendar_imports_create_each_day_once() -> None:
    build_world()
    lines = [f"2032-{m:02d}-{d:02d},休,假日" for m in range(1, 13) for d in (3, 4, 5)]
    data = ("日期,类型,名称\n" + "\n".join(lines) + "\n").encode()
    results = race(2, lambda i: calendar_import(actor=None, file=data, filename="2032.csv"))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(len(r.created) for r in results) == len(lines)
    assert WorkCalendarDay.objects.filter(date__year=2032).count() == len(lines)
