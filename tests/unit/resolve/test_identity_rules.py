"""Identity resolution, rule by rule and reason by reason, on hand-made days."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.extract.segment import CALL_SCHEMA
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.stage import resolve_identities
from tests.unit.resolve.fixtures import BROWSER, CONTACTS, D, at, outcome, run, write_day


def test_email_normalisation_plus_tag_case_and_spaces(lake):
    f = run(
        lake,
        email=[
            {
                "event_id": "e1",
                "email": "  Jane.Doe+Newsletter@ACME.com ",
                "event_type": "click",
                "event_time": at(D, 12, 40),
            }
        ],
    )
    assert outcome(f, "e1") == ("A1", "crm_contact")
    assert f[0].loc["e1", "contact_id"] == "C1" and f[0].loc["e1", "role"] == "decision_maker"


def test_mail_subdomain_and_multi_part_suffixes(lake):
    f = run(
        lake,
        web=[
            {
                "event_id": "w1",
                "email": "bob@mail.eu.acme.com",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
            {
                "event_id": "w2",
                "email": "mick@sydney.koala.com.au",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
            {
                "event_id": "w3",
                "email": "liz@thames.co.uk",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
            {
                "event_id": "w4",
                "email": "kim@other.co.uk",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
        ],
    )
    assert outcome(f, "w1") == ("A1", "email_domain")
    assert outcome(f, "w2") == ("A2", "email_domain")
    assert outcome(f, "w3") == ("A3", "email_domain")
    assert outcome(f, "w4") == (None, "unknown_domain")  # co.uk is a suffix, not a company


def test_alt_domains_and_crm_domain_stored_as_a_url(lake):
    f = run(
        lake,
        email=[
            {"event_id": "e1", "email": "pat@acme-group.com", "event_type": "open", "user_agent": BROWSER},
            {"event_id": "e2", "email": "lou@acme.de", "event_type": "open", "user_agent": BROWSER},
            {"event_id": "e3", "email": "max@acme.com", "event_type": "open", "user_agent": BROWSER},
        ],
    )
    assert [outcome(f, e) for e in ("e1", "e2", "e3")] == [("A1", "email_domain")] * 3


def test_crm_contact_on_free_mail_wins_and_strangers_do_not_match(lake):
    f = run(
        lake,
        email=[
            {"event_id": "e1", "email": "Jo.Bloggs@gmail.com", "event_type": "open", "user_agent": BROWSER},
            {"event_id": "e2", "email": "someone.else@gmail.com", "event_type": "open", "user_agent": BROWSER},
            {"event_id": "e3", "email": "who@unknown-company.com", "event_type": "open", "user_agent": BROWSER},
        ],
    )
    assert outcome(f, "e1") == ("A2", "crm_contact")
    assert outcome(f, "e2") == (None, "free_mail")
    assert outcome(f, "e3") == (None, "unknown_domain")


def test_shared_device_links_nothing(lake):
    fills = [
        {
            "event_id": f"w{i}",
            "anonymous_id": "ck_kiosk",
            "email": e,
            "event_type": "form_submit",
            "form_type": "webinar_registration",
        }
        for i, e in enumerate(["jane.doe@acme.com", "sam@thames.co.uk", "mick@koala.com.au", "x@cloudnine.io"])
    ]
    anonymous = {"event_id": "w9", "anonymous_id": "ck_kiosk", "ip": "70.9.9.9"}
    f = run(lake, web=[*fills, anonymous])
    assert [outcome(f, f"w{i}")[0] for i in range(4)] == ["A1", "A3", "A2", "A4"]
    assert outcome(f, "w9") == (None, "shared_device")
    rules = lake.read_df(catalog.IDENTITY_RULES, D)
    fired = rules[rules["rule"] == "shared_device"]
    assert fired["identifier"].tolist() == ["ck_kiosk"] and fired["count"].tolist() == [4]


def test_three_emails_on_a_cookie_still_link(lake):
    fills = [
        {
            "event_id": f"w{i}",
            "anonymous_id": "ck_family",
            "email": e,
            "event_type": "form_submit",
            "form_type": "webinar_registration",
        }
        for i, e in enumerate(["jane.doe@acme.com", "a@gmail.com", "b@gmail.com"])
    ]
    f = run(lake, web=[*fills, {"event_id": "w9", "anonymous_id": "ck_family"}])
    assert outcome(f, "w9") == ("A1", "cookie_stitch")


def test_blocked_placeholders_never_link(lake):
    f = run(
        lake,
        web=[
            {
                "event_id": "w1",
                "anonymous_id": "ck_x",
                "email": "test@acme.com",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
            {"event_id": "w2", "anonymous_id": "ck_x"},
            {
                "event_id": "w3",
                "anonymous_id": "abc123",
                "email": "jane.doe@acme.com",
                "event_type": "form_submit",
                "form_type": "content_download",
            },
            {"event_id": "w4", "anonymous_id": "abc123", "ip": "70.2.2.2"},
        ],
    )
    assert outcome(f, "w1") == (None, "isp_ip")  # the placeholder email is not an identifier
    assert outcome(f, "w2") == (None, "isp_ip")  # ...so it identified nothing
    assert outcome(f, "w3") == ("A1", "crm_contact")
    assert outcome(f, "w4") == (None, "isp_ip")  # the placeholder cookie did not link to Jane
    rules = lake.read_df(catalog.IDENTITY_RULES, D).set_index("rule")
    assert rules.loc["blocked_email", "identifier"] == "test@acme.com"
    assert rules.loc["blocked_anonymous_id", "count"] == 2


def test_placeholder_emails_on_crm_contacts_never_link_them(lake):
    # two contacts of different accounts filed under the same role address: not one person (SPEC 4.2)
    contacts = [
        *CONTACTS,
        {"contact_id": "C8", "account_id": "A1", "email": "info@acme.com", "role": "user"},
        {"contact_id": "C9", "account_id": "A4", "email": " Info@Acme.com", "role": "champion"},
    ]
    acts = [
        {"activity_id": f"X{n}", "account_id": a, "contact_id": f"C{n}", "activity_type": "call_completed"}
        | {"occurred_at": at(D, 9)}
        for n, a in ((8, "A1"), (9, "A4"))
    ]
    write_day(lake, activities=acts, contacts=contacts)
    resolve_identities(lake, load_config(), D)
    resolved = lake.read_df(catalog.RESOLVED, D).set_index("event_id")
    assert resolved.loc["X8", "person_key"] != resolved.loc["X9", "person_key"]
    edges = lake.read_df(catalog.IDENTITY, D)
    assert not (edges["a"] + " " + edges["b"]).str.contains("info@acme.com").any()
    assert ("1:C1", "2:jane.doe@acme.com") in set(zip(edges["a"], edges["b"], strict=True))  # real emails still link


def test_group_call_with_a_padded_group_id_ties_the_account(lake):
    calls = pd.DataFrame(
        {
            "event_id": ["g1"],
            "event_time": [at(D, 8)],
            "kind": ["group"],
            "anonymous_id": ["ck_grouped"],
            "user_id": [None],
            "email": [None],
            "group_id": [" A4 "],  # groupId as a source sent it, spaces and all
            "group_domain": [None],
            "source_file": ["segment/test"],
            "source_line": [1],
        }
    )
    lake.write_partition(catalog.CALLS, D, calls, schema=CALL_SCHEMA)
    f = run(lake, web=[{"event_id": "w1", "anonymous_id": "ck_grouped"}])
    assert outcome(f, "w1") == ("A4", "group_call")


def test_reverse_ip_longest_prefix_ipv4_and_ipv6(lake):
    f = run(
        lake,
        web=[
            {"event_id": "w1", "ip": "20.0.5.77"},
            {"event_id": "w2", "ip": "20.0.6.77"},
            {"event_id": "w3", "ip": "2001:db8:5::9"},
            {"event_id": "w4", "ip": "2001:db8:9::9"},
            {"event_id": "w5", "ip": "100.70.1.1"},
            {"event_id": "w6", "ip": "45.0.1.1"},
            {"event_id": "w7", "ip": "8.8.8.8"},
        ],
    )
    assert outcome(f, "w1") == ("A1", "reverse_ip")  # the corporate /24 inside the ISP /12
    assert outcome(f, "w2") == (None, "isp_ip")
    assert outcome(f, "w3") == ("A4", "reverse_ip")  # IPv6 /48 inside a /32
    assert outcome(f, "w4") == (None, "isp_ip")
    assert outcome(f, "w5") == (None, "isp_ip")  # mobile
    assert outcome(f, "w6") == (None, "unknown_company")  # a corporate range of a non-account
    assert outcome(f, "w7") == (None, "isp_ip")  # in no range at all


def test_ad_company_domain_then_name_variants(lake):
    names = ["Acme, Inc.", "ACME INCORPORATED", "Acme Corp", "\u201cAcme\u201d", "acme corporation"]
    f = run(
        lake,
        ad=[
            {"event_id": "a0", "company_domain": "www.Koala.com.au"},
            *[{"event_id": f"a{i + 1}", "company_name": n} for i, n in enumerate(names)],
            {"event_id": "a9", "company_name": "Initech LLC"},
            {"event_id": "a10"},
        ],
    )
    assert outcome(f, "a0") == ("A2", "ad_company")
    assert {outcome(f, f"a{i + 1}") for i in range(len(names))} == {("A1", "ad_company")}
    assert outcome(f, "a9") == (None, "unknown_company")
    assert outcome(f, "a10") == (None, "no_identifier")


def test_cookie_identified_on_one_day_resolves_later_visits(lake):
    day2 = D + timedelta(days=4)
    run(
        lake,
        web=[
            {
                "event_id": "w1",
                "anonymous_id": "ck_9",
                "email": "sam@thames.co.uk",
                "event_type": "form_submit",
                "form_type": "demo_request",
            }
        ],
    )
    for d in range(1, 4):  # the days between have their own (unrelated) data
        write_day(lake, D + timedelta(days=d))
        resolve_identities(lake, load_config(), D + timedelta(days=d))
    f = run(lake, day2, web=[{"event_id": "w2", "anonymous_id": "ck_9", "ip": "70.3.3.3"}])
    assert outcome(f, "w2") == ("A3", "cookie_stitch")
    assert f[0].loc["w2", "contact_id"] == "C3" and f[0].loc["w2", "role"] == "champion"


def test_missing_snapshot_is_rebuilt_from_history(lake):
    run(
        lake,
        web=[
            {
                "event_id": "w1",
                "anonymous_id": "ck_9",
                "email": "sam@thames.co.uk",
                "event_type": "form_submit",
                "form_type": "demo_request",
            }
        ],
    )
    lake.delete_partition(catalog.IDENTITY, D)
    f = run(lake, D + timedelta(days=1), web=[{"event_id": "w2", "anonymous_id": "ck_9"}])
    assert outcome(f, "w2") == ("A3", "cookie_stitch")


def test_person_key_is_stable_and_shared_by_linked_identifiers(lake):
    f = run(
        lake,
        web=[
            {
                "event_id": "w1",
                "anonymous_id": "ck_7",
                "email": "sam@thames.co.uk",
                "event_type": "form_submit",
                "form_type": "demo_request",
            },
            {"event_id": "w2", "anonymous_id": "ck_7"},
        ],
        email=[{"event_id": "e1", "email": "SAM@thames.co.uk", "event_type": "open", "user_agent": BROWSER}],
    )
    keys = {f[0].loc[e, "person_key"] for e in ("w1", "w2", "e1")}
    assert len(keys) == 1
    lake2 = Lake(str(lake.root) + "-again")
    f2 = run(
        lake2,
        web=[
            {
                "event_id": "w1",
                "anonymous_id": "ck_7",
                "email": "sam@thames.co.uk",
                "event_type": "form_submit",
                "form_type": "demo_request",
            },
            {"event_id": "w2", "anonymous_id": "ck_7"},
        ],
        email=[{"event_id": "e1", "email": "SAM@thames.co.uk", "event_type": "open", "user_agent": BROWSER}],
    )
    assert f2[0].loc["w2", "person_key"] == keys.pop()
