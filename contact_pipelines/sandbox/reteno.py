"""Reteno, as vendors.md describes it: bulk import with async status, single contact,
additional fields listed by /addressbooks (created only by seeding, like the UI).

Errors answer ``{"errorMessage": "..."}`` (the key of the bulk reply). A request that
breaks the shape (unknown key, null, wrong type, over 3000 contacts, bad
``dedupeOn``/``eventKeyForNewContacts``) is a 400 with no effect; a contact whose
*values* are wrong (bad email or phone, unknown channel type, name over 40 chars,
unseeded field id, nothing to match on, unknown time zone) is returned in
``failedContacts`` and the others go in.
"""

from __future__ import annotations

import hashlib
import time
import uuid
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from .contract import (
    BOOLEAN,
    INTEGER,
    STRING,
    AsyncJob,
    ContractError,
    IdCounter,
    RateLimit,
    Timing,
    anything_but_null,
    basic_credentials,
    is_valid_email,
    is_valid_phone,
    list_of,
    obj,
    one_of,
    same_secret,
)
from .routing import Reply, Request, Vendor, route

MAX_BULK_CONTACTS = 3000
MAX_NAME_CHARS = 40
CHANNEL_TYPES = frozenset(
    ("email", "sms", "viber", "mobilepush", "webpush", "appinbox", "widget", "inapp")
)
PHONE_CHANNELS = frozenset(("sms", "viber"))
ONE_PER_CONTACT_CHANNELS = frozenset(("email", "sms", "viber"))
DEDUPE_OPTIONS = ("email", "sms", "push", "email_or_sms", "id", "externalCustomerId", "fieldId")
STANDARD_FIELDS = ("firstName", "lastName", "contactKey", "languageCode", "timeZone", "address")
EVENT_KEY_FORBIDDEN = frozenset("‹;’\\/|\"`'^?!,")
TIME_ZONES = frozenset(zoneinfo.available_timezones())


def _event_key(value: Any, path: Any) -> None:
    STRING(value, path)
    if not 0 < len(value) <= 100:
        raise ContractError(path, f"must be 1 to 100 characters, got {len(value)}")
    bad = sorted(EVENT_KEY_FORBIDDEN.intersection(value))
    if bad:
        raise ContractError(path, f"must not contain {' '.join(bad)}")


DEVICE = obj(
    {
        "appId": STRING,
        "deviceModel": STRING,
        "os": STRING,
        "locale": STRING,
        "appVersion": STRING,
        "clientVersion": STRING,
        "active": BOOLEAN,
    }
)
CHANNEL = obj(
    {"type": STRING, "value": STRING, "device": DEVICE, "webPushSubscription": anything_but_null},
    required=("type", "value"),
)
ADDRESS = obj({"region": STRING, "town": STRING, "address": STRING, "postcode": STRING})
FIELD = obj({"id": INTEGER, "value": STRING}, required=("id", "value"))
CONTACT = obj(
    {
        "channels": list_of(CHANNEL),
        "firstName": STRING,
        "lastName": STRING,
        "externalCustomerId": STRING,
        "contactKey": STRING,
        "languageCode": STRING,
        "timeZone": STRING,
        "address": ADDRESS,
        "fields": list_of(FIELD),
    }
)
BULK = obj(
    {
        "contacts": list_of(CONTACT, 1, MAX_BULK_CONTACTS),
        "dedupeOn": one_of(*DEDUPE_OPTIONS),
        "fieldId": INTEGER,
        "contactFields": list_of(one_of(*STANDARD_FIELDS)),
        "customFieldsIDs": list_of(INTEGER),
        "groupNames": list_of(STRING),
        "groupNamesExclude": list_of(STRING),
        "restoreDeleted": BOOLEAN,
        "eventKeyForNewContacts": _event_key,
    },
    required=("contacts", "dedupeOn"),
)


