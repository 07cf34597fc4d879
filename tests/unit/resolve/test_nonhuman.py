"""Signal confidence (SPEC 5): bots on web traffic, machine opens from proxy ranges, scanner clicks."""

from __future__ import annotations

import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.resolve.nonhuman import first_deliveries, non_human_reasons

CFG = load_config().non_human  # scanner_click_seconds 10, burst: 3 links within 2 seconds
T0 = pd.Timestamp("2026-07-01 12:00:00", tz="UTC")
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"


def _ev(source="email", event_type="click", seconds=0.0, email="a@x.com", campaign="c1", **extra) -> dict:
    row = {
        "source": source,
        "event_type": event_type,
        "event_time": T0 + pd.Timedelta(seconds=seconds),
        "user_agent": BROWSER,
        "ip_kind": None,
        "email_norm": email,
        "campaign_id": campaign,
        "url": "/link",
    }
    row.update(extra)
    return row


def _reasons(rows: list[dict]) -> list:
    ev = pd.DataFrame(rows)
    out = non_human_reasons(ev, first_deliveries(ev), CFG)
    return [None if pd.isna(v) else v for v in out]


@pytest.mark.parametrize(
    "agent", ["Mozilla/5.0 (compatible; Googlebot/2.1)", "HeadlessChrome/120", "python-requests/2.32", "curl/8.1"]
)
def test_bot_agents_on_web_traffic(agent):
    assert _reasons([_ev("web", "page_view", user_agent=agent), _ev("web", "page_view")]) == ["bot", None]


def test_a_bot_agent_outside_web_traffic_is_not_a_bot():
    # SPEC: bot user agents on *web* traffic; an email open carrying "bot" is judged otherwise
    assert _reasons([_ev("email", "open", user_agent="Googlebot")]) == [None]


def test_machine_open_needs_the_bare_generic_agent_from_a_proxy_range():
    rows = [
        _ev("email", "open", user_agent="Mozilla/5.0", ip_kind="hosting"),  # proxy range, bare agent
        _ev("email", "open", user_agent=" Mozilla/5.0 ", ip_kind="hosting"),  # trimmed before comparing
        _ev("email", "open", user_agent="Mozilla/5.0", ip_kind="isp"),  # not a proxy range
        _ev("email", "open", user_agent="Mozilla/5.0 (iPhone)", ip_kind="hosting"),  # a real client
        _ev("email", "open", user_agent="Mozilla/5.0", ip_kind=None),  # no range known
        _ev("email", "click", user_agent="Mozilla/5.0", ip_kind="hosting", email="b@x.com"),  # not an open
    ]
    assert _reasons(rows) == ["machine_open", "machine_open", None, None, None, None]


def test_scanner_click_within_the_configured_seconds_of_delivery():
    rows = [
        _ev(event_type="delivered", seconds=0, url=None),
        _ev(seconds=3, url="/a"),  # 3 s after delivery
        _ev(seconds=10, url="/b"),  # exactly scanner_click_seconds: still within
        _ev(seconds=11, url="/c"),  # 11 s: a person
    ]
    assert _reasons(rows) == [None, "scanner_click", "scanner_click", None]


def test_delay_counts_from_the_first_delivery_of_that_address_and_campaign():
    rows = [
        _ev(event_type="delivered", seconds=0, url=None),
        _ev(event_type="delivered", seconds=100, url=None),  # a later re-delivery does not restart the clock
        _ev(seconds=105, url="/a"),
        _ev(seconds=102, email="b@x.com"),  # b@ had no delivery: no delay to judge
        _ev(seconds=3, campaign="c2"),  # delivered was c1, not c2
    ]
    deliveries = first_deliveries(pd.DataFrame(rows))
    assert deliveries["delivered_at"].tolist() == [T0]
    assert _reasons(rows) == [None, None, None, None, None]


def test_a_click_before_its_delivery_is_not_a_scanner():
    assert _reasons([_ev(event_type="delivered", seconds=60, url=None), _ev(seconds=55)]) == [None, None]


def test_burst_of_clicks_on_many_links_of_one_email_is_a_scanner():
    # delivered long before: only the burst rule can fire
    base = [_ev(event_type="delivered", seconds=-3600, url=None)]
    burst = [_ev(seconds=100 + i * 0.5, url=f"/l{i}") for i in range(3)]  # 3 distinct links within 1 s
    assert _reasons(base + burst) == [None, "scanner_click", "scanner_click", "scanner_click"]


def test_no_burst_with_too_few_links_same_link_or_slow_clicks():
    base = [_ev(event_type="delivered", seconds=-3600, url=None)]
    two_links = [_ev(seconds=100, url="/a"), _ev(seconds=100.5, url="/b")]
    same_link = [_ev(seconds=200 + i * 0.5, url="/same", campaign="c1") for i in range(3)]
    slow = [_ev(seconds=300 + i * 5, url=f"/s{i}") for i in range(3)]  # 5 s apart: more than 2 s
    assert _reasons(base + two_links) == [None, None, None]
    assert _reasons(base + same_link) == [None, None, None, None]
    assert _reasons(base + slow) == [None, None, None, None]
