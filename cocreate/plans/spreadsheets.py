"""Spreadsheets in and out for work plans: import a task table from xlsx, export a plan to xlsx.

The import reads the layouts the seed documents use (序号, 任务/工作内容, 牵头单位, 责任单位,
配合单位, 指导单位, 责任领导, 责任人, 完成时限, 目标; headers on one row or two, in any
order) and the 整治项目清单 layout (项目, 实施主体, 建设规模, 资金来源, 完成时限). Every row is
checked before anything is written; a file with any bad row imports nothing and the result
lists every problem with its row number, so the author can fix the file in one pass. The rows
are then written through ``services.task_create``, the same path as the task form.
"""

from __future__ import annotations

import calendar
import difflib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Literal, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import CharField, Field, ForeignKey, IntegerField, Model, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.concurrency import AlreadyImported, claim_import
from cocreate.core.models import Membership, Region, Unit, UnitKind, User, subtree_q
from cocreate.plans.models import (
    Comparator,
    Milestone,
    PersonRole,
    Phase,
    Plan,
    QuotaPeriod,
    Target,
    TargetKind,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)

# --- Results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (0 for the file as a whole), the column as headed, the reason."""

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
    """What :func:`plan_import` did; with any error, nothing was written."""

    created_tasks: list[Task] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, damage, missing columns)."""


# --- Columns --------------------------------------------------------------------------------------------

# Field -> the headers that mean it, as normalised by _header_key (no spaces, no bracketed notes).
HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号"),
    "title": ("任务", "任务名称", "工作任务", "重点任务", "任务事项", "工作事项", "项目", "项目名称", "整治项目"),
    "content": ("工作内容", "任务内容", "具体内容", "主要内容", "工作措施", "具体措施", "主要措施"),
    "phase": ("阶段", "所属阶段", "实施阶段"),
    "lead": ("牵头单位", "牵头部门"),
    "responsible": ("责任单位", "责任部门", "实施主体", "承办单位"),
    "cooperating": ("配合单位", "配合部门", "协办单位"),
    "guiding": ("指导单位", "指导部门"),
    "leader": ("责任领导", "分管领导", "牵头领导"),
    "person": ("责任人", "具体责任人"),
    "starts_on": ("开始时间", "开始日期", "启动时间"),
    "deadline": ("完成时限", "时间节点", "完成时间", "完成时间节点", "完成期限", "时限要求", "时限"),
    "target": ("目标", "目标任务", "工作目标", "目标要求", "预期目标"),
    "scale": ("建设规模",),
    "funding": ("资金来源",),
    "remark": ("备注",),
    # Written by the export and recomputed on import, never read back.
    "ignored": ("进度", "亮灯", "状态", "完成进度"),
}
_FIELD_OF_HEADER = {header: name for name, headers in HEADERS.items() for header in headers}
UNIT_FIELDS: dict[str, str] = {
    "lead": UnitRole.LEAD,
    "responsible": UnitRole.RESPONSIBLE,
    "cooperating": UnitRole.COOPERATING,
    "guiding": UnitRole.GUIDING,
}
PEOPLE_FIELDS: dict[str, str] = {"leader": PersonRole.LEADER, "person": PersonRole.RESPONSIBLE}
# A service's ValidationError field -> the column it is about.
_SERVICE_FIELDS = {
    "title": "title",
    "deadline": "deadline",
    "starts_on": "starts_on",
    "phase": "phase",
    "units": "responsible",
    "fan_out": "responsible",
    "targets": "target",
    "milestones": "deadline",
}
MAX_HEADER_SCAN = 10
MAX_ROWS = 20_000
_HEADING = re.compile(
    r"^(?:[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、|第[一二三四五六七八九十]+[部分章节阶段])"
)
TITLE_MAX = 300


def _header_key(value: str) -> str:
    text = re.sub(r"\s+", "", value)
    # "完成时限（年月日）", "进度(%)": the note in brackets does not change the column's meaning.
    return re.sub(r"[（(【\[].*?[）)】\]]$", "", text)


# --- Reading the table ------------------------------------------------------------------------------------


@dataclass
class Table:
    """The data rows of the first sheet, keyed by field, with each column's header as written."""

    headers: dict[str, str]
    rows: list[tuple[int, dict[str, Any]]]
    headings: list[tuple[int, str]] = field(default_factory=list)


def read_table(data: bytes) -> Table:
    """Finds the header (one or two rows, merged or not), then reads every non-blank row below it."""
    from openpyxl import load_workbook

    try:
        # Read-only parsing is a third faster on a 10,000-row table, but it does not expose merged
        # ranges (two-row headers, one 牵头单位 cell spanning several tasks): those are read from
        # the sheet's XML directly.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        grid = [list(r) for r in sheet.iter_rows(values_only=True)]
        merged = _merged_ranges(data, getattr(sheet, "_worksheet_path", ""))
        workbook.close()
    except Exception as exc:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise ImportFileError(_("无法读取 xlsx 文件：%(error)s") % {"error": exc}) from exc
    return _table_from_grid(grid, merged)


_MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+\d+:[A-Z]+\d+)"')


def _merged_ranges(data: bytes, sheet_path: str) -> list[tuple[int, int, int, int]]:
    """(min_row, max_row, min_col, max_col) of every merged range of the sheet."""
    import zipfile

    from openpyxl.utils.cell import range_boundaries

    if not sheet_path:
        return []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(sheet_path.lstrip("/"))
    ranges = []
    for ref in _MERGE_CELL.findall(xml):
        min_col, min_row, max_col, max_row = range_boundaries(ref.decode())
        if min_col is None or min_row is None or max_col is None or max_row is None:
            continue
        if max_row > min_row or max_col > min_col:
            ranges.append((min_row, max_row, min_col, max_col))
    return ranges


