"""Reference (c): one day's identity resolution as a data team might write it in DuckDB SQL.

The same rules as the resolve stage (SPEC section 4, `include/scoring/resolve/`), written
independently: normalised emails and cookies (placeholders blocked), registrable domains, company
names, longest-prefix reverse IP, the non-human filters (bot, machine open, scanner click and
burst), CRM activities (kept, re-emitted = `duplicate`, first seen too late = `late_arrival`), the
person graph (yesterday's edges plus today's, shared devices cut, connected components by a
recursive CTE), each person's account, contact, role and Segment group tie, and the first account
rule that applies per event, or the reason none did. It writes resolved, unresolved and filtered
rows (resolve's columns) and the day's edge set to Parquet; `compare` checks them against resolve's
own outputs for the day, event by event.

Like resolve, it reads state that earlier days left in the lake: the person graph of D-1
(identity/dt=D-1), the Segment group ties of D-1 (identity_groups/dt=D-1), the hashes of the CRM
activity ids emitted on the late-arrival window's earlier days (event_ids/crm), D-1's email
deliveries (a click after midnight belongs to yesterday's send) and D-1's CRM activity snapshot
(what is first seen today). It needs D-1's graph unless D is the first day with events.

What is not SQL, done in Python on distinct values inside the timed run (what a data team would do
with a UDF): registrable domains of hosts whose TLD carries wildcard or exception rules of the
public-suffix list (tldextract, the list bundled with it that the pipeline uses; every other host
is matched in SQL against the list's plain rules), the Unicode NFKD decomposition of non-ASCII
company names, the parsing of IPv6 addresses and of the CIDR ranges that are not plain IPv4
(`ipaddress`), and pandas' 64-bit text hash that person keys and the CRM id hashes are made of. Not
covered: the rule firings (identity_rules), the identity map, the group-tie state of D
(identity_groups/dt=D: it reads resolve's of D-1, so it checks one day at a time, not a chain of days
on its own), the resolution metrics and sharding. DuckDB runs on 2 threads, as in the scoring
reference.

    PYTHONPATH=. .venv/bin/python -m benchmarks.duckdb_resolve_ref --lake LAKE --date D --compare
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import tempfile
import time
import unicodedata
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import tldextract

from include.scoring.core.config import ScoringConfig, load_config
from include.scoring.core.normalize import LEGAL_SUFFIXES
from include.scoring.core.sources import SHIPPED_FREE_MAIL

#: Unicode whitespace as Arrow's utf8_trim_whitespace sees it (Zs, and bidi classes WS, B, S)
_WS = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\p{Zs}\x{2028}\x{2029}]"
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}
_QUOTES |= {"\u00b4": "'", "`": "'"}
MAX_LABELS = 6
OUTPUTS = ("resolved", "unresolved", "filtered", "identity")


def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _in(values) -> str:
    values = sorted({str(v) for v in values})
    return "(" + ", ".join(map(_q, values)) + ")" if values else "(NULL)"


@cache
def _public_suffixes() -> tuple[tldextract.TLDExtract, frozenset, frozenset]:
    """tldextract's bundled public-suffix list (no network): plain rules, and the TLDs that carry
    wildcard or exception rules (those hosts are resolved by tldextract itself)."""
    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    plain, special = set(), set()
    for rule in extract.tlds:
        if rule.startswith(("*.", "!")):
            special.add(rule.rsplit(".", 1)[-1])
        else:
            plain.add(rule)
    return extract, frozenset(plain), frozenset(special)


def _files(root: str, dataset: str, day: date) -> list[str]:
    return sorted(str(p) for p in (Path(root) / dataset / f"dt={day.isoformat()}").glob("part-*.parquet"))


def _scan(root: str, dataset: str, day: date, columns: dict[str, str], rownum: bool = False) -> str:
    """SELECT of a partition's columns (typed NULLs where the partition is missing)."""
    files = _files(root, dataset, day)
    if not files:
        cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items())
        return f"(SELECT {cols}{', 0::BIGINT AS rn' if rownum else ''} WHERE false)"
    cols = ", ".join(columns)
    # file order, then row order: the pipeline's "first row" of a table
    rn = ", row_number() OVER (ORDER BY filename, file_row_number) - 1 AS rn" if rownum else ""
    src = f"read_parquet([{', '.join(map(_q, files))}], filename = true, file_row_number = true)"
    return f"(SELECT {cols}{rn} FROM {src})"


