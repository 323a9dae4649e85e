"""The reader contract: options in, ``RawExport`` out (see docs/internals.md).

Every reader returns the same thing: ``ExportInfo`` known before the first row
is produced, and ``chunks()`` yielding Arrow tables of strings with the
``source_file``/``source_row``/``row_defect`` columns of ``core.fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.fields import RAW_META_COLUMNS, ROW_DEFECT, SOURCE_FILE, SOURCE_ROW

TOO_MANY_COLUMNS = "too_many_columns"
TOO_FEW_COLUMNS = "too_few_columns"


@dataclass(frozen=True)
class ReadOptions:
    encoding: str | None = None  # override encoding detection (text formats)
    delimiter: str | None = None  # override delimiter sniffing (text formats)
    sheet: str | None = None  # spreadsheet sheet name; default: first sheet with a header row
    chunk_rows: int = 100_000  # rows per yielded table: bounds memory
    display_name: str | None = None  # name used in source_file and errors; default: file name


@dataclass(frozen=True)
class ExportInfo:
    format: str  # csv, xlsx, xls, json, jsonl (prefixed "gzip+"/"zip+" when wrapped)
    headers: tuple[str, ...]  # de-duplicated source headers, in file order
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


class ExportReadError(ValueError):
    """A file that cannot be read: the message names the file, the line, the problem and the fix."""

    def __init__(self, file: str, line: int | None, problem: str, fix: str):
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}. Fix: {fix}")


@dataclass
class RawExport:
    info: ExportInfo
    _chunks: Callable[[], Iterator[pa.Table]] = field(repr=False)

    def chunks(self) -> Iterator[pa.Table]:
        """Tables of at most ``chunk_rows`` rows; the file is read lazily, once per call."""
        return self._chunks()

    def read_all(self) -> pa.Table:
        """Every chunk concatenated: for small files and tests only."""
        tables = list(self.chunks())
        if not tables:
            return empty_raw_table(self.info.headers)
        return pa.concat_tables(tables)


def raw_schema(headers: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, pa.string()) for name in headers]
        + [
            pa.field(SOURCE_FILE, pa.string(), nullable=False),
            pa.field(SOURCE_ROW, pa.int64(), nullable=False),
            pa.field(ROW_DEFECT, pa.string()),
        ]
    )


def empty_raw_table(headers: Sequence[str]) -> pa.Table:
    return raw_schema(headers).empty_table()


def _blank_to_null(values: pa.Array) -> pa.Array:
    values = values.cast(pa.string())
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _as_string_array(column) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    if isinstance(column, pa.Array):
        return column
    return pa.array(column, type=pa.string())


def build_raw_table(
    headers: Sequence[str],
    columns: Sequence[Sequence[str | None]],
    source_file: str,
    source_rows: Sequence[int],
    row_defects: Sequence[str | None] | None = None,
    blanks_are_null: bool = False,
) -> pa.Table:
    """One raw chunk from column-wise values; empty strings become null.

    ``blanks_are_null`` says the parser already made them null (saves a pass).
    """
    row_count = len(source_rows)
    arrays = [_as_string_array(column) for column in columns]
    if not blanks_are_null:
        arrays = [_blank_to_null(array) for array in arrays]
    arrays.append(pc.fill_null(pa.nulls(row_count, pa.string()), source_file))
    arrays.append(pa.array(source_rows, type=pa.int64()))
    if row_defects is None:
        arrays.append(pa.nulls(row_count, type=pa.string()))
    else:
        arrays.append(pa.array(row_defects, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=raw_schema(headers))


def dedupe_headers(raw_headers: Sequence[object]) -> tuple[str, ...]:
    """Strip whitespace/BOM, name blanks ``column_<n>``, and number repeats: ``Phone (2)``.

    The reader's own columns (source_file, ...) are reserved, so a source column
    of that name is numbered too rather than overwritten.
    """
    seen: set[str] = set(RAW_META_COLUMNS)
    headers: list[str] = []
    for position, raw in enumerate(raw_headers, start=1):
        name = str(raw if raw is not None else "").replace("\ufeff", "").strip()
        name = name or f"column_{position}"
        unique, copy = name, 2
        while unique in seen:
            unique, copy = f"{name} ({copy})", copy + 1
        seen.add(unique)
        headers.append(unique)
    return tuple(headers)


def trim_trailing_blank_headers(raw_headers: list[str]) -> list[str]:
    """Exports often end every line with a delimiter: a trailing unnamed column is no column."""
    trimmed = list(raw_headers)
    while len(trimmed) > 1 and not str(trimmed[-1] or "").replace("\ufeff", "").strip():
        trimmed.pop()
    return trimmed


def display_name(path: Path, options: ReadOptions) -> str:
    return options.display_name or path.name
