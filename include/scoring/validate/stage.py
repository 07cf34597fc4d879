"""Validate for day D: Great Expectations quality gates between raw and valid (SPEC section 2).

Per source the suite of include/expectations/ runs on raw/<source>/dt=D. Row-level failures move
the failing rows to quarantine/<source>/dt=D with `failed_checks`; the rest go to
valid/<source>/dt=D, so rows(raw) = rows(valid) + rows(quarantine) always. A batch-level failure
(schema, volume when set to fail, a check that could not run, or more bad rows than
`max_bad_row_share`) raises BatchValidationError: the valid partition of that day is removed, so
nothing downstream can score or publish it. Every run leaves on-call a summary (JSON), the check
table (Parquet) and rendered Data Docs under validation/<source>/dt=D.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from include.expectations import load_suite_spec
from include.scoring.core.arrowops import isin
from include.scoring.core.config import ScoringConfig
from include.scoring.core.contracts import CONTRACTS, CRM_TABLES, EVENT_SOURCES, quarantine_schema, raw_schema
from include.scoring.core.errors import BatchValidationError
from include.scoring.core.hashing import hash_ids
from include.scoring.core.results import StageResult
from include.scoring.core.sources import VALIDATE_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import DATA_FILE, Lake
from include.scoring.validate.gx_runner import render_data_docs, run_suite
from include.scoring.validate.inputs import event_parameters
from include.scoring.validate.outcomes import check_levels, split_outcomes
from include.scoring.validate.report import (
    REUSED_WARNING,
    ValidationResult,
    check_rows,
    failure_message,
    report_lines,
    summary_json,
)
from include.scoring.validate.sharded import validate_events_sharded

if TYPE_CHECKING:
    from include.scoring.context import RunContext

log = logging.getLogger(__name__)

HELPERS = ("_event_id_occurrence", "_seen_on_earlier_day", "_id_occurrence", "_account_exists", "_contact_exists")
INPUT_DIGEST = "input.sha256"


def _write(
    lake: Lake,
    source: str,
    day: date,
    frame: pd.DataFrame,
    result: ValidationResult,
    bad: np.ndarray,
    reasons: np.ndarray,
    gx_result,
    write_valid: bool,
    extra_side_files: dict | None = None,
) -> None:
    base = frame.reindex(columns=raw_schema(source).names)  # a missing column (schema failure) is null
    quarantine = base[bad].assign(failed_checks=reasons[bad])
    docs_name = "data_docs.html"
    result.docs = lake.url(catalog.validation(source), day, docs_name)
    lake.write_partition(catalog.quarantine(source), day, quarantine, schema=quarantine_schema(source))
    lake.write_partition(
        catalog.validation(source),
        day,
        check_rows(result),
        side_files={
            "summary.json": summary_json(result),
            docs_name: render_data_docs(gx_result),
            **(extra_side_files or {}),
        },
    )
    if write_valid:
        valid = base[~bad]
        result.path = lake.write_partition(catalog.valid(source), day, valid, schema=raw_schema(source))
        if source in EVENT_SOURCES:
            lake.write_partition(catalog.event_ids(source), day, pd.DataFrame({"h": hash_ids(valid["event_id"])}))
    else:
        lake.delete_partition(catalog.valid(source), day)
        if source in EVENT_SOURCES:
            lake.delete_partition(catalog.event_ids(source), day)


def _run(
    lake: Lake,
    config: ScoringConfig,
    source: str,
    day: date,
    frame: pd.DataFrame,
    parameters: dict,
    volume_note: str | None,
    extra_side_files: dict | None = None,
) -> tuple[ValidationResult, pd.DataFrame]:
    """Run the suite, write the outputs; return the result and the rows that passed."""
    frame = frame.reset_index(drop=True)
    parameters = {"schema_columns": raw_schema(source).names, **parameters}
    outcomes, gx_result = run_suite(frame, source, load_suite_spec(source), check_levels(config, source), parameters)
    result, bad, reasons = split_outcomes(source, day, frame, outcomes, config, volume_note)
    _write(
        lake,
        source,
        day,
        frame,
        result,
        bad,
        reasons,
        gx_result,
        write_valid=not result.failed,
        extra_side_files=extra_side_files,
    )
    for line in report_lines(result):
        log.info(line)
    return result, frame[~bad]


def _input_frame(lake: Lake, source: str, day: date, reprocess: bool) -> pd.DataFrame:
    if not reprocess:
        return lake.read_df(catalog.raw(source), day)
    valid = lake.read_df(catalog.valid(source), day, missing_ok=True)
    quarantine = lake.read_df(catalog.quarantine(source), day, missing_ok=True)
    parts = [p for p in (valid, quarantine) if p is not None]
    if not parts:
        return lake.read_df(catalog.raw(source), day)
    frame = pd.concat(parts, ignore_index=True).drop(columns=["failed_checks"], errors="ignore")
    return frame.sort_values(["source_file", "source_line"], kind="stable").reset_index(drop=True)


def validate_events(
    lake: Lake, config: ScoringConfig, source: str, day: date, reprocess_quarantine: bool = False
) -> ValidationResult:
    """Validate raw/<source>/dt=D (or, reprocessing, valid + quarantine of D) for an event source."""
    frame = _input_frame(lake, source, day, reprocess_quarantine)
    parameters, note = event_parameters(lake, config, source, day, frame)
    result, _ = _run(lake, config, source, day, frame, parameters, note)
    if result.failed:
        raise BatchValidationError(failure_message(result))
    return result


def _input_digest(lake: Lake, source: str, day: date, config: ScoringConfig, parameters: dict) -> str:
    """What a CRM table's validation depends on: the raw bytes, the config, the referenced ids."""
    digest = hashlib.sha256(config.fingerprint().encode())
    with lake.fs.open(f"{lake.current_folder(catalog.raw(source), day)}/{DATA_FILE}", "rb") as fh:
        digest.update(fh.read())
    for key in sorted(parameters):
        digest.update(key.encode())
        digest.update("\x1f".join(map(str, parameters[key])).encode())
    return digest.hexdigest()


