"""Publish day D: the warehouse in one transaction, then the CRM push (through the connector the
CRM URL names: crm/connector.py), behind the quality gate.

The warehouse write replaces D in account_score_history, refreshes account_scores (a newer day
is never overwritten by an older one), records resets, adds D's alert crossings to the outbox
(score_alerts, status pending; existing rows are never reset), refreshes the explanation
ledger, evaluates the quality gate and writes the day's pipeline_runs row (the reconciliation
ledger). All of it commits together or not at all.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.errors import QualityGateHeld
from include.scoring.core.results import StageResult
from include.scoring.crm.connector import SCORE_COLUMNS, SQL_FIELDS, CrmNotInitialized, connector_for
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.publish import rows
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
from include.scoring.publish.warehouse import bulk_insert, ensure_schema, insert_missing, transaction, upsert

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)


#: the SQL CRM's engagement columns (name -> type); every connector pushes crm.connector.PUSHED_FIELDS
CRM_FIELDS = SQL_FIELDS
__all__ = ["CRM_FIELDS", "CrmNotInitialized", "init_crm", "publish_stage", "publish_warehouse", "push_crm"]


def _describe(result: StageResult) -> str:
    c, gate = result.counts, result.details["gate"]
    reasons = result.details.get("gate_reasons")
    return (
        f"publish {result.day}  {c['accounts']:,} account scores, {c['alerts_new']:,} new alert(s), "
        f"{c['resets']:,} reset(s); ledger {result.details['ledger']}; quality gate {gate}"
        + (f" ({reasons})" if reasons else "")
    )


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


def _prepare(lake: Lake, config: ScoringConfig, day: date, scores: pa.Table) -> tuple:
    """The day's rows after the scores, and its reconciliation ledger: alerts, resets, band
    changes, explanations (built even when a newer day keeps them from being written), ledger."""
    changes = lake.read(catalog.CHANGES, day)
    signals = lake.read(catalog.STATE_LEDGER, day, missing_ok=True)
    alerts = rows.alert_rows(changes, scores, signals, day, alert_threshold)
    persons = lake.read(catalog.STATE_PERSONS, day, missing_ok=True)
    explanations = rows.explanation_rows(signals, persons, scores, day)
    band_changes = rows.of_kind(changes, "band_change").num_rows
    return alerts, rows.reset_rows(changes), band_changes, explanations, build_ledger(lake, day, config)


def write_day(
    conn: sa.Connection, lake: Lake, config: ScoringConfig, day: date
) -> tuple[StageResult, list[tuple[str, float, date]]]:
    """Day D's warehouse writes on an open transaction (see module docstring). Returns the
    result and the day's alert crossings (account_id, threshold, crossing day)."""
    scores = lake.read(catalog.SCORES, day)
    with ThreadPoolExecutor(1, thread_name_prefix="publish-rows") as helper:
        # the rows after the history and the ledger are built while the database writes the history
        prepared = helper.submit(_prepare, lake, config, day, scores)
        ensure_schema(conn)
        conn.execute(account_score_history.delete().where(account_score_history.c.as_of == day))
        bulk_insert(conn, account_score_history, scores)  # the day was just emptied: plain (bulk) inserts
        # account_scores from the rows just written (SQL, not a second copy of them over the wire)
        written = sa.select(*(account_score_history.c[c.name] for c in account_scores.columns))
        upsert(conn, account_scores, written.where(account_score_history.c.as_of == day), ["account_id"], "as_of")
        alerts, resets, band_changes, explanations, ledger = prepared.result()
    conn.execute(score_resets.delete().where(score_resets.c.as_of == day))  # a re-run replaces the day's resets
    upsert(conn, score_resets, resets, ["account_id", "as_of", "rule"])
    insert_missing(conn, score_alerts, alerts, ["account_id", "threshold", "crossing_day"])
    latest = conn.execute(sa.select(sa.func.max(account_scores.c.as_of))).scalar()
    if latest is None or latest <= day:
        conn.execute(account_explanations.delete())
        bulk_insert(conn, account_explanations, explanations)
    gate = evaluate_gate(conn, ledger, band_changes, scores.num_rows, config.quality_gate)
    run = {
        "day": day,
        "config_version": config.version,
        **ledger_columns(ledger),
        "accounts": scores.num_rows,
        "band_changes": band_changes,
        "alerts": alerts.num_rows,
        "resets": resets.num_rows,
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
        counts={"accounts": scores.num_rows, "alerts_new": alerts.num_rows, "resets": resets.num_rows},
        details={
            "gate": gate.status,
            "gate_reasons": "; ".join(gate.reasons),
            "ledger": "balanced" if ledger.balanced else "NOT BALANCED",
        },
        warnings=[f"quality gate held: {reason}" for reason in gate.reasons] if gate.held else [],
        describe=_describe,
    )
    crossings = alerts.select(["account_id", "threshold"]).to_pydict()
    return result, [(a, t, day) for a, t in zip(crossings["account_id"], crossings["threshold"], strict=True)]


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
def init_crm(crm_url: str, config: ScoringConfig | None = None) -> list[str]:
    """Make the CRM ready for the push: a SQL CRM gains its engagement columns (explicit,
    idempotent; returns those added); Salesforce and HubSpot are checked, and CrmNotInitialized
    says exactly which fields to create (fields in a customer's CRM are theirs to create)."""
    with connector_for(crm_url, config or load_config()) as crm:
        return crm.init_push_fields()


