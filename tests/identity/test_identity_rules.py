"""resolve_identities on hand-built tables: one rule per test."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from contact_pipelines.core.config import IdentityConfig
from contact_pipelines.core.fields import IDENTITY_SCHEMA
from contact_pipelines.core.identity import resolve_identities


def keys_of(table: pa.Table, shards: int = 8, **config) -> list[str]:
    result = resolve_identities(table, shards, IdentityConfig(**config))
    return result.table["contact_key"].to_pylist()


def test_chain_via_email_then_phone_is_one_person(make_id_rows):
    table = make_id_rows(
        {"email": "a@x.com"},
        {"email": "a@x.com", "phone": "+380501111111"},
        {"phone": "+380501111111", "push_token": "tok-1"},
        {"webpush_token": "tok-1"},  # push and web push tokens share one namespace
        {"email": "stranger@x.com"},
    )
    keys = keys_of(table)
    assert len(set(keys[:4])) == 1
    assert keys[4] != keys[0]


def test_key_is_smallest_hash_of_strongest_identifier(make_id_rows, reference_key):
    table = make_id_rows(
        {"external_id": "C-7", "email": "b@x.com"},
        {"email": "b@x.com", "phone": "+380502222222"},
        {"email": "z@x.com", "phone": "+380503333333"},
        {"email": "a@x.com", "phone": "+380503333333"},
        {"phone": "+380504444444"},
    )
    result = resolve_identities(table, 8, IdentityConfig())
    # a cluster's key: its strongest kind (email), the value whose own hash is smallest
    cluster_key = min(reference_key("e:a@x.com"), reference_key("e:z@x.com"))
    expected = [
        reference_key("x:C-7"),
        reference_key("x:C-7"),
        cluster_key,
        cluster_key,
        reference_key("p:+380504444444"),
    ]
    assert result.table["contact_key"].to_pylist() == expected
    assert result.table["shard"].to_pylist() == [int(key, 16) % 8 for key in expected]
    assert result.table.schema == IDENTITY_SCHEMA


def test_generic_identifier_does_not_link_and_is_reported_masked(make_id_rows):
    strangers = [{"email": "test@test.com", "phone": f"+38050000000{i}"} for i in range(4)]
    result = resolve_identities(
        make_id_rows(*strangers), 8, IdentityConfig(max_people_per_identifier=3)
    )
    assert len(set(result.table["contact_key"].to_pylist())) == 4
    assert len(result.generic_identifiers) == 1
    assert "4 people" in result.generic_identifiers[0]
    assert "test@test.com" not in result.generic_identifiers[0]
    assert result.generic_identifiers[0].startswith("email t***@")


def test_identifier_at_the_cap_still_links(make_id_rows):
    people = [{"email": "family@x.com", "phone": f"+38050000000{i}"} for i in range(3)]
    result = resolve_identities(
        make_id_rows(*people), 8, IdentityConfig(max_people_per_identifier=3)
    )
    assert len(set(result.table["contact_key"].to_pylist())) == 1
    assert result.generic_identifiers == []


def test_one_person_exported_many_times_is_not_generic(make_id_rows):
    same_person = [{"email": "loyal@x.com", "phone": "+380501234567"}] * 30
    result = resolve_identities(make_id_rows(*same_person), 8, IdentityConfig())
    assert len(set(result.table["contact_key"].to_pylist())) == 1
    assert result.generic_identifiers == []


def test_rows_linked_only_by_a_generic_identifier_get_distinct_keys(make_id_rows):
    rows = [{"email": "noreply@shop.com"} for _ in range(3)]
    rows += [{"email": "noreply@shop.com", "external_id": f"C{i}"} for i in range(3)]
    keys = keys_of(make_id_rows(*rows), max_people_per_identifier=2)
    assert len(set(keys)) == 6


def test_ignored_identifiers_never_link(make_id_rows):
    table = make_id_rows(
        {"phone": "+380440000000", "email": "a@x.com"},
        {"phone": "+380440000000", "email": "b@x.com"},
        {"external_id": "N/A", "email": "c@x.com"},
        {"external_id": "N/A", "email": "d@x.com"},
    )
    keys = keys_of(table, ignore_identifiers=["+380440000000", "n/a"])
    assert len(set(keys)) == 4


def test_different_external_ids_sharing_an_email_stay_apart(make_id_rows):
    table = make_id_rows(
        {"external_id": "C1", "email": "shared@x.com"},
        {"external_id": "C2", "email": "shared@x.com"},
        {"external_id": "C1", "phone": "+380501111111"},
    )
    result = resolve_identities(table, 8, IdentityConfig())
    keys = result.table["contact_key"].to_pylist()
    assert keys[0] == keys[2] != keys[1]
    assert result.conflicts == 1


def test_row_without_external_id_joins_the_only_reachable_one(make_id_rows):
    table = make_id_rows(
        {"external_id": "C1", "email": "a@x.com"},
        {"email": "a@x.com", "phone": "+380501111111"},
        {"phone": "+380501111111"},
    )
    result = resolve_identities(table, 8, IdentityConfig())
    assert len(set(result.table["contact_key"].to_pylist())) == 1
    assert result.conflicts == 0


def test_row_reaching_two_external_ids_stays_its_own_person(make_id_rows, reference_key):
    table = make_id_rows(
        {"external_id": "C1", "email": "a@x.com"},
        {"email": "a@x.com", "phone": "+380501111111"},
        {"external_id": "C2", "phone": "+380501111111"},
    )
    result = resolve_identities(table, 8, IdentityConfig())
    keys = result.table["contact_key"].to_pylist()
    assert len(set(keys)) == 3
    assert result.conflicts == 1
    assert keys[1] == reference_key("e:a@x.com")


def test_keys_stable_across_runs_and_row_order(make_id_rows):
    rng = np.random.default_rng(7)
    rows = [
        {"external_id": "C1", "email": "a@x.com", "source_row": 1},
        {"email": "a@x.com", "phone": "+380501111111", "source_row": 2},
        {"phone": "+380501111111", "source_row": 3},
        {"email": "q@x.com", "push_token": "tok", "source_row": 4},
        {"webpush_token": "tok", "source_row": 5},
        {"email": "lonely@x.com", "source_row": 6},
    ]
    first = resolve_identities(make_id_rows(*rows), 16, IdentityConfig()).table
    by_row = dict(
        zip(first["source_row"].to_pylist(), first["contact_key"].to_pylist(), strict=True)
    )
    for _ in range(5):
        shuffled = [rows[i] for i in rng.permutation(len(rows))]
        again = resolve_identities(make_id_rows(*shuffled), 16, IdentityConfig()).table
        for row, key in zip(
            again["source_row"].to_pylist(), again["contact_key"].to_pylist(), strict=True
        ):
            assert by_row[row] == key
    assert len(set(by_row.values())) == 3


def test_shards_in_range_and_output_row_per_input_row(make_id_rows):
    rows = [{"email": f"user{i}@x.com"} for i in range(500)]
    result = resolve_identities(make_id_rows(*rows), 5, IdentityConfig())
    shards = result.table["shard"].to_numpy()
    assert result.table.num_rows == 500
    assert shards.min() >= 0 and shards.max() <= 4
    assert len(set(shards)) == 5  # 500 people spread over every shard
    assert result.table["source_row"].to_pylist() == list(range(1, 501))


def test_empty_strings_are_not_identifiers(make_id_rows):
    keys = keys_of(
        make_id_rows(
            {"email": "", "phone": "+380501111111"}, {"email": "", "phone": "+380502222222"}
        )
    )
    assert keys[0] != keys[1]


def test_empty_input_gives_empty_table(make_id_rows):
    result = resolve_identities(make_id_rows(), 8, IdentityConfig())
    assert result.table.num_rows == 0 and result.table.schema == IDENTITY_SCHEMA


def test_missing_column_is_named(make_id_rows):
    with pytest.raises(ValueError, match="push_token"):
        resolve_identities(
            make_id_rows({"email": "a@x.com"}).drop_columns(["push_token"]), 8, IdentityConfig()
        )
