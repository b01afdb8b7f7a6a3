"""The rates of grievance handling, each with its numerator and denominator (docs/metrics.md).

Every function reads the cases ``user`` may see, narrowed by :class:`CaseFilters`, and counts
in SQL (conditional ``COUNT``s; never a Python loop over cases). A rate is a :class:`Rate`: the
numerator and the denominator as counted, and ``rate`` = numerator ÷ denominator, ``None`` when
nothing was counted. Each rate has its own event date that the period applies to — dispatch for
the response and one-dispatch rates, the rating for resolution and satisfaction, the closing for
on-time closing and mediation — so a rate over March counts March's events of its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cocreate.cases.models import Case, CaseCategory, CaseReturn, CaseStatus, Outcome, Rating, Satisfaction
from cocreate.core.models import Region, Unit, subtree_q

RESPONSE = "response"
RESOLUTION = "resolution"
SATISFACTION = "satisfaction"
ON_TIME = "on_time"
ONE_DISPATCH = "one_dispatch"
MEDIATION = "mediation"
LABELS = {
    RESPONSE: _("响应率"),
    RESOLUTION: _("解决率"),
    SATISFACTION: _("满意率"),
    ON_TIME: _("按时办结率"),
    ONE_DISPATCH: _("一次派单成功率"),
    MEDIATION: _("化解成功率"),
}
ORDER = (RESPONSE, RESOLUTION, SATISFACTION, ON_TIME, ONE_DISPATCH, MEDIATION)
# Outcomes that end a dispute after handling; 当场答复 (answered at intake) is not a mediation.
MEDIATED_OUTCOMES = (Outcome.RESOLVED, Outcome.UNRESOLVED, Outcome.UNREASONABLE)
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class CaseFilters:
    """Which cases to count: a period of local dates (both ends included) and optional narrowings."""

    start: date | None = None
    end: date | None = None
    region: Region | None = None
    unit: Unit | None = None
    category: CaseCategory | None = None
    channel: str = ""


@dataclass(frozen=True)
class Rate:
    """One rate: numerator ÷ denominator, as counted."""

    key: str
    numerator: Decimal
    denominator: int

    @property
    def label(self) -> str:
        return str(LABELS[self.key])

    @property
    def rate(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) / self.denominator).quantize(PLACES)


@dataclass
class UnitRates:
    """One lead unit's rates; ``rank`` is None below the minimum number of cases (or without a rate)."""

    unit_id: int
    unit_name: str
    rates: dict[str, Rate]
    cases: int = 0
    rank: int | None = None


def satisfaction_weights() -> dict[str, Decimal]:
    """满意 / 基本满意 / 不满意 → weight (settings.CASES_SATISFACTION_WEIGHTS; 1.0 / 0.8 / 0 by default)."""
    configured = getattr(settings, "CASES_SATISFACTION_WEIGHTS", {})
    defaults = {Satisfaction.SATISFIED: "1.0", Satisfaction.BASIC: "0.8", Satisfaction.DISSATISFIED: "0"}
    return {key: Decimal(str(configured.get(key, value))) for key, value in defaults.items()}


def min_for_ranking() -> int:
    return int(getattr(settings, "CASES_MIN_FOR_RANKING", 5))


# --- The cases counted ----------------------------------------------------------------------------------------


def _bounds(filters: CaseFilters) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(filters.start, time.min), tz) if filters.start else None
    end = timezone.make_aware(datetime.combine(filters.end + timedelta(days=1), time.min), tz) if filters.end else None
    return start, end


def _in_period(field_name: str, filters: CaseFilters) -> Q:
    start, end = _bounds(filters)
    q = Q()
    if start is not None:
        q &= Q(**{f"{field_name}__gte": start})
    if end is not None:
        q &= Q(**{f"{field_name}__lt": end})
    return q


