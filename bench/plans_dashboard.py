"""``bench/plans_dashboard``: the county dashboard and a plan page on 200 villages and 50 000 tasks.

Builds a county (10 towns × 20 villages, the units of a real county) with work plans whose tasks
fan out to every village — 50 000 village tasks with their responsibility matrix, milestones
and progress reports — in a throwaway database with ``bulk_create`` (an SQLite file in a
temporary folder; with ``DATABASE_URL=postgres://…`` a fresh database on that server, dropped
afterwards). Then, in the same run, it measures F_json (the floor) and the two pages under
gunicorn with a logged-in county leader's session cookie, prints one JSON object on its last
line and exits 1 when a target is missed: p95 < 150 ms and throughput ≥ 0.15 × F_json.

Task dates are offsets from today, so every light (green, yellow, red, blue, done, not started)
is present whatever day the benchmark runs; progress values come from a seeded RNG.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_load_arguments,
    check_targets,
    cookie_client,
    emit,
    machine,
    measure_floor,
    measure_pages,
    serve_wsgi,
    session_cookie,
)
from bench.common import server_env as bench_server_env
from bench.regions import _throwaway_database

SEED = 2026
TOP_TASKS_PER_PLAN = 10
VILLAGES_PER_TOWN = 20
COUNTY_DEPARTMENTS = ["住建局", "民政局", "教育局", "农业农村局", "财政局", "城市管理执法局", "生态环境分局"]
TOWN_OFFICES = ["党政办", "党群办", "经发办", "规建环办", "社会事务办", "社区事务服务中心", "城市管理服务中心"]
LEADER_PHONE = "19800000001"
TARGET_PAGES = ("dashboard", "plan")


@dataclass
class World:
    """What the generator built: the ids the measurements need and the sizes it reached."""

    county_id: int
    county_code: str
    plan_id: int
    user_id: int
    villages: int
    plans: int
    tasks: int
    village_tasks: int
    task_units: int
    reports: int
    milestones: int


def _build(*, villages: int, tasks: int, today: date) -> World:
    """Bulk-inserts regions, units, one county leader, plans, phases, tasks, matrix and reports."""
    from django.db import transaction

    from cocreate.core.models import Membership, Region, RegionLevel, Role, Unit, UnitKind, User
    from cocreate.plans.models import (
        Milestone,
        Phase,
        Plan,
        PlanStatus,
        ProgressReport,
        ReportKind,
        Task,
        TaskUnit,
        UnitRole,
    )

    rng = random.Random(SEED)  # reproducible data, not secrets

    def region(code: str, name: str, level: int, parent: Region | None) -> Region:
        path = f"{parent.path if parent else '/'}{code}/"
        return Region(code=code, name=name, level=level, parent=parent, path=path, depth=path.count("/") - 2)

    with transaction.atomic():
        province = Region.objects.bulk_create([region("98", "测试省", RegionLevel.PROVINCE, None)])[0]
        city = Region.objects.bulk_create([region("9801", "测试市", RegionLevel.CITY, province)])[0]
        county = Region.objects.bulk_create([region("980101", "测试县", RegionLevel.COUNTY, city)])[0]
        town_count = math.ceil(villages / VILLAGES_PER_TOWN)
        towns = Region.objects.bulk_create(
            [region(f"980101{t:03d}", f"第{t}镇", RegionLevel.TOWN, county) for t in range(1, town_count + 1)]
        )
        village_regions = Region.objects.bulk_create(
            [
                region(f"{town.code}{v % VILLAGES_PER_TOWN + 1:03d}", f"第{v + 1}村", RegionLevel.VILLAGE, town)
                for v in range(villages)
                for town in [towns[v // VILLAGES_PER_TOWN]]
            ],
            batch_size=1000,
        )

        government = Unit.objects.create(
            name="测试县人民政府", short_name="县政府", kind=UnitKind.GOVERNMENT, region=county
        )
        departments = Unit.objects.bulk_create(
            [
                Unit(name=f"测试县{n}", short_name=f"县{n}", kind=UnitKind.DEPARTMENT, region=county, parent=government)
                for n in COUNTY_DEPARTMENTS
            ]
        )
        Unit.objects.bulk_create(
            [
                Unit(name=f"{t.name}{n}", short_name=n, kind=UnitKind.DEPARTMENT, region=t)
                for t in towns
                for n in ["人民政府", *TOWN_OFFICES]
            ],
            batch_size=1000,
        )
        committees = Unit.objects.bulk_create(
            [
                Unit(name=f"{v.name}村民委员会", short_name="村委会", kind=UnitKind.VILLAGE_COMMITTEE, region=v)
                for v in village_regions
            ],
            batch_size=1000,
        )

        leader = User.objects.create_user(LEADER_PHONE, None, display_name="县领导")
        Membership.objects.create(user=leader, role=Role.LEADER, region=county, unit=government, title="副县长")

        per_plan = TOP_TASKS_PER_PLAN * villages
        plan_count = max(1, math.ceil(tasks / per_plan))
        plan_start = today - timedelta(days=300)
        plans = Plan.objects.bulk_create(
            [
                Plan(
                    title=f"测试县第{p + 1}号工作方案",
                    doc_number=f"测政发〔2026〕{p + 1}号",
                    issuing_unit=government,
                    region=county,
                    starts_on=plan_start,
                    ends_on=today + timedelta(days=300),
                    status=PlanStatus.ACTIVE,
                    created_by=leader,
                )
                for p in range(plan_count)
            ]
        )
        phases = Phase.objects.bulk_create(
            [
                Phase(
                    plan=plan,
                    name=name,
                    starts_on=today + timedelta(days=a),
                    ends_on=today + timedelta(days=b),
                    order=o,
                )
                for plan in plans
                for o, (name, a, b) in enumerate(
                    [("部署启动", -300, -200), ("集中整治", -199, 150), ("巩固提升", 151, 300)]
                )
            ]
        )

        # Top tasks first: their children need their ids.
        top: list[Task] = []
        for p, plan in enumerate(plans):
            for n in range(TOP_TASKS_PER_PLAN):
                start = today - timedelta(days=rng.randint(-30, 280))
                deadline = max(start + timedelta(days=14), today + timedelta(days=rng.randint(-40, 250)))
                phase = phases[p * 3 + (0 if deadline < today - timedelta(days=200) else 1 if start <= today else 2)]
                top.append(
                    Task(
                        plan=plan,
                        phase=phase,
                        region=county,
                        number=str(n + 1),
                        title=f"第{n + 1}项重点任务",
                        content="各村（社区）按方案推进",
                        starts_on=start,
                        deadline=deadline,
                        fans_out=True,
                    )
                )
        top = Task.objects.bulk_create(top, batch_size=1000)
        units = [
            TaskUnit(task=t, unit=departments[i % len(departments)], role=UnitRole.LEAD) for i, t in enumerate(top)
        ] + [TaskUnit(task=t, unit=government, role=UnitRole.GUIDING) for t in top]

        children: list[Task] = []
        remaining = tasks
        for t in top:
            for village in village_regions:
                if remaining == 0:
                    break
                remaining -= 1
                progress = _progress(rng, t.starts_on, t.deadline, today)
                children.append(
                    Task(
                        plan_id=t.plan_id,
                        phase_id=t.phase_id,
                        parent=t,
                        region=village,
                        number=t.number,
                        title=t.title,
                        content=t.content,
                        starts_on=t.starts_on,
                        deadline=t.deadline,
                        progress=progress,
                        completed_on=min(today, t.deadline) if progress == 100 else None,
                    )
                )
        children = Task.objects.bulk_create(children, batch_size=2000)
        by_region = {c.region_id: c for c in committees}
        units += [TaskUnit(task=c, unit=by_region[c.region_id], role=UnitRole.RESPONSIBLE) for c in children]
        TaskUnit.objects.bulk_create(units, batch_size=5000)

        # Parents carry the mean of their children, as the services keep it.
        sums: dict[int, list[Decimal]] = {}
        for c in children:
            sums.setdefault(c.parent_id or 0, []).append(c.progress)
        for t in top:
            values = sums.get(t.pk, [])
            t.progress = (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01")) if values else Decimal(0)
            t.completed_on = min(today, t.deadline) if t.progress == 100 else None
        Task.objects.bulk_update(top, ["progress", "completed_on"], batch_size=1000)

        # Every fourth top task has milestones (40% at a third of the way, 70% at two thirds).
        milestones: list[Milestone] = []
        milestone_parents = {t.pk for i, t in enumerate(top) if i % 4 == 0}
        for t in [*top, *children]:
            if (t.parent_id or t.pk) in milestone_parents:
                span = (t.deadline - t.starts_on).days
                milestones.append(Milestone(task=t, due_on=t.starts_on + timedelta(days=span // 3), percent=40))
                milestones.append(Milestone(task=t, due_on=t.starts_on + timedelta(days=2 * span // 3), percent=70))
        Milestone.objects.bulk_create(milestones, batch_size=5000)

        # One or two percent reports per started village task; the last one holds its progress.
        reports: list[ProgressReport] = []
        for c in children:
            if c.progress == 0:
                continue
            unit = by_region[c.region_id]
            if rng.random() < 0.5:
                earlier = (c.progress / 2).quantize(Decimal("0.01"))
                reports.append(
                    ProgressReport(
                        task=c,
                        region_id=c.region_id,
                        unit=unit,
                        kind=ReportKind.PERCENT,
                        percent=earlier,
                        description="阶段进展",
                    )
                )
            reports.append(
                ProgressReport(
                    task=c,
                    region_id=c.region_id,
                    unit=unit,
                    kind=ReportKind.PERCENT,
                    percent=c.progress,
                    reported_by=leader if rng.random() < 0.01 else None,
                    description="已按要求推进",
                )
            )
        ProgressReport.objects.bulk_create(reports, batch_size=5000)

    return World(
        county_id=county.pk,
        county_code=county.code,
        plan_id=plans[len(plans) // 2].pk,
        user_id=leader.pk,
        villages=len(village_regions),
        plans=len(plans),
        tasks=len(top) + len(children),
        village_tasks=len(children),
        task_units=len(units),
        reports=len(reports),
        milestones=len(milestones),
    )


def _progress(rng: random.Random, start: date, deadline: date, today: date) -> Decimal:
    """A village's progress near, behind, far behind or past the expected one — every light."""
    if today < start:
        return Decimal(0)
    expected = min(100.0, 100.0 * (today - start).days / max(1, (deadline - start).days))
    state = rng.choices(["done", "on_track", "behind", "far_behind"], weights=[20, 45, 20, 15])[0]
    value = {
        "done": 100.0,
        "on_track": expected + rng.uniform(-8, 8),
        "behind": expected - rng.uniform(12, 28),
        "far_behind": expected - rng.uniform(32, 60),
    }[state]
    return Decimal(str(round(min(100.0, max(0.0, value)), 2)))


