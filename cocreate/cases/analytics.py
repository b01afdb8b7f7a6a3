"""Figures behind the analytics pages, their xlsx export and the API (issue 5 §5, §7; docs/metrics.md).

* :func:`case_analytics` — the six rates (numerator ÷ denominator), the volumes (registered,
  dispatched, closed, overdue now) and breakdowns by period, category, region, unit and channel.
* :func:`case_supervision` — the supervisor's view: open, overdue and due-soon cases per level
  and per unit, what waits for the level above, the 督办 ladder steps sent, the oldest overdue.

Everything is counted in SQL with conditional aggregation over the cases the user may see
(``metrics.cases_for``): one query per breakdown for the cases and one for the ratings, whatever
the number of cases, regions or units. Python only adds up the grouped rows (bounded by the
number of groups, never by the number of cases). The rating rates reuse ``metrics``' own query;
the case rates are restated here as conditional counts so that one scan gives every rate and
volume at once — ``tests/test_analytics.py`` holds the totals equal to ``metrics.case_rates``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case as Switch
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.cases import jobs, metrics, rules, selectors
from cocreate.cases.deadlines import add_working_days
from cocreate.cases.metrics import LABELS, ORDER, CaseFilters, Rate, UnitRates
from cocreate.cases.models import (
    FINAL_STATES,
    Case,
    CaseCategory,
    CaseChannel,
    CaseLevel,
    CaseReminder,
    CaseReturn,
    CaseStatus,
    ExtensionRequest,
    Outcome,
    ReminderKind,
    RequestStatus,
)
from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, Unit, subtree_q

WEEK = "week"
MONTH = "month"
PERIOD, CATEGORY, REGION, UNIT, CHANNEL = "period", "category", "region", "unit", "channel"
DIMENSIONS = (PERIOD, CATEGORY, REGION, UNIT, CHANNEL)
VOLUMES = ("registered", "dispatched", "closed", "overdue")
# The rate the unit table is ranked by (docs/metrics.md "Units and ranking").
RANK_BY = metrics.SATISFACTION
# "即将到期" on the supervisor's view: the same horizon as the work queue's tab.
SOON_WORKING_DAYS = 2
WAITING_STATES = (CaseStatus.REGISTERED, CaseStatus.ACCEPTED, CaseStatus.TRIAGED)


@dataclass(frozen=True)
class AnalyticsFilters:
    """The period (local dates, both ends included), its buckets, and the narrowings of ``CaseFilters``."""

    start: date
    end: date
    granularity: str = WEEK
    region: Region | None = None
    unit: Unit | None = None
    category: CaseCategory | None = None
    channel: str = ""

    @property
    def cases(self) -> CaseFilters:
        return CaseFilters(
            start=self.start,
            end=self.end,
            region=self.region,
            unit=self.unit,
            category=self.category,
            channel=self.channel,
        )


@dataclass(frozen=True)
class Volume:
    """How many cases were registered, dispatched and closed in the period; how many of those
    dispatched in it are overdue now (``jobs.overdue_q``)."""

    registered: int = 0
    dispatched: int = 0
    closed: int = 0
    overdue: int = 0


@dataclass
class Row:
    """One group of a breakdown (or the total): its volumes and its six rates."""

    key: str
    label: str
    volume: Volume
    rates: dict[str, Rate]
    # Units only: the place in the ranking by RANK_BY; None below the minimum (or without a rate).
    rank: int | None = None
    ranked: bool = False


@dataclass
class Breakdown:
    key: str
    label: str
    rows: list[Row]
    note: str = ""


@dataclass
class Analytics:
    filters: AnalyticsFilters
    total: Row
    breakdowns: dict[str, Breakdown]
    min_for_ranking: int
    rank_by: str = RANK_BY
    now: datetime = field(default_factory=timezone.now)


# --- Counting ------------------------------------------------------------------------------------------


def _event_q(filters: CaseFilters) -> dict[str, Q]:
    """The event each measure is dated by: registration, dispatch (with a lead unit), closing."""
    return {
        "created_at": metrics._in_period("created_at", filters),
        "dispatched_at": metrics._in_period("dispatched_at", filters)
        & Q(dispatched_at__isnull=False, lead_unit__isnull=False),
        "closed_at": metrics._in_period("closed_at", filters) & Q(status=CaseStatus.CLOSED),
    }


def _measures(filters: CaseFilters, now: datetime) -> dict[str, tuple[str, Count]]:
    """name → (the event it is dated by, its conditional count) — the definitions of docs/metrics.md."""
    event = _event_q(filters)
    created, dispatched, closed = event["created_at"], event["dispatched_at"], event["closed_at"]
    # A dispatch still inside its first-contact limit and not yet contacted is undecided: left out.
    undecided = Q(first_contact_at__isnull=True, first_contact_due_at__gte=now)
    contacted_in_time = Q(
        signed_at__isnull=False,
        first_contact_at__isnull=False,
        first_contact_due_at__isnull=False,
        first_contact_at__lte=F("first_contact_due_at"),
    )
    answered = closed & Q(due_at__isnull=False, replied_at__isnull=False)
    mediated = closed & Q(outcome__in=metrics.MEDIATED_OUTCOMES)
    return {
        "registered": ("created_at", Count("pk", filter=created)),
        "dispatched": ("dispatched_at", Count("pk", filter=dispatched)),
        "overdue": ("dispatched_at", Count("pk", filter=dispatched & jobs.overdue_q(now))),
        "response_n": ("dispatched_at", Count("pk", filter=dispatched & contacted_in_time)),
        "response_d": ("dispatched_at", Count("pk", filter=dispatched & ~undecided)),
        "one_dispatch_n": ("dispatched_at", Count("pk", filter=dispatched & Q(was_returned=False))),
        "closed": ("closed_at", Count("pk", filter=closed)),
        "on_time_n": ("closed_at", Count("pk", filter=answered & Q(replied_at__lte=F("due_at")))),
        "on_time_d": ("closed_at", Count("pk", filter=answered)),
        "mediation_n": ("closed_at", Count("pk", filter=closed & Q(outcome=Outcome.RESOLVED))),
        "mediation_d": ("closed_at", Count("pk", filter=mediated)),
    }


def _with_returns(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.alias(was_returned=Exists(CaseReturn.objects.filter(case=OuterRef("pk"))))


def _case_counts(
    cases: QuerySet[Case], filters: CaseFilters, now: datetime, group: Mapping[str, Any], events: Iterable[str]
) -> list[dict[str, Any]]:
    """One grouped query: the measures dated by ``events``, over the cases with one of those events."""
    events = list(events)
    measures = {name: count for name, (event, count) in _measures(filters, now).items() if event in events}
    event_q = _event_q(filters)
    base = Q(pk__in=[])
    for event in events:
        base |= event_q[event]
    return list(_with_returns(cases).filter(base).annotate(**group).values(*group).annotate(**measures).order_by())


def _rating_counts(cases: QuerySet[Case], filters: CaseFilters, group: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One grouped query over each case's latest rating in the period (metrics' own definition)."""
    base, counts = metrics._ratings(cases, filters)
    return list(base.annotate(**group).values(*group).annotate(**counts).order_by())


