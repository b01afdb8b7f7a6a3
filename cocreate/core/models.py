"""Core domain: regions, units, people and accounts, roles, households, evidence, messages.

Every user-facing model has a manager whose queryset offers ``visible_to(user)``; the rules
behind it live in one place, ``cocreate.core.access``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import connections, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cocreate.core.crypto import EncryptedTextField

if TYPE_CHECKING:
    from django.db.models.query import QuerySet

phone_validator = RegexValidator(r"^1\d{10}$", _("请输入11位手机号码"))
region_code_validator = RegexValidator(r"^\d{2,15}$", _("区划代码应为2至15位数字"))


def subtree_q(path: str, field_name: str = "path", *, using: str = "default") -> Q:
    """Q for rows whose region path lies in the subtree at ``path``, answerable from an index."""
    q = Q(**{f"{field_name}__startswith": path})
    if connections[using].vendor == "sqlite":
        # SQLite's LIKE ignores case, so it cannot use the BINARY index on path; a range can.
        # Paths hold only digits and "/", and "0" sorts right after "/", so every descendant of
        # "/42/4201/" lies in ["/42/4201/", "/42/42010"). PostgreSQL keeps plain LIKE: Django gives
        # the column a varchar_pattern_ops index, and a range would be wrong under a non-C collation.
        q &= Q(**{f"{field_name}__gte": path, f"{field_name}__lt": path[:-1] + "0"})
    return q


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to narrow itself to what a user may see."""

    def visible_to(self, user: Any) -> QuerySet:
        from cocreate.core import access

        return access.visible(self, user)


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)


# --- Regions ------------------------------------------------------------------------------------


class RegionLevel(models.IntegerChoices):
    PROVINCE = 1, _("省")
    CITY = 2, _("市")
    COUNTY = 3, _("县/区")
    TOWN = 4, _("乡镇/街道")
    VILLAGE = 5, _("村/社区")
    GRID = 6, _("网格/小区/自然村")


class Region(models.Model):
    """A node of the administrative tree; ``path`` is a materialized path of codes."""

    code = models.CharField(_("区划代码"), max_length=15, unique=True, validators=[region_code_validator])
    name = models.CharField(_("名称"), max_length=100)
    level = models.PositiveSmallIntegerField(_("层级"), choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # "/11/1101/110101/" — subtree queries are one indexed prefix match (LIKE 'x%').
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=6), name="region_level_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.path = self.compute_path()
        self.depth = self.path.count("/") - 2
        super().save(*args, **kwargs)

    def compute_path(self) -> str:
        prefix = self.parent.path if self.parent_id and self.parent else "/"
        return f"{prefix}{self.code}/"

    def subtree(self) -> QuerySet[Region]:
        return Region.objects.filter(subtree_q(self.path))

    def ancestors(self) -> QuerySet[Region]:
        codes = [c for c in self.path.strip("/").split("/") if c and c != self.code]
        return Region.objects.filter(code__in=codes).order_by("depth")

    def contains(self, other: Region) -> bool:
        return other.path.startswith(self.path)


# --- Units --------------------------------------------------------------------------------------


class UnitKind(models.TextChoices):
    GOVERNMENT = "government", _("党政机关")
    DEPARTMENT = "department", _("部门")
    VILLAGE_COMMITTEE = "village_committee", _("村委会")
    RESIDENTS_COMMITTEE = "residents_committee", _("居委会")
    SCHOOL = "school", _("学校")
    ENTERPRISE = "enterprise", _("企业")
    SOCIAL_ORG = "social_org", _("社会组织")


class Unit(models.Model):
    """An organisation placed in a region: tasks name units as lead, responsible, cooperating."""

    name = models.CharField(_("单位名称"), max_length=120)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    kind = models.CharField(_("类型"), max_length=24, choices=UnitKind.choices)
    region = models.ForeignKey(Region, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="units")
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["region__path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="unit_unique_name_in_region"),
        ]

    def __str__(self) -> str:
        return self.name


# --- People and accounts --------------------------------------------------------------------------


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class HouseholdRelation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙子女")
    OTHER = "other", _("其他")


