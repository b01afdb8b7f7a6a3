"""Every write to the core records: typed, keyword-only, explicit actor, one transaction each.

Pages, the API, commands and the demo loader all call these; none of them writes a model itself.
A denied call raises ``PermissionDenied`` and changes nothing; invalid data raises
``ValidationError`` with per-field messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.concurrency import EditVersion
from cocreate.core.models import (
    Household,
    HouseholdRelation,
    Membership,
    Notification,
    Person,
    Region,
    RegionLevel,
    Unit,
    User,
)


def require(actor: Any, action: str, obj: Any) -> None:
    """Raises PermissionDenied unless the access authority allows ``action`` on ``obj``."""
    if not access.can(actor, action, obj):
        raise PermissionDenied(_("无权执行此操作"))


def save_or_conflict(obj: Model) -> None:
    """Saves ``obj``; losing a unique-constraint race to a parallel request is a ValidationError.

    ``full_clean`` already reports duplicates, but two requests can both pass it before either
    commits; the database constraint then decides, and the loser gets a clear message, not a 500.
    """
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError(_("与已有记录重复（可能刚被他人提交），请刷新后再试")) from exc


def _assign(obj: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: _("不能修改此字段") for name in sorted(unknown)})
    for name, value in data.items():
        setattr(obj, name, value)


# --- Edit versions (see core/concurrency.py): what an edit form may overwrite -------------------

REGION_VERSION = EditVersion(fields=("name", "is_active"))
UNIT_FIELDS = ("name", "short_name", "kind", "region", "parent", "credit_code", "is_active")
UNIT_VERSION = EditVersion(fields=UNIT_FIELDS)
HOUSEHOLD_VERSION = EditVersion(fields=("number", "address"))


# --- Regions ------------------------------------------------------------------------------------


def _check_region_level(region: Region) -> None:
    if region.parent is not None and region.level <= region.parent.level:
        raise ValidationError({"level": _("下级区划的层级必须低于上级区划")})
    if region.parent is None and region.level != RegionLevel.PROVINCE:
        raise ValidationError({"parent": _("除省级外，区划必须有上级")})


@transaction.atomic
def region_create(*, actor: Any, code: str, name: str, level: int, parent: Region | None) -> Region:
    """Adds a region under ``parent``; the actor must administer the parent's subtree."""
    region = Region(code=code.strip(), name=name.strip(), level=level, parent=parent)
    require(actor, access.CREATE, region)
    _check_region_level(region)
    region.full_clean(exclude=["path"])
    save_or_conflict(region)
    return region


@transaction.atomic
def region_update(
    *, actor: Any, region: Region, data: Mapping[str, Any], expected_version: str | None = None
) -> Region:
    """Renames or deactivates a region; codes and the tree shape are fixed once created.

    With ``expected_version`` (``REGION_VERSION.of`` the region as the caller saw it) a region
    changed meanwhile is refused with ``StaleEdit`` instead of silently overwritten.
    """
    require(actor, access.CHANGE, region)
    REGION_VERSION.lock(region, expected_version)
    _assign(region, data, {"name", "is_active"})
    region.full_clean(exclude=["path"])
    save_or_conflict(region)
    return region


# --- Units --------------------------------------------------------------------------------------


@transaction.atomic
def unit_create(
    *,
    actor: Any,
    name: str,
    kind: str,
    region: Region,
    short_name: str = "",
    parent: Unit | None = None,
    credit_code: str = "",
) -> Unit:
    """Registers a unit in a region the actor administers."""
    unit = Unit(
        name=name.strip(),
        kind=kind,
        region=region,
        short_name=short_name.strip(),
        parent=parent,
        credit_code=credit_code.strip(),
    )
    require(actor, access.CREATE, unit)
    unit.full_clean()
    save_or_conflict(unit)
    return unit


def _check_unit_parent(unit: Unit) -> None:
    """A unit's parent chain must not lead back to the unit itself."""
    seen = {unit.pk}
    parent_id = unit.parent_id
    while parent_id is not None:
        if parent_id in seen:
            raise ValidationError({"parent": _("上级单位不能是本单位或其下级单位")})
        seen.add(parent_id)
        parent_id = Unit.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()


