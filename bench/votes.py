"""``bench/votes``: a community's needs index, a vote's results page and ballots cast under load.

Builds, with ``bulk_create`` in a throwaway database (an SQLite file in a temporary folder; with
``DATABASE_URL=postgres://…`` a fresh database on that server, dropped afterwards), a 街道 of 8
communities with 5 000 verified residents each (40 000 people, each with an account), one
community's **5 000 needs** in every status (submitted, on the problem list, declined, merged,
done) with a skewed number of seconds each, and two votes of the whole 街道 opened through the
services (so the roll is frozen by ``votes.vote_open``): one of **40 000 voters** with 30 000
ballots, closed by ``votes.vote_close`` (the frozen result), and one still open.

Then, in the same run, it measures F_json (the floor) and under gunicorn, with ``wrk``:

* the needs index (``/participation/needs/``) as a resident of that community, and the results
  page of the closed vote as town staff, with 8 connections (p95 targets 200 and 500 ms);
* ballots cast through ``POST /api/votes/{id}/ballots`` on the open vote, 50 connections, each
  request a **different** voter (a signed-in session per voter, as a phone would hold one): every
  request inserts a real ballot — an identical repeat is answered from the existing ballot and
  would be cheaper. Throughput target ≥ 0.3 × F_json, and no errors: every request must answer
  201, and the ballots in the database are counted afterwards.

The home page is measured as a reference (what any signed-in page costs here). In-process it also
records each request's SQL query count, size and single-request time. It prints one JSON object
on its last line and exits 1 when a target is missed. ``--profile`` prints a cProfile summary of
each measured request to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
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

SEED = 2026
RAISED_BY = ["self", "visit", "staff"]  # NeedChannel: the resident, a grid worker's visit, staff
COMMUNITIES = 8
STAFF_PHONE = "19800000002"
CATEGORIES = ["industry", "environment", "infrastructure", "public_services", "governance"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
TITLES = [
    "村口路灯不亮",
    "垃圾桶太少",
    "小区停车难",
    "广场舞噪音扰民",
    "建议增设快递柜",
    "雨天路面积水",
    "希望开办老年食堂",
    "河道需要清淤",
    "建议修建健身步道",
    "楼道堆放杂物",
]


@dataclass
class World:
    """What the generator built: ids the measurements need and the sizes it reached."""

    community_id: int
    staff_id: int
    resident_id: int
    closed_vote_id: int
    open_vote_id: int
    people: int
    needs: int
    supports: int
    problems: int
    closed_voters: int
    closed_ballots: int
    open_voters: int
    # Accounts of the open vote's voters, in the order the load will use them.
    cast_users: list[int] = field(default_factory=list)
    needs_by_status: dict[str, int] = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _build(*, needs: int, voters: int, ballots: int, now: datetime) -> World:
    """Bulk-inserts the 街道, people, accounts, needs and seconds; opens and closes votes by the services."""
    from django.db import transaction

    from cocreate.core.models import Membership, Person, Region, RegionLevel, Role, User
    from cocreate.participation import votes
    from cocreate.participation.models import (
        Ballot,
        BallotChannel,
        Need,
        NeedChannel,
        NeedStatus,
        NeedSupport,
        ProblemItem,
        ProblemStatus,
        Voter,
        VoteRule,
    )

    rng = random.Random(SEED)  # reproducible data, not secrets

    def region(code: str, name: str, level: int, parent: Region | None) -> Region:
        path = f"{parent.path if parent else '/'}{code}/"
        return Region(code=code, name=name, level=level, parent=parent, path=path, depth=path.count("/") - 2)

    per_community = -(-voters // COMMUNITIES)
    with transaction.atomic():
        province = Region.objects.bulk_create([region("97", "测试省", RegionLevel.PROVINCE, None)])[0]
        city = Region.objects.bulk_create([region("9701", "测试市", RegionLevel.CITY, province)])[0]
        county = Region.objects.bulk_create([region("970101", "测试区", RegionLevel.COUNTY, city)])[0]
        town = Region.objects.bulk_create([region("970101001", "测试街道", RegionLevel.TOWN, county)])[0]
        communities = Region.objects.bulk_create(
            [region(f"970101001{c:03d}", f"第{c}社区", RegionLevel.VILLAGE, town) for c in range(1, COMMUNITIES + 1)]
        )
        community = communities[0]

        staff = User.objects.create_user(STAFF_PHONE, None, display_name="街道工作人员")
        Membership.objects.create(user=staff, role=Role.TOWN_STAFF, region=town, title="社区治理办")

        verified = now - timedelta(days=400)
        people = Person.objects.bulk_create(
            [
                Person(
                    name=_name(rng),
                    region=communities[i // per_community],
                    birth_date=date(1945 + rng.randint(0, 60), rng.randint(1, 12), rng.randint(1, 28)),
                    verified_at=verified,
                    verified_by=staff,
                )
                for i in range(voters)
            ],
            batch_size=2000,
        )
        accounts = User.objects.bulk_create(
            [User(phone=f"17{i:09d}", person=p, display_name=p.name, password="!") for i, p in enumerate(people)],
            batch_size=2000,
        )
        user_of = {u.person_id: u.pk for u in accounts}
        neighbours = [p for p in people if p.region_id == community.pk]

        # The problem list the needs were screened onto.
        problem_status = [ProblemStatus.OPEN] * 4 + [ProblemStatus.DELIBERATING] * 2 + [ProblemStatus.DECIDED] * 2
        problems = ProblemItem.objects.bulk_create(
            [
                ProblemItem(
                    region=community,
                    title=f"{rng.choice(TITLES)}（第{n + 1}项）",
                    category=rng.choice(CATEGORIES),
                    status=ProblemStatus.DONE if n % 5 == 0 else rng.choice(problem_status),
                    created_by=staff,
                )
                for n in range(max(1, needs // 20))
            ]
        )
        done_problems = [p for p in problems if p.status == ProblemStatus.DONE]
        live_problems = [p for p in problems if p.status != ProblemStatus.DONE]

        statuses = rng.choices(
            [NeedStatus.SUBMITTED, NeedStatus.LISTED, NeedStatus.DECLINED, NeedStatus.MERGED, NeedStatus.DONE],
            weights=[50, 25, 10, 8, 7],
            k=needs,
        )
        rows: list[Need] = []
        for status in statuses:
            # How residents' needs arrive (a grievance turned into a need is not one of them).
            channel = rng.choices(RAISED_BY, weights=[80, 15, 5])[0]
            need = Need(
                region=community,
                title=rng.choice(TITLES),
                description="具体情况：" + "，".join(rng.choice(TITLES) for _ in range(3)),
                category=rng.choice(CATEGORIES),
                place=f"{rng.randint(1, 12)}组" if rng.random() < 0.6 else "",
                channel=channel,
                raised_by=rng.choice(neighbours),
                recorded_by=None if channel == NeedChannel.SELF else staff,
                status=NeedStatus.SUBMITTED if status == NeedStatus.MERGED else status,
            )
            if status == NeedStatus.LISTED:
                need.problem = rng.choice(live_problems)
            elif status == NeedStatus.DONE:
                need.problem = rng.choice(done_problems)
                need.status_reason = "已办结"
            elif status == NeedStatus.DECLINED:
                need.status_reason = "不属于本社区职责范围，已转有关部门"
            rows.append(need)
        rows = Need.objects.bulk_create(rows, batch_size=2000)
        # Spread over two years, oldest first (auto_now_add stamped them all "now").
        span = 2 * 365 * 24 * 3600
        for n, need in enumerate(rows):
            need.created_at = now - timedelta(seconds=span * (needs - n) // needs + rng.randint(0, 3600))
        open_targets = [r for r, s in zip(rows, statuses, strict=True) if s == NeedStatus.SUBMITTED]
        merged = [r for r, s in zip(rows, statuses, strict=True) if s == NeedStatus.MERGED]
        for need in merged:
            need.status = NeedStatus.MERGED
            need.merged_into = rng.choice(open_targets)
            need.status_reason = "与其他诉求重复，已合并"
        Need.objects.bulk_update(rows, ["created_at"], batch_size=1000)
        Need.objects.bulk_update(merged, ["status", "merged_into", "status_reason"], batch_size=1000)

        # Seconds: most needs a few, some many (skewed), never by the raiser, once per person.
        supports: list[NeedSupport] = []
        for need in rows:
            k = int(rng.expovariate(1 / 4)) if rng.random() > 0.02 else rng.randint(50, 300)
            for person in rng.sample(neighbours, min(k + 1, len(neighbours))):
                if person.pk != need.raised_by_id and k > 0:
                    supports.append(NeedSupport(need=need, person=person))
                    k -= 1
        NeedSupport.objects.bulk_create(supports, batch_size=5000)

        # Two votes of the whole 街道, through the services: the roll is frozen by vote_open.
        closed = votes.vote_create(
            actor=staff,
            region=town,
            title="街道停车场收费方案",
            question="是否同意按方案对街道公共停车场收费？",
            rule=VoteRule.objects.get(code="villagers_meeting"),
            opens_at=now - timedelta(days=10),
            closes_at=now + timedelta(days=1),
        )
        closed = votes.vote_open(actor=staff, vote=closed, now=now - timedelta(days=9))
        lines = list(Voter.objects.filter(vote=closed).values_list("pk", "person_id"))
        Ballot.objects.bulk_create(
            [
                Ballot(
                    vote=closed,
                    voter_id=voter_id,
                    choice=rng.choices(["agree", "disagree", "abstain"], weights=[62, 28, 10])[0],
                    channel=BallotChannel.PAPER if paper else BallotChannel.ONLINE,
                    cast_by_id=staff.pk if paper else user_of[person_id],
                )
                for voter_id, person_id in rng.sample(lines, min(ballots, len(lines)))
                for paper in [rng.random() < 0.1]
            ],
            batch_size=5000,
        )
        closed = votes.vote_close(actor=staff, vote=closed, now=now - timedelta(hours=1))

        opened = votes.vote_create(
            actor=staff,
            region=town,
            title="老旧小区加装电梯意向",
            question="是否同意本街道老旧小区加装电梯？",
            rule=VoteRule.objects.get(code="simple_poll"),
            opens_at=now - timedelta(hours=2),
            closes_at=now + timedelta(days=7),
        )
        opened = votes.vote_open(actor=staff, vote=opened, now=now - timedelta(hours=1))
        open_voters = Voter.objects.filter(vote=opened).count()

    resident = neighbours[0]
    cast_users = [user_of[p.pk] for p in people if p.pk != resident.pk]
    rng.shuffle(cast_users)
    return World(
        community_id=community.pk,
        staff_id=staff.pk,
        resident_id=user_of[resident.pk],
        closed_vote_id=closed.pk,
        open_vote_id=opened.pk,
        people=len(people),
        needs=len(rows),
        supports=len(supports),
        problems=len(problems),
        closed_voters=len(lines),
        closed_ballots=closed.result["participants"],
        open_voters=open_voters,
        cast_users=cast_users,
        needs_by_status={s: statuses.count(s) for s in sorted(set(statuses))},
    )


# --- Sessions -------------------------------------------------------------------------------------------


def _voter_sessions(user_ids: list[int]) -> list[str]:
    """One fresh signed-in session per voter, written in bulk (as if each had just logged in).

    The data is what ``login()`` stores (copied from a real login), with the user's id and
    session hash; the idle-refresh stamp is now, as for a voter who opened the ballot page a
    moment ago, so the cast itself does not rewrite the session.
    """
    from django.conf import settings
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from cocreate.core.middleware import SEEN_KEY
    from cocreate.core.models import User

    template = SessionStore(session_key=session_cookie(user_ids[0]).split(";")[0].split("=")[1]).load()
    store = SessionStore()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    seen = int(time.time())
    rows, keys = [], []
    users = User.objects.in_bulk(user_ids)
    for user_id in user_ids:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            **template,
            SESSION_KEY: str(user_id),
            HASH_SESSION_KEY: users[user_id].get_session_auth_hash(),
            SEEN_KEY: seen,
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=5000)
    return keys


# --- Measuring ------------------------------------------------------------------------------------------


def _profile(label: str, fn: Any) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    sys.stderr.write(f"\n===== {label} =====\n{out.getvalue()}")


def _in_process(pages: dict[str, tuple[str, str]], *, profile: bool) -> dict[str, Any]:
    """Status, size, SQL query count and single-request time of each page, inside this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    figures: dict[str, Any] = {}
    for page, (path, cookie) in pages.items():
        client = cookie_client(cookie)
        response = client.get(path)
        if response.status_code != 200:
            raise AssertionError(f"{page} {path} answered {response.status_code}")
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
        figures[f"{page}_queries"] = len(queries)
        if profile:
            sys.stderr.write(f"\n===== {page}: {len(queries)} queries =====\n")
            for q in queries.captured_queries:
                sys.stderr.write(f"{q['time']:>7} {q['sql'][:400]}\n")
            _profile(page, lambda: client.get(path))  # noqa: B023 (called at once)
        samples = [elapsed]
        for _ in range(4):
            started = time.perf_counter()
            client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        figures[f"{page}_kib"] = round(len(response.content) / 1024, 1)
        figures[f"{page}_single_ms"] = round(statistics.median(samples), 1)
    return figures


