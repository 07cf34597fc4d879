"""Config validation: a typo or bad value fails at load with the key path and what is allowed."""

from __future__ import annotations

import copy

import pytest
import yaml

from include.scoring.core.config import DEFAULT_CONFIG_PATH, load_config, parse_config
from include.scoring.core.errors import ConfigError


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_default_config_holds_the_spec_defaults():
    cfg = load_config()
    points = cfg.signal_points()
    assert points["pricing_page_visit"] == 10 and points["demo_request"] == 10
    assert points["email_click"] == 5 and points["product_page_visit"] == 5 and points["webinar_attended"] == 5
    assert points["email_open"] == 1 and points["ad_click"] == 1 and points["ad_impression"] == 0
    assert cfg.points.role_multipliers["decision_maker"] == 1.2
    assert cfg.points.daily_cap == 20
    assert (cfg.breadth.window_days, cfg.breadth.points_per_person, cfg.breadth.max_people) == (30, 10, 5)
    assert cfg.decay.idle_halving_days == 60 and cfg.decay.half_life_days is None
    assert [b.max_score for b in cfg.bands] == [10, 25, 50, None]
    assert [(a.threshold, a.recipient) for a in cfg.alerts.thresholds] == [(25, "sdr"), (40, "owner"), (50, "manager")]
    assert cfg.identity.max_emails_per_cookie == 3
    assert cfg.non_human.scanner_click_seconds == 10
    assert cfg.reset_signals() == {"not_interested"}
    assert cfg.version


def test_typo_names_the_key_path_and_the_allowed_keys(raw):
    raw["breadth"]["windw_days"] = 30
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "my.yaml")
    text = str(err.value)
    assert "my.yaml" in text
    assert "breadth.windw_days: unknown key" in text
    assert "window_days" in text and "points_per_person" in text and "max_people" in text


def test_top_level_typo(raw):
    raw["bandz"] = []
    with pytest.raises(ConfigError, match=r"bandz: unknown key; allowed keys here: .*bands"):
        parse_config(raw)


def test_bad_enum_value_lists_the_allowed_values(raw):
    raw["alerts"]["thresholds"][0]["recipient"] = "ceo"
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    text = str(err.value)
    assert (
        "alerts.thresholds.0.recipient" in text
        and "'sdr'" in text
        and "'owner'" in text
        and "'manager'" in text
        and "ceo" in text
    )


def test_bad_number_names_the_key(raw):
    raw["points"]["daily_cap"] = -5
    with pytest.raises(ConfigError, match=r"points\.daily_cap: .*greater than 0"):
        parse_config(raw)


def test_event_type_must_belong_to_the_source(raw):
    raw["signals"][0]["event_type"] = ["open"]
    with pytest.raises(
        ConfigError,
        match=r"signals\.0.*'open' is not a web event type; allowed: \['download', 'form_submit', 'page_view'\]",
    ):
        parse_config(raw)


def test_bad_regex_is_reported(raw):
    raw["signals"][7]["url_path"] = "(pricing"
    with pytest.raises(ConfigError, match=r"signals\.7\.url_path: .*not a valid regular expression"):
        parse_config(raw)


def test_bands_must_increase(raw):
    bad = copy.deepcopy(raw)
    bad["bands"][1]["max_score"] = 5
    with pytest.raises(ConfigError, match="max_score must increase"):
        parse_config(bad)


def test_combination_bonus_names_real_signals(raw):
    raw["points"]["combination_bonus"]["signals"] = ["webinar_attended", "ebook"]
    with pytest.raises(ConfigError, match="'ebook' is not a signal name"):
        parse_config(raw)


def test_every_problem_is_listed_at_once(raw):
    raw["breadth"]["max_people"] = -1
    raw["decay"]["half_life"] = 3
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert "2 problem(s)" in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_fingerprint_changes_with_content(raw):
    a = parse_config(raw).fingerprint()
    raw["points"]["daily_cap"] = 25
    assert parse_config(raw).fingerprint() != a


def test_source_sections_hold_the_connector_defaults_and_leave_the_fingerprint_alone(raw):
    from include.scoring.core.source_config import Crm, Segment

    cfg = load_config()
    assert cfg.crm == Crm() and cfg.segment == Segment()  # the YAML documents the defaults the code has
    assert cfg.crm.salesforce.push_batch == 200 and cfg.crm.hubspot.push_batch == 100
    changed = copy.deepcopy(raw)
    changed["crm"]["salesforce"]["push_fields"]["score"] = "Account_Score__c"
    changed["segment"]["track_events"]["Trial Started"] = {"event_type": "form_submit", "form_type": "demo_request"}
    assert parse_config(changed).fingerprint() == cfg.fingerprint()  # how sources are read never replays scoring
    changed["breadth"]["max_people"] = 4
    assert parse_config(changed).fingerprint() != cfg.fingerprint()


def test_connector_typos_and_bad_values_name_the_key_and_what_is_allowed(raw):
    raw["crm"]["salesforce"]["accounts"]["domian"] = "Website"
    raw["crm"]["hubspot"]["push_batch"] = 250
    raw["crm"]["salesforce"]["activities"]["rules"][0]["activity_type"] = "coffee"
    raw["crm"]["salesforce"]["contacts"]["email"] = "Email, (SELECT Id FROM User)"
    raw["segment"]["track_events"]["Demo Requested"] = {"evnt_type": "form_submit"}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "my.yaml")
    text = str(err.value)
    assert "crm.salesforce.accounts.domian: unknown key; allowed keys here: " in text and "domain" in text
    assert "crm.hubspot.push_batch: Input should be less than or equal to 100 (got 250)" in text
    assert "crm.salesforce.activities.rules.0.activity_type: Input should be 'call_completed'" in text
    assert "crm.salesforce.contacts.email: String should match pattern" in text  # nothing but a field name
    assert (
        "segment.track_events.Demo Requested.evnt_type: unknown key; allowed keys here: event_type, form_type" in text
    )
