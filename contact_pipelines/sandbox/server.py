"""One HTTP server on loopback serving the three vendor contracts under their prefixes,
plus a small JSON admin surface under ``/_sandbox/`` (never faulted, never authenticated:
it is for the tests and the CLI on the same machine).

Admin routes:
    GET  /_sandbox/health
    GET  /_sandbox/state/{vendor}       vendor-side state and the requests received
    GET  /_sandbox/contacts/{vendor}    GET /_sandbox/requests/{vendor}
    GET  /_sandbox/faults               POST /_sandbox/faults {"faults": "429:0.1,..."}
    POST /_sandbox/fields {"reteno": {"12345": "plan_type"}, "dotdigital": ["PLAN"], "pushtech": ["plan_type"]}
    POST /_sandbox/reset                forget contacts, imports and requests (fields stay)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .contract import ContractError, Timing, is_json_content_type
from .dotdigital import Dotdigital
from .faults import Fault, FaultInjector, FaultSpec
from .pushtech import Pushtech
from .reteno import Reteno
from .routing import Reply, Request, Route, Vendor

log = logging.getLogger(__name__)

VENDORS = ("reteno", "dotdigital", "pushtech")
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Credentials:
    """What the sandbox accepts. These defaults are the sandbox's own, not secrets."""

    reteno_api_key: str = "sandbox-reteno-key"
    dotdigital_user: str = "sandbox@example.com"
    dotdigital_password: str = "sandbox-password"
    pushtech_account_id: str = "sandbox-account"
    pushtech_token: str = "sandbox-pushtech-token"

    def __repr__(self) -> str:
        return "Credentials(...)"


