"""One ballot per voter under real concurrency (PostgreSQL): 100 voters each send 20 ballots at
once; exactly 100 ballots exist, the tally is 100, and no request fails unexpectedly. A close
racing late casts never leaves a ballot outside the frozen result."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from queue import Empty, Queue
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from cocreate.conftest import build_world
from cocreate.core.models import Role
from cocreate.core.tests.concurrency import race
from cocreate.participation import votes
from cocreate.participation.models import Ballot, Choice, Vote, VoteRule
from cocreate.participation.tests.helpers import account, people, village

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]

VOTERS = 100
ATTEMPTS = 20
WORKERS = 40  # each with its own connection; PostgreSQL here allows 100


def _open(world: Any, n: int) -> tuple[Vote, list[Any]]:
    region = village(world)
    users = [account(p) for p in people(region, n)]
    staff = world.user(Role.TOWN_STAFF)
    now = timezone.now()
    vote = votes.vote_create(
        actor=staff,
        region=region,
        title="并发表决",
        rule=VoteRule.objects.get(code="simple_poll"),
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=1),
    )
    return votes.vote_open(actor=staff, vote=vote), users


def test_a_hundred_voters_sending_twenty_ballots_each_make_a_hundred_ballots() -> None:
    world = build_world()
    vote, users = _open(world, VOTERS)
    # Each voter's 20 attempts sit next to each other, so 40 workers run two voters' attempts at once.
    work = [(user, Choice.AGREE if i % 3 else Choice.DISAGREE) for i, user in enumerate(users) for _ in range(ATTEMPTS)]
    queue: Queue[tuple[Any, str]] = Queue()
    for item in work:
        queue.put(item)
    barrier = threading.Barrier(WORKERS)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            while True:
                try:
                    user, choice = queue.get_nowait()
                except Empty:
                    return
                try:
                    result: Any = votes.ballot_cast(actor=user, vote=vote, choice=choice)
                except Exception as exc:  # collected and asserted below
                    result = exc
                with lock:
                    outcomes.append(result)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert not failures, failures[:3]
    assert len(outcomes) == VOTERS * ATTEMPTS
    assert Ballot.objects.filter(vote=vote).count() == VOTERS
    f = votes.tally(vote)
    assert f.participants == VOTERS
    assert f.by_choice[Choice.AGREE] + f.by_choice[Choice.DISAGREE] == VOTERS
    assert len({o.pk for o in outcomes}) == VOTERS


def test_closing_while_voters_cast_freezes_every_ballot_that_landed() -> None:
    world = build_world()
    vote, users = _open(world, 30)
    staff = world.user(Role.TOWN_STAFF)
    random.seed(7)

    def work(i: int) -> Any:
        if i == 15:
            return votes.vote_close(actor=staff, vote=vote)
        return votes.ballot_cast(actor=users[i], vote=vote, choice=Choice.AGREE)

    results = race(30, work)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, ValidationError)]
    assert not unexpected, unexpected
    vote.refresh_from_db()
    assert vote.status == "closed"
    assert vote.result["participants"] == Ballot.objects.filter(vote=vote).count()
