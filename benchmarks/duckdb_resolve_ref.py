"""Reference (c): one day's identity resolution as a data team might write it in DuckDB SQL.

The same rules as the resolve stage (SPEC section 4, `include/scoring/resolve/`), written
independently: normalised emails and cookies (placeholders blocked), registrable domains, company
names, longest-prefix reverse IP, the non-human filters (bot, machine open, scanner click and
burst), CRM activities (kept, re-emitted = `duplicate`, first seen too late = `late_arrival`), the
person graph (yesterday's edges plus today's, shared devices cut, connected components by a
recursive CTE), each person's account, contact, role and Segment group tie, and the first account
rule that applies per event, or the reason none did. It writes resolved, unresolved and filtered
rows (resolve's columns) and the day's edge set to Parquet; `compare` checks them against resolve's
own outputs for the day, event by event.

Like resolve, it reads state that earlier days left in the lake: the person graph of D-1
(identity/dt=D-1), the Segment group ties of D-1 (identity_groups/dt=D-1), the hashes of the CRM
activity ids emitted on the late-arrival window's earlier days (event_ids/crm), D-1's email
deliveries (a click after midnight belongs to yesterday's send) and D-1's CRM activity snapshot
(what is first seen today). It needs D-1's graph unless D is the first day with events.

What is not SQL, done in Python on distinct values inside the timed run (what a data team would do
with a UDF): registrable domains of hosts whose TLD carries wildcard or exception rules of the
public-suffix list (tldextract, the list bundled with it that the pipeline uses; every other host
is matched in SQL against the list's plain rules), the Unicode NFKD decomposition of non-ASCII
company names, the parsing of IPv6 addresses and of the CIDR ranges that are not plain IPv4
(`ipaddress`), and pandas' 64-bit text hash that person keys and the CRM id hashes are made of. Not
covered: the rule firings (identity_rules), the identity map, the group-tie state of D
(identity_groups/dt=D: it reads resolve's of D-1, so it checks one day at a time, not a chain of days
on its own), the resolution metrics and sharding. DuckDB runs on 2 threads, as in the scoring
reference.

This module runs the steps (`STEPS`: inputs and identifiers in `duckdb_resolve_inputs`, the graph,
persons and per-event outcome in `duckdb_resolve_persons`, on the macros and lookups of
`duckdb_resolve_lookups`) and writes the outputs; `compare` lives in `duckdb_resolve_check`.

    PYTHONPATH=. .venv/bin/python -m benchmarks.duckdb_resolve_ref --lake LAKE --date D --compare
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from benchmarks.duckdb_resolve_check import compare
from benchmarks.duckdb_resolve_inputs import event_filters, load_inputs, normalise_identifiers, reference_tables
from benchmarks.duckdb_resolve_lookups import macros, quote
from benchmarks.duckdb_resolve_persons import event_outcomes, person_graph, person_tables
from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.memory import peak_memory_mb

OUTPUTS = ("resolved", "unresolved", "filtered", "identity")
#: the steps, in order: each creates the temp tables its docstring names from the earlier steps' tables
STEPS = (
    load_inputs,
    normalise_identifiers,
    reference_tables,
    event_filters,
    person_graph,
    person_tables,
    event_outcomes,
)


def resolve_sql(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig, out: str) -> dict:
    """Resolve `day` of the lake at `root` into Parquet files under `out`; returns row counts."""
    macros(con, config)
    for step in STEPS:
        step(con, root, day, config)
    return write_outputs(con, out)


def write_outputs(con: duckdb.DuckDBPyConnection, out: str) -> dict:
    """Resolved, unresolved and filtered rows (resolve's columns and order) and the edge set, as
    Parquet files under `out`; returns their row counts."""
    Path(out).mkdir(parents=True, exist_ok=True)
    files = {name: str(Path(out) / f"{name}.parquet") for name in OUTPUTS}
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, account_id, person_key, contact_id, role,
                     resolution_method, url, form_type, campaign_id, platform
              FROM final WHERE filter_reason IS NULL AND account_id IS NOT NULL
              ORDER BY event_time NULLS LAST, event_id NULLS LAST)
        TO {quote(files["resolved"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, reason FROM final
              WHERE filter_reason IS NULL AND account_id IS NULL ORDER BY pos)
        TO {quote(files["unresolved"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, account_id, person_key, filter_reason AS reason
              FROM final WHERE filter_reason IS NOT NULL ORDER BY pos)
        TO {quote(files["filtered"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(
        f"COPY (SELECT a, b, first_seen FROM edges ORDER BY a, b) TO {quote(files['identity'])} (FORMAT parquet)"
    )
    return {
        name: con.execute(f"SELECT count(*) FROM read_parquet({quote(path)})").fetchall()[0][0]
        for name, path in files.items()
    }


def duckdb_resolve(lake_root: str, day: date, config: ScoringConfig, out: str, threads: int = 2) -> tuple[float, dict]:
    """Seconds for the SQL version of one day's resolution (outputs under `out`), and its row counts."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    counts = resolve_sql(con, str(lake_root), day, config, out)
    seconds = time.perf_counter() - t0
    con.close()
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True, help="the lake root (a local folder) resolve ran on")
    parser.add_argument("--date", required=True, action="append", help="the day (YYYY-MM-DD; repeatable)")
    parser.add_argument("--config", default=None, help="the scoring config (default: the shipped one)")
    parser.add_argument("--out", default=None, help="where the reference writes (default: a temporary folder)")
    parser.add_argument("--compare", action="store_true", help="check the outputs against resolve's, event by event")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = load_config(args.config)
    failed = False
    with tempfile.TemporaryDirectory(prefix="duckdb-resolve-") as tmp:
        for text in args.date:
            day = date.fromisoformat(text)
            out = str(Path(args.out or tmp) / f"dt={day.isoformat()}")
            seconds, counts = duckdb_resolve(args.lake, day, config, out, args.threads)
            line = {"day": text, "seconds": round(seconds, 3), "peak_rss_mb": peak_memory_mb(), "rows": counts}
            if args.compare:
                line["compare"] = compare(args.lake, day, out)
                failed |= not line["compare"]["identical"]
            print(json.dumps(line, default=str))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
