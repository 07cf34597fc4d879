"""Source names, importable without pandas or pyarrow (the DAG files use them at parse time)."""

EVENT_SOURCES = ("web", "email", "ad")
CRM_TABLES = ("accounts", "contacts", "activities", "opportunities")
#: Lake dataset names of every validated source, in processing order.
ALL_SOURCES = EVENT_SOURCES + tuple(f"crm/{t}" for t in CRM_TABLES)
#: Extract units as the DAG and CLI name them: event sources, the CRM, reference data.
EXTRACT_SOURCES = (*EVENT_SOURCES, "crm", "reference")
#: Validate units: one per event source, one for the four CRM tables together.
VALIDATE_SOURCES = (*EVENT_SOURCES, "crm")
