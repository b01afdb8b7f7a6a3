"""``manage.py demo [--if-empty]``: the deterministic demo county, its people and one account per role."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from cocreate.core.demo import DEMO_PASSWORD, demo_load, format_accounts, write_accounts


class Command(BaseCommand):
    help = "Loads demo data (湖北省黄冈市红安县, 3 towns, 12 villages, 200 households); safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already holds accounts or demo data"
        )
        parser.add_argument(
            "--accounts-file",
            type=Path,
            default=None,
            help="where to write the accounts table (default: var/demo_accounts.txt)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        result = demo_load(if_empty=options["if_empty"])
        if result.skipped:
            self.stdout.write("demo: the database already holds data; nothing loaded (--if-empty)")
            return
        path: Path = options["accounts_file"] or Path(settings.VAR_DIR) / "demo_accounts.txt"
        write_accounts(result.account_rows, path)
        self.stdout.write(
            f"demo: created {result.regions} regions, {result.units} units, {result.households} households, "
            f"{result.people} people, {result.accounts} accounts, {result.memberships} memberships "
            f"in {time.monotonic() - started:.1f}s"
        )
        plans = result.plans
        self.stdout.write(
            f"demo: created {plans.get('plans', 0)} work plans, {plans.get('tasks', 0)} tasks, "
            f"{plans.get('reports', 0)} progress reports, {plans.get('assessments', 0)} yearly assessments "
            "(dates relative to today)"
        )
        co = result.participation
        self.stdout.write(
            f"demo: created {co.get('needs', 0)} needs, {co.get('problems', 0)} problem-list items, "
            f"{co.get('meetings', 0)} meetings, {co.get('votes', 0)} votes, {co.get('ballots', 0)} ballots, "
            f"{co.get('notices', 0)} notices, {co.get('decisions', 0)} 四议两公开 records, "
            f"{co.get('task_items', 0)} task-list items (柳林村)"
        )
        cases = result.cases
        states = ", ".join(f"{n} {status}" for status, n in cases.get("by_status", {}).items())
        self.stdout.write(f"demo: created {cases.get('cases', 0)} cases ({states or 'none'})")
        self.stdout.write(f"demo password for every account: {DEMO_PASSWORD}  (table written to {path})")
        self.stdout.write(format_accounts(result.account_rows))
