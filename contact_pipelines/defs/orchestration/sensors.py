import dagster as dg

from contact_pipelines.defs.orchestration.jobs import shard_sync_job
from contact_pipelines.defs.partitions import shards


def shard_run_requests(identity_run_id: str) -> list[dg.RunRequest]:
    """One shard_sync_job run per shard, keyed by the identity run that triggered them."""
    return [
        dg.RunRequest(run_key=f"{identity_run_id}-{shard}", partition_key=shard)
        for shard in shards.get_partition_keys()
    ]


@dg.asset_sensor(
    asset_key=dg.AssetKey("identity_graph"),
    job=shard_sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def identity_updated_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """When identity_graph is materialized (nightly or by hand), sync every shard: one run each."""
    return shard_run_requests(asset_event.run_id)
