"""Phones: parsed with phonenumbers into E.164, with the number type.

Rules, in order, for one value:

1. ``00`` at the start is the international prefix: it becomes ``+``.
2. Parse with the source's default region (none needed for ``+`` numbers)
   and keep the number only if phonenumbers says it is valid.
3. Spreadsheets often lose the ``+`` (``447700900123``, ``380671234567``):
   when step 2 fails and the value has no ``+``, try again with a ``+`` in
   front of its digits. A national number that is valid in the default region
   never reaches this step, so it is never misread as foreign.

Each distinct value of a chunk is read once. The plain shapes (digits with
spaces, dashes, dots, brackets, an optional ``+``) go through
:mod:`~contact_pipelines.core.normalize.phone_fast`, phonenumbers' own rules
and metadata applied to the whole column at once, with identical results;
the rest goes to phonenumbers, cached by (value, region), since it handles
only about 25k values a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from contact_pipelines.core.normalize import (
    Normalized,
    clean_strings,
    map_unique,
    present_mask,
    warning_where,
)
from contact_pipelines.core.normalize.phone_fast import fast_parse_phones

_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
# "380671234567.0": a number that went through a float column in a spreadsheet
_FLOAT_TAIL = re.compile(r"^(\d+)\.0+$")
_FORMATTING = re.compile(r"[\s().\-/]")


@dataclass(frozen=True)
class NormalizedPhones(Normalized):
    phone_type: pa.Array  # string: mobile, fixed_line, ... null where no valid phone


def normalize_phones(values: Any, default_region: str | None) -> NormalizedPhones:
    """Normalise a column of phones to E.164; invalid ones are null with ``invalid_phone``."""
    cleaned = clean_strings(values)
    region = default_region.upper() if default_region else None
    e164, phone_type = _parse_unique(cleaned, region)
    present = present_mask(cleaned)
    valid = pc.is_valid(e164)
    warnings = warning_where(pc.and_(present, pc.invert(valid)), "invalid_phone")
    return NormalizedPhones(e164, valid, present, warnings, phone_type)


def _parse_unique(cleaned: pa.Array, region: str | None) -> tuple[pa.Array, pa.Array]:
    """Each distinct value once: the vectorised path first, phonenumbers for the rest."""
    encoded = pc.dictionary_encode(cleaned)
    distinct = encoded.dictionary
    fast = fast_parse_phones(distinct, region)
    undecided = pc.invert(pa.array(fast.decided))
    slow_e164, slow_type = map_unique(
        pc.if_else(undecided, distinct, pa.scalar(None, pa.string())),
        lambda value: parse_phone(value, region),
        [pa.string(), pa.string()],
    )
    e164 = pc.if_else(undecided, slow_e164, fast.e164)
    phone_type = pc.if_else(undecided, slow_type, fast.phone_type)
    return pc.take(e164, encoded.indices), pc.take(phone_type, encoded.indices)


@lru_cache(maxsize=500_000)
def parse_phone(value: str, region: str | None) -> tuple[str | None, str | None]:
    """(E.164, number type) for one raw value, or (None, None) when not a valid number."""
    text = _FLOAT_TAIL.sub(r"\1", value.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    number = _valid_number(text, region)
    if number is None and not text.startswith("+"):
        digits = _FORMATTING.sub("", text)
        if digits.isdigit():
            number = _valid_number("+" + digits, None)
    if number is None:
        return None, None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")


def _valid_number(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None
