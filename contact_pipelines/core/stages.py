"""One function per pipeline stage: read inputs from the warehouse, call the core, write outputs.

These are what the Dagster assets call (and what tests call without Dagster).
Each returns a small stats object the asset turns into metadata. Stages read
back only the columns they need and stream big tables chunk by chunk.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contact_pipelines.core.cards import build_cards
from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.fields import (
    CARD_SCHEMA,
    IDENTITY_SCHEMA,
    MEMBERSHIP_SCHEMA,
    RAW_META_COLUMNS,
    REJECTED_SCHEMA,
    SOURCE_FILE,
    SOURCE_ROW,
    VALIDATED_SCHEMA,
)
from contact_pipelines.core.identity import resolve_identities
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.readers import ReadOptions, read_export
from contact_pipelines.core.segments import compute_memberships
from contact_pipelines.core.validate import validate_chunk
from contact_pipelines.core.warehouse import ARROW, UNPARTITIONED, Warehouse

RAW, VALIDATED, REJECTED = "raw_contacts", "validated_contacts", "rejected_contacts"
IDENTITY, CARDS, MEMBERSHIPS = "identity_graph", "contact_cards", "segment_memberships"
DELIVERY_LOG = "delivery_log"
# validated rows with contact_key and shard, one partition per shard: written with
# identity_graph so each contact_cards run reads its own rows, not the whole base
SHARD_ROWS = "shard_rows"
SHARD_ROWS_SCHEMA = pa.schema(
    [*VALIDATED_SCHEMA, IDENTITY_SCHEMA.field("contact_key"), IDENTITY_SCHEMA.field("shard")]
)
_SHARD_ROW_GROUP = 131_072  # rows buffered per shard before a row group is written
QUARANTINE = "validation_quarantine"  # files whose blocking checks failed with ERROR
ID_COLUMNS = [
    SOURCE_FILE,
    SOURCE_ROW,
    "external_id",
    "email",
    "phone",
    "push_token",
    "webpush_token",
]


@dataclass
class IngestStats:
    rows: int
    chunks: int
    format: str
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    unmapped_headers: list[str]
    row_defects: dict[str, int]
    seconds: float
    preview: pa.Table | None = None


@dataclass
class ValidateStats:
    rows_in: int
    rows_valid: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    warnings: dict[str, int]
    seconds: float
    preview: pa.Table | None = None


@dataclass
class IdentityStats:
    rows: int
    contacts: int
    per_shard: dict[int, int]
    generic_identifiers: list[str]
    conflicts: int
    seconds: float


@dataclass
class ShardStats:
    rows: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    preview: pa.Table | None = None


def ingest_file(
    path: Path, partition_key: str, config: PipelineConfig, warehouse: Warehouse
) -> IngestStats:
    """Read one landed export into raw_contacts/<partition>.parquet, chunk by chunk."""
    started = time.perf_counter()
    source = config.source_for(path.name)
    options = ReadOptions(
        encoding=source.encoding,
        delimiter=source.delimiter,
        sheet=source.sheet,
        display_name=path.name,
    )
    export = read_export(path, options)
    info = export.info
    rows, chunks, defects, preview = 0, 0, Counter(), None
    schema = pa.schema(
        [pa.field(h, pa.string()) for h in info.headers]
        + [
            pa.field(SOURCE_FILE, pa.string()),
            pa.field(SOURCE_ROW, pa.int64()),
            pa.field("row_defect", pa.string()),
        ]
    )
    with warehouse.writer(RAW, partition_key, schema) as writer, _BackgroundWriter(writer) as out:
        for chunk in export.chunks():
            chunk = chunk.select(schema.names).cast(schema)
            out.write(chunk)
            rows += chunk.num_rows
            chunks += 1
            defects.update(value_counts(chunk.column("row_defect")))
            if preview is None:
                preview = chunk.slice(0, 5)
    mapping = resolve_columns(info.headers, source)
    return IngestStats(
        rows=rows,
        chunks=chunks,
        format=info.format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        headers=list(info.headers),
        unmapped_headers=list(mapping.unmapped),
        row_defects=dict(defects),
        seconds=time.perf_counter() - started,
        preview=preview,
    )


class _BackgroundWriter:
    """Write each chunk on a second thread while the next one is read.

    Parquet encoding and the CSV parse both release the GIL, so the two overlap;
    at most one chunk waits, which keeps memory bounded.
    """

    def __init__(self, writer):
        self._writer = writer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._pending = None

    def write(self, table: pa.Table, writer=None) -> None:
        """Queue ``table`` for ``writer`` (the default one when None)."""
        self._wait()
        self._pending = self._pool.submit((writer or self._writer).write_table, table)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a write error here, in the caller
            self._pending = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is None:
                self._wait()
        finally:
            self._pool.shutdown(wait=True)


def value_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """Counts of the non-null values, computed in Arrow (no Python loop over rows)."""
    counted = pc.value_counts(column.drop_null())
    return dict(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    )


def validate_file(
    file_name: str, partition_key: str, config: PipelineConfig, warehouse: Warehouse
) -> ValidateStats:
    """Map and normalise one raw partition into validated_contacts and rejected_contacts."""
    started = time.perf_counter()
    source = config.source_for(file_name)
    raw_file = pq.ParquetFile(warehouse.path(RAW, partition_key), filesystem=warehouse.fs)
    headers = [n for n in raw_file.schema_arrow.names if n not in RAW_META_COLUMNS]
    mapping = resolve_columns(headers, source)
    rows_in, rows_valid, reasons, warnings, preview = 0, 0, Counter(), Counter(), None
    with (
        warehouse.writer(VALIDATED, partition_key, VALIDATED_SCHEMA) as valid_writer,
        warehouse.writer(REJECTED, partition_key, REJECTED_SCHEMA) as rejected_writer,
    ):
        for batch in raw_file.iter_batches(batch_size=100_000):
            result = validate_chunk(pa.Table.from_batches([batch]), mapping, source)
            valid_writer.write_table(result.valid.cast(VALIDATED_SCHEMA))
            rejected_writer.write_table(result.rejected.cast(REJECTED_SCHEMA))
            rows_in += batch.num_rows
            rows_valid += result.valid.num_rows
            reasons.update(value_counts(result.rejected.column("reason")))
            warnings.update(result.warnings)
            if preview is None and result.valid.num_rows:
                preview = result.valid.slice(0, 5)
    return ValidateStats(
        rows_in=rows_in,
        rows_valid=rows_valid,
        rows_rejected=sum(reasons.values()),
        rejected_by_reason=dict(reasons),
        warnings=dict(warnings),
        seconds=time.perf_counter() - started,
        preview=preview,
    )


def resolve_base(
    validated_partitions: list[str], config: PipelineConfig, warehouse: Warehouse
) -> IdentityStats:
    """Connect every validated row of the current files into people: identity_graph."""
    started = time.perf_counter()
    id_rows = warehouse.read_many(
        VALIDATED, validated_partitions, columns=ID_COLUMNS, schema=VALIDATED_SCHEMA
    )
    result = resolve_identities(id_rows, config.shards, config.identity)
    del id_rows
    table = result.table.cast(IDENTITY_SCHEMA)
    warehouse.write(IDENTITY, UNPARTITIONED, table)
    route_rows_to_shards(table, validated_partitions, config.shards, warehouse)
    return IdentityStats(
        rows=table.num_rows,
        contacts=result.contacts,
        per_shard=dict(result.contacts_per_shard),
        generic_identifiers=list(result.generic_identifiers),
        conflicts=result.conflicts,
        seconds=time.perf_counter() - started,
    )


def build_shard_cards(
    shard: int, validated_partitions: list[str], warehouse: Warehouse
) -> ShardStats:
    """Merge the rows of one shard's people into one contact card each."""
    started = time.perf_counter()
    if warehouse.exists(SHARD_ROWS, str(shard), ARROW):
        rows = warehouse.read_arrow(SHARD_ROWS, str(shard))
    else:  # a warehouse whose identity_graph predates shard_rows
        shard_ids = warehouse.read_many(
            IDENTITY, [UNPARTITIONED], schema=IDENTITY_SCHEMA, filter=pc.field("shard") == shard
        )
        rows = _shard_rows(shard_ids, validated_partitions, warehouse)
    cards = build_cards(rows).cast(CARD_SCHEMA) if rows.num_rows else CARD_SCHEMA.empty_table()
    warehouse.write(CARDS, str(shard), cards)
    return ShardStats(
        rows=cards.num_rows,
        seconds=time.perf_counter() - started,
        counts={"source_rows": rows.num_rows},
        preview=cards.slice(0, 5),
    )