def _add(into: dict[Any, dict[str, Any]], key: Any, row: Mapping[str, Any], names: Iterable[str]) -> None:
    target = into.setdefault(key, {})
    for name in names:
        target[name] = target.get(name, 0) + (row.get(name) or 0)


def _row(key: str, label: str, counts: Mapping[str, Any]) -> Row:
    rates = {
        metrics.RESPONSE: Rate(metrics.RESPONSE, Decimal(counts.get("response_n", 0)), counts.get("response_d", 0)),
        metrics.ONE_DISPATCH: Rate(
            metrics.ONE_DISPATCH, Decimal(counts.get("one_dispatch_n", 0)), counts.get("dispatched", 0)
        ),
        metrics.ON_TIME: Rate(metrics.ON_TIME, Decimal(counts.get("on_time_n", 0)), counts.get("on_time_d", 0)),
        metrics.MEDIATION: Rate(metrics.MEDIATION, Decimal(counts.get("mediation_n", 0)), counts.get("mediation_d", 0)),
        **metrics._rates_from(counts.get("ratings", {}), "ratings"),
    }
    volume = Volume(**{name: int(counts.get(name, 0)) for name in VOLUMES})
    return Row(key=key, label=label, volume=volume, rates={k: rates[k] for k in ORDER})


CASE_NAMES = (
    "registered",
    "dispatched",
    "overdue",
    "response_n",
    "response_d",
    "one_dispatch_n",
    "closed",
    "on_time_n",
    "on_time_d",
    "mediation_n",
    "mediation_d",
)
RATING_NAMES = ("d", "resolved", *(f"s_{value}" for value in metrics.Satisfaction.values))


