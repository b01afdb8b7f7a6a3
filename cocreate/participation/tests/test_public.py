"""The public page per community (no login): what it shows, to whom, and what it never shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, PRIVATE_MARKER, World
from cocreate.core import access
from cocreate.core.models import Person, Region, RegionLevel, Role
from cocreate.participation import votes
from cocreate.participation.models import (
    Decision,
    DecisionStep,
    ItemComment,
    Meeting,
    MeetingItem,
    MeetingParticipant,
    MeetingStatus,
    Need,
    NeedStatus,
    NeedSupport,
    Notice,
    NoticeStatus,
    Objection,
    ParticipantKind,
    ProblemItem,
    StepKind,
    TaskListItem,
    Vote,
    VoteRule,
    VoteStatus,
)

pytestmark = pytest.mark.django_db

SECTIONS = (
    "cc-public-needs",
    "cc-public-problems",
    "cc-public-meetings",
    "cc-public-votes",
    "cc-public-notices",
    "cc-public-decisions",
    "cc-public-tasks",
)


def page_url(region: Region, kind: str = "", pk: int | None = None) -> str:
    if not kind:
        return reverse("participation:public_community", args=[region.code])
    name = {"problem": "problemitem", "task": "tasklistitem"}.get(kind, kind)
    if pk is None:
        return reverse(f"participation:public_{name}_list", args=[region.code])
    return reverse(f"participation:public_{name}_detail", args=[region.code, pk])


def main_of(response: Any) -> str:
    """The page's <main>: what the page says, without the navigation bar and the CSRF tokens."""
    text = response.content.decode()
    return text[text.index("<main") : text.index("</main>")]


def rec(world: World) -> dict[str, Any]:
    return world.extra["participation"]


@pytest.fixture
def village_a(world: World) -> Region:
    return world.regions["village_a"]


# --- Who sees it -----------------------------------------------------------------------------------------


def test_anonymous_visitor_sees_every_section_of_the_community(world: World, village_a: Region) -> None:
    r = rec(world)
    response = Client().get(page_url(village_a))
    assert response.status_code == 200
    body = main_of(response)
    for section in SECTIONS:
        assert f'id="{section}"' in body
    for key in ("need", "problem", "meeting", "vote", "notice", "decision"):
        assert f'id="public-{key}-{r[key].pk}"' in body, key
    assert f'id="public-task-{r["task_item"].pk}"' in body
    assert "村道修补方案" in body  # the meeting's agenda item
    assert "甲村村民委员会" in body  # the task's owner unit
    assert "1 人附议" in body


def test_a_signed_in_user_of_another_county_sees_the_same_page(world: World, village_a: Region) -> None:
    anonymous = Client().get(page_url(village_a))
    outsider = Client()
    outsider.force_login(world.users["outside_staff"])
    staff = Client()
    staff.force_login(world.user(Role.VILLAGE_STAFF))
    for client in (outsider, staff):
        response = client.get(page_url(village_a))
        assert response.status_code == 200
        assert main_of(response) == main_of(anonymous)


def test_the_page_of_county_b_shows_its_records_and_none_of_county_a(world: World, village_a: Region) -> None:
    r = rec(world)
    body_b = main_of(Client().get(page_url(world.regions["village_b"])))
    body_a = main_of(Client().get(page_url(village_a)))
    assert OUTSIDE_MARKER in body_b
    assert OUTSIDE_MARKER not in body_a
    for key in ("need", "problem", "meeting", "vote", "notice", "decision", "task_item"):
        kind = "task" if key == "task_item" else key
        assert f'id="public-{kind}-{r[key].pk}"' in body_a
        assert f'id="public-{kind}-{r[key].pk}"' not in body_b
        assert f'id="public-{kind}-{r["outside_" + key].pk}"' in body_b
        assert f'id="public-{kind}-{r["outside_" + key].pk}"' not in body_a


