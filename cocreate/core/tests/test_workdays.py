"""The working-day calendar: deadline arithmetic, the import, the command and the admin pages."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from cocreate.conftest import World
from cocreate.core import access, workdays
from cocreate.core.models import Role, WorkCalendarDay
from cocreate.core.tests.pages import body, login
from cocreate.core.work_calendar import bundled_files, calendar_day_delete, calendar_import

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=TZ)


def csv_bytes(*lines: str, header: str = "日期,类型,名称") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


@pytest.fixture
def holidays() -> None:
    """The official 2025 and 2026 arrangements shipped with cocreate."""
    for path in bundled_files():
        result = calendar_import(actor=None, file=path, filename=path.name)
        assert result.ok, result.errors


# --- Defaults without rows ----------------------------------------------------------------------------


def test_without_rows_monday_to_friday_work() -> None:
    # 2024-06-03 is a Monday.
    assert [workdays.is_working_day(date(2024, 6, 3) + timedelta(days=i)) for i in range(7)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_friday_afternoon_plus_one_day_ends_monday_night() -> None:
    friday = at(2024, 6, 7, 15, 0)
    assert workdays.add_working_days(friday, 1) == end_of(2024, 6, 10)
    assert workdays.add_working_days(friday, 5) == end_of(2024, 6, 14)
    assert workdays.add_working_days(friday, 6) == end_of(2024, 6, 17)


def test_start_on_a_weekend_counts_from_the_next_working_day() -> None:
    saturday = at(2024, 6, 8, 10, 0)
    assert workdays.add_working_days(saturday, 1) == end_of(2024, 6, 10)
    # "By the end of today" on a Sunday means Monday.
    assert workdays.add_working_days(at(2024, 6, 9, 9), 0) == end_of(2024, 6, 10)
    assert workdays.add_working_days(at(2024, 6, 5, 9), 0) == end_of(2024, 6, 5)


def test_the_day_is_taken_in_shanghai_time() -> None:
    # 2024-06-07 17:00 UTC is Saturday 01:00 in Shanghai: the start day is Saturday, not Friday.
    utc_friday = datetime(2024, 6, 7, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert workdays.add_working_days(utc_friday, 1) == end_of(2024, 6, 10)
    assert workdays.add_working_days(utc_friday, 1).utcoffset() == timedelta(hours=8)


def test_naive_datetimes_and_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        workdays.add_working_days(datetime(2024, 6, 7, 15), 1)
    with pytest.raises(ValueError):
        workdays.add_working_days(at(2024, 6, 7), -1)
    with pytest.raises(ValueError):
        workdays.add_working_hours(at(2024, 6, 7), -1)


# --- Holidays and make-up workdays -------------------------------------------------------------------------


def test_a_limit_spanning_national_day_lands_after_the_holiday(holidays: None) -> None:
    # Dispatched Tuesday 2025-09-30; 10-01..10-08 are off, Saturday 10-11 is a make-up workday.
    start = at(2025, 9, 30, 15, 0)
    assert workdays.add_working_days(start, 1) == end_of(2025, 10, 9)
    assert workdays.add_working_days(start, 2) == end_of(2025, 10, 10)
    assert workdays.add_working_days(start, 3) == end_of(2025, 10, 11)  # the make-up Saturday
    assert workdays.add_working_days(start, 4) == end_of(2025, 10, 13)


def test_a_holiday_on_a_weekday_and_a_make_up_sunday(holidays: None) -> None:
    assert workdays.is_working_day(date(2025, 10, 1)) is False  # Wednesday, 国庆节
    assert workdays.is_working_day(date(2025, 9, 28)) is True  # Sunday, 国庆节调休上班
    assert workdays.is_working_day(date(2025, 9, 27)) is False  # an ordinary Saturday
    assert workdays.next_working_day(date(2025, 9, 26)) == date(2025, 9, 28)
    assert workdays.next_working_day(date(2025, 9, 30)) == date(2025, 10, 9)


def test_a_start_on_a_holiday_counts_from_the_first_working_day_after_it(holidays: None) -> None:
    start = at(2025, 10, 3, 11, 0)
    assert workdays.add_working_days(start, 1) == end_of(2025, 10, 9)
    assert workdays.add_working_days(start, 0) == end_of(2025, 10, 9)


def test_sixty_working_days_across_the_spring_festival(holidays: None) -> None:
    start = at(2026, 1, 5, 9, 0)  # Monday after 元旦 (1-4 was a make-up Sunday)
    deadline = workdays.add_working_days(start, 60)
    # Brute force over the same rows, one day at a time.
    calendar = workdays.load_calendar(since=date(2026, 1, 1), until=date(2026, 12, 31))
    day, left = date(2026, 1, 5), 60
    while left:
        day += timedelta(days=1)
        left -= calendar.is_working_day(day)
    assert deadline == end_of(day.year, day.month, day.day)
    assert deadline == end_of(2026, 4, 3)  # Saturdays 2-14 and 2-28 worked, 2-15..2-23 off
    assert workdays.working_days_between(start, deadline) == 60
    assert workdays.add_working_days(start, 61) == end_of(2026, 4, 7)  # 清明 4-4..4-6 off


def test_working_days_between(holidays: None) -> None:
    assert workdays.working_days_between(at(2025, 9, 30, 15), at(2025, 10, 9, 8)) == 1
    # 9-28 (make-up Sunday), 9-29, 9-30, 10-9, 10-10, 10-11 (make-up Saturday)
    assert workdays.working_days_between(at(2025, 9, 26), at(2025, 10, 12)) == 6
    assert workdays.working_days_between(at(2025, 10, 12), at(2025, 9, 26)) == -6
    assert workdays.working_days_between(at(2025, 10, 3), at(2025, 10, 5)) == 0
    # 261 weekdays each year, minus 18 (2025) / 19 (2026) weekday holidays, plus 5 / 6 make-up days.
    assert workdays.working_days_between(date(2024, 12, 31), date(2025, 12, 31)) == 248
    assert workdays.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 248


def test_a_ten_year_span_without_rows() -> None:
    start, end = date(2014, 12, 31), date(2024, 12, 31)
    weekdays = sum((start + timedelta(days=i)).weekday() < 5 for i in range(1, (end - start).days + 1))
    assert weekdays == 2609
    assert workdays.working_days_between(start, end) == weekdays
    assert workdays.add_working_days(at(2014, 12, 31, 12), weekdays) == end_of(2024, 12, 31)


@pytest.mark.parametrize("days", [1, 10, 60, 250, 2000])
def test_add_working_days_runs_one_query_however_long_the_span(holidays: None, days: int) -> None:
    with CaptureQueriesContext(connection) as queries:
        workdays.add_working_days(at(2025, 1, 20, 10), days)
    assert len(queries) == 1


def test_every_function_runs_one_query(holidays: None) -> None:
    calls = [
        lambda: workdays.is_working_day(date(2025, 10, 1)),
        lambda: workdays.next_working_day(date(2025, 9, 30)),
        lambda: workdays.add_working_hours(at(2025, 9, 30, 16), 40),
        lambda: workdays.working_days_between(at(2025, 1, 1), at(2026, 12, 31)),
    ]
    for call in calls:
        with CaptureQueriesContext(connection) as queries:
            call()
        assert len(queries) == 1


def test_a_loaded_calendar_refuses_dates_outside_its_range(holidays: None) -> None:
    calendar = workdays.load_calendar(since=date(2025, 1, 1), until=date(2025, 12, 31))
    with pytest.raises(ValueError):
        calendar.is_working_day(date(2026, 1, 1))
    with pytest.raises(ValueError):
        calendar.add_working_days(at(2025, 12, 30), 5)


# --- Working hours ---------------------------------------------------------------------------------------


def test_hours_within_a_morning() -> None:
    assert workdays.add_working_hours(at(2024, 6, 5, 9, 0), 2) == at(2024, 6, 5, 11, 0)
    # Ending exactly at noon stays at noon, not 14:00.
    assert workdays.add_working_hours(at(2024, 6, 5, 8, 30), 3.5) == at(2024, 6, 5, 12, 0)
    assert workdays.add_working_hours(at(2024, 6, 5, 9, 7), 0) == at(2024, 6, 5, 9, 7)


def test_hours_across_lunch() -> None:
    assert workdays.add_working_hours(at(2024, 6, 5, 11, 0), 2) == at(2024, 6, 5, 15, 0)
    # Started during lunch: the clock runs from 14:00.
    assert workdays.add_working_hours(at(2024, 6, 5, 12, 40), 1) == at(2024, 6, 5, 15, 0)


def test_hours_across_a_weekend() -> None:
    # Friday 16:30 + 2 h: one hour on Friday, the other on Monday morning.
    assert workdays.add_working_hours(at(2024, 6, 7, 16, 30), 2) == at(2024, 6, 10, 9, 30)
    # Evening and weekend starts wait for the next office period.
    assert workdays.add_working_hours(at(2024, 6, 7, 19, 0), 4) == at(2024, 6, 10, 14, 30)
    assert workdays.add_working_hours(at(2024, 6, 8, 10, 0), 7) == at(2024, 6, 10, 17, 30)
    # A whole number of office days ends at the close of the last one.
    assert workdays.add_working_hours(at(2024, 6, 10, 8, 30), 14) == at(2024, 6, 11, 17, 30)


def test_hours_across_a_holiday_with_a_make_up_day(holidays: None) -> None:
    # Friday 2025-01-24 16:00 + 21 h: 1.5 h Friday, 7 h on make-up Sunday 1-26, 7 h Monday 1-27,
    # then 春节 1-28..2-4, and the last 5.5 h on Wednesday 2-5 (3.5 h morning + 2 h afternoon).
    assert workdays.add_working_hours(at(2025, 1, 24, 16, 0), 21) == at(2025, 2, 5, 16, 0)


def test_office_hours_come_from_settings(settings: Any) -> None:
    settings.WORKDAY_HOURS = "09:00-12:00,13:30-18:00"
    assert workdays.add_working_hours(at(2024, 6, 5, 11, 0), 2) == at(2024, 6, 5, 14, 30)
    settings.WORKDAY_HOURS = [("09:00", "17:00")]
    assert workdays.add_working_hours(at(2024, 6, 5, 16, 0), 2) == at(2024, 6, 6, 10, 0)
    settings.WORKDAY_HOURS = "14:00-17:30,08:30-12:00"
    with pytest.raises(ImproperlyConfigured):
        workdays.office_hours()


# --- Import ---------------------------------------------------------------------------------------------


def test_import_csv_creates_rows_and_reports_updates(world: World) -> None:
    admin = world.user(Role.ADMIN)
    result = calendar_import(
        actor=admin,
        file=csv_bytes("2030-10-01,休,国庆节", "2030/9/29,调休上班,国庆节调休上班", "2030年10月2日,放假,国庆节"),
        filename="2030.csv",
    )
    assert result.ok, result.errors
    assert result.created == [date(2030, 10, 1), date(2030, 9, 29), date(2030, 10, 2)]
    day = WorkCalendarDay.objects.get(date=date(2030, 9, 29))
    assert (day.is_working_day, day.name) == (True, "国庆节调休上班")
    assert day.history.first().history_user == admin

    again = calendar_import(
        actor=admin, file=csv_bytes("2030-10-01,班,改为上班", "2030-10-02,休,国庆节"), filename="a.csv"
    )
    assert again.ok
    assert again.updated == [date(2030, 10, 1)]
    assert again.unchanged == [date(2030, 10, 2)]
    assert "2030-10-01" in again.summary()
    assert WorkCalendarDay.objects.get(date=date(2030, 10, 1)).is_working_day is True
    assert WorkCalendarDay.objects.count() == 3


def test_import_xlsx_with_real_dates(world: World) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["日期", "类型", "名称", "备注"])
    sheet.append([datetime(2031, 1, 1), "休", "元旦", "通知"])
    sheet.append(["2031-01-04", "班", "元旦调休上班", None])
    sheet.append([20310102, "休", "元旦", None])
    data = io.BytesIO()
    book.save(data)
    result = calendar_import(actor=world.user(Role.ADMIN), file=data.getvalue(), filename="2031.xlsx")
    assert result.ok, result.errors
    assert sorted(result.created) == [date(2031, 1, 1), date(2031, 1, 2), date(2031, 1, 4)]
    assert WorkCalendarDay.objects.get(date=date(2031, 1, 1)).note == "通知"


def test_every_bad_row_is_listed_and_nothing_is_saved(world: World) -> None:
    WorkCalendarDay.objects.create(date=date(2030, 5, 1), is_working_day=False, name="劳动节")
    data = csv_bytes(
        "2030-05-01,班,会被改但不会保存",  # row 2: fine on its own
        "2030-02-30,休,春节",  # row 3: no such date
        "明天,休,春节",  # row 4: not a date
        "2030-05-02,调休,劳动节",  # row 5: ambiguous type
        "2030-05-03,,劳动节",  # row 6: no type
        "2030-05-01,休,劳动节",  # row 7: date repeated from row 2
        ",休,",  # row 8: no date
        "2030-05-04,休," + "长" * 51,  # row 9: name too long
    )
    result = calendar_import(actor=world.user(Role.ADMIN), file=data, filename="bad.csv")
    assert not result.ok
    assert [(e.row, e.column) for e in result.errors] == [
        (3, "日期"),
        (4, "日期"),
        (5, "类型"),
        (6, "类型"),
        (7, "日期"),
        (8, "日期"),
        (9, "名称"),
    ]
    assert "第7行" in str(result.errors[4]) and "第2行" in str(result.errors[4])
    assert "调休" in result.errors[2].message
    assert WorkCalendarDay.objects.count() == 1
    assert WorkCalendarDay.objects.get().is_working_day is False


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"", "empty.csv", "空"),
        (csv_bytes("2030-01-01,休", header="日子,类型"), "x.csv", "日期"),
        (b"whatever", "calendar.pdf", "xlsx"),
        (b"not a zip", "broken.xlsx", "xlsx"),
    ],
)
def test_an_unreadable_file_is_one_error_and_saves_nothing(
    world: World, data: bytes, filename: str, reason: str
) -> None:
    result = calendar_import(actor=world.user(Role.ADMIN), file=data, filename=filename)
    assert [e.row for e in result.errors] == [0]
    assert reason in str(result.errors[0])
    assert not WorkCalendarDay.objects.exists()


@pytest.mark.parametrize("role", [Role.TOWN_STAFF, Role.LEADER, Role.RESIDENT])
def test_only_administrators_import_and_delete(world: World, role: str) -> None:
    with pytest.raises(PermissionDenied):
        calendar_import(actor=world.user(role), file=csv_bytes("2030-01-01,休,元旦"), filename="x.csv")
    assert not WorkCalendarDay.objects.exists()
    day = WorkCalendarDay.objects.create(date=date(2030, 1, 1), is_working_day=False)
    with pytest.raises(PermissionDenied):
        calendar_day_delete(actor=world.user(role), day=day)
    assert WorkCalendarDay.objects.filter(pk=day.pk).exists()


def test_staff_read_the_calendar_residents_and_anonymous_do_not(world: World) -> None:
    WorkCalendarDay.objects.create(date=date(2030, 1, 1), is_working_day=False)
    assert WorkCalendarDay.objects.visible_to(world.user(Role.GRID_WORKER)).count() == 1
    assert WorkCalendarDay.objects.visible_to(world.user(Role.RESIDENT)).count() == 0
    assert WorkCalendarDay.objects.visible_to(None).count() == 0
    assert access.can(world.user(Role.ADMIN), access.DELETE, WorkCalendarDay.objects.get())
    assert not access.can(world.user(Role.TOWN_STAFF), access.DELETE, WorkCalendarDay.objects.get())


def test_the_bundled_arrangements(holidays: None) -> None:
    years = {path.stem for path in bundled_files()}
    assert years == {"cn_holidays_2025", "cn_holidays_2026"}
    rows = {d.date: d.is_working_day for d in WorkCalendarDay.objects.all()}
    # Make-up workdays fall on weekends, days off include every weekday holiday of the notices.
    assert all(day.weekday() >= 5 for day, working in rows.items() if working)
    assert sum(working for working in rows.values()) == 5 + 6
    assert rows[date(2026, 2, 15)] is False and rows[date(2026, 2, 23)] is False
    assert rows[date(2026, 1, 4)] is True and rows[date(2026, 10, 10)] is True


# --- Command ---------------------------------------------------------------------------------------------


def test_command_imports_files_and_fails_on_bad_rows(tmp_path: Any) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes("2032-01-01,休,元旦"))
    out = io.StringIO()
    call_command("import_calendar", str(good), stdout=out)
    assert "created 1" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("2032-01-02,休,元旦", "2032-13-01,休,元旦"))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_calendar", str(bad), stdout=io.StringIO(), stderr=err)
    assert "第3行" in err.getvalue()
    assert not WorkCalendarDay.objects.filter(date=date(2032, 1, 2)).exists()
    with pytest.raises(CommandError):
        call_command("import_calendar", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError):
        call_command("import_calendar")


def test_command_bundled_and_as_a_non_admin(world: World) -> None:
    out = io.StringIO()
    call_command("import_calendar", "--bundled", stdout=out)
    assert "cn_holidays_2026.csv: created" in out.getvalue()
    assert WorkCalendarDay.objects.filter(date__year=2026).count() == 39
    with pytest.raises(CommandError):
        call_command("import_calendar", "--bundled", "--as", world.user(Role.TOWN_STAFF).phone)


def test_command_exit_status_is_non_zero_on_bad_rows(tmp_path: Any) -> None:
    # A real process, for the exit status; a file with bad rows is refused before any query.
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("2032-13-01,休,元旦"))
    manage = Path(settings.BASE_DIR) / "manage.py"
    done = subprocess.run(
        [sys.executable, str(manage), "import_calendar", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "第2行" in done.stderr


# --- Pages ----------------------------------------------------------------------------------------------


@pytest.fixture
def frozen_2025() -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=at(2025, 6, 1, 10)):
        yield


def test_admin_sees_the_years_rows_and_deletes_one(
    client: Client, world: World, holidays: None, frozen_2025: None
) -> None:
    login(client, world.user(Role.ADMIN))
    response = client.get(reverse("core:calendar_list"))
    assert response.status_code == 200
    text = body(response)
    assert 'data-date="2025-01-28"' in text and "2026-02-15" not in text  # this year by default
    assert "放假 28 天，调休上班 5 天" in text
    text = body(client.get(reverse("core:calendar_list"), {"year": "2026"}))
    assert 'data-date="2026-02-15"' in text and "放假 33 天，调休上班 6 天" in text
    assert client.get(reverse("core:calendar_list"), {"year": "99999"}).status_code == 200
    assert client.get(reverse("core:calendar_list"), {"page": "2"}).status_code == 200

    day = WorkCalendarDay.objects.get(date=date(2026, 10, 10))
    response = client.post(reverse("core:calendar_delete", args=[day.pk]))
    assert response.status_code == 302
    assert not WorkCalendarDay.objects.filter(pk=day.pk).exists()
    assert workdays.is_working_day(date(2026, 10, 10)) is False  # back to an ordinary Saturday


def test_import_page_saves_all_or_shows_every_bad_row(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    url = reverse("core:calendar_import")
    assert client.get(url).status_code == 200
    bad = io.BytesIO(csv_bytes("2033-01-01,休,元旦", "2033-01-01,休,元旦", "x,y,z"))
    bad.name = "bad.csv"
    response = client.post(url, {"file": bad})
    assert response.status_code == 400
    text = body(response)
    assert 'data-row="3"' in text and 'data-row="4"' in text
    assert not WorkCalendarDay.objects.exists()

    good = io.BytesIO(csv_bytes("2033-01-01,休,元旦", "2033-01-02,休,元旦"))
    good.name = "good.csv"
    response = client.post(url, {"file": good})
    assert response.status_code == 302
    assert response["Location"].endswith("?year=2033")
    assert WorkCalendarDay.objects.count() == 2

    pdf = io.BytesIO(b"%PDF")
    pdf.name = "a.pdf"
    assert client.post(url, {"file": pdf}).status_code == 400


@pytest.mark.parametrize("role", [Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.LEADER, Role.INSPECTOR, Role.RESIDENT])
def test_other_roles_get_403_and_cannot_delete(client: Client, world: World, role: str) -> None:
    day = WorkCalendarDay.objects.create(date=date(2030, 1, 1), is_working_day=False, name="元旦")
    login(client, world.user(role))
    assert client.get(reverse("core:calendar_list")).status_code == 403
    assert client.get(reverse("core:calendar_import")).status_code == 403
    upload = io.BytesIO(csv_bytes("2030-01-02,休,元旦"))
    upload.name = "x.csv"
    assert client.post(reverse("core:calendar_import"), {"file": upload}).status_code == 403
    assert client.post(reverse("core:calendar_delete", args=[day.pk])).status_code in (403, 404)
    assert WorkCalendarDay.objects.count() == 1


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(reverse("core:calendar_list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_admin_navigation_has_the_calendar(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    assert reverse("core:calendar_list") in body(client.get(reverse("core:home")))
    login(client, world.user(Role.TOWN_STAFF))
    assert reverse("core:calendar_list") not in body(client.get(reverse("core:home")))


# --- API --------------------------------------------------------------------------------------------------


def test_api_lists_a_years_rows_for_staff_only(client: Client, world: World, holidays: None) -> None:
    login(client, world.user(Role.GRID_WORKER))
    response = client.get("/api/calendar", {"year": 2026, "limit": 200})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 39
    by_date = {item["date"]: item for item in data["items"]}
    assert by_date["2026-01-01"]["is_working_day"] is False and by_date["2026-01-01"]["name"] == "元旦"
    assert by_date["2026-10-10"]["is_working_day"] is True
    assert client.get("/api/calendar", {"year": 1800}).status_code == 422
    login(client, world.user(Role.RESIDENT))
    assert client.get("/api/calendar", {"year": 2026}).json()["count"] == 0
    client.logout()
    assert client.get("/api/calendar", {"year": 2026}).status_code == 401
