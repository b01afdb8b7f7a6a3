"""Estates (小区) and their property units: the owners' records that owners' votes count.

A unit's owner is a person of the estate's region; the floor area is what the 民法典 Art. 278
thresholds weigh. Imports from a spreadsheet are all or nothing: every bad row is reported with
its row number and no unit is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from cocreate.core import access
from cocreate.core.models import Person, Region, subtree_q
from cocreate.core.services import require, save_or_conflict
from cocreate.participation.models import Estate, PropertyUnit

MAX_AREA = Decimal("9999999.99")
MAX_IMPORT_ROWS = 5000

# Column → the headers that mean it (spaces removed).
HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("房号", "房屋编号", "门牌号"),
    "area": ("面积", "专有部分面积", "建筑面积", "面积（㎡）", "面积(㎡)"),
    "name": ("业主姓名", "业主", "姓名"),
    "id_tail": ("业主身份证号后四位", "身份证号后四位", "身份证后四位"),
    "phone": ("手机号", "业主手机号", "联系电话"),
}


# --- Selectors ----------------------------------------------------------------------------------------


def estate_list(*, user: Any, region: Region | None = None, search: str = "") -> QuerySet[Estate]:
    """Estates the user may see, with their unit count and total floor area."""
    qs = Estate.objects.visible_to(user).select_related("region")
    if region is not None:
        qs = qs.filter(subtree_q(region.path, "region__path"))
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(address__icontains=search))
    return qs.annotate(unit_count=Count("units"), total_area=Sum("units__area")).order_by("region__path", "name", "id")


def estate_detail(*, user: Any, pk: Any) -> Estate:
    return access.get_visible_or_404(Estate.objects.select_related("region"), user, pk=pk)


def estate_units(*, user: Any, estate: Estate) -> QuerySet[PropertyUnit]:
    """The estate's units the user may see (staff: all; an owner: their own)."""
    return (
        PropertyUnit.objects.visible_to(user)
        .filter(estate=estate)
        .select_related("owner", "owner__household")
        .order_by("number", "id")
    )


def my_units(*, user: Any) -> QuerySet[PropertyUnit]:
    """The units the signed-in person owns, wherever they are."""
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return PropertyUnit.objects.none()
    return (
        PropertyUnit.objects.filter(owner_id=person_id).select_related("estate", "region").order_by("estate", "number")
    )


def owner_candidates(*, user: Any, region: Region) -> QuerySet[Person]:
    """People of the estate's region (and below) the user may see: who may own a unit there."""
    return Person.objects.visible_to(user).filter(subtree_q(region.path, "region__path")).order_by("name", "id")


# --- Services ------------------------------------------------------------------------------------------


@transaction.atomic
def estate_create(*, actor: Any, region: Region, name: str, address: str = "") -> Estate:
    """A new estate in a region the actor manages; names are unique within a region."""
    estate = Estate(region=region, name=name.strip(), address=address.strip())
    require(actor, access.CREATE, estate)
    if not estate.name:
        raise ValidationError({"name": _("请填写小区名称")})
    if Estate.objects.filter(region=region, name=estate.name).exists():
        raise ValidationError({"name": _("本社区已有同名小区")})
    save_or_conflict(estate)
    return estate


def _area(value: Decimal) -> Decimal:
    """Square metres to the hundredth, as stored (the forms and the API allow no finer)."""
    return Decimal(value).quantize(Decimal("0.01"))


def _check_unit(unit: PropertyUnit) -> None:
    errors: dict[str, str] = {}
    if not unit.number:
        errors["number"] = _("请填写房号")
    if unit.area is None or unit.area <= 0 or unit.area > MAX_AREA:
        errors["area"] = _("面积须大于0")
    owner_path = Person.objects.filter(pk=unit.owner_id).values_list("region__path", flat=True).first()
    if owner_path is None or not owner_path.startswith(unit.estate.region.path):
        errors["owner"] = _("业主须为本社区人员")
    duplicate = PropertyUnit.objects.filter(estate_id=unit.estate_id, number=unit.number).exclude(pk=unit.pk)
    if unit.number and duplicate.exists():
        errors["number"] = _("本小区已有该房号")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def unit_create(*, actor: Any, estate: Estate, number: str, area: Decimal, owner: Person) -> PropertyUnit:
    """Records an owner's unit and its floor area."""
    unit = PropertyUnit(estate=estate, region=estate.region, number=number.strip(), area=_area(area), owner=owner)
    require(actor, access.CREATE, unit)
    _check_unit(unit)
    save_or_conflict(unit)
    return unit


@transaction.atomic
def unit_update(*, actor: Any, unit: PropertyUnit, number: str, area: Decimal, owner: Person) -> PropertyUnit:
    """Corrects a unit's number, area or owner (rolls of votes already opened stay as frozen)."""
    require(actor, access.CHANGE, unit)
    unit.number, unit.area, unit.owner = number.strip(), _area(area), owner
    _check_unit(unit)
    save_or_conflict(unit)
    return unit


