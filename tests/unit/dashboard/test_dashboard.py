"""The dashboard's parts without a server: one table declaration with the warehouse, the whitelist and
bound parameters of its queries, read-only connections, chart geometry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from include.dashboard import queries
from include.dashboard.queries import AccountFilter, BadRequest
from include.dashboard.source import Warehouse, WarehouseUnavailable, read_only
from include.dashboard.svg import history_chart, sparkline
from include.scoring.publish import warehouse
from tests.conftest import ROOT


def test_the_dashboard_reads_the_warehouse_tables_without_pandas():
    """One declaration of the tables (include/scoring/publish/tables.py) serves publish and the
    dashboard; importing the dashboard's queries must not load pandas into the api-server."""
    code = (
        "import sys; import include.dashboard.queries as q; import include.scoring.publish.tables as t; "
        "assert q.account_scores is t.account_scores; assert 'pandas' not in sys.modules, 'pandas imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_defaults_and_round_trip_of_the_filter():
    assert AccountFilter.from_params({}) == AccountFilter()
    flt = AccountFilter.from_params(
        {
            "band": "hot",
            "owner": "ae001@x.io",
            "lifecycle": "customer",
            "q": " Acme ",
            "sort": "tier",
            "dir": "asc",
            "page": "3",
        }
    )
    assert flt == AccountFilter(
        band="hot", owner="ae001@x.io", lifecycle="customer", q="Acme", sort="tier", direction="asc", page=3
    )
    assert AccountFilter.from_params(flt.params()) == flt
    assert AccountFilter().params() == {}
    assert flt.params(page=1, band="") == {
        "owner": "ae001@x.io",
        "lifecycle": "customer",
        "q": "Acme",
        "sort": "tier",
        "dir": "asc",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "score; DROP TABLE account_scores"}, "sort by one of: score, account, tier, trend, last_touch, idle"),
        ({"sort": "account_name"}, "cannot sort by 'account_name'"),
        ({"dir": "sideways"}, "not one of: asc, desc"),
        ({"lifecycle": "lead"}, "prospect, customer, churned"),
        ({"page": "0"}, "not a page number"),
        ({"page": "-2"}, "not a page number"),
        ({"page": "two"}, "not a page number"),
        ({"page": "99999999"}, "not a page number"),
        ({"q": "x" * 201}, "longer than 200 characters"),
    ],
)
def test_parameters_outside_the_whitelists_are_refused_with_what_is_allowed(params, message):
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        AccountFilter.from_params(params)


def test_user_values_reach_the_database_only_as_bound_parameters():
    nasty = "x' OR 1=1; DROP TABLE account_scores; --"
    flt = AccountFilter(band=nasty, owner=nasty, q=nasty, sort="last_touch", direction="asc")
    stmt = sa.select(*queries.LIST_COLUMNS).where(*flt.conditions()).order_by(*flt.order_by())
    compiled = stmt.compile(dialect=sa.dialects.postgresql.dialect())
    assert "DROP" not in str(compiled) and "OR 1=1" not in str(compiled)
    assert nasty in compiled.params.values()
    assert "prospect" in compiled.params.values()  # prospects first, also a bound parameter
    assert "account_scores.last_touch_at ASC NULLS LAST" in str(compiled)


def test_search_wildcards_are_literal(tmp_path):
    db = tmp_path / "w.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    warehouse.metadata.create_all(engine)
    base = {
        "as_of": date(2026, 11, 20),
        "score": 1.0,
        "band": "cold",
        "accumulated": 1.0,
        "breadth": 0.0,
        "engaged_people": 0,
        "new_people_14d": 0,
        "points_today": 0.0,
        "trend": "flat",
        "change_7d": 0.0,
        "change_28d": 0.0,
        "surge": False,
        "next_action": "nurture",
        "lifecycle": "prospect",
        "config_version": "t",
    }
    with engine.begin() as conn:
        conn.execute(
            warehouse.account_scores.insert(),
            [
                {**base, "account_id": "A-1", "account_name": "Acme 100% Steel"},
                {**base, "account_id": "A-2", "account_name": "Bolt_Works"},
            ],
        )
    engine.dispose()

    def found(q: str) -> list[str]:
        with Warehouse(lambda: f"sqlite:///{db}").connect() as conn:
            return sorted(r.account_id for r in queries.list_accounts(conn, AccountFilter(q=q)).rows)

    assert found("%") == ["A-1"]  # the literal percent sign, not "anything"
    assert found("_") == ["A-2"]
    assert found("acme") == ["A-1"]  # case-insensitive
    assert found("a-2") == ["A-2"]  # ids too
    assert found("' OR '1'='1") == []


def test_sqlite_is_opened_read_only_and_a_missing_file_is_not_created(tmp_path):
    missing = tmp_path / "nope" / "warehouse.sqlite"
    url, _ = read_only(f"sqlite:///{missing}")
    assert url.query["mode"] == "ro" and url.database == f"file:{missing}"
    with pytest.raises(WarehouseUnavailable) as err, Warehouse(lambda: f"sqlite:///{missing}").connect() as conn:
        conn.execute(sa.text("select 1"))
    assert err.value.title == "The warehouse cannot be reached" and "engagement_warehouse" in err.value.detail
    assert not missing.exists() and not missing.parent.exists()