def _macros(con: duckdb.DuckDBPyConnection, config: ScoringConfig) -> None:
    ident = config.identity
    con.execute(f"CREATE OR REPLACE TEMP MACRO ws_trim(s) AS regexp_replace(s, '^{_WS}+|{_WS}+$', '', 'g')")
    con.execute("CREATE OR REPLACE TEMP MACRO email_dom(e) AS substr(e, strpos(e, '@') + 1)")
    locals_ = _in(x.lower() for x in ident.blocked_email_local_parts)
    domains = _in(x.lower() for x in ident.blocked_email_domains)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO email_blocked(e) AS coalesce("
        f"regexp_replace(e, '@.*$', '') IN {locals_} OR email_dom(e) IN {domains}, false)"
    )
    cookie = " OR ".join(f"regexp_matches(c, {_q(f'^(?:{p})$')})" for p in ident.blocked_anonymous_ids) or "false"
    con.execute(f"CREATE OR REPLACE TEMP MACRO cookie_blocked(c) AS coalesce({cookie}, false)")
    con.execute(
        "CREATE OR REPLACE TEMP MACRO host(x) AS nullif(regexp_replace(regexp_replace(regexp_replace("
        "regexp_replace(regexp_replace(regexp_replace(lower(ws_trim(x)), '^[a-z][a-z0-9+.\\-]*://', ''), "
        "'[/?#].*$', ''), '^.*@', ''), ':\\d*$', ''), '\\.+$', ''), '^www\\d*\\.', ''), '')"
    )
    quotes = "s"
    for curly, straight in _QUOTES.items():
        quotes = f"replace({quotes}, {_q(curly)}, {_q(straight)})"
    con.execute(f"CREATE OR REPLACE TEMP MACRO company_a(s) AS {quotes}")
    legal = r"(\s+(" + "|".join(LEGAL_SUFFIXES) + r"))+$"
    con.execute(
        "CREATE OR REPLACE TEMP MACRO company_b(s) AS regexp_replace(ws_trim(regexp_replace(regexp_replace("
        "replace(lower(company_a(regexp_replace(s, '\\p{Mn}', '', 'g'))), '&', ' and '), '[''.]', '', 'g'), "
        "'[^a-z0-9]+', ' ', 'g')), '^the\\s+', '')"
    )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO company_c(s) AS nullif(CASE WHEN regexp_replace(s, "
        f"{_q(legal)}, '') = '' THEN s ELSE regexp_replace(s, {_q(legal)}, '') END, '')"
    )


def _registrable(con: duckdb.DuckDBPyConnection, name: str, values_sql: str) -> None:
    """Table `name`(v, reg): the registrable domain of each distinct value (host, domain or URL)."""
    extract, _, special = _public_suffixes()
    label = r"\.[^.]+"
    patterns = {k: _q("([^.]+" + label * (k - 1) + ")$") for k in range(1, MAX_LABELS + 1)}
    tails = ", ".join(f"nullif(regexp_extract(h, {p}, 1), '') AS t{k}" for k, p in patterns.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_h AS SELECT v, h, {tails} FROM "
        f"(SELECT v, host(v) AS h FROM (SELECT DISTINCT v FROM ({values_sql}) WHERE v IS NOT NULL))"
    )
    arms = " ".join(f"WHEN t{k} IN (SELECT s FROM psl) THEN t{k + 1}" for k in range(MAX_LABELS - 1, 0, -1))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT v, CASE WHEN h IS NULL THEN NULL "
        f"WHEN NOT contains(h, '.') THEN h {arms} END AS reg, h, t1 IN {_in(special)} AS special FROM {name}_h"
    )
    odd = con.execute(f"SELECT DISTINCT h FROM {name} WHERE special").fetchall()
    if odd:
        out = []
        for (host,) in odd:
            ext = extract(host)
            out.append((f"{ext.domain}.{ext.suffix}" if ext.suffix else ext.domain) if ext.domain else None)
        con.register("_odd", pa.table({"h": [h for (h,) in odd], "reg": pa.array(out, pa.string())}))
        con.execute(f"UPDATE {name} SET reg = _odd.reg FROM _odd WHERE {name}.special AND {name}.h = _odd.h")
        con.unregister("_odd")


def _company_names(con: duckdb.DuckDBPyConnection, name: str, values_sql: str) -> None:
    """Table `name`(v, norm): normalised company names (NFKD in Python for the non-ASCII ones)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_in AS SELECT v, v AS d FROM "
        f"(SELECT DISTINCT v FROM ({values_sql}) WHERE v IS NOT NULL)"
    )
    wide = [v for (v,) in con.execute(f"SELECT v FROM {name}_in WHERE regexp_matches(v, '[^\\x00-\\x7f]')").fetchall()]
    if wide:
        con.register("_nfkd", pa.table({"v": wide, "d": [unicodedata.normalize("NFKD", v) for v in wide]}))
        con.execute(f"UPDATE {name}_in SET d = _nfkd.d FROM _nfkd WHERE {name}_in.v = _nfkd.v")
        con.unregister("_nfkd")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT v, company_c(company_b(d)) AS norm FROM {name}_in")


def _pandas_hash(values) -> pa.Array:
    """pandas' 64-bit hash of each text (what person keys and event_ids/crm are made of)."""
    values = np.asarray(values, dtype=object)
    return pa.array(pd.util.hash_array(values) if len(values) else np.zeros(0, np.uint64), pa.uint64())


def _u64(values: list[int]) -> pa.Array:
    return pa.array(values, pa.uint64())


_OCTET = r"(0|[1-9]\d{0,2})"
_V4_CIDR = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(0|[1-9]\d?))?$"


def _ip_ranges(con: duckdb.DuckDBPyConnection) -> None:
    """Table ranges_ip(rn, version, prefix, hi, lo): each parseable CIDR of the reference ranges,
    as its prefix length and network bits (IPv6 in two 64-bit halves). Plain IPv4 CIDRs are parsed
    in SQL; anything else by `ipaddress` (which decides what else is valid)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ranges_v4 AS
        SELECT rn, 4 AS version, prefix, CASE WHEN prefix = 0 THEN 0 ELSE n >> (32 - prefix) END::UBIGINT AS hi,
               0::UBIGINT AS lo
        FROM (SELECT rn, ((a << 24) | (b << 16) | (c << 8) | d)::UBIGINT AS n, coalesce(p, 32) AS prefix FROM (
            SELECT rn, try_cast(o.a AS BIGINT) AS a, try_cast(o.b AS BIGINT) AS b, try_cast(o.c AS BIGINT) AS c,
                   try_cast(o.d AS BIGINT) AS d, try_cast(nullif(o.p, '') AS BIGINT) AS p
            FROM (SELECT rn, regexp_extract(ws_trim(cidr), {_q(_V4_CIDR)}, ['a', 'b', 'c', 'd', 'p']) AS o
                  FROM ranges WHERE cidr IS NOT NULL))
            WHERE a <= 255 AND b <= 255 AND c <= 255 AND d <= 255 AND coalesce(p, 32) <= 32)
    """)
    rows = con.execute(
        "SELECT rn, ws_trim(cidr) FROM ranges WHERE cidr IS NOT NULL AND rn NOT IN (SELECT rn FROM ranges_v4)"
    ).fetchall()
    out: dict[str, list] = {"rn": [], "version": [], "prefix": [], "hi": [], "lo": []}
    for rn, text in rows:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        n, p = int(net.network_address), net.prefixlen
        if net.version == 4:
            hi, lo = n >> (32 - p) if p else 0, 0
        else:
            hi, lo = (n >> 64) >> (64 - p) if p <= 64 else n >> 64, 0 if p <= 64 else (n & (2**64 - 1)) >> (128 - p)
        for key, value in zip(out, (rn, net.version, p, hi, lo), strict=True):
            out[key].append(value)
    con.register("_r", pa.table({k: _u64(v) if k in ("hi", "lo") else pa.array(v, pa.int64()) for k, v in out.items()}))
    con.execute("CREATE OR REPLACE TEMP TABLE ranges_ip AS SELECT * FROM ranges_v4 UNION ALL SELECT * FROM _r")
    con.unregister("_r")


