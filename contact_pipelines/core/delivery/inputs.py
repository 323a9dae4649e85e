"""What a vendor payload is built from, hashed per card: equal hashes mean equal payloads.

A payload is a function of the card (its content hash, recomputed here rather
than trusted from the column, covers every column a vendor can see;
``updated_at`` and the key are added), the card's segments, the
vendor's config and the code that maps them. The hash of all four is kept in
the ledger beside the accepted payload's hash, so a nightly sync of a mostly
unchanged base builds payloads only for the cards whose inputs moved. Computed
over whole columns, like the content hash itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.cards import content_hashes
from contact_pipelines.core.identity import hex_digits, stable_hash64

_SEP, _LIST_SEP = "\x1f", "\x1e"


def payload_input_hashes(module, vendor_cfg, cards: pa.Table, memberships) -> dict[str, str]:
    """contact_key -> 16 hex digits over (key, content_hash, updated_at, segments, vendor)."""
    if cards.num_rows == 0:
        return {}
    keys = cards.column("contact_key").combine_chunks()
    text = pc.binary_join_element_wise(
        keys,
        content_hashes(cards),
        pc.fill_null(cards.column("updated_at").combine_chunks().cast(pa.string()), ""),
        _segments_text(keys, memberships),
        _vendor_fingerprint(module.__name__, vendor_cfg.model_dump_json()),
        _SEP,
    )
    hashes = hex_digits(stable_hash64(text))
    return dict(zip(keys.to_pylist(), hashes.to_pylist(), strict=True))


def _segments_text(keys: pa.Array, memberships: pa.Table | None) -> pa.Array:
    """Each card's segments, sorted and joined ("" for none)."""
    if memberships is None or memberships.num_rows == 0:
        return pa.array([""] * len(keys), pa.string())
    ordered = memberships.select(["contact_key", "segment"]).sort_by(
        [("contact_key", "ascending"), ("segment", "ascending")]
    )
    # one thread keeps each list in the sorted order
    grouped = ordered.group_by("contact_key", use_threads=False).aggregate([("segment", "list")])
    joined = pc.binary_join(grouped.column("segment_list"), _LIST_SEP)
    position = pc.index_in(keys, value_set=grouped.column("contact_key"))
    return pc.fill_null(joined.combine_chunks().take(position), "")


@functools.lru_cache(maxsize=16)
def _vendor_fingerprint(module_name: str, config_json: str) -> str:
    """The vendor's config and the mapping code: either changing rebuilds every payload."""
    import importlib

    digest = hashlib.sha256(json.dumps([module_name, config_json]).encode())
    for name in (module_name, "contact_pipelines.core.vendors.base"):
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest.hexdigest()[:16]
