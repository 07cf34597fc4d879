"""Control characters in CRM names are shown, never obeyed, by `explain` and the run summary
(issue 22, item 10). C0 controls (ESC, line breaks, NUL) in a name are quarantined by validation
(test_crm_contract_limits); what passes it, a C1 control (0x9b is CSI, ESC [ in one byte, on many
terminals) or a right-to-left override, is printed escaped, never raw."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from include.scoring.cli.main import main
from include.scoring.cli.summary import print_run_summary
from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.runner import run_range

pytestmark = pytest.mark.integration
NAME = "Evil\x9b2J\x9d8;;http://evil.example/\x9cCorp \u202edtL"


def test_explain_and_run_summary_escape_control_characters(small_sample, tmp_path, capsys):
    crm = tmp_path / "crm.sqlite"
    shutil.copyfile(Path(small_sample.out) / "crm.sqlite", crm)
    with sqlite3.connect(crm) as conn:
        account = conn.execute("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE accounts SET name = ? WHERE account_id = ?", (NAME, account))
    urls = {
        "--landing": str(Path(small_sample.out) / "landing"),
        "--crm-url": f"sqlite:///{crm}",
        "--lake": str(tmp_path / "lake"),
        "--warehouse-url": f"sqlite:///{tmp_path / 'wh.sqlite'}",
    }
    ctx = RunContext(
        Settings(
            landing=urls["--landing"],
            crm_url=urls["--crm-url"],
            lake=urls["--lake"],
            warehouse_url=urls["--warehouse-url"],
            config_path=None,
        )
    )
    day = small_sample.end
    report = run_range(ctx, day, day, echo=lambda _: None)
    capsys.readouterr()
    print_run_summary(ctx, report)
    assert main(["explain", "--account", account, "--date", day.isoformat(), *sum(map(list, urls.items()), [])]) == 0
    out = capsys.readouterr().out
    assert "Evil\\x9b2J" in out and "\\u202edtL" in out  # shown, escaped
    for bad in ("\x9b", "\x9d", "\x9c", "\u202e"):
        assert bad not in out, repr(bad)
