"""Vectorised random draws shared by every source's event generator.

Each draws a whole day's worth at once from numpy arrays (no loop over events), so a day of a
million events takes seconds.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.sample.world import day_start


def event_times(day: date, n: int, rng: np.random.Generator, mean_h: float = 13.0, sd_h: float = 3.5) -> np.ndarray:
    """Times of day around `mean_h` o'clock UTC (normal, clipped to the day)."""
    secs = np.clip(rng.normal(mean_h * 3600, sd_h * 3600, n), 0, 86_399.0)
    return day_start(day) + (secs * 1e6).astype("timedelta64[us]")


def pick(arr: np.ndarray, n: int, rng: np.random.Generator, p=None) -> np.ndarray:
    """`n` values drawn from `arr` (with replacement, weights `p`)."""
    return arr[rng.choice(len(arr), n, p=p)]


def serials(prefix: str, n: int, width: int = 7) -> np.ndarray:
    """Ids `prefix0000000`, `prefix0000001`, ... (zero-padded to `width`)."""
    return (prefix + pd.Series(np.arange(n)).astype(str).str.zfill(width)).to_numpy(dtype=object)


def isp_ips(n: int, rng: np.random.Generator) -> np.ndarray:
    """Home broadband addresses (the reference data's 70.0.0.0/8 ISP range)."""
    parts = pd.DataFrame(rng.integers(1, 250, (n, 3))).astype(str)
    return ("70." + parts[0] + "." + parts[1] + "." + parts[2]).to_numpy(dtype=object)


def noisy_email(emails: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What people type: upper case, stray spaces, +tags; the identity stage must undo it."""
    out = emails.astype(object).copy()
    u = rng.random(len(out))
    for mask, fn in (
        (u < 0.06, lambda e: e.upper()),
        ((u >= 0.06) & (u < 0.1), lambda e: f"  {e} "),
        ((u >= 0.1) & (u < 0.14), lambda e: e.replace("@", "+webinar@", 1)),
    ):
        idx = np.flatnonzero(mask & pd.notna(out))
        out[idx] = [fn(e) for e in out[idx]]
    return out
