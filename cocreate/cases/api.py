"""REST endpoints of grievance cases (矛盾纠纷): the list, the detail, intake and every transition.

Handlers hold no rules: a case addressed by id goes through ``selectors.case_get`` (missing and
forbidden both 404), units, people and other cases named in a body through core's ``get_visible``;
each transition calls exactly its service in ``cocreate.cases.services`` — the same functions the
pages call — which checks who acts, the version and the state. A refusal of the service carries
its own machine code (``invalid_state``, ``rework_exhausted``, ``followup_running`` …) in the
usual error body; ``stale`` (``expected_version`` no longer matches) answers 409.

Parties are masked in lists and in what a transition answers; the detail shows them in full only
to handling staff (``selectors.party_display`` → ``privacy.personal_data_display``, which logs
every full showing) and says so in ``parties_full``.

The public part (tagged ``public``, no sign-in) answers only whoever gives a case's tracking code
AND the applicant's phone, both in the POST body (never in a URL or a log line); a wrong code and
a wrong phone are the same 404.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import BeforeValidator

from cocreate.cases import rules, selectors, services, tracking
from cocreate.cases.models import (
    DISPATCHED_STATES,
    Case,
    CaseCategory,
    CaseEvent,
    CaseReturn,
    CaseStatus,
    ExtensionRequest,
    Party,
    PartyRole,
    RequestStatus,
    ReturnDecision,
)
from cocreate.core import access
from cocreate.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Pagination,
    get_optional,
    get_visible,
    request_user,
)
from cocreate.core.api_auth import error_body
from cocreate.core.models import Person, Region, Unit
from cocreate.core.privacy import mask_name, mask_phone
from cocreate.core.schemas import BodyId, ErrorOut, Id, InputSchema, QuerySchema, SearchText, Text

router = Router(tags=["cases"])
# No authentication: the tracking code + the applicant's phone are the credential.
public_router = Router(tags=["public"], auth=None)

StatusValue = Literal[
    "registered",
    "accepted",
    "declined",
    "triaged",
    "dispatched",
    "returned",
    "signed",
    "in_progress",
    "replied",
    "dissatisfied",
    "closed",
    "merged",
]
ChannelValue = Literal["self", "visit", "onsite", "walkin", "online"]
UrgencyValue = Literal["normal", "urgent", "critical"]
RiskValue = Literal["high", "medium", "low"]
ComplexityValue = Literal["simple", "ordinary", "complex"]
DeclineValue = Literal["litigation", "arbitration", "emergency", "no_content"]
SatisfactionValue = Literal["satisfied", "basic", "dissatisfied"]
EscalationValue = Literal["overdue", "rework_exhausted", "beyond_capacity"]
CategoryCode = Annotated[Text, Field(min_length=1, max_length=30, description="类别代码，见 /api/cases/categories")]


def _level_number(value: Any) -> Any:
    # JSON numbers only (a strict body): "5" is not a level.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("应为整数：3 县级、4 镇级、5 村级")
    return value


LevelValue = Annotated[int, Field(strict=False, ge=3, le=5), BeforeValidator(_level_number)]


def _datetime_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("应为 ISO 8601 格式的时间字符串")
    return value


IsoDateTime = Annotated[datetime, Field(strict=False), BeforeValidator(_datetime_text)]
ExtensionDays = Annotated[int, Field(strict=False, ge=1, le=services.MAX_EXTENSION_DAYS)]
ExpectedVersion = Annotated[int | None, Field(None, ge=1, description="调用者看到的版本号；不一致时返回 409 stale")]
Note = Annotated[Text, Field(max_length=1000)]

# States whose clock runs toward ``due_at`` (a reply meets the deadline).
OVERDUE_STATES = sorted(DISPATCHED_STATES - {CaseStatus.REPLIED})


# --- Output schemas ------------------------------------------------------------------------------------


class CategoryOut(Schema):
    code: str
    name: str


class PartyOut(Schema):
    role: str
    role_display: str
    name: str
    phone: str
    id_number: str
    address: str
    full: bool = Field(description="是否为完整信息（办理人员可见，查看会记录）；否则为脱敏显示")


class CaseOut(Schema):
    """A case as lists and transitions show it: the applicant masked."""

    id: int
    number: str
    title: str
    status: str
    status_display: str
    level: int
    level_display: str
    channel: str
    channel_display: str
    category: str | None = Field(description="类别代码")
    category_name: str
    urgency: str
    urgency_display: str
    risk: str
    complexity: str
    region_id: int
    region_name: str
    lead_unit_id: int | None
    lead_unit_name: str
    applicant_name: str = Field(description="申请人（脱敏，如 王**）")
    applicant_phone: str = Field(description="申请人电话（脱敏，如 138****5678）")
    is_anonymous: bool
    due_at: datetime | None = Field(description="办结时限（派单起算）")
    step_due_at: datetime | None = Field(description="当前环节时限")
    is_overdue: bool
    rework_round: int
    reply_count: int
    outcome: str
    created_at: datetime
    closed_at: datetime | None
    need_id: int | None = Field(description="转为社区议题后对应的诉求 id（/api/needs/{id}）")
    version: int = Field(description="版本号：办理操作可带 expected_version 防止覆盖他人更新")

    @staticmethod
    def resolve_status_display(obj: Case) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_level_display(obj: Case) -> str:
        return str(obj.get_level_display())

    @staticmethod
    def resolve_channel_display(obj: Case) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_urgency_display(obj: Case) -> str:
        return str(obj.get_urgency_display())

    @staticmethod
    def resolve_category(obj: Case) -> str | None:
        return obj.category.code if obj.category else None

    @staticmethod
    def resolve_category_name(obj: Case) -> str:
        return obj.category.name if obj.category else ""

    @staticmethod
    def resolve_region_name(obj: Case) -> str:
        return obj.region.name

    @staticmethod
    def resolve_lead_unit_name(obj: Case) -> str:
        return obj.lead_unit.name if obj.lead_unit else ""

    @staticmethod
    def resolve_applicant_name(obj: Case) -> str:
        applicant = _applicant(obj)
        return mask_name(applicant.name) if applicant else ""

    @staticmethod
    def resolve_applicant_phone(obj: Case) -> str:
        applicant = _applicant(obj)
        return mask_phone(applicant.phone) if applicant else ""

    @staticmethod
    def resolve_is_overdue(obj: Case) -> bool:
        return bool(obj.due_at and obj.status in OVERDUE_STATES and obj.due_at < timezone.now())


class CaseCreatedOut(CaseOut):
    tracking_code: str = Field(description="查询码：申请人凭查询码和手机号查询、评价")


class EventOut(Schema):
    version: int
    kind: str
    kind_display: str
    from_status: str
    to_status: str
    at: datetime
    actor_name: str = Field(description="经办人（仅工作人员可见）")
    unit_name: str
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_kind_display(obj: CaseEvent) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_actor_name(obj: CaseEvent) -> str:
        if not getattr(obj, "api_show_actor", False) or obj.actor is None:
            return ""
        return obj.actor.display_name or ""

    @staticmethod
    def resolve_unit_name(obj: CaseEvent) -> str:
        return obj.unit.name if obj.unit else ""


class UnitRefOut(Schema):
    id: int
    name: str


class PendingExtensionOut(Schema):
    id: int
    days: int
    reason: str
    old_due_at: datetime
    requested_due_at: datetime


class PendingReturnOut(Schema):
    id: int
    unit_id: int
    reason: str
    created_at: datetime


class CaseDetailOut(CaseOut):
    description: str
    place: str
    decline_reason: str
    answer: str
    co_units: list[UnitRefOut]
    merged_into_id: int | None
    dispatched_at: datetime | None
    signed_at: datetime | None
    first_contact_at: datetime | None
    replied_at: datetime | None
    tracking_code: str = Field(description="查询码（办理人员、登记人和申请人本人可见，其他人为空）")
    parties_full: bool = Field(description="当事人信息是否完整显示（办理人员；每次查看记入个人信息访问日志）")
    parties: list[PartyOut]
    events: list[EventOut] = Field(description="办理过程，由早到晚")
    pending_extension: PendingExtensionOut | None = Field(description="待审批的延期申请（仅工作人员可见）")
    pending_return: PendingReturnOut | None = Field(description="待审核的退单（仅工作人员可见）")

    @staticmethod
    def resolve_co_units(obj: Case) -> list[Unit]:
        return list(obj.co_units.all())

    @staticmethod
    def resolve_tracking_code(obj: Case) -> str:
        return obj.tracking_code if getattr(obj, "api_show_code", False) else ""

    @staticmethod
    def resolve_parties_full(obj: Case) -> bool:
        return bool(obj.api_parties_full)  # type: ignore[attr-defined]

    @staticmethod
    def resolve_parties(obj: Case) -> list[dict[str, Any]]:
        parties: list[dict[str, Any]] = obj.api_parties  # type: ignore[attr-defined]
        return parties

    @staticmethod
    def resolve_events(obj: Case) -> list[CaseEvent]:
        events: list[CaseEvent] = obj.api_events  # type: ignore[attr-defined]
        return events

    @staticmethod
    def resolve_pending_extension(obj: Case) -> ExtensionRequest | None:
        pending: ExtensionRequest | None = obj.api_pending_extension  # type: ignore[attr-defined]
        return pending

    @staticmethod
    def resolve_pending_return(obj: Case) -> CaseReturn | None:
        pending: CaseReturn | None = obj.api_pending_return  # type: ignore[attr-defined]
        return pending


class TrackedStepOut(Schema):
    label: str
    at: datetime


class TrackedCaseOut(Schema):
    """What the applicant sees by code + phone: no staff names, no notes, personal data masked."""

    number: str
    status: str
    status_label: str
    category: str
    region: str
    created_at: datetime
    replied_at: datetime | None
    answer: str
    applicant_name: str
    applicant_phone: str
    can_rate: bool
    steps: list[TrackedStepOut]


# --- Input schemas -------------------------------------------------------------------------------------


class CaseFilter(QuerySchema):
    status: StatusValue | None = None
    level: int | None = Field(None, ge=3, le=5, description="3 县级、4 镇级、5 村级")
    category: Annotated[str, Field(max_length=30)] = Field("", description="类别代码")
    urgency: UrgencyValue | None = None
    region: Id | None = Field(None, description="区划 id：该区划及下级发生的案件")
    unit: Id | None = Field(None, description="单位 id：该单位主办或协办的案件")
    overdue: bool | None = Field(None, description="true：已超过办结时限仍未答复")
    search: SearchText = Field("", description="编号、标题、描述或地点")


class PartyIn(InputSchema):
    name: Annotated[Text, Field(max_length=50)] = ""
    phone: Annotated[Text, Field(max_length=30)] = ""
    id_number: Annotated[Text, Field(max_length=30)] = ""
    address: Annotated[Text, Field(max_length=200)] = ""
    person_id: BodyId | None = Field(None, description="已登记的人员（可选）")


class CaseIn(InputSchema):
    region_id: BodyId = Field(description="事发的村（社区）或网格")
    channel: ChannelValue = Field(description="self/online 群众本人；visit 走访；onsite 现场；walkin 来访")
    description: Annotated[Text, Field(min_length=1, max_length=5000)]
    title: Annotated[Text, Field(max_length=100)] = ""
    place: Annotated[Text, Field(max_length=200)] = ""
    category: Annotated[Text, Field(max_length=30)] = Field("", description="类别代码（可在研判时填写）")
    urgency: UrgencyValue = "normal"
    is_anonymous: bool = False
    applicant: PartyIn | None = Field(None, description="申请人；群众本人上报时默认取本人信息")
    other_parties: Annotated[list[PartyIn], Field(max_length=services.MAX_OTHER_PARTIES)] = Field(default_factory=list)


class VersionIn(InputSchema):
    expected_version: ExpectedVersion = None


class NoteIn(VersionIn):
    note: Note = ""


class DeclineIn(VersionIn):
    reason: DeclineValue
    note: Annotated[Text, Field(max_length=500)] = ""


class AnswerIn(VersionIn):
    answer: Annotated[Text, Field(min_length=1, max_length=5000)]


class TriageIn(VersionIn):
    category: CategoryCode
    risk: RiskValue
    complexity: ComplexityValue
    level: LevelValue | None = Field(None, description="不填则按风险和复杂程度建议")
    urgency: UrgencyValue | None = None
    note: Note = ""


class DispatchIn(VersionIn):
    lead_unit_id: BodyId
    co_unit_ids: Annotated[list[BodyId], Field(max_length=20)] = Field(default_factory=list)
    note: Note = ""


class ReturnIn(VersionIn):
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


class ReturnDecisionIn(VersionIn):
    redispatch: bool = Field(description="true 改派其他单位；false 退回原单位继续办理（须填意见）")
    lead_unit_id: BodyId | None = None
    co_unit_ids: Annotated[list[BodyId], Field(max_length=20)] = Field(default_factory=list)
    note: Note = ""


class ContactIn(VersionIn):
    note: Annotated[Text, Field(min_length=1, max_length=1000)]
    contacted_at: IsoDateTime | None = Field(None, description="联系时间，默认现在")


class RatingIn(VersionIn):
    resolved: bool
    satisfaction: SatisfactionValue
    efficiency: SatisfactionValue
    leader_rating: SatisfactionValue
    comment: Note = ""


class CloseIn(VersionIn):
    resolved: bool
    note: Annotated[Text, Field(min_length=1, max_length=1000)] = Field(description="回访情况")


class ExtensionIn(VersionIn):
    days: ExtensionDays
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


class ExtensionDecisionIn(VersionIn):
    approve: bool
    note: Note = ""


class EscalateIn(VersionIn):
    reason: EscalationValue
    note: Note = ""


NeedCategoryValue = Literal["industry", "environment", "infrastructure", "public_services", "governance"]


class ToNeedIn(VersionIn):
    title: Annotated[Text, Field(min_length=1, max_length=100)] = Field(
        description="议题标题（公开，不得含当事人信息）"
    )
    description: Annotated[Text, Field(min_length=1, max_length=5000)] = Field(
        description="议题内容（公开，不得含当事人姓名、电话、身份证号）"
    )
    category: NeedCategoryValue = Field(description="诉求类别")


class MergeIn(VersionIn):
    into_id: BodyId
    note: Note = ""


Phone = Annotated[Text, Field(min_length=1, max_length=30)]
TrackingCode = Annotated[Text, Field(min_length=1, max_length=20)]


class TrackIn(InputSchema):
    code: TrackingCode
    phone: Phone


class PublicRatingIn(RatingIn):
    code: TrackingCode
    phone: Phone


# --- Plumbing ------------------------------------------------------------------------------------------


def _applicant(case: Case) -> Party | None:
    prefetched = getattr(case, "api_applicants", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return Party.objects.filter(case=case, role=PartyRole.APPLICANT).first()


def _with_applicant(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.prefetch_related(
        Prefetch("parties", queryset=Party.objects.filter(role=PartyRole.APPLICANT), to_attr="api_applicants")
    )


def _case(request: HttpRequest, pk: int) -> Case:
    return selectors.case_get(user=request_user(request), pk=pk)


def _summary(pk: int) -> Case:
    """The case as a transition answers it (masked, nothing logged), re-read after the change.

    Not through the caller's scope: the caller was just allowed to act on it, and a step such as
    escalation can move the case out of the caller's sight — the answer still says what happened.
    """
    return _with_applicant(Case.objects.select_related("region", "category", "lead_unit")).get(pk=pk)


def _detail(request: HttpRequest, case: Case) -> Case:
    user = request_user(request)
    context = f"api:{request.method} {request.path}"
    parties = list(Party.objects.filter(case=case).order_by("role", "id"))
    shown: list[dict[str, Any]] = []
    for party in parties:
        values = selectors.party_display(user=user, party=party, context=context)
        full = access.can(user, access.CHANGE, party)
        shown.append(
            {
                "role": party.role,
                "role_display": str(party.get_role_display()),
                "name": values["name"],
                "phone": values["phone"],
                "id_number": values["id_number"],
                "address": party.address if full else (mask_name(party.address) if party.address else ""),
                "full": full,
            }
        )
    case.api_parties = shown  # type: ignore[attr-defined]
    case.api_parties_full = bool(shown) and all(p["full"] for p in shown)  # type: ignore[attr-defined]
    case.api_applicants = [p for p in parties if p.role == PartyRole.APPLICANT]  # type: ignore[attr-defined]
    scope = access.scope_of(user)
    is_staff = scope.is_superuser or scope.is_staff_member
    events = list(selectors.case_timeline(user=user, case=case))
    for event in events:
        event.api_show_actor = is_staff  # type: ignore[attr-defined]
    case.api_events = events  # type: ignore[attr-defined]
    applicant = case.api_applicants[0] if case.api_applicants else None  # type: ignore[attr-defined]
    case.api_show_code = (  # type: ignore[attr-defined]
        rules.can_handle(user, case)
        or (case.created_by_id is not None and case.created_by_id == getattr(user, "pk", None))
        or (applicant is not None and applicant.person_id is not None and applicant.person_id == scope.person_id)
    )
    case.api_pending_extension = (  # type: ignore[attr-defined]
        ExtensionRequest.objects.visible_to(user).filter(case=case, status=RequestStatus.PENDING).first()
    )
    case.api_pending_return = (  # type: ignore[attr-defined]
        CaseReturn.objects.visible_to(user).filter(case=case, decision=ReturnDecision.PENDING).first()
    )
    return case


def _refusal(exc: ValidationError) -> Status:
    """A service's refusal with its own machine code; ``stale`` (a newer version exists) is 409."""
    if hasattr(exc, "error_dict"):
        fields = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
        codes = [e.code for errors in exc.error_dict.values() for e in errors if e.code]
    else:
        fields = {"__all__": [str(m) for m in exc.messages]}
        codes = [e.code for e in exc.error_list if e.code]
    code = codes[0] if codes else "invalid"
    detail = " ".join(str(m) for m in exc.messages)
    return Status(409 if code == "stale" else 400, error_body(code, detail, fields=fields))