def build_shard_segments(
    shard: int, config: PipelineConfig, warehouse: Warehouse, today: date | None = None
) -> ShardStats:
    """Who belongs to which segment, for one shard's cards."""
    started = time.perf_counter()
    cards = warehouse.read(CARDS, str(shard))
    memberships = compute_memberships(cards, list(config.segments), today or date.today())
    memberships = memberships.cast(MEMBERSHIP_SCHEMA)
    warehouse.write(MEMBERSHIPS, str(shard), memberships)
    per_segment = value_counts(memberships["segment"])
    return ShardStats(
        rows=memberships.num_rows,
        seconds=time.perf_counter() - started,
        counts=dict(per_segment),
        preview=memberships.slice(0, 5),
    )


def delivery_partition(vendor: str, shard: int, run_id: str) -> str:
    return f"{vendor}-{shard}-{run_id}"


def deliver_shard(
    vendor: str,
    shard: int,
    config: PipelineConfig,
    warehouse: Warehouse,
    credentials,
    ledger,
    run_id: str,
    dry_run: bool = False,
    dry_run_dir: Path | None = None,
    logger=None,
):
    """Send one shard's changed cards to one vendor; write its delivery_log partition."""
    from contact_pipelines.core.delivery.sync import run_vendor_sync

    cards = warehouse.read(CARDS, str(shard))
    memberships = warehouse.read(MEMBERSHIPS, str(shard))
    result = run_vendor_sync(
        vendor,
        cards,
        memberships,
        config,
        credentials,
        ledger,
        run_id=run_id,
        shard=shard,
        dry_run=dry_run,
        dry_run_dir=dry_run_dir,
        logger=logger,
        mask_dry_run=config.dry_run_masked,
    )
    if not dry_run:
        warehouse.write(DELIVERY_LOG, delivery_partition(vendor, shard, run_id), result.log)
    return result


