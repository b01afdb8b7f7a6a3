"""Pages of co-decision: meetings and the task list (being built; see docs/participation.md)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
