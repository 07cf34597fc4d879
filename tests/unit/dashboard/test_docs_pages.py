"""The pages on-call opens from a notice: Data Docs made self-contained, the runbook with the
anchors the notices link to."""

from __future__ import annotations

import re

from include.airflow_glue.notifier import DAG_RUN_SECTION, DEADLINE_SECTION, GENERAL_SECTION, RUNBOOK_SECTIONS
from include.airflow_glue.notifier import TIMEOUT_SECTION as TIMEOUT
from include.dashboard.docs_pages import offline_data_docs, runbook_html, runbook_text

GX_PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="//unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<style>.x { color: red; }</style>
</head><body>
<nav class="navbar sticky-top"><a href="../../../../index.html"><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png" /></a></nav>
<script>$(".ge-walkthrough-modal").modal();</script>
<table class="table"><tr><td>values must never be null.</td></tr></table>
</body></html>"""  # noqa: E501 - GX's markup as it is


def test_data_docs_fetch_nothing_from_elsewhere():
    page = offline_data_docs(
        GX_PAGE, static_url="/engagement/static", index_url="/engagement/data-docs/2026-11-20", title="Data Docs: web"
    )
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page), page
    assert "<script>" not in page and "modal()" not in page
    assert '<link rel="stylesheet" href="/engagement/static/data-docs.css">' in page
    assert '<script src="/engagement/static/theme.js"></script></head>' in page
    assert 'href="/engagement/data-docs/2026-11-20"' in page and "../" not in page
    assert "values must never be null." in page and "<style>.x { color: red; }</style>" in page
    assert page.index('class="engagement-bar"') < page.index('class="table"')


def test_every_anchor_a_notice_links_to_is_an_id_of_the_runbook_page():
    html = runbook_html(runbook_text())
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', html))
    anchors = {a for _, a in RUNBOOK_SECTIONS} | {TIMEOUT, DAG_RUN_SECTION, DEADLINE_SECTION, GENERAL_SECTION}
    assert anchors <= ids, anchors - ids
    assert "<script" not in runbook_html("# T\n\n<script>alert(1)</script>\n")  # raw HTML is text