# --- Measuring -----------------------------------------------------------------------------------------


def _pages(world: World) -> dict[str, str] | None:
    """Paths of the county dashboard and the plan page, or None when the pages do not exist yet."""
    from django.urls import NoReverseMatch, reverse

    try:
        dashboard = reverse("plans:dashboard") + f"?region={world.county_id}"
        plan = reverse("plans:plan_detail", kwargs={"pk": world.plan_id})
    except NoReverseMatch:
        return None
    # The home page (我的待办) is measured as a reference, not a target: the same middleware,
    # session and base template with almost no data, i.e. what any signed-in page costs here.
    # The two bench references (bench/app_urls.py) split that further: the middleware, session and
    # login check alone, and the same with the base template rendered around an empty body.
    return {
        "dashboard": dashboard,
        "plan": plan,
        "home": reverse("core:home"),
        "signed_in_floor": "/bench/signed-in/",
        "base_template": "/bench/base/",
    }


def _in_process(paths: dict[str, str], cookie: str) -> dict[str, Any]:
    """Status, size, SQL query count and single-request time of each page, inside this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = cookie_client(cookie)
    figures: dict[str, Any] = {}
    for page, path in paths.items():
        response = client.get(path)
        if response.status_code != 200:
            raise AssertionError(f"{page} {path} answered {response.status_code}")
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
        # Read now: the next request resets the connection's query log the captured list reads.
        figures[f"{page}_queries"] = len(queries)
        samples = [elapsed]
        for _ in range(4):
            started = time.perf_counter()
            client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        figures[f"{page}_kib"] = round(len(response.content) / 1024, 1)
        figures[f"{page}_single_ms"] = round(statistics.median(samples), 1)
    return figures


def _selectors(world: World, repeat: int) -> dict[str, Any]:
    """Fallback when the pages are missing: the selectors behind them, timed in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cocreate.core.models import Region, User
    from cocreate.plans import selectors
    from cocreate.plans.models import Plan

    user = User.objects.get(pk=world.user_id)
    county = Region.objects.get(pk=world.county_id)
    plan = Plan.objects.get(pk=world.plan_id)
    runs = {
        "dashboard": lambda: selectors.dashboard(user=user, region=county),
        "plan": lambda: selectors.plan_tasks(user=user, plan=plan),
    }
    figures: dict[str, Any] = {}
    for name, fn in runs.items():
        with CaptureQueriesContext(connection) as queries:
            fn()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        figures[f"{name}_queries"] = len(queries)
        figures[f"{name}_p50_ms"] = round(statistics.median(samples), 1)
        figures[f"{name}_p95_ms"] = round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--villages", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=50_000, help="village tasks (children of fanned-out tasks)")
    add_load_arguments(parser)
    parser.add_argument("--max-p95-ms", type=float, default=150.0)
    parser.add_argument("--min-ratio", type=float, default=0.15, help="page req/s ÷ F_json req/s")
    parser.add_argument("--selectors", action="store_true", help="time the selectors in-process, no pages")
    parser.add_argument(
        "--pg-jit-off",
        action="store_true",
        help="PostgreSQL: connect with jit=off (its JIT compiles the dashboard's light CASE for ~0.6 s a query)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cocreate-bench-") as workdir:
        url, drop = _throwaway_database(Path(workdir))
        if args.pg_jit_off and url.startswith(("postgres://", "postgresql://")):
            url += "?options=-c%20jit%3Doff"  # dj-database-url passes it to psycopg as OPTIONS
        server_env = bench_server_env(url=url, workdir=workdir, static_root=args.static_root)
        os.environ.update(server_env)
        try:
            import django
            from django.core.management import call_command
            from django.db import connection
            from django.utils import timezone

            django.setup()
            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            world = _build(villages=args.villages, tasks=args.tasks, today=timezone.localdate())
            build_s = round(time.perf_counter() - started, 1)
            with connection.cursor() as cursor:
                # Production databases have statistics; without them the planners guess.
                cursor.execute("ANALYZE")
            figures: dict[str, Any] = {"backend": connection.vendor, "build_s": build_s}
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SHOW jit")
                    figures["pg_jit"] = cursor.fetchone()[0]
            paths = None if args.selectors else _pages(world)
            if paths is None:
                figures["mode"] = "selectors"
                figures.update(_selectors(world, repeat=20))
                targets: dict[str, dict[str, float]] = {
                    "dashboard_p95_ms": {"max": args.max_p95_ms},
                    "plan_p95_ms": {"max": args.max_p95_ms},
                }
            else:
                figures["mode"] = "pages"
                if not (Path(server_env["STATIC_ROOT"]) / "staticfiles.json").exists():
                    call_command("collectstatic", interactive=False, verbosity=0)
                cookie = session_cookie(world.user_id)
                figures.update(_in_process(paths, cookie))
                connection.close()
                measure = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}
                floor = measure_floor(workers=args.workers, tool=args.tool, **measure)
                figures["F_json_rps"] = floor["rps"]
                targets = {}
                with serve_wsgi(
                    "cocreate.wsgi:application", env=server_env, workers=args.workers, ready_path="/"
                ) as base:
                    pages = {page: (path, cookie) for page, path in paths.items()}
                    figures.update(measure_pages(base, pages, floor_rps=floor["rps"], args=args))
                    for page in pages:
                        targets[f"{page}_errors"] = {"max": 0}
                        if page in TARGET_PAGES:
                            targets[f"{page}_p95_ms"] = {"max": args.max_p95_ms}
                            targets[f"{page}_ratio"] = {"min": args.min_ratio}
                figures["paths"] = paths
                figures["tool"] = floor["tool"]
        finally:
            drop()

    missed = check_targets(figures, targets)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "plans_dashboard",
            "villages": world.villages,
            "plans": world.plans,
            "tasks": world.tasks,
            "village_tasks": world.village_tasks,
            "task_units": world.task_units,
            "milestones": world.milestones,
            "reports": world.reports,
            **figures,
            "connections": args.connections,
            "workers": args.workers,
            "targets": targets,
            "missed": missed,
            "ok": not missed,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
