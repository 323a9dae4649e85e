"""Identity resolution: which source rows are the same person.

``resolve_identities`` turns the identifier columns of the whole base into one
``contact_key`` and ``shard`` per source row (``IDENTITY_SCHEMA``).

The rules, in order:

1. **Strong key.** Rows with the same ``external_id`` are one person. Two
   different external ids are always two people, whatever else they share.
2. **Weak keys.** ``email``, ``phone`` and the push tokens (``push_token`` and
   ``webpush_token`` share one namespace) link rows, but only identifiers that
   are *linking*:

   - not listed in ``IdentityConfig.ignore_identifiers`` (compared
     case-insensitively; the list also applies to external ids, which are
     then treated as absent), and
   - not *generic*: an identifier seen with more than
     ``max_people_per_identifier`` candidate people is a shop's own phone or
     ``test@test.com``. A candidate person is a distinct external id, or for a
     row without one, a distinct combination of the row's identifiers (so one
     person exported fifty times with the same email and phone counts once).
     Generic identifiers are reported, masked, in ``generic_identifiers``.

3. **Weak clusters.** Rows *without* an external id are joined through their
   linking identifiers into clusters (connected components, so chains
   A-B via email, B-C via phone give A-B-C).
4. **Attachment.** A cluster whose identifiers also appear on rows with an
   external id joins that person when exactly one external id is reachable.
   When two or more are reachable the cluster would merge different people:
   it stays a person of its own and counts as one ``conflict``. Rows with
   external ids never merge each other through weak identifiers, so
   ``conflicts`` also counts identifiers shared by rows of different external
   ids (each such cluster counts once).
5. A row without an external id and without any linking identifier is a
   person on its own.

The key of a person is a hash of its strongest, smallest identifier:
``x:<external_id>``, else ``e:<min email>``, else ``p:<min phone>``, else
``t:<min token>`` of its cluster, else ``r:<source_file>:<source_row>`` for a
row that links to nothing. The same person therefore keeps the same key across
runs, in any row order. ``contact_key`` is the first 16 hex digits of the
blake2b digest and ``shard = int(contact_key, 16) % shards``.

Everything runs on integer arrays: identifier values are dictionary-encoded
(in sorted (kind, value) order, so the smallest integer id of a cluster *is*
its key identifier), and clusters come from min-label hooking with pointer
jumping over edge arrays. The only Python loop is the hash per person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.config import IdentityConfig
from contact_pipelines.core.fields import IDENTITY_SCHEMA, SOURCE_FILE, SOURCE_ROW
from contact_pipelines.core.mask import mask_email, mask_phone, mask_value

# Weak identifier columns and the namespace (key prefix) each belongs to, strongest first.
WEAK_COLUMNS = {"email": "e", "phone": "p", "push_token": "t", "webpush_token": "t"}
_KIND_ORDER = ("e", "p", "t")
_KIND_NAMES = {"e": "email", "p": "phone", "t": "push token"}
_MASKERS = {"e": mask_email, "p": mask_phone, "t": lambda token: mask_value("push_token", token)}
KEY_HEX_DIGITS = 16


@dataclass(frozen=True)
class IdentityResult:
    table: pa.Table  # IDENTITY_SCHEMA, one row per input row, in input order
    generic_identifiers: list[str] = field(default_factory=list)  # masked, most shared first
    conflicts: int = 0  # weak clusters that reach two or more external ids


@dataclass(frozen=True)
class _WeakIdentifiers:
    """Every weak identifier value encoded to one integer id space, ordered by (kind, value)."""

    codes: dict[str, np.ndarray]  # column -> per-row identifier id, -1 when absent
    values: pa.Array  # identifier id -> value
    kinds: np.ndarray  # identifier id -> kind letter ("e", "p", "t")
    ignored: np.ndarray  # identifier id -> listed in ignore_identifiers


def resolve_identities(id_rows: pa.Table, shards: int, config: IdentityConfig) -> IdentityResult:
    """Group source rows into people; give each row a stable contact_key and a shard."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}: fix `shards` in the config")
    _require_columns(id_rows)
    ignored_values = _ignore_set(config.ignore_identifiers)
    ext_codes, ext_values = _encode_external_ids(id_rows["external_id"], ignored_values)
    weak = _encode_weak_identifiers(id_rows, ignored_values)

    people_per_identifier = _count_candidate_people(ext_codes, weak)
    generic = (people_per_identifier > config.max_people_per_identifier) & ~weak.ignored
    linking = ~generic & ~weak.ignored

    first_link = _first_linking_identifier(weak.codes, linking)
    cluster = _weak_clusters(weak.codes, linking, first_link, without_external=ext_codes < 0)
    attached_external, conflicts = _attach_clusters(weak.codes, linking, cluster, ext_codes)

    person = _person_per_row(ext_codes, first_link, cluster, attached_external)
    keys, shard = _contact_keys(person, id_rows, ext_values, weak, shards)
    table = pa.table(
        {
            SOURCE_FILE: id_rows[SOURCE_FILE],
            SOURCE_ROW: id_rows[SOURCE_ROW],
            "contact_key": keys,
            "shard": pa.array(shard, pa.int32()),
        },
        schema=IDENTITY_SCHEMA,
    )
    return IdentityResult(
        table=table,
        generic_identifiers=_describe_generic(generic, people_per_identifier, weak),
        conflicts=conflicts,
    )