def test_a_read_only_connection_cannot_write(tmp_path):
    db = tmp_path / "w.sqlite"
    sqlite3.connect(db).execute("create table t (x int)").connection.close()
    with (
        pytest.raises(sa.exc.OperationalError, match="readonly"),
        Warehouse(lambda: f"sqlite:///{db}").engine().connect() as conn,
    ):
        conn.execute(sa.text("insert into t values (1)"))


def test_an_empty_warehouse_says_no_scores_yet(tmp_path):
    db = tmp_path / "empty.sqlite"
    sqlite3.connect(db).close()
    with pytest.raises(WarehouseUnavailable) as err, Warehouse(lambda: f"sqlite:///{db}").connect() as conn:
        queries.latest_day(conn)
    assert err.value.title == "No scores yet" and "no account_scores table" in err.value.detail


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "sqlite://",
        "sqlite:///:memory:",
        "generic://%2Ftmp%2Fwarehouse.sqlite",
        "postgresql+nosuchdriver://h/db",
    ],
)
def test_unusable_urls_are_explained(url):
    """e.g. a connection added with --conn-type sqlite becomes type generic (no sqlite provider)."""
    with pytest.raises(WarehouseUnavailable) as err, Warehouse(lambda: url).connect():
        pass
    assert err.value.title.startswith("The warehouse URL")


def test_a_changed_url_is_picked_up_after_the_ttl(tmp_path):
    urls = iter([f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"])
    source = Warehouse(lambda: next(urls), ttl=0)
    assert source.url().endswith("a.sqlite")
    assert source.url().endswith("b.sqlite")


def test_sparkline_places_days_by_date_and_scales_to_the_window():
    end = date(2026, 11, 20)
    line = sparkline(
        [(end - timedelta(days=27), 10.0), (end - timedelta(days=1), 20.0), (end, 30.0)],
        end,
        28,
        width=96,
        height=24,
        pad=2,
    )
    xs = [float(p.split(",")[0]) for p in line.points.split()]
    ys = [float(p.split(",")[1]) for p in line.points.split()]
    assert xs[0] == pytest.approx(2.0) and xs[-1] == pytest.approx(94.0)
    assert xs[1] == pytest.approx(2 + 92 * 26 / 27, abs=0.05)  # the gap of 25 days shows as distance
    assert ys[0] == pytest.approx(22.0) and ys[-1] == pytest.approx(2.0)  # lowest at the bottom, highest at the top
    flat = sparkline([(end - timedelta(days=1), 5.0), (end, 5.0)], end, 28, height=24)
    assert {float(p.split(",")[1]) for p in flat.points.split()} == {12.0}
    assert sparkline([], end, 28) is None


def test_history_chart_has_band_lines_in_range_and_dated_ticks():
    start = date(2026, 8, 23)
    series = [(start + timedelta(days=k), float(k) / 2) for k in range(90)]  # 0 .. 44.5
    chart = history_chart(series, [("cold", 10), ("warm", 25), ("hot", 50), ("very_hot", None)])
    assert [t.label for t in chart.x_ticks] == ["2026-08-23", "2026-10-06", "2026-11-20"]
    assert [t.label for t in chart.bands] == ["cold up to 10", "warm up to 25", "hot up to 50"]
    assert [t.label for t in chart.y_ticks] == ["0", "10", "20", "30", "40", "50"]
    assert chart.scale == "linear"
    crowded = history_chart(
        [(start, 900.0), (start + timedelta(days=1), 910.0)], [("cold", 10), ("warm", 25), ("hot", 50)]
    )
    gaps = [a.at - b.at for a, b in zip(crowded.bands, crowded.bands[1:], strict=False)]
    assert len(crowded.bands) >= 2 and min(gaps) >= 12  # never drawn on top of each other
    assert crowded.scale == "square-root"


def test_band_lines_stay_readable_when_the_scores_run_far_above_them():
    """A hot account at 300-500 with boundaries at 10, 25 and 50: on a linear axis to 500 the three
    lines sat in the bottom 18 pixels (one drawn, two dropped); the square-root axis keeps them apart."""
    start = date(2026, 9, 1)
    series = [(start + timedelta(days=k), 25.0 + 5 * k) for k in range(90)]  # 25 .. 470
    chart = history_chart(series, [("cold", 10), ("warm", 25), ("hot", 50), ("very_hot", None)])
    assert chart.scale == "square-root"
    assert [t.label for t in chart.bands] == ["cold up to 10", "warm up to 25", "hot up to 50"]
    positions = [chart.top + chart.plot_height - t.at for t in chart.bands]  # height above the baseline
    assert positions[0] >= 20 and min(b - a for a, b in zip(positions, positions[1:], strict=False)) >= 12
    assert {"10", "25", "50"} <= {t.label for t in chart.y_ticks}  # the axis names the boundaries
    ys = [float(p.split(",")[1]) for p in chart.points.split()]
    assert ys == sorted(ys, reverse=True)  # still ordered: a higher score is drawn higher
