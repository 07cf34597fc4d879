"""Resolve writes each day's events in (event_time, event_id) order and scoring relies on it only
as a shortcut: contributions of time-ordered and of shuffled input must be identical, row for row
(de-duplication keeps the first event in time, the daily cap counts in time order, the
combination bonus lands beside its event)."""

from __future__ import annotations

import random

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa

from include.scoring.core.config import load_config
from include.scoring.resolve.stage import RESOLVED_COLUMNS, in_time_order
from include.scoring.score.contributions import contributions
from include.scoring.score.event_order import ids_distinct, is_time_ordered
from include.scoring.score.replay import RESOLVED_INPUT
from include.scoring.score.signals import BONUS_STATE_COLUMNS
from tests.unit.score.fixtures import START, event


def _events() -> pd.DataFrame:
    """Two days of events with ties in time, repeats (de-duplication), more than the daily cap
    of one signal, and a person completing the combination bonus."""
    rows = []
    for n in range(12):  # demo requests, 10 minutes apart but in pairs at the same minute: ties decided by event id
        rows.append(
            event(
                START, "demo", person=f"p{n % 3}", hour=9, minute=(n // 2) * 10, event_id=f"e-demo-{(7 * n) % 12:02d}"
            )
        )
    rows += [
        event(START, "pricing", person="p1", hour=10, event_id=f"e-pricing-{n}") for n in range(3)
    ]  # same page, person, day: one counts
    rows += [
        event(
            START, "webinar", person="p1", hour=11, event_id="e-webinar"
        ),  # with the download at the same time: the combination bonus
        event(START, "download", person="p1", hour=11, event_id="e-download"),
    ]
    rows += [
        event(START, "open", account="A2", person=None, hour=h, event_id=f"e-open-{n}")
        for n, h in enumerate((8, 8, 13))
    ]
    day2 = [event(START, "click", account="A2", person="p9", hour=h, event_id=f"e-click-{h}") for h in (1, 2)]
    frame = pd.DataFrame(rows + day2, columns=RESOLVED_COLUMNS)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).dt.as_unit("us")
    frame["day"] = [0] * len(rows) + [1] * len(day2)
    frame.loc[frame["day"] == 1, "event_time"] += pd.Timedelta(days=1)
    return frame


def _as_resolve_writes(frame: pd.DataFrame) -> pd.DataFrame:
    """Each day's rows in the order resolve writes them, days in order (as a block is read)."""
    days = [in_time_order(part[RESOLVED_COLUMNS]).to_pandas().assign(day=day) for day, part in frame.groupby("day")]
    out = pd.concat(days, ignore_index=True)
    out["event_time"] = out["event_time"].dt.as_unit("us")
    return out[RESOLVED_INPUT + ["day"]]


def test_resolve_orders_events_by_time_then_id_with_missing_times_last():
    frame = pd.DataFrame({c: [None] * 3 for c in RESOLVED_COLUMNS})
    frame["event_id"] = ["b", "a", "c"]
    frame["event_time"] = pd.to_datetime(["2026-01-05T09:00:00Z", None, "2026-01-05T09:00:00Z"], utc=True)
    table = in_time_order(frame)
    assert isinstance(table, pa.Table)
    assert table.column("event_id").to_pylist() == ["b", "c", "a"]


