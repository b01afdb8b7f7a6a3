"""``bench/regions.py``: subtree, children and ancestor queries on a 100k-node region tree.

Builds the tree in a throwaway database (an SQLite file in a temporary folder; with
``DATABASE_URL=postgres://…`` a fresh database on that server, dropped afterwards), times the
materialized-path queries against a naive walk over ``parent``, prints one JSON object on its
last line and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import check_targets, emit, machine

# Shape of the tree: 1 province, 4 cities, 5 counties each, then per node below.
CITIES, COUNTIES, TOWNS, VILLAGES, GRIDS = 4, 5, 15, 20, 16
TARGETS = {
    "county_subtree_count_ms": {"max": 50.0},
    "county_subtree_count_app_ms": {"max": 50.0},
    "town_villages_ms": {"max": 20.0},
    "ancestors_ms": {"max": 10.0},
}


def _throwaway_database(workdir: Path) -> tuple[str, Callable[[], None]]:
    """A database URL nobody else uses, and how to remove it afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    name = f"cocreate_bench_{os.getpid()}"
    # Connect to the maintenance database: the one named in the URL may not exist yet.
    admin = psycopg.conninfo.make_conninfo(
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        dbname="postgres",
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base, _, _ = url.rpartition("/")
    return f"{base}/{name}", drop


def _build_tree() -> dict[str, Any]:
    """Bulk-inserts the tree level by level (each level needs its parents' ids)."""
    from django.db import transaction

    from cocreate.core.models import Region, RegionLevel

    def make(code: str, level: int, parent: Region | None) -> Region:
        path = f"{parent.path if parent else '/'}{code}/"
        return Region(
            code=code,
            name=f"区划{code}",
            level=level,
            parent=parent,
            path=path,
            depth=path.count("/") - 2,
        )

    def insert(rows: list[Region]) -> list[Region]:
        return Region.objects.bulk_create(rows, batch_size=5000)

    with transaction.atomic():
        province = insert([make("98", RegionLevel.PROVINCE, None)])[0]
        cities = insert([make(f"98{c:02d}", RegionLevel.CITY, province) for c in range(1, CITIES + 1)])
        counties = insert(
            [make(f"{city.code}{n:02d}", RegionLevel.COUNTY, city) for city in cities for n in range(1, COUNTIES + 1)]
        )
        towns = insert(
            [make(f"{cty.code}{n:03d}", RegionLevel.TOWN, cty) for cty in counties for n in range(1, TOWNS + 1)]
        )
        villages = insert(
            [make(f"{t.code}{n:03d}", RegionLevel.VILLAGE, t) for t in towns for n in range(1, VILLAGES + 1)]
        )
        grids = insert([make(f"{v.code}{n:03d}", RegionLevel.GRID, v) for v in villages for n in range(1, GRIDS + 1)])
    return {
        "county": counties[len(counties) // 2],
        "town": towns[len(towns) // 2],
        "grid": grids[len(grids) // 2],
        "nodes": 1 + len(cities) + len(counties) + len(towns) + len(villages) + len(grids),
    }


def _time_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``fn`` in ms after one warm-up call, and its last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3), result


def _measure(tree: dict[str, Any], repeat: int) -> dict[str, Any]:
    from django.db import connection

    from cocreate.core.models import Region, RegionLevel, subtree_q

    county, town, grid = tree["county"], tree["town"], tree["grid"]

    def naive_subtree_count() -> int:
        # What code without the path would do: ask each node for its children, recursively.
        def walk(pk: int) -> int:
            return 1 + sum(walk(child) for child in Region.objects.filter(parent_id=pk).values_list("pk", flat=True))

        return walk(county.pk)

    def naive_ancestors() -> list[Region]:
        chain, node = [], grid
        while node.parent_id:
            node = Region.objects.get(pk=node.parent_id)
            chain.append(node)
        return chain

    figures: dict[str, Any] = {}
    expected = 1 + TOWNS + TOWNS * VILLAGES + TOWNS * VILLAGES * GRIDS
    runs: dict[str, tuple[Callable[[], Any], int]] = {
        "county_subtree_count_ms": (lambda: Region.objects.filter(subtree_q(county.path)).count(), repeat),
        "county_subtree_count_app_ms": (lambda: county.subtree().count(), repeat),
        "county_subtree_count_naive_ms": (naive_subtree_count, max(1, repeat // 10)),
        "town_villages_ms": (
            lambda: list(Region.objects.filter(subtree_q(town.path), level=RegionLevel.VILLAGE)),
            repeat,
        ),
        "town_villages_by_parent_ms": (lambda: list(Region.objects.filter(parent_id=town.pk)), repeat),
        "ancestors_ms": (lambda: list(grid.ancestors()), repeat),
        "ancestors_naive_ms": (naive_ancestors, repeat),
    }
    for name, (fn, times) in runs.items():
        ms, result = _time_ms(fn, times)
        figures[name] = ms
        size = result if isinstance(result, int) else len(result)
        wanted = {
            "county_subtree_count": expected,
            "town_villages": VILLAGES,
            "ancestors": 5,
        }
        for prefix, value in wanted.items():
            if name.startswith(prefix) and size != value:
                raise AssertionError(f"{name} returned {size}, expected {value}")
    figures["subtree_speedup_vs_naive"] = round(
        figures["county_subtree_count_naive_ms"] / max(figures["county_subtree_count_ms"], 0.001), 1
    )
    figures["county_subtree_size"] = expected
    figures["backend"] = connection.vendor
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query (median reported)")
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
            started = time.perf_counter()
            tree = _build_tree()
            build_s = round(time.perf_counter() - started, 2)
            with connection.cursor() as cursor:
                # Production databases have statistics; without them the planners guess.
                cursor.execute("ANALYZE")
            figures = _measure(tree, args.repeat)
        finally:
            drop()

    missed = check_targets(figures, TARGETS)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "regions",
            "nodes": tree["nodes"],
            "build_s": build_s,
            **figures,
            "targets": TARGETS,
            "missed": missed,
            "ok": not missed,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
