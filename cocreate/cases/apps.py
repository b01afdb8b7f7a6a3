from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    """Grievances and disputes (矛盾纠纷化解): intake, routing by level, time limits, rating."""

    name = "cocreate.cases"
    label = "cases"
    verbose_name = _("矛盾纠纷化解")

    def ready(self) -> None:
        # Visibility and write rules are registered with the one access authority in core; the
        # crypto module registers its system check on import.
        from cocreate.cases import rules  # noqa: F401
        from cocreate.core import crypto  # noqa: F401
