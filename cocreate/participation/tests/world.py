"""Co-decision's part of the test world: an opened vote with a ballot on each side of the scope
line, and an estate with one owner's unit in each county."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.participation.defaults import install_rules
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Choice,
    Estate,
    PropertyUnit,
    RuleThreshold,
    Vote,
    Voter,
    VoteRule,
    VoteStatus,
)


def extend(w: World) -> None:
    install_rules(VoteRule, RuleThreshold)  # a transactional test's flush removes the migration's rows
    now = timezone.now()
    poll = VoteRule.objects.get(code="simple_poll")
    records: dict[str, Any] = {}
    resident = w.users["resident"].person
    assert resident is not None
    for key, region, person, marker in (
        ("", w.regions["village_a"], resident, ""),
        ("outside_", w.regions["village_b"], w.people["outside"], OUTSIDE_MARKER),
    ):
        vote = Vote.objects.create(
            region=region,
            title=f"{marker}是否硬化村道",
            rule=poll,
            electorate=poll.electorate,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=6),
            status=VoteStatus.OPEN,
            opened_at=now - timedelta(days=1),
        )
        voter = Voter.objects.create(vote=vote, person=person)
        ballot = Ballot.objects.create(vote=vote, voter=voter, choice=Choice.AGREE, channel=BallotChannel.ONLINE)
        estate = Estate.objects.create(region=region, name=f"{marker}幸福小区")
        unit = PropertyUnit.objects.create(
            estate=estate, region=region, number=f"{marker}1-101", area=Decimal("89.50"), owner=person
        )
        records.update(
            {
                f"{key}vote": vote,
                f"{key}voter": voter,
                f"{key}ballot": ballot,
                f"{key}estate": estate,
                f"{key}unit": unit,
            }
        )
    w.extra["participation"] = records
