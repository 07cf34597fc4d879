"""Run one stage (or one shard task) for one day in this process and report time and memory.

    python -m benchmarks.stage --stage resolve_shard --shard 0 --shards 4 --date D --lake L ...

Prints one JSON line: seconds of the stage itself (imports excluded), seconds of the imports,
peak RSS of the process (VmHWM: the task's whole footprint), and the result lines.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import time
from datetime import date

T0 = time.perf_counter()

from include.scoring.core.config import load_config, parse_config  # noqa: E402
from include.scoring.core.memory import peak_memory_mb  # noqa: E402

STAGES = (
    "extract",
    "extract_source",
    "validate",
    "validate_events",
    "validate_shard",
    "validate_combine",
    "validate_crm",
    "resolve",
    "resolve_prepare",
    "resolve_shard",
    "score",
    "score_shard",
    "score_rank",
    "publish",
    "replay",
)

#: the stages that run one source (--source)
SOURCE_STAGES = ("extract_source", "validate_events", "validate_shard", "validate_combine")

#: modules a stage imports when it starts, imported before its clock starts (counted as imports)
PRELOAD = {
    "resolve": ("include.scoring.resolve.stage",),
    "resolve_prepare": ("include.scoring.resolve.stage",),
    "resolve_shard": ("include.scoring.resolve.stage",),
    "score": ("include.scoring.score.stage",),
    "score_shard": ("include.scoring.score.stage",),
    "score_rank": ("include.scoring.score.stage",),
    "publish": ("sqlalchemy", "include.scoring.publish.stage"),
    "replay": ("include.scoring.score.replay",),
}


def _config(shards: int):
    config = load_config()
    if shards == config.scale.shards:
        return config
    raw = config.model_dump(mode="json")
    raw["scale"]["shards"] = shards
    return parse_config(raw)


def run(args: argparse.Namespace) -> dict:
    from include.scoring.context import RunContext
    from include.scoring.core.settings import Settings
    from include.scoring.extract.stage import extract_stage
    from include.scoring.validate.stage import validate_stage

    settings = Settings(
        landing=args.landing, crm_url=args.crm_url, lake=args.lake, warehouse_url=args.warehouse_url, config_path=None
    )
    ctx = RunContext(settings)
    ctx.__dict__["config"] = _config(args.shards)
    day = date.fromisoformat(args.date)
    if args.stage.startswith("validate"):
        import great_expectations  # noqa: F401 - import cost reported apart from the stage
    for module in PRELOAD.get(args.stage, ()):  # the stage's own modules: their import is not the stage's work
        importlib.import_module(module)
    if args.stage == "publish" and args.warehouse_url.startswith("postgresql"):
        import psycopg  # noqa: F401 - the driver, loaded by the first connection otherwise
    imported = time.perf_counter() - T0
    t = time.perf_counter()
    if args.stage == "extract":
        results = extract_stage(ctx, day)
    elif args.stage == "extract_source":  # one extract task of the DAG (--source: web, email, ad, crm, reference)
        results = extract_stage(ctx, day, sources=[args.source])
    elif args.stage == "validate":
        results = validate_stage(ctx, day)
    elif args.stage == "validate_events":  # one event source's day, whole (--source)
        from include.scoring.validate.stage import validate_events

        results = [validate_events(ctx.lake, ctx.config, args.source, day).stage_result()]
    elif args.stage == "validate_shard":  # one mapped validate task of an event source (--source)
        from include.scoring.validate.sharded import validate_event_shard

        validate_event_shard(ctx.lake, ctx.config, args.source, day, args.shard, args.shards)
        results = []
    elif args.stage == "validate_combine":
        from include.scoring.validate.sharded import combine_event_shards

        results = [combine_event_shards(ctx.lake, ctx.config, args.source, day, args.shards)]
    elif args.stage == "validate_crm":  # the four CRM tables (validated whole, as the DAG's validate_crm)
        from include.scoring.validate.stage import validate_crm

        results = [r.stage_result() for r in validate_crm(ctx.lake, ctx.config, day)]
    elif args.stage == "resolve":
        from include.scoring.resolve.stage import resolve_identities

        results = [resolve_identities(ctx.lake, ctx.config, day)]
    elif args.stage == "resolve_prepare":
        from include.scoring.resolve.stage import prepare_resolution

        results = [prepare_resolution(ctx.lake, ctx.config, day)]
    elif args.stage == "resolve_shard":
        from include.scoring.resolve.stage import resolve_shard

        results = [resolve_shard(ctx.lake, ctx.config, day, args.shard, args.shards)]
    elif args.stage in ("score", "score_shard"):
        from include.scoring.score.stage import score_accounts

        results = [score_accounts(ctx.lake, ctx.config, day, args.shard, args.shards)]
    elif args.stage == "score_rank":  # a sharded day's percentiles and band health, once every shard is written
        from include.scoring.score.stage import rank_day

        results = [rank_day(ctx.lake, ctx.config, day)]
    elif args.stage == "publish":
        from include.scoring.publish.stage import publish_warehouse

        results = [publish_warehouse(ctx.lake, ctx.config, settings.warehouse_url, day)]
    elif args.stage == "replay":
        from include.scoring.lake.store import days_between
        from include.scoring.score.replay import run_days

        start = date.fromisoformat(args.start)
        *_, (_, last) = run_days(
            ctx.lake, ctx.config, days_between(start, day), None, shard=args.shard, shards=args.shards
        )
        results = [last]
    else:
        raise SystemExit(f"unknown stage {args.stage}")
    seconds = time.perf_counter() - t
    return {
        "stage": args.stage,
        **({"source": args.source} if args.stage in SOURCE_STAGES else {}),
        "shard": args.shard,
        "shards": args.shards,
        "seconds": round(seconds, 2),
        "import_seconds": round(imported, 2),
        "peak_rss_mb": peak_memory_mb(),
        "lines": [r.line() for r in results][:6],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("--start", help="first day (replay)")
    parser.add_argument("--lake", required=True)
    parser.add_argument("--landing", default="")
    parser.add_argument("--crm-url", default="sqlite://")
    parser.add_argument("--warehouse-url", default="sqlite://")
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument(
        "--source",
        default="web",
        help="extract_source: web, email, ad, crm or reference; validate_events/_shard/_combine: an event source",
    )
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
