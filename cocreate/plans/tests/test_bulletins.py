"""Bulletins (通报): figures computed from the records and frozen on publishing, who may see and
write them, the pages, the API, the PDF (text extracted back out) and the xlsx."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core import access
from cocreate.core.models import Notification, Region, Role, User
from cocreate.plans import bulletins, services
from cocreate.plans.models import Bulletin, BulletinStatus, Rectification, RectificationStatus, Task
from cocreate.plans.status import Light, task_light

pytestmark = pytest.mark.django_db

BACKEND = "cocreate.core.hotpath.UserBackend"
Q1: dict[str, Any] = {"period_start": date(2026, 1, 1), "period_end": date(2026, 3, 31)}
# A day after the first quarter: the lights are taken on 31 March (the period's last day).
APRIL = date(2026, 4, 10)


def rec(world: World, key: str) -> Any:
    return world.extra["plans"][key]


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def unit_row(figures: dict[str, Any], name: str) -> dict[str, Any]:
    rows = [row for row in figures["units"] if row["unit"] == name]
    assert len(rows) == 1, [row["unit"] for row in figures["units"]]
    return rows[0]


def figures_q1(world: World) -> dict[str, Any]:
    return bulletins.bulletin_figures(region=world.regions["town_a"], **Q1, today=APRIL)


def raised_in_march(world: World) -> Rectification:
    """The world's open rectification, dated inside the first quarter."""
    rectification = rec(world, "rectification")
    when = timezone.make_aware(datetime(2026, 3, 28, 10, 0))
    Rectification.objects.filter(pk=rectification.pk).update(created_at=when)
    return rectification


def draft(world: World, **extra: Any) -> Bulletin:
    data: dict[str, Any] = {"region": world.regions["town_a"], "title": "甲镇第一季度督查通报", **Q1, **extra}
    return bulletins.bulletin_create(actor=world.user(Role.INSPECTOR), **data)


def overdue_task(world: World) -> Task:
    """A town task for 乙村 due on 1 March with nothing reported: red and overdue on 31 March."""
    return services.task_create(
        actor=world.user(Role.TOWN_STAFF),
        plan=rec(world, "plan"),
        title="清理河道垃圾",
        number="2",
        starts_on=date(2026, 1, 1),
        deadline=date(2026, 3, 1),
        units={"responsible": [world.units["village_a2_committee"]]},
    )


def report(world: World, task: Task, percent: int) -> None:
    services.report_submit(
        actor=world.user(Role.VILLAGE_STAFF),
        task=task,
        unit=world.units["village_committee"],
        kind="percent",
        percent=Decimal(percent),
    )


# --- Figures ----------------------------------------------------------------------------------------


def test_figures_are_computed_from_tasks_reports_and_rectifications(world: World) -> None:
    raised_in_march(world)
    child = rec(world, "child_task")
    figures = figures_q1(world)

    assert figures["as_of"] == "2026-03-31"
    # The child task (甲村, 0 % on 31 March: ~24 points behind 序时进度) is yellow, the same light
    # its task page shows; the fanned-out parent counts only through its child.
    assert task_light(Task.objects.get(pk=child.pk), date(2026, 3, 31)).light == Light.YELLOW
    village = unit_row(figures, "甲村村民委员会")
    assert (village["tasks"], village["yellow"], village["done"], village["red"]) == (1, 1, 0, 0)
    assert village["rectifications_open"] == 1
    assert figures["totals"]["tasks"] == 1 and figures["totals"]["rectifications_open"] == 1
    assert figures["overdue_tasks"] == []

    overdue = overdue_task(world)
    figures = figures_q1(world)
    other = unit_row(figures, "乙村村民委员会")
    assert (other["tasks"], other["red"], other["overdue"], other["rectifications_open"]) == (1, 1, 1, 0)
    assert figures["totals"]["tasks"] == 2 and figures["totals"]["overdue"] == 1
    assert [t["task_id"] for t in figures["overdue_tasks"]] == [overdue.pk]
    assert figures["overdue_tasks"][0]["days_overdue"] == 30
    assert figures["overdue_tasks"][0]["units"] == "乙村村民委员会"
    assert OUTSIDE_MARKER not in json.dumps(figures, ensure_ascii=False)


