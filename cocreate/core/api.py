"""REST endpoints of the core app: translate input and output, call services and selectors.

Handlers hold no rules. Objects addressed by an id (in the path, the query or the body) are
fetched only through ``access.get_visible_or_404``: missing and forbidden both answer 404.
Lists start from ``Model.objects.visible_to(user)`` (through the selectors) and are paginated.
Writes go through ``services`` (or ``tokens`` / ``evidence``), which raise PermissionDenied (403)
or ValidationError (400); ``api_auth.install_error_handlers`` turns those into error bodies.
"""

from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status

from cocreate.core import access, evidence, privacy, selectors, services, tokens
from cocreate.core.api_auth import is_token_request
from cocreate.core.models import (
    ApiToken,
    Attachment,
    Household,
    Membership,
    Person,
    Region,
    Unit,
    User,
)
from cocreate.core.schemas import (
    NO_NUL,
    AttachmentFilter,
    AttachmentOut,
    ErrorOut,
    HouseholdDetailOut,
    HouseholdFilter,
    HouseholdHeadIn,
    HouseholdIn,
    HouseholdMemberIn,
    HouseholdOut,
    HouseholdPatch,
    Id,
    MembershipEndIn,
    MembershipFilter,
    MembershipIn,
    MembershipOut,
    MeOut,
    PatchSchema,
    PersonDetailOut,
    PersonFilter,
    PersonIn,
    PersonOut,
    PersonPatch,
    RegionFilter,
    RegionIn,
    RegionOut,
    RegionPatch,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UnitFilter,
    UnitIn,
    UnitOut,
    UnitPatch,
)

router = Router()

M = TypeVar("M", bound=models.Model)

# --- Plumbing -------------------------------------------------------------------------------------

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Deep offsets are a scan either way; the cap keeps SQLite's 64-bit OFFSET from overflowing.
MAX_OFFSET = 1_000_000


class Pagination(LimitOffsetPagination):
    """``?limit=`` (1–200, default 50) and ``?offset=``; answers ``{"items": [...], "count": n}``."""

    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="每页条数，最多200")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="跳过的条数")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)


def _errors(*codes: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(codes, ErrorOut)


# Which failures each kind of operation can answer (documented in the OpenAPI schema).
LIST_ERRORS = _errors(401, 404, 422)
READ_ERRORS = _errors(401, 404, 422)
# 403 also covers a failed CSRF check on a session request.
WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 422)


class NotVisible(Http404):
    """A referenced object the caller cannot see; names the request field that pointed at it."""

    def __init__(self, field: str) -> None:
        super().__init__("not found")
        self.fields = {field: ["所选对象不存在或无权访问"]}


def _user(request: HttpRequest) -> Any:
    return request.user


def _get(model_or_qs: type[M] | QuerySet[M], request: HttpRequest, pk: Any, field: str | None = None) -> M:
    """The visible object with this id, else 404 (naming ``field`` when the id came from input)."""
    try:
        return access.get_visible_or_404(model_or_qs, _user(request), pk=pk)
    except Http404 as exc:
        if field is None:
            raise
        raise NotVisible(field) from exc


def _get_optional(model: type[M], request: HttpRequest, pk: int | None, field: str) -> M | None:
    return None if pk is None else _get(model, request, pk, field)


def _changes(payload: PatchSchema) -> dict[str, Any]:
    """The fields a PATCH body actually sent; ``null`` only where the field may be empty."""
    # The edit version is not a change; handlers pass it to the service on its own.
    data = payload.model_dump(exclude_unset=True, exclude={"expected_version"})
    nullable = payload.nullable_fields
    refused = {name: ["此字段不能为空"] for name, value in data.items() if value is None and name not in nullable}
    if refused:
        raise ValidationError(refused)
    return data


# --- Regions --------------------------------------------------------------------------------------


@router.get("/regions", response={200: list[RegionOut], **LIST_ERRORS}, tags=["regions"], summary="区划列表")
@paginate(Pagination)
def region_list(request: HttpRequest, filters: Query[RegionFilter]) -> QuerySet[Region]:
    parent = _get_optional(Region, request, filters.parent, "parent")
    return selectors.region_list(user=_user(request), search=filters.search, level=filters.level, parent=parent)