def _table_from_grid(grid: list[list[Any]], merged: Sequence[tuple[int, int, int, int]]) -> Table:
    header_at, columns = _find_header(grid)
    header_end = header_at
    second = _second_header_row(grid, header_at, columns)
    if second:
        header_end = header_at + 1
        for index, label in second.items():
            columns[index] = label
    fields: dict[int, str] = {}
    headers: dict[str, str] = {}
    for index, label in sorted(columns.items()):
        name = _FIELD_OF_HEADER.get(_header_key(label))
        if name is None or name in headers:
            continue
        fields[index] = name
        headers[name] = label
    if "title" not in headers and "content" not in headers:
        raise ImportFileError(_("表头中缺少“任务”列（也可为“任务名称”“工作内容”“项目”）"))
    if "lead" not in headers and "responsible" not in headers:
        raise ImportFileError(_("表头中缺少“牵头单位”或“责任单位”列（也可为“实施主体”）"))

    # A merged cell holds its value only in its top-left corner: copy it into the whole range,
    # the way a reader sees it (one 牵头单位 cell spanning three tasks applies to all three).
    wide_rows: dict[int, int] = {}
    for min_row, max_row, min_col, max_col in merged:
        if max_row <= header_end:
            continue
        top = max(min_row, header_end + 1)
        value = grid[min_row - 1][min_col - 1] if min_row - 1 < len(grid) else None
        for r in range(top, max_row + 1):
            if r - 1 >= len(grid):
                break
            row = grid[r - 1]
            for c in range(min_col, max_col + 1):
                if c - 1 < len(row):
                    row[c - 1] = value
            if max_col - min_col >= 2:
                wide_rows[r] = max_col - min_col + 1

    table = Table(headers=headers, rows=[])
    for number in range(header_end + 1, len(grid) + 1):
        raw = grid[number - 1]
        cells = {name: raw[i] for i, name in fields.items() if i < len(raw) and not _blank(raw[i])}
        filled = [v for v in raw if not _blank(v)]
        if not filled:
            continue
        # A section heading (（一）提升“平面”环境品质): one text merged across the row, or alone
        # in the first column, or numbered like a heading. A lone title elsewhere stays a task row,
        # so that a task whose units were forgotten is reported, not skipped.
        distinct = {_text(v) for v in filled}
        if len(distinct) == 1:
            text = next(iter(distinct))
            first = next(i for i, v in enumerate(raw) if not _blank(v))
            if number in wide_rows or (len(filled) == 1 and (first == 0 or _HEADING.match(text))):
                table.headings.append((number, text))
                continue
        table.rows.append((number, cells))
        if len(table.rows) > MAX_ROWS:
            raise ImportFileError(_("任务行超过%(n)d行，请分成几个文件导入") % {"n": MAX_ROWS})
    return table


def _find_header(grid: list[list[Any]]) -> tuple[int, dict[int, str]]:
    for number, raw in enumerate(grid[:MAX_HEADER_SCAN], start=1):
        labels = {i: _text(v) for i, v in enumerate(raw) if not _blank(v)}
        known = [label for label in labels.values() if _header_key(label) in _FIELD_OF_HEADER]
        if len(known) >= 2:
            return number, labels
    raise ImportFileError(
        _("前%(n)d行中找不到表头（需要“序号”“任务”“牵头单位”“责任单位”“完成时限”等列名）") % {"n": MAX_HEADER_SCAN}
    )


def _second_header_row(grid: list[list[Any]], header_at: int, columns: dict[int, str]) -> dict[int, str]:
    """Column labels from the row below the header when it continues it (责任分工 → 牵头单位 | 责任单位)."""
    if header_at >= len(grid):
        return {}
    below = {i: _text(v) for i, v in enumerate(grid[header_at]) if not _blank(v)}
    found: dict[int, str] = {}
    for index, label in below.items():
        if _header_key(label) not in _FIELD_OF_HEADER:
            return {}
        if _header_key(columns.get(index, "")) in _FIELD_OF_HEADER and columns.get(index) != label:
            return {}
        found[index] = label
    return found


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value).strip()


def _read_bytes(file: IO[bytes] | bytes | str | Path) -> bytes:
    if isinstance(file, bytes):
        return file
    if isinstance(file, (str, Path)):
        return Path(file).read_bytes()
    if hasattr(file, "seek"):
        file.seek(0)
    return file.read()


# --- Cell parsers (pure, no database) ---------------------------------------------------------------------

_SEPARATORS = re.compile(r"[、，,；;\n\r]+")
_NOTHING = re.compile(r"^[\s\-—–/／无暂无]*$")
_BRACKETS = re.compile(r"[\s()（）【】\[\]〔〕<>《》“”\"']")
ALL_VILLAGES = frozenset({"各村社区", "各村", "各社区", "各村居", "各村居委会", "各村社区居委会"})
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = r"\d+|[零〇一二两三四五六七八九十]{1,3}"


def split_names(value: Any) -> list[str]:
    """Unit or person names from one cell: separated by 、，, ；; or line breaks; 等 dropped."""
    names = []
    for part in _SEPARATORS.split(_text(value)):
        name = part.strip().removesuffix("等").strip()
        if name and not _NOTHING.match(name):
            names.append(name)
    return list(dict.fromkeys(names))


def normalise(name: str) -> str:
    """A name without spaces, brackets and quotes: "各村（社区）" and "各村(社区)" compare equal."""
    return _BRACKETS.sub("", name)


def is_all_villages(name: str) -> bool:
    """Whether a unit cell entry means every village (各村（社区）, 各社区, 各村…)."""
    return normalise(name) in ALL_VILLAGES


