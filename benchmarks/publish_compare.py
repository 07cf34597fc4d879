"""Publish days of a lake into a warehouse and dump every table, to compare two versions of publish.

    PYTHONPATH=CODE .venv/bin/python benchmarks/publish_compare.py --lake L --start D --end D \\
        --warehouse-url URL --out dump.json [--copy-threshold N] [--rerun D ...]

Runs with whichever code PYTHONPATH names (this file imports only `include.scoring`), so the same
command with the code before a change and after it gives two dumps that must be equal: every
table's rows ordered by primary key, each value with its type as the database returns it (SQLite's
storage class, PostgreSQL's Python type) and floats in full (repr). The days are published in
order, then each `--rerun` day again (a re-run, and an older day after newer ones: the conflict
paths of the upserts). `--copy-threshold 1` sends every PostgreSQL write through COPY.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import sqlalchemy as sa

from include.scoring.core.config import load_config
from include.scoring.lake.store import Lake, days_between
from include.scoring.publish import warehouse
from include.scoring.publish.stage import publish_warehouse
from include.scoring.publish.tables import metadata


def _value(value) -> list:
    if isinstance(value, float):
        return ["float", repr(value)]
    if hasattr(value, "isoformat"):
        return [type(value).__name__, value.isoformat()]
    return [type(value).__name__, value]


def dump(url: str) -> dict[str, list]:
    """Every table of the warehouse, rows in primary-key order (driver values, typed)."""
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                keys = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
                names = ", ".join(f'"{c.name}"' for c in table.columns)
                if conn.dialect.name == "sqlite":  # storage classes too: 'real' 5.0 is not 'integer' 5
                    names += ", " + ", ".join(f'typeof("{c.name}")' for c in table.columns)
                rows = conn.exec_driver_sql(f'SELECT {names} FROM "{table.name}" ORDER BY {keys}').all()
                out[table.name] = [[_value(v) for v in row] for row in rows]
    finally:
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--warehouse-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--copy-threshold", type=int)
    parser.add_argument("--rerun", type=date.fromisoformat, action="append", default=[])
    args = parser.parse_args()
    if args.copy_threshold is not None:
        warehouse.COPY_THRESHOLD = args.copy_threshold
    lake, config = Lake(args.lake), load_config()
    t0 = time.perf_counter()
    for day in [*days_between(args.start, args.end), *args.rerun]:
        publish_warehouse(lake, config, args.warehouse_url, day)
    seconds = time.perf_counter() - t0
    tables = dump(args.warehouse_url)
    with open(args.out, "w") as fh:
        json.dump(tables, fh, sort_keys=True)
    print(f"{args.out}: {sum(len(r) for r in tables.values()):,} rows in {len(tables)} tables; publish {seconds:.1f} s")


if __name__ == "__main__":
    main()
