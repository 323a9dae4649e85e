"""Fault injection for the sandbox's vendor routes.

A spec string such as ``"429:0.05,5xx:0.1,drop:0.02,timeout:0.01,too_many_imports:0.1,retry_after:1"``
gives each fault's probability per request (``retry_after`` and ``timeout_s`` are settings,
not probabilities). Faults are drawn from a seeded RNG before the request touches any
state, so a faulted request never has an effect and a retry is always safe.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields
from enum import Enum


class Fault(Enum):
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"
    DROP = "drop"  # close the connection without an answer
    TIMEOUT = "timeout"  # answer nothing for timeout_s seconds, then close
    TOO_MANY_IMPORTS = "too_many_imports"  # Dotdigital import route only


@dataclass(frozen=True)
class FaultSpec:
    rate_limited: float = 0.0
    server_error: float = 0.0
    drop: float = 0.0
    timeout: float = 0.0
    too_many_imports: float = 0.0
    retry_after: float = 1.0  # seconds sent in Retry-After with an injected 429
    timeout_s: float = 3.0  # how long a "timeout" fault stays silent

    @classmethod
    def parse(cls, spec: str | FaultSpec | None) -> FaultSpec:
        if spec is None or isinstance(spec, FaultSpec):
            return spec or cls()
        aliases = {"429": "rate_limited", "5xx": "server_error"}
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, raw = item.partition(":")
            name = aliases.get(name.strip(), name.strip())
            if not sep or name not in known:
                raise ValueError(
                    f"fault spec item {item!r} is not NAME:VALUE with NAME one of "
                    "429, 5xx, drop, timeout, too_many_imports, retry_after, timeout_s"
                )
            try:
                values[name] = float(raw)
            except ValueError:
                raise ValueError(f"fault spec item {item!r}: {raw!r} is not a number") from None
        parsed = cls(**values)
        parsed._check_probabilities()
        return parsed

    def _check_probabilities(self) -> None:
        chances = self._chances()
        if (
            any(not 0.0 <= chance <= 1.0 for _, chance in chances)
            or sum(chance for _, chance in chances) > 1.0
        ):
            raise ValueError(f"fault probabilities must be in 0..1 and sum to at most 1: {self}")

    def _chances(self) -> list[tuple[Fault, float]]:
        return [
            (Fault.RATE_LIMITED, self.rate_limited),
            (Fault.SERVER_ERROR, self.server_error),
            (Fault.DROP, self.drop),
            (Fault.TIMEOUT, self.timeout),
            (Fault.TOO_MANY_IMPORTS, self.too_many_imports),
        ]

    def __str__(self) -> str:
        names = {"rate_limited": "429", "server_error": "5xx"}
        return ",".join(
            f"{names.get(f.name, f.name)}:{getattr(self, f.name):g}" for f in fields(self)
        )


class FaultInjector:
    """Draws at most one fault per request from a seeded RNG; thread-safe."""

    def __init__(self, spec: str | FaultSpec | None, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.spec = FaultSpec.parse(spec)

    def set(self, spec: str | FaultSpec | None) -> None:
        parsed = FaultSpec.parse(spec)
        with self._lock:
            self.spec = parsed

    def draw(self, can_be_too_many_imports: bool) -> Fault | None:
        with self._lock:
            roll = self._rng.random()
            chances = self.spec._chances()
        for fault, chance in chances:
            if roll < chance:
                if fault is Fault.TOO_MANY_IMPORTS and not can_be_too_many_imports:
                    return None
                return fault
            roll -= chance
        return None

    def server_error_status(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))
