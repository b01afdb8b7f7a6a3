"""The votes and estates API: each caller that matters, the same ballot service as the page
(201 first, 200 with the same id on a repeat), machine-readable refusals, and refused calls
changing nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Person, Role, User
from cocreate.participation import votes
from cocreate.participation.models import Ballot, BallotChannel, Choice, Estate, PropertyUnit, Vote, Voter, VoteStatus
from cocreate.participation.tests.helpers import account
from cocreate.participation.tests.test_views_votes import live_vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def village_vote(world: World) -> Vote:
    Person.objects.filter(region__path__startswith=world.regions["village_a"].path).update(verified_at=timezone.now())
    return live_vote(world, world.regions["village_a"])


def api(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def send(client: Client, method: str, path: str, payload: Any = None) -> Any:
    data = json.dumps(payload) if payload is not None else ""
    return getattr(client, method)(f"/api{path}", data=data, content_type="application/json")


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["detail"], body
    return body


# --- Reading ---------------------------------------------------------------------------------------------


def test_list_and_detail_with_the_result(world: World, village_vote: Vote) -> None:
    client = api(world.user(Role.VILLAGE_STAFF))
    listing = send(client, "get", "/votes?status=open")
    assert listing.status_code == 200
    assert village_vote.pk in [v["id"] for v in listing.json()["items"]]
    detail = send(client, "get", f"/votes/{village_vote.pk}").json()
    assert detail["rule_code"] == "simple_poll" and detail["result"]["frozen"] is False
    assert detail["result"]["passing"][0]["required"] == ">1/2"
    assert detail["result"]["electorate"] == Voter.objects.filter(vote=village_vote).count()


def test_outside_staff_404_and_anonymous_401(world: World, village_vote: Vote) -> None:
    outside = api(world.users["outside_staff"])
    error(send(outside, "get", f"/votes/{village_vote.pk}"), 404, "not_found")
    error(send(outside, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"}), 404, "not_found")
    error(send(outside, "post", f"/votes/{village_vote.pk}/close"), 404, "not_found")
    assert village_vote.pk not in [v["id"] for v in send(outside, "get", "/votes").json()["items"]]
    anonymous = api(None)
    error(send(anonymous, "get", "/votes"), 401, "unauthenticated")
    error(send(anonymous, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"}), 401, "unauthenticated")
    village_vote.refresh_from_db()
    assert village_vote.status == VoteStatus.OPEN and not Ballot.objects.filter(vote=village_vote).exists()


def test_the_roll_is_for_staff_masked_and_without_choices(world: World, village_vote: Vote) -> None:
    resident = world.user(Role.RESIDENT)
    votes.ballot_cast(actor=resident, vote=village_vote, choice=Choice.DISAGREE)
    for role in (Role.VILLAGE_STAFF, Role.TOWN_STAFF):
        response = send(api(world.user(role)), "get", f"/votes/{village_vote.pk}/voters?voted=yes")
        assert response.status_code == 200
        items = response.json()["items"]
        assert resident.person is not None
        assert [(i["name"], i["voted"], i["channel"]) for i in items] == [
            (resident.person.name[0] + "*" * (len(resident.person.name) - 1), True, "online")
        ]
        assert "disagree" not in response.content.decode()
    error(send(api(resident), "get", f"/votes/{village_vote.pk}/voters"), 403, "forbidden")
    error(send(api(world.users["outside_staff"]), "get", f"/votes/{village_vote.pk}/voters"), 404, "not_found")


# --- Casting -------------------------------------------------------------------------------------------------


def test_first_cast_201_repeat_200_same_ballot_different_choice_400(world: World, village_vote: Vote) -> None:
    client = api(world.user(Role.RESIDENT))
    first = send(client, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"})
    assert first.status_code == 201, first.content
    again = send(client, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = error(
        send(client, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "disagree"}), 400, "already_voted"
    )
    assert "choice" in other["fields"]
    assert list(Ballot.objects.filter(vote=village_vote).values_list("choice", flat=True)) == ["agree"]
    detail = send(client, "get", f"/votes/{village_vote.pk}").json()
    assert detail["on_roll"] is True and detail["my_ballot"]["id"] == first.json()["id"]


def test_ballot_by_a_non_member_is_403(world: World, village_vote: Vote) -> None:
    newcomer = account(
        Person.objects.create(name="新搬来", region=world.regions["village_a"], verified_at=timezone.now())
    )
    response = send(api(newcomer), "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"})
    error(response, 403, "not_on_roll")
    assert not Ballot.objects.filter(vote=village_vote).exists()


def test_ballot_after_closing_is_refused(world: World, village_vote: Vote) -> None:
    votes.vote_close(actor=world.user(Role.TOWN_STAFF), vote=village_vote)
    client = api(world.user(Role.RESIDENT))
    body = error(send(client, "post", f"/votes/{village_vote.pk}/ballots", {"choice": "agree"}), 400, "vote_not_open")
    assert "表决未在进行中" in body["detail"]
    assert not Ballot.objects.filter(vote=village_vote).exists()
    frozen = send(client, "get", f"/votes/{village_vote.pk}").json()["result"]
    assert frozen["frozen"] is True and frozen["participants"] == 0


def test_bad_choice_is_422(world: World, village_vote: Vote) -> None:
    client = api(world.user(Role.RESIDENT))
    for body in ({"choice": "maybe"}, {}, {"choice": 1}):
        error(send(client, "post", f"/votes/{village_vote.pk}/ballots", body), 422, "invalid_request")
    assert not Ballot.objects.filter(vote=village_vote).exists()


# --- Staff writes --------------------------------------------------------------------------------------------


def _vote_body(world: World, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    return {
        "title": "是否新建文化广场",
        "region_id": world.regions["village_a"].pk,
        "rule": "simple_poll",
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=3)).isoformat(),
        **extra,
    }


def test_staff_create_open_paper_and_close(world: World) -> None:
    Person.objects.filter(region__path__startswith=world.regions["village_a"].path).update(verified_at=timezone.now())
    client = api(world.user(Role.VILLAGE_STAFF))
    created = send(client, "post", "/votes", _vote_body(world))
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["electorate"] == "residents"
    opened = send(client, "post", f"/votes/{pk}/open")
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    lines = list(Voter.objects.filter(vote_id=pk).order_by("pk").values_list("pk", flat=True))
    rows = [{"voter_id": lines[0], "choice": "agree"}, {"voter_id": lines[1], "choice": "agree"}]
    paper = send(client, "post", f"/votes/{pk}/paper", {"rows": rows})
    assert paper.status_code == 201 and [b["channel"] for b in paper.json()] == ["paper", "paper"]
    closed = send(client, "post", f"/votes/{pk}/close")
    assert closed.status_code == 200
    result = closed.json()["result"]
    assert result["frozen"] and result["carried"] and result["by_choice"]["agree"] == 2
    error(send(client, "post", f"/votes/{pk}/close"), 400, "invalid")


def test_bad_vote_bodies_create_nothing(world: World) -> None:
    client = api(world.user(Role.VILLAGE_STAFF))
    now = timezone.now()
    backwards = _vote_body(world, closes_at=(now - timedelta(days=1)).isoformat())
    assert "closes_at" in error(send(client, "post", "/votes", backwards), 400, "invalid")["fields"]
    assert "rule" in error(send(client, "post", "/votes", _vote_body(world, rule="nope")), 400, "invalid")["fields"]
    owners = _vote_body(world, rule="owners_major")
    assert "estate" in error(send(client, "post", "/votes", owners), 400, "invalid")["fields"]
    elsewhere = _vote_body(world, region_id=world.regions["village_b"].pk)
    assert "region_id" in error(send(client, "post", "/votes", elsewhere), 404, "not_found")["fields"]
    error(send(client, "post", "/votes", _vote_body(world, opens_at=12)), 422, "invalid_request")
    error(send(api(world.user(Role.RESIDENT)), "post", "/votes", _vote_body(world)), 403, "forbidden")
    assert not Vote.objects.filter(title="是否新建文化广场").exists()


def test_paper_sheet_with_a_bad_row_records_nothing(world: World, village_vote: Vote) -> None:
    resident = world.user(Role.RESIDENT)
    votes.ballot_cast(actor=resident, vote=village_vote, choice=Choice.AGREE)
    taken = Voter.objects.get(vote=village_vote, person=resident.person)
    free = Voter.objects.filter(vote=village_vote, ballot__isnull=True).order_by("pk").first()
    outside_line = world.extra["participation"]["outside_voter"]
    assert free is not None
    rows = [
        {"voter_id": free.pk, "choice": "agree"},
        {"voter_id": taken.pk, "choice": "agree"},
        {"voter_id": outside_line.pk, "choice": "agree"},
    ]
    body = error(
        send(api(world.user(Role.VILLAGE_STAFF)), "post", f"/votes/{village_vote.pk}/paper", {"rows": rows}),
        400,
        "invalid",
    )
    assert any("第2行" in m for m in body["fields"]["rows"]) and any("第3行" in m for m in body["fields"]["rows"])
    assert not Ballot.objects.filter(vote=village_vote, channel=BallotChannel.PAPER).exists()
    # A resident cannot enter sheets at all.
    error(send(api(resident), "post", f"/votes/{village_vote.pk}/paper", {"rows": rows[:1]}), 403, "forbidden")
    assert Ballot.objects.filter(vote=village_vote).count() == 1


# --- Estates ---------------------------------------------------------------------------------------------


def test_estates_list_create_and_units(world: World) -> None:
    client = api(world.user(Role.VILLAGE_STAFF))
    listing = send(client, "get", "/estates").json()["items"]
    assert [e["name"] for e in listing] == ["幸福小区"] and listing[0]["total_area"] == "89.50"
    created = send(client, "post", "/estates", {"region_id": world.regions["village_a"].pk, "name": "和美小区"})
    assert created.status_code == 201, created.content
    estate_id = created.json()["id"]
    error(
        send(client, "post", "/estates", {"region_id": world.regions["village_a"].pk, "name": "和美小区"}),
        400,
        "invalid",
    )
    owner = world.people["a_member"]
    unit = send(
        client, "post", f"/estates/{estate_id}/units", {"number": "1-101", "area": "75.2", "owner_id": owner.pk}
    )
    assert unit.status_code == 201 and unit.json()["area"] == "75.20"
    bad = send(client, "post", f"/estates/{estate_id}/units", {"number": "1-102", "area": 0, "owner_id": owner.pk})
    error(bad, 422, "invalid_request")
    # A person of another village: not visible to the village's staff (404), not an owner here for the town's (400).
    elsewhere = {"number": "1-103", "area": 60, "owner_id": world.people["a2"].pk}
    assert (
        "owner_id" in error(send(client, "post", f"/estates/{estate_id}/units", elsewhere), 404, "not_found")["fields"]
    )
    town = api(world.user(Role.TOWN_STAFF))
    assert "owner" in error(send(town, "post", f"/estates/{estate_id}/units", elsewhere), 400, "invalid")["fields"]
    assert PropertyUnit.objects.filter(estate_id=estate_id).count() == 1


def test_estates_for_other_callers(world: World) -> None:
    estate = world.extra["participation"]["estate"]
    outside = api(world.users["outside_staff"])
    body = {"number": "9-9", "area": 50, "owner_id": world.people["a_member"].pk}
    error(send(outside, "post", f"/estates/{estate.pk}/units", body), 404, "not_found")
    error(
        send(
            api(world.user(Role.RESIDENT)),
            "post",
            "/estates",
            {"region_id": world.regions["village_a"].pk, "name": "x"},
        ),
        403,
        "forbidden",
    )
    # The owner sees the estate they own a unit in.
    assert [e["id"] for e in send(api(world.user(Role.RESIDENT)), "get", "/estates").json()["items"]] == [estate.pk]
    error(send(api(None), "get", "/estates"), 401, "unauthenticated")
    assert not Estate.objects.filter(name="x").exists() and PropertyUnit.objects.filter(number="9-9").count() == 0
