"""Demo work plans for the demo county (红安县), loaded by ``manage.py demo`` after the county itself.

Three plans, written through ``cocreate.plans.services`` with the demo superuser as actor:

* the street office's campaign 全民动手共同缔造美丽家园市容环境整治主题活动 (城南街道): three phases
  and the nine tasks of the seed document with their 牵头单位 / 责任单位; every task names
  各村（社区）, so each fans out to the street's four 社区; task 7 is the weekly volunteer quota
  (每周至少开展一次), reported as activity records;
* the county's plan for 美好环境与幸福生活共同缔造活动 with the province plan's eight tasks and
  their lead / guiding / responsible departments (county departments of the demo);
* the 美丽家园 pilot plan: ten of the county's twelve villages, each with 责任领导 / 责任单位 /
  配合单位 and the numeric targets (绿化覆盖率 ≥ 35%, 垃圾处理率 100%, 供水普及率 100%,
  畜禽粪便综合利用率 ≥ 90% …), reported as indicator values.

**Dates are relative to the day of loading.** Lights depend on today's date, and a demo loaded in
2027 with fixed 2026 dates would show nothing but red and done. So every date is an offset from
``timezone.localdate()`` at load time (each plan runs from 4–7 months before the load day to
5–8 months after it), and the reports are chosen so that on the day of loading every light shows: green,
yellow, red (behind, overdue, missed milestone), blue (due within a week), done, not started.
Everything else — names, units, numbers, values — is fixed, so two loads on the same day
produce the same data, and a load on another day the same data shifted in time.

**Idempotent:** a plan is looked up by title and region before it is created; a plan that
exists is left alone with all its tasks and reports (a plan is written in one transaction, so
it is either complete or absent). A second run creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from cocreate.core.demo import COUNTY_CODE, ROLE_PHONES
from cocreate.core.models import Region, Role, Unit, User
from cocreate.plans import assessment as assessment_services
from cocreate.plans import services
from cocreate.plans.models import (
    Assessment,
    Comparator,
    ItemKind,
    Plan,
    QuotaPeriod,
    ReportKind,
    Target,
    TargetKind,
    Task,
)
from cocreate.plans.services import TargetSpec

STREET_CODE = "421122001"  # 城南街道

STREET_PLAN = "全民动手共同缔造美丽家园市容环境整治主题活动工作方案"
COUNTY_PLAN = "红安县美好环境与幸福生活共同缔造活动实施方案"
PILOT_PLAN = "红安县美丽家园试点村建设方案"

# --- The street campaign -------------------------------------------------------------------------
# Offsets in days from the load day. Phases: (name, start, end).
STREET_SPAN = (-120, 240)
STREET_PHASES = [("部署启动", -120, -101), ("集中整治", -100, 180), ("巩固提升", 181, 240)]


@dataclass(frozen=True)
class StreetTask:
    """One row of the campaign's task table and what each 社区 has reported on the load day."""

    number: str
    title: str
    content: str
    lead: tuple[str, ...]
    responsible: tuple[str, ...]
    phase: int
    start: int
    deadline: int
    # Per 社区 in code order (城南、春晖、新华、杏花): the percent reported, or None for none.
    percents: tuple[int | None, ...] = ()
    milestones: tuple[tuple[int, int], ...] = ()


