"""Threshold alert emails: one per recipient per run, from the score_alerts outbox.

Every pending alert (any crossing day not held by the quality gate) is grouped by recipient and
sent in one email listing the accounts, what they crossed, their top signals and next action.
A recipient's alerts are marked sent in the same transaction that follows a successful send, so
a re-run never sends them again; when the SMTP server is down they stay pending (attempts and
the error recorded) and go out with the next run. The window between a successful send and the
commit is the only way a message can repeat.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.scoring.core.errors import AlertDeliveryError
from include.scoring.core.mailer import SmtpSettings, send_email
from include.scoring.core.results import StageResult
from include.scoring.publish.quality_gate import require_gate
from include.scoring.publish.tables import score_alerts
from include.scoring.publish.warehouse import read_table, transaction

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
AUDIENCE = {"sdr": "the SDR", "owner": "the account owner", "manager": "the sales manager"}


def _describe(result: StageResult) -> str:
    c = result.counts
    text = f"alerts {result.day}  {c['sent']:,} alert(s) sent in {c['emails']:,} email(s), {c['pending']:,} pending"
    return text + (f"  ({result.details['note']})" if result.details.get("note") else "")


def alert_result(day: date, pending: int = 0, note: str = "") -> StageResult:
    """What sending a day's alerts did: alerts sent, emails, alerts still pending; `note` says
    why some were not sent, `warnings` lists recipients whose email failed."""
    counts = {"sent": 0, "emails": 0, "pending": pending}
    return StageResult("publish", "alerts", day, counts=counts, details={"note": note}, describe=_describe)


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
    )


def render_alert_email(recipient: str, alerts: pd.DataFrame, day: date) -> tuple[str, str, str]:
    """Subject, text and HTML of one recipient's email (every value HTML-escaped in the HTML)."""
    audience = AUDIENCE.get(str(alerts["audience"].iloc[0]), "a recipient")
    n = alerts["account_id"].nunique()
    subject = f"Engagement alerts {day}: {n} account{'s' if n != 1 else ''} crossed a threshold"
    context = {
        "subject": subject,
        "heading": f"{n} account{'s' if n != 1 else ''} need{'s' if n == 1 else ''} your attention",
        "intro": f"Engagement scores that rose above an alert threshold (as of {day}).",
        "alerts": [
            {
                **row,
                "threshold": f"{row['threshold']:g}",
                "score_before": f"{row['score_before']:.2f}",
                "score_after": f"{row['score_after']:.2f}",
                "band": str(row["band"]).replace("_", " "),
            }
            for row in alerts.sort_values(["score_after", "account_id"], ascending=[False, True]).to_dict("records")
        ],
        "day": day.isoformat(),
        "audience": audience,
    }
    env = _env()
    text_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined)  # noqa: S701 - plain-text part
    return (
        subject,
        text_env.get_template("alerts.txt.j2").render(context),
        env.get_template("alerts.html.j2").render(context),
    )


def send_alerts(warehouse_url: str, smtp: SmtpSettings | None, day: date, strict: bool = True) -> StageResult:
    """Send the pending alerts (see module docstring). `strict` raises when some stay pending."""
    require_gate(warehouse_url, day, "alert email")
    pending = read_table(
        warehouse_url,
        sa.select(score_alerts).where(score_alerts.c.status == "pending").where(score_alerts.c.crossing_day <= day),
    )
    result = alert_result(day, pending=len(pending))
    if pending.empty:
        return result
    if smtp is None:
        result.details["note"] = (
            "no SMTP server configured (connection engagement_smtp or ENGAGEMENT_SMTP_URL): alerts stay pending"
        )
        if strict:
            raise AlertDeliveryError(f"{len(pending)} alert(s) pending for {day} but {result.details['note']}.")
        return result
    failed = []
    for recipient, group in pending.groupby("recipient", sort=True):
        subject, text, html = render_alert_email(recipient, group, day)
        keys = group[["account_id", "threshold", "crossing_day"]].to_dict("records")
        try:
            send_email(smtp, [recipient], subject, text, html)
        except Exception as exc:  # noqa: BLE001 - any SMTP or network failure keeps the alerts pending
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("alert email to %s via %s failed: %s", recipient, smtp.describe(), error)
            failed.append(recipient)
            _mark(warehouse_url, keys, status="pending", error=error)
            continue
        _mark(warehouse_url, keys, status="sent", error=None)
        result.counts["sent"] += len(group)
        result.counts["emails"] += 1
    result.counts["pending"] = len(pending) - result.counts["sent"]
    if failed:
        note = f"SMTP {smtp.describe()} failed for {len(failed)} recipient(s); they stay pending for the next run"
        result.details["note"] = note
        result.warnings += [f"alert email to {recipient} failed" for recipient in failed]
        if strict:
            raise AlertDeliveryError(
                f"{result.counts['pending']} alert(s) could not be emailed ({note}). "
                "Check the SMTP server (docs/runbook.md#smtp-down); the next run retries them."
            )
    log.info(result.line())
    return result


def _mark(warehouse_url: str, keys: list[dict], status: str, error: str | None) -> None:
    now = datetime.now(UTC) if status == "sent" else None
    with transaction(warehouse_url) as conn:
        for key in keys:
            cond = sa.and_(
                score_alerts.c.account_id == key["account_id"],
                score_alerts.c.threshold == key["threshold"],
                score_alerts.c.crossing_day == key["crossing_day"],
            )
            values = {"status": status, "attempts": score_alerts.c.attempts + 1, "last_error": error}
            if now is not None:
                values["sent_at"] = now
            conn.execute(score_alerts.update().where(cond).where(score_alerts.c.status == "pending").values(**values))