def cases_for(*, user: Any, filters: CaseFilters) -> QuerySet[Case]:
    """The cases ``user`` may see, narrowed by region (its subtree), lead unit, category and channel."""
    cases = Case.objects.visible_to(user)
    if filters.region is not None:
        cases = cases.filter(subtree_q(filters.region.path, "region__path"))
    if filters.unit is not None:
        cases = cases.filter(lead_unit=filters.unit)
    if filters.category is not None:
        cases = cases.filter(category=filters.category)
    if filters.channel:
        cases = cases.filter(channel=filters.channel)
    return cases.order_by()


def _dispatched(cases: QuerySet[Case], filters: CaseFilters) -> QuerySet[Case]:
    # Escalated and not yet dispatched at the new level: no unit holds it, so it is not counted.
    return cases.filter(_in_period("dispatched_at", filters), dispatched_at__isnull=False, lead_unit__isnull=False)


def _latest_ratings(cases: QuerySet[Case], filters: CaseFilters) -> QuerySet[Rating]:
    """Each case's last rating (a reworked case counts once, with its final verdict), rated in the period."""
    later = Rating.objects.filter(case=OuterRef("case"), round__gt=OuterRef("round"))
    # A correlated EXISTS, not ``case IN (visible cases)``: the period's ratings (the created_at
    # index) are few, the visible cases many — SQLite built the whole visible set first (bench/cases).
    visible = cases.filter(pk=OuterRef("case_id"))
    return Rating.objects.filter(_in_period("created_at", filters), Exists(visible), ~Exists(later))


def _closed(cases: QuerySet[Case], filters: CaseFilters) -> QuerySet[Case]:
    return cases.filter(_in_period("closed_at", filters), status=CaseStatus.CLOSED)


# --- The six rates: (base rows, counts) per rate, grouped or not -------------------------------------------------


def _response(cases: QuerySet[Case], filters: CaseFilters) -> tuple[QuerySet[Any], dict[str, Any]]:
    now = timezone.now()
    # A dispatch still inside its first-contact limit and not yet contacted is undecided: left out.
    base = _dispatched(cases, filters).exclude(first_contact_at__isnull=True, first_contact_due_at__gte=now)
    on_time = Q(
        signed_at__isnull=False,
        first_contact_at__isnull=False,
        first_contact_due_at__isnull=False,
        first_contact_at__lte=F("first_contact_due_at"),
    )
    return base, {"n": Count("pk", filter=on_time), "d": Count("pk")}


def _one_dispatch(cases: QuerySet[Case], filters: CaseFilters) -> tuple[QuerySet[Any], dict[str, Any]]:
    base = _dispatched(cases, filters).alias(was_returned=Exists(CaseReturn.objects.filter(case=OuterRef("pk"))))
    return base, {"n": Count("pk", filter=Q(was_returned=False)), "d": Count("pk")}


def _ratings(cases: QuerySet[Case], filters: CaseFilters) -> tuple[QuerySet[Any], dict[str, Any]]:
    return _latest_ratings(cases, filters), {
        "d": Count("pk"),
        "resolved": Count("pk", filter=Q(resolved=True)),
        **{f"s_{value}": Count("pk", filter=Q(satisfaction=value)) for value in Satisfaction.values},
    }


def _on_time(cases: QuerySet[Case], filters: CaseFilters) -> tuple[QuerySet[Any], dict[str, Any]]:
    # Closed after a reply against a deadline: answered on the spot has neither and is left out.
    base = _closed(cases, filters).filter(due_at__isnull=False, replied_at__isnull=False)
    return base, {"n": Count("pk", filter=Q(replied_at__lte=F("due_at"))), "d": Count("pk")}


def _mediation(cases: QuerySet[Case], filters: CaseFilters) -> tuple[QuerySet[Any], dict[str, Any]]:
    base = _closed(cases, filters).filter(outcome__in=MEDIATED_OUTCOMES)
    return base, {"n": Count("pk", filter=Q(outcome=Outcome.RESOLVED)), "d": Count("pk")}


