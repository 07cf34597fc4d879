"""Coercion of landed text to the contract: blank and whitespace-only text is a missing value in
every text column, in any chunk; other text passes through as it is (no copy is made for it)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from include.scoring.core.contracts import CONTRACTS
from include.scoring.extract.coerce import coerce_to_contract

CONTRACT = CONTRACTS["web"]


def _text_table(rows: list[dict], chunks: int = 1) -> pa.Table:
    full = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in CONTRACT.names})
    size = -(-len(rows) // chunks)
    return pa.concat_tables([full.slice(i, size) for i in range(0, len(rows), size)])


def _rows(n: int) -> list[dict]:
    return [
        {
            "event_id": f"w{i}",
            "event_time": "2026-10-13T09:00:00Z",
            "event_type": "page_view",
            "url": f"https://example.com/p{i}",
            "ip": "203.0.113.9",
        }
        for i in range(n)
    ]


def test_whitespace_only_text_becomes_null_in_any_chunk():
    rows = _rows(6)
    rows[1]["url"], rows[4]["ip"], rows[5]["event_type"] = "   ", "\t", ""
    errors = np.full(len(rows), None, dtype=object)
    out = coerce_to_contract(_text_table(rows, chunks=3), CONTRACT, errors).to_pydict()
    assert out["url"][1] is None and out["ip"][4] is None and out["event_type"][5] is None
    assert out["url"][0] == "https://example.com/p0" and out["ip"][3] == "203.0.113.9"
    assert list(errors) == [None] * len(rows)  # a missing value, not an unreadable one


def test_text_without_blanks_passes_through_unchanged():
    rows = _rows(4)
    rows[2]["url"] = "  https://example.com/padded  "  # padding around text is kept: validation judges it
    table = _text_table(rows, chunks=2)
    out = coerce_to_contract(table, CONTRACT, np.full(len(rows), None, dtype=object))
    for name in ("event_id", "url", "ip", "event_type"):
        assert out.column(name).to_pylist() == table.column(name).to_pylist()
