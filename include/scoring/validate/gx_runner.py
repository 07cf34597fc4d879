"""Running a suite with Great Expectations 1.x in an ephemeral context.

One ephemeral context per call: no GX project files are written anywhere, nothing is shared
between tasks running in parallel, and analytics and progress bars are off. The result keeps,
for every expectation, the positions of the rows that failed it, which validate.py turns into
quarantine reasons.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from include.expectations import CheckSpec

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
log = logging.getLogger(__name__)


@dataclass
class CheckOutcome:
    spec: CheckSpec
    level: str
    success: bool
    unexpected_count: int
    failed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    observed: Any = None
    error: str | None = None


def _cheap_to_filter(frame: pd.DataFrame) -> pd.DataFrame:
    """GX filters the whole frame once per expectation, which copies every string column.

    Repetitive text columns (event types, URLs, agents, file names) become categoricals, whose
    filters copy small integer codes instead of string bytes; values and checks are unchanged.
    """
    n = len(frame)
    if n < 50_000:
        return frame
    sample = frame.iloc[:: max(1, n // 20_000)]
    repetitive = [
        c
        for c in frame.columns
        if pd.api.types.is_string_dtype(frame[c].dtype) and sample[c].nunique(dropna=True) < 0.2 * len(sample)
    ]
    return frame.astype({c: "category" for c in repetitive}) if repetitive else frame


@cache
def _skip_batch_fingerprint() -> None:
    """GX marks every pandas batch it loads with a hash of the whole frame (`pandas_data_fingerprint`,
    a batch marker nothing here reads): about 0.15 s per 100k rows, twice per suite. GX skips it for
    frames over `HASH_THRESHOLD` bytes; a threshold of 0 skips it always, and changes nothing else."""
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    else:  # a GX release without it: the fingerprint costs time, never correctness
        log.info("great_expectations has no HASH_THRESHOLD: batches keep their data fingerprint")


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suite(
    frame: pd.DataFrame, name: str, specs: tuple[CheckSpec, ...], levels: dict[str, str], parameters: dict[str, Any]
) -> tuple[list[CheckOutcome], Any]:
    """Validate `frame` against `specs`; return per-check outcomes and the GX validation result."""
    import great_expectations as gx

    context = _context()
    _skip_batch_fingerprint()
    token = uuid.uuid4().hex[:8]
    batch_definition = (
        context.data_sources.add_pandas(f"lake_{token}")
        .add_dataframe_asset(name.replace("/", "_"))
        .add_batch_definition_whole_dataframe("partition")
    )
    suite = gx.ExpectationSuite(name=f"{name}_{token}")
    for spec in specs:
        cls = getattr(gx.expectations, spec.expectation)
        suite.add_expectation(
            cls(
                **spec.kwargs,
                meta={"check": spec.check, "level": levels.get(spec.check, spec.level), "notes": spec.notes},
            )
        )
    suite = context.suites.add(suite)
    frame = _cheap_to_filter(frame)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"}, expectation_parameters=parameters)
    by_check = {spec.check: spec for spec in specs}
    outcomes = []
    for res in result.results:
        meta = res.expectation_config.meta
        spec = by_check[meta["check"]]
        info = res.result or {}
        error = None
        if res.exception_info and res.exception_info.get("raised_exception"):
            error = str(res.exception_info.get("exception_message"))[:500]
        rows = np.asarray(info.get("unexpected_index_list") or [], dtype=np.int64)
        outcomes.append(
            CheckOutcome(
                spec=spec,
                level=meta["level"],
                success=bool(res.success),
                unexpected_count=int(info.get("unexpected_count") or 0),
                failed_rows=rows,
                observed=info.get("observed_value"),
                error=error,
            )
        )
    order = {spec.check: i for i, spec in enumerate(specs)}
    outcomes.sort(key=lambda o: order[o.spec.check])
    return outcomes, result


def render_data_docs(result: Any) -> str:
    """The Data Docs HTML page of one validation result, built by validate.docs from the project's
    autoescaped template (GX's own renderer writes found values unescaped and loads CDN scripts)."""
    from include.scoring.validate.docs import render_failure, render_page

    try:
        return render_page(result)
    except Exception as exc:  # noqa: BLE001 - docs are a convenience: never fail validation over them
        log.warning("could not render Data Docs: %s", exc)
        return render_failure(type(exc).__name__)
