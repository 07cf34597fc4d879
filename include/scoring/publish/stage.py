"""Publish day D: the warehouse in one transaction, then the CRM push, behind the quality gate.

The warehouse write replaces D in account_score_history, refreshes account_scores (a newer day
is never overwritten by an older one), records resets, adds D's alert crossings to the outbox
(score_alerts, status pending; existing rows are never reset), refreshes the explanation
ledger, evaluates the quality gate and writes the day's pipeline_runs row (the reconciliation
ledger). All of it commits together or not at all.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import PipelineError, QualityGateHeld
from include.scoring.core.results import StageResult
from include.scoring.core.urls import mask_url
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish.alerts import alert_result, send_alerts
from include.scoring.publish.quality_gate import evaluate_gate, require_gate
from include.scoring.publish.reconcile import build_ledger
from include.scoring.publish.tables import (
    HEALTH_ALERT_THRESHOLDS,
    account_explanations,
    account_score_history,
    account_scores,
    pipeline_runs,
    score_alerts,
    score_resets,
)
from include.scoring.publish.warehouse import bulk_insert, ensure_schema, insert_missing, records, transaction, upsert

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)


class CrmNotInitialized(PipelineError):
    """The CRM has no engagement columns yet; `init-crm` creates them (never done silently)."""


CRM_FIELDS = {
    "engagement_score": "DOUBLE PRECISION",
    "engagement_band": "VARCHAR(32)",
    "engagement_trend": "VARCHAR(8)",
    "engagement_scored_at": "DATE",
}


def _describe(result: StageResult) -> str:
    c, gate = result.counts, result.details["gate"]
    reasons = result.details.get("gate_reasons")
    return (
        f"publish {result.day}  {c['accounts']:,} account scores, {c['alerts_new']:,} new alert(s), "
        f"{c['resets']:,} reset(s); ledger {result.details['ledger']}; quality gate {gate}"
        + (f" ({reasons})" if reasons else "")
    )


def _top_signals(ledger: pd.DataFrame, n: int = 3) -> dict[str, str]:
    if ledger is None or ledger.empty:
        return {}
    top = (
        ledger[ledger["points"] > 0]
        .sort_values(["account_id", "points"], ascending=[True, False])
        .groupby("account_id")
        .head(n)
    )
    return (
        top.groupby("account_id")
        .apply(
            lambda g: ", ".join(f"{s} {p:g}" for s, p in zip(g["signal"], g["points"].round(2))), include_groups=False
        )
        .to_dict()
    )


def _explanations(lake: Lake, day: date, scores: pd.DataFrame) -> list[dict]:
    signals = lake.read_df(catalog.STATE_LEDGER, day, missing_ok=True)
    persons = lake.read_df(catalog.STATE_PERSONS, day, missing_ok=True)
    rows = []
    if signals is not None and len(signals):
        rows += records(
            signals.assign(kind="signal", key=signals["signal"], label=signals["signal"], as_of=day),
            ["account_id", "kind", "key", "as_of", "label", "points"],
        )
    if persons is not None and len(persons):
        label = "last active " + pd.to_datetime(persons["last_positive_at"], utc=True).dt.strftime("%Y-%m-%d")
        rows += records(
            persons.assign(kind="person", key=persons["person_key"], label=label, as_of=day),
            ["account_id", "kind", "key", "as_of", "label", "points"],
        )
    breadth = scores[scores["breadth"] > 0]
    rows += records(
        breadth.assign(
            kind="breadth",
            key="breadth",
            label=breadth["engaged_people"].astype(str) + " people in the breadth window",
            points=breadth["breadth"],
        ),
        ["account_id", "kind", "key", "as_of", "label", "points"],
    )
    return rows


def ledger_columns(ledger) -> dict:
    """The reconciliation ledger's columns of a pipeline_runs row."""
    return {
        "raw_events": ledger.total("raw"),
        "quarantined": ledger.total("quarantined"),
        "filtered": ledger.total("filtered"),
        "unresolved": ledger.total("unresolved"),
        "zero_point": ledger.total("zero_point"),
        "scored": ledger.total("scored"),
        "reconciled": ledger.balanced,
        "resolution_rate": round(ledger.resolution_rate, 6),
        "counts_json": json.dumps(ledger.as_dict(), sort_keys=True),
    }


