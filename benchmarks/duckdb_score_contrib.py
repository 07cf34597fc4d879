"""The contributions part of the full-model DuckDB scoring reference (`duckdb_score_ref`).

SQL that turns one day's resolved events into contributions (SPEC section 5) the way
`include/scoring/score/contributions.py` does, written independently: the signal of each event
(the first rule that matches, a CASE in rule order), tier points times the role multiplier, the
combination bonus (a person with both pair signals within the window, remembered across days),
events up to an account's reset that day voided, the same (account, person, signal, url or
campaign) counted once (its best row), and the daily cap per account and signal, in (time, id)
order. The results are temp tables (`contributions_sql`), the rows as written `CONTRIBUTIONS`:
one row per event plus the bonus rows.
"""

from __future__ import annotations

from benchmarks.duckdb_common import in_list, quote
from include.scoring.core.config import ScoringConfig

BONUS = "combination_bonus"


def num(value) -> str:
    """A number as a DOUBLE literal (DuckDB reads 10.0 as a DECIMAL)."""
    return f"{float(value)!r}::DOUBLE"


def signal_case(config: ScoringConfig) -> str:
    """The first rule that matches, else 'unclassified' (rules see source, type, form, role, path)."""
    arms = []
    for rule in config.signals:
        cond = [f"source = {quote(rule.source)}"]
        if rule.event_type is not None:
            cond.append(f"coalesce(event_type IN {in_list(rule.event_type)}, false)")
        if rule.form_type is not None:
            cond.append(f"coalesce(form_type IN {in_list(rule.form_type)}, false)")
        if rule.role is not None:
            cond.append(f"coalesce(role IN {in_list(rule.role)}, false)")
        if rule.url_path is not None:
            cond.append(f"coalesce(regexp_matches(path, {quote(rule.url_path)}, 'i'), false)")
        arms.append(f"WHEN {' AND '.join(cond)} THEN {quote(rule.name)}")
    return "CASE " + " ".join(arms) + " ELSE 'unclassified' END"


def _case(column: str, mapping: dict, default: str) -> str:
    arms = " ".join(f"WHEN {quote(k)} THEN {num(v)}" for k, v in mapping.items())
    return f"CASE {column} {arms} ELSE {default} END" if arms else default


