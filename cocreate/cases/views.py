"""Pages of grievance cases (namespace "cases", issue 5 §7).

* Intake (案件受理): a grid worker or an office registers a case on a phone in a minute; a resident
  reports for themselves. Success shows the case number and the tracking code to tell the resident.
* Work queue (待办案件): tabs per unit (待签收, 办理中) and per office (待受理, 待分拨), the deadline
  tabs (即将到期, 已超期) and what the user recorded; parties masked.
* A case's page: summary, masked parties (handling staff may open the full view, which is logged),
  the timeline, and one form per transition the viewer may do now. Each form POSTs to a small view
  that calls exactly one service with ``expected_version``; errors re-show the page with the form.
* Tracking (public): tracking code + applicant's phone, the masked status and steps, and the rating
  of a replied case. A wrong code and a wrong phone get the same answer.

Views parse input and call ``cocreate.cases.services`` / ``selectors`` / ``tracking``; the rules
live there. URL names start with ``case_`` so the route × role matrix fills their ids with cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cocreate.cases import analytics, deadlines, rules, selectors, services, tracking
from cocreate.cases import forms as case_forms
from cocreate.cases.models import (
    Case,
    CaseChannel,
    CaseLevel,
    CaseReturn,
    CaseStatus,
    EventKind,
    ExtensionRequest,
    Party,
    PartyRole,
    RequestStatus,
    ReturnDecision,
)
from cocreate.core import access
from cocreate.core.forms import apply_service_errors
from cocreate.core.models import Person, Region, RegionLevel
from cocreate.core.privacy import mask_id_number, mask_name, mask_phone
from cocreate.core.views import form_page, paginate, staff_required
from cocreate.participation import needs
from cocreate.participation.models import Need

S = CaseStatus
# "即将到期": the current step is due within this many working days.
SOON_WORKING_DAYS = 2
ACTIVE_STATES = (S.DISPATCHED, S.RETURNED, S.SIGNED, S.IN_PROGRESS, S.REPLIED, S.DISSATISFIED)


def _detail_url(case: Case) -> str:
    return reverse("cases:case_detail", args=[case.pk])


# --- Intake -----------------------------------------------------------------------------------------------


def _intake_options(user: Any) -> tuple[list[str], QuerySet[Region], bool]:
    """The channels the user may register through, the regions to pick from, and whether a resident reports."""
    scope = access.scope_of(user)
    region_levels = Q(is_active=True, level__gte=RegionLevel.VILLAGE)
    if scope.is_superuser:
        return (
            [CaseChannel.WALKIN, CaseChannel.ONSITE, CaseChannel.VISIT],
            Region.objects.filter(region_levels).order_by("path"),
            False,
        )
    # Staff: walk-in first for offices, home visit for grid workers.
    channels: list[str] = [
        c
        for c in (CaseChannel.WALKIN, CaseChannel.ONSITE, CaseChannel.VISIT)
        if scope.paths_for(services.INTAKE_ROLES[c])
    ]
    if channels:
        roles = set().union(*(services.INTAKE_ROLES[c] for c in channels))
        regions = Region.objects.filter(region_levels & access.in_paths(scope.paths_for(roles), "path"))
        return channels, regions.order_by("path"), False
    person = Person.objects.select_related("region").filter(pk=user.person_id).first() if user.person_id else None
    if person is None:
        raise PermissionDenied
    codes = [c for c in person.region.path.strip("/").split("/") if c]
    village = Region.objects.filter(code__in=codes, level=RegionLevel.VILLAGE).values_list("path", flat=True).first()
    if village is None:
        raise PermissionDenied
    regions = Region.objects.filter(region_levels & access.in_paths([village], "path")).order_by("path")
    return [CaseChannel.SELF], regions, True


def _register(user: Any, data: dict[str, Any]) -> Case:
    others = []
    if data["other_name"] or data["other_phone"]:
        others.append(services.PartyData(name=data["other_name"], phone=data["other_phone"]))
    try:
        return services.case_register_with_attachments(
            uploads=[*data["photo"], *data["attachments"]],
            actor=user,
            region=data["region"],
            channel=data["channel"],
            description=data["description"],
            applicant=services.PartyData(
                name=data["applicant_name"], phone=data["applicant_phone"], id_number=data["applicant_id_number"]
            ),
            other_parties=others,
            category=data["category"],
            urgency=data["urgency"],
            place=data["place"],
            is_anonymous=data["is_anonymous"],
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        # The service names the other party "other_parties.0_…"; the form has one "other_…" pair.
        renamed = {key.replace("other_parties.0_", "other_"): errors for key, errors in exc.error_dict.items()}
        raise ValidationError(renamed) from exc


@login_required
def case_intake_form(request: HttpRequest) -> HttpResponse:
    user = request.user
    channels, regions, resident = _intake_options(user)
    form = case_forms.IntakeForm(
        request.POST or None,
        request.FILES or None,
        regions=regions,
        channels=[str(c) for c in channels],
        resident=resident,
        initial={"region": regions.first() if regions.count() == 1 else None},
    )
    return form_page(
        request,
        form,
        save=lambda data: _register(user, data),
        done=lambda case: (
            _("已登记，请把编号和查询码告诉申请人。"),
            reverse("cases:case_intake_done", args=[case.pk]),
        ),
        title=_("我要反映矛盾纠纷") if resident else _("矛盾纠纷受理登记"),
        cancel_url=reverse("core:home"),
        submit=_("登记"),
    )


@login_required
def case_intake_done(request: HttpRequest, pk: int) -> HttpResponse:
    """The case number and the tracking code, large, for whoever registered it (or its handlers)."""
    case = selectors.case_get(user=request.user, pk=pk)
    if case.created_by_id != request.user.pk and not rules.can_handle(request.user, case):
        raise Http404("not found")
    return render(request, "cases/intake_done.html", {"case": case})


# --- Work queue ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    key: str
    label: Any
    q: Q
    order: tuple[str, ...]


def _area_q(paths: tuple[str, ...]) -> Q:
    """Cases whose region lies in the subtrees of ``paths``, as ``region_id IN (regions)``.

    Not a join on the case's region: SQLite's planner (no histograms) takes a path range for a
    few rows and drives the query from the regions, reading every case of a county or town to
    count one tab's handful; with the regions as a subquery it starts from the status index.
    """
    return Q(region_id__in=Region.objects.filter(access.in_paths(paths, "path")).values("id"))


def _office_q(scope: access.Scope) -> Q:
    """Cases at the level of an office the user belongs to, in that office's area."""
    if scope.is_superuser:
        return Q()
    q = access.NOTHING
    for level, roles in rules.OFFICE_ROLES.items():
        paths = scope.paths_for(roles)
        if paths:
            q |= _area_q(paths) & Q(level=level)
    return q