def _describe_push(result: StageResult) -> str:
    if result.details.get("skipped"):
        return f"crm push {result.day}  skipped: {result.details['skipped']}"
    failed = result.count("failed")
    return (
        f"crm push {result.day}  {result.count('updated'):,} account(s) updated, "
        f"{result.count('unchanged'):,} unchanged"
        + (f", {failed:,} rejected by the CRM (retried next run)" if failed else "")
        + (f"; {result.count('api_calls'):,} API calls" if result.count("api_calls") else "")
    )


def push_result(
    day: date, updated: int, unchanged: int, skipped: str = "", failed: list[tuple[str, str]] | None = None, **extra
) -> StageResult:
    """What the CRM push did; `skipped` says why it did nothing (held gate, newer day published...);
    `failed` lists the accounts the CRM rejected and why."""
    failed = failed or []
    counts = {"updated": updated, "unchanged": unchanged, "failed": len(failed), **extra}
    warnings = [f"CRM rejected account {account}: {reason}" for account, reason in failed[:20]]
    if len(failed) > 20:
        warnings.append(f"... and {len(failed) - 20} more rejected account(s)")
    return StageResult(
        "publish",
        "crm",
        day,
        counts=counts,
        details={"skipped": skipped},
        warnings=warnings,
        describe=_describe_push,
    )


def push_crm(
    lake: Lake, warehouse_url: str, crm_url: str, day: date, config: ScoringConfig | None = None
) -> StageResult:
    """Update the CRM accounts' engagement fields where they changed, after the quality gate.
    Accounts the CRM rejects are reported (warnings) and, still differing, pushed again next run."""
    require_gate(warehouse_url, day, "the CRM push")
    with transaction(warehouse_url) as conn:
        latest = conn.execute(sa.select(sa.func.max(account_scores.c.as_of))).scalar()
    if latest is not None and latest > day:
        return push_result(day, 0, 0, skipped=f"{latest} is already published; the CRM keeps the newer scores")
    scores = lake.read_df(catalog.SCORES, day, columns=SCORE_COLUMNS)
    with connector_for(crm_url, config or load_config()) as crm:
        outcome = crm.push(scores, day)
    with transaction(warehouse_url) as conn:  # the accounts updated by every push of the day, together
        conn.execute(
            pipeline_runs.update()
            .where(pipeline_runs.c.day == day)
            .values(crm_pushed=sa.func.coalesce(pipeline_runs.c.crm_pushed, 0) + len(outcome.updated))
        )
    result = push_result(
        day,
        len(outcome.updated),
        outcome.unchanged,
        failed=outcome.failed,
        api_calls=outcome.api_calls,
        batches=len(outcome.batches),
    )
    log.info(result.line())
    for warning in result.warnings:
        log.warning(warning)
    return result


def publish_stage(ctx: RunContext, day: date, strict: bool = False) -> list[StageResult]:
    """The publish stage for day D: warehouse, then CRM push and alerts (by SMTP, else to the
    outbox folder). Lenient (the `run` command): a held gate, an uninitialised CRM or an SMTP
    server that fails are reported, not raised. Strict: raised."""
    results = [publish_warehouse(ctx.lake, ctx.config, ctx.settings.warehouse_url, day)]
    try:
        results.append(push_crm(ctx.lake, ctx.settings.warehouse_url, ctx.settings.crm_url, day, ctx.config))
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
