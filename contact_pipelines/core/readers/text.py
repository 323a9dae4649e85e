"""CSV/TXT exports: encoding detection, delimiter sniffing, streamed parsing.

The file is decoded on the fly (transcoded to UTF-8 for pyarrow) and cut into
blocks of ``chunk_rows`` lines, so a file larger than memory goes through.
pyarrow parses a block when every line is one record; the ``csv`` module
takes blocks with quoted multi-line values or ragged rows, because pyarrow
cannot say which line a record starts on and drops a ragged row's values,
and both are part of the contract (``source_row`` is the record's first
physical line; ragged rows are kept with a ``row_defect``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator

import charset_normalizer
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

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
        yield from _read_chunks(source, codec, info, len(raw_headers), options.chunk_rows)

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
    guess = _cyrillic_or_western(sample)
    if guess == "cp1252" and not _decodes(sample, "cp1252"):
        return "latin-1", "latin-1"  # bytes cp1252 leaves undefined: only latin-1 maps every byte
    return guess, guess


def _cyrillic_or_western(sample: bytes) -> str:
    """cp1251 or cp1252 for non-UTF-8 bytes.

    Cyrillic words in cp1251 are runs of high bytes, while accented letters in
    cp1252 sit alone between ASCII letters: that settles clear cases, even in
    a short sample where statistics (charset-normalizer) are unsure.
    """
    high = np.frombuffer(sample, dtype=np.uint8) >= 0x80
    if high.sum() == 0:
        return "cp1252"
    neighbour = np.zeros_like(high)
    neighbour[1:] |= high[:-1]
    neighbour[:-1] |= high[1:]
    in_runs = float((high & neighbour).sum() / high.sum())
    if in_runs >= 0.6:
        return "cp1251"
    if in_runs <= 0.3:
        return "cp1252"
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp1251", "cp1252"]).best()
    return best.encoding if best is not None else "cp1252"


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
#
# The stream is cut into blocks of ``chunk_rows`` physical lines. A block in
# which every line holds an even number of quotes cannot contain a record
# spanning lines, so each kept line is one record and its number is known:
# pyarrow parses it (vectorised). Any other block, or one pyarrow rejects
# (ragged rows), goes through the ``csv`` module, which may read past the
# block's end to finish a quoted multi-line record.


def _read_chunks(
    source: ExportSource, codec: str, info: ExportInfo, raw_width: int, chunk_rows: int
) -> Iterator[pa.Table]:
    with source.open() as binary:
        lines = iter(io.TextIOWrapper(binary, encoding=codec, errors="strict", newline=""))
        try:
            lines_done = _skip_header(lines, info.delimiter or ",")
            while block := list(itertools.islice(lines, chunk_rows)):
                table = _parse_block_fast(block, lines_done, info, raw_width, source.name)
                if table is None:
                    table, used = _parse_block_csv(block, lines, lines_done, info, source.name)
                    lines_done += used
                else:
                    lines_done += len(block)
                if table.num_rows:
                    yield table
        except UnicodeDecodeError as exc:
            raise ExportReadError(
                source.name,
                _first_undecodable_line(source, codec),  # the decoder reads ahead of the parser
                f"the text is not valid {exc.encoding} ({exc.reason})",
                ENCODING_FIX,
            ) from exc


def _skip_header(lines: Iterator[str], delimiter: str) -> int:
    """Consume blank lines and the header record; return the lines consumed.

    ``csv.reader`` pulls lines only as it needs them, so ``lines`` is left
    exactly after the header.
    """
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    for record in reader:
        if not is_blank(record):
            break
    return reader.line_num


def _parse_block_fast(
    block: list[str], lines_before: int, info: ExportInfo, raw_width: int, name: str
) -> pa.Table | None:
    """The block's records via pyarrow, or None when the csv module must decide."""
    body = pc.utf8_rtrim(pa.array(block, type=pa.string()), characters="\r\n")
    odd_quotes = pc.bit_wise_and(pc.count_substring(body, '"'), 1)
    if pc.max(odd_quotes).as_py():
        return None
    content = pc.replace_substring(pc.replace_substring(body, info.delimiter, ""), '"', "")
    kept_index = np.flatnonzero(pc.invert(pc.equal(pc.utf8_trim_whitespace(content), "")))
    if len(kept_index) == len(block):
        payload = "".join(block)  # lines keep their own terminators
    else:
        payload = "".join([block[i] for i in kept_index])  # only blank lines are dropped
    parsed = _pyarrow_parse(payload, info.delimiter, raw_width)
    if parsed is None or parsed.num_rows != len(kept_index) or not _only_blank_extras(parsed, info):
        return None
    columns = [parsed.column(i).combine_chunks() for i in range(len(info.headers))]
    source_rows = kept_index + lines_before + 1
    return build_raw_table(info.headers, columns, name, source_rows)


def _pyarrow_parse(payload: str, delimiter: str, width: int) -> pa.Table | None:
    if not payload:
        return None
    names = [f"c{i}" for i in range(width)]
    try:
        return pa_csv.read_csv(
            io.BytesIO(payload.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=len(payload) * 4 + 1024),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # ragged rows: the csv module keeps their values and names the defect


def _only_blank_extras(parsed: pa.Table, info: ExportInfo) -> bool:
    """Columns past the header's width came from trailing delimiters and must be empty."""
    for extra in parsed.columns[len(info.headers) :]:
        if pc.max(pc.utf8_length(pc.utf8_trim_whitespace(extra))).as_py():
            return False
    return True


def _parse_block_csv(
    block: list[str], more_lines: Iterator[str], lines_before: int, info: ExportInfo, name: str
) -> tuple[pa.Table, int]:
    """Records starting in the block, via the csv module; (table, lines consumed)."""
    reader = csv.reader(itertools.chain(block, more_lines), delimiter=info.delimiter, strict=False)
    width = len(info.headers)
    rows, source_rows, defects = [], [], []
    consumed = 0
    while consumed < len(block):
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ExportReadError(
                name,
                lines_before + consumed + 1,
                f"the CSV cannot be parsed ({exc}); a quote is probably never closed",
                "close or remove the stray quote on that line, or re-export with quoting",
            ) from exc
        start, consumed = consumed + 1, reader.line_num
        if is_blank(record):
            continue
        record, defect = fit_record(record, width)
        rows.append(record)
        source_rows.append(lines_before + start)
        defects.append(defect)
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in info.headers]
    has_defects = any(defect is not None for defect in defects)
    table = build_raw_table(
        info.headers, columns, name, source_rows, defects if has_defects else None
    )
    return table, consumed


def _first_undecodable_line(source: ExportSource, codec: str) -> int | None:
    decoder = codecs.getincrementaldecoder(codec)()
    with source.open() as stream:
        for line_number, raw_line in enumerate(stream, start=1):
            try:
                decoder.decode(raw_line)
            except UnicodeDecodeError:
                return line_number
    return None


def is_blank(record: list[str]) -> bool:
    """A record with no visible content: an empty line, delimiters only, or spaces."""
    return not "".join(record).strip()


def fit_record(record: list[str], width: int) -> tuple[list[str], str | None]:
    """Pad or cut a ragged record to the header width, naming the defect.

    Extra fields that are all empty are trailing delimiters, not a defect.
    """
    if len(record) == width:
        return record, None
    if len(record) < width:
        return record + [""] * (width - len(record)), TOO_FEW_COLUMNS
    extra = record[width:]
    return record[:width], (TOO_MANY_COLUMNS if any(field.strip() for field in extra) else None)
