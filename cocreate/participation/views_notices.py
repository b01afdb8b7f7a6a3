"""Pages of public notices (公示): staff draft, publish and answer; residents read and object.

Views parse input, fetch through the access authority and call ``cocreate.participation.notices``.
The notice page is the residents' phone page too: the period, the text, the objection form
while the notice runs, and the resident's own objections with their answers. URL names start
with ``notice_`` (or ``objection_``) so the route × role matrix fills their ids.
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
from cocreate.core.concurrency import version_field
from cocreate.core.forms import RegionChoiceField, apply_service_errors
from cocreate.core.models import Region, RegionLevel
from cocreate.core.views import (
    form_page,
    history_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
    versioned,
)
from cocreate.participation import notices
from cocreate.participation.models import Notice, NoticeStatus, ObjectionStatus
from cocreate.participation.rules import DECISION_MANAGERS


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class NoticeForm(forms.Form):
    """A notice's community, title, text and period (start day and number of days)."""

    region = RegionChoiceField(label=gettext_lazy("公示社区（村）"), queryset=Region.objects.none())
    title = forms.CharField(label=gettext_lazy("公示标题"), max_length=200)
    body = forms.CharField(label=gettext_lazy("公示内容"), widget=forms.Textarea(attrs={"rows": 8}))
    starts_on = forms.DateField(label=gettext_lazy("公示开始日期"), widget=_date_input())
    days = forms.IntegerField(
        label=gettext_lazy("公示天数"),
        min_value=1,
        max_value=notices.MAX_DAYS,
        initial=notices.DEFAULT_DAYS,
        help_text=gettext_lazy("含开始当天，一般为7天。"),
    )

    def __init__(self, *args: Any, user: Any, edit: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if edit:
            del self.fields["region"]
            self.fields["expected_version"] = version_field()
            return
        region = self.fields["region"]
        assert isinstance(region, forms.ModelChoiceField)
        region.queryset = (
            access.manageable_regions(user, DECISION_MANAGERS).filter(level__gte=RegionLevel.VILLAGE).order_by("path")
        )


class ObjectionForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("异议内容"),
        max_length=notices.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("请写明对公示内容的哪一部分有异议及理由。"),
    )


class AnswerForm(forms.Form):
    result = forms.ChoiceField(
        label=gettext_lazy("答复结论"),
        choices=[
            (ObjectionStatus.ANSWERED, gettext_lazy("异议不成立")),
            (ObjectionStatus.UPHELD, gettext_lazy("异议成立")),
        ],
        widget=forms.RadioSelect,
    )
    answer = forms.CharField(
        label=gettext_lazy("答复内容"), max_length=notices.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 5})
    )


def _detail_url(notice: Notice) -> str:
    return reverse("participation:notice_detail", args=[notice.pk])


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    """Staff: every notice of their regions; residents: their community's published notices."""
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in NoticeStatus.values:
        status = ""
    region_id = int_or_none(request.GET.get("region"))
    region = Region.objects.visible_to(user).filter(pk=region_id).first() if region_id else None
    page = paginate(request, notices.notice_list(user=user, status=status, search=search, region=region))
    return render(
        request,
        "participation/notice_list.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "statuses": NoticeStatus.choices,
            "region": region,
            "today": timezone.localdate(),
            "can_create": access.manageable_regions(user, DECISION_MANAGERS).exists(),
        },
    )


@staff_required
def notice_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, DECISION_MANAGERS)
    form = NoticeForm(request.POST or None, user=user, initial={"starts_on": timezone.localdate()})
    return form_page(
        request,
        form,
        save=lambda data: notices.notice_create(actor=user, **data),
        done=lambda notice: (
            _("已新建公示草稿“%(title)s”，发布后开始公示。") % {"title": notice.title},
            _detail_url(notice),
        ),
        title=_("新建公示"),
        cancel_url=reverse("participation:notice_list"),
    )


def _detail_context(
    request: HttpRequest, notice: Notice, objection_form: ObjectionForm | None = None
) -> dict[str, Any]:
    user = request.user
    today = timezone.localdate()
    can_change = access.can(user, access.CHANGE, notice)
    may_object = notices.may_object(user, notice, today)
    return {
        "notice": notice,
        "days": notices.period_days(notice),
        "is_running": notices.is_running(notice, today),
        "not_started": notice.status == NoticeStatus.PUBLISHED and today < notice.starts_on,
        "objections": notices.objections_for(user=user, notice=notice),
        "can_change": can_change,
        "can_edit": can_change and notice.status != NoticeStatus.ENDED,
        "can_publish": can_change and notice.status == NoticeStatus.DRAFT,
        "may_object": may_object,
        "objection_form": objection_form or (ObjectionForm() if may_object else None),
        "tab": "detail",
    }


