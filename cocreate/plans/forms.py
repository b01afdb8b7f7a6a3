"""Forms of the plans app; they parse input, the services decide.

Choice fields are narrowed to what the user may see or manage (``access``), so a form never
offers a unit, region or person outside the caller's scope; every write goes through
``cocreate.plans.services``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cocreate.core import access
from cocreate.core.concurrency import version_field
from cocreate.core.forms import RegionChoiceField
from cocreate.core.models import Region, Unit, User
from cocreate.plans import selectors
from cocreate.plans.models import (
    Comparator,
    Phase,
    Plan,
    PlanStatus,
    QuotaPeriod,
    ReportKind,
    Target,
    TargetKind,
    Task,
    UnitRole,
)
from cocreate.plans.rules import PLAN_MANAGERS
from cocreate.plans.services import PLAN_VERSION, TASK_VERSION


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class UnitChoiceField(forms.ModelChoiceField):
    """A unit picker that names the unit's region, so two 村委会 of the same name differ."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


def visible_units(user: Any) -> QuerySet[Unit]:
    """Active units the user can see, in a stable order, for unit pickers (the API takes the same)."""
    return selectors.assignable_units(user)


def assignable_people(user: Any) -> QuerySet[User]:
    """Accounts whose person the user can see: candidates for 责任领导 / 责任人."""
    return selectors.assignable_people(user)


