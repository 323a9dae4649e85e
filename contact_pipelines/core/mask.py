"""Masking of personal data for previews in logs and asset metadata.

``mask_email("ivan.petrenko@gmail.com") == "i***@g***.com"`` and
``mask_phone("+380671234567") == "+380*****4567"``: enough to recognise a
value you already know, not enough to learn one you do not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pyarrow as pa

from contact_pipelines.core.fields import CANONICAL_FIELDS
from contact_pipelines.core.mapping import synonym_for

_EMAIL_COLUMNS = {"email", "emails"}
_PHONE_COLUMNS = {"phone", "phones"}
# canonical columns whose values are personal; rejected rows' original values and
# messages quote the raw source values, so they count too
_PERSONAL_COLUMNS = {
    "first_name", "last_name", "birth_date", "address", "consent_ip", "original", "message",
}  # fmt: skip


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    local, at, domain = email.rpartition("@")
    if not at:
        return _mask_text(email)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    keep_start = 4 if phone.startswith("+") else 3
    if len(phone) <= keep_start + 4:
        return "*" * len(phone)
    return phone[:keep_start] + "*" * (len(phone) - keep_start - 4) + phone[-4:]


def mask_value(column: str, value: Any) -> Any:
    """Mask one value by what its column holds; lists and maps are masked item by item."""
    if value is None:
        return None
    if isinstance(value, list):
        return [mask_value(column, item) for item in value]
    if isinstance(value, dict):
        return {key: mask_value(column, item) for key, item in value.items()}
    kind = _column_kind(column)
    if kind in _EMAIL_COLUMNS:
        return mask_email(str(value))
    if kind in _PHONE_COLUMNS:
        return mask_phone(str(value))
    if kind in _PERSONAL_COLUMNS or "token" in kind:
        return _mask_text(str(value))
    return value


def mask_table(table: pa.Table, max_rows: int = 5) -> list[dict[str, Any]]:
    """The first ``max_rows`` rows as dicts, personal columns masked.

    Works on canonical tables and on raw ones: a raw header is read through the
    built-in synonyms, so "E-mail" or "Телефон" is masked like email or phone.
    """
    rows = table.slice(0, max_rows).to_pylist()
    return [{column: mask_value(column, value) for column, value in row.items()} for row in rows]


@lru_cache(maxsize=4096)
def _column_kind(column: str) -> str:
    """The canonical field a column holds: its own name, or what a raw header means."""
    if column in CANONICAL_FIELDS or column in _PERSONAL_COLUMNS or column in _EMAIL_COLUMNS:
        return column
    return synonym_for(column) or column.casefold()


def _mask_text(text: str) -> str:
    return f"{text[:1]}***" if text else text
