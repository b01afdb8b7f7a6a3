"""Public notices (公示) and objections (异议): services and selectors.

A notice runs from ``starts_on`` for a number of days (``ends_on`` = start + days − 1, both
days included). Publishing tells the community's residents once (the dedupe key names the
notice). Residents of the community object only while it runs, staff answer each objection
(not upheld, or upheld, always with the answer text), and the daily job ends notices whose
period is over, recording ``passed`` = no objection stands open or upheld. An ended notice takes
no objection and is not edited; an objection answered after the end updates ``passed``, so a
late answer to a last-day objection is not lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.concurrency import EditVersion
from cocreate.core.models import Region, User, subtree_q
from cocreate.core.notify import notify
from cocreate.core.services import require
from cocreate.participation.models import Notice, NoticeStatus, Objection, ObjectionStatus

DEFAULT_DAYS = 7
MAX_DAYS = 90
TEXT_MAX = 5000
NOTICE_UPDATABLE_FIELDS = frozenset({"title", "body", "starts_on", "days"})
# What the edit form may overwrite (core/concurrency.py); the days show in ends_on.
NOTICE_VERSION = EditVersion(fields=("title", "body", "starts_on", "ends_on"))


# --- Periods -------------------------------------------------------------------------------------------


def period_end(starts_on: date, days: int) -> date:
    """The last day of a period of ``days`` days that begins on ``starts_on`` (both included)."""
    return starts_on + timedelta(days=days - 1)


def period_days(notice: Notice) -> int:
    return (notice.ends_on - notice.starts_on).days + 1


def is_running(notice: Notice, today: date | None = None) -> bool:
    """Published and today inside the period: objections are taken."""
    today = today or timezone.localdate()
    return notice.status == NoticeStatus.PUBLISHED and notice.starts_on <= today <= notice.ends_on


def has_standing_objection(notice: Notice) -> bool:
    """An objection still unanswered, or upheld: the notice has not passed."""
    return Objection.objects.filter(notice=notice, status__in=(ObjectionStatus.OPEN, ObjectionStatus.UPHELD)).exists()


def notice_url(notice: Notice) -> str:
    return reverse("participation:notice_detail", args=[notice.pk])


def _check_text(title: str, body: str) -> None:
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("请填写公示标题")
    elif len(title) > 200:
        errors["title"] = _("公示标题不能超过200字")
    if not body:
        errors["body"] = _("请填写公示内容")
    if errors:
        raise ValidationError(errors)


def _check_days(days: Any) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": _("公示天数须为1至%(max)d天") % {"max": MAX_DAYS}})
    return days


# --- Writes ----------------------------------------------------------------------------------------------


@transaction.atomic
def notice_create(
    *,
    actor: Any,
    region: Region,
    title: str,
    body: str,
    starts_on: date,
    days: int = DEFAULT_DAYS,
) -> Notice:
    """Drafts a notice in a community the actor manages; the period is ``days`` days from ``starts_on``."""
    days = _check_days(days)
    notice = Notice(
        region=region,
        title=title.strip(),
        body=body.strip(),
        starts_on=starts_on,
        ends_on=period_end(starts_on, days),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, notice)
    _check_text(notice.title, notice.body)
    notice.save()
    return notice


def _locked(notice: Notice) -> Notice:
    return Notice.objects.select_for_update(of=("self",)).select_related("region").get(pk=notice.pk)


def _not_ended(notice: Notice) -> None:
    if notice.status == NoticeStatus.ENDED:
        raise ValidationError(_("公示期已满，公示已结束，不能再修改"))


@transaction.atomic
def notice_update(
    *, actor: Any, notice: Notice, data: Mapping[str, Any], expected_version: str | None = None
) -> Notice:
    """Edits a notice's title, text or period; an ended notice stays as it was.

    With ``expected_version`` (``NOTICE_VERSION.of`` the notice as the editor saw it) a notice
    changed meanwhile is refused with ``StaleEdit`` instead of silently overwritten.
    """
    require(actor, access.CHANGE, notice)
    unknown = set(data) - NOTICE_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("不能修改此字段") for name in sorted(unknown)})
    row = _locked(notice)
    NOTICE_VERSION.check(row, expected_version)
    _not_ended(row)
    if "title" in data:
        row.title = str(data["title"]).strip()
    if "body" in data:
        row.body = str(data["body"]).strip()
    days = _check_days(data["days"]) if "days" in data else period_days(row)
    if "starts_on" in data:
        if row.status == NoticeStatus.PUBLISHED and data["starts_on"] != row.starts_on:
            raise ValidationError({"starts_on": _("公示已发布，开始日期不能再改")})
        row.starts_on = data["starts_on"]
    new_end = period_end(row.starts_on, days)
    if row.status == NoticeStatus.PUBLISHED and new_end < row.ends_on:
        raise ValidationError({"days": _("公示已发布，公示期只能延长，不能缩短")})
    row.ends_on = new_end
    _check_text(row.title, row.body)
    row.save()
    return row


def community_residents(region: Region) -> QuerySet[User]:
    """Active accounts of the people who live in the region or below it."""
    return User.objects.filter(subtree_q(region.path, "person__region__path"), is_active=True)


@transaction.atomic
def notice_publish(*, actor: Any, notice: Notice, today: date | None = None) -> Notice:
    """Publishes a draft; the community's residents are told once (in-app)."""
    require(actor, access.CHANGE, notice)
    row = _locked(notice)
    if row.status != NoticeStatus.DRAFT:
        raise ValidationError(_("只有草稿状态的公示可以发布"))
    today = today or timezone.localdate()
    if row.ends_on < today:
        raise ValidationError(
            {"starts_on": _("公示期（至%(end)s）已过，请修改开始日期后再发布") % {"end": f"{row.ends_on:%Y-%m-%d}"}}
        )
    row.status = NoticeStatus.PUBLISHED
    row.published_at = timezone.now()
    row.save(update_fields=["status", "published_at"])
    notify(
        users=community_residents(row.region).order_by("pk"),
        title=_("新公示：%(title)s") % {"title": row.title},
        body=_("公示期%(start)s至%(end)s，如有异议请在公示期内提出。")
        % {"start": f"{row.starts_on:%Y-%m-%d}", "end": f"{row.ends_on:%Y-%m-%d}"},
        url=notice_url(row),
        dedupe_key=f"participation:notice:{row.pk}:published",
    )
    return row


