"""The six rates on a hand-counted set of cases (March 2026), overall and per unit.

The set (U1 = 甲村小学, U2 = 甲村村民委员会; D = dispatch on 2 March 10:00, first contact due
D + 1 day, the case due D + 20 days):

| case | unit | state | first contact | returned | reply | latest rating | closed |
|---|---|---|---|---|---|---|---|
| c1 | U1 | closed 化解成功 | on time | – | D+5 (on time) | 满意, resolved | D+6 |
| c2 | U1 | closed 未化解 | late (D+2) | – | D+25 (late) | 基本满意, not resolved | D+26 |
| c3 | U1 | closed 化解成功 after a rework | on time | – | D+10 | 满意, resolved (round 2; round 1 不满意) | D+11 |
| c4 | U1 | in progress | on time | yes (by U2, re-dispatched) | – | – | – |
| c5 | U2 | closed 不合理诉求 | on time | – | D+8 | 不满意 (round 2) | D+15 |
| c6 | U2 | dispatched, never signed | – | – | – | – | – |
| c7 | U2 | closed, all in February | on time | – | Feb | 满意 (Feb) | Feb |
| c8 | – | 当场答复 (answered at intake) | – | – | – | – | D |
| c9 | outside county B | closed 化解成功 | on time | – | D+5 | 满意 | D+6 |

Hand count for March, seen by the town staff of 甲镇 (c7 is February, c9 out of scope):
响应率 4/7 (c1 c3 c4 c5 of c1–c6, c10); 一次派单成功率 5/7 (c4, c10 returned);
解决率 2/4 (c1 c3 of c1 c2 c3 c5); 满意率 (1 + 0.8 + 1 + 0)/4 = 0.7;
按时办结率 3/4 (c1 c3 c5 of c1 c2 c3 c5); 化解成功率 2/4 (c1 c3 of c1 c2 c3 c5).
c10 (U2) is dispatched and currently returned, never signed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.utils import timezone

from cocreate.cases import metrics
from cocreate.cases.metrics import CaseFilters
from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseReturn,
    CaseStatus,
    Outcome,
    Rating,
    RatingChannel,
    ReturnDecision,
    Satisfaction,
)
from cocreate.conftest import World
from cocreate.core.models import Role

pytestmark = pytest.mark.django_db

D = timezone.make_aware(datetime(2026, 3, 2, 10, 0))
MARCH = CaseFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))
S = CaseStatus
SAT, BASIC, DISSAT = Satisfaction.SATISFIED, Satisfaction.BASIC, Satisfaction.DISSATISFIED
_numbers = count(1)


def _case(world: World, *, unit: str | None, status: str, at: datetime = D, **fields: Any) -> Case:
    n = next(_numbers)
    values: dict[str, Any] = {
        "number": f"2026-M{n:05d}",
        "tracking_code": f"MTEST{n:05d}",
        "region": world.regions["village_a"],
        "channel": CaseChannel.SELF,
        "category": CaseCategory.objects.get(code="neighbour"),
        "description": "测试",
        "status": status,
    }
    if unit is not None:
        values |= {
            "lead_unit": world.units[unit],
            "dispatched_at": at,
            "due_at": at + timedelta(days=20),
            "first_contact_due_at": at + timedelta(days=1),
        }
    values |= fields
    return Case.objects.create(**values)


def _handled(world: World, unit: str, *, contact: float, reply: float, closed: float, outcome: str, **kw: Any) -> Case:
    at = kw.pop("at", D)
    return _case(
        world,
        unit=unit,
        status=S.CLOSED,
        at=at,
        signed_at=at + timedelta(hours=1),
        first_contact_at=at + timedelta(days=contact),
        replied_at=at + timedelta(days=reply),
        reply_count=kw.pop("reply_count", 1),
        closed_at=at + timedelta(days=closed),
        outcome=outcome,
        **kw,
    )


def _rate(case: Case, round_: int, satisfaction: str, resolved: bool, at: datetime) -> None:
    rating = Rating.objects.create(
        case=case,
        round=round_,
        resolved=resolved,
        satisfaction=satisfaction,
        efficiency=satisfaction,
        leader_rating=satisfaction,
        channel=RatingChannel.PAGE,
    )
    Rating.objects.filter(pk=rating.pk).update(created_at=at)  # auto_now_add: set the rating's date after


@pytest.fixture
def cases(world: World) -> dict[str, Case]:
    c: dict[str, Case] = {}
    c["c1"] = _handled(
        world,
        "school",
        contact=0.1,
        reply=5,
        closed=6,
        outcome=Outcome.RESOLVED,
        category=CaseCategory.objects.get(code="family"),
        channel=CaseChannel.VISIT,
    )
    _rate(c["c1"], 1, SAT, True, D + timedelta(days=6))
    c["c2"] = _handled(world, "school", contact=2, reply=25, closed=26, outcome=Outcome.UNRESOLVED)
    _rate(c["c2"], 1, BASIC, False, D + timedelta(days=26))
    c["c3"] = _handled(
        world, "school", contact=0.5, reply=10, closed=11, outcome=Outcome.RESOLVED, reply_count=2, rework_round=1
    )
    _rate(c["c3"], 1, DISSAT, False, D + timedelta(days=4))
    _rate(c["c3"], 2, SAT, True, D + timedelta(days=11))
    c["c4"] = _case(
        world,
        unit="school",
        status=S.IN_PROGRESS,
        signed_at=D + timedelta(hours=1),
        first_contact_at=D + timedelta(hours=3),
    )
    CaseReturn.objects.create(
        case=c["c4"],
        unit=world.units["village_committee"],
        reason="不属本单位",
        decision=ReturnDecision.REDISPATCHED,
        new_lead_unit=world.units["school"],
        decided_at=D,
    )
    c["c5"] = _handled(
        world,
        "village_committee",
        contact=0.2,
        reply=8,
        closed=15,
        outcome=Outcome.UNREASONABLE,
        reply_count=2,
        rework_round=2,
    )
    _rate(c["c5"], 1, DISSAT, False, D + timedelta(days=3))
    _rate(c["c5"], 2, DISSAT, False, D + timedelta(days=9))
    c["c6"] = _case(world, unit="village_committee", status=S.DISPATCHED)
    feb = timezone.make_aware(datetime(2026, 2, 2, 10, 0))
    c["c7"] = _handled(world, "village_committee", contact=0.1, reply=3, closed=4, outcome=Outcome.RESOLVED, at=feb)
    _rate(c["c7"], 1, SAT, True, feb + timedelta(days=4))
    c["c8"] = _case(world, unit=None, status=S.CLOSED, outcome=Outcome.ANSWERED, closed_at=D, answer="当场答复")
    c["c9"] = _handled(
        world,
        "outside",
        contact=0.1,
        reply=5,
        closed=6,
        outcome=Outcome.RESOLVED,
        region=world.regions["village_b"],
    )
    _rate(c["c9"], 1, SAT, True, D + timedelta(days=6))
    c["c10"] = _case(world, unit="village_committee", status=S.RETURNED)
    CaseReturn.objects.create(case=c["c10"], unit=world.units["village_committee"], reason="不属本单位")
    return c


def _fractions(rates: dict[str, metrics.Rate]) -> dict[str, tuple[Decimal, int, Decimal | None]]:
    return {key: (r.numerator, r.denominator, r.rate) for key, r in rates.items()}


def test_the_six_rates_match_the_hand_count(
    world: World, cases: dict[str, Case], django_assert_max_num_queries: Any
) -> None:
    user = world.user(Role.TOWN_STAFF)
    with django_assert_max_num_queries(10):  # one query per rate (the two rating rates share one) + scope
        rates = metrics.case_rates(user=user, filters=MARCH)
    assert list(rates) == list(metrics.ORDER)
    assert _fractions(rates) == {
        metrics.RESPONSE: (4, 7, Decimal("0.5714")),
        metrics.RESOLUTION: (2, 4, Decimal("0.5000")),
        metrics.SATISFACTION: (Decimal("2.8"), 4, Decimal("0.7000")),
        metrics.ON_TIME: (3, 4, Decimal("0.7500")),
        metrics.ONE_DISPATCH: (5, 7, Decimal("0.7143")),
        metrics.MEDIATION: (2, 4, Decimal("0.5000")),
    }
    assert rates[metrics.SATISFACTION].label == "满意率"


def test_satisfaction_weights_are_settings(world: World, cases: dict[str, Case], settings: Any) -> None:
    settings.CASES_SATISFACTION_WEIGHTS = {"satisfied": "1", "basic": "0.5", "dissatisfied": "0"}
    rate = metrics.case_rates(user=world.user(Role.TOWN_STAFF), filters=MARCH)[metrics.SATISFACTION]
    assert (rate.numerator, rate.denominator, rate.rate) == (Decimal("2.5"), 4, Decimal("0.6250"))


def test_filters_narrow_and_an_empty_denominator_gives_no_rate(world: World, cases: dict[str, Case]) -> None:
    user = world.user(Role.TOWN_STAFF)
    by_unit = metrics.case_rates(
        user=user, filters=CaseFilters(start=MARCH.start, end=MARCH.end, unit=world.units["village_committee"])
    )
    assert _fractions(by_unit)[metrics.RESPONSE] == (1, 3, Decimal("0.3333"))  # c5 of c5 c6 c10
    family = CaseFilters(start=MARCH.start, end=MARCH.end, category=CaseCategory.objects.get(code="family"))
    assert _fractions(metrics.case_rates(user=user, filters=family))[metrics.RESPONSE] == (1, 1, Decimal(1))
    visits = CaseFilters(start=MARCH.start, end=MARCH.end, channel=CaseChannel.VISIT)
    assert metrics.case_rates(user=user, filters=visits)[metrics.MEDIATION].denominator == 1
    elsewhere = CaseFilters(start=MARCH.start, end=MARCH.end, region=world.regions["village_a2"])
    for rate in metrics.case_rates(user=user, filters=elsewhere).values():
        assert (rate.numerator, rate.denominator, rate.rate) == (0, 0, None)
    february = CaseFilters(start=date(2026, 2, 1), end=date(2026, 2, 28))
    assert _fractions(metrics.case_rates(user=user, filters=february))[metrics.MEDIATION] == (1, 1, Decimal(1))


def test_rates_only_count_cases_the_user_may_see(world: World, cases: dict[str, Case]) -> None:
    outside = world.users["outside_staff"]
    rates = metrics.case_rates(user=outside, filters=MARCH)
    assert _fractions(rates)[metrics.MEDIATION] == (1, 1, Decimal(1))  # c9 only
    assert metrics.case_rates(user=world.user(Role.RESIDENT), filters=MARCH)[metrics.RESPONSE].denominator == 0


def test_a_dispatch_still_within_its_first_contact_limit_is_not_counted_yet(
    world: World, cases: dict[str, Case]
) -> None:
    Case.objects.filter(pk=cases["c6"].pk).update(first_contact_due_at=timezone.now() + timedelta(hours=2))
    rate = metrics.case_rates(user=world.user(Role.TOWN_STAFF), filters=MARCH)[metrics.RESPONSE]
    assert (rate.numerator, rate.denominator) == (4, 6)


def test_units_are_ranked_only_above_the_minimum(world: World, cases: dict[str, Case], settings: Any) -> None:
    user = world.user(Role.TOWN_STAFF)
    rows = metrics.rates_by_unit(user=user, filters=MARCH, min_cases=2)
    school, committee = world.units["school"], world.units["village_committee"]
    assert [(r.unit_id, r.rank, r.cases) for r in rows] == [(school.pk, 1, 3), (committee.pk, None, 1)]
    assert _fractions(rows[0].rates)[metrics.SATISFACTION] == (Decimal("2.8"), 3, Decimal("0.9333"))
    assert _fractions(rows[0].rates)[metrics.RESPONSE] == (3, 4, Decimal("0.7500"))
    assert _fractions(rows[1].rates)[metrics.RESPONSE] == (1, 3, Decimal("0.3333"))
    assert _fractions(rows[1].rates)[metrics.ONE_DISPATCH] == (2, 3, Decimal("0.6667"))
    # The default minimum (CASES_MIN_FOR_RANKING = 5) ranks nobody on this small set.
    assert all(r.rank is None for r in metrics.rates_by_unit(user=user, filters=MARCH))
    settings.CASES_MIN_FOR_RANKING = 3
    by_response = metrics.rates_by_unit(user=user, filters=MARCH, rank_by=metrics.RESPONSE)
    assert [(r.unit_id, r.rank) for r in by_response] == [(school.pk, 1), (committee.pk, 2)]


def test_equal_rates_share_a_rank(world: World, cases: dict[str, Case]) -> None:
    user = world.user(Role.TOWN_STAFF)
    rows = metrics.rates_by_unit(user=user, filters=MARCH, rank_by=metrics.MEDIATION, min_cases=1)
    # Mediation: U1 2/3 (c1 c3 of c1 c2 c3), U2 0/1 (c5).
    assert [(r.rank, r.rates[metrics.MEDIATION].rate) for r in rows] == [(1, Decimal("0.6667")), (2, Decimal(0))]
    Case.objects.filter(pk__in=[cases["c2"].pk, cases["c5"].pk]).update(outcome=Outcome.RESOLVED)
    rows = metrics.rates_by_unit(user=user, filters=MARCH, rank_by=metrics.MEDIATION, min_cases=1)
    assert [(r.rank, r.rates[metrics.MEDIATION].rate) for r in rows] == [(1, Decimal(1)), (1, Decimal(1))]
