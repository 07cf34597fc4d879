"""Buying windows spread evenly over time: the demo's band shares must not drift because of the draw."""

from __future__ import annotations

import numpy as np

from include.sample.world import RESEARCH_DAYS, window_starts

N_DAYS = 180


def _windows(seed: int, n: int = 1200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    intent = rng.beta(0.5, 4.0, n)
    has_window = rng.random(n) < 0.2 + 1.4 * intent
    window_len = rng.integers(20, 50, n)
    return has_window, window_len, intent, window_starts(has_window, window_len, intent, N_DAYS, rng)


def test_as_many_windows_are_open_on_the_last_day_as_on_any_other():
    for seed in (1, 2, 3):
        has_window, length, _, start = _windows(seed)
        s, e = start[has_window], start[has_window] + length[has_window]
        open_per_day = np.array([((s <= d) & (d < e)).sum() for d in range(N_DAYS)])
        expected = length[has_window].sum() / (N_DAYS + RESEARCH_DAYS + length.max() - 1)
        # drawn uniformly (the old generator: starts in [-20, n - 20)) the last weeks held a fraction of this
        assert np.abs(open_per_day - expected).max() < 0.25 * expected, (seed, open_per_day.min(), expected)
        assert s.min() >= -int(length.max()) + 1 and s.max() < N_DAYS + RESEARCH_DAYS


def test_each_stretch_of_days_gets_its_share_of_keen_buyers():
    for seed in (1, 2, 3):
        has_window, _, intent, start = _windows(seed)
        s, keen = start[has_window], intent[has_window]
        quarters = np.array_split(np.argsort(s, kind="stable"), 4)
        means = [keen[q].mean() for q in quarters]
        assert max(means) - min(means) < 0.05 * keen.mean(), (seed, means)


def test_accounts_without_a_window_keep_a_start_and_the_draw_is_deterministic():
    a, b = _windows(7), _windows(7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    has_window, _, _, start = a
    assert start.dtype.kind == "i" and len(start) == len(has_window)
