"""The plans flow in a real browser: a town imports a task table, a village reports on a phone,
the town's dashboard shows the light change. Debian's Chromium through Playwright (``-m browser``).
"""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import Workbook
from PIL import Image

from cocreate.conftest import OUTSIDE_MARKER, build_world
from cocreate.core.models import Role

# The browser set-up is core's (system Chromium, never `playwright install`); the fixtures are shared.
from cocreate.core.tests.test_browser import (  # noqa: F401
    browser_type_launch_args,
    desktop_page,
    log_in,
    open_from_menu,
    phone_page,
    screenshots,
)
from cocreate.plans.models import Plan, Task
from cocreate.plans.status import expected_progress

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASK_TITLE = "清理房前屋后垃圾"


def task_table(deadline: Any) -> bytes:
    """A seed-style task table: 序号, 任务, 牵头单位, 责任单位 (各村（社区）), 完成时限."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "任务", "牵头单位", "责任单位", "完成时限"])
    sheet.append(["1", TASK_TITLE, "甲镇党政办", "各村（社区）", deadline])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(buffer, format="JPEG")
    return buffer.getvalue()


def unit_cell(page: Any, unit_id: int, light: str) -> int:
    """A count in the dashboard's lights-by-unit table ("·" stands for none)."""
    text = str(page.locator(f'#cc-unit-lights tr[data-unit="{unit_id}"] td[data-light="{light}"]').inner_text())
    return 0 if text.strip() == "·" else int(text)


# Any console error fails the test: a CSP block, a missing asset, an error in plans.js or ECharts.
# (htmx's injected indicator style is switched off in base.html and the favicon is served.)
KNOWN_NOISE: tuple[str, ...] = ()


