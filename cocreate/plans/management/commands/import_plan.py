"""``manage.py import_plan FILE.xlsx --region CODE [--plan ID | --title … --unit … --starts … --ends …]``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from cocreate.core.models import Region, User
from cocreate.plans.models import Plan
from cocreate.plans.services import plan_create
from cocreate.plans.spreadsheets import CellError, UnitIndex, plan_import


def command_actor(phone: str | None) -> User:
    """The account a command acts as: ``--as PHONE``, else the first active superuser (the operator)."""
    if phone:
        actor = User.objects.filter(phone=phone, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active account with phone {phone}")
        return actor
    actor = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if actor is None:
        raise CommandError("no active superuser to act as; pass --as PHONE")
    return actor


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {text}") from exc


class Command(BaseCommand):
    help = (
        "Imports a task table (xlsx: 序号, 任务, 牵头单位, 责任单位, 配合单位, 责任领导, 完成时限, 目标 …, "
        "or the 整治项目清单 layout) into an existing plan (--plan) or a new one (--title, --unit, "
        "--starts, --ends). Nothing is written if any row is bad; every problem is printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--region", required=True, metavar="CODE", help="区划代码 of the plan's region")
        parser.add_argument("--plan", type=int, metavar="ID", help="add the tasks to this plan")
        parser.add_argument("--title", help="create a plan with this title")
        parser.add_argument("--unit", metavar="NAME", help="issuing unit of the new plan (印发单位)")
        parser.add_argument("--starts", metavar="YYYY-MM-DD", help="start of the new plan")
        parser.add_argument("--ends", metavar="YYYY-MM-DD", help="end of the new plan")
        parser.add_argument("--doc-number", default="", help="文号 of the new plan")
        parser.add_argument("--as", dest="phone", metavar="PHONE", help="act as this account (default: a superuser)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = command_actor(options["phone"])
        region = Region.objects.filter(code=options["region"]).first()
        if region is None:
            raise CommandError(f"no region with code {options['region']}")
        if options["plan"] is None and not all(options[k] for k in ("title", "unit", "starts", "ends")):
            raise CommandError("give --plan ID, or --title, --unit, --starts and --ends for a new plan")
        try:
            with transaction.atomic():
                plan = self._plan(actor, region, options)
                with path.open("rb") as handle:
                    result = plan_import(
                        actor=actor, plan=plan, file=handle, filename=path.name, new_plan=options["plan"] is None
                    )
                if not result.ok:
                    for error in result.errors:
                        self.stderr.write(str(error))
                    # Also undoes a plan created above: a failed import leaves nothing behind.
                    raise CommandError(f"{len(result.errors)} problem(s); nothing was imported")
        except PermissionDenied as exc:
            raise CommandError(f"permission denied: {exc}") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        children = sum(len(t.children.all()) for t in result.created_tasks)
        self.stdout.write(
            f"plan {plan.pk} ({plan.title}): imported {len(result.created_tasks)} task(s)"
            + (f", {children} village task(s)" if children else "")
        )

    def _plan(self, actor: User, region: Region, options: dict[str, Any]) -> Plan:
        if options["plan"] is not None:
            plan = Plan.objects.visible_to(actor).select_related("region").filter(pk=options["plan"]).first()
            if plan is None:
                raise CommandError(f"no plan {options['plan']} visible to {actor.phone}")
            if plan.region_id != region.pk:
                raise CommandError(f"plan {plan.pk} belongs to region {plan.region.code}, not {region.code}")
            return plan
        try:
            unit = UnitIndex(actor=actor, region=region).find(options["unit"])
        except CellError as exc:
            raise CommandError(f"--unit: {exc}") from exc
        return plan_create(
            actor=actor,
            title=options["title"],
            issuing_unit=unit,
            region=region,
            starts_on=_date(options["starts"]),
            ends_on=_date(options["ends"]),
            doc_number=options["doc_number"],
        )