def _grouped(
    cases: QuerySet[Case],
    filters: CaseFilters,
    now: datetime,
    case_group: Mapping[str, Any],
    rating_group: Mapping[str, Any],
) -> dict[Any, dict[str, Any]]:
    """Case and rating counts by group key (the first value of each group mapping); two queries."""
    found: dict[Any, dict[str, Any]] = {}
    case_key = next(iter(case_group))
    for row in _case_counts(cases, filters, now, case_group, ("created_at", "dispatched_at", "closed_at")):
        _add(found, row[case_key], row, CASE_NAMES)
        found[row[case_key]].setdefault("_labels", row)
    rating_key = next(iter(rating_group))
    for row in _rating_counts(cases, filters, rating_group):
        found.setdefault(row[rating_key], {})
        found[row[rating_key]].setdefault("_labels", row)
        ratings = found[row[rating_key]].setdefault("ratings", {})
        for name in RATING_NAMES:
            ratings[name] = ratings.get(name, 0) + (row.get(name) or 0)
    return found


def _sum(groups: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"ratings": {}}
    for counts in groups:
        for name in CASE_NAMES:
            total[name] = total.get(name, 0) + counts.get(name, 0)
        for name in RATING_NAMES:
            total["ratings"][name] = total["ratings"].get(name, 0) + counts.get("ratings", {}).get(name, 0)
    return total


# --- Breakdowns ------------------------------------------------------------------------------------------


def _by_category(cases: QuerySet[Case], filters: CaseFilters, now: datetime) -> tuple[Breakdown, dict[str, Any]]:
    found = _grouped(
        cases,
        filters,
        now,
        {"g": F("category_id"), "g_name": F("category__name"), "g_order": F("category__order")},
        {"g": F("case__category_id"), "g_name": F("case__category__name"), "g_order": F("case__category__order")},
    )
    keys = sorted(found, key=lambda k: (k is None, found[k]["_labels"]["g_order"] or 0, k or 0))
    rows = [_row(str(k or ""), found[k]["_labels"]["g_name"] or _("未分类"), found[k]) for k in keys]
    return Breakdown(CATEGORY, _("按类别"), rows), _sum(found.values())


def _by_channel(cases: QuerySet[Case], filters: CaseFilters, now: datetime) -> Breakdown:
    found = _grouped(cases, filters, now, {"g": F("channel")}, {"g": F("case__channel")})
    labels = dict(CaseChannel.choices)
    order = list(labels)
    keys = sorted(found, key=lambda k: order.index(k) if k in order else len(order))
    return Breakdown(CHANNEL, _("按来源渠道"), [_row(k, str(labels.get(k, k)), found[k]) for k in keys])