def _ip_match(con: duckdb.DuckDBPyConnection) -> None:
    """Table ipm(ip, rn): each distinct event address's longest matching range (lowest row on a tie).
    IPv4 addresses are parsed in SQL; IPv6 ones (few) by `ipaddress`, into two 64-bit halves."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ips AS SELECT ip, s, regexp_extract(s, "
        "'^(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})$', ['a', 'b', 'c', 'd']) AS o "
        "FROM (SELECT DISTINCT ip, ws_trim(ip) AS s FROM ev WHERE ip IS NOT NULL)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ips4 AS SELECT ip, ((a << 24) | (b << 16) | (c << 8) | d)::UBIGINT AS n FROM ("
        " SELECT ip, try_cast(o.a AS BIGINT) AS a, try_cast(o.b AS BIGINT) AS b, try_cast(o.c AS BIGINT) AS c,"
        " try_cast(o.d AS BIGINT) AS d FROM ips) WHERE a <= 255 AND b <= 255 AND c <= 255 AND d <= 255"
    )
    v6 = con.execute("SELECT ip, s FROM ips WHERE ip NOT IN (SELECT ip FROM ips4) AND contains(s, ':')").fetchall()
    parsed: dict[str, list] = {"ip": [], "hi": [], "lo": []}
    for ip, text in v6:
        try:
            n = int(ipaddress.IPv6Address(text))
        except ValueError:
            continue
        for key, value in zip(parsed, (ip, n >> 64, n & (2**64 - 1)), strict=True):
            parsed[key].append(value)
    con.register(
        "_v6", pa.table({"ip": pa.array(parsed["ip"], pa.string()), "hi": _u64(parsed["hi"]), "lo": _u64(parsed["lo"])})
    )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ipm AS
        WITH k AS (
            SELECT ip, 4 AS version, p.prefix,
                   CASE WHEN p.prefix = 0 THEN 0 ELSE n >> (32 - p.prefix) END::UBIGINT AS hi, 0::UBIGINT AS lo
            FROM ips4 CROSS JOIN (SELECT DISTINCT prefix FROM ranges_ip WHERE version = 4) p
            UNION ALL
            SELECT ip, 6, p.prefix,
                   CASE WHEN p.prefix = 0 THEN 0 WHEN p.prefix <= 64 THEN hi >> (64 - p.prefix) ELSE hi END::UBIGINT,
                   CASE WHEN p.prefix <= 64 THEN 0 ELSE lo >> (128 - p.prefix) END::UBIGINT
            FROM _v6 CROSS JOIN (SELECT DISTINCT prefix FROM ranges_ip WHERE version = 6) p),
        hit AS (
            SELECT k.ip, r.prefix, r.rn FROM k JOIN ranges_ip r
            ON r.version = k.version AND r.prefix = k.prefix AND r.hi = k.hi AND r.lo = k.lo)
        SELECT ip, arg_min(rn, (-prefix, rn)) AS rn FROM hit GROUP BY ip
    """)
    con.unregister("_v6")