@login_required
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = notices.notice_detail(user=request.user, pk=pk)
    return render(request, "participation/notice_detail.html", _detail_context(request, notice))


@staff_required
def notice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    notice = notices.notice_detail(user=user, pk=pk)
    require_change(user, notice)
    if notice.status == NoticeStatus.ENDED:
        messages.error(request, _("公示期已满，公示已结束，不能再修改"))
        return redirect(_detail_url(notice))
    initial = {
        "title": notice.title,
        "body": notice.body,
        "starts_on": notice.starts_on,
        "days": notices.period_days(notice),
        "expected_version": notices.NOTICE_VERSION.of(notice),
    }
    form = NoticeForm(request.POST or None, user=user, edit=True, initial=initial)
    return form_page(
        request,
        form,
        save=lambda data: notices.notice_update(actor=user, notice=notice, **versioned(data)),
        done=lambda _result: (_("已保存。"), _detail_url(notice)),
        title=_("编辑公示：%(title)s") % {"title": notice.title},
        cancel_url=_detail_url(notice),
    )


@require_POST
@staff_required
def notice_publish(request: HttpRequest, pk: int) -> HttpResponse:
    notice = notices.notice_detail(user=request.user, pk=pk)
    try:
        notices.notice_publish(actor=request.user, notice=notice)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(str(m) for m in exc.messages))
    else:
        messages.success(request, _("公示已发布，本社区居民已收到通知。"))
    return redirect(_detail_url(notice))


@require_POST
@login_required
def notice_objection_add(request: HttpRequest, pk: int) -> HttpResponse:
    """A resident's objection; a refusal re-shows the notice page with the reason (400)."""
    notice = notices.notice_detail(user=request.user, pk=pk)
    form = ObjectionForm(request.POST)
    if form.is_valid():
        try:
            notices.objection_lodge(actor=request.user, notice=notice, text=form.cleaned_data["text"])
        except PermissionDenied:
            form.add_error(None, _("只有本社区居民可以对公示提出异议"))
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "notice" in exc.error_dict:
                form.add_error(None, exc.error_dict["notice"])
            else:
                apply_service_errors(form, exc)
        else:
            messages.success(request, _("异议已提交，工作人员答复后会通知您。"))
            return redirect(_detail_url(notice))
    context = _detail_context(request, notice, form)
    context["objection_form"] = form
    return render(request, "participation/notice_detail.html", context, status=400)


@staff_required
def notice_objection_answer(request: HttpRequest, pk: int, objection_id: int) -> HttpResponse:
    user = request.user
    notice = notices.notice_detail(user=user, pk=pk)
    require_change(user, notice)
    objection = notices.objection_detail(user=user, notice=notice, pk=objection_id)
    if objection.status != ObjectionStatus.OPEN:
        messages.info(request, _("该异议已答复"))
        return redirect(_detail_url(notice))
    form = AnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            notices.objection_answer(
                actor=user,
                objection=objection,
                upheld=form.cleaned_data["result"] == ObjectionStatus.UPHELD,
                answer=form.cleaned_data["answer"],
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已答复，提出人会收到通知。"))
            return redirect(_detail_url(notice))
    context = {"form": form, "notice": notice, "objection": objection, "cancel_url": _detail_url(notice)}
    return render(
        request, "participation/notice_answer.html", context, status=400 if form.is_bound and form.errors else 200
    )


@login_required
def objection_mine(request: HttpRequest) -> HttpResponse:
    """The objections the signed-in resident lodged, with the answers."""
    page = paginate(request, notices.my_objections(user=request.user))
    return render(request, "participation/notice_objections_mine.html", {"page": page})


@staff_required
def notice_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Notice, pk, "participation:notice_detail")


# Included by cocreate/participation/urls.py under "notices/" (namespace "participation").
urlpatterns = [
    path("", notice_list, name="notice_list"),
    path("new/", notice_create, name="notice_create"),
    path("my-objections/", objection_mine, name="objection_mine"),
    path("<int:pk>/", notice_detail, name="notice_detail"),
    path("<int:pk>/edit/", notice_edit, name="notice_edit"),
    path("<int:pk>/publish/", notice_publish, name="notice_publish"),
    path("<int:pk>/objections/", notice_objection_add, name="notice_objection_add"),
    path("<int:pk>/objections/<int:objection_id>/answer/", notice_objection_answer, name="notice_objection_answer"),
    path("<int:pk>/history/", notice_history, name="notice_history"),
]
