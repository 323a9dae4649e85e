"""Runs execute in parallel worker processes, and a file already ingested is not read again."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core.config import load_config
from contact_pipelines.runner import run_pipeline
from contact_pipelines.testing import SAMPLE_CONFIG, land_samples

pytestmark = pytest.mark.slow


def _runs_of(instance: dg.DagsterInstance, job_name: str) -> int:
    return len(instance.get_run_records(filters=dg.RunsFilter(job_name=job_name)))


@pytest.fixture
def env(sandbox, monkeypatch):
    seed_sandbox_fields(sandbox, load_config(SAMPLE_CONFIG))
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox


def test_parallel_runs_then_unchanged_files_are_not_ingested_again(tmp_path, env):
    landing = land_samples(tmp_path / "landing")
    files = len(list(landing.iterdir()))
    warehouse = str(tmp_path / "warehouse")
    with dg.instance_for_test() as instance:
        first = run_pipeline(landing, warehouse, str(SAMPLE_CONFIG), instance=instance, parallel=2)
        assert first.ok, [str(f) for f in first.failures]
        assert _runs_of(instance, "ingest_job") == files
        shard_runs = _runs_of(instance, "shard_sync_job")
        assert shard_runs == load_config(SAMPLE_CONFIG).shards

        second = run_pipeline(landing, warehouse, str(SAMPLE_CONFIG), instance=instance, parallel=2)
        assert second.ok, [str(f) for f in second.failures]
        assert _runs_of(instance, "ingest_job") == files  # nothing re-read
        assert _runs_of(instance, "shard_sync_job") == 2 * shard_runs

    # the second summary still covers the whole base, and nothing is sent again
    for key in ("rows_read", "rows_valid", "rows_rejected", "contacts", "segments"):
        assert second.summary[key] == first.summary[key], key
    assert first.summary["vendors"]["reteno"]["sent"] > 0
    assert {v: c["sent"] for v, c in second.summary["vendors"].items()} == {
        "reteno": 0,
        "dotdigital": 0,
        "pushtech": 0,
    }
    held = {v: len(env.contacts(v)) for v in ("reteno", "dotdigital", "pushtech")}
    assert held == {v: c["created"] for v, c in first.summary["vendors"].items()}


def test_changed_source_config_or_reingest_reads_every_file_again(tmp_path, env):
    landing = land_samples(tmp_path / "landing")
    files = len(list(landing.iterdir()))
    warehouse = str(tmp_path / "warehouse")
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    changed_config = tmp_path / "pipeline.yaml"
    config["sources"][0]["priority"] = config["sources"][0].get("priority", 0) + 1
    changed_config.write_text(yaml.safe_dump(config))
    run = {"vendors": ("reteno",), "parallel": 1}

    with dg.instance_for_test() as instance:
        assert run_pipeline(landing, warehouse, str(SAMPLE_CONFIG), instance=instance, **run).ok
        assert run_pipeline(landing, warehouse, str(changed_config), instance=instance, **run).ok
        assert _runs_of(instance, "ingest_job") == 2 * files  # a source changed: all again
        assert run_pipeline(landing, warehouse, str(changed_config), instance=instance, **run).ok
        assert _runs_of(instance, "ingest_job") == 2 * files  # same config: none
        forced = run_pipeline(
            landing, warehouse, str(changed_config), instance=instance, reingest=True, **run
        )
        assert forced.ok
        assert _runs_of(instance, "ingest_job") == 3 * files


def test_parallel_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="--parallel 0"):
        run_pipeline(tmp_path, str(tmp_path / "warehouse"), str(SAMPLE_CONFIG), parallel=0)
