"""A few hundred varied cards, the same in a test and in a child process it starts."""

from __future__ import annotations

import pyarrow as pa

from contact_pipelines.core.fields import CARD_SCHEMA, MEMBERSHIP_SCHEMA

SEGMENTS = ("Customers", "VIP")


def generated_cards(count: int) -> tuple[pa.Table, pa.Table]:
    """Cards with external ids and emails, most with phones, names and a custom field;
    every fifth in Customers, every seventh in VIP."""
    rows, members = [], []
    for i in range(count):
        row = dict.fromkeys(CARD_SCHEMA.names)
        email = f"person{i}@example.com"
        phone = f"+4477009{i:05d}" if i % 3 else None
        row.update(
            contact_key=f"{i:016x}",
            shard=0,
            external_id=f"EXT-{i}",
            email=email,
            emails=[email],
            phone=phone,
            phone_type="mobile" if phone else None,
            phones=[phone] if phone else None,
            first_name=f"First{i}" if i % 4 else None,
            last_name=f"Last{i}",
            gender=("male", "female", None)[i % 3],
            fields=[("plan_type", ("gold", "silver")[i % 2])],
            content_hash=f"h{i}",
        )
        rows.append(row)
        members += [
            (row["contact_key"], s) for n, s in ((5, SEGMENTS[0]), (7, SEGMENTS[1])) if i % n == 0
        ]
    cards = pa.Table.from_pylist(rows, schema=CARD_SCHEMA)
    memberships = pa.Table.from_pylist(
        [{"contact_key": k, "segment": s, "origin": "source"} for k, s in members],
        schema=MEMBERSHIP_SCHEMA,
    )
    return cards, memberships
