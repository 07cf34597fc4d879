"""benchmarks/RESULTS.md from the JSON the harness wrote (benchmarks/results/)."""

from __future__ import annotations

import json
from pathlib import Path

STAGE_OF = {
    "extract_source": "extract",
    "resolve_prepare": "resolve",
    "resolve_shard": "resolve",
    "score_shard": "score",
    "score_rank": "score",
    "validate_crm": "validate",
    "validate_shard": "validate",
    "validate_combine": "validate",
}
NOTES_FILE = "notes.md"
#: the price that turns core-seconds into money in the cost table: an assumption to replace with your
#: own (the figures scale linearly with it), not a quote
CORE_HOUR_USD = 0.04


def _load(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _measured(part: dict) -> str:
    code = part.get("measured")
    return (
        f"Measured on commit {code['commit']}, {code['date']}."
        if code
        else "Measured on an earlier commit (not recorded)."
    )


def _runs(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


def _day_section(day: dict, title: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"{day['accounts']:,} accounts, {day['events']:,} events in the day's landing files, resolve and score in "
        f"{day['shards']} shard(s). {_measured(day)}",
        "",
    ]
    lines += ["| task | seconds | imports (s) | peak RSS (MB) |", "|---|---:|---:|---:|"]
    per_stage: dict[str, float] = {}
    for r in day["stages"]:
        label = r["stage"] + (f" {r['source']}" if r.get("source") else "")
        label += f" {r['shard'] + 1}/{r['shards']}" if r["stage"].endswith("_shard") else ""
        lines.append(f"| {label} | {r['seconds']:.1f} | {r['import_seconds']:.1f} | {r['peak_rss_mb']:,} |")
        per_stage[STAGE_OF.get(r["stage"], r["stage"])] = (
            per_stage.get(STAGE_OF.get(r["stage"], r["stage"]), 0.0) + r["seconds"]
        )
    total = sum(per_stage.values())
    peak = max(r["peak_rss_mb"] for r in day["stages"])
    lines += [
        "",
        f"**All stages together: {total:.1f} s** (each stage's own time, without process and Airflow start-up); "
        f"**peak RSS of any task: {peak:,} MB**.",
        "",
    ]
    lines += [
        "| stage | seconds | lower bound (s): read inputs + write outputs with pyarrow | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in per_stage.items():
        bound = day["lower_bounds"].get(name)
        ratio = f"{seconds / bound:.1f}x" if bound else "-"
        lines.append(f"| {name} | {seconds:.1f} | {bound if bound is not None else '-'} | {ratio} |")
    lines += _score_versus_duckdb(day)
    versus = day.get("resolve_vs_duckdb")
    if versus:
        ours, ref = versus["resolve"], versus["duckdb"]
        same = "yes" if versus["identical"] else f"no, {versus['mismatched_events']:,} differ"
        lines += [
            f"Resolve vs the DuckDB SQL reference for resolve (`benchmarks/duckdb_resolve_ref.py`), the whole day in "
            f"one process each, {len(ours['runs'])} runs of each in turns, compared by the medians: ours "
            f"{_spread(ours)}, peak RSS {ours['peak_rss_mb']:,} MB; DuckDB {_spread(ref)}, peak RSS "
            f"{ref['peak_rss_mb']:,} MB = **{ours['median'] / ref['median']:.2f}x**. Same outcome for every one of "
            f"the {versus['events']:,} events (account, method, reason, person, contact, role) and the same "
            f"identity edges: **{same}**.",
            "",
        ]
    return lines


def _score_versus_duckdb(day: dict) -> list[str]:
    """The score stage against the full-model DuckDB reference."""
    versus = day.get("score_vs_duckdb")
    if versus is None:
        return [""]
    ours, ref = versus["score"], versus["duckdb"]
    rows = versus["rows"]
    same = "yes" if versus["identical"] else "no: " + ", ".join(f"{n} {k}" for k, n in versus["mismatched"].items())
    lines = [
        "",
        "Scoring vs the full-model DuckDB SQL reference (`benchmarks/duckdb_score_ref.py`: contributions, the "
        "state machine, score rows and changes, written with its own state), on the same resolved partition, "
        f"{len(ours['runs'])} runs of each in turns, compared by the medians, the whole day in one process each: "
        f"ours {_spread(ours)}, peak RSS {ours['peak_rss_mb']:,} MB; DuckDB {_spread(ref)}, peak RSS "
        f"{ref['peak_rss_mb']:,} MB = **{ours['median'] / ref['median']:.2f}x**. The same {rows['contributions']:,} "
        f"contributions (in order), {rows['scores']:,} score rows and {rows['changes']:,} changes, every column: "
        f"**{same}**.",
    ]
    sharded = versus.get("sharded")
    if sharded:
        lines.append(
            f"As the DAG maps it ({versus['shards']} score tasks and the ranking, each a process, their times summed), "
            f"in the same turns: {_spread(sharded)}, peak RSS {sharded['peak_rss_mb']:,} MB = "
            f"**{sharded['median'] / ref['median']:.2f}x** the reference."
        )
    return lines + [""]


def _spread(side: dict) -> str:
    return f"{side['median']:.2f} s (min {side['min']:.2f}, max {side['max']:.2f}; runs {_runs(side['runs'])})"


def publish_bound_section(bound: dict) -> list[str]:
    """benchmarks/publish_bound.py's result: publish against a bare COPY of the same rows."""
    rows = ", ".join(f"{name} {count:,}" for name, count in bound["rows"].items())
    lines = [
        "## Publish against a bare COPY of the same rows",
        "",
        f"`PYTHONPATH=. .venv/bin/python -m benchmarks.publish_bound`: the {bound['workload']} day "
        f"({bound['accounts']:,} accounts), published to PostgreSQL. The rows publish writes ({rows}) are read "
        "back from a first publish and kept; then in turns, each in a fresh process and a fresh database whose "
        "tables were created beforehand: the publish task (lake read, rows and reconciliation ledger built, one "
        "transaction with the upserts and the quality gate), and a bare COPY of those same rows into the same "
        f"schema with publish's own COPY writer, nothing else. {len(bound['publish']['runs'])} runs each. "
        f"{_measured(bound)}",
        "",
        f"- publish: {_spread(bound['publish'])}",
    ]
    if "publish_before" in bound:
        lines.append(f"- publish, the code before (in the same turns): {_spread(bound['publish_before'])}")
    load = ", ".join(f"{x:.1f}" for x in bound.get("load_average", []))
    lines += [
        f"- bare COPY: {_spread(bound['bare_copy'])}",
        "",
        f"**Publish / bare COPY = {bound['ratio']:.2f}x** (medians). Load average at the end: {load} (2 cores, "
        "shared with other jobs: absolute seconds are not comparable between sittings, the ratio of turns is).",
        "",
    ]
    return lines


def cluster_section(day: dict) -> list[str]:
    """benchmarks/cluster_day.py's run: the real DAG on the native Celery cluster, task by task."""
    lines = [
        f"## A {day['events'] / 1e6:.1f}M-event day on the native Celery cluster",
        "",
        f"`PYTHONPATH=. .venv/bin/python -m benchmarks.cluster_day --name {day['name']} --volume {day['volume']:g} "
        f"--shards {day['shards']}`: {day['accounts']:,} accounts, {day['events']:,} events in the day's landing "
        f"files, engagement_daily triggered through the REST API on the cluster of `scripts/native_cluster.py` "
        f"(PostgreSQL metadata and warehouse, Redis broker, {day['workers']} Celery workers with "
        f"{day['concurrency']} task slot(s) each on this machine's 2 cores), `scale.shards: {day['shards']}`. "
        f"Run **{day['state']}** in **{day['wall_seconds']:,.0f} s** wall clock (queued to finished); the tasks' "
        f"own durations sum to {day['task_seconds']:,.0f} s. Peak memory is each task process's high-water mark "
        f"(VmHWM, the line its log ends with; about 300 MB of it is Airflow and the libraries the worker loaded "
        f"before forking). {_measured(day)}",
        "",
        "| task | shard | worker | seconds | peak RSS (MB) |",
        "|---|---:|---|---:|---:|",
    ]
    for t in day["tasks"]:
        shard = str(t["map_index"] + 1) if t["map_index"] >= 0 else ""
        seconds = f"{t['seconds']:.1f}" if t["seconds"] is not None else "-"
        rss = f"{t['peak_rss_mb']:,}" if t["peak_rss_mb"] is not None else "-"
        lines.append(f"| {t['task']} | {shard} | {t['worker']} | {seconds} | {rss} |")
    worst = max((t for t in day["tasks"] if t["peak_rss_mb"]), key=lambda t: t["peak_rss_mb"], default=None)
    if worst:
        lines += ["", f"Highest peak: **{worst['task']}, {worst['peak_rss_mb']:,} MB**."]
    return [*lines, ""]


def cost_section(days: list[tuple[str, dict]]) -> list[str]:
    """Compute per event: the core-seconds the tasks took, per million events, and what they cost at
    CORE_HOUR_USD. The harness days count each stage's work and imports (one process per task, no
    scheduler); the cluster day counts Airflow's task durations (process start and task overhead
    included)."""
    lines = [
        "## Cost per event",
        "",
        f"Core-seconds are the tasks' durations added up (each task runs on one core most of the time); the price "
        f"is an assumed **${CORE_HOUR_USD:.2f} per core-hour**, a placeholder to replace with your own (every "
        "figure scales with it). Memory sets the worker size: see each day's peak RSS.",
        "",
        "| day | how it ran | events | core-seconds | core-seconds per million events | USD per million events "
        "| wall clock (s) | peak RSS of a task (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for how, day in days:
        if "tasks" in day:  # the cluster run
            seconds, wall = day["task_seconds"], f"{day['wall_seconds']:,.0f}"
            peak = max((t["peak_rss_mb"] or 0) for t in day["tasks"])
        else:
            seconds = sum(r["seconds"] + r["import_seconds"] for r in day["stages"])
            wall, peak = "-", max(r["peak_rss_mb"] for r in day["stages"])
        per_million = seconds / (day["events"] / 1e6)
        usd = per_million / 3600 * CORE_HOUR_USD
        lines.append(
            f"| {day['events'] / 1e6:.1f}M | {how} | {day['events']:,} | {seconds:,.0f} | {per_million:,.0f} | "
            f"{usd:.4f} | {wall} | {peak:,} |"
        )
    return [*lines, ""]


def write_results(folder: Path, target: Path) -> None:
    machine = _load(folder, "machine") or {}
    lines = [
        "# Recorded benchmark results",
        "",
        "Measured by the harness (`make bench`, i.e. `PYTHONPATH=. .venv/bin/python -m benchmarks.run`; one part with",
        "`--only day1m|day5m|replay`). Each stage runs in its own process, as an Airflow task would; *seconds* is",
        "the stage's own work (imports and process start excluded, listed apart), *peak RSS* the process's maximum",
        "resident memory. Raw numbers: `benchmarks/results/*.json`.",
        "",
        "## Machine",
        "",
        f"- {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('memory_mb', 0):,} MB RAM, "
        f"{machine.get('platform')}",
        f"- Python {machine.get('python')}, PostgreSQL {machine.get('postgresql')}",
        "- " + ", ".join(f"{k} {v}" for k, v in (machine.get("versions") or {}).items()),
        "",
    ]
    for name, title in (
        ("day1m", "A 1M-event day, 100k accounts (one task per stage)"),
        ("day5m", "A 5M-event day, 100k accounts, sharded"),
    ):
        day = _load(folder, name)
        if day:
            lines += _day_section(day, title)
    cluster = _load(folder, "cluster_day20m")
    if cluster:
        lines += cluster_section(cluster)
    costs = [
        (how, day)
        for how, day in (
            ("harness, one process per stage", _load(folder, "day1m")),
            ("harness, 4 shards, one process per task", _load(folder, "day5m")),
            ("Airflow on the native Celery cluster, 4 shards", cluster),
        )
        if day
    ]
    if costs:
        lines += cost_section(costs)
    bound = _load(folder, "publish_bound")
    if bound:
        lines += publish_bound_section(bound)
    replay = _load(folder, "replay")
    if replay:
        r = replay["result"]
        lines += [
            "## Replay of 365 days",
            "",
            f"{replay['accounts']:,} accounts, {replay['days']} days, {replay['events']:,} resolved events: the "
            "score stage replays the whole history from an "
            "empty state (what happens after a config change), writing every day's scores, contributions, changes "
            "and daily points and a state checkpoint every 30 days. "
            f"{_measured(replay)}",
            "",
            f"One process: **{r['seconds']:.1f} s**, peak RSS {r['peak_rss_mb']:,} MB (imports "
            f"{r['import_seconds']:.1f} s).",
            "",
        ]
        sharded = replay.get("sharded")
        if sharded:
            worst = max(x["peak_rss_mb"] for x in sharded["results"])
            per = ", ".join(f"{x['seconds']:.1f} s" for x in sharded["results"])
            lines += [
                f"{sharded['shards']} account shards at once, one process each (the mapped score tasks on "
                f"{sharded['shards']} workers; here the "
                f"{sharded['shards']} cores): **{sharded['wall_seconds']:.1f} s** wall clock including process start "
                f"({per} per shard), peak RSS per shard {worst:,} MB.",
                "",
            ]
    validation = _load(folder, "validation_throughput")
    if validation:
        lines += [
            "## Validation throughput",
            "",
            "`PYTHONPATH=. .venv/bin/python -m benchmarks.validation_throughput --rows 1000000`: a generated web day "
            "tiled to a million rows.",
            "",
            f"{validation['rows']:,} rows in {validation['seconds']} s ({validation['rows_per_second']:,} rows/s), "
            f"peak RSS {validation['peak_rss_mb']:,} MB "
            f"({validation['quarantined']:,} quarantined).",
            "",
        ]
    shards = _load(folder, "validate_shards")
    if shards:
        kinds = shards["tasks"]
        lines += [
            "## Validate sharded",
            "",
            f"`{shards['command']}`: a generated web day tiled to {shards['rows']:,} rows, validated whole in one "
            f"process and in {shards['shards']} event_id shards (one process per shard task) plus the combine, in "
            f"turns ({shards['rounds']} rounds; medians, min-max), {shards['measured']}. Same counts both ways: "
            f"{'yes' if shards['same_result'] else 'NO'}.",
            "",
            "| task | runs | seconds | peak RSS MB |",
            "|---|---|---|---|",
            *[f"| {kind} | {k['runs']} | {k['seconds']} | {k['peak_rss_mb']} |" for kind, k in kinds.items()],
            "",
        ]
    notes = folder.parent / NOTES_FILE
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    target.write_text("\n".join(lines))