def collect_console_errors(page: Any) -> list[str]:
    errors: list[str] = []

    def on_console(message: Any) -> None:
        where = str(message.location.get("url", ""))
        if message.type == "error" and not where.endswith(KNOWN_NOISE):
            errors.append(f"{page.url}: {message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


def test_import_report_on_a_phone_and_see_the_light_change(
    live_server: Any,
    desktop_page: Any,  # noqa: F811
    phone_page: Any,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    world = build_world()
    today = timezone.localdate()
    starts_on, ends_on = today - timedelta(days=100), today + timedelta(days=100)
    deadline = today + timedelta(days=60)
    committee = world.units["village_committee"]
    base = live_server.url

    # 1. The town staff imports the plan from its task table.
    town = desktop_page
    town_errors = collect_console_errors(town)
    log_in(town, base, world.user(Role.TOWN_STAFF).phone)
    town.goto(f"{base}/plans/")
    town.get_by_role("link", name=re.compile("导入任务表")).click()
    town.wait_for_url(f"{base}/plans/import/")
    town.fill("#id_title", "甲镇房前屋后整治方案")
    town.fill("#id_doc_number", "甲镇发〔2026〕12号")
    town.select_option("#id_issuing_unit", str(world.units["town_office"].pk))
    town.select_option("#id_region", str(world.regions["town_a"].pk))
    town.fill("#id_starts_on", f"{starts_on:%Y-%m-%d}")
    town.fill("#id_ends_on", f"{ends_on:%Y-%m-%d}")
    town.set_input_files(
        "#id_file",
        files=[
            {
                "name": "任务表.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": task_table(deadline),
            }
        ],
    )
    town.click("button[type=submit].btn-success")
    town.wait_for_url(re.compile(r".*/plans/\d+/$"))
    assert town.get_by_role("alert").filter(has_text="已导入 1 项任务").is_visible()
    plan = Plan.objects.get(title="甲镇房前屋后整治方案")
    child = Task.objects.get(plan=plan, region=world.regions["village_a"])
    # The villages' rows sit collapsed under the imported task until opened.
    child_row = town.locator(f'tr[data-task="{child.pk}"]')
    assert not child_row.is_visible()
    # They load on demand (htmx) on the first click; later clicks hide and show them again.
    toggle = town.locator(".cc-toggle").first
    toggle.click()
    child_row.wait_for(state="visible")
    assert child_row.locator('[data-light="red"]').is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    child_row.wait_for(state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    child_row.wait_for(state="visible")
    assert town.locator(f'tr[data-task="{child.pk}"]').count() == 1  # loaded once
    town.screenshot(path=str(screenshots / "plans-imported-plan.png"), full_page=True)

    # The dashboard before: the village's new task is red (nothing reported, 序时进度 ~60%).
    town.goto(f"{base}/plans/dashboard/")
    town.locator('#cc-chart-units[data-chart-ready="true"] canvas').wait_for()
    red_before, green_before = unit_cell(town, committee.pk, "red"), unit_cell(town, committee.pk, "green")
    assert red_before >= 1
    assert OUTSIDE_MARKER not in town.content()
    town.screenshot(path=str(screenshots / "plans-dashboard-before.png"), full_page=True)

    # 2. The village staff reports progress on a 360 px phone, with a photo.
    village = phone_page
    village_errors = collect_console_errors(village)
    log_in(village, base, world.user(Role.VILLAGE_STAFF).phone)
    open_from_menu(village, base, re.compile("我的任务"), "/plans/mine/")
    assert village.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    village.screenshot(path=str(screenshots / "plans-my-tasks-360.png"), full_page=True)
    village.locator(f'#cc-my-tasks li[data-task="{child.pk}"] a').first.click()
    village.wait_for_url(f"{base}/plans/tasks/{child.pk}/")
    assert village.locator('#cc-task-status [data-light="red"]').is_visible()
    village.click("#cc-report-button")
    village.wait_for_url(f"{base}/plans/tasks/{child.pk}/report/")
    # Only the chosen kind's fields show (plans.js); percent is the default.
    assert village.locator("#id_percent").is_visible()
    assert not village.locator("#id_activity_date").is_visible()
    village.check("#id_kind_2")
    assert village.locator("#id_activity_date").is_visible()
    village.check("#id_kind_0")
    percent = int(expected_progress(child, today)) + 5
    village.fill("#id_percent", str(percent))
    village.fill("#id_description", "已清理房前屋后，群众投工投劳")
    village.set_input_files("#id_evidence", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    overflow = village.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    village.screenshot(path=str(screenshots / "plans-report-form-360.png"), full_page=True)
    village.click("#cc-report-form button[type=submit]")
    village.wait_for_url(f"{base}/plans/tasks/{child.pk}/")
    assert village.get_by_role("alert").filter(has_text="已报送进度").is_visible()
    assert village.locator('#cc-task-status [data-light="green"]').is_visible()
    assert village.get_by_role("link", name="现场.jpg").is_visible()
    overflow = village.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    village.screenshot(path=str(screenshots / "plans-task-after-report-360.png"), full_page=True)
    child.refresh_from_db()
    assert child.progress == percent

    # 3. The town staff sees the light change on the dashboard.
    town.reload()
    town.locator('#cc-chart-units[data-chart-ready="true"] canvas').wait_for()
    assert unit_cell(town, committee.pk, "red") == red_before - 1
    assert unit_cell(town, committee.pk, "green") == green_before + 1
    town.screenshot(path=str(screenshots / "plans-dashboard-after.png"), full_page=True)

    # 4. The county inspector writes the bulletin for the town, publishes it and downloads the PDF.
    town.context.clear_cookies()
    log_in(town, base, world.user(Role.INSPECTOR).phone)
    town.goto(f"{base}/plans/bulletins/new/")
    town.select_option("#id_region", str(world.regions["town_a"].pk))
    town.fill("#id_title", "甲镇房前屋后整治进展通报")
    town.fill("#id_period_start", f"{starts_on:%Y-%m-%d}")
    town.fill("#id_period_end", f"{today:%Y-%m-%d}")
    town.fill("#id_praise", "甲村及时报送进度，群众投工投劳，予以表扬。")
    town.click("button[type=submit].btn-success")
    town.wait_for_url(re.compile(r".*/plans/bulletins/\d+/$"))
    assert town.locator("#cc-bulletin-units").get_by_text(committee.name).is_visible()
    town.once("dialog", lambda dialog: dialog.accept())  # the 确定发布吗？ confirmation
    town.get_by_role("button", name=re.compile("发布")).click()
    town.get_by_role("alert").filter(has_text="已发布").wait_for()
    with town.expect_download() as download_info:
        town.click("#cc-bulletin-pdf")
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "甲镇房前屋后整治进展通报" in text and committee.name in text
    assert OUTSIDE_MARKER not in text
    town.screenshot(path=str(screenshots / "plans-bulletin-published.png"), full_page=True)

    assert town_errors == [] and village_errors == [], (town_errors, village_errors)
