"""``manage.py backup [PATH]``: the database and the stored files in one checked archive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from cocreate.core import backup


class Command(BaseCommand):
    help = "Writes a consistent backup (database rows + files, manifest with checksums) to a .tar archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", type=Path, help="archive to write (default: var/backups/cocreate-<time>.tar)"
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"] or (
            Path(settings.VAR_DIR) / "backups" / f"cocreate-{timezone.localtime():%Y%m%d-%H%M%S}.tar"
        )
        started = time.monotonic()
        result = backup.backup(path, alias=options["database"])
        rows = sum(result.tables.values())
        self.stdout.write(
            f"backup: {path} — {len(result.tables)} tables, {rows} rows, {result.files} files, "
            f"{result.bytes / 1_048_576:.1f} MB in {time.monotonic() - started:.1f}s"
        )
