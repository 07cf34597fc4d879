"""Scoring state in the lake: state/dt=D holds everything day D+1 needs to continue.

  part-00000.parquet   per account: accumulated, last positive day, reset time, last touch, score
  ledger.parquet       per account and signal: the points that make up `accumulated` (explanations)
  persons.parquet      per account and person: first and last positive signal, points (breadth)
  bonus.parquet        the combination-bonus memory per person
  meta.json            config fingerprint and version, so state built under another config is not reused
Scores of D-7 and D-28 and daily points of the last weeks (trend and surge) come from the
scores/ and daily_points/ partitions.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include.scoring.config import ScoringConfig
from include.scoring.engine import NO_DAY, NO_TIME, SCORE_RING, Engine
from include.scoring.lake import Lake
from include.scoring.signals import BONUS_STATE_COLUMNS

ACCOUNT_STATE_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("accumulated", pa.float64()),
        ("last_positive_day", pa.date32()),
        ("reset_at", pa.timestamp("us", tz="UTC")),
        ("last_touch_at", pa.timestamp("us", tz="UTC")),
        ("last_touch_signal", pa.string()),
        ("score", pa.float64()),
    ]
)


def _ts(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.where(ns == NO_TIME, np.datetime64("NaT"), ns.astype("datetime64[ns]")), utc=True)).dt.as_unit("us")


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, compression="zstd")
    return buf.getvalue()


def read_state_side(lake: Lake, day: date, name: str) -> pd.DataFrame | None:
    data = lake.read_side_file("state", day, name)
    return None if data is None else pq.read_table(io.BytesIO(data)).to_pandas()


def save_state(lake: Lake, day: date, engine: Engine, present: np.ndarray, bonus: pd.DataFrame, config: ScoringConfig) -> str:
    idx = np.flatnonzero(present)
    accounts = engine.accounts.to_numpy(dtype=object)
    signals = np.array(engine.signals + ["?"], dtype=object)
    last_day = engine.last_pos[idx]
    frame = pd.DataFrame(
        {
            "account_id": accounts[idx],
            "accumulated": engine.acc[idx],
            "last_positive_day": [date.fromordinal(int(d)) if d != NO_DAY else None for d in last_day],
            "reset_at": _ts(engine.reset_ns[idx]),
            "last_touch_at": _ts(engine.touch_ns[idx]),
            "last_touch_signal": signals[engine.touch_sig[idx]],
            "score": engine.prev_score[idx],
        }
    )
    frame.loc[engine.touch_sig[idx] < 0, "last_touch_signal"] = None
    rows, cols = np.nonzero(engine.ledger[idx])
    ledger = pd.DataFrame({"account_id": accounts[idx][rows], "signal": np.array(engine.signals, dtype=object)[cols], "points": engine.ledger[idx][rows, cols]})
    memory_days = max(config.breadth.window_days, config.trend.person_memory_days)
    cutoff = pd.Timestamp(day - timedelta(days=memory_days - 1), tz="UTC").value
    keep = present[engine.pair_acc] & (engine.pair_last >= cutoff)
    persons = pd.DataFrame(
        {
            "account_id": accounts[engine.pair_acc[keep]],
            "person_key": engine.person_names.to_numpy(dtype=object)[engine.pair_person[keep]],
            "first_positive_day": [date.fromordinal(int(d)) for d in engine.pair_first[keep]],
            "last_positive_at": _ts(engine.pair_last[keep]),
            "points": engine.pair_points[keep],
        }
    ).sort_values(["account_id", "person_key"], kind="stable")
    meta = {"day": day.isoformat(), "config_version": config.version, "fingerprint": config.fingerprint()}
    bonus = bonus.sort_values("person_key", kind="stable") if len(bonus) else pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    return lake.write_partition(
        "state",
        day,
        frame.sort_values("account_id", kind="stable"),
        schema=ACCOUNT_STATE_SCHEMA,
        side_files={"ledger.parquet": _parquet(ledger.sort_values(["account_id", "signal"], kind="stable")), "persons.parquet": _parquet(persons),
                    "bonus.parquet": _parquet(bonus), "meta.json": json.dumps(meta, indent=2)},
    )


def state_meta(lake: Lake, day: date) -> dict | None:
    data = lake.read_side_file("state", day, "meta.json")
    return None if data is None or not lake.exists("state", day) else json.loads(data)


def load_state(lake: Lake, day: date, engine: Engine) -> None:
    """Fill `engine` (built for the new day's universe) from state/dt=day."""
    frame = lake.read_df("state", day)
    pos = engine.accounts.get_indexer(frame["account_id"])
    ok = pos >= 0
    frame, pos = frame[ok], pos[ok]
    engine.acc[pos] = frame["accumulated"].to_numpy()
    engine.last_pos[pos] = [d.toordinal() if pd.notna(d) else NO_DAY for d in frame["last_positive_day"]]
    engine.reset_ns[pos] = _ns(frame["reset_at"])
    engine.touch_ns[pos] = _ns(frame["last_touch_at"])
    sig = {name: i for i, name in enumerate(engine.signals)}
    engine.touch_sig[pos] = frame["last_touch_signal"].map(sig).fillna(-1).astype(np.int64).to_numpy()
    engine.prev_score[pos] = frame["score"].to_numpy()
    ledger = read_state_side(lake, day, "ledger.parquet")
    if ledger is not None and len(ledger):
        rows = engine.accounts.get_indexer(ledger["account_id"])
        cols = ledger["signal"].map(sig).fillna(-1).astype(np.int64).to_numpy()
        ok = (rows >= 0) & (cols >= 0)
        np.add.at(engine.ledger, (rows[ok], cols[ok]), ledger["points"].to_numpy()[ok])
    persons = read_state_side(lake, day, "persons.parquet")
    if persons is not None and len(persons):
        rows = engine.accounts.get_indexer(persons["account_id"])
        codes = engine.person_names.get_indexer(persons["person_key"])
        ok = (rows >= 0) & (codes >= 0)
        persons = persons[ok]
        keys = (rows[ok].astype(np.int64) << 32) | codes[ok].astype(np.int64)
        engine.pair_keys = pd.Index(keys)
        engine.pair_acc, engine.pair_person = rows[ok].astype(np.int64), codes[ok].astype(np.int64)
        engine.pair_first = np.array([d.toordinal() for d in persons["first_positive_day"]], np.int64)
        engine.pair_last = _ns(persons["last_positive_at"])
        engine.pair_points = np.array(persons["points"], dtype=float)  # a writable copy


def _ns(series: pd.Series) -> np.ndarray:
    values = pd.to_datetime(series, utc=True)
    out = values.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.where(values.isna().to_numpy(), NO_TIME, out).astype(np.int64)


def state_persons(lake: Lake, day: date) -> pd.Series:
    persons = read_state_side(lake, day, "persons.parquet")
    return pd.Series(dtype="string") if persons is None else persons["person_key"]


def _values_by_offset(lake: Lake, dataset: str, column: str, day: date, offsets: list[int], accounts: pd.Index) -> dict[int, np.ndarray]:
    out = {}
    for offset in offsets:
        table = lake.read(dataset, day - timedelta(days=offset), columns=["account_id", column], missing_ok=True)
        if table is None:
            continue
        values = np.zeros(len(accounts))
        pos = accounts.get_indexer(table.column("account_id").to_numpy(zero_copy_only=False))
        hit = pos >= 0
        values[pos[hit]] = table.column(column).to_numpy()[hit]
        out[offset] = values
    return out


def load_history_rings(lake: Lake, day: date, engine: Engine, days_ahead: int = 1) -> None:
    """Scores and daily points of earlier days, from the lake, for stepping from `day` on.

    One day ahead needs only the scores of D-7 and D-28 (trend); a longer run needs every day of
    the last four weeks, since later days look back from further ahead. Surge always needs the
    daily points of the baseline weeks.
    """
    offsets = list(range(1, SCORE_RING)) if days_ahead > 1 else [7, 28]
    scores = _values_by_offset(lake, "scores", "score", day, offsets, engine.accounts)
    points = _values_by_offset(lake, "daily_points", "points", day, list(range(1, engine.points_ring.shape[1])), engine.accounts)
    engine.load_rings(scores, points, day.toordinal())
