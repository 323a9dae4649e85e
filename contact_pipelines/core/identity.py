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

The key of a person is the hash of its strongest identifier: its
``x:<external_id>``; else, of its cluster's emails, the ``e:<email>`` whose
hash is smallest; else likewise ``p:<phone>``, else ``t:<token>``; else
``r:<source_file>:<source_row>`` for a row that links to nothing. It depends
only on the person's identifiers, so the same person keeps the same key across
runs and in any row order. ``contact_key`` is that 64-bit ``stable_hash64``
(defined below in this module: fixed integer arithmetic over the UTF-8 bytes,
so the same in every process, host and Python version; not Python's salted
``hash()``) as 16 hex digits, and ``shard = int(contact_key, 16) % shards``.

Everything runs on integer arrays: identifier values are dictionary-encoded
(pyarrow, once per distinct value) into ids ordered by (kind, key hash), so the
smallest id of a cluster *is* its key identifier and its key is already
computed; clusters come from min-label hooking with pointer jumping over edge
arrays; distinct (identifier, person) pairs come from one integer sort over the
identifiers that occur more than once. No Python code runs per row or person.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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
    contacts: int = 0  # distinct people (distinct contact_key values)
    contacts_per_shard: dict[int, int] = field(default_factory=dict)  # shard -> people


@dataclass(frozen=True)
class _ExternalIds:
    codes: np.ndarray  # per row: external id, -1 when absent or ignored; ids ordered by hash
    hashes: np.ndarray  # external id -> stable_hash64("x:<value>"), its person key


@dataclass(frozen=True)
class _WeakIdentifiers:
    """Every weak identifier value encoded to one integer id space, ordered by (kind, hash)."""

    codes: dict[str, np.ndarray]  # column -> per-row identifier id, -1 when absent
    values: pa.Array  # identifier id -> value
    hashes: np.ndarray  # identifier id -> stable_hash64("<kind>:<value>"), its person key
    kinds: np.ndarray  # identifier id -> kind letter ("e", "p", "t")
    ignored: np.ndarray  # identifier id -> listed in ignore_identifiers


