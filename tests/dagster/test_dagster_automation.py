"""Sensors and schedules: what they ask Dagster to do."""

import shutil
from pathlib import Path

import dagster as dg

from contact_pipelines.defs.ingest.sensors import landing_sensor
from contact_pipelines.defs.orchestration.schedules import nightly_crm_sync
from contact_pipelines.defs.orchestration.sensors import (
    identity_updated_sensor,
    requests_after_identity,
    shard_run_requests,
)
from contact_pipelines.defs.resources import PipelineResource

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def _pipeline(tmp_path: Path) -> PipelineResource:
    return PipelineResource(
        landing_dir=str(tmp_path / "landing"), warehouse_dir=str(tmp_path / "wh")
    )


def _tick(instance, pipeline):
    context = dg.build_sensor_context(instance=instance, resources={"pipeline": pipeline})
    return landing_sensor(context)


def test_landing_sensor_adds_one_partition_and_run_per_new_file(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(SAMPLES / "legacy_crm_2026-11.csv", landing)
    shutil.copy(SAMPLES / "old_newsletter.xls", landing)
    (landing / ".hidden.csv").write_text("x")
    with dg.instance_for_test() as instance:
        result = _tick(instance, _pipeline(tmp_path))
        keys = sorted(r.partition_key for r in result.run_requests)
        assert [k.split("@")[0] for k in keys] == ["legacy_crm_2026-11.csv", "old_newsletter.xls"]
        added = result.dynamic_partitions_requests[0]
        assert sorted(added.partition_keys) == keys

        instance.add_dynamic_partitions("landed_files", keys)
        again = _tick(instance, _pipeline(tmp_path))
        assert not again.run_requests and again.skip_reason

        # a corrected file under the same name is new content: a new partition
        (landing / "legacy_crm_2026-11.csv").write_bytes(
            (SAMPLES / "legacy_crm_2026-11.csv").read_bytes() + b"C-20000,new@example.com\r\n"
        )
        relanded = _tick(instance, _pipeline(tmp_path))
        [request] = relanded.run_requests
        assert request.partition_key.startswith("legacy_crm_2026-11.csv@")
        assert request.partition_key not in keys


def test_identity_update_launches_every_shard():
    requests = shard_run_requests("abc")
    assert [r.partition_key for r in requests] == [str(i) for i in range(8)]
    assert len({r.run_key for r in requests}) == 8
    assert identity_updated_sensor.job_name == "shard_sync_job"


def _identity_run(instance, tags) -> str:
    @dg.asset(name="identity_graph")
    def identity_graph():
        return 1

    return dg.materialize([identity_graph], instance=instance, tags=tags).run_id


def test_identity_update_from_the_cli_launches_nothing_else_every_shard():
    with dg.instance_for_test() as instance:
        cli_run = _identity_run(instance, {"contact_pipelines/launched_by": "cli"})
        skipped = requests_after_identity(instance, cli_run)
        assert isinstance(skipped, dg.SkipReason) and cli_run in skipped.skip_message

        nightly_run = _identity_run(instance, {})
        requests = requests_after_identity(instance, nightly_run)
        assert [r.partition_key for r in requests] == [str(i) for i in range(8)]
        assert all(r.run_key.startswith(nightly_run) for r in requests)


def test_nightly_schedule_runs_identity_at_two():
    assert nightly_crm_sync.cron_schedule == "0 2 * * *"
    assert nightly_crm_sync.execution_timezone == "Europe/Kyiv"
    assert nightly_crm_sync.job_name == "identity_job"
