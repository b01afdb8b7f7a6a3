"""Votes (表决): opening with a frozen voter roll, casting once, recording paper ballots,
and computing validity and the outcome from the rule's thresholds.

Counts always come from the ballot rows (one ``GROUP BY``), so the tally equals the number of
ballots at every moment; nothing is incremented. One ballot per roll line is the database's
unique constraint: two parallel casts by one voter insert once, and the loser reads the winner's
ballot back — the same choice is an idempotent success, a different one a clear refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.hotpath import read_one
from cocreate.core.models import Household, Person, Region, subtree_q
from cocreate.core.services import require
from cocreate.participation.models import (
    Ballot,
    BallotChannel,
    Base,
    Choice,
    ElectorateKind,
    Estate,
    Measure,
    ProblemItem,
    ProblemStatus,
    PropertyUnit,
    RuleThreshold,
    Stage,
    Vote,
    Voter,
    VoteRule,
    VoteStatus,
)
from cocreate.participation.needs import notify_problem_followers, problem_move

ZERO = Decimal("0")
HOUSEHOLD_KINDS = frozenset({ElectorateKind.HOUSEHOLDS})


# --- Figures and the rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Head count and floor area of the electorate, of those who took part, and by choice."""

    electorate: int
    electorate_area: Decimal
    participants: int
    participants_area: Decimal
    by_choice: dict[str, int]
    area_by_choice: dict[str, Decimal]


def tally(vote: Vote) -> Figures:
    """Counts from the roll and the ballots: two grouped queries, whatever the size."""
    roll = Voter.objects.filter(vote=vote).aggregate(n=Count("id"), area=Sum("area"))
    by_choice = dict.fromkeys(Choice.values, 0)
    area_by_choice = dict.fromkeys(Choice.values, ZERO)
    for row in (
        Ballot.objects.filter(vote=vote).values("choice").annotate(n=Count("id"), area=Sum("voter__area")).order_by()
    ):
        by_choice[row["choice"]] = row["n"]
        area_by_choice[row["choice"]] = row["area"] or ZERO
    return Figures(
        electorate=roll["n"] or 0,
        electorate_area=roll["area"] or ZERO,
        participants=sum(by_choice.values()),
        participants_area=sum(area_by_choice.values(), ZERO),
        by_choice=by_choice,
        area_by_choice=area_by_choice,
    )


def _measured(figures: Figures, threshold: RuleThreshold) -> tuple[Decimal, Decimal]:
    """(value, base) of one threshold: participants (quorum) or agree ballots (pass) over its base."""
    area = threshold.measure == Measure.AREA
    if threshold.stage == Stage.QUORUM:
        value = figures.participants_area if area else Decimal(figures.participants)
    else:
        value = figures.area_by_choice[Choice.AGREE] if area else Decimal(figures.by_choice[Choice.AGREE])
    if threshold.base == Base.ELECTORATE:
        base = figures.electorate_area if area else Decimal(figures.electorate)
    else:
        base = figures.participants_area if area else Decimal(figures.participants)
    return value, base


def threshold_met(value: Decimal, base: Decimal, threshold: RuleThreshold) -> bool:
    """value ÷ base > (strict) or ≥ numerator ÷ denominator, compared exactly (no division)."""
    if base <= 0:
        return False
    left, right = value * threshold.denominator, base * threshold.numerator
    return left > right if threshold.strict else left >= right


def _stage(figures: Figures, thresholds: Sequence[RuleThreshold], stage: str) -> tuple[bool, list[dict[str, Any]]]:
    rows = [t for t in thresholds if t.stage == stage]
    if not rows:
        return True, []
    details = []
    groups: dict[int, bool] = {}
    for t in rows:
        value, base = _measured(figures, t)
        met = threshold_met(value, base, t)
        groups[t.group] = groups.get(t.group, True) and met
        details.append(
            {
                "group": t.group,
                "measure": t.measure,
                "base": t.base,
                "required": f"{'>' if t.strict else '≥'}{t.numerator}/{t.denominator}",
                "value": str(value),
                "of": str(base),
                "met": met,
                "text": str(t),
            }
        )
    return any(groups.values()), details


def evaluate(vote: Vote, figures: Figures | None = None) -> dict[str, Any]:
    """The result as it stands: counts, each threshold against its figure, valid and carried."""
    figures = figures or tally(vote)
    thresholds = list(RuleThreshold.objects.filter(rule_id=vote.rule_id).order_by("stage", "group", "id"))
    valid, quorum = _stage(figures, thresholds, Stage.QUORUM)
    passed, passing = _stage(figures, thresholds, Stage.PASS)
    return {
        "rule": vote.rule.code,
        "electorate": figures.electorate,
        "electorate_area": str(figures.electorate_area),
        "participants": figures.participants,
        "participants_area": str(figures.participants_area),
        "by_choice": figures.by_choice,
        "area_by_choice": {k: str(v) for k, v in figures.area_by_choice.items()},
        "quorum": quorum,
        "passing": passing,
        "valid": valid,
        "carried": valid and passed,
        "computed_at": timezone.now().isoformat(),
    }