class Person(models.Model):
    """A natural person known to the platform, with or without an account."""

    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("手机号"), max_length=11, blank=True, validators=[phone_validator])
    # Collected only where a rule needs it (e.g. voter rolls); masked everywhere else.
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("居住区划"), on_delete=models.PROTECT, related_name="people")
    household = models.ForeignKey(
        "Household",
        verbose_name=_("所属户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    relation = models.CharField(_("与户主关系"), max_length=12, choices=HouseholdRelation.choices, blank=True)
    is_party_member = models.BooleanField(_("党员"), default=False)
    is_representative = models.BooleanField(_("村(居)民代表"), default=False)
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="verified_people",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["region__path", "name", "id"]
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **extra: Any) -> User:
        if not phone:
            raise ValueError("phone is required")
        user = self.model(phone=phone, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(phone, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login account; people log in with their phone number."""

    phone = models.CharField(_("手机号"), max_length=11, unique=True, validators=[phone_validator])
    display_name = models.CharField(_("显示名称"), max_length=50, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    person = models.OneToOneField(
        Person,
        verbose_name=_("对应人员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="account",
    )
    is_active = models.BooleanField(_("有效"), default=True)
    is_staff = models.BooleanField(_("可进入后台"), default=False)
    large_text = models.BooleanField(_("大字模式"), default=False)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")

    def __str__(self) -> str:
        return self.display_name or (self.person.name if self.person_id and self.person else self.phone)


class Role(models.TextChoices):
    RESIDENT = "resident", _("居民")
    GRID_WORKER = "grid_worker", _("网格员")
    VILLAGE_STAFF = "village_staff", _("村社区工作人员")
    TOWN_STAFF = "town_staff", _("乡镇街道工作人员")
    DEPT_STAFF = "dept_staff", _("部门工作人员")
    INSPECTOR = "inspector", _("督查员")
    LEADER = "leader", _("领导")
    SCHOOL_STAFF = "school_staff", _("学校工作人员")
    ADMIN = "admin", _("管理员")
    AUDITOR = "auditor", _("审计员")


# Roles that work with the business data of their region subtree. The auditor is not one of
# them: an auditor reads the audit trail of their region and nothing else (docs/operations.md).
STAFF_ROLES = frozenset(r for r in Role.values if r not in (Role.RESIDENT, Role.AUDITOR))


class Membership(models.Model):
    """Gives a person's account a role in a region, optionally through a unit."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("账号"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    region = models.ForeignKey(Region, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="memberships")
    unit = models.ForeignKey(
        Unit, verbose_name=_("单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    title = models.CharField(_("职务"), max_length=50, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    starts_on = models.DateField(_("起始日期"), null=True, blank=True)
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("角色任职")
        verbose_name_plural = _("角色任职")
        ordering = ["region__path", "role"]
        # One active holding of a role per place. Two partial constraints, because a plain
        # unique (…, unit) lets rows with unit NULL repeat (NULLs are distinct in SQL); ended
        # memberships stay for the history and do not block granting the role again.
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region", "unit"],
                condition=Q(is_active=True, unit__isnull=False),
                name="membership_unique_active_with_unit",
                violation_error_message=_("该账号在此区划、此单位已担任此角色"),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "region"],
                condition=Q(is_active=True, unit__isnull=True),
                name="membership_unique_active_without_unit",
                violation_error_message=_("该账号在此区划已担任此角色"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.region}"


class Household(models.Model):
    """A household (户): the unit of one-household-one-vote rules and household points."""

    number = models.CharField(_("户号"), max_length=30)
    region = models.ForeignKey(Region, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="households")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    head = models.ForeignKey(
        Person,
        verbose_name=_("户主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_households",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["region__path", "number"]
        constraints = [
            models.UniqueConstraint(fields=["region", "number"], name="household_unique_number_in_region"),
        ]

    def __str__(self) -> str:
        return f"{self.number}"


# --- Evidence -------------------------------------------------------------------------------------


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    now = timezone.now()
    return f"evidence/{now:%Y/%m}/{instance.sha256[:2]}/{instance.sha256}{instance.extension}"


class Attachment(models.Model):
    """A file or photo attached to any record (佐证材料), with who, when and where."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=40)
    target = GenericForeignKey("content_type", "object_id")
    # Copied from the target so scoping needs no per-model join.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(_("文件"), upload_to=attachment_upload_to, max_length=255)
    thumbnail = models.FileField(_("缩略图"), upload_to="evidence/thumbs/%Y/%m/", blank=True, max_length=255)
    original_name = models.CharField(_("原文件名"), max_length=200)
    extension = models.CharField(max_length=10)
    mime_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveBigIntegerField(_("大小"))
    sha256 = models.CharField(max_length=64)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    taken_at = models.DateTimeField(_("拍摄/形成时间"), null=True, blank=True)
    place = models.CharField(_("地点"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("佐证材料")
        verbose_name_plural = _("佐证材料")
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


# --- Notifications and the outbox -----------------------------------------------------------------


class Notification(models.Model):
    """An in-app notification shown in the user's inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    # Same idea as OutboxMessage.dedupe_key: a reminder lands in the inbox only once.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class Channel(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class OutboxMessage(models.Model):
    """An e-mail or SMS to send; the row exists before any attempt, so nothing is lost."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox_messages"
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    # Callers pass a key (e.g. "task:12:due-reminder") so a reminder is queued only once.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=8, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("待发消息")
        verbose_name_plural = _("待发消息")
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient}"


# --- Security log and API tokens ------------------------------------------------------------------


class AuthEventKind(models.TextChoices):
    LOGIN = "login", _("登录")
    LOGOUT = "logout", _("退出")
    LOGIN_FAILED = "login_failed", _("登录失败")


class AuthEvent(models.Model):
    """A login, logout or failed login, kept for the security audit."""

    kind = models.CharField(max_length=16, choices=AuthEventKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("登录记录")
        verbose_name_plural = _("登录记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.username}"


class ApiToken(models.Model):
    """A per-user API token for integrations; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=60)
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class PersonalDataAccess(models.Model):
    """One showing of unmasked personal data (phone, ID number …) to a user, for the audit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=40)
    fields = models.CharField(_("字段"), max_length=200)
    context = models.CharField(_("场景"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("个人信息查看记录")
        verbose_name_plural = _("个人信息查看记录")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.content_type_id}:{self.object_id} {self.fields}"


# --- Working-day calendar ---------------------------------------------------------------------------


class WorkCalendarDay(models.Model):
    """One date whose working status differs from (or is named beyond) the Monday–Friday default.

    Without a row, Monday to Friday are working days and weekends are not; a row overrides its
    date: a public holiday on a weekday (国庆节, off) or a make-up working weekend (国庆调休上班, on).
    ``cocreate.core.workdays`` turns these rows into deadlines.
    """

    date = models.DateField(_("日期"), unique=True)
    is_working_day = models.BooleanField(_("上班"))
    name = models.CharField(_("名称"), max_length=50, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords()

    objects = ScopedManager()

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


# --- Audit trail ----------------------------------------------------------------------------------


class AuditAction(models.TextChoices):
    WRITE = "write", _("写操作")
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOCKOUT = "lockout", _("账号锁定")
    LOGOUT = "logout", _("退出")
    EXPORT = "export", _("导出/下载")
    PERSONAL_DATA_VIEW = "personal_data_view", _("查看个人信息")


class AuditEventQuerySet(ScopedQuerySet):
    """Rows of the audit trail: appended, read and purged by age, never changed in bulk."""

    def update(self, **kwargs: Any) -> int:
        raise AuditLogReadOnly("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogReadOnly("audit events are removed only by the retention purge")

    def _purge_delete(self) -> int:
        """The one way rows leave the table (cocreate.core.audit.purge_expired)."""
        deleted, _by_model = models.QuerySet.delete(self)
        return deleted


class AuditLogReadOnly(Exception):
    """Raised on any attempt to change or delete an audit event through the application."""


class AuditEvent(models.Model):
    """One entry of the audit trail (等保 / 网络安全法 Art. 21): who did what, when, from where.

    Written by ``cocreate.core.audit`` only: every write request by a signed-in user, logins,
    failed logins, lockouts, logouts, exports and downloads, full views of personal data.
    Append-only: no update, no delete except the retention purge. The request body is never stored.
    """

    at = models.DateTimeField(_("时间"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("账号"),
        null=True,
        blank=True,
        # An account may be removed; its trail stays untouched (no SET NULL update), with the name snapshot.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    # Snapshots at the time of the event: the trail stays readable when accounts change.
    user_name = models.CharField(_("姓名"), max_length=50, blank=True)
    username = models.CharField(_("登录名"), max_length=150, blank=True)
    action = models.CharField(_("操作类型"), max_length=20, choices=AuditAction.choices)
    method = models.CharField(_("请求方法"), max_length=8, blank=True)
    path = models.CharField(_("地址"), max_length=300, blank=True)
    route = models.CharField(_("路由"), max_length=100, blank=True)
    status_code = models.PositiveSmallIntegerField(_("状态码"), null=True, blank=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("对象类型"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.CharField(_("对象编号"), max_length=40, blank=True)
    client_ip = models.GenericIPAddressField(_("客户端地址"), null=True, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)

    objects = models.Manager.from_queryset(AuditEventQuerySet)()

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"], name="auditevent_at"),
            models.Index(fields=["user", "at"], name="auditevent_user_at"),
            models.Index(fields=["action", "at"], name="auditevent_action_at"),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.user_name or self.username}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or kwargs.get("force_update"):
            raise AuditLogReadOnly("audit events cannot be changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogReadOnly("audit events are removed only by the retention purge")


# --- Imported files ----------------------------------------------------------------------------------


class ImportRecord(models.Model):
    """One file imported into one target, recorded in the import's own transaction.

    The unique (kind, target, sha256) makes a second import of the same file — in parallel or
    later — fail on this row instead of writing every record twice (core/concurrency.py).
    """

    kind = models.CharField(_("导入类型"), max_length=40)
    target = models.CharField(_("导入目标"), max_length=100)
    sha256 = models.CharField(_("文件摘要"), max_length=64)
    filename = models.CharField(_("文件名"), max_length=255, blank=True)
    note = models.CharField(_("导入结果"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导入人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")
        constraints = [
            models.UniqueConstraint(fields=["kind", "target", "sha256"], name="import_record_unique_file"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} {self.sha256[:12]}"


# --- Idempotency keys of the write API ------------------------------------------------------------------


class IdempotencyKey(models.Model):
    """A write API request's ``Idempotency-Key`` with its answer, so a retry is answered, not redone.

    Written in the same transaction as the request's own writes (``core.idempotency``): a crash
    leaves neither the records nor the key, so the client's retry runs the request once more.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=7)
    path = models.CharField(max_length=1000)
    body_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=200, blank=True)
    # The answer as base64, encrypted at rest like other personal data: an answer may carry a
    # party's phone number or a freshly issued API token.
    response_body = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("幂等键")
        verbose_name_plural = _("幂等键")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="core_idempotency_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.method} {self.path} {self.key}"
