"""manage.py case_sweep: run the reminder / 督办 sweep of grievance cases once (cron or by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cocreate.cases.jobs import sweep_cases


class Command(BaseCommand):
    help = "Sends due reminders and 催办/督办通知/通报 of grievance cases, each once per deadline."

    def handle(self, *args: Any, **options: Any) -> None:
        result = sweep_cases()
        steps = ", ".join(f"{kind}={count}" for kind, count in result.steps.items())
        self.stdout.write(f"case sweep: {steps}; notifications={result.notifications}")
