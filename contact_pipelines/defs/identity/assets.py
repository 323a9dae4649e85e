import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.defs.current import current_validated_partitions
from contact_pipelines.defs.metadata import counts, seconds
from contact_pipelines.defs.resources import PipelineResource


@dg.asset(
    deps=[dg.AssetDep("validated_contacts", partition_mapping=dg.AllPartitionMapping())],
    group_name="identity",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
)
def identity_graph(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Who is who across the whole base: rows sharing an external id, email, phone or push token
    are one person. Gives every validated row a stable contact_key and its shard.

    Reads only the identifier columns of the newest version of every landed file.
    """
    warehouse = pipeline.warehouse()
    partitions = current_validated_partitions(context.instance, warehouse)
    stats = stages.resolve_base(partitions, pipeline.load_config(), warehouse)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "contacts": stats.contacts,
            "files": dg.MetadataValue.json(partitions),
            "contacts_per_shard": counts(stats.per_shard),
            "generic_identifiers": dg.MetadataValue.json(stats.generic_identifiers),
            "external_id_conflicts": stats.conflicts,
            "seconds": seconds(stats.seconds),
        }
    )
