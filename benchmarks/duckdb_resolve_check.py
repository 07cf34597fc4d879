"""`compare`: the DuckDB resolve reference's outputs (`benchmarks/duckdb_resolve_ref.py`) against
resolve's own for the same day, event by event, and the day's edge set."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from benchmarks.duckdb_resolve_lookups import partition_files, quote

_OUTCOME = """
    SELECT 'resolved' AS outcome, event_id, source, event_time, event_type, account_id, person_key, contact_id,
           role, resolution_method AS method, NULL AS reason FROM {resolved}
    UNION ALL
    SELECT 'unresolved', event_id, source, event_time, event_type, NULL, NULL, NULL, NULL, NULL, reason
    FROM {unresolved}
    UNION ALL
    SELECT 'filtered', event_id, source, event_time, event_type, account_id, person_key, NULL, NULL, NULL, reason
    FROM {filtered}
"""
_FIELDS = ("outcome", "event_time", "event_type", "account_id", "person_key", "contact_id", "role", "method", "reason")


def compare(lake_root: str, day: date, out: str, examples: int = 5) -> dict:
    """Every event of the day in resolve's outputs and the reference's: same outcome, account,
    method, reason, person, contact and role? Also the day's edge set. Returns the counts of
    events, of mismatches per field (and of events only on one side), with examples."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def lake(name: str) -> str:
        files = partition_files(lake_root, name, day)
        if not files:
            raise FileNotFoundError(f"resolve's {name}/dt={day} is missing under {lake_root}")
        return f"read_parquet([{', '.join(map(quote, files))}])"

    def mine(name: str) -> str:
        return f"read_parquet({quote(str(Path(out) / f'{name}.parquet'))})"

    for side, src in (("a", lake), ("b", mine)):
        sql = _OUTCOME.format(**{n: src(n) for n in ("resolved", "unresolved", "filtered")})
        con.execute(
            f"CREATE TEMP TABLE {side} AS SELECT *, row_number() OVER (PARTITION BY source, event_id ORDER BY "
            f"{', '.join(_FIELDS)}) AS k FROM ({sql})"
        )
    diffs = " OR ".join(f"a.{f} IS DISTINCT FROM b.{f}" for f in _FIELDS)
    joined = "FROM a FULL JOIN b ON a.source = b.source AND a.event_id IS NOT DISTINCT FROM b.event_id AND a.k = b.k"
    per_field = ", ".join(
        f"count(*) FILTER (WHERE a.k IS NOT NULL AND b.k IS NOT NULL AND a.{f} IS DISTINCT FROM b.{f}) AS {f}"
        for f in _FIELDS
    )
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE a.k IS NOT NULL), count(*) FILTER (WHERE b.k IS NOT NULL), "
        f"count(*) FILTER (WHERE a.k IS NULL OR b.k IS NULL OR {diffs}), "
        f"count(*) FILTER (WHERE b.k IS NULL), count(*) FILTER (WHERE a.k IS NULL), {per_field} {joined}"
    ).fetchall()[0]
    bad = con.execute(
        f"SELECT coalesce(a.source, b.source), coalesce(a.event_id, b.event_id), "
        f"{', '.join(f'a.{f}, b.{f}' for f in _FIELDS)} {joined} WHERE a.k IS NULL OR b.k IS NULL OR {diffs} "
        f"ORDER BY 1, 2 LIMIT {examples}"
    ).fetchall()
    edges = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT a, b, first_seen FROM {lake('identity')} EXCEPT ALL "
        f"SELECT a, b, first_seen FROM {mine('identity')})), (SELECT count(*) FROM (SELECT a, b, first_seen FROM "
        f"{mine('identity')} EXCEPT ALL SELECT a, b, first_seen FROM {lake('identity')})), "
        f"(SELECT count(*) FROM {lake('identity')})"
    ).fetchall()[0]
    con.close()
    names = ("resolve_events", "reference_events", "mismatched_events", "only_in_resolve", "only_in_reference")
    result = dict(zip(names, row[:5], strict=True))
    result["by_field"] = {f: n for f, n in zip(_FIELDS, row[5:], strict=True) if n}
    result["edges"] = edges[2]
    result["edges_only_in_resolve"], result["edges_only_in_reference"] = edges[0], edges[1]
    result["examples"] = [
        {"source": r[0], "event_id": r[1]}
        | {f: [r[2 + 2 * i], r[3 + 2 * i]] for i, f in enumerate(_FIELDS) if r[2 + 2 * i] != r[3 + 2 * i]}
        for r in bad
    ]
    result["identical"] = not result["mismatched_events"] and not edges[0] and not edges[1]
    return result
