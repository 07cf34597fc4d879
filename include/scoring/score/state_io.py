"""Scoring state in the lake: what day D+1 needs to continue from day D.

  state/dt=D          per account: accumulated, last positive day, reset time, last touch, score;
                      each part carries the config fingerprint, so state built under another
                      config is never reused
  state_ledger/dt=D   per account and signal: the points that make up `accumulated` (explanations)
  state_persons/dt=D  per account and person: first and last positive signal, points (breadth)
  state_bonus/dt=D    the combination-bonus memory per account and person
Each is written in parts, one per account shard. Scores of D-7 and D-28 and the daily points of
the last weeks (trend and surge) come from the scores/ and daily_points/ partitions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import sort_order, to_arrow, to_series
from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import StateError
from include.scoring.lake import catalog
from include.scoring.lake.catalog import Dataset
from include.scoring.lake.sharding import ShardRows
from include.scoring.lake.store import Lake
from include.scoring.score.engine import (
    EPOCH_ORDINAL,
    NO_DAY,
    NO_TIME,
    SCORE_RING,
    Engine,
    person_memory_days,
    times_ns,
)
from include.scoring.score.health import HEALTH
from include.scoring.score.outputs import DAILY_LEDGER_SCHEMA
from include.scoring.score.signals import BONUS_STATE_COLUMNS
from include.scoring.score.window import Batch

_TS = pa.timestamp("us", tz="UTC")
ACCOUNT_STATE_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("accumulated", pa.float64()),
        ("last_positive_day", pa.date32()),
        ("reset_at", _TS),
        ("last_touch_at", _TS),
        ("last_touch_signal", pa.string()),
        ("score", pa.float64()),
        ("log_scale", pa.float64()),
        ("epoch", pa.int64()),
        ("health", pa.string()),
        ("weekly_points", pa.list_(pa.float64())),
    ]
)
LEDGER_SCHEMA = pa.schema([("account_id", pa.string()), ("signal", pa.string()), ("points", pa.float64())])
PERSONS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("person_key", pa.string()),
        ("first_positive_day", pa.date32()),
        ("last_positive_at", _TS),
        ("points", pa.float64()),
        ("role", pa.string()),
    ]
)
BONUS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("person_key", pa.string()),
        ("first_time", _TS),
        ("second_time", _TS),
        ("awarded", pa.bool_()),
    ]
)

Keep = ShardRows | Callable[[pa.Table], np.ndarray] | None


def account_keep(shard: int, shards: int) -> Keep:
    """Row filter of an account shard (None: every row)."""
    return None if shards == 1 else ShardRows("account_id", shard, shards)


def read_keep(lake: Lake, dataset: Dataset, day: date, keep: Keep, columns=None) -> pd.DataFrame | None:
    table = (
        lake.read(dataset, day, columns, missing_ok=True)
        if keep is None
        else lake.read_where(dataset, day, keep, columns, missing_ok=True)
    )
    return None if table is None else table.to_pandas()


def _dates(ordinals: np.ndarray, missing: int | None = None) -> pd.Series:
    """Day ordinals as a date32 column (null where `missing`), without a Python date per row."""
    ordinals = np.asarray(ordinals, dtype=np.int64)
    mask = ordinals == missing if missing is not None else None
    arr = pa.array(
        (np.where(mask, EPOCH_ORDINAL, ordinals) if mask is not None else ordinals) - EPOCH_ORDINAL,
        pa.int32(),
        mask=mask,
    ).cast(pa.date32())
    return pd.Series(arr, dtype=pd.ArrowDtype(pa.date32()))


def _ordinals(values: pd.Series, missing: int) -> np.ndarray:
    """A date column as day ordinals (`missing` where null), without a Python date per row."""
    days = pa.array(values, from_pandas=True).cast(pa.date32()).cast(pa.int32())  # days since 1970-01-01
    return (
        np.asarray(pc.fill_null(days, missing - EPOCH_ORDINAL).to_numpy(zero_copy_only=False), dtype=np.int64)
        + EPOCH_ORDINAL
    )


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.take(sort_order(frame, columns)).reset_index(drop=True) if len(frame) else frame


def _ts(ns: np.ndarray) -> pd.Series:
    return pd.Series(
        pd.to_datetime(np.where(ns == NO_TIME, np.datetime64("NaT"), ns.astype("datetime64[ns]")), utc=True)
    ).dt.as_unit("us")


def state_tables(day: date, engine: Engine, present: np.ndarray, bonus: pd.DataFrame, config: ScoringConfig) -> dict:
    """The state at the end of `day` as the four tables of a checkpoint, copied out of the engine
    (which goes on to the next day while a background writer stores them)."""
    idx = np.flatnonzero(present)
    account_ids = to_arrow(engine.accounts)

    def accounts(rows: np.ndarray) -> pd.Series:  # Arrow-backed text: no Python string per row
        return to_series(account_ids.take(pa.array(rows, pa.int64())))

    signals = np.array(engine.signals + ["?"], dtype=object)
    last_day = engine.last_pos[idx]
    frame = pd.DataFrame(
        {
            "account_id": accounts(idx),
            "accumulated": engine.acc[idx],
            "last_positive_day": _dates(last_day, missing=NO_DAY),
            "reset_at": _ts(engine.reset_ns[idx]),
            "last_touch_at": _ts(engine.touch_ns[idx]),
            "last_touch_signal": signals[engine.touch_sig[idx]],
            "score": engine.prev_score[idx],
            "log_scale": engine.log_scale[idx],
            "epoch": engine.epoch[idx],
            "health": np.array([*HEALTH, None], dtype=object)[engine.health[idx]],
            "weekly_points": _rows_as_lists(engine.week_ring, idx),
        }
    )
    frame.loc[engine.touch_sig[idx] < 0, "last_touch_signal"] = None
    held = (
        engine.ledger if len(idx) == len(engine.accounts) else engine.ledger[idx]
    )  # no copy when every account is present
    rows, cols = np.nonzero(held)
    ledger = pd.DataFrame(
        {
            "account_id": accounts(idx[rows]),
            "signal": to_series(pa.array(engine.signals, pa.string()).take(pa.array(cols, pa.int64()))),
            "points": held[rows, cols],
        }
    )
    memory_days = person_memory_days(config)
    cutoff = pd.Timestamp(day - timedelta(days=memory_days - 1), tz="UTC").value
    keep = present[engine.pair_acc] & (engine.pair_last >= cutoff)
    persons = pd.DataFrame(
        {
            "account_id": accounts(engine.pair_acc[keep]),
            "person_key": to_series(to_arrow(engine.person_names).take(pa.array(engine.pair_person[keep]))),
            "first_positive_day": _dates(engine.pair_first[keep]),
            "last_positive_at": _ts(engine.pair_last[keep]),
            "points": engine.pair_points[keep],
            "role": np.array([*engine.roles, None], dtype=object)[engine.pair_role[keep]],
        }
    )
    persons = _sorted(persons, ["account_id", "person_key"])
    bonus = _sorted(bonus, ["account_id", "person_key"]) if len(bonus) else pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    meta = {
        "day": day.isoformat(),
        "config_version": config.version,
        "fingerprint": config.fingerprint(),
        "first_week": engine.first_week,
        "week_index": engine.week_index,
    }
    return {
        "ledger": _sorted(ledger, ["account_id", "signal"]),
        "persons": persons,
        "bonus": bonus,
        "accounts": _sorted(frame, ["account_id"]),
        "meta": meta,
    }


COMPANIONS = (catalog.STATE_LEDGER, catalog.STATE_PERSONS, catalog.STATE_BONUS)


def write_state_companions(lake: Lake, day: date, tables: dict, shard: int = 0, shards: int = 1) -> None:
    """The ledger, persons and bonus memory of a checkpoint, each stamped with the config
    fingerprint: usable only once the marker lands with the same fingerprint (`state_meta`)."""
    lake.write_part(
        catalog.STATE_LEDGER, day, shard, shards, tables["ledger"], schema=LEDGER_SCHEMA, metadata=tables["meta"]
    )
    lake.write_part(
        catalog.STATE_PERSONS, day, shard, shards, tables["persons"], schema=PERSONS_SCHEMA, metadata=tables["meta"]
    )
    lake.write_part(
        catalog.STATE_BONUS, day, shard, shards, tables["bonus"], schema=BONUS_SCHEMA, metadata=tables["meta"]
    )


def write_state_marker(lake: Lake, day: date, tables: dict, shard: int = 0, shards: int = 1) -> str:
    """The account table with the config fingerprint: what makes a checkpoint usable. Written
    after its companions and after every file of the days it follows."""
    return lake.write_part(
        catalog.STATE, day, shard, shards, tables["accounts"], schema=ACCOUNT_STATE_SCHEMA, metadata=tables["meta"]
    )


def state_meta(lake: Lake, day: date) -> dict | None:
    """Config fingerprint and version of a complete state partition (None when missing, or when
    its parts disagree, or when a companion dataset is incomplete or from another write: a
    companion stamped with another fingerprint; companions written before the stamp carry none)."""
    if not all(lake.exists(name, day) for name in COMPANIONS):
        return None
    metas = lake.part_metadata(catalog.STATE, day)
    if not metas or any(m.get("fingerprint") != metas[0].get("fingerprint") for m in metas):
        return None
    stamps = {m.get("fingerprint") for name in COMPANIONS for m in lake.part_metadata(name, day) or []} - {None}
    return metas[0] if stamps <= {metas[0].get("fingerprint")} else None


def load_state(lake: Lake, day: date, engine: Engine, keep: Keep = None) -> pd.DataFrame:
    """Fill `engine` (built for the new day's universe) from the state of `day`; return the bonus memory."""
    frame = read_keep(lake, catalog.STATE, day, keep)
    pos = engine.accounts.get_indexer(frame["account_id"])
    ok = pos >= 0
    frame, pos = frame[ok], pos[ok]
    engine.acc[pos] = frame["accumulated"].to_numpy()
    engine.held[pos] = True
    engine.last_pos[pos] = _ordinals(frame["last_positive_day"], missing=NO_DAY)
    engine.reset_ns[pos] = times_ns(frame["reset_at"])
    engine.touch_ns[pos] = times_ns(frame["last_touch_at"])
    sig = {name: i for i, name in enumerate(engine.signals)}
    engine.touch_sig[pos] = frame["last_touch_signal"].map(sig).fillna(-1).astype(np.int64).to_numpy()
    engine.prev_score[pos] = frame["score"].to_numpy()
    engine.log_scale[pos] = frame["log_scale"].to_numpy()
    engine.epoch[pos] = frame["epoch"].to_numpy()
    engine.health[pos] = frame["health"].map({name: i for i, name in enumerate(HEALTH)}).fillna(-1).to_numpy(np.int64)
    if len(frame):
        engine.week_ring[pos] = np.vstack(frame["weekly_points"].to_numpy())
    meta = (lake.part_metadata(catalog.STATE, day) or [{}])[0]
    engine.first_week, engine.week_index = meta.get("first_week"), meta.get("week_index")
    ledger = read_keep(lake, catalog.STATE_LEDGER, day, keep)
    if ledger is not None and len(ledger):
        rows = engine.accounts.get_indexer(ledger["account_id"])
        cols = ledger["signal"].map(sig).fillna(-1).astype(np.int64).to_numpy()
        ok = (rows >= 0) & (cols >= 0)
        np.add.at(engine.ledger, (rows[ok], cols[ok]), ledger["points"].to_numpy()[ok])
        engine.held[rows[ok]] = True
    persons = read_keep(lake, catalog.STATE_PERSONS, day, keep)
    if persons is not None and len(persons):
        rows = engine.accounts.get_indexer(persons["account_id"])
        codes = engine.person_names.get_indexer(persons["person_key"])
        ok = (rows >= 0) & (codes >= 0)
        persons = persons[ok]
        first = _ordinals(persons["first_positive_day"], missing=NO_DAY)
        role = persons["role"].map({name: i for i, name in enumerate(engine.roles)}).fillna(-1).to_numpy(np.int64)
        engine.set_pairs(
            rows[ok],
            codes[ok],
            first,
            times_ns(persons["last_positive_at"]),
            persons["points"].to_numpy(dtype=float),
            role,
        )
    bonus = read_keep(lake, catalog.STATE_BONUS, day, keep)
    return bonus if bonus is not None and len(bonus) else pd.DataFrame(columns=BONUS_STATE_COLUMNS)


def _rows_as_lists(matrix: np.ndarray, rows: np.ndarray) -> pa.Array:
    """Rows of a 2-d array as an Arrow list column (one list per row), without a Python list per row."""
    part = np.ascontiguousarray(matrix[rows])
    offsets = np.arange(0, part.size + 1, part.shape[1], dtype=np.int32)
    return pd.Series(
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(part.ravel())), dtype=pd.ArrowDtype(pa.list_(pa.float64()))
    )


