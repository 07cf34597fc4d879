"""Salesforce through its REST API: `salesforce+https://TOKEN@INSTANCE_HOST` (TOKEN: an OAuth access
token, i.e. a session id).

Read: one SOQL query per object (`GET /services/data/vXX.X/query`, following `nextRecordsUrl` until
`done`), fields from `crm.salesforce` in the config; with a high-water mark only the records whose
`LastModifiedDate` is later. Push: `PATCH /services/data/vXX.X/composite/sobjects`, at most 200
records a call with `allOrNone: false`, so one rejected record never holds back the others.
Field checks (init-crm, and before each push): `GET .../sobjects/<object>/describe`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import numpy as np
import pandas as pd

from include.scoring.core.contracts import CONTRACTS
from include.scoring.core.source_config import Crm
from include.scoring.crm.api_client import ApiClient, CrmApiError, parse_endpoint
from include.scoring.crm.base import (
    PUSHED_FIELDS,
    CrmConnector,
    CrmNotInitialized,
    CrmRead,
    CrmTable,
    PushOutcome,
    changed_accounts,
    push_values,
)
from include.scoring.crm.records import (
    activity_types,
    column,
    first_present,
    map_values,
    rule_fields,
    skipped_examples,
    table_of,
)

AUTH_HINT = (
    "Get a new access token (session id) for the integration user, put it in ENGAGEMENT_CRM_URL / the "
    "engagement_crm connection as salesforce+https://TOKEN@INSTANCE_HOST, and clear the task. Nothing was written."
)


def describe_error(response) -> str:
    """`ERROR_CODE: message` from a Salesforce error body (a list of {errorCode, message})."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(f"{e.get('errorCode', '?')}: {e.get('message', '')}"[:300] for e in body[:3])
    return str(body)[:300]


def rate_limited(response) -> bool:
    return response.status_code == 429 or (
        response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in describe_error(response)
    )


