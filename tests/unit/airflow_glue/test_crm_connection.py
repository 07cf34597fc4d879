"""The engagement_crm connection may name an API CRM: a URL in its extra, or the Salesforce
provider's connection type (which needs the provider to log in)."""

from __future__ import annotations

import json

import pytest

from include.airflow_glue.dag_support import connection_url


def test_a_crm_url_in_the_extra_is_used_as_it_is(monkeypatch):
    url = "salesforce+https://00Dx!token@acme.my.salesforce.com"
    monkeypatch.setenv("AIRFLOW_CONN_ENGAGEMENT_CRM", json.dumps({"conn_type": "generic", "extra": {"crm_url": url}}))
    assert connection_url("engagement_crm") == url


def test_a_salesforce_provider_connection_without_the_provider_says_what_to_do(monkeypatch):
    pytest.importorskip("airflow.sdk")
    try:
        import airflow.providers.salesforce  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the Salesforce provider is installed: its hook logs in instead")
    conn = {"conn_type": "salesforce", "login": "integration@acme.com", "password": "pw-secret"}
    monkeypatch.setenv("AIRFLOW_CONN_ENGAGEMENT_CRM", json.dumps(conn))
    with pytest.raises(ValueError) as err:
        connection_url("engagement_crm")
    assert "pip install apache-airflow-providers-salesforce" in str(err.value) and '"crm_url"' in str(err.value)
    assert "pw-secret" not in str(err.value)


def test_crm_connector_failures_point_at_their_runbook_section():
    from include.airflow_glue.notifier import runbook_section
    from include.scoring.crm.api_client import CrmAuthError
    from include.scoring.crm.connector import CrmNotInitialized

    assert runbook_section(CrmAuthError("salesforce at ... refused the access token")) == "crm-connector-failed"
    assert runbook_section(CrmNotInitialized("lacks the engagement field(s)")) == "crm-connector-failed"
