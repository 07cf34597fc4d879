"""Signal confidence (SPEC section 5): which events are machines, not people.

- `bot`: web traffic whose user agent matches the configured bot pattern;
- `machine_open`: email opens from privacy proxies (Apple Mail Privacy Protection style: the bare
  generic agent from an address in a proxy range of the reference data);
- `scanner_click`: a click within `scanner_click_seconds` of the email's delivery, or one of a
  burst of clicks on `scanner_burst_links` or more links of one email within seconds.
Filtered events are kept, with their reason, in filtered/dt=D.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from include.scoring.core.arrowops import isin
from include.scoring.core.config import NonHuman
from include.scoring.core.normalize import matches


def first_deliveries(email_events: pd.DataFrame) -> pd.DataFrame:
    """Earliest delivery time per (normalised email, campaign)."""
    delivered = email_events[email_events["event_type"] == "delivered"]
    return (
        delivered.groupby(["email_norm", "campaign_id"], as_index=False)["event_time"]
        .min()
        .rename(columns={"event_time": "delivered_at"})
    )


def _burst_clicks(clicks: pd.DataFrame, cfg: NonHuman) -> np.ndarray:
    """Clicks belonging to a burst on many distinct links of one email within a few seconds."""
    if clicks.empty:
        return np.zeros(0, bool)
    c = clicks[["email_norm", "campaign_id", "event_time", "url"]].copy()
    c["_pos"] = np.arange(len(c))
    c = c.sort_values(["email_norm", "campaign_id", "event_time"], kind="stable")
    key_change = (
        ((c["email_norm"] != c["email_norm"].shift()) | (c["campaign_id"] != c["campaign_id"].shift()))
        .fillna(True)
        .to_numpy(dtype=bool)
    )
    gap = c["event_time"].diff().dt.total_seconds().fillna(np.inf).to_numpy()
    cluster = np.cumsum(key_change | (gap > cfg.scanner_burst_seconds))
    distinct = c.groupby(cluster)["url"].transform("nunique")
    out = np.zeros(len(c), bool)
    out[c["_pos"].to_numpy()] = (distinct >= cfg.scanner_burst_links).to_numpy()
    return out


def non_human_reasons(events: pd.DataFrame, deliveries: pd.DataFrame, cfg: NonHuman) -> pd.Series:
    """`bot`, `machine_open`, `scanner_click` or <NA> for each event of the unified frame."""
    reason = pd.Series(pd.NA, index=events.index, dtype="string")
    ua = events["user_agent"].astype("string")
    web = events["source"] == "web"
    is_bot = web & matches(ua, cfg.bot_user_agent)
    reason[is_bot] = "bot"
    opens = (events["source"] == "email") & (events["event_type"] == "open")
    generic = ua.str.strip().str.fullmatch(cfg.machine_open_user_agent).fillna(False)
    proxy = isin(events["ip_kind"], cfg.machine_open_ip_kinds)
    reason[opens & generic & proxy] = "machine_open"
    clicks_mask = ((events["source"] == "email") & (events["event_type"] == "click")).to_numpy()
    if clicks_mask.any():
        clicks = events[clicks_mask]
        joined = clicks[["email_norm", "campaign_id"]].merge(deliveries, on=["email_norm", "campaign_id"], how="left")
        delivered = pd.to_datetime(joined["delivered_at"], utc=True)
        delay = (
            (pd.to_datetime(clicks["event_time"], utc=True).reset_index(drop=True) - delivered)
            .dt.total_seconds()
            .to_numpy(dtype=float, na_value=np.nan)
        )
        fast = (delay >= 0) & (delay <= cfg.scanner_click_seconds)
        scanner = fast | _burst_clicks(clicks, cfg)
        reason.iloc[np.flatnonzero(clicks_mask)[scanner]] = "scanner_click"
    return reason