class LandedFileMissing(FileNotFoundError):
    """The partition's file is no longer in the landing folder with that content."""


def locate_landed_file(landing_dir: Path, partition_key: str, cache_path: Path | None = None):
    """The landed file whose name and content give this partition key."""
    from contact_pipelines.core.landing import partition_key_file_name, scan_landing

    landed = scan_landing(landing_dir, cache_path=cache_path)
    for landed_file in landed:
        if landed_file.partition_key == partition_key:
            return landed_file
    name = partition_key_file_name(partition_key)
    same_name = [f.partition_key for f in landed if f.name == name]
    if same_name:
        raise LandedFileMissing(
            f"{name}: the landing folder now holds different content ({same_name[0]}) than "
            f"partition {partition_key}; the newer version is its own partition, materialize that one"
        )
    raise LandedFileMissing(
        f"{name}: not found in the landing folder {landing_dir}; land the file again to ingest it"
    )


def current_file_partitions(keys_in_order: list[str], warehouse: Warehouse) -> list[str]:
    """The base today: per file name, the newest validated partition not quarantined.

    A re-landed file supersedes the old; a quarantined version (a blocking check failed
    with ERROR) is skipped, so the previous good version of that file, if any, is used.
    """
    usable = set(warehouse.partitions(VALIDATED)) - quarantined_partitions(warehouse)
    return latest_partition_per_file([k for k in keys_in_order if k in usable])


def latest_partition_per_file(partition_keys: list[str]) -> list[str]:
    """Of partition keys in the order they were added, the newest per file name."""
    from contact_pipelines.core.landing import partition_key_file_name

    latest: dict[str, str] = {}
    for key in partition_keys:
        latest[partition_key_file_name(key)] = key
    return list(latest.values())


def route_rows_to_shards(
    identity: pa.Table, validated_partitions: list[str], shards: int, warehouse: Warehouse
) -> None:
    """Write every validated row, with its contact_key and shard, to its shard's partition.

    One streaming pass over the base (a batch at a time, rows buffered per shard up
    to a row group), so each contact_cards run later reads only its own rows:
    reading cost stays linear in the base whatever the number of shards. Parquet
    encoding runs on a second thread while the next batch is read.
    """
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(warehouse.arrow_writer(SHARD_ROWS, str(shard), SHARD_ROWS_SCHEMA))
            for shard in range(shards)
        ]
        pending = _ShardBuffers(writers, stack.enter_context(_BackgroundWriter(None)))
        for rows in _rows_with_identity(identity, validated_partitions, warehouse):
            pending.add(rows)
        pending.flush()
    for stale in warehouse.partitions(SHARD_ROWS, ARROW):
        if not stale.isdigit() or int(stale) >= shards:  # left by a config with more shards
            warehouse.delete(SHARD_ROWS, stale, ARROW)
    for old_format in warehouse.partitions(SHARD_ROWS):  # Parquet, from an earlier version
        warehouse.delete(SHARD_ROWS, old_format)


