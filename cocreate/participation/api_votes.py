"""REST endpoints of votes (表决) and estates (小区).

Handlers hold no rules: objects addressed by id go through core's ``get_visible`` (missing and
forbidden both 404); writes call ``votes`` and ``estates``, the same services as the pages. A
caller's own ballot goes through ``votes.ballot_cast``: the first cast answers 201, an identical
repeat 200 with the same ballot. Refusals carry a machine code of their own (``vote_not_open``,
``already_voted``, ``not_on_roll``) in the usual error body.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import BeforeValidator

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
from cocreate.core.models import Person, Region
from cocreate.core.schemas import BodyId, ErrorOut, Id, InputSchema, QuerySchema, SearchText, Text
from cocreate.participation import estates, selectors_votes, votes
from cocreate.participation.models import Ballot, Estate, ProblemItem, PropertyUnit, Vote, Voter, VoteRule

router = Router(tags=["votes"])

ChoiceValue = Literal["agree", "disagree", "abstain"]
VoteStatusValue = Literal["draft", "open", "closed"]
ElectorateValue = Literal["residents", "adults", "households", "representatives", "party_members", "owners", ""]


def _datetime_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("应为 ISO 8601 格式的时间字符串")
    return value


IsoDateTime = Annotated[datetime, Field(strict=False), BeforeValidator(_datetime_text)]
Area = Annotated[Decimal, Field(strict=False, gt=0, max_digits=9, decimal_places=2)]


def _aware(value: datetime) -> datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


# --- Schemas -------------------------------------------------------------------------------------------


class VoteOut(Schema):
    id: int
    title: str
    question: str
    region_id: int
    region_name: str
    rule_code: str
    rule_name: str
    electorate: str
    electorate_display: str
    estate_id: int | None
    problem_id: int | None
    opens_at: datetime
    closes_at: datetime
    status: str
    status_display: str
    opened_at: datetime | None
    closed_at: datetime | None

    @staticmethod
    def resolve_region_name(obj: Vote) -> str:
        return obj.region.name

    @staticmethod
    def resolve_rule_code(obj: Vote) -> str:
        return obj.rule.code

    @staticmethod
    def resolve_rule_name(obj: Vote) -> str:
        return obj.rule.name

    @staticmethod
    def resolve_electorate_display(obj: Vote) -> str:
        return str(obj.get_electorate_display())

    @staticmethod
    def resolve_status_display(obj: Vote) -> str:
        return str(obj.get_status_display())


class ThresholdOut(Schema):
    group: int
    measure: str = Field(description="headcount 人数（户数）或 area 面积")
    base: str = Field(description="electorate 全体有表决权者或 participants 参与表决者")
    required: str = Field(description="如 ≥2/3、>1/2")
    value: str = Field(description="实际数值")
    of: str = Field(description="基数")
    met: bool
    text: str


class ResultOut(Schema):
    electorate: int = Field(description="名册人数（户数）")
    electorate_area: str
    participants: int
    participants_area: str
    by_choice: dict[str, int]
    area_by_choice: dict[str, str]
    quorum: list[ThresholdOut] = Field(description="有效条件")
    passing: list[ThresholdOut] = Field(description="通过条件")
    valid: bool
    carried: bool
    computed_at: str
    frozen: bool = Field(description="已结束的表决为 true：结果为结束时固定")


class BallotOut(Schema):
    id: int
    vote_id: int
    choice: str
    choice_display: str
    channel: str
    cast_at: datetime

    @staticmethod
    def resolve_choice_display(obj: Ballot) -> str:
        return str(obj.get_choice_display())


class VoteDetailOut(VoteOut):
    rule_legal_basis: str
    on_roll: bool = Field(description="调用者是否在名册中")
    my_ballot: BallotOut | None
    result: ResultOut

    @staticmethod
    def resolve_rule_legal_basis(obj: Vote) -> str:
        return obj.rule.legal_basis

    @staticmethod
    def resolve_on_roll(obj: Vote) -> bool:
        return bool(obj.api_on_roll)  # type: ignore[attr-defined]

    @staticmethod
    def resolve_my_ballot(obj: Vote) -> Ballot | None:
        ballot: Ballot | None = obj.api_ballot  # type: ignore[attr-defined]
        return ballot

    @staticmethod
    def resolve_result(obj: Vote) -> dict[str, Any]:
        result: dict[str, Any] = obj.api_result  # type: ignore[attr-defined]
        return result


class VoterOut(Schema):
    """A roll line as staff see it: masked name, whether and how the line voted, never the choice."""

    id: int
    name: str = Field(description="姓名（脱敏，如 张*）或户号")
    household: str
    area: str
    voted: bool
    channel: str = Field(description="online 线上、paper 现场录入；未表决为空")
    cast_at: datetime | None

    @staticmethod
    def resolve_name(obj: Voter) -> str:
        return selectors_votes.roll_line(obj).name

    @staticmethod
    def resolve_household(obj: Voter) -> str:
        return selectors_votes.roll_line(obj).household

    @staticmethod
    def resolve_area(obj: Voter) -> str:
        return str(obj.area)

    @staticmethod
    def resolve_voted(obj: Voter) -> bool:
        return selectors_votes.roll_line(obj).voted

    @staticmethod
    def resolve_channel(obj: Voter) -> str:
        return selectors_votes.roll_line(obj).channel

    @staticmethod
    def resolve_cast_at(obj: Voter) -> datetime | None:
        return selectors_votes.roll_line(obj).cast_at


class EstateOut(Schema):
    id: int
    name: str
    address: str
    region_id: int
    region_name: str
    unit_count: int
    total_area: str

    @staticmethod
    def resolve_region_name(obj: Estate) -> str:
        return obj.region.name

    @staticmethod
    def resolve_unit_count(obj: Estate) -> int:
        return int(getattr(obj, "unit_count", 0) or 0)

    @staticmethod
    def resolve_total_area(obj: Estate) -> str:
        return str(Decimal(getattr(obj, "total_area", None) or 0).quantize(Decimal("0.01")))


class PropertyUnitOut(Schema):
    id: int
    estate_id: int
    number: str
    area: str
    owner_id: int
    owner_name: str

    @staticmethod
    def resolve_area(obj: PropertyUnit) -> str:
        return str(obj.area)

    @staticmethod
    def resolve_owner_name(obj: PropertyUnit) -> str:
        return obj.owner.name


class VoteFilter(QuerySchema):
    status: VoteStatusValue | None = None
    search: SearchText = ""


class VoterFilter(QuerySchema):
    voted: Literal["yes", "no", ""] = ""
    search: SearchText = ""


class VoteIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    question: Annotated[Text, Field(max_length=5000)] = ""
    region_id: BodyId
    rule: Annotated[Text, Field(min_length=1, max_length=40, description="规则代码，如 villagers_meeting")]
    electorate: ElectorateValue = Field("", description="留空时使用规则的默认表决范围")
    estate_id: BodyId | None = None
    problem_id: BodyId | None = Field(None, description="表决的问题清单条目（可选）")
    opens_at: IsoDateTime
    closes_at: IsoDateTime


class BallotIn(InputSchema):
    choice: ChoiceValue


class PaperRow(InputSchema):
    voter_id: BodyId
    choice: ChoiceValue


class PaperIn(InputSchema):
    rows: Annotated[list[PaperRow], Field(min_length=1, max_length=5000)]


class EstateIn(InputSchema):
    region_id: BodyId
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    address: Annotated[Text, Field(max_length=200)] = ""


class PropertyUnitIn(InputSchema):
    number: Annotated[Text, Field(min_length=1, max_length=40)]
    area: Area
    owner_id: BodyId


# --- Votes ---------------------------------------------------------------------------------------------


def _qs() -> QuerySet[Vote]:
    return Vote.objects.select_related("region", "rule", "estate")


def _detail(request: HttpRequest, vote: Vote) -> Vote:
    user = request_user(request)
    vote.api_result = selectors_votes.vote_result(vote=vote)  # type: ignore[attr-defined]
    vote.api_ballot = selectors_votes.my_ballot(user=user, vote=vote)  # type: ignore[attr-defined]
    vote.api_on_roll = selectors_votes.is_on_roll(user=user, vote=vote)  # type: ignore[attr-defined]
    return vote


REFUSALS = {"vote": "vote_not_open", "choice": "already_voted"}


def _refusal(exc: ValidationError) -> Status:
    """A service's refusal with a machine code of its own (the field it names), not just "invalid"."""
    fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
    code = next((REFUSALS[k] for k in fields if k in REFUSALS), "invalid")
    detail = " ".join(str(m) for m in exc.messages)
    return Status(400, error_body(code, detail, fields=fields or {"__all__": [detail]}))


