"""Account matching (SPEC sections 4.3-4.5): the reference maps and the first rule that applies.

Order for an event: CRM activity keeps its account; CRM contact email; the account a Segment
`group` call tied the person to (resolve/calls.py); email domain or alt domain (free-mail
never); the person's account through the graph (cookie stitch); reverse IP (corporate ranges
only); ad company domain, then normalised company name. What matches nothing
gets one reason: free_mail, unknown_domain, shared_device, unknown_company, isp_ip, no_identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import isin, lookup, positions, sorted_codes, take_at, to_arrow, to_series
from include.scoring.core.normalize import email_domain, normalize_company_name, normalize_email, registrable_domain
from include.scoring.resolve.graph import CONTACT, EMAIL, Graph

METHODS = ("crm_activity", "crm_contact", "group_call", "email_domain", "cookie_stitch", "reverse_ip", "ad_company")
REASONS = ("free_mail", "unknown_domain", "shared_device", "unknown_company", "isp_ip", "no_identifier")


@dataclass
class Reference:
    domain_account: pd.Series  # registrable domain -> account_id (email matching skips free-mail ones)
    name_account: pd.Series  # normalised company name -> account_id
    contacts: pd.DataFrame  # contact_id, account_id, email_norm, role
    free_domains: set[str]
    ranges: pd.DataFrame  # cidr, kind, account_id (corporate ranges of accounts), company_known
    firings: list[dict] = field(default_factory=list)
    contact_edges: pd.DataFrame | None = None  # contact id - email links of the CRM, when worked out ahead

    @cached_property
    def contact_by_id(self) -> pd.DataFrame:
        """Contacts by id (the first row of a repeated id); built once, used by both account steps."""
        return self.contacts.drop_duplicates("contact_id").set_index("contact_id")

    @cached_property
    def contact_by_email(self) -> pd.DataFrame:
        """Contacts by normalised email: the lowest contact id of an address several contacts share."""
        return (
            self.contacts.dropna(subset=["email_norm"])
            .sort_values("contact_id")
            .drop_duplicates("email_norm")
            .set_index("email_norm")
        )


def _first_claim(keys: pd.Series, accounts: pd.DataFrame, rule: str, firings: list[dict]) -> pd.Series:
    """key -> account_id; when several accounts claim a key the top-level (then lowest) id wins."""
    frame = pd.DataFrame(
        {
            "key": keys.to_numpy(),
            "account_id": accounts["account_id"].to_numpy(),
            "child": accounts["parent_account_id"].notna().to_numpy(),
        }
    )
    frame = frame.dropna(subset=["key"]).sort_values(["key", "child", "account_id"], kind="stable")
    dup = frame.duplicated("key", keep=False)
    for key, group in frame[dup].groupby("key"):
        firings.append(
            {
                "rule": rule,
                "identifier": str(key),
                "detail": f"claimed by {', '.join(group['account_id'])}; {group['account_id'].iat[0]} wins",
                "count": len(group),
            }
        )
    first = frame.drop_duplicates("key", keep="first")
    return pd.Series(first["account_id"].to_numpy(), index=first["key"].to_numpy())


def build_reference(
    accounts: pd.DataFrame, contacts: pd.DataFrame, ip_ranges: pd.DataFrame, free_domains: set[str]
) -> Reference:
    firings: list[dict] = []
    alt = (
        accounts[["account_id", "parent_account_id"]]
        .assign(alt=accounts["alt_domains"].astype("string").str.split(","))
        .explode("alt")
    )
    domain_rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "account_id": accounts["account_id"],
                    "parent_account_id": accounts["parent_account_id"],
                    "d": accounts["domain"].astype("string"),
                }
            ),
            pd.DataFrame(
                {
                    "account_id": alt["account_id"],
                    "parent_account_id": alt["parent_account_id"],
                    "d": alt["alt"].astype("string").str.strip(),
                }
            ),
        ],
        ignore_index=True,
    )
    domain_rows["key"] = registrable_domain(domain_rows["d"])
    freemail = isin(domain_rows["key"], free_domains)
    for _, row in domain_rows[freemail].iterrows():
        firings.append(
            {
                "rule": "free_mail_account_domain",
                "identifier": str(row["key"]),
                "detail": f"account {row['account_id']}'s domain is on the free-mail list: its emails match by CRM "
                "contact only, never by domain",
                "count": 1,
            }
        )
    domain_account = _first_claim(domain_rows["key"], domain_rows, "domain_conflict", firings)
    name_account = _first_claim(normalize_company_name(accounts["name"]), accounts, "name_conflict", firings)
    c = contacts[["contact_id", "account_id", "role"]].copy()
    c["email_norm"] = normalize_email(contacts["email"])
    ranges = ip_ranges.copy()
    corp = ranges["kind"] == "corporate"
    by_domain = lookup(registrable_domain(ranges["company_domain"]), domain_account)
    by_name = lookup(normalize_company_name(ranges["company_name"]), name_account)
    ranges["account_id"] = by_domain.fillna(by_name).where(corp)
    ranges["company_known"] = corp & (ranges["company_domain"].notna() | ranges["company_name"].notna())
    return Reference(domain_account, name_account, c, set(free_domains), ranges, firings)


def person_accounts(graph: Graph, ref: Reference, wanted: pd.Series | None = None) -> pd.DataFrame:
    """Per person (component) of the graph: its account, contact and role, when it has them.
    Only the persons in `wanted` (the day's events) when given."""
    if graph.person_of.empty:
        return pd.DataFrame(columns=["person_key", "p_account", "p_contact", "p_role"]).set_index("person_key")
    nodes = pd.DataFrame({"node": graph.person_of.index, "person_key": graph.person_of.to_numpy()})
    if wanted is not None:
        nodes = nodes[isin(nodes["person_key"], wanted.dropna().drop_duplicates())]  # a Series: stays in Arrow
    rank = nodes["node"].str[0]
    value = nodes["node"].str[2:]
    contacts = ref.contact_by_id
    by_email = ref.contact_by_email
    contact_id = value.where(rank == CONTACT).fillna(lookup(value.where(rank == EMAIL), by_email["contact_id"]))
    acc_contact = lookup(contact_id, contacts["account_id"])
    domains = email_domain(value.where(rank == EMAIL))
    reg = registrable_domain(domains)
    acc_domain = lookup(reg.where(~isin(reg, ref.free_domains)), ref.domain_account)
    account = acc_contact.fillna(acc_domain)
    # Grouped on integer codes that sort as the text does: per person the account of the best
    # priority (0: a contact's, 1: an email domain's), then the most nodes, then the smallest id;
    # and the smallest contact id.
    persons, person = sorted_codes(nodes["person_key"])
    accounts, acc = sorted_codes(account)
    prio = np.where(acc_contact.notna().to_numpy(), 0, 1)
    has = acc >= 0
    n_acc = max(len(accounts), 1)
    combo, n = np.unique((person[has] * 2 + prio[has]) * n_acc + acc[has], return_counts=True)
    c_person, c_acc = combo // (2 * n_acc), combo % n_acc
    ranked = np.lexsort((c_acc, -n, (combo // n_acc) % 2, c_person))
    best = ranked[np.diff(c_person[ranked], prepend=-1) != 0]  # each person's first (codes are >= 0)
    p_account = np.full(len(persons), -1, np.int64)
    p_account[c_person[best]] = c_acc[best]
    contact_ids, contact = sorted_codes(contact_id)
    with_contact = contact >= 0
    p_contact = np.full(len(persons), len(contact_ids), np.int64)
    np.minimum.at(p_contact, person[with_contact], contact[with_contact])
    p_contact[p_contact == len(contact_ids)] = -1
    keep = (p_account >= 0) | (p_contact >= 0)
    out = pd.DataFrame(
        {
            "p_account": take_at(to_series(accounts), p_account[keep], None),
            "p_contact": take_at(to_series(contact_ids), p_contact[keep], None),
        }
    ).set_axis(pd.Index(to_series(persons.filter(pa.array(keep))).array, name="person_key"))
    out["p_role"] = lookup(out["p_contact"], contacts["role"])
    return out


def _known_company_ip(known: pd.Series, range_row: np.ndarray) -> np.ndarray:
    """Whether each event's IP range (-1: none) names a company the CRM knows."""
    flags = known.to_numpy(dtype=bool)
    if not len(flags):
        return np.zeros(len(range_row), dtype=bool)
    return np.where(range_row >= 0, flags[np.maximum(range_row, 0)], False)


#: why an event stays unresolved, in the order the reasons are tried (SPEC section 4.3)
_REASONS = pa.array(["free_mail", "unknown_domain", "shared_device", "unknown_company", "isp_ip", "no_identifier"])


@dataclass
class DirectMatches:
    """The accounts an event's own identifiers name, without its person: they need only the
    reference, so a whole-day run works them out on its helper thread while prepare builds the
    person graph."""

    crm: pd.Series  # the CRM activity's own account
    contact: pd.Series  # the account of the CRM contact with the event's email
    direct_contact: pd.Series  # that contact
    free: pd.Series  # the email's domain is a free-mail one
    domain: pd.Series  # the account of the email's registrable domain (not free mail)
    ip: pd.Series  # the account a corporate IP range names
    ad: pd.Series  # the account of an ad's company domain or name
    known_company_ip: np.ndarray  # the IP range names a company the CRM knows

    def rows(self, at: slice) -> DirectMatches:
        """The matches of a range of the events' rows."""
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        return DirectMatches(**{k: v.iloc[at] if isinstance(v, pd.Series) else v[at] for k, v in parts.items()})


def direct_matches(ev: pd.DataFrame, ref: Reference) -> DirectMatches:
    contact_by_email = ref.contact_by_email
    at_email = positions(ev["email_norm"], contact_by_email.index)
    free = pd.Series(isin(ev["email_reg_domain"], ref.free_domains), index=ev.index)
    range_row = ev["ip_range_row"].to_numpy()
    acc_ad = lookup(ev["company_reg_domain"], ref.domain_account).fillna(
        lookup(ev["company_name_norm"], ref.name_account)
    )
    return DirectMatches(
        crm=ev["crm_account_id"].where(ev["source"] == "crm"),
        contact=take_at(contact_by_email["account_id"], at_email, ev.index),
        direct_contact=take_at(contact_by_email["contact_id"], at_email, ev.index),
        free=free,
        domain=lookup(ev["email_reg_domain"].where(~free), ref.domain_account),
        ip=take_at(ref.ranges["account_id"], range_row, ev.index).where(ev["ip_kind"] == "corporate"),
        ad=acc_ad.where(ev["source"] == "ad"),
        known_company_ip=_known_company_ip(ref.ranges["company_known"], range_row),
    )


def match_accounts(
    ev: pd.DataFrame, ref: Reference, persons: pd.DataFrame, direct: DirectMatches | None = None
) -> pd.DataFrame:
    """account_id, resolution_method, reason, contact_id and role for every event of `ev`
    (`direct`: `direct_matches(ev, ref)` when already worked out)."""
    direct = direct if direct is not None else direct_matches(ev, ref)
    at_person = positions(ev["person_key"], persons.index)  # the event's person's row (-1: none)
    acc_person = take_at(persons["p_account"], at_person, ev.index)
    acc_group = (
        take_at(persons["p_group"], at_person, ev.index)
        if "p_group" in persons
        else pd.Series(None, index=ev.index, dtype="string")
    )
    candidates = [
        ("crm_activity", direct.crm),
        ("crm_contact", direct.contact),
        ("group_call", acc_group),
        ("email_domain", direct.domain),
        ("cookie_stitch", acc_person),
        ("reverse_ip", direct.ip),
        ("ad_company", direct.ad),
    ]
    # The first rule with an account wins: Arrow's coalesce for the account, the first present
    # candidate's position for the method.
    arrays = [to_arrow(series) for _, series in candidates]
    account = to_series(pc.coalesce(*arrays), ev.index)
    present = [np.asarray(a.is_valid().to_numpy(zero_copy_only=False), dtype=bool) for a in arrays]
    first = np.select(present, list(range(len(candidates))), default=len(candidates))
    # labels taken from a short Arrow array: a million Python strings made into a column cost more
    names = pa.array([name for name, _ in candidates] + [None], pa.string())
    method = to_series(names.take(pa.array(first)), ev.index)
    has_email = ev["email_norm"].notna()
    company_data = (ev["source"] == "ad") & (ev["company_reg_domain"].notna() | ev["company_name_norm"].notna())
    known_company_ip = pd.Series(direct.known_company_ip, index=ev.index)
    why = np.select(
        [has_email & direct.free, has_email, ev["cookie_shared"], company_data | known_company_ip, ev["ip"].notna()],
        range(len(_REASONS) - 1),
        default=len(_REASONS) - 1,
    )
    reason = to_series(_REASONS.take(pa.array(why)), ev.index).where(account.isna())
    contact = ev["crm_contact_id"].where(ev["source"] == "crm").fillna(direct.direct_contact)
    contact = contact.fillna(take_at(persons["p_contact"], at_person, ev.index))
    role = lookup(contact, ref.contact_by_id["role"])
    return pd.DataFrame(
        {
            "account_id": account,
            "resolution_method": method,
            "reason": reason,
            "contact_id": contact.astype("string"),
            "role": role.astype("string"),
        }
    )
