"""Score for day D: contributions, the state machine, and the lake outputs (SPEC section 7).

Day D is computed from the state at D-1 plus day D. When that state is missing or was built under
another config (first run, full refresh, config change, a gap), the days before D are replayed from
the last usable checkpoint (or from the first day with resolved data) with the very same step
function, vectorised across accounts: a Python loop over days, never over accounts or events.
Writes contributions/, scores/, changes/, daily_points/ and state/ (state every day incrementally;
a checkpoint every 30 days and the last day during a replay).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import positions, to_arrow, to_series
from include.scoring.core.config import ScoringConfig
from include.scoring.core.contracts import EVENT_SOURCES
from include.scoring.core.errors import StateError
from include.scoring.lake.sharding import shard_of_column
from include.scoring.lake.store import Lake, days_between
from include.scoring.lake.writer import BackgroundWriter
from include.scoring.score.contributions import Contributions, contributions
from include.scoring.score.engine import EPOCH_ORDINAL, DayInput, Engine, day_ns, times_ns
from include.scoring.score.outputs import (
    CHANGE_SCHEMA,
    CONTRIB_DICTIONARY_COLUMNS,
    CONTRIB_NO_STATISTICS,
    CONTRIB_SCHEMA,
    DAILY_POINTS_SCHEMA,
    SCORE_DICTIONARY_COLUMNS,
    SCORE_NO_STATISTICS,
    SCORE_SCHEMA,
    account_columns,
    alert_changes,
    band_changes,
    change_table,
    daily_points_table,
    score_table,
    sorted_changes,
)
from include.scoring.score.signals import BONUS_STATE_COLUMNS, bonus_memory, signal_names
from include.scoring.score.state_io import (
    account_keep,
    load_history_rings,
    load_state,
    read_keep,
    state_meta,
    state_persons,
    state_tables,
    write_state_companions,
    write_state_marker,
)

log = logging.getLogger(__name__)
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
ACCOUNT_INPUT = ["account_id", "name", "lifecycle", "abm_tier", "owner_email", "sdr_email"]


@dataclass
class ScoreResult:
    day: date
    accounts: int
    bands: dict[str, int]
    resets: int
    alerts: int
    band_changes: int
    mode: str
    config_version: str
    path: str = ""
    source: str = "scores"
    top: list[dict] = field(default_factory=list)

    def line(self) -> str:
        bands = ", ".join(f"{k} {v:,}" for k, v in self.bands.items())
        return (
            f"score {self.day}  {self.accounts:,} accounts [{bands}]  {self.band_changes:,} band changes, {self.alerts:,} alerts, "
            f"{self.resets:,} resets  ({self.mode}, config {self.config_version})"
        )


@dataclass
class DayData:
    accounts: pd.DataFrame
    opportunities: pd.DataFrame
    #: what the day's outputs take from the snapshot alone (positions, text columns), made once
    #: per snapshot: a replay reuses an unchanged snapshot for many days
    derived: dict = field(default_factory=dict)


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
        self._sums: dict[tuple[str, date], str] = {}

    def _checksum(self, dataset: str, day: date) -> str:
        if (dataset, day) not in self._sums:
            self._sums[(dataset, day)] = self.lake.checksum(dataset, day)
        return self._sums[(dataset, day)]

    def __call__(self, day: date) -> DayData:
        key = (self._checksum("valid/crm/accounts", day), self._checksum("valid/crm/opportunities", day))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        accounts = self.lake.read("valid/crm/accounts", day, columns=ACCOUNT_INPUT)
        opps = self.lake.read("valid/crm/opportunities", day, columns=OPPORTUNITY_INPUT)
        data = _snapshot_of(accounts, opps, self.shard, self.shards)
        self._last = (key, data)
        return data

    def _prefetch(self, days: list[date]) -> None:
        """Digest the days' snapshots two at a time: hashing and reading release the GIL, and a
        year of snapshots is hundreds of files."""
        todo = [
            (dataset, day)
            for day in days
            for dataset in ("valid/crm/accounts", "valid/crm/opportunities")
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
            key = self._checksum("valid/crm/accounts", day)
            if key != previous:
                chunks += self.lake.read("valid/crm/accounts", day, columns=["account_id"]).column(0).chunks
            previous = key
        ids = pa.chunked_array(chunks, pa.string()).unique()
        if self.shards > 1:
            ids = ids.filter(pa.array(shard_of_column(ids, self.shards) == self.shard))
        return pd.Index(to_series(ids.take(pc.sort_indices(ids))))  # Arrow-backed text: lookups without Python strings


def _blocks(days: list[date], block_days: int, checkpoint_every: int) -> list[list[date]]:
    """Days in blocks of at most `block_days`, each checkpoint day ending a block (the bonus
    memory a checkpoint saves is then the block's, computed once)."""
    blocks, block = [], []
    for day in days:
        block.append(day)
        if len(block) == block_days or day.toordinal() % checkpoint_every == 0:
            blocks.append(block)
            block = []
    return blocks + [block] if block else blocks


def _check_resolved(lake: Lake, days: list[date]) -> None:
    missing = [d for d in days if not lake.exists("resolved", d)]
    if missing:
        raise StateError(
            f"cannot score {days[-1]}: it needs resolved events of {missing[0]}"
            f"{f' (and {len(missing) - 1} more day(s))' if len(missing) > 1 else ''}, which are missing. "
            f"Run the earlier stages for those days first: python -m include.scoring run --start {missing[0]} --end {days[-1]}"
        )


def _resolved(lake: Lake, days: list[date], keep) -> pa.Table:
    """The days' resolved events with `day`, the day each belongs to, as days since 1970-01-01
    (integers sort, hash and group far faster than a million date objects)."""
    table = lake.read_range("resolved", days[0], days[-1], columns=RESOLVED_INPUT, add_day=True, keep=keep)
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
        _day_spans(contribs.day),
        contribs.table if write else None,
        _encode(engine, contribs) if engine is not None else None,
    )


