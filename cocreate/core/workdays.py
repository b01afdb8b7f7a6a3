"""Working days and working hours on a calendar whose holidays and make-up workdays are data.

Time limits (e.g. of grievance cases) are counted in working days or working hours. Without
calendar rows Monday to Friday are working days; a ``WorkCalendarDay`` row overrides its date
(国庆节 on a Thursday: off; 国庆调休上班 on a Saturday: on). Days are calendar days in
``settings.TIME_ZONE`` (Asia/Shanghai); every datetime taken or returned is timezone-aware.

The rules (docs/workdays.md has examples):

* ``add_working_days(start, n)``: the end (23:59:59.999999 local time) of the n-th working day
  *after* the day of ``start``. The start day itself is never counted, as in 民法典 §201 (开始的
  当日不计入): dispatched Friday 15:00 or Saturday 10:00, one working day ends Monday at 24:00.
  ``n = 0`` means "by the end of today": the start day if it is a working day, else the next one.
* ``add_working_hours(start, h)``: the moment ``h`` hours of office time have passed, counting only
  the office hours of working days (``settings.WORKDAY_HOURS``, by default 08:30–12:00 and
  14:00–17:30). A start outside office hours starts the clock at the next office period; what is
  left at the end of a day carries over to the next working day.
* ``working_days_between(start, end)``: the working days ``d`` with ``start`` day < ``d`` ≤ ``end``
  day, so ``working_days_between(s, add_working_days(s, n)) == n`` for ``n >= 1``; negative when
  ``end`` lies before ``start``.
* ``is_working_day(day)`` and ``next_working_day(day)`` (the first working day strictly after).

Each public function runs one query at most: it loads the overriding rows of the dates it can
reach (a few dozen a year) and then counts weekdays arithmetically between them, so a span of
60 working days or of ten years costs the same single query. For many computations in a row
(reports), :func:`load_calendar` loads a date range once and offers the same methods.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cocreate.core.models import WorkCalendarDay

__all__ = [
    "WorkCalendar",
    "add_working_days",
    "add_working_hours",
    "is_working_day",
    "load_calendar",
    "next_working_day",
    "office_hours",
    "working_days_between",
]

WEEKEND = frozenset({5, 6})  # date.weekday(): Saturday, Sunday
DEFAULT_WORKDAY_HOURS = "08:30-12:00,14:00-17:30"
END_OF_DAY = time.max
ONE_DAY = timedelta(days=1)


# --- Weekday arithmetic (no calendar rows) ----------------------------------------------------------


def _weekdays_upto(day: date) -> int:
    """How many Monday–Friday dates lie in [0001-01-01, day]; 0001-01-01 was a Monday."""
    ordinal = day.toordinal()
    return ordinal // 7 * 5 + min(ordinal % 7, 5)


def _weekdays_between(after: date, upto: date) -> int:
    """Monday–Friday dates d with after < d <= upto (0 when upto <= after)."""
    if upto <= after:
        return 0
    return _weekdays_upto(upto) - _weekdays_upto(after)


def _nth_weekday_after(after: date, n: int) -> date:
    """The n-th (n >= 1) Monday–Friday date strictly after ``after``."""
    target = _weekdays_upto(after) + n
    weeks, rest = divmod(target - 1, 5)
    return date.fromordinal(weeks * 7 + rest + 1)


def _is_default_working(day: date) -> bool:
    return day.weekday() not in WEEKEND


# --- Office hours -------------------------------------------------------------------------------


def _parse_time(text: str) -> time:
    hours, _sep, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


@lru_cache(maxsize=8)
def _parse_office_hours(spec: str | tuple[tuple[str, str], ...]) -> tuple[tuple[time, time], ...]:
    pairs: Iterable[tuple[str, str]]
    if isinstance(spec, str):
        parts = [p for p in spec.replace("，", ",").split(",") if p.strip()]
        pairs = [tuple(p.replace("–", "-").split("-", 1)) for p in parts]  # type: ignore[misc]
    else:
        pairs = spec
    try:
        periods = tuple((_parse_time(a), _parse_time(b)) for a, b in pairs)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"WORKDAY_HOURS: cannot read {spec!r}: {exc}") from exc
    if not periods:
        raise ImproperlyConfigured("WORKDAY_HOURS: no office hours configured")
    previous_end = time.min
    for begin, end in periods:
        if not begin < end or begin < previous_end:
            raise ImproperlyConfigured(f"WORKDAY_HOURS: periods must be increasing and not overlap: {spec!r}")
        previous_end = end
    return periods


def office_hours() -> tuple[tuple[time, time], ...]:
    """The office periods of a working day from ``settings.WORKDAY_HOURS``.

    The setting is a string ``"08:30-12:00,14:00-17:30"`` (the environment variable of the same
    name) or a sequence of ``(begin, end)`` pairs of ``"HH:MM"`` strings.
    """
    spec = getattr(settings, "WORKDAY_HOURS", DEFAULT_WORKDAY_HOURS) or DEFAULT_WORKDAY_HOURS
    if not isinstance(spec, str):
        spec = tuple((str(a), str(b)) for a, b in spec)
    return _parse_office_hours(spec)


def _office_day_length(periods: Sequence[tuple[time, time]]) -> timedelta:
    total = timedelta()
    for begin, end in periods:
        total += datetime.combine(date.min, end) - datetime.combine(date.min, begin)
    return total


# --- The calendar ---------------------------------------------------------------------------------


def _tz() -> tzinfo:
    return timezone.get_default_timezone()


def _local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("workdays needs timezone-aware datetimes")
    return timezone.localtime(moment, _tz())


def _as_day(value: date | datetime) -> date:
    """A calendar date in the installation's time zone (a datetime is a date subclass)."""
    if isinstance(value, datetime):
        return _local(value).date()
    return value