def daily_ledger_table(engine: Engine, batch: Batch | None) -> pa.Table:
    """A day's window batch (window.py) with account ids and signal names: `daily_ledger/dt=D`."""
    if batch is None or not len(batch):
        return DAILY_LEDGER_SCHEMA.empty_table()
    return pa.Table.from_arrays(
        [
            to_arrow(engine.accounts).take(pa.array(batch.acc)),
            pa.array(engine.signals, pa.string()).take(pa.array(batch.signal)),
            pa.array(batch.points),
            pa.array(batch.log_scale),
            pa.array(batch.epoch),
        ],
        schema=DAILY_LEDGER_SCHEMA,
    )


def read_batch(lake: Lake, day: date, engine: Engine, keep: Keep = None) -> Batch | None:
    """The window batch of `day` from the lake, for an engine started from a checkpoint: what
    leaves the window on a day of this run was earned before it. None when the day earned
    nothing in this lake; a scored day without its batch cannot be expired, which is refused."""
    frame = read_keep(lake, catalog.DAILY_LEDGER, day, keep)
    if frame is None:
        if lake.exists(catalog.SCORES, day):
            raise StateError(
                f"cannot take the points of {day} out of the accumulation window: "
                f"{lake.url(catalog.DAILY_LEDGER, day)} is missing although the day was scored. Replay the "
                "scores from the first day (delete the state/ partitions, then run the score stage), which "
                "rebuilds it."
            )
        return None
    rows = engine.accounts.get_indexer(frame["account_id"])
    sig = pd.Index(engine.signals).get_indexer(frame["signal"])
    ok = (rows >= 0) & (sig >= 0)
    return Batch(
        rows[ok].astype(np.int64),
        sig[ok].astype(np.int64),
        frame["points"].to_numpy(dtype=float)[ok],
        frame["log_scale"].to_numpy(dtype=float)[ok],
        frame["epoch"].to_numpy(dtype=np.int64)[ok],
    )


