"""Validate one event source's day in shards, so a task's memory follows its shard, not the day.

Shard k of N reads the raw rows whose event_id hashes to k (`ShardRows`, one row group at a time):
every copy of an event_id lands in the same shard, in raw order, so the duplicate-within-the-day
check sees exactly what it sees over the whole day, and the earlier-days check is per row. The
shard runs the suite, writes its part of valid/, quarantine/ and event_ids/ of D, and notes in its
quarantine part's footer what the day's summary needs: per check the counts and its first failing
rows (their positions in the raw partition and example text), per file the rows and bad rows.

`combine_event_shards` then builds the day's result from the notes alone (no rows read): counts
summed, examples the first failing rows of the day, files in raw order, and the checks that need
the whole day decided on the day's totals: the volume check (row count against the trailing
median) and the share of bad rows. It writes validation/<source>/dt=D (check table, summary,
Data Docs) and, when the batch failed, removes the day's valid and event_ids partitions and raises,
exactly as a whole-day run does. With one shard the whole-day run (stage.py) is used unchanged.
"""

from __future__ import annotations

import json
import logging
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from include.expectations import load_suite_spec
from include.scoring.core.config import ScoringConfig
from include.scoring.core.contracts import CONTRACTS, EVENT_SOURCES, quarantine_schema, raw_schema
from include.scoring.core.errors import BatchValidationError, LakeError
from include.scoring.core.hashing import hash_ids
from include.scoring.lake import catalog
from include.scoring.lake.sharding import ShardRows
from include.scoring.lake.store import Lake
from include.scoring.validate.docs import merge_pages, page_data, render_data
from include.scoring.validate.gx_runner import run_suite
from include.scoring.validate.inputs import event_parameters, volume_bounds
from include.scoring.validate.outcomes import (
    MAX_EXAMPLES,
    CheckTally,
    check_levels,
    example_values,
    row_decisions,
    summarise,
)
from include.scoring.validate.report import ValidationResult, check_rows, failure_message, report_lines, summary_json

log = logging.getLogger(__name__)

VOLUME_CHECK = "volume_vs_trailing_median"


class _Positions:
    """A row filter that remembers where the rows it keeps sit in the whole partition."""

    def __init__(self, keep: ShardRows):
        self.keep = keep
        self.offset = 0
        self.kept: list[np.ndarray] = []

    def __call__(self, batch: pa.Table) -> np.ndarray:
        mask = self.keep(batch)
        self.kept.append(np.flatnonzero(mask) + self.offset)
        self.offset += batch.num_rows
        return mask

    def positions(self) -> np.ndarray:
        return np.concatenate(self.kept) if self.kept else np.zeros(0, np.int64)


def _shard_note(frame: pd.DataFrame, positions: np.ndarray, outcomes, bad: np.ndarray, gx_result, source: str) -> dict:
    id_column = CONTRACTS[source].id_column
    checks = []
    for outcome in outcomes:
        first = outcome.failed_rows[:MAX_EXAMPLES]
        texts = example_values(frame, first, outcome.spec.column, id_column)
        checks.append(
            {
                "check": outcome.spec.check,
                "success": bool(outcome.success),
                "error": outcome.error,
                "unexpected_count": int(outcome.unexpected_count),
                "failed_rows": len(outcome.failed_rows),
                "observed": outcome.observed,
                "examples": [[int(positions[r]), t] for r, t in zip(first, texts, strict=True)],
            }
        )
    files = frame["source_file"].fillna("?").to_numpy(dtype=object)
    names, first_row = np.unique(files, return_index=True) if len(files) else ([], [])
    file_notes = [
        [str(name), int(positions[i]), int((files == name).sum()), int(((files == name) & bad).sum())]
        for name, i in zip(names, first_row, strict=True)
    ]
    page = page_data(gx_result)
    for row, res in zip(page["rows"], gx_result.results, strict=True):
        row["missing_count"] = (res.result or {}).get("missing_count")
    note = {"rows": len(frame), "checks": checks, "files": file_notes, "page": page}
    return json.loads(json.dumps(note, default=str))  # plain JSON values, as the combine reads them back


def validate_event_shard(lake: Lake, config: ScoringConfig, source: str, day: date, shard: int, shards: int) -> str:
    """Validate shard `shard` of `shards` of raw/<source>/dt=D; write its parts. Returns the valid part's path."""
    rows = _Positions(ShardRows("event_id", shard, shards))
    frame = lake.read_where(catalog.raw(source), day, rows).to_pandas()
    positions = rows.positions()
    parameters, _ = event_parameters(lake, config, source, day, frame)
    parameters = {"schema_columns": raw_schema(source).names, **parameters}
    outcomes, gx_result = run_suite(frame, source, load_suite_spec(source), check_levels(config, source), parameters)
    bad, reasons = row_decisions(len(frame), outcomes)
    note = _shard_note(frame, positions, outcomes, bad, gx_result, source)
    base = frame.reindex(columns=raw_schema(source).names)
    quarantine = base[bad].assign(failed_checks=reasons[bad])
    valid = base[~bad]
    lake.write_part(catalog.quarantine(source), day, shard, shards, quarantine, quarantine_schema(source), note)
    if source in EVENT_SOURCES:
        ids = pd.DataFrame({"h": hash_ids(valid["event_id"])})
        lake.write_part(catalog.event_ids(source), day, shard, shards, ids)
    path = lake.write_part(catalog.valid(source), day, shard, shards, valid, schema=raw_schema(source))
    log.info(
        "validate %s %s shard %s/%s: %s rows, %s quarantined", source, day, shard + 1, shards, len(frame), bad.sum()
    )
    return path


