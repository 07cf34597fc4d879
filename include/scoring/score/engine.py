"""The per-account state machine (SPEC section 5), one day at a time, vectorised across accounts.

`Engine.step(inp)` turns the state at D-1 plus day D's contributions into the state at D, the
day's per-account values and the resets it applied (band changes and alerts are derived from the
values in outputs.py). Replay and incremental runs
call the same step, so they give identical results; only where the state comes from differs.
All arrays are indexed by account position in `Engine.accounts`; nothing loops over accounts or
events in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from include.scoring.core.arrowops import positions
from include.scoring.core.config import ScoringConfig
from include.scoring.score.health import NO_HEALTH, role_masks
from include.scoring.score.rings import NO_DAY, SCORE_RING, HistoryRings
from include.scoring.score.window import Batch, current_values, day_batch, snap_residue

NS_PER_DAY = 86_400 * 10**9
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # day ordinals minus this: days since 1970-01-01 (date32)
NO_TIME = np.iinfo(np.int64).min


def day_ns(day: date) -> int:
    return int(pd.Timestamp(day, tz="UTC").value)


def times_ns(series: pd.Series) -> np.ndarray:
    """Times as UTC nanoseconds since the epoch (NO_TIME where missing): the engine's time arrays."""
    values = pd.to_datetime(series, utc=True)
    out = values.array.as_unit("ns").asi8  # NaT is int64 min
    missing = values.isna().to_numpy()
    return (
        np.where(missing, NO_TIME, out).astype(np.int64) if missing.any() else np.array(out, dtype=np.int64)
    )  # a copy: never a view of the frame


def person_memory_days(config: ScoringConfig) -> int:
    """How long an (account, person) pair is remembered after its last positive signal:
    `trend.person_memory_days`, and at least every window that counts people (breadth, buying
    group). A person back after longer is new again, whether the run replays or resumes from a
    checkpoint (which keeps the same pairs)."""
    return max(config.breadth.window_days, config.buying_group.window_days, config.trend.person_memory_days)


@dataclass
class DayInput:
    """What one day brings: contributions (as integer-coded arrays) and the CRM's view of accounts."""

    day: date
    present: np.ndarray  # bool per account: in the CRM snapshot of the day
    customer: np.ndarray  # bool per account: lifecycle customer (CRM) or a closed-won opportunity
    acc: np.ndarray  # per contribution: account position
    person: np.ndarray  # per contribution: person code (-1: none)
    signal: np.ndarray  # per contribution: signal code
    points: np.ndarray  # per contribution: points after multiplier, de-duplication and caps
    time_ns: np.ndarray  # per contribution: event time
    reset: np.ndarray  # per contribution: a reset signal (not_interested)
    positive: np.ndarray  # per contribution: a positive-point signal (before caps and de-duplication)
    role: np.ndarray | None = None  # per contribution: index in buying_group.roles of the person's role (-1: none)


