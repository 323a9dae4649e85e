"""Contact cards: one row per person, merged from every source row by survivorship.

``build_cards(rows)`` takes validated rows (``VALIDATED_SCHEMA``) with
``contact_key`` and ``shard`` joined on, and returns ``CARD_SCHEMA``.

Survivorship. Rows of one person are ranked once, best first, by:

1. ``updated_at`` descending (ISO strings sort as text; a null is oldest),
2. ``source_priority`` descending,
3. ``source_file`` then ``source_row`` descending (the later file or row wins;
   only a deterministic last resort).

Every scalar field takes the first *non-empty* value in that ranking, so a
value beats an empty one whatever its rank. ``phone_type`` comes from the row
whose phone survived. Each ``fields`` key is merged the same way, per key.

Channels are all kept: ``emails`` and ``phones`` hold every distinct value,
the surviving (primary) one first and the rest sorted; ``push_tokens`` holds
one struct per distinct token (device details from that token's best-ranked
row), sorted by token; ``webpush_tokens`` and ``groups`` are the distinct
union, sorted. ``sources`` lists "<source_file>:<source_row>" in rank order.

``content_hash`` (16 hex digits of ``identity.stable_hash64``, the same
process-independent hash as contact_key) covers what a vendor can see:
every column except ``contact_key``, ``shard``, ``sources`` (lineage) and
``updated_at`` (survivorship metadata). Lists are in a canonical order, so a
re-export of the same data with new row numbers, or the same rows in another
order, keeps the hash; any changed value changes it.

All of it runs on whole columns and never reorders the rows: contact_key,
updated_at and source_file become integer codes (pyarrow dictionary encoding),
one numpy lexsort ranks the rows, and every pick ("first non-empty value per
person", "distinct values per person") is index arithmetic over that order;
only people with several emails, phones or tokens get their values sorted. The
content hash runs over the Arrow string buffer. No Python code runs per row or
per card.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.fields import (
    CARD_SCHEMA,
    CONSENT_FIELDS,
    PROFILE_FIELDS,
    PUSH_DEVICE_FIELDS,
    PUSH_TOKEN_TYPE,
    SOURCE_FILE,
    SOURCE_ROW,
    VALIDATED_SCHEMA,
)
from contact_pipelines.core.identity import hex_digits, key_codes, sorted_codes, stable_hash64

# Fields whose card value is the best-ranked non-empty row value.
SURVIVING_FIELDS = ("external_id", "email", "phone", *PROFILE_FIELDS, *CONSENT_FIELDS, "updated_at")
# Card columns left out of content_hash: not something a vendor receives.
UNHASHED_COLUMNS = ("contact_key", "shard", "sources", "updated_at", "content_hash")

# Separators for the text that content_hash digests: control characters that
# normalised values do not contain.
_LIST_SEP, _FIELD_SEP, _PART_SEP, _NULL = "\x1e", "\x1f", "\x1d", "\x00"


def build_cards(rows: pa.Table) -> pa.Table:
    """Merge validated rows of one or more people into one card per contact_key."""
    _require_columns(rows)
    if rows.num_rows == 0:
        return CARD_SCHEMA.empty_table()
    group, keys = key_codes(rows["contact_key"])
    merge = _Merge(rows, group, _rank_order(rows, group), len(keys))

    first_rows = pa.array(merge.order[merge.group_starts])
    card = {
        "contact_key": keys,
        "shard": _column(rows, "shard").cast(pa.int32()).take(first_rows),
    }
    for name in SURVIVING_FIELDS:
        card[name] = merge.first_valid(name)
    card["phone_type"] = merge.first_valid("phone_type", where_valid="phone")
    card["emails"] = merge.distinct_list("email", primary=card["email"])
    card["phones"] = merge.distinct_list("phone", primary=card["phone"])
    card["push_tokens"] = merge.push_tokens()
    card["webpush_tokens"] = merge.distinct_list("webpush_token")
    card["groups"] = merge.distinct_list("groups")
    card["fields"] = merge.fields_map()
    card["sources"] = merge.lineage()
    body = pa.schema([f for f in CARD_SCHEMA if f.name != "content_hash"])
    cards = pa.table([card[name] for name in body.names], schema=body)
    return cards.append_column(CARD_SCHEMA.field("content_hash"), content_hashes(cards))


def _rank_order(rows: pa.Table, group: np.ndarray) -> np.ndarray:
    """Row indices by contact_key, then best first (the ranking of the module docstring).

    Every key is an integer code (strings are dictionary-encoded, the dictionary
    sorted), so one numpy lexsort ranks the rows. Negated codes sort descending; a
    null updated_at (code -1) becomes +1 and so sorts after every date: the oldest.
    """
    updated, _ = sorted_codes(rows["updated_at"])
    source_file, _ = sorted_codes(rows[SOURCE_FILE])
    priority = _column(rows, "source_priority").to_numpy(zero_copy_only=False).astype(np.int64)
    source_row = _column(rows, SOURCE_ROW).to_numpy(zero_copy_only=False).astype(np.int64)
    # lexsort: the last key is the primary one
    return np.lexsort((-source_row, -source_file, -priority, -updated, group))


def content_hashes(cards: pa.Table) -> pa.Array:
    """16 hex digits per card over the columns a vendor sees (see the module docstring)."""
    parts = [
        _as_text(cards[f.name].combine_chunks())
        for f in CARD_SCHEMA
        if f.name not in UNHASHED_COLUMNS
    ]
    text = pc.binary_join_element_wise(
        *parts, _FIELD_SEP, null_handling="replace", null_replacement=_NULL
    )
    return hex_digits(stable_hash64(text))


def _require_columns(rows: pa.Table) -> None:
    needed = [*VALIDATED_SCHEMA.names, "contact_key", "shard"]
    missing = [name for name in needed if name not in rows.column_names]
    if missing:
        raise ValueError(
            f"rows for build_cards lack column(s) {missing}: pass validated_contacts rows "
            "(VALIDATED_SCHEMA) joined with identity_graph's contact_key and shard"
        )


def _column(table: pa.Table, name: str) -> pa.Array:
    return table[name].combine_chunks()


def _present_mask(values: pa.Array) -> np.ndarray:
    """True where a value is there: not null, and not an empty string."""
    present = values.is_valid()
    if pa.types.is_string(values.type):
        present = pc.and_(present, pc.not_equal(values, "")).fill_null(False)
    return present.to_numpy(zero_copy_only=False).astype(bool)


def _first_per_group(group_of_item: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the first item of every group (-1 when none), for items sorted by group."""
    first = np.full(n_groups, -1, dtype=np.int64)
    if len(group_of_item) == 0:
        return first
    is_first = np.concatenate([[True], group_of_item[1:] != group_of_item[:-1]])
    first[group_of_item[is_first]] = np.flatnonzero(is_first)
    return first


