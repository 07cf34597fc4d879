"""Alert delivery for real: the outbox folder when no SMTP server is configured, expiry of old
alerts, crossings without a recipient, exactly once when two publishes of one day race, and a
re-publish that keeps what the CRM push recorded."""

from __future__ import annotations

import email
import email.policy
import shutil
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
import yaml

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core import mailer
from include.scoring.core.config import DEFAULT_CONFIG_PATH
from include.scoring.core.settings import Settings
from include.scoring.lake.store import days_between
from include.scoring.publish.alerts import send_alerts
from include.scoring.publish.stage import init_crm, publish_stage, publish_warehouse, push_crm
from include.scoring.publish.tables import pipeline_runs, schema_info, score_alerts
from include.scoring.publish.warehouse import read_table
from include.scoring.runner import STAGES, run_range
from tests.integration.catchers import Hold, smtp_catcher

pytestmark = pytest.mark.integration
END = date(2026, 10, 9)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """40 accounts, 9 days through extract..score (nothing published yet)."""
    out = tmp_path_factory.mktemp("alerts")
    summary = generate(out / "sample", accounts=40, days=9, end_date=END, seed=21)
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["quality_gate"]["min_volume_ratio"] = 0.0  # the small sample's weekend dips never hold the gate
    (out / "engagement.yaml").write_text(yaml.safe_dump(config))
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url="sqlite://",
        config_path=str(out / "engagement.yaml"),
    )
    run_range(
        RunContext(settings), summary.start, END, stages=[s for s in STAGES if s.name != "publish"], echo=lambda _: None
    )
    return summary, settings