def _rates_from(counts: dict[str, Any], kind: str) -> dict[str, Rate]:
    """Rate objects from one row of counts of one of the queries above."""
    if kind == "ratings":
        weights = satisfaction_weights()
        weighted = sum((weights[v] * (counts.get(f"s_{v}") or 0) for v in Satisfaction.values), Decimal(0))
        rated = counts.get("d") or 0
        return {
            RESOLUTION: Rate(RESOLUTION, Decimal(counts.get("resolved") or 0), rated),
            SATISFACTION: Rate(SATISFACTION, weighted, rated),
        }
    return {kind: Rate(kind, Decimal(counts.get("n") or 0), counts.get("d") or 0)}


QUERIES: dict[str, tuple[Callable[[QuerySet[Case], CaseFilters], tuple[QuerySet[Any], dict[str, Any]]], str]] = {
    RESPONSE: (_response, "lead_unit"),
    "ratings": (_ratings, "case__lead_unit"),
    ON_TIME: (_on_time, "lead_unit"),
    ONE_DISPATCH: (_one_dispatch, "lead_unit"),
    MEDIATION: (_mediation, "lead_unit"),
}


def case_rates(*, user: Any, filters: CaseFilters | None = None) -> dict[str, Rate]:
    """The six rates over the cases ``user`` may see (one aggregate query per rate, ratings share one)."""
    filters = filters or CaseFilters()
    cases = cases_for(user=user, filters=filters)
    rates: dict[str, Rate] = {}
    for kind, (build, _unit_field) in QUERIES.items():
        base, counts = build(cases, filters)
        rates.update(_rates_from(base.aggregate(**counts), kind))
    return {key: rates[key] for key in ORDER}


def rates_by_unit(
    *, user: Any, filters: CaseFilters | None = None, rank_by: str = SATISFACTION, min_cases: int | None = None
) -> list[UnitRates]:
    """The six rates per lead unit, ranked by ``rank_by`` (best first, ties share a rank).

    A unit whose denominator for ``rank_by`` is below ``min_cases`` (CASES_MIN_FOR_RANKING) is
    listed with its rates but without a rank: a rate over two cases says little.
    """
    if rank_by not in LABELS:
        raise ValueError(f"unknown rate: {rank_by}")
    filters = filters or CaseFilters()
    minimum = min_for_ranking() if min_cases is None else min_cases
    cases = cases_for(user=user, filters=filters)
    per_unit: dict[int, dict[str, Rate]] = {}
    for kind, (build, unit_field) in QUERIES.items():
        base, counts = build(cases, filters)
        for row in base.filter(**{f"{unit_field}__isnull": False}).values(unit_field).annotate(**counts).order_by():
            per_unit.setdefault(row[unit_field], {}).update(_rates_from(row, kind))
    names = dict(Unit.objects.filter(pk__in=per_unit).values_list("pk", "name"))
    rows = []
    for unit_id, found in per_unit.items():
        rates = {key: found.get(key, Rate(key, Decimal(0), 0)) for key in ORDER}
        rows.append(UnitRates(unit_id=unit_id, unit_name=names.get(unit_id, ""), rates=rates))
    return rank_units(rows, rank_by=rank_by, min_cases=minimum)


def rank_units(rows: list[UnitRates], *, rank_by: str, min_cases: int) -> list[UnitRates]:
    """Ranks ``rows`` by ``rank_by`` (best first, ties share a rank); below ``min_cases`` cases: no rank.

    ``cases`` of each row becomes its denominator for ``rank_by``. The ranked rows come first,
    then the unranked ones by number of cases. Also used by the analytics pages (cases/analytics.py).
    """
    for row in rows:
        row.cases = row.rates[rank_by].denominator
        row.rank = None
    ranked = sorted(
        (r for r in rows if r.cases >= max(min_cases, 1) and r.rates[rank_by].rate is not None),
        key=lambda r: r.rates[rank_by].rate or Decimal(0),
        reverse=True,
    )
    previous: Decimal | None = None
    for position, row in enumerate(ranked, start=1):
        value = row.rates[rank_by].rate
        row.rank = position if value != previous else ranked[position - 2].rank
        previous = value
    unranked = sorted((r for r in rows if r.rank is None), key=lambda r: (-r.cases, r.unit_name))
    return ranked + unranked