def cn_int(text: str) -> int:
    """An integer written in digits or in Chinese numerals up to 99 (一, 十二, 二十)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _sep, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_DATE_TOKEN = re.compile(
    r"(?P<full>(?P<fy>\d{4})\s*[年\-/.]\s*(?P<fm>\d{1,2})\s*[月\-/.]\s*(?P<fd>\d{1,2})\s*[日号]?)"
    r"|(?P<ym>(?P<yy>\d{4})\s*(?:年|[\-/.])\s*(?P<ymm>\d{1,2})\s*月?\s*(?P<ympart>底|末|上旬|中旬|下旬|份)?)"
    r"|(?P<yend>(?P<ey>\d{4})\s*年\s*(?:底|末|年底|年末|内)?)"
    rf"|(?P<md>(?P<mdm>{_CN_NUMBER})\s*月\s*(?P<mdd>{_CN_NUMBER})\s*[日号])"
    rf"|(?P<m>(?P<mm>{_CN_NUMBER})\s*月\s*(?P<mpart>底|末|上旬|中旬|下旬|份)?)"
    r"|(?P<half>(?P<hpart>上|下)半年)"
    r"|(?P<quarter>第?(?P<q>[一二三四1-4])季度)"
    r"|(?P<yearword>年底|年末|年内|全年)"
    r"|(?P<ongoing>长期|持续|常态)"
)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]")
_WINDOW = re.compile(r"^\s*(?:[-—–~～]+|至|到)\s*$")


@dataclass(frozen=True)
class Deadline:
    """A parsed 完成时限: the deadline and any milestones (date, percent) written with it."""

    deadline: date
    milestones: tuple[tuple[date, Decimal], ...] = ()
    # Set when the cell is a window ("2026年1月15日-2026年11月15日"): the task starts then.
    starts_on: date | None = None


class CellError(ValueError):
    """A cell that cannot be understood; the message is shown to the user."""


def parse_deadline(value: Any, *, starts_on: date, ends_on: date) -> Deadline | None:
    """A 完成时限 cell: a date, "3月底", "2026年底", "长期", or dated milestones ("3月底40%；6月底60%").

    Dates without a year fall in the plan's year: the first such day on or after the plan starts.
    Several dates mean milestones when percentages follow them; the deadline is the latest date.
    """
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return Deadline(value.date())
    if isinstance(value, date):
        return Deadline(value)
    if isinstance(value, (int, float)) and 30000 <= value <= 80000:
        from openpyxl.utils.datetime import from_excel

        return Deadline(from_excel(value).date())
    text = _text(value)
    tokens: list[tuple[int, int, date]] = []
    year: int | None = None
    for match in _DATE_TOKEN.finditer(text):
        try:
            day, year = _token_date(match, year, starts_on, ends_on)
        except (ValueError, KeyError) as exc:
            raise CellError(_("无法识别的日期“%(text)s”") % {"text": match.group(0)}) from exc
        tokens.append((match.start(), match.end(), day))
    if not tokens:
        raise CellError(
            _("无法识别的完成时限“%(text)s”（可写作 2026-03-31、2026年3月31日、3月底、年底）") % {"text": text}
        )
    milestones: list[tuple[date, Decimal]] = []
    for i, (_start, end, day) in enumerate(tokens):
        following = text[end : tokens[i + 1][0] if i + 1 < len(tokens) else len(text)]
        percent = _PERCENT.search(following)
        if percent:
            milestones.append((day, Decimal(percent.group(1))))
    deadline = max(day for _s, _e, day in tokens)
    # Only a real schedule makes milestones; a lone "12月底完成100%" is just the deadline.
    if not any(p < 100 for _d, p in milestones):
        milestones = []
    window_start = None
    if len(tokens) == 2 and not milestones and _WINDOW.match(text[tokens[0][1] : tokens[1][0]]):
        window_start = min(tokens[0][2], tokens[1][2])
    return Deadline(deadline, tuple(sorted(dict(milestones).items())), window_start)


def _in_plan_year(month: int, day: int, starts_on: date) -> date:
    candidate = date(starts_on.year, month, day)
    return candidate if candidate >= starts_on else date(starts_on.year + 1, month, day)


def _part_of_month(year: int, month: int, part: str | None) -> date:
    if part == "上旬":
        return date(year, month, 10)
    if part == "中旬":
        return date(year, month, 20)
    return _month_end(year, month)


def _token_date(match: re.Match[str], year: int | None, starts_on: date, ends_on: date) -> tuple[date, int | None]:
    """The date a token names, and the year later yearless tokens in the same cell should use."""
    g = match.group
    if g("full"):
        y = int(g("fy"))
        return date(y, int(g("fm")), int(g("fd"))), y
    if g("ym"):
        y = int(g("yy"))
        return _part_of_month(y, int(g("ymm")), g("ympart")), y
    if g("yend"):
        y = int(g("ey"))
        return date(y, 12, 31), y
    if g("md"):
        month, day = cn_int(g("mdm")), cn_int(g("mdd"))
        return (date(year, month, day) if year else _in_plan_year(month, day, starts_on)), year
    if g("m"):
        month = cn_int(g("mm"))
        if year:
            return _part_of_month(year, month, g("mpart")), year
        end = _part_of_month(starts_on.year, month, g("mpart"))
        if end < starts_on:
            end = _part_of_month(starts_on.year + 1, month, g("mpart"))
        return end, year
    y = year or starts_on.year
    if g("half"):
        return (date(y, 6, 30) if g("hpart") == "上" else date(y, 12, 31)), year
    if g("quarter"):
        quarter = cn_int(g("q"))
        return _month_end(y, quarter * 3), year
    if g("yearword"):
        return date(y, 12, 31), year
    return ends_on, year  # 长期 / 持续 / 常态: for as long as the plan runs


@dataclass(frozen=True)
class TargetDraft:
    """A target read from the 目标 column, before it becomes a services.TargetSpec."""

    kind: str
    name: str
    quota_count: int | None = None
    quota_period: str = ""
    comparator: str = ""
    value: Decimal | None = None
    unit_label: str = ""


_PERIODS = {
    "周": QuotaPeriod.WEEK,
    "星期": QuotaPeriod.WEEK,
    "月": QuotaPeriod.MONTH,
    "季度": QuotaPeriod.QUARTER,
    "季": QuotaPeriod.QUARTER,
    "年": QuotaPeriod.YEAR,
}
_PERIOD_WORDS = {
    QuotaPeriod.WEEK: "每周",
    QuotaPeriod.MONTH: "每月",
    QuotaPeriod.QUARTER: "每季度",
    QuotaPeriod.YEAR: "每年",
    QuotaPeriod.TOTAL: "累计",
}
_FILLER = r"(?:至少|不少于|不低于|最少|开展|组织|召开|举办|进行|举行|更新|走访|检查|安排|完成|要|应|均|需)*"
_QUOTA = re.compile(
    rf"(?:每\s*(?P<period>周|星期|月|季度|季|年)|(?P<total>累计|共计|全程))\s*{_FILLER}\s*"
    rf"(?P<count>{_CN_NUMBER})\s*(?:次|场|期|回|个|项|批)"
)
_COMPARATORS: dict[str, str] = {
    "≥": Comparator.GTE,
    ">=": Comparator.GTE,
    "＞": Comparator.GTE,
    ">": Comparator.GTE,
    "不低于": Comparator.GTE,
    "不少于": Comparator.GTE,
    "不小于": Comparator.GTE,
    "达到": Comparator.GTE,
    "达": Comparator.GTE,
    "超过": Comparator.GTE,
    "大于": Comparator.GTE,
    "高于": Comparator.GTE,
    "≤": Comparator.LTE,
    "<=": Comparator.LTE,
    "＜": Comparator.LTE,
    "<": Comparator.LTE,
    "不高于": Comparator.LTE,
    "不超过": Comparator.LTE,
    "不大于": Comparator.LTE,
    "低于": Comparator.LTE,
    "小于": Comparator.LTE,
    "控制在": Comparator.LTE,
    "=": Comparator.EQ,
    "＝": Comparator.EQ,
    "为": Comparator.EQ,
}
_UNIT_LABELS = r"%|％|个|次|人|户|家|处|所|座|条|项|辆|吨|亩|公里|千米|米|平方米|㎡|万元|元"
_INDICATOR = re.compile(
    r"^(?P<name>.*?)\s*(?P<cmp>"
    + "|".join(re.escape(c) for c in sorted(_COMPARATORS, key=len, reverse=True))
    + rf")?\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>{_UNIT_LABELS})?\s*(?P<tail>及以上|以上|及以下|以下)?$"
)
_TARGET_PIECES = re.compile(r"[；;\n\r，,。]+")


def parse_targets(value: Any) -> tuple[list[TargetDraft], list[str]]:
    """Targets from a 目标 cell, and the pieces that are not one (they go into the content).

    "≥35%", "生活垃圾回收利用率不低于35%", "100%" are indicators; "每周至少开展一次", "每年不少于1次"
    are quotas.
    """
    drafts: list[TargetDraft] = []
    leftover: list[str] = []
    for piece in _TARGET_PIECES.split(_text(value)):
        piece = piece.strip()
        if not piece:
            continue
        draft = parse_target(piece)
        if draft is not None:
            drafts.append(draft)
            continue
        parts = [p.strip() for p in piece.split("、") if p.strip()]
        sub = [parse_target(p) for p in parts] if len(parts) > 1 else []
        if sub and all(d is not None for d in sub):
            drafts.extend(d for d in sub if d is not None)
        else:
            leftover.append(piece)
    return drafts, leftover


def parse_target(text: str) -> TargetDraft | None:
    """One target phrase as a quota or an indicator; None when it is neither."""
    quota = _QUOTA.search(text)
    if quota:
        period = QuotaPeriod.TOTAL if quota.group("total") else _PERIODS[quota.group("period")]
        name = (text[: quota.start()] + text[quota.end() :]).strip(" ：:，,。")
        return TargetDraft(
            kind=TargetKind.QUOTA, name=name[:120], quota_count=cn_int(quota.group("count")), quota_period=period
        )
    match = _INDICATOR.match(text.strip().rstrip("。"))
    if not match:
        return None
    comparator = _COMPARATORS.get(match.group("cmp") or "", Comparator.GTE)
    tail = match.group("tail") or ""
    if "以下" in tail:
        comparator = Comparator.LTE
    try:
        number = Decimal(match.group("value"))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None
    unit_label = (match.group("unit") or "").replace("％", "%")
    name = match.group("name").strip(" ：:")
    if name and not re.search(r"[\u4e00-\u9fffA-Za-z]", name):
        return None
    return TargetDraft(
        kind=TargetKind.INDICATOR, name=name[:120], comparator=comparator, value=number, unit_label=unit_label
    )


def format_target(kind: str, name: str, **values: Any) -> str:
    """A target written back so that :func:`parse_target` reads it again (export)."""
    if kind == TargetKind.QUOTA:
        return f"{name}{_PERIOD_WORDS[values['quota_period']]}不少于{values['quota_count']}次"
    symbol = {Comparator.GTE: "≥", Comparator.LTE: "≤", Comparator.EQ: "="}[values["comparator"]]
    return f"{name}{symbol}{_number(values['value'])}{values.get('unit_label', '')}"


def _number(value: Any) -> str:
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_LEADING_NUMBER = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)*(?=[.、．])|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+(?=、))[.、．]?\s*"
)


def split_title(text: str) -> tuple[str, str, str]:
    """(number, title, content) from a task cell that may be a whole paragraph.

    "1. 整治环境卫生。在街道全域范围内……" gives ("1", "整治环境卫生", "在街道全域范围内……").
    """
    text = text.strip()
    number = ""
    match = _LEADING_NUMBER.match(text)
    if match:
        number = match.group("n").strip("（）()")
        text = text[match.end() :].strip()
    parts = re.split(r"[。；;\n]", text, maxsplit=1)
    if len(parts) == 2 and parts[1].strip() and len(parts[0]) <= 60:
        return number, parts[0].strip(), parts[1].strip()
    if len(text) <= TITLE_MAX:
        return number, text, ""
    return number, text[:60].rstrip() + "…", text


# --- Matching names to units and accounts -------------------------------------------------------------


def _closeness(region_path: str, home: Region) -> int | None:
    """How near a region is to the plan's: 0 itself, 1.. its ancestors, 50.. below it, None unrelated."""
    depth = region_path.count("/") - 2
    if region_path == home.path:
        return 0
    if home.path.startswith(region_path):
        return home.depth - depth
    if region_path.startswith(home.path):
        return 50 + depth - home.depth
    return None


