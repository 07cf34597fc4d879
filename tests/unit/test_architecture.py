"""The house rules a maintainer relies on, checked on the code itself (README, "Finding your way").

- no module over 400 lines (split along a real seam instead);
- no private name (`_x`) imported from another module;
- the import contracts in pyproject.toml (run by `lint-imports` in `make test`) cover every module:
  a module added to a stage package is either declared as touching the lake or checked as pure,
  and either part of its package's public surface or protected from other packages.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("include", "dags", "plugins", "scripts", "benchmarks", "tests")
FIRST_PARTY = ("include", "dags", "plugins", "scripts", "benchmarks", "tests")
MAX_LINES = 400
STAGES = ("extract", "validate", "resolve", "score", "publish", "report", "privacy", "cli")
#: modules of the stage packages that read or write the lake (everything else there is pure)
LAKE_IO = {
    "extract.stage",
    "extract.snapshot",
    "validate.stage",
    "validate.inputs",
    "validate.sharded",
    "resolve.stage",
    "resolve.calls",
    "resolve.events",
    "resolve.inputs",
    "resolve.outputs",
    "resolve.snapshots",
    "resolve.evaluate",
    "score.stage",
    "score.replay",
    "score.state_io",
    "score.backtest",
    "publish.stage",
    "publish.reconcile",
    "report.stage",
    "report.data",
    "report.quality",
    "report.suggest",
}
#: packages whose every module may do I/O (they are not stages with pure parts)
ALL_IO = ("privacy", "cli", "lake")


def python_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def scoring_modules() -> list[str]:
    """`package.module` of every module in include/scoring's packages (no __init__)."""
    out = []
    for path in sorted((ROOT / "include" / "scoring").glob("*/*.py")):
        if path.name != "__init__.py":
            out.append(f"{path.parent.name}.{path.stem}")
    return out


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it along a real seam"


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in FIRST_PARTY:
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if alias.name.split(".")[0] in FIRST_PARTY and any(p.startswith("_") for p in alias.name.split("."))
                ]
    assert not found, "private names imported across modules (make them public, or keep them in one module):\n" + (
        "\n".join(found)
    )


def test_every_stage_module_is_either_lake_io_or_checked_as_pure():
    pure_contract = next(c for c in contracts() if c["name"].startswith("Pure modules do not touch the lake"))
    checked = {m.removeprefix("include.scoring.") for m in pure_contract["source_modules"]}
    expected = {m for m in scoring_modules() if m not in LAKE_IO and m.split(".")[0] not in ALL_IO}
    assert checked == expected, (
        "pyproject.toml's pure-module contract is out of date: "
        f"add {sorted(expected - checked)}, remove {sorted(checked - expected)} "
        "(or declare a module that reads or writes the lake in LAKE_IO here)"
    )
    assert not LAKE_IO - set(scoring_modules()), (
        f"LAKE_IO names modules that do not exist: {LAKE_IO - set(scoring_modules())}"
    )


def test_every_stage_module_is_public_or_protected():
    """A stage's modules are either its public surface (named in the contract's title) or
    protected: other packages cannot reach into them."""
    protected = {
        c["allowed_importers"][0].removeprefix("include.scoring."): {
            m.removeprefix("include.scoring.") for m in c["protected_modules"]
        }
        for c in contracts()
        if c["type"] == "protected"
    }
    for stage in STAGES:
        contract = next(
            c
            for c in contracts()
            if c["type"] == "protected" and c["allowed_importers"] == [f"include.scoring.{stage}"]
        )
        public = {p.strip() for p in contract["name"].split(" through ", 1)[1].split(",")}
        modules = {m for m in scoring_modules() if m.split(".")[0] == stage}
        assert protected[stage] | public == modules, (
            f"{stage}: every module must be public (named in the contract's title) or protected; "
            f"unclassified: {sorted(modules - protected[stage] - public)}"
        )
        assert not protected[stage] & public