def _reviewer_q(scope: access.Scope) -> Q:
    """Cases the user reviews as the level above (returns, extensions, 不合理诉求): the level below in their area."""
    if scope.is_superuser:
        return Q()
    q = access.NOTHING
    for level, roles in rules.OFFICE_ROLES.items():
        paths = scope.paths_for(roles)
        if paths:
            reviewed = {lvl for lvl in rules.OFFICE_ROLES if rules.level_above(lvl) == level}
            q |= _area_q(paths) & Q(level__in=sorted(reviewed))
    # A unit never reviews its own return or extension request.
    return q & ~Q(lead_unit_id__in=scope.unit_ids) if scope.unit_ids else q


def queue_tabs(user: Any, now: Any) -> list[Tab]:
    scope = access.scope_of(user)
    office = _office_q(scope)
    is_office = scope.is_superuser or any(scope.paths_for(r) for r in rules.OFFICE_ROLES.values())
    units = Q(lead_unit_id__in=scope.unit_ids) if scope.unit_ids else access.NOTHING
    mine = (units | office) if is_office else units
    soon = deadlines.add_working_days(now, SOON_WORKING_DAYS)
    by_due = ("step_due_at", "id")
    newest = ("-created_at", "-id")
    tabs: list[Tab] = []
    if is_office:
        tabs += [
            Tab("intake", gettext_lazy("待受理"), office & Q(status=S.REGISTERED), newest),
            Tab("route", gettext_lazy("待分拨"), office & Q(status__in=[S.ACCEPTED, S.TRIAGED]), newest),
            Tab("rework", gettext_lazy("不满意待处理"), office & Q(status=S.DISSATISFIED), newest),
            Tab(
                "review",
                gettext_lazy("待审核"),
                _reviewer_q(scope)
                # Only where the level above can act (an extension is decided on a running case);
                # also what lets the planner start from the status index, not the area's cases.
                & Q(status__in=ACTIVE_STATES)
                & (
                    Q(status=S.RETURNED)
                    # EXISTS per candidate case (the case_id index), not "id IN (every pending
                    # request)", which SQLite ran as a scan per index probe: 0.7 s at 200 000 cases.
                    | Q(Exists(ExtensionRequest.objects.filter(case=OuterRef("pk"), status=RequestStatus.PENDING)))
                    | Q(status=S.DISSATISFIED, rework_round__gte=services.max_rework_rounds())
                ),
                newest,
            ),
        ]
    if scope.unit_ids or scope.is_superuser:
        tabs += [
            Tab("sign", gettext_lazy("待签收"), units & Q(status=S.DISPATCHED), by_due),
            Tab("doing", gettext_lazy("办理中"), units & Q(status__in=[S.SIGNED, S.IN_PROGRESS]), by_due),
        ]
    if scope.unit_ids or is_office:
        tabs += [
            Tab(
                "soon",
                gettext_lazy("即将到期"),
                mine & Q(status__in=ACTIVE_STATES, step_due_at__gte=now, step_due_at__lte=soon),
                by_due,
            ),
            Tab("overdue", gettext_lazy("已超期"), mine & Q(status__in=ACTIVE_STATES, step_due_at__lt=now), by_due),
        ]
    tabs.append(Tab("recorded", gettext_lazy("我登记的"), Q(created_by_id=user.pk), newest))
    return tabs


