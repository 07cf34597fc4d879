"""The Data Docs page of one validation: rebuilt from the GX result with the project's autoescaped
template, never GX's own renderer.

GX's page writes values it found (an email like `<img src=x onerror=...>`) into the HTML
unescaped and loads scripts and styles from CDNs. This page holds the same facts (every
expectation, its level, whether it held, the counts, the observed value, the first unexpected
values with their counts) as text: Jinja escapes every value, the styles are inline, there is
no script, and a Content-Security-Policy forbids any script or remote resource even if a value
got through.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
MAX_VALUES = 20  # unexpected values listed per expectation
MAX_TEXT = 200  # characters shown of any one value


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
    )


def clip(value: Any) -> str:
    """A value as the page shows it: text (JSON for structures), cut to MAX_TEXT characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def page_data(result: Any) -> dict:
    """What the page shows of a GX suite validation result, as plain values."""
    meta = getattr(result, "meta", None) or {}
    asset = ((meta.get("active_batch_definition") or {}).get("data_asset_name")) or "validation"
    rows = []
    for res in result.results:
        config = res.expectation_config
        info = res.result or {}
        exc = res.exception_info or {}
        counts = info.get("partial_unexpected_counts")
        if counts is None:
            counts = [{"value": v, "count": None} for v in info.get("partial_unexpected_list") or []]
        rows.append(
            {
                "check": (config.meta or {}).get("check", ""),
                "level": (config.meta or {}).get("level", ""),
                "notes": (config.meta or {}).get("notes", ""),
                "expectation": config.type,
                "kwargs": [(k, clip(v)) for k, v in sorted(config.kwargs.items()) if k != "batch_id"],
                "success": bool(res.success),
                "element_count": info.get("element_count"),
                "unexpected_count": info.get("unexpected_count"),
                "unexpected_percent": info.get("unexpected_percent"),
                "observed": None if info.get("observed_value") is None else clip(info.get("observed_value")),
                "found": [(clip(c.get("value")), c.get("count")) for c in counts[:MAX_VALUES]],
                "error": clip(exc.get("exception_message")) if exc.get("raised_exception") else None,
            }
        )
    return {
        "asset": asset,
        "statistics": dict(getattr(result, "statistics", None) or {}),
        "success": bool(getattr(result, "success", False)),
        "gx_version": meta.get("great_expectations_version", ""),
        "rows": rows,
    }


def render_page(result: Any) -> str:
    """The Data Docs HTML of one GX suite validation result."""
    return render_data(page_data(result))


def render_data(data: dict) -> str:
    """The Data Docs HTML of `page_data` (or of `merge_pages`)."""
    return _env().get_template("data_docs.html.j2").render(**data)


def _merged_row(rows: list[dict], observed: Any, success: bool) -> dict:
    row = {**rows[0], "success": success}
    row["found"] = []
    if rows[0]["element_count"] is not None:
        counted: dict[str, int | None] = {}
        for part in rows:
            for value, count in part["found"]:
                known = counted.get(value, 0)
                counted[value] = None if count is None or known is None else known + count
        ranked = sorted(counted.items(), key=lambda kv: -(kv[1] or 0))  # stable: first seen first among equals
        row["found"] = [[value, count] for value, count in ranked[:MAX_VALUES]]
        for key in ("element_count", "unexpected_count", "missing_count"):
            row[key] = sum(part.get(key) or 0 for part in rows)
        nonnull = row["element_count"] - row["missing_count"]
        row["unexpected_percent"] = row["unexpected_count"] / nonnull * 100 if nonnull > 0 else None
    if observed is not None:
        row["observed"] = clip(observed)
    row["error"] = next((part["error"] for part in rows if part["error"]), None)
    return row


def merge_pages(pages: list[dict], observed: dict[str, Any], success: dict[str, bool]) -> dict:
    """One page from the pages of a day's shards: counts summed, the values found merged by count,
    `observed` and `success` (by check) as decided for the whole day."""
    rows = [
        _merged_row(list(parts), observed.get(parts[0]["check"]), success[parts[0]["check"]])
        for parts in zip(*(page["rows"] for page in pages), strict=True)
    ]
    held = sum(row["success"] for row in rows)
    statistics = {
        **pages[0]["statistics"],
        "evaluated_expectations": len(rows),
        "successful_expectations": held,
        "unsuccessful_expectations": len(rows) - held,
        "success_percent": held / len(rows) * 100 if rows else None,
    }
    return {**pages[0], "statistics": statistics, "success": held == len(rows), "rows": rows}


def render_failure(reason: str) -> str:
    """The page written when the result could not be rendered (the reason escaped like any value)."""
    return (
        _env()
        .get_template("data_docs.html.j2")
        .render(asset="validation", statistics={}, success=False, gx_version="", rows=[], failure=reason)
    )
