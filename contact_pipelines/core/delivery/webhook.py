"""Pushtech's completion webhook, received on loopback.

``WebhookReceiver`` is a small threaded ``http.server`` on an ephemeral port.
Each batch is given ``<receiver.url>/<batch_id>`` as its ``webhook_url``, so a
delivery is tied to its batch by path. The ``Authorization`` header must be
the hex HMAC-SHA256 of ``timestamp + token`` keyed with the account secret:
a bad signature gets 406 (Pushtech stops retrying), a good one 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024 * 1024


def signature(secret: str, timestamp, token) -> str:
    message = f"{timestamp}{token}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class WebhookReceiver:
    """Collects signed webhook deliveries by batch id; use as a context manager."""

    def __init__(
        self, secret: str, account_id: str | None = None, host: str = "127.0.0.1", port: int = 0
    ):
        self._secret = secret
        self._account_id = account_id
        self._deliveries: dict[str, dict] = {}
        self._arrived = threading.Condition()
        self.rejected = 0  # deliveries refused for a bad signature or body
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pushtech-webhook", daemon=True
        )

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.url!r})"

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/pushtech-webhook"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, batch_id: str, timeout: float) -> dict | None:
        """The verified delivery for a batch, or None when none came within ``timeout`` s."""
        with self._arrived:
            self._arrived.wait_for(lambda: batch_id in self._deliveries, timeout=timeout)
            return self._deliveries.pop(batch_id, None)

    def _accept(self, path: str, headers, raw: bytes) -> int:
        batch_id = path.rstrip("/").rsplit("/", 1)[-1]
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 406
        if not isinstance(body, dict) or not self._signed(headers.get("Authorization"), body):
            return 406
        if self._account_id and str(body.get("account_id")) != self._account_id:
            return 406
        with self._arrived:
            self._deliveries[batch_id] = body
            self._arrived.notify_all()
        return 200

    def _signed(self, header: str | None, body: dict) -> bool:
        if not header:
            return False
        expected = signature(self._secret, body.get("timestamp", ""), body.get("token", ""))
        return hmac.compare_digest(header.strip().lower(), expected)

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                status = (
                    413
                    if length > MAX_BODY_BYTES
                    else receiver._accept(self.path, self.headers, self.rfile.read(length))
                )
                if status != 200:
                    receiver.rejected += 1
                    log.warning("pushtech webhook on %s refused with %d", self.path, status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):  # keep the default stderr access log quiet
                return

        return Handler
