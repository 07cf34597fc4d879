"""The catalog of the lake: every dataset the pipeline reads or writes, declared once.

Each entry says where the dataset lives (`name`, the folder under the lake root, partitioned by
day as `dt=YYYY-MM-DD/`), which stage writes it, the columns it holds, and what it holds of
people: the erasure code (`include/scoring/privacy/`) walks the entries by `personal`, so a new
dataset is erased, recomputed or explicitly exempt according to its declaration here, never
forgotten; `tests/unit/lake/test_catalog.py` fails when a dataset that stores identifiers is not
marked. Every read and write of the lake names an entry (`Lake` refuses a bare string).

Per-source datasets are looked up with `raw(source)`, `valid(source)`, `quarantine(source)`,
`validation(source)` and `event_ids(source)`, where source is `web`, `email`, `ad` or
`crm/<table>` (and `crm` for the CRM activities' event ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from include.scoring.core.sources import ALL_SOURCES, EVENT_SOURCES


class Personal(Enum):
    """What a dataset holds of people, which is what a right-to-erasure request does with it."""

    #: nothing about a person (company data, counts, reference data)
    NONE = "none"
    #: rows of a tracked person's events or CRM records: removed; their identifiers in other rows' free text redacted
    ROWS = "rows"
    #: free text that can quote a person's values (validation examples, summaries, Data Docs): redacted
    TEXT = "text"
    #: the person graph: the edges touching the person's identifiers removed
    GRAPH = "graph"
    #: derived from the above by resolve or score: found, then recomputed by re-running those stages
    DERIVED = "derived"
    #: hashes of the event ids of a ROWS dataset: rebuilt from it
    HASHES = "hashes"
    #: our own staff's addresses (account owners, SDRs, alert recipients): company data, noted, not erased
    STAFF = "staff"
    #: the erasure suppression list itself: salted hashes kept so a backfill cannot bring a person back
    SUPPRESSION = "suppression"


@dataclass(frozen=True)
class Dataset:
    #: folder under the lake root
    name: str
    #: the stage that writes it: extract, validate, resolve, score, privacy
    stage: str
    #: the columns of its Parquet files
    columns: tuple[str, ...]
    personal: Personal
    #: holds text from the data (URLs, notes, agents, error text, examples) that can quote anything
    free_text: bool = False
    #: files written beside the Parquet data (summaries, rendered reports)
    side_files: tuple[str, ...] = ()
    #: for per-source datasets, the source (web, email, ad, crm/<table>, crm)
    source: str | None = None
    #: False for a single file at `name` (no day partitions)
    partitioned: bool = True

    def __str__(self) -> str:
        return self.name


def _entries() -> dict[str, Dataset]:
    from include.scoring.core.contracts import CONTRACTS

    out: list[Dataset] = []
    person_sources = (*EVENT_SOURCES, "crm/contacts", "crm/activities")
    lineage = ("source_file", "source_line", "coercion_errors")
    for source in ALL_SOURCES:
        columns = (*CONTRACTS[source].names, *lineage)
        who = (
            Personal.ROWS if source in person_sources else Personal.STAFF if source == "crm/accounts" else Personal.NONE
        )
        out += [
            Dataset(f"raw/{source}", "extract", columns, who, free_text=True, source=source),
            Dataset(f"valid/{source}", "validate", columns, who, free_text=True, source=source),
            Dataset(f"quarantine/{source}", "validate", (*columns, "failed_checks"), who, True, source=source),
            Dataset(
                f"validation/{source}",
                "validate",
                VALIDATION_COLUMNS,
                Personal.TEXT,
                free_text=True,
                side_files=("summary.json", "data_docs.html", "input.sha256"),
                source=source,
            ),
        ]
    out += [
        Dataset(f"event_ids/{source}", "validate", ("h",), Personal.HASHES, source=source) for source in EVENT_SOURCES
    ]
    out += [
        Dataset("event_ids/crm", "resolve", ("h",), Personal.DERIVED, source="crm"),
        Dataset("reference/ip_ranges", "extract", ("cidr", "company_domain", "company_name", "kind"), Personal.NONE),
        Dataset("reference/free_email_domains", "extract", ("domain",), Personal.NONE),
        # identify and group calls of Segment/RudderStack web files (user_id written user:<userId>)
        Dataset("calls/web", "extract", CALL_COLUMNS, Personal.ROWS, source="calls/web"),
        # an API CRM's read marks: per object, the latest change seen and the day of the last full read
        Dataset("sync/crm", "extract", ("crm", "object", "watermark", "full_read_on"), Personal.NONE),
        Dataset("identity", "resolve", ("a", "b", "first_seen"), Personal.GRAPH),
        Dataset(
            "identity_map",
            "resolve",
            ("node", "person_key", "shared", "p_account", "p_contact", "p_role", "p_group"),
            Personal.DERIVED,
        ),
        # every identifier's latest Segment group call up to D (the account it ties the person to)
        Dataset("identity_groups", "resolve", ("node", "group_id", "group_domain", "seen_at"), Personal.DERIVED),
        Dataset("identity_rules", "resolve", ("rule", "identifier", "detail", "count"), Personal.DERIVED, True),
        Dataset("resolved", "resolve", RESOLVED_COLUMNS, Personal.DERIVED, free_text=True),
        Dataset(
            "unresolved", "resolve", ("event_id", "source", "event_time", "event_type", "reason"), Personal.DERIVED
        ),
        Dataset(
            "filtered",
            "resolve",
            ("event_id", "source", "event_time", "event_type", "account_id", "person_key", "reason"),
            Personal.DERIVED,
        ),
        Dataset("resolution", "resolve", ("source", "outcome", "key", "events"), Personal.NONE),
        Dataset("contributions", "score", CONTRIBUTION_COLUMNS, Personal.DERIVED),
        Dataset("scores", "score", SCORE_FILE_COLUMNS, Personal.STAFF),
        Dataset("changes", "score", CHANGE_COLUMNS, Personal.STAFF),
        Dataset("daily_points", "score", ("account_id", "points"), Personal.NONE),
        Dataset("daily_ledger", "score", ("account_id", "signal", "points", "log_scale", "epoch"), Personal.NONE),
        Dataset("state", "score", STATE_COLUMNS, Personal.NONE),
        Dataset("state_ledger", "score", ("account_id", "signal", "points"), Personal.NONE),
        Dataset(
            "state_persons",
            "score",
            ("account_id", "person_key", "first_positive_day", "last_positive_at", "points", "role"),
            Personal.DERIVED,
        ),
        Dataset(
            "state_bonus",
            "score",
            ("account_id", "person_key", "first_time", "second_time", "awarded"),
            Personal.DERIVED,
        ),
        Dataset(
            "privacy/erasures",
            "privacy",
            ("request_id", "kind", "hash", "added_at", "status", "first_day"),
            Personal.SUPPRESSION,
        ),
        Dataset("privacy/salt", "privacy", (), Personal.SUPPRESSION, partitioned=False),
    ]
    return {d.name: d for d in out}


CALL_COLUMNS = (
    "event_id",
    "event_time",
    "kind",
    "anonymous_id",
    "user_id",
    "email",
    "group_id",
    "group_domain",
    "source_file",
    "source_line",
)
VALIDATION_COLUMNS = (
    "source",
    "day",
    "check",
    "level",
    "expectation",
    "column",
    "success",
    "effect",
    "unexpected_count",
    "examples",
)
RESOLVED_COLUMNS = (
    "event_id",
    "source",
    "event_time",
    "event_type",
    "account_id",
    "person_key",
    "contact_id",
    "role",
    "resolution_method",
    "url",
    "form_type",
    "campaign_id",
    "platform",
)
CONTRIBUTION_COLUMNS = (
    "event_id",
    "event_time",
    "source",
    "account_id",
    "person_key",
    "signal",
    "base_points",
    "multiplier",
    "points",
    "adjustment",
    "reset",
    "role",
)
SCORE_FILE_COLUMNS = (
    "account_id",
    "as_of",
    "score",
    "band",
    "engagement_percentile",
    "accumulated",
    "breadth",
    "engaged_people",
    "new_people_14d",
    "buying_group_coverage",
    "missing_roles",
    "health",
    "points_today",
    "trend",
    "change_7d",
    "change_28d",
    "surge",
    "last_touch_at",
    "last_touch_signal",
    "days_since_engagement",
    "next_action",
    "lifecycle",
    "account_name",
    "abm_tier",
    "owner_email",
    "sdr_email",
    "config_version",
)
CHANGE_COLUMNS = (
    "account_id",
    "as_of",
    "kind",
    "rule",
    "before",
    "after",
    "score_before",
    "score_after",
    "recipient",
    "audience",
)
STATE_COLUMNS = (
    "account_id",
    "accumulated",
    "last_positive_day",
    "reset_at",
    "last_touch_at",
    "last_touch_signal",
    "score",
    "log_scale",
    "epoch",
    "health",
    "weekly_points",
)

CATALOG: dict[str, Dataset] = _entries()

IDENTITY = CATALOG["identity"]
IDENTITY_MAP = CATALOG["identity_map"]
IDENTITY_RULES = CATALOG["identity_rules"]
IDENTITY_GROUPS = CATALOG["identity_groups"]
RESOLVED = CATALOG["resolved"]
UNRESOLVED = CATALOG["unresolved"]
FILTERED = CATALOG["filtered"]
RESOLUTION = CATALOG["resolution"]
CONTRIBUTIONS = CATALOG["contributions"]
SCORES = CATALOG["scores"]
CHANGES = CATALOG["changes"]
DAILY_POINTS = CATALOG["daily_points"]
DAILY_LEDGER = CATALOG["daily_ledger"]
STATE = CATALOG["state"]
STATE_LEDGER = CATALOG["state_ledger"]
STATE_PERSONS = CATALOG["state_persons"]
STATE_BONUS = CATALOG["state_bonus"]
IP_RANGES = CATALOG["reference/ip_ranges"]
FREE_EMAIL_DOMAINS = CATALOG["reference/free_email_domains"]
CRM_SYNC = CATALOG["sync/crm"]
CALLS = CATALOG["calls/web"]
ERASURES = CATALOG["privacy/erasures"]
#: the lake's random salt of the suppression hashes (one file)
SALT = CATALOG["privacy/salt"]


def _of(layer: str, source: str) -> Dataset:
    try:
        return CATALOG[f"{layer}/{source}"]
    except KeyError:
        known = sorted({d.source for d in CATALOG.values() if d.name.startswith(f"{layer}/") and d.source})
        raise KeyError(f"no dataset {layer}/{source} in the lake catalog; sources of {layer}: {known}") from None


def raw(source: str) -> Dataset:
    return _of("raw", source)


def valid(source: str) -> Dataset:
    return _of("valid", source)


def quarantine(source: str) -> Dataset:
    return _of("quarantine", source)


def validation(source: str) -> Dataset:
    return _of("validation", source)


def event_ids(source: str) -> Dataset:
    return _of("event_ids", source)


def with_personal(*kinds: Personal) -> list[Dataset]:
    """The datasets holding people's data of the given kinds, in catalog order."""
    return [d for d in CATALOG.values() if d.personal in kinds]