STREET_TASKS = [
    StreetTask(
        "1",
        "整治环境卫生",
        "以背街小巷、城乡结合部、农贸市场、学校周边等为重点，在群众反映集中的热点区域开展环境卫生整治，"
        "补齐薄弱区域短板、强化环境管理弱项，确保全域环境干净整洁。",
        ("城市管理服务中心",),
        ("社会事务办", "规建环办", "经发办"),
        phase=1,
        start=-100,
        deadline=100,
        percents=(55, 35, 10, 100),  # expected 50: green, yellow, red, done
    ),
    StreetTask(
        "2",
        "擦亮坡坎崖滩底色",
        "以主次干道沿线、公共广场周边坡坎崖滩等为重点，着力消除白色暴露垃圾、堆放杂物、"
        "占用公共绿地种菜等现象，提升市容市貌整体水平。",
        ("城市管理服务中心",),
        (),
        phase=1,
        start=-95,
        deadline=5,
        percents=(90, 80, 100, 70),  # due in 5 days: blue, blue, done, blue
    ),
    StreetTask(
        "3",
        "治理垃圾污染",
        "推进生活垃圾分类，加大分类设施投入，提高分类投放准确率；规范垃圾站场、公厕、环卫车辆管理，"
        "消除脏、乱、臭现象。",
        ("城市管理服务中心",),
        ("党政办", "社区事务服务中心"),
        phase=1,
        start=-100,
        deadline=-10,
        percents=(100, 100, 85, 60),  # ten days overdue: done, done, red, red
    ),
    StreetTask(
        "4",
        "推进坡坎崖滩绿化美化",
        "坚持自然为美，因形就势布局、因地制宜建设，精选树种、培植花境、保育生态，将坡坎崖滩打造成为特有的“立体挂毯”。",
        ("城市管理服务中心",),
        ("规建环办", "经发办", "社区事务服务中心"),
        phase=1,
        start=-60,
        deadline=120,
        percents=(40, 20, None, 30),  # expected 33: green, yellow, red (nothing reported), green
    ),
    StreetTask(
        "5",
        "统筹绿地补缺提质",
        "加强现有绿化项目管护，定期开展植物体检、科学修剪、病虫害防治，消除绿化缺株死株、"
        "违规种菜等现象，增加城市绿量。",
        ("城市管理服务中心",),
        ("规建环办", "社区事务服务中心"),
        phase=1,
        start=-90,
        deadline=90,
        percents=(60, 45, 30, 15),  # expected 50: green, green, yellow, red
    ),
    StreetTask(
        "6",
        "完善夜间照明功能",
        "加强照明设施巡查维护，重点整治照明暗盲区，对老旧小区、人行步道功能照明查漏补缺，提升设施完好率。",
        ("城市管理服务中心",),
        ("规建环办", "社区事务服务中心"),
        phase=1,
        start=-90,
        deadline=150,
        percents=(50, 38, 45, 20),  # expected 37.5; 40 % was due 30 days ago: green, red, green, red
        milestones=((-30, 40), (60, 70)),
    ),
    StreetTask(
        "7",
        "丰富志愿服务活动",
        "开展“全民动手、美化家园”系列主题活动，各村（社区）组织志愿者每周至少开展一次主题活动，推动志愿者“进网格”。",
        ("党群办", "城市管理服务中心"),
        (),
        phase=1,
        start=-120,
        deadline=240,
    ),
    StreetTask(
        "8",
        "探索坡坎崖滩建管方式",
        "开展坡坎崖滩建设点位、设计方案网络推选，推行企事业单位认建认管等“认领制”，探索管理新模式。",
        ("城市管理服务中心",),
        (),
        phase=1,
        start=-40,
        deadline=140,
        percents=(30, 50, 25, 10),  # expected 22; 春晖's 50 % is returned: green, yellow, green, yellow
    ),
    StreetTask(
        "9",
        "打造“最美”系列品牌",
        "利用“最美”系列评选为主题活动宣传造势，及时收集优秀案例、提炼有效做法，形成可复制可推广的经验。",
        ("党群办", "城市管理服务中心"),
        (),
        phase=2,
        start=181,
        deadline=240,  # not started yet
    ),
]
VOLUNTEER_QUOTA = TargetSpec(
    kind=TargetKind.QUOTA, name="志愿服务主题活动", quota_count=1, quota_period=QuotaPeriod.WEEK
)
# Weeks ago of each 社区's volunteer activities (0 = this week); the quota counts the current week.
VOLUNTEER_WEEKS: tuple[tuple[int, ...], ...] = (
    tuple(range(0, 17)),  # every week, this one included: quota met
    tuple(range(1, 17)),  # every week until last week: nothing yet this week
    (3, 8, 12),
    (),
)
RETURNED = ("8", 1, "未附现场照片，认领点位与方案不符，请补充后重新报送")

# --- The county plan (the province plan's eight tasks) ----------------------------------------------
COUNTY_SPAN = (-150, 215)


@dataclass(frozen=True)
class CountyTask:
    """A task with lead / guiding / responsible departments, reported by the lead department."""

    title: str
    content: str
    lead: tuple[str, ...]
    guiding: tuple[str, ...]
    responsible: tuple[str, ...]
    start: int
    deadline: int
    percents: tuple[int, ...] = ()
    indicator: tuple[str, int, int] | None = None  # (name, target %, reported value)


