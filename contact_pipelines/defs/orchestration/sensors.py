import dagster as dg

from contact_pipelines.defs.orchestration.jobs import shard_sync_job
from contact_pipelines.defs.partitions import shards

# the tag contact_pipelines.runner puts on its runs: it runs the shards itself
LAUNCHED_BY_TAG, CLI = "contact_pipelines/launched_by", "cli"


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
    """When identity_graph is materialized (nightly or by hand), sync every shard: one run each.

    Not after `contact-pipelines run`: it launches its own shard runs right after (a
    dry run must not turn into real syncs through this sensor)."""
    return requests_after_identity(context.instance, asset_event.run_id)


def requests_after_identity(instance: dg.DagsterInstance, identity_run_id: str):
    """Every shard's run, unless the identity run came from the CLI (it syncs them itself)."""
    run = instance.get_run_by_id(identity_run_id)
    if run is not None and run.tags.get(LAUNCHED_BY_TAG) == CLI:
        return dg.SkipReason(
            f"identity_graph was materialized by `contact-pipelines run` (run {run.run_id}), "
            "which syncs the shards itself"
        )
    return shard_run_requests(identity_run_id)
