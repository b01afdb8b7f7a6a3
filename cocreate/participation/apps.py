from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipationConfig(AppConfig):
    """Co-decision (决策共谋): needs, the problem list, deliberation, lawful votes, notices."""

    name = "cocreate.participation"
    label = "participation"
    verbose_name = _("决策共谋")

    def ready(self) -> None:
        # Visibility rules are registered with the one access authority in core.
        from cocreate.participation import rules  # noqa: F401
