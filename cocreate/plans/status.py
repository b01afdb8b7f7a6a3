"""A task's status and traffic light (亮灯), computed from its progress and the calendar.

Nothing here is stored: the light is recomputed for the day asked about, so it changes with
the calendar even when nobody reports. Functions take ``today`` so tests and reports can ask
about any date; they read ``task.plan`` and ``task.milestones.all()``, so list callers should
``select_related("plan")`` and ``prefetch_related("milestones")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.plans.models import Task

HUNDRED = Decimal("100")
CENT = Decimal("0.01")


class Light(models.TextChoices):
    GREEN = "green", gettext_lazy("绿灯")
    YELLOW = "yellow", gettext_lazy("黄灯")
    RED = "red", gettext_lazy("红灯")
    BLUE = "blue", gettext_lazy("蓝灯")
    DONE = "done", gettext_lazy("已完成")
    NOT_STARTED = "not_started", gettext_lazy("未开始")


@dataclass(frozen=True)
class TaskStatus:
    """A task's light on one day, with the expected and reported progress and the reason."""

    light: Light
    expected: Decimal
    progress: Decimal
    reason: str

    @property
    def label(self) -> str:
        return str(self.light.label)


def expected_progress(task: Task, today: date) -> Decimal:
    """序时进度: days elapsed ÷ planned duration × 100, clamped to 0–100."""
    if today <= task.starts_on:
        return Decimal(0).quantize(CENT)
    if today >= task.deadline:
        return HUNDRED.quantize(CENT)
    elapsed = (today - task.starts_on).days
    duration = (task.deadline - task.starts_on).days
    return (Decimal(elapsed) / Decimal(duration) * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def task_light(task: Task, today: date, *, progress: Decimal | None = None) -> TaskStatus:
    """The light of a task on ``today``.

    Done at 100 %; not started before its start; red when overdue, when a milestone due by
    today is not reached, or when more than ``plan.red_after_points`` behind 序时进度; blue when
    due within ``plan.blue_within_days``; yellow when more than ``plan.yellow_after_points``
    behind; green otherwise.
    """
    plan = task.plan
    current = Decimal(task.progress if progress is None else progress).quantize(CENT)
    expected = expected_progress(task, today)

    def status(light: Light, reason: str) -> TaskStatus:
        return TaskStatus(light=light, expected=expected, progress=current, reason=reason)

    if current >= HUNDRED:
        return status(Light.DONE, _("已完成"))
    if today < task.starts_on:
        return status(Light.NOT_STARTED, _("%(date)s开始") % {"date": f"{task.starts_on:%Y-%m-%d}"})
    if today > task.deadline:
        return status(Light.RED, _("已逾期%(days)d天") % {"days": (today - task.deadline).days})
    missed = [m for m in task.milestones.all() if m.due_on <= today and current < m.percent]
    if missed:
        last = max(missed, key=lambda m: m.due_on)
        return status(
            Light.RED,
            _("未完成时间节点：%(date)s前应完成%(percent)s%%")
            % {"date": f"{last.due_on:%Y-%m-%d}", "percent": _pct(last.percent)},
        )
    behind = expected - current
    if behind > plan.red_after_points:
        return status(Light.RED, _("落后序时进度%(points)s个百分点") % {"points": _pct(behind)})
    days_left = (task.deadline - today).days
    if days_left <= plan.blue_within_days:
        return status(Light.BLUE, _("距完成时限还有%(days)d天") % {"days": days_left})
    if behind > plan.yellow_after_points:
        return status(Light.YELLOW, _("落后序时进度%(points)s个百分点") % {"points": _pct(behind)})
    return status(Light.GREEN, _("进度正常"))


def _pct(value: Decimal) -> str:
    """A percentage without trailing zeros: 40, 12.5."""
    text = f"{Decimal(value).quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