@transaction.atomic
def unit_update(*, actor: Any, unit: Unit, data: Mapping[str, Any], expected_version: str | None = None) -> Unit:
    """Changes a unit; moving it to another region needs rights over both (``expected_version``
    as in ``region_update``)."""
    require(actor, access.CHANGE, unit)
    UNIT_VERSION.lock(unit, expected_version)
    _assign(unit, data, UNIT_FIELDS)
    require(actor, access.CHANGE, unit)
    _check_unit_parent(unit)
    unit.full_clean()
    save_or_conflict(unit)
    return unit


# --- People and accounts ----------------------------------------------------------------------------


PERSON_FIELDS = {
    "name",
    "phone",
    "id_number",
    "gender",
    "birth_date",
    "region",
    "household",
    "relation",
    "is_party_member",
    "is_representative",
}
PERSON_VERSION = EditVersion(fields=tuple(sorted(PERSON_FIELDS)))


def _check_person(person: Person) -> None:
    if person.household is not None and person.household.region_id != person.region_id:
        raise ValidationError({"household": _("人员所在区划必须与所属户一致")})
    if person.id_number:
        person.id_number = person.id_number.strip().upper()
        if not _valid_id_number(person.id_number):
            raise ValidationError({"id_number": _("身份证号格式或校验位不正确")})


def _valid_id_number(value: str) -> bool:
    """Checks an 18-digit resident ID number's format and its ISO 7064 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17]


@transaction.atomic
def person_create(*, actor: Any, data: Mapping[str, Any]) -> Person:
    """Records a person in a region the actor manages."""
    person = Person()
    _assign(person, data, PERSON_FIELDS)
    require(actor, access.CREATE, person)
    _check_person(person)
    person.full_clean()
    person.save()
    return person


@transaction.atomic
def person_update(
    *, actor: Any, person: Person, data: Mapping[str, Any], expected_version: str | None = None
) -> Person:
    """Changes a person's record; moving them needs rights over the new region too
    (``expected_version`` as in ``region_update``)."""
    require(actor, access.CHANGE, person)
    PERSON_VERSION.lock(person, expected_version)
    _assign(person, data, PERSON_FIELDS)
    require(actor, access.CHANGE, person)
    _check_person(person)
    person.full_clean()
    person.save()
    return person


@transaction.atomic
def person_verify(*, actor: Any, person: Person) -> Person:
    """Village staff confirm a person lives where they say; records who and when."""
    require(actor, access.VERIFY, person)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.verified_at is None:
        locked.verified_at = timezone.now()
        locked.verified_by = actor
        locked.save(update_fields=["verified_at", "verified_by"])
    return locked


@transaction.atomic
def person_unverify(*, actor: Any, person: Person) -> Person:
    """Withdraws a verification (moved away, entered by mistake)."""
    require(actor, access.VERIFY, person)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    locked.verified_at = None
    locked.verified_by = None
    locked.save(update_fields=["verified_at", "verified_by"])
    return locked


@transaction.atomic
def account_create(*, actor: Any, person: Person, phone: str, password: str | None, email: str = "") -> User:
    """Gives a person a login; the password must pass the configured rules."""
    require(actor, access.CHANGE, person)
    if User.objects.filter(phone=phone).exists():
        raise ValidationError({"phone": _("该手机号已注册账号")})
    if User.objects.filter(person=person).exists():
        raise ValidationError({"person": _("此人已有账号")})
    user = User(phone=phone, person=person, email=email, display_name=person.name)
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_set_large_text(*, user: User, large: bool) -> None:
    """Remembers the text size on the account so it follows the user to other devices."""
    User.objects.filter(pk=user.pk).update(large_text=large)
    user.large_text = large


# --- Memberships --------------------------------------------------------------------------------


@transaction.atomic
def membership_grant(
    *,
    actor: Any,
    user: User,
    role: str,
    region: Region,
    unit: Unit | None = None,
    title: str = "",
    starts_on: date | None = None,
) -> Membership:
    """Gives an account a role in a region the actor administers."""
    membership = Membership(user=user, role=role, region=region, unit=unit, title=title, starts_on=starts_on)
    require(actor, access.CREATE, membership)
    if (
        unit is not None
        and not unit.region.path.startswith(region.path)
        and not region.path.startswith(unit.region.path)
    ):
        raise ValidationError({"unit": _("单位必须位于该区划或其上下级")})
    membership.full_clean()
    save_or_conflict(membership)
    access.forget_scope(user)
    return membership


@transaction.atomic
def membership_end(*, actor: Any, membership: Membership, ends_on: date | None = None) -> Membership:
    """Ends a role; the record stays for the history."""
    require(actor, access.CHANGE, membership)
    membership.is_active = False
    membership.ends_on = ends_on or timezone.localdate()
    membership.save(update_fields=["is_active", "ends_on"])
    access.forget_scope(membership.user)
    return membership


# --- Households -----------------------------------------------------------------------------------


@transaction.atomic
def household_create(
    *, actor: Any, number: str, region: Region, address: str = "", head: Person | None = None
) -> Household:
    """Registers a household (户) in a village or grid the actor manages."""
    household = Household(number=number.strip(), region=region, address=address.strip())
    require(actor, access.CREATE, household)
    household.full_clean()
    save_or_conflict(household)
    if head is not None:
        household_set_head(actor=actor, household=household, head=head)
    return household


@transaction.atomic
def household_update(
    *, actor: Any, household: Household, data: Mapping[str, Any], expected_version: str | None = None
) -> Household:
    """Changes a household's number or address (``expected_version`` as in ``region_update``)."""
    require(actor, access.CHANGE, household)
    HOUSEHOLD_VERSION.lock(household, expected_version)
    _assign(household, data, {"number", "address"})
    household.full_clean()
    save_or_conflict(household)
    return household


