"""Main page flows in a real browser: Debian's Chromium driven by Playwright against live_server.

Run with ``pytest -m browser``. Never runs ``playwright install``: the browser is the system's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from cocreate.conftest import PASSWORD, build_world
from cocreate.core.models import Role, Unit

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# around it (building the world, checking rows) are still plain synchronous code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PHONE_VIEWPORT = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page: Any, base_url: str, phone: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", phone)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].btn-success")
    page.wait_for_url(f"{base_url}/")


def open_from_menu(page: Any, base_url: str, name: re.Pattern[str], path: str) -> None:
    """Follows a link of the main menu on a phone, where the menu hides behind the toggler.

    Bootstrap adds ``show`` only once the opening transition has ended; a click on a link while the
    menu is still sliding open was once lost (CI, PostgreSQL run), so the test waits for it.
    """
    page.click("button.navbar-toggler")
    page.locator("#cc-nav.show").wait_for()
    page.locator("#cc-nav").get_by_role("link", name=name).click()
    page.wait_for_url(f"{base_url}{path}")


def test_village_staff_household_list_on_a_phone_with_large_text(
    live_server: Any, phone_page: Any, screenshots: Path
) -> None:
    world = build_world()
    page = phone_page
    log_in(page, live_server.url, world.user(Role.VILLAGE_STAFF).phone)

    # At 360 px the menu is collapsed behind the toggler.
    open_from_menu(page, live_server.url, re.compile("^\\s*户\\s*$"), "/households/")
    table = page.locator("#cc-household-table")
    assert table.get_by_role("link", name="A-001").is_visible()
    assert "A2-001" not in page.content()

    html = page.locator("html")
    assert "cc-large-text" not in (html.get_attribute("class") or "")
    normal_size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#cc-text-size")
    page.wait_for_load_state()
    assert "cc-large-text" in (html.get_attribute("class") or "")
    page.reload()
    assert "cc-large-text" in (page.locator("html").get_attribute("class") or "")
    large_size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large_size > normal_size
    # Nothing spills sideways at 360 px: wide tables scroll inside .table-responsive.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(screenshots / "households-360-large-text.png"), full_page=True)


def test_admin_creates_a_unit_through_the_form(live_server: Any, desktop_page: Any, screenshots: Path) -> None:
    world = build_world()
    page = desktop_page
    log_in(page, live_server.url, world.user(Role.ADMIN).phone)

    page.goto(f"{live_server.url}/units/")
    page.get_by_role("link", name=re.compile("新增单位")).click()
    page.wait_for_url(f"{live_server.url}/units/new/")
    # First an empty name: the form comes back with the reason and keeps what was typed.
    page.fill("#id_short_name", "老协")
    page.select_option("#id_kind", "social_org")
    page.select_option("#id_region", str(world.regions["village_a"].pk))
    page.click("button[type=submit].btn-success")
    assert page.locator("#id_name_error").is_visible()
    assert page.input_value("#id_short_name") == "老协"
    page.screenshot(path=str(screenshots / "unit-create-error.png"), full_page=True)

    page.fill("#id_name", "甲村老年人协会")
    page.click("button[type=submit].btn-success")
    page.wait_for_url(re.compile(r".*/units/\d+/$"))
    assert page.get_by_role("alert").filter(has_text="已新增单位").is_visible()

    page.goto(f"{live_server.url}/units/?q=老年人")
    assert page.get_by_role("link", name="甲村老年人协会").is_visible()
    assert Unit.objects.filter(name="甲村老年人协会", region=world.regions["village_a"]).exists()
    page.screenshot(path=str(screenshots / "unit-list-desktop.png"), full_page=True)
