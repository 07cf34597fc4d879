"""Lake I/O: partition paths, atomic replacement, clear errors for missing or corrupt files."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.scoring.core.errors import LakeError
from include.scoring.lake import catalog
from include.scoring.lake.store import DATA_FILE, Lake

D = date(2026, 3, 4)


def _table(n: int, tag: str = "a") -> pa.Table:
    return pa.table({"id": [f"{tag}{i}" for i in range(n)], "x": list(range(n))})


def test_write_and_read_a_partition(tmp_path):
    lake = Lake(str(tmp_path))
    path = lake.write_partition(catalog.raw("web"), D, _table(3), side_files={"summary.json": "{}"})
    assert path == f"{tmp_path}/raw/web/dt=2026-03-04"
    assert (tmp_path / "raw/web/dt=2026-03-04" / DATA_FILE).exists()
    assert lake.read(catalog.raw("web"), D).num_rows == 3
    assert lake.read_side_file(catalog.raw("web"), D, "summary.json") == b"{}"
    assert lake.days(catalog.raw("web")) == [D]
    assert lake.row_count(catalog.raw("web"), D) == 3


def test_rewrite_replaces_the_whole_partition(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.raw("web"), D, _table(5), side_files={"old.txt": "x"})
    lake.write_partition(catalog.raw("web"), D, _table(2, "b"))
    assert lake.read(catalog.raw("web"), D).column("id").to_pylist() == ["b0", "b1"]
    assert not (tmp_path / "raw/web/dt=2026-03-04/old.txt").exists()
    assert sorted(p.name for p in (tmp_path / "raw/web").iterdir()) == ["dt=2026-03-04"]


def test_a_write_failing_midway_leaves_no_partition(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))

    def crash(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        lake.write_partition(catalog.raw("web"), D, _table(3))
    assert not lake.exists(catalog.raw("web"), D)
    assert list((tmp_path / "raw/web").iterdir()) == []  # no temp folder left behind either


def test_a_failed_rewrite_keeps_the_previous_partition(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.raw("web"), D, _table(4))
    real = lake._swap_into_place

    def crash_in_side_file(*args, **kwargs):
        raise RuntimeError("killed before the swap")

    monkeypatch.setattr(lake, "_swap_into_place", crash_in_side_file)
    with pytest.raises(RuntimeError):
        lake.write_partition(catalog.raw("web"), D, _table(1, "new"))
    monkeypatch.setattr(lake, "_swap_into_place", real)
    assert lake.read(catalog.raw("web"), D).num_rows == 4
    assert sorted(p.name for p in (tmp_path / "raw/web").iterdir()) == ["dt=2026-03-04"]


def test_empty_partition_keeps_the_schema(tmp_path):
    lake = Lake(str(tmp_path))
    schema = pa.schema([("event_id", pa.string()), ("n", pa.int64())])
    lake.write_partition(catalog.raw("ad"), D, None, schema=schema)
    table = lake.read(catalog.raw("ad"), D)
    assert table.num_rows == 0 and table.schema.equals(schema)


def test_missing_partition_is_a_clear_error(tmp_path):
    lake = Lake(str(tmp_path))
    with pytest.raises(LakeError, match=r"raw/web/dt=2026-03-04 does not exist.*run --start 2026-03-04"):
        lake.read(catalog.raw("web"), D)
    assert lake.read(catalog.raw("web"), D, missing_ok=True) is None


def test_corrupt_parquet_names_the_file(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.valid("web"), D, _table(3))
    (tmp_path / "valid/web/dt=2026-03-04" / DATA_FILE).write_bytes(b"not parquet at all")
    with pytest.raises(LakeError, match=r"valid/web/dt=2026-03-04/part-00000.parquet is unreadable or corrupt"):
        lake.read(catalog.valid("web"), D)


def test_read_range_concatenates_and_skips_missing_days(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.SCORES, date(2026, 3, 1), _table(2))
    lake.write_partition(catalog.SCORES, date(2026, 3, 3), _table(3))
    table = lake.read_range(catalog.SCORES, date(2026, 3, 1), date(2026, 3, 3), add_day=True)
    assert table.num_rows == 5
    assert sorted(set(table.column("dt").to_pylist())) == [date(2026, 3, 1), date(2026, 3, 3)]


def test_text_columns_read_dictionary_encoded_hold_the_same_values(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.SCORES, date(2026, 3, 1), _table(2, "a"))
    lake.write_partition(catalog.SCORES, date(2026, 3, 2), _table(3, "b"))
    plain = lake.read_range(catalog.SCORES, date(2026, 3, 1), date(2026, 3, 2))
    whole = lake.read_range(catalog.SCORES, date(2026, 3, 1), date(2026, 3, 2), dictionary=["id"])
    kept = lake.read_range(
        catalog.SCORES,
        date(2026, 3, 1),
        date(2026, 3, 2),
        keep=lambda t: pa.compute.greater(t["x"], 0).to_numpy(),
        dictionary=["id"],
    )
    assert pa.types.is_dictionary(whole.schema.field("id").type) and whole.column("x").equals(plain.column("x"))
    assert whole.column("id").cast(pa.string()).to_pylist() == plain.column("id").to_pylist()
    assert pa.types.is_dictionary(kept.schema.field("id").type)
    assert kept.column("id").cast(pa.string()).to_pylist() == ["a1", "b1", "b2"]


def test_fsspec_url_goes_through_the_same_code(tmp_path):
    lake = Lake(f"file://{tmp_path}")
    lake.write_partition(catalog.raw("web"), D, _table(2))
    assert Lake(str(tmp_path)).read(catalog.raw("web"), D).num_rows == 2
    memory = Lake("memory://engagement-test")
    memory.write_partition(catalog.raw("web"), D, _table(3))
    assert memory.read(catalog.raw("web"), D).num_rows == 3
    assert memory.days(catalog.raw("web")) == [D]


def _crash_at_swap(lake, monkeypatch):
    """Die like a killed worker between moving the previous version aside and renaming the new
    one in (a BaseException that is not an Exception also skips the cleanup of an orderly failure)."""

    class Killed(BaseException):
        pass

    def half_swap(tmp, target, token):
        lake.fs.mv(target, f"{target.rsplit('/', 1)[0]}/_old_{target.rsplit('/', 1)[1]}_{token}", recursive=True)
        raise Killed

    monkeypatch.setattr(lake, "_swap_into_place", half_swap)
    monkeypatch.setattr(lake.fs, "rm", lambda *a, **k: None)  # a dead process removes nothing
    return Killed


def test_siblings_left_by_a_crash_are_invisible_and_swept_by_the_next_write(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))
    lake.write_partition(catalog.raw("web"), D, _table(4))
    lake.write_partition(catalog.raw("web"), date(2026, 3, 5), _table(1))
    with monkeypatch.context() as m:
        killed = _crash_at_swap(lake, m)
        with pytest.raises(killed):
            lake.write_partition(catalog.raw("web"), D, _table(2, "new"))
    left = sorted(p.name for p in (tmp_path / "raw/web").iterdir())
    assert [n[:19] for n in left] == ["_old_dt=2026-03-04_", "_tmp_dt=2026-03-04_", "dt=2026-03-05"]
    # missing, never half written: readers see no partition for D, and other days are intact
    assert not lake.exists(catalog.raw("web"), D) and lake.days(catalog.raw("web")) == [date(2026, 3, 5)]
    with pytest.raises(LakeError, match="does not exist"):
        lake.read(catalog.raw("web"), D)
    assert pq.read_table(tmp_path / "raw/web").num_rows == 1  # a Parquet dataset reader skips `_` names too
    lake.write_partition(catalog.raw("web"), D, _table(2, "new"))
    assert sorted(p.name for p in (tmp_path / "raw/web").iterdir()) == ["dt=2026-03-04", "dt=2026-03-05"]
    assert lake.read(catalog.raw("web"), D).column("id").to_pylist() == ["new0", "new1"]


def test_sharded_write_keeps_other_shards_in_flight_and_sweeps_its_own_leftovers(tmp_path):
    lake = Lake(str(tmp_path))
    folder = tmp_path / "resolved/dt=2026-03-04"
    folder.mkdir(parents=True)
    in_flight = folder / "_tmp_part-00001-of-00002_0123456789ab.parquet"  # shard 1 is writing right now
    crashed = folder / "_tmp_part-00000-of-00002_ba9876543210.parquet"  # shard 0 was killed mid-file earlier
    old_layout = folder / "_tmp_part-00002-of-00003_aaaaaaaaaaaa.parquet"
    for path in (in_flight, crashed, old_layout):
        path.write_bytes(b"PAR1 half a file")
    lake.write_part(catalog.RESOLVED, D, 0, 2, _table(2))
    assert in_flight.exists(), "another shard's temporary file was removed while it was being written"
    assert not crashed.exists() and not old_layout.exists()
    with pytest.raises(LakeError, match="incomplete"):
        lake.read(catalog.RESOLVED, D)
    lake.write_part(catalog.RESOLVED, D, 1, 2, _table(3, "b"))
    assert lake.read(catalog.RESOLVED, D).num_rows == 5


def test_corrupt_footer_reads_name_the_file(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_part(catalog.STATE, D, 0, 1, _table(3), metadata={"fingerprint": "x"})
    path = tmp_path / "state/dt=2026-03-04/part-00000-of-00001.parquet"
    path.write_bytes(path.read_bytes()[:20])
    for read in (lambda: lake.row_count(catalog.STATE, D), lambda: lake.part_metadata(catalog.STATE, D)):
        with pytest.raises(
            LakeError, match=r"state/dt=2026-03-04/part-00000-of-00001.parquet is unreadable or corrupt"
        ):
            read()


def test_checksum_tells_equal_partitions_from_changed_ones(tmp_path):
    from datetime import timedelta

    lake = Lake(str(tmp_path / "lake"))
    table = pa.table({"account_id": ["a", "b"], "score": [1.0, 2.0]})
    lake.write_partition(catalog.STATE, D, table)
    lake.write_partition(catalog.STATE, D + timedelta(days=1), table)
    lake.write_partition(catalog.STATE, D + timedelta(days=2), table.set_column(1, "score", pa.array([1.0, 2.5])))
    assert lake.checksum(catalog.STATE, D) == lake.checksum(catalog.STATE, D + timedelta(days=1))
    assert lake.checksum(catalog.STATE, D) != lake.checksum(catalog.STATE, D + timedelta(days=2))
    with pytest.raises(LakeError, match="does not exist"):
        lake.checksum(catalog.STATE, D + timedelta(days=3))


def test_a_part_split_by_shard_gives_each_shard_only_its_row_groups(tmp_path, monkeypatch):
    """Resolve writes its part grouped by account shard; a score shard reads just its row groups,
    and gets the same rows, in the same order, as filtering the whole part by hash."""
    from include.scoring.lake import atomic as lake_module
    from include.scoring.lake.sharding import ShardRows, shard_of_column, split_by_shard

    monkeypatch.setattr(lake_module, "ROW_GROUP_ROWS", 7)  # several row groups per shard
    table = pa.table({"account_id": [f"A{i % 13}" for i in range(60)], "x": list(range(60))})
    shard = shard_of_column(table.column("account_id"), 3)
    assert len(set(shard.tolist())) == 3, "the example must put rows in every shard"
    lake = Lake(str(tmp_path))
    grouped, split = split_by_shard(table, "account_id", 3)
    assert list(split.rows) == [int((shard == k).sum()) for k in range(3)]
    lake.write_part(catalog.RESOLVED, D, 0, 1, grouped, split=split)
    lake.write_part(catalog.FILTERED, D, 0, 1, table)
    path = tmp_path / "resolved/dt=2026-03-04/part-00000-of-00001.parquet"
    groups = pq.ParquetFile(path).num_row_groups
    assert groups == sum(-(-n // 7) for n in split.rows), "each shard in row groups of its own"
    read = []
    real = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(
        pq.ParquetFile,
        "read_row_groups",
        lambda self, wanted, **kw: read.append(list(wanted)) or real(self, wanted, **kw),
    )
    for k in range(3):
        keep = ShardRows("account_id", k, 3)
        got = lake.read_where(catalog.RESOLVED, D, keep, ["account_id", "x"])
        assert got.column("x").to_pylist() == [x for x, s in enumerate(shard) if s == k], (
            "the shard's rows, in the order written"
        )
        assert keep(got).all()
        assert lake.read_where(catalog.FILTERED, D, keep, ["account_id", "x"]).equals(got), (
            "a part without the note is filtered by hash: same rows"
        )
    assert sorted(g for wanted in read for g in wanted) == list(range(groups)), (
        "each row group read by exactly one shard"
    )
    # a note for another shard count is ignored: the part is read whole and filtered
    other = lake.read_where(catalog.RESOLVED, D, ShardRows("account_id", 1, 2), ["account_id", "x"])
    assert sorted(other.column("x").to_pylist()) == [
        x for x, s in enumerate(shard_of_column(table.column("account_id"), 2)) if s == 1
    ]


def test_a_split_note_that_does_not_fit_the_file_is_ignored(tmp_path):
    """A note listing another number of row groups than the file has (a file rewritten by other
    means) cannot pick row groups: the part is read whole and filtered by hash."""
    import json

    from include.scoring.lake.sharding import SPLIT_KEY, ShardRows, shard_of_column

    table = pa.table({"account_id": [f"A{i % 13}" for i in range(60)], "x": list(range(60))})
    folder = tmp_path / "resolved/dt=2026-03-04"
    folder.mkdir(parents=True)
    wrong = {"column": "account_id", "shards": 2, "row_groups": [0, 1]}  # the file has 6 row groups
    pq.write_table(
        table.replace_schema_metadata({SPLIT_KEY: json.dumps(wrong).encode()}),
        folder / "part-00000-of-00001.parquet",
        row_group_size=10,
    )
    got = Lake(str(tmp_path)).read_where(catalog.RESOLVED, D, ShardRows("account_id", 1, 2), ["account_id", "x"])
    assert got.column("x").to_pylist() == [
        x for x, s in enumerate(shard_of_column(table.column("account_id"), 2)) if s == 1
    ]


def test_the_lake_takes_catalog_entries_not_strings(tmp_path):
    lake = Lake(str(tmp_path))
    with pytest.raises(TypeError, match="catalog entry"):
        lake.write_partition("raw/web", D, _table(1))
    with pytest.raises(TypeError, match="catalog entry"):
        lake.read("scores", D, missing_ok=True)
