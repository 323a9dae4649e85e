"""A generated migration, then the next night's sync, through the real pipeline and the sandbox.

    .venv/bin/python benchmarks/bench_migration.py --rows 100000 [--changes 0.01]

Generates N rows (4 files: CSV, cp1251 TXT, XLSX, JSON; 8% duplicates, 3%
invalid), runs `run_pipeline` (every stage through Dagster, on a temporary
instance) against the vendor sandbox in this process, then generates the next
night with a share of people changed and runs the sync again. Prints a table
per stage: wall time summed over that step's runs (from the Dagster run
records), rows per second and the peak RSS of this process (which also holds
the sandbox, so it over-states the pipeline's own memory).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from contact_pipelines import generate as gen
from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core import stages
from contact_pipelines.core.config import load_config
from contact_pipelines.core.warehouse import Warehouse
from contact_pipelines.runner import run_pipeline
from contact_pipelines.sandbox import SandboxServer

# which count a step's rows/s is measured against
ROW_BASIS = {
    "raw_contacts": "rows_read",
    "validated_and_rejected_contacts": "rows_read",
    "identity_graph": "rows_valid",
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_seconds(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, float]:
    """Wall seconds per step key, summed over the runs (one run per file or shard)."""
    totals: dict[str, float] = defaultdict(float)
    for run_id in run_ids:
        for step in instance.get_run_step_stats(run_id):
            if step.start_time and step.end_time:
                totals[step.step_key] += step.end_time - step.start_time
    return dict(totals)


def run_and_time(label, landing, warehouse, config, instance) -> tuple[dict, float]:
    started = time.perf_counter()
    outcome = run_pipeline(landing, warehouse, str(config), instance=instance)
    wall = time.perf_counter() - started
    if outcome.failures:
        print(f"{label}: {len(outcome.failures)} failed run(s): {outcome.failures[0]}")
    print_table(label, step_seconds(instance, outcome.run_ids), outcome.summary, wall)
    return outcome.summary, wall


def print_table(label: str, seconds: dict[str, float], summary: dict, wall: float) -> None:
    print(f"\n{label}: {wall:,.1f} s end to end; peak RSS {peak_mb():,.0f} MB")
    print(f"{'stage':<34} {'wall s':>9} {'rows':>11} {'rows/s':>11}")
    for step, spent in seconds.items():
        rows = summary.get(ROW_BASIS.get(step, "contacts"), 0)
        rate = rows / spent if spent else 0
        print(f"{step:<34} {spent:>9.1f} {rows:>11,} {rate:>11,.0f}")
    for vendor, counts in summary.get("vendors", {}).items():
        print(f"  {vendor:<12} " + "  ".join(f"{k} {v:,}" for k, v in counts.items()))


def score(base: gen.GeneratedBase, warehouse: str) -> str:
    identity = Warehouse(warehouse).read(stages.IDENTITY)
    result = gen.score_identity(pq.read_table(base.truth), identity)
    return f"identity precision {result.precision:.4f} recall {result.recall:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--changes", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep the data here (default: a temp folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_migration_"))
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.pop("CONTACT_PIPELINES_LEDGER_URL", None)

    started = time.perf_counter()
    night1 = gen.generate(args.rows, work / "night1", seed=args.seed)
    print(f"generated {night1.rows:,} rows, {night1.people:,} people in "
          f"{time.perf_counter() - started:,.1f} s; peak RSS {peak_mb():,.0f} MB")  # fmt: skip
    warehouse = str(work / "warehouse")
    with SandboxServer(port=0) as sandbox, dg.DagsterInstance.local_temp() as instance:
        seed_sandbox_fields(sandbox, load_config(night1.config))
        os.environ.update(sandbox.env())
        run_and_time("migration", night1.landing, warehouse, night1.config, instance)
        print(score(night1, warehouse))

        night2 = gen.generate_changes(night1.out, work / "night2", args.changes, seed=args.seed)
        print(f"\nnext night: {night2.changed:,} changed, {night2.added:,} added, "
              f"{night2.removed:,} removed")  # fmt: skip
        run_and_time("nightly sync", night2.landing, warehouse, night2.config, instance)
        print(score(night2, warehouse))
    print(f"\ndata in {work}")


if __name__ == "__main__":
    main()
