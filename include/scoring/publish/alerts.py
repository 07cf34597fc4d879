"""Threshold alert emails: one per recipient per run, from the score_alerts table.

Every pending alert (any crossing day up to D, the quality gate of D passed) is grouped by
recipient and sent in one email listing the accounts, what they crossed, their top signals and
next action; through SMTP when a server is configured (status `sent`), else written to the outbox
folder (status `outbox`, include/scoring/core/mailer.py).

Exactly once, whatever runs at the same time (a retry racing a manual re-run): a sender first
*claims* the alerts it will send, in one short transaction, with
`UPDATE ... SET status='sending', claim_id=<its own id> WHERE status='pending' ... RETURNING`. The
database lets only one UPDATE change a row from pending (PostgreSQL re-checks the condition after
waiting for a concurrent claim; SQLite takes one writer at a time), so a concurrent sender finds
nothing left to claim. Sent alerts are marked in the transaction that follows a successful send;
when the server is down they go back to pending (attempts and the error recorded) for the next
run. A claim left behind by a sender that died is taken over after CLAIM_LEASE: the only way a
message can repeat is a crash between a successful send and its commit.

Alerts still unsent `alerts.max_age_days` after their crossing day expire (status `expired`):
yesterday's crossing is news, last month's is noise. Crossings without anybody to tell stay
`no_recipient` and are counted, so the summary says how many nobody got.
"""

from __future__ import annotations

import itertools
import logging
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.scoring.core.errors import AlertDeliveryError
from include.scoring.core.mailer import Outbox, Transport, send_email, transport_or_outbox
from include.scoring.core.results import StageResult
from include.scoring.publish.quality_gate import require_gate
from include.scoring.publish.tables import score_alerts
from include.scoring.publish.warehouse import transaction, warehouse_engine

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
AUDIENCE = {"sdr": "the SDR", "owner": "the account owner", "manager": "the sales manager"}
#: a claim older than this belongs to a sender that died: its alerts are claimed again
CLAIM_LEASE = timedelta(hours=1)
KEY = ("account_id", "threshold", "crossing_day")


def _describe(result: StageResult) -> str:
    c = result.counts
    where = result.details.get("delivery") or "email"
    text = (
        f"alerts {result.day}  {c['sent']:,} alert(s) delivered in {c['emails']:,} email(s) to {where}, "
        f"{c['pending']:,} pending, {c['expired']:,} expired unsent, {c['no_recipient']:,} without a recipient"
    )
    return text + (f"  ({result.details['note']})" if result.details.get("note") else "")


def alert_result(day: date, pending: int = 0, note: str = "") -> StageResult:
    """What sending a day's alerts did: alerts delivered, emails, alerts still pending, expired
    and without a recipient; `note` says why some were not sent, `warnings` lists recipients
    whose email failed."""
    counts = {"sent": 0, "emails": 0, "pending": pending, "expired": 0, "no_recipient": 0}
    return StageResult("publish", "alerts", day, counts=counts, details={"note": note}, describe=_describe)


@cache
def _env() -> Environment:
    """The HTML templates' environment, made once: it caches each compiled template (compiling
    them for every email took a third of a 4,000-email send)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
    )


@cache
def _text_env() -> Environment:
    """The plain-text part's environment (no escaping), made once like `_env`."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined)  # noqa: S701 - plain-text part


def _highest_first(row: dict) -> tuple[float, str]:
    """Order of an email's alerts: highest score first (a missing score last), then account id."""
    score = row["score_after"]
    return (-score if score == score and score is not None else math.inf, str(row["account_id"]))


def render_alert_email(recipient: str, alerts: list[dict], day: date) -> tuple[str, str, str]:
    """Subject, text and HTML of one recipient's email (every value HTML-escaped in the HTML);
    `alerts` are the recipient's alert rows."""
    audience = AUDIENCE.get(str(alerts[0]["audience"]), "a recipient")
    n = len({row["account_id"] for row in alerts})
    subject = f"Engagement alerts {day}: {n} account{'s' if n != 1 else ''} need{'s' if n == 1 else ''} attention"
    context = {
        "subject": subject,
        "heading": f"{n} account{'s' if n != 1 else ''} need{'s' if n == 1 else ''} your attention",
        "intro": f"Engagement scores that rose above an alert threshold, and customers whose engagement health "
        f"turned to at risk or dormant (as of {day}).",
        "alerts": [
            {
                **row,
                "what": alert_description(row),
                "score_before": f"{row['score_before']:.2f}",
                "score_after": f"{row['score_after']:.2f}",
                "band": str(row["band"]).replace("_", " "),
            }
            for row in sorted(alerts, key=_highest_first)
        ],
        "day": day.isoformat(),
        "audience": audience,
    }
    env = _env()
    text_env = _text_env()
    return (
        subject,
        text_env.get_template("alerts.txt.j2").render(context),
        env.get_template("alerts.html.j2").render(context),
    )


def alert_description(row: dict) -> str:
    """What fired, for people: a score crossing its threshold, or a customer's health turning."""
    rule = str(row.get("rule") or "")
    if rule.startswith("health_"):
        return f"customer health {rule.removeprefix('health_').replace('_', ' ')} on {row['crossing_day']}"
    return f"above {row['threshold']:g} on {row['crossing_day']}"


