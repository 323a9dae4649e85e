"""Canonical fields and the Arrow schemas every stage reads and writes.

This module is the contract between stages: a reader produces ``raw`` tables,
validation produces ``VALIDATED_SCHEMA`` and ``REJECTED_SCHEMA``, identity
produces ``IDENTITY_SCHEMA``, card merging ``CARD_SCHEMA``, segments
``MEMBERSHIP_SCHEMA`` and every vendor sync ``DELIVERY_LOG_SCHEMA``.
Dates are ISO-8601 strings (``YYYY-MM-DD`` for dates, ``YYYY-MM-DDTHH:MM:SSZ``
in UTC for timestamps) so that they sort as text and survive any export.
"""

from __future__ import annotations

import pyarrow as pa

FIELD_PREFIX = "field:"

# Identifier fields: a row needs at least one usable value among these.
IDENTIFIER_FIELDS = ("external_id", "email", "phone", "push_token", "webpush_token")

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "language",
    "country",
    "region",
    "city",
    "postcode",
    "address",
    "timezone",
)

PUSH_DEVICE_FIELDS = (
    "push_app_id",
    "push_device_model",
    "push_os",
    "push_locale",
    "push_app_version",
)

CONSENT_FIELDS = (
    "email_status",
    "sms_status",
    "consent_terms",
    "consent_marketing",
    "consent_date",
    "consent_ip",
)

# Every canonical field name a source column may be mapped to (besides field:<name>).
CANONICAL_FIELDS = (
    "external_id",
    "email",
    "phone",
    *PROFILE_FIELDS,
    "push_token",
    *PUSH_DEVICE_FIELDS,
    "webpush_token",
    "groups",
    *CONSENT_FIELDS,
    "updated_at",
)

BOOLEAN_FIELDS = ("consent_terms", "consent_marketing")
SUBSCRIPTION_STATUSES = ("subscribed", "unsubscribed", "blacklisted")
GENDERS = ("male", "female")  # canonical gender codes; vendors map them to their own

# Columns a reader adds to every raw table.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
ROW_DEFECT = "row_defect"  # null when the row parsed cleanly, else e.g. "too_many_columns"
RAW_META_COLUMNS = (SOURCE_FILE, SOURCE_ROW, ROW_DEFECT)

_S = pa.string()
_FIELDS_MAP = pa.map_(pa.string(), pa.string())


def _string_fields(names) -> list[pa.Field]:
    return [pa.field(name, _S) for name in names]


# One validated source row: canonical values, normalised.
VALIDATED_SCHEMA = pa.schema(
    [
        pa.field(SOURCE_FILE, _S, nullable=False),
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field(
            "source_name", _S, nullable=False
        ),  # config source name, "default" if none matched
        pa.field("source_priority", pa.int32(), nullable=False),
        *_string_fields(("external_id", "email", "phone")),
        pa.field("phone_type", _S),  # mobile, fixed_line, fixed_line_or_mobile, voip, ...
        *_string_fields(PROFILE_FIELDS),
        pa.field("push_token", _S),
        *_string_fields(PUSH_DEVICE_FIELDS),
        pa.field("webpush_token", _S),
        pa.field("groups", pa.list_(_S)),
        pa.field("email_status", _S),
        pa.field("sms_status", _S),
        pa.field("consent_terms", pa.bool_()),
        pa.field("consent_marketing", pa.bool_()),
        pa.field("consent_date", _S),
        pa.field("consent_ip", _S),
        pa.field("updated_at", _S),
        pa.field("fields", _FIELDS_MAP),  # additional fields: name -> value
        pa.field("warnings", pa.list_(_S)),  # warning codes for values dropped or cut
    ]
)

# One rejected source row: why, and everything it held.
REJECTED_SCHEMA = pa.schema(
    [
        pa.field(SOURCE_FILE, _S, nullable=False),
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field("reason", _S, nullable=False),  # reason code, e.g. no_identifier
        pa.field("message", _S, nullable=False),  # what was wrong and how to fix it
        pa.field("original", _S, nullable=False),  # JSON object: source header -> original value
    ]
)

# One row per validated source row: who it belongs to.
IDENTITY_SCHEMA = pa.schema(
    [
        pa.field(SOURCE_FILE, _S, nullable=False),
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field("contact_key", _S, nullable=False),
        pa.field("shard", pa.int32(), nullable=False),
    ]
)

PUSH_TOKEN_TYPE = pa.struct(
    [
        pa.field("token", _S),
        pa.field("app_id", _S),
        pa.field("device_model", _S),
        pa.field("os", _S),
        pa.field("locale", _S),
        pa.field("app_version", _S),
    ]
)

# One row per person.
CARD_SCHEMA = pa.schema(
    [
        pa.field("contact_key", _S, nullable=False),
        pa.field("shard", pa.int32(), nullable=False),
        pa.field("external_id", _S),
        pa.field("email", _S),  # primary email
        pa.field("emails", pa.list_(_S)),  # every email, primary first
        pa.field("phone", _S),  # primary phone, E.164
        pa.field("phone_type", _S),
        pa.field("phones", pa.list_(_S)),  # every phone, primary first
        pa.field("push_tokens", pa.list_(PUSH_TOKEN_TYPE)),
        pa.field("webpush_tokens", pa.list_(_S)),
        *_string_fields(PROFILE_FIELDS),
        pa.field("email_status", _S),
        pa.field("sms_status", _S),
        pa.field("consent_terms", pa.bool_()),
        pa.field("consent_marketing", pa.bool_()),
        pa.field("consent_date", _S),
        pa.field("consent_ip", _S),
        pa.field("updated_at", _S),
        pa.field("groups", pa.list_(_S)),
        pa.field("fields", _FIELDS_MAP),
        pa.field("sources", pa.list_(_S)),  # lineage: "<source_file>:<source_row>"
        pa.field("content_hash", _S, nullable=False),
    ]
)

MEMBERSHIP_SCHEMA = pa.schema(
    [
        pa.field("contact_key", _S, nullable=False),
        pa.field("segment", _S, nullable=False),
        pa.field("origin", _S, nullable=False),  # "source" (groups column) or "rule"
    ]
)

OUTCOMES = ("created", "updated", "unchanged", "rejected")

DELIVERY_LOG_SCHEMA = pa.schema(
    [
        pa.field("run_id", _S, nullable=False),
        pa.field("vendor", _S, nullable=False),
        pa.field("shard", pa.int32(), nullable=False),
        pa.field("contact_key", _S, nullable=False),
        pa.field("outcome", _S, nullable=False),  # one of OUTCOMES
        pa.field("vendor_id", _S),
        pa.field("error", _S),
        pa.field("payload_hash", _S),
        pa.field("batch_id", _S),
        pa.field("delivered_at", _S),
    ]
)


def additional_field_name(canonical: str) -> str | None:
    """Return ``plan`` for ``field:plan``, else None."""
    if canonical.startswith(FIELD_PREFIX) and len(canonical) > len(FIELD_PREFIX):
        return canonical[len(FIELD_PREFIX) :]
    return None


def is_canonical(name: str) -> bool:
    return name in CANONICAL_FIELDS or additional_field_name(name) is not None
