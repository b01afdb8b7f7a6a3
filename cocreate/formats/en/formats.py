"""English: documents read "23 November 2026" (Django's own is "Nov. 23, 2026")."""

DATE_FORMAT = "j F Y"
