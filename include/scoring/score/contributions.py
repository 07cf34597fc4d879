"""Contributions (SPEC section 5): each resolved event's points, as the score stage writes them
and steps the engine with them.

Points are the tier points of the event's signal times the person's role multiplier; the same
(account, person, signal, url or campaign, day) counts once; no signal earns an account more than
`daily_cap` points a day; a person completing the combination pair earns a one-off bonus row,
placed beside the event that completed it. Zero-point events are kept with their signal, so every
resolved event appears in contributions.

Rows are in (day, event_time, event_id) order: checked, or merged from a sharded day's parts
(event_order.py); the few bonus rows are slotted in by position, the events' columns are never
copied to make room. De-duplication looks at the rows whose signal has points only.
Everything is keyed by day, so one call can process one day (incremental) or a block of days
(replay) with identical results; the only carried state is the combination-bonus memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import lookup, sort_order, text_codes, text_column, to_arrow, to_series, values_at
from include.scoring.core.config import ScoringConfig
from include.scoring.score.engine import times_ns
from include.scoring.score.event_order import (
    codes_in_merge_order,
    first_rows_of_ids,
    ids_distinct,
    in_merge_order,
    is_time_ordered,
    merge_order,
)
from include.scoring.score.outputs import CONTRIB_SCHEMA
from include.scoring.score.signals import (
    BONUS_SIGNAL,
    classified,
    combination_bonus,
    group_keys,
    repeats_but_best,
    signal_base_points,
    signal_names,
)

ORDER = ["day", "event_time", "event_id"]
PAIR_COLUMNS = ["account_id", "person_key", "signal", "event_time"]
TEXT_AS_READ = ["event_id", "event_time", "source", "account_id", "person_key", "role"]
_ADJUSTMENTS = pa.array(["duplicate", "daily_cap"], pa.string())


@dataclass
class Contributions:
    """A block's contributions: the rows as written and, per row, what the engine steps with."""

    #: the columns of CONTRIB_SCHEMA (text as read, or large_string from a frame: the writer casts),
    #: in (day, event_time, event_id) order
    table: pa.Table
    day: np.ndarray  # the processing day, as days since 1970-01-01
    signals: np.ndarray  # position in signal_names()
    points: np.ndarray  # after multiplier, de-duplication and the cap
    positive: np.ndarray  # a positive-point signal (before de-duplication and the cap)
    reset: np.ndarray
    time_ns: np.ndarray
    accounts: pa.Array  # the distinct account ids, in order of first appearance among the events
    account_codes: np.ndarray  # position in `accounts`
    persons: pa.Array  # the distinct person keys, in order of first appearance among the events
    person_codes: np.ndarray  # position in `persons`; len(persons) for none
    pairs: pd.DataFrame  # the rows with a person and a combination signal: what the bonus memory needs


@dataclass
class _Part:
    """Scored rows of one kind (the events, or the bonus rows), each in (day, event_time, event_id) order."""

    table: pa.Table
    arrays: dict[str, np.ndarray]


