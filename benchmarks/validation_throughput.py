"""Validation throughput: Great Expectations over one day of N web events.

    PYTHONPATH=. .venv/bin/python -m benchmarks.validation_throughput --rows 1000000

Builds a raw web partition of N rows by tiling a generated sample day (unique event_ids, the
generator's ~1% realistic defects included), then times validate_events on it: the suite run,
the quarantine split and every write (valid, quarantine, summary, Data Docs, id index).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from include.sample import generate
from include.scoring.core.config import load_config
from include.scoring.core.contracts import raw_schema
from include.scoring.extract.stage import extract_events
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.validate.stage import validate_events

DAY = date(2026, 10, 14)


def build_partition(lake: Lake, rows: int, work: Path) -> None:
    summary = generate(work / "sample", accounts=400, days=1, end_date=DAY, seed=5, bad_rows=0.01)
    extract_events(summary.out / "landing", lake, "web", DAY)
    seed = lake.read_df(catalog.raw("web"), DAY)
    reps = int(np.ceil(rows / len(seed)))
    big = pd.concat([seed] * reps, ignore_index=True).iloc[:rows].copy()
    copy_no = np.repeat(np.arange(reps), len(seed))[:rows].astype(str)
    big["event_id"] = big["event_id"].astype(object) + "-" + copy_no
    big["source_line"] = np.arange(2, rows + 2)
    lake.write_partition(catalog.raw("web"), DAY, big, schema=raw_schema("web"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="benchmarks/results/validation_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        work = Path(tmp)
        lake = Lake(str(work / "lake"))
        build_partition(lake, args.rows, work)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        result = validate_events(lake, load_config(), "web", DAY)
        seconds = time.perf_counter() - t0
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = {
        "benchmark": "validate web (Great Expectations, 19 expectations)",
        "rows": result.rows,
        "quarantined": result.quarantined,
        "seconds": round(seconds, 2),
        "rows_per_second": round(result.rows / seconds),
        "peak_rss_mb": round(rss_after / 1024),
        "peak_rss_mb_before_validate": round(rss_before / 1024),
        "machine": {
            "python": platform.python_version(),
            "cpu_count": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    from benchmarks.report import write_results

    write_results(Path(args.out).parent, Path(__file__).resolve().parent / "RESULTS.md")


if __name__ == "__main__":
    main()
