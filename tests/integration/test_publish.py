"""Publishing for real: SQLite and PostgreSQL warehouses, the CRM push, alert emails through a
real SMTP server, the quality gate, rollback on failure, and hostile strings that never execute."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.errors import QualityGateHeld, WarehouseError
from include.scoring.core.mailer import SmtpSettings
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.publish.alerts import AlertDeliveryError, send_alerts
from include.scoring.publish.stage import CrmNotInitialized, init_crm, publish_warehouse, push_crm
from include.scoring.publish.tables import TABLES, score_alerts
from include.scoring.publish.warehouse import read_table
from include.scoring.runner import STAGES, run_range
from tests.conftest import free_port
from tests.integration.catchers import smtp_catcher

pytestmark = pytest.mark.integration
END = date(2026, 10, 9)
HOSTILE = [
    'O\'Brien "Quoted"; DROP TABLE account_scores; --',
    "<script>alert('xss')</script> Ünïcødé Ltd 🚀",
    "Robert'); DELETE FROM score_alerts WHERE ('1'='1",
]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """40 accounts, 9 days through extract..score; three accounts with hostile names and contacts;
    the web source of the last day collapses to nothing."""
    out = tmp_path_factory.mktemp("publish")
    summary = generate(out / "sample", accounts=40, days=9, end_date=END, seed=21, volume=2.0)
    engine = sa.create_engine(summary.crm_url)
    with engine.begin() as conn:
        for i, name in enumerate(HOSTILE, start=1):
            account = f"ACC-{i:06d}"
            conn.execute(sa.text("UPDATE accounts SET name = :n WHERE account_id = :a"), {"n": name, "a": account})
            conn.execute(
                sa.text("UPDATE contacts SET first_name = :n, title = :t WHERE account_id = :a"),
                {"n": name, "t": name[::-1], "a": account},
            )
    engine.dispose()
    shutil.rmtree(out / "sample" / "landing" / "web" / END.isoformat())
    (out / "sample" / "landing" / "web" / END.isoformat()).mkdir()
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url="sqlite://",
        config_path=None,
    )
    ctx = RunContext(settings)
    run_range(ctx, summary.start, END, stages=[s for s in STAGES if s.name != "publish"], echo=lambda _: None)
    return summary, ctx


def dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).fetchall()  # fixed table names
            out[table] = sorted(tuple(None if isinstance(v, float) and v != v else v for v in r) for r in rows)
    engine.dispose()
    return out


def publish_days(ctx, url: str, days: list[date]):
    return [publish_warehouse(ctx.lake, ctx.config, url, day) for day in days]


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return request.getfixturevalue("pg_url")


def test_rerunning_a_day_leaves_identical_tables(scored, warehouse):
    summary, ctx = scored
    days = days_between(summary.start, END - timedelta(days=1))
    results = publish_days(ctx, warehouse, days)
    assert all(r.details["ledger"] == "balanced" for r in results)
    first = dump(warehouse)
    assert len(first["account_score_history"]) == 40 * len(days)
    assert len(first["account_scores"]) == 40 and len(first["pipeline_runs"]) == len(days)
    publish_days(ctx, warehouse, [days[3], days[-1]])  # re-run an older day and the latest one
    assert dump(warehouse) == first
    latest = read_table(warehouse, sa.text("SELECT account_id, as_of FROM account_scores"))
    assert set(latest["as_of"].astype(str)) == {days[-1].isoformat()}  # the older re-run did not roll it back


def test_hostile_strings_are_stored_unchanged_and_never_execute(scored, warehouse):
    summary, ctx = scored
    publish_days(ctx, warehouse, [END - timedelta(days=1)])
    names = read_table(
        warehouse,
        sa.text(
            "SELECT account_id, account_name FROM account_scores WHERE account_id IN "
            "('ACC-000001','ACC-000002','ACC-000003')"
        ),
    )
    assert sorted(names["account_name"]) == sorted(HOSTILE)
    tables = dump(warehouse)
    assert tables["account_scores"] and "score_alerts" in tables  # nothing was dropped or deleted
    contacts = ctx.lake.read_df(catalog.valid("crm/contacts"), END - timedelta(days=1))
    assert set(HOSTILE) <= set(contacts["first_name"].dropna())
    assert {h[::-1] for h in HOSTILE} <= set(contacts["title"].dropna())


def test_failure_before_commit_leaves_every_table_untouched(scored, tmp_path):
    summary, ctx = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    days = days_between(summary.start, END - timedelta(days=2))
    publish_days(ctx, url, days)
    before = dump(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the day's last write fails inside the database, before the commit
        conn.exec_driver_sql(
            "CREATE TRIGGER fail_run BEFORE INSERT ON pipeline_runs BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        )
    engine.dispose()
    with pytest.raises(Exception, match="injected failure"):
        publish_warehouse(ctx.lake, ctx.config, url, END - timedelta(days=1))
    assert dump(url) == before


def test_unreachable_warehouse_is_a_clear_error(scored):
    _, ctx = scored
    url = f"postgresql+psycopg://u:secret-pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(WarehouseError) as err:
        publish_warehouse(ctx.lake, ctx.config, url, END - timedelta(days=1))
    assert (
        "secret-pw" not in str(err.value)
        and "u:***@127.0.0.1" in str(err.value)
        and "Nothing of this write was committed" in str(err.value)
    )


def test_crm_push_needs_init_and_updates_only_changes(scored, tmp_path):
    summary, ctx = scored
    crm = tmp_path / "crm.sqlite"
    shutil.copy(summary.crm_url.removeprefix("sqlite:///"), crm)
    crm_url = f"sqlite:///{crm}"
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    days = days_between(summary.start, END - timedelta(days=1))
    publish_days(ctx, url, days[:-1])
    with pytest.raises(CrmNotInitialized, match="init-crm"):
        push_crm(ctx.lake, url, crm_url, days[-2])
    assert init_crm(crm_url) == [
        "engagement_score",
        "engagement_band",
        "engagement_trend",
        "engagement_percentile",
        "engagement_health",
        "engagement_scored_at",
    ]
    assert init_crm(crm_url) == []  # idempotent
    first = push_crm(ctx.lake, url, crm_url, days[-2])
    assert first.count("updated") == 40
    again = push_crm(ctx.lake, url, crm_url, days[-2])
    assert (again.count("updated"), again.count("unchanged")) == (0, 40)
    publish_days(ctx, url, days[-1:])
    nxt = push_crm(ctx.lake, url, crm_url, days[-1])
    scores = ctx.lake.read_df(catalog.SCORES, days[-1]).set_index("account_id")
    engine = sa.create_engine(crm_url)
    with engine.connect() as conn:
        crm_rows = pd.DataFrame(
            conn.execute(
                sa.text(
                    "SELECT account_id, name, engagement_score, engagement_band, engagement_trend, "
                    "engagement_scored_at FROM accounts"
                )
            ).fetchall(),
            columns=["account_id", "name", "score", "band", "trend", "at"],
        ).set_index("account_id")
    engine.dispose()
    assert nxt.count("updated") < 40 and nxt.count("updated") + nxt.count("unchanged") == 40
    assert (crm_rows["score"].round(2) == scores["score"].reindex(crm_rows.index).round(2)).all()
    assert (crm_rows["band"] == scores["band"].reindex(crm_rows.index)).all()
    assert crm_rows.loc["ACC-000001", "name"] == HOSTILE[0]  # the push touched only its own columns


def test_alert_emails_exactly_once_and_through_an_outage(scored, tmp_path):
    summary, ctx = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    days = days_between(summary.start, END - timedelta(days=1))
    publish_days(ctx, url, days)
    pending = read_table(url, sa.select(score_alerts).where(score_alerts.c.status == "pending"))
    assert len(pending) > 0
    port = free_port()
    down = SmtpSettings(host="127.0.0.1", port=port, sender="alerts@northwind.io")
    with pytest.raises(AlertDeliveryError, match="pending"):
        send_alerts(url, down, days[-1])
    after_outage = read_table(url, sa.select(score_alerts).where(score_alerts.c.status == "pending"))
    assert (
        len(after_outage) == len(pending)
        and (after_outage["attempts"] == 1).all()
        and after_outage["last_error"].notna().all()
    )
    with smtp_catcher(port=port) as caught:
        result = send_alerts(url, down, days[-1])
        recipients = pending["recipient"].nunique()
        messages = caught.wait(recipients)
        assert result.count("sent") == len(pending) and result.count("emails") == recipients == len(messages)
        again = send_alerts(url, down, days[-1])  # a re-run sends nothing more
        assert again.count("sent") == 0 and len(caught.messages) == recipients
    sent = read_table(url, sa.select(score_alerts))
    assert (sent.loc[sent["recipient"].notna(), "status"] == "sent").all()
    by_to = {m["X-Envelope-To"]: m for m in messages}
    assert set(by_to) == set(pending["recipient"])
    sample = pending.iloc[0]
    msg = by_to[sample["recipient"]]
    assert "need" in msg["Subject"] and "attention" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert sample["account_id"] in html and "<table" in html
    assert sample["account_id"] in text and sample["next_action"] in text and f"{sample['score_after']:.2f}" in text
    assert sample["top_signals"].split(",")[0] in text
    hostile = pending[pending["account_name"].isin(HOSTILE)]
    assert len(hostile), "the sample should give a hostile-named account an alert"
    for row in hostile.itertuples():
        body = by_to[row.recipient]
        assert row.account_name in body.get_body(("plain",)).get_content()  # unchanged in the text part
        html_part = body.get_body(("html",)).get_content()
        assert "<script>" not in html_part
        if "<script>" in row.account_name:
            assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html_part


def test_quality_gate_holds_push_and_alerts_when_web_collapses(scored, tmp_path, caplog):
    summary, ctx = scored
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    publish_days(ctx, url, days_between(summary.start, END - timedelta(days=1)))
    assert ctx.lake.row_count(catalog.valid("web"), END) == 0
    with caplog.at_level("INFO"):
        result = publish_warehouse(ctx.lake, ctx.config, url, END)
    assert result.details["gate"] == "held" and "volume: web has 0 valid events" in result.details["gate_reasons"]
    assert "quality gate held" in caplog.text and "volume: web has 0 valid events" in caplog.text
    runs = read_table(url, sa.text("SELECT day, gate_status, gate_reasons FROM pipeline_runs"))
    held = runs[runs["day"].astype(str) == END.isoformat()].iloc[0]
    assert held["gate_status"] == "held" and "web has 0 valid events" in held["gate_reasons"]
    history = read_table(
        url, sa.text("SELECT COUNT(*) AS n FROM account_score_history WHERE as_of = :d").bindparams(d=END)
    )
    assert history["n"].iloc[0] == 40  # the scores still land
    with pytest.raises(QualityGateHeld, match="volume: web has 0 valid events"):
        push_crm(ctx.lake, url, summary.crm_url, END)
    with pytest.raises(QualityGateHeld, match="alert email"):
        send_alerts(url, SmtpSettings(host="127.0.0.1", port=free_port()), END)
