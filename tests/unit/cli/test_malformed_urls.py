"""Malformed URLs are usage errors (exit 2) found before any write (issue 22, item 11)."""

from __future__ import annotations

import sqlite3

import pytest

from include.scoring.cli.main import main

DAY = "2026-05-06"


@pytest.mark.parametrize(
    ("option", "url", "said"),
    [
        ("--warehouse-url", "postgresql+psycopg://app:s3cret@127.0.0.1:5432/wh?connect_timeout=abc", "connect_timeout"),
        ("--warehouse-url", "postgresql+psycopg://app:s3cret@127.0.0.1:port/wh", "port must be a number"),
        ("--crm-url", "postgresql+psycopg://crm:s3cret@127.0.0.1:5432/crm?connect_timeout=1x", "connect_timeout"),
    ],
)
def test_a_malformed_database_url_is_a_usage_error_before_any_write(tmp_path, capsys, option, url, said):
    lake = tmp_path / "lake"
    code = main(["extract", "--date", DAY, "--landing", str(tmp_path), "--lake", str(lake), option, url])
    err = capsys.readouterr().err
    assert code == 2, err
    assert said in err and "s3cret" not in err and "Traceback" not in err
    assert not lake.exists()


@pytest.mark.parametrize("smtp", ["smtp://mailer:s3cret@mail.example:twenty-five", "http://mail.example"])
def test_a_malformed_smtp_url_is_found_before_the_run_writes_anything(tmp_path, capsys, monkeypatch, smtp):
    monkeypatch.setenv("ENGAGEMENT_SMTP_URL", smtp)
    lake, warehouse = tmp_path / "lake", tmp_path / "wh.sqlite"
    code = main(
        ["run", "--start", DAY, "--end", DAY, "--landing", str(tmp_path), "--lake", str(lake),
         "--warehouse-url", f"sqlite:///{warehouse}"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "SMTP URL" in err and "s3cret" not in err
    assert not lake.exists() and not warehouse.exists()


def test_init_crm_on_a_database_without_accounts_is_a_usage_error(tmp_path, capsys):
    db = tmp_path / "not-a-crm.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE something_else (id TEXT)")
    code = main(["init-crm", "--crm-url", f"sqlite:///{db}", "--lake", str(tmp_path / "lake")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "has no accounts table" in err and "Traceback" not in err
