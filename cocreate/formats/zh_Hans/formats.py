"""Chinese: documents read "2026年11月23日" (Django's format too; pinned so it cannot drift)."""

DATE_FORMAT = "Y年n月j日"
