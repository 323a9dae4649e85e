"""Stream the records of one large JSON document in bounded memory.

``json.JSONDecoder.raw_decode`` parses one record at a time from a buffered
text stream, so a top-level array (or ``{"contacts": [...], ...}``) of
millions of contacts never sits in memory whole. The records are the
top-level array's elements or, in an object, the elements of its first
array whose first element is an object; an object without such an array is
itself one record. A record that will not parse fails with its line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO

from contact_pipelines.core.readers.base import ExportReadError

RECORD_LIST_KEYS = ("contacts", "data", "items", "records", "results")
READ_CHARS = 1 << 20
MAX_RECORD_CHARS = 64 << 20  # one contact never needs this much: past it, the JSON is broken
_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


class JsonStream:
    """A cursor over the text of a JSON document that reads ahead only as far as it needs."""

    def __init__(self, text: TextIO, name: str, fix: str):
        self._text = text
        self._name = name
        self._fix = fix
        self._buffer = ""
        self._pos = 0
        self._line_at_buffer_start = 1
        self._eof = False

    def records(self) -> Iterator[tuple[int, object]]:
        """(1-based record number, record) for every record of the document."""
        first = self._peek()
        if first == "[":
            yield from enumerate(self._array_items(), start=1)
        elif first == "{":
            yield from self._object_records()
        else:
            value = self._value()
            raise ExportReadError(
                self._name,
                None,
                f"the JSON is a single {type(value).__name__}, not contact records",
                self._fix,
            )

    def _object_records(self) -> Iterator[tuple[int, object]]:
        self._expect("{")
        pairs: dict[str, object] = {}
        while self._peek() != "}":
            if pairs:
                self._expect(",")
            key = self._value()
            self._expect(":")
            if self._peek() == "[" and self._array_of_objects_follows():
                yield from enumerate(self._array_items(), start=1)
                return  # the rest of the wrapper (dedupeOn, ...) holds no contacts
            pairs[str(key)] = self._value()
        self._expect("}")
        if not any(pairs.get(key) == [] for key in RECORD_LIST_KEYS):  # {"contacts": []}: none
            yield 1, pairs

    def _array_items(self) -> Iterator[object]:
        self._expect("[")
        if self._peek() == "]":
            self._expect("]")
            return
        while True:
            yield self._value()
            if self._peek() == "]":
                self._expect("]")
                return
            self._expect(",")

    def _array_of_objects_follows(self) -> bool:
        """Whether the "[" at the cursor opens with an object; takes nothing."""
        while True:
            after = self._pos + 1
            while after < len(self._buffer) and self._buffer[after] in _WHITESPACE:
                after += 1
            if after < len(self._buffer) or self._eof:
                return self._buffer[after : after + 1] == "{"
            self._fill()  # keeps the "[" at the cursor

    # --- low level ----------------------------------------------------------

    def _peek(self) -> str:
        """The next non-blank character without taking it; "" at the end."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buffer) or self._eof:
                return self._buffer[self._pos : self._pos + 1]
            self._fill()

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            self._fail(f"expected {char!r} but found {found or 'the end of the file'!r}")
        self._pos += 1

    def _value(self) -> object:
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof or len(self._buffer) - self._pos > MAX_RECORD_CHARS:
                    self._fail(f"the JSON is invalid ({exc.msg})", exc.pos)
                self._fill()  # most likely the value runs past the buffer: read on
                continue
            if end == len(self._buffer) and not self._eof:
                self._fill()  # a number may go on in the next read: parse it whole
                continue
            self._pos = end
            return value

    def _fill(self) -> None:
        more = self._text.read(READ_CHARS)
        self._eof = not more
        self._line_at_buffer_start += self._buffer.count("\n", 0, self._pos)
        self._buffer = self._buffer[self._pos :] + more
        self._pos = 0

    def _fail(self, problem: str, pos: int | None = None) -> None:
        where = self._pos if pos is None else pos
        line = self._line_at_buffer_start + self._buffer.count("\n", 0, where)
        raise ExportReadError(self._name, line, problem, self._fix)