def _customers(data: DayData, day: date) -> np.ndarray:
    """Per snapshot row: a customer on day D (lifecycle customer in the CRM, or an opportunity won
    and closed by the end of D). What depends only on the snapshot is worked out once for it."""
    if "won_close_ns" not in data.derived:
        opps = data.opportunities
        closed = pd.to_datetime(opps["closed_at"], utc=True)
        won = opps["is_won"].fillna(False).astype(bool).to_numpy() & closed.notna().to_numpy()
        first_won = (
            pd.Series(times_ns(closed[won]), index=opps["account_id"][won].to_numpy(dtype=object))
            .groupby(level=0)
            .min()
        )
        rows = positions(data.accounts["account_id"], first_won.index)
        close_ns = np.full(len(rows), np.iinfo(np.int64).max, np.int64)
        close_ns[rows >= 0] = first_won.to_numpy()[rows[rows >= 0]]
        data.derived["won_close_ns"] = close_ns
        data.derived["crm_customer"] = (data.accounts["lifecycle"] == "customer").to_numpy(dtype=bool, na_value=False)
    return data.derived["crm_customer"] | (data.derived["won_close_ns"] < day_ns(day + timedelta(days=1)))


def _encode(engine: Engine, contribs: Contributions) -> dict[str, np.ndarray]:
    """A block's contributions as the engine's codes (account and person rows, signal), computed
    once per block of days from the block's distinct accounts and persons. The persons first seen
    in the block join the engine's table."""
    account_row = np.append(positions(contribs.accounts, engine.accounts), -1)  # -1: not an account of the engine
    person_code = np.append(engine.person_codes(pd.Index(to_series(contribs.persons))), -1)  # -1: no person
    return {
        "acc": account_row[contribs.account_codes],
        "person": person_code[contribs.person_codes],
        "signal": contribs.signals,
        "points": contribs.points,
        "time_ns": contribs.time_ns,
        "reset": contribs.reset,
        "positive": contribs.positive,
    }