def test_a_report_changes_the_draft_figures_and_not_the_published_ones(world: World) -> None:
    child = rec(world, "child_task")
    bulletin = draft(world)
    before = unit_row(bulletins.current_figures(bulletin, today=APRIL), "甲村村民委员会")
    assert (before["done"], before["yellow"], before["done_rate"]) == (0, 1, 0.0)

    report(world, child, 100)
    after = unit_row(bulletins.current_figures(bulletin, today=APRIL), "甲村村民委员会")
    assert (after["done"], after["yellow"], after["done_rate"]) == (1, 0, 100.0)

    published = bulletins.bulletin_publish(actor=world.user(Role.INSPECTOR), bulletin=bulletin, today=APRIL)
    assert published.status == BulletinStatus.PUBLISHED and published.published_at is not None
    assert published.published_by == world.user(Role.INSPECTOR)
    assert unit_row(published.figures, "甲村村民委员会")["done"] == 1

    # A later report moves the live figures, but the published bulletin keeps what it said.
    report(world, child, 30)
    live = unit_row(figures_q1(world), "甲村村民委员会")
    assert live["done"] == 0
    stored = Bulletin.objects.get(pk=bulletin.pk)
    assert unit_row(stored.figures, "甲村村民委员会")["done"] == 1
    document = bulletins.bulletin_document(user=world.user(Role.VILLAGE_STAFF), bulletin=stored, today=APRIL)
    assert document["is_live"] is False
    assert document["rows"][0]["values"][1] == 1


def test_closed_rectifications_and_a_plan_filter_leave_the_counts(world: World) -> None:
    rectification = raised_in_march(world)
    plan = rec(world, "plan")
    assert unit_row(figures_q1(world), "甲村村民委员会")["rectifications_open"] == 1
    Rectification.objects.filter(pk=rectification.pk).update(
        status=RectificationStatus.CLOSED, closed_at=timezone.make_aware(datetime(2026, 3, 30, 9, 0))
    )
    assert unit_row(figures_q1(world), "甲村村民委员会")["rectifications_open"] == 0
    # Closed only after the period: still open on 31 March.
    Rectification.objects.filter(pk=rectification.pk).update(closed_at=timezone.make_aware(datetime(2026, 4, 2)))
    assert unit_row(figures_q1(world), "甲村村民委员会")["rectifications_open"] == 1

    other_plan = services.plan_create(
        actor=world.user(Role.TOWN_STAFF),
        title="甲镇另一方案",
        issuing_unit=world.units["town_office"],
        region=world.regions["town_a"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    only_other = bulletins.bulletin_figures(region=world.regions["town_a"], plan=other_plan, **Q1, today=APRIL)
    assert only_other["units"] == [] and only_other["totals"]["tasks"] == 0
    only_this = bulletins.bulletin_figures(region=world.regions["town_a"], plan=plan, **Q1, today=APRIL)
    assert only_this["totals"]["tasks"] == 1 and only_this["plan"] == {"id": plan.pk, "title": plan.title}


def test_figures_take_the_same_number_of_queries_for_more_units_and_tasks(world: World) -> None:
    raised_in_march(world)
    overdue_task(world)
    with CaptureQueriesContext(connection) as small:
        figures_q1(world)
    town = world.user(Role.TOWN_STAFF)
    for i, unit in enumerate(("town_office", "school", "dept", "village_a2_committee")):
        task = services.task_create(
            actor=town,
            plan=rec(world, "plan"),
            title=f"任务{i}",
            starts_on=date(2026, 1, 1),
            deadline=date(2026, 2, 1 + i),
            units={"responsible": [world.units[unit], world.units["village_committee"]]},
        )
        assert task.pk
    with CaptureQueriesContext(connection) as large:
        figures = figures_q1(world)
    assert len(figures["units"]) == 5 and figures["totals"]["overdue"] == 5
    assert len(large.captured_queries) == len(small.captured_queries)


# --- Permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.RESIDENT])
def test_only_supervisors_create_bulletins(world: World, role: str) -> None:
    count = Bulletin.objects.count()
    with pytest.raises(PermissionDenied):
        bulletins.bulletin_create(actor=world.user(role), region=world.regions["village_a"], title="通报", **Q1)
    assert Bulletin.objects.count() == count


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.LEADER, Role.ADMIN])
def test_supervisors_create_inside_their_region_only(world: World, role: str) -> None:
    bulletin = bulletins.bulletin_create(
        actor=world.user(role), region=world.regions["county_a"], title="甲县通报", **Q1
    )
    assert bulletin.status == BulletinStatus.DRAFT and bulletin.created_by == world.user(role)
    with pytest.raises(PermissionDenied):
        bulletins.bulletin_create(actor=world.user(role), region=world.regions["county_b"], title="通报", **Q1)


