"""What every vendor module shares: payload records, batch handles, outcomes,
the contract check on payload keys, hashing and PII masking.

A vendor module exposes ``build_payloads``, ``send_batch``, ``poll``,
``verify_fields`` and ``make_session``, plus a few constants; the registry in
``contact_pipelines.core.vendors`` lists them.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.delivery.retry import PollPolicy, VendorHttp, dumps

NAME_MAX_CHARS = 40  # Reteno's documented limit; applied to every vendor's names
ACCEPTED = "accepted"  # the vendor took the contact but did not say created or updated


class ContactPayload(NamedTuple):
    """One card's payload for one vendor, or the reason it cannot be sent.

    ``payload`` is None when ``error`` is set (the card is rejected locally).
    ``segments`` are the vendor-relevant segments the payload carries; the
    ledger keeps them so the next run knows which ones the person left.
    A NamedTuple, like the other per-contact records of a sync (outcomes, ledger
    rows): millions are made per run, and a frozen dataclass costs several times more.
    """

    contact_key: str
    payload: dict | None
    payload_hash: str | None = None
    segments: tuple[str, ...] = ()
    data_fields: tuple[str, ...] = ()  # fields set, for clearing vanished ones later
    lookup: tuple[str, ...] = ()  # identifiers the vendor may echo back (lower-cased)
    batch_group: Any = None  # payloads with different groups never share a batch
    error: str | None = None
    # The contact's item of the request's contacts list, serialized once as compact UTF-8
    # JSON: batching measures it and the request body joins it, so it is never re-encoded.
    wire: bytes | None = None

    def wire_bytes(self) -> bytes:
        return self.wire if self.wire is not None else encode_json(self.payload)


class ContactOutcome(NamedTuple):
    outcome: str  # created | updated | rejected | accepted
    vendor_id: str | None = None
    error: str | None = None


@dataclass
class BatchHandle:
    batch_id: str
    vendor_ref: str | None  # asyncSessionId / importId / bulk _id
    contact_keys: list[str]
    lookup: dict[str, str]  # identifier (lower-cased) -> contact_key
    outcomes: dict[str, ContactOutcome] = field(default_factory=dict)  # known at send time


@dataclass
class VendorSession:
    """What a vendor call needs: HTTP client, the vendor's config, polling and webhook."""

    http: VendorHttp
    cfg: Any  # RetenoConfig | DotdigitalConfig | PushtechConfig
    credentials: Any
    poll: PollPolicy = field(default_factory=PollPolicy)
    webhook: Any = None  # delivery.webhook.WebhookReceiver, Pushtech only

    def close(self) -> None:
        self.http.close()


class PayloadContractError(ValueError):
    """A payload holds a key or a null the vendor's contract does not allow."""


# --- hashing ---------------------------------------------------------------


# Compact UTF-8 JSON, what goes on the wire (see retry.dumps). Payload dicts are built in
# a fixed key order by their vendor module, so no sort_keys is needed for a stable hash.
encode_json = dumps


def hash_bytes(*parts: bytes) -> str:
    digest = hashlib.sha256(parts[0])
    for part in parts[1:]:
        digest.update(b"\x1f")
        digest.update(part)
    return digest.hexdigest()


def hash_payload(payload: Mapping) -> str:
    return hash_bytes(encode_json(payload))


def json_with_contacts(envelope: Mapping, wires: Iterable[bytes]) -> bytes:
    """``{"contacts": [...], **envelope}`` from contacts already serialized."""
    head = b'{"contacts":[' + b",".join(wires) + b"]"
    rest = encode_json(dict(envelope)) if envelope else b"{}"
    return head + (b"," + rest[1:] if len(rest) > 2 else b"}")


# --- contract check --------------------------------------------------------

# A schema maps each allowed key to None (a scalar or list of scalars), a nested
# schema (an object) or a one-element list holding a schema (a list of objects).


