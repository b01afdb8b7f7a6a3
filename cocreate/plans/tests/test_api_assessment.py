"""The assessment API: drafting, opening, self-assessment, review, ranking, export — scoped."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core.models import Role
from cocreate.plans.models import Assessment, AssessmentEntry, AssessmentStatus, ItemKind
from cocreate.plans.tests.test_api import as_user, assert_error, send
from cocreate.plans.tests.test_assessment import a2_staff, build_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_scene(world: World) -> dict[str, Any]:
    s = build_plan(world)
    s["village"] = world.user(Role.VILLAGE_STAFF)
    s["village2"] = a2_staff(world)
    return s


def create(client: Client, plan_id: int, **extra: Any) -> Any:
    return send(client, "post", "/api/assessments", {"plan_id": plan_id, "year": 2026, **extra})


def test_a_manager_drafts_edits_and_opens(api_scene: dict[str, Any], world: World) -> None:
    town = as_user(api_scene["town"])
    response = create(town, api_scene["plan"].pk, self_deadline="2026-12-10")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["self_deadline"] == "2026-12-10"
    assert [i["kind"] for i in data["items"]] == ["on_time", "completion", "indicators", "rectification", "review"]
    assert sum(i["weight"] for i in data["items"]) == 100
    review = next(i for i in data["items"] if i["kind"] == "review")
    assert review["computed"] is False
    errors = assert_error(create(town, api_scene["plan"].pk), 400, "invalid")
    assert "year" in errors["fields"]

    patched = send(town, "patch", f"/api/assessments/items/{review['id']}", {"weight": 30})
    assert patched.status_code == 200 and patched.json()["weight"] == 30
    refused = assert_error(send(town, "post", f"/api/assessments/{data['id']}/open"), 400, "invalid")
    assert "110" in str(refused["fields"])
    assert send(town, "patch", f"/api/assessments/items/{review['id']}", {"weight": 20}).status_code == 200

    opened = send(town, "post", f"/api/assessments/{data['id']}/open")
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    assert AssessmentEntry.objects.filter(assessment_id=data["id"]).count() == 2
    assert_error(send(town, "delete", f"/api/assessments/items/{review['id']}"), 400, "invalid")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "review", "name": "加分", "weight": "5"},
        {"kind": "review", "name": "加分", "weight": 5.25},
        {"kind": "review", "name": "加分", "weight": 0},
        {"kind": "bonus", "name": "加分", "weight": 5},
        {"kind": "review", "name": "", "weight": 5},
    ],
)
def test_item_input_is_checked_by_the_schema(api_scene: dict[str, Any], body: dict[str, Any]) -> None:
    town = as_user(api_scene["town"])
    assessment_id = create(town, api_scene["plan"].pk).json()["id"]
    assert_error(send(town, "post", f"/api/assessments/{assessment_id}/items", body), 422, "invalid_request")


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.SCHOOL_STAFF, Role.RESIDENT])
def test_only_assessors_create(api_scene: dict[str, Any], world: World, role: str) -> None:
    response = create(as_user(world.user(role)), api_scene["plan"].pk)
    assert response.status_code in (403, 404), response.content
    assert not Assessment.objects.filter(plan=api_scene["plan"]).exists()


def test_self_assessment_review_publication_and_ranking(api_scene: dict[str, Any], world: World) -> None:
    town = as_user(api_scene["town"])
    assessment_id = create(town, api_scene["plan"].pk).json()["id"]
    send(town, "post", f"/api/assessments/{assessment_id}/open")
    review_id = Assessment.objects.get(pk=assessment_id).items.get(kind=ItemKind.REVIEW).pk
    mine = AssessmentEntry.objects.get(assessment_id=assessment_id, unit=world.units["village_committee"])
    other = AssessmentEntry.objects.get(assessment_id=assessment_id, unit=world.units["village_a2_committee"])

    village = as_user(api_scene["village"])
    own = village.get(f"/api/assessments/entries/{mine.pk}").json()
    assert own["can_self_assess"] is True and own["can_review"] is False and own["rank"] is None
    assert_error(village.get(f"/api/assessments/entries/{other.pk}"), 404)
    too_high = send(
        village, "post", f"/api/assessments/entries/{mine.pk}/self", {"scores": [{"item_id": review_id, "score": 25}]}
    )
    assert f"self_{review_id}" in assert_error(too_high, 400, "invalid")["fields"]
    done = send(
        village,
        "post",
        f"/api/assessments/entries/{mine.pk}/self",
        {"scores": [{"item_id": review_id, "score": 18.5}], "comment": "全部完成"},
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "self_submitted"
    assert next(line for line in done.json()["lines"] if line["item_id"] == review_id)["self_score"] == 18.5
    assert_error(
        send(
            village,
            "post",
            f"/api/assessments/entries/{mine.pk}/review",
            {"scores": [{"item_id": review_id, "score": 20}]},
        ),
        403,
    )
    # Before publication a village sees its own row and no rank.
    rows = village.get(f"/api/assessments/{assessment_id}/ranking").json()["rows"]
    assert [(r["unit"], r["rank"], r["provisional"]) for r in rows] == [("甲村村民委员会", None, True)]

    send(
        as_user(api_scene["village2"]),
        "post",
        f"/api/assessments/entries/{other.pk}/self",
        {"scores": [{"item_id": review_id, "score": 20}]},
    )
    for entry, score in ((mine, 18), (other, 16)):
        reviewed = send(
            town,
            "post",
            f"/api/assessments/entries/{entry.pk}/review",
            {"scores": [{"item_id": review_id, "score": score}]},
        )
        assert reviewed.status_code == 200, reviewed.content
    published = send(town, "post", f"/api/assessments/{assessment_id}/publish")
    assert published.status_code == 200 and published.json()["status"] == AssessmentStatus.PUBLISHED

    ranking = village.get(f"/api/assessments/{assessment_id}/ranking").json()
    assert ranking["as_of"] <= "2026-12-31"
    assert [(r["unit"], r["rank"], r["provisional"]) for r in ranking["rows"]] == [
        ("甲村村民委员会", 1, False),
        ("乙村村民委员会", 2, False),
    ]
    first = ranking["rows"][0]
    assert {line["kind"] for line in first["lines"]} == {
        "on_time",
        "completion",
        "indicators",
        "rectification",
        "review",
    }
    assert next(line for line in first["lines"] if line["kind"] == "rectification")["applicable"] is False

    download = town.get(f"/api/assessments/{assessment_id}/xlsx")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(download.content))
    assert book["考核排名"]["B4"].value == "甲村村民委员会"


def test_outside_assessments_are_404(world: World) -> None:
    outside = world.extra["plans"]["outside_assessment"]
    entry = world.extra["plans"]["outside_assessment_entry"]
    town = as_user(world.user(Role.TOWN_STAFF))
    for url in (
        f"/api/assessments/{outside.pk}",
        f"/api/assessments/{outside.pk}/ranking",
        f"/api/assessments/{outside.pk}/xlsx",
        f"/api/assessments/entries/{entry.pk}",
    ):
        response = town.get(url)
        assert response.status_code == 404, url
        assert OUTSIDE_MARKER.encode() not in response.content
    listed = town.get("/api/assessments").json()
    assert listed["count"] == 1 and OUTSIDE_MARKER not in str(listed)
    assert_error(Client().get("/api/assessments"), 401, "unauthenticated")


def test_list_filters_by_plan_and_status(api_scene: dict[str, Any], world: World) -> None:
    town = as_user(api_scene["town"])
    create(town, api_scene["plan"].pk)
    by_plan = town.get(f"/api/assessments?plan={api_scene['plan'].pk}").json()
    assert [a["plan_id"] for a in by_plan["items"]] == [api_scene["plan"].pk]
    drafts = town.get("/api/assessments?status=draft").json()
    assert drafts["count"] == 1
    assert_error(town.get("/api/assessments?status=bogus"), 422)
    assert date(2026, 1, 1).isoformat() == by_plan["items"][0]["period_start"]
