"""Pages on-call opens from a notice or a task log: the Data Docs of a validated source and day,
and the runbook, served by the dashboard app (so by the Airflow plugin, behind Airflow's login).

Data Docs are the Great Expectations page the validate stage writes beside each validation
partition (`validation/<source>/dt=D/data_docs.html`). GX links its CSS, scripts and logo from
CDNs; served here the page is made self-contained: remote stylesheets, scripts and images are
removed, the inline scripts too (they need jQuery), and the project's own stylesheet
(static/data-docs.css, light and dark) takes their place. The Content-Security-Policy allows
nothing from elsewhere, so an offline browser shows the same page.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path

from include.scoring.core.sources import ALL_SOURCES

STATIC = Path(__file__).parent / "static"
RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_REMOTE = r"""(?:https?:)?//"""
_REMOTE_LINK = re.compile(rf"""<link\b[^>]*\bhref\s*=\s*["']{_REMOTE}[^>]*>""", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.I | re.S)
_REMOTE_IMG = re.compile(rf"""<img\b[^>]*\bsrc\s*=\s*["']{_REMOTE}[^>]*>""", re.I | re.S)
_RELATIVE_HREF = re.compile(r"""\bhref\s*=\s*(["'])(?:\.\./)+[^"']*\1""", re.I)
_HEAD_END = re.compile(r"</head\s*>", re.I)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def offline_data_docs(page: str, *, static_url: str, index_url: str, title: str) -> str:
    """GX's Data Docs page without anything fetched from elsewhere, with the project's stylesheet
    and a bar naming the source and day with a link back to the day's list."""
    page = _SCRIPT.sub("", page)
    page = _REMOTE_LINK.sub("", page)
    page = _REMOTE_IMG.sub("", page)
    page = _RELATIVE_HREF.sub(f'href="{html.escape(index_url)}"', page)
    assets = (
        f'<link rel="stylesheet" href="{html.escape(static_url)}/data-docs.css">'
        f'<script src="{html.escape(static_url)}/theme.js"></script>'
    )
    page = _HEAD_END.sub(lambda _: assets + "</head>", page, count=1) if _HEAD_END.search(page) else assets + page
    bar = (
        f'<div class="engagement-bar"><strong>{html.escape(title)}</strong>'
        f'<a href="{html.escape(index_url)}">all sources of the day</a></div>'
    )
    match = _BODY_OPEN.search(page)
    return page[: match.end()] + bar + page[match.end() :] if match else bar + page


def source_summary(summary_json: bytes | None) -> dict:
    """The few numbers of a validation summary the day's list shows (empty when unreadable)."""
    try:
        doc = json.loads(summary_json or b"{}")
    except ValueError:
        return {}
    keep = ("rows", "valid", "quarantined", "batch_failed", "batch_failures")
    return {key: doc[key] for key in keep if key in doc}


def known_source(source: str) -> bool:
    return source in ALL_SOURCES


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (what the notices link to)."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def runbook_html(text: str) -> str:
    """The runbook's Markdown as HTML, every heading with its GitHub anchor as id."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens):
            token.attrSet("id", slug(tokens[i + 1].content))
    return md.renderer.render(tokens, md.options, {})


def runbook_text() -> str:
    return RUNBOOK.read_text(encoding="utf-8")
