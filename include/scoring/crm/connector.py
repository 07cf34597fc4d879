"""Which connector a CRM URL names, and what other packages use of the connectors.

| URL | connector |
|---|---|
| any SQLAlchemy URL (`sqlite:///...`, `postgresql+psycopg://...`) | `sql.SqlCrm`: the contract tables in a database |
| `salesforce+https://TOKEN@INSTANCE_HOST` | `salesforce.SalesforceCrm`: REST API |
| `hubspot+https://TOKEN@api.hubapi.com` | `hubspot.HubSpotCrm`: CRM v3 API |

The interface, the pushed fields and the change check are in crm/base.py.
"""

from __future__ import annotations

from include.scoring.core.config import ScoringConfig
from include.scoring.crm.base import (  # noqa: F401 - the connectors' public names
    PUSHED_FIELDS,
    SCORE_COLUMNS,
    SQL_FIELDS,
    CrmConnector,
    CrmNotInitialized,
    CrmRead,
    CrmTable,
    PushOutcome,
)
from include.scoring.crm.hubspot import HubSpotCrm
from include.scoring.crm.salesforce import SalesforceCrm
from include.scoring.crm.sql import SqlCrm

API_SCHEMES = ("salesforce", "hubspot")


def scheme_of(crm_url: str) -> str:
    """The connector part of a URL's scheme: `salesforce` of `salesforce+https://...`."""
    head = crm_url.split("://", 1)[0].lower() if "://" in crm_url else ""
    return head.split("+", 1)[0]


def connector_for(crm_url: str, config: ScoringConfig) -> CrmConnector:
    """The connector a CRM URL's scheme names (SQLAlchemy for anything else)."""
    scheme = scheme_of(crm_url)
    if scheme == "salesforce":
        return SalesforceCrm(crm_url, config.crm)
    if scheme == "hubspot":
        return HubSpotCrm(crm_url, config.crm)
    return SqlCrm(crm_url)
