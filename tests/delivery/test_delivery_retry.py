"""The retrying HTTP client against a scripted local server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contact_pipelines.core.delivery.retry import (
    RetryPolicy,
    VendorHttp,
    VendorRequestError,
    VendorUnavailableError,
)

FAST = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)


class ScriptedServer:
    """Answers each request with the next scripted (status, headers, body); 'drop' closes the socket."""

    def __init__(self, script):
        self.script = list(script)
        self.seen: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.seen.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                step = server.script.pop(0) if server.script else (200, {}, {"ok": True})
                if step == "drop":
                    self.connection.close()
                    return
                status, headers, payload = step
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(*script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_retries_429_5xx_and_dropped_connections_then_succeeds(scripted):
    server = scripted(
        (503, {}, {}), "drop", (429, {"Retry-After": "0.3"}, {}), (200, {}, {"id": 1})
    )
    with VendorHttp(
        "test", server.url, headers={"Authorization": "Token token=s3cret"}, retry=FAST
    ) as http:
        response = http.request("POST", "/contacts", json_body={"a": 1})
    assert response.json() == {"id": 1}
    assert len(server.seen) == 4
    assert server.seen[3]["at"] - server.seen[2]["at"] >= 0.29  # honoured Retry-After
    assert all(json.loads(s["body"]) == {"a": 1} for s in server.seen)


def test_client_error_carries_vendor_message_not_secrets(scripted):
    server = scripted((400, {}, {"errorCode": "contacts:badJson", "description": "bad body"}))
    with (
        VendorHttp(
            "dotdigital", server.url, headers={"Authorization": "Token token=s3cret"}, retry=FAST
        ) as http,
        pytest.raises(VendorRequestError) as err,
    ):
        http.request("PUT", "/contacts/v3/import", json_body={})
    assert err.value.status == 400
    assert "contacts:badJson: bad body" in str(err.value)
    assert len(server.seen) == 1  # a 4xx is not retried
    assert "s3cret" not in str(err.value) and "s3cret" not in repr(http)


def test_gives_up_after_max_attempts(scripted):
    server = scripted(*[(500, {}, {"error": "boom"})] * 5)
    with (
        VendorHttp("reteno", server.url, retry=FAST) as http,
        pytest.raises(VendorUnavailableError, match="500"),
    ):
        http.request("GET", "/importstatus/x")
    assert len(server.seen) == FAST.max_attempts


def test_throttling_does_not_use_up_the_attempts(scripted):
    throttled = (429, {"Retry-After": "0"}, {"errorCode": "contacts:tooManyActiveImports"})
    server = scripted(*[throttled] * 5, (202, {}, {"importId": "x"}))
    policy = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)
    with VendorHttp("dotdigital", server.url, retry=policy) as http:
        assert http.request("PUT", "/contacts/v3/import", json_body={}).json() == {"importId": "x"}
    assert len(server.seen) == 6
