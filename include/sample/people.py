"""The true people of the world and the CRM's contacts table.

People at accounts are CRM contacts or employees the CRM does not know; the rest are free-mail
newsletter readers, anonymous internet visitors and bots. Each person has a browser cookie (a few
share one, as households do, or have a second device), a usual IP address, and maybe a privacy
proxy that opens emails for them.
"""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import pandas as pd

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

#: `persons.kind` values
KIND_CONTACT, KIND_EMPLOYEE, KIND_FREEMAIL, KIND_VISITOR, KIND_BOT = 0, 1, 2, 3, 4


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


def people(accounts: pd.DataFrame, corp_net: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every true person (one row each, `person_id` = row number) and the CRM contacts table."""
    staff = _account_staff(accounts, corp_net, rng)
    persons = pd.concat([staff, *_strangers(len(accounts), rng)], ignore_index=True)
    _add_devices(persons, rng)
    contacts = _contacts_table(accounts, persons)
    return persons, contacts


def _account_staff(accounts: pd.DataFrame, corp_net: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """People at accounts, account by account: the CRM's contacts first, then unknown employees."""
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
    emails = _work_emails(accounts, acct, is_contact, first, last, styles, dom_pick)
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
    return pd.DataFrame(
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


def _work_emails(
    accounts: pd.DataFrame,
    acct: np.ndarray,
    is_contact: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    styles: np.ndarray,
    dom_pick: np.ndarray,
) -> np.ndarray:
    """Unique emails, mostly at the account's domain; some at an alternate domain, a mail
    subdomain, or (for a few contacts) a free-mail provider."""
    m = len(acct)
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
    return emails


def _strangers(n_accounts: int, rng: np.random.Generator) -> list[pd.DataFrame]:
    """People with no account: free-mail newsletter readers, anonymous internet visitors, bots."""
    n = n_accounts
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
    return [free, visitors, bots]


def _add_devices(persons: pd.DataFrame, rng: np.random.Generator) -> None:
    """Adds `person_id`, browser cookies (`cookie`, a second device's `cookie2`) and `privacy_proxy`."""
    p = len(persons)
    persons["person_id"] = np.arange(p)
    persons["cookie"] = [f"ck_{h:016x}" for h in rng.integers(0, 2**62, p)]
    # Households: a few people (1 in 100) share one browser with someone from another company. Two
    # emails on one cookie stay under the shared-device limit, so the SPEC's rules merge them: the
    # evaluation must see those (rare) wrong attributions, which needs both to identify themselves.
    staff = np.flatnonzero(persons["account"].to_numpy() >= 0)
    partners = rng.choice(staff, size=max(1, len(staff) // 100), replace=False)
    hosts = rng.choice(staff, size=len(partners))
    other = persons["account"].to_numpy()[hosts] != persons["account"].to_numpy()[partners]
    persons.loc[partners[other], "cookie"] = persons["cookie"].to_numpy()[hosts[other]]
    second = rng.random(p) < 0.1
    persons["cookie2"] = np.where(second, [f"ck_{h:016x}" for h in rng.integers(0, 2**62, p)], None)
    persons["privacy_proxy"] = rng.random(p) < 0.3


def _contacts_table(accounts: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """The CRM contacts table; also adds `contact_id` to `persons` (None for non-contacts)."""
    cmask = persons["kind"].to_numpy() == KIND_CONTACT
    cp = persons[cmask]
    contact_ids = np.array([f"CON-{i + 1:07d}" for i in range(len(cp))], dtype=object)
    persons["contact_id"] = None
    persons.loc[cmask, "contact_id"] = contact_ids
    titles = [TITLES[r][k % len(TITLES[r])] for k, r in enumerate(cp.role)]
    stored_email = [e.upper() if k % 17 == 0 else (f" {e}" if k % 23 == 0 else e) for k, e in enumerate(cp.email)]
    return pd.DataFrame(
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
