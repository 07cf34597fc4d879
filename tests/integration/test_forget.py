"""Right to erasure end to end: `forget` on a real pipeline run, on SQLite and PostgreSQL.

The expected result is built independently of the erasure code: the person's identifiers are
read from the lake's person graph with a plain breadth-first search, their rows are removed from
copies of the landing files and the CRM, and the pipeline runs again from scratch on those. After
`forget`, the lake and the warehouse must match that fresh run, hold no trace of the person, and
stay that way when a day is extracted again from the original (unchanged) landing files and CRM.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from include.sample import generate
from include.scoring.cli.main import main
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.extract.stage import extract_crm, extract_events
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.privacy.forget import forget
from include.scoring.publish.reconcile import build_ledger
from include.scoring.publish.stage import publish_warehouse
from include.scoring.publish.tables import TABLES
from include.scoring.resolve.graph import person_key
from include.scoring.runner import STAGES, run_range
from tests.conftest import SAMPLE_END

pytestmark = pytest.mark.integration
NO_PUBLISH = [s for s in STAGES if s.name != "publish"]
MAX_EMAILS_PER_COOKIE = 3  # the shipped config


def norm_email(value) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    return re.sub(r"\+[^@]*@", "@", value.strip().lower())


def pick_person(lake: Path) -> dict:
    """A CRM contact with resolved events and a linked cookie, and everything linked to them
    (breadth-first over the person graph, skipping cookies over the email limit)."""
    last = sorted(lake.glob("identity/dt=*"))[-1]
    edges = pd.read_parquet(last)
    emails_per_cookie = (
        edges[edges["a"].str.startswith("2:") & edges["b"].str.startswith("3:")].groupby("b")["a"].nunique()
    )
    shared = set(emails_per_cookie[emails_per_cookie > MAX_EMAILS_PER_COOKIE].index)
    usable = edges[~edges["a"].isin(shared) & ~edges["b"].isin(shared)]
    neighbours = defaultdict(set)
    for a, b in zip(usable["a"], usable["b"]):
        neighbours[a].add(b)
        neighbours[b].add(a)
    resolved = pd.read_parquet(lake / "resolved")
    best = None
    for contact in sorted(n for n in neighbours if n.startswith("1:")):
        component, todo = {contact}, [contact]
        while todo:
            for nxt in neighbours[todo.pop()] - component:
                component.add(nxt)
                todo.append(nxt)
        cookies = {n[2:] for n in component if n.startswith("3:")}
        events = int((resolved["contact_id"] == contact[2:]).sum())
        if cookies and events and (best is None or events > best[0]):
            best = (events, component)
    assert best, "the sample has no CRM contact with events and a linked cookie"
    component = best[1]
    out = {
        kind: sorted(n[2:] for n in component if n.startswith(rank))
        for kind, rank in (("contacts", "1:"), ("emails", "2:"), ("cookies", "3:"))
    }
    out["keys"] = sorted(person_key(pd.Series(sorted(component))).dropna())
    return out


def is_person(frame: pd.DataFrame, person: dict) -> pd.Series:
    hit = pd.Series(False, index=frame.index)
    if "email" in frame.columns:
        hit |= frame["email"].map(norm_email).isin(person["emails"])
    if "anonymous_id" in frame.columns:
        hit |= frame["anonymous_id"].map(lambda v: v.strip() if isinstance(v, str) else v).isin(person["cookies"])
    return hit


def landing_without(src: Path, dst: Path, person: dict) -> int:
    """Copy the landing zone without the person's rows (every format rewritten as itself)."""
    shutil.copytree(src, dst)
    removed = 0
    for path in sorted(p for p in dst.rglob("*") if p.is_file() and p.parent.parent.name in ("web", "email", "ad")):
        if path.suffix == ".jsonl":
            lines = path.read_bytes().splitlines(keepends=True)
            frame = pd.DataFrame([json.loads(line) if line.strip() else {} for line in lines])
            keep = ~is_person(frame, person)
            path.write_bytes(b"".join(line for line, k in zip(lines, keep) if k))
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            keep = ~is_person(frame, person)
            frame[keep].to_csv(path, index=False)
        else:
            table = pq.read_table(path)
            keep = ~is_person(table.to_pandas(), person)
            pq.write_table(table.filter(pa.array(keep.to_numpy())), path)
        removed += int((~keep).sum())
    return removed