def _transition(request: HttpRequest, id: int, call: Callable[[Any, Case], Any]) -> Status:
    """Fetches the visible case, runs one service on it, answers the case as it is now."""
    case = _case(request, id)
    try:
        call(request_user(request), case)
    except ValidationError as exc:
        return _refusal(exc)
    return Status(200, _summary(id))


def _category(code: str, field: str = "category") -> CaseCategory:
    category = CaseCategory.objects.filter(code=code, is_active=True).first()
    if category is None:
        raise ValidationError({field: ValidationError("请选择有效的类别", code="choice")})
    return category


def _units(request: HttpRequest, ids: list[int], field: str) -> list[Unit]:
    return [get_visible(Unit.objects.select_related("region"), request, pk, field) for pk in dict.fromkeys(ids)]


def _party_data(request: HttpRequest, party: PartyIn | None, field: str) -> services.PartyData | None:
    if party is None:
        return None
    person = get_optional(Person, request, party.person_id, f"{field}.person_id")
    return services.PartyData(
        name=party.name, phone=party.phone, id_number=party.id_number, address=party.address, person=person
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


TRANSITION_RESPONSES = {200: CaseOut, **WRITE_ERRORS}


# --- Reads ---------------------------------------------------------------------------------------------


@router.get("/cases/categories", response={200: list[CategoryOut], **READ_ERRORS}, summary="纠纷类别")
def category_list(request: HttpRequest) -> QuerySet[CaseCategory]:
    return CaseCategory.objects.filter(is_active=True).order_by("order", "code")


@router.get("/cases", response={200: list[CaseOut], **LIST_ERRORS}, summary="矛盾纠纷列表（当事人脱敏）")
@paginate(Pagination)
def case_list(request: HttpRequest, filters: Query[CaseFilter]) -> QuerySet[Case]:
    qs = selectors.case_list(user=request_user(request))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.category:
        qs = qs.filter(category__code=filters.category)
    if filters.urgency:
        qs = qs.filter(urgency=filters.urgency)
    region = get_optional(Region, request, filters.region, "region")
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    unit = get_optional(Unit, request, filters.unit, "unit")
    if unit is not None:
        qs = qs.filter(Q(lead_unit=unit) | Q(co_units=unit)).distinct()
    if filters.overdue is not None:
        overdue = Q(status__in=OVERDUE_STATES, due_at__lt=timezone.now())
        qs = qs.filter(overdue) if filters.overdue else qs.exclude(overdue)
    if filters.search:
        text = filters.search
        qs = qs.filter(
            Q(number__icontains=text)
            | Q(title__icontains=text)
            | Q(description__icontains=text)
            | Q(place__icontains=text)
        )
    return _with_applicant(qs).order_by("-created_at", "-id")


@router.get(
    "/cases/{id}",
    response={200: CaseDetailOut, **READ_ERRORS},
    summary="矛盾纠纷详情（含办理过程；办理人员可见完整当事人信息，查看会记录）",
)
def case_detail(request: HttpRequest, id: Id) -> Case:
    return _detail(request, _case(request, id))


@router.get("/cases/{id}/events", response={200: list[EventOut], **READ_ERRORS}, summary="办理过程")
def case_events(request: HttpRequest, id: Id) -> list[CaseEvent]:
    user = request_user(request)
    case = _case(request, id)
    scope = access.scope_of(user)
    events = list(selectors.case_timeline(user=user, case=case))
    for event in events:
        event.api_show_actor = scope.is_superuser or scope.is_staff_member  # type: ignore[attr-defined]
    return events


# --- Intake --------------------------------------------------------------------------------------------


@router.post("/cases", response={201: CaseCreatedOut, **WRITE_ERRORS}, summary="登记矛盾纠纷（各来源渠道）")
def case_create(request: HttpRequest, payload: CaseIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    others = [_party_data(request, p, f"other_parties.{i}") for i, p in enumerate(payload.other_parties)]
    try:
        category = _category(payload.category) if payload.category else None
        case = services.case_register(
            actor=request_user(request),
            region=region,
            channel=payload.channel,
            description=payload.description,
            applicant=_party_data(request, payload.applicant, "applicant"),
            other_parties=[p for p in others if p is not None],
            category=category,
            urgency=payload.urgency,
            title=payload.title,
            place=payload.place,
            is_anonymous=payload.is_anonymous,
        )
    except ValidationError as exc:
        return _refusal(exc)
    created = _summary(case.pk)
    created.tracking_code = case.tracking_code
    return Status(201, created)


# --- Transitions (one service each; see services.TRANSITIONS) -------------------------------------------


@router.post("/cases/{id}/accept", response=TRANSITION_RESPONSES, summary="受理")
def case_accept(request: HttpRequest, id: Id, payload: NoteIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_accept(
            actor=actor, case=case, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/decline", response=TRANSITION_RESPONSES, summary="不予受理")
def case_decline(request: HttpRequest, id: Id, payload: DeclineIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_decline(
            actor=actor, case=case, reason=payload.reason, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/answer", response=TRANSITION_RESPONSES, summary="当场答复（办结）")
def case_answer(request: HttpRequest, id: Id, payload: AnswerIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_answer_on_spot(
            actor=actor, case=case, answer=payload.answer, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/triage", response=TRANSITION_RESPONSES, summary="研判分级")
def case_triage(request: HttpRequest, id: Id, payload: TriageIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_triage(
            actor=actor,
            case=case,
            category=_category(payload.category),
            risk=payload.risk,
            complexity=payload.complexity,
            level=payload.level,
            urgency=payload.urgency,
            note=payload.note,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/dispatch", response=TRANSITION_RESPONSES, summary="派单（开始计时）")
def case_dispatch(request: HttpRequest, id: Id, payload: DispatchIn) -> Status:
    lead_unit = get_visible(Unit.objects.select_related("region"), request, payload.lead_unit_id, "lead_unit_id")
    co_units = _units(request, payload.co_unit_ids, "co_unit_ids")
    return _transition(
        request,
        id,
        lambda actor, case: services.case_dispatch(
            actor=actor,
            case=case,
            lead_unit=lead_unit,
            co_units=co_units,
            note=payload.note,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/sign", response=TRANSITION_RESPONSES, summary="签收")
def case_sign(request: HttpRequest, id: Id, payload: VersionIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_sign(actor=actor, case=case, expected_version=payload.expected_version),
    )


@router.post("/cases/{id}/return", response=TRANSITION_RESPONSES, summary="退单（须说明理由）")
def case_return(request: HttpRequest, id: Id, payload: ReturnIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_return(
            actor=actor, case=case, reason=payload.reason, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/return-decision", response=TRANSITION_RESPONSES, summary="退单审核（改派或退回原单位）")
def case_return_decision(request: HttpRequest, id: Id, payload: ReturnDecisionIn) -> Status:
    lead_unit = (
        get_visible(Unit.objects.select_related("region"), request, payload.lead_unit_id, "lead_unit_id")
        if payload.lead_unit_id is not None
        else None
    )
    co_units = _units(request, payload.co_unit_ids, "co_unit_ids")
    return _transition(
        request,
        id,
        lambda actor, case: services.case_return_decide(
            actor=actor,
            case=case,
            redispatch=payload.redispatch,
            lead_unit=lead_unit,
            co_units=co_units,
            note=payload.note,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/contact", response=TRANSITION_RESPONSES, summary="首次联系申请人")
def case_contact(request: HttpRequest, id: Id, payload: ContactIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_contact(
            actor=actor,
            case=case,
            note=payload.note,
            contacted_at=_aware(payload.contacted_at),
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/reply", response=TRANSITION_RESPONSES, summary="答复")
def case_reply(request: HttpRequest, id: Id, payload: AnswerIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_reply(
            actor=actor, case=case, answer=payload.answer, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/rate", response=TRANSITION_RESPONSES, summary="申请人评价（本人账号）")
def case_rate(request: HttpRequest, id: Id, payload: RatingIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_rate(
            actor=actor,
            case=case,
            resolved=payload.resolved,
            satisfaction=payload.satisfaction,
            efficiency=payload.efficiency,
            leader_rating=payload.leader_rating,
            comment=payload.comment,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/rework", response=TRANSITION_RESPONSES, summary="重办")
def case_rework(request: HttpRequest, id: Id, payload: NoteIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_rework(
            actor=actor, case=case, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/close", response=TRANSITION_RESPONSES, summary="回访期满办结")
def case_close(request: HttpRequest, id: Id, payload: CloseIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_close(
            actor=actor,
            case=case,
            resolved=payload.resolved,
            note=payload.note,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/close-unreasonable", response=TRANSITION_RESPONSES, summary="按不合理诉求办结（上级审核）")
def case_close_unreasonable(request: HttpRequest, id: Id, payload: NoteIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_close_unreasonable(
            actor=actor, case=case, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/extension", response=TRANSITION_RESPONSES, summary="申请延期")
def case_extension(request: HttpRequest, id: Id, payload: ExtensionIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_extension_request(
            actor=actor, case=case, days=payload.days, reason=payload.reason, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/extension-decision", response=TRANSITION_RESPONSES, summary="延期审批（上级）")
def case_extension_decision(request: HttpRequest, id: Id, payload: ExtensionDecisionIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_extension_decide(
            actor=actor,
            case=case,
            approve=payload.approve,
            note=payload.note,
            expected_version=payload.expected_version,
        ),
    )


@router.post("/cases/{id}/escalate", response=TRANSITION_RESPONSES, summary="提级")
def case_escalate(request: HttpRequest, id: Id, payload: EscalateIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_escalate(
            actor=actor, case=case, reason=payload.reason, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post("/cases/{id}/merge", response=TRANSITION_RESPONSES, summary="合并重复案件")
def case_merge(request: HttpRequest, id: Id, payload: MergeIn) -> Status:
    into = get_visible(Case, request, payload.into_id, "into_id")
    return _transition(
        request,
        id,
        lambda actor, case: services.case_merge(
            actor=actor, case=case, into=into, note=payload.note, expected_version=payload.expected_version
        ),
    )


@router.post(
    "/cases/{id}/to-need",
    response=TRANSITION_RESPONSES,
    summary="转为社区议题（列入村（社区）问题清单，不含当事人信息）",
)
def case_to_need(request: HttpRequest, id: Id, payload: ToNeedIn) -> Status:
    return _transition(
        request,
        id,
        lambda actor, case: services.case_to_need(
            actor=actor,
            case=case,
            title=payload.title,
            description=payload.description,
            category=payload.category,
            expected_version=payload.expected_version,
        ),
    )


# --- Public: tracking code + the applicant's phone ----------------------------------------------------------


class ThrottledOut(ErrorOut):
    retry_after: int = Field(description="多少秒后可以再查询（也在 Retry-After 响应头中）")


PUBLIC_ERRORS: dict[int, type[ErrorOut]] = {404: ErrorOut, 422: ErrorOut, 429: ThrottledOut}
PUBLIC_WRITE_ERRORS: dict[int, type[ErrorOut]] = {
    400: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ThrottledOut,
}


def _tracked(code: str, phone: str) -> tracking.TrackedCase:
    tracked = tracking.case_track(code=code, phone=phone)
    if tracked is None:
        # The same answer for a wrong code and a wrong phone.
        raise Http404("no case for this code and phone")
    return tracked


def _throttled(response: HttpResponse, exc: tracking.TrackThrottled) -> Status:
    """429 ``track_rate_limited`` with the seconds to wait (``retry_after`` and the Retry-After header)."""
    response["Retry-After"] = str(exc.retry_after)
    minutes = max(1, -(-exc.retry_after // 60))
    return Status(
        429,
        error_body(
            "track_rate_limited",
            f"查询失败次数过多，请{minutes}分钟后再试",
            retry_after=exc.retry_after,
        ),
    )


def _find_limited(request: HttpRequest, code: str, phone: str) -> Case:
    case = tracking.find_limited(code=code, phone=phone, ip=tracking.client_ip(request.META))
    if case is None:
        raise Http404("no case for this code and phone")
    return case


@public_router.post(
    "/public/cases/track",
    response={200: TrackedCaseOut, **PUBLIC_ERRORS},
    summary="凭查询码和申请人手机号查询办理进度（无需登录）",
)
def public_case_track(request: HttpRequest, response: HttpResponse, payload: TrackIn) -> Status:
    try:
        _find_limited(request, payload.code, payload.phone)
    except tracking.TrackThrottled as exc:
        return _throttled(response, exc)
    return Status(200, _tracked(payload.code, payload.phone))


@public_router.post(
    "/public/cases/rate",
    response={200: TrackedCaseOut, **PUBLIC_WRITE_ERRORS},
    summary="凭查询码和申请人手机号评价答复（无需登录）",
)
def public_case_rate(request: HttpRequest, response: HttpResponse, payload: PublicRatingIn) -> Status:
    try:
        case = _find_limited(request, payload.code, payload.phone)
    except tracking.TrackThrottled as exc:
        return _throttled(response, exc)
    try:
        services.case_rate(
            actor=None,
            case=case,
            resolved=payload.resolved,
            satisfaction=payload.satisfaction,
            efficiency=payload.efficiency,
            leader_rating=payload.leader_rating,
            comment=payload.comment,
            phone=payload.phone,
            expected_version=payload.expected_version,
        )
    except ValidationError as exc:
        return _refusal(exc)
    return Status(200, _tracked(payload.code, payload.phone))
