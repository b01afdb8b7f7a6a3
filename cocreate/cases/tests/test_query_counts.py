"""SQL query counts of the grievance pages and endpoints do not grow with the data (bench/cases).

Each test warms up first (the session, the caller's scope and the per-process caches are read on
the first request), counts with a few rows, adds many more, and counts again. The work queue's
own "intake" tab is already compared in test_views.py; here every other tab of every kind of
queue user is, with each tab holding rows in both counts (an empty tab would skip the prefetch
and count one query less, which is not growth).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cocreate.cases import services
from cocreate.cases.models import Case, CaseEvent, CaseStatus
from cocreate.cases.tests import helpers as h
from cocreate.conftest import World
from cocreate.core.models import Role

pytestmark = pytest.mark.django_db
S = CaseStatus


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def queries(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return len(captured.captured_queries), response


def visitor_case(world: World, status: str = S.REGISTERED) -> Case:
    case = h.register_for_visitor(world)
    for step in h.PATHS[status]:
        case = step(world, case)
    case.refresh_from_db()
    return case


# --- Intake ---------------------------------------------------------------------------------------------------


def _api_intake(client: Client, world: World, n: int) -> Any:
    body = {
        "region_id": world.regions["grid_a"].pk,
        "channel": "visit",
        "description": "承包地边界被挪动",
        "category": "land_forest",
        "applicant": {"name": "赵大爷", "phone": f"1381111{n:04d}", "id_number": "990101195001011234"},
        "other_parties": [{"name": "钱某", "phone": "13922223333"}],
    }
    return client.post("/api/cases", json.dumps(body), content_type="application/json")


def _page_intake(client: Client, world: World, n: int) -> Any:
    data = {
        "region": world.regions["grid_a"].pk,
        "channel": "visit",
        "applicant_name": "赵大爷",
        "applicant_phone": f"1381234{n:04d}",
        "applicant_id_number": "",
        "other_name": "钱二",
        "other_phone": "13900001111",
        "category": h.category().pk,
        "urgency": "normal",
        "place": "甲村一组晒谷场",
        "description": "晒谷场被邻居占用，协商不成",
    }
    return client.post(reverse("cases:case_intake_form"), data)


@pytest.mark.parametrize(("intake", "status"), [(_api_intake, 201), (_page_intake, 302)], ids=["api", "page"])
def test_intake_queries_do_not_grow_with_cases(world: World, intake: Any, status: int) -> None:
    grid = client_for(world.user(Role.GRID_WORKER))
    for _i in range(10):
        h.register_for_visitor(world)
    assert intake(grid, world, 1).status_code == status  # warm-up: session, scope, number sequence row
    few, response = queries(lambda: intake(grid, world, 2))
    assert response.status_code == status
    for _i in range(90):
        h.register_for_visitor(world)
    assert Case.objects.count() >= 100
    many, response = queries(lambda: intake(grid, world, 3))
    assert response.status_code == status
    assert many == few, (few, many)


# --- The work queue, every tab ---------------------------------------------------------------------------------

# One case in each state a tab lists: 待受理, 待分拨, 已派单 (待签收), 办理中, 已退单 (待审核), 不满意.
QUEUE_STATES = [S.REGISTERED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.DISSATISFIED]
# Who sees which tabs filled: the office (village staff), the lead unit (school staff), the level
# above (town staff, 待审核) and the grid worker who recorded the cases (我登记的).
QUEUE_TABS: dict[str, list[str]] = {
    Role.VILLAGE_STAFF: ["intake", "route", "rework", "soon", "overdue"],
    Role.SCHOOL_STAFF: ["sign", "doing", "soon", "overdue"],
    Role.TOWN_STAFF: ["review"],
    Role.GRID_WORKER: ["recorded"],
}


def _add_queue_cases(world: World, rounds: int) -> None:
    for _i in range(rounds):
        # A dissatisfied case is rated by its applicant: the resident's own report.
        made = [
            h.case_in(world, status) if status == S.DISSATISFIED else visitor_case(world, status)
            for status in QUEUE_STATES
        ]
        # Half of the running clocks overdue, half due soon, so both deadline tabs hold rows.
        running = [c.pk for c in made if c.status in (S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.DISSATISFIED)]
        Case.objects.filter(pk__in=running[::2]).update(step_due_at=h.later(-1))
        Case.objects.filter(pk__in=running[1::2]).update(step_due_at=h.later(0.1))


def _queue(client: Client, tab: str) -> tuple[int, int]:
    cache.clear()  # the tab counts are cached per data version and time slot: measure them computed
    count, response = queries(lambda: client.get(reverse("cases:case_queue_list"), {"tab": tab}))
    assert response.status_code == 200
    assert response.context["current"].key == tab
    return count, len(response.context["rows"])


def test_queue_tabs_queries_do_not_grow_with_cases(world: World) -> None:
    clients = {role: client_for(world.user(role)) for role in QUEUE_TABS}
    _add_queue_cases(world, 1)
    few: dict[tuple[str, str], tuple[int, int]] = {}
    for role, tabs in QUEUE_TABS.items():
        for tab in tabs:
            _queue(clients[role], tab)  # warm-up: per-process caches (menu, calendar)
            few[role, tab] = _queue(clients[role], tab)
    _add_queue_cases(world, 8)
    for (role, tab), (count, rows) in few.items():
        many_count, many_rows = _queue(clients[role], tab)
        assert rows >= 1 and many_rows > rows, (role, tab, rows, many_rows)
        assert many_count == count, (role, tab, count, many_count)


# --- A case's page and its timeline ------------------------------------------------------------------------------


def _long_timeline(world: World, rounds: int) -> Case:
    """An in-progress case that went back and forth between the lead unit and the level above."""
    case = visitor_case(world, S.DISPATCHED)
    for _i in range(rounds):
        case = services.case_return(actor=h.lead(world), case=case, reason="不属学校职责")
        case = services.case_return_decide(actor=h.reviewer(world), case=case, redispatch=False, note="请继续办理")
    case = services.case_sign(actor=h.lead(world), case=case)
    case = services.case_contact(actor=h.lead(world), case=case, note="电话联系了申请人")
    case.refresh_from_db()
    return case


def test_case_page_and_api_detail_queries_do_not_grow_with_the_timeline(world: World) -> None:
    short = visitor_case(world, S.IN_PROGRESS)
    long = _long_timeline(world, 10)
    assert CaseEvent.objects.filter(case=long).count() >= CaseEvent.objects.filter(case=short).count() + 20
    for user in (h.office(world), h.lead(world), h.reviewer(world)):
        client = client_for(user)
        for url in (
            lambda case: reverse("cases:case_detail", args=[case.pk]),
            lambda case: f"/api/cases/{case.pk}",
            lambda case: f"/api/cases/{case.pk}/events",
        ):
            client.get(url(short))  # warm-up
            counted = []
            for case in (short, long):
                count, response = queries(lambda: client.get(url(case)))
                assert response.status_code == 200, (user, url(case))
                counted.append(count)
            assert counted[0] == counted[1], (user, url(short), counted)


# --- Tracking by code + phone ------------------------------------------------------------------------------------


def test_tracking_queries_do_not_grow_with_the_timeline(world: World) -> None:
    short = visitor_case(world, S.IN_PROGRESS)
    long = _long_timeline(world, 10)
    anonymous = client_for(None)
    lookups = (
        lambda case: anonymous.post(
            reverse("cases:case_track"), {"code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE}
        ),
        lambda case: anonymous.post(
            "/api/public/cases/track",
            json.dumps({"code": case.tracking_code, "phone": h.NON_ACCOUNT_PHONE}),
            content_type="application/json",
        ),
    )
    for lookup in lookups:
        lookup(short)  # warm-up
        counted = []
        for case in (short, long):
            count, response = queries(lambda: lookup(case))
            assert response.status_code == 200 and case.number in response.content.decode()
            counted.append(count)
        assert counted[0] == counted[1], counted


def _county_statistics(rows: dict[str, int], exact: dict[str, list[int]]) -> None:
    """ANALYZE, then SQLite's statistics scaled to ``rows`` per table (``exact`` for some indexes),
    as SQLite would gather them on a county's data; the planner reads them back at once."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT tbl, idx, stat FROM sqlite_stat1")
        for table, index, stat in [row for row in cursor.fetchall() if row[0] in rows]:
            count, *per_key = (int(v) for v in stat.split())
            factor = rows[table] / max(count, 1)
            scaled = exact.get(index) or [rows[table], *(max(1, round(k * factor)) if k > 1 else 1 for k in per_key)]
            cursor.execute(
                "UPDATE sqlite_stat1 SET stat = %s WHERE tbl = %s AND idx IS %s",
                [" ".join(map(str, scaled)), table, index],
            )
        cursor.execute("ANALYZE sqlite_schema")  # reload the statistics


