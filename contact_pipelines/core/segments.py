"""Segment memberships: the groups the sources carried, plus segments defined by rules.

``compute_memberships(cards, rules, today)`` returns ``MEMBERSHIP_SCHEMA``: one
row per (contact_key, segment), sorted. A card's ``groups`` give rows with
origin ``source``; every config rule the card matches gives origin ``rule``.
When a segment comes from both, the single row says ``rule`` (the rule is
the definition the team maintains; the source group is just its input).

Rule syntax
-----------
A rule is a boolean expression over one card. Parsed by a small
recursive-descent parser (no ``eval``); evaluated over the whole cards table
at once with pyarrow.compute.

- Fields: any card column (``country``, ``birth_date``, ``email_status``,
  ``updated_at``, ``consent_marketing`` ...), list columns (``groups``,
  ``emails``, ``phones``, ``webpush_tokens``) and additional fields as
  ``field:plan_type`` or ``fields.plan_type``.
- Values: strings in single or double quotes, numbers, ``true``/``false``,
  and dates relative to the run day: ``today()``, ``days_ago(30)``,
  ``years_ago(18)`` (ISO strings, so they compare with dates and timestamps).
- Comparisons: ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``. Text compares as text
  (ISO dates sort correctly); against a number, the field is read as a
  number (values that are not numbers never match).
- Membership: ``country in ('UA', 'PL')``, ``country not in ('RU')``.
- ``groups contains 'VIP'`` (a list holds the value), ``email contains
  '@gmail.'`` (text holds the substring); ``not contains`` too.
- ``phone is empty``, ``phone is not empty`` (null, empty text or empty list).
- ``birthday_within(7)``: the birthday (month and day of ``birth_date``)
  falls within the next 7 days, today included; 29 February counts on
  28 February in other years.
- Combine with ``and``, ``or``, ``not`` and parentheses; ``not`` binds
  tightest, then ``and``, then ``or``. Keywords are case-insensitive.

A missing value never matches a comparison, ``in``, ``not in``, ``contains``
or ``not contains`` (``country != 'UA'`` leaves out cards without a country;
write ``not country == 'UA'`` to keep them). A list is never missing: an empty
``groups`` does not contain 'VIP'.

Examples::

    country == 'UA' and email_status == 'subscribed'
    field:plan_type in ('gold', 'platinum') or groups contains 'VIP'
    updated_at >= days_ago(30) and not (phone is empty)
    birth_date <= years_ago(18) and consent_marketing == true

A rule that does not parse raises ``RuleError`` naming the segment, the
position and what was expected, before any card is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.config import SegmentRuleConfig
from contact_pipelines.core.fields import CARD_SCHEMA, MEMBERSHIP_SCHEMA

COMPARISONS = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_NOT_RULE_FIELDS = ("contact_key", "shard", "sources", "content_hash", "push_tokens", "fields")
RULE_FIELDS = tuple(name for name in CARD_SCHEMA.names if name not in _NOT_RULE_FIELDS)
_KEYWORDS = {"and", "or", "not", "in", "contains", "is", "empty", "true", "false"}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?![\w:.-]))
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|,)
      | (?P<name>(?:field:|fields\.)[\w-]+|[A-Za-z_]\w*)
    )""",
    re.VERBOSE,
)


class RuleError(ValueError):
    """A segment rule that cannot be parsed; the message names the segment and the position."""


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, op, name, end
    text: str
    position: int


# ---- the rule tree: every node evaluates to one boolean per card ------------


@dataclass(frozen=True)
class _RelativeDate:
    unit: str  # today, days_ago, years_ago
    count: int

    def resolve(self, today: date) -> str:
        if self.unit == "days_ago":
            return (today - timedelta(days=self.count)).isoformat()
        if self.unit == "years_ago":
            year = today.year - self.count
            day = 28 if (today.month, today.day) == (2, 29) else today.day
            return today.replace(year=year, day=day).isoformat()
        return today.isoformat()


@dataclass(frozen=True)
class _Compare:
    field: str
    op: str
    value: object  # str, float, bool or _RelativeDate


