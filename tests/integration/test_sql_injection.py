"""Hostile strings through every database write, on SQLite and the real PostgreSQL.

The CRM of a generated sample carries SQL, driver placeholders (%s, :name, $1), COPY escapes
(backslashes, \\N, tabs, line breaks), quotes and unicode in account names, an account id, owner
and SDR emails, a contact, activity notes and a domain; the web landing files carry them in urls
and referrers; the config version too. The pipeline runs for real, then each write is checked:
the warehouse publish (account_scores, history, explanations, alerts, pipeline_runs) through
executemany and, with the COPY threshold lowered, through PostgreSQL COPY; the CRM push into a
SQLite and a PostgreSQL CRM; the `forget` audit row (requested_by). Every value must come back
exactly as written and every table must still be there.

The calibration report writes files only (HTML, PDF, JSON, YAML), never a database: its escaping
is tested in test_html_escaping.py.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.privacy.forget import forget
from include.scoring.publish import warehouse
from include.scoring.publish.stage import init_crm, publish_warehouse, push_crm
from include.scoring.publish.tables import TABLES
from include.scoring.runner import STAGES, run_range
from tests.integration.hostile import (
    HOSTILE_CONTACT,
    HOSTILE_DOMAIN,
    HOSTILE_ID,
    HOSTILE_NOTE,
    HOSTILE_OWNER,
    HOSTILE_REFERRER,
    HOSTILE_SDR,
    HOSTILE_URL,
    HOSTILE_VERSION,
    SQL_STRINGS,
    XSS,
    plant,
)

pytestmark = pytest.mark.integration
END = date(2026, 10, 9)
DAYS = 6
NO_PUBLISH = [s for s in STAGES if s.name != "publish"]
CRM_TABLES = ("accounts", "contacts", "activities", "opportunities")
#: requested_by of the erasure: free text from the command line or the environment
REQUESTER = "dpo'); DROP TABLE privacy_erasures; -- %s :who $1 \\N Ünï 🚀"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """24 accounts over 6 days with hostile strings everywhere, through extract..score."""
    out = tmp_path_factory.mktemp("sql-injection")
    summary = generate(out / "sample", accounts=24, days=DAYS, end_date=END, seed=11, volume=2.0)
    # most accounts get one, so alerts carry them too; a name with a control character (tab, newline)
    # is quarantined by validation (test_crm_contract_limits.py), so it never reaches a warehouse write
    printable = [text for text in SQL_STRINGS if not any(ord(c) < 32 or ord(c) == 127 for c in text)]
    names = [*printable, XSS, *printable]
    planted = plant(summary.crm_url, out / "sample" / "landing", names, out / "config")
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url="sqlite://",
        config_path=str(planted.config_path),
    )
    ctx = RunContext(settings)
    run_range(ctx, summary.start, END, stages=NO_PUBLISH, echo=lambda _: None)
    return summary, ctx, planted, out


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-copy"])
def backend(request, tmp_path, monkeypatch):
    """A fresh warehouse URL; `postgresql-copy` sends every write through COPY (threshold 1)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    if request.param == "postgresql-copy":
        monkeypatch.setattr(warehouse, "COPY_THRESHOLD", 1)
    return request.getfixturevalue("pg_url")


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def read(url: str, table: sa.Table) -> pd.DataFrame:
    return warehouse.read_table(url, sa.select(table))


def publish_all(ctx, url: str, summary) -> None:
    for day in days_between(summary.start, END):
        publish_warehouse(ctx.lake, ctx.config, url, day)


def test_lake_keeps_hostile_urls_referrers_notes_and_quarantines_the_bad_domain(scored):
    summary, ctx, planted, _ = scored
    web = pd.concat([ctx.lake.read_df(catalog.valid("web"), d) for d in days_between(summary.start, END)])
    assert len(planted.urls) >= DAYS
    assert set(web.loc[web["event_id"].isin(planted.urls), "url"]) == {HOSTILE_URL} and web["event_id"].isin(
        planted.urls
    ).sum() == len(planted.urls)
    assert (web["referrer"] == HOSTILE_REFERRER).sum() == len(planted.urls)
    activities = ctx.lake.read_df(catalog.valid("crm/activities"), END)
    assert len(activities) and set(activities["notes"]) == {HOSTILE_NOTE}
    quarantine = ctx.lake.read_df(catalog.quarantine("crm/accounts"), END)
    bad = quarantine[quarantine["account_id"] == planted.quarantined_account]
    assert list(bad["domain"]) == [HOSTILE_DOMAIN] and "domain_syntax" in bad["failed_checks"].iloc[0]