def _day_spans(days: np.ndarray) -> dict[int, tuple[int, int]]:
    """Row range of each day (as an ordinal) in contributions sorted by day."""
    if len(days) and (np.diff(days) < 0).any():
        raise AssertionError("contributions must be sorted by day")
    uniques, starts, counts = np.unique(days, return_index=True, return_counts=True)
    return {
        int(d) + EPOCH_ORDINAL: (int(start), int(start + n))
        for d, start, n in zip(uniques, starts, counts, strict=True)
    }


def _day_input(engine: Engine, codes: dict[str, np.ndarray], data: DayData, day: date) -> DayInput:
    """The engine's input for day D: `codes` are the day's rows of `_encode`."""
    pos = _positions(engine, data)
    if pos is None:
        present, customer = np.ones(len(engine.accounts), bool), _customers(data, day)
    else:
        present, customer = np.zeros(len(engine.accounts), bool), np.zeros(len(engine.accounts), bool)
        present[pos], customer[pos] = True, _customers(data, day)
    keep = codes["acc"] >= 0  # an event of an account gone from today's CRM snapshot cannot count
    names = ("acc", "person", "signal", "points", "time_ns", "reset", "positive")
    return DayInput(
        day=day,
        present=present,
        customer=customer,
        **({name: codes[name] for name in names} if keep.all() else {name: codes[name][keep] for name in names}),
    )


def _positions(engine: Engine, data: DayData) -> np.ndarray:
    """Rows of the snapshot's accounts in the engine (one engine per replay: cached); None when
    they are the engine's rows in order (the usual case: nothing to gather)."""
    if "pos" not in data.derived:
        ids, rows = to_arrow(data.accounts["account_id"]), to_arrow(engine.accounts)
        data.derived["pos"] = (
            None if len(ids) == len(rows) and ids.cast(rows.type).equals(rows) else positions(ids, rows)
        )
    return data.derived["pos"]


def _account_columns(data: DayData) -> dict:
    """The score columns copied from the CRM snapshot (one conversion per snapshot)."""
    if "columns" not in data.derived:
        data.derived["columns"] = account_columns(data.accounts)
    return data.derived["columns"]


def _outputs(
    engine: Engine,
    out: dict,
    resets: list[tuple[str, np.ndarray]],
    data: DayData,
    inp: DayInput,
    day: date,
    config: ScoringConfig,
) -> tuple[pa.Table, np.ndarray, pa.Table]:
    """The day's score rows (with each row's band code) and its changes; `resets` are the
    engine's (rule, account rows)."""
    pos = _positions(engine, data)
    names = (
        "score",
        "accumulated",
        "breadth",
        "engaged_people",
        "new_people_14d",
        "points_today",
        "change_7d",
        "change_28d",
        "surge",
        "score_before",
    )
    # copies either way: Arrow wraps numpy arrays without copying, and the engine changes its arrays in place later
    if pos is None:
        values, customer, touch_ns, touch_sig = (
            {name: out[name].copy() for name in names},
            inp.customer.copy(),
            engine.touch_ns.copy(),
            engine.touch_sig.copy(),
        )
    else:
        values, customer, touch_ns, touch_sig = (
            {name: out[name][pos] for name in names},
            inp.customer[pos],
            engine.touch_ns[pos],
            engine.touch_sig[pos],
        )
    static = _account_columns(data)
    scores, band = score_table(day, config, static, values, customer, touch_ns, touch_sig, engine.signals)
    before, score = values["score_before"], values["score"]
    parts = [
        change_table(
            pa.array(list(engine.accounts[rows]), pa.string()),
            day,
            "reset",
            rule,
            out["score_before"][rows],
            out["score"][rows],
        )
        for rule, rows in resets
    ]
    parts += [
        p
        for p in (
            band_changes(static["account_id"], before, score, band, day, config),
            alert_changes(static["account_id"], data.accounts, before, score, customer, day, config),
        )
        if p is not None
    ]
    return scores, band, sorted_changes(parts)


def _day_rows(rows: pa.Table, spans: dict[int, tuple[int, int]], day: date) -> pa.Table:
    lo, hi = spans.get(day.toordinal(), (0, 0))
    return rows.slice(lo, hi - lo)


