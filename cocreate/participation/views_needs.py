"""Pages of needs (诉求) and the problem list (问题清单).

Residents (on phones): raise a need, "我的诉求" with every status change and its reason, the
community's needs with a 附议 button, a need's page (supporter count, never supporters' names).
Staff (on desktops): the screening queue, merge, put on the problem list, decline with a reason,
the problem list and its items. Views parse input, fetch through the access authority and call
``cocreate.participation.needs``; URL names start with ``need_`` / ``problemitem_`` so the
route × role matrix fills their ids.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.models import Person
from cocreate.core.views import form_page, paginate, service_errors_as_message, staff_required
from cocreate.participation import needs
from cocreate.participation.models import Need, NeedCategory, NeedStatus, ProblemItem, ProblemStatus

# --- Forms (they parse input; the services in ``needs`` decide) ---------------------------------------


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Zero or more photos from one <input type=file multiple>; the service checks each one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultiplePhotoInput(attrs={"accept": "image/*", "capture": "environment"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(PhotosField, self).clean(f, initial) for f in files if f]


class MapPointWidget(forms.MultiWidget):
    """Latitude and longitude boxes with 使用当前位置 / 清除 buttons (``map_point.js``); no map tiles."""

    template_name = "participation/widgets/map_point.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        box = {"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false", "maxlength": "20"}
        super().__init__(
            {
                "lat": forms.TextInput(attrs={**box, "data-cc-geo": "lat", "placeholder": "31.285412"}),
                "lng": forms.TextInput(attrs={**box, "data-cc-geo": "lng", "placeholder": "114.631208"}),
            },
            attrs,
        )

    def decompress(self, value: Any) -> list[Any]:
        return list(value) if value else [None, None]


class MapPointField(forms.MultiValueField):
    """An optional (latitude, longitude) pair: both or neither, in range, rounded to 6 decimals (~0.1 m)."""

    widget = MapPointWidget
    default_error_messages = {"invalid": gettext_lazy("请输入数字，如 31.285412")}

    def __init__(self, **kwargs: Any) -> None:
        invalid = {"invalid": self.default_error_messages["invalid"]}
        super().__init__(
            fields=(
                forms.DecimalField(required=False, error_messages=invalid),
                forms.DecimalField(required=False, error_messages=invalid),
            ),
            require_all_fields=False,
            **kwargs,
        )

    def compress(self, data_list: list[Any]) -> tuple[Decimal, Decimal] | None:
        latitude, longitude = [*data_list, None, None][:2]
        if latitude is None and longitude is None:
            return None
        if latitude is None or longitude is None:
            raise ValidationError(_("请同时填写纬度和经度，或都不填"), code="point_incomplete")
        if not Decimal(-90) <= latitude <= Decimal(90):
            raise ValidationError(_("纬度须在 -90 到 90 之间"), code="latitude_range")
        if not Decimal(-180) <= longitude <= Decimal(180):
            raise ValidationError(_("经度须在 -180 到 180 之间"), code="longitude_range")
        step = Decimal("0.000001")
        return latitude.quantize(step, ROUND_HALF_UP), longitude.quantize(step, ROUND_HALF_UP)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


class NeedChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.title}（{obj.get_status_display()}）"


class NeedMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.title}"


class NeedForm(forms.Form):
    """What a resident tells: title, description, category, place and optional photos."""

    title = forms.CharField(label=gettext_lazy("标题"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("具体内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    category = forms.ChoiceField(label=gettext_lazy("类别"), choices=[("", "—"), *NeedCategory.choices])
    place = forms.CharField(
        label=gettext_lazy("地点"), max_length=200, required=False, help_text=gettext_lazy("如：村口小学门前")
    )
    point = MapPointField(
        label=gettext_lazy("位置坐标（可选）"),
        required=False,
        help_text=gettext_lazy(
            "可不填。在现场点“使用当前位置”自动填写（手机定位，无需联网），也可手动填写纬度、经度。"
        ),
    )
    photos = PhotosField(
        label=gettext_lazy("照片（可选）"), required=False, help_text=gettext_lazy("可不上传；最多6张。")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The service takes the pair as latitude / longitude.
        point = data.pop("point", None)
        data["latitude"], data["longitude"] = point or (None, None)
        return data


class NeedRecordForm(NeedForm):
    """A need recorded on a home visit for a resident of the recorder's area."""

    person = PersonChoiceField(label=gettext_lazy("提出人（居民）"), queryset=Person.objects.none())
    field_order = ["person", "title", "description", "category", "place", "point", "photos"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["person"]
        assert isinstance(field, forms.ModelChoiceField)
        scope = access.scope_of(user)
        people = Person.objects.visible_to(user).select_related("region")
        if not scope.is_superuser:
            people = people.filter(access.in_paths(scope.paths_for(needs.RECORDERS), "region__path"))
        field.queryset = people.order_by("region__path", "name", "id")


class MergeForm(forms.Form):
    into = NeedChoiceField(label=gettext_lazy("合并到"), queryset=Need.objects.none())
    note = forms.CharField(label=gettext_lazy("说明（可选）"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, need: Need, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["into"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = needs.merge_targets(user=user, need=need)


class ScreenForm(forms.Form):
    """Onto the problem list: an existing item, or a new one; other needs may join this one."""

    problem = forms.ModelChoiceField(
        label=gettext_lazy("列入已有问题"),
        queryset=ProblemItem.objects.none(),
        required=False,
        empty_label=gettext_lazy("新建问题"),
    )
    title = forms.CharField(
        label=gettext_lazy("新问题名称"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("新建问题时填写；不填则用诉求标题。"),
    )
    description = forms.CharField(
        label=gettext_lazy("新问题说明"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.ChoiceField(
        label=gettext_lazy("新问题类别"),
        choices=[("", gettext_lazy("同诉求类别")), *NeedCategory.choices],
        required=False,
    )
    others = NeedMultipleChoiceField(
        label=gettext_lazy("一并列入的其他诉求"),
        queryset=Need.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, user: Any, need: Need, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        problem = self.fields["problem"]
        others = self.fields["others"]
        assert isinstance(problem, forms.ModelChoiceField) and isinstance(others, forms.ModelMultipleChoiceField)
        problem.queryset = needs.problem_choices(user=user, need=need)
        others.queryset = (
            needs.merge_targets(user=user, need=need).filter(status=NeedStatus.SUBMITTED).order_by("-created_at")
        )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("不予采纳的理由"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("提出人会看到这段说明。"),
    )


class ProblemStatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("状态"), choices=ProblemStatus.choices)
    reason = forms.CharField(
        label=gettext_lazy("状态说明"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("不予实施时必须填写。"),
    )


# --- Helpers --------------------------------------------------------------------------------------


def _detail_url(need: Need) -> str:
    return reverse("participation:need_detail", args=[need.pk])


def _choice(value: str, allowed: list[str]) -> str:
    return value if value in allowed else ""


def _viewer(request: HttpRequest) -> dict[str, Any]:
    """Who is looking, for the 附议 buttons: their person and the community they may second in."""
    user = request.user
    person = Person.objects.select_related("region").filter(pk=getattr(user, "person_id", None)).first()
    community = needs.community_of(person.region) if person is not None and person.is_verified else None
    return {
        "my_person_id": person.pk if person else None,
        "my_community_id": community.pk if community else None,
        "closed_statuses": sorted(needs.CLOSED_FOR_SUPPORT),
    }


def _screenable(request: HttpRequest, pk: int) -> Need:
    """A need the user may screen (others, visible or not, answer 404)."""
    need = needs.need_detail(user=request.user, pk=pk)
    if not needs.can_screen(request.user, need):
        raise Http404("not found")
    return need


# --- Resident pages --------------------------------------------------------------------------------


@login_required
def need_list(request: HttpRequest) -> HttpResponse:
    """The community's needs: newest or most seconded first, 10 a page on a phone."""
    user = request.user
    category = _choice(request.GET.get("category", ""), NeedCategory.values)
    status = _choice(request.GET.get("status", ""), NeedStatus.values)
    order = request.GET.get("order", "new")
    order = order if order in needs.ORDERS else "new"
    qs = needs.need_list(user=user, status=status, category=category, order=order, include_merged=False, counted=False)
    page = paginate(request, qs.values_list("pk", flat=True), per_page=settings.PHONE_PAGE_SIZE)
    page.object_list = needs.need_page(page.object_list, user)
    context = {
        "page": page,
        "category": category,
        "status": status,
        "order": order,
        "categories": NeedCategory.choices,
        "statuses": NeedStatus.choices,
        **_viewer(request),
    }
    return render(request, "participation/need_list.html", context)


@login_required
def need_mine(request: HttpRequest) -> HttpResponse:
    """我的诉求: each need's status with its reason and every change so far."""
    page = paginate(request, needs.my_needs(user=request.user))
    history = needs.status_history(page.object_list)
    rows = [(need, history.get(need.pk, [])) for need in page.object_list]
    return render(request, "participation/need_mine.html", {"page": page, "rows": rows})


@login_required
def need_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    refusal = needs.raise_refusal(user)
    if refusal:
        messages.error(request, refusal)
        return redirect("participation:need_list")
    form = NeedForm(request.POST or None, request.FILES or None)
    return form_page(
        request,
        form,
        save=lambda data: needs.need_raise(actor=user, **data),
        done=lambda need: (_("诉求已提交，处理进展会通知您。"), _detail_url(need)),
        title=_("我要提诉求"),
        cancel_url=reverse("participation:need_mine"),
        submit=_("提交"),
    )


@staff_required
def need_record(request: HttpRequest) -> HttpResponse:
    """A grid worker or village staff records a need for a resident on a home visit."""
    user = request.user
    if not needs.can_record_anywhere(user):
        raise PermissionDenied
    form = NeedRecordForm(request.POST or None, request.FILES or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: needs.need_raise(actor=user, **data),
        done=lambda need: (_("已为居民登记诉求。"), _detail_url(need)),
        title=_("入户代录诉求"),
        cancel_url=reverse("participation:need_screening"),
        submit=_("提交"),
    )


@login_required
def need_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    need = needs.need_detail(user=user, pk=pk)
    can_screen = needs.can_screen(user, need)
    context = {
        "need": need,
        "photos": needs.photos_of(user=user, need=need),
        "history": needs.status_history([need])[need.pk],
        "can_screen": can_screen,
        "is_open": need.status == NeedStatus.SUBMITTED,
        # Who seconded is for staff only; other residents see the count.
        "supporters": needs.supporters(user=user, need=need) if can_screen else None,
        **_viewer(request),
    }
    return render(request, "participation/need_detail.html", context)


@require_POST
@login_required
def need_second(request: HttpRequest, pk: int) -> HttpResponse:
    need = needs.need_detail(user=request.user, pk=pk)
    try:
        _support, created = needs.need_second(actor=request.user, need=need)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("无权执行此操作"))
    except ValidationError as exc:
        service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已附议。") if created else _("您已附议过这条诉求。"))
    fallback = _detail_url(need)
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/community/") and "//" not in target else fallback)


# --- Staff pages ---------------------------------------------------------------------------------------


@staff_required
def need_screening(request: HttpRequest) -> HttpResponse:
    """The screening queue: submitted needs of the communities the user manages."""
    category = _choice(request.GET.get("category", ""), NeedCategory.values)
    page = paginate(request, needs.screening_queue(user=request.user, category=category))
    return render(
        request,
        "participation/need_screening.html",
        {
            "page": page,
            "category": category,
            "categories": NeedCategory.choices,
            "can_record": needs.can_record_anywhere(request.user),
        },
    )


@staff_required
def need_merge(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    need = _screenable(request, pk)
    form = MergeForm(request.POST or None, user=user, need=need)
    return form_page(
        request,
        form,
        save=lambda data: needs.need_merge(actor=user, need=need, into=data["into"], note=data["note"]),
        done=lambda merged: (_("已合并，附议人已并入目标诉求。"), _detail_url(merged.merged_into)),
        title=_("合并重复诉求：%(title)s") % {"title": need.title},
        cancel_url=_detail_url(need),
        submit=_("合并"),
    )


@staff_required
def need_screen(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    need = _screenable(request, pk)
    form = ScreenForm(request.POST or None, user=user, need=need)

    def save(data: dict[str, Any]) -> ProblemItem:
        return needs.need_screen(
            actor=user,
            needs=[need, *data["others"]],
            problem=data["problem"],
            title=data["title"],
            description=data["description"],
            category=data["category"],
        )

    return form_page(
        request,
        form,
        save=save,
        done=lambda problem: (
            _("已列入问题清单“%(title)s”。") % {"title": problem.title},
            reverse("participation:problemitem_detail", args=[problem.pk]),
        ),
        title=_("列入问题清单：%(title)s") % {"title": need.title},
        cancel_url=_detail_url(need),
        submit=_("列入问题清单"),
    )


@staff_required
def need_decline(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    need = _screenable(request, pk)
    form = DeclineForm(request.POST or None)
    return form_page(
        request,
        form,
        save=lambda data: needs.need_decline(actor=user, need=need, reason=data["reason"]),
        done=lambda declined: (_("已不予采纳，提出人会收到理由。"), _detail_url(declined)),
        title=_("不予采纳：%(title)s") % {"title": need.title},
        cancel_url=_detail_url(need),
        submit=_("不予采纳"),
    )


# --- Problem list --------------------------------------------------------------------------------------


@login_required
def problemitem_list(request: HttpRequest) -> HttpResponse:
    status = _choice(request.GET.get("status", ""), ProblemStatus.values)
    category = _choice(request.GET.get("category", ""), NeedCategory.values)
    page = paginate(request, needs.problem_list(user=request.user, status=status, category=category))
    return render(
        request,
        "participation/problem_list.html",
        {
            "page": page,
            "status": status,
            "category": category,
            "statuses": ProblemStatus.choices,
            "categories": NeedCategory.choices,
        },
    )


@login_required
def problemitem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    problem = needs.problem_detail(user=user, pk=pk)
    can_change = access.can(user, access.CHANGE, problem) and problem.status not in (
        ProblemStatus.DONE,
        ProblemStatus.DROPPED,
    )
    context = {
        "problem": problem,
        "linked": needs.problem_needs(user=user, problem=problem),
        "problem_votes": needs.problem_votes(user=user, problem=problem),
        "is_staff_view": access.scope_of(user).is_staff_member or access.scope_of(user).is_superuser,
        "can_change": can_change,
        "status_form": ProblemStatusForm(initial={"status": problem.status}) if can_change else None,
    }
    return render(request, "participation/problem_detail.html", context)


@require_POST
@login_required
def problemitem_status(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    problem = needs.problem_detail(user=user, pk=pk)
    form = ProblemStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择状态"))
    else:
        try:
            needs.problem_update_status(
                actor=user, problem=problem, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"]
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            service_errors_as_message(request, exc)
        else:
            messages.success(request, _("问题状态已更新。"))
    return redirect("participation:problemitem_detail", pk=problem.pk)


# Included by cocreate/participation/urls.py under "needs/" (namespace "participation").
urlpatterns = [
    path("", need_list, name="need_list"),
    path("mine/", need_mine, name="need_mine"),
    path("new/", need_create, name="need_create"),
    path("record/", need_record, name="need_record"),
    path("screening/", need_screening, name="need_screening"),
    path("<int:pk>/", need_detail, name="need_detail"),
    path("<int:pk>/second/", need_second, name="need_second"),
    path("<int:pk>/merge/", need_merge, name="need_merge"),
    path("<int:pk>/screen/", need_screen, name="need_screen"),
    path("<int:pk>/decline/", need_decline, name="need_decline"),
    path("problems/", problemitem_list, name="problemitem_list"),
    path("problems/<int:pk>/", problemitem_detail, name="problemitem_detail"),
    path("problems/<int:pk>/status/", problemitem_status, name="problemitem_status"),
]