@router.get("/regions/{id}", response={200: RegionOut, **READ_ERRORS}, tags=["regions"], summary="区划详情")
def region_detail(request: HttpRequest, id: Id) -> Region:
    return _get(Region.objects.select_related("parent"), request, id)


@router.post("/regions", response={201: RegionOut, **WRITE_ERRORS}, tags=["regions"], summary="新增区划")
def region_create(request: HttpRequest, payload: RegionIn) -> Status:
    parent = _get_optional(Region, request, payload.parent_id, "parent_id")
    region = services.region_create(
        actor=_user(request), code=payload.code, name=payload.name, level=payload.level, parent=parent
    )
    return Status(201, region)


@router.patch("/regions/{id}", response={200: RegionOut, **WRITE_ERRORS}, tags=["regions"], summary="修改区划")
def region_update(request: HttpRequest, id: Id, payload: RegionPatch) -> Region:
    region = _get(Region.objects.select_related("parent"), request, id)
    return services.region_update(
        actor=_user(request), region=region, data=_changes(payload), expected_version=payload.expected_version
    )


# --- Units ----------------------------------------------------------------------------------------


def _unit_qs() -> QuerySet[Unit]:
    return Unit.objects.select_related("region")


@router.get("/units", response={200: list[UnitOut], **LIST_ERRORS}, tags=["units"], summary="单位列表")
@paginate(Pagination)
def unit_list(request: HttpRequest, filters: Query[UnitFilter]) -> QuerySet[Any]:
    region = _get_optional(Region, request, filters.region, "region")
    qs = selectors.unit_list(user=_user(request), search=filters.search, kind=filters.kind or "", region=region)
    return qs.order_by("region__path", "name", "id")


@router.get("/units/{id}", response={200: UnitOut, **READ_ERRORS}, tags=["units"], summary="单位详情")
def unit_detail(request: HttpRequest, id: Id) -> Any:
    return _get(_unit_qs(), request, id)


@router.post("/units", response={201: UnitOut, **WRITE_ERRORS}, tags=["units"], summary="新增单位")
def unit_create(request: HttpRequest, payload: UnitIn) -> Status:
    region = _get(Region, request, payload.region_id, "region_id")
    parent = _get_optional(Unit, request, payload.parent_id, "parent_id")
    unit = services.unit_create(
        actor=_user(request),
        name=payload.name,
        kind=payload.kind,
        region=region,
        short_name=payload.short_name,
        parent=parent,
        credit_code=payload.credit_code,
    )
    return Status(201, unit)


@router.patch("/units/{id}", response={200: UnitOut, **WRITE_ERRORS}, tags=["units"], summary="修改单位")
def unit_update(request: HttpRequest, id: Id, payload: UnitPatch) -> Any:
    unit = _get(_unit_qs(), request, id)
    data = _changes(payload)
    if "region_id" in data:
        data["region"] = _get(Region, request, data.pop("region_id"), "region_id")
    if "parent_id" in data:
        data["parent"] = _get_optional(Unit, request, data.pop("parent_id"), "parent_id")
    return services.unit_update(actor=_user(request), unit=unit, data=data, expected_version=payload.expected_version)


# --- People ---------------------------------------------------------------------------------------


def _person_for_detail(request: HttpRequest, person: Person) -> Person:
    """Phone and ID number in full only for who may change the record; each such showing is logged."""
    user = _user(request)
    person.api_display = privacy.personal_data_display(  # type: ignore[attr-defined]
        actor=user, obj=person, fields=("phone", "id_number"), context=f"api:{request.method} {request.path}"
    )
    person.api_show_full = privacy.may_see_full(user, person)  # type: ignore[attr-defined]
    person.api_has_account = User.objects.filter(person_id=person.pk).exists()  # type: ignore[attr-defined]
    return person


def _person_qs() -> QuerySet[Person]:
    return Person.objects.select_related("region", "household")


