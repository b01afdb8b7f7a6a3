"""Reads of votes for pages and the API: lists, the roll, the caller's own ballot, and the result
laid out threshold by threshold. Everything starts from ``visible_to(user)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.privacy import mask_name
from cocreate.participation import votes
from cocreate.participation.models import (
    Ballot,
    Choice,
    ElectorateKind,
    Measure,
    RuleThreshold,
    Vote,
    Voter,
    VoteStatus,
)


def vote_list(*, user: Any, status: str = "", search: str = "") -> QuerySet[Vote]:
    """The votes the user may see, newest first."""
    qs = Vote.objects.visible_to(user).select_related("region", "rule", "estate")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(question__icontains=search))
    return qs.order_by("-opens_at", "-id")


def vote_detail(*, user: Any, pk: Any) -> Vote:
    """One visible vote with what its pages show; missing and forbidden both 404."""
    return access.get_visible_or_404(Vote.objects.select_related("region", "rule", "estate"), user, pk=pk)


def _own_lines(user: Any, prefix: str = "") -> Q:
    scope = access.scope_of(user)
    q = Q(pk__in=[])
    if scope.person_id:
        q |= Q(**{f"{prefix}person_id": scope.person_id})
    if scope.household_id:
        q |= Q(**{f"{prefix}household_id": scope.household_id})
    return q


def my_votes(*, user: Any) -> QuerySet[Vote]:
    """Opened votes the user is on the roll of (in person or through their household), open first,
    each with ``my_choice`` and ``my_cast_at`` of the line's ballot (None before it is cast)."""
    lines = Voter.objects.filter(_own_lines(user), vote=OuterRef("pk"))
    ballots = Ballot.objects.filter(_own_lines(user, "voter__"), vote=OuterRef("pk")).order_by("pk")
    return (
        Vote.objects.visible_to(user)
        .exclude(status=VoteStatus.DRAFT)
        .filter(Exists(lines))
        .annotate(my_choice=Subquery(ballots.values("choice")[:1]), my_cast_at=Subquery(ballots.values("cast_at")[:1]))
        .select_related("region", "rule")
        .order_by("-status", "-opens_at", "-id")  # "open" > "closed": descending lists the open ones first
    )


def my_ballot(*, user: Any, vote: Vote) -> Ballot | None:
    """The ballot of the user's roll line in this vote, if one was cast."""
    line = votes.voter_line(vote, user)
    if line is None:
        return None
    return Ballot.objects.filter(voter=line).first()


def is_on_roll(*, user: Any, vote: Vote) -> bool:
    return votes.voter_line(vote, user) is not None


@dataclass(frozen=True)
class RollLine:
    """One line of the roll as staff see it: a masked name, whether and how the line voted."""

    id: int
    name: str
    household: str
    area: Decimal
    voted: bool
    channel: str
    channel_display: str
    cast_at: datetime | None


def vote_roll(*, user: Any, vote: Vote, search: str = "", voted: str = "") -> QuerySet[Voter]:
    """The vote's roll lines the user may see, with person, household and ballot in one query."""
    qs = (
        Voter.objects.visible_to(user)
        .filter(vote=vote)
        .select_related("person", "person__household", "household", "ballot")
        .order_by("id")
    )
    if search:
        qs = qs.filter(Q(person__name__icontains=search) | Q(household__number__icontains=search))
    if voted == "yes":
        qs = qs.filter(ballot__isnull=False)
    elif voted == "no":
        qs = qs.filter(ballot__isnull=True)
    return qs


def _ballot_of(voter: Voter) -> Ballot | None:
    try:
        return voter.ballot
    except Ballot.DoesNotExist:
        return None


def line_name(voter: Voter, *, masked: bool = True) -> str:
    """A person's name (masked: 张*) or a household's number and head."""
    if voter.person_id and voter.person is not None:
        return mask_name(voter.person.name) if masked else voter.person.name
    if voter.household is not None:
        return _("户 %(number)s") % {"number": voter.household.number}
    return ""


def roll_line(voter: Voter, *, masked: bool = True) -> RollLine:
    ballot = _ballot_of(voter)
    household = ""
    if voter.household is not None:
        household = voter.household.number
    elif voter.person is not None and voter.person.household is not None:
        household = voter.person.household.number
    return RollLine(
        id=voter.pk,
        name=line_name(voter, masked=masked),
        household=household,
        area=voter.area,
        voted=ballot is not None,
        channel=ballot.channel if ballot else "",
        channel_display=str(ballot.get_channel_display()) if ballot else "",
        cast_at=ballot.cast_at if ballot else None,
    )


# --- The result, threshold by threshold -------------------------------------------------------------------


def _number(text: str, area: bool) -> str:
    value = Decimal(text)
    if area:
        return f"{value.normalize():f}"
    return str(int(value))


def threshold_lines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each threshold of a result as a line: "需≥2/3，实际 61/90 ✓" with its stage and measure."""
    lines = []
    for stage, rows in ((_("有效条件"), result.get("quorum", [])), (_("通过条件"), result.get("passing", []))):
        for row in rows:
            area = row["measure"] == Measure.AREA
            lines.append(
                {
                    "stage": stage,
                    "text": row["text"],
                    "required": row["required"],
                    "value": _number(row["value"], area),
                    "of": _number(row["of"], area),
                    "met": row["met"],
                    "unit": "㎡" if area else "",
                    "line": _("需%(required)s，实际 %(value)s/%(of)s %(mark)s")
                    % {
                        "required": row["required"],
                        "value": _number(row["value"], area),
                        "of": _number(row["of"], area),
                        "mark": "✓" if row["met"] else "✗",
                    },
                }
            )
    return lines


def choice_lines(result: dict[str, Any], *, with_area: bool) -> list[dict[str, Any]]:
    """Counts (and floor areas for owners' votes) by choice, in the order 同意, 不同意, 弃权."""
    by_choice = result.get("by_choice", {})
    areas = result.get("area_by_choice", {})
    return [
        {
            "choice": value,
            "label": label,
            "count": by_choice.get(value, 0),
            "area": _number(areas.get(value, "0"), True) if with_area else "",
        }
        for value, label in Choice.choices
    ]


def vote_result(*, vote: Vote) -> dict[str, Any]:
    """The live result (open or draft) or the frozen one (closed), with display lines."""
    result = votes.current_result(vote)
    with_area = vote.electorate == ElectorateKind.OWNERS
    return {
        **result,
        "frozen": vote.status == VoteStatus.CLOSED,
        "with_area": with_area,
        "choices": choice_lines(result, with_area=with_area),
        "lines": threshold_lines(result),
    }


def rule_thresholds(*, vote: Vote) -> list[RuleThreshold]:
    """The rule's thresholds as they stand (a closed vote's result keeps the ones it was counted with)."""
    return list(RuleThreshold.objects.filter(rule_id=vote.rule_id).order_by("stage", "group", "id"))


def draft_roll_size(*, vote: Vote, day: Any) -> int:
    """How many lines the roll would have if the draft opened on ``day``."""
    return len(votes.electorate_rows(vote, day))
