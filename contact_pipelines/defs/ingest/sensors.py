import dagster as dg

from contact_pipelines.core.landing import scan_landing
from contact_pipelines.defs.partitions import landed_files
from contact_pipelines.defs.resources import PipelineResource

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.assets("raw_contacts", "validated_contacts", "rejected_contacts"),
    description="Read, validate and account for one landed export file.",
)


@dg.sensor(
    job=ingest_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def landing_sensor(
    context: dg.SensorEvaluationContext, pipeline: PipelineResource
) -> dg.SensorResult:
    """Watch the landing folder; add a partition and launch ingest for every new file or new content."""
    landed = scan_landing(
        pipeline.landing(), cache_path=pipeline.state_dir() / "landing_hashes.json"
    )
    known = set(context.instance.get_dynamic_partitions(landed_files.name))
    new_keys = [f.partition_key for f in landed if f.partition_key not in known]
    if not new_keys:
        return dg.SensorResult(
            skip_reason=f"no new files among {len(landed)} in the landing folder"
        )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=key, run_key=key) for key in new_keys],
        dynamic_partitions_requests=[landed_files.build_add_request(new_keys)],
    )