def write_day(
    conn: sa.Connection, lake: Lake, config: ScoringConfig, day: date
) -> tuple[StageResult, list[tuple[str, float, date]]]:
    """Day D's warehouse writes on an open transaction (see module docstring). Returns the
    result and the day's alert crossings (account_id, threshold, crossing day)."""
    scores = lake.read_df(catalog.SCORES, day)
    changes = lake.read_df(catalog.CHANGES, day)
    ledger = build_ledger(lake, day)
    top = _top_signals(lake.read_df(catalog.STATE_LEDGER, day, missing_ok=True))
    resets = changes[changes["kind"] == "reset"]
    alerts = changes[changes["kind"] == "alert"].merge(
        scores[["account_id", "account_name", "band", "next_action"]], on="account_id", how="left"
    )
    alert_rows = []
    for r in alerts.itertuples():
        to = r.recipient if isinstance(r.recipient, str) and r.recipient else None
        alert_rows.append(
            {
                "account_id": r.account_id,
                "threshold": alert_threshold(r.rule),
                "rule": r.rule,
                "crossing_day": day,
                "audience": r.audience,
                "recipient": to,
                "account_name": r.account_name,
                "score_before": float(r.score_before),
                "score_after": float(r.score_after),
                "band": r.band,
                "next_action": r.next_action,
                "top_signals": top.get(r.account_id, ""),
                "status": "pending" if to else "no_recipient",
                "attempts": 0,
                "last_error": None
                if to
                else f"no {r.audience} address (set notifications.manager_email or the account's owner/SDR in the CRM)",
                "sent_at": None,
            }
        )
    history = records(scores, list(catalog.SCORES.columns))
    band_changes = int((changes["kind"] == "band_change").sum())
    ensure_schema(conn)
    conn.execute(account_score_history.delete().where(account_score_history.c.as_of == day))
    bulk_insert(conn, account_score_history, history)  # the day was just emptied: plain (bulk) inserts
    upsert(conn, account_scores, history, ["account_id"], where_newer="as_of")
    conn.execute(score_resets.delete().where(score_resets.c.as_of == day))  # a re-run replaces the day's resets
    upsert(
        conn,
        score_resets,
        records(resets, ["account_id", "as_of", "rule", "score_before", "score_after"]),
        ["account_id", "as_of", "rule"],
    )
    insert_missing(conn, score_alerts, alert_rows, ["account_id", "threshold", "crossing_day"])
    latest = conn.execute(sa.select(sa.func.max(account_scores.c.as_of))).scalar()
    if latest is None or latest <= day:
        conn.execute(account_explanations.delete())
        bulk_insert(conn, account_explanations, _explanations(lake, day, scores))
    gate = evaluate_gate(conn, ledger, band_changes, len(scores), config.quality_gate)
    run = {
        "day": day,
        "config_version": config.version,
        **ledger_columns(ledger),
        "accounts": len(scores),
        "band_changes": band_changes,
        "alerts": len(alert_rows),
        "resets": len(resets),
        "gate_status": gate.status,
        "gate_reasons": json.dumps(gate.reasons),
        "crm_pushed": None,
    }
    upsert(conn, pipeline_runs, [run], ["day"], keep=("crm_pushed",))  # a re-publish keeps what the push did
    if not ledger.balanced:
        log.error("reconciliation ledger of %s does not balance: %s", day, ledger.as_dict())
    result = StageResult(
        "publish",
        "warehouse",
        day,
        counts={"accounts": len(scores), "alerts_new": len(alert_rows), "resets": len(resets)},
        details={
            "gate": gate.status,
            "gate_reasons": "; ".join(gate.reasons),
            "ledger": "balanced" if ledger.balanced else "NOT BALANCED",
        },
        warnings=[f"quality gate held: {reason}" for reason in gate.reasons] if gate.held else [],
        describe=_describe,
    )
    return result, [(a["account_id"], a["threshold"], day) for a in alert_rows]


def alert_threshold(rule: str) -> float:
    """score_alerts.threshold of an alert rule: the score of `threshold_<n>`, a code for a health alert."""
    if rule in HEALTH_ALERT_THRESHOLDS:
        return HEALTH_ALERT_THRESHOLDS[rule]
    return float(rule.removeprefix("threshold_"))


def publish_warehouse(lake: Lake, config: ScoringConfig, warehouse_url: str, day: date) -> StageResult:
    """Write day D's scores and ledger to the warehouse in one transaction (see module docstring)."""
    with transaction(warehouse_url) as conn:
        result, _ = write_day(conn, lake, config, day)
    log.info(result.line())
    return result


# CRM push ----------------------------------------------------------------------------------------
def init_crm(crm_url: str) -> list[str]:
    """Add the engagement columns to the CRM's accounts table (explicit, idempotent)."""
    engine = sa.create_engine(crm_url)
    added = []
    try:
        with engine.begin() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns("accounts")}
            for name, sql_type in CRM_FIELDS.items():
                if name not in present:
                    kind = "REAL" if sql_type == "DOUBLE PRECISION" and conn.dialect.name == "sqlite" else sql_type
                    conn.execute(
                        sa.text(f"ALTER TABLE accounts ADD COLUMN {name} {kind}")
                    )  # fixed identifiers, no user input
                    added.append(name)
    except sa.exc.OperationalError as exc:
        raise PipelineError(
            f"cannot add the engagement columns to the CRM at {mask_url(crm_url)}: {str(exc.orig).strip()[:300]}"
        ) from None
    finally:
        engine.dispose()
    return added


