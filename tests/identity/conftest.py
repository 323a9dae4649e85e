"""Hand-built tables for the identity, cards and segments tests, as fixtures."""

from __future__ import annotations

import pyarrow as pa
import pytest

from contact_pipelines.core.fields import VALIDATED_SCHEMA

ID_COLUMNS = ("external_id", "email", "phone", "push_token", "webpush_token")


def id_rows(*rows: dict, source_file: str = "export.csv") -> pa.Table:
    """Identifier rows: each dict gives some of ID_COLUMNS; source_row counts from 1."""
    return pa.table(
        {
            "source_file": pa.array(
                [row.get("source_file", source_file) for row in rows], pa.string()
            ),
            "source_row": pa.array(
                [row.get("source_row", number) for number, row in enumerate(rows, 1)], pa.int64()
            ),
            **{name: pa.array([row.get(name) for row in rows], pa.string()) for name in ID_COLUMNS},
        }
    )


def validated_rows(*rows: dict) -> pa.Table:
    """Validated rows with contact_key/shard: each dict gives any VALIDATED_SCHEMA columns."""
    defaults = {"source_file": "export.csv", "source_name": "default", "source_priority": 0}
    filled = []
    for number, row in enumerate(rows, 1):
        values = {**defaults, "source_row": number, "contact_key": "k1", "shard": 0, **row}
        if isinstance(values.get("fields"), dict):
            values["fields"] = list(values["fields"].items())
        filled.append(values)
    schema = VALIDATED_SCHEMA.append(pa.field("contact_key", pa.string())).append(
        pa.field("shard", pa.int32())
    )
    return pa.Table.from_pylist(filled, schema=schema)


def reference_hash64(text: str) -> int:
    """identity.stable_hash64 written from its documented definition, one byte at a time."""
    all_bits = 2**64 - 1

    def mix(value: int) -> int:
        value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & all_bits
        value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & all_bits
        return value ^ (value >> 31)

    data = text.encode("utf-8")
    total = 0
    for k in range(0, len(data), 8):
        word = int.from_bytes(data[k : k + 8].ljust(8, b"\0"), "little")
        total = (total + mix((word + (k // 8 + 1) * 0x9E3779B97F4A7C15) & all_bits)) & all_bits
    return mix(total ^ ((len(data) * 0x94D049BB133111EB) & all_bits))


@pytest.fixture
def reference_key():
    return lambda text: f"{reference_hash64(text):016x}"


@pytest.fixture
def make_id_rows():
    return id_rows


@pytest.fixture
def make_rows():
    return validated_rows
