"""Calendar months as the report names them (`YYYY-MM`): standard library only, so the monthly
DAG and its Airflow glue can work out which month a run reports on at parse time."""

from __future__ import annotations

import re
from datetime import date, timedelta

from include.scoring.core.errors import UsageError

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> tuple[date, date]:
    """First and last day of a `YYYY-MM` month; a UsageError for anything else."""
    match = MONTH_RE.match(str(text).strip())
    if not match:
        raise UsageError(f"month {text!r} is not a month; use YYYY-MM, e.g. 2026-10")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(month: str) -> str:
    first, _ = parse_month(month)
    return month_of(first - timedelta(days=1))


def latest_closed_month(first_day: date, last_day: date, window_days: int) -> str | None:
    """The latest month wholly inside `first_day .. last_day` whose every outcome window (N =
    `window_days` days after each of its days) has closed by `last_day`; None when there is none."""
    month = month_of(last_day - timedelta(days=window_days))
    first, last = parse_month(month)
    if last + timedelta(days=window_days) > last_day:
        month = previous_month(month)
        first, last = parse_month(month)
    return month if first >= first_day else None
