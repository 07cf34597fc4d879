"""The synthetic world: accounts, people, devices, IP ranges and the CRM's view of them.

Built once per `generate` call from the seed. Accounts carry a latent buying intent that the daily
event generator and the opportunity outcomes both read, so the calibration report has a real
signal to find. Names and websites come from the vendored Fortune 500 list and stay as messy as a
real CRM export (trailing spaces, `http://www.` websites, curly quotes).
"""

from __future__ import annotations

import csv
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
VENDOR_DOMAIN = "northwind.io"  # the company running the pipeline: owners and SDRs work here
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "gmx.de")

FIRST = (
    "Ava Ben Chloe Daniel Elena Farid Grace Hiro Isla Jonas Kara Liam Maya Noah Olivia Pavel Quinn "
    "Rosa Sami Tara Umar Vera Wes Xenia Yuki Zane Amir Bianca Carlos Dana Emil Fatima Goran Hana "
    "Ivan Jade Kofi Lena Marco Nadia Oscar Priya Rafael Sofia Tomas Uma Victor Wanda Yara Zoe "
    "Anaïs José Zoë Søren Björn Chloé Renée"
).split()
LAST = (
    "Smith Jones Garcia Müller Rossi Kim Nguyen Patel Cohen Silva Novak Berg Dubois Tanaka Okafor "
    "Larsen Haddad Kowalski Moreau Schmidt Fischer Ivanova Costa Murphy O'Brien Walsh Chen Singh "
    "Ahmed Lopez Martin Bernard Petrov Sato Yamamoto Jensen Nielsen Horvat Popescu Varga Brown Taylor "
    "Wilson Evans Thomas Johnson Roberts Lewis Walker"
).split()
TITLES = {
    "decision_maker": ["VP Marketing", "Chief Revenue Officer", "CFO", "Head of Sales Operations", "CMO"],
    "champion": ["Director of Demand Generation", "Marketing Operations Lead", "Head of Growth"],
    "influencer": ["Senior Manager, Analytics", "IT Director", "Procurement Manager"],
    "user": ["Marketing Specialist", "Sales Development Rep", "Data Analyst", "Campaign Manager"],
    "researcher": ["Research Analyst", "Business Analyst", "Associate"],
    "other": ["Office Manager", "Intern", "Consultant"],
}
ROLE_NAMES = ("decision_maker", "champion", "influencer", "user", "researcher", "other")
ROLE_WEIGHTS = (0.15, 0.10, 0.20, 0.30, 0.10, 0.15)
NAME_SUFFIX_VARIANTS = ("{n}", "{n}, Inc.", "{N} INCORPORATED", "{n} Corp", "{n} Corporation", "{n} LLC", "“{n}”")
SYNTH_WORDS_A = (
    "Blue North Bright Silver Prime Clear Swift Iron Green Summit Pacific Atlas Nova Vertex Cedar Harbor".split()
)
SYNTH_WORDS_B = (
    "Logistics Analytics Foods Energy Robotics Health Capital Systems Materials Media Retail Labs Motors Pharma".split()
)

KIND_CONTACT, KIND_EMPLOYEE, KIND_FREEMAIL, KIND_VISITOR, KIND_BOT = 0, 1, 2, 3, 4


def day_start(day: date) -> np.datetime64:
    return np.datetime64(datetime.combine(day, time(0), tzinfo=UTC).replace(tzinfo=None), "us")


def _clean_domain(website: str) -> str:
    host = re.sub(r"^https?://", "", website.strip().lower()).split("/")[0]
    return host[4:] if host.startswith("www.") else host


def _stem(domain: str) -> str:
    return domain.split(".")[0]


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


