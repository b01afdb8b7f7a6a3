"""``manage.py serve``: the web server and the job consumer as two child processes.

Gunicorn serves ``cocreate.wsgi`` (falling back to ``runserver --noreload`` where gunicorn
cannot run); ``manage.py run_huey`` consumes background jobs. SIGINT and SIGTERM are passed on
to both, and when either child dies the other is stopped too, so a supervisor (systemd, a
container runtime) sees one process that is either fully up or gone.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# A web server that dies this soon after starting is taken as "cannot run here".
STARTUP_GRACE_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 20.0


def _gunicorn_available() -> bool:
    return os.name == "posix" and importlib.util.find_spec("gunicorn") is not None


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Command(BaseCommand):
    help = "Starts the web server (gunicorn) and the background job consumer (Huey) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
        parser.add_argument(
            "--no-jobs", action="store_true", help="do not start the job consumer (it runs on other machines)"
        )
        parser.add_argument("--runserver", action="store_true", help="use Django's runserver instead of gunicorn")

    def handle(self, *args: Any, **options: Any) -> None:
        self.manage_py = str(Path(settings.BASE_DIR) / "manage.py")
        host, port = options["host"], options["port"]
        self._print_demo_accounts()
        self.stopping = False
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._forward)

        use_gunicorn = _gunicorn_available() and not options["runserver"]
        self.children["web"] = self._start_web(host, port, options, use_gunicorn)
        if not options["no_jobs"]:
            self.children["jobs"] = self._spawn([sys.executable, self.manage_py, "run_huey"])
        host_shown = f"[{host}]" if ":" in host else host
        self.stdout.write(self.style.SUCCESS(f"cocreate 已启动 / running at http://{host_shown}:{port}/"))
        self.stdout.write("按 Ctrl+C 停止 / press Ctrl+C to stop")

        started = time.monotonic()
        exit_code = self._wait_for_first_exit(host, port, options, use_gunicorn, started)
        self._stop_all()
        if exit_code:
            sys.exit(exit_code)

    def _print_demo_accounts(self) -> None:
        path = Path(settings.VAR_DIR) / "demo_accounts.txt"
        if path.exists():
            self.stdout.write(path.read_text(encoding="utf-8").rstrip())
            self.stdout.write("")

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        # Own process group: a terminal's Ctrl+C reaches the children once, through _forward.
        # The commands are built here from sys.executable and fixed arguments, never from input.
        if os.name == "posix":
            return subprocess.Popen(command, process_group=0)  # noqa: S603
        return subprocess.Popen(command)  # noqa: S603

    def _start_web(self, host: str, port: int, options: dict[str, Any], use_gunicorn: bool) -> subprocess.Popen[bytes]:
        if use_gunicorn:
            return self._spawn(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "cocreate.wsgi:application",
                    "--bind",
                    _bind_address(host, port),
                    "--workers",
                    str(options["workers"]),
                    "--threads",
                    str(options["threads"]),
                    "--worker-class",
                    "gthread",
                    "--graceful-timeout",
                    "15",
                    "--access-logfile",
                    "-",
                ]
            )
        return self._spawn([sys.executable, self.manage_py, "runserver", "--noreload", _bind_address(host, port)])

    def _forward(self, signum: int, frame: Any) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def _wait_for_first_exit(
        self, host: str, port: int, options: dict[str, Any], use_gunicorn: bool, started: float
    ) -> int:
        while True:
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                early = time.monotonic() - started < STARTUP_GRACE_SECONDS
                if name == "web" and use_gunicorn and code != 0 and early and not self.stopping:
                    self.stderr.write("gunicorn 无法运行，改用 runserver / gunicorn could not run, using runserver")
                    use_gunicorn = False
                    self.children["web"] = self._start_web(host, port, options, use_gunicorn=False)
                    continue
                if not self.stopping:
                    self.stderr.write(f"{name} 进程已退出（{code}），正在停止 / {name} exited ({code}), stopping")
                return 0 if self.stopping else (code or 1)
            time.sleep(0.2)

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
