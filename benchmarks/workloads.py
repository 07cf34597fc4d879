"""Benchmark workloads, built once with the generator and cached under benchmarks/.work/.

- `day`: 100k accounts and one day of landing files at the generator's natural volume (about
  350k events on a campaign Tuesday) or scaled up (`volume`), plus the CRM;
- `replay`: 100k accounts and 365 days of resolved events (about 8.6M at volume 0.175) with the daily CRM
  snapshots the score stage reads, built directly from the generator's ground truth (true account
  and person of each event), so the replay is measured without a year of upstream stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from include.sample import generate
from include.sample.daily import DailyGenerator
from include.sample.world import build_world, deals, span
from include.scoring.core.contracts import raw_schema
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.stage import RESOLVED_SCHEMA, in_time_order

log = logging.getLogger(__name__)
WORK = Path(__file__).resolve().parent / ".work"
SAMPLE = Path(__file__).resolve().parent.parent / "include" / "sample"


def generator_revision() -> str:
    """A digest of the generator's code: a workload cached by an older generator is built again
    (a tuned rate changes the events, and a figure measured on stale events is not the landed one)."""
    digest = hashlib.sha256()
    for path in sorted(SAMPLE.rglob("*.py")):
        digest.update(path.relative_to(SAMPLE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def day_workload(name: str, accounts: int, volume: float, day: date, seed: int = 3) -> Path:
    out = WORK / name
    marker = out / "built.json"
    spec = {
        "accounts": accounts,
        "volume": volume,
        "day": day.isoformat(),
        "seed": seed,
        "generator": generator_revision(),
    }
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return out
    shutil.rmtree(out, ignore_errors=True)
    summary = generate(out / "sample", accounts=accounts, days=1, end_date=day, seed=seed, volume=volume)
    marker.write_text(json.dumps(spec))
    log.info("built %s: %s", name, summary.events)
    return out


def _with_lineage(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    frame = frame.assign(source_file=source, source_line=np.arange(1, len(frame) + 1), coercion_errors=None)
    return frame.reindex(columns=raw_schema(source).names)


def replay_workload(accounts: int, days: int, end: date, volume: float, seed: int = 5) -> tuple[Path, int]:
    """Resolved events and CRM snapshots for `days` days; returns the lake folder and event count."""
    out = WORK / f"replay-{accounts}-{days}"
    marker = out / "built.json"
    spec = {
        "accounts": accounts,
        "days": days,
        "end": end.isoformat(),
        "volume": volume,
        "seed": seed,
        "layout": "time-ordered",
        "generator": generator_revision(),
    }
    if marker.exists() and json.loads(marker.read_text())["spec"] == spec:
        return out / "lake", json.loads(marker.read_text())["events"]
    shutil.rmtree(out, ignore_errors=True)
    lake = Lake(str(out / "lake"))
    start = end - timedelta(days=days - 1)
    rng = np.random.default_rng(seed)
    world = build_world(accounts, start, end, rng)
    persons = world.persons
    contacts = persons["contact_id"].to_numpy()
    roles = persons["role"].to_numpy()
    drawn = deals(world, start, end, seed)  # as generate(): lost deals reset
    daily = DailyGenerator(world, start, seed, volume)
    crm_accounts = _with_lineage(world.accounts.assign(updated_at=pd.Timestamp(start, tz="UTC")), "crm/accounts")
    opps = _with_lineage(drawn, "crm/opportunities")
    total = 0
    for n, day in enumerate(span(start, end)):
        produced = daily.day(day, last_day=day == end)
        frames = []
        for source, frame in (("web", produced.web), ("email", produced.email), ("ad", produced.ad)):
            if frame.empty:
                continue
            frames.append(
                frame.assign(source=source).reindex(
                    columns=[
                        "event_id",
                        "event_time",
                        "source",
                        "event_type",
                        "url",
                        "form_type",
                        "campaign_id",
                        "platform",
                    ]
                )
            )
        acts = produced.activities.rename(
            columns={"activity_id": "event_id", "occurred_at": "event_time", "activity_type": "event_type"}
        ).assign(source="crm")
        frames.append(
            acts.reindex(
                columns=[
                    "event_id",
                    "event_time",
                    "source",
                    "event_type",
                    "url",
                    "form_type",
                    "campaign_id",
                    "platform",
                ]
            )
        )
        events = pd.concat(frames, ignore_index=True).merge(
            produced.truth[["event_id", "true_account_id", "true_person_id", "kind"]], on="event_id", how="inner"
        )
        events = events[events["true_account_id"].notna() & (events["kind"] == "human")]
        person = events["true_person_id"].to_numpy()
        events = events.assign(
            account_id=events["true_account_id"],
            person_key=np.where(person >= 0, "p" + pd.Series(person).astype(str).to_numpy(), None),
            contact_id=np.where(person >= 0, contacts[np.maximum(person, 0)], None),
            role=np.where(person >= 0, roles[np.maximum(person, 0)], None),
            resolution_method=np.where(events["source"] == "crm", "crm_activity", "crm_contact"),
        )
        events["event_time"] = pd.to_datetime(events["event_time"], utc=True)
        lake.write_partition(
            catalog.RESOLVED, day, in_time_order(events.reindex(columns=RESOLVED_SCHEMA.names)), schema=RESOLVED_SCHEMA
        )
        lake.write_partition(catalog.valid("crm/accounts"), day, crm_accounts, schema=raw_schema("crm/accounts"))
        lake.write_partition(catalog.valid("crm/opportunities"), day, opps, schema=raw_schema("crm/opportunities"))
        total += len(events)
        if (n + 1) % 30 == 0:
            log.info("replay workload: %s/%s days, %s resolved events", n + 1, days, total)
    marker.write_text(json.dumps({"spec": spec, "events": total}))
    return out / "lake", total