def test_a_record_of_another_community_is_not_found_through_this_one(world: World, village_a: Region) -> None:
    r = rec(world)
    client = Client()
    assert client.get(page_url(village_a, "vote", r["outside_vote"].pk)).status_code == 404
    assert client.get(page_url(village_a, "notice", r["outside_notice"].pk)).status_code == 404
    assert client.get(page_url(village_a, "meeting", r["outside_meeting"].pk)).status_code == 404
    village_b = world.regions["village_b"]
    assert client.get(page_url(village_b, "vote", r["outside_vote"].pk)).status_code == 200


@pytest.mark.parametrize("code", ["990101001999", "990101001", "990101", "abc", "99"])
def test_an_unknown_code_or_one_that_is_not_a_community_answers_404(world: World, code: str) -> None:
    client = Client()
    assert client.get(f"/community/public/{code}/").status_code == 404
    assert client.get(f"/community/public/{code}/needs/").status_code == 404


def test_a_disabled_community_has_no_public_page(world: World, village_a: Region) -> None:
    Region.objects.filter(pk=village_a.pk).update(is_active=False)
    assert Client().get(page_url(village_a)).status_code == 404


def test_public_pages_take_no_writes(world: World, village_a: Region) -> None:
    r = rec(world)
    client = Client()
    for url in (
        reverse("participation:public_community_list"),
        page_url(village_a),
        page_url(village_a, "need"),
        page_url(village_a, "notice", r["notice"].pk),
        page_url(village_a, "vote", r["vote"].pk),
    ):
        assert client.post(url, {"title": "x"}).status_code == 405, url


def test_every_public_view_is_marked_and_the_resident_shortcut_is_not() -> None:
    from cocreate.participation import views_public

    for pattern in views_public.urlpatterns:
        assert access.is_public_view(pattern.callback) == (pattern.name != "public_mine"), pattern.name


# --- What it never shows -------------------------------------------------------------------------------


def _all_public_bodies(world: World, region: Region) -> str:
    r = rec(world)
    client = Client()
    urls = [page_url(region)] + [page_url(region, k) for k in ("need", "problem", "meeting", "vote", "notice")]
    urls += [page_url(region, k) for k in ("decision", "task")]
    prefix = "outside_" if region.code.startswith("990102") else ""
    urls += [
        page_url(region, "notice", r[prefix + "notice"].pk),
        page_url(region, "vote", r[prefix + "vote"].pk),
        page_url(region, "meeting", r[prefix + "meeting"].pk),
    ]
    bodies = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())
    return "\n".join(bodies)


def test_drafts_and_private_records_are_never_public(world: World) -> None:
    r = rec(world)
    village_b = world.regions["village_b"]
    text = _all_public_bodies(world, village_b)
    assert OUTSIDE_MARKER in text  # county B's public records are there …
    assert PRIVATE_MARKER not in text  # … but none of its drafts, objections, comments, minutes, names
    client = Client()
    assert client.get(page_url(village_b, "notice", r["private_draft_notice"].pk)).status_code == 404
    assert client.get(page_url(village_b, "vote", r["private_draft_vote"].pk)).status_code == 404
    assert f'id="public-need-{r["private_public_need"].pk}"' in text
    for key in ("private_declined_need", "private_merged_need"):
        assert f'id="public-need-{r[key].pk}"' not in text


def test_no_phone_or_id_number_of_anyone_appears(world: World) -> None:
    Person.objects.filter(pk=rec(world)["private_raiser"].pk).update(id_number="110101199003071234")
    text = _all_public_bodies(world, world.regions["village_b"]) + _all_public_bodies(world, world.regions["village_a"])
    for phone, id_number in Person.objects.values_list("phone", "id_number"):
        for value in (phone, id_number):
            if value:
                assert value not in text
                assert value[:3] + "****" + value[-4:] not in text  # not even masked


