"""``bench/faults``: writes under load while PostgreSQL restarts and while Redis is down.

Everything runs on private servers this script starts and removes: a PostgreSQL cluster
(``initdb`` into a temporary folder, its own port, trust auth, run as the ``postgres`` OS user when
the script runs as root) and a ``redis-server`` on its own port. The machine's PostgreSQL and Redis
are never touched. On them: gunicorn (2 sync workers) and the Huey consumer (the outbox sender and
its every-minute sweep), configured with ``REDIS_URL`` and ``COCREATE_HUEY_IMMEDIATE=0``.

The world (built in-process through the test world and the services): a village with ``--voters``
residents and an open vote, the town's staff registering cases (each case queues an SMS to its
applicant in the outbox), a village committee reporting progress on a task. Every account has an
API token.

Then, for each fault, ``--clients`` client processes send writes for ``--phase`` seconds, each with
a fresh ``Idempotency-Key`` (a ballot of a voter not used before, a case, a progress report), and
record every answer. On a connection error, a timeout, a 5xx or ``409 idempotency_in_progress``
they retry with the **same key** (up to ``--attempts`` times, exponential backoff capped at 2 s).

* fault ``pg_restart``: ``pg_ctl restart -m fast`` a few seconds into the phase;
* fault ``redis_stop``: Redis stopped for ``--redis-down`` seconds (30), then started again empty
  (no persistence: every queued task is gone, so the outbox sweep must find the messages).

Afterwards it checks, per phase: every request that got a 2xx (first answer or replay) is in the
database exactly once (a ballot of that voter, a case with that description, a report with that
text); no half-written record exists anywhere (a case without its applicant, its registration
event, its history row or its applicant SMS; a ballot whose voter line is of another vote; a
report of another task); no key produced two records; every outbox row is eventually sent or still
pending (none failed, none missing); and the service answers new writes at the first attempt
without a restart, with the web workers and the consumer still the original processes.

It prints per fault: sent (requests on the wire, retries included), succeeded, failed (gave up),
retried, replayed, lost; one JSON object on its last line; exits 1 when anything was lost or the
service did not recover. ``--keep`` leaves the temporary folder (logs) behind.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import multiprocessing
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench.common import REPO, emit, free_port, machine, serve_wsgi
from bench.common import server_env as bench_server_env

RETRY_STATUSES = {500, 502, 503, 504}
KINDS = ("ballot", "case", "report")


# --- Private servers -------------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in ``root`` on ``port``; never the machine's own server."""

    def __init__(self, root: Path, port: int) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not bins:
            raise SystemExit("no /usr/lib/postgresql/*/bin: install the PostgreSQL server package")
        self.bin = Path(bins[-1])
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "pgsock"
        self.log = root / "postgres.log"
        self.port = port
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root.
            pwd.getpwnam("postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/cocreate"

    def _run(self, *command: str, timeout: float = 120) -> None:
        subprocess.run([*self.as_user, *command], check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        for folder in (self.data, self.sockets):
            folder.mkdir(parents=True)
        if self.as_user:
            shutil.chown(self.root, "postgres")
            for path in (self.data, self.sockets):
                shutil.chown(path, "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync",
        )  # fmt: skip
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cocreate")

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run(
            str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", options, *extra,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> float:
        started = time.monotonic()
        self._ctl("restart", "-m", "fast")
        return round(time.monotonic() - started, 2)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w", timeout=60)


class PrivateRedis:
    """A redis-server without persistence on its own port."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install redis-server")
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.root,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


# --- The world ------------------------------------------------------------------------------------------


@dataclass
class World:
    """Ids and tokens the clients need."""

    vote_id: int
    village_id: int
    task_id: int
    unit_id: int
    case_token: str
    report_token: str
    voters: list[tuple[int, str]]  # (person id, raw token), each used once


def _raw_token(user: Any) -> str:
    from cocreate.core import tokens

    _, raw = tokens.token_create(actor=user, user=user, name="故障测试")
    return raw


def build_world(*, voters: int) -> World:
    """The standard test world plus a village of ``voters`` residents with an open vote."""
    from django.db import transaction
    from django.utils import timezone

    from cocreate.conftest import build_world as build_test_world
    from cocreate.core.models import ApiToken, Role, User
    from cocreate.core.tokens import _new_raw_token
    from cocreate.participation import votes
    from cocreate.participation.models import VoteRule
    from cocreate.participation.tests.helpers import people, village

    with transaction.atomic():
        world = build_test_world()
        region = village(world)
        persons = people(region, voters)
        accounts = User.objects.bulk_create(
            [User(phone=f"16{p.pk:09d}"[-11:], person=p, display_name=p.name, password="!") for p in persons],
            batch_size=1000,
        )
        raws = [_new_raw_token() for _ in accounts]
        ApiToken.objects.bulk_create(
            [
                ApiToken(user=u, name="故障测试", prefix=raw[:8], token_hash=ApiToken.hash(raw))
                for u, raw in zip(accounts, raws, strict=True)
            ],
            batch_size=1000,
        )
        staff = world.user(Role.TOWN_STAFF)
        now = timezone.now()
        vote = votes.vote_create(
            actor=staff,
            region=region,
            title="故障测试表决",
            rule=VoteRule.objects.get(code="simple_poll"),
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
        )
        vote = votes.vote_open(actor=staff, vote=vote)
        task = world.extra["plans"]["child_task"]
        return World(
            vote_id=vote.pk,
            village_id=world.regions["village_a"].pk,
            task_id=task.pk,
            unit_id=world.units["village_committee"].pk,
            case_token=_raw_token(staff),
            report_token=_raw_token(world.user(Role.VILLAGE_STAFF)),
            voters=[(p.pk, raw) for p, raw in zip(persons, raws, strict=True)],
        )


# --- Clients ------------------------------------------------------------------------------------------------


def _request(kind: str, world: World, n: int, voter: tuple[int, str] | None, key: str) -> dict[str, Any]:
    """One write to send: method, path, body, token and what identifies its record."""
    body: dict[str, Any]
    if kind == "ballot":
        assert voter is not None
        body = {"choice": "agree" if n % 3 else "disagree"}
        return {"path": f"/api/votes/{world.vote_id}/ballots", "body": body, "token": voter[1], "ref": voter[0]}
    if kind == "case":
        body = {
            "region_id": world.village_id,
            "channel": "walkin",
            "title": "故障测试来访",
            "description": f"故障测试 {key}",
            "applicant": {"name": "测试申请人", "phone": f"139{n % 100000000:08d}"},
        }
        return {"path": "/api/cases", "body": body, "token": world.case_token, "ref": f"故障测试 {key}"}
    body = {"unit_id": world.unit_id, "kind": "percent", "percent": n % 100, "description": f"故障测试 {key}"}
    return {
        "path": f"/api/tasks/{world.task_id}/reports",
        "body": body,
        "token": world.report_token,
        "ref": body["description"],
    }


def _send(port: int, item: dict[str, Any], key: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            item["path"],
            body=json.dumps(item["body"]).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {item['token']}",
                "Idempotency-Key": key,
            },
        )
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _until_answer(
    port: int, item: dict[str, Any], key: str, attempts: int, timeout: float, rng: random.Random
) -> tuple[int | None, bytes, list[str], int, bool]:
    """Sends until an answer that is not worth retrying: (status, body, errors seen, sends, replayed)."""
    errors: list[str] = []
    status: int | None = None
    body = b""
    replayed = False
    for attempt in range(attempts):
        try:
            status, headers, body = _send(port, item, key, timeout)
        except (OSError, http.client.HTTPException) as exc:
            status = None
            errors.append(type(exc).__name__)
        else:
            replayed = headers.get("idempotent-replayed") == "true"
            if not (status in RETRY_STATUSES or (status == 409 and b"idempotency_in_progress" in body)):
                return status, body, errors, attempt + 1, replayed
            errors.append(str(status))
        if attempt + 1 < attempts:
            time.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + rng.random()))
    return None if status in RETRY_STATUSES else status, body, errors, attempts, replayed


def client(args: tuple[int, int, World, float, int, int, float, str, float]) -> list[dict[str, Any]]:
    """One client process: writes until the deadline; each retried with its key until it gets an answer.

    With probability ``resend`` a request that succeeded is sent once more with its key, as a
    client that lost the answer would: the answer must be the replay of the first one.
    """
    index, clients, world, deadline, port, attempts, timeout, phase, resend = args
    rng = random.Random(index)  # nosec B311 - spacing of requests, not secrets
    outcomes: list[dict[str, Any]] = []
    voters = world.voters[index::clients]
    n = 0
    while time.time() < deadline:
        kind = KINDS[n % 3] if voters else KINDS[1 + n % 2]
        voter = voters.pop() if kind == "ballot" else None
        key = f"{phase}-{uuid.uuid4()}"
        item = _request(kind, world, index * 1_000_000 + n, voter, key)
        n += 1
        outcome: dict[str, Any] = {"kind": kind, "key": key, "ref": item["ref"], "sent": 0, "status": None}
        status, body, errors, sent, replayed = _until_answer(port, item, key, attempts, timeout, rng)
        outcome.update(status=status, errors=errors, sent=sent, replayed=replayed)
        if status is not None and 200 <= status < 300:
            outcome["id"] = json.loads(body).get("id")
            if rng.random() < resend:
                again, again_body, again_errors, again_sent, again_replayed = _until_answer(
                    port, item, key, attempts, timeout, rng
                )
                outcome["sent"] += again_sent
                outcome["resend_errors"] = again_errors
                if again is not None:
                    outcome["resent"] = again_replayed and again == status and again_body == body
        elif status is not None:
            outcome["body"] = body[:300].decode(errors="replace")
        outcomes.append(outcome)
    return outcomes


def run_phase(
    name: str, *, world: World, port: int, clients: int, seconds: float, attempts: int, resend: float, fault: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs the clients for ``seconds`` and the fault alongside; returns the outcomes and fault facts."""
    deadline = time.time() + seconds
    jobs = [(i, clients, world, deadline, port, attempts, 10.0, name, resend) for i in range(clients)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(clients) as pool:
        pending = pool.map_async(client, jobs)
        facts = fault()
        results = pending.get(timeout=seconds + attempts * 15 + 60)
    # Every voter is used at most once across phases.
    used = {o["ref"] for chunk in results for o in chunk if o["kind"] == "ballot"}
    world.voters = [v for v in world.voters if v[0] not in used]
    return [o for chunk in results for o in chunk], facts


# --- Checks -----------------------------------------------------------------------------------------------


def check_phase(outcomes: list[dict[str, Any]], vote_id: int, task_id: int) -> dict[str, Any]:
    """Counts what a client was told succeeded but the database lacks, duplicates and half-writes."""
    from cocreate.cases.models import Case
    from cocreate.participation.models import Ballot
    from cocreate.plans.models import ProgressReport

    missing = duplicated = wrong = 0
    for kind in KINDS:
        mine = [o for o in outcomes if o["kind"] == kind]
        refs = [o["ref"] for o in mine]
        if kind == "ballot":
            rows: dict[Any, list[Any]] = {}
            for ballot in Ballot.objects.filter(vote_id=vote_id, voter__person_id__in=refs).select_related("voter"):
                rows.setdefault(ballot.voter.person_id, []).append(ballot)
        elif kind == "case":
            rows = {}
            for case in Case.objects.filter(description__in=refs):
                rows.setdefault(case.description, []).append(case)
        else:
            rows = {}
            for report in ProgressReport.objects.filter(description__in=refs):
                rows.setdefault(report.description, []).append(report)
                if report.task_id != task_id:
                    wrong += 1
        for outcome in mine:
            found = rows.get(outcome["ref"], [])
            duplicated += max(0, len(found) - 1)
            if outcome["status"] is not None and 200 <= outcome["status"] < 300:
                if not found:
                    missing += 1
                elif outcome.get("id") is not None and outcome["id"] not in {r.pk for r in found}:
                    wrong += 1
    succeeded = sum(1 for o in outcomes if o["status"] is not None and 200 <= o["status"] < 300)
    return {
        "requests": len(outcomes),
        "sent": sum(o["sent"] for o in outcomes),
        "succeeded": succeeded,
        "failed": len(outcomes) - succeeded,
        "retried": sum(1 for o in outcomes if o["errors"]),
        "replayed": sum(1 for o in outcomes if o.get("replayed")),
        "resent": sum(1 for o in outcomes if "resent" in o),
        # A resent request whose answer was not the replay of the first answer.
        "replay_mismatch": sum(1 for o in outcomes if o.get("resent") is False),
        "errors_seen": _tally(e for o in outcomes for e in [*o["errors"], *o.get("resend_errors", [])]),
        "missing": missing,
        "duplicated": duplicated,
        "wrong": wrong,
        "by_kind": {k: sum(1 for o in outcomes if o["kind"] == k) for k in KINDS},
        "failures": _tally(str(o["status"]) for o in outcomes if o.get("id") is None),
    }


def _tally(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def half_written(vote_id: int) -> dict[str, int]:
    """Records anywhere in the database missing a part that is written in the same transaction."""
    from django.db.models import Count, Q

    from cocreate.cases.models import Case, CaseEvent, EventKind, PartyRole
    from cocreate.participation.models import Ballot

    cases = Case.objects.filter(description__startswith="故障测试 ")
    no_applicant = cases.annotate(n=Count("parties", filter=Q(parties__role=PartyRole.APPLICANT))).filter(n=0)
    with_event = CaseEvent.objects.filter(kind=EventKind.REGISTERED).values("case_id")
    no_event = cases.exclude(pk__in=with_event)
    no_history = cases.exclude(pk__in=Case.history.values("id"))
    return {
        "case_without_applicant": no_applicant.count(),
        "case_without_event": no_event.count(),
        "case_without_history": no_history.count(),
        "ballot_of_another_roll": Ballot.objects.filter(vote_id=vote_id).exclude(voter__vote_id=vote_id).count(),
    }


def outbox_state(*, wait: float) -> dict[str, float]:
    """Waits (for the every-minute sweep) until no outbox row is due; counts sent, pending, failed, missing."""
    from django.db import connection
    from django.utils import timezone

    from cocreate.cases.models import Case
    from cocreate.core.models import MessageStatus, OutboxMessage

    started = time.monotonic()
    deadline = started + wait
    due_at_start = OutboxMessage.objects.filter(
        status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).count()
    while True:
        due = OutboxMessage.objects.filter(status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now()).count()
        if due == 0 or time.monotonic() > deadline:
            break
        connection.close()
        time.sleep(5)
    case_ids = list(Case.objects.filter(description__startswith="故障测试 ").values_list("pk", flat=True))
    keys = {f"case:{pk}:v1:applicant-sms" for pk in case_ids}
    queued = set(OutboxMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    rows = OutboxMessage.objects.all()
    return {
        "created": rows.count(),
        "sent": rows.filter(status=MessageStatus.SENT).count(),
        "pending": rows.filter(status=MessageStatus.PENDING).count(),
        "pending_due": rows.filter(status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now()).count(),
        "failed": rows.filter(status=MessageStatus.FAILED).count(),
        "missing": len(keys - queued),
        "due_after_load": due_at_start,
        "drained_s": round(time.monotonic() - started, 1),
    }


def recovered(port: int, world: World) -> dict[str, Any]:
    """One fresh write of each kind, no retry: each must succeed at the first attempt."""
    answers: dict[str, int | str] = {}
    for n, kind in enumerate(KINDS):
        voter = world.voters.pop() if kind == "ballot" else None
        if kind == "ballot" and voter is None:
            continue
        key = f"after-{uuid.uuid4()}"
        try:
            status, _, _ = _send(port, _request(kind, world, 9_000_000 + n, voter, key), key, 15)
        except (OSError, http.client.HTTPException) as exc:
            answers[kind] = type(exc).__name__
        else:
            answers[kind] = status
    return {"answers": answers, "ok": all(isinstance(s, int) and 200 <= s < 300 for s in answers.values())}


# --- Main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=6, help="client processes (6)")
    parser.add_argument("--phase", type=float, default=45.0, help="seconds of load per fault (45)")
    parser.add_argument("--fault-at", type=float, default=8.0, help="seconds into a phase the fault starts (8)")
    parser.add_argument("--redis-down", type=float, default=30.0, help="seconds Redis stays down (30)")
    parser.add_argument("--attempts", type=int, default=8, help="tries per request, same key (8)")
    parser.add_argument("--resend", type=float, default=0.1, help="share of successes sent again as if lost (0.1)")
    parser.add_argument("--voters", type=int, default=3000, help="residents on the vote's roll (3000)")
    parser.add_argument("--outbox-wait", type=float, default=150.0, help="seconds to wait for the outbox sweep (150)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cocreate-faults-"))
    pg = PrivatePostgres(root, free_port())
    redis = PrivateRedis(root, free_port())
    huey: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {"bench": "faults", "ok": False, "machine": machine()}
    try:
        (root / "static").mkdir()
        pg.init()
        redis.start()
        env = bench_server_env(url=pg.url, workdir=str(root), static_root=None)
        env.update(
            {
                "REDIS_URL": redis.url,
                "COCREATE_HUEY_IMMEDIATE": "0",
                "DB_CONN_MAX_AGE": "60",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SMS_BACKEND": "console",
            }
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        world = build_world(voters=args.voters)
        print(f"world built in {time.monotonic() - started:.1f} s: {len(world.voters)} voters", flush=True)
        connections.close_all()

        huey_log = open(root / "huey.log", "ab")  # noqa: SIM115 - closed at exit
        huey = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "run_huey", "--workers", "2"],
            env={**os.environ},
            cwd=REPO,
            stdout=huey_log,
            stderr=huey_log,
        )
        with serve_wsgi(
            "cocreate.wsgi:application", env=env, workers=2, ready_path="/api/public/communities", timeout=120
        ) as base:
            port = int(base.rsplit(":", 1)[1])
            web_pids = _children_of_gunicorn(port)

            def pg_fault() -> dict[str, Any]:
                time.sleep(args.fault_at)
                return {"restart_s": pg.restart()}

            def redis_fault() -> dict[str, Any]:
                time.sleep(args.fault_at)
                redis.stop()
                time.sleep(args.redis_down)
                redis.start()
                return {"down_s": args.redis_down}

            phases: dict[str, Any] = {}
            for name, fault in (("pg_restart", pg_fault), ("redis_stop", redis_fault)):
                print(f"phase {name}: {args.clients} clients, {args.phase:.0f} s", flush=True)
                outcomes, facts = run_phase(
                    name,
                    world=world,
                    port=port,
                    clients=args.clients,
                    seconds=args.phase,
                    attempts=args.attempts,
                    resend=args.resend,
                    fault=fault,
                )
                figures = check_phase(outcomes, world.vote_id, world.task_id)
                figures.update(facts)
                figures["lost"] = (
                    figures["missing"] + figures["duplicated"] + figures["wrong"] + figures["replay_mismatch"]
                )
                phases[name] = figures
                print(
                    f"  {name}: sent {figures['sent']}, succeeded {figures['succeeded']}, failed {figures['failed']}, "
                    f"retried {figures['retried']}, replayed {figures['replayed']} (+{figures['resent']} resent), "
                    f"lost {figures['lost']} (missing {figures['missing']}, duplicated {figures['duplicated']}, "
                    f"wrong {figures['wrong']}, replay mismatch {figures['replay_mismatch']}); "
                    f"errors seen {figures['errors_seen']}",
                    flush=True,
                )
                connections.close_all()

            after = recovered(port, world)
            half = half_written(world.vote_id)
            outbox = outbox_state(wait=args.outbox_wait)
            same_workers = _children_of_gunicorn(port) == web_pids
            consumer_alive = huey.poll() is None
            lost_records = sum(p["lost"] for p in phases.values()) + sum(half.values())
            lost_messages = outbox["failed"] + outbox["missing"]
            print(f"  half-written: {half}", flush=True)
            print(f"  outbox: {outbox}", flush=True)
            print(
                f"  recovery: {after['answers']}, same web workers {same_workers}, consumer alive {consumer_alive}",
                flush=True,
            )
            result.update(
                {
                    "clients": args.clients,
                    "phase_s": args.phase,
                    "phases": phases,
                    "half_written": half,
                    "outbox": outbox,
                    "recovery": {**after, "same_web_workers": same_workers, "consumer_alive": consumer_alive},
                    "lost_records": lost_records,
                    "lost_messages": lost_messages,
                    "ok": lost_records == 0 and lost_messages == 0 and after["ok"] and consumer_alive,
                }
            )
    finally:
        if huey is not None and huey.poll() is None:
            huey.send_signal(signal.SIGINT)
            try:
                huey.wait(15)
            except subprocess.TimeoutExpired:
                huey.kill()
                huey.wait()
        redis.stop()
        pg.stop()
        if args.keep:
            print(f"logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    emit(result)


def _children_of_gunicorn(port: int) -> list[int]:
    """The pids of the processes listening on ``port`` (the gunicorn master's workers share it)."""
    pids = []
    for status in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            cmdline = Path(status).read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "gunicorn" in cmdline and f"127.0.0.1:{port}" in cmdline:
            pids.append(int(status.split("/")[2]))
    return sorted(pids)


if __name__ == "__main__":
    main()
