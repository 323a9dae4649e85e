"""The vendor registry: name -> the module that maps payloads and talks to the API.

Every vendor module has the same surface, so adding a vendor is one module
and one entry in ``VENDORS``:

- ``build_payloads(cards, memberships, vendor_cfg, previous_segments, previous_fields=None)
  -> list[ContactPayload]`` (pure; one per card, a rejected card carries ``error``)
- ``payload_problems(payload) -> list[str]`` (documented keys only, no nulls, limits)
- ``make_session(credentials, vendor_cfg, retry=None, poll=None, webhook=None) -> VendorSession``
- ``send_batch(session, payloads, batch_id) -> BatchHandle``
- ``poll(session, handle) -> dict[contact_key, ContactOutcome]``
- ``verify_fields(session, vendor_cfg, field_names=()) -> list[str]`` (missing field names)
- constants ``NAME``, ``MAX_CONTACTS``, ``MAX_BYTES``, ``MISSING_FIELDS_FIX``
"""

from __future__ import annotations

from types import ModuleType

from contact_pipelines.core.vendors import dotdigital, pushtech, reteno
from contact_pipelines.core.vendors.base import (
    BatchHandle,
    ContactOutcome,
    ContactPayload,
    VendorSession,
)

VENDORS: dict[str, ModuleType] = {
    reteno.NAME: reteno,
    dotdigital.NAME: dotdigital,
    pushtech.NAME: pushtech,
}


def get_vendor(name: str) -> ModuleType:
    try:
        return VENDORS[name]
    except KeyError:
        raise ValueError(f"unknown vendor {name!r}: expected one of {sorted(VENDORS)}") from None


__all__ = [
    "VENDORS",
    "BatchHandle",
    "ContactOutcome",
    "ContactPayload",
    "VendorSession",
    "get_vendor",
]
