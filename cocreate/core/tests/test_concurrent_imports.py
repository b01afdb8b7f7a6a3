"""Imports running twice create every record exactly once; the second plan import answers
"该文件已导入" and writes nothing. The parallel runs are in ``test_concurrent_imports_pg.py``."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from cocreate.conftest import World
from cocreate.core.models import ImportRecord, Role, WorkCalendarDay
from cocreate.core.tests.pages import body, login
from cocreate.core.work_calendar import calendar_import
from cocreate.plans.models import Task
from cocreate.plans.spreadsheets import ImportResult, plan_import

pytestmark = pytest.mark.django_db


def task_table(*titles: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "任务", "牵头单位", "责任单位", "完成时限"])
    for i, title in enumerate(titles, start=1):
        sheet.append([str(i), title, "甲镇党政办", "甲村村民委员会", date(2026, 6, 30)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _reasons(result: ImportResult) -> list[str]:
    return [e.message for e in result.errors]


def test_the_same_task_table_is_imported_into_a_plan_once(world: World) -> None:
    plan, staff = world.extra["plans"]["plan"], world.user(Role.TOWN_STAFF)
    data = task_table("清理村庄垃圾", "建设文化广场")
    first = plan_import(actor=staff, plan=plan, file=data, filename="任务.xlsx")
    assert first.ok and len(first.created_tasks) == 2
    again = plan_import(actor=staff, plan=plan, file=data, filename="任务（副本）.xlsx")
    assert not again.ok and len(again.errors) == 1 and "该文件已导入" in again.errors[0].message
    assert Task.objects.filter(plan=plan, title="清理村庄垃圾").count() == 1
    assert ImportRecord.objects.filter(kind="plan_tasks", target=f"plan:{plan.pk}").count() == 1
    # A different file is a different import.
    other = plan_import(actor=staff, plan=plan, file=task_table("修缮祠堂"), filename="任务2.xlsx")
    assert other.ok


def test_a_failed_import_does_not_block_the_corrected_or_same_file(world: World) -> None:
    plan, staff = world.extra["plans"]["plan"], world.user(Role.TOWN_STAFF)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "任务", "牵头单位", "责任单位", "完成时限"])
    sheet.append(["1", "建设文化广场", "不存在的单位", "甲村村民委员会", date(2026, 6, 30)])
    buffer = io.BytesIO()
    book.save(buffer)
    bad = buffer.getvalue()
    assert not plan_import(actor=staff, plan=plan, file=bad, filename="t.xlsx").ok
    assert not ImportRecord.objects.exists()
    # The same bad file again gets its row errors again, not "already imported".
    assert "该文件已导入" not in " ".join(_reasons(plan_import(actor=staff, plan=plan, file=bad, filename="t.xlsx")))


def test_the_upload_page_says_the_file_was_already_imported(client: Client, world: World) -> None:
    plan = world.extra["plans"]["plan"]
    login(client, world.user(Role.TOWN_STAFF))
    data = task_table("村道绿化")
    url = reverse("plans:plan_tasks_import", args=[plan.pk])
    assert client.post(url, {"file": SimpleUploadedFile("t.xlsx", data)}).status_code == 302
    response = client.post(url, {"file": SimpleUploadedFile("t.xlsx", data)})
    assert response.status_code == 400 and "该文件已导入" in body(response)
    assert plan.tasks.filter(title="村道绿化").count() == 1


def test_calendar_import_twice_changes_nothing_the_second_time(world: World) -> None:
    admin = world.user(Role.ADMIN)
    data = "日期,类型,名称\n2031-10-01,休,国庆节\n2031-10-02,休,国庆节\n".encode()
    first = calendar_import(actor=admin, file=data, filename="2031.csv")
    second = calendar_import(actor=admin, file=data, filename="2031.csv")
    assert (len(first.created), len(second.created), len(second.unchanged)) == (2, 0, 2)
    assert WorkCalendarDay.objects.filter(date__year=2031).count() == 2
