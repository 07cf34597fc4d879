"""Lookups of the DuckDB resolve reference (`benchmarks/duckdb_resolve_ref.py`): the SQL text and
lake-scan helpers, the SQL macros (whitespace, placeholder identifiers, hosts, company names), the
public-suffix list and registrable domains, normalised company names, the IP ranges and each address's
longest-prefix range, and pandas' 64-bit text hash (person keys, CRM id hashes)."""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import date
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import tldextract

from benchmarks.duckdb_common import in_list, partition_files, quote
from include.scoring.core.config import ScoringConfig
from include.scoring.core.normalize import LEGAL_SUFFIXES

#: Unicode whitespace as Arrow's utf8_trim_whitespace sees it (Zs, and bidi classes WS, B, S)
_WS = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\p{Zs}\x{2028}\x{2029}]"
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}
_QUOTES |= {"\u00b4": "'", "`": "'"}
MAX_LABELS = 6


@cache
def public_suffixes() -> tuple[tldextract.TLDExtract, frozenset, frozenset]:
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


def scan(root: str, dataset: str, day: date, columns: dict[str, str], rownum: bool = False) -> str:
    """SELECT of a partition's columns (typed NULLs where the partition is missing)."""
    files = partition_files(root, dataset, day)
    if not files:
        cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items())
        return f"(SELECT {cols}{', 0::BIGINT AS rn' if rownum else ''} WHERE false)"
    cols = ", ".join(columns)
    # file order, then row order: the pipeline's "first row" of a table
    rn = ", row_number() OVER (ORDER BY filename, file_row_number) - 1 AS rn" if rownum else ""
    src = f"read_parquet([{', '.join(map(quote, files))}], filename = true, file_row_number = true)"
    return f"(SELECT {cols}{rn} FROM {src})"


def macros(con: duckdb.DuckDBPyConnection, config: ScoringConfig) -> None:
    ident = config.identity
    con.execute(f"CREATE OR REPLACE TEMP MACRO ws_trim(s) AS regexp_replace(s, '^{_WS}+|{_WS}+$', '', 'g')")
    con.execute("CREATE OR REPLACE TEMP MACRO email_dom(e) AS substr(e, strpos(e, '@') + 1)")
    locals_ = in_list(x.lower() for x in ident.blocked_email_local_parts)
    domains = in_list(x.lower() for x in ident.blocked_email_domains)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO email_blocked(e) AS coalesce("
        f"regexp_replace(e, '@.*$', '') IN {locals_} OR email_dom(e) IN {domains}, false)"
    )
    cookie = " OR ".join(f"regexp_matches(c, {quote(f'^(?:{p})$')})" for p in ident.blocked_anonymous_ids) or "false"
    con.execute(f"CREATE OR REPLACE TEMP MACRO cookie_blocked(c) AS coalesce({cookie}, false)")
    con.execute(
        "CREATE OR REPLACE TEMP MACRO host(x) AS nullif(regexp_replace(regexp_replace(regexp_replace("
        "regexp_replace(regexp_replace(regexp_replace(lower(ws_trim(x)), '^[a-z][a-z0-9+.\\-]*://', ''), "
        "'[/?#].*$', ''), '^.*@', ''), ':\\d*$', ''), '\\.+$', ''), '^www\\d*\\.', ''), '')"
    )
    quotes = "s"
    for curly, straight in _QUOTES.items():
        quotes = f"replace({quotes}, {quote(curly)}, {quote(straight)})"
    con.execute(f"CREATE OR REPLACE TEMP MACRO company_a(s) AS {quotes}")
    legal = r"(\s+(" + "|".join(LEGAL_SUFFIXES) + r"))+$"
    con.execute(
        "CREATE OR REPLACE TEMP MACRO company_b(s) AS regexp_replace(ws_trim(regexp_replace(regexp_replace("
        "replace(lower(company_a(regexp_replace(s, '\\p{Mn}', '', 'g'))), '&', ' and '), '[''.]', '', 'g'), "
        "'[^a-z0-9]+', ' ', 'g')), '^the\\s+', '')"
    )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO company_c(s) AS nullif(CASE WHEN regexp_replace(s, "
        f"{quote(legal)}, '') = '' THEN s ELSE regexp_replace(s, {quote(legal)}, '') END, '')"
    )


def registrable(con: duckdb.DuckDBPyConnection, name: str, values_sql: str) -> None:
    """Table `name`(v, reg): the registrable domain of each distinct value (host, domain or URL)."""
    extract, _, special = public_suffixes()
    label = r"\.[^.]+"
    patterns = {k: quote("([^.]+" + label * (k - 1) + ")$") for k in range(1, MAX_LABELS + 1)}
    tails = ", ".join(f"nullif(regexp_extract(h, {p}, 1), '') AS t{k}" for k, p in patterns.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_h AS SELECT v, h, {tails} FROM "
        f"(SELECT v, host(v) AS h FROM (SELECT DISTINCT v FROM ({values_sql}) WHERE v IS NOT NULL))"
    )
    arms = " ".join(f"WHEN t{k} IN (SELECT s FROM psl) THEN t{k + 1}" for k in range(MAX_LABELS - 1, 0, -1))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT v, CASE WHEN h IS NULL THEN NULL "
        f"WHEN NOT contains(h, '.') THEN h {arms} END AS reg, h, t1 IN {in_list(special)} AS special FROM {name}_h"
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


def company_names(con: duckdb.DuckDBPyConnection, name: str, values_sql: str) -> None:
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


def pandas_hash(values) -> pa.Array:
    """pandas' 64-bit hash of each text (what person keys and event_ids/crm are made of)."""
    values = np.asarray(values, dtype=object)
    return pa.array(pd.util.hash_array(values) if len(values) else np.zeros(0, np.uint64), pa.uint64())


def _u64(values: list[int]) -> pa.Array:
    return pa.array(values, pa.uint64())


_OCTET = r"(0|[1-9]\d{0,2})"
_V4_CIDR = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(0|[1-9]\d?))?$"


def ip_ranges(con: duckdb.DuckDBPyConnection) -> None:
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
            FROM (SELECT rn, regexp_extract(ws_trim(cidr), {quote(_V4_CIDR)}, ['a', 'b', 'c', 'd', 'p']) AS o
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


def ip_match(con: duckdb.DuckDBPyConnection) -> None:
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
