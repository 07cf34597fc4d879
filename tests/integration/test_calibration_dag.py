"""engagement_monthly_calibration run for real with dag.test(): completeness check, report, and the
email through a real SMTP server (aiosmtpd on loopback) with the PDF attached; the report lists a
real failed task run of engagement_daily read from the Airflow metadata database."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.config import DEFAULT_CONFIG_PATH
from include.scoring.runner import run_range
from tests.integration.airflow_helpers import load_dag, run_daily, task_states
from tests.integration.catchers import smtp_catcher

pytestmark = pytest.mark.integration
MONTH_END = date(2026, 10, 31)
RECIPIENTS = ["cmo@northwind.io", "sales.ops@northwind.io"]


def _run_monthly(dag, month: str):
    for task in dag.tasks:
        task.retries = 0  # a failure ends the run at once (retry settings: tests/dags)
    return dag.test(logical_date=datetime(2026, 11, 2, 6, tzinfo=UTC), run_conf={"month": month})


def test_monthly_report_dag_end_to_end(airflow_db, settings_env, tmp_path, monkeypatch):
    summary = generate(tmp_path / "sample", accounts=40, days=31, end_date=MONTH_END, seed=5)
    settings = settings_env(summary.out)
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["calibration"]["recipients"] = RECIPIENTS
    config_path = tmp_path / "engagement.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(config_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_ENGAGEMENT_AIRFLOW_DB",
        json.dumps(
            {
                "conn_type": "generic",
                "extra": {"sqlalchemy_url": f"sqlite:///{Path(os.environ['AIRFLOW_HOME']) / 'airflow.db'}"},
            }
        ),
    )
    run_range(RunContext(settings.with_(config_path=str(config_path))), summary.start, MONTH_END, echo=lambda _: None)

    # A real failure of the daily DAG in the month: the CRM was never given its engagement columns.
    daily = run_daily(load_dag("engagement_daily"), MONTH_END)
    assert task_states(daily)["push_crm"] == "failed"

    monthly = load_dag("engagement_monthly_calibration")
    with smtp_catcher() as caught:
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", f"smtp://127.0.0.1:{caught.port}?from=reports@northwind.io")
        incomplete = _run_monthly(monthly, "2026-09")  # no day of September is published
        states = task_states(incomplete)
        assert states["check_completeness"] == "failed" and states["build_report"] == "upstream_failed", states
        run = _run_monthly(monthly, "2026-10")
        states = task_states(run)
        assert set(states.values()) == {"success"}, states
        [message] = caught.wait(1)
    assert sorted(message["X-Envelope-To"].split(", ")) == sorted(RECIPIENTS)
    assert message["Subject"].startswith("Engagement scoring calibration report 2026-10")
    html = message.get_body(("html",)).get_content()
    assert "What changed since last month" in html
    # October's outcome windows are still open on the sample's last day: pending, never "0 known"
    assert "Closed-won outcomes</td>" in html and "pending until" in html and "outcomes known" not in html
    [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "engagement-calibration-2026-10.pdf" and pdf.get_content().startswith(b"%PDF")

    folder = Path(settings.lake) / "reports" / "month=2026-10"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (folder / "report.html").exists() and (folder / "report.pdf").read_bytes() == pdf.get_content()
    runs = metrics["data_quality"]["task_runs"]
    assert runs["available"] and runs["source"].startswith("engagement_daily")
    failed = {(r["day"], r["task_id"]) for r in runs["failed"]}
    assert (MONTH_END.isoformat(), "push_crm") in failed and {day for day, _ in failed} == {MONTH_END.isoformat()}, (
        failed
    )
    assert "push_crm" in (folder / "report.html").read_text()
