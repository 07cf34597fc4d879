"""Synthetic sample data: a deterministic world of accounts and people, and their daily activity.

`generate()` writes what the pipeline reads (SPEC section 7):
  OUT/landing/<source>/<day>/...   web, email and ad events in CSV, JSONL and Parquet
  OUT/landing/reference/...        ip_ranges.csv, free_email_domains.txt (+ licence)
  OUT/crm.sqlite (or crm_url)      accounts, contacts, activities, opportunities
  OUT/truth/...                    true account and person per event, latent intent per account
The same seed gives byte-identical files. Memory is bounded by one day of events.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from include.sample.daily import DailyGenerator
from include.sample.defects import broken_jsonl_lines
from include.sample.landing import write_crm, write_crm_changes, write_landing_day, write_reference
from include.sample.world import build_world, deals, span
from include.scoring.core.contracts import CONTRACTS

log = logging.getLogger(__name__)


def default_end_date() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@dataclass
class GenerateSummary:
    out: Path
    start: date
    end: date
    accounts: int
    contacts: int
    events: dict[str, int] = field(default_factory=dict)
    crm_rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    crm_url: str = ""
    #: dated CRM changes (customers churning), applied day by day by the demo
    crm_changes: int = 0

    def lines(self) -> list[str]:
        out = [
            f"Generated {self.accounts} accounts, {self.contacts} contacts, {(self.end - self.start).days + 1} days "
            f"({self.start} to {self.end}) in {self.out}",
        ]
        out += [f"  {src:<8} {n:>10,} events" for src, n in self.events.items()]
        out += [f"  crm.{tbl:<12} {n:>8,} rows" for tbl, n in self.crm_rows.items()]
        if self.crm_changes:
            out.append(f"  {self.crm_changes} customers churn during the period (the demo updates the CRM on the day)")
        if self.defects:
            out.append("  injected defects: " + ", ".join(f"{k}={v}" for k, v in sorted(self.defects.items())))
        return out


def generate(
    out: Path | str,
    accounts: int = 300,
    days: int = 180,
    end_date: date | None = None,
    seed: int = 42,
    crm_url: str | None = None,
    bad_rows: float = 0.0,
    volume: float = 1.0,
) -> GenerateSummary:
    """Write a complete synthetic sample to `out` (see module docstring)."""
    out = Path(out)
    end = end_date or default_end_date()
    start = end - timedelta(days=days - 1)
    landing, truth_dir = out / "landing", out / "truth"
    for folder in (landing, truth_dir):
        if folder.exists():
            shutil.rmtree(folder)
    (truth_dir / "events").mkdir(parents=True)
    crm_url = crm_url or f"sqlite:///{(out / 'crm.sqlite').resolve()}"
    rng = np.random.default_rng(seed)
    world = build_world(accounts, start, end, rng)
    opps = deals(world, start, end, seed)
    write_reference(landing, world.ip_ranges)
    daily = DailyGenerator(world, start, seed, volume, bad_rows)
    summary = GenerateSummary(out, start, end, accounts, len(world.contacts), crm_url=crm_url)
    summary.events = {"web": 0, "email": 0, "ad": 0, "crm": 0}
    activities = []
    for n, day in enumerate(span(start, end)):
        produced = daily.day(day, last_day=day == end)
        for key, value in produced.defects.items():
            summary.defects[key] = summary.defects.get(key, 0) + value
        for source in ("web", "email", "ad"):
            frame = getattr(produced, source)
            write_landing_day(landing, source, day, frame)
            summary.events[source] += len(frame)
        if bad_rows > 0 and n == days // 2:
            lines = broken_jsonl_lines(day)
            (landing / "web" / day.isoformat() / "web-events-retry.jsonl").write_text(
                "\n".join(lines) + "\n", encoding="utf-8"
            )
            summary.events["web"] += len(lines)
            summary.defects["web.broken_file_lines"] = len(lines)
        activities.append(produced.activities)
        summary.events["crm"] += len(produced.activities)
        produced.truth.assign(generated_day=day).to_parquet(
            truth_dir / "events" / f"{day.isoformat()}.parquet", index=False
        )
        if (n + 1) % 30 == 0 or day == end:
            log.info("generated %s/%s days (through %s)", n + 1, days, day)
    acts = pd.concat(activities, ignore_index=True)
    crm = {
        "accounts": world.accounts,
        "contacts": world.contacts,
        "activities": acts,
        "opportunities": opps,
    }
    write_crm(crm_url, crm)
    churn = world.accounts[world.accounts["churn_day"] >= 0]
    write_crm_changes(
        crm_url,
        pd.DataFrame(
            {
                "account_id": churn["account_id"],
                "day": [start + timedelta(days=int(d)) for d in churn["churn_day"]],
                "lifecycle": "churned",
            }
        ),
    )
    summary.crm_rows = {name: len(frame) for name, frame in crm.items()}
    summary.crm_changes = len(churn)
    world.accounts.drop(
        columns=[c.name for c in CONTRACTS["crm/accounts"].columns if c.name not in ("account_id", "name")]
    ).to_parquet(truth_dir / "accounts.parquet", index=False)
    world.persons.drop(columns=["first_name", "last_name"]).assign(
        account_id=lambda p: np.where(
            p["account"] >= 0, world.accounts["account_id"].to_numpy()[np.maximum(p["account"], 0)], None
        )
    ).to_parquet(truth_dir / "persons.parquet", index=False)
    opps.to_parquet(truth_dir / "opportunities.parquet", index=False)
    return summary
