"""The world's people and accounts as flat numpy arrays, for the daily event draws.

Pulled out of the world's data frames once, so that each source's generator can index them by
person or account row for a whole day's events at once; also how a day's ground truth is framed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from include.sample.companies import name_variants
from include.sample.people import KIND_BOT, KIND_CONTACT, KIND_EMPLOYEE, KIND_FREEMAIL, KIND_VISITOR
from include.sample.world import World
from include.scoring.core.sources import SHIPPED_FREE_MAIL


class Population:
    """Per-person arrays (indexed by person row) and per-account arrays (by account row)."""

    def __init__(self, world: World):
        self.world = world
        p = world.persons
        self.n_persons = len(p)
        kind = p["kind"].to_numpy()
        self.kind = kind
        self.account = p["account"].to_numpy()
        self.email = p["email"].to_numpy()
        self.cookie = np.stack([p["cookie"].to_numpy(), p["cookie2"].fillna(p["cookie"]).to_numpy()], axis=1)
        self.ip = p["ip"].to_numpy()
        self.role = p["role"].to_numpy()
        self.proxy = p["privacy_proxy"].to_numpy()
        #: an email that the SPEC rules resolve: a CRM contact's, or a work email at an account
        #: domain that is not itself on the free-mail list (facebook.com is, for one)
        free = set(SHIPPED_FREE_MAIL.read_text(encoding="utf-8").split())
        domain_is_free = world.accounts["true_domain"].isin(free).to_numpy()
        acct = np.maximum(p["account"].to_numpy(), 0)
        self.email_resolvable = (kind == KIND_CONTACT) | ((kind == KIND_EMPLOYEE) & ~domain_is_free[acct])
        self.office_ip = np.array([not str(x).startswith(("70.", "80.", "100.")) for x in self.ip])
        acc = world.accounts
        self.acc_ids = acc["account_id"].to_numpy()
        self.intent = acc["intent"].to_numpy()
        self.n_people = np.diff(world.account_person_offsets)
        self.contacts_idx = np.flatnonzero(kind == KIND_CONTACT)
        self.free_idx = np.flatnonzero(kind == KIND_FREEMAIL)
        self.visitor_idx = np.flatnonzero(kind == KIND_VISITOR)
        self.bot_idx = np.flatnonzero(kind == KIND_BOT)
        self.employee_idx = np.flatnonzero((kind == KIND_CONTACT) | (kind == KIND_EMPLOYEE))
        contact_rows = world.persons.index[kind == KIND_CONTACT]
        self.contact_of_account_offsets = np.searchsorted(self.account[contact_rows], np.arange(len(acc) + 1))
        self.contact_rows = contact_rows.to_numpy()
        self.name_variants = name_variants(acc["name"].to_numpy())

    def account_people(self, accts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random person (contact or employee) of each given account row."""
        offs = self.world.account_person_offsets
        pos = offs[accts] + (rng.random(len(accts)) * self.n_people[accts]).astype(np.int64)
        return self.world.account_person_index[pos]

    def truth(
        self,
        source: str,
        persons: np.ndarray,
        kind: str | np.ndarray,
        slot: np.ndarray,
        office: np.ndarray,
        *,
        email_used: np.ndarray,
        company_known: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Ground truth rows for events by `persons` (-1: nobody known). The underscored columns
        say what the event reveals (email, cookie slot, office IP, company); the day generator
        turns them into `resolvable` and drops them."""
        acct = np.where(persons >= 0, self.account[np.maximum(persons, 0)], -1)
        return pd.DataFrame(
            {
                "source": source,
                "true_account_id": np.where(acct >= 0, self.acc_ids[np.maximum(acct, 0)], None),
                "true_person_id": persons,
                "kind": kind,
                "_email_used": email_used,
                "_cookie_slot": slot,
                "_office": office,
                "_company_known": company_known if company_known is not None else np.zeros(len(persons), bool),
            }
        )