def _by_unit(cases: QuerySet[Case], filters: CaseFilters, now: datetime, min_cases: int) -> Breakdown:
    found = _grouped(
        cases,
        filters,
        now,
        {"g": F("lead_unit_id"), "g_name": F("lead_unit__name")},
        {"g": F("case__lead_unit_id"), "g_name": F("case__lead_unit__name")},
    )
    rows = {k: _row(str(k or ""), found[k]["_labels"]["g_name"] or _("未派单"), found[k]) for k in found}
    ranked = metrics.rank_units(
        [UnitRates(unit_id=k, unit_name=rows[k].label, rates=rows[k].rates) for k in rows if k is not None],
        rank_by=RANK_BY,
        min_cases=min_cases,
    )
    ordered = []
    for unit in ranked:
        row = rows[unit.unit_id]
        row.rank, row.ranked = unit.rank, unit.rank is not None
        ordered.append(row)
    if None in rows:  # registered but not dispatched: volumes only, never ranked
        ordered.append(rows[None])
    note = _("受理评价不足 %(n)d 件的单位不参与排名（按%(rate)s的评价数计），仅列出数据。") % {
        "n": min_cases,
        "rate": LABELS[RANK_BY],
    }
    return Breakdown(UNIT, _("按主办单位"), ordered, note)


def region_groups(user: Any, region: Region | None) -> tuple[list[Region], Region | None]:
    """The regions a region breakdown shows: the chosen region's children, else those of the
    viewer's area (one area: its children; several: the areas themselves). Returns (groups, parent)."""
    if region is None:
        scope = access.scope_of(user)
        if scope.is_superuser:
            roots = list(Region.objects.filter(parent__isnull=True, is_active=True).order_by("path"))
        else:
            roots = list(Region.objects.filter(path__in=scope.paths_for(rules.CASE_READERS)).order_by("path"))
        # Walk down while the area is a single region with a single child (province → city → county).
        while len(roots) == 1 and roots[0].level < RegionLevel.COUNTY:
            children = list(Region.objects.filter(parent=roots[0], is_active=True).order_by("path")[:2])
            if len(children) != 1:
                break
            roots = children
        if len(roots) != 1:
            return roots, None
        region = roots[0]
    children = list(Region.objects.filter(parent=region, is_active=True).order_by("path"))
    return children, region


def _region_expression(groups: list[Region], prefix: str) -> Any:
    if not groups:
        return Value(None, output_field=IntegerField())
    return Switch(
        *[When(subtree_q(r.path, f"{prefix}region__path"), then=Value(r.pk)) for r in groups],
        default=Value(None),
        output_field=IntegerField(),
    )


def _by_region(
    cases: QuerySet[Case], filters: CaseFilters, now: datetime, groups: list[Region], parent: Region | None
) -> Breakdown:
    if groups:
        found = _grouped(
            cases, filters, now, {"g": _region_expression(groups, "")}, {"g": _region_expression(groups, "case__")}
        )
        names = {r.pk: r.name for r in groups}
        # Every child region is listed, a village without cases too (a zero is a figure).
        rows = [_row(str(r.pk), names[r.pk], found.get(r.pk, {})) for r in groups]
        if None in found:  # cases recorded at the parent region itself
            label = _("%(name)s（本级）") % {"name": parent.name} if parent else _("其他")
            rows.append(_row("", label, found[None]))
    else:
        found = _grouped(
            cases,
            filters,
            now,
            {"g": F("region_id"), "g_name": F("region__name"), "g_path": F("region__path")},
            {"g": F("case__region_id"), "g_name": F("case__region__name"), "g_path": F("case__region__path")},
        )
        keys = sorted(found, key=lambda k: found[k]["_labels"]["g_path"] or "")
        rows = [_row(str(k), found[k]["_labels"]["g_name"], found[k]) for k in keys]
    label = _("按区域（%(name)s下级）") % {"name": parent.name} if parent else _("按区域")
    return Breakdown(REGION, label, rows)


