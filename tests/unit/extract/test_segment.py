"""Segment / RudderStack messages into web rows and identity calls (extract/segment.py)."""

from __future__ import annotations

import json

import pytest

from include.scoring.core.config import load_config
from include.scoring.core.contracts import CONTRACTS
from include.scoring.extract.segment import is_segment_file, read_segment

WEB = CONTRACTS["web"].names
PAGE = {
    "type": "page",
    "messageId": "m-1",
    "anonymousId": "anon-1",
    "timestamp": "2026-05-06T10:00:00.000Z",
    "context": {
        "ip": "20.0.0.7",
        "userAgent": "Mozilla/5.0 (X11)",
        "page": {"url": "https://www.northwind.io/pricing", "referrer": "https://search.example"},
        "library": {"name": "analytics.js"},
    },
    "properties": {"path": "/pricing", "title": "Pricing"},
}
RUDDER_TRACK = {  # RudderStack: the IP as request_ip, the time as originalTimestamp, the email in traits
    "type": "track",
    "event": "  webinar ATTENDED ",
    "messageId": "m-2",
    "anonymousId": "anon-1",
    "originalTimestamp": "2026-05-06T11:00:00.000Z",
    "request_ip": "20.0.0.8",
    "context": {"userAgent": "Mozilla/5.0 (X11)", "traits": {"email": "Jane@Acme.com"}},
    "properties": {"url": "https://www.northwind.io/webinar"},
}
IDENTIFY = {
    "type": "identify",
    "messageId": "m-3",
    "anonymousId": "anon-1",
    "userId": 42,
    "traits": {"email": "j@a.io"},
}
GROUP = {"type": "group", "messageId": "m-4", "userId": "42", "groupId": "ACC-000009", "traits": {"domain": "a.io"}}


def lines(*messages) -> bytes:
    return ("\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages) + "\n").encode()


def test_messages_become_web_rows_calls_and_counted_leftovers():
    raw = lines(
        PAGE,
        RUDDER_TRACK,
        IDENTIFY,
        GROUP,
        {**PAGE, "type": "track", "messageId": "m-5", "event": "Video Played"},
        {"type": "alias", "messageId": "m-6", "previousId": "x", "userId": "y"},
        {"type": "identify", "messageId": "m-7", "traits": {"email": "nobody@a.io"}},
    )
    found = read_segment(raw, load_config().segment, WEB)
    web = found.web.table.to_pandas()
    assert web["event_id"].tolist() == ["m-1", "m-2"] and list(found.web.lines) == [1, 2]
    assert web.iloc[0][["event_type", "url", "ip", "referrer"]].tolist() == [
        "page_view",
        "https://www.northwind.io/pricing",
        "20.0.0.7",
        "https://search.example",
    ]
    assert web.iloc[1][["event_type", "form_type", "email", "ip", "event_time"]].tolist() == [
        "form_submit",
        "webinar_attended",
        "Jane@Acme.com",
        "20.0.0.8",
        "2026-05-06T11:00:00.000Z",
    ]
    calls = found.calls
    assert calls["kind"].tolist() == ["identify", "group"] and calls["line"].tolist() == [3, 4]
    assert calls["user_id"].tolist() == ["user:42", "user:42"] and calls["email"].tolist()[0] == "j@a.io"
    assert calls.iloc[1][["group_id", "group_domain"]].tolist() == ["ACC-000009", "a.io"]
    assert found.skipped == {
        "track event 'Video Played' (not in segment.track_events)": 1,
        "message of type 'alias'": 1,
        "identify call without anonymousId or userId": 1,
    }


def test_a_clean_file_and_a_messy_one_read_the_same():
    clean = lines(PAGE, {**IDENTIFY, "userId": "42"}, GROUP)
    messy = lines(PAGE, IDENTIFY, GROUP)  # a numeric userId sends the file to the line-by-line reader
    a, b = (read_segment(raw, load_config().segment, WEB) for raw in (clean, messy))
    assert a.web.table.equals(b.web.table) and list(a.web.lines) == list(b.web.lines)
    assert a.calls.astype(str).equals(b.calls.astype(str))


def test_broken_lines_and_nested_values_are_error_rows():
    nested = {**PAGE, "messageId": "m-9", "context": {**PAGE["context"], "ip": {"v4": "1.2.3.4"}}}
    found = read_segment(lines(PAGE, "{not json", "", nested), load_config().segment, WEB)
    errors = list(found.web.parse_errors)
    assert list(found.web.lines) == [1, 2, 4] and errors[0] is None
    assert errors[1].startswith("line 2: not valid JSON") and "{not json" in errors[1]
    assert errors[2] == "context.ip: a JSON object where a single value belongs"
    assert found.web.table.column("event_id").to_pylist() == ["m-1", None, "m-9"]


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("a.jsonl", json.dumps(PAGE), True),
        ("a.json", "\ufeff" + json.dumps(IDENTIFY), True),
        ("a.jsonl", json.dumps({"event_id": "w-1", "type": "x", "messageId": "m"}), False),
        ("a.jsonl", json.dumps({"event_id": "w-1", "event_type": "page_view"}), False),
        ("a.csv", json.dumps(PAGE), False),
        ("a.jsonl", "not json", False),
    ],
)
def test_segment_files_are_recognised_by_their_first_record(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    assert is_segment_file(path) is expected