def _applicants() -> Prefetch:
    return Prefetch("parties", queryset=Party.objects.filter(role=PartyRole.APPLICANT), to_attr="applicants")


def _masked_applicant(case: Case) -> dict[str, str]:
    party = next(iter(getattr(case, "applicants", [])), None)
    if party is None:
        return {"name": "", "phone": ""}
    return {
        "name": _("匿名") if case.is_anonymous else mask_name(party.name),
        "phone": mask_phone(party.phone),
    }


def deadline_badge(case: Case, now: Any, soon: Any) -> dict[str, str] | None:
    """Red when the current step is overdue, amber when it is due within SOON_WORKING_DAYS working days."""
    if case.is_final or case.step_due_at is None:
        return None
    if case.step_due_at < now:
        return {"css": "text-bg-danger", "label": _("已超期")}
    if case.step_due_at <= soon:
        return {"css": "text-bg-warning", "label": _("即将到期")}
    return {"css": "text-bg-light border", "label": ""}


def _tab_counts(user: Any, tabs: list[Any], base: QuerySet[Case], now: Any) -> dict[str, int]:
    """Each tab's count, kept per scope, data version and time slot (as the analytics' figures).

    Ten counts over a county's running cases cost ~100 ms at 200 000 cases (bench/cases); they only
    change when a case changes (a new history row: the data version) or when time moves a case
    into 即将到期 / 已超期 — so a change anywhere counts afresh at once, time alone with the next
    slot (``analytics.FIGURES_SLOT_MINUTES``). The list under the tabs is always read fresh.
    """
    key = analytics.kept_key(user, now, "queue", ",".join(t.key for t in tabs))
    counts: dict[str, int] | None = cache.get(key)
    if counts is None:
        counts = {tab.key: base.filter(tab.q).count() for tab in tabs}
        cache.set(key, counts, analytics.FIGURES_SECONDS)
    return counts