def test_the_raiser_of_a_public_need_is_shown_masked(world: World, village_a: Region) -> None:
    person = Person.objects.create(name="王小明", region=village_a, phone="13911112222")
    need = Need.objects.create(
        region=village_a, title="村口装路灯", description="晚上太黑", category="infrastructure", raised_by=person
    )
    body = main_of(Client().get(page_url(village_a)))
    row = body[body.index(f'id="public-need-{need.pk}"') :]
    row = row[: row.index("</li>")]
    assert "王** 提出" in row
    assert "王小明" not in body
    assert "晚上太黑" not in body  # the description may tell where someone lives; the title is public


def test_supporters_invitees_commenters_and_objectors_are_only_counted(world: World, village_a: Region) -> None:
    r = rec(world)
    someone = Person.objects.create(name="李四海", region=village_a)
    NeedSupport.objects.create(need=r["need"], person=someone)
    Objection.objects.create(notice=r["notice"], person=someone, text="异议：预算偏高李")
    ItemComment.objects.create(item=r["item"], person=someone, text="意见：先修小学门口李")
    MeetingParticipant.objects.create(
        meeting=r["meeting"], person=someone, name=someone.name, kind=ParticipantKind.RESIDENT, present=True
    )
    Meeting.objects.filter(pk=r["meeting"].pk).update(status=MeetingStatus.HELD, minutes="纪要：李四海发言")
    MeetingItem.objects.filter(pk=r["item"].pk).update(resolution="先修村口段", discussion="讨论：李四海认为")
    text = _all_public_bodies(world, village_a)
    for private in ("李四海", "异议：预算偏高", "意见：先修小学门口", "纪要：", "讨论："):
        assert private not in text
    assert "2 人附议" in text
    assert "异议 2 条" in text  # the world's objection and this one
    assert "到会 1 人" in text
    assert "先修村口段" in text  # the resolution is public


# --- Votes and notices -----------------------------------------------------------------------------------


def test_an_open_vote_shows_no_counts_and_a_closed_one_its_result(world: World, village_a: Region) -> None:
    r = rec(world)
    url = page_url(village_a, "vote", r["vote"].pk)
    body = main_of(Client().get(url))
    assert 'id="cc-vote-pending"' in body
    assert 'id="cc-vote-counts"' not in body
    votes.vote_close(actor=world.users["superuser"], vote=r["vote"])
    body = main_of(Client().get(url))
    assert 'id="cc-vote-counts"' in body
    assert "表决有效" in body and 'id="cc-vote-outcome"' in body and "表决通过" in body
    assert "需&gt;1/2" in body or "需>1/2" in body or "实际 1/1" in body
    overview = main_of(Client().get(page_url(village_a)))
    row = overview[overview.index(f'id="public-vote-{r["vote"].pk}"') :]
    assert "同意 1" in row[: row.index("</li>")]


def test_a_draft_vote_is_not_public(world: World, village_a: Region) -> None:
    poll = VoteRule.objects.get(code="simple_poll")
    now = timezone.now()
    draft = Vote.objects.create(
        region=village_a,
        title="草稿表决不公开",
        rule=poll,
        electorate=poll.electorate,
        opens_at=now,
        closes_at=now + timedelta(days=3),
    )
    client = Client()
    assert "草稿表决不公开" not in main_of(client.get(page_url(village_a, "vote")))
    assert client.get(page_url(village_a, "vote", draft.pk)).status_code == 404
    Vote.objects.filter(pk=draft.pk).update(status=VoteStatus.OPEN, opened_at=now)
    assert client.get(page_url(village_a, "vote", draft.pk)).status_code == 200


def test_a_notice_shows_its_period_objection_count_and_outcome(world: World, village_a: Region) -> None:
    r = rec(world)
    notice = r["notice"]
    draft = Notice.objects.create(
        region=village_a, title="草稿公示不公开", body="x", starts_on=notice.starts_on, ends_on=notice.ends_on
    )
    client = Client()
    body = main_of(client.get(page_url(village_a, "notice", notice.pk)))
    assert "公示期：" in body and "共 8 天" in body
    assert "收到异议 1 条" in body
    assert "方案如下" in body
    assert client.get(page_url(village_a, "notice", draft.pk)).status_code == 404
    assert "草稿公示不公开" not in main_of(client.get(page_url(village_a, "notice")))
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.ENDED, passed=False)
    body = main_of(client.get(page_url(village_a, "notice", notice.pk)))
    assert "有未解决或成立的异议" in body


