"""A real S3-protocol server on loopback for the lake tests: moto's server mode, in a process of its
own on a free port (tests/conftest.py starts one per test session: fixtures `s3_server`, `s3_lake`).

The lake reaches it the way a deployment reaches MinIO or S3: the standard AWS variables
(AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), which s3fs (botocore)
reads. The secret is random per session, so a test can look for it where it must never appear.
When moto is not installed or its server does not start, the tests that need it skip saying why
(and fail under CI=true).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, port_open, require_service

REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint: str
    log: Path
    key_id: str = "engagement-test"
    secret: str = field(default_factory=lambda: f"test-secret-{secrets.token_hex(12)}")

    def environment(self) -> dict[str, str]:
        """What a process needs to reach the server: the standard AWS variables, nothing else."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def new_bucket(self, prefix: str = "lake") -> str:
        """A new empty bucket; returns its name."""
        import fsspec

        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        fs = fsspec.filesystem(
            "s3",
            key=self.key_id,
            secret=self.secret,
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
        )
        fs.mkdir(name)
        return name


@contextlib.contextmanager
def moto_server(log: Path, timeout: float = 30.0) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 (a process of its own, stopped at the end)."""
    try:
        import moto.server  # noqa: F401 - only to tell "not installed" from "did not start"
    except ImportError as exc:
        require_service(False, f"moto's S3 server is not installed ({exc}); pip install -r requirements-dev.txt")
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
    try:
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-1500:]
                require_service(False, f"moto's S3 server did not start on 127.0.0.1:{port}:\n{tail}")
            time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
