"""Read any supported export into chunks of string tables: ``read_export``.

A registry maps the sniffed format (``source.sniff_format``: magic bytes and a
leading ``[``/``{`` first, the extension as a fallback) to one module per
format. Adding a format means adding one module and one registry entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contact_pipelines.core.readers.base import (
    TOO_FEW_COLUMNS,
    TOO_MANY_COLUMNS,
    ExportInfo,
    ExportReadError,
    RawExport,
    ReadOptions,
    display_name,
)
from contact_pipelines.core.readers.excel import read_spreadsheet
from contact_pipelines.core.readers.jsonfile import read_json
from contact_pipelines.core.readers.source import ExportSource, open_source
from contact_pipelines.core.readers.text import read_text

Reader = Callable[[ExportSource, ReadOptions], RawExport]

READERS: dict[str, Reader] = {
    "csv": read_text,
    "xlsx": read_spreadsheet,
    "xls": read_spreadsheet,
    "json": read_json,
    "jsonl": read_json,
}

__all__ = [
    "READERS",
    "TOO_FEW_COLUMNS",
    "TOO_MANY_COLUMNS",
    "ExportInfo",
    "ExportReadError",
    "RawExport",
    "ReadOptions",
    "read_export",
]


def read_export(path: str | Path, options: ReadOptions | None = None) -> RawExport:
    """Open ``path`` and return its info and a chunk iterator; raise ExportReadError if unreadable.

    The file is only read, never changed. Problems found while streaming the
    chunks (a bad byte deep in a large file) raise ExportReadError from
    ``chunks()``.
    """
    options = options or ReadOptions()
    path = Path(path)
    name = display_name(path, options)
    source = open_source(path, name)
    reader = READERS.get(source.format)
    if reader is None:
        raise ExportReadError(
            name,
            None,
            f"format {source.format!r} is not supported",
            "export as CSV, TXT, XLS, XLSX or JSON",
        )
    return reader(source, options)
