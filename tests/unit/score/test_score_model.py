"""The score model of SPEC 5 that keeps scores stationary and actionable: the accumulation window,
the percentile, band health, buying-group coverage and customer health. Engine-level tests step
hand-made day inputs (points final); lake-level ones go through the score stage."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from include.scoring.core.config import load_config
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.score.engine import DayInput, Engine, day_ns
from include.scoring.score.health import AT_RISK, DORMANT, EXPANDING, HEALTHY, NO_HEALTH
from include.scoring.score.outputs import health_changes, next_action_codes, percentiles
from include.scoring.score.ranking import day_band_health
from include.scoring.score.signals import signal_names
from include.scoring.score.stage import replay_range
from tests.unit.score.fixtures import START, config_with, event, score_range, write_crm, write_events

CFG = load_config()
NAMES = signal_names(CFG)
HOUR_NS = 3600 * 10**9
DM, CHAMPION, INFLUENCER = (CFG.buying_group.roles.index(r) for r in ("decision_maker", "champion", "influencer"))


def _input(day, rows, n, customer=None):
    """rows: (account, person, signal, points, hour[, role code])."""
    return DayInput(
        day=day,
        present=np.ones(n, bool),
        customer=np.zeros(n, bool) if customer is None else np.asarray(customer, bool),
        acc=np.array([r[0] for r in rows], np.int64),
        person=np.array([r[1] for r in rows], np.int64),
        signal=np.array([NAMES.index(r[2]) for r in rows], np.int64),
        points=np.array([r[3] for r in rows], float),
        time_ns=np.array([day_ns(day) + int(r[4] * HOUR_NS) for r in rows], np.int64),
        reset=np.array([r[2] in CFG.reset_signals() for r in rows], bool),
        positive=np.array([r[3] > 0 or r[2] != "not_interested" for r in rows], bool),
        role=np.array([r[5] if len(r) > 5 else -1 for r in rows], np.int64),
    )


def step_days(engine, last, rows_by_day, n=1, customer=None, first=0):
    out = None
    for d in range(first, last + 1):
        out, _ = engine.step(_input(START + timedelta(days=d), rows_by_day.get(d, []), n, customer))
    return out


def new_engine(config=CFG, accounts=("A1",)):
    return Engine(config, pd.Index(list(accounts)), NAMES, pd.Index([f"p{i}" for i in range(20)]))


# The accumulation window ------------------------------------------------------------------------
def test_halved_points_leave_the_window_at_their_halved_value():
    # day 0: 10 points; idle 60 days halves them to 5; day 90 they leave the window: 5 taken, not 10
    engine = new_engine()
    out = step_days(engine, 89, {0: [(0, 0, "pricing_page_visit", 10.0, 12)]})
    assert out["accumulated"][0] == 5.0
    out = step_days(engine, 90, {}, first=90)
    assert out["accumulated"][0] == 0.0 and engine.ledger[0].sum() == 0.0


def test_points_wiped_by_a_reset_do_not_leave_the_window_again():
    # day 0: 10; day 5 not_interested wipes them; day 6: 5 more; day 90 (day 0's expiry) leaves 5 standing
    rows = {0: [(0, 0, "pricing_page_visit", 10.0, 12)], 5: [(0, -1, "not_interested", 0.0, 9)]}
    rows[6] = [(0, 1, "email_click", 5.0, 9)]
    engine = new_engine(config_with(decay={"idle_halving_days": None}))  # no halving in between
    out = step_days(engine, 90, rows)
    assert out["accumulated"][0] == 5.0
    out = step_days(engine, 96, {}, first=91)
    assert out["accumulated"][0] == 0.0  # day 6's 5 points leave on day 96


def test_the_ledger_by_signal_follows_the_window():
    rows = {0: [(0, 0, "pricing_page_visit", 10.0, 12)], 50: [(0, 0, "email_click", 5.0, 12)]}
    engine = new_engine()
    step_days(engine, 90, rows)
    ledger = dict(zip(NAMES, engine.ledger[0], strict=True))
    assert ledger["pricing_page_visit"] == 0.0 and ledger["email_click"] == 5.0


def test_without_a_window_points_stay():
    open_ended = config_with(accumulation={"window_days": None})
    engine = new_engine(open_ended)
    out = step_days(engine, 91, {0: [(0, 0, "pricing_page_visit", 10.0, 12)], 59: [(0, 0, "page_view", 1.0, 12)]})
    assert out["accumulated"][0] == 11.0


def test_incremental_days_expire_exactly_as_a_replay(tmp_path):
    """Day after day from stored state (each day's expiry read back from the lake's daily ledger)
    gives the very same rows as one replay from scratch, across the window's edge."""
    config = config_with(decay={"idle_halving_days": 20})  # halvings inside the window, too
    end = START + timedelta(days=100)
    events = {START + timedelta(days=d): [event(START + timedelta(days=d), "pricing")] for d in (0, 3, 40, 75, 97)}
    incremental = score_range(Lake(str(tmp_path / "a")), START, end, events, config=config)
    replay_lake = Lake(str(tmp_path / "b"))
    for day in days_between(START, end):
        write_events(replay_lake, day, events.get(day, []))
        write_crm(replay_lake, day)
    replay_range(replay_lake, config, days_between(START, end))
    replayed = pd.concat([replay_lake.read_df(catalog.SCORES, d) for d in days_between(START, end)], ignore_index=True)
    pd.testing.assert_frame_equal(incremental, replayed)
    assert incremental["accumulated"].iloc[-1] < incremental["accumulated"].max()  # something did leave


