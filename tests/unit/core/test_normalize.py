"""Normalisation of identifiers (SPEC 4.1), called directly on small in-memory Series."""

from __future__ import annotations

import pandas as pd
import pytest

from include.scoring.core.normalize import (
    email_domain,
    matches,
    normalize_company_name,
    normalize_email,
    registrable_domain,
    url_path,
)


def _values(series: pd.Series) -> list:
    """Plain Python values, nulls as None (pandas gives NA or NaN depending on the dtype)."""
    return [None if pd.isna(v) else v for v in series.tolist()]


# Emails -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@ACME.com ", "jane.doe@acme.com"),  # trimmed, lower-cased
        ("Jane.Doe+Newsletter@acme.com", "jane.doe@acme.com"),  # +tag dropped from the local part
        ("a+b+c@d.io", "a@d.io"),  # everything from the first + up to @
        ("bob@x.co.uk.", "bob@x.co.uk"),  # a trailing dot of the domain dropped
        ("first.last@sub.acme.co.uk", "first.last@sub.acme.co.uk"),  # the address keeps its subdomain
    ],
)
def test_normalize_email_trims_lowers_and_drops_the_plus_tag(raw, expected):
    assert _values(normalize_email(pd.Series([raw]))) == [expected]


@pytest.mark.parametrize("raw", ["not an email", "x@y", "+tag@x.com", "a@@b.com", "", None])
def test_anything_not_an_address_becomes_null(raw):
    assert _values(normalize_email(pd.Series([raw], dtype="object"))) == [None]


def test_normalize_email_keeps_the_index_and_repeated_values():
    s = pd.Series(["A@X.COM", None, "a@x.com", "A+1@x.com"], index=[10, 11, 12, 13])
    out = normalize_email(s)
    assert list(out.index) == [10, 11, 12, 13]
    assert _values(out) == ["a@x.com", None, "a@x.com", "a@x.com"]


def test_email_domain_is_the_part_after_the_at():
    out = email_domain(normalize_email(pd.Series(["Jo@Mail.Acme.com", None])))
    assert _values(out) == ["mail.acme.com", None]


# Registrable domains -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mail.eu.acme.co.uk", "acme.co.uk"),  # SPEC 4.1 example: co.uk is the public suffix
        ("www.Acme.com.", "acme.com"),  # www. and the trailing dot dropped, lower-cased
        ("http://www.Mail.EU.Acme.co.uk/x?y=1", "acme.co.uk"),  # scheme, path and query of a URL ignored
        ("https://user@shop.example.com:8080/p", "example.com"),  # user info and port ignored
        ("acme.com..", "acme.com"),  # several trailing dots
        ("koala.com.au", "koala.com.au"),  # already registrable under com.au
        ("www2.acme.de", "acme.de"),  # www2. counts as www.
        ("ACME-GROUP.COM", "acme-group.com"),
        ("LOCALHOST", "localhost"),  # a single label: the host itself
        ("co.uk", None),  # a bare public suffix: no label under it to register
        ("   ", None),
        (None, None),
    ],
)
def test_registrable_domain(raw, expected):
    assert _values(registrable_domain(pd.Series([raw], dtype="object"))) == [expected]


def test_wildcard_and_exception_rules_of_the_public_suffix_list():
    # PSL has "*.kawasaki.jp" (any label under kawasaki.jp is a suffix) and the exception
    # "!city.kawasaki.jp" (city.kawasaki.jp is registrable, its suffix is kawasaki.jp).
    out = registrable_domain(pd.Series(["a.b.c.kawasaki.jp", "www.city.kawasaki.jp"]))
    assert _values(out) == ["b.c.kawasaki.jp", "city.kawasaki.jp"]


# Company names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme, Inc.", "acme"),
        ("ACME Incorporated", "acme"),
        ("The Acme Company", "acme"),  # leading "the" and a legal suffix dropped
        ("Acme Holdings Ltd.", "acme holdings"),  # only legal-form words go
        ("Société Générale S.A.", "societe generale"),  # accents; "S.A." -> "sa", a legal suffix
        ("Dillard\u2019s", "dillards"),  # curly apostrophe straightened, then dropped
        ("AT&T", "at and t"),
        ("Co", "co"),  # a name that is only a legal word is kept
        ("  !! ", None),
        (None, None),
    ],
)
def test_normalize_company_name(raw, expected):
    assert _values(normalize_company_name(pd.Series([raw], dtype="object"))) == [expected]


# URL paths and pattern matching --------------------------------------------------------------------------
def test_url_path_drops_scheme_host_query_and_fragment():
    urls = pd.Series(["https://www.x.io/Pricing?a=1#top", "https://x.io", "/a/b", "HTTP://X.IO/", None], dtype="object")
    assert _values(url_path(urls)) == ["/pricing", "/", "/a/b", "/", None]


def test_matches_is_case_insensitive_by_default_and_null_never_matches():
    s = pd.Series(["abc", None, "ABC"], dtype="object")
    assert matches(s, "b").tolist() == [True, False, True]
    assert matches(s, "b", case=True).tolist() == [True, False, False]
