"""Pushtech / Cendyn CRM: payload mapping and the bulk client (vendors.md, "Pushtech").

``POST /v2/account/{id}/contact/bulk`` takes up to 5000 contacts and answers
with a bulk in status ``queue``. Per-contact results come only from the signed
completion webhook. Each batch gets its own webhook URL (``<receiver>/<batch_id>``)
so a webhook is tied to its batch. When no webhook arrives in time (or a public
``webhook_url`` is configured, whose deliveries this process cannot see), the
contacts the bulk accepted count as sent, created or updated by ledger state.
With a public ``webhook_url`` the batch journal also keeps the identifiers the
webhook will echo, and ``contact_pipelines.webhook_app`` (run by the deployment
at that URL) feeds the per-contact results into the ledger afterwards.

Request bodies are joined from each contact's ``wire`` bytes (serialized once
while building), so no contact is JSON-encoded twice on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    additional_field_names,
    card_rows,
    compact,
    contract_problems,
    encode_json,
    finish_outcomes,
    gc_paused,
    hash_bytes,
    hash_payload,
    json_with_contacts,
    left_segments,
    lookup_values,
    match_contact,
    new_handle,
    poll_until_done,
    reject_all,
    segments_by_contact,
    split_phone,
    truncated_names,
)

NAME = "pushtech"
MAX_CONTACTS = 5000
MAX_BYTES = 50 * 1024 * 1024  # no documented limit; stay as cautious as Dotdigital
TIMEOUT_SECONDS = 60.0
NEEDS_WEBHOOK = True  # the sync starts a WebhookReceiver unless webhook_url is configured
_RUNNING = {"queue", "queued", "processing", "in_progress", "running", "pending"}

CONTACT_KEYS = (
    "user_id",
    "name_first",
    "name_last",
    "email",
    "phone_countrycode",
    "phone_number",
    "phone",
    "device_id",
    "city",
    "country",
    "region",
    "zip",
    "full_address",
    "born_date",
    "gender",
    "language",
    "tags",
    "gdpr_accept_terms",
    "gdpr_marketing_consent",
    "gdpr_date",
    "gdpr_remote_ip",
)
CONTACT_SCHEMA = {
    **dict.fromkeys(CONTACT_KEYS),
    "list_subscriptions": [{"list_id": None, "subscribed": None}],
    "channel_subscriptions": [{"channel": None, "blacklisted": None}],
}
_GENDERS = {"male": "MALE", "female": "FEMALE"}


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
        headers={"Authorization": f"Token token={credentials.api_token}"},
        timeout=TIMEOUT_SECONDS,
        retry=retry,
    )
    return VendorSession(http, vendor_cfg, credentials, poll or PollPolicy(), webhook)


def custom_field_names(vendor_cfg, field_names) -> dict[str, str]:
    """additional field -> Pushtech key: the configured ``custom_fields`` when set,
    else every additional field under its own name. A clash with a standard key is an error."""
    names = dict(vendor_cfg.custom_fields) or {name: name for name in field_names}
    clashes = sorted(name for name in names.values() if name in CONTACT_SCHEMA)
    if clashes:
        raise ValueError(
            f"pushtech custom field name(s) {clashes} clash with standard contact keys: "
            "rename them in vendors.pushtech.custom_fields"
        )
    return names


# --- payloads --------------------------------------------------------------


def _born_date(value: str | None) -> str | None:
    return f"{value[:10]}T00:00:00Z" if value and len(value) >= 10 else None


def _subscriptions(card: dict) -> list[dict]:
    subs = []
    for channel, column in (("email", "email_status"), ("sms", "sms_status")):
        status = card.get(column)
        if status:
            subs.append({"channel": channel, "blacklisted": status == "blacklisted"})
    return subs


def _lists(segments: list[str], left: list[str], lists: Mapping[str, str]) -> list[dict]:
    subscribed = [{"list_id": lists[s], "subscribed": True} for s in segments if s in lists]
    dropped = [{"list_id": lists[s], "subscribed": False} for s in left if s in lists]
    return subscribed + dropped


def _contact(card: dict, first, last, segments, left, vendor_cfg, custom_names) -> dict:
    phone = split_phone(card["phone"]) if card.get("phone") else None
    values = card["fields"]
    custom = {
        target: str(values[name])
        for name, target in custom_names.items()
        if values.get(name) is not None
    }
    return compact(
        {
            "user_id": card.get("external_id") or card["contact_key"],
            "name_first": first or None,
            "name_last": last or None,
            "email": card.get("email"),
            "phone_countrycode": phone[0] if phone else None,
            "phone_number": phone[1] if phone else None,
            "city": card.get("city"),
            "country": card.get("country"),
            "region": card.get("region"),
            "zip": card.get("postcode"),
            "full_address": card.get("address"),
            "born_date": _born_date(card.get("birth_date")),
            "gender": _GENDERS.get(card.get("gender") or ""),
            "language": (card.get("language") or "")[:2].lower() or None,
            "tags": segments,
            "list_subscriptions": _lists(segments, left, vendor_cfg.lists),
            "channel_subscriptions": _subscriptions(card),
            "gdpr_accept_terms": card.get("consent_terms"),
            "gdpr_marketing_consent": card.get("consent_marketing"),
            "gdpr_date": card.get("consent_date"),
            "gdpr_remote_ip": card.get("consent_ip"),
            **custom,
        }
    )


@gc_paused
def build_payloads(
    cards: pa.Table,
    memberships: pa.Table,
    vendor_cfg,
    previous_segments: Mapping[str, list[str]],
    previous_fields: Mapping[str, list[str]] | None = None,
) -> list[ContactPayload]:
    """One ContactPayload per card; leaving a mapped list sends ``subscribed: false`` once."""
    segments = segments_by_contact(memberships)
    firsts = truncated_names(cards, "first_name")
    lasts = truncated_names(cards, "last_name")
    custom_names = custom_field_names(vendor_cfg, additional_field_names(cards))
    results = []
    for card, first, last in zip(card_rows(cards), firsts, lasts, strict=True):
        key = card["contact_key"]
        groups = segments.get(key, [])
        left = left_segments(previous_segments.get(key), groups)
        contact = _contact(card, first, last, groups, left, vendor_cfg, custom_names)
        if "email" not in contact and "phone_number" not in contact:
            results.append(
                ContactPayload(
                    key, None, error=f"contact {key}: neither email nor phone; Pushtech needs one"
                )
            )
            continue
        wire = encode_json(contact)
        results.append(
            ContactPayload(
                key,
                contact,
                payload_hash=_stable_hash(wire, contact, groups, left, vendor_cfg.lists),
                wire=wire,
                segments=tuple(groups),
                lookup=lookup_values(
                    contact["user_id"],
                    contact.get("email"),
                    contact.get("phone_countrycode", "") + contact.get("phone_number", ""),
                ),
            )
        )
    return results


def _stable_hash(wire: bytes, contact: dict, groups, left, lists) -> str:
    """Leaving a list is sent once; the hash ignores it so the next run is unchanged."""
    if not left:
        return hash_bytes(wire)
    return hash_payload(compact({**contact, "list_subscriptions": _lists(groups, [], lists)}))


def payload_problems(payload: dict) -> list[str]:
    allowed = {**CONTACT_SCHEMA, **{k: None for k in payload if k not in CONTACT_SCHEMA}}
    problems = contract_problems(payload, allowed)  # custom keys are checked by verify_fields
    if "email" not in payload and not (
        "phone_countrycode" in payload and "phone_number" in payload
    ):
        problems.append("contact: needs an email or a phone (country code and number)")
    for name in ("name_first", "name_last"):
        if len(payload.get(name) or "") > 40:
            problems.append(f"{name}: longer than 40 characters")
    return problems


# --- client ----------------------------------------------------------------


def _bulk_path(session: VendorSession) -> str:
    return f"/v2/account/{session.credentials.account_id}/contact/bulk"


def _webhook_url(session: VendorSession, batch_id: str) -> str | None:
    base = session.cfg.webhook_url or (session.webhook.url if session.webhook else None)
    return f"{base.rstrip('/')}/{batch_id}" if base else None


def send_batch(
    session: VendorSession, payloads: list[ContactPayload], batch_id: str = ""
) -> BatchHandle:
    handle = new_handle(batch_id, payloads)
    envelope = compact(
        {
            "match_contact_user_id": session.cfg.match_contact_user_id,
            "webhook_url": _webhook_url(session, batch_id),
        }
    )
    body = json_with_contacts(envelope, [p.wire_bytes() for p in payloads])
    try:
        response = session.http.request("POST", _bulk_path(session), content=body)
    except VendorRequestError as exc:
        return reject_all(handle, str(exc))
    handle.vendor_ref = ((response.json() or {}).get("bulk") or {}).get("_id")
    if not handle.vendor_ref:
        reject_all(handle, "pushtech answered without a bulk _id")
    return handle


def poll(session: VendorSession, handle: BatchHandle) -> dict[str, ContactOutcome]:
    if not handle.vendor_ref:
        return finish_outcomes(handle, {})
    path = f"{_bulk_path(session)}/{handle.vendor_ref}"
    poll_until_done(
        lambda: session.http.request("GET", path).json(),
        lambda body: str((body.get("bulk") or {}).get("status", "")).lower() not in _RUNNING,
        session.poll,
        f"pushtech bulk {handle.vendor_ref}",
    )
    delivery = _await_webhook(session, handle.batch_id)
    return finish_outcomes(handle, webhook_outcomes(handle, delivery) if delivery else {})


def _await_webhook(session: VendorSession, batch_id: str) -> dict | None:
    if session.webhook is None or session.cfg.webhook_url:
        return None
    return session.webhook.wait_for(batch_id, session.poll.webhook_timeout)


def webhook_outcomes(handle: BatchHandle, delivery: dict) -> dict[str, ContactOutcome]:
    found = {}
    for item in delivery.get("valid_contacts") or ():
        key = _echoed(handle, item)
        if key:
            vendor_id = item.get("_id")
            found[key] = ContactOutcome(
                "accepted", str(vendor_id) if vendor_id is not None else None
            )
    for item in delivery.get("failed_contacts") or ():
        key = _echoed(handle, item.get("contact") or {})
        if key:
            found[key] = ContactOutcome(
                "rejected", error=f"pushtech: {item.get('error') or 'failed'}"
            )
    return found


def _echoed(handle: BatchHandle, contact: dict) -> str | None:
    phone = f"{contact.get('phone_countrycode') or ''}{contact.get('phone_number') or ''}"
    return match_contact(handle, contact.get("user_id"), contact.get("email"), phone or None)


def verify_fields(session: VendorSession, vendor_cfg, field_names=()) -> list[str]:
    """Custom fields the account lacks (the configured ones, else every additional
    field the cards carry); created first when create_missing_fields is set."""
    wanted = sorted(set(custom_field_names(vendor_cfg, field_names).values()))
    if not wanted:
        return []
    path = f"/v2/account/{session.credentials.account_id}/custom_fields"
    missing = _missing(session, path, wanted)
    if missing and vendor_cfg.create_missing_fields:
        for name in missing:
            body = {"name": name, "label": name, "type": "string"}
            session.http.request("POST", path, json_body=body)
        missing = _missing(session, path, wanted)
    return missing


def _missing(session: VendorSession, path: str, wanted: list[str]) -> list[str]:
    body = session.http.request("GET", path).json()
    if isinstance(body, dict):
        body = body.get("custom_fields") or body.get("data") or []
    known = {str(item.get("name")) for item in body if isinstance(item, dict)}
    return [name for name in wanted if name not in known]


MISSING_FIELDS_FIX = "create them in Pushtech, or set vendors.pushtech.create_missing_fields: true"