def _describe_push(result: StageResult) -> str:
    if result.details.get("skipped"):
        return f"crm push {result.day}  skipped: {result.details['skipped']}"
    return (
        f"crm push {result.day}  {result.count('updated'):,} account(s) updated, "
        f"{result.count('unchanged'):,} unchanged"
    )


def push_result(day: date, updated: int, unchanged: int, skipped: str = "") -> StageResult:
    """What the CRM push did; `skipped` says why it did nothing (held gate, newer day published...)."""
    counts = {"updated": updated, "unchanged": unchanged}
    return StageResult("publish", "crm", day, counts=counts, details={"skipped": skipped}, describe=_describe_push)


def push_crm(lake: Lake, warehouse_url: str, crm_url: str, day: date, batch: int = 1000) -> StageResult:
    """Update the CRM accounts' engagement fields where they changed, after the quality gate."""
    require_gate(warehouse_url, day, "the CRM push")
    with transaction(warehouse_url) as conn:
        latest = conn.execute(sa.select(sa.func.max(account_scores.c.as_of))).scalar()
    if latest is not None and latest > day:
        return push_result(day, 0, 0, skipped=f"{latest} is already published; the CRM keeps the newer scores")
    scores = lake.read_df(catalog.SCORES, day, columns=["account_id", "score", "band", "trend"])
    engine = sa.create_engine(crm_url)
    try:
        with engine.begin() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns("accounts")}
            missing = [c for c in CRM_FIELDS if c not in present]
            if missing:
                raise CrmNotInitialized(
                    f"the CRM accounts table at {mask_url(crm_url)} has no engagement column(s) {', '.join(missing)}. "
                    "They are created only by the explicit step: python -m include.scoring init-crm"
                )
            accounts = sa.table("accounts", *[sa.column(c) for c in ("account_id", *CRM_FIELDS)])
            current = pd.DataFrame(
                conn.execute(
                    sa.select(
                        accounts.c.account_id,
                        accounts.c.engagement_score,
                        accounts.c.engagement_band,
                        accounts.c.engagement_trend,
                    )
                ).fetchall(),
                columns=["account_id", "cur_score", "cur_band", "cur_trend"],
            )
            merged = scores.merge(current, on="account_id", how="inner")
            changed = merged[
                (merged["cur_score"].astype(float).round(2).ne(merged["score"].round(2)))
                | merged["cur_band"].ne(merged["band"])
                | merged["cur_trend"].ne(merged["trend"])
            ]
            stmt = (
                accounts.update()
                .where(accounts.c.account_id == sa.bindparam("b_id"))
                .values(
                    engagement_score=sa.bindparam("b_score"),
                    engagement_band=sa.bindparam("b_band"),
                    engagement_trend=sa.bindparam("b_trend"),
                    engagement_scored_at=sa.bindparam("b_at"),
                )
            )
            rows = [
                {"b_id": r.account_id, "b_score": float(r.score), "b_band": r.band, "b_trend": r.trend, "b_at": day}
                for r in changed.itertuples()
            ]
            for start in range(0, len(rows), batch):
                conn.execute(stmt, rows[start : start + batch])
    except sa.exc.OperationalError as exc:
        raise PipelineError(
            f"the CRM at {mask_url(crm_url)} could not be updated: {str(exc.orig).strip()[:300]}. Nothing was "
            "changed; clear push_crm to retry."
        ) from None
    finally:
        engine.dispose()
    with transaction(warehouse_url) as conn:  # the accounts updated by every push of the day, together
        conn.execute(
            pipeline_runs.update()
            .where(pipeline_runs.c.day == day)
            .values(crm_pushed=sa.func.coalesce(pipeline_runs.c.crm_pushed, 0) + len(rows))
        )
    result = push_result(day, len(rows), len(merged) - len(rows))
    log.info(result.line())
    return result


def publish_stage(ctx: RunContext, day: date, strict: bool = False) -> list[StageResult]:
    """The publish stage for day D: warehouse, then CRM push and alerts (by SMTP, else to the
    outbox folder). Lenient (the `run` command): a held gate, an uninitialised CRM or an SMTP
    server that fails are reported, not raised. Strict: raised."""
    results = [publish_warehouse(ctx.lake, ctx.config, ctx.settings.warehouse_url, day)]
    try:
        results.append(push_crm(ctx.lake, ctx.settings.warehouse_url, ctx.settings.crm_url, day))
    except (QualityGateHeld, CrmNotInitialized) as exc:
        if strict:
            raise
        results.append(push_result(day, 0, 0, skipped=str(exc).split(". ")[0]))
    try:
        results.append(
            send_alerts(
                ctx.settings.warehouse_url, ctx.mail(), day, strict=strict, max_age_days=ctx.config.alerts.max_age_days
            )
        )
    except QualityGateHeld as exc:
        if strict:
            raise
        results.append(alert_result(day, note=str(exc).split(". ")[0]))
    return results
