"""`contact-pipelines run`: every stage for every landed file and every shard, through Dagster.

Each landed file is one ingest run (a failure stays in its own partition), then one
identity run over the whole base, then one run per shard for cards, segments and
the selected vendor syncs. Runs go to the instance in ``DAGSTER_HOME`` when set,
else to a temporary instance, so they show in the UI like scheduled runs do.

Ingest runs, and then shard runs, execute ``parallel`` at a time, each in a
worker process of its own against the same instance (a process, not a thread:
the stages are CPU-bound and a shard's memory is returned when its run ends).
A file already ingested with the same content, source config and core code is
not ingested again unless ``reingest`` is set: a nightly run re-reads only the
files that changed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from contact_pipelines.core.config import CONFIG_ENV_VAR, load_config
from contact_pipelines.core.summary import build_summary

VENDORS = ("reteno", "dotdigital", "pushtech")
SHARD_STAGE_ASSETS = ("contact_cards", "segment_memberships")
DEFAULT_PARALLEL = 2  # runs at once: one per core of a small machine
INGESTED_FILE = "ingested.json"  # state: partition key -> fingerprint of the config that read it


@dataclass(frozen=True)
class _RunTask:
    """One Dagster run to execute; plain values, so it can go to a worker process."""

    job: str
    stage: str
    partition: str
    selection: tuple[str, ...] | None = None
    run_config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _RunOutcome:
    task: _RunTask
    run_id: str
    success: bool
    message: str = ""


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


_DEFINITION_ENV_PREFIXES = ("CONTACT_PIPELINES_", "RETENO_", "DOTDIGITAL_", "PUSHTECH_")


def load_definitions() -> dg.Definitions:
    """The definitions as the environment configures them now (paths, vendor endpoints)."""
    settings = tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith(_DEFINITION_ENV_PREFIXES)
        )
    )
    return _definitions_for(settings)


@functools.lru_cache(maxsize=4)
def _definitions_for(settings: tuple) -> dg.Definitions:
    # loaded once per environment: a worker process runs many runs with one environment
    from contact_pipelines.definitions import defs

    return defs() if callable(defs) else defs


def run_pipeline(
    landing: Path,
    warehouse: str,
    config: str | None = None,
    vendors: tuple[str, ...] = VENDORS,
    dry_run: bool = False,
    instance: dg.DagsterInstance | None = None,
    parallel: int = DEFAULT_PARALLEL,
    reingest: bool = False,
) -> PipelineRun:
    """Run every stage; return the summary and every failure (never raise for a stage failure)."""
    if parallel < 1:
        raise ValueError(f"--parallel {parallel}: give at least 1 run at a time")
    configure_environment(landing, warehouse, config)
    unknown = sorted(set(vendors) - set(VENDORS))
    if unknown:
        raise ValueError(f"unknown vendor(s) {unknown}: choose among {', '.join(VENDORS)}")
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dagster_instance())
        runs = _RunExecutor(instance, parallel)
        stack.enter_context(runs)
        return _run_all(landing, warehouse, config, vendors, dry_run, runs, reingest)


def _run_all(landing, warehouse, config, vendors, dry_run, runs, reingest) -> PipelineRun:
    from contact_pipelines.core.landing import scan_landing
    from contact_pipelines.core.warehouse import Warehouse
    from contact_pipelines.defs.partitions import landed_files, shards
    from contact_pipelines.defs.resources import pipeline_resource

    run = PipelineRun(summary={})
    pipeline_config = load_config(config)
    vendors = tuple(v for v in vendors if getattr(pipeline_config.vendors, v).enabled)
    state_dir = pipeline_resource().state_dir()
    landed = scan_landing(Path(landing), cache_path=state_dir / "landing_hashes.json")
    keys = [f.partition_key for f in landed]
    instance = runs.instance
    known = set(instance.get_dynamic_partitions(landed_files.name))
    instance.add_dynamic_partitions(landed_files.name, [k for k in keys if k not in known])

    ingested = _IngestedFiles(state_dir / INGESTED_FILE, pipeline_config, Warehouse(warehouse))
    to_ingest = keys if reingest else [k for k in keys if not ingested.is_current(k)]
    outcomes = runs.execute(run, [_RunTask("ingest_job", "ingest", key) for key in to_ingest])
    ingested.record([o.task.partition for o in outcomes if o.success])

    runs.execute(run, [_RunTask("identity_job", "identity", "all")])
    if any(f.stage == "identity" for f in run.failures):
        run.summary = build_summary(Warehouse(warehouse), _current(keys, warehouse), [], vendors)
        return run

    selection = (*SHARD_STAGE_ASSETS, *(f"{v}_sync" for v in vendors))
    run_config = {"ops": {f"{v}_sync": {"config": {"dry_run": dry_run}} for v in vendors}}
    shard_tasks = [
        _RunTask("shard_sync_job", "shard", shard, selection, run_config)
        for shard in shards.get_partition_keys()
    ]
    sync_run_ids = [o.run_id for o in runs.execute(run, shard_tasks)]
    run.summary = build_summary(
        Warehouse(warehouse), _current(keys, warehouse), sync_run_ids, vendors
    )
    return run


class _IngestedFiles:
    """Which landed files were ingested, and with which source config.

    A partition key carries the file's content hash, so the same key with the
    same fingerprint (the sources, the default region and the core's code)
    would give the same rows again: the run skips it."""

    def __init__(self, path: Path, config, warehouse):
        from contact_pipelines.core import stages

        self.path, self.warehouse, self.asset = path, warehouse, stages.VALIDATED
        reading = {
            "sources": [s.model_dump() for s in config.sources],
            "default_region": config.default_region,
            "code": _core_code_hash(),
        }
        text = json.dumps(reading, sort_keys=True, default=str)
        self.fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.known = json.loads(path.read_text()) if path.is_file() else {}

    def is_current(self, key: str) -> bool:
        return self.known.get(key) == self.fingerprint and self.warehouse.exists(self.asset, key)

    def record(self, keys: list[str]) -> None:
        self.known.update({key: self.fingerprint for key in keys})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.known, indent=1, sort_keys=True))


@functools.cache
def _core_code_hash() -> str:
    """The core's source, hashed: a changed reader or rule re-ingests every file."""
    core = Path(__file__).parent / "core"
    digest = hashlib.sha256()
    for path in sorted(core.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class _RunExecutor:
    """Executes runs in process one by one, or ``parallel`` at a time in worker processes.

    Workers are spawned (not forked: the parent may hold threads, such as the demo's
    sandbox) once, load the definitions once, and reach the same instance by its ref.
    An ephemeral instance lives only in this process, so it runs everything here."""

    def __init__(self, instance: dg.DagsterInstance, parallel: int):
        self.instance, self.parallel, self.pool = instance, parallel, None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def execute(self, run: PipelineRun, tasks: list[_RunTask]) -> list[_RunOutcome]:
        if self.parallel > 1 and len(tasks) > 1 and not self.instance.is_ephemeral:
            _initialise_pools(self.instance, {task.job for task in tasks})
            ref = self.instance.get_ref()
            outcomes = list(self._workers().map(_execute_in_worker, [ref] * len(tasks), tasks))
        else:
            outcomes = [_execute_task(self.instance, task) for task in tasks]
        for outcome in outcomes:
            run.run_ids.append(outcome.run_id)
            if not outcome.success:
                run.failures.append(
                    RunFailure(outcome.task.stage, outcome.task.partition, outcome.message)
                )
        return outcomes

    def _workers(self) -> ProcessPoolExecutor:
        if self.pool is None:
            spawn = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=self.parallel, mp_context=spawn)
        return self.pool


def _initialise_pools(instance: dg.DagsterInstance, job_names: set[str]) -> None:
    """Create each pool's limit row before runs start side by side.

    Dagster creates it on a pool's first use; two runs doing so at the same moment
    race on PostgreSQL (a unique-key violation fails one of them)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    defs = load_definitions()
    pools = {
        pool
        for name in job_names
        for node_def in defs.resolve_job_def(name).graph.node_defs
        if (pool := getattr(node_def, "pool", None))
    }
    for pool in sorted(pools):
        storage.initialize_concurrency_limit_to_default(pool)


def _execute_in_worker(instance_ref, task: _RunTask) -> _RunOutcome:
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        return _execute_task(instance, task)


def _current(keys: list[str], warehouse: str) -> list[str]:
    from contact_pipelines.core import stages
    from contact_pipelines.core.warehouse import Warehouse

    return stages.current_file_partitions(keys, Warehouse(warehouse))


def _console_log_level() -> str:
    # the runs' full logs are in the instance (and the UI); the terminal gets warnings
    return os.environ.get("CONTACT_PIPELINES_LOG_LEVEL", "WARNING").upper()


def _execute_task(instance: dg.DagsterInstance, task: _RunTask) -> _RunOutcome:
    from contact_pipelines.defs.orchestration.sensors import CLI, LAUNCHED_BY_TAG

    run_config = {
        **task.run_config,
        "loggers": {"console": {"config": {"log_level": _console_log_level()}}},
    }
    selection = [dg.AssetKey(name) for name in task.selection] if task.selection else None
    result = (
        load_definitions()
        .resolve_job_def(task.job)
        .execute_in_process(
            instance=instance,
            partition_key=None if task.partition == "all" else task.partition,
            raise_on_error=False,
            asset_selection=selection,
            run_config=run_config,
            tags={LAUNCHED_BY_TAG: CLI},
        )
    )
    message = "" if result.success else _failure_message(result)
    return _RunOutcome(task, result.run_id, result.success, message)


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