# --- The queue's office tabs start from the status index ------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner; PostgreSQL has histograms")
def test_office_tab_counts_start_from_the_status_level_region_index(world: World) -> None:
    """Without it SQLite drove the office tabs from the area's regions: every case of a county or
    town read to count a handful (bench/cases: 200 ms a tab at 50 000 cases)."""
    office = client_for(h.reviewer(world))  # the town's office: its area holds villages and grids
    _add_queue_cases(world, 1)
    # The statistics of a county's year (bench/cases at 50 000 cases), as SQLite would gather
    # them: ~4 000 cases per status on average, 250 per region, 200 regions in a county.
    _county_statistics(
        {"cases_case": 50_000, "core_region": 213}, {"case_status_level_region_idx": [50_000, 4_167, 1_429, 15]}
    )
    office.get(reverse("cases:case_queue_list"), {"tab": "intake"})
    cache.clear()  # the tab counts are cached: capture them computed
    with CaptureQueriesContext(connection) as captured:
        office.get(reverse("cases:case_queue_list"), {"tab": "intake"})
    counts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT COUNT(*) AS "__count"')]
    assert counts
    checked = 0
    with connection.cursor() as cursor:
        for sql in counts:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            if "'registered'" in sql:  # 待受理
                assert "case_status_level_region_idx (status=? AND level=?" in plan, plan
                assert not plan.startswith("SEARCH core_region USING COVERING INDEX"), plan
                checked += 1
            if "rework_round" in sql:  # 待审核: not every case of the area by region either
                assert "USING INDEX cases_case_region_id" not in plan, plan
                assert not plan.startswith("SEARCH core_region USING COVERING INDEX"), plan
                # A pending extension is looked up per candidate case, not listed by a scan.
                assert "SEARCH U0 USING INDEX cases_extensionrequest_case_id" in plan, plan
                checked += 1
    assert checked >= 2


