"""``bench/cases``: case intake under load, a unit's and an office's work queue, the county analytics page.

Builds, with ``bulk_create`` in a throwaway database (an SQLite file in a temporary folder; with
``DATABASE_URL=postgres://…`` a fresh database on that server, dropped afterwards), a county of
10 towns × 20 villages with the units of a real county (县 departments, a 县矛盾纠纷调处化解中心,
five offices per town, a 村委会 per village), its staff (a village staff member and a grid worker
per village, a town office per town, one member per county department) and **200 000 cases**
spread over the past year, oldest first, in the states a year of work leaves: most older cases
closed (rated, closed after the follow-up period, answered on the spot, reworked once, returned
and re-dispatched), declined or merged; a few stuck in progress and overdue; the recent ones in
every state. Each case has its timeline (one ``CaseEvent`` per version, as the services write
them), its history row (the current state), its applicant and often another party (phone and ID
number encrypted: each distinct value is encrypted once and the token reused, since Fernet costs
~30 µs a value), ratings, returns, pending extension requests, co-units and the reminder ladder's
rows of late cases. Numbers (``2026-000123``) and tracking codes are unique, and the year's
number sequences continue after them.

Then, in the same run, it measures F_json (the floor) and under gunicorn, with ``wrk``:

* ``queue_unit`` / ``queue_unit_overdue``: the work queue ``/cases/?tab=doing`` and ``?tab=overdue``
  as staff of the county department that leads the most cases (also the county's office, so
  every tab's count runs over the whole county); ``queue_office``: ``/cases/?tab=intake`` as a
  town's office; 8 connections, p95 target 150 ms;
* ``analytics``: the county analytics page (URL name ``cases:case_analytics``) as county staff,
  p95 target 150 ms — reported as "not measured" (no target) while the URL does not exist;
* ``intake``: ``POST /api/cases`` (``services.case_register``: case, registered event, history
  row, applicant and other party, notifications) with 50 connections, each request a new case
  with its parties, by the village staff and grid workers of all 200 villages in turn (each
  with their own signed-in session, for their own village). Throughput target ≥ 0.25 × F_json;
  no errors (every answer 201); afterwards the new cases are counted against the 201 answers
  (none lost, none doubled; at most one in flight per connection when wrk stops) and each is
  checked for its event, history row and both parties.

The home page and the two reference pages of ``bench/app_urls.py`` are measured alongside. It
prints one JSON object on its last line and exits 1 when a target is missed. ``--profile`` prints
every measured request's SQL and a cProfile summary to stderr; ``--in-process`` skips the load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CSRF_SECRET,
    add_load_arguments,
    check_targets,
    cookie_client,
    emit,
    machine,
    measure_floor,
    measure_pages,
    serve_wsgi,
    session_cookie,
)
from bench.common import server_env as bench_server_env
from bench.regions import _throwaway_database

# Sessions and in-process page figures are measured the same way as bench/votes.
from bench.votes import _in_process, _profile, _voter_sessions

SEED = 2026
TOWNS = 10
CHUNK = 2_000  # cases built and inserted at a time (with everything hanging off them)
SPAN_DAYS = 365
COUNTY_DEPARTMENTS = ["司法局", "公安局", "住建局", "自然资源局", "人社局", "民政局", "农业农村局", "市场监管局"]
TOWN_OFFICES = ["综治中心", "司法所", "派出所", "国土所", "农业服务中心"]
CENTRE = "矛盾纠纷调处化解中心"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # tracking.TRACKING_ALPHABET
TITLES = [
    ("neighbour", "邻居占道堆放杂物", "邻居长期在公共通道堆放柴草杂物，影响通行，多次沟通无果"),
    ("neighbour", "宅基地边界纠纷", "两户因院墙位置发生争执，双方各执一词"),
    ("family", "赡养老人纠纷", "兄弟三人对老人赡养费分担有分歧，老人生活困难"),
    ("family", "婚姻家庭矛盾", "夫妻因家务和子女教育长期争吵，女方要求调解"),
    ("land_forest", "承包地边界被挪动", "承包地界桩被邻户挪动，约半分地被占"),
    ("land_forest", "山林权属争议", "两组村民对一片山林的承包权属有争议"),
    ("labour", "拖欠务工工资", "在工地务工三个月，包工头拖欠工资未付"),
    ("property_mgmt", "物业费争议", "小区业主对物业费上涨有意见，拒交物业费"),
    ("consumer", "购买农资质量问题", "购买的化肥疑似质量不合格，导致减产"),
    ("expropriation", "征地补偿款分配", "对征地补偿款在组内的分配方案有异议"),
    ("environment", "养殖场异味扰民", "附近养猪场异味严重，夏季尤甚"),
    ("medical", "诊所用药纠纷", "在村诊所输液后出现不适，要求说法"),
    ("traffic", "农用车剐蹭赔偿", "农用车会车时剐蹭，双方对赔偿金额有争议"),
    ("other", "噪音扰民", "邻居夜间经营加工作坊，噪音影响休息"),
]
DECLINE_REASONS = ["litigation", "arbitration", "no_content"]


@dataclass
class World:
    """What the generator built: ids the measurements need and the sizes it reached."""

    county_id: int
    villages: int
    units: int
    staff: int
    unit_user_id: int  # staff of the county department leading the most cases
    office_user_id: int  # a town's office
    county_user_id: int  # county staff (矛盾纠纷调处化解中心), for the analytics page
    intake_users: list[tuple[int, int]]  # (user id, their village's region id)
    sizes: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


@contextmanager
def _bulk_mode() -> Iterator[None]:
    """While building: the cases app's timestamps as given (``auto_now_add`` would stamp "now")."""
    from django.apps import apps

    stamped: list[tuple[Any, bool, bool]] = []
    for model in apps.get_app_config("cases").get_models():
        f: Any
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
                stamped.append((f, f.auto_now_add, f.auto_now))
                f.auto_now_add = f.auto_now = False
    try:
        yield
    finally:
        for f, add, now in stamped:
            f.auto_now_add, f.auto_now = add, now


