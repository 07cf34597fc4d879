"""Airflow glue shared by the DAG files: default arguments, the day of a run, settings.

Kept light on purpose (standard library and airflow.sdk only): DAG files import it at parse
time, and the scheduler parses them often. The engine (pandas, GX, SQLAlchemy) is imported inside
task bodies only.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

log = logging.getLogger(__name__)

#: Airflow connection ids the project reads; each falls back to the ENGAGEMENT_* environment
#: variable, then to the embedded default under .local/.
CRM_CONN_ID = "engagement_crm"
WAREHOUSE_CONN_ID = "engagement_warehouse"
SMTP_CONN_ID = "engagement_smtp"


def day_of(context: Any) -> date:
    """The day a run processes: the UTC date its data interval starts on.

    A scheduled run fires at 02:00 UTC on D+1 for the interval starting 02:00 on D; a manual run
    covers the last complete interval; a backfill's logical dates are the days themselves.
    """
    start = context["data_interval_start"]
    return start.date()


def _connection_url(conn_id: str) -> str | None:
    """A SQLAlchemy URL from an Airflow connection, or None when the connection is not defined."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not defined (AirflowNotFoundException) or no API: use defaults
        return None
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    if conn.conn_type in ("postgres", "postgresql"):
        from urllib.parse import quote

        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "") + "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql+psycopg://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    return conn.get_uri()


def task_settings():
    """Settings for a task: Airflow connections first, then environment, then defaults."""
    from include.scoring.settings import Settings

    return Settings.from_env(crm_url=_connection_url(CRM_CONN_ID), warehouse_url=_connection_url(WAREHOUSE_CONN_ID))


def run_context():
    from include.scoring.pipeline import RunContext

    return RunContext(task_settings())


def log_results(results: list) -> list[str]:
    """Log each stage result's line and return the lake paths (what goes to XCom)."""
    paths = []
    for result in results:
        log.info(result.line())
        if getattr(result, "path", None):
            paths.append(result.path)
    return paths


def on_failure(context: Any) -> None:
    """Until the notifier lands: a one-line summary of the failure at the top of the log."""
    ti = context.get("task_instance")
    error = context.get("exception")
    first = str(error).splitlines()[0] if error else "unknown error"
    log.error("FAILED %s.%s for %s: %s", getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), context.get("data_interval_start"), first)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": on_failure,
}
