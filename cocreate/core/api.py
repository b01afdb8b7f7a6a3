"""REST endpoints of the core app: translate input and output, call services and selectors."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["core"])
