"""Celery settings of the engagement workers: Airflow's defaults, plus the libraries every task imports.

Airflow already preloads its own expensive modules in each Celery worker before the pool forks
(`celery_import_modules`), because every task process is a fork of a pool process. The tasks here
also import pandas, pyarrow, SQLAlchemy and (validate) Great Expectations: several seconds a task
that a worker can pay once. Set `[celery] celery_config_options = include.airflow_glue.celery_config.CELERY_CONFIG`
(the native cluster and the compose stack do). Importing them creates no threads, so forking stays safe.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "imports": [*DEFAULT_CELERY_CONFIG.get("imports", []), "include.airflow_glue.worker_preload"],
}
