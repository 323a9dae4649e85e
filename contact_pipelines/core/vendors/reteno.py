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


def _channels(card: dict) -> list[dict]:
    channels = []
    if card.get("email"):
        channels.append({"type": "email", "value": card["email"]})
    phone = card.get("phone")
    if phone and can_receive_sms(card.get("phone_type")):
        channels.append({"type": "sms", "value": phone_digits(phone)})
    for token in card.get("push_tokens") or ():
        if not token or not token.get("token"):
            continue
        device = compact(
            {
                "appId": token.get("app_id"),
                "deviceModel": token.get("device_model"),
                "os": token.get("os"),
                "locale": token.get("locale"),
                "appVersion": token.get("app_version"),
            }
        )
        channels.append(compact({"type": "mobilepush", "value": token["token"], "device": device}))
    return channels


def _contact(card: dict, first: str | None, last: str | None, field_ids: Mapping[str, int]) -> dict:
    address = compact(
        {
            "region": card.get("region"),
            "town": card.get("city"),
            "address": card.get("address"),
            "postcode": card.get("postcode"),
        }
    )
    values = card["fields"]
    fields = [
        {"id": field_id, "value": str(values[name])}
        for name, field_id in sorted(field_ids.items())
        if values.get(name) is not None
    ]
    return compact(
        {
            "channels": _channels(card),
            "firstName": first or None,
            "lastName": last or None,
            "externalCustomerId": card.get("external_id"),
            "languageCode": card.get("language"),
            "timeZone": card.get("timezone"),
            "address": address,
            "fields": fields,
        }
    )


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
    results = []
    for card, first, last in zip(card_rows(cards), firsts, lasts, strict=True):
        key = card["contact_key"]
        contact = _contact(card, first, last, vendor_cfg.fields)
        reason = _reject_reason(contact, vendor_cfg.dedupe_on)
        if reason:
            results.append(ContactPayload(key, None, error=f"contact {key}: {reason}"))
            continue
        groups = segments.get(key, [])
        left = left_segments(previous_segments.get(key), groups)
        payload = compact({"contact": contact, "groupNames": groups, "groupNamesExclude": left})
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
    first = payloads[0].payload
    body = {"dedupeOn": cfg.dedupe_on}
    if cfg.dedupe_on == "fieldId" and cfg.field_id is not None:
        body["fieldId"] = cfg.field_id
    if cfg.fields:
        body["customFieldsIDs"] = sorted(cfg.fields.values())
    return compact(
        {
            **body,
            "groupNames": first.get("groupNames"),
            "groupNamesExclude": first.get("groupNamesExclude"),
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
