from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Regions, units, people, households, roles, evidence, notifications."""

    name = "cocreate.core"
    label = "core"
    verbose_name = _("基础数据")

    def ready(self) -> None:
        # Signal receivers for cross-cutting concerns only (login records), see CONVENTIONS.md.
        # The audit trail's system check (AUDIT_RETENTION_DAYS ≥ 180) registers on import.
        from cocreate.core import (
            audit,  # noqa: F401
            signals,  # noqa: F401
        )

        # Every app's jobs.py registers its Huey tasks; run_huey itself only looks for tasks.py.
        autodiscover_modules("jobs")