def test_bad_input_is_refused(world: World) -> None:
    inspector = world.user(Role.INSPECTOR)
    town = world.regions["town_a"]
    with pytest.raises(ValidationError) as period:
        bulletins.bulletin_create(
            actor=inspector, region=town, title="通报", period_start=date(2026, 3, 1), period_end=date(2026, 2, 1)
        )
    assert "period_end" in period.value.message_dict
    with pytest.raises(ValidationError) as outside_plan:
        bulletins.bulletin_create(actor=inspector, region=town, title="通报", plan=rec(world, "outside_plan"), **Q1)
    assert "plan" in outside_plan.value.message_dict
    with pytest.raises(ValidationError):
        bulletins.bulletin_create(actor=inspector, region=town, title="  ", **Q1)


def test_village_staff_see_published_bulletins_only_and_cannot_publish(world: World) -> None:
    village_staff = world.user(Role.VILLAGE_STAFF)
    bulletin = draft(world)
    visible = set(Bulletin.objects.visible_to(village_staff).values_list("title", flat=True))
    assert visible == {rec(world, "bulletin").title}
    assert bulletin.title not in visible
    with pytest.raises(PermissionDenied):
        bulletins.bulletin_publish(actor=village_staff, bulletin=bulletin)
    with pytest.raises(PermissionDenied):
        bulletins.bulletin_update(actor=village_staff, bulletin=bulletin, data={"title": "改"})
    with pytest.raises(PermissionDenied):
        bulletins.bulletin_pdf(user=village_staff, bulletin=bulletin)
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.DRAFT and bulletin.title == "甲镇第一季度督查通报"

    bulletins.bulletin_publish(actor=world.user(Role.INSPECTOR), bulletin=bulletin, today=APRIL)
    assert Bulletin.objects.visible_to(village_staff).filter(pk=bulletin.pk).exists()
    assert not Bulletin.objects.visible_to(world.users["outside_staff"]).filter(pk=bulletin.pk).exists()


def test_a_published_bulletin_cannot_be_changed_or_published_again(world: World) -> None:
    inspector = world.user(Role.INSPECTOR)
    bulletin = draft(world)
    bulletins.bulletin_update(
        actor=inspector, bulletin=bulletin, data={"praise": "甲村整治迅速。", "issue_number": "第1期"}
    )
    bulletin.refresh_from_db()
    assert bulletin.praise == "甲村整治迅速。" and bulletin.issue_number == "第1期"
    with pytest.raises(ValidationError):
        bulletins.bulletin_update(actor=inspector, bulletin=bulletin, data={"figures": {}})
    bulletins.bulletin_publish(actor=inspector, bulletin=bulletin, today=APRIL)
    frozen = Bulletin.objects.get(pk=bulletin.pk).figures
    with pytest.raises(ValidationError):
        bulletins.bulletin_update(actor=inspector, bulletin=bulletin, data={"title": "新标题"})
    with pytest.raises(ValidationError):
        bulletins.bulletin_publish(actor=inspector, bulletin=bulletin)
    stored = Bulletin.objects.get(pk=bulletin.pk)
    assert stored.title == "甲镇第一季度督查通报" and stored.figures == frozen