def period_buckets(filters: AnalyticsFilters) -> list[date]:
    """Every bucket start from the period's start to its end (weeks start on Monday)."""
    if filters.granularity == MONTH:
        current = filters.start.replace(day=1)
    else:
        current = filters.start - timedelta(days=filters.start.weekday())
    buckets = []
    while current <= filters.end:
        buckets.append(current)
        if filters.granularity == MONTH:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=7)
    return buckets


def bucket_label(start: date, granularity: str) -> str:
    if granularity == MONTH:
        return f"{start:%Y-%m}"
    return _("%(start)s 起一周") % {"start": f"{start:%Y-%m-%d}"}


def _bucket(field_name: str, buckets: list[date]) -> Any:
    """The index of the bucket ``field_name`` falls in, as plain comparisons with each bucket's
    local start: the rows are already those of the period. (SQLite's date truncation is a Python
    function called per row with a time-zone conversion: 0.1 s per query at 16 000 cases.)"""
    tz = timezone.get_current_timezone()
    starts = [timezone.make_aware(datetime.combine(b, datetime.min.time()), tz) for b in buckets[1:]]
    return Switch(
        *[When(**{f"{field_name}__lt": start}, then=Value(i)) for i, start in enumerate(starts)],
        default=Value(len(buckets) - 1),
        output_field=IntegerField(),
    )


def _by_period(cases: QuerySet[Case], filters: AnalyticsFilters, now: datetime) -> Breakdown:
    """One query per event date (registration, dispatch, closing, rating): each rate falls in the
    bucket of its own event, as in the period rule of docs/metrics.md."""
    case_filters = filters.cases
    buckets = period_buckets(filters)
    found: dict[Any, dict[str, Any]] = {}
    for event in ("created_at", "dispatched_at", "closed_at"):
        for row in _case_counts(cases, case_filters, now, {"g": _bucket(event, buckets)}, [event]):
            _add(found, buckets[row["g"]], row, CASE_NAMES)
    for row in _rating_counts(cases, case_filters, {"g": _bucket("created_at", buckets)}):
        ratings = found.setdefault(buckets[row["g"]], {}).setdefault("ratings", {})
        for name in RATING_NAMES:
            ratings[name] = ratings.get(name, 0) + (row.get(name) or 0)
    rows = [
        _row(f"{bucket:%Y-%m-%d}", bucket_label(bucket, filters.granularity), found.get(bucket, {}))
        for bucket in buckets
    ]
    label = _("按月") if filters.granularity == MONTH else _("按周")
    return Breakdown(PERIOD, label, rows)


def case_analytics(*, user: Any, filters: AnalyticsFilters, now: datetime | None = None) -> Analytics:
    """The rates, volumes and breakdowns over the cases ``user`` may see under ``filters``.

    A fixed number of queries (the user's scope, the region groups, two per breakdown and four
    for the period), whatever the number of cases, regions or units.
    """
    now = now or timezone.now()
    case_filters = filters.cases
    cases = metrics.cases_for(user=user, filters=case_filters)
    minimum = metrics.min_for_ranking()
    by_category, totals = _by_category(cases, case_filters, now)
    groups, parent = region_groups(user, filters.region)
    breakdowns = {
        PERIOD: _by_period(cases, filters, now),
        CATEGORY: by_category,
        REGION: _by_region(cases, case_filters, now, groups, parent),
        UNIT: _by_unit(cases, case_filters, now, minimum),
        CHANNEL: _by_channel(cases, case_filters, now),
    }
    return Analytics(
        filters=filters,
        total=_row("", _("合计"), totals),
        breakdowns=breakdowns,
        min_for_ranking=minimum,
        now=now,
    )


# Figures (and the page's rendered tables) are kept for a time slot of FIGURES_SLOT_MINUTES: a change
# to any case (the data version) starts afresh at once; time alone (a case turning overdue, a
# first-contact limit passing) shows with the next slot. Counting a county's month takes ~0.7 s
# at 200 000 cases (bench/cases), which a page viewed many times a minute should not pay each time.
FIGURES_SLOT_MINUTES = 5
FIGURES_SECONDS = FIGURES_SLOT_MINUTES * 60 + 60


