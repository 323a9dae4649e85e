"""Time ``read_export(...).chunks()`` against ``pyarrow.csv.read_csv`` on one generated CSV.

    .venv/bin/python benchmarks/bench_ingest.py --size-mb 1024

Generates a contacts CSV of about ``--size-mb`` megabytes (quoted names with
commas, empty values, a Cyrillic city now and then, like a real CRM export),
then measures, each in its own child process so that peak memory does not
mix: pyarrow reading the whole file into one table, and our reader streaming
it chunk by chunk. Prints rows/s, MB/s, wall time, peak RSS and the ratio of
our time to pyarrow's (target: at most 2.0). Pass ``--keep`` to reuse the file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEADER = "Client ID,E-mail,Mobile Phone,First Name,Last Name,City,Postcode,Birth Date,Plan\n"
ROWS_PER_BATCH = 200_000


def generate_csv(path: Path, size_mb: int, seed: int = 7) -> int:
    """Write batches of vectorised rows until the file reaches the size; return the row count."""
    rng = np.random.default_rng(seed)
    target = size_mb * 1024 * 1024
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write(HEADER)
        while stream.tell() < target:
            stream.write(_batch(rng, rows))
            rows += ROWS_PER_BATCH
    return rows


def _batch(rng: np.random.Generator, first: int) -> str:
    ids = np.arange(first, first + ROWS_PER_BATCH).astype(str)
    phones = np.char.add(
        "+38067", np.char.zfill(rng.integers(0, 10**7, ROWS_PER_BATCH).astype(str), 7)
    )
    phones = np.where(rng.random(ROWS_PER_BATCH) < 0.2, "", phones)
    last = np.where(rng.random(ROWS_PER_BATCH) < 0.1, '"Doe, Jr."', np.char.add("Doe", ids))
    city = np.where(rng.random(ROWS_PER_BATCH) < 0.3, "Київ", "Lviv")
    postcode = np.char.zfill(rng.integers(0, 99999, ROWS_PER_BATCH).astype(str), 5)
    born = np.where(rng.random(ROWS_PER_BATCH) < 0.5, "1990-05-17", "")
    columns = [
        np.char.add("C", ids),
        np.char.add(np.char.add("user", ids), "@example.com"),
        phones,
        np.char.add("Name", ids),
        last,
        city,
        postcode,
        born,
        np.where(rng.random(ROWS_PER_BATCH) < 0.5, "gold", "silver"),
    ]
    lines = columns[0]
    for column in columns[1:]:
        lines = np.char.add(np.char.add(lines, ","), column)
    return "\n".join(lines.tolist()) + "\n"


# --- measurements, each run in a child process ------------------------------


def measure_pyarrow(path: str) -> dict:
    import pyarrow.csv as pa_csv

    started = time.perf_counter()
    table = pa_csv.read_csv(path)
    return {"rows": table.num_rows, "seconds": time.perf_counter() - started}


def measure_reader(path: str) -> dict:
    from contact_pipelines.core.readers import read_export

    started = time.perf_counter()
    export = read_export(path)
    rows = sum(chunk.num_rows for chunk in export.chunks())
    return {"rows": rows, "seconds": time.perf_counter() - started}


def measure_raw_contacts(path: str) -> dict:
    """The whole raw_contacts stage: read, then stream Parquet into a throwaway warehouse."""
    from contact_pipelines.core import stages
    from contact_pipelines.core.config import PipelineConfig
    from contact_pipelines.core.warehouse import Warehouse

    with tempfile.TemporaryDirectory() as warehouse_dir:
        started = time.perf_counter()
        stats = stages.ingest_file(
            Path(path), "bench.csv@0", PipelineConfig(), Warehouse(warehouse_dir)
        )
        return {"rows": stats.rows, "seconds": time.perf_counter() - started}


MEASUREMENTS = {
    "pyarrow": measure_pyarrow,
    "reader": measure_reader,
    "raw_contacts": measure_raw_contacts,
}


def run_child(which: str, path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout)


def child_main(which: str, path: str) -> None:
    result = MEASUREMENTS[which](path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def report(label: str, result: dict, size_mb: float) -> None:
    seconds = result["seconds"]
    print(
        f"{label:<22} {result['rows']:>12,} rows  {seconds:8.2f} s  "
        f"{result['rows'] / seconds:>12,.0f} rows/s  {size_mb / seconds:8.1f} MB/s  "
        f"peak RSS {result['peak_rss_mb']:8.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--path", type=Path, help="where to write the CSV (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated file")
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(*args.child)
        return
    path = args.path or Path(tempfile.gettempdir()) / f"bench_contacts_{args.size_mb}mb.csv"
    if not (args.keep and path.exists()):
        started = time.perf_counter()
        rows = generate_csv(path, args.size_mb)
        print(f"generated {path} ({rows:,} rows) in {time.perf_counter() - started:.1f} s")
    size_mb = path.stat().st_size / 1024 / 1024
    print(f"file: {size_mb:,.0f} MB")
    try:
        arrow = run_child("pyarrow", path)
        ours = run_child("reader", path)
        stage = run_child("raw_contacts", path)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    report("pyarrow.csv.read_csv", arrow, size_mb)
    report("read_export().chunks()", ours, size_mb)
    report("raw_contacts (+Parquet)", stage, size_mb)
    if arrow["rows"] != ours["rows"]:
        print(f"ROW COUNT MISMATCH: pyarrow {arrow['rows']:,} vs reader {ours['rows']:,}")
    print(f"ratio reader/pyarrow time: {ours['seconds'] / arrow['seconds']:.2f}x (target <= 2.0)")
    print(f"ratio raw_contacts/pyarrow time: {stage['seconds'] / arrow['seconds']:.2f}x")


if __name__ == "__main__":
    main()