class _App:
    """Routes one request: admin surface, or vendor route -> fault -> auth -> handler."""

    def __init__(self, credentials: Credentials, faults: Any, seed: int, timing: Timing) -> None:
        self.vendors: dict[str, Vendor] = {
            "reteno": Reteno(credentials.reteno_api_key, timing),
            "dotdigital": Dotdigital(
                credentials.dotdigital_user, credentials.dotdigital_password, timing
            ),
            "pushtech": Pushtech(
                credentials.pushtech_account_id, credentials.pushtech_token, timing
            ),
        }
        self.faults = FaultInjector(faults, seed)
        self.stopping = threading.Event()
        self._requests_lock = threading.Lock()
        self.received: dict[str, list[dict]] = {name: [] for name in VENDORS}

    # ---- entry -------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        if path.startswith("/_sandbox/"):
            body = _read_body(handler, 10_000_000)
            status, answer = self._admin(handler.command, path, body)
            _send(handler, Reply(status, answer))
            return
        vendor = next((v for v in self.vendors.values() if _under(path, v.prefix)), None)
        if vendor is None:
            _read_body(handler, 10_000_000)
            bases = ", ".join(v.prefix for v in self.vendors.values())
            _send(handler, Reply(404, {"error": f"no vendor at {path}; bases are {bases}"}))
            return
        self._vendor_request(handler, vendor, path)

    def _vendor_request(self, handler: _Handler, vendor: Vendor, path: str) -> None:
        started = time.perf_counter()
        body = _read_body(handler, vendor.max_body_bytes)
        request = Request(
            handler.command, path[len(vendor.prefix) :] or "/", handler.headers, body or b""
        )
        reply, fault = self._answer(vendor, request, too_large=body is None)
        # Recorded before answering, so a client that has its answer also sees the record.
        self._record(vendor.name, request, path, reply, fault, started)
        if reply is None:  # a dropped connection or a timeout: no answer at all
            handler.close_connection = True
            _hang_up(handler)
        else:
            _send(handler, reply)

    def _answer(
        self, vendor: Vendor, request: Request, too_large: bool
    ) -> tuple[Reply | None, Fault | None]:
        if too_large:
            message = f"request body over {vendor.max_body_bytes} bytes; send smaller batches"
            return vendor.error(vendor.body_too_large_status, message), None
        route, reply = self._match(vendor, request)
        if route is None:
            return reply, None
        fault = self.faults.draw(route.starts_import)
        if fault is not None:
            return self._faulted(vendor, fault), fault
        return self._dispatch(vendor, route, request), None

    def _match(self, vendor: Vendor, request: Request) -> tuple[Route | None, Reply | None]:
        allowed: list[str] = []
        for candidate in vendor.routes:
            found = candidate.pattern.fullmatch(request.path)
            if found is None:
                continue
            if candidate.method == request.method:
                request.params = found.groupdict()
                return candidate, None
            allowed.append(candidate.method)
        if allowed:
            reply = vendor.error(
                405, f"{request.method} is not allowed here; use {', '.join(allowed)}"
            )
            reply.headers["Allow"] = ", ".join(allowed)
            return None, reply
        return None, vendor.not_found(request.path)

    def _faulted(self, vendor: Vendor, fault: Fault) -> Reply | None:
        spec = self.faults.spec
        if fault is Fault.RATE_LIMITED:
            reply = vendor.error(429, "rate limit exceeded; retry after the Retry-After delay")
            reply.headers["Retry-After"] = f"{spec.retry_after:g}"
            return reply
        if fault is Fault.SERVER_ERROR:
            return vendor.error(self.faults.server_error_status(), "temporary server error; retry")
        if fault is Fault.TOO_MANY_IMPORTS:
            return vendor.too_many_imports()
        if fault is Fault.TIMEOUT:
            self.stopping.wait(spec.timeout_s)
        return None

    def _dispatch(self, vendor: Vendor, route: Route, request: Request) -> Reply:
        denied = vendor.authenticate(request)
        if denied is not None:
            return denied
        wait = vendor.rate_limit.retry_after() if vendor.rate_limit else None
        if wait is not None:
            reply = vendor.error(429, "rate limit exceeded; retry after the Retry-After delay")
            reply.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return reply
        if route.json_body and not is_json_content_type(request.headers.get("Content-Type")):
            return vendor.unsupported_media()
        try:
            return route.handler(request)
        except ContractError as error:
            return vendor.contract_error(error)
        except Exception as error:  # a sandbox bug: answer 500, log without the (PII) message
            log.error(
                "sandbox %s %s failed with %s\n%s",
                request.method,
                vendor.prefix + request.path,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            return vendor.error(500, f"sandbox internal error ({type(error).__name__})")

    def _record(
        self,
        vendor: str,
        request: Request,
        path: str,
        reply: Reply | None,
        fault: Fault | None,
        started: float,
    ) -> None:
        counted = reply is not None and reply.n_contacts is not None
        n_contacts = reply.n_contacts if counted else request.count_contacts()
        entry = {
            "method": request.method,
            "path": path,
            "status": reply.status if reply else None,
            "n_contacts": n_contacts,
            "bytes": len(request.body),
            "fault": fault.value if fault else None,
            "seconds": round(time.perf_counter() - started, 6),
        }
        with self._requests_lock:
            self.received[vendor].append(entry)

    # ---- admin -------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]
        action = parts[0] if parts else ""
        vendor_name = parts[1] if len(parts) > 1 else None
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {"error": "admin body must be JSON"}
        if vendor_name is not None and vendor_name not in self.vendors:
            return 404, {
                "error": f"unknown vendor {vendor_name!r}; use one of {', '.join(VENDORS)}"
            }
        try:
            return self._admin_action(method, action, vendor_name, payload)
        except (ValueError, TypeError) as error:
            return 400, {"error": str(error)}

    def _admin_action(
        self, method: str, action: str, vendor_name: str | None, payload: Any
    ) -> tuple[int, Any]:
        if method == "GET" and action == "health":
            return 200, {"ok": True, "vendors": list(VENDORS)}
        if method == "GET" and vendor_name and action == "state":
            return 200, {
                **self.vendors[vendor_name].state(),
                "requests": self.requests(vendor_name),
            }
        if method == "GET" and vendor_name and action == "contacts":
            return 200, self.vendors[vendor_name].contacts()
        if method == "GET" and vendor_name and action == "requests":
            return 200, self.requests(vendor_name)
        if action == "faults" and method in ("GET", "POST"):
            if method == "POST":
                self.faults.set(payload.get("faults") or None)
            return 200, {"faults": str(self.faults.spec)}
        if method == "POST" and action == "fields":
            self.seed_fields(**payload)
            return 200, {"ok": True}
        if method == "POST" and action == "reset":
            self.reset()
            return 200, {"ok": True}
        return 404, {"error": f"no admin route {method} /_sandbox/{action}"}

    # ---- shared with SandboxServer -------------------------------------------

    def requests(self, vendor: str) -> list[dict]:
        with self._requests_lock:
            return [dict(entry) for entry in self.received[vendor]]

    def seed_fields(self, reteno: Any = None, dotdigital: Any = None, pushtech: Any = None) -> None:
        for name, fields in (
            ("reteno", reteno),
            ("dotdigital", dotdigital),
            ("pushtech", pushtech),
        ):
            if fields:
                self.vendors[name].seed_fields(fields)

    def reset(self) -> None:
        for vendor in self.vendors.values():
            vendor.reset()
        with self._requests_lock:
            for entries in self.received.values():
                entries.clear()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    """The whole body, or None (after draining it) when it is over ``limit`` bytes."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return _read_chunked(handler, limit)
    length = int(handler.headers.get("Content-Length") or 0)
    if length <= limit:
        return handler.rfile.read(length) if length else b""
    while length > 0:  # drain, so the client gets our answer rather than a broken pipe
        chunk = handler.rfile.read(min(length, _READ_CHUNK))
        if not chunk:
            break
        length -= len(chunk)
    return None


def _read_chunked(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    parts: list[bytes] = []
    total = 0
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            handler.rfile.readline()
            break
        total += size
        chunk = handler.rfile.read(size)
        if total <= limit:
            parts.append(chunk)
        handler.rfile.readline()
    return b"".join(parts) if total <= limit else None


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    no_content = reply.status == 204  # no body, no Content-Type/-Length (RFC 9110 15.3.5)
    payload = b"" if no_content else json.dumps(reply.body).encode()
    handler.send_response(reply.status)
    if not no_content:
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)


def _hang_up(handler: BaseHTTPRequestHandler) -> None:
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    timeout = 60  # idle keep-alive connections close after this
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def _serve(self) -> None:
        if self.server.app.stopping.is_set():
            self.close_connection = True
            _hang_up(self)
            return
        self.server.app.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # Paths hold no PII, but the request log belongs to the sandbox's requests(); stay quiet.
        log.debug("sandbox %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: _App) -> None:
        self.app = app
        super().__init__(address, _Handler)


class SandboxServer:
    """The vendor sandbox, serving on a background thread from construction until stop().

    >>> with SandboxServer(port=0) as sandbox:
    ...     os.environ.update(sandbox.env())
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: str | FaultSpec | None = None,
        seed: int = 0,
        *,
        credentials: Credentials | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.credentials = credentials or Credentials()
        self.timing = timing or Timing()
        self._app = _App(self.credentials, faults, seed, self.timing)
        self._server = _Server((host, port), self._app)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_urls(self) -> dict[str, str]:
        return {name: self.url + vendor.prefix for name, vendor in self._app.vendors.items()}

    def env(self) -> dict[str, str]:
        bases = self.base_urls()
        creds = self.credentials
        return {
            "RETENO_API_URL": bases["reteno"],
            "RETENO_API_KEY": creds.reteno_api_key,
            "DOTDIGITAL_API_URL": bases["dotdigital"],
            "DOTDIGITAL_API_USER": creds.dotdigital_user,
            "DOTDIGITAL_API_PASSWORD": creds.dotdigital_password,
            "PUSHTECH_API_URL": bases["pushtech"],
            "PUSHTECH_ACCOUNT_ID": creds.pushtech_account_id,
            "PUSHTECH_API_TOKEN": creds.pushtech_token,
        }

    def seed_fields(
        self,
        reteno: dict[int, str] | None = None,
        dotdigital: list[str] | dict[str, str] | None = None,
        pushtech: list[str] | dict[str, str] | None = None,
    ) -> None:
        """Fields that exist "at the vendor". Reteno: {id: name}; Dotdigital: names (String)
        or {name: type}; Pushtech: names (string) or {name: type}."""
        self._app.seed_fields(reteno, dotdigital, pushtech)

    def contacts(self, vendor: str) -> list[dict]:
        return self._vendor(vendor).contacts()

    def state(self, vendor: str) -> dict:
        return self._vendor(vendor).state()

    def requests(self, vendor: str) -> list[dict]:
        self._vendor(vendor)
        return self._app.requests(vendor)

    def webhooks(self) -> list[dict]:
        """Pushtech webhook delivery attempts: bulk_id, url, attempt, status."""
        return self.state("pushtech")["webhooks"]

    @property
    def faults(self) -> FaultSpec:
        return self._app.faults.spec

    def set_faults(self, faults: str | FaultSpec | None) -> None:
        self._app.faults.set(faults)

    def reset(self) -> None:
        self._app.reset()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for vendor in self._app.vendors.values():
            vendor.close()
        self._thread.join(timeout=5)

    def _vendor(self, name: str) -> Vendor:
        if name not in self._app.vendors:
            raise KeyError(f"unknown vendor {name!r}; use one of {', '.join(VENDORS)}")
        return self._app.vendors[name]

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r})"


def serve(
    host: str = "127.0.0.1", port: int = 8765, faults: str | None = None, seed: int = 0
) -> None:
    """Run the sandbox in the foreground until Ctrl-C, printing where and how to call it."""
    sandbox = SandboxServer(host=host, port=port, faults=faults, seed=seed)
    print(f"vendor sandbox on {sandbox.url} (faults: {sandbox.faults})")
    print("export these to point the pipelines at it (sandbox credentials, not secrets):")
    for name, value in sandbox.env().items():
        print(f"  {name}={value}")
    print(f"state: {sandbox.url}/_sandbox/state/<vendor>; Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the sandbox")
    finally:
        sandbox.stop()
