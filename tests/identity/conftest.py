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


@pytest.fixture
def make_id_rows():
    return id_rows


@pytest.fixture
def make_rows():
    return validated_rows
