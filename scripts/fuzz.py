"""`make fuzz`: the property tests with random draws, for a bounded time, and a report of what they found.

`make test` (and CI) run the property tests under the deterministic `ci` hypothesis profile
(tests/conftest.py): the same examples every time, so an unchanged tree never fails at random.
Exploration happens here instead: rounds of the property tests under the `fuzz` profile, each
with a new random seed and ENGAGEMENT_FUZZ_FACTOR (default 2) times the examples, until the time is up.

The report lists every round (seed, outcome, examples tried) and, for each failure, the test, the
falsifying example and the command that replays it. A failure found here is a bug: fix it and add
the example as an explicit `@example` on the property, so `make test` keeps checking it.

    python -m scripts.fuzz --seconds 600 [--factor 2] [--seed N]     # what `make fuzz` runs (FUZZ_SECONDS=600)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROPERTY_TESTS = [
    "tests/unit/score/test_scoring_properties.py",
    "tests/unit/publish/test_csv_export.py",
    "tests/integration/test_hostile_input.py",
]
_PASSING = re.compile(r"(\d+) passing(?: examples?| test cases?)?, (\d+) failing")
_FAILED = re.compile(r"^FAILED (\S+)", re.MULTILINE)
_FALSIFYING = re.compile(r"^(?:E\s+)?Falsifying example: .*?(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def run_round(seed: int, seconds_left: float, factor: int) -> dict:
    """One pytest run of the property tests with `seed`; stopped when the time is up."""
    env = dict(os.environ, HYPOTHESIS_PROFILE="fuzz", ENGAGEMENT_FUZZ_FACTOR=str(factor), PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-show-statistics",
        f"--hypothesis-seed={seed}",
        *PROPERTY_TESTS,
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=max(seconds_left, 1))
        stopped = False
    except subprocess.TimeoutExpired:
        # the round's own process group, started above: an interrupt lets pytest report what failed so far
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate()
        stopped = True
    return {
        "seed": seed,
        "seconds": time.monotonic() - started,
        "returncode": proc.returncode,
        "stopped": stopped,
        "output": out,
        "examples": sum(int(m.group(1)) + int(m.group(2)) for m in _PASSING.finditer(out)),
        "failed": _FAILED.findall(out),
        "falsifying": [m.group(0).strip() for m in _FALSIFYING.finditer(out)],
    }


def report(rounds: list[dict], echo=print) -> int:
    """Print what the rounds found; 1 when a property failed, else 0."""
    total = sum(r["examples"] for r in rounds)
    echo(f"\nmake fuzz: {len(rounds)} round(s), {total} examples tried in {sum(r['seconds'] for r in rounds):.0f}s")
    for r in rounds:
        state = "stopped (time up)" if r["stopped"] else ("failed" if r["failed"] else "passed")
        if not r["stopped"] and r["returncode"] not in (0, 1):
            state = f"error (pytest exit {r['returncode']})"
        echo(f"  seed {r['seed']}: {state}, {r['examples']} examples, {r['seconds']:.0f}s")
    failures = [r for r in rounds if r["failed"]]
    errors = [r for r in rounds if not r["stopped"] and r["returncode"] not in (0, 1)]
    for r in failures:
        echo(f"\nFOUND with seed {r['seed']}: {', '.join(r['failed'])}")
        for text in r["falsifying"] or ["(no falsifying example printed; see the output below)"]:
            echo(text)
        echo(
            f"replay: HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest --hypothesis-seed={r['seed']} "
            + " ".join(sorted({name.split("::")[0] for name in r["failed"]}))
        )
        echo("then fix the bug and add the example as an explicit @example on the property.")
    for r in errors:
        echo(f"\npytest could not run (seed {r['seed']}):\n{r['output'][-4000:]}")
    if not failures and not errors:
        echo("nothing found: every property held on every example drawn.")
    return 1 if failures or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 600)))
    parser.add_argument("--factor", type=int, default=int(os.environ.get("ENGAGEMENT_FUZZ_FACTOR", 2)))
    parser.add_argument("--seed", type=int, default=None, help="the first round's seed (default: random)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.seconds
    seeds = random.Random(args.seed)
    rounds: list[dict] = []
    while (left := deadline - time.monotonic()) > 5:
        seed = args.seed if args.seed is not None and not rounds else seeds.randrange(2**32)
        print(f"fuzz round {len(rounds) + 1}: seed {seed}, {left:.0f}s left", flush=True)
        rounds.append(run_round(seed, left, args.factor))
        if rounds[-1]["failed"] or rounds[-1]["stopped"]:
            break  # a failure is worth reporting now; a stopped round means the time is up
    return report(rounds)


if __name__ == "__main__":
    sys.exit(main())