class PlanForm(forms.Form):
    """A plan's document data; the region is one the user manages plans in."""

    title = forms.CharField(label=_("方案名称"), max_length=200)
    doc_number = forms.CharField(
        label=_("文号"), max_length=60, required=False, help_text=_("如：彭教育人事发〔2019〕8号")
    )
    issuing_unit = UnitChoiceField(label=_("印发单位"), queryset=Unit.objects.none())
    region = RegionChoiceField(label=_("实施区域"), queryset=Region.objects.none())
    starts_on = forms.DateField(label=_("开始日期"), widget=_date_input())
    ends_on = forms.DateField(label=_("结束日期"), widget=_date_input())
    status = forms.ChoiceField(label=_("状态"), choices=PlanStatus.choices, initial=PlanStatus.ACTIVE)
    summary = forms.CharField(label=_("概述"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        issuing = self.fields["issuing_unit"]
        region = self.fields["region"]
        assert isinstance(issuing, forms.ModelChoiceField) and isinstance(region, forms.ModelChoiceField)
        issuing.queryset = visible_units(user)
        region.queryset = access.manageable_regions(user, PLAN_MANAGERS).order_by("path")


class PlanEditForm(PlanForm):
    """A plan's data plus its traffic-light thresholds and reminder days."""

    yellow_after_points = forms.IntegerField(label=_("黄灯：落后序时进度（百分点）"), min_value=0, max_value=100)
    red_after_points = forms.IntegerField(label=_("红灯：落后序时进度（百分点）"), min_value=1, max_value=100)
    blue_within_days = forms.IntegerField(label=_("蓝灯：距截止（天）"), min_value=0, max_value=365)
    remind_days_before = forms.IntegerField(label=_("截止前提醒（天）"), min_value=0, max_value=365)
    escalate_after_days = forms.IntegerField(label=_("逾期后报告责任领导（天）"), min_value=0, max_value=365)
    expected_version = version_field()

    FIELDS = (
        "title",
        "doc_number",
        "issuing_unit",
        "region",
        "starts_on",
        "ends_on",
        "status",
        "summary",
        "yellow_after_points",
        "red_after_points",
        "blue_within_days",
        "remind_days_before",
        "escalate_after_days",
    )

    @classmethod
    def initial_for(cls, plan: Plan) -> dict[str, Any]:
        return {**{name: getattr(plan, name) for name in cls.FIELDS}, "expected_version": PLAN_VERSION.of(plan)}


class PhaseForm(forms.Form):
    """A dated stage of a plan."""

    name = forms.CharField(label=_("阶段名称"), max_length=60, help_text=_("如：部署启动、亮点打造、巩固提升"))
    starts_on = forms.DateField(label=_("开始日期"), widget=_date_input())
    ends_on = forms.DateField(label=_("结束日期"), widget=_date_input())
    order = forms.IntegerField(label=_("顺序"), min_value=0, max_value=999, initial=0, required=False)

    def clean_order(self) -> int:
        return self.cleaned_data.get("order") or 0


# The responsibility matrix: form field name → role key the services take.
UNIT_ROLE_FIELDS = {
    "lead_units": UnitRole.LEAD,
    "responsible_units": UnitRole.RESPONSIBLE,
    "cooperating_units": UnitRole.COOPERATING,
    "guiding_units": UnitRole.GUIDING,
}
PERSON_ROLE_FIELDS = {"leaders": "leader", "responsible_people": "responsible"}


class TaskForm(forms.Form):
    """One task of a plan with its responsibility matrix; units limited to visible ones."""

    number = forms.CharField(label=_("序号"), max_length=20, required=False)
    title = forms.CharField(label=_("任务"), max_length=300)
    content = forms.CharField(label=_("工作内容"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    phase = forms.ModelChoiceField(label=_("阶段"), queryset=Phase.objects.none(), required=False)
    starts_on = forms.DateField(label=_("开始日期"), widget=_date_input())
    deadline = forms.DateField(label=_("完成时限"), widget=_date_input())
    lead_units = UnitMultipleChoiceField(label=_("牵头单位"), queryset=Unit.objects.none(), required=False)
    responsible_units = UnitMultipleChoiceField(label=_("责任单位"), queryset=Unit.objects.none(), required=False)
    cooperating_units = UnitMultipleChoiceField(label=_("配合单位"), queryset=Unit.objects.none(), required=False)
    guiding_units = UnitMultipleChoiceField(label=_("指导单位"), queryset=Unit.objects.none(), required=False)
    leaders = forms.ModelMultipleChoiceField(label=_("责任领导"), queryset=User.objects.none(), required=False)
    responsible_people = forms.ModelMultipleChoiceField(label=_("责任人"), queryset=User.objects.none(), required=False)
    fan_out = forms.BooleanField(
        label=_("分解到各村（社区）"),
        required=False,
        help_text=_("为实施区域内每个村（社区）生成一项子任务，由村（社区）委员会负责；进度自动汇总。"),
    )

    def __init__(self, *args: Any, user: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = visible_units(user)
        people = assignable_people(user)
        for name in UNIT_ROLE_FIELDS:
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField)
            field.queryset = units
            field.widget.attrs["size"] = 5
        for name in PERSON_ROLE_FIELDS:
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField)
            field.queryset = people
            field.widget.attrs["size"] = 4
        phase = self.fields["phase"]
        assert isinstance(phase, forms.ModelChoiceField)
        phase.queryset = plan.phases.all()

    def units_by_role(self) -> dict[str, list[Unit]]:
        data = self.cleaned_data
        return {str(role): list(data.get(name) or []) for name, role in UNIT_ROLE_FIELDS.items() if data.get(name)}

    def people_by_role(self) -> dict[str, list[User]]:
        data = self.cleaned_data
        return {role: list(data.get(name) or []) for name, role in PERSON_ROLE_FIELDS.items() if data.get(name)}


class TaskEditForm(TaskForm):
    """A task's data and matrix for editing; a village's child task may change only dates and people."""

    CHILD_FIELDS = ("starts_on", "deadline", "leaders", "responsible_people", "expected_version")
    expected_version = version_field()

    def __init__(self, *args: Any, user: Any, task: Task, **kwargs: Any) -> None:
        kwargs.setdefault("initial", self.initial_for(task))
        super().__init__(*args, user=user, plan=task.plan, **kwargs)
        del self.fields["fan_out"]
        if task.parent_id is not None:
            # Disabled fields keep their current values, which the service accepts unchanged.
            for name, field in self.fields.items():
                if name not in self.CHILD_FIELDS:
                    field.disabled = True
                    field.help_text = _("由上级任务统一修改")

    @staticmethod
    def initial_for(task: Task) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "number": task.number,
            "title": task.title,
            "content": task.content,
            "phase": task.phase_id,
            "starts_on": task.starts_on,
            "deadline": task.deadline,
            "expected_version": TASK_VERSION.of(task),
        }
        for name, unit_role in UNIT_ROLE_FIELDS.items():
            initial[name] = [tu.unit_id for tu in task.task_units.all() if tu.role == unit_role]
        for name, person_role in PERSON_ROLE_FIELDS.items():
            initial[name] = [tp.user_id for tp in task.task_people.all() if tp.role == person_role]
        return initial

    def update_data(self) -> dict[str, Any]:
        """What ``services.task_update`` takes: the task's fields plus the whole matrix and people."""
        data = {
            name: self.cleaned_data[name] for name in ("number", "title", "content", "phase", "starts_on", "deadline")
        }
        data["units"] = {str(role): list(self.cleaned_data.get(name) or []) for name, role in UNIT_ROLE_FIELDS.items()}
        data["people"] = {role: list(self.cleaned_data.get(name) or []) for name, role in PERSON_ROLE_FIELDS.items()}
        return data


class TargetForm(forms.Form):
    """One target row: a quota (≥ N per period) or an indicator (comparator, value, unit)."""

    kind = forms.ChoiceField(label=_("类型"), choices=[("", "---------"), *TargetKind.choices], required=False)
    name = forms.CharField(label=_("名称"), max_length=120, required=False)
    quota_count = forms.IntegerField(label=_("数量"), min_value=1, required=False)
    quota_period = forms.ChoiceField(label=_("周期"), choices=[("", "---------"), *QuotaPeriod.choices], required=False)
    comparator = forms.ChoiceField(label=_("比较"), choices=[("", "---------"), *Comparator.choices], required=False)
    value = forms.DecimalField(label=_("目标值"), max_digits=14, decimal_places=2, required=False)
    unit_label = forms.CharField(label=_("计量单位"), max_length=20, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("name") and not data.get("kind"):
            self.add_error("kind", _("请选择目标类型。"))
        if data.get("kind") and not data.get("name"):
            self.add_error("name", _("请填写目标名称。"))
        return data


class MilestoneForm(forms.Form):
    """A milestone row: progress due by a date."""

    due_on = forms.DateField(label=_("时间节点"), required=False, widget=_date_input())
    percent = forms.DecimalField(
        label=_("应完成（%）"),
        max_digits=5,
        decimal_places=2,
        required=False,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("due_on") is None) != (data.get("percent") is None):
            raise forms.ValidationError(_("时间节点和应完成比例须同时填写。"))
        return data


TargetFormSet = forms.formset_factory(TargetForm, extra=3, max_num=20, validate_max=True)
MilestoneFormSet = forms.formset_factory(MilestoneForm, extra=4, max_num=20, validate_max=True)


def filled_rows(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The cleaned data of the rows the user actually filled in."""
    return [form.cleaned_data for form in formset.forms if form.cleaned_data and any(form.cleaned_data.values())]


class ReportForm(forms.Form):
    """Progress reported by a unit: a percent, an indicator value or an activity record."""

    kind = forms.ChoiceField(
        label=_("报送类型"), choices=ReportKind.choices, widget=forms.RadioSelect, initial=ReportKind.PERCENT
    )
    unit = UnitChoiceField(label=_("报送单位"), queryset=Unit.objects.none(), empty_label=None)
    percent = forms.DecimalField(
        label=_("完成进度（%）"),
        max_digits=5,
        decimal_places=2,
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "1"}),
    )
    target = forms.ModelChoiceField(label=_("指标"), queryset=Target.objects.none(), required=False)
    value = forms.DecimalField(
        label=_("指标值"),
        max_digits=14,
        decimal_places=2,
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    )
    activity_date = forms.DateField(label=_("活动日期"), required=False, widget=_date_input())
    participants = forms.IntegerField(
        label=_("参与人数"), min_value=0, required=False, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    description = forms.CharField(label=_("情况说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(label=_("佐证材料（可选）"), required=False, help_text=_("照片或文件，可不上传"))
    evidence_description = forms.CharField(label=_("佐证说明"), max_length=200, required=False)

    # Which fields belong to which kind (plans.js hides the others; without script all show).
    KIND_FIELDS = {
        "percent": ReportKind.PERCENT,
        "target": f"{ReportKind.INDICATOR} {ReportKind.ACTIVITY}",
        "value": ReportKind.INDICATOR,
        "activity_date": ReportKind.ACTIVITY,
        "participants": ReportKind.ACTIVITY,
    }

    def __init__(self, *args: Any, task: Task, units: QuerySet[Unit] | list[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit = self.fields["unit"]
        target = self.fields["target"]
        assert isinstance(unit, forms.ModelChoiceField) and isinstance(target, forms.ModelChoiceField)
        unit.queryset = Unit.objects.filter(pk__in=[u.pk for u in units]).select_related("region").order_by("name")
        target.queryset = task.targets.all()
        if len(units) == 1:
            self.fields["unit"].initial = units[0].pk


class ReturnForm(forms.Form):
    """The reason the lead unit gives for returning a report."""

    reason = forms.CharField(label=_("退回原因"), max_length=300)


class ImportFileForm(forms.Form):
    """A task table (xlsx) to import into an existing plan."""

    file = forms.FileField(
        label=_("任务表（xlsx）"), help_text=_("列：序号、任务、牵头单位、责任单位、配合单位、责任领导、完成时限、目标")
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not str(upload.name).lower().endswith((".xlsx", ".xlsm")):
            raise forms.ValidationError(_("请上传 .xlsx 格式的任务表。"))
        return upload


class PlanImportForm(PlanForm):
    """A new plan's document data and its task table, imported in one step."""

    file = ImportFileForm.base_fields["file"]
    clean_file = ImportFileForm.clean_file