@staff_required
def case_queue_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    now = timezone.now()
    tabs = queue_tabs(user, now)
    base = selectors.case_list(user=user)
    counts = _tab_counts(user, tabs, base, now)
    current = next((t for t in tabs if t.key == request.GET.get("tab")), None)
    if current is None:
        current = next((t for t in tabs if counts[t.key]), tabs[0])
    qs = base.filter(current.q).order_by(*current.order).prefetch_related(_applicants())
    # The list and its own count are always fresh: a case can turn overdue within the slot the
    # tab counts are kept for, and the list must show it at once.
    page = paginate(request, qs)
    soon = deadlines.add_working_days(now, SOON_WORKING_DAYS)
    rows = [
        {"case": case, "applicant": _masked_applicant(case), "badge": deadline_badge(case, now, soon)}
        for case in page.object_list
    ]
    return render(
        request,
        "cases/queue.html",
        {"tabs": [(t, counts[t.key]) for t in tabs], "current": current, "page": page, "rows": rows},
    )


# --- A case's page and its transitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    slug: str
    kind: str
    label: Any
    form: type[forms.Form]
    call: Callable[[Any, Case, dict[str, Any]], Any]
    style: str = "btn-primary"


def _merge(user: Any, case: Case, data: dict[str, Any]) -> Any:
    target = Case.objects.visible_to(user).filter(number=data.pop("into_number").strip()).first()
    if target is None:
        raise ValidationError({"into_number": ValidationError(_("未找到该案件"), code="missing")})
    return services.case_merge(actor=user, case=case, into=target, **data)


def _direct(service: Callable[..., Any]) -> Callable[[Any, Case, dict[str, Any]], Any]:
    """A service whose keyword arguments are exactly the form's fields."""
    return lambda user, case, data: service(actor=user, case=case, **data)


F = case_forms
ACTIONS: dict[str, Action] = {
    a.slug: a
    for a in (
        Action("accept", EventKind.ACCEPTED, gettext_lazy("受理"), F.NoteForm, _direct(services.case_accept)),
        Action(
            "answer",
            EventKind.ANSWERED,
            gettext_lazy("当场答复"),
            F.AnswerForm,
            _direct(services.case_answer_on_spot),
            "btn-outline-primary",
        ),
        Action(
            "decline",
            EventKind.DECLINED,
            gettext_lazy("不予受理"),
            F.DeclineForm,
            _direct(services.case_decline),
            "btn-outline-danger",
        ),
        Action("triage", EventKind.TRIAGED, gettext_lazy("研判"), F.TriageForm, _direct(services.case_triage)),
        Action("dispatch", EventKind.DISPATCHED, gettext_lazy("派单"), F.DispatchForm, _direct(services.case_dispatch)),
        Action("sign", EventKind.SIGNED, gettext_lazy("签收"), F.SignForm, _direct(services.case_sign)),
        Action(
            "return",
            EventKind.RETURNED,
            gettext_lazy("退单"),
            F.ReturnForm,
            _direct(services.case_return),
            "btn-outline-danger",
        ),
        Action(
            "review_return",
            EventKind.RETURN_DECIDED,
            gettext_lazy("审核退单"),
            F.ReturnDecideForm,
            _direct(services.case_return_decide),
        ),
        Action("contact", EventKind.CONTACTED, gettext_lazy("首次联系"), F.ContactForm, _direct(services.case_contact)),
        Action("reply", EventKind.REPLIED, gettext_lazy("答复"), F.ReplyForm, _direct(services.case_reply)),
        Action("rate", EventKind.RATED, gettext_lazy("评价"), F.CaseRateForm, _direct(services.case_rate)),
        Action("rework", EventKind.REWORKED, gettext_lazy("重办"), F.NoteForm, _direct(services.case_rework)),
        Action("close", EventKind.CLOSED, gettext_lazy("回访办结"), F.CloseForm, _direct(services.case_close)),
        Action(
            "unreasonable",
            EventKind.CLOSED_UNREASONABLE,
            gettext_lazy("按不合理诉求办结"),
            F.UnreasonableForm,
            _direct(services.case_close_unreasonable),
            "btn-outline-danger",
        ),
        Action(
            "extend",
            EventKind.EXTENSION_REQUESTED,
            gettext_lazy("申请延期"),
            F.ExtensionRequestForm,
            _direct(services.case_extension_request),
            "btn-outline-primary",
        ),
        Action(
            "extension",
            EventKind.EXTENSION_DECIDED,
            gettext_lazy("审批延期"),
            F.ExtensionDecideForm,
            _direct(services.case_extension_decide),
        ),
        Action(
            "escalate",
            EventKind.ESCALATED,
            gettext_lazy("提级"),
            F.EscalateForm,
            _direct(services.case_escalate),
            "btn-outline-danger",
        ),
        Action("merge", EventKind.MERGED, gettext_lazy("合并重复案件"), F.MergeForm, _merge, "btn-outline-secondary"),
        Action(
            "to_need",
            EventKind.TO_NEED,
            gettext_lazy("转为社区议题"),
            F.ToNeedForm,
            _direct(services.case_to_need),
            "btn-outline-secondary",
        ),
    )
}


