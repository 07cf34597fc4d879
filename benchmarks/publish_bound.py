"""Publish against a bare COPY of the same rows into the same schema (`python -m benchmarks.publish_bound`).

    PYTHONPATH=. .venv/bin/python -m benchmarks.publish_bound [--runs 7]

The 1M-event day (`day1m`, the workload of benchmarks/run.py) is taken through score once and kept in
benchmarks/.work/day1m/lake-publish. Publish writes it once to a throwaway PostgreSQL database; the rows
it wrote (history, latest scores, resets, alerts, explanations, the pipeline_runs row) are read back and
kept as Parquet: the bound writes exactly those rows. Then, in turns (publish, bound, publish, bound ...),
each in a fresh process and into a fresh database whose tables were created beforehand (the same
SQLAlchemy schema, primary keys and indexes):

- **publish**: the publish stage's warehouse write as the DAG task runs it (benchmarks/stage.py: read the
  lake, build the rows and the reconciliation ledger, write them in one transaction, quality gate);
- **bare COPY**: connect, then COPY each table's rows (already in memory as Arrow) in, in one transaction,
  and commit, with publish's own COPY writer (warehouse.copy_rows: CSV rendered by pyarrow, streamed in
  batches). Nothing else: no lake, no row building, no upsert, no gate.

Each run's tables are checked against the reference row counts. The ratio is of the medians; min-max of
each side are shown, since single runs on a shared VM move by 20-30%. Writes
benchmarks/results/publish_bound.json and regenerates benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg  # noqa: F401 - the driver, imported before the clock starts (as benchmarks/stage.py does)
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from benchmarks.provenance import measured
from benchmarks.report import write_results
from benchmarks.run import DAY, RESULTS, ROOT, PostgresDatabase, spread, stage
from benchmarks.workloads import day_workload
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish import wire
from include.scoring.publish.tables import (
    account_explanations,
    account_score_history,
    account_scores,
    pipeline_runs,
    score_alerts,
    score_resets,
)
from include.scoring.publish.warehouse import copy_rows, ensure_schema

log = logging.getLogger("benchmarks.publish_bound")
#: the tables publish writes, in the order it writes them
WRITTEN = (account_score_history, account_scores, score_resets, score_alerts, account_explanations, pipeline_runs)
UPSTREAM = ("extract", "validate", "resolve", "score")


def scored_lake(folder: Path, day: date) -> Path:
    """The workload's lake through score (each stage once, in its own process), kept between runs."""
    lake_dir = folder / "lake-publish"
    marker = lake_dir / "scored.json"
    if marker.exists() and json.loads(marker.read_text()).get("day") == day.isoformat():
        return lake_dir
    sample = folder / "sample"
    for name in UPSTREAM:
        stage(name, lake_dir, day, sample)
    marker.write_text(json.dumps({"day": day.isoformat()}))
    return lake_dir


def create_schema(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            ensure_schema(conn)
    finally:
        engine.dispose()


def read_back(url: str, out: Path) -> dict[str, int]:
    """The rows publish wrote, table by table, as Parquet in `out` (typed as the warehouse table)."""
    out.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    counts = {}
    try:
        with engine.connect() as conn:
            for table in WRITTEN:
                rows = conn.execute(sa.select(table)).all()
                columns = list(zip(*rows, strict=True)) if rows else [[] for _ in table.columns]
                arrow = pa.table(
                    [pa.array(list(values), wire.arrow_type(c)) for c, values in zip(table.columns, columns)],
                    schema=wire.schema(table),
                )
                pq.write_table(arrow, out / f"{table.name}.parquet")
                counts[table.name] = arrow.num_rows
    finally:
        engine.dispose()
    return counts


def table_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in WRITTEN}
    finally:
        engine.dispose()


def bare_copy(url: str, rows_dir: Path) -> float:
    """Seconds to COPY the kept rows into the (existing, empty) tables of `url` in one transaction."""
    tables = [(t, pq.read_table(rows_dir / f"{t.name}.parquet")) for t in WRITTEN]
    t0 = time.perf_counter()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table, rows in tables:
                if rows.num_rows:
                    copy_rows(conn, table.name, table, rows)
        return time.perf_counter() - t0
    finally:
        engine.dispose()


def _publish_process(code: Path, lake_dir: Path, url: str) -> float:
    """The publish task in a fresh process, with the code of `code` (this tree, or another checkout)."""
    cmd = [sys.executable, "-m", "benchmarks.stage", "--stage", "publish", "--date", DAY.isoformat()]
    cmd += ["--lake", str(lake_dir), "--warehouse-url", url]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env={**os.environ, "PYTHONPATH": str(code)})
    if out.returncode != 0:
        raise RuntimeError(f"publish ({code}) failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def _bound_process(url: str, rows_dir: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.publish_bound", "--copy-into", url, "--rows", str(rows_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"bare COPY failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def benchmark(runs: int, before: Path | None = None) -> dict:
    folder = day_workload("day1m", 100_000, 1.3, DAY)
    lake_dir = scored_lake(folder, DAY)
    rows_dir = folder / "publish-rows"
    with PostgresDatabase() as url:
        create_schema(url)
        stage("publish", lake_dir, DAY, warehouse=url)
        counts = read_back(url, rows_dir)
    log.info("rows publish writes: %s", counts)
    sides = {"publish": ROOT, **({"publish_before": before} if before else {}), "bare_copy": None}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for n in range(runs):
        for name, code in sides.items():
            with PostgresDatabase() as url:
                create_schema(url)
                seconds = _bound_process(url, rows_dir) if code is None else _publish_process(code, lake_dir, url)
                times[name].append(round(seconds, 2))
                if table_counts(url) != counts:
                    raise RuntimeError(f"{name} run {n + 1} wrote {table_counts(url)}, expected {counts}")
        log.info("run %d: %s", n + 1, ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    lake = Lake(str(lake_dir))
    result = {
        "workload": "day1m",
        "day": DAY.isoformat(),
        "accounts": lake.row_count(catalog.SCORES, DAY),
        "rows": counts,
        **{name: spread(seconds) for name, seconds in times.items()},
        "ratio": round(statistics.median(times["publish"]) / statistics.median(times["bare_copy"]), 2),
        "load_average": os.getloadavg(),
        "measured": measured(),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs of each side, in turns (default 7)")
    parser.add_argument(
        "--before", type=Path, help="a checkout of the code before a change: its publish joins the turns too"
    )
    parser.add_argument("--copy-into", help=argparse.SUPPRESS)  # one bare COPY run, in this process
    parser.add_argument("--rows", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.copy_into:
        print(json.dumps({"seconds": bare_copy(args.copy_into, args.rows)}))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = benchmark(args.runs, args.before)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "publish_bound.json").write_text(json.dumps(result, indent=2))
    write_results(RESULTS, ROOT / "benchmarks" / "RESULTS.md")
    p, b = result["publish"], result["bare_copy"]
    print(
        f"publish {p['median']:.2f} s (min {p['min']:.2f}, max {p['max']:.2f}) vs bare COPY {b['median']:.2f} s "
        f"(min {b['min']:.2f}, max {b['max']:.2f}): {result['ratio']:.2f}x"
        + (f"; publish before {result['publish_before']['median']:.2f} s" if args.before else "")
    )


if __name__ == "__main__":
    main()
