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
    return _env().get_template("data_docs.html.j2").render(**page_data(result))


def render_failure(reason: str) -> str:
    """The page written when the result could not be rendered (the reason escaped like any value)."""
    return (
        _env()
        .get_template("data_docs.html.j2")
        .render(asset="validation", statistics={}, success=False, gx_version="", rows=[], failure=reason)
    )