def current_result(vote: Vote) -> dict[str, Any]:
    """The frozen result of a closed vote, or the live one."""
    if vote.status == VoteStatus.CLOSED and vote.result:
        return vote.result
    return evaluate(vote)


# --- Creating and opening -------------------------------------------------------------------------------


def _check_window(opens_at: datetime, closes_at: datetime) -> None:
    if closes_at <= opens_at:
        raise ValidationError({"closes_at": _("截止时间须晚于开始时间")})


@transaction.atomic
def vote_create(
    *,
    actor: Any,
    region: Region,
    title: str,
    rule: VoteRule,
    opens_at: datetime,
    closes_at: datetime,
    question: str = "",
    electorate: str = "",
    estate: Estate | None = None,
    problem: ProblemItem | None = None,
) -> Vote:
    """Drafts a vote in a region the actor manages; the electorate defaults to the rule's.

    A vote may decide a problem-list line of the region: the line's followers then see it open and
    its result from their need.
    """
    electorate = electorate or rule.electorate
    if electorate not in ElectorateKind.values:
        raise ValidationError({"electorate": _("请选择表决范围")})
    if not rule.is_active:
        raise ValidationError({"rule": _("该表决规则已停用")})
    vote = Vote(
        region=region,
        title=title.strip(),
        question=question.strip(),
        rule=rule,
        electorate=electorate,
        estate=estate,
        problem=problem,
        opens_at=opens_at,
        closes_at=closes_at,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, vote)
    if problem is not None:
        if not problem.region.path.startswith(region.path):
            raise ValidationError({"problem": _("所选问题不在表决区域内")})
        if problem.status in (ProblemStatus.DONE, ProblemStatus.DROPPED):
            raise ValidationError({"problem": _("该问题已办结或不予实施")})
    if not vote.title:
        raise ValidationError({"title": _("请填写表决事项")})
    _check_window(opens_at, closes_at)
    if electorate == ElectorateKind.OWNERS:
        if estate is None:
            raise ValidationError({"estate": _("业主表决须选择小区")})
        if not estate.region.path.startswith(region.path):
            raise ValidationError({"estate": _("所选小区不在表决区域内")})
    elif estate is not None:
        raise ValidationError({"estate": _("只有业主表决需要选择小区")})
    vote.save()
    return vote


def _adult_cutoff(day: date) -> date:
    try:
        return day.replace(year=day.year - 18)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 18, day=28)


def electorate_rows(vote: Vote, day: date) -> list[Voter]:
    """The roll for the vote's electorate on ``day`` (not saved)."""
    people: QuerySet[Person] = Person.objects.filter(
        subtree_q(vote.region.path, "region__path"), verified_at__isnull=False
    )
    kind = vote.electorate
    if kind == ElectorateKind.HOUSEHOLDS:
        households = Household.objects.filter(subtree_q(vote.region.path, "region__path"))
        return [Voter(vote=vote, household_id=pk) for pk in households.order_by("pk").values_list("pk", flat=True)]
    if kind == ElectorateKind.OWNERS:
        assert vote.estate_id is not None
        areas = (
            PropertyUnit.objects.filter(estate_id=vote.estate_id)
            .values("owner_id")
            .annotate(area=Sum("area"))
            .order_by("owner_id")
        )
        return [Voter(vote=vote, person_id=row["owner_id"], area=row["area"]) for row in areas]
    if kind == ElectorateKind.ADULTS:
        people = people.filter(birth_date__isnull=False, birth_date__lte=_adult_cutoff(day))
    elif kind == ElectorateKind.REPRESENTATIVES:
        people = people.filter(is_representative=True)
    elif kind == ElectorateKind.PARTY_MEMBERS:
        people = people.filter(is_party_member=True)
    return [Voter(vote=vote, person_id=pk) for pk in people.order_by("pk").values_list("pk", flat=True)]


def _locked(vote: Vote) -> Vote:
    return (
        Vote.objects.select_for_update(of=("self",))
        .select_related("region", "rule", "estate", "problem")
        .get(pk=vote.pk)
    )


