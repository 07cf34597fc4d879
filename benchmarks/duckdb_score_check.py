"""Checks a day of the full-model DuckDB scoring reference against the score stage's own outputs.

Row by row: every contribution (same events and bonus rows in the same order, same signal, base
points, multiplier, points, adjustment, reset; a sharded day's files each hold their accounts' rows,
so there the order of each account's rows is compared), every score row (every column of the score
file), and every change. Numbers agree within 1e-6 (the two sum the same points in different orders); text, flags
and days exactly; every column has the same type on both sides.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from benchmarks.duckdb_common import part_files, quote
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

TOLERANCE = 1e-6
CONTRIB_KEYS = ["event_id"]
SCORE_KEYS = ["account_id"]
CHANGE_KEYS = ["kind", "account_id", "rule"]


def _same(column: str, numeric: bool) -> str:
    ours, theirs = f"a.{column}", f"b.{column}"
    if numeric:
        return f"(({ours} IS NULL AND {theirs} IS NULL) OR abs({ours} - {theirs}) <= {TOLERANCE})"
    return f"({ours} IS NOT DISTINCT FROM {theirs})"


def _diff(con: duckdb.DuckDBPyConnection, ours: str, theirs: str, keys: list[str]) -> dict:
    """Rows of either side with no equal row on the other: counts and up to 3 examples."""
    schema = con.execute(f"DESCRIBE SELECT * FROM {ours}").fetchall()
    values = [(name, kind) for name, kind, *_ in schema if name not in keys]
    numeric = {name for name, kind in values if kind in ("DOUBLE", "FLOAT")}
    theirs_types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {theirs}").fetchall()}
    compared = [name for name, _ in values if name in theirs_types]
    types = [
        f"{name}: {kind} against {theirs_types[name]}" for name, kind in values if theirs_types.get(name, kind) != kind
    ]
    join = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
    same = " AND ".join(_same(c, c in numeric) for c in compared) or "true"
    rows = con.execute(f"SELECT count(*) FROM {ours}").fetchone()[0]
    other = con.execute(f"SELECT count(*) FROM {theirs}").fetchone()[0]
    unmatched = con.execute(
        f"SELECT count(*) FROM {ours} a FULL OUTER JOIN {theirs} b ON {join} WHERE NOT coalesce({same}, false)"
    ).fetchone()[0]
    examples = []
    if unmatched:
        for column in compared:
            bad = con.execute(
                f"SELECT {', '.join('a.' + k for k in keys)}, a.{column}, b.{column} FROM {ours} a "
                f"FULL OUTER JOIN {theirs} b ON {join} WHERE NOT coalesce({_same(column, column in numeric)}, false) "
                "LIMIT 2"
            ).fetchall()
            examples += [f"{column}: {row}" for row in bad]
            if len(examples) >= 6:
                break
    return {
        "rows": rows,
        "reference_rows": other,
        "mismatched": unmatched,
        "examples": examples[:6],
        "columns": compared,
        "other_types": types,
    }


def compare(lake: Lake, day: date, out: Path) -> dict:
    """The reference's outputs of `day` (under `out`) against the score stage's in `lake`."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    folder = out / f"dt={day.isoformat()}"

    def ours(dataset) -> tuple[str, int]:
        files = part_files(lake.partition_path(dataset, day))
        return f"read_parquet([{', '.join(map(quote, files))}], hive_partitioning = false", len(files)

    # the order of the rows: in the file (one file), and of each account's rows (a sharded day's
    # files each hold their accounts' rows, each in order)
    contributions, parts = ours(catalog.CONTRIBUTIONS)
    reference = f"read_parquet({quote(str(folder / 'contributions.parquet'))}, hive_partitioning = false"
    for table, source in (("c_ours", contributions), ("c_ref", reference)):
        at = "file_row_number"
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * EXCLUDE (filename, {at}), "
            f"{'NULL' if parts > 1 else f'row_number() OVER (ORDER BY filename, {at})'} AS pos, "
            f"row_number() OVER (PARTITION BY account_id ORDER BY filename, {at}) AS account_pos "
            f"FROM {source}, filename = true, file_row_number = true)"
        )
    scores, _ = ours(catalog.SCORES)
    changes, _ = ours(catalog.CHANGES)
    con.execute(f"CREATE TEMP TABLE s_ours AS SELECT * FROM {scores})")
    con.execute(f"CREATE TEMP TABLE s_ref AS SELECT * FROM read_parquet({quote(str(folder / 'scores.parquet'))})")
    con.execute(f"CREATE TEMP TABLE h_ours AS SELECT * FROM {changes})")
    con.execute(f"CREATE TEMP TABLE h_ref AS SELECT * FROM read_parquet({quote(str(folder / 'changes.parquet'))})")
    result = {
        "contributions": _diff(con, "c_ours", "c_ref", CONTRIB_KEYS),
        "scores": _diff(con, "s_ours", "s_ref", SCORE_KEYS),
        "changes": _diff(con, "h_ours", "h_ref", CHANGE_KEYS),
    }
    con.close()
    result["identical"] = all(
        part["mismatched"] == 0 and part["rows"] == part["reference_rows"] and not part["other_types"]
        for part in result.values()
    )
    return result
