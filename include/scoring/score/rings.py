"""The engine's memory of earlier days (a part of `Engine`, engine.py): each account's scores and
points per day (trend, surge), and its points per calendar week (the customer-health baseline).

The rings are column-major arrays indexed by day (or week) modulo their length; stored history
fills them when a run starts from a checkpoint (`load_rings`, state_io.py).
"""

from __future__ import annotations

import numpy as np

from include.scoring.score.health import NO_HEALTH, baseline_weeks, health_codes

NO_DAY = -(10**6)  # an account that never had a positive signal
SCORE_RING = 29  # today and the 28 days before (change_28d)


class HistoryRings:
    """Methods of `Engine` over its rings: `points_ring`, `score_ring`, `week_ring`, and what they
    tell (surge, customer health). The arrays themselves are set up by `Engine.__init__`."""

    def _add_week(self, today: int, gained: np.ndarray) -> None:
        """Today's points into its calendar week of the weekly ring (weeks left behind are zeroed)."""
        week, length = today // 7, self.week_ring.shape[1]
        if self.week_index is not None and week != self.week_index:
            for w in range(self.week_index + 1, min(week, self.week_index + length) + 1):
                self.week_ring[:, w % length] = 0.0
        self.week_index = week
        self.week_ring[:, week % length] += gained

    def _health(self, today: int, customer: np.ndarray, active: np.ndarray, surge: np.ndarray) -> np.ndarray:
        """Each customer's health today (health.py); the recent sums only for customers."""
        cfg = self.config.customer_health
        rows = np.flatnonzero(customer)
        if not len(rows):
            return np.full(len(customer), NO_HEALTH, np.int64)
        # Whole columns added one by one: the rings are column-major, so this reads memory in order
        # and copies nothing (a row selection first would copy every customer's whole ring). Points
        # are sums of binary fractions, so the order of the additions does not change a sum.
        p_len = self.points_ring.shape[1]
        recent = _column_sum(self.points_ring, (today - np.arange(cfg.recent_days)) % p_len)
        weeks, observed = baseline_weeks(today, cfg.recent_days, cfg.baseline_weeks, self.first_week)
        baseline = _column_sum(self.week_ring, weeks % self.week_ring.shape[1])
        idle = np.where(self.last_pos == NO_DAY, 10**9, today - self.last_pos)
        first_recent = today - (cfg.recent_days - 1)
        new_people = np.bincount(self.pair_acc[active & (self.pair_first >= first_recent)], minlength=len(customer))
        return health_codes(customer, idle, recent, baseline, observed, new_people, surge, cfg)

    def _surge(self, today: int) -> np.ndarray:
        """Last 7 days' points above the account's own weekly mean + sigma * std of the weeks before.

        Only accounts with at least the minimum points in the last 7 days can surge, so the baseline
        is worked out for those rows alone (most accounts, most days, have none)."""
        cfg = self.config.trend
        last7 = self._week_sum(today, 0, slice(None))
        rows = np.flatnonzero(last7 >= cfg.surge_min_points)
        surge = np.zeros(len(self.accounts), bool)
        if not len(rows):
            return surge
        baseline = np.empty(
            (len(rows), cfg.surge_baseline_weeks + 1)
        )  # column 0 unused: the rows' layout of every day before
        for week in range(1, baseline.shape[1]):
            baseline[:, week] = self._week_sum(today, week, rows)
        baseline = baseline[:, 1:]
        threshold = baseline.mean(axis=1) + cfg.surge_sigma * baseline.std(axis=1)
        surge[rows] = last7[rows] > threshold
        return surge

    def _week_sum(self, today: int, week: int, rows) -> np.ndarray:
        """Points of the 7 days ending `week` weeks before today, for `rows`. The ring is
        column-major, so adding its day columns one by one reads memory in order (in the order
        the days were always added: by ring position unless the week wraps around)."""
        p_len = self.points_ring.shape[1]
        days = (today - 7 * week - np.arange(7)) % p_len  # newest first
        days = list(range(days.min(), days.max() + 1)) if days.max() - days.min() == 6 else list(days)
        total = self.points_ring[rows, days[0]].copy()
        for day in days[1:]:
            total += self.points_ring[rows, day]
        return total

    def load_rings(
        self, scores_by_offset: dict[int, np.ndarray], points_by_offset: dict[int, np.ndarray], today: int
    ) -> None:
        """Rebuild the rings before stepping to `today` (an ordinal) from stored history:
        scores and daily points of the day `offset` days before today."""
        self.cursor = 0  # step() moves it to 1 for today, so k days ago sits at (1 - k)
        for offset, values in scores_by_offset.items():
            self.score_ring[:, (1 - offset) % SCORE_RING] = values
        p_len = self.points_ring.shape[1]
        for offset, values in points_by_offset.items():
            self.points_ring[:, (today - offset) % p_len] = values


def _column_sum(ring: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The sum of the ring's `columns`, per row."""
    total = np.zeros(ring.shape[0])
    for column in columns.tolist():
        total += ring[:, column]
    return total