def test_publishing_notifies_the_staff_in_the_region_once(world: World) -> None:
    bulletin = draft(world)
    bulletins.bulletin_publish(actor=world.user(Role.INSPECTOR), bulletin=bulletin, today=APRIL)
    notified = set(Notification.objects.filter(title__contains=bulletin.title).values_list("user_id", flat=True))
    inside = {
        world.user(role).pk for role in (Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.GRID_WORKER, Role.SCHOOL_STAFF)
    }
    assert inside <= notified
    # Not the county's staff above the town, not residents, not county B.
    for role in (Role.RESIDENT, Role.DEPT_STAFF, Role.INSPECTOR):
        assert world.user(role).pk not in notified
    assert world.users["outside_staff"].pk not in notified
    url = Notification.objects.filter(user=world.user(Role.VILLAGE_STAFF)).latest("pk").url
    assert url == f"/plans/bulletins/{bulletin.pk}/"


# --- Pages ------------------------------------------------------------------------------------------


def test_pages_create_show_publish_and_download(world: World) -> None:
    raised_in_march(world)
    client = as_user(world.user(Role.INSPECTOR))
    assert client.get("/plans/bulletins/new/").status_code == 200
    response = client.post(
        "/plans/bulletins/new/",
        {
            "title": "甲镇一季度通报",
            "issue_number": "第2期",
            "region": world.regions["town_a"].pk,
            "plan": "",
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
            "praise": "甲村清理背街小巷及时。",
            "criticism": "乙村河道清理滞后。",
        },
    )
    assert response.status_code == 302, response.content.decode()
    bulletin = Bulletin.objects.get(title="甲镇一季度通报")
    assert response["Location"] == f"/plans/bulletins/{bulletin.pk}/"

    html = client.get(f"/plans/bulletins/{bulletin.pk}/").content.decode()
    assert "甲村村民委员会" in html and "乙村河道清理滞后。" in html and "草稿" in html
    assert OUTSIDE_MARKER not in html
    listing = client.get("/plans/bulletins/").content.decode()
    assert "甲镇一季度通报" in listing and OUTSIDE_MARKER not in listing

    pdf = client.get(f"/plans/bulletins/{bulletin.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    xlsx = client.get(f"/plans/bulletins/{bulletin.pk}/xlsx/")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "甲村村民委员会" in cells and "合计" in cells and "乙村河道清理滞后。" in cells

    response = client.post(f"/plans/bulletins/{bulletin.pk}/publish/")
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.PUBLISHED and bulletin.figures["units"]
    # Published: no more edit or publish buttons, and the edit page sends back to the bulletin.
    html = client.get(f"/plans/bulletins/{bulletin.pk}/").content.decode()
    assert f"/plans/bulletins/{bulletin.pk}/edit/" not in html
    assert client.get(f"/plans/bulletins/{bulletin.pk}/edit/").status_code == 302


def test_page_form_shows_the_reason_for_bad_input(world: World) -> None:
    client = as_user(world.user(Role.INSPECTOR))
    response = client.post(
        "/plans/bulletins/new/",
        {
            "title": "倒序通报",
            "region": world.regions["town_a"].pk,
            "period_start": "2026-03-31",
            "period_end": "2026-01-01",
        },
    )
    assert response.status_code == 400
    assert "统计截止日期不能早于起始日期" in response.content.decode()
    assert not Bulletin.objects.filter(title="倒序通报").exists()


def test_village_staff_pages_show_published_only(world: World) -> None:
    bulletin = draft(world)
    client = as_user(world.user(Role.VILLAGE_STAFF))
    listing = client.get("/plans/bulletins/").content.decode()
    assert rec(world, "bulletin").title in listing and bulletin.title not in listing
    assert "/plans/bulletins/new/" not in listing
    assert client.get("/plans/bulletins/new/").status_code == 403
    for suffix in ("", "pdf/", "xlsx/", "edit/", "history/"):
        assert client.get(f"/plans/bulletins/{bulletin.pk}/{suffix}").status_code == 404, suffix
    assert client.post(f"/plans/bulletins/{bulletin.pk}/publish/").status_code == 404
    assert Bulletin.objects.get(pk=bulletin.pk).status == BulletinStatus.DRAFT
    published = rec(world, "bulletin")
    assert client.get(f"/plans/bulletins/{published.pk}/").status_code == 200
    assert client.get(f"/plans/bulletins/{published.pk}/pdf/").status_code == 200


# --- API --------------------------------------------------------------------------------------------


def test_api_lists_details_creates_publishes_and_downloads(world: World) -> None:
    inspector = as_user(world.user(Role.INSPECTOR))
    payload = {
        "title": "甲镇接口通报",
        "region_id": world.regions["town_a"].pk,
        "plan_id": rec(world, "plan").pk,
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
    }
    response = inspector.post("/api/bulletins", json.dumps(payload), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["is_live"] is True
    assert [u["unit"] for u in data["figures"]["units"]] == ["甲村村民委员会"]
    pk = data["id"]

    listing = inspector.get("/api/bulletins").json()
    assert {item["title"] for item in listing["items"]} == {"甲镇接口通报", rec(world, "bulletin").title}
    village = as_user(world.user(Role.VILLAGE_STAFF))
    assert [item["id"] for item in village.get("/api/bulletins").json()["items"]] == [rec(world, "bulletin").pk]
    assert village.get(f"/api/bulletins/{pk}").status_code == 404
    assert village.post(f"/api/bulletins/{pk}/publish").status_code == 404
    denied = village.post("/api/bulletins", json.dumps(payload), content_type="application/json")
    assert denied.status_code == 403 and denied.json()["error"]

    published = inspector.post(f"/api/bulletins/{pk}/publish")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published" and published.json()["is_live"] is False
    again = inspector.post(f"/api/bulletins/{pk}/publish")
    assert again.status_code == 400 and again.json()["error"]

    assert village.get(f"/api/bulletins/{pk}").json()["figures"]["totals"]["tasks"] == 1
    pdf = village.get(f"/api/bulletins/{pk}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = village.get(f"/api/bulletins/{pk}/xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    outside = world.extra["plans"]["outside_bulletin"]
    assert inspector.get(f"/api/bulletins/{outside.pk}/pdf").status_code == 404


def test_api_create_refuses_regions_and_plans_out_of_scope(world: World) -> None:
    inspector = as_user(world.user(Role.INSPECTOR))
    base = {"title": "通报", "period_start": "2026-01-01", "period_end": "2026-03-31"}
    for extra in (
        {"region_id": world.regions["county_b"].pk},
        {"region_id": world.regions["town_a"].pk, "plan_id": rec(world, "outside_plan").pk},
    ):
        response = inspector.post("/api/bulletins", json.dumps({**base, **extra}), content_type="application/json")
        assert response.status_code == 404 and OUTSIDE_MARKER not in response.content.decode()
    assert not Bulletin.objects.filter(title="通报").exists()


# --- The printed document ---------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() or "" for page in reader.pages)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_pdf_carries_the_tables_paragraphs_and_no_outside_text(world: World) -> None:
    raised_in_march(world)
    overdue_task(world)
    bulletin = draft(world, issue_number="第1期", praise="甲村清理背街小巷及时。", criticism="乙村河道清理滞后。")
    inspector = world.user(Role.INSPECTOR)
    text = squeeze(pdf_text(bulletins.bulletin_pdf(user=inspector, bulletin=bulletin, today=APRIL)))
    figures = figures_q1(world)
    for heading in ("甲镇督查通报", "第1期", "甲镇第一季度督查通报", "2026年1月1日至2026年3月31日", "草稿"):
        assert heading in text
    assert squeeze(bulletins.summary_text(figures)) in text
    for i, row in enumerate(figures["units"], start=1):
        cells = [str(i), row["unit"], *(str(row[key]) for key in bulletins.COUNT_KEYS), f"{row['done_rate']}%"]
        assert "".join(cells) in text, cells
    assert "清理河道垃圾" in text
    assert "甲村清理背街小巷及时。" in text and "乙村河道清理滞后。" in text
    assert OUTSIDE_MARKER not in text


def test_acceptance_demo_county_bulletin_pdf_has_the_computed_tables_in_chinese() -> None:
    """Issue 3: a bulletin PDF for the demo county contains the computed tables (text extractable)."""
    from cocreate.core.demo import COUNTY_CODE, ROLE_PHONES, demo_load

    demo_load()
    county = Region.objects.get(code=COUNTY_CODE)
    inspector = User.objects.get(phone=ROLE_PHONES[Role.INSPECTOR])
    assert access.can(inspector, access.CREATE, Bulletin(region=county))
    today = timezone.localdate()
    bulletin = bulletins.bulletin_create(
        actor=inspector,
        region=county,
        title=f"{county.name}共同缔造工作通报",
        issue_number="第1期",
        period_start=date(today.year, 1, 1),
        period_end=today,
    )
    bulletin = bulletins.bulletin_publish(actor=inspector, bulletin=bulletin, today=today)
    figures = bulletin.figures
    # The demo's plans show every light, so the table is not a page of zeros.
    assert len(figures["units"]) >= 10 and figures["totals"]["tasks"] >= 20
    assert all(figures["totals"][key] > 0 for key in ("done", "green", "yellow", "red", "overdue"))

    text = squeeze(pdf_text(bulletins.bulletin_pdf(user=inspector, bulletin=bulletin)))
    assert f"{county.name}督查通报" in text and bulletin.title in text
    assert squeeze(bulletins.summary_text(figures)) in text
    for i, row in enumerate(figures["units"], start=1):
        cells = [str(i), row["unit"], *(str(row[key]) for key in bulletins.COUNT_KEYS), f"{row['done_rate']}%"]
        assert squeeze("".join(cells)) in text, cells
    totals = figures["totals"]
    assert "合计" + "".join(str(totals[key]) for key in bulletins.COUNT_KEYS) in text


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_parallel_publishes_publish_once_and_notify_once() -> None:
    from cocreate.conftest import build_world
    from cocreate.core.tests.concurrency import race

    world = build_world()
    bulletin = draft(world)
    publishers = [world.user(Role.INSPECTOR), world.user(Role.LEADER), world.user(Role.ADMIN)]

    def publish(i: int) -> Bulletin:
        return bulletins.bulletin_publish(actor=publishers[i], bulletin=bulletin, today=APRIL)

    results = race(len(publishers), publish)
    won = [r for r in results if isinstance(r, Bulletin)]
    assert len(won) == 1, results
    assert all(isinstance(r, ValidationError) for r in results if not isinstance(r, Bulletin)), results
    stored = Bulletin.objects.get(pk=bulletin.pk)
    assert stored.published_by == won[0].published_by
    village_staff = world.user(Role.VILLAGE_STAFF)
    assert Notification.objects.filter(user=village_staff, title__contains=bulletin.title).count() == 1


def test_document_dates_follow_the_active_language(world: World) -> None:
    from django.utils import translation

    bulletin = draft(world, issue_number="第1期")
    bulletins.bulletin_publish(actor=world.user(Role.INSPECTOR), bulletin=bulletin)
    bulletin.refresh_from_db()
    issued = timezone.localtime(bulletin.published_at).date()
    inspector = world.user(Role.INSPECTOR)
    with translation.override("zh-hans"):
        chinese = bulletins.bulletin_document(user=inspector, bulletin=bulletin, today=APRIL)
    as_of = date.fromisoformat(str(chinese["figures"]["as_of"]))
    # The Chinese document is exactly as before: 2026年1月1日至2026年3月31日.
    assert chinese["period_text"] == "2026年1月1日至2026年3月31日"
    assert chinese["as_of_text"] == f"{as_of.year}年{as_of.month}月{as_of.day}日"
    assert chinese["issued_text"] == f"{issued.year}年{issued.month}月{issued.day}日"
    assert chinese["summary"].startswith(f"截至{as_of.year}年{as_of.month}月{as_of.day}日，")
    with translation.override("en"):
        english = bulletins.bulletin_document(user=inspector, bulletin=bulletin, today=APRIL)
        assert english["period_text"] == "1 January 2026 to 31 March 2026"
        assert english["as_of_text"] == bulletins.document_date(as_of) == f"{as_of.day} {as_of:%B} {as_of.year}"
        assert english["issued_text"] == f"{issued.day} {issued:%B} {issued.year}"
    for text in (english["period_text"], english["as_of_text"], english["issued_text"], english["summary"]):
        assert "年" not in text and "月" not in text, text