def test_contributions_of_shuffled_and_time_ordered_input_are_identical():
    config = load_config()
    ordered = _as_resolve_writes(_events())
    assert is_time_ordered(ordered), "resolve's order must take the shortcut"
    expected = contributions(ordered.copy(), config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
    table = expected.table
    assert {"duplicate", "daily_cap"} <= set(table.column("adjustment").drop_null().to_pylist()), (
        "the example must exercise de-duplication and the cap"
    )
    assert table.column("signal").to_pylist().count("combination_bonus") == 1
    bonus_at = table.column("signal").to_pylist().index("combination_bonus")
    assert table.column("event_time")[bonus_at] == table.column("event_time")[bonus_at + 1], (
        "the bonus lands beside its event, before the later id"
    )
    rnd = random.Random(7)
    for _ in range(5):
        shuffled = ordered.sample(frac=1.0, random_state=rnd.randrange(10**6)).reset_index(drop=True)
        assert not is_time_ordered(shuffled)
        got = contributions(shuffled, config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
        assert got.table.equals(table)
        for name in ("day", "signals", "points", "positive", "reset", "time_ns", "account_codes", "person_codes"):
            assert (getattr(got, name) == getattr(expected, name)).all(), name
        assert got.accounts.equals(expected.accounts) and got.persons.equals(expected.persons)
        pdt.assert_frame_equal(
            got.pairs.sort_values("event_time", kind="stable").reset_index(drop=True),
            expected.pairs.sort_values("event_time", kind="stable").reset_index(drop=True),
        )


def test_time_order_check_looks_at_the_event_id_only_within_a_tie():
    frame = _as_resolve_writes(_events())
    tie = frame.index[frame["event_time"].duplicated(keep=False) & (frame["source"] == "email")][
        :2
    ]  # the two opens at 08:00
    swapped = frame.copy()
    swapped.loc[tie[::-1], "event_id"] = frame.loc[tie, "event_id"].to_numpy()  # same time, ids out of order
    assert is_time_ordered(frame) and not is_time_ordered(swapped)
    later_day_first = pd.concat([frame[frame["day"] == 1], frame[frame["day"] == 0]], ignore_index=True)
    assert not is_time_ordered(later_day_first)


def test_arrow_input_as_read_gives_the_same_rows_as_the_frame():
    """The score stage passes the read Arrow table; rows in order keep its text columns as read."""
    from include.scoring.score.outputs import CONTRIB_SCHEMA

    config = load_config()
    ordered = _as_resolve_writes(_events())
    from_frame = contributions(ordered.copy(), config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
    from_arrow = contributions(
        pa.Table.from_pandas(ordered, preserve_index=False), config, pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    )
    assert from_arrow.table.schema.field("event_id").type == pa.string(), "text as read, not converted"
    assert from_arrow.table.cast(CONTRIB_SCHEMA).equals(from_frame.table.cast(CONTRIB_SCHEMA))
    assert (from_arrow.points == from_frame.points).all() and from_arrow.persons.equals(from_frame.persons)


def test_bonus_switched_off_may_name_signals_that_no_rule_has():
    """The config only checks the bonus's signal names when the bonus is on."""
    from include.scoring.core.config import parse_config

    raw = load_config().model_dump(mode="json")
    raw["points"]["combination_bonus"].update(enabled=False, signals=["retired_signal", "another"])
    got = contributions(_as_resolve_writes(_events()), parse_config(raw), pd.DataFrame(columns=BONUS_STATE_COLUMNS))
    assert "combination_bonus" not in got.table.column("signal").to_pylist() and got.pairs.empty


def test_parts_of_a_sharded_day_are_merged_into_time_order():
    """A score shard reads one time-ordered run per resolve part; merged, with ties in time across
    parts decided by event id, they give what one time-ordered input gives."""
    from include.scoring.score.event_order import in_merge_order, merge_order

    config = load_config()
    ordered = _as_resolve_writes(_events())
    expected = contributions(
        pa.Table.from_pandas(ordered, preserve_index=False), config, pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    )
    rnd = random.Random(11)
    for _ in range(5):
        part = pd.Series([rnd.randrange(3) for _ in range(len(ordered))])
        runs = pd.concat(
            [ordered[part == k] for k in range(3)], ignore_index=True
        )  # each part in order, days in order within it
        assert not is_time_ordered(runs)
        table = pa.Table.from_pandas(runs, preserve_index=False)
        merged = in_merge_order(table, merge_order(table))
        assert merged.column("event_id").to_pylist() == ordered["event_id"].tolist()
        assert merge_order(merged) is None, "rows in order are only checked"
        got = contributions(table, config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
        assert got.table.equals(expected.table) and (got.points == expected.points).all()
    tied = ordered[ordered["event_time"].duplicated(keep=False)]
    assert len(tied) >= 4 and tied["day"].nunique() == 1, (
        "the example must hold rows of equal time for the event id to decide"
    )


def test_a_repeated_id_keeps_its_first_row_as_read_and_rows_without_time_go_last():
    """Which row of a repeated id counts is the first one read, so such input is not merged into
    time order before de-duplication; a row without a time sorts last."""

    config = load_config()
    ordered = _as_resolve_writes(_events())
    first_day = ordered[ordered["day"] == 0]
    later = first_day.iloc[-1:].assign(
        event_id=first_day["event_id"].iloc[0]
    )  # the first event's id on the day's last row
    runs = pd.concat([later, first_day.iloc[::-1]], ignore_index=True)  # read first, though later in time
    got = contributions(
        pa.Table.from_pandas(runs, preserve_index=False), config, pd.DataFrame(columns=BONUS_STATE_COLUMNS)
    ).table
    kept = got.filter(pa.compute.equal(got.column("event_id"), first_day["event_id"].iloc[0]))
    assert kept.num_rows == 1 and kept.column("event_time")[0].as_py() == later["event_time"].iloc[0].to_pydatetime()
    assert got.column("signal").to_pylist().count("combination_bonus") == 1
    assert got.num_rows - 1 == len(first_day)  # the earlier row of the id is gone
    no_time = first_day.iloc[::-1].reset_index(drop=True)
    no_time.loc[0, "event_time"] = pd.NaT
    untimed = pa.Table.from_pandas(no_time, preserve_index=False)
    rows = contributions(untimed, config, pd.DataFrame(columns=BONUS_STATE_COLUMNS)).table
    assert (
        rows.column("event_id")[rows.num_rows - 1].as_py() == no_time["event_id"].iloc[0]
        and rows.column("event_time").null_count == 1
    )


def test_one_run_with_a_tie_out_of_id_order_is_put_in_order():
    from include.scoring.score.event_order import in_merge_order, merge_order

    frame = _as_resolve_writes(_events())
    tie = frame.index[frame["event_time"].duplicated(keep=False) & (frame["source"] == "email")][
        :2
    ]  # the two opens at 08:00
    swapped = frame.copy()
    swapped.loc[tie[::-1], "event_id"] = frame.loc[tie, "event_id"].to_numpy()
    table = pa.Table.from_pandas(swapped, preserve_index=False)
    merged = in_merge_order(table, merge_order(table))
    assert merged.column("event_id").to_pylist() == frame["event_id"].tolist()


def test_ids_distinct_compares_the_ids_when_fingerprints_are_equal():
    assert ids_distinct(pa.chunked_array([["e1", "e2"], ["e3"]]))
    assert not ids_distinct(pa.chunked_array([["e1", "e2"], ["e1"]]))  # repeated across the parts of a day
    assert ids_distinct(pa.array(["", None, "e1"]))  # '' and a null share a fingerprint: compared, distinct
    assert not ids_distinct(pa.array([None, "e1", None]))  # a null id is one value


def test_columns_read_dictionary_encoded_give_the_same_rows_on_every_path():
    """The score stage reads the columns only the signals use dictionary-encoded (replay.CLASSIFIED_ONLY):
    rows in order, sharded parts to merge, and a repeated id (the frame's way) must all give the
    contributions of the same rows read as text."""
    from include.scoring.score.outputs import CONTRIB_SCHEMA
    from include.scoring.score.replay import CLASSIFIED_ONLY

    config = load_config()
    ordered = _as_resolve_writes(_events())
    repeated = ordered.assign(event_id=ordered["event_id"].where(ordered.index != 3, ordered["event_id"].iloc[2]))
    parts = pd.concat([ordered.iloc[1::2], ordered.iloc[::2]], ignore_index=True)  # two runs, each in order
    counts = []
    for rows in (ordered, parts, repeated):
        text = pa.Table.from_pandas(rows, preserve_index=False)
        encoded = text
        for name in CLASSIFIED_ONLY:
            at = encoded.schema.get_field_index(name)
            chunks = [chunk.dictionary_encode() for chunk in encoded.column(name).cast(pa.string()).chunks]
            encoded = encoded.set_column(at, name, pa.chunked_array(chunks))
        want = contributions(text, config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
        got = contributions(encoded, config, pd.DataFrame(columns=BONUS_STATE_COLUMNS))
        assert got.table.cast(CONTRIB_SCHEMA).equals(want.table.cast(CONTRIB_SCHEMA))
        assert (got.points == want.points).all() and (got.signals == want.signals).all()
        counts.append(got.table.num_rows)
    assert counts[0] == counts[1] == counts[2] + 1  # the repeated id counts once
