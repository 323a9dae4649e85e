"""Segment rules: each kind of predicate over real cards, parse errors, memberships."""

from __future__ import annotations

from datetime import date

import pytest

from contact_pipelines.core.cards import build_cards
from contact_pipelines.core.config import SegmentRuleConfig
from contact_pipelines.core.fields import MEMBERSHIP_SCHEMA
from contact_pipelines.core.segments import RuleError, compute_memberships, parse_rule

TODAY = date(2024, 6, 10)


@pytest.fixture
def cards(make_rows):
    return build_cards(
        make_rows(
            {
                "contact_key": "ann",
                "email": "ann@gmail.com",
                "country": "UA",
                "birth_date": "1985-06-12",
                "updated_at": "2024-06-01T08:00:00Z",
                "groups": ["VIP"],
                "fields": {"plan_type": "gold", "score": "15"},
                "consent_marketing": True,
            },
            {
                "contact_key": "bob",
                "email": "bob@corp.com",
                "phone": "+48501111111",
                "country": "PL",
                "birth_date": "1999-01-01",
                "updated_at": "2023-01-01T00:00:00Z",
                "groups": ["Customers"],
                "fields": {"plan_type": "silver", "score": "n/a"},
            },
            {"contact_key": "cat", "phone": "+380501111111", "birth_date": "2000-02-29"},
        )
    )


def matching(cards, rule: str, today: date = TODAY) -> list[str]:
    mask = parse_rule(rule, "test").matches(cards, today)
    return [key for key, hit in zip(cards["contact_key"].to_pylist(), mask, strict=True) if hit]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("country == 'UA'", ["ann"]),
        ("country != 'UA'", ["bob"]),  # a missing value never matches
        ("not country == 'UA'", ["bob", "cat"]),
        ("birth_date < '1990-01-01'", ["ann"]),
        ('birth_date >= "1999-01-01"', ["bob", "cat"]),
        ("field:plan_type == 'gold'", ["ann"]),
        ("fields.plan_type in ('gold', 'silver')", ["ann", "bob"]),
        ("fields.score > 10", ["ann"]),
        ("field:score <= 10", []),
        ("country in ('UA', 'PL')", ["ann", "bob"]),
        ("country not in ('UA')", ["bob"]),
        ("groups contains 'VIP'", ["ann"]),
        ("groups not contains 'VIP'", ["bob", "cat"]),
        ("email contains '@gmail.'", ["ann"]),
        ("email is empty", ["cat"]),
        ("phone is not empty", ["bob", "cat"]),
        ("groups is empty", ["cat"]),
        ("updated_at >= days_ago(30)", ["ann"]),
        ("birth_date <= years_ago(25)", ["ann", "bob"]),
        ("consent_marketing == true", ["ann"]),
        ("birthday_within(3)", ["ann"]),
        ("country == 'UA' or country == 'PL' and phone is empty", ["ann"]),
        ("(country == 'UA' or country == 'PL') and phone is not empty", ["bob"]),
        ("NOT (groups contains 'VIP' OR phone is empty)", ["bob", "cat"]),
    ],
)
def test_rule_kinds(cards, rule, expected):
    assert matching(cards, rule) == expected


def test_birthday_on_29_february_counts_on_28th_in_other_years(cards):
    assert matching(cards, "birthday_within(0)", date(2023, 2, 28)) == ["cat"]
    assert matching(cards, "birthday_within(0)", date(2024, 2, 28)) == []


@pytest.mark.parametrize(
    ("rule", "position", "problem"),
    [
        ("country = 'UA'", 8, "unexpected character"),
        ("contry == 'UA'", 0, "unknown field 'contry'"),
        ("country == ", 11, "expected a value"),
        ("(country == 'UA'", 16, "expected `)`"),
        ("groups == 'VIP'", 7, "is a list"),
        ("country == 'UA' xor", 16, "expected `and`, `or`"),
        ("country in 'UA'", 11, "expected `(`"),
        ("updated_at >= days_ago(x)", 23, "whole number"),
        ("phone is full", 9, "expected `empty`"),
        ("", 0, "expected a field name"),
    ],
)
def test_parse_errors_name_segment_and_position(rule, position, problem):
    with pytest.raises(RuleError) as error:
        parse_rule(rule, "my_segment")
    message = str(error.value)
    assert "segment 'my_segment'" in message
    assert f"at position {position} " in message
    assert problem in message


def test_memberships_from_groups_and_rules(cards):
    rules = [
        SegmentRuleConfig(name="Ukraine", rule="country == 'UA'"),
        SegmentRuleConfig(name="VIP", rule="field:plan_type == 'gold'"),
    ]
    memberships = compute_memberships(cards, rules, TODAY)
    assert memberships.schema == MEMBERSHIP_SCHEMA
    assert memberships.to_pylist() == [
        {"contact_key": "ann", "segment": "Ukraine", "origin": "rule"},
        {"contact_key": "ann", "segment": "VIP", "origin": "rule"},  # rule wins over the group
        {"contact_key": "bob", "segment": "Customers", "origin": "source"},
    ]


def test_bad_rule_fails_before_reading_cards(cards):
    with pytest.raises(RuleError, match="segment 'broken'"):
        compute_memberships(cards, [SegmentRuleConfig(name="broken", rule="country ==")], TODAY)


def test_no_cards_no_memberships(cards):
    empty = cards.slice(0, 0)
    rules = [SegmentRuleConfig(name="all", rule="email is not empty")]
    assert compute_memberships(empty, rules, TODAY).num_rows == 0