def _write_contributions(lake: Lake, day: date, contribs: pa.Table, shard: int, shards: int) -> None:
    lake.write_part(
        "contributions",
        day,
        shard,
        shards,
        contribs,
        schema=CONTRIB_SCHEMA,
        dictionary=CONTRIB_DICTIONARY_COLUMNS,
        no_statistics=CONTRIB_NO_STATISTICS,
    )


def _write_day(lake: Lake, day: date, scores: pa.Table, changes: pa.Table, shard: int, shards: int) -> str:
    lake.write_part("daily_points", day, shard, shards, daily_points_table(scores), schema=DAILY_POINTS_SCHEMA)
    lake.write_part("changes", day, shard, shards, changes, schema=CHANGE_SCHEMA)
    return lake.write_part(
        "scores",
        day,
        shard,
        shards,
        scores,
        schema=SCORE_SCHEMA,
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
    blocks = _blocks(days, block_days, checkpoint_every)
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
                    _day_rows(contrib_rows, spans, block[0]),
                    shard,
                    shards,
                    lane=1,
                )
            if prepared.codes is None:  # the first block: prepared before the engine existed
                prepared.codes = _encode(engine, prepared.contribs)
            # the next block's persons join the engine's table only after this block's did: codes keep their order
            if n + 1 < len(blocks):
                upcoming = reader.submit(
                    _prepare_block, lake, blocks[n + 1], keep, config, prepared.after, engine, write
                )
            codes = prepared.codes
            for day in block:
                lo, hi = spans.get(day.toordinal(), (0, 0))
                if writer is not None and day != block[0]:
                    writer.submit(
                        _write_contributions, lake, day, _day_rows(contrib_rows, spans, day), shard, shards, lane=1
                    )
                data = snapshot(day)
                inp = _day_input(engine, {name: values[lo:hi] for name, values in codes.items()}, data, day)
                out, resets = engine.step(inp)
                scores, band, changes = _outputs(engine, out, resets, data, inp, day, config)
                path = ""
                if writer is not None:
                    path = lake.url("scores", day)
                    writer.submit(_write_day, lake, day, scores, changes, shard, shards)
                    if day == last or day.toordinal() % checkpoint_every == 0:  # always a block's last day
                        # The companions go beside the day's files; the marker that makes the checkpoint usable
                        # waits for every write before it, on both lanes: a checkpoint only lands once its days are on disk.
                        tables = state_tables(day, engine, inp.present, after_block, config)
                        writer.submit(write_state_companions, lake, day, tables, shard, shards)
                        writer.submit(write_state_marker, lake, day, tables, shard, shards, after_all=True)
                counts = np.bincount(band, minlength=len(config.bands))
                kinds = pc.value_counts(changes["kind"]).to_pylist()
                kinds = {k["values"]: k["counts"] for k in kinds}
                result = ScoreResult(
                    day,
                    scores.num_rows,
                    {b.name: int(k) for b, k in zip(config.bands, counts, strict=True)},
                    kinds.get("reset", 0),
                    kinds.get("alert", 0),
                    kinds.get("band_change", 0),
                    "",
                    config.version,
                    path,
                )
                yield (day, result, scores.to_pandas()) if keep_scores else (day, result)
            bonus = after_block


def _bonus_from_state(lake: Lake, day: date, keep) -> pd.DataFrame:
    bonus = read_keep(lake, "state_bonus", day, keep)
    return bonus if bonus is not None and len(bonus) else pd.DataFrame(columns=BONUS_STATE_COLUMNS)


def _usable_checkpoint(lake: Lake, config: ScoringConfig, before: date) -> date | None:
    fingerprint = config.fingerprint()
    for day in reversed([d for d in lake.days("state") if d < before]):
        meta = state_meta(lake, day)
        if meta and meta.get("fingerprint") == fingerprint:
            return day
    return None


