"""The project's own error types.

Every failure a user can cause (bad config, broken landing file, failed quality gate) raises one of
these with a message that says what broke, where, and what to do. The CLI turns them into exit
status 1 (data or pipeline failure) or 2 (usage error) without a traceback.

`transient` says whether trying again can help: a database, CRM API or mail server that is down
(retried by Airflow) against data or config that will not fix itself (the task fails at once, no
retries, and on-call is told straight away).
"""

from __future__ import annotations


class PipelineError(Exception):
    """A data or pipeline failure someone can act on; exit status 1."""

    exit_code = 1
    transient = False


class UsageError(PipelineError):
    """The command was called wrongly (bad option, bad date); exit status 2."""

    exit_code = 2


class ConfigError(UsageError):
    """The YAML config is missing, unparseable or invalid."""


class ExtractError(PipelineError):
    """A landing file or CRM table could not be read into the contract."""


class SourceUnavailable(ExtractError):
    """A source system (the CRM database) could not be reached; it may be back on the next try."""

    transient = True


class CrmError(PipelineError):
    """A CRM API refused a request, kept failing, or lacks the fields the push writes."""


class LakeError(PipelineError):
    """A lake partition is missing, unreadable or corrupt."""


class LakeUnavailable(LakeError):
    """The object store holding the lake could not be reached; it may be back on the next try."""

    transient = True


class BatchValidationError(PipelineError):
    """A source's batch failed a batch-level expectation; nothing downstream may publish."""


class StateError(PipelineError):
    """Scoring state for the previous day is missing or was built under another config."""


class WarehouseError(PipelineError):
    """The warehouse could not be written or has an incompatible schema."""


class WarehouseUnavailable(WarehouseError):
    """The warehouse database could not be reached or failed mid-write; nothing was committed."""

    transient = True


class QualityGateHeld(PipelineError):
    """The day's numbers are out of bounds: CRM push and alerts are held."""


class AlertDeliveryError(PipelineError):
    """Some alert emails could not be sent; they stay pending for the next run."""

    transient = True
