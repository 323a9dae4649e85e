"""Time identity_graph and contact_cards the way the pipeline runs them.

    .venv/bin/python benchmarks/bench_identity.py --rows 1000000 [--shards 8] [--parallel 2]
        [--keep DIR] [--reuse]

Generates N validated rows (``VALIDATED_SCHEMA``, in four export files) for people
with 8% duplicate rows (the same person again in a later export, with some of
its identifiers and a newer timestamp), writes them to a temporary warehouse as
validated_contacts partitions, then runs, each in a fresh process as Dagster
runs them:

1. ``stages.resolve_base``: identity over the whole base (identifier columns only);
2. ``stages.build_shard_cards`` once per shard.

It prints wall time and peak memory (the process's ru_maxrss) per stage, then
the pipeline figure: identity + the wall time of the shards, run ``--parallel``
at a time as the pipeline's shard runs overlap, and the largest peak of any
one process. Generation and writing are not timed; ``--reuse`` keeps the base
already in ``--keep`` instead of generating it again.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core import stages
from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.fields import VALIDATED_SCHEMA
from contact_pipelines.core.warehouse import Warehouse

FILES = ("crm.csv", "shop.xlsx", "app.json", "newsletter.txt")
PLANS = pa.array(["free", "basic", "gold", "platinum"])
STATUSES = pa.array(["subscribed", "unsubscribed"])
SEGMENTS = pa.array(["Customers", "VIP", "Newsletter"])
CITIES = pa.array(["Kyiv", "Lviv", "Warszawa", "Kraków", "Odesa", None])


def generated_rows(rows: int, duplicate_share: float, seed: int = 1) -> pa.Table:
    """Validated rows; the first (1 - share) are one row per person, the rest duplicates."""
    rng = np.random.default_rng(seed)
    people = int(rows * (1 - duplicate_share))
    is_duplicate = np.arange(rows) >= people
    person = np.concatenate([np.arange(people), rng.integers(0, people, rows - people)])
    label = pa.array(person).cast(pa.string())

    def sometimes(share: float, values: pa.Array) -> pa.Array:
        # a duplicate row keeps about two thirds of what its person has
        keep = (rng.random(rows) < share) & (~is_duplicate | (rng.random(rows) < 0.67))
        return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))

    def text(*parts) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    file_index = np.where(is_duplicate, rng.integers(1, len(FILES), rows), 0)
    month = np.where(is_duplicate, 6, 1 + person % 5)
    columns = {
        "source_file": pa.array(FILES).take(pa.array(file_index)),
        "source_row": pa.array(np.arange(1, rows + 1), pa.int64()),
        "source_name": pa.array(FILES).take(pa.array(file_index)),
        "source_priority": pa.array(file_index.astype(np.int32)),
        "external_id": sometimes(0.5, text("C", label)),
        "email": sometimes(0.8, text("user", label, "@mail.test")),
        "phone": sometimes(0.6, text("+38067", pc.utf8_lpad(label, 7, "0"))),
        "first_name": sometimes(0.7, text("Name", label)),
        "last_name": sometimes(0.6, text("Surname", label)),
        "country": sometimes(0.9, pa.array(["UA", "PL"]).take(pa.array(person % 2))),
        "city": sometimes(0.5, CITIES.take(pa.array(person % len(CITIES)))),
        "email_status": sometimes(
            0.6, pa.array(np.where(person % 7, "subscribed", "unsubscribed"))
        ),
        "updated_at": sometimes(
            0.8, text("2024-0", pa.array(month).cast(pa.string()), "-01T00:00:00Z")
        ),
        "groups": _groups(rng, rows),
        "fields": _plan_fields(rng, rows),
    }
    return pa.table({f.name: columns.get(f.name, pa.nulls(rows, f.type)) for f in VALIDATED_SCHEMA})


def _groups(rng: np.random.Generator, rows: int) -> pa.Array:
    """A fifth of the rows carry one or two segment names."""
    counts = np.where(rng.random(rows) < 0.2, rng.integers(1, 3, rows), 0)
    names = SEGMENTS.take(pa.array(rng.integers(0, len(SEGMENTS), counts.sum())))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    return pa.ListArray.from_arrays(offsets, names)


def _plan_fields(rng: np.random.Generator, rows: int) -> pa.Array:
    """A third of the rows carry the additional field plan_type."""
    counts = (rng.random(rows) < 0.3).astype(np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    keys = pa.array(["plan_type"] * int(counts.sum()), pa.string())
    return pa.MapArray.from_arrays(offsets, keys, PLANS.take(rng.integers(0, 4, counts.sum())))


def write_base(rows: pa.Table, warehouse: Warehouse) -> list[str]:
    """One validated_contacts partition per export file, as validation writes them."""
    partitions = []
    for name in FILES:
        partition = f"{name}@bench"
        warehouse.write(
            stages.VALIDATED, partition, rows.filter(pc.equal(rows["source_file"], name))
        )
        partitions.append(partition)
    return partitions


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(stage: str, warehouse_dir: str, partitions: list[str], shards: int, shard: int):
    """In this (fresh) process: one stage, then its figures as JSON on stdout.

    ``generate`` writes the base (``shard`` then holds the row count)."""
    warehouse = Warehouse(warehouse_dir)
    started = time.perf_counter()
    if stage == "generate":
        rows = generated_rows(int(shard), 0.08)
        print(json.dumps({"partitions": write_base(rows, warehouse), "peak_mb": peak_mb()}))
        return
    if stage == "identity":
        stats = stages.resolve_base(partitions, PipelineConfig(shards=shards), warehouse)
        size = {"rows": stats.rows, "contacts": stats.contacts}
    else:
        stats = stages.build_shard_cards(shard, partitions, warehouse)
        size = {"rows": stats.counts.get("source_rows", 0), "contacts": stats.rows}
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), **size}))


def in_fresh_process(args: list[str]) -> dict:
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"stage {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_shards(shards: int, parallel: int, common: list[str]) -> list[dict]:
    """contact_cards for every shard, ``parallel`` processes at a time, as the pipeline's
    pool lets that many shard runs overlap."""

    def one(shard: int) -> dict:
        figures = in_fresh_process(["--stage", "cards", "--shard", str(shard), *common])
        print(
            f"contact_cards[{shard}]: {figures['seconds']:.1f} s, {figures['rows']:,} rows -> "
            f"{figures['contacts']:,} cards; peak {figures['peak_mb']:,.0f} MB",
            flush=True,
        )
        return figures

    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, range(shards)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument(
        "--parallel", type=int, default=2, help="shard processes at a time (default: 2, the cores)"
    )
    parser.add_argument("--keep", help="warehouse folder to keep (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="reuse the base in --keep")
    parser.add_argument(
        "--stage", choices=["generate", "identity", "cards"], help=argparse.SUPPRESS
    )
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--partitions", help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        partitions = (args.partitions or "").split(",")
        return run_stage(args.stage, args.warehouse, partitions, args.shards, args.shard)

    with tempfile.TemporaryDirectory(prefix="bench-identity-") as scratch:
        warehouse_dir = args.keep or scratch
        Path(warehouse_dir).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # generated in a child too: Linux carries a parent's peak RSS into its children's
        generate = ["--stage", "generate", "--warehouse", warehouse_dir, "--shard", str(args.rows)]
        partitions = Warehouse(warehouse_dir).partitions(stages.VALIDATED) if args.reuse else []
        if not partitions:
            partitions = in_fresh_process(generate)["partitions"]
            print(
                f"generated and wrote {args.rows:,} rows in {time.perf_counter() - started:.1f} s"
            )
        common = ["--warehouse", warehouse_dir, "--partitions", ",".join(partitions)]
        common += ["--shards", str(args.shards)]
        identity = in_fresh_process(["--stage", "identity", *common])
        print(
            f"identity_graph: {identity['seconds']:.1f} s, {identity['rows']:,} rows -> "
            f"{identity['contacts']:,} contacts; peak {identity['peak_mb']:,.0f} MB"
        )
        cards_started = time.perf_counter()
        shards = run_shards(args.shards, args.parallel, common)
        cards_wall = time.perf_counter() - cards_started
        peak = max(identity["peak_mb"], *(f["peak_mb"] for f in shards))
        print(
            f"total: identity {identity['seconds']:.1f} s + cards {cards_wall:.1f} s wall "
            f"({args.parallel} shard processes at a time; "
            f"{sum(f['seconds'] for f in shards):.1f} s summed) "
            f"= {identity['seconds'] + cards_wall:.1f} s; largest process peak {peak:,.0f} MB, "
            f"at most {args.parallel} at once; {sum(f['contacts'] for f in shards):,} cards"
        )


if __name__ == "__main__":
    main()
