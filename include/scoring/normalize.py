"""Normalisation of identifiers: emails, domains and company names (SPEC section 4.1).

Vectorised over pandas Series; where a library call is per value (the public-suffix lookup, the
Unicode folding of names) it runs once per distinct value, never per event.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from functools import cache

import numpy as np
import pandas as pd
import tldextract

# Legal-form words dropped from the end of company names ("Acme, Inc." == "ACME Incorporated").
LEGAL_SUFFIXES = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited", "plc",
    "gmbh", "ag", "sa", "sas", "nv", "bv", "spa", "srl", "oy", "ab", "as", "pty", "lp", "llp", "the",
}
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00b4": "'", "`": "'"})


@cache
def _extractor() -> tldextract.TLDExtract:
    """Public-suffix lookups from the list bundled with tldextract: never a network fetch."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def normalize_email(emails: pd.Series) -> pd.Series:
    """Trim, lower-case, drop a `+tag` from the local part; anything not an address becomes null."""
    s = emails.astype("string").str.strip().str.lower()
    parts = s.str.extract(r"^([^@\s]+)@([^@\s]+)$")
    local = parts[0].str.replace(r"\+.*$", "", regex=True)
    domain = parts[1].str.rstrip(".")
    out = local + "@" + domain
    return out.where(local.str.len().fillna(0).gt(0) & domain.str.contains(".", regex=False).fillna(False))


def email_domain(emails: pd.Series) -> pd.Series:
    """The domain part of normalised emails."""
    return emails.str.split("@", n=1).str[1]


def _registrable(host: str) -> str | None:
    ext = _extractor()(host)
    if not ext.domain:
        return None
    return f"{ext.domain}.{ext.suffix}" if ext.suffix else ext.domain


def registrable_domain(values: pd.Series) -> pd.Series:
    """Registrable domain of hosts, domains or URLs: `http://www.Mail.EU.Acme.co.uk/x` -> `acme.co.uk`."""
    s = values.astype("string").str.strip().str.lower()
    host = s.str.replace(r"^[a-z][a-z0-9+.-]*://", "", regex=True).str.split("/", n=1).str[0]
    host = host.str.split("@").str[-1].str.split(":", n=1).str[0].str.rstrip(".")
    host = host.str.replace(r"^www\d*\.", "", regex=True)
    uniques = host.dropna().unique()
    mapping = {h: _registrable(h) for h in uniques if h}
    return host.map(mapping).astype("string")


def _fold_name(name: str) -> str | None:
    text = unicodedata.normalize("NFKD", name.translate(_QUOTES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("'", "").replace(".", "")  # "S.A." -> "sa", "Amazon.com" -> "amazoncom"
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words) or None


def normalize_company_name(names: pd.Series) -> pd.Series:
    """Case, accents, curly quotes, punctuation and legal suffixes removed: 'Acme, Inc.' -> 'acme'."""
    s = names.astype("string")
    uniques = s.dropna().unique()
    mapping = {n: _fold_name(n) for n in uniques}
    return s.map(mapping).astype("string")


def matches(values: pd.Series, pattern: str, case: bool = False) -> np.ndarray:
    """Boolean array: the regular expression is found in the value (null never matches).

    Configured patterns may use groups; pandas warns about those when only the match is wanted.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return values.astype("string").str.contains(pattern, case=case, regex=True).fillna(False).to_numpy(dtype=bool)


def url_path(urls: pd.Series) -> pd.Series:
    """The path of URLs (no scheme, host, query or fragment), lower-cased; '/' when empty."""
    s = urls.astype("string").str.strip().str.lower()
    rest = s.str.replace(r"^[a-z][a-z0-9+.-]*://[^/?#]*", "", regex=True)
    path = rest.str.replace(r"[?#].*$", "", regex=True)
    return path.where(path.str.len().fillna(0).gt(0), "/").where(s.notna())
