"""The grievance demo: every state and kind of step, real timelines, something for each demo account,
idempotent — and the rates of ``metrics.case_rates`` equal a hand count over the raw rows.

The demo is loaded once for the module (about half a minute with the county, plans and
co-decision demos); each test runs in a savepoint on top of it and is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from cocreate.cases import demo, jobs, metrics, rules, services
from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseEvent,
    CaseLevel,
    CaseReturn,
    CaseStatus,
    DeclineReason,
    ExtensionRequest,
    Outcome,
    Party,
    Rating,
    RequestStatus,
    ReturnDecision,
    Satisfaction,
    Urgency,
)
from cocreate.core.demo import ROLE_PHONES, SUPERUSER_PHONE, demo_load
from cocreate.core.models import Channel, MessageStatus, OutboxMessage, Region, Role, User

pytestmark = pytest.mark.django_db

S = CaseStatus


@dataclass
class Loaded:
    result: dict[str, Any]
    moment: datetime  # just after the load: the test's "now"


@pytest.fixture(scope="module")
def loaded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Loaded]:
    """One demo load for the module, rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        result = demo_load()
        yield Loaded(result=result.cases, moment=timezone.now())
        transaction.set_rollback(True)


def _user(role: str) -> User:
    return User.objects.get(phone=ROLE_PHONES[role])


