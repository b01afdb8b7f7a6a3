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
from fractions import Fraction
from typing import Any

from django.db import models
from django.db.models import Case, Exists, ExpressionWrapper, F, Func, IntegerField, OuterRef, Q, Value, When
from django.db.models.fields import DateField, DecimalField
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.plans.models import Milestone, Task

HUNDRED = Decimal("100")
CENT = Decimal("0.01")


class Light(models.TextChoices):
    """The traffic light (亮灯) of a task on one day."""

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


def _exact_expected(task: Task, today: date) -> Fraction:
    if today <= task.starts_on:
        return Fraction(0)
    if today >= task.deadline:
        return Fraction(100)
    return Fraction((today - task.starts_on).days * 100, (task.deadline - task.starts_on).days)


def _behind_more_than(task: Task, today: date, progress: Decimal, points: int) -> bool:
    """Exactly ``expected − progress > points``, compared as light_sql does so pages and dashboards agree."""
    if today <= task.starts_on:
        return -progress > points
    if today >= task.deadline:
        return HUNDRED - progress > points
    # elapsed ÷ duration × 100 − progress > points  ⇔  elapsed × 100 > (progress + points) × duration
    return (today - task.starts_on).days * 100 > (progress + points) * (task.deadline - task.starts_on).days


def expected_progress(task: Task, today: date) -> Decimal:
    """序时进度: days elapsed ÷ planned duration × 100, clamped to 0–100."""
    exact = _exact_expected(task, today)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


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
    if _behind_more_than(task, today, current, plan.red_after_points):
        return status(Light.RED, _("落后序时进度%(points)s个百分点") % {"points": _pct(behind)})
    days_left = (task.deadline - today).days
    if days_left <= plan.blue_within_days:
        return status(Light.BLUE, _("距完成时限还有%(days)d天") % {"days": days_left})
    if _behind_more_than(task, today, current, plan.yellow_after_points):
        return status(Light.YELLOW, _("落后序时进度%(points)s个百分点") % {"points": _pct(behind)})
    return status(Light.GREEN, _("进度正常"))


def _pct(value: Decimal) -> str:
    """A percentage without trailing zeros: 40, 12.5."""
    text = f"{Decimal(value).quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- The same light in SQL, for counting many tasks in one query ------------------------------------


class DaysBetween(Func):
    """Whole days from ``start`` to ``end`` (dates), on SQLite and PostgreSQL."""

    output_field = IntegerField()

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end)

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, Any]:
        start_sql, start_params = compiler.compile(self.source_expressions[0])
        end_sql, end_params = compiler.compile(self.source_expressions[1])
        params = [*end_params, *start_params]
        if connection.vendor == "sqlite":
            return f"CAST(julianday({end_sql}) - julianday({start_sql}) AS INTEGER)", params
        # PostgreSQL: date - date is an integer number of days.
        return f"({end_sql} - {start_sql})", params


def light_sql(today: date, prefix: str = "") -> Case:
    """A CASE expression giving the same light as :func:`task_light`, for ``annotate``.

    ``prefix`` reaches the task through a relation (``"task__"`` from TaskUnit). The task's plan
    is joined for the thresholds; missed milestones are an EXISTS subquery.
    """

    def f(name: str) -> F:
        return F(f"{prefix}{name}")

    day = Value(today, output_field=DateField())
    decimal: Any = DecimalField(max_digits=20, decimal_places=4)
    elapsed = DaysBetween(f("starts_on"), day)
    duration = DaysBetween(f("starts_on"), f("deadline"))

    def behind_more_than(points_field: str) -> GreaterThan:
        # expected − progress > points  ⇔  elapsed × 100 > (progress + points) × duration
        left = ExpressionWrapper(elapsed * 100, output_field=decimal)
        right = ExpressionWrapper((f("progress") + f(f"plan__{points_field}")) * duration, output_field=decimal)
        return GreaterThan(left, right)

    pk = OuterRef(f"{prefix}pk") if prefix else OuterRef("pk")
    missed = Milestone.objects.filter(task=pk, due_on__lte=today, percent__gt=OuterRef(f"{prefix}progress"))
    return Case(
        When(Q(**{f"{prefix}progress__gte": HUNDRED}), then=Value(Light.DONE.value)),
        When(Q(**{f"{prefix}starts_on__gt": today}), then=Value(Light.NOT_STARTED.value)),
        When(Q(**{f"{prefix}deadline__lt": today}), then=Value(Light.RED.value)),
        When(Exists(missed), then=Value(Light.RED.value)),
        When(behind_more_than("red_after_points"), then=Value(Light.RED.value)),
        When(
            LessThanOrEqual(DaysBetween(day, f("deadline")), f("plan__blue_within_days")),
            then=Value(Light.BLUE.value),
        ),
        When(behind_more_than("yellow_after_points"), then=Value(Light.YELLOW.value)),
        default=Value(Light.GREEN.value),
        output_field=models.CharField(),
    )
