"""Data Docs pages show found values as text and load nothing from elsewhere (issue 22, item 1).

A web batch whose emails, url and user agent carry markup is validated for real (Great
Expectations), and `validation/web/dt=D/data_docs.html` is opened from file:// in headless
Chromium: the injected <img onerror> and <script> must not run or become elements, the values
must show as text, and the page must request nothing but itself (no CDN script or style).
"""

from __future__ import annotations

import re

import pytest

from include.scoring.core.config import load_config
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.validate.stage import validate_events
from tests.integration.dashboard_helpers import browser_page
from tests.unit.validate.fixtures import D, frame, write_raw

pytestmark = pytest.mark.integration
IMG = "<img src=x onerror=\"document.title='PWNED'\">"
SCRIPT = "<script>document.title='PWNED'</script>"


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("data-docs")
    lake = Lake(str(root / "lake"))
    df = frame("web")
    df.loc[0, "email"] = IMG
    df.loc[1, "email"] = SCRIPT
    df.loc[2, "ip"] = IMG
    df.loc[3, "event_type"] = SCRIPT
    write_raw(lake, "web", df)
    validate_events(lake, load_config(), "web", D)
    html = lake.read_side_file(catalog.validation("web"), D, "data_docs.html").decode()
    path = root / "data_docs.html"
    path.write_text(html, encoding="utf-8")
    return html, path


def test_data_docs_html_escapes_values_and_has_no_external_resources(docs):
    html, _ = docs
    assert "&lt;img src=x onerror=" in html  # the value is there, as text
    assert "<img" not in html and 'onerror="document' not in html
    assert html.count("<script") == 0
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), "a remote script or style"
    assert "<link" not in html


def test_data_docs_markup_does_not_run_in_chromium(docs):
    _, path = docs
    dialogs: list[str] = []
    requests: list[str] = []
    with browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # an onerror handler would have fired by now
        assert page.evaluate("document.title") == "Data Docs: web"
        assert page.locator("img").count() == 0, "an injected <img> became an element"
        assert page.locator("script").count() == 0, "an injected <script> became an element"
        text = page.locator("body").inner_text()
    assert dialogs == []
    assert IMG in text and SCRIPT in text  # shown literally
    assert "email_syntax" in text and "failed" in text
    assert requests == [path.as_uri()], requests  # nothing from a CDN, nothing at all but the page
