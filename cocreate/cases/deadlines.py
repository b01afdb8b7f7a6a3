"""Deadlines of a case from its ``TimeLimit`` rows and the working-day calendar.

The calendar is ``cocreate.core.workdays`` (holidays and make-up workdays as data, docs/workdays.md):
N working days end at the end of the N-th working day after the start day; hours count office
hours only. Every deadline goes through :func:`add_limit`, the one place that talks to the calendar.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from cocreate.cases.defaults import LIMITS
from cocreate.cases.models import Case, LimitUnit, TimeLimit
from cocreate.core import workdays


def add_limit(start: datetime, amount: int, unit: str) -> datetime:
    """``start`` plus ``amount`` working days or working hours on the calendar."""
    if unit == LimitUnit.HOURS:
        return workdays.add_working_hours(start, amount)
    return workdays.add_working_days(start, amount)


def add_working_days(start: datetime, days: int) -> datetime:
    return add_limit(start, days, LimitUnit.WORKDAYS)


def limit_for(case: Case, step: str) -> tuple[int, str]:
    """(amount, unit) for one step of ``case``: its category's row, else the default row, else the code default."""
    same_category = Q(category_id=case.category_id) if case.category_id is not None else Q(pk__in=[])
    rows = {
        row.category_id: row
        for row in TimeLimit.objects.filter(same_category | Q(category__isnull=True), urgency=case.urgency, step=step)
    }
    row = rows.get(case.category_id) if case.category_id is not None else None
    row = row or rows.get(None)
    if row is not None:
        return row.amount, row.unit
    for urgency, limit_step, amount, unit in LIMITS:
        if urgency == case.urgency and limit_step == step:
            return amount, unit
    raise LookupError(f"no time limit for {case.urgency}/{step}")


def step_deadline(case: Case, step: str, start: datetime) -> datetime:
    amount, unit = limit_for(case, step)
    return add_limit(start, amount, unit)