def _region_chain_q(region: Region, field_name: str) -> Q:
    codes = [c for c in region.path.strip("/").split("/") if c]
    return subtree_q(region.path, f"{field_name}__path") | Q(**{f"{field_name}__code__in": codes})


class UnitIndex:
    """The units an import may name: visible to the actor, in the plan's region, above or below it."""

    def __init__(self, *, actor: Any, region: Region) -> None:
        units = list(
            Unit.objects.visible_to(actor)
            .filter(_region_chain_q(region, "region"), is_active=True)
            .select_related("region")
        )
        self.rank: dict[int, int] = {}
        # Tried in order: the name, the short name, the name without spaces and brackets, the
        # name without its region's prefix (甲镇党政办 → 党政办), and a village's own name for
        # its 村委会/居委会 (实施主体 "甲村" in a 整治项目清单).
        self.tiers: list[dict[str, list[Unit]]] = [{}, {}, {}, {}, {}]
        self.names: list[str] = []
        for unit in units:
            rank = _closeness(unit.region.path, region)
            if rank is None:
                continue
            self.rank[unit.pk] = rank
            keys = [
                unit.name,
                unit.short_name,
                normalise(unit.name),
                normalise(unit.name.removeprefix(unit.region.name)) if unit.name != unit.region.name else "",
                normalise(unit.region.name)
                if unit.kind in (UnitKind.VILLAGE_COMMITTEE, UnitKind.RESIDENTS_COMMITTEE)
                else "",
            ]
            for tier, key in zip(self.tiers, keys, strict=True):
                if key:
                    tier.setdefault(key, []).append(unit)
            self.names.append(unit.name)
            if unit.short_name:
                self.names.append(unit.short_name)
        self.names = list(dict.fromkeys(self.names))

    def find(self, name: str) -> Unit:
        """The unit a name means; CellError (with suggestions) when none or several fit."""
        keys = [name, name, normalise(name), normalise(name), normalise(name)]
        for tier, key in zip(self.tiers, keys, strict=True):
            found = tier.get(key)
            if found:
                return _nearest(found, self.rank, name, lambda u: f"{u.name}（{u.region.name}）")
        suggestions = difflib.get_close_matches(name, self.names, n=3, cutoff=0.5)
        if suggestions:
            raise CellError(
                _("未找到单位“%(name)s”，是否为：%(suggestions)s？")
                % {"name": name, "suggestions": "、".join(suggestions)}
            )
        raise CellError(_("未找到单位“%(name)s”，请核对名称或先在系统中添加该单位") % {"name": name})


def _nearest(found: list[Any], rank: Mapping[int, int], name: str, describe: Any) -> Any:
    best = min(rank[x.pk] for x in found)
    nearest = [x for x in found if rank[x.pk] == best]
    if len(nearest) == 1:
        return nearest[0]
    raise CellError(
        _("“%(name)s”对应多个：%(choices)s，请写明全称")
        % {"name": name, "choices": "、".join(sorted(describe(x) for x in nearest))}
    )


_QUALIFIER = re.compile(r"^(?P<name>[^（(]+)[（(](?P<qualifier>[^）)]*)[）)]$")


