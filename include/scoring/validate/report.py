"""What validation tells people: the log table, the capped JSON summary, the failure message."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from include.scoring.core.results import StageResult

#: the warning a CRM table's validation carries when it reused the day before's (identical snapshot)
REUSED_WARNING = "snapshot identical to "
MAX_SUMMARY_BYTES = 256 * 1024
#: on-call sees every example value whole; what is capped is how many examples a check shows
MAX_LOG_EXAMPLES = 3


@dataclass
class ValidationResult:
    source: str
    day: date
    rows: int
    valid: int
    quarantined: int
    checks: list[dict] = field(default_factory=list)
    batch_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)
    path: str = ""
    docs: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.batch_failures)

    def line(self) -> str:
        share = f" ({self.quarantined / self.rows:.1%})" if self.rows else ""
        state = "BATCH FAILED" if self.failed else "ok"
        return (
            f"validate {self.source:<18} {self.day}  {self.rows:>9,} rows -> {self.valid:,} valid, "
            f"{self.quarantined:,} quarantined{share}  [{state}]"
        )

    def stage_result(self) -> StageResult:
        """The stage's result: counts, rows quarantined by check (none for a reused snapshot,
        whose reasons are the previous day's), warnings, the valid partition."""
        by_check: dict[str, int] = {}
        if not any(w.startswith(REUSED_WARNING) for w in self.warnings):
            for check in self.checks:
                if check["effect"] == "quarantined":
                    by_check[check["check"]] = by_check.get(check["check"], 0) + check["unexpected_count"]
        return StageResult(
            "validate",
            self.source,
            self.day,
            [self.path] if self.path else [],
            {"rows": self.rows, "valid": self.valid, "quarantined": self.quarantined},
            {"quarantined_by_check": by_check},
            {"data_docs": self.docs},
            list(self.warnings),
            describe=lambda _: self.line(),
        )


def report_lines(result: ValidationResult) -> list[str]:
    """A short table for the task log: each check, pass or fail, count, examples; Data Docs path."""
    lines = [result.line()]
    width = max([len(c["check"]) for c in result.checks] + [5])
    lines.append(f"  {'check':<{width}}  {'level':<5}  {'result':<12}  {'unexpected':>10}  examples")
    for check in result.checks:
        status = "pass" if check["success"] else check["effect"].upper()
        examples = "; ".join(check["examples"][:MAX_LOG_EXAMPLES])
        lines.append(
            f"  {check['check']:<{width}}  {check['level']:<5}  {status:<12}  "
            f"{check['unexpected_count']:>10,}  {examples}"
        )
    for warning in result.warnings:
        lines.append(f"  note: {warning}")
    lines.append(f"  Data Docs: {result.docs}")
    return lines


def check_rows(result: ValidationResult) -> pd.DataFrame:
    """The check table written as the validation partition's Parquet (one row per expectation)."""
    return pd.DataFrame(
        {
            "source": result.source,
            "day": result.day.isoformat(),
            "check": [c["check"] for c in result.checks],
            "level": [c["level"] for c in result.checks],
            "expectation": [c["expectation"] for c in result.checks],
            "column": [c["column"] for c in result.checks],
            "success": [c["success"] for c in result.checks],
            "effect": [c["effect"] for c in result.checks],
            "unexpected_count": [c["unexpected_count"] for c in result.checks],
            "examples": [json.dumps(c["examples"], ensure_ascii=False) for c in result.checks],
        }
    )


def summary_json(result: ValidationResult) -> str:
    """The result summary for on-call, capped at MAX_SUMMARY_BYTES however bad the batch is: by
    dropping examples, files and then checks (the worst first kept), never by cutting a value."""
    doc = {
        "source": result.source,
        "day": result.day.isoformat(),
        "rows": result.rows,
        "valid": result.valid,
        "quarantined": result.quarantined,
        "batch_failed": result.failed,
        "batch_failures": list(result.batch_failures),
        "warnings": list(result.warnings),
        "checks": [{**c, "examples": list(c["examples"])} for c in result.checks],
        "files": dict(list(result.files.items())[:200]),
        "files_truncated": max(0, len(result.files) - 200),
        "data_docs": result.docs,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    while len(text.encode()) > MAX_SUMMARY_BYTES and doc["checks"]:
        for check in doc["checks"]:
            check["examples"] = check["examples"][:1]
        doc["files"] = dict(list(doc["files"].items())[:20])
        text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
        if len(text.encode()) > MAX_SUMMARY_BYTES:
            doc["checks"] = doc["checks"][: len(doc["checks"]) // 2]
    return text


def failure_message(result: ValidationResult) -> str:
    """An on-call message: what failed, where, how much, examples, and what to do next."""
    files = sorted(result.files.items(), key=lambda kv: -kv[1]["quarantined"])
    file_text = (
        ", ".join(f"{name} ({v['rows']:,} rows, {v['quarantined']:,} bad)" for name, v in files[:5]) or "(no rows)"
    )
    if len(files) > 5:
        file_text += f", and {len(files) - 5} more"
    stage = "crm" if result.source.startswith("crm/") else result.source
    lines = [
        f"Validation failed for source {result.source}, day {result.day}: {len(result.batch_failures)} batch-level "
        "check(s) failed; "
        f"nothing of this source and day is published.",
        f"Rows: {result.rows:,} ({result.valid:,} passed row checks, {result.quarantined:,} failed them).",
        f"File(s): {file_text}",
        "Failed:",
        *[f"  - {f}" for f in result.batch_failures],
        f"Data Docs: {result.docs}",
        "What to do: if the upstream data is wrong, fix or re-deliver the file(s) above, then clear "
        f"extract_{stage} and validate_{stage} for {result.day} (python -m include.scoring run --start {result.day} "
        f"--end {result.day}). "
        "If the data is right and the check too strict, change validation.max_bad_row_share, validation.volume or "
        f"validation.levels['{result.source}.<check>'] in the config, then clear validate_{stage}.",
    ]
    return "\n".join(lines)
