"""A fake Salesforce REST API (the parts the connector uses), speaking the real shapes.

- `GET /services/data/vXX.X/query?q=SELECT ... FROM Obj [WHERE F > datetime] [ORDER BY Id]`:
  pages of `{totalSize, done, nextRecordsUrl, records}`; relationship fields (`Owner.Email`,
  `Who.Type`) come back nested with `attributes`, as the API returns them; an unknown field is
  `400 INVALID_FIELD`.
- `GET .../query/<cursor>`: the next page.
- `GET .../sobjects/<Obj>/describe`: `{name, fields: [{name, type}]}`.
- `PATCH .../composite/sobjects`: at most 200 records, `allOrNone`; per record `{id, success,
  errors}`; an unknown id fails with ENTITY_IS_DELETED, ids in `reject` with a validation error.
- 401 `INVALID_SESSION_ID` for a wrong or expired token.
"""

from __future__ import annotations

import itertools
import re

import pandas as pd

from tests.fakes.server import ApiRefusal, JsonApi, Request

SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)"
    r"(?: WHERE (?P<where>\w+) > (?P<since>\S+))?(?: ORDER BY (?P<order>\w+))?$"
)


def sf_time(value) -> str | None:
    """A timestamp as Salesforce writes datetimes: 2026-11-20T10:15:30.123+0000."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value).tz_convert("UTC") if pd.Timestamp(value).tzinfo else pd.Timestamp(value, tz="UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


def error(code: str, message: str) -> list[dict]:
    return [{"message": message, "errorCode": code}]


class FakeSalesforce(JsonApi):
    def __init__(self, token: str = "00Dfake!session-token", version: str = "v60.0", max_page: int = 2000):
        super().__init__(token)
        self.version = version
        self.max_page = max_page
        self.records: dict[str, dict[str, dict]] = {}  # object -> id -> record (relationships nested)
        self.fields: dict[str, set[str]] = {}  # object -> plain field names (describe)
        self.relationships: dict[str, set[str]] = {}
        self.cursors: dict[str, list[dict]] = {}
        self.counter = itertools.count(1)
        self.reject: dict[str, str] = {}  # id -> validation message on update
        self.now = "2026-12-01T03:00:00.000+0000"

    @property
    def url(self) -> str:
        return f"salesforce+http://{self.token}@127.0.0.1:{self.port}"

    def add(self, obj: str, records: list[dict], extra_fields: tuple[str, ...] = ()) -> None:
        store = self.records.setdefault(obj, {})
        fields = self.fields.setdefault(obj, {"Id", "LastModifiedDate", "SystemModstamp"})
        rels = self.relationships.setdefault(obj, set())
        fields.update(extra_fields)
        for record in records:
            store[record["Id"]] = dict(record)
            for key, value in record.items():
                (rels if isinstance(value, dict) else fields).add(key)

    def unauthorized(self):
        return 401, error("INVALID_SESSION_ID", "Session expired or invalid"), {}

    # Routes -------------------------------------------------------------------------------------
    def route(self, request: Request):
        base = f"/services/data/{self.version}"
        path = request.path
        if request.method == "GET" and path == f"{base}/query":
            return 200, self._query(request), {}
        if request.method == "GET" and path.startswith(f"{base}/query/"):
            return 200, self._page(path.rsplit("/", 1)[1]), {}
        match = re.fullmatch(rf"{re.escape(base)}/sobjects/(\w+)/describe", path)
        if request.method == "GET" and match:
            obj = match.group(1)
            if obj not in self.fields:
                raise ApiRefusal(404, error("NOT_FOUND", f"The requested resource does not exist: {obj}"))
            return 200, {"name": obj, "fields": [{"name": f, "type": "string"} for f in sorted(self.fields[obj])]}, {}
        if request.method == "PATCH" and path == f"{base}/composite/sobjects":
            return 200, self._update(request.body), {}
        raise ApiRefusal(404, error("NOT_FOUND", f"The requested resource does not exist: {path}"))

    def _query(self, request: Request) -> dict:
        soql = " ".join(request.query.get("q", "").split())
        parsed = SOQL.match(soql)
        if not parsed:
            raise ApiRefusal(400, error("MALFORMED_QUERY", f"unexpected SOQL: {soql[:80]}"))
        obj = parsed["obj"]
        if obj not in self.records:
            raise ApiRefusal(400, error("INVALID_TYPE", f"sObject type '{obj}' is not supported."))
        fields = [f.strip() for f in parsed["fields"].split(",")]
        for name in fields + [parsed["where"] or "Id"]:
            head = name.split(".")[0]
            known = self.relationships[obj] if "." in name else self.fields[obj]
            if head not in known:
                raise ApiRefusal(400, error("INVALID_FIELD", f"No such column '{name}' on entity '{obj}'."))
        rows = sorted(self.records[obj].values(), key=lambda r: r["Id"])
        if parsed["where"]:
            since = pd.Timestamp(parsed["since"])
            rows = [r for r in rows if r.get(parsed["where"]) and pd.Timestamp(r[parsed["where"]]) > since]
        out = [self._shape(obj, r, fields) for r in rows]
        size = self.max_page
        option = request.headers.get("Sforce-Query-Options", "")
        if "batchSize=" in option:
            size = min(size, int(option.split("batchSize=")[1]))
        cursor = f"01gFAKE{next(self.counter):06d}"
        self.cursors[cursor] = out
        return self._slice(cursor, 0, size, len(out))

    def _page(self, token: str) -> dict:
        cursor, start, size = token.split("-")
        return self._slice(cursor, int(start), int(size), len(self.cursors[cursor]))

    def _slice(self, cursor: str, start: int, size: int, total: int) -> dict:
        end = start + size
        page = {"totalSize": total, "done": end >= total, "records": self.cursors[cursor][start:end]}
        if end < total:
            page["nextRecordsUrl"] = f"/services/data/{self.version}/query/{cursor}-{end}-{size}"
        return page

    def _shape(self, obj: str, record: dict, fields: list[str]) -> dict:
        out = {"attributes": {"type": obj, "url": f"/services/data/{self.version}/sobjects/{obj}/{record['Id']}"}}
        for name in fields:
            if "." in name:
                rel, sub = name.split(".", 1)
                target = record.get(rel)
                if target is None:
                    out[rel] = None
                else:
                    out.setdefault(rel, {"attributes": {"type": target.get("_type", rel)}})[sub] = target.get(sub)
            else:
                out[name] = record.get(name)
        return out

    def _update(self, body: dict) -> list[dict]:
        records = body.get("records", [])
        if len(records) > 200:
            raise ApiRefusal(
                400, error("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
            )
        if body.get("allOrNone") is not False:
            raise ApiRefusal(400, error("FAKE", "the fake expects allOrNone: false"))
        results = []
        for record in records:
            obj = record["attributes"]["type"]
            rid = record.get("id")
            unknown = [k for k in record if k not in ("attributes", "id") and k not in self.fields.get(obj, ())]
            if rid not in self.records.get(obj, {}):
                results.append(
                    {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]}
                )
            elif unknown:
                results.append(
                    {
                        "id": rid,
                        "success": False,
                        "errors": [{"statusCode": "INVALID_FIELD", "message": f"No such column '{unknown[0]}'"}],
                    }
                )
            elif rid in self.reject:
                results.append(
                    {
                        "id": rid,
                        "success": False,
                        "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": self.reject[rid]}],
                    }
                )
            else:
                stored = self.records[obj][rid]
                stored.update({k: v for k, v in record.items() if k not in ("attributes", "id")})
                stored["LastModifiedDate"] = stored["SystemModstamp"] = self.now
                results.append({"id": rid, "success": True, "errors": []})
        return results