def test_review_tab_lists_running_cases_with_a_pending_extension(world: World) -> None:
    """The 待审核 tab's pending-extension test (an EXISTS per case) still finds exactly those."""
    asked = visitor_case(world, S.IN_PROGRESS)
    services.case_extension_request(actor=h.lead(world), case=asked, days=3, reason="需要等待鉴定结果")
    quiet = visitor_case(world, S.IN_PROGRESS)
    town = client_for(h.reviewer(world))
    response = town.get(reverse("cases:case_queue_list"), {"tab": "review"})
    numbers = {row["case"].number for row in response.context["rows"]}
    assert asked.number in numbers and quiet.number not in numbers


def test_queue_tab_counts_are_kept_until_a_case_changes(world: World) -> None:
    office = client_for(world.user(Role.VILLAGE_STAFF))
    visitor_case(world)
    office.get(reverse("cases:case_queue_list"), {"tab": "intake"})  # warm-up: session, menu, calendar
    cache.clear()
    computed, first = queries(lambda: office.get(reverse("cases:case_queue_list"), {"tab": "intake"}))
    kept, second = queries(lambda: office.get(reverse("cases:case_queue_list"), {"tab": "intake"}))
    tabs = len(first.context["tabs"])
    # Kept: the tabs' COUNTs are not run again (the data version is read either way).
    assert kept <= computed - tabs + 1, (computed, kept, tabs)
    assert dict((t.key, n) for t, n in second.context["tabs"]) == dict((t.key, n) for t, n in first.context["tabs"])
    before = dict((t.key, n) for t, n in first.context["tabs"])["intake"]
    visitor_case(world)  # a new registered case: a new history row, so the counts are computed again
    third = office.get(reverse("cases:case_queue_list"), {"tab": "intake"})
    assert dict((t.key, n) for t, n in third.context["tabs"])["intake"] == before + 1
    assert len(third.context["rows"]) == before + 1


# --- The analytics start from the period's dates --------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner; PostgreSQL has histograms")
def test_analytics_read_the_period_from_the_date_indexes(world: World) -> None:
    """The ratings of the analytics waited for the whole visible set (``case IN (…)``): 0.6 s a
    query at 200 000 cases, 14 such queries on the page (bench/cases)."""
    from cocreate.cases import analytics
    from cocreate.cases.forms_analytics import AnalyticsFilterForm

    user = h.reviewer(world)
    _add_queue_cases(world, 1)
    # A county's year as SQLite would gather it (bench/cases: 200 000 cases, 127 000 ratings;
    # a date is all but unique, a category or unit holds thousands).
    dates = ("case_created_at_idx", "case_dispatched_at_idx", "case_closed_at_idx", "rating_created_at_idx")
    _county_statistics(
        {"cases_case": 200_000, "cases_rating": 127_000},
        {name: [127_000 if name.startswith("rating") else 200_000, 2] for name in dates},
    )
    form = AnalyticsFilterForm(None, user=user)
    assert form.is_valid() and form.filters is not None
    with CaptureQueriesContext(connection) as captured:
        analytics.case_analytics(user=user, filters=form.filters)
    plans = {}
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if "COUNT(" not in sql:
                continue
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plans[sql] = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert len(plans) >= 12, len(plans)
    ratings = [plan for sql, plan in plans.items() if 'FROM "cases_rating"' in sql]
    assert len(ratings) == 5, ratings  # one per breakdown
    for plan in ratings:
        # Each rating is checked against the viewer's scope by its case's key, in a correlated
        # subquery: the visible cases are never listed first.
        assert "CORRELATED SCALAR SUBQUERY 3 | SEARCH V0 USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert "LIST SUBQUERY 3" not in plan, plan
    # The period's ratings (no breakdown joins a case table) are read from their date.
    assert any(p.startswith("SEARCH cases_rating USING INDEX rating_created_at_idx") for p in ratings), ratings
