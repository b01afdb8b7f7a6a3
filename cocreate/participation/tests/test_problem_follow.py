"""A need's raiser and supporters follow its problem-list line: the meeting that discusses it, the
vote that decides it and the result, each told once and shown in the need's steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.participation import meetings, needs, votes
from cocreate.participation.models import Choice, MeetingKind, ProblemItem, ProblemStatus, Vote, VoteRule
from cocreate.participation.tests.test_needs import Community, build_community, notes, raise_need

pytestmark = pytest.mark.django_db


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world, n=3)


def listed(c: Community) -> tuple[ProblemItem, int]:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[0], need=need)
    return needs.need_screen(actor=c.staff(), needs=[need], title="村口照明"), need.pk


def draft(c: Community, problem: ProblemItem | None, **extra: object) -> Vote:
    return votes.vote_create(
        actor=c.staff(),
        region=c.world.regions["village_a"],
        title="是否安装太阳能路灯",
        rule=VoteRule.objects.get(code="simple_poll"),
        opens_at=timezone.now() - timedelta(hours=1),
        closes_at=timezone.now() + timedelta(days=3),
        problem=problem,
        **extra,  # type: ignore[arg-type]
    )


def test_a_vote_on_a_problem_moves_it_and_tells_raiser_and_supporters(c: Community) -> None:
    problem, need_id = listed(c)
    vote = votes.vote_open(actor=c.staff(), vote=draft(c, problem))
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DELIBERATING
    assert notes(c.raiser)[-1] == notes(c.neighbours[0])[-1] == "您关注的问题“村口照明”：议事中"
    assert notes(c.neighbours[1]) == []
    for voter in (c.raiser, *c.neighbours):
        votes.ballot_cast(actor=voter, vote=vote, choice=Choice.AGREE)
    votes.vote_close(actor=c.staff(), vote=vote)
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DECIDED
    assert problem.status_reason == "是否安装太阳能路灯：表决通过"
    assert notes(c.raiser)[-1] == "您关注的问题“村口照明”：已决议"
    # The need's steps, oldest first: its own, the line's, the vote's.
    steps = needs.status_history(needs.my_needs(user=c.raiser))[need_id]
    assert [(s.kind, s.status) for s in steps] == [
        ("need", "submitted"),
        ("need", "listed"),
        ("vote", "vote_open"),
        ("problem", "deliberating"),
        ("vote", "vote_closed"),
        ("problem", "decided"),
    ]
    assert {s.status_display for s in steps if s.kind == "vote"} == {"开始表决", "表决通过"}


def test_a_vote_that_does_not_carry_leaves_the_line_and_says_so(c: Community) -> None:
    problem, need_id = listed(c)
    vote = votes.vote_open(actor=c.staff(), vote=draft(c, problem))
    for voter in (c.raiser, *c.neighbours):
        votes.ballot_cast(actor=voter, vote=vote, choice=Choice.DISAGREE)
    votes.vote_close(actor=c.staff(), vote=vote)
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.DELIBERATING
    assert notes(c.raiser)[-1] == notes(c.neighbours[0])[-1] == "是否安装太阳能路灯：表决未通过"
    steps = needs.status_history([needs.need_detail(user=c.raiser, pk=need_id)])[need_id]
    assert steps[-1].status_display == "表决未通过"


def test_a_vote_names_only_a_live_problem_of_its_region(c: Community) -> None:
    problem, _need_id = listed(c)
    other = ProblemItem.objects.create(
        region=c.world.regions["village_a2"], title="乙村问题", category="infrastructure"
    )
    with pytest.raises(ValidationError) as error:
        draft(c, other)
    assert "problem" in error.value.message_dict
    needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DROPPED, reason="资金不足")
    problem.refresh_from_db()
    with pytest.raises(ValidationError):
        draft(c, problem)
    assert not Vote.objects.filter(problem__isnull=False).exists()


def test_a_meeting_resolution_reaches_the_followers_once(c: Community) -> None:
    problem, need_id = listed(c)
    staff = c.world.user(Role.VILLAGE_STAFF)
    meeting = meetings.meeting_create(
        actor=staff,
        region=c.world.regions["village_a"],
        kind=MeetingKind.COUNCIL,
        title="三月村民议事会",
        held_at=timezone.now(),
        place="村委会",
    )
    item = meetings.item_add(actor=staff, meeting=meeting, problem=problem)
    assert notes(c.raiser)[-1] == "您关注的问题“村口照明”：议事中"
    meetings.meeting_record(
        actor=staff, meeting=meeting, present=[], minutes="到会12人", items={item.pk: ("讨论", "同意安装路灯")}
    )
    assert notes(c.neighbours[0])[-1] == "三月村民议事会已议定“村口照明”"
    count = len(notes(c.raiser))
    needs.notify_problem_followers(problem, title="再次", key=f"meeting:{meeting.pk}")
    assert len(notes(c.raiser)) == count
    steps = needs.status_history([needs.need_detail(user=c.raiser, pk=need_id)])[need_id]
    assert [s.status for s in steps] == ["submitted", "listed", "deliberating"]


# --- Pages and API -------------------------------------------------------------------------------------


def test_the_problem_page_shows_its_votes_and_results_to_a_resident(c: Community) -> None:
    from django.test import Client

    problem, _need_id = listed(c)
    vote = votes.vote_open(actor=c.staff(), vote=draft(c, problem))
    votes.ballot_cast(actor=c.raiser, vote=vote, choice=Choice.AGREE)
    votes.vote_close(actor=c.staff(), vote=vote)
    client = Client()
    client.force_login(c.neighbours[0])
    page = client.get(f"/community/needs/problems/{problem.pk}/").content.decode()
    assert 'id="cc-problem-votes"' in page and "是否安装太阳能路灯" in page and "表决通过" in page
    assert f"/community/votes/{vote.pk}/ballot/" in page


def test_staff_draft_a_vote_on_a_problem_through_the_form_and_the_api(c: Community) -> None:
    from django.test import Client

    problem, _need_id = listed(c)
    client = Client()
    client.force_login(c.staff())
    form = client.get("/community/votes/new/").content.decode()
    assert 'name="problem"' in form and "村口照明" in form
    start = timezone.localtime() + timedelta(hours=1)
    data = {
        "title": "是否安装路灯",
        "region": c.world.regions["village_a"].pk,
        "rule": VoteRule.objects.get(code="simple_poll").pk,
        "problem": problem.pk,
        "opens_at": f"{start:%Y-%m-%dT%H:%M}",
        "closes_at": f"{start + timedelta(days=2):%Y-%m-%dT%H:%M}",
    }
    response = client.post("/community/votes/new/", data)
    assert response.status_code == 302
    assert Vote.objects.get(title="是否安装路灯").problem == problem
    body = {
        "title": "API 表决",
        "region_id": c.world.regions["village_a"].pk,
        "rule": "simple_poll",
        "problem_id": problem.pk,
        "opens_at": start.isoformat(),
        "closes_at": (start + timedelta(days=2)).isoformat(),
    }
    created = client.post("/api/votes", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["problem_id"] == problem.pk
    outside = ProblemItem.objects.filter(region=c.world.regions["village_b"]).first()
    assert outside is not None
    refused = client.post("/api/votes", {**body, "problem_id": outside.pk}, content_type="application/json")
    assert refused.status_code in (400, 404, 422) and "problem_id" in refused.content.decode()
    assert Vote.objects.filter(problem=outside).count() == 0
