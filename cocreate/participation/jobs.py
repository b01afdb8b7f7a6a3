"""Background jobs of co-decision: public notices end when their period is over.

``notices.notices_end_due`` is the whole rule; the daily periodic task only calls it. It picks
published notices whose last day has passed and ends each under its row lock, so running it
twice (or on two workers at once) ends each notice once and records ``passed`` once.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from cocreate.participation import notices


@db_periodic_task(crontab(hour="16", minute="3"))
def end_notices() -> int:
    """Daily just after midnight Beijing time (16:03 UTC): notices whose period is over end."""
    return notices.notices_end_due()
