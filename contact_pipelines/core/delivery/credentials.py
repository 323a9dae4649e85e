"""Vendor endpoints and secrets, read from the environment.

One small frozen dataclass per vendor. Secrets are masked in ``repr``/``str``
so a credentials object can be logged or shown in an error without leaking.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


class MissingSecretError(RuntimeError):
    """A vendor's environment variables are not set; the message names them."""


def _masked_repr(obj) -> str:
    parts = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        shown = "'***'" if item.metadata.get("secret") else repr(value)
        parts.append(f"{item.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _secret():
    return field(metadata={"secret": True})


class _Masked:
    def __repr__(self) -> str:
        return _masked_repr(self)

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class RetenoCredentials(_Masked):
    url: str
    api_key: str = _secret()


@dataclass(frozen=True, repr=False)
class DotdigitalCredentials(_Masked):
    url: str
    user: str
    password: str = _secret()


@dataclass(frozen=True, repr=False)
class PushtechCredentials(_Masked):
    url: str
    account_id: str
    api_token: str = _secret()


# vendor -> (credentials class, env var per dataclass field, in field order)
_ENV_VARS = {
    "reteno": (RetenoCredentials, ("RETENO_API_URL", "RETENO_API_KEY")),
    "dotdigital": (
        DotdigitalCredentials,
        ("DOTDIGITAL_API_URL", "DOTDIGITAL_API_USER", "DOTDIGITAL_API_PASSWORD"),
    ),
    "pushtech": (
        PushtechCredentials,
        ("PUSHTECH_API_URL", "PUSHTECH_ACCOUNT_ID", "PUSHTECH_API_TOKEN"),
    ),
}

Credentials = RetenoCredentials | DotdigitalCredentials | PushtechCredentials


def env_vars(vendor: str) -> tuple[str, ...]:
    """The environment variable names a vendor needs, in the dataclass's field order."""
    if vendor not in _ENV_VARS:
        raise ValueError(f"unknown vendor {vendor!r}: expected one of {sorted(_ENV_VARS)}")
    return _ENV_VARS[vendor][1]


def from_env(vendor: str, environ: Mapping[str, str] | None = None) -> Credentials:
    """Build a vendor's credentials from environment variables.

    Raises MissingSecretError naming every unset variable (never its value).
    """
    environ = os.environ if environ is None else environ
    names = env_vars(vendor)
    missing = [name for name in names if not (environ.get(name) or "").strip()]
    if missing:
        raise MissingSecretError(
            f"{vendor}: environment variable(s) {', '.join(missing)} not set; "
            "export them (or set them in the Dagster resource config) before syncing"
        )
    cls = _ENV_VARS[vendor][0]
    values = [environ[name].strip() for name in names]
    values[0] = values[0].rstrip("/")  # the base URL; documented paths are appended
    return cls(*values)
