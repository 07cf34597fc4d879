"""The dashboard as an Airflow plugin: Airflow's plugin manager loads it with its FastAPI app and
menu entry, and a real `airflow api-server` serves it under /engagement behind Airflow's login,
reading the warehouse named by the `engagement_warehouse` connection, inside the Airflow UI."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.dashboard_helpers import browser_page, parse_accounts, screenshot

pytestmark = pytest.mark.integration  # the default timeout (900 s) covers building the default run

ROOT = Path(__file__).resolve().parents[2]


def test_airflow_loads_the_plugin_with_its_app_and_menu_entry():
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "--output", "json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Failed to import plugin" not in result.stdout + result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout[result.stdout.index("[") :])}
    dashboard = plugins["engagement_dashboard"]
    assert dashboard["source"] == "$PLUGINS_FOLDER/engagement_dashboard.py"
    assert dashboard["fastapi_apps"] == [
        {"app": "fastapi.applications.FastAPI", "url_prefix": "/engagement", "name": "Engagement scores"}
    ]
    [view] = dashboard["external_views"]
    assert view["destination"] == "nav" and view["href"] == "/engagement/" and view["url_route"] == "engagement-scores"


def _top_prospect(warehouse: Path) -> tuple[str, str]:
    with sqlite3.connect(f"file:{warehouse}?mode=ro", uri=True) as conn:
        return conn.execute(
            "select account_id, account_name from account_scores where lifecycle = 'prospect' order by score desc "
            "limit 1"
        ).fetchone()


@pytest.fixture(scope="module")
def api_server(airflow_db, default_run, tmp_path_factory):
    """`airflow api-server` on a free port: simple auth manager users, the warehouse given only by
    the engagement_warehouse connection (ENGAGEMENT_WAREHOUSE_URL points elsewhere on purpose)."""
    _, ctx, _ = default_run
    warehouse = Path(ctx.settings.warehouse_url.removeprefix("sqlite:///"))
    home = tmp_path_factory.mktemp("api-server")
    users = {"ops": secrets.token_urlsafe(12), "reader": secrets.token_urlsafe(12)}
    (home / "passwords.json").write_text(json.dumps(users))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ops:admin,reader:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW_CONN_ENGAGEMENT_WAREHOUSE": f"sqlite://{quote(str(warehouse), safe='')}",
        "ENGAGEMENT_WAREHOUSE_URL": f"sqlite:///{home / 'not-the-warehouse.sqlite'}",
    }
    log_path = home / "api-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(
                    "airflow api-server exited with "
                    f"{process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"airflow api-server not healthy after 180s:\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.5)
        yield SimpleNamespace(url=url, users=users, warehouse=warehouse, log=log_path)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _token(server, user: str) -> str:
    response = httpx.post(
        f"{server.url}/auth/token", json={"username": user, "password": server.users[user]}, timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def test_the_api_server_serves_the_dashboard_behind_the_airflow_login(api_server):
    top_id, top_name = _top_prospect(api_server.warehouse)
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        browser_like = http.get("/engagement/", headers={"Accept": "text/html"})
        assert browser_like.status_code == 303 and "/auth/login?next=" in browser_like.headers["location"]
        anonymous = http.get("/engagement/accounts/" + top_id)
        assert anonymous.status_code == 401 and top_name not in anonymous.text and "sqlite" not in anonymous.text
        assert http.get("/engagement/", headers={"Authorization": "Bearer not-a-token"}).status_code in (401, 403)

        token = _token(api_server, "reader")
        page = http.get("/engagement/", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200
        rows, _ = parse_accounts(page.text)
        assert rows[0]["account-id"] == top_id
        assert str(api_server.warehouse) in page.text  # the connection's warehouse, not ENGAGEMENT_WAREHOUSE_URL's
        by_cookie = httpx.get(
            f"{api_server.url}/engagement/accounts/{top_id}", cookies={"_token": token}, timeout=30
        )  # what the UI's iframe sends
        assert by_cookie.status_code == 200 and 'id="signals"' in by_cookie.text
        assert http.get("/engagement/icon.svg").headers["content-type"].startswith("image/svg+xml")

        plugins = http.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}).json()["plugins"]
        [mine] = [p for p in plugins if p["name"] == "engagement_dashboard"]
        assert [v["url_route"] for v in mine["external_views"] if v["destination"] == "nav"] == ["engagement-scores"]
    assert "Traceback" not in api_server.log.read_text(errors="replace")


def test_the_dashboard_opens_from_the_airflow_ui_menu(api_server):
    top_id, top_name = _top_prospect(api_server.warehouse)
    token = _token(api_server, "reader")
    with browser_page() as page:
        page.context.add_cookies([{"name": "_token", "value": token, "url": api_server.url}])
        page.goto(f"{api_server.url}/")
        entry = page.locator("a[href$='plugin/engagement-scores']")
        entry.first.wait_for(timeout=60_000)
        entry.first.click()
        page.wait_for_url("**/plugin/engagement-scores")
        frame = page.frame_locator("iframe[title='Engagement scores']")
        first = frame.locator("#accounts tbody tr").first
        first.wait_for(timeout=60_000)
        assert first.get_attribute("data-account-id") == top_id
        assert first.locator("td.name a").inner_text() == top_name
        shot = screenshot(page, "airflow-ui-menu")
    assert shot.exists() and shot.stat().st_size > 5_000