def _refuse_to_start_over(lake: Lake, day: date) -> None:
    """Earlier days were extracted but never resolved: scoring D from an empty state would
    silently drop their points. Refuse and say which days to run first."""
    earlier = sorted({d for source in EVENT_SOURCES for d in lake.days(f"raw/{source}") if d < day})
    if earlier:
        raise StateError(
            f"cannot score {day} from an empty state: the lake holds events of {len(earlier)} earlier day(s) ({earlier[0]} to {earlier[-1]}) "
            f"that were never resolved and scored, so their points would be lost. Run those days first, in order: "
            f"python -m include.scoring run --start {earlier[0]} --end {day}"
        )


def score_accounts(lake: Lake, config: ScoringConfig, day: date, shard: int = 0, shards: int = 1) -> ScoreResult:
    """The score stage for day D (one account shard): incremental from D-1's state, or replay
    when it is unusable."""
    prev = day - timedelta(days=1)
    meta = state_meta(lake, prev)
    history = [d for d in lake.days("resolved") if d < day]
    if meta and meta.get("fingerprint") == config.fingerprint():
        days, initial, mode = [day], prev, "incremental"
    elif not history:
        _refuse_to_start_over(lake, day)
        days, initial, mode = [day], None, "first day"
        log.info(
            "no resolved events before %s in %s: scoring %s from an empty state (the first day)", day, lake.root, day
        )
    else:
        checkpoint = _usable_checkpoint(lake, config, day)
        start = checkpoint + timedelta(days=1) if checkpoint else history[0]
        why = "built under another config" if meta else "missing"
        days, initial = days_between(start, day), checkpoint
        mode = f"replayed {len(days) - 1} day(s) from {start} (state of {prev} {why})"
        log.warning(
            "state of %s is %s: replaying %s day(s) from %s%s",
            prev,
            why,
            len(days) - 1,
            start,
            f" (checkpoint {checkpoint})" if checkpoint else " (first day with resolved events)",
        )
    *_, (_, result) = run_days(lake, config, days, initial, shard=shard, shards=shards)
    result.mode = mode if shards == 1 else f"{mode}; shard {shard + 1}/{shards}"
    log.info(result.line())
    return result


def score_all_shards(lake: Lake, config: ScoringConfig, day: date) -> ScoreResult:
    """Every account shard in turn (the CLI's way; Airflow maps the shards over workers)."""
    shards = config.scale.shards
    results = [score_accounts(lake, config, day, shard, shards) for shard in range(shards)]
    total = results[0]
    for other in results[1:]:
        total.accounts += other.accounts
        total.resets += other.resets
        total.alerts += other.alerts
        total.band_changes += other.band_changes
        total.bands = {k: total.bands.get(k, 0) + other.bands.get(k, 0) for k in total.bands}
    total.mode = results[0].mode.split("; shard")[0] + (f" ({shards} shards)" if shards > 1 else "")
    return total


def rescore_from(lake: Lake, config: ScoringConfig, first: date) -> list[date]:
    """Re-score every shard from `first` to the last scored day, starting from the last usable
    checkpoint before `first`, and write every day's outputs and state (nothing older is left
    stale). For inputs changed under history, e.g. a right-to-erasure request. Returns the days."""
    scored = lake.days("scores")
    if not scored or scored[-1] < first:
        return []
    checkpoint = _usable_checkpoint(lake, config, first)
    start = checkpoint + timedelta(days=1) if checkpoint else lake.days("resolved")[0]
    days = days_between(start, scored[-1])
    shards = config.scale.shards
    for shard in range(shards):
        for _ in run_days(lake, config, days, checkpoint, checkpoint_every=1, shard=shard, shards=shards):
            pass
    log.info(
        "re-scored %s day(s) from %s (%s)",
        len(days),
        start,
        f"checkpoint {checkpoint}" if checkpoint else "no checkpoint",
    )
    return days


def replay_range(lake: Lake, config: ScoringConfig, days: Iterable[date]) -> list[ScoreResult]:
    """Re-score a whole range from scratch (full refresh), writing every day's outputs."""
    return [result for _, result in run_days(lake, config, list(days), None)]
