"""The public API of a community (no sign-in): the same records as the public page, never private data."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cocreate.conftest import OUTSIDE_MARKER, PRIVATE_MARKER, World
from cocreate.core.models import Role
from cocreate.participation.models import Vote, VoteStatus

pytestmark = pytest.mark.django_db

KINDS = ("needs", "problems", "meetings", "votes", "notices", "decisions", "tasks")


def rec(world: World) -> dict[str, Any]:
    return world.extra["participation"]


def get(path: str, user: Any = None) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(f"/api/public{path}")


def test_anyone_reads_a_community_and_each_list_without_signing_in(world: World) -> None:
    r = rec(world)
    code = world.regions["village_a"].code
    overview = get(f"/communities/{code}")
    assert overview.status_code == 200
    body = overview.json()
    assert body["name"] == "甲村" and body["parent_name"] == "甲镇"
    assert set(body["counts"]) == set(KINDS) and all(body["counts"][k] >= 1 for k in KINDS)
    ids = {kind: {row["id"] for row in get(f"/communities/{code}/{kind}").json()["items"]} for kind in KINDS}
    assert r["need"].pk in ids["needs"] and r["vote"].pk in ids["votes"] and r["notice"].pk in ids["notices"]
    assert r["task_item"].pk in ids["tasks"] and r["decision"].pk in ids["decisions"]
    # County B's records stay on county B's page.
    assert r["outside_need"].pk not in ids["needs"]
    text = "".join(get(f"/communities/{code}/{kind}").content.decode() for kind in KINDS)
    assert OUTSIDE_MARKER not in text and PRIVATE_MARKER not in text


def test_names_are_masked_and_people_appear_only_as_counts(world: World) -> None:
    code = world.regions["village_a"].code
    needs = get(f"/communities/{code}/needs").json()["items"]
    assert needs and all(n["raised_by"].endswith("*") for n in needs)
    assert all("phone" not in n and "raised_by_id" not in n for n in needs)
    resident = world.user(Role.RESIDENT)
    assert resident.person is not None
    assert resident.person.name not in get(f"/communities/{code}/needs").content.decode()


def test_a_closed_vote_has_its_frozen_result_an_open_one_none(world: World) -> None:
    code = world.regions["village_a"].code
    votes = get(f"/communities/{code}/votes").json()["items"]
    for row in votes:
        detail = get(f"/communities/{code}/votes/{row['id']}").json()
        vote = Vote.objects.get(pk=row["id"])
        if vote.status == VoteStatus.CLOSED:
            assert detail["result"]["frozen"] is True and detail["outcome"].startswith("表决")
        else:
            assert detail["result"] is None and detail["outcome"] == ""


def test_unknown_community_foreign_ids_and_drafts_answer_404(world: World) -> None:
    r = rec(world)
    code = world.regions["village_a"].code
    assert get("/communities/000000").status_code == 404
    assert get(f"/communities/{world.regions['town_a'].code}").status_code == 404  # not a village
    # A vote of county B through village A's address, and a draft vote: both 404.
    assert get(f"/communities/{code}/votes/{r['outside_vote'].pk}").status_code == 404
    draft = Vote.objects.filter(status=VoteStatus.DRAFT).first()
    if draft is not None:
        assert get(f"/communities/{draft.region.code}/votes/{draft.pk}").status_code == 404
    assert Client().post(f"/api/public/communities/{code}").status_code == 405


def test_search_and_constant_queries(world: World) -> None:
    found = get("/communities?search=甲村").json()
    assert [c["code"] for c in found["items"]] == [world.regions["village_a"].code]
    code = world.regions["village_a"].code
    counts = []
    for limit in (1, 50):
        with CaptureQueriesContext(connection) as queries:
            assert get(f"/communities/{code}/meetings?limit={limit}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
