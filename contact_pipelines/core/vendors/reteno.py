"""Reteno: payload mapping and the bulk-contacts client (vendors.md, "Reteno").

``POST /contacts`` takes up to 3000 contacts; ``groupNames``,
``groupNamesExclude`` and ``customFieldsIDs`` are request-level, so contacts
are batched by their group combination (``batch_group``). Results come from
``GET /importstatus/{asyncSessionId}``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import httpx
import pyarrow as pa

from contact_pipelines.core.delivery.retry import (
    PollPolicy,
    RetryPolicy,
    VendorHttp,
    VendorRequestError,
)
from contact_pipelines.core.vendors.base import (
    BatchHandle,
    ContactOutcome,
    ContactPayload,
    VendorSession,
    can_receive_sms,
    card_columns,
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
    phone_digits,
    poll_until_done,
    reject_all,
    segments_by_contact,
    truncated_names,
)

NAME = "reteno"
MAX_CONTACTS = 3000
MAX_BYTES = 50 * 1024 * 1024  # no documented JSON limit; stay as cautious as Dotdigital
TIMEOUT_SECONDS = 60.0

_DEVICE = dict.fromkeys(
    ("appId", "deviceModel", "os", "locale", "appVersion", "clientVersion", "active")
)
CONTACT_SCHEMA = {
    "channels": [{"type": None, "value": None, "device": _DEVICE, "webPushSubscription": None}],
    "firstName": None,
    "lastName": None,
    "externalCustomerId": None,
    "contactKey": None,
    "languageCode": None,
    "timeZone": None,
    "address": dict.fromkeys(("region", "town", "address", "postcode")),
    "fields": [{"id": None, "value": None}],
}
# Our per-contact payload: the contact plus its request-level group lists.
PAYLOAD_SCHEMA = {"contact": CONTACT_SCHEMA, "groupNames": None, "groupNamesExclude": None}
BODY_KEYS = (
    "contacts",
    "dedupeOn",
    "fieldId",
    "contactFields",
    "customFieldsIDs",
    "groupNames",
    "groupNamesExclude",
    "restoreDeleted",
    "eventKeyForNewContacts",
)

# What each dedupeOn value needs in a contact without externalCustomerId to be matched.
_DEDUPE_NEEDS = {
    "email": ({"email"}, "email"),
    "sms": ({"sms"}, "mobile phone"),
    "push": ({"mobilepush"}, "mobile push token"),
    "email_or_sms": ({"email", "sms"}, "email or mobile phone"),
}


def make_session(
    credentials,
    vendor_cfg,
    retry: RetryPolicy | None = None,
    poll: PollPolicy | None = None,
    webhook=None,
) -> VendorSession:
    http = VendorHttp(
        NAME,
        credentials.url,
        auth=httpx.BasicAuth("", credentials.api_key),  # the username is ignored
        timeout=TIMEOUT_SECONDS,
        retry=retry,
    )
    return VendorSession(http, vendor_cfg, credentials, poll or PollPolicy())


# --- payloads --------------------------------------------------------------


_DEVICE_KEYS = (
    ("appId", "app_id"),
    ("deviceModel", "device_model"),
    ("os", "os"),
    ("locale", "locale"),
    ("appVersion", "app_version"),
)


def _channels(email, phone, phone_type, push_tokens) -> list[dict]:
    channels = []
    if email:
        channels.append({"type": "email", "value": email})
    if phone and can_receive_sms(phone_type):
        channels.append({"type": "sms", "value": phone_digits(phone)})
    for token in push_tokens or ():
        if token and token.get("token"):
            channels.append(_push_channel(token))
    return channels


def _push_channel(token: dict) -> dict:
    device = {key: token[column] for key, column in _DEVICE_KEYS if token.get(column) is not None}
    channel = {"type": "mobilepush", "value": token["token"]}
    if device:
        channel["device"] = device
    return channel


# (payload key, card column) of the contact's optional top-level strings, in payload order
_CONTACT_STRINGS = (
    ("externalCustomerId", "external_id"),
    ("languageCode", "language"),
    ("timeZone", "timezone"),
)
_ADDRESS = (
    ("region", "region"),
    ("town", "city"),
    ("address", "address"),
    ("postcode", "postcode"),
)
# the card columns the contact is built from, in the order _contact takes them
_COLUMNS = (
    ("contact_key", "email", "phone", "phone_type", "push_tokens", "fields")
    + tuple(column for _, column in _CONTACT_STRINGS)
    + tuple(column for _, column in _ADDRESS)
)


def _contact(row: tuple, first: str | None, last: str | None, field_ids) -> dict:
    """The contact object from one row of _COLUMNS: absent values omitted, never null."""
    _, email, phone, phone_type, push_tokens, values = row[:6]
    contact = {}
    channels = _channels(email, phone, phone_type, push_tokens)
    if channels:
        contact["channels"] = channels
    if first:
        contact["firstName"] = first
    if last:
        contact["lastName"] = last
    for (key, _), value in zip(_CONTACT_STRINGS, row[6:9], strict=True):
        if value is not None:
            contact[key] = value
    address = {key: v for (key, _), v in zip(_ADDRESS, row[9:], strict=True) if v is not None}
    if address:
        contact["address"] = address
    if values:
        fields = [
            {"id": field_id, "value": str(values[name])}
            for name, field_id in field_ids
            if values.get(name) is not None
        ]
        if fields:
            contact["fields"] = fields
    return contact


def _reject_reason(contact: dict, dedupe_on: str) -> str | None:
    types = {channel["type"] for channel in contact.get("channels", ())}
    if not types:
        return "no email, mobile phone or push token: Reteno needs at least one channel"
    if "externalCustomerId" in contact:
        return None  # Reteno matches on the external id first and ignores dedupeOn
    if dedupe_on == "externalCustomerId":
        return (
            "no external_id while vendors.reteno.dedupe_on is externalCustomerId: "
            "map an external id column or set dedupe_on to email_or_sms"
        )
    needs = _DEDUPE_NEEDS.get(dedupe_on)
    if needs and not (types & needs[0]):
        return (
            f"no {needs[1]} to match on (vendors.reteno.dedupe_on is {dedupe_on}) "
            "and no external_id: add one, or choose another dedupe_on"
        )
    return None


@gc_paused
def build_payloads(
    cards: pa.Table,
    memberships: pa.Table,
    vendor_cfg,
    previous_segments: Mapping[str, list[str]],
    previous_fields: Mapping[str, list[str]] | None = None,
) -> list[ContactPayload]:
    """One ContactPayload per card: the Reteno contact object and its group lists."""
    segments = segments_by_contact(memberships)
    group_bytes = functools.lru_cache(maxsize=4096)(encode_json)  # few distinct group lists
    firsts = truncated_names(cards, "first_name")
    lasts = truncated_names(cards, "last_name")
    field_ids = sorted(vendor_cfg.fields.items())
    results = []
    for row, first, last in zip(card_columns(cards, _COLUMNS), firsts, lasts, strict=True):
        key = row[0]
        contact = _contact(row, first, last, field_ids)
        reason = _reject_reason(contact, vendor_cfg.dedupe_on)
        if reason:
            results.append(ContactPayload(key, None, error=f"contact {key}: {reason}"))
            continue
        groups = segments.get(key, [])
        left = left_segments(previous_segments.get(key), groups)
        payload = {"contact": contact}
        if groups:
            payload["groupNames"] = groups
        if left:
            payload["groupNamesExclude"] = left
        channel_values = [channel["value"] for channel in contact["channels"]]
        wire = encode_json(contact)  # the contacts-list item; groups are request-level
        results.append(
            ContactPayload(
                key,
                payload,
                # leaving a group is sent once; the hash ignores it so the next run is unchanged
                payload_hash=hash_bytes(wire, group_bytes(tuple(groups))),
                segments=tuple(groups),
                lookup=lookup_values(contact.get("externalCustomerId"), *channel_values),
                batch_group=(tuple(groups), tuple(left)),
                wire=wire,
            )
        )
    return results


def payload_problems(payload: dict) -> list[str]:
    problems = contract_problems(payload, PAYLOAD_SCHEMA)
    contact = payload.get("contact", {})
    for name in ("firstName", "lastName"):
        if len(contact.get(name) or "") > 40:
            problems.append(f"contact.{name}: longer than 40 characters")
    if not contact.get("channels"):
        problems.append("contact.channels: required")
    return problems


# --- client ----------------------------------------------------------------


def request_envelope(session: VendorSession, payloads: list[ContactPayload]) -> dict:
    """The request-level keys around the contacts list (one group combination per batch)."""
    cfg = session.cfg
    groups, left = payloads[0].batch_group  # what the payloads carry as groupNames(Exclude)
    body = {"dedupeOn": cfg.dedupe_on}
    if cfg.dedupe_on == "fieldId" and cfg.field_id is not None:
        body["fieldId"] = cfg.field_id
    if cfg.fields:
        body["customFieldsIDs"] = sorted(cfg.fields.values())
    return compact(
        {
            **body,
            "groupNames": list(groups),
            "groupNamesExclude": list(left),
        }
    )


def send_batch(
    session: VendorSession, payloads: list[ContactPayload], batch_id: str = ""
) -> BatchHandle:
    handle = new_handle(batch_id, payloads)
    try:
        body = json_with_contacts(
            request_envelope(session, payloads), [p.wire_bytes() for p in payloads]
        )
        response = session.http.request("POST", "/contacts", content=body)
    except VendorRequestError as exc:
        return reject_all(handle, str(exc))
    body = response.json() if response.content else {}
    for item in _as_list(body.get("failedContacts")):
        key = _match_failed(handle, item)
        if key:
            handle.outcomes[key] = ContactOutcome(
                "rejected", error=f"reteno: {item.get('error') or 'failed'}"
            )
    handle.vendor_ref = body.get("asyncSessionId")
    if not handle.vendor_ref:
        reject_all(
            handle, f"reteno accepted no import: {body.get('errorMessage') or 'no asyncSessionId'}"
        )
    return handle


def _as_list(value) -> list:
    """failedContacts is a list, or one object when exactly one contact failed."""
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def _match_failed(handle: BatchHandle, item: dict) -> str | None:
    channels = [
        channel.get("value") for channel in item.get("channels") or () if isinstance(channel, dict)
    ]
    return match_contact(handle, item.get("externalCustomerId"), *channels)


def poll(session: VendorSession, handle: BatchHandle) -> dict[str, ContactOutcome]:
    if not handle.vendor_ref:
        return finish_outcomes(handle, {})
    path = f"/importstatus/{handle.vendor_ref}"
    status = poll_until_done(
        lambda: session.http.request("GET", path).json(),
        lambda body: body.get("status") in ("FINISHED", "ERROR"),
        session.poll,
        f"reteno import {handle.vendor_ref}",
    )
    if status["status"] == "ERROR":
        return finish_outcomes(
            reject_all(
                handle,
                f"reteno import ended in ERROR: {status.get('description') or 'no description'}",
            ),
            {},
        )
    found = {}
    for item in status.get("mapping") or ():
        key = match_contact(handle, item.get("dedupeValue"))
        if key and item.get("contactId") is not None:
            found[key] = ContactOutcome("accepted", vendor_id=str(item["contactId"]))
    return finish_outcomes(handle, found)


def verify_fields(session: VendorSession, vendor_cfg, field_names=()) -> list[str]:
    """Mapped additional fields whose id Reteno does not list; they can only be created in the UI."""
    if not vendor_cfg.fields:
        return []
    body = session.http.request("GET", "/addressbooks").json()
    known = {
        str(item.get("id"))
        for group in body.get("fieldGroups") or ()
        for item in group.get("fields") or ()
    }
    return [
        f"{name} (id {field_id})"
        for name, field_id in sorted(vendor_cfg.fields.items())
        if str(field_id) not in known
    ]


MISSING_FIELDS_FIX = "create them in the Reteno UI (they can take up to an hour to become usable), or fix vendors.reteno.fields"
