"""Failure notices: what they say, where they go, and that a broken channel never raises."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from include.airflow_glue import channels as alert_channels
from include.airflow_glue.channels import Channels, SmtpSettings, resolve_channels, smtp_from_url
from include.airflow_glue.notifier import (
    DAG_RUN_SECTION,
    DEADLINE_SECTION,
    GENERAL_SECTION,
    RUNBOOK_SECTIONS,
    TIMEOUT_SECTION,
    EngagementFailureNotifier,
    build_notice,
    deliver,
    runbook_section,
)
from include.scoring.core import errors
from include.scoring.core.config import DEFAULT_CONFIG_PATH, load_config
from tests.conftest import free_port
from tests.integration.catchers import webhook_catcher

ROOT = Path(__file__).resolve().parents[3]
MULTILINE = (
    "web 2026-11-20: 41% of rows failed <checks> & more (max 20%)\n  - email_syntax: 300 rows, e.g. "
    "'a@'\nFix the export upstream, then clear validate_web."
)


def task_context(error: BaseException | None, try_number: int = 3, max_tries: int = 2) -> dict:
    ti = SimpleNamespace(
        dag_id="engagement_daily",
        task_id="validate_web",
        try_number=try_number,
        max_tries=max_tries,
        log_url="http://airflow.example:8080/dags/engagement_daily/runs/r1/tasks/validate_web?try_number=3",
    )
    return {
        "task_instance": ti,
        "ti": ti,
        "exception": error,
        "run_id": "scheduled__2026-11-21T02:00:00+00:00",
        "data_interval_start": datetime(2026, 11, 20, 2, tzinfo=UTC),
    }


@pytest.fixture(autouse=True)
def no_channel_env(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080/")
    for var in (
        "ENGAGEMENT_ALERT_EMAILS",
        "ENGAGEMENT_WEBHOOK_URL",
        "ENGAGEMENT_SMTP_URL",
        "ENGAGEMENT_RUNBOOK_URL",
        "ENGAGEMENT_CONFIG",
        "AIRFLOW_CONN_ENGAGEMENT_SMTP",
    ):
        monkeypatch.delenv(var, raising=False)


def test_task_notice_subject_and_body():
    notice = build_notice(task_context(errors.BatchValidationError(MULTILINE)))
    assert (
        notice.subject
        == "[engagement] FAILED engagement_daily.validate_web for 2026-11-20: web 2026-11-20: 41% of rows failed "
        "<checks> & more (max 20%)"
    )
    assert "Error (BatchValidationError):\n" + MULTILINE + "\n" in notice.text
    assert "Try: 3 of 3" in notice.text
    assert (
        "Log: http://airflow.example:8080/dags/engagement_daily/runs/r1/tasks/validate_web?try_number=3" in notice.text
    )
    assert "Runbook: http://airflow.example:8080/engagement/runbook#batch-validation-failed" in notice.text
    assert "Data Docs: http://airflow.example:8080/engagement/data-docs/2026-11-20/web" in notice.text
    assert "Day: 2026-11-20" in notice.text and "Run: scheduled__2026-11-21T02:00:00+00:00" in notice.text


def test_validate_shard_notice_links_its_source_data_docs():
    context = task_context(errors.LakeError("lake file unreadable"))
    context["ti"].task_id = "validate_ad_shard"  # a mapped validate shard of the ad source
    notice = build_notice(context)
    assert "Data Docs: http://airflow.example:8080/engagement/data-docs/2026-11-20/ad\n" in notice.text


def test_html_body_escapes_everything():
    notice = build_notice(task_context(errors.BatchValidationError(MULTILINE + "\n<script>alert(1)</script>")))
    assert "<script>" not in notice.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in notice.html
    assert "&lt;checks&gt; &amp; more" in notice.html and "e.g. &#x27;a@&#x27;" in notice.html
    assert (
        '<a href="http://airflow.example:8080/dags/engagement_daily/runs/r1/tasks/validate_web?try_number=3">'
        in notice.html
    )


def test_passwords_in_urls_are_hidden():
    error = errors.ExtractError(
        "cannot read the CRM at postgresql://crm:hunter2pw@db:5432/crm: refused\nCheck the connection."
    )
    notice = build_notice(task_context(error))
    for part in (notice.subject, notice.text, notice.html):
        assert "hunter2pw" not in part
    assert "postgresql://crm:***@db:5432/crm" in notice.text


def test_task_without_exception_still_notifies():
    notice = build_notice(task_context(None, try_number=1, max_tries=0))
    assert notice.subject.startswith(
        "[engagement] FAILED engagement_daily.validate_web for 2026-11-20: the task failed without an exception"
    )
    assert "Try: 1 of 1" in notice.text and f"#{GENERAL_SECTION}" in notice.text


@pytest.mark.parametrize(("name", "anchor"), RUNBOOK_SECTIONS)
def test_runbook_section_by_error_type(name, anchor):
    assert runbook_section(getattr(errors, name)("x")) == anchor


def test_runbook_section_fallbacks():
    from airflow.sdk.exceptions import AirflowTaskTimeout

    assert runbook_section(RuntimeError("boom")) == GENERAL_SECTION
    assert runbook_section(None) == GENERAL_SECTION
    assert runbook_section(AirflowTaskTimeout("2h")) == TIMEOUT_SECTION


def test_every_runbook_anchor_is_a_heading_of_the_runbook():
    text = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    slugs = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,3} (.+)$", text, re.M)
    }
    anchors = {a for _, a in RUNBOOK_SECTIONS} | {TIMEOUT_SECTION, DAG_RUN_SECTION, DEADLINE_SECTION, GENERAL_SECTION}
    assert anchors <= slugs, anchors - slugs


def test_runbook_base_url_from_environment(monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_RUNBOOK_URL", "https://git.example/eng/blob/main/docs/runbook.md")
    notice = build_notice(task_context(errors.QualityGateHeld("volume ratio 0.05 < 0.3")))
    assert "Runbook: https://git.example/eng/blob/main/docs/runbook.md#quality-gate-held" in notice.text
    assert '<a href="https://git.example/eng/blob/main/docs/runbook.md#quality-gate-held">' in notice.html


def test_dag_run_notice():
    ctx = {**task_context(None), "reason": "task_failure"}
    notice = build_notice(ctx)
    assert notice.subject == "[engagement] RUN FAILED engagement_daily.validate_web for 2026-11-20: task_failure"
    assert (
        f"#{DAG_RUN_SECTION}" in notice.text
        and "/dags/engagement_daily/runs/scheduled__2026-11-21T02%3A00%3A00%2B00%3A00" in notice.text
    )


def test_deadline_notice_from_the_scheduler_context():
    """The shape Deadline.handle_miss gives callbacks: the run as JSON and the deadline."""
    ctx = {
        "dag_run": {
            "dag_id": "engagement_daily",
            "dag_run_id": "scheduled__2026-11-21T02:00:00+00:00",
            "state": "running",
            "data_interval_start": "2026-11-20T02:00:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": datetime(2026, 11, 21, 8, tzinfo=UTC)},
    }
    notice = build_notice(ctx)
    assert notice.subject.startswith(
        "[engagement] LATE engagement_daily.(run) for 2026-11-20: the engagement_daily run for 2026-11-20 had not "
        "finished by 2026-11-21T08:00:00+00:00"
    )
    assert "(state: running)" in notice.text and f"#{DEADLINE_SECTION}" in notice.text


def test_channels_from_config_then_environment(monkeypatch, tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["notifications"] = {
        "email_to": ["team@example.com"],
        "webhook_url": "https://hooks.example/T/B/x",
        "manager_email": None,
    }
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(config))
    load_config(path)  # a broken shipped config fails here, with its own message
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(path))
    monkeypatch.setenv(
        "ENGAGEMENT_SMTP_URL", "smtp://alerts:p%40ss%3Aword@mail.example:2525?starttls=true&from=airflow@example.com"
    )
    channels = resolve_channels()
    assert channels.emails == ("team@example.com",) and channels.webhook_url == "https://hooks.example/T/B/x"
    assert channels.smtp == SmtpSettings(
        host="mail.example",
        port=2525,
        login="alerts",
        password="p@ss:word",
        starttls=True,
        sender="airflow@example.com",
    )
    assert "p@ss:word" not in repr(channels) and "p@ss" not in channels.smtp.describe()
    monkeypatch.setenv("ENGAGEMENT_ALERT_EMAILS", " a@example.com, b@example.com ,")
    monkeypatch.setenv("ENGAGEMENT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    channels = resolve_channels()
    assert channels.emails == ("a@example.com", "b@example.com") and channels.webhook_url == "http://127.0.0.1:9/hook"
    monkeypatch.setenv("ENGAGEMENT_ALERT_EMAILS", "")
    assert resolve_channels().emails == ()


def test_broken_config_falls_back_to_environment_channels(monkeypatch, tmp_path, caplog):
    path = tmp_path / "broken.yaml"
    path.write_text("version: [unclosed\n")
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(path))
    monkeypatch.setenv("ENGAGEMENT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    with caplog.at_level(logging.WARNING):
        channels = resolve_channels()
    assert channels.webhook_url == "http://127.0.0.1:9/hook" and channels.emails == ()
    assert "project config not loaded" in caplog.text


def test_smtp_url_must_be_smtp():
    with pytest.raises(ValueError, match="scheme 'http'") as info:
        smtp_from_url("http://user:topsecret@mail.example:25")
    assert "topsecret" not in str(info.value)
    assert smtp_from_url("smtps://mail.example").port == 465 and smtp_from_url("smtps://mail.example").use_ssl


def test_failing_channels_never_raise(caplog):
    """SMTP refuses the connection, the webhook answers 500: both logged, nothing raised."""
    notice = build_notice(task_context(errors.LakeError("partition missing")))
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), login="alerts", password="never-logged-pw")
    with webhook_catcher(status=500) as hook, caplog.at_level(logging.WARNING):
        url = f"http://127.0.0.1:{hook.port}/hook"
        results = deliver(notice, Channels(emails=("oncall@example.com",), webhook_url=url, smtp=smtp))
        EngagementFailureNotifier(channels=Channels(emails=("x@example.com",), webhook_url=url, smtp=smtp))(
            task_context(RuntimeError("boom"))
        )
    assert results == {"email": False, "webhook": False}
    assert len(hook.messages) == 2  # the webhook was reached both times, and failed
    assert (
        "email via smtp://alerts@127.0.0.1" in caplog.text
        and "webhook http://127.0.0.1 failed: HTTPError" in caplog.text
    )
    assert "never-logged-pw" not in caplog.text


def test_unresolvable_channels_never_raise(monkeypatch, caplog):
    def broken():
        raise RuntimeError("secrets backend down")

    monkeypatch.setattr(alert_channels, "resolve_channels", broken)
    with caplog.at_level(logging.WARNING):
        assert deliver(build_notice(task_context(RuntimeError("boom")))) == {}
    assert "could not resolve channels" in caplog.text


def test_bad_context_still_sends_a_notice(monkeypatch):
    sent = []
    monkeypatch.setattr("include.airflow_glue.notifier.deliver", lambda notice, channels=None: sent.append(notice))
    EngagementFailureNotifier()({"task_instance": object(), "data_interval_start": "not a date"})
    assert len(sent) == 1 and sent[0].subject.startswith("[engagement] FAILED")


def test_deadline_setting(monkeypatch):
    from airflow.sdk import DeadlineReference

    from include.airflow_glue.dag_support import DEFAULT_DEADLINE_HOURS, run_deadline

    monkeypatch.setenv("ENGAGEMENT_DEADLINE_HOURS", "1.5")
    alert = run_deadline()
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval.total_seconds() == 5400
    assert alert.callback.path == "include.airflow_glue.notifier.EngagementFailureNotifier"
    monkeypatch.setenv("ENGAGEMENT_DEADLINE_HOURS", "soon")
    assert run_deadline().interval.total_seconds() == DEFAULT_DEADLINE_HOURS * 3600


def test_a_data_error_failed_at_once_is_reported_as_itself():
    """Data errors reach the notifier wrapped in AirflowFailException (no retries): the notice
    still names our error, its runbook section and, for a validation task, its Data Docs page."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.airflow_glue.dag_support import data_errors_fail_fast

    with pytest.raises(AirflowFailException) as caught, data_errors_fail_fast():
        raise errors.BatchValidationError(MULTILINE)
    assert str(caught.value) == MULTILINE
    notice = build_notice(task_context(caught.value, try_number=1, max_tries=2))
    assert "Error (BatchValidationError):\n" + MULTILINE in notice.text
    assert "#batch-validation-failed" in notice.text and "Try: 1 of 3" in notice.text
    assert "/engagement/data-docs/2026-11-20/web" in notice.text


