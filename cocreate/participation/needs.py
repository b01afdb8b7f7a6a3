"""Needs (诉求 / 金点子) and the problem list (问题清单): raising, seconding, merging, screening,
declining, and the problem list's status — services (writes) and selectors (reads).

Supporter counts are always a ``COUNT`` over the support rows, never a stored number. One support
per person and need is the database's unique constraint: two parallel seconds insert once and the
loser reads the winner's row back (an idempotent success). A second holds a shared lock on the
need (PostgreSQL ``FOR SHARE``) and a merge an exclusive one on both needs, so no support lands on
a need after it was merged away. Every status change of a need notifies its raiser once (the
dedupe key names the need and the status) and is kept in the need's history, which "我的诉求"
shows with each reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext as _

from cocreate.core import access, evidence, notify
from cocreate.core.models import Attachment, Person, Region, RegionLevel, Role, User
from cocreate.core.services import require
from cocreate.participation.models import (
    Need,
    NeedCategory,
    NeedChannel,
    NeedStatus,
    NeedSupport,
    ProblemItem,
    ProblemStatus,
)
from cocreate.participation.rules import DECISION_MANAGERS

# Who may record a need for a resident of their area on a home visit (channel visit / staff).
RECORDERS = frozenset({Role.GRID_WORKER}) | DECISION_MANAGERS
# Needs nobody can second any more.
CLOSED_FOR_SUPPORT = frozenset({NeedStatus.DECLINED, NeedStatus.MERGED, NeedStatus.DONE})
# Needs that can still be merged, screened or declined.
OPEN_FOR_SCREENING = frozenset({NeedStatus.SUBMITTED})
MAX_PHOTOS = 6


# --- Where a person belongs ------------------------------------------------------------------------


def community_of(region: Region) -> Region | None:
    """The village / community (村/社区) a region lies in: itself, or its village-level ancestor."""
    if region.level == RegionLevel.VILLAGE:
        return region
    if region.level < RegionLevel.VILLAGE:
        return None
    codes = [c for c in region.path.strip("/").split("/") if c]
    return Region.objects.filter(code__in=codes, level=RegionLevel.VILLAGE).order_by("-depth").first()


def _person_of(user: Any) -> Person | None:
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_authenticated", False) or person_id is None:
        return None
    return Person.objects.select_related("region").filter(pk=person_id).first()


def _verified_resident(user: Any) -> Person:
    person = _person_of(user)
    if person is None:
        raise PermissionDenied(_("请先登录并关联居民身份"))
    if person.verified_at is None:
        raise PermissionDenied(_("您的居民身份尚未核实，请联系村（社区）工作人员"))
    return person


def _require_screener(actor: Any, need: Need) -> None:
    """Screening a need is managing its community's problem list (村/镇工作人员, 管理员)."""
    require(actor, access.CHANGE, ProblemItem(region=need.region))


def can_screen(user: Any, need: Need) -> bool:
    return access.can(user, access.CHANGE, ProblemItem(region=need.region))


def can_record_for(user: Any, person: Person) -> bool:
    """Whether ``user`` may record a need on a home visit for ``person`` (their area's resident)."""
    scope = access.scope_of(user)
    return scope.is_superuser or scope.has_role_over(RECORDERS, person.region.path)


def can_record_anywhere(user: Any) -> bool:
    scope = access.scope_of(user)
    return scope.is_superuser or bool(scope.paths_for(RECORDERS))


def raise_refusal(user: Any) -> str:
    """Why the user cannot raise a need for themselves ("" when they can)."""
    try:
        _verified_resident(user)
    except PermissionDenied as exc:
        return str(exc)
    return ""


# --- Notifications -------------------------------------------------------------------------------------


def need_url(need: Need) -> str:
    return reverse("participation:need_detail", args=[need.pk])


def _notify_raiser(need: Need) -> None:
    """Tells the person whose need it is about its new status, once per need and status."""
    users = User.objects.filter(person_id=need.raised_by_id, is_active=True)
    notify.notify(
        users=users,
        title=_("您的诉求“%(title)s”：%(status)s") % {"title": need.title, "status": need.get_status_display()},
        body=need.status_reason,
        url=need_url(need),
        dedupe_key=f"need:{need.pk}:status:{need.status}",
    )


