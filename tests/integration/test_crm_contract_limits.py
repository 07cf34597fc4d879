"""One CRM row beyond the warehouse's limits is quarantined, never a crashed publish (issue 22, item 3).

An account_id of 65 characters (the warehouse's keys are VARCHAR(64)) and a NUL in an account
name (PostgreSQL text cannot hold it) used to pass validation; publish to PostgreSQL then failed
with "unexpected internal error" and quoted warehouse rows in the error. Now validation
quarantines both rows (account_id_length, name_printable) and the day publishes.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.runner import run_range

pytestmark = pytest.mark.integration
LONG_ID = "ACC-" + "9" * 61  # 65 characters


def test_long_account_id_and_nul_in_a_name_are_quarantined_and_postgres_publishes(small_sample, tmp_path, pg_url):
    crm = tmp_path / "crm.sqlite"
    shutil.copyfile(Path(small_sample.out) / "crm.sqlite", crm)
    with sqlite3.connect(crm) as conn:
        first = conn.execute("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE accounts SET name = ? WHERE account_id = ?", ("Nul\x00Corp\x1b[2J", first))
        columns = [r[1] for r in conn.execute("PRAGMA table_info(accounts)")]
        row = dict(zip(columns, conn.execute("SELECT * FROM accounts WHERE account_id = ?", (first,)).fetchone()))
        row.update(account_id=LONG_ID, name="Long Id Ltd", domain="long-id.example")
        conn.execute(
            f"INSERT INTO accounts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )
    settings = Settings(
        landing=str(Path(small_sample.out) / "landing"),
        crm_url=f"sqlite:///{crm}",
        lake=str(tmp_path / "lake"),
        warehouse_url=pg_url,
        config_path=None,
    )
    ctx = RunContext(settings)
    day = small_sample.end
    run_range(ctx, day, day, echo=lambda _: None)
    quarantine = ctx.lake.read_df(catalog.quarantine("crm/accounts"), day).set_index("account_id")
    assert "account_id_length" in quarantine.loc[LONG_ID, "failed_checks"]
    assert "name_printable" in quarantine.loc[first, "failed_checks"]
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT count(*) FROM pipeline_runs WHERE day = :d"), {"d": day}).scalar()
            names = conn.execute(sa.text("SELECT account_name FROM account_scores")).scalars().all()
    finally:
        engine.dispose()
    assert runs == 1
    assert not any("\x00" in (n or "") for n in names)


def test_a_warehouse_error_never_quotes_the_rows_being_written(tmp_path):
    from include.scoring.publish.warehouse import connect

    engine = connect(f"sqlite:///{tmp_path / 'wh.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('secret-row-value')")
    with pytest.raises(sa.exc.IntegrityError) as err, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (:k)"), [{"k": "secret-row-value"}])
    engine.dispose()
    assert "secret-row-value" not in str(err.value)