@transaction.atomic
def household_add_member(
    *, actor: Any, household: Household, person: Person, relation: str = HouseholdRelation.OTHER
) -> Person:
    """Puts a person into a household; the person must live in the household's region."""
    require(actor, access.CHANGE, household)
    require(actor, access.CHANGE, person)
    if person.region_id != household.region_id:
        raise ValidationError({"person": _("人员所在区划必须与该户一致")})
    person.household = household
    person.relation = relation
    person.save(update_fields=["household", "relation"])
    return person


@transaction.atomic
def household_remove_member(*, actor: Any, household: Household, person: Person) -> None:
    """Takes a person out of a household; a head who leaves stops being head."""
    require(actor, access.CHANGE, household)
    if person.household_id != household.pk:
        raise ValidationError({"person": _("此人不是该户成员")})
    person.household = None
    person.relation = ""
    person.save(update_fields=["household", "relation"])
    if household.head_id == person.pk:
        household.head = None
        household.save(update_fields=["head"])


@transaction.atomic
def household_set_head(*, actor: Any, household: Household, head: Person) -> Household:
    """Makes a member the head (户主); adds them to the household first if needed."""
    require(actor, access.CHANGE, household)
    if head.household_id != household.pk:
        household_add_member(actor=actor, household=household, person=head, relation=HouseholdRelation.HEAD)
    elif head.relation != HouseholdRelation.HEAD:
        head.relation = HouseholdRelation.HEAD
        head.save(update_fields=["relation"])
    previous = household.head
    if previous is not None and previous.pk != head.pk and previous.relation == HouseholdRelation.HEAD:
        previous.relation = HouseholdRelation.OTHER
        previous.save(update_fields=["relation"])
    household.head = head
    household.save(update_fields=["head"])
    return household


# --- Notifications --------------------------------------------------------------------------------


@transaction.atomic
def notification_mark_read(*, actor: Any, notification: Notification) -> Notification:
    """Marks one of the actor's own notifications as read; reading twice keeps the first time."""
    require(actor, access.CHANGE, notification)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