# --- The hand count: docs/metrics.md, word for word, over plain rows -------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date | None = None
    end: date | None = None
    region: Region | None = None

    def holds(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        day = timezone.localdate(moment)  # local dates (Asia/Shanghai), both ends included
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def filters(self) -> metrics.CaseFilters:
        return metrics.CaseFilters(start=self.start, end=self.end, region=self.region)


WEIGHTS: dict[str, Decimal] = {
    Satisfaction.SATISFIED: Decimal("1.0"),
    Satisfaction.BASIC: Decimal("0.8"),
    Satisfaction.DISSATISFIED: Decimal(0),
}


def hand_count(cases: list[Case], period: Period, now: datetime) -> dict[str, tuple[Decimal, int]]:
    """(numerator, denominator) of the six rates, by plain Python over the rows of ``cases``."""
    ids = {c.pk for c in cases}
    returned = set(CaseReturn.objects.filter(case_id__in=ids).values_list("case_id", flat=True))
    latest: dict[int, Rating] = {}
    for rating in Rating.objects.filter(case_id__in=ids):
        if rating.case_id not in latest or rating.round > latest[rating.case_id].round:
            latest[rating.case_id] = rating

    # 响应率 / 一次派单成功率: cases with a lead unit, dispatched in the period.
    dispatched = [c for c in cases if c.lead_unit_id is not None and period.holds(c.dispatched_at)]
    # … except, for the response, those not yet contacted whose first-contact limit has not passed.
    undecided = {
        c.pk
        for c in dispatched
        if c.first_contact_at is None and c.first_contact_due_at is not None and c.first_contact_due_at >= now
    }
    response_base = [c for c in dispatched if c.pk not in undecided]
    responded = [
        c
        for c in response_base
        if c.signed_at is not None
        and c.first_contact_at is not None
        and c.first_contact_due_at is not None
        and c.first_contact_at <= c.first_contact_due_at
    ]
    once = [c for c in dispatched if c.pk not in returned]

    # 解决率 / 满意率: each case's latest rating, rated in the period.
    rated = [r for r in latest.values() if period.holds(r.created_at)]
    resolved = [r for r in rated if r.resolved]
    weighted = sum((WEIGHTS[r.satisfaction] for r in rated), Decimal(0))

    # 按时办结率 / 化解成功率: cases closed in the period.
    closed = [c for c in cases if c.status == S.CLOSED and period.holds(c.closed_at)]
    with_deadline = [c for c in closed if c.due_at is not None and c.replied_at is not None]
    on_time = [c for c in with_deadline if c.replied_at <= c.due_at]  # type: ignore[operator]
    mediated = [c for c in closed if c.outcome in (Outcome.RESOLVED, Outcome.UNRESOLVED, Outcome.UNREASONABLE)]
    successful = [c for c in mediated if c.outcome == Outcome.RESOLVED]
    return {
        metrics.RESPONSE: (Decimal(len(responded)), len(response_base)),
        metrics.RESOLUTION: (Decimal(len(resolved)), len(rated)),
        metrics.SATISFACTION: (weighted, len(rated)),
        metrics.ON_TIME: (Decimal(len(on_time)), len(with_deadline)),
        metrics.ONE_DISPATCH: (Decimal(len(once)), len(dispatched)),
        metrics.MEDIATION: (Decimal(len(successful)), len(mediated)),
    }


def _cases_in(period: Period) -> list[Case]:
    cases = list(Case.objects.select_related("region"))
    if period.region is not None:
        cases = [c for c in cases if c.region.path.startswith(period.region.path)]
    return cases


def _periods(today: date) -> dict[str, Callable[[], Period]]:
    return {
        "all": lambda: Period(),
        "last 30 days": lambda: Period(start=today - timedelta(days=29), end=today),
        "七里坪镇, 60 days ago to 15 days ago": lambda: Period(
            start=today - timedelta(days=60),
            end=today - timedelta(days=15),
            region=Region.objects.get(code=demo.RESIDENT_TOWN),
        ),
    }


@pytest.mark.parametrize("role", ["county staff", "superuser"])
@pytest.mark.parametrize("which", ["all", "last 30 days", "七里坪镇, 60 days ago to 15 days ago"])
def test_the_six_rates_equal_a_hand_count(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch, role: str, which: str
) -> None:
    monkeypatch.setattr(timezone, "now", lambda: loaded.moment)
    user = _user(Role.DEPT_STAFF) if role == "county staff" else User.objects.get(phone=SUPERUSER_PHONE)
    # The county's staff see every case of the county, i.e. every row the hand count reads.
    assert Case.objects.visible_to(user).count() == Case.objects.count() == demo.CASES
    period = _periods(timezone.localdate(loaded.moment))[which]()

    rates = metrics.case_rates(user=user, filters=period.filters())
    expected = hand_count(_cases_in(period), period, loaded.moment)

    print(f"\n{which} ({role}):")
    for key, rate in rates.items():
        print(f"  {rate.label}: {rate.numerator} / {rate.denominator} = {rate.rate}")
        assert (rate.numerator, rate.denominator) == expected[key], rate.label
    minimum = 20 if which == "all" else 5  # none of them vacuous
    assert all(rate.denominator > minimum for rate in rates.values()), rates
    if which == "all":
        # Neither all nor nothing: the demo has late, returned, unresolved and unhappy cases too.
        assert all(0 < rate.numerator < rate.denominator for rate in rates.values()), rates


# --- The data ------------------------------------------------------------------------------------------------------


def test_every_state_and_kind_of_step_occurs(loaded: Loaded) -> None:
    assert loaded.result["cases"] == Case.objects.count() == demo.CASES
    statuses = dict(Case.objects.values_list("status").annotate(n=Count("pk")))
    assert set(statuses) == set(CaseStatus.values)
    assert loaded.result["by_status"] == {s: statuses[s] for s in CaseStatus.values}
    assert set(Case.objects.values_list("level", flat=True)) == set(CaseLevel.values)
    assert set(Case.objects.values_list("channel", flat=True)) == set(CaseChannel.values)
    assert set(Case.objects.values_list("urgency", flat=True)) == set(Urgency.values)
    assert set(Case.objects.values_list("category", flat=True)) == set(
        CaseCategory.objects.values_list("pk", flat=True)
    )
    assert set(Case.objects.exclude(outcome="").values_list("outcome", flat=True)) == set(Outcome.values)
    assert set(Case.objects.exclude(decline_reason="").values_list("decline_reason", flat=True)) == set(
        DeclineReason.values
    )
    assert set(Rating.objects.values_list("satisfaction", flat=True)) == set(Satisfaction.values)
    assert set(CaseReturn.objects.values_list("decision", flat=True)) == set(ReturnDecision.values)
    assert set(ExtensionRequest.objects.values_list("status", flat=True)) == set(RequestStatus.values)
    reasons = {e.data["reason"] for e in CaseEvent.objects.filter(kind="escalated")}
    assert reasons == set(services.EscalationReason.ALL)
    assert Case.objects.filter(rework_round=2).exists() and Rating.objects.filter(round__gte=3).exists()
    assert Case.objects.filter(is_anonymous=True).exists()
    # Escalated and waiting at the new level; closed without a rating after the follow-up.
    assert CaseEvent.objects.filter(kind="escalated", case__status=S.TRIAGED).exists()
    assert Case.objects.filter(status=S.CLOSED, ratings__isnull=True, reply_count__gte=1).exists()
    for merged in Case.objects.filter(status=S.MERGED).select_related("merged_into"):
        assert merged.merged_into is not None and not merged.merged_into.is_final


def test_overdue_and_due_soon_cases_exist_and_the_sweep_finds_them(loaded: Loaded) -> None:
    now = loaded.moment
    overdue = Case.objects.filter(jobs.overdue_q(now))
    assert overdue.count() >= 10
    assert {S.DISPATCHED, S.IN_PROGRESS} <= set(overdue.values_list("status", flat=True))
    soon = services.deadlines.add_working_days(now, 2)
    due_soon = Case.objects.filter(status__in=jobs.CLOCK_STATES, step_due_at__gte=now, step_due_at__lt=soon)
    assert due_soon.exists()
    swept = jobs.sweep_cases(now=now)
    assert swept.steps["urge"] >= overdue.count() and swept.notifications > 0


def test_timelines_are_real_and_in_the_past(loaded: Loaded) -> None:
    cases = Case.objects.annotate(events_n=Count("events"), last=Max("events__at"))
    history = dict(Case.history.values_list("id").annotate(n=Count("history_id")))
    oldest = loaded.moment - timedelta(days=demo.DAYS)
    for case in cases:
        assert case.events_n == case.version == history[case.pk]
        assert oldest <= case.created_at <= case.last <= loaded.moment
    for case in Case.objects.prefetch_related("events"):
        moments = [e.at for e in case.events.all()]
        assert moments == sorted(moments) and moments[0] == case.created_at
    # Numbers follow the registration order, as they would have been given out.
    ordered = list(Case.objects.order_by("created_at", "number").values_list("number", flat=True))
    assert ordered == sorted(ordered)
    # Ratings, returns and extension requests carry the moment of their step, not the load's.
    for rating in Rating.objects.all():
        assert CaseEvent.objects.filter(case=rating.case_id, kind="rated", at=rating.created_at).exists()
    assert all(r.created_at < loaded.moment - timedelta(minutes=1) for r in CaseReturn.objects.all())


def test_parties_are_made_up_and_their_sms_is_never_sent(loaded: Loaded) -> None:
    for party in Party.objects.filter(role="applicant"):
        assert party.phone.startswith("1990")
        assert party.id_number == "" or party.id_number.startswith("990101")
    assert Party.objects.filter(role="other_party").exists()
    sms = OutboxMessage.objects.filter(channel=Channel.SMS, dedupe_key__startswith="case:")
    assert sms.exists() and not sms.filter(status=MessageStatus.PENDING).exists()


def test_each_demo_account_finds_cases_to_act_on(loaded: Loaded) -> None:
    village, town, dept = _user(Role.VILLAGE_STAFF), _user(Role.TOWN_STAFF), _user(Role.DEPT_STAFF)

    def count(user: User, status: str, check: Callable[[Any, Case], bool]) -> int:
        return sum(check(user, c) for c in Case.objects.visible_to(user).filter(status=status))

    assert count(village, S.REGISTERED, rules.is_office) >= 3
    assert count(village, S.DISPATCHED, rules.is_lead_unit_staff) >= 2
    assert count(village, S.IN_PROGRESS, rules.is_lead_unit_staff) >= 1
    assert count(village, S.DISSATISFIED, rules.is_office) >= 1
    assert count(town, S.RETURNED, rules.is_reviewer) >= 3
    pending = ExtensionRequest.objects.filter(status=RequestStatus.PENDING).select_related("case__region")
    assert sum(rules.is_reviewer(town, r.case) for r in pending) >= 2
    assert count(town, S.TRIAGED, rules.is_office) >= 2
    assert count(town, S.DISPATCHED, rules.is_lead_unit_staff) >= 1
    assert count(dept, S.TRIAGED, rules.is_office) >= 2
    assert count(dept, S.DISPATCHED, rules.is_lead_unit_staff) >= 1
    assert count(dept, S.RETURNED, rules.is_reviewer) >= 1
    grid_worker = _user(Role.GRID_WORKER)
    assert Case.objects.filter(created_by=grid_worker, channel=CaseChannel.VISIT).count() >= 3
    for role in (Role.INSPECTOR, Role.LEADER):
        assert Case.objects.visible_to(_user(role)).filter(jobs.overdue_q(loaded.moment)).exists()

    # The resident: several cases of their own, and a replied one they can rate now.
    resident = _user(Role.RESIDENT)
    assert resident.person_id is not None
    mine = Case.objects.filter(parties__role="applicant", parties__person_id=resident.person_id)
    assert mine.count() >= 4 and len(set(mine.values_list("status", flat=True))) >= 3
    replied = mine.get(status=S.REPLIED)
    rated = services.case_rate(
        actor=resident,
        case=replied,
        resolved=True,
        satisfaction=Satisfaction.SATISFIED,
        efficiency=Satisfaction.SATISFIED,
        leader_rating=Satisfaction.SATISFIED,
    )
    assert rated.status == S.CLOSED and rated.outcome == Outcome.RESOLVED


def test_a_second_run_creates_nothing(loaded: Loaded) -> None:
    def snapshot() -> dict[str, int]:
        return {
            "cases": Case.objects.count(),
            "events": CaseEvent.objects.count(),
            "history": Case.history.count(),
            "ratings": Rating.objects.count(),
            "returns": CaseReturn.objects.count(),
            "extensions": ExtensionRequest.objects.count(),
            "parties": Party.objects.count(),
            "outbox": OutboxMessage.objects.count(),
        }

    before = snapshot()
    again = demo_load()
    assert again.cases["cases"] == 0 and again.cases["by_status"] == {}
    assert snapshot() == before
