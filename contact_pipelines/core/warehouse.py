"""The warehouse: one Parquet file per asset partition, on any pyarrow filesystem.

Layout: ``<root>/<asset>/<partition>.parquet``; an intermediate read once, soon after,
by the next stage (``shard_rows``) is an Arrow IPC file, ``<partition>.arrow``, which
costs a fraction of Parquet's encoding and decoding. ``root`` is a local folder
(``data/warehouse`` by default) or a URL pyarrow understands (``s3://bucket/x``,
``gs://...``). Writes go to a temporary name and are moved into place, so a
reader never sees half a partition and a re-run replaces what the partition
wrote before.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

UNPARTITIONED = "all"
_SUFFIX = ".parquet"
ARROW = ".arrow"  # the suffix of Arrow IPC partitions


def _safe_partition(partition: str) -> str:
    # partition keys are file names and shard numbers; keep them one path segment
    return partition.replace("/", "_").replace("\\", "_")


class Warehouse:
    def __init__(self, root: str | Path):
        root = str(root)
        if "://" in root:
            self.fs, self.root = pafs.FileSystem.from_uri(root)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(root).resolve())
        self.uri = root

    def __repr__(self) -> str:
        return f"Warehouse({self.uri!r})"

    def path(self, asset: str, partition: str = UNPARTITIONED, suffix: str = _SUFFIX) -> str:
        return f"{self.root}/{asset}/{_safe_partition(partition)}{suffix}"

    def exists(self, asset: str, partition: str = UNPARTITIONED, suffix: str = _SUFFIX) -> bool:
        info = self.fs.get_file_info(self.path(asset, partition, suffix))
        return info.type == pafs.FileType.File

    def partitions(self, asset: str, suffix: str = _SUFFIX) -> list[str]:
        selector = pafs.FileSelector(f"{self.root}/{asset}", allow_not_found=True)
        names = [info.base_name for info in self.fs.get_file_info(selector)]
        return sorted(n[: -len(suffix)] for n in names if n.endswith(suffix))

    def write(self, asset: str, partition: str, table: pa.Table) -> str:
        with self.writer(asset, partition, table.schema) as writer:
            writer.write_table(table)
        return self.path(asset, partition)

    @contextlib.contextmanager
    def writer(
        self, asset: str, partition: str, schema: pa.Schema, compression: str = "zstd"
    ) -> Iterator[pq.ParquetWriter]:
        """Stream row groups into a partition; it appears only when the block succeeds.

        zstd by default (small files); lz4 for intermediates read once, soon after."""
        # mostly-unique strings: dictionary pages cost time and space; zstd alone does better
        with self._placed(asset, partition, _SUFFIX) as sink:
            yield from self._closing(
                pq.ParquetWriter(sink, schema, compression=compression, use_dictionary=False)
            )

    @contextlib.contextmanager
    def arrow_writer(
        self, asset: str, partition: str, schema: pa.Schema
    ) -> Iterator[ipc.RecordBatchFileWriter]:
        """Like ``writer``, an Arrow IPC file (zstd buffers): for ``shard_rows``."""
        options = ipc.IpcWriteOptions(compression="zstd")
        with self._placed(asset, partition, ARROW) as sink:
            yield from self._closing(ipc.new_file(sink, schema, options=options))

    def read_arrow(self, asset: str, partition: str = UNPARTITIONED) -> pa.Table:
        with self.fs.open_input_file(self.path(asset, partition, ARROW)) as handle:
            return ipc.open_file(handle).read_all()

    @staticmethod
    def _closing(writer) -> Iterator:
        """Yield ``writer`` (from a context manager), closed before its sink either way."""
        try:
            yield writer
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()
            raise
        writer.close()

    @contextlib.contextmanager
    def _placed(self, asset: str, partition: str, suffix: str) -> Iterator:
        """An output stream whose file appears under its final name only on success."""
        final_path = self.path(asset, partition, suffix)
        tmp_path = f"{final_path}.{uuid.uuid4().hex}.tmp"
        self.fs.create_dir(f"{self.root}/{asset}", recursive=True)
        sink = self.fs.open_output_stream(tmp_path)
        try:
            yield sink
            sink.close()
            self.fs.move(tmp_path, final_path)
        except BaseException:
            with contextlib.suppress(Exception):
                sink.close()
            with contextlib.suppress(Exception):
                self.fs.delete_file(tmp_path)
            raise

    def read(
        self, asset: str, partition: str = UNPARTITIONED, columns: list[str] | None = None
    ) -> pa.Table:
        return pq.read_table(self.path(asset, partition), columns=columns, filesystem=self.fs)

    def read_many(
        self,
        asset: str,
        partitions: list[str],
        columns: list[str] | None = None,
        schema: pa.Schema | None = None,
        filter=None,
    ) -> pa.Table:
        """Read several partitions as one table (only the columns asked for)."""
        paths = [self.path(asset, p) for p in partitions]
        if not paths:
            if schema is None:
                raise ValueError(f"no partitions of {asset} to read")
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        dataset = ds.dataset(paths, format="parquet", filesystem=self.fs, schema=schema)
        return dataset.to_table(columns=columns, filter=filter)

    def iter_batches(
        self,
        asset: str,
        partition: str = UNPARTITIONED,
        schema: pa.Schema | None = None,
        batch_size: int = 262_144,
    ) -> Iterator[pa.RecordBatch]:
        """A partition's rows a batch at a time: memory bounded by the batch, not the file.

        With ``schema``, batches have exactly those columns (missing ones null)."""
        dataset = ds.dataset(
            self.path(asset, partition), format="parquet", filesystem=self.fs, schema=schema
        )
        # one thread: measured faster here than the pool for a full decode, and the
        # callers that want both cores run two stages side by side
        yield from dataset.to_batches(batch_size=batch_size, use_threads=False)

    def delete(self, asset: str, partition: str = UNPARTITIONED, suffix: str = _SUFFIX) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(asset, partition, suffix))

    def row_count(self, asset: str, partition: str = UNPARTITIONED) -> int:
        with self.fs.open_input_file(self.path(asset, partition)) as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    def head(self, asset: str, partition: str = UNPARTITIONED, rows: int = 5) -> pa.Table:
        """The first rows only (for previews), without reading the whole partition."""
        with self.fs.open_input_file(self.path(asset, partition)) as handle:
            parquet = pq.ParquetFile(handle)
            batch = next(parquet.iter_batches(batch_size=rows), None)
            return pa.Table.from_batches([batch]) if batch else parquet.schema_arrow.empty_table()
