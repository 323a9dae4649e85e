"""Payload mapping per vendor: cards in, documented payloads out (no server)."""

from __future__ import annotations

import pytest

from contact_pipelines.core.vendors import dotdigital, pushtech, reteno
from contact_pipelines.core.vendors.base import mask_pii, split_phone

GB_MOBILE = "+447712345678"
GB_LANDLINE = "+442079460000"
UA_MOBILE = "+380501234567"


def by_key(payloads):
    return {p.contact_key: p for p in payloads}


def full_card(**overrides):
    card = {
        "contact_key": "k1",
        "external_id": "X-1",
        "email": "ann@example.com",
        "phone": GB_MOBILE,
        "phone_type": "mobile",
        "first_name": "A" * 45,
        "last_name": "Smith",
        "birth_date": "1990-05-17",
        "gender": "female",
        "language": "uk",
        "country": "UA",
        "region": "Kyiv oblast",
        "city": "Kyiv",
        "postcode": "01001",
        "address": "1 Main St",
        "timezone": "Europe/Kyiv",
        "push_tokens": [
            {
                "token": "tok-1",
                "app_id": "app",
                "device_model": "Pixel",
                "os": "Android",
                "locale": None,
                "app_version": "1.2",
            }
        ],
        "email_status": "blacklisted",
        "sms_status": "subscribed",
        "consent_terms": True,
        "consent_marketing": True,
        "consent_date": "2024-01-02T03:04:05Z",
        "consent_ip": "10.0.0.1",
        "fields": {"plan_type": "gold", "other": "x"},
    }
    card.update(overrides)
    return card


# --- Reteno ----------------------------------------------------------------


def test_reteno_maps_every_documented_field(make_cards, make_memberships, make_config):
    cfg = make_config(reteno={"fields": {"plan_type": 12345}}).vendors.reteno
    cards = make_cards(full_card())
    [item] = reteno.build_payloads(cards, make_memberships({"k1": ["VIP", "Customers"]}), cfg, {})
    contact = item.payload["contact"]
    assert contact["channels"] == [
        {"type": "email", "value": "ann@example.com"},
        {"type": "sms", "value": "447712345678"},
        {
            "type": "mobilepush",
            "value": "tok-1",
            "device": {
                "appId": "app",
                "deviceModel": "Pixel",
                "os": "Android",
                "appVersion": "1.2",
            },
        },
    ]
    assert contact["firstName"] == "A" * 40
    assert contact["externalCustomerId"] == "X-1"
    assert contact["languageCode"] == "uk"
    assert contact["timeZone"] == "Europe/Kyiv"
    assert contact["address"] == {
        "region": "Kyiv oblast",
        "town": "Kyiv",
        "address": "1 Main St",
        "postcode": "01001",
    }
    assert contact["fields"] == [{"id": 12345, "value": "gold"}]
    assert item.payload["groupNames"] == ["Customers", "VIP"]
    assert "groupNamesExclude" not in item.payload
    assert reteno.payload_problems(item.payload) == []


def test_reteno_landline_is_not_an_sms_channel(make_cards, make_config):
    cfg = make_config().vendors.reteno
    cards = make_cards(full_card(phone=GB_LANDLINE, phone_type="fixed_line", push_tokens=None))
    [item] = reteno.build_payloads(cards, None, cfg, {})
    assert [c["type"] for c in item.payload["contact"]["channels"]] == ["email"]


def test_reteno_left_groups_are_excluded_once_and_not_hashed(
    make_cards, make_memberships, make_config
):
    cfg = make_config().vendors.reteno
    cards = make_cards(full_card())
    members = make_memberships({"k1": ["VIP"]})
    [first] = reteno.build_payloads(cards, members, cfg, {"k1": ["VIP", "Old"]})
    [again] = reteno.build_payloads(cards, members, cfg, {"k1": ["VIP"]})
    assert first.payload["groupNamesExclude"] == ["Old"]
    assert "groupNamesExclude" not in again.payload
    assert first.payload_hash == again.payload_hash
    assert first.batch_group != again.batch_group


def test_reteno_rejects_cards_it_cannot_match(make_cards, make_config):
    cfg = make_config().vendors.reteno  # dedupe_on externalCustomerId
    cards = make_cards(
        full_card(contact_key="noext", external_id=None),
        {"contact_key": "nochannel", "external_id": "X-9"},
    )
    items = by_key(reteno.build_payloads(cards, None, cfg, {}))
    assert items["noext"].payload is None
    assert "external_id" in items["noext"].error and "noext" in items["noext"].error
    assert "channel" in items["nochannel"].error


