"""Demo grievance cases for the demo county (红安县), loaded by ``manage.py demo`` after the co-decision demo.

About 300 cases (``CASES``) across the county's twelve villages, over the last ~90 days:

* **every state** — 已登记, 已受理, 已研判 (some after an escalation, waiting for the new level),
  已派单 (some just dispatched: due soon; some left unsigned for weeks: overdue), 已签收, 已退单
  (waiting for the level above), 办理中 (some overdue, some with an extension pending), 已答复,
  不满意待处理 (one after the last rework round, for the level above), 已办结 with each outcome
  (化解成功, 未化解, 当场答复, 不合理诉求, and closed after the follow-up without a rating),
  不予受理 (each reason) and 已合并;
* at all three levels (村 / 镇 / 县), from every channel, in every category and urgency, with
  ratings of every satisfaction, returns (改派 / 退回), extensions (approved / refused / pending),
  escalations (each reason) and rework rounds; some anonymous applicants.

**Every case goes through the services** (``cases/services.py``), one call per step, each with the
account that would take it: the demo accounts where their scope reaches (柳林村's village staff
and grid worker, 七里坪镇's town staff, the county's department staff, the resident for their own
reports and ratings), the demo superuser elsewhere. Ratings of applicants without an account go
through the tracking code + phone, as on the tracking page. So numbers, tracking codes,
timelines, history and the rates are the real ones.

**Dates are relative to the load moment**: each case starts a number of days before it and its
steps follow with drawn delays, each passed to the service as ``now`` (and kept before the load
moment), so the clock, the deadlines, "overdue" and "due soon" are right whatever day the demo
is loaded. Everything random comes from ``random.Random`` seeded per case.

What the demo accounts find: the village staff (柳林村) cases to accept, to sign, to reply to and
a dissatisfied one to send back for rework; the town staff (七里坪镇) returns and extension
requests of its villages to decide, a 不合理诉求 review, cases to dispatch and to sign; the
department staff (县住建局) county cases to dispatch and to sign and a town's return to decide;
the resident a replied case to rate and others in several states; the grid worker the cases
recorded on home visits; the inspector and the leader the whole county, with overdue cases.

Applicants are made-up people with phones in the demo range (``1990002xxxx``); the few ID
numbers are test-style ``9901…`` numbers (no real region code).

**Idempotent:** a case is looked up by its title (unique in the demo) before it is created; a
second run creates nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from cocreate.cases import rules, services
from cocreate.cases.models import (
    FINAL_STATES,
    Case,
    CaseCategory,
    CaseChannel,
    CaseLevel,
    CaseStatus,
    Complexity,
    DeclineReason,
    RatingChannel,
    Risk,
    Satisfaction,
    Urgency,
)
from cocreate.cases.services import EscalationReason, PartyData
from cocreate.core import access
from cocreate.core.demo import (
    COUNTY_CODE,
    FEMALE_CHARS,
    MALE_CHARS,
    RESIDENT_VILLAGE,
    ROLE_PHONES,
    SEED,
    SURNAMES,
    TOWNS,
)
from cocreate.core.models import Channel, MessageStatus, OutboxMessage, Region, Role, Unit, User

CASES = 300
DAYS = 90
RESIDENT_TOWN = RESIDENT_VILLAGE[:9]  # 七里坪镇
GRID_WORKER_GRID = RESIDENT_VILLAGE + "001"  # the demo grid worker's grid (柳林村第一网格)
VILLAGE_COMMITTEE = "柳林村村民委员会"
TOWN_UNIT = "七里坪镇党政办"
COUNTY_UNIT = "红安县住建局"
# County units that do not handle cases themselves (the government office and the inspectors).
COUNTY_NON_HANDLING = ("红安县人民政府", "红安县督查室")
APPLICANT_PHONE = "1990002{:04d}"  # demo range; 1990000xxxx are the accounts and households

S = CaseStatus

# --- What happens to the cases -----------------------------------------------------------------------------
# A story is the state a case ends in (and how it got there); features (returns, extensions,
# escalations, reworks) are laid over the stories that reach a dispatch.
DISPATCHED_STORIES = frozenset(
    {
        "dispatched",
        "dispatched_late",
        "signed",
        "returned",
        "in_progress",
        "in_progress_late",
        "replied",
        "dissatisfied",
        "resolved",
        "unresolved",
        "followup",
        "unreasonable",
    }
)
# (story, how many) for the cases not pinned below; the total makes CASES with the pinned ones.
STORIES: list[tuple[str, int]] = [
    ("registered", 7),
    ("accepted", 7),
    ("triaged", 5),
    ("escalated", 4),  # escalated, waiting at the new level (已研判)
    ("dispatched", 6),  # just dispatched: due soon
    ("dispatched_late", 6),  # never signed: overdue
    ("signed", 7),
    ("returned", 4),
    ("in_progress", 20),
    ("in_progress_late", 8),  # past the whole-case deadline
    ("replied", 13),
    ("dissatisfied", 6),
    ("resolved", 111),
    ("unresolved", 14),
    ("followup", 10),  # closed by the office after the follow-up period, unrated
    ("unreasonable", 5),
    ("answered", 20),
    ("declined", 11),
    ("merged", 8),
]
# Days between registration and the load moment, per story.
AGES: dict[str, tuple[float, float]] = {
    "registered": (0.02, 2.5),
    "accepted": (0.3, 4),
    "triaged": (0.5, 6),
    "escalated": (1, 45),  # set by _features with the reason
    "dispatched": (0.05, 0.4),
    "dispatched_late": (14, 30),
    "signed": (1, 12),
    "returned": (1, 8),
    "in_progress": (3, 16),
    "in_progress_late": (36, 60),
    "replied": (6, 25),
    "dissatisfied": (10, 40),
    "resolved": (12, 88),
    "unresolved": (15, 88),
    "followup": (35, 88),
    "unreasonable": (45, 88),
    "answered": (0.5, 88),
    "declined": (0.5, 88),
    "merged": (1, 30),
}


@dataclass(frozen=True)
class CaseSpec:
    """One demo case: where, what, from whom, and what happens to it."""

    story: str
    village: str  # village code
    channel: str
    category: str
    urgency: str = Urgency.NORMAL
    level: int = CaseLevel.VILLAGE  # where triage sends it
    lead: str = ""  # a lead unit's name, when it must be that one
    in_grid: bool = False  # happened in one of the village's grids (the grid worker's for his visits)
    resident: bool = False  # the demo resident's own report
    anonymous: bool = False
    returned: str = ""  # "", "redispatched", "sent_back", "pending"
    extension: str = ""  # "", "approved", "refused", "pending"
    escalation: str = ""  # "" or an EscalationReason
    reworks: int = 0
    satisfaction: str = Satisfaction.SATISFIED  # the final rating
    rating_channel: str = RatingChannel.TRACKING
    decline: str = ""
    with_other: bool = True
    with_id: bool = False
    age: float = 0.0  # days before the load moment; drawn when not given
    title: str = ""
    description: str = ""
    place: str = ""
    applicant: str = ""
    phone: str = ""
    other: str = ""


R, V, T = CaseLevel.VILLAGE, CaseLevel.TOWN, CaseLevel.COUNTY
LIULIN = RESIDENT_VILLAGE
CHANGGANG = RESIDENT_TOWN + "202"  # 长岗村
MAANSHAN = RESIDENT_TOWN + "203"  # 马鞍山村
N, U, C = Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL
SELF, ONLINE, VISIT = CaseChannel.SELF.value, CaseChannel.ONLINE.value, CaseChannel.VISIT.value
ONSITE, WALKIN = CaseChannel.ONSITE.value, CaseChannel.WALKIN.value

# Cases that give each demo account something to act on (see the module docstring).
PINNED: list[CaseSpec] = [
    # The resident's own reports (柳林村): one replied, to rate.
    CaseSpec("replied", LIULIN, SELF, "environment", resident=True, age=4),
    CaseSpec("resolved", LIULIN, ONLINE, "neighbour", resident=True, rating_channel=RatingChannel.PAGE, age=40),
    CaseSpec("in_progress", LIULIN, SELF, "land_forest", resident=True, age=6),
    CaseSpec("registered", LIULIN, ONLINE, "other", resident=True, age=0.3),
    CaseSpec("answered", LIULIN, SELF, "consumer", resident=True, age=20),
    # The village staff (柳林村, its committee): accept, sign, reply, rework.
    CaseSpec("registered", LIULIN, ONSITE, "neighbour", age=0.5),
    CaseSpec("registered", LIULIN, VISIT, "family", in_grid=True, age=1.2),
    CaseSpec("registered", LIULIN, VISIT, "land_forest", in_grid=True, anonymous=True, age=2),
    CaseSpec("dispatched", LIULIN, VISIT, "neighbour", in_grid=True, age=0.2),
    CaseSpec("dispatched", LIULIN, ONSITE, "environment", urgency=U, age=0.1),
    CaseSpec("dispatched_late", LIULIN, ONSITE, "family", age=16),
    CaseSpec("in_progress", LIULIN, VISIT, "neighbour", in_grid=True, age=9),
    CaseSpec("dissatisfied", LIULIN, ONSITE, "land_forest", age=15),
    # The town staff (七里坪镇): returns and extension requests of its villages, a 不合理诉求 review.
    CaseSpec("returned", CHANGGANG, ONSITE, "neighbour", returned="pending", age=3),
    CaseSpec("returned", MAANSHAN, WALKIN, "land_forest", returned="pending", age=5),
    CaseSpec("returned", LIULIN, ONSITE, "family", returned="pending", age=2),
    CaseSpec("in_progress", CHANGGANG, ONSITE, "neighbour", extension="pending", age=8),
    CaseSpec("in_progress", MAANSHAN, VISIT, "family", extension="pending", age=10),
    CaseSpec("dissatisfied", CHANGGANG, WALKIN, "land_forest", reworks=2, age=45),
    # … and its own town-level cases: to dispatch, to sign (党政办).
    CaseSpec("triaged", CHANGGANG, WALKIN, "labour", level=V, age=1),
    CaseSpec("triaged", LIULIN, WALKIN, "expropriation", level=V, age=2),
    CaseSpec("dispatched", MAANSHAN, WALKIN, "labour", level=V, lead=TOWN_UNIT, age=0.3),
    CaseSpec("signed", LIULIN, WALKIN, "other", level=V, lead=TOWN_UNIT, age=3),
    # The department staff (县住建局): county cases to dispatch and sign, a town's return to decide.
    CaseSpec("triaged", CHANGGANG, WALKIN, "expropriation", level=T, age=1.5),
    CaseSpec("triaged", "421122001002", WALKIN, "property_mgmt", level=T, age=2.5),
    CaseSpec("dispatched", "421122101201", WALKIN, "property_mgmt", level=T, lead=COUNTY_UNIT, age=0.25),
    CaseSpec("signed", "421122001001", WALKIN, "expropriation", level=T, lead=COUNTY_UNIT, age=2),
    CaseSpec("returned", "421122101203", WALKIN, "environment", level=V, returned="pending", age=4),
]

# --- Texts ----------------------------------------------------------------------------------------------------
# Per category: (topic of the title, description). {place} the place, {other} the other party.
TOPICS: dict[str, list[tuple[str, str]]] = {
    "neighbour": [
        (
            "宅基地边界纠纷",
            "与邻居{other}家因宅基地边界发生争执，对方新砌围墙占了我家约半米，多次协商未果，请村里调解。",
        ),
        ("房屋滴水排水纠纷", "邻居{other}家新建房屋的屋檐滴水和排水管直接排到我家院子里，下雨天院子积水，请求协调。"),
        ("通行道路堵塞", "{place}邻居{other}在公共通道上堆放柴草和建材，车辆无法通行，老人出行不便。"),
        ("噪音扰民", "邻居{other}家开设加工作坊，每天早晚机器噪音很大，影响休息，希望协调作业时间。"),
    ],
    "family": [
        ("赡养老人纠纷", "我今年七十多岁，几个子女对赡养费分摊有争议，已经几个月没人给生活费，请求调解。"),
        ("婚姻家庭矛盾", "夫妻因家庭琐事长期争吵，{other}多次离家，孩子无人照看，希望村里帮助调解。"),
        ("分家析产纠纷", "兄弟之间因老房子分割和宅基地使用发生矛盾，{other}不同意原来的分家协议。"),
    ],
    "land_forest": [
        ("承包地界纠纷", "{place}我家承包地与{other}家地界不清，对方耕种时越界，双方多次发生口角。"),
        ("山林权属争议", "与{other}对一片山林的权属有争议，双方都说有林权证，对方已开始砍伐，请求尽快处理。"),
        ("土地流转租金纠纷", "村里统一流转的土地，流转方{other}拖欠去年租金，涉及十多户农户。"),
    ],
    "labour": [
        ("拖欠农民工工资", "在{other}承包的工地上干了三个月，工钱一直拖着不给，共计一万多元。"),
        ("工伤赔偿纠纷", "在{other}的作坊务工时受伤，老板只垫付了部分医药费，后续费用不管。"),
    ],
    "property_mgmt": [
        ("物业服务纠纷", "小区物业{other}收费不降、服务不升，电梯经常坏，业主意见很大。"),
        ("小区停车纠纷", "小区车位被外来车辆长期占用，物业{other}不管，业主之间经常发生争吵。"),
    ],
    "consumer": [
        ("购买农资质量纠纷", "在{other}店里买的种子出苗率很低，店家不认账，损失较大。"),
        ("家电售后纠纷", "在镇上{other}家电店买的冰箱坏了，商家推诿不给维修。"),
    ],
    "expropriation": [
        ("征地补偿纠纷", "{place}修路占用我家承包地，补偿标准和面积测量有异议，希望重新核实。"),
        ("房屋拆迁安置纠纷", "老房子纳入拆迁范围，对安置房面积和过渡费有意见，与{other}协商未果。"),
    ],
    "environment": [
        ("养殖场异味污染", "{place}附近{other}的养猪场粪污直排，臭味很大，周边水塘发黑。"),
        ("垃圾焚烧烟雾", "有人在{place}露天焚烧垃圾，烟雾很大，影响附近住户。"),
        ("采石场粉尘噪音", "{other}的采石场粉尘和爆破噪音影响附近村民生活。"),
    ],
    "medical": [
        ("诊疗费用纠纷", "在{other}诊所看病后病情加重，对收费和诊疗过程有疑问，要求说明。"),
        ("医疗损害纠纷", "家人在{other}卫生院输液后出现不良反应，要求院方说明情况并承担责任。"),
    ],
    "traffic": [
        ("交通事故赔偿纠纷", "在{place}与{other}的三轮车发生剐蹭，对方不愿承担修车费用。"),
        ("农用车碰撞纠纷", "{other}驾驶农用车撞坏我家院墙，赔偿数额谈不拢。"),
    ],
    "other": [
        ("合伙经营纠纷", "与{other}合伙经营小卖部，散伙时对账目和分成有争议。"),
        ("民间借贷纠纷", "{other}向我借款两万元，约定半年归还，已超过一年仍未还。"),
    ],
}
ANSWERS = [
    "经组织双方调解，已达成调解协议，双方签字确认，问题已解决。",
    "已现场核实，责令{other}限期整改，并将跟踪落实情况。",
    "已约谈双方当事人，讲清政策，双方同意按协议办理。",
    "经协调，相关单位已出具处理意见，具体情况已向您当面说明。",
]
REWORK_ANSWERS = [
    "根据您的意见重新核实，已补充处理措施并再次组织双方协商。",
    "已会同协办单位再次到现场，重新拿出处理方案并当面答复。",
]
GROUPS = "一二三四五六七八"
ORDINALS = "二三四五六七八九"


@dataclass
class CasesDemoResult:
    """What ``load`` created; all zeros on a second run."""

    cases: int = 0
    ratings: int = 0
    returns: int = 0
    extensions: int = 0
    escalations: int = 0
    reworks: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def load(*, actor: User) -> CasesDemoResult:
    """Loads the demo grievance cases (the demo county must be loaded); safe to run again."""
    loader = _Loader(actor)
    with transaction.atomic():
        loader.run()
    return loader.result


# --- The plan: which cases, in which order ---------------------------------------------------------------------------


def _villages() -> list[str]:
    return [town[0] + suffix for town in TOWNS for suffix, _name in town[3]]


def _village_names() -> dict[str, str]:
    return {town[0] + suffix: name for town in TOWNS for suffix, name in town[3]}


def _person_name(rng: random.Random) -> str:
    chars = MALE_CHARS if rng.random() < 0.55 else FEMALE_CHARS
    return rng.choice(SURNAMES) + "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2))))


def _random_spec(rng: random.Random, story: str, index: int) -> CaseSpec:
    villages = _villages()
    categories = list(TOPICS)
    level = rng.choices([R, V, T], weights=[50, 35, 15])[0]
    if story in ("returned", "escalated") and level == T:
        level = V  # a county case is neither escalated further nor (here) returned
    return CaseSpec(
        story=story,
        village=villages[index % len(villages)] if rng.random() < 0.6 else rng.choice(villages),
        channel=rng.choices([VISIT, ONSITE, WALKIN], weights=[40, 35, 25])[0],
        category=categories[index % len(categories)],
        urgency=rng.choices([N, U, C], weights=[72, 21, 7])[0],
        level=level,
        in_grid=rng.random() < 0.5,
        anonymous=rng.random() < 0.06,
        with_other=rng.random() < 0.8,
        with_id=rng.random() < 0.2,
    )


def _features(rng: random.Random, spec: CaseSpec, index: int) -> CaseSpec:
    """Lays returns, extensions, escalations, reworks and ratings over a story, by its index."""
    story = spec.story
    changes: dict[str, Any] = {}
    closed_rated = story in ("resolved", "unresolved")
    if story == "declined":
        changes["decline"] = list(DeclineReason)[index % len(DeclineReason)]
    if story in DISPATCHED_STORIES and story != "returned" and not spec.returned and index % 9 == 4:
        changes["returned"] = "sent_back" if spec.level == R or index % 2 else "redispatched"
    if spec.urgency == N and not spec.extension and story in ("in_progress", "resolved", "unresolved"):
        if index % 10 == 3:
            changes["extension"] = "approved"
        elif index % 10 == 7:
            changes["extension"] = "refused"
    if story == "returned" and not spec.returned:
        changes["returned"] = "pending"
    if story == "escalated":
        # Beyond capacity soon after the dispatch; overdue once the whole-case deadline has passed.
        overdue = index % 2 == 1
        changes["escalation"] = EscalationReason.OVERDUE if overdue else EscalationReason.BEYOND_CAPACITY
        changes["age"] = rng.uniform(32, 45) if overdue else rng.uniform(1, 6)
    elif closed_rated and spec.level != T and index % 13 == 5:
        changes["escalation"] = [EscalationReason.BEYOND_CAPACITY, EscalationReason.OVERDUE][index % 2]
    if closed_rated and index % 8 == 1:
        changes["reworks"] = 1 + (index % 3 == 0)
    if closed_rated and spec.level != T and index % 29 == 11:
        changes.update(escalation=EscalationReason.REWORK_EXHAUSTED, reworks=2)
    if story == "unreasonable":
        changes["reworks"] = 2
    if story == "dissatisfied" and not spec.reworks:
        changes["reworks"] = index % 2
    if closed_rated:
        changes["satisfaction"] = rng.choices([Satisfaction.SATISFIED, Satisfaction.BASIC], weights=[68, 32])[0]
        if spec.rating_channel != RatingChannel.PAGE:
            changes["rating_channel"] = [RatingChannel.TRACKING, RatingChannel.SMS_LINK][index % 2]
    return replace(spec, **changes)


def _texts(rng: random.Random, spec: CaseSpec, index: int, used: set[str]) -> CaseSpec:
    names = _village_names()
    group = rng.choice(GROUPS)
    place = f"{names[spec.village]}{group}组"
    topic, description = rng.choice(TOPICS[spec.category])
    other = _person_name(rng)
    title = f"{place}{topic}"
    for ordinal in ORDINALS:
        if title not in used:
            break
        title = f"{place}{topic}（{ordinal}）"
    used.add(title)
    return replace(
        spec,
        title=title,
        description=description.format(place=place, other=other),
        place=place,
        applicant="" if spec.anonymous else _person_name(rng),
        phone=APPLICANT_PHONE.format(index),
        other=other if spec.with_other else "",
    )


def plan() -> list[CaseSpec]:
    """The demo's cases in the order they are registered (oldest first); the same on every run."""
    rng = random.Random(f"{SEED}:cases")  # noqa: S311 - reproducible demo data, not secrets
    stories = [story for story, count in STORIES for _ in range(count)]
    rng.shuffle(stories)
    specs = list(PINNED) + [_random_spec(rng, story, i) for i, story in enumerate(stories)]
    assert len(specs) == CASES, len(specs)
    used: set[str] = set()
    planned = []
    for index, spec in enumerate(specs):
        case_rng = random.Random(f"{SEED}:case:{index}")  # noqa: S311 - reproducible demo data
        spec = _features(case_rng, spec, index)
        spec = _texts(case_rng, spec, index, used)
        if not spec.age:
            low, high = AGES[spec.story]
            spec = replace(spec, age=round(case_rng.uniform(low, high), 3))
        planned.append(spec)
    return sorted(planned, key=lambda s: -s.age)


