"""A fake HubSpot CRM API (the parts the connector uses), speaking the real shapes.

- `GET /crm/v3/objects/<object>?limit&after&properties&associations&archived`: `{results: [{id,
  properties, createdAt, updatedAt, archived, associations: {<to>: {results: [{id, type}]}}}],
  paging: {next: {after, link}}}`; property values are strings, as HubSpot returns them; `limit`
  over 100 is a 400.
- `POST /crm/v3/objects/<object>/search`: filters `GT` on one property, sorted, `{total, results,
  paging}`; no associations (as in HubSpot).
- `POST /crm/v4/associations/<from>/<to>/batch/read`: `{results: [{from: {id}, to: [{toObjectId,
  associationTypes: [{category, typeId, label}]}]}]}`.
- `GET /crm/v3/owners`, `GET /crm/v3/properties/companies`.
- `POST /crm/v3/objects/companies/batch/update`: at most 100 inputs; unknown ids and ids in
  `reject` come back in `errors` with a 207 (multi-status), the others are updated.
- 401 for a wrong or expired token.
"""

from __future__ import annotations

import itertools

import pandas as pd

from tests.fakes.server import ApiRefusal, JsonApi, Request

PRIMARY_TYPES = {("contacts", "companies"): 1, ("deals", "companies"): 5, ("calls", "companies"): 182}


