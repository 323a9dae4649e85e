"""Validation: a raw chunk in, validated and rejected rows out.

Every input row lands in exactly one of the two tables. A row is rejected
only when it has no usable identifier (external id, valid email, valid
phone, push token, web push token); any other bad value is dropped from the
row and counted as a warning, so one malformed birth date never costs a
contact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.fields import (
    BOOLEAN_FIELDS,
    RAW_META_COLUMNS,
    REJECTED_SCHEMA,
    ROW_DEFECT,
    SOURCE_FILE,
    SOURCE_ROW,
    VALIDATED_SCHEMA,
    additional_field_name,
)
from contact_pipelines.core.mapping import ColumnMapping
from contact_pipelines.core.normalize import Normalized
from contact_pipelines.core.normalize.codes import (
    normalize_boolean,
    normalize_country,
    normalize_gender,
    normalize_language,
    normalize_status,
)
from contact_pipelines.core.normalize.dates import normalize_dates
from contact_pipelines.core.normalize.email import normalize_emails
from contact_pipelines.core.normalize.names import clean_text, normalize_names, split_groups
from contact_pipelines.core.normalize.phone import normalize_phones

_TEXT_FIELDS = (
    "external_id", "region", "city", "postcode", "address", "timezone", "push_token",
    "push_app_id", "push_device_model", "push_os", "push_locale", "push_app_version",
    "webpush_token", "consent_ip",
)  # fmt: skip
_TOKEN_FIELDS = ("external_id", "push_token", "webpush_token")  # usable whenever present
_NULL_TEXT = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class ValidationResult:
    valid: pa.Table  # VALIDATED_SCHEMA
    rejected: pa.Table  # REJECTED_SCHEMA
    warnings: dict[str, int] = field(default_factory=dict)  # warning code -> valid rows with it


def validate_chunk(
    chunk: pa.Table, mapping: ColumnMapping, source: SourceConfig
) -> ValidationResult:
    """Normalise one raw chunk and split it into validated and rejected rows."""
    columns = _normalize_columns(chunk, mapping, source)
    usable = _usable_identifier(columns)
    warnings = _row_warnings(chunk, columns)
    valid = _validated_table(chunk, mapping, columns, warnings, source).filter(usable)
    rejected = _rejected_table(chunk, mapping, columns, source, pc.invert(usable))
    return ValidationResult(valid, rejected, _count(valid.column("warnings")))


def summarize_warnings(counts: dict[str, int], rows: int | None = None) -> str:
    """``"3 invalid_birth_date, 2 name_truncated"`` (most frequent first) for logs."""
    if not counts:
        return "no warnings"
    parts = [f"{n} {code}" for code, n in Counter(counts).most_common()]
    return ", ".join(parts) + (f" in {rows} rows" if rows is not None else "")


def merge_warnings(*counts: dict[str, int]) -> dict[str, int]:
    """Add up the warnings of several chunks."""
    total: Counter[str] = Counter()
    for one in counts:
        total.update(one)
    return dict(total)


def _source_column(chunk: pa.Table, mapping: ColumnMapping, canonical: str) -> pa.Array:
    header = mapping.header_for(canonical)
    if header is None or header not in chunk.column_names:
        return pa.nulls(chunk.num_rows, pa.string())
    return chunk.column(header).combine_chunks()


def _normalize_columns(
    chunk: pa.Table, mapping: ColumnMapping, source: SourceConfig
) -> dict[str, Normalized]:
    def raw(name: str) -> pa.Array:
        return _source_column(chunk, mapping, name)

    columns: dict[str, Normalized] = {name: clean_text(raw(name)) for name in _TEXT_FIELDS}
    columns["email"] = normalize_emails(raw("email"))
    columns["phone"] = normalize_phones(raw("phone"), source.default_region)
    columns["first_name"] = normalize_names(raw("first_name"))
    columns["last_name"] = normalize_names(raw("last_name"))
    columns["birth_date"] = normalize_dates(raw("birth_date"), "date", source.date_order)
    for name in ("consent_date", "updated_at"):
        columns[name] = normalize_dates(raw(name), "timestamp", source.date_order, field=name)
    columns["gender"] = normalize_gender(raw("gender"))
    columns["language"] = normalize_language(raw("language"))
    columns["country"] = normalize_country(raw("country"))
    for name in ("email_status", "sms_status"):
        columns[name] = normalize_status(raw(name), field=name)
    for name in BOOLEAN_FIELDS:
        columns[name] = normalize_boolean(raw(name), field=name)
    return columns


def _usable_identifier(columns: dict[str, Normalized]) -> pa.BooleanArray:
    usable = pc.or_(columns["email"].valid, columns["phone"].valid)
    for name in _TOKEN_FIELDS:
        usable = pc.or_(usable, columns[name].valid)
    return pc.fill_null(usable, False)


def _row_warnings(chunk: pa.Table, columns: dict[str, Normalized]) -> pa.ListArray:
    """Per row, the warning codes of every column, in column order."""
    per_column = [column.warnings for column in columns.values()]
    if ROW_DEFECT in chunk.column_names:
        defect = chunk.column(ROW_DEFECT).combine_chunks()
        per_column.append(pc.binary_join_element_wise("row_defect_", defect, ""))
    return _lists_per_row(per_column, chunk.num_rows, pa.string(), empty_as_null=False)


def _lists_per_row(
    arrays: list[pa.Array], n_rows: int, value_type: pa.DataType, empty_as_null: bool
) -> pa.ListArray:
    """Gather the non-null values of several same-length arrays into one list per row."""
    if not arrays:
        return pa.array([None if empty_as_null else []] * n_rows, pa.list_(value_type))
    stacked = pa.concat_arrays([a.cast(value_type) for a in arrays])
    keep = pc.is_valid(stacked).to_numpy(zero_copy_only=False)
    rows = np.tile(np.arange(n_rows), len(arrays))[keep]
    order = np.argsort(rows, kind="stable")  # stable: column order within a row
    values = stacked.filter(pa.array(keep)).take(pa.array(order))
    counts = np.bincount(rows, minlength=n_rows)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    lists = pa.ListArray.from_arrays(offsets, values)
    if empty_as_null:
        lists = pc.if_else(pa.array(counts > 0), lists, pa.scalar(None, lists.type))
    return lists


def _fields_map(chunk: pa.Table, mapping: ColumnMapping) -> pa.MapArray:
    """Every ``field:<name>`` column as one map per row; absent values omitted."""
    extra = [
        (name, clean_text(chunk.column(header).combine_chunks()).values)
        for header, canonical in mapping.by_header.items()
        if (name := additional_field_name(canonical)) and header in chunk.column_names
    ]
    n_rows = chunk.num_rows
    keys = [pc.if_else(pc.is_valid(values), name, _NULL_TEXT) for name, values in extra]
    key_lists = _lists_per_row(keys, n_rows, pa.string(), empty_as_null=False)
    value_lists = _lists_per_row([v for _, v in extra], n_rows, pa.string(), empty_as_null=False)
    return pa.MapArray.from_arrays(key_lists.offsets, key_lists.values, value_lists.values)


def _validated_table(
    chunk: pa.Table,
    mapping: ColumnMapping,
    columns: dict[str, Normalized],
    warnings: pa.ListArray,
    source: SourceConfig,
) -> pa.Table:
    n_rows = chunk.num_rows
    data: dict[str, pa.Array] = {name: column.values for name, column in columns.items()}
    data |= {
        SOURCE_FILE: chunk.column(SOURCE_FILE).combine_chunks(),
        SOURCE_ROW: chunk.column(SOURCE_ROW).combine_chunks(),
        "source_name": pa.array([source.name] * n_rows, pa.string()),
        "source_priority": pa.array(np.full(n_rows, source.priority, np.int32)),
        "phone_type": columns["phone"].phone_type,
        "groups": split_groups(_source_column(chunk, mapping, "groups")),
        "fields": _fields_map(chunk, mapping),
        "warnings": warnings,
    }
    return pa.table({f.name: data[f.name] for f in VALIDATED_SCHEMA}, schema=VALIDATED_SCHEMA)


def _rejected_table(
    chunk: pa.Table,
    mapping: ColumnMapping,
    columns: dict[str, Normalized],
    source: SourceConfig,
    rejected: pa.BooleanArray,
) -> pa.Table:
    # messages and JSON only for the rejected rows: usually a few, never worth the whole chunk
    rejected_rows = chunk.filter(rejected)
    bad_email = columns["email"].invalid.filter(rejected)
    bad_phone = columns["phone"].invalid.filter(rejected)
    reasons, messages = _reasons_and_messages(rejected_rows, mapping, bad_email, bad_phone, source)
    data = {
        SOURCE_FILE: rejected_rows.column(SOURCE_FILE),
        SOURCE_ROW: rejected_rows.column(SOURCE_ROW),
        "reason": reasons,
        "message": messages,
        "original": _original_json(rejected_rows),
    }
    return pa.table(data, schema=REJECTED_SCHEMA)


def _reasons_and_messages(
    chunk: pa.Table,
    mapping: ColumnMapping,
    bad_email: pa.BooleanArray,
    bad_phone: pa.BooleanArray,
    source: SourceConfig,
) -> tuple[pa.Array, pa.Array]:
    """A reason code and a message naming the file, the line and the fix, for every row."""
    defect = (
        chunk.column(ROW_DEFECT).combine_chunks()
        if ROW_DEFECT in chunk.column_names
        else pa.nulls(chunk.num_rows, pa.string())
    )
    # a reader-flagged row explains its own bad values, so its defect comes first
    reasons = pc.case_when(
        pc.make_struct(pc.is_valid(defect), bad_email, bad_phone),
        "row_defect",
        "invalid_email",
        "invalid_phone",
        "no_identifier",
    )
    where = pc.binary_join_element_wise(
        pc.cast(chunk.column(SOURCE_FILE).combine_chunks(), pa.string()),
        " line ",
        pc.cast(chunk.column(SOURCE_ROW).combine_chunks(), pa.string()),
        ": ",
        "",
    )
    email = _quoted(_source_column(chunk, mapping, "email"))
    phone = _quoted(_source_column(chunk, mapping, "phone"))
    region = source.default_region or "none"
    also_phone = pc.if_else(
        bad_phone,
        pc.binary_join_element_wise(" and phone ", phone, " is not a valid number", ""),
        "",
    )
    by_reason = {
        "row_defect": pc.binary_join_element_wise(
            "the reader flagged the row as ",
            defect,
            " and it has no usable identifier (external id, email, phone, push token); ",
            pc.if_else(
                pc.fill_null(pc.match_substring(defect, "lost_digits"), False),
                "Excel had written a value in scientific notation and its digits are lost: "
                "re-export with that column formatted as Text",
                "check the delimiter and quoting on this line",
            ),
            "",
        ),
        "invalid_email": pc.binary_join_element_wise(
            "email ",
            email,
            " is not a valid address",
            also_phone,
            " and the row has no other "
            "identifier (external id, phone, push token); correct the email or add an identifier",
            "",
        ),
        "invalid_phone": pc.binary_join_element_wise(
            "phone ",
            phone,
            f" is not a valid number (default region {region}) and the row has "
            "no other identifier (external id, email, push token); write it with its country code "
            f"(+...) or set default_region for source '{source.name}'",
            "",
        ),
        "no_identifier": pa.scalar(_no_identifier_message(mapping)),
    }
    text = pa.nulls(chunk.num_rows, pa.string())
    for reason, message in by_reason.items():
        text = pc.if_else(pc.equal(reasons, reason), message, text)
    return reasons, pc.binary_join_element_wise(where, text, "")


def _no_identifier_message(mapping: ColumnMapping) -> str:
    message = (
        "the row has no identifier (external id, email, phone, push token or web push token); "
        "add one"
    )
    identifiers = {"external_id", "email", "phone", "push_token", "webpush_token"}
    if not identifiers & set(mapping.by_header.values()):
        message += (
            " or map the column that holds one in the source's columns; no header maps to an "
            f"identifier (unmapped headers: {mapping.unmapped})"
        )
    return message


def _quoted(values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", pc.fill_null(values, ""), "'", "")


def _original_json(rows: pa.Table) -> pa.Array:
    """JSON object {source header: original value} per row, every source header included."""
    headers = [name for name in rows.column_names if name not in RAW_META_COLUMNS]
    if rows.num_rows == 0:
        return pa.array([], pa.string())
    if not headers:
        return pa.array(["{}"] * rows.num_rows, pa.string())
    frame = rows.select(headers).to_pandas().astype(object)
    frame = frame.where(pd.notna(frame), None)
    lines = frame.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n")
    # pandas escapes "/" as "\/": valid JSON, but harder to read; undo it
    return pc.replace_substring(pa.array(lines.split("\n"), pa.string()), "\\/", "/")


def _count(warnings: pa.ChunkedArray | pa.ListArray) -> dict[str, int]:
    flat = pc.list_flatten(warnings)
    if len(flat) == 0:
        return {}
    counts = pc.value_counts(flat)
    return {item["values"].as_py(): item["counts"].as_py() for item in counts}
