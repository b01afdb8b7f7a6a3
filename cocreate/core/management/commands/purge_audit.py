"""Delete audit events older than ``AUDIT_RETENTION_DAYS`` (at least 180): ``manage.py purge_audit``.

The same purge runs nightly as the Huey job ``core.jobs.purge_audit``; ``--dry-run`` only counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cocreate.core import audit
from cocreate.core.models import AuditEvent


class Command(BaseCommand):
    help = "删除超过保存期限（AUDIT_RETENTION_DAYS，至少180天）的审计日志。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="只统计将删除的条数，不删除")

    def handle(self, *args: Any, **options: Any) -> None:
        days = audit.retention_days()
        if days < audit.MIN_RETENTION_DAYS:
            raise CommandError(f"AUDIT_RETENTION_DAYS={days}：审计日志至少保存{audit.MIN_RETENTION_DAYS}天")
        if options["dry_run"]:
            count = AuditEvent.objects.filter(at__lt=timezone.now() - timedelta(days=days)).count()
            self.stdout.write(f"{count} 条审计日志超过 {days} 天（未删除）")
            return
        deleted = audit.purge_expired()
        self.stdout.write(f"已删除 {deleted} 条超过 {days} 天的审计日志")
