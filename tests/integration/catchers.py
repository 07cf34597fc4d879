"""Real servers on loopback that catch what the notifier sends: SMTP (aiosmtpd) and a webhook
(http.server). Each records what it received; nothing leaves the machine."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port


@dataclass
class Caught:
    messages: list = field(default_factory=list)  # email.message.EmailMessage or dict (webhook JSON)
    logins: list = field(default_factory=list)  # (login, password) pairs the SMTP server accepted
    port: int = 0

    def wait(self, count: int = 1, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.messages)


@dataclass
class Hold:
    """Make the SMTP catcher keep its first message waiting: `arrived` is set when it is in,
    and the sender gets no answer until `release` is set (a slow server, deterministically)."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def smtp_catcher(
    login: str | None = None, password: str | None = None, port: int | None = None, hold: Hold | None = None
):
    """An SMTP server on a (free) loopback port; with login/password it requires AUTH (no TLS);
    with `hold` the first message waits for `hold.release` before it is accepted."""
    import asyncio

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    caught = Caught(port=port or free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            if hold is not None and not hold.arrived.is_set():
                hold.arrived.set()
                await asyncio.get_running_loop().run_in_executor(None, hold.release.wait, 600)
            caught.messages.append(message)
            return "250 Message accepted"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == login
            and auth_data.password.decode() == password
        )
        if ok:
            caught.logins.append((login, password))
        return AuthResult(success=ok)

    kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False} if login else {}
    controller = Controller(Handler(), hostname="127.0.0.1", port=caught.port, **kwargs)
    controller.start()
    try:
        yield caught
    finally:
        controller.stop()


@contextmanager
def webhook_catcher(status: int = 200):
    """An HTTP server on a free loopback port recording every POSTed JSON body."""
    caught = Caught(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            caught.messages.append(
                {"path": self.path, "content_type": self.headers.get("Content-Type"), "json": json.loads(body)}
            )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", caught.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield caught
    finally:
        server.shutdown()
        server.server_close()
