"""The warehouse rows of a day, built from the score stage's Arrow tables with Arrow compute.

Pure logic (Arrow in, Arrow out; no lake, no database): publish (stage.py) reads the day's
partitions, builds its rows here and hands them to warehouse.py, which writes them in bulk. No
Python loop runs over accounts or rows; the only loops are over a config's few alert rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import flat

#: the columns of account_explanations, in the order they are built
EXPLANATION_COLUMNS = ("account_id", "kind", "key", "as_of", "label", "points")
RESET_COLUMNS = ("account_id", "as_of", "rule", "score_before", "score_after")
#: what an alert without an address records as its error: "no <audience>" + this
MISSING_ADDRESS_HINT = " address (set notifications.manager_email or the account's owner/SDR in the CRM)"
MISSING_RECIPIENT = "no {}" + MISSING_ADDRESS_HINT


def _const(value, n: int, kind: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, kind), n)


def of_kind(changes: pa.Table, kind: str) -> pa.Table:
    """The changes of one kind (reset, alert, band_change), in their order."""
    return changes.filter(pc.equal(changes["kind"], kind))


def top_signals(ledger: pa.Table | None, accounts: pa.Array, n: int = 3) -> pa.Array:
    """For each of `accounts` (in their order): its `n` signals with the most points, as
    "signal points, ..." (points rounded to 2 decimals, printed as `{:g}`), strongest first
    (ties in the ledger's order); "" for an account without points. Only the accounts asked for
    are worked out (the day's alerts: a few hundred of 100k)."""
    if ledger is None or ledger.num_rows == 0 or len(accounts) == 0:
        return _const("", len(accounts), pa.string())
    wanted = pc.and_(pc.greater(ledger["points"], 0), pc.is_in(ledger["account_id"], value_set=accounts))
    rows = ledger.select(["account_id", "signal", "points"]).filter(wanted)
    if rows.num_rows == 0:
        return _const("", len(accounts), pa.string())
    # stable: among equal points the ledger's order decides, as it did with pandas' sort
    rows = rows.take(pc.sort_indices(rows, [("account_id", "ascending"), ("points", "descending")]))
    starts = _run_starts(rows["account_id"])
    rank = np.arange(rows.num_rows) - np.repeat(starts, np.diff(np.r_[starts, rows.num_rows]))
    rows = rows.filter(pa.array(rank < n)).combine_chunks()
    starts = _run_starts(rows["account_id"])
    points = np.round(rows["points"].to_numpy(), 2)  # numpy's rounding, as pandas' Series.round
    label = pc.binary_join_element_wise(rows["signal"].chunk(0), pa.array(np.char.mod("%g", points)), " ")
    offsets = pa.array(np.r_[starts, rows.num_rows], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, label), ", ")
    first = rows["account_id"].chunk(0).take(pa.array(starts))
    found = pc.index_in(flat(accounts), value_set=first)
    return pc.fill_null(joined.take(found), "")


def _run_starts(ids: pa.ChunkedArray) -> np.ndarray:
    """Where each run of equal values of a sorted column starts."""
    ids = flat(ids)
    changed = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    return np.flatnonzero(np.r_[True, changed])


def alert_rows(
    changes: pa.Table,
    scores: pa.Table,
    ledger: pa.Table | None,
    day: date,
    threshold_of: Callable[[str], float],
) -> pa.Table:
    """score_alerts rows of the day's alert crossings (status pending, or no_recipient when
    nobody is named), in the order of the changes; `threshold_of` maps a rule to its threshold."""
    alerts = of_kind(changes, "alert")
    n = alerts.num_rows
    found = pc.index_in(alerts["account_id"], value_set=scores["account_id"])  # a left join, order kept
    account = scores.select(["account_name", "band", "next_action"]).take(found)
    recipient = alerts["recipient"].combine_chunks()
    has_to = pc.fill_null(pc.greater(pc.utf8_length(recipient), 0), False)
    rules = pc.unique(alerts["rule"])  # a config's few rules: their thresholds once each
    thresholds = pa.array([threshold_of(r) for r in rules.to_pylist()], pa.float64())
    audience = alerts["audience"]
    missing = pc.binary_join_element_wise("no ", audience, MISSING_ADDRESS_HINT, "")
    return pa.table(
        {
            "account_id": alerts["account_id"],
            "threshold": thresholds.take(pc.index_in(alerts["rule"], value_set=rules)),
            "rule": alerts["rule"],
            "crossing_day": _const(day, n, pa.date32()),
            "audience": audience,
            "recipient": pc.if_else(has_to, recipient, pa.scalar(None, recipient.type)),
            "account_name": account["account_name"],
            "score_before": pc.cast(alerts["score_before"], pa.float64()),
            "score_after": pc.cast(alerts["score_after"], pa.float64()),
            "band": account["band"],
            "next_action": account["next_action"],
            "top_signals": top_signals(ledger, alerts["account_id"]),
            "status": pc.if_else(has_to, "pending", "no_recipient"),
            "attempts": _const(0, n, pa.int64()),
            "last_error": pc.if_else(has_to, pa.scalar(None, pa.string()), pc.cast(missing, pa.string())),
        }
    )


def reset_rows(changes: pa.Table) -> pa.Table:
    return of_kind(changes, "reset").select(list(RESET_COLUMNS))


def explanation_rows(signals: pa.Table | None, persons: pa.Table | None, scores: pa.Table, day: date) -> pa.Table:
    """account_explanations rows: each account's signals and persons of the carried state (as
    of D), and its breadth when it has some; in that order."""
    parts = []
    if signals is not None and signals.num_rows:
        n = signals.num_rows
        parts.append(
            (
                signals["account_id"],
                "signal",
                signals["signal"],
                _const(day, n, pa.date32()),
                signals["signal"],
                signals["points"],
            )
        )
    if persons is not None and persons.num_rows:
        n = persons.num_rows
        when = persons["last_positive_at"]
        if pa.types.is_timestamp(when.type) and when.type.tz is None:  # naive times are UTC
            when = pc.assume_timezone(when, "UTC")
        label = pc.binary_join_element_wise("last active ", pc.strftime(when, "%Y-%m-%d"), "")
        parts.append(
            (
                persons["account_id"],
                "person",
                persons["person_key"],
                _const(day, n, pa.date32()),
                label,
                persons["points"],
            )
        )
    breadth = scores.filter(pc.greater(scores["breadth"], 0))
    label = pc.binary_join_element_wise(
        pc.cast(breadth["engaged_people"], pa.string()), " people in the breadth window", ""
    )
    n = breadth.num_rows
    parts.append(
        (
            breadth["account_id"],
            "breadth",
            _const("breadth", n, pa.string()),
            breadth["as_of"],
            label,
            breadth["breadth"],
        )
    )
    tables = [
        pa.table(
            {
                "account_id": pc.cast(account, pa.string()),
                "kind": _const(kind, len(account), pa.string()),
                "key": pc.cast(key, pa.string()),
                "as_of": pc.cast(as_of, pa.date32()),
                "label": pc.cast(label, pa.string()),
                "points": pc.cast(points, pa.float64()),
            }
        )
        for account, kind, key, as_of, label, points in parts
    ]
    return pa.concat_tables(tables)
