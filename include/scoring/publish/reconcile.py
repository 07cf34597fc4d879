"""The reconciliation ledger of a day: every event that entered raw, and where it ended.

For each event source: raw = quarantined + filtered + unresolved + zero-point + scored, where
scored and zero-point split the resolved events by whether they earned points. CRM activities
are events once they enter the late-arrival window (their raw table is a snapshot), or when first
seen after it (filtered as late_arrival); their raw side is counted from the lake (the valid
snapshot's events of the day plus the day's quarantined activities), not from the outcomes, so
an activity that ends in no outcome unbalances the ledger. Nothing may go missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.sources import CRM_TABLES, EVENT_SOURCES
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.resolve.stage import crm_entries


@dataclass
class Ledger:
    day: date
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    crm_snapshot: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(counts.get(key, 0) for counts in self.by_source.values())

    @property
    def balanced(self) -> bool:
        return all(
            c["raw"] == c["quarantined"] + c["filtered"] + c["unresolved"] + c["zero_point"] + c["scored"]
            for c in self.by_source.values()
        )

    @property
    def resolution_rate(self) -> float:
        resolved = self.total("zero_point") + self.total("scored")
        humans = resolved + self.total("unresolved")
        return resolved / humans if humans else 0.0

    def as_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "sources": self.by_source,
            "crm_snapshot": self.crm_snapshot,
            "balanced": self.balanced,
        }


def build_ledger(lake: Lake, day: date, config: ScoringConfig | None = None) -> Ledger:
    ledger = Ledger(day)
    metrics = lake.read_df(catalog.RESOLUTION, day)
    contribs = lake.read_df(catalog.CONTRIBUTIONS, day, columns=["event_id", "source", "points"])
    contribs = contribs[~contribs["event_id"].str.startswith("bonus:")]
    for source in (*EVENT_SOURCES, "crm"):
        m = metrics[metrics["source"] == source].groupby("outcome")["events"].sum()
        c = contribs[contribs["source"] == source]
        counts = {
            "filtered": int(m.get("filtered", 0)),
            "unresolved": int(m.get("unresolved", 0)),
            "zero_point": int((c["points"] <= 0).sum()),
            "scored": int((c["points"] > 0).sum()),
        }
        if source == "crm":
            entered, quarantined = crm_entries(lake, config or load_config(), day)
            counts["raw"] = entered + quarantined
            counts["quarantined"] = quarantined
        else:
            counts["raw"] = lake.row_count(catalog.raw(source), day)
            counts["quarantined"] = lake.row_count(catalog.quarantine(source), day)
            counts["valid"] = lake.row_count(catalog.valid(source), day)
        ledger.by_source[source] = counts
    for table in CRM_TABLES:
        ledger.crm_snapshot[table] = {
            "raw": lake.row_count(catalog.raw(f"crm/{table}"), day),
            "quarantined": lake.row_count(catalog.quarantine(f"crm/{table}"), day),
        }
    return ledger
