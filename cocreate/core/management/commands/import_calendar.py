"""``manage.py import_calendar FILE… | --bundled``: holidays and make-up workdays from xlsx or csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cocreate.core.models import User
from cocreate.core.work_calendar import bundled_files, calendar_import


class Command(BaseCommand):
    help = (
        "Imports the working-day calendar from xlsx or csv files with columns 日期, 类型 (休/班) "
        "and optionally 名称, 备注. Nothing is written from a file with any bad row. "
        "--bundled imports the official arrangements shipped in cocreate/core/fixtures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", type=Path)
        parser.add_argument(
            "--bundled", action="store_true", help="import every cn_holidays_YYYY.csv shipped with cocreate"
        )
        parser.add_argument(
            "--as",
            dest="phone",
            metavar="PHONE",
            help="import with this account's rights (default: as the system, without limits)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[Path] = list(options["files"])
        if options["bundled"]:
            files += bundled_files()
        if not files:
            raise CommandError("name a file to import, or use --bundled")
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}")
        actor = None
        if options["phone"]:
            actor = User.objects.filter(phone=options["phone"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active account with phone {options['phone']}")
        failed = 0
        for path in files:
            with path.open("rb") as handle:
                try:
                    result = calendar_import(actor=actor, file=handle, filename=path.name)
                except PermissionDenied as exc:
                    raise CommandError(f"{options['phone']} may not change the calendar (管理员 only)") from exc
            if not result.ok:
                failed += 1
                for error in result.errors:
                    self.stderr.write(f"{path.name}: {error}")
                continue
            self.stdout.write(
                f"{path.name}: created {len(result.created)}, updated {len(result.updated)}, "
                f"unchanged {len(result.unchanged)}"
            )
            if result.updated:
                self.stdout.write("  updated: " + ", ".join(f"{d:%Y-%m-%d}" for d in result.updated))
        if failed:
            raise CommandError(f"{failed} file(s) had bad rows; nothing was imported from them")
