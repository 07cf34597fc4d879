"""The production topology without Docker: PostgreSQL metadata, Redis broker, CeleryExecutor with two
workers, scheduler, dag-processor and api-server, driven through the REST API like an operator."""

from __future__ import annotations

import os
from datetime import date

import pytest

from tests.conftest import port_open, require_service
from tests.integration.catchers import smtp_catcher, webhook_catcher

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

END = date(2026, 11, 20)
#: The run takes well over this (seconds after it is queued), so its deadline alert must fire.
DEADLINE_SECONDS = 5


def services_available() -> None:
    require_service(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")


def test_daily_run_on_a_celery_cluster(tmp_path, monkeypatch):
    services_available()
    from include.sample import generate
    from include.scoring.publish.stage import init_crm
    from scripts.native_cluster import NativeCluster, report

    sample = generate(tmp_path / "sample", accounts=30, days=3, end_date=END, seed=11)
    monkeypatch.setenv("ENGAGEMENT_LANDING", str(sample.out / "landing"))
    monkeypatch.setenv("ENGAGEMENT_CRM_URL", sample.crm_url)
    monkeypatch.setenv("ENGAGEMENT_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("ENGAGEMENT_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    monkeypatch.setenv("ENGAGEMENT_DEADLINE_HOURS", str(DEADLINE_SECONDS / 3600))
    init_crm(sample.crm_url)  # push_crm writes the engagement columns; creating them is an explicit step
    with webhook_catcher() as hook, smtp_catcher() as mail:
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", f"smtp://127.0.0.1:{mail.port}?from=alerts@northwind.io")
        monkeypatch.setenv("ENGAGEMENT_WEBHOOK_URL", f"http://127.0.0.1:{hook.port}/hook")
        # One task slot per worker: while one worker runs a task, the next queued task must go to the other.
        cluster = NativeCluster(workers=2, concurrency=1)
        home, db_name = cluster.home, cluster.db_name
        with cluster:
            run, tasks = cluster.run_day(END, timeout=240)
            summary = report(run, tasks)
            print(summary)
            late = hook.wait(count=1, timeout=30)
        redis_db = cluster.redis_db

    assert run["state"] == "success", summary
    assert tasks and all(t["state"] == "success" for t in tasks), summary
    assert {
        "extract_web",
        "extract_crm",
        "validate_web",
        "validate_crm",
        "resolve_identities",
        "score_accounts",
        "rank_accounts",
        "publish_warehouse",
        "push_crm",
        "send_alerts",
    } <= {t["task_id"] for t in tasks}
    workers = {t["hostname"] for t in tasks}
    assert workers == {"worker-1", "worker-2"}, summary  # both Celery workers ran tasks
    assert os.path.isdir(tmp_path / "lake" / "valid" / "web" / f"dt={END}")
    # The run's deadline alert fired on the scheduler and the notifier ran on a worker.
    texts = [m["json"]["text"] for m in late]
    assert any(t.startswith(f"[engagement] LATE engagement_daily.(run) for {END}:") for t in texts), texts
    # Everything was cleaned up: processes, metadata database, Redis database, Airflow home.
    assert all(s.process.poll() is not None for s in cluster.services)
    assert redis_db is None and not home.exists()
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        assert conn.execute("select count(*) from pg_database where datname = %s", (db_name,)).fetchone()[0] == 0
