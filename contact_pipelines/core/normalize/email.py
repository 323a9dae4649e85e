"""Emails: trimmed, lower-cased, IDN domains in ASCII (punycode), syntax-checked.

The common case (a plain ASCII address) is checked by one vectorised regex
that accepts only what email-validator accepts too; anything else (IDN
domains, non-ASCII local parts, odd shapes) goes to email-validator once per
unique value. Typo domains and role accounts are warnings only: the address
is never rewritten, since a guess could send mail to a stranger.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

from contact_pipelines.core.normalize import (
    Normalized,
    clean_strings,
    first_warning,
    map_unique,
    present_mask,
    warning_where,
)

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_ASCII_EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
# Special-use TLDs that email-validator refuses, and xn-- or over-long values,
# never take the fast path: the library decides those.
_LIBRARY_ONLY = r"\.(?:arpa|invalid|local|localhost|onion|test)$|--"
_FAST_PATH_MAX_LENGTH = 64

TYPO_DOMAINS = frozenset(
    {
        "gmial.com", "gmai.com", "gmal.com", "gmaill.com", "gamil.com", "gnail.com",
        "gmail.co", "gmail.con", "gmail.cm", "gmail.om", "gmail.ru", "gmail.ua",
        "hotmial.com", "hotmal.com", "hotmai.com", "hotmil.com", "hotmail.co", "hotmail.con",
        "yahooo.com", "yaho.com", "yahoo.co", "yahoo.con", "yhoo.com",
        "outlok.com", "outloo.com", "outlook.co", "iclod.com", "icloud.co",
        "mail.r", "mail.ru.ru", "yandex.r", "yandeks.ru", "ukr.nrt", "ukr.ner", "i.ya",
    }
)  # fmt: skip

ROLE_LOCAL_PARTS = frozenset(
    {
        "info", "admin", "administrator", "sales", "support", "office", "contact",
        "help", "hello", "marketing", "noreply", "no-reply", "postmaster", "webmaster",
        "hostmaster", "abuse", "billing", "accounts", "hr", "jobs", "team", "mail",
    }
)  # fmt: skip


def normalize_emails(values: Any) -> Normalized:
    """Normalise a column of emails; invalid ones become null with ``invalid_email``."""
    lowered = pc.utf8_lower(clean_strings(values))
    present = present_mask(lowered)
    plain = pc.fill_null(_is_plain_ascii_email(lowered), False)
    # only values the regex cannot vouch for go to the library (once each)
    needs_library = pc.if_else(plain, pa.scalar(None, pa.string()), lowered)
    (checked,) = map_unique(needs_library, lambda v: (_checked_email(v),), [pa.string()])
    emails = pc.if_else(plain, lowered, checked)
    valid = pc.is_valid(emails)
    warnings = first_warning(
        warning_where(pc.and_(present, pc.invert(valid)), "invalid_email"),
        warning_where(
            pc.is_in(_domains(emails), pa.array(sorted(TYPO_DOMAINS))), "email_typo_domain"
        ),
        warning_where(
            pc.is_in(_local_parts(emails), pa.array(sorted(ROLE_LOCAL_PARTS))), "email_role_account"
        ),
    )
    return Normalized(emails, valid, present, warnings)


def _is_plain_ascii_email(emails: pa.Array) -> pa.BooleanArray:
    return pc.and_(
        pc.and_(
            pc.match_substring_regex(emails, _PLAIN_ASCII_EMAIL),
            pc.invert(pc.match_substring_regex(emails, _LIBRARY_ONLY)),
        ),
        pc.less_equal(pc.utf8_length(emails), _FAST_PATH_MAX_LENGTH),
    )


@lru_cache(maxsize=200_000)
def _checked_email(value: str) -> str | None:
    """email-validator's verdict: the address with an ASCII domain, or None."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{result.local_part}@{result.ascii_domain}".lower()


def _domains(emails: pa.Array) -> pa.Array:
    return pc.extract_regex(emails, r"@(?P<domain>.+)$").field("domain")


def _local_parts(emails: pa.Array) -> pa.Array:
    return pc.extract_regex(emails, r"^(?P<local>[^@]+)@").field("local")
