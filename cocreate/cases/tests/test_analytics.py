"""案件统计, its exports and API, and 督办总览: figures on hand-counted cases, filters, the ranking
rule, masked exports, constant query counts, scope, and bad filters answered without a 500.

The figures use the hand-counted March set of test_metrics.py (its docstring has the table):
seen by the town staff of 甲镇, March 2026 — 响应率 4/7, 解决率 2/4, 满意率 2.8/4, 按时办结率 3/4,
一次派单成功率 5/7, 化解成功率 2/4; by unit, 甲村小学 (c1 c2 c3 c4) and 甲村村民委员会 (c5 c6 c10).
"""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cocreate.cases import analytics, metrics
from cocreate.cases.analytics import AnalyticsFilters
from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseLevel,
    CaseReminder,
    CaseStatus,
    Outcome,
    ReminderKind,
    Satisfaction,
)
from cocreate.cases.tests import helpers as h
from cocreate.cases.tests.test_metrics import MARCH, D, _case, _handled, _rate, cases  # noqa: F401
from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, Role, Unit, UnitKind

pytestmark = pytest.mark.django_db

S = CaseStatus
MARCH_A = AnalyticsFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))
MARCH_QUERY = {"start": "2026-03-01", "end": "2026-03-31"}
ANALYTICS = reverse("cases:case_analytics")
EXPORT = reverse("cases:case_analytics_export")
LIST_EXPORT = reverse("cases:case_list_export")
SUPERVISION = reverse("cases:case_supervision")
API = "/api/cases/analytics"


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def fractions(rates: dict[str, metrics.Rate]) -> dict[str, tuple[Decimal, int]]:
    return {key: (Decimal(r.numerator), r.denominator) for key, r in rates.items()}


def rows_by_label(result: analytics.Analytics, key: str) -> dict[str, analytics.Row]:
    return {row.label: row for row in result.breakdowns[key].rows}


# --- The figures ------------------------------------------------------------------------------------------


