"""Template helpers for cocreate pages: Bootstrap form widgets and masking of personal data."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.utils.http import url_has_allowed_host_and_scheme

from cocreate.core import privacy

register = template.Library()


# Masking lives in cocreate.core.privacy; these filters only expose it to templates.
register.filter("mask_phone", privacy.mask_phone)
register.filter("mask_id_number", privacy.mask_id_number)
register.filter("mask_name", privacy.mask_name)


@register.simple_tag
def cc_widget(field: forms.BoundField, **attrs: Any) -> str:
    """Renders a form field's widget with Bootstrap classes and is-invalid when it has errors."""
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    described = f"{field.auto_id}_help" if field.help_text else ""
    if field.errors:
        described = f"{described} {field.auto_id}_error".strip()
    merged: dict[str, Any] = {"class": css, **attrs}
    if described:
        merged["aria-describedby"] = described
    if field.errors:
        merged["aria-invalid"] = "true"
    return field.as_widget(attrs=merged)


@register.filter
def is_checkbox(field: forms.BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxInput)


@register.filter
def local_url(value: Any) -> str:
    """The URL if it points into this site (a path), else "" so it is not rendered as a link."""
    url = str(value or "")
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=set()):
        return url
    return ""


@register.filter
def startswith(value: Any, prefix: str) -> bool:
    return str(value or "").startswith(prefix)
