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

import pyarrow as pa
import pyarrow.compute as pc

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


def _points_by_source(contribs: pa.Table) -> dict[str, tuple[int, int]]:
    """(zero-point, scored) contributions per source, combination bonuses left out (they are no event)."""
    bonus = pc.fill_null(pc.starts_with(contribs["event_id"], "bonus:"), False)
    events = contribs.filter(pc.invert(bonus))
    counts = (
        pa.table(
            {
                "source": events["source"],
                "zero": pc.less_equal(events["points"], 0).cast(pa.int64()),  # NaN points: neither, as before
                "scored": pc.greater(events["points"], 0).cast(pa.int64()),
            }
        )
        .group_by("source")
        .aggregate([("zero", "sum"), ("scored", "sum")])
        .to_pydict()
    )
    return {
        source: (zero or 0, scored or 0)
        for source, zero, scored in zip(counts["source"], counts["zero_sum"], counts["scored_sum"], strict=True)
    }


def build_ledger(lake: Lake, day: date, config: ScoringConfig | None = None) -> Ledger:
    ledger = Ledger(day)
    metrics = lake.read_df(catalog.RESOLUTION, day)
    points = _points_by_source(lake.read(catalog.CONTRIBUTIONS, day, columns=["event_id", "source", "points"]))
    for source in (*EVENT_SOURCES, "crm"):
        m = metrics[metrics["source"] == source].groupby("outcome")["events"].sum()
        counts = {
            "filtered": int(m.get("filtered", 0)),
            "unresolved": int(m.get("unresolved", 0)),
            "zero_point": points.get(source, (0, 0))[0],
            "scored": points.get(source, (0, 0))[1],
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
