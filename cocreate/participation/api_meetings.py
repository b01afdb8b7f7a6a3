"""REST endpoints of co-decision: meetings and the task list (being built; see docs/api.md)."""

from ninja import Router

router = Router(tags=["meetings"])
