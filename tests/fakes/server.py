"""A JSON API server on loopback for the CRM fakes: real HTTP, a request log, scripted faults.

The fakes stand in for Salesforce and HubSpot (third-party services), never for our own code: the
connectors talk to them over real sockets exactly as they would to the real APIs. Every request
is recorded (method, path, query, JSON body, headers) so tests can count calls and batch sizes.
A fault answers the n-th matching request with a given status, body and headers (a rate limit
mid-way through paging, a 5xx, an expired token).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: object
    headers: dict[str, str]


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)
    skip: int = 0  # matching requests answered normally before the fault starts
    times: int = 1  # how many matching requests get the fault
    seen: int = 0

    def applies(self, request: Request) -> bool:
        if request.method != self.method or self.path_part not in request.path:
            return False
        self.seen += 1
        return self.skip < self.seen <= self.skip + self.times


class JsonApi:
    """Base of a fake API: subclasses implement `route(request) -> (status, body, headers)`."""

    def __init__(self, token: str):
        self.token = token
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # Server -------------------------------------------------------------------------------------
    def start(self) -> int:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                body = json.loads(raw) if raw else None
                request = Request(self.command, parts.path, query, body, dict(self.headers.items()))
                status, payload, headers = api.answer(request)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> JsonApi:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # Requests -----------------------------------------------------------------------------------
    def fail(self, method: str, path_part: str, status: int, body: object, headers=None, skip=0, times=1) -> Fault:
        fault = Fault(method, path_part, status, body, dict(headers or {}), skip, times)
        self.faults.append(fault)
        return fault

    def answer(self, request: Request) -> tuple[int, object, dict[str, str]]:
        with self.lock:
            self.requests.append(request)
            for fault in self.faults:
                if fault.applies(request):
                    return fault.status, fault.body, fault.headers
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return self.unauthorized()
            try:
                return self.route(request)
            except ApiRefusal as refusal:
                return refusal.status, refusal.body, {}

    def calls(self, method: str | None = None, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if (method is None or r.method == method) and path_part in r.path]

    def unauthorized(self) -> tuple[int, object, dict[str, str]]:
        raise NotImplementedError

    def route(self, request: Request) -> tuple[int, object, dict[str, str]]:
        raise NotImplementedError


class ApiRefusal(Exception):
    def __init__(self, status: int, body: object):
        super().__init__(status)
        self.status, self.body = status, body
