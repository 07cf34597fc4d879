"""Segment / RudderStack event files in the web landing folder (SPEC section 3).

Their S3 and warehouse destinations write JSON lines of spec messages (`page`, `track`,
`identify`, `group`, ...). A landing file is taken for one when its first record is an object
with `type` and `messageId` and no contract `event_id`. Its messages become:

- `page` -> a web `page_view`; `track` -> a `form_submit` or `download` when its event name is in
  `segment.track_events` (compared ignoring case), with the form type given there;
- `identify` and `group` -> identity calls (calls/web): identify links `anonymousId` to `userId`
  and `traits.email`; group links them to an account (`groupId` = a CRM account id, or a domain
  among `segment.group_domain_traits`). Resolution uses them (method `group_call`).

Web rows take `messageId` as event id, `timestamp` (else originalTimestamp, receivedAt, sentAt) as
event time, `anonymousId` (else `user:<userId>`) as anonymous id, `context.traits.email` (else
`properties.email`, `traits.email`) as email, `context.ip` (RudderStack: `request_ip`),
`context.userAgent`, `properties.url` / `context.page.url`, `properties.referrer` /
`context.page.referrer`. A userId is always written `user:<userId>`, so a person's user id and
cookies meet in the person graph.

Other messages (`screen`, `alias`, track events not in the table, calls with no id at all) are
counted by kind and name, not kept; a line that is not a JSON object becomes an error row of the
web source (validation quarantines it with its line number), like any landing file's.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from include.scoring.core.source_config import Segment
from include.scoring.extract.rows import FileRows, cap_fields, describe_error, show_text

S = pa.string()
#: the columns of an identity call (calls/web); user_id is written `user:<userId>`
CALL_SCHEMA = pa.schema(
    [
        ("event_id", S),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("kind", S),
        ("anonymous_id", S),
        ("user_id", S),
        ("email", S),
        ("group_id", S),
        ("group_domain", S),
        ("source_file", S),
        ("source_line", pa.int64()),
    ]
)
#: message fields read (dotted paths into the message)
FIELDS = (
    "type",
    "messageId",
    "anonymousId",
    "userId",
    "event",
    "timestamp",
    "originalTimestamp",
    "receivedAt",
    "sentAt",
    "groupId",
    "request_ip",
    "context.ip",
    "context.userAgent",
    "context.page.url",
    "context.page.referrer",
    "context.traits.email",
    "properties.url",
    "properties.referrer",
    "properties.email",
    "traits.email",
)


@dataclass
class SegmentFile:
    web: FileRows  # page and mapped track messages, and error rows, in web contract columns
    calls: pd.DataFrame  # identify and group messages (CALL_SCHEMA without lineage), with `line`
    skipped: dict[str, int] = field(default_factory=dict)


def is_segment_file(path: Path) -> bool:
    """Whether a JSON-lines file's first record is a Segment/RudderStack message (UTF-8)."""
    if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        return False
    with open(path, "rb") as handle:
        head = handle.read(1 << 16).lstrip(b"\xef\xbb\xbf").lstrip()
    first = head.split(b"\n", 1)[0]
    try:
        record = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(record, dict) and "messageId" in record and "type" in record and "event_id" not in record


def _paths(segment: Segment) -> tuple[str, ...]:
    return FIELDS + tuple(f"traits.{name}" for name in segment.group_domain_traits if f"traits.{name}" not in FIELDS)


def _schema(paths: tuple[str, ...]) -> pa.Schema:
    """An Arrow schema holding exactly `paths` (nested structs), every leaf as text."""
    tree: dict = {}
    for path in paths:
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = None

    def build(node: dict) -> list[pa.Field]:
        return [pa.field(k, S if v is None else pa.struct(build(v))) for k, v in node.items()]

    return pa.schema(build(tree))


def _flatten(table: pa.Table, paths: tuple[str, ...]) -> dict[str, pa.Array]:
    out = {}
    for path in paths:
        head, *rest = path.split(".")
        column = table.column(head).combine_chunks()
        for part in rest:
            column = column.field(part)
        out[path] = column
    return out


