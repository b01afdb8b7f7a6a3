"""四议两公开 pages: the list, a new record, the six-step timeline with the next step's form
(a vote picker for the two vote steps), refusals re-shown with the reason, and history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.participation.models import Decision, DecisionStatus, DecisionStep, Notice, StepKind
from cocreate.participation.tests.helpers import account
from cocreate.participation.tests.test_decisions import closed_vote
from cocreate.plans.tests.test_api import as_user

pytestmark = pytest.mark.django_db


def rec(world: World, key: str) -> Any:
    return world.extra["participation"][key]


def _client(world: World, who: str) -> Client:
    if who == "anonymous":
        return Client()
    if who == "elsewhere":
        return as_user(account(world.people["a2"]))
    return as_user(world.users[who])


def url(name: str, *args: Any) -> str:
    return reverse(f"participation:{name}", args=args)


def _post_step(client: Client, decision: Decision, kind: str, **extra: Any) -> Any:
    data = {"kind": kind, "done_on": f"{timezone.localdate()}", **extra}
    return client.post(url("decision_step_add", decision.pk), data)


@pytest.mark.parametrize(
    ("who", "status", "has_form"),
    [
        (Role.RESIDENT, 200, False),
        (Role.VILLAGE_STAFF, 200, True),
        (Role.TOWN_STAFF, 200, True),
        ("elsewhere", 404, False),
        ("outside_staff", 404, False),
        ("anonymous", 302, False),
    ],
)
def test_the_decision_page_by_role(world: World, who: str, status: int, has_form: bool) -> None:
    response = _client(world, who).get(url("decision_detail", rec(world, "decision").pk))
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert 'id="cc-decision-timeline"' in page
        assert ('id="cc-step-form"' in page) is has_form
        for label in ("党支部提议", "两委商议", "党员大会审议", "村民（代表）会议决议", "决议公开", "实施结果公开"):
            assert label in page


@pytest.mark.parametrize(("who", "status"), [(Role.RESIDENT, 403), ("elsewhere", 403), ("outside_staff", 404)])
def test_others_cannot_record_a_step(world: World, who: str, status: int) -> None:
    decision = rec(world, "decision")
    response = _post_step(_client(world, who), decision, StepKind.CONSULTATION)
    assert response.status_code == status
    assert DecisionStep.objects.filter(decision=decision).count() == 1


def test_staff_walk_the_steps_with_the_vote_picker(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    decision = rec(world, "decision")
    assert _post_step(client, decision, StepKind.CONSULTATION, attendance=9, notes="两委会").status_code == 302
    fits = closed_vote(decision.region, "party_members_meeting")
    unfit = closed_vote(decision.region, "representatives_meeting")
    page = client.get(url("decision_detail", decision.pk)).content.decode()
    assert fits.title in page and unfit.title not in page  # the picker offers fitting votes only
    assert _post_step(client, decision, StepKind.REVIEW, vote=fits.pk).status_code == 302
    resolution = closed_vote(decision.region, "representatives_meeting")
    assert _post_step(client, decision, StepKind.RESOLUTION, vote=resolution.pk).status_code == 302
    response = _post_step(client, decision, StepKind.DISCLOSURE, notes="决议：村道修补", notice_days=7)
    assert response.status_code == 302
    step = decision.steps.get(kind=StepKind.DISCLOSURE)
    assert step.notice is not None and Notice.objects.get(pk=step.notice_id).body == "决议：村道修补"
    page = client.get(url("decision_detail", decision.pk)).content.decode()
    assert url("notice_detail", step.notice_id) in page


def test_a_skipped_step_is_re_shown_with_the_reason(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    decision = rec(world, "decision")
    response = _post_step(client, decision, StepKind.REVIEW, attendance=3)
    assert response.status_code == 400
    assert "两委商议" in response.content.decode()
    assert DecisionStep.objects.filter(decision=decision).count() == 1


def test_a_vote_of_another_village_is_not_accepted(world: World) -> None:
    client = _client(world, Role.TOWN_STAFF)
    decision = rec(world, "decision")
    assert _post_step(client, decision, StepKind.CONSULTATION).status_code == 302
    other = closed_vote(world.regions["village_a2"], "party_members_meeting")
    response = _post_step(client, decision, StepKind.REVIEW, vote=other.pk)
    assert response.status_code == 400
    assert DecisionStep.objects.filter(decision=decision).count() == 2


def test_a_rejected_record_shows_it_and_offers_no_form(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    decision = rec(world, "decision")
    _post_step(client, decision, StepKind.CONSULTATION)
    lost = closed_vote(decision.region, "party_members_meeting", carried=False)
    assert _post_step(client, decision, StepKind.REVIEW, vote=lost.pk).status_code == 302
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.REJECTED
    page = client.get(url("decision_detail", decision.pk)).content.decode()
    assert 'id="cc-step-form"' not in page and "已终止" in page
    assert _post_step(client, decision, StepKind.RESOLUTION).status_code == 302
    assert DecisionStep.objects.filter(decision=decision).count() == 3


def test_staff_create_a_record(world: World) -> None:
    client = _client(world, Role.VILLAGE_STAFF)
    assert client.get(url("decision_create")).status_code == 200
    response = client.post(url("decision_create"), {"region": world.regions["village_a"].pk, "title": "厂房出租"})
    assert response.status_code == 302
    assert Decision.objects.filter(title="厂房出租", region=world.regions["village_a"]).exists()
    assert (
        client.post(url("decision_create"), {"region": world.regions["village_a"].pk, "title": ""}).status_code == 400
    )
    assert _client(world, Role.RESIDENT).get(url("decision_create")).status_code == 403


def test_the_list_and_history(world: World) -> None:
    page = _client(world, Role.RESIDENT).get(url("decision_list")).content.decode()
    assert rec(world, "decision").title in page and "ZZOUT" not in page
    assert _client(world, "elsewhere").get(url("decision_list")).status_code == 200
    staff = _client(world, Role.VILLAGE_STAFF)
    assert staff.get(url("decision_history", rec(world, "decision").pk)).status_code == 200
    assert staff.get(url("decision_list"), {"status": "rejected", "q": "村道"}).status_code == 200