def expire_stale(conn: sa.Connection, day: date, max_age_days: int) -> int:
    """Mark pending alerts whose crossing day is more than `max_age_days` before `day` expired."""
    cutoff = day - timedelta(days=max_age_days)
    result = conn.execute(
        score_alerts.update()
        .where(score_alerts.c.status == "pending", score_alerts.c.crossing_day < cutoff)
        .values(
            status="expired",
            last_error=f"not sent within {max_age_days} day(s) of its crossing (alerts.max_age_days); expired on {day}",
        )
    )
    return result.rowcount or 0


def claim_pending(warehouse: str | sa.Engine, day: date, claim_id: str, now: datetime) -> pd.DataFrame:
    """Atomically take the alerts to send (see the module docstring); the rows claimed."""
    a = score_alerts.c
    claimable = sa.or_(
        a.status == "pending",
        sa.and_(a.status == "sending", a.claimed_at < now - CLAIM_LEASE),  # a sender that died
    )
    stmt = (
        score_alerts.update()
        .where(claimable, a.crossing_day <= day)
        .values(status="sending", claim_id=claim_id, claimed_at=now)
        .returning(*score_alerts.c)
    )
    with transaction(warehouse) as conn:
        rows = conn.execute(stmt).fetchall()
    return pd.DataFrame(rows, columns=[c.name for c in score_alerts.columns])


def _counts(warehouse: str | sa.Engine, day: date) -> tuple[int, int]:
    """(alerts still pending up to `day`, crossings of `day` nobody is named to receive)."""
    a = score_alerts.c
    with transaction(warehouse) as conn:
        pending = conn.execute(
            sa.select(sa.func.count()).where(a.status.in_(["pending", "sending"]), a.crossing_day <= day)
        ).scalar_one()
        nobody = conn.execute(
            sa.select(sa.func.count()).where(a.status == "no_recipient", a.crossing_day == day)
        ).scalar_one()
    return int(pending), int(nobody)


def send_alerts(
    warehouse_url: str, mail: Transport | None, day: date, strict: bool = True, max_age_days: int = 7
) -> StageResult:
    """Send the pending alerts (see module docstring); `mail` None means the outbox folder.
    `strict` raises when some stay pending because the SMTP server failed."""
    require_gate(warehouse_url, day, "alert email")
    mail = transport_or_outbox(mail)
    result = alert_result(day)
    result.details["delivery"] = mail.describe()
    with warehouse_engine(warehouse_url) as engine:
        with transaction(engine) as conn:
            result.counts["expired"] = expire_stale(conn, day, max_age_days)
        claim_id, now = str(uuid.uuid4()), datetime.now(UTC)
        claimed = claim_pending(engine, day, claim_id, now)
        failed = []
        # rows as dicts once: a frame per recipient cost more than the email (4,000 recipients)
        rows = sorted(
            (row for row in claimed.to_dict("records") if isinstance(row["recipient"], str)),
            key=lambda row: row["recipient"],
        )
        for recipient, group in itertools.groupby(rows, key=lambda row: row["recipient"]):
            group = list(group)
            subject, text, html = render_alert_email(recipient, group, day)
            keys = [{k: row[k] for k in KEY} for row in group]
            try:
                send_email(mail, [recipient], subject, text, html)
            except Exception as exc:  # noqa: BLE001 - any SMTP, network or disk failure keeps the alerts pending
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.warning("alert email to %s via %s failed: %s", recipient, mail.describe(), error)
                failed.append(recipient)
                _release(engine, claim_id, keys, status="pending", error=error)
                continue
            _release(engine, claim_id, keys, status="outbox" if isinstance(mail, Outbox) else "sent", error=None)
            result.counts["sent"] += len(group)
            result.counts["emails"] += 1
        result.counts["pending"], result.counts["no_recipient"] = _counts(engine, day)
    if result.counts["expired"]:
        result.warnings.append(
            f"{result.counts['expired']:,} alert(s) expired unsent: their crossing was more than {max_age_days} day(s) "
            f"before {day} (alerts.max_age_days)"
        )
    if failed:
        note = f"{mail.describe()} failed for {len(failed)} recipient(s); they stay pending for the next run"
        result.details["note"] = note
        result.warnings += [f"alert email to {recipient} failed" for recipient in failed]
        if strict:
            raise AlertDeliveryError(
                f"{result.counts['pending']} alert(s) could not be emailed ({note}). "
                "Check the SMTP server (docs/runbook.md#smtp-down); the next run retries them."
            )
    log.info(result.line())
    return result


def _release(warehouse: str | sa.Engine, claim_id: str, keys: list[dict], status: str, error: str | None) -> None:
    """End this sender's claim on `keys`: delivered (`sent`, `outbox`) or back to `pending`; one
    statement for all of an email's alerts."""
    a = score_alerts.c
    values = {"status": status, "attempts": a.attempts + 1, "last_error": error, "claim_id": None, "claimed_at": None}
    if status != "pending":
        values["sent_at"] = datetime.now(UTC)
    stmt = (
        score_alerts.update()
        .where(*(a[k] == sa.bindparam(f"key_{k}") for k in KEY), a.status == "sending", a.claim_id == claim_id)
        .values(**values)
    )
    with transaction(warehouse) as conn:
        conn.execute(stmt, [{f"key_{k}": key[k] for k in KEY} for key in keys])