def _cast_in_process(path: str, cookies: list[str], *, profile: bool) -> dict[str, Any]:
    """Queries and time of a first cast by each of a few voters (each a new ballot)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples, counts = [], []
    client = cookie_client(cookies[0])  # one client: a new one loads the middleware (whitenoise scans files)
    client.get("/")
    for n, cookie in enumerate(cookies):
        for part in cookie.split("; "):
            name, _, value = part.partition("=")
            client.cookies[name] = value
        body = json.dumps({"choice": "agree"})
        headers = {"HTTP_X_CSRFTOKEN": CSRF_SECRET}

        def cast() -> Any:
            return client.post(path, body, content_type="application/json", **headers)  # noqa: B023

        if profile and n == len(cookies) - 1:
            _profile("cast", cast)
            continue
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = cast()
            samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise AssertionError(f"cast answered {response.status_code}: {response.content[:300]!r}")
        counts.append(len(queries))
        if profile and n == 0:
            sys.stderr.write(f"\n===== cast: {len(queries)} queries =====\n")
            for q in queries.captured_queries:
                sys.stderr.write(f"{q['time']:>7} {q['sql'][:400]}\n")
    return {"cast_queries": max(counts), "cast_single_ms": round(statistics.median(samples), 1)}


# Each request is a different voter: request() takes the next session from the file; response()
# counts the statuses; a thread that runs out of voters stops rather than repeat one.
_CAST_SCRIPT = """
local sessions = {}
local n = 0
created, repeated, exhausted = 0, 0, 0
local choices = {"agree", "agree", "disagree", "abstain"}