def _reuse_previous_day(
    lake: Lake, source: str, day: date, digest: str
) -> tuple[ValidationResult, pd.DataFrame] | None:
    """A CRM snapshot identical to the day before validates identically: copy that day's outputs.

    Backfills read the same live CRM for every day, so this turns N identical validations into one.
    """
    prev = day - timedelta(days=1)
    if lake.read_side_file(catalog.validation(source), prev, INPUT_DIGEST) != digest.encode() or not lake.exists(
        catalog.valid(source), prev
    ):
        return None
    summary = json.loads(lake.read_side_file(catalog.validation(source), prev, "summary.json"))
    valid = lake.read(catalog.valid(source), prev)
    quarantine = lake.read(catalog.quarantine(source), prev)
    checks = lake.read(catalog.validation(source), prev).to_pandas().assign(day=day.isoformat())
    summary.update(day=day.isoformat(), reused_from=prev.isoformat())
    # the previous day may itself be a reuse: keep its own warnings, not one line per earlier day
    summary["warnings"] = [w for w in summary["warnings"] if not w.startswith(REUSED_WARNING)]
    docs = lake.read_side_file(catalog.validation(source), prev, "data_docs.html") or b""
    result = ValidationResult(
        source,
        day,
        summary["rows"],
        summary["valid"],
        summary["quarantined"],
        summary["checks"],
        [],
        summary["warnings"],
        summary["files"],
    )
    result.warnings.append(f"{REUSED_WARNING}{prev}: that day's validation reused")
    result.docs = lake.url(catalog.validation(source), day, "data_docs.html")
    summary["data_docs"] = result.docs
    lake.write_partition(catalog.quarantine(source), day, quarantine)
    lake.write_partition(
        catalog.validation(source),
        day,
        checks,
        side_files={"summary.json": json.dumps(summary, indent=2), "data_docs.html": docs, INPUT_DIGEST: digest},
    )
    result.path = lake.write_partition(catalog.valid(source), day, valid)
    log.info(result.line() + f"  (reused {prev}: identical snapshot)")
    return result, valid.to_pandas()


def validate_crm(
    lake: Lake, config: ScoringConfig, day: date, reprocess_quarantine: bool = False
) -> list[ValidationResult]:
    """Validate the four CRM tables of D; references are checked against the rows that passed."""
    results = []
    ids: dict[str, list] = {}
    for table in CRM_TABLES:
        source = f"crm/{table}"
        id_column = CONTRACTS[source].id_column
        parameters = {"account_ids": ids.get("accounts", []), "contact_ids": ids.get("contacts", [])}
        digest = _input_digest(lake, source, day, config, parameters)
        reused = None if reprocess_quarantine else _reuse_previous_day(lake, source, day, digest)
        if reused:
            result, passed = reused
        else:
            frame = _input_frame(lake, source, day, reprocess_quarantine)
            frame["_id_occurrence"] = frame.groupby(id_column, dropna=False, sort=False).cumcount() + 1
            for column, table_ids in (("account_id", "accounts"), ("contact_id", "contacts")):
                if column in frame.columns and column != id_column:
                    exists = pd.Series(
                        isin(frame[column], ids.get(table_ids, [])), index=frame.index, dtype="boolean"
                    )  # Arrow's is_in: Series.isin on Arrow text converts every id to Python
                    frame[f"_{column.removesuffix('_id')}_exists"] = exists.mask(frame[column].isna())
            result, passed = _run(lake, config, source, day, frame, {}, None, extra_side_files={INPUT_DIGEST: digest})
        results.append(result)
        if table in ("accounts", "contacts"):  # later tables reference the rows that passed
            ids[table] = passed[id_column].dropna().tolist()
    failed = [r for r in results if r.failed]
    if failed:
        raise BatchValidationError("\n\n".join(failure_message(r) for r in failed))
    return results


def validate_stage_sources(
    lake: Lake, config: ScoringConfig, source: str, day: date, reprocess_quarantine: bool = False
) -> list[ValidationResult]:
    """One validate unit as the DAG names it: an event source, or `crm` for the four tables."""
    if source == "crm":
        return validate_crm(lake, config, day, reprocess_quarantine)
    if config.scale.shards > 1 and not reprocess_quarantine:  # reprocessing reads valid + quarantine whole
        return [validate_events_sharded(lake, config, source, day, config.scale.shards)]
    return [validate_events(lake, config, source, day, reprocess_quarantine)]


def validate_stage(
    ctx: RunContext, day: date, sources: Iterable[str] = VALIDATE_SOURCES, reprocess_quarantine: bool = False
) -> list[StageResult]:
    """The validate stage for day D: each of `sources` (event sources and `crm`)."""
    return [
        report.stage_result()
        for source in sources
        for report in validate_stage_sources(ctx.lake, ctx.config, source, day, reprocess_quarantine)
    ]
