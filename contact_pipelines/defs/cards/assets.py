import dagster as dg
import pyarrow.compute as pc

from contact_pipelines.core import stages
from contact_pipelines.defs.current import current_validated_partitions
from contact_pipelines.defs.metadata import masked_preview, seconds
from contact_pipelines.defs.partitions import shards
from contact_pipelines.defs.resources import PipelineResource


@dg.asset(
    partitions_def=shards,
    deps=[
        "identity_graph",
        dg.AssetDep("validated_contacts", partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name="cards",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    check_specs=[
        dg.AssetCheckSpec(
            "one_card_per_person",
            asset="contact_cards",
            blocking=True,
            description="contact_key is unique within the shard and every card has an identifier.",
        )
    ],
)
def contact_cards(context: dg.AssetExecutionContext, pipeline: PipelineResource):
    """One card per person in the shard, merged by survivorship: the most recently updated source
    wins per field, a value beats an empty one, source priority breaks ties. Keeps every channel,
    the additional fields, lineage and a content hash."""
    warehouse = pipeline.warehouse()
    shard = int(context.partition_key)
    partitions = current_validated_partitions(context.instance, warehouse)
    stats = stages.build_shard_cards(shard, partitions, warehouse)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "source_rows": stats.counts.get("source_rows", 0),
            "seconds": seconds(stats.seconds),
            "preview": masked_preview(stats.preview),
        }
    )
    cards = warehouse.read(stages.CARDS, str(shard), columns=["contact_key"])
    duplicates = cards.num_rows - (
        pc.count_distinct(cards["contact_key"]).as_py() if cards.num_rows else 0
    )
    yield dg.AssetCheckResult(
        check_name="one_card_per_person",
        passed=duplicates == 0,
        metadata={"cards": cards.num_rows, "duplicate_keys": duplicates},
    )
