"""HubSpot through its CRM v3 API: `hubspot+https://TOKEN@api.hubapi.com` (TOKEN: a private app's
access token, scopes crm.objects.companies/contacts/deals.read, companies.write, owners.read, and
the schema read scope for init-crm).

Read: `GET /crm/v3/objects/{companies,contacts,deals,calls,meetings}` with `limit`, `properties`
and `associations`, following `paging.next.after`; owners become emails through `GET /crm/v3/owners`.
With a high-water mark only what changed is read: `POST /crm/v3/objects/<object>/search` on the
last-modified property, and the changed records' companies and contacts through
`POST /crm/v4/associations/<from>/<to>/batch/read` (search returns no associations). Records
that belong to no company (a contact, deal or call without one) are not part of the snapshot and
are counted. Push: `POST /crm/v3/objects/companies/batch/update`, at most 100 inputs a call.
Requests stay within the private app's budget per rolling 10 seconds; a 429 waits as long as
`Retry-After` says.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.scoring.core.contracts import CONTRACTS
from include.scoring.core.source_config import Crm
from include.scoring.crm.api_client import (
    ApiClient,
    CrmApiError,
    CrmAuthError,
    CrmUnavailable,
    RequestBudget,
    parse_endpoint,
)
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
from include.scoring.crm.records import activity_types, column, map_values, rule_fields, skipped_examples, table_of

AUTH_HINT = (
    "Check the private app's access token (Settings > Integrations > Private apps), put it in ENGAGEMENT_CRM_URL / "
    "the engagement_crm connection as hubspot+https://TOKEN@api.hubapi.com, and clear the task. Nothing was written."
)
ASSOCIATIONS = {"contacts": ["companies"], "deals": ["companies"], "calls": ["companies", "contacts"]}
ASSOCIATIONS["meetings"] = ASSOCIATIONS["calls"]
#: the last-modified property of objects whose config does not name one
MODIFIED = "hs_lastmodifieddate"


def describe_error(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        kind = body.get("category") or body.get("errorType") or body.get("status") or "error"
        return f"{kind}: {body.get('message', '')}"[:300]
    return str(body)[:300]


def ordered_ids(links: list[tuple[str, bool]]) -> list[str]:
    """Associated ids, the primary association first, then by id."""
    return [i for _, i in sorted({(not primary, str(i)) for i, primary in links})]


class HubSpotCrm(CrmConnector):
    kind = "hubspot"
    incremental = True

    def __init__(self, crm_url: str, crm: Crm):
        self.crm = crm
        self.hs = crm.hubspot
        budget = RequestBudget(self.hs.requests_per_10_seconds, 10.0)
        self.api = ApiClient(parse_endpoint(crm_url, "hubspot"), crm.http, describe_error, None, budget, AUTH_HINT)

    def close(self) -> None:
        self.api.close()

    # Paging -------------------------------------------------------------------------------------
    def pages(self, method: str, path: str, params: dict | None = None, body: dict | None = None) -> list[dict]:
        """Every result of a listing (GET, paging by `after` in the query) or a search (POST,
        `after` in the body)."""
        results, after = [], None
        while True:
            if method == "GET":
                query = {**(params or {}), **({"after": after} if after else {})}
                page = self.api.request("GET", path, params=query)
            else:
                page = self.api.request("POST", path, json={**(body or {}), **({"after": after} if after else {})})
            results += page.get("results", [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return results

    def owners(self) -> dict[str, str]:
        found = self.pages("GET", "/crm/v3/owners", {"limit": self.hs.page_size})
        return {str(o["id"]): o.get("email") for o in found if o.get("id") is not None}

    @staticmethod
    def _flatten(obj: str, record: dict) -> dict:
        """A listed record as one dict: its properties, `id`, and `_companies`/`_contacts` id lists."""
        flat = {**(record.get("properties") or {}), "id": str(record["id"])}
        for target in ASSOCIATIONS.get(obj, []):
            found = ((record.get("associations") or {}).get(target) or {}).get("results", [])
            flat[f"_{target}"] = ordered_ids(
                [(str(r["id"]), not str(r.get("type", "")).endswith("_unlabeled")) for r in found]
            )
        return flat

    def fetch(self, obj: str, properties: list[str | None], modified: str, since: str | None) -> tuple[list, str]:
        """Records of `obj` flattened, and the mode they were read in: only those modified after
        `since` (search, then their associations) when given and within the search limit."""
        props = list(dict.fromkeys([p for p in properties if p] + [modified]))
        if since:
            found = self._search(obj, props, modified, since)
            if found is not None:
                ids = [str(r["id"]) for r in found]
                links = {t: self._associations(obj, t, ids) for t in ASSOCIATIONS.get(obj, [])}
                flat = []
                for r in found:
                    item = {**(r.get("properties") or {}), "id": str(r["id"])}
                    item.update({f"_{t}": by_id.get(str(r["id"]), []) for t, by_id in links.items()})
                    flat.append(item)
                return flat, "incremental"
        params = {"limit": self.hs.page_size, "properties": ",".join(props), "archived": "false"}
        if obj in ASSOCIATIONS:
            params["associations"] = ",".join(ASSOCIATIONS[obj])
        return [self._flatten(obj, r) for r in self.pages("GET", f"/crm/v3/objects/{obj}", params)], "full"

    def _search(self, obj: str, props: list[str], modified: str, since: str) -> list[dict] | None:
        """Records modified after `since`, or None when there are more than search returns."""
        millis = int(pd.Timestamp(since).tz_convert("UTC").timestamp() * 1000)
        body = {
            "filterGroups": [{"filters": [{"propertyName": modified, "operator": "GT", "value": str(millis)}]}],
            "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
            "properties": props,
            "limit": self.hs.page_size,
        }
        first = self.api.request("POST", f"/crm/v3/objects/{obj}/search", json=body)
        if int(first.get("total", 0)) > self.hs.search_limit:
            return None
        results = list(first.get("results", []))
        after = ((first.get("paging") or {}).get("next") or {}).get("after")
        if after:
            results += self.pages("POST", f"/crm/v3/objects/{obj}/search", body={**body, "after": after})
        return results

    def _associations(self, obj: str, target: str, ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), 1000):
            inputs = [{"id": str(i)} for i in ids[start : start + 1000]]
            body = self.api.request("POST", f"/crm/v4/associations/{obj}/{target}/batch/read", json={"inputs": inputs})
            for result in (body or {}).get("results", []):
                links = [
                    (str(t["toObjectId"]), any(a.get("label") == "Primary" for a in t.get("associationTypes", [])))
                    for t in result.get("to", [])
                ]
                out[str(result["from"]["id"])] = ordered_ids(links)
        return out

    # Read ---------------------------------------------------------------------------------------
    def read(self, since: dict[str, str] | None = None) -> CrmRead:
        c, p, d, act = self.hs.companies, self.hs.contacts, self.hs.deals, self.hs.activities
        since = since or {}
        marks: dict[str, str | None] = {}
        skipped: dict[str, dict[str, int]] = {"accounts": {}, "contacts": {}, "activities": {}, "opportunities": {}}
        modes: dict[str, str] = {}

        def get(obj: str, properties: list, modified: str) -> list[dict]:
            records, modes[obj] = self.fetch(obj, properties, modified, since.get(obj))
            stamps = pd.to_datetime(pd.Series(column(records, modified), dtype=object), utc=True, errors="coerce")
            marks[obj] = None if stamps.isna().all() else stamps.max().isoformat()
            return records

        def first_of(records: list[dict], target: str, obj: str, table: str) -> list:
            ids = [r[f"_{target}"][0] if r[f"_{target}"] else None for r in records]
            missing = sum(1 for i in ids if i is None)
            if missing and table:
                skipped[table][f"{obj} without an associated company"] = missing
            return ids

        owner_props = [c.owner, c.sdr_owner]
        owners = self.owners() if any(owner_props) else {}
        comp = get(
            "companies",
            [
                c.name,
                c.domain,
                c.alt_domains,
                c.industry,
                c.employee_count,
                c.abm_tier,
                *owner_props,
                c.parent_account_id,
                c.lifecycle,
                c.updated_at,
            ],
            c.updated_at,
        )
        lifecycle = map_values(column(comp, c.lifecycle), c.lifecycle_values, c.default_lifecycle)
        known = set(c.lifecycle_values.values())
        alt = pd.Series(column(comp, c.alt_domains), dtype=object)
        accounts = {
            "account_id": column(comp, "id"),
            "name": column(comp, c.name),
            "domain": column(comp, c.domain),
            "alt_domains": alt.where(alt.isna(), alt.astype(str).str.replace(";", ",")).tolist(),
            "industry": column(comp, c.industry),
            "employee_count": column(comp, c.employee_count),
            "abm_tier": map_values(column(comp, c.abm_tier), c.abm_tier_values),
            "owner_email": self._emails(column(comp, c.owner), owners, skipped["accounts"], "owner"),
            "sdr_email": self._emails(column(comp, c.sdr_owner), owners, skipped["accounts"], "SDR owner"),
            "parent_account_id": column(comp, c.parent_account_id),
            "lifecycle": [v if v in known else c.default_lifecycle for v in lifecycle],
            "updated_at": column(comp, c.updated_at),
        }
        cont = get("contacts", [p.email, p.first_name, p.last_name, p.title, p.role, p.updated_at], p.updated_at)
        company = first_of(cont, "companies", "contacts", "contacts")
        contacts = {
            "contact_id": column(cont, "id"),
            "account_id": company,
            "email": column(cont, p.email),
            "first_name": column(cont, p.first_name),
            "last_name": column(cont, p.last_name),
            "title": column(cont, p.title),
            "role": map_values(column(cont, p.role), p.role_values, p.default_role),
            "updated_at": column(cont, p.updated_at),
        }
        parts = []
        for obj in act.objects:
            records = get(obj, [act.occurred_at, act.notes.get(obj), *rule_fields(act.rules, obj)], MODIFIED)
            part = pd.DataFrame(
                {
                    "activity_id": column(records, "id"),
                    "account_id": first_of(records, "companies", obj, None),
                    "contact_id": first_of(records, "contacts", obj, None),
                    "activity_type": activity_types(records, obj, act.rules),
                    "occurred_at": column(records, act.occurred_at),
                    "notes": column(records, act.notes.get(obj)),
                    "origin": f"hubspot:{obj}",
                },
                dtype=object,
            )
            for reason, count in skipped_examples(records, obj, part["activity_type"].tolist(), act.rules).items():
                skipped["activities"][reason] = count
            typed = part["activity_type"].notna()
            if (typed & part["account_id"].isna()).any():
                skipped["activities"][f"{obj} without an associated company"] = int(
                    (typed & part["account_id"].isna()).sum()
                )
            parts.append(part[typed & part["account_id"].notna()])
        activities = {k: v.tolist() for k, v in pd.concat(parts, ignore_index=True).items()}
        deal = get("deals", [d.created_at, d.stage, d.is_closed, d.is_won, d.closed_at, d.amount], MODIFIED)
        opportunities = {
            "opportunity_id": column(deal, "id"),
            "account_id": first_of(deal, "companies", "deals", "opportunities"),
            "created_at": column(deal, d.created_at),
            "stage": column(deal, d.stage),
            "is_closed": column(deal, d.is_closed),
            "is_won": column(deal, d.is_won),
            "closed_at": column(deal, d.closed_at),
            "amount": column(deal, d.amount),
        }
        tables = {}
        for name, cols, obj in (
            ("accounts", accounts, "companies"),
            ("contacts", contacts, "contacts"),
            ("activities", activities, None),
            ("opportunities", opportunities, "deals"),
        ):
            names = CONTRACTS[f"crm/{name}"].names
            keep = pd.Series(cols["account_id"], dtype=object).notna().to_numpy(bool)
            origin = cols.pop("origin", None) or [f"hubspot:{obj}"] * len(keep)
            cols = {k: [v for v, ok in zip(vals, keep) if ok] for k, vals in cols.items()}
            origin = np.array(origin, dtype=object)[keep] if len(keep) else np.array([], dtype=object)
            mode = "full" if all(modes.get(o) == "full" for o in _objects_of(name, act.objects)) else "incremental"
            tables[name] = CrmTable(name, table_of(cols, names), origin, mode)
        return CrmRead(tables, marks, skipped, modes, self.api.calls)

    def _emails(self, ids: list, owners: dict[str, str], skipped: dict[str, int], what: str) -> list:
        emails = [owners.get(str(i)) if i not in (None, "") else None for i in ids]
        unknown = sum(1 for i, e in zip(ids, emails) if i not in (None, "") and e is None)
        if unknown:
            skipped[f"companies whose {what} id is not a known owner (email left empty)"] = unknown
        return emails

    # Fields -------------------------------------------------------------------------------------
    def missing_push_fields(self) -> list[str]:
        body = self.api.request("GET", "/crm/v3/properties/companies")
        present = {p.get("name") for p in (body or {}).get("results", [])}
        return [self.hs.push_fields[f.key] for f in PUSHED_FIELDS if self.hs.push_fields[f.key] not in present]

    def init_push_fields(self) -> list[str]:
        missing = set(self.missing_push_fields())
        if missing:
            wanted = [
                f"{self.hs.push_fields[f.key]} ({f.hubspot_type})"
                for f in PUSHED_FIELDS
                if self.hs.push_fields[f.key] in missing
            ]
            raise CrmNotInitialized(
                f"HubSpot at {self.api.endpoint.shown}: companies lack the engagement property(ies) "
                f"{', '.join(wanted)}. "
                "Create them (Settings > Properties > Company properties; internal names as listed, names in "
                "crm.hubspot.push_fields), then run init-crm again."
            )
        return []

    # Push ---------------------------------------------------------------------------------------
    def current_values(self) -> pd.DataFrame:
        compared = [f for f in PUSHED_FIELDS if f.compared]
        names = [self.hs.push_fields[f.key] for f in compared]
        params = {"limit": self.hs.page_size, "properties": ",".join(names), "archived": "false"}
        records = [
            {**(r.get("properties") or {}), "id": str(r["id"])}
            for r in self.pages("GET", "/crm/v3/objects/companies", params)
        ]
        frame = pd.DataFrame({"account_id": column(records, "id")})
        for f, name in zip(compared, names):
            frame[f"cur_{f.key}"] = column(records, name)
        return frame

    def push(self, scores: pd.DataFrame, day: date) -> PushOutcome:
        calls_before = self.api.calls
        if self.missing_push_fields():
            self.init_push_fields()  # raises CrmNotInitialized naming them
        changed, unchanged = changed_accounts(scores, self.current_values())
        values = push_values(changed, day)
        outcome = PushOutcome(unchanged=unchanged)
        inputs = [
            {
                "id": row["account_id"],
                "properties": {self.hs.push_fields[f.key]: _text(row[f.key]) for f in PUSHED_FIELDS},
            }
            for row in values.to_dict("records")
        ]
        for start in range(0, len(inputs), self.hs.push_batch):
            batch = inputs[start : start + self.hs.push_batch]
            outcome.batches.append(len(batch))
            try:
                body = self.api.request("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": batch})
            except (CrmAuthError, CrmUnavailable):
                raise  # no later call would fare better: stop, the rest goes next run
            except CrmApiError as exc:  # this call was refused (a bad value): its records are retried next run
                outcome.failed += [(i["id"], str(exc)[:300]) for i in batch]
                continue
            rejected = {}
            for error in (body or {}).get("errors", []):
                reason = f"{error.get('category', 'error')}: {error.get('message', '')}"[:300]
                for rid in (error.get("context") or {}).get("ids", []):
                    rejected[str(rid)] = reason
            done = {str(r.get("id")) for r in (body or {}).get("results", [])}
            for item in batch:
                if item["id"] in rejected or item["id"] not in done:
                    outcome.failed.append((item["id"], rejected.get(item["id"], "not in the API's results")))
                else:
                    outcome.updated.append(item["id"])
        outcome.api_calls = self.api.calls - calls_before
        return outcome


def _objects_of(table: str, activity_objects: list[str]) -> list[str]:
    return {"accounts": ["companies"], "contacts": ["contacts"], "opportunities": ["deals"]}.get(
        table, list(activity_objects)
    )


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return f"{value:.2f}" if isinstance(value, float) else str(value)