def _company_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = list(csv.DictReader((DATA_DIR / "fortune500_companies.csv").open(encoding="utf-8")))
    seen: set[str] = set()
    names, websites, domains = [], [], []
    for row in rows:
        dom = _clean_domain(row["website"])
        if dom in seen:  # the list holds one website twice; a CRM would too, but truth must not
            continue
        seen.add(dom)
        names.append(row["company_name"])
        websites.append(row["website"])
        domains.append(dom)
    names, websites, domains = names[:n], websites[:n], domains[:n]
    i = 0
    while len(names) < n:
        a = SYNTH_WORDS_A[i % len(SYNTH_WORDS_A)]
        b = SYNTH_WORDS_B[(i // len(SYNTH_WORDS_A)) % len(SYNTH_WORDS_B)]
        serial = i // (len(SYNTH_WORDS_A) * len(SYNTH_WORDS_B))
        dom = f"{a}{b}{serial}.com".lower()
        names.append(f"{a} {b} {serial} ")
        websites.append(f"http://www.{dom}")
        domains.append(dom)
        i += 1
    return pd.DataFrame({"name": names, "website": websites, "true_domain": domains})


def _messy_domain(website: str, domain: str, pick: float) -> str:
    """How the CRM holds the website: as exported (`http://www.`), bare, with a slash, upper."""
    if pick < 0.4:
        return website
    if pick < 0.8:
        return domain
    if pick < 0.9:
        return f"https://{domain}/"
    return f"WWW.{domain.upper()}"


def build_world(n_accounts: int, start: date, end: date, rng: np.random.Generator) -> World:
    n_days = (end - start).days + 1
    comp = _company_table(n_accounts, rng)
    n = n_accounts
    ids = np.array([f"ACC-{i + 1:06d}" for i in range(n)], dtype=object)
    intent = rng.beta(0.8, 3.0, n)
    tier_pick = rng.random(n)
    abm_tier = np.where(tier_pick < 0.1, 1, np.where(tier_pick < 0.35, 2, np.where(tier_pick < 0.7, 3, 0)))
    messy = [_messy_domain(w, d, p) for w, d, p in zip(comp.website, comp.true_domain, rng.random(n))]
    alt_pick = rng.random(n)
    alt = np.full(n, None, dtype=object)
    alt_domains_true: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(alt_pick < 0.2):
        stem = _stem(comp.true_domain[i])
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
    has_window = rng.random(n) < (0.1 + 0.8 * intent)
    window_len = rng.integers(20, 50, n)
    window_start = rng.integers(-20, max(1, n_days - 20), n)
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
    ip_ranges, corp_net = _ip_ranges(accounts, rng)
    persons, contacts = _people(accounts, corp_net, rng)
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
    return World(accounts, persons, contacts, ip_ranges, kiosks, hosting, outsiders, offsets, idx)


def _ip_ranges(accounts: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Corporate /24s (some IPv6 /48s) per account, plus ISP, mobile, VPN and hosting ranges.

    An ISP range deliberately overlaps some corporate ranges: longest prefix must win.
    """
    n = len(accounts)
    corp_net = np.full(n, -1, dtype=np.int64)
    rows = []
    base = int(ipaddress.IPv4Address("20.0.0.0"))
    k = 0
    for i in np.flatnonzero(accounts["has_range"].to_numpy()):
        net = base + k * 256
        corp_net[i] = net
        k += 1
        rows.append(
            (f"{ipaddress.IPv4Address(net)}/24", accounts.true_domain.iat[i], accounts.name.iat[i].strip(), "corporate")
        )
        if accounts.has_v6.iat[i]:
            rows.append((f"2001:db8:{k:x}::/48", accounts.true_domain.iat[i], None, "corporate"))
    rows += [
        ("20.0.0.0/12", None, "Overlap Telecom", "isp"),  # contains most corporate /24s
        ("70.0.0.0/8", None, "Big Cable ISP", "isp"),
        ("80.0.0.0/12", None, "Euro Broadband", "isp"),
        ("100.64.0.0/10", None, "Mobile Carrier", "mobile"),
        ("185.10.0.0/16", None, "Private VPN Co", "vpn"),
        ("17.0.0.0/8", None, "Mail Privacy Proxy", "hosting"),
        ("2001:db8::/32", None, "IPv6 Transit", "isp"),
        ("2a02:c7f::/32", None, "IPv6 Mobile", "mobile"),
        ("45.0.0.0/16", "outsider0.example.net", "Outsider Holdings 0 Ltd", "corporate"),
    ]
    df = pd.DataFrame(rows, columns=["cidr", "company_domain", "company_name", "kind"])
    return df, corp_net


def _email_local(first: str, last: str, style: float) -> str:
    f = re.sub(
        r"[^a-z]",
        "",
        first.lower().replace("ï", "i").replace("é", "e").replace("ø", "o").replace("ö", "o").replace("ë", "e"),
    )
    ln = re.sub(r"[^a-z]", "", last.lower().replace("ü", "u"))
    if style < 0.7:
        return f"{f}.{ln}"
    if style < 0.9:
        return f"{f[0]}{ln}"
    return f"{f}_{ln}"


def _people(
    accounts: pd.DataFrame, corp_net: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(accounts)
    intent = accounts.intent.to_numpy()
    n_contacts = np.minimum(2 + rng.poisson(2 + 5 * intent), 25)
    n_employees = 1 + rng.poisson(1.5 + 5 * intent)
    per_acct = n_contacts + n_employees
    acct = np.repeat(np.arange(n), per_acct)
    is_contact = np.concatenate([np.r_[np.ones(c, bool), np.zeros(e, bool)] for c, e in zip(n_contacts, n_employees)])
    m = len(acct)
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), m)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), m)]
    styles = rng.random(m)
    dom_pick = rng.random(m)
    emails = np.empty(m, dtype=object)
    seen: set[str] = set()
    true_dom = accounts.true_domain.to_numpy()
    alts = accounts.alt_domains_true.to_numpy()
    for j in range(m):
        a = acct[j]
        domain = true_dom[a]
        if alts[a] and dom_pick[j] < 0.15:
            domain = alts[a].split(",")[0]
        elif not is_contact[j] and dom_pick[j] > 0.88:
            domain = ("mail.eu." if dom_pick[j] > 0.94 else "uk.") + domain  # mail subdomain
        elif is_contact[j] and dom_pick[j] > 0.96:
            domain = FREE_MAIL[j % len(FREE_MAIL)]  # a contact whose CRM email is free-mail
        local = _email_local(first[j], last[j], styles[j])
        email = f"{local}@{domain}"
        serial = 2
        while email in seen:
            email = f"{local}{serial}@{domain}"
            serial += 1
        seen.add(email)
        emails[j] = email
    roles = np.array(ROLE_NAMES, dtype=object)[rng.choice(len(ROLE_NAMES), m, p=ROLE_WEIGHTS)]
    at_office = corp_net[acct] >= 0
    host = rng.integers(1, 255, m)
    ips = np.empty(m, dtype=object)
    for j in range(m):
        if at_office[j]:
            ips[j] = str(ipaddress.IPv4Address(int(corp_net[acct[j]]) + int(host[j])))
        else:
            ips[j] = f"70.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
    v6 = accounts.has_v6.to_numpy()[acct] & (rng.random(m) < 0.5)
    if v6.any():
        ranks = np.cumsum(accounts.has_range.to_numpy())[acct[v6]]
        ips[v6] = [f"2001:db8:{int(r):x}::{int(h):x}" for r, h in zip(ranks, host[v6])]
    people = pd.DataFrame(
        {
            "kind": np.where(is_contact, KIND_CONTACT, KIND_EMPLOYEE),
            "account": acct,
            "email": emails,
            "first_name": first,
            "last_name": last,
            "role": np.where(is_contact, roles, None),
            "ip": ips,
        }
    )
    # People with no account: free-mail newsletter readers, anonymous internet visitors, bots.
    n_free = max(5, n // 2)
    n_vis = max(10, 2 * n)
    n_bot = max(3, n // 30)
    free_first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n_free)]
    free_last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n_free)]
    free = pd.DataFrame(
        {
            "kind": KIND_FREEMAIL,
            "account": -1,
            "email": [
                f"{_email_local(f, ln, 0.1)}{i}@{FREE_MAIL[i % len(FREE_MAIL)]}"
                for i, (f, ln) in enumerate(zip(free_first, free_last))
            ],
            "first_name": free_first,
            "last_name": free_last,
            "role": None,
            "ip": [f"80.{(i // 250) % 16}.{i % 250}.{(i * 13) % 250 + 1}" for i in range(n_free)],
        }
    )
    visitors = pd.DataFrame(
        {
            "kind": KIND_VISITOR,
            "account": -1,
            "email": None,
            "first_name": None,
            "last_name": None,
            "role": None,
            "ip": [
                f"100.{64 + (i // 60000) % 64}.{(i // 250) % 240}.{i % 250 + 1}"
                if i % 3 == 0
                else f"70.{(i // 62500) % 256}.{(i // 250) % 250}.{i % 250 + 1}"
                for i in range(n_vis)
            ],
        }
    )
    bots = pd.DataFrame(
        {
            "kind": KIND_BOT,
            "account": -1,
            "email": None,
            "first_name": None,
            "last_name": None,
            "role": None,
            "ip": [f"185.10.{i % 250}.{(i * 3) % 250 + 1}" for i in range(n_bot)],
        }
    )
    persons = pd.concat([people, free, visitors, bots], ignore_index=True)
    p = len(persons)
    persons["person_id"] = np.arange(p)
    persons["cookie"] = [f"ck_{h:016x}" for h in rng.integers(0, 2**62, p)]
    # Households: a few people share one browser with someone from another company. Two emails
    # on one cookie stay under the shared-device limit, so the SPEC's rules merge them: the
    # evaluation must see those (rare) wrong attributions.
    staff = np.flatnonzero(persons["account"].to_numpy() >= 0)
    partners = rng.choice(staff, size=max(1, len(staff) // 200), replace=False)
    hosts = rng.choice(staff, size=len(partners))
    other = persons["account"].to_numpy()[hosts] != persons["account"].to_numpy()[partners]
    persons.loc[partners[other], "cookie"] = persons["cookie"].to_numpy()[hosts[other]]
    second = rng.random(p) < 0.1
    persons["cookie2"] = np.where(second, [f"ck_{h:016x}" for h in rng.integers(0, 2**62, p)], None)
    persons["privacy_proxy"] = rng.random(p) < 0.3
    # CRM contacts table
    cmask = persons["kind"].to_numpy() == KIND_CONTACT
    cp = persons[cmask]
    contact_ids = np.array([f"CON-{i + 1:07d}" for i in range(len(cp))], dtype=object)
    persons["contact_id"] = None
    persons.loc[cmask, "contact_id"] = contact_ids
    titles = [TITLES[r][k % len(TITLES[r])] for k, r in enumerate(cp.role)]
    stored_email = [e.upper() if k % 17 == 0 else (f" {e}" if k % 23 == 0 else e) for k, e in enumerate(cp.email)]
    contacts = pd.DataFrame(
        {
            "contact_id": contact_ids,
            "account_id": accounts.account_id.to_numpy()[cp.account.to_numpy()],
            "email": stored_email,
            "first_name": cp.first_name.to_numpy(),
            "last_name": cp.last_name.to_numpy(),
            "title": titles,
            "role": cp.role.to_numpy(),
            "updated_at": accounts.updated_at.to_numpy()[cp.account.to_numpy()],
        }
    )
    return persons, contacts


def opportunities(world: World, start: date, end: date, rng: np.random.Generator) -> pd.DataFrame:
    """Opportunities created after an account's buying window; won more often with high intent."""
    acc = world.accounts
    n = len(acc)
    intent = acc.intent.to_numpy()
    in_window = acc.has_window.to_numpy() & (rng.random(n) < 0.55 + 0.45 * intent)
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
    won = rng.random(len(chosen)) < np.where(in_window[chosen], 0.25 + 0.7 * intent[chosen], 0.12)
    close_after = rng.integers(10, 75, len(chosen))
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


def span(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