class PeopleIndex:
    """Accounts an import may name as 责任领导/责任人: active members in, above or below the plan's region."""

    def __init__(self, *, region: Region) -> None:
        self.by_name: dict[str, list[User]] = {}
        self.rank: dict[int, int] = {}
        self.qualifiers: dict[int, set[str]] = {}
        memberships = (
            Membership.objects.filter(_region_chain_q(region, "region"), is_active=True, user__is_active=True)
            .select_related("user__person", "unit", "region")
            .order_by("pk")
        )
        users: dict[int, User] = {}
        for m in memberships:
            rank = _closeness(m.region.path, region)
            if rank is None:
                continue
            user = users.setdefault(m.user_id, m.user)
            self.rank[user.pk] = min(rank, self.rank.get(user.pk, rank))
            qualifiers = self.qualifiers.setdefault(user.pk, set())
            qualifiers.update(q for q in (m.title, m.region.name) if q)
            if m.unit is not None:
                qualifiers.update(q for q in (m.unit.name, m.unit.short_name) if q)
        for user in users.values():
            names = {user.display_name, user.person.name if user.person else ""}
            for name in {normalise(n) for n in names if n}:
                self.by_name.setdefault(name, []).append(user)
        self.names = sorted(self.by_name)

    def find(self, text: str) -> User:
        """The account a name means ("张三", or "张三（甲镇党政办）" to tell two 张三 apart)."""
        qualifier = ""
        match = _QUALIFIER.match(text)
        if match:
            text, qualifier = match.group("name").strip(), match.group("qualifier").strip()
        found = self.by_name.get(normalise(text), [])
        if qualifier:
            found = [u for u in found if any(qualifier in q or q in qualifier for q in self.qualifiers[u.pk])] or found
        if found:
            return _nearest(found, self.rank, text, lambda u: f"{text}（{'、'.join(sorted(self.qualifiers[u.pk]))}）")
        suggestions = difflib.get_close_matches(normalise(text), self.names, n=3, cutoff=0.5)
        hint = _("是否为：%(s)s？") % {"s": "、".join(suggestions)} if suggestions else _("需为本区域内已有账号的人员")
        raise CellError(_("未找到人员“%(name)s”，%(hint)s") % {"name": text, "hint": hint})


# --- The import ------------------------------------------------------------------------------------------


@dataclass
class TaskRow:
    """One validated row, ready for ``services.task_create``."""

    row: int
    number: str
    title: str
    content: str
    phase: Phase | None
    starts_on: date
    deadline: date
    units: dict[str, list[Unit]]
    people: dict[str, list[User]]
    fan_out: bool
    targets: list[TargetDraft]
    milestones: list[tuple[date, Decimal]]


class _RowReader:
    """Turns table rows into TaskRows, collecting every problem instead of stopping at the first."""

    def __init__(self, *, actor: Any, plan: Plan, table: Table) -> None:
        self.plan = plan
        self.table = table
        self.units = UnitIndex(actor=actor, region=plan.region)
        self.people = PeopleIndex(region=plan.region) if {"leader", "person"} & set(table.headers) else None
        self.phases = {normalise(p.name): p for p in plan.phases.all()}
        self.errors: list[RowError] = []

    def error(self, row: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(row, self.table.headers.get(field_name, ""), message))

    def read(self) -> list[TaskRow]:
        result: list[TaskRow] = []
        headings = iter(self.table.headings)
        heading = next(headings, None)
        current_phase: Phase | None = None
        for number, cells in self.table.rows:
            # A heading row naming a phase (（一）部署启动阶段) puts the tasks under it in that phase.
            while heading is not None and heading[0] < number:
                current_phase = self._phase_of_heading(heading[1]) or current_phase
                heading = next(headings, None)
            task_row = self.read_row(number, cells, current_phase)
            if task_row is not None:
                result.append(task_row)
        return result

    def _phase_of_heading(self, text: str) -> Phase | None:
        key = normalise(text)
        for name, phase in self.phases.items():
            if name and name in key:
                return phase
        return None

    def read_row(self, row: int, cells: Mapping[str, Any], current_phase: Phase | None) -> TaskRow | None:
        """One row as a TaskRow, or None after recording each of its problems."""
        before = len(self.errors)
        number, title, content_parts = self._title(row, cells)
        phase = self._phase(row, cells, current_phase)
        units, fan_out = self._units(row, cells)
        people = self._people(row, cells)
        dates = self._dates(row, cells, phase)
        drafts, leftover = parse_targets(cells.get("target"))
        targets = [d if d.name else _named(d, title) for d in drafts]
        if leftover:
            content_parts.append(_("目标：%(text)s") % {"text": "；".join(leftover)})
        if len(self.errors) > before or dates is None:
            return None
        starts_on, deadline, milestones = dates
        return TaskRow(
            row=row,
            number=number[:20],
            title=title[:TITLE_MAX],
            content="\n".join(content_parts),
            phase=phase,
            starts_on=starts_on,
            deadline=deadline,
            units=units,
            people=people,
            fan_out=fan_out,
            targets=targets,
            milestones=milestones,
        )

    def _title(self, row: int, cells: Mapping[str, Any]) -> tuple[str, str, list[str]]:
        """Number, title and content lines (工作内容, 建设规模, 资金来源, 备注)."""
        title_cell = _text(cells.get("title"))
        content_cell = _text(cells.get("content"))
        if title_cell:
            number, title, extra = split_title(title_cell)
            content_parts = [p for p in (extra, content_cell) if p]
        else:
            # Only a 工作内容 column: its first sentence is the title.
            number, title, extra = split_title(content_cell)
            content_parts = [extra] if extra else []
        if not title:
            self.error(row, "title" if "title" in self.table.headers else "content", _("任务名称不能为空"))
        for name, label in (("scale", "建设规模"), ("funding", "资金来源"), ("remark", "备注")):
            value = _text(cells.get(name))
            if value:
                content_parts.append(f"{label}：{value}")
        return _text(cells.get("number")) or number, title, content_parts

    def _phase(self, row: int, cells: Mapping[str, Any], current_phase: Phase | None) -> Phase | None:
        phase_text = _text(cells.get("phase"))
        if not phase_text:
            return current_phase
        phase = self.phases.get(normalise(phase_text))
        if phase is None:
            suggestions = difflib.get_close_matches(phase_text, [p.name for p in self.phases.values()], n=3)
            hint = _("，是否为：%(s)s？") % {"s": "、".join(suggestions)} if suggestions else ""
            self.error(row, "phase", _("方案中没有阶段“%(name)s”%(hint)s") % {"name": phase_text, "hint": hint})
        return phase

    def _units(self, row: int, cells: Mapping[str, Any]) -> tuple[dict[str, list[Unit]], bool]:
        """Units by role, and whether 各村（社区） asks for a fan-out."""
        units: dict[str, list[Unit]] = {}
        fan_out = False
        named_any = False
        for field_name, role in UNIT_FIELDS.items():
            for name in split_names(cells.get(field_name)):
                named_any = True
                if is_all_villages(name):
                    if field_name == "responsible":
                        fan_out = True
                    else:
                        self.error(row, field_name, _("“%(name)s”只能写在责任单位列") % {"name": name})
                    continue
                try:
                    units.setdefault(role, []).append(self.units.find(name))
                except CellError as exc:
                    self.error(row, field_name, str(exc))
        if not named_any:
            field_name = "responsible" if "responsible" in self.table.headers else "lead"
            self.error(row, field_name, _("请填写牵头单位或责任单位"))
        return units, fan_out

    def _people(self, row: int, cells: Mapping[str, Any]) -> dict[str, list[User]]:
        people: dict[str, list[User]] = {}
        if self.people is None:
            return people
        for field_name, role in PEOPLE_FIELDS.items():
            for name in split_names(cells.get(field_name)):
                try:
                    people.setdefault(role, []).append(self.people.find(name))
                except CellError as exc:
                    self.error(row, field_name, str(exc))
        return people

    def _date_cell(
        self, row: int, cells: Mapping[str, Any], field_name: str, bounds: Mapping[str, date]
    ) -> Deadline | Literal[False] | None:
        """The parsed cell, None when empty, False (and an error recorded) when unreadable."""
        try:
            return parse_deadline(cells.get(field_name), **bounds)
        except CellError as exc:
            self.error(row, field_name, str(exc))
            return False

    def _dates(
        self, row: int, cells: Mapping[str, Any], phase: Phase | None
    ) -> tuple[date, date, list[tuple[date, Decimal]]] | None:
        """Start, deadline and milestones; without a 完成时限 the task runs as long as the plan."""
        plan = self.plan
        bounds = {"starts_on": plan.starts_on, "ends_on": plan.ends_on}
        parsed = self._date_cell(row, cells, "deadline", bounds)
        start = self._date_cell(row, cells, "starts_on", bounds)
        if parsed is False or start is False:
            return None
        deadline = parsed.deadline if parsed else plan.ends_on
        milestones = list(parsed.milestones) if parsed else []
        if start is not None:
            starts_on = start.starts_on or start.deadline
        elif parsed is not None and parsed.starts_on is not None:
            starts_on = parsed.starts_on
        elif phase is not None and plan.starts_on <= phase.starts_on <= deadline:
            starts_on = phase.starts_on
        else:
            starts_on = plan.starts_on
        start_column = "starts_on" if "starts_on" in self.table.headers else "deadline"
        if deadline > plan.ends_on or deadline < plan.starts_on:
            self.error(
                row,
                "deadline",
                _("完成时限%(date)s不在方案起止日期（%(start)s至%(end)s）之内")
                % {
                    "date": f"{deadline:%Y-%m-%d}",
                    "start": f"{plan.starts_on:%Y-%m-%d}",
                    "end": f"{plan.ends_on:%Y-%m-%d}",
                },
            )
            return None
        if starts_on > deadline or starts_on < plan.starts_on:
            self.error(
                row,
                start_column,
                _("开始时间%(date)s应在方案开始之后、完成时限之前") % {"date": f"{starts_on:%Y-%m-%d}"},
            )
            return None
        early = [d for d, _p in milestones if d < starts_on]
        if early:
            self.error(row, "deadline", _("时间节点%(date)s早于任务开始日期") % {"date": f"{early[0]:%Y-%m-%d}"})
            return None
        return starts_on, deadline, milestones