class Engine(HistoryRings):
    """State arrays of a fixed account universe, advanced day by day."""

    def __init__(self, config: ScoringConfig, accounts: pd.Index, signals: list[str], persons: pd.Index):
        self.config = config
        self.accounts = accounts
        self.signals = signals
        self.person_names = persons
        a, s = len(accounts), len(signals)
        self.acc = np.zeros(a)
        self.held = np.zeros(a, bool)  # rows whose points or ledger may be non-zero (the others need no scaling)
        self.last_pos = np.full(a, NO_DAY, np.int64)
        self.reset_ns = np.full(a, NO_TIME, np.int64)
        self.touch_ns = np.full(a, NO_TIME, np.int64)
        self.touch_sig = np.full(a, -1, np.int64)
        self.prev_score = np.zeros(a)
        self.ledger = np.zeros((a, s))
        self.score_ring = np.zeros((a, SCORE_RING), order="F")  # column-major: a day is a contiguous column
        weeks = config.trend.surge_baseline_weeks
        self.points_ring = np.zeros((a, max(7 * (weeks + 1), config.customer_health.recent_days)), order="F")
        # the accumulation window (window.py): each account's log2 scale and reset epoch, and the
        # batches of the days still in the window (those before this run are read by batch_source)
        self.window = config.accumulation.window_days
        self.log_scale = np.zeros(a)
        self.epoch = np.zeros(a, np.int64)
        self.batches: dict[int, Batch] = {}
        self.batch_source: Callable[[int], Batch | None] | None = None
        self.last_batch: Batch | None = None
        # weekly points (calendar weeks, ordinal // 7) for the customer-health baseline
        health = config.customer_health
        self.week_ring = np.zeros((a, health.baseline_weeks + (health.recent_days + 6) // 7 + 3), order="F")
        self.week_index: int | None = None  # the calendar week of the last day stepped
        self.first_week: int | None = None  # the calendar week of the first day ever stepped
        self.health = np.full(a, NO_HEALTH, np.int64)  # yesterday's health code
        self.roles = list(config.buying_group.roles)
        # (account, person) pairs that ever had a positive signal, sorted by key (account << 32 | person)
        self.pair_keys = np.zeros(0, np.int64)
        self.pair_acc = np.zeros(0, np.int64)
        self.pair_person = np.zeros(0, np.int64)
        self.pair_first = np.zeros(0, np.int64)
        self.pair_last = np.zeros(0, np.int64)
        self.pair_points = np.zeros(0)
        self.pair_role = np.zeros(0, np.int64)  # index in buying_group.roles of the person's role (-1: none)
        self.cursor = 0  # ring position of "today"

    def person_codes(self, persons: pd.Index) -> np.ndarray:
        """The code of each of `persons` (distinct, no nulls), adding those first seen in this block
        of days at the end (existing codes keep their meaning): one lookup in the persons' table."""
        codes = positions(persons, self.person_names)
        new = codes < 0
        if new.any():
            codes[new] = len(self.person_names) + np.arange(int(new.sum()))
            self.person_names = self.person_names.append(persons[new])
        return codes

    # -------------------------------------------------------------------------------------------
    def _scale(self, factor: np.ndarray) -> None:
        """Multiply accounts' points by `factor`; when few rows change (an idle-halving or reset
        day) only those are touched, as the ledger is accounts x signals."""
        zero = factor == 0.0
        with np.errstate(divide="ignore"):
            self.log_scale = np.where(zero, 0.0, self.log_scale + np.log2(np.where(zero, 1.0, factor)))
        self.epoch[zero] += 1  # a reset: every batch earned before it is gone
        rows = np.flatnonzero((factor != 1.0) & self.held)  # rows of zeros stay zeros
        if len(rows) > len(factor) // 2:  # a decay day: nearly every row, so in place (x * 1.0 is x, 0 * x is 0)
            self.acc *= factor
            self.ledger *= factor[:, None]
        elif len(rows):
            self.acc[rows] *= factor[rows]
            self.ledger[rows] *= factor[rows, None]
        self.pair_points *= factor[self.pair_acc]

    def _drop_absent(self, present: np.ndarray) -> None:
        """Accounts no longer in the CRM are not scored: their state is discarded."""
        gone = ~present
        if not gone.any():
            return
        self.acc[gone] = 0
        self.held[gone] = False
        self.last_pos[gone] = NO_DAY
        self.reset_ns[gone] = NO_TIME
        self.touch_ns[gone] = NO_TIME
        self.touch_sig[gone] = -1
        self.prev_score[gone] = 0
        self.ledger[gone] = 0  # rings keep their history: their scores read as 0 from today on
        self.log_scale[gone], self.health[gone] = 0.0, NO_HEALTH
        self.epoch[gone] += 1
        keep = present[self.pair_acc]
        if not keep.all():
            self._keep_pairs(keep)

    def _forget_pairs(self, start_ns: int) -> None:
        """Drop the pairs silent for longer than the person memory (as a checkpoint does): no
        window counts them any more, and the pair arrays stay as long as the memory, not the
        history (a year's replay otherwise drags every pair it ever saw through every day)."""
        forget_before = start_ns - (person_memory_days(self.config) - 1) * NS_PER_DAY
        stale = self.pair_last < forget_before
        if stale.any():
            self._keep_pairs(~stale)

    def _keep_pairs(self, keep: np.ndarray) -> None:
        self.pair_role = self.pair_role[keep]
        self.pair_keys = self.pair_keys[keep]
        self.pair_acc, self.pair_person = self.pair_acc[keep], self.pair_person[keep]
        self.pair_first, self.pair_last, self.pair_points = (
            self.pair_first[keep],
            self.pair_last[keep],
            self.pair_points[keep],
        )

    def _add_pairs(
        self, acc: np.ndarray, person: np.ndarray, points: np.ndarray, time_ns: np.ndarray, role: np.ndarray, today: int
    ) -> None:
        keys = (acc.astype(np.int64) << 32) | person.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
        uniq = keys[starts]
        gained = np.add.reduceat(points[order], starts)
        latest = np.maximum.reduceat(time_ns[order], starts)
        day_role = np.maximum.reduceat(role[order], starts)  # a person's role at the account (-1: none)
        pos = np.searchsorted(self.pair_keys, uniq)
        new = pos >= len(self.pair_keys)
        new[~new] = self.pair_keys[pos[~new]] != uniq[~new]
        if new.any():  # insert the new pairs where they sort
            at, add = pos[new], uniq[new]
            self.pair_keys = np.insert(self.pair_keys, at, add)
            self.pair_acc = np.insert(self.pair_acc, at, add >> 32)
            self.pair_person = np.insert(self.pair_person, at, add & 0xFFFFFFFF)
            self.pair_first = np.insert(self.pair_first, at, today)
            self.pair_last = np.insert(self.pair_last, at, NO_TIME)
            self.pair_points = np.insert(self.pair_points, at, 0.0)
            self.pair_role = np.insert(self.pair_role, at, -1)
            pos = np.searchsorted(self.pair_keys, uniq)
        self.pair_role[pos] = np.where(day_role >= 0, day_role, self.pair_role[pos])
        self.pair_points[pos] += gained
        self.pair_last[pos] = np.maximum(self.pair_last[pos], latest)

    def set_pairs(
        self,
        acc: np.ndarray,
        person: np.ndarray,
        first: np.ndarray,
        last_ns: np.ndarray,
        points: np.ndarray,
        role: np.ndarray | None = None,
    ) -> None:
        """The (account, person) pairs of a stored state, in key order."""
        keys = (acc.astype(np.int64) << 32) | person.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self.pair_keys, self.pair_acc, self.pair_person = (
            keys[order],
            acc.astype(np.int64)[order],
            person.astype(np.int64)[order],
        )
        self.pair_first, self.pair_last = first.astype(np.int64)[order], last_ns.astype(np.int64)[order]
        self.pair_points = np.array(points, dtype=float)[order]  # a writable copy
        role = np.full(len(keys), -1, np.int64) if role is None else np.asarray(role, dtype=np.int64)
        self.pair_role = role[order]

    # -------------------------------------------------------------------------------------------
    def step(self, inp: DayInput) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray]]]:
        """Advance to day D. Returns per-account output arrays and the day's resets: (rule, account
        rows) per reset rule that fired (score_before and score of those rows are in the outputs)."""
        cfg = self.config
        a = len(self.accounts)
        today = inp.day.toordinal()
        start_ns = day_ns(inp.day)
        self._drop_absent(inp.present)
        before = self.prev_score.copy()
        if self.first_week is None:
            self.first_week = today // 7

        factor = np.ones(a)
        if cfg.decay.half_life_days:
            factor *= 0.5 ** (1.0 / cfg.decay.half_life_days)
        # not_interested: accumulated to 0; only what happens after it counts (points and breadth)
        resets = inp.reset
        reset_at = np.full(a, NO_TIME, np.int64)
        if resets.any():
            np.maximum.at(reset_at, inp.acc[resets], inp.time_ns[resets])
        was_reset = reset_at != NO_TIME
        factor[was_reset] = 0.0
        self.reset_ns = np.where(was_reset, reset_at, self.reset_ns)
        self._scale(factor)
        if self.window:
            self._expire(today - self.window)

        effective = inp.time_ns > reset_at[inp.acc]
        eff_acc, eff_points = inp.acc[effective], inp.points[effective]
        gained = np.bincount(eff_acc, weights=eff_points, minlength=a)
        self.acc += gained
        self.held[eff_acc] = True
        # one cell index per row into the flat (C-ordered) ledger: numpy's fast one-dimensional add.at,
        # adding in row order as before (the two-dimensional form took 0.3 s on a 3M-event day)
        self.ledger = np.ascontiguousarray(self.ledger)
        np.add.at(self.ledger.reshape(-1), eff_acc * len(self.signals) + inp.signal[effective], eff_points)
        if self.window:
            self.last_batch = day_batch(
                eff_acc, inp.signal[effective], eff_points, len(self.signals), self.log_scale, self.epoch
            )
            self.batches[today] = self.last_batch
        # A positive-point signal engages its person and ends idleness even when the daily cap
        # or de-duplication left it no points of its own.
        positive = effective & inp.positive
        pos_acc = inp.acc[positive]
        self.last_pos[pos_acc] = today
        if positive.any():
            order = np.lexsort((inp.time_ns[positive], pos_acc))
            last = np.r_[pos_acc[order][1:] != pos_acc[order][:-1], True]
            who, when, what = (
                pos_acc[order][last],
                inp.time_ns[positive][order][last],
                inp.signal[positive][order][last],
            )
            newer = when >= self.touch_ns[who]  # a late-arriving old event does not move the last touch back
            self.touch_ns[who[newer]] = when[newer]
            self.touch_sig[who[newer]] = what[newer]
            with_person = positive & (inp.person >= 0)
            if with_person.any():
                role = inp.role if inp.role is not None else np.full(len(inp.acc), -1, np.int64)
                self._add_pairs(
                    inp.acc[with_person],
                    inp.person[with_person],
                    inp.points[with_person],
                    inp.time_ns[with_person],
                    role[with_person],
                    today,
                )

        # No positive signal for 60, 120, ... days: halve.
        halving = np.zeros(a, bool)
        if cfg.decay.idle_halving_days:
            idle = today - self.last_pos
            halving = (
                (self.last_pos != NO_DAY) & (idle > 0) & (idle % cfg.decay.idle_halving_days == 0) & (self.acc > 0)
            )
            if halving.any():
                self._scale(np.where(halving, 0.5, 1.0))

        after_reset = self.pair_last > self.reset_ns[self.pair_acc]
        window_start = start_ns - (cfg.breadth.window_days - 1) * NS_PER_DAY
        active = (self.pair_last >= window_start) & after_reset
        engaged = np.bincount(self.pair_acc[active], minlength=a)
        new_window = today - (cfg.trend.new_people_days - 1)
        newly = np.bincount(self.pair_acc[active & (self.pair_first >= new_window)], minlength=a)
        breadth = np.minimum(engaged, cfg.breadth.max_people) * cfg.breadth.points_per_person
        score = np.round(self.acc + breadth, 2)

        self.cursor = (self.cursor + 1) % SCORE_RING
        self.score_ring[:, self.cursor] = score
        p_len = self.points_ring.shape[1]
        p_cursor = today % p_len
        self.points_ring[:, p_cursor] = gained
        self._add_week(today, gained)
        change_7d = score - self.score_ring[:, (self.cursor - 7) % SCORE_RING]
        change_28d = score - self.score_ring[:, (self.cursor - 28) % SCORE_RING]
        surge = self._surge(today)

        group_start = start_ns - (cfg.buying_group.window_days - 1) * NS_PER_DAY
        roles = role_masks(self.pair_acc, self.pair_role, (self.pair_last >= group_start) & after_reset, a)
        health_before = self.health.copy()
        self.health = self._health(today, inp.customer, active, surge)

        fired = [
            (rule, rows)
            for rule, rows in (
                ("not_interested", np.flatnonzero(was_reset & inp.present)),
                ("idle_halving", np.flatnonzero(halving & inp.present)),
            )
            if len(rows)
        ]
        self.prev_score = score
        self._forget_pairs(start_ns)
        out = {
            "score": score,
            "accumulated": self.acc.copy(),
            "breadth": breadth.astype(float),
            "engaged_people": engaged,
            "new_people_14d": newly,
            "points_today": gained,
            "change_7d": np.round(change_7d, 2),
            "change_28d": np.round(change_28d, 2),
            "surge": surge,
            "score_before": before,
            "role_mask": roles,
            "health": self.health.copy(),
            "health_before": health_before,
        }
        return out, fired

    def _expire(self, day: int) -> None:
        """Take the points earned on `day` (an ordinal) out of the accounts and their ledgers, at
        their value today (window.py)."""
        batch = self.batches.pop(day, None)
        if batch is None and self.batch_source is not None:
            batch = self.batch_source(day)
        if batch is None or not len(batch):
            return
        cells, values = current_values(batch, self.log_scale, self.epoch)
        rows, signals = batch.acc[cells], batch.signal[cells]
        self.acc -= np.bincount(rows, weights=values, minlength=len(self.acc))
        np.subtract.at(self.ledger, (rows, signals), values)
        touched = np.unique(rows)
        snap_residue(self.acc, touched)
        snap_residue(self.ledger, touched)
