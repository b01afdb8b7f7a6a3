"""Co-decision (决策共谋): votes with the rule the deciding body needs.

A vote names its electorate and its rule. The rule is data (``VoteRule`` with its
``RuleThreshold`` rows), not a code branch, so a county can set its own thresholds: a quorum
(participation) stage and a passing stage, each a set of fractions of head count or floor area,
measured against the electorate or against those who took part. When a vote opens, its
electorate is frozen into a voter roll (``Voter``: a person or a household, with the floor area
an owner holds); a ballot belongs to one roll line, and the database allows one ballot per line,
whether it was cast online or recorded by staff from a paper sign-in sheet.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cocreate.core.models import Household, Person, Region, ScopedManager


class ElectorateKind(models.TextChoices):
    RESIDENTS = "residents", _("本区域已核实居民")
    ADULTS = "adults", _("本区域18周岁以上已核实居民")
    HOUSEHOLDS = "households", _("本区域各户（户代表）")
    REPRESENTATIVES = "representatives", _("村（居）民代表")
    PARTY_MEMBERS = "party_members", _("党员")
    OWNERS = "owners", _("小区业主")


class Stage(models.TextChoices):
    QUORUM = "quorum", _("有效条件（参与）")
    PASS = "pass", _("通过条件（同意）")


class Measure(models.TextChoices):
    HEADCOUNT = "headcount", _("人数（户数）")
    AREA = "area", _("专有部分面积")


class Base(models.TextChoices):
    ELECTORATE = "electorate", _("全体有表决权者")
    PARTICIPANTS = "participants", _("参与表决者")


class VoteRule(models.Model):
    """A decision rule: when a vote is valid (quorum) and when it carries (pass), as data.

    Within a stage, thresholds of the same ``group`` must all hold; one satisfied group
    satisfies the stage (a stage without thresholds always holds). A quorum threshold compares
    the participants with the electorate; a pass threshold compares the "agree" ballots with the
    base it names.
    """

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("规则名称"), max_length=80)
    description = models.TextField(_("说明"), blank=True)
    legal_basis = models.CharField(_("依据"), max_length=200, blank=True)
    electorate = models.CharField(_("默认表决范围"), max_length=16, choices=ElectorateKind.choices)
    is_active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("表决规则")
        verbose_name_plural = _("表决规则")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class RuleThreshold(models.Model):
    """One fraction of a rule: measure ÷ base must be more than (strict) or at least num/den."""

    rule = models.ForeignKey(VoteRule, on_delete=models.CASCADE, related_name="thresholds")
    stage = models.CharField(_("阶段"), max_length=8, choices=Stage.choices)
    group = models.PositiveSmallIntegerField(_("条件组"), default=1)
    measure = models.CharField(_("计量"), max_length=10, choices=Measure.choices, default=Measure.HEADCOUNT)
    base = models.CharField(_("基数"), max_length=12, choices=Base.choices)
    numerator = models.PositiveSmallIntegerField(_("分子"))
    denominator = models.PositiveSmallIntegerField(_("分母"))
    strict = models.BooleanField(_("须超过（不含本数）"), default=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("表决条件")
        verbose_name_plural = _("表决条件")
        ordering = ["rule", "stage", "group", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(denominator__gt=0, numerator__lte=models.F("denominator")), name="threshold_fraction"
            ),
            models.CheckConstraint(
                condition=~Q(stage="quorum", base="participants"), name="threshold_quorum_of_electorate"
            ),
        ]

    def __str__(self) -> str:
        sign = ">" if self.strict else "≥"
        return f"{self.get_measure_display()} {sign} {self.numerator}/{self.denominator} {self.get_base_display()}"


class Estate(models.Model):
    """A residential estate (小区) whose owners decide on common matters."""

    region = models.ForeignKey(Region, verbose_name=_("所在社区"), on_delete=models.PROTECT, related_name="estates")
    name = models.CharField(_("小区名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("小区")
        verbose_name_plural = _("小区")
        ordering = ["region", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="estate_name_unique")]

    def __str__(self) -> str:
        return self.name


class PropertyUnit(models.Model):
    """An owner's exclusive unit (专有部分) and its floor area: the records owners' votes count."""

    estate = models.ForeignKey(Estate, on_delete=models.CASCADE, related_name="units")
    # The estate's region, copied so scoping needs no join.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("房号"), max_length=40)
    area = models.DecimalField(_("专有部分面积（㎡）"), max_digits=9, decimal_places=2)
    owner = models.ForeignKey(Person, verbose_name=_("业主"), on_delete=models.PROTECT, related_name="property_units")
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("房屋")
        verbose_name_plural = _("房屋")
        ordering = ["estate", "number"]
        constraints = [
            models.UniqueConstraint(fields=["estate", "number"], name="property_unit_number_unique"),
            models.CheckConstraint(condition=Q(area__gt=0), name="property_unit_area_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.estate} {self.number}"


class VoteStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("投票中")
    CLOSED = "closed", _("已结束")


class Choice(models.TextChoices):
    AGREE = "agree", _("同意")
    DISAGREE = "disagree", _("不同意")
    ABSTAIN = "abstain", _("弃权")


class Vote(models.Model):
    """A question put to an electorate under a rule; valid and carried are computed, never typed."""

    region = models.ForeignKey(Region, verbose_name=_("所属区域"), on_delete=models.PROTECT, related_name="votes")
    title = models.CharField(_("表决事项"), max_length=200)
    question = models.TextField(_("表决内容"), blank=True)
    rule = models.ForeignKey(VoteRule, verbose_name=_("表决规则"), on_delete=models.PROTECT, related_name="votes")
    electorate = models.CharField(_("表决范围"), max_length=16, choices=ElectorateKind.choices)
    estate = models.ForeignKey(
        Estate, verbose_name=_("小区"), null=True, blank=True, on_delete=models.PROTECT, related_name="votes"
    )
    # The problem-list line the vote decides, if any: its needs' raisers follow the vote from their need.
    problem = models.ForeignKey(
        "ProblemItem",
        verbose_name=_("问题清单"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="votes",
    )
    opens_at = models.DateTimeField(_("开始时间"))
    closes_at = models.DateTimeField(_("截止时间"))
    status = models.CharField(_("状态"), max_length=8, choices=VoteStatus.choices, default=VoteStatus.DRAFT)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Frozen when the vote closes: counts, each threshold's figure, valid, carried.
    result = models.JSONField(_("表决结果"), default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("表决")
        verbose_name_plural = _("表决")
        ordering = ["-opens_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")), name="vote_window_ordered"),
            models.CheckConstraint(
                condition=~Q(electorate="owners") | Q(estate__isnull=False), name="vote_owners_need_estate"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False), name="vote_closed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Voter(models.Model):
    """One line of a vote's roll, frozen when the vote opens: a person, or a household."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="voters")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Floor area held (owners' votes); 0 elsewhere.
    area = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    objects = ScopedManager()

    class Meta:
        verbose_name = _("表决名册")
        verbose_name_plural = _("表决名册")
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, household__isnull=True)
                | Q(person__isnull=True, household__isnull=False),
                name="voter_person_or_household",
            ),
            models.UniqueConstraint(
                fields=["vote", "person"], condition=Q(person__isnull=False), name="voter_person_once"
            ),
            models.UniqueConstraint(
                fields=["vote", "household"], condition=Q(household__isnull=False), name="voter_household_once"
            ),
            models.CheckConstraint(condition=Q(area__gte=0), name="voter_area_not_negative"),
        ]

    def __str__(self) -> str:
        return str(self.person or self.household)


