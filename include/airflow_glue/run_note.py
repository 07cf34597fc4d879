"""The day a run of engagement_daily processes, written as the run's note when it starts.

The Airflow UI shows a run by its logical date and run id; neither says which day the run
processes (a manual run at 03:00 on D+1 and the scheduled one at 02:00 both process D). A
listener in the scheduler (registered by plugins/engagement_dashboard.py) sets the note of each
new run of the daily DAG to `processes day D (...)`, unless someone already wrote a note. Task
logs start with the same line (include/airflow_glue/dag_support.py:announce_day).

Standard library and Airflow's listener marker only; runs inside the scheduler's transaction, so a failure here is
logged by Airflow and never stops the run.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl

DAILY_DAG_ID = "engagement_daily"


def note_for(dag_run: Any) -> str | None:
    """The note for a run: its day and data interval; None when the interval is unknown."""
    from include.airflow_glue.notifier import run_label

    start, end = getattr(dag_run, "data_interval_start", None), getattr(dag_run, "data_interval_end", None)
    if start is None or end is None:
        return None
    return run_label({"data_interval_start": start, "data_interval_end": end, "dag_run": dag_run})


class RunDayNote:
    """Airflow listener: `on_dag_run_running` sets the daily run's note (kept if one exists)."""

    def __init__(self, dag_ids: tuple[str, ...] = (DAILY_DAG_ID,)):
        self.dag_ids = dag_ids

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        if getattr(dag_run, "dag_id", None) not in self.dag_ids or getattr(dag_run, "note", None):
            return
        note = note_for(dag_run)
        if note:
            dag_run.note = note