def contract_problems(obj: Mapping, schema: Mapping, path: str = "", nullable=()) -> list[str]:
    """Keys outside the documented ones and nulls, each as 'path: problem'.

    Runs once per payload on the hot path: concrete ``dict``/``list`` type checks
    (not the ``Mapping`` ABC, several times slower) and no work for a clean key."""
    problems = []
    for key, value in obj.items():
        sub = schema.get(key, _UNDOCUMENTED)
        if sub is _UNDOCUMENTED:
            problems.append(
                f"{path}.{key}: undocumented key" if path else f"{key}: undocumented key"
            )
        elif value is None:
            if path not in nullable:
                where = f"{path}.{key}" if path else key
                problems.append(f"{where}: null value (omit absent values)")
        elif sub is not None:
            where = f"{path}.{key}" if path else key
            if type(sub) is list and type(value) is list:
                for i, item in enumerate(value):
                    if type(item) is dict:
                        problems += contract_problems(item, sub[0], f"{where}[{i}]", nullable)
            elif type(value) is dict and type(sub) is dict:
                problems += contract_problems(value, sub, where, nullable)
    return problems


_UNDOCUMENTED = object()


# --- reading cards ---------------------------------------------------------


# Lineage is never sent to a vendor; skipping it saves converting a list per card.
_UNSENT_COLUMNS = frozenset({"sources"})


def card_rows(cards: pa.Table, columns: Iterable[str] | None = None) -> list[dict]:
    """Cards as Python dicts (of ``columns`` only, when given), with the ``fields`` map
    turned into a dict.

    Each column is converted once (``to_pylist`` per column is several times faster
    than ``Table.to_pylist``), then zipped into one dict per card.
    """
    wanted = cards.column_names if columns is None else columns
    names = [name for name in wanted if name not in _UNSENT_COLUMNS]
    return [dict(zip(names, row, strict=True)) for row in card_columns(cards, names)]


def card_columns(cards: pa.Table, names: Iterable[str]) -> Iterator[tuple]:
    """Rows of just these columns, as tuples (a ``fields`` map as a dict): builders that
    read a dozen columns skip making a 25-key dict per card."""
    columns = []
    for name in names:
        values = cards.column(name).to_pylist()
        if name == "fields":
            values = [dict(pairs) if pairs else {} for pairs in values]
        columns.append(values)
    return zip(*columns, strict=True)


