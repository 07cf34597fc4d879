"""Inputs of the DuckDB resolve reference (`benchmarks/duckdb_resolve_ref.py`): the day's events and
CRM activities, the CRM and reference tables, normalised identifiers per distinct value, the account
lookups, and each event's identifiers and non-human filter reason."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa

from benchmarks.duckdb_resolve_lookups import (
    company_names,
    in_list,
    ip_match,
    ip_ranges,
    pandas_hash,
    partition_files,
    public_suffixes,
    quote,
    registrable,
    scan,
)
from include.scoring.core.config import ScoringConfig
from include.scoring.core.sources import SHIPPED_FREE_MAIL


def load_inputs(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Tables ev (the day's web, email and ad events and CRM activities; `crm`: 0 not CRM, 1 first
    emitted today, 2 first seen too late, 3 re-emitted), accounts, contacts, ranges, free, psl and calls."""
    prev = day - timedelta(days=1)
    lookback = config.validation.late_arrival_days
    start = f"TIMESTAMPTZ '{(day - timedelta(days=lookback)).isoformat()} 00:00:00+00'"
    end = f"TIMESTAMPTZ '{(day + timedelta(days=1)).isoformat()} 00:00:00+00'"
    v = "VARCHAR"
    acts_cols = {"activity_id": v, "account_id": v, "contact_id": v, "activity_type": v, "occurred_at": "TIMESTAMPTZ"}
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE acts AS SELECT * FROM {scan(root, 'valid/crm/activities', day, acts_cols)}"
    )
    window = con.execute(
        f"SELECT DISTINCT coalesce(activity_id, '') FROM acts WHERE occurred_at >= {start} AND occurred_at < {end}"
    ).fetchall()
    ids = [w[0] for w in window]
    con.register("_h", pa.table({"id": ids, "h": pandas_hash(ids)}))
    con.execute("CREATE OR REPLACE TEMP TABLE act_hash AS SELECT * FROM _h")
    con.unregister("_h")
    earlier = [
        f for k in range(1, lookback + 1) for f in partition_files(root, "event_ids/crm", day - timedelta(days=k))
    ]
    emitted = (
        f"SELECT h FROM read_parquet([{', '.join(map(quote, earlier))}])" if earlier else "SELECT NULL::UBIGINT AS h"
    )
    previous_acts = partition_files(root, "valid/crm/activities", prev) or partition_files(
        root, "raw/crm/activities", prev
    )
    late_sql = (
        f"SELECT a.*, 2 AS crm FROM acts a WHERE a.occurred_at < {start} AND NOT EXISTS (SELECT 1 FROM "
        f"read_parquet([{', '.join(map(quote, previous_acts))}]) p WHERE p.activity_id = a.activity_id)"
        if previous_acts and partition_files(root, "valid/crm/activities", day)
        else "SELECT *, 2 AS crm FROM acts WHERE false"
    )
    web = scan(
        root,
        "valid/web",
        day,
        {"event_id": v, "event_time": "TIMESTAMPTZ", "event_type": v, "email": v, "anonymous_id": v, "ip": v}
        | {"url": v, "form_type": v, "user_agent": v},
    )
    email = scan(
        root,
        "valid/email",
        day,
        {"event_id": v, "event_time": "TIMESTAMPTZ", "event_type": v, "email": v, "ip": v, "url": v}
        | {"campaign_id": v, "user_agent": v},
    )
    ad = scan(
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
    contacts = scan(root, "valid/crm/contacts", day, {"contact_id": v, "account_id": v, "email": v, "role": v}, True)
    accounts = scan(
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
        + scan(root, "reference/ip_ranges", day, range_cols, rownum=True)
    )
    free_files = partition_files(root, "reference/free_email_domains", day)
    extra = ", ".join(f"({quote(x.lower())})" for x in config.identity.extra_free_email_domains)
    if free_files:
        listed = ", ".join(map(quote, free_files))
        free_sql = f"SELECT lower(ws_trim(domain)) AS d FROM read_parquet([{listed}]) WHERE domain <> ''"
    else:
        shipped = ", ".join(f"({quote(x.strip().lower())})" for x in SHIPPED_FREE_MAIL.read_text().split())
        free_sql = f"SELECT d FROM (VALUES {shipped}) t(d)"
    if extra:
        free_sql += f" UNION ALL SELECT * FROM (VALUES {extra})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE free AS SELECT DISTINCT d FROM ({free_sql})")
    _, plain, _ = public_suffixes()
    con.register("_psl", pa.table({"s": sorted(plain)}))
    con.execute("CREATE OR REPLACE TEMP TABLE psl AS SELECT * FROM _psl")
    con.unregister("_psl")
    call_cols = {"kind": v, "anonymous_id": v, "user_id": v, "email": v, "group_id": v, "group_domain": v}
    call_cols |= {"event_time": "TIMESTAMPTZ"}
    con.execute(f"CREATE OR REPLACE TEMP TABLE calls AS SELECT * FROM {scan(root, 'calls/web', day, call_cols)}")


