import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.defs.current import current_validated_partitions
from contact_pipelines.defs.metadata import counts, masked_preview, seconds
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

    Reads only the identifier columns of the newest version of every landed file. An
    identifier shared by more people than `identity.max_people_per_identifier` (a shop's own
    phone, info@...) links no one and is listed, masked, in `generic_identifiers`; rows that
    would join two external ids stay apart and count as `external_id_conflicts`.
    """
    warehouse = pipeline.warehouse()
    partitions = current_validated_partitions(context.instance, warehouse)
    config = pipeline.load_config()
    stats = stages.resolve_base(partitions, config, warehouse)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "contacts": stats.contacts,
            "files": dg.MetadataValue.json(partitions),
            "contacts_per_shard": counts(stats.per_shard),
            # guard rails: identifiers shared by more people than the cap link no one (masked)
            "max_people_per_identifier": config.identity.max_people_per_identifier,
            "generic_identifier_count": len(stats.generic_identifiers),
            "generic_identifiers": dg.MetadataValue.json(stats.generic_identifiers[:100]),
            # weak clusters reaching several external ids: kept apart, counted here
            "external_id_conflicts": stats.conflicts,
            "quarantined_files": dg.MetadataValue.json(
                sorted(stages.quarantined_partitions(warehouse))
            ),
            "seconds": seconds(stats.seconds),
            "preview": masked_preview(warehouse.head(stages.IDENTITY)),
        }
    )
