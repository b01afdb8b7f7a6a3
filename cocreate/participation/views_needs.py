"""Pages of co-decision: needs (being built; see docs/participation.md)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
