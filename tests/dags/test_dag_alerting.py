"""Every task and every run of engagement_daily reports failures to on-call; a late run does too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from include.airflow_glue.dag_support import deadline_hours
from include.airflow_glue.notifier import EngagementFailureNotifier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def daily():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["engagement_daily"]


def _callbacks(value) -> list:
    return value if isinstance(value, list) else [value]


def test_every_task_notifies_on_failure_and_backs_off(daily):
    for task in daily.tasks:
        assert any(isinstance(cb, EngagementFailureNotifier) for cb in _callbacks(task.on_failure_callback)), (
            task.task_id
        )
        assert task.retry_exponential_backoff and task.max_retry_delay >= task.retry_delay, task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_dag_run_failure_and_deadline_notify(daily):
    from airflow.sdk import DeadlineReference, SyncCallback

    assert any(isinstance(cb, EngagementFailureNotifier) for cb in _callbacks(daily.on_failure_callback))
    [alert] = _callbacks(daily.deadline)
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval == timedelta(hours=deadline_hours())  # ENGAGEMENT_DEADLINE_HOURS, default 6
    assert (
        isinstance(alert.callback, SyncCallback)
        and alert.callback.path == "include.airflow_glue.notifier.EngagementFailureNotifier"
    )


def test_plugin_module_exposes_the_notifier(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    import engagement_notifier

    assert engagement_notifier.EngagementFailureNotifier is EngagementFailureNotifier


def test_every_task_log_ends_with_its_peak_memory(daily):
    from include.airflow_glue.dag_support import log_peak_memory

    for task in daily.tasks:
        assert log_peak_memory in _callbacks(task.on_success_callback), task.task_id
