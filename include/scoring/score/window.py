"""The accumulation window (SPEC section 5): points expire `accumulation.window_days` after the
day they were earned, so a score says how engaged an account is now, not how long it has existed.

Each day's points are kept as a batch per (account, signal). Decay, idle halving and resets scale
an account's points after they were earned, so a batch does not hold its current value: it holds
the points as earned plus the account's scale at that moment (`log_scale`, the base-2 logarithm of
the product of every factor applied since the account's last reset) and its reset epoch. When the
batch expires its current value is `points * 2 ** (log_scale_now - log_scale_then)`, or nothing if
a reset (a new epoch) wiped it since. Scaling therefore never touches the stored batches, and a
batch read back from the lake (`daily_ledger/dt=D`) expires exactly as the one kept in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: accumulated points (and ledger cells) closer to 0 than this after an expiry are 0: the
#: floating-point residue of adding and later subtracting the same points
RESIDUE = 1e-9


@dataclass
class Batch:
    """One day's points per (account, signal), as earned; arrays of equal length."""

    acc: np.ndarray  # account position in the engine
    signal: np.ndarray  # signal code
    points: np.ndarray  # points as earned that day (after multipliers, de-duplication, caps)
    log_scale: np.ndarray  # the account's log2 scale when the points were added
    epoch: np.ndarray  # the account's reset epoch when the points were added

    def __len__(self) -> int:
        return len(self.acc)


def day_batch(
    acc: np.ndarray, signal: np.ndarray, points: np.ndarray, n_signals: int, log_scale: np.ndarray, epoch: np.ndarray
) -> Batch:
    """The day's effective contributions summed per (account, signal), in key order; cells that
    earned no points are left out (nothing to expire)."""
    keys = acc.astype(np.int64) * n_signals + signal.astype(np.int64)
    cells = (int(keys.max()) + 1) if len(keys) else 0
    # a sum per possible cell beats sorting the rows (each cell still adds its rows in row order)
    if cells <= 4 * len(keys) + (1 << 20):
        sums = np.bincount(keys, weights=points, minlength=cells)
        uniq = np.flatnonzero(sums != 0)
        sums = sums[uniq]
    else:  # a large account universe and few rows: only the cells that have rows
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=points, minlength=len(uniq))
        keep = sums != 0
        uniq, sums = uniq[keep], sums[keep]
    rows = uniq // n_signals
    return Batch(rows, uniq % n_signals, sums, log_scale[rows].copy(), epoch[rows].copy())


def current_values(batch: Batch, log_scale: np.ndarray, epoch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The batch's cells still standing (same reset epoch) and their value today."""
    alive = epoch[batch.acc] == batch.epoch
    values = batch.points[alive] * np.exp2(log_scale[batch.acc[alive]] - batch.log_scale[alive])
    return np.flatnonzero(alive), values


def snap_residue(values: np.ndarray, rows: np.ndarray) -> None:
    """Set to 0 what an expiry left within RESIDUE of 0 (in place, only `rows` are looked at)."""
    if not len(rows):
        return
    part = values[rows]
    part[np.abs(part) < RESIDUE] = 0.0
    values[rows] = part