def test_reteno_dedupe_needs_apply_only_without_external_id(make_cards, make_config):
    cfg = make_config(reteno={"dedupe_on": "email_or_sms"}).vendors.reteno
    push_only = {"email": None, "phone": None}
    cards = make_cards(
        full_card(contact_key="with_ext", **push_only),
        full_card(contact_key="no_ext", external_id=None, **push_only),
    )
    items = by_key(reteno.build_payloads(cards, None, cfg, {}))
    assert items["with_ext"].error is None
    assert "no email or mobile phone to match on" in items["no_ext"].error


def test_reteno_email_dedupe_accepts_cards_without_external_id(make_cards, make_config):
    cfg = make_config(reteno={"dedupe_on": "email"}).vendors.reteno
    [item] = reteno.build_payloads(make_cards(full_card(external_id=None)), None, cfg, {})
    assert item.error is None
    assert "externalCustomerId" not in item.payload["contact"]


def test_reteno_hash_changes_with_content(make_cards, make_config):
    cfg = make_config().vendors.reteno
    [one] = reteno.build_payloads(make_cards(full_card()), None, cfg, {})
    [two] = reteno.build_payloads(make_cards(full_card(city="Lviv")), None, cfg, {})
    [same] = reteno.build_payloads(make_cards(full_card()), None, cfg, {})
    assert one.payload_hash == same.payload_hash != two.payload_hash


# --- Dotdigital ------------------------------------------------------------


def test_dotdigital_maps_identifiers_fields_channels_lists_consent(
    make_cards, make_memberships, make_config
):
    cfg = make_config(
        dotdigital={
            "data_fields": {"first_name": "FIRSTNAME", "plan_type": "PLAN", "city": "TOWN"},
            "lists": {"Customers": 101, "VIP": 7},
        }
    ).vendors.dotdigital
    cards = make_cards(full_card())
    members = make_memberships({"k1": ["Customers", "VIP", "Unmapped"]})
    [item] = dotdigital.build_payloads(cards, members, cfg, {})
    assert item.payload == {
        "matchIdentifier": "email",
        "identifiers": {"email": "ann@example.com", "mobileNumber": GB_MOBILE},
        "dataFields": {"FIRSTNAME": "A" * 40, "PLAN": "gold", "TOWN": "Kyiv"},
        "channelProperties": {"email": {"status": "suppressed"}, "sms": {"status": "subscribed"}},
        "lists": [7, 101],
        "consentRecords": [{"dateTimeConsented": "2024-01-02T03:04:05Z", "ipAddress": "10.0.0.1"}],
    }
    assert dotdigital.payload_problems(item.payload) == []


def test_dotdigital_rejects_card_without_match_identifier(make_cards, make_config):
    cfg = make_config().vendors.dotdigital
    [item] = dotdigital.build_payloads(make_cards(full_card(email=None)), None, cfg, {})
    assert item.payload is None
    assert "no email" in item.error and "match_identifier" in item.error


def test_dotdigital_omits_absent_values(make_cards, make_config):
    cfg = make_config(
        dotdigital={"data_fields": {"last_name": "LASTNAME", "plan_type": "PLAN"}}
    ).vendors.dotdigital
    [item] = dotdigital.build_payloads(
        make_cards({"contact_key": "k", "email": "b@example.com"}), None, cfg, {}
    )
    assert item.payload == {"matchIdentifier": "email", "identifiers": {"email": "b@example.com"}}


def test_dotdigital_clears_vanished_fields_only_when_asked(make_cards, make_config):
    card = make_cards(
        {"contact_key": "k", "email": "b@example.com", "fields": {"plan_type": "gold"}}
    )
    mapping = {"plan_type": "PLAN", "city": "TOWN"}
    previous = {"k": ["PLAN", "TOWN"]}
    keep = make_config(dotdigital={"data_fields": mapping}).vendors.dotdigital
    clear = make_config(
        dotdigital={"data_fields": mapping, "clear_missing_fields": True}
    ).vendors.dotdigital
    [kept] = dotdigital.build_payloads(card, None, keep, {}, previous)
    [cleared] = dotdigital.build_payloads(card, None, clear, {}, previous)
    assert kept.payload["dataFields"] == {"PLAN": "gold"}
    assert cleared.payload["dataFields"] == {"PLAN": "gold", "TOWN": None}
    assert dotdigital.payload_problems(cleared.payload) == []
    assert cleared.data_fields == ("PLAN",)
    assert cleared.payload_hash == kept.payload_hash  # the clear is sent once