@dataclass(frozen=True)
class WorkCalendar:
    """The calendar rows of a date range, answering working-day questions without more queries.

    ``since``/``until`` bound the dates whose rows were loaded (``None``: unbounded); asking about
    a date outside them raises ValueError instead of silently ignoring rows that were not loaded.
    """

    overrides: Mapping[date, bool]
    since: date | None = None
    until: date | None = None
    # Dates whose status differs from the weekday default, sorted, with that status.
    _flip_days: list[date] = field(init=False, repr=False, compare=False)
    _flip_working: list[bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        flips = sorted((d, w) for d, w in self.overrides.items() if w != _is_default_working(d))
        object.__setattr__(self, "_flip_days", [d for d, _w in flips])
        object.__setattr__(self, "_flip_working", [w for _d, w in flips])

    def _check(self, *days: date) -> None:
        for day in days:
            if (self.since is not None and day < self.since) or (self.until is not None and day > self.until):
                raise ValueError(f"{day} lies outside the loaded calendar range {self.since}..{self.until}")

    def is_working_day(self, day: date | datetime) -> bool:
        """Whether ``day`` is a working day: its row if there is one, else Monday–Friday."""
        day = _as_day(day)
        self._check(day)
        status = self.overrides.get(day)
        return _is_default_working(day) if status is None else status

    def nth_working_day_after(self, day: date | datetime, n: int) -> date:
        """The n-th (n >= 1) working day strictly after ``day``."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day = _as_day(day)
        self._check(day)
        remaining, cursor = n, day
        # Between two overriding rows every date follows the weekday rule, so whole stretches
        # are counted arithmetically and the loop runs once per row, not once per day.
        start = bisect.bisect_right(self._flip_days, day)
        for flip_day, working in zip(self._flip_days[start:], self._flip_working[start:], strict=True):
            plain = _weekdays_between(cursor, flip_day - ONE_DAY)
            if plain >= remaining:
                result = _nth_weekday_after(cursor, remaining)
                self._check(result)
                return result
            remaining -= plain
            if working:
                remaining -= 1
                if remaining == 0:
                    return flip_day
            cursor = flip_day
        result = _nth_weekday_after(cursor, remaining)
        self._check(result)
        return result

    def next_working_day(self, day: date | datetime) -> date:
        """The first working day strictly after ``day``."""
        return self.nth_working_day_after(day, 1)

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """Working days d with start < d <= end (as dates); negative when end is before start."""
        first, last = _as_day(start), _as_day(end)
        if last < first:
            return -self.working_days_between(last, first)
        self._check(first, last)
        count = _weekdays_between(first, last)
        lo = bisect.bisect_right(self._flip_days, first)
        hi = bisect.bisect_right(self._flip_days, last)
        for working in self._flip_working[lo:hi]:
            count += 1 if working else -1
        return count

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day after the day of ``start`` (see the module doc)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = _local(start).date()
        if days == 0:
            target = day if self.is_working_day(day) else self.next_working_day(day)
        else:
            target = self.nth_working_day_after(day, days)
        return timezone.make_aware(datetime.combine(target, END_OF_DAY), _tz())

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` office hours after ``start`` have passed (see the module doc)."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        local = _local(start)
        if hours == 0:
            return local
        periods = office_hours()
        per_day = _office_day_length(periods)
        remaining = timedelta(hours=float(hours))
        day = local.date()
        clock = local.replace(tzinfo=None)
        if not self.is_working_day(day):
            day = self.next_working_day(day)
            clock = datetime.combine(day, time.min)
        while True:
            for begin, end in periods:
                period_start = max(datetime.combine(day, begin), clock)
                period_end = datetime.combine(day, end)
                if period_start >= period_end:
                    continue
                available = period_end - period_start
                if available >= remaining:
                    return timezone.make_aware(period_start + remaining, _tz())
                remaining -= available
            # Whole office days are skipped in one step, leaving (0, one day] for the last one.
            skip = (remaining - timedelta(microseconds=1)) // per_day
            remaining -= per_day * skip
            day = self.nth_working_day_after(day, skip + 1)
            clock = datetime.combine(day, time.min)


def load_calendar(since: date | datetime | None = None, until: date | datetime | None = None) -> WorkCalendar:
    """The calendar rows with since <= date <= until (either bound optional), in one query."""
    first = _as_day(since) if since is not None else None
    last = _as_day(until) if until is not None else None
    rows = WorkCalendarDay.objects.all()
    if first is not None:
        rows = rows.filter(date__gte=first)
    if last is not None:
        rows = rows.filter(date__lte=last)
    return WorkCalendar(overrides=dict(rows.values_list("date", "is_working_day")), since=first, until=last)


# --- One-call functions (one query each) ------------------------------------------------------------


def is_working_day(day: date | datetime) -> bool:
    """Whether ``day`` (a date, or an aware datetime taken in local time) is a working day."""
    day = _as_day(day)
    status = WorkCalendarDay.objects.filter(date=day).values_list("is_working_day", flat=True).first()
    return _is_default_working(day) if status is None else bool(status)


def next_working_day(day: date | datetime) -> date:
    """The first working day strictly after ``day``."""
    return load_calendar(since=day).next_working_day(day)


def add_working_days(start: datetime, days: int) -> datetime:
    """The deadline ``days`` working days after ``start``: the end of that day, local time."""
    return load_calendar(since=start).add_working_days(start, days)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The deadline ``hours`` office hours after ``start``, carried over non-working time."""
    return load_calendar(since=start).add_working_hours(start, hours)


def working_days_between(start: date | datetime, end: date | datetime) -> int:
    """Working days after the day of ``start`` up to and including the day of ``end``."""
    first, last = sorted((_as_day(start), _as_day(end)))
    return load_calendar(since=first, until=last).working_days_between(start, end)
