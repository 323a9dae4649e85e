import json

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.fields import REJECTED_SCHEMA, VALIDATED_SCHEMA
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.mask import mask_email, mask_phone, mask_table
from contact_pipelines.core.validate import summarize_warnings, validate_chunk

SOURCE = SourceConfig(
    name="legacy_crm", match="legacy_crm*.csv", default_region="UA", priority=10,
    columns={"Plan": "field:plan_type", "Client ID": "external_id"},
)  # fmt: skip


def raw_chunk(rows: list[dict], defects: list[str | None] | None = None) -> pa.Table:
    headers = list(rows[0])
    data = {h: pa.array([r.get(h) for r in rows], pa.string()) for h in headers}
    data["source_file"] = pa.array(["legacy_crm.csv"] * len(rows))
    data["source_row"] = pa.array(range(2, len(rows) + 2), pa.int64())
    data["row_defect"] = pa.array(defects or [None] * len(rows), pa.string())
    return pa.table(data)


def run(rows, defects=None):
    chunk = raw_chunk(rows, defects)
    return validate_chunk(chunk, resolve_columns(chunk.column_names, SOURCE), SOURCE)


def row(**values):
    base = dict.fromkeys(["Client ID", "E-mail", "Телефон", "Имя", "DOB", "Plan", "Tags", "Notes"])
    return base | values


def test_good_row_is_normalised():
    result = run([row(**{"Client ID": " 42 ", "E-mail": "Ivan@Mail.com", "Телефон": "067 123 45 67",
                         "Имя": " Ivan ", "DOB": "02.01.1990", "Plan": "gold", "Tags": "VIP;News"})])  # fmt: skip
    assert result.valid.schema == VALIDATED_SCHEMA
    (valid,) = result.valid.to_pylist()
    assert valid["external_id"] == "42"
    assert valid["email"] == "ivan@mail.com"
    assert valid["phone"] == "+380671234567"
    assert valid["phone_type"] == "mobile"
    assert valid["first_name"] == "Ivan"
    assert valid["birth_date"] == "1990-01-02"
    assert valid["groups"] == ["VIP", "News"]
    assert valid["fields"] == [("plan_type", "gold")]
    assert (valid["source_name"], valid["source_priority"]) == ("legacy_crm", 10)
    assert valid["warnings"] == []


def test_every_row_lands_once_with_reason_codes():
    rows = [
        row(**{"E-mail": "ivan@@mail"}),
        row(**{"Телефон": "12"}),
        row(**{"Имя": "Nobody"}),
        row(**{"E-mail": "bad", "Client ID": "7"}),  # kept: the external id is usable
        row(**{"Notes": "shifted"}),
        row(**{"E-mail": "ok@mail.com"}),
    ]
    result = run(rows, defects=[None, None, None, None, "too_many_columns", None])
    assert result.valid.num_rows + result.rejected.num_rows == len(rows)
    assert result.rejected.schema == REJECTED_SCHEMA
    assert result.valid.column("source_row").to_pylist() == [5, 7]
    reasons = dict(zip(result.rejected.column("source_row").to_pylist(),
                       result.rejected.column("reason").to_pylist(), strict=True))  # fmt: skip
    assert reasons == {2: "invalid_email", 3: "invalid_phone", 4: "no_identifier", 6: "row_defect"}


def test_reject_message_names_file_line_value_and_fix():
    result = run([row(**{"E-mail": "ivan@@mail", "Notes": "from / import"})])
    (rejected,) = result.rejected.to_pylist()
    assert rejected["message"] == (
        "legacy_crm.csv line 2: email 'ivan@@mail' is not a valid address and the row has no "
        "other identifier (external id, phone, push token); correct the email or add an identifier"
    )
    original = json.loads(rejected["original"])
    assert original == row(**{"E-mail": "ivan@@mail", "Notes": "from / import"})


