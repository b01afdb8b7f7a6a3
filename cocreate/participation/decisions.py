"""四议两公开: decision records that walk six steps strictly in order (services and selectors).

党支部提议 → 两委商议 → 党员大会审议 → 村民（代表）会议决议 → 决议公开 → 实施结果公开.
``step_record`` takes the next step only: a step cannot be skipped or taken twice (the unique
constraints on (decision, kind) and (decision, order) back this up when two requests race),
and dates never go backwards. The two vote steps name a CLOSED vote of the decision's village
under a rule that fits the body (党员大会 for the review; 村民会议 or 村民代表会议 for the
resolution); a vote that did not carry stops the record as 未通过. The two disclosure steps
publish a notice (决议公开 with the resolution text, 实施结果公开 with the result text) through
``notices``; the sixth step completes the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, subtree_q
from cocreate.core.services import require
from cocreate.participation import notices
from cocreate.participation.models import (
    STEP_ORDER,
    Decision,
    DecisionStatus,
    DecisionStep,
    ProblemItem,
    StepKind,
    Vote,
    VoteStatus,
)

# Which vote rules each vote step accepts.
STEP_RULES: dict[str, frozenset[str]] = {
    StepKind.REVIEW: frozenset({"party_members_meeting"}),
    StepKind.RESOLUTION: frozenset({"villagers_meeting", "villagers_meeting_households", "representatives_meeting"}),
}
VOTE_STEPS = frozenset(STEP_RULES)
NOTICE_STEPS = frozenset({StepKind.DISCLOSURE, StepKind.RESULT_DISCLOSURE})
NOTES_MAX = 10000


def step_label(kind: str) -> str:
    return str(StepKind(kind).label)


def next_kind(decision: Decision, done: int | None = None) -> str | None:
    """The kind of step the record takes next, or None when it is over (completed or rejected)."""
    if decision.status != DecisionStatus.IN_PROGRESS:
        return None
    if done is None:
        done = decision.steps.count()
    return STEP_ORDER[done] if done < len(STEP_ORDER) else None


@transaction.atomic
def decision_create(
    *, actor: Any, region: Region, title: str, matter: str = "", problem: ProblemItem | None = None
) -> Decision:
    """Opens a 四议两公开 record for a village (or community) the actor manages."""
    decision = Decision(
        region=region,
        title=title.strip(),
        matter=matter.strip(),
        problem=problem,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, decision)
    errors: dict[str, str] = {}
    if region.level != RegionLevel.VILLAGE:
        errors["region"] = _("四议两公开记录须属于一个村（社区）")
    if not decision.title:
        errors["title"] = _("请填写决策事项")
    elif len(decision.title) > 200:
        errors["title"] = _("决策事项不能超过200字")
    if problem is not None and problem.region_id != region.pk:
        errors["problem"] = _("所选问题不属于该村（社区）")
    if errors:
        raise ValidationError(errors)
    decision.save()
    return decision


def _check_order(decision: Decision, kind: str, done: list[DecisionStep]) -> None:
    if decision.status == DecisionStatus.REJECTED:
        raise ValidationError({"kind": _("该事项表决未通过，记录已终止")})
    if decision.status == DecisionStatus.COMPLETED:
        raise ValidationError({"kind": _("该事项四议两公开已全部完成")})
    if kind not in STEP_ORDER:
        raise ValidationError({"kind": _("请选择步骤")})
    if any(step.kind == kind for step in done):
        raise ValidationError({"kind": _("“%(step)s”已记录，不能重复") % {"step": step_label(kind)}})
    expected = STEP_ORDER[len(done)]
    if kind != expected:
        raise ValidationError(
            {"kind": _("须按顺序进行：下一步应为“%(expected)s”，不能跳过") % {"expected": step_label(expected)}}
        )


def _check_date(done_on: date, done: list[DecisionStep], today: date) -> None:
    if done_on > today:
        raise ValidationError({"done_on": _("日期不能晚于今天")})
    if done and done_on < done[-1].done_on:
        raise ValidationError(
            {
                "done_on": _("日期不能早于上一步骤“%(step)s”的日期（%(day)s）")
                % {"step": done[-1].get_kind_display(), "day": f"{done[-1].done_on:%Y-%m-%d}"}
            }
        )


def _check_vote(decision: Decision, kind: str, vote: Vote | None) -> None:
    if kind not in VOTE_STEPS:
        if vote is not None:
            raise ValidationError({"vote": _("此步骤不关联表决")})
        return
    if vote is None:
        raise ValidationError({"vote": _("请选择该步骤的表决")})
    if not vote.region.path.startswith(decision.region.path):
        raise ValidationError({"vote": _("所选表决不属于本村（社区）")})
    if vote.status != VoteStatus.CLOSED:
        raise ValidationError({"vote": _("所选表决尚未结束，须在表决结束后记录")})
    if vote.rule.code not in STEP_RULES[kind]:
        expected = _("党员大会") if kind == StepKind.REVIEW else _("村民会议或村民代表会议")
        message = _("所选表决的规则（%(rule)s）不适用于此步骤，应为%(expected)s")
        raise ValidationError({"vote": message % {"rule": vote.rule.name, "expected": expected}})
    if DecisionStep.objects.filter(vote=vote).exclude(decision=decision).exists():
        raise ValidationError({"vote": _("所选表决已用于其他四议两公开记录")})


def _check_attendance(attendance: Any) -> None:
    if attendance is not None and (not isinstance(attendance, int) or isinstance(attendance, bool) or attendance < 0):
        raise ValidationError({"attendance": _("参加人数须为不小于0的整数")})


def _disclose(*, actor: Any, decision: Decision, kind: str, text: str, done_on: date, days: int, today: date) -> Any:
    """The public notice a disclosure step publishes (through notices, like any notice)."""
    title = _("%(title)s · %(step)s") % {"title": decision.title, "step": step_label(kind)}
    try:
        notice = notices.notice_create(
            actor=actor, region=decision.region, title=title[:200], body=text, starts_on=done_on, days=days
        )
        return notices.notice_publish(actor=actor, notice=notice, today=today)
    except ValidationError as exc:
        # The notice's period is this step's date: report its faults on the step's fields.
        if hasattr(exc, "error_dict"):
            renamed = {"starts_on": "done_on", "body": "notes", "title": "notes"}
            raise ValidationError({renamed.get(name, name): errors for name, errors in exc.error_dict.items()}) from exc
        raise


@transaction.atomic
def step_record(
    *,
    actor: Any,
    decision: Decision,
    kind: str,
    done_on: date,
    attendance: int | None = None,
    notes: str = "",
    vote: Vote | None = None,
    notice_days: int = notices.DEFAULT_DAYS,
    today: date | None = None,
) -> DecisionStep:
    """Records the next step of a decision; anything out of order, undated or unfit changes nothing.

    For the disclosure steps ``notes`` is the text made public (the resolution, the result).
    """
    require(actor, access.CHANGE, decision)
    row = Decision.objects.select_for_update(of=("self",)).select_related("region").get(pk=decision.pk)
    done = list(DecisionStep.objects.filter(decision=row).order_by("order"))
    _check_order(row, kind, done)
    today = today or timezone.localdate()
    _check_date(done_on, done, today)
    _check_attendance(attendance)
    if vote is not None:
        vote = Vote.objects.select_related("rule", "region").get(pk=vote.pk)
    _check_vote(row, kind, vote)
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        raise ValidationError({"notes": _("情况记录不能超过%(max)d字") % {"max": NOTES_MAX}})
    if kind in NOTICE_STEPS and not notes:
        message = _("请填写决议内容（将公示）") if kind == StepKind.DISCLOSURE else _("请填写实施结果（将公示）")
        raise ValidationError({"notes": message})
    if kind in NOTICE_STEPS and notices.period_end(done_on, notice_days) < today:
        raise ValidationError(
            {
                "done_on": _("按此日期，%(days)d天的公示期已于%(end)s结束；公开步骤的日期即公示开始日期")
                % {"days": notice_days, "end": f"{notices.period_end(done_on, notice_days):%Y-%m-%d}"}
            }
        )
    if attendance is None and vote is not None:
        attendance = int(vote.result.get("participants", 0))
    step = DecisionStep(
        decision=row,
        kind=kind,
        order=len(done) + 1,
        done_on=done_on,
        attendance=attendance,
        notes=notes,
        vote=vote,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    if kind in NOTICE_STEPS:
        step.notice = _disclose(
            actor=actor, decision=row, kind=kind, text=notes, done_on=done_on, days=notice_days, today=today
        )
    try:
        with transaction.atomic():
            step.save()
    except IntegrityError as exc:
        # A parallel request recorded this step first.
        raise ValidationError({"kind": _("该步骤刚刚已被记录，请刷新后查看")}) from exc
    status = row.status
    if vote is not None and not vote.result.get("carried"):
        status = DecisionStatus.REJECTED
    elif kind == STEP_ORDER[-1]:
        status = DecisionStatus.COMPLETED
    if status != row.status:
        row.status = status
        row.save(update_fields=["status"])
    decision.status = row.status
    return step


# --- Reads ---------------------------------------------------------------------------------------------


def decision_list(*, user: Any, status: str = "", search: str = "", region: Region | None = None) -> QuerySet[Decision]:
    qs = Decision.objects.visible_to(user).select_related("region")
    if status:
        qs = qs.filter(status=status)
    if region is not None:
        qs = qs.filter(subtree_q(region.path, "region__path"))
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(matter__icontains=search))
    return qs.order_by("-created_at", "-id")


def decision_detail(*, user: Any, pk: Any) -> Decision:
    steps = DecisionStep.objects.select_related("vote__rule", "notice", "recorded_by").order_by("order")
    qs = Decision.objects.select_related("region", "problem").prefetch_related(Prefetch("steps", queryset=steps))
    return access.get_visible_or_404(qs, user, pk=pk)


@dataclass(frozen=True)
class TimelineEntry:
    """One of the six steps as the decision page shows it."""

    order: int
    kind: str
    label: str
    step: DecisionStep | None
    is_next: bool


def timeline(decision: Decision) -> list[TimelineEntry]:
    """The six steps in order: taken (with their record), the next one, and those to come."""
    taken = {step.kind: step for step in decision.steps.all()}
    upcoming = next_kind(decision, len(taken))
    return [
        TimelineEntry(order=i, kind=kind, label=step_label(kind), step=taken.get(kind), is_next=kind == upcoming)
        for i, kind in enumerate(STEP_ORDER, start=1)
    ]


def eligible_votes(*, user: Any, decision: Decision, kind: str) -> QuerySet[Vote]:
    """Closed votes of the decision's village under a rule that fits the step, not used elsewhere."""
    rules = STEP_RULES.get(kind)
    if not rules:
        return Vote.objects.none()
    return (
        Vote.objects.visible_to(user)
        .filter(
            subtree_q(decision.region.path, "region__path"),
            status=VoteStatus.CLOSED,
            rule__code__in=rules,
        )
        .exclude(decision_steps__isnull=False)
        .select_related("rule")
        .order_by("-closed_at", "-id")
    )