def _named(draft: TargetDraft, title: str) -> TargetDraft:
    """A target written without a name ("≥35%") is named after its task."""
    return TargetDraft(
        kind=draft.kind,
        name=title[:120] or _("目标"),
        quota_count=draft.quota_count,
        quota_period=draft.quota_period,
        comparator=draft.comparator,
        value=draft.value,
        unit_label=draft.unit_label,
    )


def plan_import(
    *,
    actor: Any,
    plan: Plan,
    file: IO[bytes] | bytes | str | Path,
    filename: str,
    new_plan: bool = False,
) -> ImportResult:
    """Imports a task table (xlsx) into a plan: every row or none, every problem listed by row.

    Raises PermissionDenied when the actor may not add tasks to the plan at all; everything
    about the file's content comes back as ``ImportResult.errors``.

    The same file is imported once per plan (``core.concurrency.claim_import``, in the import's
    transaction): a parallel or repeated upload answers "该文件已导入" and writes nothing. With
    ``new_plan`` (the plan was just created for this file) the key is the plan's region instead,
    so two parallel "new plan from this file" uploads do not make two plans.
    """
    from cocreate.core.services import require

    require(actor, access.CREATE, Task(plan=plan, region=plan.region))
    if Path(filename).suffix.lower() not in (".xlsx", ".xlsm"):
        return ImportResult(errors=[RowError(0, "", _("只支持 xlsx 文件（可在表格软件中另存为 .xlsx）"))])
    try:
        data = _read_bytes(file)
        table = read_table(data)
    except ImportFileError as exc:
        return ImportResult(errors=[RowError(0, "", str(exc))])
    if not table.rows:
        return ImportResult(errors=[RowError(0, "", _("表头下没有任务行"))])
    target = f"region:{plan.region_id}" if new_plan else f"plan:{plan.pk}"
    try:
        return _import_rows(actor=actor, plan=plan, table=table, claim=(target, data, filename))
    except AlreadyImported as exc:
        return ImportResult(errors=[RowError(0, "", exc.message)])


@transaction.atomic
def _import_rows(*, actor: Any, plan: Plan, table: Table, claim: tuple[str, bytes, str]) -> ImportResult:
    target, data, filename = claim
    # First, so a parallel import of the same file waits here and then writes nothing.
    claim_import(kind="plan_tasks", target=target, data=data, filename=filename, actor=actor, note=f"plan:{plan.pk}")
    reader = _RowReader(actor=actor, plan=plan, table=table)
    rows = reader.read()
    if reader.errors:
        transaction.set_rollback(True)  # nothing imported: the file may come again, corrected or not
        return ImportResult(errors=_sorted(reader.errors, table))
    checked, errors = _check_with_services(actor=actor, plan=plan, rows=rows, table=table)
    if errors:
        transaction.set_rollback(True)
        return ImportResult(errors=_sorted(errors, table))
    return ImportResult(created_tasks=_write_rows(actor=actor, plan=plan, rows=checked))


# --- Writing in bulk ---------------------------------------------------------------------------------------
#
# services.task_create writes one task in about a dozen queries (full_clean, history, matrix,
# targets), so a 10,000-row table would take half a minute. The import therefore checks every row
# with the services' own rules (the same helper functions task_create calls) and then inserts each
# kind of record in batches. What it writes must stay what task_create writes for the same input:
# test_import_writes_what_task_create_writes compares the two record by record.


@dataclass
class _CheckedRow:
    row: TaskRow
    task: Task  # unsaved
    targets: list[Any]  # services.TargetSpec


