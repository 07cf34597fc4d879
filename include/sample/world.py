"""The synthetic world: accounts, people, devices, IP ranges and the CRM's view of them.

Built once per `generate` call from the seed. Accounts carry a latent buying intent that the daily
event generator and the opportunity outcomes both read, so the calibration report has a real
signal to find. The companies come from `companies`, the people and CRM contacts from `people`,
the reference IP ranges from `networks`; this module assembles them, and draws the opportunities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from include.sample.companies import company_table, domain_stem, messy_domain
from include.sample.networks import ip_ranges
from include.sample.people import people

VENDOR_DOMAIN = "northwind.io"  # the company running the pipeline: owners and SDRs work here


def day_start(day: date) -> np.datetime64:
    """Midnight UTC of `day` as a naive microsecond datetime64, the unit event times are drawn in."""
    return np.datetime64(datetime.combine(day, time(0), tzinfo=UTC).replace(tzinfo=None), "us")


@dataclass
class World:
    accounts: pd.DataFrame  # CRM view plus truth columns (intent, window, range)
    persons: pd.DataFrame  # every true person: contacts, employees, strangers, visitors, bots
    contacts: pd.DataFrame  # CRM contacts table
    ip_ranges: pd.DataFrame  # reference ip_ranges.csv
    kiosk_cookies: np.ndarray  # shared devices (conference kiosks)
    hosting_ips: np.ndarray  # privacy-proxy egress addresses
    outsider_companies: pd.DataFrame  # companies seen in ads that are not CRM accounts
    #: per account: person row offsets (CSR) of the account's people (contacts + employees)
    account_person_offsets: np.ndarray
    account_person_index: np.ndarray


#: share of the sample's customers that churn during the period (after going quiet)
CHURN_SHARE = 0.4
#: chance of a buying window in or around the period: base + per_intent * intent (over a third of the
#: accounts, mostly the engaged ones), so that a month of the default sample (300 accounts) holds enough
#: closed-won outcomes (calibration.min_closed_won) for a reliable calibration report though the windows
#: spread over the whole period and the weeks around it (`window_starts`)
WINDOW_BASE, WINDOW_PER_INTENT = 0.2, 1.4
#: buyers research before sales hears of them: over RESEARCH_DAYS before its window an account's web and
#: ad activity rises linearly towards RESEARCH_PEAK of the window's boost, so a coming deal shows early
RESEARCH_DAYS, RESEARCH_PEAK = 21, 0.5
#: how much of the full buying-window boost an account's window adds, uniform from WINDOW_DEPTH_LOW to 1:
#: some buying processes are light (a renewal-sized deal, one evaluator), so Hot holds more accounts
#: than Very Hot, as in real books, instead of every window ending Very Hot
WINDOW_DEPTH_LOW = 0.3
GOLDEN = (np.sqrt(5) - 1) / 2  # the golden-ratio step: the most even spread of a sequence over [0, 1)
#: a window account opens an opportunity with base + (1 - base) * intent, wins it with win_base + (1 -
#: win_base) * intent, and it closes CLOSE_DAYS (low, high) days after it was created
OPP_BASE, WIN_BASE, CLOSE_DAYS = 0.9, 0.8, (10, 40)


def build_world(n_accounts: int, start: date, end: date, rng: np.random.Generator) -> World:
    """Accounts (CRM columns plus truth), their people and networks, and the shared devices."""
    n_days = (end - start).days + 1
    comp = company_table(n_accounts)
    n = n_accounts
    ids = np.array([f"ACC-{i + 1:06d}" for i in range(n)], dtype=object)
    # Real B2B engagement is skewed: most target accounts barely engage in a quarter, a few a lot.
    intent = rng.beta(0.5, 4.0, n)
    tier_pick = rng.random(n)
    abm_tier = np.where(tier_pick < 0.1, 1, np.where(tier_pick < 0.35, 2, np.where(tier_pick < 0.7, 3, 0)))
    messy = [messy_domain(w, d, p) for w, d, p in zip(comp.website, comp.true_domain, rng.random(n))]
    alt_pick = rng.random(n)
    alt = np.full(n, None, dtype=object)
    alt_domains_true: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(alt_pick < 0.2):
        stem = domain_stem(comp.true_domain[i])
        options = [f"{stem}.co.uk", f"{stem}-group.com", f"{stem}.com.au"]
        k = 1 + int(alt_pick[i] < 0.07)
        chosen = options[:k] if alt_pick[i] < 0.1 else options[1 : 1 + k]
        alt_domains_true[i] = chosen
        alt[i] = ", ".join(chosen) if alt_pick[i] < 0.14 else ",".join(c.upper() for c in chosen)
    parent = np.full(n, None, dtype=object)
    child = rng.random(n) < 0.08
    child[: min(n, 5)] = False
    parent[child] = ids[rng.integers(0, max(1, min(n, 50)), child.sum())]
    parent[child & (parent == ids)] = None
    lifecycle_pick = rng.random(n)
    lifecycle = np.where(lifecycle_pick < 0.85, "prospect", np.where(lifecycle_pick < 0.95, "customer", "churned"))
    n_ae, n_sdr = max(2, n // 40), max(2, n // 60)
    owner = np.array([f"ae{(i % n_ae) + 1:03d}@{VENDOR_DOMAIN}" for i in rng.integers(0, n_ae, n)], dtype=object)
    sdr = np.array([f"sdr{(i % n_sdr) + 1:03d}@{VENDOR_DOMAIN}" for i in rng.integers(0, n_sdr, n)], dtype=object)
    # Customers use the product (docs, support, renewals): they engage more than a typical prospect.
    intent = np.where(lifecycle == "customer", np.maximum(intent, rng.uniform(0.25, 0.5, n)), intent)
    has_window = rng.random(n) < (WINDOW_BASE + WINDOW_PER_INTENT * intent)
    window_len = rng.integers(20, 50, n)
    window_start = window_starts(has_window, window_len, intent, n_days, rng)
    has_range = rng.random(n) < 0.6
    has_v6 = has_range & (rng.random(n) < 0.15)
    has_scanner = rng.random(n) < 0.12
    industries = np.array(
        ["Retail", "Energy", "Technology", "Financial Services", "Healthcare", "Manufacturing", "Media"]
    )
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": comp.name.to_numpy(),
            "domain": messy,
            "alt_domains": alt,
            "industry": industries[rng.integers(0, len(industries), n)],
            "employee_count": rng.integers(50, 200_000, n),
            "abm_tier": pd.array(np.where(abm_tier == 0, None, abm_tier), dtype="Int64"),
            "owner_email": owner,
            "sdr_email": sdr,
            "parent_account_id": parent,
            "lifecycle": lifecycle,
            "updated_at": pd.Timestamp(start, tz="UTC") - pd.to_timedelta(rng.integers(1, 400, n), unit="D"),
            # truth
            "true_domain": comp.true_domain.to_numpy(),
            "alt_domains_true": [",".join(a) for a in alt_domains_true],
            "intent": intent,
            "has_window": has_window,
            "window_start": window_start,
            "window_len": window_len,
            "has_range": has_range,
            "has_v6": has_v6,
            "has_scanner": has_scanner,
        }
    )
    ranges, corp_net = ip_ranges(accounts)
    persons, contacts = people(accounts, corp_net, rng)
    churn_day, quiet_from = churn_schedule(lifecycle, n_days, rng)
    accounts["churn_day"], accounts["quiet_from"] = churn_day, quiet_from
    order = np.argsort(persons["account"].to_numpy(), kind="stable")
    acct_sorted = persons["account"].to_numpy()[order]
    keep = acct_sorted >= 0
    idx = order[keep]
    offsets = np.searchsorted(acct_sorted[keep], np.arange(n + 1))
    kiosks = np.array([f"ck_kiosk{i:04d}" for i in range(max(1, n // 150))], dtype=object)
    hosting = np.array([f"17.{(i // 250) % 250}.{i % 250}.{(i * 7) % 250 + 1}" for i in range(400)], dtype=object)
    outsiders = pd.DataFrame(
        {
            "company_name": [f"Outsider Holdings {i} Ltd" for i in range(max(5, n // 20))],
            "company_domain": [f"outsider{i}.example.net" for i in range(max(5, n // 20))],
        }
    )
    # drawn last, so that the rest of the world does not move with it
    accounts["window_depth"] = rng.uniform(WINDOW_DEPTH_LOW, 1.0, n)
    return World(accounts, persons, contacts, ranges, kiosks, hosting, outsiders, offsets, idx)


def window_starts(
    has_window: np.ndarray, window_len: np.ndarray, intent: np.ndarray, n_days: int, rng: np.random.Generator
) -> np.ndarray:
    """Start day (offset) of each account's buying window, spread evenly over every start whose window
    (or the research before it) overlaps the period, keen and lukewarm buyers alike.

    Starts drawn uniformly from a range that ends before the period does leave its last weeks without
    new windows, and the share of Very Hot prospects drifts down towards the end: the score would look
    non-stationary for a reason the generator made up. Independent draws also bunch: with a few dozen
    windows a month, a month can get most of the keen buyers. So the window accounts, in order of
    intent, take the points of a golden-ratio sequence: any stretch of days gets its share of the
    windows and of each level of intent, whatever the seed.
    """
    first = -int(window_len.max(initial=1)) + 1
    span = n_days + RESEARCH_DAYS - first  # a window opening after the period is researched within it
    starts = rng.integers(first, n_days, len(has_window))  # read only where has_window
    chosen = np.flatnonzero(has_window)
    by_intent = chosen[np.argsort(-intent[chosen], kind="stable")]
    spread = (rng.random() + np.arange(len(by_intent)) * GOLDEN) % 1.0
    jitter = rng.random(len(by_intent)) / max(len(by_intent), 1)
    starts[by_intent] = first + ((spread + jitter) % 1.0 * span).astype(np.int64)
    return starts


def churn_schedule(lifecycle: np.ndarray, n_days: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per account, the day (offset from the start) a customer churns and the day it went quiet
    before that (its engagement fades in the weeks before the CRM marks it churned); -1: never."""
    n = len(lifecycle)
    churns = (lifecycle == "customer") & (rng.random(n) < CHURN_SHARE) & (n_days >= 60)
    day = np.where(churns, rng.integers(n_days // 3, max(n_days // 3 + 1, n_days - 7), n), -1)
    quiet = np.where(churns, np.maximum(day - rng.integers(21, 50, n), 0), -1)
    return day, quiet


def activity_factor(accounts: pd.DataFrame, d: int) -> np.ndarray:
    """How engaged each account is on day offset `d` compared with its intent: a churning customer
    goes quiet in the weeks before it churns and nearly silent after."""
    churn, quiet = accounts["churn_day"].to_numpy(), accounts["quiet_from"].to_numpy()
    return np.where((churn >= 0) & (d >= churn), 0.02, np.where((quiet >= 0) & (d >= quiet), 0.12, 1.0))


def opportunities(world: World, start: date, end: date, rng: np.random.Generator) -> pd.DataFrame:
    """Opportunities created after an account's buying window; won more often with high intent."""
    acc = world.accounts
    n = len(acc)
    intent = acc.intent.to_numpy()
    in_window = acc.has_window.to_numpy() & (rng.random(n) < OPP_BASE + (1 - OPP_BASE) * intent)
    stray = ~acc.has_window.to_numpy() & (rng.random(n) < 0.04)
    chosen = np.flatnonzero(in_window | stray)
    n_days = (end - start).days + 1
    created_off = np.where(
        in_window[chosen],
        acc.window_start.to_numpy()[chosen]
        + (acc.window_len.to_numpy()[chosen] * rng.uniform(0.6, 1.1, len(chosen))).astype(int),
        rng.integers(0, n_days, len(chosen)),
    )
    keep = (created_off >= 0) & (created_off < n_days)
    chosen, created_off = chosen[keep], created_off[keep]
    won = rng.random(len(chosen)) < np.where(in_window[chosen], WIN_BASE + (1 - WIN_BASE) * intent[chosen], 0.12)
    close_after = rng.integers(*CLOSE_DAYS, len(chosen))
    closed_off = created_off + close_after
    is_closed = closed_off < n_days
    start_ts = pd.Timestamp(start, tz="UTC")
    created = (
        start_ts
        + pd.to_timedelta(created_off, unit="D")
        + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, len(chosen)), unit="s")
    )
    closed = (
        start_ts
        + pd.to_timedelta(closed_off, unit="D")
        + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, len(chosen)), unit="s")
    )
    stage = np.where(
        is_closed,
        np.where(won, "Closed Won", "Closed Lost"),
        np.array(["Discovery", "Proposal", "Negotiation"], dtype=object)[rng.integers(0, 3, len(chosen))],
    )
    return pd.DataFrame(
        {
            "opportunity_id": [f"OPP-{i + 1:06d}" for i in range(len(chosen))],
            "account_id": acc.account_id.to_numpy()[chosen],
            "created_at": created,
            "stage": stage,
            "is_closed": is_closed,
            "is_won": is_closed & won,
            "closed_at": pd.Series(closed).where(is_closed, pd.NaT).to_numpy(),
            "amount": np.round(rng.lognormal(10.5, 0.8, len(chosen)), 2),
        }
    )


def deals(world: World, start: date, end: date, seed: int) -> pd.DataFrame:
    """The period's opportunities (their own random stream, so the days' draws do not move them),
    drawn before the days because a deal closing lost shows in them: `lost_day` on the accounts."""
    opps = opportunities(world, start, end, np.random.default_rng([seed, 5]))
    world.accounts["lost_day"] = lost_days(world.accounts, opps, start)
    return opps


def lost_days(accounts: pd.DataFrame, opps: pd.DataFrame, start: date) -> np.ndarray:
    """Per account, the day (offset) its opportunity closed lost, or -1: sales logs the buyer as not
    interested that day (the SPEC's reset), so a lost deal does not stay Very Hot for the whole window."""
    lost = opps[opps["is_closed"].to_numpy(dtype=bool) & ~opps["is_won"].to_numpy(dtype=bool)]
    day = (pd.to_datetime(lost["closed_at"], utc=True).dt.normalize() - pd.Timestamp(start, tz="UTC")).dt.days
    out = np.full(len(accounts), -1, dtype=np.int64)
    rows = pd.Index(accounts["account_id"]).get_indexer(lost["account_id"])
    out[rows] = day.to_numpy()
    return out


def span(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
