"""Imported once by each Celery worker before it forks its pool (see include/airflow_glue/celery_config.py)."""

from __future__ import annotations

import great_expectations  # noqa: F401
import pandas  # noqa: F401
import pyarrow.compute  # noqa: F401
import pyarrow.parquet  # noqa: F401
import sqlalchemy  # noqa: F401

import include.scoring.runner  # noqa: F401