@dataclass(frozen=True)
class _In:
    field: str
    values: tuple
    negate: bool


@dataclass(frozen=True)
class _Contains:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True)
class _Empty:
    field: str
    negate: bool


@dataclass(frozen=True)
class _BirthdayWithin:
    days: int


@dataclass(frozen=True)
class _Not:
    operand: object


@dataclass(frozen=True)
class _BoolOp:
    op: str  # and, or
    operands: tuple


@dataclass(frozen=True)
class Rule:
    """A parsed segment rule: ``rule.matches(cards, today)`` gives one bool per card."""

    segment: str
    text: str
    tree: object

    def matches(self, cards: pa.Table, today: date) -> np.ndarray:
        return _evaluate(self.tree, cards, today)


# ---- parsing ------------------------------------------------------------------


def parse_rule(text: str, segment: str = "?") -> Rule:
    """Parse one rule; raise RuleError naming the segment and the position on bad syntax."""
    parser = _Parser(text, segment)
    tree = parser.expression()
    parser.expect_end()
    return Rule(segment, text, tree)


def parse_rules(rules: list[SegmentRuleConfig]) -> list[Rule]:
    """Parse every configured rule up front, so a typo fails before any card is read."""
    return [parse_rule(rule.rule, rule.name) for rule in rules]


