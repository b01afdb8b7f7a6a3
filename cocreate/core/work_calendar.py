"""The working-day calendar's data: import from xlsx/csv, delete a row, list rows for a page.

The rows (``WorkCalendarDay``) are national reference data: staff may read them, only
administrators (or the system, ``actor=None``, for the management command) write them. The
arithmetic that turns them into deadlines lives in ``cocreate.core.workdays``.

An import file has the columns 日期, 类型 (休 / 放假 or 班 / 调休上班) and optionally 名称 and
备注. Every row is checked before anything is written; a file with any bad row (a date that
cannot be read, an unknown type, a date twice in the file, a name too long) writes nothing and
the result lists every problem with its row number. Dates already in the calendar are updated,
and the result names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from cocreate.core import access
from cocreate.core.models import WorkCalendarDay
from cocreate.core.regions import ImportFileError, _csv_table, _read_bytes, _xlsx_table

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
MAX_ROWS = 5000
NAME_MAX = WorkCalendarDay._meta.get_field("name").max_length or 50
NOTE_MAX = WorkCalendarDay._meta.get_field("note").max_length or 200

# Compared after removing spaces and lower-casing.
DATE_HEADERS = {"日期", "date"}
KIND_HEADERS = {"类型", "安排", "上班/休息", "type", "kind"}
NAME_HEADERS = {"名称", "节日", "节假日", "说明", "name"}
NOTE_HEADERS = {"备注", "note"}

# 类型 values; "调休" alone is refused on purpose: it can mean the day off or the day worked.
OFF_WORDS = {"休", "放假", "休息", "假", "节假日", "假日", "off", "holiday"}
ON_WORDS = {"班", "上班", "调休上班", "补班", "工作日", "work", "workday"}

_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:00(?::00)?)?$")


@dataclass(frozen=True)
class RowError:
    """One rejected row: its row number in the file (0 for the file as a whole) and the reason."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = _("第%(row)d行") % {"row": self.row} if self.row else _("文件")
        if self.column:
            where = f"{where} {self.column}"
        return f"{where}：{self.message}"


@dataclass
class ImportResult:
    """What :func:`calendar_import` did; with any error, nothing was written."""

    created: list[date] = field(default_factory=list)
    updated: list[date] = field(default_factory=list)
    unchanged: list[date] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = _("新增 %(created)d 天，更新 %(updated)d 天，未变 %(unchanged)d 天。") % {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }
        if self.updated:
            shown = "、".join(f"{d:%Y-%m-%d}" for d in self.updated[:20])
            more = "…" if len(self.updated) > 20 else ""
            text += " " + _("已有并被更新的日期：%(dates)s") % {"dates": shown + more}
        return text


@dataclass(frozen=True)
class CalendarRow:
    """One valid input row."""

    number: int
    date: date
    is_working_day: bool
    name: str
    note: str


def can_manage(user: Any) -> bool:
    """Whether ``user`` may import and delete calendar rows (administrators)."""
    return access.can(user, access.CREATE, WorkCalendarDay())


def _require_manage(actor: Any) -> None:
    if actor is not None and not can_manage(actor):
        raise PermissionDenied(_("只有管理员可以维护工作日历"))


# --- Reading ------------------------------------------------------------------------------------------


def parse_date(value: Any) -> date | None:
    """A calendar date from a spreadsheet cell: a date, 2025-01-01, 2025/1/1, 2025年1月1日, 20250101."""
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else None
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip() if value is not None else ""
    try:
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        match = _DATE_TEXT.match(text)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return None


