"""Reference (a) of the benchmarks: the least any stage can do with its data.

For a stage and day: read its input partitions with pyarrow and write its output partitions'
tables to a scratch folder with pyarrow (same compression), nothing else. The outputs are read
first, outside the timing, so their sizes are exactly the real stage's.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

EVENTS = ("web", "email", "ad")
CRM = ("crm/accounts", "crm/contacts", "crm/activities", "crm/opportunities")
IO = {
    "extract": ([f"raw/{s}" for s in CRM], [f"raw/{s}" for s in (*EVENTS, *CRM)]),
    "validate": (
        [f"raw/{s}" for s in (*EVENTS, *CRM)],
        [f"{k}/{s}" for k in ("valid", "quarantine") for s in (*EVENTS, *CRM)],
    ),
    "resolve": (
        [f"valid/{s}" for s in (*EVENTS, "crm/accounts", "crm/contacts", "crm/activities")],
        ["resolved", "unresolved", "filtered", "identity"],
    ),
    "score": (
        ["resolved", "valid/crm/accounts", "valid/crm/opportunities"],
        ["contributions", "scores", "changes", "daily_points", "state", "state_ledger", "state_persons"],
    ),
    "publish": (["scores", "changes", "state_ledger", "state_persons"], ["scores", "changes", "state_ledger"]),
}


def _landing_reads(landing: Path, day: date) -> None:
    for source in EVENTS:
        for path in sorted((landing / source / day.isoformat()).glob("*")):
            if path.suffix == ".csv":
                pacsv.read_csv(path)
            elif path.suffix == ".jsonl":
                pajson.read_json(path)
            elif path.suffix == ".parquet":
                pq.read_table(path)


def lower_bound(lake: Lake, stage: str, day: date, landing: Path | None = None) -> float:
    inputs, outputs = IO[stage]
    tables = {name: lake.read(catalog.CATALOG[name], day, missing_ok=True) for name in outputs}
    with tempfile.TemporaryDirectory(prefix="bench-lb-") as scratch:
        t0 = time.perf_counter()
        if stage == "extract" and landing is not None:
            _landing_reads(landing, day)
        for name in inputs:
            lake.read(catalog.CATALOG[name], day, missing_ok=True)
        for name, table in tables.items():
            if table is not None:
                pq.write_table(table, Path(scratch) / f"{name.replace('/', '_')}.parquet", compression="zstd")
        return time.perf_counter() - t0