COUNTY_TASKS = [
    CountyTask(
        "推动城市更新，发挥政府、社会、市民三大主体作用",
        "统筹政府、社会、市民三大主体，探索城市更新共同缔造的实施模式、政策措施和管理制度。",
        ("县住建局",),
        ("县政府",),
        (),
        -150,
        200,
        (20, 45),  # expected 43: green
    ),
    CountyTask(
        "组织居民群众参与建设完整居住社区",
        "推动建立“党委领导、政府组织、业主参与、企业服务”的居住社区管理机制，补齐既有居住社区设施短板。",
        ("县住建局",),
        ("县民政局",),
        (),
        -150,
        100,
        (40,),  # expected 60: yellow
    ),
    CountyTask(
        "动员各方力量推进城镇老旧小区改造",
        "发动居民参与改造方案制定、配合施工、过程监督、后续管理和效果评价，建立改造资金合理共担机制。",
        ("县住建局",),
        ("县政府",),
        ("县财政局",),
        -120,
        3,
        (60, 90),  # due in 3 days: blue
    ),
    CountyTask(
        "推动形成人人动手参与城市生活垃圾分类的工作局面",
        "将生活垃圾分类纳入社区居民公约，开展“小手拉大手”等社会实践活动，生活垃圾回收利用率达到35%以上。",
        ("县住建局",),
        ("县城管局",),
        ("县教育局", "县民政局"),
        -150,
        200,
        (40,),
        ("生活垃圾回收利用率", 35, 30),  # attainment 86 and 40 %: green
    ),
    CountyTask(
        "建立健全共同创建绿色社区的工作机制",
        "统筹业主委员会、驻区单位和居民共同开展绿色社区创建行动，推进社区基础设施绿色化。",
        ("县住建局",),
        ("县政府",),
        ("县民政局", "县城管局"),
        -150,
        -5,
        (60, 100),  # done
    ),
    CountyTask(
        "打造共建共治共享的城市治理体系",
        "推动城市管理进社区，从群众身边小事抓起，以绣花功夫加强城市精细化管理。",
        ("县城管局",),
        ("县住建局",),
        (),
        -100,
        100,
        (10,),  # expected 50: red
    ),
    CountyTask(
        "统筹推进县域城乡建设",
        "组织动员群众参与县城规划建设管理，合理布局县城、中心镇、行政村基础设施和公共服务设施。",
        ("县住建局",),
        ("县政府",),
        ("城南街道办事处", "七里坪镇人民政府", "华家河镇人民政府"),
        10,
        200,  # not started
    ),
    CountyTask(
        "组织农民群众共同建设美丽宜居乡村",
        "组织农民群众参与乡村规划编制、农房和村庄建设、人居环境整治、村容村貌提升等工作。",
        ("县住建局",),
        ("县农业农村局",),
        ("县财政局",),
        -150,
        200,
        (30, 48),  # expected 43: green
    ),
]

# --- The pilot villages ----------------------------------------------------------------------------
PILOT_SPAN = (-200, 160)
# (name, comparator, target value, unit label); the pilot plan's numeric targets.
PILOT_TARGETS = [
    ("村庄绿化覆盖率", Comparator.GTE, 35, "%"),
    ("村庄垃圾处理率", Comparator.GTE, 100, "%"),
    ("污水处理和改厕入户率", Comparator.GTE, 100, "%"),
    ("村庄供水普及率", Comparator.GTE, 100, "%"),
    ("互联网宽带入户率", Comparator.GTE, 100, "%"),
    ("畜禽粪便综合利用率", Comparator.GTE, 90, "%"),
]


@dataclass(frozen=True)
class Pilot:
    """A pilot village: its theme and the indicator values it has reported (None: not yet)."""

    village_code: str
    content: str
    cooperating: str  # the town office that helps
    values: tuple[int | None, ...]