class BallotChannel(models.TextChoices):
    ONLINE = "online", _("线上投票")
    PAPER = "paper", _("现场表决（工作人员录入）")


class Ballot(models.Model):
    """One roll line's ballot. The unique voter is the rule "one person, one vote" in the database."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="ballots")
    voter = models.OneToOneField(Voter, on_delete=models.CASCADE, related_name="ballot")
    choice = models.CharField(_("表决意见"), max_length=8, choices=Choice.choices)
    channel = models.CharField(_("方式"), max_length=8, choices=BallotChannel.choices)
    # Who pressed the button or entered the sign-in sheet (a household member, or staff).
    cast_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    cast_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("选票")
        verbose_name_plural = _("选票")
        indexes = [models.Index(fields=["vote", "choice"])]

    def __str__(self) -> str:
        return f"{self.vote} · {self.get_choice_display()}"


# --- Needs and the problem list (民事民提) ------------------------------------------------------------


class NeedCategory(models.TextChoices):
    INDUSTRY = "industry", _("产业发展")
    ENVIRONMENT = "environment", _("人居环境")
    INFRASTRUCTURE = "infrastructure", _("基础设施")
    PUBLIC_SERVICES = "public_services", _("公共服务")
    GOVERNANCE = "governance", _("社会治理")


class NeedChannel(models.TextChoices):
    SELF = "self", _("居民自行提出")
    VISIT = "visit", _("网格员入户代录")
    STAFF = "staff", _("工作人员登记")
    # Turned from a grievance by its office (cases.services.case_to_need): no party data travels.
    CASE = "case", _("工作人员登记（矛盾纠纷转入）")


class NeedStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待处理")
    LISTED = "listed", _("已列入问题清单")
    DECLINED = "declined", _("未采纳")
    MERGED = "merged", _("已合并")
    DONE = "done", _("已办结")


class ProblemStatus(models.TextChoices):
    OPEN = "open", _("待议")
    DELIBERATING = "deliberating", _("议事中")
    DECIDED = "decided", _("已决议")
    DROPPED = "dropped", _("不予实施")
    DONE = "done", _("已办结")


class ProblemItem(models.Model):
    """One line of a community's problem list (问题清单), screened from residents' needs."""

    region = models.ForeignKey(Region, verbose_name=_("所属社区"), on_delete=models.PROTECT, related_name="problems")
    title = models.CharField(_("问题"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    category = models.CharField(_("类别"), max_length=16, choices=NeedCategory.choices)
    status = models.CharField(_("状态"), max_length=14, choices=ProblemStatus.choices, default=ProblemStatus.OPEN)
    status_reason = models.CharField(_("状态说明"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("问题清单")
        verbose_name_plural = _("问题清单")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return self.title


class Need(models.Model):
    """A resident's need or idea (诉求 / 金点子), raised themselves or recorded for them."""

    region = models.ForeignKey(Region, verbose_name=_("所属社区"), on_delete=models.PROTECT, related_name="needs")
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("具体内容"))
    category = models.CharField(_("类别"), max_length=16, choices=NeedCategory.choices)
    place = models.CharField(_("地点"), max_length=200, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    channel = models.CharField(_("提出方式"), max_length=8, choices=NeedChannel.choices, default=NeedChannel.SELF)
    # Whose need it is (sees every status change), and who typed it in (the grid worker on a visit).
    raised_by = models.ForeignKey(Person, verbose_name=_("提出人"), on_delete=models.PROTECT, related_name="needs")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=NeedStatus.choices, default=NeedStatus.SUBMITTED)
    status_reason = models.CharField(_("处理说明"), max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("合并到"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    problem = models.ForeignKey(
        ProblemItem, verbose_name=_("问题清单"), null=True, blank=True, on_delete=models.SET_NULL, related_name="needs"
    )
    created_at = models.DateTimeField(_("提出时间"), auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["region", "status", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="merged") | Q(merged_into__isnull=False), name="need_merged_has_target"
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(status_reason=""), name="need_declined_has_reason"
            ),
            models.CheckConstraint(condition=~Q(merged_into=models.F("pk")), name="need_not_merged_into_itself"),
        ]

    def __str__(self) -> str:
        return self.title


class NeedSupport(models.Model):
    """A neighbour seconding a need (附议): once per person and need, kept through merges."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="supports")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("附议")
        verbose_name_plural = _("附议")
        constraints = [models.UniqueConstraint(fields=["need", "person"], name="need_support_once")]

    def __str__(self) -> str:
        return f"{self.need} · {self.person_id}"


# --- Deliberation (民事民议) ---------------------------------------------------------------------------


class MeetingKind(models.TextChoices):
    COUNCIL = "council", _("议事会")
    COURTYARD = "courtyard", _("屋场会")
    BENCH = "bench", _("板凳会")
    VILLAGERS = "villagers", _("村民会议")
    REPRESENTATIVES = "representatives", _("村（居）民代表会议")
    PARTY = "party", _("党员大会")
    COMMITTEES = "committees", _("两委会议")


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("待召开")
    HELD = "held", _("已召开")


class Meeting(models.Model):
    """A deliberation meeting: who was invited and came, the items, minutes and resolutions."""

    region = models.ForeignKey(Region, verbose_name=_("所属社区"), on_delete=models.PROTECT, related_name="meetings")
    kind = models.CharField(_("会议类型"), max_length=16, choices=MeetingKind.choices)
    title = models.CharField(_("会议名称"), max_length=200)
    held_at = models.DateTimeField(_("召开时间"))
    place = models.CharField(_("地点"), max_length=200)
    status = models.CharField(_("状态"), max_length=8, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED)
    minutes = models.TextField(_("会议纪要"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("议事会议")
        verbose_name_plural = _("议事会议")
        ordering = ["-held_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ParticipantKind(models.TextChoices):
    RESIDENT = "resident", _("群众")
    REPRESENTATIVE = "representative", _("村（居）民代表")
    SAGE = "sage", _("乡贤")
    EXPERT = "expert", _("专家")
    STAFF = "staff", _("工作人员")
    OTHER = "other", _("其他")


class MeetingParticipant(models.Model):
    """Someone invited to a meeting (a person on record, or a named guest such as an expert)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("姓名"), max_length=50)
    kind = models.CharField(_("身份"), max_length=16, choices=ParticipantKind.choices)
    present = models.BooleanField(_("到会"), default=False)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("参会人员")
        verbose_name_plural = _("参会人员")
        ordering = ["meeting", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "person"], condition=Q(person__isnull=False), name="meeting_participant_once"
            )
        ]

    def __str__(self) -> str:
        return self.name