# --- Pushtech --------------------------------------------------------------


def test_pushtech_maps_every_documented_field(make_cards, make_memberships, make_config):
    cfg = make_config(pushtech={"lists": {"Customers": "5f1c0a", "Old": "0ld"}}).vendors.pushtech
    cards = make_cards(full_card(phone="+4407712345678"))
    [item] = pushtech.build_payloads(
        cards, make_memberships({"k1": ["Customers"]}), cfg, {"k1": ["Old"]}
    )
    assert item.payload == {
        "user_id": "X-1",
        "name_first": "A" * 40,
        "name_last": "Smith",
        "email": "ann@example.com",
        "phone_countrycode": "44",
        "phone_number": "7712345678",
        "city": "Kyiv",
        "country": "UA",
        "region": "Kyiv oblast",
        "zip": "01001",
        "full_address": "1 Main St",
        "born_date": "1990-05-17T00:00:00Z",
        "gender": "FEMALE",
        "language": "uk",
        "tags": ["Customers"],
        "list_subscriptions": [
            {"list_id": "5f1c0a", "subscribed": True},
            {"list_id": "0ld", "subscribed": False},
        ],
        "channel_subscriptions": [
            {"channel": "email", "blacklisted": True},
            {"channel": "sms", "blacklisted": False},
        ],
        "gdpr_accept_terms": True,
        "gdpr_marketing_consent": True,
        "gdpr_date": "2024-01-02T03:04:05Z",
        "gdpr_remote_ip": "10.0.0.1",
        "plan_type": "gold",
        "other": "x",
    }
    assert pushtech.payload_problems(item.payload) == []


def test_pushtech_user_id_falls_back_to_contact_key_and_custom_names_apply(make_cards, make_config):
    cfg = make_config(pushtech={"custom_fields": {"plan_type": "plan"}}).vendors.pushtech
    cards = make_cards(
        {
            "contact_key": "abc",
            "phone": UA_MOBILE,
            "gender": "male",
            "fields": {"plan_type": "p", "x": "1"},
        }
    )
    [item] = pushtech.build_payloads(cards, None, cfg, {})
    assert item.payload == {
        "user_id": "abc",
        "phone_countrycode": "380",
        "phone_number": "501234567",
        "gender": "MALE",
        "plan": "p",
    }


def test_pushtech_rejects_card_without_email_or_phone(make_cards, make_config):
    cfg = make_config().vendors.pushtech
    [item] = pushtech.build_payloads(
        make_cards({"contact_key": "z", "external_id": "X"}), None, cfg, {}
    )
    assert item.payload is None and "neither email nor phone" in item.error


def test_pushtech_custom_field_clashing_with_standard_key_is_an_error(make_cards, make_config):
    cfg = make_config(pushtech={"custom_fields": {"plan_type": "email"}}).vendors.pushtech
    with pytest.raises(ValueError, match="clash"):
        pushtech.build_payloads(make_cards(full_card()), None, cfg, {})


# --- contract checks and masking --------------------------------------------


def test_contract_check_flags_undocumented_keys_and_nulls():
    bad = {
        "contact": {
            "channels": [{"type": "email", "value": "a@b.c", "extra": 1}],
            "firstName": None,
        }
    }
    problems = reteno.payload_problems(bad)
    assert "contact.channels[0].extra: undocumented key" in problems
    assert any("contact.firstName: null" in p for p in problems)
    assert any("null" in p for p in dotdigital.payload_problems({"identifiers": {"email": None}}))


@pytest.mark.parametrize(
    "e164, expected",
    [
        ("+447712345678", ("44", "7712345678")),
        ("+4407712345678", ("44", "7712345678")),  # trunk prefix never kept
        ("+390612345678", ("39", "0612345678")),  # Italy's leading zero is significant
        ("+12025550123", ("1", "2025550123")),
        ("+380501234567", ("380", "501234567")),
    ],
)
def test_split_phone(e164, expected):
    assert split_phone(e164) == expected


def test_mask_pii_hides_emails_and_phones():
    masked = mask_pii(
        {"email": "anna@example.com", "channels": [{"value": "447712345678"}], "city": "Kyiv"}
    )
    assert masked == {
        "email": "an***@example.com",
        "channels": [{"value": "447*******78"}],
        "city": "Kyiv",
    }
