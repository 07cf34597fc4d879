"""The account page says why an account is hot, in headless Chromium: contacts by name, title and
role from the CRM, the last 14 days' contributions, percentile, buying group, a chart whose band
lines are apart; it follows the Airflow UI's dark mode. Data Docs are served with nothing fetched
from elsewhere. Screenshots (light, dark, Data Docs) go to .local/test-artifacts/dashboard/."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import pytest

from include.dashboard.app import create_app
from include.dashboard.source import Warehouse
from include.scoring.lake.store import Lake
from tests.integration.dashboard_helpers import browser_page, screenshot, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small_run(session_dir: Path):
    """60 accounts over 30 days through every stage: enough history for a hot account."""
    from datetime import date

    from include.sample import generate
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings
    from include.scoring.runner import run_range

    out = session_dir / "why-now-run"
    summary = generate(out / "sample", accounts=60, days=30, end_date=date(2026, 11, 20), seed=11)
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url=f"sqlite:///{out / 'warehouse.sqlite'}",
        config_path=None,
        truth=None,
    )
    run_range(RunContext(settings), summary.start, summary.end, echo=lambda _: None)
    return summary, settings


def _app(settings):
    return create_app(Warehouse(lambda: settings.warehouse_url), lake_factory=lambda: Lake(settings.lake))


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_account_page_says_who_did_what_in_light_and_dark(small_run):
    summary, settings = small_run
    warehouse = settings.warehouse_url.removeprefix("sqlite:///")
    sql = sqlite3.connect(f"file:{warehouse}?mode=ro", uri=True)
    top_id, percentile, coverage = sql.execute(
        "select account_id, engagement_percentile, buying_group_coverage from account_scores "
        "where lifecycle = 'prospect' order by score desc limit 1"
    ).fetchone()
    sql.close()
    crm = sqlite3.connect(summary.crm_url.removeprefix("sqlite:///"))
    contacts = {
        f"{first} {last}": (title, role)
        for first, last, title, role in crm.execute(
            "select first_name, last_name, title, role from contacts where account_id = ?", (top_id,)
        )
    }
    crm.close()
    with serve(_app(settings)) as url, browser_page() as page:
        page.emulate_media(color_scheme="light")
        page.goto(f"{url}/accounts/{top_id}")
        activity = page.locator("#activity tbody tr")
        assert activity.count() > 0
        first_row = activity.first.locator("td").all_inner_texts()
        assert first_row[0][:4] == "2026" and first_row[3].startswith("+") and "_" not in first_row[2]
        people = page.locator("#persons tbody tr td:first-child").all_inner_texts()
        named = [p for p in people if p in contacts]
        assert named, (people, contacts)  # the CRM's names, not p123... keys
        assert not [p for p in people if p.startswith("p") and p[1:].isdigit()], people
        row = page.locator("#persons tbody tr", has_text=named[0]).first.locator("td").all_inner_texts()
        title, role = contacts[named[0]]
        assert row[1] == title and row[2] == role.replace("_", " ")
        assert all(p in contacts or p.startswith("anonymous visitor") for p in people), people
        assert page.locator("#percentile").inner_text().startswith(f"{percentile:.0f}")
        assert page.locator("#coverage").inner_text() == f"{coverage * 100:.0f}%"
        # the band boundaries 10, 25 and 50 each have a line, at least a label's height apart
        lines = page.locator("svg.history line[stroke-dasharray]").evaluate_all(
            "ls => ls.map(l => parseFloat(l.getAttribute('y1')))"
        )
        assert len(lines) == 3 and min(a - b for a, b in zip(lines, lines[1:])) >= 12, lines
        light = _background(page)
        shots = [screenshot(page, "why-now-light")]

        page.emulate_media(color_scheme="dark")  # the OS in dark mode, Airflow's theme "system"
        page.reload()
        assert page.locator("html").get_attribute("data-theme") == "dark"
        dark = _background(page)
        assert dark != light and dark == "rgb(26, 32, 44)", (light, dark)
        shots.append(screenshot(page, "why-now-dark"))

        page.evaluate("localStorage.setItem('theme', 'light')")  # chosen in Airflow's UI: wins over the OS
        page.reload()
        assert page.locator("html").get_attribute("data-theme") == "light" and _background(page) == light
    for shot in shots:
        assert shot.exists() and shot.stat().st_size > 5_000, shot


def test_data_docs_are_served_with_nothing_from_elsewhere(small_run):
    summary, settings = small_run
    day = summary.end.isoformat()
    with serve(_app(settings)) as url, browser_page() as page:
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
        page.goto(f"{url}/data-docs/{day}")
        sources = page.locator("#sources tbody tr td:first-child a").all_inner_texts()
        assert {"web", "email", "ad", "crm/accounts", "crm/contacts"} <= set(sources), sources
        page.locator("#sources a", has_text="web").first.click()
        page.wait_for_url(f"**/data-docs/{day}/web")
        page.wait_for_load_state("networkidle")
        assert "19 of 19 expectations held" in page.inner_text("body")  # the validate stage's escaped page
        assert page.locator(".engagement-bar").inner_text().startswith(f"Data Docs: web, {day}")
        # the project's stylesheet applies (tables laid out, check marks drawn)
        assert page.locator("table").first.evaluate("t => getComputedStyle(t).borderCollapse") == "collapse"
        shot = screenshot(page, "data-docs")
        assert hosts == {urlparse(url).netloc}, hosts  # not one CDN request
    assert shot.stat().st_size > 5_000
