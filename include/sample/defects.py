"""Realistic bad input for the generator's `--bad-rows` option.

About `share` of the rows of each source get one defect each, the kind upstream systems really
send: malformed emails, unknown enum values, impossible IPs, unparseable URLs, stale or future
timestamps, re-sent duplicates. One day also gets a broken JSON-lines file (a truncated record
and a line that is not JSON at all). Validation must quarantine every one of them.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd

DEFECTS = {
    "web": ["bad_email", "bad_event_type", "bad_ip", "bad_url", "stale_time", "future_time", "duplicate", "null_key"],
    "email": ["bad_email", "bad_event_type", "stale_time", "duplicate", "null_campaign"],
    "ad": ["bad_platform", "bad_event_type", "bad_ip", "future_time", "duplicate"],
}


def inject_defects(
    frames: dict[str, pd.DataFrame], day: date, share: float, rng: np.random.Generator
) -> tuple[dict[str, pd.DataFrame], dict[str, int], dict[str, np.ndarray]]:
    """Defective copies of the frames, counts per defect kind, and per source a mask of the
    original rows that were damaged (re-sent duplicates are appended; their originals stay good)."""
    counts: dict[str, int] = {}
    out, damaged = {}, {}
    for source, frame in frames.items():
        frame = frame.copy()
        n = len(frame)
        k = int(rng.binomial(n, share)) if n else 0
        rows = rng.choice(n, size=k, replace=False) if k else np.array([], dtype=int)
        kinds = np.array(DEFECTS[source], dtype=object)[rng.integers(0, len(DEFECTS[source]), k)]
        dupes: list[int] = []
        mask = np.zeros(n, bool)
        for row, kind in zip(rows, kinds):
            counts[f"{source}.{kind}"] = counts.get(f"{source}.{kind}", 0) + 1
            _apply(frame, source, int(row), kind, day, dupes)
            mask[row] = kind != "duplicate"
        if dupes:
            frame = pd.concat([frame, frame.iloc[dupes]], ignore_index=True)
        out[source] = frame
        damaged[source] = mask
    return out, counts, damaged


def _apply(frame: pd.DataFrame, source: str, row: int, kind: str, day: date, dupes: list[int]) -> None:
    col = frame.columns.get_loc
    if kind == "bad_email":
        frame.iat[row, col("email")] = "jane.doe@@acme..com"
    elif kind == "bad_event_type":
        frame.iat[row, col("event_type")] = {"web": "pageview", "email": "opened", "ad": "impresion"}[source]
    elif kind == "bad_ip":
        frame.iat[row, col("ip")] = "999.12.0.1"
    elif kind == "bad_url":
        frame.iat[row, col("url")] = "ht!tp://bad url with spaces"
    elif kind == "stale_time":
        frame.iat[row, col("event_time")] = pd.Timestamp(day) - pd.Timedelta(days=20)
    elif kind == "future_time":
        frame.iat[row, col("event_time")] = pd.Timestamp(day) + pd.Timedelta(days=3, hours=2)
    elif kind == "duplicate":
        dupes.append(row)
    elif kind == "null_key":
        frame.iat[row, col("anonymous_id")] = None
    elif kind == "null_campaign":
        frame.iat[row, col("campaign_id")] = None
    elif kind == "bad_platform":
        frame.iat[row, col("platform")] = "tiktok"


def broken_jsonl_lines(day: date) -> list[str]:
    """Lines of a broken file: one good record, a truncated record, a line that is not JSON."""
    record = {
        "event_id": f"w-{day:%Y%m%d}-late-1",
        "event_time": f"{day.isoformat()}T10:00:00Z",
        "anonymous_id": "ck_late",
        "email": None,
        "ip": "70.1.2.3",
        "url": "https://www.northwind.io/",
        "event_type": "page_view",
        "form_type": None,
        "duration_seconds": 3.5,
        "user_agent": "Mozilla/5.0 (X11)",
        "referrer": None,
    }
    good = json.dumps(record, separators=(",", ":"))
    return [good, good.replace("late-1", "late-2")[:90], "<html>502 Bad Gateway</html>"]
