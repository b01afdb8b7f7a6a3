"""Supervision (督查督办): checks, their findings, and rectification requests tracked to closure.

Writes (``check_create``, ``finding_add``, ``rectification_raise`` / ``_respond`` / ``_close`` /
``_reopen``) are keyword-only, take an explicit actor, run in one transaction and raise
``PermissionDenied`` or ``ValidationError``; reads (``check_list``, ``rectification_list`` …) start
from ``visible_to(user)``. Whether a rectification is overdue is computed for the day asked
about (open past its deadline), never stored, so it can never go stale.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BooleanField, Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access, evidence
from cocreate.core.models import Attachment, Membership, Region, Unit, User
from cocreate.core.notify import INAPP, notify
from cocreate.core.services import require, save_or_conflict
from cocreate.plans.models import (
    CheckKind,
    Finding,
    FindingSeverity,
    Plan,
    Rectification,
    RectificationStatus,
    SupervisionCheck,
    Task,
)
from cocreate.plans.rules import REPORTERS, SUPERVISORS

LETTER_PREFIX = "督办"
_LETTER_NUMBER = re.compile(r"〔(\d{4})〕(\d+)号$")


# --- Helpers ------------------------------------------------------------------------------------


def _today(today: date | None = None) -> date:
    return today or timezone.localdate()


def _url(name: str, pk: int) -> str:
    """A page's address, or "" while the pages are not installed."""
    try:
        return reverse(f"plans:{name}", kwargs={"pk": pk})
    except NoReverseMatch:
        return ""


def rectification_url(rectification: Rectification) -> str:
    return _url("rectification_detail", rectification.pk)


