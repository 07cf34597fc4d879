"""Reference (b), the full model: a day's scoring as a data team might write it in DuckDB SQL.

Everything the score stage does for a day (SPEC sections 5 and 7), written independently of
`include/scoring/score/`: contributions with signals, role multipliers, the combination bonus,
resets, de-duplication and the daily cap (`duckdb_score_contrib`); the per-account state machine
with resets, decay, the accumulation window, idle halving, breadth, buying group, trend, surge and
customer health (`duckdb_score_step`); the score rows with bands, percentiles and next actions, and
the changes with alerts (`duckdb_score_outputs`). It writes, like the stage, every event's
contribution (the explanation of every point), the day's score rows and changes, and the state the
next day starts from, to Parquet. It keeps its own state (`<out>/state/dt=D/`), so a run of days
must start at the first day with events and go in order; `duckdb_score_check` compares a day's
outputs with the score stage's, row by row.

Not covered: account shards (it scores the whole day in one process), replays from checkpoints,
and events whose id repeats within a day (resolve writes each id once). DuckDB runs on 2 threads.

    PYTHONPATH=. .venv/bin/python -m benchmarks.duckdb_score_ref --lake LAKE --start D1 --end D2 --out DIR [--compare]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from benchmarks.duckdb_common import part_files, quote
from benchmarks.duckdb_score_contrib import CONTRIBUTIONS, bonus_after_sql, contributions_sql
from benchmarks.duckdb_score_outputs import outputs_sql
from benchmarks.duckdb_score_step import step_sql
from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

#: the reference's own state, one file each per day: what the next day starts from
STATE = {
    "accounts": """account_id VARCHAR, acc DOUBLE, last_pos BIGINT, reset_at TIMESTAMPTZ, touch_time TIMESTAMPTZ,
                   touch_signal VARCHAR, prev_score DOUBLE, health INTEGER, log_scale DOUBLE, epoch BIGINT""",
    "ledger": "account_id VARCHAR, signal VARCHAR, points DOUBLE",
    "pairs": """account_id VARCHAR, person_key VARCHAR, first_day BIGINT, last_time TIMESTAMPTZ, points DOUBLE,
                role INTEGER""",
    "bonus": "account_id VARCHAR, person_key VARCHAR, first_time TIMESTAMPTZ, second_time TIMESTAMPTZ, awarded BOOLEAN",
    "batch": "account_id VARCHAR, signal VARCHAR, points DOUBLE, log_scale DOUBLE, epoch BIGINT",
    "history": "account_id VARCHAR, score DOUBLE, points DOUBLE",
}
#: the state tables of D-1 as this day's step reads them (temp table -> state file)
BEFORE = {"state_before": "accounts", "ledger_before": "ledger", "pairs_before": "pairs", "bonus_before": "bonus"}


def _state_file(out: Path, day: date, name: str) -> Path:
    return out / "state" / f"dt={day.isoformat()}" / f"{name}.parquet"


def _load(con: duckdb.DuckDBPyConnection, table: str, schema: str, files: list[Path]) -> None:
    """A temp table of the given columns from the files that exist (empty when none do)."""
    existing = [str(f) for f in files if f.exists()]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({schema})")
    if existing:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM "
            f"read_parquet([{', '.join(map(quote, existing))}], hive_partitioning = false)"
        )


def _history_days(config: ScoringConfig, day: date) -> list[int]:
    """Earlier days whose scores or points today's step reads: 7 and 28 days ago, the surge's
    weeks, and the customer-health baseline's whole weeks and recent days."""
    today = day.toordinal()
    health = config.customer_health
    last_week = (today - health.recent_days + 1) // 7 - 1
    earliest = min(
        today - 28, today - 7 * config.trend.surge_baseline_weeks - 6, (last_week - health.baseline_weeks + 1) * 7
    )
    return list(range(earliest, today))


