"""Time resolve_identities and build_cards on a generated base.

    .venv/bin/python benchmarks/bench_identity.py --rows 1000000

Generates N validated rows for people with 8% duplicate rows (same identifiers,
another export), then prints wall time and peak memory (ru_maxrss) per stage.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.cards import build_cards
from contact_pipelines.core.config import IdentityConfig
from contact_pipelines.core.fields import VALIDATED_SCHEMA
from contact_pipelines.core.identity import resolve_identities


def generated_rows(rows: int, duplicate_share: float, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    people = int(rows * (1 - duplicate_share))
    person = np.concatenate([np.arange(people), rng.integers(0, people, rows - people)])
    label = person.astype(str)

    def sometimes(share: float, values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.string(), mask=rng.random(rows) >= share)

    columns = {
        "source_file": pa.array(np.where(np.arange(rows) < people, "crm.csv", "shop.csv")),
        "source_row": pa.array(np.arange(1, rows + 1), pa.int64()),
        "source_name": pa.array(["bench"] * rows),
        "source_priority": pa.array(np.zeros(rows, np.int32)),
        "external_id": sometimes(0.5, np.char.add("C", label)),
        "email": sometimes(0.8, np.char.add(np.char.add("user", label), "@mail.test")),
        "phone": sometimes(0.6, np.char.add("+38067", np.char.zfill(label, 7))),
        "first_name": sometimes(0.7, np.char.add("Name", label)),
        "country": sometimes(0.9, np.where(person % 2 == 0, "UA", "PL")),
        "updated_at": sometimes(
            0.5, np.where(person % 3 == 0, "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z")
        ),
    }
    return pa.table({f.name: columns.get(f.name, pa.nulls(rows, f.type)) for f in VALIDATED_SCHEMA})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()

    rows = generated_rows(args.rows, duplicate_share=0.08)
    print(f"generated {rows.num_rows:,} rows; peak {peak_mb():,.0f} MB")

    started = time.perf_counter()
    identity = resolve_identities(
        rows.select(
            [
                "source_file",
                "source_row",
                "external_id",
                "email",
                "phone",
                "push_token",
                "webpush_token",
            ]
        ),
        args.shards,
        IdentityConfig(),
    )
    seconds = time.perf_counter() - started
    contacts = pc.count_distinct(identity.table["contact_key"]).as_py()
    print(f"resolve_identities: {seconds:.1f} s, {contacts:,} contacts; peak {peak_mb():,.0f} MB")

    joined = rows.append_column("contact_key", identity.table["contact_key"]).append_column(
        "shard", identity.table["shard"]
    )
    started = time.perf_counter()
    cards = build_cards(joined)
    seconds = time.perf_counter() - started
    print(
        f"build_cards (all shards at once): {seconds:.1f} s, {cards.num_rows:,} cards; peak {peak_mb():,.0f} MB"
    )


if __name__ == "__main__":
    main()
