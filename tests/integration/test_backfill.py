"""Backfill equivalence: 12 days three ways end in the same state.

1. daily: `python -m include.scoring run --start D --end D`, once per day, in order (what 12
   scheduled runs do);
2. range: one `run --start D1 --end D12`;
3. Airflow: a backfill of the same 12 days created through the REST API of a real cluster
   (scheduler, dag-processor, api-server, two Celery workers; scripts/native_cluster.py) running
   the engagement_daily DAG. Days whose quality gate held fail in Airflow at push_crm and
   send_alerts (by design) where the lenient CLI reports and goes on: the same days in both.

Each way gets its own copy of the sample's CRM (push_crm writes to it), lake, warehouse and SMTP
catcher (alerts are sent in all three); the two CLI ways run while the backfill runs. The lake's
Parquet partitions and the warehouse tables must be equal, apart from the wall-clock columns named
in VOLATILE, and the same number of alert emails must be sent.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from include.scoring.cli.main import main
from tests.conftest import port_open, require_service
from tests.integration.catchers import smtp_catcher

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

#: 12 days keep the test to a few minutes of a real cluster; they hold a state checkpoint day
#: (2026-10-31: checkpoints fall on ordinals divisible by 30), on which the gate holds: that day's ad
#: files are removed (a daily source with no rows), so the held path is exercised.
END = date(2026, 11, 5)
HELD = date(2026, 10, 31)
DAYS = 12
FIRST = END - timedelta(days=DAYS - 1)
#: Columns that record when something happened (wall clock), not what.
VOLATILE = {
    "created_at",
    "updated_at",
    "published_at",
    "sent_at",
    "last_attempt_at",
    "pushed_at",
    "run_at",
    "generated_at",
    "validated_at",
}


def _env(monkeypatch, root: Path, sample: Path, smtp_port: int) -> dict[str, str]:
    crm = root / "crm.sqlite"
    shutil.copyfile(sample / "crm.sqlite", crm)
    env = {
        "ENGAGEMENT_LANDING": str(sample / "landing"),
        "ENGAGEMENT_CRM_URL": f"sqlite:///{crm}",
        "ENGAGEMENT_LAKE": str(root / "lake"),
        "ENGAGEMENT_WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.sqlite'}",
        "ENGAGEMENT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?from=alerts@northwind.io",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from include.scoring.publish.stage import init_crm

    init_crm(env["ENGAGEMENT_CRM_URL"])
    return env


def lake_tables(root: Path) -> dict[str, object]:
    """Every Parquet file of the lake, as a table sorted by all its columns."""
    tables = {}
    for path in sorted((root / "lake").rglob("*.parquet")):
        table = pq.read_table(path)
        keep = [c for c in table.column_names if c not in VOLATILE]
        table = table.select(keep)
        sortable = [c for c in keep if not str(table.schema.field(c).type).startswith(("list", "struct", "map"))]
        tables[str(path.relative_to(root))] = (
            table.sort_by([(c, "ascending") for c in sortable]) if sortable and table.num_rows else table
        )
    return tables


def warehouse_rows(root: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(root / "warehouse.sqlite") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for name in names:
            columns = [
                r[1] for r in conn.execute(f'PRAGMA table_info("{name}")') if r[1] not in VOLATILE
            ]  # names from the catalog
            rows = conn.execute(f'SELECT {", ".join(f"{c!r}" for c in columns)} FROM "{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
    return out


def crm_fields(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "crm.sqlite") as conn:
        columns = [
            r[1]
            for r in conn.execute("PRAGMA table_info(accounts)")
            if r[1].startswith("engagement_") and r[1] not in VOLATILE and not r[1].endswith("_at")
        ]
        return sorted(conn.execute(f"SELECT account_id, {', '.join(columns)} FROM accounts").fetchall(), key=repr)


def assert_same_state(a: Path, b: Path, label: str) -> None:
    ta, tb = lake_tables(a), lake_tables(b)
    assert sorted(ta) == sorted(tb), f"{label}: lake partitions differ: {sorted(set(ta) ^ set(tb))[:10]}"
    different = [name for name in ta if not ta[name].equals(tb[name])]
    assert not different, f"{label}: {len(different)} lake file(s) differ, e.g. {different[:5]}"
    wa, wb = warehouse_rows(a), warehouse_rows(b)
    assert sorted(wa) == sorted(wb), label
    for table in wa:
        assert wa[table] == wb[table], f"{label}: warehouse table {table} differs"
    assert crm_fields(a) == crm_fields(b), f"{label}: CRM engagement fields differ"


def test_range_run_and_airflow_backfill_match_daily_runs(tmp_path, monkeypatch):
    require_service(
        port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432 (the cluster's metadata database)"
    )
    require_service(
        port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379 (the cluster's Celery broker)"
    )
    from include.sample import generate
    from scripts.native_cluster import DAG_ID, NativeCluster

    sample = generate(tmp_path / "sample", accounts=25, days=DAYS, end_date=END, seed=3).out
    for landed in (sample / "landing" / "ad" / HELD.isoformat()).iterdir():  # an ad export that never came
        landed.unlink()
    daily, ranged, airflow = (tmp_path / name for name in ("daily", "range", "airflow"))
    for root in (daily, ranged, airflow):
        root.mkdir()
    with smtp_catcher() as mail_daily, smtp_catcher() as mail_range, smtp_catcher() as mail_airflow:
        # The cluster takes its environment when it starts; the two CLI ways then run in this
        # process while the backfill runs (the scheduler leaves a core idle much of the time).
        _env(monkeypatch, airflow, sample, mail_airflow.port)
        with NativeCluster(workers=2, concurrency=2) as cluster:
            cluster.api.unpause(DAG_ID)
            backfill = cluster.api.create_backfill(DAG_ID, FIRST, END, max_active_runs=1)

            _env(monkeypatch, daily, sample, mail_daily.port)
            for n in range(DAYS):
                day = (FIRST + timedelta(days=n)).isoformat()
                assert main(["run", "--start", day, "--end", day]) == 0
            _env(monkeypatch, ranged, sample, mail_range.port)
            assert main(["run", "--start", FIRST.isoformat(), "--end", END.isoformat()]) == 0

            runs = cluster.api.wait_for_backfill(DAG_ID, backfill["id"], timeout=1000)
            failed = {
                r["dag_run_id"]: cluster.api.task_instances(DAG_ID, r["dag_run_id"])
                for r in runs
                if r["state"] != "success"
            }
        assert len(runs) == DAYS, [r["logical_date"] for r in runs]
        assert sorted(r["data_interval_start"][:10] for r in runs) == [
            (FIRST + timedelta(days=n)).isoformat() for n in range(DAYS)
        ]
        sent = [len(m.messages) for m in (mail_daily, mail_range, mail_airflow)]
        assert sent[0] > 0 and sent[0] == sent[1] == sent[2], f"alert emails sent (daily, range, Airflow): {sent}"

    # Days whose quality gate held (HELD, and any day the small sample's volumes swing): the CLI reports them and goes
    # on; in Airflow push_crm and send_alerts fail on purpose (on-call is told), nothing else does.
    held = {
        day
        for day, status in sqlite3.connect(daily / "warehouse.sqlite").execute(
            "SELECT day, gate_status FROM pipeline_runs"
        )
        if status == "held"
    }
    failed_days = {
        r["data_interval_start"][:10]: {t["task_id"] for t in failed[r["dag_run_id"]] if t["state"] != "success"}
        for r in runs
        if r["dag_run_id"] in failed
    }
    assert HELD.isoformat() in held, f"no ad rows on {HELD} must hold the gate: the held path must be exercised"
    assert set(failed_days) == held, (failed_days, held)
    assert all(tasks == {"push_crm", "send_alerts"} for tasks in failed_days.values()), failed_days
    assert len(list((daily / "lake" / "scores").glob("dt=*"))) == DAYS
    assert_same_state(daily, ranged, "run --start --end vs daily runs")
    assert_same_state(daily, airflow, "Airflow backfill vs daily runs")
