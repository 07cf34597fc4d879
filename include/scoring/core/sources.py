"""Source names, importable without pandas or pyarrow (the DAG files use them at parse time)."""

from pathlib import Path

EVENT_SOURCES = ("web", "email", "ad")
CRM_TABLES = ("accounts", "contacts", "activities", "opportunities")
#: Lake dataset names of every validated source, in processing order.
ALL_SOURCES = EVENT_SOURCES + tuple(f"crm/{t}" for t in CRM_TABLES)
#: Extract units as the DAG and CLI name them: event sources, the CRM, reference data.
EXTRACT_SOURCES = (*EVENT_SOURCES, "crm", "reference")
#: Validate units: one per event source, one for the four CRM tables together.
VALIDATE_SOURCES = (*EVENT_SOURCES, "crm")

#: Reference data shipped with the code (`include/scoring/data/`, licences beside the files): the
#: free-mail list used when the landing zone has none, and that the sample generator copies.
SHIPPED_DATA = Path(__file__).resolve().parents[1] / "data"
SHIPPED_FREE_MAIL = SHIPPED_DATA / "free_email_domains.txt"
