"""Persons of the DuckDB resolve reference (`benchmarks/duckdb_resolve_ref.py`): the person graph
(yesterday's edges plus today's, shared devices cut, connected components by a recursive CTE), each
person's account, contact, role and Segment group tie, and each event's outcome: its person key and
the first account rule that applies, or the reason none did."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.duckdb_resolve_lookups import (
    pandas_hash,
    partition_files,
    registrable,
    scan,
)
from include.scoring.core.config import ScoringConfig


def person_graph(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Tables call_nodes, edges (every edge up to D), shared (cookies over the email limit), und,
    cc (node -> its component's smallest node) and today (today's identifiers and their roots)."""
    d, prev = day.isoformat(), day - timedelta(days=1)
    v = "VARCHAR"
    con.execute("""
        CREATE OR REPLACE TEMP TABLE call_nodes AS
        SELECT c.kind, '2:' || em.email_norm AS e, '3:' || ck.cookie AS a,
               '3:' || CASE WHEN NOT cookie_blocked(regexp_replace(ws_trim(c.user_id), '^user:', ''))
                            THEN ws_trim(c.user_id) END AS u,
               c.group_id, c.group_domain, c.event_time
        FROM calls c LEFT JOIN emails em ON em.email = c.email LEFT JOIN cookies ck ON ck.raw = c.anonymous_id
    """)
    prev_edges = scan(root, "identity", prev, {"a": v, "b": v, "first_seen": "DATE"})
    if not partition_files(root, "identity", prev) and any(
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
                WHERE NOT email_blocked(email_norm)
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


def person_tables(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Tables person_account (each of today's persons' account, contact and role), groups (its
    latest Segment group tie naming an account) and persons."""
    prev = day - timedelta(days=1)
    v = "VARCHAR"
    registrable(
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
    prev_groups = scan(
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
                   coalesce(CASE WHEN ws_trim(l.group_id) IN (SELECT account_id FROM accounts)
                                 THEN ws_trim(l.group_id) END,
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


def event_outcomes(con: duckdb.DuckDBPyConnection, root: str, day: date, config: ScoringConfig) -> None:
    """Table final: every event's person key, account and method, contact and role, or reason."""
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
    hashes = pandas_hash(roots.to_numpy(zero_copy_only=False))
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