class MeetingItem(models.Model):
    """An item on a meeting's agenda (usually a problem-list line) with its discussion and resolution."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    problem = models.ForeignKey(
        ProblemItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="meeting_items"
    )
    title = models.CharField(_("议题"), max_length=200)
    discussion = models.TextField(_("讨论情况"), blank=True)
    resolution = models.TextField(_("决议"), blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("议题")
        verbose_name_plural = _("议题")
        ordering = ["meeting", "order", "id"]

    def __str__(self) -> str:
        return self.title


class ItemComment(models.Model):
    """A resident's comment on an agenda item before the meeting (for those who cannot attend)."""

    item = models.ForeignKey(MeetingItem, on_delete=models.CASCADE, related_name="comments")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("意见"))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("议题意见")
        verbose_name_plural = _("议题意见")
        ordering = ["item", "created_at", "id"]

    def __str__(self) -> str:
        return self.text[:30]


# --- Public notices (公示) -------------------------------------------------------------------------------


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("公示中")
    ENDED = "ended", _("公示期满")


class Notice(models.Model):
    """A public notice for a period; residents may object while it runs, staff answer each objection."""

    region = models.ForeignKey(Region, verbose_name=_("所属社区"), on_delete=models.PROTECT, related_name="notices")
    title = models.CharField(_("公示标题"), max_length=200)
    body = models.TextField(_("公示内容"))
    starts_on = models.DateField(_("公示开始"))
    ends_on = models.DateField(_("公示结束"))
    status = models.CharField(_("状态"), max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    # Set when the period has ended: true when no objection stands unresolved or upheld.
    passed = models.BooleanField(_("公示无异议"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("公示")
        verbose_name_plural = _("公示")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="notice_period_ordered"),
        ]

    def __str__(self) -> str:
        return self.title


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("待答复")
    ANSWERED = "answered", _("已答复（不成立）")
    UPHELD = "upheld", _("异议成立")


class Objection(models.Model):
    """A resident's objection to a notice during its period, and the staff's answer."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="objections")
    person = models.ForeignKey(Person, verbose_name=_("提出人"), on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("异议内容"))
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(_("状态"), max_length=10, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN)
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("异议")
        verbose_name_plural = _("异议")
        ordering = ["notice", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status="open") | ~Q(answer=""), name="objection_answer_given"),
        ]

    def __str__(self) -> str:
        return self.text[:30]


# --- 四议两公开 ---------------------------------------------------------------------------------------------


class StepKind(models.TextChoices):
    """The six steps, in the order they must be taken."""

    PROPOSAL = "proposal", _("党支部提议")
    CONSULTATION = "consultation", _("两委商议")
    REVIEW = "review", _("党员大会审议")
    RESOLUTION = "resolution", _("村民（代表）会议决议")
    DISCLOSURE = "disclosure", _("决议公开")
    RESULT_DISCLOSURE = "result_disclosure", _("实施结果公开")


STEP_ORDER = [kind for kind, _label in StepKind.choices]


class DecisionStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("进行中")
    REJECTED = "rejected", _("未通过")
    COMPLETED = "completed", _("已完成")


class Decision(models.Model):
    """A major village matter decided through 四议两公开, step by step."""

    region = models.ForeignKey(Region, verbose_name=_("所属村"), on_delete=models.PROTECT, related_name="decisions")
    title = models.CharField(_("决策事项"), max_length=200)
    matter = models.TextField(_("事项内容"), blank=True)
    problem = models.ForeignKey(ProblemItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions")
    status = models.CharField(
        _("状态"), max_length=12, choices=DecisionStatus.choices, default=DecisionStatus.IN_PROGRESS
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("四议两公开")
        verbose_name_plural = _("四议两公开")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class DecisionStep(models.Model):
    """One step taken: date, attendance, counts, notes; the vote or notice it used."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(_("步骤"), max_length=18, choices=StepKind.choices)
    order = models.PositiveSmallIntegerField(_("顺序"))
    done_on = models.DateField(_("日期"))
    attendance = models.PositiveIntegerField(_("参加人数"), null=True, blank=True)
    notes = models.TextField(_("情况记录"), blank=True)
    vote = models.ForeignKey(Vote, null=True, blank=True, on_delete=models.PROTECT, related_name="decision_steps")
    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="decision_steps")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("决策步骤")
        verbose_name_plural = _("决策步骤")
        ordering = ["decision", "order"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "kind"], name="decision_step_once"),
            models.UniqueConstraint(fields=["decision", "order"], name="decision_step_order_once"),
            models.CheckConstraint(condition=Q(order__gte=1, order__lte=6), name="decision_step_order_range"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} · {self.get_kind_display()}"


