"""The lake on S3 for real: three days through the native Celery cluster (two workers) with the lake
in a bucket of moto's S3 server on loopback, reached through s3fs with the standard AWS variables;
every Parquet partition equals the one the same three days write to a local lake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from tests.integration.test_native_cluster import services_available

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

END = date(2026, 11, 20)
DAYS = [END - timedelta(days=n) for n in (2, 1, 0)]
#: side files that differ between any two runs (Great Expectations stamps render times and random ids)
UNSTABLE_SIDE_FILES = ("data_docs.html",)


def run_local(sample, lake: Path, warehouse: Path) -> None:
    """The same three days, one stage after another in this process, on a local lake."""
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings
    from include.scoring.runner import STAGES, run_range

    settings = Settings(
        landing=str(sample.out / "landing"),
        crm_url=sample.crm_url,
        lake=str(lake),
        warehouse_url=f"sqlite:///{warehouse}",
        config_path=None,
    )
    run_range(RunContext(settings), DAYS[0], DAYS[-1], stages=STAGES, echo=lambda _: None)


def side_files(lake: Lake, dataset: catalog.Dataset, day: date) -> dict[str, object]:
    out = {}
    for name in dataset.side_files:
        if name in UNSTABLE_SIDE_FILES:
            continue
        data = lake.read_side_file(dataset, day, name)
        if name == "summary.json" and data is not None:
            data = json.loads(data)
            data.pop("data_docs", None)  # where the Data Docs page is: the lake's own location
        out[name] = data
    return out


def compare(local: Lake, s3: Lake) -> tuple[int, int]:
    """Every dataset's partitions, part by part and side file by side file; (partitions, identical bytes)."""
    partitions = same_bytes = 0
    for dataset in catalog.CATALOG.values():
        if not dataset.partitioned:
            continue
        days = local.days(dataset)
        assert s3.days(dataset) == days, dataset.name
        for day in days:
            mine, theirs = local.read_parts(dataset, day), s3.read_parts(dataset, day)
            assert len(mine) == len(theirs), (dataset.name, day)
            for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                assert a.equals(b, check_metadata=True), f"{dataset.name} {day} part {k} differs"
            assert side_files(local, dataset, day) == side_files(s3, dataset, day), (dataset.name, day)
            partitions += 1
            same_bytes += local.checksum(dataset, day) == s3.checksum(dataset, day)
    return partitions, same_bytes


def leaks(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_three_days_on_a_celery_cluster_with_the_lake_on_s3(tmp_path, monkeypatch, s3_server):
    services_available()
    from include.sample import generate
    from include.scoring.publish.stage import init_crm
    from scripts.native_cluster import NativeCluster, report

    sample = generate(tmp_path / "sample", accounts=30, days=len(DAYS), end_date=END, seed=11)
    init_crm(sample.crm_url)
    run_local(sample, tmp_path / "local-lake", tmp_path / "local-warehouse.sqlite")

    s3_root = f"s3://{s3_server.new_bucket()}/engagement/lake"
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENGAGEMENT_HOME", str(tmp_path / "home"))  # the alert outbox: this test's own
    monkeypatch.setenv("ENGAGEMENT_LANDING", str(sample.out / "landing"))
    monkeypatch.setenv("ENGAGEMENT_CRM_URL", sample.crm_url)
    monkeypatch.setenv("ENGAGEMENT_LAKE", s3_root)
    monkeypatch.setenv("ENGAGEMENT_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    runs, summaries = [], []
    cluster = NativeCluster(workers=2, concurrency=1)  # one slot each: queued tasks spread over both
    with cluster:
        for day in DAYS:
            run, tasks = cluster.run_day(day, timeout=240)
            summaries.append(report(run, tasks))
            print(summaries[-1])
            runs.append((run, tasks))
            if run["state"] != "success":
                break
        leaked = leaks(cluster.home, s3_server.secret)  # task and service logs, before they are removed

    for (run, tasks), summary in zip(runs, summaries, strict=True):
        assert run["state"] == "success", summary
        assert tasks and all(t["state"] == "success" for t in tasks), summary
    assert len(runs) == len(DAYS)
    assert {t["hostname"] for _, tasks in runs for t in tasks} == {"worker-1", "worker-2"}, summaries
    assert not leaked, f"the S3 secret is in {leaked}"

    s3 = Lake(s3_root)
    assert s3.fs.exists(f"{s3.partition_path(catalog.raw('web'), END)}/_manifest.json"), "not the object-store layout"
    partitions, same_bytes = compare(Lake(str(tmp_path / "local-lake")), s3)
    print(f"{partitions} partitions compared, {same_bytes} byte for byte identical")
    assert same_bytes == partitions
    each_day = (catalog.raw("web"), catalog.valid("crm/accounts"), catalog.RESOLVED, catalog.SCORES, catalog.STATE)
    assert all(s3.exists(dataset, day) for dataset in each_day for day in DAYS), "a stage wrote nothing"
    assert s3.read(catalog.SCORES, END).num_rows == 30