def normalise_identifiers(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Tables prev_delivered, email_norms, emails (placeholders blocked), cookies, reg (registrable
    domains) and names (normalised company names), one row per distinct value; contacts get email_norm."""
    prev = day - timedelta(days=1)
    v = "VARCHAR"
    prev_email = scan(
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
    registrable(
        con,
        "reg",
        "SELECT email_dom(email_norm) AS v FROM emails UNION ALL SELECT company_domain FROM ev "
        "UNION ALL SELECT domain FROM accounts UNION ALL SELECT ws_trim(unnest(string_split(alt_domains, ','))) "
        "FROM accounts UNION ALL SELECT company_domain FROM ranges UNION ALL SELECT group_domain FROM calls "
        f"UNION ALL SELECT group_domain FROM {scan(root, 'identity_groups', prev, {'group_domain': v})}",
    )
    company_names(
        con,
        "names",
        "SELECT company_name AS v FROM ev UNION ALL SELECT name FROM accounts "
        "UNION ALL SELECT company_name FROM ranges",
    )


def reference_tables(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Tables domain_account, name_account, contact_by_id, contact_by_email, range_info, and each
    event address's longest-prefix range (ipm)."""
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
    ip_ranges(con)
    ip_match(con)


def event_filters(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Table evf: the events with their normalised identifiers, IP range and kind, and non-human or
    CRM filter reason (delivered and clicks: the scanner-click rules)."""
    nh = config.non_human
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
                            AND regexp_full_match(ws_trim(user_agent), {quote(nh.machine_open_user_agent)})
                            AND ip_kind IN {in_list(nh.machine_open_ip_kinds)} THEN 'machine_open'
                       WHEN scanner THEN 'scanner_click' END AS filter_reason
        FROM (
            SELECT ev.*, em.email_norm, ck.cookie, rd.reg AS email_reg, cd.reg AS company_reg,
                   nm.norm AS company_norm, ipm.rn AS range_rn, ri.kind AS ip_kind, clicks.scanner,
                   ev.source = 'web' AND coalesce(regexp_matches(ev.user_agent, {quote(nh.bot_user_agent)}, 'i'), false)
                     AS bot
            FROM ev LEFT JOIN emails em ON em.email = ev.email LEFT JOIN cookies ck ON ck.raw = ev.anonymous_id
            LEFT JOIN reg rd ON rd.v = email_dom(em.email_norm) LEFT JOIN reg cd ON cd.v = ev.company_domain
            LEFT JOIN names nm ON nm.v = ev.company_name LEFT JOIN ipm ON ipm.ip = ev.ip
            LEFT JOIN range_info ri ON ri.rn = ipm.rn LEFT JOIN clicks ON clicks.pos = ev.pos)
    """)