@pytest.mark.parametrize(
    "error",
    [
        errors.WarehouseUnavailable("warehouse unreachable"),
        errors.SourceUnavailable("cannot read the CRM"),
        errors.AlertDeliveryError("smtp down"),
        ConnectionError("reset"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors_keep_their_retries(error):
    from include.airflow_glue.dag_support import data_errors_fail_fast

    with pytest.raises(type(error)), data_errors_fail_fast():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        errors.ExtractError("bad file"),
        errors.BatchValidationError("bad batch"),
        errors.ConfigError("bad config"),
        errors.QualityGateHeld("held"),
        errors.WarehouseError("schema newer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_data_and_config_errors_fail_without_retries(error):
    from airflow.sdk.exceptions import AirflowFailException

    from include.airflow_glue.dag_support import data_errors_fail_fast

    with pytest.raises(AirflowFailException), data_errors_fail_fast():
        raise error


def test_every_task_log_starts_with_the_day(caplog):
    from include.airflow_glue.dag_support import announce_day

    ctx = {**task_context(None), "data_interval_end": datetime(2026, 11, 21, 2, tzinfo=UTC)}
    with caplog.at_level(logging.INFO, logger="include.airflow_glue.dag_support"):
        announce_day(ctx)
    assert caplog.messages == [
        "validate_web processes day 2026-11-20 (data interval 2026-11-20 02:00 to 2026-11-21 02:00 UTC; "
        "run scheduled__2026-11-21T02:00:00+00:00)"
    ]


def test_the_run_note_names_the_day_it_processes():
    from include.airflow_glue.run_note import RunDayNote

    def run(dag_id="engagement_daily", note=None):
        return SimpleNamespace(
            dag_id=dag_id,
            run_id="manual__2026-12-02T03:00:00+00:00",
            note=note,
            data_interval_start=datetime(2026, 12, 1, 2, tzinfo=UTC),
            data_interval_end=datetime(2026, 12, 2, 2, tzinfo=UTC),
        )

    listener = RunDayNote()
    manual, other, noted = run(), run("other_dag"), run(note="rerun after the CRM fix")
    for dag_run in (manual, other, noted):
        listener.on_dag_run_running(dag_run, "started")
    assert manual.note == (
        "processes day 2026-12-01 (data interval 2026-12-01 02:00 to 2026-12-02 02:00 UTC; "
        "run manual__2026-12-02T03:00:00+00:00)"
    )
    assert other.note is None and noted.note == "rerun after the CRM fix"


def test_no_deadline_under_airflow_dags_test():
    """`airflow dags test` of a green daily run ended in a traceback (exit 1): Airflow 3.3.2 looks the
    deadline alerts of the in-process DAG up by an id they do not have."""
    from include.airflow_glue.dag_support import in_dags_test

    assert in_dags_test(["/x/.venv/bin/airflow", "dags", "test", "engagement_daily", "2026-12-03T02:00:00+00:00"])
    assert in_dags_test(["/x/airflow/__main__.py", "dags", "test", "engagement_daily"])
    assert not in_dags_test(["/x/.venv/bin/airflow", "scheduler"])
    assert not in_dags_test(["/x/.venv/bin/airflow", "dags", "trigger", "engagement_daily"])
    assert not in_dags_test(["pytest", "dags", "test"])


def test_peak_memory_follows_what_the_task_process_touched():
    """The figure a task log ends with is the process's own high-water mark: it grows by what the
    task touched (here 300 MB written), not a figure inherited or guessed."""
    import subprocess
    import sys

    code = (
        "from include.scoring.core.memory import peak_memory_mb\n"
        "before = peak_memory_mb()\n"
        "block = b'x' * (300 * 1024 * 1024)\n"
        "print(before, peak_memory_mb())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    before, after = map(int, out.stdout.split())
    assert 290 <= after - before <= 330, (before, after)
