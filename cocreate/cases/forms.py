"""Forms of the grievance pages: they parse input; ``cocreate.cases.services`` decides.

Every transition form carries ``expected_version`` (the case's version when the page was drawn), so
a second person acting on a stale page gets "案件已被他人更新" instead of overwriting the first.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseLevel,
    Complexity,
    DeclineReason,
    Risk,
    Satisfaction,
    Urgency,
)
from cocreate.cases.services import MAX_EXTENSION_DAYS, EscalationReason
from cocreate.core.models import Region, Unit
from cocreate.participation.models import NeedCategory

PHONE_ATTRS = {"inputmode": "tel", "autocomplete": "tel", "maxlength": "20"}


class Radios(forms.RadioSelect):
    """Radio buttons as Bootstrap form-checks side by side (large enough to tap on a phone)."""

    template_name = "cases/widgets/radios.html"


class RegionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class UnitField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


class UnitsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


# --- Optional photos and files ----------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the type and size of each are checked by the service (core evidence)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        items = data if isinstance(data, (list, tuple)) else [data]
        return [single(item, initial) for item in items if item]


def photo_field() -> forms.FileField:
    """Opens the phone's camera straight away (``capture``); optional."""
    return MultipleFileField(
        label=_("拍照（可选）"),
        widget=MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )


def files_field() -> forms.FileField:
    return MultipleFileField(
        label=_("照片或材料（可选）"),
        help_text=_("可多选，最多6个：照片、PDF、Word、Excel、纯文本。出错时请重新选择文件。"),
    )


class AttachForm(forms.Form):
    """Evidence of handling on a case's page."""

    photo = photo_field()
    attachments = files_field()
    description = forms.CharField(label=_("说明（可选）"), max_length=200, required=False)


# --- Intake --------------------------------------------------------------------------------------------


