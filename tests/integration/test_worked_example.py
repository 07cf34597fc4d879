"""SPEC section 5's worked example, end to end: landing files and a CRM database, through the CLI
from extract to score, must give exactly 53 and Very Hot."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from include.sample.landing import write_crm
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
D = [date(2026, 3, 2 + i) for i in range(5)]
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"


def t(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def email_event(i, day, hour, who, campaign, etype, url=None):
    return {
        "event_id": f"e{i}",
        "event_time": t(day, hour),
        "email": who,
        "campaign_id": campaign,
        "event_type": etype,
        "url": url,
        "user_agent": UA,
        "ip": "70.20.30.40",
    }


def web_event(i, day, hour, who, url, etype="page_view", form=None):
    return {
        "event_id": f"w{i}",
        "event_time": t(day, hour),
        "anonymous_id": f"ck_{who.split('@')[0]}",
        "email": who,
        "ip": "70.20.30.41",
        "url": url,
        "event_type": etype,
        "form_type": form,
        "duration_seconds": 30,
        "user_agent": UA,
        "referrer": None,
    }


@pytest.fixture
def example(tmp_path):
    alice, bob = "alice@acme.com", "bob@acme.com"
    emails = {
        D[0]: [
            email_event(1, D[0], 9, alice, "cmp-1", "delivered"),
            email_event(2, D[0], 10, alice, "cmp-1", "open"),
            email_event(
                3, D[0], 11, alice, "cmp-1", "click", "https://www.northwind.io/product/analytics?utm_campaign=cmp-1"
            ),
        ],
        D[1]: [
            email_event(4, D[1], 9, alice, "cmp-2", "delivered"),
            email_event(5, D[1], 10, alice, "cmp-2", "open"),
            email_event(6, D[1], 9, bob, "cmp-3", "delivered"),
            email_event(7, D[1], 12, bob, "cmp-3", "open"),
        ],
    }
    webs = {
        D[2]: [
            web_event(1, D[2], 14, bob, "https://www.northwind.io/product/analytics"),
            web_event(2, D[2], 15, bob, "https://www.northwind.io/product/integrations"),
        ],
        D[3]: [
            web_event(3, D[3], 16, alice, "https://www.northwind.io/webinars/live", "form_submit", "webinar_attended")
        ],
        D[4]: [web_event(4, D[4], 10, bob, "https://www.northwind.io/demo", "form_submit", "demo_request")],
    }
    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True)  # no IP ranges on purpose: the example has no reverse-IP step
    for day in D:
        for source in ("web", "email", "ad"):
            (landing / source / day.isoformat()).mkdir(parents=True)
        if day in emails:
            (landing / "email" / day.isoformat() / "email.jsonl").write_text(
                "\n".join(json.dumps(e) for e in emails[day]) + "\n"
            )
        if day in webs:
            pd.DataFrame(webs[day]).to_csv(landing / "web" / day.isoformat() / "web.csv", index=False)
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    crm = {
        "accounts": pd.DataFrame(
            [
                {
                    "account_id": "ACC-1",
                    "name": "Acme Corp ",
                    "domain": "http://www.acme.com",
                    "alt_domains": None,
                    "industry": "Retail",
                    "employee_count": 5000,
                    "abm_tier": 1,
                    "owner_email": "ae@northwind.io",
                    "sdr_email": "sdr@northwind.io",
                    "parent_account_id": None,
                    "lifecycle": "prospect",
                    "updated_at": ts,
                }
            ]
        ),
        "contacts": pd.DataFrame(
            [
                {
                    "contact_id": "C-1",
                    "account_id": "ACC-1",
                    "email": alice,
                    "first_name": "Alice",
                    "last_name": "A",
                    "title": "Analyst",
                    "role": "user",
                    "updated_at": ts,
                },
                {
                    "contact_id": "C-2",
                    "account_id": "ACC-1",
                    "email": bob,
                    "first_name": "Bob",
                    "last_name": "B",
                    "title": "IT Director",
                    "role": "influencer",
                    "updated_at": ts,
                },
            ]
        ),
        "activities": pd.DataFrame(
            columns=["activity_id", "account_id", "contact_id", "activity_type", "occurred_at", "notes"]
        ),
        "opportunities": pd.DataFrame(
            columns=[
                "opportunity_id",
                "account_id",
                "created_at",
                "stage",
                "is_closed",
                "is_won",
                "closed_at",
                "amount",
            ]
        ),
    }
    crm_url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_crm(crm_url, crm)
    return landing, crm_url, tmp_path


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "include.scoring", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


def test_worked_example_scores_53_very_hot(example):
    landing, crm_url, tmp = example
    common = [
        "--landing",
        str(landing),
        "--crm-url",
        crm_url,
        "--lake",
        str(tmp / "lake"),
        "--warehouse-url",
        f"sqlite:///{tmp / 'wh.sqlite'}",
    ]
    out = cli("run", "--start", D[0].isoformat(), "--end", D[-1].isoformat(), *common)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    scores = Lake(str(tmp / "lake")).read_df(catalog.SCORES, D[-1]).set_index("account_id")
    acme = scores.loc["ACC-1"]
    assert acme["score"] == 53.0
    # two contacts, neither a decision maker: the fast-track says who is missing (buying group, SPEC 5)
    assert acme["band"] == "very_hot"
    assert acme["next_action"] == "sales leader fast-track \u2014 no decision maker engaged yet"
    assert (acme["accumulated"], acme["breadth"], acme["engaged_people"]) == (33.0, 20.0, 2)
    explained = cli("explain", "--account", "ACC-1", "--date", D[-1].isoformat(), *common)
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "score 53.00, VERY HOT" in text and "accumulated 33.00 + breadth 20.00" in text
    for signal, points in (
        ("demo_request", "10.00"),
        ("product_page_visit", "10.00"),
        ("email_click", "5.00"),
        ("webinar_attended", "5.00"),
        ("email_open", "3.00"),
    ):
        assert any(line.split()[:2] == [signal, points] for line in text.splitlines()), (signal, text)
    assert "contact C-1 (user)" in text and "contact C-2 (influencer)" in text