def state_persons(lake: Lake, day: date, keep: Keep = None) -> pd.Series:
    persons = read_keep(lake, catalog.STATE_PERSONS, day, keep, columns=["account_id", "person_key"])
    return pd.Series(dtype="string") if persons is None else persons["person_key"]


def _values_by_offset(
    lake: Lake, dataset: Dataset, column: str, day: date, offsets: list[int], accounts: pd.Index, keep: Keep
) -> dict[int, np.ndarray]:
    out = {}
    for offset in offsets:
        frame = read_keep(lake, dataset, day - timedelta(days=offset), keep, columns=["account_id", column])
        if frame is None:
            continue
        values = np.zeros(len(accounts))
        pos = accounts.get_indexer(frame["account_id"])
        hit = pos >= 0
        values[pos[hit]] = frame[column].to_numpy()[hit]
        out[offset] = values
    return out


def load_history_rings(lake: Lake, day: date, engine: Engine, days_ahead: int = 1, keep: Keep = None) -> None:
    """Scores and daily points of earlier days, from the lake, for stepping from `day` on.

    One day ahead needs only the scores of D-7 and D-28 (trend); a longer run needs every day of
    the last four weeks, since later days look back from further ahead. Surge always needs the
    daily points of the baseline weeks.
    """
    offsets = list(range(1, SCORE_RING)) if days_ahead > 1 else [7, 28]
    scores = _values_by_offset(lake, catalog.SCORES, "score", day, offsets, engine.accounts, keep)
    points = _values_by_offset(
        lake, catalog.DAILY_POINTS, "points", day, list(range(1, engine.points_ring.shape[1])), engine.accounts, keep
    )
    engine.load_rings(scores, points, day.toordinal())
