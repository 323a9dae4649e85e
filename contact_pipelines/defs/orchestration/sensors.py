import dagster as dg

from contact_pipelines.defs.orchestration.jobs import shard_sync_job
from contact_pipelines.defs.partitions import shards


@dg.asset_sensor(
    asset_key=dg.AssetKey("identity_graph"),
    job=shard_sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def identity_updated_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """When identity_graph is materialized (nightly or by hand), sync every shard: one run each."""
    for shard in shards.get_partition_keys():
        yield dg.RunRequest(run_key=f"{asset_event.run_id}-{shard}", partition_key=shard)
