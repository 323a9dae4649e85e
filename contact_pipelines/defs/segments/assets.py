import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.defs.metadata import counts, masked_preview, seconds
from contact_pipelines.defs.partitions import shards
from contact_pipelines.defs.resources import PipelineResource


@dg.asset(
    partitions_def=shards,
    deps=["contact_cards"],
    group_name="segments",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
)
def segment_memberships(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Who belongs to which segment in the shard: the groups, lists and tags the sources carried,
    plus the rule-based segments of the config."""
    stats = stages.build_shard_segments(
        int(context.partition_key), pipeline.load_config(), pipeline.warehouse()
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "members_per_segment": counts(stats.counts),
            "seconds": seconds(stats.seconds),
            "preview": masked_preview(stats.preview),
        }
    )
