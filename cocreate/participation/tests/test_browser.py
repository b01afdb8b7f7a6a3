"""Co-decision in a real browser: a resident raises a need with a photo on a 360 px phone, a
neighbour seconds it, village staff put it on the problem list, hold a meeting and open a vote,
residents vote on their phones, the result shows on the community's public page, and the resident
sees every step from their need. Debian's Chromium through Playwright (``-m browser``).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from cocreate.conftest import OUTSIDE_MARKER, PASSWORD, build_world
from cocreate.core.models import Household, Person, Role, User

# The browser set-up is core's (system Chromium, never `playwright install`); the fixtures are shared.
from cocreate.core.tests.test_browser import (  # noqa: F401
    browser_type_launch_args,
    desktop_page,
    log_in,
    open_from_menu,
    phone_page,
    screenshots,
)
from cocreate.participation.models import (
    Ballot,
    Need,
    NeedStatus,
    ProblemItem,
    ProblemStatus,
    Vote,
    VoteRule,
    VoteStatus,
)
from cocreate.plans.tests.test_browser import collect_console_errors

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEED_TITLE = "村口路灯坏了三盏"
VOTE_TITLE = "是否在村口安装太阳能路灯"


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, format="JPEG")
    return buffer.getvalue()


def overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def neighbour_account(world: Any) -> User:
    """A verified resident of village A in another household, who can log in."""
    household = Household.objects.create(number="A-002", region=world.regions["village_a"], address="甲村2号")
    person = Person.objects.create(
        name="李四邻", region=world.regions["village_a"], household=household, verified_at=timezone.now()
    )
    return User.objects.create_user(phone="13600000002", password=PASSWORD, person=person, display_name="李四邻")


def cast(page: Any, base: str, vote: Vote) -> None:
    """Votes 同意 on the phone: 我的表决 → the vote → 同意 → 确认提交."""
    page.goto(f"{base}/community/votes/mine/")
    page.get_by_role("link", name=VOTE_TITLE).click()
    page.wait_for_url(f"{base}/community/votes/{vote.pk}/ballot/")
    page.get_by_role("button", name="同意", exact=True).click()
    page.locator("#cc-ballot-confirm").wait_for()
    assert overflow(page) <= 0
    page.get_by_role("button", name="确认提交").click()
    page.locator("#cc-ballot-cast").wait_for()


def test_need_to_public_result_on_phones(
    live_server: Any,
    desktop_page: Any,  # noqa: F811
    phone_page: Any,  # noqa: F811
    browser: Any,
    screenshots: Path,  # noqa: F811
) -> None:
    world = build_world()
    base = live_server.url
    resident = world.user(Role.RESIDENT)
    assert resident.person_id is not None
    Person.objects.filter(pk=resident.person_id).update(verified_at=timezone.now())
    neighbour = neighbour_account(world)
    village = world.regions["village_a"]

    # 1. The resident raises a need on a 360 px phone, with a photo.
    phone = phone_page
    phone_errors = collect_console_errors(phone)
    log_in(phone, base, resident.phone)
    open_from_menu(phone, base, re.compile("我的诉求"), "/community/needs/mine/")
    phone.get_by_role("link", name=re.compile("我要提诉求")).click()
    phone.wait_for_url(f"{base}/community/needs/new/")
    phone.fill("#id_title", NEED_TITLE)
    phone.fill("#id_description", "晚上出行不便，老人小孩容易摔倒，希望尽快修好。")
    phone.select_option("#id_category", "infrastructure")
    phone.fill("#id_place", "村口小学门前")
    phone.set_input_files("#id_photos", files=[{"name": "路灯.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    assert overflow(phone) <= 0
    phone.screenshot(path=str(screenshots / "codecision-need-form-360.png"), full_page=True)
    phone.click("form button[type=submit].btn-success")
    phone.wait_for_url(re.compile(r".*/community/needs/\d+/$"))
    need = Need.objects.get(title=NEED_TITLE)
    assert need.status == NeedStatus.SUBMITTED and need.raised_by_id == resident.person_id
    assert phone.locator("img.cc-thumb").count() == 1  # the raiser sees their photo
    assert overflow(phone) <= 0

    # 2. A neighbour seconds it from the community's needs on their phone.
    neighbour_context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    other = neighbour_context.new_page()
    other.set_default_timeout(15_000)
    other_errors = collect_console_errors(other)
    log_in(other, base, neighbour.phone)
    other.goto(f"{base}/community/needs/")
    other.get_by_role("link", name=NEED_TITLE).click()
    other.wait_for_url(f"{base}/community/needs/{need.pk}/")
    other.get_by_role("button", name=re.compile("附议")).click()
    other.get_by_role("alert").filter(has_text="已附议").wait_for()
    assert "1 人附议" in other.locator("#support-count").inner_text()
    assert overflow(other) <= 0

    # 3. Village staff screen it onto the problem list (desktop).
    staff = desktop_page
    staff_errors = collect_console_errors(staff)
    log_in(staff, base, world.user(Role.VILLAGE_STAFF).phone)
    staff.goto(f"{base}/community/needs/screening/")
    staff.get_by_role("link", name=NEED_TITLE).click()
    staff.wait_for_url(f"{base}/community/needs/{need.pk}/")
    staff.get_by_role("link", name="列入问题清单").click()
    staff.fill("#id_title", "村口照明")
    staff.click("form button[type=submit].btn-success")
    staff.wait_for_url(re.compile(r".*/community/needs/problems/\d+/$"))
    problem = ProblemItem.objects.get(title="村口照明")
    assert list(problem.needs.values_list("pk", flat=True)) == [need.pk]

    # 4. They hold a 议事会 on it: the problem on the agenda, then minutes and the resolution.
    staff.goto(f"{base}/community/meetings/new/")
    staff.select_option("#id_region", str(village.pk))
    staff.select_option("#id_kind", "council")
    staff.fill("#id_title", "甲村三月村民议事会")
    staff.fill("#id_held_at", f"{timezone.localtime():%Y-%m-%dT%H:%M}")
    staff.fill("#id_place", "村委会议室")
    staff.click("form button[type=submit].btn-success")
    staff.wait_for_url(re.compile(r".*/community/meetings/\d+/$"))
    staff.select_option("#cc-item-form select[name=problem]", str(problem.pk))
    staff.click("#cc-item-form button[type=submit]")
    staff.locator("#cc-meeting-record").click()
    staff.fill("#id_minutes", "到会12人，一致认为村口照明急需解决。")
    staff.locator("#cc-record-form textarea[name^=resolution_]").first.fill("提交村民表决是否安装太阳能路灯。")
    staff.click("#cc-record-form button[type=submit].btn-success")
    staff.wait_for_url(re.compile(r".*/community/meetings/\d+/$"))
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DELIBERATING

    # 5. They open a vote on the problem.
    staff.goto(f"{base}/community/votes/new/")
    staff.fill("#id_title", VOTE_TITLE)
    staff.select_option("#id_region", str(village.pk))
    staff.select_option("#id_rule", str(VoteRule.objects.get(code="simple_poll").pk))
    staff.select_option("#id_problem", str(problem.pk))
    staff.click("form button[type=submit].btn-success")
    staff.wait_for_url(re.compile(r".*/community/votes/\d+/$"))
    vote = Vote.objects.get(title=VOTE_TITLE)
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="开始表决").click()
    staff.get_by_role("alert").filter(has_text="表决已开始").wait_for()

    # 6. The two residents vote on their phones.
    cast(phone, base, vote)
    phone.screenshot(path=str(screenshots / "codecision-ballot-cast-360.png"), full_page=True)
    cast(other, base, vote)
    assert Ballot.objects.filter(vote=vote).count() == 2

    # 7. Staff close it; the result is frozen.
    staff.reload()
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="结束表决").click()
    staff.get_by_role("alert").filter(has_text="表决已结束").wait_for()
    vote.refresh_from_db()
    assert vote.status == VoteStatus.CLOSED and vote.result["carried"] is True

    # 8. Anyone sees the result on the community's public page, without logging in.
    public_context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    visitor = public_context.new_page()
    visitor.set_default_timeout(15_000)
    visitor_errors = collect_console_errors(visitor)
    visitor.goto(f"{base}/community/public/{village.code}/")
    assert VOTE_TITLE in visitor.content()
    visitor.get_by_role("link", name=VOTE_TITLE).first.click()
    visitor.get_by_text("表决通过").first.wait_for()
    text = visitor.content()
    assert resident.display_name not in text  # names are masked, never shown whole
    assert OUTSIDE_MARKER not in text and resident.phone not in text
    assert overflow(visitor) <= 0
    visitor.screenshot(path=str(screenshots / "codecision-public-result-360.png"), full_page=True)

    # 9. The resident sees every step from their need, and was told of each.
    phone.goto(f"{base}/community/needs/{need.pk}/")
    steps = phone.locator("ol.list-group li").all_inner_texts()
    joined = "\n".join(steps)
    for step in ("待处理", "已列入问题清单", "问题清单：议事中", "开始表决", "表决通过", "问题清单：已决议"):
        assert step in joined, (step, steps)
    assert overflow(phone) <= 0
    phone.screenshot(path=str(screenshots / "codecision-need-steps-360.png"), full_page=True)
    phone.goto(f"{base}/notifications/")
    told = phone.content()
    assert "已列入问题清单" in told and "议事中" in told and "已决议" in told

    neighbour_context.close()
    public_context.close()
    assert phone_errors == [] and other_errors == [] and staff_errors == [] and visitor_errors == [], (
        phone_errors,
        other_errors,
        staff_errors,
        visitor_errors,
    )
