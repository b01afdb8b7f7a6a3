"""Demo co-decision data for the demo county (红安县), loaded by ``manage.py demo`` after the plans.

Everything happens in 柳林村 (七里坪镇), the village of the demo's resident, grid worker and village
staff accounts, so each demo login finds something of its own:

* **needs** in every status — submitted (one seconded by neighbours, one seconded by the resident),
  merged into a duplicate, declined with a reason, listed on the problem list, done — raised by
  residents themselves or recorded by the grid worker on home visits, in all five categories;
  the resident account's own needs move through several statuses, each change notified to it;
* the **problem list**: five lines linked to their needs (open, 议事中, 已决议 ×2, 已办结);
* **meetings**: a 村民议事会 held twelve days ago (invited residents, representatives, an expert
  and a 乡贤, residents' comments made before it, minutes and a resolution per item) and a
  屋场会 in six days whose item is open for comments;
* **votes**: a closed 一人一票 poll, a closed 村民代表会议 vote that carried, an open 村规民约 vote
  the resident has not cast in yet, the 柳林集镇安置小区 estate with its property units and floor
  areas, a closed owners' vote on a 民法典 §278 major matter (area and head-count figures), and
  an open renovation-willingness vote (老旧小区改造意愿征询);
* **notices**: one running (the resident may object) and one passed after the resident's
  objection was answered; the decisions' disclosures add more;
* **四议两公开**: one record complete (both disclosures published as notices and ended), one at its
  fifth step (its disclosure notice running);
* **task list**: lines from the held meeting's resolutions and from the carried vote; the road
  line was sent into 柳林村's own work plan (a plan of the village committee), and the village
  staff's progress report on that plan task shows through as 实施中.

**Writes go through the services** (``needs``, ``meetings``, ``votes``, ``estates``, ``notices``,
``decisions``, the plans services, and core's ``person_update`` / ``account_create``), each with the
account that would do it: the resident and neighbours raise, second, comment, vote and object;
the grid worker records home visits; the village staff screen, convene, count paper ballots and
publish. A few neighbours get accounts without a usable password (they cannot log in; they are
the people who seconded, commented and voted online), and a few villagers are marked as party
members and 村民代表 (the county demo gives 柳林村 only one of each).

**Dates are relative to the load day.** Things in the past pass their day to the services'
``now`` / ``today`` parameters (a vote opened, cast in and closed three weeks ago; a notice
published and objected to within its period), so the demo is valid whenever it is loaded.

**Idempotent:** every record is looked up by its title (or name, number) in its village before it
is created, and a block that exists is left alone; a second run creates nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cocreate.core import services as core_services
from cocreate.core.demo import RESIDENT_VILLAGE, ROLE_PHONES
from cocreate.core.models import HouseholdRelation, Person, Region, Role, Unit, User
from cocreate.participation import decisions, estates, meetings, needs, notices, votes
from cocreate.participation.models import (
    Choice,
    Decision,
    Estate,
    Meeting,
    MeetingKind,
    Need,
    NeedCategory,
    Notice,
    ParticipantKind,
    ProblemItem,
    ProblemStatus,
    PropertyUnit,
    StepKind,
    TaskListItem,
    Vote,
    Voter,
    VoteRule,
)

COMMITTEE = "柳林村村民委员会"
NEIGHBOURS = 6  # accounts for the first six verified household heads after the resident
PARTY_MEMBERS = 6
REPRESENTATIVES = 7

# --- Needs ---------------------------------------------------------------------------------------------
# Who raises: "resident" (the demo account), "n0".."n5" (neighbours' accounts, themselves) or
# "v0".."v3" (villagers of the grid worker's grid without an account, recorded on a home visit).


@dataclass(frozen=True)
class DemoNeed:
    key: str
    raiser: str
    category: str
    title: str
    description: str
    place: str = ""
    point: tuple[str, str] | None = None


NEEDS = [
    DemoNeed(
        "road",
        "resident",
        NeedCategory.INFRASTRUCTURE,
        "三组通组公路还是泥巴路，雨天出行难",
        "三组到村部的通组公路约1.2公里还是土路，一下雨就泥泞，老人小孩出行不便，农产品也拉不出去，希望村里组织硬化。",
        "柳林村三组通组公路",
        ("31.285412", "114.631208"),
    ),
    DemoNeed(
        "road_dup",
        "n0",
        NeedCategory.INFRASTRUCTURE,
        "三组到村部的路坑坑洼洼，建议硬化",
        "三组到村部这段路坑多，电动车经常摔，建议硬化道路。",
        "柳林村三组",
    ),
    DemoNeed(
        "light_clinic",
        "v0",
        NeedCategory.INFRASTRUCTURE,
        "村口到卫生室一段没有路灯",
        "村口到村卫生室约400米没有路灯，晚上去看病、买药看不清路，希望安装路灯。（网格员入户走访代录）",
        "村口至村卫生室",
        ("31.283906", "114.628775"),
    ),
    DemoNeed(
        "light_river",
        "n1",
        NeedCategory.INFRASTRUCTURE,
        "柳林河边路灯坏了好几盏",
        "柳林河沿岸步道的路灯有四五盏不亮了，晚上散步的人多，存在安全隐患。",
        "柳林河沿岸步道",
    ),
    DemoNeed(
        "waste_bins",
        "resident",
        NeedCategory.ENVIRONMENT,
        "垃圾分类桶不够，一组只有一处投放点",
        "一组二十多户只有一处垃圾分类投放点，离得远的农户不愿意走过去，垃圾随手倒在路边。建议增设分类垃圾桶。",
        "柳林村一组",
    ),
    DemoNeed(
        "waste_teach",
        "v1",
        NeedCategory.ENVIRONMENT,
        "希望上门教老人垃圾分类",
        "家里只有老人，不清楚哪些是可回收物、哪些是厨余垃圾，希望有人上门讲一讲。（网格员入户走访代录）",
    ),
    DemoNeed(
        "sewage",
        "n2",
        NeedCategory.ENVIRONMENT,
        "村部旁生活污水直排柳林河",
        "村部旁几户的生活污水没有接管，直接排进柳林河，夏天有臭味，河水也变差了。",
        "村部旁柳林河段",
        ("31.286120", "114.630455"),
    ),
    DemoNeed(
        "parking",
        "n3",
        NeedCategory.GOVERNANCE,
        "赶集日车辆乱停，堵住进村路口",
        "逢集日集镇上的车停在进村路口两边，农用车和救护车都进不来，建议划定停车位、安排人员疏导。",
        "进村路口（集镇路）",
    ),
    DemoNeed(
        "court",
        "resident",
        NeedCategory.PUBLIC_SERVICES,
        "建议在村委会旁建一个篮球场",
        "村里年轻人和学生放假回来没有运动的地方，建议在村委会旁的空地上建一个篮球场。",
        "村委会旁空地",
    ),
    DemoNeed(
        "driveway",
        "v2",
        NeedCategory.INFRASTRUCTURE,
        "申请村里给自家门前修入户路",
        "自家门前到公路有30米土路，希望村里出钱修成水泥路。（网格员入户走访代录）",
    ),
    DemoNeed(
        "clutter",
        "resident",
        NeedCategory.ENVIRONMENT,
        "房前屋后柴草乱堆，建议统一清理",
        "不少农户房前屋后堆着柴草和杂物，既不美观又有火灾隐患，建议发动大家一起清理，建小菜园、小花园。",
        "柳林村一组、二组",
    ),
    DemoNeed(
        "camellia",
        "n4",
        NeedCategory.INDUSTRY,
        "建议成立油茶种植合作社，统一收购",
        "村里油茶种得多，但各家各户自己卖，价格被压得低。建议成立合作社，统一技术指导和收购。",
    ),
    DemoNeed(
        "heating",
        "v3",
        NeedCategory.PUBLIC_SERVICES,
        "老年人活动室冬天没有取暖设施",
        "村老年人活动室冬天很冷，老人坐不住，希望添置取暖设备。（网格员入户走访代录）",
        "村老年人活动室",
    ),
]
# need key → the people (by raiser key) who second it.
SECONDS = {
    "road": ("n1", "n2", "n3", "n5"),
    "light_clinic": ("resident", "n2"),
    "sewage": ("resident", "n0", "n4"),
    "clutter": ("n0", "n1", "n2", "n3"),
    "camellia": ("resident", "n1", "n5"),
}
MERGED = ("road_dup", "road", "同一路段，并入办理")
DECLINED = {
    "court": "村委会旁空地为基本农田，不能建设篮球场；村小学操场已于周末和假期向村民开放，"
    "文体设施将纳入明年村庄规划统筹考虑。",
    "driveway": "自家入户道路按村规民约由农户自建，村里可按每米补助水泥，请到村委会登记。",
}


@dataclass(frozen=True)
class DemoProblem:
    key: str
    needs: tuple[str, ...]
    title: str
    description: str


PROBLEMS = [
    DemoProblem("road", ("road",), "三组通组公路硬化", "三组至村部通组公路约1.2公里为土路，群众多次反映雨天出行难。"),
    DemoProblem(
        "light",
        ("light_clinic", "light_river"),
        "村口至卫生室及柳林河步道路灯安装维修",
        "村口至卫生室约400米无路灯；柳林河步道有5盏路灯损坏。",
    ),
    DemoProblem(
        "waste",
        ("waste_bins", "waste_teach"),
        "增设分类垃圾桶、入户指导垃圾分类",
        "按“户分类-组收集-村回收-镇转运”落实垃圾分类，一组增设投放点，老人户上门指导。",
    ),
    DemoProblem("sewage", ("sewage",), "村部周边生活污水截污纳管", "村部旁7户生活污水直排柳林河。"),
    DemoProblem("parking", ("parking",), "赶集日进村路口停车秩序", "逢集日进村路口两侧乱停车，影响通行和应急车辆。"),
]

# --- Meetings ----------------------------------------------------------------------------------------------
HELD_MEETING = "柳林村村民议事会：通组公路硬化和路灯安装"
HELD_DAYS_AGO = 12
UPCOMING_MEETING = "三组屋场会：村部周边生活污水怎么治"
UPCOMING_IN_DAYS = 6

# --- Votes -------------------------------------------------------------------------------------------------
POLL = "村民文化广场选址意见征集"
REPS_VOTE = "柳林河沿岸护栏修建及环境整治方案（村民代表会议表决）"
OPEN_VOTE = "《柳林村村规民约》修订草案表决"
ESTATE = "柳林集镇安置小区"
OWNERS_VOTE = "使用专项维修资金更换1、2栋屋面防水层"
RENOVATION_VOTE = "柳林集镇安置小区老旧小区改造意愿征询"
# (number, area) of the estate's units; the first owner (the resident) holds 1-101 and 3-202.
UNITS = [
    ("1-101", "96.50"),
    ("1-102", "88.20"),
    ("1-201", "96.50"),
    ("1-202", "88.20"),
    ("1-301", "96.50"),
    ("1-302", "88.20"),
    ("2-101", "112.30"),
    ("2-102", "72.80"),
    ("2-201", "112.30"),
    ("2-202", "72.80"),
    ("2-301", "112.30"),
    ("2-302", "72.80"),
    ("3-101", "128.60"),
    ("3-102", "68.40"),
    ("3-201", "128.60"),
    ("3-202", "68.40"),
]
OWNERS = 15

# --- Notices and 四议两公开 ---------------------------------------------------------------------------------
RUNNING_NOTICE = "柳林村村级公益性岗位拟聘人员公示"
PASSED_NOTICE = "柳林村村务收支情况公示（上季度）"
DONE_DECISION = "村集体光伏电站收益分配方案"
OPEN_DECISION = "柳林河沿岸护栏修建及环境整治"

# --- Task list ---------------------------------------------------------------------------------------------
ROAD_TASK = "三组通组公路硬化（1.2公里）"
LIGHT_TASK = "安装村口至卫生室太阳能路灯12盏、维修柳林河步道路灯5盏"
RAIL_TASK = "柳林河沿岸护栏修建（800米）"
# The village's own work plan the road line is sent into (the county's plans are left as they are).
VILLAGE_PLAN = "柳林村美好环境与幸福生活共同缔造工作计划"


@dataclass
class ParticipationDemoResult:
    """What ``load`` created; all zeros on a second run."""

    accounts: int = 0
    people_updated: int = 0
    needs: int = 0
    supports: int = 0
    problems: int = 0
    meetings: int = 0
    comments: int = 0
    votes: int = 0
    ballots: int = 0
    estates: int = 0
    property_units: int = 0
    notices: int = 0
    objections: int = 0
    decisions: int = 0
    steps: int = 0
    task_items: int = 0
    plans: int = 0


def load(*, actor: User) -> ParticipationDemoResult:
    """Loads the co-decision demo into 柳林村 (the demo county must be loaded); safe to run again."""
    loader = _Loader(actor)
    steps = (
        loader.people,
        loader.needs_and_problems,
        loader.meeting_records,
        loader.village_votes,
        loader.estate_and_owners,
        loader.notice_records,
        loader.decision_records,
        loader.task_list,
    )
    for step in steps:
        with transaction.atomic():
            step()
    return loader.result


class _Loader:
    """The load day, the accounts and people of 柳林村; each block looks before it creates."""

    def __init__(self, actor: User) -> None:
        self.admin = actor
        self.result = ParticipationDemoResult()
        # One clock for the whole load: the load day and the time of day now. Every service that
        # reads the clock is given this day or moment, so the records agree with each other
        # whatever day the demo is loaded (or a test pretends it is).
        self.today = timezone.localdate()
        self.now = timezone.make_aware(datetime.combine(self.today, timezone.localtime().time()))
        self.village = Region.objects.get(code=RESIDENT_VILLAGE)
        self.committee = Unit.objects.get(region=self.village, name=COMMITTEE)
        self.resident = User.objects.select_related("person").get(phone=ROLE_PHONES[Role.RESIDENT])
        assert self.resident.person is not None  # the demo resident is the head of a household
        self.me: Person = self.resident.person
        self.grid_worker = User.objects.get(phone=ROLE_PHONES[Role.GRID_WORKER])
        self.staff = User.objects.select_related("person").get(phone=ROLE_PHONES[Role.VILLAGE_STAFF])
        self.villagers: QuerySet[Person] = Person.objects.filter(region__path__startswith=self.village.path)
        self.neighbours: list[User] = []

    # --- time --------------------------------------------------------------------------------------------

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def at(self, offset: int, hour: int, minute: int = 0) -> datetime:
        """A moment ``offset`` days from the load day, local time."""
        return timezone.make_aware(datetime.combine(self.day(offset), time(hour, minute)))

    # --- people --------------------------------------------------------------------------------------------

    def people(self) -> None:
        """Neighbours' accounts (no usable password) and the village's party members and representatives."""
        heads = (
            self.villagers.filter(relation=HouseholdRelation.HEAD, verified_at__isnull=False)
            .exclude(phone="")
            .exclude(pk=self.me.pk)
            .order_by("household__number", "pk")[:NEIGHBOURS]
        )
        for person in heads:
            user = User.objects.filter(person=person).first()
            if user is None:
                user = core_services.account_create(actor=self.admin, person=person, phone=person.phone, password=None)
                self.result.accounts += 1
            self.neighbours.append(user)
        # Adults on record, in a stable order (household number, then the head first).
        adults = list(
            self.villagers.filter(verified_at__isnull=False, birth_date__lte=date(1990, 1, 1), household__isnull=False)
            .exclude(pk=self.me.pk)
            .order_by("household__number", "relation", "name", "pk")
        )
        for index, person in enumerate(adults[:10]):
            data: dict[str, Any] = {}
            if index < PARTY_MEMBERS and not person.is_party_member:
                data["is_party_member"] = True
            if index >= 10 - REPRESENTATIVES and not person.is_representative:
                data["is_representative"] = True
            if data:
                core_services.person_update(actor=self.admin, person=person, data=data)
                self.result.people_updated += 1

    def _users(self) -> dict[str, User]:
        users = {"resident": self.resident}
        users.update({f"n{i}": user for i, user in enumerate(self.neighbours)})
        return users

    def _visited(self) -> list[Person]:
        """Villagers of the grid worker's grid without an account, the oldest first (home visits)."""
        grid = self.grid_worker.memberships.filter(role=Role.GRID_WORKER, is_active=True).get().region
        return list(
            Person.objects.filter(region=grid, account__isnull=True, birth_date__isnull=False).order_by(
                "birth_date", "name", "pk"
            )[:4]
        )

    # --- needs and the problem list -----------------------------------------------------------------------

    def needs_and_problems(self) -> None:
        if Need.objects.filter(region=self.village, title=NEEDS[0].title).exists():
            return
        users = self._users()
        visited = self._visited()
        raised: dict[str, Need] = {}
        for spec in NEEDS:
            point = {}
            if spec.point:
                point = {"latitude": Decimal(spec.point[0]), "longitude": Decimal(spec.point[1])}
            common: dict[str, Any] = {
                "title": spec.title,
                "description": spec.description,
                "category": spec.category,
                "place": spec.place,
                **point,
            }
            if spec.raiser.startswith("v"):
                person = visited[int(spec.raiser[1:]) % len(visited)]
                need = needs.need_raise(actor=self.grid_worker, person=person, **common)
            else:
                need = needs.need_raise(actor=users[spec.raiser], **common)
            raised[spec.key] = need
            self.result.needs += 1
        for key, supporters in SECONDS.items():
            for supporter in supporters:
                _support, created = needs.need_second(actor=users[supporter], need=raised[key])
                self.result.supports += created
        duplicate, target, note = MERGED
        needs.need_merge(actor=self.staff, need=raised[duplicate], into=raised[target], note=note)
        for key, reason in DECLINED.items():
            needs.need_decline(actor=self.staff, need=raised[key], reason=reason)
        for line in PROBLEMS:
            needs.need_screen(
                actor=self.staff,
                needs=[raised[k] for k in line.needs],
                title=line.title,
                description=line.description,
            )
            self.result.problems += 1
        # The waste bins were decided by the 两委 and put up: the line is done, its needs too.
        waste = self._problem("waste")
        needs.problem_update_status(
            actor=self.staff, problem=waste, status=ProblemStatus.DECIDED, reason="村两委会议研究同意，村级公益金列支"
        )
        needs.problem_update_status(
            actor=self.staff,
            problem=waste,
            status=ProblemStatus.DONE,
            reason="一组新增分类投放点2处、分类垃圾桶8组，网格员已入户指导老人户23户",
        )

    def _problem(self, key: str) -> ProblemItem:
        title = next(p.title for p in PROBLEMS if p.key == key)
        return ProblemItem.objects.get(region=self.village, title=title)

    # --- meetings ----------------------------------------------------------------------------------------

    def _invite(self, meeting: Meeting, people: list[tuple[str, Person | None, str]]) -> list[int]:
        ids = []
        for kind, person, name in people:
            participant = meetings.participant_add(
                actor=self.staff, meeting=meeting, kind=kind, person=person, name=name
            )
            ids.append(participant.pk)
        return ids

    def meeting_records(self) -> None:
        users = self._users()
        if not Meeting.objects.filter(region=self.village, title=HELD_MEETING).exists():
            self._held_meeting(users)
        if not Meeting.objects.filter(region=self.village, title=UPCOMING_MEETING).exists():
            self._upcoming_meeting(users)

    def _held_meeting(self, users: dict[str, User]) -> None:
        held_at = self.at(-HELD_DAYS_AGO, 19, 30)
        meeting = meetings.meeting_create(
            actor=self.staff,
            region=self.village,
            kind=MeetingKind.COUNCIL,
            title=HELD_MEETING,
            held_at=held_at,
            place="柳林村党群服务中心议事室",
        )
        self.result.meetings += 1
        reps = list(self.villagers.filter(is_representative=True, verified_at__isnull=False).order_by("pk")[:3])
        invited: list[tuple[str, Person | None, str]] = [
            (ParticipantKind.STAFF, self.staff.person, ""),
            (ParticipantKind.RESIDENT, self.resident.person, ""),
            *[(ParticipantKind.RESIDENT, users[f"n{i}"].person, "") for i in range(4)],
            *[(ParticipantKind.REPRESENTATIVE, p, "") for p in reps if p.pk not in self._account_people()],
            (ParticipantKind.EXPERT, None, "王建平（县住建局村镇建设股技术员）"),
            (ParticipantKind.SAGE, None, "李德明（在外乡贤，武汉经商）"),
        ]
        ids = self._invite(meeting, invited)
        road, light = self._problem("road"), self._problem("light")
        road_item = meetings.item_add(actor=self.staff, meeting=meeting, problem=road)
        light_item = meetings.item_add(actor=self.staff, meeting=meeting, problem=light)
        before = held_at - timedelta(days=3)
        for user, item, text in [
            (users["n1"], road_item, "硬化时顺便把路边排水沟也修好，不然几年就冲坏了。"),
            (users["n4"], road_item, "我家在外打工回不来，同意硬化，愿意按户出工出劳。"),
            (self.resident, light_item, "路灯建议用太阳能的，不用交电费，后期好维护。"),
        ]:
            meetings.comment_add(actor=user, item=item, text=text, now=before)
            self.result.comments += 1
        absent = {ids[3]}  # n1 could not come and commented online instead
        meetings.meeting_record(
            actor=self.staff,
            meeting=meeting,
            present=[pk for pk in ids if pk not in absent],
            minutes="会议由村委会主任主持，到会村民、村民代表、县住建局技术人员和乡贤共同商议三组通组公路硬化"
            "和路灯安装两个议题，会前收集线上意见3条，会上逐一回应。",
            items={
                road_item.pk: (
                    "技术人员介绍了硬化标准（宽4.5米、厚18厘米）和预算约48万元；村民同意按一事一议筹资筹劳，"
                    "乡贤表示捐资5万元。",
                    "同意实施三组通组公路硬化，同步修建排水沟；资金由奖补资金、村集体和一事一议筹资解决，"
                    "村民投工投劳；由村委会牵头，三个月内完工。",
                ),
                light_item.pk: (
                    "采纳线上意见，新装路灯采用太阳能路灯；柳林河步道损坏路灯由村委会联系供电所维修。",
                    "安装太阳能路灯12盏、维修步道路灯5盏，村委会负责，六周内完成。",
                ),
            },
        )

    def _account_people(self) -> set[int]:
        return {pk for pk in User.objects.filter(person__isnull=False).values_list("person_id", flat=True)}

    def _upcoming_meeting(self, users: dict[str, User]) -> None:
        meeting = meetings.meeting_create(
            actor=self.staff,
            region=self.village,
            kind=MeetingKind.COURTYARD,
            title=UPCOMING_MEETING,
            held_at=self.at(UPCOMING_IN_DAYS, 19, 0),
            place="三组程家湾稻场",
        )
        self.result.meetings += 1
        self._invite(
            meeting,
            [
                (ParticipantKind.STAFF, self.staff.person, ""),
                (ParticipantKind.RESIDENT, self.resident.person, ""),
                (ParticipantKind.RESIDENT, users["n2"].person, ""),
                (ParticipantKind.EXPERT, None, "七里坪镇规建环办技术员"),
            ],
        )
        item = meetings.item_add(actor=self.staff, meeting=meeting, problem=self._problem("sewage"))
        meetings.comment_add(
            actor=users["n2"], item=item, text="建议接入集镇污水管网，比每户建化粪池省事。", now=self.now
        )
        self.result.comments += 1

    # --- votes ---------------------------------------------------------------------------------------------

    def _rule(self, code: str) -> VoteRule:
        return VoteRule.objects.get(code=code)

    def _vote(
        self,
        *,
        title: str,
        rule: str,
        opens: datetime,
        closes: datetime,
        question: str,
        region: Region | None = None,
        estate: Estate | None = None,
    ) -> Vote | None:
        """A new vote opened at ``opens``, or None when it exists (then it is left alone)."""
        region = region or self.village
        if Vote.objects.filter(region=region, title=title).exists():
            return None
        vote = votes.vote_create(
            actor=self.staff,
            region=region,
            title=title,
            rule=self._rule(rule),
            opens_at=opens,
            closes_at=closes,
            question=question,
            estate=estate,
        )
        self.result.votes += 1
        return votes.vote_open(actor=self.staff, vote=vote, now=opens)

    def _paper(self, vote: Vote, choices: Sequence[str], *, skip: Collection[int | None] = (), now: datetime) -> None:
        """Staff enter a sign-in sheet: the roll's lines in order (skipping ``skip`` persons) get ``choices``."""
        skipped = [pk for pk in skip if pk is not None]
        lines = Voter.objects.filter(vote=vote).exclude(person_id__in=skipped).order_by("pk")
        rows = [(line.pk, choice) for line, choice in zip(lines, choices, strict=False)]
        if rows:
            votes.paper_record(actor=self.staff, vote=vote, rows=rows, now=now)
            self.result.ballots += len(rows)

    def _cast(self, user: User, vote: Vote, choice: str, now: datetime) -> None:
        _ballot, created = votes.ballot_cast_result(actor=user, vote=vote, choice=choice, now=now)
        self.result.ballots += created

    def _closed_vote(self, *, title: str, rule: str, day: int, question: str, choices: Sequence[str]) -> Vote | None:
        """A vote held at a meeting on day ``day`` (opened 9:00, ballots counted, closed 11:30)."""
        vote = self._vote(title=title, rule=rule, opens=self.at(day, 9), closes=self.at(day, 11, 30), question=question)
        if vote is None:
            return None
        self._paper(vote, choices, now=self.at(day, 10))
        return votes.vote_close(actor=self.staff, vote=vote, now=self.at(day, 11, 30))

    def village_votes(self) -> None:
        agree, disagree, abstain = Choice.AGREE, Choice.DISAGREE, Choice.ABSTAIN
        # A closed 一人一票 poll: two weeks online and at the village office, with results.
        poll = self._vote(
            title=POLL,
            rule="simple_poll",
            opens=self.at(-30, 8),
            closes=self.at(-16, 18),
            question="村民文化广场拟选址：村委会东侧闲置地（约1200平方米）。是否同意该选址？",
        )
        if poll is not None:
            self._cast(self.resident, poll, agree, now=self.at(-29, 20, 15))
            for i, user in enumerate(self.neighbours[:4]):
                self._cast(user, poll, [agree, agree, disagree, agree][i], now=self.at(-28 + i, 12))
            voted = {self.resident.person_id, *(u.person_id for u in self.neighbours[:4])}
            sheet = [agree] * 17 + [disagree] * 5 + [abstain] * 3
            self._paper(poll, sheet, skip=voted, now=self.at(-20, 10))
            votes.vote_close(actor=self.staff, vote=poll, now=self.at(-16, 18))
        # A closed 村民代表会议 vote that carried (used by the 四议两公开 record and the task list).
        self._closed_vote(
            title=REPS_VOTE,
            rule="representatives_meeting",
            day=-3,
            question="柳林河沿岸修建护栏800米，清理河道垃圾，资金由村集体和上级奖补资金解决。是否同意？",
            choices=[agree, agree, agree, agree, agree, abstain],
        )
        # The open vote: the resident has not cast yet; some neighbours have, and a first paper sheet is in.
        open_vote = self._vote(
            title=OPEN_VOTE,
            rule="simple_poll",
            opens=self.at(-2, 8),
            closes=self.at(12, 18),
            question="《柳林村村规民约》修订草案新增“门前三包”、垃圾分类和红白喜事简办条款，"
            "草案全文在村务公开栏和本页公示。是否同意该修订草案？",
        )
        if open_vote is not None:
            for user, choice in zip(self.neighbours[:3], [agree, agree, abstain], strict=False):
                self._cast(user, open_vote, choice, now=self.now)
            voted = {self.resident.person_id, *(u.person_id for u in self.neighbours)}
            self._paper(open_vote, [agree] * 8 + [disagree] * 2, skip=voted, now=self.now)

    # --- the estate and owners' votes ----------------------------------------------------------------

    def estate_and_owners(self) -> None:
        estate = Estate.objects.filter(region=self.village, name=ESTATE).first()
        if estate is None:
            estate = estates.estate_create(
                actor=self.staff, region=self.village, name=ESTATE, address="七里坪镇柳林村集镇路18号"
            )
            self.result.estates += 1
        owners = [self.resident.person, *self._owner_people()]
        existing = set(PropertyUnit.objects.filter(estate=estate).values_list("number", flat=True))
        for index, (number, area) in enumerate(UNITS):
            if number in existing:
                continue
            owner = owners[index if index < OWNERS else 0]
            assert owner is not None
            estates.unit_create(actor=self.staff, estate=estate, number=number, area=Decimal(area), owner=owner)
            self.result.property_units += 1
        agree, disagree, abstain = Choice.AGREE, Choice.DISAGREE, Choice.ABSTAIN
        # 民法典 §278 major matter: ≥ 2/3 of area and owners take part, ≥ 3/4 of both agree.
        major = self._vote(
            title=OWNERS_VOTE,
            rule="owners_major",
            opens=self.at(-21, 8),
            closes=self.at(-11, 18),
            question="1、2栋屋面渗漏，拟使用专项维修资金约6.8万元更换屋面防水层。是否同意？",
            estate=estate,
        )
        if major is not None:
            self._cast(self.resident, major, agree, now=self.at(-20, 9, 40))
            sheet = [agree] * 9 + [disagree, agree, abstain]
            self._paper(major, sheet, skip={self.resident.person_id}, now=self.at(-14, 19))
            votes.vote_close(actor=self.staff, vote=major, now=self.at(-11, 18))
        # Renovation willingness: open, nine owners agree so far; two thirds of all owners are needed.
        renovation = self._vote(
            title=RENOVATION_VOTE,
            rule="renovation_willingness",
            opens=self.at(-5, 8),
            closes=self.at(10, 18),
            question="小区拟纳入老旧小区改造计划（外墙保温、雨污分流、增设停车位和充电设施），"
            "居民按户出资每平方米10元。是否同意纳入改造？",
            estate=estate,
        )
        if renovation is not None:
            self._paper(renovation, [agree] * 9 + [disagree], skip={self.resident.person_id}, now=self.now)

    def _owner_people(self) -> list[Person]:
        """Owners besides the resident: heads and spouses of the village's households, in a stable order."""
        people = self.villagers.filter(relation__in=[HouseholdRelation.HEAD, HouseholdRelation.SPOUSE])
        if self.me.household_id is not None:
            people = people.exclude(household_id=self.me.household_id)
        return list(people.order_by("household__number", "relation", "pk")[: OWNERS - 1])

    # --- notices -----------------------------------------------------------------------------------------

    def _notice(self, title: str, body: str, starts: int, days: int = notices.DEFAULT_DAYS) -> Notice | None:
        if Notice.objects.filter(region=self.village, title=title).exists():
            return None
        notice = notices.notice_create(
            actor=self.staff, region=self.village, title=title, body=body, starts_on=self.day(starts), days=days
        )
        self.result.notices += 1
        return notices.notice_publish(actor=self.staff, notice=notice, today=self.day(starts))

    def notice_records(self) -> None:
        self._notice(
            RUNNING_NOTICE,
            "经村民推荐、村两委研究，拟聘用以下人员为本年度村级公益性岗位（保洁员2名、护河员1名），"
            "现予公示。如有异议，请在公示期内通过本系统或到村委会提出。",
            starts=-2,
        )
        passed = self._notice(
            PASSED_NOTICE,
            "上季度村集体收入18.6万元（光伏电站收益12.4万元、资产租赁6.2万元），支出15.3万元"
            "（道路维修4.1万元、保洁及公益岗位6.0万元、办公及其他5.2万元）。明细附后。",
            starts=-30,
        )
        if passed is not None:
            objection = notices.objection_lodge(
                actor=self.resident,
                notice=passed,
                text="道路维修4.1万元是修了哪几段路？请公布明细。",
                today=self.day(-28),
            )
            self.result.objections += 1
            notices.objection_answer(
                actor=self.staff,
                objection=objection,
                upheld=False,
                answer="道路维修为一组、二组共3段路面修补，计1860平方米，明细已张贴在村务公开栏，欢迎查阅。",
            )
            notices.notice_end(notice=passed, today=self.today)

    # --- 四议两公开 -----------------------------------------------------------------------------------

    def _step(self, decision: Decision, kind: str, day: int, **kwargs: Any) -> None:
        decisions.step_record(
            actor=self.staff, decision=decision, kind=kind, done_on=self.day(day), today=self.day(day), **kwargs
        )
        self.result.steps += 1
        self.result.notices += kind in decisions.NOTICE_STEPS

    def decision_records(self) -> None:
        agree, abstain = Choice.AGREE, Choice.ABSTAIN
        if not Decision.objects.filter(region=self.village, title=DONE_DECISION).exists():
            decision = decisions.decision_create(
                actor=self.staff,
                region=self.village,
                title=DONE_DECISION,
                matter="村集体100千瓦光伏电站年收益约12万元，拟按“公益事业50%、脱贫户分红30%、设施维护20%”分配。",
            )
            self.result.decisions += 1
            self._step(decision, StepKind.PROPOSAL, -70, attendance=5, notes="党支部会议提出分配方案初稿。")
            self._step(decision, StepKind.CONSULTATION, -66, attendance=7, notes="两委联席会议商议，修改分红比例。")
            review = self._closed_vote(
                title=f"{DONE_DECISION}（党员大会审议）",
                rule="party_members_meeting",
                day=-62,
                question="审议村集体光伏电站收益分配方案。",
                choices=[agree, agree, agree, agree, agree, abstain],
            )
            self._step(decision, StepKind.REVIEW, -62, vote=review, notes="党员大会审议通过。")
            resolution = self._closed_vote(
                title=f"{DONE_DECISION}（村民代表会议决议）",
                rule="representatives_meeting",
                day=-58,
                question="表决村集体光伏电站收益分配方案。",
                choices=[agree] * 6,
            )
            self._step(decision, StepKind.RESOLUTION, -58, vote=resolution, notes="村民代表会议表决通过。")
            self._step(
                decision,
                StepKind.DISCLOSURE,
                -56,
                notes="村民代表会议决议：光伏电站收益按公益事业50%、脱贫户分红30%、设施维护20%分配。",
            )
            self._step(
                decision,
                StepKind.RESULT_DISCLOSURE,
                -20,
                notes="本年度收益12.4万元已按方案分配：公益事业6.2万元、脱贫户分红3.72万元（31户）、设施维护2.48万元。",
            )
            for step in decision.steps.exclude(notice=None).select_related("notice"):
                assert step.notice is not None
                notices.notice_end(notice=step.notice, today=self.today)
        if not Decision.objects.filter(region=self.village, title=OPEN_DECISION).exists():
            decision = decisions.decision_create(
                actor=self.staff,
                region=self.village,
                title=OPEN_DECISION,
                matter="柳林河沿岸800米无护栏，汛期和夜间存在安全隐患，河道垃圾需清理。",
            )
            self.result.decisions += 1
            self._step(decision, StepKind.PROPOSAL, -10, attendance=5, notes="党支部根据群众反映提出。")
            self._step(decision, StepKind.CONSULTATION, -8, attendance=7, notes="两委商议，明确资金来源。")
            review = self._closed_vote(
                title=f"{OPEN_DECISION}（党员大会审议）",
                rule="party_members_meeting",
                day=-5,
                question="审议柳林河沿岸护栏修建及环境整治方案。",
                choices=[agree] * 5,
            )
            self._step(decision, StepKind.REVIEW, -5, vote=review, notes="党员大会审议通过。")
            reps = Vote.objects.filter(region=self.village, title=REPS_VOTE).first()
            if reps is not None and not reps.decision_steps.exists():
                self._step(decision, StepKind.RESOLUTION, -3, vote=reps, notes="村民代表会议表决通过。")
                # The disclosure's notice runs on the load day: residents may still object.
                self._step(
                    decision,
                    StepKind.DISCLOSURE,
                    -1,
                    notes="村民代表会议决议：修建柳林河沿岸护栏800米、清理河道垃圾，资金由村集体和上级奖补资金解决。",
                )

    # --- task list ---------------------------------------------------------------------------------------

    def task_list(self) -> None:
        meeting = Meeting.objects.filter(region=self.village, title=HELD_MEETING).first()
        if meeting is not None:
            road_item, light_item = list(meeting.items.order_by("order"))[:2]
            road = self._task_item(ROAD_TASK, 75, meeting_item=road_item)
            if road is not None:
                self._to_plan(road)
            self._task_item(LIGHT_TASK, 40, meeting_item=light_item)
        reps = Vote.objects.filter(region=self.village, title=REPS_VOTE).first()
        if reps is not None:
            self._task_item(RAIL_TASK, 90, vote=reps)

    def _task_item(self, title: str, deadline: int, **source: Any) -> TaskListItem | None:
        if TaskListItem.objects.filter(region=self.village, title=title).exists():
            return None
        item = meetings.task_item_create(
            actor=self.staff,
            region=self.village,
            title=title,
            owner_unit=self.committee,
            deadline=self.day(deadline),
            **source,
        )
        self.result.task_items += 1
        return item

    def _to_plan(self, item: TaskListItem) -> None:
        """Into 柳林村's own work plan; the village staff's first report makes the line 实施中."""
        from cocreate.plans import services as plan_services
        from cocreate.plans.models import Plan, ReportKind

        plan = Plan.objects.filter(title=VILLAGE_PLAN, region=self.village).first()
        if plan is None:
            plan = plan_services.plan_create(
                actor=self.admin,
                title=VILLAGE_PLAN,
                issuing_unit=self.committee,
                region=self.village,
                starts_on=self.day(-60),
                ends_on=self.day(300),
                summary="把村民议事会、村民代表会议决定的事项列入计划，明确责任人和时限，完成情况向村民公开。",
            )
            self.result.plans += 1
        task = meetings.task_item_to_plan(actor=self.admin, item=item, plan=plan, starts_on=self.today)
        plan_services.report_submit(
            actor=self.staff,
            task=task,
            unit=self.committee,
            kind=ReportKind.PERCENT,
            percent=Decimal(30),
            description="路基平整完成，正在浇筑第一段路面（约350米）。",
        )
