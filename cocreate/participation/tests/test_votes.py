"""Votes: rules as data, validity and outcome at every boundary, one ballot per voter, paper
and online ballots never counting twice, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.participation import votes
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Choice,
    RuleThreshold,
    Vote,
    Voter,
    VoteRule,
    VoteStatus,
)
from cocreate.participation.tests.helpers import (
    NOW,
    account,
    estate_with_owners,
    households,
    open_vote,
    people,
    village,
)

pytestmark = pytest.mark.django_db


def figures(
    electorate: int,
    agree: int,
    disagree: int = 0,
    abstain: int = 0,
    *,
    electorate_area: Decimal | int = 0,
    agree_area: Decimal | int = 0,
    other_area: Decimal | int = 0,
) -> votes.Figures:
    return votes.Figures(
        electorate=electorate,
        electorate_area=Decimal(electorate_area),
        participants=agree + disagree + abstain,
        participants_area=Decimal(agree_area) + Decimal(other_area),
        by_choice={"agree": agree, "disagree": disagree, "abstain": abstain},
        area_by_choice={"agree": Decimal(agree_area), "disagree": Decimal(other_area), "abstain": Decimal(0)},
    )


def outcome(rule_code: str, f: votes.Figures) -> tuple[bool, bool]:
    vote = Vote(rule=VoteRule.objects.get(code=rule_code))
    result = votes.evaluate(vote, f)
    return result["valid"], result["carried"]


# --- The rules, at their boundaries -------------------------------------------------------------------


def test_villagers_meeting_exactly_half_present_is_not_valid() -> None:
    assert outcome("villagers_meeting", figures(100, 50)) == (False, False)
    assert outcome("villagers_meeting", figures(100, 51)) == (True, True)


def test_villagers_meeting_carried_by_more_than_half_of_those_present() -> None:
    assert outcome("villagers_meeting", figures(100, 30, 30)) == (True, False)  # exactly half agree
    assert outcome("villagers_meeting", figures(100, 31, 30)) == (True, True)


def test_household_meeting_exactly_two_thirds_of_households_is_valid() -> None:
    assert outcome("villagers_meeting_households", figures(90, 60)) == (True, True)
    assert outcome("villagers_meeting_households", figures(90, 59)) == (False, False)


def test_representatives_meeting_needs_two_thirds_present() -> None:
    assert outcome("representatives_meeting", figures(30, 10, 9)) == (False, False)
    assert outcome("representatives_meeting", figures(30, 11, 9)) == (True, True)


def test_party_members_meeting_carried_by_more_than_half_of_all_members() -> None:
    # 40 members, 30 present (valid), 20 agree: a majority of those present, exactly half of all.
    assert outcome("party_members_meeting", figures(40, 20, 10)) == (True, False)
    assert outcome("party_members_meeting", figures(40, 21, 9)) == (True, True)
    assert outcome("party_members_meeting", figures(40, 26, 0)) == (False, False)  # 26 < 2/3 of 40


def test_owners_quorum_exactly_two_thirds_of_area_and_number_is_valid() -> None:
    f = figures(90, 60, electorate_area=9000, agree_area=6000)
    assert outcome("owners_major", f) == (True, True)
    assert outcome("owners_major", figures(90, 59, electorate_area=9000, agree_area=6000)) == (False, False)
    assert outcome("owners_major", figures(90, 60, electorate_area=9000, agree_area=5999)) == (False, False)


def test_owners_major_area_passes_but_headcount_fails_does_not_carry() -> None:
    # 80 of 90 owners with 8000 of 9000 m² take part; those agreeing hold 6000 m² (≥ 3/4 of the
    # area taking part) but are only 59 people (< 3/4 of 80).
    f = figures(90, 59, 21, electorate_area=9000, agree_area=6000, other_area=2000)
    assert outcome("owners_major", f) == (True, False)


def test_owners_major_headcount_passes_but_area_fails_does_not_carry() -> None:
    f = figures(90, 60, 20, electorate_area=9000, agree_area=5999, other_area=2001)
    assert outcome("owners_major", f) == (True, False)
    assert outcome("owners_major", figures(90, 60, 20, electorate_area=9000, agree_area=6000, other_area=2000)) == (
        True,
        True,
    )


def test_owners_ordinary_needs_more_than_half_of_both() -> None:
    half = figures(90, 40, 40, electorate_area=9000, agree_area=4000, other_area=4000)
    assert outcome("owners_ordinary", half) == (True, False)
    more = figures(90, 41, 39, electorate_area=9000, agree_area=4001, other_area=3999)
    assert outcome("owners_ordinary", more) == (True, True)
    area_only = figures(90, 40, 40, electorate_area=9000, agree_area=4001, other_area=3999)
    assert outcome("owners_ordinary", area_only) == (True, False)


def test_renovation_willingness_two_thirds_of_all_owners() -> None:
    assert outcome("renovation_willingness", figures(30, 20)) == (True, True)
    assert outcome("renovation_willingness", figures(30, 19, 0)) == (True, False)


def test_simple_poll_majority_of_votes_cast() -> None:
    assert outcome("simple_poll", figures(500, 3, 2)) == (True, True)
    assert outcome("simple_poll", figures(500, 2, 1, 1)) == (True, False)  # abstentions are votes cast
    assert outcome("simple_poll", figures(500, 0)) == (True, False)


def test_thresholds_are_data_a_county_can_change() -> None:
    rule = VoteRule.objects.get(code="renovation_willingness")
    RuleThreshold.objects.filter(rule=rule, stage="pass").update(numerator=3, denominator=4)
    assert outcome("renovation_willingness", figures(40, 29)) == (True, False)
    assert outcome("renovation_willingness", figures(40, 30)) == (True, True)


# --- Rolls, ballots and tallies -------------------------------------------------------------------------


def test_the_roll_is_frozen_at_opening(world: World) -> None:
    region = village(world)
    adults = people(region, 5)
    people(region, 2, adult=False)
    vote = open_vote(world, region, "villagers_meeting")
    assert set(Voter.objects.filter(vote=vote).values_list("person_id", flat=True)) == {p.pk for p in adults}
    people(region, 3)  # moving in after the opening does not change the roll
    assert votes.tally(vote).electorate == 5


def test_owners_roll_counts_each_owner_once_with_all_their_area(world: World) -> None:
    region = village(world)
    estate, owners = estate_with_owners(region, [100, 80, 60])
    # The first owner also holds a second flat: one head, both areas.
    estate.units.create(region=region, number="2-001", area=Decimal("40.5"), owner=owners[0])
    vote = open_vote(world, region, "owners_major", estate=estate)
    roll = {v.person_id: v.area for v in Voter.objects.filter(vote=vote)}
    assert roll == {owners[0].pk: Decimal("140.50"), owners[1].pk: Decimal("80.00"), owners[2].pk: Decimal("60.00")}
    f = votes.tally(vote)
    assert (f.electorate, f.electorate_area) == (3, Decimal("280.50"))


def test_a_voter_casts_once_and_again_is_the_same_ballot(world: World) -> None:
    region = village(world)
    voter = people(region, 3)[0]
    user = account(voter)
    vote = open_vote(world, region, "simple_poll")
    first = votes.ballot_cast(actor=user, vote=vote, choice=Choice.AGREE, now=NOW)
    again = votes.ballot_cast(actor=user, vote=vote, choice=Choice.AGREE, now=NOW)
    assert first.pk == again.pk
    with pytest.raises(ValidationError, match="不能重复表决"):
        votes.ballot_cast(actor=user, vote=vote, choice=Choice.DISAGREE, now=NOW)
    assert Ballot.objects.filter(vote=vote).count() == 1
    assert votes.tally(vote).by_choice == {"agree": 1, "disagree": 0, "abstain": 0}


def test_a_non_member_cannot_vote(world: World) -> None:
    region = village(world)
    people(region, 3)
    vote = open_vote(world, region, "simple_poll")
    stranger = account(people(village(world, "990101001004", "丁村"), 1)[0])
    with pytest.raises(PermissionDenied, match="不在本次表决的名册中"):
        votes.ballot_cast(actor=stranger, vote=vote, choice=Choice.AGREE, now=NOW)
    assert not Ballot.objects.filter(vote=vote).exists()


@pytest.mark.parametrize(
    ("when", "message"), [(timedelta(days=8), "表决已截止"), (timedelta(hours=-2), "表决尚未开始")]
)
def test_no_ballot_outside_the_window(world: World, when: timedelta, message: str) -> None:
    region = village(world)
    user = account(people(region, 2)[0])
    vote = open_vote(world, region, "simple_poll")
    with pytest.raises(ValidationError, match=message):
        votes.ballot_cast(actor=user, vote=vote, choice=Choice.AGREE, now=NOW + when)
    assert not Ballot.objects.filter(vote=vote).exists()


def test_no_ballot_after_closing(world: World) -> None:
    region = village(world)
    user = account(people(region, 2)[0])
    vote = open_vote(world, region, "simple_poll")
    votes.vote_close(actor=world.user(Role.TOWN_STAFF), vote=vote, now=NOW)
    with pytest.raises(ValidationError, match="表决未在进行中"):
        votes.ballot_cast(actor=user, vote=vote, choice=Choice.AGREE, now=NOW)


def test_a_household_has_one_vote(world: World) -> None:
    region = village(world)
    members = people(region, 4)
    households(region, [members[:2], members[2:]])
    vote = open_vote(world, region, "villagers_meeting_households")
    first, second = account(members[0]), account(members[1])
    votes.ballot_cast(actor=first, vote=vote, choice=Choice.AGREE, now=NOW)
    with pytest.raises(ValidationError, match="每户只有一票"):
        votes.ballot_cast(actor=second, vote=vote, choice=Choice.AGREE, now=NOW)
    assert votes.tally(vote).participants == 1


def test_staff_of_another_village_cannot_record_paper_ballots(world: World) -> None:
    region = village(world)
    voters = people(region, 2)
    vote = open_vote(world, region, "simple_poll")
    line = Voter.objects.get(vote=vote, person=voters[0])
    with pytest.raises(PermissionDenied):
        votes.paper_record(actor=world.user(Role.VILLAGE_STAFF), vote=vote, rows=[(line.pk, Choice.AGREE)], now=NOW)
    assert not Ballot.objects.filter(vote=vote).exists()


def test_paper_and_online_ballots_never_count_twice(world: World) -> None:
    region = village(world)
    voters = people(region, 4)
    vote = open_vote(world, region, "simple_poll")
    votes.ballot_cast(actor=account(voters[0]), vote=vote, choice=Choice.AGREE, now=NOW)
    lines = {v.person_id: v.pk for v in Voter.objects.filter(vote=vote)}
    staff = world.user(Role.TOWN_STAFF)
    with pytest.raises(ValidationError) as exc:
        votes.paper_record(
            actor=staff,
            vote=vote,
            rows=[
                (lines[voters[0].pk], Choice.DISAGREE),  # already voted online
                (lines[voters[1].pk], Choice.AGREE),
                (lines[voters[1].pk], Choice.AGREE),  # twice on the sheet
                (999999, Choice.AGREE),  # not on the roll
                (lines[voters[2].pk], "maybe"),
            ],
            now=NOW,
        )
    problems = exc.value.message_dict["rows"]
    assert [p[:3] for p in problems] == ["第1行", "第3行", "第4行", "第5行"]
    assert Ballot.objects.filter(vote=vote).count() == 1  # nothing of the sheet was kept
    recorded = votes.paper_record(
        actor=staff,
        vote=vote,
        rows=[(lines[voters[1].pk], Choice.AGREE), (lines[voters[2].pk], Choice.DISAGREE)],
        now=NOW,
    )
    assert {b.channel for b in recorded} == {BallotChannel.PAPER}
    assert votes.tally(vote).by_choice == {"agree": 2, "disagree": 1, "abstain": 0}


def test_closing_freezes_the_result(world: World) -> None:
    region = village(world)
    voters = people(region, 3)
    vote = open_vote(world, region, "villagers_meeting")
    for person in voters[:2]:
        votes.ballot_cast(actor=account(person), vote=vote, choice=Choice.AGREE, now=NOW)
    closed = votes.vote_close(actor=world.user(Role.TOWN_STAFF), vote=vote, now=NOW)
    assert closed.status == VoteStatus.CLOSED
    assert closed.result["valid"] and closed.result["carried"]
    assert closed.result["participants"] == 2 and closed.result["electorate"] == 3
    assert [q["met"] for q in closed.result["quorum"]] == [True]
    assert votes.current_result(closed) == closed.result


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.GRID_WORKER, Role.SCHOOL_STAFF, Role.INSPECTOR])
def test_only_community_staff_run_votes(world: World, role: str) -> None:
    region = village(world)
    with pytest.raises(PermissionDenied):
        votes.vote_create(
            actor=world.user(role),
            region=region,
            title="村道硬化",
            rule=VoteRule.objects.get(code="simple_poll"),
            opens_at=NOW,
            closes_at=NOW + timedelta(days=1),
        )


def test_vote_input_is_checked(world: World) -> None:
    region = village(world)
    staff = world.user(Role.TOWN_STAFF)
    rule = VoteRule.objects.get(code="owners_major")
    base: dict[str, Any] = {"actor": staff, "region": region, "title": "维修资金使用", "rule": rule}
    with pytest.raises(ValidationError) as no_estate:
        votes.vote_create(**base, opens_at=NOW, closes_at=NOW + timedelta(days=1))
    assert "estate" in no_estate.value.message_dict
    with pytest.raises(ValidationError) as window:
        votes.vote_create(**base, opens_at=NOW, closes_at=NOW)
    assert "closes_at" in window.value.message_dict
    empty = votes.vote_create(
        actor=staff,
        region=region,
        title="无人可投",
        rule=VoteRule.objects.get(code="simple_poll"),
        opens_at=NOW,
        closes_at=NOW + timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="没有有表决权的人员"):
        votes.vote_open(actor=staff, vote=empty, now=NOW)
    assert not Voter.objects.filter(vote=empty).exists()


def test_residents_see_opened_votes_where_they_live_and_only_their_own_ballot(world: World) -> None:
    resident = world.user(Role.RESIDENT)
    rec = world.extra["participation"]
    assert Vote.objects.visible_to(resident).filter(pk=rec["vote"].pk).exists()
    assert not Vote.objects.visible_to(resident).filter(pk=rec["outside_vote"].pk).exists()
    assert list(Ballot.objects.visible_to(resident)) == [rec["ballot"]]
    assert not Ballot.objects.visible_to(world.users["outside_staff"]).filter(pk=rec["ballot"].pk).exists()