class _Parser:
    def __init__(self, text: str, segment: str):
        self.text, self.segment = text, segment
        self.tokens = self._tokenize()
        self.index = 0

    def _tokenize(self) -> list[_Token]:
        tokens, position = [], 0
        while position < len(self.text):
            if not self.text[position:].strip():
                break
            found = _TOKEN.match(self.text, position)
            if not found:
                start = len(self.text) - len(self.text[position:].lstrip())
                self.fail("unexpected character", start)
            kind = found.lastgroup
            tokens.append(_Token(kind, found.group(kind), found.start(kind)))
            position = found.end()
        tokens.append(_Token("end", "", len(self.text)))
        return tokens

    def fail(self, problem: str, position: int | None = None):
        position = self.peek().position if position is None else position
        raise RuleError(
            f"segment {self.segment!r}: {problem} at position {position} of rule "
            f"{self.text!r}\n    {self.text}\n    {' ' * position}^\n"
            "fix the rule in the `segments` section of the config "
            "(syntax: see contact_pipelines.core.segments)"
        )

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token.kind in ("name", "op") and token.text.lower() == word:
            self.index += 1
            return True
        return False

    def expect(self, word: str, what: str) -> None:
        if not self.accept(word):
            self.fail(f"expected {what}, found {self._describe(self.peek())}")

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            self.fail(f"expected `and`, `or` or the end, found {self._describe(self.peek())}")

    @staticmethod
    def _describe(token: _Token) -> str:
        return "the end of the rule" if token.kind == "end" else repr(token.text)

    def expression(self):
        operands = [self.conjunction()]
        while self.accept("or"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else _BoolOp("or", tuple(operands))

    def conjunction(self):
        operands = [self.negation()]
        while self.accept("and"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else _BoolOp("and", tuple(operands))

    def negation(self):
        if self.accept("not"):
            return _Not(self.negation())
        return self.primary()

    def primary(self):
        if self.accept("("):
            inner = self.expression()
            self.expect(")", "`)`")
            return inner
        token = self.peek()
        if token.kind == "name" and token.text.lower() == "birthday_within":
            self.take()
            return _BirthdayWithin(self.count_argument())
        return self.predicate()

    def predicate(self):
        token = self.take()
        if token.kind != "name" or token.text.lower() in _KEYWORDS:
            self.fail(f"expected a field name, found {self._describe(token)}", token.position)
        field = self.field_name(token)
        if self.accept("is"):
            negate = self.accept("not")
            self.expect("empty", "`empty` after `is`")
            return _Empty(field, negate)
        negate = self.accept("not")
        if self.accept("in"):
            return _In(field, self.value_list(), negate)
        if self.accept("contains"):
            return _Contains(field, self.string_value(), negate)
        if negate:
            self.fail("expected `in` or `contains` after `not`")
        operator = self.take()
        if operator.text not in COMPARISONS:
            self.fail(
                "expected a comparison (== != < <= > >=), `in`, `contains` or `is empty`, "
                f"found {self._describe(operator)}",
                operator.position,
            )
        if _is_list_field(field):
            self.fail(f"{field} is a list: use `contains` or `is empty`", operator.position)
        return _Compare(field, operator.text, self.value())

    def field_name(self, token: _Token) -> str:
        name = token.text
        if name.startswith("fields."):
            name = "field:" + name[len("fields.") :]
        if name.startswith("field:") or name in RULE_FIELDS:
            return name
        self.fail(
            f"unknown field {token.text!r} (card fields: {', '.join(RULE_FIELDS)}; "
            "additional fields as field:<name>)",
            token.position,
        )

    def value_list(self) -> tuple:
        self.expect("(", "`(` to open the list of values")
        values = [self.value()]
        while self.accept(","):
            values.append(self.value())
        self.expect(")", "`,` or `)` to close the list of values")
        return tuple(values)

    def string_value(self) -> str:
        value = self.value()
        if not isinstance(value, str):
            self.fail("expected a quoted text value", self.tokens[self.index - 1].position)
        return value

    def value(self):
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return float(token.text)
        word = token.text.lower() if token.kind == "name" else ""
        if word in ("true", "false"):
            return word == "true"
        if word == "today":
            self.expect("(", "`(`")
            self.expect(")", "`)`")
            return _RelativeDate("today", 0)
        if word in ("days_ago", "years_ago"):
            return _RelativeDate(word, self.count_argument())
        self.fail(
            "expected a value: 'text', a number, true/false, today(), days_ago(N) or "
            f"years_ago(N), found {self._describe(token)}",
            token.position,
        )

    def count_argument(self) -> int:
        self.expect("(", "`(`")
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            self.fail("expected a whole number of days or years", token.position)
        self.expect(")", "`)`")
        return int(token.text)


def _is_list_field(field: str) -> bool:
    return not field.startswith("field:") and pa.types.is_list(CARD_SCHEMA.field(field).type)


# ---- evaluation -----------------------------------------------------------------


def _evaluate(node, cards: pa.Table, today: date) -> np.ndarray:
    if isinstance(node, _BoolOp):
        results = [_evaluate(operand, cards, today) for operand in node.operands]
        combine = np.logical_and if node.op == "and" else np.logical_or
        return combine.reduce(results)
    if isinstance(node, _Not):
        return ~_evaluate(node.operand, cards, today)
    if isinstance(node, _BirthdayWithin):
        return _birthday_within(cards["birth_date"], node.days, today)
    column = _field_values(cards, node.field)
    if isinstance(node, _Empty):
        return _is_empty(column) != node.negate
    if isinstance(node, _In):
        values = pa.array([_as_text(value, today) for value in node.values], pa.string())
        hit = _to_bool(pc.is_in(column.cast(pa.string()), value_set=values))
        return _negated(hit, column) if node.negate else hit
    if isinstance(node, _Contains):
        hit = _contains(column, node.value)
        return _negated(hit, column) if node.negate else hit
    return _compare(column, node.op, node.value, today)


def _negated(hit: np.ndarray, column: pa.Array) -> np.ndarray:
    """`not in` / `not contains`: like `!=`, a missing value never matches (a list is never missing)."""
    if pa.types.is_list(column.type):
        return ~hit
    return ~hit & _to_bool(column.is_valid())


def _field_values(cards: pa.Table, field: str) -> pa.Array:
    if field.startswith("field:"):
        name = field[len("field:") :]
        return pc.map_lookup(cards["fields"].combine_chunks(), pa.scalar(name), "first")
    return cards[field].combine_chunks()


def _to_bool(result) -> np.ndarray:
    return np.asarray(result.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_text(value, today: date) -> str:
    if isinstance(value, _RelativeDate):
        return value.resolve(today)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(column: pa.Array, op: str, value, today: date) -> np.ndarray:
    if isinstance(value, float):
        # text read as a number; what is not a number never matches
        numbers = pd.to_numeric(pd.Series(column.to_pandas()), errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            return _to_bool(COMPARISONS[op](pa.array(numbers, from_pandas=True), value))
    if isinstance(value, bool) and pa.types.is_boolean(column.type):
        return _to_bool(COMPARISONS[op](column, value))
    return _to_bool(COMPARISONS[op](column.cast(pa.string()), _as_text(value, today)))


def _is_empty(column: pa.Array) -> np.ndarray:
    if pa.types.is_list(column.type) or pa.types.is_map(column.type):
        return _to_bool(pc.equal(pc.list_value_length(column), 0)) | _to_bool(column.is_null())
    if pa.types.is_string(column.type):
        return _to_bool(column.is_null()) | _to_bool(pc.equal(column, ""))
    return _to_bool(column.is_null())


def _contains(column: pa.Array, value: str) -> np.ndarray:
    if pa.types.is_list(column.type):
        holds = _to_bool(pc.equal(pc.list_flatten(column), value))
        parents = pc.list_parent_indices(column).to_numpy()
        return np.bincount(parents[holds], minlength=len(column)) > 0
    return _to_bool(pc.match_substring(column.cast(pa.string()), value))


def _birthday_within(birth_dates, days: int, today: date) -> np.ndarray:
    window = [today + timedelta(days=offset) for offset in range(min(days, 366) + 1)]
    month_days = {day.strftime("%m-%d") for day in window}
    if "02-28" in month_days and not _is_leap(today.year):
        month_days.add("02-29")  # a 29 February birthday is celebrated on the 28th
    birth_dates = birth_dates.combine_chunks() if hasattr(birth_dates, "chunks") else birth_dates
    month_day = pc.utf8_slice_codeunits(birth_dates, 5, 10)
    return _to_bool(pc.is_in(month_day, value_set=pa.array(sorted(month_days))))


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# ---- memberships ----------------------------------------------------------------


def compute_memberships(cards: pa.Table, rules: list[SegmentRuleConfig], today: date) -> pa.Table:
    """One row per (contact_key, segment): source groups plus rule matches, rule origin wins."""
    parsed = parse_rules(rules)
    keys = cards["contact_key"].combine_chunks()
    groups = cards["groups"].combine_chunks()
    parts = [
        _memberships(keys.take(pc.list_parent_indices(groups)), pc.list_flatten(groups), "source")
    ]
    for rule in parsed:
        matched = pa.array(rule.matches(cards, today))
        names = pa.array([rule.segment] * int(pc.sum(matched).as_py() or 0), pa.string())
        parts.append(_memberships(keys.filter(matched), names, "rule"))
    combined = pa.concat_tables(parts)
    return _one_row_per_segment(combined)


def _memberships(keys: pa.Array, segments: pa.Array, origin: str) -> pa.Table:
    present = pc.and_(segments.is_valid(), pc.not_equal(segments, "")).fill_null(False)
    keys, segments = keys.filter(present), segments.filter(present)
    return pa.table(
        {"contact_key": keys, "segment": segments, "origin": pa.array([origin] * len(keys))},
        schema=MEMBERSHIP_SCHEMA,
    )


def _one_row_per_segment(memberships: pa.Table) -> pa.Table:
    # "rule" sorts before "source", so the first row of each pair is the rule's
    order = pc.sort_indices(
        memberships,
        sort_keys=[("contact_key", "ascending"), ("segment", "ascending"), ("origin", "ascending")],
    )
    ordered = memberships.take(order).combine_chunks()
    if ordered.num_rows == 0:
        return ordered
    keys, segments = ordered["contact_key"].chunk(0), ordered["segment"].chunk(0)
    same_key = _to_bool(pc.equal(keys[1:], keys[:-1]))
    same_segment = _to_bool(pc.equal(segments[1:], segments[:-1]))
    first = np.concatenate([[True], ~(same_key & same_segment)])
    return ordered.filter(pa.array(first))
