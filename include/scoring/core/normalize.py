"""Normalisation of identifiers: emails, domains and company names (SPEC section 4.1).

Every function takes a pandas Series and works on its distinct values with Arrow compute kernels
(RE2 regular expressions, Unicode normalisation), then maps the results back: a day of a million
events repeats the same few hundred thousand values, and nothing here loops over events in Python.
Registrable domains come from the public-suffix list bundled with tldextract (no network), matched
vectorised label by label; the rare wildcard and exception rules go through tldextract itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import tldextract

from include.scoring.core.arrowops import to_arrow, to_series

# Legal-form words dropped from the end of company names ("Acme, Inc." == "ACME Incorporated").
LEGAL_SUFFIXES = (
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "ltd",
    "limited",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "nv",
    "bv",
    "spa",
    "srl",
    "oy",
    "ab",
    "as",
    "pty",
    "lp",
    "llp",
)
_LEGAL_TAIL = r"(\s+(" + "|".join(LEGAL_SUFFIXES) + r"))+$"
_QUOTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00b4": "'",
    "`": "'",
}
MAX_LABELS = 6  # longest public suffix has fewer labels than this


@cache
def _extractor() -> tldextract.TLDExtract:
    """Public-suffix lookups from the list bundled with tldextract: never a network fetch."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


@cache
def _suffixes() -> tuple[frozenset, frozenset]:
    """Plain public suffixes, and the TLDs that carry wildcard or exception rules."""
    plain, special = set(), set()
    for rule in _extractor().tlds:
        if rule.startswith(("*.", "!")):
            special.add(rule.rsplit(".", 1)[-1])
        else:
            plain.add(rule)
    return frozenset(plain), frozenset(special)


