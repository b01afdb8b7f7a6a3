"""The filter of the analytics pages, their exports and the analytics API: one form, one set of rules.

Every choice is limited to the viewer's scope: regions of the areas where they read cases
(``rules.CASE_READERS``), units there or their own, active categories. The period defaults to
the last 30 days; buckets default to weeks for up to a quarter, months beyond.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cocreate.cases import rules
from cocreate.cases.analytics import MONTH, WEEK, AnalyticsFilters
from cocreate.cases.models import CaseCategory, CaseChannel
from cocreate.core import access
from cocreate.core.models import Region, RegionLevel, Unit

DEFAULT_DAYS = 30
# Longest period: two years (105 weeks or 25 months in a breakdown).
MAX_DAYS = 731
# Weekly buckets up to this many days, monthly beyond (when the viewer does not choose).
WEEKS_UP_TO_DAYS = 92
EARLIEST = date(2000, 1, 1)


def scope_regions(user: Any) -> QuerySet[Region]:
    """Regions (county down to village) in the areas where ``user`` reads cases."""
    regions = Region.objects.filter(is_active=True, level__gte=RegionLevel.COUNTY, level__lte=RegionLevel.VILLAGE)
    scope = access.scope_of(user)
    if scope.is_superuser:
        return regions.order_by("path")
    return regions.filter(access.in_paths(scope.paths_for(rules.CASE_READERS), "path")).order_by("path")


def scope_units(user: Any) -> QuerySet[Unit]:
    """Units that may lead the cases ``user`` reads: those in the user's areas, and the user's own."""
    units = Unit.objects.filter(is_active=True)
    scope = access.scope_of(user)
    if not scope.is_superuser:
        units = units.filter(
            access.in_paths(scope.paths_for(rules.CASE_READERS), "region__path") | Q(pk__in=scope.unit_ids)
        )
    return units.select_related("region").order_by("region__path", "name", "id")


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        # Indented by level so the tree reads in a plain <select>.
        return "\u3000" * max(int(obj.level) - RegionLevel.COUNTY, 0) + obj.name


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.region.name}）"


class AnalyticsFilterForm(forms.Form):
    """Validates the filter; ``filters`` is the result (defaults filled in) once ``is_valid()``."""

    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    granularity = forms.ChoiceField(
        label=_("时段"), required=False, choices=[("", _("自动")), (WEEK, _("按周")), (MONTH, _("按月"))]
    )
    region = RegionChoiceField(label=_("区域"), required=False, queryset=Region.objects.none(), empty_label=_("全部"))
    category = forms.ModelChoiceField(
        label=_("类别"),
        required=False,
        queryset=CaseCategory.objects.none(),
        to_field_name="code",
        empty_label=_("全部类别"),
    )
    channel = forms.ChoiceField(
        label=_("来源渠道"), required=False, choices=[("", _("全部渠道")), *CaseChannel.choices]
    )
    unit = UnitChoiceField(label=_("主办单位"), required=False, queryset=Unit.objects.none(), empty_label=_("全部单位"))

    def __init__(self, data: Any = None, *, user: Any, today: date | None = None, **kwargs: Any) -> None:
        self.today = today or timezone.localdate()
        # Unbound (first visit): the defaults, so the inputs show the period counted.
        super().__init__(data if data is not None else {}, **kwargs)
        cast(forms.ModelChoiceField, self.fields["region"]).queryset = scope_regions(user)
        self.fields["region"].widget.attrs["class"] = "form-select"
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = scope_units(user)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = CaseCategory.objects.order_by("order", "code")
        self.filters: AnalyticsFilters | None = None
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def default_start(self) -> date:
        return self.today - timedelta(days=DEFAULT_DAYS - 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        latest = self.today + timedelta(days=366)
        for name, value in (("start", start), ("end", end)):
            if value is not None and not EARLIEST <= value <= latest:
                self.add_error(
                    name,
                    ValidationError(
                        _("日期应在 %(a)s 至 %(b)s 之间"), code="out_of_range", params={"a": EARLIEST, "b": latest}
                    ),
                )
        if self.errors:
            return data
        if end is None:
            end = self.today if start is None else min(start + timedelta(days=DEFAULT_DAYS - 1), latest)
        if start is None:
            start = end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            self.add_error("end", ValidationError(_("结束日期不能早于开始日期"), code="end_before_start"))
            return data
        if (end - start).days + 1 > MAX_DAYS:
            self.add_error(
                "end", ValidationError(_("统计期最长 %(n)d 天，请缩短"), code="too_long", params={"n": MAX_DAYS})
            )
            return data
        granularity = data.get("granularity") or (WEEK if (end - start).days < WEEKS_UP_TO_DAYS else MONTH)
        data.update(start=start, end=end, granularity=granularity)
        # The inputs show the period counted (the defaults filled in), not the empty fields sent.
        self.data = {**dict(self.data.items()), "start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"}
        self.filters = AnalyticsFilters(
            start=start,
            end=end,
            granularity=granularity,
            region=data.get("region"),
            unit=data.get("unit"),
            category=data.get("category"),
            channel=data.get("channel") or "",
        )
        return data

    def query(self) -> dict[str, str]:
        """The filter as query parameters (defaults filled in), for links to the exports."""
        if self.filters is None:
            return {}
        f = self.filters
        values = {
            "start": f"{f.start:%Y-%m-%d}",
            "end": f"{f.end:%Y-%m-%d}",
            "granularity": f.granularity,
            "region": str(f.region.pk) if f.region else "",
            "category": f.category.code if f.category else "",
            "channel": f.channel,
            "unit": str(f.unit.pk) if f.unit else "",
        }
        return {k: v for k, v in values.items() if v}


class SupervisionFilterForm(forms.Form):
    region = RegionChoiceField(label=_("区域"), required=False, queryset=Region.objects.none(), empty_label=_("全部"))

    def __init__(self, data: Any = None, *, user: Any, **kwargs: Any) -> None:
        super().__init__(data if data is not None else {}, **kwargs)
        cast(forms.ModelChoiceField, self.fields["region"]).queryset = scope_regions(user)
        self.fields["region"].widget.attrs["class"] = "form-select"
