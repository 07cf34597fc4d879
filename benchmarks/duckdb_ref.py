"""Reference (b): one day's scoring aggregation as a data team might write it in DuckDB SQL.

Signals from the config's rules (a CASE in rule order), tier points times the role multiplier,
de-duplication of (account, person, signal, url or campaign), the daily cap per account and
signal, then per account the points and the breadth (distinct persons with a positive signal,
capped). Read from the resolved Parquet partition, written to Parquet. No state, no history, no
explanations: the part of scoring that SQL does naturally.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb

from include.scoring.core.config import ScoringConfig


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _signal_case(config: ScoringConfig) -> str:
    arms = []
    for rule in config.signals:
        cond = [f"source = {_quote(rule.source)}"]
        if rule.event_type:
            cond.append(f"event_type IN ({', '.join(map(_quote, rule.event_type))})")
        if rule.form_type:
            cond.append(f"form_type IN ({', '.join(map(_quote, rule.form_type))})")
        if rule.role:
            cond.append(f"role IN ({', '.join(map(_quote, rule.role))})")
        if rule.url_path:
            cond.append(f"regexp_matches(path, {_quote('(?i)' + rule.url_path)})")
        arms.append(f"WHEN {' AND '.join(cond)} THEN {_quote(rule.name)}")
    return "CASE " + " ".join(arms) + " ELSE 'unclassified' END"


def scoring_sql(config: ScoringConfig, resolved_glob: str, out: str) -> str:
    points = ", ".join(f"({_quote(name)}, {value})" for name, value in config.signal_points().items())
    dm = config.points.role_multipliers.get("decision_maker", 1.0)
    cap = config.points.daily_cap
    return f"""
    COPY (
      WITH ev AS (
        SELECT *, coalesce(nullif(regexp_replace(regexp_replace(lower(url),
                                                   '^[a-z][a-z0-9+.-]*://[^/?#]*', ''), '[?#].*$', ''), ''),
                           '/') AS path
        FROM read_parquet({_quote(resolved_glob)})
      ), sig AS (SELECT *, {_signal_case(config)} AS signal FROM ev),
      pts AS (
        SELECT sig.*, p.base * CASE WHEN role = 'decision_maker' THEN {dm} ELSE 1.0 END AS pts0,
               CASE WHEN source = 'web' THEN path ELSE coalesce(campaign_id, '') END AS target
        FROM sig JOIN (VALUES {points}) AS p(signal, base) USING (signal)
      ), dedup AS (
        SELECT *, row_number() OVER (PARTITION BY account_id, coalesce(person_key, '-'), signal, target
                                     ORDER BY event_time, event_id) AS rn
        FROM pts
      ), once AS (SELECT *, CASE WHEN rn = 1 OR pts0 <= 0 THEN pts0 ELSE 0 END AS p FROM dedup),
      capped AS (
        SELECT *, sum(p) OVER (PARTITION BY account_id, signal ORDER BY event_time, event_id
                               ROWS UNBOUNDED PRECEDING) AS running
        FROM once
      ), final AS (SELECT *, greatest(0, least(p, {cap} - (running - p))) AS points FROM capped)
      SELECT account_id, sum(points) AS points,
             least(count(DISTINCT CASE WHEN pts0 > 0 THEN person_key END), {config.breadth.max_people})
               * {config.breadth.points_per_person} AS breadth
      FROM final GROUP BY account_id
    ) TO {_quote(out)} (FORMAT parquet, COMPRESSION zstd)
    """


def duckdb_scoring(lake_root: str, day: str, config: ScoringConfig) -> tuple[float, int]:
    """Seconds for the SQL version over one day's resolved events, and the accounts it scored."""
    with tempfile.TemporaryDirectory(prefix="bench-duckdb-") as tmp:
        out = str(Path(tmp) / "scores.parquet")
        con = duckdb.connect()
        con.execute("SET threads = 2")
        t0 = time.perf_counter()
        con.execute(scoring_sql(config, f"{lake_root}/resolved/dt={day}/*.parquet", out))
        seconds = time.perf_counter() - t0
        rows = con.execute(f"SELECT count(*) FROM read_parquet({_quote(out)})").fetchone()[0]
        con.close()
    return seconds, rows