def resolve_sql(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig, out: str) -> dict:
    """Resolve `day` of the lake at `root` into Parquet files under `out`; returns row counts."""
    d, prev = day.isoformat(), day - timedelta(days=1)
    lookback = config.validation.late_arrival_days
    nh = config.non_human
    start = f"TIMESTAMPTZ '{(day - timedelta(days=lookback)).isoformat()} 00:00:00+00'"
    end = f"TIMESTAMPTZ '{(day + timedelta(days=1)).isoformat()} 00:00:00+00'"
    v = "VARCHAR"
    _macros(con, config)

    # Inputs ---------------------------------------------------------------------------------------
    acts_cols = {"activity_id": v, "account_id": v, "contact_id": v, "activity_type": v, "occurred_at": "TIMESTAMPTZ"}
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE acts AS SELECT * FROM {_scan(root, 'valid/crm/activities', day, acts_cols)}"
    )
    window = con.execute(
        f"SELECT DISTINCT coalesce(activity_id, '') FROM acts WHERE occurred_at >= {start} AND occurred_at < {end}"
    ).fetchall()
    ids = [w[0] for w in window]
    con.register("_h", pa.table({"id": ids, "h": _pandas_hash(ids)}))
    con.execute("CREATE OR REPLACE TEMP TABLE act_hash AS SELECT * FROM _h")
    con.unregister("_h")
    earlier = [f for k in range(1, lookback + 1) for f in _files(root, "event_ids/crm", day - timedelta(days=k))]
    emitted = f"SELECT h FROM read_parquet([{', '.join(map(_q, earlier))}])" if earlier else "SELECT NULL::UBIGINT AS h"
    previous_acts = _files(root, "valid/crm/activities", prev) or _files(root, "raw/crm/activities", prev)
    late_sql = (
        f"SELECT a.*, 2 AS crm FROM acts a WHERE a.occurred_at < {start} AND NOT EXISTS (SELECT 1 FROM "
        f"read_parquet([{', '.join(map(_q, previous_acts))}]) p WHERE p.activity_id = a.activity_id)"
        if previous_acts and _files(root, "valid/crm/activities", day)
        else "SELECT *, 2 AS crm FROM acts WHERE false"
    )
    web = _scan(
        root,
        "valid/web",
        day,
        {"event_id": v, "event_time": "TIMESTAMPTZ", "event_type": v, "email": v, "anonymous_id": v, "ip": v}
        | {"url": v, "form_type": v, "user_agent": v},
    )
    email = _scan(
        root,
        "valid/email",
        day,
        {"event_id": v, "event_time": "TIMESTAMPTZ", "event_type": v, "email": v, "ip": v, "url": v}
        | {"campaign_id": v, "user_agent": v},
    )
    ad = _scan(
        root,
        "valid/ad",
        day,
        {"event_id": v, "event_time": "TIMESTAMPTZ", "event_type": v, "email": v, "anonymous_id": v, "ip": v}
        | {"campaign_id": v, "company_domain": v, "company_name": v, "platform": v},
    )
    # crm: 0 = not CRM, 1 = first emitted today, 3 = re-emitted (duplicate), 2 = first seen too late
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ev AS SELECT *, row_number() OVER () AS pos FROM (
        SELECT event_id, 'web' AS source, event_time, event_type, email, anonymous_id, ip, url, form_type,
               NULL::VARCHAR AS campaign_id, user_agent, NULL::VARCHAR AS company_domain,
               NULL::VARCHAR AS company_name, NULL::VARCHAR AS platform, NULL::VARCHAR AS crm_contact_id,
               NULL::VARCHAR AS crm_account_id, 0 AS crm FROM {web}
        UNION ALL
        SELECT event_id, 'email', event_time, event_type, email, NULL, ip, url, NULL, campaign_id, user_agent,
               NULL, NULL, NULL, NULL, NULL, 0 FROM {email}
        UNION ALL
        SELECT event_id, 'ad', event_time, event_type, email, anonymous_id, ip, NULL, NULL, campaign_id, NULL,
               company_domain, company_name, platform, NULL, NULL, 0 FROM {ad}
        UNION ALL
        SELECT activity_id, 'crm', occurred_at, activity_type, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, contact_id, account_id, crm FROM (
            SELECT a.*, CASE WHEN h.h IN ({emitted}) THEN 3 ELSE 1 END AS crm FROM acts a
            JOIN act_hash h ON h.id = coalesce(a.activity_id, '')
            WHERE a.occurred_at >= {start} AND a.occurred_at < {end}
            UNION ALL {late_sql}))
    """)
    contacts = _scan(root, "valid/crm/contacts", day, {"contact_id": v, "account_id": v, "email": v, "role": v}, True)
    accounts = _scan(
        root,
        "valid/crm/accounts",
        day,
        {"account_id": v, "name": v, "domain": v, "alt_domains": v, "parent_account_id": v},
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE accounts AS SELECT * FROM {accounts}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE contacts AS SELECT * FROM {contacts}")
    range_cols = {"cidr": v, "company_domain": v, "company_name": v, "kind": v}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ranges AS SELECT * FROM "
        + _scan(root, "reference/ip_ranges", day, range_cols, rownum=True)
    )
    free_files = _files(root, "reference/free_email_domains", day)
    extra = ", ".join(f"({_q(x.lower())})" for x in config.identity.extra_free_email_domains)
    if free_files:
        listed = ", ".join(map(_q, free_files))
        free_sql = f"SELECT lower(ws_trim(domain)) AS d FROM read_parquet([{listed}]) WHERE domain <> ''"
    else:
        shipped = ", ".join(f"({_q(x.strip().lower())})" for x in SHIPPED_FREE_MAIL.read_text().split())
        free_sql = f"SELECT d FROM (VALUES {shipped}) t(d)"
    if extra:
        free_sql += f" UNION ALL SELECT * FROM (VALUES {extra})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE free AS SELECT DISTINCT d FROM ({free_sql})")
    _, plain, _ = _public_suffixes()
    con.register("_psl", pa.table({"s": sorted(plain)}))
    con.execute("CREATE OR REPLACE TEMP TABLE psl AS SELECT * FROM _psl")
    con.unregister("_psl")
    call_cols = {"kind": v, "anonymous_id": v, "user_id": v, "email": v, "group_id": v, "group_domain": v}
    call_cols |= {"event_time": "TIMESTAMPTZ"}
    con.execute(f"CREATE OR REPLACE TEMP TABLE calls AS SELECT * FROM {_scan(root, 'calls/web', day, call_cols)}")

    # Normalised identifiers (per distinct value) ---------------------------------------------------
    prev_email = _scan(
        root, "valid/email", prev, {"email": v, "campaign_id": v, "event_type": v, "event_time": "TIMESTAMPTZ"}
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE prev_delivered AS SELECT * FROM {prev_email} WHERE event_type = 'delivered'"
    )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE email_norms AS
        SELECT email, CASE WHEN ok AND regexp_matches(t, '^[^@+]+@[^@\\s]*\\.[^@\\s.]+$') THEN t END AS n FROM (
            SELECT email, regexp_matches(s, '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+?\\.?$') AS ok,
                   regexp_replace(regexp_replace(s, '\\+[^@]*@', '@', 'g'), '\\.+$', '') AS t
            FROM (SELECT email, lower(ws_trim(email)) AS s FROM (
                SELECT email FROM ev UNION SELECT email FROM calls UNION SELECT email FROM contacts
                UNION SELECT email FROM prev_delivered) WHERE email IS NOT NULL))
    """)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE contacts AS SELECT c.*, e.n AS email_norm FROM contacts c "
        "LEFT JOIN email_norms e USING (email)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE emails AS SELECT email, CASE WHEN NOT email_blocked(n) THEN n END AS email_norm "
        "FROM email_norms"
    )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE cookies AS SELECT raw, CASE WHEN NOT cookie_blocked(c) THEN c END AS cookie
        FROM (SELECT raw, ws_trim(raw) AS c FROM (SELECT DISTINCT anonymous_id AS raw FROM ev
              WHERE anonymous_id IS NOT NULL UNION SELECT anonymous_id FROM calls WHERE anonymous_id IS NOT NULL))
    """)
    _registrable(
        con,
        "reg",
        "SELECT email_dom(email_norm) AS v FROM emails UNION ALL SELECT company_domain FROM ev "
        "UNION ALL SELECT domain FROM accounts UNION ALL SELECT ws_trim(unnest(string_split(alt_domains, ','))) "
        "FROM accounts UNION ALL SELECT company_domain FROM ranges UNION ALL SELECT group_domain FROM calls "
        f"UNION ALL SELECT group_domain FROM {_scan(root, 'identity_groups', prev, {'group_domain': v})}",
    )
    _company_names(
        con,
        "names",
        "SELECT company_name AS v FROM ev UNION ALL SELECT name FROM accounts "
        "UNION ALL SELECT company_name FROM ranges",
    )

    # Reference tables -------------------------------------------------------------------------------
    con.execute("""
        CREATE OR REPLACE TEMP TABLE domain_account AS
        WITH rows AS (
            SELECT account_id, parent_account_id IS NOT NULL AS child, domain AS d FROM accounts
            UNION ALL
            SELECT account_id, parent_account_id IS NOT NULL, ws_trim(unnest(string_split(alt_domains, ',')))
            FROM accounts)
        SELECT r.reg AS key, arg_min(account_id, (child, account_id)) AS account_id
        FROM rows JOIN reg r ON r.v = rows.d WHERE r.reg IS NOT NULL GROUP BY r.reg
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE name_account AS
        SELECT n.norm AS key, arg_min(account_id, (parent_account_id IS NOT NULL, account_id)) AS account_id
        FROM accounts a JOIN names n ON n.v = a.name WHERE n.norm IS NOT NULL GROUP BY n.norm
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE contact_by_id AS SELECT contact_id, account_id, role FROM (
            SELECT *, row_number() OVER (PARTITION BY contact_id ORDER BY rn) AS k FROM contacts
            WHERE contact_id IS NOT NULL) WHERE k = 1
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE contact_by_email AS SELECT email_norm, contact_id, account_id FROM (
            SELECT *, row_number() OVER (PARTITION BY email_norm ORDER BY contact_id NULLS LAST, rn) AS k
            FROM contacts WHERE email_norm IS NOT NULL) WHERE k = 1
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE range_info AS
        SELECT r.rn, r.kind,
               CASE WHEN r.kind = 'corporate' THEN coalesce(da.account_id, na.account_id) END AS account_id,
               coalesce(r.kind = 'corporate' AND (r.company_domain IS NOT NULL OR r.company_name IS NOT NULL), false)
                 AS company_known
        FROM ranges r LEFT JOIN reg g ON g.v = r.company_domain LEFT JOIN domain_account da ON da.key = g.reg
        LEFT JOIN names n ON n.v = r.company_name LEFT JOIN name_account na ON na.key = n.norm
    """)
    _ip_ranges(con)
    _ip_match(con)

    # Events with normalised identifiers and non-human reasons ---------------------------------------
    con.execute("""
        CREATE OR REPLACE TEMP TABLE delivered AS
        SELECT email_norm, campaign_id, min(event_time) AS at FROM (
            SELECT em.email_norm, campaign_id, event_time FROM ev JOIN emails em USING (email)
            WHERE source = 'email' AND event_type = 'delivered'
            UNION ALL
            SELECT e.n, campaign_id, event_time FROM prev_delivered p JOIN email_norms e USING (email))
        WHERE email_norm IS NOT NULL AND campaign_id IS NOT NULL GROUP BY ALL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE clicks AS
        WITH c AS (
            SELECT pos, em.email_norm, campaign_id, event_time, url, epoch_us(event_time) AS us,
                   em.email_norm IS NULL OR campaign_id IS NULL AS lone
            FROM ev LEFT JOIN emails em USING (email) WHERE source = 'email' AND event_type = 'click'),
        g AS (
            SELECT *, lone OR coalesce(us - lag(us) OVER w > {nh.scanner_burst_seconds} * 1e6, true) AS starts
            FROM c WINDOW w AS (PARTITION BY email_norm, campaign_id ORDER BY event_time, pos)),
        k AS (
            SELECT *, sum(starts::INT) OVER (PARTITION BY email_norm, campaign_id ORDER BY event_time, pos
                                             ROWS UNBOUNDED PRECEDING) AS cluster FROM g)
        SELECT k.pos,
               coalesce((epoch_us(k.event_time) - epoch_us(d.at)) / 1e6 BETWEEN 0 AND {nh.scanner_click_seconds}, false)
               OR (NOT lone AND count(DISTINCT url) OVER (PARTITION BY k.email_norm, k.campaign_id, cluster)
                   >= {nh.scanner_burst_links}) AS scanner
        FROM k LEFT JOIN delivered d ON d.email_norm = k.email_norm AND d.campaign_id = k.campaign_id
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE evf AS
        SELECT *, CASE WHEN crm = 2 THEN 'late_arrival' WHEN crm = 3 THEN 'duplicate' WHEN bot THEN 'bot'
                       WHEN source = 'email' AND event_type = 'open'
                            AND regexp_full_match(ws_trim(user_agent), {_q(nh.machine_open_user_agent)})
                            AND ip_kind IN {_in(nh.machine_open_ip_kinds)} THEN 'machine_open'
                       WHEN scanner THEN 'scanner_click' END AS filter_reason
        FROM (
            SELECT ev.*, em.email_norm, ck.cookie, rd.reg AS email_reg, cd.reg AS company_reg,
                   nm.norm AS company_norm, ipm.rn AS range_rn, ri.kind AS ip_kind, clicks.scanner,
                   ev.source = 'web' AND coalesce(regexp_matches(ev.user_agent, {_q(nh.bot_user_agent)}, 'i'), false)
                     AS bot
            FROM ev LEFT JOIN emails em ON em.email = ev.email LEFT JOIN cookies ck ON ck.raw = ev.anonymous_id
            LEFT JOIN reg rd ON rd.v = email_dom(em.email_norm) LEFT JOIN reg cd ON cd.v = ev.company_domain
            LEFT JOIN names nm ON nm.v = ev.company_name LEFT JOIN ipm ON ipm.ip = ev.ip
            LEFT JOIN range_info ri ON ri.rn = ipm.rn LEFT JOIN clicks ON clicks.pos = ev.pos)
    """)

    # The person graph --------------------------------------------------------------------------------
    con.execute("""
        CREATE OR REPLACE TEMP TABLE call_nodes AS
        SELECT c.kind, '2:' || em.email_norm AS e, '3:' || ck.cookie AS a,
               '3:' || CASE WHEN NOT cookie_blocked(regexp_replace(ws_trim(c.user_id), '^user:', ''))
                            THEN ws_trim(c.user_id) END AS u,
               c.group_id, c.group_domain, c.event_time
        FROM calls c LEFT JOIN emails em ON em.email = c.email LEFT JOIN cookies ck ON ck.raw = c.anonymous_id
    """)
    prev_edges = _scan(root, "identity", prev, {"a": v, "b": v, "first_seen": "DATE"})
    if not _files(root, "identity", prev) and any(
        p.name < f"dt={d}" for s in ("web", "ad") for p in (Path(root) / "valid" / s).glob("dt=*")
    ):
        raise RuntimeError(f"the identity snapshot of {prev} is missing: the reference needs the previous day's graph")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE edges AS
        SELECT least(a, b) AS a, greatest(a, b) AS b, min(first_seen) AS first_seen FROM (
            SELECT a, b, first_seen FROM {prev_edges}
            UNION ALL
            SELECT a, b, DATE '{d}' FROM (
                SELECT '2:' || email_norm AS a, '3:' || cookie AS b FROM evf
                WHERE source IN ('web', 'ad') AND NOT bot
                UNION ALL SELECT '1:' || contact_id, '2:' || email_norm FROM contacts
                UNION ALL SELECT e, a FROM call_nodes WHERE kind = 'identify'
                UNION ALL SELECT e, u FROM call_nodes WHERE kind = 'identify'
                UNION ALL SELECT a, u FROM call_nodes))
        WHERE a IS NOT NULL AND b IS NOT NULL AND a <> b GROUP BY ALL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE shared AS SELECT b AS node FROM edges
        WHERE a LIKE '2:%' AND b LIKE '3:%' GROUP BY b HAVING count(*) > {config.identity.max_emails_per_cookie}
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE und AS
        WITH usable AS (SELECT a, b FROM edges WHERE a NOT IN (SELECT node FROM shared)
                                                 AND b NOT IN (SELECT node FROM shared))
        SELECT a AS x, b AS y FROM usable UNION ALL SELECT b, a FROM usable
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE cc AS
        WITH RECURSIVE comp(node, root) USING KEY (node) AS (
            SELECT DISTINCT x, x FROM und
            UNION
            SELECT u.x, min(c.root) FROM comp c JOIN und u ON u.y = c.node JOIN recurring.comp cur ON cur.node = u.x
            GROUP BY u.x HAVING min(c.root) < min(cur.root))
        SELECT * FROM comp
    """)
    # today's identifiers (the identity map's nodes) and their persons
    con.execute("""
        CREATE OR REPLACE TEMP TABLE today AS
        SELECT DISTINCT n.node, coalesce(cc.root, n.node) AS root FROM (
            SELECT '3:' || cookie AS node FROM evf WHERE source IN ('web', 'ad')
            UNION ALL SELECT '2:' || email_norm FROM evf WHERE source <> 'crm'
            UNION ALL SELECT '1:' || crm_contact_id FROM evf WHERE crm IN (1, 3)) n
        LEFT JOIN cc USING (node)
        WHERE n.node IS NOT NULL AND n.node NOT IN (SELECT node FROM shared)
    """)
    _registrable(
        con,
        "reg_nodes",
        "SELECT email_dom(substr(cc.node, 3)) AS v FROM cc WHERE cc.node LIKE '2:%' "
        "AND cc.root IN (SELECT root FROM today) EXCEPT SELECT v FROM reg",
    )
    con.execute("INSERT INTO reg_nodes SELECT v, reg, h, special FROM reg")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE person_account AS
        WITH n AS (
            SELECT cc.root, cc.node,
                   CASE WHEN cc.node LIKE '1:%' THEN substr(cc.node, 3) WHEN cc.node LIKE '2:%' THEN cbe.contact_id END
                     AS contact_id,
                   CASE WHEN cc.node LIKE '2:%' AND rg.reg NOT IN (SELECT d FROM free) THEN da.account_id END
                     AS acc_domain
            FROM cc LEFT JOIN contact_by_email cbe ON cc.node LIKE '2:%' AND cbe.email_norm = substr(cc.node, 3)
            LEFT JOIN reg_nodes rg ON cc.node LIKE '2:%' AND rg.v = email_dom(substr(cc.node, 3))
            LEFT JOIN domain_account da ON da.key = rg.reg
            WHERE cc.root IN (SELECT root FROM today)),
        a AS (
            SELECT n.*, cbi.account_id AS acc_contact FROM n LEFT JOIN contact_by_id cbi USING (contact_id)),
        counted AS (
            SELECT root, CASE WHEN acc_contact IS NOT NULL THEN 0 ELSE 1 END AS priority,
                   coalesce(acc_contact, acc_domain) AS account, count(*) AS k
            FROM a WHERE coalesce(acc_contact, acc_domain) IS NOT NULL GROUP BY ALL),
        best AS (
            SELECT root, arg_min(account, (priority, -k, account)) AS p_account FROM counted GROUP BY root),
        contact AS (SELECT root, min(contact_id) AS p_contact FROM a GROUP BY root)
        SELECT root, best.p_account, contact.p_contact, cbi.role AS p_role
        FROM contact FULL JOIN best USING (root) LEFT JOIN contact_by_id cbi ON cbi.contact_id = contact.p_contact
    """)
    # Segment group ties: every identifier's latest group call up to D
    prev_groups = _scan(
        root,
        "identity_groups",
        prev,
        {"node": v, "group_id": v, "group_domain": v, "seen_at": "TIMESTAMPTZ"},
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE groups AS
        WITH rows AS (
            SELECT *, 0 AS o, row_number() OVER () AS r FROM {prev_groups}
            UNION ALL
            SELECT node, group_id, group_domain, event_time, 1, row_number() OVER () FROM (
                SELECT a AS node, group_id, group_domain, event_time FROM call_nodes WHERE kind = 'group'
                UNION ALL
                SELECT u, group_id, group_domain, event_time FROM call_nodes WHERE kind = 'group')
            WHERE node IS NOT NULL),
        latest AS (
            SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY node ORDER BY seen_at DESC NULLS LAST,
                                                         group_id NULLS LAST, o, r) AS k FROM rows) WHERE k = 1),
        tied AS (
            SELECT coalesce(cc.root, l.node) AS root, l.seen_at,
                   coalesce(CASE WHEN l.group_id IN (SELECT account_id FROM accounts) THEN ws_trim(l.group_id) END,
                            CASE WHEN g.reg NOT IN (SELECT d FROM free) THEN da.account_id END) AS account
            FROM latest l LEFT JOIN cc ON cc.node = l.node LEFT JOIN reg g ON g.v = l.group_domain
            LEFT JOIN domain_account da ON da.key = g.reg)
        SELECT root, arg_min(account, (epoch_us(seen_at) * -1, account)) AS p_group FROM tied
        WHERE account IS NOT NULL GROUP BY root
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE persons AS
        SELECT r.root, pa.p_account, pa.p_contact, pa.p_role, g.p_group
        FROM (SELECT DISTINCT root FROM today) r LEFT JOIN person_account pa USING (root)
        LEFT JOIN groups g USING (root)
    """)

    # Per event: person, the first account rule that applies, or the reason ------------------------
    con.execute("""
        CREATE OR REPLACE TEMP VIEW evp AS
        WITH x AS (
            SELECT evf.*, ('3:' || cookie) IN (SELECT node FROM shared) AS cookie_shared FROM evf),
        y AS (
            SELECT x.*, coalesce('2:' || email_norm,
                                 CASE WHEN NOT coalesce(cookie_shared, false) THEN '3:' || cookie END,
                                 '1:' || crm_contact_id) AS inode FROM x)
        SELECT y.*, coalesce(t.root, y.inode) AS root FROM y LEFT JOIN today t ON t.node = y.inode
    """)
    # the person of every event: its identifier's, when it is one of today's, else its own (late CRM activities)
    roots = (
        con.sql(
            "SELECT root FROM today UNION SELECT '1:' || crm_contact_id FROM evf "
            "WHERE crm = 2 AND crm_contact_id IS NOT NULL"
        )
        .to_arrow_table()
        .column(0)
    )
    hashes = _pandas_hash(roots.to_numpy(zero_copy_only=False))
    keys = pc.binary_join_element_wise("p", pc.cast(hashes, pa.string()), "")  # person keys: p<hash of the root>
    con.register("_keys", pa.table({"root": roots, "person_key": keys}))
    con.execute("CREATE OR REPLACE TEMP TABLE person_keys AS SELECT * FROM _keys")
    con.unregister("_keys")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE final AS
        WITH m AS (
            SELECT e.*, pk.person_key, cbe.contact_id AS direct_contact,
                   coalesce(e.email_reg IN (SELECT d FROM free), false) AS free_mail,
                   CASE WHEN e.source = 'crm' THEN e.crm_account_id END AS acc_crm,
                   cbe.account_id AS acc_contact, p.p_group AS acc_group,
                   CASE WHEN NOT coalesce(e.email_reg IN (SELECT d FROM free), false) THEN da.account_id END
                     AS acc_domain,
                   p.p_account AS acc_person, p.p_contact,
                   CASE WHEN e.ip_kind = 'corporate' THEN ri.account_id END AS acc_ip,
                   CASE WHEN e.source = 'ad' THEN coalesce(dc.account_id, nc.account_id) END AS acc_ad,
                   coalesce(ri.company_known, false) AS known_company_ip
            FROM evp e LEFT JOIN person_keys pk USING (root)
            LEFT JOIN contact_by_email cbe ON cbe.email_norm = e.email_norm
            LEFT JOIN domain_account da ON da.key = e.email_reg
            LEFT JOIN persons p ON p.root = e.root
            LEFT JOIN range_info ri ON ri.rn = e.range_rn
            LEFT JOIN domain_account dc ON dc.key = e.company_reg
            LEFT JOIN name_account nc ON nc.key = e.company_norm)
        , o AS (SELECT m.*,
               coalesce(acc_crm, acc_contact, acc_group, acc_domain, acc_person, acc_ip, acc_ad) AS account_id,
               CASE WHEN acc_crm IS NOT NULL THEN 'crm_activity' WHEN acc_contact IS NOT NULL THEN 'crm_contact'
                    WHEN acc_group IS NOT NULL THEN 'group_call' WHEN acc_domain IS NOT NULL THEN 'email_domain'
                    WHEN acc_person IS NOT NULL THEN 'cookie_stitch' WHEN acc_ip IS NOT NULL THEN 'reverse_ip'
                    WHEN acc_ad IS NOT NULL THEN 'ad_company' END AS resolution_method,
               CASE WHEN email_norm IS NOT NULL AND free_mail THEN 'free_mail'
                    WHEN email_norm IS NOT NULL THEN 'unknown_domain'
                    WHEN coalesce(cookie_shared, false) THEN 'shared_device'
                    WHEN (source = 'ad' AND (company_reg IS NOT NULL OR company_norm IS NOT NULL)) OR known_company_ip
                      THEN 'unknown_company'
                    WHEN ip IS NOT NULL THEN 'isp_ip' ELSE 'no_identifier' END AS reason,
               coalesce(CASE WHEN source = 'crm' THEN crm_contact_id END, direct_contact, p_contact) AS contact_id
        FROM m)
        SELECT o.event_id, o.source, o.event_time, o.event_type, o.url, o.form_type, o.campaign_id, o.platform,
               o.pos, o.filter_reason, o.account_id, o.person_key, o.contact_id, cbi.role, o.resolution_method, o.reason
        FROM o LEFT JOIN contact_by_id cbi ON cbi.contact_id = o.contact_id
    """)

    # Outputs ----------------------------------------------------------------------------------------
    Path(out).mkdir(parents=True, exist_ok=True)
    files = {name: str(Path(out) / f"{name}.parquet") for name in OUTPUTS}
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, account_id, person_key, contact_id, role,
                     resolution_method, url, form_type, campaign_id, platform
              FROM final WHERE filter_reason IS NULL AND account_id IS NOT NULL
              ORDER BY event_time NULLS LAST, event_id NULLS LAST)
        TO {_q(files["resolved"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, reason FROM final
              WHERE filter_reason IS NULL AND account_id IS NULL ORDER BY pos)
        TO {_q(files["unresolved"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"""
        COPY (SELECT event_id, source, event_time, event_type, account_id, person_key, filter_reason AS reason
              FROM final WHERE filter_reason IS NOT NULL ORDER BY pos)
        TO {_q(files["filtered"])} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"COPY (SELECT a, b, first_seen FROM edges ORDER BY a, b) TO {_q(files['identity'])} (FORMAT parquet)")
    return {
        name: con.execute(f"SELECT count(*) FROM read_parquet({_q(path)})").fetchall()[0][0]
        for name, path in files.items()
    }


