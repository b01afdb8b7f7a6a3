"""Grievances and disputes (矛盾纠纷化解): cases, their parties, timeline, returns, extensions, ratings.

A case moves through the states of ``CaseStatus`` only through the service functions in
``cocreate.cases.services`` (one per transition, see ``TRANSITIONS`` there and docs/cases.md).
Each transition bumps ``Case.version`` and writes exactly one ``CaseEvent`` carrying the new
version; ``(case, version)`` is unique, so the database itself refuses a second event for the
same step. Parties' phone and ID numbers are encrypted at rest (``EncryptedTextField``); the
phone also has a keyed digest for the resident's "tracking code + phone" lookup.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cocreate.core.crypto import EncryptedTextField
from cocreate.core.models import Person, Region, ScopedManager, Unit

# --- Catalogues ---------------------------------------------------------------------------------------


class CaseCategory(models.Model):
    """A kind of dispute (邻里纠纷, 婚姻家庭 …); installed by a data migration, editable by admins."""

    code = models.SlugField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=40, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("纠纷类别")
        verbose_name_plural = _("纠纷类别")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")
    CRITICAL = "critical", _("非常紧急")


class LimitStep(models.TextChoices):
    WHOLE = "whole", _("全流程（派单至答复）")
    FIRST_CONTACT = "first_contact", _("首次联系")
    HANDLING = "handling", _("办理（首次联系至答复）")
    REWORK = "rework", _("重办")
    FOLLOWUP = "followup", _("回访评价")


class LimitUnit(models.TextChoices):
    WORKDAYS = "workdays", _("工作日")
    HOURS = "hours", _("工作小时")


class TimeLimit(models.Model):
    """How long one step of a case may take, per urgency and optionally per category.

    A row with a category overrides the default row (category empty) of the same urgency and step.
    """

    category = models.ForeignKey(
        CaseCategory, verbose_name=_("类别"), null=True, blank=True, on_delete=models.CASCADE, related_name="limits"
    )
    urgency = models.CharField(_("紧急程度"), max_length=10, choices=Urgency.choices)
    step = models.CharField(_("环节"), max_length=16, choices=LimitStep.choices)
    amount = models.PositiveSmallIntegerField(_("时限"))
    unit = models.CharField(_("单位"), max_length=10, choices=LimitUnit.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("办理时限")
        verbose_name_plural = _("办理时限")
        ordering = ["category__order", "urgency", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "urgency", "step"],
                condition=Q(category__isnull=False),
                name="timelimit_unique_per_category",
            ),
            models.UniqueConstraint(
                fields=["urgency", "step"], condition=Q(category__isnull=True), name="timelimit_unique_default"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="timelimit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.category or _('默认')} · {self.get_urgency_display()} · {self.get_step_display()}"


# --- Cases ------------------------------------------------------------------------------------------------


class CaseChannel(models.TextChoices):
    SELF = "self", _("群众自主上报")
    VISIT = "visit", _("网格员走访")
    ONSITE = "onsite", _("现场受理")
    WALKIN = "walkin", _("来访接待")
    ONLINE = "online", _("网上反映")


class CaseStatus(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    ACCEPTED = "accepted", _("已受理")
    DECLINED = "declined", _("不予受理")
    TRIAGED = "triaged", _("已研判")
    DISPATCHED = "dispatched", _("已派单")
    RETURNED = "returned", _("已退单")
    SIGNED = "signed", _("已签收")
    IN_PROGRESS = "in_progress", _("办理中")
    REPLIED = "replied", _("已答复")
    DISSATISFIED = "dissatisfied", _("不满意待处理")
    CLOSED = "closed", _("已办结")
    MERGED = "merged", _("已合并")


# States in which a case has a responsible lead unit and a running clock.
DISPATCHED_STATES = frozenset(
    {
        CaseStatus.DISPATCHED,
        CaseStatus.RETURNED,
        CaseStatus.SIGNED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.REPLIED,
        CaseStatus.DISSATISFIED,
    }
)
SIGNED_STATES = frozenset({CaseStatus.SIGNED, CaseStatus.IN_PROGRESS, CaseStatus.REPLIED, CaseStatus.DISSATISFIED})
CONTACTED_STATES = frozenset({CaseStatus.IN_PROGRESS, CaseStatus.REPLIED, CaseStatus.DISSATISFIED})
FINAL_STATES = frozenset({CaseStatus.DECLINED, CaseStatus.CLOSED, CaseStatus.MERGED})


class CaseLevel(models.IntegerChoices):
    """Where a case is handled; the values are the matching ``RegionLevel`` values."""

    COUNTY = 3, _("县级")
    TOWN = 4, _("镇级")
    VILLAGE = 5, _("村级")


class Risk(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class Complexity(models.TextChoices):
    SIMPLE = "simple", _("简单")
    ORDINARY = "ordinary", _("一般")
    COMPLEX = "complex", _("复杂")


class DeclineReason(models.TextChoices):
    LITIGATION = "litigation", _("已进入诉讼程序")
    ARBITRATION = "arbitration", _("已进入仲裁程序")
    EMERGENCY = "emergency", _("紧急警情，请拨打110/119/120")
    NO_CONTENT = "no_content", _("无实质内容")


class Outcome(models.TextChoices):
    RESOLVED = "resolved", _("化解成功")
    UNRESOLVED = "unresolved", _("未化解")
    ANSWERED = "answered", _("当场答复")
    UNREASONABLE = "unreasonable", _("不合理诉求")


class Case(models.Model):
    """One grievance or dispute, from intake to closing; never public."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    # Given to the applicant (SMS / slip) to follow the case with their phone number, no account needed.
    tracking_code = models.CharField(_("查询码"), max_length=12, unique=True)
    region = models.ForeignKey(Region, verbose_name=_("发生地"), on_delete=models.PROTECT, related_name="cases")
    place = models.CharField(_("具体地点"), max_length=200, blank=True)
    channel = models.CharField(_("来源渠道"), max_length=10, choices=CaseChannel.choices)
    category = models.ForeignKey(
        CaseCategory, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="cases", null=True, blank=True
    )
    urgency = models.CharField(_("紧急程度"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("标题"), max_length=100, blank=True)
    description = models.TextField(_("情况描述"))
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    status = models.CharField(_("状态"), max_length=14, choices=CaseStatus.choices, default=CaseStatus.REGISTERED)
    level = models.PositiveSmallIntegerField(_("处置层级"), choices=CaseLevel.choices, default=CaseLevel.VILLAGE)
    risk = models.CharField(_("风险等级"), max_length=8, choices=Risk.choices, blank=True)
    complexity = models.CharField(_("复杂程度"), max_length=10, choices=Complexity.choices, blank=True)
    lead_unit = models.ForeignKey(
        Unit, verbose_name=_("主办单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="led_cases"
    )
    co_units = models.ManyToManyField(Unit, verbose_name=_("协办单位"), blank=True, related_name="cooperated_cases")
    decline_reason = models.CharField(_("不予受理原因"), max_length=12, choices=DeclineReason.choices, blank=True)
    answer = models.TextField(_("答复内容"), blank=True)
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    step_due_at = models.DateTimeField(_("当前环节时限"), null=True, blank=True)
    # The first-contact limit of the latest dispatch, kept after step_due_at moves on: the
    # response rate (docs/metrics.md) compares first_contact_at with it in SQL.
    first_contact_due_at = models.DateTimeField(_("首次联系时限"), null=True, blank=True)
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("首次联系时间"), null=True, blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    # Reworks ordered at the current level (reset when the case is escalated to a new level).
    rework_round = models.PositiveSmallIntegerField(_("重办轮次"), default=0)
    # Replies given so far; a rating belongs to one reply (Rating.round), one rating each.
    reply_count = models.PositiveSmallIntegerField(_("答复次数"), default=0)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("合并至"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases"
    )
    outcome = models.CharField(_("办理结果"), max_length=14, choices=Outcome.choices, blank=True)
    # The need on the community's problem list this case was turned into (services.case_to_need).
    # One way only (related_name "+"): a need, which is public, never leads back to the case.
    need = models.ForeignKey(
        "participation.Need",
        verbose_name=_("转为社区议题"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_cases",
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every transition; issue 6 compares it to refuse lost updates.
    version = models.PositiveIntegerField(default=1)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = ScopedManager()

    class Meta:
        verbose_name = _("矛盾纠纷")
        verbose_name_plural = _("矛盾纠纷")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The work queue's office tabs: a status, a level and the regions of the office's area.
            models.Index(fields=["status", "level", "region"], name="case_status_level_region_idx"),
            models.Index(fields=["lead_unit", "status"]),
            models.Index(fields=["due_at"]),
            # The analytics count the period's registrations, dispatches and closings: each from
            # its own date (docs/performance.md, bench/cases).
            models.Index(fields=["created_at"], name="case_created_at_idx"),
            models.Index(fields=["dispatched_at"], name="case_dispatched_at_idx"),
            models.Index(fields=["closed_at"], name="case_closed_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=CaseLevel.values), name="case_level_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="case_version_positive"),
            models.CheckConstraint(
                condition=Q(status=CaseStatus.MERGED, merged_into__isnull=False)
                | (~Q(status=CaseStatus.MERGED) & Q(merged_into__isnull=True)),
                name="case_merged_has_target",
            ),
            models.CheckConstraint(condition=~Q(merged_into=F("id")), name="case_not_merged_into_itself"),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(DISPATCHED_STATES))
                | Q(lead_unit__isnull=False, dispatched_at__isnull=False, due_at__isnull=False),
                name="case_dispatched_has_unit_and_clock",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(SIGNED_STATES)) | Q(signed_at__isnull=False), name="case_signed_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(CONTACTED_STATES)) | Q(first_contact_at__isnull=False),
                name="case_contacted_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(FINAL_STATES)) | Q(closed_at__isnull=False),
                name="case_final_has_closed_at",
            ),
            models.CheckConstraint(
                condition=~Q(status=CaseStatus.CLOSED) | ~Q(outcome=""), name="case_closed_has_outcome"
            ),
            models.CheckConstraint(
                condition=~Q(status=CaseStatus.DECLINED) | ~Q(decline_reason=""), name="case_declined_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[CaseStatus.REPLIED, CaseStatus.DISSATISFIED])
                | Q(replied_at__isnull=False, reply_count__gte=1),
                name="case_replied_has_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip()

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATES


class CaseNumberSequence(models.Model):
    """The last case number given out in a year; one locked row per year keeps numbers gapless."""

    year = models.PositiveSmallIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("编号序列")
        verbose_name_plural = _("编号序列")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("申请人")
    OTHER_PARTY = "other_party", _("对方当事人")


class Party(models.Model):
    """A person in a case; phone and ID number are encrypted at rest and masked wherever shown."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("身份"), max_length=12, choices=PartyRole.choices)
    # The known person behind the party, when there is one (the resident's account sees the case).
    person = models.ForeignKey(
        Person,
        verbose_name=_("对应人员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="case_parties",
    )
    name = models.CharField(_("姓名"), max_length=50)
    phone = EncryptedTextField(_("联系电话"), blank=True)
    # HMAC of the normalised phone: "tracking code + phone" matches without decrypting anything.
    phone_digest = models.CharField(max_length=64, blank=True, db_index=True)
    id_number = EncryptedTextField(_("身份证号"), blank=True)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("当事人")
        verbose_name_plural = _("当事人")
        ordering = ["case", "role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(role=PartyRole.APPLICANT), name="party_one_applicant_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.name}"

    def refresh_digests(self) -> list[str]:
        """Recomputes the lookup digests from the plaintext (after a key rotation); returns field names."""
        from cocreate.cases.tracking import phone_digest

        self.phone_digest = phone_digest(self.phone) if self.phone else ""
        return ["phone_digest"]


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("登记")
    ACCEPTED = "accepted", _("受理")
    DECLINED = "declined", _("不予受理")
    ANSWERED = "answered", _("当场答复")
    TRIAGED = "triaged", _("研判分级")
    DISPATCHED = "dispatched", _("派单")
    RETURNED = "returned", _("退单")
    RETURN_DECIDED = "return_decided", _("退单审核")
    SIGNED = "signed", _("签收")
    CONTACTED = "contacted", _("首次联系")
    REPLIED = "replied", _("答复")
    RATED = "rated", _("评价")
    REWORKED = "reworked", _("重办")
    CLOSED = "closed", _("办结")
    CLOSED_UNREASONABLE = "closed_unreasonable", _("按不合理诉求办结")
    EXTENSION_REQUESTED = "extension_requested", _("申请延期")
    EXTENSION_DECIDED = "extension_decided", _("延期审批")
    ESCALATED = "escalated", _("提级")
    MERGED = "merged", _("合并")
    TO_NEED = "to_need", _("转为社区议题")


class CaseEvent(models.Model):
    """One step of a case's timeline: who did what, from which state to which, when."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("环节"), max_length=20, choices=EventKind.choices)
    from_status = models.CharField(_("原状态"), max_length=14, choices=CaseStatus.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=14, choices=CaseStatus.choices)
    # The case's version after this step: one event per version.
    version = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="case_events"
    )
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="case_events")
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(_("时间"))

    objects = ScopedManager()

    class Meta:
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        ordering = ["case", "version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="caseevent_one_per_version")]

    def __str__(self) -> str:
        return f"{self.case_id} v{self.version} {self.kind}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已同意")
    REFUSED = "refused", _("未同意")


