"""``manage.py export_plan ID OUT.xlsx [--as PHONE]``: a plan's tasks with progress and lights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cocreate.plans.management.commands.import_plan import command_actor
from cocreate.plans.models import Plan
from cocreate.plans.spreadsheets import plan_export


class Command(BaseCommand):
    help = "Exports a plan's task table (the import's layout, plus 进度 and 亮灯) to an xlsx file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plan", type=int, metavar="ID")
        parser.add_argument("out", type=Path, metavar="OUT.xlsx")
        parser.add_argument("--as", dest="phone", metavar="PHONE", help="export what this account sees")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = command_actor(options["phone"])
        plan = Plan.objects.visible_to(actor).filter(pk=options["plan"]).first()
        if plan is None:
            raise CommandError(f"no plan {options['plan']} visible to {actor.phone}")
        out: Path = options["out"]
        if out.suffix.lower() != ".xlsx":
            raise CommandError("the output file must end in .xlsx")
        data = plan_export(user=actor, plan=plan)
        out.write_bytes(data)
        self.stdout.write(f"wrote {out} ({len(data)} bytes)")
