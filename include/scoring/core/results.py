"""What a stage did: the one result type every stage function returns.

The DAG glue logs `line()` and passes `partitions` through XCom; the CLI summary reads `counts`,
`breakdowns` and `details` by name. A stage that runs in parts (sources, shards) returns one
result per part, and `merged` adds parts up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date


@dataclass
class StageResult:
    #: extract, validate, resolve, score, publish (or a sub-step: prepare, crm_push, alerts)
    stage: str
    #: what within the stage: a source (`web`, `crm/accounts`), a shard, `warehouse`, `crm`, `alerts`
    unit: str
    day: date
    #: lake locations written (what goes to XCom)
    partitions: list[str] = field(default_factory=list)
    #: how many of each thing: rows, valid, quarantined, resolved, accounts, sent...
    counts: dict[str, int] = field(default_factory=dict)
    #: counts split by a key: by resolution method, by band, by quarantine check...
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    #: short text facts: the replay mode, the config version, the gate status, why a step was skipped
    details: dict[str, str] = field(default_factory=dict)
    #: things on-call should know that did not fail the stage
    warnings: list[str] = field(default_factory=list)
    #: renders the log line from the result (kept with the stage that knows its wording)
    describe: Callable[[StageResult], str] | None = field(default=None, repr=False, compare=False)

    def line(self) -> str:
        if self.describe is not None:
            return self.describe(self)
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        return f"{self.stage} {self.unit} {self.day}  {counts}"

    @property
    def path(self) -> str:
        """The first partition written ('' when none): the one a single-output stage hands on."""
        return self.partitions[0] if self.partitions else ""

    def count(self, name: str) -> int:
        return self.counts.get(name, 0)

    def merged(self, others: Iterable[StageResult]) -> StageResult:
        """This result plus others of the same stage (shards of a day): counts and breakdowns
        summed, partitions, warnings and details kept from the first that has them."""
        total = StageResult(
            self.stage,
            self.unit,
            self.day,
            list(self.partitions),
            dict(self.counts),
            {k: dict(v) for k, v in self.breakdowns.items()},
            dict(self.details),
            list(self.warnings),
            self.describe,
        )
        for other in others:
            for key, value in other.counts.items():
                total.counts[key] = total.counts.get(key, 0) + value
            for name, split in other.breakdowns.items():
                mine = total.breakdowns.setdefault(name, {})
                for key, value in split.items():
                    mine[key] = mine.get(key, 0) + value
            total.partitions += [p for p in other.partitions if p not in total.partitions]
            total.warnings += [w for w in other.warnings if w not in total.warnings]
            for key, value in other.details.items():
                total.details.setdefault(key, value)
        return total
