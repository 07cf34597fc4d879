"""Running the project's DAGs for real with dag.test() inside the test process."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def run_daily(dag, day: date, retries: int = 0, **kwargs):
    """Run engagement_daily for day D: a manual run at 02:00 on D+1 covers the interval of D.

    dag.test() honours retry delays; tests that make a task fail on purpose set retries to 0 so
    the run ends at the first failure instead of waiting minutes (the DAG's own retry settings
    are checked by the DAG integrity tests).
    """
    for task in dag.tasks:
        task.retries = retries
    # dag.test() of a run that succeeds looks the DAG's deadline alerts up by id, but the in-process
    # DAG holds the alert definitions, not their database ids (Airflow 3.3.2), and the lookup fails.
    # The deadline alert is exercised by the native cluster test and the notifier tests instead.
    dag.deadline = None
    logical = datetime.combine(day + timedelta(days=1), time(2), tzinfo=UTC)
    return dag.test(logical_date=logical, **kwargs)


def task_states(dagrun) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dagrun.dag_id, TaskInstance.run_id == dagrun.run_id)
            .all()
        )
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}