@router.get("/votes", response={200: list[VoteOut], **LIST_ERRORS}, summary="表决列表")
@paginate(Pagination)
def vote_list(request: HttpRequest, filters: Query[VoteFilter]) -> QuerySet[Vote]:
    return selectors_votes.vote_list(user=request_user(request), status=filters.status or "", search=filters.search)


@router.get("/votes/{id}", response={200: VoteDetailOut, **READ_ERRORS}, summary="表决详情（含结果）")
def vote_detail(request: HttpRequest, id: Id) -> Vote:
    return _detail(request, get_visible(_qs(), request, id))


@router.post("/votes", response={201: VoteDetailOut, **WRITE_ERRORS}, summary="新建表决草稿")
def vote_create(request: HttpRequest, payload: VoteIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    estate = get_optional(Estate, request, payload.estate_id, "estate_id")
    problem = get_optional(ProblemItem, request, payload.problem_id, "problem_id")
    rule = VoteRule.objects.filter(code=payload.rule).first()
    if rule is None:
        raise ValidationError({"rule": ["没有该表决规则"]})
    vote = votes.vote_create(
        actor=request_user(request),
        region=region,
        title=payload.title,
        question=payload.question,
        rule=rule,
        electorate=payload.electorate,
        estate=estate,
        problem=problem,
        opens_at=_aware(payload.opens_at),
        closes_at=_aware(payload.closes_at),
    )
    return Status(201, _detail(request, get_visible(_qs(), request, vote.pk)))


@router.post("/votes/{id}/open", response={200: VoteDetailOut, **WRITE_ERRORS}, summary="开始表决（固定名册）")
def vote_open(request: HttpRequest, id: Id) -> Vote:
    vote = get_visible(_qs(), request, id)
    votes.vote_open(actor=request_user(request), vote=vote)
    return _detail(request, get_visible(_qs(), request, id))


@router.post("/votes/{id}/close", response={200: VoteDetailOut, **WRITE_ERRORS}, summary="结束表决（固定结果）")
def vote_close(request: HttpRequest, id: Id) -> Vote:
    vote = get_visible(_qs(), request, id)
    votes.vote_close(actor=request_user(request), vote=vote)
    return _detail(request, get_visible(_qs(), request, id))


@router.post(
    "/votes/{id}/ballots",
    response={200: BallotOut, 201: BallotOut, **WRITE_ERRORS},
    summary="本人表决（重复提交相同意见返回同一张票）",
)
def ballot_cast(request: HttpRequest, id: Id, payload: BallotIn) -> Status:
    user = request_user(request)
    # The service reads the vote again under its lock; here only whether the caller may see it.
    vote = get_visible(Vote.objects.only("pk"), request, id)
    try:
        ballot, created = votes.ballot_cast_result(actor=user, vote=vote, choice=payload.choice)
    except ValidationError as exc:
        return _refusal(exc)
    except PermissionDenied as exc:
        return Status(403, error_body("not_on_roll", str(exc) or "无权执行此操作"))
    return Status(201 if created else 200, ballot)


@router.post(
    "/votes/{id}/paper",
    response={201: list[BallotOut], **WRITE_ERRORS},
    summary="录入现场表决签到表（全部成功或全部不录入）",
)
def paper_record(request: HttpRequest, id: Id, payload: PaperIn) -> Status:
    vote = get_visible(_qs(), request, id)
    rows = [(row.voter_id, row.choice) for row in payload.rows]
    try:
        ballots = votes.paper_record(actor=request_user(request), vote=vote, rows=rows)
    except ValidationError as exc:
        return _refusal(exc)
    return Status(201, ballots)


@router.get(
    "/votes/{id}/voters",
    response={200: list[VoterOut], 403: ErrorOut, **LIST_ERRORS},
    summary="表决名册（工作人员；姓名脱敏，不含表决意见）",
)
@paginate(Pagination)
def voter_list(request: HttpRequest, id: Id, filters: Query[VoterFilter]) -> QuerySet[Voter]:
    user = request_user(request)
    vote = get_visible(_qs(), request, id)
    scope = access.scope_of(user)
    if not (scope.is_superuser or scope.is_staff_member):
        raise PermissionDenied("只有工作人员可以查看表决名册")
    return selectors_votes.vote_roll(user=user, vote=vote, search=filters.search, voted=filters.voted)


# --- Estates -------------------------------------------------------------------------------------------


class EstateFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的小区")
    search: SearchText = ""


@router.get("/estates", response={200: list[EstateOut], **LIST_ERRORS}, tags=["estates"], summary="小区列表")
@paginate(Pagination)
def estate_list(request: HttpRequest, filters: Query[EstateFilter]) -> QuerySet[Estate]:
    region = get_optional(Region, request, filters.region, "region")
    return estates.estate_list(user=request_user(request), region=region, search=filters.search)


@router.post("/estates", response={201: EstateOut, **WRITE_ERRORS}, tags=["estates"], summary="新建小区")
def estate_create(request: HttpRequest, payload: EstateIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    estate = estates.estate_create(
        actor=request_user(request), region=region, name=payload.name, address=payload.address
    )
    return Status(201, estates.estate_list(user=request_user(request)).get(pk=estate.pk))


@router.post(
    "/estates/{id}/units", response={201: PropertyUnitOut, **WRITE_ERRORS}, tags=["estates"], summary="登记房屋及业主"
)
def unit_create(request: HttpRequest, id: Id, payload: PropertyUnitIn) -> Status:
    estate = get_visible(Estate.objects.select_related("region"), request, id)
    owner = get_visible(Person, request, payload.owner_id, "owner_id")
    unit = estates.unit_create(
        actor=request_user(request), estate=estate, number=payload.number, area=payload.area, owner=owner
    )
    return Status(201, unit)
