"""From engine arrays to the rows people read: bands, next actions, trend labels, alerts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from include.scoring.config import ScoringConfig

SCORE_COLUMNS = [
    "account_id", "as_of", "score", "band", "accumulated", "breadth", "engaged_people", "new_people_14d", "points_today",
    "trend", "change_7d", "change_28d", "surge", "last_touch_at", "last_touch_signal", "days_since_engagement",
    "next_action", "lifecycle", "account_name", "abm_tier", "owner_email", "sdr_email", "config_version",
]
CHANGE_COLUMNS = ["account_id", "as_of", "kind", "rule", "before", "after", "score_before", "score_after", "recipient", "audience"]

_S, _F, _TS = pa.string(), pa.float64(), pa.timestamp("us", tz="UTC")
#: Fixed schemas of the scoring outputs, so an empty day is written with the same types as a busy one.
CONTRIB_SCHEMA = pa.schema([("event_id", _S), ("event_time", _TS), ("source", _S), ("account_id", _S), ("person_key", _S), ("signal", _S),
                            ("base_points", _F), ("multiplier", _F), ("points", _F), ("adjustment", _S), ("reset", pa.bool_()), ("role", _S)])
CHANGE_SCHEMA = pa.schema([("account_id", _S), ("as_of", pa.date32()), ("kind", _S), ("rule", _S), ("before", _S), ("after", _S),
                           ("score_before", _F), ("score_after", _F), ("recipient", _S), ("audience", _S)])
DAILY_POINTS_SCHEMA = pa.schema([("account_id", _S), ("points", _F)])
SCORE_SCHEMA = pa.schema([("account_id", _S), ("as_of", pa.date32()), ("score", _F), ("band", _S), ("accumulated", _F), ("breadth", _F),
                          ("engaged_people", pa.int64()), ("new_people_14d", pa.int64()), ("points_today", _F), ("trend", _S), ("change_7d", _F),
                          ("change_28d", _F), ("surge", pa.bool_()), ("last_touch_at", _TS), ("last_touch_signal", _S), ("days_since_engagement", pa.int64()),
                          ("next_action", _S), ("lifecycle", _S), ("account_name", _S), ("abm_tier", pa.int64()), ("owner_email", _S), ("sdr_email", _S),
                          ("config_version", _S)])


def bands_of(scores: np.ndarray, config: ScoringConfig) -> np.ndarray:
    """The first band whose max_score the (2-decimal) score does not exceed."""
    bounds = np.array([b.max_score for b in config.bands[:-1]], dtype=float)
    names = np.array([b.name for b in config.bands], dtype=object)
    return names[np.searchsorted(bounds, np.round(scores, 2), side="left")]


def next_actions(bands: np.ndarray, customer: np.ndarray, config: ScoringConfig) -> np.ndarray:
    action = {b.name: b.next_action for b in config.bands}
    return np.where(customer, config.customer_next_action, pd.Series(bands).map(action).to_numpy(dtype=object))


def trend_labels(change_7d: np.ndarray, config: ScoringConfig) -> np.ndarray:
    flat = config.trend.flat_below
    return np.where(change_7d >= flat, "up", np.where(change_7d <= -flat, "down", "flat"))


def alert_changes(accounts: pd.DataFrame, before: np.ndarray, after: np.ndarray, customer: np.ndarray, day: date, config: ScoringConfig) -> list[dict]:
    """One alert per upward crossing of each threshold; customers' alerts go to the owner."""
    out = []
    manager = config.notifications.manager_email
    for rule in config.alerts:
        crossed = np.flatnonzero((before <= rule.threshold) & (after > rule.threshold))
        for i in crossed:
            row = accounts.iloc[i]
            if customer[i] or rule.recipient == "owner":
                recipient = row["owner_email"]
            elif rule.recipient == "sdr":
                recipient = row["sdr_email"]
            else:
                recipient = manager
            out.append({"account_id": row["account_id"], "as_of": day, "kind": "alert", "rule": f"threshold_{rule.threshold:g}",
                        "before": f"{before[i]:.2f}", "after": f"{after[i]:.2f}", "score_before": before[i], "score_after": after[i],
                        "recipient": recipient if isinstance(recipient, str) and recipient else None, "audience": "owner" if customer[i] else rule.recipient})
    return out


def band_changes(account_ids: np.ndarray, before: np.ndarray, after: np.ndarray, day: date, config: ScoringConfig) -> list[dict]:
    b0, b1 = bands_of(before, config), bands_of(after, config)
    return [
        {"account_id": account_ids[i], "as_of": day, "kind": "band_change", "rule": "band", "before": b0[i], "after": b1[i],
         "score_before": before[i], "score_after": after[i], "recipient": None, "audience": None}
        for i in np.flatnonzero(b0 != b1)
    ]