def _inserter(model: Any, attnames: list[str]) -> Any:
    """A function inserting rows (tuples in ``attnames`` order) with ``executemany``.

    ``bulk_create`` spends most of its time preparing each field of each model instance; the
    generator already holds plain values, so only what the driver cannot take as is is
    converted: datetimes on SQLite (naive UTC text, as Django stores them) and JSON.
    """
    from django.db import connection
    from django.db.models import DateTimeField, JSONField

    fields = {f.attname: f for f in model._meta.concrete_fields}
    chosen = [fields[a] for a in attnames]
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    marks = ", ".join("%s::jsonb" if postgres and isinstance(f, JSONField) else "%s" for f in chosen)
    columns = ", ".join(quote(f.column) for f in chosen)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # nosec B608
    dates = [i for i, f in enumerate(chosen) if isinstance(f, DateTimeField)] if not postgres else []
    jsons = [i for i, f in enumerate(chosen) if isinstance(f, JSONField)]

    def insert(rows: list[tuple[Any, ...]]) -> None:
        values: list[Any] = rows
        if dates or jsons:
            values = []
            for row in rows:
                line = list(row)
                for i in dates:
                    if line[i] is not None:
                        line[i] = str(line[i].astimezone(UTC).replace(tzinfo=None))
                for i in jsons:
                    line[i] = json.dumps(line[i])
                values.append(line)
        with connection.cursor() as cursor:
            for start in range(0, len(values), 5000):
                cursor.executemany(sql, values[start : start + 5000])

    return insert


# A case's story: the steps (event kind, from, to) from registration to its current state.
REG = ("registered", "", "registered")
ACC = ("accepted", "registered", "accepted")
DEC = ("declined", "registered", "declined")
ANS = ("answered", "registered", "closed")
TRI = ("triaged", "accepted", "triaged")
DIS = ("dispatched", "triaged", "dispatched")
RET = ("returned", "dispatched", "returned")
RDEC = ("return_decided", "returned", "dispatched")
SIG = ("signed", "dispatched", "signed")
CON = ("contacted", "signed", "in_progress")
REP = ("replied", "in_progress", "replied")
RATE_OK = ("rated", "replied", "closed")
RATE_BAD = ("rated", "replied", "dissatisfied")
REW = ("reworked", "dissatisfied", "in_progress")
CLO = ("closed", "replied", "closed")
MER = ("merged", "registered", "merged")
EXT = ("extension_requested", "in_progress", "in_progress")
HANDLED = [REG, ACC, TRI, DIS, SIG, CON]
STORIES: dict[str, list[tuple[list[tuple[str, str, str]], float]]] = {
    "registered": [([REG], 1)],
    "accepted": [([REG, ACC], 1)],
    "triaged": [([REG, ACC, TRI], 1)],
    "dispatched": [([REG, ACC, TRI, DIS], 1)],
    "returned": [([REG, ACC, TRI, DIS, RET], 1)],
    "signed": [([REG, ACC, TRI, DIS, SIG], 1)],
    "in_progress": [(HANDLED, 0.9), ([*HANDLED, EXT], 0.1)],
    "replied": [([*HANDLED, REP], 1)],
    "dissatisfied": [([*HANDLED, REP, RATE_BAD], 1)],
    "closed": [
        ([REG, ANS], 0.08),
        ([*HANDLED, REP, RATE_OK], 0.55),
        ([*HANDLED, REP, CLO], 0.25),
        ([*HANDLED, REP, RATE_BAD, REW, REP, RATE_OK], 0.07),
        ([REG, ACC, TRI, DIS, RET, RDEC, SIG, CON, REP, RATE_OK], 0.05),
    ],
    "declined": [([REG, DEC], 1)],
    "merged": [([REG, MER], 1)],
}
# Typical days each step takes after the previous one (scaled by chance, and to fit the case's age).
GAP_DAYS = {
    "accepted": 0.2,
    "declined": 0.3,
    "answered": 0.01,
    "triaged": 0.3,
    "dispatched": 0.5,
    "returned": 1.0,
    "return_decided": 1.0,
    "signed": 0.3,
    "contacted": 0.6,
    "replied": 6.0,
    "rated": 2.0,
    "reworked": 1.0,
    "closed": 3.5,
    "merged": 0.5,
    "extension_requested": 3.0,
}
# The state a case of a given age (days) is in, with weights.
STATES_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (
        2,
        {
            "registered": 30,
            "accepted": 12,
            "triaged": 12,
            "dispatched": 18,
            "signed": 10,
            "in_progress": 8,
            "closed": 6,
            "declined": 2,
            "merged": 2,
        },
    ),
    (
        20,
        {
            "dispatched": 4,
            "returned": 2,
            "signed": 8,
            "in_progress": 36,
            "replied": 18,
            "dissatisfied": 3,
            "closed": 23,
            "declined": 3,
            "merged": 3,
        },
    ),
    (
        10_000,
        {
            "closed": 88.5,
            "declined": 4,
            "merged": 3,
            "in_progress": 2,
            "replied": 1,
            "dissatisfied": 0.5,
            "returned": 0.5,
            "signed": 0.5,
        },
    ),
]


def _state(rng: random.Random, age_days: float) -> str:
    for limit, weights in STATES_BY_AGE:
        if age_days < limit:
            return rng.choices(list(weights), weights=list(weights.values()))[0]
    raise AssertionError("unreachable")