def test_decision_steps_link_their_public_vote_and_notice(world: World, village_a: Region) -> None:
    r = rec(world)
    decision: Decision = r["decision"]
    DecisionStep.objects.create(
        decision=decision, kind=StepKind.CONSULTATION, order=2, done_on=r["step"].done_on, notice=r["notice"]
    )
    body = main_of(Client().get(page_url(village_a, "decision")))
    assert str(StepKind.PROPOSAL.label) in body and str(StepKind.CONSULTATION.label) in body
    assert page_url(village_a, "notice", r["notice"].pk) in body


# --- Statuses, pagination, queries ---------------------------------------------------------------------


def test_needs_of_every_public_status_are_listed_with_their_badge(world: World, village_a: Region) -> None:
    r = rec(world)
    person = r["need"].raised_by
    for status in (NeedStatus.SUBMITTED, NeedStatus.DONE):
        Need.objects.create(
            region=village_a, title=f"状态{status}", category="governance", raised_by=person, status=status
        )
    Need.objects.create(
        region=village_a,
        title="被拒的诉求",
        category="governance",
        raised_by=person,
        status=NeedStatus.DECLINED,
        status_reason="理由",
    )
    body = main_of(Client().get(page_url(village_a, "need")))
    for status in (NeedStatus.SUBMITTED, NeedStatus.LISTED, NeedStatus.DONE):
        assert str(status.label) in body
    assert "被拒的诉求" not in body


def test_the_lists_are_paginated(world: World, village_a: Region) -> None:
    person = rec(world)["need"].raised_by
    for i in range(14):
        Need.objects.create(region=village_a, title=f"分页诉求{i:02d}", category="governance", raised_by=person)
    client = Client()
    first = main_of(client.get(page_url(village_a, "need")))
    second = main_of(client.get(page_url(village_a, "need"), {"page": 2}))
    assert len(re.findall(r'id="public-need-\d+"', first)) == 10
    assert len(re.findall(r'id="public-need-\d+"', second)) == 5  # 14 + the world's one
    assert "第 1 / 2 页" in first and "共 15 条" in first
    overview = main_of(client.get(page_url(village_a)))
    assert len(re.findall(r'id="public-need-\d+"', overview)) == 5
    assert "查看全部（共 15 条）" in overview


def test_an_empty_community_shows_empty_states(world: World) -> None:
    village_a2 = world.regions["village_a2"]
    body = main_of(Client().get(page_url(village_a2)))
    for text in (
        "暂无公开的诉求。",
        "问题清单暂为空。",
        "暂无议事会议。",
        "暂无表决。",
        "暂无公示。",
        "任务清单暂为空。",
    ):
        assert text in body
    assert "暂无公示。" in main_of(Client().get(page_url(village_a2, "notice")))