def _check_with_services(
    *, actor: Any, plan: Plan, rows: Sequence[TaskRow], table: Table
) -> tuple[list[_CheckedRow], list[RowError]]:
    """Every rule task_create applies, row by row, without writing; all problems collected."""
    from cocreate.core.models import RegionLevel
    from cocreate.core.services import require
    from cocreate.plans import services

    # Every top-level task lies in the plan's region: task_create's permission check is the same for all.
    require(actor, access.CREATE, Task(plan=plan, region=plan.region))
    errors: list[RowError] = []
    checked: list[_CheckedRow] = []
    fan_out_error: ValidationError | None = None
    if any(r.fan_out for r in rows):
        if plan.region.level >= RegionLevel.VILLAGE:
            fan_out_error = ValidationError({"fan_out": _("只有村（社区）以上的方案才能分解到各村（社区）")})
        else:
            try:
                _fan_out_targets(plan)
            except ValidationError as exc:
                fan_out_error = exc
    try:
        services._require_visible_units(actor, {u for r in rows for units in r.units.values() for u in units})
    except ValidationError as exc:  # pragma: no cover - the unit index only offers visible units
        return [], _service_errors(0, exc, table)
    for row in rows:
        try:
            task = _task_of(plan, row)
            if not task.title:
                raise ValidationError({"title": _("任务名称不能为空")})
            if task.deadline < task.starts_on:
                raise ValidationError({"deadline": _("完成时限不能早于开始日期")})
            if task.starts_on < plan.starts_on or task.deadline > plan.ends_on:
                raise ValidationError({"deadline": _("任务日期必须在方案起止日期之内")})
            # Field rules (lengths, ranges); the foreign keys were resolved by the import itself.
            task.clean_fields(exclude=["plan", "phase", "parent", "region"])
            specs = [services.TargetSpec(**vars(t)) for t in row.targets]
            for spec in specs:
                services._check_target_spec(spec)
                _target_of(task, spec).clean_fields(exclude=["task"])
            services._check_milestones(row.milestones, row.starts_on, row.deadline)
            if row.fan_out and fan_out_error is not None:
                raise fan_out_error
        except ValidationError as exc:
            errors.extend(_service_errors(row.row, exc, table))
            continue
        checked.append(_CheckedRow(row=row, task=task, targets=specs))
    return checked, errors


def _fan_out_targets(plan: Plan) -> list[tuple[Region, Unit]]:
    """The villages a 各村（社区） task fans out to, each with its committee (the services' rule)."""
    from cocreate.plans import services

    villages = services._villages_under(plan.region)
    if not villages:
        raise ValidationError({"fan_out": _("实施区域内没有村（社区）")})
    committees = services._committees_by_region(villages)
    missing = [v.name for v in villages if v.pk not in committees]
    if missing:
        raise ValidationError(
            {"fan_out": _("以下村（社区）还没有村（居）委会单位：%(names)s") % {"names": "、".join(missing)}}
        )
    return [(v, committees[v.pk]) for v in villages]


def _task_of(plan: Plan, row: TaskRow, *, parent: Task | None = None, region: Region | None = None) -> Task:
    # Ids rather than instances: setting a relation through its descriptor costs more than the
    # insert itself when there are tens of thousands of rows.
    return Task(
        plan_id=plan.pk,
        phase_id=row.phase.pk if row.phase else None,
        parent_id=parent.pk if parent else None,
        region_id=(region or plan.region).pk,
        number=row.number.strip(),
        title=row.title.strip(),
        content=row.content.strip(),
        starts_on=row.starts_on,
        deadline=row.deadline,
        fans_out=row.fan_out and parent is None,
    )