def duckdb_resolve(lake_root: str, day: date, config: ScoringConfig, out: str, threads: int = 2) -> tuple[float, dict]:
    """Seconds for the SQL version of one day's resolution (outputs under `out`), and its row counts."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    counts = resolve_sql(con, str(lake_root), day, config, out)
    seconds = time.perf_counter() - t0
    con.close()
    return seconds, counts


# Comparison with resolve's outputs -------------------------------------------------------------------
_OUTCOME = """
    SELECT 'resolved' AS outcome, event_id, source, event_time, event_type, account_id, person_key, contact_id,
           role, resolution_method AS method, NULL AS reason FROM {resolved}
    UNION ALL
    SELECT 'unresolved', event_id, source, event_time, event_type, NULL, NULL, NULL, NULL, NULL, reason
    FROM {unresolved}
    UNION ALL
    SELECT 'filtered', event_id, source, event_time, event_type, account_id, person_key, NULL, NULL, NULL, reason
    FROM {filtered}
"""
_FIELDS = ("outcome", "event_time", "event_type", "account_id", "person_key", "contact_id", "role", "method", "reason")


def compare(lake_root: str, day: date, out: str, examples: int = 5) -> dict:
    """Every event of the day in resolve's outputs and the reference's: same outcome, account,
    method, reason, person, contact and role? Also the day's edge set. Returns the counts of
    events, of mismatches per field (and of events only on one side), with examples."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def lake(name: str) -> str:
        files = _files(lake_root, name, day)
        if not files:
            raise FileNotFoundError(f"resolve's {name}/dt={day} is missing under {lake_root}")
        return f"read_parquet([{', '.join(map(_q, files))}])"

    def mine(name: str) -> str:
        return f"read_parquet({_q(str(Path(out) / f'{name}.parquet'))})"

    for side, src in (("a", lake), ("b", mine)):
        sql = _OUTCOME.format(**{n: src(n) for n in ("resolved", "unresolved", "filtered")})
        con.execute(
            f"CREATE TEMP TABLE {side} AS SELECT *, row_number() OVER (PARTITION BY source, event_id ORDER BY "
            f"{', '.join(_FIELDS)}) AS k FROM ({sql})"
        )
    diffs = " OR ".join(f"a.{f} IS DISTINCT FROM b.{f}" for f in _FIELDS)
    joined = "FROM a FULL JOIN b ON a.source = b.source AND a.event_id IS NOT DISTINCT FROM b.event_id AND a.k = b.k"
    per_field = ", ".join(
        f"count(*) FILTER (WHERE a.k IS NOT NULL AND b.k IS NOT NULL AND a.{f} IS DISTINCT FROM b.{f}) AS {f}"
        for f in _FIELDS
    )
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE a.k IS NOT NULL), count(*) FILTER (WHERE b.k IS NOT NULL), "
        f"count(*) FILTER (WHERE a.k IS NULL OR b.k IS NULL OR {diffs}), "
        f"count(*) FILTER (WHERE b.k IS NULL), count(*) FILTER (WHERE a.k IS NULL), {per_field} {joined}"
    ).fetchall()[0]
    bad = con.execute(
        f"SELECT coalesce(a.source, b.source), coalesce(a.event_id, b.event_id), "
        f"{', '.join(f'a.{f}, b.{f}' for f in _FIELDS)} {joined} WHERE a.k IS NULL OR b.k IS NULL OR {diffs} "
        f"ORDER BY 1, 2 LIMIT {examples}"
    ).fetchall()
    edges = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT a, b, first_seen FROM {lake('identity')} EXCEPT ALL "
        f"SELECT a, b, first_seen FROM {mine('identity')})), (SELECT count(*) FROM (SELECT a, b, first_seen FROM "
        f"{mine('identity')} EXCEPT ALL SELECT a, b, first_seen FROM {lake('identity')})), "
        f"(SELECT count(*) FROM {lake('identity')})"
    ).fetchall()[0]
    con.close()
    names = ("resolve_events", "reference_events", "mismatched_events", "only_in_resolve", "only_in_reference")
    result = dict(zip(names, row[:5], strict=True))
    result["by_field"] = {f: n for f, n in zip(_FIELDS, row[5:], strict=True) if n}
    result["edges"] = edges[2]
    result["edges_only_in_resolve"], result["edges_only_in_reference"] = edges[0], edges[1]
    result["examples"] = [
        {"source": r[0], "event_id": r[1]}
        | {f: [r[2 + 2 * i], r[3 + 2 * i]] for i, f in enumerate(_FIELDS) if r[2 + 2 * i] != r[3 + 2 * i]}
        for r in bad
    ]
    result["identical"] = not result["mismatched_events"] and not edges[0] and not edges[1]
    return result


