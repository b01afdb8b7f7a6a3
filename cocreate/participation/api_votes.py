"""REST endpoints of co-decision: votes (being built; see docs/api.md)."""

from ninja import Router

router = Router(tags=["votes"])
