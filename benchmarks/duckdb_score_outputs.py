"""The day's score rows and changes of the full-model DuckDB scoring reference (`duckdb_score_ref`),
from the state table `st` and the CRM snapshot `snap` (SPEC section 7's score and change columns,
as `include/scoring/score/outputs.py` writes them)."""

from __future__ import annotations

from datetime import date

from benchmarks.duckdb_common import quote
from benchmarks.duckdb_score_contrib import num
from benchmarks.duckdb_score_step import DAY_US, HEALTH, band_code_sql, band_name_sql
from include.scoring.core.config import ScoringConfig


def _health_name(code: str) -> str:
    return f"[{', '.join(map(quote, HEALTH))}][{code} + 1]"


def _money(column: str) -> str:
    return f"printf('%.2f', {column})"


def outputs_sql(config: ScoringConfig, day: date) -> list[str]:
    today = day.toordinal()
    epoch_day = today - date(1970, 1, 1).toordinal()
    roles = config.buying_group.roles
    missing = ", ".join(f"CASE WHEN role_mask & {1 << i} = 0 THEN {quote(r)} END" for i, r in enumerate(roles))
    bits = " + ".join(f"((role_mask >> {i}) & 1)" for i in range(len(roles)))
    actions = "[" + ", ".join(quote(b.next_action) for b in config.bands) + "]"
    flag = config.buying_group.flag_missing_decision_maker_from
    if flag is not None and "decision_maker" in roles:
        from_band = [b.name for b in config.bands].index(flag)
        bit = 1 << roles.index("decision_maker")
        action = (
            f"CASE WHEN band_code >= {from_band} AND role_mask & {bit} = 0 "
            f"THEN {actions}[band_code + 1] || ' \u2014 no decision maker engaged yet' "
            f"ELSE {actions}[band_code + 1] END"
        )
    else:
        action = f"{actions}[band_code + 1]"
    flat = float(config.trend.flat_below)
    scores = f"""
    CREATE OR REPLACE TEMP TABLE scores AS
    WITH b AS (
      SELECT st.*, p.name, p.lifecycle, p.abm_tier, p.owner_email, p.sdr_email,
             {band_code_sql(config, "score")} AS band_code
      FROM st JOIN snap p USING (account_id)
    ), r AS (
      SELECT b.*, n.prospects, rank() OVER (PARTITION BY customer ORDER BY score) - 1 AS below
      FROM b CROSS JOIN (SELECT count(*) AS prospects FROM b WHERE NOT customer) n
    )
    SELECT account_id, DATE '{day.isoformat()}' AS as_of, score, {band_name_sql(config, "band_code")} AS band,
           CASE WHEN customer THEN NULL WHEN prospects > 1 THEN round_even(100.0 * below / (prospects - 1), 1)
                ELSE 100.0 END AS engagement_percentile,
           acc AS accumulated, breadth, engaged::BIGINT AS engaged_people, newly::BIGINT AS new_people_14d,
           round_even(({bits}) / {len(roles)}.0, 4) AS buying_group_coverage,
           concat_ws(', ', {missing}) AS missing_roles,
           {_health_name("health")} AS health, gained AS points_today,
           CASE WHEN change_7d >= {num(flat)} THEN 'up' WHEN change_7d <= {num(-flat)} THEN 'down' ELSE 'flat' END
             AS trend,
           change_7d, change_28d, surge, touch_time AS last_touch_at, touch_signal AS last_touch_signal,
           ({epoch_day} - floor(epoch_us(touch_time) / {DAY_US}))::BIGINT AS days_since_engagement,
           CASE WHEN customer THEN {quote(config.customer_next_action)} ELSE {action} END AS next_action,
           CASE WHEN customer THEN 'customer' ELSE lifecycle END AS lifecycle,
           trim(name) AS account_name, abm_tier::BIGINT AS abm_tier, owner_email, sdr_email,
           {quote(config.version)} AS config_version
    FROM r
    """
    columns = (
        "account_id, DATE '{day}' AS as_of, {kind} AS kind, {rule} AS rule, {before} AS before, {after} AS after, "
        "{sb} AS score_before, score AS score_after, {recipient} AS recipient, {audience} AS audience"
    )

    def part(
        kind: str, rule: str, where: str, before=None, after=None, sb="score_before", recipient="NULL", audience="NULL"
    ) -> str:
        select = columns.format(
            day=day.isoformat(),
            kind=quote(kind),
            rule=rule,
            before=before or _money(sb),
            after=after or _money("score"),
            sb=sb,
            recipient=recipient,
            audience=audience,
        )
        return f"SELECT {select} FROM s WHERE {where}"

    parts = [
        part("reset", quote("not_interested"), "reset_at IS NOT NULL"),
        part("reset", quote("idle_halving"), "halving"),
        part(
            "band_change",
            quote("band"),
            "b0 <> b1",
            before=band_name_sql(config, "b0"),
            after=band_name_sql(config, "b1"),
        ),
    ]
    manager = quote(config.notifications.manager_email) if config.notifications.manager_email else "NULL"
    for rule in config.alerts.thresholds:
        wanted = {"owner": "owner_email", "sdr": "sdr_email", "manager": manager}[rule.recipient]
        parts.append(
            part(
                "alert",
                quote(f"threshold_{rule.threshold:g}"),
                f"score_before <= {num(rule.threshold)} AND score > {num(rule.threshold)}",
                recipient=f"nullif(CASE WHEN customer THEN owner_email ELSE {wanted} END, '')",
                audience=f"CASE WHEN customer THEN 'owner' ELSE {quote(rule.recipient)} END",
            )
        )
    moved = "health_before IS NOT NULL AND health IS NOT NULL AND health_before <> health"
    parts.append(
        part(
            "health_change",
            quote("health"),
            moved,
            before=_health_name("health_before"),
            after=_health_name("health"),
            sb="score",
        )
    )
    parts.append(
        part(
            "alert",
            f"'health_' || {_health_name('health')}",
            f"{moved} AND health IN (1, 3)",
            sb="score",
            before=_money("score"),
            recipient="nullif(owner_email, '')",
            audience="'owner'",
        )
    )
    changes = f"""
    CREATE OR REPLACE TEMP TABLE changes AS
    WITH s AS (
      SELECT st.*, p.owner_email, p.sdr_email, {band_code_sql(config, "score_before")} AS b0,
             {band_code_sql(config, "score")} AS b1
      FROM st JOIN snap p USING (account_id)
    )
    SELECT * FROM ({" UNION ALL ".join(parts)}) ORDER BY kind, account_id, rule
    """
    return [scores, changes]