# Expected progress on the load day is 56 %; a missing value counts as 0 % attained.
PILOTS = [
    Pilot(
        "421122100201",
        "依托七里坪长胜街红色遗址和柳林河生态资源，打造红色研学美丽家园。",
        "规建环办",
        (38, 100, 100, 100, 100, 92),  # done
    ),
    Pilot("421122100202", "依托万亩油茶基地，打造油茶产业美丽家园。", "经发办", (30, 95, 80, 100, 90, 85)),  # green
    Pilot("421122100203", "依托马鞍山森林景观，打造山林康养美丽家园。", "规建环办", (36, 90, 60, None, None, 70)),
    Pilot(
        "421122100204", "依托板栗和茶叶种植，打造林果采摘美丽家园。", "经发办", (20, 60, None, None, None, None)
    ),  # red
    Pilot("421122101201", "依托祝家楼古民居群，打造传统村落保护美丽家园。", "规建环办", (25, 60, 30, 90, None, None)),
    Pilot("421122101202", "依托檀树岗生态茶园，打造茶旅融合美丽家园。", "经发办", (None,) * 6),  # red: nothing yet
    Pilot("421122101203", "依托滕家堰水库和稻田，打造优质米粮美丽家园。", "社会事务办", (35, 100, 90, 100, 80, 90)),
    Pilot("421122101204", "依托红石村红色文化和特色养殖，打造生态养殖美丽家园。", "规建环办", (28, 80, 50, 60, 70, 60)),
    Pilot(
        "421122001001",
        "依托老城街巷和城南公园，打造宜居社区美丽家园。",
        "社区事务服务中心",
        (33, 100, 100, 100, 100, None),
    ),
    Pilot(
        "421122001004", "依托杏花公园和社区菜园，打造绿色社区美丽家园。", "社区事务服务中心", (36, 95, 85, 100, 95, 90)
    ),
]


@dataclass
class PlansDemoResult:
    """What ``load`` created; all zeros on a second run."""

    plans: int = 0
    tasks: int = 0
    reports: int = 0
    assessments: int = 0


def load(*, actor: User) -> PlansDemoResult:
    """Loads the demo plans into the demo county (which must be loaded); safe to run again."""
    loader = _Loader(actor)
    for build in (loader.street_campaign, loader.county_plan, loader.pilot_villages, loader.pilot_assessment):
        with transaction.atomic():
            build()
    return loader.result


