"""The scoring model of SPEC section 5, rule by rule, through the real score stage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from include.scoring.core.config import load_config
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.score.outputs import bands_of
from tests.unit.score.fixtures import START, config_with, event, row, score_range

D0 = START


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path))


def days(n):
    return D0 + timedelta(days=n)


def test_tier_points_and_breadth(lake):
    scores = score_range(
        lake, D0, D0, {D0: [event(D0, "pricing", person="p1"), event(D0, "open", person="p2", campaign_id="c9")]}
    )
    r = row(scores, D0)
    assert (r["accumulated"], r["breadth"], r["engaged_people"], r["score"], r["band"]) == (11.0, 20.0, 2, 31.0, "hot")
    assert row(scores, D0, "A2")["score"] == 0 and row(scores, D0, "A2")["band"] == "cold"


def test_decision_maker_multiplier(lake):
    scores = score_range(lake, D0, D0, {D0: [event(D0, "pricing", role="decision_maker")]})
    assert row(scores, D0)["accumulated"] == pytest.approx(12.0)


def test_deduplication_same_person_signal_target_day(lake):
    evs = {
        D0: [
            event(D0, "pricing", hour=9),
            event(D0, "pricing", hour=10),
            event(D0, "product", hour=11),
            event(D0, "product", hour=12, url="https://www.northwind.io/product/b"),
        ],
        days(1): [event(days(1), "pricing")],
    }
    scores = score_range(lake, D0, days(1), evs)
    assert row(scores, D0)["accumulated"] == 20.0  # pricing once + two different product pages
    assert row(scores, days(1))["accumulated"] == 30.0  # a new day counts again
    contribs = lake.read_df(catalog.CONTRIBUTIONS, D0)
    assert sorted(contribs["adjustment"].dropna()) == ["duplicate"]


def test_daily_cap_per_signal(lake):
    evs = {D0: [event(D0, "pricing", person=f"p{i}", minute=i) for i in range(5)]}
    scores = score_range(lake, D0, D0, evs)
    r = row(scores, D0)
    assert r["accumulated"] == 20.0  # capped at 20 for pricing_page_visit on the day
    assert r["engaged_people"] == 5 and r["breadth"] == 50.0  # every visitor still engaged the account
    assert (lake.read_df(catalog.CONTRIBUTIONS, D0)["adjustment"] == "daily_cap").sum() == 3


def test_combination_bonus_once(lake):
    evs = {
        D0: [event(D0, "webinar")],
        days(10): [event(days(10), "download")],
        days(20): [event(days(20), "webinar"), event(days(20), "download", hour=14)],
    }
    scores = score_range(lake, D0, days(20), evs)
    bonus = lake.read_df(catalog.CONTRIBUTIONS, days(10))
    assert bonus[bonus["signal"] == "combination_bonus"]["points"].tolist() == [10.0]
    assert row(scores, days(10))["accumulated"] == 5 + 5 + 10
    later = lake.read_df(catalog.CONTRIBUTIONS, days(20))
    assert "combination_bonus" not in set(later["signal"])  # one-off per person
    assert row(scores, days(20))["accumulated"] == 20 + 5 + 5


def test_combination_bonus_needs_both_within_the_window(tmp_path):
    evs = {D0: [event(D0, "webinar")], days(31): [event(days(31), "download")]}
    lake = Lake(str(tmp_path))
    score_range(lake, D0, days(31), evs)
    assert "combination_bonus" not in set(lake.read_df(catalog.CONTRIBUTIONS, days(31))["signal"])


def test_idle_halving_at_60_and_120_days_not_59(lake):
    open_ended = config_with(accumulation={"window_days": None})  # no window taking the points first
    scores = score_range(lake, D0, days(121), {D0: [event(D0, "pricing")]}, config=open_ended)
    acc = {n: row(scores, days(n))["accumulated"] for n in (0, 59, 60, 61, 119, 120, 121)}
    assert acc == {0: 10.0, 59: 10.0, 60: 5.0, 61: 5.0, 119: 5.0, 120: 2.5, 121: 2.5}
    resets = lake.read_df(catalog.CHANGES, days(60))
    assert resets[resets["kind"] == "reset"][["account_id", "rule", "before", "after"]].values.tolist() == [
        ["A1", "idle_halving", "10.00", "5.00"]
    ]
    assert row(scores, days(60))["breadth"] == 0  # the only person left the 30-day window long ago


def test_not_interested_resets_and_breadth_counts_only_later_events(lake):
    evs = {
        D0: [
            event(D0, "pricing", person="p1"),
            event(D0, "pricing", person="p2", url="https://www.northwind.io/pricing/x"),
        ],
        days(1): [
            event(days(1), "page", person="p1", hour=9),
            event(days(1), "crm:not_interested", person=None, hour=10),
            event(days(1), "pricing", person="p3", hour=11),
        ],
    }
    scores = score_range(lake, D0, days(1), evs)
    assert row(scores, D0)["score"] == 20 + 20
    after = row(scores, days(1))
    assert (after["accumulated"], after["engaged_people"], after["score"]) == (10.0, 1, 20.0)
    changes = lake.read_df(catalog.CHANGES, days(1))
    reset = changes[changes["kind"] == "reset"].iloc[0]
    assert (reset["rule"], reset["before"], reset["after"]) == ("not_interested", "40.00", "20.00")


def test_events_wiped_by_a_reset_neither_claim_the_one_count_nor_use_up_the_cap(lake):
    """Only what happens after a not_interested counts (SPEC 5), so a repeat after it is the first
    that counts, and the cap counts only points after it (found by the property test: adding an
    event before the reset used to lower the day's score)."""
    evs = {
        D0: [
            event(D0, "pricing", hour=8),
            event(D0, "crm:not_interested", person=None, hour=9),
            event(D0, "pricing", hour=12),
        ],
        days(1): [
            *(event(days(1), "pricing", person=f"p{i}", hour=8, minute=i) for i in range(3)),
            event(days(1), "crm:not_interested", person=None, hour=9),
            *(event(days(1), "pricing", person=f"q{i}", hour=12, minute=i) for i in range(3)),
        ],
    }
    scores = score_range(lake, D0, days(1), evs)
    assert row(scores, D0)["accumulated"] == 10.0  # the 12:00 visit counts, not "duplicate" of the wiped 08:00 one
    assert row(scores, days(1))["accumulated"] == 20.0  # 0 after the reset, then 20 of the 30 after it (the cap), not 0
    adjusted = lake.read_df(catalog.CONTRIBUTIONS, days(1)).dropna(subset=["adjustment"])
    assert list(adjusted["person_key"]) == ["q2"] and list(adjusted["adjustment"]) == ["daily_cap"]


def test_closed_won_moves_the_account_to_customer(lake):
    evs = {D0: [event(D0, "pricing")], days(2): [event(days(2), "demo")]}
    scores = score_range(lake, D0, days(3), evs, won={"A1": days(2)})
    assert row(scores, days(1))["lifecycle"] == "prospect"
    customer = row(scores, days(2))
    assert customer["lifecycle"] == "customer" and customer["next_action"] == load_config().customer_next_action
    alerts = lake.read_df(catalog.CHANGES, days(2))
    alerts = alerts[alerts["kind"] == "alert"]
    assert set(alerts["audience"]) == {"owner"} and set(alerts["recipient"]) == {"owner@northwind.io"}


def test_alert_once_per_crossing_and_again_after_falling_back(lake):
    evs = {
        D0: [
            event(D0, "pricing", person="p1"),
            event(D0, "product", person="p1"),
        ],  # 15 + 10 breadth = 25: not above 25
        days(1): [event(days(1), "page", person="p1")],  # 26: crosses 25
        days(2): [event(days(2), "page", person="p1")],  # 27: still above, no new alert
        days(3): [event(days(3), "crm:not_interested", person=None, hour=8)],  # back to 0
        days(4): [
            event(days(4), "pricing", person="p2"),
            event(days(4), "product", person="p2"),
            event(days(4), "page", person="p2"),
        ],  # 16 + 10 = 26
    }
    score_range(lake, D0, days(4), evs)
    sdr_alerts = []
    for n in range(5):
        changes = lake.read_df(catalog.CHANGES, days(n))
        sdr_alerts += [(n, r.rule, r.recipient) for r in changes[changes["kind"] == "alert"].itertuples()]
    assert sdr_alerts == [(1, "threshold_25", "sdr@northwind.io"), (4, "threshold_25", "sdr@northwind.io")]


def test_bands_at_their_edges():
    cfg = load_config()
    assert list(bands_of([0, 10, 10.004, 10.01, 25, 25.01, 50, 50.01, 900], cfg)) == [
        "cold",
        "cold",
        "cold",
        "warm",
        "warm",
        "hot",
        "hot",
        "very_hot",
        "very_hot",
    ]


def test_trend_over_7_and_28_days(lake):
    evs = {D0: [event(D0, "page")], days(7): [event(days(7), "pricing")], days(28): [event(days(28), "demo")]}
    scores = score_range(lake, D0, days(28), evs)
    week = row(scores, days(7))
    assert (week["change_7d"], week["trend"]) == (10.0, "up")  # 11+10 vs 1+10 a week before
    flat = row(scores, days(8))
    assert (flat["change_7d"], flat["trend"]) == (10.0, "up")
    later = row(scores, days(28))
    assert later["change_28d"] == pytest.approx(later["score"] - 11.0)


def test_trend_down_when_breadth_leaves_the_window(lake):
    scores = score_range(lake, D0, days(30), {D0: [event(D0, "page")]})
    assert row(scores, days(29))["score"] == 11.0  # the visitor still counts on the 30th day
    quiet = row(scores, days(30))
    assert (quiet["score"], quiet["change_7d"], quiet["trend"]) == (1.0, -10.0, "down")


def test_flat_when_the_week_changed_by_less_than_two_points(lake):
    evs = {D0: [event(D0, "pricing")], days(7): [event(days(7), "page")]}
    scores = score_range(lake, D0, days(7), evs)
    assert (row(scores, days(7))["change_7d"], row(scores, days(7))["trend"]) == (1.0, "flat")


def test_surge_against_the_accounts_own_baseline(lake):
    evs = {}
    for week in range(8):  # a steady baseline: 3 points every week
        d = days(week * 7)
        evs[d] = [event(d, "page", person="p1", url=f"https://www.northwind.io/blog/{i}") for i in range(3)]
    burst = days(60)
    evs[burst] = [event(burst, "pricing", person=f"q{i}") for i in range(2)] + [event(burst, "demo", person="q3")]
    scores = score_range(lake, D0, burst, evs)
    assert bool(row(scores, burst)["surge"]) is True  # 30 points this week vs a 3-point weekly mean
    assert bool(row(scores, days(57))["surge"]) is False


def test_surge_needs_the_minimum_points(lake):
    evs = {days(60): [event(days(60), "page", url=f"https://www.northwind.io/blog/{i}") for i in range(9)]}
    scores = score_range(lake, D0, days(60), evs)
    assert bool(row(scores, days(60))["surge"]) is False  # above a zero baseline but under 10 points


def test_half_life_option(lake):
    cfg = config_with(decay={"half_life_days": 10, "idle_halving_days": None})
    scores = score_range(lake, D0, days(20), {D0: [event(D0, "pricing")]}, config=cfg)
    assert row(scores, days(10))["accumulated"] == pytest.approx(5.0)
    assert row(scores, days(20))["accumulated"] == pytest.approx(2.5)
    assert row(scores, days(20))["config_version"] == cfg.version


def test_newly_engaged_people(lake):
    evs = {
        D0: [event(D0, "page", person="old")],
        days(20): [event(days(20), "page", person="old"), event(days(20), "page", person="new", url="https://x.io/b")],
    }
    scores = score_range(lake, D0, days(20), evs)
    assert (row(scores, days(20))["engaged_people"], row(scores, days(20))["new_people_14d"]) == (2, 1)


def test_last_touch_and_days_since(lake):
    evs = {
        D0: [event(D0, "open", hour=8, campaign_id="c1"), event(D0, "demo", hour=15)],
        days(1): [event(days(1), "impression")],
    }
    scores = score_range(lake, D0, days(3), evs)
    r = row(scores, days(3))
    assert (
        r["last_touch_signal"] == "demo_request" and r["last_touch_at"].hour == 15 and r["days_since_engagement"] == 3
    )
