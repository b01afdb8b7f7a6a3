"""Shared benchmark plumbing: machine facts, a gunicorn server, load generation, target checks.

Later benchmarks measure their own URL with :func:`measure_url` and the floor with
:func:`measure_floor` in the same run, so they can report ratios that do not depend on the
machine (``rps / F_json_rps``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parent.parent
FLOOR_APP = "bench.floor_app:application"

Targets = Mapping[str, Mapping[str, float]]


def machine() -> dict[str, Any]:
    """Cores and memory of this machine, so figures can be compared across machines."""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    except OSError:
        pass
    return {"cores": os.cpu_count() or 1, "mem_gib": round(mem_kib / 1024 / 1024, 1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gunicorn() -> list[str]:
    venv = REPO / ".venv" / "bin" / "gunicorn"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "gunicorn"]


@contextmanager
def serve_wsgi(
    app: str,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    worker_class: str = "sync",
    threads: int = 1,
    ready_path: str = "/",
    timeout: float = 30.0,
) -> Iterator[str]:
    """Runs gunicorn on a free local port for the duration of the block; yields the base URL.

    Its log is shown when the block fails; ``BENCH_SERVER_LOG=FILE`` keeps a copy in any case
    (the tracebacks of 5xx answers a benchmark counted)."""
    port = free_port()
    command = [
        *_gunicorn(),
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--chdir",
        str(REPO),
        "--log-level",
        "warning",
        "--access-logfile",
        "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
    ]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
        try:
            _wait_ready(base + ready_path, process, timeout)
            yield base
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            if os.environ.get("BENCH_SERVER_LOG"):
                log.seek(0)
                Path(os.environ["BENCH_SERVER_LOG"]).write_bytes(log.read())
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
                response.read()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready after {timeout}s")


# --- Load generation ------------------------------------------------------------------------------------

_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"socket_errors\\": %d, \\"non2xx\\": %d, "
    .. "\\"p50_us\\": %d, \\"p95_us\\": %d, \\"p99_us\\": %d, \\"mean_us\\": %.1f}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def measure_url(
    url: str,
    *,
    duration: float = 8.0,
    warmup: float = 2.0,
    connections: int = 8,
    headers: Mapping[str, str] | None = None,
    tool: str | None = None,
) -> dict[str, Any]:
    """Requests per second and latency percentiles (ms) of GETs on ``url`` under steady load.

    Uses ``wrk`` when installed (its ``--latency`` table stops at p90/p99, so a four-line Lua
    ``done`` hook reports the exact p50/p95/p99 from wrk's own histogram); otherwise a threaded
    keep-alive client in Python, which itself costs CPU and therefore reads lower.
    """
    tool = tool or ("wrk" if shutil.which("wrk") else "python")
    if tool == "wrk":
        if warmup > 0:
            _wrk(url, warmup, connections, headers)
        raw = _wrk(url, duration, connections, headers)
    else:
        if warmup > 0:
            _python_load(url, warmup, connections, headers)
        raw = _python_load(url, duration, connections, headers)
    seconds = raw["duration_us"] / 1e6
    return {
        "tool": tool,
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "requests": raw["requests"],
        "errors": raw["socket_errors"] + raw["non2xx"],
        "connections": connections,
        "duration_s": round(seconds, 2),
    }


def _wrk(url: str, duration: float, connections: int, headers: Mapping[str, str] | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        # wrk drops a request slower than its default 2 s timeout from the latency histogram;
        # a slow page must show up in p95, not vanish as a socket error.
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s"]
        command += ["-s", script.name]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, timeout=duration + 30
        ).stdout
    finally:
        os.unlink(script.name)
    for line in output.splitlines():
        if line.startswith("WRKJSON "):
            return dict(json.loads(line[len("WRKJSON ") :]))
    raise RuntimeError(f"unexpected wrk output:\n{output}")


def _python_load(url: str, duration: float, connections: int, headers: Mapping[str, str] | None) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    latencies: list[float] = []
    counts = {"socket_errors": 0, "non2xx": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        mine: list[float] = []
        socket_errors = non2xx = 0
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", target, headers=dict(headers or {}))
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    non2xx += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                socket_errors += 1
                conn.close()
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["socket_errors"] += socket_errors
            counts["non2xx"] += non2xx

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> int:
        if not latencies:
            return 0
        return int(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6)

    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "p50_us": pct(50),
        "p95_us": pct(95),
        "p99_us": pct(99),
        **counts,
    }


def measure_floor(
    *,
    duration: float = 8.0,
    warmup: float = 2.0,
    connections: int = 8,
    workers: int = 2,
    tool: str | None = None,
) -> dict[str, Any]:
    """F_json: a plain Django JSON view (no middleware, no database) under the same load."""
    with serve_wsgi(FLOOR_APP, env={"DJANGO_SETTINGS_MODULE": "bench.floor_app"}, workers=workers) as base:
        return measure_url(base + "/", duration=duration, warmup=warmup, connections=connections, tool=tool)


# --- Targets and the result line --------------------------------------------------------------------------


def check_targets(figures: Mapping[str, Any], targets: Targets) -> list[str]:
    """Names of missed targets; a target is {"min": x} and/or {"max": y} on one figure."""
    missed = []
    for name, bounds in targets.items():
        value = figures.get(name)
        if value is None:
            missed.append(f"{name}: no figure")
            continue
        if "min" in bounds and value < bounds["min"]:
            missed.append(f"{name}={value} < {bounds['min']}")
        if "max" in bounds and value > bounds["max"]:
            missed.append(f"{name}={value} > {bounds['max']}")
    return missed


def emit(result: dict[str, Any]) -> NoReturn:
    """Prints the result as the last line of output and exits 1 if a target was missed."""
    result.setdefault("machine", machine())
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, sort_keys=False), flush=True)
    sys.exit(0 if result.get("ok") else 1)


def server_env(*, url: str, workdir: str, static_root: str | None) -> dict[str, str]:
    """The environment of a benchmark's gunicorn (and of the script itself, which builds the data).

    cocreate's settings plus the reference pages of ``bench/app_urls.py``; ``static_root`` reuses
    collected static files (``collectstatic`` takes minutes), else a fresh folder in ``workdir``.
    """
    return {
        "DATABASE_URL": url,
        "COCREATE_VAR_DIR": workdir,
        "STATIC_ROOT": str(Path(static_root).resolve() if static_root else Path(workdir) / "static"),
        "DEBUG": "0",
        "AXES_ENABLED": "0",
        "DJANGO_SETTINGS_MODULE": "bench.app_settings",
    }


# Django's unmasked CSRF secret (32 characters), sent as the csrftoken cookie a signed-in browser holds.
CSRF_SECRET = "benchvotescsrfsecret0123456789ab"


def session_cookie(user_id: int) -> str:
    """A signed-in session of one user, as the browser sends it (the CSRF cookie alongside)."""
    from django.conf import settings
    from django.test import Client

    from cocreate.core.models import User

    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={CSRF_SECRET}"


def cookie_client(cookie: str) -> Any:
    """A Django test client carrying the cookies of a ``Cookie`` header."""
    from django.test import Client

    client = Client()
    for part in cookie.split("; "):
        name, _, value = part.partition("=")
        client.cookies[name] = value
    return client


def warm(url: str, cookie: str, *, requests: int) -> None:
    """Warms every worker with one request at a time.

    A concurrent warm-up (as for F_json) would leave a backlog of slow requests queued in the
    sync workers when it stops, and the measurement would start by waiting for them.
    """
    for _ in range(requests):
        request = urllib.request.Request(url, headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=120) as response:  # nosec B310
            response.read()


def measure_page(
    base: str,
    page: str,
    path: str,
    cookie: str,
    *,
    floor_rps: float,
    workers: int,
    tool: str | None,
    measure: Mapping[str, Any],
) -> dict[str, Any]:
    """One signed-in page under load after a one-at-a-time warm-up: ``<page>_rps`` … ``<page>_ratio``."""
    warm(base + path, cookie, requests=2 * workers)
    result = measure_url(base + path, headers={"Cookie": cookie}, tool=tool, **{**measure, "warmup": 0})
    return {
        f"{page}_rps": result["rps"],
        f"{page}_p50_ms": result["p50_ms"],
        f"{page}_p95_ms": result["p95_ms"],
        f"{page}_p99_ms": result["p99_ms"],
        f"{page}_errors": result["errors"],
        f"{page}_ratio": round(result["rps"] / floor_rps, 4) if floor_rps else 0.0,
    }


def measure_pages(
    base: str, pages: Mapping[str, tuple[str, str]], *, floor_rps: float, args: argparse.Namespace
) -> dict[str, Any]:
    """Each page (name → path, session cookie) in turn with ``measure_page`` and the options of
    ``add_load_arguments``; the figures of all of them."""
    measure = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}
    figures: dict[str, Any] = {}
    for page, (path, cookie) in pages.items():
        figures.update(
            measure_page(
                base, page, path, cookie, floor_rps=floor_rps, workers=args.workers, tool=args.tool, measure=measure
            )
        )
    return figures


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every page benchmark shares: how long and how hard to load, with what, and
    where the collected static files are kept."""
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of measurement per URL")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8, help="for the pages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tool", choices=["wrk", "python"], help="load generator for the pages (writes need wrk)")
    parser.add_argument(
        "--static-root",
        help="keep collected static files here and reuse them when a manifest exists (collectstatic "
        "takes minutes on a busy machine); default: a fresh temporary folder",
    )