# --- The load ------------------------------------------------------------------------------------------------


class _Loader:
    """The load moment, the demo accounts and units; plays each planned case through the services."""

    def __init__(self, actor: User) -> None:
        self.admin = actor
        self.result = CasesDemoResult()
        self.now = timezone.now()
        county = Region.objects.get(code=COUNTY_CODE)
        self.regions = {r.code: r for r in Region.objects.filter(path__startswith=county.path)}
        units = Unit.objects.filter(region__path__startswith=county.path, is_active=True).select_related("region")
        self.units = list(units.order_by("id"))
        self.unit_by_name = {u.name: u for u in self.units}
        self.categories = {c.code: c for c in CaseCategory.objects.all()}
        accounts = {u.phone: u for u in User.objects.filter(phone__in=ROLE_PHONES.values())}
        self.resident = accounts.get(ROLE_PHONES[Role.RESIDENT])
        self.grid_worker = accounts.get(ROLE_PHONES[Role.GRID_WORKER])
        # Staff accounts who act where their scope reaches; the superuser elsewhere.
        self.village_staff = accounts.get(ROLE_PHONES[Role.VILLAGE_STAFF])
        self.town_staff = accounts.get(ROLE_PHONES[Role.TOWN_STAFF])
        self.dept_staff = accounts.get(ROLE_PHONES[Role.DEPT_STAFF])
        self.staff = [u for u in (self.village_staff, self.town_staff, self.dept_staff) if u is not None]
        self.open_cases: list[Case] = []  # created by this load and still open: merge targets

    # --- who acts ---------------------------------------------------------------------------------------------

    def _office(self, case: Case) -> User:
        return next((u for u in self.staff if rules.is_office(u, case)), self.admin)

    def _lead(self, case: Case) -> User:
        return next((u for u in self.staff if rules.is_lead_unit_staff(u, case)), self.admin)

    def _reviewer(self, case: Case) -> User:
        return next((u for u in self.staff if rules.is_reviewer(u, case)), self.admin)

    def _registrar(self, spec: CaseSpec, region: Region, rng: random.Random) -> User:
        if spec.resident and self.resident is not None:
            return self.resident
        candidates: Sequence[User | None]
        if spec.channel == VISIT:
            candidates = [self.grid_worker, self.village_staff, self.town_staff]
        elif spec.channel == ONSITE:
            candidates = [self.village_staff]
        else:  # a walk-in at the town, or now and then at a county department
            candidates = [self.dept_staff] if rng.random() < 0.25 else [self.town_staff]
        roles = services.INTAKE_ROLES[spec.channel]
        for user in candidates:
            if user is not None and access.scope_of(user).has_role_over(roles, region.path):
                return user
        return self.admin

    # --- units ----------------------------------------------------------------------------------------------

    def _units_for(self, case: Case) -> list[Unit]:
        """Units that may handle ``case``: at its level, in the area containing its region."""
        return [
            u
            for u in self.units
            if u.region.level == case.level
            and case.region.path.startswith(u.region.path)
            and u.name not in COUNTY_NON_HANDLING
            and u.kind != "school"
        ]

    def _pick_units(self, case: Case, spec: CaseSpec, rng: random.Random) -> tuple[Unit, list[Unit]]:
        units = self._units_for(case)
        lead = self.unit_by_name.get(spec.lead) if spec.lead else None
        if lead is None or lead not in units:
            lead = rng.choice(units)
        others = [u for u in units if u.pk != lead.pk]
        co = rng.sample(others, 1) if others and case.level != R and rng.random() < 0.25 else []
        return lead, co

    # --- the clock -----------------------------------------------------------------------------------------------

    def _after(self, t: datetime, hours: float) -> datetime:
        """``hours`` after ``t``, but always before the load moment (squeezed when the case is young)."""
        later = t + timedelta(hours=hours)
        if later >= self.now - timedelta(minutes=1):
            later = t + (self.now - t) * 0.3
        return later

    # --- one case --------------------------------------------------------------------------------------------

    def run(self) -> None:
        specs = plan()
        existing = set(Case.objects.filter(title__in=[s.title for s in specs]).values_list("title", flat=True))
        counts: Counter[str] = Counter()
        for spec in specs:
            if spec.title in existing:
                continue
            case = self._play(spec, random.Random(f"{SEED}:play:{spec.title}"))  # noqa: S311 - reproducible
            counts[case.status] += 1
            self.result.cases += 1
            if case.status not in FINAL_STATES:
                self.open_cases.append(case)
        self.result.by_status = {s: counts[s] for s in CaseStatus.values if counts[s]}
        self._hold_applicant_sms()

    def _hold_applicant_sms(self) -> None:
        """The applicants are made up: the SMS the steps queued for them are kept but never sent.

        Their phones are demo numbers, yet real-looking; with an SMS gateway configured the demo
        must not text anyone. Marked failed with the reason, so neither the queue task nor the
        outbox sweep sends them (both take pending rows only).
        """
        OutboxMessage.objects.filter(
            channel=Channel.SMS,
            status=MessageStatus.PENDING,
            dedupe_key__startswith="case:",
            recipient__startswith=APPLICANT_PHONE[:7],
        ).update(status=MessageStatus.FAILED, last_error="演示数据：申请人为虚构人员，短信不发送")

    def _register(self, spec: CaseSpec, rng: random.Random, at: datetime) -> Case:
        village = self.regions[spec.village]
        region = village
        if spec.channel == VISIT and spec.village == RESIDENT_VILLAGE and spec.in_grid:
            region = self.regions[GRID_WORKER_GRID]
        elif spec.in_grid:
            grids = sorted(code for code in self.regions if code.startswith(spec.village) and code != spec.village)
            region = self.regions[rng.choice(grids)]
        actor = self._registrar(spec, region, rng)
        # Test-style ID numbers: region code 990101 does not exist.
        born = f"{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        applicant = PartyData(
            name=spec.applicant,
            phone=spec.phone,
            id_number=f"990101{born}{rng.randint(0, 9999):04d}" if spec.with_id else "",
            address=spec.place,
        )
        if spec.resident:
            applicant = PartyData()  # the resident's own name and phone
        others = [PartyData(name=spec.other, address=spec.place)] if spec.other else []
        return services.case_register(
            actor=actor,
            region=region,
            channel=spec.channel,
            description=spec.description,
            applicant=applicant,
            other_parties=others,
            category=self.categories.get(spec.category),
            urgency=spec.urgency,
            title=spec.title,
            place=spec.place,
            is_anonymous=spec.anonymous,
            now=at,
        )

    def _triage(self, case: Case, spec: CaseSpec, level: int, t: datetime) -> Case:
        risk, complexity = {
            R: (Risk.LOW, Complexity.SIMPLE),
            V: (Risk.MEDIUM, Complexity.ORDINARY),
            T: (Risk.HIGH, Complexity.COMPLEX),
        }[CaseLevel(level)]
        return services.case_triage(
            actor=self._office(case),
            case=case,
            category=self.categories[spec.category],
            risk=risk,
            complexity=complexity,
            level=level,
            note="经研判，按分级处置原则确定处置层级。",
            now=t,
        )

    def _play(self, spec: CaseSpec, rng: random.Random) -> Case:
        """Registers one case and takes it through its story; every step is a service call."""
        f = {N.value: 1.0, U.value: 0.35, C.value: 0.15}[spec.urgency]
        t = self.now - timedelta(days=spec.age)
        case = self._register(spec, rng, t)
        story = spec.story
        if story == "registered":
            return case
        if story == "answered":
            t = self._after(t, rng.uniform(0.2, 2))
            answer = "已当场向当事人解释相关政策，当事人表示理解，不再要求处理。"
            return services.case_answer_on_spot(actor=self._office(case), case=case, answer=answer, now=t)
        if story == "declined":
            t = self._after(t, rng.uniform(1, 24))
            note = "反映内容不具体，已电话联系无法补充。" if spec.decline == DeclineReason.NO_CONTENT else ""
            return services.case_decline(actor=self._office(case), case=case, reason=spec.decline, note=note, now=t)
        if story == "merged":
            return self._merge(case, rng, t)
        t = self._after(t, rng.uniform(0.3, 20) * f)
        case = services.case_accept(actor=self._office(case), case=case, now=t)
        if story == "accepted":
            return case
        t = self._after(t, rng.uniform(0.5, 24) * f)
        case = self._triage(case, spec, spec.level, t)
        if story == "triaged":
            return case
        t, case = self._dispatch(case, spec, rng, t, f)
        if story == "escalated":
            t, case = self._escalate(case, spec, rng, t, f, dispatch_again=False)
            return case
        if story in ("dispatched", "dispatched_late"):
            return case
        if spec.returned:
            t, case = self._return(case, spec, rng, t, f)
            if spec.returned == "pending":
                return case
        late = rng.random() < 0.12
        t = self._after(t, (rng.uniform(20, 60) if late else rng.uniform(0.2, 8)) * f)
        case = services.case_sign(actor=self._lead(case), case=case, now=t)
        if spec.escalation == EscalationReason.BEYOND_CAPACITY:
            t, case = self._escalate(case, spec, rng, t, f)
        if story == "signed":
            return case
        t, case = self._contact(case, rng, t, f)
        if spec.extension:
            t, case = self._extension(case, spec, rng, t)
        if spec.escalation == EscalationReason.OVERDUE:
            t, case = self._escalate(case, spec, rng, t, f)
            if case.status == S.SIGNED:  # escalated and signed at the new level
                t, case = self._contact(case, rng, t, f)
        if story in ("in_progress", "in_progress_late"):
            return case
        t, case = self._reply(case, spec, rng, t, f)
        if story == "replied":
            return case
        if story == "followup":
            t = max(self._after(t, rng.uniform(2, 48)), (case.step_due_at or t) + timedelta(hours=rng.uniform(1, 30)))
            if t >= self.now:
                return case  # too young to close: stays replied
            resolved = rng.random() < 0.7
            note = "回访评价期满未评价，电话回访当事人，" + ("表示问题已解决。" if resolved else "表示仍有意见。")
            return services.case_close(actor=self._office(case), case=case, resolved=resolved, note=note, now=t)
        for _round in range(spec.reworks):
            t, case = self._rate(case, spec, rng, t, Satisfaction.DISSATISFIED, resolved=False)
            t = self._after(t, rng.uniform(2, 24) * f)
            case = services.case_rework(actor=self._office(case), case=case, note="群众不满意，请重新核实处理。", now=t)
            self.result.reworks += 1
            t = self._after(t, rng.uniform(24, 96) * f)
            case = services.case_reply(actor=self._lead(case), case=case, answer=rng.choice(REWORK_ANSWERS), now=t)
        if story in ("dissatisfied", "unreasonable") or spec.escalation == EscalationReason.REWORK_EXHAUSTED:
            t, case = self._rate(case, spec, rng, t, Satisfaction.DISSATISFIED, resolved=False)
            if story == "unreasonable":
                t = self._after(t, rng.uniform(12, 72))
                note = "经审核，已两次重办，诉求超出政策规定，按不合理诉求办结。"
                return services.case_close_unreasonable(actor=self._reviewer(case), case=case, note=note, now=t)
            if story == "dissatisfied":
                return case
            t, case = self._escalate(case, spec, rng, t, f)
            if case.status == S.SIGNED:
                t, case = self._contact(case, rng, t, f)
            t, case = self._reply(case, spec, rng, t, f)
        satisfaction = spec.satisfaction
        t, case = self._rate(case, spec, rng, t, satisfaction, resolved=story == "resolved")
        return case

    # --- the steps -------------------------------------------------------------------------------------------------

    def _merge(self, case: Case, rng: random.Random, t: datetime) -> Case:
        """Merges a duplicate into an earlier open case of the same village (else of the county)."""
        village = case.region.code[:12]
        targets = [c for c in self.open_cases if c.region.code[:12] == village] or self.open_cases
        if not targets:
            return case
        target = targets[-1]
        actor = next((u for u in self.staff if rules.is_office(u, case) and rules.is_office(u, target)), self.admin)
        t = self._after(t, rng.uniform(2, 30))
        note = "同一事项重复反映，合并办理。"
        return services.case_merge(actor=actor, case=case, into=target, note=note, now=t)

    def _dispatch(self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime, f: float) -> tuple[datetime, Case]:
        t = self._after(t, rng.uniform(0.5, 24) * f)
        lead, co = self._pick_units(case, spec, rng)
        case = services.case_dispatch(
            actor=self._office(case), case=case, lead_unit=lead, co_units=co, note="请按时限办理。", now=t
        )
        return t, case

    def _return(self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime, f: float) -> tuple[datetime, Case]:
        t = self._after(t, rng.uniform(1, 10) * f)
        reason = "该事项不属于本单位职责范围，建议改派相关单位办理。"
        case = services.case_return(actor=self._lead(case), case=case, reason=reason, now=t)
        self.result.returns += 1
        if spec.returned == "pending":
            return t, case
        t = self._after(t, rng.uniform(2, 24) * f)
        others = [u for u in self._units_for(case) if u.pk != case.lead_unit_id]
        if spec.returned == "redispatched" and others:
            case = services.case_return_decide(
                actor=self._reviewer(case),
                case=case,
                redispatch=True,
                lead_unit=rng.choice(others),
                note="同意退单，改派职能单位办理。",
                now=t,
            )
        else:
            note = "经审核，该事项属于本单位职责，请继续办理。"
            case = services.case_return_decide(
                actor=self._reviewer(case), case=case, redispatch=False, note=note, now=t
            )
        return t, case

    def _contact(self, case: Case, rng: random.Random, t: datetime, f: float) -> tuple[datetime, Case]:
        late = rng.random() < 0.1
        t = self._after(t, (rng.uniform(24, 72) if late else rng.uniform(0.3, 10)) * f)
        note = rng.choice(
            ["电话联系申请人，约定上门了解情况。", "已上门走访申请人，了解诉求。", "已电话联系双方当事人。"]
        )
        case = services.case_contact(actor=self._lead(case), case=case, note=note, now=t)
        return t, case

    def _reply(self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime, f: float) -> tuple[datetime, Case]:
        late = rng.random() < 0.08
        t = self._after(t, (rng.uniform(20, 30) * 24 if late else rng.uniform(24, 260)) * f)
        answer = rng.choice(ANSWERS).format(other=spec.other or "对方")
        case = services.case_reply(actor=self._lead(case), case=case, answer=answer, now=t)
        return t, case

    def _rate(
        self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime, satisfaction: str, *, resolved: bool
    ) -> tuple[datetime, Case]:
        t = self._after(t, rng.uniform(2, 60))
        if satisfaction == Satisfaction.DISSATISFIED:
            comment = rng.choice(["问题没有实质解决。", "只是打了个电话，没有到现场。", "处理结果不公平。"])
            others = (Satisfaction.DISSATISFIED, Satisfaction.BASIC)
        else:
            comment = rng.choice(["", "", "感谢村里和镇里帮忙。", "处理及时，态度很好。", "基本解决，希望后续跟进。"])
            others = (Satisfaction.SATISFIED, Satisfaction.BASIC)
        by_account = spec.resident and spec.rating_channel == RatingChannel.PAGE and self.resident is not None
        case = services.case_rate(
            actor=self.resident if by_account else None,
            case=case,
            resolved=resolved,
            satisfaction=satisfaction,
            efficiency=rng.choice(others),
            leader_rating=rng.choice(others),
            comment=comment,
            phone=None if by_account else self._applicant_phone(case, spec),
            channel=None if by_account else spec.rating_channel,
            now=t,
        )
        self.result.ratings += 1
        return t, case

    def _applicant_phone(self, case: Case, spec: CaseSpec) -> str:
        if spec.resident and self.resident is not None:
            return self.resident.phone
        return spec.phone

    def _extension(self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime) -> tuple[datetime, Case]:
        t = self._after(t, rng.uniform(4, 48))
        if case.due_at is None or t >= case.due_at:
            return t, case
        services.case_extension_request(
            actor=self._lead(case),
            case=case,
            days=rng.choice([3, 5, 7]),
            reason="需要等待土地确权资料和第三方测量结果，申请延期。",
            now=t,
        )
        self.result.extensions += 1
        case.refresh_from_db()
        if spec.extension == "pending":
            return t, case
        t = self._after(t, rng.uniform(4, 30))
        approve = spec.extension == "approved"
        services.case_extension_decide(
            actor=self._reviewer(case),
            case=case,
            approve=approve,
            note="同意延期，请抓紧办理。" if approve else "理由不充分，请按原时限办结。",
            now=t,
        )
        case.refresh_from_db()
        return t, case

    def _escalate(
        self, case: Case, spec: CaseSpec, rng: random.Random, t: datetime, f: float, *, dispatch_again: bool = True
    ) -> tuple[datetime, Case]:
        reason = spec.escalation
        if case.level == T:
            return t, case
        when = self._after(t, rng.uniform(1, 12) * f)
        if reason == EscalationReason.BEYOND_CAPACITY:
            actor = self._office(case)
            note = "涉及多个部门职责，超出本级处置能力，提请上级处理。"
        else:
            actor = self._reviewer(case)
            note = (
                "超期未办结，提级督办。" if reason == EscalationReason.OVERDUE else "重办两次群众仍不满意，提级处理。"
            )
            if reason == EscalationReason.OVERDUE and case.due_at is not None:
                when = max(when, case.due_at + timedelta(hours=rng.uniform(6, 40)))
                if when >= self.now - timedelta(days=1):
                    return t, case  # not overdue long enough before the load: no escalation
        t = when
        case = services.case_escalate(actor=actor, case=case, reason=reason, note=note, now=t)
        self.result.escalations += 1
        if not dispatch_again:
            return t, case
        t, case = self._dispatch(case, replace(spec, lead=""), rng, t, f)
        t = self._after(t, rng.uniform(0.2, 8) * f)
        case = services.case_sign(actor=self._lead(case), case=case, now=t)
        return t, case
