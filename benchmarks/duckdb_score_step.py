"""The state machine and outputs of the full-model DuckDB scoring reference (`duckdb_score_ref`).

SQL for one day's step of SPEC section 5's per-account model, the way `include/scoring/score/
engine.py` and `outputs.py` do it, written independently over the reference's own state tables:
resets (accumulated points to 0; only what follows counts), optional half-life decay, points
expiring from the accumulation window at their value today (each day's points kept per account
and signal with the account's log2 scale and reset epoch then), idle halving, breadth (people with
a positive signal in the window, after any reset), the buying group's roles, change over 7 and 28
days, surge against the account's own weekly baseline, customer health, bands, percentiles among
prospects, trend, next action, and the day's changes (resets, band changes, threshold alerts,
health changes and their alerts).

Temp tables read: `scored` and `resets` (the day's contributions with points, and resets), `snap`
(the CRM snapshot, with `customer`),
`state_before`, `ledger_before`, `pairs_before`, `expiring` (the batch leaving the window today),
`hist` (earlier days' score and points per account, by day ordinal). Written: `st`, `ledger_after`,
`pairs_after`, `batch_today`, `scores`, `changes`.
"""

from __future__ import annotations

from datetime import date

from benchmarks.duckdb_common import quote
from benchmarks.duckdb_score_contrib import num
from include.scoring.core.config import ScoringConfig

DAY_US = 86_400 * 1_000_000
HEALTH = ("healthy", "at_risk", "expanding", "dormant")


def _role_code(config: ScoringConfig) -> str:
    arms = " ".join(f"WHEN {quote(r)} THEN {i}" for i, r in enumerate(config.buying_group.roles))
    return f"CASE role {arms} ELSE -1 END"


def band_code_sql(config: ScoringConfig, column: str) -> str:
    arms = " ".join(
        f"WHEN round_even({column}, 2) <= {num(b.max_score)} THEN {i}" for i, b in enumerate(config.bands[:-1])
    )
    return f"CASE {arms} ELSE {len(config.bands) - 1} END"


def band_name_sql(config: ScoringConfig, code: str) -> str:
    names = ", ".join(quote(b.name) for b in config.bands)
    return f"[{names}][{code} + 1]"


