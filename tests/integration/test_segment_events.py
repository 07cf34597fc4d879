"""Segment / RudderStack event files in the web landing folder, for real through the stages.

The generated web fixtures rewritten as Segment JSON lines resolve and score exactly like the
contract files; identify and group calls link visitors to people and accounts (`group_call`,
also on later days); what is not a web event is counted, a broken line is quarantined.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.extract.stage import extract_stage
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.resolve.stage import resolve_stage
from include.scoring.runner import STAGES, run_range
from include.scoring.validate.stage import validate_stage
from tests.fakes.segment import segment_landing, write_messages

pytestmark = pytest.mark.integration
END = date(2026, 11, 20)


def context(landing, crm_url, lake) -> RunContext:
    return RunContext(Settings(str(landing), crm_url, str(lake), "sqlite://", None))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same generated days scored twice: web as contract files, and as Segment files."""
    from include.sample import generate

    out = tmp_path_factory.mktemp("segment")
    sample = generate(out / "sample", accounts=40, days=8, end_date=END, seed=23)
    segment = segment_landing(out / "sample" / "landing", out / "segment-landing")
    stages = [s for s in STAGES if s.name != "publish"]
    contract = context(out / "sample" / "landing", sample.crm_url, out / "lake-contract")
    converted = context(segment, sample.crm_url, out / "lake-segment")
    for ctx in (contract, converted):
        run_range(ctx, sample.start, END, stages=stages, echo=lambda _: None)
    return sample, contract, converted


def test_segment_files_resolve_and_score_like_the_contract_files(both):
    sample, contract, converted = both
    for day in days_between(sample.start, END):
        files = sorted(p.name for p in (converted.landing / "web" / day.isoformat()).iterdir())
        assert files and all(name.endswith(".jsonl") for name in files)
        raw_a = contract.lake.read_df(catalog.raw("web"), day)
        raw_b = converted.lake.read_df(catalog.raw("web"), day)
        lineage = ["source_file", "source_line", "duration_seconds"]  # Segment pages carry no duration
        pd.testing.assert_frame_equal(raw_b.drop(columns=lineage), raw_a.drop(columns=lineage))
        for dataset in (catalog.RESOLVED, catalog.UNRESOLVED, catalog.FILTERED, catalog.CONTRIBUTIONS):
            pd.testing.assert_frame_equal(converted.lake.read_df(dataset, day), contract.lake.read_df(dataset, day))
        pd.testing.assert_frame_equal(
            converted.lake.read_df(catalog.SCORES, day), contract.lake.read_df(catalog.SCORES, day)
        )
        assert converted.lake.row_count(catalog.CALLS, day) == 0
    resolved = contract.lake.read_range(catalog.RESOLVED, sample.start, END).to_pandas()
    web = resolved[resolved["source"] == "web"]
    assert {"page_view", "form_submit"} <= set(web["event_type"]) and web["form_type"].notna().any()
    assert contract.lake.read_df(catalog.SCORES, END)["score"].sum() > 0


def grouped_landing(both, tmp_path):
    """Two days of hand-made Segment messages: identify, group (by account id, by domain, naming
    nothing), pages and tracks, a skipped track, a screen, a broken line. Returns the landing,
    the two days and the accounts the group calls name."""
    sample, contract, _ = both
    landing = tmp_path / "landing"
    shutil.copytree(sample.out / "landing" / "reference", landing / "reference")
    day1, day2 = END - timedelta(days=1), END
    accounts = contract.lake.read_df(catalog.valid("crm/accounts"), END)
    target = accounts["account_id"].iloc[3]
    domain_account = accounts["account_id"].iloc[7]
    domain = (
        contract.lake.read_df(catalog.raw("crm/accounts"), END).set_index("account_id").loc[domain_account, "domain"]
    )
    agent, ip = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)", "203.0.113.9"
    ctx = {"ip": ip, "userAgent": agent, "page": {"url": "https://www.northwind.io/features"}}

    def msg(i, kind, day, **fields):
        return {"type": kind, "messageId": f"seg-{day}-{i}", "timestamp": f"{day}T1{i % 10}:00:00.000Z", **fields}

    write_messages(
        landing / "web" / day1.isoformat(),
        "segment-logs.json",
        [
            msg(1, "identify", day1, anonymousId="anon-A", userId="u-100", traits={"email": "ann.lee@gmail.com"}),
            msg(2, "group", day1, userId="u-100", groupId=target, traits={"name": "whatever"}),
            msg(3, "group", day1, anonymousId="anon-B", groupId="0015g00000XyZ", traits={"website": domain}),
            msg(4, "group", day1, anonymousId="anon-C", groupId="0015g00000Unknown", traits={"website": "gmail.com"}),
            msg(5, "track", day1, anonymousId="anon-A", event="Button Clicked", context=ctx),
            msg(6, "screen", day1, anonymousId="anon-A"),
            '{"type": "page", "messageId": "seg-broken"',
            msg(
                7,
                "page",
                day1,
                anonymousId="anon-A",
                context=ctx,
                properties={"url": "https://www.northwind.io/pricing"},
            ),
        ],
    )
    write_messages(
        landing / "web" / day2.isoformat(),
        "segment-logs.json",
        [
            msg(
                1,
                "page",
                day2,
                anonymousId="anon-A",
                context=ctx,
                properties={"url": "https://www.northwind.io/pricing"},
            ),
            msg(2, "track", day2, userId="u-100", event="demo requested", context=ctx),
            msg(3, "page", day2, anonymousId="anon-B", context=ctx),
            msg(4, "page", day2, anonymousId="anon-C", context=ctx),
        ],
    )
    for source in ("email", "ad"):
        for day in (day1, day2):
            (landing / source / day.isoformat()).mkdir(parents=True)
    return landing, day1, day2, target, domain_account