def _person_data(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    if "region_id" in data:
        data["region"] = _get(Region, request, data.pop("region_id"), "region_id")
    if "household_id" in data:
        data["household"] = _get_optional(Household, request, data.pop("household_id"), "household_id")
    return data


@router.get("/people", response={200: list[PersonOut], **LIST_ERRORS}, tags=["people"], summary="人员列表")
@paginate(Pagination)
def person_list(request: HttpRequest, filters: Query[PersonFilter]) -> QuerySet[Person]:
    region = _get_optional(Region, request, filters.region, "region")
    return selectors.person_list(user=_user(request), search=filters.search, region=region, verified=filters.verified)


@router.get("/people/{id}", response={200: PersonDetailOut, **READ_ERRORS}, tags=["people"], summary="人员详情")
def person_detail(request: HttpRequest, id: Id) -> Person:
    return _person_for_detail(request, _get(_person_qs(), request, id))


@router.post("/people", response={201: PersonDetailOut, **WRITE_ERRORS}, tags=["people"], summary="新增人员")
def person_create(request: HttpRequest, payload: PersonIn) -> Status:
    data = _person_data(request, payload.model_dump())
    person = services.person_create(actor=_user(request), data=data)
    return Status(201, _person_for_detail(request, person))


@router.patch("/people/{id}", response={200: PersonDetailOut, **WRITE_ERRORS}, tags=["people"], summary="修改人员")
def person_update(request: HttpRequest, id: Id, payload: PersonPatch) -> Person:
    person = _get(_person_qs(), request, id)
    data = _person_data(request, _changes(payload))
    person = services.person_update(
        actor=_user(request), person=person, data=data, expected_version=payload.expected_version
    )
    return _person_for_detail(request, person)


@router.post(
    "/people/{id}/verify", response={200: PersonDetailOut, **WRITE_ERRORS}, tags=["people"], summary="核实人员"
)
def person_verify(request: HttpRequest, id: Id) -> Person:
    person = _get(_person_qs(), request, id)
    verified = services.person_verify(actor=_user(request), person=person)
    return _person_for_detail(request, _get(_person_qs(), request, verified.pk))


# --- Memberships ----------------------------------------------------------------------------------


def _membership_qs() -> QuerySet[Membership]:
    return Membership.objects.select_related("user", "user__person", "region", "unit")


@router.get(
    "/memberships", response={200: list[MembershipOut], **LIST_ERRORS}, tags=["memberships"], summary="角色任职列表"
)
@paginate(Pagination)
def membership_list(request: HttpRequest, filters: Query[MembershipFilter]) -> QuerySet[Membership]:
    region = _get_optional(Region, request, filters.region, "region")
    return selectors.membership_list(user=_user(request), role=filters.role or "", region=region, active=filters.active)


@router.post("/memberships", response={201: MembershipOut, **WRITE_ERRORS}, tags=["memberships"], summary="授予角色")
def membership_create(request: HttpRequest, payload: MembershipIn) -> Status:
    person = _get(Person, request, payload.person_id, "person_id")
    region = _get(Region, request, payload.region_id, "region_id")
    unit = _get_optional(Unit, request, payload.unit_id, "unit_id")
    account = User.objects.filter(person_id=person.pk).first()
    if account is None:
        raise ValidationError({"person_id": ["此人还没有账号"]})
    membership = services.membership_grant(
        actor=_user(request),
        user=account,
        role=payload.role,
        region=region,
        unit=unit,
        title=payload.title,
        starts_on=payload.starts_on,
    )
    return Status(201, _get(_membership_qs(), request, membership.pk))


@router.post(
    "/memberships/{id}/end",
    response={200: MembershipOut, **WRITE_ERRORS},
    tags=["memberships"],
    summary="结束任职",
)
def membership_end(request: HttpRequest, id: Id, payload: MembershipEndIn) -> Membership:
    membership = _get(_membership_qs(), request, id)
    return services.membership_end(actor=_user(request), membership=membership, ends_on=payload.ends_on)


# --- Households -----------------------------------------------------------------------------------


def _household_qs() -> QuerySet[Household]:
    return Household.objects.select_related("region", "head").annotate(member_count=Count("members"))


def _household_detail(request: HttpRequest, pk: int) -> Household:
    return _get(_household_qs(), request, pk)


@router.get("/households", response={200: list[HouseholdOut], **LIST_ERRORS}, tags=["households"], summary="户列表")
@paginate(Pagination)
def household_list(request: HttpRequest, filters: Query[HouseholdFilter]) -> QuerySet[Household]:
    region = _get_optional(Region, request, filters.region, "region")
    return selectors.household_list(user=_user(request), search=filters.search, region=region)


@router.get(
    "/households/{id}", response={200: HouseholdDetailOut, **READ_ERRORS}, tags=["households"], summary="户详情"
)
def household_detail(request: HttpRequest, id: Id) -> Household:
    return _household_detail(request, id)


@router.post("/households", response={201: HouseholdDetailOut, **WRITE_ERRORS}, tags=["households"], summary="新增户")
def household_create(request: HttpRequest, payload: HouseholdIn) -> Status:
    region = _get(Region, request, payload.region_id, "region_id")
    head = _get_optional(Person, request, payload.head_id, "head_id")
    household = services.household_create(
        actor=_user(request), number=payload.number, region=region, address=payload.address, head=head
    )
    return Status(201, _household_detail(request, household.pk))


@router.patch(
    "/households/{id}", response={200: HouseholdDetailOut, **WRITE_ERRORS}, tags=["households"], summary="修改户"
)
def household_update(request: HttpRequest, id: Id, payload: HouseholdPatch) -> Household:
    household = _household_detail(request, id)
    services.household_update(
        actor=_user(request), household=household, data=_changes(payload), expected_version=payload.expected_version
    )
    return _household_detail(request, id)


@router.post(
    "/households/{id}/members",
    response={200: HouseholdDetailOut, **WRITE_ERRORS},
    tags=["households"],
    summary="添加户成员",
)
def household_add_member(request: HttpRequest, id: Id, payload: HouseholdMemberIn) -> Household:
    household = _household_detail(request, id)
    person = _get(Person, request, payload.person_id, "person_id")
    services.household_add_member(actor=_user(request), household=household, person=person, relation=payload.relation)
    return _household_detail(request, id)


@router.delete(
    "/households/{id}/members/{person_id}",
    response={200: HouseholdDetailOut, **WRITE_ERRORS},
    tags=["households"],
    summary="移出户成员",
)
def household_remove_member(request: HttpRequest, id: Id, person_id: Id) -> Household:
    household = _household_detail(request, id)
    person = _get(Person, request, person_id)
    services.household_remove_member(actor=_user(request), household=household, person=person)
    return _household_detail(request, id)


@router.post(
    "/households/{id}/head",
    response={200: HouseholdDetailOut, **WRITE_ERRORS},
    tags=["households"],
    summary="设定户主",
)
def household_set_head(request: HttpRequest, id: Id, payload: HouseholdHeadIn) -> Household:
    household = _household_detail(request, id)
    person = _get(Person, request, payload.person_id, "person_id")
    services.household_set_head(actor=_user(request), household=household, head=person)
    return _household_detail(request, id)


# --- Attachments ----------------------------------------------------------------------------------


def _attachment_qs() -> QuerySet[Attachment]:
    return Attachment.objects.select_related("content_type", "uploaded_by", "uploaded_by__person")


def _content_type(label: str) -> ContentType:
    """``app_label.model`` → its ContentType, else 404 naming the field."""
    try:
        app_label, model_name = label.split(".", 1)
        return ContentType.objects.get_by_natural_key(app_label, model_name)
    except (ValueError, ContentType.DoesNotExist) as exc:
        raise NotVisible("content_type") from exc


def _target(request: HttpRequest, content_type: str, object_id: str) -> Any:
    """The record an attachment hangs on, if the caller may see it; else 404 naming the field."""
    model = _content_type(content_type).model_class()
    if model is None:
        raise NotVisible("content_type")
    return _get(model, request, object_id, "object_id")


@router.get(
    "/attachments",
    response={200: list[AttachmentOut], **LIST_ERRORS},
    tags=["attachments"],
    summary="佐证材料列表",
)
@paginate(Pagination)
def attachment_list(request: HttpRequest, filters: Query[AttachmentFilter]) -> QuerySet[Attachment]:
    qs = Attachment.objects.visible_to(_user(request))
    if filters.content_type is not None and filters.object_id is not None:
        # One record's evidence: the record itself must be visible (404 otherwise).
        target = _target(request, filters.content_type, filters.object_id)
        qs = selectors.attachments_for(user=_user(request), target=target)
    elif filters.content_type is not None:
        qs = qs.filter(content_type=_content_type(filters.content_type))
    elif filters.object_id is not None:
        qs = qs.filter(object_id=filters.object_id)
    return qs.select_related("content_type", "uploaded_by", "uploaded_by__person").order_by("-uploaded_at", "-id")


@router.get(
    "/attachments/{id}", response={200: AttachmentOut, **READ_ERRORS}, tags=["attachments"], summary="佐证材料详情"
)
def attachment_detail(request: HttpRequest, id: Id) -> Attachment:
    return _get(_attachment_qs(), request, id)


@router.get(
    "/attachments/{id}/download",
    response=READ_ERRORS,
    tags=["attachments"],
    summary="下载佐证材料",
    openapi_extra={
        "responses": {
            "200": {
                "description": "文件内容（以附件方式下载）",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def attachment_download(request: HttpRequest, id: Id) -> FileResponse:
    attachment = _get(_attachment_qs(), request, id)
    try:
        handle = evidence.attachment_open(actor=_user(request), attachment=attachment)
    except OSError as exc:
        # The row exists but the stored file is gone (restored backup, wiped bucket).
        raise Http404("file missing") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.mime_type or "application/octet-stream",
    )
    # Uploaded content is never rendered as a page of this origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@router.post(
    "/attachments",
    response={201: AttachmentOut, **_errors(400, 401, 403, 404, 409, 413, 422)},
    tags=["attachments"],
    summary="上传佐证材料",
)
def attachment_upload(
    request: HttpRequest,
    file: UploadedFile = File(..., description="文件或照片"),  # noqa: B008
    content_type: str = Form(
        ..., max_length=100, pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$", description="app_label.model"
    ),
    object_id: str = Form(..., max_length=40, pattern=r"^[0-9A-Za-z_-]+$"),
    description: str = Form("", max_length=200, pattern=NO_NUL),
    place: str = Form("", max_length=200, pattern=NO_NUL, description="地点"),
    # Typed without null: a multipart form cannot send one, so the schema must not offer it.
    taken_at: datetime = Form(None, description="拍摄/形成时间（ISO 8601）"),  # noqa: B008
) -> Status:
    target = _target(request, content_type, object_id)
    attachment = evidence.attachment_add(
        actor=_user(request), target=target, upload=file, description=description, taken_at=taken_at, place=place
    )
    return Status(201, _get(_attachment_qs(), request, attachment.pk))


# --- Tokens ---------------------------------------------------------------------------------------


@router.get("/tokens", response={200: list[TokenOut], **LIST_ERRORS}, tags=["tokens"], summary="我的接口令牌")
@paginate(Pagination)
def token_list(request: HttpRequest) -> QuerySet[ApiToken]:
    return tokens.token_list(user=_user(request))


@router.post(
    "/tokens",
    response={201: TokenCreatedOut, **WRITE_ERRORS},
    tags=["tokens"],
    summary="创建接口令牌（原文只返回一次）",
)
def token_create(request: HttpRequest, payload: TokenIn) -> Status:
    if is_token_request(request):
        # A leaked token must not be able to mint replacements that outlive its revocation.
        raise PermissionDenied("令牌只能在登录网页后创建，不能用令牌创建令牌")
    expires_at = timezone.now() + timedelta(days=payload.expires_in_days) if payload.expires_in_days else None
    token, raw = tokens.token_create(
        actor=_user(request), user=_user(request), name=payload.name, expires_at=expires_at
    )
    token.api_raw_token = raw  # type: ignore[attr-defined]
    return Status(201, token)


@router.delete("/tokens/{id}", response={204: None, **WRITE_ERRORS}, tags=["tokens"], summary="撤销接口令牌")
def token_revoke(request: HttpRequest, id: Id) -> Status:
    token = _get(ApiToken, request, id)
    tokens.token_revoke(actor=_user(request), token=token)
    return Status(204, None)


# --- The caller -----------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, 401: ErrorOut}, tags=["me"], summary="当前用户与角色")
def me(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    person = Person.objects.filter(pk=user.person_id).first() if user.person_id else None
    roles = (
        Membership.objects.filter(user_id=user.pk, is_active=True)
        .select_related("region", "unit")
        .order_by("region__path", "role", "id")
    )
    return {
        "id": user.pk,
        "phone": user.phone,
        "display_name": str(user),
        "is_superuser": user.is_superuser,
        "person": person,
        "roles": list(roles),
        "auth": "token" if is_token_request(request) else "session",
    }


# --- Shared with the other apps' routers -----------------------------------------------------------
# Public names for the plumbing above, so every app's API fetches and pages the same way.
get_visible = _get
get_optional = _get_optional
request_user = _user
patch_changes = _changes