def notify_problem_followers(problem: ProblemItem, *, title: str, body: str = "", key: str) -> None:
    """Tells the raisers and supporters of a problem-list line's needs what happened to it, once per ``key``."""
    raisers = Need.objects.filter(problem=problem).values("raised_by_id")
    supporters = NeedSupport.objects.filter(need__problem=problem).values("person_id")
    users = User.objects.filter(Q(person_id__in=raisers) | Q(person_id__in=supporters), is_active=True)
    notify.notify(
        users=users,
        title=title,
        body=body,
        url=reverse("participation:problemitem_detail", args=[problem.pk]),
        dedupe_key=f"problem:{problem.pk}:{key}",
    )


def problem_move(problem: ProblemItem, status: str, reason: str = "") -> bool:
    """Moves a problem-list line to ``status`` (kept in its history) and tells its followers.

    Called under the caller's transaction by meetings, votes and the task list when their step
    moves the line on; answers whether anything changed.
    """
    row = ProblemItem.objects.select_for_update().get(pk=problem.pk)
    if row.status == status:
        return False
    row.status = status
    row.status_reason = reason[:300]
    row.save(update_fields=["status", "status_reason"])
    problem.status, problem.status_reason = row.status, row.status_reason
    if status not in PROBLEM_STEPS:
        return True  # 已办结 reaches each need's raiser as the need's own status
    notify_problem_followers(
        row,
        title=_("您关注的问题“%(title)s”：%(status)s") % {"title": row.title, "status": row.get_status_display()},
        body=row.status_reason,
        key=f"status:{status}",
    )
    return True


def _set_status(need: Need, status: str, reason: str, **fields: Any) -> None:
    need.status = status
    need.status_reason = reason[:300]
    for name, value in fields.items():
        setattr(need, name, value)
    need.save(update_fields=["status", "status_reason", *fields])
    _notify_raiser(need)


# --- Raising ------------------------------------------------------------------------------------------------


