"""Great Expectations suites, one JSON file per source (web, email, ad, and each CRM table).

Each expectation carries a `check` name (what failing rows get in `failed_checks`), a `level`
(`batch` fails the task, `row` quarantines the failing rows; overridable per check in the config
as `validation.levels: {"web.email_syntax": batch}`), the GX expectation class and its arguments.
`{"$PARAMETER": name}` arguments are filled in per day (time window, volume bounds, valid ids).

This module only reads JSON; building GX objects happens in include/scoring/validate/gx_runner.py so the
config can list the valid check names without importing Great Expectations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SUITE_DIR = Path(__file__).resolve().parent


def suite_name(source: str) -> str:
    """Suite file stem of a lake source name: web -> web, crm/contacts -> crm_contacts."""
    return source.replace("/", "_")


@dataclass(frozen=True)
class CheckSpec:
    check: str
    level: str
    expectation: str
    kwargs: dict[str, Any]
    notes: str

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")


@cache
def load_suite_spec(source: str) -> tuple[CheckSpec, ...]:
    data = json.loads((SUITE_DIR / f"{suite_name(source)}.json").read_text(encoding="utf-8"))
    return tuple(
        CheckSpec(e["check"], e["level"], e["expectation"], e["kwargs"], e.get("notes", ""))
        for e in data["expectations"]
    )


def all_check_keys() -> set[str]:
    """Every `<source>.<check>` key that `validation.levels` may name."""
    keys = set()
    for path in sorted(SUITE_DIR.glob("*.json")):
        source = path.stem.replace("crm_", "crm/", 1) if path.stem.startswith("crm_") else path.stem
        keys.update(f"{source}.{spec.check}" for spec in load_suite_spec(source))
    return keys