def contributions_sql(config: ScoringConfig, resolved: list[str]) -> list[str]:
    """Statements leaving the day's contributions in temp tables (needs the temp table
    `bonus_before`: account_id, person_key, first_time, second_time, awarded): `ev`, every event
    with its signal and points before adjustments; `winners`, the events completing the combination
    pair; `resets`, each account's last reset of the day; `scored`, the rows whose signal has
    points, and the bonus rows, after voiding, de-duplication and the cap. Rows whose signal
    has no points (impressions, deliveries: most of a day) need none of that, so the windows run
    over the few rows that carry points. `CONTRIBUTIONS` selects the rows as written."""
    bonus = config.points.combination_bonus
    first, second = bonus.signals
    points = config.signal_points()
    multiplier = _case("role", dict(config.points.role_multipliers), num(1))
    resets = in_list(config.reset_signals())
    files = ", ".join(map(quote, resolved))
    events = f"""
    CREATE OR REPLACE TEMP TABLE ev AS
    WITH raw AS (
      SELECT event_id, event_time, source, event_type, form_type, account_id, person_key, role, campaign_id,
             regexp_replace(regexp_replace(lower(trim(url)), '^[a-z][a-z0-9+.\\-]*://[^/?#]*', ''),
                            '[?#].*$', '') AS p
      FROM read_parquet([{files}], hive_partitioning = false)
    ), classified AS (
      SELECT *, CASE WHEN p = '' THEN '/' ELSE p END AS path FROM raw
    ), signalled AS (
      SELECT event_id, event_time, source, account_id, person_key, role, {signal_case(config)} AS signal,
             CASE WHEN source = 'web' THEN coalesce(path, '') ELSE coalesce(campaign_id::VARCHAR, '') END AS target
      FROM classified
    )
    SELECT *, {_case("signal", points, "NULL")} AS base, {multiplier} AS multiplier,
           coalesce(signal IN {resets}, false) AS reset
    FROM signalled
    """
    # the bonus: per (account, person), the latest time of each pair signal so far (or remembered),
    # the first event at which both lie within the window wins, unless awarded before
    within_us = bonus.within_days * 86_400 * 1_000_000
    winners = f"""
    CREATE OR REPLACE TEMP TABLE winners AS
    WITH pair AS (
      SELECT event_id, event_time, source, account_id, person_key, role,
             max(CASE WHEN signal = {quote(first)} THEN event_time END) OVER w AS f_run,
             max(CASE WHEN signal = {quote(second)} THEN event_time END) OVER w AS s_run
      FROM ev WHERE signal IN ({quote(first)}, {quote(second)}) AND person_key IS NOT NULL
      WINDOW w AS (PARTITION BY account_id, person_key ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING)
    ), known AS (
      SELECT pair.*, coalesce(f_run, m.first_time) AS f, coalesce(s_run, m.second_time) AS s,
             coalesce(m.awarded, false) AS awarded
      FROM pair LEFT JOIN bonus_before m USING (account_id, person_key)
    )
    SELECT * FROM known
    WHERE {str(bonus.enabled).lower()} AND f IS NOT NULL AND s IS NOT NULL AND NOT awarded
      AND abs(epoch_us(f) - epoch_us(s)) <= {within_us}
    QUALIFY row_number() OVER (PARTITION BY account_id, person_key ORDER BY event_time, event_id) = 1
    """
    reset_times = """
    CREATE OR REPLACE TEMP TABLE resets AS
    SELECT account_id, max(event_time) AS reset_at FROM ev WHERE reset GROUP BY account_id
    """
    bonus_base = float(points[BONUS])
    scored = f"""
    CREATE OR REPLACE TEMP TABLE scored AS
    WITH rows AS (
      SELECT event_id, event_time, source, account_id, person_key, role, signal, target, base, multiplier, reset
      FROM ev WHERE base <> 0
      UNION ALL
      SELECT 'bonus:' || account_id || ':' || person_key || ':' || event_id, event_time, source, account_id,
             person_key, role, {quote(BONUS)}, '', {num(bonus_base)}, {multiplier}, false
      FROM winners
    ), voided AS (
      SELECT r.*, r.base * r.multiplier AS pts, coalesce(r.event_time <= z.reset_at, false) AS void
      FROM rows r LEFT JOIN resets z USING (account_id)
    ), deduped AS (
      SELECT *, NOT void AND signal <> {quote(BONUS)} AS counts_once,
             row_number() OVER (PARTITION BY NOT void AND signal <> {quote(BONUS)}, account_id, person_key, signal,
                                target ORDER BY pts DESC, event_time, event_id) AS best
      FROM voided
    ), counted AS (
      SELECT *, counts_once AND best > 1 AND pts > 0 AS repeat,
             CASE WHEN counts_once AND best > 1 AND pts > 0 THEN 0.0 ELSE pts END AS scored
      FROM deduped
    ), running AS (
      SELECT *, CASE WHEN void THEN 0.0 ELSE scored END AS c,
             sum(CASE WHEN void THEN 0.0 ELSE scored END)
               OVER (PARTITION BY account_id, signal ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING) AS run
      FROM counted
    ), capped AS (
      SELECT *, greatest({num(config.points.daily_cap)} - (run - c), 0.0) AS allowed FROM running
    )
    SELECT event_id, event_time, source, account_id, person_key, signal, base AS base_points, multiplier,
           CASE WHEN NOT void AND scored > allowed THEN allowed ELSE scored END AS points,
           CASE WHEN repeat THEN 'duplicate' WHEN NOT void AND scored > allowed THEN 'daily_cap' END AS adjustment,
           reset, role, pts > 0 AS positive
    FROM capped
    """
    return [events, winners, reset_times, scored]


#: the day's contributions as written: the rows without points as they are, the others scored
CONTRIBUTIONS = """
SELECT event_id, event_time, source, account_id, person_key, signal, base AS base_points, multiplier,
       base * multiplier AS points, NULL::VARCHAR AS adjustment, reset, role
FROM ev WHERE base = 0
UNION ALL
SELECT event_id, event_time, source, account_id, person_key, signal, base_points, multiplier, points, adjustment,
       reset, role
FROM scored
ORDER BY event_time, event_id
"""


def bonus_after_sql(config: ScoringConfig) -> str:
    """The bonus memory after the day: the latest time of each pair signal, and whether awarded."""
    first, second = config.points.combination_bonus.signals
    return f"""
    CREATE OR REPLACE TEMP TABLE bonus_after AS
    WITH today AS (
      SELECT account_id, person_key,
             max(event_time) FILTER (WHERE signal = {quote(first)}) AS first_time,
             max(event_time) FILTER (WHERE signal = {quote(second)}) AS second_time,
             false AS awarded
      FROM ev WHERE person_key IS NOT NULL AND signal IN {in_list([first, second])}
      GROUP BY account_id, person_key
      UNION ALL
      SELECT DISTINCT account_id, person_key, NULL, NULL, true FROM winners
    ), merged AS (
      SELECT account_id, person_key, max(first_time) AS first_time, max(second_time) AS second_time,
             bool_or(awarded) AS awarded
      FROM today GROUP BY account_id, person_key
    )
    SELECT account_id, person_key,
           greatest(o.first_time, t.first_time) AS first_time, greatest(o.second_time, t.second_time) AS second_time,
           coalesce(o.awarded, false) OR coalesce(t.awarded, false) AS awarded
    FROM bonus_before o FULL OUTER JOIN merged t USING (account_id, person_key)
    """