def _image(upload: Any) -> None:
    """Refuses anything but a photo before a byte is stored (the type is read from the content)."""
    limit = int(getattr(settings, "UPLOAD_MAX_BYTES", 20 * 1024 * 1024))
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError({"photos": _("照片太大：每张不超过 %(mb)d MB") % {"mb": limit // (1024 * 1024)}})
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if hasattr(upload, "seek"):
        upload.seek(0)
    try:
        kind = evidence.detect_kind(data)
    except ValidationError as exc:
        raise ValidationError({"photos": exc.messages}) from exc
    if not kind.is_image:
        raise ValidationError({"photos": _("只能上传照片（JPEG、PNG、GIF、WebP、HEIC）")})


def _clean_text(value: str, field: str, label: str, max_length: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError({field: _("请填写%(label)s") % {"label": label}})
    if len(text) > max_length:
        raise ValidationError({field: _("%(label)s不能超过%(n)d个字") % {"label": label, "n": max_length}})
    return text


def _map_point(latitude: Decimal | None, longitude: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """The optional map point: both or neither, finite, in range, rounded to 6 decimals (as stored)."""
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise ValidationError({"latitude": _("经纬度须同时填写")})
    for name, value, limit, label in (("latitude", latitude, 90, _("纬度")), ("longitude", longitude, 180, _("经度"))):
        if not Decimal(value).is_finite() or not -limit <= Decimal(value) <= limit:
            raise ValidationError(
                {name: _("%(label)s须在 -%(limit)d 到 %(limit)d 之间") % {"label": label, "limit": limit}}
            )
    step = Decimal("0.000001")
    return Decimal(latitude).quantize(step, ROUND_HALF_UP), Decimal(longitude).quantize(step, ROUND_HALF_UP)


@transaction.atomic
def need_raise(
    *,
    actor: Any,
    title: str,
    description: str,
    category: str,
    place: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    photos: Sequence[Any] = (),
    person: Person | None = None,
) -> Need:
    """A need raised by a verified resident for themselves, or recorded for ``person`` on a visit.

    The need belongs to the village / community the person lives in. Photos are optional; a file
    that is not a photo is refused before anything is stored.
    """
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("请先登录"))
    if person is None or person.pk == getattr(actor, "person_id", None):
        person = _verified_resident(actor)
        channel = NeedChannel.SELF
        recorded_by = None
    else:
        person = Person.objects.select_related("region").get(pk=person.pk)
        if not can_record_for(actor, person):
            raise PermissionDenied(_("只能为本辖区的居民代录诉求"))
        scope = access.scope_of(actor)
        is_grid_worker = scope.has_role_over({Role.GRID_WORKER}, person.region.path)
        channel = NeedChannel.VISIT if is_grid_worker else NeedChannel.STAFF
        recorded_by = actor
    community = community_of(person.region)
    if community is None:
        raise ValidationError({"person": _("居住地不在任何村（社区）内，无法提出诉求")})
    title = _clean_text(title, "title", _("标题"), 100)
    description = _clean_text(description, "description", _("具体内容"), 5000)
    place = _clean_text(place, "place", _("地点"), 200, required=False)
    if category not in NeedCategory.values:
        raise ValidationError({"category": _("请选择类别")})
    latitude, longitude = _map_point(latitude, longitude)
    photos = [p for p in photos if p]
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("最多上传%(n)d张照片") % {"n": MAX_PHOTOS}})
    for upload in photos:
        _image(upload)
    need = Need.objects.create(
        region=community,
        title=title,
        description=description,
        category=category,
        place=place,
        latitude=latitude,
        longitude=longitude,
        channel=channel,
        raised_by=person,
        recorded_by=recorded_by,
    )
    for upload in photos:
        evidence.attachment_add(actor=actor, target=need, upload=upload, description=_("诉求照片"), place=place)
    return need


@transaction.atomic
def need_record_for_community(*, actor: Any, region: Region, title: str, description: str, category: str) -> Need:
    """A need a community's staff record for the community itself (channel 矛盾纠纷转入), not for one
    resident: the recording staff member's own person is its raiser, so no resident is named.

    Only who may screen the community's needs may do it; the caller lists it (``need_screen``).
    """
    community = community_of(region)
    if community is None:
        raise ValidationError({"region": _("不在任何村（社区）内，无法列入问题清单")})
    require(actor, access.CHANGE, ProblemItem(region=community))
    person = _person_of(actor)
    if person is None:
        raise ValidationError({"actor": ValidationError(_("您的账号未关联人员信息，不能登记诉求"), code="no_person")})
    if category not in NeedCategory.values:
        raise ValidationError({"category": _("请选择类别")})
    return Need.objects.create(
        region=community,
        title=_clean_text(title, "title", _("标题"), 100),
        description=_clean_text(description, "description", _("具体内容"), 5000),
        category=category,
        channel=NeedChannel.CASE,
        raised_by=person,
        recorded_by=actor,
    )


# --- Seconding (附议) ------------------------------------------------------------------------------------------


def _shared(need: Need) -> Need:
    """Reads the need under a shared row lock, so a merge (exclusive) waits for seconds in flight."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM participation_need WHERE id = %s FOR SHARE", [need.pk])
    return Need.objects.select_related("region").get(pk=need.pk)


@transaction.atomic
def need_second(*, actor: Any, need: Need) -> tuple[NeedSupport, bool]:
    """A verified resident of the need's community seconds it, once; a repeat returns the same row.

    Returns the support and whether it was created now.
    """
    person = _verified_resident(actor)
    need = _shared(need)
    if person.pk == need.raised_by_id:
        raise ValidationError({"need": _("不能附议自己提出的诉求")})
    community = community_of(person.region)
    if community is None or community.pk != need.region_id:
        raise PermissionDenied(_("只有本村（社区）的居民可以附议"))
    if need.status in CLOSED_FOR_SUPPORT:
        raise ValidationError({"need": _("该诉求%(status)s，不能再附议") % {"status": need.get_status_display()}})
    try:
        with transaction.atomic():
            return NeedSupport.objects.create(need=need, person=person), True
    except IntegrityError:
        # A parallel request by the same person won the insert: the same outcome.
        return NeedSupport.objects.get(need=need, person=person), False


# --- Staff: merge, screen, decline ---------------------------------------------------------------------


def _locked(*needs: Need) -> list[Need]:
    """The needs' rows locked in id order (no deadlock between two merges in opposite directions)."""
    ids = sorted({n.pk for n in needs})
    rows = {n.pk: n for n in Need.objects.select_for_update(of=("self",)).select_related("region").filter(pk__in=ids)}
    return [rows[n.pk] for n in needs]


@transaction.atomic
def need_merge(*, actor: Any, need: Need, into: Need, note: str = "") -> Need:
    """Merges a duplicate ``need`` into ``into``; ``into`` keeps every supporter of both and the
    duplicate's raiser as a supporter. Returns the merged (duplicate) need."""
    _require_screener(actor, need)
    if into.pk == need.pk:
        raise ValidationError({"into": _("不能合并到诉求自身")})
    need, into = _locked(need, into)
    if into.region_id != need.region_id:
        raise ValidationError({"into": _("只能合并同一村（社区）的诉求")})
    if need.status not in OPEN_FOR_SCREENING:
        raise ValidationError({"need": _("只有待处理的诉求可以合并")})
    if into.status not in (NeedStatus.SUBMITTED, NeedStatus.LISTED):
        raise ValidationError({"into": _("只能合并到待处理或已列入问题清单的诉求")})
    note = _clean_text(note, "note", _("说明"), 200, required=False)
    people = set(NeedSupport.objects.filter(need=need).values_list("person_id", flat=True))
    people.add(need.raised_by_id)
    people.discard(into.raised_by_id)
    NeedSupport.objects.bulk_create(
        [NeedSupport(need=into, person_id=pk) for pk in sorted(people)], ignore_conflicts=True
    )
    # Needs merged into this one earlier now point at the surviving need too (no chains).
    Need.objects.filter(merged_into=need).update(merged_into=into)
    reason = _("已与诉求“%(title)s”（编号%(id)d）合并办理") % {"title": into.title, "id": into.pk}
    if note:
        reason = f"{reason}：{note}"
    _set_status(need, NeedStatus.MERGED, reason, merged_into=into)
    return need


@transaction.atomic
def need_screen(
    *,
    actor: Any,
    needs: Sequence[Need],
    problem: ProblemItem | None = None,
    title: str = "",
    description: str = "",
    category: str = "",
) -> ProblemItem:
    """Puts one or more submitted needs of one community on its problem list: an existing item,
    or a new one (title and category default to the first need's)."""
    if not needs:
        raise ValidationError({"needs": _("请选择诉求")})
    for need in needs:
        _require_screener(actor, need)
    rows = _locked(*needs)
    region_id = rows[0].region_id
    if any(n.region_id != region_id for n in rows):
        raise ValidationError({"needs": _("只能把同一村（社区）的诉求列入同一问题")})
    for n in rows:
        if n.status not in OPEN_FOR_SCREENING:
            raise ValidationError(
                {
                    "needs": _("诉求“%(title)s”%(status)s，不能再列入")
                    % {"title": n.title, "status": n.get_status_display()}
                }
            )
    if problem is not None:
        require(actor, access.CHANGE, problem)
        if problem.region_id != region_id:
            raise ValidationError({"problem": _("所选问题不属于该诉求所在的村（社区）")})
        if problem.status in (ProblemStatus.DONE, ProblemStatus.DROPPED):
            raise ValidationError({"problem": _("所选问题已办结或不予实施，请新建问题")})
    else:
        first = rows[0]
        category = category or first.category
        if category not in NeedCategory.values:
            raise ValidationError({"category": _("请选择类别")})
        problem = ProblemItem(
            region=first.region,
            title=_clean_text(title or first.title, "title", _("问题"), 200),
            description=_clean_text(description, "description", _("说明"), 5000, required=False),
            category=category,
            created_by=actor,
        )
        require(actor, access.CREATE, problem)
        problem.save()
    reason = _("已列入问题清单：%(title)s") % {"title": problem.title}
    for n in rows:
        _set_status(n, NeedStatus.LISTED, reason, problem=problem)
    return problem


@transaction.atomic
def need_decline(*, actor: Any, need: Need, reason: str) -> Need:
    """Declines a submitted need with a reason its raiser sees."""
    _require_screener(actor, need)
    reason = _clean_text(reason, "reason", _("不采纳的理由"), 300)
    (need,) = _locked(need)
    if need.status not in OPEN_FOR_SCREENING:
        raise ValidationError({"need": _("只有待处理的诉求可以不予采纳")})
    _set_status(need, NeedStatus.DECLINED, reason)
    return need


@transaction.atomic
def problem_update_status(*, actor: Any, problem: ProblemItem, status: str, reason: str = "") -> ProblemItem:
    """Moves a problem-list item on; when it is done, its needs are done and their raisers told."""
    require(actor, access.CHANGE, problem)
    if status not in ProblemStatus.values:
        raise ValidationError({"status": _("请选择状态")})
    reason = _clean_text(reason, "reason", _("状态说明"), 300, required=status == ProblemStatus.DROPPED)
    row = ProblemItem.objects.select_for_update().get(pk=problem.pk)
    if row.status in (ProblemStatus.DONE, ProblemStatus.DROPPED):
        raise ValidationError({"status": _("该问题已办结或不予实施，状态不能再改")})
    if row.status == status:
        raise ValidationError({"status": _("状态没有变化")})
    problem_move(row, status, reason)
    if status == ProblemStatus.DONE:
        done_reason = reason or _("问题“%(title)s”已办结") % {"title": row.title}
        for need in Need.objects.select_for_update().filter(problem=row, status=NeedStatus.LISTED).order_by("pk"):
            _set_status(need, NeedStatus.DONE, done_reason)
    return row


# --- Reads -------------------------------------------------------------------------------------------------


def _support_count() -> Coalesce:
    """A need's seconds, counted per row (a correlated count on the (need, person) index).

    Not ``Count("supports")``: that joins every support of every listed need and groups the
    whole list before a page of it is cut (tens of ms at 5 000 needs); PostgreSQL evaluates the
    per-row count only for the rows a ``LIMIT`` keeps when the order does not need it.
    """
    counted = NeedSupport.objects.filter(need=OuterRef("pk")).order_by().values("need").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n"), output_field=IntegerField()), 0)


def with_counts(qs: QuerySet[Need], user: Any) -> QuerySet[Need]:
    """Adds ``support_count`` (computed), ``supported_by_me`` and ``is_mine`` for the caller."""
    person_id = _caller_person_id(user)
    qs = qs.annotate(support_count=_support_count())
    if person_id is None:
        return qs.annotate(supported_by_me=Value(False), is_mine=Value(False))
    return qs.annotate(
        supported_by_me=Exists(NeedSupport.objects.filter(need=OuterRef("pk"), person_id=person_id)),
        is_mine=Case(When(raised_by_id=person_id, then=Value(True)), default=Value(False), output_field=BooleanField()),
    )


def _caller_person_id(user: Any) -> int | None:
    return getattr(user, "person_id", None) if getattr(user, "is_authenticated", False) else None


def need_page(ids: Iterable[int], user: Any) -> list[Need]:
    """One page of needs, in the page's order, with :func:`with_counts`'s figures.

    Index pages paginate the ids of :func:`need_list` with ``counted=False`` and read their
    own rows here: the list is never grouped nor its wide rows sorted, and the per-row counts
    run for the page's rows only, so a page costs about the same whether the community has 50
    needs or 5 000, and the same number of queries for 10 or 100 rows.
    """
    ids = list(ids)
    rows = {need.pk: need for need in with_counts(Need.objects.filter(pk__in=ids).select_related("region"), user)}
    return [rows[pk] for pk in ids if pk in rows]


ORDERS = {"new": ("-created_at", "-id"), "support": ("-support_count", "-created_at", "-id")}


def need_list(
    *,
    user: Any,
    region: Region | None = None,
    status: str = "",
    category: str = "",
    order: str = "new",
    search: str = "",
    include_merged: bool = True,
    counted: bool = True,
) -> QuerySet[Need]:
    """The needs the user may see (their community's, their own, those they recorded), with counts.

    ``counted=False`` leaves the per-caller figures out (``support_count`` only when the order
    needs it), for a page that reads its own rows with :func:`need_page`.
    """
    qs = Need.objects.visible_to(user).select_related("region")
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if status:
        qs = qs.filter(status=status)
    elif not include_merged:
        qs = qs.exclude(status=NeedStatus.MERGED)
    if category:
        qs = qs.filter(category=category)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(description__icontains=search) | Q(place__icontains=search))
    order = order if order in ORDERS else "new"
    if counted:
        qs = with_counts(qs, user)
    elif order == "support":
        qs = qs.annotate(support_count=_support_count())
    return qs.order_by(*ORDERS[order])


def my_needs(*, user: Any) -> QuerySet[Need]:
    """The needs raised by (or for) the signed-in person."""
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_authenticated", False) or person_id is None:
        return Need.objects.none()
    qs = Need.objects.visible_to(user).filter(raised_by_id=person_id).select_related("region", "merged_into")
    return with_counts(qs, user).order_by("-created_at", "-id")


def screening_queue(*, user: Any, category: str = "", region: Region | None = None) -> QuerySet[Need]:
    """Submitted needs of the communities the user screens, most seconded first."""
    qs = need_list(user=user, region=region, status=NeedStatus.SUBMITTED, category=category, order="support")
    scope = access.scope_of(user)
    if scope.is_superuser:
        return qs
    return qs.filter(access.in_paths(scope.paths_for(DECISION_MANAGERS), "region__path")).select_related("raised_by")


def need_detail(*, user: Any, pk: int) -> Need:
    return access.get_visible_or_404(
        with_counts(Need.objects.select_related("region", "merged_into", "problem", "raised_by"), user), user, pk=pk
    )


@dataclass(frozen=True)
class StatusChange:
    """One step in a need's life as its raiser sees it: the need's own status, its problem-list
    line's, or a vote on that line (``kind`` says which)."""

    at: datetime
    status: str
    status_display: str
    reason: str
    kind: str = "need"


# A problem line's own steps the raiser sees besides the need's (待议 and 已办结 repeat the need's).
PROBLEM_STEPS = (ProblemStatus.DELIBERATING, ProblemStatus.DECIDED, ProblemStatus.DROPPED)


def status_history(needs: Iterable[Need]) -> dict[int, list[StatusChange]]:
    """Each need's steps, oldest first: its history, its problem line's and the line's votes.

    Three queries for any number of needs.
    """
    needs = list(needs)
    ids = [n.pk for n in needs]
    result: dict[int, list[StatusChange]] = {pk: [] for pk in ids}
    if not ids:
        return result
    labels = dict(NeedStatus.choices)
    last: dict[int, tuple[str, str]] = {}
    rows = (
        Need.history.filter(id__in=ids)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_date", "status", "status_reason")
    )
    for pk, at, status, reason in rows:
        if last.get(pk) == (status, reason):
            continue
        last[pk] = (status, reason)
        result[pk].append(
            StatusChange(at=at, status=status, status_display=str(labels.get(status, status)), reason=reason)
        )
    by_problem: dict[int, list[int]] = {}
    for need in needs:
        if need.problem_id is not None:
            by_problem.setdefault(need.problem_id, []).append(need.pk)
    if by_problem:
        for change, problem_id in _problem_steps(list(by_problem)):
            for pk in by_problem[problem_id]:
                result[pk].append(change)
        for pk in ids:
            result[pk].sort(key=lambda c: c.at)
    return result


def _problem_steps(problem_ids: list[int]) -> list[tuple[StatusChange, int]]:
    """The problem lines' status changes and their votes' opening and result, as need steps."""
    from cocreate.participation.models import Vote, VoteStatus  # votes import this module

    steps: list[tuple[StatusChange, int]] = []
    labels = dict(ProblemStatus.choices)
    last: dict[int, str] = {}
    rows = (
        ProblemItem.history.filter(id__in=problem_ids)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_date", "status", "status_reason")
    )
    for pk, at, status, reason in rows:
        if last.get(pk) == status:
            continue
        last[pk] = status
        if status in PROBLEM_STEPS:
            display = _("问题清单：%(status)s") % {"status": labels.get(status, status)}
            steps.append(
                (StatusChange(at=at, status=status, status_display=display, reason=reason, kind="problem"), pk)
            )
    votes = Vote.objects.filter(problem_id__in=problem_ids).exclude(status=VoteStatus.DRAFT)
    for vote in votes.only("id", "problem_id", "title", "status", "opened_at", "closed_at", "result"):
        assert vote.problem_id is not None
        if vote.opened_at is not None:
            opened = StatusChange(
                at=vote.opened_at, status="vote_open", status_display=_("开始表决"), reason=vote.title, kind="vote"
            )
            steps.append((opened, vote.problem_id))
        if vote.status == VoteStatus.CLOSED and vote.closed_at is not None:
            from cocreate.participation.votes import result_phrase

            closed = StatusChange(
                at=vote.closed_at,
                status="vote_closed",
                status_display=result_phrase(vote),
                reason=vote.title,
                kind="vote",
            )
            steps.append((closed, vote.problem_id))
    return steps


def photos_of(*, user: Any, need: Need) -> QuerySet[Attachment]:
    return evidence.attachments_for(actor=user, target=need).filter(mime_type__startswith="image/")


def supporters(*, user: Any, need: Need) -> QuerySet[NeedSupport]:
    """Who seconded (staff only: the rule shows others' supports to staff of the region)."""
    return NeedSupport.objects.visible_to(user).filter(need=need).select_related("person").order_by("created_at", "id")


def problem_list(
    *, user: Any, region: Region | None = None, status: str = "", category: str = ""
) -> QuerySet[ProblemItem]:
    """The problem-list items the user may see, with their needs and distinct supporters counted."""
    qs = ProblemItem.objects.visible_to(user).select_related("region")
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    return qs.annotate(
        need_count=Count("needs", distinct=True),
        supporter_total=Count("needs__supports__person", distinct=True),
    ).order_by("-created_at", "-id")


def problem_detail(*, user: Any, pk: int) -> ProblemItem:
    return access.get_visible_or_404(problem_list(user=user), user, pk=pk)


def problem_needs(*, user: Any, problem: ProblemItem) -> QuerySet[Need]:
    return with_counts(Need.objects.filter(problem=problem).select_related("region"), user).order_by(
        "-support_count", "-created_at", "-id"
    )


def problem_votes(*, user: Any, problem: ProblemItem) -> list[tuple[Any, str]]:
    """The opened votes on a problem-list line the user may see, each with its result in words."""
    from cocreate.participation.models import Vote, VoteStatus  # votes import this module
    from cocreate.participation.votes import result_phrase

    rows = Vote.objects.visible_to(user).filter(problem=problem).exclude(status=VoteStatus.DRAFT)
    return [
        (vote, result_phrase(vote) if vote.status == VoteStatus.CLOSED else "")
        for vote in rows.order_by("-opens_at", "-id")
    ]


def problem_choices(*, user: Any, need: Need) -> QuerySet[ProblemItem]:
    """Open problem-list items of the need's community the user may add it to."""
    if not can_screen(user, need):
        return ProblemItem.objects.none()
    return (
        ProblemItem.objects.visible_to(user)
        .filter(region_id=need.region_id)
        .exclude(status__in=[ProblemStatus.DONE, ProblemStatus.DROPPED])
        .order_by("-created_at", "-id")
    )


def merge_targets(*, user: Any, need: Need) -> QuerySet[Need]:
    """Other open needs of the same community that ``need`` can be merged into."""
    if not can_screen(user, need):
        return Need.objects.none()
    return (
        Need.objects.visible_to(user)
        .filter(region_id=need.region_id, status__in=[NeedStatus.SUBMITTED, NeedStatus.LISTED])
        .exclude(pk=need.pk)
        .order_by("-created_at", "-id")
    )
