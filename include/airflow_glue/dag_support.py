"""Airflow glue shared by the DAG files: default arguments, the day of a run, settings.

Kept light on purpose (standard library and airflow.sdk only): DAG files import it at parse
time, and the scheduler parses them often. The engine (pandas, GX, SQLAlchemy) is imported inside
task bodies only.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from include.airflow_glue.channels import SMTP_CONN_ID  # noqa: F401 - re-exported with the other connection ids
from include.airflow_glue.notifier import EngagementFailureNotifier
from include.airflow_glue.run_day import day_of  # noqa: F401 - the DAG tasks import it from here

log = logging.getLogger(__name__)

#: Airflow connection ids the project reads; each falls back to the ENGAGEMENT_* environment
#: variable, then to the embedded default under .local/ (SMTP_CONN_ID: include/airflow_glue/channels.py).
CRM_CONN_ID = "engagement_crm"
WAREHOUSE_CONN_ID = "engagement_warehouse"
DEFAULT_DEADLINE_HOURS = 6.0


def connection_url(conn_id: str) -> str | None:
    """A SQLAlchemy URL (or a `salesforce+https://` / `hubspot+https://` CRM URL) from an Airflow
    connection, or None when the connection is not defined."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not defined (AirflowNotFoundException) or no API: use defaults
        return None
    extra = conn.extra_dejson or {}
    for key in ("crm_url", "sqlalchemy_url"):
        if extra.get(key):
            return extra[key]
    if conn.conn_type == "salesforce":
        return salesforce_provider_url(conn_id)
    if conn.conn_type in ("postgres", "postgresql"):
        from urllib.parse import quote

        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "") + "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql+psycopg://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"
    if conn.conn_type == "sqlite" or (conn.conn_type == "generic" and (conn.host or "").startswith("/")):
        return f"sqlite:///{conn.host}"
    if conn.conn_type == "generic":
        raise ValueError(
            f"Airflow connection {conn_id!r} has type 'generic', which is not a database URL; give it the extra "
            '{"sqlalchemy_url": "..."} (see docs/operations.md#connections)'
        )
    return conn.get_uri()


def salesforce_provider_url(conn_id: str) -> str:
    """A Salesforce provider connection (type `salesforce`: password, JWT or session login) as a
    `salesforce+https://SESSION@INSTANCE` URL: the provider's hook logs in, the connector uses the
    session it gets."""
    try:
        from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
    except ImportError:
        raise ValueError(
            f"Airflow connection {conn_id!r} has type 'salesforce', whose login needs the Salesforce provider "
            "(pip install apache-airflow-providers-salesforce); or give the connection the extra "
            '{"crm_url": "salesforce+https://ACCESS_TOKEN@INSTANCE_HOST"} (see docs/operations.md#connections)'
        ) from None
    from urllib.parse import quote

    client = SalesforceHook(salesforce_conn_id=conn_id).get_conn()
    return f"salesforce+https://{quote(client.session_id, safe='')}@{client.sf_instance}"


def task_settings():
    """Settings for a task: Airflow connections first, then environment, then defaults."""
    from include.scoring.core.settings import Settings

    return Settings.from_env(crm_url=connection_url(CRM_CONN_ID), warehouse_url=connection_url(WAREHOUSE_CONN_ID))


def run_context():
    """The engine's run context for a task; SMTP from the engagement_smtp connection when defined."""
    from include.airflow_glue.channels import resolve_smtp
    from include.scoring.context import RunContext

    return RunContext(task_settings(), smtp=resolve_smtp())


@contextmanager
def data_errors_fail_fast():
    """Our errors that trying again cannot fix (bad data, bad config, a held quality gate:
    `transient` False, include/scoring/core/errors.py) fail the task at once, without retries,
    so on-call hears at the first failure; a database, CRM API or mail server that is down (and
    any other exception) keeps Airflow's retries."""
    from include.scoring.core.errors import PipelineError

    try:
        yield
    except PipelineError as exc:
        if exc.transient:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


#: the earlier name: the quality gate is one of the errors that fail at once
gate_held_as_failure = data_errors_fail_fast


def announce_day(context: Any) -> None:
    """`on_execute_callback` of the daily DAG's tasks: the first line a task writes to its log
    names the day it processes (a manual run at 03:00 on D+1 and a scheduled one at 02:00 both
    process D; the logical date alone does not say which)."""
    from include.airflow_glue.notifier import run_label

    ti = context.get("ti") or context.get("task_instance")
    task_id = getattr(ti, "task_id", "task")
    index = getattr(ti, "map_index", -1)
    shard = f" [shard {index}]" if isinstance(index, int) and index >= 0 else ""
    log.info("%s%s %s", task_id, shard, run_label(context))


#: the words before the figure in a task log's peak memory line (benchmarks/cluster_day.py reads them)
PEAK_MEMORY_LABEL = "peak memory of this task process:"


def log_peak_memory(context: Any) -> None:
    """`on_success_callback` of the daily DAG's tasks: the last line of a task's log is the task
    process's peak memory, for sizing workers (a shard task's memory follows its share of the day,
    so this says when `scale.shards` should grow)."""
    from include.scoring.core.memory import peak_memory_mb

    mb = peak_memory_mb()
    if mb is not None:
        log.info("%s %s MB", PEAK_MEMORY_LABEL, f"{mb:,}")


def log_results(results: list) -> list[str]:
    """Log each stage result's line and warnings; return the partitions written (what goes to XCom)."""
    paths = []
    for result in results:
        log.info(result.line())
        for warning in result.warnings:
            log.warning(warning)
        paths += result.partitions
    return paths


def failure_notifier() -> EngagementFailureNotifier:
    """The on-call notifier (email + webhook, include/airflow_glue/notifier.py); also the DAG runs'
    `on_failure_callback`: `@dag(on_failure_callback=failure_notifier(), ...)`."""
    return EngagementFailureNotifier()


def deadline_hours() -> float:
    """Hours after a run is queued by which it must have finished (ENGAGEMENT_DEADLINE_HOURS, default 6)."""
    raw = os.environ.get("ENGAGEMENT_DEADLINE_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_DEADLINE_HOURS
    except ValueError:
        log.warning("ENGAGEMENT_DEADLINE_HOURS=%r is not a number; using %s", raw, DEFAULT_DEADLINE_HOURS)
        return DEFAULT_DEADLINE_HOURS
    return hours if hours > 0 else DEFAULT_DEADLINE_HOURS


def in_dags_test(argv: list[str] | None = None) -> bool:
    """Whether this process is `airflow dags test` (the DAG file is parsed in it)."""
    argv = sys.argv if argv is None else argv
    return len(argv) >= 3 and argv[1:3] == ["dags", "test"] and os.path.basename(argv[0]) in ("airflow", "__main__.py")


def run_deadline():
    """A Deadline alert: the run has not finished `deadline_hours()` after it was queued, so the
    notifier tells on-call (run by the executor, like a task).

    None under `airflow dags test`: Airflow 3.3.2's in-process run looks the DAG's deadline alerts
    up by database id when the run succeeds, holds their definitions instead, and ends a green run
    with a traceback and exit status 1. A test run has no deadline to miss anyway."""
    if in_dags_test():
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=deadline_hours()),
        callback=SyncCallback(EngagementFailureNotifier),
        name="daily run not finished",
    )


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": EngagementFailureNotifier(),
}
#: the daily DAG's: every task log starts with the day the run processes and ends with its peak memory
DAILY_DEFAULT_ARGS: dict[str, Any] = {
    **DEFAULT_ARGS,
    "on_execute_callback": announce_day,
    "on_success_callback": log_peak_memory,
}