def _take_or_null(values: pa.Array, indices: np.ndarray) -> pa.Array:
    return values.take(pa.array(indices, pa.int64(), mask=indices < 0))


def _offsets(group_of_item: np.ndarray, n_groups: int) -> pa.Array:
    counts = np.bincount(group_of_item, minlength=n_groups)
    return pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())


def _flatten(nested: pa.Array) -> tuple[np.ndarray, pa.Array | pa.StructArray]:
    """Flatten a list or map column: (parent row per item, items). Maps give key/value structs."""
    offsets = nested.offsets.to_numpy()
    start, stop = int(offsets[0]), int(offsets[-1])
    parents = np.repeat(np.arange(len(nested), dtype=np.int64), np.diff(offsets))
    if isinstance(nested, pa.MapArray):
        keys, items = (
            nested.keys.slice(start, stop - start),
            nested.items.slice(start, stop - start),
        )
        return parents, pa.StructArray.from_arrays([keys, items], names=["key", "value"])
    return parents, nested.values.slice(start, stop - start)


def _distinct_in_order(group: np.ndarray, value_code: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Of items visited in ``order``, those that start a run of equal (group, value)."""
    group, value_code = group[order], value_code[order]
    starts_run = np.ones(len(order), dtype=bool)
    starts_run[1:] = (group[1:] != group[:-1]) | (value_code[1:] != value_code[:-1])
    return order[starts_run]


def _codes_where_shared(group: np.ndarray, values: pa.Array) -> np.ndarray:
    """Sortable codes for the values of groups holding several items; 0 for single items.

    Most people have one email or one token: only the others need their strings sorted.
    """
    shared = np.bincount(group)[group] > 1 if len(group) else np.zeros(0, dtype=bool)
    codes = np.zeros(len(group), dtype=np.int64)
    codes[shared], _ = sorted_codes(values.filter(pa.array(shared)))
    return codes


class _Merge:
    """Per-column merges of the rows of each person, ranked best first.

    ``order`` lists row indices by group (ascending contact_key) then rank; the
    rows themselves are never reordered: every pick is an index into them.
    """

    def __init__(self, rows: pa.Table, group: np.ndarray, order: np.ndarray, n_groups: int):
        self.rows, self.group, self.order, self.n_groups = rows, group, order, n_groups
        self.rank = np.empty(len(order), dtype=np.int64)  # row -> its position in order
        self.rank[order] = np.arange(len(order), dtype=np.int64)
        self.group_starts = _first_per_group(group[order], n_groups)

    def first_valid(self, name: str, where_valid: str | None = None) -> pa.Array:
        """The best-ranked present value of ``name`` (of the row where ``where_valid`` is present)."""
        present = _present_mask(_column(self.rows, where_valid or name))[self.order]
        positions = np.flatnonzero(present)
        first = _first_per_group(self.group[self.order[positions]], self.n_groups)
        chosen = np.full(self.n_groups, -1, dtype=np.int64)
        chosen[first >= 0] = self.order[positions[first[first >= 0]]]
        return _take_or_null(_column(self.rows, name), chosen)

    def _items(self, name: str) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """Present items of a scalar or list column: (group, rank, value), in row order."""
        column = _column(self.rows, name)
        if pa.types.is_list(column.type):
            parent_rows, column = _flatten(column)
        else:
            parent_rows = np.arange(len(column), dtype=np.int64)
        present = _present_mask(column)
        parent_rows = parent_rows[present]
        return self.group[parent_rows], self.rank[parent_rows], column.filter(present)

    def distinct_list(self, name: str, primary: pa.Array | None = None) -> pa.Array:
        """Distinct present values per group: the primary first, the rest sorted."""
        group, _, values = self._items(name)
        is_primary = np.zeros(len(values), dtype=bool)
        if primary is not None and len(values):
            is_primary = pc.equal(values, primary.take(pa.array(group))).fill_null(False)
            is_primary = is_primary.to_numpy(zero_copy_only=False).astype(bool)
        value_code = _codes_where_shared(group, values)
        order = np.lexsort((value_code, ~is_primary, group))
        kept = _distinct_in_order(group, value_code, order)
        return pa.ListArray.from_arrays(
            _offsets(group[kept], self.n_groups), values.take(pa.array(kept))
        )

    def push_tokens(self) -> pa.Array:
        """One struct per distinct token, device details from its best-ranked row, by token."""
        group, rank, tokens = self._items("push_token")
        token_code = _codes_where_shared(group, tokens)
        kept = _distinct_in_order(group, token_code, np.lexsort((rank, token_code, group)))
        device_rows = pa.array(self.order[rank[kept]])
        device = [_column(self.rows, name).take(device_rows) for name in PUSH_DEVICE_FIELDS]
        structs = pa.StructArray.from_arrays(
            [tokens.take(pa.array(kept)), *device], fields=list(PUSH_TOKEN_TYPE)
        )
        return pa.ListArray.from_arrays(_offsets(group[kept], self.n_groups), structs)

    def fields_map(self) -> pa.Array:
        """Additional fields merged per key: each key's best-ranked non-empty value."""
        parent_rows, pairs = _flatten(_column(self.rows, "fields"))
        present = _present_mask(pairs.field("value"))
        parent_rows = parent_rows[present]
        group, rank = self.group[parent_rows], self.rank[parent_rows]
        keys, values = pairs.field("key").filter(present), pairs.field("value").filter(present)
        key_code, _ = sorted_codes(keys)  # few distinct field names: cheap to sort them all
        kept = pa.array(_distinct_in_order(group, key_code, np.lexsort((rank, key_code, group))))
        return pa.MapArray.from_arrays(
            _offsets(group[kept.to_numpy()], self.n_groups), keys.take(kept), values.take(kept)
        )

    def lineage(self) -> pa.Array:
        ranked_rows = pa.array(self.order)
        text = pc.binary_join_element_wise(
            _column(self.rows, SOURCE_FILE).take(ranked_rows),
            _column(self.rows, SOURCE_ROW).take(ranked_rows).cast(pa.string()),
            ":",
        )
        return pa.ListArray.from_arrays(_offsets(self.group[self.order], self.n_groups), text)


def _as_text(column: pa.Array) -> pa.Array:
    """One string per card for content_hash; lists and maps joined with separators."""
    kind = column.type
    if pa.types.is_map(kind):
        parents, pairs = _flatten(column)
        pair_text = pc.binary_join_element_wise(pairs.field("key"), pairs.field("value"), _PART_SEP)
        return _join_items(column, pair_text)
    if pa.types.is_list(kind):
        _, items = _flatten(column)
        if pa.types.is_struct(items.type):
            items = pc.binary_join_element_wise(
                *items.flatten(), _PART_SEP, null_handling="replace", null_replacement=_NULL
            )
        return _join_items(column, items)
    return column.cast(pa.string())


def _join_items(column: pa.Array, item_text: pa.Array) -> pa.Array:
    offsets = column.offsets.to_numpy()
    # a null offset marks a null list; the closing offset is never null
    is_null = np.append(column.is_null().to_numpy(zero_copy_only=False), False)
    rebased = pa.array(offsets - offsets[0], pa.int32(), mask=is_null)
    return pc.binary_join(pa.ListArray.from_arrays(rebased, item_text), _LIST_SEP)
