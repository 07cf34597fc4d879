"""The companies behind the accounts, and the many ways their names and websites get written.

Names and websites come from the vendored Fortune 500 list (topped up with made-up companies when
more accounts are asked for) and stay as messy as a real CRM export or ad platform report: trailing
spaces, `http://www.` websites, `, Inc.` suffixes, curly quotes.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
NAME_SUFFIX_VARIANTS = ("{n}", "{n}, Inc.", "{N} INCORPORATED", "{n} Corp", "{n} Corporation", "{n} LLC", "“{n}”")
SYNTH_WORDS_A = (
    "Blue North Bright Silver Prime Clear Swift Iron Green Summit Pacific Atlas Nova Vertex Cedar Harbor".split()
)
SYNTH_WORDS_B = (
    "Logistics Analytics Foods Energy Robotics Health Capital Systems Materials Media Retail Labs Motors Pharma".split()
)


def _clean_domain(website: str) -> str:
    host = re.sub(r"^https?://", "", website.strip().lower()).split("/")[0]
    return host[4:] if host.startswith("www.") else host


def domain_stem(domain: str) -> str:
    return domain.split(".")[0]


def company_table(n: int) -> pd.DataFrame:
    """`n` companies with distinct domains: the Fortune 500 list first, then made-up ones."""
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


def messy_domain(website: str, domain: str, pick: float) -> str:
    """How the CRM holds the website: as exported (`http://www.`), bare, with a slash, upper."""
    if pick < 0.4:
        return website
    if pick < 0.8:
        return domain
    if pick < 0.9:
        return f"https://{domain}/"
    return f"WWW.{domain.upper()}"


def name_variants(names: np.ndarray) -> np.ndarray:
    """How ad platforms spell a company: 'Acme, Inc.', 'ACME INCORPORATED', 'Acme Corp', ..."""
    out = np.empty((len(names), len(NAME_SUFFIX_VARIANTS)), dtype=object)
    for i, raw in enumerate(names):
        base = raw.strip()
        for j, pattern in enumerate(NAME_SUFFIX_VARIANTS):
            out[i, j] = pattern.format(n=base, N=base.upper())
    return out
