"""A task that really fails in a real Airflow run sends the on-call notice: by email to a real SMTP
server on loopback (through the `engagement_smtp` connection) and to a webhook on loopback."""

from __future__ import annotations

import json
import shutil

import pytest

from include.airflow_glue.notifier import runbook_link
from tests.integration.airflow_helpers import load_dag, run_daily, task_states
from tests.integration.catchers import smtp_catcher, webhook_catcher

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

SMTP_PASSWORD = "s3cret-smtp-pw-0137"


@pytest.fixture
def broken_sample(small_sample, tmp_path):
    """A copy of the small sample's landing zone whose last web day holds an unreadable Parquet file."""
    landing = tmp_path / "landing"
    shutil.copytree(small_sample.out / "landing", landing)
    (landing / "web" / small_sample.end.isoformat() / "zz_broken.parquet").write_bytes(b"this is not parquet\n")
    return landing


def test_failed_extract_emails_on_call(airflow_db, small_sample, settings_env, broken_sample, monkeypatch):
    settings_env(small_sample.out)
    monkeypatch.setenv("ENGAGEMENT_LANDING", str(broken_sample))
    monkeypatch.setenv("ENGAGEMENT_ALERT_EMAILS", "oncall@example.com, data-platform@example.com")
    monkeypatch.delenv("ENGAGEMENT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("ENGAGEMENT_SMTP_URL", raising=False)
    with smtp_catcher(login="alerts", password=SMTP_PASSWORD) as smtp:
        conn = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": smtp.port,
            "login": "alerts",
            "password": SMTP_PASSWORD,
            "extra": {"starttls": False, "from": "airflow@example.com"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_ENGAGEMENT_SMTP", json.dumps(conn))
        dag = load_dag("engagement_daily")
        # only extract_web runs; with the DAG's retries: an unreadable file is a data error, not retried
        dagrun = run_daily(dag, small_sample.end, retries=2, mark_success_pattern=r"(?!extract_web$).*")
        states = task_states(dagrun)
        assert states["extract_web"] == "failed", states
        messages = smtp.wait(count=2, timeout=30)

    assert len(smtp.logins) == len(messages) and set(smtp.logins) == {
        ("alerts", SMTP_PASSWORD)
    }  # the connection's login was used
    day = small_sample.end.isoformat()
    task_mails = [
        m for m in messages if "engagement_daily.extract_web" in m["Subject"] and "RUN FAILED" not in m["Subject"]
    ]
    assert len(task_mails) == 1, [m["Subject"] for m in messages]
    mail = task_mails[0]
    subject = mail["Subject"]
    assert subject.startswith("[engagement] FAILED engagement_daily.extract_web for " + day), subject
    assert "zz_broken.parquet (day " in subject and "not a readable Parquet" in subject, subject
    assert mail["From"] == "airflow@example.com"
    assert set(mail["X-Envelope-To"].split(", ")) == {"oncall@example.com", "data-platform@example.com"}
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "Error (ExtractError):" in text
    assert "Re-export it or remove it from the landing folder." in text  # the full, actionable message
    assert "Try: 1 of 3" in text  # failed on the first of three tries: not retried
    run_id = dagrun.run_id.replace("+", "%2B").replace(":", "%3A")
    assert f"/dags/engagement_daily/runs/{run_id}/tasks/extract_web?try_number=1" in text
    assert f"Runbook: {runbook_link('extract-failed')}" in text
    assert "extract-failed" in html and "<pre" in html
    for part in (subject, text, html):
        assert SMTP_PASSWORD not in part
    # The DAG run's own failure callback reports the run too.
    run_mails = [m for m in messages if m["Subject"].startswith("[engagement] RUN FAILED engagement_daily")]
    assert len(run_mails) == 1 and f"for {day}" in run_mails[0]["Subject"], [m["Subject"] for m in messages]


def test_failed_task_posts_to_webhook(airflow_db, small_sample, settings_env, monkeypatch):
    """The CRM is unreachable: extract_crm fails; the notice goes to a webhook, without the password."""
    settings_env(small_sample.out, crm_url="postgresql+psycopg://crm_reader:hunter2-crm-secret@127.0.0.1:1/crm")
    monkeypatch.setenv("ENGAGEMENT_ALERT_EMAILS", "")
    with webhook_catcher() as hook:
        monkeypatch.setenv("ENGAGEMENT_WEBHOOK_URL", f"http://127.0.0.1:{hook.port}/services/T000/B000/secret")
        dagrun = run_daily(load_dag("engagement_daily"), small_sample.end, mark_success_pattern=r"(?!extract_crm$).*")
        posts = hook.wait(count=2, timeout=30)
    assert task_states(dagrun)["extract_crm"] == "failed"
    task_posts = [p for p in posts if p["json"]["text"].startswith("[engagement] FAILED engagement_daily.extract_crm")]
    assert len(task_posts) == 1, [p["json"]["text"].splitlines()[0] for p in posts]
    post = task_posts[0]
    assert post["path"] == "/services/T000/B000/secret" and post["content_type"].startswith("application/json")
    assert set(post["json"]) == {"text"}
    text = post["json"]["text"]
    assert text.splitlines()[0].startswith(
        f"[engagement] FAILED engagement_daily.extract_crm for {small_sample.end}: cannot read the CRM at"
    )
    # an unreachable CRM is a transient source error (retried), named as such
    assert "Error (SourceUnavailable):" in text and "Check that the database is up" in text
    assert "Try: 1 of 1" in text and "/tasks/extract_crm?try_number=1" in text
    assert runbook_link("extract-failed") in text
    assert "hunter2-crm-secret" not in json.dumps(posts)


def test_missed_deadline_runs_the_notifier_through_airflow(monkeypatch):
    """The DAG's deadline callback, run by Airflow's own callback runner (what an executor runs when
    the scheduler finds a missed deadline), with the context the scheduler builds."""
    import structlog
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    dag = load_dag("engagement_daily")
    [alert] = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    context = {
        "dag_run": {
            "dag_id": "engagement_daily",
            "dag_run_id": "scheduled__2026-11-21T02:00:00+00:00",
            "state": "running",
            "data_interval_start": "2026-11-20T02:00:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-21T08:00:00+00:00"},
    }
    monkeypatch.setenv("ENGAGEMENT_ALERT_EMAILS", "")
    with webhook_catcher() as hook:
        monkeypatch.setenv("ENGAGEMENT_WEBHOOK_URL", f"http://127.0.0.1:{hook.port}/hook")
        ok, error = execute_callback(
            alert.callback.path,
            {**alert.callback.kwargs, "context": context},
            "engagement_daily.py",
            None,
            structlog.get_logger(),
        )
        posts = hook.wait(count=1, timeout=10)
    assert (ok, error) == (True, None)
    text = posts[0]["json"]["text"]
    assert text.startswith(
        "[engagement] LATE engagement_daily.(run) for 2026-11-20: the engagement_daily run for 2026-11-20 had not "
        "finished by 2026-11-21T08:00:00+00:00"
    )
    assert runbook_link("run-late") in text
