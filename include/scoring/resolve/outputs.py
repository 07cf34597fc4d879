"""What a resolve shard writes: its part of resolved/ (in time order, grouped by account shard),
unresolved/, filtered/ and resolution/ (the counts per source and method or reason), and the
result line the task logs."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import take_rows
from include.scoring.core.results import StageResult
from include.scoring.lake import catalog
from include.scoring.lake.sharding import split_by_shard
from include.scoring.lake.store import Lake

log = logging.getLogger(__name__)

#: the resolved partition's columns, in the order the lake catalog declares them
RESOLVED_COLUMNS = list(catalog.RESOLVED_COLUMNS)
_S = pa.string()
RESOLVED_SCHEMA = pa.schema(
    [
        ("event_id", _S),
        ("source", _S),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event_type", _S),
        ("account_id", _S),
        ("person_key", _S),
        ("contact_id", _S),
        ("role", _S),
        ("resolution_method", _S),
        ("url", _S),
        ("form_type", _S),
        ("campaign_id", _S),
        ("platform", _S),
    ]
)
UNRESOLVED_SCHEMA = pa.schema(
    [("event_id", _S), ("source", _S), ("event_time", pa.timestamp("us", tz="UTC")), ("event_type", _S), ("reason", _S)]
)
FILTERED_SCHEMA = pa.schema(
    [
        ("event_id", _S),
        ("source", _S),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event_type", _S),
        ("account_id", _S),
        ("person_key", _S),
        ("reason", _S),
    ]
)
#: columns with a value per event: a dictionary gains nothing on them and costs a hash per value
_PER_EVENT = ("event_id", "event_time", "person_key")


def _dictionary(schema: pa.Schema) -> list[str]:
    return [name for name in schema.names if name not in _PER_EVENT]


METRICS_SCHEMA = pa.schema([("source", _S), ("outcome", _S), ("key", _S), ("events", pa.int64())])


def _describe(result: StageResult) -> str:
    c = result.counts
    humans = c["events"] - c["filtered"]
    rate = c["resolved"] / humans if humans else 0.0
    methods = ", ".join(f"{k} {v:,}" for k, v in sorted(result.breakdowns["by_method"].items(), key=lambda kv: -kv[1]))
    return (
        f"resolve {result.day}  {c['events']:>9,} events -> {c['resolved']:,} resolved ({rate:.1%} of human), "
        f"{c['unresolved']:,} unresolved, {c['filtered']:,} filtered  [{methods}]"
    )


#: the order resolved/ is written in: the order scoring takes events in
TIME_ORDER = [("event_time", "ascending", "at_end"), ("event_id", "ascending", "at_end")]
_ORDER_SCHEMA = pa.schema([RESOLVED_SCHEMA.field("event_time"), RESOLVED_SCHEMA.field("event_id")])


def in_time_order(resolved: pd.DataFrame) -> pa.Table:
    """Resolved events as written: in (event_time, event_id) order, the order scoring takes them
    in, so the score stage checks the order in one pass (or merges the parts of a sharded day)
    instead of sorting every column."""
    return pa.Table.from_pandas(resolved, schema=RESOLVED_SCHEMA, preserve_index=False).take(time_order(resolved))


def time_order(events: pd.DataFrame) -> np.ndarray:
    """Positions of a shard's events in (event_time, event_id) order, whatever their outcome: the
    resolved ones, taken in this order, are `in_time_order`. It needs no resolution, so a whole-day
    run works it out on its helper thread."""
    keys = pa.Table.from_pandas(events[_ORDER_SCHEMA.names], schema=_ORDER_SCHEMA, preserve_index=False)
    return np.asarray(pc.sort_indices(keys, sort_keys=TIME_ORDER))


def write_shard_outputs(
    lake: Lake, day: date, ev: pd.DataFrame, shard: int, shards: int, order: np.ndarray | None = None
) -> StageResult:
    """Write a resolved shard's outputs (`order`: its events' `time_order`, when worked out)."""
    filtered = ev["filter_reason"].notna()
    resolved = ~filtered & ev["account_id"].notna()
    unresolved = ~filtered & ev["account_id"].isna()
    order = time_order(ev) if order is None else order
    in_time = order[resolved.to_numpy()[order]]  # the resolved events' positions, in time order
    res = ev.loc[resolved, ["source", "resolution_method"]]
    # Unresolved and filtered rows keep the order of the valid partitions (source by source, file by file).
    unres = ev.loc[unresolved, UNRESOLVED_SCHEMA.names]
    filt = ev.loc[
        filtered, ["event_id", "source", "event_time", "event_type", "account_id", "person_key", "filter_reason"]
    ].rename(columns={"filter_reason": "reason"})
    # Arrow's take and Parquet's writer each work on one thread and release the GIL: the resolved
    # columns are gathered two at a time, and the other outputs written while resolved/ is.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="resolve-outputs") as pool:
        table = pa.Table.from_pandas(ev[RESOLVED_COLUMNS], schema=RESOLVED_SCHEMA, preserve_index=False)
        in_order, split = take_rows(table, in_time, pool), None
        del table
        rest = pool.submit(_write_unresolved_filtered_metrics, lake, day, shard, shards, res, unres, filt)
        if shards > 1:  # grouped by account shard: each score shard reads only its rows of this part
            in_order, split = split_by_shard(in_order, "account_id", shards)
        path = lake.write_part(
            catalog.RESOLVED,
            day,
            shard,
            shards,
            in_order,
            RESOLVED_SCHEMA,
            dictionary=_dictionary(RESOLVED_SCHEMA),
            split=split,
        )
        rest.result()
    counts = {
        "events": len(ev),
        "resolved": int(resolved.sum()),
        "unresolved": int(unresolved.sum()),
        "filtered": int(filtered.sum()),
    }
    breakdowns = {
        "by_method": _counts(res["resolution_method"]),
        "by_reason": _counts(unres["reason"]),
        "filtered_by_reason": _counts(filt["reason"]),
    }
    result = StageResult("resolve", f"shard {shard + 1}/{shards}", day, [path], counts, breakdowns, describe=_describe)
    log.info(f"shard {shard + 1}/{shards}: " + result.line() if shards > 1 else result.line())
    return result


def _write_unresolved_filtered_metrics(
    lake: Lake, day: date, shard: int, shards: int, res: pd.DataFrame, unres: pd.DataFrame, filt: pd.DataFrame
) -> None:
    lake.write_part(
        catalog.UNRESOLVED, day, shard, shards, unres, UNRESOLVED_SCHEMA, dictionary=_dictionary(UNRESOLVED_SCHEMA)
    )
    lake.write_part(
        catalog.FILTERED, day, shard, shards, filt, FILTERED_SCHEMA, dictionary=_dictionary(FILTERED_SCHEMA)
    )
    metrics = pd.concat(
        [
            _counted(res, "resolution_method", "resolved"),
            _counted(unres, "reason", "unresolved"),
            _counted(filt, "reason", "filtered"),
        ],
        ignore_index=True,
    ).reindex(columns=METRICS_SCHEMA.names)
    lake.write_part(catalog.RESOLUTION, day, shard, shards, metrics.astype({"events": "int64"}), schema=METRICS_SCHEMA)


def _counted(rows: pd.DataFrame, key: str, outcome: str) -> pd.DataFrame:
    """Events per source and `key` (method or reason) of one outcome: resolution/'s rows."""
    counts = rows.groupby(["source", key]).size().rename("events").reset_index()
    return counts.rename(columns={key: "key"}).assign(outcome=outcome)


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().items()}
