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