def _fast(raw: bytes, paths: tuple[str, ...]) -> pd.DataFrame | None:
    """Arrow's reader over a clean file (one object a line, texts where texts belong), or None."""
    lines = raw.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if not lines or not all(line.strip() for line in lines):
        return None
    try:
        table = pajson.read_json(
            io.BytesIO(raw),
            read_options=pajson.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pajson.ParseOptions(explicit_schema=_schema(paths), unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    if table.num_rows != len(lines):
        return None
    frame = pd.DataFrame({p: a.to_pandas(types_mapper=pd.ArrowDtype) for p, a in _flatten(table, paths).items()})
    frame = frame.astype(object).where(frame.notna(), None)
    frame["line"] = np.arange(1, len(frame) + 1)
    frame["error"] = None
    return frame


def _value(record: dict, path: str) -> tuple[str | None, str | None]:
    value = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return None, None
    if isinstance(value, (dict, list)):
        return None, f"{path}: a JSON {'object' if isinstance(value, dict) else 'array'} where a single value belongs"
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    return str(value), None


def _slow(raw: bytes, paths: tuple[str, ...]) -> pd.DataFrame:
    """Line by line: every non-blank line a row; a line that is not a JSON object says why."""
    rows = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        row: dict = {p: None for p in paths}
        row["line"], row["error"] = number, None
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            row["error"] = f"line {number}: {describe_error(exc)}: {show_text(line.decode('utf-8', errors='replace'))}"
            rows.append(row)
            continue
        problems = []
        for path in paths:
            row[path], problem = _value(record, path)
            if problem:
                problems.append(problem)
        row["error"] = "; ".join(problems) or None
        rows.append(row)
    return pd.DataFrame(rows, columns=[*paths, "line", "error"])


def _first(frame: pd.DataFrame, *paths: str) -> pd.Series:
    out = frame[paths[0]]
    for path in paths[1:]:
        out = out.where(out.notna(), frame[path])
    return out


def read_segment(raw: bytes, segment: Segment, web_columns: list[str]) -> SegmentFile:
    """The web rows, identity calls and skipped counts of a Segment/RudderStack file."""
    raw = raw.lstrip(b"\xef\xbb\xbf")
    paths = _paths(segment)
    msgs = _fast(raw, paths)
    if msgs is None:
        msgs = _slow(raw, paths)
    kind = msgs["type"].astype("string").str.strip().str.lower()
    is_page, is_track = kind.eq("page").fillna(False).to_numpy(bool), kind.eq("track").fillna(False).to_numpy(bool)
    is_group = kind.eq("group").fillna(False).to_numpy(bool)
    has_id = (msgs["anonymousId"].notna() | msgs["userId"].notna()).to_numpy(bool)
    user = ("user:" + msgs["userId"].astype("string")).astype(object).where(msgs["userId"].notna(), None)
    anonymous = msgs["anonymousId"].where(msgs["anonymousId"].notna(), user)
    when = _first(msgs, "timestamp", "originalTimestamp", "receivedAt", "sentAt")
    email = _first(msgs, "context.traits.email", "properties.email", "traits.email")
    tracks = {name.strip().lower(): mapping for name, mapping in segment.track_events.items()}
    name = msgs["event"].astype("string").str.strip().str.lower()
    mapped = name.map({k: v.event_type for k, v in tracks.items()}).where(is_track)
    broken = (msgs["error"].notna() & msgs["type"].isna()).to_numpy(bool)  # not a JSON object at all
    is_web = is_page | mapped.notna().to_numpy(bool) | broken
    is_call = (kind.isin(["identify", "group"]).fillna(False).to_numpy(bool)) & has_id
    web = pd.DataFrame(
        {
            "event_id": msgs["messageId"],
            "event_time": when,
            "anonymous_id": anonymous,
            "email": email,
            "ip": _first(msgs, "context.ip", "request_ip"),
            "url": _first(msgs, "properties.url", "context.page.url"),
            "event_type": pd.Series(np.where(is_page, "page_view", mapped), index=msgs.index, dtype=object),
            "form_type": name.map({k: v.form_type for k, v in tracks.items()}).where(is_track),
            "duration_seconds": None,
            "user_agent": msgs["context.userAgent"],
            "referrer": _first(msgs, "properties.referrer", "context.page.referrer"),
        }
    )[is_web]
    table = pa.table({c: pa.array(web[c].astype(object).where(web[c].notna(), None).tolist(), S) for c in web_columns})
    errors = msgs.loc[is_web, "error"].astype(object).where(msgs.loc[is_web, "error"].notna(), None).to_numpy(object)
    rows = cap_fields(FileRows(table, msgs.loc[is_web, "line"].to_numpy(np.int64), errors.copy()))
    domain = (
        _first(msgs, *[f"traits.{n}" for n in segment.group_domain_traits]) if segment.group_domain_traits else None
    )
    calls = pd.DataFrame(
        {
            "event_id": msgs["messageId"],
            "event_time": pd.to_datetime(when.astype("string"), utc=True, errors="coerce", format="ISO8601"),
            "kind": kind,
            "anonymous_id": msgs["anonymousId"],
            "user_id": user,
            "email": _first(msgs, "traits.email", "context.traits.email"),
            "group_id": msgs["groupId"].where(is_group),
            "group_domain": domain.where(is_group) if domain is not None else None,
            "line": msgs["line"],
        }
    )[is_call]
    leftover = ~(is_web | is_call)
    names = msgs["event"].astype(object).where(msgs["event"].notna(), "(no name)").map(repr)
    label = np.where(
        is_track,
        "track event " + names + " (not in segment.track_events)",
        np.where(
            kind.isin(["identify", "group"]).fillna(False).to_numpy(bool),
            kind.astype(object).fillna("") + " call without anonymousId or userId",
            "message of type " + msgs["type"].astype(object).where(msgs["type"].notna(), "(none)").map(repr),
        ),
    )
    skipped = pd.Series(label)[leftover].value_counts()
    return SegmentFile(rows, calls.reset_index(drop=True), {str(k): int(v) for k, v in skipped.items()})