# --- Task list (任务清单) -----------------------------------------------------------------------------------


class TaskItemStatus(models.TextChoices):
    PENDING = "todo", _("待实施")
    DOING = "doing", _("实施中")
    DONE = "done", _("已完成")


class TaskListItem(models.Model):
    """What was decided, to be done: an owner, a deadline, and optionally a work-plan task it became."""

    region = models.ForeignKey(Region, verbose_name=_("所属社区"), on_delete=models.PROTECT, related_name="task_items")
    title = models.CharField(_("任务"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    problem = models.ForeignKey(
        ProblemItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="task_items"
    )
    meeting_item = models.ForeignKey(
        MeetingItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="task_items"
    )
    vote = models.ForeignKey(Vote, null=True, blank=True, on_delete=models.SET_NULL, related_name="task_items")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.SET_NULL, related_name="task_items")
    owner_unit = models.ForeignKey("core.Unit", verbose_name=_("责任单位"), on_delete=models.PROTECT, related_name="+")
    deadline = models.DateField(_("完成时限"))
    status = models.CharField(_("状态"), max_length=8, choices=TaskItemStatus.choices, default=TaskItemStatus.PENDING)
    # The work-plan task it was sent into; its progress flows back (plans module).
    plan_task = models.OneToOneField(
        "plans.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="task_list_item"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("任务清单")
        verbose_name_plural = _("任务清单")
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return self.title
