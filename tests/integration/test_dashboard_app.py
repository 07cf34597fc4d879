"""The dashboard over HTTP (uvicorn on loopback) against the warehouse of the default sample run:
ordering, filters, search, the sort whitelist, bound parameters, account pages, errors; and the
same pages over a PostgreSQL copy of that warehouse. Expectations come from plain SQL on the
warehouse file (sqlite3), not from the dashboard's own queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from include.dashboard.app import create_app
from include.dashboard.source import Warehouse
from tests.integration.dashboard_helpers import copy_warehouse, parse_accounts, serve

pytestmark = pytest.mark.integration  # the default timeout (900 s) covers building the default run


@pytest.fixture(scope="module")
def warehouse_file(default_run) -> Path:
    _, ctx, _ = default_run
    return Path(ctx.settings.warehouse_url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def sql(warehouse_file):
    conn = sqlite3.connect(f"file:{warehouse_file}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def client(warehouse_file):
    with (
        serve(create_app(Warehouse(lambda: f"sqlite:///{warehouse_file}"))) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:2000]
    return [row["account-id"] for row in parse_accounts(response.text)[0]]


def expected_order(sql, key: str, direction: str) -> list[str]:
    """Prospects first, then the column (nulls last), then the account id: computed in Python."""
    column = {
        "score": "score",
        "account": "account_name",
        "tier": "abm_tier",
        "trend": "change_28d",
        "last_touch": "last_touch_at",
        "idle": "days_since_engagement",
    }[key]
    rows = sorted(
        sql.execute(f"select account_id, lifecycle, {column} as v from account_scores").fetchall(),
        key=lambda r: r["account_id"],
    )
    present = sorted((r for r in rows if r["v"] is not None), key=lambda r: r["v"], reverse=direction == "desc")
    ordered = present + [r for r in rows if r["v"] is None]
    ordered.sort(key=lambda r: r["lifecycle"] != "prospect")
    return [r["account_id"] for r in ordered]


def test_the_table_lists_prospects_first_highest_score_first(client, sql):
    top = sql.execute(
        "select account_id, account_name from account_scores where lifecycle = 'prospect' order by score desc limit 1"
    ).fetchone()
    response = client.get("/")
    rows, total = parse_accounts(response.text)
    assert response.status_code == 200
    assert rows[0]["account-id"] == top["account_id"] and top["account_name"] in response.text
    assert total == sql.execute("select count(*) from account_scores").fetchone()[0] and len(rows) == 50
    assert [r["account-id"] for r in rows] == expected_order(sql, "score", "desc")[:50]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    # the one script is the dashboard's own theme follower, from its own static folder
    assert response.text.lower().count("<script") == response.text.count('/theme.js"></script>') == 1
    assert response.text.count('<svg class="spark"') >= 45  # a 28-day sparkline on (nearly) every row


@pytest.mark.parametrize("key", ["score", "account", "tier", "trend", "last_touch", "idle"])
@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_every_whitelisted_sort_orders_the_rows(client, sql, key, direction):
    expected = expected_order(sql, key, direction)
    assert ids(client.get("/", params={"sort": key, "dir": direction})) == expected[:50]
    assert ids(client.get("/", params={"sort": key, "dir": direction, "page": 2})) == expected[50:100]


def test_sorting_by_anything_else_is_a_clear_400(client, sql):
    before = sql.execute("select count(*) from account_scores").fetchone()[0]
    for value in ["account_id; drop table account_scores", "score desc, (select 1)", "owner_email"]:
        response = client.get("/", params={"sort": value})
        assert response.status_code == 400
        assert "cannot sort by" in response.text and "score, account, tier, trend, last_touch, idle" in response.text
        assert response.text.lower().count("<script") == response.text.count('/theme.js"></script>')
    assert client.get("/", params={"dir": "up"}).status_code == 400
    assert client.get("/", params={"page": "x"}).status_code == 400
    assert sql.execute("select count(*) from account_scores").fetchone()[0] == before


def test_band_filter_narrows_to_that_band(client, sql):
    counts = dict(sql.execute("select band, count(*) from account_scores group by band").fetchall())
    band = min(counts, key=counts.get)
    response = client.get("/", params={"band": band})
    rows, total = parse_accounts(response.text)
    assert total == counts[band] < sum(counts.values())
    assert rows and {r["band"] for r in rows} == {band}
    expected = [r[0] for r in sql.execute("select account_id from account_scores where band = ?", (band,))]
    assert {r["account-id"] for r in rows} <= set(expected) and len(rows) == min(50, len(expected))


def test_owner_and_lifecycle_filters(client, sql):
    owner, n = sql.execute(
        "select owner_email, count(*) from account_scores where owner_email is not null group by owner_email order "
        "by 2 desc limit 1"
    ).fetchone()
    rows, total = parse_accounts(client.get("/", params={"owner": owner}).text)
    assert total == n and {r["owner"] for r in rows} == {owner}
    assert {r["account-id"] for r in rows} == {
        r[0] for r in sql.execute("select account_id from account_scores where owner_email = ?", (owner,))
    } or n > 50
    customers = sql.execute("select count(*) from account_scores where lifecycle = 'customer'").fetchone()[0]
    assert customers > 0, "the default sample has customers (closed-won accounts)"
    rows, total = parse_accounts(client.get("/", params={"lifecycle": "customer"}).text)
    assert total == customers and {r["lifecycle"] for r in rows} == {"customer"}
    rows, _ = parse_accounts(client.get("/", params={"sort": "score", "dir": "asc"}).text)
    assert rows[0]["lifecycle"] == "prospect"  # prospects first whatever the sort


def test_search_by_name_and_by_id(client, sql):
    row = sql.execute(
        "select account_id, account_name from account_scores where lifecycle = 'prospect' order by score desc limit "
        "1 offset 7"
    ).fetchone()
    part = row["account_name"][1:6].upper()
    expected = {
        r[0]
        for r in sql.execute(
            "select account_id from account_scores where lower(account_name) like ? or lower(account_id) like ?",
            (f"%{part.lower()}%",) * 2,
        )
    }
    found = ids(client.get("/", params={"q": part}))
    assert row["account_id"] in found and set(found) == expected
    assert ids(client.get("/", params={"q": row["account_id"].lower()})) == [row["account_id"]]


@pytest.mark.parametrize(
    "q",
    ["' OR '1'='1", "x'; DROP TABLE account_scores; --", "%' UNION SELECT account_id FROM account_scores --", "%", "_"],
)
def test_sql_in_the_search_is_just_text(client, sql, q):
    before = sql.execute("select count(*) from account_scores").fetchone()[0]
    response = client.get("/", params={"q": q})
    assert response.status_code == 200
    rows, total = parse_accounts(response.text)
    assert rows == [] and total == 0 and 'id="no-rows"' in response.text
    assert sql.execute("select count(*) from account_scores").fetchone()[0] == before


def test_account_page_shows_headline_explanation_history_resets_and_alerts(client, sql):
    account = sql.execute(
        "select s.account_id, s.account_name, s.score from account_scores s where s.account_id in (select account_id "
        "from score_alerts) "
        "and s.account_id in (select account_id from account_explanations where kind = 'signal') order by s.score "
        "desc limit 1"
    ).fetchone()
    from include.dashboard.app import signal_label

    response = client.get(f"/accounts/{account['account_id']}")
    assert response.status_code == 200
    html = response.text
    assert account["account_name"] in html and f'id="score">{account["score"]:.2f}'.rstrip("0").rstrip(".") in html
    for label, _points in sql.execute(
        "select key, points from account_explanations where account_id = ? and kind = 'signal'",
        (account["account_id"],),
    ):
        assert f"<td>{signal_label(label)}</td>" in html  # the signal in words: ad_click as "Ad click"
    assert (
        html.count("<tr><td>", html.index('id="signals"'), html.index("</table>", html.index('id="signals"')))
        == sql.execute(
            "select count(*) from account_explanations where account_id = ? and kind = 'signal'",
            (account["account_id"],),
        ).fetchone()[0]
    )
    assert 'id="alerts"' in html and 'class="history"' in html
    resets = sql.execute("select count(*) from score_resets where account_id = ?", (account["account_id"],)).fetchone()[
        0
    ]
    assert ('id="resets"' in html) == (resets > 0)


def test_account_page_of_an_account_with_a_reset(client, sql):
    row = sql.execute("select account_id, rule from score_resets order by as_of desc limit 1").fetchone()
    if row is None:
        pytest.fail("the default sample run recorded no reset; the reset table of the account page is untested")
    html = client.get(f"/accounts/{row['account_id']}").text
    assert 'id="resets"' in html and f"<td>{row['rule']}</td>" in html


def test_unknown_account_is_a_404_page_that_escapes_the_id(client):
    response = client.get("/accounts/ACC-NOPE")
    assert response.status_code == 404 and "no account &#39;ACC-NOPE&#39;" in response.text
    response = client.get("/accounts/<script>alert(1)</script>")
    assert response.status_code == 404
    assert "<script>alert(1)" not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert client.get("/no/such/page").status_code == 404


def test_a_missing_warehouse_is_a_503_page_not_a_traceback(tmp_path):
    missing = tmp_path / "warehouse.sqlite"
    with serve(create_app(Warehouse(lambda: f"sqlite:///{missing}"))) as url:
        response = httpx.get(f"{url}/", timeout=30)
    assert (
        response.status_code == 503
        and "The warehouse cannot be reached" in response.text
        and "Traceback" not in response.text
    )
    assert not missing.exists()


def test_the_same_pages_on_postgresql(warehouse_file, sql, pg_url):
    copy_warehouse(f"sqlite:///{warehouse_file}", pg_url)
    top = sql.execute(
        "select account_id from account_scores where lifecycle = 'prospect' order by score desc limit 1"
    ).fetchone()[0]
    band, n = sql.execute("select band, count(*) from account_scores group by band order by 2 limit 1").fetchone()
    with serve(create_app(Warehouse(lambda: pg_url))) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert ids(http.get("/"))[0] == top
        rows, total = parse_accounts(http.get("/", params={"band": band}).text)
        assert total == n and {r["band"] for r in rows} == {band}
        assert ids(http.get("/", params={"q": "x'; DROP TABLE account_scores; --"})) == []
        assert ids(http.get("/", params={"q": top})) == [top]
        assert http.get("/", params={"sort": "nope"}).status_code == 400
        page = http.get(f"/accounts/{top}")
        assert page.status_code == 200 and 'id="signals"' in page.text
        assert http.get("/accounts/ACC-NOPE").status_code == 404
