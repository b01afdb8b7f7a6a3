"""Vote and estate pages: staff create, open, close, see the roll and enter paper sheets; residents
vote from their phones. Every role that matters, bad input changing nothing, and query counts
that do not grow with the roll."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Person, Region, Role, User
from cocreate.participation import votes
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Choice,
    Estate,
    PropertyUnit,
    Vote,
    Voter,
    VoteRule,
    VoteStatus,
)
from cocreate.participation.tests.helpers import account, estate_with_owners, people, village

pytestmark = pytest.mark.django_db


def live_vote(world: World, region: Region, rule_code: str = "simple_poll", **extra: Any) -> Vote:
    """A vote opened now (the pages use the real clock)."""
    staff = world.user(Role.TOWN_STAFF)
    now = timezone.now()
    vote = votes.vote_create(
        actor=staff,
        region=region,
        title="是否硬化村道",
        question="村口至小学的道路硬化，每户出工两天。",
        rule=VoteRule.objects.get(code=rule_code),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=7),
        **extra,
    )
    return votes.vote_open(actor=staff, vote=vote, now=now)


@pytest.fixture
def village_vote(world: World) -> Vote:
    """A simple poll in 甲村 whose roll holds every verified person there (the resident too)."""
    Person.objects.filter(region__path__startswith=world.regions["village_a"].path).update(verified_at=timezone.now())
    return live_vote(world, world.regions["village_a"])


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"participation:{name}", args=args or None)


# --- Staff pages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VILLAGE_STAFF, Role.TOWN_STAFF])
def test_staff_of_the_village_see_list_detail_and_roll(world: World, village_vote: Vote, role: str) -> None:
    client = client_for(world.user(role))
    listing = client.get(url("vote_list"), {"status": "open"})
    assert listing.status_code == 200 and "是否硬化村道" in listing.content.decode()
    detail = client.get(url("vote_detail", village_vote.pk))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "简单多数" in body and "需&gt;1/2，实际 0/0 ✗" in body
    roll = client.get(url("vote_roll", village_vote.pk))
    assert roll.status_code == 200
    resident = world.user(Role.RESIDENT).person
    assert resident is not None
    assert resident.name not in roll.content.decode()  # masked
    assert resident.name[0] + "*" in roll.content.decode()


def test_outside_staff_get_404_and_residents_403_on_staff_pages(world: World, village_vote: Vote) -> None:
    outside = client_for(world.users["outside_staff"])
    for name in ("vote_detail", "vote_roll", "vote_paper", "vote_ballot"):
        assert outside.get(url(name, village_vote.pk)).status_code == 404, name
    assert outside.post(url("vote_close", village_vote.pk)).status_code == 404
    resident = client_for(world.user(Role.RESIDENT))
    assert resident.get(url("vote_detail", village_vote.pk)).status_code == 403
    assert resident.get(url("vote_roll", village_vote.pk)).status_code == 403
    village_vote.refresh_from_db()
    assert village_vote.status == VoteStatus.OPEN


def test_anonymous_is_sent_to_login(village_vote: Vote) -> None:
    client = Client()
    for name, args in (("vote_list", ()), ("vote_mine", ()), ("vote_ballot", (village_vote.pk,))):
        response = client.get(url(name, *args))
        assert response.status_code == 302 and "login" in response["Location"], name


def test_grid_worker_sees_but_cannot_open_close_or_enter_paper(world: World, village_vote: Vote) -> None:
    client = client_for(world.user(Role.GRID_WORKER))
    # The grid worker lives in the village: they see its vote, but do not run it.
    assert client.get(url("vote_detail", village_vote.pk)).status_code == 200
    assert client.post(url("vote_close", village_vote.pk)).status_code == 404
    assert client.get(url("vote_paper", village_vote.pk)).status_code == 404
    village_vote.refresh_from_db()
    assert village_vote.status == VoteStatus.OPEN


def test_create_a_vote_then_open_and_close_it(world: World) -> None:
    client = client_for(world.user(Role.VILLAGE_STAFF))
    page = client.get(url("vote_create"))
    assert page.status_code == 200 and "《村民委员会组织法》第二十二条" in page.content.decode()
    now = timezone.localtime()
    data = {
        "title": "村规民约修订",
        "question": "是否同意修订村规民约第三条",
        "region": world.regions["village_a"].pk,
        "rule": VoteRule.objects.get(code="villagers_meeting").pk,
        "electorate": "",
        "opens_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    }
    response = client.post(url("vote_create"), data)
    assert response.status_code == 302, response.content.decode()
    vote = Vote.objects.get(title="村规民约修订")
    assert vote.electorate == "adults" and vote.status == VoteStatus.DRAFT
    # Nobody has a birth date on record yet: opening is refused with the reason, nothing changes.
    refused = client.post(url("vote_open", vote.pk), follow=True)
    assert "没有有表决权的人员" in refused.content.decode()
    vote.refresh_from_db()
    assert vote.status == VoteStatus.DRAFT and not Voter.objects.filter(vote=vote).exists()
    Person.objects.filter(region=world.regions["village_a"]).update(
        verified_at=timezone.now(), birth_date=date(1980, 1, 1)
    )
    assert client.post(url("vote_open", vote.pk)).status_code == 302
    vote.refresh_from_db()
    assert vote.status == VoteStatus.OPEN
    assert client.get(url("vote_open", vote.pk)).status_code == 405  # POST only
    assert client.post(url("vote_close", vote.pk)).status_code == 302
    vote.refresh_from_db()
    assert vote.status == VoteStatus.CLOSED and vote.result["valid"] is False
    detail = client.get(url("vote_detail", vote.pk)).content.decode()
    assert "最终结果" in detail and "未达到有效条件" in detail


def test_bad_vote_form_keeps_input_and_creates_nothing(world: World) -> None:
    client = client_for(world.user(Role.VILLAGE_STAFF))
    now = timezone.localtime()
    data = {
        "title": "小区加装电梯",
        "region": world.regions["village_a"].pk,
        "rule": VoteRule.objects.get(code="owners_major").pk,
        "opens_at": now.strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    response = client.post(url("vote_create"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "小区加装电梯" in body and "截止时间须晚于开始时间" in body
    data["closes_at"] = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url("vote_create"), data)
    assert response.status_code == 400 and "业主表决须选择小区" in response.content.decode()
    # A region outside the manager's reach is not a choice.
    data["region"] = world.regions["village_b"].pk
    assert client.post(url("vote_create"), data).status_code == 400
    assert not Vote.objects.filter(title="小区加装电梯").exists()


def test_closing_twice_shows_the_reason_and_keeps_the_result(world: World, village_vote: Vote) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    client.post(url("vote_close", village_vote.pk))
    village_vote.refresh_from_db()
    frozen = village_vote.result
    response = client.post(url("vote_close", village_vote.pk), follow=True)
    assert "只有进行中的表决可以结束" in response.content.decode()
    village_vote.refresh_from_db()
    assert village_vote.result == frozen


def test_owners_vote_detail_shows_area_and_each_threshold(world: World) -> None:
    region = world.regions["village_a"]
    estate, _owners = estate_with_owners(region, [100, 100, 100])
    vote = live_vote(world, region, "owners_major", estate=estate)
    staff = world.user(Role.VILLAGE_STAFF)
    lines = list(Voter.objects.filter(vote=vote).order_by("pk"))
    votes.paper_record(actor=staff, vote=vote, rows=[(lines[0].pk, Choice.AGREE), (lines[1].pk, Choice.AGREE)])
    body = client_for(staff).get(url("vote_detail", vote.pk)).content.decode()
    assert "需≥2/3，实际 200/300 ✓" in body  # area taking part
    assert "需≥2/3，实际 2/3 ✓" in body  # owners taking part
    assert "需≥3/4，实际 2/2 ✓" in body
    assert "面积（㎡）" in body and "表决有效" in body and "通过" in body


# --- Paper sign-in sheets ---------------------------------------------------------------------------------


def test_paper_sheet_records_all_rows(world: World, village_vote: Vote) -> None:
    client = client_for(world.user(Role.VILLAGE_STAFF))
    lines = list(Voter.objects.filter(vote=village_vote).exclude(ballot__isnull=False).order_by("pk")[:2])
    data = {"line": [v.pk for v in lines], f"choice_{lines[0].pk}": "agree", f"choice_{lines[1].pk}": "abstain"}
    response = client.post(url("vote_paper", village_vote.pk), data)
    assert response.status_code == 302
    ballots = Ballot.objects.filter(vote=village_vote, channel=BallotChannel.PAPER)
    assert sorted(ballots.values_list("choice", flat=True)) == ["abstain", "agree"]


def test_paper_sheet_with_a_bad_row_records_nothing_and_keeps_input(world: World, village_vote: Vote) -> None:
    resident = world.user(Role.RESIDENT)
    votes.ballot_cast(actor=resident, vote=village_vote, choice=Choice.DISAGREE)
    taken = Voter.objects.get(vote=village_vote, person=resident.person)
    free = Voter.objects.filter(vote=village_vote, ballot__isnull=True).order_by("pk").first()
    assert free is not None
    client = client_for(world.user(Role.VILLAGE_STAFF))
    data = {"line": [free.pk, taken.pk], f"choice_{free.pk}": "agree", f"choice_{taken.pk}": "agree"}
    response = client.post(url("vote_paper", village_vote.pk), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "第2行：已经表决过" in body
    assert '<option value="agree" selected>' in body  # the free line keeps its choice
    assert Ballot.objects.filter(vote=village_vote).count() == 1


def test_paper_page_for_town_staff_outside_staff_and_residents(world: World, village_vote: Vote) -> None:
    assert client_for(world.user(Role.TOWN_STAFF)).get(url("vote_paper", village_vote.pk)).status_code == 200
    assert client_for(world.user(Role.RESIDENT)).get(url("vote_paper", village_vote.pk)).status_code == 403
    line = Voter.objects.filter(vote=village_vote).first()
    assert line is not None
    data = {"line": [line.pk], f"choice_{line.pk}": "agree"}
    assert client_for(world.users["outside_staff"]).post(url("vote_paper", village_vote.pk), data).status_code == 404
    assert not Ballot.objects.filter(vote=village_vote).exists()


# --- Residents -------------------------------------------------------------------------------------------


def test_resident_on_the_roll_votes_with_a_confirmation(world: World, village_vote: Vote) -> None:
    client = client_for(world.user(Role.RESIDENT))
    mine = client.get(url("vote_mine"))
    assert mine.status_code == 200 and "是否硬化村道" in mine.content.decode() and "待表决" in mine.content.decode()
    page = client.get(url("vote_ballot", village_vote.pk)).content.decode()
    assert "村口至小学的道路硬化" in page and 'value="disagree"' in page
    confirm = client.post(url("vote_ballot", village_vote.pk), {"choice": "agree"})
    assert confirm.status_code == 200 and "确认您的表决意见" in confirm.content.decode()
    assert not Ballot.objects.filter(vote=village_vote).exists()  # nothing until confirmed
    cast = client.post(url("vote_ballot", village_vote.pk), {"choice": "agree", "confirm": "1"}, follow=True)
    assert cast.status_code == 200
    assert "表决：同意" in cast.content.decode() and "您已于" in cast.content.decode()
    ballot = Ballot.objects.get(vote=village_vote)
    # The same again is idempotent; a different choice shows the service's message.
    again = client.post(url("vote_ballot", village_vote.pk), {"choice": "agree", "confirm": "1"})
    assert again.status_code == 302
    other = client.post(url("vote_ballot", village_vote.pk), {"choice": "disagree", "confirm": "1"})
    assert other.status_code == 400 and "不能重复表决" in other.content.decode()
    assert list(Ballot.objects.filter(vote=village_vote).values_list("pk", "choice")) == [(ballot.pk, "agree")]
    assert "已表决：同意" in client.get(url("vote_mine")).content.decode()


def test_resident_not_on_the_roll_cannot_vote(world: World, village_vote: Vote) -> None:
    newcomer = account(
        Person.objects.create(name="新搬来", region=world.regions["village_a"], verified_at=timezone.now())
    )
    client = client_for(newcomer)
    assert "是否硬化村道" not in client.get(url("vote_mine")).content.decode()
    page = client.get(url("vote_ballot", village_vote.pk))
    assert page.status_code == 200 and "您不在本次表决的名册中" in page.content.decode()
    response = client.post(url("vote_ballot", village_vote.pk), {"choice": "agree", "confirm": "1"})
    assert response.status_code == 403 and "您不在本次表决的名册中" in response.content.decode()
    assert not Ballot.objects.filter(vote=village_vote).exists()


def test_closed_vote_shows_the_result_to_residents(world: World, village_vote: Vote) -> None:
    resident = world.user(Role.RESIDENT)
    votes.ballot_cast(actor=resident, vote=village_vote, choice=Choice.AGREE)
    votes.vote_close(actor=world.user(Role.TOWN_STAFF), vote=village_vote)
    client = client_for(resident)
    page = client.get(url("vote_ballot", village_vote.pk)).content.decode()
    assert "表决结果" in page and "通过" in page and "您已于" in page
    late = client.post(url("vote_ballot", village_vote.pk), {"choice": "agree", "confirm": "1"})
    assert late.status_code == 400 and "表决未在进行中" in late.content.decode()


def test_bad_choice_is_refused(world: World, village_vote: Vote) -> None:
    client = client_for(world.user(Role.RESIDENT))
    assert client.post(url("vote_ballot", village_vote.pk), {"choice": "maybe"}).status_code == 400
    assert client.post(url("vote_ballot", village_vote.pk), {"choice": "maybe", "confirm": "1"}).status_code == 400
    assert not Ballot.objects.filter(vote=village_vote).exists()


# --- Query counts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vote_detail", "vote_roll"])
def test_result_and_roll_pages_use_the_same_queries_for_10_and_100_voters(world: World, name: str) -> None:
    client = client_for(world.user(Role.TOWN_STAFF))
    counts = []
    for i, n in enumerate((10, 100)):
        region = village(world, code=f"99010100100{i + 5}", name=f"测{i}村")
        voters = people(region, n)
        vote = live_vote(world, region)
        staff = world.user(Role.TOWN_STAFF)
        lines = list(Voter.objects.filter(vote=vote).order_by("pk"))
        votes.paper_record(actor=staff, vote=vote, rows=[(line.pk, Choice.AGREE) for line in lines[: n // 2]])
        assert len(voters) == n
        client.get(url(name, vote.pk))  # warm caches (content types, sessions)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(name, vote.pk))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- Estates ---------------------------------------------------------------------------------------------


def test_staff_create_an_estate_and_add_and_edit_units(world: World) -> None:
    client = client_for(world.user(Role.VILLAGE_STAFF))
    response = client.post(url("estate_create"), {"region": world.regions["village_a"].pk, "name": "和谐小区"})
    assert response.status_code == 302
    estate = Estate.objects.get(name="和谐小区")
    owner = world.people["a_member"]
    response = client.post(url("estate_unit_add", estate.pk), {"number": "2-301", "area": "88.5", "owner": owner.pk})
    assert response.status_code == 302
    unit = PropertyUnit.objects.get(estate=estate)
    assert str(unit.area) == "88.50"
    duplicate = client.post(url("estate_unit_add", estate.pk), {"number": "2-301", "area": "60", "owner": owner.pk})
    assert duplicate.status_code == 400 and "本小区已有该房号" in duplicate.content.decode()
    # An owner from another village is not a choice.
    elsewhere = world.people["a2"].pk
    bad = client.post(url("estate_unit_add", estate.pk), {"number": "2-302", "area": "60", "owner": elsewhere})
    assert bad.status_code == 400
    edit = client.post(url("propertyunit_edit", unit.pk), {"number": "2-301", "area": "90", "owner": owner.pk})
    assert edit.status_code == 302
    unit.refresh_from_db()
    assert str(unit.area) == "90.00" and PropertyUnit.objects.filter(estate=estate).count() == 1
    listing = client.get(url("estate_list")).content.decode()
    assert "和谐小区" in listing


def test_estate_pages_for_other_roles(world: World) -> None:
    estate = world.extra["participation"]["estate"]
    unit = world.extra["participation"]["unit"]
    outside = client_for(world.users["outside_staff"])
    assert outside.get(url("estate_detail", estate.pk)).status_code == 404
    assert outside.get(url("propertyunit_edit", unit.pk)).status_code == 404
    resident = client_for(world.user(Role.RESIDENT))
    assert resident.get(url("estate_detail", estate.pk)).status_code == 403
    mine = resident.get(url("estate_mine"))
    assert mine.status_code == 200 and unit.number in mine.content.decode()
    assert Client().get(url("estate_mine")).status_code == 302
