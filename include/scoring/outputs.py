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


def _change_frame(account_ids, day: date, kind: str, rule, before, after, before_text, after_text, recipient=None, audience=None) -> pd.DataFrame:
    n = len(account_ids)
    return pd.DataFrame({
        "account_id": account_ids, "as_of": [day] * n, "kind": kind, "rule": rule, "before": before_text, "after": after_text,
        "score_before": before, "score_after": after,
        "recipient": recipient if recipient is not None else np.full(n, None, dtype=object),
        "audience": audience if audience is not None else np.full(n, None, dtype=object),
    }, columns=CHANGE_COLUMNS)


def _money(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", values.astype(float)).astype(object) if len(values) else np.array([], dtype=object)


def alert_changes(accounts: pd.DataFrame, before: np.ndarray, after: np.ndarray, customer: np.ndarray, day: date, config: ScoringConfig) -> pd.DataFrame:
    """One alert per upward crossing of each threshold; customers' alerts go to the owner."""
    frames = []
    owner = accounts["owner_email"].to_numpy(dtype=object)
    sdr = accounts["sdr_email"].to_numpy(dtype=object)
    ids = accounts["account_id"].to_numpy(dtype=object)
    for rule in config.alerts:
        i = np.flatnonzero((before <= rule.threshold) & (after > rule.threshold))
        if rule.recipient == "owner":
            default = owner[i]
        elif rule.recipient == "sdr":
            default = sdr[i]
        else:
            default = np.full(len(i), config.notifications.manager_email, dtype=object)
        recipient = np.where(customer[i], owner[i], default).astype(object)
        recipient = pd.Series(recipient, dtype=object).where(pd.Series(recipient).map(lambda r: isinstance(r, str) and r != "")).to_numpy(dtype=object)
        audience = np.where(customer[i], "owner", rule.recipient).astype(object)
        frames.append(_change_frame(ids[i], day, "alert", f"threshold_{rule.threshold:g}", before[i], after[i], _money(before[i]), _money(after[i]), recipient, audience))
    return pd.concat(frames, ignore_index=True) if frames else _change_frame(np.array([], dtype=object), day, "alert", None, [], [], [], [])


def band_changes(account_ids: np.ndarray, before: np.ndarray, after: np.ndarray, day: date, config: ScoringConfig) -> pd.DataFrame:
    b0, b1 = bands_of(before, config), bands_of(after, config)
    i = np.flatnonzero(b0 != b1)
    return _change_frame(np.asarray(account_ids, dtype=object)[i], day, "band_change", "band", before[i], after[i], np.asarray(b0, dtype=object)[i], np.asarray(b1, dtype=object)[i])
