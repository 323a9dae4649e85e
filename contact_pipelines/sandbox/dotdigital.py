"""Dotdigital, as vendors.md describes it: v3 contact imports (PUT, 202, report polled
until Finished) and v2 data fields; plus, outside vendors.md, the v2 bulk list removal
``POST /v2/address-books/{addressBookId}/contacts/delete`` ("delete multiple contacts
from an address book": a JSON array of contact ids; membership only, the contacts stay;
204). An address book is known once an import has put a contact in it (imports accept
any list id); removing from an unknown one is 404 ``addressBookNotFound``.

Errors answer ``{"errorCode", "description", "details"?}``. A request that breaks the
shape (unknown key, null outside ``dataFields``, wrong type, no contacts, ``lists``
outside 1..100, ``consentRecords`` outside 1..5, unknown data field, body over
50 MB) is rejected as a whole with no effect. A record whose *values* are wrong
(bad email or mobile number, missing identifier, duplicate in the import, data
field value of the wrong type) is accepted with 202 and shows up only in the
import report's ``failures``, as at the real vendor.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
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
    basic_credentials,
    is_iso_datetime,
    is_valid_email,
    is_valid_phone,
    list_of,
    map_of,
    obj,
    one_of,
    same_secret,
    scalar,
)
from .routing import Reply, Request, Vendor, route

MAX_BODY_BYTES = 50_000_000  # "50 MB", read as the stricter decimal megabytes
MAX_ACTIVE_IMPORTS = 25
DATA_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")
DATA_FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
# Contact ids per list-removal call: our clients' cap (the brief), not a documented limit.
MAX_REMOVAL_IDS = 1000
REMOVAL_IDS = list_of(INTEGER, 1, MAX_REMOVAL_IDS)

CHANNEL_PROPERTIES = obj(
    {
        "email": obj(
            {
                "emailType": one_of("plainText", "html"),
                "optInType": one_of("unknown", "single", "double", "verifiedDouble"),
                "status": one_of("subscribed", "unsubscribed", "suppressed"),
            }
        ),
        "sms": obj(
            {"status": one_of("noSubscription", "subscribed", "unsubscribed", "suppressed")}
        ),
    }
)
CONTACT = obj(
    {
        "matchIdentifier": one_of("email", "mobileNumber", "contactId"),
        "identifiers": obj({"email": STRING, "mobileNumber": STRING, "contactId": INTEGER}),
        # null is allowed here only: it means "clear this field".
        "dataFields": map_of(scalar, allow_null=True),
        "channelProperties": CHANNEL_PROPERTIES,
        "lists": list_of(INTEGER, 1, 100),
        "preferences": list_of(
            obj({"id": INTEGER, "isOptedIn": BOOLEAN}, required=("id", "isOptedIn"))
        ),
        "consentRecords": list_of(
            obj(
                {
                    "text": STRING,
                    "dateTimeConsented": STRING,
                    "url": STRING,
                    "ipAddress": STRING,
                    "userAgent": STRING,
                }
            ),
            1,
            5,
        ),
    },
    required=("matchIdentifier", "identifiers"),
)
IMPORT_BODY = obj(
    {
        "mergeOption": one_of("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty"),
        "contacts": list_of(CONTACT, 1),
    },
    required=("contacts",),
)
DATA_FIELD = obj(
    {
        "name": STRING,
        "type": one_of(*DATA_FIELD_TYPES),
        "visibility": one_of("Private", "Public"),
        "defaultValue": scalar,
    },
    required=("name", "type"),
)


@dataclass
class Import:
    job: AsyncJob
    created: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    duplicates: int = 0


def _value_fits(value: Any, field_type: str) -> bool:
    if field_type == "Numeric":
        return type(value) in (int, float)
    if field_type == "Boolean":
        return type(value) is bool
    if field_type == "Date":
        if type(value) is not str:
            return False
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return False
        return len(value) == 10 or is_iso_datetime(value)
    return type(value) is str


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _removal_ids(request: Request) -> list[int]:
    """The list-removal body: a JSON array of 1..MAX_REMOVAL_IDS integer contact ids."""
    contact_ids = request.json()
    try:
        REMOVAL_IDS(contact_ids, "body")
    except ContractError as error:
        message = f"{error}; send a JSON array of 1 to {MAX_REMOVAL_IDS} integer contact ids"
        raise ContractError(None, message, "badJson") from None
    return contact_ids


class Dotdigital(Vendor):
    name = "dotdigital"
    prefix = "/dotdigital"
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, user: str, password: str, timing: Timing) -> None:
        super().__init__()
        self._credentials = (user, password)
        self.timing = timing
        self.routes = [
            route("PUT", r"/contacts/v3/import", self.start_import, True, starts_import=True),
            route("GET", r"/contacts/v3/import/(?P<import_id>[^/]+)", self.import_report),
            route("GET", r"/v2/data-fields", self.list_data_fields),
            route("POST", r"/v2/data-fields", self.create_data_field, json_body=True),
            route(
                "POST",
                r"/v2/address-books/(?P<address_book_id>[^/]+)/contacts/delete",
                self.remove_from_address_book,
                json_body=True,
            ),
        ]
        self.data_fields: dict[str, dict] = {}  # upper-cased name -> field
        if timing.dotdigital_calls_per_minute:
            self.rate_limit = RateLimit(timing.dotdigital_calls_per_minute, 60.0)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[int, dict] = {}
            self.by_identifier: dict[str, dict[str, int]] = {"email": {}, "mobileNumber": {}}
            self.imports: dict[str, Import] = {}
            self.address_books: set[int] = set()  # every list an import has put a contact in
            self._ids = IdCounter(5_000_001)

    # ---- protocol --------------------------------------------------------------

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        default_codes = {
            400: "contacts:validationError",
            401: "unauthorized",
            404: "notFound",
            405: "methodNotAllowed",
            413: "contacts:requestTooLarge",
            415: "unsupportedMediaType",
            429: "rateLimited",
        }
        # The shared JSON parser says "badJson"; Dotdigital namespaces its codes.
        error_code = "contacts:badJson" if code == "badJson" else code
        error_code = error_code or default_codes.get(status, "serverError")
        return Reply(status, {"errorCode": error_code, "description": message})

    def authenticate(self, request: Request) -> Reply | None:
        given = basic_credentials(request.headers.get("Authorization")) or ("", "")
        user, password = self._credentials
        if not (same_secret(given[0], user) and same_secret(given[1], password)):
            return self.error(
                401, "Unauthorized: use HTTP Basic auth with the API user's email and password"
            )
        return None

    # ---- imports ---------------------------------------------------------------

    def too_many_imports(self) -> Reply:
        return self.error(
            429,
            f"at most {MAX_ACTIVE_IMPORTS} imports may be active per account; wait for one to finish",
            "contacts:tooManyActiveImports",
        )

    def start_import(self, request: Request) -> Reply:
        body = request.json()
        IMPORT_BODY(body, "body")
        with self.lock:
            self._check_data_field_names(body["contacts"])
            active = sum(1 for item in self.imports.values() if not item.job.is_done())
            if active >= MAX_ACTIVE_IMPORTS:
                return self.too_many_imports()
            outcome = Import(AsyncJob(self.timing))
            self._apply(body, outcome)
            import_id = str(uuid.uuid4())
            self.imports[import_id] = outcome
        return Reply(202, {"importId": import_id})

    def import_report(self, request: Request) -> Reply:
        import_id = request.params["import_id"]
        with self.lock:
            outcome = self.imports.get(import_id)
            if outcome is None:
                return self.error(404, f"no import {import_id}", "contacts:importNotFound")
            if outcome.job.poll() < 2:
                return Reply(200, {"importId": import_id, "status": "NotFinished"})
            summary = {
                "newContacts": len(outcome.created),
                "updatedContacts": len(outcome.updated),
                "globallySuppressed": 0,
                "invalidEntries": len(outcome.failures) - outcome.duplicates,
                "duplicateIdentifiers": outcome.duplicates,
            }
            report = {
                "importId": import_id,
                "status": "Finished",
                "summary": summary,
                "created": list(outcome.created),
                "updated": list(outcome.updated),
                "failures": list(outcome.failures),
            }
        return Reply(200, report)

    def _check_data_field_names(self, contacts: list[dict]) -> None:
        known = self.data_fields
        for index, contact in enumerate(contacts):
            for name in contact.get("dataFields", ()):
                if name.upper() not in known:
                    raise ContractError(
                        ("body", ("contacts", index)),
                        f"data field {name!r} does not exist; create it with POST /v2/data-fields",
                        "contacts:validationError",
                    )

    def _apply(self, body: dict, outcome: Import) -> None:
        merge_option = body.get("mergeOption", "overwrite")
        seen: set[tuple[str, Any]] = set()
        for contact in body["contacts"]:
            problem = self._record_problem(contact)
            match_key = contact["matchIdentifier"]
            match_value = contact["identifiers"].get(match_key)
            if problem is None and (match_key, self._key(match_key, match_value)) in seen:
                problem = ("duplicateIdentifier", f"{match_key} appears twice in this import")
                outcome.duplicates += 1
            if problem is not None:
                outcome.failures.append(
                    {
                        "matchIdentifier": match_key,
                        "identifiers": dict(contact["identifiers"]),
                        "failures": [{"failureCode": problem[0], "description": problem[1]}],
                    }
                )
                continue
            seen.add((match_key, self._key(match_key, match_value)))
            contact_id = self._find(match_key, match_value)
            created = contact_id is None
            if created:
                contact_id = self._ids.take()
                self.records[contact_id] = {
                    "contactId": contact_id,
                    "identifiers": {},
                    "dataFields": {},
                    "channelProperties": {},
                    "lists": [],
                    "preferences": [],
                    "consentRecords": [],
                }
            record = self.records[contact_id]
            self._merge(record, contact, merge_option)
            entry = {"contactId": contact_id, "identifiers": dict(record["identifiers"])}
            (outcome.created if created else outcome.updated).append(entry)

    @staticmethod
    def _key(kind: str, value: Any) -> Any:
        if kind == "email":
            return value.lower()
        if kind == "mobileNumber":
            return value.removeprefix("+")
        return value

    def _record_problem(self, contact: dict) -> tuple[str, str] | None:
        identifiers = contact["identifiers"]
        match_key = contact["matchIdentifier"]
        if match_key not in identifiers:
            return "invalidIdentifier", f"identifiers has no {match_key} to match on"
        if "contactId" in identifiers and match_key != "contactId":
            return "invalidIdentifier", "contactId can only be matched on, not set"
        if match_key == "contactId" and identifiers["contactId"] not in self.records:
            return "contactNotFound", f"no contact with contactId {identifiers['contactId']}"
        email = identifiers.get("email")
        if email is not None and not is_valid_email(email):
            return "invalidEmail", f"{email!r} is not a valid email address"
        mobile = identifiers.get("mobileNumber")
        if mobile is not None and not is_valid_phone("+" + mobile.removeprefix("+")):
            return "invalidMobileNumber", f"{mobile!r} is not an E.164 mobile number"
        for name, value in contact.get("dataFields", {}).items():
            field_type = self.data_fields[name.upper()]["type"]
            if value is not None and not _value_fits(value, field_type):
                return "invalidDataFieldValue", f"data field {name} expects a {field_type} value"
        return None

    def _find(self, match_key: str, value: Any) -> int | None:
        if match_key == "contactId":
            return value
        return self.by_identifier[match_key].get(self._key(match_key, value))

    def _merge(self, record: dict, contact: dict, merge_option: str) -> None:
        for kind in ("email", "mobileNumber"):
            if kind in contact["identifiers"]:
                old = record["identifiers"].get(kind)
                if old is not None:
                    self.by_identifier[kind].pop(self._key(kind, old), None)
                record["identifiers"][kind] = contact["identifiers"][kind]
                self.by_identifier[kind][self._key(kind, contact["identifiers"][kind])] = record[
                    "contactId"
                ]
        stored = record["dataFields"]
        for name, value in contact.get("dataFields", {}).items():
            canonical = self.data_fields[name.upper()]["name"]
            if merge_option == "overwriteIfNotEmpty" and _empty(value):
                continue
            if merge_option == "overwriteIfEmpty" and not _empty(stored.get(canonical)):
                continue
            if value is None:
                stored.pop(canonical, None)  # the documented clear
            else:
                stored[canonical] = value
        for channel, properties in contact.get("channelProperties", {}).items():
            record["channelProperties"].setdefault(channel, {}).update(properties)
        record["lists"] = sorted(set(record["lists"]).union(contact.get("lists", ())))
        self.address_books.update(contact.get("lists", ()))
        preferences = {p["id"]: p for p in record["preferences"]}
        preferences.update({p["id"]: dict(p) for p in contact.get("preferences", ())})
        record["preferences"] = list(preferences.values())
        record["consentRecords"].extend(dict(c) for c in contact.get("consentRecords", ()))

    # ---- address books (v2) -----------------------------------------------------

    def remove_from_address_book(self, request: Request) -> Reply:
        """Take these contact ids out of one address book; ids not in it are ignored."""
        contact_ids = _removal_ids(request)
        book = request.params["address_book_id"]
        with self.lock:
            if not book.isdigit() or int(book) not in self.address_books:
                return self.error(404, f"no address book {book}", "addressBookNotFound")
            for contact_id in set(contact_ids) & self.records.keys():
                record = self.records[contact_id]
                record["lists"] = [item for item in record["lists"] if item != int(book)]
        return Reply(204, None, n_contacts=len(contact_ids))

    # ---- data fields -------------------------------------------------------------

    def list_data_fields(self, request: Request) -> Reply:
        with self.lock:
            return Reply(200, [dict(item) for item in self.data_fields.values()])

    def create_data_field(self, request: Request) -> Reply:
        body = request.json()
        DATA_FIELD(body, "body")
        if DATA_FIELD_NAME.fullmatch(body["name"]) is None:
            raise ContractError(
                "body.name", "must be 1 to 20 characters of A-Z a-z 0-9 _ -", "invalidDataFieldName"
            )
        with self.lock:
            if body["name"].upper() in self.data_fields:
                return self.error(
                    400, f"data field {body['name']!r} already exists", "dataFieldAlreadyExists"
                )
            created = self._add_field(body["name"], body["type"], body)
        return Reply(200, dict(created))

    def _add_field(self, name: str, field_type: str, extra: dict | None = None) -> dict:
        extra = extra or {}
        item = {
            "name": name.upper(),
            "type": field_type,
            "visibility": extra.get("visibility", "Private"),
            "defaultValue": extra.get("defaultValue"),
        }
        self.data_fields[name.upper()] = item
        return item

    # ---- sandbox state ---------------------------------------------------------

    def contacts(self) -> list[dict]:
        with self.lock:
            return [
                {
                    **record,
                    "identifiers": dict(record["identifiers"]),
                    "dataFields": dict(record["dataFields"]),
                    "channelProperties": {
                        k: dict(v) for k, v in record["channelProperties"].items()
                    },
                    "lists": list(record["lists"]),
                    "preferences": [dict(p) for p in record["preferences"]],
                    "consentRecords": [dict(c) for c in record["consentRecords"]],
                }
                for record in self.records.values()
            ]

    def state(self) -> dict:
        with self.lock:
            active = sum(1 for item in self.imports.values() if not item.job.is_done())
            return {
                "contacts": self.contacts(),
                "data_fields": [dict(item) for item in self.data_fields.values()],
                "imports": len(self.imports),
                "active_imports": active,
                "address_books": sorted(self.address_books),
            }

    def seed_fields(self, fields: Any) -> None:
        """A list of names (String fields) or a mapping of name to type."""
        items = (
            fields.items() if isinstance(fields, dict) else ((name, "String") for name in fields)
        )
        with self.lock:
            for name, field_type in items:
                if field_type not in DATA_FIELD_TYPES:
                    raise ValueError(
                        f"data field type {field_type!r} is not one of {DATA_FIELD_TYPES}"
                    )
                self._add_field(name, field_type)