def unit_members(unit: Unit) -> list[User]:
    """Active accounts working in ``unit`` (memberships through the unit)."""
    return [
        m.user
        for m in Membership.objects.filter(unit=unit, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
    ]


def _is_member(actor: Any, unit_id: int) -> bool:
    return Membership.objects.filter(user_id=actor.pk, unit_id=unit_id, is_active=True).exists()


def _inside(region: Region, outer: Region) -> bool:
    return region.path.startswith(outer.path)


def overdue_q(today: date) -> Q:
    """Rectifications still open after their deadline (整改逾期)."""
    return Q(status=RectificationStatus.OPEN, deadline__lt=today)


def is_overdue(rectification: Rectification, today: date | None = None) -> bool:
    return rectification.status == RectificationStatus.OPEN and rectification.deadline < _today(today)


# --- Checks and findings ------------------------------------------------------------------------


@transaction.atomic
def check_create(
    *,
    actor: Any,
    kind: str,
    title: str,
    region: Region,
    checked_on: date,
    plan: Plan | None = None,
    summary: str = "",
) -> SupervisionCheck:
    """Records a check run by the actor (the inspector) over a region they supervise."""
    check = SupervisionCheck(
        kind=kind,
        title=title.strip(),
        region=region,
        plan=plan,
        checked_on=checked_on,
        summary=summary.strip(),
        inspector=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, check)
    if kind not in CheckKind.values:
        raise ValidationError({"kind": _("未知的检查类型")})
    if not check.title:
        raise ValidationError({"title": _("检查名称不能为空")})
    if checked_on > _today():
        raise ValidationError({"checked_on": _("检查日期不能晚于今天")})
    if plan is not None:
        if not access.can(actor, access.VIEW, plan):
            raise ValidationError({"plan": _("所选工作方案不存在或不在您的管理范围内")})
        # A county check may cover a town's plan and a town check a county plan's local part.
        if not (_inside(plan.region, region) or _inside(region, plan.region)):
            raise ValidationError({"plan": _("工作方案的实施区域与检查范围不重叠")})
    check.full_clean(exclude=["inspector"])
    save_or_conflict(check)
    return check


@transaction.atomic
def finding_add(
    *,
    actor: Any,
    check: SupervisionCheck,
    unit: Unit,
    description: str,
    severity: str = FindingSeverity.ISSUE,
    task: Task | None = None,
) -> Finding:
    """Adds what the check found at a unit (and task) inside the check's region."""
    require(actor, access.CHANGE, check)
    if not Unit.objects.visible_to(actor).filter(pk=unit.pk).exists() or not _inside(unit.region, check.region):
        raise ValidationError({"unit": _("被检查单位须在检查范围之内")})
    if task is not None:
        if not Task.objects.visible_to(actor).filter(pk=task.pk).exists() or not _inside(task.region, check.region):
            raise ValidationError({"task": _("任务须在检查范围之内")})
        if check.plan_id is not None and task.plan_id != check.plan_id:
            raise ValidationError({"task": _("任务不属于本次检查的工作方案")})
    if severity not in FindingSeverity.values:
        raise ValidationError({"severity": _("未知的问题性质")})
    finding = Finding(
        check_record=check,
        task=task,
        unit=unit,
        # The unit's region: the village the finding is about sees it (and the check) from here.
        region=unit.region,
        severity=severity,
        description=description.strip(),
    )
    if not finding.description:
        raise ValidationError({"description": _("请填写发现的问题")})
    require(actor, access.CREATE, finding)
    finding.full_clean()
    finding.save()
    return finding


# --- Rectifications -------------------------------------------------------------------------------


def issuing_region(rectification: Rectification) -> Region:
    """The region whose supervisors issue the letter: the check's."""
    return rectification.finding.check_record.region


def next_letter_number(region: Region, year: int) -> str:
    """The next 督办〔year〕N号 of ``region``: one more than the highest number issued this year."""
    numbers = Rectification.objects.filter(
        finding__check_record__region=region, letter_number__contains=f"〔{year}〕"
    ).values_list("letter_number", flat=True)
    highest = 0
    for number in numbers:
        match = _LETTER_NUMBER.search(number)
        if match and int(match.group(1)) == year:
            highest = max(highest, int(match.group(2)))
    return f"{LETTER_PREFIX}〔{year}〕{highest + 1}号"


@transaction.atomic
def rectification_raise(
    *,
    actor: Any,
    finding: Finding,
    requirement: str,
    deadline: date,
    letter_number: str = "",
) -> Rectification:
    """Raises a rectification request (督办) from a finding; the unit's members are told."""
    check = finding.check_record
    require(actor, access.CHANGE, check)
    rectification = Rectification(
        finding=finding,
        unit=finding.unit,
        region=finding.region,
        requirement=requirement.strip(),
        deadline=deadline,
        letter_number=letter_number.strip(),
    )
    require(actor, access.CREATE, rectification)
    if not rectification.requirement:
        raise ValidationError({"requirement": _("请填写整改要求")})
    if deadline < _today():
        raise ValidationError({"deadline": _("整改时限不能早于今天")})
    # Numbers are handed out per issuing region: lock its row so two raises never share one.
    region = Region.objects.select_for_update().get(pk=check.region_id)
    if Rectification.objects.filter(finding=finding).exists():
        raise ValidationError(_("该问题已下发整改要求"))
    if not rectification.letter_number:
        rectification.letter_number = next_letter_number(region, _today().year)
    elif Rectification.objects.filter(
        finding__check_record__region=region, letter_number=rectification.letter_number
    ).exists():
        raise ValidationError({"letter_number": _("该督办函编号已被使用")})
    rectification.full_clean(exclude=["finding"])
    save_or_conflict(rectification)
    notify(
        users=unit_members(rectification.unit),
        title=_("督办整改：%(unit)s") % {"unit": rectification.unit.name},
        body=_("%(number)s · 整改时限%(deadline)s · %(requirement)s")
        % {
            "number": rectification.letter_number,
            "deadline": f"{deadline:%Y-%m-%d}",
            "requirement": rectification.requirement[:100],
        },
        url=rectification_url(rectification),
        channels=(INAPP,),
        dedupe_key=f"plans:rectification:{rectification.pk}:raised",
    )
    return rectification


def can_respond(actor: Any, rectification: Rectification) -> bool:
    """Members of the rectifying unit, or reporters over its region, may report the rectification."""
    scope = access.scope_of(actor)
    if not scope.is_authenticated:
        return False
    if scope.is_superuser or scope.has_role_over(REPORTERS, rectification.region.path):
        return True
    return _is_member(actor, rectification.unit_id)


def can_supervise(actor: Any, rectification: Rectification) -> bool:
    """Supervisors over the rectification's region may close or reopen it."""
    return access.can(actor, access.CHANGE, rectification)


def _locked(rectification: Rectification) -> Rectification:
    return Rectification.objects.select_for_update().select_related("region", "unit").get(pk=rectification.pk)


def _copy_state(target: Rectification, source: Rectification) -> None:
    for name in ("status", "response", "responded_at", "responded_by", "closed_at", "closed_by", "deadline"):
        setattr(target, name, getattr(source, name))


@transaction.atomic
def rectification_respond(
    *,
    actor: Any,
    rectification: Rectification,
    response: str,
    upload: Any = None,
    evidence_description: str = "",
) -> Rectification:
    """The unit reports what it rectified (with optional evidence); the inspector is told."""
    if not can_respond(actor, rectification):
        raise PermissionDenied(_("无权报送该整改情况"))
    response = response.strip()
    if not response:
        raise ValidationError({"response": _("请填写整改情况")})
    # Lock the row: two members answering at once must not both pass the status check.
    locked = _locked(rectification)
    if locked.status != RectificationStatus.OPEN:
        raise ValidationError(_("该整改已报送或已销号，不能再次报送"))
    locked.status = RectificationStatus.SUBMITTED
    locked.response = response
    locked.responded_at = timezone.now()
    locked.responded_by = actor
    locked.full_clean(exclude=["finding"])
    locked.save()
    if upload is not None:
        try:
            evidence.attachment_add(actor=actor, target=locked, upload=upload, description=evidence_description)
        except ValidationError as exc:
            # Shown next to the file field; the response is rolled back with it.
            raise ValidationError({"evidence": exc.messages}) from exc
    inspector = locked.finding.check_record.inspector
    notify(
        users=[inspector] if inspector is not None and inspector.is_active else [],
        title=_("整改情况已报送：%(unit)s") % {"unit": locked.unit.name},
        body=response[:200],
        url=rectification_url(locked),
        dedupe_key=f"plans:rectification:{locked.pk}:responded:{locked.responded_at:%Y%m%d%H%M%S%f}",
    )
    _copy_state(rectification, locked)
    return locked


@transaction.atomic
def rectification_close(*, actor: Any, rectification: Rectification) -> Rectification:
    """Closes (销号) a rectification whose response the supervisor accepts."""
    if not can_supervise(actor, rectification):
        raise PermissionDenied(_("无权销号"))
    locked = _locked(rectification)
    if locked.status != RectificationStatus.SUBMITTED:
        raise ValidationError(_("只有已报送整改情况的督办事项才能销号"))
    locked.status = RectificationStatus.CLOSED
    locked.closed_at = timezone.now()
    locked.closed_by = actor
    locked.full_clean(exclude=["finding"])
    locked.save()
    notify(
        users=[locked.responded_by] if locked.responded_by is not None else [],
        title=_("督办事项已销号：%(unit)s") % {"unit": locked.unit.name},
        body=locked.letter_number,
        url=rectification_url(locked),
        dedupe_key=f"plans:rectification:{locked.pk}:closed:{locked.closed_at:%Y%m%d%H%M%S%f}",
    )
    _copy_state(rectification, locked)
    return locked


@transaction.atomic
def rectification_reopen(
    *, actor: Any, rectification: Rectification, reason: str, deadline: date | None = None
) -> Rectification:
    """Sends a rectification back to the unit (整改不到位) with a reason, optionally a new deadline."""
    if not can_supervise(actor, rectification):
        raise PermissionDenied(_("无权退回整改"))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("请填写退回原因")})
    if deadline is not None and deadline < _today():
        raise ValidationError({"deadline": _("整改时限不能早于今天")})
    locked = _locked(rectification)
    if locked.status == RectificationStatus.OPEN:
        raise ValidationError(_("该督办事项正在整改中"))
    locked.status = RectificationStatus.OPEN
    locked.closed_at = None
    locked.closed_by = None
    if deadline is not None:
        locked.deadline = deadline
    # The reason is kept with the history row of this change (simple-history's change reason).
    locked._change_reason = reason[:100]  # type: ignore[attr-defined]
    locked.full_clean(exclude=["finding"])
    locked.save()
    notify(
        users=unit_members(locked.unit),
        title=_("整改被退回，请继续整改：%(unit)s") % {"unit": locked.unit.name},
        body=_("退回原因：%(reason)s · 整改时限%(deadline)s")
        % {"reason": reason, "deadline": f"{locked.deadline:%Y-%m-%d}"},
        url=rectification_url(locked),
        dedupe_key=f"plans:rectification:{locked.pk}:reopened:{timezone.now():%Y%m%d%H%M%S%f}",
    )
    _copy_state(rectification, locked)
    return locked