def test_identify_and_group_calls_resolve_visitors_by_group_call(both, tmp_path):
    sample = both[0]
    landing, day1, day2, target, domain_account = grouped_landing(both, tmp_path)
    ctx_run = context(landing, sample.crm_url, tmp_path / "lake")
    extracted = {r.unit: r for r in extract_stage(ctx_run, day1)}
    web = extracted["web"]
    assert (web.count("rows"), web.count("identity_calls"), web.count("skipped")) == (2, 4, 2)
    assert web.breakdowns["skipped"] == {
        "message of type 'screen'": 1,
        "track event 'Button Clicked' (not in segment.track_events)": 1,
    }
    raw = ctx_run.lake.read_df(catalog.raw("web"), day1)
    assert raw["source_line"].tolist() == [7, 8]  # the broken line, then the page
    broken = raw[raw["event_id"].isna()]
    assert len(broken) == 1 and broken["source_line"].iloc[0] == 7
    assert broken["coercion_errors"].iloc[0].startswith("line 7: not valid JSON")
    validate_stage(ctx_run, day1)
    assert ctx_run.lake.row_count(catalog.quarantine("web"), day1) == 1
    resolve_stage(ctx_run, day1)
    extract_stage(ctx_run, day2)
    validate_stage(ctx_run, day2)
    resolve_stage(ctx_run, day2)
    first = ctx_run.lake.read_df(catalog.RESOLVED, day1).set_index("event_id")
    assert first.loc[f"seg-{day1}-7", ["account_id", "resolution_method"]].tolist() == [target, "group_call"]
    second = ctx_run.lake.read_df(catalog.RESOLVED, day2).set_index("event_id")
    assert second.loc[f"seg-{day2}-1", ["account_id", "resolution_method"]].tolist() == [target, "group_call"]
    assert second.loc[f"seg-{day2}-2", ["account_id", "resolution_method", "event_type"]].tolist() == [
        target,
        "group_call",
        "form_submit",
    ]  # a userId-only track: the same person through identify
    assert second.loc[f"seg-{day2}-3", ["account_id", "resolution_method"]].tolist() == [domain_account, "group_call"]
    unresolved = ctx_run.lake.read_df(catalog.UNRESOLVED, day2).set_index("event_id")
    assert f"seg-{day2}-4" in unresolved.index  # a free-mail domain ties nothing
    rules = ctx_run.lake.read_df(catalog.IDENTITY_RULES, day1)
    fired = rules[rules["rule"] == "group_unknown_account"]
    assert fired["identifier"].tolist() == ["0015g00000Unknown / gmail.com"] and fired["count"].tolist() == [1]


def test_forget_erases_identity_calls_and_group_ties(both, tmp_path):
    from include.scoring.privacy.forget import forget

    sample = both[0]
    landing, day1, day2, target, _ = grouped_landing(both, tmp_path)
    settings = Settings(
        str(landing), sample.crm_url, str(tmp_path / "lake"), f"sqlite:///{tmp_path / 'wh.sqlite'}", None
    )
    ctx = RunContext(settings)
    run_range(ctx, day1, day2, stages=[s for s in STAGES if s.name != "publish"], echo=lambda _: None)
    assert ctx.lake.row_count(catalog.CALLS, day1) == 4
    forget(ctx, "Ann.Lee@gmail.com", requested_by="test", crm_push=False)
    calls = ctx.lake.read_df(catalog.CALLS, day1)
    assert calls["event_id"].tolist() == [f"seg-{day1}-3", f"seg-{day1}-4"]  # her identify and group calls are gone
    person = {"3:anon-A", "3:user:u-100", "2:ann.lee@gmail.com"}
    for day in (day1, day2):
        assert not set(ctx.lake.read_df(catalog.IDENTITY_GROUPS, day)["node"]) & person
        edges = ctx.lake.read_df(catalog.IDENTITY, day)
        assert not (set(edges["a"]) | set(edges["b"])) & person
        web = ctx.lake.read_df(catalog.raw("web"), day)
        assert not set(web["anonymous_id"].dropna()) & {"anon-A", "user:u-100"}
    resolved = ctx.lake.read_df(catalog.RESOLVED, day2).set_index("event_id")
    assert f"seg-{day2}-1" not in resolved.index and f"seg-{day2}-2" not in resolved.index
    assert resolved.loc[f"seg-{day2}-3", "resolution_method"] == "group_call"  # anon-B's tie is not hers
    again = {r.unit: r for r in extract_stage(ctx, day1)}  # the landing files still hold her: extract drops them
    assert (again["web"].count("identity_calls"), again["web"].count("erased")) == (2, 3)  # her page and 2 calls
