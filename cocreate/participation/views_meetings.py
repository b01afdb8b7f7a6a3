"""Pages of deliberation meetings (议事会 / 屋场会 / 板凳会) and the task list (任务清单).

Staff (desktop) plan a meeting, invite people, put items on the agenda, record the meeting and
turn its resolutions — or a carried vote, or a 四议两公开 record — into task-list lines, which they
can send into a work plan. Residents (phone) see their community's meetings, comment on the
items before the meeting and read the resolutions afterwards; they never see a private person's
full name.

Views parse input, fetch through the access authority and call ``meetings`` / ``selectors_meetings``.
URL names start with ``meeting_``, ``meetingitem_`` or ``tasklistitem_`` so the route × role matrix
addresses them with out-of-scope rows.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.forms import RegionChoiceField, apply_service_errors
from cocreate.core.models import Person, Region, Unit
from cocreate.core.views import (
    form_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
)
from cocreate.participation import meetings, selectors_meetings
from cocreate.participation.meetings import COMMENT_MAX
from cocreate.participation.models import (
    Decision,
    Meeting,
    MeetingItem,
    MeetingKind,
    MeetingStatus,
    ParticipantKind,
    ProblemItem,
    TaskItemStatus,
    TaskListItem,
    Vote,
)
from cocreate.participation.rules import DECISION_MANAGERS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _text_area(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


def _errors_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- Forms --------------------------------------------------------------------------------------------


class MeetingForm(forms.Form):
    region = RegionChoiceField(label=gettext_lazy("所属社区"), queryset=Region.objects.none())
    kind = forms.ChoiceField(label=gettext_lazy("会议类型"), choices=MeetingKind.choices)
    title = forms.CharField(label=gettext_lazy("会议名称"), max_length=200)
    held_at = forms.DateTimeField(
        label=gettext_lazy("召开时间"),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )
    place = forms.CharField(label=gettext_lazy("地点"), max_length=200)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = access.manageable_regions(user, DECISION_MANAGERS).order_by("path")


class ParticipantForm(forms.Form):
    """A person of the community (picked from the search) or a named guest, with their capacity."""

    person = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=gettext_lazy("姓名"), max_length=50, required=False)
    kind = forms.ChoiceField(label=gettext_lazy("身份"), choices=ParticipantKind.choices)


class ItemForm(forms.Form):
    problem = forms.ModelChoiceField(
        label=gettext_lazy("从问题清单选择"),
        queryset=ProblemItem.objects.none(),
        required=False,
        empty_label=gettext_lazy("（不选，填写议题）"),
    )
    title = forms.CharField(
        label=gettext_lazy("议题"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("选择问题清单时可不填，默认使用问题名称。"),
    )

    def __init__(self, *args: Any, user: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["problem"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors_meetings.problem_candidates(user=user, meeting=meeting)


class RecordForm(forms.Form):
    """Who came, the minutes, and each item's discussion and resolution (fields built per meeting)."""

    present = forms.MultipleChoiceField(
        label=gettext_lazy("到会人员"), required=False, widget=forms.CheckboxSelectMultiple
    )
    minutes = forms.CharField(label=gettext_lazy("会议纪要"), widget=_text_area(6), max_length=20000)

    def __init__(self, *args: Any, participants: list[Any], items: list[MeetingItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["present"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(str(p.pk), f"{p.name}（{p.get_kind_display()}）") for p in participants]
        self.items = items
        for item in items:
            self.fields[f"discussion_{item.pk}"] = forms.CharField(
                label=gettext_lazy("讨论情况"), required=False, widget=_text_area(), max_length=10000
            )
            self.fields[f"resolution_{item.pk}"] = forms.CharField(
                label=gettext_lazy("决议"), required=False, widget=_text_area(), max_length=10000
            )

    def item_rows(self) -> list[tuple[MeetingItem, forms.BoundField, forms.BoundField]]:
        return [(i, self[f"discussion_{i.pk}"], self[f"resolution_{i.pk}"]) for i in self.items]


class CommentForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("我的意见"), widget=_text_area(3), max_length=COMMENT_MAX)


class TaskItemForm(forms.Form):
    source = forms.ChoiceField(
        label=gettext_lazy("任务来源"), help_text=gettext_lazy("已形成决议的议题、已通过的表决或四议两公开事项。")
    )
    title = forms.CharField(
        label=gettext_lazy("任务"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("不填时使用来源的名称。"),
    )
    description = forms.CharField(label=gettext_lazy("说明"), required=False, widget=_text_area(), max_length=5000)
    owner_unit = forms.ModelChoiceField(label=gettext_lazy("责任单位"), queryset=Unit.objects.none())
    deadline = forms.DateField(label=gettext_lazy("完成时限"), widget=_date_input())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources = {s.key: s for s in selectors_meetings.task_sources(user=user)}
        source = self.fields["source"]
        assert isinstance(source, forms.ChoiceField)
        groups = {"meeting_item": _("会议决议"), "vote": _("表决结果"), "decision": _("四议两公开")}
        source.choices = [("", "---------")] + [
            (key, f"{groups[key.split(':')[0]]}：{s.label}（{s.region.name}）") for key, s in self.sources.items()
        ]
        unit = self.fields["owner_unit"]
        assert isinstance(unit, forms.ModelChoiceField)
        unit.queryset = selectors_meetings.owner_units(user=user)


class TaskPlanForm(forms.Form):
    plan = forms.ChoiceField(label=gettext_lazy("工作方案"))
    starts_on = forms.DateField(
        label=gettext_lazy("开始日期"),
        required=False,
        widget=_date_input(),
        help_text=gettext_lazy("不填时为今天（不早于方案开始日期）。"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans = {str(p.pk): p for p in selectors_meetings.plans_for_task_items(user=user)}
        field = self.fields["plan"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "---------")] + [(k, f"{p.title}（{p.region.name}）") for k, p in self.plans.items()]


# --- Helpers ----------------------------------------------------------------------------------------------


def _detail_url(meeting: Meeting) -> str:
    return reverse("participation:meeting_detail", args=[meeting.pk])


def _optional_url(name: str, pk: int) -> str:
    """A link to a page another part of the module may not have built yet."""
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def _staff_context(
    request: HttpRequest,
    meeting: Meeting,
    *,
    participant_form: ParticipantForm | None = None,
    item_form: ItemForm | None = None,
) -> dict[str, Any]:
    user = request.user
    search = request.GET.get("q", "").strip()
    planned = meeting.status == MeetingStatus.PLANNED
    items = selectors_meetings.meeting_items(user=user, meeting=meeting)
    may_task = access.can(user, access.CREATE, TaskListItem(region=meeting.region))
    return {
        "meeting": meeting,
        "participants": selectors_meetings.meeting_participants(user=user, meeting=meeting),
        "items": items,
        "planned": planned,
        "search": search,
        "candidates": selectors_meetings.person_candidates(user=user, meeting=meeting, search=search)
        if planned
        else [],
        "participant_form": participant_form or ParticipantForm(),
        "item_form": item_form or ItemForm(user=user, meeting=meeting),
        "kinds": ParticipantKind.choices,
        "may_task": may_task and not planned,
        "comments_open": selectors_meetings.comment_open(meeting),
    }


def _resident_context(
    request: HttpRequest, meeting: Meeting, *, form_item: int | None = None, form: CommentForm | None = None
) -> dict[str, Any]:
    user = request.user
    invited, present = selectors_meetings.participant_counts(meeting)
    return {
        "meeting": meeting,
        "items": selectors_meetings.meeting_items(user=user, meeting=meeting),
        "may_comment": selectors_meetings.comment_allowed(user=user, meeting=meeting),
        "comments_open": selectors_meetings.comment_open(meeting),
        "invited": invited,
        "present": present,
        "mine": selectors_meetings.my_invitation(user=user, meeting=meeting),
        "form_item": form_item,
        "comment_form": form,
        "max_length": COMMENT_MAX,
    }


# --- Staff: meetings -----------------------------------------------------------------------------------


@staff_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in MeetingStatus.values:
        status = ""
    page = paginate(request, selectors_meetings.meeting_list(user=user, status=status, search=search))
    return render(
        request,
        "participation/meeting_list.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "statuses": MeetingStatus.choices,
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


@staff_required
def meeting_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    form = MeetingForm(request.POST or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: meetings.meeting_create(actor=user, **data),
        done=lambda meeting: (_("已新建会议“%(title)s”。") % {"title": meeting.title}, _detail_url(meeting)),
        title=_("新建议事会议"),
        cancel_url=reverse("participation:meeting_list"),
    )


@login_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Those who run the meeting get the working page; everyone else who sees it, the resident page."""
    meeting = selectors_meetings.meeting_detail(user=request.user, pk=pk)
    if selectors_meetings.may_manage(request.user, meeting):
        return render(request, "participation/meeting_detail.html", _staff_context(request, meeting))
    return render(request, "participation/meeting_view.html", _resident_context(request, meeting))


def _managed(request: HttpRequest, pk: int) -> Meeting:
    meeting = selectors_meetings.meeting_detail(user=request.user, pk=pk)
    require_change(request.user, meeting)
    return meeting


@require_POST
@staff_required
def meeting_participant_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    meeting = _managed(request, pk)
    form = ParticipantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        person = None
        if data["person"]:
            person = Person.objects.visible_to(user).filter(pk=data["person"]).first()
            if person is None:
                form.add_error(None, _("所选人员不存在或无权访问"))
        if not form.errors:
            try:
                added = meetings.participant_add(
                    actor=user, meeting=meeting, kind=data["kind"], person=person, name=data["name"] or ""
                )
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("已邀请%(name)s参会。") % {"name": added.name})
                return redirect(_detail_url(meeting) + "#participants")
    context = _staff_context(request, meeting, participant_form=form)
    return render(request, "participation/meeting_detail.html", context, status=400)


@require_POST
@staff_required
def meeting_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    meeting = _managed(request, pk)
    form = ItemForm(request.POST, user=user, meeting=meeting)
    if form.is_valid():
        try:
            item = meetings.item_add(
                actor=user, meeting=meeting, title=form.cleaned_data["title"], problem=form.cleaned_data["problem"]
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已将“%(title)s”列入议程。") % {"title": item.title})
            return redirect(_detail_url(meeting) + "#items")
    context = _staff_context(request, meeting, item_form=form)
    return render(request, "participation/meeting_detail.html", context, status=400)


@staff_required
def meeting_record(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    meeting = _managed(request, pk)
    if meeting.status != MeetingStatus.PLANNED:
        messages.error(request, _("会议已召开，不能再修改议程和参会人员"))
        return redirect(_detail_url(meeting))
    participants = list(selectors_meetings.meeting_participants(user=user, meeting=meeting))
    items = list(MeetingItem.objects.filter(meeting=meeting).order_by("order", "id"))
    form = RecordForm(request.POST or None, participants=participants, items=items)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                meetings.meeting_record(
                    actor=user,
                    meeting=meeting,
                    present=[int(p) for p in data["present"]],
                    minutes=data["minutes"],
                    items={i.pk: (data[f"discussion_{i.pk}"], data[f"resolution_{i.pk}"]) for i in items},
                )
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("会议记录已保存。"))
                return redirect(_detail_url(meeting))
    return render(request, "participation/meeting_record.html", {"meeting": meeting, "form": form}, status=status)


# --- Residents ----------------------------------------------------------------------------------------------


@login_required
def meeting_mine(request: HttpRequest) -> HttpResponse:
    """本社区议事: upcoming meetings with their items, then past ones with their resolutions."""
    user = request.user
    upcoming = list(selectors_meetings.meeting_list(user=user, upcoming=True)[:20])
    page = paginate(request, selectors_meetings.meeting_list(user=user, upcoming=False))
    items = MeetingItem.objects.visible_to(user).filter(meeting__in=[*upcoming, *page.object_list])
    by_meeting: dict[int, list[MeetingItem]] = {}
    for item in items.order_by("order", "id"):
        by_meeting.setdefault(item.meeting_id, []).append(item)
    return render(
        request,
        "participation/meeting_mine.html",
        {
            "upcoming": [(m, by_meeting.get(m.pk, [])) for m in upcoming],
            "page": page,
            "past": [(m, by_meeting.get(m.pk, [])) for m in page.object_list],
        },
    )


@require_POST
@login_required
def meetingitem_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """A resident's comment on an item before the meeting; refused ones re-show the page with the reason."""
    user = request.user
    item = access.get_visible_or_404(MeetingItem.objects.select_related("meeting__region"), user, pk=pk)
    meeting = item.meeting
    form = CommentForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            meetings.comment_add(actor=user, item=item, text=form.cleaned_data["text"])
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("意见已提交，会上将一并讨论。"))
            return redirect(f"{_detail_url(meeting)}#item-{item.pk}")
    context = _resident_context(request, meeting, form_item=item.pk, form=form)
    return render(request, "participation/meeting_view.html", context, status=status)


# --- Task list --------------------------------------------------------------------------------------------


def _source_links(item: TaskListItem) -> list[tuple[str, str, str]]:
    """(kind, title, url) of what the line came from; url is "" when that page does not exist."""
    links = []
    if item.meeting_item_id and item.meeting_item is not None:
        url = f"{_detail_url(item.meeting_item.meeting)}#item-{item.meeting_item_id}"
        links.append((_("会议决议"), f"{item.meeting_item.meeting.title} · {item.meeting_item.title}", url))
    if item.vote_id and item.vote is not None:
        links.append((_("表决结果"), item.vote.title, _optional_url("participation:vote_detail", item.vote_id)))
    if item.decision_id and item.decision is not None:
        url = _optional_url("participation:decision_detail", item.decision_id)
        links.append((_("四议两公开"), item.decision.title, url))
    return links


@staff_required
def tasklistitem_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in TaskItemStatus.values:
        status = ""
    page = paginate(request, selectors_meetings.task_item_list(user=user, search=search, status=status))
    rows = selectors_meetings.task_rows(user=user, items=list(page.object_list))
    return render(
        request,
        "participation/taskitem_list.html",
        {
            "page": page,
            "rows": [(row, _source_links(row.item)) for row in rows],
            "search": search,
            "status": status,
            "statuses": TaskItemStatus.choices,
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


def _source_objects(user: Any, key: str) -> dict[str, Any]:
    kind, _sep, raw = key.partition(":")
    pk = int_or_none(raw)
    models: dict[str, Any] = {"meeting_item": MeetingItem, "vote": Vote, "decision": Decision}
    model = models.get(kind)
    if model is None or pk is None:
        return {}
    return {kind: access.get_visible_or_404(model, user, pk=pk)}


def _source_region(source: dict[str, Any]) -> Region:
    if "meeting_item" in source:
        region: Region = source["meeting_item"].meeting.region
        return region
    region = next(iter(source.values())).region
    return region


@staff_required
def tasklistitem_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    initial: dict[str, Any] = {}
    wanted = request.GET.get("source", "")
    probe = TaskItemForm(user=user)
    if wanted in probe.sources:
        initial = {"source": wanted, "title": probe.sources[wanted].title}
    form = TaskItemForm(request.POST or None, user=user, initial=initial)

    def save(data: dict[str, Any]) -> TaskListItem:
        source = _source_objects(user, data["source"])
        chosen = form.sources[data["source"]]
        return meetings.task_item_create(
            actor=user,
            region=_source_region(source),
            title=data["title"] or chosen.title,
            description=data["description"],
            owner_unit=data["owner_unit"],
            deadline=data["deadline"],
            **source,
        )

    return form_page(
        request,
        form,
        save=save,
        done=lambda line: (
            _("已列入任务清单：%(title)s。") % {"title": line.title},
            reverse("participation:tasklistitem_list"),
        ),
        title=_("新增任务清单"),
        cancel_url=reverse("participation:tasklistitem_list"),
    )


@staff_required
def tasklistitem_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """列入工作方案: pick a visible active plan; the line becomes a task of its owner unit."""
    user = request.user
    line = selectors_meetings.task_item_detail(user=user, pk=pk)
    require_change(user, line)
    if line.plan_task_id is not None:
        messages.error(request, _("该任务已列入工作方案"))
        return redirect("participation:tasklistitem_list")
    form = TaskPlanForm(request.POST or None, user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            plan = form.plans[form.cleaned_data["plan"]]
            try:
                task = meetings.task_item_to_plan(
                    actor=user, item=line, plan=plan, starts_on=form.cleaned_data["starts_on"]
                )
            except PermissionDenied:
                form.add_error("plan", _("无权在该方案中新增任务"))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("已列入工作方案“%(plan)s”，进度将随任务更新。") % {"plan": task.plan.title})
                return redirect("participation:tasklistitem_list")
    today = timezone.localdate()
    return render(
        request,
        "participation/taskitem_plan.html",
        {"line": line, "form": form, "today": today},
        status=status,
    )


# Included by cocreate/participation/urls.py under "meetings/" (namespace "participation").
urlpatterns = [
    path("", meeting_list, name="meeting_list"),
    path("new/", meeting_create, name="meeting_create"),
    path("mine/", meeting_mine, name="meeting_mine"),
    path("<int:pk>/", meeting_detail, name="meeting_detail"),
    path("<int:pk>/participants/", meeting_participant_add, name="meeting_participant_add"),
    path("<int:pk>/items/", meeting_item_add, name="meeting_item_add"),
    path("<int:pk>/record/", meeting_record, name="meeting_record"),
    path("items/<int:pk>/comments/", meetingitem_comment, name="meetingitem_comment"),
    path("tasks/", tasklistitem_list, name="tasklistitem_list"),
    path("tasks/new/", tasklistitem_create, name="tasklistitem_create"),
    path("tasks/<int:pk>/plan/", tasklistitem_plan, name="tasklistitem_plan"),
]