def _scored(
    rows: pd.DataFrame,
    day: np.ndarray,
    account: np.ndarray,
    person: np.ndarray,
    signal: np.ndarray,
    target: np.ndarray,
    config: ScoringConfig,
    text: pa.Table | None = None,
    signal_text: pa.Array | None = None,
) -> _Part:
    """Points of rows in time order, given their codes (`target` >= 0: what counts as the same url
    or campaign; bonus rows are never de-duplicated). `text`: the rows' TEXT_AS_READ columns as read,
    taken as they are (else they come from the frame)."""
    names = signal_names(config)
    base = signal_base_points(config)[signal]
    multiplier = (
        lookup(rows["role"], pd.Series(config.points.role_multipliers, dtype=float))
        .astype(float)
        .fillna(1.0)
        .to_numpy()
    )
    points = base * multiplier
    time_ns = times_ns(rows["event_time"])
    day = day - day.min() if len(day) else day
    reset = np.isin(signal, [names.index(name) for name in config.reset_signals()])
    # events of an account up to that day's reset do not count (the engine drops them), so they
    # neither claim the one count of a repeated event nor use up the daily cap
    void = _up_to_reset(day, account, time_ns, reset)
    # The same (account, person, signal, url or campaign) on a day counts once, its best row; per account,
    # so shards stay exact. Only rows whose signal has points take part (zero-point signals cannot repeat).
    rows_with_points = np.flatnonzero((base != 0) & ~void & (signal != names.index(BONUS_SIGNAL)))
    repeat = np.zeros(len(points), bool)
    key = group_keys(*(codes[rows_with_points] for codes in (day, account, person, signal, target)))
    repeat[rows_with_points] = repeats_but_best(key, points[rows_with_points]) & (points[rows_with_points] > 0)
    scored = np.where(repeat, 0.0, points)
    counted = np.where(void, 0.0, scored)
    running = _running_within_cap(counted, day, account, signal, config.points.daily_cap)
    allowed = np.clip(config.points.daily_cap - (running - counted), 0, None)
    capped = ~void & (scored > allowed)
    scored = np.where(capped, allowed, scored)
    adjustment = np.where(repeat, 0, np.where(capped, 1, -1))

    def column(name: str) -> pa.Array | pa.ChunkedArray:
        if text is not None:  # as read; cast only when the file had another type (an all-null column is read as null)
            wanted = CONTRIB_SCHEMA.field(name).type
            return text.column(name) if text.column(name).type == wanted else text.column(name).cast(wanted)
        return pa.Array.from_pandas(rows[name]) if name == "event_time" else to_arrow(rows[name])

    # text from the frame is large_string: the writer casts it to CONTRIB_SCHEMA on its own thread
    table = pa.table(
        {
            "event_id": column("event_id"),
            "event_time": column("event_time"),
            "source": column("source"),
            "account_id": column("account_id"),
            "person_key": column("person_key"),
            "signal": signal_text if signal_text is not None else to_arrow(rows["signal"]),
            "base_points": pa.array(base),
            "multiplier": pa.array(multiplier),
            "points": pa.array(scored),
            "adjustment": _ADJUSTMENTS.take(pa.array(adjustment, mask=adjustment < 0)),
            "reset": pa.array(reset),
            "role": column("role"),
        }
    )
    arrays = {
        "day": rows["day"].to_numpy(dtype=np.int64),
        "signals": signal,
        "points": scored,
        "positive": points > 0,
        "reset": reset,
        "time_ns": time_ns,
        "account_codes": account,
        "person_codes": person,
    }
    return _Part(table, arrays)


def _up_to_reset(day: np.ndarray, account: np.ndarray, time_ns: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """True for rows at or before the last reset of their account on their day (`day` >= 0)."""
    void = np.zeros(len(time_ns), bool)
    if not reset.any():
        return void
    touched = np.zeros(int(account.max()) + 1, bool)
    touched[account[reset]] = True
    rows = np.flatnonzero(touched[account])  # the events of accounts with a reset: a few
    key = (day[rows] << 32) | account[rows]
    keys, where = np.unique(key[reset[rows]], return_inverse=True)
    last = np.full(len(keys), np.iinfo(np.int64).min, np.int64)
    np.maximum.at(last, where, time_ns[rows][reset[rows]])
    pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
    void[rows] = (keys[pos] == key) & (time_ns[rows] <= last[pos])
    return void


def _running_within_cap(
    counted: np.ndarray, day: np.ndarray, account: np.ndarray, signal: np.ndarray, cap: float
) -> np.ndarray:
    """Per (day, account, signal) in row order, the running sum of `counted` where it can matter; `counted`
    itself elsewhere (then cap - (running - counted) is the cap: nothing is capped). Groups whose
    positive points stay under the cap (most) are skipped, and when no points are negative, so are
    the zero-point rows (adding 0.0 changes no sum)."""
    rows = np.flatnonzero(counted > 0) if (counted >= 0).all() else np.arange(len(counted))
    running = counted.copy()
    if not len(rows):
        return running
    codes, _ = pd.factorize(group_keys(day[rows], account[rows], signal[rows]))
    part = counted[rows]
    near = (
        np.bincount(codes, weights=np.maximum(part, 0.0))[codes] > cap - 1e-6
    )  # a running sum never exceeds its group's positive total
    if near.any():
        running[rows[near]] = pd.Series(part[near]).groupby(codes[near], sort=False).cumsum().to_numpy()
    return running


def _insertions(ev: pd.DataFrame, time_ns: np.ndarray, extra: pd.DataFrame, winner: np.ndarray) -> np.ndarray:
    """Where each of the `extra` rows (sorted) goes among the events (sorted): the number of events
    whose (day, event_time, event_id) is not after it. An extra row has the day and time of its
    `winner` event, so only the events of that day and time are compared by id."""
    day = ev["day"].to_numpy(dtype=np.int64)
    new_group = np.r_[True, (np.diff(day) != 0) | (np.diff(time_ns) != 0)]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(ev)]
    group = np.cumsum(new_group)[winner] - 1
    lo, sizes = starts[group], ends[group] - starts[group]
    owner = np.repeat(np.arange(len(extra)), sizes)
    rows = np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    not_after = pc.less_equal(
        to_arrow(ev["event_id"]).take(pa.array(rows)), to_arrow(extra["event_id"]).take(pa.array(owner))
    )
    return lo + np.bincount(
        owner, weights=np.asarray(not_after.to_numpy(zero_copy_only=False), dtype=float), minlength=len(extra)
    ).astype(np.int64)


