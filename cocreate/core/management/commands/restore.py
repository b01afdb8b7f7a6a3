"""``manage.py restore ARCHIVE [--yes]``: replaces the database's content and files with a backup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cocreate.core import backup


class Command(BaseCommand):
    help = (
        "Restores a backup made by `manage.py backup` into this database (migrated to the same release): "
        "checks every checksum first, then replaces every table's rows in one transaction and writes the files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--yes", action="store_true", help="replace a database that already holds accounts (all its data is lost)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        archive: Path = options["archive"]
        if not archive.is_file():
            raise CommandError(f"{archive}: no such file")
        alias = options["database"]
        if get_user_model()._default_manager.using(alias).exists() and not options["yes"]:
            raise CommandError(
                "this database already holds accounts; restoring replaces ALL its data — add --yes to go on"
            )
        started = time.monotonic()
        try:
            counts = backup.restore(archive, alias=alias)
        except backup.BackupError as exc:
            raise CommandError(f"restore refused, nothing changed: {exc}") from exc
        self.stdout.write(
            f"restore: {archive} — {len(counts)} tables, {sum(counts.values())} rows "
            f"in {time.monotonic() - started:.1f}s"
        )
