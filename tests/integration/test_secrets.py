"""Secrets never leak: an SMTP password and database URLs with a password, through a real run.

The CRM and the warehouse are PostgreSQL databases reached with a password in the URL (the shared
server trusts loopback, so any password connects), alert emails go through a real SMTP server that
requires AUTH with its password. The pipeline runs from the command line (and fails on purpose
with a wrong SMTP password and an unreachable database), and as a dag.test() run of
engagement_daily. Everything is then searched for the passwords, plain and URL-encoded: stdout
and stderr, log records, every lake file (Parquet read as values, other files as bytes), the
warehouse and CRM tables, the emails, the Airflow metadata database (XCom, task instances,
asset events) and the Airflow logs folder.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from include.sample import generate
from tests.conftest import SAMPLE_END, free_port
from tests.integration.airflow_helpers import load_dag, run_daily, task_states
from tests.integration.catchers import smtp_catcher

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "S3cr3tPw-leakcheck"
SMTP_LOGIN = "alerts-bot"
SMTP_PASSWORD = "smtp/Pa55:w@rd%leak check"  # characters that URL encoding changes


def forms(secret: str) -> set[str]:
    """The secret as it could appear: plain, URL-encoded (both styles), base64."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote(secret, safe="").replace("%20", "+"),
        base64.b64encode(secret.encode()).decode(),
    }


SECRETS = forms(DB_PASSWORD) | forms(SMTP_PASSWORD)


def with_password(url: str) -> str:
    return url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{DB_PASSWORD}@", 1)


def smtp_url(port: int, password: str = SMTP_PASSWORD) -> str:
    return f"smtp://{SMTP_LOGIN}:{quote(password, safe='')}@127.0.0.1:{port}?from=alerts@northwind.io"


def leaks(where: str, text: str | bytes) -> list[str]:
    data = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
    return [f"{where}: {secret!r}" for secret in SECRETS if secret in data]