def resolve_identities(id_rows: pa.Table, shards: int, config: IdentityConfig) -> IdentityResult:
    """Group source rows into people; give each row a stable contact_key and a shard."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}: fix `shards` in the config")
    _require_columns(id_rows)
    ignored_values = _ignore_set(config.ignore_identifiers)
    external, weak = _encode_identifiers(id_rows, ignored_values)
    ext_codes = external.codes

    people_per_identifier = _count_candidate_people(ext_codes, weak)
    generic = (people_per_identifier > config.max_people_per_identifier) & ~weak.ignored
    linking = ~generic & ~weak.ignored

    first_link = _first_linking_identifier(weak.codes, linking)
    cluster = _weak_clusters(weak.codes, linking, first_link, without_external=ext_codes < 0)
    attached_external, conflicts = _attach_clusters(weak.codes, linking, cluster, ext_codes)

    person = _person_per_row(ext_codes, first_link, cluster, attached_external)
    key_numbers = _key_numbers(person, id_rows, external, weak)
    shard = (key_numbers % np.uint64(shards)).astype(np.int32)
    table = pa.table(
        {
            SOURCE_FILE: id_rows[SOURCE_FILE],
            SOURCE_ROW: id_rows[SOURCE_ROW],
            "contact_key": hex_digits(key_numbers),
            "shard": pa.array(shard, pa.int32()),
        },
        schema=IDENTITY_SCHEMA,
    )
    per_shard = _people_per_shard(person, shard, shards)
    return IdentityResult(
        table=table,
        generic_identifiers=_describe_generic(generic, people_per_identifier, weak),
        conflicts=conflicts,
        contacts=int(per_shard.sum()),
        contacts_per_shard={i: int(n) for i, n in enumerate(per_shard) if n},
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


def _as_strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return values.cast(pa.string())


def _usable_mask(values: pa.Array, ignored_values: pa.Array | None = None) -> np.ndarray:
    """True where a value counts: not null, not an empty string, not listed as ignored."""
    usable = pc.and_(values.is_valid(), pc.not_equal(values, "").fill_null(False))
    if ignored_values is not None and len(ignored_values):
        usable = pc.and_(usable, pc.invert(_is_ignored(values, ignored_values).fill_null(False)))
    return usable.to_numpy(zero_copy_only=False).astype(bool)


def sorted_codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Per-row int64 codes (-1 for null) into the distinct values sorted, and those values.

    Codes compare like the values, so sorts and equality run on integers, not strings.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    rank[-1] = -1  # a null's index is filled with -1, which picks this
    indices = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    return rank[indices], encoded.dictionary.take(pa.array(order))


_HEX_NIBBLE = np.full(256, 255, dtype=np.uint8)
_HEX_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def key_codes(keys: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """``sorted_codes`` for contact keys: parsed to integers, so no string is sorted.

    16 lower-case hex digits sort as text exactly as their numbers do, so the codes
    and the order of the distinct keys are the same as ``sorted_codes`` gives; any
    other key (a test's "k1") falls back to it."""
    numbers = _hex_key_numbers(keys)
    if numbers is None:
        return sorted_codes(keys)
    distinct, codes = np.unique(numbers, return_inverse=True)
    return codes.astype(np.int64), hex_digits(distinct)


def _hex_key_numbers(keys: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    keys = keys.cast(pa.large_string())
    if keys.null_count:
        return None
    offsets = np.frombuffer(keys.buffers()[1], np.int64)[keys.offset : keys.offset + len(keys) + 1]
    if len(keys) == 0 or not np.all(np.diff(offsets) == KEY_HEX_DIGITS):
        return None
    data = np.frombuffer(keys.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _HEX_NIBBLE[data].reshape(len(keys), KEY_HEX_DIGITS)
    if (nibbles == 255).any():
        return None
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]  # 8 bytes per key, big-endian
    return np.ascontiguousarray(packed).view(">u8").ravel().astype(np.uint64)


def hash_ordered_codes(
    values: pa.Array, usable: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row codes (-1 where not usable) naming each distinct value, in key-hash order.

    Every usable value is hashed as ``"<kind>:<value>"`` and the values are told
    apart by that 64-bit hash: one integer sort instead of hashing and sorting
    millions of strings. The contact_key space is 64-bit already, so this adds no
    new kind of collision. Returns the codes, each code's hash (ascending) and
    one row holding it.
    """
    usable_rows = np.flatnonzero(usable)
    texts = pc.binary_join_element_wise(kind, values.take(pa.array(usable_rows)), ":")
    row_hashes = stable_hash64(texts)
    order = argsort_hashes(row_hashes)
    sorted_hashes = row_hashes[order]
    is_new = np.ones(len(order), dtype=bool)
    is_new[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[usable_rows[order]] = np.cumsum(is_new) - 1
    return codes, sorted_hashes[is_new], usable_rows[order[is_new]]


def argsort_hashes(hashes: np.ndarray) -> np.ndarray:
    """``np.argsort`` of uint64 hashes, about twice as fast.

    numpy's value sort is vectorised and its argsort is not, so the row index is
    packed into the low bits of each hash (whose high bits stay in place), the
    packed values are sorted, and the indices are read back. Rows whose hashes
    share the high bits but differ in the low ones (rare: a few among millions)
    may come out of order; those short runs are put right by a full argsort of
    their own."""
    count = len(hashes)
    index_bits = max(int(count - 1).bit_length(), 1)
    if count < 2 or index_bits > 40:
        return np.argsort(hashes)
    low = np.uint64((1 << index_bits) - 1)
    order = (np.sort((hashes & ~low) | np.arange(count, dtype=np.uint64)) & low).astype(np.int64)
    ranked = hashes[order]
    unsorted = np.flatnonzero(ranked[1:] < ranked[:-1])
    for position in unsorted:
        high = ranked[position] & ~low  # the run of equal high bits around this position
        start = position
        while start > 0 and (ranked[start - 1] & ~low) == high:
            start -= 1
        stop = position + 1
        while stop < count and (ranked[stop] & ~low) == high:
            stop += 1
        run = order[start:stop]
        order[start:stop] = run[np.argsort(hashes[run], kind="stable")]
        ranked[start:stop] = hashes[order[start:stop]]
    return order


def _encode_identifiers(
    id_rows: pa.Table, ignored_values: pa.Array
) -> tuple[_ExternalIds, _WeakIdentifiers]:
    """External ids and each weak kind encoded at once, on two threads.

    The four encodings are independent and spend their time in numpy and Arrow
    kernels, which release the GIL: two threads use both cores of the machine."""
    external = _as_strings(id_rows["external_id"])
    jobs = {"x": (external, _usable_mask(external, ignored_values))}  # ignored: absent
    for kind in _KIND_ORDER:
        # columns of one kind share one id space, so a token in either column links
        stacked = pa.concat_arrays([_as_strings(id_rows[name]) for name in _columns_of(kind)])
        jobs[kind] = (stacked, _usable_mask(stacked))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {kind: pool.submit(hash_ordered_codes, *job, kind) for kind, job in jobs.items()}
        encoded = {kind: future.result() for kind, future in futures.items()}
    codes, hashes, _ = encoded.pop("x")
    return _ExternalIds(codes, hashes), _weak_identifiers(
        id_rows.num_rows, jobs, encoded, ignored_values
    )


def _columns_of(kind: str) -> list[str]:
    return [name for name, column_kind in WEAK_COLUMNS.items() if column_kind == kind]


def _weak_identifiers(
    row_count: int, jobs: dict, encoded: dict, ignored_values: pa.Array
) -> _WeakIdentifiers:
    """One id space over the weak kinds, in _KIND_ORDER then hash order."""
    codes: dict[str, np.ndarray] = {}
    values, kinds, hashes = [], [], []
    offset = 0
    for kind in _KIND_ORDER:
        kind_codes, kind_hashes, rows = encoded[kind]
        kind_codes = np.where(kind_codes >= 0, kind_codes + offset, -1)
        for position, name in enumerate(_columns_of(kind)):
            codes[name] = kind_codes[position * row_count : (position + 1) * row_count]
        values.append(jobs[kind][0].take(pa.array(rows)))
        kinds.append(np.full(len(kind_hashes), kind))
        hashes.append(kind_hashes)
        offset += len(kind_hashes)
    values = pa.concat_arrays(values)
    ignored = np.zeros(len(values), dtype=bool)
    if len(ignored_values):
        ignored = _is_ignored(values, ignored_values).to_numpy(zero_copy_only=False).astype(bool)
    return _WeakIdentifiers(codes, values, np.concatenate(hashes), np.concatenate(kinds), ignored)


def _count_candidate_people(ext_codes: np.ndarray, weak: _WeakIdentifiers) -> np.ndarray:
    """Per identifier id: how many distinct candidate people carry it."""
    candidate = _candidate_person(ext_codes, weak.codes)
    identifiers = np.concatenate([codes[codes >= 0] for codes in weak.codes.values()])
    candidates = np.concatenate([candidate[codes >= 0] for codes in weak.codes.values()])
    distinct_identifiers, _ = distinct_pairs(identifiers, candidates)
    return np.bincount(distinct_identifiers, minlength=len(weak.values))


def _candidate_person(ext_codes: np.ndarray, weak_codes: dict[str, np.ndarray]) -> np.ndarray:
    """External id, else the row's combination of identifiers, as one integer per row."""
    candidate = ext_codes.copy()
    without_external = ext_codes < 0
    if without_external.any():
        combo = np.zeros(int(without_external.sum()), dtype=np.int64)
        for codes in weak_codes.values():
            # fold one column in at a time: (combo so far, code) -> a dense id again
            column = codes[without_external] + 1  # -1 (absent) becomes 0
            width = int(column.max(initial=0)) + 1
            if width > 1:  # a column empty on these rows changes no combination
                combo, _ = pd.factorize(combo * width + column)
        candidate[without_external] = int(ext_codes.max(initial=-1)) + 1 + combo
    return candidate


def distinct_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (first, second) pairs of two non-negative integer arrays.

    Only pairs whose ``first`` occurs more than once can repeat, and in real bases
    most identifiers occur once: those skip the sort.
    """
    if len(first) == 0:
        return first, second
    shared = np.bincount(first)[first] > 1
    width = int(second.max()) + 1
    combined = np.sort(first[shared] * width + second[shared])
    is_new = np.ones(len(combined), dtype=bool)
    is_new[1:] = combined[1:] != combined[:-1]
    combined = combined[is_new]
    return (
        np.concatenate([first[~shared], combined // width]),
        np.concatenate([second[~shared], combined % width]),
    )


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
    clusters, externals = [], []
    for codes in weak_codes.values():
        reach = (ext_codes >= 0) & (codes >= 0)
        reach[reach] = linking[codes[reach]]
        clusters.append(cluster[codes[reach]])
        externals.append(ext_codes[reach])
    reached_cluster, reached_ext = distinct_pairs(
        np.concatenate(clusters), np.concatenate(externals)
    )
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


def _key_numbers(
    person: np.ndarray, id_rows: pa.Table, external: _ExternalIds, weak: _WeakIdentifiers
) -> np.ndarray:
    """Per row: its person's key as uint64, the hash of the person's key identifier.

    Ids of every kind are ordered by hash, so an external id's or a cluster's
    (smallest) id already carries its key: only lone rows hash anything here.
    """
    n_ext, n_identifiers = len(external.hashes), len(weak.hashes)
    numbers = np.empty(len(person), dtype=np.uint64)
    is_external = person < n_ext
    is_cluster = ~is_external & (person < n_ext + n_identifiers)
    is_lone = ~is_external & ~is_cluster
    numbers[is_external] = external.hashes[person[is_external]]
    numbers[is_cluster] = weak.hashes[person[is_cluster] - n_ext]
    lone_rows = pa.array(np.flatnonzero(is_lone))
    numbers[is_lone] = stable_hash64(
        pc.binary_join_element_wise(
            "r",
            id_rows[SOURCE_FILE].take(lone_rows).combine_chunks().cast(pa.string()),
            id_rows[SOURCE_ROW].take(lone_rows).combine_chunks().cast(pa.string()),
            ":",
        )
    )
    return numbers


def _people_per_shard(person: np.ndarray, shard: np.ndarray, shards: int) -> np.ndarray:
    """How many distinct people each shard holds (person ids are dense enough to bincount)."""
    row_of_person = np.full(int(person.max(initial=-1)) + 1, -1, dtype=np.int64)
    row_of_person[person] = np.arange(len(person))  # any one row of each person will do
    return np.bincount(shard[row_of_person[row_of_person >= 0]], minlength=shards)


# ---- the key hash -----------------------------------------------------------------
# A 64-bit hash written out here (not Python's hash(), which is salted per process) so
# that a key is the same in every process, on every host and in every Python version.
# Per text: its UTF-8 bytes cut into 8-byte little-endian words w_0..w_n-1 (the last one
# zero-padded); h = sum over k of mix(w_k + (k + 1) * GOLDEN) mod 2**64; the hash is
# mix(h XOR (byte length * MIX_2)). mix is the splitmix64 finaliser, a bijection, so two
# texts of one length that differ in a single word never collide. Computed over whole
# Arrow string buffers, word position by word position, without a per-text Python loop.
_GOLDEN = 0x9E3779B97F4A7C15
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ALL_BITS = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_HASH_CHUNK = 1_000_000  # texts hashed at once: bounds the temporary arrays


def stable_hash64(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The key hash (see above) of every text as uint64; a null hashes like an empty text."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    parts = [
        _hash_chunk(texts.slice(start, _HASH_CHUNK)) for start in range(0, len(texts), _HASH_CHUNK)
    ]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def hex_digits(numbers: np.ndarray) -> pa.Array:
    """Each uint64 as 16 lower-case hex digits (int(text, 16) gives the number back)."""
    text = numbers.astype(">u8").tobytes().hex()
    return _fixed_width_strings(text, len(numbers), KEY_HEX_DIGITS)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (the array is reused to spare allocations)."""
    shifted = values >> np.uint64(30)
    values ^= shifted
    values *= _MIX_1
    np.right_shift(values, np.uint64(27), out=shifted)
    values ^= shifted
    values *= _MIX_2
    np.right_shift(values, np.uint64(31), out=shifted)
    values ^= shifted
    return values


def _hash_chunk(texts: pa.LargeStringArray) -> np.ndarray:
    count = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset : texts.offset + count + 1]
    data = np.frombuffer(texts.buffers()[2] or b"", np.uint8)[offsets[0] : offsets[-1]]
    padded = np.concatenate([data, np.zeros(8, np.uint8)])  # the last word may read past the end
    # a little-endian uint64 starting at every byte: words are read wherever a text starts
    words_at = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    lengths = np.diff(offsets)
    n_words = (lengths + 7) >> 3
    most = int(n_words.max(initial=0))
    # longest first, so the texts that still have a word k are a prefix of this order
    distance = most - n_words
    # a uint16 argsort is a radix sort: far faster than a comparison sort on int64
    order = np.argsort(distance.astype(np.uint16) if most < 2**16 else distance, kind="stable")
    starts, lengths = (offsets[:-1] - offsets[0])[order], lengths[order]
    with_more_than = np.searchsorted(-n_words[order], -np.arange(most + 1), side="left")
    sums = np.zeros(count, np.uint64)
    for k in range(most):
        active, ending = int(with_more_than[k]), int(with_more_than[k + 1])
        words = words_at[starts[:active] + 8 * k]
        # texts [ending, active) end in this word: keep only their own 1..8 bytes
        kept_bytes = (lengths[ending:active] - 8 * k).astype(np.uint64)
        words[ending:] &= _ALL_BITS >> (np.uint64(64) - np.uint64(8) * kept_bytes)
        words += np.uint64(((k + 1) * _GOLDEN) & 0xFFFF_FFFF_FFFF_FFFF)
        sums[:active] += _mix(words)
    sums ^= lengths.astype(np.uint64) * _MIX_2
    hashes = np.empty(count, np.uint64)
    hashes[order] = _mix(sums)
    return hashes


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
