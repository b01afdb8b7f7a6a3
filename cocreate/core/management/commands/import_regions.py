"""``manage.py import_regions FILE [--as PHONE]``: towns, villages and grids from xlsx or csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cocreate.core.models import User
from cocreate.core.regions import regions_import


class Command(BaseCommand):
    help = (
        "Imports 乡镇/街道, 村/社区 and 网格 from an xlsx or csv with columns 代码, 名称 "
        "and optionally 上级代码, 层级. Nothing is written if any row is bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--as",
            dest="phone",
            metavar="PHONE",
            help="import with this account's rights (default: as the system, without limits)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = None
        if options["phone"]:
            actor = User.objects.filter(phone=options["phone"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active account with phone {options['phone']}")
        with path.open("rb") as handle:
            result = regions_import(actor=actor, file=handle, filename=path.name)
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(result.errors)} bad row(s); nothing was imported")
        self.stdout.write(f"created {result.created}, renamed {result.updated}, unchanged {result.unchanged}")
