"""Pages of votes (表决) and estates (小区): staff create, open and close votes, see the roll and
enter paper sign-in sheets; residents vote from their phones; staff keep the owners' records.

Views parse input, fetch through the access authority and call ``votes`` / ``estates`` /
``selectors_votes``; the rules (who may vote, one ballot per line, thresholds) live there.
URL names start with ``vote_``, ``estate_`` or ``propertyunit_`` so the route × role matrix
addresses them with out-of-scope rows.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
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
from cocreate.core.models import Person, Region
from cocreate.core.views import (
    form_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
)
from cocreate.participation import estates, selectors_votes, votes
from cocreate.participation.models import (
    Choice,
    ElectorateKind,
    Estate,
    ProblemItem,
    ProblemStatus,
    PropertyUnit,
    Vote,
    VoteRule,
    VoteStatus,
)
from cocreate.participation.rules import DECISION_MANAGERS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )


class RuleChoiceField(forms.ModelChoiceField):
    """A rule with its legal basis, so staff pick the one the law names."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.legal_basis}）" if obj.legal_basis else str(obj.name)


class VoteForm(forms.Form):
    """A draft vote: the question, the rule, the electorate (default: the rule's) and the window."""

    title = forms.CharField(label=gettext_lazy("表决事项"), max_length=200)
    question = forms.CharField(
        label=gettext_lazy("表决内容"), required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
    region = RegionChoiceField(label=gettext_lazy("表决区域"), queryset=Region.objects.none())
    rule = RuleChoiceField(label=gettext_lazy("表决规则"), queryset=VoteRule.objects.none())
    electorate = forms.ChoiceField(
        label=gettext_lazy("表决范围"),
        required=False,
        choices=[("", gettext_lazy("按规则默认")), *ElectorateKind.choices],
        help_text=gettext_lazy("不选时使用所选规则的默认表决范围。"),
    )
    estate = forms.ModelChoiceField(
        label=gettext_lazy("小区"),
        queryset=Estate.objects.none(),
        required=False,
        help_text=gettext_lazy("业主表决须选择小区。"),
    )
    problem = forms.ModelChoiceField(
        label=gettext_lazy("表决的问题（可选）"),
        queryset=ProblemItem.objects.none(),
        required=False,
        help_text=gettext_lazy("选择问题清单中的问题，提出和附议的居民可在诉求页看到表决进展和结果。"),
    )
    opens_at = _datetime_field(gettext_lazy("开始时间"))
    closes_at = _datetime_field(gettext_lazy("截止时间"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = access.manageable_regions(user, DECISION_MANAGERS)
        problems = ProblemItem.objects.filter(region__in=regions).exclude(
            status__in=[ProblemStatus.DONE, ProblemStatus.DROPPED]
        )
        for name, queryset in (
            ("region", regions.order_by("path")),
            ("rule", VoteRule.objects.filter(is_active=True).order_by("code")),
            ("estate", Estate.objects.filter(region__in=regions).select_related("region").order_by("name")),
            ("problem", problems.order_by("-created_at", "-id")),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset


def _detail_url(vote: Vote) -> str:
    return reverse("participation:vote_detail", args=[vote.pk])


def _ballot_url(vote: Vote) -> str:
    return reverse("participation:vote_ballot", args=[vote.pk])


def _errors_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- Staff: votes -------------------------------------------------------------------------------------


@staff_required
def vote_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in VoteStatus.values:
        status = ""
    page = paginate(request, selectors_votes.vote_list(user=user, status=status, search=search))
    return render(
        request,
        "participation/vote_list.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "statuses": VoteStatus.choices,
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


@staff_required
def vote_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    now = timezone.localtime().replace(second=0, microsecond=0)
    form = VoteForm(request.POST or None, user=user, initial={"opens_at": now, "closes_at": now + timedelta(days=7)})
    if request.method == "POST" and form.is_valid():
        try:
            vote = votes.vote_create(actor=user, **form.cleaned_data)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已新建表决草稿“%(title)s”。") % {"title": vote.title})
            return redirect(_detail_url(vote))
    rules = VoteRule.objects.filter(is_active=True).prefetch_related("thresholds").order_by("code")
    return render(
        request,
        "participation/vote_form.html",
        {"form": form, "rules": rules, "title": _("新建表决"), "cancel_url": reverse("participation:vote_list")},
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_required
def vote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    vote = selectors_votes.vote_detail(user=user, pk=pk)
    can_change = access.can(user, access.CHANGE, vote)
    roll_size = None
    if vote.status == VoteStatus.DRAFT:
        roll_size = selectors_votes.draft_roll_size(vote=vote, day=timezone.localdate())
    context = {
        "vote": vote,
        "result": selectors_votes.vote_result(vote=vote),
        "thresholds": selectors_votes.rule_thresholds(vote=vote),
        "draft_roll_size": roll_size,
        "can_change": can_change,
    }
    return render(request, "participation/vote_detail.html", context)


def _vote_action(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    user = request.user
    vote = selectors_votes.vote_detail(user=user, pk=pk)
    try:
        action(actor=user, vote=vote)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, done)
    return redirect(_detail_url(vote))


@require_POST
@staff_required
def vote_open(request: HttpRequest, pk: int) -> HttpResponse:
    return _vote_action(request, pk, votes.vote_open, _("表决已开始，名册已固定。"))


@require_POST
@staff_required
def vote_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _vote_action(request, pk, votes.vote_close, _("表决已结束，结果已固定。"))


@staff_required
def vote_roll(request: HttpRequest, pk: int) -> HttpResponse:
    """The roll with masked names: who has voted and how (online or on paper), never the choice."""
    user = request.user
    vote = selectors_votes.vote_detail(user=user, pk=pk)
    search = request.GET.get("q", "").strip()
    voted = request.GET.get("voted", "")
    if voted not in ("yes", "no"):
        voted = ""
    page = paginate(request, selectors_votes.vote_roll(user=user, vote=vote, search=search, voted=voted))
    page.object_list = [selectors_votes.roll_line(v) for v in page.object_list]
    return render(
        request,
        "participation/vote_roll.html",
        {"vote": vote, "page": page, "search": search, "voted": voted},
    )


@staff_required
def vote_paper(request: HttpRequest, pk: int) -> HttpResponse:
    """A meeting's sign-in sheet: staff pick roll lines and a choice for each; all or none."""
    user = request.user
    vote = selectors_votes.vote_detail(user=user, pk=pk)
    require_change(user, vote)
    search = request.GET.get("q", "").strip()
    kept: dict[int, str] = {}
    numbered: dict[int, int] = {}
    errors: list[str] = []
    if request.method == "POST":
        rows: list[tuple[int, str]] = []
        for raw in request.POST.getlist("line"):
            voter_id = int_or_none(raw)
            if voter_id is None:
                continue
            choice = request.POST.get(f"choice_{voter_id}", "")
            if choice:
                kept[voter_id] = choice
                rows.append((voter_id, choice))
                numbered[voter_id] = len(rows)
        try:
            ballots = votes.paper_record(actor=user, vote=vote, rows=rows)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            errors = list(exc.message_dict.get("rows", [])) if hasattr(exc, "error_dict") else []
            if hasattr(exc, "error_dict"):
                errors += [str(m) for k, ms in exc.message_dict.items() if k != "rows" for m in ms]
            else:
                errors = [str(m) for m in exc.messages]
        else:
            messages.success(request, _("已录入 %(n)d 张现场表决票。") % {"n": len(ballots)})
            return redirect(request.get_full_path())
    page = paginate(request, selectors_votes.vote_roll(user=user, vote=vote, search=search, voted="no"))
    lines = [
        (selectors_votes.roll_line(v, masked=False), kept.get(v.pk, ""), numbered.get(v.pk)) for v in page.object_list
    ]
    return render(
        request,
        "participation/vote_paper.html",
        {
            "vote": vote,
            "page": page,
            "lines": lines,
            "search": search,
            "errors": errors,
            "choices": Choice.choices,
            "accepting": vote.status == VoteStatus.OPEN,
        },
        status=400 if errors else 200,
    )


# --- Residents: my votes and the ballot page ---------------------------------------------------------------


@login_required
def vote_mine(request: HttpRequest) -> HttpResponse:
    """我的表决: the opened votes the resident is on the roll of, with their own ballot if cast."""
    page = paginate(request, selectors_votes.my_votes(user=request.user))
    labels = dict(Choice.choices)
    rows = [(vote, labels.get(vote.my_choice, "")) for vote in page.object_list]
    return render(request, "participation/vote_mine.html", {"page": page, "rows": rows})


@login_required
def vote_ballot(request: HttpRequest, pk: int) -> HttpResponse:
    """The vote's question and three big buttons; a confirmation; then the ballot as cast."""
    user = request.user
    vote = selectors_votes.vote_detail(user=user, pk=pk)
    status = 200
    error = ""
    confirm = ""
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        if request.POST.get("confirm") == "1":
            try:
                cast = votes.ballot_cast(actor=user, vote=vote, choice=choice)
            except PermissionDenied as exc:
                error, status = str(exc) or _("无权执行此操作"), 403
            except ValidationError as exc:
                error, status = _errors_text(exc), 400
            else:
                messages.success(
                    request, _("已表决：%(choice)s。感谢您的参与！") % {"choice": cast.get_choice_display()}
                )
                return redirect(_ballot_url(vote))
        elif choice in Choice.values:
            confirm = choice
        else:
            error, status = _("请选择同意、不同意或弃权"), 400
    ballot = selectors_votes.my_ballot(user=user, vote=vote)
    on_roll = vote.status != VoteStatus.DRAFT and selectors_votes.is_on_roll(user=user, vote=vote)
    now = timezone.now()
    accepting = vote.status == VoteStatus.OPEN and vote.opens_at <= now < vote.closes_at
    context = {
        "vote": vote,
        "ballot": ballot,
        "on_roll": on_roll,
        "accepting": accepting,
        "confirm": confirm,
        "confirm_label": dict(Choice.choices).get(confirm, ""),
        "choices": Choice.choices,
        "error": error,
        "result": selectors_votes.vote_result(vote=vote) if vote.status == VoteStatus.CLOSED else None,
    }
    return render(request, "participation/vote_ballot.html", context, status=status)


# --- Estates and property units ---------------------------------------------------------------------------


class EstateForm(forms.Form):
    region = RegionChoiceField(label=gettext_lazy("所在社区"), queryset=Region.objects.none())
    name = forms.CharField(label=gettext_lazy("小区名称"), max_length=100)
    address = forms.CharField(label=gettext_lazy("地址"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = access.manageable_regions(user, DECISION_MANAGERS).order_by("path")


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.household.number}）" if obj.household_id and obj.household else str(obj.name)


class PropertyUnitForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("房号"), max_length=40)
    area = forms.DecimalField(
        label=gettext_lazy("专有部分面积（㎡）"), max_digits=9, decimal_places=2, min_value=Decimal("0.01")
    )
    owner = OwnerChoiceField(label=gettext_lazy("业主"), queryset=Person.objects.none())

    def __init__(self, *args: Any, user: Any, estate: Estate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = estates.owner_candidates(user=user, region=estate.region).select_related("household")


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("房屋表（xlsx）"),
        help_text=gettext_lazy("列：房号、面积、业主姓名、业主身份证号后四位或手机号。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}),
    )


def _estate_url(estate: Estate) -> str:
    return reverse("participation:estate_detail", args=[estate.pk])


@staff_required
def estate_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    page = paginate(request, estates.estate_list(user=user, search=search))
    return render(
        request,
        "participation/estate_list.html",
        {
            "page": page,
            "search": search,
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


@staff_required
def estate_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    form = EstateForm(request.POST or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: estates.estate_create(actor=user, **data),
        done=lambda estate: (_("已新建小区“%(name)s”。") % {"name": estate.name}, _estate_url(estate)),
        title=_("新建小区"),
        cancel_url=reverse("participation:estate_list"),
    )


@staff_required
def estate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    estate = estates.estate_detail(user=user, pk=pk)
    page = paginate(request, estates.estate_units(user=user, estate=estate))
    return render(
        request,
        "participation/estate_detail.html",
        {"estate": estate, "page": page, "can_change": access.can(user, access.CHANGE, estate)},
    )


@staff_required
def estate_unit_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    estate = estates.estate_detail(user=user, pk=pk)
    require_change(user, estate)
    form = PropertyUnitForm(request.POST or None, user=user, estate=estate)
    return form_page(
        request,
        form,
        save=lambda data: estates.unit_create(actor=user, estate=estate, **data),
        done=lambda unit: (_("已添加房屋 %(number)s。") % {"number": unit.number}, _estate_url(estate)),
        title=_("添加房屋：%(name)s") % {"name": estate.name},
        cancel_url=_estate_url(estate),
    )


@staff_required
def propertyunit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    unit = access.get_visible_or_404(PropertyUnit.objects.select_related("estate__region", "owner"), user, pk=pk)
    require_change(user, unit)
    initial = {"number": unit.number, "area": unit.area, "owner": unit.owner}
    form = PropertyUnitForm(request.POST or None, user=user, estate=unit.estate, initial=initial)
    return form_page(
        request,
        form,
        save=lambda data: estates.unit_update(actor=user, unit=unit, **data),
        done=lambda _unit: (_("已保存。"), _estate_url(unit.estate)),
        title=_("编辑房屋：%(estate)s %(number)s") % {"estate": unit.estate.name, "number": unit.number},
        cancel_url=_estate_url(unit.estate),
    )


@staff_required
def estate_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Units from an xlsx sheet; any bad row imports nothing and every bad row is listed."""
    user = request.user
    estate = estates.estate_detail(user=user, pk=pk)
    require_change(user, estate)
    form = ImportForm(request.POST or None, request.FILES or None)
    row_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            created = estates.units_import(actor=user, estate=estate, data=form.cleaned_data["file"].read())
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            row_errors = list(exc.message_dict.get("rows", []))
            if "file" in exc.message_dict:
                form.add_error("file", exc.message_dict["file"])
        else:
            messages.success(request, _("已导入 %(n)d 套房屋。") % {"n": len(created)})
            return redirect(_estate_url(estate))
    invalid = request.method == "POST" and (bool(row_errors) or bool(form.errors))
    return render(
        request,
        "participation/estate_import.html",
        {"estate": estate, "form": form, "row_errors": row_errors, "cancel_url": _estate_url(estate)},
        status=400 if invalid else 200,
    )


@login_required
def estate_mine(request: HttpRequest) -> HttpResponse:
    """An owner's own units and floor areas (the records owners' votes count)."""
    return render(request, "participation/estate_mine.html", {"units": estates.my_units(user=request.user)})


# Included by cocreate/participation/urls.py under "votes/" (namespace "participation").
urlpatterns = [
    path("", vote_list, name="vote_list"),
    path("new/", vote_create, name="vote_create"),
    path("mine/", vote_mine, name="vote_mine"),
    path("<int:pk>/", vote_detail, name="vote_detail"),
    path("<int:pk>/open/", vote_open, name="vote_open"),
    path("<int:pk>/close/", vote_close, name="vote_close"),
    path("<int:pk>/roll/", vote_roll, name="vote_roll"),
    path("<int:pk>/paper/", vote_paper, name="vote_paper"),
    path("<int:pk>/ballot/", vote_ballot, name="vote_ballot"),
    # Estates live here until urls.py gives them their own "estates/" prefix.
    path("estates/", estate_list, name="estate_list"),
    path("estates/new/", estate_create, name="estate_create"),
    path("estates/mine/", estate_mine, name="estate_mine"),
    path("estates/<int:pk>/", estate_detail, name="estate_detail"),
    path("estates/<int:pk>/units/new/", estate_unit_add, name="estate_unit_add"),
    path("estates/<int:pk>/import/", estate_import, name="estate_import"),
    path("estates/units/<int:pk>/edit/", propertyunit_edit, name="propertyunit_edit"),
]
