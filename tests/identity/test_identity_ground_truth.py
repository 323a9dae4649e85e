"""A generated base with known people: pairwise precision and recall of resolve_identities."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from contact_pipelines.core.config import IdentityConfig
from contact_pipelines.core.identity import resolve_identities

ID_COLUMNS = ("external_id", "email", "phone", "push_token", "webpush_token")


def generated_base(people: int, seed: int = 3) -> tuple[pa.Table, list[int]]:
    """Rows and the true person of each: duplicates share exact normalised identifiers."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for person in range(people):
        identity = {
            "external_id": f"C{person}" if rng.random() < 0.5 else None,
            "email": f"user{person}@mail.test" if rng.random() < 0.8 else None,
            "phone": f"+38067{person:07d}" if rng.random() < 0.6 else None,
            "push_token": f"push-{person}" if rng.random() < 0.2 else None,
        }
        if not any(identity.values()):
            identity["webpush_token"] = f"web-{person}"
        rows.append(identity)
        truth.append(person)
        present = [name for name, value in identity.items() if value]
        for _ in range(rng.choice([0, 0, 0, 1, 2, 3])):
            # a duplicate from another export: some of the person's identifiers
            kept = rng.choice(present, size=rng.integers(1, len(present) + 1), replace=False)
            rows.append({name: identity[name] for name in kept})
            truth.append(person)
    # strangers whose only shared identifier is a shop's own phone: not one person
    for stranger in range(40):
        rows.append({"email": f"walkin{stranger}@mail.test", "phone": "+380440000000"})
        truth.append(people + stranger)
    table = pa.table(
        {
            "source_file": pa.array(["base.csv"] * len(rows)),
            "source_row": pa.array(np.arange(1, len(rows) + 1)),
            **{name: pa.array([row.get(name) for row in rows], pa.string()) for name in ID_COLUMNS},
        }
    )
    return table, truth


def pair_count(sizes) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def test_pairwise_precision_and_recall_on_generated_base():
    table, truth = generated_base(3000)
    order = np.random.default_rng(5).permutation(table.num_rows)
    table, truth = table.take(order), [truth[i] for i in order]
    result = resolve_identities(table, 8, IdentityConfig())
    predicted = result.table["contact_key"].to_pylist()

    both = pair_count(Counter(zip(predicted, truth, strict=True)).values())
    precision = both / pair_count(Counter(predicted).values())
    recall = both / pair_count(Counter(truth).values())
    assert precision >= 0.99, precision
    assert recall >= 0.99, recall
    assert any("+380" in entry and "40 people" in entry for entry in result.generic_identifiers)
    assert result.conflicts == 0