def time_slot(now: datetime) -> str:
    """The FIGURES_SLOT_MINUTES-long slot ``now`` falls in, as text for a cache key."""
    local = timezone.localtime(now)
    return f"{local:%Y%m%d%H}{local.minute // FIGURES_SLOT_MINUTES:02d}"


def kept_key(user: Any, now: datetime, kind: str, what: str) -> str:
    """A cache key for figures over ``user``'s scope, valid while no case changes (the data
    version) and for the current time slot; ``kind`` and ``what`` name the figures."""
    return f"cases:{kind}:{selectors.scope_key(user)}:{selectors.data_version()}:{time_slot(now)}:{what}"


def cache_key(user: Any, filters: AnalyticsFilters, now: datetime, kind: str) -> str:
    """The ``kept_key`` of the figures under ``filters`` (``kind``: the page or the API, and the language)."""
    narrowing = ":".join(
        str(getattr(value, "pk", value) or "")
        for value in (filters.region, filters.unit, filters.category, filters.channel)
    )
    what = f"{filters.start:%Y%m%d}:{filters.end:%Y%m%d}:{filters.granularity}:{narrowing}"
    return kept_key(user, now, f"analytics:{kind}", what)


def case_list_for_export(*, user: Any, filters: AnalyticsFilters) -> QuerySet[Case]:
    """The cases behind the figures: visible, narrowed, and registered, dispatched or closed in the period."""
    case_filters = filters.cases
    event_q = _event_q(case_filters)
    cases = metrics.cases_for(user=user, filters=case_filters)
    return cases.filter(event_q["created_at"] | event_q["dispatched_at"] | event_q["closed_at"])


# --- Supervisor's view by level ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Open cases of one level or unit, and what of them needs pushing."""

    open: int = 0
    waiting: int = 0
    overdue: int = 0
    due_soon: int = 0
    returns_pending: int = 0
    extensions_pending: int = 0
    reminders: dict[str, int] = field(default_factory=dict)

    @property
    def reminder_counts(self) -> list[int]:
        """Steps sent, in the ladder's order (到期提醒, 催办, 督办通知, 通报)."""
        return [self.reminders.get(kind, 0) for kind in ReminderKind.values]


@dataclass
class LoadRow:
    key: str
    label: str
    load: Load
    unit_id: int | None = None
    level: int | None = None


@dataclass
class Supervision:
    by_level: list[LoadRow]
    by_unit: list[LoadRow]
    total: Load
    overdue_cases: QuerySet[Case]
    recent_reminders: list[CaseReminder]
    now: datetime


def _load_counts(now: datetime) -> dict[str, Count]:
    soon = add_working_days(now, SOON_WORKING_DAYS)
    return {
        "open": Count("pk"),
        "waiting": Count("pk", filter=Q(status__in=WAITING_STATES)),
        "overdue": Count("pk", filter=jobs.overdue_q(now)),
        # The same clock as overdue_q: the lead unit's current deadline falls before the horizon.
        "due_soon": Count(
            "pk",
            filter=Q(status__in=jobs.CLOCK_STATES)
            & ~jobs.overdue_q(now)
            & (Q(step_due_at__lte=soon) | Q(due_at__lte=soon)),
        ),
        "returns_pending": Count("pk", filter=Q(status=CaseStatus.RETURNED)),
        "extensions_pending": Count("pk", filter=Q(extension_pending=True)),
    }


def _load(row: Mapping[str, Any], reminders: Mapping[str, int]) -> Load:
    return Load(
        open=row.get("open", 0),
        waiting=row.get("waiting", 0),
        overdue=row.get("overdue", 0),
        due_soon=row.get("due_soon", 0),
        returns_pending=row.get("returns_pending", 0),
        extensions_pending=row.get("extensions_pending", 0),
        reminders={kind: reminders.get(kind, 0) for kind in ReminderKind.values},
    )


