"""The per-account state machine (SPEC 5), stepped day by day on hand-made day inputs: points
accumulate, breadth adds 10 per engaged person (at most 5) over a trailing 30 days, 60 idle days
halve, not_interested resets. Points here are final (contributions.py already applied multipliers,
de-duplication and caps)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.score.contributions import contributions
from include.scoring.score.engine import DayInput, Engine, day_ns
from include.scoring.score.outputs import bands_of
from include.scoring.score.signals import BONUS_STATE_COLUMNS, signal_names

CFG = load_config()
NAMES = signal_names(CFG)
D0 = date(2026, 1, 5)
HOUR_NS = 3600 * 10**9


def _input(day: date, rows, n_accounts: int) -> DayInput:
    """rows: (account, person (-1: none), signal, points, hour[, positive])."""
    rows = [r if len(r) == 6 else (*r, r[3] > 0) for r in rows]
    return DayInput(
        day=day,
        present=np.ones(n_accounts, bool),
        customer=np.zeros(n_accounts, bool),
        acc=np.array([r[0] for r in rows], np.int64),
        person=np.array([r[1] for r in rows], np.int64),
        signal=np.array([NAMES.index(r[2]) for r in rows], np.int64),
        points=np.array([r[3] for r in rows], float),
        time_ns=np.array([day_ns(day) + int(r[4] * HOUR_NS) for r in rows], np.int64),
        reset=np.array([r[2] in CFG.reset_signals() for r in rows], bool),
        positive=np.array([r[5] for r in rows], bool),
    )


class Run:
    """An engine over `accounts`, stepped one day at a time from D0."""

    def __init__(self, accounts=("A1",), config=CFG):
        self.n = len(accounts)
        self.engine = Engine(config, pd.Index(list(accounts)), NAMES, pd.Index([f"p{i}" for i in range(10)]))
        self.next_day = 0

    def until(self, offset: int, rows_by_day: dict | None = None) -> tuple[dict, list]:
        """Step every day up to D0 + offset (inclusive); return that day's outputs and resets."""
        rows_by_day = rows_by_day or {}
        while self.next_day <= offset:
            day = D0 + timedelta(days=self.next_day)
            out, resets = self.engine.step(_input(day, rows_by_day.get(self.next_day, []), self.n))
            self.next_day += 1
        return out, resets


def test_points_accumulate_and_score_is_accumulated_plus_breadth():
    run = Run()
    out, _ = run.until(0, {0: [(0, 0, "pricing_page_visit", 10.0, 9), (0, 0, "email_open", 1.0, 10)]})
    assert (out["accumulated"][0], out["breadth"][0], out["engaged_people"][0], out["score"][0]) == (11, 10, 1, 21)
    # p1's click, and an anonymous page view (no person: points, but no breadth)
    out, _ = run.until(1, {1: [(0, 1, "email_click", 5.0, 9), (0, -1, "page_view", 1.0, 10)]})
    # 11 + 5 + 1 accumulated; two distinct people (p0, p1) in the window
    assert (out["accumulated"][0], out["breadth"][0], out["score"][0], out["points_today"][0]) == (17, 20, 37, 6)


def test_breadth_is_10_per_person_capped_at_5_persons():
    six = [(0, p, "page_view", 1.0, 9 + p) for p in range(6)]
    out, _ = Run().until(0, {0: six + [(0, 0, "email_open", 1.0, 20)]})  # p0 twice: still one person
    assert out["engaged_people"][0] == 6
    assert out["breadth"][0] == 50.0  # min(6, 5) x 10
    assert out["score"][0] == 57.0  # 7 points + 50


def test_breadth_counts_a_person_for_30_days_including_today():
    run = Run()
    run.until(0, {0: [(0, 0, "pricing_page_visit", 10.0, 12)]})
    out, _ = run.until(29)  # day 29: days 0..29 are the trailing 30 days
    assert out["breadth"][0] == 10.0
    out, _ = run.until(30)  # day 30: day 0 has left the window
    assert (out["breadth"][0], out["score"][0]) == (0.0, 10.0)


OPEN_ENDED = CFG.model_copy(update={"accumulation": CFG.accumulation.model_copy(update={"window_days": None})})


def test_idle_halving_at_60_and_120_days_without_a_positive_signal():
    run = Run(config=OPEN_ENDED)  # the open-ended model: no window to take the points first
    run.until(0, {0: [(0, 0, "pricing_page_visit", 10.0, 12)]})
    out, resets = run.until(59)
    assert out["accumulated"][0] == 10.0 and resets == []
    out, resets = run.until(60)
    assert out["accumulated"][0] == 5.0
    assert [(rule, rows.tolist()) for rule, rows in resets] == [("idle_halving", [0])]
    assert out["score_before"][0] == 10.0 and out["score"][0] == 5.0
    out, _ = run.until(119)
    assert out["accumulated"][0] == 5.0
    out, resets = run.until(120)
    assert out["accumulated"][0] == 2.5 and [r for r, _ in resets] == ["idle_halving"]


def test_a_positive_signal_restarts_the_idle_clock():
    run = Run(config=OPEN_ENDED)  # day 0's points would otherwise leave the window on day 90
    out, _ = run.until(60, {0: [(0, 0, "pricing_page_visit", 10.0, 12)], 59: [(0, 0, "page_view", 1.0, 12)]})
    assert out["accumulated"][0] == 11.0  # day 60 is only one idle day after day 59
    out, resets = run.until(119)
    assert out["accumulated"][0] == 5.5 and [r for r, _ in resets] == ["idle_halving"]  # 60 days after day 59