# --- Import from xlsx --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    row: int
    number: str
    area: Decimal
    owner_id: int


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _read_rows(data: bytes) -> tuple[dict[str, int], list[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        grid = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
        workbook.close()
    except Exception as exc:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise ValidationError({"file": _("无法读取 xlsx 文件，请确认文件格式")}) from exc
    if not grid:
        raise ValidationError({"file": _("表格是空的")})
    columns: dict[str, int] = {}
    for index, heading in enumerate(grid[0]):
        key = _cell(heading).replace(" ", "")
        for field, names in HEADERS.items():
            if key in names and field not in columns:
                columns[field] = index
    missing = [HEADERS[f][0] for f in ("number", "area", "name") if f not in columns]
    if not ("id_tail" in columns or "phone" in columns):
        missing.append(_("业主身份证号后四位或手机号"))
    if missing:
        raise ValidationError({"file": _("缺少列：%(columns)s") % {"columns": "、".join(missing)}})
    rows = [(n, row) for n, row in enumerate(grid[1:], start=2) if any(_cell(v) for v in row)]
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError({"file": _("一次最多导入%(n)d行") % {"n": MAX_IMPORT_ROWS}})
    return columns, rows


def _value(row: list[Any], columns: dict[str, int], field: str) -> str:
    index = columns.get(field)
    return _cell(row[index]) if index is not None and index < len(row) else ""


@transaction.atomic
def units_import(*, actor: Any, estate: Estate, data: bytes) -> list[PropertyUnit]:
    """Units from a spreadsheet (房号, 面积, 业主姓名, 身份证号后四位 or 手机号), all or none.

    The owner is the one person of the estate's region with that name whose ID number ends with
    the four characters given, or whose phone matches; no match or several matches is a bad row.
    """
    require(actor, access.CREATE, PropertyUnit(estate=estate, region=estate.region))
    columns, rows = _read_rows(data)
    # A parallel import into the same estate waits here, then finds the first one's rooms as
    # existing and lists them as bad rows instead of failing on the unique room number.
    Estate.objects.select_for_update().filter(pk=estate.pk).first()
    people = Person.objects.filter(subtree_q(estate.region.path, "region__path"))
    names = {_value(r, columns, "name") for _n, r in rows} - {""}
    by_name: dict[str, list[tuple[int, str, str]]] = {}
    for pk, name, id_number, phone in people.filter(name__in=names).values_list("pk", "name", "id_number", "phone"):
        by_name.setdefault(name, []).append((pk, (id_number or "").upper(), phone or ""))
    existing = set(PropertyUnit.objects.filter(estate=estate).values_list("number", flat=True))
    errors: list[str] = []
    good: list[ImportRow] = []
    seen: dict[str, int] = {}
    for n, row in rows:
        problems: list[str] = []
        number = _value(row, columns, "number")
        if not number:
            problems.append(_("缺少房号"))
        elif number in existing:
            problems.append(_("房号%(number)s已存在") % {"number": number})
        elif number in seen:
            problems.append(_("房号%(number)s与第%(row)d行重复") % {"number": number, "row": seen[number]})
        else:
            seen[number] = n
        try:
            area = Decimal(_value(row, columns, "area"))
            if not area.is_finite() or area <= 0 or area > MAX_AREA:
                raise InvalidOperation
            area = area.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            problems.append(_("面积须为大于0的数字"))
            area = Decimal("0")
        name = _value(row, columns, "name")
        tail = _value(row, columns, "id_tail").upper()
        phone = _value(row, columns, "phone")
        owner_id = None
        if not name:
            problems.append(_("缺少业主姓名"))
        elif not (tail or phone):
            problems.append(_("缺少业主身份证号后四位或手机号"))
        else:
            matches = [
                pk
                for pk, id_number, person_phone in by_name.get(name, [])
                if (tail and len(tail) == 4 and id_number.endswith(tail)) or (phone and phone == person_phone)
            ]
            if not matches:
                problems.append(_("本社区找不到业主%(name)s（姓名与证件号后四位或手机号不符）") % {"name": name})
            elif len(matches) > 1:
                problems.append(_("业主%(name)s匹配到多人，请改填手机号") % {"name": name})
            else:
                owner_id = matches[0]
        if problems:
            errors.append(_("第%(row)d行：%(problems)s") % {"row": n, "problems": "；".join(problems)})
        elif owner_id is not None:
            good.append(ImportRow(row=n, number=number, area=area, owner_id=owner_id))
    if not rows:
        errors.append(_("表格中没有数据行"))
    if errors:
        raise ValidationError({"rows": errors})
    units = [
        PropertyUnit(estate=estate, region=estate.region, number=r.number, area=r.area, owner_id=r.owner_id)
        for r in good
    ]
    history_user = actor if getattr(actor, "pk", None) else None
    return bulk_create_with_history(units, PropertyUnit, default_user=history_user)