function setup(thread) table.insert(threads, thread) end
threads = {}

function init(args)
  for line in io.lines(args[1]) do sessions[#sessions + 1] = line end
end

function request()
  n = n + 1
  if n > #sessions then
    exhausted = 1
    wrk.thread:stop()
    n = #sessions
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "sessionid=" .. sessions[n] .. "; csrftoken=%(csrf)s",
    ["X-CSRFToken"] = "%(csrf)s",
  }
  return wrk.format("POST", "%(path)s", headers, '{"choice": "' .. choices[n %% 4 + 1] .. '"}')
end

function response(status, headers, body)
  if status == 201 then created = created + 1 elseif status == 200 then repeated = repeated + 1 end
end

done = function(summary, latency, requests)
  local c, r, x = 0, 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); r = r + t:get("repeated"); x = x + t:get("exhausted") end
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"socket_errors\\": %%d, \\"non2xx\\": %%d, "
    .. "\\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d, \\"created\\": %%d, \\"repeated\\": %%d, "
    .. "\\"exhausted\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), c, r, x))
end
"""


def _wrk_casts(base: str, path: str, keys: list[str], *, duration: float, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cocreate-bench-wrk-") as folder:
        script = Path(folder) / "cast.lua"
        script.write_text(_CAST_SCRIPT % {"csrf": CSRF_SECRET, "path": path})
        sessions = Path(folder) / "sessions.txt"
        sessions.write_text("\n".join(keys) + "\n")
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s"]
        command += ["-s", str(script), base + path, "--", str(sessions)]
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    for line in output.splitlines():
        if line.startswith("WRKJSON "):
            return dict(json.loads(line[len("WRKJSON ") :]))
    raise RuntimeError(f"unexpected wrk output:\n{output}")


def _pages(world: World, staff: str, resident: str) -> dict[str, tuple[str, str]]:
    from django.urls import reverse

    return {
        "needs": (reverse("participation:need_list"), resident),
        "needs_support": (reverse("participation:need_list") + "?order=support", resident),
        "results": (reverse("participation:vote_detail", args=[world.closed_vote_id]), staff),
        "results_resident": (reverse("participation:vote_ballot", args=[world.closed_vote_id]), resident),
        # Reference, not a target: the same middleware, session and base template, almost no data.
        "home": (reverse("core:home"), resident),
        # bench/app_urls.py: the middleware, session and login check alone, then with the base template.
        "signed_in_floor": ("/bench/signed-in/", resident),
        "base_template": ("/bench/base/", resident),
    }


TARGET_P95 = {"needs": "max_needs_p95_ms", "results": "max_results_p95_ms"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=5_000)
    parser.add_argument("--voters", type=int, default=40_000, help="people of the 街道, on both votes' rolls")
    parser.add_argument("--ballots", type=int, default=30_000, help="ballots of the closed vote")
    add_load_arguments(parser)
    parser.add_argument("--cast-connections", type=int, default=50)
    parser.add_argument("--max-needs-p95-ms", type=float, default=200.0)
    parser.add_argument("--max-results-p95-ms", type=float, default=500.0)
    parser.add_argument("--min-cast-ratio", type=float, default=0.3, help="casts/s ÷ F_json req/s")
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
            world = _build(needs=args.needs, voters=args.voters, ballots=args.ballots, now=timezone.now())
            build_s = round(time.perf_counter() - started, 1)
            with connection.cursor() as cursor:
                # Production databases have statistics; without them the planners guess.
                cursor.execute("ANALYZE")
            figures: dict[str, Any] = {"backend": connection.vendor, "build_s": build_s}
            if not (Path(server_env["STATIC_ROOT"]) / "staticfiles.json").exists():
                call_command("collectstatic", interactive=False, verbosity=0)
            staff = session_cookie(world.staff_id)
            resident = session_cookie(world.resident_id)
            pages = _pages(world, staff, resident)
            figures.update(_in_process(pages, profile=args.profile))
            cast_path = f"/api/votes/{world.open_vote_id}/ballots"
            # The last few voters cast in-process; the load takes the others, each once.
            probe = world.cast_users[-6:]
            pool = world.cast_users[:-6]
            probe_keys = _voter_sessions(probe)
            figures.update(
                _cast_in_process(
                    cast_path,
                    [f"sessionid={k}; csrftoken={CSRF_SECRET}" for k in probe_keys],
                    profile=args.profile,
                )
            )
            targets: dict[str, dict[str, float]] = {}
            if not args.in_process:
                # Sessions are stamped "seen now": made just before the load, like a voter who has
                # just opened the ballot page.
                keys = _voter_sessions(pool)
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
                        if page in TARGET_P95:
                            targets[f"{page}_p95_ms"] = {"max": getattr(args, TARGET_P95[page])}

                    # Casting: a warm-up and the measurement, each voter once across both.
                    # Enough distinct voters for the warm-up at up to 1 000 casts a second.
                    split = min(len(keys) // 4, max(200, int(args.warmup * 1000)))
                    warm = _wrk_casts(
                        base, cast_path, keys[:split], duration=args.warmup, connections=args.cast_connections
                    )
                    raw = _wrk_casts(
                        base, cast_path, keys[split:], duration=args.duration, connections=args.cast_connections
                    )
                seconds = raw["duration_us"] / 1e6
                figures["cast_rps"] = round(raw["requests"] / seconds, 1) if seconds else 0.0
                figures["cast_p50_ms"] = round(raw["p50_us"] / 1000, 2)
                figures["cast_p95_ms"] = round(raw["p95_us"] / 1000, 2)
                figures["cast_p99_ms"] = round(raw["p99_us"] / 1000, 2)
                figures["cast_requests"] = raw["requests"]
                figures["cast_created"] = raw["created"]
                figures["cast_errors"] = (
                    raw["socket_errors"]
                    + raw["non2xx"]
                    + warm["socket_errors"]
                    + warm["non2xx"]
                    # 200 would be an identical repeat: no new ballot, so not what is measured.
                    + raw["repeated"]
                    + warm["repeated"]
                )
                figures["cast_pool_exhausted"] = raw["exhausted"] + warm["exhausted"]
                figures["cast_ratio"] = round(figures["cast_rps"] / floor["rps"], 4) if floor["rps"] else 0.0
                figures["cast_connections"] = args.cast_connections
                from cocreate.participation.models import Ballot

                # Every answered request made a ballot (requests still in flight when wrk stopped
                # may add a few more, at most one per connection).
                in_db = Ballot.objects.filter(vote_id=world.open_vote_id).count() - len(probe)
                figures["cast_ballots_in_db"] = in_db
                answered = warm["created"] + raw["created"]
                figures["cast_unaccounted"] = 0 if answered <= in_db <= answered + 2 * args.cast_connections else 1
                connection.close()
                targets["cast_ratio"] = {"min": args.min_cast_ratio}
                targets["cast_errors"] = {"max": 0}
                targets["cast_pool_exhausted"] = {"max": 0}
                targets["cast_unaccounted"] = {"max": 0}
                figures["paths"] = {page: path for page, (path, _cookie) in pages.items()} | {"cast": cast_path}
                figures["tool"] = floor["tool"]
        finally:
            drop()

    missed = check_targets(figures, targets)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    emit(
        {
            "benchmark": "votes",
            "people": world.people,
            "needs": world.needs,
            "needs_by_status": world.needs_by_status,
            "supports": world.supports,
            "problems": world.problems,
            "closed_voters": world.closed_voters,
            "closed_ballots": world.closed_ballots,
            "open_voters": world.open_voters,
            **figures,
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
