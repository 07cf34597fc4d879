"""Serving the dashboard for real (uvicorn on a loopback port) and driving Debian's Chromium."""

from __future__ import annotations

import shutil
import threading
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import free_port, require_service

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots and other artifacts a person may want to look at; git-ignored through .local/.
ARTIFACTS = ROOT / ".local" / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serve(app, startup_timeout: float = 20.0):
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start the dashboard")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def chromium_path() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@contextmanager
def browser_page():
    """A fresh page of the system Chromium (never a downloaded browser); skips without it (fails in CI)."""
    executable = chromium_path()
    require_service(executable is not None, "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


class _Rows(HTMLParser):
    """The data-* attributes of the accounts table's rows, and the match count."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.total: int | None = None

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-account-id" in values:
            self.rows.append({k.removeprefix("data-"): v for k, v in values.items() if k.startswith("data-")})
        if values.get("id") == "total":
            self.total = int(values["data-total"])


def parse_accounts(html: str) -> tuple[list[dict[str, str]], int | None]:
    """(rows as {account-id, band, lifecycle, owner}, the number of matching accounts)."""
    parser = _Rows()
    parser.feed(html)
    return parser.rows, parser.total


def copy_warehouse(src_url: str, dst_url: str) -> None:
    """Every warehouse table and row from one database into another (created with the pipeline's DDL)."""
    import sqlalchemy as sa

    from include.scoring.publish import warehouse

    src, dst = sa.create_engine(src_url), sa.create_engine(dst_url)
    try:
        warehouse.metadata.create_all(dst)
        with src.connect() as reader, dst.begin() as writer:
            for table in warehouse.metadata.sorted_tables:
                rows = [dict(r._mapping) for r in reader.execute(sa.select(table))]
                if rows:
                    writer.execute(table.insert(), rows)
    finally:
        src.dispose()
        dst.dispose()
