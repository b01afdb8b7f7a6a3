"""REST endpoints of co-decision: notices (being built; see docs/api.md)."""

from ninja import Router

router = Router(tags=["notices"])
