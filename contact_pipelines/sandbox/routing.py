"""The small request/reply model the sandbox vendors are written against."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from .contract import ContractError, RateLimit

_UNPARSED = object()


@dataclass
class Request:
    method: str
    path: str  # the part after the vendor's prefix, e.g. "/contacts"
    headers: Message
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    _parsed: Any = _UNPARSED

    def json(self) -> Any:
        """The body parsed once; a body that is not JSON breaks the contract."""
        if self._parsed is _UNPARSED:
            try:
                self._parsed = json.loads(self.body)
            except (ValueError, UnicodeDecodeError) as error:
                raise ContractError("body", f"is not valid JSON ({error})", "badJson") from None
        return self._parsed

    def count_contacts(self) -> int:
        parsed = self._parsed
        if type(parsed) is dict and type(parsed.get("contacts")) is list:
            return len(parsed["contacts"])
        return 0


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    n_contacts: int | None = None  # None: count the request body's "contacts"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request], Reply]
    json_body: bool = False  # needs Content-Type: application/json and a JSON body
    starts_import: bool = False  # where the too_many_imports fault may strike


def route(
    method: str,
    pattern: str,
    handler: Callable[[Request], Reply],
    json_body: bool = False,
    starts_import: bool = False,
) -> Route:
    return Route(method, re.compile(pattern), handler, json_body, starts_import)


class Vendor:
    """One vendor's contract: routes, auth, error shape, and vendor-side state."""

    name: str = ""
    prefix: str = ""
    max_body_bytes: int = 200_000_000  # the sandbox's own guard; vendors may be stricter
    body_too_large_status: int = 413

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: list[Route] = []
        self.rate_limit: RateLimit | None = None

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        raise NotImplementedError

    def authenticate(self, request: Request) -> Reply | None:
        """None when the request may proceed, else the vendor's 401."""
        raise NotImplementedError

    def contract_error(self, error: ContractError) -> Reply:
        return self.error(400, str(error), error.code)

    def not_found(self, path: str) -> Reply:
        return self.error(404, f"no route {path} at {self.name}")

    def too_many_imports(self) -> Reply:
        return self.error(429, "too many active imports; wait for one to finish")

    def unsupported_media(self) -> Reply:
        return self.error(415, "Content-Type must be application/json")

    def contacts(self) -> list[dict]:
        raise NotImplementedError

    def state(self) -> dict:
        raise NotImplementedError

    def seed_fields(self, fields: Any) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop background work (timers, webhooks)."""
