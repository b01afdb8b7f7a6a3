"""A grievance in a real browser: a grid worker registers a case for a resident on a 360 px phone,
the village accepts, triages, dispatches it to its own committee, signs, contacts and replies on a
desktop, and the resident rates the reply on a phone with the tracking code and their phone number.
Debian's Chromium through Playwright (``-m browser``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from cocreate.cases.models import Case, CaseStatus, Rating
from cocreate.conftest import build_world
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
from cocreate.plans.tests.test_browser import collect_console_errors

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APPLICANT_PHONE = "13812345678"
DESCRIPTION = "承包地边界被邻居挪动了半米，协商不成"


def overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def do(page: Any, slug: str, fill: dict[str, str] | None = None, select: dict[str, str] | None = None) -> None:
    """Opens one transition's form on the case page, fills it and confirms it."""
    box = page.locator(f"#action-{slug}")
    box.locator("summary").click()
    for selector, value in (fill or {}).items():
        box.locator(selector).fill(value)
    for selector, value in (select or {}).items():
        box.locator(selector).select_option(value)
    box.locator("button[type=submit]").click()
    page.get_by_role("alert").filter(has_text="已完成").wait_for()


def test_register_on_a_phone_resolve_and_rate_with_the_code(
    live_server: Any,
    phone_page: Any,  # noqa: F811
    desktop_page: Any,  # noqa: F811
    browser: Any,
    screenshots: Path,  # noqa: F811
) -> None:
    world = build_world()
    base = live_server.url

    # 1. The grid worker registers the case on a 360 px phone and reads out number and code.
    phone = phone_page
    phone_errors = collect_console_errors(phone)
    log_in(phone, base, world.user(Role.GRID_WORKER).phone)
    open_from_menu(phone, base, re.compile("案件受理"), "/cases/new/")
    phone.fill("#id_applicant_name", "王大妈")
    phone.fill("#id_applicant_phone", APPLICANT_PHONE)
    phone.fill("#id_other_name", "李四")
    phone.select_option("#id_category", label="土地山林")
    phone.fill("#id_place", "甲村一组东头")
    phone.fill("#id_description", DESCRIPTION)
    assert overflow(phone) <= 0
    phone.screenshot(path=str(screenshots / "cases-intake-360.png"), full_page=True)
    phone.click("form button[type=submit].btn-success")
    phone.wait_for_url(re.compile(r".*/cases/\d+/registered/$"))
    case = Case.objects.get(description=DESCRIPTION)
    assert phone.locator("#tracking-code").inner_text().strip() == case.tracking_code
    assert phone.locator("#case-number").inner_text().strip() == case.number
    assert overflow(phone) <= 0

    # 2. The village office accepts, triages and dispatches it to its committee, which signs,
    #    contacts the applicant and replies (desktop).
    staff = desktop_page
    staff_errors = collect_console_errors(staff)
    log_in(staff, base, world.user(Role.VILLAGE_STAFF).phone)
    staff.goto(f"{base}/cases/?tab=intake")
    assert "王**" in staff.locator("#case-queue").inner_text()
    staff.get_by_role("link", name=case.number).click()
    staff.wait_for_url(f"{base}/cases/{case.pk}/")
    do(staff, "accept")
    do(staff, "triage")  # low risk, simple: the village handles it
    do(staff, "dispatch", select={"select[name=lead_unit]": str(world.units["village_committee"].pk)})
    do(staff, "sign")
    do(staff, "contact", fill={"textarea[name=note]": "电话联系王大妈，约定明天现场查看"})
    do(staff, "reply", fill={"textarea[name=answer]": "已现场测量并调解，双方同意按原界桩恢复"})
    case.refresh_from_db()
    assert case.status == CaseStatus.REPLIED
    timeline = staff.locator("#case-timeline").inner_text()
    for step in ("登记", "受理", "派单", "签收", "答复"):
        assert step in timeline

    # 3. The resident rates the reply on a phone with the tracking code and their phone number.
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    resident = context.new_page()
    resident.set_default_timeout(15_000)
    resident_errors = collect_console_errors(resident)
    resident.goto(f"{base}/cases/track/")
    resident.fill("#id_code", case.tracking_code.lower())
    resident.fill("#id_phone", APPLICANT_PHONE)
    resident.get_by_role("button", name="查询").click()
    resident.locator("#tracked").wait_for()
    assert "已答复" in resident.locator("#tracked-status").inner_text()
    assert "双方同意" in resident.locator("#tracked-answer").inner_text()
    assert APPLICANT_PHONE not in resident.locator("#tracked").inner_text()
    resident.check("input[name=resolved][value='1']")
    for name in ("satisfaction", "efficiency", "leader_rating"):
        resident.check(f"input[name={name}][value=satisfied]")
    assert overflow(resident) <= 0
    resident.screenshot(path=str(screenshots / "cases-track-rate-360.png"), full_page=True)
    resident.get_by_role("button", name="提交评价").click()
    resident.get_by_role("alert").filter(has_text="感谢您的评价").wait_for()
    assert "已办结" in resident.locator("#tracked-status").inner_text()
    context.close()

    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert Rating.objects.get(case=case).channel == "tracking"
    assert not (phone_errors or staff_errors or resident_errors), phone_errors + staff_errors + resident_errors