def crm_without(src_url: str, dst: Path, person: dict) -> str:
    shutil.copy(src_url.removeprefix("sqlite:///"), dst)
    with sqlite3.connect(dst) as conn:
        ids = ",".join("?" * len(person["contacts"]))
        conn.execute(f"DELETE FROM activities WHERE contact_id IN ({ids})", person["contacts"])
        conn.execute(f"DELETE FROM contacts WHERE contact_id IN ({ids})", person["contacts"])
    return f"sqlite:///{dst}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The sample run through extract..score (the lake forget starts from), the person, and the
    fresh run over landing files and CRM without that person (what forget must arrive at).
    Its own sample, at twice the default volume: a contact with events and a linked cookie
    needs a tracked email click, and the small shared sample may have none."""
    out = tmp_path_factory.mktemp("forget")
    generated = generate(out / "sample", accounts=40, days=6, end_date=SAMPLE_END, seed=7, volume=2.0)
    sample = generated.out
    base = Settings(
        landing=str(sample / "landing"),
        crm_url=generated.crm_url,
        lake=str(out / "base-lake"),
        warehouse_url="sqlite://",
        config_path=None,
    )
    run_range(RunContext(base), generated.start, generated.end, stages=NO_PUBLISH, echo=lambda _: None)
    person = pick_person(out / "base-lake")
    removed = landing_without(sample / "landing", out / "fresh-landing", person)
    assert removed > 0
    fresh = Settings(
        landing=str(out / "fresh-landing"),
        crm_url=crm_without(generated.crm_url, out / "fresh-crm.sqlite", person),
        lake=str(out / "fresh-lake"),
        warehouse_url="sqlite://",
        config_path=None,
    )
    run_range(RunContext(fresh), generated.start, generated.end, stages=NO_PUBLISH, echo=lambda _: None)
    return generated, base, person, out


def lake_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def lake_traces(root: Path, needles: list[str]) -> list[str]:
    """Every file of the lake read whole: Parquet text columns decoded, other files as text."""
    needles = [n.lower() for n in needles]
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                column = table.column(name)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    lower = pc.utf8_lower(column)
                    found += [
                        f"{path.relative_to(root)}:{name}:{n}"
                        for n in needles
                        if pc.any(pc.match_substring(lower, n)).as_py()
                    ]
        else:
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            found += [f"{path.relative_to(root)}:{n}" for n in needles if n in text]
    return found


def warehouse_dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {
            t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).fetchall()), key=repr) for t in TABLES
        }  # our own table names
    engine.dispose()
    return out


def read_sql(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        return pd.read_sql_table(table, engine)
    finally:
        engine.dispose()


def scores(root: Path) -> pd.DataFrame:
    frame = pd.read_parquet(root / "scores").rename(columns={"dt": "day"})
    return frame.drop(columns=["day"]).sort_values(["as_of", "account_id"]).reset_index(drop=True)


def resolved(root: Path) -> pd.DataFrame:
    cols = ["event_id", "source", "account_id", "person_key", "contact_id", "resolution_method"]
    return pd.read_parquet(root / "resolved", columns=cols).sort_values(["source", "event_id"]).reset_index(drop=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path):
    return (
        f"sqlite:///{tmp_path / 'warehouse.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )


def test_forget_erases_the_person_everywhere_and_matches_a_run_without_them(runs, warehouse_url, tmp_path, capsys):
    sample, base, person, out = runs
    lake_dir = tmp_path / "lake"
    shutil.copytree(base.lake, lake_dir)
    ctx = RunContext(
        Settings(
            landing=base.landing,
            crm_url=base.crm_url,
            lake=str(lake_dir),
            warehouse_url=warehouse_url,
            config_path=None,
        )
    )
    days = days_between(sample.start, sample.end)
    for day in days:
        publish_warehouse(ctx.lake, ctx.config, warehouse_url, day)
    before_scores = scores(lake_dir)
    before_raw = {d: ctx.lake.row_count(catalog.raw("ad"), d) + ctx.lake.row_count(catalog.raw("web"), d) for d in days}
    needles = person["emails"] + person["cookies"] + person["contacts"]
    assert lake_traces(lake_dir, needles)

    # A dry run changes nothing and says what it would do.
    hashes = lake_hashes(lake_dir)
    tables = warehouse_dump(warehouse_url)
    address = f"  {person['emails'][0].upper().replace('@', '+privacy@')} "  # case, spaces and a +tag do not matter
    assert (
        main(["forget", "--email", address, "--dry-run", "--lake", str(lake_dir), "--warehouse-url", warehouse_url])
        == 0
    )
    printed = capsys.readouterr().out
    assert "DRY RUN" in printed and "that would be removed" in printed and "resolved" in printed
    assert lake_hashes(lake_dir) == hashes and warehouse_dump(warehouse_url) == tables

    result = forget(ctx, address, requested_by="dpo@example.com", crm_push=False)
    assert result.lake_rows > 0 and result.scored_days and result.published_days

    # No trace in any lake file nor any warehouse table: identifiers, and the person keys derived from them.
    assert lake_traces(lake_dir, needles + person["keys"]) == []
    text = repr(warehouse_dump(warehouse_url)).lower()
    assert not [n for n in needles + person["keys"] if n.lower() in text]

    # The lake and the warehouse equal a fresh run over landing files and CRM without the person.
    fresh_lake = out / "fresh-lake"
    pd.testing.assert_frame_equal(scores(lake_dir), scores(fresh_lake))
    pd.testing.assert_frame_equal(resolved(lake_dir), resolved(fresh_lake))
    history = (
        read_sql(warehouse_url, "account_score_history").sort_values(["as_of", "account_id"]).reset_index(drop=True)
    )
    expected = scores(fresh_lake)
    assert history["score"].round(6).tolist() == expected["score"].round(6).tolist()
    assert history["account_id"].tolist() == expected["account_id"].tolist()

    # Only the person's accounts changed; they did change (so this test can fail).
    merged = before_scores.merge(scores(lake_dir), on=["account_id", "as_of"], suffixes=("_before", "_after"))
    changed = set(merged.loc[merged["score_before"].round(6) != merged["score_after"].round(6), "account_id"])
    base_resolved = pd.read_parquet(Path(base.lake) / "resolved")
    theirs = set(base_resolved.loc[base_resolved["contact_id"].isin(person["contacts"]), "account_id"])
    assert changed and changed <= theirs and changed <= set(result.accounts)

    # Every remaining event is accounted for, in the lake and the warehouse ledger.
    assert all(build_ledger(ctx.lake, day).balanced for day in days)
    runs_table = read_sql(warehouse_url, "pipeline_runs")
    assert runs_table["reconciled"].all() and len(runs_table) == len(days)

    # The audit row: who, what, how much; a hash, never the address.
    audit = read_sql(warehouse_url, "privacy_erasures")
    assert len(audit) == 1
    row = audit.iloc[0]
    assert (
        row["request_id"] == result.request_id
        and row["requested_by"] == "dpo@example.com"
        and row["status"] == "completed"
    )
    assert (
        row["lake_rows_removed"] == result.lake_rows > 0
        and row["days_recomputed"] == len(set(result.resolved_days) | set(result.scored_days)) > 0
    )
    assert re.fullmatch(r"[0-9a-f]{64}", row["identifier_hash"])
    assert json.loads(row["accounts_json"]) == result.accounts and json.loads(row["counts_json"])["lake_rows"][
        "valid/crm/contacts"
    ] == len(days) * len(person["contacts"])

    # Extracting an affected day again from the original landing files and CRM drops the person again.
    their_days = set(
        pd.to_datetime(
            base_resolved.loc[base_resolved["contact_id"].isin(person["contacts"]), "dt"].astype(str)
        ).dt.date
    )
    day = max(d for d in days if d in their_days)
    erased_before = {p: h for p, h in lake_hashes(lake_dir).items() if p.startswith("raw/")}
    extracted = [extract_events(Path(base.landing), ctx.lake, s, day) for s in ("web", "ad")] + extract_crm(
        base.crm_url, ctx.lake, day
    )
    erased = {r.unit: r.count("erased") for r in extracted}
    assert erased["crm/contacts"] == len(person["contacts"]) and erased["web"] + erased["ad"] > 0
    assert (
        sum(r.count("rows") + r.count("erased") for r in extracted if r.unit in ("web", "ad")) == before_raw[day]
    )  # landing rows = raw + erased
    assert {
        p: h for p, h in lake_hashes(lake_dir).items() if p.startswith("raw/")
    } == erased_before  # byte-identical partitions
    assert lake_traces(lake_dir / "raw", needles) == []

    # A second request for the same person changes nothing but adds its audit row.
    hashes = lake_hashes(lake_dir)
    tables = warehouse_dump(warehouse_url)
    again = forget(ctx, person["emails"][0], requested_by="dpo@example.com")
    assert again.lake_rows == 0 and again.warehouse_rows == 0 and again.suppression_added == 0 and not again.scored_days
    assert lake_hashes(lake_dir) == hashes
    after = warehouse_dump(warehouse_url)
    assert {t: v for t, v in after.items() if t != "privacy_erasures"} == {
        t: v for t, v in tables.items() if t != "privacy_erasures"
    }
    audit = read_sql(warehouse_url, "privacy_erasures").set_index("request_id")
    assert audit.loc[again.request_id, "lake_rows_removed"] == 0 and audit.loc[again.request_id, "days_recomputed"] == 0
