"""The Pushtech completion-webhook receiver for a deployment with a public ``webhook_url``.

With ``vendors.pushtech.webhook_url`` set, each batch is sent with
``<webhook_url>/<batch_id>`` and the sync records the contacts the bulk accepted
(created or updated by ledger state) without waiting. Pushtech later POSTs the
per-contact results there; this server (reachable at that public URL, e.g.
behind a load balancer) verifies the signature and feeds them into the ledger:
a refused contact is marked ``rejected`` with Pushtech's error and loses its
hash, so the next sync offers it again; an accepted one gets its Pushtech id.

Replies, per vendors.md: 200 accepted; 406 refused for good (bad signature,
another account, a batch this ledger never sent); 503 when the sync has not
recorded the batch yet, so Pushtech retries later (5 min, then up to ~4 h).
Logs name the batch and counts only: never the body (PII) or the secret.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from contact_pipelines.core.delivery.ledger import Ledger
from contact_pipelines.core.delivery.webhook import MAX_BODY_BYTES, signature
from contact_pipelines.core.vendors import pushtech
from contact_pipelines.core.vendors.base import BatchHandle, mask_text

log = logging.getLogger(__name__)

ACCEPTED, REFUSED, RETRY_LATER, TOO_LARGE = 200, 406, 503, 413
LEDGER_ENV, SECRET_ENV, ACCOUNT_ENV = (
    "CONTACT_PIPELINES_LEDGER_URL",
    "PUSHTECH_API_TOKEN",
    "PUSHTECH_ACCOUNT_ID",
)


class WebhookConfigError(RuntimeError):
    """The receiver lacks its ledger URL or the Pushtech secret; the message names the variable."""


class WebhookApp:
    """Verifies one delivery and applies it to the ledger; no HTTP in here, so it is testable."""

    def __init__(self, ledger: Ledger, secret: str, account_id: str | None = None):
        self.ledger = ledger
        self._secret = secret
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"WebhookApp({self.ledger!r}, account_id={self.account_id!r})"

    def handle(self, path: str, authorization: str | None, raw: bytes) -> int:
        """The HTTP status for a POST of ``raw`` to ``.../<batch_id>``."""
        batch_id = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        delivery = self._verified(authorization, raw)
        if delivery is None:
            log.warning("pushtech webhook for batch %s refused: bad signature or body", batch_id)
            return REFUSED
        batch = self.ledger.webhook_batch(batch_id)
        if batch is None:
            log.warning("pushtech webhook for unknown batch %s refused", batch_id)
            return REFUSED
        vendor, status, lookup = batch
        if status == "in_flight":
            return RETRY_LATER  # the sync records the batch first; Pushtech will retry
        if status == "done":
            self._apply(vendor, batch_id, lookup, delivery)
        return ACCEPTED  # an abandoned batch's contacts are re-sent anyway

    def _verified(self, authorization: str | None, raw: bytes) -> dict | None:
        try:
            delivery = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(delivery, dict) or not authorization:
            return None
        expected = signature(self._secret, delivery.get("timestamp", ""), delivery.get("token", ""))
        if not hmac.compare_digest(authorization.strip().lower(), expected):
            return None
        if self.account_id and str(delivery.get("account_id")) != self.account_id:
            return None
        return delivery

    def _apply(self, vendor: str, batch_id: str, lookup: dict[str, str], delivery: dict) -> None:
        handle = BatchHandle(batch_id, None, sorted(set(lookup.values())), lookup)
        outcomes = pushtech.webhook_outcomes(handle, delivery)
        vendor_ids = {
            key: outcome.vendor_id
            for key, outcome in outcomes.items()
            if outcome.outcome != "rejected" and outcome.vendor_id is not None
        }
        rejected = {  # vendor messages quote the email or phone they refused: masked
            key: mask_text(outcome.error) or "pushtech: failed"
            for key, outcome in outcomes.items()
            if outcome.outcome == "rejected"
        }
        self.ledger.apply_webhook(vendor, batch_id, vendor_ids, rejected)
        log.info(
            "pushtech webhook for batch %s: %d accepted, %d rejected",
            batch_id,
            len(vendor_ids),
            len(rejected),
        )


class WebhookServer:
    """``WebhookApp`` over HTTP on a background thread; a context manager."""

    def __init__(self, app: WebhookApp, host: str = "0.0.0.0", port: int = 8787):
        self.app = app
        self._server = ThreadingHTTPServer((host, port), _handler_class(app))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pushtech-webhook-app", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __repr__(self) -> str:
        return f"WebhookServer({self.url!r})"

    def start(self) -> WebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler_class(app: WebhookApp):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                status = TOO_LARGE
            else:
                raw = self.rfile.read(length)
                status = app.handle(self.path, self.headers.get("Authorization"), raw)
            self._reply(status)

        def do_GET(self):  # noqa: N802
            self._reply(200)  # health check for the load balancer

        def _reply(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # access logs would repeat paths only; stay quiet
            return

    return Handler


def build_app(
    ledger_url: str | None = None, secret: str | None = None, account_id: str | None = None
) -> WebhookApp:
    """A WebhookApp from arguments, else CONTACT_PIPELINES_LEDGER_URL, PUSHTECH_API_TOKEN
    and PUSHTECH_ACCOUNT_ID (the same variables the sync uses)."""
    ledger_url = ledger_url or os.environ.get(LEDGER_ENV)
    secret = secret or os.environ.get(SECRET_ENV)
    account_id = account_id or os.environ.get(ACCOUNT_ENV) or None
    if not ledger_url:
        raise WebhookConfigError(
            f"no ledger: pass ledger_url or set {LEDGER_ENV} to the ledger the syncs write"
        )
    if not secret:
        raise WebhookConfigError(
            f"no Pushtech secret: set {SECRET_ENV} (webhooks are signed with it)"
        )
    return WebhookApp(Ledger(ledger_url), secret, account_id)


def serve_webhook(
    host: str = "0.0.0.0",
    port: int = 8787,
    *,
    ledger_url: str | None = None,
    secret: str | None = None,
    account_id: str | None = None,
) -> None:
    """Serve the receiver in the foreground until Ctrl-C (see the module docstring).

    Point ``vendors.pushtech.webhook_url`` at this server's public address; any
    path prefix works, the last path segment is the batch id.
    """
    app = build_app(ledger_url, secret, account_id)
    server = WebhookServer(app, host, port)
    print(f"pushtech webhook receiver on {server.url}, ledger {app.ledger!r}; Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping the webhook receiver")
    finally:
        server.stop()
        app.ledger.close()
