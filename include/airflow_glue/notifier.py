"""On-call notices for failed tasks, failed DAG runs and missed deadlines.

`EngagementFailureNotifier` is the `on_failure_callback` of every task (DEFAULT_ARGS), of the
DAG runs, and the callback of the daily run's deadline alert. A notice says which DAG, task and day
broke, the first line of the error in the subject, and in the body the full error message (our
exceptions say what to do), the try, the task log URL and the runbook section for that kind of
failure. It goes to every configured channel (include/airflow_glue/channels.py); a channel that fails is
logged as a warning and never raises out of the callback.

Standard library and airflow.sdk only at import time: DAG files import this at parse time.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from airflow.sdk import BaseNotifier

from include.airflow_glue import channels as alert_channels

log = logging.getLogger(__name__)

RUNBOOK = "docs/runbook.md"
#: include.scoring.core.errors class -> runbook section; first match wins (checked with isinstance).
RUNBOOK_SECTIONS: tuple[tuple[str, str], ...] = (
    ("ConfigError", "invalid-config"),
    ("ExtractError", "extract-failed"),
    ("CrmError", "crm-connector-failed"),
    ("BatchValidationError", "batch-validation-failed"),
    ("LakeUnavailable", "lake-unreachable"),
    ("LakeError", "lake-partition-missing-or-corrupt"),
    ("StateError", "scoring-state-missing"),
    ("WarehouseError", "warehouse-write-failed"),
    ("QualityGateHeld", "quality-gate-held"),
    ("AlertDeliveryError", "smtp-down"),
)
TIMEOUT_SECTION = "task-timed-out"
DAG_RUN_SECTION = "dag-run-failed"
DEADLINE_SECTION = "run-late"
GENERAL_SECTION = "general-triage"

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str


def root_error(error: BaseException | None) -> BaseException | None:
    """Our error behind Airflow's AirflowFailException (data errors fail at once through it,
    include/airflow_glue/dag_support.py), else the error itself."""
    cause = getattr(error, "__cause__", None)
    if error is not None and type(error).__name__ == "AirflowFailException" and cause is not None:
        return cause
    return error


def runbook_section(error: BaseException | None) -> str:
    """The runbook anchor for an exception, by type; the general section for anything else."""
    error = root_error(error)
    if error is None:
        return GENERAL_SECTION
    from include.scoring.core import errors

    for name, anchor in RUNBOOK_SECTIONS:
        if isinstance(error, getattr(errors, name)):
            return anchor
    if any(cls.__name__ in ("AirflowTaskTimeout", "TimeoutError") for cls in type(error).__mro__):
        return TIMEOUT_SECTION
    return GENERAL_SECTION


def airflow_base_url() -> str:
    """The Airflow UI's address (`[api] base_url`, set by `make airflow` and the compose file)."""
    try:
        from airflow.sdk.configuration import conf

        base = conf.get("api", "base_url", fallback="") or "http://localhost:8080/"
    except Exception:  # noqa: BLE001
        base = "http://localhost:8080/"
    return base.rstrip("/")


def runbook_link(anchor: str) -> str:
    """An absolute link to the runbook section: under ENGAGEMENT_RUNBOOK_URL when set (e.g. the
    file on the git host), else the runbook page the dashboard plugin serves on Airflow."""
    base = os.environ.get("ENGAGEMENT_RUNBOOK_URL") or f"{airflow_base_url()}/engagement/runbook"
    return f"{base}#{anchor}"


def data_docs_link(source: str, day: str) -> str:
    """The Data Docs page of one validated source and day, served by the dashboard plugin
    (`validate_crm` covers four tables: the day's page lists them)."""
    base = f"{airflow_base_url()}/engagement/data-docs/{day}"
    return base if source in ("", "crm") else f"{base}/{source}"