class _Loader:
    """Holds the load day, the actor and the units by name; each plan looks before it is created."""

    def __init__(self, actor: User) -> None:
        self.actor = actor
        self.today = timezone.localdate()
        self.result = PlansDemoResult()
        self.county = Region.objects.get(code=COUNTY_CODE)
        self.street = Region.objects.get(code=STREET_CODE)
        units = Unit.objects.filter(region__path__startswith=self.county.path).select_related("region")
        self.units = {u.name: u for u in units}
        self.county_units = {u.short_name: u for u in units if u.region_id == self.county.pk}
        self.leader = User.objects.filter(phone=ROLE_PHONES[Role.LEADER]).first()
        # 柳林村's 村委会主任 reports for 柳林村.
        self.village_staff = User.objects.filter(phone=ROLE_PHONES[Role.VILLAGE_STAFF]).first()

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def _plan(
        self, *, title: str, region: Region, issuing_unit: Unit, span: tuple[int, int], **extra: Any
    ) -> Plan | None:
        """A new plan, or None when the plan is already there (then nothing of it is touched)."""
        if Plan.objects.filter(title=title, region=region).exists():
            return None
        plan = services.plan_create(
            actor=self.actor,
            title=title,
            issuing_unit=issuing_unit,
            region=region,
            starts_on=self.day(span[0]),
            ends_on=self.day(span[1]),
            **extra,
        )
        self.result.plans += 1
        return plan

    def _task(self, **kwargs: Any) -> Task:
        task = services.task_create(actor=self.actor, **kwargs)
        self.result.tasks += 1 + task.children.count()
        return task

    def _report(self, *, actor: User | None = None, **kwargs: Any) -> Any:
        report = services.report_submit(actor=actor or self.actor, **kwargs)
        self.result.reports += 1
        return report

    # --- 城南街道's campaign ---------------------------------------------------------------------

    def street_campaign(self) -> None:
        office = self.units["城南街道办事处"]
        plan = self._plan(
            title=STREET_PLAN,
            region=self.street,
            issuing_unit=office,
            span=STREET_SPAN,
            doc_number="城南办发〔2026〕3号",
            summary="动员广大居民参与美丽家园建设，推进市容环境“平面”“立面”一体化整治，"
            "通过政府主导、辖区实施、市民参与，共同缔造美好环境。",
        )
        if plan is None:
            return
        phases = [
            services.phase_add(
                actor=self.actor, plan=plan, name=name, starts_on=self.day(a), ends_on=self.day(b), order=i
            )
            for i, (name, a, b) in enumerate(STREET_PHASES)
        ]

        def office_units(names: tuple[str, ...]) -> list[Unit]:
            return [self.units[f"城南街道{n}"] for n in names]

        for row in STREET_TASKS:
            is_quota = row.number == "7"
            parent = self._task(
                plan=plan,
                number=row.number,
                title=row.title,
                content=row.content,
                phase=phases[row.phase],
                starts_on=self.day(row.start),
                deadline=self.day(row.deadline),
                units={"lead": office_units(row.lead), "responsible": office_units(row.responsible)},
                fan_out=True,
                targets=[VOLUNTEER_QUOTA] if is_quota else [],
                milestones=[(self.day(d), Decimal(p)) for d, p in row.milestones],
            )
            children = list(parent.children.order_by("region__code").select_related("region"))
            for index, child in enumerate(children):
                committee = child.task_units.get().unit
                if is_quota:
                    self._volunteer_activities(child, committee, VOLUNTEER_WEEKS[index])
                    continue
                percent = row.percents[index] if index < len(row.percents) else None
                if percent is None:
                    continue
                report = self._report(
                    task=child,
                    unit=committee,
                    kind=ReportKind.PERCENT,
                    percent=Decimal(percent),
                    description=f"{child.region.name}已完成{row.title}工作的{percent}%",
                )
                if (row.number, index) == RETURNED[:2]:
                    services.report_return(actor=self.actor, report=report, reason=RETURNED[2])

    def _volunteer_activities(self, task: Task, unit: Unit, weeks_ago: tuple[int, ...]) -> None:
        target = Target.objects.get(task=task, kind=TargetKind.QUOTA)
        for weeks in sorted(weeks_ago, reverse=True):
            day = self.today - timedelta(weeks=weeks)
            if day < task.starts_on:
                continue
            self._report(
                task=task,
                unit=unit,
                kind=ReportKind.ACTIVITY,
                target=target,
                activity_date=day,
                participants=12 + (weeks * 7) % 19,
                description=f"组织志愿者开展“全民动手、美化家园”主题活动（{task.region.name}）",
            )

    # --- The county plan -----------------------------------------------------------------------

    def county_plan(self) -> None:
        government = self.county_units["县政府"]
        plan = self._plan(
            title=COUNTY_PLAN,
            region=self.county,
            issuing_unit=government,
            span=COUNTY_SPAN,
            doc_number="红政办发〔2026〕12号",
            summary="在城乡人居环境建设和整治中深入开展美好环境与幸福生活共同缔造活动，"
            "发动群众“共谋、共建、共管、共评、共享”。",
        )
        if plan is None:
            return

        def named(names: tuple[str, ...]) -> list[Unit]:
            return [self.county_units.get(n) or self.units[n] for n in names]

        for number, row in enumerate(COUNTY_TASKS, start=1):
            targets = []
            if row.indicator:
                name, goal, _value = row.indicator
                targets = [
                    TargetSpec(
                        kind=TargetKind.INDICATOR,
                        name=name,
                        comparator=Comparator.GTE,
                        value=Decimal(goal),
                        unit_label="%",
                    )
                ]
            task = self._task(
                plan=plan,
                number=str(number),
                title=row.title,
                content=row.content,
                starts_on=self.day(row.start),
                deadline=self.day(row.deadline),
                units={"lead": named(row.lead), "guiding": named(row.guiding), "responsible": named(row.responsible)},
                people={"leader": [self.leader]} if self.leader else {},
                targets=targets,
            )
            lead = named(row.lead)[0]
            for percent in row.percents:
                self._report(
                    task=task,
                    unit=lead,
                    kind=ReportKind.PERCENT,
                    percent=Decimal(percent),
                    description=f"{lead.short_name or lead.name}牵头推进，已完成{percent}%",
                )
            if row.indicator:
                self._report(
                    task=task,
                    unit=lead,
                    kind=ReportKind.INDICATOR,
                    target=task.targets.get(),
                    value=Decimal(row.indicator[2]),
                    description="城区生活垃圾回收利用率（季度统计）",
                )

    # --- The pilot villages ------------------------------------------------------------------------

    def pilot_villages(self) -> None:
        plan = self._plan(
            title=PILOT_PLAN,
            region=self.county,
            issuing_unit=self.county_units["县政府"],
            span=PILOT_SPAN,
            doc_number="红政办发〔2026〕15号",
            summary="以行政村为单元，按照“规划引领、产业带动、生态宜居、生活富裕、全民参与、整村推进”的原则，"
            "确定10个美丽家园试点村。",
        )
        if plan is None:
            return
        specs = [
            TargetSpec(
                kind=TargetKind.INDICATOR, name=name, comparator=comparator, value=Decimal(value), unit_label=label
            )
            for name, comparator, value, label in PILOT_TARGETS
        ]
        for number, pilot in enumerate(PILOTS, start=1):
            village = Region.objects.select_related("parent").get(code=pilot.village_code)
            town = village.parent
            assert town is not None  # a village always sits in a town
            committee = Unit.objects.filter(region=village, kind__in=services.VILLAGE_COMMITTEE_KINDS).order_by("id")[0]
            people: dict[str, list[User]] = {"leader": [self.leader]} if self.leader else {}
            staff = self.village_staff
            if staff is not None and staff.memberships.filter(unit=committee, is_active=True).exists():
                people["responsible"] = [staff]
            task = self._task(
                plan=plan,
                number=str(number),
                title=f"{village.name}美丽家园试点村建设",
                content=pilot.content,
                starts_on=self.day(PILOT_SPAN[0]),
                deadline=self.day(PILOT_SPAN[1]),
                units={
                    "responsible": [committee],
                    "cooperating": [self.units[f"{town.name}{pilot.cooperating}"], self.county_units["县农业农村局"]],
                },
                people=people,
                targets=specs,
            )
            # The village's own staff report when the demo has an account for them.
            reporter = staff if "responsible" in people else None
            targets = list(task.targets.order_by("id"))
            for target, value in zip(targets, pilot.values, strict=True):
                if value is None:
                    continue
                self._report(
                    actor=reporter,
                    task=task,
                    unit=committee,
                    kind=ReportKind.INDICATOR,
                    target=target,
                    value=Decimal(value),
                    description=f"{village.name}{target.name}自查统计",
                )

    # --- The pilot villages' yearly assessment ---------------------------------------------------

    def pilot_assessment(self) -> None:
        """This year's assessment of the pilot plan, opened; a few villages assessed and reviewed.

        The ranking shows provisional scores, some villages still wait for their self-assessment,
        and the village staff account can assess its own village.
        """
        plan = Plan.objects.filter(title=PILOT_PLAN, region=self.county).first()
        if plan is None or Assessment.objects.filter(plan=plan, year=self.today.year).exists():
            return
        assessment = assessment_services.assessment_create(
            actor=self.actor, plan=plan, year=self.today.year, self_deadline=self.day(14)
        )
        assessment = assessment_services.assessment_open(actor=self.actor, assessment=assessment)
        self.result.assessments += 1
        review = assessment.items.get(kind=ItemKind.REVIEW)
        # 七里坪镇's staff assess the town's pilot villages (not 柳林村: its own account does that);
        # the county reviews every other one of them.
        town_staff = User.objects.filter(phone=ROLE_PHONES[Role.TOWN_STAFF]).first()
        entries = list(assessment.entries.select_related("unit", "region", "assessment").order_by("region__path"))
        reviewed = 0
        for n, entry in enumerate(entries):
            if town_staff is None or not assessment_services.can_self_assess(town_staff, entry):
                continue
            if self.village_staff is not None and entry.unit_id in self.village_staff.memberships.filter(
                is_active=True
            ).values_list("unit_id", flat=True):
                continue
            assessment_services.entry_self_assess(
                actor=town_staff,
                entry=entry,
                scores={review.pk: Decimal(16 + n % 4)},
                comment=f"{entry.unit.name}已按方案推进试点建设，群众参与度较高。",
            )
            if reviewed == 0:
                assessment_services.entry_review(
                    actor=self.actor, entry=entry, scores={review.pk: Decimal(15 + n % 5)}, comment="情况属实。"
                )
                reviewed += 1
