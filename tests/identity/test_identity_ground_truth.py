"""A generated base with known people: pairwise precision and recall of the whole chain.

Duplicates are written the way exports write them (emails in any case with stray
spaces, phones in national and international forms, names with typos), then run
through the real normalisers (``normalize_emails``, ``normalize_phones``) and
``resolve_identities``, so the test proves the chain, not identity alone.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from contact_pipelines.core.cards import build_cards
from contact_pipelines.core.config import IdentityConfig
from contact_pipelines.core.fields import VALIDATED_SCHEMA
from contact_pipelines.core.identity import resolve_identities
from contact_pipelines.core.normalize.email import normalize_emails
from contact_pipelines.core.normalize.phone import normalize_phones

SHOP_PHONE = "+380442345678"  # a shop's own number, typed at the till for walk-in buyers
SHOP_PHONE_FORMS = ("044 234 56 78", "+380 44 234-56-78", "0442345678", "(044) 234 5678")
ROLE_EMAIL_FORMS = ("info@company.com", "INFO@Company.com", " info@company.com")


def email_form(email: str, rng: np.random.Generator) -> str:
    """The same address as another export writes it: case and spacing vary."""
    variant = rng.integers(4)
    if variant == 1:
        email = email.upper()
    elif variant == 2:
        local, domain = email.split("@")
        email = f"{local.capitalize()}@{domain.title()}"
    return " " * int(rng.integers(2)) + email + " " * int(rng.integers(2))


def phone_form(digits: str, rng: np.random.Generator) -> str:
    """A UA mobile (9 national digits) in one of the forms exports use."""
    operator, rest = digits[:2], digits[2:]
    forms = (
        f"+380{digits}",
        f"0{digits}",
        f"380{digits}",
        f"0{operator} {rest[:3]} {rest[3:5]} {rest[5:]}",
        f"+380 ({operator}) {rest[:3]}-{rest[3:5]}-{rest[5:]}",
    )
    return forms[rng.integers(len(forms))]


def typo(name: str, rng: np.random.Generator) -> str:
    """Swap two neighbouring letters: identity must not care about names."""
    at = int(rng.integers(len(name) - 1))
    return name[:at] + name[at + 1] + name[at] + name[at + 2 :]


def typo_forms(name: str) -> set[str]:
    return {name[:at] + name[at + 1] + name[at] + name[at + 2 :] for at in range(len(name) - 1)}


def generated_raw_base(people: int, seed: int = 3) -> tuple[dict[str, list], list[int]]:
    """Raw identifier columns as exports hold them, and the true person of each row."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for person in range(people):
        identity = {
            "external_id": f"C{person}" if rng.random() < 0.4 else None,
            "email": f"user{person}@ukr.net" if rng.random() < 0.8 else None,
            "phone": f"67{person:07d}" if rng.random() < 0.6 else None,
            "push_token": f"push-{person}" if rng.random() < 0.2 else None,
        }
        if not any(identity.values()):
            identity["webpush_token"] = f"web-{person}"
        present = [name for name, value in identity.items() if value]
        for copy in range(1 + rng.choice([0, 0, 0, 1, 2, 3])):
            # a duplicate from another export: some of the person's identifiers
            kept = present
            if copy:
                kept = rng.choice(present, size=rng.integers(1, len(present) + 1), replace=False)
            row = {name: identity[name] for name in kept}
            if "email" in row:
                row["email"] = email_form(row["email"], rng)
            if "phone" in row:
                row["phone"] = phone_form(row["phone"], rng)
            row["first_name"] = typo("Olena", rng) if copy else "Olena"
            rows.append(row)
            truth.append(person)
    # strangers whose only shared identifier is generic: never one person
    for stranger in range(40):
        rows.append(
            {
                "email": f"walkin{stranger}@ukr.net",
                "phone": SHOP_PHONE_FORMS[stranger % len(SHOP_PHONE_FORMS)],
            }
        )
        truth.append(people + stranger)
    for stranger in range(30):
        rows.append(
            {
                "email": ROLE_EMAIL_FORMS[stranger % len(ROLE_EMAIL_FORMS)],
                "phone": f"+380 63 {stranger:03d} 00 11",
            }
        )
        truth.append(people + 40 + stranger)
    names = ("external_id", "email", "phone", "push_token", "webpush_token", "first_name")
    return {name: [row.get(name) for row in rows] for name in names}, truth