def test_bad_optional_values_are_dropped_and_counted():
    rows = [
        row(**{"E-mail": "a@mail.com", "DOB": "31.02.1990", "Имя": "x" * 50}),
        row(**{"E-mail": "b@mail.com", "DOB": "nope", "Телефон": "12"}),
        row(**{"E-mail": "c@mail.com"}),
        row(**{"DOB": "31.02.1990"}),  # rejected: its warnings are not counted
    ]
    result = run(rows)
    assert result.valid.num_rows == 3
    assert result.valid.column("birth_date").to_pylist() == [None, None, None]
    assert result.valid.column("warnings").to_pylist() == [
        ["name_truncated", "invalid_birth_date"],
        ["invalid_phone", "invalid_birth_date"],
        [],
    ]
    assert result.warnings == {"invalid_birth_date": 2, "name_truncated": 1, "invalid_phone": 1}
    assert summarize_warnings(result.warnings).startswith("2 invalid_birth_date")


def test_no_identifier_column_message_lists_unmapped_headers():
    chunk = raw_chunk([{"Favourite colour": "blue"}])
    result = validate_chunk(chunk, resolve_columns(chunk.column_names, SOURCE), SOURCE)
    (message,) = result.rejected.column("message").to_pylist()
    assert "line 2" in message and "Favourite colour" in message


def test_large_chunk_accounting_is_exact():
    rows = [row(**{"E-mail": f"user{i}@mail.com" if i % 3 else "broken@", "DOB": "1.1.1990"})
            for i in range(30_000)]  # fmt: skip
    result = run(rows)
    assert result.valid.num_rows == 20_000
    assert result.rejected.num_rows == 10_000
    assert pc.all(pc.equal(result.rejected.column("reason"), "invalid_email")).as_py()


def test_masking():
    assert mask_email("ivan.petrenko@gmail.com") == "i***@g***.com"
    assert mask_phone("+380671234567") == "+380*****4567"
    table = pa.table({"email": ["ivan@mail.com"], "phone": ["+380671234567"],
                      "first_name": ["Ivan"], "push_token": ["abcdef"], "city": ["Kyiv"]})  # fmt: skip
    assert mask_table(table) == [{"email": "i***@m***.com", "phone": "+380*****4567",
                                  "first_name": "I***", "push_token": "a***", "city": "Kyiv"}]  # fmt: skip


def test_masking_raw_headers_and_leaving_codes_readable():
    table = pa.table({"E-mail": ["ivan@mail.com"], "Телефон": ["+380671234567"],
                      "phone_type": ["mobile"], "email_status": ["subscribed"],
                      "original": ['{"E-mail": "ivan@mail.com"}']})  # fmt: skip
    assert mask_table(table) == [{"E-mail": "i***@m***.com", "Телефон": "+380*****4567",
                                  "phone_type": "mobile", "email_status": "subscribed",
                                  "original": "{***"}]  # fmt: skip


def test_additional_fields_map_omits_absent_values():
    source = SourceConfig(
        name="crm", match="*", columns={"Plan": "field:plan", "Store": "field:store"}
    )
    chunk = raw_chunk([
        {"Email": "a@mail.com", "Plan": "gold", "Store": " Kyiv-1 ", "Consent": "так"},
        {"Email": "b@mail.com", "Plan": None, "Store": "Lviv", "Consent": "ні"},
        {"Email": "c@mail.com", "Plan": None, "Store": None, "Consent": "може"},
    ])  # fmt: skip
    result = validate_chunk(chunk, resolve_columns(chunk.column_names, source), source)
    assert result.valid.column("fields").to_pylist() == [
        [("plan", "gold"), ("store", "Kyiv-1")],
        [("store", "Lviv")],
        [],
    ]
    assert result.valid.column("consent_marketing").to_pylist() == [True, False, None]
    assert result.warnings == {"invalid_consent_marketing": 1}


def test_lost_digits_reject_says_to_reexport_as_text():
    result = run(
        [row(Notes="x"), row(Notes="y")],
        defects=["lost_digits:Телефон", "too_many_columns"],
    )
    messages = result.rejected.column("message").to_pylist()
    assert result.rejected.column("reason").to_pylist() == ["row_defect", "row_defect"]
    assert "formatted as Text" in messages[0] and "line 2" in messages[0]
    assert "delimiter and quoting" in messages[1]