def _is_applicant_account(user: Any, case: Case) -> bool:
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return False
    return Party.objects.filter(case=case, role=PartyRole.APPLICANT, person_id=person_id).exists()


def _may_list(user: Any, case: Case) -> bool:
    """Whether ``user`` may put a need on the problem list of the case's community (case_to_need)."""
    community = needs.community_of(case.region)
    return community is not None and needs.can_screen(user, Need(region=community))


def available_actions(user: Any, case: Case) -> list[Action]:
    """The transitions ``user`` may do on ``case`` now, as the services would allow them."""
    now = timezone.now()
    office = rules.is_office(user, case)
    lead = rules.is_lead_unit_staff(user, case)
    reviewer = rules.is_reviewer(user, case)
    who = {
        services.OFFICE: office,
        services.LEAD_UNIT: lead,
        services.REVIEWER: reviewer,
        services.OFFICE_OR_REVIEWER: office or reviewer,
    }
    pending_extension: bool | None = None

    def has_pending_extension() -> bool:
        nonlocal pending_extension
        if pending_extension is None:
            pending_extension = ExtensionRequest.objects.filter(case=case, status=RequestStatus.PENDING).exists()
        return pending_extension

    rounds = services.max_rework_rounds()
    extra: dict[str, Callable[[], bool]] = {
        "rate": lambda: _is_applicant_account(user, case),
        "rework": lambda: case.rework_round < rounds,
        "unreasonable": lambda: case.rework_round >= rounds,
        "close": lambda: case.step_due_at is None or now >= case.step_due_at,
        "extend": lambda: case.due_at is not None and now < case.due_at and not has_pending_extension(),
        "extension": has_pending_extension,
        "escalate": lambda: case.level != CaseLevel.COUNTY,
        "to_need": lambda: case.need_id is None and _may_list(user, case),
    }
    found = []
    for action in ACTIONS.values():
        transition = services.TRANSITIONS[action.kind]
        if case.status not in transition.sources:
            continue
        if action.slug != "rate" and not who.get(transition.actor, False):
            continue
        if action.slug in extra and not extra[action.slug]():
            continue
        found.append(action)
    return found