def _on_uniques(values: pd.Series, fn: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """Apply an Arrow function to the distinct values of `values` and map back (nulls stay null)."""
    encoded = pc.dictionary_encode(to_arrow(values))
    result = fn(encoded.dictionary.cast(pa.string()))
    return to_series(result.take(encoded.indices), values.index)


def normalize_email_array(arr: pa.Array) -> pa.Array:
    """`normalize_email` on an Arrow array, value by value (callers that work on distinct values)."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    ok = pc.match_substring_regex(s, r"^[^@\s]+@[^@\s]+\.[^@\s]+?\.?$")
    s = pc.replace_substring_regex(s, pattern=r"\+[^@]*@", replacement="@")
    s = pc.replace_substring_regex(s, pattern=r"\.+$", replacement="")
    ok = pc.and_(ok, pc.match_substring_regex(s, r"^[^@+]+@[^@\s]*\.[^@\s.]+$"))
    return pc.if_else(ok, s, pa.scalar(None, pa.string()))


def normalize_email(emails: pd.Series) -> pd.Series:
    """Trim, lower-case, drop a `+tag` from the local part; anything not an address becomes null."""
    return _on_uniques(emails, normalize_email_array)


def email_domain_array(emails: pa.Array) -> pa.Array:
    """`email_domain` on an Arrow array, value by value (callers that work on distinct values)."""
    return pc.replace_substring_regex(emails, pattern=r"^[^@]*@", replacement="")


def email_domain(emails: pd.Series) -> pd.Series:
    """The domain part of normalised emails."""
    return _on_uniques(emails, email_domain_array)


def _host(arr: pa.Array) -> pa.Array:
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    s = pc.replace_substring_regex(s, pattern=r"^[a-z][a-z0-9+.\-]*://", replacement="")
    s = pc.replace_substring_regex(s, pattern=r"[/?#].*$", replacement="")
    s = pc.replace_substring_regex(s, pattern=r"^.*@", replacement="")
    s = pc.replace_substring_regex(s, pattern=r":\d*$", replacement="")
    s = pc.replace_substring_regex(s, pattern=r"\.+$", replacement="")
    s = pc.replace_substring_regex(s, pattern=r"^www\d*\.", replacement="")
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)


def _last_labels(hosts: pa.Array, k: int) -> pa.Array:
    """The last k dot-separated labels of each host (null when it has fewer)."""
    pattern = r"(?P<tail>[^.]+" + r"\.[^.]+" * (k - 1) + r")$"
    return pc.struct_field(pc.extract_regex(hosts, pattern), "tail")


def _registrable_of_hosts(hosts: pa.Array) -> pa.Array:
    """Registrable domain (one label under the longest public suffix) of lower-case hosts."""
    plain, special = _suffixes()
    suffix_set = pa.array(sorted(plain), pa.string())
    tails = {k: _last_labels(hosts, k) for k in range(1, MAX_LABELS + 1)}
    best = np.zeros(len(hosts), dtype=np.int64)  # labels in the longest known public suffix
    for k in range(1, MAX_LABELS):
        hit = pc.fill_null(pc.is_in(tails[k], value_set=suffix_set), False).to_numpy(zero_copy_only=False)
        best[hit] = k
    choices = [tails[k + 1].to_numpy(zero_copy_only=False) for k in range(1, MAX_LABELS)]
    out = np.select([best == k for k in range(1, MAX_LABELS)], choices, default=None).astype(object)
    single = pc.fill_null(pc.invert(pc.match_substring(hosts, ".")), False).to_numpy(zero_copy_only=False)
    host_values = hosts.to_numpy(zero_copy_only=False)
    out[single] = host_values[single]  # "localhost": no suffix, the host itself
    tld = tails[1].to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(pd.Series(tld).isin(special).to_numpy()):  # wildcard / exception rules
        ext = _extractor()(host_values[i])
        out[i] = (f"{ext.domain}.{ext.suffix}" if ext.suffix else ext.domain) if ext.domain else None
    return pa.array(out, pa.string())


def registrable_domain(values: pd.Series) -> pd.Series:
    """Registrable domain of hosts, domains or URLs: `http://www.Mail.EU.Acme.co.uk/x` -> `acme.co.uk`."""
    return _on_uniques(values, lambda a: _registrable_of_hosts(_host(a)))


def _company(arr: pa.Array) -> pa.Array:
    s = pc.utf8_normalize(arr, form="NFKD")
    s = pc.replace_substring_regex(s, pattern=r"\p{Mn}", replacement="")  # accents
    for curly, straight in _QUOTES.items():
        s = pc.replace_substring(s, pattern=curly, replacement=straight)
    s = pc.utf8_lower(s)
    s = pc.replace_substring(s, pattern="&", replacement=" and ")
    s = pc.replace_substring_regex(s, pattern=r"['.]", replacement="")  # "S.A." -> "sa", "Dillard's" -> "dillards"
    s = pc.replace_substring_regex(s, pattern=r"[^a-z0-9]+", replacement=" ")
    s = pc.utf8_trim_whitespace(s)
    s = pc.replace_substring_regex(s, pattern=r"^the\s+", replacement="")
    stripped = pc.replace_substring_regex(s, pattern=_LEGAL_TAIL, replacement="")
    s = pc.if_else(pc.equal(stripped, ""), s, stripped)  # "Co" alone stays "co"
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)


def normalize_company_name(names: pd.Series) -> pd.Series:
    """Case, accents, curly quotes, punctuation and legal suffixes removed: 'Acme, Inc.' -> 'acme'."""
    return _on_uniques(names, _company)


def matches(values: pd.Series | pa.Array, pattern: str, case: bool = False) -> np.ndarray:
    """Boolean array: the regular expression is found in the value (null never matches)."""
    found = pc.match_substring_regex(to_arrow(values), pattern, ignore_case=not case)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def url_path(urls: pd.Series) -> pd.Series:
    """The path of URLs (no scheme, host, query or fragment), lower-cased; '/' when empty."""

    def path(arr: pa.Array) -> pa.Array:
        s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        s = pc.replace_substring_regex(s, pattern=r"^[a-z][a-z0-9+.\-]*://[^/?#]*", replacement="")
        s = pc.replace_substring_regex(s, pattern=r"[?#].*$", replacement="")
        return pc.if_else(pc.equal(s, ""), pa.scalar("/", pa.string()), s)

    return _on_uniques(urls, path)
