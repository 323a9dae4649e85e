"""Split payloads into batches within a vendor's count and byte limits.

Sizes are measured in the same compact UTF-8 JSON the client sends, so a
batch that fits here fits on the wire. Payloads with different
``batch_group`` values (Reteno's request-level group lists) never share a batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from contact_pipelines.core.delivery.retry import dumps
from contact_pipelines.core.vendors.base import ContactPayload

ENVELOPE_BYTES = 64 * 1024  # room for the request-level keys around the contacts list


class PayloadTooLargeError(ValueError):
    """One contact alone exceeds the vendor's request size limit."""


def payload_size(item: ContactPayload | dict) -> int:
    """Bytes the contact adds to a request body (+1 for the comma between list items)."""
    if isinstance(item, ContactPayload):
        return len(item.wire_bytes()) + 1
    return len(dumps(item)) + 1


def make_batches(
    payloads: list[ContactPayload], max_count: int, max_bytes: int | None
) -> Iterator[list[ContactPayload]]:
    """Yield batches of at most ``max_count`` payloads and ``max_bytes`` serialized bytes."""
    budget = None if max_bytes is None else max_bytes - ENVELOPE_BYTES
    groups: dict[object, list[ContactPayload]] = defaultdict(list)
    for item in payloads:
        groups[item.batch_group].append(item)
    for members in groups.values():
        yield from _split(members, max_count, budget)


def _split(members: list[ContactPayload], max_count: int, budget: int | None):
    batch: list[ContactPayload] = []
    used = 0
    for item in members:
        size = payload_size(item) if budget is not None else 0
        if budget is not None and size > budget:
            raise PayloadTooLargeError(
                f"contact {item.contact_key}: payload of {size} bytes exceeds the request "
                f"limit of {budget} bytes; trim its additional fields"
            )
        if batch and (len(batch) >= max_count or (budget is not None and used + size > budget)):
            yield batch
            batch, used = [], 0
        batch.append(item)
        used += size
    if batch:
        yield batch