def test_a_capped_positive_signal_still_engages_and_ends_idleness():
    # positive-point signal whose points the daily cap took away: 0 points, but still engagement
    run = Run()
    run.until(0, {0: [(0, 0, "pricing_page_visit", 10.0, 12)]})
    out, _ = run.until(59, {59: [(0, 1, "pricing_page_visit", 0.0, 12, True)]})
    assert out["engaged_people"][0] == 1  # p1 (p0 left the window on day 30)
    out, resets = run.until(60)
    assert out["accumulated"][0] == 10.0 and resets == []


def test_not_interested_resets_and_breadth_counts_only_what_follows():
    rows = {
        0: [(0, 0, "pricing_page_visit", 10.0, 9)],
        1: [
            (0, 1, "email_click", 5.0, 8),  # before the reset: void
            (0, -1, "not_interested", 0.0, 10),
            (0, 2, "product_page_visit", 5.0, 11),  # after it: counts
        ],
    }
    run = Run()
    out, _ = run.until(0, rows)
    assert out["score"][0] == 20.0
    out, resets = run.until(1, rows)
    assert out["accumulated"][0] == 5.0
    assert (out["engaged_people"][0], out["breadth"][0]) == (1, 10.0)  # only p2
    assert out["score"][0] == 15.0 and out["score_before"][0] == 20.0
    assert [(rule, rows.tolist()) for rule, rows in resets] == [("not_interested", [0])]
    out, _ = run.until(2, {2: [(0, 0, "page_view", 1.0, 9)]})
    assert (out["accumulated"][0], out["engaged_people"][0]) == (6.0, 2)  # p0 back after the reset


def test_accounts_are_independent():
    rows = {0: [(0, 0, "pricing_page_visit", 10.0, 9), (1, 1, "email_click", 5.0, 9), (1, -1, "not_interested", 0, 10)]}
    out, resets = Run(accounts=("A1", "A2")).until(0, rows)
    assert out["score"].tolist() == [20.0, 0.0]
    assert [(rule, r.tolist()) for rule, r in resets] == [("not_interested", [1])]


def test_change_over_7_days():
    run = Run()
    run.until(0, {0: [(0, 0, "pricing_page_visit", 10.0, 9)]})  # score 20 from day 0
    out, _ = run.until(8, {8: [(0, 0, "email_click", 5.0, 9)]})
    # day 8: 15 + 10 = 25 against day 1's 20
    assert (out["score"][0], out["change_7d"][0]) == (25.0, 5.0)


def test_spec_worked_example_scores_53_very_hot():
    """SPEC 5: two non-decision-maker contacts within one month: 3 email opens (different
    campaigns) 3 + 1 click 5 + 2 product pages 10 + 1 webinar attendance 5 + 1 demo request 10
    = 33, plus breadth 2 x 10 = 53 -> very hot."""
    t0 = pd.Timestamp(D0, tz="UTC")

    def e(i, day, source, etype, person, url=None, form=None, campaign=None):
        return {
            "event_id": f"e{i:02d}",
            "event_time": t0 + pd.Timedelta(days=day, hours=9 + i),
            "source": source,
            "event_type": etype,
            "account_id": "A1",
            "person_key": person,
            "role": "user",
            "url": url,
            "form_type": form,
            "campaign_id": campaign,
            "day": day,
        }

    rows = [
        e(0, 0, "email", "open", "pa", campaign="c1"),
        e(1, 3, "email", "open", "pb", campaign="c2"),
        e(2, 7, "email", "open", "pa", campaign="c3"),
        e(3, 7, "email", "click", "pa", campaign="c3"),
        e(4, 10, "web", "page_view", "pb", url="https://x.io/product/a"),
        e(5, 12, "web", "page_view", "pb", url="https://x.io/platform/b"),
        e(6, 15, "web", "form_submit", "pa", url="https://x.io/forms/w", form="webinar_attended"),
        e(7, 20, "web", "form_submit", "pb", url="https://x.io/forms/demo", form="demo_request"),
    ]
    contribs = contributions(pd.DataFrame(rows), CFG, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
    assert contribs.points.tolist() == [1, 1, 1, 5, 5, 5, 5, 10]
    run = Run()
    by_day: dict[int, list] = {}
    for i in range(len(rows)):
        by_day.setdefault(int(contribs.day[i]), []).append(
            (0, int(contribs.person_codes[i]), NAMES[contribs.signals[i]], float(contribs.points[i]), 9 + i)
        )
    out, _ = run.until(20, by_day)
    assert (out["accumulated"][0], out["breadth"][0], out["score"][0]) == (33.0, 20.0, 53.0)
    assert bands_of(out["score"], CFG).tolist() == ["very_hot"]


def test_points_leave_the_accumulation_window_after_90_days():
    # day 0: 10 points; days 1..90: 1 point a day (a steady stream: no idle halving).
    # Day 89: nothing has expired: 10 + 89 = 99. Day 90: day 0's 10 points leave: 99 + 1 - 10 = 90.
    rows = {0: [(0, 0, "pricing_page_visit", 10.0, 12)]}
    rows.update({d: [(0, 0, "page_view", 1.0, 12)] for d in range(1, 91)})
    run = Run()
    out, _ = run.until(89, rows)
    assert out["accumulated"][0] == 99.0
    out, _ = run.until(90, rows)
    assert out["accumulated"][0] == 90.0