def _merged_tallies(source: str, notes: list[dict], n: int, bounds: dict) -> list[CheckTally]:
    specs = {spec.check: spec for spec in load_suite_spec(source)}
    tallies = []
    for i, first in enumerate(notes[0]["checks"]):
        parts = [note["checks"][i] for note in notes]
        examples = sorted((pos, text) for part in parts for pos, text in part["examples"])[:MAX_EXAMPLES]
        tally = CheckTally(
            specs[first["check"]],
            "",
            all(p["success"] for p in parts),
            sum(p["unexpected_count"] for p in parts),
            sum(p["failed_rows"] for p in parts),
            [text for _, text in examples],
            first["observed"],
            next((p["error"] for p in parts if p["error"]), None),
        )
        if first["check"] == VOLUME_CHECK and tally.error is None:  # the day's row count, not a shard's
            low, high = bounds["volume_min"], bounds["volume_max"]
            tally.success, tally.observed = n >= low and (high is None or n <= high), n
        tallies.append(tally)
    return tallies


def combine_event_shards(lake: Lake, config: ScoringConfig, source: str, day: date, shards: int) -> ValidationResult:
    """The day's validation of `source` from its `shards` shard parts (validate_event_shard first).

    A combine re-run after a failed batch (say with a config that now lets the day pass) finds the
    valid rows removed: it runs the shards again first, one after the other."""
    if not (lake.exists(catalog.valid(source), day) and lake.exists(catalog.event_ids(source), day)):
        log.warning("validate %s %s: valid rows removed by a failed batch: validating the shards again", source, day)
        for shard in range(shards):
            validate_event_shard(lake, config, source, day, shard, shards)
    notes = lake.part_metadata(catalog.quarantine(source), day)
    if not notes or len(notes) != shards or any("checks" not in note for note in notes):
        raise LakeError(
            f"validate {source} {day}: expected the quarantine parts of {shards} validate shard(s) in "
            f"{lake.url(catalog.quarantine(source), day)}, found {len(notes or [])}. Run every validate shard of "
            f"{source} for {day} (or the whole stage: python -m include.scoring run --start {day} --end {day})."
        )
    n = sum(note["rows"] for note in notes)
    bounds, volume_note = volume_bounds(lake, config, source, day)
    levels = check_levels(config, source)
    tallies = _merged_tallies(source, notes, n, bounds)
    for tally in tallies:
        tally.level = levels.get(tally.spec.check, tally.spec.level)
    files: dict[str, list[int]] = {}
    for name, first, rows, bad in (f for note in notes for f in note["files"]):
        seen = files.setdefault(name, [first, 0, 0])
        seen[0], seen[1], seen[2] = min(seen[0], first), seen[1] + rows, seen[2] + bad
    order = sorted(files, key=lambda name: files[name][0])  # files in raw order, as a whole-day run lists them
    file_counts = {name: {"rows": files[name][1], "quarantined": files[name][2]} for name in order}
    quarantined = sum(v[2] for v in files.values())
    result = summarise(source, day, n, tallies, quarantined, file_counts, config, volume_note)
    docs_name = "data_docs.html"
    result.docs = lake.url(catalog.validation(source), day, docs_name)
    page = merge_pages([note["page"] for note in notes], {VOLUME_CHECK: n}, {t.spec.check: t.success for t in tallies})
    lake.write_partition(
        catalog.validation(source),
        day,
        check_rows(result),
        side_files={"summary.json": summary_json(result), docs_name: render_data(page)},
    )
    if result.failed:
        lake.delete_partition(catalog.valid(source), day)
        if source in EVENT_SOURCES:
            lake.delete_partition(catalog.event_ids(source), day)
    else:
        result.path = lake.url(catalog.valid(source), day)
    for line in report_lines(result):
        log.info(line)
    if result.failed:
        raise BatchValidationError(failure_message(result))
    return result


def validate_events_sharded(lake: Lake, config: ScoringConfig, source: str, day: date, shards: int) -> ValidationResult:
    """Every shard in turn, then the combine (the CLI's way; Airflow maps the shards over workers)."""
    for shard in range(shards):
        validate_event_shard(lake, config, source, day, shard, shards)
    return combine_event_shards(lake, config, source, day, shards)
