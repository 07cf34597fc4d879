"""Every landing entry is read or reported, and a wrong path never empties a day (issue 22, items 5, 6, 8)."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.scoring.cli.main import main
from include.scoring.core.contracts import CONTRACTS
from include.scoring.core.errors import ExtractError
from include.scoring.extract.stage import extract_events, extract_reference
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from tests.unit.extract.test_extract import D, landing_dir, web_row, write_csv

SECRET = "postgresql://admin:hunter2@db.internal/prod"


def _good_day(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    write_csv(landing_dir(tmp_path) / "a.csv", [web_row(i) for i in range(3)])
    extract_events(tmp_path / "landing", lake, "web", D)
    assert lake.row_count(catalog.raw("web"), D) == 3
    return lake


def test_a_landing_root_that_does_not_exist_is_an_error_and_keeps_the_day(tmp_path, capsys):
    lake = _good_day(tmp_path)
    with pytest.raises(ExtractError, match="does not exist"):
        extract_events(tmp_path / "nonexistent", lake, "web", D)
    code = main(
        ["extract", "--date", D.isoformat(), "--source", "web", "--landing", str(tmp_path / "nonexistent"),
         "--lake", str(tmp_path / "lake")]
    )  # fmt: skip
    assert code == 1
    assert "does not exist" in capsys.readouterr().err
    assert lake.row_count(catalog.raw("web"), D) == 3


def test_a_missing_day_folder_never_replaces_a_non_empty_partition(tmp_path):
    lake = _good_day(tmp_path)
    shutil.rmtree(tmp_path / "landing" / "web" / D.isoformat())
    with pytest.raises(ExtractError, match="not replacing them with an empty partition"):
        extract_events(tmp_path / "landing", lake, "web", D)
    assert lake.row_count(catalog.raw("web"), D) == 3


def test_a_missing_reference_folder_is_an_error(tmp_path):
    (tmp_path / "landing").mkdir()
    with pytest.raises(ExtractError, match="reference folder .* does not exist"):
        extract_reference(tmp_path / "landing", Lake(str(tmp_path / "lake")), D)


def test_latin1_json_lines_are_flagged_per_line(tmp_path):
    folder = tmp_path / "landing" / "email" / D.isoformat()
    folder.mkdir(parents=True)
    record = {"event_id": "e1", "event_time": "2026-05-06T10:00:00Z", "email": "jöhn@acme.com",
              "campaign_id": "c", "event_type": "open"}  # fmt: skip
    (folder / "a.jsonl").write_bytes((json.dumps(record, ensure_ascii=False) + "\n").encode("latin-1") * 2)
    lake = Lake(str(tmp_path / "lake"))
    extract_events(tmp_path / "landing", lake, "email", D)
    raw = lake.read_df(catalog.raw("email"), D)
    assert len(raw) == 2 and raw["event_id"].isna().all()
    assert all("not valid UTF-8 (byte 0xf6" in e and "re-export the file as UTF-8" in e for e in raw["coercion_errors"])


def _web_parquet(path, rows: int, duplicate: bool = False) -> None:
    columns = CONTRACTS["web"].names
    arrays = [
        pa.array([str(web_row(i)[c]) if web_row(i)[c] is not None else None for i in range(rows)]) for c in columns
    ]
    names = list(columns)
    if duplicate:
        arrays.append(arrays[0])
        names.append(columns[0])
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)


def test_parquet_with_a_duplicated_column_is_a_clear_error(tmp_path):
    _web_parquet(landing_dir(tmp_path) / "dup.parquet", 2, duplicate=True)
    with pytest.raises(ExtractError, match=r"dup.parquet.*column\(s\) event_id more than once"):
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)


def test_a_spark_style_parquet_directory_is_read_as_one_dataset(tmp_path):
    folder = landing_dir(tmp_path) / "export.parquet"
    folder.mkdir()
    _web_parquet(folder / "part-00000.parquet", 2)
    _web_parquet(folder / "part-00001.parquet", 3)
    (folder / "_SUCCESS").write_text("")
    lake = Lake(str(tmp_path / "lake"))
    result = extract_events(tmp_path / "landing", lake, "web", D)
    raw = lake.read_df(catalog.raw("web"), D)
    assert result.count("rows") == len(raw) == 5
    assert sorted(set(raw["source_file"])) == [
        f"web/{D}/export.parquet/part-00000.parquet",
        f"web/{D}/export.parquet/part-00001.parquet",
    ]


def test_an_unknown_folder_in_a_landing_day_is_reported(tmp_path):
    (landing_dir(tmp_path) / "misc").mkdir()
    with pytest.raises(ExtractError, match="misc .* is a folder"):
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)


def test_a_link_leaving_the_landing_root_is_refused_without_its_content(tmp_path):
    secret = tmp_path / "outside" / "secrets.csv"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\n")
    (landing_dir(tmp_path) / "events.csv").symlink_to(secret)
    with pytest.raises(ExtractError) as err:
        extract_events(tmp_path / "landing", Lake(str(tmp_path / "lake")), "web", D)
    assert "link to outside the landing folder" in str(err.value)
    assert "hunter2" not in str(err.value) and SECRET not in str(err.value)
