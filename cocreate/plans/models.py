"""Work plans (工作方案): phases, tasks with the full responsibility matrix, targets, progress.

A plan is issued by a unit for a region. Its tasks name lead, responsible, cooperating and
guiding units; a task assigned to "各村（社区）" fans out into one child task per village,
and the parent's progress is rolled up from the children. Progress is reported by the
responsible units (percent, indicator value, or an activity record); the traffic light is
computed from the reports and the calendar, never typed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cocreate.core.models import Region, ScopedManager, Unit


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("实施中")
    CLOSED = "closed", _("已结束")


class Plan(models.Model):
    """A work plan issued as a document, with phases and a table of tasks."""

    title = models.CharField(_("方案名称"), max_length=200)
    doc_number = models.CharField(_("文号"), max_length=60, blank=True, help_text=_("如：彭教育人事发〔2019〕8号"))
    issuing_unit = models.ForeignKey(
        Unit, verbose_name=_("印发单位"), on_delete=models.PROTECT, related_name="issued_plans"
    )
    region = models.ForeignKey(Region, verbose_name=_("实施区域"), on_delete=models.PROTECT, related_name="plans")
    summary = models.TextField(_("概述"), blank=True)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    status = models.CharField(_("状态"), max_length=8, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    # Traffic-light thresholds, per plan (issue 3 §4): points behind the expected progress.
    yellow_after_points = models.PositiveSmallIntegerField(_("黄灯：落后序时进度（百分点）"), default=10)
    red_after_points = models.PositiveSmallIntegerField(_("红灯：落后序时进度（百分点）"), default=30)
    blue_within_days = models.PositiveSmallIntegerField(_("蓝灯：距截止（天）"), default=7)
    remind_days_before = models.PositiveSmallIntegerField(_("截止前提醒（天）"), default=3)
    escalate_after_days = models.PositiveSmallIntegerField(_("逾期后报告责任领导（天）"), default=3)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="created_plans"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("工作方案")
        verbose_name_plural = _("工作方案")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="plan_dates_ordered"),
            models.CheckConstraint(
                condition=Q(red_after_points__gt=models.F("yellow_after_points")), name="plan_thresholds_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Phase(models.Model):
    """A dated stage of a plan (部署启动 / 亮点打造 / 巩固提升 …)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(_("阶段名称"), max_length=60)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("阶段")
        verbose_name_plural = _("阶段")
        ordering = ["plan", "order", "starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="phase_dates_ordered"),
        ]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    """One row of a plan's task table; a fanned-out task has one child per village."""

    plan = models.ForeignKey(Plan, verbose_name=_("工作方案"), on_delete=models.CASCADE, related_name="tasks")
    phase = models.ForeignKey(
        Phase, verbose_name=_("阶段"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    parent = models.ForeignKey(
        "self", verbose_name=_("上级任务"), null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    # The region the task is carried out in: the plan's for a top task, the village's for a child.
    region = models.ForeignKey(Region, verbose_name=_("所属区域"), on_delete=models.PROTECT, related_name="tasks")
    number = models.CharField(_("序号"), max_length=20, blank=True)
    title = models.CharField(_("任务"), max_length=300)
    content = models.TextField(_("工作内容"), blank=True)
    starts_on = models.DateField(_("开始日期"))
    deadline = models.DateField(_("完成时限"))
    # When true the task was assigned to "各村（社区）" and its children carry the work.
    fans_out = models.BooleanField(_("分解到各村（社区）"), default=False)
    # Kept by the services from the reports (and the children): never typed by hand.
    progress = models.DecimalField(
        _("完成进度（%）"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    completed_on = models.DateField(_("完成日期"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        ordering = ["plan", "parent_id", "id"]
        indexes = [models.Index(fields=["plan", "parent"]), models.Index(fields=["deadline"])]
        constraints = [
            models.CheckConstraint(condition=Q(deadline__gte=models.F("starts_on")), name="task_dates_ordered"),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=100), name="task_progress_range"),
            models.UniqueConstraint(
                fields=["parent", "region"], condition=Q(parent__isnull=False), name="task_one_child_per_region"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip()


class UnitRole(models.TextChoices):
    LEAD = "lead", _("牵头单位")
    RESPONSIBLE = "responsible", _("责任单位")
    COOPERATING = "cooperating", _("配合单位")
    GUIDING = "guiding", _("指导单位")


class TaskUnit(models.Model):
    """A unit's place in a task's responsibility matrix."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_units")
    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="task_roles")
    role = models.CharField(_("职责"), max_length=12, choices=UnitRole.choices)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("任务单位")
        verbose_name_plural = _("任务单位")
        ordering = ["task", "role", "order"]
        constraints = [models.UniqueConstraint(fields=["task", "unit", "role"], name="task_unit_role_unique")]

    def __str__(self) -> str:
        return f"{self.unit} ({self.get_role_display()})"


class PersonRole(models.TextChoices):
    LEADER = "leader", _("责任领导")
    RESPONSIBLE = "responsible", _("责任人")


class TaskPerson(models.Model):
    """A responsible leader or person of a task (who gets reminders and escalations)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_people")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="task_roles")
    role = models.CharField(_("职责"), max_length=12, choices=PersonRole.choices)

    class Meta:
        verbose_name = _("任务责任人")
        verbose_name_plural = _("任务责任人")
        constraints = [models.UniqueConstraint(fields=["task", "user", "role"], name="task_person_role_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class QuotaPeriod(models.TextChoices):
    WEEK = "week", _("每周")
    MONTH = "month", _("每月")
    QUARTER = "quarter", _("每季度")
    YEAR = "year", _("每年")
    TOTAL = "total", _("全程")


class Comparator(models.TextChoices):
    GTE = "gte", "≥"
    LTE = "lte", "≤"
    EQ = "eq", "="


class TargetKind(models.TextChoices):
    QUOTA = "quota", _("数量要求")
    INDICATOR = "indicator", _("指标")


class Target(models.Model):
    """A quota (≥ N activities per period) or an indicator (value, comparator, unit) of a task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(_("类型"), max_length=10, choices=TargetKind.choices)
    name = models.CharField(_("名称"), max_length=120, help_text=_("如：志愿服务活动、生活垃圾回收利用率"))
    quota_count = models.PositiveIntegerField(_("数量"), null=True, blank=True)
    quota_period = models.CharField(_("周期"), max_length=8, choices=QuotaPeriod.choices, blank=True)
    comparator = models.CharField(_("比较"), max_length=3, choices=Comparator.choices, blank=True)
    value = models.DecimalField(_("目标值"), max_digits=14, decimal_places=2, null=True, blank=True)
    unit_label = models.CharField(_("计量单位"), max_length=20, blank=True, help_text=_("如：%、个、次"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("目标")
        verbose_name_plural = _("目标")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="quota", quota_count__gte=1, value__isnull=True) & ~Q(quota_period=""))
                | (Q(kind="indicator", value__isnull=False, quota_count__isnull=True) & ~Q(comparator="")),
                name="target_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == TargetKind.QUOTA:
            return f"{self.name} {self.get_quota_period_display()}≥{self.quota_count}"
        return f"{self.name} {self.get_comparator_display()}{self.value}{self.unit_label}"


class Milestone(models.Model):
    """Progress due by a date (40% by 31 Mar, 60% by 30 Jun …); a miss turns the light red."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="milestones")
    due_on = models.DateField(_("时间节点"))
    percent = models.DecimalField(
        _("应完成（%）"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("时间节点")
        verbose_name_plural = _("时间节点")
        ordering = ["task", "due_on"]
        constraints = [
            models.UniqueConstraint(fields=["task", "due_on"], name="milestone_one_per_date"),
            models.CheckConstraint(condition=Q(percent__gte=0, percent__lte=100), name="milestone_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.due_on:%Y-%m-%d} {self.percent}%"


class ReportKind(models.TextChoices):
    PERCENT = "percent", _("进度")
    INDICATOR = "indicator", _("指标值")
    ACTIVITY = "activity", _("活动记录")


class ReportStatus(models.TextChoices):
    SUBMITTED = "submitted", _("已报送")
    RETURNED = "returned", _("已退回")


class ProgressReport(models.Model):
    """Progress reported once by a responsible unit; every view upward is computed from these."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reports")
    # Copied from the task so scoping needs no join through the task.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(
        Unit, verbose_name=_("报送单位"), on_delete=models.PROTECT, related_name="progress_reports"
    )
    kind = models.CharField(_("类型"), max_length=10, choices=ReportKind.choices)
    percent = models.DecimalField(
        _("完成进度（%）"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    target = models.ForeignKey(
        Target, verbose_name=_("指标"), null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    value = models.DecimalField(_("指标值"), max_digits=14, decimal_places=2, null=True, blank=True)
    activity_date = models.DateField(_("活动日期"), null=True, blank=True)
    participants = models.PositiveIntegerField(_("参与人数"), null=True, blank=True)
    description = models.TextField(_("情况说明"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.SUBMITTED)
    return_reason = models.CharField(_("退回原因"), max_length=300, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("报送人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_at = models.DateTimeField(_("报送时间"), auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("进度报送")
        verbose_name_plural = _("进度报送")
        ordering = ["-reported_at", "-id"]
        indexes = [models.Index(fields=["task", "status", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="percent", percent__isnull=False)
                | Q(kind="indicator", target__isnull=False, value__isnull=False)
                | Q(kind="activity", activity_date__isnull=False),
                name="report_kind_fields",
            ),
            models.CheckConstraint(
                condition=Q(status="submitted") | ~Q(return_reason=""), name="report_return_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} · {self.get_kind_display()}"


# --- Supervision (督查督办) ------------------------------------------------------------------------


class CheckKind(models.TextChoices):
    WEEKLY = "weekly", _("每周抽查")
    MONTHLY = "monthly", _("每月检查")
    QUARTERLY = "quarterly", _("季度检查")
    SPECIAL = "special", _("专项检查")


class SupervisionCheck(models.Model):
    """A check run by an inspector over a region (and optionally one plan), with findings."""

    kind = models.CharField(_("检查类型"), max_length=10, choices=CheckKind.choices)
    title = models.CharField(_("检查名称"), max_length=200)
    region = models.ForeignKey(Region, verbose_name=_("检查范围"), on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        Plan, verbose_name=_("工作方案"), null=True, blank=True, on_delete=models.SET_NULL, related_name="checks"
    )
    checked_on = models.DateField(_("检查日期"))
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("督查员"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.TextField(_("检查情况"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("督查检查")
        verbose_name_plural = _("督查检查")
        ordering = ["-checked_on", "-id"]

    def __str__(self) -> str:
        return self.title


class FindingSeverity(models.TextChoices):
    NOTE = "note", _("提示")
    ISSUE = "issue", _("问题")
    SERIOUS = "serious", _("严重问题")


class Finding(models.Model):
    """What a check found at one unit (and task); may raise a rectification request."""

    check_record = models.ForeignKey(SupervisionCheck, on_delete=models.CASCADE, related_name="findings")
    task = models.ForeignKey(
        Task, verbose_name=_("任务"), null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    unit = models.ForeignKey(Unit, verbose_name=_("被检查单位"), on_delete=models.PROTECT, related_name="+")
    # The unit's region, so scoping needs no join and a village sees findings about itself.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(_("性质"), max_length=8, choices=FindingSeverity.choices, default=FindingSeverity.ISSUE)
    description = models.TextField(_("发现问题"))
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("检查发现")
        verbose_name_plural = _("检查发现")
        ordering = ["check_record", "id"]

    def __str__(self) -> str:
        return self.description[:40]


class RectificationStatus(models.TextChoices):
    OPEN = "open", _("整改中")
    SUBMITTED = "submitted", _("已报整改")
    CLOSED = "closed", _("已销号")


class Rectification(models.Model):
    """A rectification request (整改要求) raised from a finding, tracked to closure; prints as 督办函."""

    finding = models.OneToOneField(Finding, on_delete=models.CASCADE, related_name="rectification")
    unit = models.ForeignKey(Unit, verbose_name=_("整改单位"), on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    letter_number = models.CharField(_("督办函编号"), max_length=60, blank=True)
    requirement = models.TextField(_("整改要求"))
    deadline = models.DateField(_("整改时限"))
    status = models.CharField(
        _("状态"), max_length=10, choices=RectificationStatus.choices, default=RectificationStatus.OPEN
    )
    response = models.TextField(_("整改情况"), blank=True)
    responded_at = models.DateTimeField(_("报送时间"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("整改督办")
        verbose_name_plural = _("整改督办")
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False), name="rectification_closed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} · {self.deadline:%Y-%m-%d}"


# --- Bulletins (通报) --------------------------------------------------------------------------------


class BulletinStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")


class Bulletin(models.Model):
    """A periodic bulletin for a region: computed tables by unit plus the supervisor's paragraphs.

    No figure is typed: the tables are computed from tasks, reports and rectifications, and frozen
    into ``figures`` when the bulletin is published so the published text never changes.
    """

    region = models.ForeignKey(Region, verbose_name=_("通报范围"), on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        Plan, verbose_name=_("工作方案"), null=True, blank=True, on_delete=models.SET_NULL, related_name="bulletins"
    )
    title = models.CharField(_("标题"), max_length=200)
    issue_number = models.CharField(_("期号"), max_length=40, blank=True, help_text=_("如：第3期"))
    period_start = models.DateField(_("统计起始"))
    period_end = models.DateField(_("统计截止"))
    praise = models.TextField(_("表扬"), blank=True)
    criticism = models.TextField(_("批评"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=BulletinStatus.choices, default=BulletinStatus.DRAFT)
    figures = models.JSONField(_("统计数据"), default=dict, blank=True, editable=False)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("通报")
        verbose_name_plural = _("通报")
        ordering = ["-period_end", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="bulletin_period_ordered"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="bulletin_published_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.title


# --- Yearly assessment (年度考核) ---------------------------------------------------------------------


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", _("编制中")
    OPEN = "open", _("考核中")
    PUBLISHED = "published", _("已公布")


class Assessment(models.Model):
    """A plan's yearly assessment of its responsible units on a weighted rubric.

    Drafted by the plan's managers (the rubric can change), opened (each responsible unit gets an
    entry to assess itself), reviewed unit by unit, and published: the computed figures, the
    scores and the ranking are then frozen on the entries and never change.
    """

    plan = models.ForeignKey(Plan, verbose_name=_("工作方案"), on_delete=models.CASCADE, related_name="assessments")
    # The plan's region, copied so scoping needs no join.
    region = models.ForeignKey(Region, verbose_name=_("考核范围"), on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("考核年度"))
    title = models.CharField(_("考核名称"), max_length=200)
    period_start = models.DateField(_("考核起始"))
    period_end = models.DateField(_("考核截止"))
    self_deadline = models.DateField(_("自评截止日期"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    opened_at = models.DateTimeField(_("启动时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("公布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("年度考核")
        verbose_name_plural = _("年度考核")
        ordering = ["-year", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "year"], name="assessment_one_per_plan_year"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="assessment_period_ordered"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="assessment_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ItemKind(models.TextChoices):
    """What an item measures: four are computed from the records, one is scored by the reviewer."""

    ON_TIME = "on_time", _("按时完成率")
    COMPLETION = "completion", _("任务完成度")
    INDICATORS = "indicators", _("指标达标率")
    RECTIFICATION = "rectification", _("整改按期销号率")
    REVIEW = "review", _("评审打分")


COMPUTED_KINDS = frozenset({ItemKind.ON_TIME, ItemKind.COMPLETION, ItemKind.INDICATORS, ItemKind.RECTIFICATION})


class AssessmentItem(models.Model):
    """One weighted line of the rubric (考核细则): computed, or scored by hand by the reviewer."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("计分方式"), max_length=14, choices=ItemKind.choices)
    name = models.CharField(_("考核项目"), max_length=120)
    weight = models.DecimalField(
        _("分值"), max_digits=5, decimal_places=1, validators=[MinValueValidator(Decimal("0.1"))]
    )
    criteria = models.TextField(_("评分标准"), blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("考核项目")
        verbose_name_plural = _("考核项目")
        ordering = ["assessment", "order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="assessment_item_weight_positive"),
            models.UniqueConstraint(fields=["assessment", "name"], name="assessment_item_name_unique"),
            models.UniqueConstraint(
                fields=["assessment", "kind"], condition=~Q(kind="review"), name="assessment_item_one_per_metric"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.weight}分）"

    @property
    def is_computed(self) -> bool:
        return self.kind in COMPUTED_KINDS


class EntryStatus(models.TextChoices):
    PENDING = "pending", _("待自评")
    SELF_SUBMITTED = "self_submitted", _("已自评")
    REVIEWED = "reviewed", _("已审核")


class AssessmentEntry(models.Model):
    """One assessed unit: its self-assessment, the review and, once published, its total and rank."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="entries")
    unit = models.ForeignKey(Unit, verbose_name=_("被考核单位"), on_delete=models.PROTECT, related_name="+")
    # The unit's region, so a village sees its own entry without a join.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("状态"), max_length=16, choices=EntryStatus.choices, default=EntryStatus.PENDING)
    self_comment = models.TextField(_("自评说明"), blank=True)
    self_submitted_at = models.DateTimeField(_("自评时间"), null=True, blank=True)
    self_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_comment = models.TextField(_("审核意见"), blank=True)
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Frozen when the assessment is published.
    total = models.DecimalField(_("总分"), max_digits=6, decimal_places=2, null=True, blank=True)
    rank = models.PositiveIntegerField(_("排名"), null=True, blank=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("考核对象")
        verbose_name_plural = _("考核对象")
        ordering = ["assessment", "rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "unit"], name="assessment_entry_one_per_unit"),
            models.CheckConstraint(
                condition=~Q(status="reviewed") | Q(reviewed_at__isnull=False), name="assessment_entry_reviewed_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} · {self.unit}"


class AssessmentScore(models.Model):
    """An entry's line for one item: hand scores (self, review) or the frozen computed figures."""

    entry = models.ForeignKey(AssessmentEntry, on_delete=models.CASCADE, related_name="scores")
    item = models.ForeignKey(AssessmentItem, on_delete=models.CASCADE, related_name="scores")
    self_score = models.DecimalField(_("自评得分"), max_digits=5, decimal_places=1, null=True, blank=True)
    review_score = models.DecimalField(_("审核得分"), max_digits=5, decimal_places=1, null=True, blank=True)
    # Computed items, frozen at publication: numerator ÷ denominator → rate (0–100) → points.
    numerator = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    denominator = models.PositiveIntegerField(null=True, blank=True)
    rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    points = models.DecimalField(_("得分"), max_digits=6, decimal_places=2, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("考核得分")
        verbose_name_plural = _("考核得分")
        ordering = ["entry", "item__order", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "item"], name="assessment_score_one_per_item"),
            models.CheckConstraint(
                condition=(Q(self_score__isnull=True) | Q(self_score__gte=0))
                & (Q(review_score__isnull=True) | Q(review_score__gte=0)),
                name="assessment_score_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry} · {self.item.name}"