def lives_in(actor: Any, region: Region) -> bool:
    """Whether the actor's own person lives in ``region`` or below it (is of that community)."""
    home = access.scope_of(actor).home_region_path
    return bool(home and home.startswith(region.path))


@transaction.atomic
def objection_lodge(*, actor: Any, notice: Notice, text: str, today: date | None = None) -> Objection:
    """A resident of the community objects while the notice runs; nothing is stored otherwise."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("请先登录"))
    person_id = getattr(actor, "person_id", None)
    if person_id is None or not lives_in(actor, notice.region):
        raise PermissionDenied(_("只有本社区居民可以对公示提出异议"))
    # The row lock orders this against the job that ends the notice.
    row = _locked(notice)
    today = today or timezone.localdate()
    if row.status == NoticeStatus.DRAFT:
        raise ValidationError({"notice": _("公示尚未发布")})
    if row.status == NoticeStatus.ENDED or today > row.ends_on:
        raise ValidationError(
            {"notice": _("公示期已于%(end)s结束，不能再提出异议") % {"end": f"{row.ends_on:%Y-%m-%d}"}}
        )
    if today < row.starts_on:
        raise ValidationError(
            {"notice": _("公示自%(start)s开始，届时才能提出异议") % {"start": f"{row.starts_on:%Y-%m-%d}"}}
        )
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("请填写异议内容")})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": _("异议内容不能超过%(max)d字") % {"max": TEXT_MAX}})
    objection = Objection.objects.create(notice=row, person_id=person_id, text=text)
    staff = [row.created_by] if row.created_by_id else []
    notify(
        users=staff,
        title=_("公示收到异议：%(title)s") % {"title": row.title},
        body=text[:100],
        url=notice_url(row),
        dedupe_key=f"participation:objection:{objection.pk}:lodged",
    )
    return objection


@transaction.atomic
def objection_answer(*, actor: Any, objection: Objection, upheld: bool, answer: str) -> Objection:
    """Staff answer an open objection: upheld or not, always with the reasons; the objector is told."""
    notice = Notice.objects.select_related("region").get(pk=objection.notice_id)
    require(actor, access.CHANGE, notice)
    row = Objection.objects.select_for_update().get(pk=objection.pk)
    if row.status != ObjectionStatus.OPEN:
        raise ValidationError(_("该异议已答复"))
    answer = answer.strip()
    if not answer:
        raise ValidationError({"answer": _("请填写答复内容")})
    if len(answer) > TEXT_MAX:
        raise ValidationError({"answer": _("答复内容不能超过%(max)d字") % {"max": TEXT_MAX}})
    row.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.ANSWERED
    row.answer = answer
    row.answered_by = actor if getattr(actor, "pk", None) else None
    row.answered_at = timezone.now()
    row.save(update_fields=["status", "answer", "answered_by", "answered_at"])
    locked = _locked(notice)
    if locked.status == NoticeStatus.ENDED:
        # A late answer to an objection lodged near the end still decides whether the notice passed.
        locked.passed = not has_standing_objection(locked)
        locked.save(update_fields=["passed"])
    notify(
        users=User.objects.filter(person_id=row.person_id, is_active=True),
        title=_("您对“%(title)s”的异议已答复") % {"title": notice.title},
        body=answer[:100],
        url=reverse("participation:objection_mine"),
        dedupe_key=f"participation:objection:{row.pk}:answered",
    )
    return row


def notice_end(*, notice: Notice, today: date | None = None) -> bool:
    """Ends one published notice whose period is over; False when there was nothing to do."""
    today = today or timezone.localdate()
    with transaction.atomic():
        row = _locked(notice)
        if row.status != NoticeStatus.PUBLISHED or row.ends_on >= today:
            return False
        row.status = NoticeStatus.ENDED
        row.passed = not has_standing_objection(row)
        row.save(update_fields=["status", "passed"])
    return True


def notices_due_to_end(today: date | None = None) -> QuerySet[Notice]:
    """Published notices whose last day is before ``today``."""
    return Notice.objects.filter(status=NoticeStatus.PUBLISHED, ends_on__lt=today or timezone.localdate())


def notices_end_due(*, today: date | None = None) -> int:
    """Ends every notice whose period is over; returns how many ended (0 when run again)."""
    today = today or timezone.localdate()
    ended = 0
    for notice in notices_due_to_end(today).order_by("pk").only("pk"):
        ended += notice_end(notice=notice, today=today)
    return ended


# --- Reads -----------------------------------------------------------------------------------------------


def notice_list(*, user: Any, status: str = "", search: str = "", region: Region | None = None) -> QuerySet[Notice]:
    """The notices the user may see, newest period first."""
    qs = Notice.objects.visible_to(user).select_related("region")
    if status:
        qs = qs.filter(status=status)
    if region is not None:
        qs = qs.filter(subtree_q(region.path, "region__path"))
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(body__icontains=search))
    return qs.order_by("-starts_on", "-id")


def notice_detail(*, user: Any, pk: Any) -> Notice:
    return access.get_visible_or_404(Notice.objects.select_related("region", "created_by"), user, pk=pk)


def objections_for(*, user: Any, notice: Notice) -> QuerySet[Objection]:
    """A notice's objections the user may see: all of them for staff, one's own for a resident."""
    return (
        Objection.objects.visible_to(user)
        .filter(notice=notice)
        .select_related("person", "answered_by")
        .order_by("created_at", "id")
    )


def objection_detail(*, user: Any, notice: Notice, pk: Any) -> Objection:
    return access.get_visible_or_404(Objection.objects.filter(notice=notice), user, pk=pk)


def my_objections(*, user: Any) -> QuerySet[Objection]:
    """The objections the user lodged themselves, with their answers."""
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return Objection.objects.none()
    return Objection.objects.filter(person_id=person_id).select_related("notice__region").order_by("-created_at", "-id")


def may_object(user: Any, notice: Notice, today: date | None = None) -> bool:
    """Whether the objection form is offered to the user."""
    return (
        getattr(user, "is_authenticated", False)
        and getattr(user, "person_id", None) is not None
        and is_running(notice, today)
        and lives_in(user, notice.region)
    )
