"""`contact-pipelines run`: every stage for every landed file and every shard, through Dagster.

Each landed file is one ingest run (a failure stays in its own partition), then one
identity run over the whole base, then one run per shard for cards, segments and
the selected vendor syncs. Runs go to the instance in ``DAGSTER_HOME`` when set,
else to a temporary instance, so they show in the UI like scheduled runs do.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from contact_pipelines.core.config import CONFIG_ENV_VAR, load_config
from contact_pipelines.core.summary import build_summary

VENDORS = ("reteno", "dotdigital", "pushtech")
SHARD_STAGE_ASSETS = ("contact_cards", "segment_memberships")


@dataclass
class RunFailure:
    stage: str
    partition: str
    message: str

    def __str__(self) -> str:
        return f"{self.stage} [{self.partition}]: {self.message}"


@dataclass
class PipelineRun:
    summary: dict
    failures: list[RunFailure] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def configure_environment(
    landing: Path, warehouse: str, config: str | None, ledger_url: str | None = None
) -> None:
    """The definitions read their paths from the environment when they load."""
    os.environ["CONTACT_PIPELINES_LANDING"] = str(landing)
    os.environ["CONTACT_PIPELINES_WAREHOUSE"] = str(warehouse)
    if config:
        os.environ[CONFIG_ENV_VAR] = str(Path(config).resolve())
    if ledger_url:
        os.environ["CONTACT_PIPELINES_LEDGER_URL"] = ledger_url


@contextlib.contextmanager
def dagster_instance():
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        yield dg.DagsterInstance.get()
    else:
        with dg.DagsterInstance.local_temp() as instance:
            yield instance


def load_definitions() -> dg.Definitions:
    from contact_pipelines.definitions import defs

    return defs() if callable(defs) else defs


def run_pipeline(
    landing: Path,
    warehouse: str,
    config: str | None = None,
    vendors: tuple[str, ...] = VENDORS,
    dry_run: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> PipelineRun:
    """Run every stage; return the summary and every failure (never raise for a stage failure)."""
    configure_environment(landing, warehouse, config)
    unknown = sorted(set(vendors) - set(VENDORS))
    if unknown:
        raise ValueError(f"unknown vendor(s) {unknown}: choose among {', '.join(VENDORS)}")
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dagster_instance())
        return _run_all(landing, warehouse, config, vendors, dry_run, instance)


def _run_all(landing, warehouse, config, vendors, dry_run, instance) -> PipelineRun:
    from contact_pipelines.core.landing import scan_landing
    from contact_pipelines.core.warehouse import Warehouse
    from contact_pipelines.defs.partitions import landed_files, shards
    from contact_pipelines.defs.resources import pipeline_resource

    defs = load_definitions()
    run = PipelineRun(summary={})
    pipeline_config = load_config(config)
    vendors = tuple(v for v in vendors if getattr(pipeline_config.vendors, v).enabled)
    state_dir = pipeline_resource().state_dir()
    landed = scan_landing(Path(landing), cache_path=state_dir / "landing_hashes.json")
    keys = [f.partition_key for f in landed]
    known = set(instance.get_dynamic_partitions(landed_files.name))
    instance.add_dynamic_partitions(landed_files.name, [k for k in keys if k not in known])

    ingest = defs.resolve_job_def("ingest_job")
    for key in keys:
        _execute(run, ingest, "ingest", key, instance)

    _execute(run, defs.resolve_job_def("identity_job"), "identity", "all", instance)
    if any(f.stage == "identity" for f in run.failures):
        run.summary = build_summary(Warehouse(warehouse), _current(keys, warehouse), [], vendors)
        return run

    selection = [dg.AssetKey(a) for a in SHARD_STAGE_ASSETS] + [
        dg.AssetKey(f"{v}_sync") for v in vendors
    ]
    run_config = {"ops": {f"{v}_sync": {"config": {"dry_run": dry_run}} for v in vendors}}
    shard_job = defs.resolve_job_def("shard_sync_job")
    sync_run_ids = []
    for shard in shards.get_partition_keys():
        result = _execute(run, shard_job, "shard", shard, instance, selection, run_config)
        sync_run_ids.append(result.run_id)
    run.summary = build_summary(
        Warehouse(warehouse), _current(keys, warehouse), sync_run_ids, vendors
    )
    return run


def _current(keys: list[str], warehouse: str) -> list[str]:
    from contact_pipelines.core import stages
    from contact_pipelines.core.warehouse import Warehouse

    return stages.current_file_partitions(keys, Warehouse(warehouse))


def _console_log_level() -> str:
    # the runs' full logs are in the instance (and the UI); the terminal gets warnings
    return os.environ.get("CONTACT_PIPELINES_LOG_LEVEL", "WARNING").upper()


def _execute(run, job, stage, partition, instance, selection=None, run_config=None):
    run_config = {
        **(run_config or {}),
        "loggers": {"console": {"config": {"log_level": _console_log_level()}}},
    }
    result = job.execute_in_process(
        instance=instance,
        partition_key=None if partition == "all" else partition,
        raise_on_error=False,
        asset_selection=selection,
        run_config=run_config,
        tags={"contact_pipelines/launched_by": "cli"},
    )
    run.run_ids.append(result.run_id)
    if not result.success:
        run.failures.append(RunFailure(stage, partition, _failure_message(result)))
    return result


def _failure_message(result) -> str:
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        # the user's own exception is the innermost cause; Dagster wraps it
        while error is not None and error.cause is not None:
            error = error.cause
        messages.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            messages.append(
                f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
            )
    return "; ".join(messages) or "run failed (see the Dagster run log)"