def soql_datetime(value: str) -> str:
    """An ISO-8601 time as a SOQL datetime literal (UTC to the millisecond, no quotes)."""
    stamp = pd.Timestamp(value).tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class SalesforceCrm(CrmConnector):
    kind = "salesforce"
    incremental = True

    def __init__(self, crm_url: str, crm: Crm):
        self.crm = crm
        self.sf = crm.salesforce
        self.api = ApiClient(
            parse_endpoint(crm_url, "salesforce"), crm.http, describe_error, rate_limited, auth_hint=AUTH_HINT
        )
        self.base = f"/services/data/{self.sf.api_version}"

    def close(self) -> None:
        self.api.close()

    # Read ---------------------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict]:
        """Every record of a SOQL query, page by page (nextRecordsUrl until done)."""
        headers = {"Sforce-Query-Options": f"batchSize={self.sf.query_batch_size}"}
        page = self.api.request("GET", f"{self.base}/query", params={"q": soql}, headers=headers)
        records = list(page.get("records", []))
        while not page.get("done", True):
            link = page.get("nextRecordsUrl")
            if not link:
                raise CrmApiError(f"salesforce at {self.api.endpoint.shown}: a query page is not done but has no link")
            page = self.api.request("GET", self.api.same_host_path(link), headers=headers)
            records += page.get("records", [])
        return records

    def _select(self, obj: str, fields: list[str | None], since: dict[str, str] | None) -> list[dict]:
        names = list(dict.fromkeys(f for f in fields if f))
        soql = f"SELECT {', '.join(names)} FROM {obj}"
        mark = (since or {}).get(obj)
        if mark:
            soql += f" WHERE {self.sf.modified_field} > {soql_datetime(mark)}"
        return self.query(soql + " ORDER BY Id")

    def read(self, since: dict[str, str] | None = None) -> CrmRead:
        a, c, act, o = self.sf.accounts, self.sf.contacts, self.sf.activities, self.sf.opportunities
        marks: dict[str, str | None] = {}
        skipped: dict[str, dict[str, int]] = {"activities": {}}

        def fetch(obj: str, fields: list[str | None]) -> list[dict]:
            records = self._select(obj, [*fields, self.sf.modified_field], since)
            stamps = pd.to_datetime(pd.Series(column(records, self.sf.modified_field)), utc=True, errors="coerce")
            newest = stamps.max() if len(stamps) else None
            marks[obj] = None if newest is None or pd.isna(newest) else newest.isoformat()
            return records

        acc = fetch(
            a.object,
            [
                a.account_id,
                a.name,
                a.domain,
                a.alt_domains,
                a.industry,
                a.employee_count,
                a.abm_tier,
                a.owner_email,
                a.sdr_email,
                a.parent_account_id,
                a.lifecycle,
                a.updated_at,
            ],
        )
        accounts = {
            "account_id": column(acc, a.account_id),
            "name": column(acc, a.name),
            "domain": column(acc, a.domain),
            "alt_domains": column(acc, a.alt_domains),
            "industry": column(acc, a.industry),
            "employee_count": column(acc, a.employee_count),
            "abm_tier": map_values(column(acc, a.abm_tier), a.abm_tier_values),
            "owner_email": column(acc, a.owner_email),
            "sdr_email": column(acc, a.sdr_email),
            "parent_account_id": column(acc, a.parent_account_id),
            "lifecycle": _lifecycle(column(acc, a.lifecycle), a.lifecycle_values, a.default_lifecycle),
            "updated_at": column(acc, a.updated_at),
        }
        con = fetch(
            c.object, [c.contact_id, c.account_id, c.email, c.first_name, c.last_name, c.title, c.role, c.updated_at]
        )
        contacts = {
            "contact_id": column(con, c.contact_id),
            "account_id": column(con, c.account_id),
            "email": column(con, c.email),
            "first_name": column(con, c.first_name),
            "last_name": column(con, c.last_name),
            "title": column(con, c.title),
            "role": map_values(column(con, c.role), c.role_values, c.default_role),
            "updated_at": column(con, c.updated_at),
        }
        parts = []
        for obj in act.objects:
            fields = [act.activity_id, act.account_id, act.contact_id, act.contact_type, act.notes]
            records = fetch(obj, [*fields, *act.occurred_at[obj], *rule_fields(act.rules, obj)])
            part = pd.DataFrame(
                {
                    "activity_id": column(records, act.activity_id),
                    "account_id": column(records, act.account_id),
                    "contact_id": column(records, act.contact_id),
                    "activity_type": activity_types(records, obj, act.rules),
                    "occurred_at": first_present(records, act.occurred_at[obj]),
                    "notes": column(records, act.notes),
                    "origin": f"salesforce:{obj}",
                },
                dtype=object,
            )
            if act.contact_type:  # WhoId may name a Lead: only a Contact's id is a contact_id
                is_contact = pd.Series(column(records, act.contact_type), dtype=object).eq("Contact").to_numpy(bool)
                part["contact_id"] = part["contact_id"].where(is_contact, None)
            for reason, count in skipped_examples(records, obj, part["activity_type"].tolist(), act.rules).items():
                skipped["activities"][reason] = count
            typed = part["activity_type"].notna().to_numpy(bool)
            no_account = typed & (part["account_id"].isna() | part["account_id"].eq("")).to_numpy(bool)
            if no_account.any():
                skipped["activities"][f"{obj} without {act.account_id}"] = int(no_account.sum())
            parts.append(part[typed & ~no_account])
        activities = {k: v.tolist() for k, v in pd.concat(parts, ignore_index=True).items()}
        opp = fetch(
            o.object,
            [o.opportunity_id, o.account_id, o.created_at, o.stage, o.is_closed, o.is_won, o.closed_at, o.amount],
        )
        opportunities = {
            "opportunity_id": column(opp, o.opportunity_id),
            "account_id": column(opp, o.account_id),
            "created_at": column(opp, o.created_at),
            "stage": column(opp, o.stage),
            "is_closed": column(opp, o.is_closed),
            "is_won": column(opp, o.is_won),
            "closed_at": column(opp, o.closed_at),
            "amount": column(opp, o.amount),
        }
        tables = {}
        for name, cols, obj in (
            ("accounts", accounts, [a.object]),
            ("contacts", contacts, [c.object]),
            ("activities", activities, act.objects),
            ("opportunities", opportunities, [o.object]),
        ):
            names = CONTRACTS[f"crm/{name}"].names
            origin = cols.pop("origin", None) or [f"salesforce:{obj[0]}"] * len(cols[names[0]])
            # full only when every object of the table was read whole; else merged into the last snapshot
            mode = "incremental" if any((since or {}).get(x) for x in obj) else "full"
            tables[name] = CrmTable(name, table_of(cols, names), np.array(origin, dtype=object), mode)
        modes = {obj: "incremental" if (since or {}).get(obj) else "full" for obj in marks}
        return CrmRead(tables, marks, skipped, modes, self.api.calls)

    # Fields -------------------------------------------------------------------------------------
    def object_fields(self, obj: str) -> set[str]:
        body = self.api.request("GET", f"{self.base}/sobjects/{quote(obj)}/describe")
        return {f["name"] for f in body.get("fields", [])}

    def missing_push_fields(self) -> list[str]:
        present = self.object_fields(self.sf.accounts.object)
        return [self.sf.push_fields[f.key] for f in PUSHED_FIELDS if self.sf.push_fields[f.key] not in present]

    def init_push_fields(self) -> list[str]:
        """Check the engagement fields exist on Account; creating fields in a customer's org is
        theirs to do, so a missing one is an error that says exactly what to create."""
        missing = set(self.missing_push_fields())
        if missing:
            wanted = [
                f"{self.sf.push_fields[f.key]} ({f.salesforce_type})"
                for f in PUSHED_FIELDS
                if self.sf.push_fields[f.key] in missing
            ]
            raise CrmNotInitialized(
                f"Salesforce at {self.api.endpoint.shown}: {self.sf.accounts.object} lacks the engagement field(s) "
                f"{', '.join(wanted)}. Create them (Setup > Object Manager > {self.sf.accounts.object} > Fields), "
                "give the integration user edit access, then run init-crm again (names: crm.salesforce.push_fields)."
            )
        return []

    # Push ---------------------------------------------------------------------------------------
    def current_values(self) -> pd.DataFrame:
        compared = [f for f in PUSHED_FIELDS if f.compared]
        a = self.sf.accounts
        records = self.query(
            f"SELECT {a.account_id}, {', '.join(self.sf.push_fields[f.key] for f in compared)} "
            f"FROM {a.object} ORDER BY Id"
        )
        frame = pd.DataFrame({"account_id": column(records, a.account_id)})
        for f in compared:
            frame[f"cur_{f.key}"] = column(records, self.sf.push_fields[f.key])
        return frame

    def push(self, scores: pd.DataFrame, day: date) -> PushOutcome:
        calls_before = self.api.calls
        missing = self.missing_push_fields()
        if missing:
            self.init_push_fields()  # raises CrmNotInitialized naming them
        changed, unchanged = changed_accounts(scores, self.current_values())
        values = push_values(changed, day)
        outcome = PushOutcome(unchanged=unchanged)
        records = [
            {
                "attributes": {"type": self.sf.accounts.object},
                "id": row["account_id"],
                **{self.sf.push_fields[f.key]: row[f.key] for f in PUSHED_FIELDS},
            }
            for row in values.to_dict("records")
        ]
        for start in range(0, len(records), self.sf.push_batch):
            batch = records[start : start + self.sf.push_batch]
            answer = self.api.request(
                "PATCH", f"{self.base}/composite/sobjects", json={"allOrNone": False, "records": batch}
            )
            outcome.batches.append(len(batch))
            for record, result in zip(batch, answer or []):
                if result.get("success"):
                    outcome.updated.append(record["id"])
                else:
                    errors = result.get("errors") or [{}]
                    reason = "; ".join(f"{e.get('statusCode', '?')}: {e.get('message', '')}" for e in errors)
                    outcome.failed.append((record["id"], reason[:300]))
        outcome.api_calls = self.api.calls - calls_before
        return outcome


def _lifecycle(values: list, mapping: dict[str, str], default: str) -> list:
    """Account Type -> lifecycle; a Type the map does not name is the default lifecycle (Type also
    holds partner kinds that are not lifecycles)."""
    mapped = map_values(values, mapping, default)
    known = set(mapping.values())
    return [v if v in known else default for v in mapped]
