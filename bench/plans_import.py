"""``bench/plans_import.py``: import a 10,000-row task table into a plan, all rows in one go.

Builds a town with villages and the street campaign's units in a throwaway database (SQLite
in a temporary folder; with ``DATABASE_URL=postgres://…`` a fresh database on that server,
dropped afterwards), writes an xlsx in the seeds' layout (two-row merged header, units
separated by 、, dates in several spellings, targets, a share of 各村（社区） rows that fan
out), times ``plan_import`` from bytes to committed tasks, prints one JSON object on its last
line and exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import check_targets, emit, machine
from bench.regions import _throwaway_database

TARGETS = {"import_s": {"max": 10.0}}
VILLAGES = 5
DEADLINES = ("2026-03-31", "2026/6/30", "2026年9月30日", "11月底", "年底", date(2026, 10, 15))
TARGET_CELLS = ("", "", "", "生活垃圾回收利用率≥35%", "每周至少开展一次", "100%", "每年不少于1次", "")


def _world() -> dict[str, Any]:
    from cocreate.core.models import Region, RegionLevel, Unit, UnitKind, User
    from cocreate.plans.models import Plan, PlanStatus
    from cocreate.plans.tests.fixtures.tables import STREET_UNITS

    province = Region.objects.create(code="97", name="基准省", level=RegionLevel.PROVINCE)
    city = Region.objects.create(code="9701", name="基准市", level=RegionLevel.CITY, parent=province)
    county = Region.objects.create(code="970101", name="基准县", level=RegionLevel.COUNTY, parent=city)
    town = Region.objects.create(code="970101001", name="基准街道", level=RegionLevel.TOWN, parent=county)
    for n in range(1, VILLAGES + 1):
        village = Region.objects.create(
            code=f"970101001{n:03d}", name=f"第{n}社区", level=RegionLevel.VILLAGE, parent=town
        )
        Unit.objects.create(name=f"第{n}社区居委会", kind=UnitKind.RESIDENTS_COMMITTEE, region=village)
    units = [Unit.objects.create(name=name, kind=UnitKind.GOVERNMENT, region=town) for name in STREET_UNITS]
    admin = User.objects.create_superuser(phone="13600000000", password="bench-pw")
    plan = Plan.objects.create(
        title="基准方案",
        issuing_unit=units[0],
        region=town,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        status=PlanStatus.ACTIVE,
    )
    return {"plan": plan, "actor": admin, "units": [u.name for u in units]}


def _table(rows: int, units: list[str], fan_out_every: int) -> bytes:
    from cocreate.plans.tests.fixtures.tables import xlsx

    data: list[list[Any]] = [
        ["序号", "任务", "责任分工", None, None, "完成时限", "目标"],
        [None, None, "牵头单位", "责任单位", "配合单位", None, None],
    ]
    for i in range(rows):
        responsible = "、".join(units[(i + k) % len(units)] for k in range(1, 3))
        if fan_out_every and i % fan_out_every == 0:
            responsible += "、各村（社区）"
        data.append(
            [
                i + 1,
                f"第{i + 1}项任务：整治背街小巷环境卫生",
                units[i % len(units)],
                responsible,
                units[(i + 3) % len(units)] if i % 3 == 0 else None,
                DEADLINES[i % len(DEADLINES)],
                TARGET_CELLS[i % len(TARGET_CELLS)] or None,
            ]
        )
    return xlsx(data, merges=["A1:A2", "B1:B2", "C1:E1", "F1:F2", "G1:G2"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--fan-out-every", type=int, default=50, help="every Nth row is for 各村（社区） (0: none)")
    parser.add_argument("--profile", action="store_true", help="print the import's cProfile to stderr")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cocreate-bench-") as workdir:
        url, drop = _throwaway_database(Path(workdir))
        os.environ["DATABASE_URL"] = url
        os.environ["COCREATE_VAR_DIR"] = workdir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cocreate.settings")
        try:
            import django
            from django.core.management import call_command
            from django.db import connection

            django.setup()
            call_command("migrate", verbosity=0)
            from cocreate.plans.models import Task
            from cocreate.plans.spreadsheets import plan_import

            world = _world()
            data = _table(args.rows, world["units"], args.fan_out_every)
            profile = cProfile.Profile() if args.profile else None
            started, cpu_started = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            result = plan_import(actor=world["actor"], plan=world["plan"], file=data, filename="bench.xlsx")
            import_s = round(time.perf_counter() - started, 2)
            # CPU time of this process: tells a busy machine (wall ≫ cpu) from a slow import.
            cpu_s = round(time.process_time() - cpu_started, 2)
            if profile:
                profile.disable()
                pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
            if not result.ok:
                raise SystemExit("import refused: " + "; ".join(str(e) for e in result.errors[:5]))
            figures = {
                "import_s": import_s,
                "cpu_s": cpu_s,
                "rows": args.rows,
                "tasks_created": Task.objects.filter(plan=world["plan"]).count(),
                "file_kib": round(len(data) / 1024),
                "backend": connection.vendor,
            }
        finally:
            drop()

    missed = check_targets(figures, TARGETS)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "plans_import",
            **figures,
            "targets": TARGETS,
            "missed": missed,
            "ok": not missed,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
