"""The default dispute categories and time limits, installed by a data migration.

Kept here (not in the migration) so tests that flush the database can install them again.
"""

from __future__ import annotations

from typing import Any

# (code, name) in display order.
CATEGORIES: list[tuple[str, str]] = [
    ("neighbour", "邻里纠纷"),
    ("family", "婚姻家庭"),
    ("land_forest", "土地山林"),
    ("labour", "劳资纠纷"),
    ("property_mgmt", "物业纠纷"),
    ("consumer", "消费纠纷"),
    ("expropriation", "征地拆迁"),
    ("environment", "环境污染"),
    ("medical", "医疗纠纷"),
    ("traffic", "交通事故"),
    ("other", "其他"),
]

# (urgency, step, amount, unit) — the defaults for every category (category = NULL).
LIMITS: list[tuple[str, str, int, str]] = [
    ("normal", "whole", 15, "workdays"),
    ("normal", "first_contact", 1, "workdays"),
    ("normal", "handling", 13, "workdays"),
    ("normal", "rework", 5, "workdays"),
    ("normal", "followup", 3, "workdays"),
    ("urgent", "whole", 5, "workdays"),
    ("urgent", "first_contact", 4, "hours"),
    ("urgent", "handling", 4, "workdays"),
    ("urgent", "rework", 3, "workdays"),
    ("urgent", "followup", 2, "workdays"),
    ("critical", "whole", 2, "workdays"),
    ("critical", "first_contact", 2, "hours"),
    ("critical", "handling", 1, "workdays"),
    ("critical", "rework", 1, "workdays"),
    ("critical", "followup", 1, "workdays"),
]


def install_defaults(category_model: Any, limit_model: Any) -> int:
    """Creates missing categories and default limits (existing rows are left as edited); returns rows added."""
    added = 0
    for order, (code, name) in enumerate(CATEGORIES, start=1):
        _row, created = category_model.objects.get_or_create(code=code, defaults={"name": name, "order": order})
        added += created
    for urgency, step, amount, unit in LIMITS:
        _row, created = limit_model.objects.get_or_create(
            category=None, urgency=urgency, step=step, defaults={"amount": amount, "unit": unit}
        )
        added += created
    return added
