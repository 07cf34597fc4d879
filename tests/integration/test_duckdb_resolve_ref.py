"""The DuckDB reference for resolve (benchmarks/duckdb_resolve_ref.py) against resolve itself.

A small generated sample, with Segment identify and group calls added on two days (a group call by
account id, one by domain, one naming nothing, a cookie identified as four people: a shared
device), web rows with odd identifiers and a CRM activity logged late, run through extract,
validate and resolve; then the reference on every day, compared
event by event with resolve's outputs (outcome, account, method, reason, person, contact, role)
and the day's edge set. The comparison is shown to catch a single changed account.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmarks.duckdb_resolve_check import compare
from benchmarks.duckdb_resolve_ref import duckdb_resolve
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.runner import STAGES, run_range
from tests.fakes.segment import write_messages

pytestmark = pytest.mark.integration
END = date(2026, 11, 20)
DAYS = 6


def _calls(landing, day: date, accounts: pd.DataFrame, cookies: list[str]) -> None:
    """Identify and group calls on `day` (a Segment file beside the generated web files), about
    cookies seen on earlier days."""
    a, b, c = cookies
    target, by_domain = accounts["account_id"].iloc[3], accounts["domain"].iloc[7]

    def msg(i, kind, **fields):
        return {"type": kind, "messageId": f"seg-{day}-{i}", "timestamp": f"{day}T1{i % 10}:00:00.000Z", **fields}

    context = {"ip": "203.0.113.9", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "page": {"url": "https://x.io/"}}
    messages = [
        msg(1, "identify", anonymousId=a, userId=f"u-{day.day}", traits={"email": "ann.lee@gmail.com"}),
        msg(2, "group", userId=f"u-{day.day}", groupId=target, traits={"name": "whatever"}),
        msg(3, "group", anonymousId=b, groupId="0015g00000XyZ", traits={"website": by_domain}),
        msg(4, "group", anonymousId=c, groupId="0015g00000Unknown", traits={"website": "gmail.com"}),
        msg(5, "page", anonymousId=b, context=context, properties={"url": "https://x.io/pricing"}),
        msg(6, "page", userId=f"u-{day.day}", context=context, properties={"url": "https://x.io/pricing"}),
    ]
    for i in range(4):  # one cookie, four people: a shared device from now on
        messages.append(msg(7 + i, "identify", anonymousId="kiosk-1", traits={"email": f"visitor{i}@acme-{i}.com"}))
    messages.append(msg(11, "page", anonymousId="kiosk-1", context=context, properties={"url": "https://x.io/"}))
    host = accounts["domain"].astype(str).str.lower().str.replace(r"^[a-z]+://(www\.)?", "", regex=True).iloc[9]
    for i in range(3):  # three people on one desk: at the limit, not yet a shared device
        messages.append(msg(12 + i, "identify", anonymousId=f"desk-{day.day}", traits={"email": f"p{i}@{host}"}))
    messages.append(
        msg(15, "page", anonymousId=f"desk-{day.day}", context=context, properties={"url": "https://x.io/"})
    )
    # a groupId with the spaces a source left around it still names the account
    padded = f"padded-{day.day}"
    messages.append(msg(16, "group", anonymousId=padded, groupId=f" {accounts['account_id'].iloc[11]} "))
    messages.append(msg(17, "page", anonymousId=padded, context=context, properties={"url": "https://x.io/"}))
    write_messages(landing / "web" / day.isoformat(), "segment-logs.json", messages)


def _late_activity(crm_url: str, occurred: date) -> None:
    """A CRM activity logged long after it happened: first seen today, filtered as `late_arrival`."""
    with sqlite3.connect(crm_url.removeprefix("sqlite:///")) as conn:
        row = conn.execute("SELECT * FROM activities ORDER BY activity_id LIMIT 1").fetchone()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(activities)")]
        late = dict(zip(columns, row, strict=True), activity_id="ACT-LATE-1", occurred_at=f"{occurred} 10:00:00.000000")
        conn.execute(
            f"INSERT INTO activities ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [late[c] for c in columns],
        )


def _placeholder_contacts(crm_url: str) -> None:
    """Two contacts of different accounts filed under one role address (info@): a placeholder, so
    not one person."""
    with sqlite3.connect(crm_url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT contact_id, account_id FROM contacts ORDER BY contact_id").fetchall()
        first = rows[0]
        other = next(r for r in rows if r[1] != first[1])
        for contact_id in (first[0], other[0]):
            conn.execute("UPDATE contacts SET email = 'Info@shared-desk.io' WHERE contact_id = ?", [contact_id])


def _odd_rows(landing, day: date, accounts: pd.DataFrame) -> None:
    """Web events with identifiers that normalisation has to get right (a CSV beside the generated
    files): tagged upper-case addresses, www. and sub-domains of account domains (a .co.uk one goes
    through the suffix list's wildcard and exception rules), placeholders, an unknown domain,
    a bot, an IPv6 address."""
    host = accounts["domain"].astype(str).str.lower().str.replace(r"^[a-z]+://", "", regex=True)
    domain = host.str.replace(r"^www\.", "", regex=True).str.strip().iloc[5]
    uk = accounts["alt_domains"].dropna().str.split(",").explode().str.strip()
    uk = uk[uk.str.endswith(".co.uk")].iloc[0]
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    rows = [
        ("Ann.Lee+news@Gmail.COM", "ck_odd_1", "198.51.100.7", agent),
        ("bob@unknown-corp-zz.io", "ck_odd_2", "198.51.100.8", agent),
        (f"info@{domain}", "ck_odd_3", "198.51.100.9", agent),
        (None, " abc123 ", "10.0.0.1", agent),
        (f"Jane.Doe@WWW.{domain.upper()}", "ck_odd_4", "2001:db8::1", agent),
        (f"x.y@mail.eu.{uk}", "ck_odd_5", "198.51.100.12", agent),
        (f"noreply@{domain}", "ck_odd_6", "198.51.100.13", agent),
        (f"crawler@{domain}", "ck_odd_7", "198.51.100.10", "Googlebot/2.1 (+http://www.google.com/bot.html)"),
        (None, "ck_odd_4", "198.51.100.11", agent),
    ]
    frame = pd.DataFrame(
        [
            {
                "event_id": f"odd-{day}-{i}",
                "event_time": f"{day}T12:00:{i:02d}Z",
                "anonymous_id": cookie,
                "email": email,
                "ip": ip,
                "url": "https://www.northwind.io/pricing",
                "event_type": "form_submit" if email else "page_view",
                "form_type": "demo_request" if email else None,
                "duration_seconds": 3.0,
                "user_agent": ua,
                "referrer": None,
                "page_title": "Northwind | pricing",
            }
            for i, (email, cookie, ip, ua) in enumerate(rows)
        ]
    )
    frame.to_csv(landing / "web" / day.isoformat() / "web-events-odd.csv", index=False)
    # email clicks at the scanner limits: 10 s after the delivery (a scanner) and 1 us later (not);
    # three links with gaps of at most 2 s (a burst), and three whose third comes 1 us too late (none)
    url = "https://www.northwind.io/"
    clicks = [
        ("e1", "12:00:00.000000", "delivered", None),
        ("e1", "12:00:10.000000", "click", url + "a"),
        ("e1", "12:00:10.000001", "click", url + "b"),
        ("e2", "13:00:00.000000", "click", url + "a"),
        ("e2", "13:00:02.000000", "click", url + "b"),
        ("e2", "13:00:03.000000", "click", url + "c"),
        ("e3", "14:00:00.000000", "click", url + "a"),
        ("e3", "14:00:01.000000", "click", url + "b"),
        ("e3", "14:00:03.000001", "click", url + "c"),
    ]
    pd.DataFrame(
        [
            {
                "event_id": f"odd-mail-{day}-{i}",
                "event_time": f"{day}T{at}Z",
                "email": f"{who}.edge@{domain}",
                "campaign_id": "cmp-odd",
                "event_type": kind,
                "url": link,
                "user_agent": agent if link else None,
                "ip": "198.51.100.20" if link else None,
            }
            for i, (who, at, kind, link) in enumerate(clicks)
        ]
    ).to_csv(landing / "email" / day.isoformat() / "email-events-odd.csv", index=False)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from include.sample import generate

    out = tmp_path_factory.mktemp("duckdb-resolve")
    sample = generate(out / "sample", accounts=200, days=DAYS, end_date=END, seed=7, bad_rows=0.01, volume=2.0)
    landing = out / "sample" / "landing"
    _placeholder_contacts(sample.crm_url)
    ctx = RunContext(Settings(str(landing), sample.crm_url, str(out / "lake"), "sqlite://", None))
    stages = [s for s in STAGES if s.name in ("extract", "validate", "resolve")]
    middle = sample.start + timedelta(days=2)
    run_range(ctx, sample.start, middle - timedelta(days=1), stages=stages, echo=lambda _: None)
    accounts = ctx.lake.read_df(catalog.valid("crm/accounts"), middle - timedelta(days=1))
    seen = ctx.lake.read_df(catalog.valid("web"), middle - timedelta(days=1))["anonymous_id"].dropna()
    cookies = sorted(set(seen.astype(str).str.strip()))
    for n, day in enumerate((middle, middle + timedelta(days=2))):
        _calls(landing, day, accounts, cookies[3 * n : 3 * n + 3])
    _odd_rows(landing, middle + timedelta(days=1), accounts)
    _late_activity(sample.crm_url, sample.start - timedelta(days=10))
    run_range(ctx, middle, END, stages=stages, echo=lambda _: None)
    return sample, ctx, out


def test_reference_equals_resolve_on_every_event(lake):
    sample, ctx, out = lake
    events, methods, reasons = 0, set(), set()
    for day in days_between(sample.start, END):
        target = str(out / "reference" / day.isoformat())
        _, counts = duckdb_resolve(ctx.settings.lake, day, ctx.config, target)
        result = compare(ctx.settings.lake, day, target)
        assert result["identical"], json.dumps(result, default=str, indent=1)
        assert result["resolve_events"] == counts["resolved"] + counts["unresolved"] + counts["filtered"] > 0
        events += result["resolve_events"]
        methods |= set(pq.read_table(f"{target}/resolved.parquet").column("resolution_method").to_pylist())
        reasons |= set(pq.read_table(f"{target}/unresolved.parquet").column("reason").to_pylist())
        reasons |= set(pq.read_table(f"{target}/filtered.parquet").column("reason").to_pylist())
    assert events > 4_000
    # the sample reaches most rules, the added calls the rest
    assert methods == {
        "crm_activity",
        "crm_contact",
        "group_call",
        "email_domain",
        "cookie_stitch",
        "reverse_ip",
        "ad_company",
    }
    assert {"free_mail", "unknown_domain", "shared_device", "unknown_company", "isp_ip", "no_identifier"} <= reasons
    assert {"bot", "machine_open", "scanner_click", "duplicate", "late_arrival"} <= reasons


def test_odd_identifiers_reach_resolve(lake):
    sample, ctx, _ = lake
    day = sample.start + timedelta(days=3)
    resolved = ctx.lake.read_df(catalog.RESOLVED, day).set_index("event_id")
    unresolved = ctx.lake.read_df(catalog.UNRESOLVED, day).set_index("event_id")
    filtered = ctx.lake.read_df(catalog.FILTERED, day).set_index("event_id")
    assert len([i for i in (*resolved.index, *unresolved.index, *filtered.index) if i.startswith("odd-")]) == 18
    assert unresolved.loc[f"odd-{day}-1", "reason"] == "unknown_domain"
    assert resolved.loc[f"odd-{day}-4", "resolution_method"] == "email_domain"
    assert resolved.loc[f"odd-{day}-5", "resolution_method"] == "email_domain"
    assert filtered.loc[f"odd-{day}-7", "reason"] == "bot"
    scanner = {int(i.rsplit("-", 1)[1]) for i in filtered.index[filtered["reason"] == "scanner_click"] if "mail" in i}
    assert scanner == {1, 3, 4, 5}  # at 10 s, and the burst


def test_comparison_catches_one_changed_account(lake):
    sample, ctx, out = lake
    target = str(out / "changed")
    duckdb_resolve(ctx.settings.lake, END, ctx.config, target)
    path = f"{target}/resolved.parquet"
    table = pq.read_table(path).to_pandas()
    table.loc[0, "account_id"] = "ACC-NOT-THERE"
    table.to_parquet(path, index=False)
    result = compare(ctx.settings.lake, END, target)
    assert not result["identical"]
    assert result["mismatched_events"] == 1 and result["by_field"] == {"account_id": 1}
    assert result["examples"][0]["account_id"][1] == "ACC-NOT-THERE"