# --- Reads ------------------------------------------------------------------------------------------


def check_list(*, user: Any, search: str = "", kind: str = "", plan: Plan | None = None) -> QuerySet[SupervisionCheck]:
    """Checks the user may see, each with the number of its findings the user may see."""
    visible_findings = (
        Finding.objects.visible_to(user)
        .filter(check_record=OuterRef("pk"))
        .order_by()
        .values("check_record")
        .annotate(n=Count("pk"))
        .values("n")
    )
    checks = (
        SupervisionCheck.objects.visible_to(user)
        .select_related("region", "plan", "inspector")
        .annotate(finding_count=Coalesce(Subquery(visible_findings), Value(0)))
    )
    if search:
        checks = checks.filter(Q(title__icontains=search) | Q(summary__icontains=search))
    if kind in CheckKind.values:
        checks = checks.filter(kind=kind)
    if plan is not None:
        checks = checks.filter(plan=plan)
    return checks.order_by("-checked_on", "-id")


def check_detail(*, user: Any, pk: Any) -> SupervisionCheck:
    """One check the user may see (404 otherwise)."""
    return access.get_visible_or_404(
        SupervisionCheck.objects.select_related("region", "plan", "inspector"), user, pk=pk
    )


def check_findings(*, user: Any, check: SupervisionCheck) -> list[Finding]:
    """The check's findings the user may see (a village sees only its own), with rectifications."""
    return list(
        Finding.objects.visible_to(user)
        .filter(check_record=check)
        .select_related("unit", "region", "task", "rectification")
        .order_by("id")
    )