def gc_paused(function):
    """Run ``function`` with the cyclic garbage collector paused.

    Building payloads allocates millions of small acyclic dicts; each allocation burst
    triggers a collection that walks every live object, which doubled build time.
    Reference counting still frees everything; the collector resumes afterwards.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def segments_by_contact(memberships: pa.Table) -> dict[str, list[str]]:
    """contact_key -> sorted, distinct segment names."""
    grouped: dict[str, set[str]] = defaultdict(set)
    if memberships is not None and memberships.num_rows:
        keys = memberships.column("contact_key").to_pylist()
        names = memberships.column("segment").to_pylist()
        for key, name in zip(keys, names, strict=True):
            grouped[key].add(name)
    return {key: sorted(names) for key, names in grouped.items()}


def additional_field_names(cards: pa.Table) -> list[str]:
    """Every additional field name any card carries (vectorised over the map column)."""
    if cards.num_rows == 0:
        return []
    chunks = [chunk.keys for chunk in cards.column("fields").chunks]
    unique = pc.unique(pa.chunked_array(chunks, pa.string())).to_pylist()
    return sorted(name for name in unique if name is not None)


def truncated_names(cards: pa.Table, column: str) -> list[str | None]:
    """A name column cut to the vendor limit, vectorised."""
    values = cards.column(column)
    return pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(values), 0, NAME_MAX_CHARS).to_pylist()


# --- phones ----------------------------------------------------------------


@lru_cache(maxsize=65536)
def split_phone(e164: str) -> tuple[str, str] | None:
    """('44', '7712345678') for '+447712345678'; None when not parseable.

    Country calling codes are prefix-free, so a table lookup splits E.164 without
    a full parse; a remainder starting with 0 (a trunk prefix left in by mistake,
    or Italy's significant leading zero) goes through phonenumbers to be sure.
    """
    digits = e164.lstrip("+")
    for length in (1, 2, 3):
        code = digits[:length]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if national and not national.startswith("0"):
                return code, national
            break
    try:
        parsed = phonenumbers.parse(e164 if e164.startswith("+") else f"+{e164}", None)
    except phonenumbers.NumberParseException:
        return None
    return str(parsed.country_code), phonenumbers.national_significant_number(parsed)


# Validation sets phone_type once per phone (phonenumbers); a card's type is trusted here
# rather than parsing every number again. Unknown types are offered and the vendor decides.
_NOT_MOBILE = {
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "uan",
    "voicemail",
    "pager",
}


def can_receive_sms(phone_type: str | None) -> bool:
    """Mobile-capable: anything but a known landline-like type."""
    return phone_type not in _NOT_MOBILE


def phone_digits(e164: str) -> str:
    return e164.lstrip("+")


# --- masking ---------------------------------------------------------------

_EMAIL = re.compile(r"^([^@\s]{1,2})[^@\s]*@(.*)$")
_PHONE = re.compile(r"^\+?\d{6,}$")


def mask_value(value: str) -> str:
    """j***@example.com, +38*******91: enough to recognise, not to contact."""
    email = _EMAIL.match(value)
    if email:
        return f"{email.group(1)}***@{email.group(2)}"
    if _PHONE.match(value):
        return value[:3] + "*" * (len(value) - 5) + value[-2:]
    return value


_EMAIL_IN_TEXT = re.compile(r"[^@\s'\"<>(),;]+@[^@\s'\"<>(),;]*")
_PHONE_IN_TEXT = re.compile(r"\+?\d{7,}")


def mask_text(text: str | None) -> str | None:
    """A vendor message with the emails and phones it quotes masked."""
    if not text:
        return text
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_value(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_value(m.group(0)), text)


def mask_pii(obj):
    """A copy of a payload with every email- or phone-looking string masked."""
    if isinstance(obj, dict):
        return {key: mask_pii(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [mask_pii(item) for item in obj]
    if isinstance(obj, str):
        return mask_value(obj)
    return obj


def compact(obj: dict) -> dict:
    """Drop None values and empty containers: absent values are omitted, not null.
    ("" and 0 stay; truthiness first, as comparing every value with [] and {} is slow.)"""
    return {
        key: value
        for key, value in obj.items()
        if value is not None and (value or type(value) not in _CONTAINERS)
    }


_CONTAINERS = (list, dict)


def left_segments(previous: Iterable[str] | None, current: Iterable[str]) -> list[str]:
    return sorted(set(previous or ()) - set(current))


# --- sending helpers -------------------------------------------------------


def poll_until_done(fetch, is_done, policy: PollPolicy, what: str):
    """Call ``fetch()`` until ``is_done(result)``, backing off; TimeoutError after policy.timeout."""
    deadline = time.monotonic() + policy.timeout
    interval = policy.initial_interval
    while True:
        result = fetch()
        if is_done(result):
            return result
        if time.monotonic() + interval > deadline:
            raise TimeoutError(
                f"{what} still running after {policy.timeout:.0f} s; re-run the sync to resume"
            )
        time.sleep(interval)
        interval = min(interval * 1.5, policy.max_interval)


def finish_outcomes(
    handle: BatchHandle, found: dict[str, ContactOutcome]
) -> dict[str, ContactOutcome]:
    """Every contact of the batch gets one outcome: send-time rejects, then what the
    vendor reported, else ``accepted`` (created vs updated is settled from the ledger)."""
    outcomes = {}
    for key in handle.contact_keys:
        outcomes[key] = handle.outcomes.get(key) or found.get(key) or ContactOutcome(ACCEPTED)
    return outcomes


def match_contact(handle: BatchHandle, *identifiers) -> str | None:
    """The contact_key a vendor echo refers to, by any identifier it carries."""
    for value in identifiers:
        if value is None:
            continue
        key = handle.lookup.get(str(value).strip().lower().lstrip("+"))
        if key is not None:
            return key
    return None


def lookup_values(*values) -> tuple[str, ...]:
    return tuple(str(v).strip().lower().lstrip("+") for v in values if v)


def reject_all(handle: BatchHandle, message: str) -> BatchHandle:
    for key in handle.contact_keys:
        handle.outcomes.setdefault(key, ContactOutcome("rejected", error=message))
    return handle


def new_handle(batch_id: str, payloads: list[ContactPayload]) -> BatchHandle:
    lookup = {}
    for item in payloads:
        for value in item.lookup:
            lookup.setdefault(value, item.contact_key)
    return BatchHandle(batch_id, None, [p.contact_key for p in payloads], lookup)
