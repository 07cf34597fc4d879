"""Which day a DAG run processes (standard library only: DAG files and the notifier use it)."""

from __future__ import annotations

from datetime import date
from typing import Any


def day_of(context: Any) -> date:
    """The day a run processes: the UTC date its data interval starts on.

    A scheduled run fires at 02:00 UTC on D+1 for the interval starting 02:00 on D; a manual run
    covers the last complete interval; a backfill's logical dates are the days themselves.
    """
    start = context["data_interval_start"]
    return date(start.year, start.month, start.day)  # a plain date, not pendulum's subclass
