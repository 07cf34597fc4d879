"""One day of scoring, pure: what the engine takes in and what the day's outputs are.

Given a CRM snapshot (`DayData`), the engine and a block's contributions, these functions work
out the engine's input for day D (`day_input`) and the day's score rows and changes
(`day_outputs`); `day_result` is what the stage reports. No lake I/O here: `replay.py` reads the
inputs and writes the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import positions, to_arrow, to_series
from include.scoring.core.config import ScoringConfig
from include.scoring.core.results import StageResult
from include.scoring.score.contributions import Contributions
from include.scoring.score.engine import EPOCH_ORDINAL, DayInput, Engine, day_ns, times_ns
from include.scoring.score.outputs import (
    account_columns,
    alert_changes,
    band_changes,
    change_table,
    health_changes,
    score_table,
    sorted_changes,
)


def _describe(result: StageResult) -> str:
    bands = ", ".join(f"{k} {v:,}" for k, v in result.breakdowns["bands"].items())
    c = result.counts
    return (
        f"score {result.day}  {c['accounts']:,} accounts [{bands}]  {c['band_changes']:,} band changes, "
        f"{c['alerts']:,} alerts, {c['resets']:,} resets  ({result.details['mode']}, "
        f"config {result.details['config_version']})"
    )


def day_result(
    day: date, accounts: int, bands: dict[str, int], kinds: dict[str, int], config_version: str, path: str
) -> StageResult:
    """What scoring day D did: accounts per band, resets, alerts and band changes (`kinds`: the
    day's changes by kind). `details['mode']` is filled in by the stage (incremental, replay)."""
    counts = {
        "accounts": accounts,
        "resets": kinds.get("reset", 0),
        "alerts": kinds.get("alert", 0),
        "band_changes": kinds.get("band_change", 0),
    }
    details = {"mode": "", "config_version": config_version}
    return StageResult(
        "score", "day", day, [path] if path else [], counts, {"bands": bands}, details, describe=_describe
    )


@dataclass
class DayData:
    accounts: pd.DataFrame
    opportunities: pd.DataFrame
    #: what the day's outputs take from the snapshot alone (positions, text columns), made once
    #: per snapshot: a replay reuses an unchanged snapshot for many days
    derived: dict = field(default_factory=dict)


def day_blocks(days: list[date], block_days: int, checkpoint_every: int) -> list[list[date]]:
    """Days in blocks of at most `block_days`, each checkpoint day ending a block (the bonus
    memory a checkpoint saves is then the block's, computed once)."""
    blocks, block = [], []
    for day in days:
        block.append(day)
        if len(block) == block_days or day.toordinal() % checkpoint_every == 0:
            blocks.append(block)
            block = []
    return blocks + [block] if block else blocks


def customers_on(data: DayData, day: date) -> np.ndarray:
    """Per snapshot row: a customer on day D (lifecycle customer in the CRM, or an opportunity won
    and closed by the end of D). What depends only on the snapshot is worked out once for it."""
    if "won_close_ns" not in data.derived:
        opps = data.opportunities
        closed = pd.to_datetime(opps["closed_at"], utc=True)
        won = opps["is_won"].fillna(False).astype(bool).to_numpy() & closed.notna().to_numpy()
        first_won = (
            pd.Series(times_ns(closed[won]), index=opps["account_id"][won].to_numpy(dtype=object))
            .groupby(level=0)
            .min()
        )
        rows = positions(data.accounts["account_id"], first_won.index)
        close_ns = np.full(len(rows), np.iinfo(np.int64).max, np.int64)
        close_ns[rows >= 0] = first_won.to_numpy()[rows[rows >= 0]]
        data.derived["won_close_ns"] = close_ns
        data.derived["crm_customer"] = (data.accounts["lifecycle"] == "customer").to_numpy(dtype=bool, na_value=False)
    return data.derived["crm_customer"] | (data.derived["won_close_ns"] < day_ns(day + timedelta(days=1)))


def encode_block(engine: Engine, contribs: Contributions) -> dict[str, np.ndarray]:
    """A block's contributions as the engine's codes (account and person rows, signal), computed
    once per block of days from the block's distinct accounts and persons. The persons first seen
    in the block join the engine's table. Only the rows that can move the state are kept (points,
    a reset, a positive signal): a day's impressions and deliveries, most of its rows, add nothing
    to a sum and touch nothing (`day`: each kept row's day, for `day_spans`)."""
    account_row = np.append(positions(contribs.accounts, engine.accounts), -1)  # -1: not an account of the engine
    person_code = np.append(engine.person_codes(pd.Index(to_series(contribs.persons))), -1)  # -1: no person
    rows = np.flatnonzero((contribs.points != 0) | contribs.reset | contribs.positive)
    return {
        "day": contribs.day[rows],
        "acc": account_row[contribs.account_codes[rows]],
        "person": person_code[contribs.person_codes[rows]],
        "signal": contribs.signals[rows],
        "points": contribs.points[rows],
        "time_ns": contribs.time_ns[rows],
        "reset": contribs.reset[rows],
        "positive": contribs.positive[rows],
        "role": role_codes(contribs.table.column("role").take(pa.array(rows)), engine.roles),
    }


def role_codes(roles: pa.ChunkedArray | pa.Array, buying_group: list[str]) -> np.ndarray:
    """Per row, the index of the person's CRM role in the buying-group roles (-1: another role, or none)."""
    codes = pc.index_in(roles.cast(pa.string()), value_set=pa.array(buying_group, pa.string()))
    return np.asarray(pc.fill_null(codes, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def day_spans(days: np.ndarray) -> dict[int, tuple[int, int]]:
    """Row range of each day (as an ordinal) in contributions sorted by day."""
    if len(days) and (np.diff(days) < 0).any():
        raise AssertionError("contributions must be sorted by day")
    uniques, starts, counts = np.unique(days, return_index=True, return_counts=True)
    return {
        int(d) + EPOCH_ORDINAL: (int(start), int(start + n))
        for d, start, n in zip(uniques, starts, counts, strict=True)
    }


def day_input(engine: Engine, codes: dict[str, np.ndarray], data: DayData, day: date) -> DayInput:
    """The engine's input for day D: `codes` are the day's rows of `_encode`."""
    pos = snapshot_rows(engine, data)
    if pos is None:
        present, customer = np.ones(len(engine.accounts), bool), customers_on(data, day)
    else:
        present, customer = np.zeros(len(engine.accounts), bool), np.zeros(len(engine.accounts), bool)
        present[pos], customer[pos] = True, customers_on(data, day)
    keep = codes["acc"] >= 0  # an event of an account gone from today's CRM snapshot cannot count
    names = ("acc", "person", "signal", "points", "time_ns", "reset", "positive", "role")
    return DayInput(
        day=day,
        present=present,
        customer=customer,
        **({name: codes[name] for name in names} if keep.all() else {name: codes[name][keep] for name in names}),
    )


def snapshot_rows(engine: Engine, data: DayData) -> np.ndarray:
    """Rows of the snapshot's accounts in the engine (one engine per replay: cached); None when
    they are the engine's rows in order (the usual case: nothing to gather)."""
    if "pos" not in data.derived:
        ids, rows = to_arrow(data.accounts["account_id"]), to_arrow(engine.accounts)
        data.derived["pos"] = (
            None if len(ids) == len(rows) and ids.cast(rows.type).equals(rows) else positions(ids, rows)
        )
    return data.derived["pos"]


def snapshot_columns(data: DayData) -> dict:
    """The score columns copied from the CRM snapshot (one conversion per snapshot)."""
    if "columns" not in data.derived:
        data.derived["columns"] = account_columns(data.accounts)
    return data.derived["columns"]


def day_outputs(
    engine: Engine,
    out: dict,
    resets: list[tuple[str, np.ndarray]],
    data: DayData,
    inp: DayInput,
    day: date,
    config: ScoringConfig,
    rank: bool = True,
) -> tuple[pa.Table, np.ndarray, pa.Table]:
    """The day's score rows (with each row's band code) and its changes; `resets` are the
    engine's (rule, account rows). `rank`: the rows are the whole day (no shards), so the
    percentile is worked out with them."""
    pos = snapshot_rows(engine, data)
    names = (
        "score",
        "accumulated",
        "breadth",
        "engaged_people",
        "new_people_14d",
        "points_today",
        "change_7d",
        "change_28d",
        "surge",
        "score_before",
        "role_mask",
        "health",
        "health_before",
    )
    # copies either way: Arrow wraps numpy arrays without copying, and the engine changes its arrays in place later
    if pos is None:
        values, customer, touch_ns, touch_sig = (
            {name: out[name].copy() for name in names},
            inp.customer.copy(),
            engine.touch_ns.copy(),
            engine.touch_sig.copy(),
        )
    else:
        values, customer, touch_ns, touch_sig = (
            {name: out[name][pos] for name in names},
            inp.customer[pos],
            engine.touch_ns[pos],
            engine.touch_sig[pos],
        )
    static = snapshot_columns(data)
    scores, band = score_table(day, config, static, values, customer, touch_ns, touch_sig, engine.signals, rank=rank)
    before, score = values["score_before"], values["score"]
    parts = [
        change_table(
            pa.array(list(engine.accounts[rows]), pa.string()),
            day,
            "reset",
            rule,
            out["score_before"][rows],
            out["score"][rows],
        )
        for rule, rows in resets
    ]
    parts += [
        p
        for p in (
            band_changes(static["account_id"], before, score, band, day, config),
            alert_changes(static["account_id"], data.accounts, before, score, customer, day, config),
        )
        if p is not None
    ]
    parts += health_changes(static["account_id"], data.accounts, values["health_before"], values["health"], score, day)
    return scores, band, sorted_changes(parts)


def day_rows(rows: pa.Table, spans: dict[int, tuple[int, int]], day: date) -> pa.Table:
    lo, hi = spans.get(day.toordinal(), (0, 0))
    return rows.slice(lo, hi - lo)
