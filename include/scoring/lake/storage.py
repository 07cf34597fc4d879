"""Where the lake lives: a local folder, or an object store through fsspec (`s3://bucket/prefix`
through s3fs).

A local folder is opened exactly as fsspec opens it. An object store is opened with its listing
cache off (partitions are written by other processes, Celery workers and sharded tasks, and a
cached listing would hide what they wrote since this process last looked) and as a filesystem of
its own, configured from the environment as it is when the lake is opened (fsspec would otherwise
hand back one made earlier in the process, with the endpoint and credentials of that time).

Credentials never pass through this project's code or settings: s3fs asks botocore, which finds
them the standard AWS way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
AWS_PROFILE and ~/.aws/credentials, or the role of the machine or pod); the endpoint of an
S3-compatible server comes from AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), the region from
AWS_REGION / AWS_DEFAULT_REGION. A lake URL that carries credentials itself is refused, so a secret
never ends up in a setting that is logged or shown (README, "The lake on S3").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem

from include.scoring.core.errors import LakeError, LakeUnavailable, PipelineError, UsageError
from include.scoring.core.urls import mask_url

Method = TypeVar("Method", bound=Callable)

LOCAL_PROTOCOLS = (None, "file", "local")


def lake_protocol(root: str) -> str | None:
    """The fsspec protocol of a lake root (None for a plain folder)."""
    protocol, _ = fsspec.core.split_protocol(root)
    return protocol


def open_root(root: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the base path of a lake root (a folder or an fsspec URL)."""
    protocol = lake_protocol(root)
    if protocol in LOCAL_PROTOCOLS:
        return fsspec.core.url_to_fs(root)
    if "@" in urlsplit(root).netloc:
        raise UsageError(
            f"the lake URL {mask_url(root)} carries credentials; they are not read from it. Set ENGAGEMENT_LAKE to "
            f"{protocol}://<bucket>/<prefix> and give the credentials the standard AWS way: AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or the machine's role); see README, 'The lake on S3'."
        )
    try:
        return fsspec.core.url_to_fs(root, use_listings_cache=False, skip_instance_cache=True)
    except ImportError as exc:
        raise UsageError(f"the lake {mask_url(root)} needs a package that is not installed: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"the lake URL {mask_url(root)} cannot be used: {exc}") from None


def renames_atomically(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether a folder can be renamed into place in one step (a local filesystem); object stores
    have no rename and get generations and a manifest instead (include/scoring/lake/generations.py)."""
    return isinstance(fs, LocalFileSystem)


def store_problem(root: str, exc: BaseException) -> PipelineError | None:
    """What an object store's failure means for the user (None: not one we know, raise it as is):
    a server that cannot be reached (LakeUnavailable: Airflow retries) or credentials it refuses."""
    try:
        from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError, PartialCredentialsError
    except ImportError:
        return None
    where = mask_url(root)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    server = (
        f"the server at {mask_url(endpoint)} (AWS_ENDPOINT_URL_S3)" if endpoint else "AWS S3 (no AWS_ENDPOINT_URL_S3)"
    )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, PermissionError)):
        return LakeError(
            f"the lake {where} refused access or found no credentials ({type(exc).__name__}: {exc}). Set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the machine a role) for a user "
            f"allowed to list, read, write and delete under the lake's prefix on {server}."
        )
    if isinstance(exc, NoRegionError):
        return LakeError(f"the lake {where} needs a region: set AWS_REGION (for example us-east-1).")
    transient = [BotoCoreError, TimeoutError, ConnectionError]
    try:
        from aiohttp import ClientError
    except ImportError:  # pragma: no cover - aiohttp comes with s3fs
        pass
    else:
        transient.append(ClientError)
    if isinstance(exc, tuple(transient)):
        return LakeUnavailable(
            f"cannot reach the lake {where} on {server}: {type(exc).__name__}: {exc}. Check that the server is up "
            "and that the endpoint and region are right; the task is retried (a partition is switched whole or "
            "not at all)."
        )
    return None


def store_errors(method: Method) -> Method:
    """A `Lake` method whose object-store failures are told as such (see `store_problem`); on a
    local lake the method runs as it is."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if self.is_local:
            return method(self, *args, **kwargs)
        try:
            return method(self, *args, **kwargs)
        except PipelineError:
            raise
        except Exception as exc:
            problem = store_problem(self.root, exc)
            if problem is None:
                raise
            raise problem from exc

    return guarded
