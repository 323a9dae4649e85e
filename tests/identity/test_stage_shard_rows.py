"""The identity run routes every validated row to its shard's ``shard_rows`` file; cards built
from those files equal cards built by reading every partition (the fallback path)."""

from __future__ import annotations

import pyarrow as pa

from contact_pipelines.core import stages
from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.fields import VALIDATED_SCHEMA
from contact_pipelines.core.warehouse import ARROW, Warehouse

SHARDS = 3


def _validated(file: str, rows: list[dict]) -> pa.Table:
    columns = {name: [row.get(name) for row in rows] for name in VALIDATED_SCHEMA.names}
    columns |= {"source_file": [file] * len(rows), "source_name": [file] * len(rows)}
    columns |= {"source_row": list(range(1, len(rows) + 1)), "source_priority": [0] * len(rows)}
    return pa.table(columns, schema=VALIDATED_SCHEMA)


def _base(warehouse: Warehouse) -> list[str]:
    first = [
        {"email": f"p{i}@mail.test", "first_name": f"P{i}", "updated_at": "2024-01-01T00:00:00Z"}
        for i in range(40)
    ]
    # the same people again, later, with a phone and a newer name: one card each
    second = [
        {
            "email": f"p{i}@mail.test",
            "phone": f"+3806700000{i:02d}",
            "first_name": f"Newer{i}",
            "updated_at": "2024-06-01T00:00:00Z",
        }
        for i in range(0, 40, 4)
    ]
    partitions = ["a.csv@1", "b.csv@1"]
    warehouse.write(stages.VALIDATED, partitions[0], _validated("a.csv", first))
    warehouse.write(stages.VALIDATED, partitions[1], _validated("b.csv", second))
    return partitions


def _all_cards(partitions: list[str], warehouse: Warehouse) -> pa.Table:
    for shard in range(SHARDS):
        stages.build_shard_cards(shard, partitions, warehouse)
    cards = [warehouse.read(stages.CARDS, str(shard)) for shard in range(SHARDS)]
    return pa.concat_tables(cards).sort_by("contact_key")


def test_cards_from_shard_rows_equal_cards_from_every_partition(tmp_path):
    warehouse = Warehouse(tmp_path)
    partitions = _base(warehouse)
    stats = stages.resolve_base(partitions, PipelineConfig(shards=SHARDS), warehouse)
    assert stats.contacts == 40
    routed = [warehouse.read_arrow(stages.SHARD_ROWS, str(s)) for s in range(SHARDS)]
    assert sum(t.num_rows for t in routed) == 50  # every validated row, once
    for shard, rows in enumerate(routed):
        assert set(rows.column("shard").to_pylist()) <= {shard}

    from_shard_rows = _all_cards(partitions, warehouse)
    assert from_shard_rows.num_rows == 40
    newer = from_shard_rows.filter(pa.compute.equal(from_shard_rows["email"], "p4@mail.test"))
    assert newer.column("first_name").to_pylist() == ["Newer4"]

    for shard in range(SHARDS):
        warehouse.delete(stages.SHARD_ROWS, str(shard), ARROW)
    assert _all_cards(partitions, warehouse).equals(from_shard_rows)


def test_fewer_shards_and_old_parquet_shard_rows_are_cleaned_up(tmp_path):
    warehouse = Warehouse(tmp_path)
    partitions = _base(warehouse)
    warehouse.write(stages.SHARD_ROWS, "0", pa.table({"x": [1]}))  # an earlier version's file
    stages.resolve_base(partitions, PipelineConfig(shards=5), warehouse)
    stages.resolve_base(partitions, PipelineConfig(shards=SHARDS), warehouse)
    assert warehouse.partitions(stages.SHARD_ROWS, ARROW) == ["0", "1", "2"]
    assert warehouse.partitions(stages.SHARD_ROWS) == []
