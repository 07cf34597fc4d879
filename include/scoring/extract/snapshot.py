"""The CRM snapshot of day D: raw/crm/<table>/dt=D, through the connector the CRM URL names.

A SQL CRM is read whole every day (as it always was). An API CRM (Salesforce, HubSpot) is read
whole the first time, when `crm.full_refresh_days` have passed since its last full read, and on
demand (`extract --crm-full-refresh`, the DAG's `crm_full_refresh` param); on the other days only
the records modified since the last snapshot's high-water mark (less `crm.overlap_minutes`) are
read and merged into that snapshot by id. The marks live in sync/crm/dt=D beside the snapshot, so
re-running D reads from the same starting point and writes the same partitions. Deletions show
at the next full read.

Rows are sorted by id; `source_file` says what each row was read from (`crm:accounts`,
`salesforce:Task`, `hubspot:calls`) and `source_line` is its place in the snapshot.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.contracts import CONTRACTS, CRM_TABLES, raw_schema
from include.scoring.core.errors import PipelineError
from include.scoring.core.results import StageResult
from include.scoring.core.urls import mask_url
from include.scoring.crm.connector import CrmRead, CrmTable, connector_for
from include.scoring.extract.coerce import coerce_to_contract
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.privacy.suppression import drop_suppressed

log = logging.getLogger(__name__)
SYNC_SCHEMA = pa.schema(
    [("crm", pa.string()), ("object", pa.string()), ("watermark", pa.string()), ("full_read_on", pa.date32())]
)


def _describe(result: StageResult) -> str:
    c, d = result.counts, result.details
    notes = [f"{d['crm']} {d['mode']} read"]
    if d.get("mode") == "incremental":
        notes.append(f"{c['changed']:,} changed")
    if c.get("api_calls"):
        notes.append(f"{c['api_calls']:,} API calls")
    if c.get("rows_with_errors"):
        notes.append(f"{c['rows_with_errors']:,} with unreadable values")
    if c.get("erased"):
        notes.append(f"{c['erased']:,} erased (privacy suppression list)")
    if c.get("skipped"):
        notes.append(f"{c['skipped']:,} CRM records not in the contract (see warnings)")
    return f"extract {result.unit:<18} {result.day}  {c['rows']:>9,} rows ({'; '.join(notes)}) -> {result.path}"


def previous_sync(lake: Lake, day: date) -> tuple[date, pd.DataFrame] | None:
    """The latest sync marks of a day before D (and that day), or None."""
    earlier = [d for d in lake.days(catalog.CRM_SYNC) if d < day]
    if not earlier:
        return None
    last = max(earlier)
    return last, lake.read_df(catalog.CRM_SYNC, last)


def read_since(lake: Lake, day: date, crm_id: str, config: ScoringConfig) -> tuple[dict[str, str] | None, date | None]:
    """Per CRM object, where an incremental read of D starts, and the snapshot day it extends;
    (None, None) when D must read everything (first read, another CRM, a full refresh due, or
    the previous snapshot is gone)."""
    found = previous_sync(lake, day)
    if found is None:
        return None, None
    base_day, marks = found
    if marks.empty or (marks["crm"] != crm_id).any():
        return None, None
    oldest_full = pd.to_datetime(marks["full_read_on"]).min().date()
    if (day - oldest_full).days >= config.crm.full_refresh_days:
        log.info("CRM full read on %s: the last full read was on %s", day, oldest_full)
        return None, None
    if not all(lake.exists(catalog.raw(f"crm/{t}"), base_day) for t in CRM_TABLES):
        return None, None
    overlap = pd.Timedelta(minutes=config.crm.overlap_minutes)
    since = {
        row.object: (pd.Timestamp(row.watermark) - overlap).isoformat()
        for row in marks.itertuples()
        if isinstance(row.watermark, str) and row.watermark
    }
    # an object without a mark had no records: read it whole (cheap), the others from their marks
    return since, base_day


def _sync_rows(read: CrmRead, crm_id: str, day: date, previous: pd.DataFrame | None) -> pd.DataFrame:
    before = previous.set_index("object") if previous is not None and len(previous) else None
    rows = []
    for obj, mark in read.watermarks.items():
        old = before.loc[obj] if before is not None and obj in before.index else None
        incremental = read.modes.get(obj) == "incremental" and old is not None
        rows.append(
            {
                "crm": crm_id,
                "object": obj,
                "watermark": mark if mark else (old["watermark"] if old is not None else None),
                "full_read_on": old["full_read_on"] if incremental else day,
            }
        )
    return pd.DataFrame(rows, columns=SYNC_SCHEMA.names)


def _lineage(typed: pa.Table, origin: np.ndarray, errors: np.ndarray, source: str) -> pa.Table:
    table = typed.append_column("source_file", pa.array(origin, pa.string()))
    table = table.append_column("source_line", pa.array(np.zeros(typed.num_rows, np.int64)))
    table = table.append_column("coercion_errors", pa.array(errors, pa.string()))
    return table.cast(raw_schema(source))


def _snapshot(lake: Lake, day: date, read: CrmTable, base_day: date | None, sort: bool) -> tuple[pa.Table, int]:
    """The table of D in raw columns (lineage included), merged into the base snapshot when the
    read was incremental; and how many rows the read brought."""
    source = f"crm/{read.name}"
    contract = CONTRACTS[source]
    errors = np.full(read.table.num_rows, None, dtype=object)
    table = _lineage(coerce_to_contract(read.table, contract, errors), read.origin, errors, source)
    if read.mode == "incremental" and base_day is not None:
        base = lake.read(catalog.raw(source), base_day)
        replaced = pc.is_in(
            base.column(contract.id_column), value_set=table.column(contract.id_column).combine_chunks()
        )
        table = pa.concat_tables([base.filter(pc.invert(pc.fill_null(replaced, False))), table])
    if sort:
        table = table.take(pc.sort_indices(table, sort_keys=[(contract.id_column, "ascending", "at_end")]))
    lines = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    return table.set_column(table.schema.get_field_index("source_line"), "source_line", lines), read.table.num_rows


def extract_crm(
    crm_url: str, lake: Lake, day: date, config: ScoringConfig | None = None, full_refresh: bool = False
) -> list[StageResult]:
    """The CRM's four tables as day D's snapshot into raw/crm/<table>/dt=D (see the module doc)."""
    config = config or load_config()
    crm_id = mask_url(crm_url)
    try:
        with connector_for(crm_url, config) as crm:
            since, base_day = None, None
            if crm.incremental and config.crm.incremental and not full_refresh:
                since, base_day = read_since(lake, day, crm_id, config)
            read = crm.read(since)
            kind = crm.kind
    except PipelineError as exc:
        raise type(exc)(f"{exc} (CRM snapshot of {day})") from None
    results = []
    for name in CRM_TABLES:
        source = f"crm/{name}"
        snapshot, changed = _snapshot(lake, day, read.tables[name], base_day, sort=kind != "sql")
        table, erased = drop_suppressed(lake, source, snapshot)
        path = lake.write_partition(catalog.raw(source), day, table, schema=raw_schema(source))
        skipped = read.skipped.get(name, {})
        counts = {
            "rows": table.num_rows,
            "files": 1,
            "rows_with_errors": table.num_rows - table.column("coercion_errors").null_count,
            "erased": erased,
            "changed": changed,
            "skipped": sum(skipped.values()),
            "api_calls": read.api_calls if name == CRM_TABLES[-1] else 0,
        }
        mode = read.tables[name].mode if base_day is not None else "full"
        warnings = [f"{count:,} {reason}: not part of the {name} snapshot" for reason, count in sorted(skipped.items())]
        results.append(
            StageResult(
                "extract",
                source,
                day,
                [path],
                counts,
                {"skipped": dict(skipped)},
                {"crm": kind, "mode": mode},
                warnings,
                describe=_describe,
            )
        )
    if kind != "sql":
        previous = previous_sync(lake, day) if base_day is not None else None
        sync = _sync_rows(read, crm_id, day, previous[1] if previous else None)
        lake.write_partition(catalog.CRM_SYNC, day, sync, schema=SYNC_SCHEMA)
    return results
