"""The dashboard in headless Chromium (Debian's, driven by playwright): what a person sees and
clicks, and that hostile account data renders as text and never runs. Screenshots are saved under
.local/test-artifacts/dashboard/ (git-ignored) for a person to look at."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from include.dashboard.app import create_app, signal_label
from include.dashboard.source import Warehouse
from tests.integration.dashboard_helpers import browser_page, screenshot, serve

pytestmark = pytest.mark.integration  # the default timeout (900 s) covers building the default run

XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
XSS_ID = "XSS-1\"'><b>"
XSS_TEXT = '"><script>window.__xss=3</script>'


@pytest.fixture(scope="module")
def warehouse_file(default_run) -> Path:
    _, ctx, _ = default_run
    return Path(ctx.settings.warehouse_url.removeprefix("sqlite:///"))


def no_script_ran(page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    # the one script is the dashboard's own theme follower (static/theme.js, same origin)
    assert page.locator("script:not([src$='/static/theme.js'])").count() == 0


def test_accounts_table_band_filter_and_account_page(warehouse_file):
    sql = sqlite3.connect(f"file:{warehouse_file}?mode=ro", uri=True)
    top_id, top_name = sql.execute(
        "select account_id, account_name from account_scores where lifecycle = 'prospect' order by score desc limit 1"
    ).fetchone()
    total = sql.execute("select count(*) from account_scores").fetchone()[0]
    with serve(create_app(Warehouse(lambda: f"sqlite:///{warehouse_file}"))) as url, browser_page() as page:
        page.goto(f"{url}/")
        rows = page.locator("#accounts tbody tr")
        first = rows.first
        assert first.get_attribute("data-account-id") == top_id
        assert first.locator("td.name a").inner_text() == top_name
        assert page.locator("#total").get_attribute("data-total") == str(total)
        assert first.locator("svg.spark polyline").count() == 1
        shots = [screenshot(page, "accounts")]

        band = sql.execute("select band from account_scores group by band order by count(*) limit 1").fetchone()[0]
        in_band = sql.execute("select count(*) from account_scores where band = ?", (band,)).fetchone()[0]
        page.locator(f"nav.chips a[data-band='{band}']").click()
        page.wait_for_url(f"**/?band={band}*")
        assert page.locator("#total").get_attribute("data-total") == str(in_band) and in_band < total
        bands = page.locator("#accounts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.band)")
        assert bands and set(bands) == {band} and len(bands) == min(in_band, 50)
        shots.append(screenshot(page, "accounts-band-filter"))

        page.goto(f"{url}/")
        page.locator("#accounts tbody tr").first.locator("td.name a").click()
        page.wait_for_url(f"**/accounts/{top_id}")
        assert page.locator("#account-name").inner_text() == top_name
        signals = sql.execute(
            "select count(*) from account_explanations where account_id = ? and kind = 'signal'", (top_id,)
        ).fetchone()[0]
        assert signals > 0 and page.locator("#signals tbody tr").count() == signals
        assert page.locator("svg.history polyline").count() == 1
        shots.append(screenshot(page, "account"))
    sql.close()
    for shot in shots:
        assert shot.exists() and shot.stat().st_size > 5_000, shot


def _with_hostile_account(src: Path, dst: Path) -> None:
    """A copy of the warehouse plus the highest-scored prospect, whose every text field is markup."""
    from include.scoring.publish import warehouse

    shutil.copyfile(src, dst)
    engine = sa.create_engine(f"sqlite:///{dst}")
    with engine.begin() as conn:
        template = (
            conn.execute(sa.select(warehouse.account_scores).order_by(warehouse.account_scores.c.score.desc()).limit(1))
            .mappings()
            .one()
        )
        row = {
            **template,
            "account_id": XSS_ID,
            "account_name": XSS_NAME,
            "score": template["score"] + 1000,
            "lifecycle": "prospect",
            "owner_email": XSS_TEXT,
            "last_touch_signal": XSS_TEXT,
            "next_action": XSS_TEXT,
            "config_version": XSS_TEXT,
        }
        conn.execute(warehouse.account_scores.insert(), [row])
        conn.execute(
            warehouse.account_score_history.insert(),
            [{**row, "as_of": row["as_of"] - timedelta(days=k), "score": row["score"] - k} for k in range(30)],
        )
        conn.execute(
            warehouse.account_explanations.insert(),
            [
                {
                    "account_id": XSS_ID,
                    "kind": "signal",
                    "key": XSS_TEXT,
                    "as_of": row["as_of"],
                    "label": XSS_NAME,
                    "points": 10.0,
                },
                {
                    "account_id": XSS_ID,
                    "kind": "person",
                    "key": XSS_TEXT,
                    "as_of": row["as_of"],
                    "label": XSS_NAME,
                    "points": 5.0,
                },
            ],
        )
        conn.execute(
            warehouse.score_resets.insert(),
            [{"account_id": XSS_ID, "as_of": row["as_of"], "rule": XSS_TEXT, "score_before": 1.0, "score_after": 0.0}],
        )
    engine.dispose()


def test_hostile_account_data_renders_as_text_and_never_runs(warehouse_file, tmp_path):
    copy = tmp_path / "warehouse.sqlite"
    _with_hostile_account(warehouse_file, copy)
    with serve(create_app(Warehouse(lambda: f"sqlite:///{copy}"))) as url, browser_page() as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{url}/")
        first = page.locator("#accounts tbody tr").first
        assert first.get_attribute("data-account-id") == XSS_ID
        assert first.locator("td.name a").inner_text() == XSS_NAME
        assert XSS_TEXT in first.inner_text()
        no_script_ran(page)
        shots = [screenshot(page, "xss-accounts")]

        # reflected: the search box and the owner filter echo what the user sent
        page.goto(f"{url}/?q={quote(XSS_NAME)}&owner={quote(XSS_TEXT)}")
        assert page.locator("input[name=q]").input_value() == XSS_NAME
        assert page.locator("#accounts tbody tr").count() == 1
        no_script_ran(page)

        page.locator("#accounts tbody tr").first.locator("td.name a").click()
        page.wait_for_load_state()
        assert page.locator("#account-name").inner_text() == XSS_NAME
        # the signal is shown in words (underscores as spaces), as text
        shown = " ".join(signal_label(XSS_TEXT).split())
        assert page.locator("#signals tbody tr td").first.inner_text() == shown
        assert XSS_TEXT in page.locator("#resets").inner_text()
        no_script_ran(page)
        shots.append(screenshot(page, "xss-account"))

        page.goto(f"{url}/accounts/{quote(XSS_NAME, safe='')}")  # the 404 page echoes the id
        assert XSS_NAME in page.inner_text("body")
        no_script_ran(page)
        assert dialogs == []
    for shot in shots:
        assert shot.exists() and shot.stat().st_size > 5_000, shot