def _merge(events: _Part, extra: _Part, at: np.ndarray) -> _Part:
    """The extra rows slotted in before events[at]: the events' table is sliced, not copied."""
    added = extra.table.cast(events.table.schema)
    pieces, start = [], 0
    for k, position in enumerate(at.tolist()):  # one slice per bonus row (a handful a day), never per event
        pieces += [events.table.slice(start, position - start), added.slice(k, 1)]
        start = position
    pieces.append(events.table.slice(start))
    bounds = [0, *at.tolist()]

    def merged(values: np.ndarray, added: np.ndarray) -> np.ndarray:
        """np.insert(values, at, added), as one concatenation of slices (np.insert also builds a
        mask and an index the size of the events for each array)."""
        added = added.astype(values.dtype, copy=False)
        parts = []
        for k in range(len(at)):
            parts += [values[bounds[k] : bounds[k + 1]], added[k : k + 1]]
        parts.append(values[bounds[-1] :])
        return np.concatenate(parts)

    arrays = {name: merged(values, extra.arrays[name]) for name, values in events.arrays.items()}
    return _Part(pa.concat_tables(pieces), arrays)


def contributions(events: pa.Table | pd.DataFrame, config: ScoringConfig, bonus_state: pd.DataFrame) -> Contributions:
    """Points per resolved event, plus one-off bonus rows, given the bonus memory before them.

    `events` are resolved rows with a `day` column (the processing day each belongs to). Given as
    Arrow (as read), rows already in order keep their text columns as read: the written rows are
    then the read ones, with no conversion.
    """
    if not isinstance(events, pa.Table) or events.column("event_time").null_count:
        # a frame, or rows without a time (which the frame sort in _contributions places)
        return _contributions(events, False, ids_distinct(to_arrow(events["event_id"])), config, bonus_state)
    # Ids usually do not repeat: that is checked on a helper thread, which then works out the
    # accounts' and persons' codes (a hash of every row's text), while the rows are worked out as
    # if it holds (Arrow kernels and numpy release the GIL: both cores work); when an id repeats,
    # the work is redone the slow way, keeping its first row as read. Only the columns written are
    # put in time order (a sharded day's parts merged: a gather of millions of text values); the
    # signals and codes are worked out on the rows as read and reordered.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ids-and-codes") as helper:
        distinct = helper.submit(ids_distinct, events.column("event_id"))
        people = [helper.submit(text_codes, events.column(column)) for column in ("account_id", "person_key")]
        order = merge_order(events)
        ordered = in_merge_order(events.select([*TEXT_AS_READ, "day"]), order)
        signal, target = _signals_and_targets(events, config)
        codes = [code.result() for code in people]
        if order is not None:
            signal, target = signal[order], target[order]
            codes = [codes_in_merge_order(values, code, order) for values, code in codes]
        done = _contributions(ordered, True, True, config, bonus_state, (signal, target), codes)
        if distinct.result():
            return done
    return _contributions(events, False, False, config, bonus_state)


