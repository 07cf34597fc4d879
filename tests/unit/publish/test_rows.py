"""The publish rows built with Arrow (rows.py) and their bulk form (wire.py): the same values the
per-row code gave (top signals order and wording, alert statuses, explanation labels, NULLs, the
SQLite storage formats), on the real SQLite through SQLAlchemy for the storage check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
import sqlalchemy as sa

from include.scoring.publish import rows, wire
from include.scoring.publish.stage import alert_threshold
from include.scoring.publish.tables import account_score_history, score_alerts
from include.scoring.publish.warehouse import bulk_insert, ensure_schema

DAY = date(2026, 3, 2)


def ledger(*entries: tuple[str, str, float]) -> pa.Table:
    account, signal, points = zip(*entries, strict=True)
    return pa.table({"account_id": list(account), "signal": list(signal), "points": pa.array(points, pa.float64())})


def test_top_signals_are_the_three_strongest_with_ties_in_ledger_order_and_points_rounded_as_g():
    table = ledger(
        ("B", "web_visit", 1.0),
        ("A", "ad_click", 2.0),
        ("A", "demo_request", 12.5),
        ("A", "email_open", 2.0),  # ties with ad_click: the ledger's order decides
        ("A", "webinar", 1.0),  # fourth: left out
        ("A", "reset_only", 0.0),  # no points: never listed
        ("B", "pricing_page", 3.14159),
        ("C", "big", 1234567.891),
    )
    got = rows.top_signals(table, pa.array(["A", "B", "C", "D"])).to_pylist()
    assert got == [
        "demo_request 12.5, ad_click 2, email_open 2",
        f"pricing_page {round(3.14159, 2):g}, web_visit 1",
        f"big {round(1234567.891, 2):g}",  # 1.23457e+06, as the f-string of the per-account code printed it
        "",  # no points: an empty text, not NULL
    ]


def test_top_signals_of_an_empty_or_missing_ledger_are_empty_texts():
    assert rows.top_signals(None, pa.array(["A"])).to_pylist() == [""]
    assert rows.top_signals(ledger(("A", "x", 0.0)), pa.array(["A", "B"])).to_pylist() == ["", ""]


def changes(*entries: dict) -> pa.Table:
    base = {"as_of": DAY, "before": None, "after": None, "score_before": 10.0, "score_after": 30.0}
    return pa.Table.from_pylist([{**base, **e} for e in entries])


def test_alert_rows_keep_the_changes_order_and_say_who_has_no_recipient():
    scores = pa.table(
        {"account_id": ["A", "B"], "account_name": ["Acme", None], "band": ["hot", "warm"], "next_action": ["x", "y"]}
    )
    table = changes(
        {"account_id": "B", "kind": "alert", "rule": "threshold_25", "recipient": "", "audience": "manager"},
        {"account_id": "A", "kind": "reset", "rule": "not_interested", "recipient": None, "audience": None},
        {"account_id": "A", "kind": "alert", "rule": "health_at_risk", "recipient": "o@x.io", "audience": "owner"},
        {"account_id": "A", "kind": "alert", "rule": "threshold_25", "recipient": None, "audience": "sdr"},
    )
    alerts = rows.alert_rows(table, scores, ledger(("A", "demo", 5.0)), DAY, alert_threshold).to_pylist()
    assert [(a["account_id"], a["rule"], a["threshold"]) for a in alerts] == [
        ("B", "threshold_25", 25.0),
        ("A", "health_at_risk", alert_threshold("health_at_risk")),
        ("A", "threshold_25", 25.0),
    ]
    assert [a["status"] for a in alerts] == ["no_recipient", "pending", "no_recipient"]
    assert [a["recipient"] for a in alerts] == [None, "o@x.io", None]  # an empty address is no address
    assert alerts[0]["last_error"] == rows.MISSING_RECIPIENT.format("manager") and alerts[1]["last_error"] is None
    assert [a["account_name"] for a in alerts] == [None, "Acme", "Acme"]
    assert [a["top_signals"] for a in alerts] == ["", "demo 5", "demo 5"]
    assert {a["crossing_day"] for a in alerts} == {DAY} and {a["attempts"] for a in alerts} == {0}
    assert rows.reset_rows(table).column("rule").to_pylist() == ["not_interested"]


def test_explanation_rows_label_signals_persons_and_breadth():
    persons = pa.table(
        {
            "account_id": ["A", "A"],
            "person_key": ["p1", "p2"],
            "last_positive_at": pa.array(
                [datetime(2026, 3, 1, 23, 59, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")
            ),
            "points": [4.0, 1.0],
        }
    )
    scores = pa.table(
        {
            "account_id": ["A", "B"],
            "as_of": pa.array([DAY, DAY]),
            "breadth": [2.0, 0.0],
            "engaged_people": pa.array([3, 0], pa.int64()),
        }
    )
    got = rows.explanation_rows(ledger(("A", "demo", 5.0)), persons, scores, DAY).to_pylist()
    assert [(r["kind"], r["key"], r["label"], r["points"]) for r in got] == [
        ("signal", "demo", "demo", 5.0),
        ("person", "p1", "last active 2026-03-01", 4.0),
        ("person", "p2", None, 1.0),
        ("breadth", "breadth", "3 people in the breadth window", 2.0),
    ]
    assert {r["as_of"] for r in got} == {DAY}


def test_conform_orders_columns_fills_missing_ones_and_makes_nan_null():
    table = pa.table({"score_before": [float("nan"), 1.0], "account_id": ["A", "B"], "extra": [1, 2]})
    got = wire.conform(table, score_alerts)
    assert got.column_names == [c.name for c in score_alerts.columns]
    assert got.column("score_before").to_pylist() == [None, 1.0]
    assert got.column("claim_id").null_count == 2


@pytest.fixture
def sqlite_conn():
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        ensure_schema(conn)
        yield conn
    engine.dispose()


def test_sqlite_bulk_rows_are_stored_as_sqlalchemy_stores_them(sqlite_conn):
    """Tuples built column by column hold what SQLAlchemy's own insert of the same values holds:
    dates and times in its text formats, booleans as 1/0, integers as integers, NaN as NULL."""
    values = {
        "account_id": "A",
        "as_of": DAY,
        "score": 1.5,
        "band": "warm",
        "engagement_percentile": float("nan"),
        "accumulated": 2.0,
        "breadth": 0.0,
        "engaged_people": 3,
        "new_people_14d": 0,
        "points_today": 0.25,
        "trend": "up",
        "change_7d": -1.0,
        "change_28d": 0.1,
        "surge": True,
        "last_touch_at": datetime(2026, 3, 1, 9, 30, 5, 120, tzinfo=UTC),
        "days_since_engagement": 1,
        "next_action": "call",
        "lifecycle": "prospect",
        "config_version": "v1",
    }
    arrow = pa.Table.from_pylist([values]).set_column(1, "as_of", pa.array([DAY], pa.date32()))  # as the lake holds it
    bulk_insert(sqlite_conn, account_score_history, arrow)
    reference = {**values, "account_id": "B", "engagement_percentile": None}
    sqlite_conn.execute(account_score_history.insert(), [reference])  # SQLAlchemy's own path
    names = [c.name for c in account_score_history.columns if c.name != "account_id"]
    select = ", ".join(f'"{n}", typeof("{n}")' for n in names)
    stored = sqlite_conn.exec_driver_sql(f"SELECT {select} FROM account_score_history ORDER BY account_id").all()
    assert stored[0] == stored[1]
    assert stored[0][names.index("last_touch_at") * 2] == "2026-03-01 09:30:05.000120"