def normalised_id_rows(raw: dict[str, list]) -> pa.Table:
    """What validation hands identity: identifiers through the real normalisers."""
    count = len(raw["email"])
    return pa.table(
        {
            "source_file": pa.array(["base.csv"] * count),
            "source_row": pa.array(np.arange(1, count + 1)),
            "external_id": pa.array(raw["external_id"], pa.string()),
            "email": normalize_emails(raw["email"]).values,
            "phone": normalize_phones(raw["phone"], "UA").values,
            "push_token": pa.array(raw["push_token"], pa.string()),
            "webpush_token": pa.array(raw["webpush_token"], pa.string()),
        }
    )


def pair_count(sizes) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def precision_and_recall(predicted: list, truth: list) -> tuple[float, float]:
    both = pair_count(Counter(zip(predicted, truth, strict=True)).values())
    return both / pair_count(Counter(predicted).values()), both / pair_count(
        Counter(truth).values()
    )


@pytest.fixture(scope="module")
def resolved():
    raw, truth = generated_raw_base(3000)
    order = np.random.default_rng(5).permutation(len(truth))
    raw = {name: [values[i] for i in order] for name, values in raw.items()}
    truth = [truth[i] for i in order]
    id_rows = normalised_id_rows(raw)
    return raw, truth, id_rows, resolve_identities(id_rows, 8, IdentityConfig())


def test_raw_forms_really_differ_before_normalisation(resolved):
    raw, truth, _, _ = resolved
    emails_of_person = {}
    for person, email in zip(truth, raw["email"], strict=True):
        if email:
            emails_of_person.setdefault(person, set()).add(email)
    assert sum(len(forms) > 1 for forms in emails_of_person.values()) > 300
    assert any(phone and phone.startswith("0") for phone in raw["phone"])
    assert any(phone and phone.startswith("+380") for phone in raw["phone"])


def test_pairwise_precision_and_recall_at_least_099(resolved):
    _, truth, _, result = resolved
    precision, recall = precision_and_recall(result.table["contact_key"].to_pylist(), truth)
    print(f"pairwise precision {precision:.4f}, recall {recall:.4f}")
    assert precision >= 0.99, precision
    assert recall >= 0.99, recall


def test_generic_identifiers_are_listed_masked_and_do_not_merge(resolved):
    _, truth, _, result = resolved
    listed = " | ".join(result.generic_identifiers)
    assert "40 people" in listed and "30 people" in listed, listed
    assert SHOP_PHONE not in listed and "info@company.com" not in listed
    keys = result.table["contact_key"].to_pylist()
    strangers = {key for key, person in zip(keys, truth, strict=True) if person >= 3000}
    assert len(strangers) == 70
    assert result.conflicts == 0


def test_one_card_per_resolved_person(resolved):
    raw, truth, id_rows, result = resolved
    columns = {
        **{name: id_rows[name] for name in id_rows.column_names},
        "source_name": pa.array(["base"] * id_rows.num_rows),
        "source_priority": pa.array(np.zeros(id_rows.num_rows, np.int32)),
        "first_name": pa.array(raw["first_name"], pa.string()),
        "contact_key": result.table["contact_key"],
        "shard": result.table["shard"],
    }
    schema = VALIDATED_SCHEMA.append(pa.field("contact_key", pa.string())).append(
        pa.field("shard", pa.int32())
    )
    rows = pa.table(
        {f.name: columns.get(f.name, pa.nulls(id_rows.num_rows, f.type)) for f in schema},
        schema=schema,
    )
    cards = build_cards(rows)
    assert cards.num_rows == result.contacts
    assert sum(len(sources) for sources in cards["sources"].to_pylist()) == len(truth)
    # the strangers carry no name
    assert set(cards["first_name"].to_pylist()) <= {"Olena", None, *typo_forms("Olena")}


def test_contact_counts_match_distinct_keys(resolved):
    _, _, _, result = resolved
    keys = result.table["contact_key"].to_pylist()
    assert result.contacts == len(set(keys))
    per_shard = Counter(
        shard for key, shard in set(zip(keys, result.table["shard"].to_pylist(), strict=True))
    )
    assert result.contacts_per_shard == dict(per_shard)
