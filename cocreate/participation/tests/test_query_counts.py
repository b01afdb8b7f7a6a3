"""What ``bench/votes`` measures costs the same number of queries whatever the size: the needs
index (page and API) for 10 and 100 needs a page, for a resident and for staff, and a ballot cast
through the API for a vote of 10 and of 100 voters. The index's per-page counts are also checked
against the database, since the page now reads them for its own rows only."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Person, Role
from cocreate.participation import votes
from cocreate.participation.models import Ballot, Need, NeedStatus, NeedSupport, Vote, VoteRule
from cocreate.participation.tests.helpers import account, people, village
from cocreate.participation.tests.test_needs import Community, build_community

pytestmark = pytest.mark.django_db

STATUSES = [NeedStatus.SUBMITTED, NeedStatus.SUBMITTED, NeedStatus.LISTED, NeedStatus.DECLINED, NeedStatus.DONE]


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _fill(c: Community, n: int, start: int = 0) -> list[Need]:
    """``n`` needs of village A in several statuses, need i seconded by i % 4 neighbours."""
    region = c.world.regions["village_a"]
    raisers = people(region, 2)
    rows = Need.objects.bulk_create(
        [
            Need(
                region=region,
                title=f"诉求{start + i}",
                description="内容",
                category="governance",
                raised_by=raisers[i % 2],
                status=STATUSES[i % len(STATUSES)],
                status_reason="理由" if STATUSES[i % len(STATUSES)] == NeedStatus.DECLINED else "",
            )
            for i in range(n)
        ]
    )
    seconds: list[Person] = [u.person for u in c.neighbours if u.person is not None]
    NeedSupport.objects.bulk_create(
        [NeedSupport(need=need, person=p) for i, need in enumerate(rows) for p in seconds[: (start + i) % 4]]
    )
    return rows


def _queries(client: Client, path: str, params: dict[str, Any]) -> tuple[int, Any]:
    client.get(path, params)  # the first request may refresh the session (a write)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return len(queries), response


@pytest.mark.parametrize("order", ["new", "support"])
def test_staff_see_the_needs_index_with_the_same_queries_for_10_and_100_a_page(
    c: Community, settings: Any, order: str
) -> None:
    client = client_for(c.staff(Role.VILLAGE_STAFF))
    path = reverse("participation:need_list")
    _fill(c, 10)
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 10
    ten, _response = _queries(client, path, {"order": order})
    _fill(c, 140, start=10)
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 100
    hundred, response = _queries(client, path, {"order": order})
    assert len(response.context["page"].object_list) == 100
    assert ten == hundred, (ten, hundred)


@pytest.mark.parametrize("order", ["new", "support"])
def test_the_api_lists_10_and_100_needs_with_the_same_queries(c: Community, order: str) -> None:
    client = client_for(c.neighbours[0])
    _fill(c, 150)
    ten, response = _queries(client, "/api/needs", {"limit": 10, "order": order})
    assert len(response.json()["items"]) == 10
    hundred, response = _queries(client, "/api/needs", {"limit": 100, "order": order})
    assert len(response.json()["items"]) == 100
    assert ten == hundred, (ten, hundred)


def test_the_index_shows_each_needs_own_count_and_whether_i_seconded_it(c: Community, settings: Any) -> None:
    settings.PAGE_SIZE = settings.PHONE_PAGE_SIZE = 100
    me = c.neighbours[1]
    rows = _fill(c, 12)
    assert me.person is not None
    mine = Need.objects.create(
        region=c.world.regions["village_a"], title="我的诉求", description="内容", category="governance",
        raised_by=me.person,
    )  # fmt: skip
    client = client_for(me)
    listed = Need.objects.filter(region=c.world.regions["village_a"]).exclude(status=NeedStatus.MERGED)
    assert {n.pk for n in [*rows, mine]} <= {n.pk for n in listed}
    expected = {
        need.pk: (
            NeedSupport.objects.filter(need=need).count(),
            NeedSupport.objects.filter(need=need, person=me.person).exists(),
        )
        for need in listed
    }
    assert {count for count, _ in expected.values()} == {0, 1, 2, 3}
    assert {by_me for _, by_me in expected.values()} == {True, False}
    for order in ("new", "support"):
        _count, response = _queries(client, reverse("participation:need_list"), {"order": order})
        page = response.context["page"].object_list
        shown = {need.pk: (need.support_count, need.supported_by_me) for need in page}
        assert shown == expected
        assert [need.is_mine for need in page if need.pk == mine.pk] == [True]
        assert not any(need.is_mine for need in page if need.pk != mine.pk)
        if order == "support":
            counts = [need.support_count for need in page]
            assert counts == sorted(counts, reverse=True)
        else:
            newest = listed.order_by("-created_at", "-id").values_list("pk", flat=True)
            assert [need.pk for need in page] == list(newest)
        api = client.get("/api/needs", {"limit": 100, "order": order}).json()["items"]
        assert {item["id"]: (item["support_count"], item["supported_by_me"]) for item in api} == expected


def _open_vote(world: World, n: int, code: str) -> tuple[Vote, list[Any]]:
    region = village(world, code=code, name=f"测{code[-1]}村")
    users = [account(p) for p in people(region, n)]
    staff = world.user(Role.TOWN_STAFF)
    now = timezone.now()
    vote = votes.vote_create(
        actor=staff,
        region=region,
        title="表决",
        rule=VoteRule.objects.get(code="simple_poll"),
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=1),
    )
    return votes.vote_open(actor=staff, vote=vote), users


def test_a_ballot_cast_takes_the_same_queries_for_10_and_100_voters(world: World) -> None:
    counts = []
    for n, code in ((10, "990101001007"), (100, "990101001008")):
        vote, users = _open_vote(world, n, code)
        warm, voter = client_for(users[0]), client_for(users[1])
        path = f"/api/votes/{vote.pk}/ballots"
        for client in (warm, voter):  # sessions and content types warmed by a first request
            client.get("/api/votes")
        warm.post(path, json.dumps({"choice": "agree"}), content_type="application/json")
        with CaptureQueriesContext(connection) as queries:
            response = voter.post(path, json.dumps({"choice": "disagree"}), content_type="application/json")
        assert response.status_code == 201, response.content
        counts.append(len(queries))
        assert Ballot.objects.filter(vote=vote).count() == 2
    assert counts[0] == counts[1], counts