@transaction.atomic
def vote_open(*, actor: Any, vote: Vote, now: datetime | None = None) -> Vote:
    """Opens a draft: the electorate is frozen into the roll; nobody is added or removed later."""
    require(actor, access.CHANGE, vote)
    row = _locked(vote)
    if row.status != VoteStatus.DRAFT:
        raise ValidationError(_("只有草稿状态的表决可以开始"))
    now = now or timezone.now()
    if now >= row.closes_at:
        raise ValidationError({"closes_at": _("截止时间已过，请先修改截止时间")})
    voters = electorate_rows(row, timezone.localdate(now))
    if not voters:
        raise ValidationError({"electorate": _("表决范围内没有有表决权的人员，无法开始")})
    Voter.objects.bulk_create(voters, batch_size=2000)
    row.status = VoteStatus.OPEN
    row.opened_at = now
    row.save(update_fields=["status", "opened_at"])
    if row.problem is not None and row.problem.status == ProblemStatus.OPEN:
        problem_move(row.problem, ProblemStatus.DELIBERATING, _("表决中：%(title)s") % {"title": row.title})
    elif row.problem is not None:
        notify_problem_followers(
            row.problem, title=_("“%(title)s”开始表决") % {"title": row.title}, key=f"vote:{row.pk}:open"
        )
    return row


def _accepting(vote: Vote, now: datetime) -> None:
    if vote.status != VoteStatus.OPEN:
        raise ValidationError({"vote": _("表决未在进行中")})
    if now < vote.opens_at:
        raise ValidationError({"vote": _("表决尚未开始")})
    if now >= vote.closes_at:
        raise ValidationError({"vote": _("表决已截止")})


# --- Casting -----------------------------------------------------------------------------------------------


def voter_line(vote: Vote, user: Any) -> Voter | None:
    """The roll line the user votes on: their person, or their household for household votes."""
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return None
    if vote.electorate in HOUSEHOLD_KINDS:
        household_id = (
            Person.objects.filter(pk=person_id, verified_at__isnull=False)
            .values_list("household_id", flat=True)
            .first()
        )
        if household_id is None:
            return None
        return read_one(Voter, {"vote_id": vote.pk, "household_id": household_id})
    # One line per person and vote (a unique constraint), read in plain SQL: every ballot asks.
    return read_one(Voter, {"vote_id": vote.pk, "person_id": person_id})


def _insert(vote: Vote, voter: Voter, choice: str, channel: str, actor: Any) -> tuple[Ballot, bool]:
    """Inserts the line's ballot, or reads back the one a parallel request inserted first.

    One statement, ``INSERT … ON CONFLICT (voter_id) DO NOTHING RETURNING id``: the unique roll line
    decides which of two parallel casts inserts (PostgreSQL makes the second wait for the first's
    commit), without a savepoint around every ballot.
    """
    cast_at = timezone.now()
    cast_by_id = getattr(actor, "pk", None)
    fields = {f.attname: f for f in Ballot._meta.concrete_fields}
    values = {
        "vote_id": vote.pk,
        "voter_id": voter.pk,
        "choice": choice,
        "channel": channel,
        "cast_by_id": cast_by_id,
        "cast_at": cast_at,
    }
    columns = ", ".join(connection.ops.quote_name(fields[name].column) for name in values)
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    table = connection.ops.quote_name(Ballot._meta.db_table)
    voter_column = connection.ops.quote_name(fields["voter_id"].column)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(params))}) "  # noqa: S608  # nosec B608
        f"ON CONFLICT ({voter_column}) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return Ballot.objects.get(voter=voter), False
    ballot = Ballot(id=row[0], **values)
    ballot._state.adding = False
    ballot._state.db = connection.alias
    return ballot, True


def _shared(vote: Vote) -> Vote:
    """Reads the vote under a shared row lock (PostgreSQL ``FOR SHARE``), in one statement.

    Casts hold it together without waiting for each other, while ``vote_close`` (``FOR UPDATE``)
    waits for the casts in flight and every later cast waits for the close, then sees it closed:
    no ballot lands after the result was frozen. SQLite serialises writers anyway. Only what a
    cast checks is read (status, window, electorate); the lock and the read are one round trip.
    """
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    table = Vote._meta.db_table
    sql = f"SELECT id, status, opens_at, closes_at, electorate FROM {table} WHERE id = %s{lock}"  # noqa: S608  # nosec B608
    for row in Vote.objects.raw(sql, [vote.pk]):
        return row
    raise Vote.DoesNotExist


def ballot_cast(*, actor: Any, vote: Vote, choice: str, now: datetime | None = None) -> Ballot:
    """A voter's own ballot, online. Casting the same choice again returns the same ballot."""
    return ballot_cast_result(actor=actor, vote=vote, choice=choice, now=now)[0]