def test_a_person_silent_longer_than_the_memory_is_new_again_in_a_replay_as_from_stored_state(tmp_path):
    """trend.person_memory_days (90): a person back after 95 silent days counts as newly engaged,
    one back after 60 does not, and a year's replay (one engine, no checkpoint between) forgets
    exactly as day-after-day runs from stored state do."""
    end = START + timedelta(days=100)
    events = {
        START: [event(START, "page", person="gone"), event(START, "page", person="paused", url="https://x.io/b")],
        START + timedelta(days=40): [event(START + timedelta(days=40), "page", person="paused")],
        START + timedelta(days=95): [event(START + timedelta(days=95), "page", person="gone")],
        START + timedelta(days=100): [event(end, "page", person="paused", url="https://x.io/c")],
    }
    incremental = score_range(Lake(str(tmp_path / "a")), START, end, events)
    replay_lake = Lake(str(tmp_path / "b"))
    for day in days_between(START, end):
        write_events(replay_lake, day, events.get(day, []))
        write_crm(replay_lake, day)
    replay_range(replay_lake, load_config(), days_between(START, end))
    replayed = pd.concat([replay_lake.read_df(catalog.SCORES, d) for d in days_between(START, end)], ignore_index=True)
    pd.testing.assert_frame_equal(incremental, replayed)
    a1 = replayed[replayed["account_id"] == "A1"].set_index("as_of")
    assert a1.loc[START + timedelta(days=95), "new_people_14d"] == 1  # "gone": 95 days silent
    assert a1.loc[end, ["engaged_people", "new_people_14d"]].tolist() == [2, 1]  # "paused" (60 days) is not new


# Percentile and band health ---------------------------------------------------------------------
def test_percentile_ties_share_a_rank_and_customers_have_none():
    score = np.array([50.0, 10.0, 10.0, 0.0, 99.0, 30.0])
    prospect = np.array([True, True, True, True, False, True])
    # prospects 0, 10, 10, 30, 50: strictly below each, over the 4 others
    assert percentiles(score, prospect).tolist()[:4] == [100.0, 25.0, 25.0, 0.0]
    assert np.isnan(percentiles(score, prospect)[4]) and percentiles(score, prospect)[5] == 75.0


def test_band_health_warns_when_a_band_holds_too_many_prospects():
    scores = pa.table({"as_of": ["2026-03-01"] * 5, "lifecycle": ["prospect"] * 4 + ["customer"]})
    band = np.array([3, 3, 0, 1, 3])  # two of the four prospects very hot (the customer does not count)
    health = day_band_health(scores, band, CFG)
    assert health.counts == {"cold": 1, "warm": 1, "hot": 0, "very_hot": 2}
    assert health.over == {"very_hot": 0.2} and "50.0%" in health.warnings()[0]
    calm = day_band_health(scores, np.array([0, 0, 1, 2, 3]), CFG)  # only the customer is very hot
    assert calm.over == {} and calm.warnings() == []


# Buying group -----------------------------------------------------------------------------------
def test_coverage_counts_roles_engaged_in_the_last_30_days_and_not_anonymous_people():
    rows = {
        0: [(0, 0, "email_click", 5.0, 9, DM)],  # leaves the 30-day window on day 30
        10: [(0, 1, "email_click", 5.0, 9, CHAMPION), (0, 2, "page_view", 1.0, 9, -1)],
        25: [(0, -1, "page_view", 1.0, 9)],  # anonymous: breadth only (no person here: nothing)
    }
    engine = new_engine()
    out = step_days(engine, 29, rows)
    assert out["role_mask"][0] == (1 << DM) | (1 << CHAMPION)
    out = step_days(engine, 30, {}, first=30)
    assert out["role_mask"][0] == 1 << CHAMPION  # the decision maker's click is 31 days old


