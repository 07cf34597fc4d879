"""Stepping the engine through days: reading a replay's inputs and writing each day's outputs.

History is read a block of days at a time on a reader thread (the block being stepped and the
next one, prepared meanwhile) and each day's files are written on background writer lanes while
the next days are computed, so memory follows the block and the shard, not the whole replay, and
both cores work. The day's arithmetic is in `day.py`; when to replay is decided in `stage.py`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import to_arrow, to_series
from include.scoring.core.config import ScoringConfig
from include.scoring.core.errors import StateError
from include.scoring.lake import catalog
from include.scoring.lake.catalog import Dataset
from include.scoring.lake.sharding import shard_of_column
from include.scoring.lake.store import Lake
from include.scoring.lake.writer import BackgroundWriter
from include.scoring.score.contributions import Contributions, contributions
from include.scoring.score.day import (
    DayData,
    day_blocks,
    day_input,
    day_outputs,
    day_result,
    day_rows,
    day_spans,
    encode_block,
)
from include.scoring.score.engine import Engine
from include.scoring.score.outputs import (
    CHANGE_SCHEMA,
    CONTRIB_DICTIONARY_COLUMNS,
    CONTRIB_NO_STATISTICS,
    CONTRIB_SCHEMA,
    DAILY_LEDGER_SCHEMA,
    DAILY_POINTS_SCHEMA,
    SCORE_DICTIONARY_COLUMNS,
    SCORE_NO_STATISTICS,
    SCORE_SCHEMA,
    daily_points_table,
)
from include.scoring.score.ranking import day_band_health
from include.scoring.score.signals import BONUS_STATE_COLUMNS, bonus_memory, signal_names
from include.scoring.score.state_io import (
    account_keep,
    daily_ledger_table,
    load_history_rings,
    load_state,
    read_batch,
    read_keep,
    state_persons,
    state_tables,
    write_state_companions,
    write_state_marker,
)

RESOLVED_INPUT = [
    "event_id",
    "source",
    "event_time",
    "event_type",
    "account_id",
    "person_key",
    "role",
    "url",
    "form_type",
    "campaign_id",
]
#: columns only the signals are worked out from: read dictionary-encoded, as resolve writes them
#: (a few distinct values each; the codes come from the file, no string per row is built)
CLASSIFIED_ONLY = ["event_type", "url", "form_type", "campaign_id"]


ACCOUNT_INPUT = ["account_id", "name", "lifecycle", "abm_tier", "owner_email", "sdr_email"]


OPPORTUNITY_INPUT = ["account_id", "is_won", "closed_at"]


def _snapshot_of(accounts_table: pa.Table, opps_table: pa.Table, shard: int, shards: int) -> DayData:
    if shards > 1:  # the shard's rows, kept before the tables become frames
        accounts_table = accounts_table.filter(
            pa.array(shard_of_column(accounts_table.column("account_id"), shards) == shard)
        )
        opps_table = opps_table.filter(pa.array(shard_of_column(opps_table.column("account_id"), shards) == shard))
    accounts, opps = accounts_table.to_pandas(), opps_table.to_pandas()
    return DayData(accounts.sort_values("account_id", kind="stable").reset_index(drop=True), opps)


class Snapshots:
    """The CRM snapshot of each day, read when its day comes (a replay never holds a year of
    snapshots). A day whose snapshot equals the day before's (the CRM changes rarely) gets the
    same DayData back, with what was already derived from it."""

    def __init__(self, lake: Lake, shard: int, shards: int):
        self.lake, self.shard, self.shards = lake, shard, shards
        self._last: tuple | None = None
        self._sums: dict[tuple[Dataset, date], str] = {}

    def _checksum(self, dataset: Dataset, day: date) -> str:
        if (dataset, day) not in self._sums:
            self._sums[(dataset, day)] = self.lake.checksum(dataset, day)
        return self._sums[(dataset, day)]

    def __call__(self, day: date) -> DayData:
        key = (
            self._checksum(catalog.valid("crm/accounts"), day),
            self._checksum(catalog.valid("crm/opportunities"), day),
        )
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        accounts = self.lake.read(catalog.valid("crm/accounts"), day, columns=ACCOUNT_INPUT)
        opps = self.lake.read(catalog.valid("crm/opportunities"), day, columns=OPPORTUNITY_INPUT)
        data = _snapshot_of(accounts, opps, self.shard, self.shards)
        self._last = (key, data)
        return data

    def _prefetch(self, days: list[date]) -> None:
        """Digest the days' snapshots two at a time: hashing and reading release the GIL, and a
        year of snapshots is hundreds of files."""
        todo = [
            (dataset, day)
            for day in days
            for dataset in (catalog.valid("crm/accounts"), catalog.valid("crm/opportunities"))
            if (dataset, day) not in self._sums
        ]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="snapshot-digest") as pool:
            for key, digest in zip(todo, pool.map(lambda key: self.lake.checksum(*key), todo), strict=True):
                self._sums[key] = digest

    def universe(self, days: list[date]) -> pd.Index:
        """Every account of the days' CRM snapshots (of the shard), sorted: the engine's rows.
        A snapshot equal to the one before adds nothing and is not read."""
        if len(days) == 1:  # the day's snapshot, read now rather than twice (its accounts are sorted, nulls last)
            ids = to_arrow(self(days[0]).accounts["account_id"]).unique()
            return pd.Index(to_series(ids.cast(pa.string())))
        self._prefetch(days)
        chunks, previous = [], None
        for day in days:
            key = self._checksum(catalog.valid("crm/accounts"), day)
            if key != previous:
                chunks += self.lake.read(catalog.valid("crm/accounts"), day, columns=["account_id"]).column(0).chunks
            previous = key
        ids = pa.chunked_array(chunks, pa.string()).unique()
        if self.shards > 1:
            ids = ids.filter(pa.array(shard_of_column(ids, self.shards) == self.shard))
        return pd.Index(to_series(ids.take(pc.sort_indices(ids))))  # Arrow-backed text: lookups without Python strings


def _check_resolved(lake: Lake, days: list[date]) -> None:
    missing = [d for d in days if not lake.exists(catalog.RESOLVED, d)]
    if missing:
        raise StateError(
            f"cannot score {days[-1]}: it needs resolved events of {missing[0]}"
            f"{f' (and {len(missing) - 1} more day(s))' if len(missing) > 1 else ''}, which are missing. "
            f"Run the earlier stages for those days first: python -m include.scoring run --start {missing[0]} --end "
            f"{days[-1]}"
        )


def _resolved(lake: Lake, days: list[date], keep) -> pa.Table:
    """The days' resolved events with `day`, the day each belongs to, as days since 1970-01-01
    (integers sort, hash and group far faster than a million date objects)."""
    table = lake.read_range(
        catalog.RESOLVED,
        days[0],
        days[-1],
        columns=RESOLVED_INPUT,
        add_day=True,
        keep=keep,
        dictionary=CLASSIFIED_ONLY,
    )
    at = table.schema.get_field_index("dt")
    return table.set_column(at, "day", table.column(at).cast(pa.int32()))


@dataclass
class PreparedBlock:
    """What a block of days needs before its first day is stepped."""

    contribs: Contributions
    after: pd.DataFrame  # the bonus memory after the block: the next block's start, a checkpoint's content
    spans: dict[int, tuple[int, int]]  # each day's rows
    rows: pa.Table | None  # the contributions as written (each day's file is a zero-copy slice)
    codes: dict[str, np.ndarray] | None  # the engine's codes; None until the engine exists


def _prepare_block(
    lake: Lake, days: list[date], keep, config: ScoringConfig, bonus: pd.DataFrame, engine: Engine | None, write: bool
) -> PreparedBlock:
    """Read a block's events and work out its contributions, given the bonus memory before it
    (on the reader thread while the block before is stepped)."""
    contribs = contributions(_resolved(lake, days, keep), config, bonus)
    return PreparedBlock(
        contribs,
        bonus_memory(contribs.pairs, bonus, config),
        day_spans(contribs.day),
        contribs.table if write else None,
        encode_block(engine, contribs) if engine is not None else None,
    )


def _write_contributions(lake: Lake, day: date, contribs: pa.Table, shard: int, shards: int) -> None:
    lake.write_part(
        catalog.CONTRIBUTIONS,
        day,
        shard,
        shards,
        contribs,
        schema=CONTRIB_SCHEMA,
        dictionary=CONTRIB_DICTIONARY_COLUMNS,
        no_statistics=CONTRIB_NO_STATISTICS,
    )


def _write_day(
    lake: Lake,
    day: date,
    scores: pa.Table,
    changes: pa.Table,
    ledger: pa.Table | None,
    meta: dict,
    shard: int,
    shards: int,
) -> str:
    lake.write_part(catalog.DAILY_POINTS, day, shard, shards, daily_points_table(scores), schema=DAILY_POINTS_SCHEMA)
    if ledger is not None:
        lake.write_part(catalog.DAILY_LEDGER, day, shard, shards, ledger, schema=DAILY_LEDGER_SCHEMA)
    lake.write_part(catalog.CHANGES, day, shard, shards, changes, schema=CHANGE_SCHEMA)
    return lake.write_part(
        catalog.SCORES,
        day,
        shard,
        shards,
        scores,
        schema=SCORE_SCHEMA,
        metadata=meta,
        dictionary=SCORE_DICTIONARY_COLUMNS,
        no_statistics=SCORE_NO_STATISTICS,
    )


def run_days(
    lake: Lake,
    config: ScoringConfig,
    days: list[date],
    initial: date | None,
    write: bool = True,
    checkpoint_every: int = 30,
    keep_scores: bool = False,
    shard: int = 0,
    shards: int = 1,
    block_days: int = 30,
):
    """Step through `days` from the state of `initial` (None: empty), for one account shard.
    Yields (day, result[, scores]). History is read `block_days` at a time (the block being
    stepped and the next one, prepared meanwhile), so memory follows the block and the shard,
    not the whole replay."""
    _check_resolved(lake, days)
    keep = account_keep(shard, shards)
    snapshot = Snapshots(lake, shard, shards)
    bonus = _bonus_from_state(lake, initial, keep) if initial else pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    last = days[-1]
    blocks = day_blocks(days, block_days, checkpoint_every)
    # The days' files are written while the next days are computed, and the next block is read and
    # prepared meanwhile (its contributions need only the bonus memory after this block).
    with (
        BackgroundWriter(lanes=2) if write else nullcontext() as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-reader") as reader,
    ):
        upcoming = reader.submit(_prepare_block, lake, blocks[0], keep, config, bonus, None, write)
        # the engine and its stored state are set up while the first block is prepared
        prior_persons = state_persons(lake, initial, keep) if initial else pd.Series(dtype="string")
        engine = Engine(
            config, snapshot.universe(days), signal_names(config), pd.Index(prior_persons.astype("str").unique())
        )
        if initial:
            load_state(lake, initial, engine, keep)
            load_history_rings(lake, days[0], engine, days_ahead=len(days), keep=keep)
        # points earned before this run leave the window from the lake's daily ledgers
        engine.batch_source = lambda ordinal: read_batch(lake, date.fromordinal(ordinal), engine, keep)
        snapshot(days[0])
        for n, block in enumerate(blocks):
            prepared = upcoming.result()
            spans, contrib_rows, after_block = prepared.spans, prepared.rows, prepared.after
            if (
                writer is not None
            ):  # a day's largest file, written while the day is stepped (here: while the block is encoded)
                writer.submit(
                    _write_contributions,
                    lake,
                    block[0],
                    day_rows(contrib_rows, spans, block[0]),
                    shard,
                    shards,
                    lane=1,
                )
            if prepared.codes is None:  # the first block: prepared before the engine existed
                prepared.codes = encode_block(engine, prepared.contribs)
            # the next block's persons join the engine's table only after this block's did: codes keep their order
            if n + 1 < len(blocks):
                upcoming = reader.submit(
                    _prepare_block, lake, blocks[n + 1], keep, config, prepared.after, engine, write
                )
            codes = prepared.codes
            code_spans = day_spans(codes["day"])  # the kept rows' days (encode_block)
            for day in block:
                lo, hi = code_spans.get(day.toordinal(), (0, 0))
                if writer is not None and day != block[0]:
                    writer.submit(
                        _write_contributions, lake, day, day_rows(contrib_rows, spans, day), shard, shards, lane=1
                    )
                data = snapshot(day)
                inp = day_input(engine, {name: values[lo:hi] for name, values in codes.items()}, data, day)
                out, resets = engine.step(inp)
                scores, band, changes = day_outputs(engine, out, resets, data, inp, day, config, rank=shards == 1)
                health = day_band_health(scores, band, config) if shards == 1 else None
                path = ""
                if writer is not None:
                    path = lake.url(catalog.SCORES, day)
                    ledger = daily_ledger_table(engine, engine.last_batch) if engine.window else None
                    meta = {"ranked": health is not None, **(health.meta() if health else {})}
                    writer.submit(_write_day, lake, day, scores, changes, ledger, meta, shard, shards)
                    if day == last or day.toordinal() % checkpoint_every == 0:  # always a block's last day
                        # The companions go beside the day's files; the marker that makes the checkpoint
                        # usable waits for every write before it, on both lanes: a checkpoint only lands
                        # once its days are on disk.
                        tables = state_tables(day, engine, inp.present, after_block, config)
                        writer.submit(write_state_companions, lake, day, tables, shard, shards)
                        writer.submit(write_state_marker, lake, day, tables, shard, shards, after_all=True)
                counts = np.bincount(band, minlength=len(config.bands))
                kinds = pc.value_counts(changes["kind"]).to_pylist()
                kinds = {k["values"]: k["counts"] for k in kinds}
                result = day_result(
                    day,
                    scores.num_rows,
                    {b.name: int(k) for b, k in zip(config.bands, counts, strict=True)},
                    kinds,
                    config.version,
                    path,
                )
                if health is not None:
                    health.report(result)
                yield (day, result, scores.to_pandas()) if keep_scores else (day, result)
            bonus = after_block


def _bonus_from_state(lake: Lake, day: date, keep) -> pd.DataFrame:
    bonus = read_keep(lake, catalog.STATE_BONUS, day, keep)
    return bonus if bonus is not None and len(bonus) else pd.DataFrame(columns=BONUS_STATE_COLUMNS)
