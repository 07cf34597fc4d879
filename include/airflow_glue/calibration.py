"""Airflow glue of the monthly calibration DAG: which month a run reports on, and the task runs
of engagement_daily in that month (for the report's data-quality section).

Standard library only at import time (the DAG file imports nothing of this at parse time anyway).
Task runs: Airflow 3 blocks the ORM inside task code, so they are read with plain SQL through an
explicit connection to the metadata database, `engagement_airflow_db` (give it a read-only user;
a `postgres` connection, a `sqlite` one whose host is the file, or {"sqlalchemy_url": ...} in its
extra). Without it the report says the task runs are not available instead of guessing.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

log = logging.getLogger(__name__)

AIRFLOW_DB_CONN_ID = "engagement_airflow_db"
DAILY_DAG_ID = "engagement_daily"


def report_month(context: Any) -> str:
    """The month of a run: the `month` param when given (YYYY-MM), else the calendar month before
    the run's `run_after` (a scheduled run on the 2nd of December reports November; so does a
    manual trigger on any day of December)."""
    from include.scoring.report.months import month_of, parse_month, previous_month

    wanted = str((context.get("params") or {}).get("month") or "").strip()
    if wanted:
        parse_month(wanted)  # a clear UsageError for anything but YYYY-MM
        return wanted
    run_after = getattr(context.get("dag_run"), "run_after", None) or context.get("logical_date") or datetime.now(UTC)
    return previous_month(month_of(date(run_after.year, run_after.month, run_after.day)))


def daily_task_runs(first: date, last: date, dag_id: str = DAILY_DAG_ID) -> dict:
    """Task runs of `dag_id` whose processed day (data interval start) falls in first..last:
    {"available", "source", "note", "runs": [{day, dag_id, run_id, task_id, state, try_number}]}."""
    from include.airflow_glue.dag_support import connection_url

    url = connection_url(AIRFLOW_DB_CONN_ID)
    if not url:
        return {
            "available": False,
            "source": "",
            "runs": [],
            "note": f"not available: define the Airflow connection {AIRFLOW_DB_CONN_ID} (read-only access to the "
            f"Airflow metadata database) to list the failed and retried task runs of {dag_id}",
        }
    import sqlalchemy as sa

    start = datetime.combine(first, time(0), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    meta = sa.MetaData()
    dag_run = sa.Table(
        "dag_run",
        meta,
        sa.Column("dag_id"),
        sa.Column("run_id"),
        sa.Column("data_interval_start", sa.DateTime(timezone=True)),
    )
    ti = sa.Table(
        "task_instance",
        meta,
        sa.Column("dag_id"),
        sa.Column("run_id"),
        sa.Column("task_id"),
        sa.Column("map_index"),
        sa.Column("state"),
        sa.Column("try_number"),
    )
    query = (
        sa.select(
            dag_run.c.data_interval_start,
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.state,
            ti.c.try_number,
        )
        .join(dag_run, sa.and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .where(ti.c.dag_id == dag_id, dag_run.c.data_interval_start >= start, dag_run.c.data_interval_start < end)
        .order_by(dag_run.c.data_interval_start, ti.c.task_id)
    )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).fetchall()
    except sa.exc.SQLAlchemyError as exc:
        log.warning("task runs of %s not read from %s: %s", dag_id, AIRFLOW_DB_CONN_ID, str(exc).splitlines()[0][:300])
        return {
            "available": False,
            "source": "",
            "runs": [],
            "note": f"not available: the Airflow metadata database could not be read through {AIRFLOW_DB_CONN_ID} "
            f"({type(exc).__name__})",
        }
    finally:
        engine.dispose()
    runs = []
    for r in rows:
        started = (
            r.data_interval_start
            if isinstance(r.data_interval_start, datetime)
            else datetime.fromisoformat(str(r.data_interval_start))
        )
        task_id = r.task_id if r.map_index is None or r.map_index < 0 else f"{r.task_id}[{r.map_index}]"
        runs.append(
            {
                "day": started.date().isoformat(),
                "dag_id": r.dag_id,
                "run_id": r.run_id,
                "task_id": task_id,
                "state": str(r.state),
                "try_number": int(r.try_number or 0),
            }
        )
    return {"available": True, "source": f"{dag_id} (Airflow metadata database)", "note": "", "runs": runs}