def test_hot_accounts_without_a_decision_maker_say_so_in_their_next_action():
    bands = np.array([2, 3, 2, 1, 3])
    customer = np.array([False, False, False, False, True])
    masks = np.array([1 << CHAMPION, 0, 1 << DM, 0, 0])
    codes, names = next_action_codes(bands, customer, CFG, masks)
    actions = [names[c] for c in codes]
    assert actions == [
        "AE handoff \u2014 no decision maker engaged yet",
        "sales leader fast-track \u2014 no decision maker engaged yet",
        "AE handoff",
        "SDR light outreach",  # warm: below the band from which it is flagged
        "account management (owner)",
    ]


# Customer health --------------------------------------------------------------------------------
def health_run(rows_by_day, last, config=CFG):
    engine = new_engine(config)
    codes = []
    for d in range(last + 1):
        out, _ = engine.step(_input(START + timedelta(days=d), rows_by_day.get(d, []), 1, customer=[True]))
        codes.append(int(out["health"][0]))
    return codes, engine


def weekly(start, stop, points=5.0, person=0):
    """A positive signal every 7 days from day `start` up to `stop` (excluded)."""
    return {d: [(0, person, "email_click", points, 9)] for d in range(start, stop, 7)}


def test_a_customer_whose_engagement_drops_goes_at_risk():
    # 5 points a week for 12 weeks (the baseline), then one point a week: a fifth of the baseline
    rows = weekly(0, 84)
    rows.update({d: [(0, 0, "page_view", 1.0, 9)] for d in range(84, 140, 7)})
    codes, _ = health_run(rows, 139)
    assert codes[83] == HEALTHY and codes[-1] == AT_RISK


def test_a_customer_nobody_engages_for_45_days_is_dormant():
    codes, _ = health_run(weekly(0, 30), 80)
    last_touch = 28  # the last click
    assert codes[last_touch + 44] != DORMANT and codes[last_touch + 45] == DORMANT


def test_new_people_engaging_make_a_customer_expanding():
    rows = weekly(0, 200)
    rows[100] = rows.get(100, []) + [(0, p, "email_click", 5.0, 10) for p in (5, 6, 7)]  # three new people
    codes, _ = health_run(rows, 110)
    assert codes[99] == HEALTHY and codes[100] == EXPANDING


def test_prospects_have_no_health_and_a_young_history_no_baseline():
    engine = new_engine()
    out = step_days(engine, 40, weekly(0, 20))
    assert out["health"][0] == NO_HEALTH  # a prospect
    codes, _ = health_run({**weekly(0, 20), 21: [(0, 0, "page_view", 1.0, 9)]}, 27)
    assert AT_RISK not in codes  # fewer than 4 observed weeks before the recent 28 days: no baseline


@pytest.mark.parametrize(
    ("before", "after", "alert"), [(HEALTHY, AT_RISK, "health_at_risk"), (AT_RISK, DORMANT, "health_dormant")]
)
def test_a_move_into_at_risk_or_dormant_alerts_the_owner_once(before, after, alert):
    ids = pa.array(["A1", "A2"])
    accounts = pd.DataFrame({"owner_email": ["owner@x.io", "o2@x.io"]})
    parts = health_changes(ids, accounts, np.array([before, HEALTHY]), np.array([after, HEALTHY]), np.zeros(2), START)
    changes, alerts = (p.to_pylist() for p in parts)
    assert [(c["account_id"], c["kind"], c["after"]) for c in changes] == [
        ("A1", "health_change", ["healthy", "at_risk", "expanding", "dormant"][after])
    ]
    assert [(a["account_id"], a["rule"], a["recipient"], a["audience"]) for a in alerts] == [
        ("A1", alert, "owner@x.io", "owner")
    ]
    # the next day the account stays where it is: a change neither recorded nor alerted again
    assert (
        health_changes(ids, accounts, np.array([after, HEALTHY]), np.array([after, HEALTHY]), np.zeros(2), START) == []
    )


def test_moves_out_of_risk_are_recorded_without_an_alert():
    ids = pa.array(["A1"])
    parts = health_changes(
        ids, pd.DataFrame({"owner_email": ["o@x.io"]}), np.array([AT_RISK]), np.array([HEALTHY]), np.zeros(1), START
    )
    assert len(parts) == 1 and parts[0].to_pylist()[0]["kind"] == "health_change"


def test_becoming_a_customer_is_not_a_health_change():
    parts = health_changes(
        pa.array(["A1"]),
        pd.DataFrame({"owner_email": ["o@x.io"]}),
        np.array([NO_HEALTH]),
        np.array([DORMANT]),
        np.zeros(1),
        START,
    )
    assert parts == []
