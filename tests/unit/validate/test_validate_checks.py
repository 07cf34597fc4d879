"""Every expectation of every suite, fed a crafted bad input: exactly that row is quarantined with
that check's name, or (batch level) the task fails with an actionable message."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pytest

from include.expectations import load_suite_spec
from include.scoring.core.config import load_config, parse_config
from include.scoring.core.contracts import CONTRACTS, raw_schema
from include.scoring.core.errors import BatchValidationError
from include.scoring.core.hashing import hash_ids
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.validate.stage import validate_crm, validate_events
from tests.unit.validate.fixtures import D, T, frame, write_clean_crm, write_raw

ROW = 3


def setv(column, value):
    def mutate(df):
        df[column] = df[column].astype(object)
        df.at[ROW, column] = value
        return df

    return mutate


def duplicate(id_column):
    def mutate(df):
        df.at[ROW, id_column] = df.at[ROW - 1, id_column]
        return df

    return mutate


def nulls(*columns):
    return {f"{c}_present": setv(c, None) for c in columns}


EVENT_COMMON = {
    "readable_values": setv("coercion_errors", "duration_seconds: 'long' is not a number"),
    "event_time_in_window": setv("event_time", T - timedelta(days=10)),
    "event_id_unique_in_partition": duplicate("event_id"),
    "event_id_not_seen_before": "seen",
}
MUTATIONS = {
    "web": {
        **EVENT_COMMON,
        **nulls("event_id", "event_time", "anonymous_id", "ip", "url", "event_type", "user_agent"),
        "event_type_known": setv("event_type", "pageview"),
        "form_type_known": setv("form_type", "newsletter"),
        "email_syntax": setv("email", "jane.doe@@acme..com"),
        "ip_syntax": setv("ip", "999.12.0.1"),
        "url_parseable": setv("url", "ht!tp://bad url"),
        "duration_in_range": setv("duration_seconds", -4.0),
    },
    "email": {
        **EVENT_COMMON,
        **nulls("event_id", "event_time", "email", "campaign_id", "event_type"),
        "event_type_known": setv("event_type", "opened"),
        "email_syntax": setv("email", "not-an-address"),
        "ip_syntax": setv("ip", "2001:db8:::1::2"),
        "url_parseable": setv("url", "www.example.com/no-scheme"),
    },
    "ad": {
        **EVENT_COMMON,
        **nulls("event_id", "event_time", "platform", "campaign_id", "event_type"),
        "platform_known": setv("platform", "tiktok"),
        "event_type_known": setv("event_type", "impresion"),
        "email_syntax": setv("email", "jane@"),
        "ip_syntax": setv("ip", "10.0.0"),
        "company_domain_syntax": setv("company_domain", "not a domain!"),
        "cost_in_range": setv("cost", -1.0),
    },
    "crm/accounts": {
        "readable_values": setv("coercion_errors", "employee_count: 'many' is not a whole number"),
        **nulls("account_id", "name", "domain", "lifecycle"),
        "account_id_unique": duplicate("account_id"),
        "lifecycle_known": setv("lifecycle", "partner"),
        "domain_syntax": setv("domain", "acme dot com"),
        "abm_tier_in_range": setv("abm_tier", 7),
        "employee_count_in_range": setv("employee_count", -3),
        "owner_email_syntax": setv("owner_email", "owner@"),
        "sdr_email_syntax": setv("sdr_email", "sdr at northwind"),
        # the warehouse's limits (issue 22): VARCHAR(64) keys, no NUL or control characters
        "account_id_length": setv("account_id", "A" * 65),
        "parent_account_id_length": setv("parent_account_id", "P" * 65),
        "account_id_printable": setv("account_id", "A3\x00"),
        "name_printable": setv("name", "Acme\x1b[2J"),
    },
    "crm/contacts": {
        "readable_values": setv("coercion_errors", "updated_at: 'x' is not an ISO-8601 timestamp"),
        **nulls("contact_id", "account_id", "email", "role"),
        "contact_id_unique": duplicate("contact_id"),
        "role_known": setv("role", "ceo"),
        "account_exists": setv("account_id", "A999"),
        "email_syntax": setv("email", "c3-at-acme.com"),
        "contact_id_length": setv("contact_id", "C" * 65),
        "contact_id_printable": setv("contact_id", "C3\x00"),
        "first_name_printable": setv("first_name", "Jane\nFAKE"),
        "last_name_printable": setv("last_name", "Doe\x1b]8;;http://x\x07"),
        "title_printable": setv("title", "CTO\r"),
    },
    "crm/activities": {
        "readable_values": setv("coercion_errors", "occurred_at: 'soon' is not an ISO-8601 timestamp"),
        **nulls("activity_id", "account_id", "activity_type", "occurred_at"),
        "activity_id_unique": duplicate("activity_id"),
        "activity_type_known": setv("activity_type", "coffee"),
        "account_exists": setv("account_id", "A999"),
        "contact_exists": setv("contact_id", "C999"),
        "activity_id_printable": setv("activity_id", "X\x00"),
    },
    "crm/opportunities": {
        "readable_values": setv("coercion_errors", "amount: 'lots' is not a number"),
        **nulls("opportunity_id", "account_id", "created_at", "stage", "is_closed", "is_won"),
        "opportunity_id_unique": duplicate("opportunity_id"),
        "account_exists": setv("account_id", "A999"),
        "won_implies_closed": lambda df: df.assign(
            is_closed=[v if i != ROW else False for i, v in enumerate(df["is_closed"])]
        ),
        "closed_after_created": setv("closed_at", T - timedelta(days=1)),
    },
}
BATCH_CHECKS = {"schema_matches_contract", "volume_vs_trailing_median"}
CASES = [(source, check) for source, checks in MUTATIONS.items() for check in checks]


def test_every_row_check_has_a_case():
    for source, checks in MUTATIONS.items():
        row_checks = {s.check for s in load_suite_spec(source) if s.level == "row"}
        batch = {s.check for s in load_suite_spec(source) if s.level == "batch"}
        assert set(checks) == row_checks, (source, row_checks ^ set(checks))
        assert batch <= BATCH_CHECKS


@pytest.mark.parametrize("source,check", CASES, ids=[f"{s}:{c}" for s, c in CASES])
def test_row_check_quarantines_exactly_the_bad_row(tmp_path, source, check):
    lake = Lake(str(tmp_path))
    config = load_config()
    df = frame(source)
    expected_id = df.at[ROW, CONTRACTS[source].id_column]
    mutation = MUTATIONS[source][check]
    if mutation == "seen":
        lake.write_partition(
            catalog.event_ids(source), D - timedelta(days=1), pd.DataFrame({"h": hash_ids(pd.Series([expected_id]))})
        )
    else:
        df = mutation(df)
    if source.startswith("crm/"):
        write_clean_crm(lake)
        write_raw(lake, source, df)
        validate_crm(lake, config, D)
    else:
        write_raw(lake, source, df)
        validate_events(lake, config, source, D)
    quarantine = lake.read_df(catalog.quarantine(source), D)
    assert len(quarantine) == 1, quarantine[["failed_checks"]]
    assert quarantine["failed_checks"].iloc[0] == check
    assert quarantine["source_line"].iloc[0] == ROW + 2
    if check.endswith("_unique") or check == "event_id_unique_in_partition":
        assert quarantine[CONTRACTS[source].id_column].iloc[0] == frame(source).at[ROW - 1, CONTRACTS[source].id_column]
    elif not check.endswith("_id_present") and not check.startswith(f"{CONTRACTS[source].id_column}_"):
        assert quarantine[CONTRACTS[source].id_column].iloc[0] == expected_id
    assert lake.row_count(catalog.valid(source), D) == len(df) - 1
    for other in ("crm/accounts", "crm/contacts", "crm/activities", "crm/opportunities"):
        if source.startswith("crm/") and other != source:
            assert lake.row_count(catalog.quarantine(other), D) == 0, other


def test_schema_change_fails_the_batch(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web").drop(columns=["ip"])
    schema = pa.schema([f for f in raw_schema("web") if f.name != "ip"])
    lake.write_partition(catalog.raw("web"), D, df, schema=schema)
    with pytest.raises(BatchValidationError) as err:
        validate_events(lake, load_config(), "web", D)
    text = str(err.value)
    assert "Validation failed for source web, day 2026-06-10" in text
    assert "schema_matches_contract" in text and "web/file.csv" in text and "What to do" in text
    assert not lake.exists(catalog.valid("web"), D)


def _config_with(**validation):
    raw = load_config().model_dump(mode="json")
    raw["validation"].update(validation)
    return parse_config(raw)


def test_volume_collapse_fails_or_warns_by_config(tmp_path):
    lake = Lake(str(tmp_path))
    for k in range(1, 8):
        write_raw(lake, "web", frame("web", 200), D - timedelta(days=k))
    write_raw(lake, "web", frame("web", 12))
    config = _config_with(
        volume={"action": "fail", "trailing_days": 7, "min_history_days": 3, "max_ratio": 5.0, "min_ratio": 0.2}
    )
    with pytest.raises(BatchValidationError, match=r"volume_vs_trailing_median .*observed 12"):
        validate_events(lake, config, "web", D)
    result = validate_events(lake, load_config(), "web", D)  # default action: warn
    assert not result.failed and any("volume_vs_trailing_median" in w for w in result.warnings)


def test_too_many_bad_rows_fails_the_batch_with_counts_and_examples(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web", 200)
    df.loc[:24, "email"] = "broken@@x"
    write_raw(lake, "web", df)
    with pytest.raises(BatchValidationError) as err:
        validate_events(lake, load_config(), "web", D)
    text = str(err.value)
    assert "bad_row_share: 25 of 200 rows (12.5%)" in text and "email_syntax 25" in text and "broken@@x" in text
    assert "web/file.csv (200 rows, 25 bad)" in text
    assert "validation.max_bad_row_share" in text
    summary = json.loads(lake.read_side_file(catalog.validation("web"), D, "summary.json"))
    assert summary["batch_failed"] and summary["quarantined"] == 25
    assert lake.row_count(catalog.quarantine("web"), D) == 25 and not lake.exists(catalog.valid("web"), D)
    relaxed = _config_with(max_bad_row_share=0.5)
    assert validate_events(lake, relaxed, "web", D).quarantined == 25


def test_a_few_bad_rows_in_a_tiny_batch_do_not_fail_it(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web", 30)
    df.loc[:3, "email"] = "broken@@x"  # 13% of the batch, but only 4 rows: under the floor
    write_raw(lake, "web", df)
    result = validate_events(lake, load_config(), "web", D)
    assert (result.valid, result.quarantined, result.failed) == (26, 4, False)
    strict = _config_with(bad_rows_floor=0)
    with pytest.raises(BatchValidationError):
        validate_events(lake, strict, "web", D)


def test_level_override_turns_a_row_check_into_a_batch_check(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web")
    df.at[ROW, "email"] = "bad@@x"
    write_raw(lake, "web", df)
    config = _config_with(levels={"web.email_syntax": "batch"}, bad_rows_floor=0)
    with pytest.raises(BatchValidationError, match="email_syntax"):
        validate_events(lake, config, "web", D)


def test_outputs_for_on_call(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web")
    df.at[ROW, "ip"] = "999.1.1.1"
    write_raw(lake, "web", df)
    validate_events(lake, load_config(), "web", D)
    docs = lake.read_side_file(catalog.validation("web"), D, "data_docs.html").decode()
    assert "Data Docs: web" in docs and "ip_syntax" in docs and "expect_column_values_to_match_regex" in docs
    assert "999.1.1.1" in docs and "<script" not in docs
    checks = lake.read_df(catalog.validation("web"), D)
    row = checks.set_index("check").loc["ip_syntax"]
    assert row["unexpected_count"] == 1 and json.loads(row["examples"]) == ["w-3: '999.1.1.1'"]
    assert len(lake.read_side_file(catalog.validation("web"), D, "summary.json")) < 256 * 1024


def test_reprocess_quarantine_moves_fixed_rows_to_valid(tmp_path):
    lake = Lake(str(tmp_path))
    df = frame("web")
    df.at[ROW, "email"] = "bad@@x"
    write_raw(lake, "web", df)
    validate_events(lake, load_config(), "web", D)
    quarantine = lake.read_df(catalog.quarantine("web"), D)
    quarantine.loc[0, "email"] = "fixed@acme.com"  # someone corrected the row in place
    lake.write_partition(catalog.quarantine("web"), D, quarantine)
    result = validate_events(lake, load_config(), "web", D, reprocess_quarantine=True)
    assert (result.valid, result.quarantined) == (30, 0)
    valid = lake.read_df(catalog.valid("web"), D)
    assert valid["source_line"].tolist() == list(range(2, 32))
    assert "fixed@acme.com" in valid["email"].tolist()


def test_categorical_fast_path_gives_the_same_outcomes():
    from include.scoring.validate import gx_runner

    big = pd.concat([frame("web", 30)] * 2000, ignore_index=True)
    big["event_id"] = [f"w-{i}" for i in range(len(big))]
    big.loc[[5, 777, 40_000], "email"] = "bad@@x"
    big.loc[[9, 50_001], "event_type"] = "pageview"
    big["_event_id_occurrence"] = 1
    big["_seen_on_earlier_day"] = False
    specs = load_suite_spec("web")
    params = {
        "schema_columns": raw_schema("web").names,
        "volume_min": 0,
        "volume_max": None,
        "min_event_time": pd.Timestamp("2026-06-08", tz="UTC"),
        "max_event_time": pd.Timestamp("2026-06-11", tz="UTC"),
    }
    assert gx_runner._cheap_to_filter(big)["url"].dtype == "category"
    fast, _ = gx_runner.run_suite(big, "web", specs, {}, params)
    slow_frame = big.copy()
    real = gx_runner._cheap_to_filter
    try:
        gx_runner._cheap_to_filter = lambda f: f
        slow, _ = gx_runner.run_suite(slow_frame, "web", specs, {}, params)
    finally:
        gx_runner._cheap_to_filter = real
    assert [(o.spec.check, o.success, o.unexpected_count, o.failed_rows.tolist()) for o in fast] == [
        (o.spec.check, o.success, o.unexpected_count, o.failed_rows.tolist()) for o in slow
    ]
    by_check = {o.spec.check: o for o in fast}
    assert by_check["email_syntax"].failed_rows.tolist() == [5, 777, 40_000]
    assert by_check["event_type_known"].failed_rows.tolist() == [9, 50_001]


def test_an_example_timestamp_beyond_pythons_dates_is_shown_not_raised():
    """Found by the hostile-input property test: pandas cannot print such a time in a zone like
    Europe/Paris, and the whole validation stopped on the example text of a quarantine reason."""
    import numpy as np

    from include.scoring.validate.outcomes import example_text as _plain

    far = pd.Timestamp(np.datetime64("-8423-03-01T05:06:07", "us")).tz_localize("UTC")
    assert _plain(far.tz_convert("Europe/Paris")) == "-8423-03-01T05:06:07.000000Z"
    assert (
        _plain(far) == far.isoformat() and _plain(pd.Timestamp("2026-05-06T10:00:00Z")) == "2026-05-06T10:00:00+00:00"
    )
    assert _plain("x") == "x"


def test_failure_message_and_summary_keep_every_example_value_whole(tmp_path):
    """On-call saw `event_type_known 25 (e.g. w-...: 'Pag...`: messages were clipped at 200
    characters, cutting the value that broke. The number of examples is capped, never a value."""
    lake = Lake(str(tmp_path))
    df = frame("web", 200)
    long_value = "broken@@" + "x" * 300 + "-end-of-value"
    df.loc[:24, "email"] = long_value
    write_raw(lake, "web", df)
    with pytest.raises(BatchValidationError) as err:
        validate_events(lake, load_config(), "web", D)
    text = str(err.value)
    assert repr(long_value) in text
    assert text.count(long_value) == 2  # two examples per check in the bad-row share, not 25
    summary = json.loads(lake.read_side_file(catalog.validation("web"), D, "summary.json"))
    check = next(c for c in summary["checks"] if c["check"] == "email_syntax")
    assert len(check["examples"]) == 5 and all(e.endswith(repr(long_value)) for e in check["examples"])
    assert any(repr(long_value) in f for f in summary["batch_failures"])
