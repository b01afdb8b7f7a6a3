"""Forms of the core app; validation messages are Chinese-first.

Forms only parse and check input shape; choice fields are narrowed to what the user may
manage (``access.manageable_regions``), and every write goes through ``services``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cocreate.core import access
from cocreate.core.concurrency import version_field
from cocreate.core.models import (
    Gender,
    Household,
    HouseholdRelation,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    UnitKind,
    User,
    phone_validator,
)


class PhoneLoginForm(AuthenticationForm):
    """Login by phone number and password."""

    username = forms.CharField(
        label=_("手机号"),
        max_length=11,
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "numeric", "autocomplete": "username"}),
    )
    error_messages = {
        "invalid_login": _("手机号或密码不正确。"),
        "inactive": _("该账号已停用。"),
    }


def apply_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Shows a service's ValidationError next to the matching fields, the rest on top."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            target = name if name in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        form.add_error(None, exc)


def _choices(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """The named model choice field of ``form``, typed so its queryset can be narrowed."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


class RegionChoiceField(forms.ModelChoiceField):
    """A region picker that shows each region's level and code, so same-named villages differ."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.get_level_display()} {obj.code}）"


class RegionCreateForm(forms.Form):
    """A new region under a parent the user administers."""

    parent = RegionChoiceField(label=_("上级区划"), queryset=Region.objects.none())
    code = forms.CharField(label=_("区划代码"), max_length=15, help_text=_("统计用区划代码，2至15位数字"))
    name = forms.CharField(label=_("名称"), max_length=100)
    level = forms.TypedChoiceField(label=_("层级"), choices=RegionLevel.choices, coerce=int)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "parent").queryset = access.manageable_regions(user, access.WRITE_ROLES[Region])


class RegionEditForm(forms.Form):
    """A region's name and whether it is in use; codes and the tree shape never change."""

    name = forms.CharField(label=_("名称"), max_length=100)
    is_active = forms.BooleanField(label=_("启用"), required=False)
    expected_version = version_field()


class UnitForm(forms.Form):
    """A unit's details; the region is limited to those the user administers."""

    name = forms.CharField(label=_("单位名称"), max_length=120)
    short_name = forms.CharField(label=_("简称"), max_length=40, required=False)
    kind = forms.ChoiceField(label=_("类型"), choices=UnitKind.choices)
    region = RegionChoiceField(label=_("所属区划"), queryset=Region.objects.none())
    parent = forms.ModelChoiceField(label=_("上级单位"), queryset=Unit.objects.none(), required=False)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=18, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = access.manageable_regions(user, access.WRITE_ROLES[Unit])
        _choices(self, "region").queryset = regions
        _choices(self, "parent").queryset = Unit.objects.visible_to(user).select_related("region")


class UnitEditForm(UnitForm):
    is_active = forms.BooleanField(label=_("启用"), required=False)
    expected_version = version_field()


class PersonForm(forms.Form):
    """A person's record; region and household limited to what the user manages."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=11, required=False, validators=[phone_validator])
    id_number = forms.CharField(label=_("身份证号"), max_length=18, required=False)
    gender = forms.ChoiceField(label=_("性别"), choices=[("", "---------"), *Gender.choices], required=False)
    birth_date = forms.DateField(
        label=_("出生日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    region = RegionChoiceField(label=_("居住区划"), queryset=Region.objects.none())
    household = forms.ModelChoiceField(label=_("所属户"), queryset=Household.objects.none(), required=False)
    relation = forms.ChoiceField(
        label=_("与户主关系"), choices=[("", "---------"), *HouseholdRelation.choices], required=False
    )
    is_party_member = forms.BooleanField(label=_("党员"), required=False)
    is_representative = forms.BooleanField(label=_("村(居)民代表"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = access.manageable_regions(user, access.PEOPLE_MANAGERS)
        _choices(self, "region").queryset = regions
        _choices(self, "household").queryset = (
            Household.objects.visible_to(user).filter(region__in=regions).select_related("region")
        )

    def clean_id_number(self) -> str:
        return str(self.cleaned_data.get("id_number") or "").strip().upper()


class PersonEditForm(PersonForm):
    """A person's record as edited: carries the edit version the page was rendered with."""

    expected_version = version_field()


class AccountCreateForm(forms.Form):
    """A login for a person: phone number, optional initial password, optional e-mail."""

    phone = forms.CharField(label=_("登录手机号"), max_length=11, validators=[phone_validator])
    password = forms.CharField(
        label=_("初始密码"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("留空则账号暂不能用密码登录"),
    )
    email = forms.EmailField(label=_("电子邮箱"), required=False)


class HouseholdForm(forms.Form):
    """A household's number, region and address."""

    number = forms.CharField(label=_("户号"), max_length=30)
    region = RegionChoiceField(label=_("所属区划"), queryset=Region.objects.none())
    address = forms.CharField(label=_("地址"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "region").queryset = access.manageable_regions(user, access.PEOPLE_MANAGERS)


class HouseholdEditForm(forms.Form):
    number = forms.CharField(label=_("户号"), max_length=30)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    expected_version = version_field()


class HouseholdMemberForm(forms.Form):
    """Adds a person of the household's region to it."""

    person = forms.ModelChoiceField(label=_("人员"), queryset=Person.objects.none())
    relation = forms.ChoiceField(label=_("与户主关系"), choices=HouseholdRelation.choices)

    def __init__(self, *args: Any, user: Any, household: Household, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "person").queryset = (
            Person.objects.visible_to(user).filter(region_id=household.region_id).exclude(household=household)
        )
        self.fields["relation"].initial = HouseholdRelation.OTHER


class MembershipForm(forms.Form):
    """Grants a role: the account is found by phone among people the user can see."""

    phone = forms.CharField(label=_("账号手机号"), max_length=11, validators=[phone_validator])
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    region = RegionChoiceField(label=_("区划"), queryset=Region.objects.none())
    unit = forms.ModelChoiceField(label=_("单位"), queryset=Unit.objects.none(), required=False)
    title = forms.CharField(label=_("职务"), max_length=50, required=False)
    starts_on = forms.DateField(
        label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        regions = access.manageable_regions(user, access.WRITE_ROLES[Region])
        _choices(self, "region").queryset = regions
        _choices(self, "unit").queryset = Unit.objects.visible_to(user).select_related("region")

    def clean_phone(self) -> User:
        phone = self.cleaned_data["phone"]
        # Only accounts of people this user can see: a phone number outside the scope
        # answers exactly like an unknown one.
        account = (
            User.objects.filter(phone=phone, person__in=Person.objects.visible_to(self.user))
            .select_related("person")
            .first()
        )
        if account is None:
            raise ValidationError(_("未找到该手机号对应的账号（或不在您的管辖范围内）"))
        return account


class AttachmentUploadForm(forms.Form):
    """One evidence file for a record, with an optional description."""

    file = forms.FileField(label=_("文件"))
    description = forms.CharField(label=_("说明"), max_length=200, required=False)
