"""The lake on S3 (moto's server on loopback, through s3fs): a partition is replaced by writing a new
generation and switching its manifest; a crash before the switch leaves the previous partition
visible, stale generations are removed, and the files are the bytes a local lake holds."""

from __future__ import annotations

import posixpath
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.scoring.core.errors import LakeError, UsageError
from include.scoring.lake import catalog, generations
from include.scoring.lake.store import DATA_FILE, Lake

D = date(2026, 3, 4)
WEB = catalog.raw("web")


def _table(n: int, tag: str = "a") -> pa.Table:
    return pa.table({"id": [f"{tag}{i}" for i in range(n)], "x": list(range(n))})


def _names(lake: Lake, dataset=WEB, day: date = D) -> list[str]:
    return sorted(posixpath.basename(p.rstrip("/")) for p in lake.fs.ls(lake.partition_path(dataset, day)))


def _generations(lake: Lake, dataset=WEB, day: date = D) -> list[str]:
    return [n for n in _names(lake, dataset, day) if n.startswith(generations.GENERATION_PREFIX)]


class Killed(BaseException):
    """A process dying at a point: not an Exception, so no orderly cleanup runs."""


def test_a_partition_is_a_generation_named_by_its_manifest(s3_lake, tmp_path):
    lake = Lake(s3_lake)
    path = lake.write_partition(WEB, D, _table(3), side_files={"summary.json": '{"ok": true}'})
    assert path == f"{s3_lake}/raw/web/dt=2026-03-04"
    (generation,) = _generations(lake)
    assert _names(lake) == sorted([generations.MANIFEST, generation])
    assert sorted(posixpath.basename(p) for p in lake.fs.ls(lake.current_folder(WEB, D))) == [DATA_FILE, "summary.json"]
    assert lake.read(WEB, D).equals(_table(3))
    assert lake.read_side_file(WEB, D, "summary.json") == b'{"ok": true}'
    assert lake.days(WEB) == [D] and lake.row_count(WEB, D) == 3 and lake.exists(WEB, D)
    # the same bytes as a local lake's file: the store changes where files live, not what they hold
    local = Lake(str(tmp_path))
    local.write_partition(WEB, D, _table(3), side_files={"summary.json": '{"ok": true}'})
    assert lake.checksum(WEB, D) == local.checksum(WEB, D)
    assert (
        lake.fs.cat_file(posixpath.join(lake.current_folder(WEB, D), DATA_FILE))
        == (tmp_path / "raw/web/dt=2026-03-04" / DATA_FILE).read_bytes()
    )


def test_a_rewrite_switches_generations_and_removes_the_old_one(s3_lake):
    lake = Lake(s3_lake)
    lake.write_partition(WEB, D, _table(5), side_files={"old.txt": "x"})
    first = _generations(lake)
    lake.write_partition(WEB, D, _table(2, "b"))
    second = _generations(lake)
    assert len(first) == len(second) == 1 and first != second
    assert lake.read(WEB, D).column("id").to_pylist() == ["b0", "b1"]
    assert lake.read_side_file(WEB, D, "old.txt") is None
    # re-running the day gives the same content (a new generation, identical bytes)
    before = lake.checksum(WEB, D)
    lake.write_partition(WEB, D, _table(2, "b"))
    assert lake.checksum(WEB, D) == before and _generations(lake) != second


def test_a_crash_between_writing_and_switching_leaves_the_old_partition_visible(s3_lake, monkeypatch):
    lake = Lake(s3_lake)
    lake.write_partition(WEB, D, _table(4), side_files={"summary.json": "old"})
    (old,) = _generations(lake)
    with monkeypatch.context() as m:

        def die(fs, folder, generation):
            raise Killed

        m.setattr(generations, "switch", die)
        m.setattr(lake.fs, "rm", lambda *a, **k: None)  # a dead process removes nothing
        with pytest.raises(Killed):
            lake.write_partition(WEB, D, _table(1, "new"), side_files={"summary.json": "new"})
    orphan = [g for g in _generations(lake) if g != old]
    assert len(orphan) == 1, "the new generation was written in full before the switch"
    assert lake.fs.exists(posixpath.join(lake.partition_path(WEB, D), orphan[0], DATA_FILE))
    # readers (a fresh process too) still see the whole previous partition
    for reader in (lake, Lake(s3_lake)):
        assert reader.read(WEB, D).column("id").to_pylist() == ["a0", "a1", "a2", "a3"]
        assert reader.read_side_file(WEB, D, "summary.json") == b"old"
    # the next write switches to its own generation and removes both stale ones
    lake.write_partition(WEB, D, _table(1, "new"), side_files={"summary.json": "new"})
    (current,) = _generations(lake)
    assert current not in (old, *orphan)
    assert lake.read(WEB, D).column("id").to_pylist() == ["new0"]


def test_a_failing_write_keeps_the_old_partition_and_leaves_nothing(s3_lake, monkeypatch):
    lake = Lake(s3_lake)
    lake.write_partition(WEB, D, _table(4))
    before = _names(lake)

    def half_a_file(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_a_file)
    with pytest.raises(OSError, match="disk full"):
        lake.write_partition(WEB, D, _table(1, "new"))
    assert _names(lake) == before
    assert lake.read(WEB, D).num_rows == 4


def test_a_first_write_that_crashed_is_no_partition(s3_lake, monkeypatch):
    lake = Lake(s3_lake)
    monkeypatch.setattr(generations, "switch", lambda *a: (_ for _ in ()).throw(Killed))
    monkeypatch.setattr(lake.fs, "rm", lambda *a, **k: None)
    with pytest.raises(Killed):
        lake.write_partition(WEB, D, _table(2))
    assert len(_generations(lake)) == 1
    assert not lake.exists(WEB, D) and lake.days(WEB) == []
    with pytest.raises(LakeError, match="does not exist"):
        lake.read(WEB, D)