@transaction.atomic
def ballot_cast_result(*, actor: Any, vote: Vote, choice: str, now: datetime | None = None) -> tuple[Ballot, bool]:
    """:func:`ballot_cast`, also telling whether this call created the ballot (the API's 201 or 200)."""
    if choice not in Choice.values:
        raise ValidationError({"choice": _("请选择同意、不同意或弃权")})
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("请先登录"))
    vote = _shared(vote)
    _accepting(vote, now or timezone.now())
    voter = voter_line(vote, actor)
    if voter is None:
        raise PermissionDenied(_("您不在本次表决的名册中"))
    ballot, created = _insert(vote, voter, choice, BallotChannel.ONLINE, actor)
    if not created and ballot.choice != choice:
        raise ValidationError(
            {
                "choice": _("已于%(when)s表决（%(choice)s），不能重复表决")
                % {
                    "when": f"{timezone.localtime(ballot.cast_at):%Y-%m-%d %H:%M}",
                    "choice": ballot.get_choice_display(),
                }
            }
        )
    if not created and vote.electorate in HOUSEHOLD_KINDS and ballot.cast_by_id != actor.pk:
        raise ValidationError({"choice": _("本户已由其他成员表决，每户只有一票")})
    return ballot, created


@transaction.atomic
def paper_record(
    *, actor: Any, vote: Vote, rows: Sequence[tuple[int, str]], now: datetime | None = None
) -> list[Ballot]:
    """Staff enter a meeting's sign-in sheet: (roll line id, choice) rows, all or none.

    Every bad row is reported with its line number; a line that already has a ballot (online
    or on an earlier sheet) is one of them, so nobody counts twice across the two channels.
    """
    require(actor, access.CHANGE, vote)
    row = _locked(vote)
    _accepting(row, now or timezone.now())
    ids = [voter_id for voter_id, _choice in rows]
    lines = {v.pk: v for v in Voter.objects.filter(vote=row, pk__in=ids)}
    taken = set(Ballot.objects.filter(voter_id__in=ids).values_list("voter_id", flat=True))
    errors: list[str] = []
    seen: set[int] = set()
    for n, (voter_id, choice) in enumerate(rows, start=1):
        if voter_id not in lines:
            errors.append(_("第%(n)d行：不在本次表决的名册中") % {"n": n})
        elif voter_id in seen:
            errors.append(_("第%(n)d行：同一人（户）重复录入") % {"n": n})
        elif voter_id in taken:
            errors.append(_("第%(n)d行：已经表决过（线上或此前录入）") % {"n": n})
        if choice not in Choice.values:
            errors.append(_("第%(n)d行：表决意见须为同意、不同意或弃权") % {"n": n})
        seen.add(voter_id)
    if not rows:
        errors.append(_("没有可录入的表决记录"))
    if errors:
        raise ValidationError({"rows": errors})
    ballots = []
    for voter_id, choice in rows:
        ballot, created = _insert(row, lines[voter_id], choice, BallotChannel.PAPER, actor)
        if not created:
            # An online ballot landed between the check and this insert: refuse the whole sheet.
            raise ValidationError({"rows": [_("名册中有人刚刚在线上表决，请刷新后重新录入")]})
        ballots.append(ballot)
    return ballots


@transaction.atomic
def vote_close(*, actor: Any, vote: Vote, now: datetime | None = None) -> Vote:
    """Closes an open vote and freezes its result (counts, thresholds, valid, carried)."""
    require(actor, access.CHANGE, vote)
    row = _locked(vote)
    if row.status != VoteStatus.OPEN:
        raise ValidationError(_("只有进行中的表决可以结束"))
    row.result = evaluate(row)
    row.status = VoteStatus.CLOSED
    row.closed_at = now or timezone.now()
    row.save(update_fields=["result", "status", "closed_at"])
    if row.problem is not None:
        _problem_after_vote(row)
    return row


def result_phrase(vote: Vote) -> str:
    """表决通过 / 未通过 / 无效 in words, from the frozen result."""
    result = vote.result or {}
    if not result.get("valid"):
        return _("表决无效（参加人数未达要求）")
    return _("表决通过") if result.get("carried") else _("表决未通过")


def _problem_after_vote(vote: Vote) -> None:
    """A carried vote decides its problem-list line; any result is told to the line's followers."""
    problem = vote.problem
    assert problem is not None
    reason = f"{vote.title}：{result_phrase(vote)}"
    carried = bool((vote.result or {}).get("carried"))
    moved = False
    if carried and problem.status in (ProblemStatus.OPEN, ProblemStatus.DELIBERATING):
        moved = problem_move(problem, ProblemStatus.DECIDED, reason)
    if not moved:
        notify_problem_followers(problem, title=reason, key=f"vote:{vote.pk}:closed")


def votes_due_to_close(now: datetime | None = None) -> QuerySet[Vote]:
    """Open votes past their closing time (the job closes them)."""
    return Vote.objects.filter(status=VoteStatus.OPEN, closes_at__lte=now or timezone.now())