def _fill(world: World, village: Region, n: int) -> None:
    r = rec(world)
    person = r["need"].raised_by
    poll = VoteRule.objects.get(code="simple_poll")
    now = timezone.now()
    today = timezone.localdate()
    for i in range(n):
        problem = ProblemItem.objects.create(region=village, title=f"问题{i}", category="governance")
        need = Need.objects.create(
            region=village, title=f"诉求{i}", category="governance", raised_by=person, problem=problem
        )
        NeedSupport.objects.create(need=need, person=world.people["a_member"])
        meeting = Meeting.objects.create(region=village, kind="council", title=f"会议{i}", held_at=now, place="村委会")
        MeetingItem.objects.create(meeting=meeting, title=f"议题{i}", resolution="同意")
        vote = Vote.objects.create(
            region=village,
            title=f"表决{i}",
            rule=poll,
            electorate=poll.electorate,
            opens_at=now - timedelta(days=2),
            closes_at=now - timedelta(days=1),
            status=VoteStatus.OPEN,
            opened_at=now - timedelta(days=2),
        )
        votes.vote_close(actor=world.users["superuser"], vote=vote)
        notice = Notice.objects.create(
            region=village, title=f"公示{i}", body="内容", starts_on=today, ends_on=today, status=NoticeStatus.PUBLISHED
        )
        Objection.objects.create(notice=notice, person=person, text="异议")
        decision = Decision.objects.create(region=village, title=f"决策{i}")
        DecisionStep.objects.create(decision=decision, kind=StepKind.PROPOSAL, order=1, done_on=today)
        TaskListItem.objects.create(
            region=village, title=f"任务{i}", owner_unit=world.units["village_committee"], deadline=today
        )


def _queries(client: Client, url: str) -> int:
    client.get(url)  # a signed-in client's first request refreshes its session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_overview_takes_the_same_queries_for_10_and_50_records(world: World, signed_in: bool) -> None:
    village = Region.objects.create(
        code="990101001005", name="戊村", level=RegionLevel.VILLAGE, parent=world.regions["town_a"]
    )
    client = Client()
    if signed_in:
        client.force_login(world.user(Role.RESIDENT))
    _fill(world, village, 10)
    ten = _queries(client, page_url(village))
    lists = {
        kind: _queries(client, page_url(village, kind)) for kind in ("need", "meeting", "vote", "notice", "decision")
    }
    _fill(world, village, 40)
    assert _queries(client, page_url(village)) == ten
    for kind, count in lists.items():
        assert _queries(client, page_url(village, kind)) == count, kind
    # The community, then a page and a count for each of the seven kinds, and two prefetches
    # (agenda items, decision steps); signing in adds the session, and the user with the scope
    # (the resident's memberships and person in the same statement).
    assert ten == 17 + (2 if signed_in else 0)


# --- Finding a community, and the ways in ----------------------------------------------------------------


def test_the_community_search_lists_only_communities_with_public_records(world: World) -> None:
    client = Client()
    body = main_of(client.get(reverse("participation:public_community_list")))
    assert world.regions["village_a"].name in body
    assert world.regions["village_b"].name in body
    assert world.regions["village_a2"].name not in body  # nothing public there yet
    found = main_of(client.get(reverse("participation:public_community_list"), {"q": "甲村"}))
    assert page_url(world.regions["village_a"]) in found
    assert page_url(world.regions["village_b"]) not in found
    none = main_of(client.get(reverse("participation:public_community_list"), {"q": "不存在的村"}))
    assert "没有找到这个村（社区）" in none


def test_a_draft_alone_does_not_list_a_community(world: World) -> None:
    village_a2 = world.regions["village_a2"]
    today = timezone.localdate()
    Notice.objects.create(region=village_a2, title="草稿", body="x", starts_on=today, ends_on=today)
    body = main_of(Client().get(reverse("participation:public_community_list")))
    assert village_a2.name not in body
    Notice.objects.filter(region=village_a2).update(status=NoticeStatus.PUBLISHED)
    body = main_of(Client().get(reverse("participation:public_community_list")))
    assert village_a2.name in body


def test_a_resident_reaches_their_community_page_and_a_visitor_the_search(world: World, village_a: Region) -> None:
    resident = Client()
    resident.force_login(world.user(Role.RESIDENT))
    mine = reverse("participation:public_mine")
    assert resident.get(mine)["Location"] == page_url(village_a)
    assert Client().get(mine)["Location"] == reverse("participation:public_community_list")
    needs_page = resident.get(reverse("participation:need_list")).content.decode()
    assert mine in needs_page
    welcome = Client().get("/").content.decode()
    assert reverse("participation:public_community_list") in welcome
