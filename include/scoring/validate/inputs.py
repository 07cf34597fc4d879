"""What an event source's validation of day D needs besides its rows: the per-row helper columns
(duplicates within the day, ids seen on earlier days) and the day's parameters (volume bounds from
the trailing days' row counts, the event-time window). Shared by the whole-day and sharded runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from statistics import median

import numpy as np
import pandas as pd

from include.scoring.core.config import ScoringConfig
from include.scoring.core.hashing import hash_ids
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=UTC))


def seen_before(lake: Lake, source: str, day: date, ids: pd.Series, lookback: int) -> np.ndarray:
    if lookback <= 0 or ids.empty:
        return np.zeros(len(ids), bool)
    history = lake.read_range(
        catalog.event_ids(source), day - timedelta(days=lookback), day - timedelta(days=1), columns=["h"]
    )
    if history is None or history.num_rows == 0:
        return np.zeros(len(ids), bool)
    return np.isin(hash_ids(ids), history.column("h").to_numpy())


def volume_bounds(lake: Lake, config: ScoringConfig, source: str, day: date) -> tuple[dict, str | None]:
    vol = config.validation.volume
    counts = [
        lake.row_count(catalog.raw(source), day - timedelta(days=k))
        for k in range(1, vol.trailing_days + 1)
        if lake.exists(catalog.raw(source), day - timedelta(days=k))
    ]
    if len(counts) < vol.min_history_days:
        return {
            "volume_min": 0,
            "volume_max": None,
        }, f"volume: only {len(counts)} earlier day(s) of history, check skipped"
    mid = median(counts)
    return {
        "volume_min": int(np.floor(mid * vol.min_ratio)),
        "volume_max": int(np.ceil(mid * vol.max_ratio)),
    }, f"volume: trailing {len(counts)}-day median {mid:,.0f}"


def event_parameters(
    lake: Lake, config: ScoringConfig, source: str, day: date, frame: pd.DataFrame
) -> tuple[dict, str | None]:
    """Add the helper columns to an event source's rows (all of one event_id's rows must be in
    `frame`, in raw order) and return the suite parameters of day D and the volume note."""
    frame["_event_id_occurrence"] = frame.groupby("event_id", dropna=False, sort=False).cumcount() + 1
    frame["_seen_on_earlier_day"] = seen_before(
        lake, source, day, frame["event_id"], config.validation.duplicate_lookback_days
    )
    bounds, note = volume_bounds(lake, config, source, day)
    return {
        **bounds,
        "min_event_time": _utc(day - timedelta(days=config.validation.late_arrival_days)),
        "max_event_time": _utc(day + timedelta(days=1)),
    }, note
