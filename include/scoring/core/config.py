"""The scoring configuration: one YAML file, validated with pydantic.

A typo or a bad value fails at load with the key path and what is allowed, so a config change
cannot silently fall back to a default.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include.scoring.core.errors import ConfigError
from include.scoring.core.source_config import Crm, Segment

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "engagement.yaml"

Source = Literal["web", "email", "ad", "crm"]
#: config sections that say how sources are read (not part of the scoring fingerprint)
SOURCE_SECTIONS = ("crm", "segment")
Role = Literal["decision_maker", "champion", "influencer", "user", "researcher", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalRule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tier: Literal[0, 1, 2, 3]
    source: Source
    event_type: list[str] | None = None
    form_type: list[str] | None = None
    url_path: str | None = None
    role: list[Role] | None = None
    reset: bool = False
    label: str | None = Field(None, max_length=80)  # how reports name the signal (one rule of it is enough)

    @field_validator("url_path")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _event_types_known(self) -> SignalRule:
        from include.scoring.core.contracts import EVENT_TYPES

        allowed = EVENT_TYPES[self.source]
        for value in self.event_type or []:
            if value not in allowed:
                raise ValueError(f"event_type {value!r} is not a {self.source} event type; allowed: {sorted(allowed)}")
        if self.form_type is not None:
            from include.scoring.core.contracts import FORM_TYPES

            bad = [v for v in self.form_type if v not in FORM_TYPES]
            if bad:
                raise ValueError(f"form_type {bad[0]!r} unknown; allowed: {sorted(FORM_TYPES)}")
        return self


class CombinationBonus(_Strict):
    enabled: bool = True
    signals: tuple[str, str] = ("webinar_attended", "content_download")
    within_days: int = Field(30, ge=1)
    tier: Literal[1, 2, 3] = 1


class Points(_Strict):
    role_multipliers: dict[Role, float] = {"decision_maker": 1.2}
    daily_cap: float = Field(20, gt=0)
    combination_bonus: CombinationBonus = CombinationBonus()


class Breadth(_Strict):
    window_days: int = Field(30, ge=1)
    points_per_person: float = Field(10, ge=0)
    max_people: int = Field(5, ge=0)


class Decay(_Strict):
    idle_halving_days: int | None = Field(60, ge=1)
    half_life_days: float | None = Field(None, gt=0)


class Accumulation(_Strict):
    #: points expire this many days after the day they were earned; None keeps them (open-ended)
    window_days: int | None = Field(90, ge=1)


class BuyingGroup(_Strict):
    roles: list[Role] = Field(["decision_maker", "champion", "influencer"], min_length=1)
    window_days: int = Field(30, ge=1)
    #: from this band up, an account with no decision maker engaged says so in its next action
    flag_missing_decision_maker_from: str | None = "hot"


class CustomerHealth(_Strict):
    #: at_risk: the last `recent_days` days' points below this share of the account's own baseline
    at_risk_ratio: float = Field(0.4, gt=0, lt=1)
    recent_days: int = Field(28, ge=7)
    #: the baseline: mean weekly points over this many whole weeks before the recent days
    baseline_weeks: int = Field(26, ge=2, le=104)
    #: dormant: no person engaged with a positive signal for this many days
    dormant_days: int = Field(45, ge=1)
    #: expanding: at least this many people first engaged in the recent days (or a surge)
    expanding_new_people: int = Field(3, ge=1)


class Band(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    max_score: float | None
    next_action: str


class AlertRule(_Strict):
    threshold: float
    recipient: Literal["sdr", "owner", "manager"]


class Alerts(_Strict):
    """Threshold alerts: the crossings that fire them, and how long an unsent one stays worth sending."""

    thresholds: list[AlertRule] = []
    #: an alert still unsent this many days after its crossing day expires (never sent): old news
    #: is noise, e.g. when SMTP is configured after weeks without it
    max_age_days: int = Field(7, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _thresholds_only(cls, value: Any) -> Any:
        """The earlier form, a bare list of thresholds, still loads."""
        return {"thresholds": value} if isinstance(value, list) else value


class Trend(_Strict):
    flat_below: float = Field(2, ge=0)
    surge_sigma: float = Field(2, ge=0)
    surge_min_points: float = Field(10, ge=0)
    surge_baseline_weeks: int = Field(8, ge=2)
    new_people_days: int = Field(14, ge=1)
    person_memory_days: int = Field(90, ge=1)


class NonHuman(_Strict):
    bot_user_agent: str
    machine_open_user_agent: str
    machine_open_ip_kinds: list[Literal["corporate", "isp", "vpn", "hosting", "mobile"]] = ["hosting"]
    scanner_click_seconds: float = Field(10, ge=0)
    scanner_burst_links: int = Field(3, ge=2)
    scanner_burst_seconds: float = Field(2, ge=0)

    @field_validator("bot_user_agent", "machine_open_user_agent")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class Identity(_Strict):
    max_emails_per_cookie: int = Field(3, ge=1)
    blocked_email_local_parts: list[str] = []
    blocked_email_domains: list[str] = []
    blocked_anonymous_ids: list[str] = []
    extra_free_email_domains: list[str] = []

    @field_validator("blocked_anonymous_ids")
    @classmethod
    def _regexes_compile(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
        return values


class Volume(_Strict):
    trailing_days: int = Field(7, ge=1)
    min_history_days: int = Field(3, ge=1)
    max_ratio: float = Field(5.0, gt=1)
    min_ratio: float = Field(0.2, ge=0, lt=1)
    action: Literal["warn", "fail"] = "warn"


class Validation(_Strict):
    late_arrival_days: int = Field(2, ge=0)
    max_bad_row_share: float = Field(0.05, ge=0, le=1)
    bad_rows_floor: int = Field(10, ge=0)
    duplicate_lookback_days: int = Field(7, ge=0)
    volume: Volume = Volume()
    levels: dict[str, Literal["batch", "row"]] = {}

    @field_validator("levels")
    @classmethod
    def _known_checks(cls, value: dict[str, str]) -> dict[str, str]:
        from include.expectations import all_check_keys

        known = all_check_keys()
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            raise ValueError(f"unknown check {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
        return value


class QualityGate(_Strict):
    trailing_days: int = Field(14, ge=1)
    same_weekday_weeks: int = Field(8, ge=1)
    min_history_days: int = Field(3, ge=1)
    min_volume_ratio: float = Field(0.3, ge=0)
    max_volume_ratio: float = Field(5.0, gt=0)
    max_resolution_rate_drop: float = Field(0.2, ge=0, le=1)
    max_band_change_share: float = Field(0.25, ge=0, le=1)


class Calibration(_Strict):
    outcome_window_days: int = Field(90, ge=1)
    min_closed_won: int = Field(30, ge=1)
    bootstrap_samples: int = Field(500, ge=50)
    regularisation_c: float = Field(1.0, gt=0)
    holdout_share: float = Field(0.3, gt=0, lt=1)
    recipients: list[str] = []
    #: signals of the account in this many days up to the score date count for lift and the fit
    signal_lookback_days: int = Field(30, ge=1)
    #: signals seen at fewer labelled accounts than this are listed as too rare to judge
    min_signal_accounts: int = Field(5, ge=1)
    #: seed of the bootstrap resampling and of the hold-out split (same data, same report)
    seed: int = 42
    #: folder (or fsspec URL) holding month=YYYY-MM/ report folders; null = <lake>/reports
    report_dir: str | None = None
    #: report: band edges giving each band (all but the lowest) this share of prospects; report.bands checks
    band_target_shares: dict[str, Annotated[float, Field(gt=0, lt=1)]] = {"very_hot": 0.05, "hot": 0.1, "warm": 0.25}


class Notifications(_Strict):
    email_to: list[str] = []
    webhook_url: str | None = None
    manager_email: str | None = None


class Scale(_Strict):
    shards: int = Field(1, ge=1, le=256)


class ScoringConfig(_Strict):
    version: str = Field(min_length=1)
    signals: list[SignalRule] = Field(min_length=1)
    tiers: dict[int, float]
    points: Points = Points()
    breadth: Breadth = Breadth()
    decay: Decay = Decay()
    accumulation: Accumulation = Accumulation()
    bands: list[Band] = Field(min_length=1)
    #: a warning every day a band holds more than this share of the prospects (band name -> share)
    bands_max_share: dict[str, float] = {"very_hot": 0.2}
    buying_group: BuyingGroup = BuyingGroup()
    customer_health: CustomerHealth = CustomerHealth()
    customer_next_action: str = "account management (owner)"
    alerts: Alerts = Alerts()
    trend: Trend = Trend()
    non_human: NonHuman
    identity: Identity = Identity()
    validation: Validation = Validation()
    quality_gate: QualityGate = QualityGate()
    calibration: Calibration = Calibration()
    notifications: Notifications = Notifications()
    scale: Scale = Scale()
    crm: Crm = Crm()  # the CRM connectors: what extract reads and the push writes (core/source_config.py)
    segment: Segment = Segment()  # Segment / RudderStack event files in the web landing folder

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        missing = [t for t in (0, 1, 2, 3) if t not in self.tiers]
        extra = sorted(t for t in self.tiers if t not in (0, 1, 2, 3))
        if missing or extra:
            raise ValueError(f"tiers: exactly the tiers 0, 1, 2 and 3 need points; missing {missing}, unknown {extra}")
        bounds = [b.max_score for b in self.bands]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("bands: every band but the last needs max_score; the last has max_score: null")
        if any(a >= b for a, b in zip(bounds[:-2], bounds[1:-1], strict=False)):
            raise ValueError("bands: max_score must increase from band to band")
        band_names = [b.name for b in self.bands]
        for key in self.bands_max_share:
            if key not in band_names:
                raise ValueError(f"bands_max_share: {key!r} is not a band; allowed: {band_names}")
        for key, share in self.bands_max_share.items():
            if not 0 < share <= 1:
                raise ValueError(f"bands_max_share.{key}: a share between 0 and 1 is needed (got {share})")
        flag = self.buying_group.flag_missing_decision_maker_from
        if flag is not None and flag not in band_names:
            raise ValueError(
                f"buying_group.flag_missing_decision_maker_from: {flag!r} is not a band; allowed: {band_names}"
            )
        names = {rule.name for rule in self.signals}
        if self.points.combination_bonus.enabled:
            unknown = [s for s in self.points.combination_bonus.signals if s not in names]
            if unknown:
                raise ValueError(
                    f"points.combination_bonus.signals: {unknown[0]!r} is not a signal name; allowed: {sorted(names)}"
                )
        return self

    # Derived lookups used by the engine -------------------------------------------------------
    def signal_points(self) -> dict[str, float]:
        """Base points (before multipliers) of every signal name."""
        out: dict[str, float] = {}
        for rule in self.signals:
            out.setdefault(rule.name, self.tiers[rule.tier])
        out["unclassified"] = 0.0
        out["combination_bonus"] = self.tiers[self.points.combination_bonus.tier]
        return out

    def reset_signals(self) -> set[str]:
        return {rule.name for rule in self.signals if rule.reset}

    @cached_property
    def _fingerprint(self) -> str:
        # how sources are read (crm, segment) and how long an alert may wait change no score: no replay for them
        excluded = {"alerts": {"max_age_days"}, **{section: True for section in SOURCE_SECTIONS}}
        payload = json.dumps(self.model_dump(mode="json", exclude=excluded), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A short hash of the whole config: state built under another config is not reused."""
        return self._fingerprint


def _format_error(err: dict[str, Any], raw: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(err["loc"][:-1])
        allowed = sorted(parent.model_fields) if parent else []
        return f"{loc}: unknown key; allowed keys here: {', '.join(allowed)}"
    if kind == "missing":
        return f"{loc}: required key is missing"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    return f"{loc}: {err['msg']} (got {shown[:80]})"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """Walk the model tree along a pydantic error location to name the allowed keys."""
    model: Any = ScoringConfig
    mapping_key = False
    for part in loc:
        if isinstance(part, int) or mapping_key:  # a list index, or the key of a mapping of models
            mapping_key = False
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        annotation = field.annotation
        mapping_key = getattr(annotation, "__origin__", None) is dict
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def parse_config(data: Any, source: str = "<config>") -> ScoringConfig:
    """Validate a parsed YAML document; raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping, got {type(data).__name__}")
    try:
        return ScoringConfig.model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(err, data) for err in exc.errors()]
        raise ConfigError(
            f"{source}: invalid configuration ({len(lines)} problem(s)):\n  - " + "\n  - ".join(lines)
        ) from None


def load_config(path: str | Path | None = None) -> ScoringConfig:
    """Load and validate the YAML config at `path` (the shipped default when None)."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))