def test_sharded_parts_are_objects_in_place_and_layouts_replace_each_other(s3_lake):
    lake = Lake(s3_lake)
    lake.write_partition(catalog.RESOLVED, D, _table(9, "single"))
    lake.write_part(catalog.RESOLVED, D, 0, 2, _table(2))
    # the first part of the sharded layout took the manifest and its generation away
    assert _names(lake, catalog.RESOLVED) == ["part-00000-of-00002.parquet"]
    with pytest.raises(LakeError, match=r"incomplete: shard\(s\) \[1\] of 2 missing"):
        lake.read(catalog.RESOLVED, D)
    lake.write_part(catalog.RESOLVED, D, 1, 2, _table(3, "b"))
    assert lake.read(catalog.RESOLVED, D).num_rows == 5
    assert [t.num_rows for t in lake.read_parts(catalog.RESOLVED, D)] == [2, 3]
    lake.write_part(catalog.RESOLVED, D, 0, 1, _table(4, "c"), metadata={"fingerprint": "f"})
    assert _names(lake, catalog.RESOLVED) == ["part-00000-of-00001.parquet"]
    assert lake.part_metadata(catalog.RESOLVED, D) == [{"fingerprint": "f"}]
    # and a single writer's generation wins over parts at once, which it then removes
    lake.write_partition(catalog.RESOLVED, D, _table(1, "last"))
    assert lake.read(catalog.RESOLVED, D).column("id").to_pylist() == ["last0"]
    assert _names(lake, catalog.RESOLVED) == sorted([generations.MANIFEST, *_generations(lake, catalog.RESOLVED)])


def test_a_part_failing_midway_uploads_nothing(s3_lake, monkeypatch):
    lake = Lake(s3_lake)
    lake.write_part(catalog.RESOLVED, D, 0, 1, _table(3))
    before = lake.checksum(catalog.RESOLVED, D)

    def half_a_file(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("connection reset")

    monkeypatch.setattr(pq, "write_table", half_a_file)
    with pytest.raises(OSError, match="connection reset"):
        lake.write_part(catalog.RESOLVED, D, 0, 1, _table(5, "new"))
    assert lake.checksum(catalog.RESOLVED, D) == before


def test_a_damaged_manifest_is_a_clear_error(s3_lake):
    lake = Lake(s3_lake)
    lake.write_partition(WEB, D, _table(2))
    lake.fs.pipe_file(posixpath.join(lake.partition_path(WEB, D), generations.MANIFEST), b'{"generation": "../x"}')
    with pytest.raises(LakeError, match=r"_manifest.json is unreadable .*Re-run the stage"):
        lake.read(WEB, D)


def test_a_missing_bucket_is_a_clear_error(s3_lake):
    lake = Lake(s3_lake.replace("s3://", "s3://no-such-") + "x")
    with pytest.raises(LakeError, match=r"bucket in ENGAGEMENT_LAKE exists.*AWS_ENDPOINT_URL_S3"):
        lake.write_partition(WEB, D, _table(1))


def test_credentials_in_the_lake_url_are_refused_without_quoting_them():
    with pytest.raises(UsageError) as caught:
        Lake("s3://AKIAEXAMPLE:wJalrXUtnFEMI-secret@bucket/lake")
    message = str(caught.value)
    assert "wJalrXUtnFEMI-secret" not in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "s3://AKIAEXAMPLE:***@bucket/lake" in message


def test_a_local_lake_copied_into_the_bucket_reads_the_same_and_turns_into_generations(s3_lake, tmp_path):
    local = Lake(str(tmp_path / "lake"))
    local.write_partition(WEB, D, _table(3), side_files={"summary.json": "{}"})
    local.write_part(catalog.RESOLVED, D, 0, 2, _table(2))
    local.write_part(catalog.RESOLVED, D, 1, 2, _table(1, "b"))
    lake = Lake(s3_lake)
    lake.fs.put(f"{tmp_path / 'lake'}/", f"{s3_lake}/", recursive=True)  # as `aws s3 sync` would
    for dataset in (WEB, catalog.RESOLVED):
        assert lake.days(dataset) == [D]
        assert lake.checksum(dataset, D) == local.checksum(dataset, D)
    assert lake.read_side_file(WEB, D, "summary.json") == b"{}"
    lake.write_partition(WEB, D, _table(3), side_files={"summary.json": "{}"})
    assert _names(lake) == sorted([generations.MANIFEST, *_generations(lake)])
    assert lake.checksum(WEB, D) == local.checksum(WEB, D)


def test_an_unreachable_server_is_a_transient_error_that_names_it(monkeypatch):
    from include.scoring.core.errors import LakeUnavailable
    from tests.conftest import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name, value in {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s-secret-value",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",  # botocore's own retries: one try is enough to tell
    }.items():
        monkeypatch.setenv(name, value)
    lake = Lake("s3://engagement-nowhere/lake")
    for call in (lambda: lake.read(WEB, D), lambda: lake.write_partition(WEB, D, _table(1))):
        with pytest.raises(
            LakeUnavailable, match=rf"cannot reach the lake s3://engagement-nowhere/lake on .*{endpoint}"
        ):
            call()
    assert LakeUnavailable.transient


def test_missing_credentials_are_a_clear_error(s3_lake, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(LakeError, match=r"found no credentials .*AWS_ACCESS_KEY_ID") as caught:
        Lake(s3_lake).write_partition(WEB, D, _table(1))
    assert not caught.value.transient