@pytest.fixture
def home(monkeypatch, tmp_path):
    """ENGAGEMENT_HOME of this test: its outbox folder is <tmp>/home/outbox."""
    monkeypatch.setenv("ENGAGEMENT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return request.getfixturevalue("pg_url")


def context(settings: Settings, tmp_path, warehouse_url: str, smtp_url: str | None = None) -> RunContext:
    """A run context on a copy of the sample CRM (initialised), a warehouse and maybe SMTP."""
    crm = tmp_path / "crm.sqlite"
    if not crm.exists():
        shutil.copyfile(settings.crm_url.removeprefix("sqlite:///"), crm)
        init_crm(f"sqlite:///{crm}")
    return RunContext(
        settings.with_(crm_url=f"sqlite:///{crm}", warehouse_url=warehouse_url, smtp_url=smtp_url or None)
    )


def alerts(url: str):
    return read_table(url, sa.select(score_alerts))


def test_without_smtp_alerts_go_to_the_outbox_and_publish_succeeds(scored, tmp_path, home):
    summary, settings = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    ctx = context(settings, tmp_path, url)
    days = days_between(summary.start, END - timedelta(days=1))
    for day in days:
        publish_stage(ctx, day, strict=True)  # strict, as `publish --date D` and the DAG: no error
    rows = alerts(url)
    addressed = rows[rows["recipient"].notna()]
    assert len(addressed) > 0 and set(addressed["status"]) == {"outbox"}
    assert addressed["sent_at"].notna().all() and addressed["claim_id"].isna().all()
    files = sorted((home / "outbox").glob("*.eml"))
    messages = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert {m["To"] for m in messages} == set(addressed["recipient"])
    for row in addressed.itertuples():  # each alert in exactly one email, to its recipient
        rule = str(row.rule or "")
        if rule.startswith("health_"):  # a customer going quiet, not a score crossing
            what = f"customer health {rule.removeprefix('health_').replace('_', ' ')}"
        else:
            what = f"above {row.threshold:g}"
        line = f"({row.account_id}): {what} on {row.crossing_day}"
        holding = [m for m in messages if line in m.get_body(("plain",)).get_content()]
        assert [m["To"] for m in holding] == [row.recipient], line
    assert all("attention" in m["Subject"] for m in messages)
    assert all(m["X-Engagement-Outbox"] == "not sent: no SMTP server configured" for m in messages)
    assert not list((home / "outbox").glob(".*.tmp"))  # written to a temporary name and renamed
    publish_stage(ctx, days[-1], strict=True)  # a re-run delivers nothing twice
    assert len(list((home / "outbox").glob("*.eml"))) == len(files)


def test_old_alerts_expire_unsent_and_crossings_without_recipient_are_counted(scored, tmp_path, home):
    summary, settings = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    ctx = context(settings, tmp_path, url)
    days = days_between(summary.start, END - timedelta(days=1))
    for day in days:
        publish_warehouse(ctx.lake, ctx.config, url, day)  # no send yet: SMTP "was down" all along
    before = alerts(url)
    # the send runs as of the last day with a crossing nobody is named to receive (crossings after it wait)
    unaddressed = before.loc[before["status"] == "no_recipient", "crossing_day"]
    assert len(unaddressed), "the sample has crossings without a recipient"
    last = max(unaddressed)
    cutoff = last - timedelta(days=2)
    pending = before[(before["status"] == "pending") & (before["crossing_day"] <= last)]
    stale = pending[pending["crossing_day"] < cutoff]
    fresh = pending[pending["crossing_day"] >= cutoff]
    nobody = before[(before["status"] == "no_recipient") & (before["crossing_day"] == last)]
    assert len(stale) and len(fresh) and len(nobody), "the sample has old, recent and unaddressed crossings"
    result = send_alerts(url, None, last, max_age_days=2)
    after = alerts(url).set_index(["account_id", "threshold", "crossing_day"])
    assert result.count("expired") == len(stale) and result.count("sent") == len(fresh)
    assert result.count("no_recipient") == len(nobody) and result.count("pending") == 0
    expired = after.loc[[tuple(k) for k in stale[["account_id", "threshold", "crossing_day"]].to_numpy()]]
    assert set(expired["status"]) == {"expired"} and expired["sent_at"].isna().all()
    assert expired["last_error"].str.contains("alerts.max_age_days").all()
    assert "expired unsent" in result.line() and "without a recipient" in result.line()
    assert any("expired unsent" in w for w in result.warnings)
    messages = [email.message_from_bytes(f.read_bytes()) for f in (home / "outbox").glob("*.eml")]
    assert {m["To"] for m in messages} == set(fresh["recipient"])  # nothing expired was written


def test_two_publishes_of_one_day_at_once_send_each_alert_once(scored, tmp_path, warehouse, monkeypatch):
    """A retry racing a manual re-run: A claims the alerts and is slow to send (the SMTP server
    holds its first message); B publishes the same day from start to end meanwhile. Nobody gets
    an alert twice, and B's CRM push (nothing left to change) does not reset crm_pushed."""
    summary, settings = scored
    monkeypatch.setattr(mailer, "SMTP_TIMEOUT_SECONDS", 600)  # A waits for the held answer
    days = days_between(summary.start, END - timedelta(days=1))
    hold = Hold()
    with smtp_catcher(hold=hold) as caught:
        ctx = context(settings, tmp_path, warehouse, f"smtp://127.0.0.1:{caught.port}?from=alerts@northwind.io")
        for day in days[:-1]:
            publish_warehouse(ctx.lake, ctx.config, warehouse, day)
        day = days[-1]
        outcome: dict[str, object] = {}

        def first_publish():
            try:
                outcome["a"] = publish_stage(ctx, day, strict=True)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["a"] = exc

        a = threading.Thread(target=first_publish)
        a.start()
        assert hold.arrived.wait(300), "publish A never reached the SMTP server"
        second = publish_stage(context(settings, tmp_path, warehouse, ctx.settings.smtp_url), day, strict=True)
        hold.release.set()
        a.join(300)
        assert not a.is_alive() and isinstance(outcome["a"], list), outcome.get("a")
    rows = alerts(warehouse)
    addressed = rows[rows["recipient"].notna()]
    assert len(addressed) > 1 and set(addressed["status"]) == {"sent"}
    recipients = [m["X-Envelope-To"] for m in caught.messages]
    assert sorted(recipients) == sorted(addressed["recipient"].unique())  # one email each, none twice
    assert second[-1].count("sent") == 0
    pushed = outcome["a"][1].count("updated")
    assert pushed > 0 and second[1].count("updated") == 0
    runs = read_table(warehouse, sa.select(pipeline_runs.c.day, pipeline_runs.c.crm_pushed))
    assert runs.loc[runs["day"] == day, "crm_pushed"].item() == pushed


def test_republishing_an_older_day_keeps_crm_pushed(scored, tmp_path, warehouse, home):
    summary, settings = scored
    ctx = context(settings, tmp_path, warehouse)
    days = days_between(summary.start, END - timedelta(days=1))
    for day in days:
        publish_warehouse(ctx.lake, ctx.config, warehouse, day)
        push_crm(ctx.lake, warehouse, ctx.settings.crm_url, day)
    before = read_table(warehouse, sa.select(pipeline_runs.c.day, pipeline_runs.c.crm_pushed)).set_index("day")
    older = days[-3]
    assert before.loc[older, "crm_pushed"] > 0
    publish_warehouse(ctx.lake, ctx.config, warehouse, older)  # a backfill, or recovery after a crash
    after = read_table(warehouse, sa.select(pipeline_runs.c.day, pipeline_runs.c.crm_pushed)).set_index("day")
    assert after["crm_pushed"].to_dict() == before["crm_pushed"].to_dict()


def test_a_warehouse_of_schema_version_1_gains_the_claim_columns(scored, tmp_path, home):
    summary, settings = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    ctx = context(settings, tmp_path, url)
    days = days_between(summary.start, END - timedelta(days=1))
    for day in days[:-1]:
        publish_warehouse(ctx.lake, ctx.config, url, day)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # what a warehouse written by the previous release looks like
        conn.exec_driver_sql("ALTER TABLE score_alerts DROP COLUMN claim_id")
        conn.exec_driver_sql("ALTER TABLE score_alerts DROP COLUMN claimed_at")
        conn.execute(schema_info.update().values(value="1"))
    publish_stage(ctx, days[-1], strict=True)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("score_alerts")}
        version = conn.execute(sa.select(schema_info.c.value)).scalar_one()
    engine.dispose()
    assert {"claim_id", "claimed_at"} <= columns and version == "2"
    assert set(alerts(url).dropna(subset=["recipient"])["status"]) == {"outbox"}
