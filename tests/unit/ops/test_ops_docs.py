"""docs/runbook.md and docs/operations.md: every command they give parses with the real command
line (the project's CLI and Airflow 3.3's), re-run commands select the 02:00 run of a day, inline
Python snippets compile, and every link to a runbook section lands on a heading."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from include.scoring.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[3]
DOCS = {name: (ROOT / "docs" / name).read_text(encoding="utf-8") for name in ("runbook.md", "operations.md")}
#: placeholders the runbook explains, replaced by real values before parsing
PLACEHOLDERS = {
    "D": "2026-11-20",
    "D0": "2026-11-01",
    "LAST": "2026-11-20",
    "DT02:00:00+00:00": "2026-11-20T02:00:00+00:00",
    "LASTT02:00:00+00:00": "2026-11-20T02:00:00+00:00",
    "D-1": "2026-11-19",
}
PREFIXES = (["docker", "compose", "exec", "worker"], [".venv/bin/python"], ["python"])


def slugs(text: str) -> set[str]:
    """GitHub-style anchors of the level 2 and 3 headings."""
    return {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,3} (.+)$", text, re.M)
    }


def command_lines(text: str) -> list[str]:
    """Lines of fenced shell blocks and inline code spans that start a command."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += [line for line in block.splitlines() if line.strip()]
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return lines


def commands(text: str) -> list[list[str]]:
    """Each command as argv after the program (`airflow ...`, `python -m include.scoring ...`, `python -c ...`)."""
    out = []
    for line in command_lines(text):
        try:
            argv = shlex.split(line, comments=True)
        except ValueError:
            continue
        while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):
            argv = argv[1:]  # VAR=value prefixes
        if argv[:4] == ["docker", "compose", "exec", "worker"]:
            argv = argv[4:]
        if argv and argv[0] in (".venv/bin/python", ".venv/bin/airflow"):
            argv[0] = argv[0].rsplit("/", 1)[1]
        argv = [PLACEHOLDERS.get(token, token) for token in argv]
        if argv[:1] == ["airflow"] and len(argv) > 1:
            out.append(argv)
        elif argv[:3] == ["python", "-m", "include.scoring"] and len(argv) > 3:
            out.append(argv)
        elif argv[:2] == ["python", "-c"] and len(argv) == 3:
            out.append(argv)
    return out


ALL = [(name, argv) for name, text in DOCS.items() for argv in commands(text)]


def test_the_docs_give_commands_of_each_kind():
    kinds = {argv[0] if argv[0] == "airflow" else argv[1] for _, argv in ALL}
    assert kinds == {"airflow", "-m", "-c"}
    assert sum(1 for _, argv in ALL if argv[:3] == ["airflow", "tasks", "clear"]) >= 8
    assert sum(1 for _, argv in ALL if argv[:3] == ["airflow", "backfill", "create"]) >= 3


@pytest.mark.parametrize(
    ("doc", "argv"), [a for a in ALL if a[1][1] == "-m"], ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_project_cli_commands_parse(doc, argv):
    parser = build_parser()
    try:
        parser.parse_args(argv[3:])
    except SystemExit as exc:
        pytest.fail(f"{doc}: {' '.join(argv)} does not parse (exit {exc.code})")


@pytest.mark.parametrize(
    ("doc", "argv"), [a for a in ALL if a[1][1] == "-c"], ids=lambda v: v[2][:60] if isinstance(v, list) else v
)
def test_python_snippets_compile(doc, argv):
    compile(argv[2], f"{doc} snippet", "exec")


@pytest.fixture(scope="module")
def airflow_parser():
    from airflow.cli import cli_parser

    return cli_parser.get_parser()


@pytest.mark.parametrize(
    ("doc", "argv"), [a for a in ALL if a[1][0] == "airflow"], ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_airflow_commands_parse_and_select_the_02_00_run(doc, argv, airflow_parser):
    try:
        args = airflow_parser.parse_args(argv[1:])
    except SystemExit as exc:
        pytest.fail(f"{doc}: {' '.join(argv)} does not parse with Airflow's CLI (exit {exc.code})")
    if argv[1:3] == ["tasks", "clear"]:
        # A bare date is midnight: -s D -e D would select no run of engagement_daily (logical date D 02:00).
        assert args.start_date is not None and args.end_date is not None, argv
        assert (args.start_date.hour, args.end_date.hour) == (2, 2), argv
        # Airflow 3.3 matches -t as a substring of the task id: regex anchors match nothing.
        assert not args.task_regex or not re.search(r"[\^$]", args.task_regex), argv
    if argv[1:3] == ["backfill", "create"]:
        assert args.to_date.hour == 2, f"{argv}: --to-date without 02:00 leaves out the last day"


def test_every_runbook_link_lands_on_a_heading():
    runbook = slugs(DOCS["runbook.md"])
    assert {
        "smtp-down",
        "warehouse-down",
        "late-data",
        "backfill",
        "identity-rule-storm",
        "missing-landing-files",
        "schema-change",
    } <= runbook
    inside = set(re.findall(r"\]\(#([a-z0-9-]+)\)", DOCS["runbook.md"]))
    from_ops = set(re.findall(r"\]\(runbook\.md#([a-z0-9-]+)\)", DOCS["operations.md"]))
    assert inside and from_ops
    assert inside | from_ops <= runbook, (inside | from_ops) - runbook


def test_anchors_named_in_code_are_runbook_headings():
    """Error messages and pages that send people to a runbook section."""
    runbook = slugs(DOCS["runbook.md"])
    named = set()
    for path in [*(ROOT / "include").rglob("*.py"), *(ROOT / "include" / "dashboard" / "templates").glob("*.j2")]:
        named |= set(re.findall(r"runbook\.md#([a-z0-9-]+)", path.read_text(encoding="utf-8"))) - {
            "anchor"
        }  # "#anchor" in a docstring
    assert {"smtp-down", "warehouse-down", "quality-gate-held"} <= named
    assert named <= runbook, named - runbook
