"""REST endpoints of co-decision: needs (being built; see docs/api.md)."""

from ninja import Router

router = Router(tags=["needs"])