class ExtensionRequest(models.Model):
    """A lead unit's request for more time, asked before the deadline, decided by the level above."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extension_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("延期理由"))
    days = models.PositiveSmallIntegerField(_("延期工作日数"))
    old_due_at = models.DateTimeField(_("原时限"))
    requested_due_at = models.DateTimeField(_("申请延至"))
    status = models.CharField(_("状态"), max_length=8, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        ordering = ["case", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status=RequestStatus.PENDING), name="extension_one_pending_per_case"
            ),
            models.CheckConstraint(condition=Q(days__gt=0), name="extension_days_positive"),
            models.CheckConstraint(
                condition=Q(requested_due_at__gt=F("old_due_at")), name="extension_moves_deadline_later"
            ),
            models.CheckConstraint(
                condition=Q(status=RequestStatus.PENDING) | Q(decided_at__isnull=False),
                name="extension_decided_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.days} {self.status}"


class ReturnDecision(models.TextChoices):
    PENDING = "pending", _("待审核")
    REDISPATCHED = "redispatched", _("改派")
    SENT_BACK = "sent_back", _("退回原单位办理")


class CaseReturn(models.Model):
    """A lead unit sending a dispatch back with a reason; the level above decides where it goes."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="returns")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    returned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(_("退单理由"))
    decision = models.CharField(
        _("审核结果"), max_length=12, choices=ReturnDecision.choices, default=ReturnDecision.PENDING
    )
    new_lead_unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("审核意见"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("退单")
        verbose_name_plural = _("退单")
        ordering = ["case", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(decision=ReturnDecision.PENDING), name="return_one_pending_per_case"
            ),
            models.CheckConstraint(
                condition=Q(decision=ReturnDecision.PENDING) | Q(decided_at__isnull=False),
                name="return_decided_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(decision=ReturnDecision.REDISPATCHED) | Q(new_lead_unit__isnull=False),
                name="return_redispatch_has_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.decision}"


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


class RatingChannel(models.TextChoices):
    PAGE = "page", _("案件页面")
    SMS_LINK = "sms_link", _("短信链接")
    TRACKING = "tracking", _("查询码+手机号")


class Rating(models.Model):
    """The applicant's rating of one reply (the first, then one after each rework or escalation)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="ratings")
    # The case's reply_count when rated: at most one rating per reply.
    round = models.PositiveSmallIntegerField(_("轮次"))
    resolved = models.BooleanField(_("问题是否解决"))
    satisfaction = models.CharField(_("满意度"), max_length=12, choices=Satisfaction.choices)
    efficiency = models.CharField(_("办理效率"), max_length=12, choices=Satisfaction.choices)
    leader_rating = models.CharField(_("对责任领导的评价"), max_length=12, choices=Satisfaction.choices)
    comment = models.TextField(_("意见"), blank=True)
    channel = models.CharField(_("评价方式"), max_length=10, choices=RatingChannel.choices)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("评价")
        verbose_name_plural = _("评价")
        ordering = ["case", "round"]
        indexes = [models.Index(fields=["created_at"], name="rating_created_at_idx")]
        constraints = [
            models.UniqueConstraint(fields=["case", "round"], name="rating_one_per_round"),
            models.CheckConstraint(condition=Q(round__gte=1), name="rating_round_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.round} {self.satisfaction}"


class ReminderKind(models.TextChoices):
    """The steps of the reminder ladder around one deadline (cases/jobs.py)."""

    BEFORE = "before", _("到期提醒")
    URGE = "urge", _("催办")
    SUPERVISE = "supervise", _("督办通知")
    BULLETIN = "bulletin", _("通报")


class CaseReminder(models.Model):
    """One ladder step sent for one deadline of a case; unique, so each step goes out once per deadline.

    Written in the same transaction as its notifications and outbox rows: after a crash the step
    is either recorded and queued, or neither, and the next sweep does it again.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(_("类型"), max_length=10, choices=ReminderKind.choices)
    # The deadline this step is about: an extension or a new step gives a new deadline, a new ladder.
    deadline = models.DateTimeField(_("时限"))
    recipients = models.PositiveIntegerField(_("通知人数"), default=0)
    sent_at = models.DateTimeField(_("发送时间"))

    class Meta:
        verbose_name = _("催督办记录")
        verbose_name_plural = _("催督办记录")
        ordering = ["case", "deadline", "sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "deadline"], name="casereminder_once_per_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.deadline:%Y-%m-%d %H:%M}"
