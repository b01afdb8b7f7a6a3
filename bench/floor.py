"""``bench/floor``: requests/s and latency of a plain Django JSON view under gunicorn (F_json).

Every other benchmark is read against this floor: a page that reaches half of F_json on the same
machine is doing well; one that reaches 1% is doing something per request that it should not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import check_targets, emit, machine, measure_floor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds in all, warm-up included")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-rps", type=float, default=500.0)
    parser.add_argument("--max-p95-ms", type=float, default=50.0)
    parser.add_argument("--tool", choices=["wrk", "python"], help="load generator (default: wrk if installed)")
    args = parser.parse_args(argv)

    measured = measure_floor(
        duration=max(1.0, args.duration - args.warmup),
        warmup=args.warmup,
        connections=args.connections,
        workers=args.workers,
        tool=args.tool,
    )
    figures = {
        "F_json_rps": measured["rps"],
        "p50_ms": measured["p50_ms"],
        "p95_ms": measured["p95_ms"],
        "p99_ms": measured["p99_ms"],
        "errors": measured["errors"],
    }
    targets = {
        "F_json_rps": {"min": args.min_rps},
        "p95_ms": {"max": args.max_p95_ms},
        "errors": {"max": 0},
    }
    missed = check_targets(figures, targets)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "floor",
            **figures,
            "requests": measured["requests"],
            "tool": measured["tool"],
            "connections": measured["connections"],
            "workers": args.workers,
            "measure_s": measured["duration_s"],
            "targets": targets,
            "missed": missed,
            "ok": not missed,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
