"""Erased addresses never come back through free text (issue 22, item 2).

After `forget`, the suppression list holds salted hashes of the person's identifiers. Extract
drops the rows carrying one, and (the fix) redacts the address wherever else it appears: other
visitors' url and referrer (also percent-encoded), a broken line's parse error, CRM activity notes
(with the display name), the punycode twin of an IDN domain. Validation reads the redacted raw
rows, so its examples, summary.json and Data Docs hold no trace either, on every daily run.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from include.scoring.core.config import load_config
from include.scoring.extract.stage import extract_crm, extract_events
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.privacy.suppression import EMAIL, add_entries, digest, load_salt
from include.scoring.validate.stage import validate_crm, validate_events
from tests.unit.extract.test_extract import D, landing_dir, web_row, write_csv

ERASED = ["jane.doe@acme.com", "j@bücher.de"]  # as the pipeline normalises them
TRACES = ["jane.doe", "acme.com", "bücher", "xn--bcher-kva", "Jane Doe", "%40acme"]


def suppress(lake: Lake) -> None:
    salt = load_salt(lake, create=True)
    add_entries(lake, "req-1", {EMAIL: {digest(salt, EMAIL, e) for e in ERASED}}, datetime(2026, 5, 1, tzinfo=UTC), D)


def every_text(lake: Lake) -> str:
    """Every byte of the lake as text: data files (strings) and side files."""
    out = []
    for path in Path(lake.root).rglob("*"):
        if path.is_file() and "privacy" not in path.parts:
            out.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(out)


def test_free_text_addresses_of_an_erased_person_are_redacted_at_extract(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    suppress(lake)
    folder = landing_dir(tmp_path)
    rows = [
        web_row(1, referrer="https://news.example/?ref=jane.doe%2Bnews%40acme.com"),
        web_row(2, url="https://www.northwind.io/pricing?contact=Jane.Doe@ACME.com"),
        web_row(3, referrer="mailto:j@xn--bcher-kva.de"),
        web_row(4, email="bob@other.io", referrer="https://www.google.com/"),
        web_row(5, duration_seconds="jane.doe@acme.com"),  # unparseable: the value lands in coercion_errors
    ]
    write_csv(folder / "events.csv", rows)
    with (folder / "events.csv").open("a", encoding="utf-8") as fh:  # a broken line quoting the address
        fh.write("w-9,2026-05-06T10:00:00Z,ck_9,jane.doe@acme.com\n")
    result = extract_events(tmp_path / "landing", lake, "web", D)
    raw = lake.read_df(catalog.raw("web"), D)
    assert result.count("rows") == len(raw) == 6  # nobody's row was dropped: only the text redacted
    assert raw.loc[raw["event_id"] == "w-4", "email"].tolist() == ["bob@other.io"]
    assert raw.loc[raw["event_id"] == "w-1", "referrer"].tolist() == ["https://news.example/?ref=[erased]"]
    validate_events(lake, load_config(), "web", D)
    text = every_text(lake)
    assert "[erased]" in text
    for trace in TRACES:
        assert trace.lower() not in text.lower(), trace


def test_crm_notes_and_display_names_are_redacted_on_every_snapshot(small_sample, tmp_path):
    crm = tmp_path / "crm.sqlite"
    shutil.copyfile(Path(small_sample.out) / "crm.sqlite", crm)
    with sqlite3.connect(crm) as conn:
        ids = [r[0] for r in conn.execute("SELECT activity_id FROM activities ORDER BY activity_id LIMIT 2")]
        conn.execute(
            "UPDATE activities SET notes = ? WHERE activity_id = ?",
            ('Intro from "Jane Doe" <Jane.Doe+crm@acme.com>, cc J@XN--BCHER-KVA.DE', ids[0]),
        )
        conn.execute("UPDATE activities SET notes = ? WHERE activity_id = ?", ("call bob@other.io", ids[1]))
    lake = Lake(str(tmp_path / "lake"))
    suppress(lake)
    config = load_config()
    for day in (D, D.replace(day=D.day + 1)):  # the CRM is read again every day: still redacted
        extract_crm(f"sqlite:///{crm}", lake, day, config)
        validate_crm(lake, config, day)
        notes = lake.read_df(catalog.raw("crm/activities"), day).set_index("activity_id")["notes"]
        assert notes[ids[0]] == "Intro from [erased], cc [erased]"
        assert notes[ids[1]] == "call bob@other.io"
    text = every_text(lake)
    for trace in TRACES:
        assert trace.lower() not in text.lower(), trace


def test_no_suppression_list_leaves_text_alone(tmp_path):
    from include.scoring.privacy.suppression import Suppression

    table = pa.table({"notes": ["jane.doe@acme.com"]})
    assert Suppression.load(Lake(str(tmp_path))).redact_free_text(table) == (table, 0)


def test_forget_pattern_matches_encoded_and_idn_twins():
    import re

    from include.scoring.privacy.search import Person

    pattern = Person("j@bücher.de", {"j@bücher.de", "jane.doe@acme.com"}).pattern()
    for text in ("?ref=jane.doe%2Bnews%40acme.com", "mailto:J@XN--BCHER-KVA.DE", "J@BÜCHER.de"):
        assert re.search(pattern, text), text
