from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    """Work plans, tasks, progress reports and supervision (工作方案 / 督查督办)."""

    name = "cocreate.plans"
    label = "plans"
    verbose_name = _("工作方案")

    def ready(self) -> None:
        # Visibility and write rules are registered with the one access authority in core.
        from cocreate.plans import rules  # noqa: F401
