"""Account matching (SPEC 4.3-4.5) on in-memory CRM, reference and event frames: the first rule
that applies, in the order crm_activity, crm_contact, email_domain, cookie_stitch, reverse_ip,
ad_company; otherwise exactly one reason."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.resolve.graph import build_graph
from include.scoring.resolve.inputs import UNIFIED, normalise_events
from include.scoring.resolve.rules import build_reference, match_accounts, person_accounts

CFG = load_config()
FREE = {"gmail.com", "yahoo.com"}
T = pd.Timestamp("2026-07-01 12:00", tz="UTC")

ACCOUNTS = pd.DataFrame(
    [
        # the CRM domain stored as a URL; alt domains with odd case and spaces
        {
            "account_id": "A1",
            "name": "Acme, Inc.",
            "domain": "http://www.acme.com/",
            "alt_domains": "ACME-GROUP.COM, acme.de",
        },
        {"account_id": "A2", "name": "Koala Mining", "domain": "koala.com.au", "alt_domains": None},
        {"account_id": "A3", "name": "Thames Water", "domain": "mail.thames.co.uk", "alt_domains": None},
    ]
).assign(parent_account_id=None)
CONTACTS = pd.DataFrame(
    [
        {"contact_id": "C1", "account_id": "A1", "email": "Jane.Doe@acme.com", "role": "decision_maker"},
        {"contact_id": "C2", "account_id": "A2", "email": "jo@gmail.com", "role": "user"},  # a contact on free mail
        {"contact_id": "C3", "account_id": "A2", "email": "ceo@acme.com", "role": "champion"},  # acme address, A2
    ]
)
RANGES = pd.DataFrame(
    [
        {"cidr": "20.0.0.0/12", "company_domain": None, "company_name": "Overlap Telecom", "kind": "isp"},
        {"cidr": "20.0.5.0/24", "company_domain": "acme.com", "company_name": "Acme", "kind": "corporate"},
        {"cidr": "30.0.0.0/16", "company_domain": None, "company_name": "Koala Mining Pty Ltd", "kind": "corporate"},
        {"cidr": "45.0.0.0/16", "company_domain": "globex.example", "company_name": "Globex", "kind": "corporate"},
        {"cidr": "50.0.0.0/16", "company_domain": None, "company_name": None, "kind": "corporate"},
    ]
)
REF = build_reference(ACCOUNTS, CONTACTS, RANGES, FREE)
NO_PERSONS = pd.DataFrame(
    {
        "p_account": pd.Series(dtype="string"),
        "p_contact": pd.Series(dtype="string"),
        "p_role": pd.Series(dtype="string"),
    },
    index=pd.Index([], name="person_key", dtype="string"),
)


def _resolve(rows: list[dict], persons: pd.DataFrame = NO_PERSONS, shared: tuple = ()) -> pd.DataFrame:
    """Events in the unified columns, normalised as the stage does, then matched."""
    defaults = dict.fromkeys(UNIFIED)
    frame = pd.DataFrame([{**defaults, "event_time": T, "event_type": "page_view", **r} for r in rows], columns=UNIFIED)
    ev = normalise_events(frame, CFG, RANGES)
    ev["cookie_shared"] = ev["anonymous_id"].isin(list(shared)).fillna(False).astype(bool)
    ev["person_key"] = pd.Series([r.get("person") for r in rows], dtype="string")
    return match_accounts(ev, REF, persons)


def _one(row: dict, **kw) -> tuple:
    out = _resolve([row], **kw).iloc[0]
    return tuple(None if pd.isna(out[c]) else out[c] for c in ("account_id", "resolution_method", "reason"))


# The reference ----------------------------------------------------------------------------------------
def test_reference_domains_are_registrable_and_include_alt_domains():
    assert REF.domain_account.to_dict() == {
        "acme.com": "A1",
        "acme-group.com": "A1",
        "acme.de": "A1",
        "koala.com.au": "A2",
        "thames.co.uk": "A3",  # mail.thames.co.uk reduced to its registrable domain
    }
    assert REF.name_account.to_dict() == {"acme": "A1", "koala mining": "A2", "thames water": "A3"}


def test_domain_claimed_by_parent_and_child_goes_to_the_top_level_account_and_is_logged():
    accounts = pd.DataFrame(
        [
            {"account_id": "B9", "name": "Beta", "domain": "beta.com", "alt_domains": None, "parent_account_id": None},
            {
                "account_id": "B1",
                "name": "Beta EU",
                "domain": "beta.com",
                "alt_domains": None,
                "parent_account_id": "B9",
            },
        ]
    )
    ref = build_reference(accounts, CONTACTS.iloc[:0], RANGES.iloc[:0], FREE)
    assert ref.domain_account["beta.com"] == "B9"  # B1 sorts first, but it is a child account
    assert [f["rule"] for f in ref.firings] == ["domain_conflict"]


def test_free_mail_account_domain_never_matches_by_domain():
    accounts = pd.DataFrame(
        [{"account_id": "G1", "name": "Solo", "domain": "gmail.com", "alt_domains": None, "parent_account_id": None}]
    )
    ref = build_reference(accounts, CONTACTS.iloc[:0], RANGES.iloc[:0], FREE)
    assert "free_mail_account_domain" in [f["rule"] for f in ref.firings]
    ev = normalise_events(
        pd.DataFrame([{**dict.fromkeys(UNIFIED), "event_time": T, "source": "web", "email": "x@gmail.com"}]),
        CFG,
        RANGES,
    ).assign(cookie_shared=False, person_key=pd.Series([None], dtype="string"))
    out = match_accounts(ev, ref, NO_PERSONS).iloc[0]
    assert pd.isna(out["account_id"]) and out["reason"] == "free_mail"


def test_ip_ranges_resolve_only_corporate_ranges_by_domain_then_by_name():
    ranges = REF.ranges
    assert ranges["account_id"].isna().tolist() == [True, False, False, True, True]
    assert ranges["account_id"].iat[1] == "A1"  # by company domain
    # no domain: by normalised name ("Koala Mining Pty Ltd" -> "koala mining"); SPEC 4.4 only says
    # "via their company domain"; the code falls back to the name as it does for ad events
    assert ranges["account_id"].iat[2] == "A2"
    assert ranges["company_known"].tolist() == [False, True, True, True, False]


# Order of the rules -------------------------------------------------------------------------------------
def test_crm_activity_keeps_its_account():
    # the activity names contact C1 (of A1), but the CRM filed it under A2
    row = {"source": "crm", "event_type": "call_completed", "crm_account_id": "A2", "crm_contact_id": "C1"}
    out = _resolve([row]).iloc[0]
    assert (out["account_id"], out["resolution_method"], out["contact_id"], out["role"]) == (
        "A2",
        "crm_activity",
        "C1",
        "decision_maker",
    )


def test_crm_contact_email_before_email_domain():
    # ceo@acme.com is a CRM contact of A2: the contact wins over the acme.com domain of A1
    assert _one({"source": "web", "email": "CEO+promo@Acme.com"}) == ("A2", "crm_contact", None)
    # a CRM contact on free mail still matches, through the contact
    assert _one({"source": "email", "event_type": "open", "email": "jo@gmail.com"}) == ("A2", "crm_contact", None)


def test_email_domain_alt_domain_and_subdomain():
    assert _one({"source": "web", "email": "bob@acme.com"}) == ("A1", "email_domain", None)
    assert _one({"source": "web", "email": "bob@mail.ACME-group.com"}) == ("A1", "email_domain", None)
    assert _one({"source": "web", "email": "amy@eu.thames.co.uk"}) == ("A3", "email_domain", None)


def test_email_domain_before_the_persons_account():
    persons = NO_PERSONS.reindex(pd.Index(["pk"], name="person_key"))
    persons.loc["pk", "p_account"] = "A1"
    row = {"source": "web", "email": "x@koala.com.au", "anonymous_id": "k1", "person": "pk"}
    assert _one(row, persons=persons) == ("A2", "email_domain", None)


def test_cookie_stitch_before_reverse_ip():
    persons = NO_PERSONS.reindex(pd.Index(["pk"], name="person_key"))
    persons.loc["pk", "p_account"] = "A2"
    row = {"source": "web", "anonymous_id": "k1", "ip": "20.0.5.7", "person": "pk"}  # an acme (A1) address
    assert _one(row, persons=persons) == ("A2", "cookie_stitch", None)


def test_reverse_ip_longest_prefix_and_only_corporate_ranges():
    assert _one({"source": "web", "anonymous_id": "k", "ip": "20.0.5.7"}) == ("A1", "reverse_ip", None)
    assert _one({"source": "web", "anonymous_id": "k", "ip": "20.1.0.1"}) == (None, None, "isp_ip")
    # corporate, but of a company that is no account
    assert _one({"source": "web", "anonymous_id": "k", "ip": "45.0.0.1"}) == (None, None, "unknown_company")


def test_ad_company_domain_then_normalised_name():
    assert _one({"source": "ad", "event_type": "click", "company_domain": "www.koala.com.au"}) == (
        "A2",
        "ad_company",
        None,
    )
    assert _one({"source": "ad", "event_type": "click", "company_name": "ACME Incorporated"}) == (
        "A1",
        "ad_company",
        None,
    )
    # domain first: the domain says A2 although the name says A1
    assert (
        _one({"source": "ad", "event_type": "click", "company_domain": "koala.com.au", "company_name": "Acme"})[0]
        == "A2"
    )
    assert _one({"source": "ad", "event_type": "click", "company_name": "Nobody Ltd"}) == (
        None,
        None,
        "unknown_company",
    )


def test_company_fields_only_count_on_ad_events():
    # a web event carrying a company domain does not resolve by it
    assert _one({"source": "web", "company_domain": "koala.com.au"}) == (None, None, "no_identifier")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"source": "web", "email": "stranger@gmail.com"}, "free_mail"),
        ({"source": "web", "email": "x@unknown.org", "ip": "20.1.0.1"}, "unknown_domain"),  # email reason before isp_ip
        ({"source": "web", "anonymous_id": "shared-k"}, "shared_device"),
        ({"source": "web", "anonymous_id": "k"}, "no_identifier"),
    ],
)
def test_unresolved_reasons(row, reason):
    assert _one(row, shared=("shared-k",)) == (None, None, reason)


def test_an_email_of_an_unknown_domain_still_resolves_by_a_later_rule():
    # no email rule applies, so the next rules are tried: the address is in acme's corporate range
    out = _resolve([{"source": "web", "email": "x@unknown.org", "ip": "20.0.5.7"}]).iloc[0]
    assert (out["account_id"], out["resolution_method"]) == ("A1", "reverse_ip")


# person_accounts -------------------------------------------------------------------------------------------
def test_person_accounts_contact_then_domain_then_most_emails():
    empty = pd.DataFrame({"a": pd.Series(dtype="string"), "b": pd.Series(dtype="string"), "first_seen": []})
    edges = pd.DataFrame(
        {
            "a": [
                "1:C2",
                "2:jo@gmail.com",
                "2:bob@acme.com",
                "2:x@gmail.com",
                "2:y@koala.com.au",
                "2:z@koala.com.au",
                "2:w@acme.de",
            ],
            "b": ["2:jo@gmail.com", "3:k1", "3:k2", "3:k3", "3:k4", "3:k4", "3:k4"],
        }
    )
    g = build_graph(empty, edges, date(2026, 7, 1), 3)
    out = person_accounts(g, REF)
    p = g.person_of
    # C2's person: the CRM contact (its free-mail address would match nothing by domain)
    assert (out.loc[p["3:k1"], "p_account"], out.loc[p["3:k1"], "p_contact"], out.loc[p["3:k1"], "p_role"]) == (
        "A2",
        "C2",
        "user",
    )
    assert out.loc[p["3:k2"], "p_account"] == "A1"  # by email domain
    assert out.loc[p["3:k4"], "p_account"] == "A2"  # two koala emails against one acme.de email
    assert p["3:k3"] not in out.index  # free mail only: no account
    wanted = person_accounts(g, REF, pd.Series([p["3:k2"], None]))
    assert list(wanted.index) == [p["3:k2"]]


def test_person_accounts_breaks_ties_by_the_smallest_id_and_a_contact_beats_more_domain_emails():
    empty = pd.DataFrame({"a": pd.Series(dtype="string"), "b": pd.Series(dtype="string"), "first_seen": []})
    links = {
        "3:k5": ["2:a@thames.co.uk", "2:b@koala.com.au"],  # one domain email each for A3 and A2
        "3:k6": ["1:C3", "2:q@acme.com", "2:r@acme.de"],  # contact C3 (of A2), two domain emails of A1
        "3:k7": ["1:C3", "2:ceo@acme.com", "2:jane.doe@acme.com"],  # C3's address again, and C1's (A1)
    }
    edges = pd.DataFrame([(n, k) for k, nodes in links.items() for n in nodes], columns=["a", "b"])
    g = build_graph(empty, edges, date(2026, 7, 1), 3)  # k6 and k7 share 1:C3: one person
    out = person_accounts(g, REF)
    p = g.person_of
    assert out.loc[p["3:k5"], "p_account"] == "A2"  # one email against one: the smaller id
    assert pd.isna(out.loc[p["3:k5"], "p_contact"])
    merged = out.loc[p["3:k6"]]
    # by contact: A2 twice (1:C3, ceo@) against A1 once (jane@), whatever A1's two domain emails;
    # the person's contact is the smallest id, C1
    assert (merged["p_account"], merged["p_contact"], merged["p_role"]) == ("A2", "C1", "decision_maker")
