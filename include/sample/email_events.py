"""Email events: the marketing campaigns and what recipients (and their machines) do with them.

Privacy proxies open every email and security scanners click every link, so opens and clicks are
not all human. A human click lands on the website with the email in the tracked link, which
identifies the clicker's cookie: those page views are returned for the web source.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.sample.draws import noisy_email, pick
from include.sample.population import Population
from include.sample.website import BROWSERS, PRODUCT, SITE
from include.sample.world import day_start

#: the share of delivered emails a person opens (before privacy proxies open the rest for them); each
#: opener counts as an engaged person, so a higher rate makes most accounts Warm on breadth alone
OPEN_RATE = 0.045
#: contacts per account a campaign goes to (on average, before `volume`)
CONTACTS_PER_CAMPAIGN = 4.5


def email_events(
    pop: Population, day: date, weekend: bool, volume: float, activity: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """The day's email events and their truth, plus the tracked-link page views as
    (web events, web truth, cookie links) for the web source."""
    empty_web = (pd.DataFrame(), pd.DataFrame(), np.zeros(0, np.int64))  # no tracked clicks
    # Campaigns go out on Tuesdays, and on some Thursdays.
    if weekend or not (day.weekday() == 1 or (day.weekday() == 3 and rng.random() < 0.5)):
        return (
            pd.DataFrame(columns=["event_time", "email", "campaign_id", "event_type", "url", "user_agent", "ip"]),
            pd.DataFrame(),
            empty_web,
        )
    campaign = f"cmp-{day:%Y%m%d}"
    share = min(1.0, 0.15 * volume)
    # A campaign reaches a few people per account (its personas), however many contacts the CRM holds:
    # accounts with more contacts (the more engaged ones) do not get more email.
    contacts_per_account = np.diff(pop.contact_of_account_offsets)[pop.account[pop.contacts_idx]]
    p_send = np.minimum(1.0, share * CONTACTS_PER_CAMPAIGN / np.maximum(contacts_per_account, 1))
    rec = np.concatenate(
        [
            pop.contacts_idx[rng.random(len(pop.contacts_idx)) < p_send],
            pop.free_idx[rng.random(len(pop.free_idx)) < 0.2],
        ]
    )
    n = len(rec)
    acct = pop.account[rec]
    intent = np.where(acct >= 0, pop.intent[np.maximum(acct, 0)], 0.1)
    engaged = np.where(acct >= 0, activity[np.maximum(acct, 0)], 1.0)  # a quiet account opens little
    t0 = day_start(day) + (rng.integers(8 * 3600, 15 * 3600, n) * 1_000_000).astype("timedelta64[us]")
    bounce = rng.random(n) < 0.02
    parts = []
    ev = lambda m, t, et, url=None, ua=None, ip=None, kind="human": parts.append(  # noqa: E731
        (
            rec[m],
            t[m] if t.ndim else t,
            et,
            url if url is None or np.ndim(url) == 0 else url[m],
            ua if ua is None or np.ndim(ua) == 0 else ua[m],
            ip if ip is None or np.ndim(ip) == 0 else ip[m],
            kind,
        )
    )  # noqa: E731
    ev(~bounce, t0, "delivered")
    ev(bounce, t0, "bounce")
    ok = ~bounce
    acct_scanner = np.where(acct >= 0, pop.world.accounts["has_scanner"].to_numpy()[np.maximum(acct, 0)], False)
    machine = ok & pop.proxy[rec]
    ev(
        machine,
        t0 + (rng.integers(1, 40, n) * 1_000_000).astype("timedelta64[us]"),
        "open",
        ua="Mozilla/5.0",
        ip=pop.world.hosting_ips[rng.integers(0, len(pop.world.hosting_ips), n)],
        kind="machine_open",
    )
    # Opening is habit, not buying intent: one rate for everybody (what the report must find: opens
    # barely predict a win); clicks and replies, below, follow intent.
    opened = ok & (rng.random(n) < OPEN_RATE * engaged)
    t_open = t0 + (np.minimum(rng.exponential(2 * 3600, n), 6 * 3600) * 1e6).astype("timedelta64[us]")
    ua = pick(BROWSERS, n, rng)
    ev(opened, t_open, "open", ua=ua, ip=pop.ip[rec])
    clicked = opened & (rng.random(n) < 0.04 + 0.25 * intent)
    t_click = t_open + (rng.integers(15, 600, n) * 1_000_000).astype("timedelta64[us]")
    links = SITE + pick(PRODUCT, n, rng) + f"?utm_campaign={campaign}"
    ev(clicked, t_click, "click", url=links, ua=ua, ip=pop.ip[rec])
    replied = opened & (rng.random(n) < 0.005 + 0.05 * intent)
    ev(replied, t_open + np.timedelta64(1800, "s"), "reply", ua=ua)
    unsub = opened & (rng.random(n) < 0.004)
    ev(unsub, t_open + np.timedelta64(60, "s"), "unsubscribe", ua=ua)
    scanned = ok & acct_scanner
    for k, page in enumerate(PRODUCT[:3]):
        ts = t0 + ((rng.integers(2, 6, n) * 1_000_000) + k * 200_000).astype("timedelta64[us]")
        ev(
            scanned,
            ts,
            "click",
            url=f"{SITE}{page}?utm_campaign={campaign}",
            ua=BROWSERS[0],
            ip="185.10.99.9",
            kind="scanner_click",
        )
    persons = np.concatenate([p[0] for p in parts])
    m = len(persons)
    times = np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in parts])
    col = lambda i: np.concatenate(  # noqa: E731
        [
            np.full(len(p[0]), p[i], dtype=object) if (p[i] is None or np.ndim(p[i]) == 0) else p[i].astype(object)
            for p in parts
        ]
    )  # noqa: E731
    frame = pd.DataFrame(
        {
            "event_time": times,
            "email": noisy_email(pop.email[persons], rng),
            "campaign_id": campaign,
            "event_type": np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]),
            "url": col(3),
            "user_agent": col(4),
            "ip": col(5),
        }
    )
    kinds = col(6)
    truth = pop.truth("email", persons, kinds, np.full(m, -1), np.zeros(m, bool), email_used=np.ones(m, bool))
    # A human click lands on the site with the email in the tracked link: cookie meets email.
    human_click = (frame["event_type"].to_numpy() == "click") & (kinds == "human")
    cp = persons[human_click]
    nc = len(cp)
    slot = np.zeros(nc, np.int64)
    office = pop.office_ip[cp]
    web = pd.DataFrame(
        {
            "event_time": times[human_click] + np.timedelta64(3, "s"),
            "anonymous_id": pop.cookie[cp, 0],
            "email": pop.email[cp],
            "ip": pop.ip[cp],
            "url": frame["url"].to_numpy()[human_click],
            "event_type": "page_view",
            "form_type": None,
            "duration_seconds": np.round(rng.exponential(45, nc), 1),
            "user_agent": frame["user_agent"].to_numpy()[human_click],
            "referrer": None,
        }
    )
    web_truth = pop.truth("web", cp, "human", slot, office, email_used=np.ones(nc, bool))
    link_slots = np.where(pop.email_resolvable[cp], cp * 2, -1)
    return frame, truth, (web, web_truth, link_slots)
