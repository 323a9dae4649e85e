"""Pushtech / Cendyn CRM, as vendors.md describes it: bulk contacts with a completion
webhook signed by HMAC, and custom fields.

Errors answer ``{"error": "..."}``. A request that breaks the shape (unknown key,
including a custom field that does not exist, null, wrong type, over 5000 contacts)
is a 400 with no effect. A contact whose *values* are wrong (no email and no phone,
bad email or phone, gender not MALE|FEMALE, born_date not an ISO datetime, bad
language or channel, custom value of the wrong type) is reported only in the
webhook's ``failed_contacts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .contract import (
    BOOLEAN,
    STRING,
    AsyncJob,
    ContractError,
    Timing,
    is_iso_datetime,
    is_valid_email,
    is_valid_phone,
    list_of,
    obj,
    one_of,
    same_secret,
)
from .routing import Reply, Request, Vendor, route

MAX_BULK_CONTACTS = 5000
# The documented webhook retry schedule in seconds (scaled by Timing.webhook_retry_scale).
WEBHOOK_RETRY_SCHEDULE = (300, 300, 600, 600, 1800, 3600, 7200)
CUSTOM_FIELD_TYPES = ("boolean", "date", "number", "string", "selectable_options")
CUSTOM_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
CHANNELS = frozenset(("email", "sms", "push"))
GENDERS = frozenset(("MALE", "FEMALE"))

STANDARD_KEYS: dict[str, Any] = {
    **{
        key: STRING
        for key in (
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
            "gdpr_date",
            "gdpr_remote_ip",
        )
    },
    "tags": list_of(STRING),
    "list_subscriptions": list_of(
        obj({"list_id": STRING, "subscribed": BOOLEAN}, required=("list_id", "subscribed"))
    ),
    "channel_subscriptions": list_of(
        obj({"channel": STRING, "blacklisted": BOOLEAN}, required=("channel", "blacklisted"))
    ),
    "gdpr_accept_terms": BOOLEAN,
    "gdpr_marketing_consent": BOOLEAN,
}
CUSTOM_FIELD = obj(
    {
        "name": STRING,
        "label": STRING,
        "type": one_of(*CUSTOM_FIELD_TYPES),
        "options": list_of(STRING),
    },
    required=("name", "type"),
)
_CUSTOM_VALUE_CHECKS = {
    "boolean": lambda v: type(v) is bool,
    "number": lambda v: type(v) in (int, float),
    "date": lambda v: type(v) is str and is_iso_datetime(v),
    "string": lambda v: type(v) is str,
}


def _webhook_url(value: Any, path: Any) -> None:
    STRING(value, path)
    if not value.startswith(("http://", "https://")):
        raise ContractError(path, "must be an http(s) URL")


def webhook_signature(secret: str, timestamp: str, token: str) -> str:
    """The documented Authorization header of a webhook: hex HMAC-SHA256 of timestamp+token."""
    return hmac.new(secret.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


@dataclass
class Bulk:
    job: AsyncJob
    info: dict
    webhook_body: dict
    completed: bool = False
    deliveries: list[dict] = field(default_factory=list)


class Pushtech(Vendor):
    name = "pushtech"
    prefix = "/pushtech"

    def __init__(self, account_id: str, token: str, timing: Timing) -> None:
        super().__init__()
        self.account_id = account_id
        self._token = token
        self.timing = timing
        account = r"/v2/account/(?P<account>[^/]+)"
        self.routes = [
            route("POST", account + r"/contact/bulk", self.create_bulk, json_body=True),
            route("GET", account + r"/contact/bulk/(?P<bulk_id>[^/]+)", self.bulk_status),
            route("GET", account + r"/custom_fields", self.list_custom_fields),
            route("POST", account + r"/custom_fields", self.create_custom_field, json_body=True),
        ]
        self.custom_fields: dict[str, dict] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[str, dict] = {}
            self.by_user_id: dict[str, str] = {}
            self.bulks: dict[str, Bulk] = {}
            self.webhooks: list[dict] = []
            self._rebuild_schema()

    def close(self) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=2)

    # ---- protocol --------------------------------------------------------------

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        return Reply(status, {"error": message})

    def not_found(self, path: str) -> Reply:
        return self.error(404, f"Route not found, no route {path}; check the URL and method")

    def authenticate(self, request: Request) -> Reply | None:
        account = request.params.get("account", "")
        expected = f"Token token={self._token}"
        given = request.headers.get("Authorization") or ""
        if account != self.account_id or not same_secret(given, expected):
            return self.error(401, f"authorization failure for account: {account}")
        return None

    # ---- bulk ------------------------------------------------------------------

    def _rebuild_schema(self) -> None:
        """The contact shape: standard keys plus the custom fields that exist now."""
        keys = dict(STANDARD_KEYS)
        for name in self.custom_fields:
            keys[name] = _any_scalar
        self._contact_check = obj(keys)
        self._bulk_check = obj(
            {
                "contacts": list_of(self._contact_check, 1, MAX_BULK_CONTACTS),
                "match_contact_user_id": BOOLEAN,
                "webhook_url": _webhook_url,
                "validate_emails": BOOLEAN,
                "contacts_webhook_extra_fields": list_of(one_of(*keys)),
            },
            required=("contacts",),
        )

    def create_bulk(self, request: Request) -> Reply:
        body = request.json()
        with self.lock:
            self._bulk_check(body, "body")
            bulk_id = secrets.token_hex(12)  # 24 hex digits, like a Mongo ObjectId
            info = {
                "_id": bulk_id,
                "number_of_contacts": len(body["contacts"]),
                "match_contact_user_id": body.get("match_contact_user_id", False),
                "validate_emails": body.get("validate_emails", False),
                "contacts_webhook_extra_fields": list(
                    body.get("contacts_webhook_extra_fields", ())
                ),
                "webhook_url": body.get("webhook_url"),
                "status": "queue",
            }
            valid, failed = self._apply(body)
            bulk = Bulk(AsyncJob(self.timing), info, self._webhook_body(valid, failed))
            self.bulks[bulk_id] = bulk
        timer = threading.Timer(self.timing.import_delay, self._complete, args=(bulk_id,))
        timer.daemon = True
        timer.start()
        return Reply(201, {"bulk": dict(info)})

    def bulk_status(self, request: Request) -> Reply:
        bulk_id = request.params["bulk_id"]
        with self.lock:
            bulk = self.bulks.get(bulk_id)
            if bulk is None:
                return self.error(404, f"bulk {bulk_id} not found")
            stage = bulk.job.poll()
            info = {**bulk.info, "status": ("queue", "processing", "finished")[stage]}
        if stage == 2:
            self._complete(bulk_id)
        return Reply(200, {"bulk": info})

    def _apply(self, body: dict) -> tuple[list[dict], list[dict]]:
        match_user_id = body.get("match_contact_user_id", False)
        extra_fields = body.get("contacts_webhook_extra_fields", ())
        valid: list[dict] = []
        failed: list[dict] = []
        for contact in body["contacts"]:
            problem = self._contact_problem(contact)
            if problem:
                failed.append({"contact": contact, "error": problem})
                continue
            record = self._upsert(contact, match_user_id)
            summary = {
                key: record.get(key)
                for key in ("_id", "user_id", "email", "phone_countrycode", "phone_number")
            }
            summary.update({key: record.get(key) for key in extra_fields})
            valid.append(summary)
        return valid, failed

    def _contact_problem(self, contact: dict) -> str | None:
        email = contact.get("email")
        if email is not None and not is_valid_email(email):
            return f"invalid email {email!r}"
        has_code, has_number = "phone_countrycode" in contact, "phone_number" in contact
        if has_code != has_number:
            return "phone_countrycode and phone_number go together"
        if has_code:
            code, national = contact["phone_countrycode"], contact["phone_number"]
            if not (code.isdigit() and national.isdigit() and is_valid_phone(f"+{code}{national}")):
                return f"invalid phone +{code} {national}: digits only, no trunk prefix"
        if "phone" in contact and not is_valid_phone("+" + contact["phone"].removeprefix("+")):
            return f"invalid phone {contact['phone']!r}"
        if email is None and not has_code and "phone" not in contact:
            return "a contact needs an email or a phone"
        if "gender" in contact and contact["gender"] not in GENDERS:
            return f"gender {contact['gender']!r} is not MALE or FEMALE"
        if "born_date" in contact and not is_iso_datetime(contact["born_date"]):
            return f"born_date {contact['born_date']!r} is not an ISO-8601 datetime"
        language = contact.get("language")
        if language is not None and not (len(language) == 2 and language.isalpha()):
            return f"language {language!r} is not an ISO 639-1 code"
        for item in contact.get("channel_subscriptions", ()):
            if item["channel"] not in CHANNELS:
                return f"channel {item['channel']!r} is not one of email, sms, push"
        return self._custom_value_problem(contact)

    def _custom_value_problem(self, contact: dict) -> str | None:
        for name, definition in self.custom_fields.items():
            if name not in contact:
                continue
            value, kind = contact[name], definition["type"]
            fits = (
                value in definition.get("options", ())
                if kind == "selectable_options"
                else _CUSTOM_VALUE_CHECKS[kind](value)
            )
            if not fits:
                return f"custom field {name} expects a {kind} value"
        return None

    def _upsert(self, contact: dict, match_user_id: bool) -> dict:
        existing_id = self.by_user_id.get(contact.get("user_id", "")) if match_user_id else None
        if existing_id is None:
            record = {
                "_id": secrets.token_hex(12),
                "tags": [],
                "list_subscriptions": [],
                "channel_subscriptions": [],
            }
            self.records[record["_id"]] = record
        else:
            record = self.records[existing_id]
        for key, value in contact.items():
            if key == "tags":
                record["tags"] = sorted(set(record["tags"]).union(value))
            elif key == "list_subscriptions":
                record[key] = _upsert_by(record[key], value, "list_id")
            elif key == "channel_subscriptions":
                record[key] = _upsert_by(record[key], value, "channel")
            else:
                record[key] = value
        if "user_id" in record:
            self.by_user_id[record["user_id"]] = record["_id"]
        return record

    # ---- webhook ---------------------------------------------------------------

    def _webhook_body(self, valid: list[dict], failed: list[dict]) -> dict:
        return {
            "account_id": self.account_id,
            "contacts_valid_count": len(valid),
            "contacts_failed_count": len(failed),
            "failed_contacts": failed,
            "valid_contacts": valid,
        }

    def _complete(self, bulk_id: str) -> None:
        with self.lock:
            bulk = self.bulks.get(bulk_id)
            if bulk is None or bulk.completed:
                return
            bulk.completed = True
            bulk.job.done = True
            url = bulk.info["webhook_url"]
        if url and not self._stopping.is_set():
            thread = threading.Thread(
                target=self._deliver, args=(bulk_id, url, bulk.webhook_body), daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _deliver(self, bulk_id: str, url: str, body: dict) -> None:
        """POST the webhook; 200 accepts, 406 rejects, anything else retries on the schedule."""
        delays = (0, *WEBHOOK_RETRY_SCHEDULE)
        for attempt, delay in enumerate(delays, start=1):
            if self._stopping.wait(delay * self.timing.webhook_retry_scale):
                return
            status = self._post_webhook(url, body)
            with self.lock:
                self.webhooks.append(
                    {"bulk_id": bulk_id, "url": url, "attempt": attempt, "status": status}
                )
            if status in (200, 406):
                return

    def _post_webhook(self, url: str, body: dict) -> int | None:
        timestamp = str(int(time.time()))
        token = secrets.token_hex(16)
        payload = json.dumps({**body, "timestamp": timestamp, "token": token}).encode()
        request = urllib.request.Request(
            url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": webhook_signature(self._token, timestamp, token),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timing.webhook_timeout) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except (OSError, ValueError):
            return None  # unreachable receiver: retried like any other failure

    # ---- custom fields -----------------------------------------------------------

    def list_custom_fields(self, request: Request) -> Reply:
        with self.lock:
            return Reply(200, {"custom_fields": [dict(f) for f in self.custom_fields.values()]})

    def create_custom_field(self, request: Request) -> Reply:
        body = request.json()
        CUSTOM_FIELD(body, "body")
        name = body["name"]
        if CUSTOM_FIELD_NAME.fullmatch(name) is None or name in STANDARD_KEYS:
            raise ContractError(
                "body.name", "must be a letter then up to 63 of A-Z a-z 0-9 _, not a standard key"
            )
        if body["type"] == "selectable_options" and not body.get("options"):
            raise ContractError("body.options", "is required for selectable_options")
        with self.lock:
            if name in self.custom_fields:
                return self.error(422, f"custom field {name!r} already exists")
            created = self._add_field(name, body["type"], body.get("label"), body.get("options"))
        return Reply(201, {"custom_field": dict(created)})

    def _add_field(self, name: str, kind: str, label: str | None, options: list | None) -> dict:
        item = {"name": name, "label": label or name, "type": kind}
        if options:
            item["options"] = list(options)
        self.custom_fields[name] = item
        self._rebuild_schema()
        return item

    # ---- sandbox state ---------------------------------------------------------

    def contacts(self) -> list[dict]:
        with self.lock:
            return [json.loads(json.dumps(record)) for record in self.records.values()]

    def state(self) -> dict:
        with self.lock:
            return {
                "contacts": self.contacts(),
                "custom_fields": [dict(f) for f in self.custom_fields.values()],
                "bulks": {bulk_id: dict(b.info) for bulk_id, b in self.bulks.items()},
                "webhooks": [dict(w) for w in self.webhooks],
            }

    def seed_fields(self, fields: Any) -> None:
        """A list of names (string fields) or a mapping of name to type."""
        items = (
            fields.items() if isinstance(fields, dict) else ((name, "string") for name in fields)
        )
        with self.lock:
            for name, kind in items:
                if kind not in CUSTOM_FIELD_TYPES or kind == "selectable_options":
                    raise ValueError(
                        f"seed custom field {name} with a type of {CUSTOM_FIELD_TYPES[:4]}"
                    )
                self._add_field(name, kind, None, None)


def _any_scalar(value: Any, path: Any) -> None:
    # The value's type is checked per contact against the field's type (a value error).
    if type(value) not in (str, int, float, bool):
        raise ContractError(path, "custom field values must be a string, number or boolean")


def _upsert_by(current: list[dict], updates: list[dict], key: str) -> list[dict]:
    merged = {item[key]: item for item in current}
    merged.update({item[key]: dict(item) for item in updates})
    return list(merged.values())
