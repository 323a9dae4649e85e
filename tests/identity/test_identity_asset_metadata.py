"""identity_graph in Dagster: the guard rails show in the asset's metadata, masked."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from contact_pipelines.core import stages
from contact_pipelines.core.fields import VALIDATED_SCHEMA
from contact_pipelines.core.warehouse import Warehouse
from contact_pipelines.defs.identity.assets import identity_graph
from contact_pipelines.defs.partitions import landed_files
from contact_pipelines.defs.resources import PipelineResource

PARTITION = "shop.csv@abc123"


def validated_partition(rows: list[dict]) -> pa.Table:
    filled = [
        {"source_file": "shop.csv", "source_row": i, "source_name": "shop", "source_priority": 0}
        | row
        for i, row in enumerate(rows, 1)
    ]
    return pa.Table.from_pylist(filled, schema=VALIDATED_SCHEMA)


def test_identity_graph_metadata_lists_cap_generic_identifiers_and_conflicts(tmp_path):
    walk_ins = [{"email": f"walkin{i}@ukr.net", "phone": "+380442345678"} for i in range(5)]
    conflict = [
        {"external_id": "C1", "email": "a@ukr.net"},
        {"email": "a@ukr.net", "phone": "+380671111111"},
        {"external_id": "C2", "phone": "+380671111111"},
    ]
    Warehouse(tmp_path / "wh").write(
        stages.VALIDATED, PARTITION, validated_partition(walk_ins + conflict)
    )
    config = tmp_path / "pipeline.yaml"
    config.write_text("identity:\n  max_people_per_identifier: 3\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(landed_files.name, [PARTITION])
        result = dg.materialize(
            [identity_graph],
            instance=instance,
            resources={
                "pipeline": PipelineResource(
                    config_path=str(config), warehouse_dir=str(tmp_path / "wh")
                )
            },
        )
    metadata = result.asset_materializations_for_node("identity_graph")[0].metadata
    assert metadata["max_people_per_identifier"].value == 3
    assert metadata["generic_identifier_count"].value == 1
    listed = metadata["generic_identifiers"].value
    assert len(listed) == 1 and "5 people" in listed[0]
    assert "2345678" not in listed[0]  # masked
    assert metadata["external_id_conflicts"].value == 1
    assert metadata["contacts"].value == 8
