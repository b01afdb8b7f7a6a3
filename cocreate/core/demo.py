"""Deterministic demo data: one real county with towns, villages, grids, units, households and accounts.

``demo_load()`` is idempotent: every record is looked up by its natural key (region code, unit
name in its region, phone, household number in its grid) before it is created, and everything
random comes from ``random.Random`` seeded per record, so a second run writes nothing and a run
on another machine produces the same names.

Writes go through the services with the demo superuser as actor. The ~600 household members
are written with ``bulk_create_with_history`` (one statement instead of 600 service calls, with
their history rows); accounts get a password hash computed once, because hashing the demo
password for every account would take most of the time budget.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from cocreate.core import services
from cocreate.core.models import (
    Gender,
    Household,
    HouseholdRelation,
    Membership,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    UnitKind,
    User,
)
from cocreate.core.regions import Row, areas_load, regions_upsert

# Public on purpose: documented in docs and printed with the accounts table; demo data only.
DEMO_PASSWORD = "cocreate2026"  # noqa: S105
SEED = 2026
PROVINCE_CODE = "42"  # 湖北省
COUNTY_CODE = "421122"  # 湖北省黄冈市红安县
SUPERUSER_PHONE = "19900000000"
# Ages are computed from a fixed day so the data is the same whenever it is loaded.
REFERENCE_DAY = date(2026, 1, 1)
VERIFIED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

# (code, name, kind, [(village code suffix, village name)]); 街道 have 社区, 镇 have 村.
TOWNS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "421122001",
        "城南街道",
        "street",
        [("001", "城南社区"), ("002", "春晖社区"), ("003", "新华社区"), ("004", "杏花社区")],
    ),
    ("421122100", "七里坪镇", "town", [("201", "柳林村"), ("202", "长岗村"), ("203", "马鞍山村"), ("204", "张家湾村")]),
    (
        "421122101",
        "华家河镇",
        "town",
        [("201", "祝家楼村"), ("202", "檀树岗村"), ("203", "滕家堰村"), ("204", "红石村")],
    ),
]
GRID_NAMES = ["第一网格", "第二网格", "第三网格"]
TOWN_OFFICES = ["党政办", "党群办", "经发办", "规建环办", "社会事务办", "社区事务服务中心", "城市管理服务中心"]
# (short name, full name suffix, kind)
COUNTY_UNITS = [
    ("县政府", "人民政府", UnitKind.GOVERNMENT),
    ("县督查室", "督查室", UnitKind.GOVERNMENT),
    ("县住建局", "住建局", UnitKind.DEPARTMENT),
    ("县民政局", "民政局", UnitKind.DEPARTMENT),
    ("县教育局", "教育局", UnitKind.DEPARTMENT),
    ("县农业农村局", "农业农村局", UnitKind.DEPARTMENT),
    ("县财政局", "财政局", UnitKind.DEPARTMENT),
    ("县城管局", "城市管理执法局", UnitKind.DEPARTMENT),
]
HOUSEHOLDS_TOTAL = 200
# The village where the resident, grid worker and village staff accounts live (七里坪镇柳林村).
RESIDENT_VILLAGE = "421122100201"
# One account per role: 19900000001 居民 … 19900000009 管理员, 19900000010 审计员, in Role order.
ROLE_PHONES: dict[str, str] = {role: f"1990000{i:04d}" for i, role in enumerate(Role, start=1)}

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁任沈")
MALE_CHARS = list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆文建国志红兵林峰德春")
FEMALE_CHARS = list("芳娜敏静丽艳娟霞秀英华慧巧美玲桂兰燕萍红梅琳雪莉云凤洁琴翠")


@dataclass
class DemoAccount:
    """One line of the accounts table: which role logs in with which phone, where."""

    role: str
    phone: str
    region: str
    unit: str = ""


@dataclass
class DemoResult:
    """What ``demo_load`` did; all zeros on a second run."""

    skipped: bool = False
    regions: int = 0
    units: int = 0
    households: int = 0
    people: int = 0
    accounts: int = 0
    memberships: int = 0
    account_rows: list[DemoAccount] = field(default_factory=list)
    # What cocreate.plans.demo created: {"plans": …, "tasks": …, "reports": …}.
    plans: dict[str, int] = field(default_factory=dict)
    # What cocreate.participation.demo created: {"needs": …, "votes": …, …}.
    participation: dict[str, int] = field(default_factory=dict)
    # What cocreate.cases.demo created: {"cases": …, "by_status": {status: n}, "ratings": …, …}.
    cases: dict[str, Any] = field(default_factory=dict)


def has_data() -> bool:
    """True when accounts or sub-county regions exist, i.e. the database is not fresh."""
    return User.objects.exists() or Region.objects.filter(level__gte=RegionLevel.TOWN).exists()


def demo_load(*, if_empty: bool = False) -> DemoResult:
    """Loads the demo county, its people and one account per role; safe to run again."""
    if if_empty and has_data():
        return DemoResult(skipped=True)
    with transaction.atomic():
        loader = _Loader()
        loader.run()
        # Imported here: core is the foundation and must not import an app at module level.
        from cocreate.plans.demo import load as plans_load

        loader.result.plans = asdict(plans_load(actor=loader.admin))
        from cocreate.participation.demo import load as participation_load

        loader.result.participation = asdict(participation_load(actor=loader.admin))
        from cocreate.cases.demo import load as cases_load

        loader.result.cases = asdict(cases_load(actor=loader.admin))
    return loader.result


def _full_name(region: Region) -> str:
    return "".join([*region.ancestors().values_list("name", flat=True), region.name])


class _Loader:
    """Holds the state of one demo load; each step looks before it creates."""

    def __init__(self) -> None:
        self.result = DemoResult()
        self.password_hash = make_password(DEMO_PASSWORD)
        self.regions: dict[str, Region] = {}
        self.units: dict[tuple[str, str], Unit] = {}

    def run(self) -> None:
        self.admin = self._superuser()
        self._regions()
        self._units()
        staff = self._staff_accounts()
        self._households(verifier=staff[Role.VILLAGE_STAFF])
        self._resident_account()
        self.result.account_rows = self._account_rows()

    # --- accounts ---------------------------------------------------------------------------

    def _superuser(self) -> User:
        user = User.objects.filter(phone=SUPERUSER_PHONE).first()
        if user is None:
            user = User.objects.create_superuser(SUPERUSER_PHONE, None, display_name="系统管理员")
            self._set_password(user)
            self.result.accounts += 1
        return user

    def _set_password(self, user: User) -> None:
        # One hash for every demo account: hashing per account costs ~0.5 s each.
        user.password = self.password_hash
        user.save(update_fields=["password"])

    def _account(self, *, phone: str, name: str, region: Region, gender: str = "") -> User:
        user = User.objects.filter(phone=phone).first()
        if user is not None:
            return user
        person = Person.objects.filter(phone=phone, region=region).first()
        if person is None:
            data: dict[str, Any] = {"name": name, "phone": phone, "region": region, "gender": gender}
            person = services.person_create(actor=self.admin, data=data)
            self.result.people += 1
        user = services.account_create(actor=self.admin, person=person, phone=phone, password=None)
        self._set_password(user)
        self.result.accounts += 1
        return user

    def _grant(self, user: User, role: str, region: Region, unit: Unit | None, title: str = "") -> None:
        if Membership.objects.filter(user=user, role=role, region=region, unit=unit, is_active=True).exists():
            return
        services.membership_grant(actor=self.admin, user=user, role=role, region=region, unit=unit, title=title)
        self.result.memberships += 1

    def _staff_accounts(self) -> dict[str, User]:
        county = self.regions[COUNTY_CODE]
        town = self.regions["421122100"]
        village = self.regions[RESIDENT_VILLAGE]
        grid = self.regions[RESIDENT_VILLAGE + "001"]
        school = self.units[(town.code, "七里坪镇中心小学")]
        places: list[tuple[str, Region, Unit | None, str]] = [
            (Role.GRID_WORKER, grid, None, "网格员"),
            (Role.VILLAGE_STAFF, village, self.units[(village.code, "柳林村村民委员会")], "村委会主任"),
            (Role.TOWN_STAFF, town, self.units[(town.code, "七里坪镇党政办")], "党政办主任"),
            (Role.DEPT_STAFF, county, self.units[(county.code, "红安县住建局")], "村镇建设股股长"),
            (Role.INSPECTOR, county, self.units[(county.code, "红安县督查室")], "督查员"),
            (Role.LEADER, county, self.units[(county.code, "红安县人民政府")], "副县长"),
            (Role.SCHOOL_STAFF, town, school, "教导主任"),
            (Role.ADMIN, county, None, "系统管理员"),
            # Reads the county's audit trail only (docs/operations.md, Audit trail).
            (Role.AUDITOR, county, None, "安全审计员"),
        ]
        users: dict[str, User] = {}
        for role, region, unit, title in places:
            rng = random.Random(f"{SEED}:staff:{role}")  # noqa: S311 - reproducible names, not secrets
            gender = Gender.MALE if rng.random() < 0.6 else Gender.FEMALE
            user = self._account(phone=ROLE_PHONES[role], name=_name(rng, gender), region=region, gender=gender)
            self._grant(user, role, region if unit is None else unit.region, unit, title)
            users[role] = user
        return users

    def _resident_account(self) -> None:
        village = self.regions[RESIDENT_VILLAGE]
        head = Person.objects.get(phone=ROLE_PHONES[Role.RESIDENT])
        user = self._account(phone=ROLE_PHONES[Role.RESIDENT], name=head.name, region=head.region)
        self._grant(user, Role.RESIDENT, village, None)

    def _account_rows(self) -> list[DemoAccount]:
        rows = [DemoAccount(role="超级管理员", phone=SUPERUSER_PHONE, region="全部")]
        for role in Role:
            membership = (
                Membership.objects.filter(user__phone=ROLE_PHONES[role], role=role, is_active=True)
                .select_related("region", "unit")
                .first()
            )
            if membership is None:
                continue
            unit = membership.unit.name if membership.unit else ""
            rows.append(DemoAccount(str(role.label), ROLE_PHONES[role], _full_name(membership.region), unit))
        return rows

    # --- regions and units ---------------------------------------------------------------------------

    def _regions(self) -> None:
        loaded = areas_load(actor=None, province=PROVINCE_CODE)
        rows: list[Row] = []
        for town_code, town_name, _kind, villages in TOWNS:
            rows.append(Row(len(rows) + 1, town_code, town_name))
            for index, (suffix, village_name) in enumerate(villages):
                rows.append(Row(len(rows) + 1, town_code + suffix, village_name))
                for g in range(2 + index % 2):
                    rows.append(Row(len(rows) + 1, f"{town_code}{suffix}{g + 1:03d}", GRID_NAMES[g]))
        upserted = regions_upsert(actor=self.admin, rows=rows)
        if upserted.errors:
            raise RuntimeError("demo regions invalid: " + "; ".join(map(str, upserted.errors)))
        self.result.regions = loaded.created + upserted.created
        codes = [COUNTY_CODE] + [r.code for r in rows]
        self.regions = {r.code: r for r in Region.objects.filter(code__in=codes)}

    def _unit(self, region: Region, name: str, kind: str, short_name: str = "", parent: Unit | None = None) -> Unit:
        unit = Unit.objects.filter(region=region, name=name).first()
        if unit is None:
            unit = services.unit_create(
                actor=self.admin, name=name, kind=kind, region=region, short_name=short_name, parent=parent
            )
            self.result.units += 1
        self.units[(region.code, name)] = unit
        return unit

    def _units(self) -> None:
        county = self.regions[COUNTY_CODE]
        county_name = county.name
        government = None
        for short, suffix, unit_kind in COUNTY_UNITS:
            unit = self._unit(county, f"{county_name}{suffix}", unit_kind, short, parent=government)
            government = government or unit
        for town_code, town_name, kind, villages in TOWNS:
            town = self.regions[town_code]
            office = "办事处" if kind == "street" else "人民政府"
            town_gov = self._unit(town, f"{town_name}{office}", UnitKind.GOVERNMENT, town_name)
            for name in TOWN_OFFICES:
                self._unit(town, f"{town_name}{name}", UnitKind.DEPARTMENT, name, parent=town_gov)
            for suffix, village_name in villages:
                village = self.regions[town_code + suffix]
                if kind == "street":
                    self._unit(village, f"{village_name}居民委员会", UnitKind.RESIDENTS_COMMITTEE, "居委会")
                else:
                    self._unit(village, f"{village_name}村民委员会", UnitKind.VILLAGE_COMMITTEE, "村委会")
        self._unit(self.regions["421122001001"], "红安县城南实验小学", UnitKind.SCHOOL, "城南实验小学")
        self._unit(self.regions["421122100"], "七里坪镇中心小学", UnitKind.SCHOOL, "七里坪中心小学")

    # --- households and people -----------------------------------------------------------------------

    def _households(self, *, verifier: User) -> None:
        villages = [(t[0] + suffix) for t in TOWNS for suffix, _name in t[3]]
        per_village = [HOUSEHOLDS_TOTAL // len(villages)] * len(villages)
        for i in range(HOUSEHOLDS_TOTAL - sum(per_village)):
            per_village[i] += 1
        existing = set(
            Household.objects.filter(region__path__startswith=self.regions[COUNTY_CODE].path).values_list(
                "region__code", "number"
            )
        )
        new_people: list[Person] = []
        new_households: list[tuple[Household, list[Person]]] = []
        serial = 0
        for village_code, count in zip(villages, per_village, strict=True):
            village = self.regions[village_code]
            grids = sorted((r for r in self.regions.values() if r.parent_id == village.pk), key=lambda r: r.code)
            for k in range(count):
                serial += 1
                grid = grids[k % len(grids)]
                number = f"{village_code[-3:]}{k + 1:03d}"
                if (grid.code, number) in existing:
                    continue
                household = services.household_create(
                    actor=self.admin, number=number, region=grid, address=f"{village.name}{grid.name}{k + 1}号"
                )
                rng = random.Random(f"{SEED}:household:{grid.code}:{number}")  # noqa: S311 - reproducible
                # The first household of the resident account's village is that account's own.
                is_resident_account = village_code == RESIDENT_VILLAGE and k == 0
                phone = ROLE_PHONES[Role.RESIDENT] if is_resident_account else f"1990000{1000 + serial:04d}"
                members = _members(rng, household, grid, head_phone=phone)
                for person in members:
                    if rng.random() < 0.9:
                        person.verified_at = VERIFIED_AT
                        person.verified_by = verifier
                new_people.extend(members)
                new_households.append((household, members))
        if not new_households:
            return
        bulk_create_with_history(new_people, Person, batch_size=500, default_user=self.admin)
        for household, members in new_households:
            household.head = members[0]
        bulk_update_with_history(
            [h for h, _m in new_households], Household, ["head"], batch_size=500, default_user=self.admin
        )
        self.result.households += len(new_households)
        self.result.people += len(new_people)


def _name(rng: random.Random, gender: str, surname: str | None = None) -> str:
    chars = MALE_CHARS if gender == Gender.MALE else FEMALE_CHARS
    given = "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2))))
    return (surname or rng.choice(SURNAMES)) + given


def _birth(rng: random.Random, age: int) -> date:
    return date(REFERENCE_DAY.year - age, rng.randint(1, 12), rng.randint(1, 28))


def _members(rng: random.Random, household: Household, region: Region, *, head_phone: str) -> list[Person]:
    """A household of 1–5: head, often a spouse, children and sometimes a parent."""
    size = rng.choices([1, 2, 3, 4, 5], weights=[8, 25, 32, 25, 10])[0]
    surname = rng.choice(SURNAMES)
    head_gender = Gender.MALE if rng.random() < 0.75 else Gender.FEMALE
    head_age = rng.randint(32, 75)

    def person(name: str, gender: str, age: int, relation: str, **extra: Any) -> Person:
        return Person(
            name=name,
            gender=gender,
            birth_date=_birth(rng, max(age, 0)),
            region=region,
            household=household,
            relation=relation,
            **extra,
        )

    people = [
        person(
            _name(rng, head_gender, surname),
            head_gender,
            head_age,
            HouseholdRelation.HEAD,
            phone=head_phone,
            is_party_member=rng.random() < 0.15,
            is_representative=rng.random() < 0.1,
        )
    ]
    if size >= 2:
        other = Gender.FEMALE if head_gender == Gender.MALE else Gender.MALE
        people.append(person(_name(rng, other), other, head_age + rng.randint(-4, 4), HouseholdRelation.SPOUSE))
    for _ in range(max(0, size - 2 - (1 if size == 5 else 0))):
        gender = rng.choice([Gender.MALE, Gender.FEMALE])
        people.append(
            person(_name(rng, gender, surname), gender, head_age - rng.randint(22, 32), HouseholdRelation.CHILD)
        )
    if size == 5:
        gender = rng.choice([Gender.MALE, Gender.FEMALE])
        age = min(head_age + rng.randint(22, 30), 96)
        people.append(person(_name(rng, gender, surname), gender, age, HouseholdRelation.PARENT))
    return people


def format_accounts(rows: list[DemoAccount]) -> str:
    """The accounts table as plain text (tab-separated, one account per line)."""
    lines = ["角色\t手机号\t密码\t区划\t单位"]
    lines += [f"{r.role}\t{r.phone}\t{DEMO_PASSWORD}\t{r.region}\t{r.unit}" for r in rows]
    return "\n".join(lines) + "\n"


def write_accounts(rows: list[DemoAccount], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_accounts(rows), encoding="utf-8")
