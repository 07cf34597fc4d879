"""The order of a day's resolved rows and the distinctness of their event ids, as contributions
(contributions.py) need them: rows in (day, event_time, event_id) order, each event id once.

Resolve writes each day's events in time order, so that order is checked (one pass) rather than
made; the parts of a sharded day, each in order, are merged by a stable sort on time (linear in
rows for a few sorted runs), their columns gathered on two threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import take_rows, to_arrow
from include.scoring.core.hashing import fingerprints
from include.scoring.score.engine import times_ns


def is_time_ordered(ev: pd.DataFrame) -> bool:
    """The rows are in (day, event_time, event_id) order already."""
    if len(ev) < 2:
        return True
    time = ev["event_time"]
    if time.isna().any():
        return False
    return _in_order(ev["day"].to_numpy(dtype=np.int64), times_ns(time), to_arrow(ev["event_id"]))


def _in_order(day: np.ndarray, time: np.ndarray, ids: pa.Array | pa.ChunkedArray) -> bool:
    """Rows with these days, times (any unit, none missing) and ids are in (day, time, id) order."""
    step_day, step_time = np.diff(day), np.diff(time)
    if ((step_day < 0) | ((step_day == 0) & (step_time < 0))).any():
        return False
    tie = pa.array(np.flatnonzero((step_day == 0) & (step_time == 0)))  # same day and time: the event id decides
    in_order = pc.less_equal(ids.take(tie), ids.take(pc.add(tie, 1)))
    return in_order.null_count == 0 and pc.all(in_order).as_py() is not False


def merge_order(table: pa.Table) -> np.ndarray | None:
    """The row positions that put `table` (distinct event ids, every row with a time) in (day,
    event_time, event_id) order; None when it is in that order already. Rows as resolve writes
    them are only checked; rows from several parts each in that order (a sharded day's parts) are
    merged by a stable sort on time (linear in rows for a few sorted runs), the event id deciding
    only among rows of equal time."""
    if table.num_rows < 2:
        return None
    day = np.asarray(table.column("day").to_numpy(), dtype=np.int64)
    time = np.asarray(
        table.column("event_time").cast(pa.int64()).to_numpy(), dtype=np.int64
    )  # in the column's unit: the same order
    ids = table.column("event_id")
    if _in_order(day, time, ids):
        return None
    order = np.argsort(time, kind="stable") if (day == day[0]).all() else np.lexsort((time, day))
    day_at, time_at = day[order], time[order]
    tied = (np.diff(day_at) == 0) & (np.diff(time_at) == 0)
    if tied.any():  # rows of equal time (from different runs): each such group in event-id order
        slots = np.flatnonzero(np.concatenate([tied, [False]]) | np.concatenate([[False], tied]))
        rows = order[slots]
        ties = pa.table({"day": day[rows], "time": time[rows], "id": ids.take(pa.array(rows))})
        order[slots] = rows[
            np.asarray(
                pc.sort_indices(
                    ties, sort_keys=[("day", "ascending"), ("time", "ascending"), ("id", "ascending", "at_end")]
                ).to_numpy(),
                dtype=np.int64,
            )
        ]
    return order


def in_merge_order(table: pa.Table, order: np.ndarray | None) -> pa.Table:
    """`table`'s rows at `order` (`merge_order`'s), the columns gathered on two threads (millions of
    text values); `table` itself for None."""
    if order is None:
        return table
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="merge-take") as pool:
        return take_rows(table, order, pool)


def codes_in_merge_order(values: pa.Array, codes: np.ndarray, order: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Codes of rows as read (`text_codes`: values in order of first appearance, null one past the
    end) for the rows at `order`, renumbered so the values are in order of first appearance there."""
    reordered = codes[order]
    seen = pd.unique(reordered)
    seen = seen[seen < len(values)]  # a value no row holds is left out
    renumber = np.full(len(values) + 1, len(seen), np.int64)  # null: one past the end
    renumber[seen] = np.arange(len(seen))
    return values.take(pa.array(seen, pa.int64())), renumber[reordered]


def ids_distinct(ids: pa.ChunkedArray | pa.Array) -> bool:
    """No event id repeats (the usual case). The ids' fingerprints are sorted and compared: a few
    numpy passes, where a hash table of millions of strings is several times slower. Only when
    two fingerprints are equal are the ids themselves compared (a null id is one value, as in
    first_rows_of_ids)."""
    prints = np.sort(fingerprints(ids))
    if not (prints[1:] == prints[:-1]).any():
        return True
    return len(pc.unique(ids)) == len(ids)


def first_rows_of_ids(events: pd.DataFrame) -> pd.DataFrame:
    """Each event id once (the first row of a repeated id); a sort when the ids are not in order
    is several times slower than `ids_distinct`, which the caller asks first."""
    return events[_first_of_each(events["event_id"])]


def _runs(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A stable sort of a text column and where each run of equal values (nulls are one value)
    starts in it. When nearly every value differs (event ids), sorting beats hashing."""
    arr = to_arrow(values)
    order = np.asarray(pc.sort_indices(arr).to_numpy(), dtype=np.int64)  # stable: a run keeps the rows' order
    ordered = arr.take(order)
    n = len(arr)
    if n < 2:
        return order, np.ones(n, bool)
    head, tail = ordered.slice(0, n - 1), ordered.slice(1)
    nulls = pc.and_(pc.is_null(head), pc.is_null(tail))
    same = pc.or_(pc.fill_null(pc.equal(head, tail), False), nulls)
    return order, np.r_[True, ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)]


def _first_of_each(values: pd.Series) -> np.ndarray:
    """True where a text value appears for the first time (nulls count as one value): `~duplicated()`."""
    order, starts = _runs(values)
    first = np.zeros(len(order), bool)
    first[order[starts]] = True
    return first
