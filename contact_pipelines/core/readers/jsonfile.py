"""JSON and JSON Lines exports, in the shape of Reteno's mobile-token base.

Reteno's docs ("Uploading your mobile token base") show a contact as
``{"externalCustomerId", "firstName", "lastName", "channels": [{"type":
"mobilepush", "value": <token>, "device": {"appId", "deviceModel", "os",
"locale", "appVersion"}}, {"type": "email", "value": ...}], "fields": [{"id",
"value"}]}``, the contacts wrapped as ``{"contacts": [...], "dedupeOn": ...}``.

The document is streamed (``jsonstream``): the records are the top-level
array's elements, or those of the first array of objects inside a wrapper
object such as ``{"contacts": [...]}``, read one at a time in bounded memory.
The file is read twice: once for the headers (known before the first chunk),
once for the rows.

Flattening, so each push token is one raw row:
- nested objects become dotted columns (``device.appId``);
- a list of ``{"type", "value", ...}`` objects is pivoted by type
  (``channels.email``, ``channels.mobilepush``, ``channels.mobilepush.device.os``);
  when a type repeats (two devices) the contact yields one row per entry, its
  other values repeated;
- a list of ``{"id"|"name"|"key", "value"}`` objects becomes ``fields.<id>``;
- any other list of objects yields one row per element (``devices.token``);
- a list of plain values is joined with ``;`` (``groups``).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
from collections.abc import Iterable, Iterator

from contact_pipelines.core.readers.base import (
    ExportInfo,
    ExportReadError,
    RawExport,
    ReadOptions,
    build_raw_table,
    dedupe_headers,
)
from contact_pipelines.core.readers.excel import number_text
from contact_pipelines.core.readers.jsonstream import JsonStream
from contact_pipelines.core.readers.source import ExportSource

JSONL_PROBE_BYTES = 1 << 20
PIVOT_NAME_KEYS = ("type", "id", "name", "key")
JSON_FIX = (
    're-export valid JSON: an array of contact objects, {"contacts": [...]}, or one object per line'
)

FlatRow = dict[str, str | None]


def read_json(source: ExportSource, options: ReadOptions) -> RawExport:
    if source.format == "json" and _is_json_lines(source):
        source = dataclasses.replace(source, format="jsonl")  # one object per line after all
    headers = _collect_headers(_iter_records(source))  # a first streamed pass
    if not headers:
        raise ExportReadError(source.name, None, "the JSON holds no contact records", JSON_FIX)
    info = ExportInfo(format=source.format_label, headers=dedupe_headers(headers), encoding="utf-8")

    def chunks() -> Iterator:
        yield from _read_chunks(
            _iter_records(source), headers, info, source.name, options.chunk_rows
        )

    return RawExport(info, chunks)


def _iter_records(source: ExportSource) -> Iterator[tuple[int, dict]]:
    if source.format == "json":
        return _document_records(source)
    return _jsonl_records(source)


def _is_json_lines(source: ExportSource) -> bool:
    """A .json whose first line is a whole object with more after it is JSON Lines."""
    with source.open() as stream:
        first_line = stream.readline(JSONL_PROBE_BYTES)
        more = stream.read(JSONL_PROBE_BYTES).strip()
    try:
        return isinstance(json.loads(first_line.decode("utf-8-sig")), dict) and more[:1] == b"{"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def _document_records(source: ExportSource) -> Iterator[tuple[int, dict]]:
    with source.open() as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict")
        try:
            yield from _numbered(JsonStream(text, source.name, JSON_FIX).records(), source.name)
        except UnicodeDecodeError as exc:
            raise ExportReadError(
                source.name, None, "the JSON is not UTF-8 text", "re-export it as UTF-8"
            ) from exc


def _numbered(records: Iterable[tuple[int, object]], name: str) -> Iterator[tuple[int, dict]]:
    for index, record in records:
        if not isinstance(record, dict):
            raise ExportReadError(
                name, None, f"record {index} is a {type(record).__name__}, not an object", JSON_FIX
            )
        yield index, record


def _jsonl_records(source: ExportSource) -> Iterator[tuple[int, dict]]:
    with source.open() as stream:
        for line_number, raw_line in enumerate(stream, start=1):
            line = raw_line.decode(
                "utf-8-sig" if line_number == 1 else "utf-8", errors="strict"
            ).strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExportReadError(
                    source.name, line_number, f"the line is not valid JSON ({exc.msg})", JSON_FIX
                ) from exc
            if not isinstance(record, dict):
                raise ExportReadError(
                    source.name, line_number, "the line is not a JSON object", JSON_FIX
                )
            yield line_number, record


def _collect_headers(records: Iterable[tuple[int, dict]]) -> list[str]:
    seen: dict[str, None] = {}  # insertion-ordered set: headers in first-seen order
    for _, record in records:
        for row in flatten_record(record):
            seen.update(dict.fromkeys(row))
    return list(seen)


def _read_chunks(records, headers: list[str], info: ExportInfo, name: str, chunk_rows: int):
    rows: list[FlatRow] = []
    lines: list[int] = []
    for record_number, record in records:
        for row in flatten_record(record):
            rows.append(row)
            lines.append(record_number)
        if len(rows) >= chunk_rows:
            yield _chunk(headers, info, name, rows, lines)
            rows, lines = [], []
    if rows:
        yield _chunk(headers, info, name, rows, lines)


def _chunk(headers: list[str], info: ExportInfo, name: str, rows: list[FlatRow], lines: list[int]):
    columns = [[row.get(header) for row in rows] for header in headers]
    return build_raw_table(info.headers, columns, name, lines)


# --- flattening -------------------------------------------------------------


def flatten_record(record: dict) -> list[FlatRow]:
    """One flat row per push device (or other repeated entry) of one contact."""
    return _flatten_object("", record)


def _flatten_object(prefix: str, obj: dict) -> list[FlatRow]:
    variants: list[FlatRow] = [{}]
    for key, value in obj.items():
        variants = _product(variants, _flatten_value(f"{prefix}{key}", value))
    return variants


def _flatten_value(path: str, value: object) -> list[FlatRow]:
    if isinstance(value, dict):
        return _flatten_object(f"{path}.", value)
    if isinstance(value, list):
        return _flatten_list(path, value)
    return [{path: scalar_text(value)}]


def _flatten_list(path: str, items: list) -> list[FlatRow]:
    objects = [item for item in items if isinstance(item, dict)]
    if not objects:
        texts = [scalar_text(item) for item in items if scalar_text(item)]
        return [{path: ";".join(texts) or None}]
    name_key = _pivot_key(objects)
    if name_key is None:
        return [row for item in objects for row in _flatten_object(f"{path}.", item)]
    variants: list[FlatRow] = [{}]
    for entry_name, entries in _group_by(objects, name_key).items():
        entry_path = f"{path}.{entry_name}"
        alternatives = [
            row for entry in entries for row in _flatten_entry(entry_path, entry, name_key)
        ]
        variants = _product(variants, alternatives)
    return variants


def _pivot_key(objects: list[dict]) -> str | None:
    for key in PIVOT_NAME_KEYS:
        if all("value" in obj and isinstance(obj.get(key), str | int) for obj in objects):
            return key
    return None


def _group_by(objects: list[dict], key: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for obj in objects:
        groups.setdefault(str(obj[key]), []).append(obj)
    return groups


def _flatten_entry(entry_path: str, entry: dict, name_key: str) -> list[FlatRow]:
    rest = {k: v for k, v in entry.items() if k not in (name_key, "value")}
    return _product(
        _flatten_value(entry_path, entry["value"]), _flatten_object(f"{entry_path}.", rest)
    )


def _product(left: list[FlatRow], right: list[FlatRow]) -> list[FlatRow]:
    if len(right) == 1:
        return [{**row, **right[0]} for row in left]
    return [{**a, **b} for a, b in itertools.product(left, right)]


def scalar_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    return str(value)
