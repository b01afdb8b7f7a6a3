"""REST endpoints of co-decision: decisions (being built; see docs/api.md)."""

from ninja import Router

router = Router(tags=["decisions"])