def _inputs(con: duckdb.DuckDBPyConnection, lake: Lake, config: ScoringConfig, day: date, out: Path) -> None:
    prev = day - timedelta(days=1)
    for table, name in BEFORE.items():
        _load(con, table, STATE[name], [_state_file(out, prev, name)])
    window = config.accumulation.window_days
    expiring = [_state_file(out, day - timedelta(days=window), "batch")] if window else []
    _load(con, "expiring", STATE["batch"], expiring)
    days = _history_days(config, day)
    files = [_state_file(out, date.fromordinal(d), "history") for d in days]
    existing = [(d, f) for d, f in zip(days, files, strict=True) if f.exists()]
    con.execute(f"CREATE OR REPLACE TEMP TABLE hist (day BIGINT, {STATE['history']})")
    if existing:
        union = " UNION ALL ".join(
            f"SELECT {d} AS day, * FROM read_parquet({quote(str(f))}, hive_partitioning = false)" for d, f in existing
        )
        con.execute(f"INSERT INTO hist BY NAME {union}")
    accounts = ", ".join(map(quote, part_files(lake.partition_path(catalog.valid("crm/accounts"), day))))
    opps = ", ".join(map(quote, part_files(lake.partition_path(catalog.valid("crm/opportunities"), day))))
    end = (day + timedelta(days=1)).isoformat()
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE snap AS
    WITH won AS (
      SELECT account_id, min(closed_at) AS won_at FROM read_parquet([{opps}], hive_partitioning = false)
      WHERE coalesce(is_won, false) AND closed_at IS NOT NULL GROUP BY account_id
    )
    SELECT a.account_id, a.name, a.lifecycle, a.abm_tier, a.owner_email, a.sdr_email,
           coalesce(a.lifecycle = 'customer', false) OR coalesce(w.won_at < TIMESTAMPTZ '{end} 00:00:00+00', false)
             AS customer
    FROM read_parquet([{accounts}], hive_partitioning = false) a LEFT JOIN won w USING (account_id)
    """)


def _write(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO {quote(str(path))} (FORMAT parquet, COMPRESSION zstd)")


def _outputs(con: duckdb.DuckDBPyConnection, day: date, out: Path) -> None:
    folder = out / f"dt={day.isoformat()}"
    _write(con, CONTRIBUTIONS, folder / "contributions.parquet")
    _write(con, "SELECT * FROM scores ORDER BY account_id", folder / "scores.parquet")
    _write(con, "SELECT * FROM changes", folder / "changes.parquet")
    state = {
        "accounts": "SELECT account_id, acc, last_pos, reset_now AS reset_at, touch_time, touch_signal, "
        "score AS prev_score, health, log_scale, epoch FROM st",
        "ledger": "SELECT * FROM ledger_after",
        "pairs": "SELECT * FROM pairs_after",
        "bonus": "SELECT * FROM bonus_after",
        "batch": "SELECT * FROM batch_today",
        "history": "SELECT account_id, score, gained AS points FROM st WHERE score <> 0 OR gained <> 0",
    }
    for name, query in state.items():
        _write(con, query, _state_file(out, day, name))


def score_day(lake: Lake, config: ScoringConfig, day: date, out: Path, first: date, threads: int = 2) -> dict:
    """Score `day` from the reference's state of the day before (none on `first`): seconds,
    accounts scored and contributions written."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    _inputs(con, lake, config, day, out)
    for statement in contributions_sql(config, part_files(lake.partition_path(catalog.RESOLVED, day))):
        con.execute(statement)
    con.execute(bonus_after_sql(config))
    for statement in step_sql(config, day, first.toordinal()) + outputs_sql(config, day):
        con.execute(statement)
    _outputs(con, day, out)
    seconds = time.perf_counter() - t0
    accounts = con.execute("SELECT count(*) FROM scores").fetchone()[0]
    events = con.execute("SELECT (SELECT count(*) FROM ev) + (SELECT count(*) FROM winners)").fetchone()[0]
    con.close()
    return {"seconds": seconds, "accounts": accounts, "contributions": events}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", required=True, help="the lake holding resolved events and CRM snapshots")
    parser.add_argument(
        "--start", required=True, type=date.fromisoformat, help="the first day with events (YYYY-MM-DD)"
    )
    parser.add_argument("--end", type=date.fromisoformat, help="the last day to score (default: --start)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the outputs and the reference's state")
    parser.add_argument("--config", help="scoring config YAML (default: the project's)")
    parser.add_argument("--compare", action="store_true", help="check every day's outputs against the score stage's")
    args = parser.parse_args(argv)
    lake, config = Lake(args.lake), load_config(args.config)
    end = args.end or args.start
    results = []
    for offset in range((end - args.start).days + 1):
        day = args.start + timedelta(days=offset)
        result = score_day(lake, config, day, args.out, args.start) | {"day": day.isoformat()}
        if args.compare:
            from benchmarks.duckdb_score_check import compare

            result["check"] = compare(lake, day, args.out)
        results.append(result)
        print(json.dumps(result), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"days": len(results), "peak_rss_mb": peak, "seconds": sum(r["seconds"] for r in results)}))
    return 0 if all(r.get("check", {}).get("identical", True) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
