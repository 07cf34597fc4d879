"""The quality gate before the CRM push and the alerts (SPEC section 6).

The day is compared with the median of earlier published days in pipeline_runs (the same weekday
of the last weeks once there are enough of them, else the trailing days): each event source's
volume, the resolution rate, and the share of accounts changing band. A source that is regularly
empty on the day's weekday (a weekly email campaign that skips some weeks: at least
REGULAR_ZERO_SHARE of those weekdays had no valid event) is judged against that pattern: a low
or empty day is normal there, so only its upper bound applies (against its non-empty days). Out of bounds:
the push and the alerts hold (the scores still land in the warehouse) and the reasons are
recorded in pipeline_runs for on-call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import TYPE_CHECKING

import sqlalchemy as sa

from include.scoring.core.config import QualityGate
from include.scoring.core.errors import PipelineError, QualityGateHeld
from include.scoring.core.sources import EVENT_SOURCES
from include.scoring.publish.tables import pipeline_runs
from include.scoring.publish.warehouse import ensure_schema, transaction

if TYPE_CHECKING:  # the ledger is built from the lake (reconcile.py); the gate only reads it
    from include.scoring.publish.reconcile import Ledger

PASSED, HELD, NO_HISTORY = "passed", "held", "no_history"
#: share of the same weekdays with no valid event from which a source counts as regularly empty that weekday
REGULAR_ZERO_SHARE = 0.25


@dataclass
class GateResult:
    status: str
    reasons: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.status == HELD


def evaluate_gate(
    conn: sa.Connection, ledger: Ledger, band_changes: int, accounts: int, cfg: QualityGate
) -> GateResult:
    day: date = ledger.day
    recent = conn.execute(
        sa.select(pipeline_runs.c.day, pipeline_runs.c.counts_json, pipeline_runs.c.resolution_rate)
        .where(pipeline_runs.c.day < day, pipeline_runs.c.day >= day - timedelta(weeks=cfg.same_weekday_weeks))
        .order_by(pipeline_runs.c.day.desc())
    ).fetchall()
    # Weekends are quieter than weekdays: compare with the same weekday of the last weeks when
    # there is enough of them, else with the trailing days.
    same_weekday = [r for r in recent if r.day.weekday() == day.weekday()]
    rows = same_weekday if len(same_weekday) >= cfg.min_history_days else recent[: cfg.trailing_days]
    basis = "the same weekday of earlier weeks" if rows is same_weekday else "the trailing days"
    if len(rows) < cfg.min_history_days:
        return GateResult(
            NO_HISTORY, [f"only {len(rows)} earlier published day(s); the gate needs {cfg.min_history_days}"]
        )
    reasons = []
    history = [json.loads(r.counts_json)["sources"] for r in rows]
    for source in EVENT_SOURCES:
        past = [h.get(source, {}).get("valid", 0) for h in history]
        today = ledger.by_source[source].get("valid", 0)
        regularly_empty = rows is same_weekday and sum(v <= 0 for v in past) >= REGULAR_ZERO_SHARE * len(past)
        if regularly_empty:  # judged against its non-empty days of this weekday, upper bound only
            past = [v for v in past if v > 0]
        typical = median(past) if past else 0
        if typical <= 0:
            continue
        ratio = today / typical
        if (ratio < cfg.min_volume_ratio and not regularly_empty) or ratio > cfg.max_volume_ratio:
            reasons.append(
                f"volume: {source} has {today:,} valid events, {ratio:.0%} of its median {typical:,.0f} on {basis} "
                f"(allowed {cfg.min_volume_ratio:.0%}-{cfg.max_volume_ratio:.0%})"
            )
    rate = ledger.resolution_rate
    typical_rate = median(r.resolution_rate for r in rows)
    if typical_rate - rate > cfg.max_resolution_rate_drop:
        reasons.append(
            f"resolution rate {rate:.1%} fell more than {cfg.max_resolution_rate_drop:.0%} below its median "
            f"{typical_rate:.1%} on {basis}"
        )
    share = band_changes / accounts if accounts else 0.0
    if share > cfg.max_band_change_share:
        reasons.append(
            f"band churn: {band_changes:,} of {accounts:,} accounts ({share:.1%}) changed band, more than "
            f"{cfg.max_band_change_share:.0%}"
        )
    return GateResult(HELD if reasons else PASSED, reasons)


def gate_status(warehouse_url: str, day: date) -> GateResult:
    with transaction(warehouse_url) as conn:
        ensure_schema(conn)
        row = conn.execute(
            sa.select(pipeline_runs.c.gate_status, pipeline_runs.c.gate_reasons).where(pipeline_runs.c.day == day)
        ).first()
    if row is None:
        raise PipelineError(
            f"day {day} is not published in the warehouse yet; run publish for {day} first (python -m "
            f"include.scoring publish --date {day})"
        )
    return GateResult(row.gate_status, json.loads(row.gate_reasons))


def require_gate(warehouse_url: str, day: date, what: str) -> None:
    gate = gate_status(warehouse_url, day)
    if gate.held:
        raise QualityGateHeld(
            f"quality gate held for {day}: {what} is on hold while the day's numbers are out of bounds "
            f"({'; '.join(gate.reasons)}). "
            "The scores are in the warehouse. Check the upstream data (docs/runbook.md#quality-gate-held); once the "
            "day is fixed and re-run, "
            f"the held {what} goes out with the next passing run."
        )
