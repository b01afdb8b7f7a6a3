"""Pages of 四议两公开: the list, a new record, and the record's six steps as a timeline with
the next step's form (a picker of fitting closed votes for the two vote steps).

Views parse input, fetch through the access authority and call
``cocreate.participation.decisions``; the order, dates and vote rules are the service's.
URL names start with ``decision_`` so the route × role matrix fills their ids.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.forms import RegionChoiceField, apply_service_errors
from cocreate.core.models import Region, RegionLevel
from cocreate.core.views import form_page, history_page, int_or_none, paginate, require_manageable, staff_required
from cocreate.participation import decisions, notices
from cocreate.participation.models import Decision, DecisionStatus, ProblemItem, StepKind, Vote
from cocreate.participation.rules import DECISION_MANAGERS


class DecisionForm(forms.Form):
    region = RegionChoiceField(label=gettext_lazy("所属村（社区）"), queryset=Region.objects.none())
    title = forms.CharField(label=gettext_lazy("决策事项"), max_length=200)
    matter = forms.CharField(label=gettext_lazy("事项内容"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    problem = forms.ModelChoiceField(
        label=gettext_lazy("问题清单"),
        queryset=ProblemItem.objects.none(),
        required=False,
        empty_label=gettext_lazy("不关联"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        problem = self.fields["problem"]
        assert isinstance(region, forms.ModelChoiceField) and isinstance(problem, forms.ModelChoiceField)
        region.queryset = (
            access.manageable_regions(user, DECISION_MANAGERS).filter(level=RegionLevel.VILLAGE).order_by("path")
        )
        problem.queryset = ProblemItem.objects.visible_to(user).select_related("region").order_by("-created_at")


class VoteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        carried = obj.result.get("carried") if isinstance(obj.result, dict) else None
        outcome = _("通过") if carried else _("未通过")
        closed = f"{timezone.localtime(obj.closed_at):%Y-%m-%d}" if obj.closed_at else ""
        return f"{obj.title}（{obj.rule.name} · {closed} · {outcome}）"


class StepForm(forms.Form):
    """The next step: its date, attendance, the record (or the text made public), and its vote."""

    kind = forms.ChoiceField(choices=StepKind.choices, widget=forms.HiddenInput)
    done_on = forms.DateField(
        label=gettext_lazy("日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    attendance = forms.IntegerField(label=gettext_lazy("参加人数"), min_value=0, required=False)
    notes = forms.CharField(
        label=gettext_lazy("情况记录"),
        max_length=decisions.NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    vote = VoteChoiceField(label=gettext_lazy("表决"), queryset=Vote.objects.none(), required=False)
    notice_days = forms.IntegerField(
        label=gettext_lazy("公示天数"), min_value=1, max_value=notices.MAX_DAYS, initial=notices.DEFAULT_DAYS
    )

    def __init__(self, *args: Any, user: Any, decision: Decision, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = kind
        if kind in decisions.VOTE_STEPS:
            vote = self.fields["vote"]
            assert isinstance(vote, forms.ModelChoiceField)
            vote.queryset = decisions.eligible_votes(user=user, decision=decision, kind=kind)
            vote.required = True
            vote.help_text = (
                _("已结束的党员大会表决") if kind == StepKind.REVIEW else _("已结束的村民会议或村民代表会议表决")
            )
            self.fields["attendance"].help_text = _("不填则取表决的参与人数。")
        else:
            del self.fields["vote"]
        if kind in decisions.NOTICE_STEPS:
            notes = self.fields["notes"]
            notes.required = True
            notes.label = _("决议内容（将公示）") if kind == StepKind.DISCLOSURE else _("实施结果（将公示）")
            del self.fields["attendance"]
        else:
            del self.fields["notice_days"]


def _detail_url(decision: Decision) -> str:
    return reverse("participation:decision_detail", args=[decision.pk])


@login_required
def decision_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in DecisionStatus.values:
        status = ""
    region_id = int_or_none(request.GET.get("region"))
    region = Region.objects.visible_to(user).filter(pk=region_id).first() if region_id else None
    qs = decisions.decision_list(user=user, status=status, search=search, region=region).prefetch_related("steps")
    page = paginate(request, qs)
    return render(
        request,
        "participation/decision_list.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "statuses": DecisionStatus.choices,
            "region": region,
            "total_steps": len(StepKind.choices),
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


@staff_required
def decision_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    form = DecisionForm(request.POST or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: decisions.decision_create(actor=user, **data),
        done=lambda decision: (
            _("已新建四议两公开记录“%(title)s”。") % {"title": decision.title},
            _detail_url(decision),
        ),
        title=_("新建四议两公开记录"),
        cancel_url=reverse("participation:decision_list"),
    )


def _render_detail(request: HttpRequest, decision: Decision, form: StepForm | None = None) -> HttpResponse:
    user = request.user
    upcoming = decisions.next_kind(decision, len(decision.steps.all()))
    can_change = access.can(user, access.CHANGE, decision)
    if form is None and upcoming is not None and can_change:
        form = StepForm(user=user, decision=decision, kind=upcoming, initial={"done_on": timezone.localdate()})
    context = {
        "decision": decision,
        "timeline": decisions.timeline(decision),
        "upcoming": upcoming,
        "upcoming_label": decisions.step_label(upcoming) if upcoming else "",
        "form": form if can_change else None,
        "can_change": can_change,
        "tab": "detail",
    }
    status = 400 if form is not None and form.is_bound and form.errors else 200
    return render(request, "participation/decision_detail.html", context, status=status)


@login_required
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, decisions.decision_detail(user=request.user, pk=pk))


@require_POST
@staff_required
def decision_step_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Records the next step; a refusal re-shows the timeline with the form and its reasons (400)."""
    user = request.user
    decision = decisions.decision_detail(user=user, pk=pk)
    if not access.can(user, access.CHANGE, decision):
        raise Http404("not found")
    upcoming = decisions.next_kind(decision, len(decision.steps.all()))
    if upcoming is None:
        messages.error(request, _("该记录已结束，不能再添加步骤"))
        return redirect(_detail_url(decision))
    form = StepForm(request.POST, user=user, decision=decision, kind=upcoming)
    if form.is_valid():
        data = form.cleaned_data
        try:
            step = decisions.step_record(
                actor=user,
                decision=decision,
                kind=data["kind"],
                done_on=data["done_on"],
                attendance=data.get("attendance"),
                notes=data.get("notes") or "",
                vote=data.get("vote"),
                notice_days=data.get("notice_days") or notices.DEFAULT_DAYS,
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            decision.refresh_from_db()
            if decision.status == DecisionStatus.REJECTED:
                messages.warning(
                    request, _("已记录“%(step)s”：表决未通过，记录终止。") % {"step": step.get_kind_display()}
                )
            else:
                messages.success(request, _("已记录“%(step)s”。") % {"step": step.get_kind_display()})
            return redirect(_detail_url(decision))
    return _render_detail(request, decisions.decision_detail(user=user, pk=pk), form)


@staff_required
def decision_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Decision, pk, "participation:decision_detail")


# Included by cocreate/participation/urls.py under "decisions/" (namespace "participation").
urlpatterns = [
    path("", decision_list, name="decision_list"),
    path("new/", decision_create, name="decision_create"),
    path("<int:pk>/", decision_detail, name="decision_detail"),
    path("<int:pk>/steps/", decision_step_add, name="decision_step_add"),
    path("<int:pk>/history/", decision_history, name="decision_history"),
]
