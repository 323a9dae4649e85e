"""Dates and timestamps into ISO-8601 text.

``birth_date`` becomes ``YYYY-MM-DD``; ``consent_date`` and ``updated_at``
become ``YYYY-MM-DDTHH:MM:SSZ`` (UTC; a value without an offset is taken as
UTC). Accepted shapes, tried in order on the values still unparsed:

- ISO and ``yyyy/mm/dd``, ``yyyy.mm.dd``, with an optional time
  (``T`` or space, ``hh:mm[:ss[.fff]]``) and offset (``Z``, ``+02:00``);
- ``dd.mm.yyyy`` (dots are always day first);
- ``dd/mm/yyyy`` or ``mm/dd/yyyy`` (also with ``-``): the source's
  ``date_order`` decides; without one the column decides when it is
  unambiguous (a first part above 12 means day first, a second part above
  12 means month first), else day first;
- numbers: 1..60000 is an Excel serial (days since 1899-12-30, a fraction
  is the time of day); any other number is a unix timestamp, in seconds, or
  in milliseconds from 1e11 up.

Impossible dates (31.02.1990), unknown shapes and values outside
1900..2099 (birth dates also not in the future) are dropped with the warning
``invalid_<field>``. Components are cut out with one regex per shape and
checked by ``pyarrow.compute.strptime`` on a canonical string, whose result
must give back the same day and month (strptime alone rolls 31.02 into March).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.normalize import Normalized, clean_strings, present_mask, warning_where

DateKind = Literal["date", "timestamp"]
DateOrder = Literal["dmy", "mdy", "ymd"]

_TIME = (
    r"(?:[T ]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<tz>Z|UTC|[+-]\d{2}:?\d{2})?"
)
_YMD = rf"^(?P<year>\d{{4}})[-/.](?P<month>\d{{1,2}})[-/.](?P<day>\d{{1,2}}){_TIME}$"
_DMY_DOTS = rf"^(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}}){_TIME}$"
_DMY = rf"^(?P<day>\d{{1,2}})[/-](?P<month>\d{{1,2}})[/-](?P<year>\d{{4}}){_TIME}$"
_MDY = rf"^(?P<month>\d{{1,2}})[/-](?P<day>\d{{1,2}})[/-](?P<year>\d{{4}}){_TIME}$"
_SLASHED = r"^(?P<first>\d{1,2})[/-](?P<second>\d{1,2})[/-]\d{4}"
_NUMBER = r"^-?\d+(?:\.\d+)?$"

_EXCEL_SERIAL_MAX = 60_000
_EXCEL_EPOCH_OFFSET_DAYS = 25_569  # 1899-12-30 .. 1970-01-01
_MILLISECONDS_FROM = 1e11
_EARLIEST = dt.datetime(1900, 1, 1)
_LATEST = dt.datetime(2100, 1, 1)
_OUTPUT_FORMAT = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%dT%H:%M:%SZ"}
_NULL_TIMESTAMP = pa.scalar(None, pa.timestamp("s"))


def normalize_dates(
    values: Any,
    kind: DateKind = "date",
    date_order: DateOrder | None = None,
    field: str = "birth_date",
    today: dt.date | None = None,
) -> Normalized:
    """Parse a column of dates; ``kind`` picks the output shape."""
    cleaned = clean_strings(values)
    # exports repeat dates a lot: parse each distinct value once, then spread back
    encoded = pc.dictionary_encode(cleaned)
    # a birth date keeps its own calendar day: "1990-01-02T00:00+02:00" is the 2nd
    parsed = parse_timestamps(encoded.dictionary, date_order, apply_offsets=kind == "timestamp")
    parsed = _plausible(parsed, kind, today or dt.datetime.now(dt.UTC).date())
    texts = pc.take(pc.strftime(parsed, format=_OUTPUT_FORMAT[kind]), encoded.indices)
    present = present_mask(cleaned)
    valid = pc.is_valid(texts)
    warnings = warning_where(pc.and_(present, pc.invert(valid)), f"invalid_{field}")
    return Normalized(texts, valid, present, warnings)


def parse_timestamps(
    values: pa.Array, date_order: DateOrder | None = None, apply_offsets: bool = True
) -> pa.Array:
    """``timestamp[s]`` (UTC) per value, null where no accepted shape fits."""
    day_first = _day_first(values, date_order)
    patterns = [_YMD, _DMY_DOTS, _DMY if day_first else _MDY]
    result = pa.nulls(len(values), pa.timestamp("s"))
    for pattern in patterns:
        pending = pc.if_else(pc.is_valid(result), pa.scalar(None, pa.string()), values)
        result = pc.coalesce(result, _parse_pattern(pending, pattern, apply_offsets))
    pending = pc.if_else(pc.is_valid(result), pa.scalar(None, pa.string()), values)
    return pc.coalesce(result, _parse_number(pending))


def _day_first(values: pa.Array, date_order: DateOrder | None) -> bool:
    if date_order is not None:
        return date_order != "mdy"
    parts = pc.extract_regex(values, _SLASHED)
    first_over_12 = pc.any(pc.greater(_to_int(parts.field("first")), 12)).as_py()
    second_over_12 = pc.any(pc.greater(_to_int(parts.field("second")), 12)).as_py()
    return not (second_over_12 and not first_over_12)


def _parse_pattern(values: pa.Array, pattern: str, apply_offsets: bool) -> pa.Array:
    parts = pc.extract_regex(values, pattern)
    year, month, day = (_to_int(parts.field(name)) for name in ("year", "month", "day"))
    hour, minute, second = (
        pc.fill_null(_to_int(parts.field(name)), 0) for name in ("hour", "minute", "second")
    )
    canonical = pc.binary_join_element_wise(
        *(_padded(component, width) for component, width in ((year, 4), (month, 2), (day, 2))),
        *(_padded(component, 2) for component in (hour, minute, second)),
        "",
    )
    parsed = pc.strptime(canonical, format="%Y%m%d%H%M%S", unit="s", error_is_null=True)
    # strptime rolls 31.02 over into March: keep only what reads back the same
    same = pc.and_(
        pc.and_(pc.equal(pc.day(parsed), day), pc.equal(pc.month(parsed), month)),
        pc.and_(pc.equal(pc.hour(parsed), hour), pc.equal(pc.minute(parsed), minute)),
    )
    parsed = pc.if_else(pc.fill_null(same, False), parsed, _NULL_TIMESTAMP)
    return pc.subtract(parsed, _offsets(parts.field("tz"))) if apply_offsets else parsed


def _parse_number(values: pa.Array) -> pa.Array:
    is_number = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
    numbers = pc.cast(pc.if_else(is_number, values, pa.scalar(None, pa.string())), pa.float64())
    is_serial = pc.and_(pc.greater_equal(numbers, 1), pc.less_equal(numbers, _EXCEL_SERIAL_MAX))
    # a bare year (1990) is not a date; as a serial it would read as 1905-06-12
    looks_like_year = pc.and_(
        pc.equal(pc.floor(numbers), numbers),
        pc.and_(pc.greater_equal(numbers, 1900), pc.less_equal(numbers, 2100)),
    )
    numbers = pc.if_else(looks_like_year, pa.scalar(None, pa.float64()), numbers)
    is_millis = pc.greater_equal(pc.abs(numbers), _MILLISECONDS_FROM)
    serial_seconds = pc.multiply(pc.subtract(numbers, _EXCEL_EPOCH_OFFSET_DAYS), 86_400)
    unix_seconds = pc.if_else(is_millis, pc.divide(numbers, 1000), numbers)
    seconds = pc.if_else(is_serial, serial_seconds, unix_seconds)
    # beyond +-1e13 s is no date at all; keep the cast from overflowing
    in_range = pc.less(pc.abs(seconds), 1e13)
    seconds = pc.if_else(in_range, pc.round(seconds), pa.scalar(None, pa.float64()))
    return pc.cast(pc.cast(seconds, pa.int64()), pa.timestamp("s"))


def _plausible(parsed: pa.Array, kind: DateKind, today: dt.date) -> pa.Array:
    latest = _LATEST
    if kind == "date":  # a birth date is not in the future
        latest = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    keep = pc.and_(
        pc.greater_equal(parsed, pa.scalar(_EARLIEST, pa.timestamp("s"))),
        pc.less(parsed, pa.scalar(latest, pa.timestamp("s"))),
    )
    return pc.if_else(pc.fill_null(keep, False), parsed, _NULL_TIMESTAMP)


def _offsets(tz: pa.Array) -> pa.Array:
    """UTC offsets like ``+02:00`` as durations; Z, UTC and none are zero."""
    parts = pc.extract_regex(tz, r"^(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})$")
    minutes = pc.add(
        pc.multiply(_to_int(parts.field("hours")), 60), _to_int(parts.field("minutes"))
    )
    signed = pc.if_else(pc.equal(parts.field("sign"), "-"), pc.negate(minutes), minutes)
    seconds = pc.multiply(pc.fill_null(signed, 0), 60)
    return pc.cast(seconds, pa.duration("s"))


def _to_int(texts: pa.Array) -> pa.Array:
    """Digits to int64; empty (an optional group that did not match) to null."""
    digits = pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)
    return pc.cast(digits, pa.int64())


def _padded(numbers: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(numbers, pa.string()), width=width, padding="0")