def reminders_visible_to(user: Any) -> QuerySet[CaseReminder]:
    """The ladder steps ``user`` may see (rules.py: the case's staff rule)."""
    return access.visible(CaseReminder.objects.all(), user)


def open_cases_for(*, user: Any, region: Region | None = None) -> QuerySet[Case]:
    """The open cases ``user`` may see, optionally within ``region``'s subtree."""
    cases = Case.objects.visible_to(user).exclude(status__in=sorted(FINAL_STATES))
    if region is not None:
        cases = cases.filter(subtree_q(region.path, "region__path"))
    return cases.order_by()


def case_supervision(*, user: Any, region: Region | None = None, now: datetime | None = None) -> Supervision:
    """Per level (村 / 镇 / 县) and per lead unit: open, overdue, due soon, awaiting the level above,
    ladder steps sent; the oldest overdue cases. Five queries for the figures, whatever the size."""
    now = now or timezone.now()
    cases = open_cases_for(user=user, region=region).alias(
        extension_pending=Exists(ExtensionRequest.objects.filter(case=OuterRef("pk"), status=RequestStatus.PENDING))
    )
    counts = _load_counts(now)
    reminders = reminders_visible_to(user).filter(case__in=cases.values("pk"))
    by_level_reminders: dict[Any, dict[str, int]] = {}
    by_unit_reminders: dict[Any, dict[str, int]] = {}
    for key, target in (("case__level", by_level_reminders), ("case__lead_unit_id", by_unit_reminders)):
        for row in reminders.values(key, "kind").annotate(n=Count("pk")).order_by():
            target.setdefault(row[key], {})[row["kind"]] = row["n"]
    levels = {row["level"]: row for row in cases.values("level").annotate(**counts).order_by()}
    by_level = [
        LoadRow(
            str(level),
            str(CaseLevel(level).label),
            _load(levels.get(level, {}), by_level_reminders.get(level, {})),
            level=int(level),
        )
        for level in (CaseLevel.VILLAGE, CaseLevel.TOWN, CaseLevel.COUNTY)
    ]
    units = (
        cases.filter(lead_unit__isnull=False)
        .values("lead_unit_id", "lead_unit__name", "lead_unit__region__name")
        .annotate(**counts)
        .order_by()
    )
    by_unit = [
        LoadRow(
            str(row["lead_unit_id"]),
            f"{row['lead_unit__name']}",
            _load(row, by_unit_reminders.get(row["lead_unit_id"], {})),
            unit_id=row["lead_unit_id"],
        )
        for row in units
    ]
    by_unit.sort(key=lambda r: (-r.load.overdue, -r.load.open, r.label))
    total_reminders: dict[str, int] = {}
    for per_kind in by_level_reminders.values():
        for kind, n in per_kind.items():
            total_reminders[kind] = total_reminders.get(kind, 0) + n
    total = Load(
        **{name: sum(getattr(r.load, name) for r in by_level) for name in counts},
        reminders=total_reminders,
    )
    deadline = Least(Coalesce("step_due_at", "due_at"), Coalesce("due_at", "step_due_at"))
    overdue_cases = (
        Case.objects.visible_to(user)
        .filter(jobs.overdue_q(now))
        .filter(subtree_q(region.path, "region__path") if region is not None else Q())
        .annotate(deadline=deadline)
        .select_related("region", "category", "lead_unit")
        .order_by("deadline", "id")
    )
    recent = list(
        reminders_visible_to(user)
        .filter(subtree_q(region.path, "case__region__path") if region is not None else Q())
        .select_related("case", "case__lead_unit")
        .order_by("-sent_at", "-id")[:RECENT_REMINDERS]
    )
    return Supervision(
        by_level=by_level,
        by_unit=by_unit,
        total=total,
        overdue_cases=overdue_cases,
        recent_reminders=recent,
        now=now,
    )


RECENT_REMINDERS = 20