def run_label(context: Any) -> str:
    """`processes day D (data interval ... UTC; run R)`: what a run works on, for logs and notes."""
    facts = []
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        facts.append(f"data interval {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    run_id = _run_id(context)
    if run_id != "?":
        facts.append(f"run {run_id}")
    return f"processes day {_day(context)}" + (f" ({'; '.join(facts)})" if facts else "")


def redact(text: str) -> str:
    """Hide passwords in URLs (scheme://user:secret@host) and any secret Airflow masks."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    try:
        from airflow.sdk.log import redact as airflow_redact

        return str(airflow_redact(text))
    except Exception:  # noqa: BLE001 - masker unavailable: the URL rule above still applied
        return text


def _first_line(message: str) -> str:
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def _day(context: Any) -> str:
    if context.get("data_interval_start") is not None:
        from include.airflow_glue.run_day import day_of

        return day_of(context).isoformat()
    dag_run = context.get("dag_run")
    start = (
        dag_run.get("data_interval_start")
        if isinstance(dag_run, dict)
        else getattr(dag_run, "data_interval_start", None)
    )
    day = _as_date(start)
    return day.isoformat() if day else "unknown day"


def _dag_id(context: Any) -> str:
    ti, dag, dag_run = context.get("task_instance") or context.get("ti"), context.get("dag"), context.get("dag_run")
    for source in (ti, dag, dag_run):
        value = source.get("dag_id") if isinstance(source, dict) else getattr(source, "dag_id", None)
        if value:
            return str(value)
    return "unknown DAG"


def _run_id(context: Any) -> str:
    dag_run = context.get("dag_run")
    if isinstance(dag_run, dict):
        return str(dag_run.get("dag_run_id") or dag_run.get("run_id") or "?")
    return str(context.get("run_id") or getattr(dag_run, "run_id", None) or "?")


def _run_url(dag_id: str, run_id: str) -> str:
    from urllib.parse import quote

    return f"{airflow_base_url()}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


def _compose(
    subject: str, lead: str, error_title: str, error: str, facts: list[tuple[str, str]], anchor: str
) -> Notice:
    subject, lead, error = redact(subject), redact(lead), redact(error)
    facts = [*facts, ("Runbook", runbook_link(anchor))]
    text = "\n".join([lead, "", f"{error_title}:", error, "", *(f"{k}: {v}" for k, v in facts), ""])

    def value_html(value: str) -> str:
        escaped = html.escape(value, quote=True)
        return (
            f'<a href="{escaped}">{escaped}</a>'
            if value.startswith(("http://", "https://"))
            else f"<code>{escaped}</code>"
        )

    rows = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{value_html(v)}</td></tr>" for k, v in facts)
    body = (
        f"<html><body><p>{html.escape(lead)}</p><h3>{html.escape(error_title)}</h3>"
        f"<pre style='white-space:pre-wrap'>{html.escape(error)}</pre><table>{rows}</table></body></html>"
    )
    return Notice(subject=" ".join(subject.split()), text=text, html=body)


def task_notice(context: Any) -> Notice:
    ti = context.get("task_instance") or context.get("ti")
    error = root_error(context.get("exception"))
    dag_id, task_id, day = _dag_id(context), str(getattr(ti, "task_id", None) or "unknown task"), _day(context)
    message = (
        str(error) if error is not None else "the task failed without an exception (killed, timed out or marked failed)"
    )
    if error is not None and not message.strip():
        message = type(error).__name__
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    tries = (
        f"{try_number} of {max_tries + 1}"
        if isinstance(try_number, int) and isinstance(max_tries, int)
        else str(try_number or "?")
    )
    facts = [("DAG", dag_id), ("Task", task_id), ("Day", day), ("Run", _run_id(context)), ("Try", tries)]
    log_url = getattr(ti, "log_url", None)
    facts.append(("Log", str(log_url) if log_url else "not available"))
    if task_id.startswith("validate_") and day != "unknown day":
        facts.append(("Data Docs", data_docs_link(task_id.removeprefix("validate_").removesuffix("_shard"), day)))
    return _compose(
        subject=f"[engagement] FAILED {dag_id}.{task_id} for {day}: {_first_line(message)}",
        lead=(
            f"Task {dag_id}.{task_id} failed for day {day} on try {tries}; nothing downstream of it runs for that day."
        ),
        error_title=f"Error ({type(error).__name__})" if error is not None else "Error",
        error=message,
        facts=facts,
        anchor=runbook_section(error),
    )


def dag_run_notice(context: Any) -> Notice:
    dag_id, day, run_id = _dag_id(context), _day(context), _run_id(context)
    ti = context.get("task_instance") or context.get("ti")
    task_id = str(getattr(ti, "task_id", None) or "(run)")
    reason = str(context.get("reason") or "the run failed")
    return _compose(
        subject=f"[engagement] RUN FAILED {dag_id}.{task_id} for {day}: {_first_line(reason)}",
        lead=f"The {dag_id} run for day {day} failed; the last task to finish was {task_id}. The failed task's own "
        "notice has the error.",
        error_title="Reason",
        error=reason,
        facts=[
            ("DAG", dag_id),
            ("Task", task_id),
            ("Day", day),
            ("Run", run_id),
            ("Run URL", _run_url(dag_id, run_id)),
        ],
        anchor=DAG_RUN_SECTION,
    )


def deadline_notice(context: Any) -> Notice:
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id, day, run_id = _dag_id(context), _day(context), _run_id(context)
    due = deadline.get("deadline_time") if isinstance(deadline, dict) else None
    due = due.isoformat() if isinstance(due, datetime) else str(due or "the deadline")
    state = dag_run.get("state", "?") if isinstance(dag_run, dict) else getattr(dag_run, "state", "?")
    message = f"the {dag_id} run for {day} had not finished by {due} (state: {state})"
    return _compose(
        subject=f"[engagement] LATE {dag_id}.(run) for {day}: {message}",
        lead=f"The {dag_id} run for day {day} missed its deadline; scores for the day are late.",
        error_title="Deadline missed",
        error=message,
        facts=[
            ("DAG", dag_id),
            ("Task", "(run)"),
            ("Day", day),
            ("Run", run_id),
            ("Run URL", _run_url(dag_id, run_id)),
        ],
        anchor=DEADLINE_SECTION,
    )


def build_notice(context: Any) -> Notice:
    """The notice for a callback context: a missed deadline, a failed DAG run or a failed task."""
    if context.get("deadline"):
        return deadline_notice(context)
    if "reason" in context:
        return dag_run_notice(context)
    return task_notice(context)


def deliver(notice: Notice, channels: alert_channels.Channels | None = None) -> dict[str, bool]:
    """Send a notice to every channel; returns {channel: sent}. Never raises."""
    results: dict[str, bool] = {}
    try:
        channels = channels or alert_channels.resolve_channels()
    except Exception as exc:  # noqa: BLE001 - a notifier must not break the callback
        log.warning("notifications: could not resolve channels: %s", exc)
        return results
    if channels.smtp is not None and (channels.emails or isinstance(channels.smtp, alert_channels.Outbox)):
        try:
            where = alert_channels.send_email(channels.smtp, channels.emails, notice.subject, notice.text, notice.html)
            results["email"] = True
            log.info("notifications: emailed %d recipient(s) via %s", len(channels.emails), where)
        except Exception as exc:  # noqa: BLE001
            results["email"] = False
            log.warning(
                "notifications: email via %s failed: %s: %s",
                channels.smtp.describe(),
                type(exc).__name__,
                redact(str(exc)),
            )
    if channels.webhook_url:
        target = alert_channels.webhook_target(channels.webhook_url)
        try:
            alert_channels.post_webhook(channels.webhook_url, f"{notice.subject}\n\n{notice.text}")
            results["webhook"] = True
            log.info("notifications: posted to webhook %s", target)
        except Exception as exc:  # noqa: BLE001
            results["webhook"] = False
            log.warning("notifications: webhook %s failed: %s", target, type(exc).__name__)
    if not results:
        log.warning("notifications: no channel configured; notice not sent: %s", notice.subject)
    return results


class EngagementFailureNotifier(BaseNotifier):
    """Failure and deadline notifier: email and webhook, per include/airflow_glue/channels.py."""

    def __init__(self, context: Any = None, channels: alert_channels.Channels | None = None):
        super().__init__(context)
        self.channels = channels

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing is templated here; skipping also avoids needing the DAG's Jinja environment,
        which the serialized DAG that dag.test() hands DAG-level callbacks does not have."""

    def notify(self, context: Any) -> None:
        try:
            notice = build_notice(context)
        except Exception as exc:  # noqa: BLE001 - a bad context still gets a notice out
            log.warning("notifications: could not build the full notice: %s", exc)
            notice = Notice(
                subject=f"[engagement] FAILED {_dag_id(context)}",
                text=f"A failure was reported; building its notice failed: {exc}",
                html="",
            )
        deliver(notice, self.channels)

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)