def _build(*, villages: int, cases: int, now: datetime) -> World:
    """Bulk-inserts the county, units, staff, and the cases with everything that hangs off them."""
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from cocreate.cases.models import (
        Case,
        CaseCategory,
        CaseEvent,
        CaseNumberSequence,
        CaseReminder,
        CaseReturn,
        ExtensionRequest,
        Party,
        Rating,
    )
    from cocreate.cases.tracking import phone_digest
    from cocreate.core import crypto
    from cocreate.core.models import Membership, Person, Region, RegionLevel, Role, Unit, UnitKind, User

    rng = random.Random(SEED)  # reproducible data, not secrets
    HistoricalCase = Case.history.model
    CASE_COLUMNS = [f.attname for f in Case._meta.concrete_fields]
    HISTORY_COLUMNS = [f.attname for f in HistoricalCase._meta.fields if not f.attname.startswith("history_")]
    case_defaults = {f.attname: f.get_default() for f in Case._meta.concrete_fields}
    CoUnit = Case.co_units.through

    def region(code: str, name: str, level: int, parent: Region | None) -> Region:
        path = f"{parent.path if parent else '/'}{code}/"
        return Region(code=code, name=name, level=level, parent=parent, path=path, depth=path.count("/") - 2)

    per_town = -(-villages // TOWNS)
    phones_made = 0

    def phone() -> str:
        nonlocal phones_made
        phones_made += 1
        return f"15{phones_made:09d}"

    with transaction.atomic():
        province = Region.objects.bulk_create([region("96", "测试省", RegionLevel.PROVINCE, None)])[0]
        city = Region.objects.bulk_create([region("9601", "测试市", RegionLevel.CITY, province)])[0]
        county = Region.objects.bulk_create([region("960101", "测试县", RegionLevel.COUNTY, city)])[0]
        towns = Region.objects.bulk_create(
            [region(f"960101{t:03d}", f"第{t}镇", RegionLevel.TOWN, county) for t in range(1, TOWNS + 1)]
        )
        village_regions = Region.objects.bulk_create(
            [
                region(f"{town.code}{v % per_town + 1:03d}", f"第{v + 1}村", RegionLevel.VILLAGE, town)
                for v in range(villages)
                for town in [towns[v // per_town]]
            ],
            batch_size=1000,
        )
        town_of: dict[int, Any] = {v.pk: v.parent_id for v in village_regions}

        government = Unit.objects.create(
            name="测试县人民政府", short_name="县政府", kind=UnitKind.GOVERNMENT, region=county
        )
        centre = Unit.objects.create(
            name=f"测试县{CENTRE}", short_name=CENTRE, kind=UnitKind.DEPARTMENT, region=county, parent=government
        )
        departments = Unit.objects.bulk_create(
            [
                Unit(name=f"测试县{n}", short_name=f"县{n}", kind=UnitKind.DEPARTMENT, region=county, parent=government)
                for n in COUNTY_DEPARTMENTS
            ]
        )
        offices = Unit.objects.bulk_create(
            [
                Unit(name=f"{t.name}{n}", short_name=n, kind=UnitKind.DEPARTMENT, region=t)
                for t in towns
                for n in TOWN_OFFICES
            ]
        )
        offices_of: dict[int, list[Unit]] = {}
        for office in offices:
            offices_of.setdefault(office.region_id, []).append(office)
        committees = Unit.objects.bulk_create(
            [
                Unit(name=f"{v.name}村民委员会", short_name="村委会", kind=UnitKind.VILLAGE_COMMITTEE, region=v)
                for v in village_regions
            ],
            batch_size=1000,
        )
        committee_of = {u.region_id: u for u in committees}

        # Staff: a village staff member (村委会) and a grid worker per village, each town's
        # 综治中心, a member of each county department, and the county's mediation centre.
        accounts: list[User] = []
        grants: list[tuple[int, str, Region, Unit | None]] = []

        def account(display: str, role: str, where: Region, unit: Unit | None) -> int:
            accounts.append(User(phone=f"18{len(accounts):09d}", display_name=display, password="!"))
            grants.append((len(accounts) - 1, role, where, unit))
            return len(accounts) - 1

        village_staff = [
            account(f"{v.name}工作人员", Role.VILLAGE_STAFF, v, committee_of[v.pk]) for v in village_regions
        ]
        grid_workers = [account(f"{v.name}网格员", Role.GRID_WORKER, v, None) for v in village_regions]
        town_staff = [account(f"{t.name}综治中心", Role.TOWN_STAFF, t, offices_of[t.pk][0]) for t in towns]
        dept_staff = [account(f"{u.name}工作人员", Role.DEPT_STAFF, county, u) for u in departments]
        centre_staff = account(f"{centre.name}工作人员", Role.DEPT_STAFF, county, centre)
        accounts = User.objects.bulk_create(accounts, batch_size=2000)
        Membership.objects.bulk_create(
            [
                Membership(user=accounts[i], role=role, region=r, unit=u, title=u.short_name if u else "")
                for i, role, r, u in grants
            ],
            batch_size=2000,
        )
        # A resident with an account per village, who reports for themselves (channel 群众自主上报).
        residents = Person.objects.bulk_create(
            [
                Person(name=_name(rng), region=v, phone=phone(), verified_at=now - timedelta(days=400))
                for v in village_regions
            ],
            batch_size=2000,
        )
        resident_users = User.objects.bulk_create(
            [User(phone=p.phone, person=p, display_name=p.name, password="!") for p in residents], batch_size=2000
        )
        Membership.objects.bulk_create(
            [
                Membership(user=u, role=Role.RESIDENT, region=p.region)
                for u, p in zip(resident_users, residents, strict=True)
            ],
            batch_size=2000,
        )
        resident_of = {p.region_id: (p, u) for p, u in zip(residents, resident_users, strict=True)}
        user_of_village = {v.pk: accounts[i] for v, i in zip(village_regions, village_staff, strict=True)}
        grid_of_village = {v.pk: accounts[i] for v, i in zip(village_regions, grid_workers, strict=True)}
        user_of_town = {t.pk: accounts[i] for t, i in zip(towns, town_staff, strict=True)}
        centre_user = accounts[centre_staff]
        dept_user = {u.pk: accounts[i] for u, i in zip(departments, dept_staff, strict=True)}

        categories = {c.code: c for c in CaseCategory.objects.all()}
        # Pools: parties come back (a person in several cases), so distinct phones are fewer than parties.
        phone_pool = [f"13{rng.randint(0, 999_999_999):09d}" for _ in range(max(200, cases // 10))]
        id_pool = [
            f"99{rng.randint(1000, 9999)}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            f"{rng.randint(0, 999):03d}{rng.choice('0123456789X')}"
            for _ in range(max(100, cases // 40))
        ]
        digests: dict[str, str] = {}

        def digest_of(value: str) -> str:
            if value not in digests:
                digests[value] = phone_digest(value)
            return digests[value]

        # The county department that leads the most county-level cases (the "unit" queue).
        busy_department = departments[0]
        sequence: dict[int, int] = {}
        codes: set[str] = set()
        sizes = dict.fromkeys(
            ["cases", "events", "parties", "history", "ratings", "returns", "extensions", "reminders", "co_units"], 0
        )
        by_status: dict[str, int] = {}
        by_level: dict[str, int] = {}
        span = timedelta(days=SPAN_DAYS)
        first_created = now - span
        # What a duplicate is merged into: each village's latest earlier cases (open when it was merged).
        merge_targets: dict[int, list[int]] = {}

        insert_cases = _inserter(Case, CASE_COLUMNS)
        insert_events = _inserter(
            CaseEvent,
            ["case_id", "kind", "from_status", "to_status", "version", "actor_id", "unit_id", "note", "data", "at"],
        )
        insert_parties = _inserter(
            Party,
            ["case_id", "role", "person_id", "name", "phone", "phone_digest", "id_number", "address", "created_at"],
        )
        insert_history = _inserter(
            HistoricalCase, [*HISTORY_COLUMNS, "history_date", "history_type", "history_user_id"]
        )
        insert_ratings = _inserter(
            Rating,
            [
                "case_id",
                "round",
                "resolved",
                "satisfaction",
                "efficiency",
                "leader_rating",
                "comment",
                "channel",
                "created_at",
            ],
        )
        insert_reminders = _inserter(CaseReminder, ["case_id", "kind", "deadline", "recipients", "sent_at"])
        encrypt = lru_cache(maxsize=None)(crypto.encrypt)
        for start in range(0, cases, CHUNK):
            rows: list[Any] = []
            extras: list[dict[str, Any]] = []
            for n in range(start, min(cases, start + CHUNK)):
                created = first_created + span * (n + rng.random() * 0.9) / cases
                age = (now - created).total_seconds() / 86400
                status = _state(rng, age)
                if status == "merged" and not merge_targets:
                    status = "closed"
                stories = STORIES[status]
                story = rng.choices([s for s, _w in stories], weights=[w for _s, w in stories])[0]
                village = rng.choice(village_regions)
                level = rng.choices([5, 4, 3], weights=[70, 22, 8])[0]
                code, title, description = rng.choice(TITLES)
                urgency = rng.choices(["normal", "urgent", "critical"], weights=[85, 12, 3])[0]
                if level == 5:
                    channel = rng.choices(["visit", "self", "onsite", "walkin", "online"], weights=[45, 15, 15, 20, 5])[
                        0
                    ]
                elif level == 4:
                    channel = rng.choice(["walkin", "onsite"])
                else:
                    channel = rng.choice(["walkin", "onsite"])
                creator = {
                    "visit": grid_of_village[village.pk],
                    "self": resident_of[village.pk][1],
                    "online": resident_of[village.pk][1],
                    "onsite": user_of_village[village.pk],
                    "walkin": user_of_village[village.pk],
                }[channel]
                if level == 4:
                    creator = user_of_town[town_of[village.pk]]
                elif level == 3:
                    creator = centre_user
                local = timezone.localtime(created)
                sequence[local.year] = sequence.get(local.year, 0) + 1
                tracking = "".join(rng.choice(ALPHABET) for _ in range(10))
                while tracking in codes:
                    tracking = "".join(rng.choice(ALPHABET) for _ in range(10))
                codes.add(tracking)
                case = SimpleNamespace(**case_defaults)
                case.__dict__.update(
                    id=n + 1,
                    number=f"{local.year}-{sequence[local.year]:06d}",
                    tracking_code=tracking,
                    region_id=village.pk,
                    place=f"{rng.randint(1, 12)}组" if rng.random() < 0.7 else "",
                    channel=channel,
                    category_id=categories[code].pk if channel != "self" or rng.random() < 0.5 else None,
                    urgency=urgency,
                    title=title,
                    description=f"{description}（{village.name}）",
                    is_anonymous=rng.random() < 0.03,
                    level=level,
                    created_by_id=creator.pk,
                    created_at=created,
                    version=len(story),
                )
                # Walk the story, stamping each step's time; squeeze the gaps into the case's age.
                gaps = [GAP_DAYS[kind] * rng.uniform(0.3, 2.0) for kind, _f, _t in story[1:]]
                room = age * 0.95
                if sum(gaps) > room:
                    gaps = [g * room / sum(gaps) for g in gaps]
                at = created
                events: list[tuple[str, str, str, datetime, Any, str, Unit | None]] = []
                extra: dict[str, Any] = {"ratings": [], "returns": [], "extension": None}
                lead: Unit | None = None
                for (kind, before, after), gap in zip(story, [0.0, *gaps], strict=True):
                    at = at + timedelta(days=gap)
                    actor: Any = creator
                    unit: Unit | None = None
                    note = ""
                    if kind in (
                        "accepted",
                        "triaged",
                        "dispatched",
                        "declined",
                        "answered",
                        "merged",
                        "reworked",
                        "closed",
                    ):
                        actor = {5: user_of_village[village.pk], 4: user_of_town[town_of[village.pk]], 3: centre_user}[
                            level
                        ]
                    if kind == "declined":
                        case.decline_reason = rng.choice(DECLINE_REASONS)
                        case.closed_at = at
                        note = "已告知申请人通过相应程序解决"
                    elif kind == "answered":
                        case.closed_at, case.outcome = at, "answered"
                        case.answer = "已当场向申请人解释有关政策，申请人表示理解"
                    elif kind == "triaged":
                        case.risk = rng.choices(["low", "medium", "high"], weights=[70, 25, 5])[0]
                        case.complexity = rng.choices(["simple", "ordinary", "complex"], weights=[60, 30, 10])[0]
                        case.category_id = case.category_id or categories[code].pk
                    elif kind in ("dispatched", "return_decided"):
                        if kind == "dispatched" or rng.random() < 0.5:  # re-dispatch half of the returns
                            if level == 5:
                                lead = committee_of[village.pk]
                            elif level == 4:
                                lead = rng.choice(offices_of[town_of[village.pk]])
                            else:
                                lead = busy_department if rng.random() < 0.3 else rng.choice(departments)
                        case.lead_unit_id = lead.pk if lead else None
                        if kind == "dispatched":
                            case.dispatched_at = at
                            case.due_at = at + timedelta(days={"normal": 21, "urgent": 7, "critical": 3}[urgency])
                        case.step_due_at = case.first_contact_due_at = at + timedelta(
                            days={"normal": 1.4, "urgent": 0.3, "critical": 0.1}[urgency]
                        )
                        unit = lead
                        if kind == "return_decided":
                            extra["returns"][-1].update(
                                decision="redispatched" if lead != extra["returns"][-1]["unit"] else "sent_back",
                                new_lead_unit=lead if lead != extra["returns"][-1]["unit"] else None,
                                decided_by=user_of_town[town_of[village.pk]] if level == 5 else centre_user,
                                decided_at=at,
                                decision_note="请按职责继续办理",
                            )
                    elif kind == "returned":
                        extra["returns"].append({"unit": lead, "at": at, "decision": "pending"})
                        note = "不属本单位职责范围"
                        unit = lead
                    elif kind == "signed":
                        case.signed_at = case.signed_at or at
                        unit = lead
                    elif kind == "contacted":
                        case.first_contact_at = case.first_contact_at or at
                        case.step_due_at = min(case.due_at, at + timedelta(days=18))
                        note = "电话联系了申请人，约定上门了解情况"
                        unit = lead
                    elif kind == "replied":
                        case.replied_at = at
                        case.reply_count += 1
                        case.answer = "经组织双方调解，已达成一致意见"
                        case.step_due_at = at + timedelta(days=4)
                        unit = lead
                    elif kind == "rated":
                        ok = after == "closed"
                        extra["ratings"].append((case.reply_count, ok, at))
                        if ok:
                            case.closed_at, case.outcome = at, "resolved"
                        actor = resident_of[village.pk][1] if channel in ("self", "online") else None
                    elif kind == "reworked":
                        case.rework_round += 1
                        case.step_due_at = at + timedelta(days=7)
                    elif kind == "closed":
                        case.closed_at = at
                        case.outcome = rng.choices(["resolved", "unresolved"], weights=[85, 15])[0]
                        note = "回访期满，申请人未评价"
                    elif kind == "merged":
                        targets = merge_targets.get(village.pk) or next(iter(merge_targets.values()))
                        case.merged_into_id = rng.choice(targets)
                        case.closed_at = at
                    elif kind == "extension_requested":
                        extra["extension"] = at
                        unit = lead
                    case.status = after
                    events.append((kind, before, after, at, actor, note, unit))
                case.updated_at = at
                rows.append(case)
                extras.append({**extra, "events": events, "village": village})
            insert_cases([tuple(getattr(c, a) for a in CASE_COLUMNS) for c in rows])

            events_rows: list[tuple[Any, ...]] = []
            parties: list[tuple[Any, ...]] = []
            history: list[tuple[Any, ...]] = []
            ratings: list[tuple[Any, ...]] = []
            returns: list[CaseReturn] = []
            extensions: list[ExtensionRequest] = []
            reminders: list[tuple[Any, ...]] = []
            co_units: list[Any] = []
            for case, extra in zip(rows, extras, strict=True):
                by_status[case.status] = by_status.get(case.status, 0) + 1
                by_level[str(case.level)] = by_level.get(str(case.level), 0) + 1
                for version, (kind, before, after, at, actor, note, unit) in enumerate(extra["events"], start=1):
                    data = {"channel": case.channel, "level": case.level} if kind == "registered" else {}
                    events_rows.append(
                        (
                            case.id,
                            kind,
                            before,
                            after,
                            version,
                            actor.pk if actor else None,
                            unit.pk if unit else None,
                            note,
                            data,
                            at,
                        )
                    )
                village = extra["village"]
                # (case, role, person, name, phone, phone_digest, id_number, address, created_at)
                if case.channel in ("self", "online"):
                    person, user = resident_of[village.pk]
                    parties.append(
                        (
                            case.id,
                            "applicant",
                            person.pk,
                            person.name,
                            encrypt(user.phone),
                            digest_of(user.phone),
                            "",
                            "",
                            case.created_at,
                        )
                    )
                else:
                    applicant_phone = rng.choice(phone_pool)
                    parties.append(
                        (
                            case.id,
                            "applicant",
                            None,
                            _name(rng),
                            encrypt(applicant_phone),
                            digest_of(applicant_phone),
                            encrypt(rng.choice(id_pool)) if rng.random() < 0.3 else "",
                            f"{village.name}{rng.randint(1, 12)}组",
                            case.created_at,
                        )
                    )
                if rng.random() < 0.6:
                    other_phone = rng.choice(phone_pool) if rng.random() < 0.5 else ""
                    parties.append(
                        (
                            case.id,
                            "other_party",
                            None,
                            _name(rng),
                            encrypt(other_phone) if other_phone else "",
                            digest_of(other_phone) if other_phone else "",
                            "",
                            "",
                            case.created_at,
                        )
                    )
                last_actor = extra["events"][-1][4]
                history.append(
                    (
                        *(getattr(case, a) for a in HISTORY_COLUMNS),
                        case.updated_at,
                        "+" if case.version == 1 else "~",
                        last_actor.pk if last_actor else None,
                    )
                )
                for round_, ok, at in extra["ratings"]:
                    choice = "satisfied" if ok else "dissatisfied"
                    ratings.append(
                        (
                            case.id,
                            round_,
                            ok,
                            choice,
                            choice,
                            rng.choice(["satisfied", "basic"]) if ok else "basic",
                            "" if ok else "问题没有解决",
                            rng.choice(["page", "sms_link", "tracking"]),
                            at,
                        )
                    )
                for r in extra["returns"]:
                    returns.append(
                        CaseReturn(
                            case_id=case.id,
                            unit=r["unit"],
                            reason="不属本单位职责范围",
                            decision=r["decision"],
                            new_lead_unit=r.get("new_lead_unit"),
                            decided_by=r.get("decided_by"),
                            decided_at=r.get("decided_at"),
                            decision_note=r.get("decision_note", ""),
                            created_at=r["at"],
                        )
                    )
                if extra["extension"] is not None:
                    extensions.append(
                        ExtensionRequest(
                            case_id=case.id,
                            unit_id=case.lead_unit_id,
                            days=5,
                            reason="需要现场测量并等待鉴定结果",
                            old_due_at=case.due_at,
                            requested_due_at=case.due_at + timedelta(days=7),
                            created_at=extra["extension"],
                        )
                    )
                if case.lead_unit_id and case.level < 5 and rng.random() < 0.15:
                    pool = departments if case.level == 3 else offices_of[town_of[village.pk]]
                    other_unit = rng.choice([u for u in pool if u.pk != case.lead_unit_id])
                    co_units.append(CoUnit(case_id=case.id, unit_id=other_unit.pk))
                # The reminder ladder of a late case: the steps its deadline has reached.
                if case.status in ("dispatched", "signed", "in_progress") and case.step_due_at:
                    deadline = min(case.step_due_at, case.due_at)
                    late = (now - deadline).total_seconds() / 86400
                    ladder = [("before", -1.0), ("urge", 0.0), ("supervise", 3.0), ("bulletin", 7.0)]
                    for kind, after_days in ladder:
                        if late >= after_days:
                            sent = deadline + timedelta(days=after_days, minutes=15)
                            reminders.append((case.id, kind, deadline, rng.randint(1, 4), sent))
                elif case.status == "closed" and case.due_at and rng.random() < 0.1:
                    sent = case.due_at - timedelta(days=1)
                    reminders.append((case.id, "before", case.due_at, rng.randint(1, 4), sent))
                if case.status != "merged":
                    recent = merge_targets.setdefault(village.pk, [])
                    recent.append(case.id)
                    del recent[:-50]
            insert_events(events_rows)
            insert_parties(parties)
            insert_history(history)
            insert_ratings(ratings)
            insert_reminders(reminders)
            CaseReturn.objects.bulk_create(returns, batch_size=2000)
            ExtensionRequest.objects.bulk_create(extensions, batch_size=2000)
            CoUnit.objects.bulk_create(co_units, batch_size=2000)
            for key, made in (
                ("cases", rows),
                ("events", events_rows),
                ("parties", parties),
                ("history", history),
                ("ratings", ratings),
                ("returns", returns),
                ("extensions", extensions),
                ("reminders", reminders),
                ("co_units", co_units),
            ):
                sizes[key] += len(made)
        # The cases were given their ids (PostgreSQL's sequence does not know; SQLite's does).
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Case]):
                cursor.execute(statement)
        # Intake continues the year's numbering after the generated cases.
        CaseNumberSequence.objects.bulk_create([CaseNumberSequence(year=y, last=last) for y, last in sequence.items()])

    sizes["distinct_phones_encrypted"] = len(digests)
    intake_users = [(user_of_village[v.pk].pk, v.pk) for v in village_regions]
    intake_users += [(grid_of_village[v.pk].pk, v.pk) for v in village_regions]
    return World(
        county_id=county.pk,
        villages=len(village_regions),
        units=2 + len(departments) + len(offices) + len(committees),
        staff=len(accounts),
        unit_user_id=dept_user[busy_department.pk].pk,
        office_user_id=user_of_town[towns[0].pk].pk,
        county_user_id=centre_user.pk,
        intake_users=intake_users,
        sizes=sizes,
        by_status=dict(sorted(by_status.items())),
        by_level=dict(sorted(by_level.items())),
    )


# --- Intake ---------------------------------------------------------------------------------------------


def _intake_body(region_id: int, n: int) -> dict[str, Any]:
    code, title, description = TITLES[n % len(TITLES)]
    return {
        "region_id": region_id,
        "channel": "visit",
        "title": title,
        "description": description,
        "place": f"{n % 12 + 1}组",
        "category": code,
        "applicant": {"name": "王秀英", "phone": f"139{n:08d}", "address": "3组"},
        "other_parties": [{"name": "李建军", "phone": f"137{n:08d}"}],
    }


def _intake_in_process(path: str, probes: list[tuple[str, int]], *, profile: bool) -> dict[str, Any]:
    """Queries and time of a few intakes, each by a different user (each a new case with parties)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples, counts = [], []
    client = cookie_client(f"sessionid={probes[0][0]}; csrftoken={CSRF_SECRET}")
    client.get("/")
    for n, (key, region_id) in enumerate(probes):
        client.cookies["sessionid"] = key
        body = json.dumps(_intake_body(region_id, 90_000_000 + n))

        def intake() -> Any:
            return client.post(path, body, content_type="application/json", HTTP_X_CSRFTOKEN=CSRF_SECRET)  # noqa: B023

        if profile and n == len(probes) - 1:
            _profile("intake", intake)
            continue
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = intake()
            samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise AssertionError(f"intake answered {response.status_code}: {response.content[:300]!r}")
        counts.append(len(queries))
        if profile and n == 0:
            sys.stderr.write(f"\n===== intake: {len(queries)} queries =====\n")
            for q in queries.captured_queries:
                sys.stderr.write(f"{q['time']:>7} {q['sql'][:400]}\n")
    return {"intake_queries": max(counts), "intake_single_ms": round(statistics.median(samples), 1)}


# Each request registers a new case, by the next user in turn (each with their own session, for
# their own village) and with its own applicant phone; response() counts the 201 answers.
_INTAKE_SCRIPT = """
local users = {}
local n = 0
created = 0
local titles = %(titles)s

function setup(thread) table.insert(threads, thread) end
threads = {}

function init(args)
  for line in io.lines(args[1]) do
    local key, region, offset = line:match("(%%S+) (%%S+) (%%S+)")
    users[#users + 1] = {key = key, region = region}
    n = tonumber(offset)
  end
end

function request()
  n = n + 1
  local u = users[n %% #users + 1]
  local t = titles[n %% #titles + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "sessionid=" .. u.key .. "; csrftoken=%(csrf)s",
    ["X-CSRFToken"] = "%(csrf)s",
  }
  local body = string.format(
    '{"region_id": %%s, "channel": "visit", "title": "%%s", "description": "%%s", "place": "%%d组", '
    .. '"category": "%%s", "applicant": {"name": "王秀英", "phone": "139%%08d", "address": "3组"}, '
    .. '"other_parties": [{"name": "李建军", "phone": "137%%08d"}]}',
    u.region, t[2], t[3], n %% 12 + 1, t[1], n, n)
  return wrk.format("POST", "%(path)s", headers, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 end
end

done = function(summary, latency, requests)
  local c = 0
  for _, t in ipairs(threads) do c = c + t:get("created") end
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"socket_errors\\": %%d, \\"non2xx\\": %%d, "
    .. "\\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d, \\"created\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), c))
end
"""


def _lua_titles() -> str:
    return "{" + ", ".join(f'{{"{c}", "{t}", "{d}"}}' for c, t, d in TITLES) + "}"


def _wrk_intake(
    base: str, path: str, users: list[tuple[str, int]], *, offset: int, duration: float, connections: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cocreate-bench-wrk-") as folder:
        script = Path(folder) / "intake.lua"
        script.write_text(_INTAKE_SCRIPT % {"csrf": CSRF_SECRET, "path": path, "titles": _lua_titles()})
        lines = Path(folder) / "users.txt"
        lines.write_text("".join(f"{key} {region} {offset}\n" for key, region in users))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s"]
        command += ["-s", str(script), base + path, "--", str(lines)]
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    for line in output.splitlines():
        if line.startswith("WRKJSON "):
            return dict(json.loads(line[len("WRKJSON ") :]))
    raise RuntimeError(f"unexpected wrk output:\n{output}")


def _intake_check(first_new_pk: int) -> dict[str, int]:
    """The cases registered since ``first_new_pk`` and whether each has its event, history row and parties."""
    from django.db.models import Count

    from cocreate.cases.models import Case, CaseEvent, Party

    new = Case.objects.filter(pk__gte=first_new_pk)
    cases = new.count()
    events = CaseEvent.objects.filter(case_id__gte=first_new_pk, kind="registered", version=1).count()
    history = Case.history.model.objects.filter(id__gte=first_new_pk, history_type="+").count()
    parties = dict(
        Party.objects.filter(case_id__gte=first_new_pk)
        .values_list("role")
        .annotate(n=Count("id"))
        .values_list("role", "n")
    )
    numbers = new.values("number").distinct().count()
    incomplete = sum(
        1
        for count in (events, history, parties.get("applicant", 0), parties.get("other_party", 0), numbers)
        if count != cases
    )
    return {"cases": cases, "incomplete": incomplete}


# --- Pages ----------------------------------------------------------------------------------------------


def _pages(world: World, cookies: dict[str, str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The measured pages (path, cookie) and the pages that could not be measured."""
    from django.urls import NoReverseMatch, reverse

    queue = reverse("cases:case_queue_list")
    pages = {
        "queue_unit": (queue + "?tab=doing", cookies["unit"]),
        "queue_unit_overdue": (queue + "?tab=overdue", cookies["unit"]),
        "queue_office": (queue + "?tab=intake", cookies["office"]),
    }
    missing = []
    try:
        pages["analytics"] = (reverse("cases:case_analytics"), cookies["county"])
    except NoReverseMatch:
        missing.append("analytics")
    pages |= {
        # References, not targets: what any signed-in page costs here (bench/app_urls.py).
        "home": (reverse("core:home"), cookies["unit"]),
        "signed_in_floor": ("/bench/signed-in/", cookies["unit"]),
        "base_template": ("/bench/base/", cookies["unit"]),
    }
    return pages, missing


TARGET_PAGES = ("queue_unit", "queue_unit_overdue", "queue_office", "analytics")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--villages", type=int, default=200)
    add_load_arguments(parser)
    parser.add_argument("--intake-connections", type=int, default=50)
    parser.add_argument("--max-p95-ms", type=float, default=150.0, help="work queues and the analytics page")
    parser.add_argument("--min-intake-ratio", type=float, default=0.25, help="intakes/s ÷ F_json req/s")
    parser.add_argument("--profile", action="store_true", help="cProfile and SQL of each request, to stderr")
    parser.add_argument("--in-process", action="store_true", help="only the in-process figures (no gunicorn)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cocreate-bench-") as workdir:
        url, drop = _throwaway_database(Path(workdir))
        server_env = bench_server_env(url=url, workdir=workdir, static_root=args.static_root)
        os.environ.update(server_env)
        try:
            import django
            from django.core.management import call_command
            from django.db import connection
            from django.utils import timezone

            django.setup()
            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            with _bulk_mode():
                world = _build(villages=args.villages, cases=args.cases, now=timezone.now())
            build_s = round(time.perf_counter() - started, 1)
            with connection.cursor() as cursor:
                # Production databases have statistics; without them the planners guess.
                cursor.execute("ANALYZE")
            figures: dict[str, Any] = {"backend": connection.vendor, "build_s": build_s}
            if not (Path(server_env["STATIC_ROOT"]) / "staticfiles.json").exists():
                call_command("collectstatic", interactive=False, verbosity=0)
            cookies = {
                "unit": session_cookie(world.unit_user_id),
                "office": session_cookie(world.office_user_id),
                "county": session_cookie(world.county_user_id),
            }
            pages, missing = _pages(world, cookies)
            for page in missing:
                figures[f"{page}_p95_ms"] = "not measured"
            figures.update(_in_process(pages, profile=args.profile))

            from cocreate.cases.models import Case

            # Sessions are stamped "seen now" (bench/votes): made just before use.
            user_ids = [u for u, _r in world.intake_users]
            region_of = dict(world.intake_users)
            keys = list(zip(_voter_sessions(user_ids), [region_of[u] for u in user_ids], strict=True))
            figures.update(_intake_in_process("/api/cases", keys[:6], profile=args.profile))
            targets: dict[str, dict[str, float]] = {}
            if not args.in_process:
                connection.close()
                measure = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}
                floor = measure_floor(workers=args.workers, tool=args.tool, **measure)
                figures["F_json_rps"] = floor["rps"]
                with serve_wsgi(
                    "cocreate.wsgi:application", env=server_env, workers=args.workers, ready_path="/"
                ) as base:
                    figures.update(measure_pages(base, pages, floor_rps=floor["rps"], args=args))
                    for page in pages:
                        targets[f"{page}_errors"] = {"max": 0}
                        if page in TARGET_PAGES:
                            targets[f"{page}_p95_ms"] = {"max": args.max_p95_ms}

                    # Intake: a warm-up and the measurement; every request a new case.
                    first_new_pk = (Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
                    connection.close()
                    warm = _wrk_intake(
                        base, "/api/cases", keys, offset=0, duration=args.warmup, connections=args.intake_connections
                    )
                    raw = _wrk_intake(
                        base,
                        "/api/cases",
                        keys,
                        offset=10_000_000,
                        duration=args.duration,
                        connections=args.intake_connections,
                    )
                seconds = raw["duration_us"] / 1e6
                figures["intake_rps"] = round(raw["requests"] / seconds, 1) if seconds else 0.0
                figures["intake_p50_ms"] = round(raw["p50_us"] / 1000, 2)
                figures["intake_p95_ms"] = round(raw["p95_us"] / 1000, 2)
                figures["intake_p99_ms"] = round(raw["p99_us"] / 1000, 2)
                figures["intake_requests"] = raw["requests"]
                figures["intake_created"] = raw["created"]
                figures["intake_errors"] = raw["socket_errors"] + raw["non2xx"] + warm["socket_errors"] + warm["non2xx"]
                figures["intake_ratio"] = round(figures["intake_rps"] / floor["rps"], 4) if floor["rps"] else 0.0
                figures["intake_connections"] = args.intake_connections
                check = _intake_check(first_new_pk)
                answered = warm["created"] + raw["created"]
                figures["intake_cases_in_db"] = check["cases"]
                # Every 201 is a case (none lost), no case without its answer beyond the requests
                # still in flight when wrk stopped (none doubled), each complete.
                in_flight = 2 * args.intake_connections
                figures["intake_unaccounted"] = 0 if answered <= check["cases"] <= answered + in_flight else 1
                figures["intake_incomplete"] = check["incomplete"]
                connection.close()
                targets["intake_ratio"] = {"min": args.min_intake_ratio}
                targets["intake_errors"] = {"max": 0}
                targets["intake_unaccounted"] = {"max": 0}
                targets["intake_incomplete"] = {"max": 0}
                figures["paths"] = {page: path for page, (path, _cookie) in pages.items()} | {"intake": "/api/cases"}
                figures["tool"] = floor["tool"]
        finally:
            drop()

    missed = check_targets(figures, targets)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "cases",
            "villages": world.villages,
            "units": world.units,
            "staff": world.staff,
            **world.sizes,
            "cases_by_status": world.by_status,
            "cases_by_level": world.by_level,
            **figures,
            "not_measured": missing,
            "connections": args.connections,
            "workers": args.workers,
            "targets": targets,
            "missed": missed,
            "ok": not missed and not args.in_process,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
