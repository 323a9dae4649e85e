"""A text export as UTF-8 bytes, taken in whole physical lines.

UTF-8 files pass through untouched (pyarrow parses bytes, so there is no
decode/encode round trip on the hot path); other encodings are transcoded
block by block with an incremental decoder, which is C speed. Lines end at
``\\n``; a file with old Mac ``\\r`` endings is read with ``\\r`` as ``\\n``.
Memory is bounded by the block asked for plus one read.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

READ_BYTES = 16 << 20
NEWLINE = 10
PASSTHROUGH_CODECS = ("utf-8", "utf-8-sig")


class Utf8Lines:
    """Consume a binary stream as UTF-8 bytes in whole lines; counts the lines taken."""

    def __init__(self, binary: BinaryIO, codec: str, cr_newlines: bool = False):
        self._binary = binary
        passthrough = codec in PASSTHROUGH_CODECS and not cr_newlines
        self._decoder = None if passthrough else codecs.getincrementaldecoder(codec)()
        self._cr_newlines = cr_newlines
        self._buffer = b""
        self._pos = 0  # bytes before it are taken; the buffer is compacted on each read
        self._eof = False
        self._at_start = True
        self.lines_taken = 0

    def take_block(self, line_count: int) -> bytes:
        """Up to ``line_count`` whole lines (the file's last line may lack its newline)."""
        while self._buffer.count(b"\n", self._pos) < line_count and not self._eof:
            self._fill()
        rest = np.frombuffer(self._buffer, dtype=np.uint8, offset=self._pos)
        ends = np.flatnonzero(rest == NEWLINE)
        size = int(ends[line_count - 1]) + 1 if len(ends) >= line_count else len(rest)
        return self._take(size, min(len(ends), line_count))

    def lines(self) -> Iterator[str]:
        """The following lines one at a time, decoded: each is taken only when pulled."""
        while True:
            end = self._buffer.find(b"\n", self._pos)
            while end < 0 and not self._eof:
                self._fill()
                end = self._buffer.find(b"\n", self._pos)
            size = end + 1 - self._pos if end >= 0 else len(self._buffer) - self._pos
            if not size:
                return
            yield self._take(size, 1 if end >= 0 else 0).decode("utf-8")

    def _take(self, size: int, newlines: int) -> bytes:
        taken = self._buffer[self._pos : self._pos + size]
        self._pos += size
        unterminated_last_line = bool(taken) and not taken.endswith(b"\n")
        self.lines_taken += newlines + unterminated_last_line
        return taken

    def _fill(self) -> None:
        raw = self._binary.read(READ_BYTES)
        self._eof = not raw
        if self._decoder is not None:
            text = self._decoder.decode(raw, final=self._eof)
            raw = (text.replace("\r", "\n") if self._cr_newlines else text).encode("utf-8")
        elif self._at_start:
            raw = raw.removeprefix(codecs.BOM_UTF8)  # UTF-8 with or without a BOM
        self._at_start = False
        self._buffer = self._buffer[self._pos :] + raw
        self._pos = 0
