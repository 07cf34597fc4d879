"""`python -m include.scoring forget --email ADDRESS`: a right-to-erasure request, end to end.

1. Scan the lake for the person (include/scoring/privacy/search.py). A dry run prints that and stops.
2. Add the salted hashes of their identifiers to the suppression list, marked in_progress, so
   extract drops them from now on, also from a backfill of the original landing files or CRM.
3. Rewrite the source partitions, the validation outputs and the person graph
   (include/scoring/privacy/redaction.py).
4. Resolve again every day from the first day whose derived data held the person, and score again
   from the last checkpoint before it to the last scored day: the pipeline's own stages, so
   caps, breadth, bonuses and identity come out as if the person had never been there.
5. One warehouse transaction: the person's explanation rows deleted; every re-scored day that was
   published is published again (each day keeps its quality-gate verdict and CRM push count, the
   record of what happened then); the reconciliation ledger of the earlier published days
   refreshed; alert crossings that no longer happen and were never emailed deleted (one that
   only moved to another day stays pending there); other crossings the recomputation finds are
   recorded as `suppressed`, never emailed (an old day does not alert, and a sent alert is never
   sent again); and the audit row completed (it is written `in_progress` before step 2, so an
   interrupted request is on record with the rows it removed; the run completing it marks it so).
6. Push the latest day's CRM fields when that day was re-published (unless --no-crm-push),
   leniently like the `run` command: a held gate or an uninitialised CRM is a note.
7. Mark the suppression entries done. A forget interrupted before this is completed by running it
   again; a forget of an address already erased finds nothing and changes nothing.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.errors import LakeError, PipelineError, QualityGateHeld, UsageError
from include.scoring.core.normalize import normalize_email
from include.scoring.core.sources import ALL_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.privacy.redaction import apply
from include.scoring.privacy.search import Plan, scan
from include.scoring.privacy.suppression import EMAIL, Suppression, add_entries, digest, finish_requests, load_salt
from include.scoring.publish.reconcile import build_ledger
from include.scoring.publish.stage import CrmNotInitialized, ledger_columns, push_crm, write_day
from include.scoring.publish.tables import account_explanations, pipeline_runs, privacy_erasures, score_alerts
from include.scoring.publish.warehouse import ensure_schema, transaction
from include.scoring.resolve.stage import resolve_identities
from include.scoring.score.stage import rescore_from

log = logging.getLogger(__name__)
KEPT = ("gate_status", "gate_reasons", "crm_pushed")  # what happened on the day, kept when it is re-published


@dataclass
class ForgetResult:
    request_id: str
    requested_at: datetime
    requested_by: str
    identifier_hash: str | None
    plan: Plan
    dry_run: bool = False
    status: str = "completed"
    suppression_added: int = 0
    resolved_days: list[date] = field(default_factory=list)
    scored_days: list[date] = field(default_factory=list)
    published_days: list[date] = field(default_factory=list)
    refreshed_days: list[date] = field(default_factory=list)
    warehouse: dict[str, int] = field(default_factory=dict)
    score_changed: list[str] = field(default_factory=list)
    warehouse_latest: date | None = None
    crm: str = ""

    @property
    def lake_rows(self) -> int:
        return sum(self.plan.removed.values())

    @property
    def accounts(self) -> list[str]:
        return sorted(self.plan.accounts | set(self.score_changed))

    @property
    def warehouse_rows(self) -> int:
        return self.warehouse.get("account_explanations", 0) + self.warehouse.get("score_alerts", 0)

    def counts(self) -> dict:
        plan = self.plan
        return {
            "lake_rows": {k: v for k, v in sorted(plan.removed.items()) if v},
            "lake_redacted": {k: v for k, v in sorted(plan.redacted.items()) if v},
            "warehouse": self.warehouse,
            "suppression_added": self.suppression_added,
            "days": {
                "resolved": len(self.resolved_days),
                "scored": len(self.scored_days),
                "published": len(self.published_days),
                "ledger_refreshed": len(self.refreshed_days),
            },
        }

    def lines(self) -> list[str]:
        plan = self.plan
        head = f"forget {self.request_id}  requested by {self.requested_by}" + (
            "  [DRY RUN: nothing was changed]" if self.dry_run else f"  [{self.status}]"
        )
        out = [
            head,
            f"  person: {plan.person.describe()}; "
            f"identifier hash {self.identifier_hash or '(no suppression list yet)'}",
        ]
        verb = "that would be removed" if self.dry_run else "removed"
        rows = {k: v for k, v in sorted(plan.removed.items()) if v}
        out.append(
            f"  lake rows {verb}: {self.lake_rows:,}" + ("" if rows else " (the lake holds nothing of this person)")
        )
        out += [f"    {k:<32} {v:>8,}" for k, v in rows.items()]
        out += [f"    {k:<32} {v:>8,} text cell(s)/file(s) redacted" for k, v in sorted(plan.redacted.items()) if v]
        out.append(
            f"  accounts affected: {', '.join(self.accounts) or 'none'}"
            + (f" (score changed: {', '.join(self.score_changed)})" if self.score_changed else "")
        )
        first = plan.first_day
        if self.dry_run:
            out.append(
                f"  would recompute: resolve and score from {first}, then re-publish those days"
                if first
                else "  would recompute: nothing (no derived data holds the person)"
            )
        else:
            out.append(
                f"  recomputed: resolve {_span(self.resolved_days)}; score {_span(self.scored_days)}; "
                f"warehouse re-published {_span(self.published_days)}, "
                f"ledger refreshed on {len(self.refreshed_days)} other day(s)"
            )
            out.append("  warehouse: " + ", ".join(f"{k} {v:,}" for k, v in self.warehouse.items()))
            out.append(
                f"  suppression list: {self.suppression_added} new hash(es) in privacy/erasures "
                "(extract drops them from now on)"
            )
            if self.crm:
                out.append(f"  {self.crm}")
            out.append(f"  audit: privacy_erasures row {self.request_id}")
        out += [f"  note: {note}" for note in plan.notes]
        return out


def _span(days: list[date]) -> str:
    return f"{len(days)} day(s), {days[0]} to {days[-1]}" if days else "0 days"


def default_requester() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER") or "unknown"


def _normalised(email: str) -> str:
    value = normalize_email(pd.Series([email], dtype="string")).iloc[0]
    if pd.isna(value):
        raise UsageError(
            f"{email!r} is not an email address; give the address to erase, e.g. --email jane.doe@example.com"
        )
    return str(value)


def _require_lake(lake: Lake) -> None:
    if not any(lake.days(catalog.raw(source)) for source in ALL_SOURCES):
        raise LakeError(
            f"no lake at {lake.root}: it holds no extracted partitions (raw/<source>/dt=...). "
            "Point --lake / ENGAGEMENT_LAKE at the pipeline's lake; nothing was changed."
        )


def _resolve_days(lake: Lake, first: date) -> list[date]:
    days = sorted(d for d in set(lake.days(catalog.IDENTITY_MAP)) | set(lake.days(catalog.RESOLVED)) if d >= first)
    broken = [d for d in days if not all(lake.exists(catalog.valid(s), d) for s in ALL_SOURCES)]
    if broken:
        raise LakeError(
            f"cannot recompute {broken[0]} after the erasure: its valid partitions are incomplete "
            "(a failed validation?). "
            f"Re-run that day first (python -m include.scoring run --start {broken[0]} --end {broken[0]}), "
            "then forget again; nothing was changed."
        )
    return days


def _last_scores(lake: Lake) -> pd.Series | None:
    days = lake.days(catalog.SCORES)
    return (
        lake.read_df(catalog.SCORES, days[-1], columns=["account_id", "score"]).set_index("account_id")["score"]
        if days
        else None
    )


def forget(
    ctx: RunContext, email: str, requested_by: str | None = None, dry_run: bool = False, crm_push: bool = True
) -> ForgetResult:
    """Erase the person of `email` from the lake and the warehouse (see module docstring)."""
    address = _normalised(email)
    lake, config = ctx.lake, ctx.config
    _require_lake(lake)
    now = datetime.now(UTC)
    suppression = Suppression.load(lake)
    salt = suppression.salt or (None if dry_run else load_salt(lake, create=True))
    email_hash = digest(salt, EMAIL, address) if salt else None
    plan = scan(lake, config, address)
    unfinished = suppression.unfinished(email_hash) if email_hash else pd.DataFrame(columns=["request_id", "first_day"])
    if len(unfinished):
        plan.notes.append(
            f"completing {unfinished['request_id'].nunique()} earlier request(s) for this address that did not finish"
        )
        plan.derived_days |= {d for d in pd.to_datetime(unfinished["first_day"]).dt.date.dropna()}
    result = ForgetResult(
        f"erasure-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
        now,
        requested_by or default_requester(),
        email_hash,
        plan,
        dry_run,
    )
    first = plan.first_day
    resolve_days = _resolve_days(lake, first) if first else []
    if dry_run:
        return result
    _audit_start(ctx, result)
    before = _last_scores(lake)
    result.suppression_added = add_entries(lake, result.request_id, plan.person.hashes(salt), now, first)
    apply(lake, plan)
    for day in resolve_days:
        resolve_identities(lake, config, day)
    result.resolved_days = resolve_days
    result.scored_days = rescore_from(lake, config, first) if first else []
    after = _last_scores(lake)
    if before is not None and after is not None:
        diff = (
            after.reindex(before.index.union(after.index))
            .round(2)
            .ne(before.reindex(before.index.union(after.index)).round(2))
        )
        result.score_changed = sorted(diff.index[diff.to_numpy()])
    _warehouse(ctx, result)
    if crm_push and result.published_days and result.published_days[-1] == result.warehouse_latest:
        result.crm = _push_latest(ctx, result.published_days[-1])
    finish_requests(lake, {result.request_id, *unfinished["request_id"]})
    log.info(
        "forget %s: %s lake row(s) removed, %s account(s) affected",
        result.request_id,
        result.lake_rows,
        len(result.accounts),
    )
    return result


def _warehouse(ctx: RunContext, result: ForgetResult) -> None:
    """Step 5 of the module docstring, in one transaction."""
    lake, config, plan = ctx.lake, ctx.config, result.plan
    scored = set(result.scored_days)
    keys = sorted(plan.person.keys)
    with transaction(ctx.settings.warehouse_url) as conn:
        ensure_schema(conn)
        runs = {r.day: r for r in conn.execute(sa.select(pipeline_runs)).all()}
        result.published_days = [d for d in sorted(runs) if d in scored]
        result.warehouse_latest = max(runs) if runs else None
        person_rows = account_explanations.delete().where(
            account_explanations.c.kind == "person", account_explanations.c.key.in_(keys)
        )
        explanations = conn.execute(person_rows).rowcount if keys else 0
        days = result.published_days
        alerts = score_alerts.c
        old = pd.DataFrame(
            conn.execute(
                sa.select(alerts.account_id, alerts.threshold, alerts.crossing_day, alerts.status).where(
                    alerts.crossing_day.in_(days)
                )
            ).all(),
            columns=["account_id", "threshold", "crossing_day", "status"],
        )
        crossings = set()
        for day in days:
            crossings |= set(write_day(conn, lake, config, day)[1])
            conn.execute(
                pipeline_runs.update()
                .where(pipeline_runs.c.day == day)
                .values({k: getattr(runs[day], k) for k in KEPT})
            )
        old_keys = list(zip(old["account_id"], old["threshold"], old["crossing_day"]))  # the days' alerts: a few rows
        vanished = pd.Series([k not in crossings for k in old_keys], index=old.index, dtype=bool)
        gone = old[vanished & old["status"].isin(["pending", "no_recipient"])]
        for row in gone.itertuples():
            conn.execute(
                score_alerts.delete().where(
                    alerts.account_id == row.account_id,
                    alerts.threshold == row.threshold,
                    alerts.crossing_day == row.crossing_day,
                )
            )
        moved = set(
            zip(gone["account_id"], gone["threshold"])
        )  # unsent crossings that now happen on another day stay pending
        new = [k for k in sorted(crossings - set(old_keys)) if k[:2] not in moved]
        for account_id, threshold, day in new:
            conn.execute(
                score_alerts.update()
                .where(alerts.account_id == account_id, alerts.threshold == threshold, alerts.crossing_day == day)
                .values(
                    status="suppressed",
                    last_error=f"crossing found when erasure {result.request_id} recomputed {day}: not emailed",
                )
            )
        for day in sorted(set(runs) - set(days)):
            if not (lake.exists(catalog.RESOLUTION, day) and lake.exists(catalog.CONTRIBUTIONS, day)):
                continue
            columns = ledger_columns(build_ledger(lake, day))
            if any(getattr(runs[day], k) != v for k, v in columns.items()):
                conn.execute(pipeline_runs.update().where(pipeline_runs.c.day == day).values(columns))
                result.refreshed_days.append(day)
        result.warehouse = {
            "account_explanations": explanations,
            "score_alerts": len(gone),
            "score_alerts_suppressed": len(new),
            "days_republished": len(days),
            "ledgers_refreshed": len(result.refreshed_days),
        }
        erasures = privacy_erasures.c
        conn.execute(
            privacy_erasures.update().where(erasures.request_id == result.request_id).values(_audit_values(result))
        )
        conn.execute(  # earlier requests for this address that were interrupted: this one completed them
            privacy_erasures.update()
            .where(
                erasures.identifier_hash == result.identifier_hash,
                erasures.status == "in_progress",
                erasures.request_id != result.request_id,
            )
            .values(status="completed", notes=f"interrupted; completed by {result.request_id}")
        )


def _audit_values(result: ForgetResult, status: str | None = None) -> dict:
    recomputed = sorted(set(result.resolved_days) | set(result.scored_days))
    return {
        "request_id": result.request_id,
        "identifier_hash": result.identifier_hash,
        "requested_at": result.requested_at,
        "requested_by": result.requested_by,
        "status": status or result.status,
        "lake_rows_removed": result.lake_rows,
        "warehouse_rows_removed": result.warehouse_rows,
        "accounts_affected": len(result.accounts),
        "first_day": recomputed[0] if recomputed else None,
        "last_day": recomputed[-1] if recomputed else None,
        "days_recomputed": len(recomputed),
        "counts_json": json.dumps(result.counts(), sort_keys=True),
        "accounts_json": json.dumps(result.accounts),
        "notes": "; ".join(result.plan.notes) or None,
    }


def _audit_start(ctx: RunContext, result: ForgetResult) -> None:
    """The audit row first, `in_progress` with what the scan found (the rows about to be removed): a
    forget killed midway leaves its removals on record, and the run that completes it marks it so."""
    with transaction(ctx.settings.warehouse_url) as conn:
        ensure_schema(conn)
        conn.execute(privacy_erasures.insert().values(_audit_values(result, status="in_progress")))


def _push_latest(ctx: RunContext, day: date) -> str:
    """The CRM fields of the latest published day, where the recomputation changed them."""
    try:
        return push_crm(ctx.lake, ctx.settings.warehouse_url, ctx.settings.crm_url, day, ctx.config).line()
    except (QualityGateHeld, CrmNotInitialized) as exc:
        return f"crm push {day}  skipped: {str(exc).split('. ')[0]}"
    except PipelineError as exc:
        return f"crm push {day}  failed: {exc} (the next daily run pushes the latest scores)"
