"""Migrations of generated bases through the real pipeline into the sandbox, then a nightly sync.

    .venv/bin/python benchmarks/bench_migration.py --rows 1000000,3000000 [--changes 0.01]
        [--parallel 2] [--work DIR]

For each size: generates N rows (4 files: CSV, cp1251 TXT, XLSX, JSON; 8%
duplicates, 3% invalid), runs ``contact-pipelines run`` (every stage through
Dagster, ``--parallel`` runs at a time) against the vendor sandbox, then
generates the next night with a share of people changed, added or removed and
runs it again. Each of the three parts runs in its own process, so the figures
are the pipeline's own: the sandbox is a further process, as a vendor would be.

Prints one table: per size and night, per stage, the wall time of its phase
(ingest runs, the identity run, the shard runs: first start to last end, from
the Dagster run records), the step time summed over runs, rows (or contacts)
per second of phase wall time, the
peak RSS of the largest pipeline process (the runner or one of its workers),
and what each vendor was sent. Ends with the per-row cost of each size, to see
whether cost grows linearly.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sandbox_process

PHASES = {"ingest": ("ingest",), "identity": ("identity",)}  # the rest: the shard runs
STAGES = {  # step key prefix -> stage in the table
    "raw_contacts": "ingest",
    "validated_and_rejected_contacts": "ingest",
    "identity_graph": "identity",
    "contact_cards": "cards",
    "segment_memberships": "segments",
    "reteno_sync": "reteno",
    "dotdigital_sync": "dotdigital",
    "pushtech_sync": "pushtech",
}
RATE_BASIS = {"ingest": "rows_read", "identity": "rows_valid"}  # else: contacts


def peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


# --- in a child process: one pipeline run -------------------------------------


def run_once(landing: str, warehouse: str, config: str, parallel: int) -> None:
    import dagster as dg

    from contact_pipelines.runner import run_pipeline

    started = time.perf_counter()
    outcome = run_pipeline(Path(landing), warehouse, config, parallel=parallel)
    wall = time.perf_counter() - started
    stages = stage_times(dg.DagsterInstance.get(), outcome.run_ids)
    figures = {
        "wall": wall,
        "stages": stages,
        "summary": outcome.summary,
        "failures": [str(f) for f in outcome.failures],
        "peak_mb": max(peak_mb(resource.RUSAGE_SELF), peak_mb(resource.RUSAGE_CHILDREN)),
    }
    print(json.dumps(figures))


def stage_times(instance, run_ids: list[str]) -> dict[str, dict]:
    """Per stage: summed step time over its runs, and the wall time of its phase.

    Runs overlap (``--parallel``) and a shard run holds cards, segments and the
    syncs, so a stage's own wall time is not defined; its phase's is: from the
    first run start to the last run end of the ingest runs, of the identity run,
    and of the shard runs."""
    spans: dict[str, list] = defaultdict(list)
    phase_spans: dict[str, list] = defaultdict(list)
    for run_id in run_ids:
        steps = instance.get_run_step_stats(run_id)
        for step in steps:
            stage = STAGES.get(step.step_key.split("[")[0])
            if stage and step.start_time and step.end_time:
                spans[stage].append(step.end_time - step.start_time)
        stats = instance.get_run_stats(run_id)
        stage_names = {STAGES.get(s.step_key.split("[")[0]) for s in steps}
        phase = next((p for p, names in PHASES.items() if stage_names & set(names)), "shards")
        phase_spans[phase].append((stats.start_time, stats.end_time))
    walls = {
        phase: max(end for _, end in times) - min(start for start, _ in times)
        for phase, times in phase_spans.items()
    }
    phase_of = {stage: p for p, names in PHASES.items() for stage in names}
    return {
        stage: {"summed": sum(times), "phase_wall": walls[phase_of.get(stage, "shards")]}
        for stage, times in spans.items()
    }


# --- in this process: orchestration and the table ----------------------------


def in_child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"{args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def generate(rows: int | None, out: Path, changes_from: Path | None, changes: float) -> dict:
    started = time.perf_counter()
    command = ["-m", "contact_pipelines.cli", "generate", "--out", str(out)]
    command += ["--changes", str(changes), "--from", str(changes_from)] if changes_from else []
    command += ["--rows", str(rows)] if rows else []
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"generate failed:\n{done.stderr[-3000:]}")
    return {"seconds": time.perf_counter() - started, "report": done.stdout.strip()}


def migrate(rows: int, work: Path, changes: float, parallel: int) -> list[dict]:
    from contact_pipelines.cli import seed_sandbox_fields
    from contact_pipelines.core.config import load_config

    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    sandbox = sandbox_process.SandboxProcess()
    env = {**os.environ, **sandbox.env(), "DAGSTER_HOME": str(home)}
    env.pop("CONTACT_PIPELINES_LEDGER_URL", None)
    nights = []
    try:
        for night, changes_from in (("migration", None), ("nightly", work / "night1")):
            out = work / ("night1" if changes_from is None else "night2")
            generated = generate(rows if changes_from is None else None, out, changes_from, changes)
            print(f"{rows:,} rows, {night}: generated in {generated['seconds']:.0f} s", flush=True)
            config = out / "pipeline.yaml"
            if changes_from is None:
                seed_sandbox_fields(sandbox, load_config(config))
            command = ["--run", str(out / "landing"), str(work / "warehouse"), str(config)]
            figures = in_child([*command, "--parallel", str(parallel)], env)
            nights.append({"rows": rows, "night": night, **figures})
            print_night(nights[-1])
    finally:
        sandbox.stop()
    return nights


def print_night(night: dict) -> None:
    summary = night["summary"]
    print(
        f"\n{night['rows']:,} rows, {night['night']}: {night['wall']:,.1f} s end to end; "
        f"largest process {night['peak_mb']:,.0f} MB"
    )
    print(f"  {'stage':<11} {'phase wall s':>12} {'step s summed':>14} {'count':>11} {'per s':>9}")
    for stage, times in night["stages"].items():
        count = summary.get(RATE_BASIS.get(stage, "contacts"), 0)
        rate = count / times["phase_wall"] if times["phase_wall"] else 0
        print(
            f"  {stage:<11} {times['phase_wall']:>12.1f} {times['summed']:>14.1f} "
            f"{count:>11,} {rate:>9,.0f}"
        )
    for vendor, counts in summary.get("vendors", {}).items():
        print(f"  {vendor:<11} " + "  ".join(f"{k} {v:,}" for k, v in counts.items()))
    for failure in night["failures"][:3]:
        print(f"  FAILED {failure}")


def print_scaling(nights: list[dict]) -> None:
    print("\nscaling (migration): microseconds of end-to-end wall time per row")
    for night in nights:
        if night["night"] == "migration":
            print(f"  {night['rows']:>12,} rows: {1e6 * night['wall'] / night['rows']:8.1f} µs/row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="comma-separated sizes")
    parser.add_argument("--changes", type=float, default=0.01)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--work", type=Path, help="keep the data here (default: a temp folder)")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_once(*args.run, parallel=args.parallel)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_migration_"))
    nights = []
    for rows in (int(size) for size in args.rows.split(",")):
        nights += migrate(rows, work / f"{rows}", args.changes, args.parallel)
    print_scaling(nights)
    print(f"\ndata in {work}")


if __name__ == "__main__":
    main()
