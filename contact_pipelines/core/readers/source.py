"""Open an export file, see through gzip/zip wrappers and sniff its format.

The format is decided by content first (magic bytes, a leading ``[``/``{``)
because exports are often misnamed (a ``.xls`` that is really tab-separated
text), and by the extension only when the content does not tell.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from contact_pipelines.core.readers.base import ExportReadError

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"
GZIP_MAGIC = b"\x1f\x8b"
TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
HEAD_BYTES = 4096

TEXT_EXTENSIONS = {".csv", ".txt", ".tsv", ".tab", ".dat"}
JSON_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SPREADSHEET_EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}


@dataclass(frozen=True)
class ExportSource:
    """A readable export: its display name, inner format and how to open its bytes."""

    name: str  # the landed file's name, used in source_file and errors
    format: str  # csv, xlsx, xls, json, jsonl
    wrapper: str | None  # "gzip" or "zip" when the export is compressed
    open: Callable[[], BinaryIO]  # a fresh binary stream of the (decompressed) content

    @property
    def format_label(self) -> str:
        return f"{self.wrapper}+{self.format}" if self.wrapper else self.format


def open_source(path: Path, name: str) -> ExportSource:
    if not path.is_file():
        raise ExportReadError(name, None, f"file {path} does not exist", "check the landing folder")
    if path.stat().st_size == 0:
        raise ExportReadError(name, None, "the file is empty (0 bytes)", "re-export the data")
    head = _head(lambda: path.open("rb"))
    if head.startswith(GZIP_MAGIC):
        return _gzip_source(path, name)
    if head.startswith(ZIP_MAGIC):
        return _zip_source(path, name)
    fmt = sniff_format(head, path.name, name)
    return ExportSource(name, fmt, None, lambda: path.open("rb"))


def _head(opener: Callable[[], BinaryIO]) -> bytes:
    with opener() as stream:
        return stream.read(HEAD_BYTES)


def _gzip_source(path: Path, name: str) -> ExportSource:
    inner_name = path.name[:-3] if path.name.lower().endswith(".gz") else path.stem

    def opener() -> BinaryIO:
        return gzip.open(path, "rb")  # type: ignore[return-value]

    try:
        head = _head(opener)
    except (OSError, EOFError) as exc:
        raise ExportReadError(
            name,
            None,
            f"the gzip archive is damaged or truncated ({exc})",
            "re-compress or re-upload the file",
        ) from exc
    if not head:
        raise ExportReadError(
            name, None, "the gzip archive holds an empty file", "re-export the data"
        )
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
        # spreadsheet readers need random access: decompress into memory (sheets are bounded)
        content = gzip.decompress(path.read_bytes())
        opener = lambda: io.BytesIO(content)  # noqa: E731
    return ExportSource(name, sniff_format(head, inner_name, name), "gzip", opener)


def _zip_source(path: Path, name: str) -> ExportSource:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            member_names = {info.filename for info in members}
    except (zipfile.BadZipFile, OSError) as exc:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            problem = "the XLSX workbook is truncated or damaged (not a complete zip archive)"
        else:
            problem = f"the zip archive is truncated or damaged ({exc})"
        raise ExportReadError(name, None, problem, "re-export or re-upload the file") from exc
    if "xl/workbook.xml" in member_names or "[Content_Types].xml" in member_names:
        return ExportSource(name, "xlsx", None, lambda: path.open("rb"))
    if len(members) != 1:
        raise ExportReadError(
            name,
            None,
            f"the zip archive holds {len(members)} files; one export per archive is supported",
            "put each export in its own file or archive",
        )
    member = members[0]

    def opener() -> BinaryIO:
        archive = zipfile.ZipFile(path)
        return archive.open(member)  # the member stream keeps the archive alive

    head = _head(opener)
    if not head:
        raise ExportReadError(
            name, None, f"the zip member {member.filename} is empty", "re-export the data"
        )
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
        with zipfile.ZipFile(path) as archive:
            content = archive.read(member)
        opener = lambda: io.BytesIO(content)  # noqa: E731
    return ExportSource(name, sniff_format(head, Path(member.filename).name, name), "zip", opener)


def sniff_format(head: bytes, file_name: str, name: str) -> str:
    """csv, xlsx, xls, json or jsonl from the first bytes, else the extension."""
    suffix = Path(file_name).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if looks_binary(head):
        raise ExportReadError(
            name,
            None,
            f"the content is binary data, not a CSV/TXT/XLS/XLSX/JSON export (starts with {head[:8].hex(' ')})",
            "upload the export itself (CSV, TXT, XLS, XLSX or JSON), not another kind of file",
        )
    text_start = _strip_bom(head).lstrip()
    if text_start[:1] in (b"[", b"{"):
        return JSON_EXTENSIONS.get(suffix, "json")
    if suffix in JSON_EXTENSIONS:
        return JSON_EXTENSIONS[suffix]
    if suffix in (".xlsx", ".xlsm"):
        raise ExportReadError(
            name,
            None,
            "the file is named .xlsx but is not an Excel workbook",
            "re-save it from Excel as .xlsx",
        )
    # text (including a .xls that is really tab-separated text, as some CRMs export)
    return "csv"


def _strip_bom(head: bytes) -> bytes:
    for bom in TEXT_BOMS:
        if head.startswith(bom):
            return head[len(bom) :]
    return head


def looks_binary(head: bytes) -> bool:
    """NUL bytes (outside UTF-16) or many control bytes mean this is not a text export."""
    if head.startswith(TEXT_BOMS[1:]) or looks_utf16_without_bom(head):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    return controls > max(4, len(head) // 20)


def looks_utf16_without_bom(head: bytes) -> bool:
    """ASCII-heavy UTF-16 text has a NUL in every other byte."""
    sample = head[:1024]
    if len(sample) < 8:
        return False
    even_nuls = sample[0::2].count(0) / (len(sample) / 2)
    odd_nuls = sample[1::2].count(0) / (len(sample) / 2)
    return max(even_nuls, odd_nuls) > 0.7 and min(even_nuls, odd_nuls) < 0.1
