"""An HTTP client for vendor APIs: pooled connections, timeouts and retries.

Retries (tenacity) cover what is worth retrying: 429, 5xx, timeouts and
dropped connections. The wait is exponential with jitter, and never shorter
than the server's ``Retry-After``. A non-retryable 4xx raises
``VendorRequestError`` carrying the vendor's own message. Auth headers are
set on the ``httpx.Client`` and never copied into an exception or a log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_JSON_HEADERS = {"Content-Type": "application/json"}


def dumps(body) -> bytes:
    """Compact UTF-8 JSON: what goes on the wire, and what batch byte limits count.

    orjson writes the same bytes as ``json.dumps(ensure_ascii=False, separators=(",",
    ":"))`` for the JSON types payloads hold, about ten times faster."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8  # for 5xx, timeouts and dropped connections
    max_total_seconds: float = 1800.0  # give up on one call after this long (429s included)
    initial_wait: float = 0.5
    max_wait: float = 60.0


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask for an async import's status, and for how long."""

    initial_interval: float = 0.2
    max_interval: float = 5.0
    timeout: float = 3600.0
    webhook_timeout: float = 30.0  # Pushtech: wait this long for the completion webhook


class VendorRequestError(RuntimeError):
    """The vendor refused a request with a non-retryable status (4xx)."""

    def __init__(self, vendor: str, method: str, path: str, status: int, message: str):
        self.vendor, self.status, self.vendor_message = vendor, status, message
        super().__init__(f"{vendor} {method} {path} answered {status}: {message}")


class VendorUnavailableError(RuntimeError):
    """A call still failed after every retry; re-running the sync resumes."""


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response):
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def vendor_message(response: httpx.Response) -> str:
    """The vendor's explanation from an error body, short and without headers."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("errorMessage", "error", "description", "message", "errorCode"):
            if body.get(key):
                code = body.get("errorCode")
                text = str(body[key])
                return f"{code}: {text}" if code and key != "errorCode" else text
    return json.dumps(body)[:300]


def retry_after_seconds(response: httpx.Response | None) -> float:
    """Seconds from a Retry-After header (delta or HTTP date), 0 when absent."""
    if response is None:
        return 0.0
    value = response.headers.get("Retry-After")
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 0.0


class _stop_after_attempts_unless_throttled(stop_base):  # noqa: N801 (tenacity's naming)
    """Count attempts for failures, not for 429s: a throttled call (rate limit, or
    Dotdigital's 25 active imports) waits as long as max_total_seconds allows."""

    def __init__(self, max_attempts: int):
        self._over = stop_after_attempt(max_attempts)

    def __call__(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        throttled = isinstance(exc, _RetryableStatus) and exc.response.status_code == 429
        return not throttled and self._over(state)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _RetryableStatus | httpx.TimeoutException | httpx.TransportError)


class VendorHttp:
    """One vendor's pooled HTTP client with retries. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 32,
    ):
        self.vendor = vendor
        self.retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(max_connections=max_connections),
        )

    def __repr__(self) -> str:
        return f"VendorHttp({self.vendor!r}, {str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VendorHttp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, json_body=None, content: bytes | None = None
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise VendorRequestError.

        ``content`` is a body already serialized as JSON (the batch bodies are joined
        from contacts serialized once), ``json_body`` one to serialize here."""
        if content is None and json_body is not None:
            content = dumps(json_body)
        policy = self.retry
        backoff = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            response = exc.response if isinstance(exc, _RetryableStatus) else None
            return max(backoff(state), retry_after_seconds(response))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s %s %s failed (%s), retry %d of %d",
                self.vendor,
                method,
                path,
                exc,
                state.attempt_number,
                policy.max_attempts - 1,
            )

        retrying = Retrying(
            retry=retry_if_exception(_is_retryable),
            wait=wait,
            stop=_stop_after_attempts_unless_throttled(policy.max_attempts)
            | stop_after_delay(policy.max_total_seconds),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._send_once, method, path, content)
        except _RetryableStatus as exc:
            raise VendorUnavailableError(
                f"{self.vendor} {method} {path} still answered {exc.response.status_code} "
                f"({vendor_message(exc.response)}) after {policy.max_attempts} attempts; "
                "re-run the sync later, it resumes where it stopped"
            ) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise VendorUnavailableError(
                f"{self.vendor} {method} {path} failed after {policy.max_attempts} attempts "
                f"({type(exc).__name__}); check the network and the API URL, then re-run"
            ) from None

    def _send_once(self, method: str, path: str, content: bytes | None) -> httpx.Response:
        if content is None:
            response = self._client.request(method, path)
        else:
            # our own compact UTF-8 form, the one batching measured against the byte limit
            response = self._client.request(method, path, content=content, headers=_JSON_HEADERS)
        if response.status_code in RETRYABLE_STATUSES:
            response.read()
            raise _RetryableStatus(response)
        if response.status_code >= 400:
            raise VendorRequestError(
                self.vendor, method, path, response.status_code, vendor_message(response)
            )
        return response
