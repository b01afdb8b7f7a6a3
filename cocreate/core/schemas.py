"""Typed request and response bodies of the core API (django-ninja schemas).

Input types carry the limits the models enforce (lengths, patterns, ranges) so the OpenAPI
schema tells a client what will be accepted, and bad input stops at 422 before any query.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from ninja import Field, Schema
from pydantic import BaseModel, BeforeValidator, ConfigDict

from cocreate.core import services
from cocreate.core.models import (
    ApiToken,
    Attachment,
    Household,
    Membership,
    Person,
    Region,
    Unit,
)
from cocreate.core.privacy import mask_id_number, mask_phone

# --- Shared input types -------------------------------------------------------------------------

# Database ids: bigint, positive. Out-of-range values are refused up front (SQLite would overflow).
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _json_number(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer, so the lax int parser stays; text and booleans do not.
    if isinstance(value, (str, bool)):
        raise ValueError("应为整数")
    return value


# Integers in a strict JSON body. The bounds sit with the int itself (before the validator),
# or pydantic could not put them into the JSON schema as minimum/maximum.
BodyId = Annotated[int, Field(strict=False, ge=1, le=MAX_ID), BeforeValidator(_json_number)]
RegionLevelValue = Annotated[int, Field(strict=False, ge=1, le=6), BeforeValidator(_json_number)]
TokenDays = Annotated[int, Field(strict=False, ge=1, le=3650), BeforeValidator(_json_number)]


# PostgreSQL cannot store NUL in text columns; the pattern refuses it up front (422), and being
# part of the schema it also tells generated clients and schemathesis what is acceptable.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]

# Choice values as Literal types: the OpenAPI schema lists them and anything else is a 422.
UnitKindValue = Literal[
    "government", "department", "village_committee", "residents_committee", "school", "enterprise", "social_org"
]
GenderValue = Literal["M", "F", ""]
RelationValue = Literal["head", "spouse", "child", "parent", "grandchild", "other"]
RelationOrBlank = Literal["head", "spouse", "child", "parent", "grandchild", "other", ""]
RoleValue = Literal[
    "resident",
    "grid_worker",
    "village_staff",
    "town_staff",
    "dept_staff",
    "inspector",
    "leader",
    "school_staff",
    "admin",
]


# --- Input bases ----------------------------------------------------------------------------------


class QuerySchema(BaseModel):
    """Query parameters: plain pydantic, lax (every value arrives as text and is converted)."""


class InputSchema(BaseModel):
    """A JSON request body: a plain pydantic model in strict mode.

    Plain pydantic, because ninja's ``Schema`` reads attributes off any object and would let a
    body of ``[null, null]`` through as "nothing sent"; strict, so ``0`` is not taken for
    ``false`` or for 1970-01-01, and ``"5"`` is not an id: what the schema says is what passes.
    """

    model_config = ConfigDict(strict=True)


def _date_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("应为 YYYY-MM-DD 格式的日期字符串")
    return value


# A date in a strict body: JSON has no date type, so the text form is the one accepted.
IsoDate = Annotated[date, Field(strict=False), BeforeValidator(_date_text)]


def _patch_json_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    # A PATCH field may be left out, but only the fields in ``nullable_fields`` may be sent as
    # null; say so in the OpenAPI schema (the handler answers 400 to a null anywhere else).
    nullable: frozenset[str] = getattr(cls, "nullable_fields", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable:
            continue
        branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
        if "anyOf" in prop and len(branches) == 1:
            del prop["anyOf"]
            prop.update(branches[0])
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class PatchSchema(InputSchema):
    """A PATCH body: every field optional; ``null`` only where ``nullable_fields`` allows it."""

    model_config = ConfigDict(strict=True, json_schema_extra=_patch_json_schema)
    nullable_fields: ClassVar[frozenset[str]] = frozenset()


EditVersionText = Annotated[
    str,
    Field(
        max_length=400,
        description="调用者读取时的 version（见详情的 version 字段）；记录已被他人修改时返回 409 stale，不写入任何内容",
    ),
]


class VersionedPatch(PatchSchema):
    """A PATCH body that may carry the edit version it was based on (docs/api.md, 并发修改)."""

    expected_version: EditVersionText | None = None


# --- Errors -------------------------------------------------------------------------------------


class ErrorOut(Schema):
    """Every 4xx body: a machine code, a Chinese message and, for bad data, per-field messages."""

    error: str = Field(..., description="机器可读的错误代码，如 not_found、forbidden、invalid")
    detail: str = Field(..., description="中文错误说明")
    fields: dict[str, list[str]] | None = Field(None, description="字段名 → 错误信息列表")
    errors: list[dict[str, Any]] | None = Field(None, description="请求格式错误的明细（422）")
    changed: list[str] | None = Field(None, description="409 stale：他人已修改的字段")
    version: str | None = Field(None, description="409 stale：记录当前的修改版本")


# --- Regions ------------------------------------------------------------------------------------


class RegionOut(Schema):
    id: int
    code: str
    name: str
    level: int
    level_display: str
    parent_id: int | None
    parent_name: str | None
    path: str
    depth: int
    is_active: bool
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_level_display(obj: Region) -> str:
        return str(obj.get_level_display())

    @staticmethod
    def resolve_version(obj: Region) -> str:
        return services.REGION_VERSION.of(obj)

    @staticmethod
    def resolve_parent_name(obj: Region) -> str | None:
        return obj.parent.name if obj.parent_id and obj.parent else None


class RegionIn(InputSchema):
    code: Annotated[str, Field(pattern=r"^[0-9]{2,15}$", description="统计用区划代码，2至15位数字")]
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    level: Annotated[RegionLevelValue, Field(description="1省 2市 3县/区 4乡镇/街道 5村/社区 6网格/小区/自然村")]
    parent_id: BodyId | None = None


class RegionPatch(VersionedPatch):
    name: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    is_active: bool | None = None


# --- Units --------------------------------------------------------------------------------------


class UnitOut(Schema):
    id: int
    name: str
    short_name: str
    kind: str
    kind_display: str
    region_id: int
    region_name: str
    parent_id: int | None
    credit_code: str
    is_active: bool
    created_at: datetime
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_kind_display(obj: Unit) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_version(obj: Unit) -> str:
        return services.UNIT_VERSION.of(obj)

    @staticmethod
    def resolve_region_name(obj: Unit) -> str:
        return obj.region.name


class UnitIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    kind: UnitKindValue
    region_id: BodyId
    short_name: Annotated[Text, Field(max_length=40)] = ""
    parent_id: BodyId | None = None
    credit_code: Annotated[str, Field(pattern=r"^[0-9A-Z]{0,18}$")] = ""


class UnitPatch(VersionedPatch):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"parent_id"})

    name: Annotated[Text, Field(min_length=1, max_length=120)] | None = None
    short_name: Annotated[Text, Field(max_length=40)] | None = None
    kind: UnitKindValue | None = None
    region_id: BodyId | None = None
    parent_id: BodyId | None = None
    credit_code: Annotated[str, Field(pattern=r"^[0-9A-Z]{0,18}$")] | None = None
    is_active: bool | None = None


# --- People -------------------------------------------------------------------------------------


def _shown(obj: Any, name: str, mask: Any) -> str:
    # The detail handlers put what privacy.personal_data_display allowed (and logged) on the object;
    # lists never do, so there the value is always masked.
    display = getattr(obj, "api_display", None)
    if display is not None and name in display:
        return str(display[name])
    return str(mask(getattr(obj, name)))


def _shows_full(obj: Any) -> bool:
    return bool(getattr(obj, "api_show_full", False))


class PersonOut(Schema):
    id: int
    name: str
    phone: str = Field(..., description="列表中始终脱敏（139****0001）")
    id_number: str = Field(..., description="列表中始终脱敏（1101**********1234）")
    is_masked: bool
    gender: str
    region_id: int
    region_name: str
    household_id: int | None
    household_number: str | None
    relation: str
    is_party_member: bool
    is_representative: bool
    is_verified: bool

    @staticmethod
    def resolve_phone(obj: Person) -> str:
        return _shown(obj, "phone", mask_phone)

    @staticmethod
    def resolve_id_number(obj: Person) -> str:
        return _shown(obj, "id_number", mask_id_number)

    @staticmethod
    def resolve_is_masked(obj: Person) -> bool:
        return not _shows_full(obj)

    @staticmethod
    def resolve_region_name(obj: Person) -> str:
        return obj.region.name

    @staticmethod
    def resolve_household_number(obj: Person) -> str | None:
        return obj.household.number if obj.household_id and obj.household else None

    @staticmethod
    def resolve_is_verified(obj: Person) -> bool:
        return obj.verified_at is not None


class PersonDetailOut(PersonOut):
    birth_date: date | None = Field(None, description="仅对有权修改此人者显示")
    verified_at: datetime | None
    verified_by_id: int | None
    created_at: datetime
    has_account: bool
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_birth_date(obj: Person) -> date | None:
        return obj.birth_date if _shows_full(obj) else None

    @staticmethod
    def resolve_version(obj: Person) -> str:
        return services.PERSON_VERSION.of(obj)

    @staticmethod
    def resolve_has_account(obj: Person) -> bool:
        return bool(getattr(obj, "api_has_account", False))


class PersonIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=50)]
    region_id: BodyId
    phone: Annotated[str, Field(pattern=r"^(1[0-9]{10})?$")] = ""
    id_number: Annotated[str, Field(pattern=r"^([0-9]{17}[0-9Xx])?$")] = ""
    gender: GenderValue = ""
    birth_date: IsoDate | None = None
    household_id: BodyId | None = None
    relation: RelationOrBlank = ""
    is_party_member: bool = False
    is_representative: bool = False


class PersonPatch(VersionedPatch):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"birth_date", "household_id"})

    name: Annotated[Text, Field(min_length=1, max_length=50)] | None = None
    region_id: BodyId | None = None
    phone: Annotated[str, Field(pattern=r"^(1[0-9]{10})?$")] | None = None
    id_number: Annotated[str, Field(pattern=r"^([0-9]{17}[0-9Xx])?$")] | None = None
    gender: GenderValue | None = None
    birth_date: IsoDate | None = None
    household_id: BodyId | None = None
    relation: RelationOrBlank | None = None
    is_party_member: bool | None = None
    is_representative: bool | None = None


# --- Memberships --------------------------------------------------------------------------------


class MembershipOut(Schema):
    id: int
    user_id: int
    user_name: str
    person_id: int | None
    role: str
    role_display: str
    region_id: int
    region_name: str
    unit_id: int | None
    unit_name: str | None
    title: str
    is_active: bool
    starts_on: date | None
    ends_on: date | None

    @staticmethod
    def resolve_user_name(obj: Membership) -> str:
        return str(obj.user)

    @staticmethod
    def resolve_person_id(obj: Membership) -> int | None:
        return obj.user.person_id

    @staticmethod
    def resolve_role_display(obj: Membership) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_region_name(obj: Membership) -> str:
        return obj.region.name

    @staticmethod
    def resolve_unit_name(obj: Membership) -> str | None:
        return obj.unit.name if obj.unit_id and obj.unit else None


class MembershipIn(InputSchema):
    person_id: BodyId = Field(..., description="获得角色的人员；此人须已有账号")
    role: RoleValue
    region_id: BodyId
    unit_id: BodyId | None = None
    title: Annotated[Text, Field(max_length=50)] = ""
    starts_on: IsoDate | None = None


class MembershipEndIn(InputSchema):
    ends_on: IsoDate | None = Field(None, description="截止日期，默认今天")


# --- Households ---------------------------------------------------------------------------------


class HouseholdOut(Schema):
    id: int
    number: str
    region_id: int
    region_name: str
    address: str
    head_id: int | None
    head_name: str | None
    member_count: int
    created_at: datetime

    @staticmethod
    def resolve_region_name(obj: Household) -> str:
        return obj.region.name

    @staticmethod
    def resolve_head_name(obj: Household) -> str | None:
        return obj.head.name if obj.head_id and obj.head else None

    @staticmethod
    def resolve_member_count(obj: Household) -> int:
        count = getattr(obj, "member_count", None)
        return int(count) if count is not None else obj.members.count()


class HouseholdMemberOut(Schema):
    id: int
    name: str
    relation: str
    is_verified: bool

    @staticmethod
    def resolve_is_verified(obj: Person) -> bool:
        return obj.verified_at is not None


class HouseholdDetailOut(HouseholdOut):
    members: list[HouseholdMemberOut]
    version: str = Field(..., description="修改版本：PATCH 时作为 expected_version 带上，防止覆盖他人的修改")

    @staticmethod
    def resolve_version(obj: Household) -> str:
        return services.HOUSEHOLD_VERSION.of(obj)

    @staticmethod
    def resolve_members(obj: Household) -> list[Person]:
        return list(obj.members.order_by("name", "id"))


class HouseholdIn(InputSchema):
    number: Annotated[Text, Field(min_length=1, max_length=30)]
    region_id: BodyId
    address: Annotated[Text, Field(max_length=200)] = ""
    head_id: BodyId | None = None


class HouseholdPatch(VersionedPatch):
    number: Annotated[Text, Field(min_length=1, max_length=30)] | None = None
    address: Annotated[Text, Field(max_length=200)] | None = None


class HouseholdMemberIn(InputSchema):
    person_id: BodyId
    relation: RelationValue = "other"


class HouseholdHeadIn(InputSchema):
    person_id: BodyId


# --- Attachments --------------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: int
    content_type: str = Field(..., description="app_label.model，如 core.household")
    object_id: str
    region_id: int
    original_name: str
    mime_type: str
    size: int
    sha256: str
    description: str
    taken_at: datetime | None
    place: str
    is_image: bool
    uploaded_by_id: int | None
    uploaded_by_name: str | None
    uploaded_at: datetime
    download_url: str

    @staticmethod
    def resolve_content_type(obj: Attachment) -> str:
        ct = obj.content_type
        return f"{ct.app_label}.{ct.model}"

    @staticmethod
    def resolve_uploaded_by_name(obj: Attachment) -> str | None:
        return str(obj.uploaded_by) if obj.uploaded_by_id and obj.uploaded_by else None

    @staticmethod
    def resolve_download_url(obj: Attachment) -> str:
        return f"/api/attachments/{obj.pk}/download"


# --- Tokens and the caller ----------------------------------------------------------------------


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    is_active: bool

    @staticmethod
    def resolve_is_active(obj: ApiToken) -> bool:
        from django.utils import timezone

        if obj.revoked_at is not None:
            return False
        return obj.expires_at is None or obj.expires_at > timezone.now()


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="令牌原文，只在创建时返回一次，请妥善保存")

    @staticmethod
    def resolve_token(obj: ApiToken) -> str:
        return str(getattr(obj, "api_raw_token", ""))


class TokenIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=60)]
    expires_in_days: TokenDays | None = Field(None, description="有效天数；不填则长期有效")


class RoleOut(Schema):
    role: str
    role_display: str
    region_id: int
    region_code: str
    region_name: str
    region_level: int
    unit_id: int | None
    unit_name: str | None
    title: str

    @staticmethod
    def resolve_role_display(obj: Membership) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_region_code(obj: Membership) -> str:
        return obj.region.code

    @staticmethod
    def resolve_region_name(obj: Membership) -> str:
        return obj.region.name

    @staticmethod
    def resolve_region_level(obj: Membership) -> int:
        return obj.region.level

    @staticmethod
    def resolve_unit_name(obj: Membership) -> str | None:
        return obj.unit.name if obj.unit_id and obj.unit else None


class MePersonOut(Schema):
    id: int
    name: str
    region_id: int
    household_id: int | None


class MeOut(Schema):
    id: int
    phone: str
    display_name: str
    is_superuser: bool
    person: MePersonOut | None
    roles: list[RoleOut]
    auth: Literal["session", "token"]


# --- List filters (query parameters) -------------------------------------------------------------

SearchText = Annotated[Text, Field(max_length=100, description="按名称等模糊查找")]


class RegionFilter(QuerySchema):
    search: SearchText = ""
    level: int | None = Field(None, ge=1, le=6, description="层级 1–6")
    parent: Id | None = Field(None, description="上级区划 id（只列直接下级）")


class UnitFilter(QuerySchema):
    search: SearchText = ""
    kind: UnitKindValue | None = None
    region: Id | None = Field(None, description="区划 id（含其下级）")


class PersonFilter(QuerySchema):
    search: SearchText = ""
    region: Id | None = Field(None, description="区划 id（含其下级）")
    verified: bool | None = Field(None, description="是否已核实")


class MembershipFilter(QuerySchema):
    role: RoleValue | None = None
    region: Id | None = Field(None, description="区划 id（含其下级）")
    active: bool = Field(True, description="false 时包括已结束的任职")


class HouseholdFilter(QuerySchema):
    search: SearchText = ""
    region: Id | None = Field(None, description="区划 id（含其下级）")


class AttachmentFilter(QuerySchema):
    content_type: Annotated[str, Field(max_length=100, pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")] | None = Field(
        None, description="app_label.model，如 core.household；须与 object_id 同时给出"
    )
    object_id: Annotated[str, Field(max_length=40, pattern=r"^[0-9A-Za-z_-]+$")] | None = None
