"""From Great Expectations outcomes to row decisions, pure: which rows are quarantined and why,
what failed the batch, and the examples on-call sees (SPEC section 2). No lake I/O: stage.py
reads the batch, runs the suite and writes what this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from include.expectations import CheckSpec
from include.scoring.core.config import ScoringConfig
from include.scoring.core.contracts import CONTRACTS
from include.scoring.validate.gx_runner import CheckOutcome
from include.scoring.validate.report import ValidationResult

#: examples kept per check, each value whole (on-call needs the complete value that broke)
MAX_EXAMPLES = 5


def check_levels(config: ScoringConfig, source: str) -> dict[str, str]:
    prefix = f"{source}."
    return {key[len(prefix) :]: level for key, level in config.validation.levels.items() if key.startswith(prefix)}


def example_text(value):
    """A value as an example shows it. A timestamp beyond Python's dates (pandas cannot print it
    in a zone such as Europe/Paris) shows numpy's text of the instant, in UTC."""
    if isinstance(value, pd.Timestamp):
        try:
            return value.isoformat()
        except (ValueError, OverflowError, NotImplementedError):
            return np.datetime_as_string(value.to_datetime64()) + ("Z" if value.tz is not None else "")
    return value


def example_values(frame: pd.DataFrame, rows: np.ndarray, column: str | None, id_column: str) -> list[str]:
    out = []
    for row in rows[:MAX_EXAMPLES]:
        ident = frame[id_column].iat[row]
        if pd.isna(ident):
            ident = f"{frame['source_file'].iat[row]}:{frame['source_line'].iat[row]}"
        if column and not column.startswith("_") and column in frame.columns:
            value = frame[column].iat[row]
            text = "null" if pd.isna(value) else repr(example_text(value))
            out.append(f"{ident}: {text}")
        else:
            out.append(str(ident))
    return out


@dataclass
class CheckTally:
    """One check's outcome as the summary needs it, over a whole batch or summed over its shards:
    no row positions, only how many rows failed and the examples (first failing rows, in order)."""

    spec: CheckSpec
    level: str
    success: bool
    unexpected_count: int
    failed_rows: int
    examples: list[str]
    observed: Any = None
    error: str | None = None


def row_decisions(n: int, outcomes: list[CheckOutcome]) -> tuple[np.ndarray, np.ndarray]:
    """Which of the batch's `n` rows are quarantined, and each one's `failed_checks` (sorted, comma-joined)."""
    bad = np.zeros(n, bool)
    reasons = np.full(n, None, dtype=object)
    for outcome in outcomes:
        if outcome.error or outcome.success or outcome.level != "row" or not len(outcome.failed_rows):
            continue
        rows = outcome.failed_rows
        bad[rows] = True
        check = outcome.spec.check
        for row in rows:
            reasons[row] = check if reasons[row] is None else f"{reasons[row]},{check}"
    for i in np.flatnonzero(bad):
        reasons[i] = ",".join(sorted(set(reasons[i].split(","))))
    return bad, reasons


def file_counts(frame: pd.DataFrame, bad: np.ndarray) -> dict[str, dict]:
    """Rows and quarantined rows per source file, files in order of first appearance."""
    files = frame["source_file"].fillna("?").to_numpy(dtype=object)
    out = {}
    for name in pd.unique(files):
        mask = files == name
        out[str(name)] = {"rows": int(mask.sum()), "quarantined": int((mask & bad).sum())}
    return out


def summarise(
    source: str,
    day: date,
    n: int,
    tallies: list[CheckTally],
    quarantined: int,
    files: dict[str, dict],
    config: ScoringConfig,
    volume_note: str | None,
) -> ValidationResult:
    """The batch's result from its checks' tallies: each check's effect, what failed the batch
    (a batch check, a check that could not run, too many bad rows), the counts per file."""
    result = ValidationResult(source, day, n, 0, 0)
    if volume_note:
        result.warnings.append(volume_note)
    for tally in tallies:
        spec = tally.spec
        effect = "pass"
        if tally.error:
            effect = "error"
            result.batch_failures.append(f"{spec.check}: the expectation could not run ({tally.error})")
        elif not tally.success:
            if tally.level == "row" and tally.failed_rows:
                effect = "quarantined"
            elif spec.check == "volume_vs_trailing_median" and config.validation.volume.action == "warn":
                effect = "warning"
                result.warnings.append(
                    f"{spec.check}: {n:,} rows is outside the expected range ({volume_note}); action is warn"
                )
            else:
                effect = "batch failed"
                detail = (
                    f"observed {tally.observed!r}"
                    if tally.observed is not None
                    else f"{tally.unexpected_count:,} row(s), e.g. {', '.join(tally.examples)}"
                )
                result.batch_failures.append(f"{spec.check} ({spec.expectation}): {detail}")
        result.checks.append(
            {
                "check": spec.check,
                "level": tally.level,
                "expectation": spec.expectation,
                "column": spec.column,
                "success": bool(tally.success and not tally.error),
                "unexpected_count": tally.unexpected_count,
                "examples": tally.examples,
                "effect": effect,
            }
        )
    result.quarantined = quarantined
    result.valid = n - result.quarantined
    limit = config.validation.max_bad_row_share
    if n and result.quarantined / n > limit and result.quarantined > config.validation.bad_rows_floor:
        worst = sorted(
            (c for c in result.checks if c["effect"] == "quarantined"), key=lambda c: -c["unexpected_count"]
        )[:5]
        parts = ", ".join(
            f"{c['check']} {c['unexpected_count']:,} (e.g. {'; '.join(c['examples'][:2])})" for c in worst
        )
        result.batch_failures.append(
            f"bad_row_share: {result.quarantined:,} of {n:,} rows ({result.quarantined / n:.1%}) failed row-level "
            f"checks, more than validation.max_bad_row_share {limit:.0%} (and more than "
            f"validation.bad_rows_floor {config.validation.bad_rows_floor}): {parts}"
        )
    result.files = files
    return result


def tally(outcome: CheckOutcome, examples: list[str]) -> CheckTally:
    return CheckTally(
        outcome.spec,
        outcome.level,
        outcome.success,
        outcome.unexpected_count,
        len(outcome.failed_rows),
        examples,
        outcome.observed,
        outcome.error,
    )


def split_outcomes(
    source: str,
    day: date,
    frame: pd.DataFrame,
    outcomes: list[CheckOutcome],
    config: ScoringConfig,
    volume_note: str | None,
) -> tuple[ValidationResult, np.ndarray, np.ndarray]:
    """Row failures -> failed_checks per row; batch failures -> messages. Returns (result, bad mask, reasons)."""
    id_column = CONTRACTS[source].id_column
    bad, reasons = row_decisions(len(frame), outcomes)
    tallies = [tally(o, example_values(frame, o.failed_rows, o.spec.column, id_column)) for o in outcomes]
    result = summarise(source, day, len(frame), tallies, int(bad.sum()), file_counts(frame, bad), config, volume_note)
    return result, bad, reasons