def _peak_rss_mb() -> int | None:
    """This process's peak resident memory (VmHWM, as benchmarks/stage.py reports it)."""
    try:
        with open("/proc/self/status") as fh:
            return round(next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024)
    except (OSError, StopIteration):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True, help="the lake root (a local folder) resolve ran on")
    parser.add_argument("--date", required=True, action="append", help="the day (YYYY-MM-DD; repeatable)")
    parser.add_argument("--config", default=None, help="the scoring config (default: the shipped one)")
    parser.add_argument("--out", default=None, help="where the reference writes (default: a temporary folder)")
    parser.add_argument("--compare", action="store_true", help="check the outputs against resolve's, event by event")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = load_config(args.config)
    failed = False
    with tempfile.TemporaryDirectory(prefix="duckdb-resolve-") as tmp:
        for text in args.date:
            day = date.fromisoformat(text)
            out = str(Path(args.out or tmp) / f"dt={day.isoformat()}")
            seconds, counts = duckdb_resolve(args.lake, day, config, out, args.threads)
            line = {"day": text, "seconds": round(seconds, 3), "peak_rss_mb": _peak_rss_mb(), "rows": counts}
            if args.compare:
                line["compare"] = compare(args.lake, day, out)
                failed |= not line["compare"]["identical"]
            print(json.dumps(line, default=str))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
