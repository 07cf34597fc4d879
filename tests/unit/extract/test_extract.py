"""Extract: mixed landing formats into the typed raw lake, clear errors for broken files."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from include.scoring.core.contracts import raw_schema
from include.scoring.core.errors import ExtractError
from include.scoring.core.urls import mask_url
from include.scoring.extract.stage import extract_crm, extract_events, extract_reference
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake

D = date(2026, 5, 6)
WEB_COLUMNS = [
    "event_id",
    "event_time",
    "anonymous_id",
    "email",
    "ip",
    "url",
    "event_type",
    "form_type",
    "duration_seconds",
    "user_agent",
    "referrer",
]


def web_row(i: int, **overrides) -> dict:
    row = {
        "event_id": f"w-{i}",
        "event_time": f"2026-05-06T1{i % 10}:00:00Z",
        "anonymous_id": f"ck_{i}",
        "email": None,
        "ip": "20.0.0.7",
        "url": "https://www.northwind.io/pricing",
        "event_type": "page_view",
        "form_type": None,
        "duration_seconds": 12.5,
        "user_agent": "Mozilla/5.0 (X11)",
        "referrer": None,
    }
    row.update(overrides)
    return row


def landing_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "web" / D.isoformat()
    folder.mkdir(parents=True)
    return folder


def write_csv(path: Path, rows: list[dict], bom=False, crlf=False, extra=False):
    frame = pd.DataFrame(rows, columns=WEB_COLUMNS)
    if extra:
        frame["page_title"] = "Pricing"
    frame.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\r\n" if crlf else "\n")


def test_mixed_formats_in_one_day(tmp_path):
    folder = landing_dir(tmp_path)
    write_csv(folder / "a.csv", [web_row(1), web_row(2, email="Jane@Acme.com")], bom=True, crlf=True, extra=True)
    (folder / "b.jsonl").write_text("\n".join(json.dumps(web_row(i)) for i in (3, 4, 5)) + "\n")
    frame = pd.DataFrame([web_row(6)])
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "c.parquet")
    lake = Lake(str(tmp_path / "lake"))
    result = extract_events(tmp_path / "landing", lake, "web", D)
    assert (result.count("rows"), result.count("files"), result.count("rows_with_errors")) == (6, 3, 0)
    table = lake.read(catalog.raw("web"), D)
    assert table.schema.equals(raw_schema("web"))
    df = table.to_pandas()
    assert df["event_id"].tolist() == ["w-1", "w-2", "w-3", "w-4", "w-5", "w-6"]
    assert df["source_file"].tolist() == ["web/2026-05-06/a.csv"] * 2 + ["web/2026-05-06/b.jsonl"] * 3 + [
        "web/2026-05-06/c.parquet"
    ]
    assert df["source_line"].tolist() == [2, 3, 1, 2, 3, 1]
    assert df["email"].tolist()[1] == "Jane@Acme.com"
    assert str(df["event_time"].dtype) == "datetime64[us, UTC]"
    assert df["event_time"].iloc[0] == pd.Timestamp("2026-05-06T11:00:00Z")
    assert df["duration_seconds"].tolist() == [12.5] * 6
    assert "page_title" not in df.columns


def test_missing_contract_column_names_file_and_column(tmp_path):
    folder = landing_dir(tmp_path)
    frame = pd.DataFrame([web_row(1)]).drop(columns=["ip"])
    frame.to_csv(folder / "broken.csv", index=False)
    with pytest.raises(ExtractError) as err:
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)
    text = str(err.value)
    assert (
        "broken.csv" in text and "2026-05-06" in text and "lacks contract column(s) ip" in text and "Expected:" in text
    )


def test_unparseable_json_lines_are_kept_with_their_line_and_reason(tmp_path):
    folder = landing_dir(tmp_path)
    good = json.dumps(web_row(1))
    (folder / "events.jsonl").write_text(
        "\n".join([good, good.replace("w-1", "w-2")[:50], "<html>502</html>", json.dumps(web_row(3))]) + "\n"
    )
    lake = Lake(str(tmp_path / "lake"))
    result = extract_events(tmp_path / "landing", lake, "web", D)
    assert (result.count("rows"), result.count("rows_with_errors")) == (4, 2)
    df = lake.read_df(catalog.raw("web"), D)
    assert df["source_line"].tolist() == [1, 2, 3, 4]
    errors = df["coercion_errors"].tolist()
    assert errors[0] is None or pd.isna(errors[0])
    assert errors[1].startswith("line 2: not valid JSON")
    assert errors[2].startswith("line 3: not valid JSON") and "<html>502</html>" in errors[2]
    assert df["event_id"].tolist()[3] == "w-3"


def test_csv_row_with_wrong_field_count_is_kept_as_an_error_row(tmp_path):
    folder = landing_dir(tmp_path)
    write_csv(folder / "a.csv", [web_row(1), web_row(2)])
    text = (folder / "a.csv").read_text().splitlines()
    text.insert(2, "w-x,2026-05-06T10:00:00Z,only,four")
    (folder / "a.csv").write_text("\n".join(text) + "\n")
    lake = Lake(str(tmp_path / "lake"))
    result = extract_events(tmp_path / "landing", lake, "web", D)
    assert (result.count("rows"), result.count("rows_with_errors")) == (3, 1)
    df = lake.read_df(catalog.raw("web"), D)
    assert df["source_line"].tolist() == [2, 3, 4]
    assert df["coercion_errors"].iloc[1].startswith("line 3: expected 11 fields, found 4")
    assert df["event_id"].tolist()[2] == "w-2"


def test_values_that_do_not_fit_the_contract_are_described(tmp_path):
    folder = landing_dir(tmp_path)
    write_csv(folder / "a.csv", [web_row(1, event_time="yesterday afternoon", duration_seconds="long"), web_row(2)])
    lake = Lake(str(tmp_path / "lake"))
    extract_events(tmp_path / "landing", lake, "web", D)
    df = lake.read_df(catalog.raw("web"), D)
    assert pd.isna(df["event_time"].iloc[0]) and pd.isna(df["duration_seconds"].iloc[0])
    assert (
        df["coercion_errors"].iloc[0]
        == "event_time: 'yesterday afternoon' is not an ISO-8601 timestamp; duration_seconds: 'long' is not a number"
    )
    assert pd.isna(df["coercion_errors"].iloc[1])


def test_invalid_utf8_line_is_kept_and_explained(tmp_path):
    folder = landing_dir(tmp_path)
    write_csv(folder / "a.csv", [web_row(1), web_row(2)])
    data = (folder / "a.csv").read_bytes().replace(b"ck_2", b"ck_\xe9\xff")
    (folder / "a.csv").write_bytes(data)
    lake = Lake(str(tmp_path / "lake"))
    result = extract_events(tmp_path / "landing", lake, "web", D)
    assert (result.count("rows"), result.count("rows_with_errors")) == (2, 1)
    df = lake.read_df(catalog.raw("web"), D)
    assert df["coercion_errors"].iloc[1].startswith("line 3: not valid UTF-8 (byte 0xe9")


def test_corrupt_parquet_and_unsupported_files_fail_clearly(tmp_path):
    folder = landing_dir(tmp_path)
    (folder / "c.parquet").write_bytes(b"PAR1garbage")
    with pytest.raises(ExtractError, match=r"c\.parquet \(day 2026-05-06\): not a readable Parquet file"):
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)
    (folder / "c.parquet").unlink()
    (folder / "notes.xlsx").write_bytes(b"x")
    with pytest.raises(ExtractError, match=r"notes\.xlsx .*unsupported type '.xlsx'"):
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)


def test_day_without_files_writes_an_empty_partition(tmp_path, caplog):
    lake = Lake(str(tmp_path / "lake"))
    (tmp_path / "landing").mkdir()  # the landing root exists (a missing root is an error): only the day is empty
    with caplog.at_level(logging.WARNING):
        result = extract_events(tmp_path / "landing", lake, "email", D)
    assert result.count("rows") == 0 and result.count("files") == 0
    assert lake.read(catalog.raw("email"), D).schema.equals(raw_schema("email"))
    assert "no landing files for email on 2026-05-06" in caplog.text


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_re_extract_writes_byte_identical_parquet(small_sample, tmp_path):
    day = small_sample.end
    landing = small_sample.out / "landing"
    crm = small_sample.crm_url
    digests = []
    for run in range(2):
        lake = Lake(str(tmp_path / f"lake{run}"))
        for source in ("web", "email", "ad"):
            extract_events(landing, lake, source, day)
        extract_crm(crm, lake, day)
        extract_reference(landing, lake, day)
        files = sorted((tmp_path / f"lake{run}").rglob("*.parquet"))
        digests.append({str(p.relative_to(tmp_path / f"lake{run}")): _digest(p) for p in files})
    assert len(digests[0]) == 10  # 3 event sources, calls/web, 4 CRM tables, 2 reference datasets
    assert digests[0] == digests[1]


def test_crm_snapshot_and_errors(small_sample, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    results = {r.unit: r for r in extract_crm(small_sample.crm_url, lake, D)}
    assert results["crm/accounts"].count("rows") == 40
    accounts = lake.read_df(catalog.raw("crm/accounts"), D)
    assert accounts["account_id"].is_monotonic_increasing
    assert str(accounts["updated_at"].dtype) == "datetime64[us, UTC]"
    assert any(str(d).startswith("http://www.") for d in accounts["domain"])  # messy CRM websites stay messy
    opps = lake.read_df(catalog.raw("crm/opportunities"), D)
    assert opps["is_won"].dtype == bool

    broken = tmp_path / "broken.sqlite"
    engine = sa.create_engine(f"sqlite:///{broken}")
    with engine.begin() as conn:
        for t in ("accounts", "contacts", "activities", "opportunities"):
            conn.exec_driver_sql(f"CREATE TABLE {t} (id TEXT)")
    engine.dispose()
    with pytest.raises(
        ExtractError, match=r"CRM table 'accounts' .* lacks contract column\(s\) account_id, name, domain"
    ):
        extract_crm(f"sqlite:///{broken}", lake, D)


def test_unreachable_crm_message_hides_the_password(tmp_path):
    url = "postgresql+psycopg://crm_user:s3cret-pass@127.0.0.1:1/crm"
    with pytest.raises(ExtractError) as err:
        extract_crm(url, Lake(str(tmp_path / "lake")), D)
    assert "s3cret-pass" not in str(err.value)
    assert "crm_user:***@127.0.0.1:1/crm" in str(err.value)
    assert mask_url(url) == "postgresql+psycopg://crm_user:***@127.0.0.1:1/crm"


def test_quoted_line_break_with_bytes_that_are_not_utf8_is_one_flagged_row(tmp_path):
    from include.scoring.extract.readers import read_landing_file

    path = tmp_path / "t.csv"
    path.write_bytes(b'a,b,c\n1,x,y\n2,"\n\x1e\xf4Z\x06\xdc?",z\n3,p,q\n')  # found by the hostile-input property test
    rows = read_landing_file(path, "t.csv", ["a", "b", "c"], ["a"])
    assert rows.table.column("a").to_pylist() == ["1", None, "3"]
    assert list(rows.lines) == [2, 3, 5]
    assert rows.parse_errors[0] is None and rows.parse_errors[2] is None
    assert rows.parse_errors[1].startswith("line 3: not valid UTF-8")


def test_quoted_line_break_in_a_record_of_the_wrong_width_is_one_error_row(tmp_path):
    """Found by the hostile-input property test: the record's continuation line was read as a
    record of its own, so the file seemed to have one row more than it has."""
    from include.scoring.extract.readers import read_landing_file

    path = tmp_path / "t.csv"
    path.write_bytes(b'a,b,c\r\n1,x,y\r\n2,"p\r\nq"\r\n3,r,s\r\n')
    rows = read_landing_file(path, "t.csv", ["a", "b", "c"], ["a"])
    assert rows.table.column("a").to_pylist() == ["1", None, "3"]
    assert list(rows.lines) == [2, 3, 5]
    assert rows.parse_errors[1].startswith("line 3: expected 3 fields, found 2") and rows.parse_errors[2] is None
