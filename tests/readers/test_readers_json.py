"""JSON (Reteno mobile-token shape, plain arrays) and JSON Lines flattening."""

from __future__ import annotations

import json

from contact_pipelines.core.readers import read_export


def write_json(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_plain_array_nested_objects_and_device_list(tmp_path):
    contacts = [
        {
            "externalCustomerId": "C-1",
            "email": "a@example.com",
            "address": {"city": "Kyiv", "zip": 1001},
            "groups": ["Customers", "VIP"],
            "active": True,
            "devices": [{"token": "t1", "os": "iOS"}, {"token": "t2", "os": "Android"}],
        },
        {"externalCustomerId": "C-2", "phone": "+380671234567", "devices": []},
    ]
    export = read_export(write_json(tmp_path, "arr.json", contacts))
    rows = export.read_all().to_pylist()
    assert export.info.format == "json"
    assert [(r["externalCustomerId"], r["devices.token"], r["source_row"]) for r in rows] == [
        ("C-1", "t1", 1),
        ("C-1", "t2", 1),
        ("C-2", None, 2),
    ]
    assert rows[0]["address.city"] == "Kyiv" and rows[0]["address.zip"] == "1001"
    assert rows[1]["groups"] == "Customers;VIP" and rows[1]["active"] == "true"
    assert rows[2]["phone"] == "+380671234567" and rows[0]["phone"] is None


def test_reteno_channels_pivot_and_custom_fields(tmp_path):
    document = {
        "contacts": [
            {
                "externalCustomerId": "C-9",
                "channels": [
                    {
                        "type": "mobilepush",
                        "value": "tok-1",
                        "device": {"appId": "app", "os": "iOS"},
                    },
                    {"type": "email", "value": "x@example.com"},
                    {
                        "type": "mobilepush",
                        "value": "tok-2",
                        "device": {"appId": "app", "os": "Android"},
                    },
                    {"type": "sms", "value": "+380671234567"},
                ],
                "fields": [{"id": 12345, "value": "gold"}],
            }
        ],
        "dedupeOn": "externalCustomerId",
    }
    rows = read_export(write_json(tmp_path, "reteno.json", document)).read_all().to_pylist()
    assert [(r["channels.mobilepush"], r["channels.mobilepush.device.os"]) for r in rows] == [
        ("tok-1", "iOS"),
        ("tok-2", "Android"),
    ]
    assert {(r["channels.email"], r["channels.sms"], r["fields.12345"]) for r in rows} == {
        ("x@example.com", "+380671234567", "gold")
    }


def test_json_lines_use_line_numbers(tmp_path):
    path = tmp_path / "tokens.jsonl"
    path.write_text(
        '{"id": "C-1", "token": "a"}\n\n{"id": "C-2", "token": "b", "os": "iOS"}\n',
        encoding="utf-8",
    )
    export = read_export(path)
    rows = export.read_all().to_pylist()
    assert export.info.format == "jsonl"
    assert export.info.headers == ("id", "token", "os")
    assert [(r["id"], r["source_row"]) for r in rows] == [("C-1", 1), ("C-2", 3)]


def test_json_lines_with_json_extension(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"email": "a@example.com"}\n{"email": "b@example.com"}\n', encoding="utf-8")
    export = read_export(path)
    assert export.info.format == "jsonl"
    assert export.read_all().column("email").to_pylist() == ["a@example.com", "b@example.com"]
