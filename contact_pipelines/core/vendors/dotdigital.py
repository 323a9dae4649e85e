"""Dotdigital: payload mapping and the v3 contact-import client (vendors.md, "Dotdigital").

``PUT /contacts/v3/import`` (at most 50 MB, at most 25 imports active per
account) answers 202 with an importId; per-record results exist only in the
import report, so every batch is polled to its end.

An import can only add to lists (address books). A contact that left a segment
mapped to a list is taken out of it after its batch's import finished, by the v2
call ``POST /v2/address-books/{id}/contacts/delete`` (not part of the v3 import
contract): see ``remove_from_lists``, the optional hook the sync calls.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import pyarrow as pa

from contact_pipelines.core.delivery.retry import (
    PollPolicy,
    RetryPolicy,
    VendorHttp,
    VendorRequestError,
    VendorUnavailableError,
)
from contact_pipelines.core.fields import CARD_SCHEMA
from contact_pipelines.core.vendors.base import (
    ACCEPTED,
    NAME_MAX_CHARS,
    BatchHandle,
    ContactOutcome,
    ContactPayload,
    VendorSession,
    can_receive_sms,
    card_rows,
    compact,
    contract_problems,
    encode_json,
    finish_outcomes,
    gc_paused,
    hash_bytes,
    json_with_contacts,
    left_segments,
    lookup_values,
    match_contact,
    new_handle,
    poll_until_done,
    reject_all,
    segments_by_contact,
)

log = logging.getLogger(__name__)

NAME = "dotdigital"
MAX_CONTACTS = 5000  # no documented count limit; config batch_size bounds it
MAX_BYTES = 50 * 1000 * 1000  # documented: request body at most 50 MB
TIMEOUT_SECONDS = 121.0  # documented: allow 121 s before timing out a call
REMOVAL_CHUNK = 1000  # contact ids per list-removal call (our cap)
REMOVE_PATH = "/v2/address-books/{}/contacts/delete"
# A 404 about the list (addressBookNotFound, ERROR_ADDRESSBOOK_NOT_FOUND, "Address book not
# found"), told apart from a 404 for the route, whose message may echo the path.
_BOOK_NOT_FOUND = re.compile(r"address[\s_-]?book[\s_-]?not[\s_-]?found", re.IGNORECASE)

_CHANNEL_STATUS = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "blacklisted": "suppressed",
}
_CARD_COLUMNS = set(CARD_SCHEMA.names) - {"fields"}
_NAME_FIELDS = {"first_name", "last_name"}
# what a payload reads besides mapped data fields
_PAYLOAD_COLUMNS = {
    "contact_key",
    "email",
    "phone",
    "phone_type",
    "email_status",
    "sms_status",
    "consent_marketing",
    "consent_date",
    "consent_ip",
    "fields",
}
_DATA_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_DATE_FIELDS = {"birth_date", "consent_date", "updated_at"}

PAYLOAD_SCHEMA = {
    "matchIdentifier": None,
    "identifiers": dict.fromkeys(("email", "mobileNumber", "contactId")),
    "dataFields": None,  # free-form: names are checked against the account by verify_fields
    "channelProperties": {
        "email": dict.fromkeys(("emailType", "optInType", "status")),
        "sms": {"status": None},
    },
    "lists": None,
    "preferences": [{"id": None, "isOptedIn": None}],
    "consentRecords": [
        dict.fromkeys(("text", "dateTimeConsented", "url", "ipAddress", "userAgent"))
    ],
}
BODY_KEYS = ("mergeOption", "contacts")


@dataclass
class DotdigitalSession(VendorSession):
    """A session that also remembers, for the rest of the run, that the server does not
    offer the list-removal endpoint: it is then reported once and not called again."""

    removal_unavailable: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def mark_removal_unavailable(self, message: str) -> bool:
        """Remember ``message``; True only for the first caller (the one to report it)."""
        with self._lock:
            first = self.removal_unavailable is None
            if first:
                self.removal_unavailable = message
            return first


def make_session(
    credentials,
    vendor_cfg,
    retry: RetryPolicy | None = None,
    poll: PollPolicy | None = None,
    webhook=None,
) -> DotdigitalSession:
    http = VendorHttp(
        NAME,
        credentials.url,
        auth=httpx.BasicAuth(credentials.user, credentials.password),
        timeout=TIMEOUT_SECONDS,
        retry=retry,
    )
    return DotdigitalSession(http, vendor_cfg, credentials, poll or PollPolicy())


# --- payloads --------------------------------------------------------------


def _field_value(card: dict, name: str):
    value = card.get(name) if name in _CARD_COLUMNS else card["fields"].get(name)
    if isinstance(value, str) and name in _NAME_FIELDS:
        value = value.strip()[:NAME_MAX_CHARS]
    if value is None or value == "":
        return None
    return value if isinstance(value, str | bool | int | float) else str(value)


def _data_fields(card: dict, mapping: Mapping[str, str]) -> dict:
    values = {dd_name: _field_value(card, name) for name, dd_name in sorted(mapping.items())}
    return compact(values)


def _channel_properties(card: dict, identifiers: dict) -> dict:
    email_status = _CHANNEL_STATUS.get(card.get("email_status") or "")
    sms_status = _CHANNEL_STATUS.get(card.get("sms_status") or "")
    return compact(
        {
            "email": {"status": email_status} if email_status and "email" in identifiers else None,
            "sms": {"status": sms_status} if sms_status and "mobileNumber" in identifiers else None,
        }
    )


def _consent_records(card: dict) -> list[dict]:
    if not card.get("consent_marketing"):
        return []
    record = compact(
        {"dateTimeConsented": card.get("consent_date"), "ipAddress": card.get("consent_ip")}
    )
    return [record] if record else []


def _identifiers(card: dict) -> dict:
    phone = card.get("phone")
    mobile = phone if phone and can_receive_sms(card.get("phone_type")) else None
    return compact({"email": card.get("email"), "mobileNumber": mobile})


@gc_paused
def build_payloads(
    cards: pa.Table,
    memberships: pa.Table,
    vendor_cfg,
    previous_segments: Mapping[str, list[str]],
    previous_fields: Mapping[str, list[str]] | None = None,
) -> list[ContactPayload]:
    """One ContactPayload per card. With ``clear_missing_fields``, data fields sent
    last time (``previous_fields``, from the ledger) but now absent are sent as null."""
    segments = segments_by_contact(memberships)
    match_on = vendor_cfg.match_identifier
    results = []
    columns = _PAYLOAD_COLUMNS | (set(vendor_cfg.data_fields) & _CARD_COLUMNS)
    for card in card_rows(cards, sorted(columns)):
        key = card["contact_key"]
        identifiers = _identifiers(card)
        if match_on not in identifiers:
            what = "email" if match_on == "email" else "mobile phone"
            results.append(
                ContactPayload(
                    key,
                    None,
                    error=f"contact {key}: no {what} while vendors.dotdigital.match_identifier "
                    f"is {match_on}; Dotdigital cannot match it",
                )
            )
            continue
        data_fields = _data_fields(card, vendor_cfg.data_fields)
        groups = [seg for seg in segments.get(key, []) if seg in vendor_cfg.lists]
        payload = compact(
            {
                "matchIdentifier": match_on,
                "identifiers": identifiers,
                "dataFields": data_fields,
                "channelProperties": _channel_properties(card, identifiers),
                "lists": sorted({vendor_cfg.lists[seg] for seg in groups}),
                "consentRecords": _consent_records(card),
            }
        )
        wire = encode_json(payload)
        hashed = hash_bytes(wire)  # before clears: a clear is sent once, then unchanged
        cleared = (
            _cleared_fields(previous_fields, key, data_fields)
            if vendor_cfg.clear_missing_fields
            else []
        )
        if cleared:
            payload["dataFields"] = {**data_fields, **dict.fromkeys(cleared)}
            wire = encode_json(payload)
        results.append(
            ContactPayload(
                key,
                payload,
                payload_hash=hashed,
                segments=tuple(groups),
                data_fields=tuple(sorted(data_fields)),
                lookup=lookup_values(*identifiers.values()),
                wire=wire,
            )
        )
    return results


def _cleared_fields(previous_fields, key: str, data_fields: dict) -> list[str]:
    return sorted(set((previous_fields or {}).get(key) or ()) - set(data_fields))


def payload_problems(payload: dict) -> list[str]:
    # dataFields may hold null: that is the documented way to clear a field
    problems = contract_problems(payload, PAYLOAD_SCHEMA, nullable=("dataFields",))
    for name, value in (payload.get("dataFields") or {}).items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            problems.append(f"dataFields.{name}: must be a scalar")
    lists = payload.get("lists") or []
    if len(lists) > 100:
        problems.append("lists: more than 100 address books")
    if len(payload.get("consentRecords") or []) > 5:
        problems.append("consentRecords: more than 5")
    return problems


# --- client ----------------------------------------------------------------


def send_batch(
    session: VendorSession, payloads: list[ContactPayload], batch_id: str = ""
) -> BatchHandle:
    handle = new_handle(batch_id, payloads)
    body = json_with_contacts(
        {"mergeOption": session.cfg.merge_option}, [p.wire_bytes() for p in payloads]
    )
    try:
        response = session.http.request("PUT", "/contacts/v3/import", content=body)
    except VendorRequestError as exc:
        return reject_all(handle, str(exc))
    handle.vendor_ref = (response.json() or {}).get("importId")
    if not handle.vendor_ref:
        reject_all(handle, "dotdigital answered without an importId")
    return handle


def _contact_in(handle: BatchHandle, record: dict) -> str | None:
    identifiers = record.get("identifiers") or {}
    return match_contact(handle, identifiers.get("email"), identifiers.get("mobileNumber"))


def poll(session: VendorSession, handle: BatchHandle) -> dict[str, ContactOutcome]:
    if not handle.vendor_ref:
        return finish_outcomes(handle, {})
    path = f"/contacts/v3/import/{handle.vendor_ref}"
    report = poll_until_done(
        lambda: session.http.request("GET", path).json(),
        lambda body: body.get("status") != "NotFinished",
        session.poll,
        f"dotdigital import {handle.vendor_ref}",
    )
    if report.get("status") != "Finished":
        return finish_outcomes(
            reject_all(handle, f"dotdigital import ended {report.get('status')}"), {}
        )
    found: dict[str, ContactOutcome] = {}
    for outcome in ("created", "updated"):
        for record in report.get(outcome) or ():
            key = _contact_in(handle, record)
            if key:
                vendor_id = record.get("contactId")
                found[key] = ContactOutcome(
                    outcome, str(vendor_id) if vendor_id is not None else None
                )
    for record in report.get("failures") or ():
        key = _contact_in(handle, record)
        reasons = record.get("failures") or []
        codes = {reason.get("failureCode") for reason in reasons}
        if not key or (codes == {"consentRecordsNotApplied"} and key in found):
            continue  # the contact itself was imported; only its consent record was not
        text = "; ".join(
            f"{r.get('failureCode')}: {r.get('description') or ''}".strip() for r in reasons
        )
        found[key] = ContactOutcome("rejected", error=f"dotdigital: {text or 'failed'}")
    return finish_outcomes(handle, found)


# --- list removal (v2) -----------------------------------------------------


@dataclass(frozen=True)
class _Removal:
    contact_key: str
    contact_id: int | None  # Dotdigital's contactId; None when unknown
    address_books: tuple[int, ...]  # the lists it left and holds no more


@dataclass(frozen=True)
class _Failure:
    message: str
    retry: bool  # True: the contact is rejected, so the next run offers it (and this) again


def remove_from_lists(
    session: DotdigitalSession,
    batch: list[ContactPayload],
    outcomes: dict[str, ContactOutcome],
    previous: Mapping,
) -> dict[str, ContactOutcome]:
    """Take a polled batch's contacts out of the address books they left (the sync's
    optional hook, called after ``poll``). ``previous``: the ledger entries (segments and
    contact id last accepted). Returns ``outcomes`` with each failure on its contact."""
    removals = _removals(session.cfg.lists, batch, outcomes, previous)
    failures: dict[str, list[_Failure]] = defaultdict(list)
    by_book: dict[int, list[_Removal]] = defaultdict(list)
    for item in removals:
        if item.contact_id is None:
            failures[item.contact_key].append(_no_contact_id(item))
            continue
        for book in item.address_books:
            by_book[book].append(item)
    for book, members in sorted(by_book.items()):
        for start in range(0, len(members), REMOVAL_CHUNK):
            chunk = members[start : start + REMOVAL_CHUNK]
            failure = _delete_from_book(session, book, sorted({m.contact_id for m in chunk}))
            if failure is not None:
                for member in chunk:
                    failures[member.contact_key].append(failure)
    return {**outcomes, **{key: _failed(outcomes[key], f) for key, f in failures.items()}}


def _removals(lists, batch, outcomes, previous) -> list[_Removal]:
    """Contacts the vendor took in this batch that left a list they no longer hold."""
    removals = []
    for item in batch:
        outcome, entry = outcomes[item.contact_key], previous.get(item.contact_key)
        if entry is None or outcome.outcome == "rejected":
            continue  # new to the vendor (in no list yet), or the import itself failed
        left = {lists[s] for s in left_segments(entry.segments, item.segments) if s in lists}
        books = left - {lists[s] for s in item.segments if s in lists}  # two segments, one list
        if books:
            contact_id = _as_contact_id(outcome.vendor_id or entry.vendor_id)
            removals.append(_Removal(item.contact_key, contact_id, tuple(sorted(books))))
    return removals


def _as_contact_id(vendor_id: str | None) -> int | None:
    return int(vendor_id) if vendor_id is not None and vendor_id.isdigit() else None


def _no_contact_id(item: _Removal) -> _Failure:
    books = ", ".join(map(str, item.address_books))
    return _Failure(
        f"dotdigital: not removed from address book {books}: no Dotdigital contact id is "
        "known for it (the ledger and the import report hold none); offered again next run",
        retry=True,
    )


def _delete_from_book(
    session: DotdigitalSession, book: int, contact_ids: list[int]
) -> _Failure | None:
    """One bulk removal call (retried by VendorHttp on 429/5xx); a _Failure or None."""
    if session.removal_unavailable:
        return _Failure(session.removal_unavailable, retry=False)
    try:
        session.http.request("POST", REMOVE_PATH.format(book), json_body=contact_ids)
    except VendorRequestError as exc:
        if exc.status in (404, 405) and not _BOOK_NOT_FOUND.search(exc.vendor_message):
            return _route_missing(session, exc)
        why = f"answered {exc.status}: {exc.vendor_message}"
        return _Failure(f"dotdigital: not removed from address book {book}: {why}", retry=True)
    except VendorUnavailableError as exc:
        return _Failure(f"dotdigital: not removed from address book {book}: {exc}", retry=True)
    return None


def _route_missing(session: DotdigitalSession, exc: VendorRequestError) -> _Failure:
    message = (
        f"dotdigital: not removed from the address books it left: this server does not offer "
        f"POST {REMOVE_PATH.format('{id}')} (Dotdigital v2 API; answered {exc.status}: "
        f"{exc.vendor_message}); list removals are skipped for the rest of this run and these "
        "contacts are not retried"
    )
    if session.mark_removal_unavailable(message):
        log.error("%s", message)
    return _Failure(session.removal_unavailable, retry=False)


def _failed(outcome: ContactOutcome, failures: list[_Failure]) -> ContactOutcome:
    """The import's outcome with the removal failures: rejected (so offered again next
    run) unless every failure is one not worth retrying, which is only noted."""
    error = "; ".join(dict.fromkeys(f.message for f in failures))
    if any(f.retry for f in failures):
        return ContactOutcome("rejected", outcome.vendor_id, error)
    # the sync settles ACCEPTED without keeping an error; a contact with a ledger entry
    # (it left a list) is known to the vendor, so ACCEPTED means updated here
    kept = "updated" if outcome.outcome == ACCEPTED else outcome.outcome
    return ContactOutcome(kept, outcome.vendor_id, error)


def verify_fields(session: VendorSession, vendor_cfg, field_names=()) -> list[str]:
    """Mapped data fields the account lacks; created first when create_missing_fields is set."""
    wanted = {dd_name: name for name, dd_name in vendor_cfg.data_fields.items()}
    if not wanted:
        return []
    missing = _missing(session, wanted)
    if missing and vendor_cfg.create_missing_fields:
        for dd_name in missing:
            if _DATA_FIELD_NAME.match(dd_name):
                field_type = "Date" if wanted[dd_name] in _DATE_FIELDS else "String"
                body = {"name": dd_name, "type": field_type, "visibility": "Private"}
                session.http.request("POST", "/v2/data-fields", json_body=body)
        missing = _missing(session, wanted)
    return [
        name
        if _DATA_FIELD_NAME.match(name)
        else f"{name} (invalid name: at most 20 of A-Z a-z 0-9 _ -)"
        for name in missing
    ]


def _missing(session: VendorSession, wanted: Mapping[str, str]) -> list[str]:
    body = session.http.request("GET", "/v2/data-fields").json()
    items = body if isinstance(body, list) else body.get("value") or body.get("dataFields") or []
    known = {str(item.get("name", "")).upper() for item in items if isinstance(item, dict)}
    return sorted(name for name in wanted if name.upper() not in known)


MISSING_FIELDS_FIX = "create them under Settings > Data fields, or set vendors.dotdigital.create_missing_fields: true"