def _parties_masked(case: Case) -> list[dict[str, str]]:
    rows = []
    for party in case.parties.order_by("role", "id"):
        hidden = case.is_anonymous and party.role == PartyRole.APPLICANT
        rows.append(
            {
                "role": party.get_role_display(),
                "name": _("匿名") if hidden else mask_name(party.name),
                "phone": "" if hidden else mask_phone(party.phone),
                "id_number": "" if hidden else mask_id_number(party.id_number),
            }
        )
    return rows


def _render_case(
    request: HttpRequest,
    case: Case,
    *,
    bound: tuple[str, forms.Form] | None = None,
    bound_attach: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    scope = access.scope_of(user)
    staff_view = scope.is_superuser or scope.is_staff_member
    actions = []
    for action in available_actions(user, case):
        if bound is not None and bound[0] == action.slug:
            form, is_open = bound[1], True
        else:
            form, is_open = action.form(case=case), False  # type: ignore[call-arg]
        actions.append(
            {
                "action": action,
                "form": form,
                "open": is_open,
                "url": reverse(f"cases:case_{action.slug}", args=[case.pk]),
            }
        )
    may_attach = access.may_attach(user, case)
    context = {
        "case": case,
        "attachments": selectors.case_attachments(user=user, case=case),
        "attach_form": (bound_attach or case_forms.AttachForm()) if may_attach else None,
        "parties": _parties_masked(case),
        "can_see_full": rules.can_handle(user, case),
        "events": selectors.case_timeline(user=user, case=case),
        "staff_view": staff_view,
        "actions": actions,
        "co_units": case.co_units.all() if staff_view else [],
        "pending_return": (
            CaseReturn.objects.filter(case=case, decision=ReturnDecision.PENDING).select_related("unit").first()
            if staff_view and case.status == S.RETURNED
            else None
        ),
        "pending_extension": (
            ExtensionRequest.objects.filter(case=case, status=RequestStatus.PENDING).first() if staff_view else None
        ),
        "badge": deadline_badge(case, timezone.now(), deadlines.add_working_days(timezone.now(), SOON_WORKING_DAYS)),
    }
    return render(request, "cases/detail.html", context, status=status)


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_case(request, selectors.case_get(user=request.user, pk=pk))


@login_required
def case_parties(request: HttpRequest, pk: int) -> HttpResponse:
    """查看完整信息: the parties in full for handling staff; every showing is logged (PersonalDataAccess)."""
    user = request.user
    case = selectors.case_get(user=user, pk=pk)
    if not rules.can_handle(user, case):
        raise Http404("not found")
    parties = [
        {"party": party, **selectors.party_display(user=user, party=party, context=f"case {case.number} parties")}
        for party in case.parties.select_related("case", "case__region").order_by("role", "id")
    ]
    return render(request, "cases/parties.html", {"case": case, "parties": parties})


@require_POST
@login_required
def case_attach(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: optional photos or files on a case (handlers' evidence; the applicant's own photos)."""
    user = request.user
    case = selectors.case_get(user=user, pk=pk)
    form = case_forms.AttachForm(request.POST, request.FILES)
    if form.is_valid():
        uploads = [*form.cleaned_data["photo"], *form.cleaned_data["attachments"]]
        if not uploads:
            form.add_error("attachments", _("请选择要上传的照片或文件"))
        else:
            try:
                stored = services.case_attach(
                    actor=user, case=case, uploads=uploads, description=form.cleaned_data["description"]
                )
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("已上传%(n)d个文件。") % {"n": len(stored)})
                return redirect(_detail_url(case) + "#case-attachments")
    return _render_case(request, case, bound_attach=form, status=400)


def action_view(action: Action) -> Callable[[HttpRequest, int], HttpResponse]:
    @require_POST
    @login_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        user = request.user
        case = selectors.case_get(user=user, pk=pk)
        form = action.form(request.POST, case=case)  # type: ignore[call-arg]
        if form.is_valid():
            data = dict(form.cleaned_data)
            expected = data.pop("expected_version")
            try:
                action.call(user, case, {**data, "expected_version": expected})
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            except ValidationError as exc:
                codes = {e.code for errors in getattr(exc, "error_dict", {}).values() for e in errors}
                if "stale" in codes:
                    messages.error(request, _("案件已被他人更新，请查看最新情况后再办理。"))
                    return redirect(_detail_url(case))
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("“%(step)s”已完成。") % {"step": action.label})
                return redirect(_detail_url(case))
        case.refresh_from_db()
        return _render_case(request, case, bound=(action.slug, form), status=400)

    view.__name__ = f"case_{action.slug}"
    view.__doc__ = f"POST: {action.slug} ({action.kind}) through exactly one service."
    return view


# --- Tracking by code + phone (public) -----------------------------------------------------------------------------


def _not_found(form: forms.Form) -> None:
    form.add_error(None, _("没有找到：请核对查询码和申请人电话。"))


def _throttled(form: forms.Form, exc: tracking.TrackThrottled) -> None:
    minutes = max(1, -(-exc.retry_after // 60))
    form.add_error(
        None,
        _("查询失败次数过多，请%(minutes)d分钟后再试；如忘记查询码，请联系受理单位。") % {"minutes": minutes},
    )


@access.public_view
@require_http_methods(["GET", "POST"])
def case_track(request: HttpRequest) -> HttpResponse:
    """The same page for everyone: a wrong code and a wrong phone give the same answer."""
    form = case_forms.TrackForm(request.POST or None)
    tracked = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                tracked = tracking.case_track_limited(
                    code=form.cleaned_data["code"],
                    phone=form.cleaned_data["phone"],
                    ip=tracking.client_ip(request.META),
                )
            except tracking.TrackThrottled as exc:
                _throttled(form, exc)
                return _render_track(request, form, None, status=429)
            if tracked is None:
                _not_found(form)
        if tracked is None:
            status = 400
    return _render_track(request, form, tracked, status=status)


def _render_track(
    request: HttpRequest,
    form: forms.Form,
    tracked: tracking.TrackedCase | None,
    *,
    rate_form: forms.Form | None = None,
    phone: str = "",
    status: int = 200,
) -> HttpResponse:
    if tracked is not None and tracked.can_rate and rate_form is None:
        rate_form = case_forms.TrackRateForm(
            initial={"code": tracked.tracking_code, "phone": phone or form.data.get("phone", "")}
        )
    return render(
        request, "cases/track.html", {"form": form, "tracked": tracked, "rate_form": rate_form}, status=status
    )


@access.public_view
@require_POST
def case_track_rate(request: HttpRequest) -> HttpResponse:
    """The applicant's rating through the tracking page (code + phone prove who rates)."""
    rate_form = case_forms.TrackRateForm(request.POST)
    code, phone = request.POST.get("code", ""), request.POST.get("phone", "")
    track_form = case_forms.TrackForm({"code": code, "phone": phone})
    track_form.is_valid()
    try:
        case = tracking.find_limited(code=code, phone=phone, ip=tracking.client_ip(request.META))
    except tracking.TrackThrottled as exc:
        _throttled(track_form, exc)
        return _render_track(request, track_form, None, status=429)
    if case is None:
        _not_found(track_form)
        return _render_track(request, track_form, None, status=400)
    if rate_form.is_valid():
        data = {k: v for k, v in rate_form.cleaned_data.items() if k not in ("code", "phone")}
        try:
            services.case_rate(actor=None, case=case, phone=phone, **data)
        except PermissionDenied:
            _not_found(track_form)
            return _render_track(request, track_form, None, status=400)
        except ValidationError as exc:
            apply_service_errors(rate_form, exc)
        else:
            messages.success(request, _("感谢您的评价！"))
            return _render_track(request, track_form, tracking.case_track(code=code, phone=phone))
    return _render_track(
        request, track_form, tracking.case_track(code=code, phone=phone), rate_form=rate_form, status=400
    )
