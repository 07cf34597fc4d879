"""Identity resolution's other outcomes, on hand-made days: CRM activities (kept once, late ones as
history), the non-human filters, and the day's metrics partition."""

from __future__ import annotations

from datetime import timedelta

from include.scoring.core.config import load_config
from include.scoring.lake import catalog
from include.scoring.resolve.stage import resolve_identities
from tests.unit.resolve.fixtures import BROWSER, D, at, outcome, run, write_day


def test_crm_activities_keep_their_account_and_count_once(lake):
    act = {
        "activity_id": "X1",
        "account_id": "A3",
        "contact_id": "C3",
        "activity_type": "demo_completed",
        "occurred_at": at(D, 9),
    }
    f = run(lake, activities=[act])
    assert outcome(f, "X1") == ("A3", "crm_activity") and f[0].loc["X1", "contact_id"] == "C3"
    f = run(lake, D + timedelta(days=1), activities=[act])  # still in the next day's snapshot
    assert outcome(f, "X1") == (None, "filtered:duplicate")
    old = {**act, "activity_id": "X0", "occurred_at": at(D - timedelta(days=30))}
    write_day(lake, D + timedelta(days=2), activities=[old])
    result = resolve_identities(lake, load_config(), D + timedelta(days=2))
    # first seen long after its late-arrival window (logged late): one outcome, filtered, never scored
    assert result.count("events") == 1 and result.breakdowns["filtered_by_reason"] == {"late_arrival": 1}
    later = D + timedelta(days=10)  # the first snapshot after a gap: older activities are history, not events
    write_day(lake, later, activities=[{**old, "activity_id": "X9"}])
    assert resolve_identities(lake, load_config(), later).count("events") == 0


def test_non_human_filters(lake):
    t0 = at(D, 10)
    email = [
        {"event_id": "d1", "email": "jane.doe@acme.com", "event_type": "delivered", "event_time": t0},
        {
            "event_id": "o1",
            "email": "jane.doe@acme.com",
            "event_type": "open",
            "event_time": t0 + timedelta(seconds=5),
            "user_agent": "Mozilla/5.0",
            "ip": "17.1.2.3",
        },
        {
            "event_id": "o2",
            "email": "jane.doe@acme.com",
            "event_type": "open",
            "event_time": t0 + timedelta(minutes=30),
            "user_agent": BROWSER,
            "ip": "70.1.1.1",
        },
        {
            "event_id": "c1",
            "email": "jane.doe@acme.com",
            "event_type": "click",
            "event_time": t0 + timedelta(seconds=4),
            "url": "https://n.io/a",
            "user_agent": BROWSER,
        },
        {
            "event_id": "c2",
            "email": "jane.doe@acme.com",
            "event_type": "click",
            "event_time": t0 + timedelta(minutes=31),
            "url": "https://n.io/a",
            "user_agent": BROWSER,
        },
        {"event_id": "d2", "email": "sam@thames.co.uk", "event_type": "delivered", "event_time": t0},
        *[
            {
                "event_id": f"s{i}",
                "email": "sam@thames.co.uk",
                "event_type": "click",
                "event_time": t0 + timedelta(minutes=5, milliseconds=300 * i),
                "url": f"https://n.io/{i}",
                "user_agent": BROWSER,
            }
            for i in range(3)
        ],
    ]
    web = [{"event_id": "b1", "user_agent": "Mozilla/5.0 (compatible; bingbot/2.0)", "ip": "20.0.5.1"}]
    f = run(lake, email=email, web=web)
    assert outcome(f, "o1") == (None, "filtered:machine_open")
    assert outcome(f, "c1") == (None, "filtered:scanner_click")
    assert {outcome(f, f"s{i}") for i in range(3)} == {(None, "filtered:scanner_click")}
    assert outcome(f, "b1") == (None, "filtered:bot")
    assert outcome(f, "o2") == ("A1", "crm_contact") and outcome(f, "c2") == ("A1", "crm_contact")
    assert f[2].loc["o1", "account_id"] == "A1"  # filtered events keep their account for reporting


def test_metrics_partition(lake):
    run(lake, web=[{"event_id": "w1", "ip": "20.0.5.1"}, {"event_id": "w2", "ip": "70.1.1.1"}])
    metrics = lake.read_df(catalog.RESOLUTION, D)
    got = {(r.source, r.outcome, r.key): r.events for r in metrics.itertuples()}
    assert got == {("web", "resolved", "reverse_ip"): 1, ("web", "unresolved", "isp_ip"): 1}