class _ShardBuffers:
    """Rows per shard, written as a row group once enough have gathered."""

    def __init__(self, writers: list, background: _BackgroundWriter):
        self.writers, self.background = writers, background
        self.tables: list[list[pa.Table]] = [[] for _ in writers]
        self.sizes = [0] * len(writers)

    def add(self, rows: pa.Table) -> None:
        shard_of_row = rows["shard"].to_numpy()
        # rows grouped by shard with one take (a uint16 argsort is a radix sort, and stable),
        # then a zero-copy slice per shard: measured a quarter faster than a filter per shard
        order = np.argsort(shard_of_row.astype(np.uint16), kind="stable")
        grouped = rows.take(pa.array(order))
        bounds = np.searchsorted(shard_of_row[order], np.arange(len(self.writers) + 1))
        for shard in np.flatnonzero(np.diff(bounds)):
            part = grouped.slice(bounds[shard], bounds[shard + 1] - bounds[shard])
            self.tables[shard].append(part)
            self.sizes[shard] += part.num_rows
            if self.sizes[shard] >= _SHARD_ROW_GROUP:
                self._write(shard)

    def flush(self) -> None:
        for shard in range(len(self.writers)):
            if self.sizes[shard]:
                self._write(shard)

    def _write(self, shard: int) -> None:
        table = pa.concat_tables(self.tables[shard]).cast(SHARD_ROWS_SCHEMA)
        self.background.write(table, self.writers[shard])
        self.tables[shard], self.sizes[shard] = [], 0


def _rows_in_identity(batch: pa.RecordBatch, position_of_row: np.ndarray):
    """The batch's rows that identity placed, and each one's position in the identity rows."""
    batch_rows = batch[SOURCE_ROW].to_numpy(zero_copy_only=False)
    in_range = batch_rows < len(position_of_row)
    positions = np.full(len(batch_rows), -1, dtype=np.int64)
    positions[in_range] = position_of_row[batch_rows[in_range]]
    kept = positions >= 0
    rows = pa.Table.from_batches([batch])
    return (rows, positions) if kept.all() else (rows.filter(pa.array(kept)), positions[kept])


def _shard_rows(shard_ids: pa.Table, validated_partitions: list[str], warehouse: Warehouse):
    """One shard's validated rows with contact_key and shard joined on, read from every
    file (a warehouse whose identity_graph predates shard_rows)."""
    parts = list(_rows_with_identity(shard_ids, validated_partitions, warehouse))
    if not parts:
        empty = VALIDATED_SCHEMA.empty_table()
        return _with_identity(empty, IDENTITY_SCHEMA.empty_table(), np.empty(0, np.int64))
    return pa.concat_tables(parts)


def _rows_with_identity(
    identity: pa.Table, validated_partitions: list[str], warehouse: Warehouse
) -> Iterator[pa.Table]:
    """The validated rows that ``identity`` places, with their contact_key and shard,
    streamed a batch at a time. A row is found by its source_row in an array indexed by
    row number, not by a hash join (source_row is unique within a file)."""
    from contact_pipelines.core.landing import partition_key_file_name

    for partition in validated_partitions:
        file_ids = identity.filter(
            pc.equal(identity[SOURCE_FILE], partition_key_file_name(partition))
        ).combine_chunks()  # one chunk: a take across many chunks is far slower
        if not file_ids.num_rows:
            continue
        position_of_row = _position_by_source_row(file_ids[SOURCE_ROW])
        for batch in warehouse.iter_batches(VALIDATED, partition, VALIDATED_SCHEMA):
            rows, positions = _rows_in_identity(batch, position_of_row)
            if rows.num_rows:
                yield _with_identity(rows, file_ids, positions)


def _position_by_source_row(source_rows: pa.ChunkedArray) -> np.ndarray:
    """Array indexed by source_row: that row's position in the identity rows, else -1."""
    rows = source_rows.to_numpy()
    position = np.full(int(rows.max(initial=-1)) + 1, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows), dtype=np.int64)
    return position


def _with_identity(rows: pa.Table, file_ids: pa.Table, positions: np.ndarray) -> pa.Table:
    taken = pa.array(positions, pa.int64())
    return rows.append_column("contact_key", file_ids["contact_key"].take(taken)).append_column(
        "shard", file_ids["shard"].take(taken)
    )


def quarantine_partition(
    warehouse: Warehouse, partition_key: str, failed_checks: list[str]
) -> None:
    """Keep a file out of identity, cards and syncs until a corrected version lands."""
    warehouse.write(
        QUARANTINE,
        partition_key,
        pa.table(
            {"partition": [partition_key] * len(failed_checks), "failed_check": failed_checks}
        ),
    )


def release_partition(warehouse: Warehouse, partition_key: str) -> None:
    warehouse.delete(QUARANTINE, partition_key)


def quarantined_partitions(warehouse: Warehouse) -> set[str]:
    return set(warehouse.partitions(QUARANTINE))