def test_totals_match_the_hand_count_and_metrics(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    user = world.user(Role.TOWN_STAFF)
    result = analytics.case_analytics(user=user, filters=MARCH_A)
    assert fractions(result.total.rates) == {
        metrics.RESPONSE: (4, 7),
        metrics.RESOLUTION: (2, 4),
        metrics.SATISFACTION: (Decimal("2.8"), 4),
        metrics.ON_TIME: (3, 4),
        metrics.ONE_DISPATCH: (5, 7),
        metrics.MEDIATION: (2, 4),
    }
    # One definition: the analytics' single scan agrees with metrics' rate-by-rate queries.
    assert fractions(result.total.rates) == fractions(metrics.case_rates(user=user, filters=MARCH))
    # c1–c6 and c10 dispatched in March; c1 c2 c3 c5 closed and c8 answered at intake (closed too);
    # overdue now: c4 (in progress, due D+20) and c6 (dispatched, due D+20) — c10 is returned, no clock.
    assert result.total.volume == analytics.Volume(registered=0, dispatched=7, closed=5, overdue=2)


def test_breakdowns_by_unit_category_channel_region_and_week(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    user = world.user(Role.TOWN_STAFF)
    result = analytics.case_analytics(user=user, filters=MARCH_A)
    units = rows_by_label(result, analytics.UNIT)
    assert fractions(units["甲村小学"].rates)[metrics.RESPONSE] == (3, 4)
    assert fractions(units["甲村小学"].rates)[metrics.SATISFACTION] == (Decimal("2.8"), 3)
    assert fractions(units["甲村村民委员会"].rates)[metrics.ONE_DISPATCH] == (2, 3)
    assert units["未派单"].volume.closed == 1  # c8, answered on the spot
    # The unit rows agree with metrics.rates_by_unit.
    by_unit = {r.unit_name: fractions(r.rates) for r in metrics.rates_by_unit(user=user, filters=MARCH)}
    assert {name: fractions(row.rates) for name, row in units.items() if name in by_unit} == by_unit

    categories = rows_by_label(result, analytics.CATEGORY)
    assert fractions(categories["婚姻家庭"].rates)[metrics.RESPONSE] == (1, 1)  # c1
    assert categories["邻里纠纷"].volume.dispatched == 6
    channels = rows_by_label(result, analytics.CHANNEL)
    assert fractions(channels["网格员走访"].rates)[metrics.MEDIATION] == (1, 1)
    assert set(channels) == {"群众自主上报", "网格员走访"}

    # Region: the town's villages (c9 is in county B and not counted).
    regions = rows_by_label(result, analytics.REGION)
    assert list(regions) == ["甲村", "乙村"]  # every village of the town, 乙村 without cases
    assert regions["乙村"].volume == analytics.Volume()
    assert fractions(regions["甲村"].rates) == fractions(result.total.rates)
    assert result.breakdowns[analytics.REGION].label == "按区域（甲镇下级）"

    # Weeks from the one holding 1 March (Monday 23 February) to the one holding 31 March.
    weeks = result.breakdowns[analytics.PERIOD].rows
    assert [w.key for w in weeks] == [
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
        "2026-03-30",
    ]
    week2 = weeks[1]
    assert week2.volume.dispatched == 7 and fractions(week2.rates)[metrics.RESPONSE] == (4, 7)
    # Each rate falls in the week of its own event: c2 closed D+26 (28 March), rated 基本满意.
    assert fractions(weeks[4].rates)[metrics.SATISFACTION] == (Decimal("0.8"), 1)
    # Every breakdown adds up to the total.
    for breakdown in result.breakdowns.values():
        assert sum(r.volume.dispatched for r in breakdown.rows) == 7
        assert sum(r.rates[metrics.RESOLUTION].denominator for r in breakdown.rows) == 4


def test_months_and_filters(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    user = world.user(Role.TOWN_STAFF)
    spring = AnalyticsFilters(start=date(2026, 2, 1), end=date(2026, 3, 31), granularity=analytics.MONTH)
    months = analytics.case_analytics(user=user, filters=spring).breakdowns[analytics.PERIOD].rows
    assert [(m.label, m.rates[metrics.MEDIATION].denominator) for m in months] == [("2026-02", 1), ("2026-03", 4)]

    committee = AnalyticsFilters(start=MARCH_A.start, end=MARCH_A.end, unit=world.units["village_committee"])
    result = analytics.case_analytics(user=user, filters=committee)
    assert fractions(result.total.rates)[metrics.RESPONSE] == (1, 3)
    assert list(rows_by_label(result, analytics.UNIT)) == ["甲村村民委员会"]

    family = AnalyticsFilters(
        start=MARCH_A.start, end=MARCH_A.end, category=CaseCategory.objects.get(code="family"), channel="visit"
    )
    assert fractions(analytics.case_analytics(user=user, filters=family).total.rates)[metrics.ON_TIME] == (1, 1)

    elsewhere = AnalyticsFilters(start=MARCH_A.start, end=MARCH_A.end, region=world.regions["village_a2"])
    empty = analytics.case_analytics(user=user, filters=elsewhere)
    assert all(rate.rate is None for rate in empty.total.rates.values())
    assert empty.breakdowns[analytics.UNIT].rows == []


def test_units_below_the_minimum_are_listed_without_a_rank(
    world: World,
    cases: dict[str, Case],  # noqa: F811
    settings: Any,
) -> None:
    user = world.user(Role.TOWN_STAFF)
    result = analytics.case_analytics(user=user, filters=MARCH_A)
    assert all(row.rank is None for row in result.breakdowns[analytics.UNIT].rows)  # default minimum 5
    assert "不足 5 件" in result.breakdowns[analytics.UNIT].note
    settings.CASES_MIN_FOR_RANKING = 3
    units = analytics.case_analytics(user=user, filters=MARCH_A).breakdowns[analytics.UNIT].rows
    # 满意率 by rated cases: 甲村小学 3 (ranked), 甲村村民委员会 1 (below 3: unranked, listed after).
    assert [(r.label, r.rank) for r in units] == [("甲村小学", 1), ("甲村村民委员会", None), ("未派单", None)]
    page = client_for(user).get(ANALYTICS, MARCH_QUERY).content.decode()
    assert "不足 3 件" in page and "不排名" in page


# --- The page -----------------------------------------------------------------------------------------------


def test_page_shows_each_rate_with_numerator_and_denominator(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    response = client_for(world.user(Role.TOWN_STAFF)).get(ANALYTICS, MARCH_QUERY)
    assert response.status_code == 200
    text = response.content.decode()
    assert "57.1%" in text and "(4 / 7)" in text  # 响应率
    assert "70.0%" in text and "(2.8 / 4)" in text  # 满意率, weighted
    assert "(0 / 0)" in text and "—" in text  # an empty week has no rate, not 0 %
    assert 'id="cc-analytics-data"' in text and "cocreate/js/cases.js" in text
    assert "<script>" not in text  # data through json_script only (CSP)
    assert OUTSIDE_MARKER not in text
    assert f"{LIST_EXPORT}?start=2026-03-01&amp;end=2026-03-31" in text


def test_page_defaults_to_the_last_30_days(world: World) -> None:
    response = client_for(world.user(Role.LEADER)).get(ANALYTICS)
    assert response.status_code == 200
    today = timezone.localdate()
    assert f'value="{today - timedelta(days=29):%Y-%m-%d}"' in response.content.decode()
    assert response.context["result"].filters.granularity == analytics.WEEK


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, "end"),
        ({"start": "not a date"}, "start"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
        ({"end": "9999-12-31"}, "end"),
        ({"region": "999999"}, "region"),
        ({"region": "abc"}, "region"),
        ({"category": "nope"}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"granularity": "day"}, "granularity"),
        ({"unit": "-1"}, "unit"),
        ({"unit": "99999999999999999999999"}, "unit"),
        ({"region": "9223372036854775808"}, "region"),
        ({"start": "2026-02-30"}, "start"),
    ],
)
def test_a_bad_filter_shows_the_form_error(world: World, query: dict[str, str], field: str) -> None:
    response = client_for(world.user(Role.TOWN_STAFF)).get(ANALYTICS, query)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "is-invalid" in response.content.decode() or "invalid-feedback" in response.content.decode()


def test_region_and_unit_outside_the_scope_are_refused(world: World) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    assert client.get(ANALYTICS, {"region": world.regions["village_b"].pk}).status_code == 400
    assert client.get(ANALYTICS, {"unit": world.units["outside"].pk}).status_code == 400
    assert client.get(ANALYTICS, {"region": world.regions["village_a"].pk}).status_code == 200


def test_who_may_open_the_pages(world: World) -> None:
    assert client_for(world.user(Role.RESIDENT)).get(ANALYTICS).status_code == 403
    assert client_for(world.user(Role.RESIDENT)).get(SUPERVISION).status_code == 403
    assert client_for(None).get(ANALYTICS).status_code == 302
    for role in (Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.LEADER):
        assert client_for(world.user(role)).get(ANALYTICS).status_code == 200, role
        assert client_for(world.user(role)).get(SUPERVISION).status_code == 200, role


def test_menu_entries(world: World) -> None:
    def menu(role: str) -> str:
        return client_for(world.user(role)).get(reverse("core:home")).content.decode()

    assert ANALYTICS in menu(Role.TOWN_STAFF) and SUPERVISION in menu(Role.TOWN_STAFF)
    assert ANALYTICS in menu(Role.VILLAGE_STAFF) and SUPERVISION not in menu(Role.VILLAGE_STAFF)
    assert ANALYTICS not in menu(Role.RESIDENT) and SUPERVISION not in menu(Role.RESIDENT)


# --- Scope -----------------------------------------------------------------------------------------------------


def test_each_role_counts_only_its_scope(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    outside = analytics.case_analytics(user=world.users["outside_staff"], filters=MARCH_A)
    assert fractions(outside.total.rates)[metrics.MEDIATION] == (1, 1)  # c9 only
    assert list(rows_by_label(outside, analytics.UNIT)) == [f"{OUTSIDE_MARKER}委员会"]
    # The village office sees its village's village-level cases: the same March set.
    village = analytics.case_analytics(user=world.user(Role.VILLAGE_STAFF), filters=MARCH_A)
    assert fractions(village.total.rates) == fractions(
        analytics.case_analytics(user=world.user(Role.TOWN_STAFF), filters=MARCH_A).total.rates
    )
    # Admin and school staff read no cases through the area rule; the school (甲村小学) sees its own.
    admin = analytics.case_analytics(user=world.user(Role.ADMIN), filters=MARCH_A)
    assert admin.total.volume == analytics.Volume() and admin.breakdowns[analytics.UNIT].rows == []
    school = analytics.case_analytics(user=world.user(Role.SCHOOL_STAFF), filters=MARCH_A)
    assert list(rows_by_label(school, analytics.UNIT)) == ["甲村小学"]
    leader_page = client_for(world.user(Role.LEADER)).get(ANALYTICS, MARCH_QUERY).content.decode()
    assert OUTSIDE_MARKER not in leader_page and "(4 / 7)" in leader_page


# --- Constant query counts ------------------------------------------------------------------------------------

_n = count(1)


def _spread(world: World, *, cases_n: int, units_n: int, villages_n: int) -> None:
    """``cases_n`` March cases over ``units_n`` units and ``villages_n`` villages of 甲镇, some rated."""
    town = world.regions["town_a"]
    villages = [world.regions["village_a"]]
    for i in range(villages_n - 1):
        villages.append(Region.objects.create(code=f"990101001{i + 50:03d}", name=f"村{i}", level=5, parent=town))
    units = [
        Unit.objects.create(name=f"调解组{i}-{next(_n)}", kind=UnitKind.SOCIAL_ORG, region=villages[i % len(villages)])
        for i in range(units_n)
    ]
    keys = []
    for unit in units:
        world.units[unit.name] = unit
        keys.append(unit.name)
    outcomes = [Outcome.RESOLVED, Outcome.UNRESOLVED, Outcome.UNREASONABLE]
    for i in range(cases_n):
        case = _handled(
            world,
            keys[i % len(keys)],
            contact=0.5,
            reply=3 + i % 5,
            closed=5,
            outcome=outcomes[i % 3],
            region=villages[i % len(villages)],
            channel=[CaseChannel.SELF, CaseChannel.VISIT, CaseChannel.WALKIN][i % 3],
        )
        _rate(case, 1, Satisfaction.SATISFIED, True, D + timedelta(days=5))


def _queries(run: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_cases_units_or_regions(world: World) -> None:
    user = world.user(Role.TOWN_STAFF)
    client = client_for(user)
    client.get(ANALYTICS, MARCH_QUERY)  # warm caches (content types, navigation)
    analytics.case_analytics(user=user, filters=MARCH_A)  # and the user's scope
    _spread(world, cases_n=5, units_n=2, villages_n=1)
    small_calc = _queries(lambda: analytics.case_analytics(user=user, filters=MARCH_A))
    cache.clear()  # the page's figures are kept: count the page that computes them
    small_page = _queries(lambda: client.get(ANALYTICS, MARCH_QUERY))
    small_supervision = _queries(lambda: client.get(SUPERVISION))
    _spread(world, cases_n=50, units_n=6, villages_n=4)
    big_calc = _queries(lambda: analytics.case_analytics(user=user, filters=MARCH_A))
    response = client.get(ANALYTICS, MARCH_QUERY)
    cache.clear()
    big_page = _queries(lambda: client.get(ANALYTICS, MARCH_QUERY))
    big_supervision = _queries(lambda: client.get(SUPERVISION))
    assert response.context["result"].total.volume.dispatched == 55
    assert len(response.context["result"].breakdowns[analytics.REGION].rows) == 5  # 甲村, 乙村 (none), 3 more
    assert big_calc == small_calc, (small_calc, big_calc)
    assert big_page == small_page, (small_page, big_page)
    assert big_supervision == small_supervision, (small_supervision, big_supervision)
    assert small_calc <= 16


def test_figures_are_kept_until_a_case_changes_or_the_time_slot_ends(world: World) -> None:
    user = world.user(Role.TOWN_STAFF)
    client = client_for(user)
    _spread(world, cases_n=5, units_n=2, villages_n=1)
    # The first minute of a slot, so that the requests below cannot straddle two slots.
    now = timezone.localtime()
    at = now.replace(minute=now.minute - now.minute % analytics.FIGURES_SLOT_MINUTES, second=0, microsecond=0)
    clock = mock.patch("django.utils.timezone.now", return_value=at + timedelta(seconds=30))
    with clock:
        first = client.get(ANALYTICS, MARCH_QUERY)
        assert first.context["result"].total.volume.dispatched == 5
        assert "数据截至" in first.content.decode()
        kept = _queries(lambda: client.get(ANALYTICS, MARCH_QUERY))
        again = client.get(ANALYTICS, MARCH_QUERY)
        assert "result" not in again.context  # the kept figures, not a new count
        assert again.content.decode().count('data-rate="response"') == first.content.decode().count(
            'data-rate="response"'
        )
        assert kept <= 10, kept
        api_first = client.get("/api/cases/analytics", MARCH_QUERY).json()
        assert client.get("/api/cases/analytics", MARCH_QUERY).json() == api_first

        # A change to any case (a history row: the data version) counts afresh, on the page and in the API.
        _spread(world, cases_n=1, units_n=1, villages_n=1)
        fresh = client.get(ANALYTICS, MARCH_QUERY)
        assert fresh.context["result"].total.volume.dispatched == 6
        assert client.get("/api/cases/analytics", MARCH_QUERY).json()["total"] != api_first["total"]

        assert "result" not in client.get(ANALYTICS, MARCH_QUERY).context

    # So does the next time slot (a case can turn overdue with time alone).
    later = at + timedelta(minutes=analytics.FIGURES_SLOT_MINUTES, seconds=30)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert "result" in client.get(ANALYTICS, MARCH_QUERY).context


# --- Exports --------------------------------------------------------------------------------------------------


def _book(response: Any) -> Any:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def _all_text(book: Any) -> str:
    return "\n".join(
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row if cell
    )


def test_figures_export(world: World, cases: dict[str, Case], caplog: Any) -> None:  # noqa: F811
    user = world.user(Role.TOWN_STAFF)
    with caplog.at_level(logging.INFO, logger="cocreate.audit"):
        book = _book(client_for(user).get(EXPORT, MARCH_QUERY))
    assert book.sheetnames == ["总体", "按时段", "按类别", "按区域", "按单位", "按渠道", "说明"]
    overall = list(book["总体"].iter_rows(values_only=True))
    header = next(row for row in overall if row and row[0] == "分组")
    total = overall[overall.index(header) + 1]
    values = dict(zip(header, total, strict=True))
    assert (values["响应率分子"], values["响应率分母"]) == (4, 7)
    assert (values["满意率分子"], values["满意率分母"]) == (2.8, 4)
    assert values["化解成功率"] == pytest.approx(0.5)
    units = list(book["按单位"].iter_rows(values_only=True))
    assert units[0][0] == "排名" and units[1][1] == "甲村小学" and units[1][0] == "不排名"
    assert any(r and r[0] and "不参与排名" in str(r[0]) for r in units)
    assert OUTSIDE_MARKER not in _all_text(book)
    assert any(
        "export case_analytics" in r.getMessage() and f"user {user.pk}" in r.getMessage() for r in caplog.records
    )


def test_case_list_export_masks_the_applicant(world: World, caplog: Any) -> None:
    visitor = h.register_for_visitor(world, phone="13812345678")  # 王大妈, ID 990101195001011234
    own = h.case_in(world, S.CLOSED)  # the resident's own case, rated 满意
    anonymous = h.register(world, is_anonymous=True)
    user = world.user(Role.TOWN_STAFF)
    with caplog.at_level(logging.INFO, logger="cocreate.audit"):
        book = _book(client_for(user).get(LIST_EXPORT))
    rows = list(book["案件清单"].iter_rows(values_only=True))
    header, body = rows[0], {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert header[0] == "编号" and "申请人电话" in header
    assert set(body) >= {visitor.number, own.number, anonymous.number}
    assert OUTSIDE_MARKER not in _all_text(book)
    assert (body[visitor.number]["申请人"], body[visitor.number]["申请人电话"]) == ("王**", "138****5678")
    assert body[anonymous.number]["申请人"] == "匿名" and not body[anonymous.number]["申请人电话"]
    assert body[own.number]["满意度"] == "满意" and body[own.number]["问题是否解决"] == "是"
    assert body[own.number]["状态"] == "已办结" and body[own.number]["主办单位"] == "甲村小学"
    text = _all_text(book)
    for secret in ("13812345678", "990101195001011234", "王大妈", "13911110000", "13700000000"):
        assert secret not in text
    assert any("export case_list" in r.getMessage() for r in caplog.records)


def test_case_list_export_over_the_cap_is_refused_with_a_message(world: World, settings: Any) -> None:
    h.register(world)
    h.register(world)
    settings.CASES_EXPORT_MAX_ROWS = 1
    client = client_for(world.user(Role.TOWN_STAFF))
    response = client.get(LIST_EXPORT, follow=True)
    assert response.redirect_chain and response.redirect_chain[0][0].startswith(ANALYTICS)
    text = response.content.decode()
    assert "超过一次导出的上限 1 件" in text
    assert "超过上限" in text  # the page's button says so too


def test_exports_with_a_bad_filter_go_back_to_the_form(world: World) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    for url in (EXPORT, LIST_EXPORT):
        response = client.get(url, {"start": "2026-03-31", "end": "2026-03-01"}, follow=True)
        assert response.status_code == 400 and "未导出" in response.content.decode()
    assert client_for(world.user(Role.RESIDENT)).get(LIST_EXPORT).status_code == 403


# --- API ---------------------------------------------------------------------------------------------------------


def test_api_answers_the_figures(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    response = client_for(world.user(Role.TOWN_STAFF)).get(API, MARCH_QUERY)
    assert response.status_code == 200, response.content
    body = response.json()
    total = {r["key"]: r for r in body["total"]["rates"]}
    assert (total["response"]["numerator"], total["response"]["denominator"], total["response"]["rate"]) == (
        4,
        7,
        0.5714,
    )
    assert total["satisfaction"]["numerator"] == 2.8
    assert [b["key"] for b in body["breakdowns"]] == list(analytics.DIMENSIONS)
    units = next(b for b in body["breakdowns"] if b["key"] == "unit")
    assert units["rows"][0]["label"] == "甲村小学" and units["rows"][0]["rank"] is None
    assert body["filters"]["granularity"] == "week" and body["min_for_ranking"] == 5
    empty_week = next(b for b in body["breakdowns"] if b["key"] == "period")["rows"][0]
    assert all(r["rate"] is None for r in empty_week["rates"])
    outside = client_for(world.users["outside_staff"]).get(API, MARCH_QUERY).json()
    assert {r["key"]: r["denominator"] for r in outside["total"]["rates"]}["mediation"] == 1


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, 400, "invalid_filter", "end"),
        ({"region": "999999"}, 400, "invalid_filter", "region"),
        ({"category": "nope"}, 400, "invalid_filter", "category"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, 400, "invalid_filter", "end"),
        ({"start": "yesterday"}, 422, "invalid_request", "start"),
        ({"granularity": "day"}, 422, "invalid_request", "granularity"),
        ({"region": "abc"}, 422, "invalid_request", "region"),
    ],
)
def test_api_refuses_a_bad_filter_with_a_code(
    world: World, query: dict[str, str], status: int, code: str, field: str
) -> None:
    response = client_for(world.user(Role.TOWN_STAFF)).get(API, query)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code and field in body["fields"]
    if code == "invalid_filter":
        assert any(e["loc"] == ["query", field] and e["type"] for e in body["errors"])


def test_api_scope_and_sign_in(world: World) -> None:
    assert client_for(None).get(API).status_code == 401
    outside_region = world.regions["village_b"].pk
    response = client_for(world.user(Role.TOWN_STAFF)).get(API, {"region": outside_region})
    assert response.status_code == 400
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [(["query", "region"], "invalid_choice")]
    resident = client_for(world.user(Role.RESIDENT)).get(API)
    assert resident.status_code == 403 and resident.json()["error"] == "forbidden"
    admin = client_for(world.user(Role.ADMIN)).get(API).json()  # staff, but reads no cases
    assert all(r["denominator"] == 0 for r in admin["total"]["rates"])
    schema = client_for(world.user(Role.TOWN_STAFF)).get("/api/openapi.json").json()
    assert "/api/cases/analytics" in schema["paths"]


# --- 督办总览 ----------------------------------------------------------------------------------------------------


def _overdue(world: World, status: str, days: int, **kwargs: Any) -> Case:
    case = h.case_in(world, status, **kwargs)
    past = timezone.now() - timedelta(days=days)
    Case.objects.filter(pk=case.pk).update(step_due_at=past, due_at=past + timedelta(hours=1))
    case.refresh_from_db()
    return case


def test_supervision_counts_per_level_and_unit(world: World) -> None:
    late = _overdue(world, S.IN_PROGRESS, 10)
    later = _overdue(world, S.DISPATCHED, 3)
    returned = h.case_in(world, S.RETURNED)
    waiting = h.case_in(world, S.ACCEPTED)
    soon = h.case_in(world, S.SIGNED)
    Case.objects.filter(pk=soon.pk).update(step_due_at=timezone.now() + timedelta(hours=2))
    h.case_in(world, S.CLOSED)  # not open: in no count
    for kind in (ReminderKind.URGE, ReminderKind.SUPERVISE, ReminderKind.BULLETIN):
        CaseReminder.objects.create(case=late, kind=kind, deadline=h.t(late.step_due_at), sent_at=timezone.now())
    CaseReminder.objects.create(
        case=later, kind=ReminderKind.URGE, deadline=h.t(later.step_due_at), sent_at=timezone.now()
    )

    result = analytics.case_supervision(user=world.user(Role.TOWN_STAFF))
    village = next(r for r in result.by_level if r.level == CaseLevel.VILLAGE)
    # Open in 甲村: the five above plus the world's in-progress case (world.py), which has a 到期提醒.
    assert village.load.open == 6
    assert (village.load.overdue, village.load.returns_pending, village.load.waiting) == (2, 1, 1)
    assert village.load.due_soon == 1
    assert village.load.extensions_pending == 1  # the world's case has a pending extension request
    assert village.load.reminder_counts == [1, 2, 1, 1]
    assert [r.load.open for r in result.by_level if r.level != CaseLevel.VILLAGE] == [0, 0]
    school = next(r for r in result.by_unit if r.label == "甲村小学")
    assert (school.load.open, school.load.overdue) == (4, 2)  # late, later, returned, soon
    assert result.by_unit[0].label == "甲村小学"  # the most overdue first
    assert [c.pk for c in result.overdue_cases] == [late.pk, later.pk]
    assert result.total.open == 6 and result.total.reminders[ReminderKind.URGE] == 2

    response = client_for(world.user(Role.TOWN_STAFF)).get(SUPERVISION)
    text = response.content.decode()
    assert response.status_code == 200
    assert reverse("cases:case_detail", args=[late.pk]) in text
    assert "督办通知" in text and "通报" in text
    assert OUTSIDE_MARKER not in text
    assert returned.number not in text.split('id="cc-overdue-cases"')[1].split("</table>")[0]
    assert waiting.number not in text


def test_supervision_region_filter_and_empty_states(world: World) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    response = client.get(SUPERVISION, {"region": world.regions["village_a2"].pk})
    assert response.status_code == 200
    text = response.content.decode()
    assert "没有超期案件" in text and "没有已派单的在办案件" in text
    assert client.get(SUPERVISION, {"region": world.regions["village_b"].pk}).status_code == 400
    assert client.get(SUPERVISION, {"region": "x"}).status_code == 400


def test_reminders_are_seen_by_the_case_staff_only(world: World) -> None:
    reminders = world.extra["cases"]
    mine, theirs = reminders["reminder"], reminders["outside_reminder"]
    visible = access.visible(CaseReminder.objects.all(), world.user(Role.TOWN_STAFF))
    assert mine in visible and theirs not in visible
    # The applicant sees their case but not the ladder of reminders about it.
    resident = world.user(Role.RESIDENT)
    assert Case.objects.visible_to(resident).filter(pk=mine.case_id).exists()
    assert not access.visible(CaseReminder.objects.all(), resident).exists()
    assert not access.visible(CaseReminder.objects.all(), world.user(Role.SCHOOL_STAFF)).exists()
    assert theirs in access.visible(CaseReminder.objects.all(), world.users["outside_staff"])


def test_grids_split_a_village_and_unknown_regions_stay_out(world: World) -> None:
    h.case_in(world, S.DISPATCHED)  # in 甲村 itself
    h.register_for_visitor(world)  # in 甲村一组 (grid)
    village = world.regions["village_a"]
    filters = AnalyticsFilters(start=timezone.localdate() - timedelta(days=1), end=timezone.localdate(), region=village)
    rows = analytics.case_analytics(user=world.user(Role.VILLAGE_STAFF), filters=filters).breakdowns[analytics.REGION]
    assert [(r.label, r.volume.registered) for r in rows.rows] == [("甲村一组", 1), ("甲村（本级）", 2)]
    assert world.regions["grid_a"].level == RegionLevel.GRID


def test_a_superuser_sees_everything_grouped_from_the_top(world: World, cases: dict[str, Case]) -> None:  # noqa: F811
    response = client_for(world.users["superuser"]).get(ANALYTICS, MARCH_QUERY)
    assert response.status_code == 200
    result = response.context["result"]
    # province → city (its only child) → the city's two counties, county B's c9 included.
    assert [r.label for r in result.breakdowns[analytics.REGION].rows] == ["甲县", f"{OUTSIDE_MARKER}县"]
    assert result.total.rates[metrics.MEDIATION].denominator == 5
    assert client_for(world.users["superuser"]).get(SUPERVISION).status_code == 200