def test_every_warehouse_write_stores_hostile_strings_exactly(scored, backend):
    summary, ctx, planted, _ = scored
    publish_all(ctx, backend, summary)
    publish_warehouse(ctx.lake, ctx.config, backend, END)  # a re-run goes through the upserts' conflict path
    assert set(TABLES) <= table_names(backend)

    scores = ctx.lake.read_df(catalog.SCORES, END)
    current = read(backend, warehouse.account_scores)
    assert len(current) == len(scores)
    text_columns = [
        "account_id",
        "account_name",
        "owner_email",
        "sdr_email",
        "next_action",
        "config_version",
        "band",
        "trend",
        "last_touch_signal",
    ]
    expected = scores[text_columns].sort_values("account_id").reset_index(drop=True)
    got = current[text_columns].sort_values("account_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.astype(object).where(got.notna(), None),
        expected.astype(object).where(expected.notna(), None),
        check_dtype=False,
    )
    names = dict(zip(current["account_id"], current["account_name"]))
    for account, name in planted.names.items():
        assert names[account] == name, account
    assert HOSTILE_ID in names and planted.quarantined_account not in names
    assert set(current["owner_email"]) == {HOSTILE_OWNER} and set(current["sdr_email"]) == {HOSTILE_SDR}
    assert set(current["config_version"]) == {HOSTILE_VERSION}

    history = read(backend, warehouse.account_score_history)
    assert len(history) == len(scores) * DAYS and set(history["account_name"]) == set(scores["account_name"])
    runs = read(backend, warehouse.pipeline_runs)
    assert len(runs) == DAYS and set(runs["config_version"]) == {HOSTILE_VERSION}

    alerts = read(backend, warehouse.score_alerts)
    assert len(alerts), "the sample should give alerts"
    assert set(alerts["account_name"]) <= set(scores["account_name"]) and set(alerts["account_name"]) & set(SQL_STRINGS)
    assert set(alerts["recipient"].dropna()) <= {HOSTILE_OWNER, HOSTILE_SDR}
    changes = pd.concat([ctx.lake.read_df(catalog.CHANGES, d) for d in days_between(summary.start, END)])
    assert len(alerts) == int((changes["kind"] == "alert").sum())

    explanations = read(backend, warehouse.account_explanations)
    ledger = ctx.lake.read_df(catalog.STATE_LEDGER, END)
    persons = ctx.lake.read_df(catalog.STATE_PERSONS, END)
    signal_rows = explanations[explanations["kind"] == "signal"]
    assert sorted(zip(signal_rows["account_id"], signal_rows["key"])) == sorted(
        zip(ledger["account_id"], ledger["signal"])
    )
    person_rows = explanations[explanations["kind"] == "person"]
    assert sorted(zip(person_rows["account_id"], person_rows["key"])) == sorted(
        zip(persons["account_id"], persons["person_key"])
    )


@pytest.mark.parametrize("crm", ["sqlite", "postgresql"])
def test_crm_push_updates_the_hostile_id_and_leaves_hostile_names_untouched(scored, crm, tmp_path, request):
    summary, ctx, planted, _ = scored
    wh = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    publish_all(ctx, wh, summary)
    if crm == "sqlite":
        crm_url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
        shutil.copy(summary.crm_url.removeprefix("sqlite:///"), tmp_path / "crm.sqlite")
    else:
        crm_url = request.getfixturevalue("pg_url")
        copy_crm(summary.crm_url, crm_url)
    before = crm_rows(crm_url)
    assert init_crm(crm_url) and push_crm(ctx.lake, wh, crm_url, END).count("updated") > 0
    after = crm_rows(crm_url)
    assert set(CRM_TABLES) <= table_names(crm_url)
    scores = ctx.lake.read_df(catalog.SCORES, END).set_index("account_id")
    assert after.loc[HOSTILE_ID, "engagement_band"] == scores.loc[HOSTILE_ID, "band"]
    assert round(float(after.loc[HOSTILE_ID, "engagement_score"]), 2) == round(
        float(scores.loc[HOSTILE_ID, "score"]), 2
    )
    pd.testing.assert_frame_equal(after[before.columns], before)  # names, emails, domains exactly as they were
    for account, name in planted.names.items():
        assert after.loc[account, "name"] == name


def copy_crm(src_url: str, dst_url: str) -> None:
    """The generated CRM's four tables into PostgreSQL (pandas: values travel as bound parameters)."""
    src, dst = sa.create_engine(src_url), sa.create_engine(dst_url)
    try:
        for table in CRM_TABLES:
            pd.read_sql_table(table, src).to_sql(table, dst, index=False)
    finally:
        src.dispose()
        dst.dispose()


def crm_rows(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text("SELECT * FROM accounts"), conn)
    engine.dispose()
    return frame.set_index("account_id").sort_index()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_forget_audit_row_keeps_a_hostile_requester_exactly(scored, db, tmp_path, request):
    summary, ctx, _, _ = scored
    wh = f"sqlite:///{tmp_path / 'warehouse.sqlite'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    lake = tmp_path / "lake"
    shutil.copytree(ctx.settings.lake, lake)  # forget rewrites the lake: never the module's
    mine = RunContext(ctx.settings.with_(lake=str(lake), warehouse_url=wh))
    publish_all(mine, wh, summary)
    result = forget(mine, HOSTILE_CONTACT.upper(), requested_by=REQUESTER, crm_push=False)
    assert result.lake_rows > 0
    audit = read(wh, warehouse.privacy_erasures)
    assert list(audit["requested_by"]) == [REQUESTER] and list(audit["request_id"]) == [result.request_id]
    assert HOSTILE_CONTACT not in audit.to_string()  # only the salted hash
    assert set(TABLES) <= table_names(wh)
    assert len(read(wh, warehouse.account_scores)) == len(ctx.lake.read_df(catalog.SCORES, END))
    contacts = mine.lake.read_df(catalog.valid("crm/contacts"), END - timedelta(days=1))
    assert not contacts["email"].fillna("").str.contains("o'hara", regex=False).any()
