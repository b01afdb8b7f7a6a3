"""案件统计 and 督办总览 in a real browser: the charts draw under the CSP (no console error), the
figures show on a desktop, and a 360 px phone gets no sideways scrolling of the page.
Debian's Chromium through Playwright (``-m browser``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cocreate.cases.models import CaseCategory, CaseChannel, Outcome, Satisfaction
from cocreate.cases.tests.test_browser import overflow
from cocreate.cases.tests.test_metrics import D, _handled, _rate
from cocreate.conftest import build_world
from cocreate.core.models import Role

# The browser set-up is core's (system Chromium, never `playwright install`); the fixtures are shared.
from cocreate.core.tests.test_browser import (  # noqa: F401
    browser_type_launch_args,
    desktop_page,
    log_in,
    phone_page,
    screenshots,
)
from cocreate.plans.tests.test_browser import collect_console_errors

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARCH = "?start=2026-03-01&end=2026-03-31"


def test_charts_draw_and_the_page_fits_a_phone(
    live_server: Any,
    desktop_page: Any,  # noqa: F811
    phone_page: Any,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    world = build_world()
    family = CaseCategory.objects.get(code="family")
    for i in range(6):
        case = _handled(
            world,
            "school" if i % 2 else "village_committee",
            contact=0.2 if i % 3 else 2,
            reply=4 + i,
            closed=6 + i,
            outcome=[Outcome.RESOLVED, Outcome.UNRESOLVED][i % 2],
            at=D + timedelta(days=i * 3),
            category=family if i % 3 == 0 else CaseCategory.objects.get(code="neighbour"),
            channel=[CaseChannel.SELF, CaseChannel.VISIT][i % 2],
        )
        _rate(case, 1, [Satisfaction.SATISFIED, Satisfaction.BASIC][i % 2], i % 2 == 0, D + timedelta(days=6 + i * 3))

    page = desktop_page
    errors = collect_console_errors(page)
    log_in(page, live_server.url, world.user(Role.LEADER).phone)
    page.get_by_role("link", name="案件统计").first.click()
    page.wait_for_url("**/cases/analytics/")
    page.goto(f"{live_server.url}/cases/analytics/{MARCH}")
    for key in ("period", "category", "region", "unit", "channel"):
        page.locator(f"#cc-chart-{key}[data-chart-ready=true]").wait_for()
    rates = page.locator("#cc-rates")
    assert "响应率" in rates.inner_text() and "(4 / 6)" in rates.inner_text()
    page.screenshot(path=str(screenshots / "cases-analytics-desktop.png"), full_page=True)
    page.get_by_role("link", name="督办总览").first.click()
    page.wait_for_url("**/cases/supervision/")
    assert "按处置层级" in page.content()
    assert not errors, errors

    phone = phone_page
    phone_errors = collect_console_errors(phone)
    log_in(phone, live_server.url, world.user(Role.VILLAGE_STAFF).phone)
    phone.goto(f"{live_server.url}/cases/analytics/{MARCH}")
    phone.locator("#cc-chart-period[data-chart-ready=true]").wait_for()
    assert overflow(phone) <= 0
    phone.screenshot(path=str(screenshots / "cases-analytics-phone.png"), full_page=True)
    assert not phone_errors, phone_errors
