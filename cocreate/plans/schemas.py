"""Typed request and response bodies of the plans API (django-ninja schemas).

Inputs reuse core's strict bases and id/date types, so a bad body stops at 422 before any
query, exactly as in the core API. Outputs carry each task's computed status (light, 序时进度,
reason) next to its stored progress.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, field_validator
from pydantic.json_schema import SkipJsonSchema

from cocreate.core.schemas import (
    BodyId,
    Id,
    InputSchema,
    IsoDate,
    QuerySchema,
    SearchText,
    Text,
    VersionedPatch,
)
from cocreate.plans.models import Plan, ProgressReport, Target, Task, TaskPerson, TaskUnit
from cocreate.plans.services import PLAN_VERSION, TASK_VERSION

PlanStatusValue = Literal["draft", "active", "closed"]
LightValue = Literal["green", "yellow", "red", "blue", "done", "not_started"]
ReportKindValue = Literal["percent", "indicator", "activity"]
TargetKindValue = Literal["quota", "indicator"]
QuotaPeriodValue = Literal["week", "month", "quarter", "year", "total"]
ComparatorValue = Literal["gte", "lte", "eq"]


def _json_number(value: Any) -> Any:
    # Numbers only: "5" or true is not a percent (the same rule as core's ids).
    if isinstance(value, (str, bool)):
        raise ValueError("应为数字")
    return value


Percent = Annotated[
    Decimal, Field(strict=False, ge=0, le=100, max_digits=5, decimal_places=2), BeforeValidator(_json_number)
]
Amount = Annotated[Decimal, Field(strict=False, max_digits=14, decimal_places=2), BeforeValidator(_json_number)]
Count = Annotated[int, Field(strict=False, ge=0, le=1_000_000), BeforeValidator(_json_number)]
Points = Annotated[int, Field(strict=False, ge=0, le=100), BeforeValidator(_json_number)]
Days = Annotated[int, Field(strict=False, ge=0, le=365), BeforeValidator(_json_number)]
Order = Annotated[int, Field(strict=False, ge=0, le=999), BeforeValidator(_json_number)]
QuotaCount = Annotated[int, Field(strict=False, ge=1, le=1_000_000), BeforeValidator(_json_number)]
# At most 200 ids per role: a matrix names a few units, a fanned-out task's villages are its children.
IdList = Annotated[list[BodyId], Field(max_length=200)]


# --- Plans ----------------------------------------------------------------------------------------


class PhaseOut(Schema):
    id: int
    name: str
    starts_on: date
    ends_on: date
    order: int


class PlanOut(Schema):
    id: int
    title: str
    doc_number: str
    issuing_unit_id: int
    issuing_unit_name: str
    region_id: int
    region_name: str
    starts_on: date
    ends_on: date
    status: str
    status_display: str
    yellow_after_points: int
    red_after_points: int
    blue_within_days: int

    @staticmethod
    def resolve_issuing_unit_name(obj: Plan) -> str:
        return obj.issuing_unit.name

    @staticmethod
    def resolve_region_name(obj: Plan) -> str:
        return obj.region.name

    @staticmethod
    def resolve_status_display(obj: Plan) -> str:
        return str(obj.get_status_display())


class PlanDetailOut(PlanOut):
    summary: str
    phases: list[PhaseOut]
    created_at: datetime
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_phases(obj: Plan) -> list[Any]:
        return list(obj.phases.all())

    @staticmethod
    def resolve_version(obj: Plan) -> str:
        return PLAN_VERSION.of(obj)


class PlanFilter(QuerySchema):
    search: SearchText = ""
    status: PlanStatusValue | None = None


class PlanIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    issuing_unit_id: BodyId
    region_id: BodyId
    starts_on: IsoDate
    ends_on: IsoDate
    doc_number: Annotated[Text, Field(max_length=60)] = ""
    summary: Annotated[Text, Field(max_length=5000)] = ""
    status: PlanStatusValue = "active"


class PlanPatch(VersionedPatch):
    """The plan fields ``services.plan_update`` may change; leave out what stays."""

    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    doc_number: Annotated[Text, Field(max_length=60)] | None = None
    issuing_unit_id: BodyId | None = None
    region_id: BodyId | None = None
    summary: Annotated[Text, Field(max_length=5000)] | None = None
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    status: PlanStatusValue | None = None
    yellow_after_points: Points | None = Field(None, description="黄灯：落后序时进度（百分点）")
    red_after_points: Points | None = Field(None, description="红灯：落后序时进度（百分点），须大于黄灯")
    blue_within_days: Days | None = Field(None, description="蓝灯：距截止（天）")
    remind_days_before: Days | None = Field(None, description="截止前提醒（天）")
    escalate_after_days: Days | None = Field(None, description="逾期后报告责任领导（天）")


class PhaseIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=60)]
    starts_on: IsoDate
    ends_on: IsoDate
    order: Order = 0


# --- Tasks ----------------------------------------------------------------------------------------


class TaskFilter(QuerySchema):
    unit: Id | None = Field(None, description="单位 id（牵头、责任、配合或指导）")
    phase: Id | None = Field(None, description="阶段 id")
    light: LightValue | None = Field(None, description="亮灯")


def _status(obj: Task) -> Any:
    # The handlers put the computed TaskStatus on each task before it is serialised.
    return obj.api_status  # type: ignore[attr-defined]


class TaskOut(Schema):
    id: int
    plan_id: int
    parent_id: int | None
    phase_id: int | None
    region_id: int
    region_name: str
    number: str
    title: str
    starts_on: date
    deadline: date
    fans_out: bool
    progress: float = Field(..., description="完成进度（%），由报送计算")
    completed_on: date | None
    light: LightValue
    light_display: str
    expected: float = Field(..., description="序时进度（%）")
    reason: str

    @staticmethod
    def resolve_region_name(obj: Task) -> str:
        return obj.region.name

    @staticmethod
    def resolve_progress(obj: Task) -> float:
        return float(_status(obj).progress)

    @staticmethod
    def resolve_light(obj: Task) -> str:
        return str(_status(obj).light)

    @staticmethod
    def resolve_light_display(obj: Task) -> str:
        return _status(obj).label

    @staticmethod
    def resolve_expected(obj: Task) -> float:
        return float(_status(obj).expected)

    @staticmethod
    def resolve_reason(obj: Task) -> str:
        return str(_status(obj).reason)


class TaskUnitOut(Schema):
    unit_id: int
    unit_name: str
    role: str
    role_display: str

    @staticmethod
    def resolve_unit_name(obj: TaskUnit) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_role_display(obj: TaskUnit) -> str:
        return str(obj.get_role_display())


class TaskPersonOut(Schema):
    user_id: int
    name: str
    role: str

    @staticmethod
    def resolve_name(obj: TaskPerson) -> str:
        return str(obj.user)


class TargetOut(Schema):
    id: int
    kind: str
    name: str
    quota_count: int | None
    quota_period: str
    comparator: str
    value: float | None
    unit_label: str

    @staticmethod
    def resolve_value(obj: Target) -> float | None:
        return float(obj.value) if obj.value is not None else None


class MilestoneOut(Schema):
    due_on: date
    percent: float


class ReportOut(Schema):
    id: int
    task_id: int
    unit_id: int
    unit_name: str
    kind: str
    percent: float | None
    target_id: int | None
    value: float | None
    activity_date: date | None
    participants: int | None
    description: str
    status: str
    return_reason: str
    reported_by_id: int | None
    reported_at: datetime

    @staticmethod
    def resolve_unit_name(obj: ProgressReport) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_percent(obj: ProgressReport) -> float | None:
        return float(obj.percent) if obj.percent is not None else None

    @staticmethod
    def resolve_value(obj: ProgressReport) -> float | None:
        return float(obj.value) if obj.value is not None else None


class TaskDetailOut(TaskOut):
    content: str
    units: list[TaskUnitOut]
    people: list[TaskPersonOut]
    targets: list[TargetOut]
    milestones: list[MilestoneOut]
    reports: list[ReportOut]
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_units(obj: Task) -> list[Any]:
        return list(obj.task_units.all())

    @staticmethod
    def resolve_version(obj: Task) -> str:
        return TASK_VERSION.of(obj)

    @staticmethod
    def resolve_people(obj: Task) -> list[Any]:
        return list(obj.task_people.all())

    @staticmethod
    def resolve_targets(obj: Task) -> list[Any]:
        return list(obj.targets.all())

    @staticmethod
    def resolve_milestones(obj: Task) -> list[Any]:
        return list(obj.milestones.all())

    @staticmethod
    def resolve_reports(obj: Task) -> list[Any]:
        return list(obj.reports.all())


# --- Task writes ----------------------------------------------------------------------------------


class UnitsByRole(InputSchema):
    """The responsibility matrix as unit ids per role (units the caller can see)."""

    # A misspelt role must not pass as "no units": unknown keys are refused (422).
    model_config = ConfigDict(strict=True, extra="forbid")

    lead: IdList = Field(default_factory=list, description="牵头单位 id")
    responsible: IdList = Field(default_factory=list, description="责任单位 id")
    cooperating: IdList = Field(default_factory=list, description="配合单位 id")
    guiding: IdList = Field(default_factory=list, description="指导单位 id")


class PeopleByRole(InputSchema):
    """Responsible people as user (account) ids per role."""

    model_config = ConfigDict(strict=True, extra="forbid")

    leader: IdList = Field(default_factory=list, description="责任领导的账号 id")
    responsible: IdList = Field(default_factory=list, description="责任人的账号 id")


class TargetIn(InputSchema):
    """A quota (quota_count per quota_period) or an indicator (comparator, value, unit_label)."""

    kind: TargetKindValue
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    quota_count: QuotaCount | None = Field(None, description="kind=quota：数量（≥1）")
    quota_period: QuotaPeriodValue | None = Field(None, description="kind=quota：周期")
    comparator: ComparatorValue | None = Field(None, description="kind=indicator：比较方式")
    value: Amount | None = Field(None, description="kind=indicator：目标值")
    unit_label: Annotated[Text, Field(max_length=20)] = ""


class MilestoneIn(InputSchema):
    due_on: IsoDate
    percent: Percent


class TaskIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=300)]
    starts_on: IsoDate
    deadline: IsoDate
    number: Annotated[Text, Field(max_length=20)] = ""
    content: Annotated[Text, Field(max_length=5000)] = ""
    phase_id: BodyId | None = Field(None, description="该方案的阶段 id")
    units: UnitsByRole | None = None
    people: PeopleByRole | None = None
    fans_out: bool = Field(False, description="分解到各村（社区）：每个村（社区）生成一项子任务")
    targets: Annotated[list[TargetIn], Field(max_length=20)] = []
    milestones: Annotated[list[MilestoneIn], Field(max_length=20)] = []


def _create_only(value: Any) -> Any:
    raise ValueError("只能在新建任务时设定")


class TaskPatch(VersionedPatch):
    """The task fields ``services.task_update`` may change; a role sent replaces that role's list."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"phase_id"})

    title: Annotated[Text, Field(min_length=1, max_length=300)] | None = None
    number: Annotated[Text, Field(max_length=20)] | None = None
    content: Annotated[Text, Field(max_length=5000)] | None = None
    phase_id: BodyId | None = Field(None, description="该方案的阶段 id；null 取消阶段")
    starts_on: IsoDate | None = None
    deadline: IsoDate | None = None
    units: UnitsByRole | None = None
    people: PeopleByRole | None = None
    # Set when the task is created; named here so a PATCH that sends them is refused, not ignored.
    fans_out: SkipJsonSchema[Any] = None
    targets: SkipJsonSchema[Any] = None
    milestones: SkipJsonSchema[Any] = None

    _refuse_create_only = field_validator("fans_out", "targets", "milestones", mode="before")(_create_only)


# --- Reports --------------------------------------------------------------------------------------


class ReportIn(InputSchema):
    unit_id: BodyId = Field(..., description="报送单位：任务的牵头或责任单位")
    kind: ReportKindValue
    percent: Percent | None = Field(None, description="kind=percent：完成进度 0–100")
    target_id: BodyId | None = Field(None, description="kind=indicator：指标；kind=activity：可选的数量要求")
    value: Amount | None = Field(None, description="kind=indicator：指标值")
    activity_date: IsoDate | None = Field(None, description="kind=activity：活动日期")
    participants: Count | None = Field(None, description="kind=activity：参与人数")
    description: Annotated[Text, Field(max_length=5000)] = ""


class ReturnIn(InputSchema):
    reason: Annotated[Text, Field(min_length=1, max_length=300)]