def step_sql(config: ScoringConfig, day: date, first_ordinal: int) -> list[str]:
    """Statements advancing the state to `day` and leaving its scores and changes in temp tables."""
    today = day.toordinal()
    start_us = (today - date(1970, 1, 1).toordinal()) * DAY_US
    decay = 0.5 ** (1.0 / config.decay.half_life_days) if config.decay.half_life_days else 1.0
    idle = config.decay.idle_halving_days or 0
    breadth, trend, health = config.breadth, config.trend, config.customer_health
    memory = max(breadth.window_days, config.buying_group.window_days, trend.person_memory_days)
    per_day = f"""
    CREATE OR REPLACE TEMP TABLE eff AS
    SELECT c.*, z.reset_at, (z.reset_at IS NULL OR c.event_time > z.reset_at) AS effective,
           {_role_code(config)} AS role_code
    FROM scored c LEFT JOIN resets z USING (account_id)
    WHERE c.account_id IN (SELECT account_id FROM snap);
    CREATE OR REPLACE TEMP TABLE day_acc AS
    WITH g AS (
      SELECT account_id, sum(points) FILTER (WHERE effective) AS gained,
             bool_or(effective AND positive) AS has_pos,
             arg_max(signal, (event_time, event_id)) FILTER (WHERE effective AND positive) AS touch_signal,
             max(event_time) FILTER (WHERE effective AND positive) AS touch_time
      FROM eff GROUP BY account_id
    )
    SELECT account_id, z.reset_at, coalesce(g.gained, 0.0) AS gained, coalesce(g.has_pos, false) AS has_pos,
           g.touch_signal, g.touch_time
    FROM g FULL OUTER JOIN (SELECT * FROM resets WHERE account_id IN (SELECT account_id FROM snap)) z
      USING (account_id);
    CREATE OR REPLACE TEMP TABLE cells AS
    SELECT account_id, signal, sum(points) AS points FROM eff WHERE effective GROUP BY account_id, signal;
    CREATE OR REPLACE TEMP TABLE pairs_today AS
    SELECT account_id, person_key, sum(points) AS points, max(event_time) AS last_time, max(role_code) AS role
    FROM eff WHERE effective AND positive AND person_key IS NOT NULL GROUP BY account_id, person_key;
    """
    # accounts gone from the CRM lose their state (a new epoch: their earlier batches never expire)
    accounts = f"""
    CREATE OR REPLACE TEMP TABLE st0 AS
    WITH b AS (
      SELECT coalesce(s.account_id, p.account_id) AS account_id, p.account_id IS NOT NULL AS present,
             coalesce(p.customer, false) AS customer, s.*
      FROM state_before s FULL OUTER JOIN snap p USING (account_id)
    ), kept AS (
      SELECT b.account_id, present, customer,
             CASE WHEN present THEN coalesce(acc, 0.0) ELSE 0.0 END AS acc,
             CASE WHEN present THEN last_pos END AS last_pos,
             CASE WHEN present THEN reset_at END AS reset_prev,
             CASE WHEN present THEN touch_time END AS touch_prev,
             CASE WHEN present THEN touch_signal END AS touch_signal_prev,
             CASE WHEN present THEN coalesce(prev_score, 0.0) ELSE 0.0 END AS score_before,
             CASE WHEN present THEN health END AS health_before,
             CASE WHEN present THEN coalesce(log_scale, 0.0) ELSE 0.0 END AS log_scale,
             coalesce(epoch, 0) + CASE WHEN present THEN 0 ELSE 1 END AS epoch
      FROM b
    )
    SELECT k.*, d.reset_at, coalesce(d.gained, 0.0) AS gained, coalesce(d.has_pos, false) AS has_pos,
           d.touch_signal AS touch_signal_today, d.touch_time AS touch_time_today,
           CASE WHEN d.reset_at IS NOT NULL THEN 0.0::DOUBLE ELSE {num(decay)} END AS factor
    FROM kept k LEFT JOIN day_acc d USING (account_id);
    CREATE OR REPLACE TEMP TABLE st1 AS
    SELECT * REPLACE (acc * factor AS acc,
                      CASE WHEN factor = 0 THEN 0.0 ELSE log_scale + log2(factor) END AS log_scale,
                      epoch + CASE WHEN factor = 0 THEN 1 ELSE 0 END AS epoch),
           coalesce(reset_at, reset_prev) AS reset_now
    FROM st0;
    CREATE OR REPLACE TEMP TABLE expired AS
    SELECT e.account_id, e.signal, e.points * pow(2.0, s.log_scale - e.log_scale) AS value
    FROM expiring e JOIN st1 s ON s.account_id = e.account_id AND s.epoch = e.epoch;
    CREATE OR REPLACE TEMP TABLE st2 AS
    WITH x AS (SELECT account_id, sum(value) AS value FROM expired GROUP BY account_id),
    a AS (
      SELECT s.*, x.value IS NOT NULL AS expiry, s.acc - coalesce(x.value, 0.0) AS acc_left
      FROM st1 s LEFT JOIN x USING (account_id)
    ), b AS (
      SELECT a.* EXCLUDE (acc_left) REPLACE (
               (CASE WHEN expiry AND abs(acc_left) < 1e-9 THEN 0.0 ELSE acc_left END) + gained AS acc,
               CASE WHEN has_pos THEN {today} ELSE last_pos END AS last_pos)
      FROM a
    )
    SELECT *, {idle} > 0 AND last_pos IS NOT NULL AND {today} - last_pos > 0
              AND ({today} - last_pos) % greatest({idle}, 1) = 0 AND acc > 0 AS halving
    FROM b;
    """
    ledger = """
    CREATE OR REPLACE TEMP TABLE batch_today AS
    SELECT c.account_id, c.signal, c.points, s.log_scale, s.epoch
    FROM cells c JOIN st2 s USING (account_id) WHERE c.points <> 0;
    CREATE OR REPLACE TEMP TABLE ledger_after AS
    WITH scaled AS (
      SELECT l.account_id, l.signal, l.points * s.factor AS points, s.expiry
      FROM ledger_before l JOIN st2 s USING (account_id) WHERE s.present
    ), left_over AS (
      SELECT account_id, signal, coalesce(l.points, 0.0) - coalesce(x.value, 0.0) AS points,
             coalesce(l.expiry, false) OR x.value IS NOT NULL AS expiry
      FROM scaled l FULL OUTER JOIN expired x USING (account_id, signal)
    ), snapped AS (
      SELECT o.account_id, o.signal,
             CASE WHEN s.expiry AND abs(o.points) < 1e-9 THEN 0.0 ELSE o.points END AS points
      FROM left_over o JOIN st2 s USING (account_id)
    ), added AS (
      SELECT account_id, signal, coalesce(o.points, 0.0) + coalesce(c.points, 0.0) AS points
      FROM snapped o FULL OUTER JOIN cells c USING (account_id, signal)
    )
    SELECT a.account_id, a.signal, CASE WHEN s.halving THEN a.points * 0.5 ELSE a.points END AS points
    FROM added a JOIN st2 s USING (account_id) WHERE a.points <> 0;
    """
    pairs = f"""
    CREATE OR REPLACE TEMP TABLE pairs_all AS
    WITH kept AS (
      SELECT p.account_id, p.person_key, p.first_day, p.last_time, p.points * s.factor AS points, p.role
      FROM pairs_before p JOIN st2 s USING (account_id) WHERE s.present
    ), merged AS (
      SELECT account_id, person_key, coalesce(k.first_day, {today}) AS first_day,
             CASE WHEN k.last_time IS NULL THEN t.last_time WHEN t.last_time IS NULL THEN k.last_time
                  ELSE greatest(k.last_time, t.last_time) END AS last_time,
             coalesce(k.points, 0.0) + coalesce(t.points, 0.0) AS points,
             CASE WHEN t.role >= 0 THEN t.role ELSE coalesce(k.role, -1) END AS role
      FROM kept k FULL OUTER JOIN pairs_today t USING (account_id, person_key)
    )
    SELECT m.* REPLACE (CASE WHEN s.halving THEN m.points * 0.5 ELSE m.points END AS points),
           (s.reset_now IS NULL OR m.last_time > s.reset_now) AS after_reset
    FROM merged m JOIN st2 s USING (account_id);
    CREATE OR REPLACE TEMP TABLE people AS
    WITH flags AS (
      SELECT account_id, role, first_day,
             after_reset AND epoch_us(last_time) >= {start_us - (breadth.window_days - 1) * DAY_US} AS active,
             after_reset AND epoch_us(last_time) >= {start_us - (config.buying_group.window_days - 1) * DAY_US}
               AS in_group
      FROM pairs_all
    )
    SELECT account_id, count(*) FILTER (WHERE active) AS engaged,
           count(*) FILTER (WHERE active AND first_day >= {today - (trend.new_people_days - 1)}) AS newly,
           count(*) FILTER (WHERE active AND first_day >= {today - (health.recent_days - 1)}) AS new_recent,
           coalesce(bit_or(1 << greatest(role, 0)) FILTER (WHERE in_group AND role >= 0), 0) AS role_mask
    FROM flags GROUP BY account_id;
    CREATE OR REPLACE TEMP TABLE pairs_after AS
    SELECT * EXCLUDE (after_reset) FROM pairs_all
    WHERE epoch_us(last_time) >= {start_us - (memory - 1) * DAY_US};
    """
    # the points of each day of history, today's included: surge and customer health
    first_recent = today - health.recent_days + 1
    last_week = first_recent // 7 - 1
    weeks = range(last_week - health.baseline_weeks + 1, last_week + 1)
    observed = sum(1 for w in weeks if w > first_ordinal // 7)
    week_sums = ", ".join(
        f"coalesce(sum(points) FILTER (WHERE day BETWEEN {today - 7 * w - 6} AND {today - 7 * w}), 0.0) AS w{w}"
        for w in range(trend.surge_baseline_weeks + 1)
    )
    n_weeks = trend.surge_baseline_weeks
    mean = _pairwise([f"w{w}" for w in range(1, n_weeks + 1)]) + f" / {n_weeks}.0"
    spread = _pairwise([f"(w{w} - mean) * (w{w} - mean)" for w in range(1, n_weeks + 1)]) + f" / {n_weeks}.0"
    rings = f"""
    CREATE OR REPLACE TEMP TABLE points_days AS
    SELECT day, account_id, points FROM hist WHERE points <> 0
    UNION ALL SELECT {today}, account_id, gained FROM st2 WHERE gained <> 0;
    CREATE OR REPLACE TEMP TABLE ring AS
    WITH w AS (
      SELECT account_id, {week_sums},
             coalesce(sum(points) FILTER (WHERE day >= {first_recent}), 0.0) AS recent,
             coalesce(sum(points) FILTER (WHERE day // 7 BETWEEN {weeks[0]} AND {weeks[-1]}), 0.0) AS baseline
      FROM points_days GROUP BY account_id
    ), m AS (SELECT *, {mean} AS mean FROM w)
    SELECT account_id, recent, baseline,
           w0 >= {num(trend.surge_min_points)} AND w0 > mean + {num(trend.surge_sigma)} * sqrt({spread})
             AS surge
    FROM m;
    """
    scored = f"""
    CREATE OR REPLACE TEMP TABLE st AS
    WITH s AS (
      SELECT st2.* REPLACE (CASE WHEN halving THEN acc * 0.5 ELSE acc END AS acc,
                            CASE WHEN halving THEN log_scale - 1 ELSE log_scale END AS log_scale),
             coalesce(p.engaged, 0) AS engaged, coalesce(p.newly, 0) AS newly,
             coalesce(p.new_recent, 0) AS new_recent, coalesce(p.role_mask, 0) AS role_mask,
             least(coalesce(p.engaged, 0), {breadth.max_people}) * {num(breadth.points_per_person)} AS breadth,
             coalesce(r.surge, false) AS surge, coalesce(r.recent, 0.0) AS recent,
             coalesce(r.baseline, 0.0) AS baseline,
             CASE WHEN touch_time_today IS NOT NULL AND (touch_prev IS NULL OR touch_time_today >= touch_prev)
                  THEN touch_time_today ELSE touch_prev END AS touch_time,
             CASE WHEN touch_time_today IS NOT NULL AND (touch_prev IS NULL OR touch_time_today >= touch_prev)
                  THEN touch_signal_today ELSE touch_signal_prev END AS touch_signal
      FROM st2 LEFT JOIN people p USING (account_id) LEFT JOIN ring r USING (account_id)
    ), h AS (
      SELECT s.*, round_even(acc + breadth, 2) AS score,
             CASE WHEN NOT customer THEN NULL
                  WHEN (CASE WHEN last_pos IS NULL THEN 1000000000 ELSE {today} - last_pos END)
                       >= {health.dormant_days} THEN 3
                  WHEN {observed} >= 4 AND baseline > 0
                       AND recent < {num(health.at_risk_ratio)}
                                    * (baseline / {max(observed, 1)} * {health.recent_days} / 7) THEN 1
                  WHEN new_recent >= {health.expanding_new_people} OR surge THEN 2
                  ELSE 0 END AS health
      FROM s
    )
    SELECT h.*, round_even(h.score - coalesce(h7.score, 0.0), 2) AS change_7d,
           round_even(h.score - coalesce(h28.score, 0.0), 2) AS change_28d
    FROM h LEFT JOIN (SELECT account_id, score FROM hist WHERE day = {today - 7}) h7 USING (account_id)
           LEFT JOIN (SELECT account_id, score FROM hist WHERE day = {today - 28}) h28 USING (account_id);
    """
    return [per_day, accounts, ledger, pairs, rings, scored]


def _pairwise(terms: list[str]) -> str:
    """A sum in numpy's order for eight terms ((a+b)+(c+d))+((e+f)+(g+h)); plain left to right otherwise."""
    if len(terms) == 8:
        t = [f"({x})" for x in terms]
        return f"((({t[0]} + {t[1]}) + ({t[2]} + {t[3]})) + (({t[4]} + {t[5]}) + ({t[6]} + {t[7]})))"
    return "(" + " + ".join(f"({x})" for x in terms) + ")"