def hs_time(value) -> str | None:
    """A timestamp as HubSpot writes them: 2026-11-20T10:15:30.123Z."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value).tz_convert("UTC") if pd.Timestamp(value).tzinfo else pd.Timestamp(value, tz="UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def error(category: str, message: str, status: str = "error") -> dict:
    return {"status": status, "message": message, "category": category, "correlationId": "fake-correlation"}


class FakeHubSpot(JsonApi):
    def __init__(self, token: str = "pat-na1-fake-token", max_page: int = 100):
        super().__init__(token)
        self.max_page = max_page
        self.objects: dict[str, dict[str, dict]] = {}  # object -> id -> {id, properties, associations}
        self.owners: list[dict] = []
        self.company_properties: set[str] = set()
        self.reject: dict[str, str] = {}
        self.counter = itertools.count(1)
        self.now = "2026-12-01T03:00:00.000Z"

    @property
    def url(self) -> str:
        return f"hubspot+http://{self.token}@127.0.0.1:{self.port}"

    def add(self, obj: str, records: list[dict]) -> None:
        """Records as {id, properties, associations: {to: [(id, primary)]}}."""
        store = self.objects.setdefault(obj, {})
        for record in records:
            props = {k: (None if v is None else str(v)) for k, v in record["properties"].items()}
            store[str(record["id"])] = {"id": str(record["id"]), "properties": props, **record}
            store[str(record["id"])]["properties"] = props
            if obj == "companies":
                self.company_properties.update(props)

    def unauthorized(self):
        return 401, error("INVALID_AUTHENTICATION", "Authentication credentials not found."), {}

    # Routes -------------------------------------------------------------------------------------
    def route(self, request: Request):
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts[:3] == ["crm", "v3", "owners"]:
            return 200, self._list(self.owners, request, lambda o: o), {}
        if request.method == "GET" and parts == ["crm", "v3", "properties", "companies"]:
            names = sorted(self.company_properties)
            return 200, {"results": [{"name": n, "type": "string", "fieldType": "text"} for n in names]}, {}
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4 and parts[3] in self.objects:
            obj = parts[3]
            if request.method == "GET" and len(parts) == 4:
                return 200, self._list(self._sorted(obj), request, lambda r: self._shape(obj, r, request)), {}
            if request.method == "POST" and parts[4:] == ["search"]:
                return 200, self._search(obj, request.body), {}
            if request.method == "POST" and parts[4:] == ["batch", "update"] and obj == "companies":
                return self._update(request.body)
        if request.method == "POST" and parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
            return 200, self._associations(parts[3], parts[4], request.body), {}
        raise ApiRefusal(404, error("OBJECT_NOT_FOUND", f"no route {request.method} {request.path}"))

    def _sorted(self, obj: str) -> list[dict]:
        return [self.objects[obj][k] for k in sorted(self.objects[obj])]

    def _list(self, items: list, request: Request, shape) -> dict:
        limit = int(request.query.get("limit", 10))
        if limit > 100:
            raise ApiRefusal(400, error("VALIDATION_ERROR", "limit must be at most 100"))
        limit = min(limit, self.max_page)
        start = int(request.query.get("after") or 0)
        page = {"results": [shape(r) for r in items[start : start + limit]]}
        if start + limit < len(items):
            page["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
        return page

    def _shape(self, obj: str, record: dict, request: Request | None = None, wanted=None) -> dict:
        names = wanted if wanted is not None else [p for p in (request.query.get("properties") or "").split(",") if p]
        props = {n: record["properties"].get(n) for n in names}
        props["hs_object_id"] = record["id"]
        out = {
            "id": record["id"],
            "properties": props,
            "createdAt": "2025-01-01T00:00:00.000Z",
            "updatedAt": record["properties"].get("hs_lastmodifieddate") or self.now,
            "archived": False,
        }
        targets = [t for t in ((request.query.get("associations") or "").split(",") if request else []) if t]
        links = record.get("associations") or {}
        if targets:
            singular = obj[:-1] if obj.endswith("s") else obj
            out["associations"] = {
                t: {
                    "results": [
                        {"id": i, "type": f"{singular}_to_{t[:-1]}" + ("" if primary else "_unlabeled")}
                        for i, primary in links.get(t, [])
                    ]
                }
                for t in targets
                if links.get(t)
            }
        return out

    def _search(self, obj: str, body: dict) -> dict:
        limit = int(body.get("limit", 10))
        if limit > 200:
            raise ApiRefusal(400, error("VALIDATION_ERROR", "limit must be at most 200"))
        (flt,) = body["filterGroups"][0]["filters"]
        assert flt["operator"] == "GT", flt
        since = pd.Timestamp(int(flt["value"]), unit="ms", tz="UTC")
        prop = flt["propertyName"]
        found = [
            r for r in self._sorted(obj) if r["properties"].get(prop) and pd.Timestamp(r["properties"][prop]) > since
        ]
        found.sort(key=lambda r: (pd.Timestamp(r["properties"][prop]), r["id"]))
        start = int(body.get("after") or 0)
        page = {"total": len(found), "results": [self._shape(obj, r, wanted=body.get("properties", [])) for r in found]}
        page["results"] = page["results"][start : start + limit]
        if start + limit < len(found):
            page["paging"] = {"next": {"after": str(start + limit)}}
        return page

    def _associations(self, source: str, target: str, body: dict) -> dict:
        results = []
        for item in body.get("inputs", []):
            record = self.objects[source].get(str(item["id"]))
            if record is None:
                continue
            to = [
                {
                    "toObjectId": i,
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]
                    + ([{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}] if primary else []),
                }
                for i, primary in (record.get("associations") or {}).get(target, [])
            ]
            results.append({"from": {"id": record["id"]}, "to": to})
        return {"status": "COMPLETE", "results": results}

    def _update(self, body: dict):
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            raise ApiRefusal(400, error("VALIDATION_ERROR", "inputs: at most 100 per batch"))
        results, errors = [], []
        for item in inputs:
            rid = str(item["id"])
            unknown = [k for k in item["properties"] if k not in self.company_properties]
            if rid not in self.objects["companies"]:
                errors.append(
                    {
                        **error("OBJECT_NOT_FOUND", "Object not found. objectId are usually numeric."),
                        "context": {"ids": [rid]},
                    }
                )
            elif rid in self.reject or unknown:
                message = self.reject.get(rid) or f"Property values were not valid: {unknown[0]}"
                errors.append({**error("VALIDATION_ERROR", message), "context": {"ids": [rid]}})
            else:
                props = self.objects["companies"][rid]["properties"]
                props.update({k: None if v is None else str(v) for k, v in item["properties"].items()})
                props["hs_lastmodifieddate"] = self.now
                results.append({"id": rid, "properties": dict(item["properties"]), "updatedAt": self.now})
        body = {"status": "COMPLETE", "results": results, "startedAt": self.now, "completedAt": self.now}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
            return 207, body, {}
        return 200, body, {}
