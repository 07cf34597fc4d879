"""mask_url: the one masker every message, log line and repr uses (docs/security.md)."""

from __future__ import annotations

import pytest

from include.scoring.core.settings import Settings
from include.scoring.core.urls import mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://crm_user:s3cr%40t@127.0.0.1:1/crm", "postgresql+psycopg://crm_user:***@127.0.0.1:1/crm"),
        ("postgresql://u:p@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        ("smtp://alerts:pw@mail:587?starttls=true&from=a@b.c", "smtp://alerts:***@mail:587?starttls=true&from=a@b.c"),
        ("hubspot+https://pat-na1-123@api.hubapi.com", "hubspot+https://***@api.hubapi.com"),
        ("salesforce+https://00Dx!AQ@acme.my.salesforce.com", "salesforce+https://***@acme.my.salesforce.com"),
        ("postgresql://h/db?password=x&sslmode=require", "postgresql://h/db?password=***&sslmode=require"),
        ("postgresql://reader@h/db", "postgresql://reader@h/db"),  # a user alone is not a secret
        ("sqlite:////tmp/warehouse.sqlite", "sqlite:////tmp/warehouse.sqlite"),
        ("/srv/landing", "/srv/landing"),  # a folder is not a URL
        ("s3://bucket/lake", "s3://bucket/lake"),
        ("http://[::1:bad", "<URL hidden>"),  # looks like a URL, cannot be parsed: hidden whole
        (None, None),
    ],
)
def test_credentials_become_stars_and_the_rest_stays_readable(url, shown):
    assert mask_url(url) == shown


def test_settings_repr_masks_every_url():
    settings = Settings(
        landing="/srv/landing",
        crm_url="postgresql://crm:topsecret@db/crm",
        lake="s3://bucket/lake",
        warehouse_url="postgresql://wh:alsosecret@db/wh",
        config_path=None,
        smtp_url="smtp://u:mailsecret@mail:25",
    )
    text = repr(settings)
    assert "secret" not in text and text.count("***") == 3
