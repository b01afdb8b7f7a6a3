"""Template helpers for cocreate pages: Bootstrap form widgets and masking of personal data."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.utils.http import url_has_allowed_host_and_scheme

register = template.Library()


def mask_middle(value: Any, keep_start: int, keep_end: int) -> str:
    """Replaces the middle of a string with asterisks, keeping its length."""
    text = str(value or "")
    if not text:
        return ""
    if len(text) <= keep_start + keep_end:
        return "*" * len(text)
    hidden = len(text) - keep_start - keep_end
    return f"{text[:keep_start]}{'*' * hidden}{text[len(text) - keep_end :]}"


@register.filter
def mask_phone(value: Any) -> str:
    """13900000001 → 139****0001."""
    return mask_middle(value, 3, 4)


@register.filter
def mask_id_number(value: Any) -> str:
    """An ID number keeps its first 3 and last 4 characters; the birth date is hidden."""
    return mask_middle(value, 3, 4)


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
