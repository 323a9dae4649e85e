"""Strict JSON-shape checks and value rules shared by the three sandbox vendors.

Written from vendors.md alone: nothing here is shared with the vendor clients,
so a client and the sandbox cannot err together.

A *check* is a function ``check(value, path)`` that raises ``ContractError``
when ``value`` breaks the contract. ``path`` is a nested tuple built lazily
(``(parent, key)``) so the hot path never formats strings; it is only turned
into ``contacts[3].channels[0].type`` when an error is raised.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

Check = Callable[[Any, Any], None]


class ContractError(Exception):
    """A request broke the vendor contract as a whole (answered 400)."""

    def __init__(self, path: Any, problem: str, code: str | None = None) -> None:
        self.where = format_path(path)
        self.problem = problem
        self.code = code
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


def format_path(path: Any) -> str:
    parts: list[str] = []
    while isinstance(path, tuple):
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    if path:
        parts.append(str(path))
    return "".join(reversed(parts)).lstrip(".")


def _type_check(expected: type, label: str) -> Check:
    def check(value: Any, path: Any) -> None:
        # type() rather than isinstance(): bool is an int subclass, and true is not a number here.
        if type(value) is not expected:
            raise ContractError(path, f"must be {label}, got {_json_type(value)}")

    return check


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


STRING = _type_check(str, "a string")
INTEGER = _type_check(int, "an integer")
BOOLEAN = _type_check(bool, "a boolean")


def number(value: Any, path: Any) -> None:
    if type(value) not in (int, float):
        raise ContractError(path, f"must be a number, got {_json_type(value)}")


def scalar(value: Any, path: Any) -> None:
    if type(value) not in (str, int, float, bool):
        raise ContractError(path, f"must be a string, number or boolean, got {_json_type(value)}")


def one_of(*allowed: str) -> Check:
    allowed_set = frozenset(allowed)

    def check(value: Any, path: Any) -> None:
        STRING(value, path)
        if value not in allowed_set:
            raise ContractError(path, f"{value!r} is not one of {', '.join(allowed)}")

    return check


def list_of(item: Check, min_items: int = 0, max_items: int | None = None) -> Check:
    def check(value: Any, path: Any) -> None:
        if type(value) is not list:
            raise ContractError(path, f"must be an array, got {_json_type(value)}")
        if len(value) < min_items:
            raise ContractError(path, f"must hold at least {min_items} item(s), got {len(value)}")
        if max_items is not None and len(value) > max_items:
            raise ContractError(path, f"must hold at most {max_items} item(s), got {len(value)}")
        for index, element in enumerate(value):
            if element is None:
                raise ContractError((path, index), "is null; omit absent values instead")
            item(element, (path, index))

    return check


def obj(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    """An object holding only ``fields``; unknown keys and nulls are violations."""

    def check(value: Any, path: Any) -> None:
        if type(value) is not dict:
            raise ContractError(path, f"must be an object, got {_json_type(value)}")
        for key, element in value.items():
            field_check = fields.get(key)
            if field_check is None:
                raise ContractError(
                    (path, key), f"unknown key {key!r}; allowed keys: {', '.join(sorted(fields))}"
                )
            if element is None:
                raise ContractError((path, key), "is null; omit absent values instead of null")
            field_check(element, (path, key))
        for key in required:
            if key not in value:
                raise ContractError((path, key), "is required")

    return check


def map_of(item: Check, allow_null: bool = False) -> Check:
    """An object with free keys (names checked elsewhere) and values of one kind."""

    def check(value: Any, path: Any) -> None:
        if type(value) is not dict:
            raise ContractError(path, f"must be an object, got {_json_type(value)}")
        for key, element in value.items():
            if element is None:
                if allow_null:
                    continue
                raise ContractError((path, key), "is null; omit absent values instead of null")
            item(element, (path, key))

    return check


def anything_but_null(value: Any, path: Any) -> None:
    """For documented keys whose inner shape vendors.md leaves open: still no nulls."""
    if value is None:
        raise ContractError(path, "is null; omit absent values instead of null")
    if type(value) is dict:
        for key, element in value.items():
            anything_but_null(element, (path, key))
    elif type(value) is list:
        for index, element in enumerate(value):
            anything_but_null(element, (path, index))


# ---- value rules ----------------------------------------------------------------

_EMAIL = re.compile(
    r"[^\s@\"(),:;<>\[\\\].]+(?:\.[^\s@\"(),:;<>\[\\\].]+)*"  # local part, no empty dot segments
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
)


def is_valid_email(value: str) -> bool:
    return len(value) <= 254 and value.find("@") <= 64 and _EMAIL.fullmatch(value) is not None


def is_valid_phone(international: str) -> bool:
    """``international`` is ``+`` and digits, checked against libphonenumber's general
    pattern for the calling code's regions.

    Catches what clients get wrong (a missing or wrong country code, a trunk prefix kept
    after it as in ``+4407712...``, wrong lengths) at ~2 us a number: the full
    ``is_valid_number`` costs ~30 us, too much for 1M-contact benchmarks.
    """
    digits = international[1:]
    if not international.startswith("+") or not digits.isdigit() or len(digits) > 15:
        return False
    # Calling codes are prefix-free: at most one of the 1-, 2- and 3-digit prefixes is one.
    for size in (1, 2, 3):
        patterns = _national_patterns(int(digits[:size]))
        if patterns:
            national = digits[size:]
            return any(pattern.fullmatch(national) for pattern in patterns)
    return False


@cache
def _national_patterns(calling_code: int) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
        general = metadata.general_desc if metadata else None
        if general is not None and general.national_number_pattern:
            patterns.append(re.compile(general.national_number_pattern))
    return tuple(patterns)


def is_iso_datetime(value: str) -> bool:
    if "T" not in value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# ---- auth -------------------------------------------------------------------------


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (compare_digest on str won't)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def is_json_content_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


# ---- async jobs -------------------------------------------------------------------


@dataclass
class Timing:
    """How fast the sandbox's asynchronous imports finish, and its rate limits.

    A job is finished once ``import_delay`` seconds have passed, or once it has been
    polled ``import_polls`` times already (so a client always sees at least one
    unfinished status when it polls at once). ``None`` for ``import_polls`` means
    time alone decides.

    Rate limits are calls per window per vendor, answered 429 with Retry-After and
    no effect: Reteno's documented 200 a second is on by default; Dotdigital's
    lowest tier (35 a minute) is off by default, as it would make benchmarks crawl.
    """

    import_delay: float = 0.05
    import_polls: int | None = 1
    webhook_retry_scale: float = 0.001  # the documented 5m..2h schedule, times this
    webhook_timeout: float = 5.0
    repeat_window: float = 60.0  # Reteno POST /contact answers 409 to a repeat within this
    reteno_calls_per_second: int | None = 200
    dotdigital_calls_per_minute: int | None = None


@dataclass
class AsyncJob:
    """Progress of one asynchronous import; ``poll`` returns 0 started, 1 running, 2 done."""

    timing: Timing
    created: float = field(default_factory=time.monotonic)
    polls: int = 0
    done: bool = False

    def is_done(self, now: float | None = None) -> bool:
        if not self.done:
            now = time.monotonic() if now is None else now
            polls_needed = self.timing.import_polls
            self.done = now - self.created >= self.timing.import_delay or (
                polls_needed is not None and self.polls >= polls_needed
            )
        return self.done

    def poll(self) -> int:
        if self.is_done():
            return 2
        self.polls += 1
        return 0 if self.polls == 1 else 1


class IdCounter:
    """Thread-safe increasing integers, for vendor contact ids."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1
            return value


class RateLimit:
    """At most ``calls`` per ``window`` seconds (sliding window); thread-safe."""

    def __init__(self, calls: int, window: float) -> None:
        self.calls = calls
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def retry_after(self) -> float | None:
        """None when this call is allowed (and counted), else seconds until one is."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) >= self.calls:
                return self.window - (now - self._times[0])
            self._times.append(now)
            return None