def _insert(model: type[Model], field_names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Plain INSERTs for rows without history or signals (TaskUnit, TaskPerson, Milestone).

    The ORM's bulk_create spends more time building each row's SQL than the database spends
    storing it; with 35,000 matrix rows for a 10,000-task table that is seconds. Values go
    through each field's get_db_prep_save, as the ORM would send them.
    """
    if not rows:
        return
    fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in field_names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Table and column names come from the model's metadata, never from the file; values are parameters.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608  # nosec B608
    # Ids, texts and small integers go to both drivers as they are; dates and decimals are adapted.
    plain = [isinstance(f, (ForeignKey, CharField, IntegerField)) for f in fields]
    if all(plain):
        prepared: Sequence[tuple[Any, ...]] = rows
    else:
        prepared = [
            tuple(v if p else f.get_db_prep_save(v, connection) for f, p, v in zip(fields, plain, row, strict=True))
            for row in rows
        ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def _target_of(task: Task, spec: Any) -> Target:
    return Target(
        task_id=task.pk,
        kind=spec.kind,
        name=spec.name.strip(),
        quota_count=spec.quota_count,
        quota_period=spec.quota_period,
        comparator=spec.comparator,
        value=spec.value,
        unit_label=spec.unit_label.strip(),
    )


def _write_rows(*, actor: Any, plan: Plan, rows: Sequence[_CheckedRow]) -> list[Task]:
    """Inserts the checked rows: tasks, then children, then matrix, people, targets, milestones."""
    from simple_history.utils import bulk_create_with_history

    batch = 2000
    user = actor if getattr(actor, "pk", None) else None
    tops = bulk_create_with_history([c.task for c in rows], Task, batch_size=batch, default_user=user)
    villages = _fan_out_targets(plan) if any(c.row.fan_out for c in rows) else []
    # (task, its row, the committee of a child) for every task written, parents first.
    written: list[tuple[Task, _CheckedRow, Unit | None]] = [(t, c, None) for t, c in zip(tops, rows, strict=True)]
    child_rows = [
        (_task_of(plan, c.row, parent=top, region=village), c, committee)
        for top, c in zip(tops, rows, strict=True)
        if c.row.fan_out
        for village, committee in villages
    ]
    children = bulk_create_with_history([t for t, _c, _u in child_rows], Task, batch_size=batch, default_user=user)
    written += [(child, c, u) for child, (_t, c, u) in zip(children, child_rows, strict=True)]

    task_units: list[tuple[Any, ...]] = []
    task_people: list[tuple[Any, ...]] = []
    targets: list[Target] = []
    milestones: list[tuple[Any, ...]] = []
    for task, c, committee in written:
        if committee is not None:
            task_units.append((task.pk, committee.pk, UnitRole.RESPONSIBLE.value, 0))
        else:
            task_units += [
                (task.pk, unit.pk, str(role), i)
                for role, units in c.row.units.items()
                for i, unit in enumerate(dict.fromkeys(units))
            ]
            task_people += [
                (task.pk, person.pk, str(role))
                for role, people in c.row.people.items()
                for person in dict.fromkeys(people)
            ]
        targets += [_target_of(task, spec) for spec in c.targets]
        milestones += [(task.pk, d, Decimal(p).quantize(Decimal("0.01"))) for d, p in c.row.milestones]
    _insert(TaskUnit, ("task", "unit", "role", "order"), task_units)
    _insert(TaskPerson, ("task", "user", "role"), task_people)
    _insert(Milestone, ("task", "due_on", "percent"), milestones)
    bulk_create_with_history(targets, Target, batch_size=batch, default_user=user)
    return list(tops)


def _service_errors(row: int, exc: ValidationError, table: Table) -> list[RowError]:
    if hasattr(exc, "error_dict"):
        return [
            RowError(row, table.headers.get(_SERVICE_FIELDS.get(name, ""), ""), message)
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [RowError(row, "", message) for message in exc.messages]


def _sorted(errors: Iterable[RowError], table: Table) -> list[RowError]:
    order = {label: i for i, label in enumerate(table.headers.values())}
    return sorted(errors, key=lambda e: (e.row, order.get(e.column, -1)))


# --- The export -------------------------------------------------------------------------------------------

EXPORT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("任务", 28),
    ("工作内容", 40),
    ("阶段", 12),
    ("牵头单位", 18),
    ("责任单位", 24),
    ("配合单位", 18),
    ("指导单位", 18),
    ("责任领导", 10),
    ("责任人", 10),
    ("完成时限", 14),
    ("目标", 24),
    ("进度", 8),
    ("亮灯", 8),
)
DEADLINE_COLUMN = 1 + [c for c, _w in EXPORT_COLUMNS].index("完成时限")
VILLAGE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6),
    ("任务", 28),
    ("村（社区）", 14),
    ("责任单位", 20),
    ("完成时限", 12),
    ("进度", 8),
    ("亮灯", 8),
    ("说明", 28),
)
LIGHT_FILLS = {
    "green": "C6EFCE",
    "yellow": "FFEB9C",
    "red": "FFC7CE",
    "blue": "BDD7EE",
    "done": "D9D9D9",
    "not_started": "FFFFFF",
}
ALL_VILLAGES_LABEL = "各村（社区）"


def plan_export(*, user: Any, plan: Plan, today: date | None = None) -> bytes:
    """The plan's tasks as xlsx, in the layout the import reads, with computed progress and lights.

    Sheet 任务清单 holds the tasks as issued (a fanned-out task shows 各村（社区）); sheet
    分村进度 holds each village's child task. Only tasks the user may see are written.
    """
    from openpyxl import Workbook

    from cocreate.plans.status import task_light

    if not Plan.objects.visible_to(user).filter(pk=plan.pk).exists():
        raise PermissionDenied(_("无权查看该方案"))
    today = today or timezone.localdate()
    visible = (
        Task.objects.visible_to(user)
        .filter(plan=plan)
        .select_related("plan", "phase", "region")
        .prefetch_related(
            Prefetch("task_units", queryset=TaskUnit.objects.select_related("unit").order_by("role", "order", "id")),
            Prefetch("task_people", queryset=TaskPerson.objects.select_related("user__person").order_by("id")),
            "targets",
            "milestones",
        )
        .order_by("id")
    )
    tasks = list(visible)
    ids = {t.pk for t in tasks}
    # Village users see their child tasks but not the town's parent: theirs are listed as tasks.
    top = [t for t in tasks if t.parent_id is None or t.parent_id not in ids]
    children: dict[int, list[Task]] = {}
    for t in tasks:
        if t.parent_id in ids:
            children.setdefault(t.parent_id, []).append(t)

    book = Workbook()
    sheet = book.active
    sheet.title = "任务清单"
    sheet.append([c for c, _w in EXPORT_COLUMNS])
    for task in top:
        status = task_light(task, today)
        sheet.append([*_task_cells(task, fan_out=task.fans_out), float(task.progress) / 100, status.label])
        _light_cell(sheet.cell(row=sheet.max_row, column=len(EXPORT_COLUMNS)), status.light)
        sheet.cell(row=sheet.max_row, column=len(EXPORT_COLUMNS) - 1).number_format = "0%"
        sheet.cell(row=sheet.max_row, column=DEADLINE_COLUMN).number_format = "yyyy-mm-dd"
    _style(sheet, EXPORT_COLUMNS)

    if children:
        villages = book.create_sheet("分村进度")
        villages.append([c for c, _w in VILLAGE_COLUMNS])
        for task in top:
            for child in children.get(task.pk, []):
                status = task_light(child, today)
                units = "、".join(tu.unit.name for tu in child.task_units.all() if tu.role == UnitRole.RESPONSIBLE)
                villages.append(
                    [
                        child.number,
                        child.title,
                        child.region.name,
                        units,
                        child.deadline,
                        float(child.progress) / 100,
                        status.label,
                        status.reason,
                    ]
                )
                _light_cell(villages.cell(row=villages.max_row, column=7), status.light)
                villages.cell(row=villages.max_row, column=5).number_format = "yyyy-mm-dd"
                villages.cell(row=villages.max_row, column=6).number_format = "0%"
        _style(villages, VILLAGE_COLUMNS)

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _task_cells(task: Task, *, fan_out: bool) -> list[Any]:
    by_role: dict[str, list[str]] = {}
    for tu in task.task_units.all():
        by_role.setdefault(tu.role, []).append(tu.unit.name)
    if fan_out:
        by_role.setdefault(UnitRole.RESPONSIBLE, []).append(ALL_VILLAGES_LABEL)
    people: dict[str, list[str]] = {}
    for tp in task.task_people.all():
        people.setdefault(tp.role, []).append(str(tp.user))
    deadline: date | str = task.deadline
    milestones = list(task.milestones.all())
    if milestones:
        schedule = "；".join(f"{m.due_on:%Y-%m-%d}完成{_number(m.percent)}%" for m in milestones)
        deadline = f"{task.deadline:%Y-%m-%d}（{schedule}）"
    targets = "；".join(
        format_target(
            t.kind,
            t.name,
            quota_count=t.quota_count,
            quota_period=t.quota_period,
            comparator=t.comparator,
            value=t.value,
            unit_label=t.unit_label,
        )
        for t in task.targets.all()
    )
    return [
        task.number,
        task.title,
        task.content,
        task.phase.name if task.phase else "",
        "、".join(by_role.get(UnitRole.LEAD, [])),
        "、".join(by_role.get(UnitRole.RESPONSIBLE, [])),
        "、".join(by_role.get(UnitRole.COOPERATING, [])),
        "、".join(by_role.get(UnitRole.GUIDING, [])),
        "、".join(people.get(PersonRole.LEADER, [])),
        "、".join(people.get(PersonRole.RESPONSIBLE, [])),
        deadline,
        targets,
    ]


def _light_cell(cell: Any, light: str) -> None:
    from openpyxl.styles import PatternFill

    color = LIGHT_FILLS.get(str(light))
    if color:
        cell.fill = PatternFill("solid", start_color=color, end_color=color)


def _style(sheet: Any, columns: Sequence[tuple[str, int]]) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for index, (_label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    wrap = Alignment(vertical="top", wrap_text=True)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
            cell.border = border
    sheet.freeze_panes = "A2"