def _require_columns(id_rows: pa.Table) -> None:
    needed = (SOURCE_FILE, SOURCE_ROW, "external_id", *WEAK_COLUMNS)
    missing = [name for name in needed if name not in id_rows.column_names]
    if missing:
        raise ValueError(
            f"identity rows lack column(s) {missing}: pass the identifier columns of "
            "validated_contacts (source_file, source_row, external_id, email, phone, "
            "push_token, webpush_token)"
        )


def _ignore_set(ignore_identifiers: list[str]) -> pa.Array:
    """Lower-cased: values are matched case-insensitively (``N/A`` and ``n/a``)."""
    return pa.array(sorted({value.strip().lower() for value in ignore_identifiers}), pa.string())


def _is_ignored(values: pa.Array, ignored_values: pa.Array) -> pa.Array:
    return pc.is_in(pc.utf8_lower(values), value_set=ignored_values)


def _present(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one string array with empty strings turned into nulls."""
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    values = values.cast(pa.string())
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _sorted_codes(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Per-row codes (-1 for null) into a dictionary sorted by value."""
    encoded = pc.dictionary_encode(values)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    indices = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    codes = np.full(len(indices), -1, dtype=np.int64)
    present = indices >= 0
    codes[present] = rank[indices[present]]
    return codes, encoded.dictionary.take(pa.array(order))


def _encode_external_ids(column, ignored_values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    values = _present(column)
    values = pc.if_else(_is_ignored(values, ignored_values), pa.scalar(None, pa.string()), values)
    return _sorted_codes(values)


def _encode_weak_identifiers(id_rows: pa.Table, ignored_values: pa.Array) -> _WeakIdentifiers:
    codes: dict[str, np.ndarray] = {}
    dictionaries, kinds = [], []
    offset = 0
    for kind in _KIND_ORDER:
        columns = [name for name, column_kind in WEAK_COLUMNS.items() if column_kind == kind]
        # Columns of one kind share a dictionary, so a token in either column links.
        stacked = pa.concat_arrays([_present(id_rows[name]) for name in columns])
        kind_codes, dictionary = _sorted_codes(stacked)
        kind_codes = np.where(kind_codes >= 0, kind_codes + offset, -1)
        for position, name in enumerate(columns):
            codes[name] = kind_codes[
                position * id_rows.num_rows : (position + 1) * id_rows.num_rows
            ]
        dictionaries.append(dictionary)
        kinds.append(np.full(len(dictionary), kind))
        offset += len(dictionary)
    values = pa.concat_arrays(dictionaries)
    ignored = _is_ignored(values, ignored_values).to_numpy(zero_copy_only=False)
    return _WeakIdentifiers(codes, values, np.concatenate(kinds), ignored.astype(bool))


def _count_candidate_people(ext_codes: np.ndarray, weak: _WeakIdentifiers) -> np.ndarray:
    """Per identifier id: how many distinct candidate people carry it."""
    candidate = _candidate_person(ext_codes, weak.codes)
    n_candidates = int(candidate.max()) + 1 if len(candidate) else 1
    pairs = [
        codes[codes >= 0] * n_candidates + candidate[codes >= 0] for codes in weak.codes.values()
    ]
    distinct_pairs = pd.unique(np.concatenate(pairs)) if pairs else np.empty(0, np.int64)
    return np.bincount(distinct_pairs // n_candidates, minlength=len(weak.values))


def _candidate_person(ext_codes: np.ndarray, weak_codes: dict[str, np.ndarray]) -> np.ndarray:
    """External id, else the row's combination of identifiers, as one integer per row."""
    candidate = ext_codes.copy()
    without_external = ext_codes < 0
    if without_external.any():
        combos = pd.DataFrame({name: codes[without_external] for name, codes in weak_codes.items()})
        combo_ids = combos.groupby(list(weak_codes), sort=False).ngroup().to_numpy()
        candidate[without_external] = int(ext_codes.max(initial=-1)) + 1 + combo_ids
    return candidate


def _first_linking_identifier(weak_codes: dict[str, np.ndarray], linking: np.ndarray) -> np.ndarray:
    """Per row: one of its linking identifier ids (the cluster representative), else -1."""
    first = None
    for codes in weak_codes.values():
        if first is None:
            first = np.full(len(codes), -1, dtype=np.int64)
        usable = (codes >= 0) & (first < 0)
        usable[usable] = linking[codes[usable]]
        first[usable] = codes[usable]
    return first if first is not None else np.empty(0, np.int64)


def _weak_clusters(
    weak_codes: dict[str, np.ndarray],
    linking: np.ndarray,
    first_link: np.ndarray,
    without_external: np.ndarray,
) -> np.ndarray:
    """Per identifier id: its cluster (the smallest id reachable through rows without external id)."""
    starts, ends = [], []
    for codes in weak_codes.values():
        edge = without_external & (first_link >= 0) & (codes >= 0) & (codes != first_link)
        edge[edge] = linking[codes[edge]]
        starts.append(first_link[edge])
        ends.append(codes[edge])
    return connected_components(len(linking), np.concatenate(starts), np.concatenate(ends))


def connected_components(n_nodes: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Label every node with the smallest node id of its component.

    Hooking then pointer jumping: each round, the root of the higher label of
    every edge is pointed at the lower one, then every node jumps to its root.
    Roots only ever point to smaller ids, so the forest has no cycles and the
    final root of a component is its smallest node.
    """
    label = np.arange(n_nodes, dtype=np.int64)
    starts, ends = starts.astype(np.int64), ends.astype(np.int64)
    while len(starts):
        start_root, end_root = label[starts], label[ends]
        unresolved = start_root != end_root
        if not unresolved.any():
            break
        starts, ends = starts[unresolved], ends[unresolved]
        start_root, end_root = start_root[unresolved], end_root[unresolved]
        high, low = np.maximum(start_root, end_root), np.minimum(start_root, end_root)
        np.minimum.at(label, high, low)
        label = _jump_to_roots(label)
    return label


def _jump_to_roots(label: np.ndarray) -> np.ndarray:
    while True:
        jumped = label[label]
        if np.array_equal(jumped, label):
            return label
        label = jumped


def _attach_clusters(
    weak_codes: dict[str, np.ndarray],
    linking: np.ndarray,
    cluster: np.ndarray,
    ext_codes: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Per cluster id: the one external id it reaches (else -1), and how many reach several."""
    n_ext = int(ext_codes.max(initial=-1)) + 1
    pairs = []
    for codes in weak_codes.values():
        reach = (ext_codes >= 0) & (codes >= 0)
        reach[reach] = linking[codes[reach]]
        pairs.append(cluster[codes[reach]] * max(n_ext, 1) + ext_codes[reach])
    distinct = pd.unique(np.concatenate(pairs)) if pairs else np.empty(0, np.int64)
    reached_cluster, reached_ext = distinct // max(n_ext, 1), distinct % max(n_ext, 1)
    externals_per_cluster = np.bincount(reached_cluster, minlength=len(cluster))
    attached = np.full(len(cluster), -1, dtype=np.int64)
    single = externals_per_cluster[reached_cluster] == 1
    attached[reached_cluster[single]] = reached_ext[single]
    return attached, int((externals_per_cluster >= 2).sum())


def _person_per_row(
    ext_codes: np.ndarray,
    first_link: np.ndarray,
    cluster: np.ndarray,
    attached_external: np.ndarray,
) -> np.ndarray:
    """One integer per row naming its person.

    Person ids live in three ranges: [0, n_ext) an external id, then
    [n_ext, n_ext + n_identifiers) a weak cluster, then one id per lone row.
    """
    n_ext = int(ext_codes.max(initial=-1)) + 1
    n_identifiers = len(cluster)
    row_cluster = _lookup(cluster, first_link)
    row_attached = _lookup(attached_external, row_cluster)
    lone_row = n_ext + n_identifiers + np.arange(len(ext_codes), dtype=np.int64)
    weak_person = np.where(
        row_attached >= 0,
        row_attached,
        np.where(row_cluster >= 0, n_ext + row_cluster, lone_row),
    )
    return np.where(ext_codes >= 0, ext_codes, weak_person)


def _lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """table[ids] where ids >= 0, else -1."""
    found = np.full(len(ids), -1, dtype=np.int64)
    present = ids >= 0
    found[present] = table[ids[present]]
    return found


def _contact_keys(
    person: np.ndarray,
    id_rows: pa.Table,
    ext_values: pa.Array,
    weak: _WeakIdentifiers,
    shards: int,
) -> tuple[pa.Array, np.ndarray]:
    people, row_to_person = np.unique(person, return_inverse=True)
    key_sources = _key_identifiers(people, id_rows, ext_values, weak)
    keys, numbers = blake2b_hex(key_sources)
    shard_per_person = numbers % np.uint64(shards)
    return keys.take(pa.array(row_to_person)), shard_per_person[row_to_person].astype(np.int32)


def blake2b_hex(texts: list[str]) -> tuple[pa.Array, np.ndarray]:
    """The 16-hex-digit blake2b digest of every text, and the same digests as uint64."""
    digests = b"".join(
        hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_HEX_DIGITS // 2).digest()
        for text in texts
    )
    hex_digits = _fixed_width_strings(digests.hex(), len(texts), KEY_HEX_DIGITS)
    return hex_digits, np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def _key_identifiers(
    people: np.ndarray, id_rows: pa.Table, ext_values: pa.Array, weak: _WeakIdentifiers
) -> list[str]:
    """The text hashed into each person's key, for sorted person ids."""
    n_ext, n_identifiers = len(ext_values), len(weak.values)
    is_external = people < n_ext
    is_cluster = ~is_external & (people < n_ext + n_identifiers)
    lone_rows = pa.array(people[~is_external & ~is_cluster] - n_ext - n_identifiers)
    cluster_ids = people[is_cluster] - n_ext
    lone_lineage = pc.binary_join_element_wise(
        id_rows[SOURCE_FILE].take(lone_rows).cast(pa.string()),
        id_rows[SOURCE_ROW].take(lone_rows).cast(pa.string()),
        ":",
    )
    # people are sorted, so the three ranges come out in this order
    return [
        *("x:" + value for value in ext_values.take(pa.array(people[is_external])).to_pylist()),
        *(
            f"{kind}:{value}"
            for kind, value in zip(
                weak.kinds[cluster_ids],
                weak.values.take(pa.array(cluster_ids)).to_pylist(),
                strict=True,
            )
        ),
        *("r:" + value for value in lone_lineage.to_pylist()),
    ]


def _fixed_width_strings(text: str, count: int, width: int) -> pa.Array:
    """Cut one long ASCII string into ``count`` strings of ``width`` characters, without a loop."""
    offsets = pa.array(np.arange(count + 1, dtype=np.int64) * width, pa.int64())
    large = pa.LargeStringArray.from_buffers(
        count, offsets.buffers()[1], pa.py_buffer(text.encode("ascii"))
    )
    return large.cast(pa.string())


def _describe_generic(
    generic: np.ndarray, people_per_identifier: np.ndarray, weak: _WeakIdentifiers
) -> list[str]:
    ids = np.flatnonzero(generic)
    ids = ids[np.argsort(-people_per_identifier[ids], kind="stable")]
    values = weak.values.take(pa.array(ids, pa.int64())).to_pylist()
    return [
        f"{_KIND_NAMES[weak.kinds[i]]} {_MASKERS[weak.kinds[i]](value)} "
        f"({people_per_identifier[i]} people; not used to link)"
        for i, value in zip(ids, values, strict=True)
    ]