def _signals_and_targets(events: pa.Table | pd.DataFrame, config: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each row's signal (its position in signal_names) and, where its signal has points, a code
    for what counts as the same url or campaign in de-duplication: the URL path on the web, the
    campaign elsewhere (0 where the signal has no points: only equality among the rows with points
    matters)."""
    signal, paths, path_code = classified(events, config)
    with_points = np.flatnonzero(signal_base_points(config)[signal] != 0)
    target = np.zeros(len(signal), np.int64)
    if len(with_points):
        at = pa.array(with_points)
        path = to_arrow(values_at(paths, path_code[with_points]).fill_null(""))
        campaign = to_arrow(text_column(events, "campaign_id").take(at)).fill_null("")
        web = pc.fill_null(pc.equal(text_column(events, "source").take(at), "web"), False)
        target[with_points] = text_codes(pc.if_else(web, path, campaign))[1]
    return signal, target


def _contributions(
    rows: pa.Table | pd.DataFrame,
    in_order: bool,
    distinct: bool,
    config: ScoringConfig,
    bonus_state: pd.DataFrame,
    signals: tuple[np.ndarray, np.ndarray] | None = None,
    codes: list[tuple[pa.Array, np.ndarray]] | None = None,
) -> Contributions:
    """`contributions` of rows whose ids are known to be distinct or not; `in_order`: known to be
    in order; `signals`: the rows' signals and targets (`_signals_and_targets`) and `codes`: their
    accounts' and persons' (`text_codes`), when known."""
    table = rows if isinstance(rows, pa.Table) else None
    frame = table.to_pandas() if table is not None else rows
    ev = frame.copy(deep=False) if distinct else first_rows_of_ids(frame)  # an event counts once
    as_read = in_order or (distinct and is_time_ordered(ev))
    ev = ev.reset_index(drop=True) if as_read else ev.take(sort_order(ev, ORDER)).reset_index(drop=True)
    names = signal_names(config)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="contribution-codes") as helper:
        # unless known, the accounts' and persons' codes (a hash of every row's text, in Arrow:
        # the GIL is free) are worked out on a helper thread while the signals are
        pending = None if codes else [helper.submit(text_codes, ev[column]) for column in ("account_id", "person_key")]
        signal, target = _signals_and_targets(ev, config) if signals is None else signals
        signal_text = pa.array(names, pa.string()).take(pa.array(signal))
        ev["signal"] = to_series(signal_text, ev.index)
        bonus = combination_bonus(ev, config, bonus_state)
        (accounts, account), (persons, person) = codes or [code.result() for code in pending]
    day = ev["day"].to_numpy(dtype=np.int64)
    text = table.select(TEXT_AS_READ) if as_read and table is not None else None
    part = _scored(ev, day, account, person, signal, target, config, text, signal_text)
    pair_signals = [
        names.index(name) for name in config.points.combination_bonus.signals if name in names
    ]  # unchecked when the bonus is off
    pairs = ev.loc[np.isin(signal, pair_signals) & (person < len(persons)), PAIR_COLUMNS]
    if len(bonus):
        bonus = bonus.take(sort_order(bonus, ORDER)).reset_index(drop=True)
        winner = bonus["winner"].to_numpy(
            dtype=np.int64
        )  # the event that completed the pair: same account, person, day and time
        extra = _scored(
            bonus,
            day[winner],
            account[winner],
            person[winner],
            np.full(len(bonus), names.index(BONUS_SIGNAL)),
            np.zeros(len(bonus), np.int64),
            config,
        )
        part = _merge(part, extra, _insertions(ev, part.arrays["time_ns"], bonus, winner))
        pairs = pd.concat([pairs, bonus[PAIR_COLUMNS]], ignore_index=True)
    return Contributions(table=part.table, accounts=accounts, persons=persons, pairs=pairs, **part.arrays)