def tree_leaks(root: Path) -> list[str]:
    """Every file under root: Parquet by its values and metadata (compression hides bytes), the rest as bytes."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet" or path.name.startswith("part-"):
            try:
                table = pq.read_table(path)
            except Exception:  # noqa: BLE001 - not Parquet after all: search the bytes
                found += leaks(str(path), path.read_bytes())
                continue
            found += leaks(str(path), table.to_pandas().to_csv() + str(table.schema.metadata))
        else:
            found += leaks(str(path), path.read_bytes())
    return found


def database_leaks(url: str) -> list[str]:
    engine = sa.create_engine(url)
    found = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                rows = conn.execute(
                    sa.text(f'SELECT * FROM "{table}"')
                ).fetchall()  # table names from the database itself
                found += leaks(f"{url.split('@')[-1]} table {table}", "\n".join(map(str, rows)))
    finally:
        engine.dispose()
    return found


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.scoring", "-vv", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )


def test_cli_run_leaks_no_password_anywhere(pg_url, tmp_path):
    db_url = with_password(pg_url)
    summary = generate(
        tmp_path / "sample", accounts=20, days=3, end_date=SAMPLE_END, seed=3, crm_url=db_url, volume=3.0
    )
    lake = tmp_path / "lake"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ENGAGEMENT_LANDING": str(tmp_path / "sample" / "landing"),
        "ENGAGEMENT_CRM_URL": db_url,
        "ENGAGEMENT_LAKE": str(lake),
        "ENGAGEMENT_WAREHOUSE_URL": db_url,
        "ENGAGEMENT_HOME": str(tmp_path / "home"),
    }
    env.pop("ENGAGEMENT_SMTP_URL", None)
    assert leaks("control", db_url) and leaks("control", smtp_url(25)), (
        "the search must find the secrets where they are"
    )
    outputs = []
    with smtp_catcher(login=SMTP_LOGIN, password=SMTP_PASSWORD) as caught:
        outputs.append(cli("init-crm", env=env))
        # a run (which goes on past a failed send) and a publish (which fails) with a wrong SMTP
        # password leave the alerts pending and record the failure in the warehouse; the right one sends them
        wrong = {**env, "ENGAGEMENT_SMTP_URL": smtp_url(caught.port, password=SMTP_PASSWORD + "-wrong")}
        outputs.append(cli("run", "--start", summary.start.isoformat(), "--end", summary.end.isoformat(), env=wrong))
        assert outputs[-1].returncode == 0 and "stay pending" in outputs[-1].stderr, outputs[-1].stderr[-3000:]
        outputs.append(cli("publish", "--date", summary.end.isoformat(), env=wrong))
        assert outputs[-1].returncode == 1 and not caught.messages
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            errors = (
                conn.execute(sa.text("SELECT last_error FROM score_alerts WHERE status = 'pending'")).scalars().all()
            )
        engine.dispose()
        assert errors and all(e.startswith("SMTP") for e in errors), errors[:3]
        env["ENGAGEMENT_SMTP_URL"] = smtp_url(caught.port)
        outputs.append(cli("publish", "--date", summary.end.isoformat(), env=env))
        assert outputs[-1].returncode == 0, outputs[-1].stderr[-3000:]
        assert caught.logins and caught.messages, "the pending alerts should go out once the password is right"
        emails = list(caught.messages)
        outputs.append(cli("explain", "--account", "ACC-000001", "--date", summary.end.isoformat(), env=env))
        outputs.append(
            cli("export", "--date", summary.end.isoformat(), "--out", str(tmp_path / "exports" / "scores.csv"), env=env)
        )
    dead_db = f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    outputs.append(cli("publish", "--date", summary.end.isoformat(), env={**env, "ENGAGEMENT_WAREHOUSE_URL": dead_db}))
    assert outputs[-1].returncode == 1 and "postgres:***@127.0.0.1" in outputs[-1].stderr
    outputs.append(
        cli("extract", "--date", summary.end.isoformat(), "--source", "crm", env={**env, "ENGAGEMENT_CRM_URL": dead_db})
    )
    assert outputs[-1].returncode == 1 and "***" in outputs[-1].stderr
    found = []
    assert (
        " DEBUG " in outputs[1].stderr and "could not be emailed" in outputs[2].stderr
    )  # debug logs on, the failure reported
    for i, out in enumerate(outputs):
        found += leaks(f"command {i} stdout", out.stdout) + leaks(f"command {i} stderr", out.stderr)
    found += [leak for message in emails for leak in leaks(f"email to {message['X-Envelope-To']}", message.as_bytes())]
    found += tree_leaks(tmp_path / "lake") + tree_leaks(tmp_path / "exports") + tree_leaks(tmp_path / "home")
    found += database_leaks(db_url)
    assert found == []


def test_daily_dag_leaks_no_password_to_logs_xcom_or_the_lake(
    airflow_db, small_sample, settings_env, pg_url, tmp_path, monkeypatch, caplog, capfd
):
    from include.scoring.publish.stage import init_crm

    sample = tmp_path / "sample"
    shutil.copytree(small_sample.out, sample)
    crm_url = f"sqlite:///{sample / 'crm.sqlite'}"
    settings = settings_env(sample, crm_url)
    init_crm(crm_url)
    db_url = with_password(pg_url)
    monkeypatch.setenv("ENGAGEMENT_WAREHOUSE_URL", db_url)
    caplog.set_level("DEBUG")
    with smtp_catcher(login=SMTP_LOGIN, password=SMTP_PASSWORD) as caught:
        monkeypatch.setenv("ENGAGEMENT_SMTP_URL", smtp_url(caught.port))
        dagrun = run_daily(load_dag("engagement_daily"), small_sample.end)
        states = task_states(dagrun)
        assert set(states.values()) == {"success"}, states
        assert caught.logins and caught.messages
        emails = list(caught.messages)
    out, err = capfd.readouterr()
    home = Path(os.environ["AIRFLOW_HOME"])
    assert "account scores" in out + err + caplog.text, "the tasks' log lines should have been captured"
    found = leaks("stdout", out) + leaks("stderr", err) + leaks("log records", caplog.text)
    found += [leak for r in caplog.records for leak in leaks(f"log record {r.name}", repr(r.args))]
    found += [leak for message in emails for leak in leaks("alert email", message.as_bytes())]
    found += tree_leaks(Path(settings.lake)) + tree_leaks(home / "logs")  # rglob of a missing folder finds nothing
    found += database_leaks(db_url)
    metadata = f"sqlite:///{home / 'airflow.db'}"
    found += database_leaks(metadata)  # xcom, task_instance, rendered fields, asset events, logs table
    engine = sa.create_engine(metadata)
    with engine.connect() as conn:
        xcoms = conn.execute(
            sa.text("SELECT task_id, value FROM xcom WHERE run_id = :r"), {"r": dagrun.run_id}
        ).fetchall()
    engine.dispose()
    assert len(xcoms) >= 5, "the run's task results should be in XCom"
    assert found == []


def test_settings_repr_hides_every_url_password():
    """A Settings object in a log line, a traceback or a test report shows no password."""
    from include.scoring.core.settings import Settings

    settings = Settings(
        landing="/landing",
        crm_url=f"postgresql+psycopg://crm:{DB_PASSWORD}@db/crm",
        lake=f"s3://key:{quote(SMTP_PASSWORD, safe='')}@bucket/lake",
        warehouse_url=f"postgresql+psycopg://postgres:{DB_PASSWORD}@db/wh",
        config_path=None,
        smtp_url=smtp_url(25),
    )
    shown = repr(settings)
    assert leaks("repr", shown) == [] and leaks("str", str(settings)) == []
    assert (
        "crm:***@db/crm" in shown
        and "postgres:***@db/wh" in shown
        and f"{SMTP_LOGIN}:***@127.0.0.1:25" in shown
        and "key:***@bucket" in shown
    )
    assert settings.warehouse_url.endswith(f":{DB_PASSWORD}@db/wh")  # the value itself is intact