def parse_kind(value: str) -> bool | None:
    """True for a working day (班 / 调休上班), False for a day off (休 / 放假), None if unknown."""
    key = value.replace(" ", "").lower()
    if key in ON_WORDS:
        return True
    if key in OFF_WORDS:
        return False
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header_columns(cells: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = cell.replace(" ", "").lower()
        for name, headers in (
            ("date", DATE_HEADERS),
            ("kind", KIND_HEADERS),
            ("name", NAME_HEADERS),
            ("note", NOTE_HEADERS),
        ):
            if key in headers and name not in columns:
                columns[name] = index
    missing = [label for name, label in (("date", "日期"), ("kind", "类型")) if name not in columns]
    if missing:
        raise ImportFileError(
            _("第1行缺少必需的列：%(columns)s（可选列：名称、备注）") % {"columns": "、".join(missing)}
        )
    return columns


def read_rows(table: Iterable[Sequence[Any]]) -> tuple[list[CalendarRow], list[RowError]]:
    """Validates every row of a table (header first); numbers rows as a spreadsheet does."""
    columns: dict[str, int] | None = None
    rows: list[CalendarRow] = []
    errors: list[RowError] = []
    first_row: dict[date, int] = {}

    def pick(raw: Sequence[Any], key: str) -> Any:
        index = columns.get(key) if columns else None
        return raw[index] if index is not None and index < len(raw) else None

    for number, raw in enumerate(table, start=1):
        if not any(_text(v) for v in raw):
            continue
        if columns is None:
            columns = _header_columns([_text(v) for v in raw])
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ImportFileError(_("文件行数超过上限 %(max)d 行") % {"max": MAX_ROWS})
        bad = len(errors)
        raw_date = pick(raw, "date")
        day = parse_date(raw_date)
        if day is None:
            shown = _text(raw_date)
            message = _("日期“%(value)s”无法识别，请写成 2026-01-01") % {"value": shown} if shown else _("日期不能为空")
            errors.append(RowError(number, _("日期"), message))
        elif day in first_row:
            errors.append(RowError(number, _("日期"), _("日期与第%(row)d行重复") % {"row": first_row[day]}))
        else:
            first_row[day] = number
        kind_text = _text(pick(raw, "kind"))
        working = parse_kind(kind_text)
        if working is None:
            message = (
                _("类型“%(value)s”无法识别，应为“休”（放假）或“班”（调休上班）") % {"value": kind_text}
                if kind_text
                else _("类型不能为空，应为“休”或“班”")
            )
            errors.append(RowError(number, _("类型"), message))
        name = _text(pick(raw, "name"))
        if len(name) > NAME_MAX:
            errors.append(RowError(number, _("名称"), _("名称不能超过%(max)d个字符") % {"max": NAME_MAX}))
        note = _text(pick(raw, "note"))
        if len(note) > NOTE_MAX:
            errors.append(RowError(number, _("备注"), _("备注不能超过%(max)d个字符") % {"max": NOTE_MAX}))
        if len(errors) == bad and day is not None and working is not None:
            rows.append(CalendarRow(number, day, working, name, note))
    if columns is None:
        raise ImportFileError(_("文件是空的"))
    if not rows and not errors:
        raise ImportFileError(_("文件中没有日期行"))
    return rows, errors


def _table(file: IO[bytes] | bytes | str | Path, filename: str) -> Iterable[Sequence[Any]]:
    data = _read_bytes(file)
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_table(data)
    if suffix in (".csv", ".txt"):
        return _csv_table(data)
    raise ImportFileError(_("只支持 xlsx 或 csv 文件"))


# --- Services -------------------------------------------------------------------------------------------


def calendar_import(*, actor: Any, file: IO[bytes] | bytes | str | Path, filename: str) -> ImportResult:
    """Imports holidays and make-up workdays from xlsx or csv: every row or none.

    ``actor`` must be an administrator; ``None`` is the system (the management command).
    Raises PermissionDenied for anyone else, before the file is read.
    """
    _require_manage(actor)
    try:
        rows, errors = read_rows(_table(file, filename))
    except ImportFileError as exc:
        return ImportResult(errors=[RowError(0, "", str(exc))])
    if errors:
        return ImportResult(errors=errors)
    # Two parallel imports of one file both find a date missing and insert it; the unique date
    # makes the later one fail, and run again it finds the rows and leaves them unchanged.
    try:
        return _write(actor, rows)
    except IntegrityError:
        return _write(actor, rows)


@transaction.atomic
def _write(actor: Any, rows: Sequence[CalendarRow]) -> ImportResult:
    history_user = actor if getattr(actor, "pk", None) else None
    existing = {d.date: d for d in WorkCalendarDay.objects.select_for_update().filter(date__in=[r.date for r in rows])}
    result = ImportResult()
    now = timezone.now()
    to_create: list[WorkCalendarDay] = []
    to_update: list[WorkCalendarDay] = []
    for row in rows:
        current = existing.get(row.date)
        if current is None:
            to_create.append(
                WorkCalendarDay(date=row.date, is_working_day=row.is_working_day, name=row.name, note=row.note)
            )
            result.created.append(row.date)
        elif (current.is_working_day, current.name, current.note) != (row.is_working_day, row.name, row.note):
            current.is_working_day, current.name, current.note = row.is_working_day, row.name, row.note
            current.updated_at = now  # bulk_update does not apply auto_now
            to_update.append(current)
            result.updated.append(row.date)
        else:
            result.unchanged.append(row.date)
    if to_create:
        bulk_create_with_history(to_create, WorkCalendarDay, batch_size=500, default_user=history_user)
    if to_update:
        bulk_update_with_history(
            to_update,
            WorkCalendarDay,
            ["is_working_day", "name", "note", "updated_at"],
            batch_size=500,
            default_user=history_user,
        )
    return result


def bundled_files() -> list[Path]:
    """The official holiday arrangements shipped with cocreate, one csv per year, oldest first."""
    return sorted(FIXTURES_DIR.glob("cn_holidays_*.csv"))


@transaction.atomic
def calendar_day_delete(*, actor: Any, day: WorkCalendarDay) -> None:
    """Removes one row; its date falls back to the Monday–Friday rule. Administrators only."""
    if not access.can(actor, access.DELETE, day):
        raise PermissionDenied(_("只有管理员可以维护工作日历"))
    day.delete()


# --- Reads ------------------------------------------------------------------------------------------------


def calendar_days(*, user: Any, year: int | None = None) -> QuerySet[WorkCalendarDay]:
    """The calendar rows ``user`` may see, of one year or all, by date."""
    rows = WorkCalendarDay.objects.visible_to(user)
    if year is not None:
        rows = rows.filter(date__year=year)
    return rows.order_by("date")


def calendar_years(*, user: Any) -> list[int]:
    """The years that have rows, newest first."""
    return [d.year for d in WorkCalendarDay.objects.visible_to(user).dates("date", "year", order="DESC")]