class IntakeForm(forms.Form):
    """What a grid worker or an office takes down in a minute on a phone; residents report for themselves."""

    region = RegionField(label=_("事发村（社区）或网格"), queryset=Region.objects.none(), empty_label=None)
    channel = forms.ChoiceField(label=_("来源渠道"), choices=())
    applicant_name = forms.CharField(label=_("申请人姓名"), max_length=50, required=False)
    applicant_phone = forms.CharField(
        label=_("申请人电话"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs=PHONE_ATTRS),
        help_text=_("查询进展和评价都凭查询码加这个电话。"),
    )
    applicant_id_number = forms.CharField(
        label=_("身份证号（可选）"),
        max_length=18,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    is_anonymous = forms.BooleanField(label=_("匿名反映（对外不显示申请人姓名）"), required=False)
    other_name = forms.CharField(label=_("对方当事人（可选）"), max_length=50, required=False)
    other_phone = forms.CharField(
        label=_("对方电话（可选）"), max_length=20, required=False, widget=forms.TextInput(attrs=PHONE_ATTRS)
    )
    category = forms.ModelChoiceField(
        label=_("纠纷类别"),
        queryset=CaseCategory.objects.filter(is_active=True),
        required=False,
        empty_label=_("不确定"),
    )
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices, initial=Urgency.NORMAL, widget=Radios)
    place = forms.CharField(label=_("具体地点"), max_length=200, required=False)
    description = forms.CharField(label=_("情况描述"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    photo = photo_field()
    attachments = files_field()

    def __init__(self, *args: Any, regions: QuerySet[Region], channels: list[str], resident: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        assert isinstance(region, forms.ModelChoiceField)
        region.queryset = regions
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ChoiceField)
        channel.choices = [(c, CaseChannel(c).label) for c in channels]
        channel.initial = channels[0] if channels else None
        if len(channels) == 1:
            channel.widget = forms.HiddenInput()
        if resident:
            # A resident reports for themselves: name and phone default to their own.
            for name in ("applicant_name", "applicant_phone"):
                self.fields[name].help_text = _("不填则用您账号的姓名和电话。")


# --- Transitions (each form: the service's arguments + expected_version) ---------------------------------------


class ActionForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("expected_version", case.version)
        super().__init__(*args, **kwargs)
        self.case = case


def _note(label: Any, required: bool = False, rows: int = 2) -> forms.CharField:
    return forms.CharField(label=label, max_length=1000, required=required, widget=forms.Textarea(attrs={"rows": rows}))


class NoteForm(ActionForm):
    note = _note(_("说明（可选）"))


class SignForm(ActionForm):
    pass


class DeclineForm(ActionForm):
    reason = forms.ChoiceField(label=_("不予受理原因"), choices=DeclineReason.choices)
    note = _note(_("说明（选“无实质内容”时必填）"))


class AnswerForm(ActionForm):
    answer = _note(_("答复内容"), required=True, rows=3)


class TriageForm(ActionForm):
    category = forms.ModelChoiceField(label=_("纠纷类别"), queryset=CaseCategory.objects.filter(is_active=True))
    risk = forms.ChoiceField(label=_("风险等级"), choices=Risk.choices, initial=Risk.LOW)
    complexity = forms.ChoiceField(label=_("复杂程度"), choices=Complexity.choices, initial=Complexity.SIMPLE)
    level = forms.TypedChoiceField(
        label=_("处置层级"),
        choices=[("", _("按建议（小事不出村、一般事不出镇、大事不出县）")), *CaseLevel.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    note = _note(_("说明（可选）"))

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("category", case.category_id)
        super().__init__(*args, case=case, **kwargs)


def units_for(case: Case) -> QuerySet[Unit]:
    """Units that may handle ``case``: at its level, in an area containing its region."""
    codes = [c for c in case.region.path.strip("/").split("/") if c]
    return (
        Unit.objects.filter(is_active=True, region__level=case.level, region__code__in=codes)
        .select_related("region")
        .order_by("region__path", "name")
    )


class DispatchForm(ActionForm):
    lead_unit = UnitField(label=_("主办单位"), queryset=Unit.objects.none())
    co_units = UnitsField(
        label=_("协办单位（可选）"), queryset=Unit.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    note = _note(_("说明（可选）"))

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, case=case, **kwargs)
        for name in ("lead_unit", "co_units"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = units_for(case)


class ReturnForm(ActionForm):
    reason = _note(_("退单理由"), required=True)


class ReturnDecideForm(ActionForm):
    redispatch = forms.TypedChoiceField(
        label=_("审核决定"),
        choices=[("0", _("退回原单位继续办理")), ("1", _("改派其他单位"))],
        coerce=lambda v: v == "1",
        widget=Radios,
        initial="0",
    )
    lead_unit = UnitField(label=_("改派主办单位"), queryset=Unit.objects.none(), required=False)
    note = _note(_("审核意见（退回原单位时必填）"))

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, case=case, **kwargs)
        field = self.fields["lead_unit"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = units_for(case).exclude(pk=case.lead_unit_id or 0)


class ContactForm(ActionForm):
    note = _note(_("联系情况"), required=True)


class ReplyForm(ActionForm):
    answer = forms.CharField(label=_("答复内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class CloseForm(ActionForm):
    resolved = forms.TypedChoiceField(
        label=_("回访结果"),
        choices=[("1", _("已化解")), ("0", _("未化解"))],
        coerce=lambda v: v == "1",
        widget=Radios,
        initial="1",
    )
    note = _note(_("回访情况"), required=True)


class UnreasonableForm(ActionForm):
    note = _note(_("审核意见"), required=True)


class ExtensionRequestForm(ActionForm):
    days = forms.IntegerField(label=_("延期工作日数"), min_value=1, max_value=MAX_EXTENSION_DAYS, initial=5)
    reason = _note(_("延期理由"), required=True)


class ExtensionDecideForm(ActionForm):
    approve = forms.TypedChoiceField(
        label=_("审批决定"),
        choices=[("1", _("同意延期")), ("0", _("不同意"))],
        coerce=lambda v: v == "1",
        widget=Radios,
        initial="1",
    )
    note = _note(_("审批意见（不同意时必填）"))


class EscalateForm(ActionForm):
    reason = forms.ChoiceField(label=_("提级原因"), choices=[(k, _(v)) for k, v in EscalationReason.LABELS.items()])
    note = _note(_("说明（超出本级处置能力时必填）"))


class MergeForm(ActionForm):
    into_number = forms.CharField(label=_("合并到案件编号"), max_length=20, help_text=_("如 2026-000123"))
    note = _note(_("说明（可选）"))


# The need category a case's category most often becomes (a default the office may change).
NEED_CATEGORY_FOR_CASE = {
    "environment": NeedCategory.ENVIRONMENT,
    "traffic": NeedCategory.INFRASTRUCTURE,
    "property_mgmt": NeedCategory.PUBLIC_SERVICES,
    "medical": NeedCategory.PUBLIC_SERVICES,
}


class ToNeedForm(ActionForm):
    """Turning a case into a need on the community's problem list: staff retype it without the parties."""

    title = forms.CharField(
        label=_("议题标题"),
        max_length=100,
        help_text=_("对群众公开：不要写当事人的姓名、电话、身份证号。"),
    )
    description = forms.CharField(
        label=_("议题内容"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("已按案件描述预填，请删除姓名、电话、住址等个人信息，只保留公共问题本身。"),
    )
    category = forms.ChoiceField(label=_("议题类别"), choices=NeedCategory.choices)

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("title", case.title or case.description[:30])
        kwargs["initial"].setdefault("description", case.description)
        code = case.category.code if case.category_id and case.category else ""
        kwargs["initial"].setdefault("category", NEED_CATEGORY_FOR_CASE.get(code, NeedCategory.GOVERNANCE))
        super().__init__(*args, case=case, **kwargs)


class RateForm(forms.Form):
    """The applicant's rating of a reply (their account, or the tracking page with code + phone)."""

    resolved = forms.TypedChoiceField(
        label=_("问题是否解决"),
        choices=[("1", _("已解决")), ("0", _("未解决"))],
        coerce=lambda v: v == "1",
        widget=Radios,
    )
    satisfaction = forms.ChoiceField(label=_("总体满意度"), choices=Satisfaction.choices, widget=Radios)
    efficiency = forms.ChoiceField(label=_("办理效率"), choices=Satisfaction.choices, widget=Radios)
    leader_rating = forms.ChoiceField(label=_("责任领导"), choices=Satisfaction.choices, widget=Radios)
    comment = forms.CharField(
        label=_("意见（可选）"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class CaseRateForm(RateForm, ActionForm):
    pass


class TrackForm(forms.Form):
    code = forms.CharField(
        label=_("查询码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )
    phone = forms.CharField(label=_("申请人电话"), max_length=20, widget=forms.TextInput(attrs=PHONE_ATTRS))


class TrackRateForm(RateForm):
    code = forms.CharField(widget=forms.HiddenInput, max_length=20)
    phone = forms.CharField(widget=forms.HiddenInput, max_length=20)
