"""build_cards: survivorship per field, every channel kept, content_hash semantics."""

from __future__ import annotations

import pyarrow as pa
import pytest

from contact_pipelines.core.cards import build_cards
from contact_pipelines.core.fields import CARD_SCHEMA

OLD, NEW = "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"


def only_card(rows: pa.Table) -> dict:
    cards = build_cards(rows)
    assert cards.num_rows == 1
    return cards.to_pylist()[0]


def test_most_recent_value_wins(make_rows):
    card = only_card(
        make_rows(
            {"first_name": "Old", "updated_at": OLD, "source_priority": 99},
            {"first_name": "New", "updated_at": NEW},
            {"first_name": "Undated", "updated_at": None, "source_priority": 99},
        )
    )
    assert card["first_name"] == "New"
    assert card["updated_at"] == NEW


def test_a_value_beats_an_empty_one(make_rows):
    card = only_card(
        make_rows(
            {"city": "Kyiv", "last_name": "Shevchenko", "updated_at": OLD},
            {"city": None, "last_name": "", "updated_at": NEW},
        )
    )
    assert card["city"] == "Kyiv"
    assert card["last_name"] == "Shevchenko"


def test_priority_breaks_ties_then_later_file_and_row(make_rows):
    by_priority = only_card(
        make_rows(
            {"country": "PL", "source_priority": 1, "source_file": "z.csv"},
            {"country": "UA", "source_priority": 10, "source_file": "a.csv"},
        )
    )
    assert by_priority["country"] == "UA"
    by_file = only_card(
        make_rows(
            {"country": "PL", "source_file": "a.csv"}, {"country": "UA", "source_file": "b.csv"}
        )
    )
    assert by_file["country"] == "UA"
    by_row = only_card(make_rows({"country": "PL"}, {"country": "UA"}))
    assert by_row["country"] == "UA"


def test_fields_map_merged_per_key(make_rows):
    card = only_card(
        make_rows(
            {"fields": {"plan": "silver", "store": "Lviv"}, "updated_at": OLD},
            {"fields": {"plan": "gold", "store": None}, "updated_at": NEW},
            {"fields": {"tier": "2"}, "updated_at": None},
        )
    )
    assert dict(card["fields"]) == {"plan": "gold", "store": "Lviv", "tier": "2"}
    assert [key for key, _ in card["fields"]] == ["plan", "store", "tier"]


def test_every_channel_kept_primary_first(make_rows):
    card = only_card(
        make_rows(
            {
                "email": "z@x.com",
                "phone": "+380501111111",
                "phone_type": "mobile",
                "updated_at": OLD,
            },
            {
                "email": "b@x.com",
                "phone": "+380442222222",
                "phone_type": "fixed_line",
                "updated_at": NEW,
            },
            {"email": "a@x.com", "phone": None, "phone_type": None, "updated_at": NEW},
            {"email": "z@x.com", "webpush_token": "w2"},
            {"webpush_token": "w1"},
        )
    )
    assert card["email"] == "a@x.com"  # same updated_at as b: later row wins
    assert card["emails"] == ["a@x.com", "b@x.com", "z@x.com"]
    assert card["phone"] == "+380442222222"
    assert card["phone_type"] == "fixed_line"  # the type of the surviving phone
    assert card["phones"] == ["+380442222222", "+380501111111"]
    assert card["webpush_tokens"] == ["w1", "w2"]


def test_push_tokens_distinct_with_their_device(make_rows):
    card = only_card(
        make_rows(
            {"push_token": "T1", "push_os": "ios", "push_app_version": "1.0", "updated_at": OLD},
            {"push_token": "T1", "push_os": "ios", "push_app_version": "2.0", "updated_at": NEW},
            {"push_token": "T0", "push_os": "android", "push_device_model": "Pixel"},
        )
    )
    assert [(t["token"], t["os"], t["app_version"]) for t in card["push_tokens"]] == [
        ("T0", "android", None),
        ("T1", "ios", "2.0"),
    ]
    assert card["push_tokens"][0]["device_model"] == "Pixel"


def test_groups_union_sorted_distinct_and_lineage(make_rows):
    card = only_card(
        make_rows(
            {"groups": ["VIP", "Customers"], "source_file": "a.csv", "source_row": 7},
            {"groups": ["Customers", "Newsletter"], "source_file": "b.csv", "source_row": 3},
            {"groups": None, "source_file": "b.csv", "source_row": 4},
        )
    )
    assert card["groups"] == ["Customers", "Newsletter", "VIP"]
    assert sorted(card["sources"]) == ["a.csv:7", "b.csv:3", "b.csv:4"]


def test_one_card_per_contact_key_with_its_shard(make_rows):
    cards = build_cards(
        make_rows(
            {"contact_key": "b", "shard": 1, "email": "b@x.com"},
            {"contact_key": "a", "shard": 3, "email": "a@x.com"},
            {"contact_key": "b", "shard": 1, "phone": "+380501111111"},
        )
    )
    assert cards.schema == CARD_SCHEMA
    assert cards["contact_key"].to_pylist() == ["a", "b"]
    assert cards["shard"].to_pylist() == [3, 1]
    assert cards["phones"].to_pylist() == [[], ["+380501111111"]]


ROWS = [
    {"email": "a@x.com", "first_name": "Ann", "groups": ["VIP"], "updated_at": OLD},
    {"phone": "+380501111111", "fields": {"plan": "gold"}, "push_token": "T1", "updated_at": NEW},
    {"email": "b@x.com", "consent_marketing": True},
]


def test_content_hash_stable_under_reorder_and_new_row_numbers(make_rows):
    original = only_card(make_rows(*ROWS))
    reordered = only_card(make_rows(*reversed(ROWS)))
    renumbered = only_card(
        make_rows(*[{**row, "source_row": 100 + i} for i, row in enumerate(ROWS)])
    )
    assert original["content_hash"] == reordered["content_hash"] == renumbered["content_hash"]
    assert len(original["content_hash"]) == 16


@pytest.mark.parametrize(
    ("row", "change"),
    [
        (0, {"first_name": "Anna"}),
        (0, {"groups": ["VIP", "Gold"]}),
        (1, {"fields": {"plan": "silver"}}),
        (2, {"consent_marketing": False}),
        (1, {"push_token": "T2"}),
        (2, {"email": "c@x.com"}),
    ],
)
def test_content_hash_changes_with_a_real_change(make_rows, row, change):
    changed = [dict(original) for original in ROWS]
    changed[row].update(change)
    before = only_card(make_rows(*ROWS))["content_hash"]
    assert only_card(make_rows(*changed))["content_hash"] != before


def test_empty_input_and_missing_columns(make_rows):
    assert build_cards(make_rows()).schema == CARD_SCHEMA
    with pytest.raises(ValueError, match="contact_key"):
        build_cards(make_rows({"email": "a@x.com"}).drop_columns(["contact_key"]))
