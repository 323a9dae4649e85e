"""CSV/TXT exports: encoding detection, delimiter sniffing, streamed parsing.

Parsing uses Python's ``csv`` module over a decoding stream rather than
pyarrow's CSV reader: pyarrow drops ragged rows' values and cannot tell the
physical line a record starts on, and both are part of the contract
(``row_defect`` rows are kept; ``source_row`` is the record's first line).
The stream is decoded on the fly and cut into ``chunk_rows`` tables, so a file
larger than memory goes through.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

import charset_normalizer

from contact_pipelines.core.readers.base import (
    TOO_FEW_COLUMNS,
    TOO_MANY_COLUMNS,
    ExportInfo,
    ExportReadError,
    RawExport,
    ReadOptions,
    build_raw_table,
    dedupe_headers,
    trim_trailing_blank_headers,
)
from contact_pipelines.core.readers.source import ExportSource, looks_utf16_without_bom

SAMPLE_BYTES = 1 << 20  # enough to judge the encoding and the delimiter
SNIFF_RECORDS = 30
DELIMITERS = (",", ";", "\t", "|")
ENCODING_FIX = "set `encoding:` for this source in the pipeline config (e.g. cp1251, utf-16)"


def read_text(source: ExportSource, options: ReadOptions) -> RawExport:
    with source.open() as stream:
        sample = stream.read(SAMPLE_BYTES)
        whole_file_sampled = not stream.read(1)
    codec, encoding_label = _choose_encoding(sample, options, source.name)
    sample_text = _decode_sample(sample, codec, source.name)
    if not whole_file_sampled:
        sample_text = _drop_partial_last_line(sample_text)
    delimiter = options.delimiter or sniff_delimiter(sample_text)
    header_line, raw_headers, has_data = _header_and_data(sample_text, delimiter)
    if raw_headers is None:
        raise ExportReadError(
            source.name,
            None,
            "the file has no header row (only blank lines)",
            "re-export the data with a header row",
        )
    if whole_file_sampled and not has_data:
        raise ExportReadError(
            source.name,
            header_line,
            "the file has a header but no data rows",
            "re-export the data; the export came out empty",
        )
    headers = dedupe_headers(trim_trailing_blank_headers(raw_headers))
    info = ExportInfo(
        format=source.format_label, headers=headers, encoding=encoding_label, delimiter=delimiter
    )

    def chunks() -> Iterator:
        yield from _read_chunks(source, codec, info, options.chunk_rows)

    return RawExport(info, chunks)


# --- encoding ---------------------------------------------------------------


def _choose_encoding(sample: bytes, options: ReadOptions, name: str) -> tuple[str, str]:
    """(codec to decode with, label recorded in info)."""
    if options.encoding:
        try:
            codec = codecs.lookup(options.encoding).name
        except LookupError as exc:
            raise ExportReadError(
                name, None, f"unknown encoding {options.encoding!r}", ENCODING_FIX
            ) from exc
        if codec == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        return codec, options.encoding
    return detect_encoding(sample)


def detect_encoding(sample: bytes) -> tuple[str, str]:
    """BOM first, then strict UTF-8, then cp1251 vs cp1252/latin-1 by statistics."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16", "utf-16-le"  # the utf-16 codec consumes the BOM
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", "utf-16-be"
    if looks_utf16_without_bom(sample):
        label = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        return label, label
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp1251", "cp1252"]).best()
    guess = best.encoding if best is not None else "cp1252"
    if guess == "cp1252" and not _decodes(sample, "cp1252"):
        return "latin-1", "latin-1"  # bytes cp1252 leaves undefined: only latin-1 maps every byte
    return guess, guess


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        sample.decode(codec)
        return True
    except UnicodeDecodeError:
        return False


def _decode_sample(sample: bytes, codec: str, name: str) -> str:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        return decoder.decode(sample, final=False)
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
        raise ExportReadError(
            name, line, f"the bytes are not valid {codec} ({exc.reason})", ENCODING_FIX
        ) from exc


def _drop_partial_last_line(text: str) -> str:
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[: cut + 1] if cut >= 0 else text


# --- delimiter and header ---------------------------------------------------


def sniff_delimiter(sample_text: str) -> str:
    """The candidate that splits the header into most columns consistently with the rows.

    Quote-aware (parsed with ``csv``), so commas inside quoted values do not vote.
    A file where no candidate splits the header is one column: "," then.
    """
    best, best_score = ",", (0.0, 1)
    for candidate in DELIMITERS:
        records = [r for r in _sample_records(sample_text, candidate) if any(r)]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        data = records[1:] or records
        consistency = sum(len(r) == width for r in data) / len(data)
        score = (consistency, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _sample_records(sample_text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter, strict=False)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= SNIFF_RECORDS:
                break
    except csv.Error:
        pass  # judged on what parsed; the real read reports the line
    return records


def _header_and_data(sample_text: str, delimiter: str) -> tuple[int | None, list[str] | None, bool]:
    """(header line, header values, whether a non-blank record follows)."""
    reader = csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter, strict=False)
    header_line, headers, last_line = None, None, 0
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if is_blank(record):
                continue
            if headers is not None:
                return header_line, headers, True
            header_line, headers = start, record
    except csv.Error:
        return header_line, headers, headers is not None
    return header_line, headers, False


# --- rows -------------------------------------------------------------------


def _read_chunks(source: ExportSource, codec: str, info: ExportInfo, chunk_rows: int) -> Iterator:
    width = len(info.headers)
    with source.open() as binary:
        text = io.TextIOWrapper(binary, encoding=codec, errors="strict", newline="")
        reader = csv.reader(text, delimiter=info.delimiter or ",", strict=False)
        records = _numbered_records(reader, source.name)
        next(records)  # the header row, already parsed
        rows, lines, defects = [], [], []
        for line, record in records:
            defect = None
            if len(record) != width:
                record, defect = fit_record(record, width)
            rows.append(record)
            lines.append(line)
            defects.append(defect)
            if len(rows) >= chunk_rows:
                yield _chunk(info, source.name, rows, lines, defects)
                rows, lines, defects = [], [], []
        if rows:
            yield _chunk(info, source.name, rows, lines, defects)


def _numbered_records(reader, name: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the physical line each starts on (1-based)."""
    last_line = 0
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if not is_blank(record):
                yield start, record
    except UnicodeDecodeError as exc:
        raise ExportReadError(
            name,
            last_line + 1,
            f"the text is not valid {exc.encoding} ({exc.reason})",
            ENCODING_FIX,
        ) from exc
    except csv.Error as exc:
        raise ExportReadError(
            name,
            last_line + 1,
            f"the CSV cannot be parsed ({exc}); a quote is probably never closed",
            "close or remove the stray quote on that line, or re-export with quoting",
        ) from exc


def is_blank(record: list[str]) -> bool:
    """An empty line, a line of delimiters only, or a line of spaces."""
    return not any(record) or (len(record) == 1 and record[0].isspace())


def fit_record(record: list[str], width: int) -> tuple[list[str], str | None]:
    """Pad or cut a ragged record to the header width, naming the defect.

    Extra fields that are all empty are trailing delimiters, not a defect.
    """
    if len(record) < width:
        return record + [""] * (width - len(record)), TOO_FEW_COLUMNS
    extra = record[width:]
    return record[:width], (TOO_MANY_COLUMNS if any(field.strip() for field in extra) else None)


def _chunk(info: ExportInfo, name: str, rows, lines, defects):
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in info.headers]
    has_defects = any(defect is not None for defect in defects)
    return build_raw_table(info.headers, columns, name, lines, defects if has_defects else None)