def _key(kind: str, value: str) -> str:
    """Index form of an identifier: phones match with or without their +, emails in any case."""
    if kind == "email":
        return value.lower()
    return value.removeprefix("+") if kind in PHONE_CHANNELS else value


def _replaces(new: dict, old: dict) -> bool:
    """A contact has one email/sms/viber address; push-like channels add up per token."""
    if new["type"] != old["type"]:
        return False
    return new["type"] in ONE_PER_CONTACT_CHANNELS or new["value"] == old["value"]


class Reteno(Vendor):
    name = "reteno"
    prefix = "/reteno/api/v1"

    def __init__(self, api_key: str, timing: Timing) -> None:
        super().__init__()
        self._api_key = api_key
        self.timing = timing
        self.routes = [
            route("POST", r"/contacts", self.bulk_import, json_body=True),
            route("GET", r"/importstatus/(?P<session>[^/]+)", self.import_status),
            route("POST", r"/contact", self.single_contact, json_body=True),
            route("GET", r"/addressbooks", self.address_books),
        ]
        self.fields: dict[int, str] = {}
        if timing.reteno_calls_per_second:
            self.rate_limit = RateLimit(timing.reteno_calls_per_second, 1.0)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[int, dict] = {}
            # identifier kind ("externalCustomerId", "email", "sms", "push", "field:<id>")
            # -> value -> contact ids carrying it
            self.index: dict[str, dict[str, set[int]]] = {}
            self.sessions: dict[str, tuple[AsyncJob, list[dict]]] = {}
            self.recent_single: dict[str, float] = {}
            self.events: list[dict] = []
            self._ids = IdCounter(1_000_001)
            self._clock = 0  # update order, for "most recently updated wins"

    # ---- protocol --------------------------------------------------------------

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        return Reply(status, {"errorMessage": message})

    def authenticate(self, request: Request) -> Reply | None:
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is None or not same_secret(credentials[1], self._api_key):
            return self.error(
                401, "Unauthorized: use HTTP Basic auth with the API key as the password"
            )
        return None

    # ---- routes ------------------------------------------------------------------

    def bulk_import(self, request: Request) -> Reply:
        body = request.json()
        BULK(body, "body")
        dedupe_on = body["dedupeOn"]
        if (dedupe_on == "fieldId") != ("fieldId" in body):
            raise ContractError("body.fieldId", "is required with dedupeOn=fieldId and only then")
        with self.lock:
            self._check_field_ids(body.get("customFieldsIDs", ()), "body.customFieldsIDs")
            if "fieldId" in body:
                self._check_field_ids((body["fieldId"],), "body.fieldId")
            failed, mapping = self._import(body)
            session = str(uuid.uuid4())
            self.sessions[session] = (AsyncJob(self.timing), mapping)
        reply = {
            "asyncSessionId": session,
            # The documented quirk: one failure comes back as an object, not a list.
            "failedContacts": failed[0] if len(failed) == 1 else failed,
            "errorMessage": f"{len(failed)} contact(s) failed" if failed else "",
        }
        return Reply(200, reply)

    def import_status(self, request: Request) -> Reply:
        with self.lock:
            found = self.sessions.get(request.params["session"])
            if found is None:
                return self.error(404, f"no import session {request.params['session']}")
            job, mapping = found
            stage = job.poll()
        status = ("STARTED", "IMPORTING", "FINISHED")[stage]
        return Reply(
            200,
            {
                "status": status,
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "description": f"{len(mapping)} contact(s) imported" if stage == 2 else "",
                "mapping": mapping if stage == 2 else [],
            },
        )

    def single_contact(self, request: Request) -> Reply:
        contact = request.json()
        CONTACT(contact, "body")
        with self.lock:
            problem = self._contact_problem(contact, "email_or_sms", None, needs_match=False)
            if problem:
                return self.error(400, problem)
            fingerprint = hashlib.sha256(request.body).hexdigest()
            now = time.monotonic()
            if now - self.recent_single.get(fingerprint, -1e9) < self.timing.repeat_window:
                return self.error(409, "the same contact request was repeated within a minute")
            self.recent_single[fingerprint] = now
            contact_id, _ = self._upsert(contact, self._identity(contact, "email_or_sms"), {})
        return Reply(200, {"id": contact_id}, n_contacts=1)

    def address_books(self, request: Request) -> Reply:
        with self.lock:
            fields = [
                {"id": field_id, "name": name, "fieldKey": name, "description": {"type": "STRING"}}
                for field_id, name in sorted(self.fields.items())
            ]
        return Reply(200, {"fieldGroups": [{"name": "Additional fields", "fields": fields}]})

    # ---- import logic ----------------------------------------------------------

    def _check_field_ids(self, field_ids: Any, where: str) -> None:
        missing = sorted(set(field_ids) - self.fields.keys())
        if missing:
            raise ContractError(where, f"unknown additional field id(s) {missing}")

    def _import(self, body: dict) -> tuple[list[dict], list[dict]]:
        options = {
            "contactFields": body.get("contactFields"),
            "customFieldsIDs": body.get("customFieldsIDs"),
            "groupNames": body.get("groupNames", ()),
            "groupNamesExclude": body.get("groupNamesExclude", ()),
            "eventKey": body.get("eventKeyForNewContacts"),
        }
        field_id = body.get("fieldId")
        failed: list[dict] = []
        mapping: list[dict] = []
        for contact in body["contacts"]:
            problem = self._contact_problem(contact, body["dedupeOn"], field_id)
            if problem:
                failed.append({**contact, "error": problem})
                continue
            identity = self._identity(contact, body["dedupeOn"], field_id)
            contact_id, _ = self._upsert(contact, identity, options)
            mapping.append({"dedupeValue": identity[1], "contactId": contact_id})
        return failed, mapping

    def _contact_problem(
        self, contact: dict, dedupe_on: str, field_id: int | None, needs_match: bool = True
    ) -> str | None:
        if "channels" not in contact:
            return "channels is required"
        for channel in contact["channels"]:
            kind, value = channel["type"], channel["value"]
            if kind not in CHANNEL_TYPES:
                return f"channel type {kind!r} is not one of {', '.join(sorted(CHANNEL_TYPES))}"
            if kind == "email" and not is_valid_email(value):
                return f"invalid email {value!r}"
            if kind in PHONE_CHANNELS and not is_valid_phone("+" + value.removeprefix("+")):
                return f"invalid phone {value!r}: send international digits, + optional"
        for name in ("firstName", "lastName"):
            if len(contact.get(name, "")) > MAX_NAME_CHARS:
                return f"{name} is longer than {MAX_NAME_CHARS} characters"
        if "timeZone" in contact and contact["timeZone"] not in TIME_ZONES:
            return f"timeZone {contact['timeZone']!r} is not a time zone name"
        unknown = sorted({f["id"] for f in contact.get("fields", ())} - self.fields.keys())
        if unknown:
            return f"additional field id(s) {unknown} do not exist"
        if needs_match and self._identity(contact, dedupe_on, field_id)[1] is None:
            return f"no externalCustomerId and nothing to match on for dedupeOn={dedupe_on}"
        return None

    @staticmethod
    def _channel(contact: dict, kind: str) -> str | None:
        for channel in contact.get("channels", ()):
            if channel["type"] == kind:
                return channel["value"]
        return None

    def _identity(
        self, contact: dict, dedupe_on: str, field_id: int | None = None
    ) -> tuple[str, str | None]:
        """(index kind, value) the contact is matched on: externalCustomerId first."""
        if "externalCustomerId" in contact:
            return "externalCustomerId", contact["externalCustomerId"]
        if dedupe_on == "email_or_sms":
            email = self._channel(contact, "email")
            return ("email", email) if email is not None else ("sms", self._channel(contact, "sms"))
        if dedupe_on in ("email", "sms"):
            return dedupe_on, self._channel(contact, dedupe_on)
        if dedupe_on == "push":
            return "push", self._channel(contact, "mobilepush")
        if dedupe_on == "fieldId":
            values = [f["value"] for f in contact.get("fields", ()) if f["id"] == field_id]
            return f"field:{field_id}", values[0] if values else None
        return dedupe_on, None  # "id" and "externalCustomerId" need an externalCustomerId here

    def _upsert(
        self, contact: dict, identity: tuple[str, str | None], options: dict
    ) -> tuple[int, bool]:
        kind, value = identity
        candidates = (
            set() if value is None else self.index.get(kind, {}).get(_key(kind, value), set())
        )
        if candidates:
            contact_id = max(candidates, key=lambda cid: self.records[cid]["_updated"])
            record, created = self.records[contact_id], False
        else:
            contact_id = self._ids.take()
            record = {"id": contact_id, "channels": [], "fields": {}, "groups": set()}
            self.records[contact_id] = record
            created = True
            if options.get("eventKey"):
                self.events.append({"eventKey": options["eventKey"], "contactId": contact_id})
        self._unindex(record)
        self._merge(record, contact, options)
        self._clock += 1
        record["_updated"] = self._clock
        self._reindex(record)
        return contact_id, created

    def _merge(self, record: dict, contact: dict, options: dict) -> None:
        if "externalCustomerId" in contact:
            record["externalCustomerId"] = contact["externalCustomerId"]
        listed = options.get("contactFields")
        for name in STANDARD_FIELDS if listed is None else listed:
            if name in contact:
                record[name] = contact[name]
            elif listed is not None:
                record.pop(name, None)  # a listed field sent without a value is cleared
        for channel in contact.get("channels", ()):
            kept = [c for c in record["channels"] if not _replaces(channel, c)]
            record["channels"] = [*kept, channel]
        allowed_ids = options.get("customFieldsIDs")
        for item in contact.get("fields", ()):
            if allowed_ids is None or item["id"] in allowed_ids:
                record["fields"][item["id"]] = item["value"]
        record["groups"].update(options.get("groupNames", ()))
        record["groups"].difference_update(options.get("groupNamesExclude", ()))

    def _record_keys(self, record: dict) -> list[tuple[str, str]]:
        keys = [("field:" + str(fid), value) for fid, value in record["fields"].items()]
        if "externalCustomerId" in record:
            keys.append(("externalCustomerId", record["externalCustomerId"]))
        for channel in record["channels"]:
            kind = "push" if channel["type"] == "mobilepush" else channel["type"]
            keys.append((kind, _key(kind, channel["value"])))
        return keys

    def _unindex(self, record: dict) -> None:
        for kind, value in self._record_keys(record):
            self.index.get(kind, {}).get(value, set()).discard(record["id"])

    def _reindex(self, record: dict) -> None:
        for kind, value in self._record_keys(record):
            self.index.setdefault(kind, {}).setdefault(value, set()).add(record["id"])

    # ---- sandbox state ---------------------------------------------------------

    def contacts(self) -> list[dict]:
        with self.lock:
            return [self._public(record) for record in self.records.values()]

    @staticmethod
    def _public(record: dict) -> dict:
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        public["channels"] = [dict(c) for c in record["channels"]]
        public["fields"] = [{"id": fid, "value": value} for fid, value in record["fields"].items()]
        public["groups"] = sorted(record["groups"])
        return public

    def state(self) -> dict:
        with self.lock:
            return {
                "contacts": self.contacts(),
                "fields": {str(fid): name for fid, name in self.fields.items()},
                "events": list(self.events),
            }

    def seed_fields(self, fields: Any) -> None:
        with self.lock:
            for field_id, name in dict(fields).items():
                self.fields[int(field_id)] = str(name)