def _with_overdue(rectifications: QuerySet[Rectification], today: date) -> QuerySet[Rectification]:
    return rectifications.annotate(
        is_overdue=Case(When(overdue_q(today), then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def my_rectifications_q(user: Any) -> Q:
    """Rectifications addressed to one of the user's units, or lying where the user reports."""
    scope = access.scope_of(user)
    if scope.user_id is None:
        return access.NOTHING
    unit_ids = Membership.objects.filter(user_id=scope.user_id, is_active=True, unit__isnull=False).values("unit_id")
    return Q(unit_id__in=unit_ids) | access.in_paths(scope.paths_for(REPORTERS), "region__path")


def rectification_list(
    *,
    user: Any,
    status: str = "",
    mine: bool = False,
    overdue: bool = False,
    check: SupervisionCheck | None = None,
    today: date | None = None,
) -> QuerySet[Rectification]:
    """Rectifications the user may see, each annotated ``is_overdue`` for ``today``; open first."""
    day = _today(today)
    rectifications = Rectification.objects.visible_to(user).select_related(
        "unit", "region", "finding__check_record", "finding__task"
    )
    if status in RectificationStatus.values:
        rectifications = rectifications.filter(status=status)
    if mine:
        rectifications = rectifications.filter(my_rectifications_q(user))
    if overdue:
        rectifications = rectifications.filter(overdue_q(day))
    if check is not None:
        rectifications = rectifications.filter(finding__check_record=check)
    open_first = Case(
        When(status=RectificationStatus.OPEN, then=Value(0)),
        When(status=RectificationStatus.SUBMITTED, then=Value(1)),
        default=Value(2),
    )
    return _with_overdue(rectifications, day).order_by(open_first, "deadline", "id")


def rectification_detail(*, user: Any, pk: Any, today: date | None = None) -> Rectification:
    """One rectification the user may see (404 otherwise), annotated ``is_overdue``."""
    qs = Rectification.objects.select_related(
        "unit", "region", "finding__check_record__region", "finding__check_record__inspector", "finding__task"
    )
    return access.get_visible_or_404(_with_overdue(qs, _today(today)), user, pk=pk)


def rectification_evidence(*, user: Any, rectification: Rectification) -> QuerySet[Attachment]:
    """The evidence files of a rectification the user may see."""
    return evidence.attachments_for(actor=user, target=rectification)


def rectification_counts(*, user: Any, today: date | None = None) -> dict[str, int]:
    """Open, submitted, closed and overdue counts of the rectifications the user may see."""
    day = _today(today)
    row = Rectification.objects.visible_to(user).aggregate(
        open=Count("pk", filter=Q(status=RectificationStatus.OPEN)),
        submitted=Count("pk", filter=Q(status=RectificationStatus.SUBMITTED)),
        closed=Count("pk", filter=Q(status=RectificationStatus.CLOSED)),
        overdue=Count("pk", filter=overdue_q(day)),
    )
    return {k: int(v or 0) for k, v in row.items()}


def letter_context(rectification: Rectification) -> dict[str, Any]:
    """What the 督办函 prints: number, addressee, finding, requirement, deadline, issuer, date."""
    check = rectification.finding.check_record
    issuer = check.region
    # The issuing unit: the first government unit of the check's region, else the region's name.
    issuing_unit = (
        Unit.objects.filter(region=issuer, is_active=True, kind="government").order_by("id").first()
        if issuer is not None
        else None
    )
    return {
        "rectification": rectification,
        "finding": rectification.finding,
        "check": check,
        "issuer_region": issuer,
        "issuer_name": issuing_unit.name if issuing_unit else f"{issuer.name}督查办",
        "issued_on": timezone.localtime(rectification.created_at).date() if rectification.created_at else _today(),
    }


def require_supervisor_somewhere(user: Any) -> None:
    """Raises PermissionDenied unless the user supervises some region (create pages)."""
    if not access.manageable_regions(user, SUPERVISORS).exists():
        raise PermissionDenied
