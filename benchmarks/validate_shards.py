"""Validate's peak memory, whole day against sharded: one web day of N rows (a generated day tiled,
as in validation_throughput.py), validated whole in one process, then in `--shards` shard processes
and the combine, in turns (A B A B ..., `--rounds` each), each task in a fresh process.

    PYTHONPATH=. .venv/bin/python -m benchmarks.validate_shards --rows 2000000 --shards 4 --rounds 2

Reports per task kind the median (min-max) seconds and peak RSS (VmHWM), and checks that both
sides end with the same counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.validation_throughput import DAY, build_partition
from include.scoring.lake.store import Lake


def _task(stage: str, lake: Path, shard: int = 0, shards: int = 1) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.stage", "--stage", stage, "--date", DAY.isoformat(), "--lake", str(lake)]
    cmd += ["--shard", str(shard), "--shards", str(shards), "--source", "web"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{stage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/validate_shards.json")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"whole": [], "shard": [], "combine": []}
    with tempfile.TemporaryDirectory(prefix="bench-validate-shards-") as tmp:
        work = Path(tmp)
        build_partition(Lake(str(work / "lake")), args.rows, work)
        for _ in range(args.rounds):
            runs["whole"].append(_task("validate_events", work / "lake"))  # A: the whole day, one task
            runs["shard"] += [_task("validate_shard", work / "lake", k, args.shards) for k in range(args.shards)]
            runs["combine"].append(_task("validate_combine", work / "lake", 0, args.shards))  # B: sharded
    lines = {r["lines"][0] for r in runs["whole"]} | {r["lines"][0] for r in runs["combine"]}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    names = {"whole": "validate_events (whole day)", "shard": "validate shard", "combine": "combine"}
    record = {
        "command": f"PYTHONPATH=. .venv/bin/python -m benchmarks.validate_shards --rows {args.rows} "
        f"--shards {args.shards} --rounds {args.rounds}",
        "rows": args.rows,
        "shards": args.shards,
        "rounds": args.rounds,
        "measured": f"on commit {commit}, {datetime.now(UTC):%Y-%m-%d}",
        "same_result": len(lines) == 1,
        "lines": sorted(lines),
        "tasks": {
            names[kind]: {
                "runs": len(rs),
                "seconds": _spread([r["seconds"] for r in rs]),
                "peak_rss_mb": _spread([r["peak_rss_mb"] for r in rs]),
            }
            for kind, rs in runs.items()
        },
    }
    print(json.dumps(record, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    here = Path(__file__).resolve().parent
    if Path(args.out).resolve().parent == here / "results":  # the recorded results: RESULTS.md follows
        from benchmarks.report import write_results

        write_results(here / "results", here / "RESULTS.md")


if __name__ == "__main__":
    main()
